/*
 * policy.c - send-permission and audit decision (see policy.h).
 */
#include "policy.h"
#include "address.h"

#include <string.h>

/* ---- policy keywords ---- */

struct policy_keyword {
	const char *name;
	size_t len;
	unsigned bit;
};

/* Also the order in which a policy set is listed in reasons. */
static const struct policy_keyword policy_keywords[] = {
	{ "domain", 6, DMG_SEND_DOMAIN },
	{ "members", 7, DMG_SEND_MEMBERS },
	{ "anyone", 6, DMG_SEND_ANYONE },
	{ "whitelist", 9, DMG_SEND_WHITELIST },
};
#define N_POLICY_KEYWORDS ( sizeof( policy_keywords ) / sizeof( policy_keywords[0] ) )

static int
keyword_equal( const char *s, const char *keyword, size_t len )
{
	size_t i;

	for ( i = 0; i < len; i++ ) {
		unsigned char c = (unsigned char)s[i];

		if ( c >= 'A' && c <= 'Z' )
			c = (unsigned char)( c - 'A' + 'a' );
		if ( c != (unsigned char)keyword[i] )
			return 0;
	}
	return 1;
}

int
dmg_send_policy_parse( const char *s, size_t len, unsigned *bit )
{
	size_t i;

	if ( s == NULL )
		return -1;
	for ( i = 0; i < N_POLICY_KEYWORDS; i++ ) {
		if ( len == policy_keywords[i].len
			&& keyword_equal( s, policy_keywords[i].name, len ) ) {
			if ( bit != NULL )
				*bit = policy_keywords[i].bit;
			return 0;
		}
	}
	return -1;
}

const char *
dmg_send_policy_name( unsigned bit )
{
	size_t i;

	for ( i = 0; i < N_POLICY_KEYWORDS; i++ )
		if ( policy_keywords[i].bit == bit )
			return policy_keywords[i].name;
	return NULL;
}

const char *
dmg_decision_name( enum dmg_decision d )
{
	if ( d == DMG_ACCEPT )
		return "accept";
	if ( d == DMG_HOLD )
		return "hold";
	return "reject";	/* DMG_REJECT, and any out-of-range value: fail closed */
}

/* ---- bounded reason text ---- */

/*
 * Appends pieces all-or-nothing, so a cut never splits an escape; once a piece does not fit,
 * nothing more is added and finish() cuts back to the last piece boundary that leaves room
 * for "..." and marks the cut with it.
 */
struct reason_buf {
	char *buf;
	size_t cap;
	size_t len;
	size_t cut_len;	/* last piece boundary with room for "..." and the NUL after it */
	int full;
};

static void
reason_init( struct reason_buf *rb, char *buf, size_t cap )
{
	rb->buf = buf;
	rb->cap = ( buf != NULL ) ? cap : 0;
	rb->len = 0;
	rb->cut_len = 0;
	rb->full = 0;
	if ( rb->cap > 0 )
		rb->buf[0] = '\0';
}

static void
reason_put( struct reason_buf *rb, const char *piece, size_t n )
{
	if ( rb->full || rb->cap == 0 )
		return;
	if ( n >= rb->cap - rb->len ) {
		rb->full = 1;
		return;
	}
	memcpy( rb->buf + rb->len, piece, n );
	rb->len += n;
	rb->buf[rb->len] = '\0';
	if ( rb->len + 4 <= rb->cap )
		rb->cut_len = rb->len;
}

/* Trusted static text only. */
static void
reason_text( struct reason_buf *rb, const char *text )
{
	reason_put( rb, text, strlen( text ) );
}

/* Untrusted octets: printable ASCII as is, backslash doubled, anything else as \xHH. */
static void
reason_escaped( struct reason_buf *rb, const char *s, size_t n )
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for ( i = 0; i < n && !rb->full; i++ ) {
		unsigned char c = (unsigned char)s[i];
		char esc[4];

		if ( c == '\\' ) {
			reason_put( rb, "\\\\", 2 );
		} else if ( c >= 0x20 && c < 0x7f ) {
			esc[0] = (char)c;
			reason_put( rb, esc, 1 );
		} else {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 0x0f];
			reason_put( rb, esc, 4 );
		}
	}
}

