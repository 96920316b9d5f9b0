/*
 * policyd_ldap.c - the LDAP connection and search of dmg-policyd (see policyd_ldap.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "policyd_ldap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#define PW_MAX      1024           /* bytes of a password */
#define PW_FILE_MAX (PW_MAX + 16)  /* bytes read from the password file */
/* the recipient's forms and the sender, escaped (3 bytes per byte at worst), plus the extra
 * filter and the fixed text */
#define FILTER_MAX  ((PD_FORMS_MAX + 1) * 3 * (PD_LINE_MAX + 1) + PD_FORMS_MAX * 8 \
                     + PD_CONF_VALUE_MAX + 256)
#define SIZE_LIMIT  16             /* entries: mail is unique, more means trouble */
#define CONTEXTS_MAX 16            /* naming contexts used */
#define DN_MAX      PD_CONF_VALUE_MAX
#define DOMAINS_KEPT 64            /* answers of pd_ldap_group_domain kept */
#define DOMAIN_MAX  256

struct domain_answer {
    char domain[DOMAIN_MAX];
    int is_group_domain;
    time_t when;
};

struct pd_ldap {
    const struct pd_config *cfg;
    pd_log_fn log;
    LDAP *ld;
    char contexts[CONTEXTS_MAX][DN_MAX]; /* the root DSE's namingContexts */
    size_t ncontexts;
    int base_checked;                    /* the configured base was compared with them */
    struct domain_answer domains[DOMAINS_KEPT];
    size_t ndomains, next_domain;
};

static char attr_decision[] = "dmgDecision";
static char attr_reason[] = "dmgDecisionReason";
static char attr_auditor_mail[] = "dmgAuditorMail";
static char attr_send_policy[] = "dmgSendPolicy";
static char attr_audit_required[] = "dmgAuditRequired";
static char attr_mail[] = "mail";
static char attr_member_count[] = "dmgMemberCount";
static char attr_contexts[] = "namingContexts";
static char attr_none[] = LDAP_NO_ATTRS; /* "1.1" */

pd_ldap *pd_ldap_new(const struct pd_config *cfg, pd_log_fn log)
{
    pd_ldap *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->cfg = cfg;
    l->log = log;
    return l;
}

static void drop_connection(pd_ldap *l)
{
    if (l->ld != NULL) {
        ldap_unbind_ext_s(l->ld, NULL, NULL);
        l->ld = NULL;
    }
    l->ncontexts = 0;
    l->ndomains = 0; /* asked again after a reconnect */
    l->next_domain = 0;
}

void pd_ldap_free(pd_ldap *l)
{
    if (l == NULL)
        return;
    drop_connection(l);
    free(l);
}

