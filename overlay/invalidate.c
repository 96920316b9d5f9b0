/* invalidate.c -- what a write does to the cached member lists
 *
 * A list is stored (dmg_members_store) with tags, the values a write's keys meet when the write
 * may change it (its group's DN, its departments, the entries its overrides name), and with
 * the attributes it depends on.  A write (dmg_cache_invalidate_entry, in its response) drops
 * the lists whose tags its keys meet, keeps those a modify cannot change, and updates in place
 * those that can change only by the written entry's own membership.  The sections below say
 * how.
 */
#include "dmg.h"

/* ---- what a cached list depends on ---------------------------------------------------------
 *
 * A list is tagged with its group's DN and with the values of the group attributes that
 * dmg_concerned_filter tests; a write to entry E invalidates the values that filter asserts
 * for E's DN.  A tag and a key then meet exactly when the group matches the filter for E (or
 * is E), so invalidation drops the groups whose rule may select E.  Whatever the filter holds
 * other than equalities (and AND/OR/NOT of them) is taken as unbounded: everything is
 * dropped.  The entries a group's overrides name are tags too (a write to one keys its DN);
 * a list whose overrides name a group is unbounded: that group's own members change with
 * writes no tag of this list names.
 */

/* The groups whose rule may select the entry ndn: those naming one of its ancestors as a
 * department */
static Filter *
dmg_concerned_filter( Operation *op, struct berval *ndn )
{
	Filter *or = dmg_filter_or( op );

	dmg_filter_add_ancestors( op, NULL, or, ndn, NULL );
	return or;
}

typedef struct dmg_tags {
	dmg_cache_tag *t;
	size_t n, cap;
	AttributeDescription *ads[8];	/* the attributes the filter tests */
	int nads;
	int unbounded;
	Operation *op;
	int copy;			/* the tags' strings go away before the put: copy them */
	BerVarray own;			/* the copies (op->o_tmpmemctx) */
} dmg_tags;

