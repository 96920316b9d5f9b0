#!/bin/sh
# Prepare a configured OpenLDAP source tree matching the *installed* slapd, so that the
# overlay compiles against exactly the headers (and ABI-relevant options) of that slapd.
#
#   scripts/slapd-source.sh            prints the directory of the configured tree
#
# The tree is cached in $DMG_CACHE (default /var/cache/dynmailgroup) and reused when present.
# The source package is fetched through a private apt configuration with deb-src entries derived
# from the machine's own apt sources (scripts/openldap-common.sh): the machine's apt
# configuration is not changed, and no archive host name is written anywhere by this project.
set -eu

# shellcheck source=scripts/openldap-common.sh
. "$(dirname "$0")/openldap-common.sh"
cache=$DMG_CACHE
log() { echo "slapd-source: $*" >&2; }

version=$(dpkg-query -W -f='${source:Version}' slapd 2>/dev/null || true)
if [ -z "$version" ]; then
    log "slapd is not installed (run scripts/install-deps.sh)"
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
