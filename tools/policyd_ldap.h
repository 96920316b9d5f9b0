/*
 * policyd_ldap.h - the directory side of dmg-policyd: one persistent LDAP connection that
 * asks slapo-dynmailgroup for the decision on (sender, recipient).
 *
 * The search (man page SEND DECISIONS):
 *   base    the configured base, scope subtree
 *   filter  (&(objectClass=dynamicMailGroup)(mail=RECIPIENT)(dmgSender=SENDER)EXTRA)
 *   attrs   dmgDecision dmgDecisionReason dmgAuditorMail
 * No entry: the recipient is not a dynamic mail group.
 *
 * Connection: opened at the first lookup (LDAPv3, no referral chasing, network and
 * operation timeout = the configured timeout, optional StartTLS, simple bind as bind_dn
 * with the first line of bind_pw_file, read at every (re)connect, or anonymous). A
 * connection that turns out to be dead (LDAP_SERVER_DOWN, LDAP_CONNECT_ERROR) is opened
 * again and the search retried once; a timeout drops the connection for the next lookup.
 */
#ifndef DMG_POLICYD_LDAP_H
#define DMG_POLICYD_LDAP_H

#include "policyd_proto.h"

typedef struct pd_ldap pd_ldap;

/* The message callback: level 0 error, 1 notice, 2 debug. */
typedef void (*pd_log_fn)(int level, const char *fmt, ...);

/* cfg must outlive the handle. Never NULL unless out of memory. No connection yet. */
pd_ldap *pd_ldap_new(const struct pd_config *cfg, pd_log_fn log);
/* Unbind and free; NULL is accepted. */
void pd_ldap_free(pd_ldap *l);

/* The decision for sender (may be "", the null sender) and recipient; out is always filled
 * (result PD_RES_UNAVAILABLE / PD_RES_FAILED with out->error on errors). */
void pd_ldap_lookup(pd_ldap *l, const char *recipient, const char *sender,
                    struct pd_lookup *out);

#endif /* DMG_POLICYD_LDAP_H */
