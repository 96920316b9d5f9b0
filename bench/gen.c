/*
 * gen.c -- deterministic data generator for the slapo-dynmailgroup benchmark (bench/run.sh).
 *
 *   gen [--divisions D] [--departments P] [--teams T] [--per-team N] [--groups G]
 *       [--suffix DN] [--domain DOMAIN] --out DIR
 *
 * Defaults: 10 x 10 x 10 x 100 = 100,000 employees, 1,000 groups.  Writes into DIR:
 *
 *   base.ldif          suffix, ou=System (the MTA account), ou=Groups, the division /
 *                      department / team tree and every employee (inetOrgPerson with mail,
 *                      title, l) -- loaded into all three databases
 *   groups-static.ldif groupOfNames + extensibleObject, member values written out
 *   groups-dynlist.ldif groupOfURLs + extensibleObject,
 *                      memberURL ldap:///<dept>??sub?(&(objectClass=inetOrgPerson)<cond>)
 *   groups-dmg.ldif    dynamicMailGroup with dmgDepartment (+ dmgCondition)
 *   teams.txt          one team DN a line (where the add workload puts new employees)
 *   employees.txt      1,000 employee DNs spread evenly (the writer of the mixed load)
 *   bench.env          shell assignments the runner sources (DNs and addresses it queries)
 *   groups.txt         group name, kind, size: the generator's own member count per group
 *
 * The three group flavours state one rule each: every group names one department subtree
 * (a division, a department or a team) and at most one condition on title or l; the static
 * flavour's member values are computed here from that same rule (members = inetOrgPerson
 * entries below the subtree that satisfy the condition), so all three define the same sets.
 * bench/run.sh checks that on the running servers (it reads every group from each).
 *
 * Group mix (G groups): one group per division (up to G/100 of them), one per department (up
 * to G/10), and the rest split evenly between department + title groups and team + location
 * groups.  Kinds are interleaved evenly over the names g00000, g00001, ... so that any
 * prefix of the names (the benchmark reads "g000*", the first 100) holds the same mix.
 * The first division group is "the big group": dmgSendPolicy members (dmg flavour) and the
 * condition (!(title=Intern)), which every generated employee meets, so that a write can drop
 * a member and put it back.  Every tenth employee of a team (the first included) has
 * userPassword "secret": the identities that bind in the benchmark, listed in
 * binders-member.txt (members of the big group) and binders-outside.txt (others), up to 200
 * each.
 *
 * Two more groups, named x* so that they stay out of "g000*": xover, a division (or, with one
 * division, a department) with about 100 dmgIncludeMember employees from elsewhere and 100
 * dmgExcludeMember of its own; xnested, including the first two department groups by their
 * DNs.  The static flavour holds the resulting lists; dynlist states the overrides as uid
 * filters in two memberURLs, and the nesting as one memberURL per included group's rule.
 *
 * Output depends only on the parameters.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* DNs are built from the suffix (at most 200 characters, checked) and short fixed pieces: the
 * 512- and 1024-byte buffers cannot overflow, whatever GCC's range analysis assumes. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static const char *const TITLES[] = { "Engineer", "Analyst", "Manager", "Designer", "Director" };
static const char *const LOCS[] = { "Berlin", "Paris", "London", "Tokyo" };
#define NTITLES ((long)(sizeof TITLES / sizeof TITLES[0]))
#define NLOCS ((long)(sizeof LOCS / sizeof LOCS[0]))

enum kind { K_DIVISION, K_DEPARTMENT, K_DEPT_TITLE, K_TEAM_LOC, K_COUNT };
static const char *const KIND_NAMES[] = { "division", "department", "department+title",
                                          "team+location" };

typedef struct group {
    enum kind kind;
    long k;         /* index within its kind */
    long scope;     /* division, global department or global team index */
    int title;      /* -1 = no title condition */
    int loc;        /* -1 = no location condition */
    double order;   /* position of the group in the interleaved naming order */
    long name;      /* its number: g%05ld */
    long size;      /* member count (computed) */
} group;

static long D = 10, P = 10, T = 10, N = 100, G = 1000;
static const char *suffix = "dc=example,dc=com";
static const char *domain = "example.com";
static const char *outdir;
static int wd, wp, wt;  /* name widths */

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("gen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static FILE *out_open(const char *name)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", outdir, name) >= (int)sizeof path)
        die("path too long");
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    return f;
}

