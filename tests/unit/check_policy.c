/*
 * check_policy.c - unit tests for overlay/policy.c (man page SEND DECISIONS: who may send, audit).
 *
 * The heart is decision_cases[]: one row per scenario (policies, whitelist, audit, auditors,
 * group mail, member set, sender -> decision, a substring of the reason, and how often the
 * membership callback may run).  Each row is its own Check loop test.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "policy.h"

#define LIT(s) s, (sizeof(s) - 1)
#define N_ROWS(t) ((int)(sizeof(t) / sizeof((t)[0])))
#define MAX_LIST 4

/* ---- the membership callback used by every row ---- */

#define MEMBER_ERROR "!error"   /* a member-set entry that makes the callback fail */

struct member_set {
    const char *const *mail;   /* NULL-terminated */
    int calls;
    char last_arg[DMG_ADDR_MAX_LEN + 1];
};

static int test_is_member(void *ctx, const char *addr, size_t len)
{
    struct member_set *ms = ctx;
    int i;

    ms->calls++;
    /* the contract: a valid, canonical, NUL-terminated address */
    ck_assert_uint_le(len, DMG_ADDR_MAX_LEN);
    ck_assert_int_eq(addr[len], '\0');
    ck_assert_int_eq(dmg_addr_parse(addr, len, NULL, NULL), DMG_ADDR_OK);
    memcpy(ms->last_arg, addr, len + 1);
    for (i = 0; i < MAX_LIST && ms->mail[i] != NULL; i++) {
        if (strcmp(ms->mail[i], MEMBER_ERROR) == 0)
            return -1;
        if (dmg_addr_equal(addr, len, ms->mail[i], strlen(ms->mail[i])))
            return 1;
    }
    return 0;
}

/* ---- the decision table ---- */

struct decision_case {
    unsigned policies;
    const char *whitelist[MAX_LIST];   /* NULL-terminated */
    int audit;
    const char *auditors[MAX_LIST];    /* NULL-terminated */
    const char *group;                 /* NULL means "g@example.com" */
    const char *members[MAX_LIST];     /* NULL-terminated */
    int no_callback;                   /* is_member == NULL */
    const char *sender;
    size_t sender_len;
    enum dmg_decision want;
    const char *reason;                /* substring of the expected reason */
    int member_calls;                  /* exact number of callback calls expected */
};

#define D DMG_SEND_DOMAIN
#define M DMG_SEND_MEMBERS
#define A DMG_SEND_ANYONE
#define W DMG_SEND_WHITELIST
#define SENDER(s) .sender = s, .sender_len = sizeof(s) - 1
#define STD_MEMBERS .members = { "m@example.org", "Mixed.Case@Partner.example" }

