/*
 * test_names.c -- reverse lookups ((member=U) filters) against the names the overlay remembers
 * (which entries groups include): whatever writes or loads came before a lookup, it answers
 * exactly what the groups' member lists say.
 *
 *  - suite "names", on one server (each test its own groups, cn=nmX-*):
 *     - groups the rootdn restored (Relax Rules) including a static group that has a dynamic
 *       group as member by entryUUID only, or by an entryUUID whose DN value is older than a
 *       rename; an entryUUID the rootdn gives a static group that an include names;
 *     - writes that may make a group include a found group: a replace of a static group's
 *       members, a rename of an included static group, an entry becoming a static group
 *       (its object class changed with Relax Rules), a delete and add again under the same DN
 *       with other members, uniqueMember values with a UID, an included static group of more
 *       members than the overlay remembers;
 *     - includes added in an LDAP transaction, seen once it commits;
 *     - a writer adding a level of includes at a time while a reader looks up: every answer
 *       is a state of the writes' order, no older than the lookup.
 *  - suite "own servers": slapo-refint below the overlay rewriting a static group's member
 *    after a rename; a consumer replica receiving includes, a static group's members and its
 *    rename.
 *
 * Each expected answer is also checked against the member lists the groups show (forward).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strcasestr */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define GROUPS "ou=Groups," DMG_SUFFIX
#define SALES  "ou=Sales," DMG_SUFFIX
#define UMA    "uid=uma," SALES
#define CAROL  "uid=carol,ou=Engineering," DMG_SUFFIX

static dmg_server *srv;

static LDAP *as_root(void)
{
    return dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
}

static const char *group_dn(const char *cn)
{
    return dmg_fmt("cn=%s," GROUPS, cn);
}

/* A group cn=CN,ou=Groups added with the request controls ctrls; extra is LDIF lines */
static const char *add_group_ext(LDAP *ld, const char *cn, const char *extra, LDAPControl **ctrls)
{
    const char *dn = group_dn(cn);
    DMG_EXPECT_OK(dmg_add_ldif_ext(ld, dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\n"
                                               "mail: %s@lists.example.com\n%s", dn, cn, cn, extra),
                                   ctrls),
                  dmg_fmt("adding group %s", dn));
    return dn;
}

static const char *add_group(LDAP *ld, const char *cn, const char *extra)
{
    return add_group_ext(ld, cn, extra, NULL);
}

/* A group the rootdn restores with the Relax Rules control (UUID companions as given) */
static const char *restore_group(LDAP *ld, const char *cn, const char *extra)
{
    return add_group_ext(ld, cn, extra, DMG_CTRLS(dmg_ctrl_relax()));
}

static const char *add_static(LDAP *ld, const char *cn, const char *cls, const char *members)
{
    const char *dn = group_dn(cn);
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: %s\ncn: %s\n%s", dn, cls, cn,
                                           members)),
                  dmg_fmt("adding static group %s", dn));
    return dn;
}

/* The groups of gs[0..n) whose member lists have p, joined by "\n" in the order given */
static char *forward_groups(LDAP *ld, const char *p, const char *const *gs, int n)
{
    char *out = calloc(1, 4096);

    for (int i = 0; i < n; i++) {
        char *members = dmg_values_joined(ld, gs[i], LDAP_SCOPE_BASE, NULL, "member");

        if (strcasestr(members, p) != NULL)
            snprintf(out + strlen(out), 4096 - strlen(out), "%s%s", out[0] ? "\n" : "", gs[i]);
        free(members);
    }
    return out;
}

/* The forward member lists of gs[0..n) have p exactly in want, and so does (member=p) among
 * the groups whose cn starts with prefix */
static void assert_rev(LDAP *ld, const char *prefix, const char *p, const char *const *gs, int n,
                       const char *want)
{
    char *fwd = forward_groups(ld, p, gs, n);

    DMG_ASSERT_STR(fwd, want);
    free(fwd);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=%s*)(member=%s))", prefix, p),
                   want);
}

/* ---- restored -------------------------------------------------------------------------------- */

/* A static group included by entryUUID only, or by an entryUUID whose DN value predates a
 * rename (groups the rootdn restores with the Relax Rules control, as a migration does), stands
 * for its members: a reverse lookup follows it as the member lists do.  nmu-x has uma
 * (Sales); the static nmu-s has nmu-x (and no group includes nmu-x); nmu-d
 * (Engineering) includes nmu-s by entryUUID only, nmu-e by its entryUUID and a DN from before
 * a rename (another entry's now). */
