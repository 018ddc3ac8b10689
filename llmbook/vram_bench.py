"""GPU measurement of the memory estimator (chapter 3): random-weight real architectures, peak memory vs `llmbook.vram.estimate`.
Hand-written (no notebook); every row keeps its full configuration: `estimate(**{k: row[k] for k in CONFIG_KEYS})` recomputes it."""
from __future__ import annotations
import json
from pathlib import Path
from .hw import TIERS, GB, budget_gb
from .vram import estimate, load_config, LINEARS

__all__ = ['CONFIG_KEYS', 'BENCH', 'RUNS', 'stored_runs', 'measure_peak', 'run_capped', 'run_plans', 'run_bench']

# what `estimate` needs to recompute a row; the loop below takes one optimizer step per micro-batch (grad_accum=1)
CONFIG_KEYS = ('model', 'method', 'batch', 'seq_len', 'dtype', 'optimizer', 'grad_ckpt', 'lora_r', 'attn', 'precision')
RUNS = Path(__file__).parent/'assets'/'gpu-2026-11-30'   # copies of bench/results/gpu-2026-11-30 that chapter 3 reads

def stored_runs(
    kind:str='vram', # `vram`: this module's loop (`run_plans` + `run_bench`); `recipe`: `llmbook.train.sft` (bench/recipe_peaks.py)
    folder=RUNS,     # a folder holding `vram_results.jsonl` and `recipe_peaks.jsonl`
)->list:            # one dict per measured row, in the order measured
    "GPU measurements shipped with the package, so that chapter 3 shows them anywhere (CPU, Colab) without a GPU."
    name = {'vram': 'vram_results.jsonl', 'recipe': 'recipe_peaks.jsonl'}[kind]
    return [json.loads(l) for l in (Path(folder)/name).read_text(encoding='utf-8').splitlines() if l.strip()]

BENCH = [  # (model, method, batch, seq_len, knobs): configurations beside the plan registry
    ('Qwen/Qwen2.5-0.5B-Instruct', 'full', 4, 1024, dict()),
    ('Qwen/Qwen2.5-0.5B-Instruct', 'full', 4, 1024, dict(grad_ckpt=True, optimizer='adamw_8bit')),
    ('Qwen/Qwen2.5-1.5B-Instruct', 'lora', 2, 2048, dict(attn='eager')),
    ('google/gemma-2-2b-it', 'lora', 2, 1024, dict(grad_ckpt=True)),
    ('meta-llama/Llama-3.1-8B-Instruct', 'infer', 4, 4096, dict()),
]

def _quantize_linears(m, td, device):
    "Replace the decoder's (meta) linears by NF4 `Linear4bit`s quantized from random weights made on `device`, one at a time."
    import torch, bitsandbytes as bnb
    for layer in m.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for n in LINEARS:
                if (lin := getattr(parent, n, None)) is None: continue
                q = bnb.nn.Linear4bit(lin.in_features, lin.out_features, bias=lin.bias is not None, compute_dtype=td,
                                      compress_statistics=True, quant_type='nf4', device='meta')
                w = torch.empty(lin.out_features, lin.in_features, dtype=td, device=device).normal_(0, 0.02)
                q.weight = bnb.nn.Params4bit(w, requires_grad=False, quant_type='nf4', compress_statistics=True).to(device)
                if lin.bias is not None:
                    q.bias = torch.nn.Parameter(torch.zeros(lin.out_features, dtype=td, device=device), requires_grad=False)
                setattr(parent, n, q); del w

def _random_model(model, method, dtype, attn, lora_r, grad_ckpt, device='cuda', precision='amp'):
    "Build `model` with random weights on `device`, one module at a time (a 72B QLoRA never exists in 16 bits), set up for `method`."
    import torch
    from transformers import AutoModelForCausalLM
    td = getattr(torch, dtype)
    wd = torch.float32 if method == 'full' and precision == 'amp' else td   # amp: fp32 master weights
    with torch.device('meta'): m = AutoModelForCausalLM.from_config(load_config(model), dtype=wd, attn_implementation=attn)
    if method == 'qlora': _quantize_linears(m, td, device)
    for mod in m.modules():
        if any(p.is_meta for p in mod.parameters(recurse=False)):
            mod.to_empty(device=device, recurse=False)
            with torch.no_grad():
                for p in mod.parameters(recurse=False): p.normal_(0, 0.02) if p.ndim > 1 else p.fill_(1.0)
    m.tie_weights()
    for parent in list(m.modules()):  # buffers were never materialized: rebuild rotary embeddings
        for n, child in list(parent.named_children()):
            if hasattr(child, 'inv_freq'):
                with torch.device(device): setattr(parent, n, type(child)(config=child.config))
    if method == 'qlora':
        m.config.quantization_config = None; m.is_loaded_in_4bit = True
        from peft import prepare_model_for_kbit_training
        m = prepare_model_for_kbit_training(m, use_gradient_checkpointing=grad_ckpt)
    if method in ('lora', 'qlora'):
        from peft import LoraConfig, get_peft_model
        if method == 'lora':
            for p in m.parameters(): p.requires_grad_(False)
        m = get_peft_model(m, LoraConfig(r=lora_r, target_modules='all-linear', lora_dropout=0.0))
        if precision == 'pure':  # adapters in the compute dtype, as TRL makes QLoRA's (bf16)
            for p in m.parameters():
                if p.requires_grad: p.data = p.data.to(td)
    if grad_ckpt and method != 'infer':
        if hasattr(m, 'activation_checkpointing_enable'): m.activation_checkpointing_enable(dict(use_reentrant=False))
        else: m.gradient_checkpointing_enable(gradient_checkpointing_kwargs=dict(use_reentrant=False))  # transformers < 5.20
        if method != 'full': m.enable_input_require_grads()
    return m

