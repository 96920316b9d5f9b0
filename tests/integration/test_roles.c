/*
 * test_roles.c -- man page ACCESS CONTROL against a real slapd: who may create, modify, rename and
 * delete a dynamicMailGroup, the dmgApplicant stamp, group/dynamicMailGroup/member=... ACL
 * clauses, and hidden groups (dmgShowInContacts: FALSE).
 *
 * Three servers, one suite each:
 *  - "roles": ACLs give ordinary users read only; every write right on groups comes from the
 *    overlay's access hook (postmasters, administrators), none from an ACL line.  Also the
 *    roles remembered per identity between reads: across connections, proxied identities,
 *    more identities than slots, a re-added entry, a reader racing the grant and revoke.
 *  - "acl":   ACLs with group/dynamicMailGroup/member clauses, and an ACL that gives users
 *    write on ou=Groups (which the overlay must cap at read on groups).
 *  - "other database": a group of postmasters held by a second database; its tests also
 *    start their own servers (a provider and its replica, a SASL identity mapping).
 *
 * Each test adds its own groups (unique cn and mail) under ou=Groups, so tests may run in any
 * order against the suite's shared server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "harness.h"

/* ---- identities of tests/fixtures/org.ldif ------------------------------------------------- */

#define GROUPS      "ou=Groups," DMG_SUFFIX
#define POSTMASTER  "uid=postmaster,ou=System," DMG_SUFFIX  /* postmaster by DN */
#define PM2         "uid=pm2,ou=System," DMG_SUFFIX         /* through groupOfNames */
#define PM3         "uid=pm3,ou=System," DMG_SUFFIX         /* through groupOfUniqueNames */
#define MTA         "uid=mta,ou=System," DMG_SUFFIX         /* dynmailgroup-privileged */
#define READER      "uid=reader,ou=System," DMG_SUFFIX      /* ordinary account */
#define ADMIN       "uid=carol,ou=Engineering," DMG_SUFFIX  /* dmgAdministrator of test groups */
#define AUDITOR     "uid=dave,ou=Engineering," DMG_SUFFIX   /* dmgAuditor of test groups */
#define APPLICANT   "uid=heidi,ou=Backend,ou=Engineering," DMG_SUFFIX /* applicant via Relax */
#define EMPLOYEE    "uid=erin,ou=Engineering," DMG_SUFFIX   /* ordinary employee, a member */
#define BOB         "uid=bob,ou=Engineering," DMG_SUFFIX
#define ENGINEERING "ou=Engineering," DMG_SUFFIX
#define SALES       "ou=Sales," DMG_SUFFIX

#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

static dmg_server *srv;

/* ---- small helpers ---------------------------------------------------------------------------- */

static void group_dn(char *buf, size_t n, const char *cn)
{
    snprintf(buf, n, "cn=%s," GROUPS, cn);
}

static dmg_result add_group(LDAP *ld, const char *cn, const char *extra)
{
    return dmg_add_mail_group(ld, cn, extra, NULL);
}

static void root_add_group(const char *cn, const char *extra)
{
    dmg_root_add_mail_group(srv, cn, extra, NULL, 0);
}

/* As the rootdn, a group as a postmaster would have created it (dmgApplicant: POSTMASTER,
 * written with the Relax Rules control), so that tests about changing it do not depend on
 * postmasters being able to create groups. */
static void root_add_group_by_postmaster(const char *cn, const char *extra)
{
    char more[1024];
    snprintf(more, sizeof more, "dmgApplicant: " POSTMASTER "\n%s", extra != NULL ? extra : "");
    dmg_root_add_mail_group(srv, cn, more, DMG_CTRLS(dmg_ctrl_relax()), 0);
}

/* Adds the group when it is not there yet (several tests share an ACL's group). */
static void root_ensure_group(const char *cn, const char *extra)
{
    dmg_root_add_mail_group(srv, cn, extra, NULL, 1);
}

#define ASSERT_DIAG_HAS(res, needle) \
    do { const dmg_result *r_ = &(res); \
         ck_assert_msg(dmg_contains_ci(r_->diag, (needle)), \
                       "diagnostic \"%s\" does not mention \"%s\"", r_->diag, (needle)); } while (0)

/* A search's DNs contain dn (1) or not (0). */
static int search_has(LDAP *ld, const char *base, int scope, const char *filter, const char *dn)
{
    const char *attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, base, scope, filter, attrs, NULL, &e);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "search %s under %s: %s (%d) \"%s\"", filter, base,
                  ldap_err2string(r.rc), r.rc, r.diag);
    int found = dmg_entries_find(e, dn) != NULL;
    dmg_entries_free(e);
    return found;
}

/* The values of attr on dn as ld sees them contain value (case-insensitive). */
static int value_seen(LDAP *ld, const char *dn, const char *attr, const char *value)
{
    const char *attrs[] = { attr, NULL };
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, &e);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "reading %s of %s: %s (%d) \"%s\"", attr, dn,
                  ldap_err2string(r.rc), r.rc, r.diag);
    int found = 0;
    const dmg_attr *a = e->count == 1 ? dmg_entry_attr(&e->entries[0], attr) : NULL;
    for (size_t i = 0; a != NULL && i < a->nvalues; i++)
        if (strcasecmp(a->values[i], value) == 0)
            found = 1;
    dmg_entries_free(e);
    return found;
}

/* ============================================================================================
 * Suite "roles"
 * ========================================================================================== */

typedef struct who {
    const char *label;
    const char *dn; /* NULL: anonymous */
} who;

/* ---- create ------------------------------------------------------------------------------- */

static const who creators[] = {
    { "rootdn", DMG_ROOTDN },
    { "postmaster", POSTMASTER },
    { "pm2", PM2 },
    { "pm3", PM3 },
};

/* The rootdn and every kind of postmaster create groups; dmgApplicant is their identity. */
START_TEST(create_allowed)
{
    const who *w = &creators[_i];
    char cn[64], dn[256];
    snprintf(cn, sizeof cn, "r-create-ok-%s", w->label);
    group_dn(dn, sizeof dn, cn);

    LDAP *ld = dmg_connect_as(srv, w->dn);
    DMG_ASSERT_RC(add_group(ld, cn, NULL), LDAP_SUCCESS);
    dmg_disconnect(ld);
    ck_assert_msg(dmg_root_sees(srv, dn), "%s added %s but it is not there", w->label, dn);
    char *applicant = dmg_root_values(srv, dn, "dmgApplicant");
    ck_assert_msg(strcasecmp(applicant, w->dn) == 0, "dmgApplicant \"%s\", expected \"%s\"",
                  applicant, w->dn);
    free(applicant);
}
END_TEST

static const who non_creators[] = {
    { "administrator", ADMIN },
    { "auditor", AUDITOR },
    { "employee", EMPLOYEE },
    { "reader", READER },
    { "mta", MTA },
    { "anonymous", NULL },
};

/* Anyone else gets insufficientAccess, even naming themselves administrator, and nothing is
 * added. ADMIN is the administrator of an existing group, so "an administrator" for real. */
