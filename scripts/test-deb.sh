#!/bin/sh
# End-to-end test of the Debian package, as a new administrator would use it: on a fresh
# Debian 12 machine, as root, from the root of this repository:
#
#   sh scripts/test-deb.sh
#
# 1. installs slapd configured the normal way (debconf: DNS domain example.com, administrator
#    password "secret"; an installed but unconfigured slapd is reconfigured so),
# 2. builds the package (scripts/build-deb.sh, lintian included) and installs it with apt-get:
#    its files, the system accounts dmg-policyd and dmg-audit and the spool /var/spool/dmg-audit,
# 3. runs the README's "Configuring slapd" commands literally (the ```sh blocks marked
#    <!-- test-deb: NAME --> in README.md; "-W" password prompts answered with -w secret):
#    schema, module, indexes, overlay; the MTA account; a department with a group, whose
#    member and dmgMemberMail values are checked,
# 4. checks that slapcat's dump holds no computed values,
# 5. runs the README's "Uninstalling" commands (overlay entry, olcModuleLoad, apt-get purge),
#    and checks that slapd starts and answers again and that the package left nothing behind.
#
# It changes the machine's slapd (its configuration and database are replaced): it refuses to
# run unless CI=true (as in CI and in a throwaway container) or DMG_TEST_DEB=1.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
export DEBIAN_FRONTEND=noninteractive
base="dc=example,dc=com"
admin="cn=admin,$base"
pw=secret
step=0

say() { step=$((step + 1)); printf '\n== test-deb %d: %s\n' "$step" "$*"; }
die() { printf 'test-deb: FAILED: %s\n' "$*" >&2; exit 1; }

if [ "${CI:-}" != true ] && [ "${DMG_TEST_DEB:-}" != 1 ]; then
    die "this reconfigures the machine's slapd (dc=example,dc=com, its data replaced); run it on
a throwaway machine or container with CI=true or DMG_TEST_DEB=1"
fi
[ "$(id -u)" = 0 ] || die "run it as root"

# The ```sh block after the line "<!-- test-deb: NAME -->" in README.md.
readme_block() {
    awk -v name="$1" '
        $0 == "<!-- test-deb: " name " -->" { want = 1; next }
        want == 1 && /^```sh$/ { want = 2; next }
        want == 2 && /^```$/ { exit }
        want == 2 { print }' "$top/README.md"
}

# Runs a README block with sh -eux (password prompts answered), failing the test if it fails.
run_readme() {
    block=$(readme_block "$1")
    [ -n "$block" ] || die "README.md has no block <!-- test-deb: $1 -->"
    printf '%s\n' "$block" | sed "s/ -W / -w $pw /; s/ -W\$/ -w $pw/" > "$work/$1.sh"
    echo "-- README.md, block '$1':"
    sed 's/^/   | /' "$work/$1.sh"
    sh -eux "$work/$1.sh" > "$work/$1.out" 2>&1 || { cat "$work/$1.out"; die "README block '$1' failed"; }
    cat "$work/$1.out"
}

slapd_answers() {
    i=0
    until ldapsearch -Y EXTERNAL -Q -H ldapi:/// -b cn=config -s base 1.1 >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -lt 100 ] || return 1
        sleep 0.2
    done
}

# slapd's postinst starts it through invoke-rc.d, which a container may not allow: start it
# with its init script then.
ensure_running() {
    slapd_answers && return 0
    service slapd start || true
    slapd_answers || die "slapd does not answer on ldapi:/// (service slapd start failed)"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ------------------------------------------------------------------------------------------
say "slapd configured the normal way (debconf: example.com, administrator password)"
debconf-set-selections <<EOF
slapd slapd/no_configuration boolean false
slapd slapd/domain string example.com
slapd shared/organization string Example
slapd slapd/password1 password $pw
slapd slapd/password2 password $pw
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
EOF
apt-get update -q
apt-get install -y -q --no-install-recommends slapd ldap-utils
if [ ! -f "/etc/ldap/slapd.d/cn=config/olcDatabase={1}mdb.ldif" ] ||
    ! grep -q "^olcSuffix: $base" "/etc/ldap/slapd.d/cn=config/olcDatabase={1}mdb.ldif"; then
    echo "slapd is not configured for $base: dpkg-reconfigure slapd"
    service slapd stop 2>/dev/null || true
    dpkg-reconfigure -f noninteractive slapd
fi
ensure_running
ldapsearch -x -LLL -H ldapi:/// -D "$admin" -w "$pw" -b "$base" -s base dn ||
    die "cannot bind as $admin"

# ------------------------------------------------------------------------------------------
say "build the package (scripts/build-deb.sh)"
deb=$(sh "$top/scripts/build-deb.sh")
[ -f "$deb" ] || die "scripts/build-deb.sh printed no package"
case $(basename "$deb") in
    slapd-dynmailgroup_*_amd64.deb) ;;
    *) die "unexpected package name $deb" ;;
