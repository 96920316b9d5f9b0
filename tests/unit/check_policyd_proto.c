/*
 * check_policyd_proto.c - unit tests for tools/policyd_proto.c (dmg-policyd's protocol side):
 * request parsing and its bounds, classification, the LDAP filter text, replies and their
 * sanitising, and configuration lines.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policyd_proto.h"

#define LIT(s) s, (sizeof(s) - 1)

/* A request as Postfix 3.7 sends it in the RCPT state (SMTPD_POLICY_README). */
#define POSTFIX_REQUEST(sender, recipient) \
    "request=smtpd_access_policy\n" \
    "protocol_state=RCPT\n" \
    "protocol_name=ESMTP\n" \
    "client_address=127.0.0.1\n" \
    "client_name=localhost\n" \
    "client_port=40312\n" \
    "reverse_client_name=localhost\n" \
    "server_address=127.0.0.1\n" \
    "server_port=25\n" \
    "helo_name=client.example.org\n" \
    "sender=" sender "\n" \
    "recipient=" recipient "\n" \
    "recipient_count=0\n" \
    "queue_id=\n" \
    "instance=1d2a.6565d6a1.9c2c1.0\n" \
    "size=0\n" \
    "etrn_domain=\n" \
    "stress=\n" \
    "sasl_method=\n" \
    "sasl_username=\n" \
    "sasl_sender=\n" \
    "ccert_subject=\n" \
    "ccert_issuer=\n" \
    "ccert_fingerprint=\n" \
    "ccert_pubkey_fingerprint=\n" \
    "encryption_protocol=\n" \
    "encryption_cipher=\n" \
    "encryption_keysize=0\n" \
    "policy_context=\n" \
    "compatibility_level=3.6\n" \
    "mail_version=3.7.11\n" \
    "\n"

static pd_parser P; /* 130 KiB: not on the stack */

/* Feed all of data at once; the outcome and the bytes consumed. */
static enum pd_feed feed(const char *data, size_t len, size_t *consumed)
{
    size_t used = 0;
    enum pd_feed f = pd_parser_feed(&P, data, len, &used);
    ck_assert_uint_le(used, len);
    if (consumed != NULL)
        *consumed = used;
    return f;
}

/* Feed a whole request (reset first) and demand that it ends exactly at its end. */
static void parse_whole(const char *data, size_t len)
{
    size_t used = 0;
    pd_parser_reset(&P);
    ck_assert_int_eq(feed(data, len, &used), PD_FEED_DONE);
    ck_assert_uint_eq(used, len);
    ck_assert_int_eq(pd_parser_pending(&P), 1);
}

/* A growable text for big requests. */
struct text {
    char *s;
    size_t len, cap;
};

static void t_putn(struct text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        ck_assert_ptr_nonnull(t->s);
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
}

static void t_puts(struct text *t, const char *s)
{
    t_putn(t, s, strlen(s));
}

/* "aN=" followed by value bytes so that the line (without "\n") has exactly len bytes. */
static void t_line(struct text *t, unsigned n, size_t len)
{
    char name[32];
    int k = snprintf(name, sizeof name, "a%u=", n);
    ck_assert_uint_ge(len, (size_t)k);
    t_puts(t, name);
    for (size_t i = (size_t)k; i < len; i++)
        t_putn(t, "x", 1);
    t_putn(t, "\n", 1);
}

/* =========================================================================================
 * Parsing
 * ======================================================================================= */

START_TEST(test_normal_request)
{
    static const char req[] = POSTFIX_REQUEST("alice@example.com", "eng@example.com");
    const char *rcpt, *sender, *why;

    parse_whole(LIT(req));
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_str_eq(pd_request_detail(&P), "");
    ck_assert_uint_eq(pd_request_nattrs(&P), 31);
    ck_assert_str_eq(pd_request_get(&P, "request"), "smtpd_access_policy");
    ck_assert_str_eq(pd_request_get(&P, "sender"), "alice@example.com");
    ck_assert_str_eq(pd_request_get(&P, "recipient"), "eng@example.com");
    ck_assert_str_eq(pd_request_get(&P, "queue_id"), "");
    ck_assert_str_eq(pd_request_get(&P, "mail_version"), "3.7.11");
    ck_assert_ptr_null(pd_request_get(&P, "Recipient")); /* names are case-sensitive */
    ck_assert_ptr_null(pd_request_get(&P, "nonexistent"));
    ck_assert_ptr_null(pd_request_get(&P, NULL));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_LOOKUP);
    ck_assert_str_eq(rcpt, "eng@example.com");
    ck_assert_str_eq(sender, "alice@example.com");

    pd_parser_reset(&P);
    ck_assert_int_eq(pd_parser_pending(&P), 0);
}
END_TEST

/* The same request in every chunking: byte by byte gives the same result. */
START_TEST(test_byte_by_byte)
{
    static const char req[] = POSTFIX_REQUEST("x@example.org", "eng@example.com");
    pd_parser_reset(&P);
    for (size_t i = 0; i < sizeof req - 1; i++) {
        size_t used = 0;
        enum pd_feed f = pd_parser_feed(&P, req + i, 1, &used);
        ck_assert_uint_eq(used, 1);
        ck_assert_int_eq(f, i == sizeof req - 2 ? PD_FEED_DONE : PD_FEED_MORE);
    }
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_str_eq(pd_request_get(&P, "sender"), "x@example.org");
}
END_TEST

/* Two requests in one read: the parser stops after the first. */
START_TEST(test_two_requests_in_one_buffer)
{
    static const char two[] = "request=smtpd_access_policy\nrecipient=a@x\n\n"
                              "request=smtpd_access_policy\nrecipient=b@x\n\n";
    size_t used = 0, first = strlen("request=smtpd_access_policy\nrecipient=a@x\n\n");

    pd_parser_reset(&P);
    ck_assert_int_eq(feed(LIT(two), &used), PD_FEED_DONE);
    ck_assert_uint_eq(used, first);
    ck_assert_str_eq(pd_request_get(&P, "recipient"), "a@x");
    pd_parser_reset(&P);
    ck_assert_int_eq(feed(two + used, sizeof two - 1 - used, &used), PD_FEED_DONE);
    ck_assert_str_eq(pd_request_get(&P, "recipient"), "b@x");
}
END_TEST

START_TEST(test_missing_recipient)
{
    static const char req[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                              "sender=a@example.com\n\n";
    static const char empty[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                                "sender=a@example.com\nrecipient=\n\n";
    const char *rcpt = "x", *sender = "x", *why = NULL;

    parse_whole(LIT(req));
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_DUNNO);
    ck_assert_str_eq(why, "no recipient");
    ck_assert_ptr_null(rcpt);
    ck_assert_ptr_null(sender);

    parse_whole(LIT(empty));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_DUNNO);
    ck_assert_str_eq(why, "no recipient");
}
END_TEST

START_TEST(test_null_sender)
{
    static const char req[] = POSTFIX_REQUEST("", "eng@example.com");
    static const char no_sender[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                                    "recipient=eng@example.com\n\n";
    const char *rcpt, *sender, *why;

    parse_whole(LIT(req));
    ck_assert_str_eq(pd_request_get(&P, "sender"), "");
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_LOOKUP);
    ck_assert_str_eq(sender, "");
    ck_assert_str_eq(rcpt, "eng@example.com");

    /* no sender attribute at all: treated as the null sender */
    parse_whole(LIT(no_sender));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_LOOKUP);
    ck_assert_str_eq(sender, "");
}
END_TEST

