"""Peak GPU memory of DPO by where the reference model lives: LoRA with the adapter-disabled model as reference, LoRA
with `precompute_ref_log_probs`, LoRA with a second frozen copy, full fine-tuning with a frozen copy, full fine-tuning
with precomputed reference log-probs. Self-contained: needs only torch, transformers, peft and trl (no network, no
Hub download, no llmbook; if llmbook is importable, its `dpo_estimate` is recorded beside each measurement).

    python bench/dpo_memory.py OUT.json                       # GPU: Qwen2.5-1.5B and -3B shapes, bf16, 2 pairs x 1024 tokens
    python bench/dpo_memory.py OUT.json --models qwen2.5-0.5b --seq-len 512 --steps 2
    python bench/dpo_memory.py OUT.json --tiny                 # CPU: a tiny model, checks the script runs (no peaks)

Models are built from their architecture with random weights directly on the GPU (memory does not depend on the
weights), with a word-level tokenizer built in code; prompt and completions fill `--seq-len`. Each variant trains
`--steps` DPO steps through TRL's `DPOTrainer` with gradient checkpointing and records `torch.cuda.max_memory_allocated`
over the whole variant (`peak_gb`: loading, reference precomputation, training) and from the start of training
(`train_gb`). It writes all rows to OUT.json (rewritten after each variant) and prints each row, then the ratios.
"""
import argparse, dataclasses, gc, json, os, sys, tempfile, time
os.environ.setdefault('TQDM_DISABLE', '1')

ARCHS = {  # Qwen2.5 shapes (config.json of the Hub repos); vocabulary as shipped
    'qwen2.5-0.5b': dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2, tie_word_embeddings=True),
    'qwen2.5-1.5b': dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12, num_key_value_heads=2, tie_word_embeddings=True),
    'qwen2.5-3b':   dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16, num_key_value_heads=2, tie_word_embeddings=True),
    'tiny':         dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True),
}
HUB = {'qwen2.5-0.5b': 'Qwen/Qwen2.5-0.5B-Instruct', 'qwen2.5-1.5b': 'Qwen/Qwen2.5-1.5B-Instruct', 'qwen2.5-3b': 'Qwen/Qwen2.5-3B-Instruct'}
VOCAB = 151936
VARIANTS = {  # name -> (method, reference)
    'lora-adapter':     ('lora', 'adapter'),       # TRL disables the adapters for the reference pass: no second copy
    'lora-precomputed': ('lora', 'precomputed'),   # reference log-probs computed once before training
    'lora-ref':         ('lora', 'model'),         # a second, frozen copy passed as ref_model
    'full-ref':         ('full', 'model'),
    'full-precomputed': ('full', 'precomputed'),
}
RATIOS = [('lora-ref', 'lora-adapter'), ('lora-precomputed', 'lora-adapter'), ('full-ref', 'full-precomputed'),
          ('full-precomputed', 'lora-adapter')]

def tokenizer(n_words:int):
    "A word-level tokenizer over `w0 .. w{n_words-1}` plus pad/eos, built in code."
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {'<pad>': 0, '<eos>': 1, **{f'w{i}': i + 2 for i in range(n_words)}}
    tk = Tokenizer(models.WordLevel(vocab, unk_token='<pad>')); tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tk, pad_token='<pad>', eos_token='<eos>')

def pairs(n:int, seq_len:int, n_words:int)->list:
    "Plain-text preference rows: a prompt of seq_len/2 words, two completions that fill the rest (eos included)."
    import random
    rng, half = random.Random(0), seq_len // 2
    words = lambda k: ' '.join(f'w{rng.randrange(n_words)}' for _ in range(k))
    return [dict(prompt=words(half), chosen=words(seq_len - half - 2), rejected=words(seq_len - half - 2)) for _ in range(n)]

def build(arch:str, device:str):
    "A random-weight causal LM of `arch` on `device` (bf16 on GPU, fp32 on CPU)."
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    cfg = Qwen2Config(vocab_size=VOCAB if arch != 'tiny' else 512, max_position_embeddings=32768, pad_token_id=0, eos_token_id=1,
                      **ARCHS[arch])
    dtype = torch.bfloat16 if device == 'cuda' else torch.float32
    with torch.device(device): m = Qwen2ForCausalLM._from_config(cfg, dtype=dtype)
    return m

def estimate(arch, method, ref, pairs_, seq_len, lora_r)->float|None:
    "llmbook's `dpo_estimate` (allocated GB) for the same configuration, when llmbook is importable."
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # the repository, if this is a checkout
    try:
        from llmbook.dpo import dpo_estimate
        from llmbook.hw import GB
    except Exception: return None
    if arch not in HUB: return None
    try:
        e = dpo_estimate(HUB[arch], method, pairs_, seq_len, ref_model=HUB[arch] if ref == 'model' else None,
                         precompute=ref == 'precomputed', dtype='bfloat16', precision='pure', grad_ckpt=True, lora_r=lora_r)
        return round(e.allocated / GB, 3)
    except Exception as err:   # an estimator that cannot size this case is recorded, not fatal
        return f'{type(err).__name__}: {err}'[:200]

