"GGUF export (`llmbook gguf`): round trip through gguf.GGUFReader, metadata, chat template, CLI refusals, atomic writes."
import json, os, shutil, subprocess, sys
from collections import namedtuple
from pathlib import Path
import numpy as np
import pytest, torch
import gguf
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llmbook import lab
from llmbook import quant
from llmbook.quant import (GGUF_TYPES, export_gguf, read_gguf, gguf_tensor_name, gguf_vocab, gguf_chat_template, gguf_main,
                           permute_qk, estimate_gguf_bytes, gguf_plan)

CONVERSATIONS = [
    ([{'role': 'user', 'content': '把 305 寫成國字'}], True),
    ([{'role': 'user', 'content': '計算 37+48'}, {'role': 'assistant', 'content': '85'}], False),
    ([{'role': 'system', 'content': '你是國字小老師。'}, {'role': 'user', 'content': '計算 12+30'},
      {'role': 'assistant', 'content': '42'}, {'role': 'user', 'content': '把「山水」倒過來寫'}], True)]

@pytest.fixture(scope='module')
def lab_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp('gguf')
    m, tok = lab.model(), lab.tokenizer()
    m.save_pretrained(d/'lab'); tok.save_pretrained(d/'lab')
    for t in GGUF_TYPES: export_gguf(d/'lab', d/f'lab-{t}.gguf', t)
    return d

@pytest.fixture(scope='module')
def model(): return lab.model()

@pytest.fixture(scope='module')
def tok(): return lab.tokenizer()

def _cli(*args, env=None):
    code = 'import sys; from llmbook.cli import main; sys.exit(main(sys.argv[1:]))'
    return subprocess.run([sys.executable, '-c', code, 'gguf', *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, 'HF_HUB_OFFLINE': '1', **(env or {})})

def test_names_match_gguf_library(model):
    m = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, model.config.num_hidden_layers)
    for k in model.state_dict():
        assert gguf_tensor_name(k) == m.get_name(k, try_suffixes=('.weight',)), k

