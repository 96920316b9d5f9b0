/*
 * test_references.c -- entries that groups name, against a real slapd (man page REFERENCES,
 * ACCESS CONTROL and dynmailgroup-cache-max-values):
 *
 *  - suite "references", test cases "rename" and "delete": renames and moves of
 *    administrators, auditors and applicants are followed; deleting the only auditor of an
 *    audited group is refused (naming the group only to those who may see it); deleting an
 *    administrator or another auditor removes the value, so that a new entry with the same DN
 *    inherits no role and no sight of a hidden group.
 *  - same suite, test case "enrolment": a dmgCondition that tests an attribute employees may
 *    write on their own entry is refused (self-enrolment guard), except for the rootdn with
 *    Relax Rules.
 *  - suite "transactions": after an LDAP transaction (RFC 5805) commits, the privileged
 *    identity's cached member list shows the change, also when it was read while the commit
 *    ran; a write the overlay refuses fails the whole transaction at commit.
 *
 * The "references" suite runs on a server whose ACLs make title (and employeeType: Lead)
 * self-writable, give HR (uid=reader, an ordinary account) write access to departmentNumber
 * everywhere and to every entry of ou=Engineering, and give everybody else read.  Each test
 * adds its own entries and groups (unique names), so tests may run in any order against the
 * shared server.
 *
 *  - suite "filter strings" (slapo-accesslog below dynmailgroup, logging searches): the
 *    filter strings of the overlay's internal searches write values as slapd does; groups
 *    slapadd loaded without UUID companions are found by (member=U), under NOT too.
 *
 * The transaction suite has a server of its own with slapo-auditlog below dynmailgroup: the
 * test points the audit log at a FIFO, which holds the commit after dynmailgroup has seen the
 * transaction's write and before the backend commits, for exactly as long as the test does
 * not read it (no sleeps).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* F_SETPIPE_SZ */
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* As the rootdn with Relax Rules (so that dmgApplicant may be given); must succeed. */
static void root_add_group(const char *cn, const char *extra)
{
    dmg_root_add_mail_group(srv, cn, extra, DMG_CTRLS(dmg_ctrl_relax()), 0);
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
    LDAP *ld = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
    dmg_disconnect(ld);
}

static void root_add_ou(const char *ou, const char *parent)
{
    char ldif[512];
    snprintf(ldif, sizeof ldif, "dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n", ou,
             parent, ou);
    LDAP *ld = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
    dmg_disconnect(ld);
}

