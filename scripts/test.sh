#!/usr/bin/env bash
# Install fastconv with its test requirements and run the default (fast) test tier.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -r requirements-test.txt
python -m pip install --quiet --no-build-isolation .
cd tests && python -m pytest -c ../pyproject.toml --rootdir .. "$@"
