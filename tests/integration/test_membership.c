/*
 * test_membership.c -- computed membership of dynamicMailGroup entries against a real slapd
 * (man page MEMBERSHIP): forward expansion (member, dmgMemberMail, dmgMemberCount), which
 * attributes come back for which request, reverse filters and dmgMemberOf, compare,
 * read-your-writes, ACLs, ManageDsaIT, department renames and deletes, the write guard on
 * member, dynmailgroup-max-members, and a cross-check against OpenLDAP's own dynlist.
 *
 * Five servers, one after the other, each with its own suite (membership and acl run again
 * with the membership cache on):
 *   membership  default overlay configuration (tests/fixtures/org.ldif)
 *   acl         ACLs hiding ou=Finance and the title attribute from uid=reader
 *   limit       dynmailgroup-max-members 5
 *   dynlist     slapo-dynlist configured below dynmailgroup
 *   valsort     slapo-valsort configured above dynmailgroup (sorting member)
 * Each test adds its own groups (cn unique to the test) and, when it writes employees or
 * departments, its own department tree under a fresh OU, so tests run in any order.
 */
#define _GNU_SOURCE /* strcasestr */

#include "harness.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================
 * The fixture organisation (tests/fixtures/org.ldif)
 * ========================================================================================== */

#define SUF        "dc=example,dc=com"
#define GROUPS     "ou=Groups," SUF
#define ENG        "ou=Engineering," SUF
#define BACKEND    "ou=Backend," ENG
#define STORAGE    "ou=Storage," BACKEND
#define FRONTEND   "ou=Frontend," ENG
#define SALES      "ou=Sales," SUF
#define EMEA       "ou=EMEA," SALES
#define APAC       "ou=APAC," SALES
#define FINANCE    "ou=Finance," SUF
#define SUPPORT    "ou=Support," SUF
#define TIER1      "ou=Tier1," SUPPORT
#define TIER2      "ou=Tier2," SUPPORT
#define READER     "uid=reader,ou=System," SUF
#define POSTMASTER "uid=postmaster,ou=System," SUF

#define U(uid, ou) "uid=" uid "," ou "\n"

#define M_ENG_DIRECT \
    U("alice", ENG) U("bob", ENG) U("carol", ENG) U("dave", ENG) U("erin", ENG)
#define M_BACKEND_DIRECT \
    U("frank", BACKEND) U("grace", BACKEND) U("heidi", BACKEND) U("ivan", BACKEND) \
    U("judy", BACKEND) U("karl", BACKEND)
#define M_STORAGE U("leo", STORAGE) U("mallory", STORAGE) U("nina", STORAGE) U("oscar", STORAGE)
#define M_FRONTEND \
    U("peggy", FRONTEND) U("quentin", FRONTEND) U("rita", FRONTEND) U("sam", FRONTEND) \
    U("trent", FRONTEND)
#define M_ENG_ALL M_ENG_DIRECT M_BACKEND_DIRECT M_STORAGE M_FRONTEND /* 20 */

#define M_SALES_DIRECT U("uma", SALES) U("victor", SALES) U("wendy", SALES)
#define M_EMEA U("xavier", EMEA) U("yvonne", EMEA) U("zoe", EMEA) U("adam", EMEA) U("bella", EMEA)
#define M_APAC U("chen", APAC) U("daiki", APAC) U("emma", APAC) U("felix", APAC)
#define M_SALES_ALL M_SALES_DIRECT M_EMEA M_APAC /* 12 */

#define M_FINANCE \
    U("gina", FINANCE) U("hans", FINANCE) U("iris", FINANCE) U("jack", FINANCE) \
    U("kate", FINANCE) U("liam", FINANCE) /* 6 */

#define M_SUPPORT_DIRECT U("mia", SUPPORT) U("noah", SUPPORT) U("olivia", SUPPORT)
#define M_TIER1 U("paul", TIER1) U("rosa", TIER1) U("sven", TIER1) U("tara", TIER1) U("ulla", TIER1)
#define M_TIER2 U("vera", TIER2) U("walt", TIER2) U("yuki", TIER2) U("zack", TIER2)
#define M_SUPPORT_ALL M_SUPPORT_DIRECT M_TIER1 M_TIER2 /* 12; zack has no mail */

/* every mail value below ou=Engineering (22: alice and rita have two) */
#define MAIL_ENG_ALL \
    "alice@example.com\nalice.anderson@example.com\nbob@example.com\ncarol@example.com\n" \
    "dave@example.com\nerin@example.com\nfrank@example.com\ngrace@example.com\n" \
    "heidi@example.com\nivan@example.com\njudy@example.com\nkarl@example.com\n" \
    "leo@example.com\nmallory@example.com\nnina@example.com\noscar@example.com\n" \
    "peggy@example.com\nquentin@example.com\nrita@example.com\nRita.Rossi@Example.COM\n" \
    "sam@example.com\ntrent@example.com\n"

#define OVERLAY_CONFIG "dynmailgroup-postmaster " POSTMASTER "\n"

/* The server of the suite being run (set by dmg_run_suite before the tests fork). */
static dmg_server *srv;

/* ============================================================================================
 * Small helpers
 * ========================================================================================== */

/* the harness's ring of formatted strings */
#define fmt dmg_fmt

typedef struct text {
    char s[16384];
    size_t n;
} text;

static void put(text *t, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(t->s + t->n, sizeof t->s - t->n, f, ap);
    va_end(ap);
    ck_assert_msg(n >= 0 && (size_t)n < sizeof t->s - t->n, "text buffer too small");
    t->n += (size_t)n;
}

/* "attr: line" for every line of a "\n"-separated list (NULL or "" = none). */
static void put_lines(text *t, const char *attr, const char *lines)
{
    while (lines != NULL && *lines != '\0') {
        size_t len = strcspn(lines, "\n");
        if (len > 0)
            put(t, "%s: %.*s\n", attr, (int)len, lines);
        lines += len + (lines[len] == '\n');
    }
}

static const char *upper(const char *s)
{
    const char *copy = fmt("%s", s);
    for (char *p = (char *)copy; *p != '\0'; p++)
        *p = (char)toupper((unsigned char)*p);
    return copy;
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

#define expect_ok DMG_EXPECT_OK

/* Adds a dynamicMailGroup cn=CN,ou=Groups with mail CN@lists.example.com. depts and conds are
 * "\n"-separated lists; include_sub NULL leaves dmgIncludeSubDepartments absent. */
static const char *add_group(LDAP *ld, const char *cn, const char *depts, const char *include_sub,
                             const char *conds)
{
    text t = { .n = 0 };
    const char *dn = group_dn(cn);
    put(&t, "dn: %s\nobjectClass: dynamicMailGroup\ncn: %s\nmail: %s@lists.example.com\n", dn,
        cn, cn);
    put_lines(&t, "dmgDepartment", depts);
    if (include_sub != NULL)
        put(&t, "dmgIncludeSubDepartments: %s\n", include_sub);
    put_lines(&t, "dmgCondition", conds);
    expect_ok(dmg_add_ldif(ld, t.s), fmt("adding group %s", dn));
    return dn;
}

/* An organizationalUnit "ou=NAME,PARENT". */
static const char *add_ou(LDAP *ld, const char *name, const char *parent)
{
    const char *dn = fmt("ou=%s,%s", name, parent);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: organizationalUnit\nou: %s\n", dn, name)),
              fmt("adding %s", dn));
    return dn;
}

/* An inetOrgPerson "uid=UID,PARENT" with mail UID@staff.example.net. */
static const char *add_person(LDAP *ld, const char *uid, const char *parent, const char *title,
                              const char *l)
{
    const char *dn = fmt("uid=%s,%s", uid, parent);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\n"
                                   "title: %s\nl: %s\nmail: %s@staff.example.net\n",
                                   dn, uid, uid, uid, title, l, uid)),
              fmt("adding %s", dn));
    return dn;
}

/* Number of values of attr on the single entry a base search of dn returns; -1 when the
 * attribute is absent. */
static int nvalues(LDAP *ld, const char *dn, const char *const *attrs, LDAPControl **ctrls,
                   const char *attr)
{
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, ctrls, &e);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "base search of %s: %s (%d) \"%s\"", dn,
                  ldap_err2string(r.rc), r.rc, r.diag);
    ck_assert_msg(e->count == 1, "base search of %s: %zu entries", dn, e->count);
    const dmg_attr *a = dmg_entry_attr(&e->entries[0], attr);
    int n = a != NULL ? (int)a->nvalues : -1;
    dmg_entries_free(e);
    return n;
}

/* The entry dn still exists (read as stored). */
static int exists(LDAP *ld, const char *dn)
{
    const char *attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs,
                              DMG_CTRLS(dmg_ctrl_manage_dsait()), NULL);
    ck_assert_msg(r.rc == LDAP_SUCCESS || r.rc == LDAP_NO_SUCH_OBJECT,
                  "base search of %s: %s (%d)", dn, ldap_err2string(r.rc), r.rc);
    return r.rc == LDAP_SUCCESS;
}

#define ASSERT_MEMBERS(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "member", (expected))
#define ASSERT_MAILS(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "dmgMemberMail", (expected))
#define ASSERT_COUNT(ld, g, expected) \
    DMG_ASSERT_VALUES((ld), (g), LDAP_SCOPE_BASE, NULL, "dmgMemberCount", (expected))
