#!/usr/bin/env bash
# The deep test tier (TESTING.md, "Tiers"): run by `make test-deep`.
#
# Steps, in order; the run stops at the first step that fails (FASTCONV_DEEP_KEEP_GOING=1 runs
# them all) and always ends with a summary table (step, checks/cases, failures, time):
#   1 asan      ASan+UBSan build (gcc) + the whole default suite but `-m keras`        (G1, D3, K4)
#   2 debug     Cython boundscheck/wraparound/initializedcheck build + whole suite     (G2)
#   3 valgrind  kernel tests (no sweeps) on the installed build under valgrind memcheck (G3)
#   4 tsan      ThreadSanitizer build + the Python-thread tests, OMP_NUM_THREADS=1     (F2)
#   5 fuzz      every atheris target in fuzz/ on a sanitizer build                     (H1)
#   6 seeds     the randomised tests for each seed 0-99, then Hypothesis `deep` (x10) (M1, A2, B1)
#   7 leaks     the deep leak loops                                                    (I1-I4)
#   8 oracles   the remaining `-m deep` tests: PyTorch / Keras oracles                 (A5, P1, P2)
#
# Sanitizer, debug and fuzz builds are made in copies of the tree under $FASTCONV_DEEP_DIR and
# imported through PYTHONPATH, so the normal (editable) install is never touched. Steps 6-8 test
# the installed package.
#
# Time on 2 cores (the whole tier is meant to stay under an hour): valgrind is single-threaded,
# so it runs in the background next to steps 4 and 5; fuzz targets run two at a time; step 6
# splits the seeds over two pytest processes.
#
# Fuzzing and the compiler: TESTING.md H1 names clang `-fsanitize=address,fuzzer-no-link` with
# atheris' asan_with_fuzzer.so. Where clang and that library exist, step 5 builds and uses that.
# Otherwise (gcc only) each target runs in two parts: a coverage-guided run on the installed build
# (guidance from atheris' instrumentation of the fastconv Python code, which decides which kernel
# paths are reached; the C kernels themselves give no coverage feedback), growing a corpus; then
# FASTCONV_FUZZ_RUNS executions of that corpus and its mutations on the gcc ASan+UBSan build.
# The 100,000 executions of H1 are counted on the sanitizer build alone.
#
# Knobs (environment):
#   FASTCONV_DEEP_DIR=/tmp/fastconv-deep   work folder (builds, logs, junit files, crashes)
#   FASTCONV_DEEP_STEPS="1 2 3 4 5 6 7 8"  which steps to run
#   FASTCONV_DEEP_KEEP_GOING=1             do not stop at the first failing step
#   FASTCONV_DEEP_SEEDS="0-99"             seeds for step 6 ("a-b" or a list)
#   FASTCONV_DEEP_SEED_JOBS=2              pytest processes the seeds are split over
#   FASTCONV_DEEP_IMDB_SEEDS="0,1"         seeds for the IMDb training test (30-90 s each; "" = none)
#   FASTCONV_DEEP_OVERLAP=1                run step 3 (valgrind) in the background during 4-5
#   FASTCONV_DEEP_BUILD_JOBS=2             parallel compile jobs for the sanitizer/debug builds
#   FASTCONV_FUZZ_RUNS=100000              sanitizer-build executions per atheris target ...
#   FASTCONV_FUZZ_SECONDS=600              ... or this many seconds, whichever comes first
#   FASTCONV_FUZZ_GUIDED_RUNS=10000        coverage-guided executions per target (corpus growth)
#   FASTCONV_FUZZ_JOBS=2                   atheris targets run at the same time
#   FASTCONV_FUZZ_TARGETS="*"              which fuzz/fuzz_<name>.py targets (a glob)
#   FASTCONV_DEEP_REBUILD=1                rebuild the sanitizer/debug copies even if present
#   FASTCONV_DEEP_REUSE=1                  reuse existing builds even if csrc/ changed since
set -uo pipefail

