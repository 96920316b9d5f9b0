/*
 * harness.h -- integration-test harness for slapo-dynmailgroup.
 *
 * Runs a real slapd (Debian's, or whatever DMG_SLAPD names) on a private temporary directory,
 * loopback port and ldapi socket, and offers small libldap helpers so a Check test reads like
 * the LDIF an administrator would type.
 *
 * Environment (set by `make check`, see AM_TESTS_ENVIRONMENT; defaults for runs by hand):
 *   DMG_MODULE      absolute path of the built dynmailgroup.so  ($DMG_BUILDDIR/.libs/...)
 *   DMG_SLAPD       slapd binary                                (/usr/sbin/slapd)
 *   DMG_SLAPADD     slapadd binary; empty = DMG_SLAPD run as "slapadd"
 *   DMG_SRCDIR      top source directory (schema/, tests/fixtures/) (found from the cwd)
 *   DMG_BUILDDIR    top build directory                         (.)
 *   DMG_PRELOAD     libraries LD_PRELOADed into slapd for sanitizer builds (empty)
 *   DMG_MODULEPATH  slapd module directory                      (/usr/lib/ldap)
 *   DMG_SCHEMADIR   slapd schema directory                      (/etc/ldap/schema)
 *   DMG_SLAPD_DEBUG slapd -d level, e.g. "stats" or "-1"        (none: errors, start, stop)
 *   DMG_KEEP_TMP    if set, temporary directories are kept and their paths printed
 *   DMG_VALGRIND    if set (not "0"), slapd runs under valgrind memcheck (see below)
 *   DMG_VALGRIND_BIN  valgrind binary                           (/usr/bin/valgrind)
 *   DMG_VALGRIND_OPTS extra valgrind options, space separated   (none)
 *
 * What a server is: <dir>/slapd.conf (core, cosine, inetorgperson, dyngroup and our schema;
 * back_mdb for dc=example,dc=com with rootdn cn=admin,dc=example,dc=com / secret; cn=config
 * managed over ldapi by this process's uid/gid, or cn=config / secret), loaded with the
 * fixture by slapadd (from <dir>/slapadd.conf: the same without the dynmailgroup module and
 * overlay, which tool mode does not use), then `slapd -d LEVEL -f slapd.conf -h "ldap://
 * 127.0.0.1:PORT/ ldapi://<dir>/ldapi"` in the foreground, output in <dir>/slapd.log. Modules
 * load before the schema files, as cn=module{0} does before cn=schema in Debian's cn=config.
 *
 * With config_dir set the configuration is Debian's cn=config layout instead: the same
 * slapd.conf is converted by `slaptest -n0 -f slapd.conf -F <dir>/slapd.d` (cn=module{0}
 * with the module loads, cn={0}core ... cn={3}dyngroup[,cn={4}dynmailgroup] under cn=schema,
 * olcDatabase={0}config, olcDatabase={1}mdb with its indexes and overlays), the fixture is
 * still loaded from slapadd.conf (same database directory), and slapd runs with
 * `-F <dir>/slapd.d` instead of -f, also after dmg_server_restart: changes made to cn=config
 * over LDAP are written to slapd.d and survive restarts.
 *
 * Sanitizer builds (DMG_PRELOAD set): slapd and slaptest get LD_PRELOAD=$DMG_PRELOAD and
 * ASAN_OPTIONS=detect_leaks=0:abort_on_error=1. With Debian 12's p11-kit such a process hangs
 * in exit() (see harness.c); the harness recognises a finished slapd by its "slapd stopped."
 * line and removed pidfile and kills it; reports are found by scanning slapd.log.
 *
 * Valgrind mode (DMG_VALGRIND=1; ignored when DMG_PRELOAD is set): slapd is started as
 * `valgrind --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite ...
 * --suppressions=tests/valgrind.supp --log-file=<dir>/valgrind.%p.log slapd -d ...`; start-up
 * and shutdown waits are longer (bounded), and Check test-case timeouts and the client-side
 * LDAP bound are multiplied by 5. When slapd stops (SIGTERM, clean exit, leak check) its
 * valgrind log is judged: an invalid access, use of an uninitialised value or definite leak
 * whose stack mentions dynmailgroup.so or overlay/ sources makes dmg_server_stop (and
 * dmg_server_restart) fail and is printed in full; records entirely inside slapd or its
 * libraries are printed as information only. slaptest, slapadd and the test programs
 * themselves do not run under valgrind.
 *
 * Process model: dmg_run_suite() starts the server in the test program's main process and
 * runs the suite in CK_FORK mode, so each test is a child process that only talks LDAP to the
 * server. A server may only be stopped or restarted by the process that started it; a test
 * that needs restarts starts its own server inside the test.
 */