/* out->error, cut to its size (the text is for the log). */
static void set_error(struct pd_lookup *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(struct pd_lookup *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
}

static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

/* The server's diagnostic message for the last operation, when there is one. */
static void describe(LDAP *ld, int rc, const char *what, struct pd_lookup *out)
{
    char *diag = NULL;
    if (ld != NULL)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    set_error(out, "%s: %s (%d)%s%s", what, ldap_err2string(rc), rc,
             (diag != NULL && diag[0] != '\0') ? ": " : "", diag != NULL ? diag : "");
    ldap_memfree(diag);
}

/* First line of the password file; 0 or -1 with out->error. */
static int read_password(const char *path, char *pw, size_t size, struct pd_lookup *out)
{
    char buf[PW_FILE_MAX];
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_NOCTTY);
    if (fd < 0) {
        set_error(out, "cannot open bind_pw_file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            set_error(out, "cannot read bind_pw_file %s: %s", path,
                     strerror(errno));
            close(fd);
            wipe(buf, sizeof buf);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    int rc = pd_password_from_text(pw, size, buf, len);
    wipe(buf, sizeof buf);
    if (rc != 0) {
        set_error(out, "bind_pw_file %s: first line empty, too long or not text", path);
        return -1;
    }
    return 0;
}

static int after_connect(pd_ldap *l, struct pd_lookup *out);

/* A new connection in l->ld, bound as configured. The LDAP result code. */
static int open_connection(pd_ldap *l, struct pd_lookup *out)
{
    const struct pd_config *cfg = l->cfg;
    LDAP *ld = NULL;
    int version = LDAP_VERSION3;
    struct timeval tv;
    char pw[PW_MAX];
    struct berval cred = { 0, NULL };
    int rc;

    rc = ldap_initialize(&ld, cfg->uri);
    if (rc != LDAP_SUCCESS || ld == NULL) {
        set_error(out, "ldap_initialize(%s): %s (%d)", cfg->uri,
                 ldap_err2string(rc), rc);
        if (ld != NULL)
            ldap_unbind_ext_s(ld, NULL, NULL);
        return rc != LDAP_SUCCESS ? rc : LDAP_NO_MEMORY;
    }
    tv.tv_sec = cfg->timeout;
    tv.tv_usec = 0;
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_RESTART, LDAP_OPT_ON) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS) {
        set_error(out, "cannot set LDAP options");
        ldap_unbind_ext_s(ld, NULL, NULL);
        return LDAP_LOCAL_ERROR;
    }
    if (cfg->starttls) {
        rc = ldap_start_tls_s(ld, NULL, NULL);
        if (rc != LDAP_SUCCESS) {
            describe(ld, rc, "StartTLS", out);
            ldap_unbind_ext_s(ld, NULL, NULL);
            return rc;
        }
    }
    if (cfg->bind_dn[0] != '\0') {
        if (read_password(cfg->bind_pw_file, pw, sizeof pw, out) != 0) {
            ldap_unbind_ext_s(ld, NULL, NULL);
            return LDAP_LOCAL_ERROR;
        }
        cred.bv_val = pw;
        cred.bv_len = strlen(pw);
    }
    rc = ldap_sasl_bind_s(ld, cfg->bind_dn[0] != '\0' ? cfg->bind_dn : NULL, LDAP_SASL_SIMPLE,
                          &cred, NULL, NULL, NULL);
    if (cred.bv_val != NULL)
        wipe(pw, sizeof pw);
    if (rc != LDAP_SUCCESS) {
        char what[PD_CONF_VALUE_MAX + 32];
        snprintf(what, sizeof what, "bind as \"%s\"",
                 cfg->bind_dn[0] != '\0' ? cfg->bind_dn : "(anonymous)");
        describe(ld, rc, what, out);
        ldap_unbind_ext_s(ld, NULL, NULL);
        return rc;
    }
    l->ld = ld;
    return after_connect(l, out);
}

/* NUL-terminated copy of a value; NULL when out of memory. */
static char *bv_strdup(const struct berval *bv)
{
    size_t n = bv->bv_val != NULL ? bv->bv_len : 0;
    char *s = malloc(n + 1);
    if (s == NULL)
        return NULL;
    if (n > 0)
        memcpy(s, bv->bv_val, n);
    s[n] = '\0';
    return s;
}

/* Copy of the first value of attr into dst ("" when absent); cut to dst's size. */
static void first_value(LDAP *ld, LDAPMessage *e, char *attr, char *dst, size_t size)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);
    dst[0] = '\0';
    if (vals != NULL && vals[0] != NULL && vals[0]->bv_val != NULL) {
        size_t n = vals[0]->bv_len < size - 1 ? vals[0]->bv_len : size - 1;
        memcpy(dst, vals[0]->bv_val, n);
        dst[n] = '\0';
        /* a NUL byte inside the value ends it; the text is only ever shown */
    }
    ldap_value_free_len(vals);
}

