/*
 * client.c -- the timing client of the slapo-dynmailgroup benchmark (bench/run.sh).
 *
 * One connection per server, bound once; every sample is one LDAP operation (or a batch of
 * adds) timed with CLOCK_MONOTONIC from the request to the final result, so no process start,
 * connect or bind is included.  Results are printed as one line of key=value pairs:
 *
 *   status=ok n=5 min_ms=1.234 median_ms=1.456 max_ms=2.000 entries=1 values=10000
 *   status=timeout n=0 ... timeout_s=120      (a sample hit the per-operation timeout)
 *   status=error n=0 ... error='...'
 *
 * search and compare take several -H: one sample on each server in turn (the first of a
 * round moving on by one each round), one result line per -H in their order, so that the
 * servers a row compares are sampled in the same moments; -F FILTER and -A ATTR,ATTR... after
 * an -H give that server's samples their own filter and attributes (two queries compared on
 * one server: -H U -F ... -H U).
 *
 * Commands:
 *   client freeport                       a loopback TCP port free right now
 *   client ping -H URI [-t SEC]           waits until the server answers (root DSE read)
 *   client search -H URI [-F FILTER] [-A ATTRS] [-H URI...] [-D DN -w PW] [-W DN -X PW]
 *          [-n REPS] [-u WARMUPS] [-t SEC] [-B SEC] [-m MODIFY_DN] [-a MODIFY_ATTR]
 *          [-v VALUE,VALUE...] [-b BIND_DN -p BIND_PW] [-c COUNT_ATTR]
 *          BASE SCOPE FILTER [ATTR...]
 *          -m: before every sample (warm-ups included), an untimed modify of MODIFY_DN over a
 *          second connection bound as -W/-X: replace -a (default description) with the next of
 *          the -v values in turn (default: a new value every time); with -v the last value is
 *          written once more at the end, so that the entry ends as it was;
 *          -b: before every sample (warm-ups included), an untimed simple bind as BIND_DN over
 *          a third connection (what lastbind turns into a write of pwdLastSuccess); -b @FILE
 *          binds as the DNs of FILE (one a line) in turn: slapd writes pwdLastSuccess at most
 *          once a second per entry, so that each bind writes only when it names another entry;
 *          -c: count the values of this attribute in the result (default: none);
 *          an ATTR list of "*" or none means all user attributes; "1.1" means none.
 *   client add -H URI -W DN -X PW [-n REPS] [-t SEC] [-B SEC] TEAMSFILE COUNT DOMAIN
 *          each sample: COUNT synchronous adds of new inetOrgPerson entries spread over the
 *          teams; they are deleted again after each sample, untimed.
 *   client compare -H URI [-H URI...] [-D DN -w PW] [-n REPS] [-u WARMUPS] [-t SEC] [-B SEC]
 *          DN ATTR VALUE
 *          timed compares; entries=1 when the answer is compareTrue, 0 for compareFalse.
 *   client load -H URI [-D DN -w PW] [-P READERS] [-d SEC] [-r WRITES_PER_S -W DN -X PW
 *          -M EMPLOYEEFILE] GROUPFILE
 *          READERS processes (default 8), each on its own connection, read `member` of random
 *          groups (one DN a line in GROUPFILE) for SEC seconds (default 10); with -r, one more
 *          process replaces description of a random employee of EMPLOYEEFILE at that rate.
 *          Prints reads (n), reads_per_s, median_ms (p50), p99_ms and max_ms over all reads,
 *          and writes done.
 *   client readall -H URI [-D DN -w PW] [-t SEC] GROUPBASE OUTFILE
 *          reads `member` of every entry one level below GROUPBASE, one base read each, and
 *          writes "dn<TAB>count<TAB>digest" per group (digest of the sorted, lower-cased
 *          member DNs), sorted by DN, so two servers' files can be compared with cmp.
 *
 * Budget (-B, default 60 s, per server): a workload stops repeating once its samples (and
 * warm-ups) have taken that long; a warm-up that alone takes more than a quarter of the
 * budget counts as a sample (nothing is cached by a run that slow).  The count of samples is printed as n=.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <lber.h>
#include <ldap.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *bind_dn, *bind_pw, *write_dn, *write_pw, *modify_dn, *count_attr;
static const char *modify_attr = "description", *modify_values, *prebind_dn, *prebind_pw;
static const char *employee_file;
static int reps = 5, warmups = 0, readers = 8;
static double timeout_s = 120, budget_s = 60, load_s = 10, write_rate = 0;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    char buf[1024];
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (*p == '\'' || *p == '\n')
            *p = ' ';
    printf("status=error n=0 error='%s'\n", buf);
    fflush(stdout);
    exit(1);
}

static LDAP *connect_bind(const char *uri, const char *dn, const char *pw)
{
    LDAP *ld = NULL;
    int v3 = LDAP_VERSION3, rc;
    struct timeval ntv = { 10, 0 };
    struct berval cred;

    if ((rc = ldap_initialize(&ld, uri)) != LDAP_SUCCESS)
        fail("ldap_initialize %s: %s", uri, ldap_err2string(rc));
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &ntv);
    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
    cred.bv_val = (char *)(pw ? pw : "");
    cred.bv_len = strlen(cred.bv_val);
    rc = ldap_sasl_bind_s(ld, dn ? dn : "", LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    if (rc != LDAP_SUCCESS) {
        ldap_unbind_ext_s(ld, NULL, NULL);
        return NULL;
    }
    return ld;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *status, double *samples, int n, long entries, long values,
                   const char *extra)
{
    double s[1024];
    printf("status=%s n=%d", status, n);
    if (n > 0) {
        memcpy(s, samples, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmp_double);
        double med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        printf(" min_ms=%.3f median_ms=%.3f max_ms=%.3f", s[0] * 1e3, med * 1e3, s[n - 1] * 1e3);
        printf(" samples_ms=");
        for (int i = 0; i < n; i++)
            printf("%s%.3f", i ? "," : "", samples[i] * 1e3);
    }
    printf(" entries=%ld values=%ld timeout_s=%g", entries, values, timeout_s);
    if (extra)
        printf(" %s", extra);
    printf("\n");
    fflush(stdout);
}

/* ---- search ---------------------------------------------------------------------------------- */

