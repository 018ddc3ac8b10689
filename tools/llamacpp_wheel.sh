#!/usr/bin/env bash
# Build llama-cpp-python once into .cache/wheels/ and install it into the active venv.
# PyPI has no CPU wheel: the sdist compiles llama.cpp (~6 min on 2 idle cores; 20 min seen on 2 busy ones).
# A wheel already in .cache/wheels/ is reused, so CI can cache that folder (key: this file's hash), e.g. with
# actions/cache `path: .cache/wheels`, `key: llamacpp-${{ hashFiles('tools/llamacpp_wheel.sh') }}`.
# GGML_NATIVE=OFF targets AVX2/FMA/F16C instead of this machine's exact CPU, so a cached wheel also runs on
# CI machines with other CPU features (with or without AVX512).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VER=${LLAMA_CPP_VERSION:-0.3.36}
WHEELS=.cache/wheels
mkdir -p "$WHEELS"
if ! ls "$WHEELS"/llama_cpp_python-"$VER"-*.whl >/dev/null 2>&1; then
  t0=$(date +%s); load0=$(cut -d' ' -f1 /proc/loadavg)
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
    nice pip wheel --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VER" -w "$WHEELS"
  secs=$(( $(date +%s) - t0 ))
  printf '{"version": "%s", "seconds": %d, "cores": %d, "loadavg_start": %s, "loadavg_end": %s, "date": "%s"}\n' \
    "$VER" "$secs" "$(nproc)" "$load0" "$(cut -d' ' -f1 /proc/loadavg)" "$(date -u +%FT%TZ)" > "$WHEELS/llama_cpp_build.json"
  echo "built llama-cpp-python $VER in $secs s -> $WHEELS"
fi
pip install "$WHEELS"/llama_cpp_python-"$VER"-*.whl   # its small deps (diskcache, jinja2, numpy) from PyPI
