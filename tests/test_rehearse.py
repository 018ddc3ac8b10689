"""The rehearsal runner (tools/rehearse.py): which cells run on which tier, the non-t4 rule, and that a rehearsal
fails for the reasons a real GPU run would fail (renamed argument, unknown Hub id, a chat template whose assistant
mask grades nothing), with the error shown next to the chapter and cell."""
import json, subprocess, sys, types
from pathlib import Path
import nbformat as nbf
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
import nbcells, rehearse  # noqa: E402

def _nb(*cells, tiers=('cpu', 't4', '24g', '80g')):
    nb = nbf.v4.new_notebook()
    nb.metadata['llmbook'] = {'tiers': list(tiers)}
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'}
    nb.cells = [nbf.v4.new_markdown_cell(c[3:]) if c.startswith('md:') else nbf.v4.new_code_cell(c) for c in cells]
    return json.loads(nbf.writes(nb))

SETUP = "from llmbook import hw\nTIER = hw.tier()"

def test_directives_and_needs_cuda():
    src = "#| cuda\n#| eval: false\n# needs-cuda: peak memory of a real GPU\nx = 1"
    assert nbcells.directives(src) == {'cuda': '', 'eval': 'false'}
    assert nbcells.needs_cuda(src) == 'peak memory of a real GPU'
    assert nbcells.needs_cuda("#| cuda\nx = 1  # needs-cuda: not a first comment line") is None
    assert nbcells.skipped_by_nbdev_test("#| slow\nx") == 'slow'
    assert nbcells.skipped_by_nbdev_test("#| eval: false\nx") == 'eval: false'
    assert nbcells.skipped_by_nbdev_test("#| export\nx") is None

def test_t4_runs_everything_but_slow_and_needs_cuda():
    nb = _nb(SETUP, "md:## lesson", "a = 1", "#| slow\nb = 2", "#| cuda\nc = a",
             "#| cuda\n# needs-cuda: measures torch.cuda.max_memory_allocated\nimport torch")
    run, skipped, viol = rehearse.select(nb, 't4')
    assert [i for i, _ in run] == [0, 2, 4] and skipped == [(5, 'measures torch.cuda.max_memory_allocated')] and viol == []

def test_t4_of_a_chapter_without_gpu_cells_runs_its_setup_and_definitions():
    nb = _nb(SETUP, "md:## lesson", "def f(x): return x", "lesson = f(41) + 1")
    assert [i for i, _ in rehearse.select(nb, 't4')[0]] == [0, 2]

def test_non_t4_runs_setup_preamble_definitions_and_gpu_cells_only():
    nb = _nb(SETUP, "#| hide\nREAL = {'24g': 'Qwen/Qwen2.5-7B-Instruct'}", "md:## lesson",
             "#| export\ndef f(x): return x", "N = 3\nNAME = 'org/model'", "lesson = f(41) + 1",
             "#| cuda\nprint(REAL[TIER], f(N), NAME)")
    run, _, viol = rehearse.select(nb, '24g')
    assert [i for i, _ in run] == [0, 1, 3, 4, 6]   # cell 5 (a lesson computation) is not run
    assert viol == []

def test_rule_violation_names_the_variable_and_the_cell():
    nb = _nb(SETUP, "md:## lesson", "lesson = 41 + 1", "#| cuda\nprint(TIER, lesson)")
    _, _, viol = rehearse.select(nb, '80g')
    assert viol == [(3, ['lesson'], [2])]

def test_tiers_follow_the_plan_registry(monkeypatch, tmp_path):
    nb = _nb(SETUP)
    plans = types.ModuleType('llmbook.plans')
    table = {('04_sft', 't4'): ('Qwen/Qwen2.5-0.5B-Instruct', 'full'), ('04_sft', '24g'): ('Qwen/Qwen2.5-7B-Instruct', 'lora'),
             ('04_sft', '80g'): ('Qwen/Qwen2.5-0.5B-Instruct', 'full')}
    def plan(ch, t):
        if (ch, t) not in table: raise KeyError(ch)
        return types.SimpleNamespace(model=table[ch, t][0], method=table[ch, t][1], batch=1)
    plans.plan = plan
    monkeypatch.setitem(sys.modules, 'llmbook.plans', plans)
    import llmbook; monkeypatch.setattr(llmbook, 'plans', plans, raising=False)
    assert rehearse.tiers_for(Path('04_sft.ipynb'), nb)[0] == ['t4', '24g']
    assert rehearse.tiers_for(Path('99_other.ipynb'), nb)[0] == ['t4']

SFT_OK = """#| cuda
from transformers import AutoConfig, AutoTokenizer
for hub_id in ['Qwen/Qwen2.5-7B-Instruct', 'meta-llama/Llama-3.1-8B-Instruct', 'google/gemma-3-4b-it']:
    tok = AutoTokenizer.from_pretrained(hub_id)
    print(hub_id, AutoConfig.from_pretrained(hub_id).model_type, len(tok), TIER)
assert TIER == 't4'"""
RENAMED = """#| cuda
from trl import SFTConfig
SFTConfig(output_dir='out', max_seq_length=64)   # renamed to max_length in TRL"""
UNKNOWN = """#| cuda
from transformers import AutoModelForCausalLM
AutoModelForCausalLM.from_pretrained('nobody/no-such-model')"""
NO_MASK = """#| cuda
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
tok = AutoTokenizer.from_pretrained('Qwen/Qwen2.5-0.5B-Instruct')
tok.chat_template = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\\n{{ m['content'] }}<|im_end|>\\n"
                     "{% if m['role'] == 'assistant' %}{% generation %}{% endgeneration %}{% endif %}{% endfor %}")
model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-0.5B-Instruct', dtype='float32')
data = Dataset.from_list([{'messages': [{'role': 'user', 'content': '你好'}, {'role': 'assistant', 'content': '您好'}]}] * 4)
args = SFTConfig(output_dir='out', max_steps=1, use_cpu=True, bf16=False, report_to='none', assistant_only_loss=True)
SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok).train()"""

@pytest.fixture(scope='module')
def rehearsal(tmp_path_factory):
    "One rehearsal run over four synthetic chapters: one that works, three that break like a real run would."
    d = tmp_path_factory.mktemp('chapters')
    for name, cell in [('10_ok', SFT_OK), ('11_renamed', RENAMED), ('12_unknown', UNKNOWN), ('13_nomask', NO_MASK)]:
        (d/f'{name}.ipynb').write_text(json.dumps(_nb(SETUP, "md:## GPU", cell)))
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'rehearse.py'), '--tiers', 't4', '--jobs', '2',
                        *sorted(map(str, d.glob('*.ipynb')))], capture_output=True, text=True, timeout=1800)
    return r

def test_rehearsal_fails_like_a_real_run(rehearsal):
    out = rehearsal.stdout
    assert rehearsal.returncode == 1, out + rehearsal.stderr
    assert out.strip().splitlines()[-1] == 'rehearsed: 4 cells in 4 chapters, 0 skipped, 3 failed', out
    assert '10_ok      t4   ok' in out
    for chapter, error in [('11_renamed', "unexpected keyword argument 'max_seq_length'"),
                           ('12_unknown', 'nobody/no-such-model'),
                           ('13_nomask', 'no assistant tokens')]:
        block = out.split(f'FAILED {chapter} [t4] cell 2 (#| cuda)', 1)
        assert len(block) == 2, f'{chapter} not reported as a failed cuda cell:\n{out}'
        assert error in block[1].split('FAILED ')[0], f'{chapter}: {error!r} not shown:\n{block[1][:2000]}'
