"tools/terms_lint.py: the glossary's discouraged variants are flagged, its allowed first-use form is not."
import importlib.util, json, shutil
from pathlib import Path

ROOT = Path(__file__).parents[1]
_spec = importlib.util.spec_from_file_location('terms_lint', ROOT/'tools'/'terms_lint.py')
tl = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(tl)

def _dir(tmp_path, md):
    shutil.copy(ROOT/'nbs'/tl.GLOSSARY, tmp_path/tl.GLOSSARY)
    nb = dict(cells=[dict(cell_type='markdown', metadata={}, source=md)], metadata={}, nbformat=4, nbformat_minor=5)
    (tmp_path/'01_x.ipynb').write_text(json.dumps(nb, ensure_ascii=False)); return tmp_path

def test_rules_read_from_glossary():
    r = {(p, v) for p, v, _ in tl.rules(ROOT/'nbs')}
    assert ('詞元', 'token') in r and ('保留集', '留存') in r and ('對話範本', '模板') in r

def test_flags_variants(tmp_path):
    found = tl.check(_dir(tmp_path, '這個模板把每個 token 的留存準確率算出來'))
    assert {v for _, _, v, _, _ in found} == {'模板', 'token', '留存'}

def test_allows_first_use_code_and_compounds(tmp_path):
    md = '詞元（token）與分詞器（tokenizer）；`tokens`；`模板` 在程式碼裡不算；保留集（held-out）'
    assert tl.check(_dir(tmp_path, md)) == []
