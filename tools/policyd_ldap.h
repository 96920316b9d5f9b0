/*
 * policyd_ldap.h - the directory side of dmg-policyd: one persistent LDAP connection that
 * asks slapo-dynmailgroup for the decision on (sender, recipient), finds the account of an
 * authenticated client and tells whether a domain is a group's. dmg-audit reads the
 * directory through it too (pd_ldap_values), so both tools search the same places.
 *
 * The decision (man page SEND DECISIONS):
 *   base    the configured base, else each of the directory's naming contexts; scope sub
 *   filter  (&(objectClass=dynamicMailGroup)(mail=RECIPIENT)(dmgSender=SENDER)EXTRA)
 *   attrs   dmgDecision dmgDecisionReason dmgAuditorMail dmgSendPolicy dmgAuditRequired
 *           mail dmgMemberCount
 * No entry: the recipient is not a dynamic mail group. dmgMemberCount makes the overlay
 * answer adminLimitExceeded for a group over dynmailgroup-max-members (PD_RES_TOO_LARGE).
 *
 * The naming contexts are read from the root DSE at every connect. With a configured base,
 * the first connect also looks for a group outside it (sizelimit 1) and logs a warning
 * naming it: mail to such a group is not checked.
 *
 * Connection: opened at the first lookup (LDAPv3, no referral chasing, network and
 * operation timeout = the configured timeout, optional StartTLS, simple bind as bind_dn
 * with the first line of bind_pw_file, read at every (re)connect, or anonymous). A
 * connection that turns out to be dead (LDAP_SERVER_DOWN, LDAP_CONNECT_ERROR) is opened
 * again and the operation retried once; a timeout drops the connection for the next one.
 */
#ifndef DMG_POLICYD_LDAP_H
#define DMG_POLICYD_LDAP_H

#include "policyd_proto.h"

typedef struct pd_ldap pd_ldap;

/* The message callback: level 0 error, 1 notice, 2 debug, 3 warning. */
typedef void (*pd_log_fn)(int level, const char *fmt, ...);

/* cfg must outlive the handle. Never NULL unless out of memory. No connection yet. */
pd_ldap *pd_ldap_new(const struct pd_config *cfg, pd_log_fn log);
/* Unbind and free; NULL is accepted. */
void pd_ldap_free(pd_ldap *l);

/* The decision for sender (may be "", the null sender) and recipient; out is always filled
 * (result PD_RES_UNAVAILABLE / PD_RES_FAILED with out->error on errors). */
void pd_ldap_lookup(pd_ldap *l, const char *recipient, const char *sender,
                    struct pd_lookup *out);

/* Who an authenticated client is: the account found with sasl_login_filter under the
 * naming contexts, and whether sender (any case) is one of its mail values. Returns
 * PD_ID_AS_CLAIMED when it is; on a directory error out->result becomes PD_RES_UNAVAILABLE
 * or PD_RES_FAILED (with out->error) and PD_ID_AS_CLAIMED is returned. */
enum pd_identity pd_ldap_account(pd_ldap *l, const char *login, const char *sender,
                                 struct pd_lookup *out);

/* Is domain (see pd_address_domain) the domain of a group's mail anywhere in the directory?
 * Answers are kept for a while (PD_DOMAIN_TTL seconds, until the next reconnect). On a
 * directory error out->result becomes PD_RES_UNAVAILABLE or PD_RES_FAILED and 0 is
 * returned. */
#define PD_DOMAIN_TTL 300
int pd_ldap_group_domain(pd_ldap *l, const char *domain, struct pd_lookup *out);

/* A generic read for the other tools (dmg-audit): every value of attr of the one entry
 * matching filter (complete, its values escaped by the caller: pd_filter_escape), searched
 * where the decision is (where = PD_WHERE_GROUPS: the configured base, else each naming
 * context) or where accounts are (PD_WHERE_ACCOUNTS: each naming context), on the same
 * connection, with the same retry and timeout as the decision. At most PD_VALUES_MAX
 * values.
 *   1   found: *vals is a NULL-terminated array of *n NUL-terminated copies (a value with a
 *       NUL byte is cut there), to free with pd_ldap_values_free
 *   0   no entry matches (*vals NULL, *n 0)
 *   -1  error: out->result is PD_RES_UNAVAILABLE (try again later) or PD_RES_FAILED (more
 *       than one entry, too many values, a filter the server refuses, out of memory),
 *       out->error says what; *vals NULL, *n 0 */
#define PD_VALUES_MAX 100000
enum pd_where { PD_WHERE_GROUPS = 1, PD_WHERE_ACCOUNTS = 0 };
int pd_ldap_values(pd_ldap *l, enum pd_where where, const char *filter, const char *attr,
                   char ***vals, size_t *n, struct pd_lookup *out);
void pd_ldap_values_free(char **vals);

#endif /* DMG_POLICYD_LDAP_H */
