#!/bin/sh
# shellcheck disable=SC2154 # per-flavour values (LOAD_static, RSS0_dmg, ...) are set with eval
# bench/run.sh -- static groupOfNames vs dynlist vs dynamicMailGroup, same data, same queries.
#
#   bench/run.sh                 the issue's size: 10 x 10 x 10 x 100 = 100,000 employees, 1,000 groups
#   bench/run.sh --small         2 x 2 x 2 x 50 = 400 employees, 20 groups (a check in under a minute)
#   bench/run.sh --divisions D --departments P --teams T --per-team N --groups G
#                [--reps N] [--timeout SEC] [--budget SEC] [--add-count N] [--max-time SEC]
#                [--output FILE] [--keep] [--dbnosync] [--load-seconds SEC] [--load-rounds N]
#   bench/run.sh --scale [--scale-1m] [--output FILE]   the same rows at several sizes (below)
#
# Generates the data (bench/gen.c), loads it with slapadd into three mdb databases with the
# same indexes (static groupOfNames, dynlist groupOfURLs, dynamicMailGroup), starts three
# slapds on free loopback ports, runs every workload against each with bench/client.c and
# prints one table (also written to --output FILE).  Every query has a timeout (--timeout,
# default 120 s, shown as ">120 s"), every workload a time budget (--budget, default 30 s:
# it stops repeating once its samples took that long), and the whole run a limit
# (--max-time, default 40 min); the slapds are stopped on exit whatever happens.
# --dbnosync configures the three databases with dbnosync (writes then measure CPU, not
# the disk's flush); --keep keeps the work directory (configurations, logs, raw results).
# --load-seconds: how long each concurrent load runs per server and round (default 3);
# --load-rounds: how many rounds of the loads, the servers' order rotating (default 10); the
# concurrent rows' ratio is the median of the rounds' dmg/static ratios.
# --scale: one run per size, groups of 1,000 / 10,000 / 100,000 members in 100,000 employees;
# --scale-1m adds 10,000 / 100,000 members in 1,000,000 employees (long: about an hour).
# BENCH_SCALE_SIZES="NAME:D:P:T:N ..." replaces the sizes of --scale.
#
# Environment: DMG_MODULE (a built dynmailgroup.so) or DMG_BUILDDIR (a configured build tree;
# default _build-bench in the repository, configured and made when needed), DMG_SLAPD
# (default /usr/sbin/slapd), DMG_SLAPTOOLS (where slapadd and slaptest are; default: slapd's
# directory), DMG_MODULEPATH (/usr/lib/ldap), DMG_SCHEMADIR (/etc/ldap/schema),
# BENCH_TMPDIR (where the work directory goes, default /tmp); BENCH_PAUSE=FILE with
# BENCH_PAUSE_AT=ROW|loads|adds stops the run before that step until FILE is deleted (pause_at).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"

DIVISIONS=10 DEPARTMENTS=10 TEAMS=10 PER_TEAM=100 NGROUPS_ARG=1000
DBNOSYNC=0 SCALE=0 SCALE_1M=0 LOAD_S=3 LOAD_ROUNDS=10 REPS=9 TIMEOUT=120 BUDGET=30 ADD_COUNT=1000 MAX_TIME=2400 KEEP=0 OUTPUT='' SIZE_NAME=default
CMDLINE="bench/run.sh $*"

usage() {
    sed -n '3,/^set -eu/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}
need() { [ $# -ge 2 ] || usage; }
while [ $# -gt 0 ]; do
    case $1 in
        --small) DIVISIONS=2 DEPARTMENTS=2 TEAMS=2 PER_TEAM=50 NGROUPS_ARG=20 ADD_COUNT=100
                 TIMEOUT=20 BUDGET=5 MAX_TIME=300 LOAD_S=3 SIZE_NAME=small ;;
        --divisions) need "$@"; DIVISIONS=$2; SIZE_NAME=custom; shift ;;
        --departments) need "$@"; DEPARTMENTS=$2; SIZE_NAME=custom; shift ;;
        --teams) need "$@"; TEAMS=$2; SIZE_NAME=custom; shift ;;
        --per-team) need "$@"; PER_TEAM=$2; SIZE_NAME=custom; shift ;;
        --groups) need "$@"; NGROUPS_ARG=$2; SIZE_NAME=custom; shift ;;
        --reps) need "$@"; REPS=$2; shift ;;
        --timeout) need "$@"; TIMEOUT=$2; shift ;;
        --budget) need "$@"; BUDGET=$2; shift ;;
        --add-count) need "$@"; ADD_COUNT=$2; shift ;;
        --max-time) need "$@"; MAX_TIME=$2; shift ;;
        --output) need "$@"; OUTPUT=$2; shift ;;
        --keep) KEEP=1 ;;
        --dbnosync) DBNOSYNC=1 ;;
        --load-seconds) need "$@"; LOAD_S=$2; shift ;;
        --load-rounds) need "$@"; LOAD_ROUNDS=$2; shift ;;
        --scale) SCALE=1 ;;
        --scale-1m) SCALE=1 SCALE_1M=1 ;;
        -h|--help) usage ;;
        *) echo "run.sh: unknown option $1" >&2; usage ;;
    esac
    shift
done
for v in "$DIVISIONS" "$DEPARTMENTS" "$TEAMS" "$PER_TEAM" "$NGROUPS_ARG" "$REPS" "$TIMEOUT" \
         "$BUDGET" "$ADD_COUNT" "$MAX_TIME" "$LOAD_S"; do
    case $v in ''|*[!0-9]*) echo "run.sh: '$v' is not a whole number" >&2; exit 2 ;; esac
done

SLAPD=${DMG_SLAPD:-/usr/sbin/slapd}
SLAPTOOLS=${DMG_SLAPTOOLS:-$(dirname "$SLAPD")}
MODULEPATH=${DMG_MODULEPATH:-/usr/lib/ldap}
SCHEMADIR=${DMG_SCHEMADIR:-/etc/ldap/schema}
ROOTDN="cn=admin,dc=example,dc=com"
ROOTPW=secret
FLAVOURS="static dynlist dmg"

