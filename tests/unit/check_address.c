/*
 * check_address.c - unit tests for overlay/address.c (envelope-sender and whitelist syntax).
 *
 * Table driven: every row of each table is its own Check loop test, so a failure names the
 * row index and the input.  Inputs carry explicit lengths so embedded NULs can be tested.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

/* A string literal with its exact length (sizeof counts the terminating NUL). */
#define LIT(s) s, (sizeof(s) - 1)
#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))

/* ---- dmg_addr_parse ---- */

struct parse_case {
    const char *in;
    size_t len;
    enum dmg_addr_status status;
    const char *local;     /* DMG_ADDR_OK: expected local part */
    const char *domain;    /* DMG_ADDR_OK: expected domain (no trailing dot) */
    const char *reason;    /* DMG_ADDR_MALFORMED: substring of the reason */
};

#define OK(in, l, d) { LIT(in), DMG_ADDR_OK, l, d, NULL }
#define NUL_SENDER(in) { LIT(in), DMG_ADDR_NULL, NULL, NULL, NULL }
#define BAD(in, why) { LIT(in), DMG_ADDR_MALFORMED, NULL, NULL, why }

static const struct parse_case parse_cases[] = {
    /* plain, case kept, trailing dot and angle brackets stripped */
    OK("user@example.com", "user", "example.com"),
    OK("User.Name+tag@Example.COM", "User.Name+tag", "Example.COM"),
    OK("<user@example.com>", "user", "example.com"),
    OK("user@example.com.", "user", "example.com"),
    OK("<user@example.com.>", "user", "example.com"),
    OK("a@localhost", "a", "localhost"),
    OK("a@1.2.3.4", "a", "1.2.3.4"),
    OK("a.b.c@x-y.example.com", "a.b.c", "x-y.example.com"),
    OK("!#$%&'*+-/=?^_`{|}~@example.com", "!#$%&'*+-/=?^_`{|}~", "example.com"),
    /* quoted local parts */
    OK("\"a b\"@example.com", "\"a b\"", "example.com"),
    OK("\"a@b\"@example.com", "\"a@b\"", "example.com"),
    OK("\"a\\\"b\"@example.com", "\"a\\\"b\"", "example.com"),
    OK("\"a\\\\b\"@example.com", "\"a\\\\b\"", "example.com"),
    OK("\"a\\ b\"@example.com", "\"a\\ b\"", "example.com"),
    OK("\"(),:;<>[]\"@example.com", "\"(),:;<>[]\"", "example.com"),
    OK("\"..\"@example.com", "\"..\"", "example.com"),
    /* address literals */
    OK("a@[192.0.2.1]", "a", "[192.0.2.1]"),
    OK("a@[0.0.0.0]", "a", "[0.0.0.0]"),
    OK("a@[IPv6:2001:db8::1]", "a", "[IPv6:2001:db8::1]"),
    OK("a@[IPv6:2001:DB8:AbCd:EF::1]", "a", "[IPv6:2001:DB8:AbCd:EF::1]"),
    OK("a@[ipv6:::1]", "a", "[ipv6:::1]"),
    OK("a@[IPv6:::ffff:192.0.2.1]", "a", "[IPv6:::ffff:192.0.2.1]"),
    /* RFC 6531 UTF-8 */
    OK("j\xc3\xb6rg@example.com", "j\xc3\xb6rg", "example.com"),
    OK("a@b\xc3\xbc" "cher.de", "a", "b\xc3\xbc" "cher.de"),
    OK("\"\xe2\x82\xac x\"@example.com", "\"\xe2\x82\xac x\"", "example.com"),
    OK("\xf0\x9f\x98\x80@example.com", "\xf0\x9f\x98\x80", "example.com"),
    OK("\xe0\xa4\xb9@example.com", "\xe0\xa4\xb9", "example.com"),
    OK("\xee\x80\x80@example.com", "\xee\x80\x80", "example.com"),
    OK("\xef\xbc\xa1@example.com", "\xef\xbc\xa1", "example.com"),
    OK("\xed\x9f\xbf@example.com", "\xed\x9f\xbf", "example.com"),
    OK("\xf1\x80\x80\x80@example.com", "\xf1\x80\x80\x80", "example.com"),
    OK("\xf4\x8f\xbf\xbf@example.com", "\xf4\x8f\xbf\xbf", "example.com"),

    /* the null sender */
    NUL_SENDER(""),
    NUL_SENDER("<>"),

    /* structure */
    BAD("userexample.com", "has no @"),
    BAD("\"a\"", "has no @"),
    BAD("@example.com", "empty local part"),
    BAD("<@relay.example:a@example.com>", "empty local part"),
    BAD("\"\"@example.com", "empty local part"),
    BAD("user@", "empty domain"),
    BAD("user@.", "empty domain"),
    BAD("a@b@example.com", "more than one @"),
    /* controls and spaces */
    BAD("a b@example.com", "control character or space outside a quoted local part"),
    BAD(" a@example.com", "control character or space outside a quoted local part"),
    BAD("a@example.com ", "control character or space outside a quoted local part"),
    BAD("a@exa mple.com", "control character or space outside a quoted local part"),
    BAD("a\tb@example.com", "control character or space"),
    BAD("a\nb@example.com", "control character or space"),
    BAD("a\rb@example.com", "control character or space"),
    BAD("a\x7f@example.com", "control character or space"),
    BAD("a\0b@example.com", "control character or space"),
    BAD("a@example.com\0", "control character or space"),
    BAD("a@exam\0ple.com", "control character or space"),
    BAD("\0", "control character or space"),
    BAD("\"a\x01\"@example.com", "control character inside a quoted local part"),
    BAD("\"a\0\"@example.com", "control character inside a quoted local part"),
    BAD("\"a\\\x01\"@example.com", "after a backslash"),
    BAD("\"a\\\xc3\xa4\"@example.com", "after a backslash"),
    /* quotes */
    BAD("\"ab@example.com", "unbalanced quotes"),
    BAD("\"a\\\"@example.com", "unbalanced quotes"),
    BAD("\"a\\", "unbalanced quotes"),
    BAD("\"", "unbalanced quotes"),
    BAD("a\"b\"@example.com", "misplaced quote"),
    BAD("ab\"@example.com", "misplaced quote"),
    BAD("\"a\"b@example.com", "after the closing quote"),
    BAD("\"a\".b@example.com", "after the closing quote"),
    /* angle brackets */
    BAD("<a@example.com", "unbalanced angle brackets"),
    BAD("a@example.com>", "unbalanced angle brackets"),
    BAD("<", "unbalanced angle brackets"),
    BAD(">", "unbalanced angle brackets"),
    BAD("<<>>", "invalid character in local part"),
    BAD("<<a@example.com>>", "invalid character in local part"),
    /* local part characters and dots */
    BAD("a(b)@example.com", "invalid character in local part"),
    BAD("a,b@example.com", "invalid character in local part"),
    BAD("a\\b@example.com", "invalid character in local part"),
    BAD(".a@example.com", "starts with a dot"),
    BAD("a.@example.com", "ends with a dot"),
    BAD(".@example.com", "starts with a dot"),
    BAD("a..b@example.com", "consecutive dots"),
    /* domain labels */
    BAD("a@example..com", "empty label"),
    BAD("a@.example.com", "empty label"),
    BAD("a@example.com..", "empty label"),
    BAD("a@-example.com", "hyphen"),
    BAD("a@example-.com", "hyphen"),
    BAD("a@ex_ample.com", "invalid character in domain"),
    BAD("a@example.com/x", "invalid character in domain"),
    BAD("a@exa\"mple.com", "invalid character in domain"),
    /* address literals */
    BAD("a@[192.0.2.256]", "malformed IPv4"),
    BAD("a@[192.0.2]", "malformed IPv4"),
    BAD("a@[192.0.2.1.5]", "malformed IPv4"),
    BAD("a@[1234.0.2.1]", "malformed IPv4"),
    BAD("a@[192.0.2.1 ]", "malformed IPv4"),
    BAD("a@[]", "malformed IPv4"),
    BAD("a@[192.0.2.1", "does not end with ]"),
    BAD("a@[192.0.2.1].", "does not end with ]"),
    BAD("a@[", "does not end with ]"),
    BAD("a@[IPv6:zz::1]", "malformed IPv6"),
    BAD("a@[IPv6:G::1]", "malformed IPv6"),
    BAD("a@[IPv6:1:2]", "malformed IPv6"),
    BAD("a@[IPv6:]", "malformed IPv6"),
    BAD("a@[IPv6:::1%eth0]", "malformed IPv6"),
    BAD("a@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa]", "malformed IPv6"),
    BAD("a@[x-tag:foo]", "unsupported address literal"),
    /* invalid UTF-8 */
    BAD("\xc3@example.com", "invalid UTF-8"),
    BAD("a\xc0\xaf@example.com", "invalid UTF-8"),
    BAD("a\xed\xa0\x80@example.com", "invalid UTF-8"),
    BAD("a\xf4\x90\x80\x80@example.com", "invalid UTF-8"),
    BAD("a\xff@example.com", "invalid UTF-8"),
    BAD("a\x80@example.com", "invalid UTF-8"),
    BAD("a\xc1\xbf@example.com", "invalid UTF-8"),
    BAD("a\xe0\x80\xaf@example.com", "invalid UTF-8"),
    BAD("a\xe2\x82X@example.com", "invalid UTF-8"),
    BAD("a\xe2\x82\xc0@example.com", "invalid UTF-8"),
    BAD("a\xf0\x8f\xbf\xbf@example.com", "invalid UTF-8"),
    BAD("a\xf1\x80\x80X@example.com", "invalid UTF-8"),
    BAD("a\xf5\x80\x80\x80@example.com", "invalid UTF-8"),
    BAD("a@exam\xffple.com", "invalid UTF-8"),
    BAD("a@example.co\xe2\x82", "invalid UTF-8"),
    BAD("\"\x80\"@example.com", "invalid UTF-8"),
};