#define ASSERT_ATTR_VALUES(ld, dn, attr, expected) \
    DMG_ASSERT_VALUES((ld), (dn), LDAP_SCOPE_BASE, NULL, (attr), (expected))

/* ============================================================================================
 * Forward: who is a member, what is returned
 * ========================================================================================== */

START_TEST(include_sub_default_gives_nested_departments)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-eng", ENG, NULL, NULL);
    ASSERT_MEMBERS(ld, g, M_ENG_ALL);
    ASSERT_COUNT(ld, g, "20");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(include_sub_true_explicit_same_as_default)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-eng-true", ENG, "TRUE", NULL);
    ASSERT_MEMBERS(ld, g, M_ENG_ALL);
    ASSERT_COUNT(ld, g, "20");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(member_mail_has_every_address_of_every_member)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-eng-mail", ENG, NULL, NULL);
    ASSERT_MAILS(ld, g, MAIL_ENG_ALL);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(member_without_mail_counts_but_adds_no_mail)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-tier2", TIER2, NULL, NULL);
    ASSERT_MEMBERS(ld, g, M_TIER2);
    ASSERT_COUNT(ld, g, "4");
    ASSERT_MAILS(ld, g, "vera@example.com\nwalt@example.com\nyuki@example.com\n");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(star_returns_member_but_not_operational)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-star", FINANCE, NULL, NULL);
    const char *star[] = { "*", NULL };
    /* attrs NULL (all user attributes) and "*" */
    ck_assert_int_eq(nvalues(ld, g, NULL, NULL, "member"), 6);
    ck_assert_int_eq(nvalues(ld, g, star, NULL, "member"), 6);
    ck_assert_int_eq(nvalues(ld, g, NULL, NULL, "dmgMemberMail"), -1);
    ck_assert_int_eq(nvalues(ld, g, NULL, NULL, "dmgMemberCount"), -1);
    ck_assert_int_eq(nvalues(ld, g, star, NULL, "dmgMemberMail"), -1);
    ck_assert_int_eq(nvalues(ld, g, star, NULL, "dmgMemberCount"), -1);
    ck_assert_int_eq(nvalues(ld, g, star, NULL, "cn"), 1);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(plus_returns_operational_but_not_member)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-plus", FINANCE, NULL, NULL);
    const char *plus[] = { "+", NULL };
    const char *both[] = { "*", "+", NULL };
    ck_assert_int_eq(nvalues(ld, g, plus, NULL, "dmgMemberMail"), 7);
    ck_assert_int_eq(nvalues(ld, g, plus, NULL, "dmgMemberCount"), 1);
    ck_assert_int_eq(nvalues(ld, g, plus, NULL, "member"), -1);
    ck_assert_int_eq(nvalues(ld, g, both, NULL, "member"), 6);
    ck_assert_int_eq(nvalues(ld, g, both, NULL, "dmgMemberMail"), 7);
    ck_assert_int_eq(nvalues(ld, g, both, NULL, "dmgMemberCount"), 1);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(computed_attributes_by_name)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-byname", FINANCE, NULL, NULL);
    ASSERT_MEMBERS(ld, g, M_FINANCE);
    ASSERT_COUNT(ld, g, "6");
    ASSERT_MAILS(ld, g, "gina@example.com\nhans@example.com\niris@example.com\njack@example.com\n"
                        "kate@example.com\nkate.klein@example.com\nliam@example.com\n");
    /* asked for together, nothing else */
    const char *three[] = { "member", "dmgMemberCount", "dmgMemberMail", NULL };
    ck_assert_int_eq(nvalues(ld, g, three, NULL, "member"), 6);
    ck_assert_int_eq(nvalues(ld, g, three, NULL, "dmgMemberCount"), 1);
    ck_assert_int_eq(nvalues(ld, g, three, NULL, "dmgMemberMail"), 7);
    ck_assert_int_eq(nvalues(ld, g, three, NULL, "cn"), -1);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(cn_mail_request_returns_no_member)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-cnmail", ENG, NULL, NULL);
    const char *attrs[] = { "cn", "mail", NULL };
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "member"), -1);
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "dmgMemberCount"), -1);
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "dmgMemberMail"), -1);
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "cn"), 1);
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "mail"), 1);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(non_inetorgperson_entries_are_not_members)
{
    LDAP *ld = as_root();
    /* cn=printer-finance (device), cn=build-server (applicationProcess),
     * cn=Olga Contractor (organizationalPerson) */
    const char *fin = add_group(ld, "fw-nonperson-fin", FINANCE, NULL, NULL);
    const char *back = add_group(ld, "fw-nonperson-back", BACKEND, "FALSE", NULL);
    const char *emea = add_group(ld, "fw-nonperson-emea", EMEA, NULL, "(title=Manager)");
    ASSERT_MEMBERS(ld, fin, M_FINANCE);
    ASSERT_MEMBERS(ld, back, M_BACKEND_DIRECT);
    ASSERT_MEMBERS(ld, emea, U("xavier", EMEA));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(multi_department_union_without_duplicates)
{
    LDAP *ld = as_root();
    /* Support and its own sub-department Tier1 both listed, plus Finance */
    const char *g = add_group(ld, "fw-union", FINANCE "\n" SUPPORT "\n" TIER1, NULL, NULL);
    ASSERT_MEMBERS(ld, g, M_FINANCE M_SUPPORT_ALL);
    ASSERT_COUNT(ld, g, "18");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(multi_department_union_member_mail_without_duplicates)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-union-mail", TIER1 "\n" SUPPORT, NULL, NULL);
    ASSERT_MAILS(ld, g, "mia@example.com\nnoah@example.com\nolivia@example.com\n"
                        "paul@example.com\nrosa@example.com\nsven@example.com\ntara@example.com\n"
                        "ulla@example.com\nvera@example.com\nwalt@example.com\nyuki@example.com\n");
    ASSERT_COUNT(ld, g, "12");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(multi_department_union_include_sub_false)
{
    LDAP *ld = as_root();
    /* Sales and its sub-department EMEA, direct employees only: APAC stays out */
    const char *g = add_group(ld, "fw-union-direct", SALES "\n" EMEA, "FALSE", NULL);
    ASSERT_MEMBERS(ld, g, M_SALES_DIRECT M_EMEA);
    ASSERT_COUNT(ld, g, "8");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(include_sub_false_gives_direct_employees_only)
{
    LDAP *ld = as_root();
    const char *eng = add_group(ld, "fw-direct-eng", ENG, "FALSE", NULL);
    const char *sup = add_group(ld, "fw-direct-sup", SUPPORT, "FALSE", NULL);
    ASSERT_MEMBERS(ld, eng, M_ENG_DIRECT);
    ASSERT_COUNT(ld, eng, "5");
    ASSERT_MEMBERS(ld, sup, M_SUPPORT_DIRECT);
    ASSERT_COUNT(ld, sup, "3");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(include_sub_false_below_a_non_department_container)
{
    LDAP *ld = as_root();
    /* an employee below a container that is not a department is still a direct employee */
    const char *top = add_ou(ld, "FwNest", SUF);
    const char *box = fmt("cn=box,%s", top);
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: applicationProcess\ncn: box\n", box)),
              "adding the container");
    const char *a = add_person(ld, "fwnest-a", top, "Engineer", "Berlin");
    const char *b = add_person(ld, "fwnest-b", box, "Engineer", "Berlin");
    const char *sub = add_ou(ld, "Sub", top);
    add_person(ld, "fwnest-c", sub, "Engineer", "Berlin");
    const char *g = add_group(ld, "fw-nest", top, "FALSE", NULL);
    ASSERT_MEMBERS(ld, g, fmt("%s\n%s", a, b));
    ASSERT_COUNT(ld, g, "2");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(one_condition)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-cond1", ENG, NULL, "(title=Engineer)");
    ASSERT_MEMBERS(ld, g, U("carol", ENG) U("dave", ENG) U("heidi", BACKEND) U("ivan", BACKEND)
                          U("karl", BACKEND) U("mallory", STORAGE) U("oscar", STORAGE)
                          U("quentin", FRONTEND) U("sam", FRONTEND) U("trent", FRONTEND));
    ASSERT_COUNT(ld, g, "10");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(two_conditions_are_anded)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-cond2", ENG, NULL, "(title=Engineer)\n(l=Berlin)");
    ASSERT_MEMBERS(ld, g, U("heidi", BACKEND) U("mallory", STORAGE));
    ASSERT_COUNT(ld, g, "2");
    ASSERT_MAILS(ld, g, "heidi@example.com\nmallory@example.com");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(condition_with_include_sub_false)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-cond-direct", ENG, "FALSE", "(|(l=Paris)(l=Tokyo))");
    ASSERT_MEMBERS(ld, g, U("carol", ENG) U("dave", ENG));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(empty_group_has_count_zero_and_no_member)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "fw-empty", FINANCE, NULL, "(title=Astronaut)");
    ASSERT_COUNT(ld, g, "0");
    ASSERT_MEMBERS(ld, g, "");
    ASSERT_MAILS(ld, g, "");
    ck_assert_int_eq(nvalues(ld, g, NULL, NULL, "member"), -1);
    const char *plus[] = { "*", "+", NULL };
    ck_assert_int_eq(nvalues(ld, g, plus, NULL, "member"), -1);
    ck_assert_int_eq(nvalues(ld, g, plus, NULL, "dmgMemberMail"), -1);
    ck_assert_int_eq(nvalues(ld, g, plus, NULL, "dmgMemberCount"), 1);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(empty_department_gives_empty_group)
{
    LDAP *ld = as_root();
    const char *ou = add_ou(ld, "FwEmpty", SUF);
    const char *g = add_group(ld, "fw-empty-ou", ou, NULL, NULL);
    ASSERT_COUNT(ld, g, "0");
    ASSERT_MEMBERS(ld, g, "");
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Read-your-writes
 * ========================================================================================== */

START_TEST(added_employee_is_member_at_once)
{
    LDAP *ld = as_root();
    const char *top = add_ou(ld, "RywAdd", SUF);
    const char *sub = add_ou(ld, "Sub", top);
    const char *g = add_group(ld, "ryw-add", top, NULL, NULL);
    ASSERT_COUNT(ld, g, "0");
    const char *p = add_person(ld, "rywadd-p", sub, "Engineer", "Berlin");
    ASSERT_MEMBERS(ld, g, p);
    ASSERT_COUNT(ld, g, "1");
    ASSERT_MAILS(ld, g, "rywadd-p@staff.example.net");
    ASSERT_ATTR_VALUES(ld, p, "dmgMemberOf", g);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(modified_employee_leaves_and_rejoins)
{
    LDAP *ld = as_root();
    const char *top = add_ou(ld, "RywMod", SUF);
    const char *g = add_group(ld, "ryw-mod", top, NULL, "(title=Engineer)");
    const char *p = add_person(ld, "rywmod-p", top, "Engineer", "Berlin");
    ASSERT_MEMBERS(ld, g, p);
    expect_ok(dmg_modify(ld, p, "replace: title\ntitle: Manager\n"), "title -> Manager");
    ASSERT_MEMBERS(ld, g, "");
    ASSERT_COUNT(ld, g, "0");
    ASSERT_ATTR_VALUES(ld, p, "dmgMemberOf", "");
    expect_ok(dmg_modify(ld, p, "replace: title\ntitle: Engineer\n"), "title -> Engineer");
    ASSERT_MEMBERS(ld, g, p);
    /* a new mail address shows at once too */
    expect_ok(dmg_modify(ld, p, "add: mail\nmail: rywmod-second@staff.example.net\n"), "add mail");
    ASSERT_MAILS(ld, g, "rywmod-p@staff.example.net\nrywmod-second@staff.example.net");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(moved_employee_changes_groups)
{
    LDAP *ld = as_root();
    const char *top = add_ou(ld, "RywMove", SUF);
    const char *a = add_ou(ld, "A", top);
    const char *b = add_ou(ld, "B", top);
    const char *ga = add_group(ld, "ryw-move-a", a, NULL, NULL);
    const char *gb = add_group(ld, "ryw-move-b", b, NULL, NULL);
    const char *gtop = add_group(ld, "ryw-move-top", top, "FALSE", NULL);
    const char *p = add_person(ld, "rywmove-p", a, "Engineer", "Berlin");
    ASSERT_MEMBERS(ld, ga, p);
    ASSERT_MEMBERS(ld, gb, "");
    expect_ok(dmg_rename(ld, p, "uid=rywmove-p", b, 1), "moving to B");
    const char *moved = fmt("uid=rywmove-p,%s", b);
    ASSERT_MEMBERS(ld, ga, "");
    ASSERT_MEMBERS(ld, gb, moved);
    ASSERT_COUNT(ld, ga, "0");
    ASSERT_COUNT(ld, gb, "1");
    ASSERT_ATTR_VALUES(ld, moved, "dmgMemberOf", gb);
    /* and up, directly below the top department */
    expect_ok(dmg_rename(ld, moved, "uid=rywmove-p", top, 1), "moving to the top");
    const char *up = fmt("uid=rywmove-p,%s", top);
    ASSERT_MEMBERS(ld, gb, "");
    ASSERT_MEMBERS(ld, gtop, up);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(renamed_employee_keeps_membership_with_new_dn)
{
    LDAP *ld = as_root();
    const char *top = add_ou(ld, "RywRen", SUF);
    const char *g = add_group(ld, "ryw-ren", top, NULL, NULL);
    const char *p = add_person(ld, "rywren-p", top, "Engineer", "Berlin");
    ASSERT_MEMBERS(ld, g, p);
    expect_ok(dmg_rename(ld, p, "uid=rywren-q", NULL, 1), "renaming");
    ASSERT_MEMBERS(ld, g, fmt("uid=rywren-q,%s", top));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(deleted_employee_is_gone)
{
    LDAP *ld = as_root();
    const char *top = add_ou(ld, "RywDel", SUF);
    const char *g = add_group(ld, "ryw-del", top, NULL, NULL);
    const char *p = add_person(ld, "rywdel-p", top, "Engineer", "Berlin");
    const char *q = add_person(ld, "rywdel-q", top, "Engineer", "Berlin");
    ASSERT_MEMBERS(ld, g, fmt("%s\n%s", p, q));
    expect_ok(dmg_delete(ld, p), "deleting");
    ASSERT_MEMBERS(ld, g, q);
    ASSERT_COUNT(ld, g, "1");
    ASSERT_MAILS(ld, g, "rywdel-q@staff.example.net");
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", p), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * ManageDsaIT
 * ========================================================================================== */

START_TEST(manage_dsait_returns_group_as_stored)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "mdsa-g", FINANCE, NULL, NULL);
    const char *attrs[] = { "*", "+", "member", "dmgMemberCount", "dmgMemberMail", NULL };
    LDAPControl **c = DMG_CTRLS(dmg_ctrl_manage_dsait());
    ck_assert_int_eq(nvalues(ld, g, attrs, c, "member"), -1);
    ck_assert_int_eq(nvalues(ld, g, attrs, c, "dmgMemberCount"), -1);
    ck_assert_int_eq(nvalues(ld, g, attrs, c, "dmgMemberMail"), -1);
    ck_assert_int_eq(nvalues(ld, g, attrs, c, "dmgDepartment"), 1);
    ck_assert_int_eq(nvalues(ld, g, attrs, c, "cn"), 1);
    /* without the control the same request computes */
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "member"), 6);
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "dmgMemberCount"), 1);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(manage_dsait_returns_employee_as_stored)
{
    LDAP *ld = as_root();
    const char *top = add_ou(ld, "MdsaEmp", SUF);
    const char *p = add_person(ld, "mdsaemp-p", top, "Engineer", "Berlin");
    const char *g = add_group(ld, "mdsa-emp", top, NULL, NULL);
    const char *attrs[] = { "*", "+", "dmgMemberOf", NULL };
    ck_assert_int_eq(nvalues(ld, p, attrs, DMG_CTRLS(dmg_ctrl_manage_dsait()), "dmgMemberOf"), -1);
    ASSERT_ATTR_VALUES(ld, p, "dmgMemberOf", g);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Compare
 * ========================================================================================== */

START_TEST(compare_member)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "cmp-eng", ENG, NULL, NULL);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=alice," ENG), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=leo," STORAGE), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "UID=Leo,OU=Storage,ou=backend," ENG),
                  LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=uma," SALES), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "cn=build-server," BACKEND), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=nobody," ENG), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(compare_member_include_sub_false)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "cmp-direct", ENG, "FALSE", NULL);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=alice," ENG), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=frank," BACKEND), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=leo," STORAGE), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(compare_member_with_condition)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "cmp-cond", ENG, NULL, "(title=Manager)");
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=frank," BACKEND), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", "uid=grace," BACKEND), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(compare_member_count)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "cmp-count", ENG, NULL, NULL);
    const char *e = add_group(ld, "cmp-count-empty", FINANCE, NULL, "(title=Astronaut)");
    DMG_ASSERT_RC(dmg_compare(ld, g, "dmgMemberCount", "20"), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "dmgMemberCount", "19"), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, e, "dmgMemberCount", "0"), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(compare_member_mail_and_member_of)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "cmp-mail", FRONTEND, NULL, NULL);
    DMG_ASSERT_RC(dmg_compare(ld, g, "dmgMemberMail", "RITA.ROSSI@example.com"), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, g, "dmgMemberMail", "alice@example.com"), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, "uid=rita," FRONTEND, "dmgMemberOf", g), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, "uid=alice," ENG, "dmgMemberOf", g), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Reverse filters and dmgMemberOf. rev_tree() builds a private department tree and groups:
 *
 *   ou=TAG           r1 (Manager)          TAG-all  ou=TAG              r1 r2 r3
 *   ou=Sub,ou=TAG    r2 (Engineer)         TAG-top  ou=TAG, FALSE       r1
 *                    r3 (Manager)          TAG-sub  ou=Sub              r2 r3
 *                                          TAG-mgr  ou=TAG, Manager     r1 r3
 *                                          TAG-fin  ou=Finance          -
 *                                          TAG-static groupOfNames, member r3
 * ========================================================================================== */