START_TEST(create_refused)
{
    const who *w = &non_creators[_i];
    char cn[64], dn[256], extra[256];
    snprintf(cn, sizeof cn, "r-create-no-%s", w->label);
    group_dn(dn, sizeof dn, cn);
    root_ensure_group("r-create-no-admins-group", "dmgAdministrator: " ADMIN "\n");

    if (w->dn != NULL)
        snprintf(extra, sizeof extra, "dmgAdministrator: %s\n", w->dn);
    else
        extra[0] = '\0';
    LDAP *ld = dmg_connect_as(srv, w->dn);
    DMG_ASSERT_RC(add_group(ld, cn, extra), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    ck_assert_msg(!dmg_root_sees(srv, dn), "%s's refused add left %s behind", w->label, dn);
}
END_TEST

/* ---- dmgApplicant --------------------------------------------------------------------------- */

START_TEST(applicant_other_on_add_refused)
{
    const char *dn = "cn=r-app-other," GROUPS;
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    dmg_result r = add_group(ld, "r-app-other", "dmgApplicant: " BOB "\n");
    dmg_disconnect(ld);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ASSERT_DIAG_HAS(r, "dmgApplicant");
    ASSERT_DIAG_HAS(r, BOB);
    ck_assert_msg(!dmg_root_sees(srv, dn), "refused add left %s behind", dn);
}
END_TEST

START_TEST(applicant_other_on_add_by_rootdn_refused)
{
    const char *dn = "cn=r-app-other-root," GROUPS;
    LDAP *ld = dmg_connect_as(srv, DMG_ROOTDN);
    dmg_result r = add_group(ld, "r-app-other-root", "dmgApplicant: " BOB "\n");
    dmg_disconnect(ld);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ASSERT_DIAG_HAS(r, "dmgApplicant");
    ck_assert_msg(!dmg_root_sees(srv, dn), "refused add left %s behind", dn);
}
END_TEST

START_TEST(applicant_other_on_add_by_rootdn_relax)
{
    const char *dn = "cn=r-app-other-relax," GROUPS;
    LDAP *ld = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_mail_group(ld, "r-app-other-relax", "dmgApplicant: " BOB "\n",
                                DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgApplicant", BOB);
}
END_TEST

START_TEST(applicant_own_on_add)
{
    const char *dn = "cn=r-app-own," GROUPS;
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    DMG_ASSERT_RC(add_group(ld, "r-app-own", "dmgApplicant: " POSTMASTER "\n"), LDAP_SUCCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgApplicant", POSTMASTER);
}
END_TEST

/* Any later change of dmgApplicant is refused with constraintViolation ... */
static const struct {
    const char *label;
    const char *binddn;
    const char *changes;
} applicant_changes[] = {
    { "postmaster replace", POSTMASTER, "replace: dmgApplicant\ndmgApplicant: " BOB "\n" },
    { "postmaster delete", POSTMASTER, "delete: dmgApplicant\n" },
    { "pm2 replace", PM2, "replace: dmgApplicant\ndmgApplicant: " PM2 "\n" },
    { "administrator replace", ADMIN, "replace: dmgApplicant\ndmgApplicant: " ADMIN "\n" },
    { "rootdn replace", DMG_ROOTDN, "replace: dmgApplicant\ndmgApplicant: " BOB "\n" },
    { "rootdn delete", DMG_ROOTDN, "delete: dmgApplicant\n" },
};

START_TEST(applicant_change_refused)
{
    char cn[64], dn[256];
    snprintf(cn, sizeof cn, "r-app-change-%d", _i);
    group_dn(dn, sizeof dn, cn);
    root_add_group_by_postmaster(cn, "dmgAdministrator: " ADMIN "\n");

    LDAP *ld = dmg_connect_as(srv, applicant_changes[_i].binddn);
    dmg_result r = dmg_modify(ld, dn, applicant_changes[_i].changes);
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_CONSTRAINT_VIOLATION,
                  "%s: got %s (%d), expected constraintViolation (19); diagnostic \"%s\"",
                  applicant_changes[_i].label, ldap_err2string(r.rc), r.rc, r.diag);
    ASSERT_DIAG_HAS(r, "dmgApplicant");
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgApplicant", POSTMASTER);
}
END_TEST

/* ... the Relax Rules control does not help anyone but the rootdn ... */
START_TEST(applicant_change_by_postmaster_with_relax_refused)
{
    const char *dn = "cn=r-app-pm-relax," GROUPS;
    root_add_group_by_postmaster("r-app-pm-relax", NULL);
    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
    dmg_result r = dmg_modify_ext(pm, dn, "replace: dmgApplicant\ndmgApplicant: " BOB "\n",
                                  DMG_CTRLS(dmg_ctrl_relax()));
    dmg_disconnect(pm);
    ck_assert_msg(r.rc != LDAP_SUCCESS, "postmaster changed dmgApplicant with Relax");
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgApplicant", POSTMASTER);
}
END_TEST

/* ... the rootdn with Relax may repair it. */
START_TEST(applicant_change_by_rootdn_with_relax)
{
    const char *dn = "cn=r-app-root-relax," GROUPS;
    root_add_group_by_postmaster("r-app-root-relax", NULL);
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_modify_ext(root, dn, "replace: dmgApplicant\ndmgApplicant: " BOB "\n",
                                 DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgApplicant", BOB);
}
END_TEST

/* ---- administrators ------------------------------------------------------------------------ */

/* Every stored attribute but dmgApplicant and dmgAdministrator, one test each. */
static const struct {
    const char *attr;
    const char *changes;
    const char *expected; /* values of attr afterwards, "\n"-separated */
} admin_changes[] = {
    { "description", "replace: description\ndescription: changed by the administrator\n",
      "changed by the administrator" },
    { "cn", "add: cn\ncn: r-adm-alias\n", NULL /* filled below: rdn + alias */ },
    { "dmgCondition", "add: dmgCondition\ndmgCondition: (title=Engineer)\n",
      "(title=Engineer)" },
    { "dmgSendPolicy", "replace: dmgSendPolicy\ndmgSendPolicy: members\ndmgSendPolicy: anyone\n",
      "anyone\nmembers" },
    { "mail", "replace: mail\nmail: r-adm-renamed-address@example.com\n",
      "r-adm-renamed-address@example.com" },
    { "dmgDepartment", "replace: dmgDepartment\ndmgDepartment: " SALES "\n", SALES },
    { "dmgIncludeSubDepartments",
      "replace: dmgIncludeSubDepartments\ndmgIncludeSubDepartments: FALSE\n", "FALSE" },
    { "dmgShowInContacts", "replace: dmgShowInContacts\ndmgShowInContacts: FALSE\n", "FALSE" },
    { "dmgWhitelist",
      "add: dmgWhitelist\ndmgWhitelist: @example.org\n-\n"
      "replace: dmgSendPolicy\ndmgSendPolicy: whitelist\n", "@example.org" },
    { "dmgAuditor", "add: dmgAuditor\ndmgAuditor: " AUDITOR "\n-\n"
      "replace: dmgAuditRequired\ndmgAuditRequired: TRUE\n", AUDITOR },
    { "dmgAuditRequired", "add: dmgAuditor\ndmgAuditor: " AUDITOR "\n-\n"
      "replace: dmgAuditRequired\ndmgAuditRequired: TRUE\n", "TRUE" },
};

START_TEST(administrator_modifies_configuration)
{
    char cn[64], dn[256], expected[256];
    snprintf(cn, sizeof cn, "r-adm-mod-%d", _i);
    group_dn(dn, sizeof dn, cn);
    root_add_group(cn, "dmgAdministrator: " ADMIN "\n");

    LDAP *ld = dmg_connect_as(srv, ADMIN);
    dmg_result r = dmg_modify(ld, dn, admin_changes[_i].changes);
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_SUCCESS,
                  "administrator modifying %s: %s (%d), expected success; diagnostic \"%s\"",
                  admin_changes[_i].attr, ldap_err2string(r.rc), r.rc, r.diag);
    if (admin_changes[_i].expected != NULL)
        snprintf(expected, sizeof expected, "%s", admin_changes[_i].expected);
    else
        snprintf(expected, sizeof expected, "%s\nr-adm-alias", cn);
    char *got = dmg_root_values(srv, dn, admin_changes[_i].attr);
    char *exp = dmg_sorted_lines(expected);
    dmg_assert_str_impl(__FILE__, __LINE__, admin_changes[_i].attr, got, exp);
    free(got);
    free(exp);
    /* the roles are untouched */
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgAdministrator", ADMIN);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgApplicant", DMG_ROOTDN);
}
END_TEST

/* A rename runs with the role's grant: an administrator may not use it to move the group. */
START_TEST(administrator_may_not_move)
{
    const char *dn = "cn=r-adm-move," GROUPS;
    root_add_group("r-adm-move", "dmgAdministrator: " ADMIN "\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    dmg_result r = dmg_rename(ld, dn, "cn=r-adm-move", "ou=System," DMG_SUFFIX, 1);
    dmg_disconnect(ld);
    DMG_ASSERT_RC(r, LDAP_INSUFFICIENT_ACCESS);
    ck_assert_msg(strstr(r.diag, "not move") != NULL, "diagnostic \"%s\"", r.diag);
    ck_assert_msg(dmg_root_sees(srv, dn), "%s moved away", dn);
}
END_TEST

START_TEST(administrator_renames)
{
    const char *dn = "cn=r-adm-ren," GROUPS;
    const char *new_dn = "cn=r-adm-ren-new," GROUPS;
    root_add_group("r-adm-ren", "dmgAdministrator: " ADMIN "\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    DMG_ASSERT_RC(dmg_rename(ld, dn, "cn=r-adm-ren-new", NULL, 1), LDAP_SUCCESS);
    dmg_disconnect(ld);
    ck_assert_msg(!dmg_root_sees(srv, dn), "%s still there after the rename", dn);
    ck_assert_msg(dmg_root_sees(srv, new_dn), "%s missing after the rename", new_dn);
    DMG_ASSERT_ROOT_VALUES(srv, new_dn, "cn", "r-adm-ren-new");
    DMG_ASSERT_ROOT_VALUES(srv, new_dn, "dmgAdministrator", ADMIN);
}
END_TEST

static const struct {
    const char *label;
    const char *changes;
} admin_admin_changes[] = {
    { "add another", "add: dmgAdministrator\ndmgAdministrator: " BOB "\n" },
    { "replace", "replace: dmgAdministrator\ndmgAdministrator: " BOB "\n" },
    { "delete self", "delete: dmgAdministrator\ndmgAdministrator: " ADMIN "\n" },
    { "delete all", "delete: dmgAdministrator\n" },
    { "with description", "replace: description\ndescription: x\n-\n"
      "add: dmgAdministrator\ndmgAdministrator: " BOB "\n" },
};

START_TEST(administrator_may_not_change_administrators)
{
    char cn[64], dn[256];
    snprintf(cn, sizeof cn, "r-adm-adm-%d", _i);
    group_dn(dn, sizeof dn, cn);
    root_add_group(cn, "dmgAdministrator: " ADMIN "\ndescription: before\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    dmg_result r = dmg_modify(ld, dn, admin_admin_changes[_i].changes);
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS,
                  "%s: got %s (%d), expected insufficientAccess (50); diagnostic \"%s\"",
                  admin_admin_changes[_i].label, ldap_err2string(r.rc), r.rc, r.diag);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgAdministrator", ADMIN);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "description", "before");
}
END_TEST

START_TEST(administrator_may_not_delete)
{
    const char *dn = "cn=r-adm-del," GROUPS;
    root_add_group("r-adm-del", "dmgAdministrator: " ADMIN "\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    DMG_ASSERT_RC(dmg_delete(ld, dn), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    ck_assert_msg(dmg_root_sees(srv, dn), "%s gone after a refused delete", dn);
}
END_TEST

/* Rights are per group: administering one group gives nothing on another. */
START_TEST(administrator_of_another_group)
{
    const char *dn = "cn=r-adm-other," GROUPS;
    root_add_group("r-adm-other-mine", "dmgAdministrator: " ADMIN "\n");
    root_add_group("r-adm-other", "dmgAdministrator: " BOB "\ndescription: before\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    DMG_ASSERT_RC(dmg_modify(ld, dn, "replace: description\ndescription: x\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_rename(ld, dn, "cn=r-adm-other-new", NULL, 1), LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_delete(ld, dn), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "description", "before");
}
END_TEST

/* ---- postmasters ---------------------------------------------------------------------------- */

static const who postmasters[] = {
    { "postmaster", POSTMASTER },
    { "pm2", PM2 },
    { "pm3", PM3 },
};

START_TEST(postmaster_modifies_everything)
{
    const who *w = &postmasters[_i];
    char cn[64], dn[256];
    snprintf(cn, sizeof cn, "r-pm-mod-%s", w->label);
    group_dn(dn, sizeof dn, cn);
    root_add_group(cn, "dmgAdministrator: " ADMIN "\n");

    LDAP *ld = dmg_connect_as(srv, w->dn);
    DMG_ASSERT_RC(dmg_modify(ld, dn, "add: dmgAdministrator\ndmgAdministrator: " BOB "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(ld, dn, "delete: dmgAdministrator\ndmgAdministrator: " ADMIN "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(ld, dn,
                             "replace: description\ndescription: by the postmaster\n-\n"
                             "replace: dmgSendPolicy\ndmgSendPolicy: anyone\n-\n"
                             "add: dmgAuditor\ndmgAuditor: " AUDITOR "\n-\n"
                             "replace: dmgAuditRequired\ndmgAuditRequired: TRUE\n-\n"
                             "replace: dmgShowInContacts\ndmgShowInContacts: FALSE\n-\n"
                             "replace: dmgDepartment\ndmgDepartment: " SALES "\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgAdministrator", BOB);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "description", "by the postmaster");
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgAuditor", AUDITOR);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgDepartment", SALES);
}
END_TEST

START_TEST(postmaster_renames_and_deletes)
{
    const who *w = &postmasters[_i];
    char cn[64], dn[256], newrdn[96], new_dn[256];
    snprintf(cn, sizeof cn, "r-pm-del-%s", w->label);
    group_dn(dn, sizeof dn, cn);
    snprintf(newrdn, sizeof newrdn, "cn=%s-new", cn);
    snprintf(new_dn, sizeof new_dn, "%s," GROUPS, newrdn);
    root_add_group(cn, NULL);

    LDAP *ld = dmg_connect_as(srv, w->dn);
    DMG_ASSERT_RC(dmg_rename(ld, dn, newrdn, NULL, 1), LDAP_SUCCESS);
    ck_assert_msg(dmg_root_sees(srv, new_dn), "%s missing after the rename", new_dn);
    DMG_ASSERT_RC(dmg_delete(ld, new_dn), LDAP_SUCCESS);
    dmg_disconnect(ld);
    ck_assert_msg(!dmg_root_sees(srv, new_dn), "%s still there after the delete", new_dn);
}
END_TEST

/* A postmaster's rights are on groups only: ordinary entries keep what the ACLs give. */
START_TEST(postmaster_no_bypass_outside_groups)
{
    LDAP *ld = dmg_connect_as(srv, POSTMASTER);
    DMG_ASSERT_RC(dmg_modify(ld, BOB, "replace: description\ndescription: x\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_add_ldif(ld, "dn: uid=r-pm-new," SALES "\nobjectClass: inetOrgPerson\n"
                                   "uid: r-pm-new\ncn: New\nsn: New\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, BOB, "description", "");
    ck_assert(!dmg_root_sees(srv, "uid=r-pm-new," SALES));
}
END_TEST

/* ---- everybody else ------------------------------------------------------------------------- */

static const who nobodies[] = {
    { "employee", EMPLOYEE },
    { "auditor", AUDITOR },
    { "applicant", APPLICANT },
    { "mta", MTA },
    { "reader", READER },
    { "anonymous", NULL },
};

/* Ordinary identities, auditors, a (non-postmaster) applicant and the privileged MTA get no
 * write right on a group: modify, rename and delete are insufficientAccess. */
START_TEST(others_may_not_write)
{
    const who *w = &nobodies[_i];
    char cn[64], dn[256], newrdn[96];
    snprintf(cn, sizeof cn, "r-other-%s", w->label);
    group_dn(dn, sizeof dn, cn);
    snprintf(newrdn, sizeof newrdn, "cn=%s-new", cn);
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_mail_group(root, cn,
                                "dmgApplicant: " APPLICANT "\n"
                                "dmgAdministrator: " ADMIN "\n"
                                "dmgAuditor: " AUDITOR "\n"
                                "description: before\n",
                                DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    dmg_disconnect(root);

    LDAP *ld = dmg_connect_as(srv, w->dn);
    dmg_result r = dmg_modify(ld, dn, "replace: description\ndescription: x\n");
    ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS, "%s modify: %s (%d) \"%s\"", w->label,
                  ldap_err2string(r.rc), r.rc, r.diag);
    r = dmg_modify(ld, dn, "add: dmgAdministrator\ndmgAdministrator: " BOB "\n");
    ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS, "%s modify dmgAdministrator: %s (%d) \"%s\"",
                  w->label, ldap_err2string(r.rc), r.rc, r.diag);
    r = dmg_rename(ld, dn, newrdn, NULL, 1);
    ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS, "%s rename: %s (%d) \"%s\"", w->label,
                  ldap_err2string(r.rc), r.rc, r.diag);
    r = dmg_delete(ld, dn);
    ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS, "%s delete: %s (%d) \"%s\"", w->label,
                  ldap_err2string(r.rc), r.rc, r.diag);
    dmg_disconnect(ld);
    ck_assert_msg(dmg_root_sees(srv, dn), "%s gone", dn);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "description", "before");
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgAdministrator", ADMIN);
}
END_TEST

/* ---- hidden groups ------------------------------------------------------------------------- */

/* Adds hidden group cn (applicant APPLICANT through Relax, administrator ADMIN, auditor
 * AUDITOR, department Engineering: EMPLOYEE is a member) and visible group cn-visible. */
static void add_hidden_and_visible(const char *cn)
{
    char visible[96];
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_mail_group(root, cn,
                                "dmgShowInContacts: FALSE\n"
                                "dmgApplicant: " APPLICANT "\n"
                                "dmgAdministrator: " ADMIN "\n"
                                "dmgAuditor: " AUDITOR "\n",
                                DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    snprintf(visible, sizeof visible, "%s-visible", cn);
    DMG_ASSERT_RC(add_group(root, visible, NULL), LDAP_SUCCESS);
    dmg_disconnect(root);
}

static const who blind[] = {
    { "employee", EMPLOYEE },
    { "bob", BOB },
    { "reader", READER },
    { "anonymous", NULL },
};

START_TEST(hidden_invisible)
{
    const who *w = &blind[_i];
    char cn[64], dn[256], vdn[256], filter[512];
    snprintf(cn, sizeof cn, "r-hid-no-%s", w->label);
    group_dn(dn, sizeof dn, cn);
    snprintf(vdn, sizeof vdn, "cn=%s-visible," GROUPS, cn);
    add_hidden_and_visible(cn);

    LDAP *ld = dmg_connect_as(srv, w->dn);
    /* search results */
    ck_assert_msg(!search_has(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)", dn),
                  "%s sees hidden %s in a subtree search", w->label, dn);
    ck_assert_msg(search_has(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)", vdn),
                  "%s does not see visible %s", w->label, vdn);
    ck_assert_msg(!search_has(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(objectClass=dynamicMailGroup)",
                              dn), "%s sees hidden %s in a one-level search", w->label, dn);
    snprintf(filter, sizeof filter, "(mail=%s@example.com)", cn);
    ck_assert_msg(!search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, dn),
                  "%s finds hidden %s by its mail", w->label, dn);
    /* base reads */
    const char *attrs[] = { "cn", NULL };
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
    ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT, "%s base search of hidden group: %s (%d) \"%s\"",
                  w->label, ldap_err2string(r.rc), r.rc, r.diag);
    /* compares */
    r = dmg_compare(ld, dn, "cn", cn);
    ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT, "%s compare cn on hidden group: %s (%d) \"%s\"",
                  w->label, ldap_err2string(r.rc), r.rc, r.diag);
    r = dmg_compare(ld, dn, "member", EMPLOYEE);
    ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT,
                  "%s compare member on hidden group: %s (%d) \"%s\"", w->label,
                  ldap_err2string(r.rc), r.rc, r.diag);
    /* reverse filters and dmgMemberOf */
    ck_assert_msg(!search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" EMPLOYEE ")", dn),
                  "%s finds hidden %s with (member=...)", w->label, dn);
    ck_assert_msg(search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" EMPLOYEE ")", vdn),
                  "%s does not find visible %s with (member=...)", w->label, vdn);
    ck_assert_msg(!search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE,
                              "(dmgMemberMail=erin@example.com)", dn),
                  "%s finds hidden %s with (dmgMemberMail=...)", w->label, dn);
    ck_assert_msg(!value_seen(ld, EMPLOYEE, "dmgMemberOf", dn),
                  "%s sees hidden %s in dmgMemberOf", w->label, dn);
    ck_assert_msg(value_seen(ld, EMPLOYEE, "dmgMemberOf", vdn),
                  "%s does not see visible %s in dmgMemberOf", w->label, vdn);
    snprintf(filter, sizeof filter, "(dmgMemberOf=%s)", dn);
    ck_assert_msg(!search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, EMPLOYEE),
                  "%s finds members of hidden %s with (dmgMemberOf=...)", w->label, dn);
    /* decisions */
    snprintf(filter, sizeof filter, "(&(mail=%s@example.com)(dmgSender=erin@example.com))", cn);
    ck_assert_msg(!search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, dn),
                  "%s gets a decision from hidden %s", w->label, dn);
    /* ManageDsaIT returns entries as stored, but does not reveal hidden groups */
    {
        dmg_entries *e = NULL;
        r = dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)", attrs,
                       DMG_CTRLS(dmg_ctrl_manage_dsait()), &e);
        ck_assert_msg(r.rc == LDAP_SUCCESS && dmg_entries_find(e, dn) == NULL,
                      "%s sees hidden %s with ManageDsaIT (rc %d)", w->label, dn, r.rc);
        dmg_entries_free(e);
        r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, DMG_CTRLS(dmg_ctrl_manage_dsait()),
                       NULL);
        ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT,
                      "%s base search of hidden group with ManageDsaIT: %s (%d)", w->label,
                      ldap_err2string(r.rc), r.rc);
        r = dmg_compare_ext(ld, dn, "cn", cn, DMG_CTRLS(dmg_ctrl_manage_dsait()));
        ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT,
                      "%s compare on hidden group with ManageDsaIT: %s (%d)", w->label,
                      ldap_err2string(r.rc), r.rc);
    }
    dmg_disconnect(ld);
}
END_TEST