START_TEST(test_parse_table)
{
    const struct parse_case *c = &parse_cases[_i];
    struct dmg_addr a;
    const char *why = NULL;
    enum dmg_addr_status st;

    memset(&a, 0, sizeof a);
    st = dmg_addr_parse(c->in, c->len, &a, &why);
    ck_assert_msg(st == c->status, "row %d: status %d, want %d (reason %s)", _i, (int)st,
                  (int)c->status, why ? why : "-");
    if (st == DMG_ADDR_OK) {
        ck_assert_uint_eq(a.local_len, strlen(c->local));
        ck_assert_msg(memcmp(a.local, c->local, a.local_len) == 0, "row %d: local part", _i);
        ck_assert_uint_eq(a.domain_len, strlen(c->domain));
        ck_assert_msg(memcmp(a.domain, c->domain, a.domain_len) == 0, "row %d: domain", _i);
        /* the parts point into the input, they are not copies */
        ck_assert(a.local >= c->in && a.domain + a.domain_len <= c->in + c->len);
        ck_assert_ptr_null(why);
    } else if (st == DMG_ADDR_MALFORMED) {
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, c->reason) != NULL, "row %d: reason \"%s\" lacks \"%s\"", _i,
                      why, c->reason);
    }
}
END_TEST

/* Reasons are optional, and out may be NULL when only the verdict matters. */
START_TEST(test_parse_null_out_params)
{
    ck_assert_int_eq(dmg_addr_parse(LIT("a@b.c"), NULL, NULL), DMG_ADDR_OK);
    ck_assert_int_eq(dmg_addr_parse(LIT("a b@c"), NULL, NULL), DMG_ADDR_MALFORMED);
    ck_assert_int_eq(dmg_addr_parse(NULL, 0, NULL, NULL), DMG_ADDR_NULL);
    ck_assert_int_eq(dmg_addr_parse(NULL, 5, NULL, NULL), DMG_ADDR_MALFORMED);
}
END_TEST

