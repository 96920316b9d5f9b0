/* references.c -- entries that groups name: departments, overrides, roles (man page REFERENCES)
 *
 * A group names other entries in six DN-valued attributes: dmgDepartment, the overrides
 * dmgIncludeMember and dmgExcludeMember, and the roles dmgAdministrator, dmgAuditor and
 * dmgApplicant.  Each has a UUID companion (dmgDepartmentUUID, ...) holding the entryUUID of
 * every entry named, a DN value and a UUID pairing when the entry the DN names carries the UUID
 * (dmg_ref_pairs_init; the values' order is not relied on):
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

/* The kind whose DN attribute (of_uuid: whose companion) ad is, or NULL */
static const dmg_ref_kind *
dmg_ref_kind_find( AttributeDescription *ad, int of_uuid )
{
	int i;

	for ( i = 0; dmg_ref_kinds[i].dn; i++ ) {
		AttributeDescription **x = of_uuid ? dmg_ref_kinds[i].uuid : dmg_ref_kinds[i].dn;

		if ( ad->ad_type == ( *x )->ad_type )
			return &dmg_ref_kinds[i];
	}
	return NULL;
}

int
dmg_ad_is_reference( AttributeDescription *ad )
{
	return dmg_ref_kind_find( ad, 0 ) != NULL;
}

AttributeDescription *
dmg_ref_uuid_ad( AttributeDescription *ad )
{
	const dmg_ref_kind *k = dmg_ref_kind_find( ad, 0 );

	return k ? *k->uuid : NULL;
}

int
dmg_ad_is_reference_uuid( AttributeDescription *ad )
{
	return dmg_ref_kind_find( ad, 1 ) != NULL;
}

struct berval *
dmg_entry_uuid( Entry *e )
{
	Attribute *a = attr_find( e->e_attrs, slap_schema.si_ad_entryUUID );

	return a && a->a_numvals ? &a->a_nvals[0] : NULL;
}

/* ---- from a UUID to the entry ------------------------------------------------------------ */

typedef struct dmg_uuid_found {
	struct berval dn, ndn;	/* op->o_tmpmemctx: the first entry found */
	int found;		/* how many */
} dmg_uuid_found;

static int
dmg_uuid_found_cb( Operation *op, SlapReply *rs )
{
	dmg_uuid_found *uf = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || uf->found++ )
		return 0;
	ber_dupbv_x( &uf->dn, &rs->sr_entry->e_name, op->o_tmpmemctx );
	ber_dupbv_x( &uf->ndn, &rs->sr_entry->e_nname, op->o_tmpmemctx );
	return 0;
}

static void
dmg_uuid_found_free( Operation *op, dmg_uuid_found *uf )
{
	op->o_tmpfree( uf->dn.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( uf->ndn.bv_val, op->o_tmpmemctx );
	memset( uf, 0, sizeof( *uf ) );
}

/* The entry whose entryUUID is nuuid (normalized): one indexed search as the rootdn.  The
 * search's result code; uf->found tells whether there is one.  Groups and roles rely on an
 * entryUUID naming one entry: two entries carrying the same one (written by someone the
 * guard let through, or loaded so) are an error, and nothing is found. */
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
	if ( rc == LDAP_SUCCESS && uf->found > 1 ) {
		/* (nuuid is the normalized form: 16 octets, not text) */
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "%d entries carry the entryUUID of \"%s\": none "
			"is taken for it\n", uf->found, uf->dn.bv_val );
		dmg_uuid_found_free( op, uf );
		return LDAP_OTHER;
	}
	return rc == LDAP_NO_SUCH_OBJECT ? LDAP_SUCCESS : rc;
}

int
dmg_uuid_names_only( Operation *op, struct berval *nuuid, struct berval *ndn )
{
	dmg_uuid_found uf;
	int yes = -1;

	if ( dmg_uuid_locate( op, nuuid, &uf ) == LDAP_SUCCESS )
		yes = uf.found && dn_match( &uf.ndn, ndn );
	dmg_uuid_found_free( op, &uf );
	return yes;
}

/* ---- which UUID goes with which DN value -------------------------------------------------- */