/* The decision of one entry: every dmgDecision value must be usable; the strictest wins. */
static enum pd_result entry_decision(LDAP *ld, LDAPMessage *e)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr_decision);
    enum pd_result r = PD_RES_NO_DECISION;
    for (size_t i = 0; vals != NULL && vals[i] != NULL; i++) {
        enum pd_result v = pd_decision_result(vals[i]->bv_val, vals[i]->bv_len);
        if (v == PD_RES_NO_DECISION) {
            r = v;
            break;
        }
        r = i == 0 ? v : pd_result_combine(r, v);
    }
    ldap_value_free_len(vals);
    return r;
}

/* dmgAuditorMail values, sorted and joined into dst. -1 when out of memory. */
static int auditor_list(LDAP *ld, LDAPMessage *e, char *dst, size_t size)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr_auditor_mail);
    size_t n = 0;
    int rc = 0;

    dst[0] = '\0';
    while (vals != NULL && vals[n] != NULL)
        n++;
    if (n > PD_JOIN_MAX + 1)
        n = PD_JOIN_MAX + 1; /* pd_join_sorted shows "..." for more than PD_JOIN_MAX */
    char **items = calloc(n + 1, sizeof *items);
    if (items == NULL) {
        ldap_value_free_len(vals);
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        items[i] = bv_strdup(vals[i]);
        if (items[i] == NULL)
            rc = -1;
    }
    if (rc == 0)
        pd_join_sorted(dst, size, (const char *const *)items, n);
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
    ldap_value_free_len(vals);
    return rc;
}

/* ======================================================================================
 * Searches
 * ==================================================================================== */

static int is_connection_error(int rc)
{
    return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR;
}

/* Server-side answers that mean "try again later" rather than "this went wrong". */
static int is_transient(int rc)
{
    return rc == LDAP_TIMEOUT || rc == LDAP_TIMELIMIT_EXCEEDED || rc == LDAP_BUSY
           || rc == LDAP_UNAVAILABLE || rc == LDAP_ADMINLIMIT_EXCEEDED;
}

/* Where to search: the configured base for groups when there is one, else the naming
 * contexts (the base too when the root DSE names none). Their number. */
static size_t bases_of(const pd_ldap *l, int for_groups, const char **bases)
{
    if (l->cfg->base[0] != '\0' && (for_groups || l->ncontexts == 0)) {
        bases[0] = l->cfg->base;
        return 1;
    }
    for (size_t i = 0; i < l->ncontexts; i++)
        bases[i] = l->contexts[i];
    return l->ncontexts;
}

typedef void (*entry_fn)(LDAP *ld, LDAPMessage *e, void *arg);

/* One subtree search per base (bases_of), every entry handed to fn. The size limit is per
 * base; reaching it is not an error (*limited is set, when not NULL). The first other error
 * ends the searches: its code, described in out->error. */
static int search_each(pd_ldap *l, int for_groups, const char *filter, char **attrs,
                       int sizelimit, entry_fn fn, void *arg, int *limited,
                       struct pd_lookup *out)
{
    const char *bases[CONTEXTS_MAX];
    size_t n = bases_of(l, for_groups, bases);

    if (n == 0) {
        set_error(out, "the root DSE names no namingContexts (set base)");
        return LDAP_NO_SUCH_OBJECT;
    }
    for (size_t i = 0; i < n; i++) {
        LDAPMessage *res = NULL;
        struct timeval tv = { l->cfg->timeout, 0 };
        int rc = ldap_search_ext_s(l->ld, bases[i], LDAP_SCOPE_SUBTREE, filter, attrs, 0,
                                   NULL, NULL, &tv, sizelimit, &res);
        if (rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED) {
            for (LDAPMessage *e = ldap_first_entry(l->ld, res); e != NULL;
                 e = ldap_next_entry(l->ld, e))
                fn(l->ld, e, arg);
            if (rc == LDAP_SIZELIMIT_EXCEEDED && limited != NULL)
                *limited = 1;
            ldap_msgfree(res);
            continue;
        }
        describe(l->ld, rc, "search", out);
        ldap_msgfree(res);
        return rc;
    }
    return LDAP_SUCCESS;
}

