/*
 * check_audit.c - unit tests for tools/audit_core.c (dmg-audit's core): secrets, audit IDs
 * and tokens, decision addresses, message headers and text, notices,
 * records and the spool's state machine on disk.
 */
#define _GNU_SOURCE

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit_core.h"
#include "audit_smtp.h"

#define LIT(s) s, (sizeof(s) - 1)

static struct au_secret key(const char *text)
{
    struct au_secret s;
    char err[128];
    ck_assert_int_eq(au_secret_from_text(&s, text, strlen(text), err, sizeof err), 0);
    return s;
}

static const struct au_identity ident = {
    "4ZxYw1abcD", "eng-review@example.com", "bob@example.com",
    "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
};

/* ======================================================================================
 * Secrets, IDs, tokens
 * ==================================================================================== */

START_TEST(test_secret_text)
{
    struct au_secret s;
    char err[128];
    ck_assert_int_eq(au_secret_from_text(&s, LIT("0123456789abcdef\nignored\n"), err,
                                         sizeof err), 0);
    ck_assert_uint_eq(s.len, 16);
    ck_assert_int_eq(au_secret_from_text(&s, LIT("0123456789abcdef0\r\n"), err, sizeof err), 0);
    ck_assert_uint_eq(s.len, 17);
    /* too short, empty, NUL inside */
    ck_assert_int_eq(au_secret_from_text(&s, LIT("short\n"), err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "16 to 512"));
    ck_assert_int_eq(au_secret_from_text(&s, LIT(""), err, sizeof err), -1);
    ck_assert_int_eq(au_secret_from_text(&s, LIT("0123456789\0abcdefgh"), err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "NUL"));
    char big[600];
    memset(big, 'x', sizeof big);
    ck_assert_int_eq(au_secret_from_text(&s, big, sizeof big, err, sizeof err), -1);
}
END_TEST

START_TEST(test_id_and_token)
{
    struct au_secret s = key("a secret of enough length");
    struct au_secret s2 = key("another secret of enough length");
    char id[AU_ID_LEN + 1], id2[AU_ID_LEN + 1], tok[AU_TOKEN_LEN + 1], tok2[AU_TOKEN_LEN + 1];

    ck_assert_int_eq(au_make_id(id, &s, &ident), 0);
    ck_assert_uint_eq(strlen(id), AU_ID_LEN);
    ck_assert(au_id_ok(id));
    /* deterministic: the same delivery gives the same ID */
    ck_assert_int_eq(au_make_id(id2, &s, &ident), 0);
    ck_assert_str_eq(id, id2);
    /* each field counts, and fields do not run into each other */
    struct au_identity other = ident;
    other.queue_id = "4ZxYw1abcE";
    ck_assert_int_eq(au_make_id(id2, &s, &other), 0);
    ck_assert_str_ne(id, id2);
    other = ident;
    other.group = "eng-review@example.co";
    other.sender = "mbob@example.com";
    ck_assert_int_eq(au_make_id(id2, &s, &other), 0);
    ck_assert_str_ne(id, id2);
    other = ident;
    other.digest = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d9";
    ck_assert_int_eq(au_make_id(id2, &s, &other), 0);
    ck_assert_str_ne(id, id2);
    ck_assert_int_eq(au_make_id(id2, &s2, &ident), 0);
    ck_assert_str_ne(id, id2);

    ck_assert_int_eq(au_make_token(tok, &s, id, &ident), 0);
    ck_assert_uint_eq(strlen(tok), AU_TOKEN_LEN);
    ck_assert_str_ne(tok, id);
    ck_assert(au_token_ok(tok, &s, id, &ident));
    /* any case (MTAs may fold it) */
    char upper[AU_TOKEN_LEN + 1];
    for (size_t i = 0; i <= AU_TOKEN_LEN; i++)
        upper[i] = (tok[i] >= 'a' && tok[i] <= 'f') ? (char)(tok[i] - 32) : tok[i];
    ck_assert(au_token_ok(upper, &s, id, &ident));
    /* wrong: another secret, another ID, another message, one digit off, cut, longer */
    ck_assert(!au_token_ok(tok, &s2, id, &ident));
    ck_assert_int_eq(au_make_token(tok2, &s, "0000000000000000", &ident), 0);
    ck_assert_str_ne(tok, tok2);
    ck_assert(!au_token_ok(tok, &s, "0000000000000000", &ident));
    ck_assert(!au_token_ok(tok, &s, id, &other));
    char bad[AU_TOKEN_LEN + 2];
    memcpy(bad, tok, sizeof tok);
    bad[5] = bad[5] == '0' ? '1' : '0';
    ck_assert(!au_token_ok(bad, &s, id, &ident));
    memcpy(bad, tok, sizeof tok);
    bad[AU_TOKEN_LEN - 1] = '\0';
    ck_assert(!au_token_ok(bad, &s, id, &ident));
    memcpy(bad, tok, AU_TOKEN_LEN);
    bad[AU_TOKEN_LEN] = '0';
    bad[AU_TOKEN_LEN + 1] = '\0';
    ck_assert(!au_token_ok(bad, &s, id, &ident));
    ck_assert(!au_token_ok("", &s, id, &ident));
    /* no secret: nothing is made */
    struct au_secret none;
    memset(&none, 0, sizeof none);
    ck_assert_int_eq(au_make_token(tok2, &none, id, &ident), -1);
    ck_assert(!au_token_ok(tok, &none, id, &ident));
}
END_TEST

