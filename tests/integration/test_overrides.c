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
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

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
#define CAROL   "uid=carol," ENG
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
    "access to attrs=dmgCondition\n" \
    "  by dn.exact=\"" CAROL "\" none\n" \
    "  by * read\n" \
    "access to attrs=title\n" \
    "  by dn.exact=\"" READER "\" none\n" \
    "  by * read\n" \
    "access to * by * read\n"

static dmg_server *srv;

/* ============================================================================================
 * Helpers
 * ========================================================================================== */

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
    return dmg_fmt("cn=%s," GROUPS, cn);
}

/* A group cn=CN,ou=Groups; extra is LDIF lines (departments, overrides, conditions...) */
static const char *add_group(LDAP *ld, const char *cn, const char *extra)
{
    const char *dn = group_dn(cn);
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\n"
                                           "mail: %s@lists.example.com\n%s", dn, cn, cn, extra)),
                  dmg_fmt("adding group %s", dn));
    return dn;
}

static const char *add_static(LDAP *ld, const char *cn, const char *members)
{
    const char *dn = group_dn(cn);
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: groupOfNames\ncn: %s\n%s", dn, cn,
                                           members)),
                  dmg_fmt("adding static group %s", dn));
    return dn;
}

static const char *add_ou(LDAP *ld, const char *name)
{
    const char *dn = dmg_fmt("ou=%s," SUF, name);
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: organizationalUnit\nou: %s\n",
                                           dn, name)),
                  dmg_fmt("adding %s", dn));
    return dn;
}

static const char *add_person(LDAP *ld, const char *uid, const char *parent)
{
    const char *dn = dmg_fmt("uid=%s,%s", uid, parent);
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\n"
                                           "sn: %s\nmail: %s@staff.example.net\n"
                                           "userPassword: secret\n",
                                           dn, uid, uid, uid, uid)),
                  dmg_fmt("adding %s", dn));
    return dn;
}

#define ASSERT_MEMBERS(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "member", (expected))
#define ASSERT_COUNT(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "dmgMemberCount", (expected))
#define ASSERT_STORED(ld, g, attr, expected) \
    DMG_ASSERT_VALUES_EXT((ld), (g), LDAP_SCOPE_BASE, NULL, (attr), (expected), \
                          DMG_CTRLS(dmg_ctrl_manage_dsait()))

/* A string the harness allocated, kept in the ring of fmt instead */
static const char *keep(char *s)
{
    const char *copy = dmg_fmt("%s", s);
    free(s);
    return copy;
}

/* dmgMembershipExplanation of who in group g, as ld's identity gets it */
static const char *explain(LDAP *ld, const char *g, const char *who)
{
    return keep(dmg_values_joined(ld, g, LDAP_SCOPE_BASE, dmg_fmt("(dmgExplainMember=%s)", who),
                                  "dmgMembershipExplanation"));
}

/* The verdict of the explanation agrees with member, compare and dmgMemberOf */
static void assert_agrees(LDAP *ld, const char *g, const char *who)
{
    const char *why = explain(ld, g, who);
    int member = strncmp(why, "member ", 7) == 0;
    char *members = dmg_values_joined(ld, g, LDAP_SCOPE_BASE, NULL, "member");
    char *search = dmg_dns_joined(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", who));
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
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, dmg_fmt("(dmgMemberOf=%s)", g),
                   ALICE "\n" MALLORY "\n" NINA "\n" OSCAR);
    ck_assert_ptr_nonnull(strcasestr(keep(dmg_values_joined(ld, ALICE, LDAP_SCOPE_BASE, NULL,
                                                            "dmgMemberOf")), g));
    ck_assert_ptr_null(strcasestr(keep(dmg_values_joined(ld, LEO, LDAP_SCOPE_BASE, NULL,
                                                         "dmgMemberOf")), g));
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

    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt(f, "alice@example.com"),
                      "dmgDecision", "accept");
    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt(f, "leo@example.com"), "dmgDecision",
                      "reject");
    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt(f, "nina@example.com"), "dmgDecision",
                      "accept");
    dmg_disconnect(ld);
}
END_TEST

/* group/dynamicMailGroup/member= clauses see overrides: the club is Sales, plus alice, less uma,
 * plus the members of a hidden group (frank), which the clause sees as the rootdn does */
START_TEST(test_acl_group_clause)
{
    LDAP *root = as_root();
    const char *attrs[] = { "cn", NULL };
    dmg_result r = dmg_search(root, CLUB, LDAP_SCOPE_BASE, NULL, attrs,
                              DMG_CTRLS(dmg_ctrl_manage_dsait()), NULL);
    if (r.rc == LDAP_NO_SUCH_OBJECT) {
        /* by a postmaster: the rootdn would be its applicant, and see it for that */
        LDAP *pm = dmg_connect(srv, POSTMASTER, DMG_PASSWORD);
        const char *h = add_group(pm, "ovr-club-h", "dmgIncludeMember: " FRANK "\n"
                                  "dmgShowInContacts: FALSE\n");
        dmg_disconnect(pm);
        add_group(root, "ovr-club", dmg_fmt("dmgDepartment: " SALES "\n"
                  "dmgIncludeMember: " ALICE "\ndmgIncludeMember: %s\n"
                  "dmgExcludeMember: " UMA "\n", h));
    }
    dmg_disconnect(root);

    const char *who[] = { ALICE, VICTOR, FRANK, UMA, BOB };
    int allowed[] = { 1, 1, 1, 0, 0 };
    for (size_t i = 0; i < 5; i++) {
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
    const char *middle = add_group(ld, "ovr-n-middle", dmg_fmt("dmgIncludeMember: %s\n"
                                   "dmgIncludeMember: %s\n", inner, stat));
    const char *outer = add_group(ld, "ovr-n-outer", dmg_fmt("dmgDepartment: " FRONTEND "\n"
                                  "dmgIncludeSubDepartments: FALSE\n"
                                  "dmgIncludeMember: %s\ndmgIncludeMember: " ALICE "\n"
                                  "dmgCondition: (l=Nowhere)\n", middle));

    ASSERT_MEMBERS(ld, middle, MALLORY "\n" OSCAR "\n" GINA "\n" UMA);
    ASSERT_MEMBERS(ld, outer, ALICE "\n" MALLORY "\n" OSCAR "\n" GINA "\n" UMA);
    ASSERT_COUNT(ld, outer, "5");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(member=" MALLORY "))",
                   dmg_fmt("%s\n%s\n%s", inner, middle, outer));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(member=" UMA "))",
                   dmg_fmt("%s\n%s\n%s", stat, middle, outer));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   "(&(cn=ovr-n-*)(dmgMemberMail=gina@example.com))",
                   dmg_fmt("%s\n%s", middle, outer));
    DMG_ASSERT_RC(dmg_compare(ld, outer, "member", OSCAR), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, outer, "member", NINA), LDAP_COMPARE_FALSE);

    /* excluding a nested group excludes its members, at any depth */
    DMG_EXPECT_OK(dmg_modify(ld, outer,
                             dmg_fmt("add: dmgExcludeMember\ndmgExcludeMember: %s\n", stat)),
                  "excluding the static group");
    ASSERT_MEMBERS(ld, outer, ALICE "\n" MALLORY "\n" OSCAR);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-n-*)(member=" UMA "))",
                   dmg_fmt("%s\n%s", stat, middle));
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, dmg_fmt("(dmgMemberOf=%s)", outer),
                   ALICE "\n" MALLORY "\n" OSCAR);
    DMG_ASSERT_RC(dmg_compare(ld, OSCAR, "dmgMemberOf", outer), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, UMA, "dmgMemberOf", outer), LDAP_COMPARE_FALSE);
    DMG_ASSERT_STR(explain(ld, outer, UMA), dmg_fmt("not-member excluded-via %s", stat));
    DMG_ASSERT_STR(explain(ld, outer, MALLORY), dmg_fmt("member included-via %s", middle));
    assert_agrees(ld, outer, UMA);
    assert_agrees(ld, outer, MALLORY);
    dmg_disconnect(ld);
}
END_TEST

