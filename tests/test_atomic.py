"""Disconnects lose nothing, for every output the CLI and the library write (issue 14): `llmbook merge`, `llmbook gguf`,
`llmbook tour --out` and `lab.build` run in a subprocess that stops at a point of `llmbook.cli.move_into_place` (the test hook
`llmbook.cli._write_hook`, chosen with LLMBOOK_TEST_PAUSE) and is killed there with SIGKILL: no timing, the test polls
for the marker the hook writes. Checked after each kill: a missing output stays missing, a previous output stays byte
for byte and loads, the same command run again succeeds and cleans what the killed run left beside the output.
Training checkpoints have their own test (tests/test_resume.py)."""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
torch = pytest.importorskip('torch')
from safetensors.torch import load_file, save_file
from llmbook import cli, lab
from llmbook.quant import export_gguf, read_gguf, gguf_tensor_types

# LLMBOOK_TEST_PAUSE=stage: the run writes LLMBOOK_TEST_MARKER and sleeps when move_into_place reaches `stage`
# ('written': the new output is complete beside `out`; 'replaced': it is at `out`, the old one not yet removed).
DRIVER = '''
import os, sys, time
from pathlib import Path
import llmbook.cli
if stage := os.environ.get('LLMBOOK_TEST_PAUSE'):
    def pause(s, tmp, out):
        if s == stage: Path(os.environ['LLMBOOK_TEST_MARKER']).write_text(f'{tmp}\\n{out}'); time.sleep(600)
    llmbook.cli._write_hook = pause
if sys.argv[1] == 'build':
    from llmbook import lab
    lab.build(sys.argv[2], names=[])   # the tokenizer only: seconds, and the same atomic swap as a full build
    sys.exit(0)
sys.exit(llmbook.cli.main(sys.argv[1:]))
'''
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false', 'PYTHONHASHSEED': '0'}

def start(argv:list, pause:str, marker:Path)->subprocess.Popen:
    env = {**ENV, 'LLMBOOK_TEST_PAUSE': pause, 'LLMBOOK_TEST_MARKER': str(marker)}
    return subprocess.Popen([sys.executable, '-c', DRIVER, *map(str, argv)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

def run(argv:list)->str:
    r = subprocess.run([sys.executable, '-c', DRIVER, *map(str, argv)], env=ENV, text=True, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout

def kill_at(argv:list, pause:str, marker:Path, timeout:float=300)->tuple:
    "Run until the hook's marker appears (polled, not timed), SIGKILL; returns the (tmp, out) the hook saw."
    p, t0 = start(argv, pause, marker), time.time()
    while not marker.exists() or not marker.read_text():
        assert p.poll() is None, f'exited before the pause:\n{p.communicate()[0][-3000:]}'
        assert time.time() - t0 < timeout, 'never reached the pause'
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert p.returncode == -signal.SIGKILL
    tmp, out = marker.read_text().splitlines(); marker.unlink()
    return Path(tmp), Path(out)

def snapshot(out:Path)->dict:
    "Relative path -> bytes of every file under `out` (or of `out` itself)."
    if out.is_file(): return {'.': out.read_bytes()}
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob('*')) if p.is_file()}

def beside(out:Path)->list: return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f'.{out.name}.'))

# --- the three writers: (command A, command B = a different output at the same place, loader)

@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    "The shipped lab base as a model folder (with its tokenizer), a perturbed copy, and two linear-merge configs."
    import yaml
    d = tmp_path_factory.mktemp('atomic-in')
    base = d/'base'; shutil.copytree(lab._assets()/'base', base)
    for f in (lab._assets()/'tokenizer').iterdir(): shutil.copy(f, base)
    ft = d/'ft'; shutil.copytree(base, ft)
    g = torch.Generator().manual_seed(0)
    sd = load_file(base/'model.safetensors')
    save_file({k: v + 0.01*torch.randn(v.shape, generator=g) for k, v in sd.items()}, ft/'model.safetensors', metadata={'format': 'pt'})
    for name, (a, b) in dict(a=(0.7, 0.3), b=(0.3, 0.7)).items():
        (d/f'{name}.yml').write_text(yaml.safe_dump(dict(merge_method='linear', models=[
            dict(model=str(base), parameters=dict(weight=a)), dict(model=str(ft), parameters=dict(weight=b))])))
    return d

