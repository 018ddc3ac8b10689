"""What TRL grades with `assistant_only_loss=True` on real chat templates without `{% generation %}` markers.

TRL 1.15 and 1.16 recognise the shipped templates of Qwen2.5, Llama 3 and Gemma 3 and swap in training copies with
markers; each grades a slightly different span. These exact strings are what chapters 1 and 4 teach and what the
recipe's `check_labels` accepts (no prompt token graded). Real tokenizers (with their chat templates) come from npm
(`tools/npm_tokenizers.py`); runs in the main venv (TRL 1.16) and in the Unsloth venv (TRL 1.15, tools/unsloth_smoke.sh).
"""
import sys
from pathlib import Path
import pytest
torch = pytest.importorskip('torch')
sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tools'))
from npm_tokenizers import tokenizer_dir

CONV = [dict(role='user', content='7785 寫成國字是什麼？'), dict(role='assistant', content='七千七百八十五')]
TWO_TURNS = CONV + [dict(role='user', content='那 12 加 9 呢？'), dict(role='assistant', content='21')]
GRADED = {  # npm package -> what TRL grades in CONV, TWO_TURNS
    'qwen2_5':  ('\n七千七百八十五<|im_end|>\n', '\n七千七百八十五<|im_end|>\n\n21<|im_end|>\n'),
    'llama3_1': ('七千七百八十五<|eot_id|>', '七千七百八十五<|eot_id|>21<|eot_id|>'),  # npm's llama3_1 carries Meta-Llama-3's template
    'gemma3':   ('七千七百八十五<end_of_turn>\n', '七千七百八十五<end_of_turn>\n21<end_of_turn>\n'),
}

def _tok(name):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(tokenizer_dir(name))  # no npm: NpmTokenizerError, a failure, never a skip

def _trainer(tok, rows, tmp_path, assistant_only=True):
    from datasets import Dataset
    from transformers import LlamaConfig, LlamaForCausalLM
    from trl import SFTConfig, SFTTrainer
    from llmbook.train import sft_config
    m = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=8, intermediate_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, num_key_value_heads=1))
    cfg = sft_config('cpu', 'full', tmp_path, max_length=128, assistant_only_loss=assistant_only, gradient_checkpointing=False)
    return SFTTrainer(model=m, processing_class=tok, train_dataset=Dataset.from_list([dict(messages=r) for r in rows]),
                      args=SFTConfig(**cfg))

@pytest.mark.parametrize('name', list(GRADED))
def test_trl_grades_this_span(name, tmp_path):
    from llmbook.train import graded_text, check_labels
    tok = _tok(name)
    assert '{% generation' not in tok.chat_template   # the shipped template has no markers
    tr = _trainer(tok, [CONV, TWO_TURNS], tmp_path)
    assert [graded_text(tr, 0), graded_text(tr, 1)] == list(GRADED[name])
    from datasets import Dataset
    assert check_labels(tr, Dataset.from_list([dict(messages=CONV), dict(messages=TWO_TURNS)])) > 0   # no prompt token graded

def test_unknown_template_is_refused(tmp_path):
    "Llama 3.1/3.3's shipped template (TRL keeps a copy, with no training variant) is refused, not silently mis-masked."
    import trl
    tok = _tok('llama3_1')
    tok.chat_template = (Path(trl.__file__).parent/'chat_templates'/'llama3_1.jinja').read_text()
    with pytest.raises(ValueError, match='not training-compatible'): _trainer(tok, [CONV], tmp_path)

def test_full_sequence_is_caught_as_grading_the_prompt(tmp_path):
    "The recipe's guard: a run meant to be assistant-only whose labels also grade the user turn stops before training."
    from datasets import Dataset
    from llmbook.train import check_labels
    tok = _tok('qwen2_5')
    tr = _trainer(tok, [CONV], tmp_path, assistant_only=False)
    with pytest.raises(ValueError, match='prompt tokens'): check_labels(tr, Dataset.from_list([dict(messages=CONV)]))
    assert check_labels(tr, Dataset.from_list([dict(messages=CONV)]), assistant_only=False) > 0
