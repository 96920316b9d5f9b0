/* membership.c -- who is a member of a group (man page MEMBERSHIP and OVERRIDES)
 *
 * Two directions, one definition.  E is a member of G when E is not excluded, matches the
 * member filter, and either is included or is selected by the rule: E matches G's conditions,
 * lies in the subtree of one of G's departments, and -- with dmgIncludeSubDepartments FALSE --
 * no entry strictly between E and that department matches the department filter.  A
 * dmgIncludeMember or dmgExcludeMember value naming a group (dynamic, groupOfNames,
 * groupOfUniqueNames) stands for that group's members, computed the same way; a group met
 * again below itself (a cycle, possible through static groups the guard does not see) stands
 * for nobody there (dmg_path), and each named group is computed once per computation
 * (dmg_memo), however many paths lead to it.
 *
 *  - forward (dmg_members_expand): one internal subtree search per department, run with the
 *    requester's identity and without size or time limits, so slapd's ACLs decide what the
 *    requester sees and nothing is ever cut short; then the included entries and groups, less
 *    the excluded ones;
 *  - reverse (dmg_rule_why, dmg_rule_has_member): the same tests on one given entry, in the
 *    order the explanation reports them, so that "which groups is E in" never expands a group.
 *    Override values are compared with E by entryUUID, and the groups among them found with
 *    one indexed search; a named group is tested the same way (one entry lookup per member
 *    value of a named static group, per override value of a group without UUIDs).  A
 *    reverse lookup or compare reads a group's list cached for its identity instead of
 *    testing the group, and inside a test a named group's cached list that names no group
 *    (dmg_group_has, dmg_members_cached_has).
 *
 * Both apply the same access checks the backend applies to a search: search access on the
 * department (the search base), read access on the member entry, search access on every
 * attribute the filter tests (test_filter), and read access on each mail value returned.
 * Department structure (the nesting test) is a property of the group, not of the reader, so
 * it is evaluated with the rootdn's rights.
 *
 * The member lists themselves are members.c's; the explanation of the reverse test's answer is
 * explain.c's, the reverse lookups built on the test reverse.c's, and the tags a cached list is
 * stored with, and what a write does to it, invalidate.c's.  Here a list is read from the
 * cache, or computed and stored (dmg_members_acquire).
 */
#include "dmg.h"

/* ---- named groups -------------------------------------------------------------------------- */

/* What each named group stands for, computed once per top-level computation: a group reached
 * along several paths (A names B and C, both name D) would otherwise be computed once per
 * path, exponentially many in the depth.  (Where a cycle closes depends on the path; the
 * group keeps what its first path gave.) */
typedef struct dmg_memo_item {
	struct berval ndn;
	int yes;		/* reverse: the entry tested is one of its members */
	dmg_members ms;		/* forward: its members */
} dmg_memo_item;

typedef struct dmg_memo {
	dmg_memo_item *items;
	unsigned n, cap;
	/* a reverse lookup's test (dmg_group_has): a named group's list cached at or before
	 * gen answers for it when it names no group (then no path can change it) */
	int cached;
	unsigned long gen;
} dmg_memo;

/* The groups a computation is inside of, innermost first (on the stack): a group met again
 * on the way down is a cycle and stands for nobody there.  Every path of one computation
 * shares its memo. */
typedef struct dmg_path {
	struct berval *ndn;
	struct dmg_path *up;
	dmg_memo *memo;
} dmg_path;

static dmg_memo_item *
dmg_memo_find( dmg_memo *m, struct berval *ndn )
{
	unsigned i;

	for ( i = 0; i < m->n; i++ ) {
		if ( dn_match( &m->items[i].ndn, ndn ) )
			return &m->items[i];
	}
	return NULL;
}

/* Remembers what ndn stands for; the list ms (NULL in the reverse direction) moves into it */
static void
dmg_memo_add( dmg_memo *m, struct berval *ndn, int yes, dmg_members *ms )
{
	dmg_memo_item *it;

	if ( m->n == m->cap ) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->items = ch_realloc( m->items, m->cap * sizeof( dmg_memo_item ) );
	}
	it = &m->items[m->n++];
	ber_dupbv( &it->ndn, ndn );
	it->yes = yes;
	if ( ms )
		it->ms = *ms;
	else
		memset( &it->ms, 0, sizeof( it->ms ) );
}

static void
dmg_memo_free( dmg_memo *m )
{
	unsigned i;

	for ( i = 0; i < m->n; i++ ) {
		ch_free( m->items[i].ndn.bv_val );
		dmg_members_free( &m->items[i].ms );
	}
	ch_free( m->items );
	memset( m, 0, sizeof( *m ) );
}

static int
dmg_path_has( dmg_path *p, struct berval *ndn )
{
	for ( ; p; p = p->up ) {
		if ( dn_match( p->ndn, ndn ) )
			return 1;
	}
	return 0;
}

