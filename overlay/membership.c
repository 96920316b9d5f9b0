/* membership.c -- who is a member of a group (man page MEMBERSHIP)
 *
 * Two directions, one definition.  E is a member of G when E matches G's rule filter (member
 * filter AND conditions), lies in the subtree of one of G's departments, and -- with
 * dmgIncludeSubDepartments FALSE -- no entry strictly between E and that department matches
 * the department filter.
 *
 *  - forward (dmg_members_expand): one internal subtree search per department, run with the
 *    requester's identity and without size or time limits, so slapd's ACLs decide what the
 *    requester sees and nothing is ever cut short;
 *  - reverse (dmg_rule_has_member): the same tests on one given entry, so that "which groups
 *    is E in" never expands a group.
 *
 * Both apply the same access checks the backend applies to a search: search access on the
 * department (the search base), read access on the member entry, search access on every
 * attribute the filter tests (test_filter), and read access on each mail value returned.
 * Department structure (the nesting test) is a property of the group, not of the reader, so
 * it is evaluated with the rootdn's rights.
 */
#include "dmg.h"

/* ---- member list --------------------------------------------------------------------------- */

void
dmg_members_free( dmg_members *ms )
{
	unsigned i;

	for ( i = 0; i < ms->n; i++ ) {
		ch_free( ms->m[i].dn.bv_val );
		ch_free( ms->m[i].ndn.bv_val );
	}
	for ( i = 0; i < ms->nmail_count; i++ ) {
		ch_free( ms->mail[i].bv_val );
		ch_free( ms->nmail[i].bv_val );
	}
	ch_free( ms->m );
	ch_free( ms->mail );
	ch_free( ms->nmail );
	ch_free( ms->dn_vals );		/* one block with dn_nvals */
	ch_free( ms->mail_vals );	/* one block with mail_nvals */
	memset( ms, 0, sizeof( *ms ) );
}

/* Builds the attribute-ready arrays of a complete list (after deduplication, so that the
 * mail values of a member dropped as duplicate are left out). */
static void
dmg_members_index( dmg_members *ms )
{
	unsigned i, j, k = 0;

	ms->dn_vals = ch_malloc( ( ms->n + 1 ) * 2 * sizeof( struct berval ) );
	ms->dn_nvals = ms->dn_vals + ms->n + 1;
	for ( i = 0; i < ms->n; i++ ) {
		ms->dn_vals[i] = ms->m[i].dn;
		ms->dn_nvals[i] = ms->m[i].ndn;
	}
	BER_BVZERO( &ms->dn_vals[ms->n] );
	BER_BVZERO( &ms->dn_nvals[ms->n] );

	ms->mail_vals = ch_malloc( ( ms->nmail_count + 1 ) * 2 * sizeof( struct berval ) );
	ms->mail_nvals = ms->mail_vals + ms->nmail_count + 1;
	for ( i = 0; i < ms->n; i++ ) {
		for ( j = 0; j < ms->m[i].mail_count; j++, k++ ) {
			ms->mail_vals[k] = ms->mail[ms->m[i].mail_first + j];
			ms->mail_nvals[k] = ms->nmail[ms->m[i].mail_first + j];
		}
	}
	BER_BVZERO( &ms->mail_vals[k] );
	BER_BVZERO( &ms->mail_nvals[k] );
	ms->mail_n = k;
}

static void
dmg_members_push_mail( dmg_members *ms, struct berval *val, struct berval *nval )
{
	if ( ms->nmail_count == ms->mail_cap ) {
		ms->mail_cap = ms->mail_cap ? ms->mail_cap * 2 : 64;
		ms->mail = ch_realloc( ms->mail, ms->mail_cap * sizeof( struct berval ) );
		ms->nmail = ch_realloc( ms->nmail, ms->mail_cap * sizeof( struct berval ) );
	}
	ber_dupbv( &ms->mail[ms->nmail_count], val );
	ber_dupbv( &ms->nmail[ms->nmail_count], nval );
	ms->nmail_count++;
}

