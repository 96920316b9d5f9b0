/*
 * test_repl_config.c -- man page REPLICATION: configuration mistakes are refused or reported.
 *
 *  (a) syncprov configured after dynmailgroup (above it in the stack, where it would answer
 *      sync searches itself and send hidden groups as stored): slapd does not start, with a
 *      clear message, from slapd.conf and from slapd.d, nor accept the overlay added below a
 *      running syncprov over cn=config; syncprov added above at run time over cn=config,
 *      every write is refused with the remedy (logged once), so nothing is sent to a persistent
 *      search an ordinary user opened with a cookie built from the public contextCSN.
 *  (b) correct order: the sync control is refused to an ordinary user in every form
 *      (refreshOnly, refreshAndPersist, with and without a current cookie), while a privileged
 *      identity's persistent search receives a new hidden group; the refusal is logged once
 *      per identity, at slapd's default level.
 *  (c) a consumer bound as an ordinary user: refused (50) and retrying; the provider's log
 *      names the identity and the remedy exactly once, however often it retries.
 *  (d) a consumer bound as the MTA account (privileged, but ACLs hide userPassword from it)
 *      is warned about once; a dedicated replication identity (privileged, read access to
 *      everything, no limits) replicates userPassword and is not warned about.
 *  (e) scripts/dmg-check.sh finds duplicate addresses and dangling references loaded by
 *      slapadd (as after conflicting writes on two providers), and nothing on a clean tree.
 *
 * slapd runs with the harness's default debug level "none", which is what Debian's cn=config
 * sets (olcLogLevel: none): every message the tests look for shows at it.  Waits are bounded
 * polls of a condition (log content, search results), never sleeps.
 *
 * Fixture: tests/fixtures/org.ldif (see tests/fixtures/README.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup, nanosleep, clock_gettime, mkstemp with -std=c99 */
#endif
#include "harness.h"

#include <errno.h>
#include <lber.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define QUIET_MS     1500  /* how long a persistent search must stay silent */
#define TCASE_TIMEOUT_S 180

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define READER     "uid=reader,ou=System," DMG_SUFFIX /* ordinary */
#define MTA        "uid=mta,ou=System," DMG_SUFFIX    /* dynmailgroup-privileged */
#define REPLICATOR "uid=replicator,ou=System," DMG_SUFFIX
#define ALICE      "uid=alice,ou=Engineering," DMG_SUFFIX
#define HIDDEN     "cn=secret-board," GROUPS

#define INDEX_AND_LIMITS \
    "index entryCSN,entryUUID eq\n" \
    "limits dn.exact=\"" DMG_ROOTDN "\" size=unlimited time=unlimited\n"
#define SYNCPROV_BELOW "overlay syncprov\nsyncprov-checkpoint 1 1\n"
#define PRIVILEGED_MTA "dynmailgroup-privileged " MTA "\n"

static const char hidden_group[] =
    "dn: " HIDDEN "\n"
    "objectClass: dynamicMailGroup\n"
    "cn: secret-board\n"
    "mail: secret-board@example.com\n"
    "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n"
    "dmgShowInContacts: FALSE\n";

/* ---- time, files, logs ------------------------------------------------------------------- */

/* Lines of text that contain every one of the needles (NULL-terminated). */
static int count_lines(const char *text, const char *const *needles)
{
    int count = 0;
    const char *line = text;
    while (*line != '\0') {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *copy = strndup(line, len);
        int all = 1;
        for (const char *const *n = needles; *n != NULL && all; n++)
            all = strstr(copy, *n) != NULL;
        count += all;
        free(copy);
        line += len + (end != NULL);
    }
    return count;
}

#define LINES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int log_lines(const dmg_server *s, const char *const *needles)
{
    char *log = dmg_read_file(dmg_server_log(s));
    int n = count_lines(log, needles);
    free(log);
    return n;
}

