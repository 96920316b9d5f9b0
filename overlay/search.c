/* search.c -- the search hook: computed attributes on returned entries, filters on them
 *
 * Filters that test computed attributes are answered exactly without expanding groups:
 *
 *  1. The filter handed to the backend is a *superset* of the requested one: every assertion
 *     on a computed attribute is replaced by an indexed filter that matches at least every
 *     entry for which the assertion holds -- (member=U) by the groups naming one of U's
 *     ancestors as department, (dmgMemberOf=G) by G's member filter and conditions, and so
 *     on.  A NOT above such an assertion cannot be widened that way and becomes TRUE.
 *  2. For every entry the backend returns, the original filter is evaluated exactly
 *     (dmg_eval, on a tree built with the widened filter, so that each assertion finds its
 *     precomputed answer directly): assertions on stored attributes with test_filter,
 *     assertions on computed ones from answers precomputed once per search (the set of
 *     groups that have U as member) or, for rare forms such as substrings on member, from the
 *     computed values -- computed at most once per entry, and reused for the values sent.
 *     An assertion on a computed attribute needs the search access a stored one needs.
 *  3. Hidden groups are dropped by the response callback (dmg_group_visible: roles read from
 *     the stored group, whatever the requester's ACLs on dmgShowInContacts and the role
 *     attributes).  For requesters who may not see every group, the overlay applies the size
 *     limit itself (as for widened filters), so that a hidden group counts in no size limit.
 *     back-mdb ends a page before the callbacks see the entry that ends it: for paged
 *     searches the backend's filter is also ANDed with a visibility clause
 *     (dmg_filter_visible), which the backend evaluates with the requester's search rights.
 *  4. back-mdb's hasSubordinates counts hidden groups.  For requesters who may not see every
 *     group, the value sent is recomputed (dmg_fix_has_subordinates), and an assertion on it
 *     is one more assertion the overlay evaluates (1. and 2.): (hasSubordinates=TRUE) is
 *     handed to the backend as it is, (hasSubordinates=FALSE) becomes TRUE, and each entry is
 *     tested on the value without the hidden groups (dmg_has_shown_child).
 *
 * A failed lookup ends the search with an error; the entry it concerns is not sent.  Stored
 * values of computed attributes are never returned.  Searches with ManageDsaIT see entries as
 * stored (hidden groups stay hidden, also in hasSubordinates); replication (sync) searches and
 * the overlay's own internal searches see everything as stored.
 */
#include "dmg.h"

typedef enum dmg_node_kind {
	DMG_NODE_STORED,	/* no computed attribute at or below it: test_filter */
	DMG_NODE_AND,
	DMG_NODE_OR,
	DMG_NODE_NOT,
	DMG_NODE_TRUE,		/* (dmgSender=...), (dmgExplainMember=...): always true */
	DMG_NODE_GROUP_SET,	/* exact set of dynamic groups that satisfy it */
	DMG_NODE_MEMBER_OF,	/* (dmgMemberOf=G): G's rule */
	DMG_NODE_COMPUTE,	/* evaluated on the computed values */
	DMG_NODE_HAS_SUBORDINATES	/* hasSubordinates without the hidden groups */
} dmg_node_kind;

/* The original filter as the exact evaluation walks it: built once with the widened filter,
 * so that each assertion finds what was precomputed for it without a lookup. */
typedef struct dmg_node {
	Filter *f;		/* in the original filter */
	dmg_node_kind kind;
	struct dmg_node *children, *next;	/* AND, OR, NOT */
	BerVarray groups;	/* GROUP_SET, normalized DNs */
	Entry *group;		/* MEMBER_OF: a copy of G, NULL when G is not visible */
	dmg_rule rule;
	struct dmg_node *all;	/* every node of the search, to free them */
} dmg_node;

typedef struct dmg_search_ctx {
	slap_overinst *on;
	Filter *orig_filter;	/* the requester's filter, while the backend has another */
	struct berval orig_filterstr;
	dmg_node *eval;		/* exact evaluation of orig_filter; NULL: the backend's is exact */
	dmg_node *nodes;
	unsigned ncomputed;	/* assertions on computed attributes seen so far */
	struct berval sender;
	int has_sender;
	struct berval explain;	/* (dmgExplainMember=DN), normalized */
	int has_explain;
	int want_member, want_mail, want_count, want_member_of;
	int want_decision, want_auditor_mail, want_explanation, want_dangling;
	int want_references;	/* reference attributes, presented as they are now */
	int slimit;		/* the requester's size limit, applied to the exact answer ... */
	int own_slimit;		/* ... by the overlay (widened filter, hidden groups dropped) */
	int hide;		/* the requester may not see every group */
	int rc;			/* the first failure: the search ends with it */
	char *err_text;
	int stored_only;	/* ManageDsaIT: nothing computed, only visibility applies */
	unsigned long gen;	/* cache generation when the search began */
	/* The entry being answered: its member list, computed at most once (for the filter and
	 * for the values sent), held until the entry is sent (cleanup) ... */
	dmg_members_view sent;
	int holding;
	/* ... and the backend's entry, whose values its shared copy (dmg_entry_share) sent;
	 * the copy is freed when the next entry is answered or the search ends */
	Entry *shared;
	slap_mask_t shared_flags;
	Entry *copy;
	int copy_nattrs;	/* its own attributes, in its memory after it, ... */
	Attribute *copy_room;	/* ... the last DMG_ATTACH_ROOM of them unused yet */
	/* ... and its computed values for the exact evaluation */
	Entry values;
	int values_members, values_member_of, member_of_rc, values_dangling, dangling_rc;
	int values_hs, hs_rc, hs;
	dmg_who who;		/* the requester's roles, on op->o_extra until the cleanup */
} dmg_search_ctx;

/* ---- requested attributes ----------------------------------------------------------------------- */

/* Requested by its own name (not through "*", "+" or "@class") */
static int
dmg_attr_named( AttributeName *attrs, AttributeDescription *ad )
{
	for ( ; attrs && attrs->an_name.bv_val; attrs++ ) {
		if ( attrs->an_desc == ad )
			return 1;
	}
	return 0;
}

int
dmg_attr_requested( Operation *op, AttributeName *attrs, AttributeDescription *ad, int by_star_or_plus )
{
	(void)op;
	if ( !by_star_or_plus )
		return dmg_attr_named( attrs, ad );
	/* no attribute list means "*" */
	return attrs == NULL ? !is_at_operational( ad->ad_type ) : ad_inlist( ad, attrs );
}

static void
dmg_search_wants( Operation *op, dmg_search_ctx *ctx )
{
	AttributeName *an = op->ors_attrs;

	ctx->want_member = dmg_attr_requested( op, an, dmg_ad.member, 1 );
	ctx->want_mail = dmg_attr_requested( op, an, dmg_ad.member_mail, 1 );
	ctx->want_count = dmg_attr_requested( op, an, dmg_ad.member_count, 1 );
	ctx->want_member_of = dmg_attr_requested( op, an, dmg_ad.member_of, 1 );
	ctx->want_decision = dmg_attr_requested( op, an, dmg_ad.decision, 0 )
		|| dmg_attr_requested( op, an, dmg_ad.decision_reason, 0 );
	ctx->want_auditor_mail = dmg_attr_requested( op, an, dmg_ad.auditor_mail, 0 );
	ctx->want_explanation = dmg_attr_requested( op, an, dmg_ad.explanation, 0 );
	ctx->want_dangling = dmg_attr_requested( op, an, dmg_ad.dangling, 0 );
	ctx->want_references = dmg_refs_requested( op );
}

/* ---- filter analysis ------------------------------------------------------------------------------ */

static int
dmg_filter_is_computed_leaf( Filter *f )
{
	AttributeDescription *ad = dmg_filter_ad( f );

	return ad != NULL && dmg_ad_is_computed( ad );
}

