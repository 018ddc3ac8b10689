"""llmbook.shard against the ZeRO paper's per-GPU formulas (Rajbhandari et al. 2019, Fig. 1): model states of
(2+2+K)Ψ without sharding, 2Ψ+2Ψ+KΨ/N (ZeRO-1), 2Ψ+(2+K)Ψ/N (ZeRO-2), (2+2+K)Ψ/N (ZeRO-3), K=12 for mixed-precision
Adam. Ψ is counted here from the transformers model built on the meta device, not by the estimator."""
import pytest
torch = pytest.importorskip('torch')
from transformers import AutoModelForCausalLM
from llmbook.vram import load_config
from llmbook.shard import per_gpu, STRATEGIES, shard_table, accelerate_config, deepspeed_config

MODELS = ['Qwen/Qwen2.5-0.5B-Instruct', 'Qwen/Qwen2.5-7B-Instruct', 'google/gemma-2-2b-it', 'lab']

def psi(model):
    with torch.device('meta'): m = AutoModelForCausalLM.from_config(load_config(model))
    return sum(p.numel() for p in m.parameters())   # shared (tied) parameters once

def states(d): return d['weights'] + d['gradients'] + d['optimizer']

@pytest.mark.parametrize('model', MODELS)
@pytest.mark.parametrize('n', [1, 2, 8, 64])
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_zero_paper_formulas(model, n, dtype):
    P, K = psi(model), 12
    paper = {'ddp': (2 + 2 + K)*P, 'zero1': 2*P + 2*P + K*P/n, 'zero2': 2*P + (2 + K)*P/n, 'zero3': (2 + 2 + K)*P/n,
             'fsdp_full_shard': (2 + 2 + K)*P/n}
    for s, want in paper.items():
        got = states(per_gpu(model, s, n, 'full', dtype=dtype, batch=1, seq_len=512))
        assert abs(got - want) <= 1e-9*want + 1, (model, s, n, got, want)

def test_sharding_does_not_touch_activations():
    "Each GPU runs its own micro-batch: activations and logits are the one-GPU estimate's, whatever the strategy."
    d = {s: per_gpu('Qwen/Qwen2.5-0.5B-Instruct', s, 4, 'full', batch=2, seq_len=1024, grad_ckpt=True) for s in STRATEGIES}
    assert len({(v['activations'], v['logits']) for v in d.values()}) == 1

def test_lora_only_weight_sharding_helps():
    "LoRA trains few parameters: ZeRO-1/2 save almost nothing; ZeRO-3 / FULL_SHARD halve the frozen weights on 2 GPUs."
    m, P = 'Qwen/Qwen2.5-7B-Instruct', psi('Qwen/Qwen2.5-7B-Instruct')
    d = {s: states(per_gpu(m, s, 2, 'lora', dtype='float16')) for s in STRATEGIES}
    assert d['ddp'] > 2*P and d['zero2'] > 0.98*d['ddp'] and d['zero3'] < 0.52*d['ddp']

def test_kaggle_plan_and_configs():
    rows = {r['strategy']: r for r in shard_table('Qwen/Qwen2.5-7B-Instruct', 2, 't4', 'lora', batch=1, seq_len=1024, grad_ckpt=True)}
    assert not rows['PyTorch DDP']['fits'] and rows['FSDP FULL_SHARD']['fits']
    assert accelerate_config('fsdp_shard_grad_op')['fsdp_config']['fsdp_reshard_after_forward'] == 'SHARD_GRAD_OP'
    assert deepspeed_config(2)['zero_optimization']['stage'] == 2 and 'stage3_prefetch_bucket_size' in deepspeed_config(3)['zero_optimization']
    with pytest.raises(ValueError, match='stage'): deepspeed_config(4)
    with pytest.raises(ValueError, match='unknown'): per_gpu('lab', 'zero4', 2)
