#!/bin/sh
# The whole test suite, as CI runs it (.ci/run) and as the README's quick start shows:
# installs what is missing, builds, and runs `make check` three times -- a normal build and an
# AddressSanitizer/UBSan build against Debian's slapd 2.5, and a normal build against slapd 2.6
# built from Debian 13's source by scripts/slapd26.sh (cached) -- each against a real slapd with
# the module loaded.
#
#   scripts/test.sh            all three builds
#   DMG_BUILDS=plain scripts/test.sh   only the normal build (faster while developing)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
builds=${DMG_BUILDS:-"plain asan slapd26"}
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
        *) echo "unknown build $b" >&2; exit 2 ;;
    esac
done

echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
