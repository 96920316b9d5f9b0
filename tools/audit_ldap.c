/*
 * audit_ldap.c - directory reads of dmg-audit (see audit_ldap.h).
 */
#define _POSIX_C_SOURCE 200809L

#include "audit_ldap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <lber.h>
#include <ldap.h>

#define PW_MAX      1024
#define FILTER_MAX  (3 * 1024 + 2 * PD_CONF_VALUE_MAX + 64)
#define VALUES_MAX  100000   /* values of one attribute we accept */

struct au_ldap {
    const struct pd_config *cfg;
    LDAP *ld;
};

au_ldap *au_ldap_new(const struct pd_config *cfg)
{
    au_ldap *l = calloc(1, sizeof *l);
    if (l != NULL)
        l->cfg = cfg;
    return l;
}

static void drop(au_ldap *l)
{
    if (l->ld != NULL) {
        ldap_unbind_ext_s(l->ld, NULL, NULL);
        l->ld = NULL;
    }
}

void au_ldap_free(au_ldap *l)
{
    if (l == NULL)
        return;
    drop(l);
    free(l);
}

void au_ldap_values_free(char **vals)
{
    for (size_t i = 0; vals != NULL && vals[i] != NULL; i++)
        free(vals[i]);
    free(vals);
}

static void wipe(char *p, size_t n)
{
    volatile char *v = p;
    while (n-- > 0)
        *v++ = 0;
}

static int read_password(const char *path, char *pw, size_t size, char *err, size_t errsize)
{
    char buf[PW_MAX + 16];
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errsize, "cannot open bind_pw_file %s: %s", path, strerror(errno));
        return -1;
    }
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    int rc = pd_password_from_text(pw, size, buf, len);
    wipe(buf, sizeof buf);
    if (rc != 0)
        snprintf(err, errsize, "bind_pw_file %s: first line empty, too long or not text", path);
    return rc;
}

static enum au_ldap_rc connect_ldap(au_ldap *l, char *err, size_t errsize)
{
    const struct pd_config *cfg = l->cfg;
    LDAP *ld = NULL;
    int version = LDAP_VERSION3, rc;
    struct timeval tv = { cfg->timeout, 0 };
    char pw[PW_MAX];
    struct berval cred = { 0, NULL };

    rc = ldap_initialize(&ld, cfg->uri);
    if (rc != LDAP_SUCCESS || ld == NULL) {
        snprintf(err, errsize, "ldap_initialize(%s): %s", cfg->uri, ldap_err2string(rc));
        return AU_LDAP_FAILED;
    }
    if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS
        || ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS) {
        snprintf(err, errsize, "cannot set LDAP options");
        ldap_unbind_ext_s(ld, NULL, NULL);
        return AU_LDAP_FAILED;
    }
    if (cfg->starttls && (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
        snprintf(err, errsize, "StartTLS: %s", ldap_err2string(rc));
        ldap_unbind_ext_s(ld, NULL, NULL);
        return AU_LDAP_UNAVAILABLE;
    }
    if (cfg->bind_dn[0] != '\0') {
        if (read_password(cfg->bind_pw_file, pw, sizeof pw, err, errsize) != 0) {
            ldap_unbind_ext_s(ld, NULL, NULL);
            return AU_LDAP_FAILED;
        }
        cred.bv_val = pw;
        cred.bv_len = strlen(pw);
    }
    rc = ldap_sasl_bind_s(ld, cfg->bind_dn[0] != '\0' ? cfg->bind_dn : NULL, LDAP_SASL_SIMPLE,
                          &cred, NULL, NULL, NULL);
    if (cred.bv_val != NULL)
        wipe(pw, sizeof pw);
    if (rc != LDAP_SUCCESS) {
        snprintf(err, errsize, "bind: %s (%d)", ldap_err2string(rc), rc);
        ldap_unbind_ext_s(ld, NULL, NULL);
        return (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT
                || rc == LDAP_BUSY || rc == LDAP_UNAVAILABLE) ? AU_LDAP_UNAVAILABLE
                                                              : AU_LDAP_FAILED;
    }
    l->ld = ld;
    return AU_LDAP_OK;
}

/* Expand tmpl, replacing each "%s" by the escaped value ("%%" is "%"). 0 or -1. */
static int expand(char *out, size_t size, const char *tmpl, const char *value)
{
    char esc[3 * 1024 + 1];
    size_t n = 0;
    if (pd_filter_escape(esc, sizeof esc, value, strlen(value)) == (size_t)-1)
        return -1;
    for (const char *p = tmpl; *p != '\0'; p++) {
        const char *piece = p;
        size_t plen = 1;
        if (p[0] == '%' && p[1] == 's') {
            piece = esc;
            plen = strlen(esc);
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            p++;
        }
        if (plen >= size - n)
            return -1;
        memcpy(out + n, piece, plen);
        n += plen;
    }
    out[n] = '\0';
    return 0;
}