START_TEST(test_not_rcpt_state)
{
    static const char data[] = "request=smtpd_access_policy\nprotocol_state=DATA\n"
                               "sender=a@example.com\nrecipient=eng@example.com\n\n";
    static const char lower[] = "request=smtpd_access_policy\nprotocol_state=rcpt\n"
                                "recipient=eng@example.com\n\n";
    static const char other[] = "request=junk\nprotocol_state=RCPT\n"
                                "recipient=eng@example.com\n\n";
    static const char no_state[] = "request=smtpd_access_policy\nrecipient=eng@example.com\n\n";
    const char *rcpt, *sender, *why;

    parse_whole(LIT(data));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_DUNNO);
    ck_assert_str_eq(why, "protocol_state is not RCPT");
    parse_whole(LIT(lower));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_LOOKUP);
    parse_whole(LIT(other));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_DUNNO);
    ck_assert_str_eq(why, "not an smtpd_access_policy request");
    parse_whole(LIT(no_state));
    ck_assert_int_eq(pd_classify(&P, &rcpt, &sender, &why), PD_ACT_DUNNO);
}
END_TEST

START_TEST(test_crlf_tolerated)
{
    static const char req[] = "request=smtpd_access_policy\r\nprotocol_state=RCPT\r\n"
                              "sender=a@example.com\r\nrecipient=eng@example.com\r\n\r\n";
    static const char mixed[] = "request=smtpd_access_policy\nsender=a@b\r\n\r\n";
    static const char inner_cr[] = "a=x\ry\nb=z\r\r\n\n";

    parse_whole(LIT(req));
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_str_eq(pd_request_get(&P, "sender"), "a@example.com");
    ck_assert_str_eq(pd_request_get(&P, "recipient"), "eng@example.com");
    ck_assert_str_eq(pd_request_get(&P, "protocol_state"), "RCPT");

    parse_whole(LIT(mixed));
    ck_assert_str_eq(pd_request_get(&P, "sender"), "a@b");

    /* only one "\r" right before "\n" is a line end */
    parse_whole(LIT(inner_cr));
    ck_assert_str_eq(pd_request_get(&P, "a"), "x\ry");
    ck_assert_str_eq(pd_request_get(&P, "b"), "z\r");
}
END_TEST

/* A line of PD_LINE_MAX bytes is fine (also with CRLF); one byte more is not, and the
 * parser is back in step for the next request. */
START_TEST(test_oversized_line)
{
    struct text t = { 0 };
    static const char next[] = "request=smtpd_access_policy\nrecipient=b@x\n\n";

    t_line(&t, 1, PD_LINE_MAX);
    t_puts(&t, "\n");
    parse_whole(t.s, t.len);
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_uint_eq(strlen(pd_request_get(&P, "a1")), PD_LINE_MAX - 3);

    t.len = 0;
    t_line(&t, 1, PD_LINE_MAX);
    t.s[t.len - 1] = '\r';
    t_puts(&t, "\n\r\n");
    parse_whole(t.s, t.len);
    ck_assert_int_eq(pd_request_status(&P), PD_OK);

    t.len = 0;
    t_puts(&t, "request=smtpd_access_policy\n");
    t_line(&t, 1, PD_LINE_MAX + 1);
    t_puts(&t, "recipient=a@x\n\n");
    t_puts(&t, next);
    pd_parser_reset(&P);
    size_t used = 0;
    ck_assert_int_eq(feed(t.s, t.len, &used), PD_FEED_DONE);
    ck_assert_uint_eq(used, t.len - strlen(next));
    ck_assert_int_eq(pd_request_status(&P), PD_ERR_LINE_TOO_LONG);
    ck_assert_str_eq(pd_request_detail(&P), "line longer than 2048 bytes");
    ck_assert_ptr_null(pd_request_get(&P, "recipient"));
    const char *r, *s, *why;
    ck_assert_int_eq(pd_classify(&P, &r, &s, &why), PD_ACT_DUNNO);

    pd_parser_reset(&P);
    ck_assert_int_eq(feed(t.s + used, t.len - used, NULL), PD_FEED_DONE);
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_str_eq(pd_request_get(&P, "recipient"), "b@x");
    free(t.s);
}
END_TEST

/* Exactly PD_REQUEST_MAX bytes (final "\n" included) is fine; one more is not. */
START_TEST(test_oversized_request)
{
    struct text t = { 0 };
    /* 32 lines of 2000 bytes + "\n" each = 64032; the rest in one more line */
    for (unsigned i = 0; i < 32; i++)
        t_line(&t, i, 2000);
    size_t rest = PD_REQUEST_MAX - t.len - 1 /* final empty line */ - 1 /* its "\n" */;
    t_line(&t, 99, rest);
    t_puts(&t, "\n");
    ck_assert_uint_eq(t.len, PD_REQUEST_MAX);
    parse_whole(t.s, t.len);
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_uint_eq(pd_request_nattrs(&P), 33);

    t.len = 0;
    for (unsigned i = 0; i < 32; i++)
        t_line(&t, i, 2000);
    t_line(&t, 99, rest + 1);
    t_puts(&t, "\n");
    ck_assert_uint_eq(t.len, PD_REQUEST_MAX + 1);
    parse_whole(t.s, t.len);
    ck_assert_int_eq(pd_request_status(&P), PD_ERR_REQUEST_TOO_LARGE);
    ck_assert_str_eq(pd_request_detail(&P), "request longer than 65536 bytes");

    /* much larger, still ended within the discard bound: answered, then in step again */
    t.len = 0;
    for (unsigned i = 0; i < 100; i++)
        t_line(&t, i % 40, 2000); /* a0 again at line 41: after the size error */
    t_puts(&t, "\nrecipient=c@x\n\n");
    pd_parser_reset(&P);
    size_t used = 0;
    ck_assert_int_eq(feed(t.s, t.len, &used), PD_FEED_DONE);
    ck_assert_int_eq(pd_request_status(&P), PD_ERR_REQUEST_TOO_LARGE); /* the first error */
    pd_parser_reset(&P);
    ck_assert_int_eq(feed(t.s + used, t.len - used, NULL), PD_FEED_DONE);
    ck_assert_str_eq(pd_request_get(&P, "recipient"), "c@x");
    free(t.s);
}
END_TEST

START_TEST(test_too_many_attributes)
{
    struct text t = { 0 };
    for (unsigned i = 0; i < PD_ATTRS_MAX; i++)
        t_line(&t, i, 8);
    t_puts(&t, "\n");
    parse_whole(t.s, t.len);
    ck_assert_int_eq(pd_request_status(&P), PD_OK);
    ck_assert_uint_eq(pd_request_nattrs(&P), PD_ATTRS_MAX);

    t.len = 0;
    for (unsigned i = 0; i <= PD_ATTRS_MAX; i++)
        t_line(&t, i, 8);
    t_puts(&t, "\n");
    parse_whole(t.s, t.len);
    ck_assert_int_eq(pd_request_status(&P), PD_ERR_TOO_MANY_ATTRS);
    ck_assert_str_eq(pd_request_detail(&P), "more than 100 attributes");
    ck_assert_str_eq(pd_status_name(PD_ERR_TOO_MANY_ATTRS), "too many attributes");
    free(t.s);
}
END_TEST

struct malformed_case {
    const char *data;
    size_t len;
    const char *detail;
};

#define MC(s, d) { s, sizeof(s) - 1, d }
static const struct malformed_case malformed_cases[] = {
    MC("\n", "empty request"),
    MC("\r\n", "empty request"),
    MC("no equals sign\n\n", "line without \"=\""),
    MC("=value\n\n", "empty attribute name"),
    MC("bad name=x\n\n", "invalid character in an attribute name"),
    MC("na\xc3\xa9me=x\n\n", "invalid character in an attribute name"),
    MC("sender=a\0b@example.com\n\n", "NUL byte in a line"),
    MC("\0\0\0\n\n", "NUL byte in a line"),
    MC("recipient=a@x\nrecipient=b@x\n\n", "attribute given twice"),
    MC("\x01\x02\xff\xfe=\n\n", "invalid character in an attribute name"),
};

