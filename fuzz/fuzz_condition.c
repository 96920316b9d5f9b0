/*
 * fuzz_condition.c - libFuzzer harness for the RFC 4515 filter parser behind dmgCondition and
 * the filter directives (dynmailgroup-member-filter, dynmailgroup-department-filter).
 *
 * slapd turns those strings into filters with str2filter(), which is libldap's
 * ldap_pvt_put_filter() (string -> BER) followed by slapd's get_filter() (BER -> Filter,
 * schema lookups). The second half lives inside slapd and cannot be linked here; it, the
 * overlay's checks of the result and the directive handling are exercised against the live
 * server by tests/integration/test_fuzz_input.c (under ASan and valgrind in CI). This
 * harness fuzzes the first half: scripts/fuzz.sh compiles libraries/libldap/filter.c of the
 * installed slapd's own source tree (the configured tree the module is built against) with
 * coverage and sanitizers, so this is exactly the code slapd runs; without that tree it links
 * the system libldap instead (no coverage feedback inside the parser, crashes still caught).
 *
 * The whole input is one filter string; like an attribute value handed to str2filter, it
 * ends at the first NUL. Beyond "no crash, no leak, no sanitizer report", an accepted string
 * must give exactly one well-formed RFC 4511 Filter (or nothing at all, for an empty or
 * all-blank string, which get_filter then refuses) (what get_filter expects: tags, nesting,
 * one child under NOT, substrings in order, attribute descriptions and rules as plain
 * descriptors/OIDs), the same bytes every time, and printing that BER back as a filter
 * (values fully escaped) must parse to the very same BER. A violated property aborts.
 *
 *   sh scripts/fuzz.sh                 (builds and runs every harness; DMG_FUZZ_ONLY=condition)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lber.h>
#include <ldap.h>

/* Exported by libldap (slapd calls it), declared only in its private ldap-int.h. */
int ldap_pvt_put_filter(BerElement *ber, const char *str);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) { \
    fprintf(stderr, "fuzz_condition: property failed: %s (line %d)\n", #cond, __LINE__); \
    abort(); } } while (0)

#define MAX_INPUT 8192 /* a longer value only nests deeper; the parser recurses per level */

/* ---- a minimal, independent BER reader (definite lengths, one-octet tags) ---- */

struct tlv {
    unsigned tag;
    const uint8_t *val;
    size_t len;
};

/* Reads one TLV from [*p, end); advances *p. 0 on success. */
static int read_tlv(const uint8_t **p, const uint8_t *end, struct tlv *t)
{
    const uint8_t *q = *p;
    size_t len, n;

    if (end - q < 2)
        return -1;
    t->tag = *q++;
    if ((t->tag & 0x1f) == 0x1f)
        return -1; /* no filter element uses a multi-octet tag */
    len = *q++;
    if (len & 0x80) {
        n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t)(end - q) < n)
            return -1;
        for (len = 0; n > 0; n--)
            len = (len << 8) | *q++;
    }
    if ((size_t)(end - q) < len)
        return -1;
    t->val = q;
    t->len = len;
    *p = q + len;
    return 0;
}

/* What ldap_is_desc / ldap_is_oid let through, and what the printer below writes verbatim. */
static int plain_token(const struct tlv *t, int options_allowed)
{
    size_t i;

    if (t->len == 0)
        return 0;
    for (i = 0; i < t->len; i++) {
        uint8_t c = t->val[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '.' || (options_allowed && c == ';')))
            return 0;
    }
    return 1;
}

static void validate_filter(const uint8_t **p, const uint8_t *end, int depth);

static void validate_ava(const struct tlv *f)
{
    const uint8_t *p = f->val, *end = f->val + f->len;
    struct tlv desc, value;

    REQUIRE(read_tlv(&p, end, &desc) == 0 && desc.tag == 0x04 && plain_token(&desc, 1));
    REQUIRE(read_tlv(&p, end, &value) == 0 && value.tag == 0x04);
    REQUIRE(p == end);
}

static void validate_substrings(const struct tlv *f)
{
    const uint8_t *p = f->val, *end = f->val + f->len, *q, *qend;
    struct tlv desc, seq, part;
    int n = 0, final_seen = 0;

    REQUIRE(read_tlv(&p, end, &desc) == 0 && desc.tag == 0x04 && plain_token(&desc, 1));
    REQUIRE(read_tlv(&p, end, &seq) == 0 && seq.tag == 0x30 && p == end);
    q = seq.val;
    qend = seq.val + seq.len;
    while (q < qend) {
        REQUIRE(read_tlv(&q, qend, &part) == 0);
        REQUIRE(!final_seen);                    /* final only last */
        REQUIRE(part.tag == 0x80 || part.tag == 0x81 || part.tag == 0x82);
        REQUIRE(part.tag != 0x80 || n == 0);     /* initial only first */
        REQUIRE(part.len > 0);                   /* the parser refuses empty parts */
        final_seen = part.tag == 0x82;
        n++;
    }
    REQUIRE(n >= 1);
}

