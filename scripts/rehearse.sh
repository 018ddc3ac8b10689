#!/usr/bin/env bash
# Rehearse every chapter's `#| cuda` cells on CPU against stand-in models and datasets under the real Hub ids
# (tools/rehearse.py explains the rules; tools/standins.py builds the stand-ins, cached in .cache/standins/).
# Usage: bash scripts/rehearse.sh [--tiers t4,24g] [--jobs 2] [NOTEBOOK ...]
# Ends with `rehearsed: N cells in M chapters, S skipped, F failed`; exit status 1 when F > 0.
set -euo pipefail
R="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -x "$R/.venv/bin/python" ] || (source "$R/scripts/setup.sh")
exec nice "$R/.venv/bin/python" "$R/tools/rehearse.py" "$@"