/* Values of attr on dn as ld's identity sees them, sorted, "\n"-joined. */
#define ASSERT_VALUES_AS(ld, dn, attr, expected) \
    DMG_ASSERT_VALUES((ld), (dn), LDAP_SCOPE_BASE, NULL, (attr), (expected))

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

    LDAP *hr = dmg_connect_as(srv, HR);
    DMG_ASSERT_RC(dmg_rename(hr, "uid=ref-ren-adm," ENGINEERING, "uid=ref-ren-adm2", NULL, 1),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(hr, "uid=ref-ren-aud," ENGINEERING, "uid=ref-ren-aud2", NULL, 1),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(hr, "uid=ref-ren-app," ENGINEERING, "uid=ref-ren-app2", NULL, 1),
                  LDAP_SUCCESS);
    dmg_disconnect(hr);

    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgAdministrator", "uid=ref-ren-adm2," ENGINEERING "\n" CAROL);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgAuditor", "uid=ref-ren-aud2," ENGINEERING);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgApplicant", "uid=ref-ren-app2," ENGINEERING);

    LDAP *adm = dmg_connect_as(srv, "uid=ref-ren-adm2," ENGINEERING);
    DMG_ASSERT_RC(dmg_modify(adm, g, "replace: description\ndescription: by the renamed one\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(adm);
    DMG_ASSERT_ROOT_VALUES(srv, g, "description", "by the renamed one");
}
END_TEST

/* A move (new superior) is followed like a rename. */
START_TEST(move_follows_roles)
{
    const char *g = "cn=ref-mov," GROUPS;
    root_add_person("ref-mov-adm", ENGINEERING);
    root_add_group("ref-mov", "dmgAdministrator: uid=ref-mov-adm," ENGINEERING "\n");

    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_rename(root, "uid=ref-mov-adm," ENGINEERING, "uid=ref-mov-adm", SALES, 1),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgAdministrator", "uid=ref-mov-adm," SALES);
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

    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    DMG_ASSERT_RC(dmg_rename(root, "ou=RefTeam," ENGINEERING, "ou=RefTeam2", NULL, 1),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgDepartment", "ou=RefTeam2," ENGINEERING);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgAdministrator", "uid=ref-sub-adm,ou=RefTeam2," ENGINEERING);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgAuditor", "uid=ref-sub-aud,ou=RefTeam2," ENGINEERING);
    DMG_ASSERT_ROOT_VALUES(srv, g, "member", "uid=ref-sub-adm,ou=RefTeam2," ENGINEERING "\n"
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

    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    dmg_result r = dmg_delete(root, x);
    dmg_disconnect(root);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgAuditor: \"uid=ref-aud-only,ou=Engineering,dc=example,dc=com\" "
                           "is the only auditor of \"cn=ref-aud-only,ou=Groups,dc=example,"
                           "dc=com\", which requires audit");
    ck_assert_msg(dmg_root_sees(srv, x), "%s deleted anyway", x);
    DMG_ASSERT_ROOT_VALUES(srv, "cn=ref-aud-only," GROUPS, "dmgAuditor", x);
}
END_TEST

/* ... and whoever may not see a hidden group is not told which group it is. */
START_TEST(delete_only_auditor_of_hidden_group_not_named)
{
    const char *x = "uid=ref-aud-hid," ENGINEERING;
    root_add_person("ref-aud-hid", ENGINEERING);
    root_add_group("ref-aud-hid", "dmgShowInContacts: FALSE\ndmgAuditRequired: TRUE\n"
                                  "dmgAuditor: uid=ref-aud-hid," ENGINEERING "\n");

    LDAP *hr = dmg_connect_as(srv, HR);
    dmg_result r = dmg_delete(hr, x);
    dmg_disconnect(hr);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgAuditor: \"uid=ref-aud-hid,ou=Engineering,dc=example,dc=com\" "
                           "is the only auditor of another entry, which requires audit");
    ck_assert_msg(dmg_root_sees(srv, x), "%s deleted anyway", x);
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

    LDAP *hr = dmg_connect_as(srv, HR);
    DMG_ASSERT_RC(dmg_delete(hr, "uid=ref-aud-two-a," ENGINEERING), LDAP_SUCCESS);
    dmg_disconnect(hr);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgAuditor", "uid=ref-aud-two-b," ENGINEERING);
    DMG_ASSERT_ROOT_VALUES(srv, g2, "dmgAuditor", "");

    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
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

    LDAP *hr = dmg_connect_as(srv, HR);
    DMG_ASSERT_RC(dmg_delete(hr, "uid=ref-adm-del," ENGINEERING), LDAP_SUCCESS);
    dmg_disconnect(hr);
    DMG_ASSERT_ROOT_VALUES(srv, g1, "dmgAdministrator", CAROL);
    DMG_ASSERT_ROOT_VALUES(srv, g2, "dmgAdministrator", "");
    DMG_ASSERT_ROOT_VALUES(srv, g2, "dmgApplicant", "");
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
    LDAP *ld = dmg_connect_as(srv, dn);
    DMG_ASSERT_DNS(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, g);
    dmg_disconnect(ld);

    LDAP *hr = dmg_connect_as(srv, HR);
    DMG_ASSERT_RC(dmg_delete(hr, dn), LDAP_SUCCESS);
    dmg_disconnect(hr);
    root_add_person(uid, ENGINEERING);
    DMG_ASSERT_ROOT_VALUES(srv, g, inherit_roles[_i], "");

    ld = dmg_connect_as(srv, dn);
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
    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
    dmg_result r = dmg_add_mail_group(pm, "ref-enrol-title",
                                 "dmgDepartment: " SUPPORT "\ndmgCondition: (title=Manager)\n",
                                 NULL);
    dmg_disconnect(pm);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    ck_assert(!dmg_root_sees(srv, "cn=ref-enrol-title," GROUPS));
}
END_TEST

