"""Each chapter's CPU runtime against its ~2-minute budget: `nbdev-test` of one notebook at a time (the cells CI runs,
`#| slow` and `#| cuda` skipped), wall time as a fraction of 120 s. Timings depend on the machine and its load: the load
average is recorded beside them.

    python bench/chapter_times.py [--tiny] [--notebooks nbs/04_sft.ipynb ...] [--out bench/results/chapter_times.json]
    python bench/chapter_times.py --ci-log LOG   # read the reader run's per-chapter times from a scripts/test.sh log instead
"""
import argparse, json, os, re, subprocess, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 120

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiny', action='store_true', help='one light notebook (91_plans): checks the script')
    p.add_argument('--notebooks', nargs='*', type=Path, help='default: every numbered chapter')
    p.add_argument('--out', default=str(ROOT/'bench'/'results'/'chapter_times.json'))
    p.add_argument('--ci-log', type=Path, help="a scripts/test.sh log: the reader run's time per chapter (CI's own timing)")
    a = p.parse_args(argv)
    if a.ci_log and not a.tiny:
        text = a.ci_log.read_text(errors='replace')
        jobs = re.search(r'=== time per step \((\d+) jobs', text)
        rows = [dict(notebook=m[1], seconds=float(m[3]), fraction_of_budget=round(float(m[3])/BUDGET_S, 2), passed=m[2] == 'pass')
                for m in re.finditer(r'^(\d\d_\w+)\s+(pass|FAIL)\s+([\d.]+) s', text, re.M)]
        if not rows: p.error(f"no reader-run lines (`NN_name  pass  12.3 s`) in {a.ci_log}")
        res = dict(setup=dict(budget_s=BUDGET_S, runner=f"reader run in CI ({jobs[1] if jobs else '?'} notebooks at once), read from {a.ci_log}"),
                   over_budget=[r['notebook'] for r in rows if r['fraction_of_budget'] > 1], rows=rows, total_s=round(sum(r['seconds'] for r in rows), 1))
        Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
        print(json.dumps(res, indent=1)); return 0
    nbs = a.notebooks or ([ROOT/'nbs'/'91_plans.ipynb'] if a.tiny else sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')))
    exe = Path(sys.executable).parent/'nbdev-test'
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false', 'MPLBACKEND': 'Agg'}
    rows = []
    for nb in nbs:
        l0, t0 = os.getloadavg()[0], time.perf_counter()
        r = subprocess.run([str(exe) if exe.exists() else 'nbdev-test', str(nb)], cwd=ROOT, env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        rows.append(dict(notebook=Path(nb).name, seconds=round(dt, 1), fraction_of_budget=round(dt/BUDGET_S, 2), passed=r.returncode == 0,
                         loadavg_1min=round((l0 + os.getloadavg()[0])/2, 2)))
        print(json.dumps(rows[-1]), flush=True)
    res = dict(setup=dict(tiny=a.tiny, budget_s=BUDGET_S, cpu_count=os.cpu_count(), runner='nbdev-test, one notebook at a time'),
               over_budget=[r['notebook'] for r in rows if r['fraction_of_budget'] > 1], rows=rows,
               total_s=round(sum(r['seconds'] for r in rows), 1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    return 0 if all(r['passed'] for r in rows) else 1

if __name__ == '__main__': sys.exit(main())
