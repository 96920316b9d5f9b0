/*
 * postfix.h -- a private Postfix instance for the tests that run mail through a real Postfix
 * (test_audit, test_smtpd): its own configuration, queue, command directory and mail log
 * under the test server's directory, started with "postfix -c", smtpd on a free loopback
 * port, the master stopped by the test or, after a failed test, by the parent process
 * (dmg_postfix_stop_leftovers).
 *
 * It needs root (postfix start; pipe and spawn run as user=) and Postfix installed: the calls
 * fail the test (Check) saying so.
 */
#ifndef DMG_POSTFIX_H
#define DMG_POSTFIX_H

#include <limits.h>
#include <stddef.h>

#define DMG_POSTFIX_HINT \
    "install Postfix (Debian: apt-get install postfix postfix-ldap; scripts/install-deps.sh)"

typedef struct dmg_postfix {
    char dir[PATH_MAX];     /* <server dir>/postfix-PID */
    char etc[PATH_MAX];     /* config_directory */
    char queue[PATH_MAX];   /* queue_directory */
    char bin[PATH_MAX];     /* command_directory (see dmg_postfix_init) */
    char maillog[PATH_MAX];
    int port;               /* smtpd's, on 127.0.0.1 */
    int started;
} dmg_postfix;

/* Creates the instance's directories under server_dir (postfix-PID/: etc, queue, bin) and
 * picks smtpd's port. The command directory holds Postfix's commands and a postdrop without
 * its set-group-ID bit, and maildrop/ and public/ let any user submit: so that sendmail run
 * by a pipe command (as nobody) can submit to this instance, which a set-group-ID postdrop
 * allows only for configuration directories listed in the machine's main.cf. */
void dmg_postfix_init(dmg_postfix *p, const char *server_dir);

/* Writes main.cf (the instance's directories, mx.example.com, loopback only, XCLIENT from
 * loopback, then main_extra) and master.cf (smtpd on port, Postfix's own services, then
 * master_extra), dated back so that Postfix takes them at once. */
void dmg_postfix_configure(const dmg_postfix *p, const char *main_extra,
                           const char *master_extra);

/* Copies dmg-policyd ($DMG_POLICYD, default $DMG_BUILDDIR/tools/dmg-policyd) into dir with
 * its password file (nobody's, mode 0600) and dmg-policyd.conf (uri, bind_dn, the password
 * file, then conf_extra); the master.cf line that spawns it as nobody into master_line. */
void dmg_postfix_policyd(const char *dir, const char *uri, const char *bind_dn,
                         const char *conf_extra, char *master_line, size_t size);

/* postfix start; returns once smtpd greets as this instance (not whoever took the port). */
void dmg_postfix_start(dmg_postfix *p);

/* postfix -c ETC what; its exit status, -1 when it could not be run. */
int dmg_postfix_cmd(const dmg_postfix *p, const char *what);

/* postfix stop, then the master gone (SIGKILL by its pid when it does not stop). No
 * assertions (the parent runs it too); 0 when "postfix stop" worked. */
int dmg_postfix_stop(dmg_postfix *p);

/* Check ends a failed or timed-out test with _exit or SIGKILL: neither atexit nor a checked
 * teardown runs, and the daemonized master would stay. So the parent, after the test case
 * (an unchecked teardown), stops every instance still running under server_dir. */
void dmg_postfix_stop_leftovers(const char *server_dir);

#endif