/* Stored values of computed attributes (loaded with slapadd, or replicated from a provider
 * without the overlay) are never returned or tested: the computed ones take their place.  member is
 * computed on dynamic groups only. */
static int
dmg_is_stored_computed( AttributeDescription *ad, int is_group )
{
	if ( ad->ad_type == dmg_ad.member->ad_type )
		return is_group;
	return dmg_ad_is_computed( ad );
}

/* Does an assertion of filter f (AND, OR and NOT walked) satisfy leaf? */
static int
dmg_filter_any( Filter *f, int ( *leaf )( Filter *f, void *arg ), void *arg )
{
	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
		for ( f = f->f_list; f; f = f->f_next ) {
			if ( dmg_filter_any( f, leaf, arg ) )
				return 1;
		}
		return 0;
	case LDAP_FILTER_NOT:
		return dmg_filter_any( f->f_not, leaf, arg );
	}
	return leaf( f, arg );
}

/* An assertion the backend answers from hasSubordinates, which counts every child, hidden
 * groups included: equality and approximate (slapd answers the other forms without looking
 * at children) */
static int
dmg_filter_is_has_subordinates( Filter *f, void *arg )
{
	(void)arg;
	return ( f->f_choice == LDAP_FILTER_EQUALITY || f->f_choice == LDAP_FILTER_APPROX )
		&& f->f_av_desc == slap_schema.si_ad_hasSubordinates;
}

/* An assertion the backend cannot answer exactly (arg: the search's dmg_search_ctx): on a
 * computed attribute (but as stored with ManageDsaIT), or on hasSubordinates for a requester
 * who may not see every group */
static int
dmg_filter_is_evaluated_leaf( Filter *f, void *arg )
{
	dmg_search_ctx *ctx = arg;

	return ( !ctx->stored_only && dmg_filter_is_computed_leaf( f ) )
		|| ( ctx->hide && dmg_filter_is_has_subordinates( f, NULL ) );
}

static Filter *
dmg_filter_node( Operation *op, int choice )
{
	Filter *f = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	f->f_choice = choice;
	return f;
}

static Filter *
dmg_filter_result( Operation *op, ber_int_t result )
{
	Filter *f = dmg_filter_node( op, SLAPD_FILTER_COMPUTED );

	f->f_result = result;
	return f;
}

static Filter *
dmg_filter_or2( Operation *op, Filter *a, Filter *b )
{
	Filter *or = dmg_filter_node( op, LDAP_FILTER_OR );

	or->f_or = a;
	a->f_next = b;
	return or;
}

static Filter *
dmg_filter_oc_group( Operation *op )
{
	return str2filter_x( op, "(objectClass=dynamicMailGroup)" );
}

/* ---- failures -------------------------------------------------------------------------------- */

/* Remembers the first failure; the search ends with it (dmg_search_response), and the entry
 * it concerns is not sent: never a partial member list. */
static void
dmg_search_fail( Operation *op, dmg_search_ctx *ctx, int rc, struct berval *dn )
{
	dmg_info *di = ctx->on->on_bi.bi_private;
	size_t len;

	if ( ctx->rc != LDAP_SUCCESS )
		return;
	len = ( dn ? dn->bv_len : 0 ) + 160;
	ctx->err_text = op->o_tmpalloc( len, op->o_tmpmemctx );
	if ( rc == LDAP_ADMINLIMIT_EXCEEDED && dn ) {
		snprintf( ctx->err_text, len, "group \"%s\" has more than %lu members "
			"(dynmailgroup-max-members)", dn->bv_val, di->max_members );
	} else if ( dn == NULL ) {
		snprintf( ctx->err_text, len, "dynmailgroup: could not evaluate the search "
			"filter (%s)", ldap_err2string( rc ) );
		rc = LDAP_OTHER;
	} else {
		snprintf( ctx->err_text, len, "dynmailgroup: could not compute the values of "
			"\"%s\" (%s)", dn ? dn->bv_val : "", ldap_err2string( rc ) );
		rc = LDAP_OTHER;
	}
	ctx->rc = rc;
}

/* ---- filter widening ------------------------------------------------------------------------------ */

static dmg_node *
dmg_node_new( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_node_kind kind )
{
	dmg_node *n = op->o_tmpcalloc( 1, sizeof( dmg_node ), op->o_tmpmemctx );

	n->f = f;
	n->kind = kind;
	n->all = ctx->nodes;
	ctx->nodes = n;
	if ( kind > DMG_NODE_NOT )
		ctx->ncomputed++;
	return n;
}

static void
dmg_nodes_free( Operation *op, dmg_search_ctx *ctx )
{
	dmg_node *n, *next;

	for ( n = ctx->nodes; n; n = next ) {
		next = n->all;
		ber_bvarray_free_x( n->groups, op->o_tmpmemctx );
		dmg_rule_free( op, &n->rule );
		if ( n->group )
			entry_free( n->group );
		op->o_tmpfree( n, op->o_tmpmemctx );
	}
	ctx->nodes = NULL;
	ctx->eval = NULL;
}

/* Appends the groups that have the entry ndn as member to *set; returns the candidate filter
 * (those groups, by entryUUID) or NULL when there are none, the entry is not there for op or
 * the lookup failed (ctx->rc). */
static Filter *
dmg_groups_of_ndn( Operation *op, dmg_search_ctx *ctx, struct berval *ndn, BerVarray *set )
{
	Entry *e = NULL;
	BerVarray found = NULL;
	Filter *cand = NULL;
	int i, rc;

	if ( ( e = dmg_entry_get( op, ctx->on, ndn ) ) == NULL )
		return NULL;
	rc = dmg_groups_of_entry( op, ctx->on, e, &found, NULL, &cand, ctx->gen );
	if ( rc != LDAP_SUCCESS )
		dmg_search_fail( op, ctx, rc, NULL );
	dmg_entry_release( op, ctx->on, e );
	for ( i = 0; found && !BER_BVISNULL( &found[i] ); i++ ) {
		struct berval copy;

		ber_dupbv_x( &copy, &found[i], op->o_tmpmemctx );
		ber_bvarray_add_x( set, &copy, op->o_tmpmemctx );
	}
	ber_bvarray_free_x( found, op->o_tmpmemctx );
	return cand;
}

/* (member=U): static groups with U stored, or the dynamic groups that have U */
static Filter *
dmg_broaden_member_eq( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_node *n )
{
	Filter *cand = dmg_groups_of_ndn( op, ctx, &f->f_av_value, &n->groups );
	Filter *stored = filter_dup( f, op->o_tmpmemctx );

	return cand ? dmg_filter_or2( op, stored, cand ) : stored;
}

/* (dmgMemberMail=addr): the groups of every member-filter entry with that mail */
static Filter *
dmg_broaden_member_mail_eq( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_node *n )
{
	Filter *or = dmg_filter_node( op, LDAP_FILTER_OR ), **tail = &or->f_or;
	BerVarray ndns = NULL;
	int i, rc;

	rc = dmg_entries_with_mail( op, ctx->on, &f->f_av_value, &ndns );
	if ( rc != LDAP_SUCCESS )
		dmg_search_fail( op, ctx, rc, NULL );
	for ( i = 0; ndns && !BER_BVISNULL( &ndns[i] ); i++ ) {
		Filter *cand = dmg_groups_of_ndn( op, ctx, &ndns[i], &n->groups );

		if ( cand ) {
			*tail = cand;
			tail = &cand->f_next;
		}
	}
	ber_bvarray_free_x( ndns, op->o_tmpmemctx );
	if ( or->f_or == NULL ) {
		op->o_tmpfree( or, op->o_tmpmemctx );
		return dmg_filter_result( op, LDAP_COMPARE_FALSE );
	}
	return or;
}

