#!/bin/sh
# The one-time step before building the module from source: a configured OpenLDAP source tree
# matching the *installed* slapd, so that the overlay compiles against exactly the headers (and
# ABI-relevant options) of that slapd. Run it as root once, and again after slapd is upgraded:
#
#   sh scripts/slapd-headers.sh               (as root) prepare or find the tree; prints its
#                                             directory
#   sh scripts/slapd-headers.sh --find        only look for a prepared tree (no root, no
#                                             network, changes nothing); what configure runs
#
# The tree is kept in $DMG_CACHE/openldap-VERSION (default /var/cache/dynmailgroup; VERSION is
# the slapd package's source version) and reused when present. Preparing it installs, when
# missing, what unpacking and configuring OpenLDAP needs (dpkg-dev, a compiler, the TLS, SASL
# and libltdl headers), and fetches the `openldap` source package of exactly that version
# through a private apt configuration in $DMG_CACHE/apt-src with deb-src entries derived from
# the machine's own apt sources (scripts/openldap-common.sh): the machine's apt configuration
# is not changed, and no archive host name is written anywhere by this project. Nothing else
# outside $DMG_CACHE is written. Remove the cache with: rm -rf /var/cache/dynmailgroup
set -eu

# shellcheck source=scripts/openldap-common.sh
. "$(dirname "$0")/openldap-common.sh"
cache=$DMG_CACHE
log() { echo "slapd-headers: $*" >&2; }

find_only=0
case "${1:-}" in
    --find) find_only=1 ;;
    '') ;;
    *) log "usage: sh scripts/slapd-headers.sh [--find]"; exit 2 ;;
esac

if [ "$find_only" = 0 ]; then
    # Earlier versions of this script enabled deb-src entries in the machine's own apt sources;
    # the private configuration replaces them.
    for f in /etc/apt/sources.list.d/dynmailgroup-deb-src.list \
        /etc/apt/sources.list.d/dynmailgroup-deb-src.sources; do
        if [ -f "$f" ]; then
            log "removing $f (written by an earlier version; no longer needed)"
            rm -f "$f" || log "could not remove $f"
        fi
    done
fi

version=$(dpkg-query -W -f='${source:Version}' slapd 2>/dev/null || true)
if [ -z "$version" ]; then
    log "slapd is not installed (apt-get install slapd)"
    exit 1
fi
upstream=${version#*:}
upstream=${upstream%%+*}
upstream=${upstream%%-*}
tree="$cache/openldap-$version"
stamp="$tree/.dmg-configured"

if [ -f "$stamp" ]; then
    ls -d "$tree"/openldap-*/ | head -n 1 | sed 's,/$,,'
    exit 0
fi
if [ "$find_only" = 1 ]; then
    log "no configured OpenLDAP source tree for slapd $version in $cache;" \
        "prepare it once, as root: sh scripts/slapd-headers.sh"
    exit 1
fi

# What unpacking and configuring the source needs.
NEEDS="dpkg-dev build-essential libgnutls28-dev libsasl2-dev libltdl-dev"
missing=""
for p in $NEEDS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    log "installing$missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >&2
fi

mkdir -p "$tree"
cd "$tree"
if ! ls -d openldap-*/ >/dev/null 2>&1; then
    log "fetching the source index (private apt lists in $cache/apt-src)"
    dmg_private_deb_src "$cache/apt-src" || exit 1
    log "fetching source package openldap=$version"
    apt-get source -q "openldap=$version" >&2
fi
src=$(ls -d "$tree"/openldap-*/ | head -n 1 | sed 's,/$,,')
log "configuring $src (options that shape slapd's ABI as Debian builds it)"
cd "$src"
# shellcheck disable=SC2086
./configure -q $OPENLDAP_ABI_OPTIONS >&2
make -C include ldap_config.h >&2
echo "$upstream" > "$stamp"
echo "$src"
