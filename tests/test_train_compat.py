"""The recipe's keyword arguments exist in the installed TRL / transformers / PEFT (and Unsloth, when installed).
Runs in the main venv and, through tools/unsloth_smoke.sh, in the older versions Unsloth pins."""
import dataclasses, importlib.util, inspect
import pytest
torch = pytest.importorskip('torch')
from llmbook.hw import TIERS
from llmbook.train import METHODS, sft_config, _ckpt_arg

def _fields(cls): return {f.name for f in dataclasses.fields(cls)}

@pytest.mark.parametrize('tier', list(TIERS))
@pytest.mark.parametrize('method', METHODS)
def test_sft_config_names_exist(tier, method, tmp_path):
    from trl import SFTConfig
    cfg = sft_config(tier, method, tmp_path, has_eval=True, eval_steps=5, save_steps=5, early_stopping=True)
    missing = set(cfg) - _fields(SFTConfig)
    assert not missing, f'SFTConfig of this TRL lacks {missing}'

def test_sft_config_builds_on_cpu(tmp_path):
    from trl import SFTConfig
    c = SFTConfig(**sft_config('cpu', 'full', tmp_path, has_eval=True, early_stopping=True))
    assert c.use_cpu and not c.bf16 and not c.fp16 and c.assistant_only_loss and c.eval_strategy == 'steps'
    assert _ckpt_arg() in _fields(SFTConfig)

def test_removed_names_are_not_used(tmp_path):
    "Names TRL 1.x / transformers 5 reject must never appear in what the recipe passes."
    cfg = sft_config('t4', 'lora', tmp_path, has_eval=True)
    for old in ('max_seq_length', 'evaluation_strategy', 'no_cuda', 'overwrite_output_dir', 'logging_dir', 'tokenizer', 'torch_dtype'):
        assert old not in cfg

def test_trainer_and_train_signatures():
    from trl import SFTTrainer
    from transformers import Trainer, EarlyStoppingCallback
    # Unsloth swaps in a subclass taking (*args, **kwargs) that forwards to TRL's: check the first real signature
    named = lambda c: [q for q in inspect.signature(c.__init__).parameters.values() if q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)]
    p = {q.name for q in next(named(c) for c in SFTTrainer.__mro__ if len(named(c)) > 1)}
    for k in ('model', 'args', 'train_dataset', 'eval_dataset', 'processing_class', 'callbacks'):
        assert k in p, f'SFTTrainer.__init__ has no {k!r}'
    assert 'resume_from_checkpoint' in inspect.signature(Trainer.train).parameters
    assert 'early_stopping_patience' in inspect.signature(EarlyStoppingCallback.__init__).parameters

def test_peft_names():
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    f = _fields(LoraConfig)
    assert {'r', 'lora_alpha', 'lora_dropout', 'target_modules', 'task_type'} <= f
    assert 'use_gradient_checkpointing' in inspect.signature(prepare_model_for_kbit_training).parameters

def test_from_pretrained_honours_dtype(tmp_path):
    "`dtype=` (not `torch_dtype=`) selects the load dtype in this transformers."
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2, num_key_value_heads=2)).save_pretrained(tmp_path)
    m = AutoModelForCausalLM.from_pretrained(tmp_path, dtype=torch.float16, trust_remote_code=False)
    assert next(m.parameters()).dtype == torch.float16

def test_bnb_config_names():
    from transformers import BitsAndBytesConfig
    p = inspect.signature(BitsAndBytesConfig.__init__).parameters
    for k in ('load_in_4bit', 'bnb_4bit_quant_type', 'bnb_4bit_use_double_quant', 'bnb_4bit_compute_dtype'): assert k in p

@pytest.mark.skipif(importlib.util.find_spec('unsloth') is None, reason='unsloth not installed (see tools/unsloth_smoke.sh)')
def test_unsloth_names():
    import unsloth  # noqa: F401  (must come first)
    from unsloth import FastLanguageModel
    p = inspect.signature(FastLanguageModel.from_pretrained).parameters
    for k in ('model_name', 'max_seq_length', 'dtype', 'load_in_4bit', 'full_finetuning'): assert k in p, k
    p = inspect.signature(FastLanguageModel.get_peft_model).parameters
    for k in ('r', 'lora_alpha', 'lora_dropout', 'target_modules', 'use_gradient_checkpointing', 'random_state'): assert k in p, k
