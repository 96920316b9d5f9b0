/*
 * policyd_proto.c - request parsing, filter text, replies and configuration lines of
 * dmg-policyd. Pure C99 + libc; see policyd_proto.h for the contract.
 */
#define _POSIX_C_SOURCE 200809L

#include "policyd_proto.h"

#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ======================================================================================
 * Small helpers (ASCII only; the C library's versions depend on the locale)
 * ==================================================================================== */

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int ascii_casecmp(const char *a, const char *b)
{
    for (;; a++, b++) {
        int x = lower((unsigned char)*a), y = lower((unsigned char)*b);
        if (x != y)
            return x - y;
        if (x == 0)
            return 0;
    }
}

static int ascii_caseeq_n(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* A bounded string builder: once something does not fit, it stays "overflowed". */
struct sbuf {
    char *out;
    size_t size, len;
    int overflow;
};

static void sb_init(struct sbuf *b, char *out, size_t size)
{
    b->out = out;
    b->size = size;
    b->len = 0;
    b->overflow = size == 0;
    if (size > 0)
        out[0] = '\0';
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
    if (b->overflow)
        return;
    if (n >= b->size - b->len) {
        b->overflow = 1;
        return;
    }
    memcpy(b->out + b->len, s, n);
    b->len += n;
    b->out[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* The end of a filter built in b: "" and -1 when something did not fit. */
static int sb_filter_done(struct sbuf *b, char *out, size_t size)
{
    if (!b->overflow)
        return 0;
    if (size > 0)
        out[0] = '\0';
    return -1;
}

/* ======================================================================================
 * Request parser
 * ==================================================================================== */

void pd_parser_reset(pd_parser *p)
{
    p->line_len = 0;
    p->skipping_line = 0;
    p->total = 0;
    p->store_len = 0;
    p->nattrs = 0;
    p->status = PD_OK;
    p->detail[0] = '\0';
}

/* Only the first problem of a request is kept. */
static void set_error(pd_parser *p, enum pd_status s, const char *detail)
{
    if (p->status != PD_OK)
        return;
    p->status = s;
    snprintf(p->detail, sizeof p->detail, "%s", detail);
}

static int name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '_' || c == '-';
}

/* One complete "name=value" line (line_len bytes, line end removed). */
static void take_attribute(pd_parser *p)
{
    const char *line = p->line;
    size_t len = p->line_len;

    if (memchr(line, '\0', len) != NULL) {
        set_error(p, PD_ERR_MALFORMED, "NUL byte in a line");
        return;
    }
    const char *eq = memchr(line, '=', len);
    if (eq == NULL) {
        set_error(p, PD_ERR_MALFORMED, "line without \"=\"");
        return;
    }
    size_t name_len = (size_t)(eq - line);
    size_t value_len = len - name_len - 1;
    if (name_len == 0) {
        set_error(p, PD_ERR_MALFORMED, "empty attribute name");
        return;
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!name_char((unsigned char)line[i])) {
            set_error(p, PD_ERR_MALFORMED, "invalid character in an attribute name");
            return;
        }
    }
    if (p->nattrs >= PD_ATTRS_MAX) {
        char d[64];
        snprintf(d, sizeof d, "more than %d attributes", PD_ATTRS_MAX);
        set_error(p, PD_ERR_TOO_MANY_ATTRS, d);
        return;
    }
    for (size_t i = 0; i < p->nattrs; i++) {
        if (strlen(p->attrs[i].name) == name_len
            && memcmp(p->attrs[i].name, line, name_len) == 0) {
            set_error(p, PD_ERR_MALFORMED, "attribute given twice");
            return;
        }
    }
    /* Cannot happen while total <= PD_REQUEST_MAX ("=" and "\n" pay for the two NULs),
     * but the store is never trusted to be big enough. */
    if (name_len + value_len + 2 > sizeof p->store - p->store_len) {
        set_error(p, PD_ERR_REQUEST_TOO_LARGE, "request too large");
        return;
    }
    char *name = p->store + p->store_len;
    memcpy(name, line, name_len);
    name[name_len] = '\0';
    char *value = name + name_len + 1;
    memcpy(value, eq + 1, value_len);
    value[value_len] = '\0';
    p->store_len += name_len + value_len + 2;
    p->attrs[p->nattrs].name = name;
    p->attrs[p->nattrs].value = value;
    p->attrs[p->nattrs].value_len = value_len;
    p->nattrs++;
}

/* A "\n" arrived. Returns 1 when it ended the request (empty line). */
static int finish_line(pd_parser *p)
{
    if (p->skipping_line) {
        /* the end of an overlong line, never an empty line */
        p->skipping_line = 0;
        p->line_len = 0;
        return 0;
    }
    if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
        p->line_len--;
    if (p->line_len == 0) {
        if (p->nattrs == 0)
            set_error(p, PD_ERR_MALFORMED, "empty request");
        return 1;
    }
    if (p->status == PD_OK)
        take_attribute(p);
    p->line_len = 0;
    return 0;
}

enum pd_feed pd_parser_feed(pd_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = (unsigned char)data[i++];

        p->total++;
        if (p->total > (size_t)PD_REQUEST_MAX + PD_DISCARD_MAX) {
            set_error(p, PD_ERR_REQUEST_TOO_LARGE, "request too large");
            *consumed = i;
            return PD_FEED_BROKEN;
        }
        if (p->total > PD_REQUEST_MAX) {
            char d[64];
            snprintf(d, sizeof d, "request longer than %d bytes", PD_REQUEST_MAX);
            set_error(p, PD_ERR_REQUEST_TOO_LARGE, d);
        }
        if (c == '\n') {
            if (finish_line(p)) {
                *consumed = i;
                return PD_FEED_DONE;
            }
            continue;
        }
        if (p->skipping_line)
            continue;
        /* room for PD_LINE_MAX bytes plus the "\r" of a CRLF line end */
        if (p->line_len < PD_LINE_MAX || (p->line_len == PD_LINE_MAX && c == '\r')) {
            p->line[p->line_len++] = (char)c;
        } else {
            char d[64];
            snprintf(d, sizeof d, "line longer than %d bytes", PD_LINE_MAX);
            set_error(p, PD_ERR_LINE_TOO_LONG, d);
            p->skipping_line = 1;
            p->line_len = 0;
        }
    }
    *consumed = i;
    return PD_FEED_MORE;
}

int pd_parser_pending(const pd_parser *p)
{
    return p->total > 0;
}

enum pd_status pd_request_status(const pd_parser *p)
{
    return p->status;
}

const char *pd_request_detail(const pd_parser *p)
{
    return p->status == PD_OK ? "" : p->detail;
}

size_t pd_request_nattrs(const pd_parser *p)
{
    return p->nattrs;
}

const char *pd_request_get(const pd_parser *p, const char *name)
{
    if (p->status != PD_OK || name == NULL)
        return NULL;
    for (size_t i = 0; i < p->nattrs; i++)
        if (strcmp(p->attrs[i].name, name) == 0)
            return p->attrs[i].value;
    return NULL;
}

const char *pd_status_name(enum pd_status s)
{
    switch (s) {
    case PD_OK: return "ok";
    case PD_ERR_LINE_TOO_LONG: return "line too long";
    case PD_ERR_REQUEST_TOO_LARGE: return "request too large";
    case PD_ERR_TOO_MANY_ATTRS: return "too many attributes";
    case PD_ERR_MALFORMED: return "malformed request";
    }
    return "unknown";
}

/* ======================================================================================
 * Classification
 * ==================================================================================== */

enum pd_action pd_classify(const pd_parser *p, const char **recipient, const char **sender,
                           const char **why)
{
    const char *request = pd_request_get(p, "request");
    const char *state = pd_request_get(p, "protocol_state");
    const char *rcpt = pd_request_get(p, "recipient");
    const char *from = pd_request_get(p, "sender");

    *recipient = NULL;
    *sender = NULL;
    *why = "";
    if (p->status != PD_OK) {
        *why = "malformed request";
        return PD_ACT_DUNNO;
    }
    if (request == NULL || strcmp(request, "smtpd_access_policy") != 0) {
        *why = "not an smtpd_access_policy request";
        return PD_ACT_DUNNO;
    }
    if (state == NULL || ascii_casecmp(state, "RCPT") != 0) {
        *why = "protocol_state is not RCPT";
        return PD_ACT_DUNNO;
    }
    if (rcpt == NULL || rcpt[0] == '\0') {
        *why = "no recipient";
        return PD_ACT_DUNNO;
    }
    *recipient = rcpt;
    *sender = from != NULL ? from : "";
    return PD_ACT_LOOKUP;
}

void pd_client_of(const pd_parser *p, struct pd_client *c)
{
    const char *login = pd_request_get(p, "sasl_username");
    const char *address = pd_request_get(p, "client_address");
    c->login = login != NULL ? login : "";
    c->address = address != NULL ? address : "";
}

/* ======================================================================================
 * Filter
 * ==================================================================================== */

size_t pd_filter_escape(char *out, size_t size, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        int plain = c > 0x20 && c < 0x7f && c != '*' && c != '(' && c != ')' && c != '\\';
        size_t need = plain ? 1 : 3;
        if (size == 0 || need > size - 1 - o)
            return (size_t)-1;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    if (size == 0)
        return (size_t)-1;
    out[o] = '\0';
    return o;
}

static void sb_put_escaped(struct sbuf *b, const char *s)
{
    if (b->overflow)
        return;
    size_t n = pd_filter_escape(b->out + b->len, b->size - b->len, s, strlen(s));
    if (n == (size_t)-1) {
        b->overflow = 1;
        b->out[b->len] = '\0';
        return;
    }
    b->len += n;
}

/* Local parts that Postfix's split_addr() leaves whole, so that Postfix delivers them to
 * themselves and not to the address before the delimiter. */
static int never_split(const char *local, size_t len, const char *delimiters)
{
    static const char owner[] = "owner-", request[] = "-request";

    if (ascii_caseeq_n(local, len, "postmaster") || ascii_caseeq_n(local, len, "MAILER-DAEMON")
        || ascii_caseeq_n(local, len, "double-bounce"))
        return 1;
    if (strchr(delimiters, '-') == NULL)
        return 0;
    if (len >= sizeof owner - 1 && ascii_caseeq_n(local, sizeof owner - 1, owner))
        return 1;
    return len > sizeof request - 1
           && ascii_caseeq_n(local + len - (sizeof request - 1), sizeof request - 1, request);
}

int pd_strip_extension(char *out, size_t size, const char *recipient, const char *delimiters)
{
    if (delimiters == NULL || delimiters[0] == '\0' || recipient == NULL)
        return 0;
    const char *at = strrchr(recipient, '@');
    if (at == NULL)
        return 0;
    size_t local_len = (size_t)(at - recipient);
    if (never_split(recipient, local_len, delimiters))
        return 0;
    size_t cut = local_len;
    for (size_t i = 0; i < local_len; i++) {
        if (strchr(delimiters, recipient[i]) != NULL) {
            cut = i;
            break;
        }
    }
    if (cut == local_len || cut == 0)
        return 0;
    size_t domain_len = strlen(at);
    if (size == 0 || cut + domain_len >= size)
        return -1;
    memcpy(out, recipient, cut);
    memcpy(out + cut, at, domain_len + 1);
    return 1;
}

/* Adds form (len bytes) to forms[*n] unless it is there already. -1 when there is no room. */
static int add_form(char forms[][PD_LINE_MAX + 1], size_t max, size_t *n, const char *form,
                    size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen(forms[i]) == len && memcmp(forms[i], form, len) == 0)
            return 0;
    if (*n == max || len > PD_LINE_MAX)
        return -1;
    memcpy(forms[*n], form, len);
    forms[(*n)++][len] = '\0';
    return 0;
}