static void
dmg_tags_add( dmg_tags *ts, struct berval *bv )
{
	struct berval copy;

	if ( ts->copy ) {
		ber_dupbv_x( &copy, bv, ts->op->o_tmpmemctx );
		ber_bvarray_add_x( &ts->own, &copy, ts->op->o_tmpmemctx );
		bv = &copy;
	}
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

/* ---- which attributes a cached list depends on ----------------------------------------------
 *
 * A modify of an entry concerns the lists of the groups above it (the tags), but changes one
 * only when it changes an attribute the list's computation reads there: the member filter's,
 * the department filter's (entries between a member and its department), the group's
 * conditions', mail (dmgMemberMail), objectClass, and, on the group itself, its rule.  For an
 * identity other than the rootdn, what slapd's ACLs grant on an entry may also depend on its
 * attributes: those their rules' filters test, those of value-specific rules, dnattr clauses,
 * and objectClass (attrs=@class).  The ACLs are taken as they are now: a change of them
 * empties the cache (dmg_cache_follow_acls).  Attributes are named by their type's canonical
 * name; a write names each changed type and its supertypes, because a filter on a supertype
 * (name) tests its subtypes (cn).
 */

static void
dmg_deps_add( dmg_tags *deps, AttributeDescription *ad )
{
	dmg_tags_add( deps, &ad->ad_type->sat_cname );
}

/* The attributes filter f tests; unbounded when an item tests none the overlay can name or a
 * computed one */
static void
dmg_deps_of_filter( dmg_tags *deps, Filter *f )
{
	AttributeDescription *ad;

	for ( ; f; f = f->f_next ) {
		switch ( f->f_choice ) {
		case LDAP_FILTER_AND:
		case LDAP_FILTER_OR:
			dmg_deps_of_filter( deps, f->f_list );
			break;
		case LDAP_FILTER_NOT:
			dmg_deps_of_filter( deps, f->f_not );
			break;
		case SLAPD_FILTER_COMPUTED:
			break;
		default:
			ad = dmg_filter_ad( f );
			if ( ad == NULL || dmg_ad_is_computed( ad ) )
				deps->unbounded = 1;
			else
				dmg_deps_add( deps, ad );
		}
	}
}

/* The attributes of an entry slapd's ACLs (the database's, then the frontend's) read to decide
 * what they grant on it */
static void
dmg_deps_of_acls( Operation *op, dmg_tags *deps )
{
	AccessControl *lists[2], *a;
	AttributeName *an;
	Access *b;
	int i;

	lists[0] = op->o_bd->be_acl;
	lists[1] = frontendDB->be_acl;
	for ( i = 0; i < 2; i++ ) {
		for ( a = lists[i]; a; a = a->acl_next ) {
			if ( a->acl_filter )
				dmg_deps_of_filter( deps, a->acl_filter );
			for ( an = a->acl_attrs; !BER_BVISEMPTY( &a->acl_attrval )
					&& an && !BER_BVISNULL( &an->an_name ); an++ ) {
				if ( an->an_desc )
					dmg_deps_add( deps, an->an_desc );
			}
			for ( b = a->acl_access; b; b = b->a_next ) {
				if ( b->a_dn_at )
					dmg_deps_add( deps, b->a_dn_at );
			}
		}
	}
}

/* What group's list for op's identity depends on (see above) */
static void
dmg_group_deps( Operation *op, slap_overinst *on, Entry *group, dmg_tags *deps )
{
	dmg_info *di = on->on_bi.bi_private;
	AttributeDescription **rule[] = { &dmg_ad.department, &dmg_ad.include_sub,
		&dmg_ad.condition, &dmg_ad.include_member, &dmg_ad.exclude_member, &dmg_ad.mail,
		&slap_schema.si_ad_objectClass, NULL };
	dmg_rule r;
	int i;

	memset( deps, 0, sizeof( *deps ) );
	deps->op = op;
	for ( i = 0; rule[i]; i++ )
		dmg_deps_add( deps, *rule[i] );
	dmg_deps_of_filter( deps, di->dept_filter );
	/* the rule's filter: the member filter and the conditions (a rule whose entries could
	 * not be looked up depends on anything) */
	if ( dmg_rule_from_entry( op, on, group, &r ) != LDAP_SUCCESS )
		deps->unbounded = 1;
	dmg_deps_of_filter( deps, r.filter );
	dmg_rule_free( op, &r );
	if ( !dmg_is_root( op, on ) )
		dmg_deps_of_acls( op, deps );
}

/* The attributes a modify changes, with their supertypes (NULL for other writes: any) */
static void
dmg_write_changed( Operation *op, dmg_tags *changed )
{
	Modifications *ml;
	AttributeType *at;

	memset( changed, 0, sizeof( *changed ) );
	changed->op = op;
	if ( op->o_tag != LDAP_REQ_MODIFY ) {
		changed->unbounded = 1;
		return;
	}
	for ( ml = op->orm_modlist; ml; ml = ml->sml_next ) {
		for ( at = ml->sml_desc->ad_type; at; at = at->sat_sup )
			dmg_tags_add( changed, &at->sat_cname );
	}
}

/* Tags of the entries group's overrides name (their DNs as stored: what a write to one of
 * them keys); unbounded when a value no longer names the entry its UUID names */
static void
dmg_override_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	AttributeDescription *ads[] = { dmg_ad.include_member, dmg_ad.exclude_member };
	Attribute *a;
	unsigned i, j;

	for ( i = 0; i < 2; i++ ) {
		if ( !dmg_group_has_refs( group, ads[i] ) )
			continue;
		if ( dmg_refs_stale( op, on, group, ads[i] ) ) {
			ts->unbounded = 1;
			return;
		}
		a = attr_find( group->e_attrs, ads[i] );
		for ( j = 0; a && j < a->a_numvals; j++ )
			dmg_tags_add( ts, &a->a_nvals[j] );
	}
}

