"""The built docs site (docs/): pages, tier badges, Chinese search and anchors, no external requests.

Plain checks read the files; the browser check drives Debian chromium through npm playwright-core and is
skipped only when chromium or node/playwright-core are absent (scripts/test.sh installs them in CI).
"""
import functools, html, http.server, json, os, re, shutil, subprocess, sys, threading
from pathlib import Path
from urllib.parse import urlsplit, unquote
import pytest

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT/'docs'
sys.path.insert(0, str(ROOT/'tools'))
import build_docs  # noqa: E402

CHROMIUM = shutil.which('chromium') or ('/usr/bin/chromium' if Path('/usr/bin/chromium').exists() else None)
NODE_MODULES = Path(os.environ.get('LLMBOOK_NODE_MODULES', ROOT/'.cache'/'node'/'node_modules'))
CJK = re.compile(r'[\u4e00-\u9fff]')

@pytest.fixture(scope='module')
def site():
    "The built site; built here when absent (scripts/test.sh builds it before pytest)."
    if not (SITE/'index.html').exists(): assert build_docs.main([]) == 0
    return SITE

def chapters(): return {p.stem: build_docs.chapter_tiers(p) for p in sorted((ROOT/'nbs').glob(build_docs.CHAPTER_GLOB))}

def test_every_chapter_page_has_tier_and_colab_badges(site):
    chs = chapters()
    assert chs, 'no chapter notebooks found'
    for stem, tiers in chs.items():
        page = (site/f'{stem}.html').read_text(encoding='utf-8')
        shown = re.findall(r'<span class="llmbook-tier llmbook-tier-([\w]+)">', page)
        assert shown == tiers, (stem, shown, tiers)
        assert f'{build_docs.COLAB}{stem}.ipynb' in page
    nav = (site/'index.html').read_text(encoding='utf-8')
    pos = [nav.find(f'href="{s}.html"') for s in chs]
    assert all(p > 0 for p in pos) and pos == sorted(pos), 'navigation lists chapters in notebook order'

def test_no_quarto_leftovers(site):
    n_code = 0
    for page in site.glob('*.html'):
        text = page.read_text(encoding='utf-8')
        code = re.findall(r'<div class="clipboard-copy-txt"[^>]*>(.*?)</div>', text, re.S)  # raw cell inputs
        n_code += len(code)
        assert not any(re.search(r'^\s*#\|', c, re.M) for c in code), f'{page.name}: #| directive left in code'
        assert '{target=' not in text, page.name
        assert 'show_doc(' not in text, f'{page.name}: show_doc input should be hidden'
    assert n_code > 0, 'found no code cells: the check above would be vacuous'

def test_search_index_has_chinese_tokens(site):
    idx = json.loads((site/'search'/'search_index.json').read_text(encoding='utf-8'))
    assert '\\u200b' in idx['config']['separator'], 'zh-TW search separator must split on \\u200b (jieba output)'
    text = ' '.join(d['text'] for d in idx['docs'])
    tokens = set(re.split('[\\s\\u200b]+', html.unescape(re.sub('<[^>]+>', ' ', text))))
    assert '\u200b' in text, 'jieba did not segment Chinese text (is jieba installed?)'
    assert {'記憶體', '硬體'} <= tokens, sorted(t for t in tokens if CJK.search(t))[:40]

def test_chinese_headings_have_ids(site):
    page = (site/'00_hw.html').read_text(encoding='utf-8')
    ids = re.findall(r'<h[1-4][^>]* id="([^"]*)"', page)
    assert '' not in ids and '等級表' in ids, ids
    assert 'href="#等級表"' in page, 'TOC links to the Chinese anchor'

def test_missing_tiers_fail_the_build(tmp_path):
    nb = {'cells': [], 'metadata': {}, 'nbformat': 4, 'nbformat_minor': 5}
    (tmp_path/'07_x.ipynb').write_text(json.dumps(nb))
    with pytest.raises(build_docs.BuildError, match='07_x.ipynb: no tier metadata.*nbmeta.py'): build_docs.check_chapters(tmp_path)
    nb['metadata'] = {'llmbook': {'tiers': ['cpu', 'a100']}}
    (tmp_path/'07_x.ipynb').write_text(json.dumps(nb))
    with pytest.raises(build_docs.BuildError, match="unknown tiers \\['a100'\\]"): build_docs.check_chapters(tmp_path)

def test_cell_options_become_tags():
    src, tags = build_docs._strip_opts('#| echo: false\n#| output: asis\nshow_doc(f)')
    assert (src, tags) == ('show_doc(f)', ['remove_input'])
    assert build_docs._strip_opts('#| output: false\nx = 1') == ('x = 1', ['remove_output'])

# ---------------------------------------------------------------- browser
JS = r"""
const { chromium } = require('playwright-core');
(async () => {
  const [base, exe] = process.argv.slice(2);
  const browser = await chromium.launch({ executablePath: exe,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  const page = await browser.newPage();
  const requests = [];
  page.on('request', r => requests.push(r.url()));
  const out = { search: {} };
  await page.goto(base + 'index.html', { waitUntil: 'networkidle' });
  for (const q of JSON.parse(process.argv[4])) {
    await page.fill('.md-search__input', '');
    await page.fill('.md-search__input', q);
    await page.press('.md-search__input', 'End');   // fill() alone fires no key event; Material searches on keyup
    try { await page.waitForSelector('.md-search-result__item a', { timeout: 15000 }); } catch (e) {}
    out.search[q] = await page.$$eval('.md-search-result__item a', as => as.map(a => a.getAttribute('href')));
  }
  await page.goto(base + '00_hw.html', { waitUntil: 'networkidle' });
  out.heading_ids = await page.$$eval('h2', hs => hs.map(h => [h.textContent.replace('¶', '').trim(), h.id]));
  out.title = await page.title();
  out.requests = requests;
  console.log(JSON.stringify(out));
  await browser.close();
})().catch(e => { console.error(e); process.exit(1); });
"""

@pytest.fixture(scope='module')
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown()

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@pytest.mark.skipif(not CHROMIUM or not shutil.which('node') or not (NODE_MODULES/'playwright-core').exists(),
                    reason='browser check needs chromium, node and playwright-core (scripts/test.sh installs them in CI)')
def test_site_in_browser(server, tmp_path):
    script = tmp_path/'check.js'; script.write_text(JS)
    queries = ['記憶體', '等級表', '硬體']
    r = subprocess.run(['node', str(script), server, CHROMIUM, json.dumps(queries, ensure_ascii=False)],
                       capture_output=True, text=True, timeout=120, env={**os.environ, 'NODE_PATH': str(NODE_MODULES)})
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    res = out['search']
    # every query finds something, and each hit's page really contains the word
    for q in queries:
        assert res[q], f'search for {q} found nothing'
        for href in res[q][:5]:
            page = urlsplit(href).path.split('/')[-1] or 'index.html'
            assert q in html.unescape((SITE/page).read_text(encoding='utf-8')), (q, href)
    assert any(urlsplit(h).path.endswith('00_hw.html') and unquote(urlsplit(h).fragment) == '等級表' for h in res['等級表']), res['等級表']
    # Chinese heading anchors are non-empty and reachable
    ids = dict(out['heading_ids'])
    assert ids.get('等級表') == '等級表', out['heading_ids']
    assert all(i for _, i in out['heading_ids'])
    # the site is self-contained: no request leaves the local server
    external = [u for u in out['requests'] if not (u.startswith(server) or u.startswith(('data:', 'blob:')))]
    assert not external, external
