"Parity and fault tests for llmbook.vram: exact counts against real tensors, PEFT, bitsandbytes; tier refusals."
import json, subprocess, sys, math
from pathlib import Path
import pytest, torch
from transformers import AutoModelForCausalLM
from llmbook import vram
from llmbook.vram import arch, param_count, estimate, load_config, lora_params, nf4_bytes, check_fits, VramError

TINY = dict(vocab_size=320, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256)
TINY_CFGS = {
    'llama': dict(model_type='llama', **TINY),
    'llama_bias': dict(model_type='llama', attention_bias=True, mlp_bias=True, tie_word_embeddings=True, **TINY),
    'qwen2': dict(model_type='qwen2', **TINY),
    'qwen2_tied': dict(model_type='qwen2', tie_word_embeddings=True, **TINY),
    'gemma2': dict(model_type='gemma2', head_dim=32, **TINY),
    'gemma': dict(model_type='gemma', head_dim=24, **TINY),
    'mistral': dict(model_type='mistral', **TINY),
    'qwen3': dict(model_type='qwen3', head_dim=16, **TINY),
}
SHIPPED = ['Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', 'meta-llama/Llama-3.1-8B-Instruct',
           'google/gemma-2-2b-it', 'Qwen/Qwen2.5-32B-Instruct', 'meta-llama/Llama-3.3-70B-Instruct']

@pytest.mark.parametrize('model', SHIPPED)
def test_param_count_equals_meta_model(model):
    assert param_count(arch(model)) == vram.meta_param_count(model)

def test_known_totals():
    assert round(param_count(arch('Qwen/Qwen2.5-7B-Instruct'))/1e9, 2) == 7.62
    assert round(param_count(arch('meta-llama/Llama-3.1-8B-Instruct'))/1e9, 2) == 8.03
    assert round(param_count(arch('google/gemma-2-2b-it'))/1e9, 2) == 2.61

def _real(cfg, dtype=torch.bfloat16):
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(load_config(cfg), dtype=dtype)

@pytest.mark.parametrize('name', list(TINY_CFGS))
def test_counts_and_weight_bytes_against_real_tensors(name):
    cfg = TINY_CFGS[name]
    m = _real(cfg)
    seen, n, nbytes = set(), 0, 0
    for p in m.parameters():  # tied weights once
        if p.data_ptr() in seen: continue
        seen.add(p.data_ptr()); n += p.numel(); nbytes += p.numel()*p.element_size()
    assert param_count(arch(cfg)) == n == m.num_parameters()
    assert estimate(cfg, 'infer', dtype='bfloat16').breakdown['weights'] == nbytes
    assert estimate(cfg, 'infer', dtype='float32').breakdown['weights'] == 2*nbytes

@pytest.mark.parametrize('name', ['llama', 'qwen2', 'gemma2', 'llama_bias'])
@pytest.mark.parametrize('r,targets', [(8, 'all-linear'), (4, ['q_proj', 'v_proj']), (16, ['gate_proj', 'down_proj', 'o_proj'])])
def test_lora_trainable_equals_peft(name, r, targets):
    from peft import LoraConfig, get_peft_model
    pm = get_peft_model(_real(TINY_CFGS[name], torch.float32), LoraConfig(r=r, target_modules=targets))
    trainable, _ = pm.get_nb_trainable_parameters()
    assert lora_params(arch(TINY_CFGS[name]), r, targets) == trainable
    assert estimate(TINY_CFGS[name], 'lora', lora_r=r, lora_targets=targets).trainable == trainable

def test_lora_trainable_equals_peft_on_shipped_meta_model():
    from peft import LoraConfig, get_peft_model
    with torch.device('meta'):
        pm = get_peft_model(vram.meta_model('meta-llama/Llama-3.1-8B-Instruct'), LoraConfig(r=16, target_modules='all-linear'))
    assert pm.get_nb_trainable_parameters()[0] == lora_params(arch('meta-llama/Llama-3.1-8B-Instruct'), 16) == 41_943_040

