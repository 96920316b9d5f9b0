/*
 * test_uuid.c -- references by entryUUID, against a real slapd (man page REFERENCES):
 *
 *  - suite "uuid" (one server): the UUID companions (dmgDepartmentUUID, ...) are written by
 *    the overlay in the same write as the DN values and refused from clients (the rootdn with
 *    Relax Rules excepted); renames and moves of a department, an included person, a nested
 *    group and a role holder keep the exact members and roles; reads racing department
 *    renames (a child process reading in a loop while the test renames) never see an empty
 *    or partial list.
 *  - "crash": renames made while the overlay is not configured (the same database, the module
 *    loaded: what a crash after the rename's commit leaves, or a rename replicated from a
 *    node that never rewrote) are right as soon as the overlay runs again; a delete made
 *    then is a dangling reference, shown as dmgDanglingReference and found by
 *    (dmgDanglingReference=*); scripts/dmg-migrate-uuids.sh gives a group written then its
 *    UUID companions; a value deleted by the DN reads show is deleted with its UUID although
 *    the stored value still names the old DN; a department so named may not be deleted; a
 *    cached list follows new employees of the department's new DN; a group so named can
 *    still be written, its conditions included.
 *  - "accesslog": with slapo-accesslog below the overlay, a department rename leaves one log
 *    record for the rename and one for the rewrite of each group naming it (their times
 *    differ from the rename's, so none is dropped).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define POSTMASTER "uid=postmaster,ou=System," DMG_SUFFIX

#define OVERLAY_CONFIG "dynmailgroup-postmaster " POSTMASTER "\n"
/* (the UUID companions' own indexes need the module, which the harness's slapadd does not
 * load) */
#define INDEXES "index entryUUID eq\n"

static dmg_server *srv;

/* ---- helpers ------------------------------------------------------------------------------- */

static LDAP *root_on(dmg_server *s)
{
    return dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
}

static void add_as_root(dmg_server *s, const char *ldif)
{
    LDAP *ld = root_on(s);
    DMG_EXPECT_OK(dmg_add_ldif(ld, ldif), ldif);
    dmg_disconnect(ld);
}

static void add_ou(dmg_server *s, const char *ou, const char *parent)
{
    add_as_root(s, dmg_fmt("dn: ou=%s,%s\nobjectClass: organizationalUnit\nou: %s\n", ou,
                           parent, ou));
}

static void add_person(dmg_server *s, const char *uid, const char *parent)
{
    add_as_root(s, dmg_fmt("dn: uid=%s,%s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\n"
                           "sn: %s\nmail: %s@example.com\nuserPassword: " DMG_PASSWORD "\n",
                           uid, parent, uid, uid, uid, uid));
}

/* A group cn (address cn@example.com) with the attribute lines extra, added by the rootdn */
static void add_group(dmg_server *s, const char *cn, const char *extra)
{
    add_as_root(s, dmg_fmt("dn: cn=%s," GROUPS "\nobjectClass: dynamicMailGroup\ncn: %s\n"
                           "mail: %s@example.com\n%s",
                           cn, cn, cn, extra));
}

static void rename_as_root(dmg_server *s, const char *dn, const char *newrdn,
                           const char *newsup)
{
    LDAP *ld = root_on(s);
    DMG_EXPECT_OK(dmg_rename(ld, dn, newrdn, newsup, 1), dn);
    dmg_disconnect(ld);
}

/* ---- the companions are the server's -------------------------------------------------------- */