/* a groupOfUniqueNames stands for its uniqueMember values; one with a UID names nobody, as
 * for slapd's group ACLs */
START_TEST(test_unique_names)
{
    LDAP *ld = as_root();
    const char *u = group_dn("ovr-un-static");
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: %s\nobjectClass: groupOfUniqueNames\n"
                                           "cn: ovr-un-static\n"
                                           "uniqueMember: " NINA "\n"
                                           "uniqueMember: " LEO "#'0101'B\n", u)),
                  "adding the groupOfUniqueNames");
    const char *g = add_group(ld, "ovr-un", dmg_fmt("dmgIncludeMember: %s\n", u));

    ASSERT_MEMBERS(ld, g, NINA);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-un*)(member=" NINA "))", g);
    DMG_ASSERT_STR(explain(ld, g, NINA), dmg_fmt("member included-via %s", u));
    DMG_ASSERT_STR(explain(ld, g, LEO), "not-member outside-departments");
    assert_agrees(ld, g, NINA);
    assert_agrees(ld, g, LEO);
    dmg_disconnect(ld);
}
END_TEST

/* groups reached along many paths: 16 levels of two groups, each naming both groups of the
 * level below, would be 2^16 expansions if each path were computed on its own */
START_TEST(test_diamonds)
{
    LDAP *ld = as_root();
    const char *below[2] = { NULL, NULL };

    for (int level = 0; level < 16; level++) {
        const char *here[2];
        for (int k = 0; k < 2; k++) {
            const char *cn = dmg_fmt("ovr-dia-%d-%d", level, k);
            here[k] = level == 0
                ? add_group(ld, cn, "dmgDepartment: " STORAGE "\n")
                : add_group(ld, cn, dmg_fmt("dmgIncludeMember: %s\ndmgIncludeMember: %s\n",
                                            below[0], below[1]));
        }
        below[0] = here[0];
        below[1] = here[1];
    }
    const char *top = add_group(ld, "ovr-dia-top", dmg_fmt("dmgIncludeMember: %s\n"
                                "dmgIncludeMember: %s\ndmgExcludeMember: " LEO "\n",
                                below[0], below[1]));
    ASSERT_MEMBERS(ld, top, MALLORY "\n" NINA "\n" OSCAR);
    DMG_ASSERT_RC(dmg_compare(ld, top, "member", NINA), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, top, "member", ALICE), LDAP_COMPARE_FALSE);
    DMG_ASSERT_STR(explain(ld, top, NINA), dmg_fmt("member included-via %s", below[0]));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-dia-top)(member=" OSCAR "))", top);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(test_cycles_refused)
{
    LDAP *ld = as_root();
    const char *a = add_group(ld, "ovr-cy-a", "dmgDepartment: " STORAGE "\n");
    const char *b = add_group(ld, "ovr-cy-b", dmg_fmt("dmgIncludeMember: %s\n", a));
    const char *c = add_group(ld, "ovr-cy-c", dmg_fmt("dmgExcludeMember: %s\n"
                                                      "dmgDepartment: " SALES "\n", b));
    dmg_result r;

    r = dmg_modify(ld, a, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", c));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "cycle") && strcasestr(r.diag, a) && strcasestr(r.diag, b)
                      && strcasestr(r.diag, c), "diagnostic: %s", r.diag);
    r = dmg_modify(ld, a, dmg_fmt("add: dmgExcludeMember\ndmgExcludeMember: %s\n", a));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "itself") != NULL, "diagnostic: %s", r.diag);
    /* through a static group too */
    const char *s = add_static(ld, "ovr-cy-s", dmg_fmt("member: %s\n", c));
    r = dmg_modify(ld, a, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", s));
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
    const char *g = add_group(ld, "ovr-cr-g", dmg_fmt("dmgDepartment: " STORAGE "\n"
                                                      "dmgIncludeMember: %s\n", s));
    DMG_EXPECT_OK(dmg_modify(ld, s, dmg_fmt("add: member\nmember: %s\nmember: " LEO "\n", g)),
                  "closing the cycle");

    ASSERT_MEMBERS(ld, g, ALICE "\n" LEO "\n" MALLORY "\n" NINA "\n" OSCAR);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=ovr-cr-*)(member=" ALICE "))",
                   dmg_fmt("%s\n%s", g, s));
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
    r = dmg_add_ldif(ld, dmg_fmt("%sdmgIncludeMember: uid=nobody," SUF "\n", base));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "uid=nobody") != NULL, "diagnostic: %s", r.diag);
    r = dmg_add_ldif(ld, dmg_fmt("%sdmgIncludeMember: %s\n", base, g));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    r = dmg_add_ldif(ld, dmg_fmt("%sdmgIncludeMember: " ALICE "\ndmgExcludeMember: uid=x," SUF "\n",
                                 base));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    /* dynmailgroup-max-overrides 5, per attribute */
    r = dmg_add_ldif(ld, dmg_fmt("%sdmgDepartment: " STORAGE "\ndmgExcludeMember: " LEO "\n"
                                 "dmgExcludeMember: " NINA "\ndmgExcludeMember: " OSCAR "\n"
                                 "dmgExcludeMember: " MALLORY "\ndmgExcludeMember: " ALICE "\n"
                                 "dmgExcludeMember: " BOB "\n", base));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "dynmailgroup-max-overrides") != NULL, "diagnostic: %s", r.diag);

    /* the new computed attributes are never written */
    const char *computed[] = { "dmgJoiningMember: " ALICE, "dmgLeavingMember: " ALICE,
                               "dmgMembershipExplanation: member included",
                               "dmgExplainMember: " ALICE };
    for (size_t i = 0; i < 4; i++) {
        r = dmg_add_ldif(ld, dmg_fmt("%sdmgIncludeMember: " ALICE "\n%s\n", base, computed[i]));
        DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
        ck_assert_msg(strstr(r.diag, "computed") != NULL, "diagnostic: %s", r.diag);
    }
    /* an include is enough; removing the last include then is not */
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("%sdmgIncludeMember: " ALICE "\n", base)),
                  "include only");
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
    DMG_EXPECT_OK(dmg_modify(ld, g, "add: dmgIncludeMember\ndmgIncludeMember: " ALICE "\n-\n"
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
    const char *inner = add_group(ld, "ovr-ref-inner", dmg_fmt("dmgIncludeMember: %s\n", q));
    const char *g = add_group(ld, "ovr-ref", dmg_fmt("dmgDepartment: " STORAGE "\n"
                              "dmgIncludeMember: %s\ndmgIncludeMember: %s\n"
                              "dmgExcludeMember: " LEO "\n", p, inner));
    const char *p_new = dmg_fmt("uid=ovr-p1-renamed,%s", ou);
    const char *inner_new = group_dn("ovr-ref-inner2");

    DMG_EXPECT_OK(dmg_rename(ld, p, "uid=ovr-p1-renamed", NULL, 1), "renaming a person");
    DMG_EXPECT_OK(dmg_rename(ld, inner, "cn=ovr-ref-inner2", NULL, 1), "renaming a group");
    ASSERT_STORED(ld, g, "dmgIncludeMember", dmg_fmt("%s\n%s", p_new, inner_new));
    ASSERT_MEMBERS(ld, g, dmg_fmt(MALLORY "\n" NINA "\n" OSCAR "\n%s\n%s", p_new, q));

    DMG_EXPECT_OK(dmg_delete(ld, p_new), "deleting a person");
    DMG_EXPECT_OK(dmg_delete(ld, inner_new), "deleting a group");
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
    const char *g = add_group(ld, "ovr-ex", dmg_fmt("dmgDepartment: " BACKEND "\n"
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
        { UMA, dmg_fmt("not-member excluded-via %s", stat) },
        { BUILD, "not-member member-filter" },
        { ALICE, "member included" },
        { GINA, dmg_fmt("member included-via %s", inner) },
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
    DMG_ASSERT_STR(explain(ld, g, FRANK), dmg_fmt("not-member excluded-via %s", stat));
    /* only when asked for, by name, with the assertion */
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, "(objectClass=*)", "dmgMembershipExplanation", "");
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, "(dmgExplainMember=" ALICE ")", "+", "");
    dmg_disconnect(ld);
    /* only to those who may read the rule it explains (carol may not read dmgCondition) */
    ld = dmg_connect(srv, CAROL, DMG_PASSWORD);
    DMG_ASSERT_STR(explain(ld, g, LEO), "");
    dmg_disconnect(ld);
    ld = dmg_connect(srv, ALICE, DMG_PASSWORD);
    DMG_ASSERT_STR(explain(ld, g, LEO), "not-member sub-department " STORAGE);
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
    DMG_ASSERT_STR(explain(root, g, MALLORY), dmg_fmt("member department %s", STORAGE));
    dmg_disconnect(root);
}
END_TEST

START_TEST(test_hidden_groups)
{
    LDAP *root = as_root();
    const char *hidden = add_group(root, "ovr-hid-h", "dmgDepartment: " SALES "\n"
                                   "dmgShowInContacts: FALSE\n");
    const char *g = add_group(root, "ovr-hid", dmg_fmt("dmgIncludeMember: %s\n"
                              "dmgIncludeMember: " ALICE "\n", hidden));
    char *all = dmg_values_joined(root, g, LDAP_SCOPE_BASE, NULL, "dmgMemberCount");
    DMG_ASSERT_STR(all, "13");
    free(all);
    DMG_ASSERT_STR(explain(root, g, UMA), dmg_fmt("member included-via %s", hidden));
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
    DMG_EXPECT_OK(dmg_modify(cfg, odn, "replace: olcDynMailGroupMaxOverrides\n"
                         "olcDynMailGroupMaxOverrides: 1\n"), "lowering the bound");
    dmg_result r = dmg_add_ldif(ld, two);
    DMG_EXPECT_OK(dmg_modify(cfg, odn, "replace: olcDynMailGroupMaxOverrides\n"
                         "olcDynMailGroupMaxOverrides: 5\n"), "restoring the bound");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_RC(dmg_modify(cfg, odn, "replace: olcDynMailGroupMaxOverrides\n"
                             "olcDynMailGroupMaxOverrides: 0\n"), LDAP_OTHER);
    DMG_EXPECT_OK(dmg_add_ldif(ld, two), "two includes under the bound");
    dmg_disconnect(ld);
    dmg_disconnect(cfg);
}
END_TEST


/* ============================================================================================
 * Previews: No-Op (standard OID) with Post-Read, answered with the Post-Read entry
 * ========================================================================================== */

#define OID_NOOP "1.3.6.1.4.1.4203.1.10.2"
/* slapd's own, experimental No-Op: what ldapmodify -e noop sends */
#define OID_NOOP_SLAPD "1.3.6.1.4.1.4203.666.5.2"

static const char *noop_oid = OID_NOOP;

typedef struct preview {
    dmg_result r;
    char post[8192]; /* the Post-Read entry: "attr: value" lines, sorted; "" when none */
    int has_post;
} preview;

/* Modifications from "attr: value" lines, all with op (an add's attributes: LDAP_MOD_ADD) */
typedef struct mods {
    LDAPMod m[16], *p[17];
    char *vals[16][32];
    int n;
} mods;

static void mods_parse(mods *ms, int op, const char *lines)
{
    memset(ms, 0, sizeof *ms);
    char *copy = strdup(lines), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char *colon = strchr(l, ':');
        ck_assert_ptr_nonnull(colon);
        *colon = '\0';
        const char *v = colon + 1 + (colon[1] == ' ');
        int i;
        for (i = 0; i < ms->n && strcmp(ms->m[i].mod_type, l) != 0; i++)
            ;
        if (i == ms->n) {
            ck_assert_int_lt(ms->n, 16);
            ms->m[i].mod_op = op;
            ms->m[i].mod_type = strdup(l);
            ms->m[i].mod_values = ms->vals[i];
            ms->p[i] = &ms->m[i];
            ms->n++;
        }
        int k = 0;
        while (ms->vals[i][k])
            k++;
        ck_assert_int_lt(k, 31);
        ms->vals[i][k] = *v ? strdup(v) : NULL;
    }
    free(copy);
}

