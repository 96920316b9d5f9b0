/* references.c -- entries that groups name: departments, overrides, roles (man page REFERENCES)
 *
 * A group names other entries in six DN-valued attributes: dmgDepartment, the overrides
 * dmgIncludeMember and dmgExcludeMember, and the roles dmgAdministrator, dmgAuditor and
 * dmgApplicant.  Each has a UUID companion (dmgDepartmentUUID, ...) holding the entryUUID of
 * every entry named, value i of one pairing with value i of the other:
 *  - the write guard adds the companions' changes to the very write that changes the DN
 *    values (dmg_refs_pair_write): one operation, one CSN, one accesslog record;
 *  - membership, roles and reverse lookups read the UUIDs (dmg_refs_current): an entry's
 *    current DN is found by an indexed (entryUUID=...) search, so a rename changes no group
 *    for them to stay right, on every replica, from the moment it returns, and a rename no
 *    follow-up ever saw (a crash, a node without the overlay) is right too;
 *  - groups without companions (older ones, slapadd) are read by their DN values;
 *  - renaming or moving an entry still rewrites the DN values that name it or an entry
 *    below it, so that stored values stay readable, in a modify of each group's own (own CSN,
 *    own time) once the rename has been made;
 *  - deleting an entry is refused while a group names it (by DN or UUID) as a department, or
 *    as the only auditor of a group that requires audit; otherwise the entry's override and
 *    role values (and their UUIDs) are removed from every group, so that a new entry with the
 *    same DN inherits no role, nor the sight of the hidden groups that comes with one, nor a
 *    membership.  A UUID that names no entry (a delete no follow-up saw) is a dangling
 *    reference, shown as dmgDanglingReference.
 * The rewrites are ordinary modifies through the whole overlay stack, so syncprov replicates
 * them; the write guard lets them through by their marker.
 */
#include "dmg.h"

/* The reference attributes and their UUID companions.  A rename rewrites every kind; a
 * delete never meets a department value (such a delete is refused first). */
typedef struct dmg_ref_kind {
	AttributeDescription **dn, **uuid;
	int follows_delete;
} dmg_ref_kind;

static const dmg_ref_kind dmg_ref_kinds[] = {
	{ &dmg_ad.department, &dmg_ad.department_uuid, 0 },
	{ &dmg_ad.include_member, &dmg_ad.include_member_uuid, 1 },
	{ &dmg_ad.exclude_member, &dmg_ad.exclude_member_uuid, 1 },
	{ &dmg_ad.administrator, &dmg_ad.administrator_uuid, 1 },
	{ &dmg_ad.auditor, &dmg_ad.auditor_uuid, 1 },
	{ &dmg_ad.applicant, &dmg_ad.applicant_uuid, 1 },
	{ NULL, NULL, 0 }
};
#define DMG_REFS_MAX 6

static const dmg_ref_kind *
dmg_ref_kind_of( AttributeDescription *ad )
{
	int i;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		if ( ad->ad_type == ( *dmg_ref_kinds[i].dn )->ad_type )
			return &dmg_ref_kinds[i];
	}
	return NULL;
}

int
dmg_ad_is_reference( AttributeDescription *ad )
{
	return dmg_ref_kind_of( ad ) != NULL;
}

AttributeDescription *
dmg_ref_uuid_ad( AttributeDescription *ad )
{
	const dmg_ref_kind *k = dmg_ref_kind_of( ad );

	return k ? *k->uuid : NULL;
}

int
dmg_ad_is_reference_uuid( AttributeDescription *ad )
{
	int i;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		if ( ad->ad_type == ( *dmg_ref_kinds[i].uuid )->ad_type )
			return 1;
	}
	return 0;
}

struct berval *
dmg_entry_uuid( Entry *e )
{
	Attribute *a = attr_find( e->e_attrs, slap_schema.si_ad_entryUUID );

	return a && a->a_numvals ? &a->a_nvals[0] : NULL;
}

/* ---- from a UUID to the entry ------------------------------------------------------------ */

typedef struct dmg_uuid_found {
	struct berval dn, ndn;	/* op->o_tmpmemctx */
	int found;
} dmg_uuid_found;

static int
dmg_uuid_found_cb( Operation *op, SlapReply *rs )
{
	dmg_uuid_found *uf = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || uf->found )
		return 0;
	uf->found = 1;
	ber_dupbv_x( &uf->dn, &rs->sr_entry->e_name, op->o_tmpmemctx );
	ber_dupbv_x( &uf->ndn, &rs->sr_entry->e_nname, op->o_tmpmemctx );
	return 0;
}

/* The entry whose entryUUID is nuuid (normalized): one indexed search as the rootdn.  The
 * search's result code; uf->found tells whether there is one. */
static int
dmg_uuid_locate( Operation *op, struct berval *nuuid, dmg_uuid_found *uf )
{
	Filter eq = { 0 };
	AttributeAssertion ava = ATTRIBUTEASSERTION_INIT;
	Operation root;
	slap_callback cb = { 0 };
	int rc;

	memset( uf, 0, sizeof( *uf ) );
	eq.f_choice = LDAP_FILTER_EQUALITY;
	eq.f_ava = &ava;
	ava.aa_desc = slap_schema.si_ad_entryUUID;
	ava.aa_value = *nuuid;
	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_uuid_found_cb;
	cb.sc_private = uf;
	rc = dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, &eq, &cb );
	return rc == LDAP_NO_SUCH_OBJECT ? LDAP_SUCCESS : rc;
}

/* Does the entry ndn exist and carry entryUUID nuuid? */
static int
dmg_entry_has_uuid( Operation *op, slap_overinst *on, struct berval *ndn, struct berval *nuuid )
{
	Entry *e = dmg_entry_get( op, on, ndn );
	struct berval *u;
	int yes;

	if ( e == NULL )
		return 0;
	u = dmg_entry_uuid( e );
	yes = u && bvmatch( u, nuuid );
	dmg_entry_release( op, on, e );
	return yes;
}