/* Appends e with the mail values op may read. */
static void
dmg_members_push( Operation *op, dmg_members *ms, Entry *e )
{
	AccessControlState acl_state = ACL_STATE_INIT;
	dmg_member *m;
	Attribute *a;
	unsigned i;

	if ( ms->n == ms->cap ) {
		ms->cap = ms->cap ? ms->cap * 2 : 64;
		ms->m = ch_realloc( ms->m, ms->cap * sizeof( dmg_member ) );
	}
	m = &ms->m[ms->n++];
	ber_dupbv( &m->dn, &e->e_name );
	ber_dupbv( &m->ndn, &e->e_nname );
	m->mail_first = ms->nmail_count;
	a = attr_find( e->e_attrs, dmg_ad.mail );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( access_allowed( op, e, dmg_ad.mail, &a->a_nvals[i], ACL_READ, &acl_state ) )
			dmg_members_push_mail( ms, &a->a_vals[i], &a->a_nvals[i] );
	}
	m->mail_count = ms->nmail_count - m->mail_first;
}

static int
dmg_member_cmp( const void *a, const void *b )
{
	const dmg_member *x = a, *y = b;

	if ( x->ndn.bv_len != y->ndn.bv_len )
		return x->ndn.bv_len < y->ndn.bv_len ? -1 : 1;
	return memcmp( x->ndn.bv_val, y->ndn.bv_val, x->ndn.bv_len );
}

/* Several departments may overlap (a department and one nested in it, both named with
 * dmgIncludeSubDepartments FALSE and a non-department in between): keep each member once. */
static void
dmg_members_dedupe( dmg_members *ms )
{
	unsigned i, j;

	if ( ms->n < 2 )
		return;
	qsort( ms->m, ms->n, sizeof( dmg_member ), dmg_member_cmp );
	for ( i = 1, j = 0; i < ms->n; i++ ) {
		if ( dmg_member_cmp( &ms->m[i], &ms->m[j] ) == 0 ) {
			/* its mail values stay in the array but are no longer referenced */
			ch_free( ms->m[i].dn.bv_val );
			ch_free( ms->m[i].ndn.bv_val );
			continue;
		}
		ms->m[++j] = ms->m[i];
	}
	ms->n = j + 1;
}

/* ---- department structure -------------------------------------------------------------------- */

static int
dmg_is_department( Operation *op, slap_overinst *on, struct berval *ndn )
{
	dmg_info *di = on->on_bi.bi_private;
	Operation root;
	Entry *e = NULL;
	int rc = 0;

	if ( ( e = dmg_entry_get( op, on, ndn ) ) == NULL )
		return 0;
	dmg_op_as_root( op, &root );
	rc = test_filter( &root, e, di->dept_filter ) == LDAP_COMPARE_TRUE;
	dmg_entry_release( op, on, e );
	return rc;
}

/* Remembers the answer for the last parent asked about: members come in runs that share
 * their parent entry, so one department lookup serves a whole team. */
typedef struct dmg_nest_memo {
	char buf[1024];
	struct berval parent;
	int nested;
} dmg_nest_memo;

/* Does an entry strictly between ndn and dept match the department filter? */
static int
dmg_below_nested_department( Operation *op, slap_overinst *on, struct berval *ndn,
	struct berval *dept, dmg_nest_memo *memo )
{
	struct berval p;
	int nested = 0;

	dnParent( ndn, &p );
	if ( memo && memo->parent.bv_val && dn_match( &p, &memo->parent ) )
		return memo->nested;
	{
		struct berval q = p;

		while ( q.bv_len > dept->bv_len ) {
			if ( dmg_is_department( op, on, &q ) ) {
				nested = 1;
				break;
			}
			dnParent( &q, &q );
		}
	}
	if ( memo ) {
		if ( p.bv_len < sizeof( memo->buf ) ) {
			memcpy( memo->buf, p.bv_val, p.bv_len );
			memo->parent.bv_val = memo->buf;
			memo->parent.bv_len = p.bv_len;
			memo->nested = nested;
		} else {
			BER_BVZERO( &memo->parent );
		}
	}
	return nested;
}

