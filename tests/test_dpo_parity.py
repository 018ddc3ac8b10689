"""Our DPO loss (llmbook.dpo.sequence_logps + dpo_loss) equals TRL's DPOTrainer on the same batch, for every loss type.

A tiny random Llama with the lab tokenizer; the batch comes from TRL's own collator and TRL's loss from its own
`compute_loss` (fused log-prob head, its masks). Checked with a separate reference model (conversational and plain rows)
and with LoRA, where TRL's reference is the same model with its adapters disabled."""
import copy
import pytest
torch = pytest.importorskip('torch')
from datasets import Dataset
from peft import LoraConfig
from trl import DPOConfig, DPOTrainer
from llmbook import lab
from llmbook.dpo import LOSS_TYPES, sequence_logps, dpo_loss, to_simplified

SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)

def rows(conversational:bool)->list:
    "Six fixed pairs of different lengths: a right answer vs a wrong one, in one format."
    its = lab.items('guozi', n=6)
    out = []
    for i, (a, b) in enumerate(zip(its, its[2:] + its[:2])):
        chosen, rejected = a['answer'], b['answer'] + '。'*i   # rejected lengths vary, so padding is exercised
        out.append(dict(prompt=[dict(role='user', content=a['prompt'])], chosen=[dict(role='assistant', content=chosen)],
                        rejected=[dict(role='assistant', content=rejected)]) if conversational else
                   dict(prompt=a['prompt'] + '：', chosen=chosen, rejected=rejected))
    return out

def args(tmp_path, lt, **kw):
    return DPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to='none', beta=0.2, loss_type=lt,
                     per_device_train_batch_size=6, activation_checkpointing=False, **kw)

def ours(policy_lp, ref_lp, batch, lt, beta=0.2):
    n = batch['completion_mask'].sum(1)
    (c, r), (rc, rr), (nc, nr) = policy_lp.chunk(2), ref_lp.chunk(2), n.chunk(2)
    return dpo_loss(c, r, rc, rr, beta, lt, nc, nr).mean()

def logps(model, batch):
    with torch.no_grad():
        out = model(input_ids=batch['input_ids'], attention_mask=batch['attention_mask']).logits
    return sequence_logps(out, batch['input_ids'], batch['completion_mask'])

@pytest.mark.parametrize('conversational', [True, False])
@pytest.mark.parametrize('lt', LOSS_TYPES)
def test_loss_equals_trl_with_a_reference_model(tmp_path, lt, conversational):
    tok = lab.tokenizer()
    policy, ref = lab.new_model(tok, seed=1, **SMALL), lab.new_model(tok, seed=2, **SMALL)
    data = rows(conversational)
    tr = DPOTrainer(model=policy, ref_model=ref, args=args(tmp_path, lt), train_dataset=Dataset.from_list(data), processing_class=tok)
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(data))])
    assert batch['input_ids'].shape[0] == 2*len(data) and (batch['attention_mask'] == 0).any()   # padded, chosen then rejected
    with torch.no_grad(): theirs = tr.compute_loss(tr.model, batch).item()
    mine = ours(logps(policy, batch), logps(ref, batch), batch, lt).item()
    assert abs(theirs - mine) <= 1e-5, (lt, theirs, mine)
    assert abs(theirs - ours(logps(policy, batch), logps(policy, batch), batch, lt).item()) > 1e-3   # the reference matters

@pytest.mark.parametrize('lt', LOSS_TYPES)
def test_lora_reference_is_the_adapter_disabled_model(tmp_path, lt):
    tok = lab.tokenizer()
    base = lab.new_model(tok, seed=3, **SMALL)
    data = rows(True)
    tr = DPOTrainer(model=copy.deepcopy(base), args=args(tmp_path, lt), train_dataset=Dataset.from_list(data), processing_class=tok,
                    peft_config=LoraConfig(r=4, lora_alpha=8, target_modules='all-linear', task_type='CAUSAL_LM'))
    assert tr.ref_model is None
    torch.manual_seed(0)
    with torch.no_grad():
        for n, p in tr.model.named_parameters():
            if 'lora_B' in n: p.normal_(std=0.05)   # move the policy away from the base
    batch = tr.data_collator([tr.train_dataset[i] for i in range(len(data))])
    with torch.no_grad(): theirs = tr.compute_loss(tr.model, batch).item()
    mine = ours(logps(tr.model, batch), logps(base, batch), batch, lt).item()
    assert abs(theirs - mine) <= 1e-5, (lt, theirs, mine)