static const who seeing[] = {
    { "rootdn", DMG_ROOTDN },
    { "postmaster", POSTMASTER },
    { "pm2", PM2 },
    { "pm3", PM3 },
    { "mta", MTA },
    { "applicant", APPLICANT },
    { "administrator", ADMIN },
    { "auditor", AUDITOR },
};

START_TEST(hidden_visible_to_roles)
{
    const who *w = &seeing[_i];
    char cn[64], dn[256], filter[512];
    snprintf(cn, sizeof cn, "r-hid-yes-%s", w->label);
    group_dn(dn, sizeof dn, cn);
    add_hidden_and_visible(cn);

    LDAP *ld = dmg_connect_as(srv, w->dn);
    ck_assert_msg(search_has(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)", dn),
                  "%s does not see hidden %s in a subtree search", w->label, dn);
    snprintf(filter, sizeof filter, "(mail=%s@example.com)", cn);
    ck_assert_msg(search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, dn),
                  "%s does not find %s by its mail", w->label, dn);
    const char *attrs[] = { "cn", NULL };
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "%s base search of hidden group: %s (%d) \"%s\"",
                  w->label, ldap_err2string(r.rc), r.rc, r.diag);
    r = dmg_compare(ld, dn, "cn", cn);
    ck_assert_msg(r.rc == LDAP_COMPARE_TRUE, "%s compare cn on hidden group: %s (%d) \"%s\"",
                  w->label, ldap_err2string(r.rc), r.rc, r.diag);
    r = dmg_compare(ld, dn, "member", EMPLOYEE);
    ck_assert_msg(r.rc == LDAP_COMPARE_TRUE,
                  "%s compare member on hidden group: %s (%d) \"%s\"", w->label,
                  ldap_err2string(r.rc), r.rc, r.diag);
    ck_assert_msg(search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" EMPLOYEE ")", dn),
                  "%s does not find hidden %s with (member=...)", w->label, dn);
    ck_assert_msg(value_seen(ld, EMPLOYEE, "dmgMemberOf", dn),
                  "%s does not see hidden %s in dmgMemberOf", w->label, dn);
    ck_assert_msg(value_seen(ld, dn, "member", EMPLOYEE),
                  "%s does not see the members of hidden %s", w->label, dn);
    snprintf(filter, sizeof filter, "(&(mail=%s@example.com)(dmgSender=erin@example.com))", cn);
    ck_assert_msg(search_has(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, dn),
                  "%s gets no decision from hidden %s", w->label, dn);
    dmg_disconnect(ld);
}
END_TEST