/* Every assertion of a condition counts, also below AND, OR and NOT. */
START_TEST(condition_nested_assertion_refused)
{
    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
    dmg_result r = dmg_add_mail_group(pm, "ref-enrol-nested",
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
    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
    dmg_result r = dmg_add_mail_group(pm, "ref-enrol-val",
                                 "dmgDepartment: " SUPPORT "\ndmgCondition: (employeeType=Lead)\n",
                                 NULL);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgCondition: \"(employeeType=Lead)\" tests \"employeeType\", which "
                           "employees may change on their own entry (" MIA "); anyone could "
                           "make themselves a member");
    DMG_ASSERT_RC(dmg_add_mail_group(pm, "ref-enrol-val",
                                "dmgDepartment: " SUPPORT "\ndmgCondition: (employeeType=Staff)\n",
                                NULL),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
}
END_TEST

/* departmentNumber is written by HR only: a condition on it is fine. */
START_TEST(condition_on_hr_attribute_accepted)
{
    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
    DMG_ASSERT_RC(dmg_add_mail_group(pm, "ref-enrol-deptno",
                                "dmgDepartment: " SUPPORT "\ndmgCondition: (departmentNumber=42)\n",
                                NULL),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
    /* HR puts mia in, at once */
    LDAP *hr = dmg_connect_as(srv, HR);
    DMG_ASSERT_RC(dmg_modify(hr, MIA, "replace: departmentNumber\ndepartmentNumber: 42\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(hr);
    DMG_ASSERT_ROOT_VALUES(srv, "cn=ref-enrol-deptno," GROUPS, "member", MIA);
    /* mia may not do it herself */
    LDAP *mia = dmg_connect_as(srv, MIA);
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
    LDAP *root = dmg_connect_as(srv, DMG_ROOTDN);
    dmg_result r = dmg_add_mail_group(root, "ref-enrol-relax", extra, NULL);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    DMG_ASSERT_RC(dmg_add_mail_group(root, "ref-enrol-relax", extra, DMG_CTRLS(dmg_ctrl_relax())),
                  LDAP_SUCCESS);
    dmg_disconnect(root);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgCondition", "(title=Manager)");

    LDAP *pm = dmg_connect_as(srv, POSTMASTER);
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
    LDAP *adm = dmg_connect_as(srv, CAROL);
    dmg_result r = dmg_modify(adm, g, "add: dmgCondition\ndmgCondition: (title=Manager)\n");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, ENROL_REFUSAL("(title=Manager)"));
    /* a condition on something employees cannot change is the administrator's to set */
    DMG_ASSERT_RC(dmg_modify(adm, g, "add: dmgCondition\ndmgCondition: (departmentNumber=7)\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(adm);
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgCondition", "(departmentNumber=7)");
}
END_TEST

/* ============================================================================================
 * Suite "transactions": the cache after an LDAP transaction commits
 * ========================================================================================== */

#define TXN_GROUP   "cn=ref-txn," GROUPS
#define TXN_CONTROL "1.3.6.1.1.21.2" /* RFC 5805, the transaction a request belongs to */
/* the monitor database comes first (txn_opts): the groups' database is {2} */
#define AUDITLOG_DN "olcOverlay={0}auditlog,olcDatabase={2}mdb,cn=config"
#define MONITOR_CONNECTIONS "cn=Connections,cn=Monitor"
#define ROOT_CONN "(monitorConnectionAuthzDN=" DMG_ROOTDN ")"

/* slapd answers a write queued in a transaction from the worker thread that read it, which
 * goes on using the operation after the answer (fe_op_modify resets its o_bd,
 * connection_operation its BER's memory context), while the end of the transaction, on
 * another thread, runs the write or, after a failed commit, frees it: a race inside slapd
 * 2.5 and 2.6 that crashed slapd, or switched a running write to the frontend database, when
 * the machine was busy.  That thread counts the operation as executing on its connection
 * until it is done with it: the transaction is ended once cn=monitor shows no operation
 * executing on a connection of the root DN (the requester's; a closing one of an earlier
 * check soon has none either).  A waited state, not a delay. */
static void settle_queued_writes(void)
{
    LDAP *watch = dmg_connect_ldapi_external(srv); /* not the root DN: its search is not counted */
    char *conns = dmg_dns_joined(watch, MONITOR_CONNECTIONS, LDAP_SCOPE_ONELEVEL, ROOT_CONN);
    ck_assert_msg(conns[0] != '\0', "no connection of the root DN in cn=monitor");
    free(conns);
    for (;;) {
        char *busy = dmg_dns_joined(watch, MONITOR_CONNECTIONS, LDAP_SCOPE_ONELEVEL,
                                    "(&" ROOT_CONN "(monitorConnectionOpsExecuting>=1))");
        int idle = busy[0] == '\0';
        free(busy);
        if (idle)
            break;
        sched_yield();
    }
    dmg_disconnect(watch);
}

/* Starts a transaction on ld: its identifier in *txnid (ber_bvfree it after the end) and,
 * in *in_txn, the control that puts a request into it (valid while *txnid is). */
static void txn_begin(LDAP *ld, struct berval **txnid, LDAPControl *in_txn)
{
    *txnid = NULL;
    ck_assert_int_eq(ldap_txn_start_s(ld, NULL, NULL, txnid), LDAP_SUCCESS);
    ck_assert_ptr_nonnull(*txnid);
    *in_txn = (LDAPControl){ TXN_CONTROL,
                             { (*txnid)->bv_len,
                               (*txnid)->bv_val ? (*txnid)->bv_val : (char *)"" },
                             1 };
}

/* Reads until the writer has gone (EOF); fd is non-blocking. */
static void drain_fifo(int fd)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            return;
        if (n < 0) {
            ck_assert_msg(errno == EAGAIN || errno == EINTR, "read fifo: %s", strerror(errno));
            struct pollfd p = { .fd = fd, .events = POLLIN };
            ck_assert_int_ge(poll(&p, 1, -1), 0);
        }
    }
}

/* The MTA (privileged, its lists cached) reads a group while a transaction that makes gina a
 * member commits: what it reads then is the data before the commit, and after the commit it
 * must read gina, not that list. */
START_TEST(txn_commit_refreshes_cached_lists)
{
    root_add_group("ref-txn", "dmgDepartment: " FINANCE "\n"
                              "dmgCondition: (description=ref-txn-joined)\n");
    LDAP *mta = dmg_connect_as(srv, MTA);
    ASSERT_VALUES_AS(mta, TXN_GROUP, "member", ""); /* cached now */

    /* the audit log goes to a FIFO of one page that nobody reads: the transaction's write,
     * larger than that, holds slapd after dynmailgroup's response and before the commit */
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/audit.fifo", dmg_server_dir(srv));
    ck_assert_msg(mkfifo(fifo, 0600) == 0, "mkfifo %s: %s", fifo, strerror(errno));
    int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
    ck_assert_msg(rfd >= 0, "open %s: %s", fifo, strerror(errno));
    (void)fcntl(rfd, F_SETPIPE_SZ, 4096);
    int cap = fcntl(rfd, F_GETPIPE_SZ);
    ck_assert_int_gt(cap, 0);
    LDAP *cfg = dmg_connect_ldapi_external(srv);
    char changes[1024];
    snprintf(changes, sizeof changes, "replace: olcAuditlogFile\nolcAuditlogFile: %s\n", fifo);
    DMG_ASSERT_RC(dmg_modify(cfg, AUDITLOG_DN, changes), LDAP_SUCCESS);

    LDAP *ld = dmg_connect_as(srv, DMG_ROOTDN);
    struct berval *txnid;
    LDAPControl in_txn;
    txn_begin(ld, &txnid, &in_txn);
    size_t bulk = 2 * (size_t)cap + 1000;
    char *mod = malloc(bulk + 256);
    ck_assert_ptr_nonnull(mod);
    int len = snprintf(mod, 256, "replace: description\ndescription: ref-txn-joined\n"
                                 "description: ");
    memset(mod + len, 'x', bulk);
    strcpy(mod + len + bulk, "\n");
    DMG_ASSERT_RC(dmg_modify_ext(ld, GINA, mod, DMG_CTRLS(&in_txn)), LDAP_SUCCESS);
    free(mod);
    settle_queued_writes();
    int msgid = -1;
    ck_assert_int_eq(ldap_txn_end(ld, 1, txnid, NULL, NULL, &msgid), LDAP_SUCCESS);

    /* the pipe is full only while the audit log's writer waits for us */
    int queued = 0;
    LDAPMessage *res = NULL;
    struct timeval poll_only = { 0, 0 };
    while (ioctl(rfd, FIONREAD, &queued) == 0 && queued < cap) {
        /* an answer (or slapd gone) before the log was written would leave this loop
         * spinning until the test's timeout, and slapd stuck opening the FIFO after it */
        ck_assert_msg(ldap_result(ld, msgid, LDAP_MSG_ALL, &poll_only, &res) == 0,
                      "the commit ended before the audit log filled the FIFO");
        sched_yield();
    }
    ASSERT_VALUES_AS(mta, TXN_GROUP, "member", ""); /* before the commit */
    drain_fifo(rfd);

    struct timeval tv = { 30, 0 };
    ck_assert_int_eq(ldap_result(ld, msgid, LDAP_MSG_ALL, &tv, &res), LDAP_RES_EXTENDED);
    int rc = -1;
    char *diag = NULL;
    ck_assert_int_eq(ldap_parse_result(ld, res, &rc, NULL, &diag, NULL, NULL, 1), LDAP_SUCCESS);
    ck_assert_msg(rc == LDAP_SUCCESS, "commit: %s (%d) \"%s\"", ldap_err2string(rc), rc,
                  diag ? diag : "");
    ldap_memfree(diag);
    ber_bvfree(txnid);
    DMG_ASSERT_RC(dmg_modify(cfg, AUDITLOG_DN, "delete: olcAuditlogFile\n"), LDAP_SUCCESS);
    close(rfd);
    dmg_disconnect(cfg);
    dmg_disconnect(ld);

    DMG_ASSERT_ROOT_VALUES(srv, TXN_GROUP, "member", GINA);
    ASSERT_VALUES_AS(mta, TXN_GROUP, "member", GINA);
    dmg_disconnect(mta);
}
END_TEST

/* The write guard decides on a transaction's writes when they are committed: a refused one
 * fails the whole transaction, and nothing of it is kept. */
START_TEST(txn_refused_write_fails_the_transaction)
{
    root_add_group("ref-txn-guard", "dmgDepartment: " FINANCE "\n");
    LDAP *ld = dmg_connect_as(srv, DMG_ROOTDN);
    struct berval *txnid;
    LDAPControl in_txn;
    txn_begin(ld, &txnid, &in_txn);
    DMG_ASSERT_RC(dmg_modify_ext(ld, "cn=ref-txn-guard," GROUPS,
                                 "replace: description\ndescription: in the transaction\n",
                                 DMG_CTRLS(&in_txn)),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify_ext(ld, "cn=ref-txn-guard," GROUPS,
                                 "replace: mail\nmail: not an address\n", DMG_CTRLS(&in_txn)),
                  LDAP_SUCCESS);
    settle_queued_writes();
    /* without retidp: libldap 2.5 reads slapd's answer to a failed commit as an INTEGER, where
     * slapd sends a SEQUENCE (txn.c), and reports a decoding error */
    int rc = ldap_txn_end_s(ld, 1, txnid, NULL, NULL, NULL);
    ber_bvfree(txnid);
    dmg_disconnect(ld);
    ck_assert_msg(rc == LDAP_INVALID_SYNTAX, "commit: %s (%d), expected invalidAttributeSyntax",
                  ldap_err2string(rc), rc);
    DMG_ASSERT_ROOT_VALUES(srv, "cn=ref-txn-guard," GROUPS, "description", "");
    DMG_ASSERT_ROOT_VALUES(srv, "cn=ref-txn-guard," GROUPS, "mail", "ref-txn-guard@example.com");
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

static Suite *transactions_suite(void)
{
    Suite *s = suite_create("transactions");
    TCase *tc = dmg_tcase("commit");
    tcase_add_test(tc, txn_commit_refreshes_cached_lists);
    tcase_add_test(tc, txn_refused_write_fails_the_transaction);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- groups loaded without UUID companions --------------------------------------------------- */

#define REVU_GROUPS \
    "\ndn: cn=revu-g," GROUPS "\nobjectClass: dynamicMailGroup\ncn: revu-g\n" \
    "mail: revu-g@example.com\ndmgDepartment: " SALES "\n" \
    "\ndn: cn=revu-n," GROUPS "\nobjectClass: dynamicMailGroup\ncn: revu-n\n" \
    "mail: revu-n@example.com\ndmgIncludeMember: cn=revu-g," GROUPS "\n" \
    "\ndn: cn=revu-p," GROUPS "\nobjectClass: dynamicMailGroup\ncn: revu-p\n" \
    "mail: revu-p@example.com\ndmgIncludeMember: " CAROL "\n" \
    "dmgExcludeMember: uid=uma," SALES "\n"

/* org.ldif and the groups above in a file of their own under dir; its path in path */
static void revu_fixture(char *path, size_t size, const char *dir)
{
    const char *src = getenv("DMG_SRCDIR");
    char org[4096];
    FILE *in, *out;
    int c;

    DMG_PATH_FMT(org, sizeof org, "%s/tests/fixtures/org.ldif", src ? src : ".");
    DMG_PATH_FMT(path, size, "%s/fixture.ldif", dir);
    in = fopen(org, "r");
    out = fopen(path, "w");
    ck_assert_msg(in != NULL && out != NULL, "cannot copy %s to %s", org, path);
    while ((c = getc(in)) != EOF)
        putc(c, out);
    fputs(REVU_GROUPS, out);
    ck_assert_int_eq(fclose(in), 0);
    ck_assert_int_eq(fclose(out), 0);
}

/* Groups slapadd loaded (no UUID companions, as before dmg-migrate-uuids.sh): (member=U)
 * finds them, under NOT too, and agrees with their member lists */
START_TEST(member_filter_finds_groups_without_companions)
{
    char dir[] = "/tmp/revu-XXXXXX", path[4200];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    revu_fixture(path, sizeof path, dir);
    dmg_server_opts o = { .fixture = path,
                          .overlay_config = "dynmailgroup-postmaster " POSTMASTER "\n" };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");
    LDAP *ld = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    const char *uma = "uid=uma," SALES;

    /* loaded as written: no companion */
    DMG_ASSERT_VALUES_EXT(ld, "cn=revu-g," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgDepartmentUUID",
                          "", DMG_CTRLS(dmg_ctrl_manage_dsait()));
    DMG_ASSERT_VALUES_EXT(ld, "cn=revu-n," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgIncludeMemberUUID",
                          "", DMG_CTRLS(dmg_ctrl_manage_dsait()));
    char *members = dmg_values_joined(ld, "cn=revu-g," GROUPS, LDAP_SCOPE_BASE, NULL, "member");
    ck_assert_msg(strcasestr(members, uma) != NULL, "members of revu-g: %s", members);
    free(members);
    DMG_ASSERT_VALUES(ld, "cn=revu-p," GROUPS, LDAP_SCOPE_BASE, NULL, "member", CAROL);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revu-*)(member=%s))", uma),
                   "cn=revu-g," GROUPS "\ncn=revu-n," GROUPS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(&(cn=revu-*)(member=" CAROL "))",
                   "cn=revu-p," GROUPS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(&(cn=revu-*)(!(member=%s)))", uma), "cn=revu-p," GROUPS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   dmg_fmt("(&(cn=revu-*)(|(member=%s)(member=" CAROL ")))", uma),
                   "cn=revu-g," GROUPS "\ncn=revu-n," GROUPS "\ncn=revu-p," GROUPS);
    DMG_ASSERT_RC(dmg_compare(ld, "cn=revu-n," GROUPS, "member", uma), LDAP_COMPARE_TRUE);
    dmg_disconnect(ld);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---- filter strings -------------------------------------------------------------------------- */

/* A department whose DN needs every escape of a filter value: the special characters, a
 * control character and octets outside ASCII */
#define FS_DEPT        "ou=Rev*S (x)\\5C \\01 caf\xc3\xa9," DMG_SUFFIX
#define FS_DEPT_FILTER "ou=Rev\\2AS \\28x\\29\\5C5C \\5C01 caf\\c3\\a9," DMG_SUFFIX
#define FS_PERSON      "uid=revs-s1," FS_DEPT
#define FS_PREFIX      "(&(objectClass=*)"

/* The reqFilter values slapo-accesslog logged that contain needle, joined by "\n" */
static char *fs_logged(LDAP *ld, const char *needle)
{
    const char *const attrs[] = { "reqFilter", NULL };
    dmg_entries *out = NULL;
    size_t len = 1;
    char *found = calloc(1, 1);

    DMG_EXPECT_OK(dmg_search(ld, "cn=accesslog", LDAP_SCOPE_SUBTREE, "(objectClass=auditSearch)",
                             attrs, NULL, &out),
                  "reading the access log");
    for (size_t i = 0; i < out->count; i++) {
        const dmg_attr *a = dmg_entry_attr(&out->entries[i], "reqFilter");
        if (a == NULL || a->nvalues != 1 || strstr(a->values[0], needle) == NULL)
            continue;
        len += strlen(a->values[0]) + 1;
        found = realloc(found, len);
        ck_assert_ptr_nonnull(found);
        if (found[0] != '\0')
            strcat(found, "\n");
        strcat(found, a->values[0]);
    }
    dmg_entries_free(out);
    return found;
}

/* No search the accesslog holds has a filter containing needle */
static void assert_not_logged(LDAP *ld, const char *needle)
{
    char *logged = fs_logged(ld, needle);
    DMG_ASSERT_STR(logged, "");
    free(logged);
}

/* The filter strings of the overlay's internal searches, which overlays and backends below
 * read (slapo-accesslog logs them, back-ldap forwards them), write values as slapd does:
 * a department DN with special characters, a control character and UTF-8, and its UUID in
 * the form slapd writes a UUID.  slapo-accesslog logs the first search of an operation only
 * (the others have its start time, the key of the log entry): the client's filter as slapd
 * wrote it, and the search for the groups that name the department (by DN and UUID) when its
 * delete is asked for (refused: a group names it).  The reverse lookup of (member=) takes the
 * groups whose rule may select the person from the names it remembers, and finds the group. */
START_TEST(internal_filter_strings_as_slapd_writes_them)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    const char *const no_attrs[] = { LDAP_NO_ATTRS, NULL };
    char *uuid, *plain, *internal, *items;

    DMG_EXPECT_OK(dmg_add_ldif(ld, "dn: " FS_DEPT "\nobjectClass: organizationalUnit\n"
                                   "ou: Rev*S (x)\\ \x01 caf\xc3\xa9\n"),
                  "the department");
    DMG_EXPECT_OK(dmg_add_ldif(ld, "dn: " FS_PERSON "\nobjectClass: inetOrgPerson\n"
                                   "uid: revs-s1\ncn: revs-s1\nsn: s1\n"),
                  "the person");
    dmg_root_add_mail_group(srv, "revs-g", "dmgDepartment: " FS_DEPT "\n", NULL, 0);
    uuid = dmg_values_joined(ld, FS_DEPT, LDAP_SCOPE_BASE, NULL, "entryUUID");
    ck_assert_msg(strlen(uuid) == 36, "entryUUID %s", uuid);

    /* slapd's own string: nothing in this filter is computed */
    DMG_EXPECT_OK(dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE,
                             dmg_fmt(FS_PREFIX "(dmgDepartment=" FS_DEPT_FILTER
                                     ")(dmgDepartmentUUID=%s))", uuid),
                             no_attrs, NULL, NULL),
                  "the search slapd writes");
    plain = fs_logged(ld, FS_PREFIX);
    ck_assert_msg(strncmp(plain, FS_PREFIX, strlen(FS_PREFIX)) == 0 && strchr(plain, '\n') == NULL,
                  "logged: %s", plain);
    items = strndup(plain + strlen(FS_PREFIX), strlen(plain) - strlen(FS_PREFIX) - 1);

    /* the overlay's */
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(member=uid=revs-s1," FS_DEPT_FILTER ")",
                   "cn=revs-g," GROUPS);
    DMG_ASSERT_RC(dmg_delete(ld, FS_DEPT), LDAP_CONSTRAINT_VIOLATION);
    internal = fs_logged(ld, "(|(dmgDepartment=");
    ck_assert_msg(strstr(internal, items) != NULL,
                  "slapd writes the items as\n%s\nthe overlay's searches were\n%s", items,
                  internal);
    free(items);
    free(internal);
    free(plain);
    free(uuid);
    dmg_disconnect(ld);
}
END_TEST

