"""Does llama.cpp compute what transformers computes on a `llmbook gguf` export? Results -> bench/results/llamacpp.json.

    bash tools/llamacpp_wheel.sh                 # once: llama-cpp-python built into .cache/wheels/ and installed
    python bench/llamacpp_parity.py [--out bench/results/llamacpp.json] [--kquant-model NAME_OR_DIR]

On the shipped lab model (hidden 128, 3 layers) it measures
- logits of llama.cpp (llama-cpp-python, f32 KV cache: type_k=type_v=0) against transformers for the f32, f16, q8_0 and
  q4_0 exports, on held-out texts and chat-formatted conversations. The reference for each type is transformers running
  the same weights read back from that GGUF (transformers' own GGUF loader dequantizes and un-permutes them), so the
  difference is llama.cpp's arithmetic, not quantization; the distance to the fp32 model is reported beside it;
- a negative control: the f32 export without the Q/K permutation (logits off, most greedy tokens still equal);
- tokenization (llama.cpp vs the HF tokenizer) and the chat template rendered by llama-cpp-python vs transformers;
- llama.cpp's own quantizer applied to our f32 file: for Q8_0 and Q4_0, are its tensor types ours, and its bytes?
- K-quants through llama_model_quantize: on the lab model (rows of 128, so llama.cpp silently falls back) and on a
  Llama whose rows are multiples of 256 (--kquant-model: a lab model name or a HF folder; default: the shipped lab
  model `lab.KQUANT_MODEL` names, the teacher with hidden 256). The tensor types actually written are read back with GGUFReader.
Tolerances are absolute max |logit difference| and were set from the first measurement on this machine (see the JSON).
"""
import argparse, contextlib, io, json, os, platform, subprocess, sys, tempfile, time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Same-weights tolerances, about 3x the first measurement (2026-11-30: f32 2.4e-5, f16 1.1e-2, q8_0 0.59, q4_0 0.25).
# For F16/Q8_0/Q4_0 weights llama.cpp's CPU matmuls also round the activations (to f16, or to 8-bit Q8_0 blocks),
# so those differences are not float noise; f32 is.
TOL = {'f32': 1e-4, 'f16': 5e-2, 'q8_0': 2.0, 'q4_0': 1.0}
KQUANTS = ['Q2_K', 'Q3_K_M', 'Q4_K_M', 'Q5_K_M', 'Q6_K']

def _quiet():
    "Silence llama.cpp's C-level log lines (they bypass Python's stderr)."
    import llama_cpp, ctypes
    cb = llama_cpp.llama_log_callback(lambda level, text, user: None)
    llama_cpp.llama_log_set(cb, ctypes.c_void_p(0))
    return cb  # keep a reference alive

def _machine()->dict:
    cpu = next((l.split(':', 1)[1].strip() for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('model name')), platform.processor())
    flags = next((l for l in Path('/proc/cpuinfo').read_text().splitlines() if l.startswith('flags')), '')
    return dict(cpu=cpu, cores=os.cpu_count(), platform=platform.platform(), avx512_bf16='avx512_bf16' in flags,
                loadavg=os.getloadavg()[0])

def _versions()->dict:
    import importlib.metadata as md
    return {k: md.version(p) for k, p in dict(llama_cpp_python='llama_cpp_python', gguf='gguf', torch='torch',
                                              transformers='transformers', llmbook='llmbook').items()}

def _hf_from_gguf(folder, name):
    import torch
    from transformers import AutoModelForCausalLM
    with contextlib.redirect_stderr(io.StringIO()):
        return AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()

def _logits(model, ids):
    import torch
    with torch.no_grad(): return model(torch.tensor([ids])).logits[0].numpy()

