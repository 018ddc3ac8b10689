"""Flag measured-looking numbers in notebook prose that no stored output of the same notebook contains.

    python tools/check_numbers.py [NOTEBOOK_OR_DIR ...]   # default: nbs/; exit 1 when anything is flagged
    python tools/check_numbers.py --list nbs/05_lora.ipynb # also print every number and where it was found

A number in a markdown cell is *measured-looking* when it is a decimal (`0.95`), a percentage (`14 %`), a size or
duration with a unit (`81 MB`, `2.88 MiB`, `600 s`, `3 分鐘`), a ratio (`0.94×`), or an integer with thousands
separators (`1,617`). Such a number must appear in some stored output (stream, `text/plain`, `text/markdown`,
`text/html`) of the same notebook: as the same number, or as a more precise number that rounds to it (`0.9466` for
`0.95`). A number with a unit must be printed with the same unit (`81 MB` needs `81 MB` or `80.9 MB`, not any 81); a
percentage must be printed as a percentage or as a fraction that rounds to it (`0.95` for `95 %`).

Exempt by pattern, never by list:
- inline code spans, LaTeX math, link targets and HTML tags (settings and formulas, not results);
- versions (`v1.2`, three-part `2.13.0`, or a number right after a Latin word: `Python 3.10`, `TRL 1.16`);
- dates (`2026-11-30`), arXiv ids (`2106.09685`), numbers glued to letters or hyphens (`Qwen2.5-7B`, `Llama-3.1`);
- published figures: a number on a line (or table row) that carries a link `[…](http…)` next to it, i.e. its source.
"""
from __future__ import annotations
import argparse, json, re, sys
from decimal import Decimal, ROUND_HALF_UP, InvalidOperation
from pathlib import Path

UNITS = r'(?:[KMGT]i?B|bytes?|位元組|ms|s|秒|分鐘|小時|min|GB/s|tok/s|tokens/s)'
NUM = r'\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?'
# a candidate number with what follows it (unit, percent sign, multiplication sign)
CAND = re.compile(rf'(?<![\w.\-/])({NUM})(\s?)(%|％|×|x(?![\w])|{UNITS}(?![A-Za-z]))?')
STRIP = [  # spans removed before looking for numbers: code, math, links' targets, html tags, images
    re.compile(r'```.*?```', re.S), re.compile(r'`[^`\n]*`'), re.compile(r'\$\$.*?\$\$', re.S),
    re.compile(r'(?<!\\)\$[^$\n]+\$'), re.compile(r'!\[[^\]]*\]\([^)]*\)'), re.compile(r'\]\([^)]*\)'),
    re.compile(r'<[^>]+>'), re.compile(r'https?://\S+')]
EXEMPT = [  # patterns whose numbers are not measurements
    re.compile(r'\b\d{4}-\d{2}-\d{2}\b'),                      # dates
    re.compile(r'\b\d{4}\.\d{4,5}(?:v\d+)?\b'),                # arXiv ids
    re.compile(r'\bv\d+(?:\.\d+)+\b'),                         # v1.2.3
    re.compile(r'\b\d+\.\d+\.\d+(?:\.\d+)*\b'),                # three-part versions
    re.compile(r'\b[A-Za-z][A-Za-z_\-]*[ ](\d+\.\d+)(?![\d.]|\s?(?:%|[KMGT]i?B|s\b|×))'),  # `Python 3.10`, `TRL 1.16`
    re.compile(r'(?<![\w.])\d+(?:\.\d+)?[BMK]\b'),                # parameter counts in names: 0.5B, 7B, 135M
]
SOURCE = re.compile(r'\[[^\]]+\]\(https?://[^)]+\)')

def _text(out:dict)->str:
    "All text of one stored output."
    if out.get('output_type') == 'stream': return ''.join(out.get('text', ''))
    d = out.get('data', {})
    parts = [d.get(k, '') for k in ('text/plain', 'text/markdown', 'text/html', 'text/latex')]
    return '\n'.join(''.join(p) if isinstance(p, list) else p for p in parts)

OUT = re.compile(rf'(?<![\d])-?((?:{NUM}|\.\d+)(?:[eE][+-]?\d+)?)(\s?)(%|％|×|x(?![\w])|{UNITS}(?![A-Za-z]))?')

def output_numbers(nb:dict)->set:
    "Every number printed in the notebook's stored outputs, as `(number, unit)` pairs (unit '' when none)."
    nums = set()
    for c in nb['cells']:
        for o in c.get('outputs', []):
            for m in OUT.finditer(_text(o)):
                nums.add((m.group(1).replace(',', ''), _unit(m.group(3) or '')))
                nums.add((m.group(1).replace(',', ''), ''))
    return nums

def _unit(u:str)->str: return {'％': '%', 'x': '×'}.get(u, u)

def _dec(s:str)->Decimal|None:
    try: return Decimal(s.replace(',', ''))
    except InvalidOperation: return None

def _rounds_to(v:Decimal, target:Decimal, places:int)->bool:
    q = Decimal(1).scaleb(-places)
    return v.quantize(q, rounding=ROUND_HALF_UP) == target

def supported(num:str, unit:str, outs:set)->bool:
    "Is the prose number `num` (with `unit`) in the outputs: exactly, rounded, or as a fraction for percentages?"
    s, unit = num.replace(',', ''), _unit(unit)
    if (s, unit) in outs: return True
    t = _dec(s)
    if t is None: return False
    places = len(s.split('.')[1]) if '.' in s else 0
    for o, ou in outs:
        v = _dec(o)
        if v is None: continue
        vp = len(o.split('.')[1]) if '.' in o else 0
        if ou == unit and vp > places and _rounds_to(v, t, places): return True
        if unit == '%' and ou == '' and '.' in o and _rounds_to(v*100, t, places): return True
    return False

def prose_numbers(md:str)->list:
    "Measured-looking numbers of one markdown cell: (number, suffix, line)."
    found = []
    for line in md.split('\n'):
        if SOURCE.search(line): continue                       # a published figure next to its source
        clean = line
        for p in STRIP: clean = p.sub(' ', clean)
        for p in EXEMPT: clean = p.sub(' ', clean)
        for m in CAND.finditer(clean):
            num, suffix = m.group(1), (m.group(3) or '')
            if '.' in num or ',' in num or suffix: found.append((num, suffix, line.strip()))
    return found

def check(path:Path, verbose:bool=False)->list:
    "Findings of one notebook: (path, cell index, number, line)."
    nb = json.loads(path.read_text())
    outs = output_numbers(nb)
    res = []
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] != 'markdown': continue
        for num, suffix, line in prose_numbers(''.join(c['source'])):
            ok = supported(num, suffix, outs)
            if verbose: print(f"{path}:cell {i}: {num}{suffix} {'ok' if ok else 'UNSUPPORTED'}")
            if not ok: res.append((str(path), i, num + suffix, line))
    return res

def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('paths', nargs='*', default=['nbs'])
    p.add_argument('--list', action='store_true', help='print every number found and whether it is supported')
    a = p.parse_args(argv)
    files = []
    for x in map(Path, a.paths): files += sorted(x.glob('*.ipynb')) if x.is_dir() else [x]
    findings = [f for fn in files for f in check(fn, a.list)]
    for path, i, num, line in findings: print(f"{path}:cell {i}: {num} not in any stored output: {line[:140]}")
    print(f"check_numbers: {len(findings)} findings in {len(files)} notebooks")
    return 1 if findings else 0

if __name__ == '__main__': sys.exit(main())
