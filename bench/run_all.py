"""Run every benchmark in bench/ and regenerate BENCHMARKS.md from what this run measured (ratios from one run each).

    python bench/run_all.py                       # every CPU bench at full size; writes bench/results/*.json, BENCHMARKS.md
    python bench/run_all.py --tiny --out DIR      # every script on a tiny setting (what CI runs: checks the scripts)
    python bench/run_all.py --tiny-for chapter_times merge   # a full run with some benches on their tiny setting
    python bench/run_all.py --ci-log ci.log       # also CI's time per step, from a saved scripts/test.sh log

GPU benches (vram_measure, recipe_peaks) run only where CUDA is present; elsewhere their stored results (labelled with
the machine and date they came from) are reported, and --tiny runs recipe_peaks' CPU dry run. llamacpp_parity runs only
when llama-cpp-python is installed (tools/llamacpp_wheel.sh); else its stored result is reported. Not run in CI at full
size: timings depend on the machine and its load, which BENCHMARKS.md records beside every number.
"""
import argparse, json, os, platform, subprocess, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
BENCH, RESULTS = ROOT/'bench', ROOT/'bench'/'results'
GPU_STORED = RESULTS/'gpu-2026-11-30'   # the H200 run of 2026-11-30 (see gpu.txt there)

SCRIPTS = {  # script -> kind (cpu: always runs; gpu: needs CUDA; llamacpp: needs llama-cpp-python; log: needs --ci-log)
    'import_time.py':     dict(kind='cpu'),
    'chapter_times.py':   dict(kind='cpu'),
    'packing.py':         dict(kind='cpu', full=['--data', 'mixed']),
    'merge.py':           dict(kind='cpu'),
    'nf4_error.py':       dict(kind='cpu'),
    'vram_cpu.py':        dict(kind='cpu'),
    'ci_times.py':        dict(kind='log'),
    'vram_measure.py':    dict(kind='gpu', out_dir=True, stored=GPU_STORED/'vram_results.json'),
    'recipe_peaks.py':    dict(kind='gpu', out_dir=True, stored=GPU_STORED/'recipe_peaks.jsonl', tiny_on_cpu=True),
    'dpo_memory.py':      dict(kind='gpu', stored=GPU_STORED/'dpo_memory.json'),
    'llamacpp_parity.py': dict(kind='llamacpp', stored=RESULTS/'llamacpp.json'),
}

def _cuda()->bool:
    r = subprocess.run([sys.executable, '-c', 'import torch; print(torch.cuda.is_available())'], capture_output=True, text=True)
    return r.stdout.strip() == 'True'

def _has(mod:str)->bool:
    import importlib.util
    return importlib.util.find_spec(mod) is not None

def plan(name:str, tiny:bool, cuda:bool, ci_log)->tuple:
    "(argv or None, why not run) for one script."
    s = SCRIPTS[name]
    if s['kind'] == 'gpu' and not cuda: return (['--tiny'], '') if tiny and s.get('tiny_on_cpu') else (None, 'needs a CUDA GPU')
    if s['kind'] == 'llamacpp' and not _has('llama_cpp'): return None, 'needs llama-cpp-python (tools/llamacpp_wheel.sh)'
    if s['kind'] == 'log' and not tiny: return (['--ci-log', str(ci_log)], '') if ci_log else (None, 'no --ci-log given')
    if name == 'chapter_times.py' and ci_log and not tiny: return ['--ci-log', str(ci_log)], ''   # CI's own reader-run timings
    return (['--tiny'] if tiny else s.get('full', [])), ''