@pytest.mark.parametrize('shape', [(64, 64), (160, 64), (320, 96), (1000, 7)])
@pytest.mark.parametrize('dq', [True, False])
def test_nf4_bytes_equal_bitsandbytes(shape, dq):
    bnb = pytest.importorskip('bitsandbytes')
    w = torch.randn(*shape, dtype=torch.float32)
    packed, st = bnb.functional.quantize_4bit(w, blocksize=64, compress_statistics=dq, quant_type='nf4')
    n = packed.numel()*packed.element_size() + st.absmax.numel()*st.absmax.element_size()
    if dq: n += st.state2.absmax.numel()*st.state2.absmax.element_size() + 4   # + fp32 offset
    assert nf4_bytes(w.numel(), double_quant=dq) == n

def test_static_parts_equal_a_real_adamw_step():
    "Weights, gradients and AdamW states of a real fp32 step, byte for byte (gradients alive: accumulation)."
    m = _real(TINY_CFGS['qwen2'], torch.float32)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    ids = torch.randint(0, 320, (2, 16)); m(input_ids=ids, labels=ids, use_cache=False).loss.backward(); opt.step()
    nb = lambda ts: sum(t.numel()*t.element_size() for t in ts)
    real = dict(weights=nb(m.parameters()), gradients=nb(p.grad for p in m.parameters()),
                optimizer=nb(v for st in opt.state.values() for v in st.values() if v.numel() > 1))
    b = estimate(TINY_CFGS['qwen2'], 'full', dtype='float32', grad_accum=2).breakdown
    assert {k: b[k] for k in real} == real

def test_kv_cache_equals_transformers_cache():
    m = _real(TINY_CFGS['llama'], torch.float32).eval()
    ids = torch.randint(0, 320, (3, 40))
    with torch.no_grad(): cache = m(input_ids=ids, use_cache=True).past_key_values
    real = sum(t.numel()*t.element_size() for layer in cache.layers for t in (layer.keys, layer.values))
    assert estimate(TINY_CFGS['llama'], 'infer', batch=3, seq_len=40, dtype='float32').breakdown['kv_cache'] == real

def test_activation_model_matches_saved_tensors():
    for name in ['llama', 'qwen2']:
        for ck in (False, True):
            cfg = load_config(TINY_CFGS[name])
            torch.manual_seed(0)
            m = AutoModelForCausalLM.from_config(cfg, attn_implementation='sdpa').train()
            if ck: m.activation_checkpointing_enable(dict(use_reentrant=False))
            ids = torch.randint(0, cfg.vocab_size, (2, 64))
            got = vram.saved_tensor_bytes(m, ids)
            want = vram.stored_activations(arch(cfg), 2, 64, e=4, r=4, grad_ckpt=ck)
            assert 0.9 < want/got < 1.1, (name, ck, want, got)

def _steps(cfg, seq_len, grad_accum):
    "Two steps of a mixed-precision loop (fp32 weights, bf16 autocast, foreach AdamW) and the model."
    torch.manual_seed(0)
    m = AutoModelForCausalLM.from_config(load_config(cfg)).train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-4, foreach=True)
    ids = torch.randint(0, cfg['vocab_size'], (1, seq_len))
    def run():
        for _ in range(2):
            for _ in range(grad_accum):
                with torch.autocast('cpu', dtype=torch.bfloat16): loss = m(input_ids=ids, labels=ids, use_cache=False).loss
                loss.backward()
            opt.step(); opt.zero_grad(set_to_none=True)
    return m, run

def test_peak_of_a_training_step_on_cpu():
    "The phases, measured: gradients join the loss only with accumulation; the AdamW step peaks at 20 B a parameter."
    cfg = dict(TINY_CFGS['qwen2'], vocab_size=32000, hidden_size=64, intermediate_size=128, tie_word_embeddings=True)
    P, peaks = param_count(arch(cfg)), {}
    for seq, ga in [(64, 1), (64, 2), (4, 1)]:
        m, run = _steps(cfg, seq, ga)
        peaks[seq, ga] = sum(p.numel()*p.element_size() for p in m.parameters()) + max(b for _, b in vram.cpu_memory_trace(run))
        e = estimate(cfg, 'full', 1, seq, grad_accum=ga)
        assert abs(e.allocated - peaks[seq, ga]) <= 0.05*peaks[seq, ga], (seq, ga, e, peaks[seq, ga])
    assert estimate(cfg, 'full', 1, 4).phase == 'step' and estimate(cfg, 'full', 1, 64).phase == 'loss'
    assert abs((peaks[64, 2] - peaks[64, 1]) - 4*P) < 0.05*4*P
    assert abs(peaks[4, 1] - 20*P) < 0.05*20*P