START_TEST(test_equal_ct_hex)
{
    ck_assert(au_equal_ct("abc", "abc", 3));
    ck_assert(!au_equal_ct("abc", "abd", 3));
    ck_assert(au_equal_ct("", "x", 0));
    char hex[9];
    const unsigned char b[] = { 0x00, 0x9f, 0xa0, 0xff };
    au_hex(hex, b, 4);
    ck_assert_str_eq(hex, "009fa0ff");
    ck_assert(au_id_ok("0123456789abcdef"));
    ck_assert(!au_id_ok("0123456789ABCDEF"));
    ck_assert(!au_id_ok("0123456789abcde"));
    ck_assert(!au_id_ok("0123456789abcdef0"));
    ck_assert(!au_id_ok("../../etc/passwd"));
    ck_assert(!au_id_ok(""));
}
END_TEST

/* ======================================================================================
 * Addresses
 * ==================================================================================== */

START_TEST(test_decision_addr)
{
    struct au_decision_addr d;
    char err[128], addr[AU_ADDR_MAX];
    const char *id = "0123456789abcdef", *tok = "00112233445566778899aabbccddeeff";

    ck_assert_uint_gt(au_format_decision_addr(addr, sizeof addr, AU_ACT_APPROVE, id, tok,
                                              "review.example.com"), 0);
    ck_assert_str_eq(addr, "approve+0123456789abcdef-00112233445566778899aabbccddeeff"
                           "@review.example.com");
    ck_assert_uint_le(strchr(addr, '@') - addr, 64); /* RFC 5321 local part */
    ck_assert_int_eq(au_parse_decision_addr(addr, "review.example.com", &d, err, sizeof err), 0);
    ck_assert_int_eq(d.action, AU_ACT_APPROVE);
    ck_assert_str_eq(d.id, id);
    ck_assert_str_eq(d.token, tok);

    /* case folded by some MTA, trailing dot on the domain */
    ck_assert_int_eq(au_parse_decision_addr("REJECT+0123456789ABCDEF-00112233445566778899AABB"
                                            "CCDDEEFF@Review.Example.COM.",
                                            "review.example.com", &d, err, sizeof err), 0);
    ck_assert_int_eq(d.action, AU_ACT_REJECT);
    ck_assert_str_eq(d.id, id);
    ck_assert_str_eq(d.token, tok);

    const char *bad[] = {
        "approve+0123456789abcdef-00112233445566778899aabbccddeeff@other.example.com",
        "approve+0123456789abcdef-00112233445566778899aabbccddeeff",
        "accept+0123456789abcdef-00112233445566778899aabbccddeeff@review.example.com",
        "approve-0123456789abcdef-00112233445566778899aabbccddeeff@review.example.com",
        "approve+0123456789abcdef+00112233445566778899aabbccddeeff@review.example.com",
        "approve+0123456789abcde-00112233445566778899aabbccddeeff0@review.example.com",
        "approve+0123456789abcdeg-00112233445566778899aabbccddeeff@review.example.com",
        "approve+0123456789abcdef-00112233445566778899aabbccddeef@review.example.com",
        "approve+0123456789abcdef-00112233445566778899aabbccddeeff0@review.example.com",
        "approve+@review.example.com",
        "approve@review.example.com",
        "postmaster@review.example.com",
        "@review.example.com",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        ck_assert_msg(au_parse_decision_addr(bad[i], "review.example.com", &d, err,
                                             sizeof err) == -1, "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
        ck_assert_int_eq(d.action, AU_ACT_NONE);
    }
    /* expire is not an address; too small a buffer */
    ck_assert_uint_eq(au_format_decision_addr(addr, sizeof addr, AU_ACT_EXPIRE, id, tok, "r"), 0);
    ck_assert_uint_eq(au_format_decision_addr(addr, 20, AU_ACT_REJECT, id, tok, "r"), 0);
    ck_assert_str_eq(addr, "");
}
END_TEST

START_TEST(test_review_addr_and_address_ok)
{
    char g[AU_ADDR_MAX];
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g,
                                               "eng-review=example.com@review.invalid"), 0);
    ck_assert_str_eq(g, "eng-review@example.com");
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g,
                                               "a=b=sub.example.com@review.invalid"), 0);
    ck_assert_str_eq(g, "a=b@sub.example.com");
    /* group+tag@example.com: Postfix propagates the extension after the review local part */
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g,
                                               "eng-review=example.com+tag@review.invalid"), 0);
    ck_assert_str_eq(g, "eng-review@example.com");
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g, "g=+tag@review.invalid"), -1);
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g, "eng-review@example.com"), 0);
    ck_assert_str_eq(g, "eng-review@example.com");
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g, "=example.com@x"), -1);
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g, "group=@x"), -1);
    ck_assert_int_eq(au_group_from_review_addr(g, sizeof g, "no-at-sign"), -1);
    ck_assert_int_eq(au_group_from_review_addr(g, 8, "eng-review=example.com@x"), -1);

    ck_assert(au_address_ok("bob@example.com", 0));
    ck_assert(au_address_ok("", 1));
    ck_assert(!au_address_ok("", 0));
    ck_assert(!au_address_ok("-oQ/tmp@example.com", 0));
    ck_assert(!au_address_ok("bob@@example.com", 0));
    ck_assert(!au_address_ok("bob@", 0));
    ck_assert(!au_address_ok("@example.com", 0));
    ck_assert(!au_address_ok("bob example@example.com", 0));
    ck_assert(!au_address_ok("bob@example.com\nRCPT", 0));
    ck_assert(!au_address_ok("<bob@example.com>", 0));
    ck_assert(!au_address_ok("a@b,c@d", 0));
}
END_TEST

