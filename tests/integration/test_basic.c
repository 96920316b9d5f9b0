/*
 * test_basic.c -- the smallest end-to-end proof: a real slapd loads the module and the overlay,
 * accepts a dynamicMailGroup with every stored attribute of man page SCHEMA, and computes the
 * member list of a simple group. A second server WITHOUT the module proves that the member test
 * can fail: there the same group has no member attribute at all.
 *
 * Fixture: tests/fixtures/org.ldif (see tests/fixtures/README.md for the expected sets).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static dmg_server *srv;

#define GROUPS "ou=Groups," DMG_SUFFIX
#define FINANCE_GROUP "cn=finance-all," GROUPS

/* Every employee of ou=Finance (a flat department); the printer in it is no inetOrgPerson. */
static const char finance_members[] =
    "uid=gina,ou=Finance,dc=example,dc=com\n"
    "uid=hans,ou=Finance,dc=example,dc=com\n"
    "uid=iris,ou=Finance,dc=example,dc=com\n"
    "uid=jack,ou=Finance,dc=example,dc=com\n"
    "uid=kate,ou=Finance,dc=example,dc=com\n"
    "uid=liam,ou=Finance,dc=example,dc=com";

static const char finance_group_ldif[] =
    "dn: " FINANCE_GROUP "\n"
    "objectClass: dynamicMailGroup\n"
    "cn: finance-all\n"
    "mail: finance-all@example.com\n"
    "dmgDepartment: ou=Finance,dc=example,dc=com\n";

/* A group that sets every stored attribute of man page SCHEMA except dmgApplicant, which the
 * server stamps. cn and mail vary so that several tests can each add their own. */
static void full_group_ldif(char *buf, size_t size, const char *cn)
{
    snprintf(buf, size,
             "dn: cn=%s," GROUPS "\n"
             "objectClass: dynamicMailGroup\n"
             "cn: %s\n"
             "mail: %s@example.com\n"
             "description: Finance and Support staff in Berlin\n"
             "dmgDepartment: ou=Finance,dc=example,dc=com\n"
             "dmgDepartment: ou=Support,dc=example,dc=com\n"
             "dmgIncludeSubDepartments: TRUE\n"
             "dmgCondition: (l=Berlin)\n"
             "dmgAdministrator: uid=gina,ou=Finance,dc=example,dc=com\n"
             "dmgAuditRequired: TRUE\n"
             "dmgAuditor: uid=mia,ou=Support,dc=example,dc=com\n"
             "dmgSendPolicy: members\n"
             "dmgSendPolicy: whitelist\n"
             "dmgWhitelist: partner@example.net\n"
             "dmgWhitelist: @example.org\n"
             "dmgShowInContacts: TRUE\n",
             cn, cn, cn);
}

/* A stored attribute reads back exactly as written (values in any order). */
#define ASSERT_STORED(ld, dn, attr, expected) \
    DMG_ASSERT_VALUES((ld), (dn), LDAP_SCOPE_BASE, NULL, (attr), (expected))

/* ------------------------------------------------------------------------------------------ */

/* (a) slapd runs with the module loaded and the overlay on the database. */
START_TEST(overlay_is_configured)
{
    LDAP *ld = dmg_connect_ldapi_external(srv);
    DMG_ASSERT_DNS(ld, "olcDatabase={1}mdb,cn=config", LDAP_SCOPE_ONELEVEL,
                   "(objectClass=olcOverlayConfig)",
                   "olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config");
    dmg_disconnect(ld);
}
END_TEST

/* (b) the rootdn adds a group with every stored attribute; it reads back as written, with
 * dmgApplicant stamped to the rootdn. */
START_TEST(add_group_with_every_stored_attribute)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    char ldif[2048];
    full_group_ldif(ldif, sizeof ldif, "fs-berlin");
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);

    const char *dn = "cn=fs-berlin," GROUPS;
    ASSERT_STORED(ld, dn, "objectClass", "dynamicMailGroup");
    ASSERT_STORED(ld, dn, "cn", "fs-berlin");
    ASSERT_STORED(ld, dn, "mail", "fs-berlin@example.com");
    ASSERT_STORED(ld, dn, "description", "Finance and Support staff in Berlin");
    ASSERT_STORED(ld, dn, "dmgDepartment",
                  "ou=Finance,dc=example,dc=com\nou=Support,dc=example,dc=com");
    ASSERT_STORED(ld, dn, "dmgIncludeSubDepartments", "TRUE");
    ASSERT_STORED(ld, dn, "dmgCondition", "(l=Berlin)");
    ASSERT_STORED(ld, dn, "dmgAdministrator", "uid=gina,ou=Finance,dc=example,dc=com");
    ASSERT_STORED(ld, dn, "dmgAuditRequired", "TRUE");
    ASSERT_STORED(ld, dn, "dmgAuditor", "uid=mia,ou=Support,dc=example,dc=com");
    ASSERT_STORED(ld, dn, "dmgSendPolicy", "members\nwhitelist");
    ASSERT_STORED(ld, dn, "dmgWhitelist", "partner@example.net\n@example.org");
    ASSERT_STORED(ld, dn, "dmgShowInContacts", "TRUE");
    ASSERT_STORED(ld, dn, "dmgApplicant", DMG_ROOTDN);
    dmg_disconnect(ld);
}
END_TEST

