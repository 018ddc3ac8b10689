"""`llmbook merge` equals mergekit-yaml 0.1.5 tensor for tensor, for every method, and fails cleanly.

Fixture: three small random-weight Llama models (safetensors, lab tokenizer) in a temp dir: a base and two perturbed
copies. mergekit runs once in a subprocess for all configs (its own `mergekit-yaml` entry point; one real
`mergekit-yaml` console-script run as well); `llmbook merge` runs in-process (plus real CLI subprocesses for exit codes).
"""
import io, json, os, shutil, subprocess, sys, contextlib
from pathlib import Path
import pytest, yaml

torch = pytest.importorskip('torch')
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}

def _need_mergekit():
    import importlib.util
    if importlib.util.find_spec('mergekit') is None:
        if os.environ.get('CI'): pytest.fail('mergekit is not installed: CI installs it with the dev extra (constraints.txt pins 0.1.5)')
        pytest.skip('mergekit not installed (pip install -c constraints.txt -e ".[dev]")')

def _save(root, name, sd, cfg, tok):
    from transformers import LlamaForCausalLM
    m = LlamaForCausalLM(cfg); m.load_state_dict(sd)
    m.save_pretrained(root/name); tok.save_pretrained(root/name)
    return str(root/name)

@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "base, ft1, ft2 (random Llama, 4 layers, untied lm_head), plus a wider model, a tied one and a pickled-only dir."
    from transformers import LlamaConfig, LlamaForCausalLM
    from llmbook import lab
    root, tok = tmp_path_factory.mktemp('merge'), lab.tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False)
    torch.manual_seed(0)
    sd = LlamaForCausalLM(cfg).state_dict()
    g = torch.Generator().manual_seed(1)
    ft = [{k: v + 0.01 * torch.randn(v.shape, generator=g) for k, v in sd.items()} for _ in range(2)]
    p = dict(root=root, base=_save(root, 'base', sd, cfg, tok), ft1=_save(root, 'ft1', ft[0], cfg, tok), ft2=_save(root, 'ft2', ft[1], cfg, tok))
    wide = LlamaConfig(**{**cfg.to_dict(), 'intermediate_size': 96})
    p['wide'] = _save(root, 'wide', LlamaForCausalLM(wide).state_dict(), wide, tok)
    (root/'pickled').mkdir(); shutil.copy(root/'base'/'config.json', root/'pickled'); torch.save({}, root/'pickled'/'pytorch_model.bin')
    p['pickled'] = str(root/'pickled')
    return p

def _w(**kw): return {'parameters': kw}