START_TEST(static_group_included_by_uuid_is_followed)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmu-x", "dmgDepartment: " SALES "\n");
    const char *s = add_static(ld, "nmu-s", "groupOfNames", dmg_fmt("member: %s\n", x));
    char *us = dmg_values_joined(ld, s, LDAP_SCOPE_BASE, NULL, "entryUUID");
    const char *d = group_dn("nmu-d"), *e = group_dn("nmu-e");

    ck_assert_msg(us[0] != '\0', "no entryUUID on %s", s);
    /* another entry has taken the DN nmu-e's value names */
    DMG_EXPECT_OK(dmg_add_ldif(ld, "dn: cn=nmu-old-s," GROUPS "\nobjectClass: organizationalRole\n"
                                   "cn: nmu-old-s\n"),
                  "adding cn=nmu-old-s");
    restore_group(ld, "nmu-d", dmg_fmt("dmgDepartment: ou=Engineering," DMG_SUFFIX "\n"
                                       "dmgIncludeMemberUUID: %s\n", us));
    restore_group(ld, "nmu-e", dmg_fmt("dmgIncludeMember: cn=nmu-old-s," GROUPS "\n"
                                       "dmgIncludeMemberUUID: %s\n", us));
    free(us);
    const char *const gs[] = { x, d, e };
    const char *want = dmg_fmt("%s\n%s\n%s", x, d, e);

    assert_rev(ld, "nmu-", UMA, gs, 3, want);
    /* a second time: the names are remembered now */
    assert_rev(ld, "nmu-", UMA, gs, 3, want);
    dmg_disconnect(ld);
}
END_TEST

/* The entryUUID an include names (with a DN value that names another entry) given to a static
 * group by the rootdn with the Relax Rules control (a restore): from then on the include names
 * that group, which stands for its members, and the next lookup follows it */
START_TEST(entry_uuid_given_by_the_rootdn_is_seen)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmz-x", "dmgDepartment: " SALES "\n");
    const char *st = add_static(ld, "nmz-s", "groupOfNames", dmg_fmt("member: %s\n", x));
    const char *d = group_dn("nmz-d");
    const char *u = "6e6d7a00-0000-4000-8000-000000000001";

    DMG_EXPECT_OK(dmg_add_ldif(ld, "dn: cn=nmz-r," GROUPS "\nobjectClass: organizationalRole\n"
                                   "cn: nmz-r\n"),
                  "adding cn=nmz-r");
    restore_group(ld, "nmz-d", dmg_fmt("dmgDepartment: ou=Engineering," DMG_SUFFIX "\n"
                                       "dmgIncludeMember: cn=nmz-r," GROUPS "\n"
                                       "dmgIncludeMemberUUID: %s\n", u));
    assert_rev(ld, "nmz-", UMA, (const char *[]){ x, d }, 2, x);
    DMG_EXPECT_OK(dmg_modify_ext(ld, st, dmg_fmt("replace: entryUUID\nentryUUID: %s\n", u),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "giving s the entryUUID d's include names");
    assert_rev(ld, "nmz-", UMA, (const char *[]){ x, d }, 2, dmg_fmt("%s\n%s", x, d));
    dmg_disconnect(ld);
}
END_TEST

/* ---- writes ---------------------------------------------------------------------------------- */

/* A replace of an included static group's members (no add among the modifications) */
START_TEST(replace_of_static_members_is_seen)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmr-x", "dmgDepartment: " SALES "\n");
    const char *y = add_group(ld, "nmr-y", "dmgIncludeMember: " CAROL "\n");
    const char *s = add_static(ld, "nmr-s", "groupOfNames", dmg_fmt("member: %s\n", y));
    const char *d = add_group(ld, "nmr-d", dmg_fmt("dmgIncludeMember: %s\n", s));
    const char *const gs[] = { x, y, d };

    assert_rev(ld, "nmr-", UMA, gs, 3, x);
    DMG_EXPECT_OK(dmg_modify(ld, s, dmg_fmt("replace: member\nmember: %s\n", x)),
                  "s has x instead of y");
    assert_rev(ld, "nmr-", UMA, gs, 3, dmg_fmt("%s\n%s", x, d));
    dmg_disconnect(ld);
}
END_TEST

