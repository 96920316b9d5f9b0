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
#
# Every requested step must actually run: a build that cannot be configured or compiled, a
# slapd 2.6 that cannot be built, a fuzzer that cannot be built, a test program that did not
# run or was skipped -- each counts as a failure with a line saying so, so that a machine that
# lacks something (CI included) fails loudly. The last lines list every step and its outcome.
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
report="" # one line per requested step: what ran, or why it did not

# A requested step that did not run (configure, compile or a prerequisite failed) is a
# failure, so that CI on a machine that lacks something is red, never silently green.
not_run() {
    echo "==> $1: NOT RUN: $2" >&2
    failed=$((failed + 1))
    report="$report$1: NOT RUN ($2)
"
}

# A variable of a configured build's Makefile (e.g. its INTEGRATION_TESTS): the last line
# printed (a Makefile that regenerates itself first prints configure's output before it).
make_var() {
    printf 'dmg-print-%%:\n\t@echo $($*)\n' |
        make -s --no-print-directory -C "$1" -f Makefile -f - "dmg-print-$2" 2>/dev/null |
        tail -n 1
}

# The outcome of a step that ran: $1 the step, $2 passed, $3 expected, $4 failed, $5 unit.
tally() {
    passed=$((passed + $2))
    failed=$((failed + $4))
    report="$report$1: ran, $2 of $3 $5 passed$([ "$4" -eq 0 ] || echo ", $4 failed")
"
}

# Counts of an automake test-suite log: $1 the step, $2 the log, $3 make's exit status, $4 the
# test programs that were to run. Every one of them must have run and passed: a missing result
# (a test program that did not compile, a harness that stopped), a SKIP, an XPASS, and make
# failing without a failed test each count as failures.
count_suite_log() {
    step=$1 log=$2 rc=$3 want=$4
    p=0 f=0 e=0 s=0 x=0 t=0
    if [ -f "$log" ]; then
        p=$(sed -n 's/^# PASS: *//p' "$log" | head -n 1)
        f=$(sed -n 's/^# FAIL: *//p' "$log" | head -n 1)
        e=$(sed -n 's/^# ERROR: *//p' "$log" | head -n 1)
        s=$(sed -n 's/^# SKIP: *//p' "$log" | head -n 1)
        x=$(sed -n 's/^# XPASS: *//p' "$log" | head -n 1)
        t=$(sed -n 's/^# TOTAL: *//p' "$log" | head -n 1)
    fi
    p=${p:-0} f=${f:-0} e=${e:-0} s=${s:-0} x=${x:-0} t=${t:-0}
    bad=$((f + e + s + x))
    n=$(echo $want | wc -w)
    if [ "$rc" -ne 0 ] || [ "$bad" -ne 0 ] || [ "$t" -ne "$n" ]; then
        cat "$log" 2>/dev/null || true
    fi
    [ "$s" -eq 0 ] || echo "==> $step: $s test program(s) skipped: counted as failed" >&2
    if [ "$t" -lt "$n" ]; then
        echo "==> $step: only $t of $n test programs ran: the missing ones count as failed" >&2
        bad=$((bad + n - t))
    elif [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
        echo "==> $step: make check failed (exit $rc) without a failed test: counted as failed" >&2
        bad=1
    fi
    tally "$step" "$p" "$n" "$bad" "test programs"
}

# Configure (once) and compile a build directory; non-zero, after saying why, when it cannot.
prepare_build() {
    name=$1 dir=$2
    shift 2
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ]; then
        if ! (cd "$dir" && "$top/configure" -q "$@"); then
            rm -f "$dir/Makefile" # configure again next time
            not_run "$name build" "configure failed (see above and $dir/config.log)"
            return 1
        fi
    fi
    if ! make -C "$dir" -j"$jobs" >/dev/null; then
        not_run "$name build" "make failed (see above)"
        return 1
    fi
}

