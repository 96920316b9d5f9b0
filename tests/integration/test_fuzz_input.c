/*
 * test_fuzz_input.c -- deterministic mutation test of the live server's parsing of dmgCondition
 * values, DN values and the overlay's cn=config directives.
 *
 * What this is, honestly: NOT libFuzzer. The parsers concerned (slapd's str2filter /
 * get_filter, dnPrettyNormal, the config backend, the overlay's directive handler and its
 * condition checks) live inside slapd and cannot be linked into a fuzzer (the libldap halves
 * are fuzzed by fuzz/fuzz_condition.c and fuzz/fuzz_dn.c). Instead this test sends a bounded
 * number (2,000 by default) of generated inputs to the real slapd with the module loaded:
 * valid and invalid seeds (RFC 4515 filters, DNs, integers) mutated by a fixed-seed PRNG, so
 * every run sends exactly the same inputs and a failure names its input and iteration. It is
 * no coverage-guided search; its value is running the real parsing code on odd input in the
 * plain build, under ASan/UBSan (the asan build of the suite) and under valgrind memcheck
 * (the valgrind build).
 *
 * For every input it asserts:
 *  - the server answers with an LDAP result code (no dropped connection, no time-out), and
 *    not with one meaning an internal failure (other, unavailable, busy);
 *  - a refused write changed nothing (the group, or the overlay's cn=config entry, reads
 *    exactly as before; a refused add leaves no entry);
 *  - an accepted write leaves a working server: the group's computed attributes, a reverse
 *    membership search and a compare all answer (with any condition at all), and the change
 *    can be undone;
 *  - DN-like inputs, used as the member DN of a compare and of the reverse membership
 *    searches (member=DN), (dmgMemberOf=DN), get clean answers too;
 * and at the end that slapd still answers and its log holds no sanitizer report (the harness
 * also fails the suite on one, and in valgrind mode on memcheck errors in the module).
 *
 * Directives are changed at run time over ldapi with SASL EXTERNAL (the harness grants this
 * process manage on cn=config) and restored after every input, so each input starts from
 * the same configuration. DMG_FUZZ_INPUTS=N scales the number of inputs (default 2000).
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define GROUPS      "ou=Groups," DMG_SUFFIX
#define ENGINEERING "ou=Engineering," DMG_SUFFIX
#define ALICE       "uid=alice,ou=Engineering," DMG_SUFFIX
#define POSTMASTER  "uid=postmaster,ou=System," DMG_SUFFIX

#define DEFAULT_INPUTS 2000
#define SLICE          50   /* inputs per Check test (each test is one child process) */
#define MAX_VALUE      2048 /* longest generated value */
#define PRNG_SEED      0x5eed2025d1a5ULL

static dmg_server *srv;

/* Per slice (one test child): how the server answered the inputs, printed at the end. */
static unsigned n_accepted, n_refused, refused_codes[128];

static void count_answer(int rc)
{
    if (rc == LDAP_SUCCESS) {
        n_accepted++;
    } else {
        n_refused++;
        if (rc >= 0 && rc < 128)
            refused_codes[rc]++;
    }
}

/* ============================================================================================
 * Seeds
 * ========================================================================================== */

static const char *const filter_seeds[] = {
    /* valid conditions */
    "(title=Manager)", "title=Manager", "(&(title=Manager)(l=Paris))",
    "(|(l=Paris)(l=Lyon))", "(!(employeeType=contractor))", "(employeeType=*)", "(cn=A*)",
    "(cn=*ice)", "(cn=a*l*e)", "(departmentNumber>=10)", "(departmentNumber<=20)",
    "(sn~=smith)", "(cn:caseExactMatch:=Alice)", "(ou:dn:=Engineering)",
    "(:dn:2.5.13.5:=Sales)", "(&)", "(|)", "(2.5.4.3=Alice)", "(cn;lang-en=Alice)",
    "(description=a\\28b\\29c\\2a\\5c)", "(description=a\\(b\\))", "  ( & (title=Manager) )",
    "(&(|(!(title=a))(cn=*b*))(&(sn>=c)(cn:=d)))", "(objectClass=inetOrgPerson)",
    "(&(objectClass=inetOrgPerson)(mail=*))", "(objectClass=organizationalUnit)",
    "(sn=M\xc3\xbcller)",
    /* invalid or refused ones */
    "(title=Manager", "title=Manager)", "(title=Manager)(l=Paris)", "((title=Manager))",
    "(=x)", "(&(=x))", "( =x)", "(nosuchattribute=1)", "(member=" ALICE ")",
    "(dmgMemberOf=cn=x," GROUPS ")", "(dmgMemberCount=1)", "(dmgMemberMail=a@example.com)",
    "(cn=\\zz)", "(cn=\\", "", " ", "(", ")", "()", "(!)", "(!(a=b)(c=d))", "(cn:=)",
    "(:=x)", "(cn:dn:=)", "(cn:1.2.3.4.5:=x)", "(cn:nosuchrule:=x)", "(cn~=)",
    "(cn=**)", "(cn=a**b)", "(cn>=*)", "(userPassword=*)", "(objectClass=dynamicMailGroup)",
    "(dmgCondition=*)", "(sn=\xff\xfe)", "(cn=a\x01" "b)",
};