enum au_ldap_rc au_ldap_values_tmpl(au_ldap *l, const char *base, const char *tmpl,
                                    const char *value, const char *attr, char ***vals,
                                    size_t *n, char *err, size_t errsize)
{
    char filter[FILTER_MAX];
    char attrbuf[64];
    char *attrs[] = { attrbuf, NULL };

    *vals = NULL;
    *n = 0;
    err[0] = '\0';
    if (expand(filter, sizeof filter, tmpl, value) != 0 || strlen(attr) >= sizeof attrbuf) {
        snprintf(err, errsize, "filter too long");
        return AU_LDAP_FAILED;
    }
    memcpy(attrbuf, attr, strlen(attr) + 1);
    if (base == NULL || base[0] == '\0')
        base = l->cfg->base;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fresh = 0;
        if (l->ld == NULL) {
            enum au_ldap_rc c = connect_ldap(l, err, errsize);
            if (c != AU_LDAP_OK)
                return c == AU_LDAP_FAILED ? AU_LDAP_UNAVAILABLE : c;
            fresh = 1;
        }
        struct timeval tv = { l->cfg->timeout, 0 };
        LDAPMessage *res = NULL;
        int rc = ldap_search_ext_s(l->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, NULL,
                                   NULL, &tv, 2, &res);
        if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT) {
            ldap_msgfree(res);
            drop(l);
            snprintf(err, errsize, "search: %s", ldap_err2string(rc));
            if (!fresh && attempt == 0)
                continue;
            return AU_LDAP_UNAVAILABLE;
        }
        if (rc != LDAP_SUCCESS) {
            ldap_msgfree(res);
            snprintf(err, errsize, "search %s: %s (%d)", filter, ldap_err2string(rc), rc);
            return (rc == LDAP_BUSY || rc == LDAP_UNAVAILABLE || rc == LDAP_TIMELIMIT_EXCEEDED
                    || rc == LDAP_ADMINLIMIT_EXCEEDED) ? AU_LDAP_UNAVAILABLE : AU_LDAP_FAILED;
        }
        int count = ldap_count_entries(l->ld, res);
        if (count == 0) {
            ldap_msgfree(res);
            return AU_LDAP_NO_ENTRY;
        }
        if (count != 1) {
            ldap_msgfree(res);
            snprintf(err, errsize, "%d entries match %s", count, filter);
            return AU_LDAP_FAILED;
        }
        LDAPMessage *e = ldap_first_entry(l->ld, res);
        struct berval **bv = ldap_get_values_len(l->ld, e, attrbuf);
        size_t cnt = 0;
        while (bv != NULL && bv[cnt] != NULL)
            cnt++;
        if (cnt > VALUES_MAX) {
            ldap_value_free_len(bv);
            ldap_msgfree(res);
            snprintf(err, errsize, "more than %d values of %s", VALUES_MAX, attr);
            return AU_LDAP_FAILED;
        }
        char **out = calloc(cnt + 1, sizeof *out);
        for (size_t i = 0; out != NULL && i < cnt; i++) {
            out[i] = malloc(bv[i]->bv_len + 1);
            if (out[i] == NULL) {
                au_ldap_values_free(out);
                out = NULL;
                break;
            }
            memcpy(out[i], bv[i]->bv_val, bv[i]->bv_len);
            out[i][bv[i]->bv_len] = '\0';
        }
        ldap_value_free_len(bv);
        ldap_msgfree(res);
        if (out == NULL) {
            snprintf(err, errsize, "out of memory");
            return AU_LDAP_UNAVAILABLE;
        }
        *vals = out;
        *n = cnt;
        return AU_LDAP_OK;
    }
    return AU_LDAP_UNAVAILABLE;
}

enum au_ldap_rc au_ldap_values(au_ldap *l, const char *base, const char *prefix,
                               const char *key, const char *value, const char *attr,
                               char ***vals, size_t *n, char *err, size_t errsize)
{
    char tmpl[PD_CONF_VALUE_MAX + 128];
    int k = snprintf(tmpl, sizeof tmpl, "(&%s(%s=%%s))", prefix, key);
    if (k < 0 || (size_t)k >= sizeof tmpl || strchr(prefix, '%') != NULL) {
        *vals = NULL;
        *n = 0;
        snprintf(err, errsize, "filter too long");
        return AU_LDAP_FAILED;
    }
    return au_ldap_values_tmpl(l, base, tmpl, value, attr, vals, n, err, errsize);
}