/* The position of value ndn in attribute ad of g when its UUID companion pairs with it
 * (value i of one with value i of the other, as the overlay writes them), else -1 */
static int
dmg_ref_paired( Entry *g, AttributeDescription *ad, struct berval *ndn, Attribute **u_out )
{
	Attribute *d = attr_find( g->e_attrs, ad );
	Attribute *u = attr_find( g->e_attrs, dmg_ref_uuid_ad( ad ) );
	unsigned i;

	*u_out = u;
	if ( d == NULL || u == NULL || d->a_numvals != u->a_numvals )
		return -1;
	for ( i = 0; i < d->a_numvals; i++ ) {
		if ( dn_match( &d->a_nvals[i], ndn ) )
			return i;
	}
	return -1;
}

Entry *
dmg_ref_entry_get( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad,
	struct berval *ndn )
{
	Attribute *u;
	dmg_uuid_found uf;
	Entry *e = NULL;
	int i = dmg_ref_paired( g, ad, ndn, &u );

	if ( i < 0 )
		return dmg_entry_get( op, on, ndn );
	if ( dmg_uuid_locate( op, &u->a_nvals[i], &uf ) != LDAP_SUCCESS || !uf.found )
		return NULL;	/* logged there; the caller's answer is "does not exist" */
	e = dmg_entry_get( op, on, &uf.ndn );
	op->o_tmpfree( uf.dn.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( uf.ndn.bv_val, op->o_tmpmemctx );
	return e;
}

int
dmg_ref_uuid_names( Operation *op, Entry *g, AttributeDescription *ad, Entry *e )
{
	Attribute *d = attr_find( g->e_attrs, ad );
	dmg_uuid_found uf;
	unsigned i;
	int yes;

	/* e carries the UUID: a DN value naming e pairs with it */
	for ( i = 0; d && i < d->a_numvals; i++ ) {
		if ( dn_match( &d->a_nvals[i], &e->e_nname ) )
			return 1;
	}
	/* renamed since the group was written: the entry the UUID names, if only one does */
	if ( dmg_uuid_locate( op, dmg_entry_uuid( e ), &uf ) != LDAP_SUCCESS )
		return -1;
	yes = uf.found && dn_match( &uf.ndn, &e->e_nname );
	if ( uf.found ) {
		op->o_tmpfree( uf.dn.bv_val, op->o_tmpmemctx );
		op->o_tmpfree( uf.ndn.bv_val, op->o_tmpmemctx );
	}
	return yes;
}

int
dmg_refs_stale( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad )
{
	Attribute *d = attr_find( g->e_attrs, ad );
	Attribute *u = attr_find( g->e_attrs, dmg_ref_uuid_ad( ad ) );
	unsigned i;

	if ( u == NULL )
		return 0;
	if ( d == NULL || d->a_numvals != u->a_numvals )
		return 1;
	for ( i = 0; i < d->a_numvals; i++ ) {
		if ( !dmg_entry_has_uuid( op, on, &d->a_nvals[i], &u->a_nvals[i] ) )
			return 1;
	}
	return 0;
}

/* ---- the current values of a reference attribute ------------------------------------------ */

static void
dmg_refs_push( Operation *op, dmg_refs *r, struct berval *dn, struct berval *ndn )
{
	ber_dupbv_x( &r->a.a_vals[r->a.a_numvals], dn, op->o_tmpmemctx );
	ber_dupbv_x( &r->a.a_nvals[r->a.a_numvals], ndn, op->o_tmpmemctx );
	r->a.a_numvals++;
}

int
dmg_refs_current( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad,
	dmg_refs *out )
{
	Attribute *d = attr_find( g->e_attrs, ad );
	Attribute *u = attr_find( g->e_attrs, dmg_ref_uuid_ad( ad ) );
	int paired = d && u && d->a_numvals == u->a_numvals;
	unsigned i;
	int rc = LDAP_SUCCESS;

	memset( out, 0, sizeof( *out ) );
	out->a.a_desc = ad;
	if ( u == NULL ) {
		/* a group written before the UUIDs (or loaded with slapadd): its DNs as stored */
		if ( d ) {
			out->a.a_vals = d->a_vals;
			out->a.a_nvals = d->a_nvals;
			out->a.a_numvals = d->a_numvals;
		}
		return LDAP_SUCCESS;
	}
	out->owned = 1;
	out->a.a_vals = op->o_tmpcalloc( u->a_numvals + 1, sizeof( struct berval ), op->o_tmpmemctx );
	out->a.a_nvals = op->o_tmpcalloc( u->a_numvals + 1, sizeof( struct berval ), op->o_tmpmemctx );
	for ( i = 0; i < u->a_numvals && rc == LDAP_SUCCESS; i++ ) {
		dmg_uuid_found uf;

		/* the value as stored when it still names the entry: one lookup, no search */
		if ( paired && dmg_entry_has_uuid( op, on, &d->a_nvals[i], &u->a_nvals[i] ) ) {
			dmg_refs_push( op, out, &d->a_vals[i], &d->a_nvals[i] );
			continue;
		}
		rc = dmg_uuid_locate( op, &u->a_nvals[i], &uf );
		if ( rc != LDAP_SUCCESS )
			break;
		if ( uf.found ) {
			dmg_refs_push( op, out, &uf.dn, &uf.ndn );
			op->o_tmpfree( uf.dn.bv_val, op->o_tmpmemctx );
			op->o_tmpfree( uf.ndn.bv_val, op->o_tmpmemctx );
		} else {
			struct berval copy;

			ber_dupbv_x( &copy, paired ? &d->a_vals[i] : &u->a_vals[i], op->o_tmpmemctx );
			ber_bvarray_add_x( &out->dangling, &copy, op->o_tmpmemctx );
		}
	}
	if ( rc != LDAP_SUCCESS ) {
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "the entries %s of \"%s\" names could not be "
			"found by entryUUID (%d)\n", ad->ad_cname.bv_val, g->e_name.bv_val, rc );
		dmg_refs_free( op, out );
		out->a.a_desc = ad;
	}
	return rc;
}