def parity(tmp:Path, base, tok, seqs:list)->tuple:
    "llama.cpp vs transformers logits per export type, and the no-permutation control."
    import numpy as np
    from llmbook.quant import export_gguf, llamacpp_logits, GGUF_TYPES
    rows = []
    fp32 = [_logits(base, ids) for ids in seqs]
    for t in GGUF_TYPES:
        r = export_gguf(tmp/'lab', tmp/f'lab-{t}.gguf', t)
        same = _hf_from_gguf(tmp, f'lab-{t}.gguf')
        d_same = d_fp32 = 0.0; agree = n = 0
        for ids, ref32 in zip(seqs, fp32):
            ll, ref = llamacpp_logits(tmp/f'lab-{t}.gguf', ids), _logits(same, ids)
            d_same, d_fp32 = max(d_same, float(np.abs(ll - ref).max())), max(d_fp32, float(np.abs(ll - ref32).max()))
            agree += int((ll.argmax(-1) == ref32.argmax(-1)).sum()); n += len(ids)
        rows.append(dict(type=t, KiB=round(r['bytes'] / 1024, 1), max_diff_same_weights=d_same, tolerance=TOL[t],
                         passed=d_same <= TOL[t], max_diff_vs_fp32=d_fp32, argmax_agree=round(agree / n, 4), positions=n))
        print(f"{t:>5}: max|Δlogit| {d_same:.2e} (same weights, tol {TOL[t]:.0e}), {d_fp32:.2e} vs fp32, argmax agree {agree/n:.3f}", flush=True)
    export_gguf(tmp/'lab', tmp/'lab-noperm.gguf', 'f32', permute=False)
    d = 0.0; agree = n = 0
    for ids, ref in zip(seqs, fp32):
        ll = llamacpp_logits(tmp/'lab-noperm.gguf', ids)
        d = max(d, float(np.abs(ll - ref).max())); agree += int((ll.argmax(-1) == ref.argmax(-1)).sum()); n += len(ids)
    print(f"no Q/K permutation: max|Δlogit| {d:.2f}, argmax agree {agree/n:.3f}", flush=True)
    return rows, dict(max_diff=d, argmax_agree=round(agree / n, 4), positions=n)

def tokenizer_and_template(tmp:Path, tok, texts:list)->tuple:
    "llama.cpp tokenization and llama-cpp-python's chat-template rendering against transformers."
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llmbook import lab
    llm = Llama(model_path=str(tmp/'lab-f32.gguf'), n_ctx=0, verbose=False)
    try:
        bad = [x for x in texts if llm.tokenize(x.encode(), add_bos=False, special=True) != tok(x, add_special_tokens=False)['input_ids']]
        tmpl = llm.metadata['tokenizer.chat_template']; pre = llm.metadata['tokenizer.ggml.pre']
    finally: llm.close()
    convs = [([{'role': 'user', 'content': '把 305 寫成國字'}], True), (lab.messages(lab.items('guozi', 'heldout', 1)[0]), False),
             ([{'role': 'system', 'content': '你是國字小老師。'}, {'role': 'user', 'content': '計算 12+30'},
               {'role': 'assistant', 'content': '42'}, {'role': 'user', 'content': '把「山水」倒過來寫'}], True)]
    equal = all(Jinja2ChatFormatter(tmpl, eos_token=tok.eos_token, bos_token=tok.bos_token, add_generation_prompt=gen)(messages=m).prompt
                == tok.apply_chat_template(m, tokenize=False, add_generation_prompt=gen) for m, gen in convs)
    print(f"tokenizer: {len(bad)} of {len(texts)} texts differ (pre {pre}); chat template equal: {equal}", flush=True)
    return dict(texts=len(texts), mismatches=len(bad), pre=pre, examples=bad[:3]), dict(conversations=len(convs), equal=equal)

def quantizer_vs_ours(tmp:Path)->dict:
    "llama.cpp's quantizer on our f32 file vs our own q8_0 / q4_0 files: types and bytes per tensor."
    import gguf
    from llmbook.quant import llama_quantize
    out = {}
    for ours, ftype in (('q8_0', 'Q8_0'), ('q4_0', 'Q4_0')):
        llama_quantize(tmp/'lab-f32.gguf', tmp/f'llama-{ftype}.gguf', ftype)
        a = {t.name: t for t in gguf.GGUFReader(tmp/f'lab-{ours}.gguf').tensors}
        b = {t.name: t for t in gguf.GGUFReader(tmp/f'llama-{ftype}.gguf').tensors}
        same_types = {k: a[k].tensor_type.name for k in a} == {k: b[k].tensor_type.name for k in b if k in a} and set(a) == set(b)
        identical = sum(bytes(a[k].data.tobytes()) == bytes(b[k].data.tobytes()) for k in a if k in b)
        out[ours] = dict(types_equal=same_types, identical_tensors=identical, tensors=len(a),
                         llama_types=dict(Counter(t.tensor_type.name for t in b.values())))
        print(f"llama.cpp {ftype} vs ours: types equal {same_types}, identical tensors {identical}/{len(a)}", flush=True)
    return out

