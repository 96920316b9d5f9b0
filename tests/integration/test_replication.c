/*
 * test_replication.c -- man page REPLICATION (scale-out): the overlay under OpenLDAP replication.
 *
 * Every node runs the overlay, with syncprov configured BEFORE dynmailgroup (below it in the
 * stack, so syncprov never sees computed values), all on loopback:
 *
 *  (a) provider + refreshAndPersist consumer: the fixture replicates; a group a postmaster adds
 *      on the provider arrives with the same dmgApplicant (not re-stamped as the consumer's
 *      rootdn) and the consumer computes exactly the provider's members; employee add, modify,
 *      move and delete on the provider change the consumer's members identically; computed
 *      attributes are never stored on either node (ManageDsaIT reads, slapcat). In a test of
 *      its own: a department rename on the provider reaches the consumer as the provider's
 *      dmgDepartment rewrite (the consumer does not rewrite by itself).
 *  (b) two-node multi-provider (serverID 1 / 2): node 2 starts empty with a syncrepl to node 1;
 *      node 1's syncrepl to node 2 and olcMultiProvider are added at run time over cn=config
 *      (node 2's port is only known once it runs); writes on either node reach the other with
 *      the same stored values and the same computed members, and the overlay's role checks
 *      block no replicated write.
 *  (c) durability: a restart of either node keeps every group, its computed members and the
 *      overlay configuration.
 *  (d) a consumer's remembered roles follow the replicated writes that grant or take them.
 *
 * Replication is awaited by bounded polling of a condition (the harness's DMG_WAIT_SAME and
 * DMG_WAIT_FOR: every DMG_POLL_STEP_MS, at most dmg_poll_max_ms()); a timeout is reported as a failed comparison showing both sides.
 *
 * Fixture: tests/fixtures/org.ldif (see tests/fixtures/README.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup, strtok_r with -std=c99 */
#endif
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REPL_TCASE_TIMEOUT_S 240 /* several bounded replication waits in the worst case */

#define FIXTURE_ENTRIES 74 /* "dn:" lines in tests/fixtures/org.ldif */

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define POSTMASTER "uid=postmaster,ou=System," DMG_SUFFIX
#define READER     "uid=reader,ou=System," DMG_SUFFIX
#define GINA       "uid=gina,ou=Finance," DMG_SUFFIX

#define ENG      "ou=Engineering," DMG_SUFFIX
#define BACKEND  "ou=Backend," ENG
#define STORAGE  "ou=Storage," BACKEND
#define FRONTEND "ou=Frontend," ENG
#define FINANCE  "ou=Finance," DMG_SUFFIX
#define SALES    "ou=Sales," DMG_SUFFIX
#define EMEA     "ou=EMEA," SALES
#define APAC     "ou=APAC," SALES
#define SUPPORT  "ou=Support," DMG_SUFFIX
#define TIER1    "ou=Tier1," SUPPORT

/* after the department renames of test (a) */
#define ACCOUNTING "ou=Accounting," DMG_SUFFIX
#define PLATFORM   "ou=Platform," ENG
#define STORAGE2   "ou=Storage," PLATFORM

/* ---- configuration ------------------------------------------------------------------------ */

/* Same overlay configuration on every node; the cache is on, so the tests also prove that
 * replicated writes invalidate it.  The members of the fixture's groupOfNames cn=postmasters
 * are postmasters too (consumer_roles_follow_replicated_writes). */
#define POSTMASTERS "cn=postmasters,ou=System," DMG_SUFFIX
#define NODE_OVERLAY_CONFIG \
    "dynmailgroup-postmaster " POSTMASTER "\n" \
    "dynmailgroup-postmaster " POSTMASTERS "\n" \
    "dynmailgroup-cache-max-values 100000\n"

/* A provider: the fixture, syncprov below dynmailgroup. */
static dmg_server *start_provider(const char *global_config)
{
    dmg_server_opts o = {
        .modules = "syncprov",
        .global_config = global_config,
        .db_config = DMG_REPL_INDEX_AND_LIMITS,
        .overlays_before = DMG_SYNCPROV_BELOW,
        .overlay_config = NODE_OVERLAY_CONFIG,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "the provider did not start (see stderr)");
    return s;
}

/* A node that starts with an EMPTY database (no suffix entry: it comes by replication) and
 * replicates from provider; with multiprovider, also syncprov below dynmailgroup and
 * "multiprovider on" (node 2 of test (b)). */
static dmg_server *start_replica(const dmg_server *provider, const char *global_config,
                                 const char *rid, int multiprovider)
{
    char db_config[2048];
    dmg_replica_db_config(db_config, sizeof db_config, provider, rid, NULL,
                          multiprovider ? "multiprovider on\n" : NULL);
    dmg_server_opts o = {
        .modules = multiprovider ? "syncprov" : NULL,
        .global_config = global_config,
        .db_config = db_config,
        .overlays_before = multiprovider ? DMG_SYNCPROV_BELOW : NULL,
        .overlay_config = NODE_OVERLAY_CONFIG,
        .fixture = DMG_NO_FIXTURE,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "the replica did not start (see stderr)");
    return s;
}

/* The usual two nodes: a provider and a consumer of it, the rootdn connected to each once
 * the consumer holds the provider's tree */