void
dmg_refs_free( Operation *op, dmg_refs *r )
{
	if ( r->owned ) {
		ber_bvarray_free_x( r->a.a_vals, op->o_tmpmemctx );
		ber_bvarray_free_x( r->a.a_nvals, op->o_tmpmemctx );
	}
	ber_bvarray_free_x( r->dangling, op->o_tmpmemctx );
	memset( r, 0, sizeof( *r ) );
}

/* ---- what the read side asks ------------------------------------------------------------------ */

int
dmg_group_names_requester( Operation *op, slap_overinst *on, Entry *group,
	AttributeDescription *ad )
{
	Attribute *u = attr_find( group->e_attrs, dmg_ref_uuid_ad( ad ) );
	struct berval me = BER_BVNULL;
	unsigned i;

	if ( u == NULL )
		return dmg_entry_names( group, ad, &op->o_ndn );
	dmg_requester_uuid( op, on, &me );
	for ( i = 0; !BER_BVISEMPTY( &me ) && i < u->a_numvals; i++ ) {
		if ( bvmatch( &u->a_nvals[i], &me ) )
			return 1;
	}
	return 0;
}

void
dmg_filter_or_add_ref( Operation *op, Filter *or, AttributeDescription *ad, struct berval *ndn,
	Entry *e )
{
	struct berval *uuid = e ? dmg_entry_uuid( e ) : NULL;

	dmg_filter_or_add( or, dmg_filter_eq( op, ad, ndn ) );
	if ( uuid )
		dmg_filter_or_add( or, dmg_filter_eq( op, dmg_ref_uuid_ad( ad ), uuid ) );
}

/* Do the values of a (a DN attribute) and r (its current values) differ, in order? */
static int
dmg_refs_differ( Attribute *a, dmg_refs *r )
{
	unsigned i;

	if ( a->a_numvals != r->a.a_numvals )
		return 1;
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( !bvmatch( &a->a_vals[i], &r->a.a_vals[i] ) )
			return 1;
	}
	return 0;
}

int
dmg_refs_requested( Operation *op )
{
	int i;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		if ( dmg_attr_requested( op, op->ors_attrs, *dmg_ref_kinds[i].dn, 1 ) )
			return 1;
	}
	return 0;
}

int
dmg_refs_present( Operation *op, SlapReply *rs, slap_overinst *on )
{
	int i, rc = LDAP_SUCCESS;

	for ( i = 0; dmg_ref_kinds[i].dn && rc == LDAP_SUCCESS; i++ ) {
		AttributeDescription *ad = *dmg_ref_kinds[i].dn;
		Attribute *a = attr_find( rs->sr_entry->e_attrs, ad );
		dmg_refs r;

		if ( a == NULL || !dmg_attr_requested( op, op->ors_attrs, ad, 1 )
			|| !attr_find( rs->sr_entry->e_attrs, *dmg_ref_kinds[i].uuid ) )
			continue;
		if ( ( rc = dmg_refs_current( op, on, rs->sr_entry, ad, &r ) ) != LDAP_SUCCESS )
			break;
		if ( r.dangling == NULL && dmg_refs_differ( a, &r ) ) {
			rs_entry2modifiable( op, rs, on );
			attr_delete( &rs->sr_entry->e_attrs, ad );
			attr_merge( rs->sr_entry, ad, r.a.a_vals, r.a.a_nvals );
		}
		dmg_refs_free( op, &r );
	}
	return rc;
}

/* "<attribute> <value>" for each value of vals */
static void
dmg_dangling_add( Operation *op, AttributeDescription *ad, BerVarray vals, BerVarray *out )
{
	struct berval bv;
	unsigned i;

	for ( i = 0; vals && !BER_BVISNULL( &vals[i] ); i++ ) {
		bv.bv_len = ad->ad_cname.bv_len + 1 + vals[i].bv_len;
		bv.bv_val = op->o_tmpalloc( bv.bv_len + 1, op->o_tmpmemctx );
		snprintf( bv.bv_val, bv.bv_len + 1, "%s %s", ad->ad_cname.bv_val, vals[i].bv_val );
		ber_bvarray_add_x( out, &bv, op->o_tmpmemctx );
	}
}

/* A group without UUIDs for ad: its DN values naming no entry (nor the rootdn) */
static void
dmg_dangling_dns( Operation *op, slap_overinst *on, dmg_refs *r )
{
	unsigned i;

	for ( i = 0; i < r->a.a_numvals; i++ ) {
		Entry *x;
		struct berval copy;

		/* the rootdn (a group's creator) has no entry */
		if ( be_isroot_dn( dmg_real_db( op ), &r->a.a_nvals[i] ) )
			continue;
		if ( ( x = dmg_entry_get( op, on, &r->a.a_nvals[i] ) ) != NULL ) {
			dmg_entry_release( op, on, x );
			continue;
		}
		ber_dupbv_x( &copy, &r->a.a_vals[i], op->o_tmpmemctx );
		ber_bvarray_add_x( &r->dangling, &copy, op->o_tmpmemctx );
	}
}

