#!/bin/sh
# Demo of slapo-dynmailgroup on a fresh Debian 12 machine (run as root from anywhere):
#
#   sh scripts/demo.sh          install dependencies, build, start a demo slapd on
#                               ldap://127.0.0.1:3890 with the example organisation and groups
#   sh scripts/demo.sh stop     stop the demo slapd (its files stay in the demo directory)
#   sh scripts/demo.sh clean    stop it and remove the demo directory
#
# The demo slapd uses Debian's cn=config layout (slapd.d) in /var/tmp/dynmailgroup-demo and
# loads the module straight from the build directory _build-demo; nothing is installed into the
# system slapd, which is left alone. Running the script again rebuilds the demo from scratch.
# Environment: DMG_DEMO_DIR, DMG_DEMO_PORT (3890) override the place and the port.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
demo=${DMG_DEMO_DIR:-/var/tmp/dynmailgroup-demo}
port=${DMG_DEMO_PORT:-3890}
build="$top/_build-demo"
base="dc=example,dc=com"
admin="cn=admin,$base"
uri="ldap://127.0.0.1:$port"
# ldapi URLs carry the socket path percent-encoded.
ldapi="ldapi://$(printf '%s' "$demo/ldapi" | sed -e 's/%/%25/g' -e 's,/,%2F,g' -e 's/ /%20/g')"
slapd=/usr/sbin/slapd
slapadd=/usr/sbin/slapadd
schemadir=/etc/ldap/schema

say() { printf '\n== %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------------------------------
# Stopping: TERM, then wait (bounded) for the process to go, KILL as a last resort.
# ------------------------------------------------------------------------------------------
stop_demo() {
    pidfile="$demo/slapd.pid"
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile" 2>/dev/null || true)
    case "$pid" in ''|*[!0-9]*) rm -f "$pidfile"; return 0 ;; esac
    # Only a slapd is ours to stop; a stale pidfile may name an unrelated process by now.
    if ! kill -0 "$pid" 2>/dev/null || ! grep -q slapd "/proc/$pid/cmdline" 2>/dev/null; then
        rm -f "$pidfile"
        return 0
    fi
    echo "demo: stopping slapd (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "demo: slapd did not stop within 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

case "${1:-start}" in
    stop) stop_demo; exit 0 ;;
    clean) stop_demo; rm -rf "$demo"; echo "demo: removed $demo"; exit 0 ;;
    start) ;;
    *) die "usage: sh scripts/demo.sh [start|stop|clean]" ;;
esac

# ------------------------------------------------------------------------------------------
# 1. Dependencies and build
# ------------------------------------------------------------------------------------------
say "Installing dependencies (scripts/install-deps.sh)"
if [ "$(id -u)" != 0 ]; then
    echo "demo: not root; this works only when every dependency is already installed" >&2
fi
DMG_NO_EXIM=1 DMG_NO_POSTFIX=1 sh "$top/scripts/install-deps.sh"

say "Building in $build"
cd "$top"
[ -x configure ] || autoreconf -fi
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" --quiet
make -j"$(nproc 2>/dev/null || echo 2)"
module="$build/.libs/dynmailgroup.so"
schema_ldif="$build/schema/dynmailgroup.ldif"
[ -f "$module" ] || die "the build did not produce $module"
[ -f "$schema_ldif" ] || make schema/dynmailgroup.ldif
[ -f "$schema_ldif" ] || die "the build did not produce $schema_ldif"

# ------------------------------------------------------------------------------------------
# 2. A fresh cn=config directory (Debian's layout) and the example organisation
# ------------------------------------------------------------------------------------------
say "Creating the demo directory $demo"
stop_demo
rm -rf "$demo"
mkdir -p "$demo/slapd.d" "$demo/db"
chmod 700 "$demo"

# Manage on cn=config for whoever runs the demo (root: the usual Debian administrator).
peer="gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth"

cat > "$demo/config.ldif" <<EOF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $demo/slapd.pid
olcArgsFile: $demo/slapd.args
olcLogLevel: none

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: {0}back_mdb
olcModuleLoad: {1}$module

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://$schemadir/core.ldif

include: file://$schemadir/cosine.ldif

include: file://$schemadir/inetorgperson.ldif

include: file://$schema_ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=$peer manage by * break

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $base
olcRootDN: $admin
olcRootPW: secret
olcDbDirectory: $demo/db
olcDbMaxSize: 1073741824
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: mail eq
olcDbIndex: cn eq
olcDbIndex: dmgDepartment,dmgIncludeMember,dmgExcludeMember,dmgAuditor,dmgAdministrator,dmgApplicant eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by * read

