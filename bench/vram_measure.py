"""Measure peak GPU memory of training/inference configurations and compare with `llmbook.vram.estimate`.

    python bench/vram_measure.py            # all of llmbook.vram.BENCH that fit this GPU + the capped t4 run
    python bench/vram_measure.py --quick    # the three smallest configurations only

Models are built from the shipped configs with random weights directly on the GPU (no downloads); peak is
`torch.cuda.max_memory_allocated` over two training steps (or one prefill for `infer`), compared with the estimate
without the CUDA-context overhead (`Estimate.allocated`). Writes bench/vram_results.json and bench/vram_results.md.
The goal is |error| <= 10 % for every configuration; until this has been run on a GPU that goal is unverified.
"""
import argparse, json, platform, sys
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--quick', action='store_true'); p.add_argument('--out', default=str(Path(__file__).parent))
    p.add_argument('--no-capped', action='store_true', help='skip the run capped to the t4 budget')
    a = p.parse_args(argv)
    import torch
    if not torch.cuda.is_available(): print('vram_measure: needs a CUDA GPU; nothing measured'); return 2
    from llmbook import vram
    cfgs = vram.BENCH[:3] if a.quick else vram.BENCH
    rows = vram.run_bench(cfgs)
    capped = None if a.no_capped else vram.run_capped(vram.plan('03_vram', 't4'), 15)
    ok = [r for r in rows if 'error' not in r]
    report = dict(gpu=torch.cuda.get_device_name(0), torch=torch.__version__, python=platform.python_version(),
                  results=rows, capped_t4=capped, within_10pct=sum(abs(r['error_pct']) <= 10 for r in ok), measured=len(ok))
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out/'vram_results.json').write_text(json.dumps(report, indent=2) + '\n')
    md = [f"# VRAM estimate vs measured peak ({report['gpu']}, torch {report['torch']})", '',
          vram.markdown_table(ok) if ok else '(no configuration measured)', '',
          f"{report['within_10pct']}/{report['measured']} within ±10 %.", '', f"capped t4 run: {capped}"]
    errs = [r for r in rows if 'error' in r]
    if errs: md += ['', 'errors:'] + [f"- {r['config']}: {r['error']}" for r in errs]
    (out/'vram_results.md').write_text('\n'.join(md) + '\n')
    print('\n'.join(md))
    return 0

if __name__ == '__main__': sys.exit(main())
