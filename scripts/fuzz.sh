#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# fuzz.sh: builds the libFuzzer targets (tests/fuzz) and runs each for a bounded time.
#
# The one idea: every run first replays the regressions (tests/fuzz/regressions/<target>/: inputs
# that once crashed), then fuzzes from the checked-in seeds (tests/fuzz/corpus/<target>/) for
# FUZZ_SECONDS, two targets at a time. A target passes when both finish clean; a crash, a leak,
# a timeout, an out-of-memory or a broken invariant fails it, with the reproducer kept under
# $BUILD/fuzz/crashes/<target>/. The last line is exactly "N passed, N failed" (targets).
#
# Environment:
#   AUTOTLS_BUILD   build dir (default <repo>/build); the fuzzers go to $AUTOTLS_BUILD/fuzz
#   FUZZ_SECONDS    fuzzing time per target (default 60, or 30 when CI=true: the 12 targets then
#                   take 3 minutes on 2 cores plus about 2 for the build; see tests/fuzz/README.md)
#   FUZZ_JOBS       targets run at once (default 2)
#   FUZZ_TARGETS    space-separated subset, e.g. "challenge config" (default: all)
#   FUZZ_MAX_LEN    -max_len (default 16384)   FUZZ_RSS_MB  -rss_limit_mb (default 2048)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AUTOTLS_BUILD:-$REPO/build}
OUT=$BUILD/fuzz
FUZZ_SECONDS_DEFAULT=60
FUZZ_SECONDS_CI=30
if [[ ${CI:-} == true ]]; then FUZZ_SECONDS_DEFAULT=$FUZZ_SECONDS_CI; fi
FUZZ_SECONDS=${FUZZ_SECONDS:-$FUZZ_SECONDS_DEFAULT}
FUZZ_JOBS=${FUZZ_JOBS:-2}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-16384}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
INPUT_TIMEOUT=10     # seconds one input may take before it counts as a hang
REPLAY_TIMEOUT=300   # seconds for replaying one target's regressions and seeds
GRACE_SECONDS=120    # beyond FUZZ_SECONDS before a stuck fuzzer is killed
BUILD_TIMEOUT=900
PACKAGES=(clang libclang-rt-14-dev)
FUZZ_SRC=$REPO/tests/fuzz
LOG_TAIL_LINES=40

die() {
    echo "fuzz: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

# clang and its libFuzzer runtime: installed here when missing (as bootstrap.sh does for the rest).
ensure_packages() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] ||
            missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    [[ $(id -u) == 0 ]] || die "missing packages (${missing[*]}); run as root to install them"
    if ! DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null ||
        ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >/dev/null; then
        die "cannot install ${missing[*]}"
    fi
}

build() {
    local log=$OUT/build.log rc=0
    mkdir -p "$OUT"
    if [[ -f $BUILD/Makefile ]]; then
        timeout "$BUILD_TIMEOUT" make -C "$BUILD" -s -j2 fuzz >"$log" 2>&1 || rc=$?
    else
        timeout "$BUILD_TIMEOUT" make -s -j2 -f "$FUZZ_SRC/fuzz.mk" SRCDIR="$REPO" OUT="$OUT" \
            >"$log" 2>&1 || rc=$?
    fi
    if ((rc != 0)); then
        tail -n "$LOG_TAIL_LINES" "$log" >&2
        die "building the fuzz targets failed (see $log)"
    fi
}

# The dictionary of a target: dict/<target>.dict, else dict/<area>.dict (acme_order -> acme).
dict_of() {
    local t=$1 d
    for d in "$FUZZ_SRC/dict/$t.dict" "$FUZZ_SRC/dict/${t%%_*}.dict"; do
        if [[ -f $d ]]; then
            echo "-dict=$d"
            return 0
        fi
    done
    return 0
}

