#!/bin/sh
# Build the Debian package slapd-dynmailgroup_VERSION_ARCH.deb (Debian 12, as root, from
# anywhere):
#
#   sh scripts/build-deb.sh        prints the path of the .deb (in _build-deb/)
#
# Installs the build dependencies of debian/control (apt-get build-dep; slapd, when it is not
# installed yet, unconfigured), prepares the headers of the installed slapd (the one-time step
# scripts/slapd-headers.sh), builds with `dpkg-buildpackage -b -us -uc` in a copy of the tree
# (_build-deb/slapo-dynmailgroup: nothing is written next to the repository), and runs lintian
# on the result (tags that remain are explained in debian/README.source). The package depends
# on exactly the slapd version it was built against; rebuild it after a slapd upgrade.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/_build-deb"
src="$out/slapo-dynmailgroup"
log() { echo "build-deb: $*" >&2; }
export DEBIAN_FRONTEND=noninteractive

# --- the tree to build: the repository's files as they are (in a git checkout: those git
# tracks or would track, not what it ignores, such as build directories)
rm -rf "$out"
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        xargs -0 tar --ignore-failed-read -cf -) | tar -C "$src" -xf -
else
    tar -C "$top" --exclude=./.git --exclude='./_build*' -cf - . | tar -C "$src" -xf -
fi

# --- build dependencies, the slapd headers, lintian
if ! dpkg-query -W -f='${Status}' slapd 2>/dev/null | grep -q "ok installed"; then
    # only to build against: no directory is configured or started
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
fi
log "installing the build dependencies (debian/control) and lintian, where missing"
apt-get update -q >&2 || true
missing=""
for p in dpkg-dev lintian; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# shellcheck disable=SC2086
[ -z "$missing" ] || apt-get install -y -q --no-install-recommends $missing >&2
(cd "$src" && apt-get build-dep -y -q --no-install-recommends ./) >&2
sh "$top/scripts/slapd-headers.sh" >/dev/null

# --- build
log "dpkg-buildpackage -b -us -uc in $src"
(cd "$src" && dpkg-buildpackage -b -us -uc) > "$out/build.log" 2>&1 || {
    tail -n 60 "$out/build.log" >&2
    log "the package build failed (full log: $out/build.log)"
    exit 1
}
deb=$(ls "$out"/slapd-dynmailgroup_*.deb)
log "built $deb (log: $out/build.log)"
dpkg-deb -f "$deb" Package Version Architecture Depends >&2

# --- lintian: errors fail the build; the remaining tags are explained in debian/README.source
log "lintian"
changes=$(ls "$out"/slapo-dynmailgroup_*.changes)
lintian --info --display-info --fail-on error "$changes" >&2
echo "$deb"
