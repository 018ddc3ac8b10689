"Recipe checks that do not belong in the chapter: preflight refusal, interrupted-and-resumed training, DDP and FSDP on 2 CPU processes."
import json, os, subprocess, sys
from pathlib import Path
import pytest
torch = pytest.importorskip('torch')
from transformers import LlamaConfig, TrainerCallback
from llmbook.train import sft, preflight, want_unsloth
import train_standin as lab

HERE = Path(__file__).resolve().parent

def test_refuses_what_the_tier_cannot_hold(tmp_path):
    "Full FT of a 7B model on a T4 is refused before any weight is loaded (the directory holds only config.json)."
    LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=32, vocab_size=32000).save_pretrained(tmp_path/'llama7b')
    assert not list((tmp_path/'llama7b').glob('*.safetensors'))
    rows = lab.items('guozi', 'train', 4)
    with pytest.raises(RuntimeError, match='(?i)try'):
        sft(str(tmp_path/'llama7b'), rows, method='full', tier='t4', output_dir=tmp_path/'out')
    with pytest.raises(RuntimeError, match='(?i)try'):
        preflight(str(tmp_path/'llama7b'), 'full', '24g', batch=1, seq_len=512)
    preflight(str(tmp_path/'llama7b'), 'qlora', 't4', batch=1, seq_len=512)   # the suggested cheaper method fits

def test_unsloth_fallback_notice(capsys, monkeypatch):
    if torch.cuda.is_available(): pytest.skip('CPU-only check')
    import importlib.util
    find = importlib.util.find_spec   # behave as if unsloth were not installed, also in .venv-unsloth
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'unsloth' else find(name, *a))
    assert want_unsloth(True, 'cpu') is False
    assert 'unsloth is not installed' in (out := capsys.readouterr().out) and 'using transformers + PEFT' in out
    assert want_unsloth('auto', 'cpu') is False and capsys.readouterr().out == ''   # auto on CPU: silent

class StopAt(TrainerCallback):
    "Simulate an interruption (e.g. a Colab disconnect) right after step `n`."
    def __init__(self, n): self.n = n
    def on_step_end(self, args, state, control, **kw):
        if state.global_step >= self.n: control.should_training_stop = True

def _run(tok, out, **kw):
    return sft(lab.model(tok, hidden=32), lab.items('guozi', 'train', 96), tok, tier='cpu', output_dir=out, max_steps=6,
               lr=3e-3, batch_size=16, max_length=64, lr_scheduler_type='constant', logging_steps=1, quiet=True, **kw)

def test_resume_continues_step_and_history(tmp_path):
    tok = lab.tokenizer()
    whole = _run(tok, tmp_path/'whole')
    cut = _run(tok, tmp_path/'cut', save_steps=3, callbacks=[StopAt(3)])
    assert cut.global_step == 3 and (tmp_path/'cut'/'checkpoint-3').is_dir()
    resumed = _run(tok, tmp_path/'cut', save_steps=3, resume=True)
    assert resumed.global_step == 6
    assert [s for s, _ in resumed.history['train']] == [1, 2, 3, 4, 5, 6]
    assert resumed.history['train'][:3] == cut.history['train']           # history carried over from the checkpoint
    for (s1, l1), (s2, l2) in zip(whole.history['train'], resumed.history['train']):
        assert s1 == s2 and abs(l1 - l2) < 1e-4, (s1, l1, l2)             # same data order and optimizer state

def test_resume_without_checkpoint_starts_fresh(tmp_path, capsys):
    r = _run(lab.tokenizer(), tmp_path/'empty', resume=True)
    assert r.global_step == 6 and 'starting from scratch' in capsys.readouterr().out

