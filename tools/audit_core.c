/*
 * audit_core.c - IDs, tokens, addresses, message text and the spool of dmg-audit
 * (see audit_core.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "audit_core.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

/* ======================================================================================
 * Small helpers
 * ==================================================================================== */

int au_equal_ct(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

void au_hex(char *out, const unsigned char *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

int au_caseeq(const char *a, const char *b)
{
    while (*a != '\0' && lower((unsigned char)*a) == lower((unsigned char)*b)) {
        a++;
        b++;
    }
    return *a == '\0' && *b == '\0';
}

size_t au_sanitize(char *out, size_t size, const char *s, size_t len)
{
    size_t b = 0, e = len, n = 0;
    int cut = 0;

    if (size == 0)
        return 0;
    while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r'
                     || s[e - 1] == '\n'))
        e--;
    for (size_t i = b; i < e; i++) {
        unsigned char c = (unsigned char)s[i];
        if (n + 1 >= size) {
            cut = 1;
            break;
        }
        out[n++] = (char)(c < 0x20 ? ' ' : c >= 0x7f ? '?' : c);
    }
    if (cut && size >= 4) {
        n = size - 1 < n ? size - 1 : n;
        memcpy(out + n - 3, "...", 3);
    }
    out[n] = '\0';
    return n;
}

int au_address_ok(const char *a, int null_ok)
{
    size_t len = strlen(a);
    const char *at;

    if (len == 0)
        return null_ok;
    if (len > 254 || a[0] == '-')
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c <= 0x20 || c >= 0x7f || strchr("<>,;\"'\\()[]", c) != NULL)
            return 0;
    }
    at = strchr(a, '@');
    if (at == NULL || at == a || at[1] == '\0' || strchr(at + 1, '@') != NULL)
        return 0;
    return 1;
}

/* ======================================================================================
 * Secrets, IDs, tokens
 * ==================================================================================== */

int au_secret_from_text(struct au_secret *s, const char *text, size_t len, char *err,
                        size_t errsize)
{
    size_t n = 0;
    memset(s, 0, sizeof *s);
    while (n < len && text[n] != '\n')
        n++;
    if (n > 0 && text[n - 1] == '\r')
        n--;
    if (memchr(text, '\0', n) != NULL) {
        snprintf(err, errsize, "the secret holds a NUL byte");
        return -1;
    }
    if (n < AU_SECRET_MIN || n > AU_SECRET_MAX) {
        snprintf(err, errsize, "the secret's first line must have %d to %d bytes (has %zu)",
                 AU_SECRET_MIN, AU_SECRET_MAX, n);
        return -1;
    }
    memcpy(s->key, text, n);
    s->len = n;
    return 0;
}

/* HMAC-SHA256 over label 0 f1 0 f2 0 ... (NULL-terminated list), hex-encoded, cut to
 * hexlen digits. */
static int hmac_fields(char *out, size_t hexlen, const struct au_secret *s, const char *label,
                       const char *const *fields)
{
    gnutls_hmac_hd_t h;
    unsigned char mac[32];
    char hex[65];
    static const char zero = 0;

    if (s->len == 0 || hexlen > 64)
        return -1;
    if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, s->key, s->len) < 0)
        return -1;
    int rc = gnutls_hmac(h, label, strlen(label));
    for (size_t i = 0; rc >= 0 && fields[i] != NULL; i++) {
        rc = gnutls_hmac(h, &zero, 1);
        if (rc >= 0)
            rc = gnutls_hmac(h, fields[i], strlen(fields[i]));
    }
    gnutls_hmac_deinit(h, mac);
    if (rc < 0)
        return -1;
    au_hex(hex, mac, sizeof mac);
    memcpy(out, hex, hexlen);
    out[hexlen] = '\0';
    return 0;
}

int au_make_id(char *out, const struct au_secret *s, const struct au_identity *m)
{
    const char *f[] = { m->queue_id, m->group, m->sender, m->digest, NULL };
    return hmac_fields(out, AU_ID_LEN, s, "dmg-audit id v1", f);
}

int au_make_token(char *out, const struct au_secret *s, const char *id,
                  const struct au_identity *m)
{
    const char *f[] = { id, m->group, m->sender, m->digest, NULL };
    return hmac_fields(out, AU_TOKEN_LEN, s, "dmg-audit token v1", f);
}