int
dmg_dangling_to_entry( Operation *op, slap_overinst *on, Entry *group, Entry *target )
{
	BerVarray vals = NULL;
	int i, rc = LDAP_SUCCESS;

	for ( i = 0; dmg_ref_kinds[i].dn && rc == LDAP_SUCCESS; i++ ) {
		AttributeDescription *ad = *dmg_ref_kinds[i].dn;
		dmg_refs r;

		if ( ( rc = dmg_refs_current( op, on, group, ad, &r ) ) != LDAP_SUCCESS )
			break;
		if ( !r.owned )
			dmg_dangling_dns( op, on, &r );
		dmg_dangling_add( op, ad, r.dangling, &vals );
		dmg_refs_free( op, &r );
	}
	if ( rc == LDAP_SUCCESS && vals )
		attr_merge_normalize( target, dmg_ad.dangling, vals, op->o_tmpmemctx );
	ber_bvarray_free_x( vals, op->o_tmpmemctx );
	return rc;
}

/* ---- the write guard's part: UUIDs paired with the DN values written ---------------------------- */

/* The UUID of the entry value i of d (group after the write) names: the one paired with it
 * before the write when the value was there (it may predate a rename), else the entry's; 0
 * when it names no entry (the rootdn as applicant) */
static int
dmg_uuid_of_value( Operation *op, slap_overinst *on, Entry *before, Attribute *d, unsigned i,
	struct berval *val, struct berval *nval )
{
	Attribute *u;
	Entry *x;
	int found, p = before ? dmg_ref_paired( before, d->a_desc, &d->a_nvals[i], &u ) : -1;

	if ( p >= 0 ) {
		ber_dupbv( val, &u->a_vals[p] );
		ber_dupbv( nval, &u->a_nvals[p] );
		return 1;
	}
	if ( ( x = dmg_entry_get( op, on, &d->a_nvals[i] ) ) == NULL )
		return 0;
	u = attr_find( x->e_attrs, slap_schema.si_ad_entryUUID );
	found = u && u->a_numvals;
	if ( found ) {
		ber_dupbv( val, &u->a_vals[0] );
		ber_dupbv( nval, &u->a_nvals[0] );
	}
	dmg_entry_release( op, on, x );
	return found;
}

/* Do the UUID values vals (n of them) equal attribute u, in order? */
static int
dmg_uuids_unchanged( Attribute *u, BerVarray nvals, unsigned n )
{
	unsigned i;

	if ( ( u ? u->a_numvals : 0 ) != n )
		return 0;
	for ( i = 0; i < n; i++ ) {
		if ( !bvmatch( &u->a_nvals[i], &nvals[i] ) )
			return 0;
	}
	return 1;
}

/* Do the modifications (or the added entry) give UUID attribute uad themselves? */
static int
dmg_write_gives( Operation *op, Modifications *mods, AttributeDescription *uad )
{
	if ( op->o_tag == LDAP_REQ_ADD )
		return attr_find( op->ora_e->e_attrs, uad ) != NULL;
	for ( ; mods; mods = mods->sml_next ) {
		if ( mods->sml_desc->ad_type == uad->ad_type )
			return 1;
	}
	return 0;
}

static void
dmg_mods_append( Modifications **mods, Modifications *ml )
{
	while ( *mods )
		mods = &(*mods)->sml_next;
	*mods = ml;
}

/* The UUIDs of one kind's values after the write, put on the write when they change.  A
 * kind with a value naming no entry gets none: its values are read by DN. */
static void
dmg_pair_kind( Operation *op, slap_overinst *on, const dmg_ref_kind *k, Entry *before,
	Entry *after, Modifications **mods )
{
	Attribute *d = attr_find( after->e_attrs, *k->dn );
	unsigned i, n = d ? d->a_numvals : 0;
	BerVarray vals, nvals;
	Modifications *ml;

	if ( dmg_write_gives( op, *mods, *k->uuid ) )
		return;	/* the rootdn's, with Relax (the guard checked) */
	vals = ch_calloc( n + 1, sizeof( struct berval ) );
	nvals = ch_calloc( n + 1, sizeof( struct berval ) );
	for ( i = 0; i < n; i++ ) {
		if ( !dmg_uuid_of_value( op, on, before, d, i, &vals[i], &nvals[i] ) ) {
			ber_bvarray_free( vals );
			ber_bvarray_free( nvals );
			vals = nvals = NULL;
			n = 0;
			break;
		}
	}
	if ( dmg_uuids_unchanged( before ? attr_find( before->e_attrs, *k->uuid ) : NULL, nvals, n )
		|| op->o_tag == LDAP_REQ_ADD ) {
		if ( n && op->o_tag == LDAP_REQ_ADD )
			attr_merge( op->ora_e, *k->uuid, vals, nvals );
		ber_bvarray_free( vals );
		ber_bvarray_free( nvals );
		return;
	}
	/* a replace, in the order of the DN values: value i of each names the same entry */
	ml = ch_calloc( 1, sizeof( Modifications ) );
	ml->sml_op = LDAP_MOD_REPLACE;
	ml->sml_flags = SLAP_MOD_INTERNAL;
	ml->sml_desc = *k->uuid;
	ml->sml_type = ( *k->uuid )->ad_cname;
	ml->sml_numvals = n;
	if ( n ) {
		ml->sml_values = vals;
		ml->sml_nvalues = nvals;
	} else {
		ber_bvarray_free( vals );
		ber_bvarray_free( nvals );
	}
	dmg_mods_append( mods, ml );
}

void
dmg_refs_pair_write( Operation *op, slap_overinst *on, Entry *before, Entry *after,
	Modifications **mods )
{
	Modifications *none = NULL;
	int i;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ )
		dmg_pair_kind( op, on, &dmg_ref_kinds[i], before, after, mods ? mods : &none );
}

/* A value a modify deletes that the group does not hold as such, but names an entry one of
 * its values names under an older DN (a rename no rewrite has followed yet): that value */
static void
dmg_delete_value_as_stored( Operation *op, slap_overinst *on, Attribute *d, Attribute *u,
	struct berval *val, struct berval *nval )
{
	Entry *x;
	struct berval *uuid;
	unsigned i;