# run_target NAME: replay, then fuzz; writes $OUT/results/NAME (passed|failed execs why).
run_target() {
    local t=$1 bin=$OUT/bin/fuzz_$1 dict work=$OUT/corpus/$1 crashes=$OUT/crashes/$1
    local log=$OUT/logs/$1.log replay=() execs rc=0 why=""
    set +e # every status is looked at here; a result line is always written
    dict=$(dict_of "$t")
    rm -rf "$crashes" "$log" "$OUT/logs/$t.replay.log"
    mkdir -p "$work" "$crashes"
    for d in "$FUZZ_SRC/regressions/$t" "$FUZZ_SRC/corpus/$t"; do
        [[ -d $d ]] && replay+=("$d")
    done
    # 1. every regression and seed, once each (-runs=0: no mutation)
    if ((${#replay[@]} > 0)); then
        timeout "$REPLAY_TIMEOUT" "$bin" -runs=0 -timeout="$INPUT_TIMEOUT" \
            -rss_limit_mb="$FUZZ_RSS_MB" -artifact_prefix="$crashes/" "${replay[@]}" \
            >"$OUT/logs/$t.replay.log" 2>&1 || { rc=$?; why="replay of regressions/seeds"; }
    fi
    # 2. fuzzing; new inputs go to the build's working corpus, the seeds stay untouched
    if ((rc == 0)); then
        # shellcheck disable=SC2086 # $dict is empty or one word
        timeout $((FUZZ_SECONDS + GRACE_SECONDS)) "$bin" -max_total_time="$FUZZ_SECONDS" \
            -max_len="$FUZZ_MAX_LEN" -rss_limit_mb="$FUZZ_RSS_MB" -timeout="$INPUT_TIMEOUT" \
            -print_final_stats=1 -artifact_prefix="$crashes/" $dict "$work" "${replay[@]}" \
            >"$log" 2>&1 || { rc=$?; why="fuzzing"; }
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -n 1)
    [[ -n $execs ]] || execs=0
    if ((rc == 0)) && [[ -z $(ls -A "$crashes") ]]; then
        echo "passed $execs" >"$OUT/results/$t"
    else
        echo "failed $execs $why (exit $rc)" >"$OUT/results/$t"
    fi
}

report() {
    local t result execs passed=0 failed=0 log
    for t in "${targets[@]}"; do
        result=failed execs=0 rest="did not finish"
        if [[ -f $OUT/results/$t ]]; then
            read -r result execs rest <"$OUT/results/$t" || true
        fi
        if [[ $result == passed ]]; then
            passed=$((passed + 1))
            printf 'fuzz %-16s passed  %12s execs in %ss\n' "$t" "$execs" "$FUZZ_SECONDS"
        else
            failed=$((failed + 1))
            printf 'FAILED fuzz %-16s %12s execs: %s\n' "$t" "$execs" "$rest"
            log=$OUT/logs/$t.log
            [[ $rest == replay* ]] && log=$OUT/logs/$t.replay.log
            if [[ -f $log ]]; then
                grep -E 'ERROR|invariant|runtime error|SUMMARY|Test unit written' "$log" |
                    head -n 8 || tail -n "$LOG_TAIL_LINES" "$log"
            fi
            echo "  reproducer(s) in $OUT/crashes/$t/; replay: $OUT/bin/fuzz_$t <file>"
        fi
    done
    echo "$passed passed, $failed failed"
    ((failed == 0 && passed > 0))
}

# The targets' own sanitizer settings, whatever the caller's environment says (an httpd preload or
# a "report and go on" option would hide or break what the fuzzers find).
unset LD_PRELOAD
export ASAN_OPTIONS=${FUZZ_ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=print_stacktrace=1
ensure_packages
build
# The stores the targets plant files in: on tmpfs when there is one, removed at the end even when
# a crashed target could not remove its own.
FUZZ_STORE_PARENT=$(mktemp -d /dev/shm/autotls-fuzz.XXXXXX 2>/dev/null || mktemp -d)
export FUZZ_STORE_PARENT
trap 'rm -rf "$FUZZ_STORE_PARENT"' EXIT
mkdir -p "$OUT/results" "$OUT/logs"
rm -f "$OUT"/results/*
if [[ -n ${FUZZ_TARGETS:-} ]]; then
    read -r -a targets <<<"$FUZZ_TARGETS"
else
    targets=()
    for bin in "$OUT"/bin/fuzz_*; do
        [[ -x $bin ]] && targets+=("${bin##*/fuzz_}")
    done
fi
((${#targets[@]} > 0)) || die "no fuzz targets were built"
for t in "${targets[@]}"; do
    [[ -x $OUT/bin/fuzz_$t ]] || die "no fuzz target named $t"
done

running=0
for t in "${targets[@]}"; do
    if ((running >= FUZZ_JOBS)); then
        wait -n || true
        running=$((running - 1))
    fi
    run_target "$t" &
    running=$((running + 1))
done
wait || true
report