/* Value i of a DN attribute and value j of its companion go together when the entry the DN
 * names carries that UUID: pairs are found by content, not by position.  Position is only the
 * overlay's own order; plain syncrepl does not keep it (once both nodes hold a group's
 * attributes in the same order, a consumer applies a changed value as a delete and an add: a
 * rename rewrite moves the DN value to the end while its UUID stays in place).
 *
 * The values left over are those whose entry was renamed or deleted without a rewrite
 * following (a crash, a node without the overlay).  Such a DN value has not changed since it
 * was written with its UUID, in the same write and in the same order; deletes and adds, the
 * overlay's and replication's alike, keep the relative order of the values they leave, and
 * only the rewrites (which make values current, so paired by content) move values.  So when
 * as many DN values as UUIDs are left over, the k-th of each go together.  When the numbers
 * differ (something wrote one attribute without the other), which is whose cannot be told:
 * they are not paired (ambiguous). */
typedef struct dmg_ref_pairs {
	Attribute *d, *u;	/* the DN values and the companion; either may be NULL */
	int *uuid_of;		/* per DN value: the index of its UUID in u, or -1 */
	int *dn_of;		/* per UUID: the index of its DN value in d, or -1 */
	int *inferred;		/* per DN value: paired as left over, not by its entry */
	unsigned n_inferred;
	unsigned stale_d, stale_u;	/* values left unpaired */
} dmg_ref_pairs;

/* The index of an unpaired UUID equal to uuid, the one at position pos first */
static int
dmg_ref_pairs_find( dmg_ref_pairs *p, struct berval *uuid, unsigned pos )
{
	unsigned j;

	if ( pos < p->u->a_numvals && p->dn_of[pos] < 0 && bvmatch( &p->u->a_nvals[pos], uuid ) )
		return pos;
	for ( j = 0; j < p->u->a_numvals; j++ ) {
		if ( p->dn_of[j] < 0 && bvmatch( &p->u->a_nvals[j], uuid ) )
			return j;
	}
	return -1;
}

/* The values left over, paired in order when there are as many of each */
static void
dmg_ref_pairs_left_over( dmg_ref_pairs *p, unsigned nd, unsigned nu )
{
	unsigned i, j = 0;

	for ( i = 0; i < nd; i++ )
		p->stale_d += p->uuid_of[i] < 0;
	for ( i = 0; i < nu; i++ )
		p->stale_u += p->dn_of[i] < 0;
	if ( p->stale_d != p->stale_u )
		return;
	for ( i = 0; i < nd; i++ ) {
		if ( p->uuid_of[i] >= 0 )
			continue;
		while ( p->dn_of[j] >= 0 )
			j++;
		p->uuid_of[i] = j;
		p->dn_of[j] = i;
		p->inferred[i] = 1;
		p->n_inferred++;
	}
	p->stale_d = p->stale_u = 0;
}

/* A DN value naming an entry whose entryUUID the companion does not hold: the DN attribute was
 * written without the overlay (a node or a tool without it, accesslog above it), or a new
 * entry took the DN of one renamed without the group following.  The UUIDs are followed;
 * logged once per group and value, for the administrator to correct the group. */
static void
dmg_ref_pair_inconsistent( slap_overinst *on, Entry *g, struct berval *val )
{
	struct berval key;
	char buf[1024];

	key.bv_len = snprintf( buf, sizeof( buf ), "%s|%s", g->e_nname.bv_val, val->bv_val );
	key.bv_val = buf;
	if ( key.bv_len >= sizeof( buf ) )
		key.bv_len = sizeof( buf ) - 1;
	if ( dmg_log_once( on->on_bi.bi_private, "pair", &key ) )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "\"%s\": value \"%s\" names an entry whose "
			"entryUUID the group does not hold; the group's entryUUIDs are followed, "
			"rewrite the value to correct it\n", g->e_name.bv_val, val->bv_val );
}

static void
dmg_ref_pairs_init( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad,
	dmg_ref_pairs *p )
{
	unsigned i, nd, nu;

	memset( p, 0, sizeof( *p ) );
	p->d = g ? attr_find( g->e_attrs, ad ) : NULL;
	p->u = g ? attr_find( g->e_attrs, dmg_ref_uuid_ad( ad ) ) : NULL;
	nd = p->d ? p->d->a_numvals : 0;
	nu = p->u ? p->u->a_numvals : 0;
	p->uuid_of = op->o_tmpalloc( ( 2 * nd + nu + 1 ) * sizeof( int ), op->o_tmpmemctx );
	p->dn_of = p->uuid_of + nd;
	p->inferred = p->dn_of + nu;
	for ( i = 0; i < nd + nu; i++ )
		p->uuid_of[i] = -1;	/* and dn_of */
	for ( i = 0; i < nd; i++ )
		p->inferred[i] = 0;
	for ( i = 0; nu && i < nd; i++ ) {
		Entry *x = dmg_entry_get( op, on, &p->d->a_nvals[i] );
		struct berval *uuid = x ? dmg_entry_uuid( x ) : NULL;
		int j = uuid ? dmg_ref_pairs_find( p, uuid, i ) : -1;

		if ( j >= 0 ) {
			p->uuid_of[i] = j;
			p->dn_of[j] = i;
		} else if ( uuid ) {
			dmg_ref_pair_inconsistent( on, g, &p->d->a_vals[i] );
		}
		if ( x )
			dmg_entry_release( op, on, x );
	}
	dmg_ref_pairs_left_over( p, nd, nu );
}

