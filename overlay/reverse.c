/* reverse.c -- reverse lookups: the groups an entry is a member of, for (member=DN),
 * (dmgMemberMail=address) and (dmgMemberOf=groupDN) in filters and for dmgMemberOf values (man
 * page MEMBERSHIP)
 *
 * No group is expanded: candidate groups are found with indexed filters (or from what named.c
 * remembers) level by level, and each is tested with the reverse test (membership.c,
 * dmg_group_has).  The filter builders here serve membership.c and invalidate.c too.
 */
#include "dmg.h"

/* ---- candidates and reverse lookups ----------------------------------------------------------------- */

Filter *
dmg_filter_eq( Operation *op, AttributeDescription *ad, struct berval *nval )
{
	Filter *f = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	f->f_choice = LDAP_FILTER_EQUALITY;
	f->f_ava = op->o_tmpcalloc( 1, sizeof( AttributeAssertion ), op->o_tmpmemctx );
	f->f_ava->aa_desc = ad;
	ber_dupbv_x( &f->f_ava->aa_value, nval, op->o_tmpmemctx );
	return f;
}

Filter *
dmg_filter_or( Operation *op )
{
	Filter *or = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	or->f_choice = LDAP_FILTER_OR;
	return or;
}

void
dmg_filter_or_add( Filter *or, Filter *f )
{
	f->f_next = or->f_or;
	or->f_or = f;
}

/* Calls fn on every ancestor A of ndn in the database (ndn included), with A's entry when on
 * is given (for its entryUUID: a group's DN value may predate a rename, references.c; ndn's
 * own is self when given), else NULL */
static void
dmg_ancestors_each( Operation *op, slap_overinst *on, struct berval *ndn, Entry *self,
	void ( *fn )( Operation *op, struct berval *dn, Entry *a, void *arg ), void *arg )
{
	struct berval *suffix = &op->o_bd->be_nsuffix[0];
	struct berval p = *ndn;

	while ( p.bv_len >= suffix->bv_len && dnIsSuffix( &p, suffix ) ) {
		Entry *a = self ? self : on ? dmg_entry_get( op, on, &p ) : NULL;

		fn( op, &p, a, arg );
		if ( a && a != self )
			dmg_entry_release( op, on, a );
		self = NULL;
		if ( p.bv_len == suffix->bv_len )
			break;
		dnParent( &p, &p );
	}
}

static void
dmg_filter_add_department( Operation *op, struct berval *dn, Entry *a, void *or )
{
	dmg_filter_or_add_ref( op, or, dmg_ad.department, dn, a );
}

/* (dmgDepartment=A) for every ancestor A of ndn: the groups whose rule may select the entry;
 * with on, also (dmgDepartmentUUID=U) for the entryUUID U of each */
void
dmg_filter_add_ancestors( Operation *op, slap_overinst *on, Filter *or, struct berval *ndn,
	Entry *self )
{
	dmg_ancestors_each( op, on, ndn, self, dmg_filter_add_department, or );
}

/* One level of a reverse lookup: the assertions that find dynamic groups (dyn) and static
 * groups (stat), each an OR */
typedef struct dmg_level {
	Filter *dyn, *stat;
} dmg_level;

/* The groups that name entry e as a member: dynamic groups by dmgIncludeMember (or its
 * UUID), static groups (nested in a dynamic group's overrides) by member or uniqueMember */
static void
dmg_level_add_naming( Operation *op, dmg_level *l, Entry *e )
{
	struct berval *ndn = &e->e_nname;

	if ( l->dyn == NULL )
		l->dyn = dmg_filter_or( op );
	if ( l->stat == NULL )
		l->stat = dmg_filter_or( op );
	dmg_filter_or_add_ref( op, l->dyn, dmg_ad.include_member, ndn, e );
	dmg_filter_or_add( l->stat, dmg_filter_eq( op, dmg_ad.member, ndn ) );
	dmg_filter_or_add( l->stat, dmg_filter_eq( op, dmg_ad.unique_member, ndn ) );
}

