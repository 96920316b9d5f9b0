/*
 * test_postfix.c - a real Postfix resolves dynamic mail groups over LDAP (man page SEND DECISIONS):
 * `postmap -q GROUP ldap:FILE` with the tables the documentation shows.
 *
 *   result_attribute = dmgMemberMail           every member address in one query
 *   special_result_attribute = member          the classic groupOfNames expansion: Postfix
 *   + result_attribute / leaf_result_attribute  reads each member DN's mail
 *
 * Needs postmap with the ldap map type (Debian: postfix, postfix-ldap). When it is missing
 * every test FAILS saying so; nothing is skipped. DMG_POSTMAP names another postmap.
 */
#define _GNU_SOURCE

#include "harness.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MTA_DN "uid=mta,ou=System,dc=example,dc=com"
#define GROUPS "ou=Groups,dc=example,dc=com"
#define INSTALL_HINT \
    "install Postfix with LDAP support (Debian: apt-get install postfix postfix-ldap; " \
    "scripts/install-deps.sh does it)"

static dmg_server *server;

/* ============================================================================================
 * postmap
 * ========================================================================================== */

static const char *postmap_path(void)
{
    const char *env = getenv("DMG_POSTMAP");
    return env != NULL && *env != '\0' ? env : dmg_find_program("postmap");
}

/* Run a Postfix tool; its standard output (trailing newline removed; caller frees) and exit
 * status. Standard error goes into *err (caller frees). */
static char *run(char *const argv[], int *status, char **err)
{
    char *out;
    *status = dmg_run(argv, dmg_server_dir(server), NULL, &out, err);
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '\n')
        out[--len] = '\0';
    return out;
}

/* postmap must be there and know the ldap map type; otherwise the test fails here. */
static const char *require_postmap(void)
{
    const char *pm = postmap_path();
    ck_assert_msg(pm != NULL, "postmap not found: " INSTALL_HINT);
    ck_assert_msg(access(pm, X_OK) == 0, "postmap %s is not executable: " INSTALL_HINT, pm);
    char postconf[PATH_MAX];
    const char *slash = strrchr(pm, '/');
    /* postconf -m lists the map types; it lives next to postmap */
    DMG_PATH_FMT(postconf, sizeof postconf, "%.*spostconf", (int)(slash ? slash - pm + 1 : 0),
                 pm);
    char *argv[] = { postconf, "-c", (char *)dmg_server_dir(server), "-m", NULL };
    int status;
    char *err;
    char *types = run(argv, &status, &err);
    int has_ldap = 0;
    char *save = NULL;
    for (char *t = strtok_r(types, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
        has_ldap |= strcmp(t, "ldap") == 0;
    ck_assert_msg(status == 0 && has_ldap,
                  "postmap has no ldap map type (postconf -m: status %d, stderr: %s): "
                  INSTALL_HINT, status, err);
    free(types);
    free(err);
    return pm;
}

/* An ldap table file in the server's directory; its path (static). */
static const char *ldap_table(const char *name, const char *bind_dn, const char *extra)
{
    static char path[PATH_MAX];
    char text[4096], main_cf[PATH_MAX];
    /* the Postfix configuration directory for -c is the server's temporary directory, with
     * a main.cf of its own (none is needed in /etc/postfix) */
    DMG_PATH_FMT(main_cf, sizeof main_cf, "%s/main.cf", dmg_server_dir(server));
    DMG_WRITE_FILE(main_cf, "compatibility_level = 3.6\n", 0);
    snprintf(text, sizeof text,
             "# written by test_postfix.c\n"
             "server_host = %s\n"
             "version = 3\n"
             "search_base = dc=example,dc=com\n"
             "scope = sub\n"
             "query_filter = (&(objectClass=dynamicMailGroup)(mail=%%s))\n"
             "%s%s%s%s%s"
             "%s\n",
             dmg_server_uri(server), bind_dn ? "bind = yes\nbind_dn = " : "bind = no\n",
             bind_dn ? bind_dn : "", bind_dn ? "\nbind_pw = " : "",
             bind_dn ? DMG_PASSWORD : "", bind_dn ? "\n" : "", extra);
    DMG_PATH_FMT(path, sizeof path, "%s/%s", dmg_server_dir(server), name);
    DMG_WRITE_FILE(path, text, 0600);
    return path;
}

/* Comma-separated list, sorted case-insensitively (ties: byte order), in place. */
static int cmp_str(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    int c = strcasecmp(x, y);
    return c != 0 ? c : strcmp(x, y);
}

static char *sorted_csv(const char *csv)
{
    char *copy = strdup(csv);
    char *items[512] = { 0 };
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && n < 512; t = strtok_r(NULL, ",", &save))
        items[n++] = t;
    qsort(items, n, sizeof items[0], cmp_str);
    char *out = calloc(1, strlen(csv) + 1);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(out, ",");
        strcat(out, items[i]);
    }
    free(copy);
    return out;
}

/* postmap -q KEY ldap:TABLE: the result, sorted; NULL when not found (status 1). Any other
 * status or anything on standard error fails the test. */
