"""The bad-input catalogue: each way a reader's input goes wrong, met through the library with a clear error (or an exact
drop-and-report) before anything is lost. The same items through the `llmbook` command are rows of `BAD` in
tests/test_cli.py (one line `llmbook: error: …`, exit 2 usage / 1 failure); `CLI` below names them and a test checks they exist."""
import json, os, shutil, sys
from collections import namedtuple
from pathlib import Path
import pytest
torch = pytest.importorskip('torch')
from llmbook.train import sft, load_for_sft, check_labels, check_tokenizer, graded_text, to_dataset
import train_standin as lab

HERE = Path(__file__).resolve().parent
CLI = {  # catalogue item -> ids of its CLI cases in tests/test_cli.py BAD ('' where the item has no CLI path)
    'malformed_rows': [], 'no_chat_template': [], 'no_generation_markers': [], 'pad_is_eos': [],
    # tier_too_small: `llmbook vram MODEL --tier t4` answers on stdout with a suggestion and exit status 1
    # (test_cli.py::test_vram_json_numbers_are_rounded); gguf_disk_full: in-process, disk space injected
    # (test_gguf.py::test_refuses_when_the_disk_is_too_small): a subprocess cannot be given a fake disk
    'vocab_mismatch': ['gguf-vocab-mismatch'], 'tier_too_small': [],
    'merge_incompatible': ['merge-shapes-differ'], 'gguf_disk_full': [],
    'missing_model': ['vram-no-model', 'gguf-no-dir', 'vram-offline-hub-id'], 'bad_tier': ['env-bad-tier'],
    'corrupt_safetensors': ['gguf-truncated', 'merge-truncated'], 'pickled_weights': ['gguf-pickled', 'merge-pickled'],
}

def test_every_cli_case_is_in_the_cli_table():
    from test_cli import BAD
    ids = {b[0] for b in BAD}
    assert {i for v in CLI.values() for i in v} <= ids, sorted({i for v in CLI.values() for i in v} - ids)
    items = [n[len('test_'):] for n in globals() if n.startswith('test_') and n[5:] in CLI]
    assert sorted(items) == sorted(CLI), sorted(set(CLI) - set(items))   # one library test per catalogue item

def _sft(tok, out, model=None, rows=None, **kw):
    kw = dict(tier='cpu', max_steps=1, batch_size=8, max_length=64, quiet=True) | kw
    return sft(model or lab.model(tok, hidden=32), rows or lab.items('guozi', 'train', 16), tok, output_dir=out, **kw)

def _trainer(tok, rows, **kw):
    "An SFTTrainer built the way the recipe builds it, not trained."
    import tempfile
    from trl import SFTConfig, SFTTrainer
    from llmbook.train import sft_config
    cfg = sft_config('cpu', 'full', tempfile.mkdtemp(), max_steps=1, batch_size=8, max_length=64, **kw)
    return SFTTrainer(model=lab.model(tok, hidden=32), args=SFTConfig(**cfg), train_dataset=rows, processing_class=tok)

def test_malformed_rows():
    "Every defect is reported by row and field; drop mode keeps the good rows and the counts add up exactly."
    from llmbook.data import validate, DataError
    good = lambda i: {'messages': [{'role': 'user', 'content': f'q{i}'}, {'role': 'assistant', 'content': f'a{i}'}]}
    rows = [good(0), {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'bot', 'content': 'a'}]}, good(2),
            {'messages': [{'role': 'user', 'content': '  '}, {'role': 'assistant', 'content': 'a'}]}, {'instruction': None, 'output': 'x'},
            good(5), {'messages': [{'role': 'user', 'content': 'q'}, {'role': 'assistant', 'content': 7}]}]
    with pytest.raises(DataError) as e: validate(rows)
    msg = str(e.value)
    for where in ('row 1, field messages[1].role', 'row 3, field messages[0].content', 'row 6, field messages[1].content'):
        assert where in msg, msg
    assert {d.row for d in e.value.defects} == {1, 3, 4, 6}
    rep = validate(rows, mode='drop')
    assert (rep.n_in, rep.n_kept, rep.n_dropped, rep.kept_rows, rep.dropped_rows) == (7, 3, 4, [0, 2, 5], [1, 3, 4, 6])
    assert [r['messages'][0]['content'] for r in rep.kept] == ['q0', 'q2', 'q5']

