#!/usr/bin/env bash
# Unsloth compatibility smoke test in its own venv (.venv-unsloth): unsloth pins older transformers/trl/datasets,
# so it cannot share .venv. Runs the recipe's signature test against those versions and a tiny CPU
# FastLanguageModel load + LoRA + forward/backward. Usage: bash tools/unsloth_smoke.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
PY=${PYTHON:-python3}
V=.venv-unsloth
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
[ -x $V/bin/python ] || "$PY" -m venv $V
$V/bin/python -c "import torch" 2>/dev/null || $V/bin/pip install -q torch==2.13.0
# keep the CPU torch: without the pin pip swaps in a CUDA build (GBs) to satisfy torchvision/xformers
$V/bin/python -c "import unsloth" 2>/dev/null || $V/bin/pip install -q unsloth "torch==2.13.0"
# llmbook itself without re-resolving its dependencies (they are satisfied by unsloth's pins), plus the test runner
$V/bin/pip install -q --no-deps -e .
$V/bin/pip install -q pytest fastcore psutil matplotlib
# PyPI's torchvision is built against CUDA torch and fails to load on the CPU build; nothing here needs it
$V/bin/python -c "import torchvision" 2>/dev/null || $V/bin/pip uninstall -y -q torchvision
echo "install: $(( $(date +%s) - t0 ))s"
# Unsloth refuses to import without an accelerator unless told to run its CUDA code paths on CPU (test-only switch)
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false UNSLOTH_ALLOW_CPU=1
$V/bin/python -c "import unsloth, transformers, trl, datasets, peft, torch; print('versions: unsloth', unsloth.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, 'datasets', datasets.__version__, 'peft', peft.__version__)"
$V/bin/python -m pytest -q -p no:warnings tests/test_train_compat.py
$V/bin/python - <<'PY'
import sys, tempfile, torch
import unsloth
from unsloth import FastLanguageModel   # import before transformers, as Unsloth asks
sys.path.insert(0, 'tests')
import train_standin as lab
d = tempfile.mkdtemp()
tok = lab.tokenizer(); tok.save_pretrained(d)
lab.model(tok, hidden=64).save_pretrained(d)
try: model, tok2 = FastLanguageModel.from_pretrained(d, max_seq_length=64, dtype=torch.float32, load_in_4bit=False)
except AssertionError as e:   # some Unsloth releases query CUDA device properties while loading, even with UNSLOTH_ALLOW_CPU
    if 'not compiled with CUDA' not in str(e): raise
    print(f'unsloth smoke SKIPPED: unsloth {unsloth.__version__} cannot load a model without CUDA ({e}); '
          'the signature tests above still ran against its pinned versions'); sys.exit(0)
model = FastLanguageModel.get_peft_model(model, r=4, lora_alpha=8, lora_dropout=0, target_modules=['q_proj', 'v_proj'],
                                         use_gradient_checkpointing=False, random_state=0)
enc = tok.apply_chat_template(lab.messages(lab.items('guozi', 'train', 1)[0]), return_dict=True, return_tensors='pt')
out = model(input_ids=enc['input_ids'], labels=enc['input_ids']); out.loss.backward()
g = [p.grad for n, p in model.named_parameters() if p.requires_grad and p.grad is not None]
assert g and all(torch.isfinite(x).all() for x in g), 'no finite LoRA gradients'
print(f'unsloth smoke ok: loss {out.loss.item():.3f}, {len(g)} LoRA gradients')
PY
echo "total: $(( $(date +%s) - t0 ))s"
