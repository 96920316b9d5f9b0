/*
 * test_references.c -- entries that groups name, against a real slapd (man page REFERENCES,
 * ACCESS CONTROL and dynmailgroup-cache-max-values):
 *
 *  - "rename", "delete": renames and moves of administrators, auditors and applicants are
 *    followed; deleting the only auditor of an audited group is refused (naming the group only
 *    to those who may see it); deleting an administrator or another auditor removes the value,
 *    so that a new entry with the same DN inherits no role and no sight of a hidden group.
 *  - "enrolment": a dmgCondition that tests an attribute employees may write on their own
 *    entry is refused (self-enrolment guard), except for the rootdn with Relax Rules.
 *
 * Both are test cases of one suite, on one server whose ACLs make title (and employeeType:
 * Lead) self-writable, give HR (uid=reader, an ordinary account) write access to
 * departmentNumber everywhere and to every entry of ou=Engineering, and give everybody else
 * read.  Each test adds its own entries and
 * groups (unique names), so tests may run in any order against the shared server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "harness.h"

#define GROUPS      "ou=Groups," DMG_SUFFIX
#define ENGINEERING "ou=Engineering," DMG_SUFFIX
#define SALES       "ou=Sales," DMG_SUFFIX
#define SUPPORT     "ou=Support," DMG_SUFFIX
#define FINANCE     "ou=Finance," DMG_SUFFIX
#define POSTMASTER  "uid=postmaster,ou=System," DMG_SUFFIX
#define MTA         "uid=mta,ou=System," DMG_SUFFIX
#define HR          "uid=reader,ou=System," DMG_SUFFIX /* plays HR, see the ACLs in main */
#define CAROL       "uid=carol,ou=Engineering," DMG_SUFFIX
#define MIA         "uid=mia,ou=Support," DMG_SUFFIX  /* first employee of Support */
#define GINA        "uid=gina,ou=Finance," DMG_SUFFIX

static dmg_server *srv;

/* ---- helpers ------------------------------------------------------------------------------- */

static LDAP *bind_as(const char *dn)
{
    if (dn == NULL)
        return dmg_connect(srv, NULL, NULL);
    return dmg_connect(srv, dn, strcmp(dn, DMG_ROOTDN) == 0 ? DMG_ROOTPW : DMG_PASSWORD);
}

/* Adds group cn (mail cn@example.com; department Engineering unless extra names one). */
static dmg_result add_group_ext(LDAP *ld, const char *cn, const char *extra, LDAPControl **ctrls)
{
    char ldif[4096];
    snprintf(ldif, sizeof ldif,
             "dn: cn=%s," GROUPS "\n"
             "objectClass: dynamicMailGroup\n"
             "cn: %s\n"
             "mail: %s@example.com\n"
             "%s%s",
             cn, cn, cn,
             (extra != NULL && strstr(extra, "dmgDepartment:") != NULL)
                 ? "" : "dmgDepartment: " ENGINEERING "\n",
             extra != NULL ? extra : "");
    return dmg_add_ldif_ext(ld, ldif, ctrls);
}

/* As the rootdn with Relax Rules (so that dmgApplicant may be given); must succeed. */
static void root_add_group(const char *cn, const char *extra)
{
    LDAP *ld = bind_as(DMG_ROOTDN);
    dmg_result r = add_group_ext(ld, cn, extra, DMG_CTRLS(dmg_ctrl_relax()));
    ck_assert_msg(r.rc == LDAP_SUCCESS, "rootdn could not add group %s: %s (%d) \"%s\"", cn,
                  ldap_err2string(r.rc), r.rc, r.diag);
    dmg_disconnect(ld);
}