def test_no_chat_template(tmp_path):
    "Chat data with a tokenizer that has no chat template: refused before tokenizing, with what to do (TRL alone says `expected string or bytes-like object, got 'NoneType'`)."
    tok = lab.tokenizer(); tok.chat_template = None
    with pytest.raises(ValueError, match='has no chat template.*tokenizer.chat_template'): _sft(tok, tmp_path/'o')
    assert not (tmp_path/'o').exists() or not list((tmp_path/'o').glob('checkpoint-*'))

def test_no_generation_markers(tmp_path):
    """Assistant-only loss needs to know where replies are. A template without `{% generation %}` markers that TRL cannot
    patch is refused before training; with markers, the graded span of every example is the reply and its end token,
    never the prompt; and `check_labels` stops a run whose labels grade the prompt."""
    tok = lab.tokenizer(); tok.chat_template = lab.TEMPLATE.replace('{% generation %}', '').replace('{% endgeneration %}', '')
    with pytest.raises(ValueError, match='generation'): _sft(tok, tmp_path/'o')
    tok = lab.tokenizer(); its = lab.items('guozi', 'train', 8)
    rows = to_dataset(its)
    tr = _trainer(tok, rows)
    assert check_labels(tr, rows) > 0
    for i, it in enumerate(its): assert graded_text(tr, i) == it['answer'] + '<|end|>'
    everything = _trainer(tok, rows, assistant_only_loss=False)   # labels on every token, prompt included
    with pytest.raises(ValueError, match='grades .* prompt tokens'): check_labels(everything, rows, assistant_only=True)

def test_pad_is_eos():
    "pad == EOS with a collator that masks padding: EOS is never graded, the model never learns to stop; detected and said."
    tok = lab.tokenizer(); tok.pad_token = tok.eos_token
    rows = to_dataset(lab.items('guozi', 'train', 8))
    tr = _trainer(tok, rows)
    assert check_labels(tr, rows) > 0          # TRL's own collator grades the EOS that ends each reply, even when pad == EOS
    assert graded_text(tr, 0).endswith('<|end|>')
    collate = tr.data_collator
    def masks_pad(examples):                   # the classic bug: labels = input_ids with every pad id set to -100
        b = collate(examples); b['labels'][b['input_ids'] == tok.pad_token_id] = -100; return b
    tr.data_collator = masks_pad
    with pytest.raises(ValueError, match='never learns to stop'): check_labels(tr, rows)

def test_vocab_mismatch(tmp_path):
    "A tokenizer with more tokens than the model's embedding rows: refused with both sizes (PyTorch alone: `index out of range in self`)."
    tok = lab.tokenizer(); m = lab.model(tok, hidden=32); m.resize_token_embeddings(len(tok) - 10)
    with pytest.raises(ValueError, match=f'tokenizer has {len(tok)} tokens but the model.s embedding has {len(tok) - 10} rows'):
        _sft(tok, tmp_path/'o', model=m)
    check_tokenizer(lab.model(tok, hidden=32), tok, to_dataset(lab.items('guozi', 'train', 2)))   # a matching pair passes

def test_tier_too_small(tmp_path, monkeypatch):
    "Full fine-tuning of a 7B model on a T4: refused from the config alone, before any weight is allocated, with a cheaper method to try."
    from transformers import AutoModelForCausalLM, LlamaConfig
    from llmbook.vram import VramError
    LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=32, vocab_size=32000).save_pretrained(tmp_path/'llama7b')
    def no_load(*a, **k): raise AssertionError('weights loaded before the memory check')
    monkeypatch.setattr(AutoModelForCausalLM, 'from_pretrained', no_load)
    with pytest.raises(VramError, match=r"tier 't4'.*try: .*(lora|qlora)") as e:
        _sft(lab.tokenizer(), tmp_path/'o', model=str(tmp_path/'llama7b'), method='full', tier='t4')
    assert e.value.suggestion['method'] in ('lora', 'qlora') and e.value.suggestion['total_gb'] <= 15

def _tiny_llama(path, tok=None, **cfg):
    from transformers import LlamaConfig, LlamaForCausalLM
    c = dict(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2) | cfg
    torch.manual_seed(0); LlamaForCausalLM(LlamaConfig(**c)).save_pretrained(path)
    if tok is not None: tok.save_pretrained(path)
    return Path(path)