static void validate_extensible(const struct tlv *f)
{
    const uint8_t *p = f->val, *end = f->val + f->len;
    struct tlv t;
    int have_rule = 0, have_type = 0, have_value = 0;

    while (p < end) {
        REQUIRE(read_tlv(&p, end, &t) == 0);
        switch (t.tag) {
        case 0x81:
            REQUIRE(!have_rule && !have_type && !have_value && plain_token(&t, 0));
            have_rule = 1;
            break;
        case 0x82:
            REQUIRE(!have_type && !have_value && plain_token(&t, 1));
            have_type = 1;
            break;
        case 0x83:
            REQUIRE(!have_value);
            have_value = 1;
            break;
        case 0x84:
            REQUIRE(have_value && p == end && t.len == 1 && t.val[0] != 0);
            break;
        default:
            REQUIRE(0 && "unexpected element in a MatchingRuleAssertion");
        }
    }
    REQUIRE(have_value && (have_rule || have_type));
}

static void validate_filter(const uint8_t **p, const uint8_t *end, int depth)
{
    struct tlv f;
    const uint8_t *q, *qend;

    REQUIRE(depth < 100000);
    REQUIRE(read_tlv(p, end, &f) == 0);
    q = f.val;
    qend = f.val + f.len;
    switch (f.tag) {
    case 0xa0: /* and */
    case 0xa1: /* or: zero or more (RFC 4526 absolute true/false) */
        while (q < qend)
            validate_filter(&q, qend, depth + 1);
        break;
    case 0xa2: /* not: exactly one */
        validate_filter(&q, qend, depth + 1);
        REQUIRE(q == qend);
        break;
    case 0xa3: case 0xa5: case 0xa6: case 0xa8:
        validate_ava(&f);
        break;
    case 0xa4:
        validate_substrings(&f);
        break;
    case 0x87:
        REQUIRE(plain_token(&f, 1));
        break;
    case 0xa9:
        validate_extensible(&f);
        break;
    default:
        REQUIRE(0 && "unknown filter choice");
    }
}

/* ---- BER back to a filter string, every value byte but [A-Za-z0-9] escaped ---- */

struct out {
    char *s;
    size_t len, cap;
};

static void put(struct out *o, const void *p, size_t n)
{
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->s = realloc(o->s, o->cap);
        REQUIRE(o->s != NULL);
    }
    memcpy(o->s + o->len, p, n);
    o->len += n;
    o->s[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_value(struct out *o, const struct tlv *t)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < t->len; i++) {
        uint8_t c = t->val[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
            put(o, &c, 1);
        } else {
            char esc[3] = { '\\', hex[c >> 4], hex[c & 15] };
            put(o, esc, 3);
        }
    }
}

/* Only called on a BER validate_filter accepted. */
static void print_filter(struct out *o, const uint8_t **p, const uint8_t *end)
{
    struct tlv f, a, b;
    const uint8_t *q, *qend;

    REQUIRE(read_tlv(p, end, &f) == 0);
    q = f.val;
    qend = f.val + f.len;
    puts_(o, "(");
    switch (f.tag) {
    case 0xa0: case 0xa1: case 0xa2:
        puts_(o, f.tag == 0xa0 ? "&" : f.tag == 0xa1 ? "|" : "!");
        while (q < qend)
            print_filter(o, &q, qend);
        break;
    case 0xa3: case 0xa5: case 0xa6: case 0xa8:
        REQUIRE(read_tlv(&q, qend, &a) == 0 && read_tlv(&q, qend, &b) == 0);
        put(o, a.val, a.len);
        puts_(o, f.tag == 0xa3 ? "=" : f.tag == 0xa5 ? ">=" : f.tag == 0xa6 ? "<=" : "~=");
        put_value(o, &b);
        break;
    case 0xa4: {
        const uint8_t *s, *send;
        int first = 1;
        REQUIRE(read_tlv(&q, qend, &a) == 0 && read_tlv(&q, qend, &b) == 0);
        put(o, a.val, a.len);
        puts_(o, "=");
        s = b.val;
        send = b.val + b.len;
        while (s < send) {
            struct tlv part;
            REQUIRE(read_tlv(&s, send, &part) == 0);
            if (first && part.tag != 0x80)
                puts_(o, "*");
            first = 0;
            put_value(o, &part);
            if (part.tag != 0x82)
                puts_(o, "*");
        }
        break;
    }
    case 0x87:
        put(o, f.val, f.len);
        puts_(o, "=*");
        break;
    case 0xa9: {
        struct tlv rule = { 0, NULL, 0 }, type = { 0, NULL, 0 }, value = { 0, NULL, 0 };
        int dn = 0;
        while (q < qend) {
            REQUIRE(read_tlv(&q, qend, &a) == 0);
            if (a.tag == 0x81) rule = a;
            else if (a.tag == 0x82) type = a;
            else if (a.tag == 0x83) value = a;
            else dn = 1;
        }
        if (type.val != NULL)
            put(o, type.val, type.len);
        if (dn)
            puts_(o, ":dn");
        if (rule.val != NULL) {
            puts_(o, ":");
            put(o, rule.val, rule.len);
        }
        puts_(o, ":=");
        put_value(o, &value);
        break;
    }
    }
    puts_(o, ")");
}