static char *postmap_query(const char *table, const char *key)
{
    const char *pm = require_postmap();
    char cmd[2 * PATH_MAX + 512], map[PATH_MAX + 8];
    snprintf(cmd, sizeof cmd, "'%s' -c '%s' -q '%s' 'ldap:%s'", pm, dmg_server_dir(server), key,
             table);
    DMG_PATH_FMT(map, sizeof map, "ldap:%s", table);
    char *argv[] = { (char *)pm, "-c", (char *)dmg_server_dir(server), "-q", (char *)key, map,
                     NULL };
    int status;
    char *err;
    char *out = run(argv, &status, &err);
    ck_assert_msg((status == 0 || status == 1) && err[0] == '\0',
                  "%s: status %d, stdout \"%s\", stderr \"%s\"", cmd, status, out, err);
    free(err);
    if (status == 1) {
        ck_assert_msg(out[0] == '\0', "not found but printed \"%s\"", out);
        free(out);
        return NULL;
    }
    char *sorted = sorted_csv(out);
    free(out);
    return sorted;
}

/* postmap -q key gives expected (sorted), or "not found" when expected is NULL. */
#define ASSERT_POSTMAP(table, key, expected) \
    assert_postmap_at(__FILE__, __LINE__, (table), (key), (expected))
static void assert_postmap_at(const char *file, int line, const char *table, const char *key,
                              const char *expected)
{
    char *got = postmap_query(table, key);
    if (expected == NULL && got != NULL)
        _ck_assert_failed(file, line, "postmap", "postmap -q %s: got \"%s\", expected not found",
                          key, got);
    if (expected != NULL && got == NULL)
        _ck_assert_failed(file, line, "postmap", "postmap -q %s: not found, expected \"%s\"",
                          key, expected);
    if (expected != NULL && strcmp(got, expected) != 0)
        _ck_assert_failed(file, line, "postmap", "postmap -q %s: got \"%s\", expected \"%s\"",
                          key, got, expected);
    free(got);
}

/* The overlay's own answer, comma-joined in the same order, to compare with Postfix's. */
static char *member_mail_csv(LDAP *ld, const char *group_mail)
{
    char filter[512];
    snprintf(filter, sizeof filter, "(&(objectClass=dynamicMailGroup)(mail=%s))", group_mail);
    char *lines = dmg_values_joined(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, "dmgMemberMail");
    for (char *p = lines; *p; p++)
        if (*p == '\n')
            *p = ',';
    char *sorted = sorted_csv(lines);
    free(lines);
    return sorted;
}

/* ============================================================================================
 * Groups
 * ========================================================================================== */

static const char *const group_ldif[] = {
    "dn: cn=tier2," GROUPS "\nobjectClass: dynamicMailGroup\ncn: tier2\n"
    "mail: tier2@example.com\ndmgDepartment: ou=Tier2,ou=Support,dc=example,dc=com\n",
    /* Sales itself only (uma has two addresses) */
    "dn: cn=sales-top," GROUPS "\nobjectClass: dynamicMailGroup\ncn: sales-top\n"
    "mail: sales-top@example.com\ndmgDepartment: ou=Sales,dc=example,dc=com\n"
    "dmgIncludeSubDepartments: FALSE\n",
    /* two departments and a condition */
    "dn: cn=storage-tier1-berlin-paris," GROUPS "\nobjectClass: dynamicMailGroup\n"
    "cn: storage-tier1-berlin-paris\nmail: storage-tier1-berlin-paris@example.com\n"
    "dmgDepartment: ou=Storage,ou=Backend,ou=Engineering,dc=example,dc=com\n"
    "dmgDepartment: ou=Tier1,ou=Support,dc=example,dc=com\ndmgCondition: (|(l=Paris)(l=Berlin))\n",
    /* nobody matches */
    "dn: cn=empty," GROUPS "\nobjectClass: dynamicMailGroup\ncn: empty\n"
    "mail: empty@example.com\ndmgDepartment: ou=Tier2,ou=Support,dc=example,dc=com\n"
    "dmgCondition: (l=Atlantis)\n",
    /* hidden from address books: only privileged identities see it */
    "dn: cn=tier2-hidden," GROUPS "\nobjectClass: dynamicMailGroup\ncn: tier2-hidden\n"
    "mail: tier2-hidden@example.com\ndmgDepartment: ou=Tier2,ou=Support,dc=example,dc=com\n"
    "dmgShowInContacts: FALSE\n",
};

static void ensure_groups(void)
{
    dmg_ensure_entries(server, group_ldif, sizeof group_ldif / sizeof group_ldif[0]);
}

#define TIER2 "vera@example.com,walt@example.com,yuki@example.com"
#define SALES_TOP \
    "uma.ueda@example.com,uma@example.com,victor@example.com,wendy@example.com"

/* ============================================================================================
 * result_attribute = dmgMemberMail
 * ========================================================================================== */

