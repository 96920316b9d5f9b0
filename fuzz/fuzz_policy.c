/*
 * fuzz_policy.c - libFuzzer harness for overlay/policy.c.
 *
 * Input layout (missing bytes read as 0, a field longer than what is left is cut):
 *
 *   byte 0   policies (all 8 bits, so unknown bits are exercised too)
 *   byte 1   bit 0 audit required, bit 1 no membership callback, bit 2 callback fails
 *   byte 2   size of the reason buffer (0..254; 255 means 4096)
 *   byte 3   counts: bits 0-2 whitelist values (0..7), bits 3-4 auditors, bits 5-6 members
 *   then     fields, each one length octet followed by that many octets:
 *            group mail, sender, whitelist values..., auditor mails..., member mails...
 *
 * Every field is copied into its own exact-size heap block, so a read past any length is
 * an AddressSanitizer report.  The properties of man page SEND DECISIONS are checked on each run.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ioverlay \
 *       overlay/address.c overlay/policy.c fuzz/fuzz_policy.c -o fuzz_policy
 *   mkdir -p /tmp/fuzz-policy && ./fuzz_policy -max_total_time=60 /tmp/fuzz-policy fuzz/corpus/policy
 *   (the first directory receives new inputs; keep it outside the tree)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)
#define MAX_VALUES 8
#define BIG_REASON 4096   /* room for a 255-octet group and sender, fully escaped */

struct reader {
    const uint8_t *p;
    size_t left;
};

static unsigned read_byte(struct reader *r)
{
    if (r->left == 0)
        return 0;
    r->left--;
    return *r->p++;
}

/* A length-prefixed field, copied to an exact-size heap block (NULL when empty). */
static struct dmg_str read_field(struct reader *r)
{
    struct dmg_str f = { NULL, 0 };
    size_t n = read_byte(r);
    char *copy;

    if (n > r->left)
        n = r->left;
    if (n == 0)
        return f;
    copy = malloc(n);
    REQUIRE(copy != NULL);
    memcpy(copy, r->p, n);
    r->p += n;
    r->left -= n;
    f.s = copy;
    f.len = n;
    return f;
}

static void read_fields(struct reader *r, struct dmg_str *out, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = read_field(r);
}

static void free_fields(struct dmg_str *f, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free((char *)f[i].s);
}

/* ---- membership oracle ---- */

struct members {
    const struct dmg_str *mail;
    size_t n;
    int fail;
    int calls;
};

static int fuzz_is_member(void *ctx, const char *addr, size_t len)
{
    struct members *m = ctx;
    size_t i;

    m->calls++;
    /* the contract: a valid, canonical, NUL-terminated sender */
    REQUIRE(addr[len] == '\0');
    REQUIRE(dmg_addr_parse(addr, len, NULL, NULL) == DMG_ADDR_OK);
    REQUIRE(addr[0] != '<' && addr[len - 1] != '.');
    if (m->fail)
        return -1;
    for (i = 0; i < m->n; i++)
        if (m->mail[i].s != NULL && dmg_addr_equal(addr, len, m->mail[i].s, m->mail[i].len))
            return 1;
    return 0;
}

/* ---- properties ---- */

static unsigned effective(unsigned policies)
{
    policies &= DMG_SEND_ALL;
    return policies ? policies : DMG_SEND_DEFAULT;
}

static void require_clean_reason(const char *reason, size_t cap)
{
    size_t i;

    if (cap == 0)
        return;
    REQUIRE(memchr(reason, '\0', cap) != NULL);
    for (i = 0; reason[i] != '\0'; i++)
        REQUIRE(reason[i] >= 0x20 && reason[i] < 0x7f);
}

static void check_properties(const struct dmg_policy_input *in, const struct dmg_str *sender,
                             enum dmg_decision d, const char *reason, int member_calls)
{
    unsigned pol = effective(in->policies);
    enum dmg_addr_status st = dmg_addr_parse(sender->s, sender->len, NULL, NULL);

