#!/usr/bin/env bash
# Build the sdist, build the binary wheel FROM that sdist, repair it into a manylinux wheel that
# carries its OpenMP runtime (auditwheel + patchelf), install it into a fresh virtual environment
# (nothing is compiled there) and run the test suite from outside the source tree against it.
#
#   bash scripts/build_wheel.sh                 # whole default test tier against the wheel
#   bash scripts/build_wheel.sh tests/test_cli.py -x   # pytest arguments instead of the whole tier
#
# Results: dist/fastconv-<v>.tar.gz and dist/fastconv-<v>-*manylinux*.whl.
# FASTCONV_WHEEL_ISOLATION=1 builds in pip's isolated build environment (downloads the build
# requirements) instead of reusing the installed setuptools / Cython / NumPy.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dist="$repo/dist"
work=$(mktemp -d "${TMPDIR:-/tmp}/fastconv-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
stamp() { echo "[build_wheel +$(( $(date +%s) - start ))s] $*"; }

# 1. A clean copy of the sources, so in-place build products (*.so, generated *.c, build/) never
#    leak into the sdist and a build here never touches the working tree.
stamp "copying sources"
mkdir -p "$work/src"
tar -C "$repo" --exclude=.git --exclude=build --exclude=dist --exclude='*.so' --exclude='*.c' \
    --exclude='__pycache__' --exclude='*.egg-info' --exclude='.benchmarks' --exclude='.hypothesis' \
    --exclude='venv*' --exclude='.venv*' -cf - . | tar -C "$work/src" -xf -

isolation=(--no-isolation)
pip_isolation=(--no-build-isolation)
if [ "${FASTCONV_WHEEL_ISOLATION:-0}" = "1" ]; then isolation=(); pip_isolation=(); fi

# 2. sdist, then a wheel built from the unpacked sdist (proves the sdist is complete).
stamp "building the sdist"
(cd "$work/src" && python -m build --sdist "${isolation[@]}" --outdir "$work/sdist" >/dev/null)
sdist=$(ls "$work"/sdist/fastconv-*.tar.gz)
listing=$(tar -tzf "$sdist")
for member in csrc/_conv.pyx csrc/_omp.pxd csrc/fastconv_cpu.h pyproject.toml setup.py README.md; do
    grep -qx "fastconv-[^/]*/$member" <<<"$listing" || { echo "sdist is missing $member" >&2; exit 1; }
done
stamp "building the wheel from $(basename "$sdist")"
export FASTCONV_FAIL_NO_OPENMP=1
python -m pip wheel "$sdist" --no-deps "${pip_isolation[@]}" -w "$work/raw" -q

# 3. manylinux repair: copies libgomp into fastconv.libs/ and rewrites the RPATHs.
stamp "auditwheel repair"
auditwheel repair -w "$work/fixed" "$work"/raw/fastconv-*.whl >/dev/null
wheel=$(ls "$work"/fixed/fastconv-*.whl)
grep -q 'fastconv\.libs/libgomp' <<<"$(python -m zipfile -l "$wheel")" \
    || { echo "the repaired wheel does not carry libgomp" >&2; exit 1; }
mkdir -p "$dist"
cp "$sdist" "$wheel" "$dist/"
stamp "wheel: $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

# 4. A fresh venv: the wheel (binary only) plus the test requirements, no compiler involved.
stamp "fresh venv"
python -m venv "$work/venv"
vpy="$work/venv/bin/python"
"$vpy" -m pip install -q --only-binary=:all: "$dist/$(basename "$wheel")"
# Everything the tests need (pytest, hypothesis, the Keras parity oracle...), but not the build
# tools: the venv has no Cython, so nothing can be compiled there by accident.
grep -vE '^(#|$|setuptools|wheel|Cython)' requirements-test.txt | sed 's/#.*//' > "$work/test-reqs.txt"
"$vpy" -m pip install -q --only-binary=:all: -r "$work/test-reqs.txt"

# 5. The tests (and the example programs some tests run), from the same snapshot as the wheel,
#    outside any source tree; the package must come from the venv's site-packages.
mv "$work/src/tests" "$work/src/examples" "$work/src/pyproject.toml" "$work/"
rm -rf "$work/src"
cd "$work"
location=$(PATH="$work/venv/bin:$PATH" "$vpy" -c 'import fastconv, os; print(os.path.dirname(fastconv.__file__))')
case "$location" in
    "$work/venv/"*) stamp "testing fastconv from $location" ;;
    *) echo "fastconv resolved to $location, not the fresh venv" >&2; exit 1 ;;
esac
PATH="$work/venv/bin:$PATH" FASTCONV_DATA="${FASTCONV_DATA:-$(cd "$repo/.." && pwd)/shared/data}" \
    "$vpy" -m pytest -c "$work/pyproject.toml" --rootdir "$work" -q "$@"
stamp "done"