static const struct decision_case decision_cases[] = {
    /* 0-6: default policy (0 = domain) */
    { .policies = 0, SENDER("x@example.com"), .want = DMG_ACCEPT,
      .reason = "sender allowed by policy domain: x@example.com may send to g@example.com" },
    { .policies = 0, SENDER("X@EXAMPLE.COM."), .want = DMG_ACCEPT,
      .reason = "policy domain" },
    { .policies = 0, SENDER("x@example.org"), .want = DMG_REJECT,
      .reason = "sender x@example.org is not allowed to send to g@example.com (policy: domain)" },
    { .policies = 0, SENDER("x@sub.example.com"), .want = DMG_REJECT,
      .reason = "(policy: domain)" },
    { .policies = 0, SENDER(""), .want = DMG_REJECT,
      .reason = "the null sender <> is not allowed to send to g@example.com (policy: domain)" },
    { .policies = 0, SENDER("<>"), .want = DMG_REJECT, .reason = "the null sender <>" },
    { .policies = 0x10, SENDER("x@example.com"), .want = DMG_ACCEPT,
      .reason = "policy domain" },   /* unknown bits alone: the default applies */

    /* 7-9: domain, and the group's own address */
    { .policies = D, .group = "G@Example.COM.", SENDER("x@example.com"), .want = DMG_ACCEPT,
      .reason = "may send to G@Example.COM." },
    { .policies = D, .group = "not-an-address", SENDER("x@example.com"), .want = DMG_REJECT,
      .reason = "is not allowed to send to not-an-address (policy: domain)" },
    { .policies = D, .group = "", SENDER("x@example.com"), .want = DMG_REJECT,
      .reason = "send to the group (no mail address)" },

    /* 10-16: members */
    { .policies = M, STD_MEMBERS, SENDER("m@example.org"), .want = DMG_ACCEPT,
      .reason = "sender allowed by policy members: m@example.org", .member_calls = 1 },
    { .policies = M, STD_MEMBERS, SENDER("M@EXAMPLE.ORG"), .want = DMG_ACCEPT,
      .reason = "policy members: M@EXAMPLE.ORG", .member_calls = 1 },
    { .policies = M, STD_MEMBERS, SENDER("<mixed.case@partner.EXAMPLE.>"), .want = DMG_ACCEPT,
      .reason = "policy members: mixed.case@partner.EXAMPLE may", .member_calls = 1 },
    { .policies = M, STD_MEMBERS, SENDER("x@example.com"), .want = DMG_REJECT,
      .reason = "sender x@example.com is not allowed to send to g@example.com (policy: members)",
      .member_calls = 1 },
    { .policies = M, STD_MEMBERS, SENDER(""), .want = DMG_REJECT,
      .reason = "the null sender <> is not allowed", .member_calls = 0 },
    { .policies = M, STD_MEMBERS, .no_callback = 1, SENDER("m@example.org"),
      .want = DMG_REJECT, .reason = "(policy: members)" },
    { .policies = M, .members = { MEMBER_ERROR }, SENDER("m@example.org"), .want = DMG_REJECT,
      .reason = "could not determine whether sender m@example.org is a member of g@example.com"
                " (policy: members)", .member_calls = 1 },

    /* 17-19: domain + members; members is asked only when domain did not allow */
    { .policies = D | M, STD_MEMBERS, SENDER("x@example.com"), .want = DMG_ACCEPT,
      .reason = "policy domain", .member_calls = 0 },
    { .policies = D | M, STD_MEMBERS, SENDER("m@example.org"), .want = DMG_ACCEPT,
      .reason = "policy members", .member_calls = 1 },
    { .policies = D | M, STD_MEMBERS, SENDER("x@y.org"), .want = DMG_REJECT,
      .reason = "sender x@y.org is not allowed to send to g@example.com (policy: domain, members)",
      .member_calls = 1 },

    /* 20-27: anyone, and malformed senders under every policy */
    { .policies = A, SENDER("x@y.org"), .want = DMG_ACCEPT,
      .reason = "sender allowed by policy anyone: x@y.org may send to g@example.com" },
    { .policies = A, SENDER(""), .want = DMG_ACCEPT, .reason = "policy anyone: <> may send" },
    { .policies = A, SENDER("<>"), .want = DMG_ACCEPT, .reason = "policy anyone: <>" },
    { .policies = A, SENDER("a b@y.org"), .want = DMG_REJECT,
      .reason = "malformed sender address: control character or space outside a quoted local part" },
    { .policies = A | M, STD_MEMBERS, SENDER("m@example.org"), .want = DMG_ACCEPT,
      .reason = "policy anyone", .member_calls = 0 },
    { .policies = A, SENDER("no-at-sign"), .want = DMG_REJECT,
      .reason = "malformed sender address: address has no @" },
    { .policies = A, SENDER("\x01@y.org"), .want = DMG_REJECT,
      .reason = "malformed sender address: control character" },
    { .policies = D | M | A | W, STD_MEMBERS, .whitelist = { "@example.com" },
      SENDER("@example.com"), .want = DMG_REJECT,
      .reason = "malformed sender address: empty local part", .member_calls = 0 },

    /* 28-40: whitelist */
    { .policies = W, .whitelist = { "friend@partner.org" }, SENDER("friend@partner.org"),
      .want = DMG_ACCEPT, .reason = "sender allowed by policy whitelist: friend@partner.org" },
    { .policies = W, .whitelist = { "Friend@Partner.ORG" }, SENDER("FRIEND@partner.org."),
      .want = DMG_ACCEPT, .reason = "policy whitelist" },
    { .policies = W, .whitelist = { "x@a.org", "@partner.org" }, SENDER("anyone@partner.org"),
      .want = DMG_ACCEPT, .reason = "policy whitelist" },
    { .policies = W, .whitelist = { "@partner.org" }, SENDER("x@sub.partner.org"),
      .want = DMG_REJECT, .reason = "(policy: whitelist)" },
    { .policies = W, .whitelist = { "@partner.org." }, SENDER("x@PARTNER.org"),
      .want = DMG_ACCEPT, .reason = "policy whitelist" },
    { .policies = W, .whitelist = { "friend@partner.org" }, SENDER("other@partner.org"),
      .want = DMG_REJECT,
      .reason = "sender other@partner.org is not allowed to send to g@example.com (policy: whitelist)" },
    { .policies = W, SENDER("x@y.org"), .want = DMG_REJECT, .reason = "(policy: whitelist)" },
    { .policies = W, .whitelist = { "@", "@@partner.org", "bad value", "" },
      SENDER("x@partner.org"), .want = DMG_REJECT, .reason = "(policy: whitelist)" },
    { .policies = W, .whitelist = { "@partner.org" }, SENDER(""), .want = DMG_REJECT,
      .reason = "the null sender <> is not allowed" },
    { .policies = W | D, .whitelist = { "@partner.org" }, SENDER("x@example.com"),
      .want = DMG_ACCEPT, .reason = "policy domain" },
    { .policies = D | W | M, STD_MEMBERS, .whitelist = { "@partner.org" },
      SENDER("m@example.org"), .want = DMG_ACCEPT, .reason = "policy members",
      .member_calls = 1 },
    { .policies = D | W | M, STD_MEMBERS, .whitelist = { "@partner.org" },
      SENDER("friend@partner.org"), .want = DMG_ACCEPT, .reason = "policy whitelist",
      .member_calls = 0 },
    { .policies = D | W | M, STD_MEMBERS, .whitelist = { "@partner.org" },
      SENDER("x@y.org"), .want = DMG_REJECT,
      .reason = "(policy: domain, members, whitelist)", .member_calls = 1 },

    /* 41-49: audit */
    { .policies = D, .audit = 1, .auditors = { "boss@example.com" }, SENDER("x@example.com"),
      .want = DMG_HOLD,
      .reason = "mail to g@example.com is held for audit: sender x@example.com "
                "(allowed by policy domain) is not an auditor" },
    { .policies = D, .audit = 1, .auditors = { "boss@example.com" },
      SENDER("BOSS@example.com"), .want = DMG_ACCEPT,
      .reason = "(sender is an auditor, not held for audit)" },
    { .policies = D, .audit = 1, .auditors = { "boss@example.com" }, SENDER("x@example.org"),
      .want = DMG_REJECT, .reason = "is not allowed to send" },
    { .policies = A, .audit = 1, .auditors = { "boss@example.com" }, SENDER(""),
      .want = DMG_HOLD, .reason = "held for audit: sender <> (allowed by policy anyone)" },
    { .policies = A, .audit = 1, .auditors = { "x@a.org", "boss@example.com" },
      SENDER("<boss@Example.com.>"), .want = DMG_ACCEPT, .reason = "auditor" },
    { .policies = M, STD_MEMBERS, .audit = 1, .auditors = { "m@example.org" },
      SENDER("m@example.org"), .want = DMG_ACCEPT, .reason = "auditor", .member_calls = 1 },
    { .policies = M, STD_MEMBERS, .audit = 1, SENDER("m@example.org"), .want = DMG_HOLD,
      .reason = "(allowed by policy members) is not an auditor", .member_calls = 1 },
    { .policies = A, .audit = 1, .auditors = { "a b@y.org", "", "<>" }, SENDER("a@y.org"),
      .want = DMG_HOLD, .reason = "held for audit" },
    { .policies = A, .audit = 1, .auditors = { "a@y.org" }, SENDER("a b@y.org"),
      .want = DMG_REJECT, .reason = "malformed sender address" },

    /* 50-51: unknown policy bits are ignored */
    { .policies = 0x30 | M, STD_MEMBERS, SENDER("x@example.com"), .want = DMG_REJECT,
      .reason = "(policy: members)", .member_calls = 1 },
    { .policies = 0xfffffff0u | W, .whitelist = { "@y.org" }, SENDER("a@y.org"),
      .want = DMG_ACCEPT, .reason = "policy whitelist" },

    /* 52-58: what reasons show; nothing raw, nothing on two lines */
    { .policies = A, SENDER("\"a b\"@y.org"), .want = DMG_ACCEPT,
      .reason = "policy anyone: \"a b\"@y.org may send" },
    { .policies = A, SENDER("\"a\\\\b\"@y.org"), .want = DMG_ACCEPT,
      .reason = "\"a\\\\\\\\b\"@y.org may send" },
    { .policies = A, SENDER("j\xc3\xb6rg@y.org"), .want = DMG_ACCEPT,
      .reason = "j\\xc3\\xb6rg@y.org may send" },
    { .policies = D, .group = "g\n@example.com", SENDER("x@example.com"), .want = DMG_REJECT,
      .reason = "not allowed to send to g\\x0a@example.com (policy: domain)" },
    { .policies = D, SENDER("a@[192.0.2.1]"), .want = DMG_REJECT,
      .reason = "sender a@[192.0.2.1] is not allowed" },
    { .policies = D, SENDER("x\0@example.com"), .want = DMG_REJECT,
      .reason = "malformed sender address: control character" },
    { .policies = D, .group = "g@[192.0.2.1]", SENDER("x@[192.0.2.1]"), .want = DMG_ACCEPT,
      .reason = "policy domain" },
};