def kquants(tmp:Path, tok, seqs:list, model:str)->dict:
    "K-quants through llama.cpp's quantizer: types actually written (lab: fallback) and logit error on a 256-row model."
    import numpy as np, torch
    from llmbook import lab
    from llmbook.quant import export_gguf, llama_quantize, llamacpp_logits, gguf_tensor_types
    lab_types = llama_quantize(tmp/'lab-f32.gguf', tmp/'lab-Q4_K_M.gguf', 'Q4_K_M')
    res = dict(lab=dict(model='lab base (hidden 128)', requested='Q4_K_M', types=dict(Counter(lab_types.values()))))
    if model in lab.MODELS:   # a shipped lab model, by name
        m, model_dir = lab.model(model).eval(), tmp/'k256'
        c = m.config
        desc = (f"lab {model} (hidden {c.hidden_size}, intermediate {c.intermediate_size}, {c.num_hidden_layers} layers, "
                f"{m.num_parameters():,} parameters)")
        m.save_pretrained(model_dir); tok.save_pretrained(model_dir)
    else:
        from transformers import AutoModelForCausalLM
        model_dir = Path(model)
        m, desc = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval(), str(model_dir)
    export_gguf(model_dir, tmp/'k-f32.gguf', 'f32')
    n_w = sum(p.numel() for n, p in m.named_parameters() if p.dim() == 2)
    rows = []
    for ftype in ['Q8_0', 'Q4_0'] + KQUANTS:
        types = llama_quantize(tmp/'k-f32.gguf', tmp/f'k-{ftype}.gguf', ftype)
        err = []
        for ids in seqs[:4]:
            ref = _logits(m, ids); ll = llamacpp_logits(tmp/f'k-{ftype}.gguf', ids)
            err.append(float(np.linalg.norm(ll - ref) / np.linalg.norm(ref)))
        bpw = (tmp/f'k-{ftype}.gguf').stat().st_size * 8 / n_w
        rows.append(dict(ftype=ftype, file_bits_per_weight=round(bpw, 2), types=dict(Counter(types.values())),
                         rel_logit_error=round(max(err), 4)))
        print(f"{ftype}: {rows[-1]}", flush=True)
    res.update(model=desc, rows=rows)
    return res

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default=str(ROOT/'bench'/'results'/'llamacpp.json'))
    p.add_argument('--kquant-model', help='lab model name or HF Llama folder whose rows are multiples of 256 (default: lab.KQUANT_MODEL)')
    p.add_argument('--tiny', action='store_true', help='parity and tokenizer only, no K-quants (checks the script)')
    a = p.parse_args(argv)
    os.environ.setdefault('HF_HUB_OFFLINE', '1')
    import torch
    from transformers.utils import logging as hf_logging
    from llmbook import lab
    hf_logging.set_verbosity_error(); hf_logging.disable_progress_bar(); torch.set_num_threads(2)
    cb = _quiet()
    t0 = time.time()
    tmp = Path(tempfile.mkdtemp(prefix='llmbook-llamacpp-'))
    base, tok = lab.model(), lab.tokenizer()
    base.save_pretrained(tmp/'lab'); tok.save_pretrained(tmp/'lab')
    chat = [tok.apply_chat_template(lab.messages(it), tokenize=False) for t in lab.TASKS for it in lab.items(t, 'heldout', 100)]
    texts = lab.heldout_texts() + chat
    seqs = [tok(x, add_special_tokens=False)['input_ids'] for x in lab.heldout_texts()[::250] + chat[::50]]
    rows, noperm = parity(tmp, base, tok, seqs)
    tk, ct = tokenizer_and_template(tmp, tok, texts)
    qv = quantizer_vs_ours(tmp)
    kq = None if a.tiny else kquants(tmp, tok, seqs, a.kquant_model or lab.KQUANT_MODEL)
    build = ROOT/'.cache'/'wheels'/'llama_cpp_build.json'
    res = dict(measured_at=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()), machine=_machine(), versions=_versions(),
               llama_cpp_build=json.loads(build.read_text()) if build.exists() else None,
               kv_cache='f32 (type_k=0, type_v=0)', model=f'lab base ({base.num_parameters():,} parameters)',
               sequences=len(seqs), parity=rows, no_permutation=noperm, tokenizer=tk, chat_template=ct,
               llama_quantize_vs_ours=qv, kquants=kq, seconds=round(time.time() - t0, 1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    print(f"wrote {a.out} ({res['seconds']} s)")
    ok = all(r['passed'] for r in rows) and tk['mismatches'] == 0 and ct['equal']
    return 0 if ok else 1

if __name__ == '__main__': sys.exit(main())