static const char *const dn_seeds[] = {
    POSTMASTER, DMG_ROOTDN, ENGINEERING, ALICE, DMG_SUFFIX, "cn=nobody," DMG_SUFFIX,
    "uid=alice+cn=Alice,ou=Engineering," DMG_SUFFIX, "cn=\"quoted, comma\"," DMG_SUFFIX,
    "cn=Smith\\, John," DMG_SUFFIX, "cn=#04024869," DMG_SUFFIX, "cn=# 402xample",
    "2.5.4.3=x," DMG_SUFFIX, "cn=\\4a\\6fhn," DMG_SUFFIX, " cn = spaced , dc = example ",
    "cn=J\xc3\xbcrgen," DMG_SUFFIX, "", "=", ",", "cn=", "=x", "cn=a,,dc=b", "cn=a;dc=b",
    "nosuchattribute=x," DMG_SUFFIX, "cn=\xff," DMG_SUFFIX, "cn=trail\\ ," DMG_SUFFIX,
};

static const char *const int_seeds[] = {
    "0", "1", "2", "3", "50", "1000", "-1", "-0", "+5", "007", "2147483647", "2147483648",
    "-2147483649", "4294967296", "18446744073709551615", "18446744073709551616",
    "99999999999999999999999999", "1e3", "0x10", " 5", "5 ", "", "abc", "\xd9\xa3",
};

/* ============================================================================================
 * Deterministic generator: splitmix64 seeded per input, so any input can be regenerated alone
 * ========================================================================================== */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t rng_below(rng *r, size_t n)
{
    return n == 0 ? 0 : (size_t)(rng_next(r) % n);
}

/* Characters that matter to the parsers, most of the time; any octet now and then. */
static char random_char(rng *r)
{
    static const char meta[] = "()&|!=<>~*:\\ ,;+#\"=.-0123456789abcdefxyzABC";
    switch (rng_below(r, 8)) {
    case 0:
        return (char)(rng_below(r, 255) + 1); /* any octet but NUL (values are C strings) */
    case 1:
        return "\xc3\xff\x80\x01\n\t"[rng_below(r, 6)];
    default:
        return meta[rng_below(r, sizeof meta - 1)];
    }
}

typedef struct value {
    char s[MAX_VALUE + 1];
    size_t len;
} value;

static void value_set(value *v, const char *s)
{
    v->len = strlen(s);
    if (v->len > MAX_VALUE)
        v->len = MAX_VALUE;
    memcpy(v->s, s, v->len);
    v->s[v->len] = '\0';
}

static void value_insert(value *v, size_t at, const char *p, size_t n)
{
    if (v->len + n > MAX_VALUE)
        n = MAX_VALUE - v->len;
    if (at > v->len)
        at = v->len;
    memmove(v->s + at + n, v->s + at, v->len - at);
    memcpy(v->s + at, p, n);
    v->len += n;
    v->s[v->len] = '\0';
}

