"""The interactive memory calculator of chapter 3 (ipywidgets); hand-written plumbing, no notebook of its own."""
from __future__ import annotations
from .hw import TIERS, budget_gb
from .vram import estimate, plot_breakdown, shipped_models, METHODS

__all__ = ['calculator']

def calculator(
    models:list|None=None, # model ids in the drop-down (default: shipped configs)
):
    "An ipywidgets calculator: model, method, batch, sequence length and tier, with the breakdown chart against the budget."
    import ipywidgets as W, matplotlib.pyplot as plt
    from .train import sft_defaults, recipe_precision
    models = models or shipped_models()
    def show(model, method, batch, seq_len, grad_ckpt, tier):
        d = sft_defaults(tier, 'lora')   # the recipe's precision and accumulation (an effective batch of 16) on this tier
        train = method != 'infer'
        est = estimate(model, method, batch, seq_len, dtype=TIERS[tier].dtype, grad_ckpt=grad_ckpt,
                       precision=recipe_precision(method, tier) if train else 'amp',
                       grad_accum=max(1, d['per_device_train_batch_size']*d['gradient_accumulation_steps']//batch) if train else 1)
        print(est); plot_breakdown([est], budget=budget_gb(tier)); plt.show()
    gpu = [t for t in TIERS if t != 'cpu']
    return W.interact(show, model=W.Dropdown(options=models, value=models[0]), method=W.Dropdown(options=METHODS, value='qlora'),
                      batch=W.IntSlider(value=1, min=1, max=32),
                      seq_len=W.SelectionSlider(options=[2**k for k in range(7, 16)], value=2048),
                      grad_ckpt=W.Checkbox(value=sft_defaults('t4', 'qlora')['gradient_checkpointing']),  # the recipe's default
                      tier=W.Dropdown(options=gpu, value='t4'))