dmg_named_kind
dmg_named_kind_of( Entry *x )
{
	if ( dmg_entry_is_group( x ) )
		return DMG_NAMED_DYNAMIC;
	if ( is_entry_objectclass( x, dmg_ad.oc_group_of_names, 0 )
		|| is_entry_objectclass( x, dmg_ad.oc_group_of_unique_names, 0 ) )
		return DMG_NAMED_STATIC;
	return DMG_NAMED_ENTRY;
}

/* A named group stands for its members only for requesters who may read it (and, for a
 * hidden dynamic group, see it): otherwise for nobody, as a department they may not search. */
int
dmg_named_group_readable( Operation *op, slap_overinst *on, Entry *x )
{
	if ( !access_allowed( op, x, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	return !dmg_entry_is_group( x ) || dmg_group_visible( op, on, x );
}

/* Calls fn on every member value of static group x op may read; stops at the first non-zero
 * answer, which it returns.  A uniqueMember value with a UID ("dn#'0101'B") names nobody, as
 * for slapd's group ACLs (uniqueMemberMatch), and reverse lookups find the rest by equality. */
static int
dmg_static_each( Operation *op, Entry *x, int ( *fn )( struct berval *dn, void *arg ), void *arg )
{
	AttributeDescription *ads[2] = { dmg_ad.member, dmg_ad.unique_member };
	int i, rc;
	unsigned j;

	for ( i = 0; i < 2; i++ ) {
		AccessControlState acl_state = ACL_STATE_INIT;
		Attribute *a = attr_find( x->e_attrs, ads[i] );

		for ( j = 0; a && j < a->a_numvals; j++ ) {
			if ( !access_allowed( op, x, ads[i], &a->a_nvals[j], ACL_READ, &acl_state ) )
				continue;
			if ( ( rc = fn( &a->a_nvals[j], arg ) ) != 0 )
				return rc;
		}
	}
	return 0;
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

/* Does an entry strictly between ndn and dept match the department filter?  The nearest to
 * ndn is in *sub when sub is given (without memo). */
static int
dmg_below_nested_department( Operation *op, slap_overinst *on, struct berval *ndn,
	struct berval *dept, dmg_nest_memo *memo, struct berval *sub )
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
				if ( sub )
					*sub = q;
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
		&& dmg_below_nested_department( op, ctx->on, &e->e_nname, ctx->dept, &ctx->memo, NULL ) )
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

static int dmg_members_expand_path( Operation *op, slap_overinst *on, Entry *group,
	dmg_members *out, dmg_path *up );

typedef struct dmg_named_ctx {
	Operation *op;
	slap_overinst *on;
	dmg_path *up;
	dmg_members *out;
} dmg_named_ctx;

static int dmg_expand_named( Operation *op, slap_overinst *on, struct berval *ndn,
	dmg_path *up, dmg_members *out );

static int
dmg_expand_static_value( struct berval *dn, void *arg )
{
	dmg_named_ctx *c = arg;

	return dmg_expand_named( c->op, c->on, dn, c->up, c->out );
}

/* The members group x stands for as op sees them (nobody when op may not read it) */
static int
dmg_expand_group( Operation *op, slap_overinst *on, Entry *x, dmg_path *up, dmg_members *out )
{
	dmg_path here = { &x->e_nname, up, up->memo };
	dmg_named_ctx c = { op, on, &here, out };

	memset( out, 0, sizeof( *out ) );
	if ( !dmg_named_group_readable( op, on, x ) )
		return LDAP_SUCCESS;
	if ( dmg_named_kind_of( x ) == DMG_NAMED_DYNAMIC )
		return dmg_members_expand_path( op, on, x, out, up );
	return dmg_static_each( op, x, dmg_expand_static_value, &c );
}

/* Adds to out what the entry ndn stands for: a group's members as op sees them, or the entry
 * itself when op may read it and it matches the member filter. */
static int
dmg_expand_named( Operation *op, slap_overinst *on, struct berval *ndn, dmg_path *up,
	dmg_members *out )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_memo_item *known;
	dmg_members nested;
	Entry *stored, *x;
	int rc = LDAP_SUCCESS;

	/* the path and the memo hold groups only */
	if ( dmg_path_has( up, ndn ) ) {
		out->names_group = 1;
		return LDAP_SUCCESS;
	}
	if ( ( known = dmg_memo_find( up->memo, ndn ) ) != NULL ) {
		out->names_group = 1;
		dmg_members_append( out, &known->ms );
		return LDAP_SUCCESS;
	}
	if ( ( stored = dmg_entry_get( op, on, ndn ) ) == NULL )
		return LDAP_SUCCESS;
	/* a copy: the expansion below searches the database */
	x = entry_dup( stored );
	dmg_entry_release( op, on, stored );
	if ( dmg_named_kind_of( x ) != DMG_NAMED_ENTRY ) {
		out->names_group = 1;
		rc = dmg_expand_group( op, on, x, up, &nested );
		if ( rc == LDAP_SUCCESS ) {
			dmg_members_append( out, &nested );
			dmg_memo_add( up->memo, ndn, 0, &nested );
		} else {
			dmg_members_free( &nested );
		}
	} else if ( access_allowed( op, x, slap_schema.si_ad_entry, NULL, ACL_READ, NULL )
		&& test_filter( op, x, di->member_filter ) == LDAP_COMPARE_TRUE ) {
		dmg_members_push( op, out, x );
	}
	entry_free( x );
	return rc;
}

/* What the values of a (dmgIncludeMember or dmgExcludeMember of the group at here) stand for */
static int
dmg_expand_overrides( Operation *op, slap_overinst *on, Attribute *a, dmg_path *here,
	dmg_members *out )
{
	unsigned i;
	int rc = LDAP_SUCCESS;

	for ( i = 0; a && i < a->a_numvals && rc == LDAP_SUCCESS; i++ )
		rc = dmg_expand_named( op, on, &a->a_nvals[i], here, out );
	return rc;
}

/* Included entries joined to the rule's, excluded ones removed */
static int
dmg_apply_overrides( Operation *op, slap_overinst *on, dmg_rule *r, dmg_path *here,
	dmg_members *out )
{
	dmg_members ex;
	int rc;

	rc = dmg_expand_overrides( op, on, r->include, here, out );
	if ( rc != LDAP_SUCCESS || r->exclude == NULL )
		return rc;
	memset( &ex, 0, sizeof( ex ) );
	rc = dmg_expand_overrides( op, on, r->exclude, here, &ex );
	if ( rc == LDAP_SUCCESS )
		dmg_members_remove( out, &ex );
	dmg_members_free( &ex );
	return rc;
}

int
dmg_members_expand( Operation *op, slap_overinst *on, Entry *group, dmg_members *out )
{
	dmg_memo memo = { NULL, 0, 0, 0, 0 };
	dmg_path top = { &group->e_nname, NULL, &memo };
	int rc;

	/* the group itself is the top of every path: it stands for nobody below itself */
	rc = dmg_members_expand_path( op, on, group, out, &top );
	dmg_memo_free( &memo );
	return rc;
}

static int
dmg_members_expand_path( Operation *op, slap_overinst *on, Entry *group, dmg_members *out,
	dmg_path *up )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_path here = { &group->e_nname, up, up->memo };
	dmg_expand_ctx ctx;
	slap_callback cb = { 0 };
	dmg_rule r;
	int i, searched = 0, rc;

	memset( out, 0, sizeof( *out ) );
	rc = dmg_rule_from_entry( op, on, group, &r );
	if ( rc == LDAP_SUCCESS )
		rc = dmg_rule_overrides( op, on, &r );
	memset( &ctx, 0, sizeof( ctx ) );
	ctx.on = on;
	ctx.out = out;
	ctx.include_sub = r.include_sub;
	/* with one search the count is exact as it goes (includes only add to it); with
	 * several, duplicates are only known after dmg_members_dedupe, and excludes remove */
	ctx.stop_after = ( r.ndepts == 1 && r.exclude == NULL ) ? di->max_members : 0;
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
	if ( rc == LDAP_SUCCESS && ( r.include || r.exclude ) )
		rc = dmg_apply_overrides( op, on, &r, &here, out );
	if ( rc != LDAP_SUCCESS ) {
		/* never a partial list */
		dmg_rule_free( op, &r );
		dmg_members_free( out );
		return rc;
	}
	if ( searched > 1 || r.include )
		dmg_members_dedupe( out );
	dmg_rule_free( op, &r );
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

static void dmg_rule_why_path( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e,
	dmg_path *up, dmg_why *why );
static int dmg_members_cached_has( Operation *op, slap_overinst *on, Entry *group,
	unsigned long gen, int flat, struct berval *ndn, int *yes );
static int dmg_named_has( Operation *op, slap_overinst *on, struct berval *ndn, Entry *e,
	dmg_path *up );

void
dmg_why_free( Operation *op, dmg_why *why )
{
	if ( why->detail.bv_val )
		op->o_tmpfree( why->detail.bv_val, op->o_tmpmemctx );
	BER_BVZERO( &why->detail );
}

static void
dmg_why_set( Operation *op, dmg_why *why, int member, dmg_why_reason reason,
	struct berval *detail )
{
	why->member = member;
	why->reason = reason;
	if ( detail )
		ber_dupbv_x( &why->detail, detail, op->o_tmpmemctx );
}

typedef struct dmg_static_has_ctx {
	Operation *op;
	slap_overinst *on;
	Entry *e;
	dmg_path *up;
	int direct;	/* first pass: the values themselves; then what they stand for */
} dmg_static_has_ctx;

static int
dmg_static_has_value( struct berval *dn, void *arg )
{
	dmg_static_has_ctx *c = arg;

	if ( c->direct )
		return dn_match( dn, &c->e->e_nname );
	return dmg_named_has( c->op, c->on, dn, c->e, c->up );
}

/* Is e one of the members static group x stands for, as op sees them? */
static int
dmg_static_has( Operation *op, slap_overinst *on, Entry *x, Entry *e, dmg_path *up )
{
	dmg_path here = { &x->e_nname, up, up->memo };
	dmg_static_has_ctx c = { op, on, e, &here, 1 };

	if ( dmg_static_each( op, x, dmg_static_has_value, &c ) )
		return 1;
	c.direct = 0;
	return dmg_static_each( op, x, dmg_static_has_value, &c );
}

/* Is e one of the members the entry ndn stands for (itself, or a group's members)?  -1 when
 * a group's members could not be learnt (a lookup failed, logged). */
static int
dmg_named_has( Operation *op, slap_overinst *on, struct berval *ndn, Entry *e, dmg_path *up )
{
	Entry *x = NULL;
	dmg_rule r;
	dmg_why why = { 0 };
	int yes = 0;

	dmg_memo_item *known;
	dmg_named_kind kind;

	if ( dn_match( ndn, &e->e_nname ) )
		return 1;
	if ( dmg_path_has( up, ndn ) )
		return 0;
	if ( ( known = dmg_memo_find( up->memo, ndn ) ) != NULL )
		return known->yes;
	if ( ( x = dmg_entry_get( op, on, ndn ) ) == NULL )
		return 0;
	kind = dmg_named_kind_of( x );
	if ( kind != DMG_NAMED_ENTRY && dmg_named_group_readable( op, on, x ) ) {
		if ( kind == DMG_NAMED_DYNAMIC && up->memo->cached && dmg_members_cached_has( op, on,
				x, up->memo->gen, 1, &e->e_nname, &yes ) ) {
			/* its list, the same for every path */
		} else if ( kind == DMG_NAMED_STATIC ) {
			yes = dmg_static_has( op, on, x, e, up );
		} else if ( dmg_rule_from_entry( op, on, x, &r ) != LDAP_SUCCESS ) {
			yes = -1;	/* not known (logged): see dmg_override_why */
			dmg_rule_free( op, &r );
		} else {
			dmg_rule_why_path( op, on, &r, e, up, &why );
			yes = why.unknown ? -1 : why.member;
			dmg_why_free( op, &why );
			dmg_rule_free( op, &r );
		}
	}
	/* only groups: other entries are looked up again, rather than searched for among all */
	if ( kind != DMG_NAMED_ENTRY )
		dmg_memo_add( up->memo, ndn, yes, NULL );
	dmg_entry_release( op, on, x );
	return yes;
}

/* The groups the override values of one attribute name, by the values of its UUID companion
 * u: (dn, ndn)[i] is the group value i names, empty when it names none (op->o_tmpmemctx) */
typedef struct dmg_override_groups {
	Attribute *u;
	struct berval *dn, *ndn;
	int twice;	/* an entryUUID carried by two groups */
} dmg_override_groups;

static int
dmg_override_groups_cb( Operation *op, SlapReply *rs )
{
	dmg_override_groups *g = op->o_callback->sc_private;
	struct berval *uuid;
	unsigned i;

	if ( rs->sr_type != REP_SEARCH || dmg_named_kind_of( rs->sr_entry ) == DMG_NAMED_ENTRY
		|| ( uuid = dmg_entry_uuid( rs->sr_entry ) ) == NULL )
		return 0;
	for ( i = 0; i < g->u->a_numvals && !bvmatch( &g->u->a_nvals[i], uuid ); i++ )
		;
	if ( i == g->u->a_numvals )
		return 0;
	if ( g->ndn[i].bv_val ) {
		/* two entries carry the UUID: which one the value names is not known */
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "\"%s\" and \"%s\" carry one entryUUID: "
			"neither is taken for it\n", g->dn[i].bv_val, rs->sr_entry->e_name.bv_val );
		g->twice = 1;
		return 0;
	}
	ber_dupbv_x( &g->dn[i], &rs->sr_entry->e_name, op->o_tmpmemctx );
	ber_dupbv_x( &g->ndn[i], &rs->sr_entry->e_nname, op->o_tmpmemctx );
	return 0;
}

