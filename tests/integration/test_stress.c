/*
 * test_stress.c -- bounded concurrency against one server, with and without the membership
 * cache (man page MEMBERSHIP: "after a write ... has returned success, every later read of any
 * group reflects it"; man page CONFIGURATION: dynmailgroup-cache-max-values).
 *
 * One test per variant; each starts its own server and, inside the Check child, runs
 *   - READERS reader threads (each its own connection; even ones bound as the rootdn, odd ones
 *     as the privileged uid=mta), READER_OPS operations each, cycling through: a sweep of every
 *     group's member/dmgMemberCount, reverse lookups (member=DN), dmgMemberOf, send decisions
 *     ((&(mail=G)(dmgSender=S)) requesting dmgDecision), and a read of a writer's group;
 *   - WRITERS writer threads (rootdn connections), WRITER_OPS writes each: add, modify (title),
 *     move (modrdn newSuperior between the writer's two departments) and delete of employees in
 *     the writer's private subtree. Each writer tracks its employees locally and, after every
 *     successful write, reads its four groups once: they must show exactly the expected members
 *     and counts (read-your-writes). The writer reads as the rootdn, like half the readers, so
 *     with the cache on it reads through the same cache entries the readers fill.
 * Assertions: no LDAP error for anyone; every stable answer exact (fixture groups, reverse
 * lookups, dmgMemberOf and decisions of untouched employees); read-your-writes for the writers;
 * at the end every group's dmgMemberCount equals its number of member values, and each writer's
 * groups equal both its local model and the employees actually stored.
 *
 * Threads never call Check: each records its first failure and a count, the test thread
 * asserts after joining them. The operation counts are fixed, so the run is bounded (the
 * client-side bound of one LDAP operation is the harness's LDAP_OPT_TIMEOUT).
 *
 * Fixture: tests/fixtures/org.ldif (see tests/fixtures/README.md).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* rand_r, clock_gettime with -std=c99 */
#endif
#include "harness.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define READERS     16
#define READER_OPS  400
#define WRITERS     2
#define WRITER_OPS  600
#define MAX_POOL    24 /* employees a writer keeps at most */
#define STRESS_TCASE_TIMEOUT_S 180

#define GROUPS     "ou=Groups," DMG_SUFFIX
#define STRESS     "ou=Stress," DMG_SUFFIX
#define POSTMASTER "uid=postmaster,ou=System," DMG_SUFFIX
#define MTA        "uid=mta,ou=System," DMG_SUFFIX
#define ALICE      "uid=alice,ou=Engineering," DMG_SUFFIX
#define HANS       "uid=hans,ou=Finance," DMG_SUFFIX

#define BASE_OVERLAY_CONFIG \
    "dynmailgroup-postmaster " POSTMASTER "\n" \
    "dynmailgroup-privileged " MTA "\n"

/* ---- small utilities ------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A thread's record of failures: the first message and a count. */
typedef struct failures {
    unsigned count;
    char first[4096];
} failures;

static void record_failure(failures *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void record_failure(failures *f, const char *fmt, ...)
{
    if (f->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->first, sizeof f->first, fmt, ap);
        va_end(ap);
    }
}

/* "group | attr: value" lines (attr lower-cased: member, dmgmembercount) of a search, sorted;
 * NULL when the search failed (r holds why). */
static char *group_lines(LDAP *ld, const char *filter, dmg_result *r)
{
    static const char *const attrs[] = { "member", "dmgMemberCount", NULL };
    dmg_entries *es = NULL;
    *r = dmg_search(ld, GROUPS, LDAP_SCOPE_ONELEVEL, filter, attrs, NULL, &es);
    if (r->rc != LDAP_SUCCESS) {
        dmg_entries_free(es);
        return NULL;
    }
    dmg_text t = { 0 };
    dmg_text_printf(&t, "%s", "");
    for (size_t i = 0; i < es->count; i++) {
        const dmg_entry *e = &es->entries[i];
        const dmg_attr *m = dmg_entry_attr(e, "member");
        const dmg_attr *c = dmg_entry_attr(e, "dmgMemberCount");
        for (size_t k = 0; m && k < m->nvalues; k++)
            dmg_text_printf(&t, "%s | member: %s\n", e->dn, m->values[k]);
        for (size_t k = 0; c && k < c->nvalues; k++)
            dmg_text_printf(&t, "%s | dmgmembercount: %s\n", e->dn, c->values[k]);
    }
    dmg_entries_free(es);
    char *out = dmg_sorted_lines(t.s);
    free(t.s);
    return out;
}