static Filter *
dmg_filter_and2( Operation *op, Filter *a, Filter *b )
{
	Filter *and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	and->f_choice = LDAP_FILTER_AND;
	and->f_and = a;
	a->f_next = b;
	return and;
}

/* (|(objectClass=C)...) of the classes of ocs[n] the schema has, built rather than parsed
 * (a reverse lookup builds several per query) */
Filter *
dmg_filter_classes( Operation *op, ObjectClass **ocs, int n )
{
	Filter *or = dmg_filter_or( op );
	int i;

	for ( i = 0; i < n; i++ ) {
		if ( ocs[i] )
			dmg_filter_or_add( or, dmg_filter_eq( op, slap_schema.si_ad_objectClass,
				&ocs[i]->soc_cname ) );
	}
	return or;
}

/* (&(objectClass=dynamicMailGroup)DYN): the class keeps the search to groups also when an
 * assertion has no index (the backend then tests every group, not every entry) */
static Filter *
dmg_filter_dynamic( Operation *op, Filter *dyn )
{
	return dmg_filter_and2( op, dmg_filter_classes( op, &dmg_ad.oc_group, 1 ), dyn );
}

/* The search of a level: (|(&(objectClass=dynamicMailGroup)DYN)(&(static classes)STAT)); the
 * level's filters move into it */
static Filter *
dmg_level_filter( Operation *op, dmg_level *l )
{
	ObjectClass *statics[] = { dmg_ad.oc_group_of_names, dmg_ad.oc_group_of_unique_names };
	Filter *f = dmg_filter_or( op );

	if ( l->stat )
		dmg_filter_or_add( f, dmg_filter_and2( op,
			dmg_filter_classes( op, statics, 2 ), l->stat ) );
	if ( l->dyn )
		dmg_filter_or_add( f, dmg_filter_dynamic( op, l->dyn ) );
	l->dyn = l->stat = NULL;
	return f;
}

/* ber_bvarray_add_x stores the berval itself; the entry it comes from goes away */
void
dmg_bvarray_add_copy( BerVarray *a, struct berval *bv, void *ctx )
{
	struct berval copy;

	ber_dupbv_x( &copy, bv, ctx );
	ber_bvarray_add_x( a, &copy, ctx );
}

int
dmg_bvarray_has_dn( BerVarray a, struct berval *dn )
{
	int i;

	for ( i = 0; a && !BER_BVISNULL( &a[i] ); i++ ) {
		if ( dn_match( &a[i], dn ) )
			return 1;
	}
	return 0;
}

/* Candidate groups, by DN: they are tested once the search is over, because the test reads
 * the database with the requester's operation (ops.c: not from inside a callback), and then
 * looked up again rather than copied here (a group with long override lists is costly to
 * copy, cheap to decode) */
typedef struct dmg_candidates {
	BerVarray ndns;
	void *memctx;
} dmg_candidates;

static int
dmg_candidates_cb( Operation *op, SlapReply *rs )
{
	dmg_candidates *c = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || dmg_named_kind_of( rs->sr_entry ) == DMG_NAMED_ENTRY )
		return 0;
	dmg_bvarray_add_copy( &c->ndns, &rs->sr_entry->e_nname, c->memctx );
	return 0;
}

/* A reverse lookup, level by level: first the groups whose rule may select e and those that
 * name e (remembered by the overlay, named.c, else found by one indexed search), then the
 * groups that name one of the groups found to have e: those remembered, else one search per
 * level of nesting.  Each candidate is tested once with the reverse test. */
typedef struct dmg_reverse {
	BerVarray ndns, dns;	/* the dynamic groups that have e, the result */
	BerVarray seen;		/* every candidate tested */
	dmg_level next;		/* the next level's search, empty when no group was found */
	Filter *cand;		/* the OR the caller's widened filter needs, or NULL */
	int cand_all;		/* a group without entryUUID: the widened filter takes every group */
	unsigned long gen;	/* the operation's cache generation */
	dmg_names *names;	/* the entries groups include, NULL: the levels are searched */
	BerVarray namers;	/* the next level's candidates, from names */
} dmg_reverse;

