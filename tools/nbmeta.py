"""Set or show a notebook's machine-readable tier declaration.

    python tools/nbmeta.py nbs/04_sft.ipynb cpu t4 24g 80g   # set
    python tools/nbmeta.py nbs/04_sft.ipynb                  # show
"""
import json, sys
from pathlib import Path

def main(path, *tiers):
    p = Path(path); nb = json.loads(p.read_text(encoding='utf-8'))
    if tiers:
        nb['metadata'].setdefault('llmbook', {})['tiers'] = list(tiers)
        p.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + '\n', encoding='utf-8')
    print(path, nb['metadata'].get('llmbook'))

if __name__ == '__main__': main(*sys.argv[1:])
