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
 * Suite "slapd.d" is Debian's layout: each test builds a slapd.d with slapadd -n0 from a
 * minimal cn=config LDIF (core, cosine, inetorgperson, back_mdb, a config database managed by
 * this process's peer credentials, an mdb database for dc=example,dc=com), runs slapd -F on
 * it over ldapi only, adds the dynmailgroup schema LDIF, the module and the overlay over LDAP,
 * and restarts slapd on the same slapd.d to check that everything was written durably.
 * The harness only runs slapd.conf servers, so that server is managed here (fd_*).
 */
#define _GNU_SOURCE /* mkdtemp, prctl, nftw */

#include "harness.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sasl/sasl.h>

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

    /* and nothing else of ours: exactly the eight attribute names */
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
                                      "olcDynMailGroupMaxMembers\nolcDynMailGroupCacheMaxValues");
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
    tcase_add_test(tc, test_member_filter_at_run_time);
    suite_add_tcase(s, tc);
    return s;
}

/* ============================================================================================
 * Suite "slapd.d": a slapd started with -F, managed here.
 * ========================================================================================== */

#define FD_NAP_MS      10
#define FD_READY_TRIES 1500  /* ~15 s */
#define FD_STOP_TRIES  2000  /* ~20 s */
#define FD_TOOL_TRIES  12000 /* ~120 s */

typedef struct fd_server {
    char dir[128];          /* temporary directory (short: the ldapi socket is in it) */
    char confdir[256];      /* dir/slapd.d */
    char log[256];          /* dir/slapd.log: slapd's and the tools' output */
    char uri[512];          /* ldapi://... (percent-encoded socket path) */
    pid_t pid;
    pid_t owner;
    off_t log_offset;       /* start of the current slapd run in the log */
} fd_server;

/* Stopped and removed at exit.  A failed assertion ends a test process with _exit(), which
 * skips atexit(): then slapd dies with it (PR_SET_PDEATHSIG) and the runner process removes
 * the directory in the test case's unchecked teardown (fd_tmpdir_remove). */
static fd_server *fd_live;
static char fd_tmpdir[96]; /* made and removed by the runner process */

static const char *fd_env(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return (v != NULL && *v != '\0') ? v : dflt;
}

static void fd_nap(void)
{
    struct timespec ts = { 0, FD_NAP_MS * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Sanitizer builds (DMG_PRELOAD set) preload the ASan/UBSan runtime into the processes that
 * load the module. Such a process never leaves exit() by itself on Debian 12 (p11-kit's
 * destructor blocks; see harness.c): it is recognised as finished by a line in its log (and,
 * for slapd, its removed pidfile) and then killed, as the harness does. */
static int fd_preload_mode(void)
{
    const char *preload = getenv("DMG_PRELOAD");
    return preload != NULL && *preload != '\0';
}

/* fork + exec; output appended to the log; the child dies with the test process. */
static pid_t fd_spawn(const fd_server *s, const char *path, char *const argv[], int preload)
{
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        if (fd > STDERR_FILENO)
            close(fd);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        if (devnull > STDERR_FILENO)
            close(devnull);
    }
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
#else
    (void)parent;
#endif
    if (preload && fd_preload_mode()) {
        setenv("LD_PRELOAD", getenv("DMG_PRELOAD"), 1);
        setenv("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1", 1);
        setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1", 1);
    }
    execv(path, argv);
    fprintf(stderr, "exec %s: %s\n", path, strerror(errno));
    _exit(127);
}

static off_t fd_log_size(const fd_server *s)
{
    struct stat st;
    return stat(s->log, &st) == 0 ? st.st_size : 0;
}

static int fd_log_contains(const fd_server *s, off_t offset, const char *text)
{
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return 0;
    fseeko(f, offset, SEEK_SET);
    char line[4096];
    int found = 0;
    while (!found && fgets(line, sizeof line, f) != NULL)
        found = strstr(line, text) != NULL;
    fclose(f);
    return found;
}

/* 0 and *status when pid ended within tries naps, 1 otherwise. In preload mode, done_marker
 * in the log (from offset) and gone_file removed (when not NULL) for ~200 ms more also count
 * as a clean exit: the process is then killed and *status set to 0. */
static int fd_wait(const fd_server *s, pid_t pid, int tries, int *status, off_t offset,
                   const char *done_marker, const char *gone_file)
{
    int finished_polls = 0;
    int marker_seen = 0;
    struct stat st;
    for (int i = 0; i < tries; i++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return 1;
        if (done_marker != NULL && fd_preload_mode() && !marker_seen)
            marker_seen = fd_log_contains(s, offset, done_marker);
        if (marker_seen && (gone_file == NULL || stat(gone_file, &st) != 0)
            && ++finished_polls > 20) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            *status = 0;
            return 0;
        }
        fd_nap();
    }
    return 1;
}

