/*
 * test_uuid_pairs.c -- which UUID goes with which DN value (man page REFERENCES), against
 * real slapd servers; every test starts its own.
 *
 *  - "replication": two providers, node 2 replicating from node 1 by plain syncrepl (not
 *    delta). A rename rewrite on node 1 changes a DN value in place; node 2 applies it as a
 *    delete and an add, so it stores the DN values in another order than their UUIDs. A
 *    value deleted there by a client, and an entry deleted there, take exactly their own
 *    UUID: nobody else loses a role or a membership, nobody keeps one.
 *  - "pairs" (one server): two values naming one entry are refused (its UUID would be stored
 *    twice, which replicas refuse); a delete among values whose UUIDs cannot be told apart
 *    (two entries renamed while the overlay did not run) is refused with a message saying
 *    so, deleting them all is not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup with -std=c99 */
#endif
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TCASE_TIMEOUT_S 240 /* two servers and bounded replication waits */

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define POSTMASTER "uid=postmaster,ou=System," DMG_SUFFIX
#define ENG        "ou=Engineering," DMG_SUFFIX
#define ALICE      "uid=alice," ENG
#define ALICE2     "uid=alice2," ENG
#define BOB        "uid=bob," ENG
#define BOB2       "uid=bob2," ENG
#define FINANCE    "ou=Finance," DMG_SUFFIX
#define FIN_MEMBERS \
    "uid=gina," FINANCE "\nuid=hans," FINANCE "\nuid=iris," FINANCE "\nuid=jack," FINANCE \
    "\nuid=kate," FINANCE "\nuid=liam," FINANCE

#define OVERLAY_CONFIG "dynmailgroup-postmaster " POSTMASTER "\n"
#define INDEX_AND_LIMITS \
    "index entryCSN,entryUUID eq\n" \
    "limits dn.exact=\"" DMG_ROOTDN "\" size=unlimited time=unlimited\n"
#define SYNCPROV_BELOW "overlay syncprov\nsyncprov-checkpoint 1 1\n"

static const char *const TREE_ATTRS[] = { "*", "entryCSN", "entryUUID", NULL };
static const dmg_query Q_TREE = { DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(objectClass=*)", TREE_ATTRS,
                                  1 };

/* ---- helpers ------------------------------------------------------------------------------- */

static LDAP *root_on(dmg_server *s)
{
    return dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
}

/* The values of attr of dn as the rootdn reads them (operational ones by name), sorted */
static char *root_values(dmg_server *s, const char *dn, const char *attr)
{
    LDAP *ld = root_on(s);
    char *v = dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, attr);
    dmg_disconnect(ld);
    return v;
}

/* Value i of attr of dn as stored (ManageDsaIT), in the server's order */
static char *stored_value(dmg_server *s, const char *dn, const char *attr, size_t i)
{
    LDAP *ld = root_on(s);
    dmg_entries *es = NULL;
    const char *const attrs[] = { attr, NULL };
    DMG_EXPECT_OK(dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs,
                             DMG_CTRLS(dmg_ctrl_manage_dsait()), &es), dn);
    const dmg_attr *a = dmg_entry_attr(&es->entries[0], attr);
    ck_assert_msg(a != NULL && i < a->nvalues, "%s: no value %zu of %s", dn, i, attr);
    char *v = strdup(a->values[i]);
    dmg_entries_free(es);
    dmg_disconnect(ld);
    return v;
}

static void assert_root_values_at(const char *file, int line, dmg_server *s, const char *dn,
                                  const char *attr, const char *expected)
{
    LDAP *ld = root_on(s);
    dmg_assert_values_at(file, line, ld, dn, LDAP_SCOPE_BASE, NULL, attr, expected, NULL);
    dmg_disconnect(ld);
}
#define ASSERT_ROOT_VALUES(s, dn, attr, expected) \
    assert_root_values_at(__FILE__, __LINE__, (s), (dn), (attr), (expected))

/* ==============================================================================================
 * replication: node 2 stores the DN values in another order than their UUIDs
 * ============================================================================================ */

static dmg_server *start_node(int id, const dmg_server *provider)
{
    char global[64], db_config[2048], sr[1024] = "";
    snprintf(global, sizeof global, "serverID %d\n", id);
    if (provider != NULL)
        dmg_syncrepl_value(sr, sizeof sr, "001", dmg_server_uri(provider), NULL);
    snprintf(db_config, sizeof db_config, INDEX_AND_LIMITS "%s%s%s",
             provider ? "syncrepl " : "", sr, provider ? "\nmultiprovider on\n" : "");
    dmg_server_opts o = {
        .modules = "syncprov",
        .global_config = global,
        .db_config = db_config,
        .overlays_before = SYNCPROV_BELOW,
        .overlay_config = OVERLAY_CONFIG,
        .fixture = provider ? DMG_NO_FIXTURE : NULL,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "node %d did not start (see stderr)", id);
    return s;
}