/* One mutation of v; other is a second seed for splicing. */
static void mutate_once(rng *r, value *v, const char *other, int filter_like)
{
    size_t at = rng_below(r, v->len + 1);
    char c;
    switch (rng_below(r, filter_like ? 10 : 8)) {
    case 0: /* insert a character */
    case 1:
        c = random_char(r);
        value_insert(v, at, &c, 1);
        break;
    case 2: /* delete a run */
        if (v->len > 0) {
            size_t n = 1 + rng_below(r, 3);
            if (at >= v->len)
                at = v->len - 1;
            if (at + n > v->len)
                n = v->len - at;
            memmove(v->s + at, v->s + at + n, v->len - at - n + 1);
            v->len -= n;
        }
        break;
    case 3: /* replace a character */
        if (v->len > 0)
            v->s[rng_below(r, v->len)] = random_char(r);
        break;
    case 4: /* duplicate a span */
        if (v->len > 0) {
            size_t from = rng_below(r, v->len), n = 1 + rng_below(r, v->len - from);
            char tmp[MAX_VALUE];
            memcpy(tmp, v->s + from, n);
            value_insert(v, at, tmp, n);
        }
        break;
    case 5: /* truncate */
        v->len = at;
        v->s[at] = '\0';
        break;
    case 6: /* splice: our head, the other seed's tail */
    {
        size_t olen = strlen(other), from = rng_below(r, olen + 1);
        v->len = at;
        v->s[at] = '\0';
        value_insert(v, v->len, other + from, olen - from);
        break;
    }
    case 7: /* swap two characters */
        if (v->len > 1) {
            size_t a = rng_below(r, v->len), b = rng_below(r, v->len);
            c = v->s[a];
            v->s[a] = v->s[b];
            v->s[b] = c;
        }
        break;
    case 8: /* wrap in a complex filter */
    {
        static const char *const heads[] = { "(&", "(|", "(!" };
        const char *h = heads[rng_below(r, 3)];
        value_insert(v, 0, h, 2);
        value_insert(v, v->len, ")", 1);
        break;
    }
    case 9: /* deep nesting (parsers recurse per level) */
    {
        size_t depth = 1 + rng_below(r, 300);
        if (v->len + 3 * depth > MAX_VALUE)
            break;
        for (size_t i = 0; i < depth; i++)
            value_insert(v, 0, "(&", 2);
        for (size_t i = 0; i < depth; i++)
            value_insert(v, v->len, ")", 1);
        break;
    }
    }
}

/* Input number i of a stream: one in four is a seed as it is, the rest 1-3 mutations. */
static void generate(value *v, unsigned stream, unsigned i, const char *const *seeds,
                     size_t nseeds, int filter_like)
{
    rng r = { PRNG_SEED ^ ((uint64_t)stream << 40) ^ ((uint64_t)i * 0x2545f4914f6cdd1dULL) };
    rng_next(&r);
    value_set(v, seeds[rng_below(&r, nseeds)]);
    if (rng_below(&r, 4) == 0)
        return;
    size_t n = 1 + rng_below(&r, 3);
    for (size_t k = 0; k < n; k++)
        mutate_once(&r, v, seeds[rng_below(&r, nseeds)], filter_like);
}

/* The value as a C literal, for messages. */
static const char *shown(const value *v)
{
    static char out[4 * MAX_VALUE + 3];
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < v->len && o < sizeof out - 6; i++) {
        unsigned char c = (unsigned char)v->s[i];
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, sizeof out - o, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* ============================================================================================
 * Inputs per kind: streams, counts (per 2,000), seeds
 * ========================================================================================== */

typedef enum kind {
    K_ADD_CONDITION,   /* add a group with the value as dmgCondition */
    K_MOD_CONDITION,   /* replace dmgCondition of an existing group */
    K_ADD_DEPARTMENT,  /* add a group with the value as a second dmgDepartment */
    K_MOD_AUDITOR,     /* replace dmgAuditor (with dmgAuditRequired TRUE) */
    K_CF_MEMBER_FILTER,
    K_CF_DEPT_FILTER,
    K_CF_POSTMASTER,
    K_CF_PRIVILEGED,
    K_CF_MAX_MEMBERS,
    K_CF_MAX_DEPARTMENTS,
    K_CF_MAX_WHITELIST,
    K_CF_CACHE_MAX,
    K_COUNT
} kind;

static const struct kind_info {
    const char *name;
    unsigned share;          /* inputs out of 2,000 */
    const char *attr;        /* attribute written */
    const char *const *seeds;
    size_t nseeds;
    int filter_like;
} kinds[K_COUNT] = {
#define SEEDS(a) (a), (sizeof(a) / sizeof((a)[0]))
    [K_ADD_CONDITION] = { "add dmgCondition", 550, "dmgCondition", SEEDS(filter_seeds), 1 },
    [K_MOD_CONDITION] = { "modify dmgCondition", 350, "dmgCondition", SEEDS(filter_seeds), 1 },
    [K_ADD_DEPARTMENT] = { "add dmgDepartment", 150, "dmgDepartment", SEEDS(dn_seeds), 0 },
    [K_MOD_AUDITOR] = { "modify dmgAuditor", 100, "dmgAuditor", SEEDS(dn_seeds), 0 },
    [K_CF_MEMBER_FILTER] = { "olcDynMailGroupMemberFilter", 250, "olcDynMailGroupMemberFilter",
                             SEEDS(filter_seeds), 1 },
    [K_CF_DEPT_FILTER] = { "olcDynMailGroupDepartmentFilter", 150,
                           "olcDynMailGroupDepartmentFilter", SEEDS(filter_seeds), 1 },
    [K_CF_POSTMASTER] = { "olcDynMailGroupPostmaster", 125, "olcDynMailGroupPostmaster",
                          SEEDS(dn_seeds), 0 },
    [K_CF_PRIVILEGED] = { "olcDynMailGroupPrivileged", 75, "olcDynMailGroupPrivileged",
                          SEEDS(dn_seeds), 0 },
    [K_CF_MAX_MEMBERS] = { "olcDynMailGroupMaxMembers", 75, "olcDynMailGroupMaxMembers",
                           SEEDS(int_seeds), 0 },
    [K_CF_MAX_DEPARTMENTS] = { "olcDynMailGroupMaxDepartments", 60,
                               "olcDynMailGroupMaxDepartments", SEEDS(int_seeds), 0 },
    [K_CF_MAX_WHITELIST] = { "olcDynMailGroupMaxWhitelist", 60, "olcDynMailGroupMaxWhitelist",
                             SEEDS(int_seeds), 0 },
    [K_CF_CACHE_MAX] = { "olcDynMailGroupCacheMaxValues", 55, "olcDynMailGroupCacheMaxValues",
                         SEEDS(int_seeds), 0 },
#undef SEEDS
};

static unsigned scale_count(unsigned share)
{
    const char *e = getenv("DMG_FUZZ_INPUTS");
    long total = e != NULL ? strtol(e, NULL, 10) : DEFAULT_INPUTS;
    if (total <= 0)
        total = DEFAULT_INPUTS;
    unsigned n = (unsigned)((long)share * total / DEFAULT_INPUTS);
    return n > 0 ? n : 1;
}

/* ============================================================================================
 * Raw LDAP writes with arbitrary octets as values
 * ========================================================================================== */

typedef struct mod {
    int op;
    const char *attr;
    const struct berval *vals[4]; /* NULL-terminated */
} mod;

static struct berval bv_of(const char *s)
{
    struct berval b = { strlen(s), (char *)s };
    return b;
}

static dmg_result result_of(LDAP *ld, int rc)
{
    dmg_result r;
    memset(&r, 0, sizeof r);
    r.rc = rc;
    char *msg = NULL;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS && msg) {
        snprintf(r.diag, sizeof r.diag, "%s", msg);
        ldap_memfree(msg);
    }
    return r;
}