def configs(m):
    "Every method, gradients, slices, dtype: name -> mergekit config."
    B, A, C = m['base'], m['ft1'], m['ft2']
    two = lambda meth, p1, p2, **top: dict(merge_method=meth, base_model=B, models=[dict(model=A, **_w(**p1)), dict(model=C, **_w(**p2))],
                                          **({'parameters': top} if top else {}))
    T = [dict(filter='self_attn', value=[0, 0.5, 0.3, 0.7, 1]), dict(filter='mlp', value=[1, 0.5, 0.7, 0.3, 0]), dict(value=0.5)]
    return {
        'linear': dict(merge_method='linear', models=[dict(model=A, **_w(weight=0.7)), dict(model=C, **_w(weight=0.5))]),
        'linear_nonorm': dict(merge_method='linear', parameters=dict(normalize=False), models=[dict(model=A, **_w(weight=0.7)), dict(model=C, **_w(weight=0.5))]),
        'linear_with_base': dict(merge_method='linear', base_model=B, models=[dict(model=B, **_w(weight=0.2)), dict(model=A, **_w(weight=0.4)), dict(model=C, **_w(weight=0.4))]),
        'slerp': dict(merge_method='slerp', base_model=A, models=[dict(model=A), dict(model=C)], parameters=dict(t=0.3)),
        'slerp_gradient': dict(merge_method='slerp', base_model=A, models=[dict(model=A), dict(model=C)], parameters=dict(t=T)),
        'slerp_gradient_slices': dict(merge_method='slerp', base_model=A, parameters=dict(t=T), dtype='bfloat16',
                                      slices=[dict(sources=[dict(model=A, layer_range=[0, 4]), dict(model=C, layer_range=[0, 4])])]),
        'task_arithmetic': two('task_arithmetic', dict(weight=0.7), dict(weight=-0.5)),
        'task_arithmetic_norm_lambda': two('task_arithmetic', dict(weight=0.7), dict(weight=0.5), normalize=True, **{'lambda': 0.8}),
        'ties': two('ties', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.3)),
        'ties_filters': two('ties', dict(weight=1.0, density=[dict(filter='mlp', value=0.2), dict(value=0.7)]), dict(weight=[0.2, 1.0], density=0.5), int8_mask=True),
        'dare_linear': two('dare_linear', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.3)),
        'dare_ties': two('dare_ties', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.3)),
        'breadcrumbs': two('breadcrumbs', dict(weight=0.7, density=0.9), dict(weight=0.5, density=0.8, gamma=0.05)),
        'breadcrumbs_ties': two('breadcrumbs_ties', dict(weight=0.7, density=0.9), dict(weight=0.5, density=0.8)),
        'della': two('della', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.4, epsilon=0.1)),
        'della_linear': two('della_linear', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.4)),
        'model_stock': dict(merge_method='model_stock', base_model=B, models=[dict(model=A), dict(model=C)]),
        'ties_bf16': {**two('ties', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.3)), 'dtype': 'bfloat16'},
        'linear_bf16': dict(merge_method='linear', dtype='bfloat16', models=[dict(model=A, **_w(weight=0.7)), dict(model=C, **_w(weight=0.3))]),
        'dare_ties_bf16': {**two('dare_ties', dict(weight=0.7, density=0.5), dict(weight=0.5, density=0.3)), 'dtype': 'bfloat16'},
        'slices': dict(merge_method='slerp', base_model=A, parameters=dict(t=[0, 1]), slices=[
            dict(sources=[dict(model=A, layer_range=[0, 2]), dict(model=C, layer_range=[0, 2])]),
            dict(sources=[dict(model=A, layer_range=[1, 4]), dict(model=C, layer_range=[1, 4])])]),
        'ties_layer_ranges': dict(merge_method='ties', base_model=B, parameters=dict(weight=0.5, density=[0.2, 0.8]), slices=[
            dict(sources=[dict(model=B, layer_range=[0, 3]), dict(model=A, layer_range=[1, 4]), dict(model=C, layer_range=[0, 3], **_w(weight=1.0))])]),
    }

SEED = 7
MK_DRIVER = """
import sys, json
from mergekit.scripts.run_yaml import main
for cfg, out in json.loads(sys.argv[1]):
    main([cfg, out, '--random-seed', sys.argv[2], '--quiet'], standalone_mode=False)
"""

