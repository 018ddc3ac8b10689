"""The README's comparison table is generated from what exists: each chapter's `proves` metadata (tools/nbmeta.py),
checked against the repository. A claim whose test file is missing, does not import the reference library, or is
skipped by default without saying so, is refused."""
import json, re, shutil, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import nbmeta  # noqa: E402

def _repo(tmp_path, claims, test_src=None, chapter_code='x = 1'):
    "A minimal repository: nbs/05_x.ipynb declaring `claims`, and tests/test_x.py holding `test_src`."
    (tmp_path/'nbs').mkdir(); (tmp_path/'tests').mkdir()
    nb = dict(cells=[dict(cell_type='markdown', metadata={}, source='# 第 5 章：X'),
                     dict(cell_type='code', metadata={}, source=chapter_code, outputs=[], execution_count=None)],
              metadata={'llmbook': {'tiers': ['cpu'], 'proves': claims}}, nbformat=4, nbformat_minor=5)
    (tmp_path/'nbs'/'05_x.ipynb').write_text(json.dumps(nb, ensure_ascii=False))
    if test_src is not None: (tmp_path/'tests'/'test_x.py').write_text(test_src)
    return tmp_path/'nbs'

CLAIM = dict(what='LoRA 層', against=['peft'], where='tests/test_x.py')

def test_a_true_claim_is_listed(tmp_path):
    rows = nbmeta.claims(_repo(tmp_path, [CLAIM], 'from peft import LoraConfig\n'))
    assert [(n, c['what']) for n, _, c in rows] == [('05_x.ipynb', 'LoRA 層')]
    table = nbmeta.claims_table(rows, 'https://site/')
    assert '[第 5 章：X](https://site/05_x.html)' in table and '[PEFT](' in table and '`tests/test_x.py`' in table

@pytest.mark.parametrize('claim,test_src,chapter_code,why', [
    (CLAIM, None, 'x = 1', 'no test file'),
    (CLAIM, 'import torch  # never touches peft\n', 'x = 1', "does not import ['peft']"),
    ({**CLAIM, 'against': ['vllm']}, 'import vllm\n', 'x = 1', "unknown reference ['vllm']"),
    ({**CLAIM, 'where': 'chapter'}, None, '#| slow\nimport peft', "does not import ['peft']"),   # only CI-run cells count
    (CLAIM, 'import pytest, peft\npytestmark = [pytest.mark.slow]\n', 'x = 1', 'say how it runs'),
    ({**CLAIM, 'optin': 'LLMBOOK_SLOW=1 pytest'}, 'import peft\n', 'x = 1', 'run by CI: drop `optin`'),
    ({'what': 'LoRA'}, None, 'x = 1', 'needs `what`'),
])
def test_a_false_claim_is_refused(tmp_path, claim, test_src, chapter_code, why):
    with pytest.raises(nbmeta.ClaimError, match=re.escape(why)):
        nbmeta.claims(_repo(tmp_path, [claim], test_src, chapter_code))

def test_chapter_claims_hold_and_readme_shows_them():
    "Every claim the chapters make holds today, and README.md (generated) lists exactly them."
    rows = nbmeta.claims(ROOT/'nbs')
    assert rows, 'no chapter declares what it proves: the README table would be empty'
    readme = (ROOT/'README.md').read_text(encoding='utf-8')
    assert nbmeta.claims_table(rows, 'https://llmbook.github.io/llmbook/') in readme, 'run python tools/build_docs.py --write-readme'
    table_rows = [l for l in readme.split('## 對照函式庫', 1)[1].split('\n## ', 1)[0].splitlines() if l.startswith('| [')]
    assert len(table_rows) == len(rows)

def test_nbmeta_cli_refuses_a_false_claim(tmp_path, capsys):
    nbs = _repo(tmp_path, [], 'import torch\n')
    shutil.copy(ROOT/'pyproject.toml', tmp_path)
    with pytest.raises(SystemExit):
        nbmeta.main([str(nbs/'05_x.ipynb'), '--proves', json.dumps([CLAIM])])
    assert "does not import ['peft']" in capsys.readouterr().err
    assert json.loads((nbs/'05_x.ipynb').read_text())['metadata']['llmbook']['proves'] == []   # nothing written