typedef struct search_req {
    const char *base;
    int scope;
    const char *filter;
    char **attrs;
} search_req;

enum { S_OK = 0, S_TIMEOUT = 1, S_ERROR = 2 };

/* One timed search. *elapsed is the time to the final result; entries and count_attr values
 * are counted after the clock stops. */
static int timed_search(LDAP *ld, const search_req *q, double *elapsed, long *entries,
                        long *values, char *err, size_t errlen)
{
    LDAPMessage **msgs = NULL;
    size_t nmsgs = 0, cap = 0;
    int msgid, rc, status = S_OK;
    double t0 = now_s(), deadline = t0 + timeout_s;

    *entries = *values = 0;
    rc = ldap_search_ext(ld, q->base, q->scope, q->filter, q->attrs, 0, NULL, NULL, NULL,
                         LDAP_NO_LIMIT, &msgid);
    if (rc != LDAP_SUCCESS) {
        snprintf(err, errlen, "search: %s", ldap_err2string(rc));
        return S_ERROR;
    }
    for (;;) {
        LDAPMessage *m = NULL;
        double left = deadline - now_s();
        if (left <= 0) {
            status = S_TIMEOUT;
            break;
        }
        struct timeval tv = { (time_t)left, (suseconds_t)((left - (double)(time_t)left) * 1e6) };
        rc = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &m);
        if (rc == 0) {
            status = S_TIMEOUT;
            break;
        }
        if (rc < 0) {
            int e = 0;
            ldap_get_option(ld, LDAP_OPT_RESULT_CODE, &e);
            snprintf(err, errlen, "ldap_result: %s", ldap_err2string(e));
            status = S_ERROR;
            break;
        }
        if (rc == LDAP_RES_SEARCH_RESULT) {
            int code = LDAP_OTHER;
            char *text = NULL;
            *elapsed = now_s() - t0;
            ldap_parse_result(ld, m, &code, NULL, &text, NULL, NULL, 1);
            if (code != LDAP_SUCCESS) {
                snprintf(err, errlen, "%s%s%s", ldap_err2string(code), text && *text ? ": " : "",
                         text ? text : "");
                status = S_ERROR;
            }
            ldap_memfree(text);
            break;
        }
        if (rc == LDAP_RES_SEARCH_ENTRY) {
            if (nmsgs == cap) {
                cap = cap ? cap * 2 : 256;
                msgs = realloc(msgs, cap * sizeof *msgs);
                if (msgs == NULL)
                    fail("out of memory");
            }
            msgs[nmsgs++] = m;
        } else {
            ldap_msgfree(m);   /* references, intermediate responses */
        }
    }
    if (status == S_TIMEOUT) {
        ldap_abandon_ext(ld, msgid, NULL, NULL);
        snprintf(err, errlen, "no result within %g s", timeout_s);
    }
    for (size_t i = 0; i < nmsgs; i++) {
        if (status == S_OK) {
            (*entries)++;
            if (count_attr) {
                struct berval **v = ldap_get_values_len(ld, msgs[i], count_attr);
                *values += ldap_count_values_len(v);
                ldap_value_free_len(v);
            }
        }
        ldap_msgfree(msgs[i]);
    }
    free(msgs);
    return status;
}

