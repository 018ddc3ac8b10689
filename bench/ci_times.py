"""The whole CI's time by step, read from CI's own output: the `=== time per step` table scripts/test.sh prints at the end
(each step timed by the script itself with `date +%s`). Reports each step's share of the total.

    python bench/ci_times.py --ci-log LOG [--out bench/results/ci_times.json]
    python bench/ci_times.py --tiny       # parses a built-in sample of the table: checks the parser
"""
import argparse, json, re, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
SAMPLE = """=== time per step (2 jobs, 2 cores)
   40s  setup (.venv)
    3s  library in sync with notebooks
  300s  pytest
  343s  total
all checks passed"""

def parse(text:str)->dict:
    "Steps and seconds of the last `=== time per step` table in a scripts/test.sh log."
    i = text.rfind('=== time per step')
    if i < 0: raise ValueError("no '=== time per step' table in the log (scripts/test.sh prints it at the end)")
    head, *lines = text[i:].splitlines()
    m = re.search(r'\((\d+) jobs, (\d+) cores\)', head)
    steps, total = [], None
    for l in lines:
        mm = re.match(r'\s*(\d+)s  (.+)$', l)
        if not mm: break
        if mm.group(2) == 'total': total = int(mm.group(1)); break
        steps.append(dict(step=mm.group(2), seconds=int(mm.group(1))))
    total = total if total is not None else sum(s['seconds'] for s in steps)
    for s in steps: s['share'] = round(s['seconds']/total, 3) if total else None
    return dict(jobs=int(m.group(1)) if m else None, cores=int(m.group(2)) if m else None, total_s=total, steps=steps,
                passed='all checks passed' in text[i:])

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--ci-log', type=Path, help='a saved log of scripts/test.sh (e.g. bash scripts/test.sh 2>&1 | tee ci.log)')
    p.add_argument('--tiny', action='store_true', help='parse the built-in sample instead of a log')
    p.add_argument('--out', default=str(ROOT/'bench'/'results'/'ci_times.json'))
    a = p.parse_args(argv)
    if not a.tiny and not a.ci_log: p.error('--ci-log LOG is required (or --tiny)')
    res = parse(SAMPLE if a.tiny else a.ci_log.read_text(errors='replace'))
    res['source'] = 'built-in sample' if a.tiny else str(a.ci_log)
    print(json.dumps(res, indent=1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