/* Tags of group's rule: its DN, its departments, the entries its overrides name */
static void
dmg_rule_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	dmg_tags probe = { 0 };
	Filter *f;
	Attribute *a;
	unsigned j;
	int i;

	probe.op = op;
	/* tagged with stored department values that no longer name the departments, the list
	 * would miss the writes below their current DNs (references.c) */
	if ( dmg_refs_stale( op, on, group, dmg_ad.department ) ) {
		ts->unbounded = 1;
		return;
	}
	/* the attributes the filter tests, learnt from the filter for the group's own DN */
	f = dmg_concerned_filter( op, &group->e_nname );
	dmg_tags_of_filter( &probe, f );
	if ( probe.unbounded || probe.nads == 0 )
		ts->unbounded = 1;
	dmg_tags_add( ts, &group->e_nname );
	dmg_override_tags( op, on, group, ts );
	for ( i = 0; i < probe.nads; i++ ) {
		a = attr_find( group->e_attrs, probe.ads[i] );
		for ( j = 0; a && j < a->a_numvals; j++ )
			dmg_tags_add( ts, &a->a_nvals[j] );
	}
	op->o_tmpfree( probe.t, op->o_tmpmemctx );
	filter_free_x( op, f, 1 );
}

/* Tags of group's list for op's identity; ts->unbounded when it must go untagged */
static void
dmg_group_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	memset( ts, 0, sizeof( *ts ) );
	ts->op = op;
	if ( dmg_acl_reads_other_entries( op, on ) ) {
		ts->unbounded = 1;
		return;
	}
	dmg_rule_tags( op, on, group, ts );
}

/* ---- lists of groups whose overrides name groups ---------------------------------------------
 *
 * Such a list holds what the named groups stand for, so it depends on their rules as on its
 * own, to any depth: their tags (DN, departments, the entries their overrides name) join the
 * list's tags, and the attributes their rules test its dependencies.  A write to one of
 * those groups is keyed by its DN and drops the list (the cache does not update a list in
 * place for a write to a group its overrides may name).  A static group named (its members,
 * values no tag follows here) or more than DMG_NESTED_TAGS_MAX groups leave the list
 * untagged: dropped by every write.
 */

#define DMG_NESTED_TAGS_MAX	64

typedef struct dmg_nested_walk {
	dmg_tags *ts, *deps;
	BerVarray seen;		/* the groups followed, the list's own first */
	unsigned n;
} dmg_nested_walk;

static void dmg_nested_tags_of( Operation *op, slap_overinst *on, Entry *group,
	dmg_nested_walk *w );

/* Follows dynamic group x, named by an override */
static void
dmg_nested_group( Operation *op, slap_overinst *on, Entry *x, dmg_nested_walk *w )
{
	dmg_rule r;

	dmg_bvarray_add_copy( &w->seen, &x->e_nname, op->o_tmpmemctx );
	if ( ++w->n > DMG_NESTED_TAGS_MAX ) {
		w->ts->unbounded = 1;
		return;
	}
	dmg_rule_tags( op, on, x, w->ts );
	/* a rule whose entries could not be looked up: the list depends on anything */
	if ( dmg_rule_from_entry( op, on, x, &r ) != LDAP_SUCCESS )
		w->deps->unbounded = 1;
	dmg_deps_of_filter( w->deps, r.filter );
	dmg_rule_free( op, &r );
	dmg_nested_tags_of( op, on, x, w );
}