DDP_SCRIPT = '''
import json, sys, torch
sys.path.insert(0, {here!r})
import train_standin as lab
from llmbook.train import sft
tok = lab.tokenizer()
m = lab.model(tok, hidden=32)
# untie lm_head from the embeddings: with tied weights the 2-process run drifts from the 1-process run (~0.5% in the
# parameters' L1 norm after 4 steps, and already in the first logged loss); untied, both end bit-for-bit the same
m.config.tie_word_embeddings = False
m.lm_head.weight = torch.nn.Parameter(m.model.embed_tokens.weight.detach().clone())
r = sft(m, lab.items('guozi', 'train', 128), tok, tier='cpu', output_dir=sys.argv[1], max_steps=4,
        lr=3e-3, batch_size=int(sys.argv[2]), grad_accum=int(sys.argv[4]), max_length=64, lr_scheduler_type='constant', logging_steps=1, quiet=True,
        dataloader_drop_last=True)
if r.trainer.is_world_process_zero():
    p = torch.cat([t.detach().flatten() for t in r.model.parameters()])
    with open(sys.argv[3], 'w') as f: json.dump(dict(loss=[l for _, l in r.history['train']], psum=p.sum().item(), pabs=p.abs().sum().item()), f)
import os, torch.distributed as dist
if dist.is_initialized(): dist.barrier(); dist.destroy_process_group()
sys.stdout.flush(); sys.stderr.flush(); os._exit(0)   # as in the FSDP script: no gloo abort at interpreter exit
'''

def test_two_cpu_processes_match_one(tmp_path):   # runs in CI: 3 short trainings, about a minute on 2 cores
    "DDP over 2 gloo CPU processes x batch 8 ends exactly where 1 process x batch 16 ends (same losses, same parameters)."
    script = tmp_path/'ddp.py'; script.write_text(DDP_SCRIPT.format(here=str(HERE)))
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    one = subprocess.run([sys.executable, str(script), str(tmp_path/'o1'), '16', str(tmp_path/'one.json'), '1'],
                         env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--standalone',   # a free port: no clash with another run
                          str(script), str(tmp_path/'o2'), '8', str(tmp_path/'two.json'), '1'], env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (json.loads((tmp_path/f).read_text()) for f in ('one.json', 'two.json'))
    assert len(a['loss']) == len(b['loss']) == 4
    for x, y in zip(a['loss'], b['loss']): assert abs(x - y) < 1e-5 * x, (a['loss'], b['loss'])
    assert abs(a['pabs'] - b['pabs']) < 1e-6 * a['pabs'] and abs(a['psum'] - b['psum']) < 1e-4, (a, b)

FSDP_SCRIPT = '''
import json, os, sys, torch, torch.distributed as dist
sys.path.insert(0, {here!r})
import train_standin as lab
world = int(os.environ.get('WORLD_SIZE', 1))
if world > 1: dist.init_process_group('gloo')
rank = dist.get_rank() if world > 1 else 0
tok = lab.tokenizer(); m = lab.model(tok, hidden=32)
m.config.tie_word_embeddings = False   # untied, as in the DDP test
m.lm_head.weight = torch.nn.Parameter(m.model.embed_tokens.weight.detach().clone())
if world > 1:
    from torch.distributed.fsdp import fully_shard   # FSDP2, FULL_SHARD semantics: each decoder layer, then the root
    for layer in m.model.layers: fully_shard(layer)
    fully_shard(m)
    w = m.model.layers[0].self_attn.q_proj.weight
    shard = [tuple(w.to_local().shape), tuple(w.shape)]
opt = torch.optim.AdamW(m.parameters(), lr=3e-3)
enc = tok([x['prompt'] + x['answer'] for x in lab.items('guozi', 'train', 64)], padding='max_length', max_length=24,
          truncation=True, return_tensors='pt')
losses = []
for step in range(4):
    sl = slice(step*16, (step+1)*16)
    ids, am = enc['input_ids'][sl], enc['attention_mask'][sl]
    n = am[:, 1:].sum()                       # graded tokens of the whole batch of 16
    labels = ids.masked_fill(am == 0, -100)
    if world > 1: ids, am, labels = (t[rank*8:(rank+1)*8] for t in (ids, am, labels))
    logits = m(input_ids=ids, attention_mask=am).logits
    s = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), reduction='sum')
    (s*world/n).backward()                    # FSDP averages gradients over ranks: this is the whole batch's mean loss
    opt.step(); opt.zero_grad()
    s = s.detach()
    if world > 1: dist.all_reduce(s)
    losses.append((s/n).item())
full = {{k: (v.full_tensor() if hasattr(v, 'full_tensor') else v) for k, v in m.state_dict().items()}}
if rank == 0:
    p = torch.cat([t.detach().flatten() for t in full.values()])
    with open(sys.argv[1], 'w') as f:
        json.dump(dict(loss=losses, psum=p.sum().item(), pabs=p.abs().sum().item(), shard=shard if world > 1 else None), f)
if world > 1: dist.barrier(); dist.destroy_process_group()
# leave without running C++ static destructors: under CPU load, 2 in 12 gloo FSDP runs (torch 2.13) aborted at exit with
# "terminate called without an active exception" (SIGABRT) after finishing; with barrier + os._exit, 0 in 36
sys.stdout.flush(); sys.stderr.flush(); os._exit(0)
'''