log() { printf '%s run.sh: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- --scale: this script once per size, the tables one after the other -------------------------

if [ "$SCALE" = 1 ]; then
    sizes="100k-1k:100:10:10:10 100k-10k:10:10:10:100 100k-100k:1:10:10:1000"
    [ "$SCALE_1M" = 1 ] && sizes="$sizes 1m-10k:100:10:10:100 1m-100k:10:10:10:1000"
    sizes=${BENCH_SCALE_SIZES:-$sizes}
    all=$(mktemp "${BENCH_TMPDIR:-/tmp}/dmg-bench-scale-XXXXXX")
    status=0
    for size in $sizes; do
        IFS=: read -r name nd np nt nn <<EOF_SIZE
$size
EOF_SIZE
        log "scale: $name (employees-group size)"
        t0=$(now)
        sh "$0" --divisions "$nd" --departments "$np" --teams "$nt" --per-team "$nn" --groups 1000 \
            --reps "$REPS" --timeout "$TIMEOUT" --budget "$BUDGET" --add-count "$ADD_COUNT" \
            --load-seconds "$LOAD_S" --load-rounds "$LOAD_ROUNDS" --max-time "$MAX_TIME" --output "$all.$name" >/dev/null || status=1
        {
            echo "## $name ($(elapsed "$t0") s for the whole run)"
            echo
            cat "$all.$name" 2>/dev/null || echo "(no table: the run failed)"
            echo
        } >>"$all"
    done
    cat "$all"
    [ -n "$OUTPUT" ] && cp "$all" "$OUTPUT"
    rm -f "$all" "$all".*
    exit $status
fi

# ---- work directory, cleanup, watchdog ---------------------------------------------------------

work=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dmg-bench-XXXXXX")
PIDS=""
WATCHDOG=""
cleanup() {
    rc=$?
    trap - EXIT INT TERM
    for pid in $PIDS; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in $PIDS; do
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [ -n "$WATCHDOG" ]; then kill -TERM "$WATCHDOG" 2>/dev/null || true; fi
    if [ "$KEEP" = 1 ]; then
        log "work directory kept: $work"
    else
        rm -rf "$work"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# The whole run stops by itself: after MAX_TIME the watchdog sends SIGTERM to this script.
main_pid=$$
(
    i=0
    while [ $i -lt "$MAX_TIME" ]; do sleep 1; i=$((i + 1)); done
    echo "run.sh: --max-time $MAX_TIME s reached, stopping" >&2
    kill -TERM "$main_pid" 2>/dev/null
    # the script handles the signal once its current command returns: stopping the slapds
    # makes that command (a client waiting for a slapd) return at once
    while read -r pid; do kill -TERM "$pid" 2>/dev/null; done <"$work/pids" 2>/dev/null
) &
WATCHDOG=$!

# ---- dependencies and builds -------------------------------------------------------------------

sh "$top/scripts/install-deps.sh"

if [ -n "${DMG_MODULE:-}" ]; then
    module=$DMG_MODULE
else
    builddir=${DMG_BUILDDIR:-$top/_build-bench}
    if [ ! -f "$builddir/Makefile" ]; then
        log "configuring the overlay in $builddir"
        if [ ! -x "$top/configure" ]; then
            (cd "$top" && autoreconf -fi >/dev/null 2>&1)
        fi
        mkdir -p "$builddir"
        (cd "$builddir" && "$top/configure" -q)
    fi
    log "building the overlay in $builddir"
    make -C "$builddir" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
    module=$builddir/.libs/dynmailgroup.so
fi
[ -f "$module" ] || { echo "run.sh: module $module not found" >&2; exit 1; }
module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")

cc -O2 -Wall -Wextra -o "$work/gen" "$bench/gen.c"
cc -O2 -Wall -Wextra -o "$work/client" "$bench/client.c" -lldap -llber
client=$work/client

# ---- data ----------------------------------------------------------------------------------------

log "generating ${DIVISIONS}x${DEPARTMENTS}x${TEAMS}x${PER_TEAM} employees, $NGROUPS_ARG groups"
t=$(now)
"$work/gen" --divisions "$DIVISIONS" --departments "$DEPARTMENTS" --teams "$TEAMS" \
    --per-team "$PER_TEAM" --groups "$NGROUPS_ARG" --out "$work/data"
log "generated in $(elapsed "$t") s"
# shellcheck disable=SC1091
. "$work/data/bench.env"
# The cache bound of the dmg flavour: room for every list the run reads (each group's member
# DNs and mail values for the MTA, the big groups' for the other identities), so that the
# rows measure a warm cache at every size: four values per member value, at least 5,000,000
CACHE_MAX=$((4 * TOTAL_MEMBERS))
[ "$CACHE_MAX" -ge 5000000 ] || CACHE_MAX=5000000

# ---- configurations, slapadd ----------------------------------------------------------------------

# write_conf FLAVOUR FILE for_tools(0|1) [VARIANT]: VARIANT (dmg only) is "def", the
# configuration a new installation has (no cache directive), or "vis", with
# dynmailgroup-member-visibility group; each variant has its own copy of the dmg database.
write_conf() {
    f=$1 out=$2 tools=$3 variant=${4:-} dir=$work/$1${4:-}
    {
        if [ "$tools" = 1 ]; then
            echo "# generated by bench/run.sh: $f, for slapadd (no overlay)"
        else
            echo "# generated by bench/run.sh: $f$variant"
        fi
        echo "modulepath $MODULEPATH"
        echo "moduleload back_mdb"
        if [ "$tools" = 0 ]; then
            [ "$f" = dynlist ] && echo "moduleload dynlist"
            [ "$f" = dmg ] && echo "moduleload \"$module\""
        fi
        for s in core cosine inetorgperson dyngroup; do echo "include $SCHEMADIR/$s.schema"; done
        [ "$f" = dmg ] && echo "include \"$top/schema/dynmailgroup.schema\""
        echo "pidfile \"$dir/slapd.pid\""
        echo "argsfile \"$dir/slapd.args\""
        echo "loglevel none"
        echo "sizelimit unlimited"
        echo "timelimit unlimited"
        echo
        echo "database mdb"
        echo "suffix \"$SUFFIX\""
        echo "rootdn \"$ROOTDN\""
        echo "rootpw $ROOTPW"
        echo "directory \"$dir/db\""
        echo "maxsize 8589934592"
        # every successful bind writes pwdLastSuccess on the bound entry (the lastbind rows)
        echo "lastbind on"
        echo "index objectClass eq"
        echo "index uid eq"
        echo "index mail eq"
        echo "index cn eq,sub"
        echo "index member eq"
        echo "index entryUUID eq"
        [ "$DBNOSYNC" = 1 ] && echo "dbnosync"
        # what the manual asks of large directories: a delete or rename looks groups up by
        # equality on every attribute that names entries
        [ "$f" = dmg ] && echo "index dmgDepartment,dmgIncludeMember,dmgExcludeMember,dmgAuditor,dmgAdministrator,dmgApplicant eq"
        if [ "$tools" = 0 ] && [ "$f" = dynlist ]; then
            echo "overlay dynlist"
            echo "dynlist-attrset groupOfURLs memberURL member+memberOf"
        fi
        if [ "$tools" = 0 ] && [ "$f" = dmg ]; then
            # the UUID companions the overlay resolves references by (written by the
            # migration after start, indexed as they are written)
            echo "index dmgDepartmentUUID,dmgIncludeMemberUUID,dmgExcludeMemberUUID eq"
            echo "index dmgAuditorUUID,dmgAdministratorUUID,dmgApplicantUUID eq"
            echo "overlay dynmailgroup"
            echo "dynmailgroup-privileged \"$MTA_DN\""
            [ "$variant" = def ] || echo "dynmailgroup-cache-max-values $CACHE_MAX"
            [ "$variant" = vis ] && echo "dynmailgroup-member-visibility group"
            # the cache's statistics (entries, values, bytes) for the memory line of the table
            echo
            echo "database monitor"
        fi
    } >"$out"
}

for f in $FLAVOURS; do
    mkdir -p "$work/$f/db"
    write_conf "$f" "$work/$f/slapd.conf" 0
    write_conf "$f" "$work/$f/slapadd.conf" 1
    t=$(now)
    if ! cat "$work/data/base.ldif" "$work/data/groups-$f.ldif" |
        timeout 3600 "$SLAPTOOLS/slapadd" -q -f "$work/$f/slapadd.conf" >"$work/$f/slapadd.log" 2>&1; then
        cat "$work/$f/slapadd.log" >&2
        echo "run.sh: slapadd ($f) failed" >&2
        exit 1
    fi
    eval "LOAD_$f=$(elapsed "$t")"
    eval "DBKB_$f=$(du -sk "$work/$f/db" | cut -f1)"
    log "slapadd $f: $(eval echo "\$LOAD_$f") s, database $(eval echo "\$DBKB_$f") KiB"
done

# copy_db FROM TO: a copy of an mdb directory that leaves FROM's pages in the page cache as
# slapadd left them, as for the other flavours.  cp would read FROM through the page cache
# in large readahead pages, and slapd's 4 KiB page writes into those cost the kernel several
# times the CPU later (ext4, Linux 6.18: 200 adds and deletes at 1,000,000 employees took
# 2.3-2.5 s of slapd's CPU after a cp of its database, 0.4-0.5 s without, static 0.4 s).
# Direct I/O bypasses the page cache; where the file system refuses it, cp.
copy_db() {
    mkdir -p "$2"
    dd if="$1/data.mdb" of="$2/data.mdb" bs=4M iflag=direct oflag=direct conv=sparse \
        status=none 2>/dev/null || cp -a "$1/data.mdb" "$2/data.mdb"
}

# The dmg variants: a copy of the dmg database each.  A variant whose configuration this
# module refuses (slaptest) is not started: its rows print n/a.
SERVERS=$FLAVOURS
for v in def vis; do
    mkdir -p "$work/dmg$v"
    write_conf dmg "$work/dmg$v/slapd.conf" 0 "$v"
    copy_db "$work/dmg/db" "$work/dmg$v/db"
    if "$SLAPTOOLS/slaptest" -u -f "$work/dmg$v/slapd.conf" >"$work/dmg$v/slaptest.log" 2>&1; then
        SERVERS="$SERVERS dmg$v"
    else
        log "dmg$v: configuration refused by this module: $(grep -v '^$' "$work/dmg$v/slaptest.log" | head -n 1)"
        rm -rf "$work/dmg$v/db"
    fi
done

# ---- servers ---------------------------------------------------------------------------------------

# start_slapd FLAVOUR PORT: that flavour's slapd on a loopback port, answering (PID_, URI_)
start_slapd() {
    "$SLAPD" -f "$work/$1/slapd.conf" -h "ldap://127.0.0.1:$2/" -d 0 >>"$work/$1/slapd.log" 2>&1 &
    pid=$!
    PIDS="$PIDS $pid"
    echo "$pid" >>"$work/pids"
    eval "PID_$1=$pid URI_$1=ldap://127.0.0.1:$2/"
    if ! "$client" ping -H "ldap://127.0.0.1:$2/" -t 60 >/dev/null; then
        cat "$work/$1/slapd.log" >&2
        echo "run.sh: slapd ($1) did not start" >&2
        exit 1
    fi
    log "slapd $1: pid $pid, ldap://127.0.0.1:$2/"
}

for f in $SERVERS; do
    port=$("$client" freeport)
    start_slapd "$f" "$port"
    case $f in
    dmg*)
        # slapadd wrote the groups without the overlay: give them their UUID companions as
        # the manual tells slapadd users to, so that reads take the UUID path
        t=$(now)
        if ! "$top/scripts/dmg-migrate-uuids.sh" -b "$SUFFIX" -H "ldap://127.0.0.1:$port/" -x \
            -D "$ROOTDN" -w "$ROOTPW" >"$work/$f/migrate.log" 2>&1; then
            tail -n 5 "$work/$f/migrate.log" >&2
            echo "run.sh: dmg-migrate-uuids.sh ($f) failed" >&2
            exit 1
        fi
        log "migrate $f: $(elapsed "$t") s, $(tail -n 1 "$work/$f/migrate.log")"
        ;;
    esac
done

# kB of a /proc/PID/status field
proc_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

results=$work/results.txt
: >"$results"

# CPU clock ticks (user + system) a process has used so far
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# settle FLAVOUR: wait until that slapd has stopped working (at most 0.2 s with one clock tick
# of CPU), at most 2 * TIMEOUT + 30 s.  A query the client abandoned at its time limit (dynlist's
# large groups) goes on inside slapd; measured next, the other flavours would share the CPU
# with it and pay for dynlist's work.
settle() {
    pid=$(pidof_flavour "$1")
    [ -n "$pid" ] || return 0
    waited=0 before=$(cpu_ticks "$pid")
    while [ "$waited" -lt $((10 * TIMEOUT + 150)) ]; do
        sleep 0.2
        after=$(cpu_ticks "$pid")
        [ $((after - before)) -le 1 ] && break
        before=$after waited=$((waited + 1))
    done
    [ "$waited" -gt 0 ] && log "settle [$1]: slapd busy for about $((waited / 5)) s more"
    return 0
}

# run_targets "WORKLOAD:FLAVOUR..." client-args...: the client's result lines, one per -H in
# the order of the list, as "WORKLOAD<TAB>FLAVOUR<TAB>key=value..." (then waits for those
# slapds to settle)
run_targets() {
    tg=$1
    shift
    nt=$(echo "$tg" | wc -w)
    limit=$((nt * (BUDGET + 2 * TIMEOUT) + 60))
    cmd=$1
    shift
    [ "$cmd" = readall ] && limit=$((4 * TIMEOUT + 60))
    out=$(timeout "$limit" "$client" "$cmd" -t "$TIMEOUT" -B "$BUDGET" "$@" 2>"$work/client.err") || true
    i=0 settled=""
    for t in $tg; do
        i=$((i + 1))
        wl=${t%%:*} f=${t#*:}
        line=$(printf '%s\n' "$out" | sed -n "${i}p")
        [ -n "$line" ] || line="status=error n=0 error='client ended without a result (limit $limit s)'"
        printf '%s\t%s\t%s\n' "$wl" "$f" "$line" >>"$results"
        log "$wl [$f]: $line"
    done
    for t in $tg; do
        f=${t#*:}
        case " $settled " in *" $f "*) continue ;; esac
        settle "$f"
        settled="$settled $f"
    done
}

# run_client WORKLOAD "FLAVOUR..." client-args...: the same workload on each flavour's server
# (the client's -H options, in that order)
run_client() {
    wl=$1 tg=""
    for f in $2; do tg="$tg $wl:$f"; done
    shift 2
    run_targets "$tg" "$@"
}

uri() { eval echo "\$URI_$1"; }
pidof_flavour() { eval echo "\$PID_$1"; }

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. read every group: member sets identical? memory ----------------------------------------------

for f in $FLAVOURS; do
    pid=$(pidof_flavour "$f")
    eval "RSS0_$f=$(proc_kb "$pid" VmRSS) ANON0_$f=$(proc_kb "$pid" RssAnon)"
    run_client readall "$f" readall -H "$(uri "$f")" -D "$MTA_DN" -w "$MTA_PW" \
        "$GROUPS_BASE" "$work/members-$f.txt"
    eval "RSS1_$f=$(proc_kb "$pid" VmRSS) ANON1_$f=$(proc_kb "$pid" RssAnon)"
done

# a statistic of the dmg server's cache, from its cn=monitor entry
cache_stat() {
    ldapsearch -x -LLL -o ldif-wrap=no -H "$(uri dmg)" -D "$MTA_DN" -w "$MTA_PW" \
        -b cn=Databases,cn=Monitor '(objectClass=dmgCacheMonitor)' "$1" 2>/dev/null |
        awk -v a="$1:" '$1 == a { print $2 }'
}
CACHE_ENTRIES=$(cache_stat dmgCacheEntries)
CACHE_VALUES=$(cache_stat dmgCacheValues)
CACHE_BYTES=$(cache_stat dmgCacheBytes)

verify="identical"
unverified=""
for f in dynlist dmg; do
    # dynlist may not read every group of the largest sizes within the timeout: its sets are
    # then not compared (said so below); dmg's must always be there
    if [ "$f" = dynlist ] && [ ! -f "$work/members-$f.txt" ]; then
        unverified=" (dynlist not compared: its read of every group timed out)"
        continue
    fi
    if ! cmp -s "$work/members-static.txt" "$work/members-$f.txt"; then
        verify="DIFFERENT"
        echo "run.sh: member sets of $f differ from static (first differences):" >&2
        diff "$work/members-static.txt" "$work/members-$f.txt" | head -n 10 >&2 || true
    fi
done
# and the generator's own counts
gen_total=$(awk -F'\t' '{ s += $3 } END { print s + 0 }' "$work/data/groups.txt")
read_total=$(awk -F'\t' '{ s += $2 } END { print s + 0 }' "$work/members-static.txt")
[ "$gen_total" = "$read_total" ] || verify="DIFFERENT (generator says $gen_total member values, static has $read_total)"
log "member sets across flavours: $verify$unverified ($NGROUPS groups, $read_total member values)"

# ---- 2. the workloads ----------------------------------------------------------------------------------

# na WORKLOAD FLAVOUR REASON: a row that cannot run here (REASON: unsupported, no-outsider)
na() { printf '%s\t%s\tstatus=na reason=%s n=0\n' "$1" "$2" "$3" >>"$results"; log "$1 [$2]: n/a ($3)"; }
served() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }

# Row by row: static's and dmg's samples of a row are taken in turn by one client (one on
# each, the first of each round alternating), so that a slow phase of the machine (a virtual
# machine's speed drifts by a third within seconds) falls on both alike; dynlist's, whose large
# groups can take the whole timeout and go on working inside its slapd after that, are taken
# on their own, before or after the pair, alternating from one row to the next.
# row_NAME "FLAVOUR..." runs one row on those flavours' servers, whose -H options are $HS.

# a base read of the 10k group without member
row_baseread() {
    run_client baseread "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c mail \
        "$BIG_DN" base "(objectClass=*)" cn mail
}
row_read_warm() {
    run_client read_warm "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c member \
        "$BIG_DN" base "(objectClass=*)" member
}
row_read_anon() {
    run_client read_anon "$1" search $HS -n "$REPS" -u 1 -c member \
        "$BIG_DN" base "(objectClass=*)" member
}
row_member_eq() {
    run_client member_eq "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c mail \
        "$SUFFIX" sub "(member=$MEMBER_DN)" cn mail
}
# member_of_of WORKLOAD "FLAVOUR..." DN: memberOf of DN on dynlist and dmg (static has none)
member_of_of() {
    for f in $2; do
        case $f in
            dynlist) run_client "$1" "$f" search -H "$(uri "$f")" -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" \
                         -u 1 -c memberOf "$3" base "(objectClass=*)" memberOf ;;
            dmg) run_client "$1" "$f" search -H "$(uri "$f")" -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" \
                     -u 1 -c dmgMemberOf "$3" base "(objectClass=*)" dmgMemberOf ;;
        esac
    done
}
row_member_of() { member_of_of member_of "$1" "$MEMBER_DN"; }
row_prefix_all() {
    run_client prefix_all "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c member \
        "$SUFFIX" sub "(|(cn=g000*)(mail=g000*))" "*"
}
# the decision against the base read without member, on dmg, their samples in turn
row_decision() {
    case " $1 " in *" dmg "*) ;; *) return 0 ;; esac
    run_targets "decision_ref:dmg decision:dmg" search -H "$(uri dmg)" -F "(objectClass=*)" \
        -A cn,mail -H "$(uri dmg)" -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c dmgDecision \
        "$BIG_DN" base "(dmgSender=$MEMBER_MAIL)" dmgDecision dmgDecisionReason
}