/* Polls s's log until at least min lines hold every needle; returns the count then. */
static int wait_log_lines(const dmg_server *s, const char *const *needles, int min)
{
    long deadline = dmg_now_ms() + dmg_poll_max_ms();
    int n = log_lines(s, needles);
    while (n < min && dmg_now_ms() < deadline) {
        dmg_nap_ms(DMG_POLL_STEP_MS);
        n = log_lines(s, needles);
    }
    return n;
}

/* ---- the content synchronization control (RFC 4533) -------------------------------------- */

static LDAPControl *sync_control(int mode, const char *cookie)
{
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    struct berval value, c;
    LDAPControl *ctrl = NULL;
    ck_assert_ptr_nonnull(ber);
    if (cookie != NULL) {
        c.bv_val = (char *)cookie;
        c.bv_len = strlen(cookie);
        ck_assert_int_ge(ber_printf(ber, "{eO}", (ber_int_t)mode, &c), 0);
    } else {
        ck_assert_int_ge(ber_printf(ber, "{e}", (ber_int_t)mode), 0);
    }
    ck_assert_int_eq(ber_flatten2(ber, &value, 0), 0);
    ck_assert_int_eq(ldap_control_create(LDAP_CONTROL_SYNC, 1, &value, 1, &ctrl), LDAP_SUCCESS);
    ber_free(ber, 1);
    return ctrl;
}

/* "rid=000,csn=<contextCSN of the suffix>", as anyone may read it; NULL without one. */
static char *public_cookie(LDAP *ld)
{
    static const char *const attrs[] = { "contextCSN", NULL };
    dmg_entries *es = NULL;
    char *cookie = NULL;
    dmg_result r = dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_BASE, NULL, attrs, NULL, &es);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "reading contextCSN: %s", ldap_err2string(r.rc));
    const dmg_attr *a = es->count == 1 ? dmg_entry_attr(&es->entries[0], "contextCSN") : NULL;
    if (a != NULL && a->nvalues > 0)
        ck_assert_int_gt(asprintf(&cookie, "rid=000,csn=%s", a->values[0]), 0);
    dmg_entries_free(es);
    return cookie;
}

typedef struct sync_search {
    LDAP *ld;
    int msgid;
    int done;     /* the search result came */
    int rc;       /* its code */
    int entries;  /* entries received so far */
    int hidden;   /* of which HIDDEN */
} sync_search;

static sync_search sync_start(LDAP *ld, int mode, const char *cookie)
{
    sync_search s = { ld, -1, 0, -1, 0, 0 };
    LDAPControl *ctrl = sync_control(mode, cookie);
    LDAPControl *ctrls[] = { ctrl, NULL };
    char *attrs[] = { "*", NULL };
    ck_assert_int_eq(ldap_search_ext(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(objectClass=*)",
                                     attrs, 0, ctrls, NULL, NULL, 0, &s.msgid),
                     LDAP_SUCCESS);
    ldap_control_free(ctrl);
    return s;
}

/* Reads what s received until the result, until want is TRUE of it, or for ms at most. */
static void sync_read(sync_search *s, long ms, int (*want)(const sync_search *))
{
    long deadline = dmg_now_ms() + ms;
    while (!s->done && !(want != NULL && want(s))) {
        long left = deadline - dmg_now_ms();
        if (left <= 0)
            return;
        struct timeval tv = { left / 1000, (left % 1000) * 1000 };
        LDAPMessage *m = NULL;
        int t = ldap_result(s->ld, s->msgid, LDAP_MSG_ONE, &tv, &m);
        ck_assert_msg(t >= 0, "ldap_result: %s", ldap_err2string(t));
        if (t == LDAP_RES_SEARCH_ENTRY) {
            char *dn = ldap_get_dn(s->ld, m);
            s->entries++;
            s->hidden += dn != NULL && strcasecmp(dn, HIDDEN) == 0;
            ldap_memfree(dn);
        } else if (t == LDAP_RES_SEARCH_RESULT) {
            ck_assert_int_eq(ldap_parse_result(s->ld, m, &s->rc, NULL, NULL, NULL, NULL, 0),
                             LDAP_SUCCESS);
            s->done = 1;
        }
        if (m != NULL)
            ldap_msgfree(m);
    }
}

