/*
 * test_cache.c -- the membership cache as administrators and clients see it (man page
 * CONFIGURATION: dynmailgroup-cache-max-values; MONITORING):
 *   - its statistics, read over LDAP from the overlay's entry under cn=monitor;
 *   - a write drops only the lists of the groups it concerns: a group elsewhere stays cached
 *     (the statistics prove the hit), the group concerned shows the change at once;
 *   - writes and reads racing through one cached group: every read that follows a write's
 *     return reflects it, while an unrelated group's list is read from the cache throughout;
 *   - a long series of adds and deletes, each updating the lists in place (more than an
 *     updated list shares strings with the one it replaces), read concurrently: every
 *     read is exact for one moment of the series, and never goes back in time;
 *   - dynmailgroup-member-visibility group: one list (the rootdn's) for everyone who may read
 *     the group's member, nothing for the others, switched at run time;
 *   - the roles of an identity whose DN is too long to be remembered follow every write.
 *
 * One server for the suite, with the monitor database and the cache on; each test adds its own
 * groups (names carry the test's name).  Readers in threads never call Check: they count
 * failures and keep the first, the test thread asserts.  No sleeps: threads run a fixed number
 * of operations as fast as they can.
 */
#define _GNU_SOURCE /* asprintf */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GROUPS  "ou=Groups," DMG_SUFFIX
#define MTA     "uid=mta,ou=System," DMG_SUFFIX
#define ALICE   "uid=alice,ou=Engineering," DMG_SUFFIX
#define CAROL   "uid=carol,ou=Engineering," DMG_SUFFIX
#define MONITOR "cn=Databases,cn=Monitor"
#define DMG_MONITOR_FILTER "(&(objectClass=dmgCacheMonitor)(monitoredInfo=dynmailgroup))"

static dmg_server *server;

/* The monitor database before the groups' database: slapd 2.6 publishes an overlay's
 * statistics only then (man page MONITORING) */
#define MONITOR_FIRST "database monitor\n" /* so the groups' database is {2}mdb */

#define OVERLAY_CONFIG_DN "olcOverlay={0}dynmailgroup,olcDatabase={2}mdb,cn=config"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* One statistic of the overlay's monitor entry */
static unsigned long stat_of(LDAP *ld, const char *attr)
{
    char *v = dmg_values_joined(ld, MONITOR, LDAP_SCOPE_SUBTREE, DMG_MONITOR_FILTER, attr);
    char *end;
    unsigned long n = strtoul(v, &end, 10);

    ck_assert_msg(*v != '\0' && *end == '\0', "%s: \"%s\" is not one number", attr, v);
    free(v);
    return n;
}

typedef struct stats {
    unsigned long hits, misses, targeted, full;
} stats;

static stats stats_now(LDAP *ld)
{
    stats s = { stat_of(ld, "dmgCacheHits"), stat_of(ld, "dmgCacheMisses"),
                stat_of(ld, "dmgCacheInvalidationsTargeted"),
                stat_of(ld, "dmgCacheInvalidationsFull") };
    return s;
}

static void add_group(LDAP *ld, const char *cn, const char *dept, const char *condition)
{
    char ldif[1024];

    snprintf(ldif, sizeof ldif,
             "dn: cn=%s," GROUPS "\nobjectClass: dynamicMailGroup\ncn: %s\n"
             "mail: %s@example.com\ndmgDepartment: %s\n%s%s%s",
             cn, cn, cn, dept, condition ? "dmgCondition: " : "", condition ? condition : "",
             condition ? "\n" : "");
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
}

static char *members_of(LDAP *ld, const char *cn)
{
    char dn[256];

    snprintf(dn, sizeof dn, "cn=%s," GROUPS, cn);
    return dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, "member");
}

/* Two reads of cn=<cn> by reader: the first computes the list (a miss), the second is served
 * from the cache (a hit); statistics read through ld */
static void assert_miss_then_hit(LDAP *ld, LDAP *reader, const char *cn)
{
    stats before = stats_now(ld), after;

    for (int i = 0; i < 2; i++)
        free(members_of(reader, cn));
    after = stats_now(ld);
    ck_assert_uint_eq(after.misses - before.misses, 1);
    ck_assert_uint_eq(after.hits - before.hits, 1);
}

/* ---- statistics ------------------------------------------------------------------------------- */

START_TEST(monitor_entry_has_the_statistics)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    static const char *const attrs[] = {
        "dmgCacheHits", "dmgCacheMisses", "dmgCacheInvalidationsTargeted",
        "dmgCacheInvalidationsFull", "dmgCacheDropped", "dmgCacheRefused",
        "dmgCacheEvictions", "dmgCacheEntries", "dmgCacheValues", "dmgCacheBytes",
        "dmgCacheKept", "dmgCacheUpdated", NULL
    };

    /* one entry, below its database's entry */
    char *dns = dmg_dns_joined(root, MONITOR, LDAP_SCOPE_SUBTREE, DMG_MONITOR_FILTER);
    ck_assert_msg(strstr(dns, "cn=Overlay ") == dns && strchr(dns, '\n') == NULL
                      && strstr(dns, ",cn=Database ") != NULL,
                  "monitor entry: \"%s\"", dns);
    free(dns);
    for (size_t i = 0; attrs[i]; i++)
        (void)stat_of(root, attrs[i]);
    ck_assert_uint_eq(stat_of(root, "dmgCacheMaxValues"), 1000000);

    /* a miss, then a hit; entries, values and bytes count the list */
    add_group(root, "stats-eng", "ou=Engineering," DMG_SUFFIX, NULL);
    assert_miss_then_hit(root, root, "stats-eng");
    ck_assert_uint_ge(stat_of(root, "dmgCacheEntries"), 1);
    ck_assert_uint_ge(stat_of(root, "dmgCacheValues"), 20);
    ck_assert_uint_ge(stat_of(root, "dmgCacheBytes"), 20 * 2 * sizeof "uid=x,ou=Engineering");
    dmg_disconnect(root);
}
END_TEST

/* ---- targeted invalidation -------------------------------------------------------------------- */

START_TEST(write_drops_only_the_groups_it_concerns)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    stats before, after;
    char *eng, *fin, *m;

    add_group(root, "t-eng-mgr", "ou=Engineering," DMG_SUFFIX, "(title=Manager)");
    add_group(root, "t-fin", "ou=Finance," DMG_SUFFIX, NULL);
    eng = members_of(root, "t-eng-mgr");
    fin = members_of(root, "t-fin");
    ck_assert_ptr_nonnull(strstr(eng, ALICE));
    ck_assert_ptr_null(strstr(eng, CAROL));

    /* an Engineering employee becomes a manager */
    before = stats_now(root);
    DMG_ASSERT_RC(dmg_modify(root, CAROL, "replace: title\ntitle: Manager\n"), LDAP_SUCCESS);
    m = members_of(root, "t-fin");
    ck_assert_str_eq(m, fin);
    free(m);
    after = stats_now(root);
    ck_assert_msg(after.hits - before.hits == 1 && after.misses == before.misses,
                  "Finance's list was not kept: %lu hits, %lu misses", after.hits - before.hits,
                  after.misses - before.misses);
    ck_assert_uint_eq(after.targeted - before.targeted, 1);
    ck_assert_uint_eq(after.full, before.full);
    m = members_of(root, "t-eng-mgr");
    ck_assert_ptr_nonnull(strstr(m, CAROL));
    free(m);

    /* the group itself is written: its list goes, the other stays */
    before = stats_now(root);
    DMG_ASSERT_RC(dmg_modify(root, "cn=t-eng-mgr," GROUPS,
                             "replace: dmgCondition\ndmgCondition: (title=Engineer)\n"),
                  LDAP_SUCCESS);
    m = members_of(root, "t-eng-mgr");
    ck_assert_ptr_null(strstr(m, CAROL));
    ck_assert_ptr_null(strstr(m, ALICE));
    free(m);
    m = members_of(root, "t-fin");
    free(m);
    after = stats_now(root);
    ck_assert_uint_eq(after.misses - before.misses, 1);
    ck_assert_uint_eq(after.hits - before.hits, 1);

    /* a move drops the lists of the groups of its old and new place, not the others' */
    add_group(root, "t-eng-all", "ou=Engineering," DMG_SUFFIX, NULL);
    add_group(root, "t-sales", "ou=Sales," DMG_SUFFIX, NULL);
    m = members_of(root, "t-eng-all");
    ck_assert_ptr_nonnull(strstr(m, CAROL));
    free(m);
    m = members_of(root, "t-sales");
    free(m);
    before = stats_now(root);
    DMG_ASSERT_RC(dmg_rename(root, CAROL, "uid=carol", "ou=Finance," DMG_SUFFIX, 1),
                  LDAP_SUCCESS);
    m = members_of(root, "t-sales");
    free(m);
    after = stats_now(root);
    ck_assert_uint_eq(after.full, before.full);
    ck_assert_uint_eq(after.targeted - before.targeted, 1);
    ck_assert_uint_eq(after.hits - before.hits, 1);
    m = members_of(root, "t-fin");
    ck_assert_ptr_nonnull(strstr(m, "uid=carol,ou=Finance," DMG_SUFFIX));
    free(m);
    m = members_of(root, "t-eng-all");
    ck_assert_ptr_null(strstr(m, "carol"));
    free(m);
    DMG_ASSERT_RC(dmg_rename(root, "uid=carol,ou=Finance," DMG_SUFFIX, "uid=carol",
                             "ou=Engineering," DMG_SUFFIX, 1),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(root, CAROL, "replace: title\ntitle: Engineer\n"), LDAP_SUCCESS);
    free(eng);
    free(fin);
    dmg_disconnect(root);
}
END_TEST

/* A modify that changes no attribute a group's list reads (an employee's description, a
 * password policy's bind time) keeps the list, for the rootdn and for the MTA (whose rights the
 * ACLs decide); one that changes a condition's attribute drops it */
START_TEST(modify_of_unread_attributes_keeps_the_lists)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    unsigned long kept;
    stats before, after;
    char *fresh, *m;

    add_group(root, "k-eng-mgr", "ou=Engineering," DMG_SUFFIX, "(title=Manager)");
    free(members_of(root, "k-eng-mgr"));
    free(members_of(mta, "k-eng-mgr"));

    kept = stat_of(root, "dmgCacheKept");
    before = stats_now(root);
    DMG_EXPECT_OK(dmg_modify(root, ALICE, "replace: description\ndescription: on leave\n"),
                  "description");
    DMG_EXPECT_OK(dmg_modify(root, "cn=k-eng-mgr," GROUPS,
                             "replace: description\ndescription: the managers\n"),
                  "the group's description");
    m = members_of(root, "k-eng-mgr");
    free(members_of(mta, "k-eng-mgr"));
    after = stats_now(root);
    ck_assert_uint_eq(after.misses - before.misses, 0);
    ck_assert_uint_eq(after.hits - before.hits, 2);
    ck_assert_uint_ge(stat_of(root, "dmgCacheKept") - kept, 4);
    ck_assert_uint_eq(after.targeted - before.targeted, 2);

    /* what was kept is what a computation gives: anonymous has not read the group yet */
    DMG_ASSERT_STR(m, fresh = members_of(anon, "k-eng-mgr"));
    free(fresh);
    free(m);

    /* a condition's attribute: the lists change (updated in place), and the next read
     * shows it */
    before = stats_now(root);
    DMG_EXPECT_OK(dmg_modify(root, CAROL, "replace: title\ntitle: Manager\n"), "title");
    m = members_of(mta, "k-eng-mgr");
    ck_assert_ptr_nonnull(strstr(m, CAROL));
    free(m);
    after = stats_now(root);
    ck_assert_uint_eq(after.misses - before.misses, 0);
    DMG_EXPECT_OK(dmg_modify(root, CAROL, "replace: title\ntitle: Engineer\n"), "title back");
    DMG_EXPECT_OK(dmg_modify(root, ALICE, "delete: description\n"), "description back");
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* ---- lists updated in place ------------------------------------------------------------------ */