/* The caller's widened filter finds the groups that have e by their entryUUID: one indexed
 * assertion each (references need that index too), where the assertions that found them
 * (departments, overrides, by DN and UUID, at every level) cost the backend a lookup each */
static void
dmg_reverse_cand_add( Operation *op, dmg_reverse *rv, Entry *g )
{
	struct berval *uuid = dmg_entry_uuid( g );

	if ( uuid == NULL )
		rv->cand_all = 1;
	else if ( !rv->cand_all )
		dmg_filter_or_add( rv->cand, dmg_filter_eq( op, slap_schema.si_ad_entryUUID, uuid ) );
}

/* The widened filter's part for the groups found: (|UUIDS), without the class (an entryUUID
 * names one entry, and ANDing the class would cost the backend the class's index list of
 * every group); the class alone after a group without entryUUID, NULL when none was found */
static Filter *
dmg_reverse_cand( Operation *op, dmg_reverse *rv )
{
	if ( rv->cand_all ) {
		filter_free_x( op, rv->cand, 1 );
		return dmg_filter_classes( op, &dmg_ad.oc_group, 1 );
	}
	if ( rv->cand->f_or == NULL ) {
		filter_free_x( op, rv->cand, 1 );
		return NULL;
	}
	return rv->cand;
}

static int
dmg_reverse_test_group( Operation *op, slap_overinst *on, Entry *e, Entry *g, dmg_reverse *rv )
{
	int yes, rc;

	if ( ( rc = dmg_group_has( op, on, g, e, rv->gen, &yes ) ) != LDAP_SUCCESS || !yes )
		return rc;
	if ( dmg_entry_is_group( g ) ) {
		dmg_bvarray_add_copy( &rv->ndns, &g->e_nname, op->o_tmpmemctx );
		dmg_bvarray_add_copy( &rv->dns, &g->e_name, op->o_tmpmemctx );
		if ( rv->cand )
			dmg_reverse_cand_add( op, rv, g );
	}
	/* the next level: the groups that name g, as remembered (named.c), or a search */
	if ( dmg_names_complete( rv->names ) )
		dmg_names_namers( op, rv->names, g, &rv->namers );
	else
		dmg_level_add_naming( op, &rv->next, g );
	return LDAP_SUCCESS;
}

/* Tests candidate ndn, once per lookup; a candidate gone since the search has nobody */
static int
dmg_reverse_test( Operation *op, slap_overinst *on, Entry *e, struct berval *ndn,
	dmg_reverse *rv )
{
	Entry *g;
	int rc;

	if ( dmg_bvarray_has_dn( rv->seen, ndn ) )
		return LDAP_SUCCESS;
	dmg_bvarray_add_copy( &rv->seen, ndn, op->o_tmpmemctx );
	if ( ( g = dmg_entry_get( op, on, ndn ) ) == NULL )
		return LDAP_SUCCESS;
	/* a remembered namer may have stopped being a group since */
	if ( dmg_named_kind_of( g ) == DMG_NAMED_ENTRY ) {
		dmg_entry_release( op, on, g );
		return LDAP_SUCCESS;
	}
	rc = dmg_reverse_test_group( op, on, e, g, rv );
	dmg_entry_release( op, on, g );
	return rc;
}

typedef struct dmg_department_groups {
	dmg_names *names;
	BerVarray *out;
} dmg_department_groups;

static void
dmg_add_department_groups( Operation *op, struct berval *dn, Entry *a, void *arg )
{
	dmg_department_groups *d = arg;

	dmg_names_departments( op, d->names, dn, a, d->out );
}

/* The first level of a reverse lookup: appends to *ndns the candidates the remembered names
 * give (the groups that name e, those whose rule may select e), and returns the search for
 * the others, NULL when the names know them all */
