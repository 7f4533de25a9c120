#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test.sh: bootstrap, then every test: the Check unit tests (plain, under valgrind, under ASan +
# UBSan), the pytest integration tests (under ASan + UBSan) and the bounded fuzz run.
#
# The one idea: the counts come from what the tests themselves recorded (each Check log's summary
# line, pytest's junit xml, fuzz.sh's last line), never from an exit status alone, and the last
# line is exactly "N passed, N failed" (", N skipped" appended when some were skipped). A test
# binary that died before its summary, a sanitizer report, or a part that did not run at all,
# counts as a failure. Each part prints its own labelled counts and its time. Exits non-zero when
# anything failed or nothing ran.
#
# Two build dirs: the plain build (unit tests, valgrind) and the sanitizer build, configured with
# --enable-sanitizers (unit tests, integration tests: see docs/SANITIZERS.md). The integration
# suite runs once, in the sanitizer build, by default: its tests wait on servers and the CA, not
# on the CPU, so a second run would double the longest part for little more coverage. The tests
# marked plain_build (they measure RSS or memory limits, which ASan distorts) run again in the
# plain build, where they enforce their bounds.
#
# Environment: AUTOTLS_BUILD (default <repo>/build); AUTOTLS_SAN_BUILD (default <build>-asan);
# AUTOTLS_SANITIZERS=0 skips the sanitizer build (the integration suite then runs in the plain
# build); AUTOTLS_INTEGRATION ("sanitizers" (default), "plain", "both": where the whole suite
# runs); AUTOTLS_FUZZ=0 skips scripts/fuzz.sh; AUTOTLS_PACKAGE_TEST=0 skips the Debian package
# part; PYTEST_ARGS (extra pytest arguments).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AUTOTLS_BUILD:-$REPO/build}
SAN_BUILD=${AUTOTLS_SAN_BUILD:-$BUILD-asan}
SANITIZERS=${AUTOTLS_SANITIZERS:-1}
INTEGRATION=${AUTOTLS_INTEGRATION:-sanitizers}
FUZZ=${AUTOTLS_FUZZ:-1}
UNIT_TIMEOUT=900          # seconds for `make check` (build of the tests included)
INTEGRATION_TIMEOUT=1200  # seconds for one whole pytest run
FUZZ_TIMEOUT=900          # seconds for scripts/fuzz.sh (it bounds each target itself)
LOG_TAIL_LINES=80
CHECK_SUMMARY_RE='^[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*'
PYTEST_NO_TESTS=5 # pytest's exit status when it collected no test
COUNTS_RE='^([0-9]+) passed, ([0-9]+) failed'
# A sanitizer report in a log: ASan/LSan's "==PID==ERROR: ...", UBSan's "file:line:col: runtime
# error: ...".
SANITIZER_REPORT_RE='^==[0-9]+==ERROR: [A-Za-z]+Sanitizer|: runtime error: '
# Unit tests under the sanitizers: reports on stderr (each test's log), every error fatal.
SAN_UNIT_ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:disable_coredump=1"
SAN_UNIT_ASAN_OPTIONS+=":detect_stack_use_after_return=1:strict_string_checks=1"
SAN_UNIT_UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:abort_on_error=1"

case $INTEGRATION in
    sanitizers | plain | both) ;;
    *)
        echo "AUTOTLS_INTEGRATION must be sanitizers, plain or both, not '$INTEGRATION'"
        echo "0 passed, 1 failed"
        exit 1
        ;;
esac
[[ $SANITIZERS == 0 ]] && INTEGRATION=plain

passed=0
failed=0
skipped=0
timings=()

# timed LABEL CMD...: runs CMD, then records how long it took under LABEL.
timed() {
    local label=$1 start=$SECONDS
    shift
    "$@"
    timings+=("$label: $((SECONDS - start)) s")
    echo "time $label: $((SECONDS - start)) s"
}

