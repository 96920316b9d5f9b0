/* explain.c -- dmgMembershipExplanation: why an entry is or is not a member (man page
 * EXPLANATIONS)
 *
 * The reasons are the reverse test's (membership.c, dmg_rule_why), which runs its tests in the
 * order an explanation reports them.  Here: who may have an explanation, what it may say to a
 * requester who sees members through the group's ACL, and its value.
 */
#include "dmg.h"

/* An explanation tells what member says and which part of the rule says it: it is given to
 * requesters who may read both */
static int
dmg_may_explain( Operation *op, Entry *group )
{
	AttributeDescription **ads[] = { &dmg_ad.member, &dmg_ad.department, &dmg_ad.include_sub,
		&dmg_ad.condition, &dmg_ad.include_member, &dmg_ad.exclude_member, NULL };
	int i;

	for ( i = 0; ads[i]; i++ ) {
		if ( !access_allowed( op, group, *ads[i], NULL, ACL_READ, NULL ) )
			return 0;
	}
	return 1;
}

/* An explanation computed with group visibility's rootdn rights (mop != op) says no more
 * than the member list does: a non-member op's requester may not learn of is no such
 * entry, and the sub-department a non-member lies in is named only when the requester may
 * learn of it. */
static void
dmg_why_hide( Operation *op, slap_overinst *on, Entry *e, Operation *mop, dmg_why *why )
{
	struct berval ndn = BER_BVNULL;
	Entry *sub = NULL;
	int disclosed = 0;

	if ( mop == op || why->member )
		return;
	if ( !dmg_entry_disclosed( op, on, e ) ) {
		dmg_why_free( op, why );
		why->reason = DMG_WHY_NO_SUCH_ENTRY;
		return;
	}
	if ( why->reason != DMG_WHY_SUB_DEPARTMENT || BER_BVISNULL( &why->detail ) )
		return;
	if ( dnNormalize( 0, NULL, NULL, &why->detail, &ndn, op->o_tmpmemctx ) == LDAP_SUCCESS ) {
		if ( ( sub = dmg_entry_get( op, on, &ndn ) ) != NULL ) {
			disclosed = dmg_entry_disclosed( op, on, sub );
			dmg_entry_release( op, on, sub );
		}
		op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
	}
	if ( !disclosed )
		dmg_why_free( op, why );
}

static const char *const dmg_why_words[] = {
	"no-such-entry", "excluded", "excluded-via", "member-filter", "included", "included-via",
	"department", "outside-departments", "sub-department", "condition"
};

/* Why e is or is not a member of group (computed by mop, for op's requester).  A rule whose
 * own entries could not be found (logged where the lookup failed) gives no explanation: it
 * would say what the failed lookup made of it, not what the group says. */
static int
dmg_why_member( Operation *op, Operation *mop, slap_overinst *on, Entry *group, Entry *e,
	dmg_why *why )
{
	dmg_rule r;
	int rc = dmg_rule_from_entry( op, on, group, &r );

	if ( rc == LDAP_SUCCESS ) {
		dmg_rule_why( mop, on, &r, e, why );
		if ( why->unknown )
			rc = LDAP_OTHER;
		else
			dmg_why_hide( op, on, e, mop, why );
	}
	dmg_rule_free( op, &r );
	return rc;
}

int
dmg_explanation_to_entry( Operation *op, slap_overinst *on, Entry *group, struct berval *ndn,
	Entry *target )
{
	dmg_why why = { 0, DMG_WHY_NO_SUCH_ENTRY, BER_BVNULL, 0 };
	struct berval bv;
	dmg_as_group ag;
	Operation *mop;
	Entry *e;
	int rc = LDAP_SUCCESS;

	/* may_explain includes read access to member: with group visibility, mop is set */
	if ( !dmg_may_explain( op, group )
		|| ( mop = dmg_membership_begin( op, on, group, &ag ) ) == NULL )
		return LDAP_SUCCESS;
	e = dmg_entry_get( op, on, ndn );
	if ( e ) {
		rc = dmg_why_member( op, mop, on, group, e, &why );
		dmg_entry_release( op, on, e );
	}
	dmg_membership_end( &ag );
	if ( rc != LDAP_SUCCESS ) {
		dmg_why_free( op, &why );
		return rc;
	}
	bv.bv_len = sizeof( "not-member " ) + strlen( dmg_why_words[why.reason] ) + 1
		+ why.detail.bv_len;
	bv.bv_val = op->o_tmpalloc( bv.bv_len + 1, op->o_tmpmemctx );
	bv.bv_len = snprintf( bv.bv_val, bv.bv_len + 1, "%s %s%s%s",
		why.member ? "member" : "not-member", dmg_why_words[why.reason],
		why.detail.bv_val ? " " : "", why.detail.bv_val ? why.detail.bv_val : "" );
	attr_merge_one( target, dmg_ad.explanation, &bv, &bv );
	op->o_tmpfree( bv.bv_val, op->o_tmpmemctx );
	dmg_why_free( op, &why );
	return LDAP_SUCCESS;
}
