#!/usr/bin/env bash
# The reader run: build the wheel, install it alone (+ declared extras, + pytest/nbval/ipykernel) in .venv-reader,
# and run each chapter copied alone into an empty folder, top to bottom on CPU (tools/reader_run.py explains it).
# Usage: bash scripts/reader_run.sh [NOTEBOOK ...]      (default: every nbs/NN_*.ipynb)
set -euo pipefail
R="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$R/.venv/bin/python" ] || (source "$R/scripts/setup.sh")
exec nice "$R/.venv/bin/python" "$R/tools/reader_run.py" "$@"