@pytest.fixture(scope='module')
def merged(models):
    "Every config merged by mergekit (one subprocess) and by llmbook (in-process, same seed)."
    _need_mergekit()
    from llmbook.merge import merge_main
    root, cfgs, jobs = models['root'], configs(models), []
    for name, c in cfgs.items():
        (root/f'{name}.yml').write_text(yaml.safe_dump(c))
        jobs.append((str(root/f'{name}.yml'), str(root/f'mk_{name}')))
    r = subprocess.run([sys.executable, '-c', MK_DRIVER, json.dumps(jobs), str(SEED)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in cfgs:
        with contextlib.redirect_stdout(io.StringIO()):
            assert merge_main([str(root/f'{name}.yml'), str(root/f'ours_{name}'), '--random-seed', str(SEED)]) == 0
    return root, list(cfgs)

def load_dir(d):
    return {k: v for f in sorted(Path(d).glob('*.safetensors')) for k, v in load_file(f).items()}

def max_diff(a, b):
    A, B = load_dir(a), load_dir(b)
    assert sorted(A) == sorted(B), sorted(set(A) ^ set(B))
    for k in A: assert A[k].dtype == B[k].dtype and A[k].shape == B[k].shape, (k, A[k].dtype, B[k].dtype)
    return max((A[k].float() - B[k].float()).abs().max().item() for k in A)

CONFIG_NAMES = list(configs({'base': 'b', 'ft1': 'a', 'ft2': 'c'}))

@pytest.mark.parametrize('name', CONFIG_NAMES)
def test_equals_mergekit(merged, name):
    root, _ = merged
    d = max_diff(root/f'ours_{name}', root/f'mk_{name}')
    assert d <= 1e-5, f'{name}: max abs diff {d}'
    ours, mk = (json.loads((root/f'{p}_{name}'/'config.json').read_text()) for p in ('ours', 'mk'))
    assert ours['num_hidden_layers'] == mk['num_hidden_layers']
    assert (root/f'ours_{name}'/'tokenizer.json').exists()

def test_random_methods_depend_on_seed(merged, models):
    "DARE/DELLA are random: the parity above is not vacuous."
    from llmbook.merge import merge
    root, _ = merged
    for name in ('dare_ties', 'della'):
        merge(root/f'{name}.yml', root/f'seed8_{name}', random_seed=SEED + 1)
        assert max_diff(root/f'seed8_{name}', root/f'mk_{name}') > 1e-3

def test_outputs_load_and_honour_dtype(merged):
    from transformers import AutoModelForCausalLM
    root, _ = merged
    assert {v.dtype for v in load_dir(root/'ours_ties_bf16').values()} == {torch.bfloat16}
    assert json.loads((root/'ours_ties_bf16'/'config.json').read_text())['dtype'] == 'bfloat16'
    assert json.loads((root/'ours_slices'/'config.json').read_text())['num_hidden_layers'] == 5
    m = AutoModelForCausalLM.from_pretrained(root/'ours_slices')
    assert m.config.num_hidden_layers == 5 and len(m.model.layers) == 5
    sd = load_dir(root/'ours_slices')
    assert torch.equal(m.model.layers[4].mlp.up_proj.weight, sd['model.layers.4.mlp.up_proj.weight'])

def test_lesson_functions_are_what_runs(models):
    "The visible from-scratch functions give the same tensors as the streaming path's dispatcher."
    from llmbook.merge import merge_tensor, ties, dare_ties, task_arithmetic, merge_linear, slerp, model_stock
    g = torch.Generator().manual_seed(0)
    b, x, y = torch.randn(32, 16, generator=g), torch.randn(32, 16, generator=g), torch.randn(32, 16, generator=g)
    gta = lambda **kw: dict(normalize=False, rescale=False, **{'lambda': 1.0}) | kw
    per = [{}, dict(weight=0.6, density=0.4), dict(weight=0.9, density=0.7)]
    assert torch.equal(merge_tensor('ties', [b, x, y], 0, gta(normalize=True), per), ties(b, [x, y], [0.6, 0.9], [0.4, 0.7]))
    assert torch.equal(merge_tensor('task_arithmetic', [b, x, y], 0, gta(), per), task_arithmetic(b, [x, y], [0.6, 0.9]))
    assert torch.equal(merge_tensor('dare_ties', [b, x, y], 0, gta(rescale=True), per, torch.Generator().manual_seed(3)),
                       dare_ties(b, [x, y], [0.6, 0.9], [0.4, 0.7], generator=torch.Generator().manual_seed(3)))
    assert torch.equal(merge_tensor('linear', [x, y], None, dict(normalize=True), [dict(weight=1), dict(weight=3)]), merge_linear([x, y], [1, 3]))
    assert torch.equal(merge_tensor('slerp', [x, y], 0, dict(t=0.25)), slerp(0.25, x, y))
    assert torch.equal(merge_tensor('model_stock', [b, x, y], 0, dict(filter_wise=False)), model_stock(b, [x, y]))

def test_sharded_output_streams_and_loads(models, tmp_path):
    "A small --max-shard-size gives several shards and an index; transformers loads them; values unchanged."
    from transformers import AutoModelForCausalLM
    from llmbook.merge import merge
    cfg = configs(models)['ties']
    one, many = merge(cfg, tmp_path/'one', random_seed=0), merge(cfg, tmp_path/'many', random_seed=0, max_shard_bytes=100_000)
    shards = sorted(p.name for p in many.glob('*.safetensors'))
    assert len(shards) > 3 and (many/'model.safetensors.index.json').exists(), shards
    assert max_diff(one, many) == 0.0
    m = AutoModelForCausalLM.from_pretrained(many)
    assert torch.equal(m.lm_head.weight, load_dir(one)['lm_head.weight'])

def _cli(*args, env=None):
    exe = Path(sys.executable).parent/'llmbook'   # the console script readers run
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-c', 'import sys; from llmbook.cli import main; sys.exit(main(sys.argv[1:]))']
    return subprocess.run([*cmd, 'merge', *map(str, args)], capture_output=True, text=True,
                          env={**ENV, **(env or {})}, cwd=ROOT, timeout=300)

def _in_process(*args):
    from llmbook.merge import merge_main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try: rc = merge_main([str(a) for a in args])
        except SystemExit as e: rc = e.code
    return rc, err.getvalue().strip()

def test_errors_are_one_line(models, tmp_path):
    m, out = models, tmp_path/'out'
    def cfg(name, c): p = tmp_path/f'{name}.yml'; p.write_text(yaml.safe_dump(c)); return p
    base = configs(m)['ties']
    mistral = tmp_path/'mistral'; shutil.copytree(m['ft2'], mistral)
    c = json.loads((mistral/'config.json').read_text()); c['architectures'] = ['MistralForCausalLM']; (mistral/'config.json').write_text(json.dumps(c))
    cases = [
        (cfg('arch', {**base, 'models': [dict(model=m['ft1'], **_w(weight=1)), dict(model=str(mistral), **_w(weight=1))]}), 'different architectures'),
        (cfg('unknown', {**base, 'merge_method': 'frankenmerge'}), "unknown merge_method 'frankenmerge'"),
        (cfg('shapes', {**base, 'models': [dict(model=m['ft1'], **_w(weight=1)), dict(model=m['wide'], **_w(weight=1))]}), 'mlp.down_proj.weight: shapes differ'),
        (cfg('missing', {**base, 'models': [dict(model=m['ft1'], **_w(weight=1)), dict(model=str(tmp_path/'nope'), **_w(weight=1))]}), 'no such directory'),
        (cfg('pickled', {**base, 'models': [dict(model=m['ft1'], **_w(weight=1)), dict(model=m['pickled'], **_w(weight=1))]}), 'safetensors only'),
        (cfg('noweight', {**base, 'models': [dict(model=m['ft1']), dict(model=m['ft2'], **_w(weight=1))]}), 'parameter `weight` is required'),
        (cfg('slerp3', dict(merge_method='slerp', base_model=m['base'], parameters=dict(t=0.5), models=[dict(model=m['ft1']), dict(model=m['ft2'])])), 'exactly 2 models'),
        (cfg('nobase', {k: v for k, v in base.items() if k != 'base_model'}), 'needs a base_model'),
        (cfg('della_eps', configs(m)['della'] | {'parameters': {'epsilon': 0.6}}), 'density ± epsilon'),
        (tmp_path/'absent.yml', 'config file'),
    ]
    for path, want in cases:
        rc, err = _in_process(path, out)
        assert rc == 1 and err.startswith('llmbook: error:') and want in err and '\n' not in err, (path.name, rc, err)
        assert not out.exists() and not list(tmp_path.glob('.out.*')), f'{path.name} left files behind'

def test_cli_exit_codes_no_traceback(models, tmp_path):
    "The real `llmbook merge` entry point: 2 for usage, 1 for a bad config, 0 and a loadable directory otherwise."
    r = _cli(tmp_path/'x.yml')
    assert r.returncode == 2 and r.stderr.startswith('llmbook: error:') and 'Traceback' not in r.stderr, r.stderr
    bad = tmp_path/'bad.yml'; bad.write_text(yaml.safe_dump({**configs(models)['ties'], 'merge_method': 'nope'}))
    r = _cli(bad, tmp_path/'o')
    assert r.returncode == 1 and r.stderr.strip().count('\n') == 0 and 'Traceback' not in r.stderr, r.stderr
    good = tmp_path/'good.yml'; good.write_text(yaml.safe_dump(configs(models)['dare_ties']))
    r = _cli(good, tmp_path/'o', '--random-seed', SEED)
    assert r.returncode == 0, r.stderr
    r2 = _cli(good, tmp_path/'o', '--random-seed', SEED)
    assert r2.returncode == 1 and 'exists and is not empty' in r2.stderr
    assert _cli(good, tmp_path/'o', '--random-seed', SEED, '--overwrite').returncode == 0

def test_real_mergekit_yaml_cli_and_hub_ids(models, tmp_path):
    "mergekit-yaml as people run it, vs `llmbook merge` reading the same models by Hub id from an offline HF cache."
    _need_mergekit()
    cache = tmp_path/'hub'
    for name in ('base', 'ft1', 'ft2'):   # a hand-made Hugging Face cache: models--org--name/{refs/main, snapshots/<rev>/}
        d = cache/f'models--lab--{name}'; (d/'refs').mkdir(parents=True); (d/'refs'/'main').write_text('0' * 40)
        shutil.copytree(models[name], d/'snapshots'/('0' * 40))
    by_path, by_id = configs(models)['ties'], yaml.safe_load(yaml.safe_dump(configs(models)['ties']))
    by_id['base_model'] = 'lab/base'
    for e, n in zip(by_id['models'], ('ft1', 'ft2')): e['model'] = f'lab/{n}'
    (tmp_path/'p.yml').write_text(yaml.safe_dump(by_path)); (tmp_path/'h.yml').write_text(yaml.safe_dump(by_id))
    exe = Path(sys.executable).parent/'mergekit-yaml'
    r = subprocess.run([str(exe), str(tmp_path/'p.yml'), str(tmp_path/'mk'), '--random-seed', '0'], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _cli(tmp_path/'h.yml', tmp_path/'ours', '--random-seed', '0', env={'HF_HUB_CACHE': str(cache)})
    assert r.returncode == 0, r.stderr
    assert max_diff(tmp_path/'ours', tmp_path/'mk') <= 1e-5
    r = _cli(tmp_path/'h.yml', tmp_path/'ours2', env={'HF_HUB_CACHE': str(tmp_path/'empty')})
    assert r.returncode == 1 and 'not in the Hugging Face cache' in r.stderr

def test_slerp_large_bf16_tensor_matches_mergekit_kernel():
    "Above 2**20 entries mergekit sums norms and dots in chunks; bf16 output shows any rounding difference."
    _need_mergekit()
    from mergekit.merge_methods.slerp import slerp as mk_slerp
    from llmbook.merge import slerp, SLERP_CHUNK
    g = torch.Generator().manual_seed(0)
    a = (torch.randn(3 * SLERP_CHUNK + 12345, generator=g) * 0.02).bfloat16()
    b = (a.float() + torch.randn(a.shape, generator=g) * 0.01).bfloat16()
    ref = mk_slerp(torch.tensor([0.37]), a.unsqueeze(0), b.unsqueeze(0)).squeeze(0)   # one tensor per call, as mergekit-yaml runs it
    assert torch.equal(slerp(0.37, a, b), ref)
