/*
 * test_config.c -- slapo-dynmailgroup under cn=config.
 *
 * Suite "config" runs on the harness's server (slapd.conf, all eight directives set in
 * overlay_config) and works on cn=config at run time over ldapi with SASL EXTERNAL, as an
 * administrator would with "ldapmodify -Y EXTERNAL -H ldapi:///":
 *   - the overlay's entry emits every directive with exactly the configured value;
 *   - olcDynMailGroupMaxMembers, olcDynMailGroupPostmaster and olcDynMailGroupMemberFilter
 *     take effect on the next operation, also on connections opened before the change;
 *   - invalid values are refused with a message naming them, and the running configuration
 *     is what it was (checked by behaviour, not only by the stored attribute).
 * Every test puts back what it changed, so the order of the tests does not matter.
 * The membership cache is on (dynmailgroup-cache-max-values 5000): the rootdn's and the
 * privileged MTA's reads are served from it, so the run-time changes below also show that a
 * configuration change empties it.
 *
 * Suite "slapd.d" is Debian's layout: the test starts its own harness server with config_dir
 * (slapd -F on a slapd.d that slaptest converted from the harness's slapd.conf) but without
 * the module, the overlay and the dynmailgroup schema, adds the dynmailgroup schema LDIF, the
 * module (to cn=module{0}), an index and the overlay over ldapi as an administrator would,
 * and restarts slapd on the same slapd.d to check that everything was written durably.
 */
#define _GNU_SOURCE /* strdup with C99 */

#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================
 * The fixture's names (tests/fixtures/org.ldif)
 * ========================================================================================== */

#define GROUPS       "ou=Groups," DMG_SUFFIX
#define FRONTEND     "ou=Frontend,ou=Engineering," DMG_SUFFIX
#define PM_DN        "uid=postmaster,ou=System," DMG_SUFFIX
#define PM_GROUP_DN  "cn=postmasters,ou=System," DMG_SUFFIX
#define PM_UNIQUE_DN "cn=postmasters-unique,ou=System," DMG_SUFFIX
#define PM3_DN       "uid=pm3,ou=System," DMG_SUFFIX
#define MTA_DN       "uid=mta,ou=System," DMG_SUFFIX
#define READER_DN    "uid=reader,ou=System," DMG_SUFFIX

#define PEGGY   "uid=peggy," FRONTEND
#define QUENTIN "uid=quentin," FRONTEND
#define RITA    "uid=rita," FRONTEND
#define SAM     "uid=sam," FRONTEND
#define TRENT   "uid=trent," FRONTEND
#define FRONTEND_MEMBERS PEGGY "\n" QUENTIN "\n" RITA "\n" SAM "\n" TRENT

/* ============================================================================================
 * Suite "config": the configured values. The filters are not the defaults (but select the
 * same entries of the fixture), so that an emitted default could not pass for them.
 * ========================================================================================== */

#define CFG_MEMBER_FILTER    "(&(objectClass=inetOrgPerson)(uid=*))"
#define CFG_DEPT_FILTER      "(|(objectClass=organizationalUnit)(objectClass=organizationalRole))"
#define CFG_MAX_DEPARTMENTS  "40"
#define CFG_MAX_WHITELIST    "900"
#define CFG_MAX_MEMBERS      "0"
#define CFG_CACHE_MAX_VALUES "5000"

static const char overlay_config[] =
    "dynmailgroup-member-filter " CFG_MEMBER_FILTER "\n"
    "dynmailgroup-department-filter " CFG_DEPT_FILTER "\n"
    "dynmailgroup-postmaster " PM_DN "\n"
    "dynmailgroup-postmaster " PM_GROUP_DN "\n"
    "dynmailgroup-privileged " MTA_DN "\n"
    "dynmailgroup-privileged " PM_UNIQUE_DN "\n"
    "dynmailgroup-max-departments " CFG_MAX_DEPARTMENTS "\n"
    "dynmailgroup-max-whitelist " CFG_MAX_WHITELIST "\n"
    "dynmailgroup-max-members " CFG_MAX_MEMBERS "\n"
    "dynmailgroup-cache-max-values " CFG_CACHE_MAX_VALUES "\n";

static dmg_server *server;

/* The DN of the overlay's cn=config entry (exactly one); free() it. */
static char *overlay_dn(LDAP *cfg)
{
    const char *attrs[] = { LDAP_NO_ATTRS, NULL };
    dmg_entries *e = NULL;
    DMG_ASSERT_RC(dmg_search(cfg, "cn=config", LDAP_SCOPE_SUBTREE, "(olcOverlay=dynmailgroup)",
                             attrs, NULL, &e),
                  LDAP_SUCCESS);
    ck_assert_msg(e->count == 1, "%zu cn=config entries match (olcOverlay=dynmailgroup), expected 1",
                  e->count);
    char *dn = strdup(e->entries[0].dn);
    ck_assert_ptr_nonnull(dn);
    dmg_entries_free(e);
    return dn;
}

/* The values of attr on the entry dn (base search), in any order. */
#define ASSERT_ATTR(ld, dn, attr, expected) \
    DMG_ASSERT_VALUES((ld), (dn), LDAP_SCOPE_BASE, "(objectClass=*)", (attr), (expected))