# overrides and nesting: the group read, then the questions asked about one employee
# (one of the group's includes, resp. a member of an included group)
row_over_read() {
    run_client over_read "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c member \
        "$OVER_DN" base "(objectClass=*)" member
}
# a write to no employee at all (the MTA's own entry): does the group keep its list?
row_over_after_write() {
    run_client over_after_write "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -W "$ROOTDN" \
        -X "$ROOTPW" -m "$MTA_DN" -n "$REPS" -u 1 -c member "$OVER_DN" base "(objectClass=*)" member
}
row_over_member_eq() {
    run_client over_member_eq "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c mail \
        "$SUFFIX" sub "(member=$OVER_USER_DN)" cn mail
}
row_over_member_of() { member_of_of over_member_of "$1" "$OVER_USER_DN"; }
row_over_compare() {
    run_client over_compare "$1" compare $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 \
        "$OVER_DN" member "$OVER_USER_DN"
}
row_nest_read() {
    run_client nest_read "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c member \
        "$NEST_DN" base "(objectClass=*)" member
}
row_nest_member_eq() {
    run_client nest_member_eq "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -u 1 -c mail \
        "$SUFFIX" sub "(member=$NEST_USER_DN)" cn mail
}

# reads of the 10k group right after a write (untimed, before every sample, warm-ups too)
row_read_after_write() {
    if [ "$OUTSIDER" = 1 ]; then
        run_client read_after_write "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -W "$ROOTDN" \
            -X "$ROOTPW" -m "$UNRELATED_DN" -n "$REPS" -u 1 -c member "$BIG_DN" base "(objectClass=*)" member
    else
        for f in $1; do na read_after_write "$f" no-outsider; done
    fi
}
row_bind_outsider() {
    if [ "$OUTSIDER" = 1 ]; then
        run_client bind_outsider "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" \
            -b "@$work/data/binders-outside.txt" -p secret -n "$REPS" -u 1 -c member "$BIG_DN" base "(objectClass=*)" member
    else
        for f in $1; do na bind_outsider "$f" no-outsider; done
    fi
}
row_write_member_keep() {
    run_client write_member_keep "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -W "$ROOTDN" \
        -X "$ROOTPW" -m "$FLIP_DN" -a title -v "Manager,$FLIP_TITLE" -n "$REPS" -u 1 -c member \
        "$BIG_DN" base "(objectClass=*)" member
}
# Intern fails the group's condition: the samples alternate between without and with
row_write_member_drop() {
    run_client write_member_drop "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" -W "$ROOTDN" \
        -X "$ROOTPW" -m "$FLIP_DN" -a title -v "Intern,$FLIP_TITLE" -n "$REPS" -u 0 -c member \
        "$BIG_DN" base "(objectClass=*)" member
}
row_bind_member() {
    run_client bind_member "$1" search $HS -D "$MTA_DN" -w "$MTA_PW" \
        -b "@$work/data/binders-member.txt" -p secret -n "$REPS" -u 1 -c member "$BIG_DN" base "(objectClass=*)" member
}
# an ordinary user (an employee, a member) reads the 10k group
row_user_read() {
    run_client user_read "$1" search $HS -D "$MEMBER_DN" -w secret -n "$REPS" -u 1 -c member \
        "$BIG_DN" base "(objectClass=*)" member
}

