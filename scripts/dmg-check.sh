#!/bin/sh
# dmg-check.sh -- read-only consistency check of a directory that runs slapo-dynmailgroup.
#
# Finds what the overlay prevents on one server but cannot prevent across several providers
# (two nodes accepting the same address at once, a group written on one node naming an entry
# another node has just renamed or deleted), and what a restore or slapadd may bring in:
#
#   duplicate address ADDR: DN; DN...            a mail value held by more than one entry
#   dangling ATTR in GROUP: DN                   a group's reference (dmgDepartment,
#                                                dmgIncludeMember, dmgExcludeMember,
#                                                dmgAdministrator, dmgAuditor, dmgApplicant)
#                                                naming an entry that no longer exists, as
#                                                the overlay reports it (dmgDanglingReference;
#                                                DN as stored, or the UUID)
#
# then a summary line.  Exit status: 0 nothing found, 1 something found, 2 a search failed.
#
# Usage: dmg-check.sh -b BASE [ldapsearch options...]
#   e.g. dmg-check.sh -b dc=example,dc=com -H ldap://ldap1/ -x -D cn=admin,dc=example,dc=com \
#            -y /root/ldap-admin.pw
# Every option but -b goes to each ldapsearch unchanged (-W would ask for the password at each
# of them: give it in a file with -y).  Bind as the rootdn or as the
# replication identity (in dynmailgroup-privileged, read access to everything, no limits).
# Addresses are read as stored (ManageDsaIT), dangling references as the overlay computes
# them; nothing is written.  Run it on every provider: each reports its own view.
set -u

usage_options="ldapsearch options"
# shellcheck source=scripts/dmg-script-args.sh
. "$(dirname "$0")/dmg-script-args.sh"

# "attr<TAB>value" per value (base64 values decoded), "dn<TAB>..." starting each entry.
search() {
    ldapsearch -LLL -o ldif-wrap=no "$@" >"$tmp/ldif" || return 2
    while IFS= read -r line; do
        case $line in
            *::\ *)
                printf '%s\t%s\n' "${line%%:: *}" "$(printf '%s' "${line#*:: }" | base64 -d)"
                ;;
            *:\ *) printf '%s\t%s\n' "${line%%: *}" "${line#*: }" ;;
        esac
    done <"$tmp/ldif"
}

# ---- duplicate addresses (as stored: ManageDsaIT); mail is case-insensitive --------------
search -M "$@" -b "$base" "(mail=*)" mail >"$tmp/mail" || {
    echo "dmg-check: the search for mail values below \"$base\" failed" >&2
    exit 2
}
awk -F '\t' '
    tolower($1) == "dn" { dn = $2; next }
    tolower($1) == "mail" { print tolower($2) "\t" dn }
' "$tmp/mail" | sort -u | awk -F '\t' '
    $1 != addr { if (n > 1) print "duplicate address " addr ": " dns; addr = $1; dns = $2; n = 1; next }
    { dns = dns "; " $2; n++ }
    END { if (n > 1) print "duplicate address " addr ": " dns }
' >"$tmp/duplicates"

# ---- dangling references: the server reports them (dmgDanglingReference, computed) ------------
# Read without ManageDsaIT: with it nothing is computed.
search "$@" -b "$base" "(dmgDanglingReference=*)" dmgDanglingReference >"$tmp/refs" || {
    echo "dmg-check: the search for dangling references below \"$base\" failed" >&2
    exit 2
}
awk -F '\t' '
    tolower($1) == "dn" { dn = $2; next }
    tolower($1) == "dmgdanglingreference" {
        attr = $2; sub(/ .*/, "", attr); ref = $2; sub(/^[^ ]* /, "", ref)
        print "dangling " attr " in " dn ": " ref
    }
' "$tmp/refs" >"$tmp/dangling"

cat "$tmp/duplicates" "$tmp/dangling"
dups=$(wc -l <"$tmp/duplicates")
dangling=$(wc -l <"$tmp/dangling")
echo "dmg-check: $((dups)) duplicate addresses, $((dangling)) dangling references below $base"
[ "$dups" -eq 0 ] && [ "$dangling" -eq 0 ]
exit $?