/* slapo-accesslog below the overlay logs the client's search with (member=U) too.  Its log
 * entry's DN is the operation's start time, which the overlay's internal searches copy with
 * the operation: the first of them takes the DN and the client's own entry is refused
 * (entryAlreadyExists, logged at the sync level only), so the search goes unlogged. */
START_TEST(client_search_with_member_is_logged)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    char *logged;

    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE,
                   "(&(cn=revl-marker)(member=uid=uma," SALES "))", "");
    logged = fs_logged(ld, "revl-marker");
    ck_assert_msg(logged[0] != '\0' && strchr(logged, '\n') == NULL,
                  "searches logged with the client's filter: \"%s\"", logged);
    free(logged);
    dmg_disconnect(ld);
}
END_TEST

/* A reverse lookup takes the levels of nesting after the first from the names it remembers
 * (which groups include which): no internal search looks for the groups that include revm-a
 * (it would read as the filter naming revm-a in the log), neither before revm-n includes it
 * nor after, and the lookup finds revm-n all the same. */
START_TEST(reverse_lookup_takes_nesting_from_remembered_names)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    const char *p = "uid=uma," SALES;

    dmg_root_add_mail_group(srv, "revm-a", "dmgDepartment: " SALES "\n", NULL, 0);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revm-*)(member=%s))", p),
                   "cn=revm-a," GROUPS);
    dmg_root_add_mail_group(srv, "revm-n", "dmgIncludeMember: cn=revm-a," GROUPS "\n", NULL, 0);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revm-*)(member=%s))", p),
                   "cn=revm-a," GROUPS "\ncn=revm-n," GROUPS);
    assert_not_logged(ld, "(dmgIncludeMember=cn=revm-");
    dmg_disconnect(ld);
}
END_TEST