/* What trivial-rewrite makes of f: without the domain's trailing dot, or the percent hack
 * "user%domain@here" -> "user@domain" (the rightmost "%"). 0 when neither applies. */
static size_t rewritten(char *out, const char *f)
{
    const char *at = strrchr(f, '@');
    size_t len = strlen(f);
    const char *pct;

    if (at == NULL)
        return 0;
    if (len > (size_t)(at - f) + 2 && f[len - 1] == '.') {
        memcpy(out, f, len - 1);
        return len - 1;
    }
    for (pct = at; pct > f && pct[-1] != '%'; pct--)
        ;
    if (pct == f)
        return 0;
    size_t left = (size_t)(pct - 1 - f), right = (size_t)(at - pct);
    memcpy(out, f, left);
    out[left] = '@';
    memcpy(out + left + 1, pct, right);
    return left + 1 + right;
}

size_t pd_recipient_forms(char forms[][PD_LINE_MAX + 1], size_t max, const char *recipient,
                          const char *delimiters)
{
    char buf[PD_LINE_MAX + 1];
    size_t n = 0, rewrites;

    if (recipient == NULL || add_form(forms, max, &n, recipient, strlen(recipient)) != 0)
        return 0;
    /* every rewrite of every form, until nothing new comes */
    for (size_t i = 0; i < n; i++) {
        size_t len = rewritten(buf, forms[i]);
        if (len > 0 && add_form(forms, max, &n, buf, len) != 0)
            return 0;
    }
    rewrites = n;
    for (size_t i = 0; i < rewrites; i++) {
        int r = pd_strip_extension(buf, sizeof buf, forms[i], delimiters);
        if (r < 0 || (r > 0 && add_form(forms, max, &n, buf, strlen(buf)) != 0))
            return 0;
    }
    return n;
}

