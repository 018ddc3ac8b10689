#!/usr/bin/env bash
# Fresh machine -> every check CI runs (.ci/run and .github/workflows/test.yml call this script):
# setup, sync/clean checks, zh-TW lint, the reader run of every chapter, in-repo notebooks, the rehearsal of every
# chapter's GPU cells, docs, pytest, the Unsloth venv. Prints the time of each step and a table at the end.
# Needs npm (real tokenizers for the stand-in Hub; CI sets up node 20). JOBS=N runs N notebooks at once (default 2);
# KEEP_GOING=1 runs every step even after one fails (the exit status still reports the failure).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$(date +%s); TIMES=(); FAILED=(); CUR=; TS=$T0; JOBS=${JOBS:-2}
finish(){ if [ -n "$CUR" ]; then TIMES+=("$(printf '%5ss  %s' $(( $(date +%s) - TS )) "$CUR")"); CUR=; fi; }
summary(){ rc=$?; finish; echo; echo "=== time per step (${JOBS} jobs, $(nproc) cores)"; printf '%s\n' "${TIMES[@]}"
           echo "$(printf '%5ss' $(( $(date +%s) - T0 )))  total"
           if [ $rc = 0 ] && [ ${#FAILED[@]} = 0 ]; then echo "all checks passed"
           else echo "FAILED:"; printf '  %s\n' "${FAILED[@]:-exit $rc}"; [ $rc != 0 ] || exit 1; fi; }
trap summary EXIT
# run NAME FUNCTION: time one step; stop at the first failure unless KEEP_GOING is set
run(){ finish; CUR="$1"; TS=$(date +%s); echo; echo "=== $1 ($(date +%T))"
       local rc=0; "$2" || rc=$?
       if [ $rc != 0 ]; then FAILED+=("$1 (exit $rc)"); [ -n "${KEEP_GOING:-}" ] || exit $rc; fi; }

in_sync(){
  nbdev-export || return
  git diff --exit-code --stat -- llmbook || { echo "llmbook/ is out of sync: run nbdev-export and commit"; return 1; }
  test -z "$(git status --porcelain -- llmbook)" || { git status --short -- llmbook; echo "untracked files in llmbook/"; return 1; }
}
clean(){ nbdev-clean || return; git diff --exit-code --stat -- nbs || { echo "notebooks not clean: run nbdev-clean and commit"; return 1; }; }
lint(){ local l=../shared/zh_tw_lint.py; [ -f "$l" ] || l=tools/zh_tw_lint.py; python "$l" nbs; }
# truth rules: a measured-looking number in prose must appear in a stored output; one term per concept (nbs/93_terms)
numbers(){ python tools/check_numbers.py; }
terms(){ python tools/terms_lint.py; }
# The reader run replaces a plain nbdev-test of the chapters: it executes the same cells (nbdev-test's selection,
# tests/test_reader_run.py checks it) from the built wheel, in an empty folder, with nbval on the marked cells.
reader(){ python tools/reader_run.py --jobs "$JOBS"; }
# Notebooks that are not chapters only make sense inside the repository (index reads the chapters beside it).
in_repo(){ local nb; for nb in nbs/*.ipynb; do case "$(basename "$nb")" in [0-9][0-9]_*) ;; *) nbdev-test "$nb" || return;; esac; done; }
rehearsal(){ python tools/rehearse.py --jobs "$JOBS"; }
site(){ python tools/build_docs.py --check-readme; }
browser(){
  # CI (root): Debian chromium + CJK fonts, npm playwright-core into a gitignored folder. Locally they are optional:
  # tests/test_site.py skips only its browser part when they are absent.
  if [ -n "${CI:-}" ] && [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk || return
  fi
  if command -v npm >/dev/null && [ ! -d .cache/node/node_modules/playwright-core ]; then
    npm install --no-save --no-audit --no-fund --prefix .cache/node playwright-core >/dev/null || return
  fi
}
tests(){ python -m pytest tests --durations=10; }
bench_tiny(){ python bench/run_all.py --tiny --jobs "$JOBS" --out "$(mktemp -d)"; }   # every bench script on a tiny setting (merge: matches mergekit)
llamacpp(){
  # opt-in: llama-cpp-python has no CPU wheel (a ~6 min source build, cached in .cache/wheels/); results are stored in
  # bench/results/llamacpp.json either way
  if [ -n "${LLMBOOK_LLAMACPP:-}" ]; then bash tools/llamacpp_wheel.sh && LLMBOOK_SLOW=1 python -m pytest tests/test_llamacpp.py
  else echo "skipped (set LLMBOOK_LLAMACPP=1 to build/reuse llama-cpp-python and run tests/test_llamacpp.py)"; fi
}
unsloth(){ (deactivate; bash tools/unsloth_smoke.sh); }

finish; CUR="setup (.venv)"; TS=$(date +%s); echo "=== $CUR ($(date +%T))"
source scripts/setup.sh   # not through run(): errexit must stay on while installing (a failed torch pin must stop here)
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONHASHSEED=0 MPLBACKEND=Agg
run "library in sync with notebooks" in_sync
run "notebooks clean" clean
run "zh-TW prose lint" lint
run "numbers in prose appear in stored outputs (tools/check_numbers.py)" numbers
run "one term per concept (tools/terms_lint.py, glossary nbs/93_terms.ipynb)" terms
run "reader run: every chapter alone, from the wheel, on CPU (scripts/reader_run.sh)" reader
run "in-repo notebooks (nbdev-test)" in_repo
run "rehearsal: every chapter's #| cuda cells on CPU against stand-ins (scripts/rehearse.sh)" rehearsal
run "docs site and README (build_docs: site -> docs/, README.md must be current)" site
run "browser for the site check" browser
run "pytest" tests
run "benchmarks, tiny setting (bench/run_all.py --tiny; full size by hand: python bench/run_all.py -> BENCHMARKS.md)" bench_tiny
run "llama.cpp parity (opt-in)" llamacpp
run "unsloth in its own venv (tools/unsloth_smoke.sh)" unsloth