static void
dmg_nested_tags_of( Operation *op, slap_overinst *on, Entry *group, dmg_nested_walk *w )
{
	AttributeDescription *ads[] = { dmg_ad.include_member, dmg_ad.exclude_member };
	Entry *stored, *x;
	Attribute *a;
	unsigned i, j;

	for ( i = 0; i < 2; i++ ) {
		a = attr_find( group->e_attrs, ads[i] );
		for ( j = 0; a && j < a->a_numvals && !w->ts->unbounded; j++ ) {
			if ( dmg_bvarray_has_dn( w->seen, &a->a_nvals[j] )
				|| ( stored = dmg_entry_get( op, on, &a->a_nvals[j] ) ) == NULL )
				continue;
			/* a copy: the rule's references are looked up in the database */
			x = entry_dup( stored );
			dmg_entry_release( op, on, stored );
			switch ( dmg_named_kind_of( x ) ) {
			case DMG_NAMED_STATIC:
				w->ts->unbounded = 1;
				break;
			case DMG_NAMED_DYNAMIC:
				dmg_nested_group( op, on, x, w );
				break;
			default:
				break;
			}
			entry_free( x );
		}
	}
}

/* The tags and dependencies of list ms of group that come from the groups its overrides name
 * (their strings copied into ts->own) */
static void
dmg_nested_tags( Operation *op, slap_overinst *on, Entry *group, dmg_members *ms, dmg_tags *ts,
	dmg_tags *deps )
{
	dmg_nested_walk w = { ts, deps, NULL, 0 };

	if ( !ms->names_group || ts->unbounded )
		return;
	ts->copy = 1;
	dmg_bvarray_add_copy( &w.seen, &group->e_nname, op->o_tmpmemctx );
	dmg_nested_tags_of( op, on, group, &w );
	ber_bvarray_free_x( w.seen, op->o_tmpmemctx );
}

/* The keys of a write to the entry ndn: what dmg_concerned_filter asserts for it, and ndn
 * itself (a group's own lists, dmg_group_tags); f keeps the values, free it after use */
static Filter *
dmg_write_keys( Operation *op, struct berval *ndn, dmg_tags *keys )
{
	Filter *f = dmg_concerned_filter( op, ndn );

	dmg_tags_of_filter( keys, f );
	dmg_tags_add( keys, ndn );
	return f;
}

/* ---- lists updated in place ------------------------------------------------------------------
 *
 * A write that adds, deletes or modifies one entry E that has no entry below it changes, in a
 * list its tags concern, at most E's own membership: nothing below E depends on it, and E is
 * not a department of the group (a department's delete is refused, a modified department has
 * its employees below it).  The cache then replaces such a list, before the write returns, by
 * a copy without E, with E again when the reverse test (dmg_rule_has_member, which the forward
 * expansion agrees with, nested groups included) says E is a member for the list's identity.
 * The lists of groups with overrides are dropped when E is a group (an override naming E
 * stands for its members), as are the lists of E itself, every list when the write is a
 * rename, or still has the backend's transaction on it (it runs inside another operation's,
 * not committed yet; the update's reads would go through it), or E has entries below it.
 */

/* The operation the lists of one identity are tested with, for the whole write */
typedef struct dmg_update_as {
	struct dmg_update_as *next;
	struct berval idn;	/* a copy */
	Operation op;
	dmg_who who;		/* on op.o_extra */
} dmg_update_as;

/* What the lists of one write share does not change from one list to the next (the write is
 * committed; the cache hands a group's lists over one after another): E as written, the group
 * of the list at hand and its rule (neither depends on the identity: the rule's references are
 * resolved with the rootdn's rights), and each identity's operation with its roles.  Each is
 * looked up once, when a list first needs it, and let go when the cache is done.  E is held
 * from before the first identity's operation is made until after the last is done with, so that
 * every read of the update goes through the one read transaction E holds open. */
typedef struct dmg_update_ctx {
	Operation *op;
	slap_overinst *on;
	struct berval *ndn;	/* E */
	int single;		/* -1 not known yet; 1 the write changes E's membership alone */
	unsigned others;	/* lists of other identities than the rootdn's and the
				 * privileged ones updated so far */
	int e_known;		/* E was looked up (e: NULL when deleted or gone again) */
	Entry *e;
	struct berval gndn;	/* the group of the lists at hand (a copy; empty: none yet) */
	Entry *group;		/* NULL: gone */
	int rule_rc;		/* -1: not parsed yet, else dmg_rule_from_entry's answer */
	dmg_rule rule;
	dmg_update_as *as;	/* the identities met */
} dmg_update_ctx;