/* len is honoured: bytes past it are never looked at, no NUL terminator needed. */
START_TEST(test_parse_respects_length)
{
    static const char buf[] = "a@example.com>>>garbage";
    struct dmg_addr a;

    ck_assert_int_eq(dmg_addr_parse(buf, 13, &a, NULL), DMG_ADDR_OK);
    ck_assert_uint_eq(a.domain_len, 11);
    ck_assert_int_eq(dmg_addr_parse(buf, 14, &a, NULL), DMG_ADDR_MALFORMED);
    ck_assert_int_eq(dmg_addr_parse(buf, 1, &a, NULL), DMG_ADDR_MALFORMED);
}
END_TEST

/* Every reason is one line of printable ASCII. */
START_TEST(test_reasons_are_printable)
{
    int i;

    for (i = 0; i < N_ROWS(parse_cases); i++) {
        const char *why = NULL;
        const char *p;

        if (dmg_addr_parse(parse_cases[i].in, parse_cases[i].len, NULL, &why) !=
            DMG_ADDR_MALFORMED)
            continue;
        for (p = why; *p; p++)
            ck_assert_msg(*p >= 0x20 && *p < 0x7f, "row %d: unprintable reason", i);
    }
}
END_TEST

/* ---- length boundaries ---- */

/* Fill d with a valid domain of exactly n (>= 1) octets, labels of at most 63 octets. */
static void fill_domain(char *d, size_t n)
{
    size_t pos = 0, rem;

    while (n - pos > 64) {
        memset(d + pos, 'b', 63);
        d[pos + 63] = '.';
        pos += 64;
    }
    rem = n - pos;
    memset(d + pos, 'b', rem);
    if (rem == 64)
        d[pos + 62] = '.';   /* a 64-octet tail becomes 62 + "." + 1 */
}