#define FRONTEND "ou=Frontend,ou=Engineering," DMG_SUFFIX
#define NEWBIE   "uid=newbie," FRONTEND

static unsigned long updated_now(LDAP *ld)
{
    return stat_of(ld, "dmgCacheUpdated");
}

/* Empties the cache (olcDynMailGroupFlush): the next read of any list computes it */
static void flush_cache(void)
{
    LDAP *cfg = dmg_connect_ldapi_external(server);

    DMG_EXPECT_OK(dmg_modify(cfg, OVERLAY_CONFIG_DN,
                             "replace: olcDynMailGroupFlush\nolcDynMailGroupFlush: TRUE\n"),
                  "flushing the cache");
    dmg_disconnect(cfg);
}

/* member, a separator, then dmgMemberMail of cn=<cn> as ld reads them (two lookups of the
 * list: the first a miss when it is not cached) */
static char *list_of(LDAP *ld, const char *cn)
{
    const char *dn = dmg_fmt("cn=%s," GROUPS, cn);
    char *m = dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, "member");
    char *mail = dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, "dmgMemberMail");
    char *both = NULL;

    ck_assert_int_ge(asprintf(&both, "%s\n--\n%s", m, mail), 0);
    free(m);
    free(mail);
    return both;
}

#define MAX_FRESH 4

/* The lists of the groups cns[0..ncn) as each of lds[0..nld) reads them now (from the cache
 * when it has them) are those a computation gives: the cache is then emptied and anonymous
 * computes them (the suite's ACLs let these identities read the groups and their members
 * alike).  Each identity reads them again after, so that they are cached as before. */
static void assert_cached_are_fresh(LDAP *const *lds, int nld, LDAP *anon,
                                    const char *const *cns, int ncn)
{
    char *cached[MAX_FRESH][MAX_FRESH];

    ck_assert_int_le(nld, MAX_FRESH);
    ck_assert_int_le(ncn, MAX_FRESH);
    for (int i = 0; i < nld; i++)
        for (int g = 0; g < ncn; g++)
            cached[i][g] = list_of(lds[i], cns[g]);
    flush_cache();
    for (int g = 0; g < ncn; g++) {
        char *fresh = list_of(anon, cns[g]);

        for (int i = 0; i < nld; i++) {
            DMG_ASSERT_STR(cached[i][g], fresh);
            free(cached[i][g]);
        }
        free(fresh);
    }
    for (int i = 0; i < nld; i++)
        for (int g = 0; g < ncn; g++)
            free(list_of(lds[i], cns[g]));
}

static void assert_cached_is_fresh(LDAP *ld, LDAP *anon, const char *cn)
{
    assert_cached_are_fresh(&ld, 1, anon, &cn, 1);
}

static const char *const u_groups[] = { "u-fe", "u-fe-eng" };

/* After one write of one employee: the lists of both groups for the rootdn, the MTA and
 * anonymous are read from the cache (no miss) when the write updated them in place or kept
 * them (a modify of no attribute a list reads; six lists counted), else computed again (six
 * misses); always equal to a fresh computation */
static void check_after_write(LDAP *root, LDAP *mta, LDAP *anon, unsigned long updated_before,
                              unsigned long kept_before, int inplace)
{
    unsigned long updated = updated_now(root) - updated_before;
    unsigned long kept = stat_of(root, "dmgCacheKept") - kept_before;
    stats before = stats_now(root);
    LDAP *lds[] = { root, mta, anon };

    if (inplace)
        ck_assert_msg(updated + kept >= 6, "%lu lists updated, %lu kept", updated, kept);
    else
        ck_assert_uint_eq(updated, 0);
    for (int i = 0; i < 3; i++)
        for (int g = 0; g < 2; g++)
            free(list_of(lds[i], u_groups[g]));
    ck_assert_uint_eq(stats_now(root).misses - before.misses, inplace ? 0 : 6);
    assert_cached_are_fresh(lds, 3, anon, u_groups, 2);
}

#define WRITE_THEN_CHECK(write, inplace) \
    do { \
        unsigned long updated_ = updated_now(root), kept_ = stat_of(root, "dmgCacheKept"); \
        DMG_EXPECT_OK((write), #write); \
        check_after_write(root, mta, anon, updated_, kept_, (inplace)); \
    } while (0)

/* An add, a modify (in and out of a condition, of mail), a delete of one employee update the
 * lists of the groups above it in place; a rename drops them */
START_TEST(single_entry_writes_update_lists_in_place)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);

    LDAP *lds[] = { root, mta, anon };

    add_group(root, "u-fe", FRONTEND, NULL);
    add_group(root, "u-fe-eng", FRONTEND, "(title=Engineer)");
    assert_cached_are_fresh(lds, 3, anon, u_groups, 2);
    WRITE_THEN_CHECK(dmg_add_ldif(root, "dn: " NEWBIE "\nobjectClass: inetOrgPerson\n"
                                        "uid: newbie\ncn: New Bie\nsn: Bie\n"
                                        "title: Engineer\nmail: newbie@example.com\n"),
                     1);
    WRITE_THEN_CHECK(dmg_modify(root, NEWBIE, "replace: title\ntitle: Manager\n"), 1);
    WRITE_THEN_CHECK(dmg_modify(root, NEWBIE, "replace: title\ntitle: Engineer\n-\n"
                                              "add: mail\nmail: nb@example.com\n"), 1);
    /* no attribute the lists read: kept as they are, read from the cache */
    {
        stats before = stats_now(root);

        DMG_EXPECT_OK(dmg_modify(root, NEWBIE, "replace: description\ndescription: new\n"),
                      "description");
        free(members_of(root, "u-fe"));
        ck_assert_uint_eq(stats_now(root).misses, before.misses);
    }
    WRITE_THEN_CHECK(dmg_delete(root, NEWBIE), 1);
    /* a rename drops the lists */
    WRITE_THEN_CHECK(dmg_rename(root, "uid=sam," FRONTEND, "uid=samuel", NULL, 0), 0);
    DMG_EXPECT_OK(dmg_rename(root, "uid=samuel," FRONTEND, "uid=sam", NULL, 1), "rename back");
    for (int i = 0; i < 3; i++)
        for (int g = 0; g < 2; g++)
            free(members_of(lds[i], u_groups[g]));
    /* a modify of an entry with entries below it (the department here) drops them */
    WRITE_THEN_CHECK(dmg_modify(root, FRONTEND, "add: objectClass\n"
                                                "objectClass: extensibleObject\n"), 0);
    DMG_EXPECT_OK(dmg_modify(root, FRONTEND, "delete: objectClass\n"
                                             "objectClass: extensibleObject\n"), "back");
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

#define UMA  "uid=uma,ou=Sales," DMG_SUFFIX
#define GINA "uid=gina,ou=Finance," DMG_SUFFIX

/* A group whose overrides name no group: a write concerning none of its entries keeps its list
 * (read from the cache), a write to an included or an excluded employee shows at once.  A
 * group whose override names a group is dropped by every write. */
START_TEST(overrides_lists_follow_the_entries_they_name)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    stats before, after;
    char *m;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=o-fin," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: o-fin\nmail: o-fin@example.com\n"
                                     "dmgDepartment: ou=Finance," DMG_SUFFIX "\n"
                                     "dmgIncludeMember: " UMA "\n"
                                     "dmgExcludeMember: " GINA "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=o-nest," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: o-nest\nmail: o-nest@example.com\n"
                                     "dmgIncludeMember: cn=o-fin," GROUPS "\n"),
                  LDAP_SUCCESS);
    m = members_of(root, "o-fin");
    ck_assert_ptr_nonnull(strstr(m, UMA));
    ck_assert_ptr_null(strstr(m, GINA));
    free(m);
    assert_miss_then_hit(root, root, "o-nest");

    /* the MTA's own entry: in no department, named by neither group, nor by the group
     * o-nest names */
    before = stats_now(root);
    DMG_EXPECT_OK(dmg_modify(root, MTA, "replace: description\ndescription: o-fin\n"), "mta");
    free(members_of(root, "o-fin"));
    free(members_of(root, "o-nest"));
    after = stats_now(root);
    ck_assert_msg(after.hits - before.hits == 2 && after.misses == before.misses,
                  "the lists were not kept: %lu hits, %lu misses", after.hits - before.hits,
                  after.misses - before.misses);

    /* the included employee's mail, then the excluded one's title (a member filter's
     * attribute would do as well) */
    DMG_EXPECT_OK(dmg_modify(root, UMA, "add: mail\nmail: uma.o@example.com\n"), "uma");
    m = dmg_values_joined(root, "cn=o-fin," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberMail");
    ck_assert_ptr_nonnull(strstr(m, "uma.o@example.com"));
    free(m);
    assert_cached_is_fresh(root, anon, "o-fin");
    assert_cached_is_fresh(root, anon, "o-nest");
    DMG_EXPECT_OK(dmg_modify(root, GINA, "add: mail\nmail: gina.o@example.com\n"), "gina");
    assert_cached_is_fresh(root, anon, "o-fin");
    m = dmg_values_joined(root, "cn=o-fin," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberMail");
    ck_assert_ptr_null(strstr(m, "gina"));
    free(m);
    DMG_EXPECT_OK(dmg_modify(root, UMA, "delete: mail\nmail: uma.o@example.com\n"), "back");
    DMG_EXPECT_OK(dmg_modify(root, GINA, "delete: mail\nmail: gina.o@example.com\n"), "back");
    assert_cached_is_fresh(root, anon, "o-fin");
    dmg_disconnect(anon);
    dmg_disconnect(root);
}
END_TEST

/* A nesting group's list depends on what the groups it names test: a write to a member of
 * a named group that changes an attribute only the named group's condition tests must still
 * reach it, a write to the named group's rule too, and writes elsewhere must not */
#define N1 "uid=n1,ou=n-unit," DMG_SUFFIX
#define N2 "uid=n2,ou=n-unit," DMG_SUFFIX

/* (member=dn) of the n- groups, as the rootdn and the MTA (lists cached for both) see them */
static void n_assert_groups(LDAP *root, LDAP *mta, const char *dn, const char *expected)
{
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_ONELEVEL, dmg_fmt("(&(cn=n-*)(member=%s))", dn),
                   expected);
    DMG_ASSERT_DNS(mta, GROUPS, LDAP_SCOPE_ONELEVEL, dmg_fmt("(&(cn=n-*)(member=%s))", dn),
                   expected);
}