/* A write updates in place the lists of the rootdn and the privileged identities (the MTA's,
 * read after every write), and those of at most DMG_UPDATE_OTHERS other identities (address
 * books bound as their users); it drops the others it concerns, so that its own cost does not
 * grow with the number of users who read the group.  A dropped list is computed again at its
 * identity's next read. */
#define DMG_UPDATE_OTHERS	8

static int
dmg_update_may_copy( dmg_update_ctx *u, struct berval *idn )
{
	dmg_info *di = u->on->on_bi.bi_private;
	int i;

	if ( dn_match( idn, &dmg_real_db( u->op )->be_rootndn ) )
		return 1;
	for ( i = 0; di->privileged_n && !BER_BVISNULL( &di->privileged_n[i] ); i++ ) {
		if ( dn_match( idn, &di->privileged_n[i] ) )
			return 1;
	}
	return u->others++ < DMG_UPDATE_OTHERS;
}

static int
dmg_first_child_cb( Operation *op, SlapReply *rs )
{
	int *found = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	*found = 1;
	/* makes the backend end the search at once */
	return LDAP_SIZELIMIT_EXCEEDED;
}

/* Does the write change E's membership alone: an add or delete (of a leaf, which back-mdb
 * requires), or a modify of an entry without entries below it?  Asked once per write. */
static int
dmg_update_single( dmg_update_ctx *u )
{
	slap_callback cb = { 0 };
	Operation root;
	Filter *f;
	int found = 0, rc;

	if ( u->single >= 0 )
		return u->single;
	u->single = u->op->o_tag != LDAP_REQ_MODIFY;
	if ( u->single )
		return 1;
	cb.sc_response = dmg_first_child_cb;
	cb.sc_private = &found;
	f = filter_dup( (Filter *)slap_filter_objectClass_pres, u->op->o_tmpmemctx );
	dmg_op_as_root( u->op, &root );
	rc = dmg_internal_search( &root, u->ndn, LDAP_SCOPE_ONELEVEL, f, &cb );
	filter_free_x( u->op, f, 1 );
	u->single = !found && rc == LDAP_SUCCESS;
	return u->single;
}

/* The operation a list cached for identity idn was computed with: the rootdn's, or a copy of
 * op for idn (anonymous when empty) on the database itself (a write guard's grant makes op's
 * own copy of it another one) -- the cache holds only lists of identities whose rights no
 * connection changes.  Made once per identity and write. */
static Operation *
dmg_update_as_identity( dmg_update_ctx *u, struct berval *idn )
{
	dmg_update_as *a;

	for ( a = u->as; a; a = a->next ) {
		if ( dn_match( &a->idn, idn ) )
			return &a->op;
	}
	a = u->op->o_tmpalloc( sizeof( *a ), u->op->o_tmpmemctx );
	ber_dupbv_x( &a->idn, idn, u->op->o_tmpmemctx );
	dmg_op_as_root( u->op, &a->op );
	if ( !dn_match( idn, &a->op.o_bd->be_rootndn ) ) {
		a->op.o_dn = a->idn;
		a->op.o_ndn = a->idn;
	}
	dmg_who_begin( &a->op, u->on, &a->who );
	a->next = u->as;
	u->as = a;
	return &a->op;
}

/* E as written; NULL when the write deleted it, or it is gone again since (a later write's
 * response decides) */
static Entry *
dmg_update_entry( dmg_update_ctx *u )
{
	if ( !u->e_known && u->op->o_tag != LDAP_REQ_DELETE )
		u->e = dmg_entry_get( u->op, u->on, u->ndn );
	u->e_known = 1;
	return u->e;
}