static void count_entry(LDAP *ld, LDAPMessage *e, void *arg)
{
    (void)ld;
    (void)e;
    ++*(size_t *)arg;
}

/* The DN of the first entry seen, kept in arg (DN_MAX bytes). */
static void first_dn(LDAP *ld, LDAPMessage *e, void *arg)
{
    char *dst = arg;
    if (dst[0] != '\0')
        return;
    char *dn = ldap_get_dn(ld, e);
    snprintf(dst, DN_MAX, "%s", dn != NULL ? dn : "?");
    ldap_memfree(dn);
}

/* A configured base that leaves groups out is a hole in the enforcement: say so once. */
static void check_base(pd_ldap *l)
{
    char escaped[3 * DN_MAX], filter[3 * DN_MAX + 128], outside[DN_MAX] = "";
    char *attrs[] = { attr_none, NULL };
    const struct pd_config *cfg = l->cfg;
    struct pd_lookup scratch;
    int limited = 0;

    if (l->base_checked || cfg->base[0] == '\0' || l->ncontexts == 0 || l->log == NULL)
        return;
    l->base_checked = 1;
    if (pd_filter_escape(escaped, sizeof escaped, cfg->base, strlen(cfg->base)) == (size_t)-1)
        return;
    snprintf(filter, sizeof filter,
             "(&(objectClass=dynamicMailGroup)(!(entryDN:dnSubtreeMatch:=%s)))", escaped);
    pd_lookup_init(&scratch);
    if (search_each(l, 0, filter, attrs, 1, first_dn, outside, &limited, &scratch) != 0)
        l->log(2, "looking for groups outside base %s: %s", cfg->base, scratch.error);
    if (outside[0] != '\0')
        l->log(3, "base %s leaves out groups of the directory, such as %s: mail to them is "
                  "not checked (remove base to check every group)", cfg->base, outside);
}

/* After the bind: the naming contexts (from the root DSE), the base check. */
static int after_connect(pd_ldap *l, struct pd_lookup *out)
{
    char *attrs[] = { attr_contexts, NULL };
    LDAPMessage *res = NULL;
    struct timeval tv = { l->cfg->timeout, 0 };
    int rc = ldap_search_ext_s(l->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0, NULL,
                               NULL, &tv, 1, &res);

    l->ncontexts = 0;
    if (rc != LDAP_SUCCESS) {
        describe(l->ld, rc, "reading the root DSE", out);
        ldap_msgfree(res);
        return rc;
    }
    LDAPMessage *e = ldap_first_entry(l->ld, res);
    struct berval **vals = e != NULL ? ldap_get_values_len(l->ld, e, attr_contexts) : NULL;
    for (size_t i = 0; vals != NULL && vals[i] != NULL && l->ncontexts < CONTEXTS_MAX; i++) {
        size_t len = vals[i]->bv_len;
        if (len == 0 || len >= DN_MAX || memchr(vals[i]->bv_val, '\0', len) != NULL)
            continue; /* the root DSE of slapd itself, or unusable */
        memcpy(l->contexts[l->ncontexts], vals[i]->bv_val, len);
        l->contexts[l->ncontexts++][len] = '\0';
    }
    ldap_value_free_len(vals);
    ldap_msgfree(res);
    check_base(l);
    return LDAP_SUCCESS;
}

typedef int (*ldap_op)(pd_ldap *l, void *arg, struct pd_lookup *out);

/* Run op on a bound connection, connecting when there is none; once more on a new one when
 * the connection held turned out to be dead. A failure sets out->result. 0 when op
 * succeeded. */