    REQUIRE(d == DMG_ACCEPT || d == DMG_HOLD || d == DMG_REJECT);
    REQUIRE(member_calls <= 1);
    if (member_calls == 1)   /* only when members is the policy still open */
        REQUIRE((pol & DMG_SEND_MEMBERS) && !(pol & DMG_SEND_ANYONE) && st == DMG_ADDR_OK);
    if (st == DMG_ADDR_MALFORMED) {
        REQUIRE(d == DMG_REJECT);
        REQUIRE(strncmp(reason, "malformed sender address: ", 26) == 0);
    }
    if (st == DMG_ADDR_NULL)
        REQUIRE((d == DMG_REJECT) == !(pol & DMG_SEND_ANYONE));
    if (st != DMG_ADDR_MALFORMED && (pol & DMG_SEND_ANYONE))
        REQUIRE(d != DMG_REJECT);
    if (d == DMG_HOLD)
        REQUIRE(in->audit_required && strstr(reason, "held for audit") != NULL);
    if (d == DMG_REJECT && st != DMG_ADDR_MALFORMED)
        REQUIRE(strstr(reason, "(policy: ") != NULL);
    if (d == DMG_ACCEPT)
        REQUIRE(strncmp(reason, "sender allowed by policy ", 25) == 0);
}

/* A small reason buffer changes nothing but the length of the reason. */
static void check_truncation(const char *full, const char *cut, size_t cap)
{
    size_t n;

    if (cap == 0)
        return;
    n = strlen(cut);
    REQUIRE(n < cap);
    if (strlen(full) < cap) {
        REQUIRE(strcmp(full, cut) == 0);
    } else if (cap >= 4) {
        REQUIRE(n >= 3 && strcmp(cut + n - 3, "...") == 0);
        REQUIRE(strncmp(full, cut, n - 3) == 0);
    }
}

/* Any octets as a dmgSendPolicy value: a known keyword gives exactly its bit. */
static void check_keyword(const struct dmg_str *value)
{
    unsigned bit = 0;
    const char *name;

    if (dmg_send_policy_parse(value->s, value->len, &bit) != 0)
        return;
    name = dmg_send_policy_name(bit);
    REQUIRE(name != NULL && strlen(name) == value->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct reader r = { data, size };
    struct dmg_str group, sender, whitelist[MAX_VALUES], auditors[MAX_VALUES];
    struct dmg_str member_mail[MAX_VALUES];
    struct dmg_policy_input in;
    struct members m;
    unsigned flags, counts;
    size_t cap, n_wl, n_aud, n_mem;
    char full[BIG_REASON];
    char *cut;
    enum dmg_decision d, d2;

    memset(&in, 0, sizeof in);
    memset(&m, 0, sizeof m);
    in.policies = read_byte(&r);
    flags = read_byte(&r);
    cap = read_byte(&r);
    if (cap == 255)
        cap = BIG_REASON;
    counts = read_byte(&r);
    n_wl = counts & 7;
    n_aud = (counts >> 3) & 3;
    n_mem = (counts >> 5) & 3;

    group = read_field(&r);
    sender = read_field(&r);
    read_fields(&r, whitelist, n_wl);
    read_fields(&r, auditors, n_aud);
    read_fields(&r, member_mail, n_mem);

    in.whitelist = whitelist;
    in.n_whitelist = n_wl;
    in.audit_required = flags & 1;
    in.auditor_mail = auditors;
    in.n_auditor_mail = n_aud;
    in.group_mail = group;
    in.is_member = (flags & 2) ? NULL : fuzz_is_member;
    in.member_ctx = &m;
    m.mail = member_mail;
    m.n = n_mem;
    m.fail = (flags & 4) != 0;

    d = dmg_policy_decide(&in, sender.s, sender.len, full, sizeof full);
    require_clean_reason(full, sizeof full);
    check_properties(&in, &sender, d, full, m.calls);
    REQUIRE(strcmp(dmg_decision_name(d), d == DMG_ACCEPT ? "accept" :
                   d == DMG_HOLD ? "hold" : "reject") == 0);
    check_keyword(&group);

    /* same input, exact-size (possibly tiny) reason buffer: same decision, a cut reason */
    cut = malloc(cap ? cap : 1);
    REQUIRE(cut != NULL);
    m.calls = 0;
    d2 = dmg_policy_decide(&in, sender.s, sender.len, cap ? cut : NULL, cap);
    REQUIRE(d2 == d);
    require_clean_reason(cut, cap);
    check_truncation(full, cut, cap);
    free(cut);

    free((char *)group.s);
    free((char *)sender.s);
    free_fields(whitelist, n_wl);
    free_fields(auditors, n_aud);
    free_fields(member_mail, n_mem);
    return 0;
}