static dmg_result raw_write(LDAP *ld, int add, const char *dn, const mod *mods, size_t n)
{
    LDAPMod lm[16], *lmp[17];
    ck_assert(n < 16);
    for (size_t i = 0; i < n; i++) {
        lm[i].mod_op = mods[i].op | LDAP_MOD_BVALUES;
        lm[i].mod_type = (char *)mods[i].attr;
        lm[i].mod_bvalues = (struct berval **)mods[i].vals;
        lmp[i] = &lm[i];
    }
    lmp[n] = NULL;
    ldap_set_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, NULL);
    int rc = add ? ldap_add_ext_s(ld, dn, lmp, NULL, NULL)
                 : ldap_modify_ext_s(ld, dn, lmp, NULL, NULL);
    return result_of(ld, rc);
}

/* ============================================================================================
 * Checks
 * ========================================================================================== */

/* A server answer that is not an internal failure. Negative codes are client-side: no
 * answer (connection dropped, time-out), i.e. a crashed or hung slapd. "other" is one too,
 * except from the config backend: it is slapd's code for a cn=config value that a directive
 * handler refused (ARG_BAD_CONF), and then it must come with the handler's reason. */
static void require_clean_ext(const dmg_result *r, const char *what, kind k, unsigned i,
                              const value *v, int config_write)
{
    if (r->rc >= 0 && r->rc != LDAP_OTHER && r->rc != LDAP_UNAVAILABLE && r->rc != LDAP_BUSY)
        return;
    if (config_write && r->rc == LDAP_OTHER && r->diag[0] != '\0')
        return;
    ck_abort_msg("%s: input %u of \"%s\" %s: %s (%d) \"%s\"%s", what, i, kinds[k].name, shown(v),
                 ldap_err2string(r->rc), r->rc, r->diag,
                 r->rc < 0 ? " -- no answer from the server: crashed or hung?" : "");
}

static void require_clean(const dmg_result *r, const char *what, kind k, unsigned i,
                          const value *v)
{
    require_clean_ext(r, what, k, i, v, 0);
}

/* The entry as stored (user and operational attributes, ManageDsaIT): sorted
 * "attr: value" lines with non-printable octets escaped; NULL when it does not exist. */