static int run_op(pd_ldap *l, ldap_op op, void *arg, struct pd_lookup *out)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = 0, rc;

        if (l->ld == NULL) {
            if (open_connection(l, out) != LDAP_SUCCESS) {
                drop_connection(l);
                out->result = PD_RES_UNAVAILABLE;
                return -1;
            }
            fresh = 1;
        }
        rc = op(l, arg, out);
        if (rc == LDAP_SUCCESS)
            return 0;
        if (is_connection_error(rc)) {
            drop_connection(l);
            if (!fresh && attempt == 0) {
                if (l->log != NULL)
                    l->log(2, "LDAP connection lost (%s); reconnecting", out->error);
                out->error[0] = '\0';
                continue;
            }
            out->result = PD_RES_UNAVAILABLE;
            return -1;
        }
        if (rc == LDAP_TIMEOUT)
            drop_connection(l); /* the answer may still come; do not read it as the next */
        out->result = is_transient(rc) ? PD_RES_UNAVAILABLE : PD_RES_FAILED;
        return -1;
    }
    out->result = PD_RES_UNAVAILABLE;
    return -1;
}

/* ======================================================================================
 * The decision
 * ==================================================================================== */

struct decision {
    struct pd_lookup *out;
    size_t count;
};

static int has_value(LDAP *ld, LDAPMessage *e, char *attr, const char *want)
{
    struct berval **vals = ldap_get_values_len(ld, e, attr);
    int yes = 0;
    for (size_t i = 0; !yes && vals != NULL && vals[i] != NULL; i++)
        yes = vals[i]->bv_len == strlen(want)
              && strncasecmp(vals[i]->bv_val, want, vals[i]->bv_len) == 0;
    ldap_value_free_len(vals);
    return yes;
}

/* One group: the strictest decision wins; the rest of out comes from the entry that
 * decides. */
static void read_group(LDAP *ld, LDAPMessage *e, void *arg)
{
    struct decision *d = arg;
    struct pd_lookup *out = d->out;
    enum pd_result r = entry_decision(ld, e);
    enum pd_result before = out->result;

    if (out->result == PD_RES_FAILED)
        return; /* out of memory below */
    out->result = d->count == 0 ? r : pd_result_combine(out->result, r);
    if (d->count++ > 0 && out->result == before)
        return;
    char *dn = ldap_get_dn(ld, e);
    snprintf(out->group, sizeof out->group, "%s", dn != NULL ? dn : "");
    ldap_memfree(dn);
    first_value(ld, e, attr_reason, out->reason, sizeof out->reason);
    first_value(ld, e, attr_mail, out->group_mail, sizeof out->group_mail);
    out->allows_anyone = has_value(ld, e, attr_send_policy, "anyone");
    out->audit_required = has_value(ld, e, attr_audit_required, "TRUE");
    if (auditor_list(ld, e, out->auditors, sizeof out->auditors) != 0) {
        out->result = PD_RES_FAILED;
        set_error(out, "out of memory");
    }
}

static int decision_op(pd_ldap *l, void *arg, struct pd_lookup *out)
{
    char *attrs[] = { attr_decision, attr_reason, attr_auditor_mail, attr_send_policy,
                      attr_audit_required, attr_mail, attr_member_count, NULL };
    struct decision d = { out, 0 };

    pd_lookup_init(out); /* a retry starts over */
    int rc = search_each(l, 1, arg, attrs, SIZE_LIMIT, read_group, &d, NULL, out);
    /* the overlay's refusal to expand the group (man page dynmailgroup-max-members) */
    if (rc == LDAP_ADMINLIMIT_EXCEEDED && strstr(out->error, "(dynmailgroup-max-members)")) {
        out->result = PD_RES_TOO_LARGE;
        return LDAP_SUCCESS;
    }
    if (rc == LDAP_SUCCESS && d.count > 1)
        set_error(out, "%zu groups have this address", d.count);
    return rc;
}

void pd_ldap_lookup(pd_ldap *l, const char *recipient, const char *sender,
                    struct pd_lookup *out)
{
    char filter[FILTER_MAX];

    pd_lookup_init(out);
    if (pd_build_filter(filter, sizeof filter, recipient, sender,
                        l->cfg->recipient_delimiter, l->cfg->filter) != 0) {
        out->result = PD_RES_FAILED;
        set_error(out, "filter too long");
        return;
    }
    (void)run_op(l, decision_op, filter, out);
}