/* A rename of an included static group, and of a static group inside it */
START_TEST(rename_of_included_static_group_is_seen)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmn-x", "dmgDepartment: " SALES "\n");
    const char *t = add_static(ld, "nmn-t", "groupOfNames", dmg_fmt("member: %s\n", x));
    const char *s = add_static(ld, "nmn-s", "groupOfNames", dmg_fmt("member: %s\n", t));
    const char *d = add_group(ld, "nmn-d", dmg_fmt("dmgIncludeMember: %s\n", s));

    assert_rev(ld, "nmn-", UMA, (const char *[]){ x, d }, 2, dmg_fmt("%s\n%s", x, d));
    DMG_EXPECT_OK(dmg_rename(ld, s, "cn=nmn-s2", NULL, 1), "renaming s");
    assert_rev(ld, "nmn-", UMA, (const char *[]){ x, d }, 2, dmg_fmt("%s\n%s", x, d));
    DMG_EXPECT_OK(dmg_rename(ld, t, "cn=nmn-t2", NULL, 1), "renaming t");
    /* s's member value names t by its old DN now: t no longer is one of s's members */
    char *members = dmg_values_joined(ld, group_dn("nmn-s2"), LDAP_SCOPE_BASE, NULL, "member");
    assert_rev(ld, "nmn-", UMA, (const char *[]){ x, d }, 2,
               strcasestr(members, x) ? dmg_fmt("%s\n%s", x, d) : x);
    free(members);
    dmg_disconnect(ld);
}
END_TEST

/* A static group deleted and added again under the same DN with other members (and another
 * class), and uniqueMember values with a UID */
START_TEST(readd_and_unique_members_are_seen)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nma-x", "dmgDepartment: " SALES "\n");
    const char *s = add_static(ld, "nma-s", "groupOfNames", "member: " CAROL "\n");
    const char *d = add_group(ld, "nma-d", dmg_fmt("dmgIncludeMember: %s\n", s));
    const char *const gs[] = { x, d };

    assert_rev(ld, "nma-", UMA, gs, 2, x);
    DMG_EXPECT_OK(dmg_delete(ld, s), "deleting s");
    /* the delete took d's include away: d names s again */
    add_static(ld, "nma-s", "groupOfUniqueNames", dmg_fmt("uniqueMember: %s#'0101'B\n", x));
    DMG_EXPECT_OK(dmg_modify(ld, d, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", s)),
                  "d includes s again");
    /* a value with a UID names nobody */
    assert_rev(ld, "nma-", UMA, gs, 2, x);
    DMG_EXPECT_OK(dmg_modify(ld, s, dmg_fmt("add: uniqueMember\nuniqueMember: %s\n", x)),
                  "s has x without a UID");
    assert_rev(ld, "nma-", UMA, gs, 2, dmg_fmt("%s\n%s", x, d));
    dmg_disconnect(ld);
}
END_TEST

/* An entry an include names that becomes a static group (its object class changed by the
 * rootdn with the Relax Rules control) with a member that has uma */
START_TEST(entry_becoming_a_static_group_is_seen)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmo-x", "dmgDepartment: " SALES "\n");
    const char *r = group_dn("nmo-r");

    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: organizationalRole\n"
                                           "cn: nmo-r\n", r)),
                  "adding nmo-r");
    const char *d = add_group(ld, "nmo-d", dmg_fmt("dmgIncludeMember: %s\n", r));

    assert_rev(ld, "nmo-", UMA, (const char *[]){ x, d }, 2, x);
    DMG_EXPECT_OK(dmg_modify_ext(ld, r, dmg_fmt("replace: objectClass\nobjectClass: groupOfNames\n"
                                                "-\nadd: member\nmember: %s\n", x),
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  "making nmo-r a static group with x");
    assert_rev(ld, "nmo-", UMA, (const char *[]){ x, d }, 2, dmg_fmt("%s\n%s", x, d));
    dmg_disconnect(ld);
}
END_TEST

/* An included static group with more members than the names remembered: every level is
 * searched, and the member placed last is followed */
START_TEST(more_names_than_remembered)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmm-x", "dmgDepartment: " SALES "\n");
    const char *s = group_dn("nmm-s");
    size_t cap = 4200 * 64, len = 0;
    char *ldif = malloc(cap);

    len += snprintf(ldif + len, cap - len, "dn: %s\nobjectClass: groupOfNames\ncn: nmm-s\n", s);
    for (int i = 0; i < 4200; i++)
        len += snprintf(ldif + len, cap - len, "member: cn=nmm-absent-%d," GROUPS "\n", i);
    snprintf(ldif + len, cap - len, "member: %s\n", x);
    DMG_EXPECT_OK(dmg_add_ldif(ld, ldif), "adding the static group nmm-s");
    free(ldif);
    const char *d = add_group(ld, "nmm-d", dmg_fmt("dmgIncludeMember: %s\n", s));

    assert_rev(ld, "nmm-", UMA, (const char *[]){ x, d }, 2, dmg_fmt("%s\n%s", x, d));
    dmg_disconnect(ld);
}
END_TEST

