"""`llmbook` as a user runs it (the console script, in a subprocess): bad input ends in one line `llmbook: error: …` on
stderr, no traceback, exit status 2 for usage errors and 1 for failures; --version, help, and vram's recipe defaults."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent/'llmbook'   # the console script pip installs next to the interpreter
CMD = [str(EXE)] if EXE.exists() else [sys.executable, '-c', 'import sys; from llmbook.cli import main; sys.exit(main(sys.argv[1:]))']

def cli(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith('LLMBOOK_')}
    e.update(HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false', **(env or {}))
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True, env=e, cwd=ROOT, timeout=300)

@pytest.fixture(scope='module')
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp('cli')
    (d/'gpt2').mkdir()
    (d/'gpt2'/'config.json').write_text(json.dumps(dict(model_type='gpt2', n_embd=768, n_layer=12, n_head=12, vocab_size=50257)))
    (d/'bad.yml').write_text('merge_method: ties\nmodels: [oops\n')
    (d/'list.yml').write_text('- just\n- a list\n')
    _bad_models(d)
    return d

def _bad_models(d):
    "Tiny Llama folders for the model-file cases: different shapes, truncated, pickled-only, a tokenizer larger than the model."
    import torch, shutil
    from transformers import LlamaConfig, LlamaForCausalLM
    from llmbook import lab
    base = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2)
    for name, kw in (('a', {}), ('b', dict(intermediate_size=48))):
        torch.manual_seed(0); LlamaForCausalLM(LlamaConfig(**base | kw)).save_pretrained(d/name)
    lab.tokenizer().save_pretrained(d/'labtok')
    shutil.copytree(d/'a', d/'trunc'); f = d/'trunc'/'model.safetensors'; f.write_bytes(f.read_bytes()[:f.stat().st_size//2])
    (d/'pk').mkdir(); shutil.copy(d/'a'/'config.json', d/'pk'); (d/'pk'/'pytorch_model.bin').write_bytes(b'never unpickled')
    pair = lambda x, y: f"merge_method: linear\nmodels:\n  - model: {d/x}\n    parameters: {{weight: 0.5}}\n  - model: {d/y}\n    parameters: {{weight: 0.5}}\n"
    for name, (x, y) in dict(shapes=('a', 'b'), trunc=('a', 'trunc'), pk=('a', 'pk')).items(): (d/f'{name}.yml').write_text(pair(x, y))

BAD = [  # (id, argv with {d} for the temp folder, extra environment, exit status, text the line must contain)
    ('unknown-command',   ['frobnicate'], None, 2, "invalid choice: 'frobnicate'"),
    ('unknown-option',    ['--frobnicate'], None, 2, 'llmbook -h'),
    ('env-bad-tier',      ['env'], {'LLMBOOK_TIER': 'bogus'}, 2, "LLMBOOK_TIER='bogus' is not a tier"),
    ('env-bad-rehearse',  ['env', '--json'], {'LLMBOOK_REHEARSE': 'a100'}, 2, 'is not a tier'),
    ('env-bad-option',    ['env', '--frobnicate'], None, 2, 'unrecognized arguments: --frobnicate'),
    ('tour-bad-stage',    ['tour', '--stages', 'nope'], None, 2, "invalid choice: 'nope'"),
    ('tour-n-0',          ['tour', '--n', '0'], None, 2, 'argument --n: must be at least 1'),
    ('tour-steps-neg',    ['tour', '--steps', '-1'], None, 2, 'argument --steps: must be at least 1'),
    ('tour-batch-0',      ['tour', '--batch-size', '0'], None, 2, 'argument --batch-size'),
    ('tour-lr-0',         ['tour', '--lr', '0'], None, 2, 'argument --lr: must be above 0'),
    ('vram-batch-0',      ['vram', 'lab', '--batch', '0'], None, 2, 'argument --batch: must be at least 1'),
    ('vram-seq-neg',      ['vram', 'lab', '--seq', '-512'], None, 2, 'argument --seq: must be at least 1'),
    ('vram-rank-0',       ['vram', 'lab', '--method', 'lora', '--lora-r', '0'], None, 2, 'argument --lora-r'),
    ('vram-seq-text',     ['vram', 'lab', '--seq', 'long'], None, 2, "not an integer: 'long'"),
    ('vram-dtype',        ['vram', 'lab', '--dtype', 'fp8'], None, 2, "invalid choice: 'fp8'"),
    ('vram-gpt2',         ['vram', '{d}/gpt2'], None, 2, "model_type 'gpt2' is not supported"),
    ('vram-gpt2-tier',    ['vram', '{d}/gpt2', '--tier', 't4'], None, 2, "model_type 'gpt2' is not supported"),
    ('vram-gpt2-json',    ['vram', '{d}/gpt2', '--tier', 'cpu', '--json'], None, 2, "model_type 'gpt2' is not supported"),
    ('vram-no-model',     ['vram', '{d}/nothing-here'], None, 2, 'cannot read a config'),
    ('merge-no-args',     ['merge'], None, 2, 'required'),
    ('merge-no-config',   ['merge', '{d}/missing.yml', '{d}/out'], None, 1, 'not found'),
    ('merge-bad-yaml',    ['merge', '{d}/bad.yml', '{d}/out'], None, 1, 'not valid YAML'),
    ('merge-not-mapping', ['merge', '{d}/list.yml', '{d}/out'], None, 1, 'YAML mapping'),
    ('gguf-no-dir',       ['gguf', '{d}/missing', '{d}/x.gguf'], None, 1, 'is not a folder'),
    ('gguf-bad-type',     ['gguf', '{d}/gpt2', '{d}/x.gguf', '--type', 'q3'], None, 2, "invalid choice: 'q3'"),
    # model files (the catalogue in tests/test_errors.py names these ids)
    ('vram-offline-hub-id', ['vram', 'llmbook-test/not-a-cached-model'], None, 2, "cannot read a config for 'llmbook-test/not-a-cached-model'"),
    ('merge-shapes-differ', ['merge', '{d}/shapes.yml', '{d}/out'], None, 1, 'tensor model.layers.0.mlp.down_proj.weight: shapes differ'),
    ('merge-truncated',   ['merge', '{d}/trunc.yml', '{d}/out'], None, 1, 'incomplete metadata'),
    ('merge-pickled',     ['merge', '{d}/pk.yml', '{d}/out'], None, 1, 'only pickled weights'),
    ('gguf-truncated',    ['gguf', '{d}/trunc', '{d}/x.gguf'], None, 1, 'incomplete metadata'),
    ('gguf-pickled',      ['gguf', '{d}/pk', '{d}/x.gguf'], None, 1, 'only pickled weights'),
    ('gguf-vocab-mismatch', ['gguf', '{d}/a', '{d}/x.gguf', '--tokenizer', '{d}/labtok'], None, 1, "but the model's vocab_size is 64"),
]

@pytest.mark.parametrize('argv,env,code,text', [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_line(files, argv, env, code, text):
    r = cli(*[a.format(d=files) for a in argv], env=env)
    lines = r.stderr.splitlines()
    assert 'Traceback' not in r.stderr, r.stderr
    assert r.returncode == code, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith('llmbook: error: ') and text in lines[0], r.stderr
    assert not (files/'out').exists() and not (files/'x.gguf').exists()   # a refused command writes nothing

def test_debug_shows_the_traceback(files):
    r = cli('vram', files/'gpt2', env={'LLMBOOK_DEBUG': '1'})
    assert r.returncode == 1 and 'Traceback' in r.stderr and "model_type 'gpt2'" in r.stderr

def test_version_and_help():
    import llmbook
    r = cli('--version')
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, f'llmbook {llmbook.__version__}', '')
    from llmbook.cli import COMMANDS
    for args in ([], ['-h']):
        r = cli(*args)
        assert r.returncode == 0 and r.stderr == '' and all(c in r.stdout for c in COMMANDS), r
    for c in COMMANDS:
        r = cli(c, '-h')
        assert r.returncode == 0 and r.stdout.startswith(f'usage: llmbook {c}') and r.stderr == '', (c, r.stderr)

def test_vram_help_documents_every_option():
    from llmbook.cli import _vram_parser
    p = _vram_parser()
    undocumented = [a.dest for a in p._actions if not a.help]
    assert not undocumented, undocumented
    assert len(p._actions) >= 13   # model + 11 options + -h: a parser that lost its options would pass vacuously

@pytest.mark.parametrize('tier', ['cpu', 't4', '24g', '80g', None])
@pytest.mark.parametrize('method', ['full', 'lora', 'qlora'])
def test_vram_defaults_are_the_recipe_knobs(tier, method, capsys):
    "What `llmbook vram` assumes when a knob is left out is what `llmbook.train.sft` will use on that tier."
    from llmbook.cli import main
    from llmbook.train import sft_defaults, recipe_precision
    from llmbook.hw import TIERS
    assert main(['vram', 'Qwen/Qwen2.5-0.5B-Instruct', '--method', method, '--json', *(['--tier', tier] if tier else [])]) == 0
    d = json.loads(capsys.readouterr().out)
    t = tier or '24g'
    rec = sft_defaults(t, method)
    assert d['grad_ckpt'] == rec['gradient_checkpointing']
    assert d['precision'] == recipe_precision(method, t)
    # the recipe loads full fine-tuning in fp32 (master weights) and computes in the tier's dtype under autocast
    assert d['dtype'] == TIERS[t].dtype and rec['dtype'] == ('float32' if method == 'full' else TIERS[t].dtype)
    assert d['grad_ckpt'] == (t != 'cpu')   # the recipe's rule, stated independently: checkpointing on every GPU tier

def test_vram_json_numbers_are_rounded():
    r = cli('vram', 'Qwen/Qwen2.5-7B-Instruct', '--method', 'full', '--tier', 't4', '--json')
    assert r.returncode == 1 and r.stderr == ''     # does not fit: exit status 1, the answer and a suggestion on stdout
    d = json.loads(r.stdout)
    floats = [v for v in d.values() if isinstance(v, float)] + [v for v in d['suggestion'].values() if isinstance(v, float)]
    assert floats and all(round(v, 3) == v for v in floats), d
    assert d['fits'] is False and d['suggestion']['method'] in ('lora', 'qlora')

def test_env_json_numbers_are_rounded():
    r = cli('env', '--json')
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    floats = [v for v in d.values() if isinstance(v, float)]
    assert floats and all(round(v, 2) == v for v in floats), d
