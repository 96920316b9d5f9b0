/*
 * test_multiprovider.c -- man page REPLICATION: three providers and a delta-syncrepl pair.
 *
 * Mesh: three nodes (serverID 1-3, "multiprovider on", each replicating from the two others,
 * syncprov configured before dynmailgroup), on slapd.d (-F) so that the links changed at run
 * time over cn=config survive restarts. Node 1 is loaded with tests/fixtures/org.ldif; nodes 2
 * and 3 start empty and receive it.
 *
 *  steady_state           writes on every node at once; afterwards every node's slapcat is the
 *                         same (contextCSN removed: see normalized_slapcat) and every group's
 *                         computed members are the same for the rootdn and an ordinary user
 *  rename_during_reads    a department renamed on node 2, then back on node 3, while a reader
 *                         on every node reads the group naming it in a loop: no reader ever
 *                         sees an empty or partial member list, nor a whole one shown with the
 *                         department DN of the other state
 *  kill_after_rename      node 2 is killed (SIGKILL) right after a department rename returned,
 *                         then restarted: every node computes the new members, nothing is lost
 *  partition              node 3 cut off (every link to and from it pointed at a closed port,
 *                         node 3 restarted so that no old connection survives); a department
 *                         renamed on one side while, on the other, the group naming it is
 *                         edited and another one naming it created; after healing, every node
 *                         shows the current DN and the right members, with the isolated side's
 *                         acknowledged edits
 *  concurrent_same_mail   the same address added on both sides of a partition: after healing
 *                         scripts/dmg-check.sh on every node names both entries
 *  delta_syncrepl         provider with accesslog (logops writes), consumer with
 *                         syncdata=accesslog: department renames and group edits; the consumer
 *                         ends identical and computes the same members; the log holds one
 *                         record per client write plus one per group the overlay rewrote, and
 *                         accesslog never failed to add a record (no "got result" at sync level)
 *
 * The other misconfigurations (dynmailgroup below syncprov, a consumer bound as an ordinary
 * user) are asserted, with their messages, by test_repl_config.
 *
 * Waits are bounded polls of snapshots (DMG_WAIT_SAME, DMG_WAIT_FOR), never sleeps. Under
 * valgrind the bounds grow by the harness's slow-down factor; every case still runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* strdup, strtok_r with -std=c99 */
#endif
#include "harness.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define TCASE_TIMEOUT_S 300 /* several bounded waits and restarts in the worst case */

#define NODES 3
#define DEAD_URI "ldap://127.0.0.1:1/" /* nothing listens there: a link cut off */

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define POSTMASTER "uid=postmaster,ou=System," DMG_SUFFIX
#define READER     "uid=reader,ou=System," DMG_SUFFIX

#define ENG      "ou=Engineering," DMG_SUFFIX
#define BACKEND  "ou=Backend," ENG
#define STORAGE  "ou=Storage," BACKEND
#define PLATFORM "ou=Platform," ENG
#define STORAGE2 "ou=Storage," PLATFORM
#define FINANCE  "ou=Finance," DMG_SUFFIX
#define ACCOUNTING "ou=Accounting," DMG_SUFFIX
#define SALES    "ou=Sales," DMG_SUFFIX
#define SUPPORT  "ou=Support," DMG_SUFFIX
#define TIER1    "ou=Tier1," SUPPORT
#define TIER2    "ou=Tier2," SUPPORT

#define G_FIN "cn=mp-finance," GROUPS
#define G_T1  "cn=mp-tier1," GROUPS
#define G_SB  "cn=mp-support-berlin," GROUPS
#define G_STO "cn=mp-storage," GROUPS
#define G_LATE "cn=mp-late," GROUPS

#define FIN_MEMBERS(d) \
    "uid=gina," d "\nuid=hans," d "\nuid=iris," d "\nuid=jack," d "\nuid=kate," d "\nuid=liam," d
#define STO_MEMBERS(d) "uid=leo," d "\nuid=mallory," d "\nuid=nina," d "\nuid=oscar," d
#define T1_MEMBERS "uid=paul," TIER1 "\nuid=rosa," TIER1 "\nuid=sven," TIER1 "\n" \
                   "uid=tara," TIER1 "\nuid=ulla," TIER1