static size_t list_len(const char *const *list)
{
    size_t n = 0;

    while (n < MAX_LIST && list[n] != NULL)
        n++;
    return n;
}

/* Turn a NULL-terminated list of C strings into counted strings. */
static size_t to_dmg_str(const char *const *list, struct dmg_str *out)
{
    size_t i, n = list_len(list);

    for (i = 0; i < n; i++) {
        out[i].s = list[i];
        out[i].len = strlen(list[i]);
    }
    return n;
}

/* One line, printable ASCII, NUL-terminated inside the buffer. */
static void assert_clean_reason(const char *reason, size_t cap, int row)
{
    size_t i;

    ck_assert_msg(memchr(reason, '\0', cap) != NULL, "row %d: reason not terminated", row);
    for (i = 0; reason[i] != '\0'; i++)
        ck_assert_msg(reason[i] >= 0x20 && reason[i] < 0x7f, "row %d: octet 0x%02x in reason",
                      row, (unsigned char)reason[i]);
}

static enum dmg_decision run_case(const struct decision_case *c, struct member_set *ms,
                                  char *reason, size_t cap)
{
    struct dmg_str wl[MAX_LIST], aud[MAX_LIST];
    struct dmg_policy_input in;
    const char *group = c->group != NULL ? c->group : "g@example.com";

    memset(&in, 0, sizeof in);
    in.policies = c->policies;
    in.n_whitelist = to_dmg_str(c->whitelist, wl);
    in.whitelist = wl;
    in.audit_required = c->audit;
    in.n_auditor_mail = to_dmg_str(c->auditors, aud);
    in.auditor_mail = aud;
    in.group_mail.s = group;
    in.group_mail.len = strlen(group);
    in.is_member = c->no_callback ? NULL : test_is_member;
    in.member_ctx = ms;
    memset(ms, 0, sizeof *ms);
    ms->mail = c->members;
    return dmg_policy_decide(&in, c->sender, c->sender_len, reason, cap);
}