/* (dmgMemberOf=G): entries matching G's member filter and conditions */
static Filter *
dmg_broaden_member_of_eq( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_node *n )
{
	dmg_info *di = ctx->on->on_bi.bi_private;
	Entry *g = NULL;
	int rc;

	if ( ( g = dmg_entry_get( op, ctx->on, &f->f_av_value ) ) == NULL )
		return dmg_filter_result( op, LDAP_COMPARE_FALSE );
	if ( dmg_entry_is_group( g )
		&& access_allowed( op, g, slap_schema.si_ad_entry, NULL, ACL_READ, NULL )
		&& dmg_group_visible( op, ctx->on, g ) )
		n->group = entry_dup( g );
	dmg_entry_release( op, ctx->on, g );
	if ( n->group == NULL )
		return dmg_filter_result( op, LDAP_COMPARE_FALSE );
	if ( ( rc = dmg_rule_from_entry( op, ctx->on, n->group, &n->rule ) ) != LDAP_SUCCESS ) {
		/* the rule selects nobody: its groups would be missing from the result */
		dmg_search_fail( op, ctx, rc, NULL );
		return dmg_filter_result( op, LDAP_COMPARE_FALSE );
	}
	/* the backend's answer must not depend on conditions the requester may not read: which
	 * entries the widened filter selects shows in paging; included entries need not meet
	 * them, nor, with group visibility, conditions the requester may not search */
	if ( dmg_group_has_refs( n->group, dmg_ad.include_member ) || di->visibility_group
		|| !access_allowed( op, n->group, dmg_ad.condition, NULL, ACL_READ, NULL ) )
		return filter_dup( di->member_filter, op->o_tmpmemctx );
	return filter_dup( n->rule.filter, op->o_tmpmemctx );
}

/* (hasSubordinates=TRUE) without the hidden groups implies it with them: the backend keeps
 * it.  Another value may hold without them where it does not with them: every entry. */
static Filter *
dmg_broaden_has_subordinates( Operation *op, Filter *f )
{
	if ( bvmatch( &f->f_av_value, &slap_true_bv ) )
		return filter_dup( f, op->o_tmpmemctx );
	return dmg_filter_result( op, LDAP_COMPARE_TRUE );
}

static Filter *
dmg_broaden_leaf( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_node **np )
{
	AttributeDescription *ad = dmg_filter_ad( f );
	dmg_info *di = ctx->on->on_bi.bi_private;

	if ( dmg_filter_is_has_subordinates( f, NULL ) ) {
		*np = dmg_node_new( op, ctx, f, DMG_NODE_HAS_SUBORDINATES );
		return dmg_broaden_has_subordinates( op, f );
	}
	if ( ad == dmg_ad.sender ) {
		if ( f->f_choice == LDAP_FILTER_EQUALITY && !ctx->has_sender ) {
			ctx->sender = f->f_av_value;
			ctx->has_sender = 1;
		}
		*np = dmg_node_new( op, ctx, f, DMG_NODE_TRUE );
		return dmg_filter_result( op, LDAP_COMPARE_TRUE );
	}
	if ( ad == dmg_ad.explain_member ) {
		if ( f->f_choice == LDAP_FILTER_EQUALITY && !ctx->has_explain ) {
			ctx->explain = f->f_av_value;
			ctx->has_explain = 1;
		}
		*np = dmg_node_new( op, ctx, f, DMG_NODE_TRUE );
		return dmg_filter_result( op, LDAP_COMPARE_TRUE );
	}
	if ( f->f_choice == LDAP_FILTER_EQUALITY ) {
		if ( ad == dmg_ad.member ) {
			*np = dmg_node_new( op, ctx, f, DMG_NODE_GROUP_SET );
			return dmg_broaden_member_eq( op, ctx, f, *np );
		}
		if ( ad == dmg_ad.member_mail ) {
			*np = dmg_node_new( op, ctx, f, DMG_NODE_GROUP_SET );
			return dmg_broaden_member_mail_eq( op, ctx, f, *np );
		}
		if ( ad == dmg_ad.member_of ) {
			*np = dmg_node_new( op, ctx, f, DMG_NODE_MEMBER_OF );
			return dmg_broaden_member_of_eq( op, ctx, f, *np );
		}
	}
	/* anything else: evaluated on computed values, for every entry that may carry them */
	*np = dmg_node_new( op, ctx, f, DMG_NODE_COMPUTE );
	if ( ad == dmg_ad.member_of )
		return filter_dup( di->member_filter, op->o_tmpmemctx );
	/* only groups carry it (no entry stores it, the guard refuses it): the objectClass
	 * index alone gives the candidates; with the assertion itself in an OR the backend
	 * would read every entry of the scope */
	if ( ad == dmg_ad.dangling )
		return dmg_filter_oc_group( op );
	return dmg_filter_or2( op, filter_dup( f, op->o_tmpmemctx ), dmg_filter_oc_group( op ) );
}

/* Returns the widened filter for f and sets *np to f's node.  A subtree without computed
 * assertions is one STORED node, copied as it is. */
static Filter *
dmg_broaden( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_node **np )
{
	unsigned before = ctx->ncomputed;
	dmg_node *n, **ntail;
	Filter *b, *c, **tail;

	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
		n = dmg_node_new( op, ctx, f, f->f_choice == LDAP_FILTER_AND ? DMG_NODE_AND : DMG_NODE_OR );
		b = dmg_filter_node( op, f->f_choice );
		tail = &b->f_list;
		ntail = &n->children;
		for ( c = f->f_list; c; c = c->f_next ) {
			*tail = dmg_broaden( op, ctx, c, ntail );
			tail = &(*tail)->f_next;
			ntail = &(*ntail)->next;
		}
		break;
	case LDAP_FILTER_NOT:
		n = dmg_node_new( op, ctx, f, DMG_NODE_NOT );
		b = dmg_broaden( op, ctx, f->f_not, &n->children );
		if ( ctx->ncomputed != before ) {
			/* NOT(superset) would be a subset: let everything through, decide later */
			filter_free_x( op, b, 1 );
			b = dmg_filter_result( op, LDAP_COMPARE_TRUE );
		} else {
			c = b;
			b = dmg_filter_node( op, LDAP_FILTER_NOT );
			b->f_not = c;
		}
		break;
	default:
		if ( dmg_filter_is_evaluated_leaf( f, ctx ) )
			return dmg_broaden_leaf( op, ctx, f, np );
		n = NULL;
		b = filter_dup( f, op->o_tmpmemctx );
		break;
	}
	if ( n == NULL || ctx->ncomputed == before ) {
		/* its children's nodes stay on ctx->nodes until the end; nothing refers to them */
		n = dmg_node_new( op, ctx, f, DMG_NODE_STORED );
	}
	*np = n;
	return b;
}

/* ---- hidden groups ---------------------------------------------------------------------------- */

/* Entries that are not groups, visible groups, and hidden groups op has a role in:
 *   (|(!(objectClass=dynamicMailGroup))(!(dmgShowInContacts=FALSE))
 *     (dmgApplicant=ME)(dmgAdministrator=ME)(dmgAuditor=ME), and their UUIDs' (=MY-UUID))
 * ANDed with the filter of a paged search: back-mdb ends a page at the next entry its filter
 * matches, before any callback has seen it, so a hidden group would start a page of its own.
 * The backend evaluates it with the requester's search rights (man page ACCESS CONTROL).
 * Its NOTs leave the backend's candidates (indexes) to the requester's filter. */