#ifndef DMG_HARNESS_H
#define DMG_HARNESS_H

#include <stddef.h>
#include <stdlib.h>
#include <check.h>
#include <ldap.h>

#include "util.h"

/* util.h's helpers where a failure fails the running test */
#define DMG_PATH_FMT(dst, size, ...) \
    ck_assert_msg(dmg_path_fmt((dst), (size), __VA_ARGS__) == 0, "too long: %s...", (dst))
#define DMG_WRITE_FILE(path, text, mode) \
    ck_assert_msg(dmg_write_file((path), (text), (mode)) == 0, "cannot write %s", (path))
#define DMG_UNUSED_PORT(var) \
    do { \
        (var) = dmg_unused_port(); \
        ck_assert_msg((var) > 0, "no free loopback port"); \
    } while (0)

/* --------------------------------------------------------------------------------------------
 * Server
 * ------------------------------------------------------------------------------------------ */

#define DMG_SUFFIX   "dc=example,dc=com"
#define DMG_ROOTDN   "cn=admin,dc=example,dc=com"
#define DMG_ROOTPW   "secret"
#define DMG_PASSWORD "secret" /* userPassword of every account in tests/fixtures/org.ldif */

/* Fixture value meaning "load nothing" (the database then starts empty, without a suffix). */
#define DMG_NO_FIXTURE ""

typedef struct dmg_server_opts {
    int without_module;          /* no moduleload of DMG_MODULE, no "overlay dynmailgroup" */
    int without_overlay;         /* moduleload DMG_MODULE, but no "overlay dynmailgroup" (to
                                    add it over cn=config) */
    int no_dmg_schema;           /* do not include schema/dynmailgroup.schema */
    const char *modules;         /* extra modules, space separated: "dynlist syncprov" */
    const char *global_config;   /* verbatim, global section after the schema includes */
    const char *db_config;       /* verbatim, in "database mdb" (ACLs, limits, syncrepl) */
    const char *overlays_before; /* verbatim, before "overlay dynmailgroup" */
    const char *accesslog_db;    /* when set: a second database before the suffix's, "database
                                    mdb", suffix cn=accesslog, directory <dir>/accesslog
                                    (created), then this text verbatim (delta-syncrepl) */
    const char *overlay_config;  /* verbatim, after "overlay dynmailgroup" */
    const char *fixture;         /* LDIF under tests/fixtures (or absolute path);
                                    NULL = "org.ldif", DMG_NO_FIXTURE = none */
    int config_dir;              /* run slapd on a slapd.d (-F) converted from the slapd.conf
                                    described by the options above, see the top comment */
} dmg_server_opts;

typedef struct dmg_server dmg_server;

/* Start a server; NULL (with the reason and slapd's log on stderr) when it cannot start. */
dmg_server *dmg_server_start(const dmg_server_opts *o);
/* dmg_server_start with its stderr (the log of a slapd that did not start) captured: that
 * text (also copied to stderr; free it); the server, or NULL, in *out. */
char *dmg_server_start_captured(dmg_server **out, const dmg_server_opts *o);
/* Stop it and free it. Non-zero when slapd exited abnormally or its log holds a sanitizer
 * report (printed to stderr). NULL is accepted and returns 0. */
