"""pytest plugin for the reader run (copied as `conftest.py` beside the notebook's folder by `tools/reader_run.py`).

With `pytest --nbval-lax` every code cell of a notebook runs in one kernel, top to bottom; this plugin skips the cells
`nbdev-test` skips (`#| notest`, `#| slow`, `#| cuda`, `#| eval: false`) through nbval's own skip option and writes
one JSON record per cell (outcome, seconds, error) to `$LLMBOOK_READER_REPORT`. `nbdev-clean` stores notebooks
without execution counts, which nbval reads as "never run" and refuses ("Unrun reference cell has outputs"): the
plugin numbers the collected cells in memory, so the stored outputs are the reference (the file is not changed). Self-contained on purpose: the
reader's venv holds the wheel and the test harness only, so this file imports nothing from the repository.
"""
import json, os, re

_DIR = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_FLAGS = ('notest', 'slow', 'cuda')
_records = []

def flagged(src):
    "Why nbdev-test skips this cell (`cuda`, `slow`, `notest`, `eval: false`), or None."
    for line in src.splitlines():
        if not line.strip(): continue
        m = _DIR.match(line)
        if not m: return None
        name, arg = m.group(1).lower(), m.group(2).strip().lower()
        if name == 'eval' and arg == 'false': return 'eval: false'
        if name in _FLAGS: return name

def pytest_collection_modifyitems(config, items):
    for item in items:
        cell, opts = getattr(item, 'cell', None), getattr(item, 'options', None)
        if cell is None or opts is None: continue
        if cell.get('execution_count') is None: cell['execution_count'] = getattr(item, 'cell_num', 0) + 1
        why = flagged(cell.source)
        if why: opts['skip'] = True; item.user_properties.append(('flag', why))

def pytest_runtest_logreport(report):
    if report.when != 'call' and not (report.when == 'setup' and report.outcome != 'passed'): return
    err = ''
    if report.failed:
        err = re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', str(report.longrepr))[-4000:]
    _records.append(dict(cell=report.nodeid.rsplit('::', 1)[-1], outcome=report.outcome,
                         seconds=round(report.duration, 2), flag=dict(report.user_properties).get('flag'), error=err))

def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get('LLMBOOK_READER_REPORT')
    if path:
        with open(path, 'w', encoding='utf-8') as f: json.dump(_records, f, ensure_ascii=False, indent=1)