/* the counter-th of the comma-separated -v values (counter < 0: the last one) */
static void nth_value(char *buf, size_t len, long counter)
{
    long n = 1;
    for (const char *p = modify_values; *p; p++)
        n += *p == ',';
    long k = counter < 0 ? n - 1 : counter % n;
    const char *p = modify_values;
    for (; k > 0; k--)
        p = strchr(p, ',') + 1;
    size_t l = strcspn(p, ",");
    snprintf(buf, len, "%.*s", (int)(l < len ? l : len - 1), p);
}

static void modify_entry(LDAP *w, const char *dn, const char *attr, const char *value)
{
    char *vals[] = { (char *)value, NULL };
    LDAPMod mod = { LDAP_MOD_REPLACE, (char *)attr, { .modv_strvals = vals } };
    LDAPMod *mods[] = { &mod, NULL };
    int rc = ldap_modify_ext_s(w, dn, mods, NULL, NULL);
    if (rc != LDAP_SUCCESS)
        fail("modify %s: %s", dn, ldap_err2string(rc));
}

static void modify_once(LDAP *w, long counter)
{
    char val[256];

    if (modify_values)
        nth_value(val, sizeof val, counter);
    else
        snprintf(val, sizeof val, "bench touch %ld.%ld", (long)getpid(), counter);
    modify_entry(w, modify_dn, modify_attr, val);
}

static char **read_lines(const char *path, size_t *n);

/* a simple bind on an open connection, as a client that authenticates a user does: as
 * prebind_dn, or as the counter-th DN of the file it names (@FILE) */
static void bind_once(LDAP *b, long counter)
{
    static char **dns;
    static size_t ndns;
    const char *dn = prebind_dn;
    struct berval cred = { strlen(prebind_pw), (char *)prebind_pw };

    if (prebind_dn[0] == '@') {
        if (dns == NULL)
            dns = read_lines(prebind_dn + 1, &ndns);
        dn = dns[(size_t)counter % ndns];
    }
    int rc = ldap_sasl_bind_s(b, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
    if (rc != LDAP_SUCCESS)
        fail("bind as %s: %s", dn, ldap_err2string(rc));
}

/* "a,b,c" as a NULL-terminated array (for -A) */
static char **split_commas(const char *list)
{
    size_t n = 2;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    char **v = calloc(n, sizeof *v), *copy = strdup(list), *save = NULL;
    if (v == NULL || copy == NULL)
        fail("out of memory");
    n = 0;
    for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save))
        v[n++] = a;
    return v;
}

static int parse_scope(const char *s)
{
    if (!strcmp(s, "base"))
        return LDAP_SCOPE_BASE;
    if (!strcmp(s, "one"))
        return LDAP_SCOPE_ONELEVEL;
    if (!strcmp(s, "sub"))
        return LDAP_SCOPE_SUBTREE;
    fail("scope must be base, one or sub, not %s", s);
    return -1;
}

/* ---- interleaved samples on several servers ------------------------------------------------ */

/* A server a search or compare is timed on (-H; several -H take their samples in turn), with
 * its own connections, samples and outcome. */
#define MAX_TARGETS 4

typedef struct target {
    const char *uri;
    const char *filter;      /* -F after this -H: its own filter (default: the positional one) */
    char **attrs;            /* -A after this -H: its own attributes, NULL-terminated */
    LDAP *ld, *w, *b;        /* reader, writer (-m), binder (-b) */
    double samples[1024];
    int n, status, warm;
    long entries, values, touches, binds;
    char err[1024];
} target;

static target targets[MAX_TARGETS];
static int ntargets;

/* what one sample does on a target: S_OK with *elapsed, or S_TIMEOUT / S_ERROR with t->err */
typedef int (*sample_fn)(target *t, void *arg, double *elapsed);

static void open_target(target *t)
{
    if ((t->ld = connect_bind(t->uri, bind_dn, bind_pw)) == NULL)
        fail("bind as %s on %s failed", bind_dn ? bind_dn : "anonymous", t->uri);
    if (modify_dn && (t->w = connect_bind(t->uri, write_dn, write_pw)) == NULL)
        fail("bind as %s on %s failed", write_dn ? write_dn : "anonymous", t->uri);
    if (prebind_dn && prebind_pw == NULL)
        fail("-b needs -p");
    if (prebind_dn && (t->b = connect_bind(t->uri, NULL, NULL)) == NULL)
        fail("anonymous bind on %s failed", t->uri);
}

static void close_target(target *t)
{
    if (t->w && modify_values && t->status == S_OK)
        modify_once(t->w, -1);   /* back to the entry's own value */
    if (t->w)
        ldap_unbind_ext_s(t->w, NULL, NULL);
    if (t->b)
        ldap_unbind_ext_s(t->b, NULL, NULL);
    ldap_unbind_ext_s(t->ld, NULL, NULL);
}