int dmg_server_stop(dmg_server *s);
/* Stop and start again on the same directory and port; the data is kept. Runtime changes to
 * cn=config are lost (the configuration is slapd.conf), except in config_dir mode, where slapd
 * wrote them to slapd.d and starts from it again. 0 on success. */
int dmg_server_restart(dmg_server *s);
/* kill -9: slapd ends at once, without its shutdown (a crash); dmg_server_restart starts it
 * again on its data. 0 when it was running. Under valgrind that run has no leak check, which
 * is then not a failure (errors valgrind logged before the kill still are). */
int dmg_server_kill(dmg_server *s);
/* Run slaptest -u on the server's configuration as it is now: slapd.d (-F) in config_dir
 * mode, else slapd.conf (-f); output in <dir>/slaptest.log, printed on failure. 0 when it
 * passes. May run while slapd runs. */
int dmg_server_check_config(const dmg_server *s);

const char *dmg_server_uri(const dmg_server *s);       /* ldap://127.0.0.1:PORT/ */
const char *dmg_server_ldapi_uri(const dmg_server *s); /* ldapi://%2F...%2Fldapi */
const char *dmg_server_dir(const dmg_server *s);       /* the temporary directory */
const char *dmg_server_log(const dmg_server *s);       /* path of slapd.log */
const char *dmg_server_config_dir(const dmg_server *s); /* <dir>/slapd.d; NULL without
                                                           config_dir */

/* Start the server described by o, store it in *global for the tests, run s in CK_FORK mode
 * (unless CK_FORK=no is set for debugging), stop the server. EXIT_SUCCESS only when every test
 * passed and the server stopped cleanly. Takes ownership of s. */
int dmg_run_suite(Suite *s, const dmg_server_opts *o, dmg_server **global);

/* Run s in CK_FORK mode (unless CK_FORK=no) for a program whose tests start and stop their own
 * servers (no suite-wide one). A failed assertion ends a test child with _exit(), which leaves
 * the directories of the servers it started: they are removed after the run (or named, with
 * DMG_KEEP_TMP). EXIT_SUCCESS only when every test passed. Takes ownership of s. */
int dmg_run_suite_own_servers(Suite *s);

/* A test case with a timeout that suits a real server (Check's default is 4 s). */
TCase *dmg_tcase(const char *name);

/* --------------------------------------------------------------------------------------------
 * Connections. Failures abort the current test with the LDAP error.
 * ------------------------------------------------------------------------------------------ */

/* Simple bind (anonymous when binddn is NULL) over TCP, LDAPv3. */
#define dmg_connect(s, binddn, password) \
    dmg_connect_at(__FILE__, __LINE__, (s), (binddn), (password))
/* Simple bind as a fixture identity: anonymous for NULL, the rootdn with DMG_ROOTPW, every
 * other DN with the fixture's common password DMG_PASSWORD. */
#define dmg_connect_as(s, binddn) dmg_connect_as_at(__FILE__, __LINE__, (s), (binddn))
/* SASL EXTERNAL over ldapi: the peer credentials of this process, which the config database
 * grants manage (cn=config changes at run time). */
#define dmg_connect_ldapi_external(s) dmg_connect_ldapi_external_at(__FILE__, __LINE__, (s))
/* Unbind and free; NULL is accepted. */
void dmg_disconnect(LDAP *ld);

/* --------------------------------------------------------------------------------------------
 * Operations. Each returns the result code with the server's diagnostic message and matched
 * DN (truncated to the buffers; "" when absent). Nothing to free.
 * ------------------------------------------------------------------------------------------ */

typedef struct dmg_result {
    int rc;
    char diag[1024];
    char matched[512];
} dmg_result;

/* Simple bind on an existing connection (to test bind outcomes). */
dmg_result dmg_bind(LDAP *ld, const char *dn, const char *password);

