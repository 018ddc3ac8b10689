#!/usr/bin/env bash
# Version drift: llmbook against the LATEST releases of transformers, TRL, PEFT, datasets and accelerate (unpinned,
# no constraints.txt), in its own venv (.venv-latest). Runs the recipes' tests and the rehearsal of every chapter's
# GPU cells, so a breaking release is caught before a reader meets it. The weekly workflow
# (.github/workflows/latest.yml) runs it; run it by hand with: bash tools/latest_smoke.sh
# Prints the versions it tested (also written to .cache/latest-versions.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
t0=$(date +%s)
PY=${PYTHON:-python3}
V=.venv-latest
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
[ -x $V/bin/python ] || "$PY" -m venv $V
# torch stays pinned to the CPU wheel (a bare torch requirement pulls a multi-GB CUDA build)
$V/bin/python -c "import torch" 2>/dev/null || $V/bin/pip install -q torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
$V/bin/pip install -q -e ".[dev]"
$V/bin/pip install -q --upgrade transformers trl peft datasets accelerate
mkdir -p .cache
$V/bin/python - <<'PY' | tee .cache/latest-versions.txt
import importlib.metadata as m
print('latest releases tested:', ', '.join(f'{p} {m.version(p)}' for p in ('transformers', 'trl', 'peft', 'datasets', 'accelerate', 'torch')))
PY
echo "install: $(( $(date +%s) - t0 ))s"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0 MPLBACKEND=Agg
# the recipes' tests: every test module that drives a recipe or a reference library
TESTS=$(ls tests/test_train*.py tests/test_graded_spans.py tests/test_peft_lora.py tests/test_qlora.py tests/test_lab.py \
           tests/test_dpo*.py tests/test_distill*.py tests/test_merge_parity.py tests/test_resume.py 2>/dev/null || true)
$V/bin/python -m pytest -q -p no:cacheprovider $TESTS
$V/bin/python tools/rehearse.py --jobs "${JOBS:-2}"
echo "latest smoke total: $(( $(date +%s) - t0 ))s"