static void mods_free(mods *ms)
{
    for (int i = 0; i < ms->n; i++) {
        free(ms->m[i].mod_type);
        for (int k = 0; ms->vals[i][k]; k++)
            free(ms->vals[i][k]);
    }
}

static int line_cmp(const void *a, const void *b)
{
    return strcasecmp(*(char *const *)a, *(char *const *)b);
}

/* The Post-Read control's entry as sorted "attr: value" lines */
static void post_read_lines(LDAPControl *c, preview *pv)
{
    BerElement *ber = ber_init(&c->ldctl_value);
    struct berval bv;
    char *lines[512];
    size_t n = 0;
    ck_assert_ptr_nonnull(ber);
    ck_assert_int_ne(ber_scanf(ber, "{m{", &bv), LBER_ERROR);
    while (ber_scanf(ber, "{m", &bv) != LBER_ERROR) {
        BerVarray vals = NULL;
        ck_assert_int_ne(ber_scanf(ber, "[W]", &vals), LBER_ERROR);
        for (int i = 0; vals && vals[i].bv_val && n < 512; i++)
            lines[n++] = strdup(dmg_fmt("%.*s: %.*s", (int)bv.bv_len, bv.bv_val,
                                        (int)vals[i].bv_len, vals[i].bv_val));
        ber_bvarray_free(vals);
        ber_scanf(ber, "}");
    }
    ber_free(ber, 1);
    qsort(lines, n, sizeof lines[0], line_cmp);
    for (size_t i = 0; i < n; i++) {
        strncat(pv->post, lines[i], sizeof pv->post - strlen(pv->post) - 2);
        strcat(pv->post, "\n");
        free(lines[i]);
    }
    pv->has_post = 1;
}