int pd_build_filter(char *out, size_t size, const char *recipient, const char *sender,
                    const char *delimiters, const char *extra)
{
    struct sbuf b;
    char forms[PD_FORMS_MAX][PD_LINE_MAX + 1];
    size_t n;

    if (out == NULL || recipient == NULL || sender == NULL)
        return -1;
    sb_init(&b, out, size);
    n = pd_recipient_forms(forms, PD_FORMS_MAX, recipient, delimiters);
    if (n == 0)
        return -1;
    sb_puts(&b, "(&(objectClass=dynamicMailGroup)");
    if (n > 1)
        sb_puts(&b, "(|");
    for (size_t i = 0; i < n; i++) {
        sb_puts(&b, "(mail=");
        sb_put_escaped(&b, forms[i]);
        sb_puts(&b, ")");
    }
    if (n > 1)
        sb_puts(&b, ")");
    sb_puts(&b, "(dmgSender=");
    sb_put_escaped(&b, sender);
    sb_puts(&b, ")");
    if (extra != NULL)
        sb_puts(&b, extra);
    sb_puts(&b, ")");
    return sb_filter_done(&b, out, size);
}

int pd_build_domain_filter(char *out, size_t size, const char *domain)
{
    struct sbuf b;

    if (out == NULL || domain == NULL || domain[0] == '\0') {
        if (out != NULL && size > 0)
            out[0] = '\0';
        return -1;
    }
    sb_init(&b, out, size);
    sb_puts(&b, "(&(objectClass=dynamicMailGroup)(mail=*@");
    sb_put_escaped(&b, domain);
    sb_puts(&b, "))");
    return sb_filter_done(&b, out, size);
}

int pd_build_login_filter(char *out, size_t size, const char *template_, const char *login)
{
    struct sbuf b;

    if (out == NULL || template_ == NULL || login == NULL)
        return -1;
    sb_init(&b, out, size);
    for (const char *t = template_; *t != '\0'; t++) {
        if (t[0] == '%' && t[1] == 's') {
            sb_put_escaped(&b, login);
            t++;
        } else if (t[0] == '%' && t[1] == '%') {
            sb_putn(&b, "%", 1);
            t++;
        } else {
            sb_putn(&b, t, 1);
        }
    }
    return sb_filter_done(&b, out, size);
}

/* ======================================================================================
 * Results and replies
 * ==================================================================================== */

void pd_lookup_init(struct pd_lookup *l)
{
    memset(l, 0, sizeof *l);
    l->result = PD_RES_NOT_GROUP;
}

enum pd_result pd_decision_result(const char *value, size_t len)
{
    if (value == NULL)
        return PD_RES_NO_DECISION;
    if (ascii_caseeq_n(value, len, "accept"))
        return PD_RES_ACCEPT;
    if (ascii_caseeq_n(value, len, "hold"))
        return PD_RES_HOLD;
    if (ascii_caseeq_n(value, len, "reject"))
        return PD_RES_REJECT;
    return PD_RES_NO_DECISION;
}

