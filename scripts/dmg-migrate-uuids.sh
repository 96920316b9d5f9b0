#!/bin/sh
# dmg-migrate-uuids.sh -- gives groups written before the overlay kept entryUUIDs (or loaded
# with slapadd) their UUID companions (dmgDepartmentUUID, dmgIncludeMemberUUID, ...).
#
# The overlay adds the UUIDs of every entry a group names to each write of the group; a group
# never written since the upgrade has none, and is read by its DN values (a rename is followed
# by rewriting them, as before).  This script makes that write: for each group that holds a
# reference without its companion, one modify replacing that attribute with the values it
# has, through the overlay, which adds the companions of all its references in the same
# write.  Nothing else changes; a group is written once (running the script again finds
# nothing to do, except groups whose references name no entry: they are listed, and keep
# being read by DN).
#
#   migrated GROUP                       the companions were added
#   not migrated GROUP: DIAGNOSTIC       the overlay refused the write (e.g. a value naming
#                                        no entry); fix the group and run the script again
#
# then a summary line.  Exit status: 0 every group migrated (or nothing to do), 1 some were
# refused, 2 the search failed.
#
# Usage: dmg-migrate-uuids.sh -b BASE [ldap options...]
#   e.g. dmg-migrate-uuids.sh -b dc=example,dc=com -H ldapi:/// -x \
#            -D cn=admin,dc=example,dc=com -y /root/ldap-admin.pw
# Every option but -b goes to ldapsearch and ldapmodify unchanged.  Bind as the rootdn (a
# postmaster may write only the groups it sees).  Run it on one provider: the writes
# replicate.
set -u

# dmgApplicant is not among them: a group created by the rootdn names an identity with no
# entry, which has no UUID
REFS="dmgDepartment dmgIncludeMember dmgExcludeMember dmgAdministrator dmgAuditor"

usage_options="ldap options"
# shellcheck source=scripts/dmg-script-args.sh
. "$(dirname "$0")/dmg-script-args.sh"

# As stored (ManageDsaIT): the DN values and their companions
uuids=""
for a in $REFS; do uuids="$uuids ${a}UUID"; done
# shellcheck disable=SC2086 # the attribute lists are meant to split
ldapsearch -LLL -o ldif-wrap=no -M "$@" -b "$base" "(objectClass=dynamicMailGroup)" \
    $REFS $uuids >"$tmp/groups" || {
    echo "dmg-migrate-uuids: the search for groups below \"$base\" failed" >&2
    exit 2
}

# One modify per group missing a companion: the first such attribute, replaced by its values
awk -v refs="$REFS" '
    function flush(   i, a) {
        if (dn == "") return
        for (i = 1; i <= nrefs; i++) {
            a = tolower(ref[i])
            if ((a in vals) && !((a "uuid") in vals)) {
                print dn "\nchangetype: modify\nreplace: " ref[i] "\n" vals[a] "-\n"
                break
            }
        }
        dn = ""
        split("", vals)
    }
    BEGIN { nrefs = split(refs, ref, " ") }
    /^dn::? / { flush(); dn = $0; next }
    /^$/ { flush(); next }
    {
        a = tolower($0); sub(/::? .*/, "", a)
        vals[a] = vals[a] $0 "\n"
    }
    END { flush() }
' "$tmp/groups" >"$tmp/changes"

if [ ! -s "$tmp/changes" ]; then
    echo "dmg-migrate-uuids: 0 groups migrated, 0 refused below $base"
    exit 0
fi
# -c: every group is tried; the result of each is in the verbose output
ldapmodify -c -v "$@" -f "$tmp/changes" >"$tmp/out" 2>&1
awk '
    function flush() {
        if (g == "") return
        if (err != "") print "not migrated " g ": " err (info != "" ? " (" info ")" : "")
        else print "migrated " g
        g = ""; err = ""; info = ""
    }
    /^modifying entry / { flush(); g = $0; sub(/^modifying entry "/, "", g); sub(/"$/, "", g); next }
    /^ldap_modify: / { err = $0; sub(/^ldap_modify: /, "", err); next }
    /additional info: / { info = $0; sub(/.*additional info: /, "", info); next }
    END { flush() }
' "$tmp/out" >"$tmp/report"
cat "$tmp/report"
done=$(grep -c '^migrated ' "$tmp/report")
refused=$(grep -c '^not migrated ' "$tmp/report")
echo "dmg-migrate-uuids: $done groups migrated, $refused refused below $base"
[ "$refused" -eq 0 ]
exit $?