def measure_peak(
    model, method:str, batch:int, seq_len:int, # what `estimate` takes
    dtype:str='bfloat16', optimizer:str='adamw', grad_ckpt:bool=False, lora_r:int=16, attn:str='sdpa', precision:str='amp',
    steps:int=2,          # training steps (the 2nd has optimizer states allocated)
)->dict:                 # the full configuration, the GPU, measured peak and estimate
    "Measure `torch.cuda.max_memory_allocated` of a few real steps with random weights; compare to `estimate`."
    import torch, gc
    gc.collect(); torch.cuda.empty_cache()
    start = torch.cuda.memory_allocated()   # left by earlier rows in this process: should be ~0, recorded to be sure
    m = _random_model(model, method, dtype, attn, lora_r, grad_ckpt, precision=precision)
    gc.collect(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    ids = torch.randint(0, load_config(model).vocab_size, (batch, seq_len), device='cuda')
    if method == 'infer':
        m.eval()
        with torch.no_grad(): m(input_ids=ids, use_cache=True, logits_to_keep=1)
    else:
        m.train()
        params = [p for p in m.parameters() if p.requires_grad]
        if optimizer == 'adamw': opt = torch.optim.AdamW(params, lr=1e-5)
        else:
            import bitsandbytes as bnb
            opt = {'adamw_8bit': bnb.optim.AdamW8bit, 'paged_adamw_8bit': bnb.optim.PagedAdamW8bit,
                   'paged_adamw': bnb.optim.PagedAdamW}[optimizer](params, lr=1e-5)
        for _ in range(steps):
            with torch.autocast('cuda', dtype=getattr(torch, dtype), enabled=dtype != 'float32'):
                loss = m(input_ids=ids, labels=ids).loss
            loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        del opt
    peak = torch.cuda.max_memory_allocated()
    cfg = dict(model=model, method=method, batch=batch, seq_len=seq_len, dtype=dtype, optimizer=optimizer, grad_ckpt=grad_ckpt,
               lora_r=lora_r, attn=attn, precision=precision)
    est = estimate(**cfg)
    del m; gc.collect(); torch.cuda.empty_cache()
    return cfg | dict(gpu=torch.cuda.get_device_name(0), start_gb=round(start/GB, 3), measured_gb=round(peak/GB, 3), estimate_gb=round(est.allocated/GB, 3),
                      error_pct=round(100*(est.allocated - peak)/peak, 1), low_gb=round((est.low - est.breakdown['overhead'])/GB, 2),
                      high_gb=round((est.high - est.breakdown['overhead'])/GB, 2))

def _measure(cfg:dict, budget:float|None=None)->dict:
    "Measure one configuration with this process capped to `budget` GB of the GPU when given; a failure is a row too."
    import torch
    total = torch.cuda.get_device_properties(0).total_memory
    if budget: torch.cuda.set_per_process_memory_fraction(min(1.0, budget*GB/total))
    try:
        r = measure_peak(**cfg)
        return r | (dict(budget_gb=budget, ok=r['measured_gb'] <= budget) if budget else {})
    except Exception as err:
        return cfg | dict(budget_gb=budget, ok=False, error=f'{type(err).__name__}: {err}'[:300])
    finally: torch.cuda.set_per_process_memory_fraction(1.0)

def run_capped(
    p,               # a `llmbook.plans.Plan`, e.g. `plan('03_vram', 't4')`
    tier:str='t4',   # the tier whose dtype and budget apply
)->dict:
    "Run a plan with this process capped to the tier's budget: does it fit the GPU it was planned for?"
    return _measure(dict(model=p.model, method=p.method, batch=p.batch, seq_len=p.seq_len, **p.knobs(tier)), budget_gb(tier))

def run_plans(
    tiers=('t4', '24g', '80g'), # GPU tiers whose plans to measure
)->list:                       # one row per chapter and tier: the plan's full configuration and its measurement
    "Measure every plan of the registry for the GPU tiers this GPU can hold, each capped to its tier's budget."
    import torch
    from .plans import PLANS
    total = torch.cuda.get_device_properties(0).total_memory/GB
    rows = []
    for ch, by_tier in PLANS.items():
        for t, p in by_tier.items():
            if t not in tiers or p.model == 'lab' or getattr(p, 'objective', 'sft') != 'sft': continue   # DPO plans: bench/dpo_memory.py
            row = dict(chapter=ch, tier=t, plan_grad_accum=p.grad_accum)   # the recipe's; this loop does not accumulate
            if TIERS[t].vram_gb > total: rows.append(row | dict(model=p.model, error=f'needs a {TIERS[t].vram_gb:g} GB GPU')); continue
            rows.append(row | run_capped(p, t))
    return rows

def run_bench(
    configs:list|None=None, # (model, method, batch, seq_len, knobs) tuples (default: `BENCH`)
    dtype:str|None=None,    # default: bf16 on Ampere+, fp16 before
)->list:
    "Measure configurations beside the registry, skipping those estimated not to fit this GPU."
    import torch
    dtype = dtype or ('bfloat16' if torch.cuda.get_device_capability()[0] >= 8 else 'float16')
    total = torch.cuda.get_device_properties(0).total_memory
    return [_measure(dict(model=m, method=me, batch=b, seq_len=s, dtype=dtype) | kw) for m, me, b, s, kw in (configs or BENCH)
            if estimate(m, me, b, s, dtype=dtype, **kw).high <= 0.9*total]