/* ======================================================================================
 * Messages
 * ==================================================================================== */

static const char plain_msg[] =
    "Received: from client.example.org\r\n"
    "\tby mx.example.com; Thu, 3 Dec 2026 12:00:00 +0000\r\n"
    "From: Bob <bob@example.com>\r\n"
    "SUBJECT: Quarterly\r\n"
    "  numbers\r\n"
    "Date: Thu, 3 Dec 2026 12:00:00 +0000\r\n"
    "Message-ID: <q4@example.com>\r\n"
    "\r\n"
    "Hello team,\r\n"
    "\r\n"
    "the numbers \x01" "are in.\r\n"
    "Subject: not a header\r\n";

START_TEST(test_headers)
{
    char v[AU_TEXT_MAX];
    size_t len = sizeof plain_msg - 1;
    ck_assert_int_eq(au_header(plain_msg, len, "Subject", v, sizeof v), 1);
    ck_assert_str_eq(v, "Quarterly numbers");
    ck_assert_int_eq(au_header(plain_msg, len, "message-id", v, sizeof v), 1);
    ck_assert_str_eq(v, "<q4@example.com>");
    ck_assert_int_eq(au_header(plain_msg, len, "Received", v, sizeof v), 1);
    ck_assert_str_eq(v, "from client.example.org by mx.example.com; Thu, 3 Dec 2026 12:00:00 "
                        "+0000");
    ck_assert_int_eq(au_header(plain_msg, len, "To", v, sizeof v), 0);
    ck_assert_str_eq(v, "");
    /* a header name must be followed by its colon */
    ck_assert_int_eq(au_header(plain_msg, len, "Subj", v, sizeof v), 0);
    /* cut with "..." */
    ck_assert_int_eq(au_header(plain_msg, len, "Subject", v, 10), 1);
    ck_assert_str_eq(v, "Quarte...");
    ck_assert_uint_eq(au_body_offset(plain_msg, len),
                      (size_t)(strstr(plain_msg, "Hello") - plain_msg));
    ck_assert_uint_eq(au_body_offset(LIT("Subject: x\n")), 11);
    /* control characters and 8-bit bytes never reach a header or a log */
    ck_assert_int_eq(au_header(LIT("Subject: a\x1b[2Jb\xc3\xa9\n\nx"), "Subject", v, sizeof v), 1);
    ck_assert_str_eq(v, "a [2Jb??");
}
END_TEST