/* ---- forward: expand a group ------------------------------------------------------------------- */

typedef struct dmg_expand_ctx {
	slap_overinst *on;
	dmg_members *out;
	struct berval *dept;
	int include_sub;
	unsigned long stop_after;	/* abort the search past this many entries; 0 = never */
	int stopped;
	dmg_nest_memo memo;
} dmg_expand_ctx;

static int
dmg_expand_cb( Operation *op, SlapReply *rs )
{
	dmg_expand_ctx *ctx = op->o_callback->sc_private;
	Entry *e = rs->sr_entry;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	if ( !ctx->include_sub
		&& dmg_below_nested_department( op, ctx->on, &e->e_nname, ctx->dept, &ctx->memo ) )
		return 0;
	dmg_members_push( op, ctx->out, e );
	if ( ctx->stop_after && ctx->out->n > ctx->stop_after ) {
		ctx->stopped = 1;
		/* makes the backend end the search at once */
		return LDAP_SIZELIMIT_EXCEEDED;
	}
	return 0;
}

/* With dmgIncludeSubDepartments TRUE a department inside another named department adds
 * nobody: skip its search. */
static int
dmg_dept_covered( dmg_rule *r, int i )
{
	int j;

	if ( !r->include_sub )
		return 0;
	for ( j = 0; j < r->ndepts; j++ ) {
		if ( j != i && r->depts[i].bv_len > r->depts[j].bv_len
			&& dnIsSuffix( &r->depts[i], &r->depts[j] ) )
			return 1;
	}
	return 0;
}

/* A department search's answer: a department that is gone, or that the requester may not
 * search (back-mdb answers noSuchObject or insufficientAccess on the base), adds nobody, as in
 * the reverse test (dmg_may_search_department); any other failure fails the whole expansion. */
static int
dmg_department_search_result( int rc )
{
	switch ( rc ) {
	case LDAP_SUCCESS:
	case LDAP_NO_SUCH_OBJECT:
	case LDAP_INSUFFICIENT_ACCESS:
		return LDAP_SUCCESS;
	}
	return rc;
}

int
dmg_members_expand( Operation *op, slap_overinst *on, Entry *group, dmg_members *out )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_expand_ctx ctx;
	slap_callback cb = { 0 };
	dmg_rule r;
	int i, searched = 0, rc = LDAP_SUCCESS;

	memset( out, 0, sizeof( *out ) );
	dmg_rule_from_entry( op, di, group, &r );
	memset( &ctx, 0, sizeof( ctx ) );
	ctx.on = on;
	ctx.out = out;
	ctx.include_sub = r.include_sub;
	/* with one search the count is exact as it goes; with several, duplicates are only
	 * known after dmg_members_dedupe */
	ctx.stop_after = ( r.ndepts == 1 ) ? di->max_members : 0;
	cb.sc_response = dmg_expand_cb;
	cb.sc_private = &ctx;

	for ( i = 0; i < r.ndepts && !ctx.stopped && rc == LDAP_SUCCESS; i++ ) {
		if ( dmg_dept_covered( &r, i ) )
			continue;
		ctx.dept = &r.depts[i];
		BER_BVZERO( &ctx.memo.parent );
		rc = dmg_internal_search( op, &r.depts[i], LDAP_SCOPE_SUBTREE, r.filter, &cb );
		rc = ctx.stopped ? LDAP_ADMINLIMIT_EXCEEDED : dmg_department_search_result( rc );
		searched++;
	}
	dmg_rule_free( op, &r );
	if ( rc != LDAP_SUCCESS ) {
		/* never a partial list */
		dmg_members_free( out );
		return rc;
	}
	if ( searched > 1 )
		dmg_members_dedupe( out );
	if ( di->max_members && out->n > di->max_members ) {
		dmg_members_free( out );
		return LDAP_ADMINLIMIT_EXCEEDED;
	}
	dmg_members_index( out );
	return LDAP_SUCCESS;
}