static char *snapshot_attrs(LDAP *ld, const char *dn, const char *const *attrs)
{
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs,
                              DMG_CTRLS(dmg_ctrl_manage_dsait()), &e);
    if (r.rc == LDAP_NO_SUCH_OBJECT) {
        dmg_entries_free(e);
        return NULL;
    }
    ck_assert_msg(r.rc == LDAP_SUCCESS && e->count == 1, "snapshot of %s: %s (%d) %s", dn,
                  ldap_err2string(r.rc), r.rc, r.diag);
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    ck_assert(out != NULL);
    out[0] = '\0';
    const dmg_entry *en = &e->entries[0];
    for (size_t a = 0; a < en->nattrs; a++) {
        for (size_t k = 0; k < en->attrs[a].nvalues; k++) {
            const char *val = en->attrs[a].values[k];
            size_t need = len + strlen(en->attrs[a].name) + 4 * strlen(val) + 8;
            if (need > cap) {
                cap = need * 2;
                out = realloc(out, cap);
                ck_assert(out != NULL);
            }
            len += (size_t)sprintf(out + len, "%s: ", en->attrs[a].name);
            for (const unsigned char *p = (const unsigned char *)val; *p; p++)
                len += (size_t)(isprint(*p) ? sprintf(out + len, "%c", *p)
                                            : sprintf(out + len, "\\x%02x", *p));
            out[len++] = '\n';
            out[len] = '\0';
        }
    }
    dmg_entries_free(e);
    char *sorted = dmg_sorted_lines(out);
    free(out);
    return sorted;
}

static char *snapshot(LDAP *ld, const char *dn)
{
    static const char *const attrs[] = { "*", "+", NULL };
    return snapshot_attrs(ld, dn, attrs);
}

/* cn=config entries: the user attributes (the settings) only. */
static char *config_snapshot(LDAP *cf, const char *dn)
{
    static const char *const attrs[] = { "*", NULL };
    return snapshot_attrs(cf, dn, attrs);
}

static void require_unchanged(const char *before, const char *after, const char *what,
                              kind k, unsigned i, const value *v, const dmg_result *r)
{
    if ((before == NULL && after == NULL)
        || (before != NULL && after != NULL && strcmp(before, after) == 0))
        return;
    fprintf(stderr, "--- before:\n%s\n--- after:\n%s\n", before ? before : "(absent)",
            after ? after : "(absent)");
    ck_abort_msg("%s: input %u of \"%s\" %s was refused (%s, \"%s\") but changed the entry "
                 "(both versions on stderr)", what, i, kinds[k].name, shown(v),
                 ldap_err2string(r->rc), r->diag);
}

/* With a group as it now is, the module's computed answers all come back. */
static void exercise_group(LDAP *ld, const char *dn, kind k, unsigned i, const value *v)
{
    static const char *const attrs[] = { "member", "dmgMemberCount", "dmgMemberMail", NULL };
    char filter[1024];
    dmg_result r = dmg_search(ld, dn, LDAP_SCOPE_BASE, NULL, attrs, NULL, NULL);
    require_clean(&r, "reading the group's members", k, i, v);
    snprintf(filter, sizeof filter, "(dmgMemberOf=%s)", dn);
    r = dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, (const char *const[]){ "1.1", NULL },
                   NULL, NULL);
    require_clean(&r, "reverse membership search", k, i, v);
    r = dmg_compare(ld, dn, "member", ALICE);
    require_clean(&r, "compare member", k, i, v);
}

/* DN-like inputs are also asked about as member DNs: compare GROUP member:INPUT, and the
 * reverse searches (member=INPUT) and (dmgMemberOf=INPUT), whatever the write did. Each
 * octet goes into the filter escaped, so the client sends exactly the input. */
static void ask_about_dn(LDAP *ld, kind k, unsigned i, const value *v)
{
    static const char hex[] = "0123456789abcdef";
    static const char *const no_attrs[] = { "1.1", NULL };
    char esc[3 * MAX_VALUE + 1], filter[3 * MAX_VALUE + 64];
    size_t o = 0;
    for (size_t n = 0; n < v->len; n++) {
        unsigned char c = (unsigned char)v->s[n];
        esc[o++] = '\\';
        esc[o++] = hex[c >> 4];
        esc[o++] = hex[c & 15];
    }
    esc[o] = '\0';
    struct berval in = { v->len, (char *)v->s };
    ldap_set_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, NULL);
    dmg_result r = result_of(ld, ldap_compare_ext_s(ld, "cn=fz-cf," GROUPS, "member", &in, NULL,
                                                    NULL));
    require_clean(&r, "compare member:INPUT", k, i, v);
    snprintf(filter, sizeof filter, "(member=%s)", esc);
    r = dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, no_attrs, NULL, NULL);
    require_clean(&r, "search (member=INPUT)", k, i, v);
    snprintf(filter, sizeof filter, "(dmgMemberOf=%s)", esc);
    r = dmg_search(ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, no_attrs, NULL, NULL);
    require_clean(&r, "search (dmgMemberOf=INPUT)", k, i, v);
}