static void
dmg_ref_pairs_free( Operation *op, dmg_ref_pairs *p )
{
	op->o_tmpfree( p->uuid_of, op->o_tmpmemctx );
	p->uuid_of = p->dn_of = p->inferred = NULL;
}

/* Are there DN values that name no entry of theirs and UUIDs left that cannot be told
 * apart? */
static int
dmg_ref_pairs_ambiguous( dmg_ref_pairs *p )
{
	return p->stale_d && p->stale_u;
}

/* Was DN value i paired as left over (its DN does not name the entry)? */
static int
dmg_ref_pairs_inferred( dmg_ref_pairs *p, int i )
{
	return i >= 0 && p->inferred[i];
}

/* The index of DN value ndn in p->d, or -1 */
static int
dmg_ref_pairs_dn_index( dmg_ref_pairs *p, struct berval *ndn )
{
	unsigned i;

	for ( i = 0; p->d && i < p->d->a_numvals; i++ ) {
		if ( dn_match( &p->d->a_nvals[i], ndn ) )
			return i;
	}
	return -1;
}

/* The UUID paired with DN value i, or NULL */
static struct berval *
dmg_ref_pairs_uuid( dmg_ref_pairs *p, int i )
{
	return i >= 0 && p->uuid_of[i] >= 0 ? &p->u->a_nvals[p->uuid_of[i]] : NULL;
}

/* The entry whose entryUUID is nuuid in *e (NULL: none); the search's result code */
static int
dmg_uuid_entry_get( Operation *op, slap_overinst *on, struct berval *nuuid, Entry **e )
{
	dmg_uuid_found uf;
	int rc = dmg_uuid_locate( op, nuuid, &uf );

	*e = NULL;
	if ( rc == LDAP_SUCCESS && uf.found ) {
		*e = dmg_entry_get( op, on, &uf.ndn );
		dmg_uuid_found_free( op, &uf );
	}
	return rc;
}

int
dmg_ref_entry_get( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad,
	struct berval *ndn, Entry **e )
{
	dmg_ref_pairs p;
	unsigned j;
	int i, rc = LDAP_SUCCESS;

	*e = NULL;
	dmg_ref_pairs_init( op, on, g, ad, &p );
	i = dmg_ref_pairs_dn_index( &p, ndn );
	if ( dmg_ref_pairs_inferred( &p, i ) ) {
		/* the entry its UUID names; when that is gone, the one its DN names (the write
		 * then pairs the value with that entry's UUID, dmg_uuid_of_value) */
		rc = dmg_uuid_entry_get( op, on, dmg_ref_pairs_uuid( &p, i ), e );
		if ( rc == LDAP_SUCCESS && *e == NULL )
			*e = dmg_entry_get( op, on, ndn );
	} else if ( i >= 0 && p.uuid_of[i] < 0 && dmg_ref_pairs_ambiguous( &p ) ) {
		/* one of the UUIDs left over is this value's: which one is not known, but the
		 * value names an entry when one of them does */
		for ( j = 0; rc == LDAP_SUCCESS && *e == NULL && j < p.u->a_numvals; j++ ) {
			if ( p.dn_of[j] < 0 )
				rc = dmg_uuid_entry_get( op, on, &p.u->a_nvals[j], e );
		}
	} else {
		/* a verified pair (the DN names the entry itself), or no UUID for it */
		*e = dmg_entry_get( op, on, ndn );
	}
	dmg_ref_pairs_free( op, &p );
	return rc;
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
	dmg_uuid_found_free( op, &uf );
	return yes;
}