START_TEST(test_text_start)
{
    char out[1024];
    au_text_start(out, sizeof out, plain_msg, sizeof plain_msg - 1, 20, 2000);
    ck_assert_str_eq(out, "> Hello team,\n>\n> the numbers  are in.\n> Subject: not a header");
    au_text_start(out, sizeof out, plain_msg, sizeof plain_msg - 1, 1, 2000);
    ck_assert_str_eq(out, "> Hello team,");
    au_text_start(out, sizeof out, plain_msg, sizeof plain_msg - 1, 20, 5);
    ck_assert_str_eq(out, "> Hello");
    /* no body */
    au_text_start(out, sizeof out, LIT("Subject: x\n"), 20, 2000);
    ck_assert_str_eq(out, "");
    /* multipart: the first part's text, not the preamble or the part headers */
    static const char mp[] =
        "Subject: m\nContent-Type: multipart/alternative;\n boundary=\"b1\"\n\n"
        "This is a multi-part message in MIME format.\n--b1\n"
        "Content-Type: text/plain; charset=utf-8\n\nFirst line\nSecond line\n--b1\n"
        "Content-Type: text/html\n\n<p>html</p>\n--b1--\n";
    au_text_start(out, sizeof out, LIT(mp), 20, 2000);
    ck_assert_str_eq(out, "> First line\n> Second line");
    /* small buffer: whole lines only, always terminated */
    au_text_start(out, 20, plain_msg, sizeof plain_msg - 1, 20, 2000);
    ck_assert_str_eq(out, "> Hello team,\n>");
}
END_TEST

START_TEST(test_reason)
{
    char r[100];
    ck_assert_uint_gt(au_reason_from_mail(r, sizeof r,
                                          LIT("Subject: Re: Audit\n\n\n  Not for this list, "
                                              "sorry.\nBest, Alice\n")), 0);
    ck_assert_str_eq(r, "Not for this list, sorry.");
    /* a quoted notice is skipped */
    au_reason_from_mail(r, sizeof r, LIT("Subject: x\r\n\r\n> A message waits\r\n>\r\nSpam.\r\n"));
    ck_assert_str_eq(r, "Spam.");
    ck_assert_uint_eq(au_reason_from_mail(r, sizeof r, LIT("Subject: x\n\n> only quote\n")), 0);
    ck_assert_str_eq(r, "");
    ck_assert_uint_eq(au_reason_from_mail(r, sizeof r, LIT("Subject: x\n")), 0);
    au_reason_from_mail(r, sizeof r,
                        LIT("Content-Type: multipart/mixed; boundary=zz\n\npreamble\n--zz\n"
                            "Content-Type: text/plain\n\nOff topic\n--zz--\n"));
    ck_assert_str_eq(r, "Off topic");
    au_reason_from_mail(r, 12, LIT("\nA reason that is long\n"));
    ck_assert_str_eq(r, "A reason...");
}
END_TEST

START_TEST(test_sanitize)
{
    char o[16];
    ck_assert_uint_eq(au_sanitize(o, sizeof o, LIT("  a\tb\r\n")), 3);
    ck_assert_str_eq(o, "a b");
    ck_assert_uint_eq(au_sanitize(o, sizeof o, LIT("0123456789abcdefghij")), 15);
    ck_assert_str_eq(o, "0123456789ab...");
    ck_assert_uint_eq(au_sanitize(o, 1, LIT("abc")), 0);
    ck_assert_str_eq(o, "");
    ck_assert(au_caseeq("Alice@Example.COM", "alice@example.com"));
    ck_assert(!au_caseeq("alice@example.com", "alice@example.co"));
}
END_TEST

/* ======================================================================================
 * Notices
 * ==================================================================================== */

static struct au_notice notice(enum au_notice_kind kind)
{
    struct au_notice n;
    memset(&n, 0, sizeof n);
    n.kind = kind;
    n.from = "postmaster@review.example.com";
    n.to = "alice@example.com";
    n.review_domain = "review.example.com";
    n.id = "0123456789abcdef";
    n.token = "00112233445566778899aabbccddeeff";
    n.group = "eng-review@example.com";
    n.sender = "bob@example.com";
    n.subject = "Quarterly\nBcc: evil@example.net";
    n.date = "Thu, 3 Dec 2026 12:00:00 +0000";
    n.message_id = "<q4@example.com>";
    n.size = "1234";
    n.queue_id = "4ZxYw1abcD";
    n.text_start = "> Hello team,";
    n.reason = "";
    n.held_at = 1796212800;        /* 2026-12-02 12:00:00 UTC */
    n.expires_at = 1796212800 + 5 * 86400;
    n.now = 1796212801;
    n.unique = "a1b2c3";
    n.hold_days = 5;
    return n;
}