static int strictness(enum pd_result r)
{
    switch (r) {
    case PD_RES_NOT_GROUP: return 0;
    case PD_RES_ACCEPT: return 1;
    case PD_RES_HOLD: return 2;
    case PD_RES_NO_DECISION: return 3;
    case PD_RES_REJECT: return 4;
    case PD_RES_TOO_LARGE: return 5;
    case PD_RES_FAILED: return 6;
    case PD_RES_UNAVAILABLE: return 7;
    }
    return 7;
}

enum pd_result pd_result_combine(enum pd_result a, enum pd_result b)
{
    return strictness(b) > strictness(a) ? b : a;
}

const char *pd_result_name(enum pd_result r)
{
    switch (r) {
    case PD_RES_NOT_GROUP: return "not-a-group";
    case PD_RES_ACCEPT: return "accept";
    case PD_RES_HOLD: return "hold";
    case PD_RES_REJECT: return "reject";
    case PD_RES_NO_DECISION: return "no-decision";
    case PD_RES_UNAVAILABLE: return "unavailable";
    case PD_RES_FAILED: return "failed";
    case PD_RES_TOO_LARGE: return "too-large";
    }
    return "unknown";
}

size_t pd_sanitize(char *out, size_t size, const char *s, size_t len)
{
    size_t b = 0, e = len, o = 0;

    if (size == 0)
        return 0;
    if (s == NULL)
        len = e = 0;
    /* a byte <= 0x20 becomes a space: trim those at both ends */
    while (b < e && (unsigned char)s[b] <= 0x20)
        b++;
    while (e > b && (unsigned char)s[e - 1] <= 0x20)
        e--;
    size_t want = e - b;
    size_t room = size - 1;
    int cut = want > room;
    size_t take = cut ? (room >= 3 ? room - 3 : 0) : want;
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)s[b + i];
        if (c < 0x20)
            c = ' ';
        else if (c >= 0x7f)
            c = '?';
        out[o++] = (char)c;
    }
    if (cut) {
        while (o > 0 && out[o - 1] == ' ')
            o--;
        for (int k = 0; k < 3 && o < room; k++)
            out[o++] = '.';
    }
    out[o] = '\0';
    return o;
}

size_t pd_format_reply(char *out, size_t size, const char *action, const char *text,
                       size_t text_len)
{
    char clean[PD_TEXT_MAX + 1];
    size_t alen, clen, n;

    if (out == NULL || size < PD_REPLY_MAX || action == NULL)
        return 0;
    alen = strlen(action);
    if (alen == 0 || alen > 32)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char c = (unsigned char)action[i];
        if (c <= 0x20 || c >= 0x7f)
            return 0;
    }
    clen = pd_sanitize(clean, sizeof clean, text, text != NULL ? text_len : 0);
    n = (size_t)snprintf(out, size, "action=%s%s%s\n\n", action, clen > 0 ? " " : "", clean);
    return n < size ? n : 0;
}

size_t pd_format_lookup_reply(char *out, size_t size, const struct pd_lookup *l)
{
    char text[2 * PD_LOOKUP_TEXT];
    const char *fixed = NULL;
    struct sbuf b;

    if (out == NULL || size < PD_REPLY_MAX || l == NULL)
        return 0;
    switch (l->result) {
    case PD_RES_NOT_GROUP:
    case PD_RES_ACCEPT:
        fixed = PD_REPLY_DUNNO;
        break;
    case PD_RES_NO_DECISION:
        fixed = PD_REPLY_NO_DECISION;
        break;
    case PD_RES_UNAVAILABLE:
        fixed = PD_REPLY_UNAVAILABLE;
        break;
    case PD_RES_FAILED:
        fixed = PD_REPLY_FAILED;
        break;
    case PD_RES_TOO_LARGE:
        fixed = PD_REPLY_TOO_LARGE;
        break;
    case PD_RES_HOLD:
        sb_init(&b, text, sizeof text);
        sb_puts(&b, "awaiting audit");
        if (l->auditors[0] != '\0') {
            sb_puts(&b, " by ");
            sb_putn(&b, l->auditors, strnlen(l->auditors, sizeof l->auditors));
        }
        return pd_format_reply(out, size, "HOLD", text, b.len);
    case PD_RES_REJECT:
        sb_init(&b, text, sizeof text);
        sb_puts(&b, "5.7.1 ");
        if (l->reason[0] != '\0')
            sb_putn(&b, l->reason, strnlen(l->reason, sizeof l->reason));
        else
            sb_puts(&b, "sender not allowed to send to this group");
        return pd_format_reply(out, size, "REJECT", text, b.len);
    }
    if (fixed == NULL)
        fixed = PD_REPLY_FAILED;
    snprintf(out, size, "%s", fixed);
    return strlen(out);
}

size_t pd_format_decision_reply(char *out, size_t size, const struct pd_lookup *l,
                                const struct pd_config *c)
{
    if (out == NULL || size < PD_REPLY_MAX || l == NULL || c == NULL)
        return 0;
    if (l->result == PD_RES_HOLD && c->hold_review) {
        snprintf(out, size, "%s", PD_REPLY_DUNNO);
        return strlen(out);
    }
    return pd_format_lookup_reply(out, size, l);
}

/* ======================================================================================
 * Sending identity
 * ==================================================================================== */

int pd_outsider_matters(const struct pd_lookup *l)
{
    if (l->result != PD_RES_ACCEPT && l->result != PD_RES_HOLD)
        return 0;
    /* "anyone" lets an outsider through as well; only an auditor's exemption is lost */
    return !l->allows_anyone || (l->audit_required && l->result == PD_RES_ACCEPT);
}