/* Replace one cn=config attribute of the overlay; the result is returned. */
static dmg_result cfg_replace(LDAP *cfg, const char *odn, const char *attr, const char *value)
{
    char mod[1024];
    snprintf(mod, sizeof mod, "replace: %s\n%s: %s\n", attr, attr, value);
    return dmg_modify(cfg, odn, mod);
}

static void add_group(LDAP *ld, const char *cn, const char *dept, const char *condition)
{
    char ldif[2048];
    snprintf(ldif, sizeof ldif,
             "dn: cn=%s," GROUPS "\nobjectClass: dynamicMailGroup\ncn: %s\n"
             "mail: %s@example.com\ndmgDepartment: %s\n%s%s%s",
             cn, cn, cn, dept, condition ? "dmgCondition: " : "", condition ? condition : "",
             condition ? "\n" : "");
    DMG_ASSERT_RC(dmg_add_ldif(ld, ldif), LDAP_SUCCESS);
}

/* Deletes what a test created; a leftover from an earlier failed run is no error. */
static void delete_quietly(LDAP *root, const char *dn)
{
    dmg_result r = dmg_delete(root, dn);
    ck_assert_msg(r.rc == LDAP_SUCCESS || r.rc == LDAP_NO_SUCH_OBJECT,
                  "delete %s: %s (%d) %s", dn, ldap_err2string(r.rc), r.rc, r.diag);
}

/* ---- (a) the overlay's entry ------------------------------------------------------------- */

START_TEST(test_config_entry_emits_every_directive)
{
    LDAP *cfg = dmg_connect_ldapi_external(server);
    char *odn = overlay_dn(cfg);

    /* the first (and only) overlay of the first mdb database */
    DMG_ASSERT_STR(odn, "olcOverlay={0}dynmailgroup,olcDatabase={1}mdb,cn=config");
    ASSERT_ATTR(cfg, odn, "objectClass", "olcDynMailGroupConfig\nolcOverlayConfig");
    ASSERT_ATTR(cfg, odn, "olcOverlay", "{0}dynmailgroup");
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMemberFilter", CFG_MEMBER_FILTER);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupDepartmentFilter", CFG_DEPT_FILTER);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupPostmaster", PM_DN "\n" PM_GROUP_DN);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupPrivileged", MTA_DN "\n" PM_UNIQUE_DN);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxDepartments", CFG_MAX_DEPARTMENTS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxWhitelist", CFG_MAX_WHITELIST);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxMembers", CFG_MAX_MEMBERS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupCacheMaxValues", CFG_CACHE_MAX_VALUES);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMemberVisibility", "requester");

    /* and nothing else of ours: exactly these attribute names */
    dmg_entries *e = NULL;
    DMG_ASSERT_RC(dmg_search(cfg, odn, LDAP_SCOPE_BASE, NULL, NULL, NULL, &e), LDAP_SUCCESS);
    ck_assert_uint_eq(e->count, 1);
    char names[1024] = "";
    for (size_t i = 0; i < e->entries[0].nattrs; i++) {
        const char *name = e->entries[0].attrs[i].name;
        if (strncasecmp(name, "olcDynMailGroup", 15) == 0) {
            strncat(names, name, sizeof names - strlen(names) - 2);
            strcat(names, "\n");
        }
    }
    dmg_entries_free(e);
    char *got = dmg_sorted_lines(names);
    char *expected = dmg_sorted_lines("olcDynMailGroupMemberFilter\nolcDynMailGroupDepartmentFilter\n"
                                      "olcDynMailGroupPostmaster\nolcDynMailGroupPrivileged\n"
                                      "olcDynMailGroupMaxDepartments\nolcDynMailGroupMaxWhitelist\n"
                                      "olcDynMailGroupMaxMembers\nolcDynMailGroupCacheMaxValues\n"
                                      "olcDynMailGroupMaxConditionLength\n"
                                      "olcDynMailGroupMaxConditions\n"
                                      "olcDynMailGroupMaxOverrides\n"
                                      "olcDynMailGroupMemberVisibility");
    DMG_ASSERT_STR(got, expected);
    free(got);
    free(expected);

    /* the schema of cn=config knows the class and what it allows */
    const char *oc_attrs[] = { "objectClasses", NULL };
    dmg_entries *schema = NULL;
    DMG_ASSERT_RC(dmg_search(cfg, "cn=Subschema", LDAP_SCOPE_BASE, "(objectClass=subschema)",
                             oc_attrs, NULL, &schema),
                  LDAP_SUCCESS);
    ck_assert_uint_eq(schema->count, 1);
    const dmg_attr *ocs = dmg_entry_attr(&schema->entries[0], "objectClasses");
    ck_assert_ptr_nonnull(ocs);
    int found = 0;
    for (size_t i = 0; i < ocs->nvalues; i++)
        if (strstr(ocs->values[i], "NAME 'olcDynMailGroupConfig'") != NULL) {
            found = 1;
            ck_assert_msg(strstr(ocs->values[i], "SUP olcOverlayConfig") != NULL, "%s",
                          ocs->values[i]);
        }
    ck_assert_msg(found, "olcDynMailGroupConfig is not in cn=Subschema");
    dmg_entries_free(schema);

    free(odn);
    dmg_disconnect(cfg);
}
END_TEST

/* ---- (b) olcDynMailGroupMaxMembers at run time ---------------------------------------------- */