static void start_pair(dmg_server **prov, dmg_server **cons, LDAP **p, LDAP **c)
{
    *prov = start_provider(NULL);
    *cons = start_replica(*prov, NULL, "001", 0);
    DMG_CONNECT_PAIR(*prov, *cons, p, c);
}

/* ---- snapshots: a search as sorted text lines, never aborting ------------------------------ */

static const char *const COMPUTED_ATTRS[] = { "member", "dmgMemberMail", "dmgMemberCount", NULL };
static const char *const STORED_ATTRS[] = { "*", "+", NULL };
/* Every group as stored, operational attributes included. */
static const dmg_query Q_GROUPS_STORED = { GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)",
                                       STORED_ATTRS, 1 };
/* Every group's computed values. */
static const dmg_query Q_COMPUTED = { GROUPS, LDAP_SCOPE_ONELEVEL, "(objectClass=dynamicMailGroup)",
                                  COMPUTED_ATTRS, 0 };

/* Values of attr of one entry, as stored (ManageDsaIT) or computed. */
static dmg_query entry_attr_query(const char *dn, const char *const *attrs, int manage)
{
    dmg_query q = { dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, manage };
    return q;
}

/* "dn | attr: v" lines for one entry and a "\n"-separated list of values. */
static char *attr_lines(const char *dn, const char *attr, const char *values)
{
    dmg_text t = { 0 };
    dmg_text_printf(&t, "%s\n", dn);
    char *copy = strdup(values);
    char *save = NULL;
    for (char *v = strtok_r(copy, "\n", &save); v; v = strtok_r(NULL, "\n", &save))
        dmg_text_printf(&t, "%s | %s: %s\n", dn, attr, v);
    free(copy);
    return t.s;
}

/* ---- groups and expected members ---------------------------------------------------------- */

#define G_ENG_BERLIN "cn=eng-berlin," GROUPS
#define G_STORAGE    "cn=storage," GROUPS
#define G_FINANCE    "cn=finance," GROUPS
#define G_MANAGERS   "cn=managers," GROUPS

static const char group_eng_berlin[] =
    "dn: " G_ENG_BERLIN "\n"
    "objectClass: dynamicMailGroup\n"
    "cn: eng-berlin\n"
    "mail: eng-berlin@example.com\n"
    "dmgDepartment: " ENG "\n"
    "dmgCondition: (l=Berlin)\n";

static const char group_storage[] =
    "dn: " G_STORAGE "\n"
    "objectClass: dynamicMailGroup\n"
    "cn: storage\n"
    "mail: storage@example.com\n"
    "dmgDepartment: " STORAGE "\n"
    "dmgSendPolicy: members\n";

static const char group_finance[] =
    "dn: " G_FINANCE "\n"
    "objectClass: dynamicMailGroup\n"
    "cn: finance\n"
    "mail: finance@example.com\n"
    "dmgDepartment: " FINANCE "\n"
    "dmgIncludeSubDepartments: FALSE\n"
    "dmgAdministrator: " GINA "\n";

static const char group_managers[] =
    "dn: " G_MANAGERS "\n"
    "objectClass: dynamicMailGroup\n"
    "cn: managers\n"
    "mail: managers@example.com\n"
    "dmgDepartment: " ENG "\n"
    "dmgDepartment: " SUPPORT "\n"
    "dmgCondition: (title=Manager)\n"
    "dmgAuditRequired: TRUE\n"
    "dmgAuditor: uid=mia," SUPPORT "\n";

#define ENG_BERLIN_BASE(backend, storage) \
    "uid=alice," ENG "\nuid=bob," ENG "\nuid=grace," backend "\nuid=heidi," backend "\n" \
    "uid=leo," storage "\nuid=mallory," storage "\nuid=rita," FRONTEND "\n"
#define STORAGE_BASE(storage) \
    "uid=leo," storage "\nuid=mallory," storage "\nuid=nina," storage "\nuid=oscar," storage "\n"
#define FINANCE_BASE(fin) \
    "uid=gina," fin "\nuid=hans," fin "\nuid=iris," fin "\nuid=jack," fin "\nuid=kate," fin \
    "\nuid=liam," fin "\n"
#define MANAGERS_BASE(backend, storage) \
    "uid=alice," ENG "\nuid=frank," backend "\nuid=leo," storage "\nuid=peggy," FRONTEND "\n" \
    "uid=mia," SUPPORT "\nuid=paul," TIER1 "\n"

#define NEWBIE_IN_STORAGE "uid=newbie," STORAGE
#define NEWBIE_IN_FINANCE "uid=newbie," FINANCE

static void add_groups_as_postmaster(const dmg_server *s)
{
    LDAP *pm = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm, group_eng_berlin), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(pm, group_storage), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(pm, group_finance), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(pm, group_managers), LDAP_SUCCESS);
    dmg_disconnect(pm);
}

