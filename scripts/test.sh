#!/bin/sh
# The whole test suite, as CI runs it (.ci/run) and as the README's quick start shows:
# installs what is missing, builds, and runs `make check` three times -- a normal build and an
# AddressSanitizer/UBSan build against Debian's slapd 2.5, and a normal build against slapd 2.6
# built from Debian 13's source by scripts/slapd26.sh (cached) -- each against a real slapd with
# the module loaded.
#
#   scripts/test.sh            all three builds, then the valgrind and fuzz steps
#   DMG_BUILDS=plain scripts/test.sh   only the normal build (faster while developing)
#
# Two more steps follow the builds (see run_valgrind and run_fuzz below):
#   valgrind  the integration tests with slapd under valgrind memcheck (DMG_VALGRIND=1) in
#             _build-valgrind (-g -O1), then the unit tests under memcheck
#   fuzz      scripts/fuzz.sh: every libFuzzer harness in fuzz/ for DMG_FUZZ_SECONDS (30) each
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builds=${DMG_BUILDS:-"plain asan slapd26 valgrind fuzz"}
jobs=$(nproc 2>/dev/null || echo 2)

sh "$top/scripts/install-deps.sh"
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
    autoreconf -fi
fi

passed=0
failed=0
run_build() {
    name=$1; shift
    dir="$top/_build-$name"
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        (cd "$dir" && "$top/configure" -q "$@")
    fi
    echo "==> $name build: make check"
    make -C "$dir" -j"$jobs" >/dev/null
    rc=0
    make -C "$dir" -j"$jobs" check || rc=$?
    # Check's own summary line of every test program, then the failures in full
    for log in "$dir"/tests/*/*.log; do
        [ -f "$log" ] || continue
        grep -H -E '^[0-9]+%: Checks: ' "$log" || true
    done
    p=$(sed -n 's/^# PASS: *//p' "$dir/test-suite.log" 2>/dev/null | head -n 1)
    f=$(sed -n 's/^# FAIL: *//p' "$dir/test-suite.log" 2>/dev/null | head -n 1)
    e=$(sed -n 's/^# ERROR: *//p' "$dir/test-suite.log" 2>/dev/null | head -n 1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0} + ${e:-0}))
    if [ "$rc" -ne 0 ]; then
        cat "$dir/test-suite.log" || true
        # a build or harness failure counts too, even when no test program reported it
        if [ "${f:-0}" -eq 0 ] && [ "${e:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
    fi
}

# Pass/fail counts from an automake test-suite log; $2 is make's exit status.
count_suite_log() {
    p=$(sed -n 's/^# PASS: *//p' "$1" 2>/dev/null | head -n 1)
    f=$(sed -n 's/^# FAIL: *//p' "$1" 2>/dev/null | head -n 1)
    e=$(sed -n 's/^# ERROR: *//p' "$1" 2>/dev/null | head -n 1)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0} + ${e:-0}))
    if [ "$2" -ne 0 ]; then
        cat "$1" 2>/dev/null || true
        if [ "${f:-0}" -eq 0 ] && [ "${e:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
    fi
}

# A variable of a configured build's Makefile (e.g. its INTEGRATION_TESTS): the last line
# printed (a Makefile that regenerates itself first prints configure's output before it).
make_var() {
    printf 'dmg-print-%%:\n\t@echo $($*)\n' |
        make -s --no-print-directory -C "$1" -f Makefile -f - "dmg-print-$2" 2>/dev/null |
        tail -n 1
}

# valgrind: slapd runs under memcheck for every integration test (harness valgrind mode,
# tests/integration/harness.h); the harness fails a suite on an invalid access, use of an
# uninitialised value or definite leak with a frame in dynmailgroup.so / overlay/, and prints
# slapd's and its libraries' own as information (known ones: tests/valgrind.supp). Own build
# directory with -g -O1, so that the module's frames carry exact lines. Then the unit tests
# under memcheck (CK_FORK=no: one process, one leak check).
# Time (2 CPUs, Debian 12): ~90 s for the whole step (12 integration programs, then the
# unit tests) -- far inside the 90-minute CI budget, so no subset is needed.
# DMG_VALGRIND_TESTS="test_membership test_roles" (names under tests/integration/) restricts
# the integration tests if that ever changes.
run_valgrind() {
    dir="$top/_build-valgrind"
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        (cd "$dir" && "$top/configure" -q CFLAGS="-g -O1")
    fi
    start=$(date +%s)
    echo "==> valgrind build: integration tests, slapd under valgrind memcheck"
    make -C "$dir" -j"$jobs" >/dev/null
    if [ -n "${DMG_VALGRIND_TESTS:-}" ]; then
        tests=""
        for t in $DMG_VALGRIND_TESTS; do tests="$tests tests/integration/$t"; done
    else
        tests=$(make_var "$dir" INTEGRATION_TESTS)
    fi
    rc=0
    make -C "$dir" -j"$jobs" check TESTS="$tests" DMG_VALGRIND=1 || rc=$?
    for t in $tests; do
        grep -H -E '^[0-9]+%: Checks: |^harness: valgrind' "$dir/$t.log" 2>/dev/null || true
    done
    count_suite_log "$dir/test-suite.log" "$rc"
    echo "==> valgrind build: unit tests under valgrind memcheck"
    rc=0
    make -C "$dir" -j"$jobs" check TESTS="$(make_var "$dir" UNIT_TESTS)" \
        TEST_SUITE_LOG=test-suite-unit.log CK_FORK=no LOG_COMPILER=valgrind \
        LOG_FLAGS="-q --tool=memcheck --error-exitcode=1 --leak-check=full \
 --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30" || rc=$?
    count_suite_log "$dir/test-suite-unit.log" "$rc"
    echo "==> valgrind build: $(($(date +%s) - start)) s"
}

# fuzz: scripts/fuzz.sh builds every fuzz/fuzz_*.c with clang (libFuzzer, ASan, UBSan) and
# runs each on a copy of its seed corpus for DMG_FUZZ_SECONDS (default 30); a crash, leak,
# sanitizer report or violated property fails it. One pass or failure per harness.
run_fuzz() {
    echo "==> fuzz: libFuzzer harnesses, ${DMG_FUZZ_SECONDS:-30} s each"
    log=$(mktemp)
    { rc=0; sh "$top/scripts/fuzz.sh" || rc=$?; echo "fuzz-exit $rc"; } 2>&1 | tee "$log"
    p=$(sed -n 's/^fuzz: summary: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
    f=$(sed -n 's/^fuzz: summary: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
    if ! grep -q '^fuzz-exit 0$' "$log" && [ "${f:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
    rm -f "$log"
}

for b in $builds; do
    case $b in
        plain) run_build plain ;;
        asan) run_build asan --enable-sanitizers ;;
        slapd26)
            if prefix=$(sh "$top/scripts/slapd26.sh"); then
                run_build slapd26 --with-openldap-prefix="$prefix"
            else
                echo "==> slapd26 build: scripts/slapd26.sh failed" >&2
                failed=$((failed + 1))
            fi ;;
        valgrind) run_valgrind ;;
        fuzz) run_fuzz ;;
        *) echo "unknown build $b" >&2; exit 2 ;;
    esac
done

echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
