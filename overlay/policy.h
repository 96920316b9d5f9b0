/*
 * policy.h - the send-permission and audit decision (man page SEND DECISIONS).
 *
 * Pure C99 + libc; no slapd or OpenLDAP types.  The overlay gathers the group's attributes
 * into a struct dmg_policy_input, supplies a membership callback, and gets back a decision
 * (the value of dmgDecision) and a one-line reason (the value of dmgDecisionReason).
 *
 * Decision, for sender S and group G:
 *   1. S malformed (see address.h)            -> reject "malformed sender address: <why>"
 *                                                 under every policy, anyone included.
 *   2. S allowed by none of G's policies        -> reject "sender S is not allowed to send
 *                                                 to G (policy: domain, members)".
 *      The null sender ("" or "<>") is allowed only by anyone.
 *   3. allowed, audit required, S not an auditor -> hold "mail to G is held for audit: ..."
 *   4. otherwise                                 -> accept "sender allowed by policy P: ..."
 *
 * Policies are tried cheapest first (anyone, domain, whitelist, members) and the first that
 * allows S is the one named in the reason; the membership callback runs only when members is
 * in the set and nothing cheaper has allowed S, and at most once.
 *
 * Reasons never contain control characters or raw non-ASCII input: addresses are shown in
 * canonical form with every octet outside printable ASCII written as \xHH and a backslash
 * as "\\".  A reason that does not fit reasonsz is cut and ends in "...".
 */
#ifndef DMG_POLICY_H
#define DMG_POLICY_H

#include <stddef.h>

enum dmg_send_policy {
	DMG_SEND_DOMAIN = 1,
	DMG_SEND_MEMBERS = 2,
	DMG_SEND_ANYONE = 4,
	DMG_SEND_WHITELIST = 8
};
#define DMG_SEND_ALL ( DMG_SEND_DOMAIN | DMG_SEND_MEMBERS | DMG_SEND_ANYONE | DMG_SEND_WHITELIST )
#define DMG_SEND_DEFAULT DMG_SEND_DOMAIN

/*
 * Parse one dmgSendPolicy value: "domain", "members", "anyone" or "whitelist", ASCII case
 * ignored, no surrounding spaces.  Returns 0 and sets *bit (if bit != NULL), or -1.
 */
int dmg_send_policy_parse( const char *s, size_t len, unsigned *bit );

/* Keyword of one policy bit ("domain", ...), or NULL if bit is not exactly one known policy. */
const char *dmg_send_policy_name( unsigned bit );

enum dmg_decision { DMG_ACCEPT = 0, DMG_HOLD = 1, DMG_REJECT = 2 };

/* "accept", "hold" or "reject"; any other value gives "reject" (fail closed). */
const char *dmg_decision_name( enum dmg_decision d );

/* A counted string; s may be NULL only when len is 0. */
struct dmg_str {
	const char *s;
	size_t len;
};

/*
 * Membership test.  addr is the sender in canonical form "local@domain" (no angle brackets,
 * no trailing dot, case as sent), NUL-terminated at addr[len].  Return 1 if it is a mail value
 * of a current member, 0 if not, negative if membership could not be determined (the decision
 * is then reject, with a reason saying so: failing closed never lets a sender through).
 */
typedef int (*dmg_member_test_fn)( void *ctx, const char *addr, size_t len );

struct dmg_policy_input {
	unsigned policies;		/* OR of enum dmg_send_policy; unknown bits are ignored;
					   no known bit means the default, DMG_SEND_DOMAIN */
	const struct dmg_str *whitelist;	/* dmgWhitelist values: "a@b" or "@domain" */
	size_t n_whitelist;
	int audit_required;		/* dmgAuditRequired is TRUE */
	const struct dmg_str *auditor_mail;	/* mail values of the auditors */
	size_t n_auditor_mail;
	struct dmg_str group_mail;	/* the group's own mail address */
	dmg_member_test_fn is_member;	/* may be NULL: then members allows nobody */
	void *member_ctx;
};

/*
 * Decide for the envelope sender (sender_len octets, no NUL needed; NULL with 0 is the null
 * sender).  Writes the one-line reason, NUL-terminated, into reason[0..reasonsz-1] when
 * reason != NULL and reasonsz > 0.  in == NULL gives reject.
 */
enum dmg_decision dmg_policy_decide( const struct dmg_policy_input *in, const char *sender,
	size_t sender_len, char *reason, size_t reasonsz );

#endif /* DMG_POLICY_H */