/* Being administrator or auditor of one hidden group shows that group only. */
START_TEST(hidden_roles_are_per_group)
{
    const char *dn = "cn=r-hid-other," GROUPS;
    root_add_group("r-hid-other", "dmgShowInContacts: FALSE\ndmgAdministrator: " BOB "\n");
    static const char *const outsiders[] = { ADMIN, AUDITOR, APPLICANT };
    for (int i = 0; i < 3; i++) {
        LDAP *ld = dmg_connect_as(srv, outsiders[i]);
        const char *attrs[] = { "cn", NULL };
        dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
        ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT, "%s reads a hidden group it has no role in: "
                      "%s (%d)", outsiders[i], ldap_err2string(r.rc), r.rc);
        dmg_disconnect(ld);
    }
    LDAP *ld = dmg_connect_as(srv, BOB);
    ck_assert(search_has(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)", dn));
    dmg_disconnect(ld);
}
END_TEST

/* A visible group (dmgShowInContacts absent or TRUE) is seen by everyone. */
START_TEST(visible_group_seen_by_everyone)
{
    static const who everyone[] = {
        { "employee", EMPLOYEE }, { "anonymous", NULL }, { "reader", READER },
        { "mta", MTA }, { "postmaster", POSTMASTER }, { "rootdn", DMG_ROOTDN },
    };
    root_add_group("r-vis-default", NULL);
    root_add_group("r-vis-true", "dmgShowInContacts: TRUE\n");
    for (int i = 0; i < N_ROWS(everyone); i++) {
        LDAP *ld = dmg_connect_as(srv, everyone[i].dn);
        ck_assert_msg(search_has(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)",
                                 "cn=r-vis-default," GROUPS), "%s", everyone[i].label);
        ck_assert_msg(search_has(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)",
                                 "cn=r-vis-true," GROUPS), "%s", everyone[i].label);
        DMG_ASSERT_RC(dmg_compare(ld, "cn=r-vis-default," GROUPS, "member", EMPLOYEE),
                      LDAP_COMPARE_TRUE);
        dmg_disconnect(ld);
    }
}
END_TEST

/* ============================================================================================
 * Suite "acl": group/dynamicMailGroup/member clauses; ACL writes capped at read on groups
 * ========================================================================================== */

#define FINANCE "ou=Finance," DMG_SUFFIX
#define SUPPORT "ou=Support," DMG_SUFFIX
#define GINA    "uid=gina,ou=Finance," DMG_SUFFIX
#define NOAH    "uid=noah,ou=Support," DMG_SUFFIX
#define MIA     "uid=mia,ou=Support," DMG_SUFFIX
#define FRANK   "uid=frank,ou=Backend,ou=Engineering," DMG_SUFFIX
#define UMA     "uid=uma,ou=Sales," DMG_SUFFIX

/* cn=aclgrp: everybody in Engineering (sub-departments included). */
static void ensure_aclgrp(void)
{
    root_ensure_group("aclgrp", NULL);
}

START_TEST(acl_member_may_write)
{
    static const char *const members[] = { BOB, FRANK, ADMIN };
    ensure_aclgrp();
    for (int i = 0; i < N_ROWS(members); i++) {
        char value[128];
        snprintf(value, sizeof value, "written by %s", members[i]);
        char changes[256];
        snprintf(changes, sizeof changes, "replace: description\ndescription: %s\n", value);
        LDAP *ld = dmg_connect_as(srv, members[i]);
        dmg_result r = dmg_modify(ld, GINA, changes);
        ck_assert_msg(r.rc == LDAP_SUCCESS, "member %s writing %s: %s (%d) \"%s\"", members[i],
                      GINA, ldap_err2string(r.rc), r.rc, r.diag);
        dmg_disconnect(ld);
        DMG_ASSERT_ROOT_VALUES(srv, GINA, "description", value);
    }
}
END_TEST