/* Every entry returned has exactly one dmgMemberCount, equal to its number of member values;
 * 0 when so, else a description in why. */
static int counts_consistent(const dmg_entries *es, char *why, size_t size)
{
    for (size_t i = 0; i < es->count; i++) {
        const dmg_entry *e = &es->entries[i];
        const dmg_attr *m = dmg_entry_attr(e, "member");
        const dmg_attr *c = dmg_entry_attr(e, "dmgMemberCount");
        size_t n = m ? m->nvalues : 0;
        char want[32];
        snprintf(want, sizeof want, "%zu", n);
        if (c == NULL || c->nvalues != 1 || strcmp(c->values[0], want) != 0) {
            snprintf(why, size, "%s: %zu member values, dmgMemberCount %s", e->dn, n,
                     c == NULL ? "absent" : c->nvalues != 1 ? "multi-valued" : c->values[0]);
            return -1;
        }
    }
    return 0;
}

/* ---- the directory the threads work on ---------------------------------------------------------- */

/* Groups over the untouched fixture: their answers never change during the run. */
#define ST_ENG    "cn=st-eng," GROUPS
#define ST_SALES  "cn=st-sales," GROUPS
#define ST_FIN    "cn=st-fin," GROUPS
#define ST_BERLIN "cn=st-berlin," GROUPS

static const char *const static_groups[] = {
    "dn: " ST_ENG "\nobjectClass: dynamicMailGroup\ncn: st-eng\nmail: st-eng@example.com\n"
    "dmgDepartment: ou=Engineering," DMG_SUFFIX "\n",
    "dn: " ST_SALES "\nobjectClass: dynamicMailGroup\ncn: st-sales\nmail: st-sales@example.com\n"
    "dmgDepartment: ou=Sales," DMG_SUFFIX "\ndmgSendPolicy: members\n",
    "dn: " ST_FIN "\nobjectClass: dynamicMailGroup\ncn: st-fin\nmail: st-fin@example.com\n"
    "dmgDepartment: ou=Finance," DMG_SUFFIX "\ndmgIncludeSubDepartments: FALSE\n",
    "dn: " ST_BERLIN "\nobjectClass: dynamicMailGroup\ncn: st-berlin\n"
    "mail: st-berlin@example.com\n"
    "dmgDepartment: ou=Engineering," DMG_SUFFIX "\ndmgDepartment: ou=Sales," DMG_SUFFIX "\n"
    "dmgDepartment: ou=Support," DMG_SUFFIX "\ndmgCondition: (l=Berlin)\n",
    NULL
};
/* members per static group (tests/fixtures/README.md; Berlin: 7 in Engineering, 3 in Sales,
 * 4 in Support) */
static const char *const static_dns[] = { ST_ENG, ST_SALES, ST_FIN, ST_BERLIN, NULL };
static const size_t static_sizes[] = { 20, 12, 6, 14 };

static const char *const writer_group_suffix[] = { "all", "a", "b", "mgr" };

static void writer_ou(char *buf, size_t size, int w, const char *sub)
{
    if (sub != NULL)
        snprintf(buf, size, "ou=%s,ou=w%d," STRESS, sub, w);
    else
        snprintf(buf, size, "ou=w%d," STRESS, w);
}

static void writer_group_dn(char *buf, size_t size, int w, int g)
{
    snprintf(buf, size, "cn=w%d-%s," GROUPS, w, writer_group_suffix[g]);
}

/* Departments ou=wN,ou=Stress with ou=a and ou=b inside, and the writer's four groups:
 * wN-all (the whole subtree), wN-a, wN-b, wN-mgr (the subtree, title=Manager). */
