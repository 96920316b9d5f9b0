/*
 * test_overrides.c -- include and exclude overrides, nested groups, membership explanations
 * (man page OVERRIDES and EXPLANATIONS) against a real slapd.
 *
 * dmgIncludeMember / dmgExcludeMember in every computed form (member, dmgMemberMail,
 * dmgMemberCount, dmgMemberOf, reverse filters, compare, the members send policy, ACL group
 * clauses), groups nested to any depth (dynamic and static), cycles refused on write and
 * harmless on read, renames followed and deletes removed, every row of the explanation table,
 * hidden groups and a requester whom ACLs hide part of the directory.
 *
 * One server (ACLs hiding ou=Finance and title from uid=reader; an ACL group clause on
 * cn=build-server), run twice: without and with the membership cache.  Each test adds its own
 * groups (cn unique to the test) and, when it writes people, its own OU.
 */
#define _GNU_SOURCE /* strcasestr */

#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUF        "dc=example,dc=com"
#define GROUPS     "ou=Groups," SUF
#define ENG        "ou=Engineering," SUF
#define BACKEND    "ou=Backend," ENG
#define STORAGE    "ou=Storage," BACKEND
#define FRONTEND   "ou=Frontend," ENG
#define SALES      "ou=Sales," SUF
#define FINANCE    "ou=Finance," SUF
#define SYSTEM     "ou=System," SUF
#define READER     "uid=reader," SYSTEM
#define POSTMASTER "uid=postmaster," SYSTEM
#define BUILD      "cn=build-server," BACKEND
#define CLUB       "cn=ovr-club," GROUPS

#define ALICE   "uid=alice," ENG
#define BOB     "uid=bob," ENG
#define LEO     "uid=leo," STORAGE
#define MALLORY "uid=mallory," STORAGE
#define NINA    "uid=nina," STORAGE
#define OSCAR   "uid=oscar," STORAGE
#define FRANK   "uid=frank," BACKEND
#define PEGGY   "uid=peggy," FRONTEND
#define GINA    "uid=gina," FINANCE
#define UMA     "uid=uma," SALES
#define VICTOR  "uid=victor," SALES

#define OVERLAY_CONFIG \
    "dynmailgroup-postmaster " POSTMASTER "\n" \
    "dynmailgroup-max-overrides 5\n"
#define CACHE_CONFIG "dynmailgroup-cache-max-values 1000000\n"

/* the club's members may read the build server; nobody else may */
#define ACL_CONFIG \
    "access to dn.exact=\"" BUILD "\"\n" \
    "  by group/dynamicMailGroup/member=\"" CLUB "\" read\n" \
    "  by dn.exact=\"" DMG_ROOTDN "\" manage\n" \
    "  by * none\n" \
    "access to dn.subtree=\"" FINANCE "\"\n" \
    "  by dn.exact=\"" READER "\" none\n" \
    "  by * read\n" \
    "access to attrs=title\n" \
    "  by dn.exact=\"" READER "\" none\n" \
    "  by * read\n" \
    "access to * by * read\n"

static dmg_server *srv;

/* ============================================================================================
 * Helpers
 * ========================================================================================== */

static const char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static const char *fmt(const char *f, ...)
{
    static char ring[256][1024];
    static unsigned next;
    char *b = ring[next++ % (sizeof ring / sizeof ring[0])];
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(b, sizeof ring[0], f, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof ring[0], "fmt: string too long");
    return b;
}

static LDAP *as_root(void)
{
    return dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
}

static LDAP *as_reader(void)
{
    return dmg_connect(srv, READER, DMG_PASSWORD);
}

static const char *group_dn(const char *cn)
{
    return fmt("cn=%s," GROUPS, cn);
}

static void expect_ok(dmg_result r, const char *what)
{
    ck_assert_msg(r.rc == LDAP_SUCCESS, "%s: %s (%d) \"%s\"", what, ldap_err2string(r.rc), r.rc,
                  r.diag);
}

/* A group cn=CN,ou=Groups; extra is LDIF lines (departments, overrides, conditions...) */
static const char *add_group(LDAP *ld, const char *cn, const char *extra)
{
    const char *dn = group_dn(cn);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\n"
                                   "mail: %s@lists.example.com\n%s", dn, cn, cn, extra)),
              fmt("adding group %s", dn));
    return dn;
}

