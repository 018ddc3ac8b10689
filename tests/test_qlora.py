"NF4 from scratch vs bitsandbytes; the CPU 4-bit gradient trap stays guarded."
import copy, json, subprocess, sys, tempfile
from pathlib import Path
import pytest, torch
from torch import nn
import bitsandbytes as bnb  # a dev dependency: imported, not skipped
import bitsandbytes.functional as F
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
from llmbook.qlora import (nf4_codebook, nf4_quantize, nf4_dequantize, pack_nibbles, dynamic_map, double_quantize,
                           double_dequantize, bnb_absmax, bits_per_param, quant_state_bits, bnb_4bit_config, cpu_safe_4bit)

def test_codebook_equals_bnb():
    assert (nf4_codebook() - F.get_4bit_type('nf4', device='cpu')).abs().max() < 1e-6

@pytest.mark.parametrize('blocksize', [64, 128])
def test_quantize_equals_bnb(blocksize):
    torch.manual_seed(0); w = torch.randn(128, 256) * 0.02
    q, a = nf4_quantize(w, blocksize)
    qb, st = F.quantize_4bit(w, blocksize=blocksize, quant_type='nf4')
    assert torch.equal(pack_nibbles(q), qb.flatten()) and torch.equal(a, st.absmax)
    assert (nf4_dequantize(q, a, w.shape) - F.dequantize_4bit(qb, st)).abs().max() < 1e-6

def test_dynamic_map_equals_bnb():
    assert torch.equal(dynamic_map(), F.create_dynamic_map())

@pytest.mark.parametrize('shape', [(256, 1024), (384, 128), (128, 344)])   # 4096, 768 (partial block), 688 scales
def test_double_quant_equals_bnb(shape):
    "Our 8-bit codes, second-level scales and offset are bitsandbytes' own, so the decoded absmax is equal bit for bit."
    torch.manual_seed(0); w = torch.randn(*shape) * 0.02
    q, a = nf4_quantize(w)
    c, s, off = double_quantize(a)
    qb, st = F.quantize_4bit(w, blocksize=64, quant_type='nf4', compress_statistics=True)
    assert st.nested and torch.equal(c, st.absmax) and torch.equal(s, st.state2.absmax) and torch.equal(off, st.offset)
    assert torch.equal(double_dequantize(c, s, off), bnb_absmax(st))
    assert (nf4_dequantize(q, double_dequantize(c, s, off), w.shape) - F.dequantize_4bit(qb, st)).abs().max() < 1e-6

def test_double_quant_is_not_single():
    "The equality above is not vacuous: without double quantization bitsandbytes keeps fp32 absmax, which ours is not."
    torch.manual_seed(0); w = torch.randn(256, 1024) * 0.02
    _, a = nf4_quantize(w)
    _, st = F.quantize_4bit(w, blocksize=64, quant_type='nf4', compress_statistics=False)
    assert not st.nested and torch.equal(bnb_absmax(st), a)
    assert not torch.equal(double_dequantize(*double_quantize(a)), bnb_absmax(st))

def test_bits_per_param():
    torch.manual_seed(0); w = torch.randn(256, 1024) * 0.02
    qb, st = F.quantize_4bit(w, blocksize=64, quant_type='nf4', compress_statistics=True)
    qb1, st1 = F.quantize_4bit(w, blocksize=64, quant_type='nf4', compress_statistics=False)
    assert quant_state_bits(qb1, st1) == bits_per_param(double_quant=False) == 4 + 32/64
    assert abs(quant_state_bits(qb, st) - bits_per_param()) < 1e-3

def _tiny(path):
    torch.manual_seed(0)
    # dims satisfy the CPU kernel's constraints (out % 32, in % 64)
    m = LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=32))
    m.save_pretrained(path); return m

def _linear4bit(m): return [x for x in m.modules() if isinstance(x, bnb.nn.Linear4bit)]

