#!/bin/sh
# Prepare a configured OpenLDAP source tree matching the *installed* slapd, so that the
# overlay compiles against exactly the headers (and ABI-relevant options) of that slapd.
#
#   scripts/slapd-source.sh            prints the directory of the configured tree
#
# The tree is cached in $DMG_CACHE (default /var/cache/dynmailgroup) and reused when present.
# deb-src entries are derived from the machine's own apt sources (one-line sources.list entries
# or deb822 .sources files); no archive host name is written anywhere by this project.
set -eu

cache=${DMG_CACHE:-/var/cache/dynmailgroup}
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

# --- deb-src, derived from the existing deb entries ---------------------------------------
enable_deb_src() {
    out=/etc/apt/sources.list.d/dynmailgroup-deb-src
    have=0
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        case "$f" in "$out.list") continue ;; esac
        if grep -Eq '^[[:space:]]*deb-src[[:space:]]' "$f"; then have=1; fi
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        case "$f" in "$out.sources") continue ;; esac
        if grep -Eiq '^Types:.*deb-src' "$f"; then have=1; fi
    done
    if [ "$have" = 1 ] || [ -f "$out.list" ] || [ -f "$out.sources" ]; then
        return 0
    fi
    log "enabling deb-src entries derived from the existing apt sources"
    if [ -f /etc/apt/sources.list ]; then
        sed -n -E 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list > "$out.list.tmp"
        if [ -s "$out.list.tmp" ]; then mv "$out.list.tmp" "$out.list"; else rm -f "$out.list.tmp"; fi
    fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # Keep each stanza whose Types include "deb", rewritten to "deb-src".
        awk 'BEGIN { RS = ""; ORS = "\n\n" }
             /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ {
                 sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
            "$f" >> "$out.sources.tmp"
    done
    if [ -s "$out.sources.tmp" ]; then mv "$out.sources.tmp" "$out.sources"; else rm -f "$out.sources.tmp"; fi
    apt-get update -q >&2
}

enable_deb_src
mkdir -p "$tree"
cd "$tree"
if ! ls -d openldap-*/ >/dev/null 2>&1; then
    log "fetching source package openldap=$version"
    apt-get source -q "openldap=$version" >&2
fi
src=$(ls -d "$tree"/openldap-*/ | head -n 1 | sed 's,/$,,')
log "configuring $src (options that shape slapd's ABI as Debian builds it)"
cd "$src"
./configure -q --enable-modules --enable-slapi --enable-dynacl --enable-aci \
    --with-tls=gnutls --with-cyrus-sasl --with-threads >&2
make -C include ldap_config.h >&2
echo "$upstream" > "$stamp"
echo "$src"