/* Add ONE entry written as LDIF: "dn: ...\nattr: value\nattr:\n..." (an empty value after
 * "attr:" is a zero-length value; "#" comments, "changetype: add" and folded lines are accepted).
 * A malformed text aborts the test. */
#define dmg_add_ldif(ld, ldif) dmg_add_ldif_at(__FILE__, __LINE__, (ld), (ldif), NULL)
#define dmg_add_ldif_ext(ld, ldif, sctrls) \
    dmg_add_ldif_at(__FILE__, __LINE__, (ld), (ldif), (sctrls))

/* Modify with an LDIF changetype-modify body:
 *   "add: attr\nattr: v1\nattr: v2\n-\nreplace: attr\nattr: v\n-\ndelete: attr\n"
 * ("increment:" too; the final "-" is optional; "changetype: modify" may lead). A malformed
 * text aborts the test. */
#define dmg_modify(ld, dn, changes) \
    dmg_modify_at(__FILE__, __LINE__, (ld), (dn), (changes), NULL)
#define dmg_modify_ext(ld, dn, changes, sctrls) \
    dmg_modify_at(__FILE__, __LINE__, (ld), (dn), (changes), (sctrls))

/* Adds each one-entry LDIF text as the rootdn unless the entry exists already: fixtures
 * that several tests of a suite share, whichever runs first. */
#define dmg_ensure_entries(s, ldifs, n) \
    dmg_ensure_entries_at(__FILE__, __LINE__, (s), (ldifs), (n), NULL)
/* The same with request controls on each add, e.g. DMG_CTRLS(dmg_ctrl_relax()) for entries
 * only the rootdn with Relax Rules may store (dmgApplicant). */
#define dmg_ensure_entries_ext(s, ldifs, n, sctrls) \
    dmg_ensure_entries_at(__FILE__, __LINE__, (s), (ldifs), (n), (sctrls))
void dmg_ensure_entries_at(const char *file, int line, const dmg_server *s,
                           const char *const *ldifs, size_t n, LDAPControl **sctrls);

dmg_result dmg_rename(LDAP *ld, const char *dn, const char *newrdn, const char *newsuperior,
                      int deleteoldrdn);
dmg_result dmg_rename_ext(LDAP *ld, const char *dn, const char *newrdn,
                          const char *newsuperior, int deleteoldrdn, LDAPControl **sctrls);

dmg_result dmg_delete(LDAP *ld, const char *dn);
dmg_result dmg_delete_ext(LDAP *ld, const char *dn, LDAPControl **sctrls);

/* rc is LDAP_COMPARE_TRUE / LDAP_COMPARE_FALSE or the error. */
dmg_result dmg_compare(LDAP *ld, const char *dn, const char *attr, const char *value);
dmg_result dmg_compare_ext(LDAP *ld, const char *dn, const char *attr, const char *value,
                           LDAPControl **sctrls);

/* --------------------------------------------------------------------------------------------
 * Search results: every entry with every value (values are NUL-terminated copies).
 * ------------------------------------------------------------------------------------------ */

typedef struct dmg_attr {
    char *name;    /* as the server returned it */
    char **values; /* nvalues strings */
    size_t nvalues;
} dmg_attr;

typedef struct dmg_entry {
    char *dn;
    dmg_attr *attrs;
    size_t nattrs;
} dmg_entry;

typedef struct dmg_entries {
    dmg_entry *entries; /* in the order the server sent them */
    size_t count;
    size_t references;  /* search continuation references seen (not followed) */
} dmg_entries;

/* Search without client-side limits (the connection's LDAP_OPT_SIZELIMIT / TIMELIMIT apply
 * when set). attrs NULL = all user attributes. When out is not NULL it receives the entries
 * returned, also when rc is an error such as sizeLimitExceeded; free with dmg_entries_free. */
dmg_result dmg_search(LDAP *ld, const char *base, int scope, const char *filter,
                      const char *const *attrs, LDAPControl **sctrls, dmg_entries **out);