/* One step on a target: the untimed write and bind (-m, -b) that precede every sample, then
 * the timed operation.  A failed target takes no more steps. */
static int step(target *t, sample_fn fn, void *arg, double *elapsed)
{
    if (t->w)
        modify_once(t->w, t->touches++);
    if (t->b)
        bind_once(t->b, t->binds++);
    t->status = fn(t, arg, elapsed);
    return t->status == S_OK;
}

static int wanted(const target *t, double start, double budget)
{
    return t->status == S_OK && t->n < reps && (t->n == 0 || now_s() - start < budget);
}

/* Warm-ups, then samples, one of each target in turn, the first of a round moving on by one
 * from round to round: a slow phase of the machine falls on every server's samples alike.
 * The budget (-B) is per server. */
static void sample_targets(sample_fn fn, void *arg)
{
    double start = now_s(), budget = budget_s * ntargets, el;

    for (int i = 0; i < warmups; i++)
        for (int j = 0; j < ntargets; j++) {
            target *t = &targets[(i + j) % ntargets];
            if (t->status != S_OK || t->warm)
                continue;
            if (step(t, fn, arg, &el) && el > budget_s / 4) {
                t->samples[t->n++] = el;   /* too slow to need warming: keep it as a sample */
                t->warm = 1;
            }
        }
    for (int round = 0;; round++) {
        int any = 0;
        for (int j = 0; j < ntargets; j++) {
            target *t = &targets[(round + j) % ntargets];
            if (!wanted(t, start, budget))
                continue;
            any = 1;
            if (step(t, fn, arg, &el))
                t->samples[t->n++] = el;
        }
        if (!any)
            break;
    }
}

/* One result line per target, in the order of the -H options; a timeout is a result
 * (">timeout"), an error ends that target's workload with its message.  Non-zero when any
 * target failed. */
static int report_targets(void)
{
    int failed = 0;

    for (int k = 0; k < ntargets; k++) {
        target *t = &targets[k];
        char extra[1100];
        if (t->status == S_OK) {
            report("ok", t->samples, t->n, t->entries, t->values, NULL);
            continue;
        }
        if (t->status == S_TIMEOUT) {
            report("timeout", t->samples, t->n, 0, 0, NULL);
            continue;
        }
        for (char *p = t->err; *p; p++)
            if (*p == '\'' || *p == '\n' || *p == ' ')
                *p = '_';
        snprintf(extra, sizeof extra, "error='%s'", t->err);
        report("error", t->samples, t->n, 0, 0, extra);
        failed = 1;
    }
    return failed;
}

/* The whole of a search or compare: every target connected, sampled, reported, closed */
static int time_targets(sample_fn fn, void *arg)
{
    for (int k = 0; k < ntargets; k++)
        open_target(&targets[k]);
    sample_targets(fn, arg);
    int failed = report_targets();
    for (int k = 0; k < ntargets; k++)
        close_target(&targets[k]);
    return failed;
}

static int search_sample(target *t, void *arg, double *elapsed)
{
    search_req q = *(const search_req *)arg;

    if (t->filter)
        q.filter = t->filter;
    if (t->attrs)
        q.attrs = t->attrs;
    return timed_search(t->ld, &q, elapsed, &t->entries, &t->values, t->err, sizeof t->err);
}

static int cmd_search(int argc, char **argv)
{
    search_req q;

    if (argc < 3)
        fail("search: BASE SCOPE FILTER [ATTR...]");
    q.base = argv[0];
    q.scope = parse_scope(argv[1]);
    q.filter = argv[2];
    q.attrs = NULL;
    if (argc > 3 && !(argc == 4 && !strcmp(argv[3], "*")))
        q.attrs = argv + 3;   /* argv is NULL-terminated */
    return time_targets(search_sample, &q);
}

/* ---- add ------------------------------------------------------------------------------------- */

static char **read_lines(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    char **v = NULL, line[2048];
    size_t cap = 0;

    *n = 0;
    if (f == NULL)
        fail("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            v = realloc(v, cap * sizeof *v);
            if (v == NULL)
                fail("out of memory");
        }
        v[(*n)++] = strdup(line);
    }
    fclose(f);
    if (*n == 0)
        fail("%s: no lines", path);
    return v;
}