START_TEST(companions_written_with_the_dn_values)
{
    add_ou(srv, "UW", DMG_SUFFIX);
    add_person(srv, "uw1", "ou=UW," DMG_SUFFIX);
    add_person(srv, "uw2", DMG_SUFFIX);
    add_group(srv, "uw-g", "dmgDepartment: ou=UW," DMG_SUFFIX "\n");
    const char *g = "cn=uw-g," GROUPS;
    char *dept_uuid = dmg_root_values(srv, "ou=UW," DMG_SUFFIX, "entryUUID");
    char *uw2_uuid = dmg_root_values(srv, "uid=uw2," DMG_SUFFIX, "entryUUID");

    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgDepartmentUUID", dept_uuid);
    /* operational: not among the user attributes */
    LDAP *ld = root_on(srv);
    dmg_entries *es = NULL;
    DMG_EXPECT_OK(dmg_search(ld, g, LDAP_SCOPE_BASE, NULL, NULL, NULL, &es), g);
    ck_assert_ptr_null(dmg_entry_attr(&es->entries[0], "dmgDepartmentUUID"));
    dmg_entries_free(es);

    /* an include and its UUID in one write; deleting the DN value removes the UUID */
    DMG_EXPECT_OK(dmg_modify(ld, g, "add: dmgIncludeMember\ndmgIncludeMember: uid=uw2,"
                             DMG_SUFFIX "\n"), "include uw2");
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgIncludeMemberUUID", uw2_uuid);
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=uw1,ou=UW," DMG_SUFFIX "\nuid=uw2," DMG_SUFFIX);
    DMG_EXPECT_OK(dmg_modify(ld, g, "delete: dmgIncludeMember\ndmgIncludeMember: uid=uw2,"
                             DMG_SUFFIX "\n"), "uninclude uw2");
    DMG_ASSERT_ROOT_VALUES(srv, g, "dmgIncludeMemberUUID", "");
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "member", "uid=uw1,ou=UW," DMG_SUFFIX);
    dmg_disconnect(ld);
    free(dept_uuid);
    free(uw2_uuid);
}
END_TEST

START_TEST(companions_refused_from_clients)
{
    add_ou(srv, "UR", DMG_SUFFIX);
    char *uuid = dmg_root_values(srv, "ou=UR," DMG_SUFFIX, "entryUUID");
    const char *ldif = dmg_fmt("dn: cn=ur-g," GROUPS "\nobjectClass: dynamicMailGroup\n"
                               "cn: ur-g\nmail: ur-g@example.com\n"
                               "dmgDepartment: ou=UR," DMG_SUFFIX "\n"
                               "dmgDepartmentUUID: %s\n", uuid);
    const char *msg = "dmgDepartmentUUID: written by the server only (the entryUUID of each "
                      "entry the group names); the rootdn may give it with the Relax Rules "
                      "control";

    LDAP *pm = dmg_connect(srv, POSTMASTER, DMG_PASSWORD);
    dmg_result r = dmg_add_ldif(pm, ldif);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, msg);
    LDAP *root = root_on(srv);
    r = dmg_add_ldif(root, ldif);
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, msg);
    /* the rootdn with Relax Rules: a migration or a restore */
    DMG_EXPECT_OK(dmg_add_ldif_ext(root, ldif, DMG_CTRLS(dmg_ctrl_relax())), "relaxed add");
    r = dmg_modify(pm, "cn=ur-g," GROUPS, "delete: dmgDepartmentUUID\n");
    DMG_ASSERT_RC(r, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(r.diag, msg);
    DMG_ASSERT_ROOT_VALUES(srv, "cn=ur-g," GROUPS, "dmgDepartmentUUID", uuid);
    dmg_disconnect(pm);
    dmg_disconnect(root);
    free(uuid);
}
END_TEST

/* ---- renames keep members and roles --------------------------------------------------------- */

/* The entries of a group naming a department, an included person, a nested group and an
 * administrator (its auditor too), all below ou=<tag> */