START_TEST(nested_lists_follow_the_named_groups_rules)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    stats before, after;
    char *m;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: ou=n-unit," DMG_SUFFIX "\n"
                                     "objectClass: organizationalUnit\nou: n-unit\n"),
                  LDAP_SUCCESS);
    for (int i = 1; i <= 2; i++)
        DMG_ASSERT_RC(dmg_add_ldif(root, dmg_fmt("dn: uid=n%d,ou=n-unit," DMG_SUFFIX "\n"
                                                 "objectClass: inetOrgPerson\nuid: n%d\n"
                                                 "cn: N %d\nsn: N\nmail: n%d@example.com\n"
                                                 "title: %s\n",
                                                 i, i, i, i, i == 1 ? "Manager" : "Engineer")),
                      LDAP_SUCCESS);
    add_group(root, "n-mgr", "ou=n-unit," DMG_SUFFIX, "(title=Manager)");
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=n-top," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: n-top\nmail: n-top@example.com\n"
                                     "dmgIncludeMember: cn=n-mgr," GROUPS "\n"),
                  LDAP_SUCCESS);
    m = members_of(root, "n-top");
    ck_assert_str_eq(m, N1);
    free(m);
    free(members_of(mta, "n-top"));
    free(members_of(mta, "n-mgr"));

    /* an attribute no rule tests, of a member of the named group: the list stays */
    before = stats_now(root);
    DMG_EXPECT_OK(dmg_modify(root, N1, "replace: description\ndescription: n\n"), "n1");
    free(members_of(root, "n-top"));
    after = stats_now(root);
    ck_assert_msg(after.hits - before.hits == 1 && after.misses == before.misses,
                  "n-top's list was not kept: %lu hits, %lu misses", after.hits - before.hits,
                  after.misses - before.misses);

    /* the attribute the named group's condition tests (not the nesting group's own rule) */
    DMG_EXPECT_OK(dmg_modify(root, N2, "replace: title\ntitle: Manager\n"), "n2");
    DMG_EXPECT_OK(dmg_modify(root, N1, "replace: title\ntitle: Engineer\n"), "n1");
    n_assert_groups(root, mta, N2, "cn=n-mgr," GROUPS "\ncn=n-top," GROUPS);
    n_assert_groups(root, mta, N1, "");
    m = members_of(root, "n-top");
    ck_assert_str_eq(m, N2);
    free(m);
    assert_cached_is_fresh(root, anon, "n-top");

    /* the named group's own rule */
    DMG_EXPECT_OK(dmg_modify(root, "cn=n-mgr," GROUPS,
                             "replace: dmgCondition\ndmgCondition: (title=Engineer)\n"), "n-mgr");
    n_assert_groups(root, mta, N1, "cn=n-mgr," GROUPS "\ncn=n-top," GROUPS);
    n_assert_groups(root, mta, N2, "");
    m = members_of(root, "n-top");
    ck_assert_str_eq(m, N1);
    free(m);
    assert_cached_is_fresh(root, anon, "n-top");
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* ---- reverse lookups through cached lists ----------------------------------------------------
 *
 * (member=U), dmgMemberOf of U and compare read a dynamic group's list cached for the
 * requester instead of testing the group's rule.  Every write that changes whom a group
 * stands for through its overrides or a nested group must show in the next reverse lookup,
 * with no forward read in between; an identity without cached lists (anonymous) tests the
 * rules and must agree. */

#define RV_FIN   "cn=rv-fin," GROUPS
#define RV_FIN2  "cn=rv-fin2," GROUPS
#define RV_NEST  "cn=rv-nest," GROUPS
#define RV_SALES "cn=rv-sales," GROUPS
#define KATE     "uid=kate,ou=Finance," DMG_SUFFIX
#define KATE_S   "uid=kate,ou=Sales," DMG_SUFFIX

/* The rv- groups' lists cached for the MTA */
static void rv_warm(LDAP *mta, const char *fin)
{
    free(members_of(mta, fin));
    free(members_of(mta, "rv-nest"));
    free(members_of(mta, "rv-sales"));
}

/* The groups of dn (DNs, "
"-separated, any order) by each reverse lookup, as ld sees them */
static void rv_assert_groups(LDAP *ld, const char *dn, const char *fin_dn, const char *expected)
{
    const char *groups[] = { fin_dn, RV_NEST, RV_SALES };
    char *member_of = dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, "dmgMemberOf");
    size_t len = strlen(member_of) + 3;
    char *lines = malloc(len);
    const char *want = dmg_fmt("\n%s\n", expected);

    ck_assert_ptr_nonnull(lines);
    snprintf(lines, len, "\n%s\n", member_of);

    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, dmg_fmt("(&(cn=rv-*)(member=%s))", dn),
                   expected);
    for (int i = 0; i < 3; i++) {
        const char *line = dmg_fmt("\n%s\n", groups[i]);
        int in = strstr(want, line) != NULL;

        ck_assert_msg((strstr(lines, line) != NULL) == in, "dmgMemberOf of %s: %s %s", dn,
                      in ? "lacks" : "has", groups[i]);
        DMG_ASSERT_RC(dmg_compare(ld, groups[i], "member", dn),
                      in ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE);
    }
    free(lines);
    free(member_of);
}

/* Warms the MTA's lists, makes one write, then checks the groups of dn as the MTA (from the
 * cached lists, the first read after the write) and as anonymous (by the rules) */
#define RV_WRITE_THEN(write, dn, fin_dn, expected) \
    do { \
        rv_warm(mta, "rv-fin"); \
        DMG_EXPECT_OK((write), #write); \
        rv_assert_groups(mta, (dn), (fin_dn), (expected)); \
        rv_assert_groups(anon, (dn), (fin_dn), (expected)); \
    } while (0)

START_TEST(reverse_lookups_read_cached_lists_and_see_every_write)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    stats before, after;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " RV_FIN "\nobjectClass: dynamicMailGroup\n"
                                     "cn: rv-fin\nmail: rv-fin@example.com\n"
                                     "dmgDepartment: ou=Finance," DMG_SUFFIX "\n"
                                     "dmgIncludeMember: " UMA "\n"
                                     "dmgExcludeMember: " GINA "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " RV_NEST "\nobjectClass: dynamicMailGroup\n"
                                     "cn: rv-nest\nmail: rv-nest@example.com\n"
                                     "dmgIncludeMember: " RV_FIN "\n"),
                  LDAP_SUCCESS);
    add_group(root, "rv-sales", "ou=Sales," DMG_SUFFIX, NULL);

    /* the lists answer: hits, and no list computed */
    rv_warm(mta, "rv-fin");
    before = stats_now(root);
    rv_assert_groups(mta, UMA, RV_FIN, RV_FIN "\n" RV_NEST "\n" RV_SALES);
    after = stats_now(root);
    ck_assert_uint_eq(after.misses, before.misses);
    ck_assert_uint_ge(after.hits - before.hits, 3);
    rv_assert_groups(mta, GINA, RV_FIN, "");
    rv_assert_groups(mta, KATE, RV_FIN, RV_FIN "\n" RV_NEST);

    /* a write concerning neither group: the outer group's list goes (it names a group), the
     * nested group's stays and answers inside the outer group's test */
    RV_WRITE_THEN(dmg_modify(root, MTA, "replace: description\ndescription: rv\n"),
                  KATE, RV_FIN, RV_FIN "\n" RV_NEST);

    /* include and exclude edits of the nested group */
    RV_WRITE_THEN(dmg_modify(root, RV_FIN, "add: dmgIncludeMember\n"
                                           "dmgIncludeMember: " ALICE "\n"),
                  ALICE, RV_FIN, RV_FIN "\n" RV_NEST);
    RV_WRITE_THEN(dmg_modify(root, RV_FIN, "delete: dmgIncludeMember\n"
                                           "dmgIncludeMember: " ALICE "\n"),
                  ALICE, RV_FIN, "");
    RV_WRITE_THEN(dmg_modify(root, RV_FIN, "add: dmgExcludeMember\n"
                                           "dmgExcludeMember: " KATE "\n"),
                  KATE, RV_FIN, "");
    RV_WRITE_THEN(dmg_modify(root, RV_FIN, "delete: dmgExcludeMember\n"
                                           "dmgExcludeMember: " KATE "\n"),
                  KATE, RV_FIN, RV_FIN "\n" RV_NEST);
    /* the outer group's own exclude naming the nested group: excluded wins */
    RV_WRITE_THEN(dmg_modify(root, RV_NEST, "add: dmgExcludeMember\n"
                                            "dmgExcludeMember: " RV_FIN "\n"),
                  KATE, RV_FIN, RV_FIN);
    RV_WRITE_THEN(dmg_modify(root, RV_NEST, "delete: dmgExcludeMember\n"
                                            "dmgExcludeMember: " RV_FIN "\n"),
                  KATE, RV_FIN, RV_FIN "\n" RV_NEST);

    /* a department member of the nested group moves out of its department, and back */
    RV_WRITE_THEN(dmg_rename(root, KATE, "uid=kate", "ou=Sales," DMG_SUFFIX, 1),
                  KATE_S, RV_FIN, RV_SALES);
    RV_WRITE_THEN(dmg_rename(root, KATE_S, "uid=kate", "ou=Finance," DMG_SUFFIX, 1),
                  KATE, RV_FIN, RV_FIN "\n" RV_NEST);

    /* the nested group renamed: the outer group follows it */
    RV_WRITE_THEN(dmg_rename(root, RV_FIN, "cn=rv-fin2", NULL, 1),
                  UMA, RV_FIN2, RV_FIN2 "\n" RV_NEST "\n" RV_SALES);
    rv_warm(mta, "rv-fin2");
    rv_assert_groups(mta, KATE, RV_FIN2, RV_FIN2 "\n" RV_NEST);
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* A department's rename moves its subtree: groups naming an entry below it (rewritten by the
 * overlay) and groups above it show the new DNs at once */
START_TEST(department_rename_is_followed_through_the_cache)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    char *m;

    add_group(root, "ren-storage", "ou=Storage,ou=Backend,ou=Engineering," DMG_SUFFIX, NULL);
    add_group(root, "ren-eng", "ou=Engineering," DMG_SUFFIX, NULL);
    m = members_of(root, "ren-storage");
    ck_assert_ptr_nonnull(strstr(m, ",ou=Storage,ou=Backend,ou=Engineering,"));
    free(m);
    m = members_of(root, "ren-eng");
    free(m);
    DMG_ASSERT_RC(dmg_rename(root, "ou=Backend,ou=Engineering," DMG_SUFFIX, "ou=BackendX", NULL, 1),
                  LDAP_SUCCESS);
    m = members_of(root, "ren-storage");
    ck_assert_msg(strstr(m, ",ou=Storage,ou=BackendX,ou=Engineering,") != NULL
                      && strstr(m, "ou=Backend,") == NULL, "after the rename: %s", m);
    free(m);
    m = members_of(root, "ren-eng");
    ck_assert_msg(strstr(m, ",ou=BackendX,") != NULL && strstr(m, "ou=Backend,") == NULL,
                  "after the rename: %s", m);
    free(m);
    DMG_ASSERT_RC(dmg_rename(root, "ou=BackendX,ou=Engineering," DMG_SUFFIX, "ou=Backend", NULL, 1),
                  LDAP_SUCCESS);
    m = members_of(root, "ren-storage");
    ck_assert_ptr_nonnull(strstr(m, ",ou=Storage,ou=Backend,ou=Engineering,"));
    free(m);
    dmg_disconnect(root);
}
END_TEST

/* ---- writes racing reads ------------------------------------------------------------------- */