# A python that has pytest: Debian's, even when another python3 comes first on PATH.
PYTHON=python3
for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import pytest' >/dev/null 2>&1; then
        PYTHON=$candidate
        break
    fi
done

# --- builds -------------------------------------------------------------------------------------

san_built=no

bootstrap_plain() {
    if ! AUTOTLS_BUILD=$BUILD AUTOTLS_CONFIGURE_ARGS='' bash "$REPO/scripts/bootstrap.sh"; then
        echo "FAILED bootstrap: packages or build (see above)"
        echo "0 passed, 1 failed"
        exit 1
    fi
}

bootstrap_sanitizers() {
    if AUTOTLS_BUILD=$SAN_BUILD AUTOTLS_CONFIGURE_ARGS=--enable-sanitizers \
        bash "$REPO/scripts/bootstrap.sh"; then
        san_built=yes
    else
        echo "FAILED bootstrap of the sanitizer build $SAN_BUILD (see above)"
        failed=$((failed + 1))
    fi
}

# logs_of BUILD: the directory for this run's logs of that build, emptied.
logs_of() {
    rm -rf "$1/test-logs"
    mkdir -p "$1/test-logs"
    echo "$1/test-logs"
}

# --- unit tests (Check) -------------------------------------------------------------------------

# unit_tests BUILD: the Check tests the build dir knows (make may regenerate its Makefile first:
# hence the marker).
unit_tests() {
    make -C "$1" -s --no-print-directory -f Makefile -f - print-autotls-tests <<'EOF' |
print-autotls-tests:
	@echo "autotls-tests: $(TESTS)"
EOF
        sed -n 's/^autotls-tests: //p'
}

# run_unit_tests BUILD LABEL: `make check` there; the counts from each test's Check summary.
run_unit_tests() {
    local build=$1 label=$2 logs tests t log line rc=0 checks fails errs
    local unit_passed=0 unit_failed=0
    logs=$build/test-logs
    if ! tests=$(unit_tests "$build"); then
        echo "FAILED $label: make could not list the Check tests of $build"
        failed=$((failed + 1))
        return 0
    fi
    if [[ -z $tests ]]; then
        echo "$label: no Check tests configured (is the check package installed?)"
        return 0
    fi
    for t in $tests; do rm -f "$build/$t.log" "$build/$t.trs"; done
    timeout "$UNIT_TIMEOUT" make -C "$build" -j2 check >"$logs/make-check.log" 2>&1 || rc=$?
    for t in $tests; do
        log=$build/$t.log
        # one summary line per srunner; a binary may run several: sum them
        line=$(sed -nE "s/$CHECK_SUMMARY_RE/\\1 \\2 \\3/p" "$log" 2>/dev/null |
            awk '{c += $1; f += $2; e += $3} END {if (NR) print c, f, e}')
        if [[ -z $line ]]; then
            unit_failed=$((unit_failed + 1))
            echo "FAILED $label $t: no Check summary (not built, crashed or timed out)"
            if [[ -f $log ]]; then tail -n "$LOG_TAIL_LINES" "$log"; fi
            continue
        fi
        read -r checks fails errs <<<"$line"
        unit_passed=$((unit_passed + checks - fails - errs))
        unit_failed=$((unit_failed + fails + errs))
        if ((fails + errs > 0)); then
            echo "FAILED $label $t: $checks checks, $fails failures, $errs errors"
            grep -E ':[FE]:' "$log" || tail -n "$LOG_TAIL_LINES" "$log"
            if grep -qE "$SANITIZER_REPORT_RE" "$log"; then
                grep -A 40 -E "$SANITIZER_REPORT_RE" "$log" | head -n "$LOG_TAIL_LINES"
            fi
        elif grep -qE "$SANITIZER_REPORT_RE" "$log"; then
            # every check passed, yet a sanitizer spoke (e.g. at exit, outside a test)
            unit_failed=$((unit_failed + 1))
            echo "FAILED $label $t: checks passed but a sanitizer reported:"
            grep -A 40 -E "$SANITIZER_REPORT_RE" "$log" | head -n "$LOG_TAIL_LINES"
        elif ! grep -qE '^:test-result: PASS' "$build/$t.trs" 2>/dev/null; then
            # every check passed, yet the binary failed (a leak checker, a crash at exit)
            unit_failed=$((unit_failed + 1))
            echo "FAILED $label $t: checks passed but the test binary failed"
            tail -n "$LOG_TAIL_LINES" "$log"
        fi
    done
    if ((rc != 0)); then
        echo "FAILED $label: make check exited $rc; its log ends:"
        grep -vE '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS): ' "$logs/make-check.log" |
            tail -n "$LOG_TAIL_LINES"
        ((unit_failed > 0)) || unit_failed=1
    fi
    echo "$label: $unit_passed passed, $unit_failed failed"
    passed=$((passed + unit_passed))
    failed=$((failed + unit_failed))
}

