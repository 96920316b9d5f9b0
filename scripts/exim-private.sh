#!/bin/sh
# A private Exim for the tests (tests/integration/test_exim.c), beside Postfix.
#
#   scripts/exim-private.sh        prints the path of an exim4 binary with LDAP lookups
#
# Debian's Exim packages conflict with postfix (both provide mail-transport-agent), and the
# tests need postfix installed. So exim4-daemon-heavy (the Debian build with the ldap lookup)
# is never installed: its .deb is fetched with `apt-get download` and unpacked with
# `dpkg-deb -x` into $DMG_EXIM_CACHE (default /var/cache/dynmailgroup/exim), one directory per
# package version. What the binary needs from the system is added with apt-get (as root):
#   - the shared libraries of its Depends (plain lib* packages; none conflicts with postfix);
#     ldd must then find every library;
#   - the account exim was compiled to run as (EXIM_USER: Debian-exim), a system user and
#     group, as exim4-base's postinst creates it.
# exim4-base and exim4-config are not needed: the tests run `exim4 -C FILE` as root with a
# configuration of their own, and only the expansion (-be) and host-checking (-bh) modes, which
# use none of the files those packages carry.
#
# Without network the cached copy is used (the newest one, when the candidate version cannot
# be downloaded). Exit status 1, with the reason on standard error, when there is no usable
# binary. Idempotent; quiet on standard output except for the path.
set -eu

cache=${DMG_EXIM_CACHE:-/var/cache/dynmailgroup/exim}
pkg=exim4-daemon-heavy
log() { echo "exim-private: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, and exim -C is accepted from root only)"
command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
export DEBIAN_FRONTEND=noninteractive

first_deb() {
    for f in "$1/${pkg}"_*.deb; do
        if [ -f "$f" ]; then echo "$f"; return 0; fi
    done
}

candidate() {
    apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '^(none)$' || true
}

# --- the package version, and its unpacked tree -------------------------------------------
version=$(candidate)
if [ -z "$version" ]; then
    log "no candidate for $pkg in the apt lists; running apt-get update"
    apt-get update -q >&2 || true
    version=$(candidate)
fi

root=""
if [ -n "$version" ]; then
    # an epoch's ":" is kept out of the directory name
    dir="$cache/$(echo "$version" | tr ':' '_')"
    if [ ! -x "$dir/root/usr/sbin/exim4" ]; then
        mkdir -p "$dir/deb"
        # apt's download sandbox user must be able to write there, else apt warns
        if getent passwd _apt >/dev/null; then chown _apt "$dir/deb" 2>/dev/null || true; fi
        log "downloading $pkg=$version into $dir/deb"
        if (cd "$dir/deb" && apt-get download -q "$pkg=$version" >&2); then
            deb=$(first_deb "$dir/deb")
            rm -rf "$dir/root.tmp"
            dpkg-deb -x "$deb" "$dir/root.tmp"
            rm -rf "$dir/root"
            mv "$dir/root.tmp" "$dir/root"
        else
            log "cannot download $pkg=$version"
        fi
    fi
    if [ -x "$dir/root/usr/sbin/exim4" ]; then
        root="$dir/root"
    fi
fi
if [ -z "$root" ]; then
    # no network or no apt lists: the newest copy unpacked earlier, if any
    for d in $(ls -dt "$cache"/*/root 2>/dev/null || true); do
        if [ -x "$d/usr/sbin/exim4" ]; then root=$d; break; fi
    done
    [ -n "$root" ] && log "using the cached $root"
fi
[ -n "$root" ] ||
    die "no $pkg could be downloaded (network or apt sources?) and none is cached in $cache"
exim="$root/usr/sbin/exim4"

# --- shared libraries: the lib* packages of its Depends that are not installed ------------
missing_libs() {
    ldd "$exim" 2>/dev/null | sed -n 's/^[[:space:]]*\([^[:space:]]*\) => not found.*/\1/p'
}

if [ -n "$(missing_libs)" ]; then
    deb=$(first_deb "$root/../deb")
    [ -n "$deb" ] || die "$exim lacks $(missing_libs | tr '\n' ' ')and its .deb is gone"
    # "libfoo1 (>= 1.2), libbar2 | libbaz2" -> the first alternative of each lib* entry
    libs=""
    for p in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' \
               | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g' | grep '^lib'); do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
            libs="$libs $p"
        fi
    done
    [ -n "$libs" ] ||
        die "$exim lacks $(missing_libs | tr '\n' ' ')but every lib* dependency is installed"
    log "installing the libraries exim needs:$libs"
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $libs >&2 || {
        apt-get update -q >&2 || true
        # shellcheck disable=SC2086
        apt-get install -y -q --no-install-recommends $libs >&2
    }
    still=$(missing_libs | tr '\n' ' ')
    [ -z "$still" ] || die "$exim still lacks: $still"
fi

# --- the account exim was compiled for ----------------------------------------------------
user=$("$exim" -bV 2>&1 >/dev/null \
       | sed -n 's/^exim: failed to find uid for user name "\(.*\)"$/\1/p' || true)
if [ -n "$user" ]; then
    log "creating the system user $user that exim was compiled to run as"
    if ! getent group "$user" >/dev/null; then groupadd --system "$user"; fi
    useradd --system --gid "$user" --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin "$user"
fi

# --- it runs, and has the ldap lookup ------------------------------------------------------
bv=$("$exim" -C /dev/null -bV 2>&1) || die "$exim -bV failed: $bv"
echo "$bv" | grep -Eq '^Lookups.*[[:space:]]ldap([[:space:]]|$)' \
    || die "$exim has no ldap lookup: $(echo "$bv" | grep '^Lookups' || echo "$bv")"
echo "$exim"