static Filter *
dmg_filter_visible( Operation *op, slap_overinst *on )
{
	static AttributeDescription **const roles[] = { &dmg_ad.applicant, &dmg_ad.administrator,
		&dmg_ad.auditor, NULL };
	Filter *or = str2filter_x( op,
		"(|(!(objectClass=dynamicMailGroup))(!(dmgShowInContacts=FALSE)))" );
	struct berval me;
	int i;

	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return or;
	/* a role value may predate a rename: by UUID too (references.c) */
	dmg_requester_uuid( op, on, &me );
	for ( i = 0; roles[i]; i++ ) {
		dmg_filter_or_add( or, dmg_filter_eq( op, *roles[i], &op->o_ndn ) );
		if ( !BER_BVISEMPTY( &me ) )
			dmg_filter_or_add( or, dmg_filter_eq( op, dmg_ref_uuid_ad( *roles[i] ), &me ) );
	}
	return or;
}

/* ---- hasSubordinates ---------------------------------------------------------------------------- */

typedef struct dmg_children {
	Operation *requester;
	slap_overinst *on;
	int hidden;		/* hidden groups the requester may not see */
	int shown;		/* other children */
} dmg_children;

static int
dmg_children_cb( Operation *op, SlapReply *rs )
{
	dmg_children *cc = op->o_callback->sc_private;
	Entry *e = rs->sr_entry;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	/* reads the child and the requester's roles (on its operation), not the database */
	if ( dmg_entry_is_group( e ) && !dmg_group_visible( cc->requester, cc->on, e ) )
		cc->hidden++;
	else
		cc->shown++;
	return 0;
}

/* Sorts the children of e that match f, with the rootdn's rights: back-mdb's hasSubordinates
 * counts every child, whatever the ACLs. */
static int
dmg_children_sort( Operation *op, slap_overinst *on, Entry *e, Filter *f, dmg_children *cc )
{
	slap_callback cb = { 0 };
	Operation root;
	int rc;

	cc->requester = op;
	cc->on = on;
	cb.sc_response = dmg_children_cb;
	cb.sc_private = cc;
	dmg_op_as_root( op, &root );
	rc = dmg_internal_search( &root, &e->e_nname, LDAP_SCOPE_ONELEVEL, f, &cb );
	filter_free_x( op, f, 1 );
	return rc;
}

/* The hidden children are looked for first (an indexed search): only a container that holds
 * one has its other children looked for. */
int
dmg_has_shown_child( Operation *op, slap_overinst *on, Entry *e, int *yes )
{
	dmg_children hidden = { 0 }, shown = { 0 };
	int rc;

	*yes = 1;
	rc = dmg_children_sort( op, on, e,
		str2filter_x( op, "(&(objectClass=dynamicMailGroup)(dmgShowInContacts=FALSE))" ),
		&hidden );
	if ( rc != LDAP_SUCCESS || hidden.hidden == 0 )
		return rc;
	rc = dmg_children_sort( op, on, e, dmg_filter_visible( op, on ), &shown );
	*yes = shown.shown > 0;
	return rc;
}

int
dmg_subordinates_shown( Operation *op, slap_overinst *on, Entry *e, int *hs )
{
	int shown = 1, rc = LDAP_SUCCESS;

	if ( *hs == LDAP_COMPARE_TRUE && !dmg_sees_every_group( op, on ) )
		rc = dmg_has_shown_child( op, on, e, &shown );
	if ( rc == LDAP_SUCCESS && !shown )
		*hs = LDAP_COMPARE_FALSE;
	return rc;
}

/* hasSubordinates of e as back-mdb answers it (without ACLs), LDAP_COMPARE_TRUE or FALSE */
static int
dmg_backend_has_subordinates( Operation *op, slap_overinst *on, Entry *e, int *hs )
{
	BI_has_subordinates *backend = on->on_info->oi_orig->bi_has_subordinates;
	Operation o = *op;

	/* the backend's own function, not the stack's (dynmailgroup.c takes its slot) */
	*hs = LDAP_COMPARE_FALSE;
	if ( backend == NULL )
		return LDAP_SUCCESS;
	o.o_bd = dmg_real_db( op );
	return backend( &o, e, hs );
}

/* back-mdb generates hasSubordinates before this overlay's callback sees the entry, counting
 * hidden groups: a TRUE sent to a requester who may not see every group is recomputed without
 * the hidden groups the requester may not see.  Returns the failure of the lookup. */
static int
dmg_fix_has_subordinates( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	Attribute **ap, *a;
	int yes, rc;

	if ( !ctx->hide )
		return LDAP_SUCCESS;
	for ( ap = &rs->sr_operational_attrs; *ap; ap = &(*ap)->a_next ) {
		if ( (*ap)->a_desc == slap_schema.si_ad_hasSubordinates )
			break;
	}
	if ( *ap == NULL || !bvmatch( &(*ap)->a_vals[0], &slap_true_bv ) )
		return LDAP_SUCCESS;
	rc = dmg_has_shown_child( op, ctx->on, rs->sr_entry, &yes );
	if ( rc != LDAP_SUCCESS || yes )
		return rc;
	a = slap_operational_hasSubordinate( 0 );
	a->a_next = (*ap)->a_next;
	(*ap)->a_next = NULL;
	attr_free( *ap );
	*ap = a;
	return LDAP_SUCCESS;
}

/* ---- exact evaluation ---------------------------------------------------------------------------- */

/* The member list of group e, computed once for the entry being answered and held until it
 * is sent. */
static int
dmg_entry_members( Operation *op, dmg_search_ctx *ctx, Entry *e )
{
	int rc;

	if ( ctx->holding )
		return LDAP_SUCCESS;
	rc = dmg_members_acquire( op, ctx->on, e, ctx->gen, &ctx->sent );
	if ( rc != LDAP_SUCCESS ) {
		dmg_members_release( ctx->on, &ctx->sent );
		return rc;
	}
	ctx->holding = 1;
	return LDAP_SUCCESS;
}

/* dmgMemberOf of e, computed once for the entry being answered, on ctx->values */
static int
dmg_entry_member_of( Operation *op, dmg_search_ctx *ctx, Entry *e )
{
	if ( !ctx->values_member_of ) {
		ctx->member_of_rc = dmg_member_of_to_entry( op, ctx->on, e, &ctx->values, ctx->gen );
		ctx->values_member_of = 1;
	}
	return ctx->member_of_rc;
}

/* dmgDanglingReference of group e, computed once for the entry being answered */
static int
dmg_entry_dangling( Operation *op, dmg_search_ctx *ctx, Entry *e )
{
	if ( !ctx->values_dangling ) {
		ctx->dangling_rc = dmg_dangling_to_entry( op, ctx->on, e, &ctx->values );
		ctx->values_dangling = 1;
	}
	return ctx->dangling_rc;
}

/* hasSubordinates of e without the hidden groups op's requester may not see, computed once
 * for the entry being answered */
static int
dmg_entry_has_subordinates( Operation *op, dmg_search_ctx *ctx, Entry *e )
{
	if ( ctx->values_hs )
		return ctx->hs_rc;
	ctx->values_hs = 1;
	ctx->hs_rc = dmg_backend_has_subordinates( op, ctx->on, e, &ctx->hs );
	if ( ctx->hs_rc == LDAP_SUCCESS )
		ctx->hs_rc = dmg_subordinates_shown( op, ctx->on, e, &ctx->hs );
	return ctx->hs_rc;
}

/* The computed values of e that an assertion on ad tests, on ctx->values */
static int
dmg_entry_values( Operation *op, dmg_search_ctx *ctx, Entry *e, AttributeDescription *ad )
{
	int rc;

	if ( ad->ad_type == dmg_ad.member_of->ad_type )
		return dmg_entry_member_of( op, ctx, e );
	if ( ad->ad_type == dmg_ad.dangling->ad_type )
		return dmg_entry_dangling( op, ctx, e );
	if ( ctx->values_members )
		return LDAP_SUCCESS;
	rc = dmg_entry_members( op, ctx, e );
	if ( rc != LDAP_SUCCESS )
		return rc;
	dmg_members_put( &ctx->values, ctx->sent.ms, 1, 1, 1, 1, NULL );
	ctx->values_members = 1;
	return LDAP_SUCCESS;
}