#define RACE_READERS 4
#define RACE_READER_OPS 300
#define RACE_WRITES 150
#define RACE_EMPLOYEE "uid=dave,ou=Engineering," DMG_SUFFIX

typedef struct race {
    LDAP *ld;
    const char *fin;            /* the unrelated group's members, constant */
    unsigned failures;
    char first[1024];
} race;

static void race_fail(race *r, const char *what, const char *detail)
{
    if (r->failures++ == 0)
        snprintf(r->first, sizeof r->first, "%s: %s", what, detail);
}

/* member values of cn=<cn> joined by '\n', sorted; NULL on failure (recorded) */
static char *race_members(race *r, const char *cn)
{
    static const char *const attrs[] = { "member", NULL };
    char dn[256];
    dmg_entries *es = NULL;
    dmg_result res;
    char *joined;

    snprintf(dn, sizeof dn, "cn=%s," GROUPS, cn);
    res = dmg_search(r->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, NULL, &es);
    if (res.rc != LDAP_SUCCESS || es->count != 1) {
        race_fail(r, dn, res.rc != LDAP_SUCCESS ? res.diag : "not one entry");
        dmg_entries_free(es);
        return NULL;
    }
    {
        const dmg_attr *a = dmg_entry_attr(&es->entries[0], "member");
        dmg_text t = { 0 };

        dmg_text_printf(&t, "%s", "");
        for (size_t k = 0; a && k < a->nvalues; k++)
            dmg_text_printf(&t, "%s\n", a->values[k]);
        joined = dmg_sorted_lines(t.s);
        free(t.s);
    }
    dmg_entries_free(es);
    return joined;
}

static void *race_reader(void *arg)
{
    race *r = arg;

    for (int i = 0; i < RACE_READER_OPS; i++) {
        char *m = race_members(r, i % 2 ? "race-fin" : "race-eng-mgr");

        if (m && i % 2 && strcmp(m, r->fin) != 0)
            race_fail(r, "race-fin changed", m);
        free(m);
    }
    return NULL;
}

/* The writer toggles dave's title; after each write has returned, its own read (through the
 * same cache as the readers') must show dave in the managers' group exactly when he is one. */
static void *race_writer(void *arg)
{
    race *r = arg;

    for (int i = 0; i < RACE_WRITES; i++) {
        int manager = i % 2 == 0;
        char mod[64];
        dmg_result res;
        char *m;

        snprintf(mod, sizeof mod, "replace: title\ntitle: %s\n", manager ? "Manager" : "Engineer");
        res = dmg_modify(r->ld, RACE_EMPLOYEE, mod);
        if (res.rc != LDAP_SUCCESS) {
            race_fail(r, "modify", res.diag);
            continue;
        }
        m = race_members(r, "race-eng-mgr");
        if (m && (strstr(m, RACE_EMPLOYEE) != NULL) != manager)
            race_fail(r, manager ? "manager missing after the write returned"
                                 : "former manager still listed after the write returned", m);
        free(m);
    }
    return NULL;
}

START_TEST(writes_racing_reads_never_see_a_stale_list)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    race readers[RACE_READERS], writer;
    pthread_t rt[RACE_READERS], wt;
    stats before, after;
    char *fin;

    add_group(root, "race-eng-mgr", "ou=Engineering," DMG_SUFFIX, "(title=Manager)");
    add_group(root, "race-fin", "ou=Finance," DMG_SUFFIX, NULL);
    fin = members_of(root, "race-fin");
    /* in the form race_members gives */
    {
        char *sorted = dmg_sorted_lines(fin);

        free(fin);
        fin = sorted;
    }
    before = stats_now(root);
    memset(readers, 0, sizeof readers);
    memset(&writer, 0, sizeof writer);
    for (int i = 0; i < RACE_READERS; i++) {
        readers[i].ld = i % 2 ? dmg_connect(server, MTA, DMG_PASSWORD)
                              : dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
        readers[i].fin = fin;
    }
    writer.ld = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    for (int i = 0; i < RACE_READERS; i++)
        ck_assert_int_eq(pthread_create(&rt[i], NULL, race_reader, &readers[i]), 0);
    ck_assert_int_eq(pthread_create(&wt, NULL, race_writer, &writer), 0);
    ck_assert_int_eq(pthread_join(wt, NULL), 0);
    for (int i = 0; i < RACE_READERS; i++)
        ck_assert_int_eq(pthread_join(rt[i], NULL), 0);
    after = stats_now(root);

    ck_assert_msg(writer.failures == 0, "writer: %u failure(s); first: %s", writer.failures,
                  writer.first);
    for (int i = 0; i < RACE_READERS; i++) {
        ck_assert_msg(readers[i].failures == 0, "reader %d: %u failure(s); first: %s", i,
                      readers[i].failures, readers[i].first);
        dmg_disconnect(readers[i].ld);
    }
    dmg_disconnect(writer.ld);
    /* every write was targeted, and the unrelated group was served from the cache */
    ck_assert_uint_ge(after.targeted - before.targeted, RACE_WRITES);
    ck_assert_uint_eq(after.full, before.full);
    ck_assert_uint_gt(after.hits - before.hits, RACE_READERS * RACE_READER_OPS / 4);
    free(fin);
    dmg_disconnect(root);
}
END_TEST

/* ---- a long series of writes, read concurrently ---------------------------------------------------
 *
 * A list updated in place shares its strings with the list it replaces, which a reply being
 * sent may still hold; past a bound on the blocks shared, or on the members dropped whose
 * strings it still holds (members.c), the update copies them.  More adds than that bound into one department, then as many deletes: each write
 * updates the lists of the group over it in place (the statistics say so), and the writer
 * reads exactly what it wrote.  Then the same writes again with readers reading the group and
 * a group that includes it throughout: every read shows the two base members and one run of
 * the added ones with its count, never a state older than one it has read before. */

#define CHAIN            "ou=Chain," DMG_SUFFIX
#define CHAIN_ADDS       40 /* more than that bound (32) */
#define CHAIN_READERS    3
#define CHAIN_READER_OPS 150

/* "uid=cNN,ou=Chain,..." */
static const char *chain_dn(int i)
{
    return dmg_fmt("uid=c%02d," CHAIN, i);
}

/* The members of cn=chain after the adds of [lo, hi), sorted as race_members gives them */
static char *chain_expected(int lo, int hi)
{
    dmg_text t = { 0 };
    char *sorted;

    dmg_text_printf(&t, "uid=base0," CHAIN "\nuid=base1," CHAIN "\n");
    for (int i = lo; i < hi; i++)
        dmg_text_printf(&t, "%s\n", chain_dn(i));
    sorted = dmg_sorted_lines(t.s);
    free(t.s);
    return sorted;
}

typedef struct chain_reader {
    race r;             /* connection and failures */
    int nested;         /* odd readers read the group that includes cn=chain */
} chain_reader;

/* The writes done that the members of e show (adds first, then deletes: a run [lo, hi) of the
 * added employees), or -1 when they show no such state (recorded) */
static int chain_state(race *r, const dmg_entry *e, int last)
{
    const dmg_attr *m = dmg_entry_attr(e, "member");
    const dmg_attr *c = dmg_entry_attr(e, "dmgMemberCount");
    int lo = CHAIN_ADDS, hi = 0, n = 0, base = 0;
    char count[32];

    for (size_t k = 0; m && k < m->nvalues; k++) {
        int i;

        if (strncmp(m->values[k], "uid=base", 8) == 0) {
            base++;
        } else if (sscanf(m->values[k], "uid=c%d,", &i) == 1 && i >= 0 && i < CHAIN_ADDS) {
            lo = i < lo ? i : lo;
            hi = i + 1 > hi ? i + 1 : hi;
            n++;
        } else {
            race_fail(r, "unexpected member", m->values[k]);
            return -1;
        }
    }
    snprintf(count, sizeof count, "%zu", m ? m->nvalues : 0);
    if (base != 2 || (n && n != hi - lo) || (lo > 0 && n && hi != CHAIN_ADDS)
        || c == NULL || c->nvalues != 1 || strcmp(c->values[0], count) != 0) {
        race_fail(r, e->dn, "not the members after one of the writes, or a wrong count");
        return -1;
    }
    if (n == 0)         /* before the adds, or after the deletes */
        return last < CHAIN_ADDS ? 0 : 2 * CHAIN_ADDS;
    return lo == 0 ? hi : CHAIN_ADDS + lo;
}

static void *chain_read(void *arg)
{
    static const char *const attrs[] = { "member", "dmgMemberCount", NULL };
    chain_reader *cr = arg;
    const char *dn = cr->nested ? "cn=chain-nest," GROUPS : "cn=chain," GROUPS;
    int last = 0, now;

    for (int i = 0; i < CHAIN_READER_OPS; i++) {
        dmg_entries *es = NULL;
        dmg_result res = dmg_search(cr->r.ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, &es);

        if (res.rc != LDAP_SUCCESS || es->count != 1)
            race_fail(&cr->r, dn, res.rc != LDAP_SUCCESS ? res.diag : "not one entry");
        else if ((now = chain_state(&cr->r, &es->entries[0], last)) >= 0 && now < last)
            race_fail(&cr->r, dn, "an older state than one read before");
        else if (now >= 0)
            last = now;
        dmg_entries_free(es);
    }
    return NULL;
}

/* One add or delete of uid=cNN, then what the writer reads: exactly the expected members, as
 * the rootdn (w->ld) and as the MTA; with inplace, both lists read from the cache, updated by
 * the write */
static void chain_write(race *w, LDAP *mta, int i, int add, int inplace)
{
    LDAP *root = w->ld;
    unsigned long updated = inplace ? updated_now(root) : 0, misses;
    char *want = add ? chain_expected(0, i + 1) : chain_expected(i + 1, CHAIN_ADDS);
    dmg_result res;

    res = add ? dmg_add_ldif(root, dmg_fmt("dn: %s\nobjectClass: inetOrgPerson\n"
                                           "uid: c%02d\ncn: C %d\nsn: C\n"
                                           "mail: c%02d@example.com\n", chain_dn(i), i, i, i))
              : dmg_delete(root, chain_dn(i));
    if (res.rc != LDAP_SUCCESS)
        race_fail(w, chain_dn(i), res.diag);
    misses = inplace ? stats_now(root).misses : 0;
    for (int k = 0; k < 2; k++) {
        char *got;

        w->ld = k ? mta : root;
        got = race_members(w, "chain");
        if (got && strcmp(got, want) != 0)
            race_fail(w, add ? "after an add" : "after a delete", got);
        free(got);
    }
    w->ld = root;
    if (inplace && (updated_now(root) - updated < 2 || stats_now(root).misses != misses))
        race_fail(w, chain_dn(i), "the lists were not updated in place");
    free(want);
    /* the updated list's index by DN answers compares: each entry of the series, and one
     * that is not in it */
    for (int j = 0; j <= CHAIN_ADDS; j++) {
        const char *dn = j < CHAIN_ADDS ? chain_dn(j) : "uid=base0," CHAIN;
        int in = j == CHAIN_ADDS || (add ? j <= i : j > i);
        dmg_result c = dmg_compare(mta, "cn=chain," GROUPS, "member", dn);

        if (c.rc != (in ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE))
            race_fail(w, dn, in ? "compare: a member not found" : "compare: not a member found");
    }
}