# flavour_order N: the three flavours in turn, rotated by N (rows and add samples take turns)
# The awk function every summary of the client's result lines uses: kv(s, key) is the value
# of key=value in s, "" when absent
AWK_KV='function kv(s, key,    n, i, a, p) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) {
        p = index(a[i], "=")
        if (substr(a[i], 1, p - 1) == key) return substr(a[i], p + 1)
    }
    return ""
}'

flavour_order() {
    case $(($1 % 3)) in
        0) echo "static dynlist dmg" ;;
        1) echo "dynlist dmg static" ;;
        *) echo "dmg static dynlist" ;;
    esac
}

# pause_at NAME: with BENCH_PAUSE_AT=NAME (a row's name, "loads" or "adds") and BENCH_PAUSE=FILE,
# writes "WORKDIR STATIC_URI DMG_URI STATIC_PID DMG_PID" to FILE before that step and waits until
# FILE is deleted: the live servers of a run, as its earlier rows left them, for profiling
pause_at() {
    [ -n "${BENCH_PAUSE:-}" ] && [ "${BENCH_PAUSE_AT:-}" = "$1" ] || return 0
    echo "$work $URI_static $URI_dmg $PID_static $PID_dmg" >"$BENCH_PAUSE"
    log "paused before $1 until $BENCH_PAUSE is deleted"
    while [ -e "$BENCH_PAUSE" ]; do sleep 1; done
}

