"""The reader run's pieces (tools/reader_run.py, tools/reader_plugin.py, tools/nbval_sanitize.cfg) and the notebook
conventions it relies on: flagged cells are skipped, `# NBVAL_CHECK_OUTPUT` cells are compared with their stored
outputs after sanitizing (a changed printed number fails), and every notebook runs outside the repository (no nbdev
needed for `show_doc`, the export cell does nothing there)."""
import json, sys
from pathlib import Path
import nbformat as nbf
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import build_docs, nbcells, reader_plugin, reader_run  # noqa: E402

def test_plugin_skips_what_nbdev_test_skips():
    for src, why in [('#| cuda\nx', 'cuda'), ('#| slow\nx', 'slow'), ('#| notest\nx', 'notest'),
                     ('#| eval: false\nx', 'eval: false'), ('#| hide\n#| cuda\nx', 'cuda'),
                     ('#| export\nx', None), ('x = 1  #| cuda', None)]:
        assert reader_plugin.flagged(src) == why, src
        assert nbcells.skipped_by_nbdev_test(src) == why, src

def _cell(src, text=None):
    c = nbf.v4.new_code_cell(src)
    if text is not None: c.outputs = [nbf.v4.new_output('stream', name='stdout', text=text)]
    return c

def _write(path, cells):
    nb = nbf.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nb.cells = cells
    nbf.write(nb, path)
    return path

STORED = [  # outputs as a previous run stored them
    ('# NBVAL_CHECK_OUTPUT\nprint(6 * 7)', '42\n'),
    ('# NBVAL_CHECK_OUTPUT\nimport tempfile, time\nprint(tempfile.mkdtemp(), f"{time.time() % 7 + 1:.2f} s", hex(id(object())))',
     '/tmp/tmpq1w2e3r4 3.21 s 0x7f3a2b1c0d10\n'),
    ('#| cuda\nraise RuntimeError("needs a GPU")', None),
    ('import time\nprint("unchecked", time.time())', 'unchecked 1.0\n'),
]

def _run(tmp_path, first_cell):
    cells = [_cell(first_cell, STORED[0][1])] + [_cell(s, o) for s, o in STORED[1:]]
    nb = _write(tmp_path/'99_demo.ipynb', cells)
    return reader_run.run_chapter(nb, None, timeout=120, python=Path(sys.executable))

def test_deterministic_cells_pass_with_sanitized_paths_and_timings(tmp_path):
    r = _run(tmp_path, STORED[0][0])
    assert r['ok'], r
    assert (r['cells'], r['skipped'], r['checked']) == (4, 1, 2)

def test_a_changed_printed_number_fails(tmp_path):
    r = _run(tmp_path, '# NBVAL_CHECK_OUTPUT\nprint(6 * 7 + 1)')   # code changed, stored output still says 42
    assert not r['ok']
    assert [f['cell'] for f in r['failed']] == ['Cell 0']
    err = r['failed'][0]['error']
    assert '42' in err and '43' in err, err

def test_site_hides_nbval_markers():
    assert build_docs._strip_opts('#| hide\n# NBVAL_CHECK_OUTPUT\nlist(TIERS)') == ('list(TIERS)', [])

NBS = [p for p in sorted((ROOT/'nbs').glob('*.ipynb'))   # code-free pages (the glossary) have nothing to run
       if any(c['cell_type'] == 'code' for c in json.loads(p.read_text(encoding='utf-8'))['cells'])]

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_notebook_runs_outside_the_repository(nb, tmp_path):
    "show_doc falls back when nbdev is absent; the export cell only exports next to a pyproject.toml with [tool.nbdev]."
    cells = nbcells.code_cells(nbcells.load(nb))
    for i, src in cells:
        for line in src.splitlines():
            if 'nbdev' in line and 'import' in line and not line.startswith(('try:', 'if ')):
                assert line.strip().startswith('import pathlib'), f'{nb.name} cell {i} imports nbdev unguarded: {line}'
    last = nbcells.body(cells[-1][1])
    calls = []
    fake = type(sys)('nbdev'); fake.nbdev_export = lambda: calls.append('export')
    sys.modules['nbdev'], saved = fake, sys.modules.get('nbdev')
    try:
        import os; cwd = os.getcwd()
        (tmp_path/'alone').mkdir(); os.chdir(tmp_path/'alone')
        exec(last, {})                               # a reader's folder: nothing happens
        assert calls == []
        (tmp_path/'pyproject.toml').write_text('[tool.nbdev]\nlib_path = "x"\n')
        exec(last, {})                               # inside a repository: the library is exported
        assert calls == ['export']
    finally:
        os.chdir(cwd)
        if saved is None: del sys.modules['nbdev']
        else: sys.modules['nbdev'] = saved

@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_reader_run_executes_the_cells_nbdev_test_executes(nb):
    """Same cells as nbdev's own selection (`nb_test_cells` with the project's tst_flags), plus the export cell,
    which nbdev-test leaves out and which the reader run executes (it does nothing outside the repository)."""
    from nbdev.config import get_config
    from nbdev.test import nb_test_cells
    flags = get_config().tst_flags
    flags = flags.split() if isinstance(flags, str) else list(flags)
    theirs = [c.source for c in nb_test_cells(str(nb), flags)]
    ours = [src for _, src in nbcells.code_cells(nbcells.load(nb)) if reader_plugin.flagged(src) is None]
    assert ours[-1].endswith('nbdev.nbdev_export()') and ours[:-1] == theirs
