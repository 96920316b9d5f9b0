/* decision.c -- dmgDecision, dmgDecisionReason and dmgAuditorMail (man page SEND DECISIONS)
 *
 * Gathers a group's policy attributes into the pure-C policy input (policy.c decides) and
 * answers its membership question with the reverse test: the entries whose mail is the
 * sender are tested against the group's rule, the group itself is never expanded.
 */
#include "dmg.h"
#include "policy.h"

#define DMG_REASON_MAX 512

typedef struct dmg_member_ctx {
	Operation *op;
	slap_overinst *on;
	Entry *group;
	int rc;		/* a lookup failed: the decision is not given */
} dmg_member_ctx;

/* The members policy asks what (dmgMemberMail=S) on the group would: without search access to
 * the group's member and dmgMemberMail the answer would reveal a membership the requester
 * may not see, so membership counts as undetermined (reject, saying so) for member and
 * non-member alike. */
static int
dmg_may_test_membership( Operation *op, Entry *group )
{
	return access_allowed( op, group, dmg_ad.member, NULL, ACL_SEARCH, NULL )
		&& access_allowed( op, group, dmg_ad.member_mail, NULL, ACL_SEARCH, NULL );
}

/* policy.c's membership test: 1, 0, or -1 when it cannot be answered */
static int
dmg_sender_is_member( void *vctx, const char *addr, size_t len )
{
	dmg_member_ctx *ctx = vctx;
	Operation *op = ctx->op;
	struct berval bv;
	BerVarray ndns = NULL;
	dmg_rule r;
	int i, yes = 0;

	/* with group visibility, as for the member list: no read access to member, no answer */
	if ( !dmg_may_test_membership( op, ctx->group )
		|| !dmg_membership_shown( op, ctx->on, ctx->group ) )
		return -1;
	bv.bv_val = (char *)addr;
	bv.bv_len = len;
	ctx->rc = dmg_entries_with_mail( op, ctx->on, &bv, &ndns );
	if ( ctx->rc != LDAP_SUCCESS )
		return -1;
	if ( ndns == NULL )
		return 0;
	/* a rule whose entries cannot be found answers nothing (the decision is an error) */
	if ( ( ctx->rc = dmg_rule_from_entry( op, ctx->on, ctx->group, &r ) ) != LDAP_SUCCESS ) {
		dmg_rule_free( op, &r );
		ber_bvarray_free_x( ndns, op->o_tmpmemctx );
		return -1;
	}
	for ( i = 0; !yes && ctx->rc == LDAP_SUCCESS && !BER_BVISNULL( &ndns[i] ); i++ ) {
		Entry *u = NULL;

		if ( ( u = dmg_entry_get( op, ctx->on, &ndns[i] ) ) == NULL )
			continue;
		ctx->rc = dmg_rule_tests_member( op, ctx->on, ctx->group, &r, u, &yes );
		dmg_entry_release( op, ctx->on, u );
	}
	dmg_rule_free( op, &r );
	ber_bvarray_free_x( ndns, op->o_tmpmemctx );
	return ctx->rc == LDAP_SUCCESS ? yes : -1;
}

/* Every mail value of every auditor that op may read, named by a dmgAuditor value op may
 * read (an auditor the requester may not know of is not listed); values in op->o_tmpmemctx.
 * The auditors are the entries named now (their UUIDs, references.c); when they cannot be
 * found, none (the failure is logged): the mail is held for review. */
static BerVarray
dmg_auditor_mails( Operation *op, slap_overinst *on, Entry *group )
{
	dmg_refs refs;
	Attribute *auditors = &refs.a;
	AccessControlState group_state = ACL_STATE_INIT;
	BerVarray mails = NULL;
	unsigned i, j;

	if ( dmg_refs_current( op, on, group, dmg_ad.auditor, &refs ) != LDAP_SUCCESS )
		return NULL;
	for ( i = 0; i < auditors->a_numvals; i++ ) {
		AccessControlState acl_state = ACL_STATE_INIT;
		Entry *u = NULL;
		Attribute *m;

		if ( !access_allowed( op, group, dmg_ad.auditor, &auditors->a_nvals[i], ACL_READ,
				&group_state ) )
			continue;
		if ( ( u = dmg_entry_get( op, on, &auditors->a_nvals[i] ) ) == NULL )
			continue;
		m = attr_find( u->e_attrs, dmg_ad.mail );
		for ( j = 0; m && j < m->a_numvals; j++ ) {
			struct berval copy;

			if ( !access_allowed( op, u, dmg_ad.mail, &m->a_nvals[j], ACL_READ, &acl_state ) )
				continue;
			ber_dupbv_x( &copy, &m->a_vals[j], op->o_tmpmemctx );
			ber_bvarray_add_x( &mails, &copy, op->o_tmpmemctx );
		}
		dmg_entry_release( op, on, u );
	}
	dmg_refs_free( op, &refs );
	return mails;
}

/* Points a dmg_str array at the values of an attribute (or of a BerVarray). */
static struct dmg_str *
dmg_strs( Operation *op, BerVarray vals, size_t *n )
{
	struct dmg_str *s;
	size_t i;

	for ( *n = 0; vals && !BER_BVISNULL( &vals[*n] ); (*n)++ )
		;
	s = op->o_tmpcalloc( *n + 1, sizeof( struct dmg_str ), op->o_tmpmemctx );
	for ( i = 0; i < *n; i++ ) {
		s[i].s = vals[i].bv_val;
		s[i].len = vals[i].bv_len;
	}
	return s;
}