dn: olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcDynMailGroupConfig
olcOverlay: {0}dynmailgroup
olcDynMailGroupPostmaster: uid=postmaster,ou=System,$base
olcDynMailGroupPostmaster: cn=postmasters,ou=System,$base
olcDynMailGroupPrivileged: uid=mta,ou=System,$base
EOF

"$slapadd" -n0 -F "$demo/slapd.d" -l "$demo/config.ldif" \
    || die "slapadd of the configuration failed (see above)"
"$slapadd" -q -F "$demo/slapd.d" -b "$base" -l "$top/tests/fixtures/org.ldif" \
    || die "slapadd of tests/fixtures/org.ldif failed (see above)"

# ------------------------------------------------------------------------------------------
# 3. Start slapd (daemon mode) and wait, bounded, until it answers
# ------------------------------------------------------------------------------------------
say "Starting slapd on $uri and $ldapi"
"$slapd" -F "$demo/slapd.d" -h "$uri/ $ldapi/" \
    || die "slapd did not start; run it in the foreground to see why:
    $slapd -d any -F $demo/slapd.d -h '$uri/ $ldapi/'"
i=0
until ldapsearch -x -H "$uri" -s base -b "" "(objectClass=*)" 1.1 >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || die "slapd does not answer on $uri after 10 s (port $port taken?)"
    sleep 0.1
done

say "Adding the demo groups as $admin (tests/fixtures/demo-groups.ldif)"
ldapadd -x -H "$uri" -D "$admin" -w secret -f "$top/tests/fixtures/demo-groups.ldif" \
    || die "adding the demo groups failed"

# ------------------------------------------------------------------------------------------
# 4. Show what the groups compute, then how to ask for more
# ------------------------------------------------------------------------------------------
say "The demo groups as the rootdn sees them (hidden ones included)"
ldapsearch -x -LLL -o ldif-wrap=no -H "$uri" -D "$admin" -w secret \
    -b "ou=Groups,$base" "(objectClass=dynamicMailGroup)" \
    cn mail dmgShowInContacts dmgMemberCount member

mta="uid=mta,ou=System,$base"
cat <<EOF

== Try these (copy and paste)

# Members of a group (anonymous read is enough):
ldapsearch -x -LLL -H $uri -b cn=managers,ou=Groups,$base -s base member

# What an MTA asks: every address behind a group address, in one query:
ldapsearch -x -LLL -H $uri -D $mta -w secret -b $base '(mail=finance@example.com)' dmgMemberMail

# Which groups is Alice in? As a reverse filter, and as dmgMemberOf on her entry:
ldapsearch -x -LLL -H $uri -b ou=Groups,$base '(member=uid=alice,ou=Engineering,$base)' cn
ldapsearch -x -LLL -H $uri -b uid=alice,ou=Engineering,$base -s base dmgMemberOf

# May hans@example.com send to finance@? (members only + audit: hold for the auditor)
ldapsearch -x -LLL -o ldif-wrap=no -H $uri -D $mta -w secret -b $base \\
    '(&(mail=finance@example.com)(dmgSender=hans@example.com))' dmgDecision dmgDecisionReason dmgAuditorMail
# ... and someone outside the group (reject), a whitelisted partner (accept):
ldapsearch -x -LLL -o ldif-wrap=no -H $uri -D $mta -w secret -b $base \\
    '(&(mail=finance@example.com)(dmgSender=victor@example.com))' dmgDecision dmgDecisionReason
ldapsearch -x -LLL -o ldif-wrap=no -H $uri -D $mta -w secret -b $base \\
    '(&(mail=sales-partners@example.com)(dmgSender=anna@partner.example.net))' dmgDecision dmgDecisionReason

# The hidden group: invisible anonymously, visible to the MTA account:
ldapsearch -x -LLL -H $uri -b $base '(mail=escalation@example.com)' cn
ldapsearch -x -LLL -H $uri -D $mta -w secret -b $base '(mail=escalation@example.com)' cn member

# Membership follows the directory at once: move Hans to Sales and ask again.
ldapmodrdn -x -H $uri -D $admin -w secret -s ou=Sales,$base uid=hans,ou=Finance,$base uid=hans
ldapsearch -x -LLL -H $uri -b cn=finance,ou=Groups,$base -s base dmgMemberCount member

# The overlay's configuration (cn=config over ldapi as root):
ldapsearch -Y EXTERNAL -LLL -Q -H $ldapi/ -b 'olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config'

== Stop the demo:   sh scripts/demo.sh stop      (remove it: sh scripts/demo.sh clean)
EOF