/* Write local_len 'a's, "@", a domain of domain_len octets and an optional suffix. */
static size_t make_address(char *buf, size_t local_len, size_t domain_len, const char *suffix)
{
    size_t n;

    memset(buf, 'a', local_len);
    buf[local_len] = '@';
    fill_domain(buf + local_len + 1, domain_len);
    n = local_len + 1 + domain_len;
    memcpy(buf + n, suffix, strlen(suffix) + 1);
    return n + strlen(suffix);
}

static enum dmg_addr_status parse_sized(size_t local_len, size_t domain_len, const char *suffix,
                                        const char **why)
{
    char buf[600];
    size_t n = make_address(buf, local_len, domain_len, suffix);

    *why = "";
    return dmg_addr_parse(buf, n, NULL, why);
}

START_TEST(test_total_length_boundary)
{
    const char *why;

    /* 254 octets is the limit: 64 + 1 + 189 */
    ck_assert_int_eq(parse_sized(64, 189, "", &why), DMG_ADDR_OK);
    ck_assert_int_eq(parse_sized(10, 243, "", &why), DMG_ADDR_OK);
    ck_assert_int_eq(parse_sized(64, 190, "", &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "address longer than 254 octets");
    ck_assert_int_eq(parse_sized(10, 244, "", &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "address longer than 254 octets");
    /* a trailing dot is not counted, brackets are not counted */
    ck_assert_int_eq(parse_sized(64, 189, ".", &why), DMG_ADDR_OK);
    ck_assert_int_eq(parse_sized(64, 190, ".", &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "address longer than 254 octets");
    /* far too long is refused before any scanning */
    ck_assert_int_eq(parse_sized(64, 500, "", &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "address longer than 254 octets");
}
END_TEST

START_TEST(test_total_length_with_brackets)
{
    char buf[600];
    size_t n;

    buf[0] = '<';
    n = make_address(buf + 1, 64, 189, ".>");   /* 254 + "." + "<>" = 257 raw octets */
    ck_assert_int_eq(dmg_addr_parse(buf, n + 1, NULL, NULL), DMG_ADDR_OK);
    n = make_address(buf + 1, 64, 190, ">");
    ck_assert_int_eq(dmg_addr_parse(buf, n + 1, NULL, NULL), DMG_ADDR_MALFORMED);
}
END_TEST

START_TEST(test_local_part_length_boundary)
{
    const char *why;
    char buf[100];
    struct dmg_addr a;

    ck_assert_int_eq(parse_sized(64, 11, "", &why), DMG_ADDR_OK);
    ck_assert_int_eq(parse_sized(65, 11, "", &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "local part longer than 64 octets");
    /* a quoted local part counts its quotes: 62 + 2 is fine, 63 + 2 is not */
    buf[0] = '"';
    memset(buf + 1, 'q', 62);
    memcpy(buf + 63, "\"@x.org", 7);
    ck_assert_int_eq(dmg_addr_parse(buf, 70, &a, NULL), DMG_ADDR_OK);
    ck_assert_uint_eq(a.local_len, 64);
    memset(buf + 1, 'q', 63);
    memcpy(buf + 64, "\"@x.org", 7);
    ck_assert_int_eq(dmg_addr_parse(buf, 71, NULL, &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "local part longer than 64 octets");
}
END_TEST

START_TEST(test_label_length_boundary)
{
    char buf[100];
    const char *why = NULL;

    memcpy(buf, "a@", 2);
    memset(buf + 2, 'l', 63);
    memcpy(buf + 65, ".org", 4);
    ck_assert_int_eq(dmg_addr_parse(buf, 69, NULL, NULL), DMG_ADDR_OK);
    memset(buf + 2, 'l', 64);
    memcpy(buf + 66, ".org", 4);
    ck_assert_int_eq(dmg_addr_parse(buf, 70, NULL, &why), DMG_ADDR_MALFORMED);
    ck_assert_str_eq(why, "domain label longer than 63 octets");
}
END_TEST

START_TEST(test_domain_check_length)
{
    char d[300];
    const char *why = NULL;

    fill_domain(d, 253);
    ck_assert_int_eq(dmg_domain_check(d, 253, NULL), 0);
    d[253] = '.';
    ck_assert_int_eq(dmg_domain_check(d, 254, NULL), 0);
    fill_domain(d, 254);
    ck_assert_int_eq(dmg_domain_check(d, 254, &why), -1);
    ck_assert_str_eq(why, "domain longer than 253 octets");
    ck_assert_int_eq(dmg_domain_check(NULL, 0, &why), -1);
    ck_assert_str_eq(why, "empty domain");
}
END_TEST

/* ---- comparisons ---- */

struct equal_case {
    const char *a;
    size_t la;
    const char *b;
    size_t lb;
    int equal;
};

static const struct equal_case domain_equal_cases[] = {
    { LIT("example.com"), LIT("example.com"), 1 },
    { LIT("Example.COM"), LIT("eXAMPLE.com"), 1 },
    { LIT("example.com."), LIT("example.com"), 1 },
    { LIT("example.com"), LIT("EXAMPLE.COM."), 1 },
    { LIT("example.com."), LIT("example.com."), 1 },
    { LIT("example.com.."), LIT("example.com"), 0 },
    { LIT("sub.example.com"), LIT("example.com"), 0 },
    { LIT("example.com"), LIT("example.co"), 0 },
    { LIT("example.org"), LIT("example.com"), 0 },
    { LIT(""), LIT(""), 0 },
    { LIT("."), LIT(""), 0 },
    { LIT("[192.0.2.1]"), LIT("[192.0.2.1]"), 1 },
    { LIT("[IPv6:2001:DB8::1]"), LIT("[ipv6:2001:db8::1]"), 1 },
    { LIT("b\xc3\x9c"), LIT("b\xc3\xbc"), 0 },   /* only ASCII folds */
};

START_TEST(test_domain_equal_table)
{
    const struct equal_case *c = &domain_equal_cases[_i];

    ck_assert_msg(dmg_addr_domain_equal(c->a, c->la, c->b, c->lb) == c->equal, "row %d", _i);
    ck_assert_msg(dmg_addr_domain_equal(c->b, c->lb, c->a, c->la) == c->equal,
                  "row %d (swapped)", _i);
}
END_TEST

static const struct equal_case addr_equal_cases[] = {
    { LIT("user@example.com"), LIT("user@example.com"), 1 },
    { LIT("User@Example.Com"), LIT("uSER@example.COM"), 1 },
    { LIT("user@example.com."), LIT("user@example.com"), 1 },
    { LIT("<user@example.com>"), LIT("user@example.com"), 1 },
    { LIT(" user@example.com  "), LIT("user@example.com"), 1 },
    { LIT("\"A b\"@example.com"), LIT("\"a B\"@EXAMPLE.com"), 1 },
    { LIT("user@example.com"), LIT("user2@example.com"), 0 },
    { LIT("user@example.com"), LIT("user@sub.example.com"), 0 },
    { LIT("\"user\"@example.com"), LIT("user@example.com"), 0 },
    { LIT("user@example.com"), LIT("@example.com"), 0 },
    { LIT(""), LIT(""), 0 },
    { LIT("<>"), LIT("<>"), 0 },
    { LIT("a b@example.com"), LIT("a b@example.com"), 0 },
    { LIT("a@b@example.com"), LIT("a@b@example.com"), 0 },
    { LIT("us\0er@example.com"), LIT("us"), 0 },
};

START_TEST(test_addr_equal_table)
{
    const struct equal_case *c = &addr_equal_cases[_i];

    ck_assert_msg(dmg_addr_equal(c->a, c->la, c->b, c->lb) == c->equal, "row %d", _i);
    ck_assert_msg(dmg_addr_equal(c->b, c->lb, c->a, c->la) == c->equal, "row %d (swapped)", _i);
}
END_TEST

START_TEST(test_equal_null_pointers)
{
    ck_assert_int_eq(dmg_addr_equal(NULL, 0, LIT("a@b.c")), 0);
    ck_assert_int_eq(dmg_addr_equal(LIT("a@b.c"), NULL, 0), 0);
    ck_assert_int_eq(dmg_addr_domain_equal(NULL, 0, NULL, 0), 0);
    ck_assert_int_eq(dmg_addr_domain_equal(NULL, 3, LIT("b.c")), 0);
    ck_assert_int_eq(dmg_addr_domain_equal(LIT("b.c"), NULL, 3), 0);
}
END_TEST

START_TEST(test_canonical_form)
{
    struct dmg_addr a;
    char buf[DMG_ADDR_MAX_LEN + 1];
    char small[6];

    ck_assert_int_eq(dmg_addr_parse(LIT("<Some.One@Example.COM.>"), &a, NULL), DMG_ADDR_OK);
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, sizeof buf), 20);
    ck_assert_str_eq(buf, "Some.One@Example.COM");
    /* too small: nothing but an empty string, and 0 */
    ck_assert_uint_eq(dmg_addr_canonical(&a, small, sizeof small), 0);
    ck_assert_str_eq(small, "");
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, 20), 0);   /* no room for the NUL */
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, 21), 20);
    ck_assert_uint_eq(dmg_addr_canonical(NULL, buf, sizeof buf), 0);
    ck_assert_uint_eq(dmg_addr_canonical(&a, NULL, 10), 0);
    ck_assert_uint_eq(dmg_addr_canonical(&a, small, 0), 0);
}
END_TEST