int au_token_ok(const char *token, const struct au_secret *s, const char *id,
                const struct au_identity *m)
{
    char want[AU_TOKEN_LEN + 1], got[AU_TOKEN_LEN + 1];
    if (strlen(token) != AU_TOKEN_LEN || au_make_token(want, s, id, m) != 0)
        return 0;
    for (size_t i = 0; i < AU_TOKEN_LEN; i++)
        got[i] = (char)lower((unsigned char)token[i]);
    got[AU_TOKEN_LEN] = '\0';
    return au_equal_ct(got, want, AU_TOKEN_LEN);
}

static int is_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int au_id_ok(const char *s)
{
    size_t i;
    for (i = 0; s[i] != '\0'; i++)
        if (i >= AU_ID_LEN || !is_hex((unsigned char)s[i]))
            return 0;
    return i == AU_ID_LEN;
}

/* ======================================================================================
 * Decision addresses
 * ==================================================================================== */

const char *au_action_name(enum au_action a)
{
    switch (a) {
    case AU_ACT_APPROVE: return "approve";
    case AU_ACT_REJECT: return "reject";
    case AU_ACT_EXPIRE: return "expire";
    default: return "none";
    }
}

/* Copy n bytes of s lower-cased into out; 1 when all are hex digits. */
static int take_hex(char *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        out[i] = (char)lower((unsigned char)s[i]);
        if (!is_hex((unsigned char)out[i]))
            return 0;
    }
    out[n] = '\0';
    return 1;
}

static int domain_eq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen > 0 && a[alen - 1] == '.')
        alen--;
    if (blen > 0 && b[blen - 1] == '.')
        blen--;
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

int au_parse_decision_addr(const char *addr, const char *review_domain,
                           struct au_decision_addr *out, char *err, size_t errsize)
{
    const char *at = strrchr(addr, '@');
    const char *local = addr, *rest;
    size_t llen;

    memset(out, 0, sizeof *out);
    if (at == NULL) {
        snprintf(err, errsize, "not an address");
        return -1;
    }
    if (review_domain != NULL && review_domain[0] != '\0'
        && !domain_eq(at + 1, strlen(at + 1), review_domain)) {
        snprintf(err, errsize, "not an address of the review domain %s", review_domain);
        return -1;
    }
    llen = (size_t)(at - local);
    rest = NULL;
    {
        /* "approve+" or "reject+" (any case) */
        static const char *const words[] = { "approve", "reject" };
        static const enum au_action acts[] = { AU_ACT_APPROVE, AU_ACT_REJECT };
        for (size_t w = 0; w < 2 && rest == NULL; w++) {
            size_t wl = strlen(words[w]), k;
            if (llen <= wl || local[wl] != '+')
                continue;
            for (k = 0; k < wl; k++)
                if (lower((unsigned char)local[k]) != words[w][k])
                    break;
            if (k == wl) {
                out->action = acts[w];
                rest = local + wl + 1;
            }
        }
    }
    if (out->action == AU_ACT_NONE || rest == NULL) {
        snprintf(err, errsize, "the address is neither approve+ID-TOKEN nor reject+ID-TOKEN");
        return -1;
    }
    if ((size_t)(at - rest) != AU_ID_LEN + 1 + AU_TOKEN_LEN || rest[AU_ID_LEN] != '-'
        || !take_hex(out->id, rest, AU_ID_LEN)
        || !take_hex(out->token, rest + AU_ID_LEN + 1, AU_TOKEN_LEN)) {
        out->action = AU_ACT_NONE;
        snprintf(err, errsize, "malformed audit ID or token");
        return -1;
    }
    return 0;
}

