"llmbook.evals against computations written here independently: perplexity = exp(mean token NLL), sliding-window contexts, option log-likelihoods."
import math
import pytest
torch = pytest.importorskip('torch')
from llmbook import lab
from llmbook.evals import (perplexity, token_nll, continuation_logprobs, next_token_logprobs, mc_items, mc_request, mc_predict,
                           exact_match, LETTERS, MC_TASKS)
from llmbook.dpo import to_simplified

@pytest.fixture(scope='module')
def lm():
    torch.manual_seed(0)
    return lab.model(), lab.tokenizer()

def token_logps(model, ids:list)->list:
    "log p(ids[t] | ids[:t]) for t >= 1, one forward over the whole sequence."
    with torch.no_grad(): lp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
    return [lp[t - 1, ids[t]].item() for t in range(1, len(ids))]

def test_perplexity_is_exp_of_mean_token_nll(lm):
    model, tok = lm
    texts = lab.heldout_texts()[::100]
    nll = []
    for t in texts: nll += [-x for x in token_logps(model, [tok.bos_token_id] + tok(t, add_special_tokens=False)['input_ids'])]
    assert math.isclose(perplexity(model, tok, texts), math.exp(sum(nll)/len(nll)), rel_tol=1e-5)
    s, n = token_nll(model, tok, texts)
    assert n == len(nll) and math.isclose(s, sum(nll), rel_tol=1e-5)
    per_text = sum(math.exp(-sum(token_logps(model, [tok.bos_token_id] + tok(t, add_special_tokens=False)['input_ids']))/
                             len(tok(t, add_special_tokens=False)['input_ids'])) for t in texts)/len(texts)
    assert not math.isclose(perplexity(model, tok, texts), per_text, rel_tol=1e-3)   # token-weighted, not a mean of perplexities

@pytest.mark.parametrize('window,stride', [(16, 16), (16, 4), (16, 1), (24, 10)])
def test_sliding_window_context_of_every_token(lm, window, stride):
    """Token t is scored once, with context from the start of the first window that ends past it: for S < W window k starts at kS,
    so k = floor((t-W)/S)+1; for S = W windows overlap by one token (the first token of a window needs one of context): start k(W-1)."""
    model, tok = lm
    text = ''.join(lab.heldout_texts()[:4])
    ids = [tok.bos_token_id] + tok(text, add_special_tokens=False)['input_ids']
    want = 0.0
    for t in range(1, len(ids)):
        if stride == window: start = (t - 1)//(window - 1)*(window - 1)
        else: start = 0 if t < window else ((t - window)//stride + 1)*stride
        want -= token_logps(model, ids[start:t + 1])[-1]
    s, n = token_nll(model, tok, [text], window, stride)
    assert n == len(ids) - 1 and math.isclose(s, want, rel_tol=1e-5)

def test_stride_outside_the_window_is_refused(lm):
    with pytest.raises(ValueError, match='stride'): perplexity(*lm, ['一二三'], window=8, stride=9)

def test_option_logprobs_by_hand(lm):
    model, tok = lm
    row = mc_items(('guozi',), n=3)[0]
    ctx, opts = mc_request(row, 'cloze', tok)
    got = continuation_logprobs(model, tok, [ctx]*4, opts)
    for (lp, n), o in zip(got, opts):
        c, x = tok(ctx, add_special_tokens=False)['input_ids'], tok(o, add_special_tokens=False)['input_ids']
        assert n == len(x) and math.isclose(lp, sum(token_logps(model, c + x)[len(c) - 1:]), rel_tol=1e-4)
    ctx, opts = mc_request(row, 'letter_chat', tok)
    one = next_token_logprobs(model, tok, [ctx], opts)[0]
    assert all(math.isclose(a, b, abs_tol=1e-4) for a, (b, _) in zip(one, continuation_logprobs(model, tok, [ctx]*4, opts)))

def test_mc_items_have_tmmluplus_columns():
    rows = mc_items(n=20)
    assert len(rows) == 20*len(MC_TASKS)
    for r, it in zip(rows, [it for t in MC_TASKS for it in lab.items(t, 'heldout', 20)]):
        assert list(r) == ['question', *LETTERS, 'answer', 'subject'] and r['question'] == it['prompt']
        assert r[r['answer']] == it['answer'] and len({r[k] for k in LETTERS}) == 4
        if r['subject'] == 'daxie': assert to_simplified(it['answer']) in [r[k] for k in LETTERS]
    assert len({r['answer'] for r in rows}) == 4   # the right option is not always in the same place

def test_cloze_prediction_ignores_option_order(lm):
    model, tok = lm
    rows = mc_items(n=10)
    rot = [r | dict(zip(LETTERS, [r[k] for k in LETTERS[1:] + LETTERS[:1]])) for r in rows]
    a, b = mc_predict(model, tok, rows), mc_predict(model, tok, rot)
    assert [r[x] for r, x in zip(rows, a)] == [r[x] for r, x in zip(rot, b)]

def test_exact_match_normalization():
    assert exact_match(['答 85。', '８５'], ['85', '85']) == 1.0
    assert exact_match(['答 85。'], ['85'], normalize=False) == 0.0
    assert exact_match(['參佰'], ['参佰']) == 0.0   # script is not normalized away
    with pytest.raises(ValueError): exact_match(['a'], ['a', 'b'])