/* The group as the reasons name it: its address, else the recipient's DN. */
static const char *group_name(const struct pd_lookup *l)
{
    return l->group_mail[0] != '\0' ? l->group_mail : l->group;
}

static const char *shown_sender(const char *sender)
{
    return sender[0] != '\0' ? sender : "<>";
}

void pd_apply_identity(struct pd_lookup *l, enum pd_identity id, const char *sender,
                       const char *login)
{
    const char *g = group_name(l);
    const char *s = shown_sender(sender != NULL ? sender : "");

    if (login == NULL)
        login = "";
    /* a rejection stands with the directory's reason; errors are not decisions */
    if (l->result != PD_RES_ACCEPT && l->result != PD_RES_HOLD)
        return;
    switch (id) {
    case PD_ID_AS_CLAIMED:
        return;
    case PD_ID_NOT_ACCOUNT:
        snprintf(l->reason, sizeof l->reason,
                 "sender %s is not an address of the authenticated user %s", s, login);
        break;
    case PD_ID_NO_ACCOUNT:
        snprintf(l->reason, sizeof l->reason,
                 "no account found for the authenticated user %s", login);
        break;
    case PD_ID_MANY_ACCOUNTS:
        snprintf(l->reason, sizeof l->reason,
                 "more than one account found for the authenticated user %s", login);
        break;
    case PD_ID_OUTSIDER:
        if (l->allows_anyone && l->audit_required) {
            l->result = PD_RES_HOLD;
            snprintf(l->reason, sizeof l->reason,
                     "mail to %s is held for audit: sender %s is in a local domain but "
                     "not authenticated", g, s);
            return;
        }
        if (l->allows_anyone)
            return;
        snprintf(l->reason, sizeof l->reason,
                 "sender %s is in a local domain but not authenticated: not allowed to "
                 "send to %s", s, g);
        break;
    }
    l->result = PD_RES_REJECT;
}

int pd_address_domain(char *out, size_t size, const char *address)
{
    const char *at = address != NULL ? strrchr(address, '@') : NULL;
    size_t len;

    if (size == 0)
        return -1;
    out[0] = '\0';
    if (at == NULL)
        return 0;
    len = strlen(at + 1);
    if (len > 0 && at[len] == '.')
        len--; /* the trailing dot of "example.com." */
    if (len >= size)
        return -1;
    for (size_t i = 0; i < len; i++)
        out[i] = (char)lower((unsigned char)at[1 + i]);
    out[len] = '\0';
    return 0;
}

static int cmp_items(const void *a, const void *b)
{
    const char *x = *(const char *const *)a;
    const char *y = *(const char *const *)b;
    int c = ascii_casecmp(x, y);
    return c != 0 ? c : strcmp(x, y);
}

size_t pd_join_sorted(char *out, size_t size, const char *const *items, size_t n)
{
    const char *sorted[PD_JOIN_MAX];
    size_t m = 0, len = 0, room;
    int cut = 0, more = n > PD_JOIN_MAX;
    const char *prev = NULL;

    if (out == NULL || size == 0)
        return 0;
    room = size - 1;
    for (size_t i = 0; items != NULL && i < n && m < PD_JOIN_MAX; i++)
        if (items[i] != NULL)
            sorted[m++] = items[i];
    qsort(sorted, m, sizeof sorted[0], cmp_items);

    /* append as much as fits; remember whether anything was left out */
    for (size_t i = 0; i <= m && !cut; i++) {
        const char *piece[2];
        if (i == m) {
            if (!more)
                break;
            piece[0] = ", ";
            piece[1] = "...";
        } else {
            if (prev != NULL && ascii_casecmp(prev, sorted[i]) == 0)
                continue;
            piece[0] = prev != NULL ? ", " : "";
            piece[1] = sorted[i];
            prev = sorted[i];
        }
        for (int k = 0; k < 2 && !cut; k++) {
            size_t pl = strlen(piece[k]);
            size_t take = pl <= room - len ? pl : room - len;
            memcpy(out + len, piece[k], take);
            len += take;
            cut = take < pl;
        }
    }
    if (cut) {
        len = room >= 3 ? room - 3 : 0;
        while (len > 0 && (out[len - 1] == ' ' || out[len - 1] == ','))
            len--;
        for (int k = 0; k < 3 && len < room; k++)
            out[len++] = '.';
    }
    out[len] = '\0';
    return len;
}

/* ======================================================================================
 * Configuration
 * ==================================================================================== */

static int set_networks(struct pd_config *c, const char *key, const char *v, size_t vlen,
                        char *err, size_t errsize);

void pd_config_defaults(struct pd_config *c)
{
    static const char loopback[] = "127.0.0.0/8 ::1";
    char ignored[8];

    memset(c, 0, sizeof *c);
    snprintf(c->uri, sizeof c->uri, "%s", "ldapi:///");
    snprintf(c->postconf, sizeof c->postconf, "%s", "/usr/sbin/postconf");
    snprintf(c->sasl_login_filter, sizeof c->sasl_login_filter, "%s", "(uid=%s)");
    (void)set_networks(c, "trusted_networks", loopback, sizeof loopback - 1, ignored,
                       sizeof ignored);
    c->timeout = 5;
    c->idle_timeout = 600;
    c->max_children = 32;
    c->log_level = 1;
    c->starttls = 0;
}