/* An add (dn given, changes NULL: lines are the entry) or a modify (mod_op on the lines)
 * sent with No-Op and Post-Read for attrs (comma-separated) */
static preview send_preview(LDAP *ld, const char *dn, int mod_op, const char *lines,
                            const char *attrs)
{
    preview pv;
    mods ms;
    LDAPControl noop = { (char *)noop_oid, { 0, NULL }, 1 }, *post = NULL, **resp = NULL;
    char *list[16], *copy = strdup(attrs), *save = NULL;
    int n = 0, msgid, err = 0;
    char *diag = NULL, *matched = NULL;
    LDAPMessage *res = NULL;

    memset(&pv, 0, sizeof pv);
    for (char *a = strtok_r(copy, ",", &save); a && n < 15; a = strtok_r(NULL, ",", &save))
        list[n++] = a;
    list[n] = NULL;
    BerElement *req = ber_alloc_t(LBER_USE_DER);
    LDAPControl postread = { LDAP_CONTROL_POST_READ, { 0, NULL }, 1 };
    ck_assert_int_ne(ber_printf(req, "{v}", list), -1);
    ck_assert_int_ne(ber_flatten2(req, &postread.ldctl_value, 0), -1);
    post = &postread;
    LDAPControl *ctrls[] = { &noop, post, NULL };
    mods_parse(&ms, mod_op < 0 ? LDAP_MOD_ADD : mod_op, lines);
    if (mod_op < 0)
        ck_assert_int_eq(ldap_add_ext(ld, dn, ms.p, ctrls, NULL, &msgid), LDAP_SUCCESS);
    else
        ck_assert_int_eq(ldap_modify_ext(ld, dn, ms.p, ctrls, NULL, &msgid), LDAP_SUCCESS);
    ck_assert_int_gt(ldap_result(ld, msgid, LDAP_MSG_ALL, NULL, &res), 0);
    ck_assert_int_eq(ldap_parse_result(ld, res, &err, &matched, &diag, NULL, &resp, 1),
                     LDAP_SUCCESS);
    pv.r.rc = err;
    snprintf(pv.r.diag, sizeof pv.r.diag, "%s", diag ? diag : "");
    for (int i = 0; resp && resp[i]; i++) {
        if (strcmp(resp[i]->ldctl_oid, LDAP_CONTROL_POST_READ) == 0)
            post_read_lines(resp[i], &pv);
    }
    ldap_controls_free(resp);
    ldap_memfree(diag);
    ldap_memfree(matched);
    ber_free(req, 1);
    mods_free(&ms);
    free(copy);
    return pv;
}

/* The lines of the Post-Read entry for one attribute, values only, sorted, joined by "\n" */
static const char *post_values(const preview *pv, const char *attr)
{
    static char out[8192];
    size_t alen = strlen(attr);
    out[0] = '\0';
    for (const char *l = pv->post; *l; l += strcspn(l, "\n") + 1) {
        if (strncasecmp(l, attr, alen) == 0 && l[alen] == ':') {
            if (*out)
                strcat(out, "\n");
            strncat(out, l + alen + 2, strcspn(l + alen + 2, "\n"));
        }
    }
    return out;
}

#define PREVIEW_ATTRS "member,dmgMemberCount,dmgJoiningMember,dmgLeavingMember,dmgMemberMail"

START_TEST(test_preview_modify)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "ovr-pv-mod", "dmgDepartment: " STORAGE "\n");

    /* a condition change: mallory and oscar stay, leo and nina would leave */
    preview pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgCondition: (title=Engineer)",
                              PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    ck_assert_msg(pv.has_post, "no Post-Read entry");
    DMG_ASSERT_STR(post_values(&pv, "member"), MALLORY "\n" OSCAR);
    DMG_ASSERT_STR(post_values(&pv, "dmgMemberCount"), "2");
    DMG_ASSERT_STR(post_values(&pv, "dmgJoiningMember"), "");
    DMG_ASSERT_STR(post_values(&pv, "dmgLeavingMember"), LEO "\n" NINA);
    DMG_ASSERT_STR(post_values(&pv, "dmgMemberMail"), "mallory@example.com\noscar@example.com");
    /* nothing stored */
    ASSERT_STORED(ld, g, "dmgCondition", "");
    ASSERT_COUNT(ld, g, "4");

    /* an override: alice joins, leo leaves */
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgIncludeMember: " ALICE "\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_STR(post_values(&pv, "dmgJoiningMember"), ALICE);
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgExcludeMember: " LEO "\n", PREVIEW_ATTRS);
    DMG_ASSERT_STR(post_values(&pv, "dmgLeavingMember"), LEO);
    DMG_ASSERT_STR(post_values(&pv, "dmgJoiningMember"), "");
    ASSERT_STORED(ld, g, "dmgIncludeMember", "");
    ASSERT_STORED(ld, g, "dmgExcludeMember", "");

    /* only what was asked for; who joins and leaves only by name */
    pv = send_preview(ld, g, LDAP_MOD_REPLACE, "description: x\n", "dmgMemberCount");
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_STR(pv.post, "dmgMemberCount: 4\n");
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgExcludeMember: " LEO "\n", "+");
    DMG_ASSERT_STR(post_values(&pv, "dmgMemberCount"), "3");
    DMG_ASSERT_STR(post_values(&pv, "dmgLeavingMember"), "");

    /* slapd's own No-Op (ldapmodify -e noop) previews the same way */
    noop_oid = OID_NOOP_SLAPD;
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgCondition: (title=Engineer)", PREVIEW_ATTRS);
    noop_oid = OID_NOOP;
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_STR(post_values(&pv, "dmgLeavingMember"), LEO "\n" NINA);
    ASSERT_STORED(ld, g, "dmgCondition", "");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(test_preview_add)
{
    LDAP *ld = as_root();
    const char *g = group_dn("ovr-pv-add");
    preview pv = send_preview(ld, g, -1, "objectClass: dynamicMailGroup\ncn: ovr-pv-add\n"
                              "mail: ovr-pv-add@lists.example.com\n"
                              "dmgDepartment: " STORAGE "\ndmgExcludeMember: " NINA "\n",
                              PREVIEW_ATTRS ",cn");
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_STR(post_values(&pv, "member"), LEO "\n" MALLORY "\n" OSCAR);
    DMG_ASSERT_STR(post_values(&pv, "dmgJoiningMember"), LEO "\n" MALLORY "\n" OSCAR);
    DMG_ASSERT_STR(post_values(&pv, "dmgLeavingMember"), "");
    DMG_ASSERT_STR(post_values(&pv, "cn"), "ovr-pv-add");
    const char *attrs[] = { "cn", NULL };
    DMG_ASSERT_RC(dmg_search(ld, g, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
}
END_TEST

/* a preview answers what the real write would: the guard's refusals, the backend's */
START_TEST(test_preview_errors)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "ovr-pv-err", "dmgDepartment: " STORAGE "\n");
    const char *other = add_group(ld, "ovr-pv-err2", dmg_fmt("dmgIncludeMember: %s\n", g));
    preview pv;

    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgIncludeMember: uid=nobody," SUF "\n",
                      PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(!pv.has_post, "a Post-Read entry with a refusal");
    pv = send_preview(ld, g, LDAP_MOD_ADD, dmg_fmt("dmgIncludeMember: %s\n", other), PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(pv.r.diag, "cycle") != NULL, "diagnostic: %s", pv.r.diag);
    /* the backend's: an entry that exists, a value that is there already */
    pv = send_preview(ld, g, -1, "objectClass: dynamicMailGroup\ncn: ovr-pv-err\n"
                      "mail: ovr-pv-err-x@lists.example.com\ndmgDepartment: " STORAGE "\n",
                      PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_ALREADY_EXISTS);
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgDepartment: " STORAGE "\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_TYPE_OR_VALUE_EXISTS);
    /* a member of no role may not preview a change either */
    dmg_disconnect(ld);
    ld = dmg_connect(srv, ALICE, DMG_PASSWORD);
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgCondition: (l=Paris)\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    /* a write that is not a group's is not stored either */
    ld = as_root();
    pv = send_preview(ld, ALICE, LDAP_MOD_REPLACE, "description: previewed\n", "description");
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_VALUES(ld, ALICE, LDAP_SCOPE_BASE, NULL, "description", "");
    /* nor a delete or a rename, of a group or not */
    LDAPControl noop = { OID_NOOP, { 0, NULL }, 1 };
    DMG_ASSERT_RC(dmg_delete_ext(ld, g, DMG_CTRLS(&noop)), LDAP_X_NO_OPERATION);
    DMG_ASSERT_RC(dmg_delete_ext(ld, other, DMG_CTRLS(&noop)), LDAP_X_NO_OPERATION);
    DMG_ASSERT_RC(dmg_rename_ext(ld, g, "cn=ovr-pv-err-renamed", NULL, 1, DMG_CTRLS(&noop)),
                  LDAP_X_NO_OPERATION);
    ASSERT_STORED(ld, other, "dmgIncludeMember", g);
    ASSERT_COUNT(ld, g, "4");
    dmg_disconnect(ld);
}
END_TEST