static int got_hidden(const sync_search *s)
{
    return s->hidden > 0;
}

static void sync_abandon(sync_search *s)
{
    if (!s->done)
        ldap_abandon_ext(s->ld, s->msgid, NULL, NULL);
}

/* ==========================================================================================
 * (a) syncprov above dynmailgroup
 * ======================================================================================== */

static void refused_at_start(int config_dir)
{
    dmg_server_opts o = {
        .modules = "syncprov",
        .db_config = INDEX_AND_LIMITS,
        .overlay_config = PRIVILEGED_MTA "overlay syncprov\n",
        .config_dir = config_dir,
    };
    dmg_server *s = NULL;
    char *out = dmg_server_start_captured(&s, &o);
    if (s != NULL) {
        dmg_server_stop(s);
        ck_abort_msg("slapd started with syncprov configured after dynmailgroup%s",
                     config_dir ? " (slapd.d)" : "");
    }
    ck_assert_msg(strstr(out, "overlay syncprov is configured after overlay dynmailgroup")
                      && strstr(out, "configure syncprov before dynmailgroup"),
                  "no clear message in slapd's output");
    free(out);
}

START_TEST(syncprov_above_refused_at_start)
{
    refused_at_start(0);
}
END_TEST

START_TEST(syncprov_above_refused_at_start_slapd_d)
{
    refused_at_start(1);
}
END_TEST