def _grad_check(safe:bool, force:bool=False)->dict:
    """LoRA gradients of a 4-bit model after an eval pass vs an fp32 model holding the dequantized weights.
    `force`: switch bitsandbytes' AVX512-BF16 repack on, as on a CPU that has the instruction set. Returns how many 4-bit
    layers were repacked, how many LoRA parameters got no gradient, and the relative error of the rest."""
    d = tempfile.mkdtemp(); base = _tiny(d)
    qm = AutoModelForCausalLM.from_pretrained(d, quantization_config=bnb_4bit_config(), device_map='cpu')
    layers = _linear4bit(qm)
    assert layers and all(hasattr(m, 'support_avx512bf16_for_cpu') for m in layers), 'bitsandbytes renamed the flag the guard sets'
    if force:
        for m in layers: m.support_avx512bf16_for_cpu = True
    if safe:
        assert cpu_safe_4bit(qm) == len(layers) == 14
        assert not any(m.support_avx512bf16_for_cpu for m in layers)
    ref = copy.deepcopy(base)
    for n, m in qm.named_modules():
        if isinstance(m, bnb.nn.Linear4bit):
            with torch.no_grad(): ref.get_submodule(n).weight.copy_(F.dequantize_4bit(m.weight.data, m.weight.quant_state))
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=['q_proj', 'v_proj'])
    pq, pr = get_peft_model(qm, cfg), get_peft_model(ref, cfg)
    torch.manual_seed(1)
    for (na, a), (nb, b) in zip(pq.named_parameters(), pr.named_parameters()):
        assert na == nb
        if a.requires_grad:
            with torch.no_grad(): nn.init.normal_(b, std=0.1); a.copy_(b)
    ids = torch.randint(0, 128, (2, 16), generator=torch.Generator().manual_seed(0))
    pq.eval()
    with torch.no_grad(): pq(input_ids=ids)   # the eval pass that triggers the repack
    repacked = sum(bool(getattr(m.weight.quant_state, 'packing_format_for_cpu', False)) for m in layers)
    grads = []
    for m in (pq, pr):
        m.train(); m.zero_grad(set_to_none=True); m(input_ids=ids, labels=ids).loss.backward()
        grads.append([p.grad for n, p in m.named_parameters() if 'lora_' in n])
    missing = sum(g is None for g in grads[0])
    err = None if missing else ((torch.cat([g.flatten() for g in grads[0]]) - torch.cat([g.flatten() for g in grads[1]])).norm()
                                / torch.cat([g.flatten() for g in grads[1]]).norm()).item()
    return dict(repacked=repacked, missing=missing, of=len(grads[0]), rel_err=err)

def test_guard_keeps_lora_gradients_right():
    "Through bitsandbytes' own choice of kernel: repacks (and the trap) only where the CPU has AVX512-BF16."
    r = _grad_check(safe=True)
    assert r['repacked'] == 0 and r['missing'] == 0 and r['rel_err'] < 1e-3, r

def test_guard_turns_the_repack_off_on_every_cpu():
    "Fails on every CPU if `cpu_safe_4bit` stops working: the flag is forced on first, as an AVX512-BF16 CPU sets it."
    r = _grad_check(safe=True, force=True)
    assert r['repacked'] == 0 and r['missing'] == 0 and r['rel_err'] < 1e-3, r

@pytest.mark.skipif(not F.has_avx512bf16(), reason='the repack only happens on AVX512-BF16 CPUs (see the forced test below)')
def test_trap_still_exists_without_guard():
    "Documents the bitsandbytes behaviour the guard exists for: gradients missing or wrong. If this fails, upstream may have fixed it."
    r = _grad_check(safe=False)
    assert r['repacked'] > 0 and (r['missing'] > 0 or r['rel_err'] > 0.1), r

def test_trap_with_the_flag_forced():
    "The unguarded path with the repack forced on, in a subprocess: a CPU without AVX512-BF16 may die in the kernel."
    code = ('import json, sys; sys.path.insert(0, sys.argv[1]); import test_qlora as t\n'
            'try: r = t._grad_check(safe=False, force=True)\n'
            'except Exception as e: r = dict(raised=f"{type(e).__name__}: {e}"[:300])\n'
            'print(json.dumps(r))')
    p = subprocess.run([sys.executable, '-c', code, str(Path(__file__).parent)], capture_output=True, text=True, timeout=600)
    if p.returncode < 0:
        pytest.skip(f'forcing the AVX512-BF16 repack killed the process (signal {-p.returncode}): this CPU lacks the instruction set; '
                    'test_guard_turns_the_repack_off_on_every_cpu still checks the guard here')
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert 'raised' in r or (r['repacked'] > 0 and (r['missing'] > 0 or r['rel_err'] > 0.1)), r   # broken either way