#define BIG   "cn=cfg-limit-big," GROUPS
#define SMALL "cn=cfg-limit-small," GROUPS
#define BIG_LIMIT_TEXT \
    "group \"" BIG "\" has more than 3 members (dynmailgroup-max-members)"

START_TEST(test_max_members_at_run_time)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *user = dmg_connect(server, READER_DN, DMG_PASSWORD);
    LDAP *cfg = dmg_connect_ldapi_external(server);
    char *odn = overlay_dn(cfg);
    const char *member[] = { "member", NULL };
    const char *count[] = { "dmgMemberCount", NULL };
    const char *mails[] = { "dmgMemberMail", NULL };
    const char *cn_only[] = { "cn", NULL };
    dmg_entries *e = NULL;
    dmg_result r;

    delete_quietly(root, BIG);
    delete_quietly(root, SMALL);
    add_group(root, "cfg-limit-big", FRONTEND, NULL);            /* 5 members */
    add_group(root, "cfg-limit-small", FRONTEND, "(l=Berlin)");  /* rita only */
    ASSERT_ATTR(user, BIG, "dmgMemberCount", "5");

    DMG_ASSERT_RC(cfg_replace(cfg, odn, "olcDynMailGroupMaxMembers", "3"), LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxMembers", "3");

    /* the next operation, on connections opened before the change; the rootdn too */
    LDAP *both[] = { user, root };
    for (size_t i = 0; i < 2; i++) {
        const char *const *lists[] = { member, count, mails };
        for (size_t k = 0; k < 3; k++) {
            r = dmg_search(both[i], BIG, LDAP_SCOPE_BASE, NULL, lists[k], NULL, &e);
            DMG_ASSERT_RC(r, LDAP_ADMINLIMIT_EXCEEDED);
            DMG_ASSERT_STR(r.diag, BIG_LIMIT_TEXT);
            ck_assert_msg(e->count == 0, "%zu entries sent with adminLimitExceeded ({%s})",
                          e->count, lists[k][0]);
            dmg_entries_free(e);
        }
        /* no computed value asked for: nothing to compute, the group is returned */
        r = dmg_search(both[i], BIG, LDAP_SCOPE_BASE, NULL, cn_only, NULL, &e);
        DMG_ASSERT_RC(r, LDAP_SUCCESS);
        ck_assert_uint_eq(e->count, 1);
        dmg_entries_free(e);
    }
    /* a group within the limit is still answered */
    ASSERT_ATTR(user, SMALL, "member", RITA);
    /* one search over both: the small one is sent, the big one is not, and the result says so */
    r = dmg_search(user, GROUPS, LDAP_SCOPE_ONELEVEL, "(|(cn=cfg-limit-big)(cn=cfg-limit-small))",
                   member, NULL, &e);
    DMG_ASSERT_RC(r, LDAP_ADMINLIMIT_EXCEEDED);
    DMG_ASSERT_STR(r.diag, BIG_LIMIT_TEXT);
    ck_assert_uint_eq(e->count, 1);
    DMG_ASSERT_STR(e->entries[0].dn, SMALL);
    dmg_entries_free(e);

    /* exactly the limit is allowed */
    DMG_ASSERT_RC(cfg_replace(cfg, odn, "olcDynMailGroupMaxMembers", "5"), LDAP_SUCCESS);
    ASSERT_ATTR(user, BIG, "member", FRONTEND_MEMBERS);

    /* back to no limit */
    DMG_ASSERT_RC(cfg_replace(cfg, odn, "olcDynMailGroupMaxMembers", CFG_MAX_MEMBERS),
                  LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxMembers", CFG_MAX_MEMBERS);
    ASSERT_ATTR(root, BIG, "member", FRONTEND_MEMBERS);
    ASSERT_ATTR(user, BIG, "dmgMemberCount", "5");

    delete_quietly(root, BIG);
    delete_quietly(root, SMALL);
    free(odn);
    dmg_disconnect(cfg);
    dmg_disconnect(user);
    dmg_disconnect(root);
}
END_TEST

/* ---- (c) invalid values --------------------------------------------------------------------- */

#define TMP_OU      "ou=CfgTemp," DMG_SUFFIX
#define TMP_WITH    "uid=cfg-with-uid," TMP_OU
#define TMP_WITHOUT "cn=cfg-without-uid," TMP_OU
#define TMP_GROUP   "cn=cfg-tmp," GROUPS
#define TMP_DEPTS   41 /* one more than CFG_MAX_DEPARTMENTS */

/* A department with two inetOrgPersons, one without uid: CFG_MEMBER_FILTER takes only the
 * first, the default member filter would take both.  Plus TMP_DEPTS sub-departments. */
static void make_tmp_tree(LDAP *root)
{
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " TMP_OU "\nobjectClass: organizationalUnit\n"
                                     "ou: CfgTemp\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " TMP_WITH "\nobjectClass: inetOrgPerson\n"
                                     "uid: cfg-with-uid\ncn: With Uid\nsn: Uid\n"
                                     "mail: cfg-with-uid@example.com\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " TMP_WITHOUT "\nobjectClass: inetOrgPerson\n"
                                     "cn: cfg-without-uid\nsn: Nouid\n"
                                     "mail: cfg-without-uid@example.com\n"),
                  LDAP_SUCCESS);
    for (int i = 1; i <= TMP_DEPTS; i++) {
        char ldif[256];
        snprintf(ldif, sizeof ldif, "dn: ou=d%d," TMP_OU "\nobjectClass: organizationalUnit\n"
                                    "ou: d%d\n", i, i);
        DMG_ASSERT_RC(dmg_add_ldif(root, ldif), LDAP_SUCCESS);
    }
}