START_TEST(test_decision_table)
{
    const struct decision_case *c = &decision_cases[_i];
    struct member_set ms;
    char reason[512];
    enum dmg_decision d;

    memset(reason, 'Z', sizeof reason);
    d = run_case(c, &ms, reason, sizeof reason);
    ck_assert_msg(d == c->want, "row %d: %s, want %s (%s)", _i, dmg_decision_name(d),
                  dmg_decision_name(c->want), reason);
    ck_assert_msg(strstr(reason, c->reason) != NULL, "row %d: reason \"%s\" lacks \"%s\"", _i,
                  reason, c->reason);
    ck_assert_msg(ms.calls == c->member_calls, "row %d: is_member called %d times, want %d",
                  _i, ms.calls, c->member_calls);
    assert_clean_reason(reason, sizeof reason, _i);
}
END_TEST

/* The callback sees the canonical sender: no brackets, no trailing dot, case as sent. */
START_TEST(test_member_callback_gets_canonical_sender)
{
    const struct decision_case *c = &decision_cases[12];
    struct member_set ms;
    char reason[256];

    run_case(c, &ms, reason, sizeof reason);
    ck_assert_str_eq(ms.last_arg, "mixed.case@partner.EXAMPLE");
}
END_TEST

/* Every row must give the same decision whatever the reason buffer: truncation is safe. */
START_TEST(test_reason_truncation)
{
    static const size_t caps[] = { 0, 1, 2, 3, 4, 5, 17, 40 };
    char buf[64];
    size_t k;
    int row;

    for (row = 0; row < N_ROWS(decision_cases); row++) {
        for (k = 0; k < sizeof caps / sizeof caps[0]; k++) {
            struct member_set ms;
            char full[512];
            enum dmg_decision want = run_case(&decision_cases[row], &ms, full, sizeof full);
            size_t cap = caps[k];

            memset(buf, 'Z', sizeof buf);
            ck_assert_int_eq(run_case(&decision_cases[row], &ms, buf, cap), want);
            /* nothing written past cap */
            ck_assert_msg(buf[cap] == 'Z', "row %d cap %zu: overflow", row, cap);
            if (cap == 0)
                continue;
            assert_clean_reason(buf, cap, row);
            if (strlen(full) < cap) {
                ck_assert_str_eq(buf, full);
            } else if (cap >= 4) {
                size_t n = strlen(buf);

                ck_assert_msg(n >= 3 && strcmp(buf + n - 3, "...") == 0,
                              "row %d cap %zu: cut reason \"%s\" lacks ...", row, cap, buf);
                ck_assert_msg(strncmp(buf, full, n - 3) == 0, "row %d cap %zu: not a prefix",
                              row, cap);
            }
        }
        /* a NULL reason buffer is allowed */
        {
            struct member_set ms;
            char full[512];
            enum dmg_decision want = run_case(&decision_cases[row], &ms, full, sizeof full);

            ck_assert_int_eq(run_case(&decision_cases[row], &ms, NULL, 100), want);
        }
    }
}
END_TEST