START_TEST(test_notice_held)
{
    static char out[16384];
    struct au_notice n = notice(AU_NOTE_HELD);
    size_t len = au_format_notice(out, sizeof out, &n);
    ck_assert_uint_gt(len, 0);
    ck_assert_uint_eq(len, strlen(out));
    const char *want[] = {
        "From: Mail audit <postmaster@review.example.com>\n",
        "To: <alice@example.com>\n",
        /* the held message's subject cannot add header fields */
        "Subject: Audit: message from bob@example.com to eng-review@example.com: Quarterly "
        "Bcc: evil@example.net\n",
        "Auto-Submitted: auto-generated\n",
        "X-Dmg-Audit-ID: 0123456789abcdef\n",
        "Message-ID: <dmg-audit.0123456789abcdef.1796212801.a1b2c3@review.example.com>\n",
        "\n\nA message to the audited group eng-review@example.com waits",
        "  Group:       eng-review@example.com\n",
        "  Sender:      bob@example.com\n",
        "  Subject:     Quarterly Bcc: evil@example.net\n",
        "  Date:        Thu, 3 Dec 2026 12:00:00 +0000\n",
        "  Size:        1234 bytes\n",
        "  Message-ID:  <q4@example.com>\n",
        "  Audit ID:    0123456789abcdef (queue ID 4ZxYw1abcD)\n",
        "  Held since:  Wed, 02 Dec 2026 12:00:00 +0000\n",
        "  Expires:     Mon, 07 Dec 2026 12:00:00 +0000",
        "    approve+0123456789abcdef-00112233445566778899aabbccddeeff@review.example.com\n",
        "    reject+0123456789abcdef-00112233445566778899aabbccddeeff@review.example.com\n",
        "reason on the first line",
        "The start of the text:\n\n> Hello team,\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(out, want[i]) != NULL, "missing \"%s\" in:\n%s", want[i], out);
    /* the header ends once, before the text */
    ck_assert_ptr_eq(strstr(out, "\n\n"), strstr(out, "\n\nA message"));
    /* too small: nothing, not a cut message */
    ck_assert_uint_eq(au_format_notice(out, 200, &n), 0);
    ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_notice_others)
{
    static char out[16384];
    struct au_notice n = notice(AU_NOTE_REJECTED);
    n.to = "bob@example.com";
    n.reason = "Not for this list";
    ck_assert_uint_gt(au_format_notice(out, sizeof out, &n), 0);
    ck_assert_ptr_nonnull(strstr(out, "Subject: Rejected by the auditor of "
                                      "eng-review@example.com: Quarterly"));
    ck_assert_ptr_nonnull(strstr(out, "was rejected by the group's auditor and was not "
                                      "delivered.\n\nReason: Not for this list\n"));
    ck_assert_ptr_null(strstr(out, "approve+"));
    n.reason = "";
    ck_assert_uint_gt(au_format_notice(out, sizeof out, &n), 0);
    ck_assert_ptr_nonnull(strstr(out, "Reason: (no reason given)"));

    n = notice(AU_NOTE_EXPIRED);
    ck_assert_uint_gt(au_format_notice(out, sizeof out, &n), 0);
    ck_assert_ptr_nonnull(strstr(out, "Subject: Expired without an audit decision"));
    ck_assert_ptr_nonnull(strstr(out, "waited 5 days"));
    ck_assert_ptr_null(strstr(out, "approve+"));

    n = notice(AU_NOTE_ALREADY);
    n.decided = "approved by carol@example.com at 2026-12-03 12:01:00 UTC";
    n.sender = "";
    ck_assert_uint_gt(au_format_notice(out, sizeof out, &n), 0);
    ck_assert_ptr_nonnull(strstr(out, "Subject: Already decided: message from <> to"));
    ck_assert_ptr_nonnull(strstr(out, "already decided (approved by carol@example.com at "
                                      "2026-12-03 12:01:00 UTC)"));
    ck_assert_ptr_nonnull(strstr(out, "  Sender:      <>\n"));
    ck_assert_ptr_null(strstr(out, "approve+"));

    n = notice(AU_NOTE_UNDELIVERABLE);
    n.decided = "approved by carol@example.com at 2026-12-03 12:01:00 UTC";
    n.reason = "the group no longer exists";
    ck_assert_uint_gt(au_format_notice(out, sizeof out, &n), 0);
    ck_assert_ptr_nonnull(strstr(out, "Subject: Not delivered: eng-review@example.com is gone "
                                      "or has no members: Quarterly"));
    ck_assert_ptr_nonnull(strstr(out, "was approved (approved by carol@example.com at "
                                      "2026-12-03 12:01:00 UTC) but could not be delivered: "
                                      "the group no longer exists."));
    ck_assert_ptr_nonnull(strstr(out, "It was not delivered to anyone."));
    ck_assert_ptr_null(strstr(out, "approve+"));
}
END_TEST

