"""The reader run: every chapter executed the way a reader runs it (`bash scripts/reader_run.sh [NOTEBOOK ...]`).

1. Build the wheel (`pip wheel --no-deps`), as a reader would install it.
2. `.venv-reader` holds only that wheel, with the union of the extras the chapters declare in their metadata
   (`nb.metadata['llmbook']['extras']`, default none), CPU torch installed first (as in `scripts/setup.sh`), and the
   harness: pytest, nbval, ipykernel (the kernel and runner are the harness's, not the reader's). No nbdev, no
   editable install: the run checks both before it starts.
3. Each chapter is copied alone into an empty temporary folder and run top to bottom in a fresh kernel with
   `pytest --nbval-lax` on CPU, with `LLMBOOK_WHEEL` pointing at the wheel (the setup cell installs from it instead
   of the repository). The cells `nbdev-test` skips are skipped (`#| slow`, `#| cuda`, `#| notest`,
   `#| eval: false`; `tools/reader_plugin.py`); the run stops at a chapter's first failing cell.

Stored outputs stay current (nbval): `--nbval-lax` executes every cell but compares outputs only for cells marked
with a line `# NBVAL_CHECK_OUTPUT` — cells whose output is deterministic on any CPU (counts, estimates,
tokenizations, tables, plans). `tools/nbval_sanitize.cfg` masks temporary paths, addresses, durations and dates on
both sides. A code change that changes such a printed number fails the run until the notebook is re-saved
(`nbdev-test nbs/NN_x.ipynb --do_print` is not enough: re-execute and store outputs, then `nbdev-clean`). Mark only
cells whose output does not depend on the machine (no timings, free memory, CPU features) or on sampling; the site
build hides the marker line.

Prints one line per chapter (pass/fail, seconds, the failing cell with its error) and exits 1 if any chapter fails.
"""
from __future__ import annotations
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import nbcells  # noqa: E402

VENV = ROOT/'.venv-reader'
WORK = ROOT/'.cache'/'reader'
HARNESS = ['pytest', 'nbval', 'ipykernel']
PY = VENV/'bin'/'python'

def sh(*cmd, **kw):
    "Run a command; on failure raise with its output."
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if r.returncode: raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{(r.stdout + r.stderr)[-3000:]}")
    return r.stdout

def chapters(paths:list|None=None)->list:
    if paths: return [Path(p).resolve() for p in paths]
    has_code = lambda p: any(c['cell_type'] == 'code' for c in json.loads(p.read_text(encoding='utf-8'))['cells'])
    return [p for p in sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')) if has_code(p)]  # code-free pages (glossary) have nothing to run

def declared_extras(paths:list)->list:
    "Union of the extras the chapters declare; each must exist in pyproject's optional dependencies."
    import tomllib
    known = set(tomllib.loads((ROOT/'pyproject.toml').read_text())['project'].get('optional-dependencies', {}))
    out = set()
    for p in paths:
        ex = (nbcells.load(p).get('metadata', {}).get('llmbook') or {}).get('extras') or []
        bad = set(ex) - known
        if bad: raise SystemExit(f"{p.name}: declares unknown extras {sorted(bad)}; pyproject.toml has {sorted(known)}")
        out |= set(ex)
    return sorted(out)

def build_wheel()->Path:
    "Build the llmbook wheel into `.cache/reader/dist` (fresh each run)."
    dist = WORK/'dist'
    shutil.rmtree(dist, ignore_errors=True); dist.mkdir(parents=True)
    sh(sys.executable, '-m', 'pip', 'wheel', '--no-deps', '-q', '-w', dist, ROOT)
    whl = sorted(dist.glob('llmbook-*.whl'))
    if len(whl) != 1: raise RuntimeError(f"expected one llmbook wheel in {dist}, found {whl}")
    return whl[0]

def make_venv(wheel:Path, extras:list):
    "`.venv-reader` with CPU torch, the wheel (+ extras) and the harness; reinstalls the wheel every run."
    env = os.environ | {'PIP_DISABLE_PIP_VERSION_CHECK': '1', 'PIP_PROGRESS_BAR': 'off'}
    if not PY.exists(): sh(sys.executable, '-m', 'venv', VENV)
    pip = [PY, '-m', 'pip', 'install', '-q']
    if subprocess.run([PY, '-c', 'import torch'], capture_output=True).returncode:
        idx = os.environ.get('TORCH_INDEX_URL')
        sh(*pip, 'torch==2.13.0', *(['--index-url', idx] if idx else []), env=env)
    cons = ['-c', ROOT/'constraints.txt'] if (ROOT/'constraints.txt').exists() else []
    spec = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    sh(*pip, *cons, spec, *HARNESS, env=env)
    sh(*pip, '--no-deps', '--force-reinstall', wheel, env=env)   # same version, new build: replace it
    check = ("import importlib.util as u, llmbook, sys, pathlib\n"
             "assert u.find_spec('nbdev') is None, 'nbdev is installed in the reader venv'\n"
             "p = pathlib.Path(llmbook.__file__).resolve()\n"
             "assert 'site-packages' in p.parts, f'llmbook is not installed from the wheel: {p}'\n"
             "print(llmbook.__version__)")
    return sh(PY, '-c', check, env=env, cwd=tempfile.gettempdir()).strip()   # not the repo: `llmbook/` there would shadow

def run_chapter(nb:Path, wheel:Path|None, timeout:int=600, python:Path=PY)->dict:
    "Run one notebook alone in an empty folder with pytest --nbval-lax (in `python`'s environment); returns its summary."
    tmp = Path(tempfile.mkdtemp(prefix=f'reader-{nb.stem}-'))
    try:
        (tmp/'nb').mkdir()
        shutil.copy(ROOT/'tools'/'reader_plugin.py', tmp/'conftest.py')   # beside the folder, not in it
        shutil.copy(nb, tmp/'nb'/nb.name)
        report = tmp/'report.json'
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(('LLMBOOK_', 'HF_', 'VIRTUAL_ENV', 'PYTHONPATH', 'JUPYTER'))}
        env.update(LLMBOOK_READER_REPORT=str(report), HF_HUB_OFFLINE='1',
                   HF_HOME=str(tmp/'hf'), MPLBACKEND='Agg', TOKENIZERS_PARALLELISM='false', PYTHONHASHSEED='0',
                   PATH=f"{Path(python).parent}:{os.environ.get('PATH', '')}", CUDA_VISIBLE_DEVICES='')
        if wheel: env['LLMBOOK_WHEEL'] = str(wheel)
        cmd = [python, '-m', 'pytest', '-x', '-q', '-p', 'no:cacheprovider', '--nbval-lax', '--nbval-current-env',
               f'--nbval-cell-timeout={timeout}', '--nbval-sanitize-with', ROOT/'tools'/'nbval_sanitize.cfg',
               '--rootdir', tmp, tmp/'nb'/nb.name]
        t0 = time.time()
        r = subprocess.run([str(c) for c in cmd], cwd=tmp, env=env, capture_output=True, text=True)
        secs = time.time() - t0
        recs = json.loads(report.read_text()) if report.exists() else []
        failed = [x for x in recs if x['outcome'] == 'failed']
        out = dict(chapter=nb.stem, ok=r.returncode == 0, seconds=round(secs, 1), cells=len(recs),
                   skipped=sum(x['outcome'] == 'skipped' for x in recs), failed=failed,
                   checked=_checked(nb), rc=r.returncode)
        if r.returncode and not failed: out['log'] = (r.stdout + r.stderr)[-3000:]
        out['output'] = r.stdout[-6000:]
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