/* The computed members of the four groups on ld are exactly these. */
static void assert_members(LDAP *ld, const char *eng_berlin, const char *storage,
                           const char *finance, const char *managers)
{
    DMG_ASSERT_VALUES(ld, G_ENG_BERLIN, LDAP_SCOPE_BASE, NULL, "member", eng_berlin);
    DMG_ASSERT_VALUES(ld, G_STORAGE, LDAP_SCOPE_BASE, NULL, "member", storage);
    DMG_ASSERT_VALUES(ld, G_FINANCE, LDAP_SCOPE_BASE, NULL, "member", finance);
    DMG_ASSERT_VALUES(ld, G_MANAGERS, LDAP_SCOPE_BASE, NULL, "member", managers);
}

/* One step of the employee life cycle: the provider computes exactly the expected lists, the
 * consumer comes to compute the same (members, mails, counts of every group), and the reverse
 * lookups (member=DN) and dmgMemberOf agree on both nodes with the expected groups. */
static void check_step(LDAP *p, LDAP *c, const char *eng_berlin, const char *storage,
                       const char *finance, const char *managers, const char *newbie,
                       const char *newbie_groups)
{
    assert_members(p, eng_berlin, storage, finance, managers);
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));
    assert_members(c, eng_berlin, storage, finance, managers);

    char filter[512];
    snprintf(filter, sizeof filter, "(member=%s)", newbie);
    dmg_query reverse = { DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, NULL, 0 };
    char *want = dmg_sorted_lines(newbie_groups);
    char *rp = dmg_snapshot(p, &reverse), *rc = dmg_snapshot(c, &reverse);
    DMG_ASSERT_STR(rp, want);
    DMG_ASSERT_STR(rc, want);
    free(rp);
    free(rc);
    free(want);

    static const char *const member_of[] = { "dmgMemberOf", NULL };
    dmg_query q = entry_attr_query(newbie, member_of, 0);
    char *mp = dmg_snapshot(p, &q), *mc = dmg_snapshot(c, &q);
    DMG_ASSERT_STR(mc, mp);
    free(mc);
    free(mp);
}

/* ---- computed values are never stored ----------------------------------------------------- */

static const char *const COMPUTED_NAMES[] = { "member", "dmgMemberMail", "dmgMemberCount",
                                              "dmgMemberOf", "dmgDecision", "dmgDecisionReason",
                                              "dmgAuditorMail", NULL };

static int is_computed_name(const char *name, int on_group)
{
    for (size_t i = 0; COMPUTED_NAMES[i]; i++) {
        if (strcasecmp(name, COMPUTED_NAMES[i]) == 0)
            return i > 0 || on_group; /* "member" is stored on static groups */
    }
    return 0;
}

/* With ManageDsaIT, requesting them by name, every computed attribute is absent. */
static void assert_nothing_computed_stored(LDAP *ld, const char *dn, int is_group)
{
    static const char *const attrs[] = { "*", "+", "member", "dmgMemberMail", "dmgMemberCount",
                                         "dmgMemberOf", "dmgDecision", "dmgDecisionReason",
                                         "dmgAuditorMail", NULL };
    dmg_entries *es = NULL;
    DMG_ASSERT_RC(dmg_search(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs,
                             DMG_CTRLS(dmg_ctrl_manage_dsait()), &es), LDAP_SUCCESS);
    ck_assert_uint_eq(es->count, 1);
    ck_assert_ptr_nonnull(dmg_entry_attr(&es->entries[0], "objectClass"));
    for (size_t j = 0; j < es->entries[0].nattrs; j++)
        ck_assert_msg(!is_computed_name(es->entries[0].attrs[j].name, is_group),
                      "%s is stored on %s: %s", es->entries[0].attrs[j].name, dn,
                      es->entries[0].attrs[j].values[0]);
    dmg_entries_free(es);
}

/* The LDIF holds each group of groups[] with the expected dmgApplicant; no group holds a
 * member line, and no entry holds a computed dmg attribute. */