START_TEST(acl_non_member_refused)
{
    static const who outsiders[] = {
        { "uma (Sales)", UMA }, { "gina (Finance)", GINA }, { "reader", READER },
        { "postmaster", POSTMASTER }, { "anonymous", NULL },
    };
    ensure_aclgrp();
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_modify(root, "uid=hans,ou=Finance," DMG_SUFFIX,
                             "replace: description\ndescription: before\n"), LDAP_SUCCESS);
    dmg_disconnect(root);
    for (int i = 0; i < N_ROWS(outsiders); i++) {
        LDAP *ld = dmg_connect_as(srv, outsiders[i].dn);
        dmg_result r = dmg_modify(ld, "uid=hans,ou=Finance," DMG_SUFFIX,
                                  "replace: description\ndescription: x\n");
        ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS, "non-member %s: %s (%d) \"%s\"",
                      outsiders[i].label, ldap_err2string(r.rc), r.rc, r.diag);
        dmg_disconnect(ld);
    }
    /* members get description only, as the ACL says */
    LDAP *ld = dmg_connect_as(srv, BOB);
    DMG_ASSERT_RC(dmg_modify(ld, "uid=hans,ou=Finance," DMG_SUFFIX,
                             "replace: title\ntitle: x\n"), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, "uid=hans,ou=Finance," DMG_SUFFIX, "description", "before");
    DMG_ASSERT_ROOT_VALUES(srv, "uid=hans,ou=Finance," DMG_SUFFIX, "title", "Accountant");
}
END_TEST