/* ======================================================================================
 * The account of an authenticated client
 * ==================================================================================== */

struct account {
    const char *filter;
    const char *sender;
    size_t count;
    int has_sender;
    int limited;
};

/* sender equals the mail value (ASCII case-insensitive; a trailing dot of the sender's
 * domain ignored). */
static int same_address(const struct berval *mail, const char *sender)
{
    size_t len = strlen(sender);
    if (len > 0 && sender[len - 1] == '.' && strchr(sender, '@') != NULL)
        len--;
    return len > 0 && mail->bv_len == len && strncasecmp(mail->bv_val, sender, len) == 0;
}

static void read_account(LDAP *ld, LDAPMessage *e, void *arg)
{
    struct account *a = arg;
    struct berval **vals = ldap_get_values_len(ld, e, attr_mail);

    a->count++;
    for (size_t i = 0; vals != NULL && vals[i] != NULL; i++)
        if (same_address(vals[i], a->sender))
            a->has_sender = 1;
    ldap_value_free_len(vals);
}

static int account_op(pd_ldap *l, void *arg, struct pd_lookup *out)
{
    struct account *a = arg;
    char *attrs[] = { attr_mail, NULL };

    a->count = 0;
    a->has_sender = 0;
    a->limited = 0;
    return search_each(l, 0, a->filter, attrs, 2, read_account, a, &a->limited, out);
}

enum pd_identity pd_ldap_account(pd_ldap *l, const char *login, const char *sender,
                                 struct pd_lookup *out)
{
    char filter[FILTER_MAX];
    struct account a = { filter, sender, 0, 0, 0 };

    if (pd_build_login_filter(filter, sizeof filter, l->cfg->sasl_login_filter, login) != 0) {
        out->result = PD_RES_FAILED;
        set_error(out, "account filter too long");
        return PD_ID_AS_CLAIMED;
    }
    if (run_op(l, account_op, &a, out) != 0)
        return PD_ID_AS_CLAIMED;
    if (a.count == 0)
        return PD_ID_NO_ACCOUNT;
    if (a.count > 1 || a.limited)
        return PD_ID_MANY_ACCOUNTS;
    return a.has_sender ? PD_ID_AS_CLAIMED : PD_ID_NOT_ACCOUNT;
}

/* ======================================================================================
 * The groups' domains
 * ==================================================================================== */

struct domain_search {
    const char *filter;
    size_t count;
    int limited;
};

static int domain_op(pd_ldap *l, void *arg, struct pd_lookup *out)
{
    struct domain_search *d = arg;
    char *attrs[] = { attr_none, NULL };

    d->count = 0;
    d->limited = 0;
    return search_each(l, 0, d->filter, attrs, 1, count_entry, &d->count, &d->limited, out);
}

static struct domain_answer *kept_answer(pd_ldap *l, const char *domain, time_t now)
{
    for (size_t i = 0; i < l->ndomains; i++)
        if (strcmp(l->domains[i].domain, domain) == 0 && now - l->domains[i].when >= 0
            && now - l->domains[i].when < PD_DOMAIN_TTL)
            return &l->domains[i];
    return NULL;
}

static void keep_answer(pd_ldap *l, const char *domain, int yes, time_t now)
{
    struct domain_answer *a = &l->domains[l->next_domain];
    if (strlen(domain) >= sizeof a->domain)
        return;
    snprintf(a->domain, sizeof a->domain, "%s", domain);
    a->is_group_domain = yes;
    a->when = now;
    l->next_domain = (l->next_domain + 1) % DOMAINS_KEPT;
    if (l->ndomains < DOMAINS_KEPT)
        l->ndomains++;
}