/* ======================================================================================
 * Records
 * ==================================================================================== */

START_TEST(test_records)
{
    struct au_record r;
    char v[64];
    au_rec_init(&r);
    au_rec_add(&r, "group", "eng@example.com");
    au_rec_add(&r, "subject", "two\nlines");
    au_rec_addf(&r, "held_at", "%ld", 42L);
    ck_assert(!r.overflow);
    ck_assert_str_eq(r.text, "group: eng@example.com\nsubject: two lines\nheld_at: 42\n");
    ck_assert_int_eq(au_rec_get(r.text, r.len, "subject", v, sizeof v), 1);
    ck_assert_str_eq(v, "two lines");
    ck_assert_int_eq(au_rec_get(r.text, r.len, "held_at", v, sizeof v), 1);
    ck_assert_str_eq(v, "42");
    ck_assert_int_eq(au_rec_get(r.text, r.len, "held", v, sizeof v), 0);
    ck_assert_int_eq(au_rec_get(r.text, r.len, "group", v, 4), 1);
    ck_assert_str_eq(v, "eng");
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 10; i++)
        au_rec_add(&r, "k", big);
    ck_assert(r.overflow);
    ck_assert_uint_eq(strlen(r.text), r.len);
}
END_TEST

/* ======================================================================================
 * The spool
 * ==================================================================================== */

static char spool[256];

static void make_spool(void)
{
    char err[256];
    snprintf(spool, sizeof spool, "/tmp/check_audit.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(spool));
    ck_assert_int_eq(au_spool_init(spool, err, sizeof err), 0);
    /* again: nothing changes */
    ck_assert_int_eq(au_spool_init(spool, err, sizeof err), 0);
}

static void remove_spool(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", spool);
    ck_assert_int_eq(system(cmd), 0);
}

static int count_files(const char *dir)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "ls -A '%s/%s' | wc -l", spool, dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(test_spool_states)
{
    const char *id = "0123456789abcdef";
    make_spool();
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_NONE);

    /* take a message from a file descriptor */
    char in[] = "/tmp/check_audit_in.XXXXXX";
    int fd = mkstemp(in);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, plain_msg, sizeof plain_msg - 1), (ssize_t)sizeof plain_msg - 1);
    lseek(fd, 0, SEEK_SET);
    char tmpname[128], digest[AU_DIGEST_HEX + 1];
    size_t size = 0;
    ck_assert_int_eq(au_spool_take(spool, fd, 1 << 20, tmpname, sizeof tmpname, digest, &size),
                     0);
    ck_assert_uint_eq(size, sizeof plain_msg - 1);
    ck_assert_uint_eq(strlen(digest), AU_DIGEST_HEX);
    ck_assert_int_eq(count_files("tmp"), 1);
    ck_assert_int_eq(au_spool_commit_msg(spool, tmpname, id), 0);
    ck_assert_int_eq(count_files("tmp"), 0);
    /* only the message: not held yet (a crash here leaves no state) */
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_NONE);
    size_t len;
    char *copy = au_spool_read(spool, "msg", id, 1 << 20, &len);
    ck_assert_ptr_nonnull(copy);
    ck_assert_uint_eq(len, sizeof plain_msg - 1);
    ck_assert(memcmp(copy, plain_msg, len) == 0); /* byte for byte */
    free(copy);

    ck_assert_int_eq(au_spool_put(spool, "held", id, LIT("group: g@example.com\n"), 0), 0);
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_HELD);
    /* the first decision wins; the second fails with EEXIST and changes nothing */
    ck_assert_int_eq(au_spool_put(spool, "decision", id, LIT("action: approve\n"), 1), 0);
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_DECIDED);
    errno = 0;
    ck_assert_int_eq(au_spool_put(spool, "decision", id, LIT("action: reject\n"), 1), -1);
    ck_assert_int_eq(errno, EEXIST);
    copy = au_spool_read(spool, "decision", id, 100, &len);
    ck_assert_str_eq(copy, "action: approve\n");
    free(copy);
    ck_assert_int_eq(count_files("tmp"), 0);
    /* approved, but no member to release it to: kept, visibly */
    ck_assert_int_eq(au_spool_put(spool, "undeliverable", id, LIT("reason: gone\n"), 0), 0);
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_UNDELIVERABLE);
    ck_assert_str_eq(au_state_name(AU_ST_UNDELIVERABLE), "undeliverable");
    {
        char p[4096];
        snprintf(p, sizeof p, "%s/undeliverable/%s", spool, id);
        ck_assert_int_eq(unlink(p), 0);
    }
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_DECIDED);
    /* release started, not confirmed: uncertain */
    ck_assert_int_eq(au_spool_put(spool, "release", id, LIT("started\n"), 0), 0);
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_UNCERTAIN);
    ck_assert_int_eq(au_spool_finish(spool, id), 0);
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_DONE);
    ck_assert_int_eq(au_spool_finish(spool, id), -1); /* once */
    /* the record is still readable, from done/ */
    copy = au_spool_read(spool, "done", id, 100, &len);
    ck_assert_str_eq(copy, "group: g@example.com\n");
    free(copy);
    /* read limits */
    ck_assert_ptr_null(au_spool_read(spool, "done", id, 5, &len));
    ck_assert_int_eq(errno, EFBIG);
    ck_assert_ptr_null(au_spool_read(spool, "held", id, 100, &len));
    au_spool_remove(spool, id);
    ck_assert_int_eq(au_spool_state(spool, id), AU_ST_NONE);
    ck_assert_int_eq(count_files("msg"), 0);
    ck_assert_int_eq(count_files("decision"), 0);

    /* too big: refused, nothing left behind */
    lseek(fd, 0, SEEK_SET);
    ck_assert_int_eq(au_spool_take(spool, fd, 10, tmpname, sizeof tmpname, digest, &size), -1);
    ck_assert_int_eq(errno, EFBIG);
    ck_assert_int_eq(count_files("tmp"), 0);
    close(fd);
    unlink(in);
    remove_spool();
}
END_TEST