static void chain_writes(race *w, LDAP *mta, int inplace)
{
    for (int i = 0; i < CHAIN_ADDS; i++)
        chain_write(w, mta, i, 1, inplace);
    for (int i = 0; i < CHAIN_ADDS; i++)
        chain_write(w, mta, i, 0, inplace);
}

START_TEST(long_series_of_writes_updates_lists_exactly)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    chain_reader readers[CHAIN_READERS];
    pthread_t rt[CHAIN_READERS];
    race writer;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " CHAIN "\nobjectClass: organizationalUnit\n"
                                     "ou: Chain\n"), LDAP_SUCCESS);
    for (int i = 0; i < 2; i++)
        DMG_ASSERT_RC(dmg_add_ldif(root, dmg_fmt("dn: uid=base%d," CHAIN "\n"
                                                 "objectClass: inetOrgPerson\nuid: base%d\n"
                                                 "cn: Base %d\nsn: Base\n"
                                                 "mail: base%d@example.com\n", i, i, i, i)),
                      LDAP_SUCCESS);
    add_group(root, "chain", CHAIN, NULL);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=chain-nest," GROUPS "\n"
                                     "objectClass: dynamicMailGroup\ncn: chain-nest\n"
                                     "mail: chain-nest@example.com\n"
                                     "dmgIncludeMember: cn=chain," GROUPS "\n"),
                  LDAP_SUCCESS);
    memset(&writer, 0, sizeof writer);
    writer.ld = root;
    /* both lists cached, then updated by every write */
    free(members_of(root, "chain"));
    free(members_of(mta, "chain"));
    chain_writes(&writer, mta, 1);
    ck_assert_msg(writer.failures == 0, "alone: %u failure(s); first: %s", writer.failures,
                  writer.first);

    memset(readers, 0, sizeof readers);
    for (int i = 0; i < CHAIN_READERS; i++) {
        readers[i].r.ld = i % 2 ? dmg_connect(server, MTA, DMG_PASSWORD)
                                : dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
        readers[i].nested = i == 1;
        ck_assert_int_eq(pthread_create(&rt[i], NULL, chain_read, &readers[i]), 0);
    }
    chain_writes(&writer, mta, 0);
    for (int i = 0; i < CHAIN_READERS; i++)
        ck_assert_int_eq(pthread_join(rt[i], NULL), 0);
    ck_assert_msg(writer.failures == 0, "with readers: %u failure(s); first: %s",
                  writer.failures, writer.first);
    for (int i = 0; i < CHAIN_READERS; i++) {
        ck_assert_msg(readers[i].r.failures == 0, "reader %d: %u failure(s); first: %s", i,
                      readers[i].r.failures, readers[i].r.first);
        dmg_disconnect(readers[i].r.ld);
    }
    assert_cached_is_fresh(root, anon, "chain");
    assert_cached_is_fresh(mta, anon, "chain-nest");
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* ---- a previewed write --------------------------------------------------------------------------
 *
 * A write sent with No-Op and Post-Read (a preview) is in flight from its hook to its result
 * like any other: while such a write of a group's rule runs, no cached list is taken.  Its
 * result must end the flight, or no list would be taken again after the first preview. */

#define OID_NOOP "1.3.6.1.4.1.4203.1.10.2"

START_TEST(a_previewed_write_leaves_the_cache_in_use)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    char *attrs[] = { "member", NULL };
    char *cond_vals[] = { "(title=Manager)", NULL };
    LDAPMod cond = { LDAP_MOD_ADD, "dmgCondition", { cond_vals } };
    LDAPMod *mods[] = { &cond, NULL };
    LDAPControl noop = { OID_NOOP, { 0, NULL }, 1 };
    LDAPControl postread = { LDAP_CONTROL_POST_READ, { 0, NULL }, 1 };
    BerElement *ber = ber_alloc_t(LBER_USE_DER);

    add_group(root, "preview-eng", "ou=Engineering," DMG_SUFFIX, NULL);
    assert_miss_then_hit(root, mta, "preview-eng");
    ck_assert_int_ne(ber_printf(ber, "{v}", attrs), -1);
    ck_assert_int_ne(ber_flatten2(ber, &postread.ldctl_value, 0), -1);
    for (int i = 0; i < 2; i++) {
        LDAPControl *ctrls[] = { &noop, &postread, NULL };
        stats before = stats_now(root);

        ck_assert_int_eq(ldap_modify_ext_s(root, "cn=preview-eng," GROUPS, mods, ctrls, NULL),
                         LDAP_X_NO_OPERATION);
        /* the list cached before the preview is the one served: nothing was stored */
        free(members_of(mta, "preview-eng"));
        ck_assert_uint_eq(stats_now(root).misses, before.misses);
        ck_assert_uint_eq(stats_now(root).hits - before.hits, 1);
    }
    ber_free(ber, 1);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* ---- members taken out of a list in place ----------------------------------------------------
 *
 * A member taken out of a cached list gives its place to the last member when both have as
 * many mail values, else the places after it close up.  Either way member, dmgMemberMail and
 * the index compares read must stay exactly what a computation gives. */

#define MIXED "ou=Mixed," DMG_SUFFIX

static const int mixed_mails[] = { 1, 0, 2, 1, 3, 1, 0 };
#define MIXED_N ((int)(sizeof mixed_mails / sizeof mixed_mails[0]))

static void mixed_add(LDAP *root, int i)
{
    char ldif[1024];
    int len = snprintf(ldif, sizeof ldif, "dn: uid=x%d," MIXED "\nobjectClass: inetOrgPerson\n"
                                          "uid: x%d\ncn: X %d\nsn: X\n", i, i, i);

    for (int k = 0; k < mixed_mails[i]; k++)
        len += snprintf(ldif + len, sizeof ldif - len, "mail: x%d.%d@example.com\n", i, k);
    DMG_ASSERT_RC(dmg_add_ldif(root, ldif), LDAP_SUCCESS);
}

/* After one write: the cached lists (nlists: the rootdn's and the MTA's, then anonymous's
 * too once a check has read it) were updated in place (no miss), equal a computation, and
 * the MTA's answers compares of every employee as present[] says */
static void mixed_check(LDAP *root, LDAP *mta, LDAP *anon, unsigned long updated_before,
                        unsigned long nlists, const int *present)
{
    LDAP *lds[] = { root, mta };
    const char *cn = "mixed";
    unsigned long misses = stats_now(root).misses;

    ck_assert_uint_eq(updated_now(root) - updated_before, nlists);
    for (int i = 0; i < 2; i++)
        free(list_of(lds[i], cn));
    ck_assert_uint_eq(stats_now(root).misses, misses);
    for (int i = 0; i < MIXED_N; i++) {
        dmg_result c = dmg_compare(mta, "cn=mixed," GROUPS, "member",
                                   dmg_fmt("uid=x%d," MIXED, i));

        ck_assert_msg(c.rc == (present[i] ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE),
                      "compare of x%d: %d", i, c.rc);
    }
    assert_cached_are_fresh(lds, 2, anon, &cn, 1);
}

START_TEST(taking_out_members_keeps_members_and_mail_values_exact)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    int present[MIXED_N];
    /* the middle with another count than the last, the first with the last's, the last,
     * one without mail, then the one just added again (it went last) */
    static const int order[] = { 2, 0, 6, 1, 4, 2, 5, 3 };
    unsigned long before;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " MIXED "\nobjectClass: organizationalUnit\n"
                                     "ou: Mixed\n"), LDAP_SUCCESS);
    for (int i = 0; i < MIXED_N; i++) {
        mixed_add(root, i);
        present[i] = 1;
    }
    add_group(root, "mixed", MIXED, NULL);
    free(list_of(root, "mixed"));
    free(list_of(mta, "mixed"));
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        int i = order[k];

        before = updated_now(root);
        if (present[i])
            DMG_ASSERT_RC(dmg_delete(root, dmg_fmt("uid=x%d," MIXED, i)), LDAP_SUCCESS);
        else
            mixed_add(root, i);
        present[i] = !present[i];
        mixed_check(root, mta, anon, before, k ? 3 : 2, present);
    }
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* ---- access rules that read other entries ------------------------------------------------------
 *
 * With a "by group" clause, what the MTA sees below Engineering depends on a static group
 * elsewhere: a write to that group concerns no dynamic group by DN, yet changes the MTA's
 * list.  Lists of identities other than the rootdn are then dropped by every write. */

#define READERS_GROUP "cn=readers,ou=System," DMG_SUFFIX

START_TEST(acl_reading_another_entry_drops_lists_on_any_write)
{
    dmg_server_opts o = {
        .db_config = "access to dn.subtree=\"ou=Engineering," DMG_SUFFIX "\"\n"
                     "  by group.exact=\"" READERS_GROUP "\" read\n"
                     "  by * none\n"
                     "access to * by * read\n",
        .overlay_config = "dynmailgroup-privileged " MTA "\n"
                          "dynmailgroup-cache-max-values 1000000\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(s, MTA, DMG_PASSWORD);
    char *m;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " READERS_GROUP "\nobjectClass: groupOfNames\n"
                                     "cn: readers\nmember: " DMG_ROOTDN "\n"),
                  LDAP_SUCCESS);
    add_group(root, "acl-eng", "ou=Engineering," DMG_SUFFIX, NULL);
    m = members_of(mta, "acl-eng");
    ck_assert_str_eq(m, "");
    free(m);
    m = members_of(mta, "acl-eng");        /* cached, if at all, for the MTA */
    free(m);
    DMG_ASSERT_RC(dmg_modify(root, READERS_GROUP, "add: member\nmember: " MTA "\n"),
                  LDAP_SUCCESS);
    m = members_of(mta, "acl-eng");
    ck_assert_ptr_nonnull(strstr(m, ALICE));
    free(m);
    dmg_disconnect(mta);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* An ordinary user's and anonymous's cached lists follow what the ACLs decide for them: a
 * member's attribute a filter= rule tests, a change of olcAccess on cn=config, the user's own
 * membership in the group a "by group" clause names.  Two users with other rights never
 * share a list. */

#define T2_DEPT  "ou=Tier2,ou=Support," DMG_SUFFIX
#define T2_GROUP "cn=acl-t2," GROUPS
#define VERA_T2  "uid=vera," T2_DEPT
#define T2_ALL \
    VERA_T2 "\nuid=walt," T2_DEPT "\nuid=yuki," T2_DEPT "\nuid=zack," T2_DEPT
#define T2_NO_VERA "uid=walt," T2_DEPT "\nuid=yuki," T2_DEPT "\nuid=zack," T2_DEPT

/* member of T2_GROUP as ld reads it, twice (the second time from its cached list) */
static void assert_t2(LDAP *ld, const char *expected)
{
    for (int i = 0; i < 2; i++)
        DMG_ASSERT_VALUES(ld, T2_GROUP, LDAP_SCOPE_BASE, NULL, "member", expected);
}

