"""Write or check the Colab setup cell and the Open-in-Colab badge of every chapter notebook.

Every notebook in nbs/ except index.ipynb (the front page) and pages without code (the glossary) is a chapter: its first code cell is the setup cell rendered
from `llmbook.setup.CELL` with the chapter's name, the extras in its metadata and the library version, and a markdown
cell right after the title holds the badge whose URL is the notebook's path in the repository.

    python tools/setup_cell.py --check    # list what differs, exit 1 if anything does
    python tools/setup_cell.py --write    # rewrite the setup cells and badges (outputs of a rewritten cell are cleared)
"""
import argparse, hashlib, json, sys, tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'
MARK = '#| hide\n# Colab setup, generated from llmbook.setup.CELL'
BADGE_IMG = 'https://colab.research.google.com/assets/colab-badge.svg'

def _has_code(p:Path)->bool: return any(c['cell_type'] == 'code' for c in json.loads(p.read_text(encoding='utf-8'))['cells'])

def chapters()->list:
    "Every chapter notebook: nbs/*.ipynb without the front page and without code-free pages."
    return sorted(p for p in NBS.glob('*.ipynb') if p.name != 'index.ipynb' and _has_code(p))

def repo_url()->str: return tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['urls']['Repository'].rstrip('/')

def badge_url(path:Path)->str:
    "Colab URL of a notebook of this repository (main branch)."
    owner_name = repo_url().removeprefix('https://github.com/')
    return f"https://colab.research.google.com/github/{owner_name}/blob/main/{path.resolve().relative_to(ROOT).as_posix()}"

def badge(path:Path)->str: return f"[![Open In Colab]({BADGE_IMG})]({badge_url(path)})"

def meta(nb:dict)->dict: return nb['metadata'].get('llmbook', {})

def expected_cell(path:Path, nb:dict)->str:
    from llmbook import __version__
    from llmbook.setup import render
    return render(path.stem, meta(nb).get('extras', []), __version__, repo_url())

def src(c:dict)->str: return ''.join(c['source'])
def first_code(nb:dict)->int: return next(i for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code')

def problems(path:Path, nb:dict)->list:
    "What differs from the template in this notebook."
    out, cells = [], nb['cells']
    if src(cells[first_code(nb)]) != expected_cell(path, nb): out.append('first code cell is not the setup cell')
    badges = [i for i, c in enumerate(cells) if c['cell_type'] == 'markdown' and BADGE_IMG in src(c)]
    if badges != [1] or src(cells[1]).strip() != badge(path): out.append(f'badge cell (after the title) missing or wrong: want {badge(path)}')
    return out

def _cell(kind:str, text:str, key:str)->dict:
    c = dict(cell_type=kind, id=hashlib.sha1(key.encode()).hexdigest()[:8], metadata={}, source=text.splitlines(keepends=True))
    if kind == 'code': c.update(execution_count=None, outputs=[])
    return c

def fix(path:Path, nb:dict):
    "Put the template's setup cell first among the code cells and the badge right after the title."
    cells = nb['cells']
    for c in cells:  # drop badges elsewhere (e.g. inside an intro paragraph)
        if c['cell_type'] == 'markdown' and BADGE_IMG in src(c) and src(c).strip() != badge(path):
            c['source'] = [l for l in c['source'] if BADGE_IMG not in l]
    cells[:] = [c for c in cells if not (c['cell_type'] == 'markdown' and (not src(c).strip() or src(c).strip() == badge(path)))]
    cells.insert(1, _cell('markdown', badge(path), f'{path.stem}-badge'))
    want, i = expected_cell(path, nb), first_code(nb)
    if src(cells[i]).startswith(MARK):
        if src(cells[i]) != want: cells[i] = _cell('code', want, f'{path.stem}-setup')
    else: cells.insert(i, _cell('code', want, f'{path.stem}-setup'))

def main(argv=None)->int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument('--check', action='store_true'); g.add_argument('--write', action='store_true')
    p.add_argument('notebooks', nargs='*', type=Path, help='default: every chapter')
    a = p.parse_args(argv)
    bad = 0
    for path in a.notebooks or chapters():
        nb = json.loads(path.read_text(encoding='utf-8'))
        if not (errs := problems(path, nb)): continue
        if a.write:
            fix(path, nb)
            path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + '\n', encoding='utf-8')
            print(f'{path}: rewritten ({"; ".join(errs)})')
        else: bad += 1; print(f'{path}: {"; ".join(errs)}')
    return 1 if bad else 0

if __name__ == '__main__': sys.exit(main())
