"""Packing vs padding for a short SFT run: tokens/s of real (non-pad) tokens and padding waste.

Trains the same model on the same chat data with TRL's SFTTrainer, `packing=False` and `packing=True`
(padding-free, BFD), and reports the speed ratio measured in this one run. Not a test: timings depend on the machine.
`--data lab`: the lab base model and the lab SFT data (the tour's SFT). `--data mixed`: a random tiny Llama on
synthetic conversations with a wide length spread, where padding is expensive.

    python bench/packing.py [--data lab|mixed] [--steps 20] [--out bench/results/packing-lab.json]
    python bench/packing.py --tiny   # 3 steps on 64 rows: checks the script
"""
import argparse, json, os, random, tempfile, time
os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')

def chat_data(n, seed=0):
    "Conversations with a wide length spread (what makes padding expensive)."
    rng = random.Random(seed)
    words = ['小明', '颱風天', '因為下雨', '寫程式', '整理資料', '去夜市', '學日文', '練習游泳', '煮牛肉麵', '種番茄']
    def text(k): return '。'.join(''.join(rng.choice(words) for _ in range(4)) for _ in range(k)) + '。'
    return [{'messages': [{'role': 'user', 'content': text(rng.choice([1, 1, 2, 3, 6, 12]))},
                          {'role': 'assistant', 'content': text(rng.randint(1, 3))}]} for _ in range(n)]

def tokenizer(data):
    from tokenizers import Tokenizer, models, trainers, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    from llmbook.data import record_text
    bpe = Tokenizer(models.BPE(unk_token='<unk>')); bpe.pre_tokenizer = pre_tokenizers.Punctuation()
    bpe.train_from_iterator([record_text(r) for r in data], trainers.BpeTrainer(
        vocab_size=300, special_tokens=['<pad>', '<unk>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>']))
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token='<pad>', unk_token='<unk>', eos_token='<|end|>')
    tok.chat_template = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    return tok

def new_model(kind, tok):
    "A fresh model for one run: the shipped lab base, or a random tiny Llama sized to `tok`."
    from transformers import LlamaConfig, LlamaForCausalLM
    if kind == 'lab':
        from llmbook import lab
        return lab.model().train()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=128, intermediate_size=256, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    return LlamaForCausalLM(cfg)

def run(kind, packing, data, tok, steps, batch, max_length):
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer
    torch.manual_seed(0)
    model = new_model(kind, tok)
    seen, steps_t = {'real': [], 'total': []}, []
    class Clock(TrainerCallback):
        "Time each optimizer step, so Trainer start-up does not count."
        def on_step_begin(self, *a, **k): steps_t.append([time.perf_counter()])
        def on_step_end(self, *a, **k): steps_t[-1].append(time.perf_counter())
    def count(mod, args, kw):
        "Count real and padded tokens in the batches the model actually sees."
        ids, am = kw.get('input_ids'), kw.get('attention_mask')
        if len(seen['total']) < len(steps_t): seen['total'].append(0); seen['real'].append(0)
        seen['total'][-1] += ids.numel()
        seen['real'][-1] += int(am.sum()) if am is not None else ids.numel()
    model.register_forward_pre_hook(count, with_kwargs=True)
    with tempfile.TemporaryDirectory() as d:
        args = SFTConfig(output_dir=d, max_steps=steps, per_device_train_batch_size=batch, max_length=max_length,
                         packing=packing, learning_rate=1e-3, logging_steps=steps, save_strategy='no', report_to=[],
                         use_cpu=True, bf16=False, gradient_checkpointing=False, dataloader_num_workers=0, seed=0)
        tr = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(data), processing_class=tok, callbacks=[Clock()])
        tr.train()
    # skip the first step (warm-up); tokens and seconds over the remaining steps
    dt = sum(e - b for b, e in steps_t[1:]); real, total = sum(seen['real'][1:]), sum(seen['total'][1:])
    return {'timed_steps': len(steps_t) - 1, 'seconds': round(dt, 3), 'real_tokens': real, 'total_tokens': total,
            'padding_waste': round(1 - real / total, 4), 'real_tokens_per_s': round(real / dt, 1),
            'final_loss': round(tr.state.log_history[-1]['train_loss'], 4)}

def main():
    p = argparse.ArgumentParser()
    p.add_argument('--steps', type=int, default=20); p.add_argument('--batch', type=int, default=8)
    p.add_argument('--max-length', type=int, default=256); p.add_argument('--n', type=int, default=800)
    p.add_argument('--data', choices=['lab', 'mixed'], default='lab'); p.add_argument('--out', default=None)
    p.add_argument('--tiny', action='store_true', help='3 steps on 64 rows (checks the script, not the numbers)')
    a = p.parse_args()
    if a.tiny: a.steps, a.n, a.max_length = 3, 64, 64
    a.out = a.out or f'bench/results/packing-{a.data}.json'
    import torch; torch.set_num_threads(min(2, os.cpu_count() or 1))
    if a.data == 'lab':
        from llmbook import lab
        data, tok = list(lab.sft_dataset(n=a.n)), lab.tokenizer()
        a.max_length = min(a.max_length, lab.model().config.max_position_embeddings)
    else: data = chat_data(a.n); tok = tokenizer(data)
    model_desc = 'llmbook lab base' if a.data == 'lab' else 'random tiny Llama (4 layers, hidden 128)'
    res = {'setup': {'data': a.data, 'model': model_desc, 'steps': a.steps, 'batch': a.batch,
                     'max_length': a.max_length, 'torch_threads': torch.get_num_threads(),
                     'cpu_count': os.cpu_count(), 'loadavg_1min_at_start': round(os.getloadavg()[0], 2)}}
    res['padded'] = run(a.data, False, data, tok, a.steps, a.batch, a.max_length)
    res['packed'] = run(a.data, True, data, tok, a.steps, a.batch, a.max_length)
    # a bigger padded batch that sees about as many real tokens per step as the packed one: separates
    # "no padding" from "more tokens per step"
    per_step = res['packed']['real_tokens'] / res['packed']['timed_steps']
    mean_len = res['padded']['real_tokens'] / res['padded']['timed_steps'] / a.batch
    big = max(a.batch, round(per_step / mean_len))
    res['padded_same_tokens_per_step'] = {'batch': big, **run(a.data, False, data, tok, a.steps, big, a.max_length)}
    tps = lambda k: res[k]['real_tokens_per_s']
    res['speedup_packed_over_padded'] = round(tps('packed') / tps('padded'), 2)
    res['speedup_packed_over_padded_same_tokens_per_step'] = round(tps('packed') / tps('padded_same_tokens_per_step'), 2)
    res['setup']['loadavg_1min_at_end'] = round(os.getloadavg()[0], 2)  # a busy machine skews every timing
    print(json.dumps(res, ensure_ascii=False, indent=2))
    if a.out:
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, 'w') as f: json.dump(res, f, ensure_ascii=False, indent=2); f.write('\n')

if __name__ == '__main__': main()