START_TEST(test_malformed)
{
    const struct malformed_case *c = &malformed_cases[_i];
    parse_whole(c->data, c->len);
    ck_assert_int_eq(pd_request_status(&P), PD_ERR_MALFORMED);
    ck_assert_str_eq(pd_request_detail(&P), c->detail);
    ck_assert_uint_eq(pd_request_nattrs(&P) <= 1, 1);
}
END_TEST

/* Binary junk without line ends: consumed in bounded memory, then given up on. */
START_TEST(test_binary_junk_without_newline)
{
    char junk[4096];
    uint32_t x = 2463534242u;
    size_t total = 0;
    enum pd_feed f = PD_FEED_MORE;

    for (size_t i = 0; i < sizeof junk; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        junk[i] = (char)(x & 0xff);
        if (junk[i] == '\n')
            junk[i] = 0;
    }
    pd_parser_reset(&P);
    while (f == PD_FEED_MORE && total < 2 * (PD_REQUEST_MAX + PD_DISCARD_MAX)) {
        size_t used = 0;
        f = feed(junk, sizeof junk, &used);
        total += used;
    }
    ck_assert_int_eq(f, PD_FEED_BROKEN);
    ck_assert_uint_eq(total, PD_REQUEST_MAX + PD_DISCARD_MAX + 1);
    ck_assert_int_ne(pd_request_status(&P), PD_OK);
}
END_TEST

/* Random bytes with random chunking never break the invariants. */
START_TEST(test_random_streams)
{
    static char buf[8192];
    uint32_t x = 88172645u + (uint32_t)_i;
    for (int round = 0; round < 40; round++) {
        size_t n = 0;
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        size_t len = 1 + x % sizeof buf;
        for (n = 0; n < len; n++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            unsigned k = x % 16;
            buf[n] = k < 3 ? '\n' : k < 5 ? '=' : k < 6 ? '\r' : k < 10 ? (char)('a' + k)
                                                                        : (char)(x >> 8);
        }
        pd_parser_reset(&P);
        size_t pos = 0;
        while (pos < len) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            size_t chunk = 1 + x % 700;
            if (chunk > len - pos)
                chunk = len - pos;
            size_t used = 0;
            enum pd_feed f = pd_parser_feed(&P, buf + pos, chunk, &used);
            ck_assert_uint_le(used, chunk);
            pos += used;
            if (f == PD_FEED_DONE) {
                size_t na = pd_request_nattrs(&P);
                ck_assert_uint_le(na, PD_ATTRS_MAX);
                if (pd_request_status(&P) == PD_OK) {
                    ck_assert_uint_gt(na, 0);
                    for (size_t a = 0; a < na; a++) {
                        ck_assert_uint_gt(strlen(P.attrs[a].name), 0);
                        ck_assert_uint_eq(strlen(P.attrs[a].value), P.attrs[a].value_len);
                        ck_assert_ptr_eq(pd_request_get(&P, P.attrs[a].name), P.attrs[a].value);
                    }
                }
                pd_parser_reset(&P);
            } else {
                ck_assert_int_eq(f, PD_FEED_MORE);
                ck_assert_uint_eq(used, chunk);
            }
        }
    }
}
END_TEST

/* =========================================================================================
 * Replies
 * ======================================================================================= */