def test_stored_gpu_runs_ship_unchanged():
    "The package's copy of the GPU measurements is the bench's, byte for byte."
    from llmbook.vram_bench import RUNS
    bench = Path(__file__).resolve().parents[1]/'bench'/'results'/RUNS.name
    for f in ('vram_results.jsonl', 'recipe_peaks.jsonl', 'gpu.txt', 'dpo_memory.json'): assert (RUNS/f).read_bytes() == (bench/f).read_bytes(), f

def test_estimate_within_10pct_of_every_gpu_measurement():
    "Today's estimate of every stored configuration (hand-written loop, no accumulation) against its measured peak."
    from llmbook.vram_bench import stored_runs, CONFIG_KEYS
    rows = [r for r in stored_runs('vram') if 'error' not in r]
    assert len(rows) >= 17
    for r in rows:
        e = estimate(**{k: r[k] for k in CONFIG_KEYS})
        assert abs(e.allocated/1e9 - r['measured_gb']) <= 0.1*r['measured_gb'], (r, e)

def test_training_plans_are_measured_on_a_gpu():
    """Every training chapter's plan, as the registry holds it today, has a stored GPU measurement within its tier's budget:
    changing a plan without measuring it again fails here (the estimator that chose the plans is not evidence)."""
    from llmbook.plans import plan
    from llmbook.vram_bench import stored_runs
    from llmbook.hw import TIERS
    rows = stored_runs('vram') + stored_runs('recipe')
    keys = ('model', 'method', 'batch', 'seq_len', 'optimizer', 'grad_ckpt', 'lora_r')
    for ch in ('04_sft', '05_lora', '06_qlora'):
        for t in ('t4', '24g', '80g'):
            p = plan(ch, t)
            hits = [r for r in rows if (r.get('chapter'), r.get('tier')) == (ch, t) and r.get('measured_gb')
                    and all(r[k] == getattr(p, k) for k in keys) and r.get('dtype', TIERS[t].dtype) == TIERS[t].dtype]
            assert hits and all(r['measured_gb'] <= TIERS[t].vram_gb for r in hits), (ch, t, p)

def test_recipe_refuses_before_allocating(monkeypatch):
    def boom(*a, **k): raise AssertionError('model weights were created before the memory check')
    monkeypatch.setattr(AutoModelForCausalLM, 'from_pretrained', boom)
    monkeypatch.setattr(AutoModelForCausalLM, 'from_config', boom)
    def recipe(model_id, tier):  # what the training recipes do
        check_fits(model_id, 'full', tier, batch=4, seq_len=2048)
        return AutoModelForCausalLM.from_pretrained(model_id)
    with pytest.raises(VramError) as ei: recipe('meta-llama/Llama-3.1-8B-Instruct', 't4')
    err = ei.value
    assert err.suggestion and err.suggestion['method'] in ('lora', 'qlora')
    assert 'GB' in str(err) and "'t4'" in str(err) and 'try:' in str(err)
    assert err.budget == 15e9

def test_suggest_and_fits():
    s = vram.suggest('Qwen/Qwen2.5-0.5B-Instruct', 'full', 't4', batch=64, seq_len=2048)
    assert s['method'] == 'full' and s['batch']*s['grad_accum'] == 64 and s['total_gb'] <= 15
    assert vram.suggest('meta-llama/Llama-3.3-70B-Instruct', 'qlora', 't4') is None

def test_suggest_order_keeps_the_data_longest():
    "Smaller batch with accumulation, then a cheaper method, and only then a shorter sequence (said to change the data)."
    s = vram.suggest('meta-llama/Llama-3.1-8B-Instruct', 'full', 't4', batch=8, seq_len=1024, grad_ckpt=True)
    assert (s['method'], s['seq_len'], s['batch']*s['grad_accum']) == ('qlora', 1024, 8), s
    s = vram.suggest('Qwen/Qwen2.5-7B-Instruct', 'lora', '24g', batch=8, seq_len=1024, grad_ckpt=True)
    assert s['method'] == 'lora' and s['seq_len'] == 1024 and s['batch'] < 8, s
    s = vram.suggest('Qwen/Qwen2.5-7B-Instruct', 'qlora', 't4', batch=4, seq_len=16384, grad_ckpt=True)
    assert s['method'] == 'qlora' and s['seq_len'] < 16384 and 'changes the data' in s['note'], s
    s = vram.suggest('Qwen/Qwen2.5-3B-Instruct', 'lora', 't4', batch=16, seq_len=256, budget=8.6, grad_ckpt=True)  # an 8.6 GB card
    assert s['method'] == 'lora' and s['batch']*s['grad_accum'] == 16 and s['total_gb'] <= 8.6, s