/* Which values of u name groups: one indexed search, as the rootdn (which entries are groups
 * is structure; whether a group stands for its members to op is decided per group after),
 * so that the values naming other entries are never fetched */
static int
dmg_override_groups_find( Operation *op, Attribute *u, dmg_override_groups *g )
{
	ObjectClass *ocs[] = { dmg_ad.oc_group, dmg_ad.oc_group_of_names,
		dmg_ad.oc_group_of_unique_names };
	Filter *and, *classes = dmg_filter_classes( op, ocs, 3 ), *uuids = dmg_filter_or( op );
	slap_callback cb = { 0 };
	Operation root;
	unsigned i;
	int rc;

	g->u = u;
	g->dn = op->o_tmpcalloc( u->a_numvals, sizeof( struct berval ), op->o_tmpmemctx );
	g->ndn = op->o_tmpcalloc( u->a_numvals, sizeof( struct berval ), op->o_tmpmemctx );
	for ( i = 0; i < u->a_numvals; i++ )
		dmg_filter_or_add( uuids, dmg_filter_eq( op, slap_schema.si_ad_entryUUID,
			&u->a_nvals[i] ) );
	and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );
	and->f_choice = LDAP_FILTER_AND;
	and->f_and = classes;
	classes->f_next = uuids;
	cb.sc_response = dmg_override_groups_cb;
	cb.sc_private = g;
	dmg_op_as_root( op, &root );
	rc = dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, and, &cb );
	filter_free_x( op, and, 1 );
	if ( rc == LDAP_SUCCESS && g->twice )
		return LDAP_OTHER;
	return rc == LDAP_NO_SUCH_OBJECT ? LDAP_SUCCESS : rc;
}