typedef struct rev_tree {
    const char *r1, *r2, *r3;
    const char *all, *top, *sub, *mgr, *fin, *stat;
} rev_tree;

static rev_tree make_rev_tree(LDAP *ld, const char *tag)
{
    rev_tree t;
    const char *top = add_ou(ld, tag, SUF);
    const char *sub = add_ou(ld, "Sub", top);
    t.r1 = add_person(ld, fmt("%s-r1", tag), top, "Manager", "Berlin");
    t.r2 = add_person(ld, fmt("%s-r2", tag), sub, "Engineer", "Berlin");
    t.r3 = add_person(ld, fmt("%s-r3", tag), sub, "Manager", "Paris");
    t.all = add_group(ld, fmt("%s-all", tag), top, NULL, NULL);
    t.top = add_group(ld, fmt("%s-top", tag), top, "FALSE", NULL);
    t.sub = add_group(ld, fmt("%s-sub", tag), sub, NULL, NULL);
    t.mgr = add_group(ld, fmt("%s-mgr", tag), top, NULL, "(title=Manager)");
    t.fin = add_group(ld, fmt("%s-fin", tag), FINANCE, NULL, NULL);
    t.stat = group_dn(fmt("%s-static", tag));
    expect_ok(dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: groupOfNames\ncn: %s-static\nmember: %s\n",
                                   t.stat, tag, t.r3)),
              "adding the static group");
    return t;
}