static void
reason_finish( struct reason_buf *rb )
{
	if ( !rb->full || rb->cap < 4 )
		return;	/* complete, or too small for a marker: what is there is terminated */
	memcpy( rb->buf + rb->cut_len, "...", 4 );
	rb->len = rb->cut_len + 3;
}

/* ---- the decision ---- */

/* What the decision is about, computed once and shared by the steps below. */
struct sender_view {
	enum dmg_addr_status status;	/* DMG_ADDR_OK or DMG_ADDR_NULL past step 1 */
	struct dmg_addr addr;		/* valid when status == DMG_ADDR_OK */
	char canonical[DMG_ADDR_MAX_LEN + 1];
	size_t canonical_len;
	int member_error;		/* the membership callback reported an error */
};

static unsigned
effective_policies( unsigned policies )
{
	policies &= DMG_SEND_ALL;
	return policies != 0 ? policies : DMG_SEND_DEFAULT;
}

static int
allowed_by_domain( const struct dmg_policy_input *in, const struct sender_view *sv )
{
	struct dmg_addr group;

	if ( dmg_addr_parse( in->group_mail.s, in->group_mail.len, &group, NULL ) != DMG_ADDR_OK )
		return 0;
	return dmg_addr_domain_equal( sv->addr.domain, sv->addr.domain_len,
		group.domain, group.domain_len );
}

/* "@domain" matches that domain exactly; anything else must be the same address. */
static int
whitelist_value_matches( const struct dmg_str *value, const struct sender_view *sv )
{
	if ( value->s == NULL || value->len == 0 )
		return 0;
	if ( value->s[0] == '@' ) {
		if ( dmg_domain_check( value->s + 1, value->len - 1, NULL ) != 0 )
			return 0;
		return dmg_addr_domain_equal( sv->addr.domain, sv->addr.domain_len,
			value->s + 1, value->len - 1 );
	}
	return dmg_addr_equal( sv->canonical, sv->canonical_len, value->s, value->len );
}

static int
allowed_by_whitelist( const struct dmg_policy_input *in, const struct sender_view *sv )
{
	size_t i;

	if ( in->whitelist == NULL )
		return 0;
	for ( i = 0; i < in->n_whitelist; i++ )
		if ( whitelist_value_matches( &in->whitelist[i], sv ) )
			return 1;
	return 0;
}

static int
allowed_by_members( const struct dmg_policy_input *in, struct sender_view *sv )
{
	int r;

	if ( in->is_member == NULL )
		return 0;
	r = in->is_member( in->member_ctx, sv->canonical, sv->canonical_len );
	if ( r < 0 )
		sv->member_error = 1;
	return r == 1;
}

/*
 * The policy bit that allows the sender, or 0.  Cheapest first, so that the (possibly
 * expensive) membership computation runs only when it is the last policy still open.
 */
static unsigned
deciding_policy( const struct dmg_policy_input *in, unsigned policies, struct sender_view *sv )
{
	if ( policies & DMG_SEND_ANYONE )
		return DMG_SEND_ANYONE;
	if ( sv->status != DMG_ADDR_OK )	/* the null sender: only anyone allows it */
		return 0;
	if ( ( policies & DMG_SEND_DOMAIN ) && allowed_by_domain( in, sv ) )
		return DMG_SEND_DOMAIN;
	if ( ( policies & DMG_SEND_WHITELIST ) && allowed_by_whitelist( in, sv ) )
		return DMG_SEND_WHITELIST;
	if ( ( policies & DMG_SEND_MEMBERS ) && allowed_by_members( in, sv ) )
		return DMG_SEND_MEMBERS;
	return 0;
}

static int
sender_is_auditor( const struct dmg_policy_input *in, const struct sender_view *sv )
{
	size_t i;

	if ( sv->status != DMG_ADDR_OK || in->auditor_mail == NULL )
		return 0;
	for ( i = 0; i < in->n_auditor_mail; i++ )
		if ( in->auditor_mail[i].s != NULL
			&& dmg_addr_equal( sv->canonical, sv->canonical_len,
				in->auditor_mail[i].s, in->auditor_mail[i].len ) )
			return 1;
	return 0;
}

static void
put_sender( struct reason_buf *rb, const struct sender_view *sv )
{
	if ( sv->status == DMG_ADDR_OK )
		reason_escaped( rb, sv->canonical, sv->canonical_len );
	else
		reason_text( rb, "<>" );
}