/* cn=aclmgr: managers of Support; membership follows the employee's title at once. */
START_TEST(acl_membership_is_current)
{
    root_ensure_group("aclmgr", "dmgDepartment: " SUPPORT "\ndmgCondition: (title=Manager)\n");
    LDAP *mia = dmg_connect_as(srv, MIA);
    DMG_ASSERT_RC(dmg_modify(mia, SUPPORT, "replace: description\ndescription: by mia\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(mia);

    LDAP *noah = dmg_connect_as(srv, NOAH);
    DMG_ASSERT_RC(dmg_modify(noah, SUPPORT, "replace: description\ndescription: by noah\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_modify(root, NOAH, "replace: title\ntitle: Manager\n"), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(noah, SUPPORT, "replace: description\ndescription: by noah\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(root, NOAH, "replace: title\ntitle: Support Agent\n"), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(noah, SUPPORT, "replace: description\ndescription: noah again\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(root);
    dmg_disconnect(noah);
    DMG_ASSERT_ROOT_VALUES(srv, SUPPORT, "description", "by noah");
}
END_TEST

/* An ACL that gives users write on ou=Groups works on other entries, but the overlay caps
 * it at read on groups and still refuses group creation. */
START_TEST(acl_write_capped_on_groups)
{
    const char *dn = "cn=acl-capped," GROUPS;
    root_add_group("acl-capped", "description: before\n");
    LDAP *ld = dmg_connect_as(srv, EMPLOYEE);
    DMG_ASSERT_RC(dmg_modify(ld, GROUPS, "replace: description\ndescription: by erin\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(ld, dn, "replace: description\ndescription: x\n"),
                  LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_rename(ld, dn, "cn=acl-capped-new", NULL, 1), LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(dmg_delete(ld, dn), LDAP_INSUFFICIENT_ACCESS);
    DMG_ASSERT_RC(add_group(ld, "acl-capped-add", NULL), LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "description", "before");
    ck_assert(!dmg_root_sees(srv, "cn=acl-capped-add," GROUPS));
    ck_assert(!dmg_root_sees(srv, "cn=acl-capped-new," GROUPS));
}
END_TEST

/* ============================================================================================
 * main
 * ========================================================================================== */

#define OVERLAY_CONFIG \
    "dynmailgroup-postmaster uid=postmaster,ou=System,dc=example,dc=com\n" \
    "dynmailgroup-postmaster cn=postmasters,ou=System,dc=example,dc=com\n" \
    "dynmailgroup-postmaster cn=postmasters-unique,ou=System,dc=example,dc=com\n" \
    "dynmailgroup-privileged uid=mta,ou=System,dc=example,dc=com\n"

/* slapd refuses anonymous writes in its frontend (strongerAuthRequired, "modifications require
 * authentication") before any overlay runs; allowing them lets the anonymous cases test what
 * the overlay and the ACLs decide. */
#define ANON_UPDATES "allow update_anon\n"


/* ---- what a role's grant does not cover ------------------------------------------------------ */

/* Administrators change a group's configuration, nothing else: not its object classes, not a
 * password (the grant runs the write with full rights, so the guard must stop these). */
START_TEST(administrator_limited_to_configuration)
{
    const char *dn = "cn=r-adm-lim," GROUPS;
    root_add_group("r-adm-lim", "dmgAdministrator: " ADMIN "\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    dmg_result r = dmg_modify(ld, dn, "add: objectClass\nobjectClass: simpleSecurityObject\n"
                                      "-\nadd: userPassword\nuserPassword: pwned\n");
    DMG_ASSERT_RC(r, LDAP_INSUFFICIENT_ACCESS);
    ck_assert_msg(strstr(r.diag, "objectClass") != NULL, "diagnostic \"%s\"", r.diag);
    r = dmg_modify(ld, dn, "add: seeAlso\nseeAlso: " BOB "\n");
    DMG_ASSERT_RC(r, LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(ld);
    char *oc = dmg_root_values(srv, dn, "objectClass");
    DMG_ASSERT_STR(oc, "dynamicMailGroup");
    free(oc);
}
END_TEST

/* A rename adds the new RDN's values: it is checked like a modify. */
START_TEST(administrator_rename_checked_like_modify)
{
    const char *dn = "cn=r-adm-rdn," GROUPS;
    root_add_group("r-adm-rdn", "dmgAdministrator: " ADMIN "\n");
    LDAP *ld = dmg_connect_as(srv, ADMIN);
    /* making someone administrator through the RDN */
    DMG_ASSERT_RC(dmg_rename(ld, dn, "dmgAdministrator=uid=bob\\,ou=Engineering\\,dc=example\\,dc=com",
                             NULL, 0), LDAP_INSUFFICIENT_ACCESS);
    /* a second address through the RDN */
    dmg_result r = dmg_rename(ld, dn, "mail=second@example.com", NULL, 0);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "mail") != NULL, "diagnostic \"%s\"", r.diag);
    dmg_disconnect(ld);
    ck_assert_msg(dmg_root_sees(srv, dn), "%s renamed anyway", dn);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "dmgAdministrator", ADMIN);
    DMG_ASSERT_ROOT_VALUES(srv, dn, "mail", "r-adm-rdn@example.com");
}
END_TEST

/* Writes to a hidden group by someone who may not see it: it does not exist for them, and an
 * address clash does not name it. */
START_TEST(hidden_group_not_revealed_by_writes)
{
    const char *dn = "cn=r-hid-w," GROUPS;
    add_hidden_and_visible("r-hid-w");
    LDAP *ld = dmg_connect_as(srv, EMPLOYEE);
    DMG_ASSERT_RC(dmg_modify(ld, dn, "replace: description\ndescription: x\n"),
                  LDAP_NO_SUCH_OBJECT);
    DMG_ASSERT_RC(dmg_delete(ld, dn), LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    /* the employee takes the hidden group's address for itself (ACLs allow self write) */
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    dmg_result r = dmg_modify(root, EMPLOYEE, "add: mail\nmail: r-hid-w@example.com\n");
    dmg_disconnect(root);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    ck_assert_msg(strstr(r.diag, "cn=r-hid-w") != NULL, "rootdn sees the name: \"%s\"", r.diag);
    ld = dmg_connect_as(srv, MTA);
    r = dmg_modify(ld, MTA, "add: mail\nmail: r-hid-w@example.com\n");
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_CONSTRAINT_VIOLATION || r.rc == LDAP_INSUFFICIENT_ACCESS,
                  "rc %d \"%s\"", r.rc, r.diag);
}
END_TEST

/* ---- remembered roles ------------------------------------------------------------------------ */

#define PMS_DN "cn=postmasters,ou=System," DMG_SUFFIX

/* As the rootdn: the account uid=<uid>,ou=System (password DMG_PASSWORD); its DN in acct */
static void add_account(LDAP *root, const char *uid, char *acct, size_t n)
{
    char ldif[512];
    snprintf(acct, n, "uid=%s,ou=System," DMG_SUFFIX, uid);
    snprintf(ldif, sizeof ldif, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\n"
             "sn: %s\nuserPassword: " DMG_PASSWORD "\n", acct, uid, uid, uid);
    DMG_ASSERT_RC(dmg_add_ldif(root, ldif), LDAP_SUCCESS);
}

/* Adds acct to the groupOfNames of postmasters (grant) or deletes it from it */
static dmg_result postmasters_change(LDAP *ld, const char *acct, int grant)
{
    char change[256];
    snprintf(change, sizeof change, "%s: member\nmember: %s\n", grant ? "add" : "delete", acct);
    return dmg_modify(ld, PMS_DN, change);
}

/* A remembered-roles test's setup: the hidden group <name>-hidden (its DN in dn), the account
 * uid=<name> (its DN in acct); returns the rootdn's connection */
static LDAP *memo_setup(const char *name, char *dn, size_t dn_n, char *acct, size_t acct_n)
{
    char cn[64];
    snprintf(cn, sizeof cn, "%s-hidden", name);
    group_dn(dn, dn_n, cn);
    add_hidden_and_visible(cn);
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    add_account(root, name, acct, acct_n);
    return root;
}

/* A requester's roles are remembered between its operations until a write that may change
 * them: the read right after a write that makes it a member of the groupOfNames of
 * postmasters, or takes that away, holds the new role (a hidden group is seen, then not), on
 * the same connection. */
START_TEST(remembered_roles_follow_writes)
{
    char dn[256], acct[128];
    LDAP *root = memo_setup("r-memo", dn, sizeof dn, acct, sizeof acct);

    LDAP *ld = dmg_connect_as(srv, acct);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo-hidden)", "");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo-hidden)", "");
    DMG_ASSERT_RC(postmasters_change(root, acct, 1), LDAP_SUCCESS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo-hidden)", dn);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo-hidden)", dn);
    DMG_ASSERT_RC(postmasters_change(root, acct, 0), LDAP_SUCCESS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo-hidden)", "");
    DMG_ASSERT_RC(dmg_compare(ld, dn, "cn", "r-memo-hidden"), LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    DMG_ASSERT_RC(dmg_delete(root, acct), LDAP_SUCCESS);
    dmg_disconnect(root);
}
END_TEST

/* Only writes that may change a role move the remembered roles on (access.c,
 * dmg_write_moves_roles): modifies of other entries (an employee's description, a group's
 * own attribute) leave them.  The answers stay right both ways around such writes: a
 * postmaster keeps seeing the hidden group, and after the grant is taken away (a modify of
 * the postmasters' group, which does move them) no longer does, however many unrelated
 * writes follow. */
START_TEST(remembered_roles_survive_unrelated_writes)
{
    char dn[256], acct[128];
    LDAP *root = memo_setup("r-memo3", dn, sizeof dn, acct, sizeof acct);
    DMG_ASSERT_RC(postmasters_change(root, acct, 1), LDAP_SUCCESS);

    LDAP *ld = dmg_connect_as(srv, acct);
    for (int i = 0; i < 2; i++) {
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo3-hidden)", dn);
        DMG_ASSERT_RC(dmg_modify(root, EMPLOYEE, "replace: description\ndescription: x\n"),
                      LDAP_SUCCESS);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo3-hidden)", dn);
        DMG_ASSERT_RC(dmg_modify(root, dn, "replace: description\ndescription: y\n"),
                      LDAP_SUCCESS);
    }
    DMG_ASSERT_RC(postmasters_change(root, acct, 0), LDAP_SUCCESS);
    for (int i = 0; i < 2; i++) {
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo3-hidden)", "");
        DMG_ASSERT_RC(dmg_modify(root, EMPLOYEE, "replace: description\ndescription: z\n"),
                      LDAP_SUCCESS);
    }
    DMG_ASSERT_RC(dmg_compare(ld, dn, "cn", "r-memo3-hidden"), LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    DMG_ASSERT_RC(dmg_modify(root, EMPLOYEE, "delete: description\n"), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_delete(root, acct), LDAP_SUCCESS);
    dmg_disconnect(root);
}
END_TEST

/* Two connections of one identity: a role one of them had remembered is neither kept nor
 * missed by the other after a write that changes it (the generation is the database's, not
 * the connection's). */
START_TEST(remembered_roles_across_connections)
{
    char dn[256], acct[128];
    LDAP *root = memo_setup("r-memo2", dn, sizeof dn, acct, sizeof acct);
    LDAP *a = dmg_connect_as(srv, acct);
    LDAP *b = dmg_connect_as(srv, acct);
    DMG_ASSERT_DNS(a, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo2-hidden)", "");
    DMG_ASSERT_RC(postmasters_change(root, acct, 1), LDAP_SUCCESS);
    DMG_ASSERT_DNS(b, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo2-hidden)", dn);
    DMG_ASSERT_DNS(a, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo2-hidden)", dn);
    DMG_ASSERT_RC(postmasters_change(root, acct, 0), LDAP_SUCCESS);
    DMG_ASSERT_DNS(a, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-memo2-hidden)", "");
    DMG_ASSERT_RC(dmg_compare(b, dn, "cn", "r-memo2-hidden"), LDAP_NO_SUCH_OBJECT);
    DMG_ASSERT_RC(dmg_modify(b, dn, "replace: description\ndescription: kept\n"),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(a);
    dmg_disconnect(b);
    DMG_ASSERT_RC(dmg_delete(root, acct), LDAP_SUCCESS);
    dmg_disconnect(root);
}
END_TEST

/* Proxied authorization: the roles are those of the proxied identity, remembered under its
 * DN; the rootdn proxying as an ordinary account is no postmaster, and a postmaster's
 * remembered role is not lent to the rootdn's next proxied identity. */
static LDAPControl proxy_as_pm2 = { LDAP_CONTROL_PROXY_AUTHZ,
                                    { sizeof("dn:" PM2) - 1, (char *)"dn:" PM2 }, 1 };
static LDAPControl proxy_as_reader = { LDAP_CONTROL_PROXY_AUTHZ,
                                       { sizeof("dn:" READER) - 1, (char *)"dn:" READER }, 1 };

START_TEST(remembered_roles_follow_proxied_identity)
{
    char dn[256];
    group_dn(dn, sizeof dn, "r-proxy-hidden");
    add_hidden_and_visible("r-proxy-hidden");
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    for (int round = 0; round < 2; round++) {
        DMG_ASSERT_RC(dmg_search(root, dn, LDAP_SCOPE_BASE, NULL, NULL,
                                 DMG_CTRLS(&proxy_as_reader), NULL),
                      LDAP_NO_SUCH_OBJECT);
        DMG_ASSERT_RC(dmg_search(root, dn, LDAP_SCOPE_BASE, NULL, NULL,
                                 DMG_CTRLS(&proxy_as_pm2), NULL),
                      LDAP_SUCCESS);
        DMG_ASSERT_RC(dmg_compare_ext(root, dn, "cn", "r-proxy-hidden",
                                      DMG_CTRLS(&proxy_as_reader)),
                      LDAP_NO_SUCH_OBJECT);
        DMG_ASSERT_RC(dmg_modify_ext(root, dn, "replace: description\ndescription: proxied\n",
                                     DMG_CTRLS(&proxy_as_reader)),
                      LDAP_NO_SUCH_OBJECT);
        /* the rootdn itself */
        DMG_ASSERT_DNS(root, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-proxy-hidden)", dn);
    }
    dmg_disconnect(root);
}
END_TEST

/* More identities than the remembered roles have slots: every identity keeps its own answer
 * (a slot shared by two DNs never hands one the other's roles). */
#define MANY_IDENTITIES 1100

START_TEST(remembered_roles_many_identities)
{
    char dn[256];
    group_dn(dn, sizeof dn, "r-many-hidden");
    add_hidden_and_visible("r-many-hidden");
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    LDAP *pm = dmg_connect_as(srv, PM2);
    char authz[160];
    LDAPControl proxy = { LDAP_CONTROL_PROXY_AUTHZ, { 0, authz }, 1 };
    int seen = 0;
    for (int i = 0; i < MANY_IDENTITIES; i++) {
        /* ids with and without the role, every one a DN of its own */
        proxy.ldctl_value.bv_len = (ber_len_t)snprintf(authz, sizeof authz,
                                                       "dn:uid=r-many-%d,ou=System," DMG_SUFFIX,
                                                       i);
        dmg_result r = dmg_search(root, dn, LDAP_SCOPE_BASE, NULL, NULL, DMG_CTRLS(&proxy),
                                  NULL);
        ck_assert_msg(r.rc == LDAP_NO_SUCH_OBJECT, "identity %d: %s (%d) \"%s\"", i,
                      ldap_err2string(r.rc), r.rc, r.diag);
        if (i % 100 == 0) {
            DMG_ASSERT_RC(dmg_search(pm, dn, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                          LDAP_SUCCESS);
            DMG_ASSERT_RC(dmg_search(root, dn, LDAP_SCOPE_BASE, NULL, NULL,
                                     DMG_CTRLS(&proxy_as_reader), NULL),
                          LDAP_NO_SUCH_OBJECT);
            seen++;
        }
    }
    ck_assert_int_eq(seen, (MANY_IDENTITIES + 99) / 100);
    DMG_ASSERT_RC(dmg_search(pm, dn, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL), LDAP_SUCCESS);
    dmg_disconnect(pm);
    dmg_disconnect(root);
}
END_TEST

/* An administrator named by DN and entryUUID: deleted and added again under the same DN, the
 * new entry (another entryUUID) is no administrator, though the old one's answer had been
 * remembered for that DN. */
START_TEST(remembered_uuid_follows_delete_and_readd)
{
    char dn[256], acct[128];
    group_dn(dn, sizeof dn, "r-readd-hidden");
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    add_account(root, "r-readd", acct, sizeof acct);
    DMG_ASSERT_RC(dmg_add_mail_group(root, "r-readd-hidden",
                                     "dmgShowInContacts: FALSE\n"
                                     "dmgAdministrator: uid=r-readd,ou=System," DMG_SUFFIX "\n",
                                     NULL),
                  LDAP_SUCCESS);
    LDAP *ld = dmg_connect_as(srv, acct);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-readd-hidden)", dn);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-readd-hidden)", dn);
    dmg_disconnect(ld);
    dmg_result del = dmg_delete(root, acct);
    ck_assert_msg(del.rc == LDAP_SUCCESS, "delete of the administrator: %s (%d) \"%s\"",
                  ldap_err2string(del.rc), del.rc, del.diag);
    add_account(root, "r-readd", acct, sizeof acct);
    ld = dmg_connect_as(srv, acct);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-readd-hidden)", "");
    DMG_ASSERT_RC(dmg_modify(ld, dn, "replace: description\ndescription: readded\n"),
                  LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    DMG_ASSERT_RC(dmg_delete(root, acct), LDAP_SUCCESS);
    dmg_disconnect(root);
}
END_TEST

/* Content synchronization would copy hidden groups: only the rootdn and privileged
 * identities may use it. */
START_TEST(sync_control_needs_privilege)
{
    LDAPControl *sync = NULL;
    struct berval *bv = NULL;
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    ck_assert_ptr_nonnull(ber);
    ck_assert_int_ne(ber_printf(ber, "{e}", LDAP_SYNC_REFRESH_ONLY), -1);
    ck_assert_int_ne(ber_flatten(ber, &bv), -1);
    ber_free(ber, 1);
    ck_assert_int_eq(ldap_control_create(LDAP_CONTROL_SYNC, 1, bv, 1, &sync), LDAP_SUCCESS);
    ber_bvfree(bv);

    const char *attrs[] = { "cn", NULL };
    LDAP *ld = dmg_connect_as(srv, EMPLOYEE);
    dmg_result r = dmg_search(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(objectClass=*)", attrs,
                              DMG_CTRLS(sync), NULL);
    dmg_disconnect(ld);
    ck_assert_msg(r.rc == LDAP_INSUFFICIENT_ACCESS && strstr(r.diag, "privileged") != NULL,
                  "employee's sync search: rc %d \"%s\"", r.rc, r.diag);
    ldap_control_free(sync);
}
END_TEST

/* ============================================================================================
 * Suite "other database": a postmasters group held by another database, whose writes do not
 * pass through this overlay (its roles must then be decided afresh every time)
 * ========================================================================================== */

#define OTHER_ROOTDN "cn=admin,cn=accesslog"
#define OTHER_PMS    "cn=pmx,cn=accesslog"

START_TEST(postmasters_in_another_database)
{
    char dn[256];
    group_dn(dn, sizeof dn, "r-other-hidden");
    LDAP *other = dmg_connect_as(srv, OTHER_ROOTDN);
    DMG_ASSERT_RC(dmg_add_ldif(other, "dn: cn=accesslog\nobjectClass: organizationalRole\n"
                                      "cn: accesslog\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(other, "dn: " OTHER_PMS "\nobjectClass: groupOfNames\ncn: pmx\n"
                                      "member: " OTHER_ROOTDN "\n"),
                  LDAP_SUCCESS);
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    char acct[128];
    add_account(root, "r-other", acct, sizeof acct);
    DMG_ASSERT_RC(dmg_add_mail_group(root, "r-other-hidden", "dmgShowInContacts: FALSE\n", NULL),
                  LDAP_SUCCESS);
    LDAP *ld = dmg_connect_as(srv, acct);
    for (int round = 0; round < 2; round++) {
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-other-hidden)", "");
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-other-hidden)", "");
        DMG_ASSERT_RC(dmg_modify(other, OTHER_PMS, "add: member\nmember: uid=r-other,ou=System,"
                                                   DMG_SUFFIX "\n"),
                      LDAP_SUCCESS);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-other-hidden)", dn);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-other-hidden)", dn);
        DMG_ASSERT_RC(dmg_modify(other, OTHER_PMS, "delete: member\nmember: uid=r-other,"
                                                   "ou=System," DMG_SUFFIX "\n"),
                      LDAP_SUCCESS);
    }
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-other-hidden)", "");
    DMG_ASSERT_RC(dmg_compare(ld, dn, "cn", "r-other-hidden"), LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    dmg_disconnect(root);
    dmg_disconnect(other);
}
END_TEST