static int cmd_add(int argc, char **argv)
{
    static const char *const titles[] = { "Engineer", "Analyst", "Manager", "Designer", "Director" };
    static const char *const locs[] = { "Berlin", "Paris", "London", "Tokyo" };
    double samples[1024];
    int n = 0;
    size_t nteams;
    LDAP *w;

    if (argc != 3)
        fail("add: TEAMSFILE COUNT DOMAIN");
    char **teams = read_lines(argv[0], &nteams);
    long count = strtol(argv[1], NULL, 10);
    const char *domain = argv[2];
    if (count < 1 || count > 1000000)
        fail("add: COUNT from 1 to 1000000");
    if ((w = connect_bind(targets[0].uri, write_dn, write_pw)) == NULL)
        fail("bind as %s failed", write_dn ? write_dn : "anonymous");
    char **dns = calloc((size_t)count, sizeof *dns);
    if (dns == NULL)
        fail("out of memory");

    double start = now_s();
    while (n < reps && (n == 0 || now_s() - start < budget_s)) {
        double t0 = now_s();
        for (long i = 0; i < count; i++) {
            char uid[64], cn[80], dn[2300], mail[200];
            snprintf(uid, sizeof uid, "n%ldr%di%ld", (long)getpid(), n, i);
            snprintf(cn, sizeof cn, "New %s", uid);
            snprintf(mail, sizeof mail, "%s@%s", uid, domain);
            snprintf(dn, sizeof dn, "uid=%s,%s", uid, teams[(size_t)i % nteams]);
            char *oc[] = { "inetOrgPerson", NULL }, *u[] = { uid, NULL }, *c[] = { cn, NULL },
                 *s[] = { uid, NULL }, *ma[] = { mail, NULL },
                 *t[] = { (char *)titles[i % 5], NULL }, *l[] = { (char *)locs[(i / 5) % 4], NULL };
            LDAPMod m[] = {
                { LDAP_MOD_ADD, "objectClass", { .modv_strvals = oc } },
                { LDAP_MOD_ADD, "uid", { .modv_strvals = u } },
                { LDAP_MOD_ADD, "cn", { .modv_strvals = c } },
                { LDAP_MOD_ADD, "sn", { .modv_strvals = s } },
                { LDAP_MOD_ADD, "mail", { .modv_strvals = ma } },
                { LDAP_MOD_ADD, "title", { .modv_strvals = t } },
                { LDAP_MOD_ADD, "l", { .modv_strvals = l } },
            };
            LDAPMod *mods[] = { &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &m[6], NULL };
            if (now_s() - t0 > timeout_s) {
                report("timeout", samples, n, 0, 0, NULL);
                return 0;
            }
            int rc = ldap_add_ext_s(w, dn, mods, NULL, NULL);
            if (rc != LDAP_SUCCESS)
                fail("add %s: %s", dn, ldap_err2string(rc));
            dns[i] = strdup(dn);
        }
        samples[n++] = now_s() - t0;
        for (long i = 0; i < count; i++) {   /* untimed: back to the loaded state */
            int rc = ldap_delete_ext_s(w, dns[i], NULL, NULL);
            if (rc != LDAP_SUCCESS)
                fail("delete %s: %s", dns[i], ldap_err2string(rc));
            free(dns[i]);
            dns[i] = NULL;
        }
    }
    report("ok", samples, n, count, 0, NULL);
    ldap_unbind_ext_s(w, NULL, NULL);
    return 0;
}

/* ---- compare --------------------------------------------------------------------------------- */

/* One timed compare: S_OK (t->entries 1 for compareTrue, 0 for compareFalse), or S_TIMEOUT /
 * S_ERROR. */
static int compare_sample(target *t, void *arg, double *elapsed)
{
    char **ava = arg;   /* DN, ATTR, VALUE */
    struct berval bv = { strlen(ava[2]), ava[2] };
    struct timeval tv = { (time_t)timeout_s, 0 };
    LDAPMessage *m = NULL;
    int msgid, code = LDAP_OTHER;
    double t0 = now_s();

    int rc = ldap_compare_ext(t->ld, ava[0], ava[1], &bv, NULL, NULL, &msgid);
    if (rc != LDAP_SUCCESS) {
        snprintf(t->err, sizeof t->err, "compare: %s", ldap_err2string(rc));
        return S_ERROR;
    }
    rc = ldap_result(t->ld, msgid, LDAP_MSG_ALL, &tv, &m);
    *elapsed = now_s() - t0;
    if (rc == 0) {
        ldap_abandon_ext(t->ld, msgid, NULL, NULL);
        snprintf(t->err, sizeof t->err, "no result within %g s", timeout_s);
        return S_TIMEOUT;
    }
    if (rc < 0 || ldap_parse_result(t->ld, m, &code, NULL, NULL, NULL, NULL, 1) != LDAP_SUCCESS) {
        snprintf(t->err, sizeof t->err, "compare: no result");
        return S_ERROR;
    }
    if (code != LDAP_COMPARE_TRUE && code != LDAP_COMPARE_FALSE) {
        snprintf(t->err, sizeof t->err, "compare: %s", ldap_err2string(code));
        return S_ERROR;
    }
    t->entries = code == LDAP_COMPARE_TRUE;
    return S_OK;
}