/* An olcOverlay entry added without an index goes on top of the stack: above dynmailgroup. */
START_TEST(syncprov_added_above_at_run_time)
{
    dmg_server_opts o = {
        .modules = "syncprov",
        .db_config = INDEX_AND_LIMITS,
        .overlay_config = PRIVILEGED_MTA,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start");
    LDAP *cfg = dmg_connect_ldapi_external(s);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, "dn: olcOverlay=syncprov,olcDatabase={1}mdb,cn=config\n"
                                    "objectClass: olcOverlayConfig\n"
                                    "objectClass: olcSyncProvConfig\n"
                                    "olcOverlay: syncprov\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(cfg, "olcDatabase={1}mdb,cn=config", LDAP_SCOPE_ONELEVEL,
                   "(objectClass=olcOverlayConfig)",
                   "olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config\n"
                   "olcOverlay={1}syncprov,olcDatabase={1}mdb,cn=config");
    dmg_disconnect(cfg);

    /* an ordinary user's persistent search with the public cookie: syncprov accepts it */
    LDAP *rd = dmg_connect(s, READER, DMG_PASSWORD);
    char *cookie = public_cookie(rd);
    sync_search ps = sync_start(rd, LDAP_SYNC_REFRESH_AND_PERSIST, cookie);

    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    dmg_result add = dmg_add_ldif(root, hidden_group);
    DMG_ASSERT_RC(add, LDAP_UNWILLING_TO_PERFORM);
    ck_assert_msg(strstr(add.diag, "configure syncprov before dynmailgroup") != NULL,
                  "no remedy in \"%s\"", add.diag);
    DMG_ASSERT_RC(dmg_modify(root, ALICE, "replace: title\ntitle: Director\n"),
                  LDAP_UNWILLING_TO_PERFORM);
    /* reads still work */
    DMG_ASSERT_DNS(root, ALICE, LDAP_SCOPE_BASE, NULL, ALICE);

    sync_read(&ps, QUIET_MS, got_hidden);
    ck_assert_msg(ps.hidden == 0 && (ps.done ? ps.rc != LDAP_SUCCESS || ps.entries == 0 : 1),
                  "the ordinary user's sync search received %d entries (%d hidden), rc %d",
                  ps.entries, ps.hidden, ps.rc);
    sync_abandon(&ps);
    ck_assert_int_eq(log_lines(s, LINES("overlay syncprov is configured after overlay "
                                        "dynmailgroup", "configure syncprov before")),
                     1);
    free(cookie);
    dmg_disconnect(rd);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* The overlay added over cn=config below a running syncprov ({0}): its db_open refuses. */
START_TEST(dynmailgroup_added_below_syncprov_refused)
{
    dmg_server_opts o = {
        .without_overlay = 1,
        .modules = "syncprov",
        .db_config = INDEX_AND_LIMITS,
        .overlays_before = SYNCPROV_BELOW,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start");
    LDAP *cfg = dmg_connect_ldapi_external(s);
    dmg_result r = dmg_add_ldif(cfg, "dn: olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,"
                                     "cn=config\n"
                                     "objectClass: olcOverlayConfig\n"
                                     "objectClass: olcDynMailGroupConfig\n"
                                     "olcOverlay: {0}dynmailgroup\n");
    ck_assert_msg(r.rc != LDAP_SUCCESS && strstr(r.diag, "configure syncprov before "
                                                          "dynmailgroup") != NULL,
                  "adding the overlay below syncprov: rc %d, \"%s\"", r.rc, r.diag);
    DMG_ASSERT_DNS(cfg, "olcDatabase={1}mdb,cn=config", LDAP_SCOPE_ONELEVEL,
                   "(objectClass=olcOverlayConfig)",
                   "olcOverlay={0}syncprov,olcDatabase={1}mdb,cn=config");
    dmg_disconnect(cfg);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ==========================================================================================
 * (b) the correct order: sync refused to ordinary users in every form
 * ======================================================================================== */

static dmg_server *start_provider(const char *db_config)
{
    char conf[2048];
    snprintf(conf, sizeof conf, INDEX_AND_LIMITS "%s", db_config ? db_config : "");
    dmg_server_opts o = {
        .modules = "syncprov",
        .db_config = conf,
        .overlays_before = SYNCPROV_BELOW,
        .overlay_config = "dynmailgroup-privileged " MTA "\n"
                          "dynmailgroup-privileged " REPLICATOR "\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "the provider did not start");
    return s;
}

START_TEST(sync_refused_to_ordinary_user_in_every_form)
{
    dmg_server *s = start_provider("limits dn.exact=\"" MTA "\" size=unlimited time=unlimited\n");
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(s, MTA, DMG_PASSWORD);
    char *cookie = public_cookie(root);
    ck_assert_msg(cookie != NULL, "no contextCSN on the suffix");
    sync_search priv = sync_start(mta, LDAP_SYNC_REFRESH_AND_PERSIST, cookie);

    static const struct {
        int mode;
        int with_cookie;
    } forms[] = {
        { LDAP_SYNC_REFRESH_ONLY, 0 },
        { LDAP_SYNC_REFRESH_ONLY, 1 },
        { LDAP_SYNC_REFRESH_AND_PERSIST, 0 },
        { LDAP_SYNC_REFRESH_AND_PERSIST, 1 },
    };
    const char *who[] = { READER, ALICE, NULL /* anonymous */ };
    sync_search open[3][4];
    for (int w = 0; w < 3; w++) {
        LDAP *ld = dmg_connect(s, who[w], who[w] ? DMG_PASSWORD : NULL);
        for (int f = 0; f < 4; f++) {
            open[w][f] = sync_start(ld, forms[f].mode, forms[f].with_cookie ? cookie : NULL);
            sync_read(&open[w][f], dmg_poll_max_ms(), NULL);
            ck_assert_msg(open[w][f].done && open[w][f].rc == LDAP_INSUFFICIENT_ACCESS
                              && open[w][f].entries == 0,
                          "%s, mode %d%s: done %d, rc %d, %d entries",
                          who[w] ? who[w] : "anonymous", forms[f].mode,
                          forms[f].with_cookie ? " with cookie" : "", open[w][f].done,
                          open[w][f].rc, open[w][f].entries);
        }
        dmg_disconnect(ld);
    }

    /* the write a leak would carry reaches the privileged persistent search */
    DMG_ASSERT_RC(dmg_add_ldif(root, hidden_group), LDAP_SUCCESS);
    sync_read(&priv, dmg_poll_max_ms(), got_hidden);
    ck_assert_msg(priv.hidden == 1 && !priv.done, "privileged persistent search: %d hidden, "
                  "done %d rc %d", priv.hidden, priv.done, priv.rc);
    sync_abandon(&priv);

    /* logged once per identity, at the default level, with the remedy */
    ck_assert_int_eq(log_lines(s, LINES("content synchronization (syncrepl) refused to \""
                                        READER "\"", "dynmailgroup-privileged",
                                        "no size or time limits")),
                     1);
    ck_assert_int_eq(log_lines(s, LINES("refused to \"" ALICE "\"")),
                     1);
    ck_assert_int_eq(log_lines(s, LINES("refused to \"anonymous\"")), 1);
    ck_assert_int_eq(log_lines(s, LINES("content synchronization by \"" MTA "\"")), 0);
    free(cookie);
    dmg_disconnect(mta);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ==========================================================================================
 * (c), (d) consumers bound with the wrong identity, and with the right one
 * ======================================================================================== */

static dmg_server *start_consumer(const dmg_server *provider, const char *binddn)
{
    char db_config[2048];
    int n = snprintf(db_config, sizeof db_config, INDEX_AND_LIMITS
                     "syncrepl rid=001 provider=%s type=refreshAndPersist retry=\"1 +\" "
                     "searchbase=\"" DMG_SUFFIX "\" bindmethod=simple binddn=\"%s\" "
                     "credentials=" DMG_PASSWORD " scope=sub attrs=\"*,+\"\n",
                     dmg_server_uri(provider), binddn);
    ck_assert(n > 0 && (size_t)n < sizeof db_config);
    dmg_server_opts o = {
        .db_config = db_config,
        .overlay_config = PRIVILEGED_MTA,
        .fixture = DMG_NO_FIXTURE,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "the consumer did not start");
    return s;
}

START_TEST(refused_consumer_logged_once)
{
    dmg_server *prov = start_provider(NULL);
    dmg_server *cons = start_consumer(prov, READER);
    /* three refusals seen by the consumer: it retried twice */
    int refusals = wait_log_lines(cons, LINES("rid=001", "(50)"), 3);
    ck_assert_msg(refusals >= 3, "the consumer logged %d refusals", refusals);
    ck_assert_int_eq(log_lines(prov, LINES("content synchronization (syncrepl) refused to \""
                                           READER "\"", "add its DN to "
                                           "dynmailgroup-privileged")),
                     1);
    /* and it serves an empty database */
    LDAP *c = dmg_connect(cons, DMG_ROOTDN, DMG_ROOTPW);
    DMG_ASSERT_RC(dmg_search(c, DMG_SUFFIX, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(c);
    ck_assert_int_eq(dmg_server_stop(cons), 0);
    ck_assert_int_eq(dmg_server_stop(prov), 0);
}
END_TEST

/* The README's replication identity ACL first, then the usual userPassword protection */
#define USER_PASSWORD_ACL \
    "access to * by dn.exact=\"" REPLICATOR "\" read by * break\n" \
    "access to attrs=userPassword by self write by anonymous auth by * none\n" \
    "access to * by * read\n"
#define UNLIMITED(dn) "limits dn.exact=\"" dn "\" size=unlimited time=unlimited\n"

static const char replicator[] =
    "dn: " REPLICATOR "\n"
    "objectClass: inetOrgPerson\n"
    "uid: replicator\n"
    "cn: Replication\n"
    "sn: Replication\n"
    "userPassword: " DMG_PASSWORD "\n";

/* The userPassword values of READER on s as the rootdn sees them ("" when none). */
static char *reader_password(const dmg_server *s)
{
    LDAP *ld = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    dmg_entries *es = NULL;
    static const char *const attrs[] = { "userPassword", NULL };
    dmg_result r = dmg_search(ld, READER, LDAP_SCOPE_BASE, NULL, attrs, NULL, &es);
    char *out = strdup("");
    if (r.rc == LDAP_SUCCESS && es->count == 1) {
        const dmg_attr *a = dmg_entry_attr(&es->entries[0], "userPassword");
        if (a != NULL && a->nvalues > 0) {
            free(out);
            out = strdup(a->values[0]);
        }
    }
    dmg_entries_free(es);
    dmg_disconnect(ld);
    return out;
}

/* Polls until READER has replicated to s (with or without a password). */
static void wait_reader(const dmg_server *s)
{
    LDAP *ld = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    long deadline = dmg_now_ms() + dmg_poll_max_ms();
    dmg_result r = dmg_search(ld, READER, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL);
    while (r.rc != LDAP_SUCCESS && dmg_now_ms() < deadline) {
        dmg_nap_ms(DMG_POLL_STEP_MS);
        r = dmg_search(ld, READER, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL);
    }
    DMG_ASSERT_RC(r, LDAP_SUCCESS);
    dmg_disconnect(ld);
}

START_TEST(replication_identity_needs_full_read_access)
{
    dmg_server *prov = start_provider(USER_PASSWORD_ACL UNLIMITED(MTA) UNLIMITED(REPLICATOR));
    LDAP *root = dmg_connect(prov, DMG_ROOTDN, DMG_ROOTPW);
    DMG_ASSERT_RC(dmg_add_ldif(root, replicator), LDAP_SUCCESS);
    dmg_disconnect(root);
    char *want = reader_password(prov);
    ck_assert_str_ne(want, "");

    /* the MTA account: privileged, but the ACLs hide userPassword from it */
    dmg_server *by_mta = start_consumer(prov, MTA);
    wait_reader(by_mta);
    char *got = reader_password(by_mta);
    DMG_ASSERT_STR(got, "");
    free(got);
    ck_assert_int_eq(wait_log_lines(prov, LINES("content synchronization by \"" MTA "\"",
                                                "may not read userPassword",
                                                "dedicated identity"), 1),
                     1);

    /* the dedicated replication identity */
    dmg_server *by_repl = start_consumer(prov, REPLICATOR);
    wait_reader(by_repl);
    got = reader_password(by_repl);
    DMG_ASSERT_STR(got, want);
    free(got);
    ck_assert_int_eq(log_lines(prov, LINES("content synchronization by \"" REPLICATOR)), 0);
    ck_assert_int_eq(log_lines(prov, LINES("content synchronization by \"" MTA "\"")), 1);

    free(want);
    ck_assert_int_eq(dmg_server_stop(by_repl), 0);
    ck_assert_int_eq(dmg_server_stop(by_mta), 0);
    ck_assert_int_eq(dmg_server_stop(prov), 0);
}
END_TEST

/* ==========================================================================================
 * (e) scripts/dmg-check.sh
 * ======================================================================================== */

/* What two providers may each accept at once, loaded by slapadd (no overlay in tool mode):
 * one address on two people, a group naming a department and an auditor that are gone. */
static const char conflicts[] =
    "\n"
    "dn: uid=twin1,ou=Sales," DMG_SUFFIX "\n"
    "objectClass: inetOrgPerson\nuid: twin1\ncn: Twin One\nsn: One\n"
    "mail: Twins@example.com\n"
    "\n"
    "dn: uid=twin2,ou=Finance," DMG_SUFFIX "\n"
    "objectClass: inetOrgPerson\nuid: twin2\ncn: Twin Two\nsn: Two\n"
    "mail: twins@example.com\n"
    "\n"
    "dn: cn=orphan," GROUPS "\n"
    "objectClass: dynamicMailGroup\ncn: orphan\nmail: orphan@example.com\n"
    "dmgDepartment: ou=Gone," DMG_SUFFIX "\n"
    "dmgDepartment: ou=Sales," DMG_SUFFIX "\n"
    "dmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=nobody,ou=Sales," DMG_SUFFIX "\n"
    "dmgShowInContacts: FALSE\n";

/* org.ldif with extra appended, in a temporary file (unlink it). */
static char *fixture_with(const char *extra)
{
    const char *src = getenv("DMG_SRCDIR");
    char *path = NULL, *org = NULL;
    ck_assert_int_gt(asprintf(&org, "%s/tests/fixtures/org.ldif", src ? src : "."), 0);
    char *text = dmg_read_file(org);
    ck_assert_msg(*text != '\0', "cannot read %s", org);
    ck_assert_int_gt(asprintf(&path, "%s/dmg-replcfg-XXXXXX.ldif",
                              getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"),
                     0);
    int fd = mkstemps(path, 5);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fputs(extra, f);
    ck_assert_int_eq(fclose(f), 0);
    free(text);
    free(org);
    return path;
}

START_TEST(check_reports_duplicates_and_dangling_references)
{
    char *fixture = fixture_with(conflicts);
    dmg_server_opts o = { .fixture = fixture };
    dmg_server *s = dmg_server_start(&o);
    unlink(fixture);
    free(fixture);
    ck_assert_msg(s != NULL, "slapd did not start on the conflicting data");
    int status = -1;
    char *out = dmg_check_script(s, &status);
    DMG_ASSERT_STR(out,
                   "duplicate address twins@example.com: uid=twin1,ou=Sales," DMG_SUFFIX
                   "; uid=twin2,ou=Finance," DMG_SUFFIX "\n"
                   "dangling dmgDepartment in cn=orphan," GROUPS ": ou=Gone," DMG_SUFFIX "\n"
                   "dangling dmgAuditor in cn=orphan," GROUPS ": uid=nobody,ou=Sales,"
                   DMG_SUFFIX "\n"
                   "dmg-check: 1 duplicate addresses, 2 dangling references below "
                   DMG_SUFFIX "\n");
    ck_assert_int_eq(status, 1);
    free(out);
    ck_assert_int_eq(dmg_server_stop(s), 0);

    /* the fixture as it is, groups added through the overlay included: nothing to report */
    s = dmg_server_start(&(dmg_server_opts){ 0 });
    ck_assert_msg(s != NULL, "slapd did not start");
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    DMG_ASSERT_RC(dmg_add_ldif(root, hidden_group), LDAP_SUCCESS);
    dmg_disconnect(root);
    out = dmg_check_script(s, &status);
    DMG_ASSERT_STR(out, "dmg-check: 0 duplicate addresses, 0 dangling references below "
                        DMG_SUFFIX "\n");
    ck_assert_int_eq(status, 0);
    free(out);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------- */

static Suite *repl_config_suite(void)
{
    Suite *s = suite_create("repl_config");
    TCase *tc = dmg_tcase_timeout("order", TCASE_TIMEOUT_S);
    tcase_add_test(tc, syncprov_above_refused_at_start);
    tcase_add_test(tc, syncprov_above_refused_at_start_slapd_d);
    tcase_add_test(tc, syncprov_added_above_at_run_time);
    tcase_add_test(tc, dynmailgroup_added_below_syncprov_refused);
    suite_add_tcase(s, tc);
    tc = dmg_tcase_timeout("identity", TCASE_TIMEOUT_S);
    tcase_add_test(tc, sync_refused_to_ordinary_user_in_every_form);
    tcase_add_test(tc, refused_consumer_logged_once);
    tcase_add_test(tc, replication_identity_needs_full_read_access);
    suite_add_tcase(s, tc);
    tc = dmg_tcase_timeout("check", TCASE_TIMEOUT_S);
    tcase_add_test(tc, check_reports_duplicates_and_dangling_references);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* every test starts (and stops) its own servers: no suite-wide server */
    return dmg_run_suite_own_servers(repl_config_suite());
}
