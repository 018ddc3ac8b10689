"Checks of the embedded lab that do not belong in the lesson: shipped assets, offline loading, light import, CLI."
import json, os, subprocess, sys, tempfile
from pathlib import Path
import pytest

ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}

def run_py(code, timeout=120):
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, timeout=timeout)

def test_shipped_tokenizer_equals_retrained():
    from llmbook.lab import tokenizer, train_tokenizer, CHAT_TEMPLATE
    shipped, again = tokenizer(), train_tokenizer()
    assert shipped.backend_tokenizer.to_str() == again.backend_tokenizer.to_str()
    assert shipped.chat_template == again.chat_template == CHAT_TEMPLATE
    assert (shipped.eos_token, shipped.pad_token) == ('<|end|>', '<|pad|>')

def test_weights_match_manifest():
    from llmbook.lab import _assets, sha256, manifest
    man = manifest()
    for f, h in man['sha256'].items(): assert sha256(_assets()/'base'/f) == h, f
    assert man['heldout_ppl'] < man['vocab_size'] / 50

def test_import_is_light():
    r = run_py("import sys, llmbook, llmbook.lab; print('torch' in sys.modules, 'transformers' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ['False', 'False']

def test_lab_loads_offline():
    r = run_py("""
from llmbook.lab import model, tokenizer, generate
m, tok = model(), tokenizer()
assert m.config.model_type == 'llama' and str(m.dtype) == 'torch.float32'
print(len(generate(m, tok, ['計算 12+34'], max_new_tokens=4)))""")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '1'

def test_splits_disjoint_and_deterministic():
    from llmbook.lab import TASKS, items
    for t in TASKS:
        tr, ho = items(t), items(t, 'heldout')
        assert not {i['prompt'] for i in tr} & {i['prompt'] for i in ho}
        assert items(t, 'heldout', 5) == ho[:5]

def test_tour_cli():
    exe = Path(sys.executable).with_name('llmbook')
    r = subprocess.run([str(exe) if exe.exists() else 'llmbook', 'tour', '--steps', '10', '--n', '10'], capture_output=True, text=True,
                       env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '| task | before % | after % | gain |' in r.stdout
    for t in ('add', 'guozi', 'reverse'): assert f'| {t} |' in r.stdout

@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get('LLMBOOK_SLOW'), reason='minute-scale: set LLMBOOK_SLOW=1')
def test_rederive_base():
    from llmbook.lab import build, manifest
    man = manifest()
    with tempfile.TemporaryDirectory() as d:
        again = build(d)
    assert again['vocab_size'] == man['vocab_size']
    assert abs(again['heldout_ppl'] - man['heldout_ppl']) < 0.05 * man['heldout_ppl']