/* A hand-made struct that no parse would produce is refused, not overrun. */
START_TEST(test_canonical_refuses_bad_struct)
{
    static const char big[300];
    struct dmg_addr a;
    char buf[600];

    memset(&a, 0, sizeof a);
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, sizeof buf), 0);
    a.local = big;
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, sizeof buf), 0);
    a.domain = big;
    a.local_len = 200;
    a.domain_len = 54;
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    a.domain_len = 53;
    ck_assert_uint_eq(dmg_addr_canonical(&a, buf, sizeof buf), 254);
}
END_TEST

/* ---- dmgWhitelist values ---- */

struct whitelist_case {
    const char *in;
    size_t len;
    int valid;
    const char *reason;   /* invalid: substring of the reason */
};

#define WL_OK(in) { LIT(in), 1, NULL }
#define WL_BAD(in, why) { LIT(in), 0, why }

static const struct whitelist_case whitelist_cases[] = {
    WL_OK("user@example.com"),
    WL_OK("User@Example.COM"),
    WL_OK("@example.com"),
    WL_OK("@example.com."),
    WL_OK("@localhost"),
    WL_OK("\"a b\"@example.com"),
    WL_OK("@[192.0.2.1]"),
    WL_OK("a@[IPv6:2001:db8::1]"),
    WL_BAD("", "empty whitelist value"),
    WL_BAD("@", "empty domain"),
    WL_BAD("@.", "empty domain"),
    WL_BAD("@@example.com", "more than one @"),
    WL_BAD("@.example.com", "empty label"),
    WL_BAD("@example..com", "empty label"),
    WL_BAD("@exa mple.com", "control character or space"),
    WL_BAD("@example.com\n", "control character or space"),
    WL_BAD("@exa\0mple.com", "control character or space"),
    WL_BAD("example.com", "has no @"),
    WL_BAD("user@", "empty domain"),
    WL_BAD("<user@example.com>", "angle brackets"),
    WL_BAD("<>", "angle brackets"),
    WL_BAD("<user@example.com", "angle brackets"),
    WL_BAD("user@example.com>", "angle brackets"),
    WL_BAD(" user@example.com", "control character or space"),
    WL_BAD("user@example.com ", "control character or space"),
    WL_BAD("us er@example.com", "control character or space"),
    WL_BAD("j\xc3\xb6rg@example.com", "non-ASCII"),
    WL_BAD("@b\xc3\xbc" "cher.de", "non-ASCII"),
    WL_BAD("@-example.com", "hyphen"),
    WL_BAD("@example_x.com", "invalid character in domain"),
    WL_BAD("@[192.0.2.300]", "malformed IPv4"),
    WL_BAD(".user@example.com", "starts with a dot"),
};