/* computed with the requester's rights: an administrator whom ACLs hide ou=Finance and
 * title; hidden groups stay hidden */
START_TEST(test_preview_rights)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "ovr-pv-acl", "dmgDepartment: " STORAGE "\n"
                              "dmgAdministrator: " READER "\n");
    const char *h = add_group(root, "ovr-pv-hid", "dmgDepartment: " STORAGE "\n"
                              "dmgShowInContacts: FALSE\n");
    dmg_disconnect(root);

    LDAP *ld = as_reader();
    preview pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgIncludeMember: " ALICE "\n"
                              "dmgIncludeMember: " BOB "\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_STR(post_values(&pv, "dmgJoiningMember"), ALICE "\n" BOB);
    /* gina is below ou=Finance: the reader may not name her, as in the real write */
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgIncludeMember: " GINA "\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_CONSTRAINT_VIOLATION);
    /* a condition on title, which the reader may not search: everybody would leave for them */
    pv = send_preview(ld, g, LDAP_MOD_ADD, "dmgCondition: (title=Engineer)\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_X_NO_OPERATION);
    DMG_ASSERT_STR(post_values(&pv, "member"), "");
    DMG_ASSERT_STR(post_values(&pv, "dmgLeavingMember"), LEO "\n" MALLORY "\n" NINA "\n" OSCAR);
    pv = send_preview(ld, h, LDAP_MOD_ADD, "dmgCondition: (title=Engineer)\n", PREVIEW_ATTRS);
    DMG_ASSERT_RC(pv.r, LDAP_NO_SUCH_OBJECT);
    ck_assert_msg(!pv.has_post, "a Post-Read entry of a hidden group");
    dmg_disconnect(ld);
}
END_TEST

