"Checks of the embedded lab that do not belong in the lesson: shipped assets, offline loading, light import, CLI, atomic build."
import json, os, random, subprocess, sys, tempfile, warnings
from pathlib import Path
import pytest

ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}
SLOW = pytest.mark.skipif(not os.environ.get('LLMBOOK_SLOW'), reason='minutes to an hour of CPU: set LLMBOOK_SLOW=1')

def run_py(code, timeout=120):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, timeout=timeout)

def llmbook(*args, timeout=300):
    exe = Path(sys.executable).with_name('llmbook')
    return subprocess.run([str(exe) if exe.exists() else 'llmbook', *args], capture_output=True, text=True, env=ENV, timeout=timeout)

def test_shipped_tokenizer_equals_retrained():
    from llmbook.lab import tokenizer, train_tokenizer, CHAT_TEMPLATE
    shipped, again = tokenizer(), train_tokenizer()
    assert shipped.backend_tokenizer.to_str() == again.backend_tokenizer.to_str()
    assert shipped.chat_template == again.chat_template == CHAT_TEMPLATE
    assert (shipped.eos_token, shipped.pad_token) == ('<|end|>', '<|pad|>')

def test_shipped_files_match_manifest():
    "Every shipped file is the one the build recorded (same names, same sha256), and the lab stays under 25 MB."
    from llmbook.lab import _assets, sha256, manifest, MODELS
    man = manifest(None)
    for d, want in [('tokenizer', man['tokenizer']['sha256'])] + [(n, man['models'][n]['sha256']) for n in MODELS]:
        got = {f.name: sha256(f) for f in sorted((_assets()/d).iterdir())}
        assert got == want, d
    assert sum(f.stat().st_size for f in _assets().rglob('*') if f.is_file()) < 25e6

