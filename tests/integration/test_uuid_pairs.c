/*
 * test_uuid_pairs.c -- which UUID goes with which DN value (man page REFERENCES), against
 * real slapd servers; every test starts its own.
 *
 *  - "replication": two providers, node 2 replicating from node 1 by plain syncrepl (not
 *    delta). A rename rewrite on node 1 changes a DN value in place; node 2 applies it as a
 *    delete and an add, so it stores the DN values in another order than their UUIDs. A
 *    value deleted there by a client, and an entry deleted there, take exactly their own
 *    UUID: nobody else loses a role or a membership, nobody keeps one.
 *  - "pairs" (a server per test; most store a group's state with the overlay not loaded, as a
 *    crash or a node without the overlay leaves it, then add the overlay over cn=config):
 *    two values naming one entry are refused (its UUID would be stored twice, which replicas
 *    refuse) and a rename rewrite never makes a value twice; a delete among values whose UUIDs cannot be told apart is refused with a message
 *    saying so, deleting them all is not; entryUUID may not be written by clients and an
 *    entryUUID two entries carry gives no role; a nested exclude group whose members cannot be
 *    found excludes; accesslog above the overlay is refused; a new RDN may not give a
 *    companion and an entry made a group keeps no companion the overlay did not write; a
 *    current DN is shown only to readers who may see the entry, a dangling reference only to
 *    readers of the value; writes of a group whose UUIDs cannot be looked up are refused
 *    with other (80), as are compares on it; the cycle check follows
 *    UUIDs; rename and delete follow-ups match a value by its UUID; a paired UUID naming
 *    no entry does not block writes; a write of another attribute made at the same moment
 *    as a write of a reference never leaves DN values and UUIDs disagreeing; an entry whose
 *    entryUUID cannot be read is neither deleted nor renamed (other, 80); a role value whose
 *    DN and UUID do not pair gives no role; an explanation from a rule whose entries cannot
 *    be found is an error (other, 80).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup with -std=c99 */
#endif
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    char *alice = dmg_root_values(n1, ALICE2, "entryUUID");

    /* both UUIDs still read right on node 2 */
    DMG_ASSERT_ROOT_VALUES(n2, adm, "dmgAdministrator", ALICE2 "\n" BOB2);

    /* a postmaster on node 2 removes bob: alice2 stays administrator, bob does not */
    LDAP *pm = dmg_connect(n2, POSTMASTER, DMG_PASSWORD);
    DMG_EXPECT_OK(dmg_modify(pm, adm, "delete: dmgAdministrator\ndmgAdministrator: " BOB2 "\n"),
                  "remove bob");
    DMG_ASSERT_ROOT_VALUES(n2, adm, "dmgAdministratorUUID", alice);
    DMG_ASSERT_ROOT_VALUES(n2, adm, "dmgAdministrator", ALICE2);
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
    DMG_ASSERT_ROOT_VALUES(n2, inc, "dmgIncludeMemberUUID", alice);
    DMG_ASSERT_ROOT_VALUES(n2, inc, "dmgIncludeMember", ALICE2);
    DMG_ASSERT_VALUES(r2, inc, LDAP_SCOPE_BASE, NULL, "member", ALICE2 "\n" FIN_MEMBERS);

    dmg_disconnect(r2);
    dmg_disconnect(pm);
    free(alice);
    ck_assert_int_eq(dmg_server_stop(n2), 0);
    ck_assert_int_eq(dmg_server_stop(n1), 0);
}
END_TEST

/* ==============================================================================================
 * pairs: groups whose stored state no rewrite followed, written while the overlay was not there
 * ============================================================================================ */

#define PEOPLE "ou=People," DMG_SUFFIX

/* A server started with o, with ou=People */
static dmg_server *start_with_people(const dmg_server_opts *o)
{
    dmg_server *s = dmg_server_start(o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(r, "dn: " PEOPLE "\nobjectClass: organizationalUnit\nou: People\n"),
                  PEOPLE);
    dmg_disconnect(r);
    return s;
}

/* A server with the module loaded but not the overlay, so that the rootdn can store a group's
 * DN values and UUIDs as they are after renames and deletes no rewrite followed; the overlay is
 * then added over cn=config (overlay_add). */
static dmg_server *start_without_overlay(void)
{
    dmg_server_opts o = {
        .without_overlay = 1,
        .config_dir = 1,
        .db_config = "index entryUUID eq\n",
    };
    return start_with_people(&o);
}

static void overlay_add(dmg_server *s)
{
    LDAP *cfg = dmg_connect_ldapi_external(s);
    char *db = dmg_config_db_dn(cfg);
    DMG_EXPECT_OK(dmg_add_ldif(cfg, dmg_fmt("dn: olcOverlay=dynmailgroup,%s\n"
                                            "objectClass: olcOverlayConfig\n"
                                            "objectClass: olcDynMailGroupConfig\n"
                                            "olcOverlay: dynmailgroup\n"
                                            "olcDynMailGroupPostmaster: " POSTMASTER "\n", db)),
                  "overlay over cn=config");
    free(db);
    dmg_disconnect(cfg);
}