static void assert_slapcat_clean(const dmg_server *s, const char *const *groups,
                                 const char *const *applicants)
{
    char *ldif = dmg_slapcat(s);
    size_t ngroups = 0, found = 0;
    char *save = NULL;
    /* entries are separated by an empty line */
    for (char *entry = ldif; entry != NULL && *entry != '\0';) {
        char *end = strstr(entry, "\n\n");
        if (end != NULL)
            *end = '\0';
        int is_group = strstr(entry, "\nobjectClass: dynamicMailGroup\n") != NULL;
        const char *dn = entry + (strncmp(entry, "dn: ", 4) == 0 ? 4 : 0);
        size_t dnlen = strcspn(dn, "\n");
        ngroups += is_group;
        for (size_t i = 0; is_group && groups[i]; i++) {
            if (strlen(groups[i]) != dnlen || strncasecmp(dn, groups[i], dnlen) != 0)
                continue;
            char want[1024];
            snprintf(want, sizeof want, "\ndmgApplicant: %s\n", applicants[i]);
            char *with_nl = malloc(strlen(entry) + 2);
            sprintf(with_nl, "%s\n", entry);
            ck_assert_msg(strstr(with_nl, want) != NULL,
                          "slapcat of %s: %.*s lacks%s", dmg_server_dir(s), (int)dnlen, dn, want);
            free(with_nl);
            found++;
        }
        for (char *l = strtok_r(entry, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char name[128];
            size_t nlen = strcspn(l, ":;");
            snprintf(name, sizeof name, "%.*s", (int)(nlen < sizeof name ? nlen : sizeof name - 1), l);
            ck_assert_msg(!is_computed_name(name, is_group),
                          "slapcat of %s: entry %.*s holds \"%s\"", dmg_server_dir(s),
                          (int)dnlen, dn, l);
        }
        save = NULL;
        entry = end != NULL ? end + 2 : NULL;
    }
    size_t expected = 0;
    while (groups[expected])
        expected++;
    ck_assert_msg(found == expected && ngroups == expected,
                  "slapcat of %s: %zu of the %zu groups found, %zu groups in all",
                  dmg_server_dir(s), found, expected, ngroups);
    free(ldif);
}

/* The overlays of the suffix's database, in stack order, with dynmailgroup's settings. */
static char *overlay_config_snapshot(const dmg_server *s)
{
    LDAP *cfg = dmg_connect_ldapi_external(s);
    char *db = dmg_config_db_dn(cfg);
    static const char *const attrs[] = { "olcOverlay", "olcDynMailGroupPostmaster",
                                         "olcDynMailGroupCacheMaxValues",
                                         "olcDynMailGroupMemberFilter",
                                         "olcDynMailGroupDepartmentFilter", NULL };
    dmg_query q = { db, LDAP_SCOPE_ONELEVEL, "(objectClass=olcOverlayConfig)", attrs, 0 };
    char *snap = dmg_snapshot(cfg, &q);
    free(db);
    dmg_disconnect(cfg);
    return snap;
}

/* ================================================================================================
 * (a) provider + refreshAndPersist consumer
 * ============================================================================================== */

START_TEST(provider_and_consumer)
{
    dmg_server *prov = start_provider(NULL);
    dmg_server *cons = start_replica(prov, NULL, "001", 0);
    LDAP *p = dmg_connect(prov, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *c = dmg_connect(cons, DMG_ROOTDN, DMG_ROOTPW);

    /* the overlay order of man page REPLICATION: syncprov first, dynmailgroup on top */
    char *ovl = overlay_config_snapshot(prov);
    ck_assert_msg(strstr(ovl, "olcOverlay={0}syncprov,") == ovl
                  && strstr(ovl, "\nolcOverlay={1}dynmailgroup,") != NULL,
                  "provider overlays: %s", ovl);
    free(ovl);

    /* the fixture arrives, every entry with its entryCSN and entryUUID */
    char *tree = DMG_WAIT_SAME(p, c, &dmg_q_tree);
    dmg_query dns = { DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(objectClass=*)", NULL, 1 };
    char *cdns = dmg_snapshot(c, &dns);
    size_t lines = 1;
    for (const char *q = cdns; *q; q++)
        lines += *q == '\n';
    ck_assert_uint_eq(lines, FIXTURE_ENTRIES);
    free(cdns);
    free(tree);

    /* groups added on the provider by the postmaster */
    add_groups_as_postmaster(prov);
    assert_members(p, ENG_BERLIN_BASE(BACKEND, STORAGE), STORAGE_BASE(STORAGE),
                   FINANCE_BASE(FINANCE), MANAGERS_BASE(BACKEND, STORAGE));
    /* ... arrive as stored (same entryUUID, entryCSN, creatorsName ...), not re-stamped */
    free(DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED));
    static const char *const applicant[] = { "dmgApplicant", NULL };
    const char *groups[] = { G_ENG_BERLIN, G_STORAGE, G_FINANCE, G_MANAGERS, NULL };
    for (size_t i = 0; groups[i]; i++) {
        dmg_query q = entry_attr_query(groups[i], applicant, 1);
        char *want = attr_lines(groups[i], "dmgapplicant", POSTMASTER);
        char *got = dmg_snapshot(c, &q), *sorted_want = dmg_sorted_lines(want);
        DMG_ASSERT_STR(got, sorted_want);
        free(got);
        free(sorted_want);
        free(want);
    }
    /* ... and the consumer computes the same members, mails and counts */
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));
    assert_members(c, ENG_BERLIN_BASE(BACKEND, STORAGE), STORAGE_BASE(STORAGE),
                   FINANCE_BASE(FINANCE), MANAGERS_BASE(BACKEND, STORAGE));
    {   /* also for the postmaster's identity, not only the rootdn's */
        LDAP *pp = dmg_connect(prov, POSTMASTER, DMG_PASSWORD);
        LDAP *pc = dmg_connect(cons, POSTMASTER, DMG_PASSWORD);
        free(DMG_WAIT_SAME(pp, pc, &Q_COMPUTED));
        dmg_disconnect(pp);
        dmg_disconnect(pc);
    }

    /* computed attributes do not travel: nothing stored on either node */
    for (size_t i = 0; groups[i]; i++) {
        assert_nothing_computed_stored(c, groups[i], 1);
        assert_nothing_computed_stored(p, groups[i], 1);
    }
    assert_nothing_computed_stored(c, "uid=leo," STORAGE, 0);

    /* employee life cycle on the provider */
    DMG_ASSERT_RC(dmg_add_ldif(p, "dn: " NEWBIE_IN_STORAGE "\n"
                                  "objectClass: inetOrgPerson\n"
                                  "uid: newbie\ncn: New Bie\nsn: Bie\n"
                                  "title: Engineer\nl: Paris\nmail: newbie@example.com\n"),
                  LDAP_SUCCESS);
    check_step(p, c, ENG_BERLIN_BASE(BACKEND, STORAGE),
               STORAGE_BASE(STORAGE) NEWBIE_IN_STORAGE "\n", FINANCE_BASE(FINANCE),
               MANAGERS_BASE(BACKEND, STORAGE), NEWBIE_IN_STORAGE, G_STORAGE);

    DMG_ASSERT_RC(dmg_modify(p, NEWBIE_IN_STORAGE, "replace: l\nl: Berlin\n"), LDAP_SUCCESS);
    check_step(p, c, ENG_BERLIN_BASE(BACKEND, STORAGE) NEWBIE_IN_STORAGE "\n",
               STORAGE_BASE(STORAGE) NEWBIE_IN_STORAGE "\n", FINANCE_BASE(FINANCE),
               MANAGERS_BASE(BACKEND, STORAGE), NEWBIE_IN_STORAGE,
               G_STORAGE "\n" G_ENG_BERLIN);

    DMG_ASSERT_RC(dmg_modify(p, NEWBIE_IN_STORAGE, "replace: title\ntitle: Manager\n"),
                  LDAP_SUCCESS);
    check_step(p, c, ENG_BERLIN_BASE(BACKEND, STORAGE) NEWBIE_IN_STORAGE "\n",
               STORAGE_BASE(STORAGE) NEWBIE_IN_STORAGE "\n", FINANCE_BASE(FINANCE),
               MANAGERS_BASE(BACKEND, STORAGE) NEWBIE_IN_STORAGE "\n", NEWBIE_IN_STORAGE,
               G_STORAGE "\n" G_ENG_BERLIN "\n" G_MANAGERS);

    DMG_ASSERT_RC(dmg_rename(p, NEWBIE_IN_STORAGE, "uid=newbie", FINANCE, 1), LDAP_SUCCESS);
    check_step(p, c, ENG_BERLIN_BASE(BACKEND, STORAGE), STORAGE_BASE(STORAGE),
               FINANCE_BASE(FINANCE) NEWBIE_IN_FINANCE "\n", MANAGERS_BASE(BACKEND, STORAGE),
               NEWBIE_IN_FINANCE, G_FINANCE);

    DMG_ASSERT_RC(dmg_delete(p, NEWBIE_IN_FINANCE), LDAP_SUCCESS);
    assert_members(p, ENG_BERLIN_BASE(BACKEND, STORAGE), STORAGE_BASE(STORAGE),
                   FINANCE_BASE(FINANCE), MANAGERS_BASE(BACKEND, STORAGE));
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));
    assert_members(c, ENG_BERLIN_BASE(BACKEND, STORAGE), STORAGE_BASE(STORAGE),
                   FINANCE_BASE(FINANCE), MANAGERS_BASE(BACKEND, STORAGE));

    free(DMG_WAIT_SAME(p, c, &dmg_q_tree));

    /* slapcat of both nodes: groups stored with the postmaster as applicant, nothing computed */
    const char *applicants[] = { POSTMASTER, POSTMASTER, POSTMASTER, POSTMASTER, NULL };
    assert_slapcat_clean(prov, groups, applicants);
    assert_slapcat_clean(cons, groups, applicants);

    DMG_STOP_PAIR(prov, cons, p, c);
}
END_TEST