/* The groups that name an entry, and every group's departments, are remembered too: the
 * first level of a reverse lookup needs no search (no internal search names revf-p by
 * dmgIncludeMember, member, uniqueMember or as a department), and finds all the same the group
 * that includes revf-p and, through the static group naming it, the group that includes that
 * one. */
START_TEST(reverse_lookup_takes_namers_of_the_entry_from_remembered_names)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    const char *p = "uid=revf-p," SALES;

    root_add_person("revf-p", SALES);
    DMG_EXPECT_OK(dmg_add_ldif(ld, dmg_fmt("dn: cn=revf-s," GROUPS "\nobjectClass: groupOfNames\n"
                                           "cn: revf-s\nmember: %s\n", p)),
                  "the static group");
    dmg_root_add_mail_group(srv, "revf-d", dmg_fmt("dmgIncludeMember: %s\n", p), NULL, 0);
    dmg_root_add_mail_group(srv, "revf-n", "dmgIncludeMember: cn=revf-s," GROUPS "\n", NULL, 0);
    dmg_root_add_mail_group(srv, "revf-x", "dmgIncludeMember: uid=uma," SALES "\n", NULL, 0);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revf-*)(member=%s))", p),
                   "cn=revf-d," GROUPS "\ncn=revf-n," GROUPS "\ncn=revf-s," GROUPS);
    assert_not_logged(ld, "Member=uid=revf-p,");
    assert_not_logged(ld, "(dmgDepartment=uid=revf-p,");
    dmg_disconnect(ld);
}
END_TEST