/* A person uid=<uid> under ou=People; its entryUUID (free it) */
static char *person(dmg_server *s, const char *uid)
{
    const char *dn = dmg_fmt("uid=%s," PEOPLE, uid);
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(r, dmg_fmt("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\n"
                                          "cn: %s\nsn: %s\nmail: %s@example.com\n"
                                          "userPassword: " DMG_PASSWORD "\n",
                                          dn, uid, uid, uid, uid)),
                  dn);
    dmg_disconnect(r);
    return dmg_root_values(s, dn, "entryUUID");
}

/* A group cn=<cn> stored as given (lines: the reference values and their UUIDs) */
static void stored_group(dmg_server *s, const char *cn, const char *lines)
{
    const char *dn = dmg_fmt("cn=%s," GROUPS, cn);
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(r, dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\n"
                                          "mail: %s@example.com\n%s",
                                          dn, cn, cn, lines)),
                  dn);
    dmg_disconnect(r);
}

/* uid=x was uid=a when the group included it (its UUID is there): adding uid=x again would
 * store its UUID twice */
START_TEST(two_values_naming_one_entry_refused)
{
    dmg_server *s = start_without_overlay();
    char *x = person(s, "x");
    stored_group(s, "dup", dmg_fmt("dmgIncludeMember: uid=a," PEOPLE "\n"
                                   "dmgIncludeMemberUUID: %s\n", x));
    overlay_add(s);

    const char *g = "cn=dup," GROUPS;
    LDAP *pm = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    dmg_result r = dmg_modify(pm, g, "add: dmgIncludeMember\ndmgIncludeMember: uid=x," PEOPLE "\n");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgIncludeMember: \"uid=x," PEOPLE "\" names the same entry as "
                           "value \"uid=a," PEOPLE "\"");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", x);
    DMG_ASSERT_VALUES(pm, g, LDAP_SCOPE_BASE, NULL, "member", "uid=x," PEOPLE);
    dmg_disconnect(pm);
    free(x);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A group holding two values for one entry (its DN before a rename no rewrite followed, and
 * its current DN, stored where the overlay did not run): renaming the entry back to the old
 * DN leaves one value, not the same value twice */
START_TEST(rename_rewrite_never_doubles_a_value)
{
    dmg_server *s = start_without_overlay();
    char *x = person(s, "x");
    stored_group(s, "twice", dmg_fmt("dmgDepartment: " FINANCE "\n"
                                     "dmgIncludeMember: uid=a," PEOPLE "\n"
                                     "dmgIncludeMember: uid=x," PEOPLE "\n"
                                     "dmgIncludeMemberUUID: %s\n", x));
    overlay_add(s);

    const char *g = "cn=twice," GROUPS;
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_rename(r, "uid=x," PEOPLE, "uid=a", NULL, 1), "rename x back to a");
    DMG_ASSERT_VALUES_EXT(r, g, LDAP_SCOPE_BASE, NULL, "dmgIncludeMember", "uid=a," PEOPLE,
                          DMG_CTRLS(dmg_ctrl_manage_dsait()));
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", x);
    dmg_disconnect(r);
    free(x);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* Two values naming entries renamed without the group following, one UUID: which value it
 * belongs to cannot be told (the numbers differ, so the order says nothing) */
START_TEST(ambiguous_delete_refused)
{
    dmg_server *s = start_without_overlay();
    char *p = person(s, "p"), *q = person(s, "q");
    stored_group(s, "amb", dmg_fmt("dmgIncludeMember: uid=old1," PEOPLE "\n"
                                   "dmgIncludeMember: uid=old2," PEOPLE "\n"
                                   "dmgIncludeMemberUUID: %s\n", p));
    overlay_add(s);

    const char *g = "cn=amb," GROUPS;
    LDAP *pm = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_VALUES(pm, g, LDAP_SCOPE_BASE, NULL, "member", "uid=p," PEOPLE);
    /* a write keeping both values keeps the UUID */
    DMG_EXPECT_OK(dmg_modify(pm, g, "replace: description\ndescription: kept\n"), "description");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", p);
    dmg_result r = dmg_modify(pm, g, "delete: dmgIncludeMember\n"
                                     "dmgIncludeMember: uid=old1," PEOPLE "\n");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgIncludeMember: \"uid=old1," PEOPLE "\" is one of 2 values whose "
                           "entries were renamed or deleted without the group following; which "
                           "entryUUID is its own cannot be told: delete or replace them all in "
                           "one write");
    DMG_ASSERT_VALUES(pm, g, LDAP_SCOPE_BASE, NULL, "member", "uid=p," PEOPLE);
    /* all of them at once */
    DMG_EXPECT_OK(dmg_modify(pm, g, "replace: dmgIncludeMember\n"
                                    "dmgIncludeMember: uid=q," PEOPLE "\n"),
                  "replace");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", q);
    DMG_ASSERT_VALUES(pm, g, LDAP_SCOPE_BASE, NULL, "member", "uid=q," PEOPLE);
    dmg_disconnect(pm);
    free(p);
    free(q);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A nested group in dmgExcludeMember whose members cannot be found (the entryUUID it names is
 * carried by two entries) excludes: the reverse test fails closed; compares and writes of that
 * group get no answer rather than a wrong one */
