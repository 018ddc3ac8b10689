#!/usr/bin/env bash
# Unsloth in its own venv (.venv-unsloth): unsloth pins older transformers/trl/datasets, so it cannot share .venv.
# Installs unsloth + unsloth_zoo with --no-deps and their dependencies from tools/unsloth-requirements.txt, then runs
# tests/test_unsloth.py (the same LoRA recipe through Unsloth and through transformers + PEFT, on the lab, on CPU) and
# the recipe's call-signature test and the exact spans TRL grades on real chat templates (TRL 1.15) against those versions. CI runs it. Usage: bash tools/unsloth_smoke.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
PY=${PYTHON:-python3}
V=.venv-unsloth
UV=${UNSLOTH_VERSION:-2026.10.9}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
[ -x $V/bin/python ] || "$PY" -m venv $V
$V/bin/python -c "import torch" 2>/dev/null || $V/bin/pip install -q torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
if ! $V/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('unsloth') != '$UV')" 2>/dev/null; then
  # --no-deps: unsloth's metadata wants a certifi newer than the registry has, plus CUDA-only torchvision/xformers
  $V/bin/pip install -q -r tools/unsloth-requirements.txt
  $V/bin/pip install -q --no-deps "unsloth==$UV" "unsloth_zoo==$UV"
fi
# llmbook itself without re-resolving its dependencies (unsloth's pins satisfy them), plus the test runner
$V/bin/pip install -q --no-deps -e .
$V/bin/pip install -q pytest fastcore matplotlib
echo "install: $(( $(date +%s) - t0 ))s"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
unset UNSLOTH_ALLOW_CPU   # Unsloth's CUDA-spoofing test switch; its real CPU backend is what runs here
$V/bin/python -m pytest -q -p no:cacheprovider tests/test_unsloth.py tests/test_train_compat.py tests/test_graded_spans.py
echo "unsloth smoke total: $(( $(date +%s) - t0 ))s"