def _load_merge(out:Path):
    w = load_file(out/'model.safetensors')
    assert json.loads((out/'config.json').read_text())['model_type'] == 'llama' and len(w) == len(load_file(lab._assets()/'base'/'model.safetensors'))
    lab.tokenizer(out)
    return w

def _load_gguf(out:Path):
    meta, tensors, types = read_gguf(out)
    assert meta['general.architecture'] == 'llama' and tensors
    return types

def _load_build(out:Path):
    assert len(lab.tokenizer(out/'tokenizer')) == json.loads((out/'manifest.json').read_text())['tokenizer']['vocab_size']

def _load_tour(out:Path):
    from llmbook.tour import read_leaderboard
    rows = read_leaderboard(out)
    assert [r['checkpoint'] for r in rows] == ['base', 'base int8', 'base int4'] and (out/'leaderboard.md').exists() and (out/'leaderboard.png').exists()

def writers(d:Path)->dict:
    "kind -> (output, argv A, argv B, loader, make the previous output differ from what B writes)."
    out = d/'out'
    def tamper(o):   # build has no option that changes its output: mark the previous manifest instead
        man = json.loads((o/'manifest.json').read_text()); man['previous'] = True
        (o/'manifest.json').write_text(json.dumps(man))
    return {
        'merge': (out, ['merge', d/'a.yml', out, '--overwrite'], ['merge', d/'b.yml', out, '--overwrite'], _load_merge, None),
        'gguf': (d/'out.gguf', ['gguf', d/'base', d/'out.gguf', '--type', 'f16'], ['gguf', d/'base', d/'out.gguf', '--type', 'q8_0'], _load_gguf, None),
        'build': (d/'lab', ['build', d/'lab'], ['build', d/'lab'], _load_build, tamper),
        'tour': (d/'tour', ['tour', '--stages', 'quant', '--n', '4', '--no-progress', '--out', d/'tour'],
                 ['tour', '--stages', 'quant', '--n', '6', '--no-progress', '--out', d/'tour'], _load_tour, None),
    }

@pytest.mark.parametrize('kind', ['merge', 'gguf', 'build', 'tour'])
def test_sigkill_while_writing_leaves_old_or_new_never_a_mix(kind, inputs, tmp_path):
    work = tmp_path/'w'; work.mkdir()
    for f in ('a.yml', 'b.yml', 'base'): os.symlink(inputs/f, work/f)
    out, cmd_a, cmd_b, load, tamper = writers(work)[kind]
    marker = tmp_path/'paused'

    # (a) no previous output, killed with the new one complete but not yet in place: still no output
    tmp, seen = kill_at(cmd_a, 'written', marker)
    assert seen == out.absolute() and tmp.parent == out.parent and tmp.exists()
    assert not out.exists() and beside(out) == [tmp.name]

    # the same command again: succeeds, clears the killed run's leftover, and nothing of it is inside the output
    run(cmd_a)
    assert beside(out) == [] and not tmp.exists()
    old = snapshot(out); load(out)
    if tamper: tamper(out); old = snapshot(out)
    assert not any('.part-' in k for k in old)

    # (b) a previous output, killed before the rename: byte for byte the previous output, and it loads
    tmp, _ = kill_at(cmd_b, 'written', marker)
    assert snapshot(out) == old and tmp.exists() and beside(out) == [tmp.name]
    load(out)

    if out.is_dir():   # a file is replaced by one rename; a folder by a swap, after which the old one is removed
        # killed right after the swap: the complete new output is in place, the old one waits beside it
        tmp2, _ = kill_at(cmd_b, 'replaced', marker)
        new = snapshot(out)
        assert new != old and snapshot(tmp2) == old and beside(out) == [tmp2.name]   # the first leftover was cleared
        load(out)
    else: new = None

    # (c) the same command again: succeeds, the same output as the killed run had put in place, no leftovers
    run(cmd_b)
    assert snapshot(out) == (new or snapshot(out)) != old and beside(out) == []
    assert sorted(p.name for p in work.iterdir()) == sorted(['a.yml', 'b.yml', 'base', out.name])
    load(out)