/* ---- the harness ---- */

/* Known upstream bug (OpenLDAP 2.5.13, still in 2.6.10): put_simple_filter() in filter.c
 * does "value = s + 1; *s-- = '\0'; switch (*s)" with s = strchr(str, '='), so a simple
 * filter item that starts with '=' -- "(=x)", "( =x)", "(&(=x))", a bare "=x" -- reads (and,
 * were that byte '<', '>', '~' or ':', would overwrite) the byte before its heap copy. With
 * glibc that byte is part of the chunk header and zero, so slapd refuses such a value
 * (str2filter fails), which test_fuzz_input checks on the live server; under ASan it is a
 * heap-buffer-overflow report on every such input. Inputs that may reach it -- '=' as the first
 * non-blank character after a '(' or of the whole string -- are skipped (a superset: a few
 * inputs that would not reach it are skipped too). DMG_FUZZ_STRICT=1 fuzzes them as well. */
static int strict;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *v = getenv("DMG_FUZZ_STRICT");
    (void)argc;
    (void)argv;
    strict = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
    return 0;
}

static int reaches_known_bug(const char *s)
{
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p == '=')
            return 1;
        p = strchr(p, '(');
        if (p == NULL)
            return 0;
        p++;
    }
}

/* ldap_pvt_put_filter on str; the BER's bytes in *out (caller frees) or NULL when refused. */
static struct berval *encode(const char *str)
{
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    struct berval *bv = NULL;

    REQUIRE(ber != NULL);
    if (ldap_pvt_put_filter(ber, str) == 0)
        REQUIRE(ber_flatten(ber, &bv) == 0 && bv != NULL);
    ber_free(ber, 1);
    return bv;
}

static int same(const struct berval *a, const struct berval *b)
{
    return a->bv_len == b->bv_len && memcmp(a->bv_val, b->bv_val, a->bv_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *str;
    struct berval *bv, *again, *printed_bv;
    const uint8_t *p, *end;
    struct out printed = { NULL, 0, 0 };

    if (size > MAX_INPUT)
        return 0;
    str = malloc(size + 1);
    REQUIRE(str != NULL);
    memcpy(str, data, size);
    str[size] = '\0'; /* and a NUL inside ends the value, as for str2filter */
    if (!strict && reaches_known_bug(str)) {
        free(str);
        return 0;
    }

    bv = encode(str);
    if (bv == NULL) {
        free(str);
        return 0;
    }
    /* libldap accepts an empty or all-blank string and writes nothing; slapd's get_filter
     * then finds no filter and str2filter refuses the value. Only that is accepted empty. */
    if (bv->bv_len == 0) {
        REQUIRE(str[strspn(str, " ")] == '\0');
        ber_bvfree(bv);
        free(str);
        return 0;
    }
    /* otherwise exactly one Filter, nothing after it */
    p = (const uint8_t *)bv->bv_val;
    end = p + bv->bv_len;
    validate_filter(&p, end, 0);
    REQUIRE(p == end);

    /* deterministic, and the input string is left as it was */
    again = encode(str);
    REQUIRE(again != NULL && same(bv, again));
    REQUIRE(memcmp(str, data, strlen(str)) == 0);

    /* printed back (canonical, escaped), it parses to the same Filter */
    p = (const uint8_t *)bv->bv_val;
    print_filter(&printed, &p, end);
    printed_bv = encode(printed.s);
    if (printed_bv == NULL || !same(bv, printed_bv)) {
        fprintf(stderr, "fuzz_condition: \"%s\" printed back as \"%s\" %s\n", str, printed.s,
                printed_bv == NULL ? "is refused" : "encodes differently");
        abort();
    }

    ber_bvfree(printed_bv);
    ber_bvfree(again);
    ber_bvfree(bv);
    free(printed.s);
    free(str);
    return 0;
}