size_t au_format_decision_addr(char *out, size_t size, enum au_action action, const char *id,
                               const char *token, const char *review_domain)
{
    if (action != AU_ACT_APPROVE && action != AU_ACT_REJECT)
        return 0;
    int n = snprintf(out, size, "%s+%s-%s@%s", au_action_name(action), id, token,
                     review_domain);
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

int au_group_from_review_addr(char *out, size_t size, const char *recipient)
{
    const char *at = strrchr(recipient, '@');
    const char *eq = NULL;
    int n;

    if (at == NULL || at == recipient)
        return -1;
    for (const char *p = recipient; p < at; p++)
        if (*p == '=')
            eq = p;
    if (eq == NULL) {
        n = snprintf(out, size, "%s", recipient);
    } else {
        if (eq == recipient || eq + 1 == at)
            return -1;
        /* the domain ends where a character no domain has begins: Postfix appends an
         * address extension of the group's address there (propagate_unmatched_extensions) */
        const char *d = eq + 1;
        while (d < at && ((*d >= 'a' && *d <= 'z') || (*d >= 'A' && *d <= 'Z')
                          || (*d >= '0' && *d <= '9') || *d == '.' || *d == '-'))
            d++;
        if (d == eq + 1)
            return -1;
        n = snprintf(out, size, "%.*s@%.*s", (int)(eq - recipient), recipient,
                     (int)(d - eq - 1), eq + 1);
    }
    if (n < 0 || (size_t)n >= size)
        return -1;
    return au_address_ok(out, 0) ? 0 : -1;
}

/* ======================================================================================
 * A message as received
 * ==================================================================================== */

/* End of the line starting at i (index of its "\n", or len). */
static size_t line_end(const char *msg, size_t len, size_t i)
{
    const char *nl = memchr(msg + i, '\n', len - i);
    return nl != NULL ? (size_t)(nl - msg) : len;
}

/* 1 when the line [b, e) is empty (or just "\r"). */
static int blank_line(const char *msg, size_t b, size_t e)
{
    return e == b || (e == b + 1 && msg[b] == '\r');
}

size_t au_body_offset(const char *msg, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t e = line_end(msg, len, i);
        if (blank_line(msg, i, e))
            return e < len ? e + 1 : len;
        i = e + 1;
    }
    return len;
}

/* Like au_header over the header block [0, hlen). */
static int header_in(const char *msg, size_t hlen, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name), i = 0;
    char buf[4 * AU_TEXT_MAX];
    size_t blen = 0;

    if (size > 0)
        out[0] = '\0';
    while (i < hlen) {
        size_t e = line_end(msg, hlen, i);
        if (e - i > nlen && msg[i + nlen] == ':') {
            size_t k;
            for (k = 0; k < nlen; k++)
                if (lower((unsigned char)msg[i + k]) != lower((unsigned char)name[k]))
                    break;
            if (k == nlen) {
                /* the value, with its continuation lines */
                size_t b = i + nlen + 1;
                for (;;) {
                    for (size_t j = b; j < e && blen < sizeof buf; j++)
                        buf[blen++] = msg[j];
                    i = e + 1;
                    if (i >= hlen || (msg[i] != ' ' && msg[i] != '\t'))
                        break;
                    if (blen < sizeof buf)
                        buf[blen++] = ' ';
                    b = i;
                    e = line_end(msg, hlen, i);
                }
                au_sanitize(out, size, buf, blen);
                /* folding leaves runs of blanks; one is enough */
                size_t w = 0;
                for (size_t r = 0; out[r] != '\0'; r++)
                    if (!(out[r] == ' ' && w > 0 && out[w - 1] == ' '))
                        out[w++] = out[r];
                out[w] = '\0';
                return 1;
            }
        }
        i = e + 1;
    }
    return 0;
}

int au_header(const char *msg, size_t len, const char *name, char *out, size_t size)
{
    return header_in(msg, au_body_offset(msg, len), name, out, size);
}

/* The boundary parameter of a multipart Content-Type value; 1 when found. */
static int boundary_of(const char *ctype, char *out, size_t size)
{
    const char *p = ctype;
    if (strlen(ctype) < 10)
        return 0;
    {
        char lc[AU_TEXT_MAX];
        size_t n = 0;
        for (; ctype[n] != '\0' && n < sizeof lc - 1; n++)
            lc[n] = (char)lower((unsigned char)ctype[n]);
        lc[n] = '\0';
        if (strncmp(lc, "multipart/", 10) != 0)
            return 0;
        const char *b = strstr(lc, "boundary=");
        if (b == NULL)
            return 0;
        p = ctype + (b - lc) + 9;
    }
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] != '\0' && p[n] != '"')
            n++;
    } else {
        while (p[n] != '\0' && p[n] != ';' && p[n] != ' ')
            n++;
    }
    if (n == 0 || n >= size)
        return 0;
    memcpy(out, p, n);
    out[n] = '\0';
    return 1;
}

/* [*b, *e): the text to show or read a reason from: the body, or the body of the first
 * part of a multipart message (recursively, a few levels). */