	if ( dmg_bvarray_has_dn( d->a_nvals, nval )
		|| ( x = dmg_entry_get( op, on, nval ) ) == NULL )
		return;
	uuid = dmg_entry_uuid( x );
	for ( i = 0; uuid && i < u->a_numvals; i++ ) {
		if ( !bvmatch( &u->a_nvals[i], uuid ) )
			continue;
		ch_free( val->bv_val );
		ch_free( nval->bv_val );
		ber_dupbv( val, &d->a_vals[i] );
		ber_dupbv( nval, &d->a_nvals[i] );
		break;
	}
	dmg_entry_release( op, on, x );
}

void
dmg_refs_deletes_as_stored( Operation *op, slap_overinst *on, Entry *stored, Modifications *ml )
{
	for ( ; ml; ml = ml->sml_next ) {
		Attribute *d, *u;
		unsigned i;

		if ( ( ml->sml_op != LDAP_MOD_DELETE && ml->sml_op != SLAP_MOD_SOFTDEL )
			|| ml->sml_values == NULL || ml->sml_nvalues == NULL
			|| !dmg_ad_is_reference( ml->sml_desc )
			|| ( d = attr_find( stored->e_attrs, ml->sml_desc ) ) == NULL
			|| ( u = attr_find( stored->e_attrs, dmg_ref_uuid_ad( ml->sml_desc ) ) ) == NULL
			|| d->a_numvals != u->a_numvals )
			continue;
		for ( i = 0; i < ml->sml_numvals; i++ )
			dmg_delete_value_as_stored( op, on, d, u, &ml->sml_values[i],
				&ml->sml_nvalues[i] );
	}
}

/* (|(attr=ndn)(attrUUID=uuid)...) over the kinds selected, on the caller's stack: the groups
 * naming the entry ndn (whose entryUUID is uuid, when known) */
typedef struct dmg_names_filter {
	Filter or, eq[2 * DMG_REFS_MAX];
	AttributeAssertion ava[2 * DMG_REFS_MAX];
} dmg_names_filter;

typedef int ( *dmg_kind_pick )( const dmg_ref_kind *k );

static Filter *
dmg_names_filter_init( dmg_names_filter *nf, dmg_kind_pick pick, struct berval *ndn,
	struct berval *uuid )
{
	Filter **tail = &nf->or.f_or;
	int i, n = 0;

	memset( nf, 0, sizeof( *nf ) );
	nf->or.f_choice = LDAP_FILTER_OR;
	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		int j;

		if ( !pick( &dmg_ref_kinds[i] ) )
			continue;
		for ( j = 0; j < ( uuid ? 2 : 1 ); j++, n++ ) {
			nf->eq[n].f_choice = LDAP_FILTER_EQUALITY;
			nf->eq[n].f_ava = &nf->ava[n];
			nf->ava[n].aa_desc = j ? *dmg_ref_kinds[i].uuid : *dmg_ref_kinds[i].dn;
			nf->ava[n].aa_value = j ? *uuid : *ndn;
			*tail = &nf->eq[n];
			tail = &nf->eq[n].f_next;
		}
	}
	return &nf->or;
}

static int
dmg_pick_auditor( const dmg_ref_kind *k )
{
	return k->dn == &dmg_ad.auditor;
}

static int
dmg_pick_department( const dmg_ref_kind *k )
{
	return k->dn == &dmg_ad.department;
}

static int
dmg_pick_followed( const dmg_ref_kind *k )
{
	return k->follows_delete;
}

/* The entryUUID of op's target (a copy in buf), or NULL */
static struct berval *
dmg_target_uuid( Operation *op, slap_overinst *on, struct berval *out, char *buf, size_t size )
{
	Entry *e = dmg_entry_get( op, on, &op->o_req_ndn );
	struct berval *u = e ? dmg_entry_uuid( e ) : NULL;

	if ( u && u->bv_len <= size ) {
		memcpy( buf, u->bv_val, u->bv_len );
		out->bv_val = buf;
		out->bv_len = u->bv_len;
	} else {
		u = NULL;
	}
	if ( e )
		dmg_entry_release( op, on, e );
	return u ? out : NULL;
}

/* How a refusal names group g to op's requester: not at all when they may not learn of it,
 * as dmg_find_other does */
static void
dmg_group_name_for( Operation *op, slap_overinst *on, Entry *g, char *buf, size_t len )
{
	if ( dmg_entry_disclosed( op, on, g ) )
		snprintf( buf, len, "\"%s\"", g->e_name.bv_val );
	else
		snprintf( buf, len, "another entry" );
}

/* ---- deletes ------------------------------------------------------------------------------- */

/* Named by DN or, when the value predates a rename, by entryUUID */
static int
dmg_refuse_department_delete( Operation *op, SlapReply *rs, struct berval *uuid )
{
	dmg_names_filter nf;
	dmg_first_dn group;
	char text[512];
	int rc;

	rc = dmg_find_other( op, dmg_names_filter_init( &nf, dmg_pick_department, &op->o_req_ndn,
		uuid ), NULL, 1, &group );
	if ( rc != LDAP_SUCCESS ) {
		/* fail closed: a group might still name it */
		snprintf( text, sizeof( text ), "dmgDepartment: could not check whether \"%s\" is a "
			"department of a group (%s, %d); nothing was changed", op->o_req_dn.bv_val,
			ldap_err2string( rc ), rc );
		send_ldap_error( op, rs, LDAP_OTHER, text );
		return rs->sr_err;
	}
	if ( !group.found )
		return SLAP_CB_CONTINUE;
	snprintf( text, sizeof( text ), "dmgDepartment: \"%s\" is a department of %s%s",
		op->o_req_dn.bv_val, group.disclosed ? "group " : "a group",
		group.disclosed ? group.dn : "" );
	send_ldap_error( op, rs, LDAP_CONSTRAINT_VIOLATION, text );
	return rs->sr_err;
}