/* A department rename on the provider: the provider rewrites the dmgDepartment values that
 * name the department or an entry below it (man page MEMBERSHIP), and the consumer, which does not
 * rewrite by itself (replicated writes are taken as they come), receives that rewrite. */
START_TEST(department_rename_reaches_consumer)
{
    dmg_server *prov, *cons;
    LDAP *p, *c;
    start_pair(&prov, &cons, &p, &c);
    add_groups_as_postmaster(prov);
    free(DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED));
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));

    /* department renames on the provider: the provider rewrites dmgDepartment (a department
     * a group names, and an ancestor of one), the consumer receives that rewrite */
    DMG_ASSERT_RC(dmg_rename(p, FINANCE, "ou=Accounting", NULL, 1), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(p, BACKEND, "ou=Platform", NULL, 1), LDAP_SUCCESS);
    static const char *const dept[] = { "dmgDepartment", NULL };
    dmg_query qfin = entry_attr_query(G_FINANCE, dept, 1);
    dmg_query qsto = entry_attr_query(G_STORAGE, dept, 1);
    dmg_query qeng = entry_attr_query(G_ENG_BERLIN, dept, 1);
    char *want_fin = attr_lines(G_FINANCE, "dmgdepartment", ACCOUNTING);
    char *want_sto = attr_lines(G_STORAGE, "dmgdepartment", STORAGE2);
    char *want_eng = attr_lines(G_ENG_BERLIN, "dmgdepartment", ENG);
    char *got = dmg_snapshot(p, &qfin);
    char *sorted = dmg_sorted_lines(want_fin);
    DMG_ASSERT_STR(got, sorted);
    free(got);
    free(sorted);
    got = dmg_snapshot(p, &qsto);
    sorted = dmg_sorted_lines(want_sto);
    DMG_ASSERT_STR(got, sorted);
    free(got);
    free(sorted);
    DMG_WAIT_FOR(c, &qfin, want_fin);
    DMG_WAIT_FOR(c, &qsto, want_sto);
    DMG_WAIT_FOR(c, &qeng, want_eng);
    free(want_fin);
    free(want_sto);
    free(want_eng);
    assert_members(p, ENG_BERLIN_BASE(PLATFORM, STORAGE2), STORAGE_BASE(STORAGE2),
                   FINANCE_BASE(ACCOUNTING), MANAGERS_BASE(PLATFORM, STORAGE2));
    free(DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED));
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));
    assert_members(c, ENG_BERLIN_BASE(PLATFORM, STORAGE2), STORAGE_BASE(STORAGE2),
                   FINANCE_BASE(ACCOUNTING), MANAGERS_BASE(PLATFORM, STORAGE2));
    free(DMG_WAIT_SAME(p, c, &dmg_q_tree));

    DMG_STOP_PAIR(prov, cons, p, c);
}
END_TEST