static const char *reply_for(enum pd_result r, const char *reason, const char *auditors)
{
    static char out[PD_REPLY_MAX];
    struct pd_lookup l;
    pd_lookup_init(&l);
    l.result = r;
    snprintf(l.reason, sizeof l.reason, "%s", reason);
    snprintf(l.auditors, sizeof l.auditors, "%s", auditors);
    size_t n = pd_format_lookup_reply(out, sizeof out, &l);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

START_TEST(test_reply_formatting)
{
    ck_assert_str_eq(reply_for(PD_RES_NOT_GROUP, "", ""), "action=DUNNO\n\n");
    ck_assert_str_eq(reply_for(PD_RES_ACCEPT, "sender allowed", "a@x"), "action=DUNNO\n\n");
    ck_assert_str_eq(reply_for(PD_RES_HOLD, "held", "audit@example.com, boss@example.com"),
                     "action=HOLD awaiting audit by audit@example.com, boss@example.com\n\n");
    ck_assert_str_eq(reply_for(PD_RES_HOLD, "held", ""), "action=HOLD awaiting audit\n\n");
    ck_assert_str_eq(reply_for(PD_RES_REJECT,
                               "sender x@example.org is not allowed to send to "
                               "eng@example.com (policy: domain)", ""),
                     "action=REJECT 5.7.1 sender x@example.org is not allowed to send to "
                     "eng@example.com (policy: domain)\n\n");
    ck_assert_str_eq(reply_for(PD_RES_REJECT, "", ""),
                     "action=REJECT 5.7.1 sender not allowed to send to this group\n\n");
    ck_assert_str_eq(reply_for(PD_RES_UNAVAILABLE, "", ""),
                     "action=DEFER_IF_PERMIT 4.3.0 directory unavailable\n\n");
    ck_assert_str_eq(reply_for(PD_RES_FAILED, "", ""),
                     "action=DEFER_IF_PERMIT 4.3.0 directory lookup failed\n\n");
    ck_assert_str_eq(reply_for(PD_RES_NO_DECISION, "", ""),
                     "action=DEFER_IF_PERMIT 4.3.0 no decision from directory\n\n");
    /* over dynmailgroup-max-members: for good, not deferred until the message expires */
    ck_assert_str_eq(reply_for(PD_RES_TOO_LARGE, "", ""),
                     "action=REJECT 5.5.3 group too large: more members than the directory "
                     "expands\n\n");
}
END_TEST

/* Directory text never breaks the reply: no line ends, no control or non-ASCII bytes, and
 * a bounded length. */
START_TEST(test_reply_sanitised)
{
    const char *r = reply_for(PD_RES_REJECT, "bad\r\naction=OK\n\n\t\x01sender \xc3\xa9\x7f", "");
    ck_assert_str_eq(r, "action=REJECT 5.7.1 bad  action=OK    sender ???\n\n");

    char longreason[PD_LOOKUP_TEXT];
    memset(longreason, 'r', sizeof longreason - 1);
    longreason[sizeof longreason - 1] = '\0';
    r = reply_for(PD_RES_REJECT, longreason, "");
    ck_assert_uint_eq(strlen(r), strlen("action=REJECT ") + PD_TEXT_MAX + 2);
    ck_assert_str_eq(r + strlen(r) - 5, "...\n\n");
    ck_assert_int_eq(strncmp(r, "action=REJECT 5.7.1 rrrr", 24), 0);

    r = reply_for(PD_RES_HOLD, "", "a@x\nb@y");
    ck_assert_str_eq(r, "action=HOLD awaiting audit by a@x b@y\n\n");
}
END_TEST

START_TEST(test_format_reply_bounds)
{
    char out[PD_REPLY_MAX];
    char small[PD_REPLY_MAX - 1];
    ck_assert_uint_eq(pd_format_reply(out, sizeof out, "DUNNO", NULL, 0), 12 + 2);
    ck_assert_str_eq(out, "action=DUNNO\n\n");
    ck_assert_uint_eq(pd_format_reply(out, sizeof out, "DUNNO", "   ", 3), 14);
    ck_assert_str_eq(out, "action=DUNNO\n\n");
    ck_assert_uint_eq(pd_format_reply(small, sizeof small, "DUNNO", NULL, 0), 0);
    ck_assert_uint_eq(pd_format_reply(out, sizeof out, "", NULL, 0), 0);
    ck_assert_uint_eq(pd_format_reply(out, sizeof out, "TWO WORDS", NULL, 0), 0);
    ck_assert_uint_eq(pd_format_reply(out, sizeof out, "A\nB", NULL, 0), 0);
    ck_assert_uint_eq(pd_format_reply(NULL, sizeof out, "DUNNO", NULL, 0), 0);
    /* explicit length: bytes after it are not used */
    ck_assert_uint_gt(pd_format_reply(out, sizeof out, "REJECT", "5.7.1 abcdef", 9), 0);
    ck_assert_str_eq(out, "action=REJECT 5.7.1 abc\n\n");
    struct pd_lookup l;
    pd_lookup_init(&l);
    ck_assert_uint_eq(pd_format_lookup_reply(small, sizeof small, &l), 0);
    ck_assert_uint_eq(pd_format_lookup_reply(out, sizeof out, NULL), 0);
}
END_TEST

START_TEST(test_sanitize)
{
    char out[16];
    ck_assert_uint_eq(pd_sanitize(out, sizeof out, LIT("  a\tb  ")), 3);
    ck_assert_str_eq(out, "a b");
    ck_assert_uint_eq(pd_sanitize(out, sizeof out, LIT("\x80z\x7f")), 3);
    ck_assert_str_eq(out, "?z?");
    ck_assert_uint_eq(pd_sanitize(out, sizeof out, LIT("0123456789abcdefghij")), 15);
    ck_assert_str_eq(out, "0123456789ab...");
    ck_assert_uint_eq(pd_sanitize(out, sizeof out, LIT("0123456789a     bcdefghij")), 14);
    ck_assert_str_eq(out, "0123456789a...");
    ck_assert_uint_eq(pd_sanitize(out, sizeof out, NULL, 5), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(pd_sanitize(out, 1, LIT("abc")), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(pd_sanitize(out, 3, LIT("abc")), 2);
    ck_assert_uint_eq(pd_sanitize(out, sizeof out, LIT("a\0b")), 3);
    ck_assert_str_eq(out, "a b");
    ck_assert_uint_eq(pd_sanitize(out, 0, LIT("abc")), 0);
}
END_TEST

START_TEST(test_join_sorted)
{
    char out[64];
    const char *items[] = { "zed@example.com", "Bob@example.com", "alice@example.com",
                            "bob@example.com", NULL, "alice@example.com" };
    ck_assert_uint_eq(pd_join_sorted(out, sizeof out, items, 6),
                      strlen("alice@example.com, Bob@example.com, zed@example.com"));
    ck_assert_str_eq(out, "alice@example.com, Bob@example.com, zed@example.com");
    ck_assert_uint_eq(pd_join_sorted(out, sizeof out, items, 0), 0);
    ck_assert_str_eq(out, "");

    char small[24];
    pd_join_sorted(small, sizeof small, items, 6);
    ck_assert_str_eq(small, "alice@example.com, B...");

    const char *many[PD_JOIN_MAX + 5];
    for (size_t i = 0; i < PD_JOIN_MAX + 5; i++)
        many[i] = "a";
    pd_join_sorted(out, sizeof out, many, PD_JOIN_MAX + 5);
    ck_assert_str_eq(out, "a, ...");
}
END_TEST

START_TEST(test_decisions)
{
    ck_assert_int_eq(pd_decision_result(LIT("accept")), PD_RES_ACCEPT);
    ck_assert_int_eq(pd_decision_result(LIT("HOLD")), PD_RES_HOLD);
    ck_assert_int_eq(pd_decision_result(LIT("Reject")), PD_RES_REJECT);
    ck_assert_int_eq(pd_decision_result(LIT("rejected")), PD_RES_NO_DECISION);
    ck_assert_int_eq(pd_decision_result("accept", 5), PD_RES_NO_DECISION);
    ck_assert_int_eq(pd_decision_result(LIT("")), PD_RES_NO_DECISION);
    ck_assert_int_eq(pd_decision_result(NULL, 0), PD_RES_NO_DECISION);
    ck_assert_int_eq(pd_result_combine(PD_RES_ACCEPT, PD_RES_REJECT), PD_RES_REJECT);
    ck_assert_int_eq(pd_result_combine(PD_RES_REJECT, PD_RES_HOLD), PD_RES_REJECT);
    ck_assert_int_eq(pd_result_combine(PD_RES_HOLD, PD_RES_ACCEPT), PD_RES_HOLD);
    ck_assert_int_eq(pd_result_combine(PD_RES_ACCEPT, PD_RES_NO_DECISION), PD_RES_NO_DECISION);
    ck_assert_int_eq(pd_result_combine(PD_RES_NOT_GROUP, PD_RES_ACCEPT), PD_RES_ACCEPT);
    ck_assert_str_eq(pd_result_name(PD_RES_HOLD), "hold");
    ck_assert_str_eq(pd_result_name(PD_RES_NOT_GROUP), "not-a-group");
    ck_assert_str_eq(pd_result_name(PD_RES_TOO_LARGE), "too-large");
    ck_assert_int_eq(pd_result_combine(PD_RES_ACCEPT, PD_RES_TOO_LARGE), PD_RES_TOO_LARGE);
    ck_assert_int_eq(pd_result_combine(PD_RES_TOO_LARGE, PD_RES_FAILED), PD_RES_FAILED);
}
END_TEST

/* =========================================================================================
 * Sending identity
 * ======================================================================================= */

static int conf(struct pd_config *c, const char *line, char *err)
{
    return pd_config_line(c, line, strlen(line), err, 256);
}

/* A group's decision as the directory gave it. */
static struct pd_lookup group_decision(enum pd_result r, int anyone, int audit)
{
    struct pd_lookup l;
    pd_lookup_init(&l);
    l.result = r;
    l.allows_anyone = anyone;
    l.audit_required = audit;
    snprintf(l.reason, sizeof l.reason, "%s", "from the directory");
    snprintf(l.group, sizeof l.group, "%s", "cn=eng,ou=Groups,dc=example,dc=com");
    snprintf(l.group_mail, sizeof l.group_mail, "%s", "eng@example.com");
    snprintf(l.auditors, sizeof l.auditors, "%s", "boss@example.com");
    return l;
}

START_TEST(test_outsider_rule)
{
    struct pd_lookup l;

    /* members, domain, whitelist: only what the directory accepted or held is refused */
    l = group_decision(PD_RES_ACCEPT, 0, 0);
    ck_assert_int_eq(pd_outsider_matters(&l), 1);
    pd_apply_identity(&l, PD_ID_OUTSIDER, "bob@example.com", "");
    ck_assert_int_eq(l.result, PD_RES_REJECT);
    ck_assert_str_eq(l.reason, "sender bob@example.com is in a local domain but not "
                               "authenticated: not allowed to send to eng@example.com");
    l = group_decision(PD_RES_HOLD, 0, 1);
    ck_assert_int_eq(pd_outsider_matters(&l), 1);
    pd_apply_identity(&l, PD_ID_OUTSIDER, "bob@example.com", "");
    ck_assert_int_eq(l.result, PD_RES_REJECT);
    /* a rejection keeps the directory's reason; errors stay errors */
    l = group_decision(PD_RES_REJECT, 0, 0);
    ck_assert_int_eq(pd_outsider_matters(&l), 0);
    pd_apply_identity(&l, PD_ID_OUTSIDER, "bob@example.com", "");
    ck_assert_int_eq(l.result, PD_RES_REJECT);
    ck_assert_str_eq(l.reason, "from the directory");
    l = group_decision(PD_RES_UNAVAILABLE, 0, 0);
    ck_assert_int_eq(pd_outsider_matters(&l), 0);
    pd_apply_identity(&l, PD_ID_OUTSIDER, "bob@example.com", "");
    ck_assert_int_eq(l.result, PD_RES_UNAVAILABLE);

    /* anyone: accepted, or held (no auditor's exemption) */
    l = group_decision(PD_RES_ACCEPT, 1, 0);
    ck_assert_int_eq(pd_outsider_matters(&l), 0);
    pd_apply_identity(&l, PD_ID_OUTSIDER, "bob@example.com", "");
    ck_assert_int_eq(l.result, PD_RES_ACCEPT);
    ck_assert_str_eq(l.reason, "from the directory");
    l = group_decision(PD_RES_ACCEPT, 1, 1); /* an auditor's exemption */
    ck_assert_int_eq(pd_outsider_matters(&l), 1);
    pd_apply_identity(&l, PD_ID_OUTSIDER, "boss@example.com", "");
    ck_assert_int_eq(l.result, PD_RES_HOLD);
    ck_assert_str_eq(l.reason, "mail to eng@example.com is held for audit: sender "
                               "boss@example.com is in a local domain but not authenticated");
    ck_assert_str_eq(l.auditors, "boss@example.com");
    l = group_decision(PD_RES_HOLD, 1, 1);
    ck_assert_int_eq(pd_outsider_matters(&l), 0);

    /* without the group's mail, its DN names it */
    l = group_decision(PD_RES_ACCEPT, 0, 0);
    l.group_mail[0] = '\0';
    pd_apply_identity(&l, PD_ID_OUTSIDER, "", "");
    ck_assert_str_eq(l.reason, "sender <> is in a local domain but not authenticated: not "
                               "allowed to send to cn=eng,ou=Groups,dc=example,dc=com");
}
END_TEST

START_TEST(test_account_rule)
{
    struct pd_lookup l;

    l = group_decision(PD_RES_ACCEPT, 0, 0);
    pd_apply_identity(&l, PD_ID_AS_CLAIMED, "bob@example.com", "bob");
    ck_assert_int_eq(l.result, PD_RES_ACCEPT);
    ck_assert_str_eq(l.reason, "from the directory");
    pd_apply_identity(&l, PD_ID_NOT_ACCOUNT, "alice@example.com", "bob");
    ck_assert_int_eq(l.result, PD_RES_REJECT);
    ck_assert_str_eq(l.reason, "sender alice@example.com is not an address of the "
                               "authenticated user bob");
    l = group_decision(PD_RES_HOLD, 1, 1);
    pd_apply_identity(&l, PD_ID_NO_ACCOUNT, "alice@example.com", "bob");
    ck_assert_int_eq(l.result, PD_RES_REJECT);
    ck_assert_str_eq(l.reason, "no account found for the authenticated user bob");
    l = group_decision(PD_RES_ACCEPT, 1, 0);
    pd_apply_identity(&l, PD_ID_MANY_ACCOUNTS, "alice@example.com", "bob");
    ck_assert_str_eq(l.reason, "more than one account found for the authenticated user bob");
    l = group_decision(PD_RES_NOT_GROUP, 0, 0);
    pd_apply_identity(&l, PD_ID_NOT_ACCOUNT, "alice@example.com", "bob");
    ck_assert_int_eq(l.result, PD_RES_NOT_GROUP);
    l = group_decision(PD_RES_FAILED, 0, 0);
    pd_apply_identity(&l, PD_ID_NOT_ACCOUNT, "alice@example.com", "bob");
    ck_assert_int_eq(l.result, PD_RES_FAILED);
    ck_assert_str_eq(reply_for(PD_RES_REJECT, "sender a@x is not an address of the "
                               "authenticated user b", ""),
                     "action=REJECT 5.7.1 sender a@x is not an address of the authenticated "
                     "user b\n\n");
}
END_TEST

START_TEST(test_address_domain)
{
    char d[16];
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "Bob@Example.COM."), 0);
    ck_assert_str_eq(d, "example.com");
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "\"a@b\"@x.org"), 0);
    ck_assert_str_eq(d, "x.org");
    ck_assert_int_eq(pd_address_domain(d, sizeof d, ""), 0);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "no-at"), 0);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "a@"), 0);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "a@."), 0);
    ck_assert_str_eq(d, "");
    ck_assert_int_eq(pd_address_domain(d, sizeof d, NULL), 0);
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "a@abcdefghijklmnop"), -1);
    ck_assert_int_eq(pd_address_domain(d, sizeof d, "a@abcdefghijklmno."), 0);
    ck_assert_str_eq(d, "abcdefghijklmno");
    ck_assert_int_eq(pd_address_domain(d, 0, "a@b"), -1);
}
END_TEST