/* On node 1, a group naming alice and bob in attr */
static void add_group_naming_both(LDAP *r1, const char *cn, const char *attr)
{
    const char *g = dmg_fmt("cn=%s," GROUPS, cn);
    DMG_EXPECT_OK(dmg_add_ldif(r1, dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\n"
                                           "mail: %s@example.com\n"
                                           "dmgDepartment: " FINANCE "\n"
                                           "%s: " ALICE "\n%s: " BOB "\n",
                                           g, cn, cn, attr, attr)),
                  g);
}

/* bob then alice renamed on node 1, each awaited on node 2.  The first rewrite of a group
 * reaches node 2 as a replace (it moved the attribute among the entry's attributes on node 1,
 * as back-mdb's replace does); from then on both nodes hold the attributes in the same order,
 * so the second reaches it as a delete of the old value and an add of the new one: node 2
 * then holds "bob2, alice2" while the UUIDs stay "alice's, bob's" (checked: it is what this
 * test is about). */
static void renames_reorder(dmg_server *n1, dmg_server *n2, const char *const *groups,
                            const char *const *attrs)
{
    LDAP *r1 = root_on(n1), *r2 = root_on(n2);
    DMG_EXPECT_OK(dmg_rename(r1, BOB, "uid=bob2", NULL, 1), "rename bob");
    free(DMG_WAIT_SAME(r1, r2, &Q_TREE));
    DMG_EXPECT_OK(dmg_rename(r1, ALICE, "uid=alice2", NULL, 1), "rename alice");
    free(DMG_WAIT_SAME(r1, r2, &Q_TREE));
    for (int i = 0; groups[i] != NULL; i++) {
        char *first = stored_value(n2, groups[i], attrs[i], 0);
        DMG_ASSERT_STR(first, BOB2);
        free(first);
    }
    dmg_disconnect(r1);
    dmg_disconnect(r2);
}

START_TEST(plain_syncrepl_reorders_values_but_not_pairs)
{
    dmg_server *n1 = start_node(1, NULL);
    dmg_server *n2 = start_node(2, n1);
    const char *adm = "cn=pairs-adm," GROUPS, *inc = "cn=pairs-inc," GROUPS;
    const char *const groups[] = { adm, inc, NULL };
    const char *const attrs[] = { "dmgAdministrator", "dmgIncludeMember", NULL };
    LDAP *r1 = root_on(n1);
    add_group_naming_both(r1, "pairs-adm", attrs[0]);
    add_group_naming_both(r1, "pairs-inc", attrs[1]);
    dmg_disconnect(r1);
    renames_reorder(n1, n2, groups, attrs);
    char *alice = root_values(n1, ALICE2, "entryUUID");

    /* both UUIDs still read right on node 2 */
    ASSERT_ROOT_VALUES(n2, adm, "dmgAdministrator", ALICE2 "\n" BOB2);

    /* a postmaster on node 2 removes bob: alice2 stays administrator, bob does not */
    LDAP *pm = dmg_connect(n2, POSTMASTER, DMG_PASSWORD);
    DMG_EXPECT_OK(dmg_modify(pm, adm, "delete: dmgAdministrator\ndmgAdministrator: " BOB2 "\n"),
                  "remove bob");
    ASSERT_ROOT_VALUES(n2, adm, "dmgAdministratorUUID", alice);
    ASSERT_ROOT_VALUES(n2, adm, "dmgAdministrator", ALICE2);
    LDAP *b = dmg_connect(n2, BOB2, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_modify(b, adm, "replace: description\ndescription: bob\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(b);
    LDAP *a = dmg_connect(n2, ALICE2, DMG_PASSWORD);
    DMG_EXPECT_OK(dmg_modify(a, adm, "replace: description\ndescription: alice2\n"),
                  "alice2 still administers");
    dmg_disconnect(a);

    /* bob's entry deleted on node 2: only bob's value and UUID go */
    LDAP *r2 = root_on(n2);
    DMG_EXPECT_OK(dmg_delete(r2, BOB2), "delete bob");
    ASSERT_ROOT_VALUES(n2, inc, "dmgIncludeMemberUUID", alice);
    ASSERT_ROOT_VALUES(n2, inc, "dmgIncludeMember", ALICE2);
    DMG_ASSERT_VALUES(r2, inc, LDAP_SCOPE_BASE, NULL, "member", ALICE2 "\n" FIN_MEMBERS);

    dmg_disconnect(r2);
    dmg_disconnect(pm);
    free(alice);
    ck_assert_int_eq(dmg_server_stop(n2), 0);
    ck_assert_int_eq(dmg_server_stop(n1), 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */

static Suite *pairs_suite(void)
{
    Suite *s = suite_create("uuid_pairs");
    TCase *tc = dmg_tcase("replication");
    tcase_set_timeout(tc, (double)(TCASE_TIMEOUT_S * dmg_slowdown()));
    tcase_add_test(tc, plain_syncrepl_reorders_values_but_not_pairs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return dmg_run_suite_own_servers(pairs_suite());
}
