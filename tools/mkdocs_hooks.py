"""MkDocs hooks: Unicode-aware heading anchors, so Chinese headings get non-empty ids.

markdown's toc extension, mkdocs-jupyter and nbconvert each slugify headings with an ASCII-only function
(`## 等級表` -> id=""),
and nbconvert percent-encodes ids. All three are pointed at the same Unicode slugify so TOC links and heading ids agree.
"""
from markdown.extensions import toc

_ascii_slugify = getattr(toc.slugify, '_orig', toc.slugify)

def slug(value:str, separator:str='-', unicode:bool=True)->str:
    "Unicode slug: keeps CJK characters, lowercases ASCII, joins words with `separator`."
    return _ascii_slugify(value, separator, unicode=True)
slug._orig = _ascii_slugify

def _patch():
    toc.slugify = slug
    import mkdocs_jupyter.convert as mjc, mkdocs_jupyter.utils as mju
    mjc.slugify = mju.slugify = slug
    # nbconvert percent-encodes non-ASCII ids (id="%E7%AD%89") while the TOC links to "#等級表": keep them raw
    import nbconvert.filters.strings as nbs
    nbs._convert_header_id = lambda text: text.replace(' ', '-')

def on_config(config, **kw):
    _patch()
    for ext, cfg in config.mdx_configs.items():
        if ext == 'toc': cfg['slugify'] = slug
    return config

# The site is self-contained (tests/test_site.py: no request leaves the local server): the notebooks' Open-in-Colab
# badge image is Google's, so the site shows the same badge drawn inline; the link itself still points at Colab.
_BADGE_URL = 'https://colab.research.google.com/assets/colab-badge.svg'
_BADGE = ('data:image/svg+xml;charset=utf-8,' + __import__('urllib.parse').parse.quote(
    '<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20"><rect width="117" height="20" rx="3" fill="#555"/>'
    '<text x="58.5" y="14" fill="#fff" font-family="Verdana,sans-serif" font-size="11" text-anchor="middle">Open in Colab</text></svg>'))

def on_post_page(output, **kw):
    return output.replace(_BADGE_URL, _BADGE)