/* ---- transactions ---------------------------------------------------------------------------- */

#define TXN_CONTROL "1.3.6.1.1.21.2" /* RFC 5805, the transaction a request belongs to */

/* Includes made in an LDAP transaction (RFC 5805), an add and a modify, are seen by the first
 * lookup after the commit, although lookups while it was open remembered the names without
 * them */
START_TEST(transaction_includes_are_seen)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmt-x", "dmgDepartment: " SALES "\n");
    const char *d = add_group(ld, "nmt-d", "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n");
    const char *t = group_dn("nmt-t");
    struct berval *txnid = NULL;

    assert_rev(ld, "nmt-", UMA, (const char *[]){ x, d }, 2, x);
    ck_assert_int_eq(ldap_txn_start_s(ld, NULL, NULL, &txnid), LDAP_SUCCESS);
    ck_assert_ptr_nonnull(txnid);
    LDAPControl in_txn = { TXN_CONTROL,
                           { txnid->bv_len, txnid->bv_val ? txnid->bv_val : (char *)"" }, 1 };
    DMG_ASSERT_RC(dmg_modify_ext(ld, d, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", x),
                                 DMG_CTRLS(&in_txn)),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif_ext(ld, dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\n"
                                               "cn: nmt-t\nmail: nmt-t@lists.example.com\n"
                                               "dmgIncludeMember: %s\n", t, d),
                                   DMG_CTRLS(&in_txn)),
                  LDAP_SUCCESS);
    /* open: the names are read (and remembered) without the transaction's includes */
    assert_rev(ld, "nmt-", UMA, (const char *[]){ x, d }, 2, x);
    ck_assert_int_eq(ldap_txn_end_s(ld, 1, txnid, NULL, NULL, NULL), LDAP_SUCCESS);
    ber_bvfree(txnid);
    assert_rev(ld, "nmt-", UMA, (const char *[]){ x, d, t }, 3, dmg_fmt("%s\n%s\n%s", x, d, t));
    dmg_disconnect(ld);
}
END_TEST

/* ---- concurrent writers ---------------------------------------------------------------------- */

#define CHAIN 25

/* The writer of concurrent_includes_keep_a_serial_order, in a process of its own: adds nmc-gI
 * (Engineering) and then makes it include nmc-g(I-1) (nmc-x for the first), I = 1..CHAIN; exits
 * non-zero at the first failure */
static void chain_writer(void)
{
    LDAP *ld = as_root();

    for (int i = 1; i <= CHAIN; i++) {
        const char *prev = i == 1 ? group_dn("nmc-x") : group_dn(dmg_fmt("nmc-g%d", i - 1));
        const char *cn = dmg_fmt("nmc-g%d", i);
        const char *g = group_dn(cn);

        if (dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\n"
                                     "mail: %s@lists.example.com\n"
                                     "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n", g, cn, cn))
                    .rc != LDAP_SUCCESS
            || dmg_modify(ld, g, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", prev))
                       .rc != LDAP_SUCCESS)
            _exit(1);
    }
    dmg_disconnect(ld);
    _exit(0);
}

/* How many of the chain's groups include their predecessor now */
static int chain_linked(LDAP *ld)
{
    dmg_entries *out = NULL;
    const char *const no_attrs[] = { LDAP_NO_ATTRS, NULL };
    int n;

    DMG_EXPECT_OK(dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                             "(&(cn=nmc-g*)(dmgIncludeMember=*))", no_attrs, NULL, &out),
                  "counting the links");
    n = (int)out->count;
    dmg_entries_free(out);
    return n;
}

/* Each new include makes a new level (nmc-gI has uma through nmc-g(I-1)...nmc-x) while readers
 * look up uma's groups: every answer is a state of the writes' serial order, nmc-x and
 * nmc-g1..nmc-gK, with K at least the links made before the lookup began and at most those
 * made when it ended */