static void text_range(const char *msg, size_t len, size_t *b, size_t *e)
{
    size_t start = 0, end = len;
    for (int depth = 0; depth < 4; depth++) {
        size_t hend = au_body_offset(msg + start, end - start) + start;
        char ctype[AU_TEXT_MAX], bnd[200], delim[210];
        if (!header_in(msg + start, hend - start, "Content-Type", ctype, sizeof ctype)
            || !boundary_of(ctype, bnd, sizeof bnd)) {
            *b = hend;
            *e = end;
            return;
        }
        int dn = snprintf(delim, sizeof delim, "--%s", bnd);
        /* the first delimiter line, then the part up to the next one */
        size_t i = hend, part = end;
        while (i < end) {
            size_t le = line_end(msg, end, i);
            if (le - i >= (size_t)dn && memcmp(msg + i, delim, (size_t)dn) == 0) {
                part = le < end ? le + 1 : end;
                break;
            }
            i = le + 1;
        }
        if (part >= end) {
            *b = hend;
            *e = end;
            return;
        }
        size_t pe = part;
        while (pe < end) {
            size_t le = line_end(msg, end, pe);
            if (le - pe >= (size_t)dn && memcmp(msg + pe, delim, (size_t)dn) == 0)
                break;
            pe = le + 1;
        }
        if (pe > end)
            pe = end;
        start = part;
        end = pe;
    }
    *b = au_body_offset(msg + start, end - start) + start;
    *e = end;
}

size_t au_text_start(char *out, size_t size, const char *msg, size_t len, size_t max_lines,
                     size_t max_bytes)
{
    size_t b, e, n = 0, lines = 0, shown = 0;
    if (size == 0)
        return 0;
    out[0] = '\0';
    text_range(msg, len, &b, &e);
    for (size_t i = b; i < e && lines < max_lines && shown < max_bytes; lines++) {
        size_t le = line_end(msg, e, i);
        char line[200];
        size_t ll = le - i;
        if (ll > max_bytes - shown)
            ll = max_bytes - shown;
        size_t w = ll > 0 ? au_sanitize(line, sizeof line, msg + i, ll) : 0;
        if (w == 0)
            line[0] = '\0';
        int k = snprintf(out + n, size - n, "%s>%s%s", n > 0 ? "\n" : "", w > 0 ? " " : "",
                         line);
        if (k < 0 || (size_t)k >= size - n) {
            out[n] = '\0';
            break;
        }
        n += (size_t)k;
        shown += le - i + 1;
        i = le + 1;
    }
    return n;
}

size_t au_reason_from_mail(char *out, size_t size, const char *msg, size_t len)
{
    size_t b, e;
    if (size == 0)
        return 0;
    out[0] = '\0';
    text_range(msg, len, &b, &e);
    for (size_t i = b; i < e;) {
        size_t le = line_end(msg, e, i);
        size_t s = i;
        while (s < le && (msg[s] == ' ' || msg[s] == '\t' || msg[s] == '\r'))
            s++;
        if (s < le && msg[s] != '>') {
            return au_sanitize(out, size, msg + s, le - s);
        }
        i = le + 1;
    }
    return 0;
}

/* ======================================================================================
 * Notices
 * ==================================================================================== */

int au_random(void *buf, size_t len)
{
    return gnutls_rnd(GNUTLS_RND_NONCE, buf, len) < 0 ? -1 : 0;
}

struct sb {
    char *out;
    size_t size, len;
    int overflow;
};

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    if (b->overflow)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(b->out + b->len, b->size - b->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= b->size - b->len) {
        b->overflow = 1;
        return;
    }
    b->len += (size_t)n;
}

static void fmt_date(char *out, size_t size, long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    if (strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0 && size > 0)
        out[0] = '\0';
}

/* s sanitised into a static-sized buffer. */
#define CLEAN(buf, s) (au_sanitize((buf), sizeof(buf), (s) != NULL ? (s) : "", \
                                   (s) != NULL ? strlen(s) : 0), (buf))