static void
dmg_update_group_release( dmg_update_ctx *u )
{
	if ( u->rule_rc >= 0 )
		dmg_rule_free( u->op, &u->rule );
	u->rule_rc = -1;
	if ( u->group )
		dmg_entry_release( u->op, u->on, u->group );
	u->group = NULL;
	u->op->o_tmpfree( u->gndn.bv_val, u->op->o_tmpmemctx );
	BER_BVZERO( &u->gndn );
}

/* The group gndn, as it is now (NULL: gone) */
static Entry *
dmg_update_group( dmg_update_ctx *u, struct berval *gndn )
{
	if ( !BER_BVISNULL( &u->gndn ) && dn_match( &u->gndn, gndn ) )
		return u->group;
	dmg_update_group_release( u );
	ber_dupbv_x( &u->gndn, gndn, u->op->o_tmpmemctx );
	u->group = dmg_entry_get( u->op, u->on, gndn );
	return u->group;
}

/* The rule of the group at hand; LDAP_SUCCESS or why its entries could not be looked up */
static int
dmg_update_rule( dmg_update_ctx *u )
{
	if ( u->rule_rc < 0 )
		u->rule_rc = dmg_rule_from_entry( u->op, u->on, u->group, &u->rule );
	return u->rule_rc;
}

/* Lets go of what the lists shared, E last (see dmg_update_ctx) */
static void
dmg_update_end( dmg_update_ctx *u )
{
	dmg_update_as *a, *next;

	for ( a = u->as; a; a = next ) {
		next = a->next;
		dmg_who_end( &a->op, &a->who );
		u->op->o_tmpfree( a->idn.bv_val, u->op->o_tmpmemctx );
		u->op->o_tmpfree( a, u->op->o_tmpmemctx );
	}
	u->as = NULL;
	dmg_update_group_release( u );
	if ( u->e )
		dmg_entry_release( u->op, u->on, u->e );
	u->e = NULL;
}

/* Is e a group an override of group may name (a tagged list's overrides name none)?  The
 * group's attributes first: most groups have no override, and e's classes cost more to test */
static int
dmg_override_may_name( Entry *group, Entry *e )
{
	return ( dmg_group_has_refs( group, dmg_ad.include_member )
			|| dmg_group_has_refs( group, dmg_ad.exclude_member ) )
		&& dmg_named_kind_of( e ) != DMG_NAMED_ENTRY;
}

/* Is E a member of the group at hand for identity idn (*member)?  Not LDAP_SUCCESS when the
 * list must go: E gone again since, a group an override may name (it stands for its members),
 * or a rule whose entries could not be looked up (the list is dropped, not guessed).  *as is
 * the identity's operation, when E is a member. */
static int
dmg_update_test( dmg_update_ctx *u, struct berval *idn, int *member, Operation **as )
{
	Entry *e = dmg_update_entry( u );
	int rc;

	*member = 0;
	*as = NULL;
	if ( u->op->o_tag == LDAP_REQ_DELETE )
		return LDAP_SUCCESS;
	if ( e == NULL || dmg_override_may_name( u->group, e ) )
		return LDAP_NO_SUCH_OBJECT;
	if ( ( rc = dmg_update_rule( u ) ) != LDAP_SUCCESS )
		return rc;
	*as = dmg_update_as_identity( u, idn );
	return dmg_rule_member_rc( *as, u->on, &u->rule, e, member );
}

/* dmg_cache_update_fn: the list old (cached under key: group ndn NUL identity ndn NUL) after
 * the write u describes, or NULL when it must go: old itself, changed, when the cache gave it
 * alone (exclusive) and it has the room, else a new list */