static const char group_fin[] = "dn: " G_FIN "\nobjectClass: dynamicMailGroup\ncn: mp-finance\n"
                                "mail: mp-finance@example.com\ndmgDepartment: " FINANCE "\n";
static const char group_t1[] = "dn: " G_T1 "\nobjectClass: dynamicMailGroup\ncn: mp-tier1\n"
                               "mail: mp-tier1@example.com\ndmgDepartment: " TIER1 "\n";
static const char group_sb[] = "dn: " G_SB "\nobjectClass: dynamicMailGroup\n"
                               "cn: mp-support-berlin\nmail: mp-support-berlin@example.com\n"
                               "dmgDepartment: " SUPPORT "\ndmgCondition: (l=Berlin)\n";
static const char group_sto[] = "dn: " G_STO "\nobjectClass: dynamicMailGroup\ncn: mp-storage\n"
                                "mail: mp-storage@example.com\ndmgDepartment: " STORAGE "\n";

#define NODE_OVERLAY_CONFIG \
    "dynmailgroup-postmaster " POSTMASTER "\n" \
    "dynmailgroup-cache-max-values 100000\n"

static const char *const COMPUTED_ATTRS[] = { "member", "dmgMemberMail", "dmgMemberCount", NULL };
static const char *const STORED_ATTRS[] = { "*", "+", NULL };

static const dmg_query Q_GROUPS_STORED = { GROUPS, LDAP_SCOPE_ONELEVEL, "(objectClass=*)",
                                           STORED_ATTRS, 1 };
static const dmg_query Q_COMPUTED = { GROUPS, LDAP_SCOPE_ONELEVEL,
                                      "(objectClass=dynamicMailGroup)", COMPUTED_ATTRS, 0 };

/* ---- the mesh ------------------------------------------------------------------------------ */

typedef struct mesh {
    dmg_server *node[NODES];
    LDAP *root[NODES]; /* rootdn connections */
} mesh;

static void connect_all(mesh *m)
{
    for (int i = 0; i < NODES; i++)
        m->root[i] = dmg_connect(m->node[i], DMG_ROOTDN, DMG_ROOTPW);
}

static void disconnect_all(mesh *m)
{
    for (int i = 0; i < NODES; i++) {
        dmg_disconnect(m->root[i]);
        m->root[i] = NULL;
    }
}

/* rid of the link from node j (its serverID) */
static const char *rid_of(int j)
{
    return dmg_fmt("%03d", j + 1);
}

/* Node i's links: one syncrepl per other node; a link to or from node `isolated` (-1: none)
 * points at DEAD_URI. Replaced as a whole over cn=config, then multi-provider on. */
static void set_links(mesh *m, int i, int isolated)
{
    dmg_text mod = { 0 };
    dmg_text_printf(&mod, "replace: olcSyncrepl\n");
    for (int j = 0; j < NODES; j++) {
        char sr[1024];
        if (j == i)
            continue;
        dmg_syncrepl_value(sr, sizeof sr, rid_of(j),
                           i == isolated || j == isolated ? DEAD_URI
                                                          : dmg_server_uri(m->node[j]),
                           NULL);
        dmg_text_printf(&mod, "olcSyncrepl: %s\n", sr);
    }
    LDAP *cfg = dmg_connect_ldapi_external(m->node[i]);
    char *db = dmg_config_db_dn(cfg);
    DMG_ASSERT_RC(dmg_modify(cfg, db, mod.s), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(cfg, db, "replace: olcMultiProvider\nolcMultiProvider: TRUE\n"),
                  LDAP_SUCCESS);
    free(db);
    free(mod.s);
    dmg_disconnect(cfg);
}

static void set_all_links(mesh *m, int isolated)
{
    for (int i = 0; i < NODES; i++)
        set_links(m, i, isolated);
}

/* Every node holds node 1's tree, entry for entry, CSN for CSN. */
static void wait_converged(mesh *m)
{
    for (int i = 1; i < NODES; i++)
        free(DMG_WAIT_SAME(m->root[0], m->root[i], &dmg_q_tree));
}

