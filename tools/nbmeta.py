"""Set or show a notebook's machine-readable declaration: the tiers it supports, the extras its setup cell installs,
and what it proves against which reference library (the README's comparison table is generated from the latter).

    python tools/nbmeta.py nbs/06_qlora.ipynb cpu t4 24g 80g --extras gpu   # set tiers and extras
    python tools/nbmeta.py nbs/04_sft.ipynb cpu t4 24g 80g                  # set tiers (extras unchanged)
    python tools/nbmeta.py nbs/05_lora.ipynb --proves '[{"what": "從零寫的 LoRA 層", "against": ["peft"],
                                                         "where": "tests/test_peft_lora.py"}]'
    python tools/nbmeta.py nbs/04_sft.ipynb                                 # show

Tiers must be names of `llmbook.hw.TIERS`; extras must be keys of pyproject's [project.optional-dependencies].
After changing extras, run `python tools/setup_cell.py --write` (the setup cell installs them).

`proves` is a list of claims, each {"what": zh-TW text, "against": [import names from REFS], "where": "chapter" or a
test file, "optin": how to run it when CI does not}. A claim is checked against the repository before it is written
and again whenever the README is built (`claims`): the test file exists and imports every reference library (the
chapter's own CI-run cells do, for "chapter"), and a test module that is skipped by default (`pytestmark` with
`slow`/`skipif`) must say how it is run (`optin`), and only such a module may.
"""
import argparse, json, re, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFS = {  # import name -> (name shown, project page): the libraries a chapter can prove itself against
    'tokenizers': ('Tokenizers', 'https://github.com/huggingface/tokenizers'),
    'transformers': ('Transformers', 'https://github.com/huggingface/transformers'),
    'peft': ('PEFT', 'https://github.com/huggingface/peft'),
    'trl': ('TRL', 'https://github.com/huggingface/trl'),
    'bitsandbytes': ('bitsandbytes', 'https://github.com/bitsandbytes-foundation/bitsandbytes'),
    'mergekit': ('mergekit', 'https://github.com/arcee-ai/mergekit'),
    'gguf': ('gguf（llama.cpp 的 Python 套件）', 'https://github.com/ggml-org/llama.cpp/tree/master/gguf-py'),
    'llama_cpp': ('llama.cpp（llama-cpp-python）', 'https://github.com/abetlen/llama-cpp-python'),
}
_OPT_IN = re.compile(r'^pytestmark\s*=.*?(?:mark\.slow|skipif)', re.M | re.S)

class ClaimError(ValueError): pass

def _imports(src:str, mod:str)->bool:
    "Does `src` import `mod` (import, from-import or pytest.importorskip)?"
    return bool(re.search(rf"^\s*(?:import|from)\s+{mod}\b|importorskip\(\s*['\"]{mod}['\"]", src, re.M))

def check_claim(c, nb_path:Path, root:Path=ROOT)->dict:
    "Raise `ClaimError` unless claim `c` of chapter `nb_path` holds in the repository at `root`; returns it."
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import nbcells
    where = f"{nb_path.name}: proves {c!r}" if not isinstance(c, dict) else f"{nb_path.name}: proves {c.get('what')!r}"
    if not isinstance(c, dict) or not isinstance(c.get('what'), str) or not c.get('against') or not isinstance(c.get('where'), str):
        raise ClaimError(f"{where}: needs `what` (text), `against` (list of {', '.join(REFS)}) and `where` (chapter or a test file)")
    if bad := set(c) - {'what', 'against', 'where', 'optin'}: raise ClaimError(f"{where}: unknown keys {sorted(bad)}")
    if bad := [m for m in c['against'] if m not in REFS]: raise ClaimError(f"{where}: unknown reference {bad}; add it to REFS in tools/nbmeta.py")
    if c['where'] == 'chapter':
        nb = nbcells.load(nb_path)
        src = '\n'.join(s for _, s in nbcells.code_cells(nb) if not nbcells.skipped_by_nbdev_test(s))
        if c.get('optin'): raise ClaimError(f"{where}: the chapter's own cells run in CI; `optin` is for skipped tests")
    else:
        p = root/c['where']
        if not p.is_file(): raise ClaimError(f"{where}: no test file {c['where']}")
        src = p.read_text(encoding='utf-8')
        if bool(_OPT_IN.search(src)) != bool(c.get('optin')):
            raise ClaimError(f"{where}: {c['where']} is " + ("skipped by default: say how it runs (`optin`)" if _OPT_IN.search(src)
                                                             else "run by CI: drop `optin`"))
    if missing := [m for m in c['against'] if not _imports(src, m)]:
        raise ClaimError(f"{where}: {c['where']} does not import {missing}, so it cannot compare against it")
    return c

def claims(nbs:Path=ROOT/'nbs')->list:
    "(chapter file, title, claim) for every claim of every chapter in `nbs`, each checked; raises `ClaimError`."
    out = []
    for p in sorted(Path(nbs).glob('[0-9][0-9]_*.ipynb')):
        nb = json.loads(p.read_text(encoding='utf-8'))
        title = next((l[2:].strip() for c in nb['cells'] if c['cell_type'] == 'markdown'
                      for l in ''.join(c['source']).splitlines() if l.startswith('# ')), p.stem)
        for c in (nb['metadata'].get('llmbook') or {}).get('proves', []): out.append((p.name, title, check_claim(c, p, Path(nbs).resolve().parent)))
    return out

def claims_table(rows:list, site:str='')->str:
    "A markdown table of claims: chapter, what, reference libraries, where it is checked."
    out = ['| 章節 | 從零寫的 | 對照 | 在哪裡檢查 |', '| --- | --- | --- | --- |']
    for name, title, c in rows:
        refs = '、'.join(f"[{REFS[m][0]}]({REFS[m][1]})" for m in c['against'])
        where = '本章的儲存格' if c['where'] == 'chapter' else f"`{c['where']}`"
        if c.get('optin'): where += f"（CI 不跑；手動：`{c['optin']}`）"
        out.append(f"| [{title}]({site}{Path(name).stem}.html) | {c['what']} | {refs} | {where} |")
    return '\n'.join(out)

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('path', type=Path); p.add_argument('tiers', nargs='*')
    p.add_argument('--extras', nargs='*', help='optional-dependency groups the chapter needs (none: `--extras`)')
    p.add_argument('--proves', type=json.loads, help='JSON list of claims (replaces the list; `[]` removes it)')
    a = p.parse_args(argv)
    nb = json.loads(a.path.read_text(encoding='utf-8'))
    m = nb['metadata'].setdefault('llmbook', {})
    if a.tiers:
        from llmbook.hw import TIERS
        if bad := [t for t in a.tiers if t not in TIERS]: p.error(f"unknown tiers {bad}; valid: {', '.join(TIERS)}")
        m['tiers'] = list(a.tiers)
    if a.extras is not None:
        known = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['optional-dependencies']
        if bad := [e for e in a.extras if e not in known]: p.error(f"unknown extras {bad}; pyproject has {', '.join(known)}")
        m['extras'] = list(a.extras)
    if a.proves is not None:
        if not isinstance(a.proves, list): p.error('--proves takes a JSON list')
        try: m['proves'] = [check_claim(c, a.path, a.path.resolve().parents[1]) for c in a.proves]
        except ClaimError as e: p.error(str(e))
        if not m['proves']: del m['proves']
    if a.tiers or a.extras is not None or a.proves is not None:
        a.path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + '\n', encoding='utf-8')
    print(a.path, json.dumps(nb['metadata'].get('llmbook'), ensure_ascii=False))

if __name__ == '__main__': main()
