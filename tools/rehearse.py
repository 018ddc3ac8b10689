"""Rehearse the chapters' `#| cuda` cells on CPU against the stand-in Hub (`bash scripts/rehearse.sh [NOTEBOOK ...]`).

A GPU cell cannot run in CI, so CI runs the same cell source on CPU in rehearsal mode: `LLMBOOK_REHEARSE=<tier>`
makes `llmbook.hw.tier()` report that tier (the cells' tier guards take the GPU path) and the recipes train on CPU
with CPU-safe precision for `llmbook.hw.REHEARSAL_STEPS` steps; `HF_HUB_OFFLINE=1` with the stand-in caches of
`tools/standins.py` makes every Hub id resolve to a tiny model of the same architecture with the real tokenizer and
chat template, and every dataset id to a small zh-TW sample with the real columns. What fails here fails for a reader
too: renamed arguments, unknown ids, masks that grade nothing, missing pad tokens, adapters that do not load.

Which tiers: `t4` for every chapter, executing the whole notebook with `#| cuda` cells enabled (cells nbdev-test
skips otherwise, `#| slow`, `#| notest`, `#| eval: false`, stay skipped), so the lab cells are shown to keep working
in rehearsal mode next to the GPU cells. `24g` and `80g` only where the chapter's plan for that tier
(`llmbook.plans.plan(chapter, tier)`) differs from t4's in model, method or quantization; when `llmbook.plans` is absent, t4 only.
`--tiers` overrides this. A chapter without `#| cuda` cells is rehearsed at t4 with the partial selection below (its
setup cell runs at t4; its lessons already ran in the reader run).

Rule for the partial runs (non-t4 tiers; checked before running, a violation fails the cell with a message): they
execute only the setup cell (the first code cell), the preamble (code cells before the first `## ` heading),
exported cells (`#| export`/`exporti`/`exports`), definition cells (only imports, `def`/`class` and literal
constants) and the `#| cuda` cells. **A GPU cell may depend only on names those cells define** (plus names bound by
earlier GPU cells).

Cells that need CUDA itself carry `#| cuda` and a first comment line `# needs-cuda: <reason>`: they are skipped and
listed with the reason. Each run executes in a fresh kernel in an empty temporary folder (`CUDA_VISIBLE_DEVICES=`
hides any GPU), stops at its first failing cell, and leaves the executed notebook in `.cache/rehearsal/` to read.
The output ends with exactly one line `rehearsed: N cells in M chapters, S skipped, F failed` (N: `#| cuda` cells
executed, counting each tier; S: needs-cuda cells skipped; F: failed cells, rule violations included); the exit
status is 1 when F > 0.
"""
from __future__ import annotations
import argparse, json, os, re, shutil, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import nbcells  # noqa: E402

OUT = ROOT/'.cache'/'rehearsal'
GPU_TIERS = ('t4', '24g', '80g')
_ANSI = re.compile(r'\x1b\[[0-9;]*[A-Za-z]')

@dataclass
class Run:
    "One chapter rehearsed at one tier."
    chapter:str; tier:str
    cuda_run:int = 0                              # `#| cuda` cells executed
    cells_run:int = 0                             # all cells executed
    skipped:list = field(default_factory=list)    # (cell, reason) of needs-cuda cells
    failures:list = field(default_factory=list)   # (cell, what, message)
    not_reached:list = field(default_factory=list)# cuda cells after a failure
    seconds:float = 0.0
    slowest:list = field(default_factory=list)    # (seconds, cell) of the slowest cells
    notebook:str = ''                             # the executed copy

def chapters(paths:list|None=None)->list:
    "The notebooks to rehearse: the given ones, or every chapter `nbs/NN_*.ipynb`."
    if paths: return [Path(p).resolve() for p in paths]
    return sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))

def _plan_key(plans, chapter:str, tier:str):
    p = plans.plan(chapter, tier)
    get = (lambda k: p.get(k)) if isinstance(p, dict) else (lambda k: getattr(p, k, None))
    return (get('model'), get('method'), get('quant'))   # quant: an `infer` plan that loads 16-bit where t4 loads 8-bit

def tiers_for(path:Path, nb:dict)->tuple:
    "(tiers to rehearse, why): t4, plus 24g/80g where the chapter's plan differs from t4's in model, method or quantization."
    declared = (nb.get('metadata', {}).get('llmbook') or {}).get('tiers') or list(GPU_TIERS)
    try: from llmbook import plans
    except ImportError: return ['t4'], 'llmbook.plans absent: t4 only'
    if not hasattr(plans, 'plan'): return ['t4'], 'llmbook.plans has no plan(): t4 only'
    try: base = _plan_key(plans, path.stem, 't4')
    except KeyError: return ['t4'], f'no t4 plan for {path.stem}: t4 only'
    out = ['t4']
    for t in ('24g', '80g'):
        if t not in declared: continue
        try: k = _plan_key(plans, path.stem, t)
        except KeyError: continue
        if k != base: out.append(t)
    return out, 'plans differ from t4 (model/method/quant)' if len(out) > 1 else 'plans equal t4 on 24g/80g'