void dmg_entries_free(dmg_entries *e);
/* Lookups, case-insensitive; NULL when absent. */
const dmg_entry *dmg_entries_find(const dmg_entries *e, const char *dn);
const dmg_attr *dmg_entry_attr(const dmg_entry *e, const char *name);

/* The values of attr over all entries returned, sorted case-insensitively (ties: byte order),
 * joined by "\n"; "" when none. The search must succeed, else the test aborts. Free the
 * result. */
#define dmg_values_joined(ld, base, scope, filter, attr) \
    dmg_values_joined_at(__FILE__, __LINE__, (ld), (base), (scope), (filter), (attr), NULL)
/* Same with request controls (e.g. ManageDsaIT). */
#define dmg_values_joined_ext(ld, base, scope, filter, attr, sctrls) \
    dmg_values_joined_at(__FILE__, __LINE__, (ld), (base), (scope), (filter), (attr), (sctrls))
/* The DNs of the entries returned, sorted and joined the same way. */
#define dmg_dns_joined(ld, base, scope, filter) \
    dmg_dns_joined_at(__FILE__, __LINE__, (ld), (base), (scope), (filter))

/* Copy of text with its "\n"-separated lines sorted the same way (for expected lists). */
char *dmg_sorted_lines(const char *text);

/* printf into one of a ring of 1024 static buffers of 1024 bytes: the strings a test builds
 * (DNs, filters, LDIF) last to its end (each test is its own process); a longer string aborts
 * the test. */
const char *dmg_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

/* The operation succeeded, else the test aborts naming what (and the server's answer). */
#define DMG_EXPECT_OK(result, what) dmg_expect_ok_at(__FILE__, __LINE__, (result), (what))
void dmg_expect_ok_at(const char *file, int line, dmg_result r, const char *what);

/* --------------------------------------------------------------------------------------------
 * Controls (static storage; nothing to free). DMG_CTRLS builds the NULL-terminated array:
 *   dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, NULL, DMG_CTRLS(dmg_ctrl_manage_dsait()), &e);
 * ------------------------------------------------------------------------------------------ */

#define DMG_OID_RELAX "1.3.6.1.4.1.4203.666.5.12"
LDAPControl *dmg_ctrl_manage_dsait(void);
LDAPControl *dmg_ctrl_relax(void);
#define DMG_CTRLS(...) ((LDAPControl *[]){ __VA_ARGS__, NULL })

/* --------------------------------------------------------------------------------------------
 * Assertions with readable failure messages (lines missing / unexpected, then both texts).
 * ------------------------------------------------------------------------------------------ */

void dmg_assert_str_impl(const char *file, int line, const char *expr, const char *got,
                         const char *expected);
void dmg_assert_rc_impl(const char *file, int line, const char *expr, const dmg_result *r,
                        int expected);