static void remove_tmp_tree(LDAP *root)
{
    delete_quietly(root, TMP_GROUP);
    for (int i = 1; i <= TMP_DEPTS; i++) {
        char dn[128];
        snprintf(dn, sizeof dn, "ou=d%d," TMP_OU, i);
        delete_quietly(root, dn);
    }
    delete_quietly(root, TMP_WITH);
    delete_quietly(root, TMP_WITHOUT);
    delete_quietly(root, TMP_OU);
}

/* The running value of max-departments, seen through its diagnostic: a group naming all
 * TMP_DEPTS (41) sub-departments is refused naming the maximum. */
static void assert_running_max_departments_is_40(LDAP *root)
{
    char ldif[8192];
    size_t n = (size_t)snprintf(ldif, sizeof ldif,
                                "dn: " TMP_GROUP "\nobjectClass: dynamicMailGroup\ncn: cfg-tmp\n"
                                "mail: cfg-tmp@example.com\n");
    for (int i = 1; i <= TMP_DEPTS && n < sizeof ldif; i++)
        n += (size_t)snprintf(ldif + n, sizeof ldif - n, "dmgDepartment: ou=d%d," TMP_OU "\n", i);
    ck_assert_uint_lt(n, sizeof ldif);
    dmg_result r = dmg_add_ldif(root, ldif);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "dmgDepartment: 41 values, more than the maximum of 40 "
                           "(dynmailgroup-max-departments)");
}

START_TEST(test_invalid_values_are_refused)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *cfg = dmg_connect_ldapi_external(server);
    char *odn = overlay_dn(cfg);
    dmg_result r;

    remove_tmp_tree(root);
    make_tmp_tree(root);
    add_group(root, "cfg-tmp", TMP_OU, NULL);
    ASSERT_ATTR(root, TMP_GROUP, "member", TMP_WITH);
    DMG_ASSERT_RC(dmg_delete(root, TMP_GROUP), LDAP_SUCCESS);
    assert_running_max_departments_is_40(root);

    /* a filter that does not parse: the driver refuses it (cn=config answers "other") */
    r = cfg_replace(cfg, odn, "olcDynMailGroupMemberFilter", "(objectClass=");
    DMG_ASSERT_RC(r, LDAP_OTHER);
    DMG_ASSERT_STR(r.diag, "invalid filter \"(objectClass=\"");
    r = dmg_modify(cfg, odn, "add: olcDynMailGroupDepartmentFilter\n"
                             "olcDynMailGroupDepartmentFilter: (ou=a\n");
    /* a second value of a single-valued filter */
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "attribute 'olcDynMailGroupDepartmentFilter' cannot have multiple values");
    r = cfg_replace(cfg, odn, "olcDynMailGroupDepartmentFilter", "ou=Sales)");
    DMG_ASSERT_RC(r, LDAP_OTHER);
    DMG_ASSERT_STR(r.diag, "invalid filter \"ou=Sales)\"");
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMemberFilter", CFG_MEMBER_FILTER);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupDepartmentFilter", CFG_DEPT_FILTER);

    /* counts below 1 */
    static const char *const bad_counts[] = { "0", "-1" };
    for (size_t i = 0; i < 2; i++) {
        char expected[256];
        r = cfg_replace(cfg, odn, "olcDynMailGroupMaxDepartments", bad_counts[i]);
        DMG_ASSERT_RC(r, LDAP_OTHER);
        snprintf(expected, sizeof expected,
                 "<olcDynMailGroupMaxDepartments> must be a positive number, not \"%s\"",
                 bad_counts[i]);
        DMG_ASSERT_STR(r.diag, expected);
        r = cfg_replace(cfg, odn, "olcDynMailGroupMaxWhitelist", bad_counts[i]);
        DMG_ASSERT_RC(r, LDAP_OTHER);
        snprintf(expected, sizeof expected,
                 "<olcDynMailGroupMaxWhitelist> must be a positive number, not \"%s\"",
                 bad_counts[i]);
        DMG_ASSERT_STR(r.diag, expected);
    }
    /* an unsigned count: slapd's own parser refuses a negative one */
    r = cfg_replace(cfg, odn, "olcDynMailGroupMaxMembers", "-1");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, "<olcDynMailGroupMaxMembers> unable to parse \"-1\" as unsigned long");
    /* not a number at all: the attribute's INTEGER syntax refuses it first */
    r = cfg_replace(cfg, odn, "olcDynMailGroupMaxDepartments", "many");
    DMG_ASSERT_RC(r, LDAP_INVALID_SYNTAX);
    DMG_ASSERT_STR(r.diag, "olcDynMailGroupMaxDepartments: value #0 invalid per syntax");

    /* nothing changed: the stored attributes ... */
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxDepartments", CFG_MAX_DEPARTMENTS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxWhitelist", CFG_MAX_WHITELIST);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMaxMembers", CFG_MAX_MEMBERS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMemberFilter", CFG_MEMBER_FILTER);
    /* ... and the running overlay: still the configured member filter (not the default,
     * which a failed replace passes through), still a maximum of 40 departments */
    add_group(root, "cfg-tmp", TMP_OU, NULL);
    ASSERT_ATTR(root, TMP_GROUP, "member", TMP_WITH);
    DMG_ASSERT_RC(dmg_delete(root, TMP_GROUP), LDAP_SUCCESS);
    assert_running_max_departments_is_40(root);

    remove_tmp_tree(root);
    free(odn);
    dmg_disconnect(cfg);
    dmg_disconnect(root);
}
END_TEST