def _first_section(nb:dict)->int:
    "Index of the first markdown cell with a `## ` heading (end of the preamble)."
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] == 'markdown' and any(l.startswith('## ') for l in ''.join(c['source']).splitlines()): return i
    return len(nb['cells'])

def select(nb:dict, tier:str)->tuple:
    "(cells to run, needs-cuda skips, rule violations) for one tier."
    cells = nbcells.code_cells(nb)
    run, skipped = [], []
    full = tier == 't4' and any('cuda' in nbcells.directives(src) for _, src in cells)
    setup = cells[0][0] if cells else None
    preamble_end = _first_section(nb)
    for i, src in cells:
        d = nbcells.directives(src)
        if nbcells.eval_false(d) or 'slow' in d or 'notest' in d: continue
        if 'cuda' in d:
            why = nbcells.needs_cuda(src)
            if why: skipped.append((i, why)); continue
            run.append((i, 'cuda')); continue
        if full or i == setup or i < preamble_end or d.keys() & {'export', 'exporti', 'exports', 'default_exp'} \
                or nbcells.is_definition_cell(src):
            run.append((i, 'cell'))
    violations = [] if full else check_rule(nb, [i for i, _ in run])
    return run, skipped, violations

def check_rule(nb:dict, ran:list)->list:
    "GPU cells of a partial (non-t4) run that read names only skipped cells define: [(cell, names, defined_in)]."
    srcs = dict(nbcells.code_cells(nb))
    ran_set, out = set(ran), []
    for i, src in srcs.items():
        if i not in ran_set or 'cuda' not in nbcells.directives(src): continue
        avail = set().union(*[nbcells.bound_names(srcs[j]) for j in srcs if j < i and j in ran_set] or [set()])
        bad = {}
        for name in sorted(nbcells.free_names(src) - avail):
            where = [j for j in srcs if j < i and j not in ran_set and name in nbcells.bound_names(srcs[j])]
            if where: bad[name] = where
        if bad: out.append((i, sorted(bad), sorted({j for w in bad.values() for j in w})))
    return out

def _error_text(e)->str:
    "The traceback of a failed cell: the frame in the cell itself (last one, after chained errors) and the error."
    txt = _ANSI.sub('', str(e)).strip()
    if '------------------' in txt: txt = txt.rsplit('------------------', 1)[-1]   # drop the echoed cell source
    lines = txt.strip().splitlines()
    if len(lines) <= 28: return '\n'.join(lines)
    starts = [k for k, l in enumerate(lines) if l.startswith('Cell In[')]
    head = []
    if starts:
        k = starts[-1]
        head = lines[k:next((j for j in range(k + 1, len(lines)) if not lines[j].strip()), k + 8)][:8]
    return '\n'.join(head + ['   (...)'] + lines[-16:])

def run_one(path:str, tier:str, env:dict, cell_timeout:int, cuda_timeout:int)->Run:
    "Execute one chapter at one tier in a fresh kernel and an empty folder."
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError, CellTimeoutError
    path = Path(path)
    r = Run(path.stem, tier)
    nb = nbformat.read(path, as_version=4)
    order, r.skipped, violations = select(nbcells.load(path), tier)
    for i, names, where in violations:
        r.failures.append((i, 'rule', f"#| cuda cell {i} uses {', '.join(names)}, defined only in cell(s) "
                           f"{', '.join(map(str, where))}, which a {tier} rehearsal does not run. GPU cells may depend "
                           "only on the setup cell, the preamble, exported and definition cells (tools/rehearse.py)."))
    if violations: return r
    OUT.mkdir(parents=True, exist_ok=True)
    klog = None
    work = Path(tempfile.mkdtemp(prefix=f'rehearse-{path.stem}-{tier}-'))
    shutil.copy(path, work/path.name)
    kenv = {k: v for k, v in os.environ.items() if not k.startswith(('HF_', 'LLMBOOK_', 'TRANSFORMERS_'))} | env | dict(
        LLMBOOK_REHEARSE=tier, CUDA_VISIBLE_DEVICES='', MPLBACKEND='Agg', TOKENIZERS_PARALLELISM='false', PYTHONHASHSEED='0')
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name='python3', resources={'metadata': {'path': str(work)}})
    t0, times = time.time(), []
    try:
        klog = open(OUT/f'{path.stem}-{tier}.kernel.log', 'w')   # the kernel process's own stderr (not cell output)
        with client.setup_kernel(env=kenv, cwd=str(work), stderr=klog):
            for n, (i, kind) in enumerate(order):
                client.timeout = cuda_timeout if kind == 'cuda' else cell_timeout
                tc = time.time()
                try:
                    client.execute_cell(nb.cells[i], i)
                except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
                    msg = _error_text(e)
                    if isinstance(e, CellTimeoutError) and kind == 'cuda':
                        msg += ("\nA rehearsal trains `llmbook.hw.REHEARSAL_STEPS` steps on tiny stand-ins, so a GPU cell should "
                                "take seconds: does its recipe cap the steps when `llmbook.hw.rehearsal()` is set?")
                    r.failures.append((i, kind, msg))
                    r.not_reached = [j for j, k in order[n + 1:] if k == 'cuda']
                    break
                finally:
                    r.cells_run += 1; r.cuda_run += kind == 'cuda'; times.append((round(time.time() - tc, 1), i))
    finally:
        r.seconds = round(time.time() - t0, 1)
        r.slowest = sorted(times, reverse=True)[:3]
        r.notebook = str(OUT/f'{path.stem}-{tier}.ipynb')
        if klog: klog.close()
        nbformat.write(nb, r.notebook)
        shutil.rmtree(work, ignore_errors=True)
    return r

