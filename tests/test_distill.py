"Distillation: the KD loss against independent computations (seeded random cases), the T² gradient scale, TRL's GKD endpoints, vocabulary checks, the estimator's phases, and the recipe end to end on a tiny stand-in."
import math, random
import pytest
torch = pytest.importorskip('torch')
import torch.nn.functional as F
from torch.distributions import Categorical, kl_divergence
from llmbook.distill import kd_loss, logit_width, estimate_distill, preflight_distill, distill, KINDS
from llmbook.vram import VramError, estimate
from trl.experimental.gkd import GKDTrainer
import train_standin as lab

def _case(seed):
    "Random logits (scale, shape, temperature) and labels with a prompt, padding and at least one graded token."
    g = random.Random(seed)
    B, S, V = g.randint(1, 4), g.randint(2, 12), g.randint(2, 50)
    torch.manual_seed(seed)
    zs, zt = g.uniform(0.1, 5)*torch.randn(B, S, V), g.uniform(0.1, 5)*torch.randn(B, S, V)
    y = torch.randint(0, V, (B, S))
    for b in range(B):
        y[b, :g.randint(0, S - 1)] = -100                  # the prompt
        if g.random() < 0.5: y[b, g.randint(1, S):] = -100  # padding at the end
    y[0, -1] = g.randrange(V)                              # never nothing to grade
    return zs, zt, y, g.choice([0.5, 1.0, 2.0, 4.0, 8.0]), g.random()

def _ref(zs, zt, y, alpha, T):
    "The same loss computed another way: per graded position, torch.distributions' KL and an explicit -log p."
    kl, ce, n = 0.0, 0.0, 0
    for b in range(y.shape[0]):
        for t in range(y.shape[1] - 1):
            if y[b, t+1] == -100: continue
            kl += kl_divergence(Categorical(logits=zt[b, t]/T), Categorical(logits=zs[b, t]/T)).item()
            ce -= torch.log_softmax(zs[b, t].double(), -1)[y[b, t+1]].item()
            n += 1
    return (alpha*T*T*kl + (1 - alpha)*ce)/n, kl/n, ce/n

CASES = range(40)

@pytest.mark.parametrize('seed', CASES)
def test_kd_loss_matches_an_independent_computation(seed):
    zs, zt, y, T, alpha = _case(seed)
    ref, kl, ce = _ref(zs, zt, y, alpha, T)
    assert math.isclose(kd_loss(zs, zt, y, alpha, T).item(), ref, rel_tol=1e-5, abs_tol=1e-6)
    assert math.isclose(kd_loss(zs, zt, y, 0.0, T).item(), ce, rel_tol=1e-5, abs_tol=1e-6)          # α=0: cross-entropy
    assert math.isclose(kd_loss(zs, zt, y, 1.0, T).item(), T*T*kl, rel_tol=1e-5, abs_tol=1e-6)      # α=1: T²·KL

@pytest.mark.parametrize('seed', CASES)
def test_ungraded_positions_do_not_matter(seed):
    zs, zt, y, T, alpha = _case(seed)
    ungraded = torch.zeros_like(y, dtype=torch.bool)
    ungraded[:, :-1] = y[:, 1:] == -100                   # positions whose next token is not graded, and the last one
    ungraded[:, -1] = True
    s2, t2 = zs.clone(), zt.clone()
    s2[ungraded], t2[ungraded] = 1e3*torch.randn(int(ungraded.sum()), zs.shape[-1]), -1e3*torch.randn(int(ungraded.sum()), zs.shape[-1])
    assert kd_loss(s2, t2, y, alpha, T).item() == kd_loss(zs, zt, y, alpha, T).item()

def test_num_items_sets_the_denominator():
    zs, zt, y, T, alpha = _case(1)
    n = int((y[:, 1:] != -100).sum())
    assert torch.equal(kd_loss(zs, zt, y, alpha, T, num_items=n), kd_loss(zs, zt, y, alpha, T))
    assert math.isclose(kd_loss(zs, zt, y, alpha, T, num_items=2*n).item(), kd_loss(zs, zt, y, alpha, T).item()/2, rel_tol=1e-6)

def _soft_grad(zs, zt, y, T, scale):
    s = zs.clone().requires_grad_()
    (kd_loss(s, zt, y, 1.0, T)*scale).backward()
    return s.grad.norm().item()

@pytest.mark.parametrize('seed', range(5))
def test_t2_keeps_the_soft_gradient_scale(seed):
    "With T², the soft term's gradient norm stops depending on T; without it, doubling T divides it by ~4."
    zs, zt, y, _, _ = _case(seed + 100)
    with_t2 = [_soft_grad(zs, zt, y, T, 1.0) for T in (32.0, 64.0, 128.0)]
    without = [_soft_grad(zs, zt, y, T, 1/T**2) for T in (32.0, 64.0, 128.0)]
    assert abs(with_t2[2]/with_t2[1] - 1) < 0.02 and abs(with_t2[1]/with_t2[0] - 1) < 0.05
    assert abs(without[2]/without[1] - 0.25) < 0.01

