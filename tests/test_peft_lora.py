"LoRA from scratch vs PEFT, merge vs adapter, save/load round trip (tiny random Llama, no downloads)."
import copy, tempfile, pathlib
import pytest, torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model, PeftModel
from llmbook.lora import LoRALinear, add_lora, to_peft, merge_lora, ATTN, ALL_LINEAR

def tiny():
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32)).eval()

def randomize_B(model):
    torch.manual_seed(1)
    for m in model.modules():
        if isinstance(m, LoRALinear): nn.init.normal_(m.B, std=0.05)

IDS = torch.randint(0, 97, (2, 11), generator=torch.Generator().manual_seed(0))

@pytest.mark.parametrize('targets,r,alpha,rslora', [(ATTN, 8, 16, False), (ALL_LINEAR, 4, 8, False), (ALL_LINEAR, 16, 8, True)])
def test_lora_equals_peft(targets, r, alpha, rslora):
    base = tiny()
    ours = add_lora(copy.deepcopy(base), targets, r, alpha, rslora); randomize_B(ours)
    pm = get_peft_model(copy.deepcopy(base), LoraConfig(r=r, lora_alpha=alpha, target_modules=list(targets), use_rslora=rslora))
    assert to_peft(ours, pm) == len(targets) * 2
    with torch.no_grad(): a, b, c = ours(IDS).logits, pm(IDS).logits, base(IDS).logits
    assert (a - b).abs().max() <= 1e-6
    assert (a - c).abs().max() > 1e-3          # the update is not trivial
    assert pm.get_nb_trainable_parameters() == (ours.num_parameters(only_trainable=True), ours.num_parameters())

def test_lora_starts_as_identity_and_counts():
    base = tiny(); ours = add_lora(copy.deepcopy(base), ATTN, 8, 16)
    with torch.no_grad(): assert torch.equal(ours(IDS).logits, base(IDS).logits)
    tr, tot = ours.num_parameters(only_trainable=True), ours.num_parameters()
    exp = sum(8 * (m.in_features + m.out_features) for n, m in base.named_modules() if n.split('.')[-1] in ATTN)
    assert tr == exp and tot == base.num_parameters() + exp

def test_merge_equals_adapter_and_roundtrip():
    base = tiny()
    ours = add_lora(copy.deepcopy(base), ALL_LINEAR, 8, 16); randomize_B(ours)
    pm = get_peft_model(copy.deepcopy(base), LoraConfig(r=8, lora_alpha=16, target_modules=list(ALL_LINEAR)))
    to_peft(ours, pm)
    with torch.no_grad():
        adapter = pm(IDS).logits
        merged = copy.deepcopy(pm).merge_and_unload()(IDS).logits
        ours_merged = merge_lora(copy.deepcopy(ours))(IDS).logits
    assert (merged - adapter).abs().max() < 1e-5
    assert (ours_merged - adapter).abs().max() < 1e-5
    with tempfile.TemporaryDirectory() as d:
        pm.save_pretrained(d)
        assert (pathlib.Path(d) / 'adapter_model.safetensors').exists()
        loaded = PeftModel.from_pretrained(copy.deepcopy(base), d)
        with torch.no_grad(): assert torch.equal(loaded(IDS).logits, adapter)

def test_add_lora_bad_target():
    with pytest.raises(ValueError, match='linear layers here'): add_lora(tiny(), ('qkv',))