def test_fsdp_two_cpu_processes_match_one(tmp_path):
    """FSDP (PyTorch's `fully_shard`, FULL_SHARD) over 2 gloo CPU processes x batch 8 ends where 1 process x batch 16 ends,
    with each rank holding half of every weight. Plain PyTorch, not the recipe: through `sft(..., fsdp=True, fsdp_config=...)`
    FSDP does not run on CPU with accelerate 1.15 / transformers 5.23 — with `use_cpu=True` accelerate's MULTI_CPU state
    has no FSDP branch and the Trainer silently wraps the model in DDP (seen: `model_wrapped` is
    DistributedDataParallel); with `use_cpu=False` on a machine without GPUs the Trainer refuses:
    `ValueError: Using fsdp only works in distributed training.`"""
    script = tmp_path/'fsdp.py'; script.write_text(FSDP_SCRIPT.format(here=str(HERE)))
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    one = subprocess.run([sys.executable, str(script), str(tmp_path/'one.json')], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2', '--standalone',   # a free port: no clash with another run
                          str(script), str(tmp_path/'two.json')], env=env, capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = (json.loads((tmp_path/f).read_text()) for f in ('one.json', 'two.json'))
    assert b['shard'] == [[16, 32], [32, 32]]                         # sharded: each rank stores half of q_proj
    assert len(a['loss']) == len(b['loss']) == 4
    for x, y in zip(a['loss'], b['loss']): assert abs(x - y) < 1e-5 * x, (a['loss'], b['loss'])
    assert abs(a['pabs'] - b['pabs']) < 1e-6 * a['pabs'] and abs(a['psum'] - b['psum']) < 1e-4, (a, b)