static void mesh_start(mesh *m)
{
    for (int i = 0; i < NODES; i++) {
        char global[64], db_config[2048];
        snprintf(global, sizeof global, "serverID %d\n", i + 1);
        /* nodes 2 and 3 start from node 1; the whole mesh is linked once all run */
        if (i > 0)
            dmg_replica_db_config(db_config, sizeof db_config, m->node[0], rid_of(0), NULL,
                                  "multiprovider on\n");
        dmg_server_opts o = {
            .modules = "syncprov",
            .global_config = global,
            .db_config = i > 0 ? db_config : DMG_REPL_INDEX_AND_LIMITS,
            .overlays_before = DMG_SYNCPROV_BELOW,
            .overlay_config = NODE_OVERLAY_CONFIG,
            .fixture = i == 0 ? NULL : DMG_NO_FIXTURE,
            .config_dir = 1,
        };
        m->node[i] = dmg_server_start(&o);
        ck_assert_msg(m->node[i] != NULL, "node %d did not start (see stderr)", i + 1);
    }
    set_all_links(m, -1);
    connect_all(m);
    wait_converged(m);
}

static void mesh_stop(mesh *m)
{
    disconnect_all(m);
    for (int i = NODES - 1; i >= 0; i--)
        ck_assert_int_eq(dmg_server_stop(m->node[i]), 0);
}

static void add_as_postmaster(const dmg_server *s, const char *ldif)
{
    LDAP *pm = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(pm, ldif), LDAP_SUCCESS);
    dmg_disconnect(pm);
}

/* The computed values of every group are the same on every node for binddn. */
static void assert_same_computed(mesh *m, const char *binddn, const char *password)
{
    LDAP *ld[NODES];
    for (int i = 0; i < NODES; i++)
        ld[i] = dmg_connect(m->node[i], binddn, password);
    for (int i = 1; i < NODES; i++)
        free(DMG_WAIT_SAME(ld[0], ld[i], &Q_COMPUTED));
    for (int i = 0; i < NODES; i++)
        dmg_disconnect(ld[i]);
}

/* On every node, the group's members are exactly these. */
static void assert_members_everywhere(mesh *m, const char *group, const char *members)
{
    for (int i = 0; i < NODES; i++)
        DMG_ASSERT_VALUES(m->root[i], group, LDAP_SCOPE_BASE, NULL, "member", members);
}

/* On every node, a read of the group shows exactly these values of attr. */
static void assert_shown_everywhere(mesh *m, const char *group, const char *attr,
                                    const char *values)
{
    for (int i = 0; i < NODES; i++)
        DMG_ASSERT_VALUES(m->root[i], group, LDAP_SCOPE_BASE, NULL, attr, values);
}

/* ---- slapcat, compared across nodes --------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* slapcat's LDIF with each entry's lines sorted, entries sorted, contextCSN lines removed:
 * the order of entries is each node's own (entry IDs follow the order writes arrived in) and so
 * may be the order of values a replicated modify re-wrote; contextCSN is the node's replication
 * state, checkpointed by syncprov and written by syncrepl at moments of their own (the live
 * dmg_q_tree comparison already proves every entry's entryCSN equal). */