static void
dmg_override_groups_free( Operation *op, dmg_override_groups *g )
{
	unsigned i;

	for ( i = 0; g->u && i < g->u->a_numvals; i++ ) {
		if ( g->ndn[i].bv_val ) {
			op->o_tmpfree( g->dn[i].bv_val, op->o_tmpmemctx );
			op->o_tmpfree( g->ndn[i].bv_val, op->o_tmpmemctx );
		}
	}
	op->o_tmpfree( g->dn, op->o_tmpmemctx );
	op->o_tmpfree( g->ndn, op->o_tmpmemctx );
}

/* Does a value of override attribute ad stand for e, has telling whether the entry it names
 * is e or has e as a member: one whose members are not known (has < 0) excludes e and
 * includes nobody (fail closed) */
static int
dmg_override_has( int has, AttributeDescription *ad )
{
	return has > 0 || ( has < 0 && ad == dmg_ad.exclude_member );
}

/* By DN: a group without a UUID companion for ad names entries by their DN values as
 * stored; each value is looked up to learn whether it names a group */
static int
dmg_override_by_dn( Operation *op, slap_overinst *on, Attribute *a, Entry *e, dmg_path *here,
	int *via, struct berval *named )
{
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dn_match( &a->a_nvals[i], &e->e_nname ) ) {
			*via = 0;
			return 1;
		}
	}
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dmg_override_has( dmg_named_has( op, on, &a->a_nvals[i], e, here ),
				a->a_desc ) ) {
			*via = 1;
			ber_dupbv_x( named, &a->a_vals[i], op->o_tmpmemctx );
			return 1;
		}
	}
	return 0;
}

