"""Disconnects lose nothing: lab SFT killed with SIGKILL (after a checkpoint, and halfway through writing one) resumes
with the same command to weights bitwise equal to an uninterrupted run; a corrupt newest checkpoint falls back to the
previous one with a warning. Each training runs in its own process with one thread (deterministic on CPU)."""
import os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
torch = pytest.importorskip('torch')
from safetensors.torch import load_file
from llmbook.train import checkpoint_problem

STEPS, SAVE = 8, 2
# The same command every time (resume=True: a fresh output_dir starts from scratch). LLMBOOK_TEST_PAUSE="stage:step"
# makes the run stop at one point of one save and wait to be killed: `saved` once checkpoint-<step> is in place,
# `saving` after its weights are written but before the optimizer state is.
SCRIPT = f'''
import os, sys, time, torch
torch.set_num_threads(1)
from pathlib import Path
from transformers import TrainerCallback
from safetensors.torch import save_file
from llmbook import lab, train
out = Path(sys.argv[1])
if hook := os.environ.get('LLMBOOK_TEST_PAUSE'):
    stage, step = hook.split(':')
    def pause(s, path):
        if s == stage and Path(path).name == f'checkpoint-{{step}}':
            (out/'paused').write_text(path); time.sleep(600)
    train._save_hook = pause
class Count(TrainerCallback):
    n = 0
    def on_step_end(self, *a, **kw): Count.n += 1
tok = lab.tokenizer()
r = train.sft(lab.model(), lab.items('guozi', 'train', 96), tok, tier='cpu', output_dir=out/'run', max_steps={STEPS},
              save_steps={SAVE}, lr=2e-3, batch_size=16, max_length=64, warmup_steps=1, lr_scheduler_type='cosine',
              logging_steps=1, quiet=True, resume=True, callbacks=[Count()])
save_file({{k: v.detach().clone().contiguous() for k, v in r.model.state_dict().items()}}, str(out/'final.safetensors'))
print(f'global_step {{r.global_step}}, steps run here {{Count.n}}', flush=True)
'''

def start(out:Path, pause:str='')->subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LLMBOOK_TEST_PAUSE=pause, PYTHONHASHSEED='0', HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false')
    return subprocess.Popen([sys.executable, '-c', SCRIPT, str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)

def finish(p:subprocess.Popen)->str:
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out[-3000:]
    return out

def kill_when_paused(p:subprocess.Popen, out:Path, timeout:float=300):
    "Poll for the hook's marker (no sleeps tuned to the machine's speed), then SIGKILL."
    t0 = time.time()
    while not (out/'paused').exists():
        assert p.poll() is None, f'exited before the pause:\n{p.communicate()[0][-3000:]}'
        assert time.time() - t0 < timeout, 'never reached the pause'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL
    (out/'paused').unlink()

def ckpts(out:Path)->list: return sorted(p.name for p in (out/'run').iterdir() if 'checkpoint-' in p.name)

def test_sigkill_resume_is_bitwise_equal_and_corrupt_checkpoint_falls_back(tmp_path):
    whole, after, during = tmp_path/'whole', tmp_path/'after', tmp_path/'during'
    procs = [start(whole), start(after, 'saved:4'), start(during, 'saving:4')]
    kill_when_paused(procs[1], after)
    kill_when_paused(procs[2], during)
    log = finish(procs[0])
    assert 'starting from scratch' in log and f'global_step {STEPS}, steps run here {STEPS}' in log
    assert ckpts(whole) == [f'checkpoint-{s}' for s in (2, 4, 6, 8)]
    ref = load_file(whole/'final.safetensors')

    # killed after checkpoint-4 was published: it is complete
    assert ckpts(after) == ['checkpoint-2', 'checkpoint-4'] and checkpoint_problem(after/'run'/'checkpoint-4') is None
    # killed halfway through writing checkpoint-4: only the hidden staging folder has it, and it is incomplete
    # (weights without optimizer or trainer state: the trainer resumes from such a folder without complaint, with a
    # fresh optimizer and its step counter at 0)
    assert ckpts(during) == ['.staging-checkpoint-4', 'checkpoint-2']
    part = during/'run'/'.staging-checkpoint-4'/'checkpoint-4'
    assert (part/'model.safetensors').exists() and not (part/'optimizer.pt').exists() and checkpoint_problem(part)

    # the newest checkpoint of the finished run is corrupt (truncated weights): the run falls back to checkpoint-6
    w = whole/'run'/'checkpoint-8'/'model.safetensors'
    with open(w, 'r+b') as f: f.truncate(w.stat().st_size // 2)
    assert 'model.safetensors' in checkpoint_problem(w.parent)

    logs = [finish(p) for p in (start(after), start(during), start(whole))]   # the same command again
    for d, log, at in zip((after, during, whole), logs, (4, 2, 6)):
        assert f"resuming from {d/'run'/f'checkpoint-{at}'}" in log, log[-2000:]
        assert f'global_step {STEPS}, steps run here {STEPS - at}' in log, log[-2000:]   # it continued, not restarted
        got = load_file(d/'final.safetensors')
        assert got.keys() == ref.keys() and all(torch.equal(got[k], ref[k]) for k in ref), d.name
        assert not [n for n in ckpts(d) if n.startswith('.staging')]   # a new save clears what a kill left
    assert 'CheckpointWarning' in logs[2] and 'checkpoint-8 is unusable' in logs[2]
    assert checkpoint_problem(whole/'run'/'checkpoint-8') is None   # rewritten whole by the resumed run