/* ============================================================================================
 * Group inputs
 * ========================================================================================== */

static LDAP *root(void)
{
    return dmg_connect(srv, DMG_ROOTDN, DMG_ROOTPW);
}

static void group_name(char *cn, size_t size, const char *tag, kind k, unsigned i)
{
    snprintf(cn, size, "fz-%s%d-%u", tag, (int)k, i);
}

static void group_dn(char *dn, size_t size, const char *tag, kind k, unsigned i)
{
    char cn[64];
    group_name(cn, sizeof cn, tag, k, i);
    snprintf(dn, size, "cn=%s," GROUPS, cn);
}

/* Adds a group with the input as attr (plus what a group needs); checks the outcome. */
static void add_input(LDAP *ld, kind k, unsigned i, const value *v)
{
    char dn[256], cn[64], mail[96];
    group_dn(dn, sizeof dn, "a", k, i);
    group_name(cn, sizeof cn, "a", k, i);
    snprintf(mail, sizeof mail, "%s@example.com", cn);
    struct berval oc = bv_of("dynamicMailGroup"), bcn = bv_of(cn), bmail = bv_of(mail);
    struct berval dept = bv_of(ENGINEERING), in = { v->len, (char *)v->s };
    mod mods[] = {
        { LDAP_MOD_ADD, "objectClass", { &oc, NULL } },
        { LDAP_MOD_ADD, "cn", { &bcn, NULL } },
        { LDAP_MOD_ADD, "mail", { &bmail, NULL } },
        { LDAP_MOD_ADD, "dmgDepartment", { &dept, NULL } },
        { LDAP_MOD_ADD, kinds[k].attr, { &in, NULL } },
    };
    /* a second dmgDepartment value goes into the same attribute */
    if (k == K_ADD_DEPARTMENT) {
        mods[3].vals[1] = &in;
        mods[3].vals[2] = NULL;
    }
    size_t n = k == K_ADD_DEPARTMENT ? 4 : 5;
    dmg_result r = raw_write(ld, 1, dn, mods, n);
    require_clean(&r, "add", k, i, v);
    if (i < 100000)
        count_answer(r.rc);
    if (r.rc != LDAP_SUCCESS) {
        char *after = snapshot(ld, dn);
        require_unchanged(NULL, after, "add", k, i, v, &r);
        return;
    }
    exercise_group(ld, dn, k, i, v);
    dmg_result d = dmg_delete(ld, dn);
    ck_assert_msg(d.rc == LDAP_SUCCESS, "deleting %s after input %u of \"%s\" %s: %s (%d) %s",
                  dn, i, kinds[k].name, shown(v), ldap_err2string(d.rc), d.rc, d.diag);
}

/* The group each modify slice works on: one valid condition, audited by alice. */
static void ensure_base_group(LDAP *ld, const char *dn, const char *cn)
{
    char mail[96];
    snprintf(mail, sizeof mail, "%s@example.com", cn);
    struct berval oc = bv_of("dynamicMailGroup"), bcn = bv_of(cn), bmail = bv_of(mail);
    struct berval dept = bv_of(ENGINEERING), cond = bv_of("(objectClass=inetOrgPerson)");
    struct berval audit = bv_of("TRUE"), auditor = bv_of(ALICE);
    mod mods[] = {
        { LDAP_MOD_ADD, "objectClass", { &oc, NULL } },
        { LDAP_MOD_ADD, "cn", { &bcn, NULL } },
        { LDAP_MOD_ADD, "mail", { &bmail, NULL } },
        { LDAP_MOD_ADD, "dmgDepartment", { &dept, NULL } },
        { LDAP_MOD_ADD, "dmgCondition", { &cond, NULL } },
        { LDAP_MOD_ADD, "dmgAuditRequired", { &audit, NULL } },
        { LDAP_MOD_ADD, "dmgAuditor", { &auditor, NULL } },
    };
    dmg_result r = raw_write(ld, 1, dn, mods, sizeof mods / sizeof mods[0]);
    ck_assert_msg(r.rc == LDAP_SUCCESS || r.rc == LDAP_ALREADY_EXISTS,
                  "creating %s: %s (%d) %s", dn, ldap_err2string(r.rc), r.rc, r.diag);
}