static void out_close(FILE *f, const char *name)
{
    if (ferror(f) || fclose(f) != 0)
        die("writing %s failed", name);
}

static int width(long n)
{
    int w = 1;
    for (long m = n > 1 ? n - 1 : 0; m >= 10; m /= 10)
        w++;
    return w < 2 ? 2 : w;
}

/* The attributes of employee j within its team: titles cycle fastest, locations by blocks of
 * NTITLES, so every title and every location (as far as the team is large enough) occurs in
 * every team. */
static int title_of(long j) { return (int)(j % NTITLES); }
static int loc_of(long j) { return (int)((j / NTITLES) % NLOCS); }

/* DN pieces */
static void div_dn(char *b, size_t n, long v)
{
    snprintf(b, n, "ou=div%0*ld,%s", wd, v, suffix);
}
static void dept_dn(char *b, size_t n, long d)
{
    char up[512];
    div_dn(up, sizeof up, d / P);
    snprintf(b, n, "ou=dep%0*ld,%s", wp, d % P, up);
}
static void team_dn(char *b, size_t n, long t)
{
    char up[512];
    dept_dn(up, sizeof up, t / T);
    snprintf(b, n, "ou=team%0*ld,%s", wt, t % T, up);
}
static void emp_dn(char *b, size_t n, long e)
{
    char up[512];
    team_dn(up, sizeof up, e / N);
    snprintf(b, n, "uid=e%07ld,%s", e, up);
}

static void scope_dn(char *b, size_t n, const group *g)
{
    if (g->kind == K_DIVISION)
        div_dn(b, n, g->scope);
    else if (g->kind == K_TEAM_LOC)
        team_dn(b, n, g->scope);
    else
        dept_dn(b, n, g->scope);
}

/* the employees [*lo, *hi) below the group's subtree */
static void scope_range(const group *g, long *lo, long *hi)
{
    long per = g->kind == K_DIVISION ? P * T * N : g->kind == K_TEAM_LOC ? N : T * N;
    *lo = g->scope * per;
    *hi = *lo + per;
}

#define BIG_CONDITION "(!(title=Intern))"
#define OVERRIDES 100

static int is_member(const group *g, long e)
{
    long j = e % N;
    if (g->title >= 0 && title_of(j) != g->title)
        return 0;
    if (g->loc >= 0 && loc_of(j) != g->loc)
        return 0;
    return 1;
}

/* ---- the two extra groups: overrides and nesting ------------------------------------------ */

typedef struct overrides {
    group scope;          /* the rule: a division, or a department with one division */
    long lo, hi;          /* its employees */
    long nexc, ninc;
    long exc[OVERRIDES];  /* employee numbers, ascending */
    long inc[OVERRIDES];
    long size;
} overrides;

static long nemp_all(void) { return D * P * T * N; }

static void overrides_plan(overrides *o)
{
    memset(o, 0, sizeof *o);
    o->scope.title = o->scope.loc = -1;
    if (D > 1) {
        o->scope.kind = K_DIVISION;
        o->scope.scope = 1;
    } else {
        o->scope.kind = K_DEPARTMENT;
        o->scope.scope = P > 1 ? 1 : 0;
    }
    scope_range(&o->scope, &o->lo, &o->hi);
    long size = o->hi - o->lo, outside = nemp_all() - size;
    o->nexc = size / 10 < OVERRIDES ? size / 10 : OVERRIDES;
    for (long k = 0; k < o->nexc; k++)   /* away from the first of a team (they bind) */
        o->exc[k] = o->lo + k * (size / o->nexc) + (size / o->nexc) / 2;
    o->ninc = outside < OVERRIDES ? outside : OVERRIDES;
    for (long k = 0; k < o->ninc; k++) {
        long x = k * (outside / o->ninc) + (outside / o->ninc) / 2;
        o->inc[k] = x < o->lo ? x : x + size;
    }
    o->size = size - o->nexc + o->ninc;
}

static int overrides_excluded(const overrides *o, long e)
{
    for (long k = 0; k < o->nexc; k++)
        if (o->exc[k] == e)
            return 1;
    return 0;
}