static unsigned
dmg_policy_bits( Entry *group )
{
	Attribute *a = attr_find( group->e_attrs, dmg_ad.send_policy );
	unsigned i, bits = 0, bit;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dmg_send_policy_parse( a->a_vals[i].bv_val, a->a_vals[i].bv_len, &bit ) == 0 )
			bits |= bit;
	}
	return bits;
}

/* Each stored input of the decision is read as the requester may read it: a decision built on
 * a value the ACLs hide would answer what the value is (whether an address is whitelisted,
 * who audits the group).  An input counts when it is present (every value readable) and when
 * it is absent (its absence, which means the default, readable). */
static int
dmg_may_read_input( Operation *op, Entry *group, AttributeDescription *ad )
{
	AccessControlState acl_state = ACL_STATE_INIT;
	Attribute *a = attr_find( group->e_attrs, ad );
	unsigned i;

	if ( a == NULL )
		return access_allowed( op, group, ad, NULL, ACL_READ, NULL );
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( !access_allowed( op, group, ad, &a->a_nvals[i], ACL_READ, &acl_state ) )
			return 0;
	}
	return 1;
}

/* The first input the decision needs that op may not read, or NULL.  Whether the whitelist
 * and the auditors are needed follows from inputs already found readable (the policies, the
 * audit flag), so that asking says nothing the requester could not read. */
static AttributeDescription *
dmg_unreadable_input( Operation *op, Entry *group, unsigned policies, int audit_required )
{
	if ( !dmg_may_read_input( op, group, dmg_ad.send_policy ) )
		return dmg_ad.send_policy;
	if ( !dmg_may_read_input( op, group, dmg_ad.audit_required ) )
		return dmg_ad.audit_required;
	if ( ( policies & DMG_SEND_WHITELIST ) && !( policies & DMG_SEND_ANYONE )
		&& !dmg_may_read_input( op, group, dmg_ad.whitelist ) )
		return dmg_ad.whitelist;
	if ( audit_required && !dmg_may_read_input( op, group, dmg_ad.auditor ) )
		return dmg_ad.auditor;
	return NULL;
}

static void
dmg_put_decision( Operation *op, Entry *target, enum dmg_decision d, const char *reason )
{
	struct berval bv;

	ber_str2bv( dmg_decision_name( d ), 0, 0, &bv );
	attr_merge_normalize_one( target, dmg_ad.decision, &bv, op->o_tmpmemctx );
	ber_str2bv( reason, 0, 0, &bv );
	attr_merge_normalize_one( target, dmg_ad.decision_reason, &bv, op->o_tmpmemctx );
}

/* Returns LDAP_SUCCESS, or the failure of a lookup the decision needed (nothing added) */
static int
dmg_add_decision( Operation *op, slap_overinst *on, Entry *group, Entry *target,
	struct berval *sender, BerVarray auditor_mails )
{
	Attribute *wl = attr_find( group->e_attrs, dmg_ad.whitelist );
	Attribute *mail = attr_find( group->e_attrs, dmg_ad.mail );
	struct dmg_policy_input in;
	dmg_member_ctx mctx = { op, on, group, LDAP_SUCCESS };
	struct dmg_str *wls, *auds;
	char reason[DMG_REASON_MAX];
	enum dmg_decision d;
	AttributeDescription *hidden;

	memset( &in, 0, sizeof( in ) );
	in.policies = dmg_policy_bits( group );
	in.audit_required = dmg_entry_bool( group, dmg_ad.audit_required, 0 );
	hidden = dmg_unreadable_input( op, group, in.policies, in.audit_required );
	if ( hidden ) {
		/* undetermined, as for a membership the requester may not test: reject */
		snprintf( reason, sizeof( reason ), "could not decide: the requester may not read "
			"%s of the group", hidden->ad_cname.bv_val );
		dmg_put_decision( op, target, DMG_REJECT, reason );
		return LDAP_SUCCESS;
	}
	wls = dmg_strs( op, wl ? wl->a_vals : NULL, &in.n_whitelist );
	in.whitelist = wls;
	auds = dmg_strs( op, auditor_mails, &in.n_auditor_mail );
	in.auditor_mail = auds;
	if ( mail && mail->a_numvals ) {
		in.group_mail.s = mail->a_vals[0].bv_val;
		in.group_mail.len = mail->a_vals[0].bv_len;
	}
	in.is_member = dmg_sender_is_member;
	in.member_ctx = &mctx;

	d = dmg_policy_decide( &in, sender->bv_val, sender->bv_len, reason, sizeof( reason ) );
	op->o_tmpfree( wls, op->o_tmpmemctx );
	op->o_tmpfree( auds, op->o_tmpmemctx );
	/* a directory failure is an error, so that the MTA defers, not a reject */
	if ( mctx.rc != LDAP_SUCCESS )
		return mctx.rc;
	dmg_put_decision( op, target, d, reason );
	return LDAP_SUCCESS;
}

int
dmg_decision_attrs( Operation *op, slap_overinst *on, Entry *group, Entry *e,
	struct berval *sender, int want_decision, int want_auditor_mail )
{
	BerVarray mails = dmg_auditor_mails( op, on, group );
	int rc = LDAP_SUCCESS;

	if ( want_decision && sender )
		rc = dmg_add_decision( op, on, group, e, sender, mails );
	if ( rc == LDAP_SUCCESS && want_auditor_mail && mails )
		attr_merge_normalize( e, dmg_ad.auditor_mail, mails, op->o_tmpmemctx );
	ber_bvarray_free_x( mails, op->o_tmpmemctx );
	return rc;
}