def test_two_renames_where_the_swap_is_missing(tmp_path, monkeypatch):
    "Without renameat2 (other systems, some filesystems): `out` goes away for a moment, but is never partial."
    monkeypatch.setattr(cli, '_exchange', lambda a, b: False)
    out = tmp_path/'m'
    with cli.atomic_output(out) as t: (t/'w').write_text('old')
    seen = []
    monkeypatch.setattr(cli, '_write_hook', lambda s, tmp, o: seen.append((s, snapshot(o) if o.exists() else None, snapshot(tmp))))
    with cli.atomic_output(out) as t: (t/'w').write_text('new')
    assert seen == [('written', {'w': b'old'}, {'w': b'new'}), ('replaced', {'w': b'new'}, {'w': b'old'})]
    assert [p.name for p in tmp_path.iterdir()] == ['m']

def test_killed_between_the_two_renames_the_old_output_comes_back(tmp_path):
    "Without renameat2 a kill can fall between moving the old output aside and moving the new one in: the next run restores it."
    out, dead = tmp_path/'m', subprocess.Popen(['true']); dead.wait()
    old = tmp_path/f'{cli._prefix(out.absolute())}{dead.pid}-abc-old'; old.mkdir(); (old/'w').write_text('old')
    new = tmp_path/f'{cli._prefix(out.absolute())}{dead.pid}-abc'; new.mkdir(); (new/'w').write_text('new')
    cli._clear_leftovers(out.absolute())
    assert [p.name for p in tmp_path.iterdir()] == ['m'] and (out/'w').read_text() == 'old'

@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='renameat2 is Linux only')
def test_linux_swaps_folders_in_one_step(tmp_path):
    a, b = tmp_path/'a', tmp_path/'b'
    a.mkdir(); b.mkdir(); (a/'x').write_text('a'); (b/'y').write_text('b')
    assert cli._exchange(a, b)   # this filesystem supports RENAME_EXCHANGE (tmpfs, ext4, overlayfs do)
    assert [p.name for p in a.iterdir()] == ['y'] and [p.name for p in b.iterdir()] == ['x']

def test_an_error_while_writing_removes_the_temporary_output(tmp_path):
    (tmp_path/'x.gguf').write_bytes(b'old')
    with pytest.raises(RuntimeError):
        with cli.atomic_output(tmp_path/'x.gguf', folder=False) as t: t.write_bytes(b'half'); raise RuntimeError('disk full')
    assert [p.name for p in tmp_path.iterdir()] == ['x.gguf'] and (tmp_path/'x.gguf').read_bytes() == b'old'

def test_leftovers_of_live_processes_are_kept(tmp_path):
    "Only leftovers whose process is gone are removed: a run still writing beside the same output keeps its file."
    out = tmp_path/'o.gguf'
    live = tmp_path/f'{cli._prefix(out)}{os.getppid()}-abc'; live.write_bytes(b'x')
    with cli.atomic_output(out, folder=False) as t: t.write_bytes(b'new')
    assert live.exists() and out.read_bytes() == b'new'

def test_truncated_gguf_is_a_clear_error(inputs, tmp_path):
    "A GGUF cut short outside llmbook (a copy that stopped, an older writer) fails in our readers with one clear message."
    good = tmp_path/'good.gguf'
    export_gguf(inputs/'base', good, 'q8_0')
    b = good.read_bytes()
    assert read_gguf(good)[2] == gguf_tensor_types(good)
    for n in (0, 3, 40, len(b)//2, len(b) - 1):
        bad = tmp_path/f'cut{n}.gguf'; bad.write_bytes(b[:n])
        for reader in (read_gguf, gguf_tensor_types):
            with pytest.raises(ValueError, match=r'(not a complete GGUF file|is truncated)') as e: reader(bad)
            assert str(bad) in str(e.value) and '\n' not in str(e.value)
    with pytest.raises(FileNotFoundError): read_gguf(tmp_path/'absent.gguf')