/* ---- (d) postmasters at run time ------------------------------------------------------------- */

static void group_ldif(char *buf, size_t size, const char *cn)
{
    snprintf(buf, size,
             "dn: cn=%s," GROUPS "\nobjectClass: dynamicMailGroup\ncn: %s\n"
             "mail: %s@example.com\ndmgDepartment: " FRONTEND "\n",
             cn, cn, cn);
}

static void assert_may_create(LDAP *ld, const char *cn, const char *creator)
{
    char ldif[1024], dn[256];
    group_ldif(ldif, sizeof ldif, cn);
    snprintf(dn, sizeof dn, "cn=%s," GROUPS, cn);
    dmg_result r = dmg_add_ldif(ld, ldif);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "%s may not create %s: %s (%d) \"%s\"", creator, dn,
                  ldap_err2string(r.rc), r.rc, r.diag);
    ASSERT_ATTR(ld, dn, "dmgApplicant", creator);
}

static void assert_may_not_create(LDAP *ld, const char *cn)
{
    char ldif[1024], expected[512];
    group_ldif(ldif, sizeof ldif, cn);
    dmg_result r = dmg_add_ldif(ld, ldif);
    DMG_ASSERT_RC(r, LDAP_INSUFFICIENT_ACCESS);
    snprintf(expected, sizeof expected,
             "only postmasters may create a dynamicMailGroup (\"cn=%s," GROUPS "\")", cn);
    DMG_ASSERT_STR(r.diag, expected);
}