static void
dmg_entry_values_begin( dmg_search_ctx *ctx, Entry *e )
{
	memset( &ctx->values, 0, sizeof( ctx->values ) );
	ctx->values.e_name = e->e_name;
	ctx->values.e_nname = e->e_nname;
	ctx->values.e_id = e->e_id;
	ctx->values_members = ctx->values_member_of = ctx->values_dangling = ctx->values_hs = 0;
}

static void
dmg_entry_values_end( dmg_search_ctx *ctx )
{
	attrs_free( ctx->values.e_attrs );
	memset( &ctx->values, 0, sizeof( ctx->values ) );
}

/* A filter assertion on a computed attribute needs the search access slapd's test_filter
 * requires for a stored one; without it, the assertion is Undefined. */
static int
dmg_assertion_allowed( Operation *op, Entry *e, Filter *f )
{
	struct berval *val = NULL;

	switch ( f->f_choice ) {
	case LDAP_FILTER_EQUALITY:
	case LDAP_FILTER_GE:
	case LDAP_FILTER_LE:
	case LDAP_FILTER_APPROX:
		val = &f->f_av_value;
		break;
	}
	return access_allowed( op, e, dmg_filter_ad( f ), val, ACL_SEARCH, NULL );
}

/* An assertion on a computed attribute that e holds stored values of: member of a static
 * group is tested as stored; a stored value of a computed attribute never matches. */
static int
dmg_test_stored( Operation *op, Entry *e, Filter *f, int is_group )
{
	if ( dmg_is_stored_computed( dmg_filter_ad( f ), is_group ) )
		return LDAP_COMPARE_FALSE;
	return test_filter( op, e, f );
}

/* (hasSubordinates=V), as slapd tests it (both forms are equality), on the value without the
 * hidden groups */
static int
dmg_eval_has_subordinates( Operation *op, dmg_search_ctx *ctx, Filter *f, Entry *e )
{
	int rc = dmg_entry_has_subordinates( op, ctx, e );

	if ( rc != LDAP_SUCCESS ) {
		dmg_search_fail( op, ctx, rc, &e->e_name );
		return SLAPD_COMPARE_UNDEFINED;
	}
	return bvmatch( &f->f_av_value,
			ctx->hs == LDAP_COMPARE_TRUE ? &slap_true_bv : &slap_false_bv )
		? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE;
}

/* Tests f on the values e has; used for the uncommon forms of assertions. */
static int
dmg_eval_computed( Operation *op, dmg_search_ctx *ctx, Filter *f, Entry *e )
{
	AttributeDescription *ad = dmg_filter_ad( f );
	int rc, is_group = dmg_entry_is_group( e );
	Operation root;

	if ( dmg_ad_is_group_computed( ad ) && !is_group )
		return dmg_test_stored( op, e, f, 0 );
	if ( ad->ad_type == dmg_ad.member_of->ad_type ) {
		if ( is_group )
			return LDAP_COMPARE_FALSE;
	} else if ( ad->ad_type != dmg_ad.member->ad_type
		&& ad->ad_type != dmg_ad.member_mail->ad_type
		&& ad->ad_type != dmg_ad.member_count->ad_type
		&& ad->ad_type != dmg_ad.dangling->ad_type ) {
		return SLAPD_COMPARE_UNDEFINED;	/* decisions are not filterable */
	}
	rc = dmg_entry_values( op, ctx, e, ad );
	if ( rc != LDAP_SUCCESS ) {
		dmg_search_fail( op, ctx, rc, &e->e_name );
		return SLAPD_COMPARE_UNDEFINED;
	}
	/* access was checked on e itself (dmg_assertion_allowed); the values entry carries
	 * nothing else an ACL could test */
	dmg_op_as_root( op, &root );
	return test_filter( &root, &ctx->values, f );
}

static int
dmg_eval_assertion( Operation *op, dmg_search_ctx *ctx, dmg_node *n, Entry *e )
{
	if ( n->kind == DMG_NODE_TRUE )
		return LDAP_COMPARE_TRUE;
	if ( !dmg_assertion_allowed( op, e, n->f ) )
		return SLAPD_COMPARE_UNDEFINED;
	switch ( n->kind ) {
	case DMG_NODE_GROUP_SET:
		if ( dmg_entry_is_group( e ) )
			return dmg_bvarray_has_dn( n->groups, &e->e_nname ) ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE;
		return dmg_test_stored( op, e, n->f, 0 );
	case DMG_NODE_MEMBER_OF:
		if ( n->group == NULL || dmg_entry_is_group( e ) )
			return LDAP_COMPARE_FALSE;
		return dmg_rule_shows_member( op, ctx->on, n->group, &n->rule, e )
			? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE;
	case DMG_NODE_COMPUTE:
		return dmg_eval_computed( op, ctx, n->f, e );
	case DMG_NODE_HAS_SUBORDINATES:
		return dmg_eval_has_subordinates( op, ctx, n->f, e );
	default:
		break;
	}
	return SLAPD_COMPARE_UNDEFINED;
}

static int
dmg_eval( Operation *op, dmg_search_ctx *ctx, dmg_node *n, Entry *e )
{
	dmg_node *c;
	int rc, r;

	switch ( n->kind ) {
	case DMG_NODE_STORED:
		return test_filter( op, e, n->f );
	case DMG_NODE_AND:
		rc = LDAP_COMPARE_TRUE;
		for ( c = n->children; c; c = c->next ) {
			r = dmg_eval( op, ctx, c, e );
			if ( r == LDAP_COMPARE_FALSE )
				return r;
			if ( r != LDAP_COMPARE_TRUE )
				rc = r;
		}
		return rc;
	case DMG_NODE_OR:
		rc = LDAP_COMPARE_FALSE;
		for ( c = n->children; c; c = c->next ) {
			r = dmg_eval( op, ctx, c, e );
			if ( r == LDAP_COMPARE_TRUE )
				return r;
			if ( r != LDAP_COMPARE_FALSE )
				rc = r;
		}
		return rc;
	case DMG_NODE_NOT:
		r = dmg_eval( op, ctx, n->children, e );
		if ( r == LDAP_COMPARE_TRUE )
			return LDAP_COMPARE_FALSE;
		if ( r == LDAP_COMPARE_FALSE )
			return LDAP_COMPARE_TRUE;
		return r;
	default:
		break;
	}
	return dmg_eval_assertion( op, ctx, n, e );
}

/* ---- the response ------------------------------------------------------------------------------ */

static int
dmg_wants_group_values( dmg_search_ctx *ctx )
{
	return ctx->want_member || ctx->want_mail || ctx->want_count
		|| ( ctx->want_decision && ctx->has_sender ) || ctx->want_auditor_mail
		|| ( ctx->want_explanation && ctx->has_explain ) || ctx->want_dangling
		|| ctx->want_references;
}

static void
dmg_strip_stored_computed( Operation *op, SlapReply *rs, dmg_search_ctx *ctx, int is_group )
{
	Attribute *a, **ap;

	for ( a = rs->sr_entry->e_attrs; a; a = a->a_next ) {
		if ( dmg_is_stored_computed( a->a_desc, is_group ) )
			break;
	}
	if ( a == NULL )
		return;
	rs_entry2modifiable( op, rs, ctx->on );
	for ( ap = &rs->sr_entry->e_attrs; *ap; ) {
		a = *ap;
		if ( dmg_is_stored_computed( a->a_desc, is_group ) ) {
			*ap = a->a_next;
			a->a_next = NULL;
			attr_free( a );
		} else {
			ap = &a->a_next;
		}
	}
}