static void add_rename_fixture(dmg_server *s, const char *tag)
{
    const char *base = dmg_fmt("ou=%s," DMG_SUFFIX, tag);
    add_ou(s, tag, DMG_SUFFIX);
    add_ou(s, "Dept", base);
    add_ou(s, "Other", base);
    add_ou(s, "Nest", base);
    add_person(s, dmg_fmt("%s-d1", tag), dmg_fmt("ou=Dept,%s", base));
    add_person(s, dmg_fmt("%s-d2", tag), dmg_fmt("ou=Dept,%s", base));
    add_person(s, dmg_fmt("%s-inc", tag), dmg_fmt("ou=Other,%s", base));
    add_person(s, dmg_fmt("%s-n1", tag), dmg_fmt("ou=Nest,%s", base));
    add_person(s, dmg_fmt("%s-adm", tag), dmg_fmt("ou=Other,%s", base));
    add_group(s, dmg_fmt("%s-nested", tag), dmg_fmt("dmgDepartment: ou=Nest,%s\n", base));
    add_group(s, dmg_fmt("%s-g", tag),
              dmg_fmt("dmgDepartment: ou=Dept,%s\n"
                      "dmgIncludeMember: uid=%s-inc,ou=Other,%s\n"
                      "dmgIncludeMember: cn=%s-nested," GROUPS "\n"
                      "dmgAdministrator: uid=%s-adm,ou=Other,%s\n"
                      "dmgAuditor: uid=%s-adm,ou=Other,%s\n",
                      base, tag, base, tag, tag, base, tag, base));
}

/* Renames every entry the group names: the department, the included person (moved), the
 * nested group and the administrator */
static void rename_fixture(dmg_server *s, const char *tag)
{
    const char *base = dmg_fmt("ou=%s," DMG_SUFFIX, tag);
    rename_as_root(s, dmg_fmt("ou=Dept,%s", base), "ou=Dept2", NULL);
    rename_as_root(s, dmg_fmt("uid=%s-inc,ou=Other,%s", tag, base), dmg_fmt("uid=%s-inc", tag),
                   dmg_fmt("ou=Nest,%s", base));
    rename_as_root(s, dmg_fmt("cn=%s-nested," GROUPS, tag), dmg_fmt("cn=%s-nested2", tag),
                   NULL);
    rename_as_root(s, dmg_fmt("uid=%s-adm,ou=Other,%s", tag, base), dmg_fmt("uid=%s-adm2", tag),
                   NULL);
}

/* After rename_fixture: exact members, reverse lookups, compare, the auditor's mail and the
 * administrator role of the renamed entries */
static void assert_renamed_fixture(dmg_server *s, const char *tag)
{
    const char *base = dmg_fmt("ou=%s," DMG_SUFFIX, tag);
    const char *g = dmg_fmt("cn=%s-g," GROUPS, tag);
    const char *inc = dmg_fmt("uid=%s-inc,ou=Nest,%s", tag, base);
    const char *members = dmg_fmt("uid=%s-d1,ou=Dept2,%s\nuid=%s-d2,ou=Dept2,%s\n%s\n"
                                  "uid=%s-n1,ou=Nest,%s",
                                  tag, base, tag, base, inc, tag, base);
    LDAP *ld = root_on(s);
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "member", members);
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "dmgMemberCount", "4");
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL,
                   dmg_fmt("(member=uid=%s-d1,ou=Dept2,%s)", tag, base), g);
    /* moved into the nested group's department */
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_ONELEVEL, dmg_fmt("(member=%s)", inc),
                   dmg_fmt("%s\ncn=%s-nested2," GROUPS, g, tag));
    DMG_ASSERT_VALUES(ld, dmg_fmt("uid=%s-n1,ou=Nest,%s", tag, base), LDAP_SCOPE_BASE, NULL,
                      "dmgMemberOf", dmg_fmt("cn=%s-nested2," GROUPS "\n%s", tag, g));
    DMG_ASSERT_RC(dmg_compare(ld, g, "member", inc), LDAP_COMPARE_TRUE);
    /* the renamed auditor still audits */
    DMG_ASSERT_VALUES(ld, g, LDAP_SCOPE_BASE, NULL, "dmgAuditorMail",
                      dmg_fmt("%s-adm@example.com", tag));
    dmg_disconnect(ld);

    /* the renamed administrator still administers the group */
    LDAP *adm = dmg_connect(s, dmg_fmt("uid=%s-adm2,ou=Other,%s", tag, base), DMG_PASSWORD);
    DMG_EXPECT_OK(dmg_modify(adm, g, "replace: description\ndescription: still mine\n"),
                  "the renamed administrator's modify");
    dmg_disconnect(adm);
}

