"""`llmbook merge` vs `mergekit-yaml` on the same inputs: wall time and peak RSS, as ratios measured in one run.

    python bench/merge.py            # three random-weight Llama models of ~290 MB each (bf16), a few methods
    python bench/merge.py --tiny     # seconds; what CI runs (checks the script, not the numbers)

Each merge runs as its own subprocess (the console scripts people use), reaped with os.wait4 so its rusage is its own:
ru_maxrss is that process's peak resident set. The parent stays small (no torch; models are made and compared in
helper subprocesses), because a forked child's ru_maxrss starts from its parent's size at fork. Both tools get the same config and --random-seed, and their outputs
are compared tensor by tensor. `--help` runs give each tool's start-up cost (imports) on its own.
Writes bench/results/merge.json (merge-tiny.json with --tiny) and prints a table.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def run(cmd):
    "Wall seconds and peak RSS (MiB) of one subprocess."
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, 'HF_HUB_OFFLINE': '1'})
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors='replace'); p.stderr.close(); p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode: sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{err[-2000:]}")
    return wall, ru.ru_maxrss / 1024

def make_models(root, hidden, inter, layers, vocab, seed=0):
    "A base and two perturbed copies (bf16 safetensors, Llama config, no tokenizer), written tensor by tensor."
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=max(1, hidden // 128), num_key_value_heads=max(1, hidden // 128), tie_word_embeddings=False,
                      dtype='bfloat16', architectures=['LlamaForCausalLM'])
    with torch.device('meta'): shapes = {k: v.shape for k, v in LlamaForCausalLM(cfg).state_dict().items()}
    g = torch.Generator().manual_seed(seed)
    base = {k: (torch.randn(s, generator=g) * 0.02).bfloat16() for k, s in shapes.items()}
    paths = []
    for i, name in enumerate(('base', 'ft1', 'ft2')):
        d = root/name; d.mkdir()
        sd = base if i == 0 else {k: (v.float() + torch.randn(v.shape, generator=g) * 0.002).bfloat16() for k, v in base.items()}
        save_file(sd, str(d/'model.safetensors'), metadata={'format': 'pt'}); cfg.save_pretrained(d)
        paths.append(str(d)); del sd
    return paths, sum(s.numel() for s in shapes.values())

def configs(base, a, b, methods):
    two = lambda m, **p: dict(merge_method=m, base_model=base, models=[dict(model=a, parameters=p), dict(model=b, parameters=p)])
    all_ = {'linear': dict(merge_method='linear', models=[dict(model=a, parameters=dict(weight=0.5)), dict(model=b, parameters=dict(weight=0.5))]),
            'slerp': dict(merge_method='slerp', base_model=a, models=[dict(model=a), dict(model=b)], parameters=dict(t=0.5)),
            'task_arithmetic': two('task_arithmetic', weight=0.5),
            'ties': two('ties', weight=1.0, density=0.5),
            'dare_ties': two('dare_ties', weight=0.5, density=0.5)}
    return {m: all_[m] for m in methods}

def max_diff(a, b):
    import torch
    from safetensors import safe_open
    out = 0.0
    fa, fb = sorted(Path(a).glob('*.safetensors')), sorted(Path(b).glob('*.safetensors'))
    def index(files):
        idx = {}
        for f in files:
            with safe_open(str(f), 'pt') as st: idx |= {k: f for k in st.keys()}
        return idx
    ia, ib = index(fa), index(fb)
    assert ia.keys() == ib.keys(), set(ia) ^ set(ib)
    for k in ia:
        with safe_open(str(ia[k]), 'pt') as x, safe_open(str(ib[k]), 'pt') as y:
            out = max(out, (x.get_tensor(k).float() - y.get_tensor(k).float()).abs().max().item())
    return out

def _helper(*args):
    "Run this script's --make / --compare step in a subprocess, so the parent never imports torch."
    r = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True, text=True)
    if r.returncode: sys.exit(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiny', action='store_true', help='tiny models (seconds): checks the script, e.g. in CI')
    p.add_argument('--methods', nargs='*', default=['linear', 'slerp', 'ties', 'dare_ties'])
    p.add_argument('--out', type=Path, help='JSON results (default bench/results/merge.json, merge-tiny.json with --tiny)')
    p.add_argument('--make', type=Path, help=argparse.SUPPRESS)        # internal: write the models into this directory
    p.add_argument('--compare', nargs=2, type=Path, help=argparse.SUPPRESS)  # internal: max abs diff of two model dirs
    a = p.parse_args()
    if a.make: paths, n = make_models(a.make, **json.loads(os.environ['BENCH_SIZE'])); print(json.dumps([paths, n])); return
    if a.compare: print(json.dumps(max_diff(*a.compare))); return
    size = dict(hidden=64, inter=128, layers=2, vocab=416) if a.tiny else dict(hidden=1024, inter=2816, layers=8, vocab=32000)
    ours, mk = [str(BIN/'llmbook'), 'merge'], [str(BIN/'mergekit-yaml')]
    if not Path(mk[0]).exists(): sys.exit('mergekit-yaml not found next to this Python: pip install -c constraints.txt -e ".[dev]"')
    import yaml
    root = Path(tempfile.mkdtemp(prefix='llmbook-bench-merge-'))
    try:
        t0 = time.perf_counter()
        os.environ['BENCH_SIZE'] = json.dumps(size)
        paths, n_params = _helper('--make', root)
        mb = sum(f.stat().st_size for f in (root/'base').glob('*.safetensors')) / 2**20
        print(f"3 models of {n_params/1e6:.0f}M parameters ({mb:.0f} MiB each, bf16) in {time.perf_counter() - t0:.0f} s", flush=True)
        rows = [dict(method='(start-up: --help)', ours_s=(r := run([*ours, '--help']))[0], ours_mib=r[1],
                     mergekit_s=(q := run([*mk, '--help']))[0], mergekit_mib=q[1])]
        for m, cfg in configs(*paths, a.methods).items():
            cp = root/f'{m}.yml'; cp.write_text(yaml.safe_dump(cfg))
            o, k = run([*ours, cp, root/f'ours-{m}', '--random-seed', '0']), run([*mk, cp, root/f'mk-{m}', '--random-seed', '0'])
            rows.append(dict(method=m, ours_s=o[0], ours_mib=o[1], mergekit_s=k[0], mergekit_mib=k[1],
                             max_abs_diff=_helper('--compare', root/f'ours-{m}', root/f'mk-{m}')))
            shutil.rmtree(root/f'ours-{m}'); shutil.rmtree(root/f'mk-{m}')
            print(f"{m}: done", flush=True)
    finally: shutil.rmtree(root, ignore_errors=True)
    for r in rows: r.update(time_ratio=r['ours_s'] / r['mergekit_s'], rss_ratio=r['ours_mib'] / r['mergekit_mib'])
    import resource
    res = dict(model_mib=round(mb, 1), params=n_params, size=size, cpu_count=os.cpu_count(), load=os.getloadavg(),
               bench_parent_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
               rows=[{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows])
    out = a.out or ROOT/'bench'/'results'/('merge-tiny.json' if a.tiny else 'merge.json')
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(json.dumps(res, indent=1) + '\n')
    print(f"{'method':<20}{'ours s':>8}{'mk s':>8}{'time':>7}{'ours MiB':>10}{'mk MiB':>9}{'RSS':>7}{'max|Δ|':>9}")
    for r in rows:
        print(f"{r['method']:<20}{r['ours_s']:8.1f}{r['mergekit_s']:8.1f}{r['time_ratio']:7.2f}{r['ours_mib']:10.0f}{r['mergekit_mib']:9.0f}"
              f"{r['rss_ratio']:7.2f}{r.get('max_abs_diff', float('nan')):9.1e}")
    print(f"ratios are llmbook / mergekit (below 1: llmbook is faster / smaller); load average {res['load'][0]:.1f} on {os.cpu_count()} CPUs -> {out}")
    bad = [r['method'] for r in rows if r.get('max_abs_diff', 0) > 1e-5]
    if bad: sys.exit(f"outputs differ from mergekit: {bad}")

if __name__ == '__main__': main()