def test_bad_inputs_fail_clearly():
    with pytest.raises(ValueError, match='method'): estimate('Qwen/Qwen2.5-0.5B-Instruct', 'ft')
    for bad in (dict(batch=0), dict(seq_len=-1), dict(grad_accum=0)):
        with pytest.raises(ValueError, match='positive integer'): estimate('Qwen/Qwen2.5-0.5B-Instruct', 'lora', **bad)
    with pytest.raises(ValueError, match='LoRA target'): estimate('Qwen/Qwen2.5-0.5B-Instruct', 'lora', lora_targets=['qkv'])
    with pytest.raises(ValueError, match='not shipped'): load_config('nobody/does-not-exist-xyz')

def test_local_directory(tmp_path):
    (tmp_path/'config.json').write_text(json.dumps(TINY_CFGS['qwen2']))
    assert estimate(str(tmp_path), 'full').params == param_count(arch(TINY_CFGS['qwen2']))
    assert estimate('lab', 'full', 16, 64).total > 0

def test_cli_json():
    args = ['vram', 'Qwen/Qwen2.5-7B-Instruct', '--method', 'qlora', '--batch', '1', '--seq', '2048', '--tier', 't4', '--json']
    out = subprocess.run([sys.executable, '-c', f'from llmbook.cli import main; raise SystemExit(main({args!r}))'],
                         capture_output=True, text=True)
    d = json.loads(out.stdout)
    assert {'total_gb', 'weights_gb', 'activations_gb', 'logits_gb', 'optimizer_gb'} <= set(d) and d['tier'] == 't4'
    assert out.returncode == (0 if d['fits'] else 1)

def test_import_is_light():
    code = ("import sys, llmbook.vram, llmbook.plans, llmbook.setup, llmbook.cli, llmbook.vram_bench, llmbook.vram_widget; "
            "assert 'torch' not in sys.modules and 'transformers' not in sys.modules")
    subprocess.run([sys.executable, '-c', code], check=True)

@pytest.mark.parametrize('method', ['full', 'lora', 'qlora'])
@pytest.mark.parametrize('tied', [False, True])
def test_bench_model_builder_on_cpu(method, tied):
    "The GPU benchmark's random-weight builder, smoke-tested on CPU: finite loss, the estimator's trainable count."
    if method == 'qlora': pytest.importorskip('bitsandbytes')
    cfg = dict(TINY_CFGS['llama'], hidden_size=128, intermediate_size=384, tie_word_embeddings=tied)
    from llmbook.vram_bench import _random_model
    m = _random_model(cfg, method, 'float32', 'sdpa', 8, True, device='cpu').train()
    ids = torch.randint(0, cfg['vocab_size'], (2, 16))
    loss = m(input_ids=ids, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert sum(p.numel() for p in m.parameters() if p.requires_grad) == estimate(cfg, method, lora_r=8).trainable
    if method == 'qlora': assert any(type(x).__name__ == 'Linear4bit' for x in m.modules())

def test_bench_builds_qlora_adapters_as_trl_does():
    "precision='pure' for QLoRA: adapters in the compute dtype (TRL casts them to bf16), counted as the estimator counts them."
    pytest.importorskip('bitsandbytes')
    from llmbook.vram_bench import _random_model
    cfg = dict(TINY_CFGS['llama'], hidden_size=128, intermediate_size=384)
    m = _random_model(cfg, 'qlora', 'bfloat16', 'sdpa', 8, True, device='cpu', precision='pure')
    trainable = [p for p in m.parameters() if p.requires_grad]
    assert {p.dtype for p in trainable} == {torch.bfloat16}
    e = estimate(cfg, 'qlora', dtype='bfloat16', precision='pure', lora_r=8, grad_accum=2)
    assert sum(p.numel() for p in trainable) == e.trainable and e.breakdown['gradients'] == 2*e.trainable
