"Scratch BPE == tokenizers on random corpora; byte-level decoding; assistant masks; vocab checks."
import random
import pytest
from llmbook import lab
from llmbook.tok import (train_bpe, encode, decode, train_hf_bpe, hf_merges, token_bytes, LAB_SPLIT,
                         stream_decode, assistant_mask, check_vocab)

ALPHA = list("ab c.'\n") + list("中文字的一國臺") + ['😀', 'é', '  ', "'s"]

def rand_texts(rng, n=150, maxlen=40):
    return [''.join(rng.choice(ALPHA) for _ in range(rng.randint(1, maxlen))) for _ in range(n)]

@pytest.mark.parametrize('seed', range(8))
def test_scratch_bpe_equals_tokenizers(seed):
    rng = random.Random(seed)
    texts = rand_texts(rng)
    vocab_size, min_freq = 256 + rng.randint(20, 120), rng.choice([0, 2, 5])
    merges, vocab = train_bpe(texts, vocab_size, min_frequency=min_freq)
    hf = train_hf_bpe(texts, vocab_size, min_frequency=min_freq)
    assert hf_merges(hf) == merges
    assert hf.get_vocab_size() == len(vocab)
    for t in rand_texts(rng, n=30, maxlen=60):  # unseen text
        ids = encode(t, merges, vocab)
        assert hf.encode(t).ids == ids
        assert decode(ids, vocab) == t

@pytest.mark.parametrize('seed', range(4))
def test_scratch_bpe_equals_lab_tokenizer(seed):
    "Same parity with the lab's pre-tokenizer (digits and CJK isolated) and its special tokens."
    rng = random.Random(100 + seed)
    texts = rand_texts(rng) + [f'{rng.randint(0, 9999)} 的國字' for _ in range(50)]
    vocab_size = 256 + len(lab.SPECIALS) + rng.randint(20, 120)
    tok = lab.train_tokenizer(texts, vocab_size=vocab_size)
    merges, vocab = train_bpe(texts, vocab_size - len(lab.SPECIALS), pattern=LAB_SPLIT)
    assert hf_merges(tok.backend_tokenizer) == merges
    for t in rand_texts(rng, n=30, maxlen=60):
        ids = tok(t, add_special_tokens=False).input_ids
        assert token_bytes(tok, ids) == [vocab[i] for i in encode(t, merges, vocab, LAB_SPLIT)]

def test_first_seen_tiebreak_differs():
    texts = rand_texts(random.Random(0))
    assert train_bpe(texts, 356, tie='first')[0] != train_bpe(texts, 356)[0]

@pytest.fixture(scope='module')
def tok():
    texts = rand_texts(random.Random(1), n=300)
    return lab.train_tokenizer(texts, vocab_size=256 + len(lab.SPECIALS) + 100)

def test_byte_decode_fix(tok):
    rng = random.Random(2)
    for _ in range(50):
        text = ''.join(rng.choice(ALPHA + ['齉', '龘', '𠀋']) for _ in range(rng.randint(1, 30)))
        ids = tok(text, add_special_tokens=False).input_ids
        assert b''.join(token_bytes(tok, ids)).decode() == text
        pieces = stream_decode(tok, ids)
        assert ''.join(pieces) == text == tok.decode(ids)
        assert '\ufffd' not in ''.join(pieces)
    ids = tok('齉', add_special_tokens=False).input_ids
    assert len(ids) == 3 and '\ufffd' in ''.join(tok.decode([i]) for i in ids)  # the bug being fixed

def rand_conv(rng):
    msgs = [{'role': 'system', 'content': 'sys 中文'}] if rng.random() < .5 else []
    for _ in range(rng.randint(1, 3)):
        msgs += [{'role': 'user', 'content': ''.join(rng.choice(ALPHA) for _ in range(rng.randint(1, 15)))},
                 {'role': 'assistant', 'content': ''.join(rng.choice(ALPHA) for _ in range(rng.randint(1, 15))).strip() or 'x'}]
    return msgs