START_TEST(test_member_mail_table)
{
    ensure_groups();
    const char *t = ldap_table("groups.cf", MTA_DN, "result_attribute = dmgMemberMail");

    ASSERT_POSTMAP(t, "tier2@example.com", TIER2);
    ASSERT_POSTMAP(t, "TIER2@Example.COM", TIER2);
    ASSERT_POSTMAP(t, "sales-top@example.com", SALES_TOP);
    ASSERT_POSTMAP(t, "storage-tier1-berlin-paris@example.com",
                   "leo@example.com,mallory@example.com,oscar@example.com,paul@example.com,"
                   "rosa@example.com,sven@example.com");
    /* not groups: a person, an unknown address */
    ASSERT_POSTMAP(t, "vera@example.com", NULL);
    ASSERT_POSTMAP(t, "nobody@example.com", NULL);
    /* a group without members has no dmgMemberMail value: not found */
    ASSERT_POSTMAP(t, "empty@example.com", NULL);

    /* Postfix sees exactly what the overlay computes */
    LDAP *ld = dmg_connect(server, MTA_DN, DMG_PASSWORD);
    const char *groups[] = { "tier2@example.com", "sales-top@example.com",
                             "storage-tier1-berlin-paris@example.com" };
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        char *want = member_mail_csv(ld, groups[i]);
        ck_assert_msg(want[0] != '\0', "%s has no members", groups[i]);
        ASSERT_POSTMAP(t, groups[i], want);
        free(want);
    }
    dmg_disconnect(ld);
}
END_TEST

/* Membership is computed at read time: a new employee is in the next lookup. */
START_TEST(test_member_mail_is_current)
{
    ensure_groups();
    const char *t = ldap_table("groups.cf", MTA_DN, "result_attribute = dmgMemberMail");
    LDAP *ld = dmg_connect(server, DMG_ROOTDN, DMG_ROOTPW);
    DMG_ASSERT_RC(dmg_add_ldif(ld, "dn: uid=newbie,ou=Tier2,ou=Support,dc=example,dc=com\n"
                                   "objectClass: inetOrgPerson\nuid: newbie\ncn: New Bie\n"
                                   "sn: Bie\nmail: newbie@example.com\n"),
                  LDAP_SUCCESS);
    ASSERT_POSTMAP(t, "tier2@example.com",
                   "newbie@example.com,vera@example.com,walt@example.com,yuki@example.com");
    DMG_ASSERT_RC(dmg_delete(ld, "uid=newbie,ou=Tier2,ou=Support,dc=example,dc=com"),
                  LDAP_SUCCESS);
    ASSERT_POSTMAP(t, "tier2@example.com", TIER2);
    dmg_disconnect(ld);
}
END_TEST

/* A hidden group resolves only for a privileged bind (the MTA's account). */
START_TEST(test_hidden_group_needs_privileged_bind)
{
    ensure_groups();
    const char *mta = ldap_table("mta.cf", MTA_DN, "result_attribute = dmgMemberMail");
    ASSERT_POSTMAP(mta, "tier2-hidden@example.com", TIER2);
    const char *anon = ldap_table("anon.cf", NULL, "result_attribute = dmgMemberMail");
    ASSERT_POSTMAP(anon, "tier2-hidden@example.com", NULL);
    ASSERT_POSTMAP(anon, "tier2@example.com", TIER2);
}
END_TEST

/* ============================================================================================
 * special_result_attribute = member (the groupOfNames way)
 * ========================================================================================== */

START_TEST(test_special_result_attribute_member)
{
    ensure_groups();
    /* result_attribute: Postfix also returns the group entry's own mail */
    const char *t = ldap_table("member.cf", MTA_DN,
                               "special_result_attribute = member\nresult_attribute = mail");
    ASSERT_POSTMAP(t, "tier2@example.com", "tier2@example.com," TIER2);
    ASSERT_POSTMAP(t, "sales-top@example.com", "sales-top@example.com," SALES_TOP);
    ASSERT_POSTMAP(t, "vera@example.com", NULL);

    /* leaf_result_attribute: only the members' addresses, as with dmgMemberMail */
    const char *leaf = ldap_table("leaf.cf", MTA_DN,
                                  "special_result_attribute = member\n"
                                  "leaf_result_attribute = mail\nresult_attribute =");
    ASSERT_POSTMAP(leaf, "tier2@example.com", TIER2);
    ASSERT_POSTMAP(leaf, "sales-top@example.com", SALES_TOP);
    /* a group without members has no member value, so Postfix treats the group entry as a
     * leaf and returns its own mail (dmgMemberMail gives "not found" instead) */
    ASSERT_POSTMAP(leaf, "empty@example.com", "empty@example.com");
    ASSERT_POSTMAP(leaf, "tier2-hidden@example.com", TIER2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("postfix");
    TCase *tc = dmg_tcase("postmap");
    tcase_add_test(tc, test_member_mail_table);
    tcase_add_test(tc, test_member_mail_is_current);
    tcase_add_test(tc, test_hidden_group_needs_privileged_bind);
    tcase_add_test(tc, test_special_result_attribute_member);
    suite_add_tcase(s, tc);

    dmg_server_opts o = { 0 };
    o.overlay_config = "dynmailgroup-privileged " MTA_DN "\n";
    return dmg_run_suite(s, &o, &server);
}