START_TEST(reverse_member_filter_gives_exactly_the_groups)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevMember");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(member=%s)", t.r3),
                   fmt("%s\n%s\n%s\n%s", t.all, t.sub, t.mgr, t.stat));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(member=%s)", t.r1),
                   fmt("%s\n%s\n%s", t.all, t.top, t.mgr));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(member=%s)", t.r2),
                   fmt("%s\n%s", t.all, t.sub));
    /* the DN in another case */
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(member=%s)", upper(t.r2)),
                   fmt("%s\n%s", t.all, t.sub));
    /* and combined with a stored attribute */
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE,
                   fmt("(&(objectClass=dynamicMailGroup)(member=%s))", t.r3),
                   fmt("%s\n%s\n%s", t.all, t.sub, t.mgr));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(reverse_member_filter_on_fixture_employee)
{
    LDAP *ld = as_root();
    const char *eng = add_group(ld, "rvf-eng", ENG, NULL, NULL);
    const char *back = add_group(ld, "rvf-back", BACKEND, "FALSE", NULL);
    add_group(ld, "rvf-sales", SALES, NULL, NULL);
    add_group(ld, "rvf-eng-direct", ENG, "FALSE", NULL);
    const char *mgr = add_group(ld, "rvf-eng-mgr", ENG, NULL, "(title=Manager)");
    add_group(ld, "rvf-eng-eng", ENG, NULL, "(title=Engineer)");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(&(cn=rvf-*)(member=uid=frank," BACKEND "))",
                   fmt("%s\n%s\n%s", eng, back, mgr));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(&(cn=rvf-*)(member=uid=nobody," BACKEND "))",
                   "");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(reverse_member_mail_filter_is_case_insensitive)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevMail");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   fmt("(dmgMemberMail=%s)", upper("RevMail-r3@staff.example.net")),
                   fmt("%s\n%s\n%s", t.all, t.sub, t.mgr));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   "(dmgMemberMail=nobody-at-all@staff.example.net)", "");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(reverse_member_mail_filter_second_address)
{
    LDAP *ld = as_root();
    const char *fe = add_group(ld, "rvm-frontend", FRONTEND, NULL, NULL);
    add_group(ld, "rvm-backend", BACKEND, NULL, NULL);
    const char *sen = add_group(ld, "rvm-senior", ENG, NULL, "(title=Senior Engineer)");
    add_group(ld, "rvm-eng-direct", ENG, "FALSE", NULL);
    /* rita's second address, stored as Rita.Rossi@Example.COM */
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=rvm-*)(dmgMemberMail=RITA.ROSSI@EXAMPLE.COM))", fmt("%s\n%s", fe, sen));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(reverse_member_of_filter_gives_exactly_the_members)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevOf");
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t.mgr),
                   fmt("%s\n%s", t.r1, t.r3));
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t.sub),
                   fmt("%s\n%s", t.r2, t.r3));
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t.top), t.r1);
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t.fin),
                   M_FINANCE);
    /* a static group is not a dynamic mail group */
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t.stat), "");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(reverse_member_of_filter_on_fixture_group)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "rvo-eng-mgr", ENG, NULL, "(title=Manager)");
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", g),
                   U("alice", ENG) U("frank", BACKEND) U("leo", STORAGE) U("peggy", FRONTEND));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(member_of_attribute_lists_exactly_the_groups)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevAttr");
    const char *groups_r3 = fmt("%s\n%s\n%s", t.all, t.sub, t.mgr);
    ASSERT_ATTR_VALUES(ld, t.r3, "dmgMemberOf", groups_r3);
    ASSERT_ATTR_VALUES(ld, t.r1, "dmgMemberOf", fmt("%s\n%s\n%s", t.all, t.top, t.mgr));
    ASSERT_ATTR_VALUES(ld, t.r2, "dmgMemberOf", fmt("%s\n%s", t.all, t.sub));
    /* with "+" */
    const char *plus[] = { "+", NULL };
    const char *star[] = { "*", NULL };
    ck_assert_int_eq(nvalues(ld, t.r3, plus, NULL, "dmgMemberOf"), 3);
    ck_assert_int_eq(nvalues(ld, t.r3, star, NULL, "dmgMemberOf"), -1);
    ck_assert_int_eq(nvalues(ld, t.r3, NULL, NULL, "dmgMemberOf"), -1);
    dmg_entries *e = NULL;
    expect_ok(dmg_search(ld, t.r3, LDAP_SCOPE_BASE, NULL, plus, NULL, &e), "base search with +");
    ck_assert_uint_eq(e->count, 1);
    const dmg_attr *a = dmg_entry_attr(&e->entries[0], "dmgMemberOf");
    ck_assert_ptr_nonnull(a);
    char joined[4096] = "";
    for (size_t i = 0; i < a->nvalues; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s\n", a->values[i]);
    char *got = dmg_sorted_lines(joined), *want = dmg_sorted_lines(groups_r3);
    DMG_ASSERT_STR(got, want);
    free(got);
    free(want);
    dmg_entries_free(e);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(not_member_filter_gives_the_complement)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevNot");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   fmt("(&(objectClass=dynamicMailGroup)(cn=RevNot-*)(!(member=%s)))", t.r3),
                   fmt("%s\n%s", t.top, t.fin));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   fmt("(&(cn=RevNot-*)(!(member=%s)))", t.r1),
                   fmt("%s\n%s\n%s", t.sub, t.fin, t.stat));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(static_group_of_names_still_matches_member_filter)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevStatic");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   fmt("(&(objectClass=groupOfNames)(member=%s))", t.r3), t.stat);
    /* the fixture's own static group */
    DMG_ASSERT_DNS(ld, "ou=System," SUF, LDAP_SCOPE_SUBTREE,
                   "(member=uid=pm2,ou=System," SUF ")", "cn=postmasters,ou=System," SUF);
    ASSERT_ATTR_VALUES(ld, t.stat, "member", t.r3);
    DMG_ASSERT_RC(dmg_compare(ld, t.stat, "member", t.r3), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, t.stat, "member", t.r1), LDAP_COMPARE_FALSE);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(or_of_member_and_stored_attribute)
{
    LDAP *ld = as_root();
    rev_tree t = make_rev_tree(ld, "RevOr");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   fmt("(&(cn=RevOr-*)(|(member=%s)(cn=RevOr-fin)))", t.r2),
                   fmt("%s\n%s\n%s", t.all, t.sub, t.fin));
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * dmgSender
 * ========================================================================================== */

START_TEST(sender_assertion_is_always_true)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "snd-g", FINANCE, NULL, NULL);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=snd-g)(dmgSender=anything@x.org))", g);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(mail=snd-g@lists.example.com)(dmgSender=))",
                   g);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=snd-g)(dmgSender=<>))", g);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=snd-g)(dmgSender=not an address))", g);
    /* members still come with it */
    DMG_ASSERT_VALUES(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=snd-g)(dmgSender=))", "member",
                      M_FINANCE);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Departments: rename, move, delete
 * ========================================================================================== */

/* The values of attr on dn compared as DNs would be: case-insensitively (the rewritten value
 * may legitimately differ from the expected one in case only; the exact form is checked by
 * its own tests below). */
#define ASSERT_DN_VALUES_CI(ld, dn, attr, expected) \
    do { char *got_ = lower_sorted(dmg_values_joined((ld), (dn), LDAP_SCOPE_BASE, NULL, (attr))); \
         char *exp_ = lower_sorted(dmg_sorted_lines(expected)); \
         DMG_ASSERT_STR(got_, exp_); free(got_); free(exp_); } while (0)

