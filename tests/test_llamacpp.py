"""llama.cpp runs what `llmbook gguf` writes: logits, tokenizer, chat template, quantizer agreement, K-quant fallback.

Slow and optional: needs llama-cpp-python (no CPU wheel on PyPI: `bash tools/llamacpp_wheel.sh` builds it once into
.cache/wheels/, ~6 min on 2 idle cores) and runs only with LLMBOOK_SLOW=1 (about 2 minutes). CI does not build
llama.cpp, so these checks do not run there; bench/llamacpp_parity.py runs the same functions and stores its numbers in
bench/results/llamacpp.json, which chapter 10 shows.
"""
import os, sys, tempfile
from pathlib import Path
import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.environ.get('LLMBOOK_SLOW'), reason='minute-scale and needs llama.cpp: set LLMBOOK_SLOW=1')]
llama_cpp = pytest.importorskip('llama_cpp') if os.environ.get('LLMBOOK_SLOW') else None
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'bench'))

@pytest.fixture(scope='module')
def setup():
    import torch
    import llamacpp_parity as bench
    from llmbook import lab
    torch.set_num_threads(2); bench._quiet()
    tmp = Path(tempfile.mkdtemp(prefix='llmbook-llamacpp-test-'))
    base, tok = lab.model(), lab.tokenizer()
    base.save_pretrained(tmp/'lab'); tok.save_pretrained(tmp/'lab')
    chat = [tok.apply_chat_template(lab.messages(it), tokenize=False) for t in lab.TASKS for it in lab.items(t, 'heldout', 30)]
    seqs = [tok(x, add_special_tokens=False)['input_ids'] for x in lab.heldout_texts()[::500] + chat[::30]]
    rows, noperm = bench.parity(tmp, base, tok, seqs)
    return bench, tmp, base, tok, chat, seqs, {r['type']: r for r in rows}, noperm

def test_logits_match_transformers(setup):
    bench, *_, rows, noperm = setup
    for t, r in rows.items(): assert r['max_diff_same_weights'] <= bench.TOL[t], r
    assert rows['f32']['max_diff_same_weights'] < 1e-4 and rows['f32']['argmax_agree'] == 1.0
    assert noperm['max_diff'] > 1.0            # a missing Q/K permutation is caught by logits ...
    assert noperm['argmax_agree'] > 0.3        # ... while many greedy tokens still agree

def test_tokenizer_and_chat_template(setup):
    bench, tmp, base, tok, chat, *_ = setup
    from llmbook import lab
    tk, ct = bench.tokenizer_and_template(tmp, tok, lab.heldout_texts()[::5] + chat)
    assert tk['mismatches'] == 0 and tk['pre'] == 'gpt-2' and ct['equal']

def test_llama_quantizer_agrees_with_ours(setup):
    bench, tmp, *_ = setup
    for v in bench.quantizer_vs_ours(tmp).values():
        assert v['types_equal'] and v['identical_tensors'] == v['tensors']

def test_kquants_need_rows_of_256(setup):
    bench, tmp, base, tok, chat, seqs, *_ = setup
    kq = bench.kquants(tmp, tok, seqs, None)
    assert not any(t.endswith('_K') for t in kq['lab']['types'])            # lab rows of 128: silent fallback
    by = {r['ftype']: r for r in kq['rows']}
    assert 'Q4_K' in by['Q4_K_M']['types'] and 'Q6_K' in by['Q6_K']['types'] and 'Q2_K' in by['Q2_K']['types']
    errs = [by[f]['rel_logit_error'] for f in ('Q2_K', 'Q4_K_M', 'Q6_K', 'Q8_0')]
    assert errs == sorted(errs, reverse=True)                               # more bits, smaller error