START_TEST(renames_keep_members_and_roles)
{
    add_rename_fixture(srv, "URN");
    rename_fixture(srv, "URN");
    assert_renamed_fixture(srv, "URN");
}
END_TEST

/* ---- reads racing renames ------------------------------------------------------------------ */

#define RACE_RENAMES 20

/* The member values of group dn, sorted and "\n"-joined into buf; -1 when the read failed */
static int raw_members(LDAP *ld, const char *dn, char *buf, size_t size)
{
    char *attrs[] = { "member", NULL };
    LDAPMessage *res = NULL;
    int rc = ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, 0, NULL, NULL, NULL, 0,
                               &res);
    if (rc != LDAP_SUCCESS) {
        ldap_msgfree(res);
        return -1;
    }
    LDAPMessage *e = ldap_first_entry(ld, res);
    struct berval **v = e ? ldap_get_values_len(ld, e, "member") : NULL;
    char joined[2048] = "";
    for (int i = 0; v && v[i]; i++)
        snprintf(joined + strlen(joined), sizeof joined - strlen(joined), "%s%.*s",
                 i ? "\n" : "", (int)v[i]->bv_len, v[i]->bv_val);
    ldap_value_free_len(v);
    ldap_msgfree(res);
    char *sorted = dmg_sorted_lines(joined);
    snprintf(buf, size, "%s", sorted);
    free(sorted);
    return 0;
}

/* The child: reads the group until stop is readable (closed), writes the first read that is
 * neither list to report; exit status 0 when every read was one of them */
static void race_reader(int stop, int report, const char *g, const char *a, const char *b)
{
    LDAP *ld = NULL;
    char got[2048];
    long reads = 0;
    if (ldap_initialize(&ld, dmg_server_uri(srv)) != LDAP_SUCCESS)
        _exit(2);
    int v3 = LDAP_VERSION3;
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    struct berval pw = { strlen(DMG_ROOTPW), DMG_ROOTPW };
    if (ldap_sasl_bind_s(ld, DMG_ROOTDN, LDAP_SASL_SIMPLE, &pw, NULL, NULL, NULL) != 0)
        _exit(2);
    for (;;) {
        struct pollfd p = { stop, POLLIN, 0 };
        if (poll(&p, 1, 0) > 0 && reads > 0)
            break;
        if (raw_members(ld, g, got, sizeof got) != 0) {
            dprintf(report, "read failed");
            _exit(1);
        }
        reads++;
        if (strcmp(got, a) != 0 && strcmp(got, b) != 0) {
            dprintf(report, "read %ld: \"%s\"", reads, got);
            _exit(1);
        }
    }
    dprintf(report, "%ld reads", reads);
    ldap_unbind_ext_s(ld, NULL, NULL);
    _exit(0);
}