row=0
for name in baseread read_warm read_anon member_eq member_of prefix_all decision over_read \
            over_after_write over_member_eq over_member_of over_compare nest_read nest_member_eq \
            read_after_write bind_outsider write_member_keep write_member_drop bind_member user_read; do
    pause_at "$name"
    if [ $((row % 2)) = 0 ]; then sets="dynlist static,dmg"; else sets="static,dmg dynlist"; fi
    for set in $sets; do
        fs=$(echo "$set" | tr , ' ') HS=""
        for f in $fs; do HS="$HS -H $(uri "$f")"; done
        "row_$name" "$fs"
    done
    row=$((row + 1))
done

# lastbind really writes: how many of the members bound before the reads have pwdLastSuccess
LASTBIND=$(ldapsearch -x -LLL -o ldif-wrap=no -H "$(uri dmg)" -D "$ROOTDN" -w "$ROOTPW" -b "$SUFFIX" \
    "(&(pwdLastSuccess=*)(!(uid=mta)))" 1.1 2>/dev/null | grep -c '^dn:' || true)

# The dmg variants against the same queries on static and dynlist (measured again, so that
# each ratio compares samples taken close together: dynlist on its own, static and the variant
# in turn).  The variants' servers have answered nothing yet while the others have served every
# row: three untimed reads each (warm = not the first reads of a fresh process, whose memory is
# not yet in the CPU's caches and TLB).  variant_row WORKLOAD VARIANT client-args...
variant_row() {
    wl=$1 v=$2
    shift 2
    run_client "$wl" dynlist search -H "$(uri dynlist)" -u 1 "$@"
    if served "$v"; then
        run_targets "$wl:static $wl:dmg" search -H "$(uri static)" -H "$(uri "$v")" -u 3 "$@"
    else
        run_client "$wl" static search -H "$(uri static)" -u 1 "$@"
        na "$wl" dmg unsupported
    fi
}
variant_row user_read_vis dmgvis -D "$MEMBER_DN" -w secret -n "$REPS" -c member \
    "$BIG_DN" base "(objectClass=*)" member
variant_row def_read_warm dmgdef -D "$MTA_DN" -w "$MTA_PW" -n "$REPS" -c member \
    "$BIG_DN" base "(objectClass=*)" member

# run_load WORKLOAD METRIC client-load-args...: 8 readers of random groups for LOAD_S seconds
# on each server, LOAD_ROUNDS times, the servers' order rotating (as for the adds): what a
# load gets depends on whatever else the machine does meanwhile, and one load per server
# compared three moments as much as three servers.  A server's result is its round with the
# median METRIC (reads_per_s or p99_ms), the others' figures listed with it (rounds=).  The
# ratio compared with the target pairs the servers' loads of the same round (run one after
# the other): dmg/static of each round, then their median (WORKLOAD_paired): the speed of a
# virtual machine drifts by a third over minutes, more than the servers differ.
run_load() {
    wl=$1 met=$2
    shift 2
    : >"$work/load-$wl.txt"
    round=0
    while [ $round -lt "$LOAD_ROUNDS" ]; do
        for f in $(flavour_order "$round"); do
            out=$(timeout $((LOAD_S + TIMEOUT + 60)) "$client" load -H "$(uri "$f")" \
                -D "$MTA_DN" -w "$MTA_PW" -t "$TIMEOUT" -P 8 -d "$LOAD_S" "$@" \
                "$work/groups-list.txt" 2>>"$work/client.err") || true
            [ -n "$out" ] || out="status=error n=0 error='load ended without a result'"
            printf '%s\t%s\n' "$f" "$out" >>"$work/load-$wl.txt"
            log "$wl [$f] round $((round + 1)): $out"
            settle "$f"
        done
        round=$((round + 1))
    done
    for f in dynlist static dmg; do
        printf '%s\t%s\t%s\n' "$wl" "$f" "$(median_round "$f" "$met" "$work/load-$wl.txt")" \
            >>"$results"
    done
    printf '%s_paired\tdmg\t%s\n' "$wl" "$(paired_ratio "$met" "$work/load-$wl.txt")" >>"$results"
}