/* ---- reverse: is one entry a member -------------------------------------------------------------- */

/* The backend requires search access on the search base; so does the reverse test. */
static int
dmg_may_search_department( Operation *op, slap_overinst *on, struct berval *dept )
{
	Entry *d = NULL;
	int ok;

	if ( ( d = dmg_entry_get( op, on, dept ) ) == NULL )
		return 0;
	ok = access_allowed( op, d, slap_schema.si_ad_entry, NULL, ACL_SEARCH, NULL );
	dmg_entry_release( op, on, d );
	return ok;
}

int
dmg_rule_has_member( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e )
{
	int i;

	for ( i = 0; i < r->ndepts; i++ ) {
		if ( !dnIsSuffix( &e->e_nname, &r->depts[i] ) )
			continue;
		if ( !r->include_sub
			&& dmg_below_nested_department( op, on, &e->e_nname, &r->depts[i], NULL ) )
			continue;
		if ( !dmg_may_search_department( op, on, &r->depts[i] ) )
			continue;
		break;
	}
	if ( i == r->ndepts )
		return 0;
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	return test_filter( op, e, r->filter ) == LDAP_COMPARE_TRUE;
}

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
dmg_candidate_filter( Operation *op, struct berval *ndn )
{
	struct berval *suffix = &op->o_bd->be_nsuffix[0];
	Filter *or, **tail;
	struct berval p = *ndn;

	or = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );
	or->f_choice = LDAP_FILTER_OR;
	tail = &or->f_or;
	while ( p.bv_len >= suffix->bv_len && dnIsSuffix( &p, suffix ) ) {
		*tail = dmg_filter_eq( op, dmg_ad.department, &p );
		tail = &(*tail)->f_next;
		if ( p.bv_len == suffix->bv_len )
			break;
		dnParent( &p, &p );
	}
	return or;
}

/* ber_bvarray_add_x stores the berval itself; the entry it comes from goes away */
static void
dmg_bvarray_add_copy( BerVarray *a, struct berval *bv, void *ctx )
{
	struct berval copy;

	ber_dupbv_x( &copy, bv, ctx );
	ber_bvarray_add_x( a, &copy, ctx );
}

/* Candidate groups, copied: they are tested once the search is over, because the test reads
 * the database with the requester's operation (ops.c: not from inside a callback). */
typedef struct dmg_candidates {
	Entry **g;
	unsigned n, cap;
} dmg_candidates;

static int
dmg_candidates_cb( Operation *op, SlapReply *rs )
{
	dmg_candidates *c = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || !dmg_entry_is_group( rs->sr_entry ) )
		return 0;
	if ( c->n == c->cap ) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->g = ch_realloc( c->g, c->cap * sizeof( Entry * ) );
	}
	c->g[c->n++] = entry_dup( rs->sr_entry );
	return 0;
}

static void
dmg_candidates_free( dmg_candidates *c )
{
	unsigned i;

	for ( i = 0; i < c->n; i++ )
		entry_free( c->g[i] );
	ch_free( c->g );
}

/* Is candidate group g one of e's groups, as op sees it? */
static int
dmg_group_has( Operation *op, slap_overinst *on, Entry *g, Entry *e )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_rule r;
	int yes;

	if ( !access_allowed( op, g, slap_schema.si_ad_entry, NULL, ACL_READ, NULL )
		|| !dmg_group_visible( op, on, g ) )
		return 0;
	dmg_rule_from_entry( op, di, g, &r );
	yes = dmg_rule_has_member( op, on, &r, e );
	dmg_rule_free( op, &r );
	return yes;
}

