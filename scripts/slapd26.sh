#!/bin/sh
# Build OpenLDAP 2.6 (slapd, tools, modules, headers) from Debian 13's openldap source package
# into a private prefix, so the overlay can be built and tested against slapd 2.6 on a Debian 12
# machine:
#
#   scripts/slapd26.sh        prints the prefix (then: ./configure --with-openldap-prefix=PREFIX)
#
# The result is cached in $DMG_CACHE/openldap-VERSION (default /var/cache/dynmailgroup):
#   openldap-2.6.X+dfsg/   the unpacked, configured and built source tree (the headers)
#   prefix/                the install: libexec/slapd, sbin/slap*, libexec/openldap/*.la|.so,
#                          etc/openldap/schema; prefix/.dmg-source names the source tree
# and reused when present (prefix/.dmg-built, written last, holds the version and the options),
# without any network access.
#
# Where the source comes from: deb-src entries for Debian 13 ("trixie", $DMG_SLAPD26_SUITE)
# derived from the machine's own deb entries (same URIs, components, Signed-By and options; no
# archive host name is written anywhere by this project). They are used through a private apt
# configuration under the cache directory: the machine's apt sources and lists are not changed,
# and apt never sees a trixie binary-package entry, so nothing from trixie can be installed.
#
# Environment:
#   DMG_CACHE             cache directory                          (/var/cache/dynmailgroup)
#   DMG_SLAPD26_VERSION   openldap source version, e.g. 2.6.10+dfsg-1 (default: a build
#                         already cached, else the newest 2.6.x the suite offers)
#   DMG_SLAPD26_SUITE     Debian suite to take the source from     (trixie)
set -eu

# shellcheck source=scripts/openldap-common.sh
. "$(dirname "$0")/openldap-common.sh"
cache=$DMG_CACHE
suite=${DMG_SLAPD26_SUITE:-trixie}
want=${DMG_SLAPD26_VERSION:-}
log() { echo "slapd26: $*" >&2; }

# The build options: Debian's ABI-relevant ones (OPENLDAP_ABI_OPTIONS), back_mdb, back_ldap
# (a test points a department at a directory that does not answer) and every overlay as
# loadable modules as in Debian's slapd package (the harness and Debian's cn=config say
# "moduleload back_mdb"), except autoca, which needs OpenSSL.
CONFIGURE_OPTIONS="$OPENLDAP_ABI_OPTIONS
 --enable-backends=no --enable-mdb=mod --enable-ldap=mod --enable-overlays=mod --enable-autoca=no"
# .dmg-built holds the version and the options: a build made with other options is redone
BUILT_STAMP=$(printf '%s' "$CONFIGURE_OPTIONS" | tr -s ' \n' '  ')

built_prefix() { # VERSION -> prints the prefix when that version is built with these options
    p="$cache/openldap-$1/prefix"
    [ -f "$p/.dmg-built" ] && [ -x "$p/libexec/slapd" ] &&
        [ "$(sed -n 2p "$p/.dmg-built")" = "$BUILT_STAMP" ] && echo "$p"
}

# --- a cached build? ---------------------------------------------------------------------
if [ -n "$want" ]; then
    if built_prefix "$want"; then exit 0; fi
else
    for d in $(ls -d "$cache"/openldap-2.6.*/ 2>/dev/null | sed 's,/$,,' | sort -rV); do
        if built_prefix "${d##*/openldap-}"; then exit 0; fi
    done
fi

# --- private apt configuration with the derived deb-src entries ----------------------------
apt_dir="$cache/apt-$suite-src"
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -z "$codename" ]; then
    log "cannot tell this machine's Debian codename (VERSION_CODENAME in /etc/os-release)"
    exit 1
fi
log "fetching the $suite source index (private apt lists in $apt_dir)"
dmg_private_deb_src "$apt_dir" "$codename" "$suite" || exit 1

if [ -z "$want" ]; then
    want=$(apt-cache showsrc openldap 2>/dev/null | sed -n 's/^Version: *//p' | grep -E '^([0-9]+:)?2\.6\.' |
           sort -rV | head -n 1)
    if [ -z "$want" ]; then
        log "no openldap 2.6.x source package in $suite"
        exit 1
    fi
fi
if built_prefix "$want"; then exit 0; fi

# --- fetch, configure, build, install -------------------------------------------------------
tree="$cache/openldap-$want"
prefix="$tree/prefix"
rm -rf "$prefix"
rm -rf "$tree"/openldap-*/ # a previous attempt that did not finish: start from clean sources
mkdir -p "$tree"
cd "$tree"
log "fetching source package openldap=$want"
apt-get source -q "openldap=$want" >&2
src=$(ls -d "$tree"/openldap-*/ | head -n 1 | sed 's,/$,,')
buildlog="$tree/build.log"
log "building $src into $prefix (log: $buildlog)"
start=$(date +%s)
cd "$src"
# The +dfsg source lacks the RFC-derived schema files (core, cosine, inetorgperson...); Debian's
# stripped versions are in debian/schema and its rules copy them in before configuring.
cp debian/schema/*.schema debian/schema/*.ldif servers/slapd/schema/
# shellcheck disable=SC2086
if ! { ./configure --prefix="$prefix" $CONFIGURE_OPTIONS &&
       make depend && make -j"$(nproc 2>/dev/null || echo 2)" && make install; } > "$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    log "build failed (full log: $buildlog)"
    exit 1
fi
"$prefix/libexec/slapd" -VVV >&2 2>&1 || true
echo "$src" > "$prefix/.dmg-source"
printf '%s\n%s\n' "$want" "$BUILT_STAMP" > "$prefix/.dmg-built"
log "built in $(( $(date +%s) - start )) s"
echo "$prefix"