@pytest.mark.parametrize('method', ['lora', 'qlora'])
def test_adapter_methods_train_on_cpu(method, tmp_path):
    "LoRA and QLoRA run through the same recipe on CPU; QLoRA keeps bitsandbytes off its backward-less AVX512-BF16 kernel."
    if method == 'qlora': bnb = pytest.importorskip('bitsandbytes')
    tok = lab.tokenizer(); base = tmp_path/'base'
    lab.model(tok).save_pretrained(base); tok.save_pretrained(base)
    r = sft(str(base), lab.items('guozi', 'train', 192), tier='cpu', method=method, output_dir=tmp_path/'out', max_steps=12,
            lr=1e-2, batch_size=16, max_length=64, logging_steps=3, quiet=True)
    assert type(r.model).__name__.startswith('PeftModel') and r.method == method and r.backend == 'transformers'
    losses = [l for _, l in r.history['train']]
    assert losses[-1] < losses[0] - 0.2, losses
    if method == 'qlora':
        q = [m for m in r.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
        assert q and not any(getattr(m, 'support_avx512bf16_for_cpu', False) for m in q)

# ---- one recipe, one plan: the registry's plans go through `sft(plan=...)`, and a rehearsal runs them on CPU

def _stop_at_preflight(monkeypatch):
    "Capture what the recipe asks the estimator, and stop there (nothing is loaded)."
    import llmbook.vram as v
    seen = {}
    def fake(model, method, tier, **knobs): seen.update(model=model, method=method, tier=tier, **knobs); raise StopIteration
    monkeypatch.setattr(v, 'check_fits', fake)
    return seen

@pytest.mark.parametrize('chapter', ['04_sft', '05_lora', '06_qlora'])
@pytest.mark.parametrize('tier', ['t4', '24g', '80g'])
def test_recipe_checks_exactly_the_plan(chapter, tier, monkeypatch):
    "The estimate the recipe's preflight makes for `sft(plan=p)` is `p.estimate(tier)`: what the setup cell prints."
    from llmbook.hw import TIERS
    from llmbook.plans import plan
    from llmbook.vram import estimate
    seen, p = _stop_at_preflight(monkeypatch), plan(chapter, tier)
    with pytest.raises(StopIteration): sft(train=lab.items('guozi', 'train', 4), plan=p, tier=tier)
    assert (seen.pop('model'), seen.pop('method'), seen.pop('tier')) == (p.model, p.method, tier)
    assert estimate(p.model, p.method, dtype=TIERS[tier].dtype, **seen).total == p.estimate(tier).total

def test_plan_arguments_cannot_be_given_twice():
    from llmbook.plans import plan
    with pytest.raises(ValueError, match='come from the plan'):
        sft(train=lab.items('guozi', 'train', 4), plan=plan('05_lora', 't4'), batch_size=2)

def _local_plan(tmp_path, method, optimizer):
    from llmbook.plans import Plan
    tok = lab.tokenizer(); d = tmp_path/'base'
    lab.model(tok).save_pretrained(d); tok.save_pretrained(d)
    return Plan(str(d), method, 4, 64, 2, optimizer, grad_ckpt=True, lora_r=8, lora_alpha=16)

def test_rehearsal_runs_the_plan_on_cpu(tmp_path, monkeypatch, capsys):
    "LLMBOOK_REHEARSE=t4: fp32 on CPU, REHEARSAL_STEPS steps with eval and checkpoints inside them, the rest as planned."
    from llmbook.hw import REHEARSAL_STEPS
    bnb = pytest.importorskip('bitsandbytes')
    p = _local_plan(tmp_path, 'qlora', 'paged_adamw_8bit')
    monkeypatch.setenv('LLMBOOK_REHEARSE', 't4')
    r = sft(train=lab.items('guozi', 'train', 64), eval_data=lab.items('guozi', 'heldout', 8), plan=p, output_dir=tmp_path/'out',
            max_steps=200, eval_steps=50, save_steps=50, quiet=True)
    assert 'rehearsal of tier t4' in capsys.readouterr().out
    a = r.trainer.args
    assert r.tier == 't4' and r.global_step == REHEARSAL_STEPS and len(r.history['eval']) == REHEARSAL_STEPS
    assert (tmp_path/'out'/f'checkpoint-{REHEARSAL_STEPS}').is_dir()
    assert a.use_cpu and not a.fp16 and not a.bf16 and a.optim == 'paged_adamw_8bit'
    assert (a.per_device_train_batch_size, a.gradient_accumulation_steps, a.max_length) == (p.batch, p.grad_accum, p.seq_len)
    assert r.model.is_gradient_checkpointing if hasattr(r.model, 'is_gradient_checkpointing') else True
    # TRL casts QLoRA adapters to bf16; on fp16 tiers (t4) fp16_safe_adapters casts them back to fp32 (fp16's grad scaler cannot unscale bf16)
    assert {x.dtype for x in r.model.parameters() if x.requires_grad} == {torch.float32}
    assert all(m.compute_dtype == torch.float32 for m in r.model.modules() if isinstance(m, bnb.nn.Linear4bit))  # CPU-safe compute
    q = [m for m in r.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert q and not any(m.support_avx512bf16_for_cpu for m in q)

def test_rehearsal_leaves_cpu_runs_alone(tmp_path, monkeypatch):
    "The lab cells pass tier='cpu': a rehearsal must not cap them (their measured effects need every step)."
    monkeypatch.setenv('LLMBOOK_REHEARSE', 't4')
    tok = lab.tokenizer()
    r = sft(lab.model(tok, hidden=32), lab.items('guozi', 'train', 64), tok, tier='cpu', output_dir=tmp_path/'o', max_steps=5,
            batch_size=16, max_length=64, quiet=True)
    assert r.global_step == 5

def test_labels_that_grade_nothing_stop_the_run(tmp_path):
    "A max_length that cuts every reply off leaves nothing to learn: the recipe refuses before training."
    tok = lab.tokenizer()
    with pytest.raises(ValueError, match='(?i)no training example|grade no token'):
        sft(lab.model(tok, hidden=32), lab.items('guozi', 'train', 16), tok, tier='cpu', output_dir=tmp_path/'o', max_steps=2,
            batch_size=8, max_length=4, quiet=True)