static void uid_filter(FILE *f, const long *v, long n)
{
    fputs("(|", f);
    for (long k = 0; k < n; k++)
        fprintf(f, "(uid=e%07ld)", v[k]);
    fputc(')', f);
}

static void write_overrides(FILE *fs, FILE *fl, FILE *fm, FILE *fg, const overrides *o)
{
    char dn[1024], up[1024], m[1024];

    snprintf(dn, sizeof dn, "cn=xover,ou=Groups,%s", suffix);
    scope_dn(up, sizeof up, &o->scope);
    fprintf(fg, "xover\toverrides\t%ld\n", o->size);

    fprintf(fs, "dn: %s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
                "cn: xover\nmail: xover@%s\ndescription: overrides group\n", dn, domain);
    for (long e = o->lo; e < o->hi; e++) {
        if (!overrides_excluded(o, e)) {
            emp_dn(m, sizeof m, e);
            fprintf(fs, "member: %s\n", m);
        }
    }
    for (long k = 0; k < o->ninc; k++) {
        emp_dn(m, sizeof m, o->inc[k]);
        fprintf(fs, "member: %s\n", m);
    }
    fputc('\n', fs);

    /* dynlist has no overrides: the same sets as uid filters in two URLs */
    fprintf(fl, "dn: %s\nobjectClass: groupOfURLs\nobjectClass: extensibleObject\n"
                "cn: xover\nmail: xover@%s\ndescription: overrides group\n"
                "memberURL: ldap:///%s??sub?(&(objectClass=inetOrgPerson)", dn, domain, up);
    if (o->nexc > 0) {
        fputs("(!", fl);
        uid_filter(fl, o->exc, o->nexc);
        fputc(')', fl);
    }
    fputs(")\n", fl);
    if (o->ninc > 0) {
        fprintf(fl, "memberURL: ldap:///%s??sub?(&(objectClass=inetOrgPerson)", suffix);
        uid_filter(fl, o->inc, o->ninc);
        fputs(")\n", fl);
    }
    fputc('\n', fl);

    fprintf(fm, "dn: %s\nobjectClass: dynamicMailGroup\ncn: xover\nmail: xover@%s\n"
                "description: overrides group\ndmgDepartment: %s\n", dn, domain, up);
    for (long k = 0; k < o->ninc; k++) {
        emp_dn(m, sizeof m, o->inc[k]);
        fprintf(fm, "dmgIncludeMember: %s\n", m);
    }
    for (long k = 0; k < o->nexc; k++) {
        emp_dn(m, sizeof m, o->exc[k]);
        fprintf(fm, "dmgExcludeMember: %s\n", m);
    }
    fputc('\n', fm);
}

static int in_group(const group *g, long e)
{
    long lo, hi;
    scope_range(g, &lo, &hi);
    return e >= lo && e < hi && is_member(g, e);
}

/* the group "xnested": the members of a and b (as static: the flattened list) */
static long write_nested(FILE *fs, FILE *fl, FILE *fm, FILE *fg, const group *a, const group *b)
{
    const group *parts[] = { a, b };
    char dn[1024], m[1024];
    long size = 0;

    for (long e = 0; e < nemp_all(); e++)
        size += in_group(a, e) || in_group(b, e);
    snprintf(dn, sizeof dn, "cn=xnested,ou=Groups,%s", suffix);
    fprintf(fg, "xnested\tnested\t%ld\n", size);

    fprintf(fs, "dn: %s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
                "cn: xnested\nmail: xnested@%s\ndescription: nested group\n", dn, domain);
    for (long e = 0; e < nemp_all(); e++) {
        if (in_group(a, e) || in_group(b, e)) {
            emp_dn(m, sizeof m, e);
            fprintf(fs, "member: %s\n", m);
        }
    }
    fputc('\n', fs);

    fprintf(fl, "dn: %s\nobjectClass: groupOfURLs\nobjectClass: extensibleObject\n"
                "cn: xnested\nmail: xnested@%s\ndescription: nested group\n", dn, domain);
    fprintf(fm, "dn: %s\nobjectClass: dynamicMailGroup\ncn: xnested\nmail: xnested@%s\n"
                "description: nested group\n", dn, domain);
    for (int i = 0; i < 2; i++) {
        char up[1024];
        /* dynlist 2.5 nests static groups only: each included group's rule, copied */
        scope_dn(up, sizeof up, parts[i]);
        fprintf(fl, "memberURL: ldap:///%s??sub?(&(objectClass=inetOrgPerson)", up);
        if (parts[i]->title >= 0)
            fprintf(fl, "(title=%s)", TITLES[parts[i]->title]);
        else if (parts[i]->loc >= 0)
            fprintf(fl, "(l=%s)", LOCS[parts[i]->loc]);
        fputs(")\n", fl);
        fprintf(fm, "dmgIncludeMember: cn=g%05ld,ou=Groups,%s\n", parts[i]->name, suffix);
    }
    fputc('\n', fl);
    fputc('\n', fm);
    return size;
}