/* a refused cycle names only the groups the requester may see */
START_TEST(test_cycle_hidden)
{
    LDAP *root = as_root();
    const char *a = add_group(root, "ovr-ch-a", "dmgDepartment: " STORAGE "\n"
                              "dmgAdministrator: " READER "\n");
    const char *h = add_group(root, "ovr-ch-h", dmg_fmt("dmgIncludeMember: %s\n"
                              "dmgShowInContacts: FALSE\n", a));
    const char *st = add_static(root, "ovr-ch-s", dmg_fmt("member: %s\n", h));
    dmg_disconnect(root);

    LDAP *ld = as_reader();
    dmg_result r = dmg_modify(ld, a, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", st));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "another group") != NULL && strcasestr(r.diag, h) == NULL
                      && strcasestr(r.diag, st) != NULL, "diagnostic: %s", r.diag);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Reverse lookups and cached nested lists
 * ========================================================================================== */

/* Lists of groups whose overrides name groups follow writes at every depth: a person who
 * joins or leaves only through a group named at depth 1 or 2 (an add, a modify of what the
 * named group's condition tests), a change of the named group's condition and department, its
 * rename and its delete.  The outer lists are read first, so that the cache holds them and
 * the named groups' own lists when each write comes. */
START_TEST(test_rev_nested_follow)
{
    LDAP *ld = as_root();
    const char *d1 = add_ou(ld, "RevN1");
    const char *d2 = add_ou(ld, "RevN2");
    const char *p1 = add_person(ld, "revn-p1", d2);
    const char *j = add_group(ld, "revn-j", dmg_fmt("dmgDepartment: %s\n", d2));
    const char *i = add_group(ld, "revn-i", dmg_fmt("dmgIncludeMember: %s\n", j));
    const char *o = add_group(ld, "revn-o", dmg_fmt("dmgIncludeMember: %s\n", i));
    const char *o1 = add_group(ld, "revn-o1", dmg_fmt("dmgIncludeMember: %s\n", j));
    const char *all = dmg_fmt("%s\n%s\n%s\n%s", j, i, o, o1);
    const char *p2, *p3, *j2, *both;

    ASSERT_MEMBERS(ld, o, p1);
    ASSERT_MEMBERS(ld, o1, p1);
    ASSERT_MEMBERS(ld, i, p1);
    ASSERT_MEMBERS(ld, j, p1);

    /* joins through the department of the group named at depth 2 */
    p2 = add_person(ld, "revn-p2", d2);
    both = dmg_fmt("%s\n%s", p1, p2);
    ASSERT_MEMBERS(ld, o, both);
    ASSERT_MEMBERS(ld, o1, both);
    ASSERT_MEMBERS(ld, i, both);
    ASSERT_MEMBERS(ld, j, both);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p2), all);

    /* the named group's condition: nobody has l yet */
    DMG_EXPECT_OK(dmg_modify(ld, j, "add: dmgCondition\ndmgCondition: (l=Paris)\n"),
                  "adding a condition to the named group");
    ASSERT_MEMBERS(ld, o, "");
    ASSERT_MEMBERS(ld, o1, "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p1), "");
    ASSERT_MEMBERS(ld, i, "");
    ASSERT_MEMBERS(ld, j, "");

    /* a modify of a person that the condition at depth 2 tests */
    DMG_EXPECT_OK(dmg_modify(ld, p1, "add: l\nl: Paris\n"), "moving p1 to Paris");
    ASSERT_MEMBERS(ld, o, p1);
    ASSERT_MEMBERS(ld, o1, p1);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p1), all);
    ASSERT_MEMBERS(ld, i, p1);
    ASSERT_MEMBERS(ld, j, p1);
    DMG_EXPECT_OK(dmg_modify(ld, p1, "delete: l\n"), "p1 leaves Paris");
    ASSERT_MEMBERS(ld, o, "");
    ASSERT_MEMBERS(ld, o1, "");
    ASSERT_MEMBERS(ld, i, "");
    ASSERT_MEMBERS(ld, j, "");
    DMG_EXPECT_OK(dmg_modify(ld, p2, "add: l\nl: Paris\n"), "moving p2 to Paris");
    ASSERT_MEMBERS(ld, o, p2);
    ASSERT_MEMBERS(ld, o1, p2);
    ASSERT_MEMBERS(ld, i, p2);
    ASSERT_MEMBERS(ld, j, p2);

    /* the named group's department */
    p3 = add_person(ld, "revn-p3", d1);
    DMG_EXPECT_OK(dmg_modify(ld, p3, "add: l\nl: Paris\n"), "moving p3 to Paris");
    ASSERT_MEMBERS(ld, o, p2);
    DMG_EXPECT_OK(dmg_modify(ld, j, dmg_fmt("replace: dmgDepartment\ndmgDepartment: %s\n", d1)),
                  "moving the named group to another department");
    ASSERT_MEMBERS(ld, o, p3);
    ASSERT_MEMBERS(ld, o1, p3);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p2), "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p3), all);
    ASSERT_MEMBERS(ld, i, p3);
    ASSERT_MEMBERS(ld, j, p3);

    /* its rename: the overrides follow, the lists keep their members */
    DMG_EXPECT_OK(dmg_rename(ld, j, "cn=revn-j2", NULL, 1), "renaming the named group");
    j2 = group_dn("revn-j2");
    ASSERT_STORED(ld, i, "dmgIncludeMember", j2);
    ASSERT_MEMBERS(ld, o, p3);
    ASSERT_MEMBERS(ld, o1, p3);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p3),
                   dmg_fmt("%s\n%s\n%s\n%s", j2, i, o, o1));

    /* its delete */
    DMG_ASSERT_RC(dmg_delete(ld, j2), LDAP_SUCCESS);
    ASSERT_MEMBERS(ld, o, "");
    ASSERT_MEMBERS(ld, o1, "");
    ASSERT_MEMBERS(ld, i, "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", p3), "");
    dmg_disconnect(ld);
}
END_TEST

/* (member=U) in every position of a client filter answers as the computed member lists do:
 * U as typed (not normalized, spaces), unknown, under NOT and OR, a nested group, an exclude,
 * a hidden group and a static group, as the rootdn and as a requester who may not see the
 * hidden group; and after a rename of the groups' department */
START_TEST(test_rev_member_filters)
{
    LDAP *root = as_root();
    const char *d = add_ou(root, "RevF");
    const char *f1 = add_person(root, "revf-f1", d);
    const char *f2 = add_person(root, "revf-f2", d);
    const char *nobody = "uid=revf-nobody,ou=RevF," SUF;
    const char *a = add_group(root, "revf-a", dmg_fmt("dmgDepartment: %s\n", d));
    const char *b = add_group(root, "revf-b", dmg_fmt("dmgDepartment: %s\n"
                              "dmgExcludeMember: %s\n", d, f2));
    const char *h = add_group(root, "revf-h", dmg_fmt("dmgDepartment: %s\n"
                              "dmgShowInContacts: FALSE\n", d));
    const char *n = add_group(root, "revf-n", dmg_fmt("dmgIncludeMember: %s\n", a));
    const char *st = add_static(root, "revf-s", dmg_fmt("member: %s\nmember: %s\n", f2, nobody));
    LDAP *reader;

    ASSERT_MEMBERS(root, a, dmg_fmt("%s\n%s", f1, f2));
    ASSERT_MEMBERS(root, b, f1);
    ASSERT_MEMBERS(root, n, dmg_fmt("%s\n%s", f1, f2));
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", f1),
                   dmg_fmt("%s\n%s\n%s\n%s", a, b, h, n));
    DMG_ASSERT_DNS(root, SUF, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", f2),
                   dmg_fmt("%s\n%s\n%s\n%s", a, h, n, st));
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE,
                   "(member=UID=revf-f1, OU=RevF,DC=example, DC=com)",
                   dmg_fmt("%s\n%s\n%s\n%s", a, b, h, n));
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", nobody), st);
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE, "(member=uid=revf-nobody,ou=Nowhere," SUF ")",
                   "");
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(&(cn=revf-*)(!(member=%s)))", f2), b);
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(&(cn=revf-*)(!(member=%s)))", f1), st);
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(|(member=%s)(cn=revf-b))", f2),
                   dmg_fmt("%s\n%s\n%s\n%s\n%s", a, b, h, n, st));
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(&(|(member=%s)(member=%s))(!(cn=revf-a)))", f1, nobody),
                   dmg_fmt("%s\n%s\n%s\n%s", b, h, n, st));

    reader = as_reader();
    DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", f1),
                   dmg_fmt("%s\n%s\n%s", a, b, n));
    DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(&(cn=revf-*)(!(member=%s)))", f1), st);
    dmg_disconnect(reader);

    /* the department renamed: the groups' stored values name it by its old DN */
    DMG_EXPECT_OK(dmg_rename(root, d, "ou=RevF2", NULL, 1), "renaming the department");
    f1 = "uid=revf-f1,ou=RevF2," SUF;
    f2 = "uid=revf-f2,ou=RevF2," SUF;
    ASSERT_MEMBERS(root, a, dmg_fmt("%s\n%s", f1, f2));
    ASSERT_MEMBERS(root, n, dmg_fmt("%s\n%s", f1, f2));
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(member=%s)", f1),
                   dmg_fmt("%s\n%s\n%s\n%s", a, b, h, n));
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revf-*)(!(member=%s)))", f1),
                   st);
    dmg_disconnect(root);
}
END_TEST