/* An escape sequence is never split by a cut: the reason stays unambiguous. */
START_TEST(test_truncation_keeps_escapes_whole)
{
    struct dmg_policy_input in;
    char buf[64];
    size_t cap;

    memset(&in, 0, sizeof in);
    in.policies = DMG_SEND_ANYONE;
    in.group_mail.s = "g@example.com";
    in.group_mail.len = 13;
    for (cap = 40; cap < 60; cap++) {
        const char *p;

        dmg_policy_decide(&in, LIT("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4@y.org"),
                          buf, cap);
        /* "...": every backslash before it starts a complete \xHH */
        for (p = strchr(buf, '\\'); p != NULL; p = strchr(p + 1, '\\'))
            ck_assert_msg(p[1] == 'x' && p[2] && p[3] && p[2] != '.' && p[3] != '.',
                          "cap %zu: split escape in \"%s\"", cap, buf);
    }
}
END_TEST

START_TEST(test_overlong_sender)
{
    char sender[400];
    char reason[512];
    struct dmg_policy_input in;
    size_t i;

    memset(&in, 0, sizeof in);
    in.policies = DMG_SEND_ANYONE;
    /* "aaaaaaaaaa@" then labels of 49 octets: valid at any length up to the limit */
    memset(sender, 'a', sizeof sender);
    sender[10] = '@';
    for (i = 11; i < sizeof sender; i++)
        if ((i - 11) % 50 == 49)
            sender[i] = '.';
    ck_assert_int_eq(dmg_policy_decide(&in, sender, 300, reason, sizeof reason), DMG_REJECT);
    ck_assert_str_eq(reason, "malformed sender address: address longer than 254 octets");
    ck_assert_int_eq(dmg_policy_decide(&in, sender, 255, reason, sizeof reason), DMG_REJECT);
    ck_assert_str_eq(reason, "malformed sender address: address longer than 254 octets");
    /* 254 octets is fine; the group without address is named as such */
    ck_assert_int_eq(dmg_policy_decide(&in, sender, 254, reason, sizeof reason), DMG_ACCEPT);
    ck_assert_ptr_nonnull(strstr(reason, "may send to the group (no mail address)"));
}
END_TEST