/* By UUID: e's entryUUID among the companion's values, then the groups among them (one
 * search), each tested in the order of the values.  *unknown when the group's own values
 * could not be resolved (a named group's failure is its own: has < 0) */
static int
dmg_override_by_uuid( Operation *op, slap_overinst *on, Entry *group, AttributeDescription *ad,
	Entry *e, dmg_path *here, int *via, struct berval *named, int *unknown )
{
	Attribute *u = attr_find( group->e_attrs, dmg_ref_uuid_ad( ad ) );
	struct berval *uuid = dmg_entry_uuid( e );
	dmg_override_groups g = { 0 };
	unsigned i;
	int found = 0;

	for ( i = 0; uuid && i < u->a_numvals; i++ ) {
		int names;

		if ( !bvmatch( &u->a_nvals[i], uuid ) )
			continue;
		if ( ( names = dmg_ref_uuid_names( op, group, ad, e ) ) < 0 )
			*unknown = 1;
		if ( dmg_override_has( names, ad ) ) {
			*via = 0;
			return 1;
		}
		break;
	}
	*via = 1;
	if ( dmg_override_groups_find( op, u, &g ) != LDAP_SUCCESS ) {
		/* logged by the search; no value names a group then (g is empty) */
		*unknown = 1;
		found = dmg_override_has( -1, ad );
	}
	for ( i = 0; !found && i < u->a_numvals; i++ ) {
		if ( g.ndn[i].bv_val
			&& dmg_override_has( dmg_named_has( op, on, &g.ndn[i], e, here ), ad ) ) {
			ber_dupbv_x( named, &g.dn[i], op->o_tmpmemctx );
			found = 1;
		}
	}
	dmg_override_groups_free( op, &g );
	return found;
}

/* Does a value of override attribute ad of the group at here (rule r) decide e's membership?
 * Then why says how. */