/* Exact string equality. */
#define DMG_ASSERT_STR(got, expected) \
    dmg_assert_str_impl(__FILE__, __LINE__, #got, (got), (expected))

/* rc equality; the message names both codes and the diagnostic. */
#define DMG_ASSERT_RC(result, expected) \
    do { dmg_result dmg_r_ = (result); \
         dmg_assert_rc_impl(__FILE__, __LINE__, #result, &dmg_r_, (expected)); } while (0)

/* The sorted DNs of a search equal the lines of expected, given in any order. */
#define DMG_ASSERT_DNS(ld, base, scope, filter, expected) \
    dmg_assert_dns_at(__FILE__, __LINE__, (ld), (base), (scope), (filter), (expected))

/* The sorted values of attr over a search equal the lines of expected, in any order. */
#define DMG_ASSERT_VALUES(ld, base, scope, filter, attr, expected) \
    dmg_assert_values_at(__FILE__, __LINE__, (ld), (base), (scope), (filter), (attr), \
                         (expected), NULL)
#define DMG_ASSERT_VALUES_EXT(ld, base, scope, filter, attr, expected, sctrls) \
    dmg_assert_values_at(__FILE__, __LINE__, (ld), (base), (scope), (filter), (attr), \
                         (expected), (sctrls))

/* --------------------------------------------------------------------------------------------
 * Implementations behind the macros above (they report failures at the caller's line).
 * ------------------------------------------------------------------------------------------ */

LDAP *dmg_connect_at(const char *file, int line, const dmg_server *s, const char *binddn,
                     const char *password);
LDAP *dmg_connect_as_at(const char *file, int line, const dmg_server *s, const char *binddn);
LDAP *dmg_connect_ldapi_external_at(const char *file, int line, const dmg_server *s);
dmg_result dmg_add_ldif_at(const char *file, int line, LDAP *ld, const char *ldif,
                           LDAPControl **sctrls);
dmg_result dmg_modify_at(const char *file, int line, LDAP *ld, const char *dn,
                         const char *changes, LDAPControl **sctrls);
char *dmg_values_joined_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                           const char *filter, const char *attr, LDAPControl **sctrls);
char *dmg_dns_joined_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                        const char *filter);
void dmg_assert_dns_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                       const char *filter, const char *expected);
void dmg_assert_values_at(const char *file, int line, LDAP *ld, const char *base, int scope,
                          const char *filter, const char *attr, const char *expected,
                          LDAPControl **sctrls);

/* --------------------------------------------------------------------------------------------
 * Replication: several servers in one test, compared by snapshots, awaited by bounded polls.
 * ------------------------------------------------------------------------------------------ */

/* The harness's slow-down factor beyond CK_TIMEOUT_MULTIPLIER (which Check applies to test-case
 * timeouts by itself): 5 when slapd runs under valgrind, else 1. */
long dmg_slowdown(void);

/* The bound of one replication wait: 30 s, times CK_TIMEOUT_MULTIPLIER and dmg_slowdown(). */
long dmg_poll_max_ms(void);
#define DMG_POLL_STEP_MS 50

/* The body of a syncrepl directive / olcSyncrepl value: refreshAndPersist from provider_uri as
 * the rootdn, the whole suffix, attrs "*,+", retry every second; extra (NULL: none) appended
 * verbatim (e.g. the delta-syncrepl settings). */
void dmg_syncrepl_value(char *buf, size_t size, const char *rid, const char *provider_uri,
                        const char *extra);

/* The DN of the suffix's database in cn=config (cfg: dmg_connect_ldapi_external); free it. */
char *dmg_config_db_dn(LDAP *cfg);

/* A search as text: "dn" per entry and "dn | attr: value" per value (attribute names
 * lower-cased), sorted; a failed search gives one line starting with "!". */
typedef struct dmg_query {
    const char *base;
    int scope;
    const char *filter;
    const char *const *attrs; /* NULL: only the DNs */
    int manage_dsait;
} dmg_query;
char *dmg_snapshot(LDAP *ld, const dmg_query *q);

/* Polls until the snapshot of q on ld equals want (lines in any order); then (or at the
 * deadline) asserts it. */
#define DMG_WAIT_FOR(ld, q, want) dmg_wait_for_at(__FILE__, __LINE__, (ld), (q), (want))
void dmg_wait_for_at(const char *file, int line, LDAP *ld, const dmg_query *q,
                     const char *want);
/* Polls until q gives the same successful answer on both; asserts it; returns it (free it). */
#define DMG_WAIT_SAME(a, b, q) dmg_wait_same_at(__FILE__, __LINE__, (a), (b), (q))
char *dmg_wait_same_at(const char *file, int line, LDAP *a, LDAP *b, const dmg_query *q);

/* slapcat's LDIF of the server's suffix (unwrapped), read while slapd runs; the test aborts
 * when slapcat fails. Free it. */
char *dmg_slapcat(const dmg_server *s);

/* Runs scripts/dmg-check.sh against s as the rootdn; its standard output (free it), the exit
 * status in *status. */