static void
put_group( struct reason_buf *rb, const struct dmg_policy_input *in )
{
	if ( in->group_mail.s == NULL || in->group_mail.len == 0 )
		reason_text( rb, "the group (no mail address)" );
	else
		reason_escaped( rb, in->group_mail.s, in->group_mail.len );
}

/* "domain, members" in keyword order. */
static void
put_policy_set( struct reason_buf *rb, unsigned policies )
{
	const char *sep = "";
	size_t i;

	for ( i = 0; i < N_POLICY_KEYWORDS; i++ ) {
		if ( policies & policy_keywords[i].bit ) {
			reason_text( rb, sep );
			reason_text( rb, policy_keywords[i].name );
			sep = ", ";
		}
	}
}

static enum dmg_decision
reject_not_allowed( struct reason_buf *rb, const struct dmg_policy_input *in, unsigned policies,
	const struct sender_view *sv )
{
	if ( sv->member_error ) {
		reason_text( rb, "could not determine whether sender " );
		put_sender( rb, sv );
		reason_text( rb, " is a member of " );
		put_group( rb, in );
	} else {
		reason_text( rb, sv->status == DMG_ADDR_OK ? "sender " : "the null sender " );
		put_sender( rb, sv );
		reason_text( rb, " is not allowed to send to " );
		put_group( rb, in );
	}
	reason_text( rb, " (policy: " );
	put_policy_set( rb, policies );
	reason_text( rb, ")" );
	return DMG_REJECT;
}

static enum dmg_decision
hold_for_audit( struct reason_buf *rb, const struct dmg_policy_input *in, unsigned decided_by,
	const struct sender_view *sv )
{
	reason_text( rb, "mail to " );
	put_group( rb, in );
	reason_text( rb, " is held for audit: sender " );
	put_sender( rb, sv );
	reason_text( rb, " (allowed by policy " );
	reason_text( rb, dmg_send_policy_name( decided_by ) );
	reason_text( rb, ") is not an auditor" );
	return DMG_HOLD;
}

static enum dmg_decision
accept( struct reason_buf *rb, const struct dmg_policy_input *in, unsigned decided_by,
	const struct sender_view *sv )
{
	reason_text( rb, "sender allowed by policy " );
	reason_text( rb, dmg_send_policy_name( decided_by ) );
	reason_text( rb, ": " );
	put_sender( rb, sv );
	reason_text( rb, " may send to " );
	put_group( rb, in );
	if ( in->audit_required )
		reason_text( rb, " (sender is an auditor, not held for audit)" );
	return DMG_ACCEPT;
}

static enum dmg_decision
decide( struct reason_buf *rb, const struct dmg_policy_input *in, const char *sender,
	size_t sender_len )
{
	struct sender_view sv;
	const char *why = "unknown error";
	unsigned policies, decided_by;

	if ( in == NULL ) {
		reason_text( rb, "internal error: no policy input" );
		return DMG_REJECT;
	}
	memset( &sv, 0, sizeof( sv ) );
	sv.status = dmg_addr_parse( sender, sender_len, &sv.addr, &why );
	if ( sv.status == DMG_ADDR_MALFORMED ) {
		/* The sender itself is left out: its bytes are what is wrong with it. */
		reason_text( rb, "malformed sender address: " );
		reason_text( rb, why );
		return DMG_REJECT;
	}
	if ( sv.status == DMG_ADDR_OK )
		sv.canonical_len = dmg_addr_canonical( &sv.addr, sv.canonical,
			sizeof( sv.canonical ) );

	policies = effective_policies( in->policies );
	decided_by = deciding_policy( in, policies, &sv );
	if ( decided_by == 0 )
		return reject_not_allowed( rb, in, policies, &sv );
	if ( in->audit_required && !sender_is_auditor( in, &sv ) )
		return hold_for_audit( rb, in, decided_by, &sv );
	return accept( rb, in, decided_by, &sv );
}

enum dmg_decision
dmg_policy_decide( const struct dmg_policy_input *in, const char *sender, size_t sender_len,
	char *reason, size_t reasonsz )
{
	struct reason_buf rb;
	enum dmg_decision d;

	reason_init( &rb, reason, reasonsz );
	d = decide( &rb, in, sender, sender_len );
	reason_finish( &rb );
	return d;
}