def test_assistant_mask_matches_generation_markers(tok):
    rng = random.Random(3)
    for _ in range(30):
        msgs = rand_conv(rng)
        enc = tok.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
        mask = assistant_mask(tok, msgs)
        assert mask == [bool(x) for x in enc['assistant_masks']]
        picked = tok.decode([i for i, m in zip(enc['input_ids'], mask) if m])
        replies = [m['content'] + '<|end|>' for m in msgs if m['role'] == 'assistant']
        assert all(r in picked for r in replies) and picked.count('<|end|>') == len(replies)
        assert len(picked) - len(''.join(replies)) <= len(replies)  # at most a header newline merged into a reply's first token

def test_assistant_mask_rejects_unstable_template(tok):
    t = lab.train_tokenizer(rand_texts(random.Random(5)), vocab_size=300)
    t.chat_template = "{% for m in messages %}{% if loop.last %}LAST:{% endif %}{{ m['content'] }}{% endfor %}"
    with pytest.raises(ValueError, match='prefix-stable'):
        assistant_mask(t, [{'role': 'user', 'content': 'a'}, {'role': 'assistant', 'content': 'b'}])

def test_trl_labels_only_on_assistant(tok, tmp_path):
    "TRL's own dataset preparation with assistant_only_loss=True puts labels exactly on our mask."
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer
    rng = random.Random(4)
    convs = [rand_conv(rng) for _ in range(6)]
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256))
    args = SFTConfig(output_dir=str(tmp_path), assistant_only_loss=True, use_cpu=True, bf16=False, report_to=[],
                     max_length=None, activation_checkpointing=False)  # TRL's default asks for checkpointing by its deprecated name
    tr = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_dict({'messages': convs}), processing_class=tok)
    for row, msgs in zip(tr.train_dataset, convs):
        labels, mask = row['labels'], assistant_mask(tok, msgs)
        assert len(labels) == len(mask)
        assert [l != -100 for l in labels] == mask
        assert [l for l in labels if l != -100] == [i for i, m in zip(row['input_ids'], mask) if m]

def test_check_vocab(tok):
    from transformers import LlamaConfig
    assert 'padding rows' in check_vocab(LlamaConfig(vocab_size=len(tok) + 64), tok)
    assert check_vocab(LlamaConfig(vocab_size=len(tok)), tok).startswith('ok')
    with pytest.raises(ValueError, match='resize_token_embeddings'):
        check_vocab(LlamaConfig(vocab_size=len(tok) - 1), tok)

def test_check_vocab_finds_text_config():
    "Gemma 3's published config keeps `vocab_size` in `text_config` (the stand-in Hub uses that config)."
    from pathlib import Path
    from transformers import AutoConfig
    from llmbook.tok import embedding_rows
    cfg = AutoConfig.from_pretrained(Path(__file__).resolve().parents[1]/'tools'/'standin_data'/'configs'/'google--gemma-3-4b-it.json')
    assert not hasattr(cfg, 'vocab_size') and cfg.get_text_config() is not cfg   # the case that used to fail
    rows = cfg.get_text_config().vocab_size
    assert embedding_rows(cfg) == rows
    class Tok:  # only len() matters
        def __init__(self, n): self.n = n
        def __len__(self): return self.n
    assert check_vocab(cfg, Tok(rows - 63)).endswith('(63 padding rows, never produced by the tokenizer)')
    with pytest.raises(ValueError, match='resize_token_embeddings'): check_vocab(cfg, Tok(rows + 1))
    with pytest.raises(ValueError, match='cannot find the vocabulary size'): embedding_rows(object())

def test_real_tokenizers_fail_loudly_without_npm(monkeypatch, tmp_path):
    "No npm and nothing cached: an error naming the cause, never an empty (vacuous) comparison."
    import shutil
    from llmbook.npm import NpmTokenizerError
    from llmbook.tok import real_tokenizers
    monkeypatch.setenv('LLMBOOK_TOKENIZERS', str(tmp_path))
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    with pytest.raises(NpmTokenizerError, match='npm is not on PATH'): real_tokenizers()