size_t au_format_notice(char *out, size_t size, const struct au_notice *n)
{
    struct sb b = { out, size, 0, 0 };
    char now[64], held[64], expires[64], subj[AU_TEXT_MAX], group[AU_ADDR_MAX];
    char sender[AU_ADDR_MAX], reason[AU_TEXT_MAX], title[AU_TEXT_MAX + 128];
    char approve[AU_ADDR_MAX], reject[AU_ADDR_MAX], date[AU_TEXT_MAX], mid[AU_TEXT_MAX];

    if (size == 0)
        return 0;
    out[0] = '\0';
    fmt_date(now, sizeof now, n->now);
    fmt_date(held, sizeof held, n->held_at);
    fmt_date(expires, sizeof expires, n->expires_at);
    CLEAN(subj, n->subject);
    CLEAN(group, n->group);
    CLEAN(reason, n->reason);
    CLEAN(date, n->date);
    CLEAN(mid, n->message_id);
    if (n->sender == NULL || n->sender[0] == '\0')
        snprintf(sender, sizeof sender, "<>");
    else
        CLEAN(sender, n->sender);

    switch (n->kind) {
    case AU_NOTE_HELD:
        snprintf(title, sizeof title, "Audit: message from %s to %s: %s", sender, group, subj);
        break;
    case AU_NOTE_REJECTED:
        snprintf(title, sizeof title, "Rejected by the auditor of %s: %s", group, subj);
        break;
    case AU_NOTE_EXPIRED:
        snprintf(title, sizeof title, "Expired without an audit decision (%s): %s", group,
                 subj);
        break;
    case AU_NOTE_ALREADY:
        snprintf(title, sizeof title, "Already decided: message from %s to %s: %s", sender,
                 group, subj);
        break;
    case AU_NOTE_UNDELIVERABLE:
        snprintf(title, sizeof title, "Not delivered: %s is gone or has no members: %s",
                 group, subj);
        break;
    }
    sb_printf(&b, "From: Mail audit <%s>\nTo: <%s>\nSubject: %s\nDate: %s\n"
                  "Message-ID: <dmg-audit.%s.%ld.%s@%s>\nAuto-Submitted: auto-generated\n"
                  "X-Dmg-Audit-ID: %s\nMIME-Version: 1.0\n"
                  "Content-Type: text/plain; charset=utf-8\n"
                  "Content-Transfer-Encoding: 8bit\n\n",
              n->from, n->to, title, now, n->id, n->now, n->unique != NULL ? n->unique : "0",
              n->review_domain, n->id);

    switch (n->kind) {
    case AU_NOTE_HELD:
        if (au_format_decision_addr(approve, sizeof approve, AU_ACT_APPROVE, n->id, n->token,
                                    n->review_domain) == 0
            || au_format_decision_addr(reject, sizeof reject, AU_ACT_REJECT, n->id, n->token,
                                       n->review_domain) == 0)
            return 0;
        sb_printf(&b, "A message to the audited group %s waits for your decision as one of "
                      "its auditors.\n\n", group);
        break;
    case AU_NOTE_REJECTED:
        sb_printf(&b, "Your message to %s was rejected by the group's auditor and was not "
                      "delivered.\n\nReason: %s\n\n", group,
                  reason[0] != '\0' ? reason : "(no reason given)");
        break;
    case AU_NOTE_EXPIRED:
        sb_printf(&b, "The message below to %s waited %d days for an auditor's decision "
                      "and was rejected as expired. It was not delivered.\n\n",
                  group, n->hold_days);
        break;
    case AU_NOTE_ALREADY:
        sb_printf(&b, "Your decision was not recorded: the message below was already "
                      "decided (%s).\n\n", n->decided != NULL ? n->decided : "");
        break;
    case AU_NOTE_UNDELIVERABLE:
        sb_printf(&b, "The message below to %s was approved (%s) but could not be delivered: "
                      "%s.\n\nIt was not delivered to anyone. The mail audit keeps it; the "
                      "postmaster can release\nit once the group has members again, or "
                      "discard it.\n\n", group,
                  n->decided != NULL && n->decided[0] != '\0' ? n->decided : "approved",
                  reason[0] != '\0' ? reason : "the group has no members");
        break;
    }
    sb_printf(&b, "  Group:       %s\n  Sender:      %s\n  Subject:     %s\n"
                  "  Date:        %s\n  Size:        %s bytes\n  Message-ID:  %s\n"
                  "  Audit ID:    %s (queue ID %s)\n  Held since:  %s\n",
              group, sender, subj, date[0] != '\0' ? date : "(none)",
              n->size != NULL ? n->size : "?", mid[0] != '\0' ? mid : "(none)", n->id,
              n->queue_id != NULL ? n->queue_id : "?", held);
    if (n->kind == AU_NOTE_HELD) {
        sb_printf(&b, "  Expires:     %s (rejected if nobody decides by then)\n\n"
                      "To approve it (it is then delivered to the group's members), write "
                      "to\n\n    %s\n\n"
                      "To reject it, write to\n\n    %s\n\n"
                      "with the reason on the first line of your text (the sender is told).\n"
                      "Send from your own address, authenticated or from the organisation's "
                      "network;\nthe subject does not matter. The first decision counts.\n",
                  expires, approve, reject);
    }
    if (n->text_start != NULL && n->text_start[0] != '\0')
        sb_printf(&b, "\nThe start of the text:\n\n%s\n", n->text_start);
    if (b.overflow) {
        out[0] = '\0';
        return 0;
    }
    return b.len;
}

