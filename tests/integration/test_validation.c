/*
 * test_validation.c -- man page SCHEMA against a real slapd: every kind of bad input to a
 * dynamicMailGroup, on add and on modify, gets the exact result code, a diagnostic naming the
 * attribute and the value (or the other entry), and leaves the directory exactly as before.
 *
 * Two servers, one suite each:
 *  - "validation": defaults (dynmailgroup-max-departments 50, -max-whitelist 1000);
 *  - "limits":     dynmailgroup-max-departments 2 and dynmailgroup-max-whitelist 3.
 *
 * Every write is done as the rootdn (who may create groups); each test adds its own groups
 * (unique cn and mail) under ou=Groups, so tests may run in any order on the shared server.
 * "Unchanged" is checked on the entry as stored (ManageDsaIT, user and operational
 * attributes, so entryCSN and modifyTimestamp would show any write), or by its absence.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GROUPS      "ou=Groups," DMG_SUFFIX
#define ENGINEERING "ou=Engineering," DMG_SUFFIX
#define SALES       "ou=Sales," DMG_SUFFIX
#define FINANCE     "ou=Finance," DMG_SUFFIX
#define SUPPORT     "ou=Support," DMG_SUFFIX
#define ALICE       "uid=alice,ou=Engineering," DMG_SUFFIX
#define BOB         "uid=bob,ou=Engineering," DMG_SUFFIX
#define DAVE        "uid=dave,ou=Engineering," DMG_SUFFIX
#define RITA        "uid=rita,ou=Frontend,ou=Engineering," DMG_SUFFIX
#define GHOST       "uid=ghost,ou=Engineering," DMG_SUFFIX /* does not exist */
#define NOWHERE     "ou=Nowhere," DMG_SUFFIX                /* does not exist */

#define DEPT_ENG "dmgDepartment: " ENGINEERING "\n"

static dmg_server *srv;

/* ---- helpers ------------------------------------------------------------------------------- */

static LDAP *root(void)
{
    return dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
}

/* The entry as stored, every attribute and value as a sorted "attr: value" line; NULL when it
 * does not exist. Free the result. */
static char *snapshot(const char *dn)
{
    LDAP *ld = root();
    const char *attrs[] = { "*", "+", NULL };
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs,
                              DMG_CTRLS(dmg_ctrl_manage_dsait()), &e);
    dmg_disconnect(ld);
    if (r.rc == LDAP_NO_SUCH_OBJECT) {
        dmg_entries_free(e);
        return NULL;
    }
    ck_assert_msg(r.rc == LDAP_SUCCESS && e != NULL && e->count == 1,
                  "reading %s: %s (%d) \"%s\"", dn, ldap_err2string(r.rc), r.rc, r.diag);
    dmg_text t = { 0 };
    dmg_text_printf(&t, "%s: %s\n", "dn", e->entries[0].dn);
    for (size_t i = 0; i < e->entries[0].nattrs; i++) {
        const dmg_attr *a = &e->entries[0].attrs[i];
        for (size_t k = 0; k < a->nvalues; k++)
            dmg_text_printf(&t, "%s: %s\n", a->name, a->values[k]);
    }
    dmg_entries_free(e);
    char *sorted = dmg_sorted_lines(t.s);
    free(t.s);
    return sorted;
}

/* The values of attr on dn as stored, sorted and "\n"-joined. Free the result. */
static char *stored_values(const char *dn, const char *attr)
{
    LDAP *ld = root();
    char *v = dmg_values_joined_ext(ld, dn, LDAP_SCOPE_BASE, NULL, attr,
                                    DMG_CTRLS(dmg_ctrl_manage_dsait()));
    dmg_disconnect(ld);
    return v;
}