run_unit_tests_sanitized() {
    ASAN_OPTIONS=$SAN_UNIT_ASAN_OPTIONS UBSAN_OPTIONS=$SAN_UNIT_UBSAN_OPTIONS \
        run_unit_tests "$SAN_BUILD" "unit (asan+ubsan)"
}

# --- leaks and memory errors (valgrind) ---------------------------------------------------------

# Each unit binary once more under valgrind, in-process (CK_FORK=no), failing on any error or
# definite leak. test_crypto is left out: RSA-4096 generation takes minutes under valgrind; its
# code paths are the same ones test_certset drives.
VALGRIND_SKIP=" tests/unit/test_crypto "
VALGRIND_TIMEOUT=300  # seconds per binary

run_valgrind() {
    local t vg_passed=0 vg_failed=0 logs=$BUILD/test-logs
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "FAILED valgrind: not installed"
        failed=$((failed + 1))
        return 0
    fi
    for t in $(unit_tests "$BUILD"); do
        [[ $VALGRIND_SKIP == *" $t "* ]] && continue
        if AT_UNIT_SHORT=1 CK_FORK=no timeout "$VALGRIND_TIMEOUT" "$BUILD/libtool" \
            --mode=execute valgrind -q --fair-sched=yes \
            --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
            "$BUILD/$t" >"$logs/valgrind-$(basename "$t").log" 2>&1; then
            vg_passed=$((vg_passed + 1))
        else
            vg_failed=$((vg_failed + 1))
            echo "FAILED valgrind $t:"
            tail -n "$LOG_TAIL_LINES" "$logs/valgrind-$(basename "$t").log"
        fi
    done
    echo "valgrind: $vg_passed passed, $vg_failed failed"
    passed=$((passed + vg_passed))
    failed=$((failed + vg_failed))
}

# --- integration tests (pytest) -----------------------------------------------------------------