/* ======================================================================================
 * Records
 * ==================================================================================== */

void au_rec_init(struct au_record *r)
{
    r->text[0] = '\0';
    r->len = 0;
    r->overflow = 0;
}

void au_rec_add(struct au_record *r, const char *key, const char *value)
{
    char v[AU_LINE_MAX];
    au_sanitize(v, sizeof v, value, strlen(value));
    int n = snprintf(r->text + r->len, sizeof r->text - r->len, "%s: %s\n", key, v);
    if (n < 0 || (size_t)n >= sizeof r->text - r->len) {
        r->overflow = 1;
        r->text[r->len] = '\0';
        return;
    }
    r->len += (size_t)n;
}

void au_rec_addf(struct au_record *r, const char *key, const char *fmt, ...)
{
    char v[AU_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof v, fmt, ap);
    va_end(ap);
    au_rec_add(r, key, v);
}

int au_rec_get(const char *text, size_t len, const char *key, char *out, size_t size)
{
    size_t klen = strlen(key), i = 0;
    if (size > 0)
        out[0] = '\0';
    while (i < len) {
        size_t e = line_end(text, len, i);
        if (e - i >= klen + 1 && memcmp(text + i, key, klen) == 0 && text[i + klen] == ':') {
            size_t b = i + klen + 1;
            if (b < e && text[b] == ' ')
                b++;
            size_t n = e - b < size - 1 ? e - b : size - 1;
            memcpy(out, text + b, n);
            out[n] = '\0';
            return 1;
        }
        i = e + 1;
    }
    return 0;
}

/* ======================================================================================
 * The spool
 * ==================================================================================== */

static const char *const spool_dirs[] = { "tmp", "msg", "held", "decision", "release",
                                          "notified", "done", "undeliverable" };

const char *au_state_name(enum au_state s)
{
    switch (s) {
    case AU_ST_HELD: return "held";
    case AU_ST_DECIDED: return "decided";
    case AU_ST_UNCERTAIN: return "uncertain";
    case AU_ST_DONE: return "done";
    case AU_ST_UNDELIVERABLE: return "undeliverable";
    default: return "none";
    }
}