static void create_writer_area(LDAP *root, LDAP *pm, int w)
{
    char dn[256], ldif[1024];
    writer_ou(dn, sizeof dn, w, NULL);
    snprintf(ldif, sizeof ldif, "dn: %s\nobjectClass: organizationalUnit\nou: w%d\n", dn, w);
    DMG_ASSERT_RC(dmg_add_ldif(root, ldif), LDAP_SUCCESS);
    for (int s = 0; s < 2; s++) {
        writer_ou(dn, sizeof dn, w, s ? "b" : "a");
        snprintf(ldif, sizeof ldif, "dn: %s\nobjectClass: organizationalUnit\nou: %s\n", dn,
                 s ? "b" : "a");
        DMG_ASSERT_RC(dmg_add_ldif(root, ldif), LDAP_SUCCESS);
    }
    for (int g = 0; g < 4; g++) {
        char gdn[256], dept[256];
        writer_group_dn(gdn, sizeof gdn, w, g);
        writer_ou(dept, sizeof dept, w, g == 1 ? "a" : g == 2 ? "b" : NULL);
        snprintf(ldif, sizeof ldif,
                 "dn: %s\nobjectClass: dynamicMailGroup\ncn: w%d-%s\nmail: w%d-%s@example.com\n"
                 "dmgDepartment: %s\n%s",
                 gdn, w, writer_group_suffix[g], w, writer_group_suffix[g], dept,
                 g == 3 ? "dmgCondition: (title=Manager)\n" : "");
        DMG_ASSERT_RC(dmg_add_ldif(pm, ldif), LDAP_SUCCESS);
    }
}

/* ---- writers --------------------------------------------------------------------------------- */

typedef struct employee {
    int id;
    int in_b;    /* in ou=b, else ou=a */
    int manager; /* title Manager, else Engineer */
} employee;

typedef struct writer {
    int w;
    LDAP *ld;
    unsigned seed;
    employee pool[MAX_POOL];
    int n;
    int next_id;
    unsigned adds, modifies, moves, deletes, checks;
    double seconds;
    failures f;
} writer;

static void employee_dn(const writer *wr, const employee *e, char *buf, size_t size)
{
    snprintf(buf, size, "uid=w%de%d,ou=%s,ou=w%d," STRESS, wr->w, e->id, e->in_b ? "b" : "a",
             wr->w);
}

/* The expected lines of the writer's four groups, in group_lines' format. */
static char *model_lines(const writer *wr)
{
    dmg_text t = { 0 };
    unsigned count[4] = { 0, 0, 0, 0 };
    dmg_text_printf(&t, "%s", "");
    for (int i = 0; i < wr->n; i++) {
        const employee *e = &wr->pool[i];
        char dn[256], gdn[256];
        employee_dn(wr, e, dn, sizeof dn);
        int in[4] = { 1, !e->in_b, e->in_b, e->manager };
        for (int g = 0; g < 4; g++) {
            if (!in[g])
                continue;
            writer_group_dn(gdn, sizeof gdn, wr->w, g);
            dmg_text_printf(&t, "%s | member: %s\n", gdn, dn);
            count[g]++;
        }
    }
    for (int g = 0; g < 4; g++) {
        char gdn[256];
        writer_group_dn(gdn, sizeof gdn, wr->w, g);
        dmg_text_printf(&t, "%s | dmgmembercount: %u\n", gdn, count[g]);
    }
    char *out = dmg_sorted_lines(t.s);
    free(t.s);
    return out;
}

static void writer_filter(const writer *wr, char *buf, size_t size)
{
    snprintf(buf, size, "(|(cn=w%d-all)(cn=w%d-a)(cn=w%d-b)(cn=w%d-mgr))", wr->w, wr->w, wr->w,
             wr->w);
}

/* Read-your-writes: the writer's groups, read right after its write returned. */
static void writer_check(writer *wr, int op, const char *what)
{
    char filter[256];
    writer_filter(wr, filter, sizeof filter);
    dmg_result r;
    char *got = group_lines(wr->ld, filter, &r);
    char *want = model_lines(wr);
    wr->checks++;
    if (got == NULL)
        record_failure(&wr->f, "writer %d op %d (after %s): reading its groups: %s (%d) %s", wr->w, op,
             what, ldap_err2string(r.rc), r.rc, r.diag);
    else if (strcmp(got, want) != 0)
        record_failure(&wr->f, "writer %d op %d: stale read after %s\n--- got:\n%s\n--- expected:\n%s",
             wr->w, op, what, got, want);
    free(got);
    free(want);
}