START_TEST(concurrent_includes_keep_a_serial_order)
{
    LDAP *ld = as_root();
    const char *x = add_group(ld, "nmc-x", "dmgDepartment: " SALES "\n");
    const char *filter = "(&(cn=nmc-*)(member=" UMA "))";
    const char *const no_attrs[] = { LDAP_NO_ATTRS, NULL };
    int status, lookups = 0, running = 1;
    pid_t writer = fork();

    ck_assert_int_ge(writer, 0);
    if (writer == 0)
        chain_writer();
    while (running) {
        running = waitpid(writer, &status, WNOHANG) == 0;
        int before = chain_linked(ld), k = 0, has_x = 0;
        dmg_entries *out = NULL;
        dmg_result r = dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, no_attrs, NULL, &out);
        int after = chain_linked(ld);

        ck_assert_msg(r.rc == LDAP_SUCCESS, "search %s: %d %s", filter, r.rc, r.diag);
        for (size_t i = 0; i < out->count; i++) {
            has_x += strcasecmp(out->entries[i].dn, x) == 0;
            k += strncasecmp(out->entries[i].dn, "cn=nmc-g", 8) == 0;
        }
        ck_assert_msg(has_x == 1 && out->count == (size_t)k + 1,
                      "lookup %d: %zu groups, nmc-x %d times", lookups, out->count, has_x);
        for (int j = 1; j <= k; j++)
            ck_assert_msg(dmg_entries_find(out, group_dn(dmg_fmt("nmc-g%d", j))) != NULL,
                          "lookup %d: %d groups of the chain but not nmc-g%d", lookups, k, j);
        ck_assert_msg(before <= k && k <= after,
                      "lookup %d: nmc-g1..nmc-g%d, while %d links were made before it and %d "
                      "after", lookups, k, before, after);
        dmg_entries_free(out);
        lookups++;
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    fprintf(stderr, "concurrent_includes_keep_a_serial_order: %d lookups\n", lookups);
    ck_assert_int_eq(chain_linked(ld), CHAIN);
    dmg_disconnect(ld);
}
END_TEST

/* ---- slapo-refint below ---------------------------------------------------------------------- */

/* slapo-refint (below the overlay) rewrites a static group's member after a rename, in a write
 * of its own after the rename's result: the included static group nmf-s names nmf-x by its new
 * DN from then on, and so does the next lookup.  Lookups run while waiting, so that names read
 * between the rename and the rewrite are remembered if the rewrite goes unnoticed. */
