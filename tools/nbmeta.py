"""Set or show a notebook's machine-readable declaration: the tiers it supports and the extras its setup cell installs.

    python tools/nbmeta.py nbs/06_qlora.ipynb cpu t4 24g 80g --extras gpu   # set tiers and extras
    python tools/nbmeta.py nbs/04_sft.ipynb cpu t4 24g 80g                  # set tiers (extras unchanged)
    python tools/nbmeta.py nbs/04_sft.ipynb                                 # show

Tiers must be names of `llmbook.hw.TIERS`; extras must be keys of pyproject's [project.optional-dependencies].
After changing extras, run `python tools/setup_cell.py --write` (the setup cell installs them).
"""
import argparse, json, tomllib
from pathlib import Path

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('path', type=Path); p.add_argument('tiers', nargs='*')
    p.add_argument('--extras', nargs='*', help='optional-dependency groups the chapter needs (none: `--extras`)')
    a = p.parse_args(argv)
    nb = json.loads(a.path.read_text(encoding='utf-8'))
    m = nb['metadata'].setdefault('llmbook', {})
    if a.tiers:
        from llmbook.hw import TIERS
        if bad := [t for t in a.tiers if t not in TIERS]: p.error(f"unknown tiers {bad}; valid: {', '.join(TIERS)}")
        m['tiers'] = list(a.tiers)
    if a.extras is not None:
        known = tomllib.loads((Path(__file__).resolve().parents[1]/'pyproject.toml').read_text())['project']['optional-dependencies']
        if bad := [e for e in a.extras if e not in known]: p.error(f"unknown extras {bad}; pyproject has {', '.join(known)}")
        m['extras'] = list(a.extras)
    if a.tiers or a.extras is not None:
        a.path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + '\n', encoding='utf-8')
    print(a.path, nb['metadata'].get('llmbook'))

if __name__ == '__main__': main()