static void *writer_main(void *arg)
{
    writer *wr = arg;
    double start = now_s();
    for (int op = 0; op < WRITER_OPS; op++) {
        char dn[256], what[600], ldif[1024];
        unsigned roll = (unsigned)rand_r(&wr->seed);
        int kind = wr->n < 3 ? 0 : (int)(roll % 4);
        if (kind == 0 && wr->n == MAX_POOL)
            kind = 1;
        int i = wr->n ? (int)((roll / 4) % (unsigned)wr->n) : 0;
        dmg_result r;
        if (kind == 0) { /* add */
            employee e = { wr->next_id++, (int)((roll / 8) % 2), (int)((roll / 16) % 2) };
            employee_dn(wr, &e, dn, sizeof dn);
            snprintf(ldif, sizeof ldif,
                     "dn: %s\nobjectClass: inetOrgPerson\nuid: w%de%d\ncn: W%d E%d\nsn: E%d\n"
                     "title: %s\nmail: w%de%d@example.com\n",
                     dn, wr->w, e.id, wr->w, e.id, e.id, e.manager ? "Manager" : "Engineer",
                     wr->w, e.id);
            r = dmg_add_ldif(wr->ld, ldif);
            if (r.rc == LDAP_SUCCESS)
                wr->pool[wr->n++] = e;
            wr->adds++;
            snprintf(what, sizeof what, "add %s", dn);
        } else if (kind == 1) { /* modify title */
            employee *e = &wr->pool[i];
            employee_dn(wr, e, dn, sizeof dn);
            r = dmg_modify(wr->ld, dn, e->manager ? "replace: title\ntitle: Engineer\n"
                                                  : "replace: title\ntitle: Manager\n");
            if (r.rc == LDAP_SUCCESS)
                e->manager = !e->manager;
            wr->modifies++;
            snprintf(what, sizeof what, "modify title of %s", dn);
        } else if (kind == 2) { /* move between the two departments */
            employee *e = &wr->pool[i];
            char rdn[64], sup[256];
            employee_dn(wr, e, dn, sizeof dn);
            snprintf(rdn, sizeof rdn, "uid=w%de%d", wr->w, e->id);
            writer_ou(sup, sizeof sup, wr->w, e->in_b ? "a" : "b");
            r = dmg_rename(wr->ld, dn, rdn, sup, 1);
            if (r.rc == LDAP_SUCCESS)
                e->in_b = !e->in_b;
            wr->moves++;
            snprintf(what, sizeof what, "move %s below %s", dn, sup);
        } else { /* delete */
            employee_dn(wr, &wr->pool[i], dn, sizeof dn);
            r = dmg_delete(wr->ld, dn);
            if (r.rc == LDAP_SUCCESS)
                wr->pool[i] = wr->pool[--wr->n];
            wr->deletes++;
            snprintf(what, sizeof what, "delete %s", dn);
        }
        if (r.rc != LDAP_SUCCESS) {
            record_failure(&wr->f, "writer %d op %d: %s: %s (%d) %s", wr->w, op, what,
                 ldap_err2string(r.rc), r.rc, r.diag);
            continue;
        }
        writer_check(wr, op, what);
    }
    wr->seconds = now_s() - start;
    return NULL;
}

/* ---- readers --------------------------------------------------------------------------------- */

typedef struct reader {
    int id;
    LDAP *ld;
    unsigned seed;
    char *const *static_members; /* sorted member lists of static_dns[] */
    unsigned ops;
    double seconds;
    failures f;
} reader;

static void reader_search_error(reader *rd, int op, const char *what, const dmg_result *r)
{
    record_failure(&rd->f, "reader %d op %d: %s: %s (%d) %s", rd->id, op, what, ldap_err2string(r->rc),
         r->rc, r->diag);
}

/* The DNs of a search, sorted, joined by "\n". */
static char *dns_of(const dmg_entries *es)
{
    dmg_text t = { 0 };
    dmg_text_printf(&t, "%s", "");
    for (size_t i = 0; i < es->count; i++)
        dmg_text_printf(&t, "%s\n", es->entries[i].dn);
    char *out = dmg_sorted_lines(t.s);
    free(t.s);
    return out;
}