ROOT=${FASTCONV_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
WORK=${FASTCONV_DEEP_DIR:-/tmp/fastconv-deep}
STEPS=${FASTCONV_DEEP_STEPS:-"1 2 3 4 5 6 7 8"}
KEEP_GOING=${FASTCONV_DEEP_KEEP_GOING:-0}
SEEDS=${FASTCONV_DEEP_SEEDS:-0-99}
FUZZ_RUNS=${FASTCONV_FUZZ_RUNS:-100000}
FUZZ_SECONDS=${FASTCONV_FUZZ_SECONDS:-600}
FUZZ_TARGETS=${FASTCONV_FUZZ_TARGETS:-*}
REBUILD=${FASTCONV_DEEP_REBUILD:-0}
REUSE=${FASTCONV_DEEP_REUSE:-0}
OVERLAP=${FASTCONV_DEEP_OVERLAP:-1}
BUILD_JOBS=${FASTCONV_DEEP_BUILD_JOBS:-2}
SEED_JOBS=${FASTCONV_DEEP_SEED_JOBS:-2}
IMDB_SEEDS=${FASTCONV_DEEP_IMDB_SEEDS-0,1}
FUZZ_GUIDED_RUNS=${FASTCONV_FUZZ_GUIDED_RUNS:-10000}
FUZZ_JOBS=${FASTCONV_FUZZ_JOBS:-2}
PY=${PYTHON:-python}
EXE=$("$PY" -c "import sys; print(sys.executable)")  # the interpreter itself, not a wrapper script
SUMMARY="$WORK/summary.tsv"
FAILED=0
T_START=$(date +%s)

mkdir -p "$WORK"
: > "$SUMMARY"

log() { printf '\n=== %s ===\n' "$*"; }

record() {  # step, name, cases, failures, seconds, status
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >> "$SUMMARY"
}

print_summary() {
    echo
    echo "fastconv deep tier summary ($(date -u +%Y-%m-%dT%H:%MZ), work folder $WORK)"
    printf '%-4s %-44s %10s %9s %8s  %s\n' step check cases failures seconds status
    printf '%s\n' "-----------------------------------------------------------------------------------------"
    while IFS=$'\t' read -r step name cases fails secs status; do
        printf '%-4s %-44s %10s %9s %8s  %s\n' "$step" "$name" "$cases" "$fails" "$secs" "$status"
    done < <(sort -s -t$'\t' -k1,1n "$SUMMARY")
    # totals over the step rows (the indented rows are their parts)
    awk -F'\t' -v wall=$(( $(date +%s) - T_START )) '$2 !~ /^ / {c += $3; f += $4; n++}
        END {printf "%-4s %-44s %10d %9d %8d  %d steps (wall time)\n", "all", "total", c, f, wall, n}' \
        "$SUMMARY"
}

VG_PID=""
on_exit() {
    if [[ -n "$VG_PID" ]] && kill -0 "$VG_PID" 2> /dev/null; then
        kill -TERM -- -"$VG_PID" 2> /dev/null  # the background valgrind step's process group
        wait "$VG_PID" 2> /dev/null
        record 3 "valgrind (stopped: another step failed)" 0 0 "-" "not finished"
    fi
    print_summary
}
trap on_exit EXIT

# Copy the source tree (no build products) to $1.
snapshot() {
    rm -rf "$1" && mkdir -p "$1"
    (cd "$ROOT" && tar --exclude=./build --exclude=./dist --exclude=./.git \
        --exclude='*.so' --exclude='csrc/*.c' --exclude=__pycache__ --exclude=.hypothesis \
        -cf - .) | (cd "$1" && tar xf -)
}

# Build the extension in place in copy $1; extra arguments are VAR=value settings.
build_copy() {
    local dir=$1; shift
    if [[ "$REBUILD" != 1 && -f "$dir/.built" ]] && [[ "$REUSE" == 1 || \
        -z "$(find "$ROOT/csrc" "$ROOT/setup.py" -newer "$dir/.built" -print -quit)" ]]; then
        # sources unchanged: refresh the Python files and tests only
        (cd "$ROOT" && tar --exclude=__pycache__ --exclude='*.so' -cf - src/fastconv tests fuzz) \
            | (cd "$dir" && tar xf -)
        return 0
    fi
    snapshot "$dir"
    if declare -F "prepare_$(basename "$dir")" > /dev/null; then "prepare_$(basename "$dir")" "$dir"; fi
    echo "building in $dir ($*) ..."
    if ! (cd "$dir" && env "$@" "$PY" setup.py -q build_ext --inplace -j "$BUILD_JOBS" -t build/tmp \
            > build.log 2>&1); then
        tail -30 "$dir/build.log"
        return 1
    fi
    touch "$dir/.built"
}

# Count tests / failures+errors in a junit file: prints "cases failures".
junit_counts() {
    "$PY" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print(0, 1); sys.exit()  # no junit file: the run died (counted as one failure)
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) - int(s.get("skipped", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
print(t, f)
EOF
}

# pytest in tests/ of folder $1 (the copy, or $ROOT); $2 junit file; the rest: pytest args.
run_pytest() {
    local dir=$1 junit=$2; shift 2
    (cd "$dir/tests" && "$PY" -m pytest -c ../pyproject.toml --rootdir .. -q \
        -p no:cacheprovider --junitxml="$junit" "$@")
}

# Finish a step: $1 step, $2 name, $3 exit status, $4 start time, $5 cases, $6 failures.
finish() {
    local step=$1 name=$2 rc=$3 t0=$4 cases=$5 fails=$6 status=ok
    [[ "$rc" != 0 ]] && status="FAILED (exit $rc)"
    record "$step" "$name" "$cases" "$fails" "$(( $(date +%s) - t0 ))" "$status"
    if [[ "$rc" != 0 ]]; then
        FAILED=1
        [[ "$KEEP_GOING" == 1 ]] || exit 1
    fi
}

sanitizer_hits() {  # count sanitizer reports in the given log files; show the first one
    local pat="ERROR: AddressSanitizer|runtime error:|WARNING: ThreadSanitizer|ERROR: LeakSanitizer"
    cat "$@" 2>/dev/null | grep -E "$pat" -m1 -A12 >&2
    cat "$@" 2>/dev/null | grep -cE "$pat" || true
}

# libstdc++ is preloaded with the ASan runtime so that ASan's __cxa_throw interceptor finds the
# real one (C++ extensions such as atheris abort on their first exception otherwise).
ASAN_LIB="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so.6)"
TSAN_LIB=$(gcc -print-file-name=libtsan.so)
# Reports go to files too: pytest captures the test's stderr, and an aborting process loses it.
ASAN_ENV=(LD_PRELOAD="$ASAN_LIB"
          ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=1:log_path=$WORK/sanitizer
          UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path=$WORK/sanitizer)

step_asan() {
    local t0; t0=$(date +%s); log "1: ASan+UBSan build + whole suite"
    local dir="$WORK/asan" rc=0
    rm -f "$WORK"/sanitizer.*
    build_copy "$dir" FASTCONV_SANITIZE=address,undefined || { finish 1 "ASan+UBSan build" 1 "$t0" 0 1; return; }
    env "${ASAN_ENV[@]}" PYTHONPATH="$dir/src" "$PY" -c \
        "import fastconv, sys; assert fastconv.__file__.startswith('$dir'), fastconv.__file__" || rc=$?
    if [[ $rc == 0 ]]; then
        # JAX (the Keras oracle's backend) aborts under a preloaded ASan runtime (its C++
        # exceptions trip ASan's __cxa_throw interceptor), so `-m keras` tests run in step 8.
        (export "${ASAN_ENV[@]}" PYTHONPATH="$dir/src" OMP_NUM_THREADS=2
         run_pytest "$dir" "$WORK/asan.xml" -m "not deep and not keras") 2>&1 \
            | tee "$WORK/asan.log" | tail -5
        rc=${PIPESTATUS[0]}
    fi
    read -r cases fails < <(junit_counts "$WORK/asan.xml")
    local hits; hits=$(sanitizer_hits "$WORK/asan.log" "$WORK"/sanitizer.*)
    [[ "$hits" != 0 && $rc == 0 ]] && rc=3
    finish 1 "ASan+UBSan: whole suite (reports: $hits)" "$rc" "$t0" "$cases" "$fails"
}

# Per-function `@cython.boundscheck(False)`-style decorators would override the global debug
# directives; the debug copy drops them so the checks reach every kernel.
prepare_debug() {
    sed -i -E '/^\s*@cython\.(boundscheck|wraparound|initializedcheck)\(False\)\s*$/d;
               s/^(#\s*cython:.*)(boundscheck|wraparound|initializedcheck)\s*=\s*False/\1\2=True/' \
        "$1"/csrc/*.pyx
}

step_debug() {
    local t0; t0=$(date +%s); log "2: Cython debug-directive build + whole suite"
    local dir="$WORK/debug" rc=0
    build_copy "$dir" FASTCONV_DEBUG_CYTHON=1 || { finish 2 "debug build" 1 "$t0" 0 1; return; }
    PYTHONPATH="$dir/src" OMP_NUM_THREADS=2 run_pytest "$dir" "$WORK/debug.xml" 2>&1 \
        | tee "$WORK/debug.log" | tail -5
    rc=${PIPESTATUS[0]}
    read -r cases fails < <(junit_counts "$WORK/debug.xml")
    finish 2 "Cython bounds/wraparound/init checks: suite" "$rc" "$t0" "$cases" "$fails"
}

KERNEL_TESTS=(test_conv.py test_conv_errors.py test_conv_grad.py test_conv_layouts.py test_pool.py
              test_embedding.py test_embedding_conv_op.py test_activation_ops.py test_optim_ops.py
              test_bad_inputs.py)

step_valgrind() {
    local t0; t0=$(date +%s); log "3: valgrind memcheck on the kernel tests (small shapes)"
    local dir="$ROOT" rc=0  # the installed (release-flag) build
    if ! command -v valgrind > /dev/null; then
        finish 3 "valgrind (not installed)" 1 "$t0" 0 1; return
    fi
    rm -f "$WORK"/valgrind.*.log
    PYTHONMALLOC=malloc OMP_NUM_THREADS=1 valgrind --tool=memcheck --track-origins=no \
        --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=none \
        --trace-children=no --log-file="$WORK/valgrind.%p.log" \
        "$EXE" -m pytest -c "$dir/pyproject.toml" --rootdir "$dir" -q -p no:cacheprovider \
        --junitxml="$WORK/valgrind.xml" -k "not sweep and not thread and not hypothesis" \
        "${KERNEL_TESTS[@]/#/$dir/tests/}" 2>&1 | tail -5
    rc=${PIPESTATUS[0]}
    read -r cases fails < <(junit_counts "$WORK/valgrind.xml")
    # CPython and libc give well-known false positives (AVX2 string compares, urandom bytes);
    # what counts are error records and "definitely lost" blocks with a fastconv frame.
    local errs lost
    read -r errs lost < <("$PY" - "$WORK" <<'EOF'
import glob, re, sys
ours = re.compile(r"_ext/_\w+\.cpython|__pyx_|\.pyx|csrc/|conv_impl|conv_kernels|fastconv")
errs = lost = 0
for path in glob.glob(sys.argv[1] + "/valgrind.*.log"):
    for rec in re.split(r"\n==\d+== \n", open(path, errors="replace").read()):
        if not ours.search(rec):
            continue
        if "definitely lost" in rec:
            lost += 1
        elif re.search(r"Invalid (read|write|free)|uninitialised|Mismatched free|overlap", rec):
            errs += 1
            print(rec[:3000], file=sys.stderr)
print(errs, lost)
EOF
)
    [[ $rc == 0 && ( "$errs" != 0 || "$lost" != 0 ) ]] && rc=3
    finish 3 "valgrind: kernel tests (errors $errs, fastconv leaks $lost)" "$rc" "$t0" "$cases" \
        "$(( ${fails:-0} + errs + lost ))"
}

step_tsan() {
    local t0; t0=$(date +%s); log "4: TSan build + Python-thread tests (OMP_NUM_THREADS=1)"
    local dir="$WORK/tsan" rc=0
    build_copy "$dir" FASTCONV_SANITIZE=thread || { finish 4 "TSan build" 1 "$t0" 0 1; return; }
    rm -f "$WORK"/tsan.log*
    # libgomp is not TSan-instrumented, so only one OpenMP thread; races between Python threads
    # inside fastconv frames are what this step looks for.
    local setarch=(); command -v setarch > /dev/null && setarch=(setarch "$(uname -m)" -R)
    (cd "$dir/tests" && env LD_PRELOAD="$TSAN_LIB" TSAN_OPTIONS="log_path=$WORK/tsan.log:exitcode=0:report_signal_unsafe=0:history_size=4" \
        PYTHONPATH="$dir/src" OMP_NUM_THREADS=1 "${setarch[@]}" "$EXE" -m pytest \
        -c ../pyproject.toml --rootdir .. -q -p no:cacheprovider --junitxml="$WORK/tsan.xml" \
        "test_threads_python.py::test_kernels_from_python_threads_equal_serial[float32-8-1]" \
        "test_threads_python.py::test_kernels_from_python_threads_equal_serial[float64-8-1]" \
        "test_threads_python.py::test_predict_from_python_threads_on_shared_weights[8-1]" \
        "test_conv_threads.py::test_concurrent_python_threads_match_serial[1]" \
        test_embedding_conv_op.py::test_predict_from_python_threads \
        test_pool.py::test_concurrent_python_threads_match_serial) 2>&1 | tail -5
    rc=${PIPESTATUS[0]}
    read -r cases fails < <(junit_counts "$WORK/tsan.xml")
    local races
    races=$("$PY" - "$WORK" <<'EOF'
import glob, re, sys
n = 0
for path in glob.glob(sys.argv[1] + "/tsan.log*"):
    for rep in open(path, errors="replace").read().split("WARNING: ThreadSanitizer")[1:]:
        if re.search(r"_ext/_\w+|\.pyx|csrc/", rep):
            n += 1
print(n)
EOF
)
    [[ $rc == 0 && "$races" != 0 ]] && rc=3
    finish 4 "TSan: Python-thread tests (fastconv races $races)" "$rc" "$t0" "$cases" \
        "$(( ${fails:-0} + races ))"
}

expand_seeds() {
    local s
    for s in $SEEDS; do
        if [[ "$s" == *-* ]]; then seq "${s%-*}" "${s#*-}"; else echo "$s"; fi
    done
}

# One atheris target, $1 = fuzz/fuzz_<name>.py, in two parts:
#  (a) guided: FUZZ_GUIDED_RUNS inputs on the installed build, growing a corpus. libFuzzer's
#      coverage feedback comes from atheris' instrumentation of the fastconv Python code; gcc
#      has no `-fsanitize=fuzzer-no-link`, so the compiled kernels are not coverage-instrumented
#      (a preloaded gcc ASan runtime would also take over the coverage callbacks, which is why
#      guidance runs without it);
#  (b) sanitizer: the corpus (kept whole, -keep_seed=1) plus mutations of it, FUZZ_RUNS inputs
#      under the ASan+UBSan build, which watches every kernel call.
# A finding is a crash/timeout/oom artifact, a sanitizer report, or a run that does not reach
# "Done". Writes "name guided sanitizer bad seconds" to $WORK/fuzz-result-<name>.
fuzz_one() {
    local target=$1 name; name=$(basename "$1" .py)
    local corpus="$WORK/fuzz-corpus/$name" t0 part n bad=0 guided=0 sanitized=0
    t0=$(date +%s)
    mkdir -p "$corpus"
    for part in guided sanitizer; do
        local out="$WORK/fuzz-$name-$part.log"
        if [[ $part == guided ]]; then
            OMP_NUM_THREADS=1 FASTCONV_FUZZ_TMP="$FUZZ_TMP" "$EXE" "$target" "$corpus" \
                -atheris_runs="$FUZZ_GUIDED_RUNS" -max_total_time="$FUZZ_SECONDS" \
                -rss_limit_mb=4096 -timeout=120 \
                -artifact_prefix="$WORK/fuzz-artifacts/$name-" > "$out" 2>&1
        else
            env LD_PRELOAD="$FUZZ_PRELOAD" FASTCONV_FUZZ_TMP="$FUZZ_TMP" \
                ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:log_path="$WORK/fuzz-artifacts/$name-asan" \
                UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:log_path="$WORK/fuzz-artifacts/$name-ubsan" \
                PYTHONPATH="$FUZZ_DIR/src" OMP_NUM_THREADS=1 "$EXE" "$target" "$corpus" \
                -atheris_runs="$FUZZ_RUNS" -max_total_time="$FUZZ_SECONDS" -keep_seed=1 \
                -detect_leaks=0 -rss_limit_mb=4096 -timeout=120 \
                -artifact_prefix="$WORK/fuzz-artifacts/$name-" > "$out" 2>&1
        fi
        n=$(grep -oE "^Done [0-9]+ " "$out" | tail -1 | awk '{print $2}')
        [[ -z "$n" ]] && bad=1
        if [[ $part == guided ]]; then guided=${n:-0}; else sanitized=${n:-0}; fi
    done
    # A finding: a libFuzzer crash/leak/timeout input, or a sanitizer log holding a report.
    # A log of "failed to allocate" warnings only is not one: with allocator_may_return_null=1
    # ASan refused an absurd request (HDF5 reading a corrupted size field) and the caller coped
    # (the target raised a clean error, or it would have stopped on an uncaught exception).
    local f
    for f in "$WORK"/fuzz-artifacts/"$name"-*; do
        [[ -e "$f" ]] || continue
        if [[ "$f" == *-asan.* ]] && ! grep -qvE "WARNING: AddressSanitizer failed to allocate" "$f"; then
            echo "$name: $(grep -c . "$f") ASan allocator warnings (refused huge requests), not a finding" >&2
            continue
        fi
        bad=1
    done
    echo "$name $guided $sanitized $bad $(( $(date +%s) - t0 ))" > "$WORK/fuzz-result-$name"
}

step_fuzz() {
    local t0; t0=$(date +%s); log "5: atheris targets ($FUZZ_JOBS at a time)"
    local rc=0 total=0 crashes=0 short=0
    if ! "$PY" -c "import atheris" 2> /dev/null; then
        "$PY" -m pip install --quiet atheris || { finish 5 "atheris (cannot install)" 1 "$t0" 0 1; return; }
    fi
    local atheris_dir; atheris_dir=$("$PY" -c "import atheris, os; print(os.path.dirname(atheris.__file__))")
    if command -v clang > /dev/null && [[ -f "$atheris_dir/asan_with_fuzzer.so" ]]; then
        # extension instrumented for libFuzzer's coverage + ASan, as atheris documents (needs an
        # atheris built from source with clang, which ships asan_with_fuzzer.so)
        FUZZ_DIR="$WORK/fuzzbuild"
        build_copy "$FUZZ_DIR" CC=clang LDSHARED="clang -shared" \
            FASTCONV_SANITIZE=address,fuzzer-no-link || { finish 5 "clang fuzz build" 1 "$t0" 0 1; return; }
        FUZZ_PRELOAD="$atheris_dir/asan_with_fuzzer.so"
    else
        echo "no clang + asan_with_fuzzer.so: corpus grown on the installed build (guided by the"
        echo "Python-level coverage), then replayed and mutated on the gcc ASan+UBSan build"
        FUZZ_DIR="$WORK/asan"
        build_copy "$FUZZ_DIR" FASTCONV_SANITIZE=address,undefined || { finish 5 "ASan build" 1 "$t0" 0 1; return; }
        FUZZ_PRELOAD="$ASAN_LIB"
    fi
    mkdir -p "$WORK/fuzz-artifacts"
    rm -f "$WORK"/fuzz-artifacts/* "$WORK"/fuzz-result-*
    FUZZ_TMP=$(mktemp -d "$( [[ -d /dev/shm && -w /dev/shm ]] && echo /dev/shm || echo "$WORK")/fastconv-fuzz.XXXXXX")
    # slowest targets first, so that the last ones to start are short
    local targets=() target
    for target in "$ROOT"/fuzz/fuzz_weights_file.py "$ROOT"/fuzz/fuzz_${FUZZ_TARGETS}.py; do
        [[ -f "$target" && " ${targets[*]} " != *" $target "* ]] && targets+=("$target")
    done
    local pids=() pid running
    for target in "${targets[@]}"; do
        [[ "$(basename "$target")" == fuzz_${FUZZ_TARGETS}.py ]] || continue
        while :; do  # at most FUZZ_JOBS targets at a time
            running=0
            for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && running=$(( running + 1 )); done
            (( running < FUZZ_JOBS )) && break
            sleep 1
        done
        fuzz_one "$target" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do wait "$pid"; done
    rm -rf "$FUZZ_TMP"
    local name guided sanitized bad secs res
    for res in "$WORK"/fuzz-result-*; do
        [[ -f "$res" ]] || continue
        read -r name guided sanitized bad secs < "$res"
        local runs=$(( guided + sanitized )) status=ok
        if [[ $bad != 0 ]]; then
            status=FINDING; crashes=$(( crashes + 1 )); rc=1
            grep -hE "Uncaught Python exception|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer|^[A-Za-z]+Error: " -A8 \
                "$WORK"/fuzz-$name-*.log "$WORK"/fuzz-artifacts/$name-*san* 2>/dev/null | head -30
        elif (( sanitized < FUZZ_RUNS )); then
            status="ok ($FUZZ_SECONDS s cap)"; short=$(( short + 1 ))
        fi
        total=$(( total + runs ))
        printf '  %-40s %7d guided + %7d sanitizer executions (%s corpus inputs), %4d s, %s\n' \
            "$name" "$guided" "$sanitized" "$(ls "$WORK/fuzz-corpus/$name" | wc -l)" "$secs" "$status"
        record 5 "  atheris $name" "$runs" "$bad" "$secs" "$status"
    done
    finish 5 "atheris: all targets ($short at the time cap)" "$rc" "$t0" "$total" "$crashes"
}

# Step 6 (M1): every test whose outcome depends on the run's seed - conftest.py marks the tests
# that take the `seed` (or `rng`) fixture `randomised` - once per seed. conftest.py's
# FASTCONV_TEST_SEEDS parametrizes them over the seeds inside one pytest process; the seeds are
# split over SEED_JOBS processes. Hypothesis tests are left to their own (deep) profile, and the
# end-to-end IMDb training test (one real training run, 30-90 s) takes a sample of seeds.
IMDB_TEST=test_imdb_training.py::test_imdb_seed_model_reaches_keras_accuracy

step_seeds() {
    local t0; t0=$(date +%s); log "6: randomised tests for seeds $SEEDS, then Hypothesis deep profile"
    local rc=0 cases=0 fails=0 c f i j seeds=() shard pids=()
    mapfile -t seeds < <(expand_seeds)
    rm -f "$WORK"/seeds-*.xml "$WORK"/seeds-*.log
    for (( j = 0; j < SEED_JOBS; j++ )); do
        shard=""
        for (( i = j; i < ${#seeds[@]}; i += SEED_JOBS )); do shard+="${seeds[i]},"; done
        [[ -z "$shard" ]] && continue
        FASTCONV_TEST_SEEDS=${shard%,} run_pytest "$ROOT" "$WORK/seeds-$j.xml" \
            -m "randomised and not hypothesis and not deep" -k "not test_imdb_seed_model" \
            > "$WORK/seeds-$j.log" 2>&1 &
        pids+=($!)
    done
    local srcs=0 pid
    for pid in "${pids[@]}"; do wait "$pid" || srcs=1; done
    for (( j = 0; j < SEED_JOBS; j++ )); do
        [[ -f "$WORK/seeds-$j.log" ]] || continue
        tail -1 "$WORK/seeds-$j.log" | sed "s/^/  shard $j: /"
        grep -E "^(FAILED|ERROR) " "$WORK/seeds-$j.log" | head -20
        read -r c f < <(junit_counts "$WORK/seeds-$j.xml")
        cases=$(( cases + ${c:-0} )); fails=$(( fails + ${f:-0} ))
    done
    [[ $srcs != 0 || $fails != 0 ]] && rc=1
    record 6 "  randomised tests x ${#seeds[@]} seeds" "$cases" "$fails" "$(( $(date +%s) - t0 ))" \
        "$([[ $rc == 0 ]] && echo ok || echo FAILED)"
    local ccases=$cases cfails=$fails t1 irc=0
    if [[ -n "$IMDB_SEEDS" ]]; then
        t1=$(date +%s)
        FASTCONV_TEST_SEEDS=$IMDB_SEEDS run_pytest "$ROOT" "$WORK/seeds-imdb.xml" "$IMDB_TEST" \
            2>&1 | tee "$WORK/seeds-imdb.log" | tail -1
        irc=${PIPESTATUS[0]}
        [[ $irc == 0 ]] || rc=1
        read -r c f < <(junit_counts "$WORK/seeds-imdb.xml")
        ccases=$(( ccases + ${c:-0} )); cfails=$(( cfails + ${f:-0} ))
        record 6 "  IMDb training test, seeds $IMDB_SEEDS" "$c" "$f" "$(( $(date +%s) - t1 ))" \
            "$([[ $irc == 0 ]] && echo ok || echo FAILED)"
    fi
    t1=$(date +%s)
    FASTCONV_HYPOTHESIS_PROFILE=deep run_pytest "$ROOT" "$WORK/hypothesis-deep.xml" \
        -m "hypothesis and not deep" 2>&1 | tee "$WORK/hypothesis-deep.log" | tail -1
    local hrc=${PIPESTATUS[0]}
    read -r c f < <(junit_counts "$WORK/hypothesis-deep.xml")
    record 6 "  Hypothesis tests, profile deep (x10)" "$c" "$f" "$(( $(date +%s) - t1 ))" \
        "$([[ $hrc == 0 ]] && echo ok || echo FAILED)"
    [[ $hrc != 0 ]] && rc=$hrc
    finish 6 "seeds + Hypothesis deep" "$rc" "$t0" "$(( ccases + ${c:-0} ))" "$(( cfails + ${f:-0} ))"
}

step_leaks() {
    local t0; t0=$(date +%s); log "7: deep leak loops"
    run_pytest "$ROOT" "$WORK/leaks.xml" -m deep test_leaks.py \
        test_model.py::test_long_fit_does_not_grow_memory 2>&1 | tail -3
    local rc=${PIPESTATUS[0]}
    read -r cases fails < <(junit_counts "$WORK/leaks.xml")
    finish 7 "leak loops: 10,000 calls, 200-epoch fit" "$rc" "$t0" "$cases" "$fails"
}

step_oracles() {
    local t0; t0=$(date +%s); log "8: remaining deep tests (PyTorch / Keras oracles)"
    KERAS_BACKEND=jax run_pytest "$ROOT" "$WORK/oracles-jax.xml" -m deep \
        --deselect test_model.py::test_long_fit_does_not_grow_memory --ignore=test_leaks.py 2>&1 | tail -3
    local rc=${PIPESTATUS[0]} c f c2=0 f2=0
    read -r c f < <(junit_counts "$WORK/oracles-jax.xml")
    if "$PY" -c "import torch" 2> /dev/null; then
        KERAS_BACKEND=torch run_pytest "$ROOT" "$WORK/oracles-torch.xml" -m "deep and keras" 2>&1 | tail -3
        local trc=${PIPESTATUS[0]}
        [[ $trc == 5 ]] && trc=0  # no test selected
        [[ $trc != 0 ]] && rc=$trc
        read -r c2 f2 < <(junit_counts "$WORK/oracles-torch.xml")
    fi
    finish 8 "oracles: -m deep (Keras on jax + torch)" "$rc" "$t0" "$(( ${c:-0} + ${c2:-0} ))" \
        "$(( ${f:-0} + ${f2:-0} ))"
}

# Valgrind (step 3) runs on one core: with FASTCONV_DEEP_OVERLAP=1 it runs in the background
# while steps 4 and 5 use the other core, and is waited for before step 6 (its output is shown
# then). It still counts as a step that must pass before step 6 starts.
join_valgrind() {
    [[ -n "$VG_PID" ]] || return 0
    local vrc=0
    wait "$VG_PID" || vrc=$?
    VG_PID=""
    log "3 (ran in the background): output"
    cat "$WORK/step3.out"
    if [[ $vrc != 0 ]]; then
        FAILED=1
        [[ "$KEEP_GOING" == 1 ]] || exit 1
    fi
}

for s in $STEPS; do
    case $s in
        1) step_asan ;;
        2) step_debug ;;
        3) if [[ "$OVERLAP" == 1 && " $STEPS " =~ \ [45]\  ]]; then
               echo "step 3 (valgrind) runs in the background next to steps 4-5; log: $WORK/step3.out"
               set -m  # own process group, so that an early exit can stop it
               ( step_valgrind; exit $FAILED ) < /dev/null > "$WORK/step3.out" 2>&1 &
               VG_PID=$!
               set +m
           else
               step_valgrind
           fi ;;
        4) step_tsan ;;
        5) step_fuzz ;;
        6) join_valgrind; step_seeds ;;
        7) join_valgrind; step_leaks ;;
        8) join_valgrind; step_oracles ;;
        *) echo "unknown step $s" >&2; exit 2 ;;
    esac
done
join_valgrind
exit $FAILED