/* A replica: the change of the postmasters group comes by syncrepl, and the read right after
 * it is visible there holds the new role, on a connection that had its roles remembered. */
#define REPL_ACCT "uid=r-repl,ou=System," DMG_SUFFIX

START_TEST(replica_follows_replicated_role_changes)
{
    static const char *const member_attr[] = { "member", NULL };
    const dmg_query q_pms = { PMS_DN, LDAP_SCOPE_BASE, "(objectClass=*)", member_attr, 0 };
    char dn[256], db_config[2048];
    group_dn(dn, sizeof dn, "r-repl-hidden");
    dmg_server_opts po = {
        .modules = "syncprov",
        .db_config = DMG_REPL_INDEX_AND_LIMITS,
        .overlays_before = DMG_SYNCPROV_BELOW,
        .overlay_config = OVERLAY_CONFIG,
    };
    dmg_server *prov = dmg_server_start(&po);
    ck_assert_msg(prov != NULL, "the provider did not start (see stderr)");
    LDAP *root = dmg_connect_as(prov, DMG_ROOTDN);
    char acct[128];
    add_account(root, "r-repl", acct, sizeof acct);
    ck_assert_str_eq(acct, REPL_ACCT);
    DMG_ASSERT_RC(dmg_add_mail_group(root, "r-repl-hidden", "dmgShowInContacts: FALSE\n", NULL),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    dmg_replica_db_config(db_config, sizeof db_config, prov, "101", NULL, NULL);
    dmg_server_opts co = {
        .db_config = db_config,
        .overlay_config = OVERLAY_CONFIG,
        .fixture = DMG_NO_FIXTURE,
    };
    dmg_server *cons = dmg_server_start(&co);
    ck_assert_msg(cons != NULL, "the replica did not start (see stderr)");
    LDAP *p = NULL, *c = NULL;
    DMG_CONNECT_PAIR(prov, cons, &p, &c);

    LDAP *ld = dmg_connect_as(cons, REPL_ACCT);
    for (int round = 0; round < 2; round++) {
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-repl-hidden)", "");
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-repl-hidden)", "");
        DMG_ASSERT_RC(postmasters_change(p, REPL_ACCT, 1), LDAP_SUCCESS);
        DMG_WAIT_FOR(c, &q_pms, PMS_DN "\n" PMS_DN " | member: " PM2 "\n"
                                PMS_DN " | member: " REPL_ACCT "\n");
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-repl-hidden)", dn);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-repl-hidden)", dn);
        DMG_ASSERT_RC(postmasters_change(p, REPL_ACCT, 0), LDAP_SUCCESS);
        DMG_WAIT_FOR(c, &q_pms, PMS_DN "\n" PMS_DN " | member: " PM2 "\n");
    }
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-repl-hidden)", "");
    DMG_ASSERT_RC(dmg_compare(ld, dn, "cn", "r-repl-hidden"), LDAP_NO_SUCH_OBJECT);
    dmg_disconnect(ld);
    DMG_STOP_PAIR(prov, cons, p, c);
}
END_TEST

/* SASL EXTERNAL over ldapi, the identity mapped by authz-regexp: the roles are the mapped
 * DN's, remembered under it, and follow a change of the postmasters group. */
#define SASL_ACCT "uid=r-sasl,ou=System," DMG_SUFFIX

START_TEST(sasl_mapped_identity_roles)
{
    dmg_server_opts o = {
        .global_config = "authz-regexp \"^gidnumber=[0-9]+.uidnumber=[0-9]+,cn=peercred,"
                         "cn=external,cn=auth$\" \"" SASL_ACCT "\"\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    char dn[256];
    group_dn(dn, sizeof dn, "r-sasl-hidden");
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start with authz-regexp");
    LDAP *root = dmg_connect_as(s, DMG_ROOTDN);
    char acct[128];
    add_account(root, "r-sasl", acct, sizeof acct);
    ck_assert_str_eq(acct, SASL_ACCT);
    DMG_ASSERT_RC(dmg_add_mail_group(root, "r-sasl-hidden", "dmgShowInContacts: FALSE\n", NULL),
                  LDAP_SUCCESS);
    LDAP *ld = dmg_connect_ldapi_external(s);
    struct berval *authzid = NULL;
    ck_assert_int_eq(ldap_whoami_s(ld, &authzid, NULL, NULL), LDAP_SUCCESS);
    ck_assert_ptr_nonnull(authzid);
    /* slapd gives the mapped DN normalized (lower-cased) */
    ck_assert_msg(strcasecmp(authzid->bv_val, "dn:" SASL_ACCT) == 0, "authzid %s",
                  authzid->bv_val);
    ber_bvfree(authzid);
    LDAP *reader = dmg_connect_as(s, READER);
    for (int round = 0; round < 2; round++) {
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-sasl-hidden)", "");
        DMG_ASSERT_RC(postmasters_change(root, SASL_ACCT, 1), LDAP_SUCCESS);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-sasl-hidden)", dn);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-sasl-hidden)", dn);
        DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-sasl-hidden)", "");
        DMG_ASSERT_RC(postmasters_change(root, SASL_ACCT, 0), LDAP_SUCCESS);
        DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=r-sasl-hidden)", "");
    }
    dmg_disconnect(reader);
    dmg_disconnect(ld);
    dmg_disconnect(root);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---- a reader racing the write that gives it the role ------------------------------------- */