static char *lower_sorted(char *s)
{
    for (char *p = s; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
    char *sorted = dmg_sorted_lines(s);
    free(s);
    return sorted;
}

/* ou=TAG: ou=Frontend (employee a) > ou=Widgets (employee b); ou=Other (employee c).
 * Groups TAG-fe (Frontend), TAG-widgets (Widgets), TAG-mixed (Widgets, Other). */
typedef struct ren_tree {
    const char *top, *fe, *widgets, *other;
    const char *g_fe, *g_widgets, *g_mixed;
} ren_tree;

static ren_tree make_ren_tree(LDAP *ld, const char *tag)
{
    ren_tree t;
    t.top = add_ou(ld, tag, SUF);
    t.fe = add_ou(ld, "Frontend", t.top);
    t.widgets = add_ou(ld, "Widgets", t.fe);
    t.other = add_ou(ld, "Other", t.top);
    add_person(ld, fmt("%s-a", tag), t.fe, "Engineer", "Berlin");
    add_person(ld, fmt("%s-b", tag), t.widgets, "Engineer", "Paris");
    add_person(ld, fmt("%s-c", tag), t.other, "Engineer", "Paris");
    t.g_fe = add_group(ld, fmt("%s-fe", tag), t.fe, NULL, NULL);
    t.g_widgets = add_group(ld, fmt("%s-widgets", tag), t.widgets, NULL, NULL);
    t.g_mixed = add_group(ld, fmt("%s-mixed", tag), fmt("%s\n%s", t.widgets, t.other), NULL, NULL);
    return t;
}

START_TEST(department_rename_rewrites_group_departments)
{
    LDAP *ld = as_root();
    ren_tree t = make_ren_tree(ld, "Ren1");
    expect_ok(dmg_rename(ld, t.fe, "ou=Web", NULL, 1), "renaming ou=Frontend to ou=Web");
    const char *web = fmt("ou=Web,%s", t.top);
    const char *nw = fmt("ou=Widgets,%s", web);
    ck_assert(!exists(ld, t.fe));
    ck_assert(exists(ld, nw));
    /* members: the same people, under their new DNs */
    ASSERT_MEMBERS(ld, t.g_fe, fmt("uid=Ren1-a,%s\nuid=Ren1-b,%s", web, nw));
    ASSERT_MEMBERS(ld, t.g_widgets, fmt("uid=Ren1-b,%s", nw));
    ASSERT_MEMBERS(ld, t.g_mixed, fmt("uid=Ren1-b,%s\nuid=Ren1-c,%s", nw, t.other));
    /* the values name the new DNs; an unrelated value is untouched */
    ASSERT_DN_VALUES_CI(ld, t.g_fe, "dmgDepartment", web);
    ASSERT_DN_VALUES_CI(ld, t.g_widgets, "dmgDepartment", nw);
    ASSERT_DN_VALUES_CI(ld, t.g_mixed, "dmgDepartment", fmt("%s\n%s", nw, t.other));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(dmgDepartment=%s)", nw),
                   fmt("%s\n%s", t.g_widgets, t.g_mixed));
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, fmt("(dmgDepartment=%s)", t.fe), "");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(department_rename_value_is_the_new_dn_as_written)
{
    /* an administrator reading the group sees the department's new DN as the rename wrote
     * it (ou=Web), not a normalized (lower-cased) form of it */
    LDAP *ld = as_root();
    ren_tree t = make_ren_tree(ld, "Ren3");
    expect_ok(dmg_rename(ld, t.fe, "ou=Web", NULL, 1), "renaming ou=Frontend to ou=Web");
    const char *web = fmt("ou=Web,%s", t.top);
    ASSERT_ATTR_VALUES(ld, t.g_fe, "dmgDepartment", web);
    ASSERT_ATTR_VALUES(ld, t.g_widgets, "dmgDepartment", fmt("ou=Widgets,%s", web));
    ASSERT_ATTR_VALUES(ld, t.g_mixed, "dmgDepartment", fmt("ou=Widgets,%s\n%s", web, t.other));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(department_move_rewrites_group_departments)
{
    LDAP *ld = as_root();
    ren_tree t = make_ren_tree(ld, "Ren2");
    const char *dest = add_ou(ld, "Dest", t.top);
    add_person(ld, "Ren2-d", dest, "Engineer", "Berlin");
    const char *g_dest = add_group(ld, "Ren2-dest", dest, NULL, NULL);

    expect_ok(dmg_rename(ld, t.fe, "ou=Frontend", dest, 1), "moving ou=Frontend below ou=Dest");
    const char *nfe = fmt("ou=Frontend,%s", dest);
    const char *nw = fmt("ou=Widgets,%s", nfe);
    ck_assert(exists(ld, nw));
    ASSERT_MEMBERS(ld, t.g_fe, fmt("uid=Ren2-a,%s\nuid=Ren2-b,%s", nfe, nw));
    ASSERT_MEMBERS(ld, t.g_widgets, fmt("uid=Ren2-b,%s", nw));
    ASSERT_MEMBERS(ld, t.g_mixed, fmt("uid=Ren2-b,%s\nuid=Ren2-c,%s", nw, t.other));
    /* the new parent's group now includes the moved department */
    ASSERT_MEMBERS(ld, g_dest, fmt("uid=Ren2-d,%s\nuid=Ren2-a,%s\nuid=Ren2-b,%s", dest, nfe, nw));
    ASSERT_DN_VALUES_CI(ld, t.g_fe, "dmgDepartment", nfe);
    ASSERT_DN_VALUES_CI(ld, t.g_widgets, "dmgDepartment", nw);
    ASSERT_DN_VALUES_CI(ld, t.g_mixed, "dmgDepartment", fmt("%s\n%s", nw, t.other));
    ASSERT_ATTR_VALUES(ld, g_dest, "dmgDepartment", dest);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(department_move_value_is_the_new_dn_as_written)
{
    LDAP *ld = as_root();
    ren_tree t = make_ren_tree(ld, "Ren4");
    const char *dest = add_ou(ld, "Dest", t.top);
    expect_ok(dmg_rename(ld, t.fe, "ou=Frontend", dest, 1), "moving ou=Frontend below ou=Dest");
    const char *nfe = fmt("ou=Frontend,%s", dest);
    ASSERT_ATTR_VALUES(ld, t.g_fe, "dmgDepartment", nfe);
    ASSERT_ATTR_VALUES(ld, t.g_widgets, "dmgDepartment", fmt("ou=Widgets,%s", nfe));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(rename_of_an_employee_leaves_departments_alone)
{
    /* only entries that are (or contain) named departments trigger rewrites */
    LDAP *ld = as_root();
    ren_tree t = make_ren_tree(ld, "Ren5");
    const char *a = fmt("uid=Ren5-a,%s", t.fe);
    expect_ok(dmg_rename(ld, a, "uid=Ren5-z", NULL, 1), "renaming an employee");
    ASSERT_ATTR_VALUES(ld, t.g_fe, "dmgDepartment", t.fe);
    ASSERT_ATTR_VALUES(ld, t.g_mixed, "dmgDepartment", fmt("%s\n%s", t.widgets, t.other));
    ASSERT_MEMBERS(ld, t.g_fe, fmt("uid=Ren5-z,%s\nuid=Ren5-b,%s", t.fe, t.widgets));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(delete_of_named_department_is_refused)
{
    LDAP *ld = as_root();
    const char *ou = add_ou(ld, "DelLeaf", SUF); /* a leaf: the backend alone would delete it */
    const char *g = add_group(ld, "del-leaf", ou, NULL, NULL);
    dmg_result r = dmg_delete(ld, ou);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(dmg_contains_ci(r.diag, g), "diagnostic \"%s\" does not name %s", r.diag, g);
    ck_assert(exists(ld, ou));
    /* once no group names it, it goes */
    expect_ok(dmg_delete(ld, g), "deleting the group");
    expect_ok(dmg_delete(ld, ou), "deleting the department");
    ck_assert(!exists(ld, ou));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(delete_of_department_named_by_one_of_several_values)
{
    LDAP *ld = as_root();
    const char *a = add_ou(ld, "DelA", SUF);
    const char *b = add_ou(ld, "DelB", SUF);
    const char *g = add_group(ld, "del-two", fmt("%s\n%s", a, b), NULL, NULL);
    dmg_result r = dmg_delete(ld, b);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(dmg_contains_ci(r.diag, g), "diagnostic \"%s\" does not name %s", r.diag, g);
    ck_assert(exists(ld, b));
    dmg_disconnect(ld);
}
END_TEST

START_TEST(delete_of_unnamed_department_succeeds)
{
    LDAP *ld = as_root();
    const char *ou = add_ou(ld, "DelFree", SUF);
    expect_ok(dmg_delete(ld, ou), "deleting a department no group names");
    ck_assert(!exists(ld, ou));
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * member cannot be written on a dynamic group
 * ========================================================================================== */

START_TEST(add_with_member_is_refused)
{
    LDAP *ld = as_root();
    const char *g = group_dn("wr-add");
    dmg_result r = dmg_add_ldif(ld, fmt("dn: %s\nobjectClass: dynamicMailGroup\ncn: wr-add\n"
                                        "mail: wr-add@lists.example.com\ndmgDepartment: %s\n"
                                        "member: uid=alice,%s\n",
                                        g, FINANCE, ENG));
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert(!exists(ld, g));
    dmg_disconnect(ld);
}
END_TEST

/* stored attributes of g (ManageDsaIT, user and operational) as one sorted text */
static char *stored_state(LDAP *ld, const char *g)
{
    const char *attrs[] = { "*", "+", NULL };
    dmg_entries *e = NULL;
    expect_ok(dmg_search(ld, g, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(dmg_ctrl_manage_dsait()),
                         &e),
              "reading the stored group");
    ck_assert_uint_eq(e->count, 1);
    text t = { .n = 0 };
    for (size_t i = 0; i < e->entries[0].nattrs; i++) {
        const dmg_attr *a = &e->entries[0].attrs[i];
        for (size_t k = 0; k < a->nvalues; k++)
            put(&t, "%s: %s\n", a->name, a->values[k]);
    }
    dmg_entries_free(e);
    return dmg_sorted_lines(t.s);
}

START_TEST(modify_add_member_is_refused)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "wr-mod", FINANCE, NULL, NULL);
    char *before = stored_state(ld, g);
    DMG_ASSERT_RC(dmg_modify(ld, g, fmt("add: member\nmember: uid=alice,%s\n", ENG)),
                  LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_RC(dmg_modify(ld, g, fmt("replace: member\nmember: uid=gina,%s\n", FINANCE)),
                  LDAP_CONSTRAINT_VIOLATION);
    /* a legal change in the same request is not applied either */
    DMG_ASSERT_RC(dmg_modify(ld, g, fmt("replace: description\ndescription: changed\n-\n"
                                        "add: member\nmember: uid=alice,%s\n", ENG)),
                  LDAP_CONSTRAINT_VIOLATION);
    char *after = stored_state(ld, g);
    DMG_ASSERT_STR(after, before);
    free(before);
    free(after);
    ASSERT_MEMBERS(ld, g, M_FINANCE);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Suite 2: a reader whom ACLs hide ou=Finance and the title attribute from
 * ========================================================================================== */

#define ACL_CONFIG \
    "access to dn.subtree=\"ou=Finance,dc=example,dc=com\"\n" \
    "  by dn.exact=\"" READER "\" none\n" \
    "  by * read\n" \
    "access to dn.subtree=\"ou=APAC,ou=Sales,dc=example,dc=com\" attrs=mail\n" \
    "  by dn.exact=\"" READER "\" none\n" \
    "  by * read\n" \
    "access to attrs=title\n" \
    "  by dn.exact=\"" READER "\" none\n" \
    "  by * read\n" \
    "access to * by * read\n"

#define MAIL_SALES_NOT_APAC \
    "uma@example.com\numa.ueda@example.com\nvictor@example.com\nwendy@example.com\n" \
    "xavier@example.com\nyvonne@example.com\nzoe@example.org\nadam@example.com\n" \
    "bella@example.com\n"
#define MAIL_APAC "chen@example.com\ndaiki@example.com\nemma@example.com\nfelix@example.com\n"

/* -- forward -- */

START_TEST(acl_member_list_hides_invisible_entries)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "acl-union", FINANCE "\n" SALES, NULL, NULL);
    LDAP *ld = as_reader();
    ASSERT_MEMBERS(ld, g, M_SALES_ALL);
    ASSERT_COUNT(ld, g, "12");
    ASSERT_MEMBERS(root, g, M_FINANCE M_SALES_ALL);
    ASSERT_COUNT(root, g, "18");
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_member_mail_hides_protected_mail_values)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "acl-mail", FINANCE "\n" SALES, NULL, NULL);
    LDAP *ld = as_reader();
    ASSERT_MAILS(ld, g, MAIL_SALES_NOT_APAC);
    ASSERT_MAILS(root, g, MAIL_SALES_NOT_APAC MAIL_APAC
                          "gina@example.com\nhans@example.com\niris@example.com\n"
                          "jack@example.com\nkate@example.com\nkate.klein@example.com\n"
                          "liam@example.com\n");
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_condition_on_protected_attribute_does_not_match)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "acl-title", SALES, NULL, "(title=Manager)");
    LDAP *ld = as_reader();
    ASSERT_MEMBERS(ld, g, "");
    ASSERT_COUNT(ld, g, "0");
    ASSERT_MEMBERS(root, g, U("uma", SALES) U("xavier", EMEA) U("chen", APAC));
    ASSERT_COUNT(root, g, "3");
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_condition_on_readable_attribute_matches)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "acl-l", SALES, NULL, "(l=Paris)");
    LDAP *ld = as_reader();
    ASSERT_MEMBERS(ld, g, U("xavier", EMEA) U("zoe", EMEA) U("bella", EMEA));
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_negated_condition_on_protected_attribute_does_not_match)
{
    /* (!(title=Manager)) is Undefined, not TRUE, when title cannot be searched */
    LDAP *root = as_root();
    const char *g = add_group(root, "acl-nottitle", EMEA, NULL, "(!(title=Manager))");
    LDAP *ld = as_reader();
    ASSERT_MEMBERS(ld, g, "");
    ASSERT_MEMBERS(root, g, U("yvonne", EMEA) U("zoe", EMEA) U("adam", EMEA) U("bella", EMEA));
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

/* -- reverse: (member=DN), (dmgMemberMail=ADDR), (dmgMemberOf=G), dmgMemberOf -- */

START_TEST(acl_member_filter_hides_invisible_entry)
{
    LDAP *root = as_root();
    const char *u = add_group(root, "acl-rm-union", FINANCE "\n" SALES, NULL, NULL);
    const char *f = add_group(root, "acl-rm-fin", FINANCE, NULL, NULL);
    LDAP *ld = as_reader();
    /* gina (Finance) is in no group as far as the reader can tell */
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rm-*)(member=uid=gina," FINANCE "))", "");
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rm-*)(member=uid=gina," FINANCE "))", fmt("%s\n%s", u, f));
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_member_filter_condition_on_protected_attribute)
{
    LDAP *root = as_root();
    const char *u = add_group(root, "acl-rt-union", FINANCE "\n" SALES, NULL, NULL);
    const char *t = add_group(root, "acl-rt-title", SALES, NULL, "(title=Manager)");
    LDAP *ld = as_reader();
    /* uma is a Manager, which the reader cannot see */
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rt-*)(member=uid=uma," SALES "))", u);
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rt-*)(member=uid=uma," SALES "))", fmt("%s\n%s", u, t));
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_member_mail_filter_respects_acls)
{
    LDAP *root = as_root();
    const char *u = add_group(root, "acl-rmm-union", FINANCE "\n" SALES, NULL, NULL);
    LDAP *ld = as_reader();
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rmm-*)(dmgMemberMail=GINA@EXAMPLE.COM))", "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rmm-*)(dmgMemberMail=CHEN@EXAMPLE.COM))", "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rmm-*)(dmgMemberMail=UMA@EXAMPLE.COM))", u);
    DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=acl-rmm-*)(dmgMemberMail=GINA@EXAMPLE.COM))", u);
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_member_of_filter_respects_acls)
{
    LDAP *root = as_root();
    const char *u = add_group(root, "acl-rof-union", FINANCE "\n" SALES, NULL, NULL);
    const char *t = add_group(root, "acl-rof-title", SALES, NULL, "(title=Manager)");
    LDAP *ld = as_reader();
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", u), M_SALES_ALL);
    DMG_ASSERT_DNS(ld, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t), "");
    DMG_ASSERT_DNS(root, SUF, LDAP_SCOPE_SUBTREE, fmt("(dmgMemberOf=%s)", t),
                   U("uma", SALES) U("xavier", EMEA) U("chen", APAC));
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_member_of_attribute_respects_acls)
{
    /* a private department, so that no other test's group has the employee */
    LDAP *root = as_root();
    const char *ou = add_ou(root, "AclRoa", SUF);
    const char *p = add_person(root, "aclroa-p", ou, "Manager", "Berlin");
    const char *all = add_group(root, "acl-roa-all", ou, NULL, NULL);
    const char *mgr = add_group(root, "acl-roa-mgr", ou, NULL, "(title=Manager)");
    LDAP *ld = as_reader();
    ASSERT_ATTR_VALUES(ld, p, "dmgMemberOf", all);
    ASSERT_ATTR_VALUES(root, p, "dmgMemberOf", fmt("%s\n%s", all, mgr));
    DMG_ASSERT_RC(dmg_compare(ld, p, "dmgMemberOf", mgr), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(root, p, "dmgMemberOf", mgr), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

/* -- compare -- */

START_TEST(acl_compare_member_hides_invisible_entry)
{
    LDAP *root = as_root();
    const char *u = add_group(root, "acl-cmp-union", FINANCE "\n" SALES, NULL, NULL);
    LDAP *ld = as_reader();
    DMG_ASSERT_RC(dmg_compare(ld, u, "member", "uid=gina," FINANCE), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(root, u, "member", "uid=gina," FINANCE), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, u, "member", "uid=uma," SALES), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_compare_member_condition_on_protected_attribute)
{
    LDAP *root = as_root();
    const char *t = add_group(root, "acl-cmp-title", SALES, NULL, "(title=Manager)");
    LDAP *ld = as_reader();
    DMG_ASSERT_RC(dmg_compare(ld, t, "member", "uid=uma," SALES), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(root, t, "member", "uid=uma," SALES), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(acl_compare_member_count_and_mail)
{
    LDAP *root = as_root();
    const char *u = add_group(root, "acl-cmp-count", FINANCE "\n" SALES, NULL, NULL);
    LDAP *ld = as_reader();
    DMG_ASSERT_RC(dmg_compare(ld, u, "dmgMemberCount", "12"), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(root, u, "dmgMemberCount", "18"), LDAP_COMPARE_TRUE);
    DMG_ASSERT_RC(dmg_compare(ld, u, "dmgMemberMail", "chen@example.com"), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(ld, u, "dmgMemberMail", "gina@example.com"), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(root, u, "dmgMemberMail", "gina@example.com"), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

/* ============================================================================================
 * Suite 3: dynmailgroup-max-members 5
 * ========================================================================================== */

#define LIMIT_CONFIG OVERLAY_CONFIG "dynmailgroup-max-members 5\n"

static void assert_over_limit(LDAP *ld, const char *g, const char *attr)
{
    const char *attrs[] = { attr, NULL };
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, g, LDAP_SCOPE_BASE, NULL, attrs, NULL, &e);
    ck_assert_msg(r.rc == LDAP_ADMINLIMIT_EXCEEDED,
                  "reading %s of %s: got %s (%d) \"%s\", expected adminLimitExceeded (11)", attr, g,
                  ldap_err2string(r.rc), r.rc, r.diag);
    ck_assert_msg(dmg_contains_ci(r.diag, g), "diagnostic \"%s\" does not name %s", r.diag, g);
    for (size_t i = 0; i < e->count; i++) {
        ck_assert_msg(dmg_entry_attr(&e->entries[i], "member") == NULL,
                      "a partial member list came back with adminLimitExceeded");
        ck_assert_msg(dmg_entry_attr(&e->entries[i], "dmgMemberMail") == NULL,
                      "a partial dmgMemberMail came back with adminLimitExceeded");
        ck_assert_msg(dmg_entry_attr(&e->entries[i], "dmgMemberCount") == NULL,
                      "a dmgMemberCount came back with adminLimitExceeded");
    }
    dmg_entries_free(e);
}

START_TEST(limit_one_department_over_the_limit)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "lim-fin", FINANCE, NULL, NULL); /* 6 */
    const char *big = add_group(ld, "lim-eng", ENG, NULL, NULL);   /* 20 */
    assert_over_limit(ld, g, "member");
    assert_over_limit(ld, g, "dmgMemberCount");
    assert_over_limit(ld, g, "dmgMemberMail");
    assert_over_limit(ld, big, "member");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(limit_several_departments_over_the_limit)
{
    LDAP *ld = as_root();
    /* 3 + 3 direct employees: each search alone is under the limit, the union is not */
    const char *g = add_group(ld, "lim-two", SALES "\n" SUPPORT, "FALSE", NULL);
    assert_over_limit(ld, g, "member");
    assert_over_limit(ld, g, "dmgMemberCount");
    dmg_disconnect(ld);
}
END_TEST

START_TEST(limit_applies_to_other_identities_too)
{
    LDAP *root = as_root();
    const char *g = add_group(root, "lim-reader", FINANCE, NULL, NULL);
    LDAP *ld = as_reader();
    assert_over_limit(ld, g, "member");
    dmg_disconnect(ld);
    dmg_disconnect(root);
}
END_TEST

START_TEST(limit_at_or_under_the_limit_works)
{
    LDAP *ld = as_root();
    const char *five = add_group(ld, "lim-five", ENG, "FALSE", NULL);
    const char *acc = add_group(ld, "lim-acc", FINANCE, NULL, "(title=Accountant)");
    const char *three = add_group(ld, "lim-three", SUPPORT, "FALSE", NULL);
    ASSERT_MEMBERS(ld, five, M_ENG_DIRECT);
    ASSERT_COUNT(ld, five, "5");
    ASSERT_MEMBERS(ld, acc, U("hans", FINANCE) U("iris", FINANCE) U("jack", FINANCE)
                            U("kate", FINANCE) U("liam", FINANCE));
    ASSERT_MEMBERS(ld, three, M_SUPPORT_DIRECT);
    dmg_disconnect(ld);
}
END_TEST

START_TEST(limit_not_hit_when_members_not_requested)
{
    LDAP *ld = as_root();
    const char *g = add_group(ld, "lim-cn", ENG, NULL, NULL);
    const char *attrs[] = { "cn", "mail", NULL };
    ck_assert_int_eq(nvalues(ld, g, attrs, NULL, "cn"), 1);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Suite 4: cross-check with slapo-dynlist (configured below dynmailgroup)
 * ========================================================================================== */

#define DYNLIST_BEFORE "overlay dynlist\ndynlist-attrset groupOfURLs memberURL member\n"

/* Adds a groupOfURLs with one memberURL per department: ldap:///DEPT??sub?(&(oc)COND) */
static const char *add_url_group(LDAP *ld, const char *cn, const char *depts, const char *cond)
{
    text t = { .n = 0 };
    const char *dn = group_dn(cn);
    put(&t, "dn: %s\nobjectClass: groupOfURLs\ncn: %s\n", dn, cn);
    while (depts != NULL && *depts != '\0') {
        size_t len = strcspn(depts, "\n");
        put(&t, "memberURL: ldap:///%.*s??sub?(&(objectClass=inetOrgPerson)%s)\n", (int)len, depts,
            cond != NULL ? cond : "");
        depts += len + (depts[len] == '\n');
    }
    expect_ok(dmg_add_ldif(ld, t.s), fmt("adding %s", dn));
    return dn;
}

static void assert_same_as_dynlist(const char *tag, const char *depts, const char *conds,
                                   const char *url_cond, const char *expected)
{
    LDAP *ld = as_root();
    const char *dmg = add_group(ld, fmt("%s-dmg", tag), depts, NULL, conds);
    const char *dyn = add_url_group(ld, fmt("%s-dynlist", tag), depts, url_cond);
    char *a = dmg_values_joined(ld, dmg, LDAP_SCOPE_BASE, NULL, "member");
    char *b = dmg_values_joined(ld, dyn, LDAP_SCOPE_BASE, NULL, "member");
    ck_assert_msg(*b != '\0', "dynlist returned no members for %s", dyn);
    DMG_ASSERT_STR(a, b);
    char *want = dmg_sorted_lines(expected);
    DMG_ASSERT_STR(a, want);
    free(want);
    free(a);
    free(b);
    dmg_disconnect(ld);
}

START_TEST(dynlist_one_department)
{
    assert_same_as_dynlist("dl-one", ENG, NULL, NULL, M_ENG_ALL);
}
END_TEST

START_TEST(dynlist_two_departments)
{
    assert_same_as_dynlist("dl-two", FINANCE "\n" SUPPORT, NULL, NULL, M_FINANCE M_SUPPORT_ALL);
}
END_TEST

START_TEST(dynlist_department_and_its_sub_department)
{
    assert_same_as_dynlist("dl-nested", SALES "\n" EMEA, NULL, NULL, M_SALES_ALL);
}
END_TEST

START_TEST(dynlist_with_conditions)
{
    assert_same_as_dynlist("dl-cond", SUPPORT, "(title=Support Agent)\n(l=Berlin)",
                           "(title=Support%20Agent)(l=Berlin)",
                           U("noah", SUPPORT) U("rosa", TIER1) U("walt", TIER2));
}
END_TEST

START_TEST(dynlist_with_or_condition)
{
    assert_same_as_dynlist("dl-or", ENG "\n" SALES, "(|(l=Tokyo)(title=Manager))",
                           "(|(l=Tokyo)(title=Manager))",
                           U("alice", ENG) U("dave", ENG) U("frank", BACKEND) U("ivan", BACKEND)
                           U("leo", STORAGE) U("nina", STORAGE) U("peggy", FRONTEND)
                           U("sam", FRONTEND) U("uma", SALES) U("xavier", EMEA) U("chen", APAC)
                           U("daiki", APAC) U("felix", APAC));
}
END_TEST

START_TEST(dynlist_does_not_disturb_dynamic_mail_groups)
{
    /* with dynlist in the stack, the dynamic group's stored entry and reverse filters are
     * unchanged */
    LDAP *ld = as_root();
    const char *g = add_group(ld, "dl-rev", FINANCE, NULL, NULL);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(&(cn=dl-rev)(member=uid=gina," FINANCE "))",
                   g);
    const char *attrs[] = { "*", "+", NULL };
    ck_assert_int_eq(nvalues(ld, g, attrs, DMG_CTRLS(dmg_ctrl_manage_dsait()), "member"), -1);
    ASSERT_COUNT(ld, g, "6");
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Suites and main
 * ========================================================================================== */

/* ============================================================================================
 * Suite 5: slapo-valsort configured above dynmailgroup sorts the members the overlay sends:
 * it takes its own copy of each entry (the overlay's copy shares the values of the backend's
 * entry and of the cached list), and the entries it does not sort go out as the overlay's
 * copy.  Read twice (computed, then cached), as the rootdn and as an ordinary user.
 * ========================================================================================== */

#define VALSORT_ABOVE "overlay valsort\nvalsort-attr member " GROUPS " alpha-descend\n"

/* The values of attr of dn, all user attributes read, are expected[0..n) in that order */
static void assert_values_in_order(LDAP *ld, const char *dn, const char *attr,
                                   const char *const *expected, size_t n)
{
    const char *attrs[] = { "*", NULL };
    dmg_entries *e = NULL;
    expect_ok(dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, &e), fmt("reading %s", dn));
    ck_assert_msg(e->count == 1, "reading %s: %zu entries", dn, e->count);
    const dmg_attr *a = dmg_entry_attr(&e->entries[0], attr);
    ck_assert_msg(a != NULL && a->nvalues == n, "%s of %s: %zu values, expected %zu", attr, dn,
                  a != NULL ? a->nvalues : 0, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strcasecmp(a->values[i], expected[i]) == 0,
                      "%s of %s, value %zu: \"%s\", expected \"%s\"", attr, dn, i, a->values[i],
                      expected[i]);
    dmg_entries_free(e);
}

START_TEST(valsort_above_sorts_the_computed_members)
{
    static const char *const members[] = { "uid=trent," FRONTEND, "uid=sam," FRONTEND,
                                           "uid=rita," FRONTEND, "uid=quentin," FRONTEND,
                                           "uid=peggy," FRONTEND };
    static const char *const department[] = { FRONTEND };
    static const char *const sn[] = { "Park" };
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    const char *g = add_group(root, "vs-frontend", FRONTEND, NULL, NULL);
    LDAP *reader = dmg_connect_as(srv, READER);
    for (int i = 0; i < 2; i++) {
        assert_values_in_order(root, g, "member", members, 5);
        assert_values_in_order(reader, g, "member", members, 5);
        assert_values_in_order(reader, g, "dmgDepartment", department, 1);
        DMG_ASSERT_VALUES(reader, g, LDAP_SCOPE_BASE, NULL, "mail",
                          "vs-frontend@lists.example.com");
        ASSERT_MAILS(reader, g, "peggy@example.com\nquentin@example.com\nrita@example.com\n"
                                "Rita.Rossi@Example.COM\nsam@example.com\ntrent@example.com");
        DMG_ASSERT_VALUES(reader, "uid=peggy," FRONTEND, LDAP_SCOPE_BASE, NULL, "dmgMemberOf", g);
        assert_values_in_order(reader, "uid=peggy," FRONTEND, "sn", sn, 1);
    }
    dmg_disconnect(reader);
    dmg_disconnect(root);
}
END_TEST

static Suite *valsort_suite(void)
{
    Suite *s = suite_create("valsort");
    TCase *tc = dmg_tcase("above");
    tcase_add_test(tc, valsort_above_sorts_the_computed_members);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *membership_suite(void)
{
    Suite *s = suite_create("membership");
    TCase *tc;

    tc = dmg_tcase("forward");
    tcase_add_test(tc, include_sub_default_gives_nested_departments);
    tcase_add_test(tc, include_sub_true_explicit_same_as_default);
    tcase_add_test(tc, member_mail_has_every_address_of_every_member);
    tcase_add_test(tc, member_without_mail_counts_but_adds_no_mail);
    tcase_add_test(tc, non_inetorgperson_entries_are_not_members);
    tcase_add_test(tc, multi_department_union_without_duplicates);
    tcase_add_test(tc, multi_department_union_member_mail_without_duplicates);
    tcase_add_test(tc, multi_department_union_include_sub_false);
    tcase_add_test(tc, include_sub_false_gives_direct_employees_only);
    tcase_add_test(tc, include_sub_false_below_a_non_department_container);
    tcase_add_test(tc, one_condition);
    tcase_add_test(tc, two_conditions_are_anded);
    tcase_add_test(tc, condition_with_include_sub_false);
    tcase_add_test(tc, empty_group_has_count_zero_and_no_member);
    tcase_add_test(tc, empty_department_gives_empty_group);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("attributes returned");
    tcase_add_test(tc, star_returns_member_but_not_operational);
    tcase_add_test(tc, plus_returns_operational_but_not_member);
    tcase_add_test(tc, computed_attributes_by_name);
    tcase_add_test(tc, cn_mail_request_returns_no_member);
    tcase_add_test(tc, manage_dsait_returns_group_as_stored);
    tcase_add_test(tc, manage_dsait_returns_employee_as_stored);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("read your writes");
    tcase_add_test(tc, added_employee_is_member_at_once);
    tcase_add_test(tc, modified_employee_leaves_and_rejoins);
    tcase_add_test(tc, moved_employee_changes_groups);
    tcase_add_test(tc, renamed_employee_keeps_membership_with_new_dn);
    tcase_add_test(tc, deleted_employee_is_gone);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("compare");
    tcase_add_test(tc, compare_member);
    tcase_add_test(tc, compare_member_include_sub_false);
    tcase_add_test(tc, compare_member_with_condition);
    tcase_add_test(tc, compare_member_count);
    tcase_add_test(tc, compare_member_mail_and_member_of);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("reverse");
    tcase_add_test(tc, reverse_member_filter_gives_exactly_the_groups);
    tcase_add_test(tc, reverse_member_filter_on_fixture_employee);
    tcase_add_test(tc, reverse_member_mail_filter_is_case_insensitive);
    tcase_add_test(tc, reverse_member_mail_filter_second_address);
    tcase_add_test(tc, reverse_member_of_filter_gives_exactly_the_members);
    tcase_add_test(tc, reverse_member_of_filter_on_fixture_group);
    tcase_add_test(tc, member_of_attribute_lists_exactly_the_groups);
    tcase_add_test(tc, not_member_filter_gives_the_complement);
    tcase_add_test(tc, static_group_of_names_still_matches_member_filter);
    tcase_add_test(tc, or_of_member_and_stored_attribute);
    tcase_add_test(tc, sender_assertion_is_always_true);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("departments");
    tcase_add_test(tc, department_rename_rewrites_group_departments);
    tcase_add_test(tc, department_rename_value_is_the_new_dn_as_written);
    tcase_add_test(tc, department_move_rewrites_group_departments);
    tcase_add_test(tc, department_move_value_is_the_new_dn_as_written);
    tcase_add_test(tc, rename_of_an_employee_leaves_departments_alone);
    tcase_add_test(tc, delete_of_named_department_is_refused);
    tcase_add_test(tc, delete_of_department_named_by_one_of_several_values);
    tcase_add_test(tc, delete_of_unnamed_department_succeeds);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("member is not writable");
    tcase_add_test(tc, add_with_member_is_refused);
    tcase_add_test(tc, modify_add_member_is_refused);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = dmg_tcase("reader");
    tcase_add_test(tc, acl_member_list_hides_invisible_entries);
    tcase_add_test(tc, acl_member_mail_hides_protected_mail_values);
    tcase_add_test(tc, acl_condition_on_protected_attribute_does_not_match);
    tcase_add_test(tc, acl_condition_on_readable_attribute_matches);
    tcase_add_test(tc, acl_negated_condition_on_protected_attribute_does_not_match);
    tcase_add_test(tc, acl_member_filter_hides_invisible_entry);
    tcase_add_test(tc, acl_member_filter_condition_on_protected_attribute);
    tcase_add_test(tc, acl_member_mail_filter_respects_acls);
    tcase_add_test(tc, acl_member_of_filter_respects_acls);
    tcase_add_test(tc, acl_member_of_attribute_respects_acls);
    tcase_add_test(tc, acl_compare_member_hides_invisible_entry);
    tcase_add_test(tc, acl_compare_member_condition_on_protected_attribute);
    tcase_add_test(tc, acl_compare_member_count_and_mail);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *limit_suite(void)
{
    Suite *s = suite_create("max-members");
    TCase *tc = dmg_tcase("limit");
    tcase_add_test(tc, limit_one_department_over_the_limit);
    tcase_add_test(tc, limit_several_departments_over_the_limit);
    tcase_add_test(tc, limit_applies_to_other_identities_too);
    tcase_add_test(tc, limit_at_or_under_the_limit_works);
    tcase_add_test(tc, limit_not_hit_when_members_not_requested);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *dynlist_suite(void)
{
    Suite *s = suite_create("dynlist");
    TCase *tc = dmg_tcase("cross-check");
    tcase_add_test(tc, dynlist_one_department);
    tcase_add_test(tc, dynlist_two_departments);
    tcase_add_test(tc, dynlist_department_and_its_sub_department);
    tcase_add_test(tc, dynlist_with_conditions);
    tcase_add_test(tc, dynlist_with_or_condition);
    tcase_add_test(tc, dynlist_does_not_disturb_dynamic_mail_groups);
    suite_add_tcase(s, tc);
    return s;
}

#define CACHE_CONFIG "dynmailgroup-cache-max-values 1000000\n"
/* the cache is on by default: the first runs compute every list */
#define NO_CACHE_CONFIG "dynmailgroup-cache-max-values 0\n"

int main(void)
{
    int failed = 0;

    dmg_server_opts plain = { .overlay_config = OVERLAY_CONFIG NO_CACHE_CONFIG };
    failed |= dmg_run_suite(membership_suite(), &plain, &srv) != EXIT_SUCCESS;

    dmg_server_opts acl = { .overlay_config = OVERLAY_CONFIG NO_CACHE_CONFIG,
                            .db_config = ACL_CONFIG };
    failed |= dmg_run_suite(acl_suite(), &acl, &srv) != EXIT_SUCCESS;

    dmg_server_opts limit = { .overlay_config = LIMIT_CONFIG };
    failed |= dmg_run_suite(limit_suite(), &limit, &srv) != EXIT_SUCCESS;

    dmg_server_opts dynlist = { .modules = "dynlist", .overlays_before = DYNLIST_BEFORE,
                                .overlay_config = OVERLAY_CONFIG };
    failed |= dmg_run_suite(dynlist_suite(), &dynlist, &srv) != EXIT_SUCCESS;

    /* The same expectations with the membership cache on: read-your-writes after every kind
     * of write, and a reader's ACLs, hold whether or not lists are cached. */
    dmg_server_opts cached = { .overlay_config = OVERLAY_CONFIG CACHE_CONFIG };
    failed |= dmg_run_suite(membership_suite(), &cached, &srv) != EXIT_SUCCESS;

    dmg_server_opts acl_cached = { .overlay_config = OVERLAY_CONFIG CACHE_CONFIG,
                                   .db_config = ACL_CONFIG };
    failed |= dmg_run_suite(acl_suite(), &acl_cached, &srv) != EXIT_SUCCESS;

    dmg_server_opts valsort = { .modules = "valsort",
                                .overlay_config = OVERLAY_CONFIG CACHE_CONFIG VALSORT_ABOVE };
    failed |= dmg_run_suite(valsort_suite(), &valsort, &srv) != EXIT_SUCCESS;

    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
