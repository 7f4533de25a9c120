#!/usr/bin/env bash
# test.sh: bootstrap, then every test: the Check unit tests and the pytest integration tests.
#
# The one idea: the counts come from what the tests themselves recorded (each Check log's summary
# line, pytest's junit xml), never from an exit status alone, and the last line is exactly
# "N passed, N failed" (", N skipped" appended when some were skipped). A test binary that died
# before its summary, or a part that did not run at all, counts as a failure. Exits non-zero when
# anything failed or nothing ran.
#
# Environment: AUTOTLS_BUILD (default <repo>/build); PYTEST_ARGS (extra pytest arguments).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AUTOTLS_BUILD:-$REPO/build}
UNIT_TIMEOUT=900          # seconds for `make check` (build of the tests included)
INTEGRATION_TIMEOUT=1200  # seconds for the whole pytest run
LOG_TAIL_LINES=80
CHECK_SUMMARY_RE='^[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*'

if ! bash "$REPO/scripts/bootstrap.sh"; then
    echo "FAILED bootstrap: packages or build (see above)"
    echo "0 passed, 1 failed"
    exit 1
fi
export AUTOTLS_BUILD=$BUILD
LOGS=$BUILD/test-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

passed=0
failed=0
skipped=0

# A python that has pytest: Debian's, even when another python3 comes first on PATH.
PYTHON=python3
for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import pytest' >/dev/null 2>&1; then
        PYTHON=$candidate
        break
    fi
done

# --- unit tests (Check) -------------------------------------------------------------------------

# The Check tests the build dir knows (make may regenerate its Makefile first: hence the marker).
unit_tests() {
    make -C "$BUILD" -s --no-print-directory -f Makefile -f - print-autotls-tests <<'EOF' |
print-autotls-tests:
	@echo "autotls-tests: $(TESTS)"
EOF
        sed -n 's/^autotls-tests: //p'
}

run_unit_tests() {
    local tests t log line rc=0 checks fails errs unit_passed=0 unit_failed=0
    tests=$(unit_tests)
    if [[ -z $tests ]]; then
        echo "unit: no Check tests configured (is the check package installed?)"
        return 0
    fi
    for t in $tests; do rm -f "$BUILD/$t.log" "$BUILD/$t.trs"; done
    timeout "$UNIT_TIMEOUT" make -C "$BUILD" -j2 check >"$LOGS/make-check.log" 2>&1 || rc=$?
    for t in $tests; do
        log=$BUILD/$t.log
        # one summary line per srunner; a binary may run several: sum them
        line=$(sed -nE "s/$CHECK_SUMMARY_RE/\\1 \\2 \\3/p" "$log" 2>/dev/null |
            awk '{c += $1; f += $2; e += $3} END {if (NR) print c, f, e}')
        if [[ -z $line ]]; then
            unit_failed=$((unit_failed + 1))
            echo "FAILED unit $t: no Check summary (not built, crashed or timed out)"
            if [[ -f $log ]]; then tail -n "$LOG_TAIL_LINES" "$log"; fi
            continue
        fi
        read -r checks fails errs <<<"$line"
        unit_passed=$((unit_passed + checks - fails - errs))
        unit_failed=$((unit_failed + fails + errs))
        if ((fails + errs > 0)); then
            echo "FAILED unit $t: $checks checks, $fails failures, $errs errors"
            grep -E ':[FE]:' "$log" || tail -n "$LOG_TAIL_LINES" "$log"
        elif ! grep -qE '^:test-result: PASS' "$BUILD/$t.trs" 2>/dev/null; then
            # every check passed, yet the binary failed (a leak checker, a crash at exit)
            unit_failed=$((unit_failed + 1))
            echo "FAILED unit $t: checks passed but the test binary failed"
            tail -n "$LOG_TAIL_LINES" "$log"
        fi
    done
    if ((rc != 0)); then
        echo "FAILED unit: make check exited $rc; its log ends:"
        grep -vE '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS): ' "$LOGS/make-check.log" |
            tail -n "$LOG_TAIL_LINES"
        ((unit_failed > 0)) || unit_failed=1
    fi
    echo "unit: $unit_passed passed, $unit_failed failed"
    passed=$((passed + unit_passed))
    failed=$((failed + unit_failed))
}

# --- leaks and memory errors (valgrind) ---------------------------------------------------------

# Each unit binary once more under valgrind, in-process (CK_FORK=no), failing on any error or
# definite leak. test_crypto is left out: RSA-4096 generation takes minutes under valgrind; its
# code paths are the same ones test_certset drives.
VALGRIND_SKIP=" tests/unit/test_crypto "
VALGRIND_TIMEOUT=300  # seconds per binary

run_valgrind() {
    local t vg_passed=0 vg_failed=0
    if ! command -v valgrind >/dev/null 2>&1; then
        echo "FAILED valgrind: not installed"
        failed=$((failed + 1))
        return 0
    fi
    for t in $(unit_tests); do
        [[ $VALGRIND_SKIP == *" $t "* ]] && continue
        if AT_UNIT_SHORT=1 CK_FORK=no timeout "$VALGRIND_TIMEOUT" "$BUILD/libtool" \
            --mode=execute valgrind -q --fair-sched=yes \
            --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \
            "$BUILD/$t" >"$LOGS/valgrind-$(basename "$t").log" 2>&1; then
            vg_passed=$((vg_passed + 1))
        else
            vg_failed=$((vg_failed + 1))
            echo "FAILED valgrind $t:"
            tail -n "$LOG_TAIL_LINES" "$LOGS/valgrind-$(basename "$t").log"
        fi
    done
    echo "valgrind: $vg_passed passed, $vg_failed failed"
    passed=$((passed + vg_passed))
    failed=$((failed + vg_failed))
}

# --- integration tests (pytest) -----------------------------------------------------------------

run_integration_tests() {
    local xml=$LOGS/pytest.xml rc=0 counts t f e s
    # shellcheck disable=SC2086  # PYTEST_ARGS is a list of words on purpose
    (cd "$REPO" && PYTHONDONTWRITEBYTECODE=1 AUTOTLS_BUILD="$BUILD" \
        AUTOTLS_MODULE="$BUILD/.libs/mod_autotls.so" \
        timeout "$INTEGRATION_TIMEOUT" "$PYTHON" -m pytest -p no:cacheprovider -q -rfEs \
        --junitxml="$xml" ${PYTEST_ARGS:-} tests/integration) >"$LOGS/pytest.log" 2>&1 || rc=$?
    if [[ ! -s $xml ]]; then
        failed=$((failed + 1))
        echo "FAILED integration: pytest wrote no report (exit $rc)"
        tail -n "$LOG_TAIL_LINES" "$LOGS/pytest.log"
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
    if ((f + e > 0 || rc != 0)); then
        cat "$LOGS/pytest.log"
    fi
    echo "integration: $((t - f - e - s)) passed, $((f + e)) failed, $s skipped"
    passed=$((passed + t - f - e - s))
    failed=$((failed + f + e))
    skipped=$((skipped + s))
    if ((rc != 0 && f + e == 0)); then
        failed=$((failed + 1))
        echo "FAILED integration: pytest exited $rc without a failing test"
    fi
}

run_unit_tests
run_valgrind
run_integration_tests

summary="$passed passed, $failed failed"
((skipped > 0)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0 && passed > 0))
