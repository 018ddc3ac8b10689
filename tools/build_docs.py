"""Build the docs site and README.md offline (no Quarto).

    python tools/build_docs.py                 # site -> docs/
    python tools/build_docs.py --check-readme  # site + fail if README.md is not current (CI)
    python tools/build_docs.py --write-readme  # site + rewrite README.md

Pipeline: nbdev's own notebook processing (`nbdev.serve.proc_nbs` -> `_proc/`: applies `#| hide`, `show_doc`,
front matter) -> a small conversion for mkdocs-jupyter (`_docs/`) -> `mkdocs build` (Material) -> `docs/`.
README.md is the processed `index.ipynb` exported to markdown by nbconvert. The renderer is the thin last step.
"""
from __future__ import annotations
import argparse, json, os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROC, SRC, SITE = ROOT/'_proc', ROOT/'_docs', ROOT/'docs'
TIERS = ('cpu', 't4', '24g', '80g')
COLAB = 'https://colab.research.google.com/github/llmbook/llmbook/blob/main/nbs/'
CHAPTER_GLOB = '[0-9][0-9]_*.ipynb'
# cell-option -> mkdocs-jupyter `remove_tag_config` tag (see mkdocs.yml)
TAGS = {('echo', 'false'): 'remove_input', ('output', 'false'): 'remove_output',
        ('include', 'false'): 'remove_cell'}
_OPT = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_NBVAL = re.compile(r'^\s*#\s*NBVAL_[A-Z_]+\s*$')   # nbval markers (tools/reader_run.py) are for CI, not readers
_QUARTO_ATTR = re.compile(r'\{(?:target|style|\.)[^{}\n]*\}')

class BuildError(Exception): pass

def chapter_tiers(nb_path:Path)->list:
    "The tiers a chapter declares in `metadata.llmbook.tiers`; a BuildError when missing or invalid."
    meta = json.loads(nb_path.read_text(encoding='utf-8'))['metadata']
    tiers = (meta.get('llmbook') or {}).get('tiers')
    fix = f"declare them with: python tools/nbmeta.py nbs/{nb_path.name} cpu t4 24g 80g  (the subset it supports)"
    if not tiers: raise BuildError(f"{nb_path.name}: no tier metadata (metadata.llmbook.tiers); {fix}")
    bad = [t for t in tiers if t not in TIERS]
    if bad: raise BuildError(f"{nb_path.name}: unknown tiers {bad}; valid: {', '.join(TIERS)}; {fix}")
    return list(tiers)

def check_chapters(nbs:Path)->dict:
    "Map every chapter notebook name to its declared tiers, failing on the first one without them."
    return {p.name: chapter_tiers(p) for p in sorted(nbs.glob(CHAPTER_GLOB))}

def process(quiet=True)->Path:
    "Run nbdev's notebook processing into `_proc/` (the library call; the CLI would try to install Quarto)."
    import warnings, contextlib, io
    from nbdev.serve import proc_nbs
    buf = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(buf if quiet else sys.stderr):
        warnings.simplefilter('ignore')
        cache = proc_nbs()
    refresh_index()
    return cache

def refresh_index():
    "Re-execute the processed index notebook (cwd nbs/) so its generated chapter table lists today's chapters."
    import nbformat
    from nbclient import NotebookClient
    p = PROC/'index.ipynb'
    nb = nbformat.read(p, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name='python3', resources={'metadata': {'path': str(ROOT/'nbs')}}).execute()
    nbformat.write(nb, p)

def _front_matter(src:str)->dict:
    import yaml
    m = re.match(r'^---\s*\n(.*?)\n---\s*$', src.strip(), re.S)
    return (yaml.safe_load(m.group(1)) or {}) if m else {}

def _badges(name:str, tiers:list)->str:
    tier_html = ' '.join(f'<span class="llmbook-tier llmbook-tier-{t}">{t}</span>' for t in tiers)
    return (f'<p class="llmbook-badges"><span class="llmbook-tiers" title="支援的硬體等級（tier）">等級：{tier_html}</span> '
            f'<a class="llmbook-colab" href="{COLAB}{name}">Open in Colab</a></p>')

def _strip_opts(src:str):
    "Drop `#|` lines and nbval markers; return (source, tags) with tags for the cell options mkdocs-jupyter can honour."
    keep, tags = [], []
    for line in src.splitlines():
        m = _OPT.match(line)
        if m:
            tag = TAGS.get((m.group(1), m.group(2).lower()))
            if tag: tags.append(tag)
        elif not line.lstrip().startswith('#|') and not _NBVAL.match(line): keep.append(line)
    return '\n'.join(keep).strip('\n'), tags