static void fd_dump_log(const fd_server *s, off_t from)
{
    FILE *f = fopen(s->log, "r");
    if (f == NULL)
        return;
    fseeko(f, from, SEEK_SET);
    fprintf(stderr, "----- %s -----\n", s->log);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "----- end of %s -----\n", s->log);
    fclose(f);
}


/* A slapd tool (slapadd, slaptest) next to slapd, else slapd under that name. */
static void fd_tool(const char *tool, const char *env, char *out, size_t size)
{
    const char *explicit_path = getenv(env);
    if (explicit_path != NULL && *explicit_path != '\0') {
        snprintf(out, size, "%s", explicit_path);
        return;
    }
    const char *slapd = fd_env("DMG_SLAPD", "/usr/sbin/slapd");
    const char *slash = strrchr(slapd, '/');
    if (slash != NULL) {
        snprintf(out, size, "%.*s%s", (int)(slash + 1 - slapd), slapd, tool);
        if (access(out, X_OK) == 0)
            return;
    }
    snprintf(out, size, "%s", slapd);
}

/* Runs a tool to completion; its exit status (-1: did not run or hung). With preload (the
 * tool loads the module) done_marker is its last line of output on success. */
static int fd_run_tool(const fd_server *s, const char *path, char *const argv[], int preload,
                       const char *done_marker)
{
    off_t offset = fd_log_size(s);
    pid_t pid = fd_spawn(s, path, argv, preload);
    if (pid < 0)
        return -1;
    int status = 0;
    if (fd_wait(s, pid, FD_TOOL_TRIES, &status, offset, preload ? done_marker : NULL, NULL)
        != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int fd_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* SIGTERM, bounded wait, SIGKILL; 0 when slapd exited with status 0. In preload mode
 * "slapd stopped." and the removed pidfile mean that main() has finished. */
static int fd_stop_slapd(fd_server *s)
{
    if (s->pid <= 0)
        return 0;
    kill(s->pid, SIGTERM);
    int status = 0;
    char pidfile[sizeof s->dir + 16];
    snprintf(pidfile, sizeof pidfile, "%s/slapd.pid", s->dir);
    int hung = fd_wait(s, s->pid, FD_STOP_TRIES, &status, s->log_offset, "slapd stopped.",
                       pidfile);
    if (hung) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, &status, 0);
    }
    s->pid = -1;
    return (!hung && WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : 1;
}

static void fd_cleanup_at_exit(void)
{
    fd_server *s = fd_live;
    if (s == NULL || s->owner != getpid())
        return;
    fd_live = NULL;
    fd_stop_slapd(s);
    if (getenv("DMG_KEEP_TMP") != NULL)
        fprintf(stderr, "test_config: kept %s\n", s->dir);
    else
        nftw(s->dir, fd_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(s);
}

static void fd_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
    size_t n = strlen(text);
    ck_assert_msg(fwrite(text, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
}

static char *fd_read_file(const char *path)
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

/* The minimal cn=config of a Debian installation: modules first, then the schema, the
 * frontend, the config database (manage for this process's peer credentials over ldapi) and
 * one mdb database. */
static char *fd_config_ldif(const fd_server *s)
{
    const char *schemadir = fd_env("DMG_SCHEMADIR", "/etc/ldap/schema");
    char *text = NULL;
    int n = asprintf(&text,
        "dn: cn=config\n"
        "objectClass: olcGlobal\n"
        "cn: config\n"
        "olcPidFile: %s/slapd.pid\n"
        "olcArgsFile: %s/slapd.args\n"
        "\n"
        "dn: cn=module{0},cn=config\n"
        "objectClass: olcModuleList\n"
        "cn: module{0}\n"
        "olcModulePath: %s\n"
        "olcModuleLoad: back_mdb\n"
        "\n"
        "dn: cn=schema,cn=config\n"
        "objectClass: olcSchemaConfig\n"
        "cn: schema\n"
        "\n"
        "include: file://%s/core.ldif\n"
        "\n"
        "include: file://%s/cosine.ldif\n"
        "\n"
        "include: file://%s/inetorgperson.ldif\n"
        "\n"
        "dn: olcDatabase={-1}frontend,cn=config\n"
        "objectClass: olcDatabaseConfig\n"
        "objectClass: olcFrontendConfig\n"
        "olcDatabase: {-1}frontend\n"
        "\n"
        "dn: olcDatabase={0}config,cn=config\n"
        "objectClass: olcDatabaseConfig\n"
        "olcDatabase: {0}config\n"
        "olcAccess: {0}to * by dn.exact=gidNumber=%lu+uidNumber=%lu,cn=peercred,cn=external,"
        "cn=auth manage by * break\n"
        "\n"
        "dn: olcDatabase={1}mdb,cn=config\n"
        "objectClass: olcDatabaseConfig\n"
        "objectClass: olcMdbConfig\n"
        "olcDatabase: {1}mdb\n"
        "olcDbDirectory: %s/db\n"
        "olcSuffix: " DMG_SUFFIX "\n"
        "olcRootDN: " DMG_ROOTDN "\n"
        "olcRootPW: " DMG_ROOTPW "\n"
        "olcDbMaxSize: 1073741824\n"
        "olcDbIndex: objectClass eq\n"
        "olcDbIndex: mail eq\n",
        s->dir, s->dir, fd_env("DMG_MODULEPATH", "/usr/lib/ldap"), schemadir, schemadir,
        schemadir, (unsigned long)getgid(), (unsigned long)getuid(), s->dir);
    ck_assert_msg(n > 0, "asprintf failed");
    return text;
}

/* Unchecked fixture, in the runner process: the directory the tests' servers live in. */
static void fd_tmpdir_make(void)
{
    const char *tmp = fd_env("TMPDIR", "/tmp");
    if (strlen(tmp) > 60)
        tmp = "/tmp"; /* the ldapi socket path must fit in sun_path */
    snprintf(fd_tmpdir, sizeof fd_tmpdir, "%s/dmg-slapdd-XXXXXX", tmp);
    if (mkdtemp(fd_tmpdir) == NULL) {
        fprintf(stderr, "test_config: mkdtemp %s: %s\n", fd_tmpdir, strerror(errno));
        fd_tmpdir[0] = '\0';
    }
}

static void fd_tmpdir_remove(void)
{
    if (fd_tmpdir[0] == '\0')
        return;
    if (getenv("DMG_KEEP_TMP") != NULL)
        fprintf(stderr, "test_config: kept %s\n", fd_tmpdir);
    else
        nftw(fd_tmpdir, fd_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    fd_tmpdir[0] = '\0';
}

/* A fresh directory with a slapd.d made by slapadd -n0. */
static fd_server *fd_create(void)
{
    ck_assert_msg(fd_tmpdir[0] != '\0', "no temporary directory (see stderr)");
    fd_server *s = calloc(1, sizeof *s);
    ck_assert_ptr_nonnull(s);
    s->pid = -1;
    s->owner = getpid();
    snprintf(s->dir, sizeof s->dir, "%s/srv-XXXXXX", fd_tmpdir);
    ck_assert_msg(mkdtemp(s->dir) != NULL, "mkdtemp %s: %s", s->dir, strerror(errno));
    fd_live = s;
    atexit(fd_cleanup_at_exit);

    char path[PATH_MAX];
    snprintf(s->confdir, sizeof s->confdir, "%s/slapd.d", s->dir);
    snprintf(s->log, sizeof s->log, "%s/slapd.log", s->dir);
    snprintf(path, sizeof path, "%s/db", s->dir);
    ck_assert_int_eq(mkdir(s->confdir, 0700), 0);
    ck_assert_int_eq(mkdir(path, 0700), 0);

    char socket_path[PATH_MAX];
    snprintf(socket_path, sizeof socket_path, "%s/ldapi", s->dir);
    size_t u = (size_t)snprintf(s->uri, sizeof s->uri, "ldapi://");
    for (const char *p = socket_path; *p != '\0' && u + 4 < sizeof s->uri; p++) {
        unsigned char ch = (unsigned char)*p;
        if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_')
            s->uri[u++] = (char)ch;
        else
            u += (size_t)snprintf(s->uri + u, sizeof s->uri - u, "%%%02X", ch);
    }
    snprintf(s->uri + u, sizeof s->uri - u, "/");

    char *ldif = fd_config_ldif(s);
    snprintf(path, sizeof path, "%s/config.ldif", s->dir);
    fd_write_file(path, ldif);
    free(ldif);

    char tool[PATH_MAX];
    fd_tool("slapadd", "DMG_SLAPADD", tool, sizeof tool);
    /* the config LDIF does not load the module: no preload */
    char *argv[] = { "slapadd", "-n0", "-F", s->confdir, "-l", path, NULL };
    int rc = fd_run_tool(s, tool, argv, 0, NULL);
    if (rc != 0)
        fd_dump_log(s, 0);
    ck_assert_msg(rc == 0, "slapadd -n0 -F %s -l %s: exit status %d", s->confdir, path, rc);
    return s;
}

static LDAP *fd_open(const fd_server *s)
{
    LDAP *ld = NULL;
    int rc = ldap_initialize(&ld, s->uri);
    ck_assert_msg(rc == LDAP_SUCCESS, "ldap_initialize(%s): %s", s->uri, ldap_err2string(rc));
    int version = LDAP_VERSION3;
    struct timeval net = { 5, 0 }, op = { 30, 0 };
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    return ld;
}

/* One anonymous bind, the readiness probe. */
static int fd_probe(const fd_server *s)
{
    LDAP *ld = NULL;
    if (ldap_initialize(&ld, s->uri) != LDAP_SUCCESS)
        return -1;
    int version = LDAP_VERSION3;
    struct timeval tv = { 1, 0 };
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
    struct berval empty = { 0, NULL };
    int rc = ldap_sasl_bind_s(ld, NULL, LDAP_SASL_SIMPLE, &empty, NULL, NULL, NULL);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return rc;
}

/* slapd -d 0 -F slapd.d -h ldapi://...: in the foreground, so that its pid is ours. */
static void fd_start(fd_server *s)
{
    /* "none" still logs "slapd stopped.", which fd_stop_slapd needs in preload mode */
    const char *level = fd_env("DMG_SLAPD_DEBUG", "none");
    if (fd_preload_mode() && strcmp(level, "0") == 0)
        level = "none";
    char *argv[] = { "slapd", "-d", (char *)level, "-F", s->confdir, "-h", s->uri, NULL };
    s->log_offset = fd_log_size(s);
    s->pid = fd_spawn(s, fd_env("DMG_SLAPD", "/usr/sbin/slapd"), argv, 1);
    ck_assert_msg(s->pid > 0, "fork: %s", strerror(errno));
    for (int i = 0; i < FD_READY_TRIES; i++) {
        int status = 0;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            fd_dump_log(s, s->log_offset);
            ck_abort_msg("slapd -F %s exited during start-up (status 0x%x)", s->confdir, status);
        }
        if (fd_probe(s) == LDAP_SUCCESS)
            return;
        fd_nap();
    }
    fd_dump_log(s, s->log_offset);
    ck_abort_msg("slapd -F %s did not answer on %s in time", s->confdir, s->uri);
}

/* Stops slapd; it must exit cleanly and leave no sanitizer report. */
static void fd_stop(fd_server *s)
{
    int bad = fd_stop_slapd(s);
    FILE *f = fopen(s->log, "r");
    int report = 0;
    if (f != NULL) {
        char line[4096];
        fseeko(f, s->log_offset, SEEK_SET);
        while (!report && fgets(line, sizeof line, f) != NULL)
            report = strstr(line, "AddressSanitizer") != NULL
                     || strstr(line, "runtime error:") != NULL
                     || strstr(line, "LeakSanitizer") != NULL;
        fclose(f);
    }
    if (bad || report)
        fd_dump_log(s, s->log_offset);
    ck_assert_msg(!bad, "slapd -F %s did not exit cleanly", s->confdir);
    ck_assert_msg(!report, "sanitizer report in %s", s->log);
}

static int fd_sasl_defaults(LDAP *ld, unsigned flags, void *defaults, void *interact)
{
    (void)ld;
    (void)flags;
    (void)defaults;
    for (sasl_interact_t *in = interact; in != NULL && in->id != SASL_CB_LIST_END; in++) {
        in->result = in->defresult != NULL ? in->defresult : "";
        in->len = (unsigned)strlen(in->result);
    }
    return LDAP_SUCCESS;
}

static LDAP *fd_connect_external(const fd_server *s)
{
    LDAP *ld = fd_open(s);
    int rc = ldap_sasl_interactive_bind_s(ld, NULL, "EXTERNAL", NULL, NULL, LDAP_SASL_QUIET,
                                          fd_sasl_defaults, NULL);
    ck_assert_msg(rc == LDAP_SUCCESS, "SASL EXTERNAL bind to %s: %s", s->uri, ldap_err2string(rc));
    return ld;
}

static LDAP *fd_connect(const fd_server *s, const char *dn, const char *password)
{
    LDAP *ld = fd_open(s);
    dmg_result r = dmg_bind(ld, dn, password);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "bind as %s to %s: %s (%d) %s", dn, s->uri,
                  ldap_err2string(r.rc), r.rc, r.diag);
    return ld;
}

/* ---- the test -------------------------------------------------------------------------------- */

#define FD_DB      "olcDatabase={1}mdb,cn=config"
#define FD_OVERLAY "olcOverlay={0}dynmailgroup," FD_DB
#define FD_SALES   "ou=Sales," DMG_SUFFIX
#define FD_ANN     "uid=ann," FD_SALES
#define FD_BEN     "uid=ben," FD_SALES
#define FD_PM      "uid=pm,ou=People," DMG_SUFFIX
#define FD_GROUP   "cn=sales,ou=Groups," DMG_SUFFIX

static void fd_add_data(LDAP *root)
{
    static const char *const entries[] = {
        "dn: " DMG_SUFFIX "\nobjectClass: dcObject\nobjectClass: organization\ndc: example\n"
        "o: Example Inc.\n",
        "dn: ou=People," DMG_SUFFIX "\nobjectClass: organizationalUnit\nou: People\n",
        "dn: " FD_PM "\nobjectClass: inetOrgPerson\nuid: pm\ncn: Post Master\nsn: Master\n"
        "mail: pm@example.com\nuserPassword: " DMG_PASSWORD "\n",
        "dn: " FD_SALES "\nobjectClass: organizationalUnit\nou: Sales\n",
        "dn: " FD_ANN "\nobjectClass: inetOrgPerson\nuid: ann\ncn: Ann Arbor\nsn: Arbor\n"
        "l: Berlin\nmail: ann@example.com\n",
        "dn: " FD_BEN "\nobjectClass: inetOrgPerson\nuid: ben\ncn: Ben Bauer\nsn: Bauer\n"
        "l: Paris\nmail: ben@example.com\n",
        "dn: ou=Groups," DMG_SUFFIX "\nobjectClass: organizationalUnit\nou: Groups\n",
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
        DMG_ASSERT_RC(dmg_add_ldif(root, entries[i]), LDAP_SUCCESS);
}

START_TEST(test_slapd_d_layout)
{
    fd_server *s = fd_create();
    fd_start(s);

    const char *builddir = fd_env("DMG_BUILDDIR", ".");
    const char *module = getenv("DMG_MODULE");
    char module_path[PATH_MAX], schema_path[PATH_MAX], ldif[2 * PATH_MAX];
    if (module != NULL && *module != '\0')
        snprintf(module_path, sizeof module_path, "%s", module);
    else
        snprintf(module_path, sizeof module_path, "%s/.libs/dynmailgroup.so", builddir);
    ck_assert_msg(module_path[0] == '/', "DMG_MODULE must be an absolute path: %s", module_path);
    snprintf(schema_path, sizeof schema_path, "%s/schema/dynmailgroup.ldif", builddir);

    /* ---- cn=config at run time, as root over ldapi ---- */
    LDAP *cfg = fd_connect_external(s);
    DMG_ASSERT_DNS(cfg, "cn=config", LDAP_SCOPE_ONELEVEL, "(olcDatabase=mdb)", FD_DB);

    char *schema = fd_read_file(schema_path);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, schema), LDAP_SUCCESS);
    free(schema);
    DMG_ASSERT_DNS(cfg, "cn=schema,cn=config", LDAP_SCOPE_ONELEVEL, "(cn=*dynmailgroup)",
                   "cn={3}dynmailgroup,cn=schema,cn=config");

    snprintf(ldif, sizeof ldif, "dn: cn=module,cn=config\nobjectClass: olcModuleList\n"
                                "cn: module\nolcModuleLoad: %s\n", module_path);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, ldif), LDAP_SUCCESS);
    DMG_ASSERT_DNS(cfg, "cn=config", LDAP_SCOPE_ONELEVEL, "(objectClass=olcModuleList)",
                   "cn=module{0},cn=config\ncn=module{1},cn=config");

    DMG_ASSERT_RC(dmg_modify(cfg, FD_DB, "add: olcDbIndex\nolcDbIndex: dmgDepartment eq\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(cfg, "dn: olcOverlay=dynmailgroup," FD_DB "\n"
                                    "objectClass: olcOverlayConfig\n"
                                    "objectClass: olcDynMailGroupConfig\n"
                                    "olcOverlay: dynmailgroup\n"
                                    "olcDynMailGroupPostmaster: " FD_PM "\n"
                                    "olcDynMailGroupMaxDepartments: 10\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_DNS(cfg, FD_DB, LDAP_SCOPE_ONELEVEL, "(olcOverlay=dynmailgroup)", FD_OVERLAY);

    /* ---- data over LDAP; the postmaster creates the group ---- */
    LDAP *root = fd_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    fd_add_data(root);
    LDAP *pm = fd_connect(s, FD_PM, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm, "dn: " FD_GROUP "\nobjectClass: dynamicMailGroup\ncn: sales\n"
                                   "mail: sales@example.com\ndmgDepartment: " FD_SALES "\n"),
                  LDAP_SUCCESS);
    dmg_disconnect(pm);
    ASSERT_ATTR(root, FD_GROUP, "member", FD_ANN "\n" FD_BEN);
    ASSERT_ATTR(root, FD_GROUP, "dmgMemberMail", "ann@example.com\nben@example.com");
    ASSERT_ATTR(root, FD_GROUP, "dmgApplicant", FD_PM);
    DMG_ASSERT_DNS(root, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" FD_BEN ")", FD_GROUP);

    /* ---- a directive changed at run time ---- */
    DMG_ASSERT_RC(cfg_replace(cfg, FD_OVERLAY, "olcDynMailGroupMemberFilter", BERLIN_FILTER),
                  LDAP_SUCCESS);
    ASSERT_ATTR(root, FD_GROUP, "member", FD_ANN);
    dmg_disconnect(root);
    dmg_disconnect(cfg);

    /* ---- restart on the same slapd.d ---- */
    fd_stop(s);
    char overlay_file[PATH_MAX];
    snprintf(overlay_file, sizeof overlay_file,
             "%s/cn=config/olcDatabase={1}mdb/olcOverlay={0}dynmailgroup.ldif", s->confdir);
    char *written = fd_read_file(overlay_file);
    ck_assert_msg(strstr(written, "\nolcDynMailGroupMemberFilter: " BERLIN_FILTER "\n") != NULL,
                  "%s lacks the new member filter:\n%s", overlay_file, written);
    free(written);
    fd_start(s);

    cfg = fd_connect_external(s);
    ASSERT_ATTR(cfg, FD_OVERLAY, "objectClass", "olcDynMailGroupConfig\nolcOverlayConfig");
    ASSERT_ATTR(cfg, FD_OVERLAY, "olcDynMailGroupMemberFilter", BERLIN_FILTER);
    ASSERT_ATTR(cfg, FD_OVERLAY, "olcDynMailGroupPostmaster", FD_PM);
    ASSERT_ATTR(cfg, FD_OVERLAY, "olcDynMailGroupMaxDepartments", "10");
    DMG_ASSERT_DNS(cfg, "cn=schema,cn=config", LDAP_SCOPE_ONELEVEL, "(cn=*dynmailgroup)",
                   "cn={3}dynmailgroup,cn=schema,cn=config");
    snprintf(ldif, sizeof ldif, "{0}%s", module_path);
    ASSERT_ATTR(cfg, "cn=module{1},cn=config", "olcModuleLoad", ldif);
    ASSERT_ATTR(cfg, FD_DB, "olcDbIndex", "dmgDepartment eq\nmail eq\nobjectClass eq");
    dmg_disconnect(cfg);

    root = fd_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    ASSERT_ATTR(root, FD_GROUP, "member", FD_ANN);
    ASSERT_ATTR(root, FD_GROUP, "dmgMemberCount", "1");
    ASSERT_ATTR(root, FD_GROUP, "dmgApplicant", FD_PM);
    DMG_ASSERT_DNS(root, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" FD_ANN ")", FD_GROUP);
    DMG_ASSERT_DNS(root, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(member=" FD_BEN ")", "");
    /* the restarted overlay still guards writes: ann is no postmaster */
    DMG_ASSERT_RC(dmg_modify(root, FD_ANN, "replace: userPassword\nuserPassword: secret\n"),
                  LDAP_SUCCESS);
    LDAP *user = fd_connect(s, FD_ANN, "secret");
    dmg_result r = dmg_add_ldif(user, "dn: cn=ann-group,ou=Groups," DMG_SUFFIX "\n"
                                      "objectClass: dynamicMailGroup\ncn: ann-group\n"
                                      "mail: ann-group@example.com\n"
                                      "dmgDepartment: " FD_SALES "\n");
    DMG_ASSERT_RC(r, LDAP_INSUFFICIENT_ACCESS);
    dmg_disconnect(user);
    dmg_disconnect(root);

    fd_stop(s);
    /* what slapd -F wrote must pass slaptest too */
    char tool[PATH_MAX];
    fd_tool("slaptest", "DMG_SLAPTEST", tool, sizeof tool);
    char *argv[] = { "slaptest", "-u", "-F", s->confdir, NULL };
    off_t before = fd_log_size(s);
    int rc = fd_run_tool(s, tool, argv, 1, "config file testing succeeded");
    if (rc != 0)
        fd_dump_log(s, before);
    ck_assert_msg(rc == 0, "slaptest -u -F %s: exit status %d", s->confdir, rc);
}
END_TEST

static Suite *slapd_d_suite(void)
{
    Suite *s = suite_create("slapd.d");
    TCase *tc = dmg_tcase("slapd -F");
    tcase_add_unchecked_fixture(tc, fd_tmpdir_make, fd_tmpdir_remove);
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