static void modify_input(LDAP *ld, const char *dn, kind k, unsigned i, const value *v)
{
    struct berval in = { v->len, (char *)v->s };
    mod m = { LDAP_MOD_REPLACE, kinds[k].attr, { &in, NULL } };
    char *before = snapshot(ld, dn);
    ck_assert_msg(before != NULL, "%s vanished", dn);
    dmg_result r = raw_write(ld, 0, dn, &m, 1);
    require_clean(&r, "modify", k, i, v);
    count_answer(r.rc);
    if (r.rc != LDAP_SUCCESS) {
        char *after = snapshot(ld, dn);
        require_unchanged(before, after, "modify", k, i, v, &r);
        free(after);
        free(before);
        return;
    }
    free(before);
    exercise_group(ld, dn, k, i, v);
    /* back to the valid value for the next input */
    struct berval orig = k == K_MOD_AUDITOR ? bv_of(ALICE) : bv_of("(objectClass=inetOrgPerson)");
    mod back = { LDAP_MOD_REPLACE, kinds[k].attr, { &orig, NULL } };
    r = raw_write(ld, 0, dn, &back, 1);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "restoring %s of %s after input %u %s: %s (%d) %s",
                  kinds[k].attr, dn, i, shown(v), ldap_err2string(r.rc), r.rc, r.diag);
}

/* ============================================================================================
 * Directive inputs (cn=config over ldapi, SASL EXTERNAL)
 * ========================================================================================== */

/* The overlay's entry in cn=config, found by search (its {n} index is slapd's choice). */
static void overlay_dn(LDAP *cf, char *out, size_t size)
{
    dmg_entries *e = NULL;
    dmg_result r = dmg_search(cf, "cn=config", LDAP_SCOPE_SUBTREE,
                              "(objectClass=olcDynMailGroupConfig)",
                              (const char *const[]){ "1.1", NULL }, NULL, &e);
    ck_assert_msg(r.rc == LDAP_SUCCESS && e->count == 1,
                  "finding the overlay in cn=config: %s (%d) %s, %zu entries",
                  ldap_err2string(r.rc), r.rc, r.diag, e ? e->count : (size_t)0);
    snprintf(out, size, "%s", e->entries[0].dn);
    dmg_entries_free(e);
}

/* The values of attr in the overlay entry (NULL-terminated, NULL when none); free with
 * ber_bvecfree. */
static struct berval **config_values(LDAP *cf, const char *dn, const char *attr)
{
    LDAPMessage *res = NULL;
    char *attrs[] = { (char *)attr, NULL };
    int rc = ldap_search_ext_s(cf, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL, NULL,
                               NULL, 0, &res);
    ck_assert_msg(rc == LDAP_SUCCESS, "reading %s of %s: %s", attr, dn, ldap_err2string(rc));
    LDAPMessage *m = ldap_first_entry(cf, res);
    struct berval **vals = m != NULL ? ldap_get_values_len(cf, m, attr) : NULL;
    ldap_msgfree(res);
    return vals;
}

static void directive_input(LDAP *cf, LDAP *ld, const char *odn, kind k, unsigned i,
                            const value *v)
{
    const char *attr = kinds[k].attr;
    struct berval **orig = config_values(cf, odn, attr);
    char *before = config_snapshot(cf, odn);
    struct berval in = { v->len, (char *)v->s };
    mod m = { LDAP_MOD_REPLACE, attr, { &in, NULL } };
    dmg_result r = raw_write(cf, 0, odn, &m, 1);
    require_clean_ext(&r, "cn=config modify", k, i, v, 1);
    count_answer(r.rc);
    if (r.rc != LDAP_SUCCESS) {
        char *after = config_snapshot(cf, odn);
        require_unchanged(before, after, "cn=config modify", k, i, v, &r);
        free(after);
    } else {
        /* the server works with the new setting: a group read, a reverse search, an add */
        exercise_group(ld, "cn=fz-cf," GROUPS, k, i, v);
        value probe;
        value_set(&probe, "(objectClass=inetOrgPerson)");
        add_input(ld, K_ADD_CONDITION, 100000 + i, &probe);
        /* and the old setting comes back exactly */
        mod back = { orig != NULL ? LDAP_MOD_REPLACE : LDAP_MOD_DELETE, attr, { NULL } };
        for (size_t n = 0; orig != NULL && orig[n] != NULL && n < 3; n++)
            back.vals[n] = orig[n];
        r = raw_write(cf, 0, odn, &back, 1);
        ck_assert_msg(r.rc == LDAP_SUCCESS || (orig == NULL && r.rc == LDAP_NO_SUCH_ATTRIBUTE),
                      "restoring %s after input %u %s: %s (%d) %s", attr, i, shown(v),
                      ldap_err2string(r.rc), r.rc, r.diag);
        char *after = config_snapshot(cf, odn);
        if (before == NULL || after == NULL || strcmp(before, after) != 0) {
            fprintf(stderr, "--- before:\n%s\n--- after restore:\n%s\n", before, after);
            ck_abort_msg("restoring %s after input %u %s left the overlay's entry changed",
                         attr, i, shown(v));
        }
        free(after);
    }
    free(before);
    ber_bvecfree(orig);
}