START_TEST(unknown_exclude_group_excludes)
{
    dmg_server *s = start_without_overlay();
    char *p = person(s, "p");
    free(person(s, "twin"));
    stored_group(s, "ex", dmg_fmt("dmgSendPolicy: members\ndmgIncludeMember: uid=old," PEOPLE "\n"
                                  "dmgIncludeMemberUUID: %s\n", p));
    stored_group(s, "top", "dmgDepartment: " PEOPLE "\ndmgExcludeMember: cn=ex," GROUPS "\n");
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_modify_ext(r, "uid=twin," PEOPLE,
                                 dmg_fmt("replace: entryUUID\nentryUUID: %s\n", p),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "twin takes p's entryUUID");
    overlay_add(s);

    DMG_ASSERT_RC(dmg_compare(r, "cn=top," GROUPS, "member", "uid=p," PEOPLE),
                  LDAP_COMPARE_FALSE);
    DMG_ASSERT_DNS(r, GROUPS, LDAP_SCOPE_ONELEVEL, "(member=uid=p," PEOPLE ")", "");
    /* the group itself: no answer rather than a wrong one */
    dmg_result res = dmg_compare(r, "cn=ex," GROUPS, "member", "uid=p," PEOPLE);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, "dynmailgroup: could not compute the compared attribute");
    /* a send decision on it is an error (the MTA defers), not a reject */
    static const char *const dec[] = { "dmgDecision", NULL };
    res = dmg_search(r, GROUPS, LDAP_SCOPE_ONELEVEL,
                     "(&(mail=ex@example.com)(dmgSender=p@example.com))", dec, NULL, NULL);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    /* nor can it be written: whether its value names an entry is not known */
    res = dmg_modify(r, "cn=ex," GROUPS, "replace: description\ndescription: x\n");
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, "dmgIncludeMember: \"uid=old," PEOPLE "\": could not check the "
                             "entry it names (Other (e.g., implementation specific) error, 80); "
                             "nothing was changed");
    dmg_disconnect(r);
    free(p);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* Everyone may manage their own entry (slapd then lets them give it an entryUUID with Relax
 * Rules): taking an administrator's entryUUID gives no role */
