"""One term per concept: flag the discouraged variants listed in the glossary notebook (nbs/93_terms.ipynb).

    python tools/terms_lint.py [nbs]     # exit 1 when a chapter's prose uses a variant the glossary rules out

The glossary's table has the columns 英文 | 用語 | 不用 | 說明. Each variant in 不用 (separated by 、) is flagged in the
markdown cells of every other notebook, outside code spans, math, links and HTML. A variant annotated
「（第一次出現的括號內除外）」 is allowed inside the parentheses that follow the preferred term, e.g. 詞元（token）.
English variants match as whole words, plural included (`token`, `tokens`; not `tokenizer`).
"""
from __future__ import annotations
import json, re, sys
from pathlib import Path

GLOSSARY = '93_terms.ipynb'
STRIP = [re.compile(r'```.*?```', re.S), re.compile(r'`[^`\n]*`'), re.compile(r'\$\$.*?\$\$', re.S),
         re.compile(r'(?<!\\)\$[^$\n]+\$'), re.compile(r'\]\([^)]*\)'), re.compile(r'<[^>]+>'), re.compile(r'https?://\S+')]

def rules(nbs:Path)->list:
    "(preferred, variant, allowed_in_parens) for every variant in the glossary table."
    nb = json.loads((nbs/GLOSSARY).read_text(encoding='utf-8'))
    md = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    out = []
    for line in md.splitlines():
        cols = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cols) != 4 or cols[0] in ('英文', '---'): continue
        preferred = re.sub(r'（.*?）', '', cols[1]).strip()
        for v in filter(None, (x.strip() for x in cols[2].split('、'))):
            parens = '括號內除外' in v
            out.append((preferred, re.sub(r'（.*?）', '', v).strip(), parens))
    return out

def _pattern(variant:str):
    if re.fullmatch(r'[A-Za-z][\w\- ]*', variant): return re.compile(rf'(?<![\w-]){re.escape(variant)}s?(?![\w-])')
    return re.compile(re.escape(variant))

def check(nbs:Path)->list:
    "Findings: (notebook, cell, variant, preferred, line)."
    found = []
    rs = [(p, v, par, _pattern(v)) for p, v, par in rules(nbs)]
    for f in sorted(nbs.glob('*.ipynb')):
        if f.name == GLOSSARY: continue
        for i, c in enumerate(json.loads(f.read_text(encoding='utf-8'))['cells']):
            if c['cell_type'] != 'markdown': continue
            for line in ''.join(c['source']).splitlines():
                clean = line
                for s in STRIP: clean = s.sub(' ', clean)
                for pref, var, par, pat in rs:
                    text = re.sub(rf'{re.escape(pref)}（[^）]*）', pref, clean) if par else clean
                    if pat.search(text): found.append((f.name, i, var, pref, line.strip()))
    return found

def main(argv=None)->int:
    argv = sys.argv[1:] if argv is None else argv
    nbs = Path(argv[0]) if argv else Path('nbs')
    found = check(nbs)
    for name, i, var, pref, line in found: print(f"{nbs/name}:cell {i}: 「{var}」→「{pref}」: {line[:120]}")
    print(f"terms_lint: {len(found)} findings")
    return 1 if found else 0

if __name__ == '__main__': sys.exit(main())