static long parse_long(const char *opt, const char *v, long min, long max)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || end == v || n < min || n > max)
        die("%s: expected a number from %ld to %ld, got '%s'", opt, min, max, v);
    return n;
}

static int cmp_order(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return (int)x->kind - (int)y->kind;
}

static void usage(void)
{
    fprintf(stderr, "usage: gen [--divisions D] [--departments P] [--teams T] [--per-team N]\n"
                    "           [--groups G] [--suffix DN] [--domain DOMAIN] --out DIR\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--divisions"))
            D = parse_long(a, v, 1, 1000);
        else if (!strcmp(a, "--departments"))
            P = parse_long(a, v, 1, 1000);
        else if (!strcmp(a, "--teams"))
            T = parse_long(a, v, 1, 1000);
        else if (!strcmp(a, "--per-team"))
            N = parse_long(a, v, 1, 100000);
        else if (!strcmp(a, "--groups"))
            G = parse_long(a, v, 4, 100000);
        else if (!strcmp(a, "--suffix")) {
            suffix = v;
            if (strlen(v) > 200 || strchr(v, '=') == NULL)
                die("--suffix: a DN of at most 200 characters");
        }
        else if (!strcmp(a, "--domain")) {
            domain = v;
            if (strlen(v) > 100)
                die("--domain: at most 100 characters");
        }
        else if (!strcmp(a, "--out"))
            outdir = v;
        else
            usage();
    }
    if (outdir == NULL)
        usage();
    if (D * P * T * N > 9999999L)
        die("at most 9,999,999 employees (uids are e%%07ld)");
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST)
        die("%s: %s", outdir, strerror(errno));
    wd = width(D);
    wp = width(P);
    wt = width(T);

    const long ndept = D * P, nteam = D * P * T, nemp = nteam * N;
    const int ntitle_eff = (int)(N < NTITLES ? N : NTITLES);
    const int nloc_eff = (int)((N + NTITLES - 1) / NTITLES < NLOCS ? (N + NTITLES - 1) / NTITLES : NLOCS);

    /* ---- the group mix ---- */
    long count[K_COUNT];
    count[K_DIVISION] = G / 100 < 1 ? 1 : G / 100;
    if (count[K_DIVISION] > D)
        count[K_DIVISION] = D;
    count[K_DEPARTMENT] = G / 10 < 1 ? 1 : G / 10;
    if (count[K_DEPARTMENT] > ndept)
        count[K_DEPARTMENT] = ndept;
    long rest = G - count[K_DIVISION] - count[K_DEPARTMENT];
    count[K_DEPT_TITLE] = (rest + 1) / 2;
    count[K_TEAM_LOC] = rest / 2;

    group *gs = calloc((size_t)G, sizeof *gs);
    if (gs == NULL)
        die("out of memory");
    long n = 0;
    for (int kind = 0; kind < K_COUNT; kind++) {
        for (long k = 0; k < count[kind]; k++, n++) {
            group *g = &gs[n];
            g->kind = (enum kind)kind;
            g->k = k;
            g->title = g->loc = -1;
            g->order = ((double)k + 0.5) / (double)count[kind];
            switch (g->kind) {
            case K_DIVISION:
                g->scope = k * D / count[kind];
                break;
            case K_DEPARTMENT:
                g->scope = k * ndept / count[kind];
                break;
            case K_DEPT_TITLE:
                g->scope = k % ndept;
                g->title = (int)((k / ndept + k) % ntitle_eff);
                break;
            case K_TEAM_LOC:
                /* spread over the teams (Knuth's multiplicative hash), location cycling */
                g->scope = (long)(((unsigned long long)k * 2654435761ULL) % (unsigned long long)nteam);
                g->loc = (int)(k % nloc_eff);
                break;
            default:
                break;
            }
        }
    }
    qsort(gs, (size_t)G, sizeof *gs, cmp_order);
    long decision = -1;
    for (long i = 0; i < G; i++) {
        gs[i].name = i;
        long lo, hi;
        scope_range(&gs[i], &lo, &hi);
        for (long e = lo; e < hi; e++)
            gs[i].size += is_member(&gs[i], e);
        if (gs[i].kind == K_DIVISION && gs[i].k == 0)
            decision = i;
    }

    char dn[1024], up[1024];

    /* ---- base.ldif: the tree and the employees ---- */
    FILE *f = out_open("base.ldif");
    {
        char dc[256];
        const char *comma = strchr(suffix, ',');
        size_t len = comma ? (size_t)(comma - suffix) : strlen(suffix);
        snprintf(dc, sizeof dc, "%.*s", (int)len, suffix);
        const char *eq = strchr(dc, '=');
        fprintf(f, "dn: %s\nobjectClass: dcObject\nobjectClass: organization\n"
                   "dc: %s\no: Benchmark Inc.\n\n", suffix, eq ? eq + 1 : dc);
    }
    fprintf(f, "dn: ou=System,%s\nobjectClass: organizationalUnit\nou: System\n\n", suffix);
    fprintf(f, "dn: uid=mta,ou=System,%s\nobjectClass: account\nobjectClass: simpleSecurityObject\n"
               "uid: mta\nuserPassword: secret\ndescription: MTA account (dynmailgroup-privileged)\n\n",
            suffix);
    fprintf(f, "dn: ou=Groups,%s\nobjectClass: organizationalUnit\nou: Groups\n\n", suffix);
    FILE *tf = out_open("teams.txt");
    for (long v = 0; v < D; v++) {
        div_dn(dn, sizeof dn, v);
        fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: div%0*ld\n"
                   "description: division\n\n", dn, wd, v);
        for (long p = 0; p < P; p++) {
            long d = v * P + p;
            dept_dn(dn, sizeof dn, d);
            fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: dep%0*ld\n"
                       "description: department\n\n", dn, wp, p);
            for (long t = 0; t < T; t++) {
                long tt = d * T + t;
                team_dn(dn, sizeof dn, tt);
                fprintf(f, "dn: %s\nobjectClass: organizationalUnit\nou: team%0*ld\n"
                           "description: team\n\n", dn, wt, t);
                fprintf(tf, "%s\n", dn);
                for (long j = 0; j < N; j++) {
                    long e = tt * N + j;
                    emp_dn(dn, sizeof dn, e);
                    fprintf(f, "dn: %s\nobjectClass: inetOrgPerson\nuid: e%07ld\n"
                               "cn: Employee %07ld\nsn: E%07ld\ngivenName: Employee\n"
                               "mail: e%07ld@%s\ntitle: %s\nl: %s\n%s\n",
                            dn, e, e, e, e, domain, TITLES[title_of(j)], LOCS[loc_of(j)],
                            j % 10 == 0 ? "userPassword: secret\n" : "");
                }
            }
        }
    }
    out_close(tf, "teams.txt");
    out_close(f, "base.ldif");

    /* ---- the three group flavours ---- */
    FILE *fs = out_open("groups-static.ldif");
    FILE *fl = out_open("groups-dynlist.ldif");
    FILE *fm = out_open("groups-dmg.ldif");
    FILE *fg = out_open("groups.txt");
    for (long i = 0; i < G; i++) {
        const group *g = &gs[i];
        char cond[128] = "";
        long lo, hi;

        snprintf(dn, sizeof dn, "cn=g%05ld,ou=Groups,%s", g->name, suffix);
        scope_dn(up, sizeof up, g);
        if (g->title >= 0)
            snprintf(cond, sizeof cond, "(title=%s)", TITLES[g->title]);
        else if (g->loc >= 0)
            snprintf(cond, sizeof cond, "(l=%s)", LOCS[g->loc]);
        else if (i == decision)
            snprintf(cond, sizeof cond, "%s", BIG_CONDITION);

        fprintf(fg, "g%05ld\t%s\t%ld\n", g->name, KIND_NAMES[g->kind], g->size);

        /* static: the floor */
        fprintf(fs, "dn: %s\nobjectClass: groupOfNames\nobjectClass: extensibleObject\n"
                    "cn: g%05ld\nmail: g%05ld@%s\ndescription: %s group\n",
                dn, g->name, g->name, domain, KIND_NAMES[g->kind]);
        scope_range(g, &lo, &hi);
        for (long e = lo; e < hi; e++) {
            if (is_member(g, e)) {
                char m[1024];
                emp_dn(m, sizeof m, e);
                fprintf(fs, "member: %s\n", m);
            }
        }
        if (g->size == 0)   /* cannot happen with the value choice above; groupOfNames needs one */
            die("group g%05ld would be empty", g->name);
        fputc('\n', fs);

        /* dynlist */
        fprintf(fl, "dn: %s\nobjectClass: groupOfURLs\nobjectClass: extensibleObject\n"
                    "cn: g%05ld\nmail: g%05ld@%s\ndescription: %s group\n"
                    "memberURL: ldap:///%s??sub?(&(objectClass=inetOrgPerson)%s)\n\n",
                dn, g->name, g->name, domain, KIND_NAMES[g->kind], up, cond);

        /* dynamicMailGroup */
        fprintf(fm, "dn: %s\nobjectClass: dynamicMailGroup\ncn: g%05ld\nmail: g%05ld@%s\n"
                    "description: %s group\ndmgDepartment: %s\n",
                dn, g->name, g->name, domain, KIND_NAMES[g->kind], up);
        if (cond[0])
            fprintf(fm, "dmgCondition: %s\n", cond);
        if (i == decision)
            fprintf(fm, "dmgSendPolicy: members\n");
        fputc('\n', fm);
    }
    overrides ov;
    overrides_plan(&ov);
    write_overrides(fs, fl, fm, fg, &ov);
    const group *nest_a = NULL, *nest_b = NULL;
    for (long i = 0; i < G && nest_b == NULL; i++) {
        if (gs[i].kind != K_DEPARTMENT)
            continue;
        if (nest_a == NULL)
            nest_a = &gs[i];
        else
            nest_b = &gs[i];
    }
    if (nest_b == NULL) {   /* fewer than two department groups: the first two groups */
        nest_a = &gs[0];
        nest_b = &gs[1];
    }
    long nest_size = write_nested(fs, fl, fm, fg, nest_a, nest_b);
    out_close(fs, "groups-static.ldif");
    out_close(fl, "groups-dynlist.ldif");
    out_close(fm, "groups-dmg.ldif");
    out_close(fg, "groups.txt");

    /* ---- bench.env ---- */
    {
        const group *big = &gs[decision];
        long lo, hi, total = 0, prefix_groups = 0, prefix_members = 0;
        long kinds_in_prefix[K_COUNT] = { 0 };
        scope_range(big, &lo, &hi);
        long member = lo;   /* first employee of the division (has a password) */
        long other = (big->scope + 1) * P * T * N;   /* first of another division (password) */
        if (other >= nemp)
            other = nemp - 1;
        for (long i = 0; i < G; i++) {
            total += gs[i].size;
            if (gs[i].name < 100) {   /* names g00000..g00099 match g000* */
                prefix_groups++;
                prefix_members += gs[i].size;
                kinds_in_prefix[gs[i].kind]++;
            }
        }
        /* the groups the member is in */
        long member_groups = 0;
        for (long i = 0; i < G; i++) {
            scope_range(&gs[i], &lo, &hi);
            if (member >= lo && member < hi && is_member(&gs[i], member))
                member_groups++;
        }
        long lo_a, hi_a, flip = member + (N > 1 ? 1 : 0);
        scope_range(nest_a, &lo_a, &hi_a);
        long nest_member = lo_a;
        while (nest_member < hi_a && !is_member(nest_a, nest_member))
            nest_member++;
        total += ov.size + nest_size;

        FILE *fb = out_open("binders-member.txt"), *fo = out_open("binders-outside.txt");
        long nb = 0, no = 0, blo, bhi;
        scope_range(big, &blo, &bhi);
        for (long e = 0; e < nemp && (nb < 200 || no < 200); e++) {
            int in = e >= blo && e < bhi;
            if (e % N % 10 != 0 || (in ? nb : no) >= 200)
                continue;
            emp_dn(dn, sizeof dn, e);
            fprintf(in ? fb : fo, "%s\n", dn);
            *(in ? &nb : &no) += 1;
        }
        out_close(fb, "binders-member.txt");
        out_close(fo, "binders-outside.txt");

        FILE *fw = out_open("employees.txt");
        for (long k = 0; k < 1000 && k < nemp; k++) {
            emp_dn(dn, sizeof dn, k * nemp / (nemp < 1000 ? nemp : 1000));
            fprintf(fw, "%s\n", dn);
        }
        out_close(fw, "employees.txt");

        FILE *fe = out_open("bench.env");
        fprintf(fe, "# generated by bench/gen.c; sourced by bench/run.sh\n");
        fprintf(fe, "SUFFIX='%s'\n", suffix);
        fprintf(fe, "GROUPS_BASE='ou=Groups,%s'\n", suffix);
        fprintf(fe, "MTA_DN='uid=mta,ou=System,%s'\nMTA_PW='secret'\n", suffix);
        fprintf(fe, "EMPLOYEES=%ld\nNGROUPS=%ld\nTOTAL_MEMBERS=%ld\n", nemp, G, total);
        fprintf(fe, "GROUP_MIX='%ld division, %ld department, %ld department+title, %ld team+location'\n",
                count[K_DIVISION], count[K_DEPARTMENT], count[K_DEPT_TITLE], count[K_TEAM_LOC]);
        snprintf(dn, sizeof dn, "cn=g%05ld,ou=Groups,%s", big->name, suffix);
        fprintf(fe, "BIG_DN='%s'\nBIG_MAIL='g%05ld@%s'\nBIG_SIZE=%ld\n", dn, big->name, domain, big->size);
        emp_dn(dn, sizeof dn, member);
        fprintf(fe, "MEMBER_DN='%s'\nMEMBER_MAIL='e%07ld@%s'\nMEMBER_GROUPS=%ld\n", dn, member, domain,
                member_groups);
        emp_dn(dn, sizeof dn, other);
        fprintf(fe, "UNRELATED_DN='%s'\n", dn);
        /* with one division every employee is in the big group: no outsider */
        fprintf(fe, "OUTSIDER=%d\n", D > 1);
        emp_dn(dn, sizeof dn, flip);
        fprintf(fe, "FLIP_DN='%s'\nFLIP_TITLE='%s'\n", dn, TITLES[title_of(flip % N)]);
        snprintf(dn, sizeof dn, "cn=xover,ou=Groups,%s", suffix);
        fprintf(fe, "OVER_DN='%s'\nOVER_SIZE=%ld\nOVER_INCLUDES=%ld\nOVER_EXCLUDES=%ld\n", dn,
                ov.size, ov.ninc, ov.nexc);
        emp_dn(dn, sizeof dn, ov.ninc > 0 ? ov.inc[0] : ov.lo);
        fprintf(fe, "OVER_USER_DN='%s'\n", dn);
        snprintf(dn, sizeof dn, "cn=xnested,ou=Groups,%s", suffix);
        fprintf(fe, "NEST_DN='%s'\nNEST_SIZE=%ld\n", dn, nest_size);
        fprintf(fe, "NEST_PARTS='g%05ld (%s, %ld) and g%05ld (%s, %ld)'\n", nest_a->name,
                KIND_NAMES[nest_a->kind], nest_a->size, nest_b->name, KIND_NAMES[nest_b->kind],
                nest_b->size);
        emp_dn(dn, sizeof dn, nest_member);
        fprintf(fe, "NEST_USER_DN='%s'\n", dn);
        fprintf(fe, "PREFIX_GROUPS=%ld\nPREFIX_MEMBERS=%ld\n", prefix_groups, prefix_members);
        fprintf(fe, "PREFIX_MIX='%ld division, %ld department, %ld department+title, %ld team+location'\n",
                kinds_in_prefix[0], kinds_in_prefix[1], kinds_in_prefix[2], kinds_in_prefix[3]);
        out_close(fe, "bench.env");
    }
    free(gs);
    return 0;
}