/* ================================================================================================
 * (b) two-node multi-provider
 * ============================================================================================== */

#define G_MP_SALES "cn=mp-sales," GROUPS
#define G_MP_RELAX "cn=mp-relax," GROUPS
#define MPNEW_SALES "uid=mpnew," SALES
#define MPNEW_EMEA  "uid=mpnew," EMEA

#define SALES_ALL(extra) \
    "uid=uma," SALES "\nuid=victor," SALES "\nuid=wendy," SALES "\n" \
    "uid=xavier," EMEA "\nuid=yvonne," EMEA "\nuid=zoe," EMEA "\nuid=adam," EMEA "\n" \
    "uid=bella," EMEA "\nuid=chen," APAC "\nuid=daiki," APAC "\nuid=emma," APAC "\n" \
    "uid=felix," APAC "\n" extra
#define EMEA_BERLIN(extra) \
    "uid=yvonne," EMEA "\nuid=adam," EMEA "\n" extra

START_TEST(multi_provider)
{
    dmg_server *n1 = start_provider("serverID 1\n");
    dmg_server *n2 = start_replica(n1, "serverID 2\n", "001", 1);
    LDAP *l1, *l2;
    DMG_CONNECT_PAIR(n1, n2, &l1, &l2);

    /* close the ring at run time: node 1 replicates from node 2, and takes writes as a
     * multi-provider (olcMultiProvider needs the syncrepl first) */
    LDAP *cfg = dmg_connect_ldapi_external(n1);
    char *db = dmg_config_db_dn(cfg);
    char sr[1024], mod[1200];
    dmg_syncrepl_value(sr, sizeof sr, "002", dmg_server_uri(n2), NULL);
    snprintf(mod, sizeof mod, "add: olcSyncrepl\nolcSyncrepl: %s\n", sr);
    DMG_ASSERT_RC(dmg_modify(cfg, db, mod), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(cfg, db, "replace: olcMultiProvider\nolcMultiProvider: TRUE\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_VALUES(cfg, db, LDAP_SCOPE_BASE, NULL, "olcMultiProvider", "TRUE");
    free(db);
    dmg_disconnect(cfg);

    /* a group written on node 2 by the postmaster arrives on node 1 unchanged */
    LDAP *pm2 = dmg_connect(n2, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm2, "dn: " G_MP_SALES "\n"
                                    "objectClass: dynamicMailGroup\n"
                                    "cn: mp-sales\nmail: mp-sales@example.com\n"
                                    "dmgDepartment: " SALES "\n"
                                    "dmgAdministrator: " GINA "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_VALUES_EXT(l2, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "dmgApplicant", POSTMASTER,
                          DMG_CTRLS(dmg_ctrl_manage_dsait()));
    free(DMG_WAIT_SAME(l1, l2, &Q_GROUPS_STORED));
    DMG_ASSERT_VALUES_EXT(l1, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "dmgApplicant", POSTMASTER,
                          DMG_CTRLS(dmg_ctrl_manage_dsait()));
    free(DMG_WAIT_SAME(l1, l2, &Q_COMPUTED));
    DMG_ASSERT_VALUES(l1, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "member", SALES_ALL(""));

    /* an employee written on node 1 shows up in node 2's computed members */
    DMG_ASSERT_RC(dmg_add_ldif(l1, "dn: " MPNEW_SALES "\n"
                                   "objectClass: inetOrgPerson\n"
                                   "uid: mpnew\ncn: Mp New\nsn: New\nl: Berlin\n"
                                   "mail: mpnew@example.com\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_VALUES(l1, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "member",
                      SALES_ALL(MPNEW_SALES "\n"));
    free(DMG_WAIT_SAME(l1, l2, &Q_COMPUTED));
    DMG_ASSERT_VALUES(l2, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "member",
                      SALES_ALL(MPNEW_SALES "\n"));

    /* the group's administrator narrows it on node 2 (a write the overlay grants to a role),
     * the employee moves on node 1: both nodes compute the same */
    LDAP *gina2 = dmg_connect(n2, GINA, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_modify(gina2, G_MP_SALES, "replace: dmgDepartment\n"
                                                "dmgDepartment: " EMEA "\n"
                                                "-\nadd: dmgCondition\n"
                                                "dmgCondition: (l=Berlin)\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(gina2);
    DMG_ASSERT_RC(dmg_rename(l1, MPNEW_SALES, "uid=mpnew", EMEA, 1), LDAP_SUCCESS);
    free(DMG_WAIT_SAME(l1, l2, &Q_GROUPS_STORED));
    free(DMG_WAIT_SAME(l1, l2, &Q_COMPUTED));
    DMG_ASSERT_VALUES(l1, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "member",
                      EMEA_BERLIN(MPNEW_EMEA "\n"));
    DMG_ASSERT_VALUES(l2, G_MP_SALES, LDAP_SCOPE_BASE, NULL, "member",
                      EMEA_BERLIN(MPNEW_EMEA "\n"));

    /* role checks do not block replication: the rootdn's Relax repair of dmgApplicant on
     * node 1 (someone else as applicant) reaches node 2 unchanged */
    DMG_ASSERT_RC(dmg_add_ldif_ext(l1, "dn: " G_MP_RELAX "\n"
                                       "objectClass: dynamicMailGroup\n"
                                       "cn: mp-relax\nmail: mp-relax@example.com\n"
                                       "dmgDepartment: " FINANCE "\n"
                                       "dmgApplicant: " GINA "\n",
                                   DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    free(DMG_WAIT_SAME(l1, l2, &Q_GROUPS_STORED));
    DMG_ASSERT_VALUES_EXT(l2, G_MP_RELAX, LDAP_SCOPE_BASE, NULL, "dmgApplicant", GINA,
                          DMG_CTRLS(dmg_ctrl_manage_dsait()));
    free(DMG_WAIT_SAME(l1, l2, &Q_COMPUTED));
    DMG_ASSERT_VALUES(l2, G_MP_RELAX, LDAP_SCOPE_BASE, NULL, "member", FINANCE_BASE(FINANCE));

    /* ... and the postmaster's delete on node 2 removes it on node 1 */
    DMG_ASSERT_RC(dmg_delete(pm2, G_MP_RELAX), LDAP_SUCCESS);
    free(DMG_WAIT_SAME(l1, l2, &Q_GROUPS_STORED));
    dmg_query gone = { G_MP_RELAX, LDAP_SCOPE_BASE, "(objectClass=*)", NULL, 1 };
    char *r1 = dmg_snapshot(l1, &gone);
    ck_assert_msg(strncmp(r1, "!", 1) == 0 && strstr(r1, "(32)") != NULL,
                  "node 1 still has " G_MP_RELAX ": %s", r1);
    free(r1);
    dmg_disconnect(pm2);

    /* both nodes hold the same tree, entry for entry, CSN for CSN */
    free(DMG_WAIT_SAME(l1, l2, &dmg_q_tree));
    const char *groups[] = { G_MP_SALES, NULL };
    const char *applicants[] = { POSTMASTER, NULL };
    assert_slapcat_clean(n1, groups, applicants);
    assert_slapcat_clean(n2, groups, applicants);

    DMG_STOP_PAIR(n1, n2, l1, l2);
}
END_TEST

/* ================================================================================================
 * (c) durability across restarts
 * ============================================================================================== */

#define G_HIDDEN "cn=hidden-support," GROUPS

START_TEST(restart_keeps_groups_and_configuration)
{
    dmg_server *prov, *cons;
    LDAP *p, *c;
    start_pair(&prov, &cons, &p, &c);
    add_groups_as_postmaster(prov);
    LDAP *pm = dmg_connect(prov, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm, "dn: " G_HIDDEN "\n"
                                   "objectClass: dynamicMailGroup\n"
                                   "cn: hidden-support\nmail: hidden-support@example.com\n"
                                   "dmgDepartment: " SUPPORT "\n"
                                   "dmgShowInContacts: FALSE\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);

    char *stored = DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED);
    char *computed = DMG_WAIT_SAME(p, c, &Q_COMPUTED);
    ck_assert_ptr_nonnull(strstr(computed, G_HIDDEN " | dmgmembercount: 12\n"));
    char *ovl_p = overlay_config_snapshot(prov);
    char *ovl_c = overlay_config_snapshot(cons);
    ck_assert_ptr_nonnull(strstr(ovl_p, "olcdynmailgrouppostmaster: " POSTMASTER "\n"));
    ck_assert_ptr_nonnull(strstr(ovl_c, "olcdynmailgrouppostmaster: " POSTMASTER "\n"));
    dmg_disconnect(p);
    dmg_disconnect(c);

    /* the consumer, then the provider */
    dmg_server *order[] = { cons, prov };
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(dmg_server_restart(order[i]), 0);
        LDAP *ld = dmg_connect(order[i], DMG_ROOTDN, DMG_ROOTPW);
        char *s = dmg_snapshot(ld, &Q_GROUPS_STORED);
        DMG_ASSERT_STR(s, stored);
        free(s);
        s = dmg_snapshot(ld, &Q_COMPUTED);
        DMG_ASSERT_STR(s, computed);
        free(s);
        s = overlay_config_snapshot(order[i]);
        DMG_ASSERT_STR(s, order[i] == prov ? ovl_p : ovl_c);
        free(s);
        /* the hidden group is still hidden from an ordinary reader */
        LDAP *rd = dmg_connect(order[i], READER, DMG_PASSWORD);
        DMG_ASSERT_RC(dmg_search(rd, G_HIDDEN, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                      LDAP_NO_SUCH_OBJECT);
        dmg_disconnect(rd);
        dmg_disconnect(ld);
    }

    /* roles survive the provider's restart: the postmaster still creates (and is stamped),
     * the reader still may not; replication resumes */
    p = dmg_connect(prov, DMG_ROOTDN, DMG_ROOTPW);
    c = dmg_connect(cons, DMG_ROOTDN, DMG_ROOTPW);
    static const char after_restart[] =
        "dn: cn=after-restart," GROUPS "\n"
        "objectClass: dynamicMailGroup\n"
        "cn: after-restart\nmail: after-restart@example.com\n"
        "dmgDepartment: " TIER1 "\n";
    LDAP *rd = dmg_connect(prov, READER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(rd, after_restart), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(rd);
    pm = dmg_connect(prov, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm, after_restart), LDAP_SUCCESS);
    dmg_disconnect(pm);
    DMG_ASSERT_VALUES_EXT(p, "cn=after-restart," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgApplicant",
                          POSTMASTER, DMG_CTRLS(dmg_ctrl_manage_dsait()));
    free(DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED));
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));
    DMG_ASSERT_VALUES(c, "cn=after-restart," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=paul," TIER1 "\nuid=rosa," TIER1 "\nuid=sven," TIER1 "\n"
                      "uid=tara," TIER1 "\nuid=ulla," TIER1);

    free(stored);
    free(computed);
    free(ovl_p);
    free(ovl_c);
    DMG_STOP_PAIR(prov, cons, p, c);
}
END_TEST

/* ================================================================================================
 * (d) remembered roles on a consumer
 * ============================================================================================== */

/* A consumer remembers its requesters' roles between their operations as a provider does
 * (access.c, dmg_who_recall); a replicated write that grants or takes away a role moves them
 * on there too: an ordinary reader made a member of the groupOfNames of postmasters on the
 * provider sees the hidden group on the consumer once the change has arrived, on the
 * connection it had before, and no longer sees it once the change is undone. */
#define G_REPL_HIDDEN "cn=repl-hidden," GROUPS

START_TEST(consumer_roles_follow_replicated_writes)
{
    dmg_server *prov, *cons;
    LDAP *p, *c;
    start_pair(&prov, &cons, &p, &c);
    DMG_ASSERT_RC(dmg_add_ldif(p, "dn: " G_REPL_HIDDEN "\n"
                                  "objectClass: dynamicMailGroup\n"
                                  "cn: repl-hidden\nmail: repl-hidden@example.com\n"
                                  "dmgDepartment: " TIER1 "\n"
                                  "dmgShowInContacts: FALSE\n"),
                  LDAP_SUCCESS);
    free(DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED));

    static const char *const member_attr[] = { "member", NULL };
    dmg_query q_pms = entry_attr_query(POSTMASTERS, member_attr, 0);
    char *granted = attr_lines(POSTMASTERS, "member", "uid=pm2,ou=System," DMG_SUFFIX "\n" READER);
    char *taken = attr_lines(POSTMASTERS, "member", "uid=pm2,ou=System," DMG_SUFFIX);
    LDAP *rd = dmg_connect(cons, READER, DMG_PASSWORD);
    for (int round = 0; round < 2; round++) {
        DMG_ASSERT_DNS(rd, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=repl-hidden)", "");
        DMG_ASSERT_DNS(rd, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=repl-hidden)", "");
        DMG_ASSERT_RC(dmg_modify(p, POSTMASTERS, "add: member\nmember: " READER "\n"),
                      LDAP_SUCCESS);
        DMG_WAIT_FOR(c, &q_pms, granted);
        DMG_ASSERT_DNS(rd, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=repl-hidden)", G_REPL_HIDDEN);
        DMG_ASSERT_DNS(rd, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=repl-hidden)", G_REPL_HIDDEN);
        DMG_ASSERT_RC(dmg_modify(p, POSTMASTERS, "delete: member\nmember: " READER "\n"),
                      LDAP_SUCCESS);
        DMG_WAIT_FOR(c, &q_pms, taken);
    }
    DMG_ASSERT_DNS(rd, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=repl-hidden)", "");
    DMG_ASSERT_RC(dmg_search(rd, G_REPL_HIDDEN, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(rd);
    free(granted);
    free(taken);
    DMG_STOP_PAIR(prov, cons, p, c);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */

static Suite *replication_suite(void)
{
    Suite *s = suite_create("replication");
    TCase *tc = dmg_tcase_timeout("syncrepl", REPL_TCASE_TIMEOUT_S);
    tcase_add_test(tc, provider_and_consumer);
    tcase_add_test(tc, department_rename_reaches_consumer);
    tcase_add_test(tc, multi_provider);
    tcase_add_test(tc, restart_keeps_groups_and_configuration);
    tcase_add_test(tc, consumer_roles_follow_replicated_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* every test starts (and stops) its own nodes: no suite-wide server */
    return dmg_run_suite_own_servers(replication_suite());
}