static void *reader_main(void *arg)
{
    reader *rd = arg;
    double start = now_s();
    char why[1024];
    for (int op = 0; op < READER_OPS; op++) {
        dmg_entries *es = NULL;
        dmg_result r;
        int kind = (op + rd->id) % 6;
        rd->ops++;
        if (kind == 0) {
            /* every group with its members and count */
            static const char *const attrs[] = { "member", "dmgMemberCount", NULL };
            r = dmg_search(rd->ld, GROUPS, LDAP_SCOPE_ONELEVEL, "(objectClass=dynamicMailGroup)",
                           attrs, NULL, &es);
            if (r.rc != LDAP_SUCCESS) {
                reader_search_error(rd, op, "sweep of all groups", &r);
            } else if (es->count != 4 + 4 * WRITERS) {
                record_failure(&rd->f, "reader %d op %d: sweep returned %zu groups, not %d", rd->id, op,
                     es->count, 4 + 4 * WRITERS);
            } else if (counts_consistent(es, why, sizeof why) != 0) {
                record_failure(&rd->f, "reader %d op %d: sweep: %s", rd->id, op, why);
            } else {
                for (size_t g = 0; static_dns[g]; g++) {
                    const dmg_attr *m = dmg_entry_attr(dmg_entries_find(es, static_dns[g]),
                                                       "member");
                    dmg_text t = { 0 };
                    dmg_text_printf(&t, "%s", "");
                    for (size_t k = 0; m && k < m->nvalues; k++)
                        dmg_text_printf(&t, "%s\n", m->values[k]);
                    char *got = dmg_sorted_lines(t.s);
                    free(t.s);
                    if (strcmp(got, rd->static_members[g]) != 0)
                        record_failure(&rd->f, "reader %d op %d: members of %s changed:\n%s", rd->id, op,
                             static_dns[g], got);
                    free(got);
                }
            }
        } else if (kind == 1) {
            /* reverse lookup of an untouched employee: exactly its groups */
            const char *who = op % 2 ? ALICE : HANS;
            const char *want = op % 2 ? ST_BERLIN "\n" ST_ENG : ST_FIN;
            char filter[256];
            snprintf(filter, sizeof filter, "(member=%s)", who);
            r = dmg_search(rd->ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, NULL, NULL, &es);
            if (r.rc != LDAP_SUCCESS) {
                reader_search_error(rd, op, filter, &r);
            } else {
                char *got = dns_of(es), *exp = dmg_sorted_lines(want);
                if (strcmp(got, exp) != 0)
                    record_failure(&rd->f, "reader %d op %d: %s gave:\n%s", rd->id, op, filter, got);
                free(got);
                free(exp);
            }
        } else if (kind == 2) {
            /* reverse lookup of a writer's employee (may or may not exist right now): only
             * groups of that writer, and never wN-a and wN-b together */
            int w = (int)((unsigned)rand_r(&rd->seed) % WRITERS);
            int id = (int)((unsigned)rand_r(&rd->seed) % 40);
            const char *sub = rand_r(&rd->seed) % 2 ? "b" : "a";
            char filter[256];
            snprintf(filter, sizeof filter, "(member=uid=w%de%d,ou=%s,ou=w%d," STRESS ")", w, id,
                     sub, w);
            r = dmg_search(rd->ld, GROUPS, LDAP_SCOPE_ONELEVEL, filter, NULL, NULL, &es);
            if (r.rc != LDAP_SUCCESS) {
                reader_search_error(rd, op, filter, &r);
            } else {
                char prefix[32], other[64];
                snprintf(prefix, sizeof prefix, "cn=w%d-", w);
                snprintf(other, sizeof other, "cn=w%d-%s,", w, sub[0] == 'a' ? "b" : "a");
                for (size_t i = 0; i < es->count; i++) {
                    const char *dn = es->entries[i].dn;
                    if (strncasecmp(dn, prefix, strlen(prefix)) != 0
                        || strncasecmp(dn, other, strlen(other)) == 0)
                        record_failure(&rd->f, "reader %d op %d: %s returned %s", rd->id, op, filter, dn);
                }
            }
        } else if (kind == 3) {
            /* dmgMemberOf of an untouched employee */
            static const char *const attrs[] = { "dmgMemberOf", NULL };
            r = dmg_search(rd->ld, ALICE, LDAP_SCOPE_BASE, NULL, attrs, NULL, &es);
            const dmg_attr *a = r.rc == LDAP_SUCCESS && es->count == 1
                                    ? dmg_entry_attr(&es->entries[0], "dmgMemberOf") : NULL;
            if (r.rc != LDAP_SUCCESS) {
                reader_search_error(rd, op, "dmgMemberOf of " ALICE, &r);
            } else {
                dmg_text t = { 0 };
                dmg_text_printf(&t, "%s", "");
                for (size_t k = 0; a && k < a->nvalues; k++)
                    dmg_text_printf(&t, "%s\n", a->values[k]);
                char *got = dmg_sorted_lines(t.s), *exp = dmg_sorted_lines(ST_BERLIN "\n" ST_ENG);
                if (strcmp(got, exp) != 0)
                    record_failure(&rd->f, "reader %d op %d: dmgMemberOf of " ALICE ":\n%s", rd->id, op,
                         got);
                free(got);
                free(exp);
                free(t.s);
            }
        } else if (kind == 4) {
            /* send decisions: a member of st-sales (policy members) is accepted, an outsider
             * rejected; domain policy of st-eng accepts any example.com sender */
            static const char *const attrs[] = { "dmgDecision", NULL };
            static const struct { const char *filter, *group, *decision; } cases[] = {
                { "(&(mail=st-sales@example.com)(dmgSender=uma@example.com))", ST_SALES,
                  "accept" },
                { "(&(mail=st-sales@example.com)(dmgSender=alice@example.com))", ST_SALES,
                  "reject" },
                { "(&(mail=st-eng@example.com)(dmgSender=nobody@example.com))", ST_ENG,
                  "accept" },
                { "(&(mail=st-eng@example.com)(dmgSender=spam@example.net))", ST_ENG,
                  "reject" },
            };
            size_t c = (size_t)(op / 6) % (sizeof cases / sizeof cases[0]);
            r = dmg_search(rd->ld, GROUPS, LDAP_SCOPE_ONELEVEL, cases[c].filter, attrs, NULL,
                           &es);
            const dmg_attr *d = r.rc == LDAP_SUCCESS && es->count == 1
                                    ? dmg_entry_attr(&es->entries[0], "dmgDecision") : NULL;
            if (r.rc != LDAP_SUCCESS)
                reader_search_error(rd, op, cases[c].filter, &r);
            else if (es->count != 1 || strcasecmp(es->entries[0].dn, cases[c].group) != 0
                     || d == NULL || d->nvalues != 1
                     || strcmp(d->values[0], cases[c].decision) != 0)
                record_failure(&rd->f, "reader %d op %d: %s: %zu entries, decision %s (expected %s)",
                     rd->id, op, cases[c].filter, es->count,
                     d && d->nvalues ? d->values[0] : "(none)", cases[c].decision);
        } else {
            /* a writer's whole-subtree group, members and count */
            char filter[64];
            int w = (int)((unsigned)rand_r(&rd->seed) % WRITERS);
            snprintf(filter, sizeof filter, "(cn=w%d-all)", w);
            static const char *const attrs[] = { "member", "dmgMemberCount", NULL };
            r = dmg_search(rd->ld, GROUPS, LDAP_SCOPE_ONELEVEL, filter, attrs, NULL, &es);
            if (r.rc != LDAP_SUCCESS)
                reader_search_error(rd, op, filter, &r);
            else if (es->count != 1)
                record_failure(&rd->f, "reader %d op %d: %s: %zu entries", rd->id, op, filter, es->count);
            else if (counts_consistent(es, why, sizeof why) != 0)
                record_failure(&rd->f, "reader %d op %d: %s", rd->id, op, why);
        }
        dmg_entries_free(es);
    }
    rd->seconds = now_s() - start;
    return NULL;
}