/* A server whose Tier2 entries with the title Secret are read by nobody but the rootdn */
static dmg_server *start_secret_server(void)
{
    dmg_server_opts o = {
        .global_config = MONITOR_FIRST,
        .db_config = "access to dn.subtree=\"" T2_DEPT "\" filter=(title=Secret)\n"
                     "  by * none\n"
                     "access to * by * read\n",
        .overlay_config = "dynmailgroup-cache-max-values 1000000\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    return s;
}

START_TEST(ordinary_lists_follow_acl_relevant_writes)
{
    dmg_server *s = start_secret_server();
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *alice = dmg_connect(s, ALICE, DMG_PASSWORD);
    LDAP *carol = dmg_connect(s, CAROL, DMG_PASSWORD);
    LDAP *anon = dmg_connect(s, NULL, NULL);
    LDAP *cfg;
    stats before, after;

    add_group(root, "acl-t2", T2_DEPT, NULL);
    before = stats_now(root);
    assert_t2(alice, T2_ALL);
    assert_t2(anon, T2_ALL);
    after = stats_now(root);
    ck_assert_uint_eq(after.misses - before.misses, 2);
    ck_assert_uint_eq(after.hits - before.hits, 2);

    /* the attribute the filter= rule tests, on a member: gone for both, back for both */
    DMG_EXPECT_OK(dmg_modify(root, VERA_T2, "replace: title\ntitle: Secret\n"), "Secret");
    assert_t2(alice, T2_NO_VERA);
    assert_t2(anon, T2_NO_VERA);
    DMG_EXPECT_OK(dmg_modify(root, VERA_T2, "replace: title\ntitle: Support Agent\n"), "back");
    assert_t2(alice, T2_ALL);
    assert_t2(anon, T2_ALL);

    /* olcAccess changed on cn=config: Tier2 only for the members of a static group (with
     * nobody yet); the next read of each identity follows, the cache having been emptied */
    before = stats_now(root);
    cfg = dmg_connect_ldapi_external(s);
    DMG_EXPECT_OK(dmg_modify(cfg, "olcDatabase={2}mdb,cn=config",
                             "replace: olcAccess\n"
                             "olcAccess: to dn.subtree=\"" T2_DEPT "\""
                             " by group.exact=\"" READERS_GROUP "\" read by * none\n"
                             "olcAccess: to * by * read\n"),
                  "olcAccess");
    dmg_disconnect(cfg);
    assert_t2(alice, "");
    assert_t2(anon, "");
    after = stats_now(root);
    ck_assert_uint_ge(after.full - before.full, 1);
    ck_assert_uint_eq(after.misses - before.misses, 2);

    /* carol joins the group the clause names: she reads Tier2, alice still not */
    DMG_EXPECT_OK(dmg_add_ldif(root, "dn: " READERS_GROUP "\nobjectClass: groupOfNames\n"
                                     "cn: readers\nmember: " CAROL "\n"),
                  "the readers' group");
    assert_t2(carol, T2_ALL);
    assert_t2(alice, "");
    assert_t2(anon, "");
    /* alice joins, carol leaves */
    DMG_EXPECT_OK(dmg_modify(root, READERS_GROUP, "add: member\nmember: " ALICE "\n"),
                  "alice joins");
    assert_t2(alice, T2_ALL);
    assert_t2(carol, T2_ALL);
    DMG_EXPECT_OK(dmg_modify(root, READERS_GROUP, "delete: member\nmember: " CAROL "\n"),
                  "carol leaves");
    assert_t2(carol, "");
    assert_t2(alice, T2_ALL);
    assert_t2(anon, "");

    dmg_disconnect(anon);
    dmg_disconnect(carol);
    dmg_disconnect(alice);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---- the default bound ------------------------------------------------------------------------ */

/* One write updates, in place, the lists of several groups for several identities: each
 * group's own rule, each identity's own rights (what the update shares from one list to the
 * next -- the written entry, a group and its rule, an identity's roles -- never carries one
 * group's answer to another, nor one identity's rights to another).  A Tier2 entry whose title
 * is Secret is read by nobody but the rootdn. */

#define MW_NEW "uid=mwnew," T2_DEPT
#define MW_ALL_NEW T2_ALL "\n" MW_NEW

/* lists a write updated in place or kept (as reading no attribute it changed) so far */
static unsigned long updated_or_kept(LDAP *ld)
{
    return updated_now(ld) + stat_of(ld, "dmgCacheKept");
}

static void assert_mw(LDAP *ld, const char *all, const char *secret)
{
    for (int i = 0; i < 2; i++) {
        DMG_ASSERT_VALUES(ld, "cn=mw-all," GROUPS, LDAP_SCOPE_BASE, NULL, "member", all);
        DMG_ASSERT_VALUES(ld, "cn=mw-secret," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                          secret);
    }
}

START_TEST(one_write_updates_each_group_and_identity_with_its_own_rule_and_rights)
{
    dmg_server *s = start_secret_server();
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *alice = dmg_connect(s, ALICE, DMG_PASSWORD);
    LDAP *anon = dmg_connect(s, NULL, NULL);
    LDAP *lds[] = { root, alice, anon };
    unsigned long updated;
    stats before;

    add_group(root, "mw-all", T2_DEPT, NULL);
    add_group(root, "mw-secret", T2_DEPT, "(title=Secret)");
    for (int i = 0; i < 3; i++)
        assert_mw(lds[i], T2_ALL, "");

    /* an entry only the rootdn reads, in both groups for it */
    updated = updated_or_kept(root);
    DMG_EXPECT_OK(dmg_add_ldif(root, "dn: " MW_NEW "\nobjectClass: inetOrgPerson\n"
                                     "uid: mwnew\ncn: Mw New\nsn: New\ntitle: Secret\n"
                                     "mail: mwnew@example.com\n"),
                  "add");
    ck_assert_uint_ge(updated_or_kept(root) - updated, 6);
    before = stats_now(root);
    assert_mw(root, MW_ALL_NEW, MW_NEW);
    assert_mw(alice, T2_ALL, "");
    assert_mw(anon, T2_ALL, "");
    ck_assert_uint_eq(stats_now(root).misses, before.misses);

    /* out of the condition: everyone reads it, in one group only (the rootdn's list of mw-all
     * reads no title: kept) */
    updated = updated_or_kept(root);
    DMG_EXPECT_OK(dmg_modify(root, MW_NEW, "replace: title\ntitle: Support Agent\n"), "title");
    ck_assert_uint_ge(updated_or_kept(root) - updated, 6);
    before = stats_now(root);
    for (int i = 0; i < 3; i++)
        assert_mw(lds[i], MW_ALL_NEW, "");
    ck_assert_uint_eq(stats_now(root).misses, before.misses);

    /* back in: the rootdn's lists take it into the second group, the others' drop it */
    DMG_EXPECT_OK(dmg_modify(root, MW_NEW, "replace: title\ntitle: Secret\n"), "Secret");
    assert_mw(root, MW_ALL_NEW, MW_NEW);
    assert_mw(alice, T2_ALL, "");
    assert_mw(anon, T2_ALL, "");

    DMG_EXPECT_OK(dmg_delete(root, MW_NEW), "delete");
    for (int i = 0; i < 3; i++)
        assert_mw(lds[i], T2_ALL, "");

    dmg_disconnect(anon);
    dmg_disconnect(alice);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A cached list's index by DN (members.c: a hash table) follows every member an update puts
 * in or takes out, across the updates that outgrow its room and build it anew and those that
 * shrink it: after each write, a compare of member, which reads the MTA's cached list, finds
 * every member and no one else, and the list is a fresh computation's. */

#define IX_DEPT "ou=Index," DMG_SUFFIX
#define IX_N    60

static const char *ix_dn(int i)
{
    return dmg_fmt("uid=ix%02d," IX_DEPT, i);
}

/* A compare of member as the MTA (answered from its cached list) for the employees
 * 0..IX_N-1, present[i] telling */
static void ix_assert_index(LDAP *root, LDAP *mta, const int *present)
{
    stats before = stats_now(root);

    for (int i = 0; i < IX_N; i++)
        DMG_ASSERT_RC(dmg_compare(mta, "cn=ix," GROUPS, "member", ix_dn(i)),
                      present[i] ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE);
    ck_assert_uint_eq(stats_now(root).hits - before.hits, IX_N);
}

START_TEST(cached_list_index_follows_many_adds_and_deletes)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    int present[IX_N] = { 0 };
    unsigned long updated = updated_now(root);

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " IX_DEPT "\nobjectClass: organizationalUnit\n"
                                     "ou: Index\n"), LDAP_SUCCESS);
    add_group(root, "ix", IX_DEPT, NULL);
    free(members_of(mta, "ix"));
    for (int i = 0; i < IX_N; i++) {
        DMG_ASSERT_RC(dmg_add_ldif(root, dmg_fmt("dn: %s\nobjectClass: inetOrgPerson\n"
                                                 "uid: ix%02d\ncn: Ix %d\nsn: Ix\n"
                                                 "mail: ix%02d@example.com\n",
                                                 ix_dn(i), i, i, i)),
                      LDAP_SUCCESS);
        present[i] = 1;
        if (i % 10 == 9)
            ix_assert_index(root, mta, present);
    }
    ck_assert_uint_ge(updated_now(root) - updated, IX_N);
    /* every other one, then the rest from the last: runs of the table close up */
    for (int k = 0; k < IX_N; k++) {
        int i = k < IX_N / 2 ? 2 * k : IX_N - 1 - 2 * (k - IX_N / 2);

        DMG_EXPECT_OK(dmg_delete(root, ix_dn(i)), ix_dn(i));
        present[i] = 0;
        if (k % 10 == 9)
            ix_assert_index(root, mta, present);
    }
    assert_cached_is_fresh(mta, anon, "ix");
    DMG_EXPECT_OK(dmg_delete(root, "cn=ix," GROUPS), "the group");
    DMG_EXPECT_OK(dmg_delete(root, IX_DEPT), "the department");
    dmg_disconnect(anon);
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* No cache directive written: the cache is on, with the bound the man page states */
START_TEST(cache_is_on_by_default)
{
    dmg_server_opts o = {
        .global_config = MONITOR_FIRST,
        .overlay_config = "dynmailgroup-privileged " MTA "\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *cfg = dmg_connect_ldapi_external(s);
    DMG_ASSERT_VALUES(cfg, "olcDatabase={2}mdb,cn=config", LDAP_SCOPE_ONELEVEL,
                      "(objectClass=olcDynMailGroupConfig)", "olcDynMailGroupCacheMaxValues",
                      "1000000");
    dmg_disconnect(cfg);
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(s, MTA, DMG_PASSWORD);

    ck_assert_uint_eq(stat_of(root, "dmgCacheMaxValues"), 1000000);
    add_group(root, "default-eng", "ou=Engineering," DMG_SUFFIX, NULL);
    assert_miss_then_hit(root, mta, "default-eng");
    dmg_disconnect(mta);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---- the explicit flush ------------------------------------------------------------------------ */

/* Writing olcDynMailGroupFlush empties the cache, every time it is written (replace) */
START_TEST(flush_on_cn_config_empties_the_cache)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *cfg = dmg_connect_ldapi_external(server);
    stats before, after;
    char *m;

    add_group(root, "flush-eng", "ou=Engineering," DMG_SUFFIX, NULL);
    for (int round = 0; round < 2; round++) {
        m = members_of(root, "flush-eng");
        free(m);
        ck_assert_uint_ge(stat_of(root, "dmgCacheEntries"), 1);
        before = stats_now(root);
        DMG_ASSERT_RC(dmg_modify(cfg, OVERLAY_CONFIG_DN,
                                 "replace: olcDynMailGroupFlush\nolcDynMailGroupFlush: TRUE\n"),
                      LDAP_SUCCESS);
        after = stats_now(root);
        /* a replace is a delete and an add to slapd: each empties the cache */
        ck_assert_uint_ge(after.full - before.full, 1);
        ck_assert_uint_eq(stat_of(root, "dmgCacheEntries"), 0);
        m = members_of(root, "flush-eng");
        free(m);
        ck_assert_uint_eq(stats_now(root).misses - after.misses, 1);
    }
    dmg_disconnect(cfg);
    dmg_disconnect(root);
}
END_TEST

/* ---- member visibility ---------------------------------------------------------------------- */

/* The suite's ACLs (main): READER may not read ou=Finance's entries, OUTSIDER may not read the
 * member values of groups; everything else is readable */
#define READER   "uid=reader,ou=System," DMG_SUFFIX
#define OUTSIDER "uid=mia,ou=Support," DMG_SUFFIX
#define VIS_ACLS \
    "access to dn.subtree=\"ou=Finance," DMG_SUFFIX "\"\n" \
    "  by dn.exact=\"" READER "\" none\n  by * read\n" \
    "access to dn.subtree=\"" GROUPS "\" attrs=member\n" \
    "  by dn.exact=\"" OUTSIDER "\" none\n  by * read\n" \
    "access to * by * read\n"

#define FINANCE_MEMBERS \
    "uid=gina,ou=Finance," DMG_SUFFIX "\nuid=hans,ou=Finance," DMG_SUFFIX "\n" \
    "uid=iris,ou=Finance," DMG_SUFFIX "\nuid=jack,ou=Finance," DMG_SUFFIX "\n" \
    "uid=kate,ou=Finance," DMG_SUFFIX "\nuid=liam,ou=Finance," DMG_SUFFIX "\n"
#define TIER2_MEMBERS \
    "uid=vera,ou=Tier2,ou=Support," DMG_SUFFIX "\nuid=walt,ou=Tier2,ou=Support," DMG_SUFFIX "\n" \
    "uid=yuki,ou=Tier2,ou=Support," DMG_SUFFIX "\nuid=zack,ou=Tier2,ou=Support," DMG_SUFFIX
#define GINA "uid=gina,ou=Finance," DMG_SUFFIX
#define VERA "uid=vera,ou=Tier2,ou=Support," DMG_SUFFIX

static void set_visibility(const char *mode)
{
    LDAP *cfg = dmg_connect_ldapi_external(server);

    DMG_EXPECT_OK(dmg_modify(cfg, OVERLAY_CONFIG_DN,
                             dmg_fmt("replace: olcDynMailGroupMemberVisibility\n"
                                     "olcDynMailGroupMemberVisibility: %s\n", mode)),
                  mode);
    DMG_ASSERT_VALUES(cfg, OVERLAY_CONFIG_DN, LDAP_SCOPE_BASE, NULL,
                      "olcDynMailGroupMemberVisibility", mode);
    dmg_disconnect(cfg);
}

/* The group "vis" (ou=Finance and ou=Tier2) as ld sees it: member, dmgMemberCount, compare on
 * gina, and whether (member=gina) and vera's dmgMemberOf find it */
static void assert_vis_group(LDAP *ld, const char *members, const char *count, int gina_rc,
                             const char *member_filter_dns, const char *vera_member_of)
{
    const char *g = "cn=vis," GROUPS;

    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "member", members);
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", count);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", GINA), gina_rc);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(&(cn=vis*)(member=" GINA "))",
                   member_filter_dns);
    DMG_ASSERT_VALUES(ld, VERA, LDAP_SCOPE_BASE, NULL, "dmgMemberOf", vera_member_of);
}