/* A hidden group named at depth 2 stands for its members only for who has a role in it: the
 * reader's cached lists of the groups that name it, directly or through another, follow the
 * role given and taken back */
START_TEST(test_rev_nested_roles)
{
    LDAP *root = as_root();
    const char *d = add_ou(root, "RevH");
    const char *h1 = add_person(root, "revh-h1", d);
    const char *h = add_group(root, "revh-h", dmg_fmt("dmgDepartment: %s\n"
                              "dmgShowInContacts: FALSE\n", d));
    const char *i = add_group(root, "revh-i", dmg_fmt("dmgIncludeMember: %s\n", h));
    const char *o = add_group(root, "revh-o", dmg_fmt("dmgIncludeMember: %s\n", i));
    const char *filter = dmg_fmt("(&(cn=revh-*)(member=%s))", h1);
    LDAP *ld = as_reader();

    ASSERT_MEMBERS(root, o, h1);
    ASSERT_MEMBERS(ld, o, "");
    ASSERT_MEMBERS(ld, i, "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, "");

    DMG_EXPECT_OK(dmg_modify(root, h, "add: dmgAdministrator\ndmgAdministrator: " READER "\n"),
                  "the reader becomes an administrator of the hidden group");
    ASSERT_MEMBERS(ld, o, h1);
    ASSERT_MEMBERS(ld, i, h1);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, dmg_fmt("%s\n%s\n%s", h, i, o));
    DMG_ASSERT_RC(dmg_compare(ld, o, "member", h1), LDAP_COMPARE_TRUE);

    DMG_EXPECT_OK(dmg_modify(root, h, "delete: dmgAdministrator\ndmgAdministrator: " READER "\n"),
                  "the reader is no administrator any more");
    ASSERT_MEMBERS(ld, o, "");
    ASSERT_MEMBERS(ld, i, "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, "");
    DMG_ASSERT_RC(dmg_compare(ld, o, "member", h1), LDAP_COMPARE_FALSE);
    ASSERT_MEMBERS(root, o, h1);
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

/* A change of the member filter on cn=config reaches the cached lists of groups that name
 * groups (the filter is restored before the assertions, so that a failure leaves the server
 * as the other tests expect it) */
START_TEST(test_rev_nested_member_filter)
{
    const char *odn = "olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config";
    LDAP *cfg = dmg_connect_ldapi_external(srv);
    LDAP *ld = as_root();
    const char *d = add_ou(ld, "RevM");
    const char *m1 = add_person(ld, "revm-m1", d);
    const char *m2 = add_person(ld, "revm-m2", d);
    const char *j = add_group(ld, "revm-j", dmg_fmt("dmgDepartment: %s\n", d));
    const char *i = add_group(ld, "revm-i", dmg_fmt("dmgIncludeMember: %s\n", j));
    const char *o = add_group(ld, "revm-o", dmg_fmt("dmgIncludeMember: %s\n", i));
    const char *filter = dmg_fmt("(&(cn=revm-*)(member=%s))", m2);
    char *o_paris, *i_paris, *rev_paris;
    dmg_result set, back;

    DMG_EXPECT_OK(dmg_modify(ld, m1, "add: l\nl: Paris\n"), "m1 in Paris");
    ASSERT_MEMBERS(ld, o, dmg_fmt("%s\n%s", m1, m2));
    ASSERT_MEMBERS(ld, i, dmg_fmt("%s\n%s", m1, m2));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, dmg_fmt("%s\n%s\n%s", j, i, o));

    set = dmg_modify(cfg, odn, "replace: olcDynMailGroupMemberFilter\n"
                               "olcDynMailGroupMemberFilter: "
                               "(&(objectClass=inetOrgPerson)(l=Paris))\n");
    o_paris = dmg_values_joined(ld, o, LDAP_SCOPE_BASE, NULL, "member");
    i_paris = dmg_values_joined(ld, i, LDAP_SCOPE_BASE, NULL, "member");
    rev_paris = dmg_dns_joined(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter);
    back = dmg_modify(cfg, odn, "replace: olcDynMailGroupMemberFilter\n"
                                "olcDynMailGroupMemberFilter: (objectClass=inetOrgPerson)\n");
    DMG_EXPECT_OK(set, "the member filter for Paris");
    DMG_EXPECT_OK(back, "the member filter restored");
    DMG_ASSERT_STR(o_paris, m1);
    DMG_ASSERT_STR(i_paris, m1);
    DMG_ASSERT_STR(rev_paris, "");
    ASSERT_MEMBERS(ld, o, dmg_fmt("%s\n%s", m1, m2));
    free(o_paris);
    free(i_paris);
    free(rev_paris);
    dmg_disconnect(ld);
    dmg_disconnect(cfg);
}
END_TEST

/* The writer of test_rev_concurrent_writes, in a process of its own: renames a group to and
 * fro and deletes and adds another, rounds times; exits non-zero at the first failure */
static void rev_concurrent_writer(const char *g, const char *x, const char *dept, int rounds)
{
    LDAP *ld = as_root();
    const char *x_ldif = dmg_fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: revc-x\n"
                                 "mail: revc-x@lists.example.com\ndmgDepartment: %s\n", x, dept);

    for (int i = 0; i < rounds; i++) {
        if (dmg_rename(ld, g, "cn=revc-g2", NULL, 1).rc != LDAP_SUCCESS
            || dmg_rename(ld, group_dn("revc-g2"), "cn=revc-g", NULL, 1).rc != LDAP_SUCCESS
            || dmg_delete(ld, x).rc != LDAP_SUCCESS
            || dmg_add_ldif(ld, x_ldif).rc != LDAP_SUCCESS)
            _exit(1);
    }
    dmg_disconnect(ld);
    _exit(0);
}

/* (member=p) among the groups gs[0..n) equals the groups whose member lists have p, and
 * names exactly want (the caller's reading of the same) */
static void assert_rev_names(LDAP *ld, const char *p, const char *const *gs, int n,
                             const char *want)
{
    char expected[4096] = "";

    for (int i = 0; i < n; i++) {
        char *members = dmg_values_joined(ld, gs[i], LDAP_SCOPE_BASE, NULL, "member");

        if (strcasestr(members, p) != NULL)
            snprintf(expected + strlen(expected), sizeof expected - strlen(expected), "%s%s",
                     expected[0] ? "\n" : "", gs[i]);
        free(members);
    }
    DMG_ASSERT_STR(expected, want);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revw-*)(member=%s))", p), want);
}

/* Reverse lookups remember which entries groups include, to search the next level of nesting
 * only for those; each write that may add such a name is seen by the very next lookup: an
 * include added by a modify and by an add, a static group followed once included and its
 * members added, a static group in a static group, a rename; and an include taken away */