int
dmg_groups_of_entry( Operation *op, slap_overinst *on, Entry *e, BerVarray *ndns, BerVarray *dns )
{
	dmg_candidates c = { NULL, 0, 0 };
	slap_callback cb = { 0 };
	Operation root;
	Filter *f;
	unsigned i;
	int rc;

	*ndns = NULL;
	if ( dns )
		*dns = NULL;
	cb.sc_response = dmg_candidates_cb;
	cb.sc_private = &c;
	f = dmg_candidate_filter( op, &e->e_nname );
	/* candidates are found with the rootdn's rights (the requester may not be allowed to
	 * search dmgDepartment); each is then checked with the requester's */
	dmg_op_as_root( op, &root );
	rc = dmg_internal_search( &root, &op->o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, f, &cb );
	filter_free_x( op, f, 1 );
	for ( i = 0; rc == LDAP_SUCCESS && i < c.n; i++ ) {
		if ( !dmg_group_has( op, on, c.g[i], e ) )
			continue;
		dmg_bvarray_add_copy( ndns, &c.g[i]->e_nname, op->o_tmpmemctx );
		if ( dns )
			dmg_bvarray_add_copy( dns, &c.g[i]->e_name, op->o_tmpmemctx );
	}
	dmg_candidates_free( &c );
	if ( rc != LDAP_SUCCESS ) {
		ber_bvarray_free_x( *ndns, op->o_tmpmemctx );
		*ndns = NULL;
		if ( dns ) {
			ber_bvarray_free_x( *dns, op->o_tmpmemctx );
			*dns = NULL;
		}
	}
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
	rc = dmg_internal_search( op, &op->o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, and, &cb );
	filter_free_x( op, and, 1 );
	if ( rc != LDAP_SUCCESS ) {
		/* an incomplete list of entries is no answer */
		ber_bvarray_free_x( ctx.ndns, op->o_tmpmemctx );
		return rc;
	}
	*ndns = ctx.ndns;
	return LDAP_SUCCESS;
}

/* ---- computed values onto an entry ------------------------------------------------------------------ */

void
dmg_attr_add_ulong( Entry *e, AttributeDescription *ad, unsigned long v )
{
	char buf[32];
	struct berval bv;

	bv.bv_len = snprintf( buf, sizeof( buf ), "%lu", v );
	bv.bv_val = buf;
	attr_merge_one( e, ad, &bv, &bv );
}

/* Copies the values into target, or attaches them: the entry then points into the member
 * list, and attr_free leaves the values alone (SLAP_ATTR_DONT_FREE_VALS). */
static void
dmg_put_values( Entry *target, AttributeDescription *ad, struct berval *vals,
	struct berval *nvals, unsigned n, int attach )
{
	Attribute *a, **tail;

	if ( n == 0 )
		return;
	if ( !attach ) {
		attr_merge( target, ad, vals, nvals );
		return;
	}
	a = attr_alloc( ad );
	a->a_vals = vals;
	a->a_nvals = nvals;
	a->a_numvals = n;
	a->a_flags |= SLAP_ATTR_DONT_FREE_VALS;
	for ( tail = &target->e_attrs; *tail; tail = &(*tail)->a_next )
		;
	*tail = a;
}

/* ---- the cache --------------------------------------------------------------------------------- */

void
dmg_members_free_value( void *ms )
{
	dmg_members_free( ms );
	ch_free( ms );
}

static int
dmg_members_cacheable( Operation *op, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;

	return di->cache_max_values > 0
		&& ( dmg_is_root( op, on ) || dmg_is_privileged( op, on ) || dmg_is_postmaster( op, on ) );
}

unsigned long
dmg_operation_generation( Operation *op, dmg_info *di )
{
	/* Read before the operation's first read of the database.  An operation issued from
	 * inside another one (its OpExtra list is not empty: the backend's transaction, another
	 * overlay's marker) may read through a snapshot older than the generation: it may use
	 * cached lists but not store one. */
	if ( dmg_op_nested( op ) )
		return DMG_NO_GENERATION;
	return dmg_cache_generation( di->cache );
}