static int set_string(char *dst, size_t size, const char *key, const char *v, size_t vlen,
                      char *err, size_t errsize)
{
    if (vlen >= size) {
        snprintf(err, errsize, "%s: value longer than %zu bytes", key, size - 1);
        return -1;
    }
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
    return 0;
}

static int set_int(int *dst, const char *key, const char *v, size_t vlen, long min, long max,
                   char *err, size_t errsize)
{
    long n = 0;
    if (vlen == 0 || vlen > 9) {
        snprintf(err, errsize, "%s: expected a number from %ld to %ld", key, min, max);
        return -1;
    }
    for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9') {
            snprintf(err, errsize, "%s: expected a number from %ld to %ld", key, min, max);
            return -1;
        }
        n = n * 10 + (v[i] - '0');
    }
    if (n < min || n > max) {
        snprintf(err, errsize, "%s: %ld is not from %ld to %ld", key, n, min, max);
        return -1;
    }
    *dst = (int)n;
    return 0;
}

static int set_bool(int *dst, const char *key, const char *v, size_t vlen, char *err,
                    size_t errsize)
{
    static const char *const yes[] = { "yes", "true", "on", "1" };
    static const char *const no[] = { "no", "false", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (ascii_caseeq_n(v, vlen, yes[i])) {
            *dst = 1;
            return 0;
        }
        if (ascii_caseeq_n(v, vlen, no[i])) {
            *dst = 0;
            return 0;
        }
    }
    snprintf(err, errsize, "%s: expected yes or no", key);
    return -1;
}

/* hold_action: "hold" (Postfix's HOLD of the whole message) or "review" (DUNNO: the review
 * loop holds the group's copy). */
static int set_hold_action(struct pd_config *c, const char *key, const char *v, size_t vlen,
                           char *err, size_t errsize)
{
    if (ascii_caseeq_n(v, vlen, "hold")) {
        c->hold_review = 0;
        return 0;
    }
    if (ascii_caseeq_n(v, vlen, "review")) {
        c->hold_review = 1;
        return 0;
    }
    snprintf(err, errsize, "%s: expected hold or review", key);
    return -1;
}

/* "" or a parenthesised filter whose parentheses balance (RFC 4515 values escape theirs). */
static int filter_shape_ok(const char *v, size_t vlen)
{
    int depth = 0;
    if (vlen == 0)
        return 1;
    if (v[0] != '(' || v[vlen - 1] != ')')
        return 0;
    for (size_t i = 0; i < vlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (--depth < 0)
                return 0;
        } else if (depth == 0) {
            return 0; /* text between top-level parts */
        }
    }
    return depth == 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The next item of a list separated by spaces, tabs or commas: [*b, *e) within [0, vlen). 0
 * when there is none. */
static int next_item(const char *v, size_t vlen, size_t *pos, size_t *b, size_t *e)
{
    size_t i = *pos;
    while (i < vlen && (is_space(v[i]) || v[i] == ','))
        i++;
    if (i == vlen)
        return 0;
    *b = i;
    while (i < vlen && !is_space(v[i]) && v[i] != ',')
        i++;
    *e = i;
    *pos = i;
    return 1;
}

/* recipient_delimiter: as Postfix allows, any of these characters ("" = none). */
static int set_delimiter(struct pd_config *c, const char *key, const char *v, size_t vlen,
                         char *err, size_t errsize)
{
    for (size_t k = 0; k < vlen; k++) {
        unsigned char ch = (unsigned char)v[k];
        if (ch <= 0x20 || ch >= 0x7f || ch == '@') {
            snprintf(err, errsize, "%s: only printable ASCII characters other than \"@\"",
                     key);
            return -1;
        }
    }
    if (set_string(c->recipient_delimiter, sizeof c->recipient_delimiter, key, v, vlen, err,
                   errsize) != 0)
        return -1;
    c->recipient_delimiter_set = 1;
    return 0;
}

/* An address of a network: "192.0.2.1", "2001:db8::1", "[2001:db8::1]". 4, 6 or 0. */
static int parse_ip(const char *s, size_t len, unsigned char addr[16])
{
    char text[64];

    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof text)
        return 0;
    memcpy(text, s, len);
    text[len] = '\0';
    memset(addr, 0, 16);
    if (inet_pton(AF_INET, text, addr) == 1)
        return 4;
    if (inet_pton(AF_INET6, text, addr) == 1)
        return 6;
    return 0;
}

/* "ADDRESS[/PREFIX]" into n. 0, or -1 with err. */
static int parse_network(struct pd_net *n, const char *key, const char *s, size_t len,
                         char *err, size_t errsize)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash != NULL ? (size_t)(slash - s) : len;
    unsigned max, prefix;
    int shown = len > 64 ? 64 : (int)len;

    n->family = parse_ip(s, alen, n->addr);
    if (n->family == 0) {
        snprintf(err, errsize, "%s: \"%.*s\" is not an IP address or network", key, shown, s);
        return -1;
    }
    max = n->family == 4 ? 32 : 128;
    prefix = max;
    if (slash != NULL) {
        size_t plen = len - alen - 1;
        prefix = 0;
        if (plen == 0 || plen > 3) {
            snprintf(err, errsize, "%s: \"%.*s\": bad prefix length", key, shown, s);
            return -1;
        }
        for (size_t i = 0; i < plen; i++) {
            if (slash[1 + i] < '0' || slash[1 + i] > '9') {
                snprintf(err, errsize, "%s: \"%.*s\": bad prefix length", key, shown, s);
                return -1;
            }
            prefix = prefix * 10 + (unsigned)(slash[1 + i] - '0');
        }
        if (prefix > max) {
            snprintf(err, errsize, "%s: \"%.*s\": prefix longer than %u", key, shown, s, max);
            return -1;
        }
    }
    n->prefix = prefix;
    for (unsigned bit = prefix; bit < max; bit++) {
        if (n->addr[bit / 8] & (0x80 >> (bit % 8))) {
            snprintf(err, errsize, "%s: \"%.*s\": address bits set after the prefix", key,
                     shown, s);
            return -1;
        }
    }
    return 0;
}