run_build() {
    name=$1
    shift
    dir="$top/_build-$name"
    prepare_build "$name" "$dir" "$@" || return 0
    echo "==> $name build: make check"
    rm -f "$dir/test-suite.log"
    rc=0
    make -C "$dir" -j"$jobs" check || rc=$?
    # Check's own summary line of every test program
    for log in "$dir"/tests/*/*.log; do
        [ -f "$log" ] || continue
        grep -H -E '^[0-9]+%: Checks: ' "$log" || true
    done
    count_suite_log "$name build" "$dir/test-suite.log" "$rc" "$(make_var "$dir" TESTS)"
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
    start=$(date +%s)
    prepare_build valgrind "$dir" CFLAGS="-g -O1" || return 0
    echo "==> valgrind build: integration tests, slapd under valgrind memcheck"
    if [ -n "${DMG_VALGRIND_TESTS:-}" ]; then
        tests=""
        for t in $DMG_VALGRIND_TESTS; do tests="$tests tests/integration/$t"; done
    else
        tests=$(make_var "$dir" INTEGRATION_TESTS)
    fi
    rm -f "$dir/test-suite.log" "$dir/test-suite-unit.log"
    rc=0
    make -C "$dir" -j"$jobs" check TESTS="$tests" DMG_VALGRIND=1 || rc=$?
    for t in $tests; do
        grep -H -E '^[0-9]+%: Checks: |^harness: valgrind' "$dir/$t.log" 2>/dev/null || true
    done
    count_suite_log "valgrind build (integration)" "$dir/test-suite.log" "$rc" "$tests"
    echo "==> valgrind build: unit tests under valgrind memcheck"
    unit=$(make_var "$dir" UNIT_TESTS)
    rc=0
    make -C "$dir" -j"$jobs" check TESTS="$unit" \
        TEST_SUITE_LOG=test-suite-unit.log CK_FORK=no LOG_COMPILER=valgrind \
        LOG_FLAGS="-q --tool=memcheck --error-exitcode=1 --leak-check=full \
 --errors-for-leak-kinds=definite --show-leak-kinds=definite --num-callers=30" || rc=$?
    count_suite_log "valgrind build (unit)" "$dir/test-suite-unit.log" "$rc" "$unit"
    echo "==> valgrind build: $(($(date +%s) - start)) s"
}

# fuzz: scripts/fuzz.sh builds every fuzz/fuzz_*.c with clang (libFuzzer, ASan, UBSan) and
# runs each on a copy of its seed corpus for DMG_FUZZ_SECONDS (default 30); a crash, leak,
# sanitizer report or violated property fails it, and so does a harness that cannot be built
# or (DMG_FUZZ_NEED_SOURCE=1) that would fall back to the uninstrumented system libldap. One
# pass or failure per harness; every harness must report.
run_fuzz() {
    echo "==> fuzz: libFuzzer harnesses, ${DMG_FUZZ_SECONDS:-30} s each"
    want=0
    for h in "$top"/fuzz/fuzz_*.c; do
        n=$(basename "$h" .c)
        n=${n#fuzz_}
        if [ -n "${DMG_FUZZ_ONLY:-}" ]; then
            case " $DMG_FUZZ_ONLY " in *" $n "*) ;; *) continue ;; esac
        fi
        want=$((want + 1))
    done
    log=$(mktemp)
    { rc=0; DMG_FUZZ_NEED_SOURCE=1 sh "$top/scripts/fuzz.sh" || rc=$?; echo "fuzz-exit $rc"; } 2>&1 |
        tee "$log"
    summary='^fuzz: summary: \([0-9]*\) passed, \([0-9]*\) failed$'
    p=$(sed -n "s/$summary/\\1/p" "$log")
    f=$(sed -n "s/$summary/\\2/p" "$log")
    exit_ok=$(grep -c '^fuzz-exit 0$' "$log" || true)
    rm -f "$log"
    if [ -z "$p" ]; then
        not_run "fuzz" "scripts/fuzz.sh ended without its summary line (see above)"
        return 0
    fi
    bad=$f
    if [ $((p + f)) -lt "$want" ]; then
        echo "==> fuzz: only $((p + f)) of $want harnesses reported: the missing ones count as failed" >&2
        bad=$((want - p))
    elif [ "$exit_ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
        echo "==> fuzz: scripts/fuzz.sh failed without a failed harness: counted as failed" >&2
        bad=1
    fi
    tally fuzz "$p" "$want" "$bad" harnesses
}

for b in $builds; do
    case $b in
        plain) run_build plain ;;
        asan) run_build asan --enable-sanitizers ;;
        slapd26)
            if prefix=$(sh "$top/scripts/slapd26.sh"); then
                run_build slapd26 --with-openldap-prefix="$prefix"
            else
                not_run "slapd26 build" "scripts/slapd26.sh could not build slapd 2.6 (see above)"
            fi ;;
        valgrind) run_valgrind ;;
        fuzz) run_fuzz ;;
        *) echo "unknown build $b" >&2; exit 2 ;;
    esac
done

printf "%s" "$report"
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