/* Frees the copy of the last entry answered (dmg_entry_share): the attributes added to it
 * (attr_merge's) and its own memory; the values are the backend's or the cache's */
static void
dmg_entry_copy_free( Operation *op, dmg_search_ctx *ctx )
{
	Attribute *a, *next, *own;

	if ( ctx->copy == NULL )
		return;
	own = (Attribute *)( ctx->copy + 1 );
	for ( a = ctx->copy->e_attrs; a; a = next ) {
		next = a->a_next;
		if ( a < own || a >= own + ctx->copy_nattrs ) {
			a->a_next = NULL;
			attr_free( a );
		}
	}
	op->o_tmpfree( ctx->copy, op->o_tmpmemctx );
	ctx->copy = NULL;
}

/* The entry to put computed values on: a copy that shares the values of the backend's entry
 * (rs_entry2modifiable would copy every value of every attribute, as much work again as the
 * rest of a cached read).  Computed values are added to it as attributes of their own (those
 * stored were stripped first), its own are never changed: it is not marked modifiable, so
 * that whoever would change one (references.c, an overlay above) takes a full copy of it.  The
 * backend's entry is kept until the copy has been sent (dmg_search_cleanup), or freed with it
 * when an error drops it: the copy frees none of the values.
 *
 * The copy and its own attributes, with room for the two the member values are attached by,
 * are in the operation's memory, as back-mdb's entries are, and slapd is told nothing is to
 * be freed: entry_alloc and attr_alloc would take the locks of slapd's global free lists
 * twice per entry, where concurrent readers queue.  The overlay
 * frees it (dmg_entry_copy_free) once slapd is done with it: when the next entry is answered
 * or the search ends, not in the entry's cleanup, which the cleanups of overlays above may
 * follow. */
static void
dmg_entry_share( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	Entry *e = rs->sr_entry, *copy;
	Attribute *a, *c, *own;
	char *names;
	int n = 0;

	if ( ( rs->sr_flags & REP_ENTRY_MODIFIABLE ) || ctx->shared )
		return;
	dmg_entry_copy_free( op, ctx );
	for ( a = e->e_attrs; a; a = a->a_next )
		n++;
	copy = op->o_tmpcalloc( 1, sizeof( Entry ) + ( n + DMG_ATTACH_ROOM ) * sizeof( Attribute )
		+ e->e_name.bv_len + e->e_nname.bv_len + 2, op->o_tmpmemctx );
	own = (Attribute *)( copy + 1 );
	names = (char *)( own + n + DMG_ATTACH_ROOM );
	copy->e_id = e->e_id;
	copy->e_name.bv_val = names;
	copy->e_name.bv_len = e->e_name.bv_len;
	AC_MEMCPY( names, e->e_name.bv_val, e->e_name.bv_len + 1 );
	copy->e_nname.bv_val = names + e->e_name.bv_len + 1;
	copy->e_nname.bv_len = e->e_nname.bv_len;
	AC_MEMCPY( copy->e_nname.bv_val, e->e_nname.bv_val, e->e_nname.bv_len + 1 );
	copy->e_ocflags = e->e_ocflags;
	copy->e_attrs = n ? own : NULL;
	for ( a = e->e_attrs, c = own; a; a = a->a_next, c++ ) {
		c->a_desc = a->a_desc;
		c->a_vals = a->a_vals;
		c->a_nvals = a->a_nvals;
		c->a_numvals = a->a_numvals;
		c->a_flags = a->a_flags | SLAP_ATTR_DONT_FREE_VALS | SLAP_ATTR_DONT_FREE_DATA;
		c->a_next = a->a_next ? c + 1 : NULL;
	}
	ctx->shared = e;
	ctx->shared_flags = rs->sr_flags & REP_ENTRY_MASK;
	ctx->copy = copy;
	ctx->copy_nattrs = n + DMG_ATTACH_ROOM;
	ctx->copy_room = own + n;
	rs->sr_flags &= ~REP_ENTRY_MASK;
	rs->sr_entry = copy;
}

/* Gives the backend's entry back as slapd would have (released, freed, or neither) */
static void
dmg_entry_unshare( Operation *op, dmg_search_ctx *ctx )
{
	SlapReply r = { 0 };

	if ( ctx->shared == NULL )
		return;
	r.sr_type = REP_SEARCH;
	r.sr_entry = ctx->shared;
	r.sr_flags = ctx->shared_flags;
	rs_flush_entry( op, &r, ctx->on );
	ctx->shared = NULL;
}

/* Does assertion f name a computed attribute of an entry (arg: is it a dynamic group)? */
static int
dmg_filter_names_computed( Filter *f, void *arg )
{
	AttributeDescription *ad = dmg_filter_ad( f );

	return ad != NULL && dmg_is_stored_computed( ad, *(int *)arg );
}

/* The backend evaluates the assertion control (RFC 4528) on the entry as stored, where
 * computed attributes have no values: an assertion on one is refused rather than always
 * failing (man page CAVEATS).  member on a static group is stored, and a hidden group is
 * treated as not a group here, so that the refusal says nothing about it.  Its
 * hasSubordinates counts hidden groups: an assertion on it is refused to requesters who may
 * not see every group, whatever the target holds. */
int
dmg_assertion_refused( Operation *op, SlapReply *rs, slap_overinst *on )
{
	Filter *f;
	Entry *e;
	int is_group = 0;

	if ( !get_assert( op ) || dmg_op_is_internal( op ) || dmg_ad.oc_group == NULL )
		return 0;
	f = get_assertion( op );
	if ( dmg_filter_any( f, dmg_filter_is_has_subordinates, NULL )
		&& !dmg_sees_every_group( op, on ) ) {
		send_ldap_error( op, rs, LDAP_UNWILLING_TO_PERFORM, "dynmailgroup: the assertion "
			"control cannot test hasSubordinates" );
		return 1;
	}
	if ( ( e = dmg_entry_get( op, on, &op->o_req_ndn ) ) != NULL ) {
		is_group = dmg_entry_is_group( e ) && dmg_group_visible( op, on, e );
		dmg_entry_release( op, on, e );
	}
	if ( !dmg_filter_any( f, dmg_filter_names_computed, &is_group ) )
		return 0;
	send_ldap_error( op, rs, LDAP_UNWILLING_TO_PERFORM, "dynmailgroup: the assertion "
		"control cannot test computed attributes" );
	return 1;
}

/* Adds what was asked for; an error (LDAP_ADMINLIMIT_EXCEEDED for a group that is too large)
 * leaves the entry unsent. */
static int
dmg_add_group_values( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	int rc, attached = 0;

	if ( !dmg_wants_group_values( ctx ) )
		return LDAP_SUCCESS;
	if ( ctx->want_member || ctx->want_mail || ctx->want_count ) {
		rc = dmg_entry_members( op, ctx, rs->sr_entry );
		if ( rc != LDAP_SUCCESS )
			return rc;
	}
	dmg_entry_share( op, rs, ctx );
	if ( ctx->want_member || ctx->want_mail || ctx->want_count ) {
		/* attached, not copied: the list is held until the entry is sent (cleanup) */
		dmg_members_put( rs->sr_entry, ctx->sent.ms, ctx->want_member, ctx->want_mail,
			ctx->want_count, 1, rs->sr_entry == ctx->copy ? ctx->copy_room : NULL );
		attached = 1;
	}
	if ( ( ctx->want_decision && ctx->has_sender ) || ctx->want_auditor_mail ) {
		rc = dmg_decision_attrs( op, ctx->on, rs->sr_entry, rs->sr_entry,
			ctx->has_sender ? &ctx->sender : NULL,
			ctx->want_decision && ctx->has_sender, ctx->want_auditor_mail );
		if ( rc != LDAP_SUCCESS )
			return rc;
	}
	if ( ctx->want_explanation && ctx->has_explain
		&& ( rc = dmg_explanation_to_entry( op, ctx->on, rs->sr_entry, &ctx->explain,
			rs->sr_entry ) ) != LDAP_SUCCESS )
		return rc;
	if ( ctx->want_dangling
		&& ( rc = dmg_dangling_to_entry( op, ctx->on, rs->sr_entry, rs->sr_entry ) )
			!= LDAP_SUCCESS )
		return rc;
	/* The attached values are shared (the cache's): a callback that wants to change the
	 * entry (rwm, valsort) must take its own copy, which copies the values. */
	if ( attached )
		rs->sr_flags &= ~REP_ENTRY_MODIFIABLE;
	return LDAP_SUCCESS;
}