/* trusted_networks: a list of networks (possibly empty: nothing is trusted). */
static int set_networks(struct pd_config *c, const char *key, const char *v, size_t vlen,
                        char *err, size_t errsize)
{
    struct pd_net nets[PD_NETS_MAX];
    size_t n = 0, pos = 0, b, e;

    while (next_item(v, vlen, &pos, &b, &e)) {
        if (n == PD_NETS_MAX) {
            snprintf(err, errsize, "%s: more than %d networks", key, PD_NETS_MAX);
            return -1;
        }
        if (parse_network(&nets[n], key, v + b, e - b, err, errsize) != 0)
            return -1;
        n++;
    }
    memcpy(c->trusted, nets, n * sizeof nets[0]);
    c->ntrusted = n;
    return 0;
}

/* A domain name as a mail domain is written (any case), not starting with a dot. */
static int domain_ok(const char *d, size_t len)
{
    if (len == 0 || d[0] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        int ch = lower((unsigned char)d[i]);
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'
              || ch == '_'))
            return 0;
    }
    return 1;
}

/* local_domains: domain names, stored lower case without trailing dots, one space
 * between (possibly none: no domain is local). */
static int set_domains(struct pd_config *c, const char *key, const char *v, size_t vlen,
                       char *err, size_t errsize)
{
    char list[sizeof c->local_domains];
    struct sbuf b;
    size_t pos = 0, ib, ie;

    sb_init(&b, list, sizeof list);
    while (next_item(v, vlen, &pos, &ib, &ie)) {
        size_t len = ie - ib;
        if (len > 1 && v[ie - 1] == '.')
            len--; /* the trailing dot of "example.com." */
        if (!domain_ok(v + ib, len)) {
            snprintf(err, errsize, "%s: \"%.*s\" is not a domain name", key,
                     (int)(ie - ib > 64 ? 64 : ie - ib), v + ib);
            return -1;
        }
        if (b.len > 0)
            sb_putn(&b, " ", 1);
        for (size_t i = 0; i < len; i++) {
            char ch = (char)lower((unsigned char)v[ib + i]);
            sb_putn(&b, &ch, 1);
        }
    }
    if (b.overflow) {
        snprintf(err, errsize, "%s: value too long", key);
        return -1;
    }
    memcpy(c->local_domains, list, b.len + 1);
    c->local_domains_set = 1;
    return 0;
}

/* sasl_login_filter: one parenthesised filter with %s (the login) and only %% otherwise. */
static int set_login_filter(struct pd_config *c, const char *key, const char *v, size_t vlen,
                            char *err, size_t errsize)
{
    int has_login = 0, depth = 0;

    for (size_t i = 0; i < vlen; i++) {
        if (v[i] == '%') {
            if (i + 1 < vlen && (v[i + 1] == 's' || v[i + 1] == '%')) {
                has_login |= v[i + 1] == 's';
                i++;
                continue;
            }
            snprintf(err, errsize, "%s: only %%s (the login) and %%%% may follow %%", key);
            return -1;
        }
        if (v[i] == '(')
            depth++;
        else if (v[i] == ')' && --depth == 0 && i + 1 != vlen)
            depth = -1; /* more after the end of the first filter */
        if (depth < 0)
            break;
    }
    if (vlen == 0 || v[0] != '(' || depth != 0 || !has_login) {
        snprintf(err, errsize, "%s: expected one parenthesised filter with %%s, such as "
                               "(uid=%%s)", key);
        return -1;
    }
    return set_string(c->sasl_login_filter, sizeof c->sasl_login_filter, key, v, vlen, err,
                      errsize);
}

/* postconf: an absolute path (Postfix's spawn(8) passes no PATH). */
static int set_command(char *dst, size_t size, const char *key, const char *v, size_t vlen,
                       char *err, size_t errsize)
{
    if (vlen == 0 || v[0] != '/') {
        snprintf(err, errsize, "%s: expected an absolute path", key);
        return -1;
    }
    return set_string(dst, size, key, v, vlen, err, errsize);
}