static int
dmg_sole_auditor_cb( Operation *op, SlapReply *rs )
{
	Entry **group = op->o_callback->sc_private;
	Attribute *a;

	if ( rs->sr_type != REP_SEARCH || *group || !dmg_entry_is_group( rs->sr_entry )
		|| !dmg_entry_bool( rs->sr_entry, dmg_ad.audit_required, 0 ) )
		return 0;
	/* the search found it naming the entry (by DN or UUID): is that its only auditor? */
	a = attr_find( rs->sr_entry->e_attrs, dmg_ad.auditor );
	if ( a && a->a_numvals == 1 )
		*group = entry_dup( rs->sr_entry );	/* named after the search (roles) */
	return 0;
}

/* An audited group keeps at least one auditor */
static int
dmg_refuse_sole_auditor_delete( Operation *op, SlapReply *rs, slap_overinst *on,
	struct berval *uuid )
{
	dmg_names_filter nf;
	Operation root;
	slap_callback cb = { 0 };
	Entry *group = NULL;
	char name[300], text[600];
	int rc;

	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_sole_auditor_cb;
	cb.sc_private = &group;
	rc = dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE,
		dmg_names_filter_init( &nf, dmg_pick_auditor, &op->o_req_ndn, uuid ), &cb );
	if ( rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT ) {
		/* which groups the entry audits is not known: it stays */
		if ( group )
			entry_free( group );
		send_ldap_error( op, rs, LDAP_OTHER, "dmgAuditor: the groups the entry audits "
			"could not be read" );
		return rs->sr_err;
	}
	if ( group == NULL )
		return SLAP_CB_CONTINUE;
	dmg_group_name_for( op, on, group, name, sizeof( name ) );
	entry_free( group );
	snprintf( text, sizeof( text ), "dmgAuditor: \"%s\" is the only auditor of %s, which "
		"requires audit", op->o_req_dn.bv_val, name );
	send_ldap_error( op, rs, LDAP_CONSTRAINT_VIOLATION, text );
	return rs->sr_err;
}

/* ---- following a rename or a delete ------------------------------------------------------ */

typedef struct dmg_ref_change {
	dmg_kind_pick pick;		/* the reference kinds it touches */
	struct berval old_ndn;		/* tmpmem copies: the operation's own change */
	struct berval new_dn, new_ndn;	/* a rename's; empty after a delete: the values go */
	struct berval uuid;		/* a deleted entry's entryUUID (in uuid_buf), or empty */
	char uuid_buf[64];
} dmg_ref_change;

/* A value naming old_ndn or an entry below it, moved below new_dn; the RDNs below the renamed
 * entry keep the spelling they were stored with. */
static void
dmg_renamed_value( Operation *op, dmg_ref_change *ch, struct berval *val, struct berval *nval,
	struct berval *val_out, struct berval *nval_out )
{
	struct berval p = *nval, q = *val, str;
	size_t prefix;
	int depth = 0, i;

	while ( p.bv_len > ch->old_ndn.bv_len ) {
		dnParent( &p, &p );
		depth++;
	}
	for ( i = 0; i < depth; i++ )
		dnParent( &q, &q );
	prefix = depth ? (size_t)( q.bv_val - val->bv_val ) : 0;	/* "uid=x,ou=a," */
	str.bv_len = prefix + ch->new_dn.bv_len;
	str.bv_val = op->o_tmpalloc( str.bv_len + 1, op->o_tmpmemctx );
	memcpy( str.bv_val, val->bv_val, prefix );
	memcpy( str.bv_val + prefix, ch->new_dn.bv_val, ch->new_dn.bv_len );
	str.bv_val[str.bv_len] = '\0';
	if ( dnPrettyNormal( NULL, &str, val_out, nval_out, op->o_tmpmemctx ) != LDAP_SUCCESS ) {
		ber_dupbv_x( val_out, &str, op->o_tmpmemctx );
		ber_dupbv_x( nval_out, &str, op->o_tmpmemctx );
	}
	op->o_tmpfree( str.bv_val, op->o_tmpmemctx );
}

static int
dmg_ignore_result( Operation *op, SlapReply *rs )
{
	(void)op;
	(void)rs;
	return 0;
}

/* The new values of one attribute: a replace that keeps every value in its place, so that
 * value i of a DN attribute and of its UUID companion still name the same entry */
typedef struct dmg_ref_mod {
	Modifications ml;
	int changed;
} dmg_ref_mod;

static void
dmg_ref_mod_init( Operation *op, dmg_ref_mod *m, AttributeDescription *ad, unsigned cap )
{
	memset( m, 0, sizeof( *m ) );
	m->ml.sml_op = LDAP_MOD_REPLACE;
	m->ml.sml_flags = SLAP_MOD_INTERNAL;
	m->ml.sml_desc = ad;
	m->ml.sml_type = ad->ad_cname;
	m->ml.sml_values = op->o_tmpcalloc( cap + 1, sizeof( struct berval ), op->o_tmpmemctx );
	m->ml.sml_nvalues = op->o_tmpcalloc( cap + 1, sizeof( struct berval ), op->o_tmpmemctx );
}

static void
dmg_ref_mod_keep( Operation *op, dmg_ref_mod *m, struct berval *val, struct berval *nval )
{
	ber_dupbv_x( &m->ml.sml_values[m->ml.sml_numvals], val, op->o_tmpmemctx );
	ber_dupbv_x( &m->ml.sml_nvalues[m->ml.sml_numvals], nval, op->o_tmpmemctx );
	m->ml.sml_numvals++;
}

static void
dmg_ref_mod_free( Operation *op, dmg_ref_mod *m )
{
	ber_bvarray_free_x( m->ml.sml_values, op->o_tmpmemctx );
	ber_bvarray_free_x( m->ml.sml_nvalues, op->o_tmpmemctx );
}