START_TEST(entry_uuid_not_taken_from_others)
{
    dmg_server_opts o = {
        .db_config = "index entryUUID eq\naccess to * by self manage by * read\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    dmg_server *s = start_with_people(&o);
    LDAP *r;
    char *adm = person(s, "adm");
    free(person(s, "m"));
    const char *g = "cn=forged," GROUPS, *m = "uid=m," PEOPLE;
    stored_group(s, "forged", "dmgDepartment: " FINANCE "\ndmgAdministrator: uid=adm," PEOPLE "\n");

    LDAP *ml = dmg_connect(s, m, DMG_PASSWORD);
    dmg_result res = dmg_modify_ext(ml, m, dmg_fmt("replace: entryUUID\nentryUUID: %s\n", adm),
                                    DMG_CTRLS(dmg_ctrl_relax()));
    DMG_ASSERT_RC(res, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(res.diag, "entryUUID: written by the server only (groups name entries by it)");
    res = dmg_rename_ext(ml, m, dmg_fmt("entryUUID=%s", adm), NULL, 0,
                         DMG_CTRLS(dmg_ctrl_relax()));
    DMG_ASSERT_RC(res, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(res.diag, "entryUUID: written by the server only (groups name entries by it)");
    DMG_ASSERT_RC(dmg_modify(ml, g, "replace: description\ndescription: m\n"),
                  LDAP_INSUFFICIENT_ACCESS);

    /* two entries with one entryUUID (the rootdn may write it): neither holds the role */
    r = root_on(s);
    DMG_EXPECT_OK(dmg_modify_ext(r, m, dmg_fmt("replace: entryUUID\nentryUUID: %s\n", adm),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "rootdn gives m adm's entryUUID");
    dmg_disconnect(r);
    DMG_ASSERT_RC(dmg_modify(ml, g, "replace: description\ndescription: m\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    LDAP *al = dmg_connect(s, "uid=adm," PEOPLE, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_modify(al, g, "replace: description\ndescription: adm\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(al);
    dmg_disconnect(ml);
    free(adm);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* The roles a requester holds by its entryUUID are remembered between its operations until
 * the next write: once another entry carries that entryUUID too, its next read holds no role
 * (the hidden group it administers is not seen), and once that entry has its own again, it
 * does. */
START_TEST(remembered_uuid_roles_follow_other_entries)
{
    dmg_server_opts o = {
        .db_config = "index entryUUID eq\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    dmg_server *s = start_with_people(&o);
    char *adm = person(s, "adm"), *m = person(s, "m");
    const char *g = "cn=hidden," GROUPS, *mdn = "uid=m," PEOPLE;
    stored_group(s, "hidden", "dmgDepartment: " FINANCE "\ndmgShowInContacts: FALSE\n"
                              "dmgAdministrator: uid=adm," PEOPLE "\n");

    LDAP *al = dmg_connect(s, "uid=adm," PEOPLE, DMG_PASSWORD);
    DMG_ASSERT_DNS(al, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=hidden)", g);
    DMG_ASSERT_DNS(al, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=hidden)", g);
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_modify_ext(r, mdn, dmg_fmt("replace: entryUUID\nentryUUID: %s\n", adm),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "rootdn gives m adm's entryUUID");
    DMG_ASSERT_DNS(al, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=hidden)", "");
    DMG_ASSERT_RC(dmg_search(al, g, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    DMG_EXPECT_OK(dmg_modify_ext(r, mdn, dmg_fmt("replace: entryUUID\nentryUUID: %s\n", m),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "rootdn gives m its entryUUID back");
    DMG_ASSERT_DNS(al, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=hidden)", g);
    dmg_disconnect(r);
    dmg_disconnect(al);
    free(adm);
    free(m);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A new RDN may not give a UUID companion; an entry made a group keeps no companion the
 * overlay did not write (one the rootdn stored there with Relax Rules beforehand) */
START_TEST(companions_only_from_the_overlay)
{
    dmg_server *s = start_without_overlay();
    char *m = person(s, "m");
    const char *forge = "cn=forge," GROUPS;
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(r, dmg_fmt("dn: %s\nobjectClass: applicationProcess\ncn: forge\n"
                                          "dmgAdministratorUUID: %s\n", forge, m)),
                  forge);
    overlay_add(s);

    LDAP *ml = dmg_connect(s, "uid=m," PEOPLE, DMG_PASSWORD);
    dmg_result res = dmg_rename(ml, "uid=m," PEOPLE, dmg_fmt("dmgAdministratorUUID=%s", m),
                                NULL, 0);
    DMG_ASSERT_RC(res, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(res.diag, "dmgAdministratorUUID: written by the server only (the entryUUID "
                             "of each entry the group names); the rootdn may give it with the "
                             "Relax Rules control");
    /* (a change of structural object class needs Relax Rules) */
    DMG_EXPECT_OK(dmg_modify_ext(r, forge, "replace: objectClass\nobjectClass: dynamicMailGroup\n"
                                           "-\nadd: mail\nmail: forge@example.com\n-\n"
                                           "add: dmgDepartment\ndmgDepartment: " PEOPLE "\n",
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "make it a group");
    DMG_ASSERT_ROOT_VALUES(s, forge, "dmgAdministratorUUID", "");
    DMG_ASSERT_RC(dmg_modify(ml, forge, "replace: description\ndescription: m\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ml);
    dmg_disconnect(r);
    free(m);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A dangling reference shows a value of the group: only to those who may read that value */
START_TEST(dangling_shown_only_to_readers_of_the_value)
{
    dmg_server_opts o = {
        .without_overlay = 1,
        .config_dir = 1,
        .db_config = "index entryUUID eq\n"
                     "access to attrs=dmgIncludeMember by users none\n"
                     "access to * by * read\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(r, "dn: " PEOPLE "\nobjectClass: organizationalUnit\nou: People\n"),
                  PEOPLE);
    char *gone = person(s, "gone");
    DMG_EXPECT_OK(dmg_delete(r, "uid=gone," PEOPLE), "delete uid=gone");
    stored_group(s, "dang", dmg_fmt("dmgDepartment: " FINANCE "\n"
                                    "dmgIncludeMember: uid=gone," PEOPLE "\n"
                                    "dmgIncludeMemberUUID: %s\n", gone));
    overlay_add(s);

    const char *g = "cn=dang," GROUPS;
    DMG_ASSERT_VALUES(r, g, LDAP_SCOPE_BASE, NULL, "dmgDanglingReference",
                      "dmgIncludeMember uid=gone," PEOPLE);
    LDAP *rd = dmg_connect(s, "uid=reader,ou=System," DMG_SUFFIX, DMG_PASSWORD);
    DMG_ASSERT_VALUES(rd, g, LDAP_SCOPE_BASE, NULL, "dmgDanglingReference", "");
    dmg_disconnect(rd);
    dmg_disconnect(r);
    free(gone);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A value naming an entry renamed without the group following is shown with the entry's
 * current DN only to readers who may see that entry: to others, as stored */
START_TEST(current_dn_shown_only_when_disclosed)
{
    dmg_server_opts o = {
        .without_overlay = 1,
        .config_dir = 1,
        .db_config = "index entryUUID eq\n"
                     "access to dn.subtree=\"ou=Secret," DMG_SUFFIX "\" by users none\n"
                     "access to * by * read\n",
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(r, "dn: ou=Secret," DMG_SUFFIX "\nobjectClass: organizationalUnit\n"
                                  "ou: Secret\n"),
                  "ou=Secret");
    DMG_EXPECT_OK(dmg_add_ldif(r, "dn: uid=s2,ou=Secret," DMG_SUFFIX "\n"
                                  "objectClass: inetOrgPerson\nuid: s2\ncn: s2\nsn: s2\n"),
                  "uid=s2");
    char *uuid = dmg_root_values(s, "uid=s2,ou=Secret," DMG_SUFFIX, "entryUUID");
    stored_group(s, "sec", dmg_fmt("dmgDepartment: " FINANCE "\n"
                                   "dmgIncludeMember: uid=s,ou=Secret," DMG_SUFFIX "\n"
                                   "dmgIncludeMemberUUID: %s\n", uuid));
    overlay_add(s);

    const char *g = "cn=sec," GROUPS;
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMember", "uid=s2,ou=Secret," DMG_SUFFIX);
    LDAP *rd = dmg_connect(s, "uid=reader,ou=System," DMG_SUFFIX, DMG_PASSWORD);
    DMG_ASSERT_VALUES(rd, g, LDAP_SCOPE_BASE, NULL, "dmgIncludeMember",
                      "uid=s,ou=Secret," DMG_SUFFIX);
    dmg_disconnect(rd);
    dmg_disconnect(r);
    free(uuid);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* Group b includes group a under the DN a had before a rename no rewrite followed: including
 * b in a makes a cycle, found through b's UUID */
START_TEST(cycle_through_a_renamed_group_refused)
{
    dmg_server *s = start_without_overlay();
    stored_group(s, "a", "dmgDepartment: " FINANCE "\n");
    char *a = dmg_root_values(s, "cn=a," GROUPS, "entryUUID");
    stored_group(s, "b", dmg_fmt("dmgIncludeMember: cn=a-old," GROUPS "\n"
                                 "dmgIncludeMemberUUID: %s\n", a));
    overlay_add(s);

    LDAP *r = root_on(s);
    dmg_result res = dmg_modify(r, "cn=a," GROUPS, "add: dmgIncludeMember\n"
                                                   "dmgIncludeMember: cn=b," GROUPS "\n");
    DMG_ASSERT_RC(res, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(res.diag, "dmgIncludeMember: \"cn=b," GROUPS "\" would make a cycle of "
                             "groups: \"cn=a," GROUPS "\" -> \"cn=b," GROUPS "\" -> \"cn=a,"
                             GROUPS "\"");
    dmg_disconnect(r);
    free(a);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* uid=a was renamed to uid=x with no rewrite following, and a new entry took uid=a: the
 * group's value uid=a is x's (by its UUID).  Deleting the new uid=a leaves it. */
START_TEST(follow_ups_match_by_uuid)
{
    dmg_server *s = start_without_overlay();
    char *x = person(s, "x");
    free(person(s, "a"));
    stored_group(s, "m2", dmg_fmt("dmgDepartment: " FINANCE "\n"
                                  "dmgIncludeMember: uid=a," PEOPLE "\n"
                                  "dmgIncludeMemberUUID: %s\n", x));
    overlay_add(s);

    const char *g = "cn=m2," GROUPS;
    LDAP *r = root_on(s);
    /* the inconsistency is logged (once) */
    DMG_ASSERT_VALUES(r, g, LDAP_SCOPE_BASE, NULL, "dmgIncludeMember", "uid=x," PEOPLE);
    char *log = dmg_read_file(dmg_server_log(s));
    ck_assert_msg(strstr(log, "dynmailgroup: \"cn=m2," GROUPS "\": value \"uid=a," PEOPLE "\" "
                              "names an entry whose entryUUID the group does not hold; the "
                              "group's entryUUIDs are followed, rewrite the value to correct "
                              "it") != NULL,
                  "not logged");
    free(log);
    DMG_EXPECT_OK(dmg_delete(r, "uid=a," PEOPLE), "delete the new uid=a");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", x);
    char *stored = stored_value(s, g, "dmgIncludeMember", 0);
    DMG_ASSERT_STR(stored, "uid=a," PEOPLE);
    free(stored);
    DMG_ASSERT_VALUES(r, g, LDAP_SCOPE_BASE, NULL, "member", "uid=x," PEOPLE "\n" FIN_MEMBERS);
    /* deleted by both its stored and its current DN in one write: removed once, with its UUID */
    DMG_EXPECT_OK(dmg_modify(r, g, "delete: dmgIncludeMember\ndmgIncludeMember: uid=a," PEOPLE
                                   "\ndmgIncludeMember: uid=x," PEOPLE "\n"),
                  "delete by both DNs");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", "");
    DMG_ASSERT_VALUES(r, g, LDAP_SCOPE_BASE, NULL, "member", FIN_MEMBERS);
    dmg_disconnect(r);
    free(x);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* The auditor uid=y was deleted with no follow-up and a new uid=y hired: the group can still
 * be written, and the value then names the new entry */
START_TEST(dangling_paired_uuid_does_not_block_writes)
{
    dmg_server *s = start_without_overlay();
    char *old = person(s, "y");
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_delete(r, "uid=y," PEOPLE), "delete uid=y");
    char *y = person(s, "y");
    stored_group(s, "m4", dmg_fmt("dmgDepartment: " FINANCE "\ndmgAuditor: uid=y," PEOPLE "\n"
                                  "dmgAuditorUUID: %s\n", old));
    overlay_add(s);

    const char *g = "cn=m4," GROUPS;
    DMG_EXPECT_OK(dmg_modify(r, g, "replace: description\ndescription: written\n"),
                  "write a group whose auditor was replaced");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgAuditorUUID", y);
    dmg_disconnect(r);
    free(old);
    free(y);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* accesslog above the overlay would log group writes without the UUIDs the overlay adds to
 * them, and delta-syncrepl consumers would store DN values without UUIDs: refused */
START_TEST(accesslog_above_refused)
{
    char logdir[] = "/tmp/dmg-pairs-alog-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(logdir));
    dmg_server_opts o = {
        .modules = "accesslog",
        .global_config = dmg_fmt("database mdb\nsuffix cn=accesslog\ndirectory \"%s\"\n"
                                 "maxsize 104857600\n", logdir),
        .overlay_config = OVERLAY_CONFIG
                          "overlay accesslog\nlogdb cn=accesslog\nlogops writes\n",
    };
    dmg_server *s = NULL;
    char *log = dmg_server_start_captured(&s, &o);
    ck_assert_msg(s == NULL, "slapd started with accesslog above dynmailgroup");
    ck_assert_msg(strstr(log, "dynmailgroup: overlay accesslog is configured after overlay "
                              "dynmailgroup on this database: its records would lack the "
                              "entryUUIDs the overlay adds to group writes; configure "
                              "accesslog before dynmailgroup") != NULL,
                  "no refusal in: %s", log);
    free(log);
    /* what mdb may have created before slapd gave up */
    unlink(dmg_fmt("%s/data.mdb", logdir));
    unlink(dmg_fmt("%s/lock.mdb", logdir));
    ck_assert_msg(rmdir(logdir) == 0, "rmdir %s", logdir);
}
END_TEST

/* Sends a modify of dn on ld without waiting for its answer: its message id */
static int modify_sent(LDAP *ld, const char *dn, const char *attr, int op, const char *value)
{
    char *vals[] = { (char *)value, NULL };
    LDAPMod mod = { .mod_op = op, .mod_type = (char *)attr, .mod_values = vals };
    LDAPMod *mods[] = { &mod, NULL };
    int msgid = -1;
    ck_assert_int_eq(ldap_modify_ext(ld, dn, mods, NULL, NULL, &msgid), LDAP_SUCCESS);
    return msgid;
}

/* The result code of the answer to msgid on ld */
static int modify_answered(LDAP *ld, int msgid)
{
    LDAPMessage *res = NULL;
    int rc = -1;
    ck_assert_int_eq(ldap_result(ld, msgid, LDAP_MSG_ALL, NULL, &res), LDAP_RES_MODIFY);
    ck_assert_int_eq(ldap_parse_result(ld, res, &rc, NULL, NULL, NULL, NULL, 1), LDAP_SUCCESS);
    return rc;
}

#define CONCURRENT_ROUNDS 150

/* A write that gives no reference (a description) still writes a group's companions when they
 * differ from its DN values (here: a group stored before the companions, as after an upgrade).
 * Sent at the same moment as a write adding a value, it must not put back the companion as it
 * was before that write: the DN values and the UUIDs agree after every round, whichever
 * order the two were made in. */
START_TEST(concurrent_writes_keep_pairs)
{
    dmg_server *s = start_without_overlay();
    char *a = person(s, "a"), *x = person(s, "x");
    stored_group(s, "race", "dmgDepartment: " PEOPLE "\ndmgIncludeMember: uid=a," PEOPLE "\n");
    overlay_add(s);

    const char *g = "cn=race," GROUPS;
    char *both = dmg_sorted_lines(dmg_fmt("%s\n%s", a, x));
    LDAP *r = root_on(s);
    LDAP *adder = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    LDAP *describer = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    for (int i = 0; i < CONCURRENT_ROUNDS; i++) {
        /* back to the state before the companions: one value, no UUID for it */
        DMG_EXPECT_OK(dmg_modify_ext(r, g, "replace: dmgIncludeMember\n"
                                           "dmgIncludeMember: uid=a," PEOPLE "\n-\n"
                                           "replace: dmgIncludeMemberUUID\n",
                                     DMG_CTRLS(dmg_ctrl_relax())),
                      "reset");
        int first = i % 2;
        LDAP *one = first ? adder : describer, *other = first ? describer : adder;
        int m1 = first ? modify_sent(one, g, "dmgIncludeMember", LDAP_MOD_ADD, "uid=x," PEOPLE)
                       : modify_sent(one, g, "description", LDAP_MOD_REPLACE, dmg_fmt("%d", i));
        int m2 = first ? modify_sent(other, g, "description", LDAP_MOD_REPLACE, dmg_fmt("%d", i))
                       : modify_sent(other, g, "dmgIncludeMember", LDAP_MOD_ADD, "uid=x," PEOPLE);
        ck_assert_int_eq(modify_answered(one, m1), LDAP_SUCCESS);
        ck_assert_int_eq(modify_answered(other, m2), LDAP_SUCCESS);
        char *uuids = dmg_root_values(s, g, "dmgIncludeMemberUUID");
        ck_assert_msg(strcmp(uuids, both) == 0, "round %d: dmgIncludeMemberUUID is \"%s\", "
                      "expected \"%s\" (uid=a and uid=x)", i, uuids, both);
        free(uuids);
    }
    DMG_ASSERT_VALUES(adder, g, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=a," PEOPLE "\nuid=x," PEOPLE);
    dmg_disconnect(describer);
    dmg_disconnect(adder);
    dmg_disconnect(r);
    free(both);
    free(a);
    free(x);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* An entry whose entryUUID cannot be read (the rootdn removed it, with Relax Rules): the
 * groups naming it by UUID cannot be found, so that it is neither deleted nor renamed */
START_TEST(target_without_uuid_not_changed)
{
    dmg_server_opts o = {
        .db_config = "index entryUUID eq\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    dmg_server *s = start_with_people(&o);
    LDAP *r = root_on(s);
    char *p = person(s, "p");
    const char *g = "cn=nouuid," GROUPS, *pdn = "uid=p," PEOPLE;
    stored_group(s, "nouuid", "dmgDepartment: " FINANCE "\ndmgIncludeMember: uid=p," PEOPLE "\n");
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", p);
    DMG_EXPECT_OK(dmg_modify_ext(r, pdn, "delete: entryUUID\n", DMG_CTRLS(dmg_ctrl_relax())),
                  "p loses its entryUUID");

    const char *diag = "entryUUID: that of \"uid=p," PEOPLE "\" could not be read, so the "
                       "groups naming it cannot all be found; nothing was changed";
    dmg_result res = dmg_delete(r, pdn);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, diag);
    res = dmg_rename(r, pdn, "uid=p2", NULL, 1);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, diag);
    DMG_ASSERT_VALUES(r, pdn, LDAP_SCOPE_BASE, NULL, "uid", "p");
    DMG_ASSERT_VALUES_EXT(r, g, LDAP_SCOPE_BASE, NULL, "dmgIncludeMember", pdn,
                          DMG_CTRLS(dmg_ctrl_manage_dsait()));
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", p);
    dmg_disconnect(r);
    free(p);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* Role values whose DN and UUID do not pair (stored where the overlay did not run): a UUID
 * with no DN value left for it (m's) and a DN value with no UUID (bob's) give no role; the
 * consistent pair (adm's) does */
START_TEST(roles_need_consistent_pairs)
{
    dmg_server *s = start_without_overlay();
    char *adm = person(s, "adm"), *m = person(s, "m");
    free(person(s, "bob"));
    stored_group(s, "roles", dmg_fmt("dmgDepartment: " FINANCE "\ndmgShowInContacts: FALSE\n"
                                     "dmgAdministrator: uid=adm," PEOPLE "\n"
                                     "dmgAdministratorUUID: %s\ndmgAdministratorUUID: %s\n"
                                     "dmgAuditor: uid=adm," PEOPLE "\n"
                                     "dmgAuditor: uid=bob," PEOPLE "\n"
                                     "dmgAuditorUUID: %s\n",
                                     adm, m, adm));
    overlay_add(s);

    const char *g = "cn=roles," GROUPS;
    LDAP *ml = dmg_connect(s, "uid=m," PEOPLE, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_modify(ml, g, "replace: description\ndescription: m\n"),
                  LDAP_NO_SUCH_OBJECT);
    DMG_ASSERT_DNS(ml, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=roles)", "");
    dmg_disconnect(ml);
    LDAP *bl = dmg_connect(s, "uid=bob," PEOPLE, DMG_PASSWORD);
    DMG_ASSERT_DNS(bl, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=roles)", "");
    dmg_disconnect(bl);
    LDAP *al = dmg_connect(s, "uid=adm," PEOPLE, DMG_PASSWORD);
    DMG_ASSERT_DNS(al, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=roles)", g);
    DMG_EXPECT_OK(dmg_modify(al, g, "replace: description\ndescription: adm\n"), "adm");
    dmg_disconnect(al);
    free(adm);
    free(m);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* A group whose department cannot be found (the entryUUID it holds is carried by two
 * entries) explains nobody's membership: an error, not what the failed lookup made of it */
START_TEST(explanation_fails_closed)
{
    dmg_server *s = start_without_overlay();
    free(person(s, "p"));
    free(person(s, "twin"));
    char *people = dmg_root_values(s, PEOPLE, "entryUUID");
    stored_group(s, "expl", dmg_fmt("dmgDepartment: ou=Gone," DMG_SUFFIX "\n"
                                    "dmgDepartmentUUID: %s\n", people));
    LDAP *r = root_on(s);
    DMG_EXPECT_OK(dmg_modify_ext(r, "uid=twin," PEOPLE,
                                 dmg_fmt("replace: entryUUID\nentryUUID: %s\n", people),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "twin takes ou=People's entryUUID");
    overlay_add(s);

    const char *g = "cn=expl," GROUPS;
    static const char *const expl[] = { "dmgMembershipExplanation", NULL };
    dmg_result res = dmg_search(r, g, LDAP_SCOPE_BASE, "(dmgExplainMember=uid=p," PEOPLE ")",
                                expl, NULL, NULL);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, "dynmailgroup: could not compute the values of \"cn=expl," GROUPS
                             "\" (Other (e.g., implementation specific) error)");

    /* reverse lookups: never a list without the group that could not be tested */
    res = dmg_search(r, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=uid=p," PEOPLE ")",
                     NULL, NULL, NULL);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, "dynmailgroup: could not evaluate the search filter "
                             "(Other (e.g., implementation specific) error)");
    res = dmg_search(r, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(dmgMemberOf=cn=expl," GROUPS ")",
                     NULL, NULL, NULL);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, "dynmailgroup: could not evaluate the search filter "
                             "(Other (e.g., implementation specific) error)");
    static const char *const member_of[] = { "dmgMemberOf", NULL };
    res = dmg_search(r, "uid=p," PEOPLE, LDAP_SCOPE_BASE, "(objectClass=*)", member_of, NULL,
                     NULL);
    DMG_ASSERT_RC(res, LDAP_OTHER);
    DMG_ASSERT_STR(res.diag, "dynmailgroup: could not compute the values of \"uid=p," PEOPLE
                             "\" (Other (e.g., implementation specific) error)");
    dmg_disconnect(r);
    free(people);
    ck_assert_int_eq(dmg_server_stop(s), 0);
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
    tc = dmg_tcase("pairs");
    tcase_add_test(tc, two_values_naming_one_entry_refused);
    tcase_add_test(tc, ambiguous_delete_refused);
    tcase_add_test(tc, rename_rewrite_never_doubles_a_value);
    tcase_add_test(tc, entry_uuid_not_taken_from_others);
    tcase_add_test(tc, remembered_uuid_roles_follow_other_entries);
    tcase_add_test(tc, unknown_exclude_group_excludes);
    tcase_add_test(tc, accesslog_above_refused);
    tcase_add_test(tc, companions_only_from_the_overlay);
    tcase_add_test(tc, current_dn_shown_only_when_disclosed);
    tcase_add_test(tc, dangling_shown_only_to_readers_of_the_value);
    tcase_add_test(tc, cycle_through_a_renamed_group_refused);
    tcase_add_test(tc, follow_ups_match_by_uuid);
    tcase_add_test(tc, dangling_paired_uuid_does_not_block_writes);
    tcase_add_test(tc, concurrent_writes_keep_pairs);
    tcase_add_test(tc, target_without_uuid_not_changed);
    tcase_add_test(tc, roles_need_consistent_pairs);
    tcase_add_test(tc, explanation_fails_closed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return dmg_run_suite_own_servers(pairs_suite());
}
