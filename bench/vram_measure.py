"""Measure peak GPU memory of the plan registry's GPU plans (and a few other configurations) against `llmbook.vram.estimate`.

    python bench/vram_measure.py            # every registry plan this GPU can hold, each capped to its tier's budget, + BENCH
    python bench/vram_measure.py --quick    # the t4 plans only
    python bench/vram_measure.py --no-extra # registry plans only

Models are built from the shipped configs with random weights directly on the GPU, one module at a time (no downloads);
peak is `torch.cuda.max_memory_allocated` over two training steps (or one prefill for `infer`), compared with the estimate
without the CUDA-context overhead (`Estimate.allocated`). Each plan runs with this process capped to its tier's budget
(`torch.cuda.set_per_process_memory_fraction`), so a 15 GB T4 is emulated on a larger GPU -- with that GPU's kernels, not
a T4's. Every row stores its full configuration (`llmbook.vram_bench.CONFIG_KEYS`) and the GPU's name, so the estimate can
be recomputed later. Writes bench/vram_results.json and bench/vram_results.md. Needs only torch, transformers, peft,
bitsandbytes and llmbook (no TRL, no datasets).
"""
import argparse, json, platform, sys
from pathlib import Path

COLS = ['chapter', 'tier', 'model', 'method', 'batch', 'seq_len', 'dtype', 'optimizer', 'grad_ckpt', 'budget_gb',
        'measured_gb', 'estimate_gb', 'error_pct', 'ok']

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true', help='t4 plans only'); p.add_argument('--no-extra', action='store_true')
    p.add_argument('--out', default=str(Path(__file__).parent))
    p.add_argument('--budget-s', type=float, default=1e9, help='measure nothing new after this many seconds')
    p.add_argument('--tiny', action='store_true', help='the t4 plans only, within 60 s (needs a GPU like every run)')
    a = p.parse_args(argv)
    if a.tiny: a.quick, a.budget_s = True, min(a.budget_s, 60)
    import time, torch
    if not torch.cuda.is_available(): print('vram_measure: needs a CUDA GPU; nothing measured'); return 2
    from llmbook import vram
    from llmbook.vram_bench import run_plans, run_bench, BENCH
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    t0, rows = time.time(), []
    def keep(new):  # rows are appended as they are measured: a run cut short keeps what it has
        rows.extend(new)
        with open(out/'vram_results.jsonl', 'a') as f:
            for r in new: f.write(json.dumps(r) + '\n'); print(json.dumps(r), flush=True)
    for tier in (('t4',) if a.quick else ('t4', '24g', '80g')):
        if time.time() - t0 < a.budget_s: keep(run_plans((tier,)))
    if not (a.quick or a.no_extra):
        for cfg in BENCH:
            if time.time() - t0 < a.budget_s: keep(run_bench([cfg]))
    ok = [r for r in rows if 'error' not in r]
    report = dict(gpu=torch.cuda.get_device_name(0), torch=torch.__version__, python=platform.python_version(), results=rows,
                  within_10pct=sum(abs(r['error_pct']) <= 10 for r in ok), measured=len(ok),
                  plans_fit=all(r.get('ok', True) for r in ok if 'chapter' in r))
    (out/'vram_results.json').write_text(json.dumps(report, indent=2) + '\n')
    md = [f"# VRAM estimate vs measured peak ({report['gpu']}, torch {report['torch']})", '',
          vram.markdown_table([{c: r.get(c, '') for c in COLS} for r in ok], COLS) if ok else '(no configuration measured)', '',
          f"{report['within_10pct']}/{report['measured']} within ±10 %; every plan within its tier's budget: {report['plans_fit']}."]
    errs = [r for r in rows if 'error' in r]
    if errs: md += ['', 'not measured / failed:'] + [f"- {r.get('chapter', '')} {r.get('tier', '')} {r['model']} {r.get('method', '')}: {r['error']}" for r in errs]
    (out/'vram_results.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
    return 0

if __name__ == '__main__': sys.exit(main())