static int path_of(char *out, size_t size, const char *spool, const char *dir,
                   const char *name)
{
    int n = name != NULL ? snprintf(out, size, "%s/%s/%s", spool, dir, name)
                         : snprintf(out, size, "%s/%s", spool, dir);
    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int exists(const char *spool, const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    return path_of(p, sizeof p, spool, dir, name) == 0 && lstat(p, &st) == 0;
}

int au_spool_init(const char *spool, char *err, size_t errsize)
{
    char p[4096];
    for (size_t i = 0; i < sizeof spool_dirs / sizeof spool_dirs[0]; i++) {
        if (path_of(p, sizeof p, spool, spool_dirs[i], NULL) != 0
            || (mkdir(p, 0700) != 0 && errno != EEXIST)) {
            snprintf(err, errsize, "cannot create %s: %s", p, strerror(errno));
            return -1;
        }
    }
    return 0;
}

enum au_state au_spool_state(const char *spool, const char *id)
{
    if (exists(spool, "done", id))
        return AU_ST_DONE;
    if (!exists(spool, "held", id))
        return AU_ST_NONE;
    if (!exists(spool, "decision", id))
        return AU_ST_HELD;
    if (exists(spool, "release", id))
        return AU_ST_UNCERTAIN;
    if (exists(spool, "undeliverable", id))
        return AU_ST_UNDELIVERABLE;
    return AU_ST_DECIDED;
}

static int fsync_dir(const char *spool, const char *dir)
{
    char p[4096];
    if (path_of(p, sizeof p, spool, dir, NULL) != 0)
        return -1;
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A new file under tmp/ with a unique name; its fd, -1 with errno. */
static int tmp_create(const char *spool, char *name, size_t size)
{
    static unsigned serial;
    char p[4096];
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char r[8];
        char hex[17];
        if (gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof r) < 0) {
            errno = EIO;
            return -1;
        }
        au_hex(hex, r, sizeof r);
        int n = snprintf(name, size, "%ld.%u.%s", (long)getpid(), ++serial, hex);
        if (n < 0 || (size_t)n >= size || path_of(p, sizeof p, spool, "tmp", name) != 0) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

static void tmp_remove(const char *spool, const char *name)
{
    char p[4096];
    if (path_of(p, sizeof p, spool, "tmp", name) == 0)
        unlink(p);
}

int au_spool_put(const char *spool, const char *dir, const char *name, const void *data,
                 size_t len, int exclusive)
{
    char tname[128], from[4096], to[4096];
    int fd = tmp_create(spool, tname, sizeof tname);
    if (fd < 0)
        return -1;
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        tmp_remove(spool, tname);
        errno = e;
        return -1;
    }
    if (close(fd) != 0 || path_of(from, sizeof from, spool, "tmp", tname) != 0
        || path_of(to, sizeof to, spool, dir, name) != 0) {
        int e = errno;
        tmp_remove(spool, tname);
        errno = e;
        return -1;
    }
    int rc = exclusive ? link(from, to) : rename(from, to);
    int e = errno;
    if (exclusive || rc != 0)
        unlink(from);
    if (rc != 0) {
        errno = e;
        return -1;
    }
    return fsync_dir(spool, dir);
}

int au_spool_take(const char *spool, int in, size_t max_bytes, char *tmpname, size_t tmpsize,
                  char *digest, size_t *size_out)
{
    gnutls_hash_hd_t h;
    unsigned char md[AU_DIGEST_LEN];
    char buf[65536];
    size_t total = 0;
    int fd = tmp_create(spool, tmpname, tmpsize);
    int e = 0;

    if (fd < 0)
        return -1;
    if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
        close(fd);
        tmp_remove(spool, tmpname);
        errno = EIO;
        return -1;
    }
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        if (n == 0)
            break;
        if ((size_t)n > max_bytes - total) {
            e = EFBIG;
            break;
        }
        total += (size_t)n;
        if (gnutls_hash(h, buf, (size_t)n) < 0) {
            e = EIO;
            break;
        }
        if (write_all(fd, buf, (size_t)n) != 0) {
            e = errno;
            break;
        }
    }
    gnutls_hash_deinit(h, md);
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e != 0) {
        tmp_remove(spool, tmpname);
        errno = e;
        return -1;
    }
    au_hex(digest, md, sizeof md);
    *size_out = total;
    return 0;
}

int au_spool_commit_msg(const char *spool, const char *tmpname, const char *id)
{
    char from[4096], to[4096];
    if (path_of(from, sizeof from, spool, "tmp", tmpname) != 0
        || path_of(to, sizeof to, spool, "msg", id) != 0)
        return -1;
    if (rename(from, to) != 0)
        return -1;
    return fsync_dir(spool, "msg");
}

char *au_spool_read(const char *spool, const char *dir, const char *name, size_t max,
                    size_t *len)
{
    char p[4096];
    struct stat st;
    if (path_of(p, sizeof p, spool, dir, name) != 0)
        return NULL;
    int fd = open(p, O_RDONLY | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    if ((unsigned long long)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return NULL;
    }
    size_t want = (size_t)st.st_size, got = 0;
    char *buf = malloc(want + 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (got != want) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[got] = '\0';
    *len = got;
    return buf;
}

int au_spool_finish(const char *spool, const char *id)
{
    char from[4096], to[4096];
    if (path_of(from, sizeof from, spool, "held", id) != 0
        || path_of(to, sizeof to, spool, "done", id) != 0)
        return -1;
    if (rename(from, to) != 0)
        return -1;
    if (fsync_dir(spool, "done") != 0)
        return -1;
    return fsync_dir(spool, "held");
}

int au_spool_open(const char *spool, const char *dir, const char *name)
{
    char p[4096];
    if (path_of(p, sizeof p, spool, dir, name) != 0)
        return -1;
    return open(p, O_RDONLY | O_NOFOLLOW);
}

void au_spool_remove(const char *spool, const char *id)
{
    char p[4096];
    for (size_t i = 1; i < sizeof spool_dirs / sizeof spool_dirs[0]; i++)
        if (path_of(p, sizeof p, spool, spool_dirs[i], id) == 0)
            unlink(p);
}