def _first_line(nb:dict, i:int)->str:
    src = nbcells.body(''.join(nb['cells'][i]['source'])).strip().splitlines()
    return (src[0] if src else '')[:90]

def report(path:Path, r:Run)->str:
    "Human-readable lines for one run: status, time, skipped cells, failures with the cell and its error."
    nb = nbcells.load(path)
    status = 'FAILED' if r.failures else 'ok'
    slow = ', '.join(f'cell {i} {s:.0f} s' for s, i in r.slowest if s >= 1)
    lines = [f"{r.chapter:<10} {r.tier:<4} {status:<6} {r.cells_run:3d} cells ({r.cuda_run} cuda) {r.seconds:7.1f} s"
             + (f"  (slowest: {slow})" if slow else '')]
    for i, why in r.skipped: lines.append(f"    skipped cell {i} (needs CUDA): {why}")
    for i, kind, msg in r.failures:
        lines.append(f"    FAILED {r.chapter} [{r.tier}] cell {i} ({'#| cuda' if kind == 'cuda' else kind}): {_first_line(nb, i)}")
        lines += ['      ' + l for l in msg.splitlines()]
        if r.notebook: lines.append(f"      executed notebook: {os.path.relpath(r.notebook, ROOT)}")
    if r.not_reached: lines.append(f"    not reached after the failure: #| cuda cell(s) {', '.join(map(str, r.not_reached))}")
    return '\n'.join(lines)

def main(argv:list|None=None)->int:
    ap = argparse.ArgumentParser(prog='rehearse', description=__doc__.split('\n\n')[0])
    ap.add_argument('notebooks', nargs='*', help='chapter notebooks (default: every nbs/NN_*.ipynb)')
    ap.add_argument('--tiers', default='auto', help="comma-separated tiers, or 'auto' (t4 + tiers whose plan differs)")
    ap.add_argument('--jobs', type=int, default=1, help='runs in parallel (each in its own kernel)')
    ap.add_argument('--cell-timeout', type=int, default=900, help='seconds per ordinary cell')
    ap.add_argument('--cuda-timeout', type=int, default=300, help='seconds per #| cuda cell (tiny models, capped steps)')
    a = ap.parse_args(argv)
    import standins
    t0 = time.time()
    root = standins.build(quiet=True)
    env = standins.env(root)
    print(f"stand-in Hub: {os.path.relpath(root, ROOT)} ({len(standins.MODELS)} models, {len(standins.DATASETS)} datasets, "
          f"{time.time() - t0:.1f} s)")
    jobs = []
    for p in chapters(a.notebooks):
        nb = nbcells.load(p)
        if a.tiers == 'auto': tiers, why = tiers_for(p, nb)
        else: tiers, why = [t.strip() for t in a.tiers.split(',') if t.strip()], '--tiers'
        bad = [t for t in tiers if t not in GPU_TIERS]
        if bad: ap.error(f"not a GPU tier: {', '.join(bad)}; choose from {', '.join(GPU_TIERS)}")
        if not any('cuda' in nbcells.directives(src) for _, src in nbcells.code_cells(nb)):
            why += '; no #| cuda cells: setup and definition cells only'
        print(f"{p.stem}: {', '.join(tiers)} ({why})")
        jobs += [(p, t) for t in tiers]
    runs = []
    with ProcessPoolExecutor(max_workers=max(1, a.jobs)) as ex:
        futs = [(p, ex.submit(run_one, str(p), t, env, a.cell_timeout, a.cuda_timeout)) for p, t in jobs]
        for p, f in futs:
            r = f.result(); runs.append(r)
            print(report(p, r), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT/'summary.json').write_text(json.dumps([asdict(r) for r in runs], ensure_ascii=False, indent=1))
    n = sum(r.cuda_run for r in runs); m = len({r.chapter for r in runs})
    s = sum(len(r.skipped) for r in runs); f = sum(len(r.failures) for r in runs)
    print(f"rehearsed: {n} cells in {m} chapters, {s} skipped, {f} failed")
    return 1 if f else 0

if __name__ == '__main__': sys.exit(main())
