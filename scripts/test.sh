#!/usr/bin/env bash
# Fresh machine -> every check CI runs: setup, sync/clean checks, notebooks, pytest, zh-TW lint, docs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0 MPLBACKEND=Agg
step(){ echo; echo "=== $* ($(date +%T))"; }

step "library in sync with notebooks"
nbdev-export
git diff --exit-code --stat -- llmbook || { echo "llmbook/ is out of sync: run nbdev-export and commit"; exit 1; }
test -z "$(git status --porcelain -- llmbook)" || { git status --short -- llmbook; echo "untracked files in llmbook/"; exit 1; }

step "notebooks clean"
nbdev-clean
git diff --exit-code --stat -- nbs || { echo "notebooks not clean: run nbdev-clean and commit"; exit 1; }

step "zh-TW prose lint"
LINT=../shared/zh_tw_lint.py; [ -f "$LINT" ] || LINT=tools/zh_tw_lint.py
python "$LINT" nbs

step "nbdev-test (notebooks)"
nbdev-test --n-workers 2 --timing

step "pytest"
python -m pytest tests

step "docs site and README"
if [ -f tools/build_docs.py ]; then python tools/build_docs.py --check-readme; fi
echo; echo "all checks passed"