static int
dmg_override_why( Operation *op, slap_overinst *on, dmg_rule *r, AttributeDescription *ad,
	Entry *e, dmg_path *here, dmg_why *why )
{
	struct berval named = BER_BVNULL;
	int include = ad == dmg_ad.include_member, via = 0, found;

	if ( attr_find( r->entry->e_attrs, dmg_ref_uuid_ad( ad ) ) )
		found = dmg_override_by_uuid( op, on, r->entry, ad, e, here, &via, &named,
			&why->unknown );
	else
		found = dmg_override_by_dn( op, on, attr_find( r->entry->e_attrs, ad ), e, here,
			&via, &named );
	if ( found ) {
		dmg_why_set( op, why, include, include
			? ( via ? DMG_WHY_INCLUDED_VIA : DMG_WHY_INCLUDED )
			: ( via ? DMG_WHY_EXCLUDED_VIA : DMG_WHY_EXCLUDED ),
			BER_BVISNULL( &named ) ? NULL : &named );
		op->o_tmpfree( named.bv_val, op->o_tmpmemctx );
	}
	return found;
}

/* The DN of the entry ndn as stored (op->o_tmpmemctx), left empty when op may not learn of
 * the entry: the nesting test reads departments with the rootdn's rights */
static void
dmg_pretty_dn( Operation *op, slap_overinst *on, struct berval *ndn, struct berval *out )
{
	Entry *x = dmg_entry_get( op, on, ndn );

	BER_BVZERO( out );
	if ( x == NULL )
		return;
	if ( dmg_entry_disclosed( op, on, x ) )
		ber_dupbv_x( out, &x->e_name, op->o_tmpmemctx );
	dmg_entry_release( op, on, x );
}

/* The rule proper: departments, then conditions (as stored, first unmet one reported) */
static void
dmg_rule_why_selected( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why )
{
	struct berval sub = BER_BVNULL, q;
	Filter *c;
	int i, found = -1;
	unsigned j;

	for ( i = 0; i < r->ndepts && found < 0; i++ ) {
		if ( !dnIsSuffix( &e->e_nname, &r->depts[i] ) )
			continue;
		/* the backend requires search access on the search base; so does the test */
		if ( !dmg_may_search_department( op, on, &r->depts[i] ) )
			continue;
		if ( !r->include_sub && dmg_below_nested_department( op, on, &e->e_nname,
				&r->depts[i], NULL, BER_BVISNULL( &sub ) ? &sub : &q ) )
			continue;
		found = i;
	}
	if ( found < 0 && !BER_BVISNULL( &sub ) ) {
		dmg_why_set( op, why, 0, DMG_WHY_SUB_DEPARTMENT, NULL );
		dmg_pretty_dn( op, on, &sub, &why->detail );
		return;
	}
	if ( found < 0 ) {
		dmg_why_set( op, why, 0, DMG_WHY_OUTSIDE, NULL );
		return;
	}
	/* the member filter is the rule filter's first part: it held already */
	for ( c = r->filter->f_and->f_next, j = 0; c; c = c->f_next, j++ ) {
		if ( test_filter( op, e, c ) != LDAP_COMPARE_TRUE ) {
			dmg_why_set( op, why, 0, DMG_WHY_CONDITION,
				r->conds && j < r->conds->a_numvals ? &r->conds->a_vals[j] : NULL );
			return;
		}
	}
	dmg_why_set( op, why, 1, DMG_WHY_DEPARTMENT, &r->dept_vals[found] );
}

static void
dmg_rule_why_path( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_path *up,
	dmg_why *why )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_path here = { &r->ndn, up, up->memo };

	memset( why, 0, sizeof( *why ) );
	if ( !dmg_entry_disclosed( op, on, e ) ) {
		dmg_why_set( op, why, 0, DMG_WHY_NO_SUCH_ENTRY, NULL );
		return;
	}
	if ( dmg_override_why( op, on, r, dmg_ad.exclude_member, e, &here, why ) )
		return;
	if ( test_filter( op, e, di->member_filter ) != LDAP_COMPARE_TRUE ) {
		dmg_why_set( op, why, 0, DMG_WHY_MEMBER_FILTER, NULL );
		return;
	}
	if ( dmg_override_why( op, on, r, dmg_ad.include_member, e, &here, why ) )
		return;
	dmg_rule_why_selected( op, on, r, e, why );
}

/* The reverse test of one computation, whose memo (empty) is freed after it */
static void
dmg_rule_why_memo( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why,
	dmg_memo *memo )
{
	dmg_path top = { &r->ndn, NULL, memo };

	dmg_rule_why_path( op, on, r, e, &top, why );
	dmg_memo_free( memo );
}

void
dmg_rule_why( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why )
{
	dmg_memo memo = { NULL, 0, 0, 0, 0 };

	dmg_rule_why_memo( op, on, r, e, why, &memo );
}

