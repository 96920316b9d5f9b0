#!/bin/sh
# Install everything the build, the demo and the test suite need on Debian 12 (run as root).
# Idempotent: packages already present are left alone, apt-get update runs only when needed.
set -eu
export DEBIAN_FRONTEND=noninteractive

PACKAGES="build-essential autoconf automake libtool pkg-config check dpkg-dev
 slapd ldap-utils libldap-dev libgnutls28-dev libsasl2-dev libltdl-dev
 valgrind clang libclang-rt-14-dev groff-base"
# Postfix is a test peer (test_postfix, test_smtpd); the demo does without (DMG_NO_POSTFIX=1).
[ "${DMG_NO_POSTFIX:-}" = 1 ] || PACKAGES="$PACKAGES postfix postfix-ldap"
# test_smtpd's SMTP AUTH: Cyrus SASL with a sasldb (saslpasswd2, the PLAIN/LOGIN plugins)
PACKAGES="$PACKAGES sasl2-bin libsasl2-modules"
[ -n "${DMG_EXTRA_PACKAGES:-}" ] && PACKAGES="$PACKAGES $DMG_EXTRA_PACKAGES"

# Installing Postfix removes another installed mail transport agent (Exim, ...): not without
# being asked to (DMG_REPLACE_MTA=1).
check_mta() {
    case " $PACKAGES " in *" postfix "*) ;; *) return 0 ;; esac
    [ "${DMG_REPLACE_MTA:-}" != 1 ] || return 0
    other=$(dpkg-query -W -f='${db:Status-Status} ${Package} ${Provides}\n' 2>/dev/null |
        awk '$1 == "installed" && $2 != "postfix" && /mail-transport-agent/ { print $2 }')
    [ -n "$other" ] || return 0
    echo "install-deps: the test suite needs Postfix, and installing it would remove the mail" \
        "system installed here ($(echo $other)). Run the tests on another machine, or set" \
        "DMG_REPLACE_MTA=1 to let apt replace it." >&2
    exit 1
}

install_missing() {
    missing=""
    for p in $PACKAGES; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
            missing="$missing $p"
        fi
    done
    [ -n "$missing" ] || return 0
    echo "install-deps: installing$missing" >&2
    # slapd's postinst would otherwise ask questions; it also need not start a system slapd.
    echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
    # Postfix is only a test peer (postmap, smtpd): no mail system is configured or started.
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -q >&2 || true
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $missing >&2
}

check_mta
install_missing
# The one-time step for building the module: the configured source tree of the installed
# slapd (its headers), cached in /var/cache/dynmailgroup.
sh "$(dirname "$0")/slapd-headers.sh" >/dev/null
# test_exim's Exim: Debian's Exim packages conflict with postfix, so exim4-daemon-heavy is
# unpacked into /var/cache/dynmailgroup/exim, never installed (scripts/exim-private.sh).
if [ "${DMG_NO_EXIM:-}" != 1 ]; then
    sh "$(dirname "$0")/exim-private.sh" >/dev/null ||
        echo "install-deps: no private Exim (see above); test_exim will fail" >&2
fi