char *dmg_check_script(const dmg_server *s, int *status);

/* ---- a provider and its replicas (test_replication, test_multiprovider) ------------------- */

/* Database settings of every replicating node: the indexes syncrepl searches by, and no limits
 * for the rootdn the links bind as. */
#define DMG_REPL_INDEX_AND_LIMITS \
    "index entryCSN,entryUUID eq\n" \
    "limits dn.exact=\"" DMG_ROOTDN "\" size=unlimited time=unlimited\n"

/* syncprov configured before dynmailgroup: below it in the overlay stack, so that it never
 * sees computed values. */
#define DMG_SYNCPROV_BELOW "overlay syncprov\nsyncprov-checkpoint 1 1\n"

/* Every entry of the suffix as stored, with its CSN: equal on two nodes = fully replicated. */
extern const dmg_query dmg_q_tree;

/* The db_config of a replica of provider: DMG_REPL_INDEX_AND_LIMITS, then "syncrepl" with
 * dmg_syncrepl_value(rid, the provider's URI, extra), then tail (NULL: none). */
void dmg_replica_db_config(char *buf, size_t size, const dmg_server *provider, const char *rid,
                           const char *extra, const char *tail);

/* Rootdn connections to a provider (*p) and its replica (*c), once the replica holds the
 * provider's whole tree (dmg_q_tree). */
#define DMG_CONNECT_PAIR(prov, cons, p, c) \
    dmg_connect_pair_at(__FILE__, __LINE__, (prov), (cons), (p), (c))
void dmg_connect_pair_at(const char *file, int line, const dmg_server *prov,
                         const dmg_server *cons, LDAP **p, LDAP **c);

/* The end of a two-node test: closes the connections p and c, stops the replica cons, then
 * the provider prov; asserts that both stopped cleanly. */
#define DMG_STOP_PAIR(prov, cons, p, c) \
    dmg_stop_pair_at(__FILE__, __LINE__, (prov), (cons), (p), (c))
void dmg_stop_pair_at(const char *file, int line, dmg_server *prov, dmg_server *cons, LDAP *p,
                      LDAP *c);

/* ---- mail groups of the role tests (test_roles, test_references) --------------------------- */

/* Adds the group cn=<cn>,ou=Groups,<suffix> with mail <cn>@example.com and, unless extra names
 * a dmgDepartment, the department ou=Engineering; extra (NULL: none) is more LDIF lines, ctrls
 * (NULL: none) the request controls. */
dmg_result dmg_add_mail_group(LDAP *ld, const char *cn, const char *extra, LDAPControl **ctrls);

/* The same as the rootdn of s; the test fails unless the add succeeds or, with may_exist, finds
 * the group already there (several tests share one). */
void dmg_root_add_mail_group(const dmg_server *s, const char *cn, const char *extra,
                             LDAPControl **ctrls, int may_exist);

/* 1 when dn exists for the rootdn of s (who sees hidden groups), 0 when noSuchObject; any other
 * answer fails the test. */
int dmg_root_sees(const dmg_server *s, const char *dn);

/* Values of attr on dn as the rootdn of s sees them, sorted, "\n"-joined; free the result. */
char *dmg_root_values(const dmg_server *s, const char *dn, const char *attr);

/* Asserts those values equal to expected (lines in any order); a failure names attr and dn. */
#define DMG_ASSERT_ROOT_VALUES(s, dn, attr, expected) \
    dmg_assert_root_values_at(__FILE__, __LINE__, (s), (dn), (attr), (expected))
void dmg_assert_root_values_at(const char *file, int line, const dmg_server *s, const char *dn,
                               const char *attr, const char *expected);

/* dmg_tcase with a timeout of its own for tests that run several servers or long loads:
 * seconds, times dmg_slowdown() (Check multiplies by CK_TIMEOUT_MULTIPLIER itself). */
TCase *dmg_tcase_timeout(const char *name, long seconds);

#endif /* DMG_HARNESS_H */