def test_trl_gkd_endpoints_are_forward_and_reverse_kl():
    jsd = GKDTrainer.generalized_jsd_loss
    for seed in range(10):
        zs, zt, y, T, _ = _case(seed)
        _, kl, _ = _ref(zs, zt, y, 1.0, T)
        assert math.isclose(jsd(zs[:, :-1], zt[:, :-1], y[:, 1:], beta=0.0, temperature=T).item(), kl, rel_tol=1e-5, abs_tol=1e-6)
        _, rev, _ = _ref(zt, zs, y, 1.0, T)                  # teacher and student swapped: KL(student ‖ teacher)
        assert math.isclose(jsd(zs[:, :-1], zt[:, :-1], y[:, 1:], beta=1.0, temperature=T).item(), rev, rel_tol=1e-5, abs_tol=1e-6)

def test_logit_width():
    tok = lab.tokenizer()
    assert logit_width(tok, tok) == len(tok)
    assert logit_width(tok, tok, 128, 96) == 96
    with pytest.raises(ValueError, match='columns'): logit_width(tok, tok, len(tok) - 1, 128)
    other = lab.tokenizer(); other.add_tokens(['<extra>'])
    with pytest.raises(ValueError, match="kind='sequence'"): logit_width(tok, other)

def test_estimate_phases_and_teacher_plans():
    s, t = 'Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen2.5-7B-Instruct'
    seq, logit, gkd = (estimate_distill(s, t, 'lora', 2, 512, k, 'bfloat16') for k in KINDS)
    train, gen = estimate(s, 'lora', 2, 512, dtype='bfloat16'), estimate(t, 'infer', 2, 512, dtype='bfloat16')
    assert seq.total == max(train.total, gen.total)             # two phases, never both in memory
    assert logit.total > train.total + gen.breakdown['weights'] and gkd.total > logit.total
    from llmbook.plans import PLANS
    for tier, p in PLANS['08_distill'].items():
        if tier == 'cpu': continue
        assert p.teacher and p.estimate(tier).total > estimate(p.model, p.method, p.batch, p.seq_len, **p.knobs(tier)).total

def test_preflight_refuses_before_loading(tmp_path):
    "A pair that cannot fit a T4 is refused from configs alone (no weights on disk), with a suggestion."
    with pytest.raises(VramError, match='try: use q?lora'):
        preflight_distill('Qwen/Qwen2.5-1.5B-Instruct', 'Qwen/Qwen2.5-3B-Instruct', 'full', 't4', batch=4, seq_len=1024)
    with pytest.raises(VramError, match='nothing fits'):   # a 16-bit 7B teacher alone exceeds 15 GB
        distill('Qwen/Qwen2.5-1.5B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', lab.items('guozi', 'train', 4), tier='t4', method='full',
                batch_size=4, max_length=1024, output_dir=tmp_path)

def _run(tmp_path, kind, **kw):
    tok = lab.tokenizer()
    teacher = lab.model(tok, seed=1, hidden=64)
    args = dict(max_steps=4, batch_size=8, lr=3e-3, max_length=64, logging_steps=1, quiet=True) | kw
    return distill(lab.model(tok, hidden=32), teacher, args.pop('train', lab.items('guozi', 'train', 64)), tok, kind=kind, tier='cpu',
                   output_dir=tmp_path/kind, **args)

def test_recipe_runs_each_kind(tmp_path):
    r = _run(tmp_path, 'logit')
    assert r.global_step == 4 and r.kind == 'logit' and len(r.history['train']) == 4
    r = _run(tmp_path, 'gkd', beta=0.0)
    assert r.global_step == 4 and r.kind == 'gkd'
    prompts = [dict(prompt=it['prompt']) for it in lab.items('guozi', 'train', 16)]
    r = _run(tmp_path, 'sequence', train=prompts, keep=lambda row, a: row is not prompts[0], max_new_tokens=8)
    assert (r.generated, r.kept, r.global_step) == (16, 15, 4)
    with pytest.raises(ValueError, match='kept none'): _run(tmp_path, 'sequence', train=prompts, keep=lambda row, a: False, max_new_tokens=8)

def test_recipe_loss_is_kd_loss(tmp_path):
    "The trainer's logged loss is kd_loss with the teacher's logits (one step over the whole 8-row set: the batch order cannot matter)."
    r = _run(tmp_path, 'logit', train=lab.items('guozi', 'train', 8), max_steps=1, alpha=1.0, temperature=3.0, lr=1e-12)
    tr = r.trainer
    b = tr.data_collator([tr.train_dataset[i] for i in range(8)])
    with torch.no_grad():
        t = tr.teacher(input_ids=b['input_ids'], attention_mask=b['attention_mask']).logits
        s = tr.model(input_ids=b['input_ids'], attention_mask=b['attention_mask']).logits
    assert math.isclose(r.history['train'][0][1], kd_loss(s, t, b['labels'], 1.0, 3.0).item(), rel_tol=1e-3)

def test_plan_without_teacher_is_refused():
    from llmbook.plans import plan
    with pytest.raises(ValueError, match='no teacher'):
        distill(train=lab.items('guozi', 'train', 4), plan=plan('05_lora', 't4'))