static const char *add_static(LDAP *ld, const char *cn, const char *members)
{
    const char *dn = group_dn(cn);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: groupOfNames\ncn: %s\n%s", dn, cn,
                                   members)),
              fmt("adding static group %s", dn));
    return dn;
}

static const char *add_ou(LDAP *ld, const char *name)
{
    const char *dn = fmt("ou=%s," SUF, name);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: organizationalUnit\nou: %s\n", dn, name)),
              fmt("adding %s", dn));
    return dn;
}

static const char *add_person(LDAP *ld, const char *uid, const char *parent)
{
    const char *dn = fmt("uid=%s,%s", uid, parent);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\n"
                                   "sn: %s\nmail: %s@staff.example.net\nuserPassword: secret\n",
                                   dn, uid, uid, uid, uid)),
              fmt("adding %s", dn));
    return dn;
}

#define ASSERT_MEMBERS(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "member", (expected))
#define ASSERT_COUNT(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "dmgMemberCount", (expected))
#define ASSERT_STORED(ld, g, attr, expected) \
    DMG_ASSERT_VALUES_EXT((ld), (g), LDAP_SCOPE_BASE, NULL, (attr), (expected), \
                          DMG_CTRLS(dmg_ctrl_manage_dsait()))

/* dmgMembershipExplanation of who in group g, as ld's identity gets it */
static const char *explain(LDAP *ld, const char *g, const char *who)
{
    return dmg_values_joined(ld, g, LDAP_SCOPE_BASE, fmt("(dmgExplainMember=%s)", who),
                             "dmgMembershipExplanation");
}

/* The verdict of the explanation agrees with member, compare and dmgMemberOf */
static void assert_agrees(LDAP *ld, const char *g, const char *who)
{
    const char *why = explain(ld, g, who);
    int member = strncmp(why, "member ", 7) == 0;
    char *members = dmg_values_joined(ld, g, LDAP_SCOPE_BASE, NULL, "member");
    char *search = dmg_dns_joined(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(member=%s)", who));
    dmg_result cmp = dmg_compare(ld, g, "member", who);
    int in_list = strcasestr(members, who) != NULL;
    int in_search = strcasestr(search, g) != NULL;
    ck_assert_msg(in_list == member && in_search == member
                      && cmp.rc == (member ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE),
                  "%s in %s: explanation \"%s\", member list %d, (member=) %d, compare %d", who,
                  g, why, in_list, in_search, cmp.rc);
    free(members);
    free(search);
}

/* ============================================================================================
 * Overrides in every computed form
 * ========================================================================================== */

START_TEST(test_include_exclude_forward)
{
    LDAP *ld = as_root();
    /* Storage: leo mallory nina oscar; alice included, leo excluded, bob both (exclude wins),
     * the build server included but not a person */
    const char *g = add_group(ld, "ovr-fwd", "dmgDepartment: " STORAGE "\n"
                              "dmgIncludeMember: " ALICE "\ndmgIncludeMember: " BOB "\n"
                              "dmgIncludeMember: " BUILD "\n"
                              "dmgExcludeMember: " LEO "\ndmgExcludeMember: " BOB "\n");

    ASSERT_MEMBERS(ld, g, ALICE "\n" MALLORY "\n" NINA "\n" OSCAR);
    ASSERT_COUNT(ld, g, "4");
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "dmgMemberMail",
                      "alice@example.com\nalice.anderson@example.com\nmallory@example.com\n"
                      "nina@example.com\noscar@example.com");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(test_include_exclude_reverse)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "ovr-rev", "dmgDepartment: " STORAGE "\n"
                              "dmgIncludeMember: " ALICE "\ndmgExcludeMember: " LEO "\n");

    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-rev)(member=" ALICE "))", g);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-rev)(member=" LEO "))", "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   "(&(cn=ovr-rev)(dmgMemberMail=alice.anderson@example.com))", g);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-rev)(dmgMemberMail=leo@example.com))",
                   "");
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", g),
                   ALICE "\n" MALLORY "\n" NINA "\n" OSCAR);
    ck_assert_ptr_nonnull(strcasestr(dmg_values_joined(ld, ALICE, LDAP_SCOPE_BASE, NULL,
                                                       "dmgMemberOf"), g));
    ck_assert_ptr_null(strcasestr(dmg_values_joined(ld, LEO, LDAP_SCOPE_BASE, NULL,
                                                    "dmgMemberOf"), g));
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", ALICE), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", LEO), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, ALICE, "dmgMemberOf", g), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "dmgMemberMail", "alice@example.com"), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "dmgMemberMail", "leo@example.com"), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