# paired_ratio METRIC FILE: dmg's METRIC over static's in each round of FILE (a round is one
# line per flavour, flavour_order's three), their median (ratio=) and each round's (ratios=)
paired_ratio() {
    awk -F'\t' -v met="$1" "$AWK_KV"'
        { r = int((NR - 1) / 3); nr = r + 1 }
        $1 != "static" && $1 != "dmg" { next }
        kv($2, "status") != "ok" { bad = 1; next }
        { v[r, $1] = kv($2, met) + 0 }
        END {
            for (i = 0; i < nr && !bad; i++) {
                if (!((i, "dmg") in v) || v[i, "static"] <= 0) { bad = 1; break }
                x[++n] = v[i, "dmg"] / v[i, "static"]
                l = l (n > 1 ? "," : "") sprintf("%.2f", x[n])
            }
            if (bad || n == 0) { print "status=error"; exit }
            for (i = 2; i <= n; i++) { y = x[i]; for (j = i - 1; j >= 1 && x[j] > y; j--) x[j + 1] = x[j]; x[j + 1] = y }
            printf "status=ok ratio=%.4f ratios=%s\n", n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2, l
        }' "$2"
}

# median_round FLAVOUR METRIC FILE: the line of FILE (flavour TAB result) whose METRIC is the
# median of FLAVOUR's rounds, with rounds=<every round's figure>; the first failed round's
# line when any failed (a failure is a result)
median_round() {
    awk -F'\t' -v f="$1" -v met="$2" "$AWK_KV"'
        $1 != f { next }
        kv($2, "status") != "ok" { if (bad == "") bad = $2; next }
        { n++; v[n] = kv($2, met) + 0; l[n] = $2 }
        END {
            if (bad != "" || n == 0) { print (bad != "" ? bad : "status=error n=0"); exit }
            for (i = 1; i <= n; i++) o[i] = i
            for (i = 2; i <= n; i++) {
                x = o[i]
                for (j = i - 1; j >= 1 && v[o[j]] > v[x]; j--) o[j + 1] = o[j]
                o[j + 1] = x
            }
            r = ""; for (i = 1; i <= n; i++) r = r (i > 1 ? "," : "") v[i]
            print l[o[int((n + 1) / 2)]] " rounds=" r
        }' "$3"
}

# Concurrency: every group warm again first (the writes above dropped some dmg lists), then
# 8 readers of random groups; then the same 8 with one writer at 50 modifies a second.
# rewarm FLAVOUR: every group read once more (untimed), then that slapd settles
rewarm() {
    timeout $((4 * TIMEOUT + 60)) "$client" readall -H "$(uri "$1")" -D "$MTA_DN" -w "$MTA_PW" \
        -t "$TIMEOUT" "$GROUPS_BASE" "$work/rewarm-$1.txt" >/dev/null 2>>"$work/client.err" || true
    settle "$1"
}
cut -f1 "$work/members-static.txt" >"$work/groups-list.txt"
for f in $FLAVOURS; do rewarm "$f"; done
pause_at loads
run_load conc reads_per_s
run_load mixed p99_ms -r 50 -W "$ROOTDN" -X "$ROOTPW" -M "$work/data/employees.txt"

# Adds: first the three servers restarted with their databases' pages dropped from the page cache,
# static and dmg reading every group again (dmg's lists cached again, for the adds to update
# in place; dynlist keeps no lists).  What the run left in the page cache differs from one
# database to the other, and slapd's 4 KiB page writes cost the kernel in proportion to the
# size of the cached page they land in: at 1,000,000 employees, at the end of a run, 200 adds
# and deletes had the kernel account 47 GB of written pages to dmg's database whether its
# slapd ran the overlay or not (31-41 GB to static's), 0.1-0.3 GB after the restart.
# restart_fresh FLAVOUR
restart_fresh() {
    pid=$(pidof_flavour "$1")
    port=$(uri "$1" | sed 's|.*:\([0-9]*\)/$|\1|')
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$pid" 2>/dev/null; then
        log "restart $1: slapd still running 60 s after SIGTERM; killed"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    # POSIX_FADV_DONTNEED over the whole file (nobody maps it now)
    dd if="$work/$1/db/data.mdb" iflag=nocache count=0 status=none ||
        log "restart $1: its database's pages could not be dropped (the adds measure them as cached)"
    start_slapd "$1" "$port"
}
for f in $FLAVOURS; do
    eval "RSS2_$f=$(proc_kb "$(pidof_flavour "$f")" VmRSS)"
    restart_fresh "$f"
    [ "$f" = dynlist ] || rewarm "$f"
done

# One sample per flavour in turn (the order rotating), so that the disk's flush times, which
# dominate a synchronous add and vary with whatever else the machine does, hit all three
# alike.  Each sample adds ADD_COUNT employees and deletes them again (untimed).
pause_at adds
: >"$work/add.txt"
t=$(now)
rep=0
while [ $rep -lt "$REPS" ]; do
    for f in $(flavour_order "$rep"); do
        out=$(timeout $((TIMEOUT + 60)) "$client" add -t "$TIMEOUT" -n 1 -H "$(uri "$f")" \
            -W "$ROOTDN" -X "$ROOTPW" "$work/data/teams.txt" "$ADD_COUNT" example.com \
            2>>"$work/client.err") || true
        printf '%s\t%s\n' "$f" "${out:-status=error}" >>"$work/add.txt"
        log "add [$f] sample $((rep + 1)): $out"
        settle "$f"
    done
    rep=$((rep + 1))
    # the same budget as any workload, for the three flavours together
    awk -v a="$t" -v b="$(now)" -v m="$((3 * BUDGET))" 'BEGIN { exit !(b - a > m) }' && break