START_TEST(test_client_of_request)
{
    static const char req[] = "request=smtpd_access_policy\nprotocol_state=RCPT\n"
                              "client_address=192.0.2.1\nsasl_username=bob\n"
                              "recipient=a@b\n\n";
    struct pd_client c;
    parse_whole(LIT(req));
    pd_client_of(&P, &c);
    ck_assert_str_eq(c.login, "bob");
    ck_assert_str_eq(c.address, "192.0.2.1");
    parse_whole(LIT("request=smtpd_access_policy\n\n"));
    pd_client_of(&P, &c);
    ck_assert_str_eq(c.login, "");
    ck_assert_str_eq(c.address, "");
}
END_TEST

START_TEST(test_trusted_networks)
{
    struct pd_config c;
    char err[256];

    pd_config_defaults(&c);
    ck_assert_int_eq(pd_client_trusted(&c, "127.0.0.1"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "127.255.0.9"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "::1"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "::ffff:127.0.0.1"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "128.0.0.1"), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "::2"), 0);
    ck_assert_int_eq(pd_client_trusted(&c, ""), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "unknown"), 0);
    ck_assert_int_eq(pd_client_trusted(&c, NULL), 0);

    ck_assert_int_eq(conf(&c, "trusted_networks = 192.0.2.0/25, [2001:db8::]/33 "
                              "198.51.100.7\t127.0.0.0/8", err), 0);
    ck_assert_uint_eq(c.ntrusted, 4);
    ck_assert_int_eq(pd_client_trusted(&c, "192.0.2.127"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "192.0.2.128"), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "2001:db8:7fff::1"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "2001:db8:8000::1"), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "198.51.100.7"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "198.51.100.8"), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "127.0.0.1"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "::1"), 0);
    ck_assert_int_eq(conf(&c, "trusted_networks = 0.0.0.0/0", err), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "203.0.113.1"), 1);
    ck_assert_int_eq(pd_client_trusted(&c, "2001:db8::1"), 0);
    ck_assert_int_eq(conf(&c, "trusted_networks = 192.0.2.0/25", err), 0);
    ck_assert_int_eq(pd_client_trusted(&c, "127.0.0.1"), 0); /* replaced, not added */
    ck_assert_int_eq(conf(&c, "trusted_networks =", err), 0);
    ck_assert_uint_eq(c.ntrusted, 0);
    ck_assert_int_eq(pd_client_trusted(&c, "127.0.0.1"), 0);

    ck_assert_int_eq(conf(&c, "trusted_networks = 10.0.0.0/0", err), -1);
    ck_assert_str_eq(err, "trusted_networks: \"10.0.0.0/0\": address bits set after the "
                          "prefix");
    ck_assert_int_eq(conf(&c, "trusted_networks = 10.0.0.0/33", err), -1);
    ck_assert_str_eq(err, "trusted_networks: \"10.0.0.0/33\": prefix longer than 32");
    ck_assert_int_eq(conf(&c, "trusted_networks = 10.0.0.0/", err), -1);
    ck_assert_int_eq(conf(&c, "trusted_networks = 10.0.0.0/8x", err), -1);
    ck_assert_str_eq(err, "trusted_networks: \"10.0.0.0/8x\": bad prefix length");
    ck_assert_int_eq(conf(&c, "trusted_networks = localhost", err), -1);
    ck_assert_str_eq(err, "trusted_networks: \"localhost\" is not an IP address or network");
    ck_assert_int_eq(conf(&c, "trusted_networks = ::1/129", err), -1);
    ck_assert_uint_eq(c.ntrusted, 0); /* failed lines changed nothing */
    char many[PD_CONF_VALUE_MAX];
    size_t n = (size_t)snprintf(many, sizeof many, "trusted_networks =");
    for (int i = 0; i <= PD_NETS_MAX; i++)
        n += (size_t)snprintf(many + n, sizeof many - n, " 10.0.%d.0/24", i);
    ck_assert_int_eq(conf(&c, many, err), -1);
    ck_assert_str_eq(err, "trusted_networks: more than 64 networks");
}
END_TEST