/* After a rename: the values naming the entry or one below it, renamed in place */
static void
dmg_ref_mods_renamed( Operation *op, dmg_ref_change *ch, Attribute *d, dmg_ref_mod *m )
{
	unsigned i;

	dmg_ref_mod_init( op, m, d->a_desc, d->a_numvals );
	for ( i = 0; i < d->a_numvals; i++ ) {
		unsigned n = m->ml.sml_numvals;

		if ( !dnIsSuffix( &d->a_nvals[i], &ch->old_ndn ) ) {
			dmg_ref_mod_keep( op, m, &d->a_vals[i], &d->a_nvals[i] );
			continue;
		}
		dmg_renamed_value( op, ch, &d->a_vals[i], &d->a_nvals[i], &m->ml.sml_values[n],
			&m->ml.sml_nvalues[n] );
		m->ml.sml_numvals++;
		m->changed = 1;
	}
}

/* After a delete: does value i of d (of u with of_uuid) name the deleted entry, by DN or by
 * UUID?  Paired values go together. */
static int
dmg_value_gone( dmg_ref_change *ch, Attribute *d, Attribute *u, unsigned i, int of_uuid )
{
	int paired = d && u && d->a_numvals == u->a_numvals;
	int by_dn = d && ( paired || !of_uuid ) && dn_match( &d->a_nvals[i], &ch->old_ndn );
	int by_uuid = u && ( paired || of_uuid ) && !BER_BVISEMPTY( &ch->uuid )
		&& bvmatch( &u->a_nvals[i], &ch->uuid );

	return by_dn || by_uuid;
}

static void
dmg_ref_mod_deleted( Operation *op, dmg_ref_change *ch, Attribute *d, Attribute *u, int of_uuid,
	dmg_ref_mod *m )
{
	Attribute *a = of_uuid ? u : d;
	unsigned i;

	dmg_ref_mod_init( op, m, a->a_desc, a->a_numvals );
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( dmg_value_gone( ch, d, u, i, of_uuid ) )
			m->changed = 1;
		else
			dmg_ref_mod_keep( op, m, &a->a_vals[i], &a->a_nvals[i] );
	}
}

/* The modifications of group g that follow the change, in mods (2 per kind); their number */
static int
dmg_group_ref_mods( Operation *op, dmg_ref_change *ch, Entry *g, dmg_ref_mod *mods )
{
	int i, n = 0;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		Attribute *d = attr_find( g->e_attrs, *dmg_ref_kinds[i].dn );
		Attribute *u = attr_find( g->e_attrs, *dmg_ref_kinds[i].uuid );

		if ( !ch->pick( &dmg_ref_kinds[i] ) )
			continue;
		if ( !BER_BVISNULL( &ch->new_ndn ) ) {
			if ( d == NULL )
				continue;
			dmg_ref_mods_renamed( op, ch, d, &mods[n++] );
		} else {
			if ( d )
				dmg_ref_mod_deleted( op, ch, d, u, 0, &mods[n++] );
			if ( u )
				dmg_ref_mod_deleted( op, ch, d, u, 1, &mods[n++] );
		}
	}
	return n;
}

/* Rewrites the values of group g that name the changed entry, in one modify of its own: its
 * own CSN and its own time (accesslog keys its records by time: with the rename's, the record
 * of this change would collide with the rename's and be dropped, and delta-syncrepl consumers
 * would never see it).  Membership does not wait for it: it reads the UUIDs. */
static void
dmg_rewrite_group( Operation *op, dmg_ref_change *ch, Entry *g )
{
	dmg_ref_mod mods[2 * DMG_REFS_MAX];
	Modifications *list = NULL, **tail = &list, *last = NULL;
	slap_callback cb = { 0 };
	OpExtra marker;
	Operation o;
	SlapReply r = { REP_RESULT };
	int i, n = dmg_group_ref_mods( op, ch, g, mods );

	for ( i = 0; i < n; i++ ) {
		if ( !mods[i].changed )
			continue;
		if ( mods[i].ml.sml_numvals == 0 ) {
			/* no value left: the replace deletes the attribute */
			dmg_ref_mod_free( op, &mods[i] );
			mods[i].ml.sml_values = mods[i].ml.sml_nvalues = NULL;
		}
		*tail = last = &mods[i].ml;
		tail = &last->sml_next;
	}
	if ( list != NULL ) {
		dmg_op_as_root( op, &o );
		o.o_tag = LDAP_REQ_MODIFY;
		o.o_bd = dmg_real_db( op );
		o.o_req_dn = g->e_name;
		o.o_req_ndn = g->e_nname;
		o.orm_modlist = list;
		o.orm_increment = 0;
		o.orm_no_opattrs = 0;
		memset( o.o_ctrlflag, 0, sizeof( o.o_ctrlflag ) );
		cb.sc_response = dmg_ignore_result;
		o.o_callback = &cb;
		BER_BVZERO( &o.o_csn );
		slap_op_time( &o.o_time, &o.o_tincr );
		dmg_op_mark_internal( &o, &marker );
		o.o_bd->be_modify( &o, &r );
		dmg_op_unmark_internal( &o, &marker );
		slap_graduate_commit_csn( &o );
		/* the backend appended the operational attributes (entryCSN, modifiersName, ...) */
		if ( last->sml_next ) {
			slap_mods_free( last->sml_next, 1 );
			last->sml_next = NULL;
		}
		if ( r.sr_err != LDAP_SUCCESS )
			Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "could not rewrite the values of \"%s\" "
				"that name \"%s\" after its %s (%d)\n", g->e_name.bv_val,
				ch->old_ndn.bv_val, BER_BVISNULL( &ch->new_ndn ) ? "delete" : "rename",
				r.sr_err );
	}
	for ( i = 0; i < n; i++ )
		dmg_ref_mod_free( op, &mods[i] );
}

