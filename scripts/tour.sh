#!/usr/bin/env bash
# Fresh machine -> the lab tour: set up, then the book's pipeline on CPU (SFT, LoRA, QLoRA, DPO, distillation, merge, quantization) and its leaderboard.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
HF_HUB_OFFLINE=1 llmbook tour "$@"