esac
depends=$(dpkg-deb -f "$deb" Depends)
want="slapd (= $(dpkg-query -W -f='${Version}' slapd))"
case "$depends" in
    *"$want"*) echo "Depends: $depends" ;;
    *) die "Depends '$depends' lacks '$want'" ;;
esac

say "install it: apt-get install $deb"
apt-get install -y -q "$deb"
for f in /usr/lib/ldap/dynmailgroup.so /etc/ldap/schema/dynmailgroup.schema \
    /etc/ldap/schema/dynmailgroup.ldif /usr/bin/dmg-policyd \
    /usr/share/man/man5/slapo-dynmailgroup.5.gz /usr/share/man/man8/dmg-policyd.8.gz \
    /usr/share/doc/slapd-dynmailgroup/examples/dmg-policyd.conf.example \
    /usr/share/doc/slapd-dynmailgroup/examples/mta-account.ldif \
    /usr/share/doc/slapd-dynmailgroup/examples/example-group.ldif; do
    [ -f "$f" ] || die "the package did not install $f"
done
/usr/bin/dmg-policyd -h >/dev/null || die "dmg-policyd -h failed"
[ -x /usr/sbin/dmg-audit ] || die "the package did not install /usr/sbin/dmg-audit"
# the services' own system accounts (master.cf user=), and the review loop's spool
for account in dmg-policyd dmg-audit; do
    uid=$(getent passwd "$account" | cut -d: -f3) || die "postinst created no account $account"
    [ "$uid" -lt 1000 ] || die "$account is not a system account (uid $uid)"
    [ "$(id -gn "$account")" = "$account" ] || die "$account's group is not $account"
done
[ "$(stat -c '%U:%G %a' /var/spool/dmg-audit)" = "dmg-audit:dmg-audit 700" ] ||
    die "/var/spool/dmg-audit is not dmg-audit's, mode 700"
echo "accounts dmg-policyd and dmg-audit and the spool /var/spool/dmg-audit are there"

# ------------------------------------------------------------------------------------------
say "the README's cn=config steps"
run_readme config
run_readme mta
run_readme group
grep -q "^member: uid=alice,ou=Engineering,$base$" "$work/group.out" ||
    die "the group's member values lack alice"
grep -q "^member: uid=bob,ou=Engineering,$base$" "$work/group.out" ||
    die "the group's member values lack bob"
grep -q "^dmgMemberMail: alice@example.com$" "$work/group.out" ||
    die "the MTA's dmgMemberMail lacks alice@example.com"
grep -q "^dmgMemberMail: bob@example.com$" "$work/group.out" ||
    die "the MTA's dmgMemberMail lacks bob@example.com"
echo "the group's members and addresses are computed"

say "backup: slapcat holds no computed values"
slapcat -n1 -F /etc/ldap/slapd.d -l "$work/data.ldif"
grep -q "^dn: cn=engineering,ou=Groups,$base" "$work/data.ldif" || die "slapcat lacks the group"
if grep -Eiq '^(member|dmgMemberMail|dmgMemberCount|dmgMemberOf):' "$work/data.ldif"; then
    die "slapcat's dump holds computed values"
fi
echo "the dump has the group's rule and no computed value"

say "restart: slapd starts with the module and the overlay"
service slapd restart
ensure_running
n=$(ldapsearch -x -LLL -H ldapi:/// -b "cn=engineering,ou=Groups,$base" -s base member |
    grep -c '^member:' || true)
[ "$n" = 2 ] || die "after the restart the group has $n members, not 2"

# ------------------------------------------------------------------------------------------
say "the README's uninstall steps"
run_readme uninstall
ensure_running
ldapsearch -x -LLL -H ldapi:/// -D "$admin" -w "$pw" -b "$base" -s base dn >/dev/null ||
    die "slapd does not answer after the uninstall"
n=$(ldapsearch -x -LLL -H ldapi:/// -b "cn=engineering,ou=Groups,$base" -s base member |
    grep -c '^member:' || true)
[ "$n" = 0 ] || die "without the overlay the group still has $n members"
if grep -rqi dynmailgroup /etc/ldap/slapd.d/cn=config/cn=module*.ldif; then
    die "cn=config still loads the module"
fi
if dpkg-query -W -f='${Status}' slapd-dynmailgroup 2>/dev/null | grep -q installed; then
    die "slapd-dynmailgroup is still installed"
fi
for f in /usr/lib/ldap/dynmailgroup.so /etc/ldap/schema/dynmailgroup.schema \
    /etc/ldap/schema/dynmailgroup.ldif /usr/bin/dmg-policyd /usr/sbin/dmg-audit \
    /var/spool/dmg-audit /usr/share/doc/slapd-dynmailgroup; do
    [ ! -e "$f" ] || die "apt-get purge left $f behind"
done
service slapd restart
ensure_running
echo "slapd starts without the module; the package left nothing behind"

printf '\ntest-deb: passed (%d steps)\n' "$step"