done
for f in $FLAVOURS; do
    line=$(awk -F'\t' -v f="$f" -v count="$ADD_COUNT" -v to="$TIMEOUT" "$AWK_KV"'
        $1 == f {
            st = kv($2, "status")
            if (st == "ok") v[++n] = kv($2, "min_ms") + 0
            else if (bad == "") bad = st
        }
        END {
            if (bad != "") { printf "status=%s n=%d entries=0 values=0 timeout_s=%s\n", bad, n, to; exit }
            for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
            med = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") sprintf("%.1f", v[i])
            printf "status=ok n=%d min_ms=%.3f median_ms=%.3f max_ms=%.3f samples_ms=%s entries=%d values=0 timeout_s=%s\n",
                n, v[1], med, v[n], s, count, to
        }' "$work/add.txt")
    printf 'add\t%s\t%s\n' "$f" "$line" >>"$results"
    log "add [$f]: $line"
    eval "RSS3_$f=$(proc_kb "$(pidof_flavour "$f")" VmRSS)"
done

# ---- 3. the table ----------------------------------------------------------------------------------------

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
table=$work/table.md
{
    echo "Size: $EMPLOYEES employees (${DIVISIONS} divisions x ${DEPARTMENTS} departments x ${TEAMS} teams x ${PER_TEAM}), $NGROUPS groups ($GROUP_MIX), $TOTAL_MEMBERS member values in all; the 10k group has $BIG_SIZE members; \`g000*\` matches $PREFIX_GROUPS groups ($PREFIX_MIX) with $PREFIX_MEMBERS members. Samples per cell: up to $REPS (n below when fewer), timeout ${TIMEOUT} s per query."
    echo
    awk -F'\t' -v timeout="$TIMEOUT" -v big="$BIG_SIZE" -v addn="$ADD_COUNT" -v reps="$REPS" \
        -v over="$OVER_SIZE members: $OVER_INCLUDES includes, $OVER_EXCLUDES excludes" \
        -v nest="$NEST_SIZE members: includes $NEST_PARTS" "$AWK_KV"'
    function fmt(ms) {
        ms = ms + 0
        if (ms >= 1000) return sprintf("%.2f s", ms / 1000)
        if (ms >= 100) return sprintf("%.0f ms", ms)
        if (ms >= 10) return sprintf("%.1f ms", ms)
        if (ms >= 1) return sprintf("%.2f ms", ms)
        return sprintf("%.3f ms", ms)
    }
    function naw(s,    r) {
        r = kv(s, "reason")
        return r == "unsupported" ? "n/a (not supported by this module)" : \
            r == "no-outsider" ? "n/a (one division: no employee outside the group)" : "n/a"
    }
    # the figure a cell compares: the median latency, or (MET) reads_per_s or p99_ms
    function fig(i, s) { return kv(s, MET[i] == "" ? "median_ms" : MET[i]) + 0 }
    function cell(i, f,    w, s, st, n, c) {
        w = W[i]
        if (!((w, f) in line)) return "—"
        s = line[w, f]; st = kv(s, "status"); n = kv(s, "n")
        if (st == "na") return naw(s)
        if (st == "timeout") return ">" timeout " s"
        if (st != "ok") return "error"
        if (MET[i] == "reads_per_s") return sprintf("%.0f reads/s", fig(i, s))
        if (MET[i] == "p99_ms") return fmt(kv(s, "median_ms")) " / " fmt(kv(s, "p99_ms")) \
            sprintf(" (%.0f w/s)", kv(s, "writes_per_s"))
        c = fmt(kv(s, "min_ms")) " / " fmt(kv(s, "median_ms"))
        if (n + 0 < reps) c = c " (n=" n ")"
        return c
    }
    function med(i, w, f,    s) {
        if (!((w, f) in line)) return -1
        s = line[w, f]
        if (kv(s, "status") == "timeout") return -2
        if (kv(s, "status") != "ok") return -1
        return fig(i, s)
    }
    function ratio(a, b) {
        if (a == -1 || b == -1) return "—"
        if (b == -2 && a >= 0) return "<" sprintf("%.3g", a / (timeout * 1000)) "×"
        if (a < 0 || b <= 0) return "—"
        return a / b < 0.1 ? sprintf("%.2g×", a / b) : sprintf("%.2f×", a / b)
    }
    # HIB: higher is better (throughput), the target is a floor
    function verdict(i, a, b, lim,    r, ok) {
        if (a == -1 || b == -1) return "n/a"
        if (a == -2) return "**missed** (timeout)"
        if (b == -2) return "met (reference timed out)"
        if (b <= 0) return "n/a"
        r = a / b
        ok = HIB[i] ? r >= lim : r <= lim
        return (ok ? "met" : "**missed**") sprintf(" (%.2f×)", r)
    }
    function result(w,    s, f, e, v, t) {
        t = ""
        for (f in fl) {
            if (!((w, fl[f]) in line)) continue
            s = line[w, fl[f]]
            if (kv(s, "status") != "ok") continue
            e = kv(s, "entries"); v = kv(s, "values")
            if (t == "") t = e "/" v
            else if (t != e "/" v) return "**differ**: " result_all(w)
        }
        return t == "" ? "—" : t
    }
    function result_all(w,    s, f, t) {
        t = ""
        for (f = 1; f <= 3; f++) {
            if (!((w, fl[f]) in line)) continue
            s = line[w, fl[f]]
            t = t (t == "" ? "" : ", ") fl[f] " " kv(s, "entries") "/" kv(s, "values")
        }
        return t
    }
    # row(workload, label, target text, reference workload, reference flavour, limit[, metric])
    # EACH[i]: the results differ by design (loads: reads done; the static list does not
    # follow a title change): shown for each flavour, not compared
    function row(w, l, t, rw, rf, lim, met) {
        W[++nw] = w; L[nw] = l; T[nw] = t; RW[nw] = rw; RF[nw] = rf; LIM[nw] = lim
        MET[nw] = met; HIB[nw] = met == "reads_per_s"; EACH[nw] = met != ""
    }
    BEGIN {
        fl[1] = "static"; fl[2] = "dynlist"; fl[3] = "dmg"
        nw = 0
        row("read_warm", "read `member` of the " big "-member group, warm (MTA identity, cached)", \
            "≤1.5× static", "static", "static", 1.5)
        row("read_after_write", "same, right after a write to an employee outside the group (description)", \
            "≤1.5× static", "static", "static", 1.5)
        row("write_member_keep", "same, right after a write to a member that keeps it (title Manager / back)", \
            "≤2× static", "static", "static", 2)
        row("write_member_drop", "same, right after a write that drops a member and one that puts it back (title Intern / back)", \
            "≤2× static", "static", "static", 2)
        EACH[nw] = 1
        row("bind_outsider", "same, right after a bind of an employee outside the group (`lastbind on`)", \
            "≤2× static", "static", "static", 2)
        row("bind_member", "same, right after a bind of a member (`lastbind on`)", \
            "≤2× static", "static", "static", 2)
        row("read_anon", "same, anonymous, warm", "≤5× static", "static", "static", 5)
        row("user_read", "same, ordinary user (a member binds), default visibility", \
            "≤5× static", "static", "static", 5)
        row("user_read_vis", "same, ordinary user, `dynmailgroup-member-visibility group`", \
            "≤1.5× static", "static", "static", 1.5)
        row("def_read_warm", "same, MTA, configuration of a new installation (no cache directive), warm", \
            "≤1.5× static", "static", "static", 1.5)
        row("member_eq", "`(member=U)` from the suffix, attrs cn mail", "≤3× static", "static", "static", 3)
        row("member_of", "memberOf of one employee (dynlist `memberOf`, dmg `dmgMemberOf`)", \
            "≤1× dynlist", "member_of", "dynlist", 1)
        row("prefix_all", "`(|(cn=g000*)(mail=g000*))` from the suffix, all attributes", \
            "≤2× static", "static", "static", 2)
        row("over_read", "overrides group (" over "): read `member` (MTA, cached)", \
            "≤1.5× static", "static", "static", 1.5)
        row("over_after_write", "overrides group: read right after a write outside every department (description of the MTA account)", \
            "≤1.5× static", "static", "static", 1.5)
        row("over_member_eq", "overrides group: `(member=U)` from the suffix, U included", \
            "about static (≤1.5×)", "static", "static", 1.5)
        row("over_member_of", "overrides group: memberOf of U (dynlist `memberOf`, dmg `dmgMemberOf`)", \
            "≤1× dynlist", "over_member_of", "dynlist", 1)
        row("over_compare", "overrides group: compare `member` U", \
            "about static (≤1.5×)", "static", "static", 1.5)
        row("nest_read", "nested group (" nest "): read `member` (MTA, cached)", \
            "≤1.5× static", "static", "static", 1.5)
        row("nest_member_eq", "nested group: `(member=U)` from the suffix, U in an included group", \
            "about static (≤1.5×)", "static", "static", 1.5)
        row("conc", "8 concurrent readers of random groups (MTA): throughput (each server: its median round; ratio: the median of the dmg/static ratios of the rounds)", \
            "≥0.9× static", "static", "static", 0.9, "reads_per_s")
        row("mixed", "8 readers + 1 writer at 50 modifies/s: read p50 / p99 (p99 compared, as for throughput)", \
            "≤2× static", "static", "static", 2, "p99_ms")
        row("baseread", "base read of the " big "-member group without member (cn mail)", \
            "(reference)", "", "", 0)
        row("decision", "decision, policy members, " big "-member group: base read with `(dmgSender=member)` (dmg only; its reference: the base read without member, sampled in turn with it)", \
            "≤3× dmg base read", "decision_ref", "dmg", 3)
        row("add", "add " addn " employees (one synchronous add each; static = no overlay)", \
            "≤1.2× static", "static", "static", 1.2)
    }
    { line[$1, $2] = $3 }
    END {
        print "| workload | static min / median | dynlist min / median | dmg min / median | dmg/static | dmg/dynlist | target | entries/values |"
        print "|---|---|---|---|---|---|---|---|"
        for (i = 1; i <= nw; i++) {
            w = W[i]
            ds = med(i, w, "dmg")
            v = "n/a"
            if (RF[i] != "") v = verdict(i, ds, med(i, RW[i] == "static" ? w : RW[i], RF[i]), LIM[i])
            rs = ratio(ds, med(i, w, "static"))
            if (MET[i] != "" && (w "_paired", "dmg") in line) {
                # loads: the median of the dmg/static ratios of the rounds (run_load)
                p = line[w "_paired", "dmg"]
                rs = kv(p, "status") == "ok" ? sprintf("%.2f× (rounds %s)", kv(p, "ratio"), kv(p, "ratios")) : "—"
                if (kv(p, "status") == "ok") v = verdict(i, kv(p, "ratio") + 0, 1, LIM[i])
            }
            printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", L[i], cell(i, "static"),
                cell(i, "dynlist"), cell(i, "dmg"), rs,
                ratio(ds, med(i, w, "dynlist")), T[i] (RF[i] == "" ? "" : ": " v),
                EACH[i] ? result_all(w) : result(w)
        }
    }' "$results"
    echo
    echo "Memory and size (KiB; RSS from /proc/PID/status; database = du of the mdb directory after slapadd):"
    echo
    echo "| | static | dynlist | dmg |"
    echo "|---|---|---|---|"
    printf '| database on disk | %s | %s | %s |\n' "$DBKB_static" "$DBKB_dynlist" "$DBKB_dmg"
    printf '| slapadd time (s) | %s | %s | %s |\n' "$LOAD_static" "$LOAD_dynlist" "$LOAD_dmg"
    printf '| VmRSS at start | %s | %s | %s |\n' "$RSS0_static" "$RSS0_dynlist" "$RSS0_dmg"
    printf '| VmRSS after reading every group | %s | %s | %s |\n' "$RSS1_static" "$RSS1_dynlist" "$RSS1_dmg"
    printf '| RssAnon at start | %s | %s | %s |\n' "$ANON0_static" "$ANON0_dynlist" "$ANON0_dmg"
    printf '| RssAnon after reading every group | %s | %s | %s |\n' "$ANON1_static" "$ANON1_dynlist" "$ANON1_dmg"
    printf '| VmRSS after the workloads (before the restart for the adds) | %s | %s | %s |\n' "$RSS2_static" "$RSS2_dynlist" "$RSS2_dmg"
    printf '| VmRSS at the end of the run (restarted, every group read, the adds) | %s | %s | %s |\n' "$RSS3_static" "$RSS3_dynlist" "$RSS3_dmg"
    awk -F'\t' 'function f(ms) {
        if (ms == "timeout" || ms == "") return ms == "" ? "error" : "timeout"
        ms = ms + 0
        return ms >= 1000 ? sprintf("%.2f s", ms / 1000) : sprintf("%.1f ms", ms)
    }
    $1 == "readall" {
        n = split($3, a, " "); ms = ""
        for (i = 1; i <= n; i++) if (a[i] ~ /^median_ms=/) ms = substr(a[i], 11)
        if ($3 ~ /^status=timeout/) ms = "timeout"
        t[$2] = ms
    } END {
        printf "| reading every group (one base read each) | %s | %s | %s |\n", f(t["static"]), f(t["dynlist"]), f(t["dmg"])
    }' "$results"
    echo
    cache_kb=$((ANON1_dmg - ANON0_dmg))
    awk -v c="$cache_kb" -v s="$DBKB_static" -v st="$((ANON1_static - ANON0_static))" 'BEGIN {
        printf "Full cache (dmg RssAnon growth while reading every group: %d KiB; the same pass grows static by %d KiB) vs static database (%d KiB): %.2f× — target ≤2×: %s.\n",
            c, st, s, (s > 0 ? c / s : 0), (s > 0 && c <= 2 * s ? "met" : "**missed**")
    }'
    echo "Cache bound: \`dynmailgroup-cache-max-values $CACHE_MAX\`; every group read holds $TOTAL_MEMBERS member DNs + $TOTAL_MEMBERS mail values = $((2 * TOTAL_MEMBERS)) values."
    awk -v e="${CACHE_ENTRIES:-0}" -v v="${CACHE_VALUES:-0}" -v b="${CACHE_BYTES:-0}" \
        -v rss="$((ANON1_dmg - ANON0_dmg))" 'BEGIN {
        printf "Cache after reading every group (cn=monitor): %d lists, %d values, %d bytes of lists = %.0f bytes per value; dmg RssAnon growth %.0f bytes per value.\n",
            e, v, b, (v > 0 ? b / v : 0), (v > 0 ? rss * 1024 / v : 0)
    }'
    echo "Member sets of the three flavours (every group read from each server): $verify$unverified."
    echo "lastbind: employees with pwdLastSuccess on the dmg server after the bind rows: ${LASTBIND:-0} (each bind before a read names another employee: slapd writes pwdLastSuccess at most once a second per entry)."

    echo "dmg variants started: $(echo "$SERVERS" | sed 's/static dynlist dmg//; s/^ *//; s/^$/none/')."

    echo "Load average (1/5/15 min) when the workloads started: $LOAD_START; when they ended: $LOAD_END ($(nproc) CPUs)."
} >"$table"

echo
echo "# slapo-dynmailgroup benchmark, $(date -u +%Y-%m-%d) ($SIZE_NAME size): $CMDLINE"
echo
cat "$table"
if [ -n "$OUTPUT" ]; then
    cp "$table" "$OUTPUT"
    cp "$results" "$OUTPUT.raw"
fi
[ "$verify" = identical ] || exit 1