/* One connection of U reads a hidden group in a loop while another client makes U a
 * postmaster, then takes that away: every read that starts after a write's result has
 * arrived holds the new role (none runs on a role remembered before), whatever the reads in
 * flight meanwhile remembered.  Each write is sent once the reader has read RACE_BEFORE
 * more times; the reader stops RACE_AFTER reads after the last result: polling, no sleeps. */
#define RACE_ROUNDS 4
#define RACE_BEFORE 20
#define RACE_AFTER 40

typedef struct role_race {
    LDAP *ld;
    const char *hidden;
    atomic_int phase;     /* 0: before the grant, 1: granted, 3: the revoke sent, 2: taken
                             away (1 and 2: the write's result has arrived) */
    atomic_int reads;     /* reads finished */
    atomic_int stop;
    int late_misses;      /* reads started after the grant that did not see the group */
    int late_leaks;       /* reads started after the revoke that saw it */
    int errors;           /* reads with another result code */
    int seen;
} role_race;

static void *role_race_reader(void *arg)
{
    role_race *r = arg;
    char *attrs[] = { LDAP_NO_ATTRS, NULL };
    while (!atomic_load(&r->stop)) {
        int phase = atomic_load(&r->phase);
        LDAPMessage *res = NULL;
        int rc = ldap_search_ext_s(r->ld, r->hidden, LDAP_SCOPE_BASE, NULL, attrs, 0, NULL,
                                   NULL, NULL, 0, &res);
        ldap_msgfree(res);
        if (rc == LDAP_SUCCESS) {
            r->seen++;
            r->late_leaks += phase == 2;
        } else if (rc != LDAP_NO_SUCH_OBJECT) {
            r->errors++;
        } else {
            /* the grant held for the whole read: the revoke was not sent yet */
            r->late_misses += phase == 1 && atomic_load(&r->phase) == 1;
        }
        atomic_fetch_add(&r->reads, 1);
    }
    return NULL;
}

static void wait_reads(role_race *r, int n)
{
    while (atomic_load(&r->reads) < n)
        sched_yield();
}

START_TEST(remembered_roles_race_the_grant)
{
    char dn[256], acct[128], uid[32];
    group_dn(dn, sizeof dn, "r-race-hidden");
    add_hidden_and_visible("r-race-hidden");
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    for (int round = 0; round < RACE_ROUNDS; round++) {
        snprintf(uid, sizeof uid, "r-race-%d", round);
        add_account(root, uid, acct, sizeof acct);
        role_race r = { .ld = dmg_connect_as(srv, acct), .hidden = dn };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, role_race_reader, &r), 0);
        dmg_result w[2];
        for (int phase = 1; phase <= 2; phase++) {
            wait_reads(&r, atomic_load(&r.reads) + RACE_BEFORE);
            if (phase == 2)
                atomic_store(&r.phase, 3);
            w[phase - 1] = postmasters_change(root, acct, phase == 1);
            atomic_store(&r.phase, phase);
        }
        wait_reads(&r, atomic_load(&r.reads) + RACE_AFTER);
        atomic_store(&r.stop, 1);
        ck_assert_int_eq(pthread_join(t, NULL), 0);
        DMG_ASSERT_RC(w[0], LDAP_SUCCESS);
        DMG_ASSERT_RC(w[1], LDAP_SUCCESS);
        ck_assert_msg(r.errors == 0 && r.late_misses == 0 && r.late_leaks == 0
                          && r.seen >= RACE_BEFORE - 1,
                      "round %d: %d errors, %d reads after the grant without the role, %d "
                      "after the revoke with it, %d seen", round, r.errors, r.late_misses,
                      r.late_leaks, r.seen);
        dmg_disconnect(r.ld);
        DMG_ASSERT_RC(dmg_delete(root, acct), LDAP_SUCCESS);
    }
    dmg_disconnect(root);
}
END_TEST

static Suite *other_db_suite(void)
{
    Suite *s = suite_create("other database");
    TCase *tc = dmg_tcase("other database");
    tcase_add_test(tc, postmasters_in_another_database);
    tcase_add_test(tc, replica_follows_replicated_role_changes);
    tcase_add_test(tc, sasl_mapped_identity_roles);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *roles_suite(void)
{
    Suite *s = suite_create("roles");
    TCase *tc = dmg_tcase("create");
    tcase_add_loop_test(tc, create_allowed, 0, N_ROWS(creators));
    tcase_add_loop_test(tc, create_refused, 0, N_ROWS(non_creators));
    suite_add_tcase(s, tc);

    tc = dmg_tcase("applicant");
    tcase_add_test(tc, applicant_other_on_add_refused);
    tcase_add_test(tc, applicant_other_on_add_by_rootdn_refused);
    tcase_add_test(tc, applicant_other_on_add_by_rootdn_relax);
    tcase_add_test(tc, applicant_own_on_add);
    tcase_add_loop_test(tc, applicant_change_refused, 0, N_ROWS(applicant_changes));
    tcase_add_test(tc, applicant_change_by_postmaster_with_relax_refused);
    tcase_add_test(tc, applicant_change_by_rootdn_with_relax);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("administrator");
    tcase_add_loop_test(tc, administrator_modifies_configuration, 0, N_ROWS(admin_changes));
    tcase_add_test(tc, administrator_renames);
    tcase_add_test(tc, administrator_may_not_move);
    tcase_add_loop_test(tc, administrator_may_not_change_administrators, 0,
                        N_ROWS(admin_admin_changes));
    tcase_add_test(tc, administrator_may_not_delete);
    tcase_add_test(tc, administrator_of_another_group);
    tcase_add_test(tc, administrator_limited_to_configuration);
    tcase_add_test(tc, administrator_rename_checked_like_modify);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("postmaster");
    tcase_add_loop_test(tc, postmaster_modifies_everything, 0, N_ROWS(postmasters));
    tcase_add_loop_test(tc, postmaster_renames_and_deletes, 0, N_ROWS(postmasters));
    tcase_add_test(tc, postmaster_no_bypass_outside_groups);
    suite_add_tcase(s, tc);

    tc = dmg_tcase("others");
    tcase_add_loop_test(tc, others_may_not_write, 0, N_ROWS(nobodies));
    suite_add_tcase(s, tc);

    tc = dmg_tcase("hidden");
    tcase_add_loop_test(tc, hidden_invisible, 0, N_ROWS(blind));
    tcase_add_loop_test(tc, hidden_visible_to_roles, 0, N_ROWS(seeing));
    tcase_add_test(tc, hidden_roles_are_per_group);
    tcase_add_test(tc, visible_group_seen_by_everyone);
    tcase_add_test(tc, hidden_group_not_revealed_by_writes);
    tcase_add_test(tc, sync_control_needs_privilege);
    tcase_add_test(tc, remembered_roles_follow_writes);
    tcase_add_test(tc, remembered_roles_survive_unrelated_writes);
    tcase_add_test(tc, remembered_roles_across_connections);
    tcase_add_test(tc, remembered_roles_follow_proxied_identity);
    tcase_add_test(tc, remembered_roles_many_identities);
    tcase_add_test(tc, remembered_uuid_follows_delete_and_readd);
    tcase_add_test(tc, remembered_roles_race_the_grant);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *acl_suite(void)
{
    Suite *s = suite_create("acl");
    TCase *tc = dmg_tcase("acl");
    tcase_add_test(tc, acl_member_may_write);
    tcase_add_test(tc, acl_non_member_refused);
    tcase_add_test(tc, acl_membership_is_current);
    tcase_add_test(tc, acl_write_capped_on_groups);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* Ordinary users read only: every write right on groups comes from the overlay.  syncprov
     * below the overlay, as replication wants it (and the sync control is then understood). */
    const dmg_server_opts roles_opts = {
        .global_config = ANON_UPDATES,
        .modules = "syncprov",
        .overlays_before = "overlay syncprov\n",
        .db_config =
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to * by users read by anonymous read\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    const dmg_server_opts acl_opts = {
        .global_config = ANON_UPDATES,
        .db_config =
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to dn.subtree=\"" FINANCE "\" attrs=description"
            " by group/dynamicMailGroup/member=\"cn=aclgrp," GROUPS "\" write by * read\n"
            "access to dn.subtree=\"" SUPPORT "\" attrs=description"
            " by group/dynamicMailGroup/member=\"cn=aclmgr," GROUPS "\" write by * read\n"
            "access to dn.subtree=\"" GROUPS "\" by users write by * read\n"
            "access to * by * read\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    /* a second database, cn=accesslog (the harness's), holds a group of postmasters */
    const dmg_server_opts other_opts = {
        .accesslog_db = "rootdn \"" OTHER_ROOTDN "\"\nrootpw " DMG_ROOTPW "\n"
                        "access to * by * read\n",
        .db_config = "access to * by users read by anonymous auth\n",
        .overlay_config = OVERLAY_CONFIG "dynmailgroup-postmaster " OTHER_PMS "\n",
    };
    int rc1 = dmg_run_suite(roles_suite(), &roles_opts, &srv);
    int rc2 = dmg_run_suite(acl_suite(), &acl_opts, &srv);
    int rc3 = dmg_run_suite(other_db_suite(), &other_opts, &srv);
    return (rc1 == EXIT_SUCCESS && rc2 == EXIT_SUCCESS && rc3 == EXIT_SUCCESS) ? EXIT_SUCCESS
                                                                              : EXIT_FAILURE;
}