def test_merge_incompatible(tmp_path):
    "Two models whose tensors have different shapes: refused before writing, naming the tensor and both shapes."
    from llmbook.merge import merge, MergeError
    a, b = _tiny_llama(tmp_path/'a'), _tiny_llama(tmp_path/'b', intermediate_size=48)
    cfg = {'merge_method': 'linear', 'models': [{'model': str(a), 'parameters': {'weight': .5}}, {'model': str(b), 'parameters': {'weight': .5}}]}
    with pytest.raises(MergeError, match=r'tensor model\.layers\.0\.mlp\.\w+_proj\.weight: shapes differ: \(\d+, \d+\) in .*a, \(\d+, \d+\) in .*b'):
        merge(cfg, tmp_path/'out')
    assert not (tmp_path/'out').exists()

def test_gguf_disk_full(tmp_path, monkeypatch):
    "A GGUF export larger than the free disk space (injected): refused before writing, with both sizes; no file, no temp file."
    from llmbook import quant
    from llmbook.quant import export_gguf, GGUFExportError
    from llmbook.lab import tokenizer   # byte-level BPE, which the GGUF writer supports
    tok = tokenizer(); d = _tiny_llama(tmp_path/'m', tok, vocab_size=len(tok))
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(quant.shutil, 'disk_usage', lambda p: usage(10**9, 10**9 - 1000, 1000))
    out = tmp_path/'o'; out.mkdir()
    with pytest.raises(GGUFExportError, match=r'has 0\.0 MiB free but the GGUF needs about [\d.]+ MiB'): export_gguf(d, out/'x.gguf', 'f32')
    assert list(out.iterdir()) == []

def test_missing_model(tmp_path, monkeypatch):
    "A model folder that does not exist, and a Hub id that is not cached while offline: clear errors, nothing trained."
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    with pytest.raises(FileNotFoundError, match='no such model folder'): load_for_sft(str(tmp_path/'nothing'))
    with pytest.raises(OSError, match='cached files'): load_for_sft('llmbook-test/not-a-cached-model')
    with pytest.raises(ValueError, match='cannot read a config'):   # the recipe's memory check reads the config first
        _sft(lab.tokenizer(), tmp_path/'o', model='llmbook-test/not-a-cached-model', tier='t4')

def test_bad_tier():
    "An LLMBOOK_TIER that is not a tier: refused with the list of tiers (also through sft_defaults)."
    from llmbook.hw import tier, TIERS
    from llmbook.train import sft_defaults
    with pytest.raises(ValueError, match="LLMBOOK_TIER='a100' is not a tier; valid tiers: " + ', '.join(TIERS)): tier(env={'LLMBOOK_TIER': 'a100'})
    with pytest.raises(ValueError, match="unknown tier 'a100'"): sft_defaults('a100')
    assert tier(env={'LLMBOOK_TIER': ' t4 '}) == 't4'

def test_corrupt_safetensors(tmp_path):
    "A truncated safetensors file: the loader names the folder and says the file is corrupt or truncated."
    tok = lab.tokenizer(); d = _tiny_llama(tmp_path/'m', tok, vocab_size=len(tok))
    f = d/'model.safetensors'; f.write_bytes(f.read_bytes()[:f.stat().st_size//2])
    with pytest.raises(OSError, match='corrupt or truncated'): load_for_sft(str(d))
    f.write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"bad": json')   # a header that is not JSON
    with pytest.raises(OSError, match='corrupt or truncated'): load_for_sft(str(d))

def test_pickled_weights(tmp_path):
    """A user folder holding only pickled weights is refused (unpickling can run code) unless the user opts in;
    `trust_remote_code` defaults to False along the recipe's path."""
    import inspect
    tok = lab.tokenizer(); m = lab.model(tok, hidden=32)
    d = tmp_path/'pk'; d.mkdir(); m.config.save_pretrained(d); tok.save_pretrained(d)
    torch.save(m.state_dict(), d/'pytorch_model.bin')
    with pytest.raises(ValueError, match=r'only pickled weights \(pytorch_model\.bin\).*allow_pickle=True'): load_for_sft(str(d))
    loaded, _ = load_for_sft(str(d), allow_pickle=True)      # opted in: loads, and the weights are the saved ones
    assert torch.equal(loaded.model.embed_tokens.weight, m.model.embed_tokens.weight)
    assert inspect.signature(load_for_sft).parameters['trust_remote_code'].default is False
    assert inspect.signature(load_for_sft).parameters['allow_pickle'].default is False