static char *normalized_slapcat(const dmg_server *s)
{
    char *ldif = dmg_slapcat(s);
    size_t n = 0, cap = 16;
    char **entries = malloc(cap * sizeof *entries);
    char *save = NULL;
    for (char *e = ldif; e != NULL && *e != '\0';) {
        char *end = strstr(e, "\n\n");
        if (end != NULL)
            *end = '\0';
        char *lines[512];
        size_t k = 0;
        for (char *l = strtok_r(e, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            ck_assert_uint_lt(k, sizeof lines / sizeof lines[0]);
            if (strncasecmp(l, "contextCSN:", 11) != 0)
                lines[k++] = l;
        }
        save = NULL;
        qsort(lines, k, sizeof lines[0], cmp_str);
        dmg_text t = { 0 };
        for (size_t i = 0; i < k; i++)
            dmg_text_printf(&t, "%s\n", lines[i]);
        if (n == cap)
            entries = realloc(entries, (cap *= 2) * sizeof *entries);
        entries[n++] = t.s ? t.s : strdup("");
        e = end != NULL ? end + 2 : NULL;
    }
    qsort(entries, n, sizeof entries[0], cmp_str);
    dmg_text all = { 0 };
    dmg_text_printf(&all, "%s", "");
    for (size_t i = 0; i < n; i++) {
        dmg_text_printf(&all, "%s\n", entries[i]);
        free(entries[i]);
    }
    free(entries);
    free(ldif);
    return all.s;
}

static void assert_same_slapcat(dmg_server *const *nodes, int count)
{
    char *first = normalized_slapcat(nodes[0]);
    for (int i = 1; i < count; i++) {
        char *other = normalized_slapcat(nodes[i]);
        dmg_assert_str_impl(__FILE__, __LINE__, dmg_server_dir(nodes[i]), other, first);
        free(other);
    }
    free(first);
}

/* ==============================================================================================
 * steady state
 * ============================================================================================ */

#define MPNEW "uid=mpnew," TIER1
#define KATE_SUPPORT "uid=kate," SUPPORT

START_TEST(steady_state)
{
    mesh m = { 0 };
    mesh_start(&m);

    /* a burst on all nodes, nothing awaited in between; no write depends on another node's */
    add_as_postmaster(m.node[0], group_fin);
    add_as_postmaster(m.node[0], group_t1);
    add_as_postmaster(m.node[1], group_sb);
    DMG_ASSERT_RC(dmg_add_ldif(m.root[2], "dn: " MPNEW "\nobjectClass: inetOrgPerson\n"
                                          "uid: mpnew\ncn: Mp New\nsn: New\nl: Berlin\n"
                                          "mail: mpnew@example.com\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(m.root[1], "uid=noah," SUPPORT, "replace: l\nl: Paris\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(m.root[0], G_FIN,
                             "add: dmgExcludeMember\ndmgExcludeMember: uid=liam," FINANCE "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(m.root[2], "uid=kate," FINANCE, "uid=kate", SUPPORT, 1),
                  LDAP_SUCCESS);

    wait_converged(&m);
    assert_same_computed(&m, DMG_ROOTDN, DMG_ROOTPW);
    assert_same_computed(&m, READER, DMG_PASSWORD);
    assert_members_everywhere(&m, G_FIN, "uid=gina," FINANCE "\nuid=hans," FINANCE "\n"
                                         "uid=iris," FINANCE "\nuid=jack," FINANCE);
    assert_members_everywhere(&m, G_T1, T1_MEMBERS "\n" MPNEW);
    assert_members_everywhere(&m, G_SB, "uid=paul," TIER1 "\nuid=rosa," TIER1 "\n"
                                        "uid=walt," TIER2 "\n" MPNEW "\n" KATE_SUPPORT);
    assert_same_slapcat(m.node, NODES);
    mesh_stop(&m);
}
END_TEST

/* ==============================================================================================
 * renames during reads
 * ============================================================================================ */

/* A read of G_FIN as text: its department and its members, or members only. */
static char *fin_state(const char *dept, const char *members)
{
    dmg_text t = { 0 };
    dmg_text_printf(&t, G_FIN "\n");
    if (dept != NULL)
        dmg_text_printf(&t, G_FIN " | dmgdepartment: %s\n", dept);
    char *copy = strdup(members), *save = NULL;
    for (char *v = strtok_r(copy, "\n", &save); v; v = strtok_r(NULL, "\n", &save))
        dmg_text_printf(&t, G_FIN " | member: %s\n", v);
    free(copy);
    char *sorted = dmg_sorted_lines(t.s);
    free(t.s);
    return sorted;
}

/* The two states a read of G_FIN may show, in full and as members only. */
typedef struct fin_states {
    char *whole[2];
    char *members[2];
} fin_states;

static void fin_states_init(fin_states *fs, const char *dept0, const char *members0,
                            const char *dept1, const char *members1)
{
    fs->whole[0] = fin_state(dept0, members0);
    fs->whole[1] = fin_state(dept1, members1);
    fs->members[0] = fin_state(NULL, members0);
    fs->members[1] = fin_state(NULL, members1);
}

static void fin_states_free(fin_states *fs)
{
    for (int i = 0; i < 2; i++) {
        free(fs->whole[i]);
        free(fs->members[i]);
    }
}

enum { READ_WHOLE = 0, READ_PARTIAL = 1, READ_MISMATCH = 2, READ_NO_BIND = 3 };

/* Which of the states one read showed: both attributes of one state, a member list of
 * neither (empty or partial), or a whole member list with the other state's department. */
static int classify_read(LDAP *ld, const fin_states *fs, char **got)
{
    static const char *const both[] = { "member", "dmgDepartment", NULL };
    const dmg_query qb = { G_FIN, LDAP_SCOPE_BASE, "(objectClass=*)", both, 0 };
    *got = dmg_snapshot(ld, &qb);
    if (strcmp(*got, fs->whole[0]) == 0 || strcmp(*got, fs->whole[1]) == 0)
        return READ_WHOLE;
    /* the member lines of the same read, without the department line */
    dmg_text t = { 0 };
    char *copy = strdup(*got), *save = NULL;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strstr(l, " | dmgdepartment: ") == NULL)
            dmg_text_printf(&t, "%s\n", l);
    free(copy);
    char *list = dmg_sorted_lines(t.s ? t.s : "");
    int whole_list = strcmp(list, fs->members[0]) == 0 || strcmp(list, fs->members[1]) == 0;
    free(list);
    free(t.s);
    return whole_list ? READ_MISMATCH : READ_PARTIAL;
}

/* A reader process: reads G_FIN on uri as the rootdn until stop_fd reports end of file. Exit
 * status: READ_WHOLE when every read showed one of the two states, else the first other kind
 * seen (printed with the read). Plain libldap, no Check assertions: not the test's process. */
static void reader(int node, const char *uri, int stop_fd, const fin_states *fs)
{
    LDAP *ld = NULL;
    int v3 = LDAP_VERSION3;
    struct berval pw = { sizeof DMG_ROOTPW - 1, DMG_ROOTPW };
    if (ldap_initialize(&ld, uri) != LDAP_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_OPT_SUCCESS
        || ldap_sasl_bind_s(ld, DMG_ROOTDN, LDAP_SASL_SIMPLE, &pw, NULL, NULL, NULL)
               != LDAP_SUCCESS) {
        fprintf(stderr, "reader on node %d: cannot bind\n", node);
        _exit(READ_NO_BIND);
    }
    long reads = 0;
    for (;;) {
        struct pollfd p = { stop_fd, POLLIN, 0 };
        if (poll(&p, 1, 0) > 0)
            break;
        char *got = NULL;
        int kind = classify_read(ld, fs, &got);
        reads++;
        if (kind != READ_WHOLE) {
            fprintf(stderr, "reader on node %d, read %ld: %s:\n%s\n", node, reads,
                    kind == READ_PARTIAL ? "an empty or partial member list"
                                         : "a whole member list with the other state's "
                                           "department DN",
                    got);
            _exit(kind);
        }
        free(got);
    }
    fprintf(stderr, "reader on node %d: %ld reads, all whole\n", node, reads);
    ldap_unbind_ext_s(ld, NULL, NULL);
    _exit(READ_WHOLE);
}

START_TEST(rename_during_reads)
{
    mesh m = { 0 };
    mesh_start(&m);
    add_as_postmaster(m.node[0], group_fin);
    wait_converged(&m);
    fin_states fs;
    fin_states_init(&fs, FINANCE, FIN_MEMBERS(FINANCE), ACCOUNTING, FIN_MEMBERS(ACCOUNTING));
    static const char *const attrs[] = { "member", "dmgDepartment", NULL };
    const dmg_query q = { G_FIN, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0 };
    for (int i = 0; i < NODES; i++)
        DMG_WAIT_FOR(m.root[i], &q, fs.whole[0]);

    int stop[2];
    ck_assert_int_eq(pipe(stop), 0);
    pid_t readers[NODES];
    fflush(NULL);
    for (int i = 0; i < NODES; i++) {
        readers[i] = fork();
        ck_assert_int_ge(readers[i], 0);
        if (readers[i] == 0) {
            close(stop[1]);
            reader(i + 1, dmg_server_uri(m.node[i]), stop[0], &fs);
        }
    }
    close(stop[0]);

    /* renamed on node 2; once every node shows it, renamed back on node 3 */
    DMG_ASSERT_RC(dmg_rename(m.root[1], FINANCE, "ou=Accounting", NULL, 1), LDAP_SUCCESS);
    for (int i = 0; i < NODES; i++)
        DMG_WAIT_FOR(m.root[i], &q, fs.whole[1]);
    DMG_ASSERT_RC(dmg_rename(m.root[2], ACCOUNTING, "ou=Finance", NULL, 1), LDAP_SUCCESS);
    for (int i = 0; i < NODES; i++)
        DMG_WAIT_FOR(m.root[i], &q, fs.whole[0]);

    close(stop[1]);
    int partial = 0, mismatch = 0;
    for (int i = 0; i < NODES; i++) {
        int st = 0;
        while (waitpid(readers[i], &st, 0) < 0 && errno == EINTR)
            ;
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != READ_NO_BIND,
                      "the reader on node %d failed (status 0x%x)", i + 1, (unsigned)st);
        partial += WEXITSTATUS(st) == READ_PARTIAL;
        mismatch += WEXITSTATUS(st) == READ_MISMATCH;
    }
    ck_assert_msg(partial == 0, "readers on %d of %d nodes saw an empty or partial group",
                  partial, NODES);
    ck_assert_msg(mismatch == 0, "readers on %d of %d nodes saw a group whose department DN "
                                 "was not the one its members were computed from", mismatch,
                  NODES);
    wait_converged(&m);
    assert_same_computed(&m, DMG_ROOTDN, DMG_ROOTPW);
    fin_states_free(&fs);
    mesh_stop(&m);
}
END_TEST

/* ==============================================================================================
 * kill -9 right after a rename
 * ============================================================================================ */

START_TEST(kill_after_rename)
{
    mesh m = { 0 };
    mesh_start(&m);
    add_as_postmaster(m.node[0], group_sto);
    wait_converged(&m);

    DMG_ASSERT_RC(dmg_rename(m.root[1], BACKEND, "ou=Platform", NULL, 1), LDAP_SUCCESS);
    ck_assert_int_eq(dmg_server_kill(m.node[1]), 0);
    dmg_disconnect(m.root[1]);

    /* the survivors agree with each other, whatever reached them */
    free(DMG_WAIT_SAME(m.root[0], m.root[2], &dmg_q_tree));
    free(DMG_WAIT_SAME(m.root[0], m.root[2], &Q_COMPUTED));

    ck_assert_int_eq(dmg_server_restart(m.node[1]), 0);
    m.root[1] = dmg_connect(m.node[1], DMG_ROOTDN, DMG_ROOTPW);
    wait_converged(&m);
    assert_same_computed(&m, DMG_ROOTDN, DMG_ROOTPW);
    assert_members_everywhere(&m, G_STO, STO_MEMBERS(STORAGE2));
    assert_shown_everywhere(&m, G_STO, "dmgDepartment", STORAGE2);
    assert_same_slapcat(m.node, NODES);
    mesh_stop(&m);
}
END_TEST

/* ==============================================================================================
 * partition
 * ============================================================================================ */

/* Node 3 cut off: every link to or from it points at DEAD_URI; node 3 is restarted so that no
 * connection made before survives (its consumers and the persistent searches it served). */
static void isolate_node3(mesh *m)
{
    set_all_links(m, 2);
    dmg_disconnect(m->root[2]);
    ck_assert_int_eq(dmg_server_restart(m->node[2]), 0);
    m->root[2] = dmg_connect(m->node[2], DMG_ROOTDN, DMG_ROOTPW);
}

START_TEST(partition)
{
    mesh m = { 0 };
    mesh_start(&m);
    add_as_postmaster(m.node[0], group_fin);
    add_as_postmaster(m.node[0], group_t1);
    wait_converged(&m);
    isolate_node3(&m);

    /* node 1's side renames the department; the isolated node edits the group naming it, by
     * the DN it knows, edits another group and creates one naming the department */
    DMG_ASSERT_RC(dmg_rename(m.root[0], FINANCE, "ou=Accounting", NULL, 1), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(m.root[2], G_FIN,
                             "add: dmgExcludeMember\ndmgExcludeMember: uid=hans," FINANCE "\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(m.root[2], G_T1, "add: dmgCondition\ndmgCondition: (l=Berlin)\n"),
                  LDAP_SUCCESS);
    add_as_postmaster(m.node[2], "dn: " G_LATE "\nobjectClass: dynamicMailGroup\ncn: mp-late\n"
                                 "mail: mp-late@example.com\ndmgDepartment: " FINANCE "\n");
    free(DMG_WAIT_SAME(m.root[0], m.root[1], &dmg_q_tree));

    set_all_links(&m, -1);
    wait_converged(&m);
    assert_same_computed(&m, DMG_ROOTDN, DMG_ROOTPW);
    assert_same_computed(&m, READER, DMG_PASSWORD);
    /* the rename is followed and the isolated side's edit kept, naming hans where he is now */
    assert_members_everywhere(&m, G_FIN, "uid=gina," ACCOUNTING "\nuid=iris," ACCOUNTING "\n"
                                         "uid=jack," ACCOUNTING "\nuid=kate," ACCOUNTING "\n"
                                         "uid=liam," ACCOUNTING);
    assert_shown_everywhere(&m, G_FIN, "dmgDepartment", ACCOUNTING);
    assert_shown_everywhere(&m, G_FIN, "dmgExcludeMember", "uid=hans," ACCOUNTING);
    assert_members_everywhere(&m, G_T1, "uid=paul," TIER1 "\nuid=rosa," TIER1);
    /* a group created there naming the department by its old DN follows the rename too */
    assert_members_everywhere(&m, G_LATE, FIN_MEMBERS(ACCOUNTING));
    assert_shown_everywhere(&m, G_LATE, "dmgDepartment", ACCOUNTING);
    assert_same_slapcat(m.node, NODES);
    mesh_stop(&m);
}
END_TEST

/* The same address added on both sides of a partition: each side accepted it (the overlay
 * cannot see the other side); after healing, dmg-check on every node names both entries. */
START_TEST(concurrent_same_mail)
{
    mesh m = { 0 };
    mesh_start(&m);
    isolate_node3(&m);
    DMG_ASSERT_RC(dmg_add_ldif(m.root[0], "dn: uid=twin1," SALES "\nobjectClass: inetOrgPerson\n"
                                          "uid: twin1\ncn: Twin One\nsn: One\n"
                                          "mail: twins@example.com\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_add_ldif(m.root[2], "dn: uid=twin2," SUPPORT "\n"
                                          "objectClass: inetOrgPerson\n"
                                          "uid: twin2\ncn: Twin Two\nsn: Two\n"
                                          "mail: twins@example.com\n"),
                  LDAP_SUCCESS);
    set_all_links(&m, -1);
    wait_converged(&m);
    for (int i = 0; i < NODES; i++) {
        int status = -1;
        char *out = dmg_check_script(m.node[i], &status);
        DMG_ASSERT_STR(out, "duplicate address twins@example.com: uid=twin1," SALES
                            "; uid=twin2," SUPPORT "\n"
                            "dmg-check: 1 duplicate addresses, 0 dangling references below "
                            DMG_SUFFIX "\n");
        ck_assert_int_eq(status, 1);
        free(out);
    }
    mesh_stop(&m);
}
END_TEST

/* ==============================================================================================
 * delta-syncrepl
 * ============================================================================================ */

#define ACCESSLOG_DB \
    "index entryCSN,objectClass,reqEnd,reqResult,reqStart eq\n" \
    "limits dn.exact=\"" DMG_ROOTDN "\" size=unlimited time=unlimited\n" \
    "overlay syncprov\nsyncprov-nopresent TRUE\nsyncprov-reloadhint TRUE\n"
#define ACCESSLOG_BELOW \
    DMG_SYNCPROV_BELOW \
    "overlay accesslog\nlogdb cn=accesslog\nlogops writes\nlogsuccess TRUE\n"
#define DELTA_SYNCREPL \
    "logbase=\"cn=accesslog\" logfilter=\"(&(objectClass=auditWriteObject)(reqResult=0))\" " \
    "syncdata=accesslog"

START_TEST(delta_syncrepl)
{
    /* accesslog reports a failed log write at the sync level only */
    setenv("DMG_SLAPD_DEBUG", "sync", 1);
    dmg_server_opts po = {
        .modules = "syncprov accesslog",
        .accesslog_db = ACCESSLOG_DB,
        .db_config = DMG_REPL_INDEX_AND_LIMITS,
        .overlays_before = ACCESSLOG_BELOW,
        .overlay_config = NODE_OVERLAY_CONFIG,
    };
    dmg_server *prov = dmg_server_start(&po);
    ck_assert_msg(prov != NULL, "the provider did not start (see stderr)");
    char db_config[2048];
    dmg_replica_db_config(db_config, sizeof db_config, prov, "001", DELTA_SYNCREPL, NULL);
    dmg_server_opts co = {
        .db_config = db_config,
        .overlay_config = NODE_OVERLAY_CONFIG,
        .fixture = DMG_NO_FIXTURE,
    };
    dmg_server *cons = dmg_server_start(&co);
    ck_assert_msg(cons != NULL, "the consumer did not start (see stderr)");
    LDAP *p, *c;
    DMG_CONNECT_PAIR(prov, cons, &p, &c);

    /* client writes: two group adds, two department renames (each rewrites one group), a
     * group edit */
    add_as_postmaster(prov, group_fin);
    add_as_postmaster(prov, group_sto);
    DMG_ASSERT_RC(dmg_rename(p, FINANCE, "ou=Accounting", NULL, 1), LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_modify(p, G_STO, "add: dmgCondition\ndmgCondition: (l=Berlin)\n"),
                  LDAP_SUCCESS);
    DMG_ASSERT_RC(dmg_rename(p, BACKEND, "ou=Platform", NULL, 1), LDAP_SUCCESS);

    free(DMG_WAIT_SAME(p, c, &dmg_q_tree));
    free(DMG_WAIT_SAME(p, c, &Q_GROUPS_STORED));
    free(DMG_WAIT_SAME(p, c, &Q_COMPUTED));
    DMG_ASSERT_VALUES(c, G_FIN, LDAP_SCOPE_BASE, NULL, "member", FIN_MEMBERS(ACCOUNTING));
    DMG_ASSERT_VALUES(c, G_STO, LDAP_SCOPE_BASE, NULL, "member",
                      "uid=leo," STORAGE2 "\nuid=mallory," STORAGE2);
    dmg_server *pair[] = { prov, cons };
    assert_same_slapcat(pair, 2);

    char *log = dmg_read_file(dmg_server_log(prov));
    ck_assert_msg(strstr(log, "accesslog_response: got result") == NULL,
                  "accesslog failed to add a record: %.200s",
                  strstr(log, "accesslog_response: got result"));
    free(log);

    /* the log: each client write, and the overlay's rewrite after each rename */
    DMG_ASSERT_VALUES(p, "cn=accesslog", LDAP_SCOPE_ONELEVEL, "(objectClass=auditWriteObject)",
                      "reqDN",
                      G_FIN "\n" G_STO "\n" FINANCE "\n" G_FIN "\n" G_STO "\n" BACKEND "\n"
                      G_STO);

    DMG_STOP_PAIR(prov, cons, p, c);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */

static Suite *multiprovider_suite(void)
{
    Suite *s = suite_create("multiprovider");
    TCase *tc = dmg_tcase_timeout("mesh", TCASE_TIMEOUT_S);
    tcase_add_test(tc, steady_state);
    tcase_add_test(tc, kill_after_rename);
    tcase_add_test(tc, concurrent_same_mail);
    suite_add_tcase(s, tc);
    /* renames followed without a window: groups name entries by entryUUID as well as by DN
     * and show the current DN, the rewrite after a rename is logged by accesslog as a write
     * of its own, and no cached member list is shown with a group a running rename changed */
    tc = dmg_tcase_timeout("renames", TCASE_TIMEOUT_S);
    tcase_add_test(tc, rename_during_reads);
    tcase_add_test(tc, partition);
    tcase_add_test(tc, delta_syncrepl);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* every test starts (and stops) its own nodes: no suite-wide server */
    return dmg_run_suite_own_servers(multiprovider_suite());
}
