/* compare.c -- compare on computed attributes
 *
 * "ldapcompare GROUP member:DN" is how an ACL engine or an MTA asks whether DN is in a group;
 * it is answered with the reverse test on that one entry, never by expanding the group.
 */
#include "dmg.h"

/* Is ndn a member (in *yes)?  A rule whose entries could not be found is an error: no answer
 * rather than a wrong one.  The group's list cached for the requester answers first. */
static int
dmg_compare_member( Operation *op, slap_overinst *on, Entry *group, struct berval *ndn,
	unsigned long gen, int *yes )
{
	Entry *u = NULL;
	dmg_rule r;
	int rc;

	if ( dmg_group_cached_has( op, on, group, gen, ndn, yes ) )
		return LDAP_SUCCESS;
	*yes = 0;
	if ( ( u = dmg_entry_get( op, on, ndn ) ) == NULL )
		return LDAP_SUCCESS;
	rc = dmg_rule_from_entry( op, on, group, &r );
	if ( rc == LDAP_SUCCESS )
		rc = dmg_rule_tests_member( op, on, group, &r, u, yes );
	dmg_rule_free( op, &r );
	dmg_entry_release( op, on, u );
	return rc;
}

static int
dmg_compare_member_mail( Operation *op, slap_overinst *on, Entry *group, struct berval *addr,
	unsigned long gen, int *yes )
{
	BerVarray ndns = NULL;
	int i, rc;

	*yes = 0;
	rc = dmg_entries_with_mail( op, on, addr, &ndns );
	for ( i = 0; rc == LDAP_SUCCESS && !*yes && ndns && !BER_BVISNULL( &ndns[i] ); i++ )
		rc = dmg_compare_member( op, on, group, &ndns[i], gen, yes );
	ber_bvarray_free_x( ndns, op->o_tmpmemctx );
	return rc;
}

static int
dmg_compare_member_count( Operation *op, slap_overinst *on, Entry *group, struct berval *val,
	unsigned long gen, int *yes )
{
	dmg_members_view v;
	char buf[32];
	int rc, len;

	rc = dmg_members_acquire( op, on, group, gen, &v );
	if ( rc == LDAP_SUCCESS ) {
		len = snprintf( buf, sizeof( buf ), "%u", v.ms->n );
		/* a list not shown has no count */
		*yes = !v.ms->hidden && val->bv_len == (ber_len_t)len
			&& memcmp( val->bv_val, buf, len ) == 0;
	}
	dmg_members_release( on, &v );
	return rc;
}

static int
dmg_compare_member_of( Operation *op, slap_overinst *on, Entry *e, struct berval *group_ndn,
	unsigned long gen, int *yes )
{
	Entry *g = NULL;
	int rc = LDAP_SUCCESS;

	*yes = 0;
	if ( ( g = dmg_entry_get( op, on, group_ndn ) ) == NULL )
		return LDAP_SUCCESS;
	if ( dmg_entry_is_group( g )
		&& access_allowed( op, g, slap_schema.si_ad_entry, NULL, ACL_READ, NULL )
		&& dmg_group_visible( op, on, g ) )
		rc = dmg_compare_member( op, on, g, &e->e_nname, gen, yes );
	dmg_entry_release( op, on, g );
	return rc;
}