static void *
dmg_members_update( void *arg, const void *key, size_t keylen, void *old, int exclusive,
	unsigned long *nvalues, size_t *bytes )
{
	dmg_update_ctx *u = arg;
	dmg_info *di = u->on->on_bi.bi_private;
	const char *sep = memchr( key, '\0', keylen );
	struct berval gndn, idn;
	dmg_members *ms;
	Operation *as;
	int member;

	/* dmg_cache_key's form: two NUL-terminated DNs */
	if ( sep == NULL || sep + 1 >= (const char *)key + keylen
		|| ( (const char *)key )[keylen - 1] != '\0' )
		return NULL;
	gndn.bv_val = (char *)key;
	gndn.bv_len = sep - (const char *)key;
	idn.bv_val = (char *)sep + 1;
	idn.bv_len = keylen - gndn.bv_len - 2;
	if ( dn_match( &gndn, u->ndn ) || !dmg_update_may_copy( u, &idn )
		|| !dmg_update_single( u ) || dmg_update_group( u, &gndn ) == NULL
		|| dmg_update_test( u, &idn, &member, &as ) != LDAP_SUCCESS )
		return NULL;
	if ( exclusive && dmg_members_edit( as, old, u->ndn, member ? u->e : NULL ) ) {
		ms = old;
	} else {
		ms = ch_calloc( 1, sizeof( dmg_members ) );
		/* the write is committed: the updated list is as current as the one it
		 * replaces */
		ms->gen = ( (dmg_members *)old )->gen;
		dmg_members_append_except( ms, (dmg_members *)old, u->ndn );
		if ( member )
			dmg_members_push( as, ms, u->e );
	}
	if ( di->max_members && ms->n > di->max_members ) {
		/* a computation answers adminLimitExceeded: no list (the cache frees old) */
		if ( ms != old )
			dmg_members_free_value( ms );
		return NULL;
	}
	*nvalues = ms->n + ms->nmail_count;
	if ( ms != old ) {
		dmg_members_index_update( ms, (dmg_members *)old, u->ndn );
		*bytes = dmg_members_bytes( ms );
	} else {
		*bytes = dmg_members_array_bytes( ms ) + ms->strbytes;
	}
	return ms;
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
	else if ( new_ndn )
		dmg_cache_invalidate_moved( di->cache, keys.t, keys.n, moved, 2 );
	else {
		/* a modify keeps the lists that read none of the attributes it changes; the
		 * others are updated in place when they can be */
		dmg_update_ctx u = { 0 };
		dmg_tags changed;

		u.op = op;
		u.on = (slap_overinst *)op->o_bd->bd_info;
		u.ndn = ndn;
		u.single = -1;
		u.rule_rc = -1;
		dmg_write_changed( op, &changed );
		dmg_cache_invalidate_update( di->cache, keys.t, keys.n,
			changed.unbounded ? NULL : changed.t, changed.n,
			dmg_op_in_backend_txn( op ) ? NULL : dmg_members_update, &u );
		dmg_update_end( &u );
		op->o_tmpfree( changed.t, op->o_tmpmemctx );
	}
	op->o_tmpfree( keys.t, op->o_tmpmemctx );
	filter_free_x( op, f, 1 );
	if ( g )
		filter_free_x( op, g, 1 );
}

/* Stores a list computed from data read at generation gen; 1 when the cache took it */
int
dmg_members_store( Operation *op, slap_overinst *on, Entry *group, char *key, size_t len,
	unsigned long gen, dmg_members *ms, dmg_cache_entry **held )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_tags ts, deps;
	int stored;

	dmg_group_tags( op, on, group, &ts );
	dmg_group_deps( op, on, group, &deps );
	dmg_nested_tags( op, on, group, ms, &ts, &deps );
	stored = dmg_cache_put_deps( di->cache, key, len, gen, ts.t, ts.unbounded ? 0 : ts.n,
		deps.unbounded ? NULL : deps.t, deps.n, ms, ms->n + ms->nmail_count,
		dmg_members_bytes( ms ), held );
	op->o_tmpfree( ts.t, op->o_tmpmemctx );
	ber_bvarray_free_x( ts.own, op->o_tmpmemctx );
	op->o_tmpfree( deps.t, op->o_tmpmemctx );
	return stored;
}