START_TEST(refint_rewrite_below_is_seen)
{
    dmg_server_opts o = { .modules = "refint",
                          .overlays_before = "overlay refint\nrefint_attributes member\n" };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *ld = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    const char *x = add_group(ld, "nmf-x", "dmgDepartment: " SALES "\n");
    const char *st = add_static(ld, "nmf-s", "groupOfNames", dmg_fmt("member: %s\n", x));
    const char *d = add_group(ld, "nmf-d", dmg_fmt("dmgIncludeMember: %s\n", st));
    const char *x2 = group_dn("nmf-x2");
    long deadline = dmg_now_ms() + dmg_poll_max_ms();
    char *members;

    assert_rev(ld, "nmf-", UMA, (const char *[]){ x, d }, 2, dmg_fmt("%s\n%s", x, d));
    DMG_EXPECT_OK(dmg_rename(ld, x, "cn=nmf-x2", NULL, 1), "renaming x");
    for (;;) {
        free(dmg_dns_joined(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=nmf-*)(member=" UMA "))"));
        members = dmg_values_joined(ld, st, LDAP_SCOPE_BASE, NULL, "member");
        if (strcasecmp(members, x2) == 0 || dmg_now_ms() >= deadline)
            break;
        free(members);
        dmg_nap_ms(DMG_POLL_STEP_MS);
    }
    DMG_ASSERT_STR(members, x2);
    free(members);
    assert_rev(ld, "nmf-", UMA, (const char *[]){ x2, d }, 2, dmg_fmt("%s\n%s", x2, d));
    dmg_disconnect(ld);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---- a consumer replica ---------------------------------------------------------------------- */

/* The tree as stored (with CSNs), to wait until a consumer holds the provider's */
static void wait_replicated(LDAP *p, LDAP *c)
{
    free(DMG_WAIT_SAME(p, c, &dmg_q_tree));
}

/* On a consumer (refreshAndPersist), replicated writes that make a group include a found group
 * are seen by its next lookup, though its lookups before remembered the names without them:
 * a modify adding an include, an added static group an include names, its rename */
START_TEST(replicated_includes_are_seen_by_the_consumer)
{
    dmg_server_opts po = { .modules = "syncprov", .db_config = DMG_REPL_INDEX_AND_LIMITS,
                           .overlays_before = DMG_SYNCPROV_BELOW };
    dmg_server *prov = dmg_server_start(&po);
    ck_assert_msg(prov != NULL, "the provider did not start (see stderr)");
    char db_config[2048];
    dmg_replica_db_config(db_config, sizeof db_config, prov, "001", NULL, NULL);
    dmg_server_opts co = { .db_config = db_config, .fixture = DMG_NO_FIXTURE };
    dmg_server *cons = dmg_server_start(&co);
    ck_assert_msg(cons != NULL, "the consumer did not start (see stderr)");
    LDAP *p, *c;
    DMG_CONNECT_PAIR(prov, cons, &p, &c);
    const char *x = add_group(p, "nmp-x", "dmgDepartment: " SALES "\n");
    const char *d = add_group(p, "nmp-d", "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n");
    const char *e = add_group(p, "nmp-e", "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n");

    wait_replicated(p, c);
    assert_rev(c, "nmp-", UMA, (const char *[]){ x, d, e }, 3, x);
    DMG_EXPECT_OK(dmg_modify(p, d, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", x)),
                  "d includes x");
    wait_replicated(p, c);
    assert_rev(c, "nmp-", UMA, (const char *[]){ x, d, e }, 3, dmg_fmt("%s\n%s", x, d));

    /* e includes s, static, still without members; then s gets d */
    const char *st = add_static(p, "nmp-s", "groupOfNames", "member: " CAROL "\n");
    DMG_EXPECT_OK(dmg_modify(p, e, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", st)),
                  "e includes s");
    wait_replicated(p, c);
    assert_rev(c, "nmp-", UMA, (const char *[]){ x, d, e }, 3, dmg_fmt("%s\n%s", x, d));
    DMG_EXPECT_OK(dmg_modify(p, st, dmg_fmt("add: member\nmember: %s\n", d)), "s has d");
    wait_replicated(p, c);
    assert_rev(c, "nmp-", UMA, (const char *[]){ x, d, e }, 3, dmg_fmt("%s\n%s\n%s", x, d, e));

    /* the static group renamed: e's include follows it (the provider's rewrite) */
    DMG_EXPECT_OK(dmg_rename(p, st, "cn=nmp-s2", NULL, 1), "renaming s");
    wait_replicated(p, c);
    assert_rev(c, "nmp-", UMA, (const char *[]){ x, d, e }, 3, dmg_fmt("%s\n%s\n%s", x, d, e));
    dmg_disconnect(p);
    dmg_disconnect(c);
    ck_assert_int_eq(dmg_server_stop(cons), 0);
    ck_assert_int_eq(dmg_server_stop(prov), 0);
}
END_TEST

int main(void)
{
    const dmg_server_opts writes_opts = { 0 };
    Suite *writes = suite_create("names");
    TCase *tw = dmg_tcase("writes");

    tcase_add_test(tw, static_group_included_by_uuid_is_followed);
    tcase_add_test(tw, entry_uuid_given_by_the_rootdn_is_seen);
    tcase_add_test(tw, replace_of_static_members_is_seen);
    tcase_add_test(tw, rename_of_included_static_group_is_seen);
    tcase_add_test(tw, readd_and_unique_members_are_seen);
    tcase_add_test(tw, entry_becoming_a_static_group_is_seen);
    tcase_add_test(tw, more_names_than_remembered);
    tcase_add_test(tw, concurrent_includes_keep_a_serial_order);
    tcase_add_test(tw, transaction_includes_are_seen);
    suite_add_tcase(writes, tw);
    Suite *below = suite_create("own servers");
    TCase *tb = dmg_tcase("refint");

    TCase *tr = dmg_tcase_timeout("replica", 240);

    tcase_add_test(tb, refint_rewrite_below_is_seen);
    suite_add_tcase(below, tb);
    tcase_add_test(tr, replicated_includes_are_seen_by_the_consumer);
    suite_add_tcase(below, tr);
    int rc1 = dmg_run_suite(writes, &writes_opts, &srv);
    int rc2 = dmg_run_suite_own_servers(below);
    return rc1 == EXIT_SUCCESS && rc2 == EXIT_SUCCESS ? EXIT_SUCCESS : EXIT_FAILURE;
}