/* "group ndn" NUL "identity ndn": a list is reused only for the identity it was computed for */
static char *
dmg_cache_key( Operation *op, Entry *group, size_t *len )
{
	char *key;

	*len = group->e_nname.bv_len + 1 + op->o_ndn.bv_len;
	key = op->o_tmpalloc( *len, op->o_tmpmemctx );
	memcpy( key, group->e_nname.bv_val, group->e_nname.bv_len );
	key[group->e_nname.bv_len] = '\0';
	memcpy( key + group->e_nname.bv_len + 1, op->o_ndn.bv_val, op->o_ndn.bv_len );
	return key;
}

/* ---- what a cached list depends on ---------------------------------------------------------
 *
 * A list is tagged with its group's DN and with the values of the group attributes that
 * dmg_candidate_filter tests; a write to entry E invalidates the values that filter asserts
 * for E's DN.  A tag and a key then meet exactly when the group matches the filter for E (or
 * is E), so invalidation drops the groups the reverse lookup would consider for E, and follows
 * that function when it learns of more attributes.  Whatever the filter holds other than
 * equalities (and AND/OR/NOT of them) is taken as unbounded: everything is dropped.
 */

typedef struct dmg_tags {
	dmg_cache_tag *t;
	size_t n, cap;
	AttributeDescription *ads[8];	/* the attributes the filter tests */
	int nads;
	int unbounded;
	Operation *op;
} dmg_tags;

static void
dmg_tags_add( dmg_tags *ts, struct berval *bv )
{
	if ( ts->n == ts->cap ) {
		ts->cap = ts->cap ? ts->cap * 2 : 16;
		ts->t = ts->op->o_tmprealloc( ts->t, ts->cap * sizeof( dmg_cache_tag ),
			ts->op->o_tmpmemctx );
	}
	ts->t[ts->n].val = bv->bv_val;
	ts->t[ts->n].len = bv->bv_len;
	ts->n++;
}

static void
dmg_tags_add_ad( dmg_tags *ts, AttributeDescription *ad )
{
	int i;

	for ( i = 0; i < ts->nads && ts->ads[i] != ad; i++ )
		;
	if ( i < ts->nads )
		return;
	if ( ts->nads == (int)( sizeof( ts->ads ) / sizeof( ts->ads[0] ) ) )
		ts->unbounded = 1;
	else
		ts->ads[ts->nads++] = ad;
}

/* The equality assertions of f: their values as tags, their attributes in ads */
static void
dmg_tags_of_filter( dmg_tags *ts, Filter *f )
{
	for ( ; f; f = f->f_next ) {
		switch ( f->f_choice ) {
		case LDAP_FILTER_AND:
		case LDAP_FILTER_OR:
			dmg_tags_of_filter( ts, f->f_list );
			break;
		case LDAP_FILTER_NOT:
			dmg_tags_of_filter( ts, f->f_not );
			break;
		case LDAP_FILTER_EQUALITY:
			dmg_tags_add( ts, &f->f_ava->aa_value );
			dmg_tags_add_ad( ts, f->f_ava->aa_desc );
			break;
		default:
			ts->unbounded = 1;
		}
	}
}

/* Does a list computed for op's identity depend on entries other than the group, its
 * departments' subtrees and their ancestors?  It does when an access rule reads other
 * entries: group membership, sets, dynamic ACLs (ACIs are stored on any ancestor).  The
 * rootdn's lists never do. */
static int
dmg_acl_reads_other_entries( Operation *op, slap_overinst *on )
{
	AccessControl *lists[2], *a;
	Access *b;
	int i;

	if ( dmg_is_root( op, on ) )
		return 0;
	lists[0] = op->o_bd->be_acl;
	lists[1] = frontendDB->be_acl;
	for ( i = 0; i < 2; i++ ) {
		for ( a = lists[i]; a; a = a->acl_next ) {
			for ( b = a->acl_access; b; b = b->a_next ) {
				if ( !BER_BVISEMPTY( &b->a_group_pat ) || !BER_BVISEMPTY( &b->a_set_pat )
					|| b->a_dynacl != NULL )
					return 1;
			}
		}
	}
	return 0;
}