/* dmgDecision of the group "vis" (send policy members) for sender, as ld gets it */
static void assert_vis_decision(LDAP *ld, const char *sender, const char *decision)
{
    DMG_ASSERT_VALUES(ld, "cn=vis," GROUPS, LDAP_SCOPE_BASE, dmg_fmt("(dmgSender=%s)", sender),
                      "dmgDecision", decision);
}

/* dynmailgroup-member-visibility group: the rootdn's list, shown to whoever may read the
 * group's member (one cached list for all of them); switched at run time both ways */
START_TEST(group_visibility_follows_the_group_acl)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *reader = dmg_connect(server, READER, DMG_PASSWORD);
    LDAP *outsider = dmg_connect(server, OUTSIDER, DMG_PASSWORD);
    LDAP *alice = dmg_connect(server, ALICE, DMG_PASSWORD);
    stats before, after;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=vis," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: vis\nmail: vis@example.com\n"
                                     "dmgSendPolicy: members\n"
                                     "dmgDepartment: ou=Finance," DMG_SUFFIX "\n"
                                     "dmgDepartment: ou=Tier2,ou=Support," DMG_SUFFIX "\n"),
                  LDAP_SUCCESS);

    /* requester (the default): the reader sees only the members it may read */
    assert_vis_group(reader, TIER2_MEMBERS, "4", LDAP_COMPARE_FALSE, "", "cn=vis," GROUPS);
    assert_vis_decision(reader, "gina@example.com", "reject");
    assert_vis_decision(reader, "vera@example.com", "accept");
    assert_vis_group(alice, FINANCE_MEMBERS TIER2_MEMBERS, "10", LDAP_COMPARE_TRUE,
                     "cn=vis," GROUPS, "cn=vis," GROUPS);

    /* group: the whole list to both, computed once (a miss, then hits for another identity) */
    set_visibility("group");
    before = stats_now(root);
    assert_vis_group(reader, FINANCE_MEMBERS TIER2_MEMBERS, "10", LDAP_COMPARE_TRUE,
                     "cn=vis," GROUPS, "cn=vis," GROUPS);
    free(members_of(alice, "vis"));
    after = stats_now(root);
    ck_assert_uint_eq(after.misses - before.misses, 1);
    ck_assert_uint_ge(after.hits - before.hits, 2);
    DMG_ASSERT_VALUES(reader, "cn=vis," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberMail",
                      "gina@example.com\nhans@example.com\niris@example.com\n"
                      "jack@example.com\nkate@example.com\nkate.klein@example.com\n"
                      "liam@example.com\nvera@example.com\nwalt@example.com\n"
                      "yuki@example.com"); /* zack has no mail */
    DMG_ASSERT_VALUES(reader, "cn=vis," GROUPS, LDAP_SCOPE_BASE,
                      "(dmgExplainMember=" GINA ")", "dmgMembershipExplanation",
                      "member department ou=Finance," DMG_SUFFIX);
    /* a non-member it may not learn of does not exist for it; one it may is explained */
    DMG_ASSERT_VALUES(reader, "cn=vis," GROUPS, LDAP_SCOPE_BASE,
                      "(dmgExplainMember=cn=printer-finance,ou=Finance," DMG_SUFFIX ")",
                      "dmgMembershipExplanation", "not-member no-such-entry");
    DMG_ASSERT_VALUES(reader, "cn=vis," GROUPS, LDAP_SCOPE_BASE,
                      "(dmgExplainMember=" ALICE ")", "dmgMembershipExplanation",
                      "not-member outside-departments");

    assert_vis_decision(reader, "gina@example.com", "accept");

    /* who may not read member sees no member, mail or count, and no membership */
    DMG_ASSERT_VALUES(outsider, "cn=vis," GROUPS, LDAP_SCOPE_BASE, NULL, "member", "");
    DMG_ASSERT_VALUES(outsider, "cn=vis," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberMail", "");
    DMG_ASSERT_VALUES(outsider, "cn=vis," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", "");
    DMG_ASSERT_RC(dmg_compare(outsider, "cn=vis," GROUPS, "member", VERA),
                  LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_DNS(outsider, GROUPS, LDAP_SCOPE_ONELEVEL, "(&(cn=vis*)(member=" VERA "))", "");
    DMG_ASSERT_VALUES(outsider, VERA, LDAP_SCOPE_BASE, NULL, "dmgMemberOf", "");
    assert_vis_decision(outsider, "vera@example.com", "reject");

    /* a hidden group stays hidden */
    DMG_EXPECT_OK(dmg_modify(root, "cn=vis," GROUPS,
                             "replace: dmgShowInContacts\ndmgShowInContacts: FALSE\n"),
                  "hiding the group");
    DMG_ASSERT_RC(dmg_search(reader, "cn=vis," GROUPS, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    DMG_ASSERT_VALUES(reader, VERA, LDAP_SCOPE_BASE, NULL, "dmgMemberOf", "");
    DMG_EXPECT_OK(dmg_modify(root, "cn=vis," GROUPS, "delete: dmgShowInContacts\n"),
                  "showing the group");

    /* back to requester: at once, nothing of the shared list is served */
    set_visibility("requester");
    assert_vis_group(reader, TIER2_MEMBERS, "4", LDAP_COMPARE_FALSE, "", "cn=vis," GROUPS);

    DMG_EXPECT_OK(dmg_delete(root, "cn=vis," GROUPS), "deleting the group");
    dmg_disconnect(alice);
    dmg_disconnect(outsider);
    dmg_disconnect(reader);
    dmg_disconnect(root);
}
END_TEST

/* ---- lists of ordinary identities and anonymous ------------------------------------------------
 *
 * The default visibility: each identity's list is cached under its own DN (anonymous: the
 * empty one) and shows it exactly the members it may read; one identity's list never
 * serves another, and a write shows in each identity's list as its ACLs decide. */

#define FIN_NEW "uid=idnew,ou=Finance," DMG_SUFFIX
#define ALL_VIS_MEMBERS FINANCE_MEMBERS TIER2_MEMBERS
#define TIER2_MAIL "vera@example.com\nwalt@example.com\nyuki@example.com"

/* reader reads cn=<cn>'s member twice: the first read computes its list (a miss), the second
 * takes it from the cache (a hit), and both give exactly expected */
static void assert_own_list(LDAP *root, LDAP *reader, const char *cn, const char *expected)
{
    stats before = stats_now(root), after;

    for (int i = 0; i < 2; i++)
        DMG_ASSERT_VALUES(reader, dmg_fmt("cn=%s," GROUPS, cn), LDAP_SCOPE_BASE, NULL,
                          "member", expected);
    after = stats_now(root);
    ck_assert_uint_eq(after.misses - before.misses, 1);
    ck_assert_uint_eq(after.hits - before.hits, 1);
}

START_TEST(ordinary_identities_and_anonymous_have_their_own_lists)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *reader = dmg_connect(server, READER, DMG_PASSWORD);
    LDAP *alice = dmg_connect(server, ALICE, DMG_PASSWORD);
    LDAP *anon = dmg_connect(server, NULL, NULL);
    LDAP *lds[] = { reader, alice };
    static const char *const cns[] = { "id-vis" };
    unsigned long entries = stat_of(root, "dmgCacheEntries"), updated;
    stats before;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=id-vis," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: id-vis\nmail: id-vis@example.com\n"
                                     "dmgDepartment: ou=Finance," DMG_SUFFIX "\n"
                                     "dmgDepartment: ou=Tier2,ou=Support," DMG_SUFFIX "\n"),
                  LDAP_SUCCESS);
    /* alice first: the reader, who may not read ou=Finance, gets a list of its own */
    assert_own_list(root, alice, "id-vis", ALL_VIS_MEMBERS);
    assert_own_list(root, reader, "id-vis", TIER2_MEMBERS);
    assert_own_list(root, anon, "id-vis", ALL_VIS_MEMBERS);
    ck_assert_uint_eq(stat_of(root, "dmgCacheEntries") - entries, 3);
    DMG_ASSERT_VALUES(reader, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberMail",
                      TIER2_MAIL);
    DMG_ASSERT_VALUES(reader, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", "4");
    DMG_ASSERT_VALUES(alice, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", "10");

    /* a new Finance employee: each cached list is updated for its own identity, read from
     * the cache (no miss) and shown to whoever may read the employee only */
    updated = updated_now(root);
    DMG_EXPECT_OK(dmg_add_ldif(root, "dn: " FIN_NEW "\nobjectClass: inetOrgPerson\n"
                                     "uid: idnew\ncn: Id New\nsn: New\n"
                                     "mail: idnew@example.com\n"),
                  "adding a Finance employee");
    ck_assert_uint_ge(updated_now(root) - updated, 3);
    before = stats_now(root);
    DMG_ASSERT_VALUES(reader, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      TIER2_MEMBERS);
    DMG_ASSERT_VALUES(alice, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS "\n" FIN_NEW);
    DMG_ASSERT_VALUES(anon, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS "\n" FIN_NEW);
    DMG_ASSERT_VALUES(anon, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, "(member=" FIN_NEW ")", "cn",
                      "id-vis");
    DMG_ASSERT_VALUES(reader, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, "(member=" FIN_NEW ")", "cn",
                      "");
    ck_assert_uint_eq(stats_now(root).misses - before.misses, 0);
    /* each identity's list as its own computation gives it */
    for (int i = 0; i < 2; i++)
        assert_cached_are_fresh(&lds[i], 1, lds[i], cns, 1);

    DMG_EXPECT_OK(dmg_delete(root, FIN_NEW), "deleting it");
    DMG_ASSERT_VALUES(alice, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS);
    DMG_ASSERT_VALUES(reader, "cn=id-vis," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      TIER2_MEMBERS);
    DMG_EXPECT_OK(dmg_delete(root, "cn=id-vis," GROUPS), "deleting the group");
    dmg_disconnect(anon);
    dmg_disconnect(alice);
    dmg_disconnect(reader);
    dmg_disconnect(root);
}
END_TEST

/* A write updates in place the rootdn's and the MTA's lists and those of at most 8 other
 * identities; it drops the others it concerns, so that its cost does not grow with the
 * number of users reading the group.  Every identity reads exactly its members after it. */
START_TEST(a_write_copies_at_most_eight_other_lists)
{
    static const char *const people[] = {
        "uid=gina,ou=Finance," DMG_SUFFIX, "uid=hans,ou=Finance," DMG_SUFFIX,
        "uid=iris,ou=Finance," DMG_SUFFIX, "uid=jack,ou=Finance," DMG_SUFFIX,
        "uid=kate,ou=Finance," DMG_SUFFIX, "uid=liam,ou=Finance," DMG_SUFFIX,
        "uid=vera,ou=Tier2,ou=Support," DMG_SUFFIX, "uid=walt,ou=Tier2,ou=Support," DMG_SUFFIX,
        "uid=yuki,ou=Tier2,ou=Support," DMG_SUFFIX, "uid=zack,ou=Tier2,ou=Support," DMG_SUFFIX,
        ALICE,
    };
    enum { N_PEOPLE = sizeof people / sizeof people[0] };
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *mta = dmg_connect(server, MTA, DMG_PASSWORD);
    LDAP *lds[N_PEOPLE];
    unsigned long updated;
    stats before;

    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=id-many," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: id-many\nmail: id-many@example.com\n"
                                     "dmgDepartment: ou=Finance," DMG_SUFFIX "\n"
                                     "dmgDepartment: ou=Tier2,ou=Support," DMG_SUFFIX "\n"),
                  LDAP_SUCCESS);
    flush_cache();      /* no list of an earlier test is concerned by the write below */
    DMG_ASSERT_VALUES(root, "cn=id-many," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS);
    DMG_ASSERT_VALUES(mta, "cn=id-many," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS);
    for (int i = 0; i < N_PEOPLE; i++) {
        lds[i] = dmg_connect(server, people[i], DMG_PASSWORD);
        DMG_ASSERT_VALUES(lds[i], "cn=id-many," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                          ALL_VIS_MEMBERS);
    }

    updated = updated_now(root);
    DMG_EXPECT_OK(dmg_add_ldif(root, "dn: " FIN_NEW "\nobjectClass: inetOrgPerson\n"
                                     "uid: idnew\ncn: Id New\nsn: New\n"
                                     "mail: idnew@example.com\n"),
                  "adding a Finance employee");
    ck_assert_uint_eq(updated_now(root) - updated, 2 + 8);
    before = stats_now(root);
    DMG_ASSERT_VALUES(root, "cn=id-many," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS "\n" FIN_NEW);
    DMG_ASSERT_VALUES(mta, "cn=id-many," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      ALL_VIS_MEMBERS "\n" FIN_NEW);
    ck_assert_uint_eq(stats_now(root).misses - before.misses, 0);
    for (int i = 0; i < N_PEOPLE; i++) {
        DMG_ASSERT_VALUES(lds[i], "cn=id-many," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                          ALL_VIS_MEMBERS "\n" FIN_NEW);
        dmg_disconnect(lds[i]);
    }
    /* the three lists the write dropped were computed again */
    ck_assert_uint_eq(stats_now(root).misses - before.misses, N_PEOPLE - 8);

    DMG_EXPECT_OK(dmg_delete(root, FIN_NEW), "deleting it");
    DMG_EXPECT_OK(dmg_delete(root, "cn=id-many," GROUPS), "deleting the group");
    dmg_disconnect(mta);
    dmg_disconnect(root);
}
END_TEST

/* A value that is neither mode is refused and changes nothing */
START_TEST(member_visibility_refuses_other_values)
{
    LDAP *cfg = dmg_connect_ldapi_external(server);
    dmg_result r = dmg_modify(cfg, OVERLAY_CONFIG_DN,
                              "replace: olcDynMailGroupMemberVisibility\n"
                              "olcDynMailGroupMemberVisibility: everyone\n");

    ck_assert_int_ne(r.rc, LDAP_SUCCESS);
    ck_assert_msg(strstr(r.diag, "must be \"requester\" or \"group\", not \"everyone\"") != NULL,
                  "diagnostic: %s", r.diag);
    DMG_ASSERT_VALUES(cfg, OVERLAY_CONFIG_DN, LDAP_SCOPE_BASE, NULL,
                      "olcDynMailGroupMemberVisibility", "requester");
    dmg_disconnect(cfg);
}
END_TEST

/* ---- remembered roles ------------------------------------------------------------------------- */

/* The roles remembered for an identity are kept in slots of bounded size: an identity whose DN
 * does not fit is not remembered, its roles are decided on every operation.  Its reads, twice
 * after each write, follow the writes that make it a postmaster and take that away (a hidden
 * group is seen, then not), as a short DN's do (test_roles). */
#define LONG_PMS "cn=long-postmasters,ou=System," DMG_SUFFIX
#define LONG_UID_LEN 240

START_TEST(roles_of_an_identity_with_a_long_dn_follow_writes)
{
    dmg_server_opts o = {
        .global_config = MONITOR_FIRST,
        .overlay_config = "dynmailgroup-postmaster " LONG_PMS "\n"
                          "dynmailgroup-cache-max-values 1000000\n",
    };
    char uid[LONG_UID_LEN + 1], acct[512], ldif[1024], change[640];
    const char *hidden = "cn=long-hidden," GROUPS;
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);

    memset(uid, 'l', LONG_UID_LEN);
    uid[LONG_UID_LEN] = '\0';
    snprintf(acct, sizeof acct, "uid=%s,ou=System," DMG_SUFFIX, uid);
    snprintf(ldif, sizeof ldif, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: long\n"
             "sn: long\nuserPassword: " DMG_PASSWORD "\n", acct, uid);
    DMG_ASSERT_RC(dmg_add_ldif(root, ldif), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " LONG_PMS "\nobjectClass: groupOfNames\n"
                               "cn: long-postmasters\nmember: " DMG_ROOTDN "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=long-hidden," GROUPS "\n"
                               "objectClass: dynamicMailGroup\ncn: long-hidden\n"
                               "mail: long-hidden@example.com\n"
                               "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n"
                               "dmgShowInContacts: FALSE\n"),
                  LDAP_SUCCESS);

    LDAP *ld = dmg_connect(s, acct, DMG_PASSWORD);
    for (int i = 0; i < 2; i++)
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=long-hidden)", "");
    snprintf(change, sizeof change, "add: member\nmember: %s\n", acct);
    DMG_ASSERT_RC(dmg_modify(root, LONG_PMS, change), LDAP_SUCCESS);
    for (int i = 0; i < 2; i++)
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=long-hidden)", hidden);
    snprintf(change, sizeof change, "delete: member\nmember: %s\n", acct);
    DMG_ASSERT_RC(dmg_modify(root, LONG_PMS, change), LDAP_SUCCESS);
    for (int i = 0; i < 2; i++)
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=long-hidden)", "");
    DMG_ASSERT_RC(dmg_compare(ld, hidden, "cn", "long-hidden"), LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

static Suite *cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = dmg_tcase("cache");
    tcase_add_test(tc, monitor_entry_has_the_statistics);
    tcase_add_test(tc, write_drops_only_the_groups_it_concerns);
    tcase_add_test(tc, modify_of_unread_attributes_keeps_the_lists);
    tcase_add_test(tc, single_entry_writes_update_lists_in_place);
    tcase_add_test(tc, overrides_lists_follow_the_entries_they_name);
    tcase_add_test(tc, nested_lists_follow_the_named_groups_rules);
    tcase_add_test(tc, reverse_lookups_read_cached_lists_and_see_every_write);
    tcase_add_test(tc, department_rename_is_followed_through_the_cache);
    tcase_add_test(tc, writes_racing_reads_never_see_a_stale_list);
    tcase_add_test(tc, long_series_of_writes_updates_lists_exactly);
    tcase_add_test(tc, taking_out_members_keeps_members_and_mail_values_exact);
    tcase_add_test(tc, cached_list_index_follows_many_adds_and_deletes);
    tcase_add_test(tc, a_previewed_write_leaves_the_cache_in_use);
    tcase_add_test(tc, acl_reading_another_entry_drops_lists_on_any_write);
    tcase_add_test(tc, ordinary_lists_follow_acl_relevant_writes);
    tcase_add_test(tc, one_write_updates_each_group_and_identity_with_its_own_rule_and_rights);
    tcase_add_test(tc, cache_is_on_by_default);
    tcase_add_test(tc, flush_on_cn_config_empties_the_cache);
    tcase_add_test(tc, group_visibility_follows_the_group_acl);
    tcase_add_test(tc, ordinary_identities_and_anonymous_have_their_own_lists);
    tcase_add_test(tc, a_write_copies_at_most_eight_other_lists);
    tcase_add_test(tc, member_visibility_refuses_other_values);
    tcase_add_test(tc, roles_of_an_identity_with_a_long_dn_follow_writes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    dmg_server_opts o = {
        .global_config = MONITOR_FIRST,
        .db_config = VIS_ACLS,
        .overlay_config = "dynmailgroup-privileged " MTA "\n"
                          "dynmailgroup-cache-max-values 1000000\n",
    };
    setenv("LDAPNOINIT", "1", 0);
    return dmg_run_suite(cache_suite(), &o, &server);
}
