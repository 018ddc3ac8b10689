"""bench/ stays runnable: every script is known to bench/run_all.py and has a tiny setting (CI runs `run_all.py --tiny`
in scripts/test.sh). No timing is asserted anywhere: BENCHMARKS.md reports ratios from one run."""
import importlib.util, re, sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]/'bench'

def _run_all():
    spec = importlib.util.spec_from_file_location('run_all', BENCH/'run_all.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); return m

def test_every_script_is_listed_in_run_all():
    scripts = {p.name for p in BENCH.glob('*.py')} - {'run_all.py'}
    assert scripts and scripts == set(_run_all().SCRIPTS), scripts ^ set(_run_all().SCRIPTS)

def test_every_script_has_a_tiny_setting():
    no_tiny = [p.name for p in BENCH.glob('*.py') if p.name != 'run_all.py' and not re.search(r"add_argument\('--tiny'", p.read_text())]
    assert not no_tiny, no_tiny

def test_ci_times_reads_the_table_test_sh_prints():
    sys.path.insert(0, str(BENCH))
    from ci_times import parse
    log = "noise\n=== time per step (2 jobs, 2 cores)\n   10s  setup (.venv)\n   30s  pytest\n   40s  total\nall checks passed\n"
    d = parse(log)
    assert (d['jobs'], d['cores'], d['total_s'], d['passed']) == (2, 2, 40, True)
    assert [(s['step'], s['seconds'], s['share']) for s in d['steps']] == [('setup (.venv)', 10, 0.25), ('pytest', 30, 0.75)]
    src = (BENCH.parent/'scripts'/'test.sh').read_text()   # the format parse() expects is the one test.sh prints
    assert "=== time per step (${JOBS} jobs, $(nproc) cores)" in src and "printf '%5ss  %s'" in src