def convert(nb_path:Path, dest:Path, links:dict, doc_url:str, tiers:list|None, absolute:bool=False):
    "Turn one `_proc` notebook into what mkdocs-jupyter (and nbconvert) render cleanly."
    import nbformat
    nb = nbformat.read(nb_path, as_version=4)
    nb.metadata.pop('has_sd', None); nb.metadata.pop('widgets', None)
    def fix_links(s:str)->str:
        s = _QUARTO_ATTR.sub('', s)
        base = doc_url if absolute else ''  # site pages link relatively; README.md links to the site
        return re.sub(re.escape(doc_url) + r'([\w.-]+)\.html', lambda m: base + links.get(m.group(1), m.group(1)) + '.html', s)
    cells = []
    for c in nb.cells:
        c.metadata.pop('execution', None); c.pop('has_sd', None)
        if c.cell_type == 'raw' and c.source.lstrip().startswith('---'):
            fm = _front_matter(c.source)
            md = f"# {fm.get('title', nb_path.stem)}"
            if fm.get('description'): md += f"\n\n> {fm['description']}"
            if tiers is not None: md += '\n\n' + _badges(nb_path.name, tiers)
            cells.append(nbformat.v4.new_markdown_cell(md)); continue
        if c.cell_type == 'markdown':
            if c.source.strip().startswith('<!-- WARNING: THIS FILE WAS AUTOGENERATED'): continue
            c.source = fix_links(c.source)
        elif c.cell_type == 'code':
            c.source, tags = _strip_opts(c.source)
            if tags: c.metadata['tags'] = sorted(set(c.metadata.get('tags', [])) | set(tags))
            if not c.source and not c.get('outputs'): continue
            for o in c.get('outputs', []):
                for k, v in (o.get('data') or {}).items():
                    if k in ('text/markdown', 'text/html'): o['data'][k] = fix_links(v if isinstance(v, str) else ''.join(v))
        cells.append(c)
    nb.cells = cells
    nbformat.validate(nb)
    nbformat.write(nb, dest)

def _doc_url()->str:
    from nbdev.config import get_config
    cfg = get_config()
    return cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/') + '/'

def stage(chapters:dict)->list:
    "Convert every processed notebook into `_docs/`; returns the staged notebook names."
    doc_url, procs, links = _doc_url(), sorted(PROC.glob('*.ipynb')), page_links()
    if SRC.exists(): shutil.rmtree(SRC)
    SRC.mkdir()
    (SRC/'assets').mkdir()
    shutil.copy(ROOT/'tools'/'docs_extra.css', SRC/'assets'/'extra.css')
    for p in procs: convert(p, SRC/p.name, links, doc_url, chapters.get(p.name))
    return [p.name for p in procs]

def page_links()->dict:
    "nbdev links to `{doc_host}{baseurl}<output-file>`: map those names to our page names (notebook stems)."
    links = {}
    for p in sorted(PROC.glob('*.ipynb')):
        links[p.stem] = p.stem
        src = json.loads(p.read_text(encoding='utf-8'))['cells']
        if src and src[0]['cell_type'] == 'raw':
            out = _front_matter(''.join(src[0]['source'])).get('output-file', '')
            if out: links[Path(out).stem] = p.stem
    return links

def render():
    "The renderer step: MkDocs Material + mkdocs-jupyter, `_docs/` -> `docs/`."
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--clean', '--strict', '-q', '-f', str(ROOT/'mkdocs.yml')],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, 'NO_MKDOCS_2_WARNING': '1'})
    noise = ('Building prefix dict', 'Dumping model', 'Loading model', 'Prefix dict', 'Material for MkDocs', 'MkDocs 2.0', 'squidfunk', '│', '─', '╭', '╰')
    msg = '\n'.join(l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not any(n in l for n in noise))
    if r.returncode: raise BuildError(f"mkdocs build failed:\n{msg}")
    if msg: print(msg)

def readme_text()->str:
    "README.md content: the staged index notebook as markdown, hidden inputs/outputs removed."
    import nbformat
    from nbconvert import MarkdownExporter
    from traitlets.config import Config
    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    c.TagRemovePreprocessor.remove_all_outputs_tags = {'remove_output'}
    c.TagRemovePreprocessor.remove_cell_tags = {'remove_cell'}
    c.MarkdownExporter.exclude_input_prompt = True
    readme_nb = PROC/'_readme.ipynb.tmp'
    try:
        convert(PROC/'index.ipynb', readme_nb, page_links(), _doc_url(), None, absolute=True)
        nb = nbformat.read(readme_nb, as_version=4)
    finally: readme_nb.unlink(missing_ok=True)
    body, _ = MarkdownExporter(config=c).from_notebook_node(nb)
    body = re.sub(r'\n{3,}', '\n\n', body).strip() + '\n'
    return '<!-- Generated from nbs/index.ipynb by tools/build_docs.py; do not edit. -->\n\n' + body

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group()
    g.add_argument('--check-readme', action='store_true', help='fail if README.md differs from the generated one')
    g.add_argument('--write-readme', action='store_true', help='write README.md from nbs/index.ipynb')
    ap.add_argument('--verbose', action='store_true', help="show nbdev's processing warnings")
    a = ap.parse_args(argv)
    t0 = time.time()
    try:
        chapters = check_chapters(ROOT/'nbs')
        process(quiet=not a.verbose); t1 = time.time()
        pages = stage(chapters)
        render(); t2 = time.time()
    except BuildError as e:
        print(f"build_docs: ERROR: {e}", file=sys.stderr); return 1
    print(f"build_docs: {len(pages)} pages ({len(chapters)} chapters) -> {SITE.relative_to(ROOT)}/ "
          f"(process {t1-t0:.1f}s, render {t2-t1:.1f}s)")
    readme, want = ROOT/'README.md', readme_text()
    if a.write_readme:
        readme.write_text(want, encoding='utf-8'); print("build_docs: wrote README.md")
    elif a.check_readme:
        have = readme.read_text(encoding='utf-8') if readme.exists() else ''
        if have != want:
            import difflib
            sys.stdout.writelines(list(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                                            'README.md (committed)', 'README.md (generated)'))[:60])
            print("build_docs: ERROR: README.md is not current: run `python tools/build_docs.py --write-readme` "
                  "and commit README.md", file=sys.stderr)
            return 1
        print("build_docs: README.md is current")
    return 0

if __name__ == '__main__': sys.exit(main())
