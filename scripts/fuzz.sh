#!/bin/sh
# Build and run the libFuzzer harnesses in fuzz/ for a bounded time each; fails on any crash,
# sanitizer report, leak, time-out or violated property. scripts/test.sh runs it as its
# "fuzz" step (in CI too).
#
#   sh scripts/fuzz.sh                        every fuzz/fuzz_*.c, 30 s each
#   DMG_FUZZ_SECONDS=600 sh scripts/fuzz.sh   longer runs
#   DMG_FUZZ_ONLY="condition dn" ...          some harnesses (names without fuzz_ and .c)
#   DMG_KEEP_TMP=1 ...                        keep the work directory (binaries, corpora, logs)
#
# Each fuzz/fuzz_NAME.c is compiled with clang -fsanitize=fuzzer,address,undefined (UBSan
# errors abort) together with the sources it needs (sources_of below) and run on a copy of
# the seed corpus fuzz/corpus/NAME in a temporary directory: nothing is written into the
# repository. After a failure the work directory is kept; it holds the crashing input.
#
# Harnesses of libldap's parsers (condition: filter.c, dn: getdn.c) compile that file from
# the configured source tree of the installed slapd -- the tree scripts/slapd-headers.sh
# prepared (cached), or $DMG_SLAPD_SOURCE -- so the fuzzed code is exactly what
# slapd runs and coverage feedback reaches into it. Without the tree they link the system
# libldap instead and say so (uninstrumented: crashes are still found, coverage is blind);
# with DMG_FUZZ_NEED_SOURCE=1 (scripts/test.sh sets it) such a harness fails to build instead.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${DMG_FUZZ_SECONDS:-30}
cc=${DMG_FUZZ_CC:-clang}
only=${DMG_FUZZ_ONLY:-}

log() { echo "fuzz: $*"; }

if ! command -v "$cc" >/dev/null 2>&1; then
    log "$cc not found (scripts/install-deps.sh installs clang)" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dmg-fuzz.XXXXXX")
keep=${DMG_KEEP_TMP:-}
finish() {
    if [ -z "$keep" ]; then rm -rf "$work"; else log "kept $work"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# The sources a harness needs besides itself: paths in this repository, or "@lib/file" for
# libraries/lib/file of the slapd source tree.
sources_of() {
    case $1 in
        address) echo "overlay/address.c" ;;
        policy) echo "overlay/address.c overlay/policy.c" ;;
        condition) echo "@libldap/filter.c" ;;
        dn) echo "@libldap/getdn.c" ;;
        *) echo "" ;;
    esac
}

slapd_tree=${DMG_SLAPD_SOURCE:-}
if [ -z "$slapd_tree" ]; then
    slapd_tree=$(sh "$top/scripts/slapd-headers.sh" --find 2>/dev/null) || slapd_tree=""
fi
if [ -n "$slapd_tree" ] && [ ! -f "$slapd_tree/include/ldap_config.h" ]; then
    slapd_tree=""
fi

san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
common="-g -O1 -fno-omit-frame-pointer"

# build NAME: $work/NAME/fuzz_NAME, or non-zero
build() {
    name=$1
    dir="$work/$name"
    mkdir -p "$dir/obj"
    ours="$top/fuzz/fuzz_$name.c"
    libs=""
    for src in $(sources_of "$name"); do
        case $src in
            @*)
                libs="-lldap -llber"
                rel=${src#@}
                if [ -n "$slapd_tree" ] && [ -f "$slapd_tree/libraries/$rel" ]; then
                    # upstream code: its own warnings are not ours to fail on
                    obj="$dir/obj/$(basename "$rel" .c).o"
                    "$cc" $common -fsanitize=fuzzer-no-link,address,undefined \
                        -fno-sanitize-recover=undefined -w -DLDAP_LIBRARY \
                        -I"$slapd_tree/include" -I"$slapd_tree/libraries/${rel%%/*}" \
                        -c "$slapd_tree/libraries/$rel" -o "$obj" || return 1
                    ours="$ours $obj"
                    log "$name: libraries/$rel compiled from $slapd_tree"
                elif [ "${DMG_FUZZ_NEED_SOURCE:-}" = 1 ]; then
                    log "$name: no configured slapd source tree for libraries/$rel" \
                        "(DMG_FUZZ_NEED_SOURCE=1): not built"
                    return 1
                else
                    log "$name: no slapd source tree; fuzzing the system libldap's $rel" \
                        "(uninstrumented)"
                fi ;;
            *) ours="$ours $top/$src" ;;
        esac
    done
    # shellcheck disable=SC2086
    "$cc" $common $san -Wall -Wextra -Werror -I"$top/overlay" $ours $libs \
        -o "$dir/fuzz_$name"
}

# run NAME: bounded libFuzzer run on a copy of the seed corpus
run() {
    name=$1
    dir="$work/$name"
    mkdir -p "$dir/corpus"
    if [ -d "$top/fuzz/corpus/$name" ]; then
        cp -R "$top/fuzz/corpus/$name/." "$dir/corpus/"
    else
        log "$name: no seed corpus (fuzz/corpus/$name); starting from nothing"
    fi
    rc=0
    (cd "$dir" && \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        "./fuzz_$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" \
            >"$dir/fuzz.log" 2>&1) || rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -n 1)
    cov=$(grep -E '^#[0-9]+' "$dir/fuzz.log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    units=$(ls "$dir/corpus" | wc -l)
    if [ "$rc" -ne 0 ]; then
        log "$name: FAILED (libFuzzer exit status $rc); end of its log:"
        tail -n 60 "$dir/fuzz.log" | sed 's/^/    /'
        for a in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
            [ -f "$a" ] || continue
            log "$name: input $a ($(wc -c <"$a") bytes), first bytes:"
            od -c "$a" | head -n 8 | sed 's/^/    /'
            log "$name: reproduce with: $dir/fuzz_$name $a"
        done
        keep=1
        return 1
    fi
    log "$name: ok, ${runs:-?} runs in $seconds s, coverage ${cov:-?}, corpus ${units}" \
        "(seeds $(ls "$top/fuzz/corpus/$name" 2>/dev/null | wc -l))"
}

names=""
for f in "$top"/fuzz/fuzz_*.c; do
    n=$(basename "$f" .c)
    n=${n#fuzz_}
    if [ -n "$only" ]; then
        case " $only " in *" $n "*) ;; *) continue ;; esac
    fi
    names="$names $n"
done
if [ -z "$names" ]; then
    log "no harness selected (DMG_FUZZ_ONLY=$only)" >&2
    exit 2
fi

passed=0
failed=0
for n in $names; do
    log "$n: building"
    if ! build "$n" >"$work/build-$n.log" 2>&1; then
        cat "$work/build-$n.log"
        log "$n: FAILED to build"
        failed=$((failed + 1))
        keep=1
        continue
    fi
    sed 's/^/    /' "$work/build-$n.log"
    log "$n: running for $seconds s"
    if run "$n"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done

log "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