/* the members send policy asks the reverse test */
START_TEST(test_members_policy)
{
    LDAP *ld = as_root();
    add_group(ld, "ovr-pol", "dmgDepartment: " STORAGE "\ndmgSendPolicy: members\n"
              "dmgIncludeMember: " ALICE "\ndmgExcludeMember: " LEO "\n");
    const char *f = "(&(mail=ovr-pol@lists.example.com)(dmgSender=%s))";

    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt(f, "alice@example.com"), "dmgDecision",
                      "accept");
    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt(f, "leo@example.com"), "dmgDecision",
                      "reject");
    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt(f, "nina@example.com"), "dmgDecision",
                      "accept");
    dmg_disconnect(ld);
}
END_TEST

/* group/dynamicMailGroup/member= clauses see overrides: the club is Sales, plus alice, less uma */
START_TEST(test_acl_group_clause)
{
    LDAP *root = as_root();
    const char *attrs[] = { "cn", NULL };
    dmg_result r = dmg_search(root, CLUB, LDAP_SCOPE_BASE, NULL, attrs,
                              DMG_CTRLS(dmg_ctrl_manage_dsait()), NULL);
    if (r.rc == LDAP_NO_SUCH_OBJECT)
        add_group(root, "ovr-club", "dmgDepartment: " SALES "\n"
                  "dmgIncludeMember: " ALICE "\ndmgExcludeMember: " UMA "\n");
    dmg_disconnect(root);

    const char *who[] = { ALICE, VICTOR, UMA, BOB };
    int allowed[] = { 1, 1, 0, 0 };
    for (size_t i = 0; i < 4; i++) {
        LDAP *ld = dmg_connect(srv, who[i], DMG_PASSWORD);
        dmg_result s = dmg_search(ld, BUILD, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
        ck_assert_msg((s.rc == LDAP_SUCCESS) == allowed[i], "%s reading the build server: %d",
                      who[i], s.rc);
        dmg_disconnect(ld);
    }
}
END_TEST

/* ============================================================================================
 * Nested groups
 * ========================================================================================== */

START_TEST(test_nested)
{
    LDAP *ld = as_root();
    /* inner: Storage engineers (mallory, oscar); static: gina and uma and a device;
     * middle: inner + static; outer: middle + alice (Frontend selects nobody: no one is in
     * l=Nowhere) */
    const char *inner = add_group(ld, "ovr-n-inner", "dmgDepartment: " STORAGE "\n"
                                  "dmgCondition: (title=Engineer)\n");
    const char *stat = add_static(ld, "ovr-n-static", "member: " GINA "\nmember: " UMA "\n"
                                  "member: " BUILD "\n");
    const char *middle = add_group(ld, "ovr-n-middle", fmt("dmgIncludeMember: %s\n"
                                   "dmgIncludeMember: %s\n", inner, stat));
    const char *outer = add_group(ld, "ovr-n-outer", fmt("dmgDepartment: " FRONTEND "\n"
                                  "dmgIncludeSubDepartments: FALSE\n"
                                  "dmgIncludeMember: %s\ndmgIncludeMember: " ALICE "\n"
                                  "dmgCondition: (l=Nowhere)\n", middle));

    ASSERT_MEMBERS(ld, middle, MALLORY "\n" OSCAR "\n" GINA "\n" UMA);
    ASSERT_MEMBERS(ld, outer, ALICE "\n" MALLORY "\n" OSCAR "\n" GINA "\n" UMA);
    ASSERT_COUNT(ld, outer, "5");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(member=" MALLORY "))",
                   fmt("%s\n%s\n%s", inner, middle, outer));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(member=" UMA "))",
                   fmt("%s\n%s\n%s", stat, middle, outer));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(dmgMemberMail=gina@example.com))",
                   fmt("%s\n%s", middle, outer));
    DMG_ASSERT_RC(dmg_compare(ld, outer, "member", OSCAR), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, outer, "member", NINA), LDAP_COMPARE_FALSE);

    /* excluding a nested group excludes its members, at any depth */
    expect_ok(dmg_modify(ld, outer, fmt("add: dmgExcludeMember\ndmgExcludeMember: %s\n", stat)),
              "excluding the static group");
    ASSERT_MEMBERS(ld, outer, ALICE "\n" MALLORY "\n" OSCAR);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(member=" UMA "))",
                   fmt("%s\n%s", stat, middle));
    DMG_ASSERT_STR(explain(ld, outer, UMA), fmt("not-member excluded-via %s", stat));
    DMG_ASSERT_STR(explain(ld, outer, MALLORY), fmt("member included-via %s", middle));
    assert_agrees(ld, outer, UMA);
    assert_agrees(ld, outer, MALLORY);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(test_cycles_refused)
{
    LDAP *ld = as_root();
    const char *a = add_group(ld, "ovr-cy-a", "dmgDepartment: " STORAGE "\n");
    const char *b = add_group(ld, "ovr-cy-b", fmt("dmgIncludeMember: %s\n", a));
    const char *c = add_group(ld, "ovr-cy-c", fmt("dmgExcludeMember: %s\n"
                                                  "dmgDepartment: " SALES "\n", b));
    dmg_result r;

    r = dmg_modify(ld, a, fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", c));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "cycle") && strcasestr(r.diag, a) && strcasestr(r.diag, b)
                      && strcasestr(r.diag, c), "diagnostic: %s", r.diag);
    r = dmg_modify(ld, a, fmt("add: dmgExcludeMember\ndmgExcludeMember: %s\n", a));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "itself") != NULL, "diagnostic: %s", r.diag);
    /* through a static group too */
    const char *s = add_static(ld, "ovr-cy-s", fmt("member: %s\n", c));
    r = dmg_modify(ld, a, fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", s));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strcasestr(r.diag, s) != NULL, "diagnostic: %s", r.diag);
    ASSERT_STORED(ld, a, "dmgIncludeMember", "");
    dmg_disconnect(ld);
}
END_TEST

