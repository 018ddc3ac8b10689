"Stand-in for the lab (guozi task, char-level BPE with a training-ready chat template, tiny random Llama) used by the train tests."
import random, torch
from tokenizers import Tokenizer, models, trainers, pre_tokenizers, decoders, Regex
from transformers import PreTrainedTokenizerFast, LlamaConfig, LlamaForCausalLM

DIG = '零一二三四五六七八九'
def guozi(n):
    if n < 10: return DIG[n]
    h, t, o = n//100, n//10%10, n%10
    s = ''
    if h: s += DIG[h] + '百'
    if t: s += ('' if (not h and t == 1) else DIG[t]) + '十'
    elif h and o: s += '零'
    if o: s += DIG[o]
    return s

TASKS = {'guozi': 'Arabic numerals to 國字'}

def items(task='guozi', split='train', n=None, seed=0):
    assert task == 'guozi', task
    xs = list(range(1000)); random.Random(seed).shuffle(xs)
    xs = xs[:800] if split == 'train' else xs[800:]
    out = [dict(prompt=f'{x} 的國字寫法？', answer=guozi(x)) for x in xs]
    return out[:n] if n else out

def messages(it): return [dict(role='user', content=it['prompt']), dict(role='assistant', content=it['answer'])]

TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'user' %}{{ '<|user|>' + m['content'] + '<|end|>' }}"
            "{% elif m['role'] == 'assistant' %}{{ '<|assistant|>' }}{% generation %}{{ m['content'] + '<|end|>' }}{% endgeneration %}"
            "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")

def tokenizer():
    specials = ['<pad>', '<s>', '<|end|>', '<|user|>', '<|assistant|>']
    tk = Tokenizer(models.BPE(unk_token=None))
    tk.pre_tokenizer = pre_tokenizers.Split(Regex('.'), 'isolated')
    tk.decoder = decoders.Fuse()
    text = [m['content'] for it in items('guozi', 'train')+items('guozi', 'heldout') for m in messages(it)]
    tk.train_from_iterator(text + ['0123456789 的國字寫法？零一二三四五六七八九十百千', 'abcdefghijklmnopqrstuvwxyz'], trainers.BpeTrainer(vocab_size=64, special_tokens=specials, show_progress=False))
    t = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token='<pad>', bos_token='<s>', eos_token='<|end|>')
    t.chat_template = TEMPLATE
    return t

def model(tok, seed=0, hidden=128, layers=2):
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2*hidden, num_hidden_layers=layers, num_attention_heads=4,
                      num_key_value_heads=4, max_position_embeddings=64, pad_token_id=tok.pad_token_id,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, tie_word_embeddings=True)
    torch.manual_seed(seed); return LlamaForCausalLM(cfg)

@torch.no_grad()
def evaluate(m, tok, task='guozi', n=None, split='heldout'):
    its = items(task, split, n); m.eval(); side, tok.padding_side = tok.padding_side, 'left'
    ok = 0
    for i in range(0, len(its), 64):
        b = its[i:i+64]
        enc = tok.apply_chat_template([[messages(x)[0]] for x in b], add_generation_prompt=True, return_tensors='pt', padding=True, return_dict=True)
        out = m.generate(**enc, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
        for x, o in zip(b, out[:, enc['input_ids'].shape[1]:]):
            ok += tok.decode(o, skip_special_tokens=True).strip() == x['answer']
    tok.padding_side = side
    return ok/len(its)
