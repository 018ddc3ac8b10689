"""Every chapter opens in Colab the same way: the setup cell from one template, an Open-in-Colab badge that points at
the notebook's own path, and machine-readable tiers and extras (see tools/setup_cell.py and tools/nbmeta.py)."""
import json, re, sys, tomllib, types
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import setup_cell

CHAPTERS = setup_cell.chapters()
def _nb(p): return json.loads(p.read_text(encoding='utf-8'))
def _src(c): return ''.join(c['source'])

def test_every_notebook_but_the_front_page_is_a_chapter():
    assert {p.name for p in CHAPTERS} >= {'00_hw.ipynb', '00_lab.ipynb', '01_tok.ipynb', '02_data.ipynb', '03_vram.ipynb',
                                          '04_sft.ipynb', '05_lora.ipynb', '06_qlora.ipynb', '90_cli.ipynb'}
    assert 'index.ipynb' not in {p.name for p in CHAPTERS}

@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.stem)
def test_setup_cell_and_badge(path):
    "First code cell = the template rendered with this chapter's extras; the badge right after the title = this file's URL."
    assert setup_cell.problems(path, _nb(path)) == []
    url = re.search(r'\((https://colab\.research\.google\.com/github/[^)]+)\)', _src(_nb(path)['cells'][1])).group(1)
    assert url.endswith('/blob/main/' + path.relative_to(ROOT).as_posix())

@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.stem)
def test_tiers_and_extras(path):
    from llmbook.hw import TIERS
    from llmbook.plans import PLANS
    meta = _nb(path)['metadata'].get('llmbook', {})
    extras = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['optional-dependencies']
    assert meta.get('tiers') and set(meta['tiers']) <= set(TIERS), meta
    assert 'extras' in meta and set(meta['extras']) <= set(extras), meta
    assert set(PLANS.get(path.stem, {})) <= set(meta['tiers'])            # every planned tier is declared
    code = '\n'.join(_src(c) for c in _nb(path)['cells'] if c['cell_type'] == 'code')
    needs_bnb = re.search(r'^\s*(import|from) bitsandbytes', code, re.M) or any(
        p.method == 'qlora' and p.model != 'lab' or '8bit' in p.optimizer for p in PLANS.get(path.stem, {}).values())
    if needs_bnb: assert 'gpu' in meta['extras'], f'{path.name} uses bitsandbytes: declare the `gpu` extra'

@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.stem)
def test_cells_that_need_cuda_say_why(path):
    "A `#| cuda` cell that measures the GPU itself (the rehearsal cannot run it on CPU) starts with `# needs-cuda: <reason>`."
    for c in _nb(path)['cells']:
        s = _src(c)
        if c['cell_type'] != 'code' or not s.startswith('#| cuda'): continue
        body = s.splitlines()[1:]
        if any('max_memory_allocated' in l or 'set_per_process_memory_fraction' in l for l in body) and 'is_available()' not in s:
            assert body[0].startswith('# needs-cuda: '), s[:200]

def _run_cell(monkeypatch, capsys, tmp_path, env=None, colab=False, chapter='06_qlora'):
    "Execute the setup cell with `pip` replaced by a recorder; returns the recorded command lines."
    import subprocess
    calls = []
    monkeypatch.setattr(subprocess, 'run', lambda cmd, check: calls.append(cmd))
    for k, v in (env or {}).items(): monkeypatch.setenv(k, v)
    if not env: monkeypatch.delenv('LLMBOOK_WHEEL', raising=False)
    if colab: monkeypatch.setitem(sys.modules, 'google.colab', types.ModuleType('google.colab'))
    path = ROOT/'nbs'/f'{chapter}.ipynb'
    exec(compile(setup_cell.expected_cell(path, _nb(path)).replace('#|', '#'), 'setup-cell', 'exec'), {})
    return calls, capsys.readouterr().out

def test_setup_cell_installs_nothing_outside_colab(monkeypatch, capsys, tmp_path):
    calls, out = _run_cell(monkeypatch, capsys, tmp_path)
    assert calls == [] and '本章在這裡執行' in out

def test_setup_cell_in_colab_installs_this_version_with_the_extras(monkeypatch, capsys, tmp_path):
    from importlib.metadata import version
    from llmbook import __version__
    calls, out = _run_cell(monkeypatch, capsys, tmp_path, colab=True)
    (cmd,) = calls
    assert cmd[-1] == f'llmbook[gpu] @ git+{setup_cell.repo_url()}@v{__version__}'
    pin = Path(cmd[cmd.index('-c') + 1]).read_text()
    assert pin.strip() == f"torch=={version('torch')}"                  # this runtime's torch stays as it is

def test_setup_cell_takes_a_local_wheel(monkeypatch, capsys, tmp_path):
    whl = tmp_path/'llmbook-0.1.0-py3-none-any.whl'; whl.write_bytes(b'')
    calls, _ = _run_cell(monkeypatch, capsys, tmp_path, env={'LLMBOOK_WHEEL': str(whl)}, chapter='02_data')
    assert calls[0][-1] == f'llmbook @ {whl.resolve().as_uri()}'       # 02_data declares no extras

def test_restart_notice_when_an_imported_package_was_upgraded(capsys):
    from importlib.metadata import version
    from llmbook.setup import chapter
    chapter('00_hw', {'pytest': '0.0.1'})   # as if the install had just upgraded pytest, which this process imported
    line = capsys.readouterr().out.splitlines()[0]
    assert '重新啟動' in line and f'pytest 0.0.1 -> {version("pytest")}' in line

@pytest.mark.parametrize('path', CHAPTERS, ids=lambda p: p.stem)
def test_dev_only_cells_are_inert_outside_the_repo(path):
    "nbdev is a dev extra: a reader's runtime has none, so its imports are guarded and the export runs only in the repo."
    for c in _nb(path)['cells']:
        if c['cell_type'] != 'code': continue
        for line in _src(c).splitlines():
            if re.match(r'\s*(from nbdev|import nbdev)', line): assert line.lstrip().startswith(('try:', 'if ')) or 'try:' in _src(c), line
            if 'nbdev_export()' in line: assert line.startswith('if _cfg.exists()'), f'{path.name}: unguarded export {line!r}'
