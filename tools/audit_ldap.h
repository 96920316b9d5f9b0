/*
 * audit_ldap.h - the directory reads of dmg-audit(8) beyond the send decision (which comes
 * from dmg-policyd's own code, policyd_ldap.c): the member addresses of a group at release
 * time, its auditors' addresses at decision time, and an account's addresses (identity).
 *
 * Same connection settings as dmg-policyd (struct pd_config: uri, bind_dn, bind_pw_file,
 * timeout, starttls); one connection, opened at the first read and retried once when it
 * turns out to be dead.
 */
#ifndef DMG_AUDIT_LDAP_H
#define DMG_AUDIT_LDAP_H

#include <stddef.h>

#include "policyd_proto.h"

typedef struct au_ldap au_ldap;

enum au_ldap_rc {
    AU_LDAP_OK = 0,
    AU_LDAP_NO_ENTRY,      /* nothing matched */
    AU_LDAP_UNAVAILABLE,   /* try again later */
    AU_LDAP_FAILED         /* the directory said no, or more than one entry */
};

/* NULL when out of memory. cfg must outlive the handle. */
au_ldap *au_ldap_new(const struct pd_config *cfg);
void au_ldap_free(au_ldap *l);

/* Every value of attr over the one entry under base (NULL: cfg->base) matching
 * "(&FILTER_PREFIX(KEY=value))": prefix e.g. "(objectClass=dynamicMailGroup)", key e.g.
 * "mail", value escaped here. *vals is a NULL-terminated array of NUL-terminated copies
 * (free with au_ldap_values_free), *n their number. err describes failures. */
enum au_ldap_rc au_ldap_values(au_ldap *l, const char *base, const char *prefix,
                               const char *key, const char *value, const char *attr,
                               char ***vals, size_t *n, char *err, size_t errsize);

/* Same, with a complete filter template in which every "%s" stands for the escaped value
 * (the account filter, default "(uid=%s)"). */
enum au_ldap_rc au_ldap_values_tmpl(au_ldap *l, const char *base, const char *tmpl,
                                    const char *value, const char *attr, char ***vals,
                                    size_t *n, char *err, size_t errsize);

void au_ldap_values_free(char **vals);

#endif /* DMG_AUDIT_LDAP_H */