START_TEST(reads_racing_renames_never_see_a_partial_list)
{
    const char *base = "ou=URace," DMG_SUFFIX;
    add_ou(srv, "URace", DMG_SUFFIX);
    add_ou(srv, "D", base);
    add_person(srv, "race1", "ou=D,ou=URace," DMG_SUFFIX);
    add_person(srv, "race2", "ou=D,ou=URace," DMG_SUFFIX);
    add_group(srv, "race-g", "dmgDepartment: ou=D,ou=URace," DMG_SUFFIX "\n");
    const char *g = "cn=race-g," GROUPS;
    char *a = dmg_sorted_lines("uid=race1,ou=D,ou=URace," DMG_SUFFIX "\n"
                               "uid=race2,ou=D,ou=URace," DMG_SUFFIX);
    char *b = dmg_sorted_lines("uid=race1,ou=E,ou=URace," DMG_SUFFIX "\n"
                               "uid=race2,ou=E,ou=URace," DMG_SUFFIX);
    int stop[2], report[2];
    ck_assert_int_eq(pipe(stop), 0);
    ck_assert_int_eq(pipe(report), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(stop[1]);
        close(report[0]);
        race_reader(stop[0], report[1], g, a, b);
    }
    close(stop[0]);
    close(report[1]);
    for (int i = 0; i < RACE_RENAMES; i++)
        rename_as_root(srv, i % 2 ? "ou=E,ou=URace," DMG_SUFFIX : "ou=D,ou=URace," DMG_SUFFIX,
                       i % 2 ? "ou=D" : "ou=E", NULL);
    close(stop[1]);
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    char what[4096] = "";
    ssize_t n = read(report[0], what, sizeof what - 1);
    what[n > 0 ? n : 0] = '\0';
    close(report[0]);
    fprintf(stderr, "race: %d renames, the reader's report: %s\n", RACE_RENAMES, what);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "a read racing the renames saw neither list: %s", what);
    DMG_ASSERT_ROOT_VALUES(srv, g, "member", a);
    free(a);
    free(b);
}
END_TEST

/* ---- crash: renames no rewrite followed ------------------------------------------------------ */

/* Moves the overlay's cn=config entry out of slapd.d (off) or back: a restart then runs the
 * same database with the module loaded but without the overlay */
static void overlay_switch(dmg_server *s, int on)
{
    char ldif[4096], aside[4096];
    ck_assert_int_eq(snprintf(ldif, sizeof ldif,
                              "%s/cn=config/olcDatabase={1}mdb/olcOverlay={0}dynmailgroup.ldif",
                              dmg_server_config_dir(s)) < (int)sizeof ldif, 1);
    ck_assert_int_eq(snprintf(aside, sizeof aside, "%s/dynmailgroup-overlay.ldif",
                              dmg_server_dir(s)) < (int)sizeof aside, 1);
    ck_assert_msg(rename(on ? aside : ldif, on ? ldif : aside) == 0, "rename %s: %s",
                  on ? aside : ldif, strerror(errno));
    ck_assert_int_eq(dmg_server_restart(s), 0);
}

/* Runs scripts/dmg-migrate-uuids.sh against s as the rootdn; its output (free it), which must
 * end with exit status 0 */
static char *run_migrate(dmg_server *s)
{
    const char *src = getenv("DMG_SRCDIR");
    const char *cmd = dmg_fmt("sh '%s/scripts/dmg-migrate-uuids.sh' -b '" DMG_SUFFIX "' -H '%s' "
                              "-x -D '" DMG_ROOTDN "' -w '" DMG_ROOTPW "' 2>&1",
                              src ? src : ".", dmg_server_uri(s));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char *out = calloc(1, 8192);
    ck_assert_ptr_nonnull(out);
    size_t len = fread(out, 1, 8191, p);
    out[len] = '\0';
    int st = pclose(p);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "dmg-migrate-uuids.sh: status %d: %s",
                  st, out);
    return out;
}