/* a cycle the guard cannot see (a static group written afterwards) neither loops nor
 * duplicates */
START_TEST(test_cycle_read)
{
    LDAP *ld = as_root();
    const char *s = add_static(ld, "ovr-cr-s", "member: " ALICE "\n");
    const char *g = add_group(ld, "ovr-cr-g", fmt("dmgDepartment: " STORAGE "\n"
                                                  "dmgIncludeMember: %s\n", s));
    expect_ok(dmg_modify(ld, s, fmt("add: member\nmember: %s\nmember: " LEO "\n", g)),
              "closing the cycle");

    ASSERT_MEMBERS(ld, g, ALICE "\n" LEO "\n" MALLORY "\n" NINA "\n" OSCAR);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-cr-*)(member=" ALICE "))",
                   fmt("%s\n%s", g, s));
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", BOB), LDAP_COMPARE_FALSE);
    assert_agrees(ld, g, ALICE);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Writes: validation, administrators, references
 * ========================================================================================== */

START_TEST(test_validation)
{
    LDAP *ld = as_root();
    const char *g = group_dn("ovr-val");
    const char *base = "dn: cn=ovr-val," GROUPS "\nobjectClass: dynamicMailGroup\ncn: ovr-val\n"
                       "mail: ovr-val@lists.example.com\n";
    dmg_result r;

    r = dmg_add_ldif(ld, base);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "dmgIncludeMember") != NULL, "diagnostic: %s", r.diag);
    r = dmg_add_ldif(ld, fmt("%sdmgIncludeMember: uid=nobody," SUF "\n", base));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "uid=nobody") != NULL, "diagnostic: %s", r.diag);
    r = dmg_add_ldif(ld, fmt("%sdmgIncludeMember: %s\n", base, g));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    r = dmg_add_ldif(ld, fmt("%sdmgIncludeMember: " ALICE "\ndmgExcludeMember: uid=x," SUF "\n",
                             base));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    /* dynmailgroup-max-overrides 5, per attribute */
    r = dmg_add_ldif(ld, fmt("%sdmgDepartment: " STORAGE "\ndmgExcludeMember: " LEO "\n"
                             "dmgExcludeMember: " NINA "\ndmgExcludeMember: " OSCAR "\n"
                             "dmgExcludeMember: " MALLORY "\ndmgExcludeMember: " ALICE "\n"
                             "dmgExcludeMember: " BOB "\n", base));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "dynmailgroup-max-overrides") != NULL, "diagnostic: %s", r.diag);

    /* an include is enough; removing the last include then is not */
    expect_ok(dmg_add_ldif(ld, fmt("%sdmgIncludeMember: " ALICE "\n", base)), "include only");
    ASSERT_MEMBERS(ld, g, ALICE);
    DMG_ASSERT_RC(dmg_modify(ld, g, "delete: dmgIncludeMember\n"), LDAP_CONSTRAINT_VIOLATION);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(test_administrator_writes)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "ovr-adm", "dmgDepartment: " STORAGE "\n"
                              "dmgAdministrator: " BOB "\n");
    dmg_disconnect(ld);

    ld = dmg_connect(srv, BOB, DMG_PASSWORD);
    expect_ok(dmg_modify(ld, g, "add: dmgIncludeMember\ndmgIncludeMember: " ALICE "\n-\n"
                         "add: dmgExcludeMember\ndmgExcludeMember: " LEO "\n"),
              "an administrator writes overrides");
    ASSERT_MEMBERS(ld, g, ALICE "\n" MALLORY "\n" NINA "\n" OSCAR);
    dmg_disconnect(ld);

    ld = dmg_connect(srv, ALICE, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_modify(ld, g, "add: dmgExcludeMember\ndmgExcludeMember: " NINA "\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(test_renames_and_deletes)
{
    LDAP *ld = as_root();
    const char *ou = add_ou(ld, "OvrRefs");
    const char *p = add_person(ld, "ovr-p1", ou);
    const char *q = add_person(ld, "ovr-p2", ou);
    const char *inner = add_group(ld, "ovr-ref-inner", fmt("dmgIncludeMember: %s\n", q));
    const char *g = add_group(ld, "ovr-ref", fmt("dmgDepartment: " STORAGE "\n"
                              "dmgIncludeMember: %s\ndmgIncludeMember: %s\n"
                              "dmgExcludeMember: " LEO "\n", p, inner));
    const char *p_new = fmt("uid=ovr-p1-renamed,%s", ou);
    const char *inner_new = group_dn("ovr-ref-inner2");

    expect_ok(dmg_rename(ld, p, "uid=ovr-p1-renamed", NULL, 1), "renaming a person");
    expect_ok(dmg_rename(ld, inner, "cn=ovr-ref-inner2", NULL, 1), "renaming a group");
    ASSERT_STORED(ld, g, "dmgIncludeMember", fmt("%s\n%s", p_new, inner_new));
    ASSERT_MEMBERS(ld, g, fmt(MALLORY "\n" NINA "\n" OSCAR "\n%s\n%s", p_new, q));

    expect_ok(dmg_delete(ld, p_new), "deleting a person");
    expect_ok(dmg_delete(ld, inner_new), "deleting a group");
    ASSERT_STORED(ld, g, "dmgIncludeMember", "");
    ASSERT_MEMBERS(ld, g, MALLORY "\n" NINA "\n" OSCAR);
    /* a new entry with the old DN is nobody's member */
    add_person(ld, "ovr-p1", ou);
    ASSERT_MEMBERS(ld, g, MALLORY "\n" NINA "\n" OSCAR);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Explanations
 * ========================================================================================== */

START_TEST(test_explanation_rows)
{
    LDAP *ld = as_root();
    const char *stat = add_static(ld, "ovr-ex-static", "member: " UMA "\nmember: " FRANK "\n");
    const char *inner = add_group(ld, "ovr-ex-inner", "dmgDepartment: " FINANCE "\n");
    const char *g = add_group(ld, "ovr-ex", fmt("dmgDepartment: " BACKEND "\n"
                              "dmgIncludeSubDepartments: FALSE\n"
                              "dmgCondition: (l=Berlin)\ndmgCondition: (title=Engineer)\n"
                              "dmgIncludeMember: " ALICE "\ndmgIncludeMember: %s\n"
                              "dmgIncludeMember: " BUILD "\n"
                              "dmgExcludeMember: " BOB "\ndmgExcludeMember: %s\n",
                              inner, stat));
    char *berlin_eng = dmg_dns_joined(ld, BACKEND, LDAP_SCOPE_ONELEVEL,
                                      "(&(l=Berlin)(title=Engineer))");
    char *other = dmg_dns_joined(ld, BACKEND, LDAP_SCOPE_ONELEVEL,
                                 "(&(objectClass=inetOrgPerson)(!(l=Berlin))(!(uid=frank)))");
    char *not_eng = dmg_dns_joined(ld, BACKEND, LDAP_SCOPE_ONELEVEL,
                                   "(&(objectClass=inetOrgPerson)(l=Berlin)(!(title=Engineer)))");
    ck_assert_msg(*berlin_eng && *other && *not_eng, "fixture: %s / %s / %s", berlin_eng, other,
                  not_eng);
    berlin_eng[strcspn(berlin_eng, "\n")] = '\0';
    other[strcspn(other, "\n")] = '\0';
    not_eng[strcspn(not_eng, "\n")] = '\0';

    const struct { const char *who, *why; } rows[] = {
        { "uid=nobody," SUF, "not-member no-such-entry" },
        { BOB, "not-member excluded" },
        { UMA, fmt("not-member excluded-via %s", stat) },
        { BUILD, "not-member member-filter" },
        { ALICE, "member included" },
        { GINA, fmt("member included-via %s", inner) },
        { berlin_eng, "member department " BACKEND },
        { PEGGY, "not-member outside-departments" },
        { LEO, "not-member sub-department " STORAGE },
        { other, "not-member condition (l=Berlin)" },
        { not_eng, "not-member condition (title=Engineer)" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        DMG_ASSERT_STR(explain(ld, g, rows[i].who), rows[i].why);
        if (i > 0)
            assert_agrees(ld, g, rows[i].who);
    }
    /* frank is in the excluded static group: excluded-via beats the rule */
    DMG_ASSERT_STR(explain(ld, g, FRANK), fmt("not-member excluded-via %s", stat));
    /* only when asked for, by name, with the assertion */
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, "(objectClass=*)", "dmgMembershipExplanation", "");
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, "(dmgExplainMember=" ALICE ")", "+", "");
    free(berlin_eng);
    free(other);
    free(not_eng);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Hidden groups and a requester with fewer rights
 * ========================================================================================== */

START_TEST(test_acl_limited_requester)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "ovr-acl", "dmgDepartment: " STORAGE "\n"
                              "dmgIncludeMember: " GINA "\ndmgIncludeMember: " ALICE "\n"
                              "dmgCondition: (title=Engineer)\n");
    dmg_disconnect(root);

    LDAP *ld = as_reader();
    /* gina (ou=Finance) does not exist for the reader; the condition tests title, which the
     * reader may not search: Storage adds nobody for them */
    ASSERT_MEMBERS(ld, g, ALICE);
    DMG_ASSERT_STR(explain(ld, g, GINA), "not-member no-such-entry");
    DMG_ASSERT_STR(explain(ld, g, "uid=nobody," FINANCE), "not-member no-such-entry");
    DMG_ASSERT_STR(explain(ld, g, MALLORY), "not-member condition (title=Engineer)");
    DMG_ASSERT_STR(explain(ld, g, ALICE), "member included");
    assert_agrees(ld, g, ALICE);
    assert_agrees(ld, g, MALLORY);
    dmg_disconnect(ld);

    root = as_root();
    DMG_ASSERT_STR(explain(root, g, GINA), "member included");
    DMG_ASSERT_STR(explain(root, g, MALLORY), fmt("member department %s", STORAGE));
    dmg_disconnect(root);
}
END_TEST

START_TEST(test_hidden_groups)
{
    LDAP *root = as_root();
    const char *hidden = add_group(root, "ovr-hid-h", "dmgDepartment: " SALES "\n"
                                   "dmgShowInContacts: FALSE\n");
    const char *g = add_group(root, "ovr-hid", fmt("dmgIncludeMember: %s\n"
                              "dmgIncludeMember: " ALICE "\n", hidden));
    char *all = dmg_values_joined(root, g, LDAP_SCOPE_BASE, NULL, "dmgMemberCount");
    DMG_ASSERT_STR(all, "13");
    free(all);
    DMG_ASSERT_STR(explain(root, g, UMA), fmt("member included-via %s", hidden));
    dmg_disconnect(root);

    /* the reader may not see the hidden group: it stands for nobody, in every form */
    LDAP *ld = as_reader();
    ASSERT_MEMBERS(ld, g, ALICE);
    DMG_ASSERT_STR(explain(ld, g, UMA), "not-member outside-departments");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-hid*)(member=" UMA "))", "");
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", UMA), LDAP_COMPARE_FALSE);
    assert_agrees(ld, g, UMA);
    DMG_ASSERT_RC(dmg_search(ld, hidden, LDAP_SCOPE_BASE,
                             "(dmgExplainMember=" UMA ")", NULL, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
}
END_TEST

/* dynmailgroup-max-overrides changes at run time through cn=config */
START_TEST(test_max_overrides_config)
{
    const char *odn = "olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config";
    LDAP *cfg = dmg_connect_ldapi_external(srv);
    LDAP *ld = as_root();
    const char *two = "dn: cn=ovr-cfg," GROUPS "\nobjectClass: dynamicMailGroup\ncn: ovr-cfg\n"
                      "mail: ovr-cfg@lists.example.com\ndmgIncludeMember: " ALICE "\n"
                      "dmgIncludeMember: " BOB "\n";

    DMG_ASSERT_VALUES(cfg, odn, LDAP_SCOPE_BASE, NULL, "olcDynMailGroupMaxOverrides", "5");
    expect_ok(dmg_modify(cfg, odn, "replace: olcDynMailGroupMaxOverrides\n"
                         "olcDynMailGroupMaxOverrides: 1\n"), "lowering the bound");
    dmg_result r = dmg_add_ldif(ld, two);
    expect_ok(dmg_modify(cfg, odn, "replace: olcDynMailGroupMaxOverrides\n"
                         "olcDynMailGroupMaxOverrides: 5\n"), "restoring the bound");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_RC(dmg_modify(cfg, odn, "replace: olcDynMailGroupMaxOverrides\n"
                             "olcDynMailGroupMaxOverrides: 0\n"), LDAP_OTHER);
    expect_ok(dmg_add_ldif(ld, two), "two includes under the bound");
    dmg_disconnect(ld);
    dmg_disconnect(cfg);
}
END_TEST

static Suite *overrides_suite(void)
{
    Suite *s = suite_create("overrides");
    TCase *tc = dmg_tcase("overrides");
    tcase_add_test(tc, test_include_exclude_forward);
    tcase_add_test(tc, test_include_exclude_reverse);
    tcase_add_test(tc, test_members_policy);
    tcase_add_test(tc, test_acl_group_clause);
    tcase_add_test(tc, test_nested);
    tcase_add_test(tc, test_cycles_refused);
    tcase_add_test(tc, test_cycle_read);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_administrator_writes);
    tcase_add_test(tc, test_renames_and_deletes);
    tcase_add_test(tc, test_explanation_rows);
    tcase_add_test(tc, test_acl_limited_requester);
    tcase_add_test(tc, test_hidden_groups);
    tcase_add_test(tc, test_max_overrides_config);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int failed = 0;

    dmg_server_opts plain = { .overlay_config = OVERLAY_CONFIG, .db_config = ACL_CONFIG };
    failed |= dmg_run_suite(overrides_suite(), &plain, &srv) != EXIT_SUCCESS;

    dmg_server_opts cached = { .overlay_config = OVERLAY_CONFIG CACHE_CONFIG,
                               .db_config = ACL_CONFIG };
    failed |= dmg_run_suite(overrides_suite(), &cached, &srv) != EXIT_SUCCESS;

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
