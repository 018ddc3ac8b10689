#!/usr/bin/env bash
# Fresh machine -> every check CI runs (.ci/run and .github/workflows/test.yml call this script):
# setup, sync/clean checks, zh-TW lint, the reader run of every chapter, in-repo notebooks, the rehearsal of every
# chapter's GPU cells, docs, pytest, the Unsloth venv. Prints the time of each step and a table at the end.
# Needs npm (real tokenizers for the stand-in Hub; CI sets up node 20). JOBS=N runs N notebooks at once (default 2).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$(date +%s); TIMES=(); CUR=; TS=$T0; JOBS=${JOBS:-2}
finish(){ if [ -n "$CUR" ]; then TIMES+=("$(printf '%5ss  %s' $(( $(date +%s) - TS )) "$CUR")"); CUR=; fi; }
step(){ finish; CUR="$*"; TS=$(date +%s); echo; echo "=== $* ($(date +%T))"; }
summary(){ rc=$?; finish; echo; echo "=== time per step (${JOBS} jobs, $(nproc) cores)"; printf '%s\n' "${TIMES[@]}"
           echo "$(printf '%5ss' $(( $(date +%s) - T0 )))  total"; [ $rc = 0 ] && echo "all checks passed" || echo "FAILED (exit $rc)"; }
trap summary EXIT

step "setup (.venv)"
source scripts/setup.sh
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0 MPLBACKEND=Agg

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

# The reader run replaces a plain nbdev-test of the chapters: it executes the same cells (nbdev-test's default
# skips: notest, slow, cuda; eval: false) from the built wheel, in an empty folder, with nbval on the marked cells.
step "reader run: every chapter alone, from the wheel, on CPU (scripts/reader_run.sh)"
python tools/reader_run.py --jobs "$JOBS"

# Notebooks that are not chapters only make sense inside the repository (index reads the chapters beside it).
step "in-repo notebooks (nbdev-test)"
for nb in nbs/*.ipynb; do
  case "$(basename "$nb")" in [0-9][0-9]_*) ;; *) nbdev-test "$nb" ;; esac
done

step "rehearsal: every chapter's #| cuda cells on CPU against stand-ins (scripts/rehearse.sh)"
python tools/rehearse.py --jobs "$JOBS"

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
python -m pytest tests --durations=10

step "unsloth in its own venv (tools/unsloth_smoke.sh)"
deactivate
bash tools/unsloth_smoke.sh
