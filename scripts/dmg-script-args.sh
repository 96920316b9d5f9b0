# shellcheck shell=sh
# dmg-script-args.sh -- sourced by dmg-check.sh and dmg-migrate-uuids.sh (not run itself):
# takes "-b BASE" out of the positional parameters into $base, leaves the other options (for
# ldapsearch / ldapmodify) in order, and makes the temporary directory $tmp, removed on exit.
# $usage_options names those options in the usage message.

base=""
n=$#
while [ "$n" -gt 0 ]; do
    if [ "$1" = "-b" ] && [ "$#" -ge 2 ] && [ "$n" -ge 2 ]; then
        base=$2
        shift 2
        n=$((n - 2))
        continue
    fi
    set -- "$@" "$1"
    shift
    n=$((n - 1))
done
if [ -z "$base" ]; then
    echo "usage: $0 -b BASE [${usage_options:?}...]" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$(basename "$0" .sh).XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