START_TEST(test_local_domains)
{
    struct pd_config c;
    char err[256];

    pd_config_defaults(&c);
    ck_assert_int_eq(c.local_domains_set, 0);
    ck_assert_int_eq(pd_domain_listed(&c, "example.com"), 0);
    ck_assert_int_eq(conf(&c, "local_domains = Example.COM., lists.example.net", err), 0);
    ck_assert_int_eq(c.local_domains_set, 1);
    ck_assert_str_eq(c.local_domains, "example.com lists.example.net");
    ck_assert_int_eq(pd_domain_listed(&c, "example.com"), 1);
    ck_assert_int_eq(pd_domain_listed(&c, "lists.example.net"), 1);
    ck_assert_int_eq(pd_domain_listed(&c, "sub.example.com"), 0);
    ck_assert_int_eq(pd_domain_listed(&c, "example.co"), 0);
    ck_assert_int_eq(pd_domain_listed(&c, ""), 0);
    ck_assert_int_eq(pd_domain_listed(&c, NULL), 0);
    ck_assert_int_eq(conf(&c, "local_domains = a@b.c", err), -1);
    ck_assert_str_eq(err, "local_domains: \"a@b.c\" is not a domain name");
    ck_assert_int_eq(conf(&c, "local_domains = .example.com", err), -1);
    ck_assert_str_eq(c.local_domains, "example.com lists.example.net");
    ck_assert_int_eq(conf(&c, "local_domains =", err), 0);
    ck_assert_int_eq(c.local_domains_set, 1);
    ck_assert_int_eq(pd_domain_listed(&c, "example.com"), 0);
}
END_TEST

START_TEST(test_login_filter)
{
    struct pd_config c;
    char err[256], out[64];

    pd_config_defaults(&c);
    ck_assert_str_eq(c.sasl_login_filter, "(uid=%s)");
    ck_assert_int_eq(pd_build_login_filter(out, sizeof out, c.sasl_login_filter, "bob"), 0);
    ck_assert_str_eq(out, "(uid=bob)");
    ck_assert_int_eq(pd_build_login_filter(out, sizeof out, c.sasl_login_filter,
                                           "x)(uid=*"), 0);
    ck_assert_str_eq(out, "(uid=x\\29\\28uid=\\2a)");
    ck_assert_int_eq(conf(&c, "sasl_login_filter = (&(objectClass=inetOrgPerson)"
                              "(|(uid=%s)(mail=%s))(o=100%%))", err), 0);
    ck_assert_int_eq(pd_build_login_filter(out, sizeof out, c.sasl_login_filter, "b"), 0);
    ck_assert_str_eq(out, "(&(objectClass=inetOrgPerson)(|(uid=b)(mail=b))(o=100%))");
    ck_assert_int_eq(pd_build_login_filter(out, 11, "(uid=%s)", "bobby"), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(pd_build_login_filter(out, 12, "(uid=%s)", "bobby"), 0);

    ck_assert_int_eq(conf(&c, "sasl_login_filter = (uid=bob)", err), -1);
    ck_assert_str_eq(err, "sasl_login_filter: expected one parenthesised filter with %s, "
                          "such as (uid=%s)");
    ck_assert_int_eq(conf(&c, "sasl_login_filter = uid=%s", err), -1);
    ck_assert_int_eq(conf(&c, "sasl_login_filter = (uid=%s)(mail=%s)", err), -1);
    ck_assert_int_eq(conf(&c, "sasl_login_filter = (uid=%s", err), -1);
    ck_assert_int_eq(conf(&c, "sasl_login_filter = (uid=%s))", err), -1);
    ck_assert_int_eq(conf(&c, "sasl_login_filter = (uid=%u)", err), -1);
    ck_assert_str_eq(err, "sasl_login_filter: only %s (the login) and %% may follow %");
    ck_assert_int_eq(conf(&c, "sasl_login_filter = (uid=%s)%", err), -1);
    ck_assert_str_eq(c.sasl_login_filter,
                     "(&(objectClass=inetOrgPerson)(|(uid=%s)(mail=%s))(o=100%%))");
}
END_TEST

START_TEST(test_domain_filter)
{
    char out[80];
    ck_assert_int_eq(pd_build_domain_filter(out, sizeof out, "example.com"), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(mail=*@example.com))");
    ck_assert_int_eq(pd_build_domain_filter(out, sizeof out, "x*)(y"), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(mail=*@x\\2a\\29\\28y))");
    ck_assert_int_eq(pd_build_domain_filter(out, sizeof out, ""), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(pd_build_domain_filter(out, 40, "example.com"), -1);
    ck_assert_int_eq(pd_build_domain_filter(out, sizeof out, NULL), -1);
}
END_TEST

/* =========================================================================================
 * Filter
 * ======================================================================================= */

START_TEST(test_filter_escape)
{
    char out[64];
    ck_assert_uint_eq(pd_filter_escape(out, sizeof out, LIT("a*b(c)d\\e")), 17);
    ck_assert_str_eq(out, "a\\2ab\\28c\\29d\\5ce");
    ck_assert_uint_eq(pd_filter_escape(out, sizeof out, LIT("x\0y \xc3\xa9\n")), 17);
    ck_assert_str_eq(out, "x\\00y\\20\\c3\\a9\\0a");
    ck_assert_uint_eq(pd_filter_escape(out, sizeof out, LIT("")), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(pd_filter_escape(out, 4, LIT("abc")), 3);
    ck_assert_uint_eq(pd_filter_escape(out, 3, LIT("abc")), (size_t)-1);
    ck_assert_uint_eq(pd_filter_escape(out, 3, LIT("*")), (size_t)-1);
    ck_assert_uint_eq(pd_filter_escape(out, 0, LIT("")), (size_t)-1);
}
END_TEST

START_TEST(test_build_filter)
{
    char out[512];
    ck_assert_int_eq(pd_build_filter(out, sizeof out, "eng@example.com", "a@example.com",
                                     NULL, NULL), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(mail=eng@example.com)"
                          "(dmgSender=a@example.com))");
    ck_assert_int_eq(pd_build_filter(out, sizeof out, "eng@example.com", "", "", ""), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(mail=eng@example.com)(dmgSender=))");
    /* injection attempts stay values */
    ck_assert_int_eq(pd_build_filter(out, sizeof out, "*)(mail=*", "x)(|(a=*", NULL,
                                     "(!(description=frozen))"), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(mail=\\2a\\29\\28mail=\\2a)"
                          "(dmgSender=x\\29\\28|\\28a=\\2a)(!(description=frozen)))");
    /* address extensions */
    ck_assert_int_eq(pd_build_filter(out, sizeof out, "eng+news@example.com", "a@b", "+-",
                                     NULL), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(|(mail=eng+news@example.com)"
                          "(mail=eng@example.com))(dmgSender=a@b))");
    /* what trivial-rewrite makes of it */
    ck_assert_int_eq(pd_build_filter(out, sizeof out, "eng%example.com@mx.example.com.",
                                     "a@b", "", NULL), 0);
    ck_assert_str_eq(out, "(&(objectClass=dynamicMailGroup)(|(mail=eng%example.com@mx.example"
                          ".com.)(mail=eng%example.com@mx.example.com)(mail=eng@example.com))"
                          "(dmgSender=a@b))");
    /* too small */
    ck_assert_int_eq(pd_build_filter(out, 40, "eng@example.com", "a@b", NULL, NULL), -1);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(pd_build_filter(out, sizeof out, NULL, "a@b", NULL, NULL), -1);
}
END_TEST

/* The forms as a "|"-joined string. */
static const char *forms_of(const char *recipient, const char *delimiters, size_t max)
{
    static char joined[8 * (PD_LINE_MAX + 2)];
    static char forms[PD_FORMS_MAX][PD_LINE_MAX + 1];
    size_t n = pd_recipient_forms(forms, max, recipient, delimiters);
    joined[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(joined, "|");
        strcat(joined, forms[i]);
    }
    return n == 0 ? "(none)" : joined;
}

START_TEST(test_recipient_forms)
{
    ck_assert_str_eq(forms_of("eng@example.com", "+", PD_FORMS_MAX), "eng@example.com");
    ck_assert_str_eq(forms_of("eng+x@example.com", "+", PD_FORMS_MAX),
                     "eng+x@example.com|eng@example.com");
    ck_assert_str_eq(forms_of("eng@example.com.", "", PD_FORMS_MAX),
                     "eng@example.com.|eng@example.com");
    ck_assert_str_eq(forms_of("eng+x@Example.COM.", "+", PD_FORMS_MAX),
                     "eng+x@Example.COM.|eng+x@Example.COM|eng@Example.COM.|eng@Example.COM");
    ck_assert_str_eq(forms_of("eng%example.com@here", "", PD_FORMS_MAX),
                     "eng%example.com@here|eng@example.com");
    ck_assert_str_eq(forms_of("eng+t%a.org%b.org@here", "+", PD_FORMS_MAX),
                     "eng+t%a.org%b.org@here|eng+t%a.org@b.org|eng+t@a.org|"
                     "eng@here|eng@b.org|eng@a.org");
    /* nothing to rewrite */
    ck_assert_str_eq(forms_of("a@.", "+", PD_FORMS_MAX), "a@.");
    ck_assert_str_eq(forms_of("no-at.", "+", PD_FORMS_MAX), "no-at.");
    ck_assert_str_eq(forms_of("", "+", PD_FORMS_MAX), "");
    /* more forms than room: none (the caller defers) */
    ck_assert_str_eq(forms_of("eng+x@example.com", "+", 1), "(none)");
    ck_assert_str_eq(forms_of("a%b%c%d%e%f%g%h%i@x", "", PD_FORMS_MAX), "(none)");
    static char forms[1][PD_LINE_MAX + 1];
    ck_assert_uint_eq(pd_recipient_forms(forms, 1, NULL, "+"), 0);
}
END_TEST

START_TEST(test_strip_extension)
{
    char out[64];
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "a+b@x.org", "+"), 1);
    ck_assert_str_eq(out, "a@x.org");
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "a-b+c@x.org", "+-"), 1);
    ck_assert_str_eq(out, "a@x.org");
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "a@x+y.org", "+"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "+a@x.org", "+"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "ab@x.org", "+"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "a+b", "+"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "a+b@x.org", ""), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "a+b@x.org", NULL), 0);
    ck_assert_int_eq(pd_strip_extension(out, 7, "a+b@x.org", "+"), -1);
    ck_assert_int_eq(pd_strip_extension(out, 8, "a+b@x.org", "+"), 1);
    /* any one of several delimiters; the local part in any case */
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "Eng_x+y@Example.COM", "+_"), 1);
    ck_assert_str_eq(out, "Eng@Example.COM");
    /* never split, as in Postfix's split_addr() */
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "postmaster@x.org", "+-t"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "MAILER-DAEMON@x.org", "-"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "double-bounce@x.org", "-"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "owner-eng@x.org", "-"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "Owner-eng@x.org", "+-"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "eng-Request@x.org", "-"), 0);
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "-request@x.org", "-"), 0);
    /* only with "-" among the delimiters */
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "owner-eng+x@x.org", "+"), 1);
    ck_assert_str_eq(out, "owner-eng@x.org");
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "eng+x-request@x.org", "+"), 1);
    ck_assert_str_eq(out, "eng@x.org");
    ck_assert_int_eq(pd_strip_extension(out, sizeof out, "eng-x@x.org", "-"), 1);
    ck_assert_str_eq(out, "eng@x.org");
}
END_TEST