/* A person (inetOrgPerson, password "secret") added by the rootdn; must succeed. */
static void root_add_person(const char *uid, const char *parent)
{
    char ldif[1024];
    snprintf(ldif, sizeof ldif,
             "dn: uid=%s,%s\n"
             "objectClass: inetOrgPerson\n"
             "uid: %s\ncn: %s\nsn: %s\n"
             "userPassword: " DMG_PASSWORD "\n",
             uid, parent, uid, uid, uid);
    LDAP *ld = bind_as(DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
    dmg_disconnect(ld);
}

static void root_add_ou(const char *ou, const char *parent)
{
    char ldif[512];
    snprintf(ldif, sizeof ldif, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n", ou,
             parent, ou);
    LDAP *ld = bind_as(DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
    dmg_disconnect(ld);
}

/* 1 when dn exists (for the rootdn, who sees hidden groups), 0 when noSuchObject. */
static int exists(const char *dn)
{
    LDAP *ld = bind_as(DMG_ROOTDN);
    const char *attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_SUCCESS || r.rc == LDAP_NO_SUCH_OBJECT,
                  "base search of %s: %s (%d) \"%s\"", dn, ldap_err2string(r.rc), r.rc, r.diag);
    return r.rc == LDAP_SUCCESS;
}

/* Values of attr on dn as ld's identity sees them, sorted, "\n"-joined. */
#define ASSERT_VALUES_AS(ld, dn, attr, expected) \
    DMG_ASSERT_VALUES((ld), (dn), LDAP_SCOPE_BASE, NULL, (attr), (expected))

/* ... as the rootdn sees them. */
static void assert_root_values_at(const char *file, int line, const char *dn, const char *attr,
                                  const char *expected)
{
    LDAP *ld = bind_as(DMG_ROOTDN);
    char *got = dmg_values_joined(ld, dn, LDAP_SCOPE_BASE, NULL, attr);
    char *exp = dmg_sorted_lines(expected);
    dmg_disconnect(ld);
    dmg_assert_str_impl(file, line, attr, got, exp);
    free(got);
    free(exp);
}
#define ASSERT_ROOT_VALUES(dn, attr, expected) \
    assert_root_values_at(__FILE__, __LINE__, (dn), (attr), (expected))

/* ============================================================================================
 * Suite "references": roles follow renames and moves; deletes refused or followed
 * ========================================================================================== */

/* Renaming an administrator, an auditor and the applicant rewrites the group's values, and
 * the renamed administrator keeps the role under the new name. */
START_TEST(rename_follows_roles)
{
    const char *g = "cn=ref-ren," GROUPS;
    root_add_person("ref-ren-adm", ENGINEERING);
    root_add_person("ref-ren-aud", ENGINEERING);
    root_add_person("ref-ren-app", ENGINEERING);
    root_add_group("ref-ren",
                   "dmgApplicant: uid=ref-ren-app," ENGINEERING "\n"
                   "dmgAdministrator: uid=ref-ren-adm," ENGINEERING "\n"
                   "dmgAdministrator: " CAROL "\n"
                   "dmgAuditRequired: TRUE\n"
                   "dmgAuditor: uid=ref-ren-aud," ENGINEERING "\n");

    LDAP *hr = bind_as(HR);
    DMG_ASSERT_RC(dmg_rename(hr, "uid=ref-ren-adm," ENGINEERING, "uid=ref-ren-adm2", NULL, 1),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(hr, "uid=ref-ren-aud," ENGINEERING, "uid=ref-ren-aud2", NULL, 1),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(hr, "uid=ref-ren-app," ENGINEERING, "uid=ref-ren-app2", NULL, 1),
                  LDAP_SUCCESS);
    dmg_disconnect(hr);

    ASSERT_ROOT_VALUES(g, "dmgAdministrator", "uid=ref-ren-adm2," ENGINEERING "\n" CAROL);
    ASSERT_ROOT_VALUES(g, "dmgAuditor", "uid=ref-ren-aud2," ENGINEERING);
    ASSERT_ROOT_VALUES(g, "dmgApplicant", "uid=ref-ren-app2," ENGINEERING);

    LDAP *adm = bind_as("uid=ref-ren-adm2," ENGINEERING);
    DMG_ASSERT_RC(dmg_modify(adm, g, "replace: description\ndescription: by the renamed one\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(adm);
    ASSERT_ROOT_VALUES(g, "description", "by the renamed one");
}
END_TEST

/* A move (new superior) is followed like a rename. */
START_TEST(move_follows_roles)
{
    const char *g = "cn=ref-mov," GROUPS;
    root_add_person("ref-mov-adm", ENGINEERING);
    root_add_group("ref-mov", "dmgAdministrator: uid=ref-mov-adm," ENGINEERING "\n");

    LDAP *root = bind_as(DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_rename(root, "uid=ref-mov-adm," ENGINEERING, "uid=ref-mov-adm", SALES, 1),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    ASSERT_ROOT_VALUES(g, "dmgAdministrator", "uid=ref-mov-adm," SALES);
}
END_TEST

/* Renaming a department with people in it rewrites the department and the roles below it in
 * one go. */
START_TEST(subtree_rename_follows_roles_and_departments)
{
    const char *g = "cn=ref-sub," GROUPS;
    root_add_ou("RefTeam", ENGINEERING);
    root_add_person("ref-sub-adm", "ou=RefTeam," ENGINEERING);
    root_add_person("ref-sub-aud", "ou=RefTeam," ENGINEERING);
    root_add_group("ref-sub",
                   "dmgDepartment: ou=RefTeam," ENGINEERING "\n"
                   "dmgAdministrator: uid=ref-sub-adm,ou=RefTeam," ENGINEERING "\n"
                   "dmgAuditor: uid=ref-sub-aud,ou=RefTeam," ENGINEERING "\n");

    LDAP *root = bind_as(DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_rename(root, "ou=RefTeam," ENGINEERING, "ou=RefTeam2", NULL, 1),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    ASSERT_ROOT_VALUES(g, "dmgDepartment", "ou=RefTeam2," ENGINEERING);
    ASSERT_ROOT_VALUES(g, "dmgAdministrator", "uid=ref-sub-adm,ou=RefTeam2," ENGINEERING);
    ASSERT_ROOT_VALUES(g, "dmgAuditor", "uid=ref-sub-aud,ou=RefTeam2," ENGINEERING);
    ASSERT_ROOT_VALUES(g, "member", "uid=ref-sub-adm,ou=RefTeam2," ENGINEERING "\n"
                                    "uid=ref-sub-aud,ou=RefTeam2," ENGINEERING);
}
END_TEST

/* The only auditor of an audited group may not be deleted: the group's mail would be held
 * for nobody, and every later write to it would fail validation. */
START_TEST(delete_only_auditor_refused)
{
    const char *x = "uid=ref-aud-only," ENGINEERING;
    root_add_person("ref-aud-only", ENGINEERING);
    root_add_group("ref-aud-only", "dmgAuditRequired: TRUE\ndmgAuditor: uid=ref-aud-only,"
                                   ENGINEERING "\n");

    LDAP *root = bind_as(DMG_ROOTDN);
    dmg_result r = dmg_delete(root, x);
    dmg_disconnect(root);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgAuditor: \"uid=ref-aud-only,ou=Engineering,dc=example,dc=com\" "
                           "is the only auditor of \"cn=ref-aud-only,ou=Groups,dc=example,"
                           "dc=com\", which requires audit");
    ck_assert_msg(exists(x), "%s deleted anyway", x);
    ASSERT_ROOT_VALUES("cn=ref-aud-only," GROUPS, "dmgAuditor", x);
}
END_TEST

/* ... and whoever may not see a hidden group is not told which group it is. */
START_TEST(delete_only_auditor_of_hidden_group_not_named)
{
    const char *x = "uid=ref-aud-hid," ENGINEERING;
    root_add_person("ref-aud-hid", ENGINEERING);
    root_add_group("ref-aud-hid", "dmgShowInContacts: FALSE\ndmgAuditRequired: TRUE\n"
                                  "dmgAuditor: uid=ref-aud-hid," ENGINEERING "\n");

    LDAP *hr = bind_as(HR);
    dmg_result r = dmg_delete(hr, x);
    dmg_disconnect(hr);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgAuditor: \"uid=ref-aud-hid,ou=Engineering,dc=example,dc=com\" "
                           "is the only auditor of another entry, which requires audit");
    ck_assert_msg(exists(x), "%s deleted anyway", x);
}
END_TEST

/* An auditor who is not the last, and a group that does not require audit, do not stop a
 * delete: the value is removed, and the group stays writable. */
START_TEST(delete_other_auditor_removes_value)
{
    const char *g = "cn=ref-aud-two," GROUPS;
    const char *g2 = "cn=ref-aud-noaudit," GROUPS;
    root_add_person("ref-aud-two-a", ENGINEERING);
    root_add_person("ref-aud-two-b", ENGINEERING);
    root_add_group("ref-aud-two", "dmgAuditRequired: TRUE\n"
                                  "dmgAuditor: uid=ref-aud-two-a," ENGINEERING "\n"
                                  "dmgAuditor: uid=ref-aud-two-b," ENGINEERING "\n");
    root_add_group("ref-aud-noaudit", "dmgAuditor: uid=ref-aud-two-a," ENGINEERING "\n");

    LDAP *hr = bind_as(HR);
    DMG_ASSERT_RC(dmg_delete(hr, "uid=ref-aud-two-a," ENGINEERING), LDAP_SUCCESS);
    dmg_disconnect(hr);
    ASSERT_ROOT_VALUES(g, "dmgAuditor", "uid=ref-aud-two-b," ENGINEERING);
    ASSERT_ROOT_VALUES(g2, "dmgAuditor", "");

    LDAP *pm = bind_as(POSTMASTER);
    DMG_ASSERT_RC(dmg_modify(pm, g, "replace: description\ndescription: still writable\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(pm, g2, "replace: description\ndescription: still writable\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
}
END_TEST

/* Deleting an administrator or the applicant removes the value from every group. */
START_TEST(delete_administrator_and_applicant_removes_values)
{
    const char *g1 = "cn=ref-adm-del1," GROUPS;
    const char *g2 = "cn=ref-adm-del2," GROUPS;
    root_add_person("ref-adm-del", ENGINEERING);
    root_add_group("ref-adm-del1", "dmgAdministrator: uid=ref-adm-del," ENGINEERING "\n"
                                   "dmgAdministrator: " CAROL "\n");
    root_add_group("ref-adm-del2", "dmgApplicant: uid=ref-adm-del," ENGINEERING "\n"
                                   "dmgAdministrator: uid=ref-adm-del," ENGINEERING "\n");

    LDAP *hr = bind_as(HR);
    DMG_ASSERT_RC(dmg_delete(hr, "uid=ref-adm-del," ENGINEERING), LDAP_SUCCESS);
    dmg_disconnect(hr);
    ASSERT_ROOT_VALUES(g1, "dmgAdministrator", CAROL);
    ASSERT_ROOT_VALUES(g2, "dmgAdministrator", "");
    ASSERT_ROOT_VALUES(g2, "dmgApplicant", "");
}
END_TEST

/* A new entry with the DN of a deleted administrator, auditor or applicant of a hidden group
 * inherits nothing: not the role, not the sight of the group. */
static const char *const inherit_roles[] = { "dmgAdministrator", "dmgAuditor", "dmgApplicant" };

START_TEST(new_entry_with_same_dn_inherits_nothing)
{
    char uid[64], dn[256], cn[64], g[256], extra[512], filter[128];
    snprintf(uid, sizeof uid, "ref-inherit-%d", _i);
    snprintf(dn, sizeof dn, "uid=%s," ENGINEERING, uid);
    snprintf(cn, sizeof cn, "ref-inherit-%d", _i);
    snprintf(g, sizeof g, "cn=%s," GROUPS, cn);
    snprintf(extra, sizeof extra, "dmgShowInContacts: FALSE\n%s: %s\n", inherit_roles[_i], dn);
    root_add_person(uid, ENGINEERING);
    root_add_group(cn, extra);
    snprintf(filter, sizeof filter, "(mail=%s@example.com)", cn);

    /* the role shows the hidden group */
    LDAP *ld = bind_as(dn);
    DMG_ASSERT_DNS(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, g);
    dmg_disconnect(ld);

    LDAP *hr = bind_as(HR);
    DMG_ASSERT_RC(dmg_delete(hr, dn), LDAP_SUCCESS);
    dmg_disconnect(hr);
    root_add_person(uid, ENGINEERING);
    ASSERT_ROOT_VALUES(g, inherit_roles[_i], "");

    ld = bind_as(dn);
    DMG_ASSERT_DNS(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, "");
    const char *attrs[] = { "cn", NULL };
    DMG_ASSERT_RC(dmg_search(ld, g, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    DMG_ASSERT_RC(dmg_modify(ld, g, "replace: description\ndescription: x\n"),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * Suite "enrolment": the self-enrolment guard
 * ========================================================================================== */

#define ENROL_REFUSAL(cond) \
    "dmgCondition: \"" cond "\" tests \"title\", which employees may change on their own " \
    "entry (" MIA "); anyone could make themselves a member"

/* A postmaster may not create a group whose condition tests title: every employee of Support
 * may change their own title (the ACLs say "by self write"). */
START_TEST(condition_on_self_writable_attribute_refused)
{
    LDAP *pm = bind_as(POSTMASTER);
    dmg_result r = add_group_ext(pm, "ref-enrol-title",
                                 "dmgDepartment: " SUPPORT "\ndmgCondition: (title=Manager)\n",
                                 NULL);
    dmg_disconnect(pm);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    ck_assert(!exists("cn=ref-enrol-title," GROUPS));
}
END_TEST

/* Every assertion of a condition counts, also below AND, OR and NOT. */
START_TEST(condition_nested_assertion_refused)
{
    LDAP *pm = bind_as(POSTMASTER);
    dmg_result r = add_group_ext(pm, "ref-enrol-nested",
                                 "dmgDepartment: " SUPPORT "\n"
                                 "dmgCondition: (l=Berlin)\n"
                                 "dmgCondition: (|(l=Paris)(!(title=Intern)))\n", NULL);
    dmg_disconnect(pm);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(|(l=Paris)(!(title=Intern)))"));
}
END_TEST

/* An ACL that lets employees write one value only ("val=") counts for that value. */
START_TEST(condition_on_self_writable_value_refused)
{
    LDAP *pm = bind_as(POSTMASTER);
    dmg_result r = add_group_ext(pm, "ref-enrol-val",
                                 "dmgDepartment: " SUPPORT "\ndmgCondition: (employeeType=Lead)\n",
                                 NULL);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgCondition: \"(employeeType=Lead)\" tests \"employeeType\", which "
                           "employees may change on their own entry (" MIA "); anyone could "
                           "make themselves a member");
    DMG_ASSERT_RC(add_group_ext(pm, "ref-enrol-val",
                                "dmgDepartment: " SUPPORT "\ndmgCondition: (employeeType=Staff)\n",
                                NULL),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
}
END_TEST

/* departmentNumber is written by HR only: a condition on it is fine. */
START_TEST(condition_on_hr_attribute_accepted)
{
    LDAP *pm = bind_as(POSTMASTER);
    DMG_ASSERT_RC(add_group_ext(pm, "ref-enrol-deptno",
                                "dmgDepartment: " SUPPORT "\ndmgCondition: (departmentNumber=42)\n",
                                NULL),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
    /* HR puts mia in, at once */
    LDAP *hr = bind_as(HR);
    DMG_ASSERT_RC(dmg_modify(hr, MIA, "replace: departmentNumber\ndepartmentNumber: 42\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(hr);
    ASSERT_ROOT_VALUES("cn=ref-enrol-deptno," GROUPS, "member", MIA);
    /* mia may not do it herself */
    LDAP *mia = bind_as(MIA);
    DMG_ASSERT_RC(dmg_modify(mia, MIA, "replace: departmentNumber\ndepartmentNumber: 43\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(mia);
}
END_TEST

/* The rootdn stores such a condition only with the Relax Rules control; afterwards, writes
 * that leave conditions and departments alone are not refused for it. */
START_TEST(rootdn_with_relax_may_store)
{
    const char *g = "cn=ref-enrol-relax," GROUPS;
    const char *extra = "dmgDepartment: " SUPPORT "\ndmgCondition: (title=Manager)\n";
    LDAP *root = bind_as(DMG_ROOTDN);
    dmg_result r = add_group_ext(root, "ref-enrol-relax", extra, NULL);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    DMG_ASSERT_RC(add_group_ext(root, "ref-enrol-relax", extra, DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    ASSERT_ROOT_VALUES(g, "dmgCondition", "(title=Manager)");

    LDAP *pm = bind_as(POSTMASTER);
    DMG_ASSERT_RC(dmg_modify(pm, g, "replace: description\ndescription: only the text\n"),
                  LDAP_SUCCESS);
    r = dmg_modify(pm, g, "add: dmgCondition\ndmgCondition: (l=Berlin)\n");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    dmg_disconnect(pm);
}
END_TEST

/* A group's administrator may not add such a condition either. */
START_TEST(administrator_modify_refused)
{
    const char *g = "cn=ref-enrol-adm," GROUPS;
    root_add_group("ref-enrol-adm", "dmgDepartment: " SUPPORT "\n"
                                    "dmgAdministrator: " CAROL "\n");
    LDAP *adm = bind_as(CAROL);
    dmg_result r = dmg_modify(adm, g, "add: dmgCondition\ndmgCondition: (title=Manager)\n");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    /* a condition on something employees cannot change is the administrator's to set */
    DMG_ASSERT_RC(dmg_modify(adm, g, "add: dmgCondition\ndmgCondition: (departmentNumber=7)\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(adm);
    ASSERT_ROOT_VALUES(g, "dmgCondition", "(departmentNumber=7)");
}
END_TEST

/* ============================================================================================
 * main
 * ========================================================================================== */

static Suite *references_suite(void)
{
    Suite *s = suite_create("references");
    TCase *tc = dmg_tcase("rename");
    tcase_add_test(tc, rename_follows_roles);
    tcase_add_test(tc, move_follows_roles);
    tcase_add_test(tc, subtree_rename_follows_roles_and_departments);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("delete");
    tcase_add_test(tc, delete_only_auditor_refused);
    tcase_add_test(tc, delete_only_auditor_of_hidden_group_not_named);
    tcase_add_test(tc, delete_other_auditor_removes_value);
    tcase_add_test(tc, delete_administrator_and_applicant_removes_values);
    tcase_add_loop_test(tc, new_entry_with_same_dn_inherits_nothing, 0,
                        (int)(sizeof inherit_roles / sizeof inherit_roles[0]));
    suite_add_tcase(s, tc);

    tc = dmg_tcase("enrolment");
    tcase_add_test(tc, condition_on_self_writable_attribute_refused);
    tcase_add_test(tc, condition_nested_assertion_refused);
    tcase_add_test(tc, condition_on_self_writable_value_refused);
    tcase_add_test(tc, condition_on_hr_attribute_accepted);
    tcase_add_test(tc, rootdn_with_relax_may_store);
    tcase_add_test(tc, administrator_modify_refused);
    suite_add_tcase(s, tc);
    return s;
}

#define OVERLAY_CONFIG \
    "dynmailgroup-postmaster " POSTMASTER "\n" \
    "dynmailgroup-privileged " MTA "\n"

int main(void)
{
    /* title is self-writable, employeeType for the value Lead; HR (uid=reader) writes
     * departmentNumber anywhere and manages the entries of Engineering; everybody else reads */
    const dmg_server_opts references_opts = {
        .db_config =
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to attrs=title by self write by users read by anonymous read\n"
            "access to attrs=employeeType val=Lead by self write by users read by anonymous read\n"
            "access to attrs=departmentNumber by dn.exact=\"" HR "\" write"
            " by users read by anonymous read\n"
            "access to dn.subtree=\"" ENGINEERING "\" by dn.exact=\"" HR "\" write"
            " by users read by anonymous read\n"
            "access to * by users read by anonymous read\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    return dmg_run_suite(references_suite(), &references_opts, &srv);
}