def run_one(name:str, argv:list, out:Path)->dict:
    stem = Path(name).stem + ('-tiny' if '--tiny' in argv else '')   # a tiny run never overwrites a full-size result
    dest = out/stem if SCRIPTS[name].get('out_dir') else out/f'{stem}.json'
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false', 'MPLBACKEND': 'Agg'}
    l0, t0 = os.getloadavg()[0], time.perf_counter()
    r = subprocess.run([sys.executable, str(BENCH/name), *argv, '--out', str(dest)], cwd=ROOT, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    print(f"{name:<20} {' '.join(argv) or '(full)':<28} exit {r.returncode}  {dt:6.1f} s  load {os.getloadavg()[0]:.1f}", flush=True)
    if r.returncode: print(r.stdout[-1500:], r.stderr[-3000:], sep='\n')
    return dict(argv=argv, rc=r.returncode, seconds=round(dt, 1), loadavg_1min=round((l0 + os.getloadavg()[0])/2, 2), result=str(dest))

def _load(p)->dict|list|None:
    p = Path(p)
    if p.is_dir(): p = next((p/f for f in ('vram_results.json', 'recipe_peaks.jsonl') if (p/f).exists()), p)
    if not p.is_file(): return None
    if p.suffix == '.jsonl': return [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
    return json.loads(p.read_text())

def _table(rows:list, cols:list)->str:
    return '\n'.join(['| ' + ' | '.join(cols) + ' |', '|' + '---|'*len(cols)] + ['| ' + ' | '.join(str(r.get(c, '')) for c in cols) + ' |' for r in rows])

def section(name:str, run:dict|None, why:str)->list:
    "Markdown lines for one bench: what ran (or which stored result is shown), then its numbers."
    s = SCRIPTS[name]
    if run and run['argv'] == ['(previous run)']:
        src, d = f"**previous result, not re-measured in this run** (not selected with --only): `{Path(run['result']).relative_to(ROOT) if Path(run['result']).is_relative_to(ROOT) else run['result']}`", _load(run['result'])
    elif run: src, d = f"measured in this run (`python bench/{name} {' '.join(run['argv'])}`, {run['seconds']} s, load average {run['loadavg_1min']})", _load(run['result'])
    elif s.get('stored') and Path(s['stored']).exists():
        src, d = f"**stored result, not re-measured** ({why}): `{Path(s['stored']).relative_to(ROOT)}`", _load(s['stored'])
    else: return [f"## {name}", '', f"not run: {why}.", '']
    if run and run['rc']: return [f"## {name}", '', src, '', f"**failed** (exit {run['rc']}).", '']
    out = [f"## {name}", '', src, '']
    if d is None: return out + ['(no result file)', '']
    if name == 'import_time.py':
        out += [f"`import llmbook` {d['llmbook']['seconds']} s (loads torch: {d['llmbook']['torch_loaded']}); `import torch` is "
                f"{d['ratio_torch_over_llmbook']}× that, `import transformers` + a model class {d['ratio_transformers_over_llmbook']}×.",
                f"Packages outside the standard library that `import llmbook, llmbook.hw, llmbook.cli` loads: {d.get('non_stdlib_packages_import_llmbook_loads', '?')}."]
    elif name == 'chapter_times.py':
        out += [f"runner: {d['setup']['runner']}.", '', _table(d['rows'], ['notebook', 'seconds', 'fraction_of_budget', 'passed', 'loadavg_1min']), '',
                f"budget {d['setup']['budget_s']} s per chapter on CPU; over budget in this run: {', '.join(d['over_budget']) or 'none'}."]
    elif name == 'packing.py':
        out += [f"{d['setup']['model']}, {d['setup']['steps']} steps of batch {d['setup']['batch']}: real tokens/s padded "
                f"{d['padded']['real_tokens_per_s']}, packed {d['packed']['real_tokens_per_s']} (padding waste {d['padded']['padding_waste']}); "
                f"packed/padded = **{d['speedup_packed_over_padded']}×**, against a padded batch with as many real tokens per step "
                f"{d['speedup_packed_over_padded_same_tokens_per_step']}×."]
    elif name == 'merge.py':
        out += [f"models {d['model_mib']} MiB each; ratios are llmbook / mergekit (below 1: llmbook faster / smaller).", '',
                _table(d['rows'], ['method', 'ours_s', 'mergekit_s', 'time_ratio', 'ours_mib', 'mergekit_mib', 'rss_ratio', 'max_abs_diff'])]
    elif name == 'nf4_error.py':
        out += [f"{d['setup']['matrices']} weight matrices, blocks of 64: our NF4 relative error / bitsandbytes' = "
                f"**{d['ratio_ours_over_bnb_rel_error']}**; 4-bit codes equal: {d['codes_equal']}; largest difference between the "
                f"two reconstructions {d['max_abs_between']:.2e} (bitsandbytes {d['setup']['bitsandbytes']}, CPU)."]
    elif name == 'vram_cpu.py':
        out += [f"parameter counts, formula vs transformers on the meta device: {d['param_counts_exact']}/{d['param_counts']} exact.",
                f"activations, formula / bytes autograd saved: {d['activation_ratio_min']}–{d['activation_ratio_max']}.", '',
                _table(d['activations'], ['model', 'attn', 'mode', 'measured_bytes', 'formula_bytes', 'ratio'])]
    elif name == 'ci_times.py':
        out += [f"source: {d['source']}; total {d['total_s']} s ({d['jobs']} jobs, {d['cores']} cores).", '',
                _table(d['steps'], ['step', 'seconds', 'share'])]
    elif name == 'vram_measure.py':
        rows = [r for r in d['results'] if 'error' not in r]
        out += [f"GPU: {d['gpu']}, torch {d['torch']}; {d['within_10pct']}/{d['measured']} within ±10 %.", '',
                _table(rows, ['chapter', 'tier', 'model', 'method', 'batch', 'seq_len', 'measured_gb', 'estimate_gb', 'error_pct'])]
    elif name == 'recipe_peaks.py':
        rows = d if isinstance(d, list) else []
        cols = [c for c in ('chapter', 'tier', 'model', 'method', 'measured_gb', 'estimate_gb', 'budget_gb', 'ok', 'gpu') if any(c in r for r in rows)]
        out += [_table(rows, cols)]
    elif name == 'dpo_memory.py':
        out += [f"GPU: {d['gpu']}, torch {d['torch']}, TRL {d['trl']}; peak GB by where the reference lives (ratios of peaks measured in one run).", '',
                _table(d['rows'], ['model', 'variant', 'pairs', 'seq_len', 'peak_gb', 'estimate_gb']), '',
                _table(d['ratios'] if isinstance(d['ratios'], list) else [dict(ratio=k, value=v) for k, v in d['ratios'].items()],
                       list((d['ratios'][0] if isinstance(d['ratios'], list) else dict(ratio=0, value=0)).keys()))]
    elif name == 'llamacpp_parity.py':
        out += [f"measured {d.get('measured_at')} on {d.get('machine', {}).get('cpu', d.get('machine'))}; model {d.get('model')}.", '',
                _table(d.get('parity', []), [k for k in (d.get('parity') or [{}])[0].keys()][:8])]
    return out + ['']

def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiny', action='store_true', help='every script on its tiny setting (CI)')
    p.add_argument('--tiny-for', nargs='*', default=[], help='in a full run, these benches (names without .py) on their tiny setting')
    p.add_argument('--only', nargs='*', help='run only these benches (names without .py); the others are reported from bench/results')
    p.add_argument('--ci-log', type=Path, help='a saved scripts/test.sh log, for ci_times')
    p.add_argument('--out', type=Path, help='results folder (default bench/results; BENCHMARKS.md goes to the repo root only then)')
    p.add_argument('--jobs', type=int, default=1, help='benches at once (only with --tiny: timings of a full run need the machine to themselves)')
    a = p.parse_args(argv)
    missing = sorted(f.name for f in BENCH.glob('*.py') if f.name not in SCRIPTS and f.name != 'run_all.py')
    if missing: sys.exit(f"bench/run_all.py does not know {', '.join(missing)}: add them to SCRIPTS")
    out = a.out or RESULTS; out.mkdir(parents=True, exist_ok=True)
    cuda, runs, why, todo = _cuda(), {}, {}, {}
    t0, l0 = time.time(), os.getloadavg()
    for name in SCRIPTS:
        stem = Path(name).stem
        args, why[name] = plan(name, a.tiny or stem in a.tiny_for, cuda, a.ci_log)
        if a.only is not None and stem not in a.only:
            prev = out/f'{stem}.json'
            if prev.exists(): runs[name] = dict(argv=['(previous run)'], rc=0, seconds='?', loadavg_1min='?', result=str(prev))
            else: why[name] = why[name] or 'not selected with --only'
            continue
        if args is not None: todo[name] = args
    if a.jobs > 1 and not a.tiny: sys.exit('--jobs needs --tiny: full-size timings need the machine to themselves')
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max(1, a.jobs)) as ex:
        for name, r in zip(todo, ex.map(lambda n: run_one(n, todo[n], out), todo)): runs[name] = r
    head = ['# Benchmarks', '', f"Generated by `python bench/run_all.py{' --tiny' if a.tiny else ''}"
            + (f" --tiny-for {' '.join(a.tiny_for)}" if a.tiny_for else '') + f"` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, CUDA {'yes' if cuda else 'no'}, Python {platform.python_version()}; "
            f"load average {l0[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({round(time.time() - t0)} s in all). "
            "Each number is a ratio or a measurement from this one run on a shared machine: compare ratios, not seconds. No test asserts any of them.", '']
    body = [l for name in SCRIPTS for l in section(name, runs.get(name), why[name])]
    dest = (ROOT/'BENCHMARKS.md') if a.out is None else out/'BENCHMARKS.md'
    dest.write_text('\n'.join(head + body))
    print(f"wrote {dest}")
    return 1 if any(r['rc'] for r in runs.values()) else 0

if __name__ == '__main__': sys.exit(main())