static int cmd_compare(int argc, char **argv)
{
    if (argc != 3)
        fail("compare: DN ATTR VALUE");
    return time_targets(compare_sample, argv);
}

/* ---- load: concurrent readers, an optional writer ---------------------------------------------- */

/* A reader: base reads of `member` of random groups until the deadline; every latency (in
 * seconds, as a double) goes to out.  Exits non-zero on the first failure. */
static int load_reader(char **groups, size_t ngroups, unsigned seed, double deadline, FILE *out)
{
    char *attrs[] = { "member", NULL };
    char err[1024];
    LDAP *ld = connect_bind(targets[0].uri, bind_dn, bind_pw);

    if (ld == NULL)
        return 1;
    count_attr = NULL;
    while (now_s() < deadline) {
        search_req q = { groups[rand_r(&seed) % ngroups], LDAP_SCOPE_BASE, "(objectClass=*)", attrs };
        double el = 0;
        long e, v;
        if (timed_search(ld, &q, &el, &e, &v, err, sizeof err) != S_OK) {
            fprintf(stderr, "client load: %s: %s\n", q.base, err);
            return 1;
        }
        fwrite(&el, sizeof el, 1, out);
    }
    ldap_unbind_ext_s(ld, NULL, NULL);
    return fflush(out) != 0;
}

/* The writer: description of a random employee replaced write_rate times a second, on a fixed
 * schedule (a late write is not made up by a burst); the count of writes goes to out. */
static int load_writer(char **emps, size_t nemps, double deadline, FILE *out)
{
    LDAP *w = connect_bind(targets[0].uri, write_dn, write_pw);
    unsigned seed = 4711;
    long done = 0;
    double next = now_s();

    if (w == NULL)
        return 1;
    while (now_s() < deadline) {
        char val[64];
        snprintf(val, sizeof val, "bench load %ld", done);
        modify_entry(w, emps[rand_r(&seed) % nemps], "description", val);
        done++;
        next += 1 / write_rate;
        double wait = next - now_s();
        if (wait > 0) {
            struct timespec ts = { (time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9) };
            nanosleep(&ts, NULL);
        } else {
            next = now_s();
        }
    }
    fwrite(&done, sizeof done, 1, out);
    ldap_unbind_ext_s(w, NULL, NULL);
    return fflush(out) != 0;
}

static double percentile(const double *sorted, size_t n, double p)
{
    size_t k = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[k < n ? k : n - 1];
}

static int cmd_load(int argc, char **argv)
{
    size_t ngroups, nemps = 0;
    char **emps = NULL;
    FILE *outs[65];
    pid_t pids[65];
    int nproc = 0, failed = 0;

    if (argc != 1)
        fail("load: GROUPFILE");
    if (readers < 1 || readers > 64)
        fail("load: -P from 1 to 64");
    char **groups = read_lines(argv[0], &ngroups);
    if (write_rate > 0) {
        if (employee_file == NULL)
            fail("load: -r needs -M EMPLOYEEFILE");
        emps = read_lines(employee_file, &nemps);
    }
    double start = now_s() + 0.2, deadline = start + load_s;   /* all start together */
    for (int i = 0; i < readers + (write_rate > 0); i++) {
        if ((outs[i] = tmpfile()) == NULL)
            fail("tmpfile: %s", strerror(errno));
        fflush(stdout);
        if ((pids[i] = fork()) < 0)
            fail("fork: %s", strerror(errno));
        if (pids[i] == 0) {
            double wait = start - now_s();
            if (wait > 0) {
                struct timespec ts = { 0, (long)(wait * 1e9) };
                nanosleep(&ts, NULL);
            }
            _exit(i < readers ? load_reader(groups, ngroups, 1000u + (unsigned)i, deadline, outs[i])
                              : load_writer(emps, nemps, deadline, outs[i]));
        }
        nproc++;
    }
    for (int i = 0; i < nproc; i++) {
        int st;
        if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed = 1;
    }
    double elapsed = now_s() - start;
    if (failed)
        fail("load: a reader or the writer failed (see its message above)");

    size_t n = 0, cap = 1 << 16;
    long writes = 0;
    double *lat = malloc(cap * sizeof *lat), x;
    if (lat == NULL)
        fail("out of memory");
    for (int i = 0; i < nproc; i++) {
        rewind(outs[i]);
        if (i >= readers) {
            if (fread(&writes, sizeof writes, 1, outs[i]) != 1)
                fail("load: the writer's count is missing");
        } else {
            while (fread(&x, sizeof x, 1, outs[i]) == 1) {
                if (n == cap && (lat = realloc(lat, (cap *= 2) * sizeof *lat)) == NULL)
                    fail("out of memory");
                lat[n++] = x;
            }
        }
        fclose(outs[i]);
    }
    if (n == 0)
        fail("load: no read finished");
    qsort(lat, n, sizeof *lat, cmp_double);
    printf("status=ok n=%zu reads_per_s=%.1f min_ms=%.3f median_ms=%.3f p99_ms=%.3f max_ms=%.3f "
           "entries=%zu values=0 writes=%ld writes_per_s=%.1f readers=%d seconds=%.1f timeout_s=%g\n",
           n, (double)n / elapsed, lat[0] * 1e3, percentile(lat, n, 0.5) * 1e3,
           percentile(lat, n, 0.99) * 1e3, lat[n - 1] * 1e3, n, writes, (double)writes / elapsed,
           readers, elapsed, timeout_s);
    free(lat);
    return 0;
}