START_TEST(renames_without_the_overlay_are_right_when_it_runs)
{
    dmg_server_opts o = {
        .config_dir = 1,
        .db_config = INDEXES,
        .overlay_config = OVERLAY_CONFIG,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start");
    add_rename_fixture(s, "UCR");
    add_person(s, "UCR-gone", "ou=Other,ou=UCR," DMG_SUFFIX);
    add_ou(s, "Solo", "ou=UCR," DMG_SUFFIX);
    add_person(s, "UCR-s1", "ou=Solo,ou=UCR," DMG_SUFFIX);
    add_group(s, "UCR-plain", "dmgDepartment: ou=Solo,ou=UCR," DMG_SUFFIX "\n"
                              "dmgCondition: (objectClass=person)\n");
    add_ou(s, "Empty", "ou=UCR," DMG_SUFFIX);
    add_group(s, "UCR-empty", "dmgDepartment: ou=Empty,ou=UCR," DMG_SUFFIX "\n");
    add_group(s, "UCR-d", "dmgDepartment: ou=Other,ou=UCR," DMG_SUFFIX "\n"
                          "dmgIncludeMember: uid=UCR-gone,ou=Other,ou=UCR," DMG_SUFFIX "\n");
    overlay_switch(s, 0);
    rename_fixture(s, "UCR");
    rename_as_root(s, "ou=Solo,ou=UCR," DMG_SUFFIX, "ou=Solo2", NULL);
    rename_as_root(s, "ou=Empty,ou=UCR," DMG_SUFFIX, "ou=Empty2", NULL);
    /* a group the overlay never wrote: no companions until migrated */
    add_group(s, "UCR-old", "dmgDepartment: ou=Other,ou=UCR," DMG_SUFFIX "\n"
                            "dmgAdministrator: uid=UCR-n1,ou=Nest,ou=UCR," DMG_SUFFIX "\n");
    /* a delete no follow-up removes from the groups naming the entry */
    LDAP *ld = root_on(s);
    DMG_EXPECT_OK(dmg_delete(ld, "uid=UCR-gone,ou=Other,ou=UCR," DMG_SUFFIX), "delete");
    dmg_disconnect(ld);
    /* the stored values still name the old DNs: nothing followed the renames */
    DMG_ASSERT_ROOT_VALUES(s, "cn=UCR-g," GROUPS, "dmgDepartment",
                       "ou=Dept,ou=UCR," DMG_SUFFIX);
    overlay_switch(s, 1);
    assert_renamed_fixture(s, "UCR");
    /* a group whose department value predates the rename can still be written, conditions
     * (checked on the department's employees) included */
    ld = root_on(s);
    DMG_EXPECT_OK(dmg_modify(ld, "cn=UCR-plain," GROUPS,
                             "replace: dmgCondition\ndmgCondition: (objectClass=inetOrgPerson)\n"),
                  "condition of a group naming a renamed department");
    dmg_disconnect(ld);
    /* a department named by a value that predates its rename may not be deleted either */
    ld = root_on(s);
    dmg_result del = dmg_delete(ld, "ou=Empty2,ou=UCR," DMG_SUFFIX);
    DMG_ASSERT_RC(del, LDAP_CONSTRAINT_VIOLATION);
    DMG_ASSERT_STR(del.diag, "dmgDepartment: \"ou=Empty2,ou=UCR," DMG_SUFFIX "\" is a "
                             "department of group \"cn=UCR-empty," GROUPS "\"");
    dmg_disconnect(ld);
    /* a list read (and cached) follows a new employee of the renamed department */
    const char *plain = "cn=UCR-plain," GROUPS;
    DMG_ASSERT_ROOT_VALUES(s, plain, "member", "uid=UCR-s1,ou=Solo2,ou=UCR," DMG_SUFFIX);
    add_person(s, "UCR-s2", "ou=Solo2,ou=UCR," DMG_SUFFIX);
    DMG_ASSERT_ROOT_VALUES(s, plain, "member", "uid=UCR-s1,ou=Solo2,ou=UCR," DMG_SUFFIX "\n"
                                           "uid=UCR-s2,ou=Solo2,ou=UCR," DMG_SUFFIX);
    /* read as they are now; with ManageDsaIT as stored */
    DMG_ASSERT_ROOT_VALUES(s, "cn=UCR-g," GROUPS, "dmgDepartment", "ou=Dept2,ou=UCR," DMG_SUFFIX);
    DMG_ASSERT_ROOT_VALUES(s, "cn=UCR-g," GROUPS, "dmgIncludeMember",
                       "uid=UCR-inc,ou=Nest,ou=UCR," DMG_SUFFIX "\ncn=UCR-nested2," GROUPS);
    LDAP *m = root_on(s);
    DMG_ASSERT_VALUES_EXT(m, "cn=UCR-g," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgDepartment",
                          "ou=Dept,ou=UCR," DMG_SUFFIX, DMG_CTRLS(dmg_ctrl_manage_dsait()));
    dmg_disconnect(m);

    /* scripts/dmg-migrate-uuids.sh gives the old group its companions, once */
    const char *old = "cn=UCR-old," GROUPS;
    DMG_ASSERT_ROOT_VALUES(s, old, "dmgDepartmentUUID", "");
    char *out = run_migrate(s);
    DMG_ASSERT_STR(out, "migrated " "cn=UCR-old," GROUPS "\n"
                        "dmg-migrate-uuids: 1 groups migrated, 0 refused below " DMG_SUFFIX "\n");
    free(out);
    char *other = dmg_root_values(s, "ou=Other,ou=UCR," DMG_SUFFIX, "entryUUID");
    char *n1 = dmg_root_values(s, "uid=UCR-n1,ou=Nest,ou=UCR," DMG_SUFFIX, "entryUUID");
    DMG_ASSERT_ROOT_VALUES(s, old, "dmgDepartmentUUID", other);
    DMG_ASSERT_ROOT_VALUES(s, old, "dmgAdministratorUUID", n1);
    free(other);
    free(n1);
    out = run_migrate(s);
    DMG_ASSERT_STR(out, "dmg-migrate-uuids: 0 groups migrated, 0 refused below " DMG_SUFFIX "\n");
    free(out);

    /* a value deleted by the DN reads show (the stored one predates the rename) */
    const char *g = "cn=UCR-g," GROUPS;
    char *inc = dmg_root_values(s, "uid=UCR-inc,ou=Nest,ou=UCR," DMG_SUFFIX, "entryUUID");
    m = root_on(s);
    DMG_EXPECT_OK(dmg_modify(m, g, "delete: dmgIncludeMember\n"
                             "dmgIncludeMember: cn=UCR-nested2," GROUPS "\n"),
                  "delete by the current DN");
    dmg_disconnect(m);
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMember", "uid=UCR-inc,ou=Nest,ou=UCR," DMG_SUFFIX);
    DMG_ASSERT_ROOT_VALUES(s, g, "dmgIncludeMemberUUID", inc);
    DMG_ASSERT_ROOT_VALUES(s, g, "member",
                       "uid=UCR-d1,ou=Dept2,ou=UCR," DMG_SUFFIX "\n"
                       "uid=UCR-d2,ou=Dept2,ou=UCR," DMG_SUFFIX "\n"
                       "uid=UCR-inc,ou=Nest,ou=UCR," DMG_SUFFIX);
    free(inc);
    /* the dangling reference is shown, found by filter, and contributes nobody */
    ld = root_on(s);
    const char *d = "cn=UCR-d," GROUPS;
    DMG_ASSERT_DNS(ld, GROUPS, LDAP_SCOPE_SUBTREE, "(dmgDanglingReference=*)", d);
    /* from the suffix (as dmg-check.sh asks), alone and among other assertions */
    DMG_ASSERT_DNS(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, "(dmgDanglingReference=*)", d);
    DMG_ASSERT_DNS(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE,
                   "(|(dmgDanglingReference=dmgIncludeMember uid=UCR-gone,ou=Other,ou=UCR,"
                   DMG_SUFFIX ")(uid=UCR-d1))",
                   dmg_fmt("%s\nuid=UCR-d1,ou=Dept2,ou=UCR," DMG_SUFFIX, d));
    DMG_ASSERT_VALUES(ld, d, LDAP_SCOPE_BASE, NULL, "dmgDanglingReference",
                      "dmgIncludeMember uid=UCR-gone,ou=Other,ou=UCR," DMG_SUFFIX);
    DMG_ASSERT_VALUES(ld, "cn=UCR-g," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgDanglingReference",
                      "");
    DMG_ASSERT_VALUES(ld, d, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=UCR-adm2,ou=Other,ou=UCR," DMG_SUFFIX);
    dmg_disconnect(ld);
    ck_assert_int_eq(dmg_server_stop(s), 0);
}
END_TEST

/* ---- accesslog: each rewrite is a record of its own ------------------------------------------ */

static int count_entries(LDAP *ld, const char *base, const char *filter)
{
    dmg_entries *es = NULL;
    const char *attrs[] = { "reqDN", NULL };
    DMG_EXPECT_OK(dmg_search(ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, NULL, &es), filter);
    int n = (int)es->count;
    dmg_entries_free(es);
    return n;
}

START_TEST(rename_rewrites_are_logged_by_accesslog)
{
    char logdir[] = "/tmp/dmg-uuid-alog-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(logdir));
    dmg_server_opts o = {
        .modules = "accesslog",
        /* the log's database comes first: slapadd's configuration has no overlay_config */
        .global_config = dmg_fmt("database mdb\nsuffix cn=accesslog\ndirectory \"%s\"\n"
                                 "maxsize 104857600\nindex reqStart eq\n", logdir),
        .db_config = INDEXES,
        .overlays_before = "overlay accesslog\nlogdb cn=accesslog\nlogops writes\n",
        .overlay_config = OVERLAY_CONFIG,
    };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start");
    add_ou(s, "UAL", DMG_SUFFIX);
    add_person(s, "ual1", "ou=UAL," DMG_SUFFIX);
    add_group(s, "ual-g1", "dmgDepartment: ou=UAL," DMG_SUFFIX "\n");
    add_group(s, "ual-g2", "dmgDepartment: ou=UAL," DMG_SUFFIX "\n");
    rename_as_root(s, "ou=UAL," DMG_SUFFIX, "ou=UAL2", NULL);

    LDAP *ld = root_on(s);
    ck_assert_int_eq(count_entries(ld, "cn=accesslog",
                                   "(&(reqType=modrdn)(reqDN=ou=UAL," DMG_SUFFIX "))"), 1);
    ck_assert_int_eq(count_entries(ld, "cn=accesslog",
                                   "(&(reqType=modify)(reqDN=cn=ual-g1," GROUPS "))"), 1);
    ck_assert_int_eq(count_entries(ld, "cn=accesslog",
                                   "(&(reqType=modify)(reqDN=cn=ual-g2," GROUPS "))"), 1);
    DMG_ASSERT_VALUES(ld, "cn=ual-g1," GROUPS, LDAP_SCOPE_BASE, NULL, "dmgDepartment",
                      "ou=UAL2," DMG_SUFFIX);
    DMG_ASSERT_VALUES(ld, "cn=ual-g1," GROUPS, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=ual1,ou=UAL2," DMG_SUFFIX);
    dmg_disconnect(ld);
    ck_assert_int_eq(dmg_server_stop(s), 0);
    static const char *const files[] = { "data.mdb", "lock.mdb" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(dmg_fmt("%s/%s", logdir, files[i]));
    ck_assert_msg(rmdir(logdir) == 0, "rmdir %s: %s", logdir, strerror(errno));
}
END_TEST

/* ---- main ---------------------------------------------------------------------------------- */

static Suite *uuid_suite(void)
{
    Suite *s = suite_create("uuid");
    TCase *tc = dmg_tcase("uuid");
    tcase_add_test(tc, companions_written_with_the_dn_values);
    tcase_add_test(tc, companions_refused_from_clients);
    tcase_add_test(tc, renames_keep_members_and_roles);
    tcase_add_test(tc, reads_racing_renames_never_see_a_partial_list);
    suite_add_tcase(s, tc);
    tc = dmg_tcase("crash");
    tcase_add_test(tc, renames_without_the_overlay_are_right_when_it_runs);
    suite_add_tcase(s, tc);
    tc = dmg_tcase("accesslog");
    tcase_add_test(tc, rename_rewrites_are_logged_by_accesslog);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const dmg_server_opts opts = {
        .db_config = INDEXES,
        .overlay_config = OVERLAY_CONFIG,
    };
    return dmg_run_suite(uuid_suite(), &opts, &srv);
}