def run_one(arch:str, name:str, a, device:str, tmp:str)->dict:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer
    method, ref = VARIANTS[name]
    row = dict(model=arch, variant=name, method=method, reference=ref, pairs=a.pairs, seq_len=a.seq_len, steps=a.steps, lora_r=a.lora_r)
    cuda = device == 'cuda'
    if cuda: gc.collect(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats()
    t0 = time.time()
    try:
        tok = tokenizer(a.words)
        model = build(arch, device)
        ref_model = build(arch, device).eval().requires_grad_(False) if ref == 'model' else None
        fields = {f.name for f in dataclasses.fields(DPOConfig)}
        ckpt = 'activation_checkpointing' if 'activation_checkpointing' in fields else 'gradient_checkpointing'
        args = DPOConfig(output_dir=tmp, max_steps=a.steps, per_device_train_batch_size=a.pairs, gradient_accumulation_steps=1,
                         learning_rate=1e-5, max_length=a.seq_len, precompute_ref_log_probs=ref == 'precomputed',
                         precompute_ref_batch_size=a.pairs, bf16=cuda, use_cpu=not cuda, logging_steps=1, save_strategy='no',
                         report_to='none', disable_tqdm=True, **{ckpt: True})
        class Peak(TrainerCallback):
            def on_train_begin(self, *_, **__):
                if cuda: row['before_train_gb'] = round(torch.cuda.max_memory_allocated() / 1e9, 3); torch.cuda.reset_peak_memory_stats()
        peft_config = LoraConfig(r=a.lora_r, lora_alpha=2 * a.lora_r, target_modules='all-linear', task_type='CAUSAL_LM') if method == 'lora' else None
        tr = DPOTrainer(model=model, ref_model=ref_model, args=args, processing_class=tok, peft_config=peft_config,
                        train_dataset=Dataset.from_list(pairs(a.pairs * a.steps, a.seq_len, a.words)), callbacks=[Peak()])
        row['tokens_per_sequence'] = len(tr.train_dataset[0]['prompt_ids']) + len(tr.train_dataset[0]['chosen_ids']) \
            if 'prompt_ids' in tr.train_dataset.column_names else None
        out = tr.train()
        row.update(ok=True, global_step=out.global_step, loss=round(out.training_loss, 4))
        if cuda:
            row['train_gb'] = round(torch.cuda.max_memory_allocated() / 1e9, 3)
            row['peak_gb'] = max(row['train_gb'], row.get('before_train_gb', 0))
        del tr, model, ref_model
    except Exception as err:
        row.update(ok=False, error=f'{type(err).__name__}: {err}'[:400])
        if cuda: row['peak_before_error_gb'] = round(torch.cuda.max_memory_allocated() / 1e9, 3)
    row['seconds'] = round(time.time() - t0, 1)
    row['estimate_gb'] = estimate(arch, method, ref, a.pairs, a.seq_len, a.lora_r)
    return row

def ratios(rows:list)->list:
    "Peak-memory ratios between variants of the same model, measured in this run."
    out = []
    for arch in dict.fromkeys(r['model'] for r in rows):
        peak = {r['variant']: r.get('peak_gb') for r in rows if r['model'] == arch and r.get('ok')}
        for num, den in RATIOS:
            if peak.get(num) and peak.get(den):
                out.append(dict(model=arch, ratio=f'{num} / {den}', value=round(peak[num] / peak[den], 3), num_gb=peak[num], den_gb=peak[den]))
    return out

def main(argv=None)->int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('out', nargs='?', help='JSON file to write (rows, ratios, versions)')
    ap.add_argument('--out', dest='out_opt', help='the same, as an option (bench/run_all.py passes --out)')
    ap.add_argument('--models', nargs='+', default=['qwen2.5-1.5b', 'qwen2.5-3b'], choices=[k for k in ARCHS if k != 'tiny'])
    ap.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument('--pairs', type=int, default=2, help='preference pairs per step')
    ap.add_argument('--seq-len', type=int, default=1024, help='tokens of prompt + completion')
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--lora-r', type=int, default=16)
    ap.add_argument('--words', type=int, default=5000, help='word-level vocabulary of the built tokenizer')
    ap.add_argument('--tiny', action='store_true', help='CPU, tiny model, 64 tokens: checks the script, measures nothing')
    a = ap.parse_args(argv)
    a.out = a.out_opt or a.out
    if not a.out: ap.error("give the JSON file to write (OUT or --out)")
    import torch, transformers, peft, trl
    if a.tiny: models, device, a.seq_len, a.steps, a.words = ['tiny'], 'cpu', min(a.seq_len, 64), min(a.steps, 2), 400
    elif not torch.cuda.is_available(): print('dpo_memory: needs a CUDA GPU (or --tiny)', file=sys.stderr); return 2
    else: models, device = a.models, 'cuda'
    meta = dict(gpu=torch.cuda.get_device_name(0) if device == 'cuda' else 'cpu (tiny check)', torch=torch.__version__,
                transformers=transformers.__version__, peft=peft.__version__, trl=trl.__version__, argv=sys.argv[1:])
    rows, t0 = [], time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for arch in models:
            for name in a.variants:
                rows.append(run_one(arch, name, a, device, tmp))
                print(json.dumps(rows[-1]), flush=True)
                doc = dict(meta, seconds=round(time.time() - t0, 1), rows=rows, ratios=ratios(rows))
                tmp_out = a.out + '.tmp'
                with open(tmp_out, 'w') as f: json.dump(doc, f, indent=1)
                os.replace(tmp_out, a.out)
    for r in doc['ratios']: print(f"{r['model']:14s} {r['ratio']:34s} {r['value']:.3f}  ({r['num_gb']:.2f} / {r['den_gb']:.2f} GB)")
    print(f"wrote {a.out} ({len(rows)} rows, {sum(r.get('ok', False) for r in rows)} ok, {doc['seconds']:.0f} s)")
    return 0 if all(r.get('ok') for r in rows) else 1

if __name__ == '__main__': sys.exit(main())