/* The departments remembered are read again after a write that gives a group a department:
 * the reverse lookup right after it finds the group (a lookup before it read them). */
START_TEST(reverse_lookup_sees_a_department_added_to_a_group)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    const char *p = "uid=revd-p," SALES;

    root_add_person("revd-p", SALES);
    dmg_root_add_mail_group(srv, "revd-g", NULL, NULL, 0);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revd-*)(member=%s))", p), "");
    DMG_ASSERT_RC(dmg_modify(ld, "cn=revd-g," GROUPS, "add: dmgDepartment\ndmgDepartment: " SALES
                                                      "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revd-*)(member=%s))", p),
                   "cn=revd-g," GROUPS);
    DMG_ASSERT_RC(dmg_modify(ld, "cn=revd-g," GROUPS, "replace: dmgDepartment\ndmgDepartment: "
                                                      ENGINEERING "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, dmg_fmt("(&(cn=revd-*)(member=%s))", p), "");
    dmg_disconnect(ld);
}
END_TEST

static Suite *filter_strings_suite(void)
{
    Suite *s = suite_create("filter strings");
    TCase *tc = dmg_tcase("accesslog");
    tcase_add_test(tc, internal_filter_strings_as_slapd_writes_them);
    tcase_add_test(tc, member_filter_finds_groups_without_companions);
    tcase_add_test(tc, client_search_with_member_is_logged);
    tcase_add_test(tc, reverse_lookup_takes_nesting_from_remembered_names);
    tcase_add_test(tc, reverse_lookup_takes_namers_of_the_entry_from_remembered_names);
    tcase_add_test(tc, reverse_lookup_sees_a_department_added_to_a_group);
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
    /* the monitor database for settle_queued_writes; auditlog below dynmailgroup: its
     * response runs after dynmailgroup's; no file until the test names one */
    const dmg_server_opts txn_opts = {
        .global_config = "database monitor\n",
        .modules = "auditlog",
        .overlays_before = "overlay auditlog\n",
        .overlay_config = OVERLAY_CONFIG "dynmailgroup-cache-max-values 100000\n",
    };
    /* accesslog below dynmailgroup logs every search with the filter string it got */
    const dmg_server_opts filter_opts = {
        .modules = "accesslog",
        .accesslog_db = "",
        .overlays_before = "overlay accesslog\nlogdb cn=accesslog\nlogops search\n"
                           "logsuccess TRUE\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    int rc1 = dmg_run_suite(references_suite(), &references_opts, &srv);
    int rc2 = dmg_run_suite(transactions_suite(), &txn_opts, &srv);
    int rc3 = dmg_run_suite(filter_strings_suite(), &filter_opts, &srv);
    return (rc1 == EXIT_SUCCESS && rc2 == EXIT_SUCCESS && rc3 == EXIT_SUCCESS) ? EXIT_SUCCESS
                                                                               : EXIT_FAILURE;
}