int
dmg_refs_stale( Operation *op, slap_overinst *on, Entry *g, AttributeDescription *ad )
{
	dmg_ref_pairs p;
	int stale;

	if ( attr_find( g->e_attrs, dmg_ref_uuid_ad( ad ) ) == NULL )
		return 0;
	dmg_ref_pairs_init( op, on, g, ad, &p );
	stale = p.n_inferred || p.stale_d || p.stale_u;
	dmg_ref_pairs_free( op, &p );
	return stale;
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
	dmg_ref_pairs p;
	unsigned j;
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
	dmg_ref_pairs_init( op, on, g, ad, &p );
	for ( j = 0; j < u->a_numvals && rc == LDAP_SUCCESS; j++ ) {
		int i = p.dn_of[j];
		dmg_uuid_found uf;

		/* the value as stored when it names the entry: found by the pairing's lookup */
		if ( i >= 0 && !dmg_ref_pairs_inferred( &p, i ) ) {
			dmg_refs_push( op, out, &d->a_vals[i], &d->a_nvals[i] );
			continue;
		}
		rc = dmg_uuid_locate( op, &u->a_nvals[j], &uf );
		if ( rc != LDAP_SUCCESS )
			break;
		if ( uf.found ) {
			dmg_refs_push( op, out, &uf.dn, &uf.ndn );
			dmg_uuid_found_free( op, &uf );
		} else {
			struct berval copy;

			ber_dupbv_x( &copy, i >= 0 ? &d->a_vals[i] : &u->a_vals[j], op->o_tmpmemctx );
			ber_bvarray_add_x( &out->dangling, &copy, op->o_tmpmemctx );
		}
	}
	dmg_ref_pairs_free( op, &p );
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

/* The requester's UUID, held by the companion u of attribute d, gives the role only when it
 * pairs with a DN value (dmg_ref_pairs_init), told without reading the database (search
 * callbacks ask): a value naming the requester pairs with it; otherwise it could only pair
 * as left over, which it does when there are as many DN values as UUIDs.  A UUID with no DN
 * value left for it gives no role: fail closed. */
static int
dmg_requester_paired( Operation *op, Attribute *d, Attribute *u, struct berval *me )
{
	unsigned i;

	for ( i = 0; i < u->a_numvals && !bvmatch( &u->a_nvals[i], me ); i++ )
		;
	if ( i == u->a_numvals )
		return 0;
	return d && ( dmg_bvarray_has_dn( d->a_nvals, &op->o_ndn ) || d->a_numvals == u->a_numvals );
}

int
dmg_group_names_requester( Operation *op, slap_overinst *on, Entry *group,
	AttributeDescription *ad )
{
	Attribute *u = attr_find( group->e_attrs, dmg_ref_uuid_ad( ad ) );
	struct berval me = BER_BVNULL;

	if ( u == NULL )
		return dmg_entry_names( group, ad, &op->o_ndn );
	dmg_requester_uuid( op, on, &me );
	return !BER_BVISEMPTY( &me )
		&& dmg_requester_paired( op, attr_find( group->e_attrs, ad ), u, &me );
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

/* May op learn where each entry of r is now?  A current DN that is not among the stored values
 * was found as the rootdn: shown only when the requester may see that entry, else the values
 * are shown as stored (they reveal nothing new). */
static int
dmg_refs_disclosed( Operation *op, slap_overinst *on, Attribute *stored, dmg_refs *r )
{
	unsigned i;

	for ( i = 0; i < r->a.a_numvals; i++ ) {
		Entry *x;
		int ok;

		if ( dmg_bvarray_has_dn( stored->a_nvals, &r->a.a_nvals[i] ) )
			continue;
		if ( ( x = dmg_entry_get( op, on, &r->a.a_nvals[i] ) ) == NULL )
			return 0;
		ok = dmg_entry_disclosed( op, on, x );
		dmg_entry_release( op, on, x );
		if ( !ok )
			return 0;
	}
	return 1;
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
		if ( r.dangling == NULL && dmg_refs_differ( a, &r )
			&& dmg_refs_disclosed( op, on, a, &r ) ) {
			rs_entry2modifiable( op, rs, on );
			attr_delete( &rs->sr_entry->e_attrs, ad );
			attr_merge( rs->sr_entry, ad, r.a.a_vals, r.a.a_nvals );
		}
		dmg_refs_free( op, &r );
	}
	return rc;
}

/* "<attribute> <value>" for each value of vals that op may read in attribute ad of group: a
 * dangling value shows what the attribute holds, so it is given only to those who may read it */
static void
dmg_dangling_add( Operation *op, Entry *group, AttributeDescription *ad, BerVarray vals,
	BerVarray *out )
{
	AccessControlState state = ACL_STATE_INIT;
	struct berval bv;
	unsigned i;

	for ( i = 0; vals && !BER_BVISNULL( &vals[i] ); i++ ) {
		if ( !access_allowed( op, group, ad, &vals[i], ACL_READ, &state ) )
			continue;
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
		dmg_dangling_add( op, group, ad, r.dangling, &vals );
		dmg_refs_free( op, &r );
	}
	if ( rc == LDAP_SUCCESS && vals )
		attr_merge_normalize( target, dmg_ad.dangling, vals, op->o_tmpmemctx );
	ber_bvarray_free_x( vals, op->o_tmpmemctx );
	return rc;
}

/* ---- the write guard's part: UUIDs paired with the DN values written ---------------------------- */

/* The UUID of the entry value i of d (group after the write) names: the one paired with it
 * before the write when the value was there and that UUID still names an entry (the value
 * may predate a rename), else the entry's the value names; 0 when it names no entry (the
 * rootdn as applicant) */
static int
dmg_uuid_of_value( Operation *op, slap_overinst *on, dmg_ref_pairs *before, Attribute *d,
	unsigned i, struct berval *val, struct berval *nval )
{
	int b = dmg_ref_pairs_dn_index( before, &d->a_nvals[i] );
	struct berval *paired = dmg_ref_pairs_uuid( before, b );
	Attribute *u;
	Entry *x = NULL;
	int found;

	/* a UUID that could not be looked up is kept (the guard refused such a write already) */
	if ( paired && dmg_ref_pairs_inferred( before, b )
		&& dmg_uuid_entry_get( op, on, paired, &x ) != LDAP_SUCCESS )
		x = NULL;
	if ( paired && ( !dmg_ref_pairs_inferred( before, b ) || x ) ) {
		ber_dupbv( val, &before->u->a_vals[before->uuid_of[b]] );
		ber_dupbv( nval, paired );
		if ( x )
			dmg_entry_release( op, on, x );
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

/* Is value i of the DN attribute before the write one of those whose UUID cannot be told
 * apart from the others left over? */
static int
dmg_ref_pairs_unknown( dmg_ref_pairs *p, int i )
{
	return i >= 0 && p->uuid_of[i] < 0 && dmg_ref_pairs_ambiguous( p );
}

/* The values of d (after the write) whose UUID cannot be told: all of them are kept (their
 * UUIDs go on as they are), or none (the UUIDs left over go too).  Deleting some of them
 * would delete a UUID that may be another entry's: refused. */
static int
dmg_pair_unknown( dmg_ref_pairs *before, Attribute *d, unsigned *kept, char *text, size_t len )
{
	unsigned i;
	int first = -1;

	*kept = 0;
	for ( i = 0; d && i < d->a_numvals; i++ ) {
		if ( dmg_ref_pairs_unknown( before, dmg_ref_pairs_dn_index( before, &d->a_nvals[i] ) ) )
			( *kept )++;
	}
	if ( *kept == 0 || *kept == before->stale_d )
		return LDAP_SUCCESS;
	for ( i = 0; first < 0 && i < before->d->a_numvals; i++ ) {
		if ( before->uuid_of[i] < 0 && !( d && dmg_bvarray_has_dn( d->a_nvals,
				&before->d->a_nvals[i] ) ) )
			first = i;
	}
	snprintf( text, len, "%s: \"%s\" is one of %u values whose entries were renamed or deleted "
		"without the group following; which entryUUID is its own cannot be told: delete or "
		"replace them all in one write", before->d->a_desc->ad_cname.bv_val,
		before->d->a_vals[first].bv_val, before->stale_d );
	return LDAP_CONSTRAINT_VIOLATION;
}

/* Two values of d naming the same entry (one stored before a rename, one its current DN):
 * its UUID would be stored twice, which replicas refuse */
static int
dmg_pair_duplicate( Attribute *d, BerVarray nvals, unsigned n, char *text, size_t len )
{
	unsigned i, j;

	for ( i = 0; i < n; i++ ) {
		for ( j = i + 1; j < n; j++ ) {
			if ( bvmatch( &nvals[i], &nvals[j] ) ) {
				snprintf( text, len, "%s: \"%s\" names the same entry as value \"%s\"",
					d->a_desc->ad_cname.bv_val, d->a_vals[j].bv_val,
					d->a_vals[i].bv_val );
				return LDAP_CONSTRAINT_VIOLATION;
			}
		}
	}
	return LDAP_SUCCESS;
}

/* The UUIDs of one kind's values after the write, put on the write when they change.  A
 * kind with a value naming no entry gets none: its values are read by DN. */
static int
dmg_pair_kind( Operation *op, slap_overinst *on, const dmg_ref_kind *k, Entry *before,
	Entry *after, Modifications **mods, char *text, size_t len )
{
	Attribute *d = attr_find( after->e_attrs, *k->dn );
	unsigned i, j, n = 0, unknown;
	BerVarray vals, nvals;
	Modifications *ml;
	dmg_ref_pairs bp;
	int rc;

	if ( dmg_write_gives( op, *mods, *k->uuid ) )
		return LDAP_SUCCESS;	/* the rootdn's, with Relax (the guard checked) */
	dmg_ref_pairs_init( op, on, before, *k->dn, &bp );
	if ( ( rc = dmg_pair_unknown( &bp, d, &unknown, text, len ) ) != LDAP_SUCCESS ) {
		dmg_ref_pairs_free( op, &bp );
		return rc;
	}
	vals = ch_calloc( ( d ? d->a_numvals : 0 ) + bp.stale_u + 1, sizeof( struct berval ) );
	nvals = ch_calloc( ( d ? d->a_numvals : 0 ) + bp.stale_u + 1, sizeof( struct berval ) );
	for ( i = 0; d && i < d->a_numvals; i++ ) {
		if ( dmg_ref_pairs_unknown( &bp, dmg_ref_pairs_dn_index( &bp, &d->a_nvals[i] ) ) )
			continue;
		if ( !dmg_uuid_of_value( op, on, &bp, d, i, &vals[n], &nvals[n] ) ) {
			ber_bvarray_free( vals );
			ber_bvarray_free( nvals );
			vals = nvals = NULL;
			n = 0;
			unknown = 0;
			break;
		}
		n++;
	}
	rc = dmg_pair_duplicate( d, nvals, n, text, len );
	/* the values whose UUIDs cannot be told apart, all kept: their UUIDs too */
	for ( j = 0; unknown && j < bp.u->a_numvals; j++ ) {
		if ( bp.dn_of[j] >= 0 )
			continue;
		ber_dupbv( &vals[n], &bp.u->a_vals[j] );
		ber_dupbv( &nvals[n++], &bp.u->a_nvals[j] );
	}
	dmg_ref_pairs_free( op, &bp );
	if ( rc != LDAP_SUCCESS
		|| dmg_uuids_unchanged( attr_find( after->e_attrs, *k->uuid ), nvals, n )
		|| op->o_tag == LDAP_REQ_ADD ) {
		if ( rc == LDAP_SUCCESS && n && op->o_tag == LDAP_REQ_ADD )
			attr_merge( op->ora_e, *k->uuid, vals, nvals );
		ber_bvarray_free( vals );
		ber_bvarray_free( nvals );
		return rc;
	}
	/* a replace, in the order of the DN values (pairs are found by content: the order is
	 * only a hint) */
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
	return LDAP_SUCCESS;
}

int
dmg_refs_pair_write( Operation *op, slap_overinst *on, Entry *before, Entry *after,
	Modifications **mods, char *text, size_t len )
{
	Modifications *none = NULL;
	int i, rc = LDAP_SUCCESS;

	for ( i = 0; dmg_ref_kinds[i].dn && rc == LDAP_SUCCESS; i++ )
		rc = dmg_pair_kind( op, on, &dmg_ref_kinds[i], before, after, mods ? mods : &none,
			text, len );
	return rc;
}

/* A value a modify deletes that the group does not hold as such, but names an entry one of
 * its values names under an older DN (a rename no rewrite has followed yet): that value */
static void
dmg_delete_value_as_stored( Operation *op, slap_overinst *on, dmg_ref_pairs *p,
	struct berval *val, struct berval *nval )
{
	Entry *x;
	struct berval *uuid;
	unsigned j;

	if ( dmg_bvarray_has_dn( p->d->a_nvals, nval )
		|| ( x = dmg_entry_get( op, on, nval ) ) == NULL )
		return;
	uuid = dmg_entry_uuid( x );
	for ( j = 0; uuid && j < p->u->a_numvals; j++ ) {
		int i = p->dn_of[j];

		if ( i < 0 || !bvmatch( &p->u->a_nvals[j], uuid ) )
			continue;
		/* the client's value (the frontend's copy of it, ours to replace) */
		ch_free( val->bv_val );
		ch_free( nval->bv_val );
		ber_dupbv( val, &p->d->a_vals[i] );
		ber_dupbv( nval, &p->d->a_nvals[i] );
		break;
	}
	dmg_entry_release( op, on, x );
}

void
dmg_refs_deletes_as_stored( Operation *op, slap_overinst *on, Entry *stored, Modifications *ml )
{
	for ( ; ml; ml = ml->sml_next ) {
		dmg_ref_pairs p;
		unsigned i;

		if ( ( ml->sml_op != LDAP_MOD_DELETE && ml->sml_op != SLAP_MOD_SOFTDEL )
			|| ml->sml_values == NULL || ml->sml_nvalues == NULL
			|| !dmg_ad_is_reference( ml->sml_desc )
			|| attr_find( stored->e_attrs, dmg_ref_uuid_ad( ml->sml_desc ) ) == NULL )
			continue;
		dmg_ref_pairs_init( op, on, stored, ml->sml_desc, &p );
		for ( i = 0; p.d && i < ml->sml_numvals; i++ )
			dmg_delete_value_as_stored( op, on, &p, &ml->sml_values[i], &ml->sml_nvalues[i] );
		dmg_ref_pairs_free( op, &p );
	}
}

/* (|(attr=ndn)(attrUUID=uuid)...) over the kinds selected, on the caller's stack: the groups
 * naming the entry ndn (whose entryUUID is uuid) */
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
		for ( j = 0; j < 2; j++, n++ ) {
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

/* The entryUUID of op's target in *out (a copy in buf): SLAP_CB_CONTINUE, or the error sent
 * when it cannot be read (the entry carries none: the rootdn removed it).  The groups naming
 * the target by UUID are then not known, so that nothing is changed: fail closed. */
static int
dmg_target_uuid( Operation *op, SlapReply *rs, slap_overinst *on, struct berval *out,
	char *buf, size_t size )
{
	Entry *e = dmg_entry_get( op, on, &op->o_req_ndn );
	struct berval *u = e ? dmg_entry_uuid( e ) : NULL;
	int found = u && u->bv_len <= size;
	char text[512];

	if ( found ) {
		memcpy( buf, u->bv_val, u->bv_len );
		out->bv_val = buf;
		out->bv_len = u->bv_len;
	}
	if ( e )
		dmg_entry_release( op, on, e );
	if ( found )
		return SLAP_CB_CONTINUE;
	snprintf( text, sizeof( text ), "entryUUID: that of \"%s\" could not be read, so the "
		"groups naming it cannot all be found; nothing was changed", op->o_req_dn.bv_val );
	Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "%s %s\n", op->o_log_prefix, text );
	send_ldap_error( op, rs, LDAP_OTHER, text );
	return rs->sr_err;
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
	slap_overinst *on;
	struct berval old_ndn;		/* tmpmem copies: the operation's own change */
	struct berval new_dn, new_ndn;	/* a rename's; empty after a delete: the values go */
	struct berval uuid;		/* the entry's entryUUID (in uuid_buf) */
	char uuid_buf[DMG_UUID_LEN];
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

/* Does DN value i name the changed entry by DN, and not, by its UUID, another one (a value
 * that predates a rename of its entry, whose DN a new entry has since taken)? */
static int
dmg_value_names_changed( dmg_ref_change *ch, dmg_ref_pairs *p, unsigned i )
{
	struct berval *uuid = dmg_ref_pairs_uuid( p, i );

	return dn_match( &p->d->a_nvals[i], &ch->old_ndn )
		&& ( uuid == NULL || bvmatch( uuid, &ch->uuid ) );
}

/* After a rename: the values naming the entry or one below it, renamed in place; a value that
 * would come out the same as one already there (two values naming one entry) goes */
static void
dmg_ref_mods_renamed( Operation *op, dmg_ref_change *ch, dmg_ref_pairs *p, dmg_ref_mod *m )
{
	Attribute *d = p->d;
	unsigned i;

	dmg_ref_mod_init( op, m, d->a_desc, d->a_numvals );
	for ( i = 0; i < d->a_numvals; i++ ) {
		struct berval val, nval;

		if ( !dnIsSuffix( &d->a_nvals[i], &ch->old_ndn )
			|| ( dn_match( &d->a_nvals[i], &ch->old_ndn )
				&& !dmg_value_names_changed( ch, p, i ) ) ) {
			dmg_ref_mod_keep( op, m, &d->a_vals[i], &d->a_nvals[i] );
			continue;
		}
		dmg_renamed_value( op, ch, &d->a_vals[i], &d->a_nvals[i], &val, &nval );
		m->changed = 1;
		if ( !dmg_bvarray_has_dn( d->a_nvals, &nval )
			&& !dmg_bvarray_has_dn( m->ml.sml_nvalues, &nval ) )
			dmg_ref_mod_keep( op, m, &val, &nval );
		op->o_tmpfree( val.bv_val, op->o_tmpmemctx );
		op->o_tmpfree( nval.bv_val, op->o_tmpmemctx );
	}
}

/* After a delete: does value i of the DN attribute (of the companion with of_uuid) name the
 * deleted entry?  A UUID by itself; a DN value by DN unless its UUID is another entry's. */
static int
dmg_value_gone( dmg_ref_change *ch, dmg_ref_pairs *p, unsigned i, int of_uuid )
{
	if ( !of_uuid )
		return dmg_value_names_changed( ch, p, i );
	return bvmatch( &p->u->a_nvals[i], &ch->uuid );
}

static void
dmg_ref_mod_deleted( Operation *op, dmg_ref_change *ch, dmg_ref_pairs *p, int of_uuid,
	dmg_ref_mod *m )
{
	Attribute *a = of_uuid ? p->u : p->d;
	unsigned i;

	dmg_ref_mod_init( op, m, a->a_desc, a->a_numvals );
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( dmg_value_gone( ch, p, i, of_uuid ) )
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
		dmg_ref_pairs p;

		if ( !ch->pick( &dmg_ref_kinds[i] ) )
			continue;
		dmg_ref_pairs_init( op, ch->on, g, *dmg_ref_kinds[i].dn, &p );
		if ( !BER_BVISNULL( &ch->new_ndn ) ) {
			if ( p.d )
				dmg_ref_mods_renamed( op, ch, &p, &mods[n++] );
		} else {
			if ( p.d )
				dmg_ref_mod_deleted( op, ch, &p, 0, &mods[n++] );
			if ( p.u )
				dmg_ref_mod_deleted( op, ch, &p, 1, &mods[n++] );
		}
		dmg_ref_pairs_free( op, &p );
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
		for ( j = 0; u && j < u->a_numvals; j++ ) {
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
		f = dmg_names_filter_init( &nf, ch->pick, &ch->old_ndn, &ch->uuid );
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
dmg_references_follow( Operation *op, slap_overinst *on, dmg_kind_pick pick,
	struct berval *uuid )
{
	slap_callback *sc;
	dmg_ref_change *ch;

	sc = op->o_tmpcalloc( 1, sizeof( slap_callback ) + sizeof( dmg_ref_change ), op->o_tmpmemctx );
	ch = (dmg_ref_change *)( sc + 1 );
	ch->pick = pick;
	ch->on = on;
	ber_dupbv_x( &ch->old_ndn, &op->o_req_ndn, op->o_tmpmemctx );
	if ( op->o_tag == LDAP_REQ_MODRDN )
		dmg_modrdn_new_dn( op, &ch->new_dn, &ch->new_ndn );
	memcpy( ch->uuid_buf, uuid->bv_val, uuid->bv_len );
	ch->uuid.bv_val = ch->uuid_buf;
	ch->uuid.bv_len = uuid->bv_len;
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
dmg_references_follow_rename( Operation *op, SlapReply *rs, slap_overinst *on )
{
	char buf[DMG_UUID_LEN];
	struct berval uuid;
	int rc;

	if ( ( rc = dmg_target_uuid( op, rs, on, &uuid, buf, sizeof( buf ) ) ) != SLAP_CB_CONTINUE )
		return rc;
	return dmg_references_follow( op, on, dmg_pick_every, &uuid );
}

int
dmg_references_delete( Operation *op, SlapReply *rs, slap_overinst *on )
{
	char buf[DMG_UUID_LEN];
	struct berval uuid;
	int rc;

	if ( ( rc = dmg_target_uuid( op, rs, on, &uuid, buf, sizeof( buf ) ) ) != SLAP_CB_CONTINUE
		|| ( rc = dmg_refuse_department_delete( op, rs, &uuid ) ) != SLAP_CB_CONTINUE
		|| ( rc = dmg_refuse_sole_auditor_delete( op, rs, on, &uuid ) ) != SLAP_CB_CONTINUE )
		return rc;
	return dmg_references_follow( op, on, dmg_pick_followed, &uuid );
}
