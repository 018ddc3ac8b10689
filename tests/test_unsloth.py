"""Unsloth fast path vs plain transformers + PEFT: one recipe call, same API, same result shape, same measured effect.

Runs where unsloth is installed: its own venv, built and run by `tools/unsloth_smoke.sh` (CI calls it), because
Unsloth pins older transformers / TRL / datasets. Unsloth >= 2026.10 trains on CPU through its own CPU backend
(no speed-up there); on a GPU the same test goes through its fused kernels."""
import importlib.util
import pytest
if importlib.util.find_spec('unsloth') is None:
    pytest.skip('unsloth is not installed here; tools/unsloth_smoke.sh runs this in .venv-unsloth', allow_module_level=True)
import unsloth  # noqa: F401  (Unsloth patches transformers/TRL/PEFT; it asks to be imported before them)

STEPS, N_EVAL = 80, 100

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    "The same guozi LoRA recipe on the lab base, once per backend."
    from llmbook import lab, train
    base, data = str(lab._assets()/'base'), lab.items('guozi', 'train', 2000)
    out = {}
    for use in (True, False):
        r = train.sft(base, data, tokenizer=lab.tokenizer(), method='lora', tier='cpu', use_unsloth=use,
                      output_dir=str(tmp_path_factory.mktemp(f'unsloth-{use}')), max_steps=STEPS, batch_size=32,
                      lr=5e-3, max_length=64, logging_steps=10, seed=0, quiet=True, check_memory=False)
        out[r.backend] = r, lab.evaluate(r.model, lab.tokenizer(), 'guozi', N_EVAL)
    return out

def test_both_backends_ran(runs):
    assert set(runs) == {'unsloth', 'transformers'}

def test_same_result_shape(runs):
    (u, _), (t, _) = runs['unsloth'], runs['transformers']
    assert type(u) is type(t) and type(u.model).__name__ == type(t.model).__name__ == 'PeftModelForCausalLM'
    assert (u.global_step, u.method, u.tier) == (t.global_step, t.method, t.tier) == (STEPS, 'lora', 'cpu')
    assert u.history.keys() == t.history.keys()
    assert [s for s, _ in u.history['train']] == [s for s, _ in t.history['train']] == list(range(10, STEPS+1, 10))
    n_train = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)
    assert n_train(u.model) == n_train(t.model) > 0

def test_same_effect(runs):
    "Same loss curve within a few percent, and both lift held-out guozi from the base's 0 % to >= 85 %."
    from llmbook import lab
    (u, acc_u), (t, acc_t) = runs['unsloth'], runs['transformers']
    assert lab.manifest()['chat_accuracy']['guozi'] == 0.0
    lu, lt = [l for _, l in u.history['train']], [l for _, l in t.history['train']]
    assert lu[-1] < 0.5 * lu[0] and lt[-1] < 0.5 * lt[0]
    assert abs(lu[-1] - lt[-1]) < 0.1 * lt[-1], (lu, lt)
    assert acc_u >= 0.85 and acc_t >= 0.85 and abs(acc_u - acc_t) <= 0.1, (acc_u, acc_t)
