"""How light is `import llmbook`? Compares its import time with `import torch` and `import transformers`,
each in a fresh interpreter, and reports ratios measured in this one run (no absolute targets).

    python bench/import_time.py [--repeat 5] [--tiny] [--out bench/results/import_time.json]
"""
import argparse, json, os, statistics, subprocess, sys
from pathlib import Path

def _time(stmt, repeat):
    code = f"import time,sys; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t, 'torch' in sys.modules)"
    runs = [subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(repeat)]
    return statistics.median(float(r[0]) for r in runs), runs[0][1] == 'True'

def main():
    p = argparse.ArgumentParser(); p.add_argument('--repeat', type=int, default=5)
    p.add_argument('--tiny', action='store_true', help='one run each (checks the script)')
    p.add_argument('--out', default=str(Path(__file__).resolve().parent/'results'/'import_time.json')); a = p.parse_args()
    if a.tiny: a.repeat = 1
    res = {name: _time(stmt, a.repeat) for name, stmt in [
        ('llmbook', 'import llmbook, llmbook.hw, llmbook.cli'),
        ('torch', 'import torch'), ('transformers', 'import transformers; transformers.LlamaForCausalLM')]}
    out = {k: {'seconds': round(t, 4), 'torch_loaded': tl} for k, (t, tl) in res.items()}
    out['ratio_torch_over_llmbook'] = round(res['torch'][0] / res['llmbook'][0], 1)
    out['ratio_transformers_over_llmbook'] = round(res['transformers'][0] / res['llmbook'][0], 1)
    out['non_stdlib_packages_import_llmbook_loads'] = subprocess.run([sys.executable, '-c', 'import sys; b=set(sys.modules); import llmbook, llmbook.hw, llmbook.cli; '
        'print(sorted({m.split(".")[0] for m in set(sys.modules)-b} - set(sys.stdlib_module_names) - {"_distutils_hack"}))'], capture_output=True, text=True, check=True).stdout.strip()
    out['setup'] = dict(repeat=a.repeat, loadavg_1min=round(os.getloadavg()[0], 2))
    print(json.dumps(out, indent=2))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(out, indent=2) + '\n')
    if res['llmbook'][1]: sys.exit('import llmbook loaded torch')

if __name__ == '__main__': main()
