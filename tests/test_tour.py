"`llmbook tour`: every stage of the book's pipeline runs on the lab and writes a leaderboard row (a short setting), bad input is one line."
import csv, os, subprocess, sys
from pathlib import Path
import pytest

ENV = {**os.environ, 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}

def llmbook(*args, timeout=900):
    exe = Path(sys.executable).with_name('llmbook')
    return subprocess.run([str(exe) if exe.exists() else 'llmbook', *map(str, args)], capture_output=True, text=True, env=ENV, timeout=timeout)

def test_every_stage_writes_a_row(tmp_path):
    "All stages at 3 steps each (a minute on 2 cores): one stdout line per stage, a CSV/Markdown/plot leaderboard with a row per checkpoint."
    from llmbook.tour import STAGES
    from llmbook.lab import TOUR_TASKS
    out = tmp_path/'tour'
    r = llmbook('tour', '--steps', '3', '--n', '4', '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(out/'leaderboard.csv', newline='', encoding='utf-8') as f: rows = list(csv.DictReader(f))
    stages = [row['stage'] for row in rows]
    assert stages[0] == 'base' and set(stages[1:]) == set(STAGES), stages          # every stage left at least one row
    assert [row['checkpoint'] for row in rows if row['stage'] == 'quant'] == ['merge int8', 'merge int4']   # quantizes the merge
    for row in rows:
        for t in (*TOUR_TASKS, 'mc'): assert 0 <= float(row[t]) <= 1, (row, t)
        tr = float(row['traditional']); assert tr != tr or 0 <= tr <= 1, row   # nan: no script-sensitive character answered
        assert float(row['ppl']) > 1
    assert (out/'leaderboard.md').read_text().count('\n') == len(rows) + 2 and (out/'leaderboard.png').stat().st_size > 0
    assert {p.name for p in (out/'models').iterdir()} >= {'sft', 'lora', 'dpo', 'distill', 'merge'}
    lines = r.stdout.splitlines()
    n = len(STAGES) + 2                                                              # base, each stage, the leaderboard
    assert all(l.startswith(f'[{i}/{n}] ') for i, l in enumerate(lines[:n], 1)), lines
    assert lines[n].startswith('| checkpoint |') and lines[-1].startswith('total ')
    assert not any(l.startswith('{') for l in lines)                                 # no raw trainer log dicts
    for noise in ('Warning', 'kernels', 'Loading weights', 'Traceback'): assert noise not in r.stderr, r.stderr[-2000:]

def test_stages_add_what_they_need():
    r = llmbook('tour', '--stages', 'dpo', '--steps', '2', '--n', '3', '--no-progress')
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines()[0] == 'also running sft: dpo needs it'
    assert '| sft |' in r.stdout and '| dpo |' in r.stdout and '| lora |' not in r.stdout

@pytest.mark.parametrize('args', [['--stages', 'nope'], ['--n', '0'], ['--steps', '-1'], ['--batch-size', 'x'], ['--lr', '0']])
def test_bad_input_is_one_line(args):
    r = llmbook('tour', *args, timeout=60)
    assert r.returncode == 2 and r.stdout == ''
    assert r.stderr.startswith('llmbook: error: ') and r.stderr.count('\n') == 1 and 'Traceback' not in r.stderr, r.stderr

def test_help_lists_the_stages():
    r = llmbook('tour', '-h', timeout=60)
    assert r.returncode == 0 and '--stages' in r.stdout and '--out' in r.stdout and '--verbose' in r.stdout