/* dmg_rule_has_member in *yes; LDAP_OTHER when the rule's own entries could not be found */
int
dmg_rule_member_rc( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, int *yes )
{
	dmg_why why;

	dmg_rule_why( op, on, r, e, &why );
	dmg_why_free( op, &why );
	*yes = why.member;
	return why.unknown ? LDAP_OTHER : LDAP_SUCCESS;
}

int
dmg_rule_has_member( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e )
{
	int yes;

	dmg_rule_member_rc( op, on, r, e, &yes );
	return yes;
}

int
dmg_rule_tests_member( Operation *op, slap_overinst *on, Entry *group, dmg_rule *r, Entry *e,
	int *yes )
{
	dmg_as_group ag;
	Operation *mop = dmg_membership_begin( op, on, group, &ag );
	int rc = LDAP_SUCCESS;

	*yes = 0;
	if ( mop )
		rc = dmg_rule_member_rc( mop, on, r, e, yes );
	dmg_membership_end( &ag );
	return rc;
}

int
dmg_rule_shows_member( Operation *op, slap_overinst *on, Entry *group, dmg_rule *r, Entry *e )
{
	int yes;

	dmg_rule_tests_member( op, on, group, r, e, &yes );
	return yes;
}

/* Is candidate group g one of e's groups, as op sees it (*yes)?  A dynamic group's list
 * cached for op's identity answers without a test, and so do, inside a test, the cached lists
 * of the groups it names that name no group themselves.  LDAP_OTHER when the group's own
 * references could not be looked up: the caller's answer would be partial. */
int
dmg_group_has( Operation *op, slap_overinst *on, Entry *g, Entry *e, unsigned long gen,
	int *yes )
{
	dmg_memo memo = { NULL, 0, 0, 1, gen };
	dmg_rule r;
	dmg_why why;
	int rc;

	*yes = 0;
	if ( !dmg_named_group_readable( op, on, g ) )
		return LDAP_SUCCESS;
	if ( dmg_entry_is_group( g ) && dmg_group_cached_has( op, on, g, gen, &e->e_nname, yes ) )
		return LDAP_SUCCESS;
	if ( dmg_named_kind_of( g ) == DMG_NAMED_STATIC ) {
		dmg_path top = { &g->e_nname, NULL, &memo };

		*yes = dmg_static_has( op, on, g, e, &top );
		dmg_memo_free( &memo );
		return LDAP_SUCCESS;
	}
	rc = dmg_rule_from_entry( op, on, g, &r );
	if ( rc == LDAP_SUCCESS ) {
		dmg_rule_why_memo( op, on, &r, e, &why, &memo );
		dmg_why_free( op, &why );
		/* why.unknown: a named group that could not be read excludes; that verdict is
		 * the group's, not a failure of this test */
		*yes = why.member;
	}
	dmg_rule_free( op, &r );
	return rc;
}

/* ---- the cache --------------------------------------------------------------------------------- */

/* Every identity's lists are cached, one per group and identity DN (anonymous: the empty
 * DN).  What an identity's list depends on besides the data the rootdn's reads is what
 * slapd's ACLs decide for that DN, and the tags and dependencies of invalidate.c follow it: the
 * attributes the ACLs read on an entry (dmg_group_deps), every write when they read other
 * entries (dmg_acl_reads_other_entries), a new generation when they change
 * (dmg_cache_follow_acls).  Roles (postmaster, privileged, a group's applicant...) change
 * only what hidden groups named in overrides stand for: a role is a value of the named group,
 * whose DN is among the list's tags (dmg_nested_tags).  What the tags cannot follow is a
 * clause that tells two connections of one DN apart: then only the rootdn's lists are
 * cached. */
static int
dmg_members_cacheable( Operation *op, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;

	if ( di->cache_max_values == 0 )
		return 0;
	/* slapd's ACLs do not apply to the rootdn: its lists depend on nothing else */
	if ( dmg_is_root( op, on ) )
		return 1;
	return dmg_cache_acls_allow( di );
}

unsigned long
dmg_operation_generation( Operation *op, dmg_info *di )
{
	/* Read before the operation's first read of the database.  An operation issued from
	 * inside another one (its OpExtra list is not empty: the backend's transaction, another
	 * overlay's marker) may read through a snapshot older than the generation: it may use
	 * cached lists but not store one.  The ACLs are followed first: a change of them
	 * starts a new generation (dmg_cache_follow_acls). */
	dmg_cache_follow_acls( op, di );
	if ( dmg_op_nested( op ) )
		return DMG_NO_GENERATION;
	return dmg_cache_generation( di->cache );
}

/* "group ndn" NUL "identity ndn" NUL: a list is reused only for the identity it was computed
 * for (anonymous: the empty DN).  The identity ends with its NUL so that an in-place update
 * can run as it (dmg_members_update) with a DN that slapd's regex ACLs may match. */