START_TEST(test_spool_digest)
{
    /* the digest is the SHA-256 of the bytes taken: "abc" */
    make_spool();
    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(write(p[1], "abc", 3), 3);
    close(p[1]);
    char tmpname[128], digest[AU_DIGEST_HEX + 1];
    size_t size;
    ck_assert_int_eq(au_spool_take(spool, p[0], 100, tmpname, sizeof tmpname, digest, &size), 0);
    close(p[0]);
    ck_assert_str_eq(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* an unwritable spool: an error, not a crash */
    ck_assert_int_eq(au_spool_put("/nonexistent/spool", "held", "x", "", 0, 0), -1);
    char err[256];
    ck_assert_int_eq(au_spool_init("/proc/nonexistent", err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "cannot create"));
    remove_spool();
}
END_TEST

/* ======================================================================================
 * SMTP hand-over against a scripted server (a child process on a loopback port)
 * ==================================================================================== */

/* The server answers each command with the next reply of script (one per command, "" =
 * close the connection instead); what it received goes to the file log. */
static pid_t fake_server(int *port, const char *const *script, const char *log)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 1), 0);
    ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0) {
        close(ls);
        return pid;
    }
    int c = accept(ls, NULL, NULL);
    FILE *in = fdopen(c, "r"), *out = fopen(log, "w");
    char line[4096];
    int data = 0;
    size_t k = 0;
    if (write(c, script[k], strlen(script[k])) < 0)
        _exit(1);
    k++;
    while (fgets(line, sizeof line, in) != NULL) {
        fputs(line, out);
        fflush(out);
        if (data) {
            if (strcmp(line, ".\r\n") != 0)
                continue;
            data = 0;
        } else if (strncmp(line, "DATA", 4) == 0) {
            data = script[k][0] == '3';
        }
        if (script[k] == NULL || script[k][0] == '\0')
            _exit(0);
        if (write(c, script[k], strlen(script[k])) < 0)
            _exit(1);
        k++;
    }
    _exit(0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    static char buf[8192];
    size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f != NULL)
        fclose(f);
    return buf;
}

static const char smtp_msg[] = "Subject: x\n\n.dot\n..two\nlast line without end";

/* au_smtp_send of smtp_msg from s@example.com to rcpt through a scripted server (see
 * fake_server, which logs to log); waits for the server to end. au_smtp_send's result, its
 * reason in why. */
static int send_to_scripted(const char *const *script, const char *log, char *rcpt,
                            char *why, size_t why_size)
{
    char hp[64], refused[256];
    int port, st;
    pid_t pid = fake_server(&port, script, log);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    int rc = au_smtp_send(hp, 5, "h", "s@example.com", &rcpt, 1, -1, LIT(smtp_msg), refused,
                          sizeof refused, why, why_size);
    waitpid(pid, &st, 0);
    return rc;
}

