#!/usr/bin/env bash
# Fresh machine -> every check CI runs: setup, sync/clean checks, zh-TW lint, notebooks, docs, pytest, merge bench (tiny), Unsloth venv.
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

step "docs site and README (build_docs: site -> docs/, README.md must be current)"
python tools/build_docs.py --check-readme

step "browser for the site check"
# CI (root): Debian chromium + CJK fonts, npm playwright-core into a gitignored folder. Locally they are optional:
# tests/test_site.py skips only its browser part when they are absent.
if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk
fi
if command -v npm >/dev/null && [ ! -d .cache/node/node_modules/playwright-core ]; then
  npm install --no-save --no-audit --no-fund --prefix .cache/node playwright-core >/dev/null
fi

step "pytest"
python -m pytest tests

step "llama.cpp parity (opt-in: LLMBOOK_LLAMACPP=1 builds or reuses .cache/wheels/, then runs tests/test_llamacpp.py)"
if [ -n "${LLMBOOK_LLAMACPP:-}" ]; then bash tools/llamacpp_wheel.sh && LLMBOOK_SLOW=1 python -m pytest tests/test_llamacpp.py
else echo "skipped (llama-cpp-python has no CPU wheel; results are stored in bench/results/llamacpp.json)"; fi

step "merge bench, tiny setting (checks bench/merge.py runs and matches mergekit; full-size numbers: python bench/merge.py)"
python bench/merge.py --tiny --out "$(mktemp -d)/merge-tiny.json"

step "unsloth in its own venv (tools/unsloth_smoke.sh)"
deactivate
bash tools/unsloth_smoke.sh
echo; echo "all checks passed"