static char *
dmg_cache_key( Operation *op, Entry *group, size_t *len )
{
	char *key;

	*len = group->e_nname.bv_len + 1 + op->o_ndn.bv_len + 1;
	key = op->o_tmpalloc( *len, op->o_tmpmemctx );
	memcpy( key, group->e_nname.bv_val, group->e_nname.bv_len );
	key[group->e_nname.bv_len] = '\0';
	/* anonymous's DN has no octets, and may have no buffer */
	if ( op->o_ndn.bv_len )
		memcpy( key + group->e_nname.bv_len + 1, op->o_ndn.bv_val, op->o_ndn.bv_len );
	key[*len - 1] = '\0';
	return key;
}

static int
dmg_members_compute( Operation *op, slap_overinst *on, Entry *group, dmg_members_view *v )
{
	v->ms = &v->owned;
	return dmg_members_expand( op, on, group, &v->owned );
}

/* The cached list under key that goes with the group as the operation read it (gen: the
 * generation read before its snapshot), or NULL (with probe, not counted as a miss).  Not while a write runs (see
 * dmg_writes_in_flight), nor a list computed at a later generation: a write this operation's
 * snapshot predates may have committed before it, and the group would be shown as before the
 * write with the members after it. */
static dmg_members *
dmg_members_cached( dmg_info *di, char *key, size_t len, unsigned long gen,
	dmg_cache_entry **held, int probe )
{
	dmg_members *ms;

	*held = NULL;
	if ( dmg_writes_in_flight( di ) )
		return NULL;
	ms = probe ? dmg_cache_probe( di->cache, key, len, held )
		: dmg_cache_get( di->cache, key, len, held );
	if ( ms && ms->gen > gen ) {
		dmg_cache_release( di->cache, *held );
		*held = NULL;
		return NULL;
	}
	return ms;
}

/* Is ndn a member in the list cached for op's identity (1 when one answered; with flat,
 * only a list that names no group)?  The list is the forward expansion for that identity,
 * current as the cache keeps every list (tags, updates in place, generations), and the
 * forward expansion and the reverse test agree: a reverse test reads it rather than testing
 * the rule, which for overrides and named groups means searches and lookups. */
static int
dmg_members_cached_has( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	int flat, struct berval *ndn, int *yes )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_cache_entry *held;
	dmg_members *ms;
	size_t len;
	char *key;
	int answered;

	if ( !dmg_members_cacheable( op, on ) )
		return 0;
	key = dmg_cache_key( op, group, &len );
	/* no list: the rule is tested, no list computed (not a miss) */
	ms = dmg_members_cached( di, key, len, gen, &held, 1 );
	op->o_tmpfree( key, op->o_tmpmemctx );
	if ( ms == NULL )
		return 0;
	answered = !flat || !ms->names_group;
	if ( answered )
		*yes = dmg_members_has_ndn( ms, ndn );
	dmg_cache_release( di->cache, held );
	return answered;
}

int
dmg_group_cached_has( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	struct berval *ndn, int *yes )
{
	dmg_as_group ag;
	Operation *mop = dmg_membership_begin( op, on, group, &ag );
	int answered = 1;

	/* a requester not shown the group's members: nobody, as dmg_rule_tests_member says */
	*yes = 0;
	if ( mop )
		answered = dmg_members_cached_has( mop, on, group, gen, 0, ndn, yes );
	dmg_membership_end( &ag );
	return answered;
}

/* The list op computes with its own rights, from the cache when it may be cached */
static int
dmg_members_lookup( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	dmg_members_view *v )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_members *computed;
	size_t len;
	char *key;
	int rc;

	if ( !dmg_members_cacheable( op, on ) )
		return dmg_members_compute( op, on, group, v );
	key = dmg_cache_key( op, group, &len );
	v->ms = dmg_members_cached( di, key, len, gen, &v->held, 0 );
	if ( v->ms ) {
		op->o_tmpfree( key, op->o_tmpmemctx );
		return LDAP_SUCCESS;
	}
	/* gen was read before this operation took its database snapshot: a write committed
	 * since then that concerns the group has stamped one of its tags, and the put fails */
	computed = ch_calloc( 1, sizeof( dmg_members ) );
	computed->gen = gen;
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

int
dmg_members_acquire( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	dmg_members_view *v )
{
	dmg_as_group ag;
	Operation *mop;
	int rc;

	memset( v, 0, sizeof( *v ) );
	/* with group visibility the rootdn's list, cached once for every requester */
	if ( ( mop = dmg_membership_begin( op, on, group, &ag ) ) == NULL ) {
		v->ms = &v->owned;
		v->owned.hidden = 1;
		return LDAP_SUCCESS;
	}
	rc = dmg_members_lookup( mop, on, group, gen, v );
	dmg_membership_end( &ag );
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
	dmg_members_put( target, v.ms, want_member, want_mail, want_count, keep != NULL, NULL );
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