# run_integration_tests BUILD LABEL [PYTEST ARGS...]: the pytest suite against that build's
# module and CLI. In a sanitizer build, tests/integration/sanitizers.py preloads the runtimes into
# httpd and fails each test during which a report file appeared; reports it could not pin on a
# test are counted here, one failure per file.
run_integration_tests() {
    local build=$1 label=$2 logs=$1/test-logs xml log rc=0 counts t f e s reports=() san_logs
    shift 2
    xml=$logs/pytest-${label//[^a-z_]/}.xml
    log=${xml%.xml}.log
    san_logs=$(mktemp -d /tmp/autotls-sanitizer.XXXXXX)
    chmod 1777 "$san_logs"
    # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words on purpose
    (cd "$REPO" && PYTHONDONTWRITEBYTECODE=1 AUTOTLS_BUILD="$build" \
        AUTOTLS_MODULE="$build/.libs/mod_autotls.so" AUTOTLS_SANITIZER_LOGS="$san_logs" \
        timeout "$INTEGRATION_TIMEOUT" "$PYTHON" -m pytest -p no:cacheprovider -q -rfEs \
        --junitxml="$xml" "$@" ${PYTEST_ARGS:-} "${INTEGRATION_TARGETS[@]}") >"$log" 2>&1 ||
        rc=$?
    mapfile -t reports < <(find "$san_logs" -type f | sort)
    if ((${#reports[@]} == 0)); then
        rm -rf "$san_logs"
    fi
    if [[ ! -s $xml ]]; then
        failed=$((failed + 1 + ${#reports[@]}))
        echo "FAILED $label: pytest wrote no report (exit $rc)"
        tail -n "$LOG_TAIL_LINES" "$log"
        return 0
    fi
    counts=$("$PYTHON" - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
keys = ("tests", "failures", "errors", "skipped")
print(*(sum(int(s.get(k, 0)) for s in suites) for k in keys))
EOF
    )
    read -r t f e s <<<"$counts"
    if (($# > 0 && rc == PYTEST_NO_TESTS)); then
        rc=0 # a selection (-m) no test carries: nothing to run is no failure
    fi
    if ((f + e > 0 || rc != 0)); then
        cat "$log"
    fi
    echo "$label: $((t - f - e - s)) passed, $((f + e)) failed, $s skipped"
    passed=$((passed + t - f - e - s))
    failed=$((failed + f + e))
    skipped=$((skipped + s))
    if ((${#reports[@]} > 0 && f + e == 0)); then
        failed=$((failed + ${#reports[@]}))
        echo "FAILED $label: ${#reports[@]} sanitizer report(s) no test failed on:"
        for r in "${reports[@]}"; do
            echo "==> $r <=="
            head -n "$LOG_TAIL_LINES" "$r"
        done
    elif ((rc != 0 && f + e == 0)); then
        failed=$((failed + 1))
        echo "FAILED $label: pytest exited $rc without a failing test"
    fi
    if ((${#reports[@]} > 0)); then
        echo "$label: sanitizer reports kept in $san_logs"
    fi
}

# --- the Debian package (tests/integration/test_package.py) -------------------------------------

# The package test builds the .deb (dpkg-buildpackage, minutes), installs it into this machine's
# Apache and takes it away again: it runs once, as its own part ("package"), in the plain build
# environment, never inside the integration runs above (INTEGRATION_TARGETS leaves it out).
# AUTOTLS_PACKAGE_TEST=0 skips it.
PACKAGE_TEST=tests/integration/test_package.py
INTEGRATION_TARGETS=(tests/integration --ignore="$PACKAGE_TEST")

run_package_test() {
    local saved=("${INTEGRATION_TARGETS[@]}")
    INTEGRATION_TARGETS=("$PACKAGE_TEST")
    run_integration_tests "$BUILD" "package"
    INTEGRATION_TARGETS=("${saved[@]}")
}

# --- fuzzing (scripts/fuzz.sh, bounded) ---------------------------------------------------------

# The fuzz work overlaps the longer parts, so that it costs CI (2 cores) little wall time: the
# targets are built while valgrind (one core) runs, and fuzz.sh runs at nice 19 beside the
# integration tests, which leave much of the CPU idle while they wait on servers; at nice 19 the
# fuzzers take only what the tests leave, so they cannot make a timing assertion flake. fuzz.sh
# bounds each target in wall time (FUZZ_SECONDS, 30 here unless set).
fuzz_pid=""
fuzz_start=0

fuzz_wanted() {
    [[ $FUZZ != 0 && -f $REPO/scripts/fuzz.sh ]]
}

# The fuzz targets' build (clang), quietly: fuzz.sh builds again (up to date by then) and reports
# any failure itself.
build_fuzz_targets() {
    nice -n 19 make -C "$BUILD" -s -j1 fuzz >"$BUILD/test-logs/fuzz-build.log" 2>&1 || true
}

start_fuzz() {
    fuzz_start=$SECONDS
    (
        rc=0
        FUZZ_SECONDS=${FUZZ_SECONDS:-30} AUTOTLS_BUILD=$BUILD timeout "$FUZZ_TIMEOUT" \
            nice -n 19 bash "$REPO/scripts/fuzz.sh" >"$BUILD/test-logs/fuzz.log" 2>&1 || rc=$?
        echo "$rc $SECONDS" >"$BUILD/test-logs/fuzz.rc" # status, when it ended
    ) &
    fuzz_pid=$!
}

finish_fuzz() {
    local log=$BUILD/test-logs/fuzz.log line rc="?" end=$SECONDS fz_passed fz_failed
    wait "$fuzz_pid" || true
    read -r rc end <"$BUILD/test-logs/fuzz.rc" || true
    timings+=("fuzz (beside the integration tests): $((${end:-$SECONDS} - fuzz_start)) s")
    line=$(tail -n 1 "$log" | sed -nE "s/$COUNTS_RE.*/\\1 \\2/p")
    if [[ -z $line ]]; then
        echo "FAILED fuzz: scripts/fuzz.sh printed no counts (exit $rc); its log ends:"
        tail -n "$LOG_TAIL_LINES" "$log"
        failed=$((failed + 1))
        return 0
    fi
    read -r fz_passed fz_failed <<<"$line"
    if ((fz_failed > 0)) || [[ $rc != 0 ]]; then
        tail -n "$LOG_TAIL_LINES" "$log"
    else
        grep -E '^fuzz ' "$log" || true # one line per target: its exec count
    fi
    echo "fuzz: $fz_passed passed, $fz_failed failed"
    passed=$((passed + fz_passed))
    failed=$((failed + fz_failed))
    if [[ $rc != 0 ]] && ((fz_failed == 0)); then
        failed=$((failed + 1))
        echo "FAILED fuzz: scripts/fuzz.sh exited $rc without a failing target"
    fi
}

# --- the run ------------------------------------------------------------------------------------

timed "build (plain)" bootstrap_plain
export AUTOTLS_BUILD=$BUILD
logs_of "$BUILD" >/dev/null
if [[ $SANITIZERS != 0 ]]; then
    timed "build (asan+ubsan)" bootstrap_sanitizers
    if [[ $san_built == yes ]]; then
        logs_of "$SAN_BUILD" >/dev/null
    elif [[ $INTEGRATION == sanitizers ]]; then
        INTEGRATION=plain # counted as failed already; the suite still runs
    fi
fi

timed "unit (plain)" run_unit_tests "$BUILD" "unit (plain)"
fuzz_build_pid=""
if fuzz_wanted; then
    build_fuzz_targets &
    fuzz_build_pid=$!
fi
timed "valgrind" run_valgrind
if [[ -n $fuzz_build_pid ]]; then
    wait "$fuzz_build_pid" || true
fi
if [[ $san_built == yes ]]; then
    timed "unit (asan+ubsan)" run_unit_tests_sanitized
fi
if fuzz_wanted; then
    start_fuzz
fi
if [[ $san_built == yes && ($INTEGRATION == sanitizers || $INTEGRATION == both) ]]; then
    timed "integration (asan+ubsan)" run_integration_tests "$SAN_BUILD" \
        "integration (asan+ubsan)"
fi
if [[ -n $fuzz_pid ]]; then
    finish_fuzz # before what measures RSS and time
fi
if [[ $INTEGRATION == plain || $INTEGRATION == both ]]; then
    timed "integration (plain)" run_integration_tests "$BUILD" "integration (plain)"
else
    # what a sanitizer build distorts (RSS, memory limits) is enforced here
    timed "integration (plain, plain_build)" run_integration_tests "$BUILD" \
        "integration (plain, plain_build)" -m plain_build
fi

if [[ ${AUTOTLS_PACKAGE_TEST:-1} != 0 ]]; then
    timed "package" run_package_test
fi

times=""
for t in "${timings[@]}"; do times+="$t; "; done
echo "times: ${times}total $SECONDS s"
summary="$passed passed, $failed failed"
((skipped > 0)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0 && passed > 0))
