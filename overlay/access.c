/* access.c -- roles, hidden groups and ACL group clauses (man page ACCESS CONTROL)
 *
 *  - Roles: postmasters and privileged identities are configured as account DNs or as
 *    groupOfNames / groupOfUniqueNames groups (tested with slapd's backend_group, which
 *    caches the answer for the operation).  A group's applicant, administrators and auditors
 *    are its dmgApplicant, dmgAdministrator and dmgAuditor values.
 *  - Who may write a group is decided by the write guard (guard.c), not by a
 *    bi_access_allowed hook: slapd never consults a per-database overlay's hook for the
 *    backend's own ACL checks (see dmg_grant_write there).
 *  - bi_entry_get_rw: ACL clauses "group/dynamicMailGroup/member=G" make slapd fetch G with
 *    be_entry_get_rw(..., member); the hook answers with a copy of G whose member attribute
 *    holds the requesting identity when it is a member.  That membership is computed with
 *    the rootdn's rights: evaluating it with the requester's rights would evaluate the very
 *    ACLs that contain the clause.
 */
#include "dmg.h"

/* ---- roles ------------------------------------------------------------------------------------ */

int
dmg_dn_in_role_list( Operation *op, slap_overinst *on, BerVarray list_n, struct berval *ndn )
{
	int i;

	(void)on;
	if ( list_n == NULL || BER_BVISEMPTY( ndn ) )
		return 0;
	for ( i = 0; !BER_BVISNULL( &list_n[i] ); i++ ) {
		if ( dn_match( &list_n[i], ndn ) )
			return 1;
	}
	for ( i = 0; !BER_BVISNULL( &list_n[i] ); i++ ) {
		if ( backend_group( op, NULL, &list_n[i], ndn,
				dmg_ad.oc_group_of_names, dmg_ad.member ) == 0
			|| backend_group( op, NULL, &list_n[i], ndn,
				dmg_ad.oc_group_of_unique_names, dmg_ad.unique_member ) == 0 )
			return 1;
	}
	return 0;
}

int
dmg_is_postmaster( Operation *op, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;

	return dmg_dn_in_role_list( op, on, di->postmaster_n, &op->o_ndn );
}

int
dmg_is_privileged( Operation *op, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;

	return dmg_dn_in_role_list( op, on, di->privileged_n, &op->o_ndn );
}

int
dmg_entry_names( Entry *e, AttributeDescription *ad, struct berval *ndn )
{
	Attribute *a = attr_find( e->e_attrs, ad );
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dn_match( &a->a_nvals[i], ndn ) )
			return 1;
	}
	return 0;
}

int
dmg_group_visible( Operation *op, slap_overinst *on, Entry *group )
{
	if ( dmg_entry_bool( group, dmg_ad.show_in_contacts, 1 ) || be_isroot( op ) )
		return 1;
	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	return dmg_entry_names( group, dmg_ad.applicant, &op->o_ndn )
		|| dmg_entry_names( group, dmg_ad.administrator, &op->o_ndn )
		|| dmg_entry_names( group, dmg_ad.auditor, &op->o_ndn )
		|| dmg_is_postmaster( op, on )
		|| dmg_is_privileged( op, on );
}

/* ---- ACL group clauses ------------------------------------------------------------------------ */

static int dmg_acl_entry_marker;

static int
dmg_acl_is_member( Operation *op, slap_overinst *on, Entry *group )
{
	dmg_info *di = on->on_bi.bi_private;
	Operation root;
	Entry *u = NULL;
	dmg_rule r;
	int yes = 0;

	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	if ( ( u = dmg_entry_get( op, on, &op->o_ndn ) ) == NULL )
		return 0;
	dmg_op_as_root( op, &root );
	dmg_rule_from_entry( &root, di, group, &r );
	yes = dmg_rule_has_member( &root, on, &r, u );
	dmg_rule_free( &root, &r );
	dmg_entry_release( op, on, u );
	return yes;
}

int
dmg_entry_get_rw( Operation *op, struct berval *ndn, ObjectClass *oc,
	AttributeDescription *at, int rw, Entry **ep )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Entry *g = NULL, *copy;

	if ( at != dmg_ad.member || at == NULL || rw || get_manageDSAit( op ) )
		return SLAP_CB_CONTINUE;
	if ( oc && oc != dmg_ad.oc_group )
		return SLAP_CB_CONTINUE;
	/* fetched without the attribute, so that this hook does not see itself */
	if ( ( g = dmg_entry_get( op, on, ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	if ( !dmg_entry_is_group( g ) ) {
		dmg_entry_release( op, on, g );
		return SLAP_CB_CONTINUE;
	}
	copy = entry_dup( g );
	dmg_entry_release( op, on, g );
	attr_delete( &copy->e_attrs, dmg_ad.member );
	if ( dmg_acl_is_member( op, on, copy ) )
		attr_merge_one( copy, dmg_ad.member, &op->o_ndn, &op->o_ndn );
	copy->e_private = &dmg_acl_entry_marker;
	*ep = copy;
	return LDAP_SUCCESS;
}

int
dmg_entry_release_rw( Operation *op, Entry *e, int rw )
{
	(void)op;
	(void)rw;
	if ( e->e_private != &dmg_acl_entry_marker )
		return SLAP_CB_CONTINUE;
	e->e_private = NULL;
	entry_free( e );
	return LDAP_SUCCESS;
}