/* Tags of group's list for op's identity; ts->unbounded when it must go untagged */
static void
dmg_group_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	dmg_tags probe = { 0 };
	Filter *f;
	Attribute *a;
	unsigned j;
	int i;

	memset( ts, 0, sizeof( *ts ) );
	ts->op = probe.op = op;
	if ( dmg_acl_reads_other_entries( op, on ) ) {
		ts->unbounded = 1;
		return;
	}
	/* the attributes the filter tests, learnt from the filter for the group's own DN */
	f = dmg_candidate_filter( op, &group->e_nname );
	dmg_tags_of_filter( &probe, f );
	ts->unbounded = probe.unbounded || probe.nads == 0;
	dmg_tags_add( ts, &group->e_nname );
	for ( i = 0; i < probe.nads; i++ ) {
		a = attr_find( group->e_attrs, probe.ads[i] );
		for ( j = 0; a && j < a->a_numvals; j++ )
			dmg_tags_add( ts, &a->a_nvals[j] );
	}
	op->o_tmpfree( probe.t, op->o_tmpmemctx );
	filter_free_x( op, f, 1 );
}

/* The keys of a write to the entry ndn: what dmg_candidate_filter asserts for it, and ndn
 * itself (a group's own lists, dmg_group_tags); f keeps the values, free it after use */
static Filter *
dmg_write_keys( Operation *op, struct berval *ndn, dmg_tags *keys )
{
	Filter *f = dmg_candidate_filter( op, ndn );

	dmg_tags_of_filter( keys, f );
	dmg_tags_add( keys, ndn );
	return f;
}

void
dmg_cache_invalidate_entry( Operation *op, dmg_info *di, struct berval *ndn,
	struct berval *new_ndn )
{
	dmg_tags keys = { 0 };
	dmg_cache_tag moved[2];
	Filter *f, *g = NULL;

	keys.op = op;
	f = dmg_write_keys( op, ndn, &keys );
	if ( new_ndn ) {
		/* the subtree moves with the entry: lists of groups naming an entry at or below
		 * either DN go too */
		g = dmg_write_keys( op, new_ndn, &keys );
		moved[0].val = ndn->bv_val;
		moved[0].len = ndn->bv_len;
		moved[1].val = new_ndn->bv_val;
		moved[1].len = new_ndn->bv_len;
	}
	if ( keys.unbounded )
		dmg_cache_invalidate( di->cache );
	else
		dmg_cache_invalidate_moved( di->cache, keys.t, keys.n, moved, new_ndn ? 2 : 0 );
	op->o_tmpfree( keys.t, op->o_tmpmemctx );
	filter_free_x( op, f, 1 );
	if ( g )
		filter_free_x( op, g, 1 );
}

/* What a list holds, for the statistics (the allocator's own overhead left out) */
static size_t
dmg_members_bytes( dmg_members *ms )
{
	size_t b = sizeof( *ms ) + ms->cap * sizeof( dmg_member )
		+ ( ms->mail_cap * 2 + ( ms->n + 1 ) * 2 + ( ms->nmail_count + 1 ) * 2 )
			* sizeof( struct berval );
	unsigned i;

	for ( i = 0; i < ms->n; i++ )
		b += ms->m[i].dn.bv_len + ms->m[i].ndn.bv_len + 2;
	for ( i = 0; i < ms->nmail_count; i++ )
		b += ms->mail[i].bv_len + ms->nmail[i].bv_len + 2;
	return b;
}

/* Stores a list computed from data read at generation gen; 1 when the cache took it */
static int
dmg_members_store( Operation *op, slap_overinst *on, Entry *group, char *key, size_t len,
	unsigned long gen, dmg_members *ms, dmg_cache_entry **held )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_tags ts;
	int stored;

	dmg_group_tags( op, on, group, &ts );
	stored = dmg_cache_put_tagged( di->cache, key, len, gen, ts.t,
		ts.unbounded ? 0 : ts.n, ms, ms->n + ms->nmail_count, dmg_members_bytes( ms ), held );
	op->o_tmpfree( ts.t, op->o_tmpmemctx );
	return stored;
}