int pd_config_line(struct pd_config *c, const char *line, size_t len, char *err,
                   size_t errsize)
{
    size_t i = 0, kb, ke, vb, ve;

    if (errsize > 0)
        err[0] = '\0';
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (memchr(line, '\0', len) != NULL) {
        snprintf(err, errsize, "NUL byte in the line");
        return -1;
    }
    while (i < len && is_space(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    kb = i;
    while (i < len && (name_char((unsigned char)line[i])))
        i++;
    ke = i;
    while (i < len && is_space(line[i]))
        i++;
    if (ke == kb || i == len || line[i] != '=') {
        snprintf(err, errsize, "expected \"key = value\"");
        return -1;
    }
    i++;
    while (i < len && is_space(line[i]))
        i++;
    vb = i;
    ve = len;
    while (ve > vb && is_space(line[ve - 1]))
        ve--;

    char key[32];
    size_t klen = ke - kb;
    if (klen >= sizeof key) {
        snprintf(err, errsize, "unknown setting");
        return -1;
    }
    memcpy(key, line + kb, klen);
    key[klen] = '\0';
    const char *v = line + vb;
    size_t vlen = ve - vb;

    for (size_t k = 0; k < vlen; k++) {
        unsigned char ch = (unsigned char)v[k];
        if (ch < 0x20 && ch != '\t') {
            snprintf(err, errsize, "%s: control character in the value", key);
            return -1;
        }
    }

    if (strcmp(key, "uri") == 0)
        return set_string(c->uri, sizeof c->uri, key, v, vlen, err, errsize);
    if (strcmp(key, "base") == 0)
        return set_string(c->base, sizeof c->base, key, v, vlen, err, errsize);
    if (strcmp(key, "bind_dn") == 0)
        return set_string(c->bind_dn, sizeof c->bind_dn, key, v, vlen, err, errsize);
    if (strcmp(key, "bind_pw_file") == 0)
        return set_string(c->bind_pw_file, sizeof c->bind_pw_file, key, v, vlen, err, errsize);
    if (strcmp(key, "filter") == 0) {
        if (!filter_shape_ok(v, vlen)) {
            snprintf(err, errsize, "filter: expected one or more parenthesised filters "
                                   "such as (!(description=frozen))");
            return -1;
        }
        return set_string(c->filter, sizeof c->filter, key, v, vlen, err, errsize);
    }
    if (strcmp(key, "recipient_delimiter") == 0)
        return set_delimiter(c, key, v, vlen, err, errsize);
    if (strcmp(key, "postconf") == 0)
        return set_command(c->postconf, sizeof c->postconf, key, v, vlen, err, errsize);
    if (strcmp(key, "sasl_login_filter") == 0)
        return set_login_filter(c, key, v, vlen, err, errsize);
    if (strcmp(key, "trusted_networks") == 0)
        return set_networks(c, key, v, vlen, err, errsize);
    if (strcmp(key, "local_domains") == 0)
        return set_domains(c, key, v, vlen, err, errsize);
    if (strcmp(key, "timeout") == 0)
        return set_int(&c->timeout, key, v, vlen, 1, 300, err, errsize);
    if (strcmp(key, "idle_timeout") == 0)
        return set_int(&c->idle_timeout, key, v, vlen, 1, 86400, err, errsize);
    if (strcmp(key, "max_children") == 0)
        return set_int(&c->max_children, key, v, vlen, 1, 1024, err, errsize);
    if (strcmp(key, "log_level") == 0)
        return set_int(&c->log_level, key, v, vlen, 0, 2, err, errsize);
    if (strcmp(key, "starttls") == 0)
        return set_bool(&c->starttls, key, v, vlen, err, errsize);
    if (strcmp(key, "hold_action") == 0)
        return set_hold_action(c, key, v, vlen, err, errsize);
    snprintf(err, errsize, "unknown setting \"%s\"", key);
    return -1;
}

int pd_config_check(const struct pd_config *c, char *err, size_t errsize)
{
    if (c->uri[0] == '\0') {
        snprintf(err, errsize, "uri is empty");
        return -1;
    }
    if (c->bind_dn[0] != '\0' && c->bind_pw_file[0] == '\0') {
        snprintf(err, errsize, "bind_dn needs bind_pw_file");
        return -1;
    }
    if (c->bind_dn[0] == '\0' && c->bind_pw_file[0] != '\0') {
        snprintf(err, errsize, "bind_pw_file without bind_dn");
        return -1;
    }
    return 0;
}

int pd_config_postconf_delimiter(struct pd_config *c, const char *out, size_t len, char *err,
                                 size_t errsize)
{
    size_t n = 0;

    while (n < len && out[n] != '\n')
        n++;
    if (n < len && n + 1 != len) {
        snprintf(err, errsize, "postconf printed more than one line");
        return -1;
    }
    if (memchr(out, '\0', n) != NULL) {
        snprintf(err, errsize, "NUL byte in the output of postconf");
        return -1;
    }
    return set_delimiter(c, "recipient_delimiter (from postconf)", out, n, err, errsize);
}

int pd_client_trusted(const struct pd_config *c, const char *address)
{
    unsigned char a[16];
    int family = address != NULL ? parse_ip(address, strlen(address), a) : 0;
    static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };

    if (family == 6 && memcmp(a, mapped, sizeof mapped) == 0) {
        memmove(a, a + 12, 4); /* ::ffff:192.0.2.1 is 192.0.2.1 */
        family = 4;
    }
    for (size_t i = 0; family != 0 && i < c->ntrusted; i++) {
        const struct pd_net *n = &c->trusted[i];
        unsigned full = n->prefix / 8, rest = n->prefix % 8;
        if (n->family != family || memcmp(a, n->addr, full) != 0)
            continue;
        if (rest == 0 || ((a[full] ^ n->addr[full]) & (0xff00 >> rest) & 0xff) == 0)
            return 1;
    }
    return 0;
}

int pd_domain_listed(const struct pd_config *c, const char *domain)
{
    size_t dlen = domain != NULL ? strlen(domain) : 0;
    size_t pos = 0, b, e;
    const char *list = c->local_domains;

    while (dlen > 0 && next_item(list, strlen(list), &pos, &b, &e))
        if (e - b == dlen && memcmp(list + b, domain, dlen) == 0)
            return 1;
    return 0;
}

int pd_password_from_text(char *out, size_t size, const char *s, size_t len)
{
    size_t n = 0;
    if (size == 0)
        return -1;
    out[0] = '\0';
    while (n < len && s[n] != '\n')
        n++;
    if (n > 0 && s[n - 1] == '\r')
        n--;
    if (n == 0 || n >= size || memchr(s, '\0', n) != NULL)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}