START_TEST(test_rev_names_follow_writes)
{
    LDAP *ld = as_root();
    const char *d = add_ou(ld, "RevW");
    const char *p = add_person(ld, "revw-p", d);
    const char *a = add_group(ld, "revw-a", dmg_fmt("dmgDepartment: %s\n", d));
    const char *b = add_group(ld, "revw-b", "dmgDepartment: " SALES "\n");
    const char *c = add_group(ld, "revw-c", "dmgDepartment: " SALES "\n");
    const char *a2 = group_dn("revw-a2");
    const char *n, *s, *t, *u, *e, *x;

    assert_rev_names(ld, p, (const char *[]){ a, b, c }, 3, a);
    DMG_EXPECT_OK(dmg_modify(ld, b, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", a)),
                  "b includes a");
    assert_rev_names(ld, p, (const char *[]){ a, b, c }, 3, dmg_fmt("%s\n%s", a, b));
    n = add_group(ld, "revw-n", dmg_fmt("dmgIncludeMember: %s\n", b));
    assert_rev_names(ld, p, (const char *[]){ a, b, c, n }, 4, dmg_fmt("%s\n%s\n%s", a, b, n));

    /* a static group leads to no dynamic group until an include names it */
    s = add_static(ld, "revw-s", dmg_fmt("member: %s\n", a));
    assert_rev_names(ld, p, (const char *[]){ a, b, c, n }, 4, dmg_fmt("%s\n%s\n%s", a, b, n));
    DMG_EXPECT_OK(dmg_modify(ld, c, dmg_fmt("add: dmgIncludeMember\ndmgIncludeMember: %s\n", s)),
                  "c includes the static group s");
    assert_rev_names(ld, p, (const char *[]){ a, b, c, n }, 4,
                     dmg_fmt("%s\n%s\n%s\n%s", a, b, c, n));

    /* e includes u, a static group whose member t is a static group without p; t's new
     * member x has p */
    t = add_static(ld, "revw-t", "member: " UMA "\n");
    u = add_static(ld, "revw-u", dmg_fmt("member: %s\n", t));
    e = add_group(ld, "revw-e", dmg_fmt("dmgIncludeMember: %s\n", u));
    x = add_group(ld, "revw-x", dmg_fmt("dmgDepartment: %s\n", d));
    const char *all[] = { a, b, c, n, e, x };
    assert_rev_names(ld, p, all, 6, dmg_fmt("%s\n%s\n%s\n%s\n%s", a, b, c, n, x));
    DMG_EXPECT_OK(dmg_modify(ld, t, dmg_fmt("add: member\nmember: %s\n", x)),
                  "x joins the static group t");
    assert_rev_names(ld, p, all, 6, dmg_fmt("%s\n%s\n%s\n%s\n%s\n%s", a, b, c, n, e, x));

    /* a rename: b's include follows, s's member (a static group's) does not */
    DMG_EXPECT_OK(dmg_rename(ld, a, "cn=revw-a2", NULL, 1), "renaming a");
    const char *renamed[] = { a2, b, c, n, e, x };
    assert_rev_names(ld, p, renamed, 6, dmg_fmt("%s\n%s\n%s\n%s\n%s", a2, b, n, e, x));

    /* an include taken away */
    DMG_EXPECT_OK(dmg_modify(ld, b, "delete: dmgIncludeMember\n"), "b includes nobody");
    assert_rev_names(ld, p, renamed, 6, dmg_fmt("%s\n%s\n%s", a2, e, x));
    dmg_disconnect(ld);
}
END_TEST

/* Reverse lookups keep their candidate groups by DN and look each up again: groups renamed
 * and deleted by another connection between the two neither crash the server nor make a
 * search fail or return an entry that does not have the member */
START_TEST(test_rev_concurrent_writes)
{
    LDAP *ld = as_root();
    const char *d = add_ou(ld, "RevC");
    const char *c1 = add_person(ld, "revc-c1", d);
    const char *g = add_group(ld, "revc-g", dmg_fmt("dmgDepartment: %s\n", d));
    const char *g2 = group_dn("revc-g2");
    const char *x = add_group(ld, "revc-x", dmg_fmt("dmgDepartment: %s\n", d));
    const char *n = add_group(ld, "revc-n", dmg_fmt("dmgIncludeMember: %s\n", g));
    const char *filter = dmg_fmt("(&(cn=revc-*)(member=%s))", c1);
    const char *const no_attrs[] = { LDAP_NO_ATTRS, NULL };
    int status, searches = 0, misses = 0;
    pid_t writer = fork();

    ck_assert_int_ge(writer, 0);
    if (writer == 0)
        rev_concurrent_writer(g, x, d, 40);
    while (waitpid(writer, &status, WNOHANG) == 0) {
        dmg_entries *out = NULL;
        dmg_result r = dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, no_attrs, NULL, &out);
        dmg_result cmp = dmg_compare(ld, n, "member", c1);
        int seen_g = 0;

        ck_assert_msg(r.rc == LDAP_SUCCESS, "search %s during renames: %d %s", filter, r.rc,
                      r.diag);
        for (size_t i = 0; i < out->count; i++) {
            const char *dn = out->entries[i].dn;
            ck_assert_msg(strcasecmp(dn, g) == 0 || strcasecmp(dn, g2) == 0
                              || strcasecmp(dn, x) == 0 || strcasecmp(dn, n) == 0,
                          "search %s returned %s", filter, dn);
            seen_g += strcasecmp(dn, g) == 0 || strcasecmp(dn, g2) == 0;
        }
        ck_assert_msg(seen_g <= 1, "search %s returned the renamed group twice", filter);
        misses += out->count < 3;
        dmg_entries_free(out);
        ck_assert_msg(cmp.rc == LDAP_COMPARE_TRUE || cmp.rc == LDAP_COMPARE_FALSE,
                      "compare member of %s during renames: %d %s", n, cmp.rc, cmp.diag);
        searches++;
    }
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer failed");
    fprintf(stderr, "rev_concurrent_writes: %d searches during the writes, %d with a group "
            "deleted or renamed away\n", searches, misses);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, filter, dmg_fmt("%s\n%s\n%s", g, x, n));
    ASSERT_MEMBERS(ld, n, c1);
    dmg_disconnect(ld);
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
    tcase_add_test(tc, test_unique_names);
    tcase_add_test(tc, test_diamonds);
    tcase_add_test(tc, test_cycles_refused);
    tcase_add_test(tc, test_cycle_hidden);
    tcase_add_test(tc, test_cycle_read);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_administrator_writes);
    tcase_add_test(tc, test_renames_and_deletes);
    tcase_add_test(tc, test_explanation_rows);
    tcase_add_test(tc, test_acl_limited_requester);
    tcase_add_test(tc, test_hidden_groups);
    tcase_add_test(tc, test_max_overrides_config);
    tcase_add_test(tc, test_preview_modify);
    tcase_add_test(tc, test_preview_add);
    tcase_add_test(tc, test_preview_errors);
    tcase_add_test(tc, test_preview_rights);
    tcase_add_test(tc, test_rev_nested_follow);
    tcase_add_test(tc, test_rev_member_filters);
    tcase_add_test(tc, test_rev_concurrent_writes);
    tcase_add_test(tc, test_rev_names_follow_writes);
    tcase_add_test(tc, test_rev_nested_roles);
    tcase_add_test(tc, test_rev_nested_member_filter);
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