/* =========================================================================================
 * Configuration
 * ======================================================================================= */

/* hold_action = review: a hold is DUNNO (the review loop holds the group's copy); every
 * other answer, a rejection above all, is the same as under hold (the default). */
START_TEST(test_hold_action)
{
    struct pd_config c;
    struct pd_lookup l;
    char out[PD_REPLY_MAX], err[256];
    static const enum pd_result all[] = { PD_RES_NOT_GROUP, PD_RES_ACCEPT, PD_RES_REJECT,
                                          PD_RES_NO_DECISION, PD_RES_UNAVAILABLE,
                                          PD_RES_FAILED, PD_RES_TOO_LARGE };

    pd_config_defaults(&c);
    ck_assert_int_eq(c.hold_review, 0);
    pd_lookup_init(&l);
    l.result = PD_RES_HOLD;
    snprintf(l.auditors, sizeof l.auditors, "a@example.com");
    ck_assert_uint_gt(pd_format_decision_reply(out, sizeof out, &l, &c), 0);
    ck_assert_str_eq(out, "action=HOLD awaiting audit by a@example.com\n\n");
    ck_assert_int_eq(conf(&c, "hold_action = review", err), 0);
    ck_assert_int_eq(c.hold_review, 1);
    ck_assert_uint_eq(pd_format_decision_reply(out, sizeof out, &l, &c), strlen(out));
    ck_assert_str_eq(out, "action=DUNNO\n\n");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char want[PD_REPLY_MAX];
        l.result = all[i];
        ck_assert_uint_gt(pd_format_lookup_reply(want, sizeof want, &l), 0);
        ck_assert_uint_gt(pd_format_decision_reply(out, sizeof out, &l, &c), 0);
        ck_assert_str_eq(out, want);
    }
    ck_assert_uint_eq(pd_format_decision_reply(out, PD_REPLY_MAX - 1, &l, &c), 0);
    ck_assert_uint_eq(pd_format_decision_reply(out, sizeof out, NULL, &c), 0);
    ck_assert_uint_eq(pd_format_decision_reply(out, sizeof out, &l, NULL), 0);

    ck_assert_int_eq(conf(&c, "hold_action = HOLD", err), 0);
    ck_assert_int_eq(c.hold_review, 0);
    ck_assert_int_eq(conf(&c, "hold_action = Review", err), 0);
    ck_assert_int_eq(conf(&c, "hold_action = dunno", err), -1);
    ck_assert_str_eq(err, "hold_action: expected hold or review");
    ck_assert_int_eq(conf(&c, "hold_action =", err), -1);
    ck_assert_int_eq(c.hold_review, 1); /* failed lines changed nothing */
}
END_TEST