START_TEST(test_defensive_inputs)
{
    struct dmg_policy_input in;
    char reason[128];

    ck_assert_int_eq(dmg_policy_decide(NULL, LIT("a@b.org"), reason, sizeof reason), DMG_REJECT);
    ck_assert_str_eq(reason, "internal error: no policy input");
    memset(&in, 0, sizeof in);
    in.policies = DMG_SEND_WHITELIST | DMG_SEND_ANYONE;
    in.n_whitelist = 3;          /* count without array: ignored, not dereferenced */
    in.n_auditor_mail = 3;
    in.audit_required = 1;
    ck_assert_int_eq(dmg_policy_decide(&in, NULL, 0, reason, sizeof reason), DMG_HOLD);
    ck_assert_int_eq(dmg_policy_decide(&in, LIT("a@b.org"), reason, sizeof reason), DMG_HOLD);
    in.policies = DMG_SEND_WHITELIST;
    ck_assert_int_eq(dmg_policy_decide(&in, LIT("a@b.org"), reason, sizeof reason), DMG_REJECT);
    ck_assert_int_eq(dmg_policy_decide(&in, NULL, 5, reason, sizeof reason), DMG_REJECT);
    ck_assert_ptr_nonnull(strstr(reason, "malformed sender address"));
}
END_TEST

/* NULL entries in the value arrays are skipped, never dereferenced. */
START_TEST(test_null_list_entries)
{
    static const struct dmg_str holes[] = { { NULL, 0 }, { NULL, 7 }, { "@b.org", 6 } };
    struct dmg_policy_input in;
    char reason[128];

    memset(&in, 0, sizeof in);
    in.policies = DMG_SEND_WHITELIST;
    in.whitelist = holes;
    in.n_whitelist = 3;
    in.audit_required = 1;
    in.auditor_mail = holes;
    in.n_auditor_mail = 2;
    ck_assert_int_eq(dmg_policy_decide(&in, LIT("a@b.org"), reason, sizeof reason), DMG_HOLD);
    in.n_whitelist = 2;
    ck_assert_int_eq(dmg_policy_decide(&in, LIT("a@b.org"), reason, sizeof reason), DMG_REJECT);
}
END_TEST

/* ---- keywords ---- */