static Filter *
dmg_reverse_first_level( Operation *op, slap_overinst *on, Entry *e, dmg_reverse *rv,
	BerVarray *ndns )
{
	dmg_department_groups d = { rv->names, ndns };

	if ( dmg_names_complete( rv->names ) )
		dmg_names_namers( op, rv->names, e, ndns );
	else
		dmg_level_add_naming( op, &rv->next, e );
	if ( dmg_names_departments_complete( rv->names ) ) {
		dmg_ancestors_each( op, on, &e->e_nname, e, dmg_add_department_groups, &d );
	} else {
		if ( rv->next.dyn == NULL )
			rv->next.dyn = dmg_filter_or( op );
		dmg_filter_add_ancestors( op, on, rv->next.dyn, &e->e_nname, e );
	}
	return rv->next.dyn ? dmg_level_filter( op, &rv->next ) : NULL;
}

/* With group visibility: the groups that have e as the rootdn sees them, less those whose
 * members op's requester may not see (a group it may not read, a hidden one, or one whose
 * member attribute it may not read) */
static int
dmg_groups_shown( Operation *op, slap_overinst *on, Entry *e, BerVarray *ndns, BerVarray *dns,
	Filter **cand, unsigned long gen )
{
	BerVarray all_n = NULL, all = NULL;
	Operation root;
	dmg_who who;
	Entry *g;
	int i, rc;

	dmg_op_as_root( op, &root );
	dmg_who_begin( &root, on, &who );
	rc = dmg_groups_of_entry( &root, on, e, &all_n, &all, cand, gen );
	dmg_who_end( &root, &who );
	*ndns = NULL;
	if ( dns )
		*dns = NULL;
	for ( i = 0; all_n && !BER_BVISNULL( &all_n[i] ); i++ ) {
		if ( ( g = dmg_entry_get( op, on, &all_n[i] ) ) == NULL )
			continue;
		if ( dmg_named_group_readable( op, on, g ) && dmg_membership_shown( op, on, g ) ) {
			dmg_bvarray_add_copy( ndns, &all_n[i], op->o_tmpmemctx );
			if ( dns )
				dmg_bvarray_add_copy( dns, &all[i], op->o_tmpmemctx );
		}
		dmg_entry_release( op, on, g );
	}
	ber_bvarray_free_x( all_n, op->o_tmpmemctx );
	ber_bvarray_free_x( all, op->o_tmpmemctx );
	return rc;
}

int
dmg_groups_of_entry( Operation *op, slap_overinst *on, Entry *e, BerVarray *ndns, BerVarray *dns,
	Filter **cand, unsigned long gen )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_candidates c = { NULL, op->o_tmpmemctx };
	dmg_reverse rv;
	slap_callback cb = { 0 };
	Operation root;
	Filter *f;
	unsigned i;
	int rc = LDAP_SUCCESS;

	if ( di->visibility_group && !dmg_is_root( op, on ) )
		return dmg_groups_shown( op, on, e, ndns, dns, cand, gen );
	memset( &rv, 0, sizeof( rv ) );
	rv.gen = gen;
	rv.names = dmg_names_acquire( op, on, gen );
	cb.sc_response = dmg_candidates_cb;
	cb.sc_private = &c;
	f = dmg_reverse_first_level( op, on, e, &rv, &c.ndns );
	if ( cand )
		rv.cand = dmg_filter_or( op );
	/* candidates are found with the rootdn's rights (the requester may not be allowed to
	 * search dmgDepartment); each is then checked with the requester's */
	dmg_op_as_root( op, &root );
	while ( rc == LDAP_SUCCESS && ( f || c.ndns ) ) {
		if ( f ) {
			rc = dmg_internal_search( &root, &op->o_bd->be_nsuffix[0],
				LDAP_SCOPE_SUBTREE, f, &cb );
			filter_free_x( op, f, 1 );
			f = NULL;
		}
		for ( i = 0; rc == LDAP_SUCCESS && c.ndns && !BER_BVISNULL( &c.ndns[i] ); i++ )
			rc = dmg_reverse_test( op, on, e, &c.ndns[i], &rv );
		ber_bvarray_free_x( c.ndns, op->o_tmpmemctx );
		/* the next level: remembered namers, or a search (each tested once: rv.seen) */
		c.ndns = rv.namers;
		rv.namers = NULL;
		if ( rv.next.dyn )
			f = dmg_level_filter( op, &rv.next );
	}
	if ( f )
		filter_free_x( op, f, 1 );
	ber_bvarray_free_x( c.ndns, op->o_tmpmemctx );
	if ( rv.next.dyn )
		filter_free_x( op, dmg_level_filter( op, &rv.next ), 1 );
	ber_bvarray_free_x( rv.seen, op->o_tmpmemctx );
	dmg_names_release( on, rv.names );
	if ( rc != LDAP_SUCCESS ) {
		ber_bvarray_free_x( rv.ndns, op->o_tmpmemctx );
		ber_bvarray_free_x( rv.dns, op->o_tmpmemctx );
		if ( rv.cand )
			filter_free_x( op, rv.cand, 1 );
		rv.ndns = rv.dns = NULL;
		rv.cand = NULL;
	}
	*ndns = rv.ndns;
	if ( dns )
		*dns = rv.dns;
	else
		ber_bvarray_free_x( rv.dns, op->o_tmpmemctx );
	if ( cand )
		*cand = rv.cand ? dmg_reverse_cand( op, &rv ) : NULL;
	return rc;
}

