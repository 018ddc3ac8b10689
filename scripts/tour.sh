#!/usr/bin/env bash
# Fresh machine -> the lab tour: set up, then evaluate base, short SFT on CPU, evaluate again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
HF_HUB_OFFLINE=1 llmbook tour "$@"