/* Only entries that match the member filter can be in a group: the others (departments,
 * devices, the suffix) skip the lookup of candidate groups. */
static int
dmg_may_be_member( Operation *op, slap_overinst *on, Entry *e )
{
	dmg_info *di = on->on_bi.bi_private;

	return test_filter( op, e, di->member_filter ) == LDAP_COMPARE_TRUE;
}

/* Puts the computed values on an entry that matched; SLAP_CB_CONTINUE sends it, 0 drops it
 * (the failure is in ctx->rc). */
static int
dmg_answer_entry( Operation *op, SlapReply *rs, dmg_search_ctx *ctx, int is_group )
{
	Attribute *a;
	int rc;

	/* rs->sr_entry may be replaced by a copy from here on (rs_entry2modifiable) */
	dmg_strip_stored_computed( op, rs, ctx, is_group );
	if ( is_group ) {
		rc = ctx->want_references ? dmg_refs_present( op, rs, ctx->on ) : LDAP_SUCCESS;
		if ( rc == LDAP_SUCCESS )
			rc = dmg_add_group_values( op, rs, ctx );
	} else if ( ctx->want_member_of && dmg_may_be_member( op, ctx->on, rs->sr_entry ) ) {
		rc = dmg_entry_member_of( op, ctx, rs->sr_entry );
		a = attr_find( ctx->values.e_attrs, dmg_ad.member_of );
		if ( rc == LDAP_SUCCESS && a ) {
			dmg_entry_share( op, rs, ctx );
			attr_merge( rs->sr_entry, dmg_ad.member_of, a->a_vals, a->a_nvals );
		}
	} else {
		rc = LDAP_SUCCESS;
	}
	if ( rc != LDAP_SUCCESS ) {
		dmg_search_fail( op, ctx, rc, &rs->sr_entry->e_name );
		return 0;
	}
	return SLAP_CB_CONTINUE;
}

static int
dmg_search_entry_answer( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	Entry *e = rs->sr_entry;
	int is_group = dmg_entry_is_group( e ), rc = 0;

	if ( is_group && !dmg_group_visible( op, ctx->on, e ) )
		return 0;
	/* ManageDsaIT: nothing computed, but hasSubordinates is still evaluated */
	if ( ctx->stored_only && ctx->eval == NULL )
		return SLAP_CB_CONTINUE;
	if ( ctx->eval == NULL && !( is_group ? dmg_wants_group_values( ctx ) : ctx->want_member_of ) ) {
		/* nothing to compute: plain searches do not evaluate the ACLs twice per entry */
		dmg_strip_stored_computed( op, rs, ctx, is_group );
		return SLAP_CB_CONTINUE;
	}
	/* slapd will not send an entry the requester may not read: compute nothing for it (and
	 * name it in no error) */
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return SLAP_CB_CONTINUE;
	dmg_entry_values_begin( ctx, e );
	/* an assertion whose values could not be computed is Undefined (and the search ends
	 * with the failure) */
	if ( ctx->eval == NULL || dmg_eval( op, ctx, ctx->eval, e ) == LDAP_COMPARE_TRUE )
		rc = ctx->stored_only ? SLAP_CB_CONTINUE : dmg_answer_entry( op, rs, ctx, is_group );
	dmg_entry_values_end( ctx );
	return rc;
}

static int
dmg_search_entry( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	int rc = dmg_search_entry_answer( op, rs, ctx ), hs;

	if ( rc == SLAP_CB_CONTINUE && ( hs = dmg_fix_has_subordinates( op, rs, ctx ) ) ) {
		dmg_search_fail( op, ctx, hs, &rs->sr_entry->e_name );
		return 0;
	}
	/* the size limit slapd would have checked before this callback (dmg_search_filter):
	 * entries the widened filter selected, hidden groups, and the others dropped here do
	 * not count; the error ends the backend's search, which answers sizeLimitExceeded */
	if ( rc == SLAP_CB_CONTINUE && ctx->own_slimit && ctx->slimit >= 0
		&& rs->sr_nentries >= ctx->slimit )
		rc = LDAP_SIZELIMIT_EXCEEDED;
	return rc;
}

static int
dmg_search_response( Operation *op, SlapReply *rs )
{
	dmg_search_ctx *ctx = op->o_callback->sc_private;

	if ( rs->sr_type == REP_SEARCH )
		return dmg_search_entry( op, rs, ctx );
	/* an overlay above that sends entries now (sssvlv) has slapd check the limit again */
	if ( rs->sr_type == REP_RESULT && ctx->own_slimit )
		op->ors_slimit = ctx->slimit;
	if ( rs->sr_type == REP_RESULT && ctx->rc != LDAP_SUCCESS && rs->sr_err == LDAP_SUCCESS ) {
		rs->sr_err = ctx->rc;
		rs->sr_text = ctx->err_text;
	}
	return SLAP_CB_CONTINUE;
}

/* Gives the backend its filter back; frees what the hook built for the search. */
static void
dmg_search_ctx_free( Operation *op, dmg_search_ctx *ctx )
{
	if ( ctx->orig_filter ) {
		filter_free_x( op, op->ors_filter, 1 );
		op->o_tmpfree( op->ors_filterstr.bv_val, op->o_tmpmemctx );
		op->ors_filter = ctx->orig_filter;
		op->ors_filterstr = ctx->orig_filterstr;
		ctx->orig_filter = NULL;
	}
	if ( ctx->own_slimit ) {
		op->ors_slimit = ctx->slimit;
		ctx->own_slimit = 0;
	}
	dmg_nodes_free( op, ctx );
	dmg_entry_copy_free( op, ctx );
	if ( ctx->err_text ) {
		op->o_tmpfree( ctx->err_text, op->o_tmpmemctx );
		ctx->err_text = NULL;
	}
}