def test_import_is_light():
    r = run_py("import sys, llmbook, llmbook.lab; print('torch' in sys.modules, 'transformers' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['False', 'False']

def test_models_load_offline():
    r = run_py("""
from llmbook.lab import model, tokenizer, generate, KQUANT_MODEL
tok = tokenizer()
for name in ('base', 'teacher'):
    m = model(name)
    assert m.config.model_type == 'llama' and str(m.dtype) == 'torch.float32'
    print(name, len(generate(m, tok, ['把 12+34 算出來'], max_new_tokens=4)))
print(KQUANT_MODEL, model(KQUANT_MODEL).config.hidden_size % 256)""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['base', '1', 'teacher', '1', 'teacher', '0']

def test_splits_disjoint_and_deterministic():
    from llmbook.lab import TASKS, items
    for t in TASKS:
        tr, ho = items(t), items(t, 'heldout')
        assert not {i['prompt'] for i in tr} & {i['prompt'] for i in ho}
        assert items(t, 'heldout', 5) == ho[:5] and len(ho) == 500
    with pytest.raises(KeyError, match='unknown task'): items('nope')

def test_steps_end_in_the_sum():
    from llmbook.lab import add_steps, final, items
    rng = random.Random(0)
    for _ in range(500):
        a, b = rng.randint(0, 999), rng.randint(0, 999)
        assert final(add_steps(a, b)) == str(a + b)
    assert [final(i['answer']) for i in items('add_steps', 'heldout')] == [i['answer'] for i in items('add', 'heldout')]

def test_daxie_is_script_sensitive_and_tokenized_in_both_scripts():
    from llmbook.lab import items, t2s, tokenizer, corpus
    tok = tokenizer()
    for it in items('daxie', 'heldout'):
        s = t2s(it['answer'])
        assert s != it['answer'] and len(tok(s)['input_ids']) == len(tok(it['answer'])['input_ids']) == len(s)
    assert not set('贰参陆') & set(''.join(corpus()))   # Simplified only in the tokenizer's texts, not in pretraining

def test_sft_raises_no_deprecation_warning():
    from llmbook.lab import model, tokenizer, sft
    with warnings.catch_warnings():
        warnings.simplefilter('error', FutureWarning); warnings.simplefilter('error', DeprecationWarning)
        m, losses = sft(model(), tokenizer(), ['guozi'], steps=2, batch_size=4, log_every=1)
    assert len(losses) == 2

def _fake_build(monkeypatch, fail=False):
    "Replace the expensive training in `build` by a stub that writes one small file per model (or fails)."
    from llmbook import lab
    def train(tok, name, out, log_every):
        if fail: raise KeyboardInterrupt('interrupted')
        (out/name).mkdir(); (out/name/'model.safetensors').write_bytes(name.encode())
        return dict(sha256=lab._hashes(out/name))
    monkeypatch.setattr(lab, '_train_model', train)
    return lab

def test_build_is_atomic(monkeypatch, tmp_path):
    "An interrupted rebuild leaves the previous build untouched and no temporary directory behind."
    lab = _fake_build(monkeypatch)
    out = tmp_path/'lab'
    first = lab.build(out)
    (out/'design.json').write_text('{}')
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob('*') if p.is_file()}
    lab = _fake_build(monkeypatch, fail=True)
    with pytest.raises(KeyboardInterrupt): lab.build(out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob('*') if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ['lab']
    assert json.loads((out/'manifest.json').read_text())['models'] == first['models']
    assert [oct(p.stat().st_mode & 0o777) for p in (out, out/'base', out/'base'/'model.safetensors')] == ['0o755', '0o755', '0o644']  # readable once installed

def test_partial_build_carries_other_models(monkeypatch, tmp_path):
    lab = _fake_build(monkeypatch)
    out = tmp_path/'lab'
    lab.build(out)
    (out/'design.json').write_text('{"kept": true}')
    again = lab.build(out, names=['base'])
    assert set(again['models']) == set(lab.MODELS) and (out/'teacher'/'model.safetensors').read_bytes() == b'teacher'
    assert json.loads((out/'design.json').read_text()) == {'kept': True}
    man = json.loads((out/'manifest.json').read_text()); man['tokenizer']['sha256'] = {}
    (out/'manifest.json').write_text(json.dumps(man))
    with pytest.raises(RuntimeError, match='tokenizer changed'): lab.build(out, names=['base'])

def _rederive(name):
    """Rebuild `name` in a temporary directory. On the machine class the lab was built on (same torch version and
    CPU kernel family, one thread) training is deterministic, so the weights must be bitwise equal; elsewhere (e.g. a
    CI runner without AVX-512) float sums are ordered differently and only the measured band is asserted."""
    import torch
    from llmbook.lab import build, manifest
    want, shipped = manifest(name), manifest(None)
    with tempfile.TemporaryDirectory() as d:
        man = build(Path(d)/'lab', names=[name])
    got = man['models'][name]
    same = (man['versions']['torch'], man['machine']['cpu_capability']) == (shipped['versions']['torch'], shipped['machine']['cpu_capability'])
    print(f"{name}: same machine class {same}; weights bitwise equal: {got['sha256'] == want['sha256']}")
    assert man['tokenizer'] == shipped['tokenizer']
    if same: assert got['sha256'] == want['sha256']
    assert abs(got['heldout_ppl'] - want['heldout_ppl']) < 0.05 * want['heldout_ppl']
    return got, want

@pytest.mark.slow
@SLOW
def test_rederive_base():
    "Rebuilding the base: bitwise on the build's machine class, else perplexity within 5% and prose accuracy within 15 points."
    got, want = _rederive('base')
    for t in ('guozi', 'daxie', 'add_steps'): assert abs(got['prose_accuracy'][t] - want['prose_accuracy'][t]) < 0.15, t

@pytest.mark.slow
@SLOW
def test_rederive_teacher():
    "Rebuilding the teacher (pretraining + SFT): bitwise on the build's machine class, else chat accuracy within 15 points."
    got, want = _rederive('teacher')
    for t, a in want['chat_accuracy'].items(): assert abs(got['chat_accuracy'][t] - a) < 0.15, t