/* ---- readall --------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct group_line {
    char *dn;
    long count;
    uint64_t digest;
} group_line;

static int cmp_line(const void *a, const void *b)
{
    return strcmp(((const group_line *)a)->dn, ((const group_line *)b)->dn);
}

static char *lower_dup(const char *s)
{
    char *d = strdup(s);
    for (char *p = d; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static int cmd_readall(int argc, char **argv)
{
    LDAP *ld;
    LDAPMessage *res = NULL, *e;
    struct timeval tv = { (time_t)timeout_s, 0 };
    char *noattrs[] = { LDAP_NO_ATTRS, NULL }, *memberattr[] = { "member", NULL };
    long total_values = 0;

    if (argc != 2)
        fail("readall: GROUPBASE OUTFILE");
    if ((ld = connect_bind(targets[0].uri, bind_dn, bind_pw)) == NULL)
        fail("bind as %s failed", bind_dn ? bind_dn : "anonymous");
    int rc = ldap_search_ext_s(ld, argv[0], LDAP_SCOPE_ONELEVEL, "(objectClass=*)", noattrs, 0,
                               NULL, NULL, &tv, LDAP_NO_LIMIT, &res);
    if (rc != LDAP_SUCCESS)
        fail("listing %s: %s", argv[0], ldap_err2string(rc));
    int ng = ldap_count_entries(ld, res);
    group_line *lines = calloc((size_t)(ng > 0 ? ng : 1), sizeof *lines);
    int k = 0;
    for (e = ldap_first_entry(ld, res); e; e = ldap_next_entry(ld, e)) {
        char *dn = ldap_get_dn(ld, e);
        lines[k++].dn = lower_dup(dn);
        ldap_memfree(dn);
    }
    ldap_msgfree(res);

    double t0 = now_s();
    for (int i = 0; i < ng; i++) {
        LDAPMessage *r = NULL;
        if (now_s() - t0 > timeout_s * 4) {   /* the whole pass is bounded too */
            printf("status=timeout n=0 groups_read=%d timeout_s=%g\n", i, timeout_s * 4);
            return 0;
        }
        rc = ldap_search_ext_s(ld, lines[i].dn, LDAP_SCOPE_BASE, "(objectClass=*)", memberattr, 0,
                               NULL, NULL, &tv, LDAP_NO_LIMIT, &r);
        if (rc == LDAP_TIMEOUT) {
            printf("status=timeout n=0 groups_read=%d timeout_s=%g\n", i, timeout_s);
            return 0;
        }
        if (rc != LDAP_SUCCESS)
            fail("reading %s: %s", lines[i].dn, ldap_err2string(rc));
        e = ldap_first_entry(ld, r);
        struct berval **v = e ? ldap_get_values_len(ld, e, "member") : NULL;
        int nv = ldap_count_values_len(v);
        char **s = calloc((size_t)nv + 1, sizeof *s);
        for (int j = 0; j < nv; j++) {
            s[j] = malloc(v[j]->bv_len + 1);
            for (ber_len_t c = 0; c < v[j]->bv_len; c++)
                s[j][c] = (char)tolower((unsigned char)v[j]->bv_val[c]);
            s[j][v[j]->bv_len] = '\0';
        }
        qsort(s, (size_t)nv, sizeof *s, cmp_str);
        uint64_t h = 1469598103934665603ULL;   /* FNV-1a over "dn\n" of each member */
        for (int j = 0; j < nv; j++) {
            for (const char *p = s[j]; *p; p++)
                h = (h ^ (unsigned char)*p) * 1099511628211ULL;
            h = (h ^ '\n') * 1099511628211ULL;
            free(s[j]);
        }
        free(s);
        ldap_value_free_len(v);
        ldap_msgfree(r);
        lines[i].count = nv;
        lines[i].digest = h;
        total_values += nv;
    }
    double el = now_s() - t0;
    qsort(lines, (size_t)ng, sizeof *lines, cmp_line);
    FILE *f = fopen(argv[1], "w");
    if (f == NULL)
        fail("%s: %s", argv[1], strerror(errno));
    for (int i = 0; i < ng; i++)
        fprintf(f, "%s\t%ld\t%016llx\n", lines[i].dn, lines[i].count,
                (unsigned long long)lines[i].digest);
    if (fclose(f) != 0)
        fail("%s: write failed", argv[1]);
    printf("status=ok n=1 min_ms=%.3f median_ms=%.3f max_ms=%.3f entries=%d values=%ld timeout_s=%g\n",
           el * 1e3, el * 1e3, el * 1e3, ng, total_values, timeout_s);
    ldap_unbind_ext_s(ld, NULL, NULL);
    return 0;
}