def _checked(nb:Path)->int:
    "How many cells carry `# NBVAL_CHECK_OUTPUT`."
    return sum('# NBVAL_CHECK_OUTPUT' in src for _, src in nbcells.code_cells(nbcells.load(nb)))

def _cell_index(nb:Path, nbval_name:str)->str:
    "nbval counts code cells ('Cell 3'); show the notebook's cell index too."
    try: k = int(nbval_name.split()[-1])
    except ValueError: return nbval_name
    code = nbcells.code_cells(nbcells.load(nb))
    if k >= len(code): return nbval_name
    i, src = code[k]
    first = (nbcells.body(src).strip().splitlines() or [''])[0][:80]
    return f"cell {i} (code cell {k}): {first}"

def _print(nb:Path, r:dict):
    "One line per chapter; for a failure, the cell (notebook index and first line) and the end of its error."
    print(f"{r['chapter']:<10} {'pass' if r['ok'] else 'FAIL':<5} {r['seconds']:7.1f} s  "
          f"({r['cells']} cells, {r['skipped']} skipped, {r['checked']} outputs checked)")
    for f in r['failed']:
        print(f"    FAILED {r['chapter']} {_cell_index(nb, f['cell'])}")
        print('\n'.join('      ' + l for l in f['error'].strip().splitlines()[-25:]))
    if r.get('log'): print('\n'.join('      ' + l for l in r['log'].strip().splitlines()[-25:]))
    sys.stdout.flush()

def main(argv:list|None=None)->int:
    ap = argparse.ArgumentParser(prog='reader_run', description=__doc__.split('\n\n')[0])
    ap.add_argument('notebooks', nargs='*', help='chapter notebooks (default: every nbs/NN_*.ipynb)')
    ap.add_argument('--cell-timeout', type=int, default=600)
    ap.add_argument('--jobs', type=int, default=1, help='chapters run in parallel (each in its own kernel)')
    a = ap.parse_args(argv)
    nbs = chapters(a.notebooks)
    t0 = time.time()
    extras = declared_extras(nbs)
    try:
        wheel = build_wheel()
        t1 = time.time()
        version = make_venv(wheel, extras)
    except RuntimeError as e:
        print(f"reader_run: error: {e}", file=sys.stderr); return 1
    t2 = time.time()
    print(f"reader run: {len(nbs)} chapters; wheel {wheel.name} ({t1 - t0:.0f} s); .venv-reader: llmbook {version} "
          f"[{','.join(extras) or 'no extras'}] + {', '.join(HARNESS)}, no nbdev ({t2 - t1:.0f} s)", flush=True)
    from concurrent.futures import ThreadPoolExecutor
    results = []
    with ThreadPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = [(nb, ex.submit(run_chapter, nb, wheel, a.cell_timeout)) for nb in nbs]
        for nb, fut in futs:
            r = fut.result(); results.append(r)
            _print(nb, r)
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK/'summary.json').write_text(json.dumps(results, ensure_ascii=False, indent=1))
    bad = [r['chapter'] for r in results if not r['ok']]
    print(f"reader run: {len(results) - len(bad)} passed, {len(bad)} failed{': ' + ', '.join(bad) if bad else ''} "
          f"({time.time() - t0:.0f} s)")
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main())