int pd_ldap_group_domain(pd_ldap *l, const char *domain, struct pd_lookup *out)
{
    char filter[FILTER_MAX];
    struct domain_search d = { filter, 0, 0 };
    time_t now = time(NULL);
    const struct domain_answer *kept = kept_answer(l, domain, now);

    if (kept != NULL)
        return kept->is_group_domain;
    if (pd_build_domain_filter(filter, sizeof filter, domain) != 0)
        return 0; /* no domain: not local */
    if (run_op(l, domain_op, &d, out) != 0)
        return 0;
    keep_answer(l, domain, d.count > 0 || d.limited, now);
    return d.count > 0 || d.limited;
}

/* ======================================================================================
 * The values of one entry, for the other tools (dmg-audit)
 * ==================================================================================== */

#define ATTR_NAME_MAX 64

struct values {
    const char *filter;
    char attr[ATTR_NAME_MAX];
    int for_groups;
    char **vals;
    size_t n;
    size_t count;   /* entries seen */
    int too_many;   /* more than PD_VALUES_MAX values */
    int no_memory;
};

void pd_ldap_values_free(char **vals)
{
    for (size_t i = 0; vals != NULL && vals[i] != NULL; i++)
        free(vals[i]);
    free(vals);
}

/* The first entry's values are kept; further entries are only counted. */
static void read_values(LDAP *ld, LDAPMessage *e, void *arg)
{
    struct values *v = arg;
    struct berval **bv;
    size_t cnt = 0;

    if (v->count++ > 0)
        return;
    bv = ldap_get_values_len(ld, e, v->attr);
    while (bv != NULL && bv[cnt] != NULL)
        cnt++;
    if (cnt > PD_VALUES_MAX) {
        v->too_many = 1;
        ldap_value_free_len(bv);
        return;
    }
    v->vals = calloc(cnt + 1, sizeof *v->vals);
    if (v->vals == NULL) {
        v->no_memory = 1;
        ldap_value_free_len(bv);
        return;
    }
    for (size_t i = 0; i < cnt; i++) {
        v->vals[i] = bv_strdup(bv[i]);
        if (v->vals[i] == NULL) {
            v->no_memory = 1;
            break;
        }
    }
    v->n = cnt;
    ldap_value_free_len(bv);
}

static int values_op(pd_ldap *l, void *arg, struct pd_lookup *out)
{
    struct values *v = arg;
    char *attrs[] = { v->attr, NULL };

    pd_ldap_values_free(v->vals); /* a retry starts over */
    v->vals = NULL;
    v->n = 0;
    v->count = 0;
    v->too_many = 0;
    v->no_memory = 0;
    return search_each(l, v->for_groups, v->filter, attrs, 2, read_values, v, NULL, out);
}

int pd_ldap_values(pd_ldap *l, enum pd_where where, const char *filter, const char *attr,
                   char ***vals, size_t *n, struct pd_lookup *out)
{
    struct values v;
    size_t alen = strlen(attr);

    *vals = NULL;
    *n = 0;
    pd_lookup_init(out);
    memset(&v, 0, sizeof v);
    if (alen == 0 || alen >= sizeof v.attr) {
        out->result = PD_RES_FAILED;
        set_error(out, "unusable attribute name");
        return -1;
    }
    memcpy(v.attr, attr, alen + 1);
    v.filter = filter;
    v.for_groups = where == PD_WHERE_GROUPS;
    if (run_op(l, values_op, &v, out) != 0) {
        pd_ldap_values_free(v.vals);
        return -1;
    }
    if (v.too_many || v.no_memory || v.count > 1) {
        pd_ldap_values_free(v.vals);
        out->result = PD_RES_FAILED;
        if (v.count > 1)
            set_error(out, "more than one entry matches %s", filter);
        else if (v.too_many)
            set_error(out, "more than %d values of %s", PD_VALUES_MAX, attr);
        else
            set_error(out, "out of memory");
        return -1;
    }
    if (v.count == 0)
        return 0;
    *vals = v.vals;
    *n = v.n;
    return 1;
}