typedef struct dmg_mail_ctx {
	BerVarray ndns;
	void *memctx;
} dmg_mail_ctx;

static int
dmg_mail_cb( Operation *op, SlapReply *rs )
{
	dmg_mail_ctx *ctx = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	if ( !access_allowed( op, rs->sr_entry, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	dmg_bvarray_add_copy( &ctx->ndns, &rs->sr_entry->e_nname, ctx->memctx );
	return 0;
}

int
dmg_entries_with_mail( Operation *op, slap_overinst *on, struct berval *addr, BerVarray *ndns )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_mail_ctx ctx = { NULL, op->o_tmpmemctx };
	slap_callback cb = { 0 };
	Operation root, *sop = op;
	Filter *and;
	struct berval nmail = BER_BVNULL;
	const char *text = NULL;
	MatchingRule *mr = dmg_ad.mail->ad_type->sat_equality;
	int rc;

	*ndns = NULL;
	if ( mr == NULL || asserted_value_validate_normalize( dmg_ad.mail, mr, SLAP_MR_EQUALITY,
			addr, &nmail, &text, op->o_tmpmemctx ) != LDAP_SUCCESS )
		return LDAP_SUCCESS;	/* not a valid mail value: nobody has it */
	and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );
	and->f_choice = LDAP_FILTER_AND;
	and->f_and = dmg_filter_eq( op, dmg_ad.mail, &nmail );
	and->f_and->f_next = filter_dup( di->member_filter, op->o_tmpmemctx );
	op->o_tmpfree( nmail.bv_val, op->o_tmpmemctx );
	cb.sc_response = dmg_mail_cb;
	cb.sc_private = &ctx;
	/* with group visibility the entries are tested as the rootdn sees them, and what the
	 * requester learns is decided on the groups (dmg_membership_begin) */
	if ( di->visibility_group ) {
		dmg_op_as_root( op, &root );
		sop = &root;
	}
	rc = dmg_internal_search( sop, &op->o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, and, &cb );
	filter_free_x( op, and, 1 );
	if ( rc != LDAP_SUCCESS ) {
		/* an incomplete list of entries is no answer */
		ber_bvarray_free_x( ctx.ndns, op->o_tmpmemctx );
		return rc;
	}
	*ndns = ctx.ndns;
	return LDAP_SUCCESS;
}

int
dmg_member_of_to_entry( Operation *op, slap_overinst *on, Entry *e, Entry *target,
	unsigned long gen )
{
	BerVarray ndns = NULL, dns = NULL;
	int rc;

	rc = dmg_groups_of_entry( op, on, e, &ndns, &dns, NULL, gen );
	if ( ndns )
		attr_merge( target, dmg_ad.member_of, dns, ndns );
	ber_bvarray_free_x( ndns, op->o_tmpmemctx );
	ber_bvarray_free_x( dns, op->o_tmpmemctx );
	return rc;
}