/* ============================================================================================
 * Tests: each loop index is a slice of SLICE inputs of one kind
 * ========================================================================================== */

typedef struct slice {
    kind k;
    unsigned first, count;
} slice;

static slice slices[512];
static unsigned nslices;

static void plan(void)
{
    for (kind k = 0; k < K_COUNT; k++) {
        unsigned total = scale_count(kinds[k].share);
        for (unsigned first = 0; first < total && nslices < 512; first += SLICE) {
            slices[nslices].k = k;
            slices[nslices].first = first;
            slices[nslices].count = total - first < SLICE ? total - first : SLICE;
            nslices++;
        }
    }
}

START_TEST(inputs)
{
    const slice *sl = &slices[_i];
    const struct kind_info *ki = &kinds[sl->k];
    LDAP *ld = root();
    LDAP *cf = NULL;
    char odn[512] = "", base[256] = "";
    if (sl->k >= K_CF_MEMBER_FILTER) {
        cf = dmg_connect_ldapi_external(srv);
        overlay_dn(cf, odn, sizeof odn);
    } else if (sl->k == K_MOD_CONDITION || sl->k == K_MOD_AUDITOR) {
        char cn[64];
        group_name(cn, sizeof cn, "m", sl->k, (unsigned)_i);
        group_dn(base, sizeof base, "m", sl->k, (unsigned)_i);
        ensure_base_group(ld, base, cn);
    }
    for (unsigned i = sl->first; i < sl->first + sl->count; i++) {
        value v;
        generate(&v, (unsigned)sl->k, i, ki->seeds, ki->nseeds, ki->filter_like);
        if (cf != NULL)
            directive_input(cf, ld, odn, sl->k, i, &v);
        else if (base[0] != '\0')
            modify_input(ld, base, sl->k, i, &v);
        else
            add_input(ld, sl->k, i, &v);
        if (!ki->filter_like && ki->seeds == dn_seeds)
            ask_about_dn(ld, sl->k, i, &v);
    }
    dmg_disconnect(cf);
    dmg_disconnect(ld);
    char codes[512] = "";
    for (int c = 1; c < 128; c++)
        if (refused_codes[c] > 0)
            snprintf(codes + strlen(codes), sizeof codes - strlen(codes), " %d:%u", c,
                     refused_codes[c]);
    fprintf(stderr, "fuzz input: %s %u-%u: %u accepted, %u refused (code:count%s)\n", ki->name,
            sl->first, sl->first + sl->count - 1, n_accepted, n_refused, codes);
}
END_TEST

/* A group the directive inputs read after each accepted change. */
START_TEST(setup_group)
{
    LDAP *ld = root();
    ensure_base_group(ld, "cn=fz-cf," GROUPS, "fz-cf");
    dmg_disconnect(ld);
}
END_TEST

/* After everything: slapd still answers, and its log holds no sanitizer report so far (the
 * harness checks the whole log, and valgrind's, again when it stops the server). */
START_TEST(server_still_sane)
{
    LDAP *ld = dmg_connect(srv, NULL, NULL);
    dmg_result r = dmg_search(ld, "", LDAP_SCOPE_BASE, NULL, NULL, NULL, NULL);
    ck_assert_msg(r.rc == LDAP_SUCCESS, "root DSE: %s (%d)", ldap_err2string(r.rc), r.rc);
    dmg_disconnect(ld);
    static const char *const markers[] = { "AddressSanitizer", "runtime error:",
                                           "LeakSanitizer", "==ERROR" };
    FILE *f = fopen(dmg_server_log(srv), "r");
    ck_assert_msg(f != NULL, "cannot read %s", dmg_server_log(srv));
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL)
        for (size_t i = 0; i < sizeof markers / sizeof markers[0]; i++)
            ck_assert_msg(strstr(line, markers[i]) == NULL, "slapd's log: %s", line);
    fclose(f);
}
END_TEST

static Suite *fuzz_input_suite(void)
{
    Suite *s = suite_create("fuzz input (deterministic mutation test)");
    TCase *tc = dmg_tcase("inputs");
    plan();
    tcase_add_test(tc, setup_group);
    tcase_add_loop_test(tc, inputs, 0, (int)nslices);
    tcase_add_test(tc, server_still_sane);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const dmg_server_opts opts = {
        .db_config =
            "access to attrs=userPassword by self write by anonymous auth by * none\n"
            "access to * by users read by anonymous read\n",
        .overlay_config = "dynmailgroup-postmaster " POSTMASTER "\n"
                          "dynmailgroup-cache-max-values 10000\n",
    };
    return dmg_run_suite(fuzz_input_suite(), &opts, &srv);
}
