"Project-level checks: light import, CLI, tier metadata on every notebook, nbdev 3 config."
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

def _run(*args, env=None, **kw):
    e = {**os.environ, 'HF_HUB_OFFLINE': '1', **(env or {})}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=e, cwd=ROOT, **kw)

def test_import_is_light():
    r = _run('-c', "import sys, llmbook, llmbook.hw, llmbook.cli; "
                   "print(sorted(m for m in ('torch','transformers','trl','peft','datasets') if m in sys.modules))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '[]'

def test_env_json_offline():
    r = _run('-c', 'from llmbook.cli import main; main(["env","--json"])')
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d['tier'] in ('cpu', 't4', '24g', '80g') and d['dtype'] in ('float32', 'float16', 'bfloat16')
    assert d['ram_total_gb'] > 0 and d['cpu_count'] >= 1

def test_tier_override_and_bad_value():
    r = _run('-c', 'from llmbook.hw import tier, pick_dtype; print(tier(), pick_dtype())', env={'LLMBOOK_TIER': 't4'})
    assert r.stdout.split() == ['t4', 'float16']
    r = _run('-c', 'from llmbook.hw import tier; tier()', env={'LLMBOOK_TIER': 'colab'})
    assert r.returncode != 0 and 'valid tiers: cpu, t4, 24g, 80g' in r.stderr

def test_cli_unknown_command():
    r = _run('-c', 'import sys; from llmbook.cli import main; sys.exit(main(["frobnicate"]))')
    assert r.returncode == 2 and r.stderr.startswith("llmbook: error: argument COMMAND: invalid choice: 'frobnicate'")
    assert r.stderr.count('\n') == 1   # one line (tests/test_cli.py runs the whole catalogue of bad inputs)

def _notebooks(): return sorted((ROOT/'nbs').glob('[0-9][0-9]_*.ipynb'))

@pytest.mark.parametrize('nb', _notebooks(), ids=lambda p: p.name)
def test_notebook_declares_tiers(nb):
    from llmbook.hw import TIERS
    meta = json.loads(nb.read_text(encoding='utf-8'))['metadata'].get('llmbook', {})
    tiers = meta.get('tiers')
    assert tiers, f"{nb.name}: no tier metadata; run `python tools/nbmeta.py {nb} cpu t4 ...`"
    assert set(tiers) <= set(TIERS), f"{nb.name}: unknown tiers {set(tiers)-set(TIERS)}"
    assert 'cpu' in tiers, f"{nb.name}: every chapter must run on the cpu tier in CI"

def test_nbdev3_config():
    assert not (ROOT/'settings.ini').exists(), 'nbdev >= 3 refuses settings.ini; config lives in pyproject.toml'
    import tomllib
    cfg = tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['nbdev']
    assert cfg['tst_flags'] == ['notest', 'slow', 'cuda']