struct keyword_case {
    const char *in;
    size_t len;
    int ok;
    unsigned bit;
};

static const struct keyword_case keyword_cases[] = {
    { LIT("domain"), 0, DMG_SEND_DOMAIN },
    { LIT("DOMAIN"), 0, DMG_SEND_DOMAIN },
    { LIT("members"), 0, DMG_SEND_MEMBERS },
    { LIT("Members"), 0, DMG_SEND_MEMBERS },
    { LIT("anyone"), 0, DMG_SEND_ANYONE },
    { LIT("AnyOne"), 0, DMG_SEND_ANYONE },
    { LIT("whitelist"), 0, DMG_SEND_WHITELIST },
    { LIT("WhiteList"), 0, DMG_SEND_WHITELIST },
    { LIT(""), -1, 0 },
    { LIT("dom"), -1, 0 },
    { LIT("domains"), -1, 0 },
    { LIT(" domain"), -1, 0 },
    { LIT("domain "), -1, 0 },
    { LIT("domain\0"), -1, 0 },
    { LIT("member"), -1, 0 },
    { LIT("any one"), -1, 0 },
    { LIT("everyone"), -1, 0 },
    { LIT("white-list"), -1, 0 },
    { LIT("D\xc3\x96main"), -1, 0 },
};

START_TEST(test_keyword_table)
{
    const struct keyword_case *c = &keyword_cases[_i];
    unsigned bit = 12345;

    ck_assert_msg(dmg_send_policy_parse(c->in, c->len, &bit) == c->ok, "row %d", _i);
    if (c->ok == 0)
        ck_assert_uint_eq(bit, c->bit);
    else
        ck_assert_uint_eq(bit, 12345);   /* untouched on failure */
}
END_TEST

START_TEST(test_keyword_misc)
{
    ck_assert_int_eq(dmg_send_policy_parse(NULL, 0, NULL), -1);
    ck_assert_int_eq(dmg_send_policy_parse(LIT("anyone"), NULL), 0);
    ck_assert_str_eq(dmg_send_policy_name(DMG_SEND_DOMAIN), "domain");
    ck_assert_str_eq(dmg_send_policy_name(DMG_SEND_MEMBERS), "members");
    ck_assert_str_eq(dmg_send_policy_name(DMG_SEND_ANYONE), "anyone");
    ck_assert_str_eq(dmg_send_policy_name(DMG_SEND_WHITELIST), "whitelist");
    ck_assert_ptr_null(dmg_send_policy_name(0));
    ck_assert_ptr_null(dmg_send_policy_name(DMG_SEND_DOMAIN | DMG_SEND_MEMBERS));
    ck_assert_ptr_null(dmg_send_policy_name(16));
}
END_TEST

START_TEST(test_decision_names)
{
    ck_assert_str_eq(dmg_decision_name(DMG_ACCEPT), "accept");
    ck_assert_str_eq(dmg_decision_name(DMG_HOLD), "hold");
    ck_assert_str_eq(dmg_decision_name(DMG_REJECT), "reject");
    ck_assert_str_eq(dmg_decision_name((enum dmg_decision)7), "reject");
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc;

    tc = tcase_create("decide");
    tcase_add_loop_test(tc, test_decision_table, 0, N_ROWS(decision_cases));
    tcase_add_test(tc, test_member_callback_gets_canonical_sender);
    tcase_add_test(tc, test_reason_truncation);
    tcase_add_test(tc, test_truncation_keeps_escapes_whole);
    tcase_add_test(tc, test_overlong_sender);
    tcase_add_test(tc, test_defensive_inputs);
    tcase_add_test(tc, test_null_list_entries);
    suite_add_tcase(s, tc);

    tc = tcase_create("keywords");
    tcase_add_loop_test(tc, test_keyword_table, 0, N_ROWS(keyword_cases));
    tcase_add_test(tc, test_keyword_misc);
    tcase_add_test(tc, test_decision_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(policy_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
