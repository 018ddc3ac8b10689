#!/usr/bin/env bash
# Create .venv and install llmbook with its dev extras (idempotent). Usage: source scripts/setup.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_PROGRESS_BAR=off
# torch first: a CPU wheel is pinned on purpose; a bare `torch` requirement would pull a multi-GB CUDA build.
# On GitHub the CPU wheel comes from the PyTorch index: set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
python -c "import torch" 2>/dev/null || pip install -q torch==2.13.0 ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
CONSTRAINTS=(); [ -f constraints.txt ] && CONSTRAINTS=(-c constraints.txt)
pip install -q "${CONSTRAINTS[@]}" -e ".[dev]"