#define ASSERT_STORED(dn, attr, expected) \
    do { char *got_ = stored_values((dn), (attr)); \
         char *exp_ = dmg_sorted_lines(expected); \
         dmg_assert_str_impl(__FILE__, __LINE__, attr " of " #dn, got_, exp_); \
         free(got_); free(exp_); } while (0)

static void group_ldif(char *buf, size_t n, const char *cn, const char *body)
{
    snprintf(buf, n, "dn: cn=%s," GROUPS "\nobjectClass: dynamicMailGroup\ncn: %s\n%s", cn, cn,
             body);
}

/* Checks one refused write: the code, each needle (may be NULL) in the diagnostic. */
static void check_refusal(const char *file, int line, const char *what, const dmg_result *r,
                          int rc, const char *n1, const char *n2, const char *n3)
{
    if (r->rc != rc)
        _ck_assert_failed(file, line, what, "%s: got %s (%d), expected %s (%d); diagnostic \"%s\"",
                          what, ldap_err2string(r->rc), r->rc, ldap_err2string(rc), rc, r->diag);
    const char *needles[] = { n1, n2, n3 };
    for (int i = 0; i < 3; i++)
        if (needles[i] != NULL && !dmg_contains_ci(r->diag, needles[i]))
            _ck_assert_failed(file, line, what,
                              "%s: diagnostic \"%s\" does not mention \"%s\"", what, r->diag,
                              needles[i]);
}

/* Adds any entry as the rootdn; expects the refusal and no entry at dn afterwards. */
static void add_entry_refused_at(const char *file, int line, const char *dn, const char *ldif,
                                 int rc, const char *n1, const char *n2, const char *n3)
{
    LDAP *ld = root();
    dmg_result r = dmg_add_ldif(ld, ldif);
    dmg_disconnect(ld);
    check_refusal(file, line, "add", &r, rc, n1, n2, n3);
    char *after = snapshot(dn);
    if (after != NULL) {
        free(after);
        _ck_assert_failed(file, line, "add", "the refused add left %s behind", dn);
    }
}
#define ADD_ENTRY_REFUSED(dn, ldif, rc, n1, n2, n3) \
    add_entry_refused_at(__FILE__, __LINE__, (dn), (ldif), (rc), (n1), (n2), (n3))

/* Adds a group (cn=CN,ou=Groups with the attribute lines in body) as the rootdn; expects the
 * refusal rc naming n1..n3, and no entry afterwards. */
static void add_refused_at(const char *file, int line, const char *cn, const char *body, int rc,
                           const char *n1, const char *n2, const char *n3)
{
    char ldif[8192], dn[256];
    group_ldif(ldif, sizeof ldif, cn, body);
    snprintf(dn, sizeof dn, "cn=%s," GROUPS, cn);
    add_entry_refused_at(file, line, dn, ldif, rc, n1, n2, n3);
}
#define ADD_REFUSED(cn, body, rc, n1, n2, n3) \
    add_refused_at(__FILE__, __LINE__, (cn), (body), (rc), (n1), (n2), (n3))

static void add_ok_at(const char *file, int line, const char *cn, const char *body)
{
    char ldif[8192];
    group_ldif(ldif, sizeof ldif, cn, body);
    LDAP *ld = root();
    dmg_result r = dmg_add_ldif(ld, ldif);
    dmg_disconnect(ld);
    dmg_assert_rc_impl(file, line, "add of a valid group", &r, LDAP_SUCCESS);
}
#define ADD_OK(cn, body) add_ok_at(__FILE__, __LINE__, (cn), (body))

/* Modifies dn as the rootdn; expects the refusal and the entry exactly as before. */
static void modify_refused_at(const char *file, int line, const char *dn, const char *changes,
                              int rc, const char *n1, const char *n2, const char *n3)
{
    char *before = snapshot(dn);
    if (before == NULL)
        _ck_assert_failed(file, line, "modify", "%s does not exist", dn);
    LDAP *ld = root();
    dmg_result r = dmg_modify(ld, dn, changes);
    dmg_disconnect(ld);
    check_refusal(file, line, "modify", &r, rc, n1, n2, n3);
    char *after = snapshot(dn);
    if (after == NULL)
        _ck_assert_failed(file, line, "modify", "%s gone after a refused modify", dn);
    dmg_assert_str_impl(file, line, "entry after the refused modify", after, before);
    free(before);
    free(after);
}
#define MODIFY_REFUSED(dn, changes, rc, n1, n2, n3) \
    modify_refused_at(__FILE__, __LINE__, (dn), (changes), (rc), (n1), (n2), (n3))

static void modify_ok_at(const char *file, int line, const char *dn, const char *changes)
{
    LDAP *ld = root();
    dmg_result r = dmg_modify(ld, dn, changes);
    dmg_disconnect(ld);
    dmg_assert_rc_impl(file, line, "modify with valid values", &r, LDAP_SUCCESS);
}
#define MODIFY_OK(dn, changes) modify_ok_at(__FILE__, __LINE__, (dn), (changes))

/* A valid group to modify: cn=CN, mail CN@example.com, department Engineering, + extra. */
static void base_group(const char *cn, const char *extra)
{
    char body[4096];
    snprintf(body, sizeof body, "mail: %s@example.com\n" DEPT_ENG "%s", cn,
             extra != NULL ? extra : "");
    ADD_OK(cn, body);
}

#define G(cn) "cn=" cn "," GROUPS

/* ============================================================================================
 * mail
 * ========================================================================================== */

START_TEST(add_mail_missing)
{
    ADD_REFUSED("v-mail-missing", DEPT_ENG, LDAP_OBJECT_CLASS_VIOLATION, "mail", NULL, NULL);
}
END_TEST

START_TEST(mod_mail_deleted)
{
    base_group("v-mail-del", NULL);
    MODIFY_REFUSED(G("v-mail-del"), "delete: mail\n", LDAP_OBJECT_CLASS_VIOLATION, "mail",
                   NULL, NULL);
    MODIFY_REFUSED(G("v-mail-del"), "delete: mail\nmail: v-mail-del@example.com\n",
                   LDAP_OBJECT_CLASS_VIOLATION, "mail", NULL, NULL);
}
END_TEST

START_TEST(add_mail_not_an_address)
{
    ADD_REFUSED("v-mail-bad", "mail: no-at-sign.example.com\n" DEPT_ENG,
                LDAP_INVALID_SYNTAX, "mail", "no-at-sign.example.com", NULL);
    ADD_REFUSED("v-mail-bad", "mail: @example.com\n" DEPT_ENG,
                LDAP_INVALID_SYNTAX, "mail", "@example.com", NULL);
    ADD_REFUSED("v-mail-bad", "mail: user@\n" DEPT_ENG,
                LDAP_INVALID_SYNTAX, "mail", "user@", NULL);
}
END_TEST

START_TEST(mod_mail_not_an_address)
{
    base_group("v-mail-bad-mod", NULL);
    MODIFY_REFUSED(G("v-mail-bad-mod"), "replace: mail\nmail: no-at-sign.example.com\n",
                   LDAP_INVALID_SYNTAX, "mail", "no-at-sign.example.com", NULL);
}
END_TEST

START_TEST(add_mail_two_values)
{
    ADD_REFUSED("v-mail-two",
                "mail: v-mail-two@example.com\nmail: v-mail-two-b@example.com\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "v-mail-two-b@example.com", NULL);
}
END_TEST

START_TEST(mod_mail_second_value)
{
    base_group("v-mail-two-mod", NULL);
    MODIFY_REFUSED(G("v-mail-two-mod"), "add: mail\nmail: v-mail-two-mod-b@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "v-mail-two-mod-b@example.com", NULL);
}
END_TEST

/* An employee's address cannot become a group's: the diagnostic names the employee. */
START_TEST(add_mail_of_employee)
{
    ADD_REFUSED("v-mail-emp", "mail: bob@example.com\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "bob@example.com", BOB);
    /* the second of alice's addresses */
    ADD_REFUSED("v-mail-emp", "mail: alice.anderson@example.com\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "alice.anderson@example.com", ALICE);
}
END_TEST

START_TEST(add_mail_of_employee_case_insensitive)
{
    ADD_REFUSED("v-mail-emp-case", "mail: ALICE@EXAMPLE.COM\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "ALICE@EXAMPLE.COM", ALICE);
    /* stored as Rita.Rossi@Example.COM */
    ADD_REFUSED("v-mail-emp-case", "mail: rita.rossi@example.com\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "rita.rossi@example.com", RITA);
}
END_TEST

START_TEST(mod_mail_of_employee)
{
    base_group("v-mail-emp-mod", NULL);
    MODIFY_REFUSED(G("v-mail-emp-mod"), "replace: mail\nmail: bob@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "bob@example.com", BOB);
    MODIFY_REFUSED(G("v-mail-emp-mod"), "replace: mail\nmail: Alice@Example.Com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "Alice@Example.Com", ALICE);
}
END_TEST

/* A group's address cannot become another group's. */
START_TEST(add_mail_of_group)
{
    base_group("v-mail-grp-a", NULL);
    ADD_REFUSED("v-mail-grp-b", "mail: v-mail-grp-a@example.com\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "v-mail-grp-a@example.com", G("v-mail-grp-a"));
    ADD_REFUSED("v-mail-grp-b", "mail: V-Mail-Grp-A@EXAMPLE.com\n" DEPT_ENG,
                LDAP_CONSTRAINT_VIOLATION, "mail", "V-Mail-Grp-A@EXAMPLE.com", G("v-mail-grp-a"));
}
END_TEST

START_TEST(mod_mail_of_group)
{
    base_group("v-mail-grp-c", NULL);
    base_group("v-mail-grp-d", NULL);
    MODIFY_REFUSED(G("v-mail-grp-d"), "replace: mail\nmail: v-mail-grp-c@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "v-mail-grp-c@example.com",
                   G("v-mail-grp-c"));
}
END_TEST

/* ... nor an employee's: on add and on modify, the diagnostic names the group. */
START_TEST(employee_add_with_group_mail)
{
    const char *dn = "uid=v-newbie,ou=Sales," DMG_SUFFIX;
    base_group("v-mail-grp-e", NULL);
    ADD_ENTRY_REFUSED(dn,
                      "dn: uid=v-newbie,ou=Sales," DMG_SUFFIX "\nobjectClass: inetOrgPerson\n"
                      "uid: v-newbie\ncn: New Bie\nsn: Bie\nmail: v-mail-grp-e@example.com\n",
                      LDAP_CONSTRAINT_VIOLATION, "mail", "v-mail-grp-e@example.com",
                      G("v-mail-grp-e"));
    ADD_ENTRY_REFUSED(dn,
                      "dn: uid=v-newbie,ou=Sales," DMG_SUFFIX "\nobjectClass: inetOrgPerson\n"
                      "uid: v-newbie\ncn: New Bie\nsn: Bie\nmail: newbie@example.com\n"
                      "mail: V-MAIL-GRP-E@example.com\n",
                      LDAP_CONSTRAINT_VIOLATION, "mail", "V-MAIL-GRP-E@example.com",
                      G("v-mail-grp-e"));
}
END_TEST

START_TEST(employee_modify_with_group_mail)
{
    base_group("v-mail-grp-f", NULL);
    MODIFY_REFUSED(BOB, "add: mail\nmail: v-mail-grp-f@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "v-mail-grp-f@example.com",
                   G("v-mail-grp-f"));
    MODIFY_REFUSED(BOB, "replace: mail\nmail: V-Mail-Grp-F@Example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "V-Mail-Grp-F@Example.com",
                   G("v-mail-grp-f"));
}
END_TEST

/* A group keeps its own address through other changes; an employee keeps its own. */
START_TEST(own_mail_is_not_a_duplicate)
{
    base_group("v-mail-own", NULL);
    MODIFY_OK(G("v-mail-own"), "replace: description\ndescription: still mine\n");
    MODIFY_OK(G("v-mail-own"), "replace: mail\nmail: v-mail-own@example.com\n");
    MODIFY_OK(G("v-mail-own"), "replace: mail\nmail: V-Mail-Own@Example.COM\n");
    ASSERT_STORED(G("v-mail-own"), "mail", "V-Mail-Own@Example.COM");
    MODIFY_OK("uid=kate,ou=Finance," DMG_SUFFIX,
              "replace: mail\nmail: kate@example.com\nmail: kate.klein@example.com\n");
}
END_TEST

/* ============================================================================================
 * dmgDepartment
 * ========================================================================================== */

START_TEST(add_department_missing)
{
    ADD_REFUSED("v-dept-missing", "mail: v-dept-missing@example.com\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NULL, NULL);
}
END_TEST

START_TEST(mod_department_delete_last)
{
    base_group("v-dept-del", NULL);
    MODIFY_REFUSED(G("v-dept-del"), "delete: dmgDepartment\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NULL, NULL);
    MODIFY_REFUSED(G("v-dept-del"), "delete: dmgDepartment\ndmgDepartment: " ENGINEERING "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NULL, NULL);
}
END_TEST

START_TEST(add_department_nonexistent)
{
    ADD_REFUSED("v-dept-none", "mail: v-dept-none@example.com\ndmgDepartment: " NOWHERE "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NOWHERE, NULL);
    ADD_REFUSED("v-dept-none",
                "mail: v-dept-none@example.com\n" DEPT_ENG "dmgDepartment: " NOWHERE "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NOWHERE, NULL);
    ADD_REFUSED("v-dept-none",
                "mail: v-dept-none@example.com\ndmgDepartment: ou=Engineering,dc=example,dc=org\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", "ou=Engineering,dc=example,dc=org",
                NULL);
}
END_TEST

START_TEST(mod_department_nonexistent)
{
    base_group("v-dept-none-mod", NULL);
    MODIFY_REFUSED(G("v-dept-none-mod"), "add: dmgDepartment\ndmgDepartment: " NOWHERE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NOWHERE, NULL);
    MODIFY_REFUSED(G("v-dept-none-mod"), "replace: dmgDepartment\ndmgDepartment: " NOWHERE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", NOWHERE, NULL);
}
END_TEST

START_TEST(add_department_not_a_department)
{
    ADD_REFUSED("v-dept-emp", "mail: v-dept-emp@example.com\ndmgDepartment: " BOB "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", BOB, NULL);
    ADD_REFUSED("v-dept-emp",
                "mail: v-dept-emp@example.com\n"
                "dmgDepartment: cn=postmasters,ou=System," DMG_SUFFIX "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", "cn=postmasters,ou=System", NULL);
    ADD_REFUSED("v-dept-emp", "mail: v-dept-emp@example.com\ndmgDepartment: " DMG_SUFFIX "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", DMG_SUFFIX, NULL);
}
END_TEST

START_TEST(mod_department_not_a_department)
{
    base_group("v-dept-emp-mod", NULL);
    MODIFY_REFUSED(G("v-dept-emp-mod"), "replace: dmgDepartment\ndmgDepartment: " BOB "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", BOB, NULL);
    MODIFY_REFUSED(G("v-dept-emp-mod"), "add: dmgDepartment\ndmgDepartment: " ALICE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", ALICE, NULL);
}
END_TEST

/* Deleting a department that a group names: constraintViolation naming the group. */
START_TEST(delete_named_department)
{
    const char *ou = "ou=VEmpty,ou=Support," DMG_SUFFIX;
    LDAP *ld = root();
    DMG_ASSERT_RC(dmg_add_ldif(ld, "dn: ou=VEmpty,ou=Support," DMG_SUFFIX
                                   "\nobjectClass: organizationalUnit\nou: VEmpty\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(ld);
    base_group("v-dept-named", "dmgDepartment: ou=VEmpty,ou=Support," DMG_SUFFIX "\n");
    char *before = snapshot(ou);
    ld = root();
    dmg_result r = dmg_delete(ld, ou);
    dmg_disconnect(ld);
    check_refusal(__FILE__, __LINE__, "delete", &r, LDAP_CONSTRAINT_VIOLATION, "dmgDepartment",
                  G("v-dept-named"), NULL);
    char *after = snapshot(ou);
    ck_assert_msg(after != NULL, "%s deleted although a group names it", ou);
    DMG_ASSERT_STR(after, before);
    free(before);
    free(after);
    /* once no group names it, it goes */
    MODIFY_OK(G("v-dept-named"), "delete: dmgDepartment\ndmgDepartment: "
                                 "ou=VEmpty,ou=Support," DMG_SUFFIX "\n");
    ld = root();
    DMG_ASSERT_RC(dmg_delete(ld, ou), LDAP_SUCCESS);
    dmg_disconnect(ld);
}
END_TEST

/* ============================================================================================
 * dmgCondition
 * ========================================================================================== */

START_TEST(add_condition_not_a_filter)
{
    ADD_REFUSED("v-cond-syntax",
                "mail: v-cond-syntax@example.com\n" DEPT_ENG "dmgCondition: (title=\n",
                LDAP_INVALID_SYNTAX, "dmgCondition", "(title=", NULL);
    ADD_REFUSED("v-cond-syntax",
                "mail: v-cond-syntax@example.com\n" DEPT_ENG
                "dmgCondition: (title=Engineer)\ndmgCondition: (&(l=Paris)\n",
                LDAP_INVALID_SYNTAX, "dmgCondition", "(&(l=Paris)", NULL);
}
END_TEST

START_TEST(mod_condition_not_a_filter)
{
    base_group("v-cond-syntax-mod", NULL);
    MODIFY_REFUSED(G("v-cond-syntax-mod"), "add: dmgCondition\ndmgCondition: (title=\n",
                   LDAP_INVALID_SYNTAX, "dmgCondition", "(title=", NULL);
}
END_TEST

START_TEST(add_condition_unknown_attribute)
{
    ADD_REFUSED("v-cond-unknown",
                "mail: v-cond-unknown@example.com\n" DEPT_ENG "dmgCondition: (fooBar=1)\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgCondition", "(fooBar=1)", NULL);
    ADD_REFUSED("v-cond-unknown",
                "mail: v-cond-unknown@example.com\n" DEPT_ENG
                "dmgCondition: (&(title=Engineer)(!(fooBar=1)))\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgCondition", "(&(title=Engineer)(!(fooBar=1)))",
                NULL);
}
END_TEST

START_TEST(mod_condition_unknown_attribute)
{
    base_group("v-cond-unknown-mod", NULL);
    MODIFY_REFUSED(G("v-cond-unknown-mod"), "add: dmgCondition\ndmgCondition: (fooBar=1)\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgCondition", "(fooBar=1)", NULL);
}
END_TEST

static const char *const computed_conditions[] = {
    "(dmgMemberOf=cn=x)",
    "(member=" BOB ")",
    "(dmgMemberMail=bob@example.com)",
    "(dmgMemberCount>=1)",
    "(|(title=Engineer)(dmgMemberOf=cn=x," GROUPS "))",
    "(!(dmgMemberOf=cn=x))",
    "(dmgMemberOf=*)",
};

START_TEST(add_condition_computed_attribute)
{
    char body[1024];
    snprintf(body, sizeof body, "mail: v-cond-comp@example.com\n" DEPT_ENG "dmgCondition: %s\n",
             computed_conditions[_i]);
    ADD_REFUSED("v-cond-comp", body, LDAP_CONSTRAINT_VIOLATION, "dmgCondition",
                computed_conditions[_i], NULL);
}
END_TEST

START_TEST(mod_condition_computed_attribute)
{
    char cn[64], dn[256], changes[1024];
    snprintf(cn, sizeof cn, "v-cond-comp-mod-%d", _i);
    snprintf(dn, sizeof dn, "cn=%s," GROUPS, cn);
    base_group(cn, NULL);
    snprintf(changes, sizeof changes, "add: dmgCondition\ndmgCondition: %s\n",
             computed_conditions[_i]);
    MODIFY_REFUSED(dn, changes, LDAP_CONSTRAINT_VIOLATION, "dmgCondition",
                   computed_conditions[_i], NULL);
}
END_TEST

START_TEST(conditions_valid)
{
    base_group("v-cond-ok", "dmgCondition: (title=Engineer)\ndmgCondition: (!(l=Paris))\n");
    MODIFY_OK(G("v-cond-ok"), "add: dmgCondition\ndmgCondition: (|(l=Berlin)(l=Tokyo))\n");
    ASSERT_STORED(G("v-cond-ok"), "dmgCondition",
                  "(title=Engineer)\n(!(l=Paris))\n(|(l=Berlin)(l=Tokyo))");
}
END_TEST

/* ============================================================================================
 * audit, auditors, administrators
 * ========================================================================================== */

START_TEST(add_audit_without_auditor)
{
    ADD_REFUSED("v-audit-none",
                "mail: v-audit-none@example.com\n" DEPT_ENG "dmgAuditRequired: TRUE\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgAuditRequired", "TRUE", "dmgAuditor");
}
END_TEST

START_TEST(mod_audit_on_without_auditor)
{
    base_group("v-audit-on", NULL);
    MODIFY_REFUSED(G("v-audit-on"), "replace: dmgAuditRequired\ndmgAuditRequired: TRUE\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgAuditRequired", "TRUE", "dmgAuditor");
}
END_TEST

/* A modify that makes a valid group invalid: removing the last auditor while audit is on. */
START_TEST(mod_remove_last_auditor)
{
    base_group("v-audit-last", "dmgAuditRequired: TRUE\ndmgAuditor: " DAVE "\n");
    MODIFY_REFUSED(G("v-audit-last"), "delete: dmgAuditor\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgAuditRequired", "dmgAuditor", NULL);
    MODIFY_REFUSED(G("v-audit-last"), "delete: dmgAuditor\ndmgAuditor: " DAVE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgAuditRequired", "dmgAuditor", NULL);
    /* turning audit off in the same modify is fine */
    MODIFY_OK(G("v-audit-last"), "delete: dmgAuditor\n-\n"
                                 "replace: dmgAuditRequired\ndmgAuditRequired: FALSE\n");
}
END_TEST

START_TEST(add_auditor_nonexistent)
{
    ADD_REFUSED("v-auditor-ghost",
                "mail: v-auditor-ghost@example.com\n" DEPT_ENG
                "dmgAuditRequired: TRUE\ndmgAuditor: " GHOST "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgAuditor", GHOST, NULL);
    ADD_REFUSED("v-auditor-ghost",
                "mail: v-auditor-ghost@example.com\n" DEPT_ENG
                "dmgAuditor: " DAVE "\ndmgAuditor: " GHOST "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgAuditor", GHOST, NULL);
}
END_TEST

START_TEST(mod_auditor_nonexistent)
{
    base_group("v-auditor-ghost-mod", "dmgAuditRequired: TRUE\ndmgAuditor: " DAVE "\n");
    MODIFY_REFUSED(G("v-auditor-ghost-mod"), "add: dmgAuditor\ndmgAuditor: " GHOST "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgAuditor", GHOST, NULL);
}
END_TEST

START_TEST(add_administrator_nonexistent)
{
    ADD_REFUSED("v-admin-ghost",
                "mail: v-admin-ghost@example.com\n" DEPT_ENG "dmgAdministrator: " GHOST "\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgAdministrator", GHOST, NULL);
}
END_TEST

START_TEST(mod_administrator_nonexistent)
{
    base_group("v-admin-ghost-mod", "dmgAdministrator: " BOB "\n");
    MODIFY_REFUSED(G("v-admin-ghost-mod"), "add: dmgAdministrator\ndmgAdministrator: " GHOST "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgAdministrator", GHOST, NULL);
    MODIFY_REFUSED(G("v-admin-ghost-mod"),
                   "replace: dmgAdministrator\ndmgAdministrator: " GHOST "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgAdministrator", GHOST, NULL);
}
END_TEST

START_TEST(audit_and_roles_valid)
{
    base_group("v-audit-ok", "dmgAuditRequired: TRUE\ndmgAuditor: " DAVE "\n"
                             "dmgAdministrator: " BOB "\n");
    base_group("v-audit-off", "dmgAuditRequired: FALSE\n");
    MODIFY_OK(G("v-audit-off"), "add: dmgAuditor\ndmgAuditor: " DAVE "\n-\n"
                                "replace: dmgAuditRequired\ndmgAuditRequired: TRUE\n");
    ASSERT_STORED(G("v-audit-off"), "dmgAuditRequired", "TRUE");
}
END_TEST

/* ============================================================================================
 * dmgSendPolicy, dmgWhitelist
 * ========================================================================================== */

START_TEST(add_policy_unknown)
{
    ADD_REFUSED("v-pol-unknown",
                "mail: v-pol-unknown@example.com\n" DEPT_ENG "dmgSendPolicy: everyone\n",
                LDAP_INVALID_SYNTAX, "dmgSendPolicy", "everyone", NULL);
    ADD_REFUSED("v-pol-unknown",
                "mail: v-pol-unknown@example.com\n" DEPT_ENG
                "dmgSendPolicy: members\ndmgSendPolicy: everyone\n",
                LDAP_INVALID_SYNTAX, "dmgSendPolicy", "everyone", NULL);
}
END_TEST

START_TEST(mod_policy_unknown)
{
    base_group("v-pol-unknown-mod", NULL);
    MODIFY_REFUSED(G("v-pol-unknown-mod"), "replace: dmgSendPolicy\ndmgSendPolicy: everyone\n",
                   LDAP_INVALID_SYNTAX, "dmgSendPolicy", "everyone", NULL);
}
END_TEST

START_TEST(add_whitelist_policy_without_whitelist)
{
    ADD_REFUSED("v-pol-wl-empty",
                "mail: v-pol-wl-empty@example.com\n" DEPT_ENG "dmgSendPolicy: whitelist\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgSendPolicy", "whitelist", "dmgWhitelist");
}
END_TEST

/* A modify that makes a valid group invalid: whitelist policy while no whitelist values. */
START_TEST(mod_whitelist_policy_without_whitelist)
{
    base_group("v-pol-wl-empty-mod", NULL);
    MODIFY_REFUSED(G("v-pol-wl-empty-mod"), "replace: dmgSendPolicy\ndmgSendPolicy: whitelist\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgSendPolicy", "whitelist", "dmgWhitelist");
}
END_TEST

START_TEST(mod_delete_last_whitelist_value)
{
    base_group("v-pol-wl-last", "dmgSendPolicy: whitelist\ndmgWhitelist: @example.org\n");
    MODIFY_REFUSED(G("v-pol-wl-last"), "delete: dmgWhitelist\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgSendPolicy", "whitelist", "dmgWhitelist");
}
END_TEST

static const char *const bad_whitelist[] = {
    "not an address",
    "user@",
    "@",
    "user@@example.org",
};

START_TEST(add_whitelist_malformed)
{
    char body[512];
    snprintf(body, sizeof body,
             "mail: v-wl-bad@example.com\n" DEPT_ENG
             "dmgSendPolicy: whitelist\ndmgWhitelist: ok@example.org\ndmgWhitelist: %s\n",
             bad_whitelist[_i]);
    ADD_REFUSED("v-wl-bad", body, LDAP_INVALID_SYNTAX, "dmgWhitelist", bad_whitelist[_i], NULL);
}
END_TEST

START_TEST(mod_whitelist_malformed)
{
    char cn[64], dn[256], changes[256];
    snprintf(cn, sizeof cn, "v-wl-bad-mod-%d", _i);
    snprintf(dn, sizeof dn, "cn=%s," GROUPS, cn);
    base_group(cn, NULL);
    snprintf(changes, sizeof changes, "add: dmgWhitelist\ndmgWhitelist: %s\n", bad_whitelist[_i]);
    MODIFY_REFUSED(dn, changes, LDAP_INVALID_SYNTAX, "dmgWhitelist", bad_whitelist[_i], NULL);
}
END_TEST

/* Valid edge cases that must be accepted. */
START_TEST(policy_values_case_insensitive)
{
    base_group("v-pol-case", "dmgSendPolicy: Members\n");
    ASSERT_STORED(G("v-pol-case"), "dmgSendPolicy", "Members");
    base_group("v-pol-case-2", "dmgSendPolicy: ANYONE\ndmgSendPolicy: Domain\n");
    MODIFY_OK(G("v-pol-case"), "replace: dmgSendPolicy\ndmgSendPolicy: WhiteList\n-\n"
                               "add: dmgWhitelist\ndmgWhitelist: someone@example.org\n");
    ASSERT_STORED(G("v-pol-case"), "dmgSendPolicy", "WhiteList");
}
END_TEST

START_TEST(whitelist_values_valid)
{
    base_group("v-wl-ok", "dmgSendPolicy: whitelist\ndmgWhitelist: @example.org\n"
                          "dmgWhitelist: user@example.org\n");
    ASSERT_STORED(G("v-wl-ok"), "dmgWhitelist", "@example.org\nuser@example.org");
    /* a whitelist without the whitelist policy is kept (unused) */
    base_group("v-wl-ok-2", "dmgWhitelist: User@Example.ORG\n");
    MODIFY_OK(G("v-wl-ok-2"), "add: dmgWhitelist\ndmgWhitelist: @Sub.Example.org\n");
    ASSERT_STORED(G("v-wl-ok-2"), "dmgWhitelist", "@Sub.Example.org\nUser@Example.ORG");
}
END_TEST

/* ============================================================================================
 * computed attributes
 * ========================================================================================== */

START_TEST(add_member)
{
    ADD_REFUSED("v-comp-member",
                "mail: v-comp-member@example.com\n" DEPT_ENG "member: " BOB "\n",
                LDAP_CONSTRAINT_VIOLATION, "member", BOB, NULL);
}
END_TEST

START_TEST(mod_member)
{
    base_group("v-comp-member-mod", NULL);
    MODIFY_REFUSED(G("v-comp-member-mod"), "add: member\nmember: " BOB "\n",
                   LDAP_CONSTRAINT_VIOLATION, "member", BOB, NULL);
    MODIFY_REFUSED(G("v-comp-member-mod"), "replace: member\nmember: " ALICE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "member", ALICE, NULL);
}
END_TEST

START_TEST(add_member_mail)
{
    ADD_REFUSED("v-comp-mm",
                "mail: v-comp-mm@example.com\n" DEPT_ENG "dmgMemberMail: x@example.com\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgMemberMail", "x@example.com", NULL);
}
END_TEST

START_TEST(mod_member_mail)
{
    base_group("v-comp-mm-mod", NULL);
    MODIFY_REFUSED(G("v-comp-mm-mod"), "add: dmgMemberMail\ndmgMemberMail: x@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgMemberMail", "x@example.com", NULL);
}
END_TEST

START_TEST(add_member_count)
{
    ADD_REFUSED("v-comp-mc",
                "mail: v-comp-mc@example.com\n" DEPT_ENG "dmgMemberCount: 42\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgMemberCount", "42", NULL);
}
END_TEST

START_TEST(mod_member_count)
{
    base_group("v-comp-mc-mod", NULL);
    MODIFY_REFUSED(G("v-comp-mc-mod"), "replace: dmgMemberCount\ndmgMemberCount: 42\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgMemberCount", "42", NULL);
}
END_TEST

START_TEST(mod_member_of_on_employee)
{
    base_group("v-comp-mo", NULL);
    MODIFY_REFUSED(BOB, "add: dmgMemberOf\ndmgMemberOf: " G("v-comp-mo") "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgMemberOf", G("v-comp-mo"), NULL);
}
END_TEST

/* ============================================================================================
 * Suite "limits": dynmailgroup-max-departments 2, dynmailgroup-max-whitelist 3
 * ========================================================================================== */

#define THREE_DEPTS \
    "dmgDepartment: " ENGINEERING "\ndmgDepartment: " SALES "\ndmgDepartment: " FINANCE "\n"

START_TEST(limit_departments_add)
{
    ADD_OK("l-dept-2", "mail: l-dept-2@example.com\n"
                       "dmgDepartment: " ENGINEERING "\ndmgDepartment: " SALES "\n");
    ADD_REFUSED("l-dept-3", "mail: l-dept-3@example.com\n" THREE_DEPTS,
                LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", "2", NULL);
}
END_TEST

START_TEST(limit_departments_modify)
{
    ADD_OK("l-dept-mod", "mail: l-dept-mod@example.com\n"
                         "dmgDepartment: " ENGINEERING "\ndmgDepartment: " SALES "\n");
    MODIFY_REFUSED(G("l-dept-mod"), "add: dmgDepartment\ndmgDepartment: " FINANCE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", "2", NULL);
    MODIFY_REFUSED(G("l-dept-mod"), "replace: dmgDepartment\n"
                   "dmgDepartment: " SUPPORT "\ndmgDepartment: " SALES "\ndmgDepartment: " FINANCE "\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgDepartment", "2", NULL);
    /* replacing within the limit is fine */
    MODIFY_OK(G("l-dept-mod"), "replace: dmgDepartment\n"
                               "dmgDepartment: " SUPPORT "\ndmgDepartment: " FINANCE "\n");
}
END_TEST

#define THREE_WL \
    "dmgWhitelist: a@example.org\ndmgWhitelist: b@example.org\ndmgWhitelist: @example.net\n"

START_TEST(limit_whitelist_add)
{
    ADD_OK("l-wl-3", "mail: l-wl-3@example.com\n" DEPT_ENG "dmgSendPolicy: whitelist\n" THREE_WL);
    ADD_REFUSED("l-wl-4", "mail: l-wl-4@example.com\n" DEPT_ENG "dmgSendPolicy: whitelist\n"
                THREE_WL "dmgWhitelist: d@example.org\n",
                LDAP_CONSTRAINT_VIOLATION, "dmgWhitelist", "3", NULL);
}
END_TEST

START_TEST(limit_whitelist_modify)
{
    ADD_OK("l-wl-mod", "mail: l-wl-mod@example.com\n" DEPT_ENG "dmgSendPolicy: whitelist\n"
           THREE_WL);
    MODIFY_REFUSED(G("l-wl-mod"), "add: dmgWhitelist\ndmgWhitelist: d@example.org\n",
                   LDAP_CONSTRAINT_VIOLATION, "dmgWhitelist", "3", NULL);
}
END_TEST

/* ============================================================================================
 * main
 * ========================================================================================== */

#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))


/* Attribute options make other attribute descriptions: "mail;lang-en" is still an address. */
START_TEST(employee_mail_with_option_is_checked)
{
    base_group("v-opt-emp", NULL);
    MODIFY_REFUSED(BOB, "add: mail;lang-en\nmail;lang-en: v-opt-emp@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail", "v-opt-emp@example.com", G("v-opt-emp"));
}
END_TEST

START_TEST(group_attributes_with_options_refused)
{
    base_group("v-opt-grp", NULL);
    MODIFY_REFUSED(G("v-opt-grp"), "add: mail;lang-en\nmail;lang-en: other@example.com\n",
                   LDAP_CONSTRAINT_VIOLATION, "mail;lang-en", "other@example.com", NULL);
    MODIFY_REFUSED(G("v-opt-grp"), "add: member;lang-en\nmember;lang-en: " BOB "\n",
                   LDAP_CONSTRAINT_VIOLATION, "member", BOB, NULL);
}
END_TEST

static Suite *validation_suite(void)
{
    Suite *s = suite_create("validation");

    TCase *tc = dmg_tcase("mail");
    tcase_add_test(tc, add_mail_missing);
    tcase_add_test(tc, employee_mail_with_option_is_checked);
    tcase_add_test(tc, group_attributes_with_options_refused);
    tcase_add_test(tc, mod_mail_deleted);
    tcase_add_test(tc, add_mail_not_an_address);
    tcase_add_test(tc, mod_mail_not_an_address);
    tcase_add_test(tc, add_mail_two_values);
    tcase_add_test(tc, mod_mail_second_value);
    tcase_add_test(tc, add_mail_of_employee);
    tcase_add_test(tc, add_mail_of_employee_case_insensitive);
    tcase_add_test(tc, mod_mail_of_employee);
    tcase_add_test(tc, add_mail_of_group);
    tcase_add_test(tc, mod_mail_of_group);
    tcase_add_test(tc, employee_add_with_group_mail);
    tcase_add_test(tc, employee_modify_with_group_mail);
    tcase_add_test(tc, own_mail_is_not_a_duplicate);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("department");
    tcase_add_test(tc, add_department_missing);
    tcase_add_test(tc, mod_department_delete_last);
    tcase_add_test(tc, add_department_nonexistent);
    tcase_add_test(tc, mod_department_nonexistent);
    tcase_add_test(tc, add_department_not_a_department);
    tcase_add_test(tc, mod_department_not_a_department);
    tcase_add_test(tc, delete_named_department);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("condition");
    tcase_add_test(tc, add_condition_not_a_filter);
    tcase_add_test(tc, mod_condition_not_a_filter);
    tcase_add_test(tc, add_condition_unknown_attribute);
    tcase_add_test(tc, mod_condition_unknown_attribute);
    tcase_add_loop_test(tc, add_condition_computed_attribute, 0, N_ROWS(computed_conditions));
    tcase_add_loop_test(tc, mod_condition_computed_attribute, 0, N_ROWS(computed_conditions));
    tcase_add_test(tc, conditions_valid);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("audit");
    tcase_add_test(tc, add_audit_without_auditor);
    tcase_add_test(tc, mod_audit_on_without_auditor);
    tcase_add_test(tc, mod_remove_last_auditor);
    tcase_add_test(tc, add_auditor_nonexistent);
    tcase_add_test(tc, mod_auditor_nonexistent);
    tcase_add_test(tc, add_administrator_nonexistent);
    tcase_add_test(tc, mod_administrator_nonexistent);
    tcase_add_test(tc, audit_and_roles_valid);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("policy");
    tcase_add_test(tc, add_policy_unknown);
    tcase_add_test(tc, mod_policy_unknown);
    tcase_add_test(tc, add_whitelist_policy_without_whitelist);
    tcase_add_test(tc, mod_whitelist_policy_without_whitelist);
    tcase_add_test(tc, mod_delete_last_whitelist_value);
    tcase_add_loop_test(tc, add_whitelist_malformed, 0, N_ROWS(bad_whitelist));
    tcase_add_loop_test(tc, mod_whitelist_malformed, 0, N_ROWS(bad_whitelist));
    tcase_add_test(tc, policy_values_case_insensitive);
    tcase_add_test(tc, whitelist_values_valid);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("computed");
    tcase_add_test(tc, add_member);
    tcase_add_test(tc, mod_member);
    tcase_add_test(tc, add_member_mail);
    tcase_add_test(tc, mod_member_mail);
    tcase_add_test(tc, add_member_count);
    tcase_add_test(tc, mod_member_count);
    tcase_add_test(tc, mod_member_of_on_employee);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *limits_suite(void)
{
    Suite *s = suite_create("limits");
    TCase *tc = dmg_tcase("limits");
    tcase_add_test(tc, limit_departments_add);
    tcase_add_test(tc, limit_departments_modify);
    tcase_add_test(tc, limit_whitelist_add);
    tcase_add_test(tc, limit_whitelist_modify);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const dmg_server_opts validation_opts = {
        .db_config =
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to * by users read by anonymous read\n",
        .overlay_config = "dynmailgroup-postmaster uid=postmaster,ou=System,dc=example,dc=com\n",
    };
    const dmg_server_opts limits_opts = {
        .db_config = validation_opts.db_config,
        .overlay_config = "dynmailgroup-max-departments 2\ndynmailgroup-max-whitelist 3\n",
    };
    int rc1 = dmg_run_suite(validation_suite(), &validation_opts, &srv);
    int rc2 = dmg_run_suite(limits_suite(), &limits_opts, &srv);
    return (rc1 == EXIT_SUCCESS && rc2 == EXIT_SUCCESS) ? EXIT_SUCCESS : EXIT_FAILURE;
}