/* Returns an LDAP result code: compareTrue/compareFalse, or an error. */
static int
dmg_compare_computed( Operation *op, slap_overinst *on, Entry *e, int is_group, unsigned long gen )
{
	AttributeDescription *ad = op->orc_ava->aa_desc;
	struct berval *val = &op->orc_ava->aa_value;
	int yes = 0, rc;

	if ( !access_allowed( op, e, ad, val, ACL_COMPARE, NULL ) )
		return LDAP_INSUFFICIENT_ACCESS;
	/* as slap_compare_entry does: the assertion control, on the entry as stored (one that
	 * names a computed attribute was refused before) */
	if ( get_assert( op ) && test_filter( op, e, get_assertion( op ) ) != LDAP_COMPARE_TRUE )
		return LDAP_ASSERTION_FAILED;
	if ( is_group && ad == dmg_ad.member )
		rc = dmg_compare_member( op, on, e, val, gen, &yes );
	else if ( is_group && ad == dmg_ad.member_mail )
		rc = dmg_compare_member_mail( op, on, e, val, gen, &yes );
	else if ( is_group && ad == dmg_ad.member_count )
		rc = dmg_compare_member_count( op, on, e, val, gen, &yes );
	else if ( !is_group && ad == dmg_ad.member_of )
		rc = dmg_compare_member_of( op, on, e, val, gen, &yes );
	else if ( ad == dmg_ad.member_of || dmg_ad_is_group_computed( ad ) )
		rc = LDAP_SUCCESS;	/* the attribute does not exist on this kind of entry */
	else
		return LDAP_UNWILLING_TO_PERFORM;
	if ( rc != LDAP_SUCCESS )
		return rc;
	return yes ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE;
}

static int
dmg_compare_entry( Operation *op, SlapReply *rs, slap_overinst *on, unsigned long gen )
{
	AttributeDescription *ad = op->orc_ava->aa_desc;
	Entry *e = NULL;
	int is_group, rc;

	/* a hidden group as target, or above it, does not exist for those who may not see it */
	if ( dmg_refuse_hidden_target( op, rs, on ) )
		return rs->sr_err;
	if ( ( e = dmg_entry_get( op, on, &op->o_req_ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	is_group = dmg_entry_is_group( e );
	if ( dmg_assertion_refused( op, rs, on ) ) {
		dmg_entry_release( op, on, e );
		return rs->sr_err;
	}
	/* member on a static group, every stored attribute, and everything under ManageDsaIT
	 * (entries as stored) is the backend's business */
	if ( get_manageDSAit( op ) || !dmg_ad_is_computed( ad ) || ( ad == dmg_ad.member && !is_group ) ) {
		dmg_entry_release( op, on, e );
		return SLAP_CB_CONTINUE;
	}
	rc = dmg_compare_computed( op, on, e, is_group, gen );
	/* as slap_compare_entry does for a stored attribute: any answer but true or false about
	 * an entry the requester may not have disclosed is noSuchObject, as for an entry that
	 * does not exist */
	if ( rc != LDAP_COMPARE_TRUE && rc != LDAP_COMPARE_FALSE
		&& !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_DISCLOSE, NULL ) )
		rc = LDAP_NO_SUCH_OBJECT;
	dmg_entry_release( op, on, e );
	switch ( rc ) {
	case LDAP_COMPARE_TRUE:
	case LDAP_COMPARE_FALSE:
	case LDAP_NO_SUCH_OBJECT:
	case LDAP_INSUFFICIENT_ACCESS:
	case LDAP_ASSERTION_FAILED:
		send_ldap_error( op, rs, rc, NULL );
		break;
	case LDAP_UNWILLING_TO_PERFORM:
		send_ldap_error( op, rs, rc, "dynmailgroup: this computed attribute cannot be compared" );
		break;
	case LDAP_ADMINLIMIT_EXCEEDED:
		send_ldap_error( op, rs, rc, "dynmailgroup: the group has more than "
			"dynmailgroup-max-members members" );
		break;
	default:
		/* a lookup failed: no answer rather than a wrong one */
		send_ldap_error( op, rs, LDAP_OTHER, "dynmailgroup: could not compute the compared "
			"attribute" );
		break;
	}
	return rs->sr_err;
}

int
dmg_compare( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	dmg_info *di = on->on_bi.bi_private;
	unsigned long gen;
	dmg_who who;
	int rc;

	if ( dmg_ad.oc_group == NULL )
		return SLAP_CB_CONTINUE;
	gen = dmg_operation_generation( op, di );
	dmg_who_begin( op, on, &who );
	rc = dmg_compare_entry( op, rs, on, gen );
	dmg_who_end( op, &who );
	return rc;
}