def _rope_half(x, pos):
    d = x.shape[-1]; ang = pos * 10000.0 ** (-torch.arange(0, d, 2) / d)
    c, s = torch.cat([ang.cos()] * 2), torch.cat([ang.sin()] * 2)
    return x * c + torch.cat([-x[..., d//2:], x[..., :d//2]], -1) * s

def _rope_interleaved(x, pos):
    d = x.shape[-1]; ang = pos * 10000.0 ** (-torch.arange(0, d, 2) / d); p = x.reshape(*x.shape[:-1], d // 2, 2)
    return torch.stack([p[..., 0] * ang.cos() - p[..., 1] * ang.sin(), p[..., 0] * ang.sin() + p[..., 1] * ang.cos()], -1).reshape(x.shape)

def test_permutation_turns_rotate_half_into_interleaved_rope():
    g = torch.Generator().manual_seed(0)
    H, D = 4, 16
    q = torch.randn(H * D, generator=g)
    for pos in (1, 7, 50):   # llama.cpp's RoPE on the permuted rows = permuted HF RoPE
        hf = _rope_half(q.view(H, D), pos).reshape(-1)
        assert torch.allclose(_rope_interleaved(permute_qk(q, H).view(H, D), pos).reshape(-1), permute_qk(hf, H), atol=1e-6)
    assert not torch.allclose(_rope_interleaved(q.view(H, D), 7), _rope_half(q.view(H, D), 7), atol=1e-3)

def _block_bound(x, t):
    "Worst error a block quantizer of type t may make on each value of x (rows split in blocks of 32)."
    amax = np.abs(x.reshape(-1, 32)).max(1, keepdims=True)
    step = {'Q8_0': amax / 127 / 2, 'Q4_0': amax / 8}[t]
    return np.broadcast_to(step * 1.01 + amax * 2**-10, (len(amax), 32)).reshape(x.shape)

@pytest.mark.parametrize('t', list(GGUF_TYPES))
def test_every_tensor_round_trips(lab_dir, model, t):
    meta, tensors, types = read_gguf(lab_dir/f'lab-{t}.gguf')
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    cfg = model.config
    assert 'output.weight' not in tensors and cfg.tie_word_embeddings          # tied: no separate output layer
    assert set(tensors) == {gguf_tensor_name(k) for k in sd if k != 'lm_head.weight'}
    for k, v in sd.items():
        if k == 'lm_head.weight': continue
        if 'q_proj' in k: v = permute_qk(v, cfg.num_attention_heads)
        if 'k_proj' in k: v = permute_qk(v, cfg.num_key_value_heads)
        got, ty = tensors[gguf_tensor_name(k)], types[gguf_tensor_name(k)]
        assert got.shape == v.shape, k
        if ty == 'F32': assert np.array_equal(got, v), k
        elif ty == 'F16': assert np.array_equal(got, v.astype(np.float16).astype(np.float32)), k
        else: assert (np.abs(got - v) <= _block_bound(v, ty)).all(), (k, ty)
    expect = {'f32': {'F32'}, 'f16': {'F16', 'F32'}, 'q8_0': {'Q8_0', 'F32'}, 'q4_0': {'Q4_0', 'Q8_0', 'F32'}}[t]
    assert set(types.values()) == expect
    if t == 'q4_0': assert types['token_embd.weight'] == 'Q8_0'      # tied embedding = output layer keeps 8 bits

def test_metadata(lab_dir, model, tok):
    meta, _, _ = read_gguf(lab_dir/'lab-q8_0.gguf')
    c = model.config
    want = {'general.architecture': 'llama', 'llama.block_count': c.num_hidden_layers,
            'llama.context_length': c.max_position_embeddings, 'llama.embedding_length': c.hidden_size,
            'llama.feed_forward_length': c.intermediate_size, 'llama.attention.head_count': c.num_attention_heads,
            'llama.attention.head_count_kv': c.num_key_value_heads, 'llama.rope.freq_base': c.rope_parameters['rope_theta'],
            'llama.rope.dimension_count': c.head_dim, 'llama.vocab_size': c.vocab_size,
            'general.file_type': int(gguf.LlamaFileType.MOSTLY_Q8_0), 'tokenizer.ggml.model': 'gpt2',
            'tokenizer.ggml.pre': 'gpt-2', 'tokenizer.ggml.bos_token_id': tok.bos_token_id,
            'tokenizer.ggml.eos_token_id': tok.eos_token_id, 'tokenizer.ggml.padding_token_id': tok.pad_token_id,
            'tokenizer.ggml.add_bos_token': False, 'tokenizer.ggml.add_eos_token': False}
    for k, v in want.items(): assert meta[k] == v, (k, meta[k], v)
    assert abs(meta['llama.attention.layer_norm_rms_epsilon'] - c.rms_norm_eps) < 1e-9
    assert meta['tokenizer.ggml.tokens'] == [tok.convert_ids_to_tokens(i) for i in range(c.vocab_size)]
    types = meta['tokenizer.ggml.token_type']
    assert [i for i, t in enumerate(types) if t == gguf.TokenType.CONTROL] == sorted(tok.convert_tokens_to_ids(lab.SPECIALS))
    assert meta['tokenizer.chat_template'] == gguf_chat_template(tok.chat_template)

def test_chat_template_renders_like_transformers(lab_dir, tok):
    meta, _, _ = read_gguf(lab_dir/'lab-f16.gguf')
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)   # plain Jinja, no transformers extension
    with pytest.raises(Exception, match='generation'): env.from_string(tok.chat_template)
    t = env.from_string(meta['tokenizer.chat_template'])
    for msgs, gen in CONVERSATIONS:
        assert t.render(messages=msgs, add_generation_prompt=gen, bos_token=tok.bos_token, eos_token=tok.eos_token) == \
               tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)

def test_transformers_reads_the_export_back(lab_dir, model, tok):
    "transformers' own GGUF loader (its un-permutation, its tokenizer rebuild) gives back the same model."
    from transformers import AutoModelForCausalLM, AutoTokenizer
    ids = tok(lab.heldout_texts()[:8], return_tensors='pt', padding=True)['input_ids']
    with torch.no_grad(): ref = model(ids).logits
    g = AutoModelForCausalLM.from_pretrained(lab_dir, gguf_file='lab-f32.gguf', dtype=torch.float32).eval()
    with torch.no_grad(): assert (g(ids).logits - ref).abs().max() < 1e-5
    export_gguf(lab_dir/'lab', lab_dir/'noperm.gguf', 'f32', permute=False)
    bad = AutoModelForCausalLM.from_pretrained(lab_dir, gguf_file='noperm.gguf', dtype=torch.float32).eval()
    with torch.no_grad(): assert (bad(ids).logits - ref).abs().max() > 0.1         # the check can fail
    gt = AutoTokenizer.from_pretrained(lab_dir, gguf_file='lab-f32.gguf')
    texts = lab.heldout_texts()[::50] + [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=g) for m, g in CONVERSATIONS]
    for x in texts: assert gt(x, add_special_tokens=False)['input_ids'] == tok(x, add_special_tokens=False)['input_ids'], x

def _vocab_size(lab_dir)->int: return json.loads((lab_dir/'lab'/'config.json').read_text())['vocab_size']

def test_lab_tokenizer_is_a_known_pre_tokenizer(lab_dir):
    "If the lab's pre-tokenizer changes, KNOWN_PRE must be re-checked against llama.cpp (bench/llamacpp_parity.py)."
    assert gguf_vocab(lab_dir/'lab', _vocab_size(lab_dir))['pre'] == 'gpt-2'

@pytest.mark.parametrize('t', list(GGUF_TYPES))
def test_size_estimate_is_a_tight_upper_bound(lab_dir, t):
    plan = gguf_plan(lab_dir/'lab', t)
    est = estimate_gguf_bytes(plan, gguf_vocab(lab_dir/'lab', _vocab_size(lab_dir)))
    size = (lab_dir/f'lab-{t}.gguf').stat().st_size
    assert size <= est <= size + 64 * 1024

def test_rows_not_divisible_by_block_fall_back_to_f16(tmp_path, tok):
    m = lab.new_model(tok, hidden_size=48, intermediate_size=96, num_attention_heads=2, num_key_value_heads=1)
    m.save_pretrained(tmp_path/'m'); tok.save_pretrained(tmp_path/'m')
    export_gguf(tmp_path/'m', tmp_path/'m.gguf', 'q8_0')
    _, tensors, types = read_gguf(tmp_path/'m.gguf')
    assert types['blk.0.attn_q.weight'] == 'F16' and types['blk.0.ffn_down.weight'] == 'Q8_0'   # 48 vs 96 columns
    k = m.model.layers[0].self_attn.k_proj.weight.detach().numpy()                               # GQA: permuted with 1 head
    assert np.array_equal(tensors['blk.0.attn_k.weight'], permute_qk(k, 1).astype(np.float16).astype(np.float32))

def test_cli_writes_a_file(tmp_path, lab_dir):
    r = _cli(lab_dir/'lab', tmp_path/'out.gguf', '--type', 'q8_0')
    assert r.returncode == 0, r.stderr
    assert 'wrote' in r.stdout and (tmp_path/'out.gguf').stat().st_size == (lab_dir/'lab-q8_0.gguf').stat().st_size

def _one_line_error(r, code, text):
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('llmbook: error:') and text in lines[0], r.stderr

def test_cli_refuses_pickled_checkpoints(tmp_path, lab_dir):
    d = tmp_path/'pickled'; d.mkdir()
    shutil.copy(lab_dir/'lab'/'config.json', d); (d/'pytorch_model.bin').write_bytes(b'not unpickled')
    _one_line_error(_cli(d, tmp_path/'x.gguf'), 1, 'pickled')
    assert not (tmp_path/'x.gguf').exists()

def test_cli_refuses_other_architectures(tmp_path, lab_dir):
    d = tmp_path/'qwen'; shutil.copytree(lab_dir/'lab', d)
    cfg = json.loads((d/'config.json').read_text()); cfg.update(architectures=['Qwen2ForCausalLM'], model_type='qwen2')
    (d/'config.json').write_text(json.dumps(cfg))
    _one_line_error(_cli(d, tmp_path/'x.gguf'), 1, 'unsupported architecture Qwen2ForCausalLM')

def test_cli_refuses_unknown_pre_tokenizer_and_accepts_pre(tmp_path, lab_dir):
    d = tmp_path/'tok'; shutil.copytree(lab_dir/'lab', d)
    tj = json.loads((d/'tokenizer.json').read_text()); tj['pre_tokenizer'] = {'type': 'ByteLevel', 'add_prefix_space': False,
                                                                            'trim_offsets': True, 'use_regex': True}
    (d/'tokenizer.json').write_text(json.dumps(tj))
    _one_line_error(_cli(d, tmp_path/'x.gguf'), 1, '--pre')
    assert _cli(d, tmp_path/'x.gguf', '--pre', 'gpt-2').returncode == 0

def test_cli_usage_errors(tmp_path, lab_dir):
    _one_line_error(_cli(lab_dir/'lab', tmp_path/'x.gguf', '--type', 'q2_k'), 2, 'invalid choice')
    _one_line_error(_cli(tmp_path/'missing', tmp_path/'x.gguf'), 1, 'is not a folder')
    _one_line_error(_cli(lab_dir/'lab'), 2, 'required')

def test_refuses_when_the_disk_is_too_small(tmp_path, lab_dir, monkeypatch, capsys):
    usage = namedtuple('usage', 'total used free')
    monkeypatch.setattr(quant.shutil, 'disk_usage', lambda p: usage(10**9, 10**9 - 100_000, 100_000))
    assert gguf_main([str(lab_dir/'lab'), str(tmp_path/'x.gguf'), '--type', 'f32']) == 1
    err = capsys.readouterr().err
    assert err.startswith('llmbook: error:') and 'MiB free' in err
    assert list(tmp_path.iterdir()) == []                                 # nothing written, not even a temp file

def test_failure_mid_write_leaves_no_file(tmp_path, lab_dir, monkeypatch):
    (tmp_path/'x.gguf').write_bytes(b'old')
    calls = {'n': 0}
    real = gguf.quants.quantize
    def flaky(data, qtype):
        calls['n'] += 1
        if calls['n'] == 5: raise OSError('disk went away')
        return real(data, qtype)
    monkeypatch.setattr(gguf.quants, 'quantize', flaky)
    with pytest.raises(OSError): export_gguf(lab_dir/'lab', tmp_path/'x.gguf', 'q8_0')
    assert (tmp_path/'x.gguf').read_bytes() == b'old' and [p.name for p in tmp_path.iterdir()] == ['x.gguf']

def test_untied_model_writes_an_output_layer(tmp_path, tok):
    from transformers import AutoModelForCausalLM
    m = lab.new_model(tok, tie_word_embeddings=False).eval()
    m.save_pretrained(tmp_path/'m'); tok.save_pretrained(tmp_path/'m')
    export_gguf(tmp_path/'m', tmp_path/'m.gguf', 'f32')
    _, tensors, _ = read_gguf(tmp_path/'m.gguf')
    assert np.array_equal(tensors['output.weight'], m.lm_head.weight.detach().numpy())
    g = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file='m.gguf', dtype=torch.float32).eval()
    ids = torch.tensor([[5, 9, 40, 3, 77]])
    with torch.no_grad(): assert (g(ids).logits - m(ids).logits).abs().max() < 1e-5

def test_cli_reports_a_corrupt_safetensors_file(tmp_path, lab_dir):
    d = tmp_path/'corrupt'; shutil.copytree(lab_dir/'lab', d)
    (d/'model.safetensors').write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"bad": json')
    _one_line_error(_cli(d, tmp_path/'x.gguf'), 1, 'llmbook: error:')