/* ---- the test -------------------------------------------------------------------------------- */

static void stress(int with_cache)
{
    char overlay_config[512];
    snprintf(overlay_config, sizeof overlay_config, "%s%s", BASE_OVERLAY_CONFIG,
             with_cache ? "dynmailgroup-cache-max-values 1000000\n"
                        : "dynmailgroup-cache-max-values 0\n");
    dmg_server_opts o = { .overlay_config = overlay_config };
    dmg_server *s = dmg_server_start(&o);
    ck_assert_msg(s != NULL, "slapd did not start (see stderr)");

    /* the cache setting is what this variant says */
    LDAP *cfg = dmg_connect_ldapi_external(s);
    DMG_ASSERT_VALUES(cfg, "olcDatabase={1}mdb,cn=config", LDAP_SCOPE_ONELEVEL,
                      "(objectClass=olcDynMailGroupConfig)", "olcDynMailGroupCacheMaxValues",
                      with_cache ? "1000000" : "0");
    dmg_disconnect(cfg);

    LDAP *root = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    LDAP *pm = dmg_connect(s, POSTMASTER, DMG_PASSWORD);
    DMG_ASSERT_RC(dmg_add_ldif(root, "dn: " STRESS "\nobjectClass: organizationalUnit\n"
                                     "ou: Stress\n"),
                  LDAP_SUCCESS);
    for (size_t i = 0; static_groups[i]; i++)
        DMG_ASSERT_RC(dmg_add_ldif(pm, static_groups[i]), LDAP_SUCCESS);
    for (int w = 0; w < WRITERS; w++)
        create_writer_area(root, pm, w);
    dmg_disconnect(pm);

    /* the stable answers, read before any concurrency */
    char *static_members[sizeof static_sizes / sizeof static_sizes[0]];
    for (size_t g = 0; static_dns[g]; g++) {
        static_members[g] = dmg_values_joined(root, static_dns[g], LDAP_SCOPE_BASE, NULL,
                                              "member");
        size_t n = static_members[g][0] ? 1 : 0;
        for (const char *p = static_members[g]; *p; p++)
            n += *p == '\n';
        ck_assert_msg(n == static_sizes[g], "%s has %zu members, expected %zu", static_dns[g],
                      n, static_sizes[g]);
    }

    static writer writers[WRITERS];
    static reader readers[READERS];
    memset(writers, 0, sizeof writers);
    memset(readers, 0, sizeof readers);
    for (int w = 0; w < WRITERS; w++) {
        writers[w].w = w;
        writers[w].seed = 1000u + (unsigned)w;
        writers[w].ld = dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    }
    for (int i = 0; i < READERS; i++) {
        readers[i].id = i;
        readers[i].seed = 7u * (unsigned)i + 1u;
        readers[i].static_members = static_members;
        readers[i].ld = i % 2 ? dmg_connect(s, MTA, DMG_PASSWORD)
                              : dmg_connect(s, DMG_ROOTDN, DMG_ROOTPW);
    }

    pthread_t wt[WRITERS], rt[READERS];
    double start = now_s();
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_create(&rt[i], NULL, reader_main, &readers[i]), 0);
    for (int w = 0; w < WRITERS; w++)
        ck_assert_int_eq(pthread_create(&wt[w], NULL, writer_main, &writers[w]), 0);
    for (int w = 0; w < WRITERS; w++)
        ck_assert_int_eq(pthread_join(wt[w], NULL), 0);
    for (int i = 0; i < READERS; i++)
        ck_assert_int_eq(pthread_join(rt[i], NULL), 0);
    double elapsed = now_s() - start;

    /* At rest (recorded, not asserted, so that the server is stopped and its directory
     * removed before any assertion ends the test): every group's dmgMemberCount equals its
     * number of member values, for both identities; each writer's groups equal its model, and
     * the model is what is stored; the fixture groups are unchanged. */
    failures rest = { 0, "" };
    LDAP *mta = dmg_connect(s, MTA, DMG_PASSWORD);
    LDAP *who[] = { root, mta };
    for (size_t k = 0; k < 2; k++) {
        static const char *const attrs[] = { "member", "dmgMemberCount", NULL };
        dmg_entries *es = NULL;
        char why[1024];
        dmg_result r = dmg_search(who[k], GROUPS, LDAP_SCOPE_ONELEVEL,
                                  "(objectClass=dynamicMailGroup)", attrs, NULL, &es);
        if (r.rc != LDAP_SUCCESS)
            record_failure(&rest, "at rest: sweep as %s: %s (%d) %s", k ? MTA : DMG_ROOTDN,
                           ldap_err2string(r.rc), r.rc, r.diag);
        else if (es->count != 4 + 4 * WRITERS)
            record_failure(&rest, "at rest: %zu groups, not %d", es->count, 4 + 4 * WRITERS);
        else if (counts_consistent(es, why, sizeof why) != 0)
            record_failure(&rest, "at rest, as %s: %s", k ? MTA : DMG_ROOTDN, why);
        dmg_entries_free(es);
    }
    for (int w = 0; w < WRITERS; w++) {
        char filter[256], base[256];
        writer_filter(&writers[w], filter, sizeof filter);
        dmg_result r;
        char *got = group_lines(mta, filter, &r);
        char *want = model_lines(&writers[w]);
        if (got == NULL || strcmp(got, want) != 0)
            record_failure(&rest, "at rest: groups of writer %d\n--- got:\n%s\n--- expected:\n%s",
                           w, got ? got : r.diag, want);
        free(got);
        free(want);
        dmg_text t = { 0 };
        dmg_text_printf(&t, "%s", "");
        for (int i = 0; i < writers[w].n; i++) {
            char dn[256];
            employee_dn(&writers[w], &writers[w].pool[i], dn, sizeof dn);
            dmg_text_printf(&t, "%s\n", dn);
        }
        writer_ou(base, sizeof base, w, NULL);
        dmg_entries *es = NULL;
        r = dmg_search(root, base, LDAP_SCOPE_SUBTREE, "(objectClass=inetOrgPerson)", NULL, NULL,
                       &es);
        char *stored = r.rc == LDAP_SUCCESS ? dns_of(es) : NULL;
        char *model = dmg_sorted_lines(t.s);
        if (stored == NULL || strcmp(stored, model) != 0)
            record_failure(&rest, "at rest: employees of writer %d\n--- stored:\n%s\n--- model:\n%s",
                           w, stored ? stored : r.diag, model);
        free(stored);
        free(model);
        free(t.s);
        dmg_entries_free(es);
    }
    for (size_t g = 0; static_dns[g]; g++) {
        static const char *const attrs[] = { "member", NULL };
        dmg_entries *es = NULL;
        dmg_result r = dmg_search(mta, static_dns[g], LDAP_SCOPE_BASE, NULL, attrs, NULL, &es);
        const dmg_attr *m = r.rc == LDAP_SUCCESS && es->count == 1
                                ? dmg_entry_attr(&es->entries[0], "member") : NULL;
        dmg_text t = { 0 };
        dmg_text_printf(&t, "%s", "");
        for (size_t k = 0; m && k < m->nvalues; k++)
            dmg_text_printf(&t, "%s\n", m->values[k]);
        char *got = dmg_sorted_lines(t.s);
        if (strcmp(got, static_members[g]) != 0)
            record_failure(&rest, "at rest: members of %s:\n%s", static_dns[g], got);
        free(got);
        free(t.s);
        dmg_entries_free(es);
    }

    for (int w = 0; w < WRITERS; w++)
        dmg_disconnect(writers[w].ld);
    for (int i = 0; i < READERS; i++)
        dmg_disconnect(readers[i].ld);
    dmg_disconnect(mta);
    dmg_disconnect(root);
    int stop_rc = dmg_server_stop(s);

    /* the report, then the verdict */
    unsigned reader_ops = 0;
    const char *variant = with_cache ? "on" : "off";
    for (int i = 0; i < READERS; i++) {
        reader_ops += readers[i].ops;
        if (readers[i].f.count)
            fprintf(stderr, "stress(cache %s): reader %d: %u failure(s); first: %s\n", variant,
                    i, readers[i].f.count, readers[i].f.first);
    }
    for (int w = 0; w < WRITERS; w++) {
        fprintf(stderr, "stress(cache %s): writer %d: %u adds, %u modifies, %u moves, "
                        "%u deletes, %u read-your-writes checks, %d employees left, %.1f s\n",
                variant, w, writers[w].adds, writers[w].modifies, writers[w].moves,
                writers[w].deletes, writers[w].checks, writers[w].n, writers[w].seconds);
        if (writers[w].f.count)
            fprintf(stderr, "stress(cache %s): writer %d: %u failure(s); first: %s\n", variant,
                    w, writers[w].f.count, writers[w].f.first);
    }
    fprintf(stderr, "stress(cache %s): %u reader operations and %d x %d writes in %.1f s\n",
            variant, reader_ops, WRITERS, WRITER_OPS, elapsed);
    for (size_t g = 0; static_dns[g]; g++)
        free(static_members[g]);
    ck_assert_int_eq(stop_rc, 0);
    ck_assert_uint_eq(reader_ops, READERS * READER_OPS);
    for (int w = 0; w < WRITERS; w++)
        ck_assert_msg(writers[w].f.count == 0, "writer %d: %u failure(s); first: %s", w,
                      writers[w].f.count, writers[w].f.first);
    for (int i = 0; i < READERS; i++)
        ck_assert_msg(readers[i].f.count == 0, "reader %d: %u failure(s); first: %s", i,
                      readers[i].f.count, readers[i].f.first);
    ck_assert_msg(rest.count == 0, "%u failure(s) at rest; first: %s", rest.count, rest.first);
}

START_TEST(concurrent_readers_and_writers_with_cache)
{
    stress(1);
}
END_TEST

START_TEST(concurrent_readers_and_writers_without_cache)
{
    stress(0);
}
END_TEST

static Suite *stress_suite(void)
{
    Suite *s = suite_create("stress");
    TCase *tc = dmg_tcase_timeout("concurrency", STRESS_TCASE_TIMEOUT_S);
    tcase_add_test(tc, concurrent_readers_and_writers_with_cache);
    tcase_add_test(tc, concurrent_readers_and_writers_without_cache);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* each test starts its own server (the two variants differ in configuration) */
    return dmg_run_suite_own_servers(stress_suite());
}