typedef struct dmg_affected {
	dmg_ref_change *change;
	Entry **groups;		/* copies: modifying while the search holds them is not safe */
	unsigned n, cap;
} dmg_affected;

static int
dmg_group_names_changed( dmg_ref_change *ch, Entry *g )
{
	unsigned i, j;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		Attribute *a = attr_find( g->e_attrs, *dmg_ref_kinds[i].dn );
		Attribute *u = attr_find( g->e_attrs, *dmg_ref_kinds[i].uuid );

		if ( !ch->pick( &dmg_ref_kinds[i] ) )
			continue;
		for ( j = 0; a && j < a->a_numvals; j++ ) {
			if ( dnIsSuffix( &a->a_nvals[j], &ch->old_ndn ) )
				return 1;
		}
		for ( j = 0; u && !BER_BVISEMPTY( &ch->uuid ) && j < u->a_numvals; j++ ) {
			if ( bvmatch( &u->a_nvals[j], &ch->uuid ) )
				return 1;
		}
	}
	return 0;
}

static int
dmg_affected_cb( Operation *op, SlapReply *rs )
{
	dmg_affected *aff = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || !dmg_entry_is_group( rs->sr_entry )
		|| !dmg_group_names_changed( aff->change, rs->sr_entry ) )
		return 0;
	if ( aff->n == aff->cap ) {
		aff->cap = aff->cap ? aff->cap * 2 : 16;
		aff->groups = ch_realloc( aff->groups, aff->cap * sizeof( Entry * ) );
	}
	aff->groups[aff->n++] = entry_dup( rs->sr_entry );
	return 0;
}

/* The groups naming the changed entry.  After a rename every group is a candidate: values
 * below the renamed entry change too, and the attributes have equality matching only.  After
 * a delete, those naming the entry itself, by DN or by UUID (it had nothing below it). */
static void
dmg_find_affected( Operation *op, dmg_affected *aff )
{
	dmg_ref_change *ch = aff->change;
	dmg_names_filter nf;
	Filter *f, *own = NULL;
	Operation root;
	slap_callback cb = { 0 };

	if ( BER_BVISNULL( &ch->new_ndn ) )
		f = dmg_names_filter_init( &nf, ch->pick, &ch->old_ndn,
			BER_BVISEMPTY( &ch->uuid ) ? NULL : &ch->uuid );
	else
		f = own = str2filter_x( op, "(objectClass=dynamicMailGroup)" );
	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_affected_cb;
	cb.sc_private = aff;
	/* a failure is logged there; the entry has changed already, so nothing is refused */
	dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, f, &cb );
	if ( own )
		filter_free_x( op, own, 1 );
}

static int
dmg_change_response( Operation *op, SlapReply *rs )
{
	dmg_ref_change *ch = op->o_callback->sc_private;
	dmg_affected aff = { ch, NULL, 0, 0 };
	unsigned i;

	if ( rs->sr_type != REP_RESULT || rs->sr_err != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;
	dmg_find_affected( op, &aff );
	for ( i = 0; i < aff.n; i++ ) {
		dmg_rewrite_group( op, ch, aff.groups[i] );
		entry_free( aff.groups[i] );
	}
	ch_free( aff.groups );
	return SLAP_CB_CONTINUE;
}

static int
dmg_change_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;
	dmg_ref_change *ch = sc->sc_private;

	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	op->o_tmpfree( ch->old_ndn.bv_val, op->o_tmpmemctx );
	if ( !BER_BVISNULL( &ch->new_ndn ) ) {
		op->o_tmpfree( ch->new_dn.bv_val, op->o_tmpmemctx );
		op->o_tmpfree( ch->new_ndn.bv_val, op->o_tmpmemctx );
	}
	op->o_callback = sc->sc_next;
	op->o_tmpfree( sc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* Follows op's change of its target once the backend has made it (uuid: a deleted entry's) */
static int
dmg_references_follow( Operation *op, dmg_kind_pick pick, struct berval *uuid )
{
	slap_callback *sc;
	dmg_ref_change *ch;

	sc = op->o_tmpcalloc( 1, sizeof( slap_callback ) + sizeof( dmg_ref_change ), op->o_tmpmemctx );
	ch = (dmg_ref_change *)( sc + 1 );
	ch->pick = pick;
	ber_dupbv_x( &ch->old_ndn, &op->o_req_ndn, op->o_tmpmemctx );
	if ( op->o_tag == LDAP_REQ_MODRDN )
		dmg_modrdn_new_dn( op, &ch->new_dn, &ch->new_ndn );
	if ( uuid ) {
		memcpy( ch->uuid_buf, uuid->bv_val, uuid->bv_len );
		ch->uuid.bv_val = ch->uuid_buf;
		ch->uuid.bv_len = uuid->bv_len;
	}
	sc->sc_response = dmg_change_response;
	sc->sc_cleanup = dmg_change_cleanup;
	sc->sc_private = ch;
	sc->sc_next = op->o_callback;
	op->o_callback = sc;
	return SLAP_CB_CONTINUE;
}

static int
dmg_pick_every( const dmg_ref_kind *k )
{
	(void)k;
	return 1;
}

int
dmg_references_follow_rename( Operation *op, slap_overinst *on )
{
	(void)on;
	return dmg_references_follow( op, dmg_pick_every, NULL );
}

int
dmg_references_delete( Operation *op, SlapReply *rs, slap_overinst *on )
{
	char buf[64];
	struct berval ubv, *uuid = dmg_target_uuid( op, on, &ubv, buf, sizeof( buf ) );
	int rc;

	if ( ( rc = dmg_refuse_department_delete( op, rs, uuid ) ) != SLAP_CB_CONTINUE
		|| ( rc = dmg_refuse_sole_auditor_delete( op, rs, on, uuid ) ) != SLAP_CB_CONTINUE )
		return rc;
	return dmg_references_follow( op, dmg_pick_followed, uuid );
}