/* ---- freeport, ping -------------------------------------------------------------------------- */

static int cmd_freeport(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0
        || getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        fail("freeport: %s", strerror(errno));
    printf("%d\n", ntohs(a.sin_port));
    close(fd);
    return 0;
}

static int cmd_ping(void)
{
    double deadline = now_s() + timeout_s;
    while (now_s() < deadline) {
        LDAP *ld = connect_bind(targets[0].uri, NULL, NULL);
        if (ld) {
            LDAPMessage *r = NULL;
            struct timeval tv = { 2, 0 };
            char *attrs[] = { "namingContexts", NULL };
            int rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL,
                                       NULL, &tv, LDAP_NO_LIMIT, &r);
            ldap_msgfree(r);
            ldap_unbind_ext_s(ld, NULL, NULL);
            if (rc == LDAP_SUCCESS) {
                printf("status=ok\n");
                return 0;
            }
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    printf("status=timeout\n");
    return 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = { { 0, 0, 0, 0 } };
    int c;

    if (argc < 2) {
        fprintf(stderr, "usage: client freeport|ping|search|compare|add|load|readall [options] ...\n");
        return 2;
    }
    const char *cmd = argv[1];
    argv++;
    argc--;
    while ((c = getopt_long(argc, argv, "+H:F:A:D:w:W:X:n:u:t:B:m:c:a:v:b:p:P:d:r:M:", opts, NULL)) != -1) {
        switch (c) {
        case 'H':
            if (ntargets == MAX_TARGETS)
                fail("at most %d -H", MAX_TARGETS);
            targets[ntargets++].uri = optarg;
            break;
        case 'F':
        case 'A':
            if (ntargets == 0)
                fail("-%c applies to the -H before it", c);
            if (c == 'F')
                targets[ntargets - 1].filter = optarg;
            else
                targets[ntargets - 1].attrs = split_commas(optarg);
            break;
        case 'D': bind_dn = *optarg ? optarg : NULL; break;
        case 'w': bind_pw = optarg; break;
        case 'W': write_dn = optarg; break;
        case 'X': write_pw = optarg; break;
        case 'n': reps = atoi(optarg); break;
        case 'u': warmups = atoi(optarg); break;
        case 't': timeout_s = atof(optarg); break;
        case 'B': budget_s = atof(optarg); break;
        case 'm': modify_dn = optarg; break;
        case 'c': count_attr = optarg; break;
        case 'a': modify_attr = optarg; break;
        case 'v': modify_values = optarg; break;
        case 'b': prebind_dn = optarg; break;
        case 'p': prebind_pw = optarg; break;
        case 'P': readers = atoi(optarg); break;
        case 'd': load_s = atof(optarg); break;
        case 'r': write_rate = atof(optarg); break;
        case 'M': employee_file = optarg; break;
        default: return 2;
        }
    }
    argv += optind;
    argc -= optind;
    if (reps < 1)
        reps = 1;
    if (reps > 1000)
        reps = 1000;
    if (!strcmp(cmd, "freeport"))
        return cmd_freeport();
    if (ntargets == 0)
        fail("-H URI is required");
    if (ntargets > 1 && strcmp(cmd, "search") && strcmp(cmd, "compare"))
        fail("%s: one -H only", cmd);
    if (!strcmp(cmd, "ping"))
        return cmd_ping();
    if (!strcmp(cmd, "search"))
        return cmd_search(argc, argv);
    if (!strcmp(cmd, "add"))
        return cmd_add(argc, argv);
    if (!strcmp(cmd, "compare"))
        return cmd_compare(argc, argv);
    if (!strcmp(cmd, "load"))
        return cmd_load(argc, argv);
    if (!strcmp(cmd, "readall"))
        return cmd_readall(argc, argv);
    fail("unknown command %s", cmd);
    return 2;
}