static int
dmg_search_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;
	dmg_search_ctx *ctx = sc->sc_private;

	/* slapd plays cleanups after each entry too, once it is sent and before it is freed:
	 * the entry's attached member values are not needed any more */
	if ( ctx->holding ) {
		dmg_members_release( ctx->on, &ctx->sent );
		ctx->holding = 0;
	}
	dmg_entry_unshare( op, ctx );
	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	if ( ctx->err_text && rs->sr_text == ctx->err_text )
		rs->sr_text = NULL;
	dmg_search_ctx_free( op, ctx );
	dmg_who_end( op, &ctx->who );
	op->o_callback = sc->sc_next;
	op->o_tmpfree( sc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* ---- the overlays below ---------------------------------------------------------------------- */

/* slapo-sssvlv below this overlay sees every entry the backend returns before this overlay
 * has judged it -- the candidates of a widened filter, entries that do not match -- and counts
 * them in its virtual list view and sorted pages.  Above it, it sees only what this overlay
 * lets through.  db_open refuses the order; cn=config may still insert sssvlv below later. */
static int
dmg_search_sorted_below( Operation *op, slap_overinst *on )
{
	int cid;

	if ( dmg_stack_misplaced( on, "sssvlv" ) == NULL
		|| slap_find_control_id( LDAP_CONTROL_SORTREQUEST, &cid ) != LDAP_SUCCESS )
		return 0;
	return op->o_ctrlflag[cid] > SLAP_CONTROL_IGNORED;
}

/* ---- the hook ------------------------------------------------------------------------------------- */

/* A privileged identity sees every group, but slapd's ACLs and limits still apply to it: a
 * consumer bound with one that may not read userPassword, or that has size or time limits,
 * replicates less than everything without a word.  The cheap signs are checked: limits on
 * this search and read access to userPassword of its base; logged once per identity. */
static void
dmg_search_sync_limited( Operation *op, slap_overinst *on )
{
	const char *lacks = NULL;
	Entry *e;

	if ( op->ors_slimit != SLAP_NO_LIMIT || op->ors_tlimit != SLAP_NO_LIMIT ) {
		lacks = "has size or time limits";
	} else if ( ( e = dmg_entry_get( op, on, &op->o_req_ndn ) ) != NULL ) {
		if ( !access_allowed( op, e, slap_schema.si_ad_userPassword, NULL, ACL_READ, NULL ) )
			lacks = "may not read userPassword";
		dmg_entry_release( op, on, e );
	}
	if ( lacks && dmg_log_once( on->on_bi.bi_private, "sync limited", &op->o_ndn ) )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "%s content synchronization by \"%s\", "
			"which %s: a consumer bound with it does not receive everything; replicate "
			"with a dedicated identity in dynmailgroup-privileged that may read everything, "
			"with no size or time limits\n", op->o_log_prefix, op->o_dn.bv_val, lacks );
}

/* Content synchronization (syncrepl) copies every group as stored, hidden ones included:
 * only identities that may see every group may use it.  A consumer refused here retries
 * forever and serves an empty database, with nothing but its own log to tell: the refusal is
 * logged here too, at a level every loglevel shows ("none" included), with the remedy, once
 * per identity so that the retries do not flood the log. */
static int
dmg_search_sync( Operation *op, SlapReply *rs, slap_overinst *on )
{
	if ( dmg_is_root( op, on ) )
		return SLAP_CB_CONTINUE;
	if ( dmg_is_privileged( op, on ) || dmg_is_postmaster( op, on ) ) {
		dmg_search_sync_limited( op, on );
		return SLAP_CB_CONTINUE;
	}
	if ( dmg_log_once( on->on_bi.bi_private, "sync refused", &op->o_ndn ) )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "%s content synchronization (syncrepl) "
			"refused to \"%s\" (err=50): a replication consumer needs a dedicated "
			"identity: add its DN to dynmailgroup-privileged and give it read access to "
			"everything, with no size or time limits\n", op->o_log_prefix,
			op->o_dn.bv_len ? op->o_dn.bv_val : "anonymous" );
	send_ldap_error( op, rs, LDAP_INSUFFICIENT_ACCESS, "dynmailgroup: content "
		"synchronization needs the rootdn or an identity in dynmailgroup-privileged" );
	return rs->sr_err;
}

/* Does a page of this search end at an entry the callback has not judged?  back-mdb counts
 * the entries sent so far against the page size when its filter matches the next one.  A
 * base search has one entry, judged by the hook (dmg_refuse_hidden_target). */
static int
dmg_search_paged_by_backend( Operation *op )
{
	return get_pagedresults( op ) > SLAP_CONTROL_IGNORED && op->ors_scope != LDAP_SCOPE_BASE;
}

/* Hands the backend the widened filter (assertions on computed attributes), ANDed with the
 * visibility clause for paged searches of requesters who may not see every group, and takes
 * the size limit over when the callback may drop entries the backend selected; returns the
 * failure of a lookup the widening needed. */
static int
dmg_search_filter( Operation *op, dmg_search_ctx *ctx )
{
	int computed, clause;
	Filter *f, *and;

	ctx->hide = !dmg_sees_every_group( op, ctx->on );
	computed = dmg_filter_any( op->ors_filter, dmg_filter_is_evaluated_leaf, ctx );
	clause = ctx->hide && dmg_search_paged_by_backend( op );

	/* slapd checks the size limit before the callbacks see an entry: the entries the exact
	 * evaluation drops, and hidden groups, would count */
	if ( computed || ctx->hide ) {
		ctx->slimit = op->ors_slimit;
		op->ors_slimit = SLAP_NO_LIMIT;
		ctx->own_slimit = 1;
	}
	if ( !computed && !clause )
		return LDAP_SUCCESS;
	ctx->orig_filter = op->ors_filter;
	ctx->orig_filterstr = op->ors_filterstr;
	if ( computed )
		f = dmg_broaden( op, ctx, op->ors_filter, &ctx->eval );
	else
		f = filter_dup( op->ors_filter, op->o_tmpmemctx );
	if ( clause ) {
		and = dmg_filter_node( op, LDAP_FILTER_AND );
		and->f_and = f;
		f->f_next = dmg_filter_visible( op, ctx->on );
		f = and;
	}
	op->ors_filter = f;
	dmg_filter2bv( op, op->ors_filter, &op->ors_filterstr );
	return ctx->rc;
}

/* Installs the search's callback, or answers (sync refused, hidden base, a failed lookup);
 * returns whether the callback was installed. */
static int
dmg_search_start( Operation *op, SlapReply *rs, slap_callback *sc, int *rc )
{
	dmg_search_ctx *ctx = sc->sc_private;

	if ( op->o_sync != SLAP_CONTROL_NONE ) {
		*rc = dmg_search_sync( op, rs, ctx->on );
		return 0;
	}
	/* a hidden group as base, or above it, does not exist for those who may not see it */
	if ( dmg_refuse_hidden_target( op, rs, ctx->on ) ) {
		*rc = rs->sr_err;
		return 0;
	}
	if ( dmg_assertion_refused( op, rs, ctx->on ) ) {
		*rc = rs->sr_err;
		return 0;
	}
	if ( dmg_search_sorted_below( op, ctx->on ) ) {
		send_ldap_error( op, rs, LDAP_UNWILLING_TO_PERFORM, "dynmailgroup: server-side "
			"sorting is configured below dynmailgroup; configure sssvlv after dynmailgroup" );
		*rc = rs->sr_err;
		return 0;
	}
	/* ManageDsaIT: entries as stored, but hidden groups stay hidden */
	ctx->stored_only = get_manageDSAit( op );
	if ( !ctx->stored_only )
		dmg_search_wants( op, ctx );
	if ( dmg_search_filter( op, ctx ) != LDAP_SUCCESS ) {
		send_ldap_error( op, rs, ctx->rc, ctx->err_text );
		dmg_search_ctx_free( op, ctx );
		*rc = rs->sr_err;
		return 0;
	}
	sc->sc_response = dmg_search_response;
	sc->sc_cleanup = dmg_search_cleanup;
	sc->sc_next = op->o_callback;
	op->o_callback = sc;
	*rc = SLAP_CB_CONTINUE;
	return 1;
}

int
dmg_search( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	dmg_info *di = on->on_bi.bi_private;
	slap_callback *sc;
	dmg_search_ctx *ctx;
	int rc;

	if ( dmg_ad.oc_group == NULL || dmg_op_is_internal( op ) )
		return SLAP_CB_CONTINUE;
	sc = op->o_tmpcalloc( 1, sizeof( slap_callback ) + sizeof( dmg_search_ctx ), op->o_tmpmemctx );
	ctx = (dmg_search_ctx *)( sc + 1 );
	sc->sc_private = ctx;
	ctx->on = on;
	/* the generation before anything reads the database, the roles before any callback */
	ctx->gen = dmg_operation_generation( op, di );
	dmg_who_begin( op, on, &ctx->who );
	if ( !dmg_search_start( op, rs, sc, &rc ) ) {
		dmg_who_end( op, &ctx->who );
		op->o_tmpfree( sc, op->o_tmpmemctx );
	}
	return rc;
}
