"""The DPO recipe (llmbook.dpo.dpo) where the chapter does not look: QLoRA adapters on fp16 tiers, the memory preflight,
where the reference comes from (adapters off, a frozen copy, precomputed and freed), and models that stay usable after training."""
import copy, math
import pytest
torch = pytest.importorskip('torch')
from transformers import LlamaConfig
from llmbook import lab
from llmbook.dpo import dpo, unfuse, script_pairs

SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)

@pytest.fixture(scope='module')
def tok(): return lab.tokenizer()

@pytest.fixture(scope='module')
def model_dir(tmp_path_factory, tok):
    d = tmp_path_factory.mktemp('tiny')
    lab.new_model(tok, seed=0, **SMALL).save_pretrained(d); tok.save_pretrained(d)
    return d

def rows(n=16): return script_pairs(lab.items('guozi', n=n))   # guozi answers are script-neutral: chosen == rejected would be refused
def pairs(n=16):
    its = lab.items('guozi', n=n)
    return [dict(prompt=a['prompt'], chosen=a['answer'], rejected=b['answer']) for a, b in zip(its, its[1:] + its[:1])]

def run(model, tok, tmp_path, **kw):
    kw = dict(tier='cpu', max_steps=2, batch_size=4, max_length=48, lr=1e-3, logging_steps=1, quiet=True, output_dir=tmp_path/'out') | kw
    return dpo(model, pairs(), tok, **kw)

def test_identical_pairs_are_refused(tok, tmp_path):
    with pytest.raises(ValueError, match='row 0: chosen and rejected are identical'):
        dpo(lab.new_model(tok, **SMALL), rows(), tok, tier='cpu', output_dir=tmp_path)

def test_preflight_refuses_before_loading(tmp_path, tok):
    "Full DPO of a 7B model on a T4 is refused from its config alone (no weights in the folder), with a cheaper setting."
    LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                vocab_size=32000).save_pretrained(tmp_path/'llama7b')
    with pytest.raises(RuntimeError, match='try: use qlora'):
        dpo(str(tmp_path/'llama7b'), pairs(), tok, method='full', tier='t4', output_dir=tmp_path/'out')

def test_lora_reference_is_the_adapter_disabled_model(tok, tmp_path):
    r = run(lab.new_model(tok, **SMALL), tok, tmp_path, method='lora')
    assert r.ref == 'adapter' and r.trainer.ref_model is None
    assert math.isclose(r.history['loss'][0][1], math.log(2), rel_tol=1e-5)   # B = 0 at the start: policy == reference

def test_full_without_reference_gets_a_frozen_copy(tok, tmp_path, model_dir):
    r = run(str(model_dir), tok, tmp_path, method='full')
    ref = r.trainer.ref_model
    assert r.ref == 'model' and ref is not None and not any(p.requires_grad for p in ref.parameters())
    assert math.isclose(r.history['loss'][0][1], math.log(2), rel_tol=1e-5)   # the copy is the starting point
    moved = any(not torch.equal(a, b) for a, b in zip(r.model.parameters(), ref.parameters()))
    assert moved                                                                # ... and it stayed there while the policy trained

def test_precomputed_reference_is_not_kept(tok, tmp_path):
    r = run(lab.new_model(tok, **SMALL), tok, tmp_path, method='lora', ref_model=lab.new_model(tok, seed=5, **SMALL),
            precompute_ref_log_probs=True)
    assert r.ref == 'precomputed' and r.trainer.ref_model is None
    assert 'ref_chosen_logps' in r.trainer.train_dataset.column_names

def test_trained_model_copies_are_independent(tok, tmp_path):
    "dpo() removes the forward TRL binds to the trained object, so a deepcopy computes with its own weights."
    r = run(lab.new_model(tok, **SMALL), tok, tmp_path, method='lora')
    twin = copy.deepcopy(r.model)
    ids = tok('把 305 寫成國字', return_tensors='pt')['input_ids']
    with torch.no_grad():
        for p in twin.parameters(): p.zero_()
        assert not torch.equal(twin(ids).logits, r.model(ids).logits)
    assert unfuse(r.model) is False   # already done

def test_qlora_adapters_stay_fp32_on_fp16_tiers(tok, tmp_path, model_dir, monkeypatch):
    """TRL's DPOTrainer casts QLoRA adapters to bf16 (fp16's grad scaler cannot unscale them); the recipe casts them back
    on fp16 tiers. Rehearsed at t4 on CPU: the tier's rules apply, the compute is fp32."""
    pytest.importorskip('bitsandbytes')
    from peft import LoraConfig
    from trl import DPOConfig, DPOTrainer
    from datasets import Dataset
    from llmbook.dpo import _load_policy
    policy, _ = _load_policy(str(model_dir), tok, 'qlora', 'float32', False)
    tr = DPOTrainer(model=policy, args=DPOConfig(output_dir=str(tmp_path/'trl'), use_cpu=True, bf16=False, report_to='none',
                                                 activation_checkpointing=False), train_dataset=Dataset.from_list(pairs()),
                    processing_class=tok, peft_config=LoraConfig(r=4, lora_alpha=8, target_modules='all-linear', task_type='CAUSAL_LM'))
    assert {p.dtype for p in tr.model.parameters() if p.requires_grad} == {torch.bfloat16}   # TRL's cast
    monkeypatch.setenv('LLMBOOK_REHEARSE', 't4')
    r = run(str(model_dir), tok, tmp_path, method='qlora', tier='t4', check_memory=False)
    assert {p.dtype for p in r.model.parameters() if p.requires_grad} == {torch.float32}
    assert r.global_step == 2