START_TEST(test_whitelist_table)
{
    const struct whitelist_case *c = &whitelist_cases[_i];
    const char *why = NULL;
    int r = dmg_whitelist_value_check(c->in, c->len, &why);

    if (c->valid) {
        ck_assert_msg(r == 0, "row %d: rejected (%s)", _i, why ? why : "-");
    } else {
        ck_assert_msg(r == -1, "row %d: accepted", _i);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(strstr(why, c->reason) != NULL, "row %d: reason \"%s\" lacks \"%s\"", _i,
                      why, c->reason);
    }
}
END_TEST

START_TEST(test_whitelist_null_args)
{
    ck_assert_int_eq(dmg_whitelist_value_check(NULL, 0, NULL), -1);
    ck_assert_int_eq(dmg_whitelist_value_check(NULL, 4, NULL), -1);
    ck_assert_int_eq(dmg_whitelist_value_check(LIT("@x.org"), NULL), 0);
    ck_assert_int_eq(dmg_whitelist_value_check(LIT("@x..org"), NULL), -1);
}
END_TEST

static Suite *address_suite(void)
{
    Suite *s = suite_create("address");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse_table, 0, N_ROWS(parse_cases));
    tcase_add_test(tc, test_parse_null_out_params);
    tcase_add_test(tc, test_parse_respects_length);
    tcase_add_test(tc, test_reasons_are_printable);
    suite_add_tcase(s, tc);

    tc = tcase_create("lengths");
    tcase_add_test(tc, test_total_length_boundary);
    tcase_add_test(tc, test_total_length_with_brackets);
    tcase_add_test(tc, test_local_part_length_boundary);
    tcase_add_test(tc, test_label_length_boundary);
    tcase_add_test(tc, test_domain_check_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("compare");
    tcase_add_loop_test(tc, test_domain_equal_table, 0, N_ROWS(domain_equal_cases));
    tcase_add_loop_test(tc, test_addr_equal_table, 0, N_ROWS(addr_equal_cases));
    tcase_add_test(tc, test_equal_null_pointers);
    tcase_add_test(tc, test_canonical_form);
    tcase_add_test(tc, test_canonical_refuses_bad_struct);
    suite_add_tcase(s, tc);

    tc = tcase_create("whitelist");
    tcase_add_loop_test(tc, test_whitelist_table, 0, N_ROWS(whitelist_cases));
    tcase_add_test(tc, test_whitelist_null_args);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(address_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