/* The same kind of group computes its members: Finance and Support (with Tier1 and Tier2)
 * employees in Berlin. */
START_TEST(full_group_members)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    char ldif[2048];
    full_group_ldif(ldif, sizeof ldif, "fs-berlin-members");
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
    DMG_ASSERT_VALUES(ld, "cn=fs-berlin-members," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=hans,ou=Finance,dc=example,dc=com\n"
                      "uid=kate,ou=Finance,dc=example,dc=com\n"
                      "uid=noah,ou=Support,dc=example,dc=com\n"
                      "uid=paul,ou=Tier1,ou=Support,dc=example,dc=com\n"
                      "uid=rosa,ou=Tier1,ou=Support,dc=example,dc=com\n"
                      "uid=walt,ou=Tier2,ou=Support,dc=example,dc=com");
    dmg_disconnect(ld);
}
END_TEST

/* (c) THE test that must fail without the module: a group on ou=Finance with no condition has
 * every Finance employee as member, asked for by name and with "*". */
START_TEST(finance_group_members)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    DMG_ASSERT_RC(dmg_add_ldif(ld, finance_group_ldif), LDAP_SUCCESS);
    DMG_ASSERT_VALUES(ld, FINANCE_GROUP, LDAP_SCOPE_BASE, NULL, "member", finance_members);

    dmg_entries *e = NULL;
    const char *all_user[] = { "*", NULL };
    DMG_ASSERT_RC(dmg_search(ld, FINANCE_GROUP, LDAP_SCOPE_BASE, NULL, all_user, NULL, &e),
                  LDAP_SUCCESS);
    ck_assert_uint_eq(e->count, 1);
    const dmg_attr *member = dmg_entry_attr(&e->entries[0], "member");
    ck_assert_msg(member != NULL, "member missing from a \"*\" read of %s", FINANCE_GROUP);
    ck_assert_uint_eq(member->nvalues, 6);
    dmg_entries_free(e);
    dmg_disconnect(ld);
}
END_TEST

/* (d) Control: the same group on a server without the module. Everything stored works, but
 * nothing is computed, so finance_group_members above would fail here. */
START_TEST(without_module_member_is_absent)
{
    LDAP *ld = dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
    DMG_ASSERT_RC(dmg_add_ldif(ld, finance_group_ldif), LDAP_SUCCESS);
    char *got = dmg_values_joined(ld, FINANCE_GROUP, LDAP_SCOPE_BASE, NULL, "member");
    DMG_ASSERT_STR(got, "");
    ck_assert_str_ne(got, finance_members);
    free(got);
    /* Nor is anything stamped. */
    got = dmg_values_joined(ld, FINANCE_GROUP, LDAP_SCOPE_BASE, NULL, "dmgApplicant");
    DMG_ASSERT_STR(got, "");
    free(got);
    dmg_disconnect(ld);
}
END_TEST

/* Groups, departments and the cache belong to one database: as a global overlay (in the
 * frontend) dynmailgroup refuses to start, and so slapd does not start. */
START_TEST(global_overlay_refused)
{
    dmg_server_opts global = { .global_config = "overlay dynmailgroup\n" };
    dmg_server *s = dmg_server_start(&global);
    if (s != NULL) {
        dmg_server_stop(s);
        ck_abort_msg("slapd started with dynmailgroup as a global overlay");
    }
}
END_TEST

static Suite *with_module_suite(void)
{
    Suite *s = suite_create("basic (with dynmailgroup)");
    TCase *tc = dmg_tcase("basic");
    tcase_add_test(tc, overlay_is_configured);
    tcase_add_test(tc, add_group_with_every_stored_attribute);
    tcase_add_test(tc, full_group_members);
    tcase_add_test(tc, finance_group_members);
    tcase_add_test(tc, global_overlay_refused);
    suite_add_tcase(s, tc);
    return s;
}

static Suite *without_module_suite(void)
{
    Suite *s = suite_create("basic control (slapd without dynmailgroup)");
    TCase *tc = dmg_tcase("control");
    tcase_add_test(tc, without_module_member_is_absent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    int rc = EXIT_SUCCESS;
    dmg_server_opts with_module = { 0 };
    if (dmg_run_suite(with_module_suite(), &with_module, &srv) != EXIT_SUCCESS)
        rc = EXIT_FAILURE;
    dmg_server_opts without_module = { .without_module = 1 };
    if (dmg_run_suite(without_module_suite(), &without_module, &srv) != EXIT_SUCCESS)
        rc = EXIT_FAILURE;
    return rc;
}