static int
dmg_members_compute( Operation *op, slap_overinst *on, Entry *group, dmg_members_view *v )
{
	v->ms = &v->owned;
	return dmg_members_expand( op, on, group, &v->owned );
}

int
dmg_members_acquire( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	dmg_members_view *v )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_members *computed;
	size_t len;
	char *key;
	int rc;

	memset( v, 0, sizeof( *v ) );
	if ( !dmg_members_cacheable( op, on ) )
		return dmg_members_compute( op, on, group, v );
	key = dmg_cache_key( op, group, &len );
	v->ms = dmg_cache_get( di->cache, key, len, &v->held );
	if ( v->ms ) {
		op->o_tmpfree( key, op->o_tmpmemctx );
		return LDAP_SUCCESS;
	}
	/* gen was read before this operation took its database snapshot: a write committed
	 * since then that concerns the group has stamped one of its tags, and the put fails */
	computed = ch_calloc( 1, sizeof( dmg_members ) );
	rc = dmg_members_expand( op, on, group, computed );
	if ( rc == LDAP_SUCCESS
		&& dmg_members_store( op, on, group, key, len, gen, computed, &v->held ) ) {
		v->ms = computed;
	} else {
		v->owned = *computed;
		v->ms = &v->owned;
		ch_free( computed );
	}
	op->o_tmpfree( key, op->o_tmpmemctx );
	return rc;
}

void
dmg_members_release( slap_overinst *on, dmg_members_view *v )
{
	dmg_info *di = on->on_bi.bi_private;

	if ( v->held )
		dmg_cache_release( di->cache, v->held );
	else
		dmg_members_free( &v->owned );
	memset( v, 0, sizeof( *v ) );
}

void
dmg_members_put( Entry *target, dmg_members *ms, int want_member, int want_mail,
	int want_count, int attach )
{
	/* a stored member value (written before the overlay was configured) is not ours */
	attr_delete( &target->e_attrs, dmg_ad.member );
	if ( want_member )
		dmg_put_values( target, dmg_ad.member, ms->dn_vals, ms->dn_nvals, ms->n, attach );
	if ( want_mail )
		dmg_put_values( target, dmg_ad.member_mail, ms->mail_vals, ms->mail_nvals,
			ms->mail_n, attach );
	if ( want_count )
		dmg_attr_add_ulong( target, dmg_ad.member_count, ms->n );
}

int
dmg_members_to_entry( Operation *op, slap_overinst *on, Entry *group, Entry *target,
	unsigned long gen, int want_member, int want_mail, int want_count, dmg_members_view *keep )
{
	dmg_members_view v;
	int rc;

	rc = dmg_members_acquire( op, on, group, gen, &v );
	if ( rc != LDAP_SUCCESS ) {
		dmg_members_release( on, &v );
		return rc;
	}
	dmg_members_put( target, v.ms, want_member, want_mail, want_count, keep != NULL );
	if ( keep ) {
		*keep = v;
		/* the owned list moves with the view: its arrays point into it, not into v */
		if ( keep->held == NULL )
			keep->ms = &keep->owned;
	} else {
		dmg_members_release( on, &v );
	}
	return LDAP_SUCCESS;
}

int
dmg_member_of_to_entry( Operation *op, slap_overinst *on, Entry *e, Entry *target )
{
	BerVarray ndns = NULL, dns = NULL;
	int rc;

	rc = dmg_groups_of_entry( op, on, e, &ndns, &dns );
	if ( ndns )
		attr_merge( target, dmg_ad.member_of, dns, ndns );
	ber_bvarray_free_x( ndns, op->o_tmpmemctx );
	ber_bvarray_free_x( dns, op->o_tmpmemctx );
	return rc;
}