START_TEST(test_postmasters_at_run_time)
{
    static const char *const made[] = { "cfg-pm-reader", "cfg-pm-unique", "cfg-pm-unique2" };
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *reader = dmg_connect(server, READER_DN, DMG_PASSWORD);
    LDAP *pm3 = dmg_connect(server, PM3_DN, DMG_PASSWORD);
    LDAP *cfg = dmg_connect_ldapi_external(server);
    char *odn = overlay_dn(cfg);

    for (size_t i = 0; i < 3; i++) {
        char dn[256];
        snprintf(dn, sizeof dn, "cn=%s," GROUPS, made[i]);
        delete_quietly(root, dn);
    }
    assert_may_not_create(reader, "cfg-pm-reader");
    assert_may_not_create(pm3, "cfg-pm-unique");

    /* an account and a groupOfUniqueNames, added in one modify */
    DMG_ASSERT_RC(dmg_modify(cfg, odn, "add: olcDynMailGroupPostmaster\n"
                                       "olcDynMailGroupPostmaster: " READER_DN "\n"
                                       "olcDynMailGroupPostmaster: " PM_UNIQUE_DN "\n"),
                  LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupPostmaster",
                PM_DN "\n" PM_GROUP_DN "\n" READER_DN "\n" PM_UNIQUE_DN);
    assert_may_create(reader, "cfg-pm-reader", READER_DN);
    assert_may_create(pm3, "cfg-pm-unique", PM3_DN);

    /* delete one value from the middle: exactly that identity loses the role */
    DMG_ASSERT_RC(dmg_modify(cfg, odn, "delete: olcDynMailGroupPostmaster\n"
                                       "olcDynMailGroupPostmaster: " READER_DN "\n"),
                  LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupPostmaster", PM_DN "\n" PM_GROUP_DN "\n" PM_UNIQUE_DN);
    assert_may_not_create(reader, "cfg-pm-reader2");
    assert_may_create(pm3, "cfg-pm-unique2", PM3_DN);

    DMG_ASSERT_RC(dmg_modify(cfg, odn, "delete: olcDynMailGroupPostmaster\n"
                                       "olcDynMailGroupPostmaster: " PM_UNIQUE_DN "\n"),
                  LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupPostmaster", PM_DN "\n" PM_GROUP_DN);
    assert_may_not_create(pm3, "cfg-pm-unique3");

    /* the configured postmasters kept their role throughout */
    LDAP *pm = dmg_connect(server, PM_DN, DMG_PASSWORD);
    assert_may_create(pm, "cfg-pm-still", PM_DN);
    DMG_ASSERT_RC(dmg_delete(pm, "cn=cfg-pm-still," GROUPS), LDAP_SUCCESS);
    dmg_disconnect(pm);

    for (size_t i = 0; i < 3; i++) {
        char dn[256];
        snprintf(dn, sizeof dn, "cn=%s," GROUPS, made[i]);
        delete_quietly(root, dn);
    }
    free(odn);
    dmg_disconnect(cfg);
    dmg_disconnect(pm3);
    dmg_disconnect(reader);
    dmg_disconnect(root);
}
END_TEST

/* An identity's roles are remembered between its reads: the read right after
 * olcDynMailGroupPrivileged names it, or no longer does, holds the new role (a hidden group is
 * seen, then not), on the same connection and with no write to the database in between. */
START_TEST(test_privileged_at_run_time_seen_by_the_next_read)
{
    const char *g = "cn=cfg-hidden," GROUPS;
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *reader = dmg_connect(server, READER_DN, DMG_PASSWORD);
    LDAP *cfg = dmg_connect_ldapi_external(server);
    char *odn = overlay_dn(cfg);

    delete_quietly(root, g);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: cn=cfg-hidden," GROUPS "\nobjectClass: dynamicMailGroup\n"
                                     "cn: cfg-hidden\nmail: cfg-hidden@example.com\n"
                                     "dmgDepartment: " FRONTEND "\ndmgShowInContacts: FALSE\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=cfg-hidden)", "");
    DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=cfg-hidden)", "");

    DMG_ASSERT_RC(dmg_modify(cfg, odn, "add: olcDynMailGroupPrivileged\n"
                                       "olcDynMailGroupPrivileged: " READER_DN "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=cfg-hidden)", g);
    DMG_ASSERT_VALUES(reader, g, LDAP_SCOPE_BASE, NULL, "member", FRONTEND_MEMBERS);

    DMG_ASSERT_RC(dmg_modify(cfg, odn, "delete: olcDynMailGroupPrivileged\n"
                                       "olcDynMailGroupPrivileged: " READER_DN "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(reader, GROUPS, LDAP_SCOPE_ONELEVEL, "(cn=cfg-hidden)", "");
    DMG_ASSERT_RC(dmg_search(reader, g, LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL),
                  LDAP_NO_SUCH_OBJECT);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupPrivileged", MTA_DN "\n" PM_UNIQUE_DN);

    delete_quietly(root, g);
    free(odn);
    dmg_disconnect(cfg);
    dmg_disconnect(reader);
    dmg_disconnect(root);
}
END_TEST

/* ---- (e) the member filter at run time -------------------------------------------------------- */

#define FILTER_GROUP "cn=cfg-filter," GROUPS
#define BERLIN_FILTER "(&(objectClass=inetOrgPerson)(l=Berlin))"

START_TEST(test_member_filter_at_run_time)
{
    LDAP *root = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *user = dmg_connect(server, MTA_DN, DMG_PASSWORD);
    LDAP *cfg = dmg_connect_ldapi_external(server);
    char *odn = overlay_dn(cfg);

    delete_quietly(root, FILTER_GROUP);
    add_group(root, "cfg-filter", FRONTEND, NULL);
    ASSERT_ATTR(user, FILTER_GROUP, "member", FRONTEND_MEMBERS);

    DMG_ASSERT_RC(cfg_replace(cfg, odn, "olcDynMailGroupMemberFilter", BERLIN_FILTER),
                  LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMemberFilter", BERLIN_FILTER);
    /* at once, in every form: forward, counts, mails, reverse lookups */
    ASSERT_ATTR(user, FILTER_GROUP, "member", RITA);
    ASSERT_ATTR(user, FILTER_GROUP, "dmgMemberCount", "1");
    ASSERT_ATTR(user, FILTER_GROUP, "dmgMemberMail", "rita@example.com\nRita.Rossi@Example.COM");
    DMG_ASSERT_DNS(user, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=cfg-filter)(member=" RITA "))", FILTER_GROUP);
    DMG_ASSERT_DNS(user, GROUPS, LDAP_SCOPE_ONELEVEL,
                   "(&(cn=cfg-filter)(member=" PEGGY "))", "");
    DMG_ASSERT_DNS(user, FRONTEND, LDAP_SCOPE_ONELEVEL,
                   "(dmgMemberOf=" FILTER_GROUP ")", RITA);
    DMG_ASSERT_RC(dmg_compare(user, FILTER_GROUP, "member", PEGGY), LDAP_COMPARE_FALSE);
    DMG_ASSERT_RC(dmg_compare(user, FILTER_GROUP, "member", RITA), LDAP_COMPARE_TRUE);

    /* back to the configured filter */
    DMG_ASSERT_RC(cfg_replace(cfg, odn, "olcDynMailGroupMemberFilter", CFG_MEMBER_FILTER),
                  LDAP_SUCCESS);
    ASSERT_ATTR(cfg, odn, "olcDynMailGroupMemberFilter", CFG_MEMBER_FILTER);
    ASSERT_ATTR(user, FILTER_GROUP, "member", FRONTEND_MEMBERS);
    ASSERT_ATTR(user, FILTER_GROUP, "dmgMemberCount", "5");
    DMG_ASSERT_DNS(user, FRONTEND, LDAP_SCOPE_ONELEVEL,
                   "(dmgMemberOf=" FILTER_GROUP ")", FRONTEND_MEMBERS);
    DMG_ASSERT_RC(dmg_compare(user, FILTER_GROUP, "member", PEGGY), LDAP_COMPARE_TRUE);

    delete_quietly(root, FILTER_GROUP);
    free(odn);
    dmg_disconnect(cfg);
    dmg_disconnect(user);
    dmg_disconnect(root);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = dmg_tcase("cn=config");
    tcase_add_test(tc, test_config_entry_emits_every_directive);
    tcase_add_test(tc, test_max_members_at_run_time);
    tcase_add_test(tc, test_invalid_values_are_refused);
    tcase_add_test(tc, test_postmasters_at_run_time);
    tcase_add_test(tc, test_privileged_at_run_time_seen_by_the_next_read);
    tcase_add_test(tc, test_member_filter_at_run_time);
    suite_add_tcase(s, tc);
    return s;
}

/* ============================================================================================
 * Suite "slapd.d": a harness server with config_dir (slapd -F), started inside the test.
 * ========================================================================================== */

#define SD_DB      "olcDatabase={1}mdb,cn=config"
#define SD_OVERLAY "olcOverlay={0}dynmailgroup," SD_DB
#define SD_MODULES "cn=module{0},cn=config"
#define SD_SALES   "ou=Sales," DMG_SUFFIX
#define SD_ANN     "uid=ann," SD_SALES
#define SD_BEN     "uid=ben," SD_SALES
#define SD_PM      "uid=pm,ou=People," DMG_SUFFIX
#define SD_GROUP   "cn=sales,ou=Groups," DMG_SUFFIX

/* The whole file as a string; free() it. */
static char *read_text_file(const char *path)
{
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s: %s", path, strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[len] = '\0';
    fclose(f);
    return buf;
}

static void sd_add_data(LDAP *root)
{
    static const char *const entries[] = {
        "dn: " DMG_SUFFIX "\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        "o: Example Inc.\n",
        "dn: ou=People," DMG_SUFFIX "\nobjectClass: organizationalUnit\nou: People\n",
        "dn: " SD_PM "\nobjectClass: inetOrgPerson\nuid: pm\ncn: Post Master\nsn: Master\n"
        "mail: pm@example.com\nuserPassword: " DMG_PASSWORD "\n",
        "dn: " SD_SALES "\nobjectClass: organizationalUnit\nou: Sales\n",
        "dn: " SD_ANN "\nobjectClass: inetOrgPerson\nuid: ann\ncn: Ann Arbor\nsn: Arbor\n"
        "l: Berlin\nmail: ann@example.com\n",
        "dn: " SD_BEN "\nobjectClass: inetOrgPerson\nuid: ben\ncn: Ben Bauer\nsn: Bauer\n"
        "l: Paris\nmail: ben@example.com\n",
        "dn: ou=Groups," DMG_SUFFIX "\nobjectClass: organizationalUnit\nou: Groups\n",
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        DMG_ASSERT_RC(dmg_add_ldif(root, entries[i]), LDAP_SUCCESS);
}

START_TEST(test_slapd_d_layout)
{
    /* Debian's layout without anything of ours: slapd.d converted from the harness's
     * slapd.conf, no module, no overlay, no dynmailgroup schema, an empty database. */
    dmg_server_opts o = { .config_dir = 1, .without_module = 1, .no_dmg_schema = 1,
                          .fixture = DMG_NO_FIXTURE };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd -F did not start (see stderr)");
    const char *confdir = dmg_server_config_dir(s);
    ck_assert_ptr_nonnull(confdir);

    const char *builddir = getenv("DMG_BUILDDIR");
    if (builddir == NULL || *builddir == '\0')
        builddir = ".";
    const char *module = getenv("DMG_MODULE");
    char module_path[PATH_MAX], schema_path[PATH_MAX], ldif[2 * PATH_MAX];
    if (module != NULL && *module != '\0')
        snprintf(module_path, sizeof module_path, "%s", module);
    else
        snprintf(module_path, sizeof module_path, "%s/.libs/dynmailgroup.so", builddir);
    ck_assert_msg(module_path[0] == '/', "DMG_MODULE must be an absolute path: %s", module_path);
    snprintf(schema_path, sizeof schema_path, "%s/schema/dynmailgroup.ldif", builddir);

    /* ---- cn=config at run time, as root over ldapi ---- */
    LDAP *cfg = dmg_connect_ldapi_external(s);
    DMG_ASSERT_DNS(cfg, "cn=config", LDAP_SCOPE_ONELEVEL, "(olcDatabase=mdb)", SD_DB);
    DMG_ASSERT_DNS(cfg, "cn=config", LDAP_SCOPE_ONELEVEL, "(objectClass=olcModuleList)",
                   SD_MODULES);
    DMG_ASSERT_DNS(cfg, "cn=schema,cn=config", LDAP_SCOPE_ONELEVEL, "(cn=*dynmailgroup)", "");

    char *schema = read_text_file(schema_path);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, schema), LDAP_SUCCESS);
    free(schema);
    DMG_ASSERT_DNS(cfg, "cn=schema,cn=config", LDAP_SCOPE_ONELEVEL, "(cn=*dynmailgroup)",
                   "cn={4}dynmailgroup,cn=schema,cn=config");

    snprintf(ldif, sizeof ldif, "add: olcModuleLoad\nolcModuleLoad: %s\n", module_path);
    DMG_ASSERT_RC(dmg_modify(cfg, SD_MODULES, ldif), LDAP_SUCCESS);
    snprintf(ldif, sizeof ldif, "{0}back_mdb\n{1}%s", module_path);
    ASSERT_ATTR(cfg, SD_MODULES, "olcModuleLoad", ldif);

    DMG_ASSERT_RC(dmg_modify(cfg, SD_DB, "add: olcDbIndex\nolcDbIndex: dmgDepartment eq\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, "dn: olcOverlay=dynmailgroup," SD_DB "\n"
                                    "objectClass: olcOverlayConfig\n"
                                    "objectClass: olcDynMailGroupConfig\n"
                                    "olcOverlay: dynmailgroup\n"
                                    "olcDynMailGroupPostmaster: " SD_PM "\n"
                                    "olcDynMailGroupMaxDepartments: 10\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(cfg, SD_DB, LDAP_SCOPE_ONELEVEL, "(olcOverlay=dynmailgroup)", SD_OVERLAY);

    /* ---- data over LDAP; the postmaster creates the group ---- */
    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    sd_add_data(root);
    LDAP *pm = dmg_connect(s, SD_PM, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm, "dn: " SD_GROUP "\nobjectClass: dynamicMailGroup\ncn: sales\n"
                                   "mail: sales@example.com\ndmgDepartment: " SD_SALES "\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
    ASSERT_ATTR(root, SD_GROUP, "member", SD_ANN "\n" SD_BEN);
    ASSERT_ATTR(root, SD_GROUP, "dmgMemberMail", "ann@example.com\nben@example.com");
    ASSERT_ATTR(root, SD_GROUP, "dmgApplicant", SD_PM);
    DMG_ASSERT_DNS(root, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" SD_BEN ")", SD_GROUP);

    /* ---- a directive changed at run time ---- */
    DMG_ASSERT_RC(cfg_replace(cfg, SD_OVERLAY, "olcDynMailGroupMemberFilter", BERLIN_FILTER),
                  LDAP_SUCCESS);
    ASSERT_ATTR(root, SD_GROUP, "member", SD_ANN);
    dmg_disconnect(root);
    dmg_disconnect(cfg);

    /* ---- restart on the same slapd.d ---- */
    ck_assert_msg(dmg_server_restart(s) == 0, "slapd -F %s did not restart cleanly", confdir);
    char overlay_file[PATH_MAX];
    snprintf(overlay_file, sizeof overlay_file,
             "%s/cn=config/olcDatabase={1}mdb/olcOverlay={0}dynmailgroup.ldif", confdir);
    char *written = read_text_file(overlay_file);
    ck_assert_msg(strstr(written, "\nolcDynMailGroupMemberFilter: " BERLIN_FILTER "\n") != NULL,
                  "%s lacks the new member filter:\n%s", overlay_file, written);
    free(written);

    cfg = dmg_connect_ldapi_external(s);
    ASSERT_ATTR(cfg, SD_OVERLAY, "objectClass", "olcDynMailGroupConfig\nolcOverlayConfig");
    ASSERT_ATTR(cfg, SD_OVERLAY, "olcDynMailGroupMemberFilter", BERLIN_FILTER);
    ASSERT_ATTR(cfg, SD_OVERLAY, "olcDynMailGroupPostmaster", SD_PM);
    ASSERT_ATTR(cfg, SD_OVERLAY, "olcDynMailGroupMaxDepartments", "10");
    DMG_ASSERT_DNS(cfg, "cn=schema,cn=config", LDAP_SCOPE_ONELEVEL, "(cn=*dynmailgroup)",
                   "cn={4}dynmailgroup,cn=schema,cn=config");
    snprintf(ldif, sizeof ldif, "{0}back_mdb\n{1}%s", module_path);
    ASSERT_ATTR(cfg, SD_MODULES, "olcModuleLoad", ldif);
    ASSERT_ATTR(cfg, SD_DB, "olcDbIndex",
                "cn eq\ndmgDepartment eq\nmail eq\nobjectClass eq\nuid eq");
    dmg_disconnect(cfg);

    root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    ASSERT_ATTR(root, SD_GROUP, "member", SD_ANN);
    ASSERT_ATTR(root, SD_GROUP, "dmgMemberCount", "1");
    ASSERT_ATTR(root, SD_GROUP, "dmgApplicant", SD_PM);
    DMG_ASSERT_DNS(root, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" SD_ANN ")", SD_GROUP);
    DMG_ASSERT_DNS(root, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" SD_BEN ")", "");
    /* the restarted overlay still guards writes: ann is no postmaster */
    DMG_ASSERT_RC(dmg_modify(root, SD_ANN, "replace: userPassword\nuserPassword: secret\n"),
                  LDAP_SUCCESS);
    LDAP *user = dmg_connect(s, SD_ANN, "secret");
    dmg_result r = dmg_add_ldif(user, "dn: cn=ann-group,ou=Groups," DMG_SUFFIX "\n"
                                      "objectClass: dynamicMailGroup\ncn: ann-group\n"
                                      "mail: ann-group@example.com\n"
                                      "dmgDepartment: " SD_SALES "\n");
    DMG_ASSERT_RC(r, LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(user);
    dmg_disconnect(root);

    /* what slapd -F wrote must pass slaptest too */
    ck_assert_msg(dmg_server_check_config(s) == 0, "slaptest -u -F %s failed", confdir);
    ck_assert_msg(dmg_server_stop(s) == 0, "slapd -F did not stop cleanly");
}
END_TEST

static Suite *slapd_d_suite(void)
{
    Suite *s = suite_create("slapd.d");
    TCase *tc = dmg_tcase("slapd -F");
    tcase_add_test(tc, test_slapd_d_layout);
    suite_add_tcase(s, tc);
    return s;
}

static int run_plain_suite(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    if (getenv("CK_FORK") == NULL)
        srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(void)
{
    setenv("LDAPNOINIT", "1", 0);
    dmg_server_opts o = { .overlay_config = overlay_config };
    int first = dmg_run_suite(config_suite(), &o, &server);
    int second = run_plain_suite(slapd_d_suite());
    return (first == EXIT_SUCCESS && second == EXIT_SUCCESS) ? EXIT_SUCCESS : EXIT_FAILURE;
}