START_TEST(test_smtp_handover)
{
    const char *const ok[] = { "220 x ESMTP\r\n", "250-x\r\n250 8BITMIME\r\n", "250 ok\r\n",
                               "250 ok\r\n", "550 5.1.1 no such user\r\n", "354 go\r\n",
                               "250 queued\r\n", "221 bye\r\n", NULL };
    char log[] = "/tmp/check_audit_smtp.XXXXXX", hp[64], refused[256], why[256];
    int fd = mkstemp(log), port, st;
    close(fd);
    pid_t pid = fake_server(&port, ok, log);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    char *rcpts[] = { "a@example.com", "gone@example.com" };
    ck_assert_int_eq(au_smtp_send(hp, 5, "review.example.com", "", rcpts, 2, -1, LIT(smtp_msg),
                                  refused, sizeof refused, why, sizeof why), 0);
    waitpid(pid, &st, 0);
    ck_assert_str_eq(slurp(log), "EHLO review.example.com\r\nMAIL FROM:<>\r\n"
                                 "RCPT TO:<a@example.com>\r\nRCPT TO:<gone@example.com>\r\n"
                                 "DATA\r\nSubject: x\r\n\r\n..dot\r\n...two\r\n"
                                 "last line without end\r\n.\r\nQUIT\r\n");
    ck_assert_str_eq(refused, "gone@example.com (550 5.1.1 no such user)");

    /* 4xx for a recipient: nothing sent, try again later */
    const char *const tempfail[] = { "220 x\r\n", "250 x\r\n", "250 ok\r\n",
                                     "452 4.5.3 too many\r\n", NULL };
    ck_assert_int_eq(send_to_scripted(tempfail, log, rcpts[0], why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "452 4.5.3 too many"));

    /* every recipient refused: not done */
    const char *const allbad[] = { "220 x\r\n", "250 x\r\n", "250 ok\r\n", "550 no\r\n",
                                   "221 bye\r\n", NULL };
    ck_assert_int_eq(send_to_scripted(allbad, log, rcpts[0], why, sizeof why), -1);
    ck_assert_str_eq(why, "no recipient accepted");

    /* the connection closes after the whole message: unknown (-2), never "not sent" */
    const char *const lost[] = { "220 x\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n",
                                 "354 go\r\n", "", NULL };
    ck_assert_int_eq(send_to_scripted(lost, log, rcpts[0], why, sizeof why), -2);

    /* the message refused after the data: not sent */
    const char *const bad_data[] = { "220 x\r\n", "250 x\r\n", "250 ok\r\n", "250 ok\r\n",
                                     "354 go\r\n", "554 5.7.1 no\r\n", NULL };
    ck_assert_int_eq(send_to_scripted(bad_data, log, rcpts[0], why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "554 5.7.1 no"));

    /* a greeting that is no 220, nobody listening, a bad address */
    const char *const busy[] = { "554 go away\r\n", NULL };
    pid = fake_server(&port, busy, log);
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    ck_assert_int_eq(au_smtp_send(hp, 5, "h", "", rcpts, 1, -1, LIT(smtp_msg), refused,
                                  sizeof refused, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "greets with \"554 go away\""));
    waitpid(pid, &st, 0);
    ck_assert_int_eq(au_smtp_send(hp, 5, "h", "", rcpts, 1, -1, LIT(smtp_msg), refused,
                                  sizeof refused, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "cannot connect"));
    ck_assert_int_eq(au_smtp_send("no-port", 5, "h", "", rcpts, 1, -1, LIT(smtp_msg), refused,
                                  sizeof refused, why, sizeof why), -1);
    ck_assert_ptr_nonnull(strstr(why, "HOST:PORT"));
    unlink(log);
}
END_TEST

static Suite *audit_suite(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("tokens");
    tcase_add_test(tc, test_secret_text);
    tcase_add_test(tc, test_id_and_token);
    tcase_add_test(tc, test_equal_ct_hex);
    suite_add_tcase(s, tc);

    tc = tcase_create("addresses");
    tcase_add_test(tc, test_decision_addr);
    tcase_add_test(tc, test_review_addr_and_address_ok);
    suite_add_tcase(s, tc);

    tc = tcase_create("messages");
    tcase_add_test(tc, test_headers);
    tcase_add_test(tc, test_text_start);
    tcase_add_test(tc, test_reason);
    tcase_add_test(tc, test_sanitize);
    suite_add_tcase(s, tc);

    tc = tcase_create("notices");
    tcase_add_test(tc, test_notice_held);
    tcase_add_test(tc, test_notice_others);
    suite_add_tcase(s, tc);

    tc = tcase_create("config");
    tcase_add_test(tc, test_records);
    suite_add_tcase(s, tc);

    tc = tcase_create("spool");
    tcase_add_test(tc, test_spool_states);
    tcase_add_test(tc, test_spool_digest);
    suite_add_tcase(s, tc);

    tc = tcase_create("smtp");
    tcase_add_test(tc, test_smtp_handover);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(audit_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