START_TEST(test_config_lines)
{
    struct pd_config c;
    char err[256];

    pd_config_defaults(&c);
    ck_assert_str_eq(c.uri, "ldapi:///");
    ck_assert_int_eq(c.timeout, 5);
    ck_assert_int_eq(c.log_level, 1);
    ck_assert_str_eq(c.base, ""); /* the naming contexts */
    ck_assert_str_eq(c.postconf, "/usr/sbin/postconf");
    ck_assert_int_eq(c.recipient_delimiter_set, 0);
    ck_assert_int_eq(pd_config_check(&c, err, sizeof err), 0);

    ck_assert_int_eq(conf(&c, "# comment", err), 0);
    ck_assert_int_eq(conf(&c, "   ", err), 0);
    ck_assert_int_eq(conf(&c, "", err), 0);
    ck_assert_int_eq(conf(&c, "uri = ldap://127.0.0.1:389/", err), 0);
    ck_assert_str_eq(c.uri, "ldap://127.0.0.1:389/");
    ck_assert_int_eq(conf(&c, "base=ou=Groups,dc=example,dc=com\r", err), 0);
    ck_assert_str_eq(c.base, "ou=Groups,dc=example,dc=com");
    ck_assert_int_eq(conf(&c, "\tbind_dn =  cn=postfix,dc=example,dc=com  ", err), 0);
    ck_assert_str_eq(c.bind_dn, "cn=postfix,dc=example,dc=com");
    ck_assert_int_eq(pd_config_check(&c, err, sizeof err), -1);
    ck_assert_str_eq(err, "bind_dn needs bind_pw_file");
    ck_assert_int_eq(conf(&c, "bind_pw_file = /etc/postfix/dmg.pw", err), 0);
    ck_assert_int_eq(pd_config_check(&c, err, sizeof err), 0);
    ck_assert_int_eq(conf(&c, "timeout = 10", err), 0);
    ck_assert_int_eq(c.timeout, 10);
    ck_assert_int_eq(conf(&c, "log_level = 2", err), 0);
    ck_assert_int_eq(conf(&c, "starttls = Yes", err), 0);
    ck_assert_int_eq(c.starttls, 1);
    ck_assert_int_eq(conf(&c, "filter = (!(description=frozen))", err), 0);
    ck_assert_str_eq(c.filter, "(!(description=frozen))");
    ck_assert_int_eq(conf(&c, "filter = (a=b)(c=d)", err), 0);
    ck_assert_int_eq(conf(&c, "filter =", err), 0);
    ck_assert_str_eq(c.filter, "");
    ck_assert_int_eq(conf(&c, "recipient_delimiter = +", err), 0);
    ck_assert_str_eq(c.recipient_delimiter, "+");
    ck_assert_int_eq(c.recipient_delimiter_set, 1);
    ck_assert_int_eq(conf(&c, "postconf = /opt/postfix/sbin/postconf", err), 0);
    ck_assert_str_eq(c.postconf, "/opt/postfix/sbin/postconf");

    ck_assert_int_eq(conf(&c, "timeout = 0", err), -1);
    ck_assert_str_eq(err, "timeout: 0 is not from 1 to 300");
    ck_assert_int_eq(conf(&c, "timeout = 5s", err), -1);
    ck_assert_int_eq(conf(&c, "timeout = 99999999999", err), -1);
    ck_assert_int_eq(conf(&c, "log_level = 3", err), -1);
    ck_assert_int_eq(conf(&c, "starttls = maybe", err), -1);
    ck_assert_int_eq(conf(&c, "filter = description=x", err), -1);
    ck_assert_int_eq(conf(&c, "filter = (a=b", err), -1);
    ck_assert_int_eq(conf(&c, "filter = (a=b))(", err), -1);
    ck_assert_int_eq(conf(&c, "filter = (a=b)x(c=d)", err), -1);
    ck_assert_int_eq(conf(&c, "recipient_delimiter = @", err), -1);
    ck_assert_int_eq(conf(&c, "postconf = postconf", err), -1);
    ck_assert_str_eq(err, "postconf: expected an absolute path");
    ck_assert_int_eq(conf(&c, "passwd = x", err), -1);
    ck_assert_str_eq(err, "unknown setting \"passwd\"");
    ck_assert_int_eq(conf(&c, "base", err), -1);
    ck_assert_str_eq(err, "expected \"key = value\"");
    ck_assert_int_eq(conf(&c, "= x", err), -1);
    ck_assert_int_eq(pd_config_line(&c, "uri = a\0b", 9, err, sizeof err), -1);
    ck_assert_int_eq(conf(&c, "base = a\x01" "b", err), -1);
    /* failed lines changed nothing */
    ck_assert_int_eq(c.timeout, 10);
    ck_assert_str_eq(c.recipient_delimiter, "+");

    char big[PD_CONF_VALUE_MAX + 16];
    memcpy(big, "base = ", 7);
    memset(big + 7, 'x', sizeof big - 8);
    big[sizeof big - 1] = '\0';
    ck_assert_int_eq(conf(&c, big, err), -1);
    ck_assert_str_eq(err, "base: value longer than 1023 bytes");
}
END_TEST

START_TEST(test_postconf_delimiter)
{
    struct pd_config c;
    char err[256];

    pd_config_defaults(&c);
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("+\n"), err, sizeof err), 0);
    ck_assert_str_eq(c.recipient_delimiter, "+");
    ck_assert_int_eq(c.recipient_delimiter_set, 1);
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("+-_\n"), err, sizeof err), 0);
    ck_assert_str_eq(c.recipient_delimiter, "+-_");
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("\n"), err, sizeof err), 0);
    ck_assert_str_eq(c.recipient_delimiter, "");
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT(""), err, sizeof err), 0);
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("-"), err, sizeof err), 0);
    ck_assert_str_eq(c.recipient_delimiter, "-");

    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("+\nx\n"), err, sizeof err), -1);
    ck_assert_str_eq(err, "postconf printed more than one line");
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("+ -\n"), err, sizeof err), -1);
    ck_assert_str_eq(err, "recipient_delimiter (from postconf): only printable ASCII "
                          "characters other than \"@\"");
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, LIT("a\0b\n"), err, sizeof err), -1);
    char big[100];
    memset(big, '+', sizeof big);
    ck_assert_int_eq(pd_config_postconf_delimiter(&c, big, sizeof big, err, sizeof err), -1);
    ck_assert_str_eq(c.recipient_delimiter, "-");
}
END_TEST

START_TEST(test_password_text)
{
    char pw[8];
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("secret\nignored\n")), 0);
    ck_assert_str_eq(pw, "secret");
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("secret\r\n")), 0);
    ck_assert_str_eq(pw, "secret");
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("secret")), 0);
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("1234567")), 0);
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("12345678")), -1);
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("\nsecret")), -1);
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("")), -1);
    ck_assert_int_eq(pd_password_from_text(pw, sizeof pw, LIT("a\0b")), -1);
}
END_TEST

static Suite *proto_suite(void)
{
    Suite *s = suite_create("policyd_proto");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_test(tc, test_normal_request);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_two_requests_in_one_buffer);
    tcase_add_test(tc, test_missing_recipient);
    tcase_add_test(tc, test_null_sender);
    tcase_add_test(tc, test_not_rcpt_state);
    tcase_add_test(tc, test_crlf_tolerated);
    tcase_add_test(tc, test_oversized_line);
    tcase_add_test(tc, test_oversized_request);
    tcase_add_test(tc, test_too_many_attributes);
    tcase_add_loop_test(tc, test_malformed, 0,
                        (int)(sizeof malformed_cases / sizeof malformed_cases[0]));
    tcase_add_test(tc, test_binary_junk_without_newline);
    tcase_add_loop_test(tc, test_random_streams, 0, 25);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);

    tc = tcase_create("reply");
    tcase_add_test(tc, test_reply_formatting);
    tcase_add_test(tc, test_hold_action);
    tcase_add_test(tc, test_reply_sanitised);
    tcase_add_test(tc, test_format_reply_bounds);
    tcase_add_test(tc, test_sanitize);
    tcase_add_test(tc, test_join_sorted);
    tcase_add_test(tc, test_decisions);
    suite_add_tcase(s, tc);

    tc = tcase_create("identity");
    tcase_add_test(tc, test_outsider_rule);
    tcase_add_test(tc, test_account_rule);
    tcase_add_test(tc, test_address_domain);
    tcase_add_test(tc, test_client_of_request);
    tcase_add_test(tc, test_trusted_networks);
    tcase_add_test(tc, test_local_domains);
    suite_add_tcase(s, tc);

    tc = tcase_create("filter");
    tcase_add_test(tc, test_filter_escape);
    tcase_add_test(tc, test_build_filter);
    tcase_add_test(tc, test_strip_extension);
    tcase_add_test(tc, test_recipient_forms);
    tcase_add_test(tc, test_login_filter);
    tcase_add_test(tc, test_domain_filter);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_test(tc, test_config_lines);
    tcase_add_test(tc, test_postconf_delimiter);
    tcase_add_test(tc, test_password_text);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
