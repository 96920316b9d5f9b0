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
#include <sys/time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#define PW_MAX      1024           /* bytes of a password */
#define PW_FILE_MAX (PW_MAX + 16)  /* bytes read from the password file */
/* recipient and sender each escaped (3 bytes per byte at worst, twice for the recipient's
 * stripped form) plus the extra filter and the fixed text */
#define FILTER_MAX  (3 * 3 * (PD_LINE_MAX + 1) + PD_CONF_VALUE_MAX + 256)
#define SIZE_LIMIT  16             /* entries: mail is unique, more means trouble */

struct pd_ldap {
    const struct pd_config *cfg;
    pd_log_fn log;
    LDAP *ld;
};

static char attr_decision[] = "dmgDecision";
static char attr_reason[] = "dmgDecisionReason";
static char attr_auditor_mail[] = "dmgAuditorMail";

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
    return LDAP_SUCCESS;
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

/* Read the entries of a search result into out. */
static void read_entries(LDAP *ld, LDAPMessage *res, struct pd_lookup *out)
{
    size_t count = 0;
    for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL; e = ldap_next_entry(ld, e)) {
        enum pd_result r = entry_decision(ld, e);
        enum pd_result before = out->result;
        out->result = count == 0 ? r : pd_result_combine(out->result, r);
        if (count == 0 || out->result != before) {
            /* reason, auditors and DN of the entry that decides */
            char *dn = ldap_get_dn(ld, e);
            snprintf(out->group, sizeof out->group, "%s", dn != NULL ? dn : "");
            ldap_memfree(dn);
            first_value(ld, e, attr_reason, out->reason, sizeof out->reason);
            if (auditor_list(ld, e, out->auditors, sizeof out->auditors) != 0) {
                out->result = PD_RES_FAILED;
                set_error(out, "out of memory");
                return;
            }
        }
        count++;
    }
    if (count > 1)
        set_error(out, "%zu groups have this address", count);
}

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

void pd_ldap_lookup(pd_ldap *l, const char *recipient, const char *sender,
                    struct pd_lookup *out)
{
    const struct pd_config *cfg = l->cfg;
    char filter[FILTER_MAX];
    char *attrs[] = { attr_decision, attr_reason, attr_auditor_mail, NULL };

    pd_lookup_init(out);
    if (pd_build_filter(filter, sizeof filter, recipient, sender, cfg->recipient_delimiter,
                        cfg->filter) != 0) {
        out->result = PD_RES_FAILED;
        set_error(out, "filter too long");
        return;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = 0, rc;
        LDAPMessage *res = NULL;
        struct timeval tv;

        if (l->ld == NULL) {
            rc = open_connection(l, out);
            if (rc != LDAP_SUCCESS) {
                out->result = PD_RES_UNAVAILABLE;
                return;
            }
            fresh = 1;
        }
        tv.tv_sec = cfg->timeout;
        tv.tv_usec = 0;
        rc = ldap_search_ext_s(l->ld, cfg->base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
                               NULL, &tv, SIZE_LIMIT, &res);
        if (rc == LDAP_SUCCESS) {
            read_entries(l->ld, res, out);
            ldap_msgfree(res);
            return;
        }
        describe(l->ld, rc, "search", out);
        ldap_msgfree(res);
        if (is_connection_error(rc)) {
            drop_connection(l);
            if (!fresh && attempt == 0) {
                if (l->log != NULL)
                    l->log(2, "LDAP connection lost (%s); reconnecting", out->error);
                out->error[0] = '\0';
                continue;
            }
            out->result = PD_RES_UNAVAILABLE;
            return;
        }
        if (rc == LDAP_TIMEOUT)
            drop_connection(l); /* the answer may still come; do not read it as the next */
        out->result = is_transient(rc) ? PD_RES_UNAVAILABLE : PD_RES_FAILED;
        return;
    }
    out->result = PD_RES_UNAVAILABLE;
}
