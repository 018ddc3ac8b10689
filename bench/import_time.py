"""How light is `import llmbook`? Compares its import time with `import torch` and `import transformers`,
each in a fresh interpreter, and reports ratios measured in this one run (no absolute targets).

    python bench/import_time.py [--repeat 5]
"""
import argparse, json, statistics, subprocess, sys

def _time(stmt, repeat):
    code = f"import time,sys; t=time.perf_counter(); {stmt}; print(time.perf_counter()-t, 'torch' in sys.modules)"
    runs = [subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout.split()
            for _ in range(repeat)]
    return statistics.median(float(r[0]) for r in runs), runs[0][1] == 'True'

def main():
    p = argparse.ArgumentParser(); p.add_argument('--repeat', type=int, default=5); a = p.parse_args()
    res = {name: _time(stmt, a.repeat) for name, stmt in [
        ('llmbook', 'import llmbook, llmbook.hw, llmbook.cli'),
        ('torch', 'import torch'), ('transformers', 'import transformers; transformers.LlamaForCausalLM')]}
    out = {k: {'seconds': round(t, 4), 'torch_loaded': tl} for k, (t, tl) in res.items()}
    out['ratio_torch_over_llmbook'] = round(res['torch'][0] / res['llmbook'][0], 1)
    out['ratio_transformers_over_llmbook'] = round(res['transformers'][0] / res['llmbook'][0], 1)
    print(json.dumps(out, indent=2))
    if res['llmbook'][1]: sys.exit('import llmbook loaded torch')

if __name__ == '__main__': main()
