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
 *     (dmg_eval): assertions on stored attributes with test_filter, assertions on computed
 *     ones from answers precomputed once per search (the set of groups that have U as
 *     member) or, for rare forms such as substrings on member, from the computed values.
 *
 * Searches with ManageDsaIT see entries as stored (hidden groups stay hidden); replication
 * (sync) searches and the overlay's own internal searches see everything as stored.
 */
#include "dmg.h"

typedef enum dmg_leaf_kind {
	DMG_LEAF_TRUE,		/* (dmgSender=...): always true */
	DMG_LEAF_GROUP_SET,	/* exact set of dynamic groups that satisfy it */
	DMG_LEAF_MEMBER_OF,	/* (dmgMemberOf=G): G's rule */
	DMG_LEAF_COMPUTE	/* evaluate on the computed values */
} dmg_leaf_kind;

typedef struct dmg_leaf {
	Filter *f;		/* the assertion in the original filter */
	dmg_leaf_kind kind;
	BerVarray groups;	/* DMG_LEAF_GROUP_SET, normalized DNs */
	Entry *group;		/* DMG_LEAF_MEMBER_OF: a copy of G, NULL when G is not visible */
	dmg_rule rule;
	struct dmg_leaf *next;
} dmg_leaf;

typedef struct dmg_search_ctx {
	slap_overinst *on;
	Filter *orig_filter;
	struct berval orig_filterstr;
	Filter *broad_filter;
	dmg_leaf *leaves;
	struct berval sender;
	int has_sender;
	int want_member, want_mail, want_count, want_member_of;
	int want_decision, want_auditor_mail;
	char *limit_text;	/* diagnostic when a group exceeded dynmailgroup-max-members */
	int stored_only;	/* ManageDsaIT: nothing computed, only visibility applies */
	unsigned long gen;	/* cache generation when the search began */
	dmg_members_view sent;	/* the member list the entry being sent points into */
	int holding;
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
}

/* ---- filter analysis ------------------------------------------------------------------------------ */

static AttributeDescription *
dmg_filter_ad( Filter *f )
{
	switch ( f->f_choice ) {
	case LDAP_FILTER_EQUALITY:
	case LDAP_FILTER_GE:
	case LDAP_FILTER_LE:
	case LDAP_FILTER_APPROX:
		return f->f_av_desc;
	case LDAP_FILTER_SUBSTRINGS:
		return f->f_sub_desc;
	case LDAP_FILTER_PRESENT:
		return f->f_desc;
	case LDAP_FILTER_EXT:
		return f->f_mr_desc;
	}
	return NULL;
}

static int
dmg_filter_is_computed_leaf( Filter *f )
{
	AttributeDescription *ad = dmg_filter_ad( f );

	return ad != NULL && dmg_ad_is_computed( ad );
}

static int
dmg_filter_has_computed( Filter *f )
{
	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
		for ( f = f->f_list; f; f = f->f_next ) {
			if ( dmg_filter_has_computed( f ) )
				return 1;
		}
		return 0;
	case LDAP_FILTER_NOT:
		return dmg_filter_has_computed( f->f_not );
	}
	return dmg_filter_is_computed_leaf( f );
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

static dmg_leaf *
dmg_leaf_new( Operation *op, dmg_search_ctx *ctx, Filter *f, dmg_leaf_kind kind )
{
	dmg_leaf *l = op->o_tmpcalloc( 1, sizeof( dmg_leaf ), op->o_tmpmemctx );

	l->f = f;
	l->kind = kind;
	l->next = ctx->leaves;
	ctx->leaves = l;
	return l;
}

static void
dmg_leaves_free( Operation *op, dmg_search_ctx *ctx )
{
	dmg_leaf *l, *next;

	for ( l = ctx->leaves; l; l = next ) {
		next = l->next;
		ber_bvarray_free_x( l->groups, op->o_tmpmemctx );
		dmg_rule_free( op, &l->rule );
		if ( l->group )
			entry_free( l->group );
		op->o_tmpfree( l, op->o_tmpmemctx );
	}
	ctx->leaves = NULL;
}

/* Appends the groups that have the entry ndn as member to *set; returns the candidate filter
 * (the groups naming one of its ancestors) or NULL when the entry is not there for op. */
static Filter *
dmg_groups_of_ndn( Operation *op, dmg_search_ctx *ctx, struct berval *ndn, BerVarray *set )
{
	Entry *e = NULL;
	BerVarray found = NULL;
	Filter *cand;
	int i;

	if ( ( e = dmg_entry_get( op, ctx->on, ndn ) ) == NULL )
		return NULL;
	dmg_groups_of_entry( op, ctx->on, e, &found, NULL );
	cand = dmg_candidate_filter( op, &e->e_nname );
	dmg_entry_release( op, ctx->on, e );
	for ( i = 0; found && !BER_BVISNULL( &found[i] ); i++ ) {
		struct berval copy;

		ber_dupbv_x( &copy, &found[i], op->o_tmpmemctx );
		ber_bvarray_add_x( set, &copy, op->o_tmpmemctx );
	}
	ber_bvarray_free_x( found, op->o_tmpmemctx );
	return cand;
}

/* (member=U): static groups with U stored, or dynamic groups naming an ancestor of U */
static Filter *
dmg_broaden_member_eq( Operation *op, dmg_search_ctx *ctx, Filter *f )
{
	dmg_leaf *l = dmg_leaf_new( op, ctx, f, DMG_LEAF_GROUP_SET );
	Filter *cand = dmg_groups_of_ndn( op, ctx, &f->f_av_value, &l->groups );
	Filter *stored = filter_dup( f, op->o_tmpmemctx );

	return cand ? dmg_filter_or2( op, stored, cand ) : stored;
}

/* (dmgMemberMail=addr): the groups of every member-filter entry with that mail */
static Filter *
dmg_broaden_member_mail_eq( Operation *op, dmg_search_ctx *ctx, Filter *f )
{
	dmg_leaf *l = dmg_leaf_new( op, ctx, f, DMG_LEAF_GROUP_SET );
	Filter *or = dmg_filter_node( op, LDAP_FILTER_OR ), **tail = &or->f_or;
	BerVarray ndns = NULL;
	int i;

	dmg_entries_with_mail( op, ctx->on, &f->f_av_value, &ndns );
	for ( i = 0; ndns && !BER_BVISNULL( &ndns[i] ); i++ ) {
		Filter *cand = dmg_groups_of_ndn( op, ctx, &ndns[i], &l->groups );

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
dmg_broaden_member_of_eq( Operation *op, dmg_search_ctx *ctx, Filter *f )
{
	dmg_leaf *l = dmg_leaf_new( op, ctx, f, DMG_LEAF_MEMBER_OF );
	dmg_info *di = ctx->on->on_bi.bi_private;
	Entry *g = NULL;

	if ( ( g = dmg_entry_get( op, ctx->on, &f->f_av_value ) ) == NULL )
		return dmg_filter_result( op, LDAP_COMPARE_FALSE );
	if ( dmg_entry_is_group( g )
		&& access_allowed( op, g, slap_schema.si_ad_entry, NULL, ACL_READ, NULL )
		&& dmg_group_visible( op, ctx->on, g ) )
		l->group = entry_dup( g );
	dmg_entry_release( op, ctx->on, g );
	if ( l->group == NULL )
		return dmg_filter_result( op, LDAP_COMPARE_FALSE );
	dmg_rule_from_entry( op, di, l->group, &l->rule );
	return filter_dup( l->rule.filter, op->o_tmpmemctx );
}

static Filter *
dmg_broaden_leaf( Operation *op, dmg_search_ctx *ctx, Filter *f )
{
	AttributeDescription *ad = dmg_filter_ad( f );
	dmg_info *di = ctx->on->on_bi.bi_private;

	if ( ad == dmg_ad.sender ) {
		if ( f->f_choice == LDAP_FILTER_EQUALITY && !ctx->has_sender ) {
			ctx->sender = f->f_av_value;
			ctx->has_sender = 1;
		}
		dmg_leaf_new( op, ctx, f, DMG_LEAF_TRUE );
		return dmg_filter_result( op, LDAP_COMPARE_TRUE );
	}
	if ( f->f_choice == LDAP_FILTER_EQUALITY ) {
		if ( ad == dmg_ad.member )
			return dmg_broaden_member_eq( op, ctx, f );
		if ( ad == dmg_ad.member_mail )
			return dmg_broaden_member_mail_eq( op, ctx, f );
		if ( ad == dmg_ad.member_of )
			return dmg_broaden_member_of_eq( op, ctx, f );
	}
	/* anything else: evaluated on computed values, for every entry that may carry them */
	dmg_leaf_new( op, ctx, f, DMG_LEAF_COMPUTE );
	if ( ad == dmg_ad.member_of )
		return filter_dup( di->member_filter, op->o_tmpmemctx );
	return dmg_filter_or2( op, filter_dup( f, op->o_tmpmemctx ), dmg_filter_oc_group( op ) );
}

static Filter *
dmg_broaden( Operation *op, dmg_search_ctx *ctx, Filter *f )
{
	Filter *n, *c, **tail;

	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
		n = dmg_filter_node( op, f->f_choice );
		tail = &n->f_list;
		for ( c = f->f_list; c; c = c->f_next ) {
			*tail = dmg_broaden( op, ctx, c );
			tail = &(*tail)->f_next;
		}
		return n;
	case LDAP_FILTER_NOT:
		if ( dmg_filter_has_computed( f->f_not ) ) {
			/* NOT(superset) would be a subset: let everything through, decide later */
			dmg_broaden( op, ctx, f->f_not );	/* registers the leaves */
			return dmg_filter_result( op, LDAP_COMPARE_TRUE );
		}
		return filter_dup( f, op->o_tmpmemctx );
	}
	if ( dmg_filter_is_computed_leaf( f ) )
		return dmg_broaden_leaf( op, ctx, f );
	return filter_dup( f, op->o_tmpmemctx );
}

/* ---- exact evaluation ---------------------------------------------------------------------------- */

static dmg_leaf *
dmg_leaf_find( dmg_search_ctx *ctx, Filter *f )
{
	dmg_leaf *l;

	for ( l = ctx->leaves; l; l = l->next ) {
		if ( l->f == f )
			return l;
	}
	return NULL;
}

static int
dmg_bvarray_has( BerVarray a, struct berval *v )
{
	int i;

	for ( i = 0; a && !BER_BVISNULL( &a[i] ); i++ ) {
		if ( dn_match( &a[i], v ) )
			return 1;
	}
	return 0;
}

/* Tests f on the values e would have; used for the uncommon forms of assertions. */
static int
dmg_eval_computed( Operation *op, dmg_search_ctx *ctx, Filter *f, Entry *e )
{
	AttributeDescription *ad = dmg_filter_ad( f );
	Entry tmp = { 0 };
	int rc, is_group = dmg_entry_is_group( e );

	if ( dmg_ad_is_group_computed( ad ) && !is_group )
		return test_filter( op, e, f );		/* e.g. member of a static group */
	tmp.e_name = e->e_name;
	tmp.e_nname = e->e_nname;
	tmp.e_id = e->e_id;
	if ( ad == dmg_ad.member_of ) {
		if ( is_group )
			return LDAP_COMPARE_FALSE;
		dmg_member_of_to_entry( op, ctx->on, e, &tmp );
	} else if ( ad == dmg_ad.member || ad == dmg_ad.member_mail || ad == dmg_ad.member_count ) {
		if ( dmg_members_to_entry( op, ctx->on, e, &tmp, ctx->gen, ad == dmg_ad.member,
				ad == dmg_ad.member_mail, ad == dmg_ad.member_count, NULL ) != LDAP_SUCCESS )
			return SLAPD_COMPARE_UNDEFINED;
	} else {
		return SLAPD_COMPARE_UNDEFINED;	/* decisions are not filterable */
	}
	rc = test_filter( op, &tmp, f );
	attrs_free( tmp.e_attrs );
	return rc;
}

static int
dmg_eval( Operation *op, dmg_search_ctx *ctx, Filter *f, Entry *e )
{
	dmg_leaf *l;
	Filter *c;
	int rc, r;

	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
		rc = LDAP_COMPARE_TRUE;
		for ( c = f->f_and; c; c = c->f_next ) {
			r = dmg_eval( op, ctx, c, e );
			if ( r == LDAP_COMPARE_FALSE )
				return r;
			if ( r != LDAP_COMPARE_TRUE )
				rc = r;
		}
		return rc;
	case LDAP_FILTER_OR:
		rc = LDAP_COMPARE_FALSE;
		for ( c = f->f_or; c; c = c->f_next ) {
			r = dmg_eval( op, ctx, c, e );
			if ( r == LDAP_COMPARE_TRUE )
				return r;
			if ( r != LDAP_COMPARE_FALSE )
				rc = r;
		}
		return rc;
	case LDAP_FILTER_NOT:
		r = dmg_eval( op, ctx, f->f_not, e );
		if ( r == LDAP_COMPARE_TRUE )
			return LDAP_COMPARE_FALSE;
		if ( r == LDAP_COMPARE_FALSE )
			return LDAP_COMPARE_TRUE;
		return r;
	}
	l = dmg_leaf_find( ctx, f );
	if ( l == NULL )
		return test_filter( op, e, f );
	switch ( l->kind ) {
	case DMG_LEAF_TRUE:
		return LDAP_COMPARE_TRUE;
	case DMG_LEAF_GROUP_SET:
		if ( dmg_entry_is_group( e ) )
			return dmg_bvarray_has( l->groups, &e->e_nname ) ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE;
		return test_filter( op, e, f );
	case DMG_LEAF_MEMBER_OF:
		if ( l->group == NULL || dmg_entry_is_group( e ) )
			return LDAP_COMPARE_FALSE;
		return dmg_rule_has_member( op, ctx->on, &l->rule, e ) ? LDAP_COMPARE_TRUE : LDAP_COMPARE_FALSE;
	case DMG_LEAF_COMPUTE:
		return dmg_eval_computed( op, ctx, f, e );
	}
	return SLAPD_COMPARE_UNDEFINED;
}

/* ---- the response ------------------------------------------------------------------------------ */

static void
dmg_note_limit( Operation *op, dmg_search_ctx *ctx, Entry *g )
{
	dmg_info *di = ctx->on->on_bi.bi_private;
	size_t len;

	if ( ctx->limit_text )
		return;
	len = g->e_name.bv_len + 128;
	ctx->limit_text = op->o_tmpalloc( len, op->o_tmpmemctx );
	snprintf( ctx->limit_text, len, "group \"%s\" has more than %lu members "
		"(dynmailgroup-max-members)", g->e_name.bv_val, di->max_members );
}

static int
dmg_wants_group_values( dmg_search_ctx *ctx )
{
	return ctx->want_member || ctx->want_mail || ctx->want_count
		|| ( ctx->want_decision && ctx->has_sender ) || ctx->want_auditor_mail;
}

/* Adds what was asked for; returns LDAP_ADMINLIMIT_EXCEEDED when the group is too large. */
static int
dmg_add_group_values( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	int rc;

	if ( !dmg_wants_group_values( ctx ) )
		return LDAP_SUCCESS;
	rs_entry2modifiable( op, rs, ctx->on );
	if ( ctx->want_member || ctx->want_mail || ctx->want_count ) {
		/* attached, not copied: the list is held until the entry is sent (cleanup) */
		rc = dmg_members_to_entry( op, ctx->on, rs->sr_entry, rs->sr_entry, ctx->gen,
			ctx->want_member, ctx->want_mail, ctx->want_count, &ctx->sent );
		if ( rc != LDAP_SUCCESS )
			return rc;
		ctx->holding = 1;
	}
	if ( ( ctx->want_decision && ctx->has_sender ) || ctx->want_auditor_mail )
		dmg_decision_attrs( op, ctx->on, rs->sr_entry, rs->sr_entry,
			ctx->has_sender ? &ctx->sender : NULL,
			ctx->want_decision && ctx->has_sender, ctx->want_auditor_mail );
	/* The attached values are shared (the cache's): a callback that wants to change the
	 * entry (rwm, valsort) must take its own copy, which copies the values. */
	if ( ctx->holding )
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

static int
dmg_search_entry( Operation *op, SlapReply *rs, dmg_search_ctx *ctx )
{
	Entry *e = rs->sr_entry;
	int is_group = dmg_entry_is_group( e );

	if ( is_group && !dmg_group_visible( op, ctx->on, e ) )
		return 0;	/* hidden: not sent */
	if ( ctx->stored_only )
		return SLAP_CB_CONTINUE;
	/* slapd will not send an entry the requester may not read: compute nothing for it (and
	 * name it in no error).  Asked only where there is something to compute, so that plain
	 * searches do not evaluate the ACLs twice per entry. */
	if ( ( ctx->orig_filter || ( is_group ? dmg_wants_group_values( ctx ) : ctx->want_member_of ) )
		&& !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return SLAP_CB_CONTINUE;
	if ( ctx->orig_filter && dmg_eval( op, ctx, ctx->orig_filter, e ) != LDAP_COMPARE_TRUE )
		return 0;
	if ( is_group ) {
		if ( dmg_add_group_values( op, rs, ctx ) == LDAP_ADMINLIMIT_EXCEEDED ) {
			dmg_note_limit( op, ctx, e );
			return 0;
		}
	} else if ( ctx->want_member_of && dmg_may_be_member( op, ctx->on, e ) ) {
		rs_entry2modifiable( op, rs, ctx->on );
		dmg_member_of_to_entry( op, ctx->on, rs->sr_entry, rs->sr_entry );
	}
	return SLAP_CB_CONTINUE;
}

static int
dmg_search_response( Operation *op, SlapReply *rs )
{
	dmg_search_ctx *ctx = op->o_callback->sc_private;

	if ( rs->sr_type == REP_SEARCH )
		return dmg_search_entry( op, rs, ctx );
	if ( rs->sr_type == REP_RESULT && ctx->limit_text && rs->sr_err == LDAP_SUCCESS ) {
		rs->sr_err = LDAP_ADMINLIMIT_EXCEEDED;
		rs->sr_text = ctx->limit_text;
	}
	return SLAP_CB_CONTINUE;
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
	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	if ( ctx->orig_filter ) {
		filter_free_x( op, op->ors_filter, 1 );
		op->o_tmpfree( op->ors_filterstr.bv_val, op->o_tmpmemctx );
		op->ors_filter = ctx->orig_filter;
		op->ors_filterstr = ctx->orig_filterstr;
	}
	dmg_leaves_free( op, ctx );
	dmg_who_end( op, &ctx->who );
	if ( ctx->limit_text ) {
		if ( rs->sr_text == ctx->limit_text )
			rs->sr_text = NULL;
		op->o_tmpfree( ctx->limit_text, op->o_tmpmemctx );
	}
	op->o_callback = sc->sc_next;
	op->o_tmpfree( sc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* ---- the hook ------------------------------------------------------------------------------------- */

/* Content synchronization (syncrepl) copies every group as stored, hidden ones included:
 * only identities that may see every group may use it. */
static int
dmg_search_sync( Operation *op, SlapReply *rs, slap_overinst *on )
{
	if ( dmg_is_root( op, on ) || dmg_is_privileged( op, on ) || dmg_is_postmaster( op, on ) )
		return SLAP_CB_CONTINUE;
	send_ldap_error( op, rs, LDAP_INSUFFICIENT_ACCESS, "dynmailgroup: content "
		"synchronization needs the rootdn or an identity in dynmailgroup-privileged" );
	return rs->sr_err;
}

/* A hidden group as search base does not exist for those who may not see it. */
static int
dmg_search_base_hidden( Operation *op, slap_overinst *on )
{
	Entry *e = NULL;
	int hidden = 0;

	if ( ( e = dmg_entry_get( op, on, &op->o_req_ndn ) ) == NULL )
		return 0;
	if ( dmg_entry_is_group( e ) )
		hidden = !dmg_group_visible( op, on, e );
	dmg_entry_release( op, on, e );
	return hidden;
}

/* Installs the search's callback, or answers (sync refused, hidden base); returns whether
 * the callback was installed. */
static int
dmg_search_start( Operation *op, SlapReply *rs, slap_callback *sc, int *rc )
{
	dmg_search_ctx *ctx = sc->sc_private;

	if ( op->o_sync != SLAP_CONTROL_NONE ) {
		*rc = dmg_search_sync( op, rs, ctx->on );
		return 0;
	}
	if ( dmg_search_base_hidden( op, ctx->on ) ) {
		send_ldap_error( op, rs, LDAP_NO_SUCH_OBJECT, NULL );
		*rc = rs->sr_err;
		return 0;
	}
	/* ManageDsaIT: entries as stored, but hidden groups stay hidden */
	ctx->stored_only = get_manageDSAit( op );
	if ( !ctx->stored_only )
		dmg_search_wants( op, ctx );
	if ( !ctx->stored_only && dmg_filter_has_computed( op->ors_filter ) ) {
		ctx->orig_filter = op->ors_filter;
		ctx->orig_filterstr = op->ors_filterstr;
		ctx->broad_filter = dmg_broaden( op, ctx, op->ors_filter );
		op->ors_filter = ctx->broad_filter;
		filter2bv_x( op, op->ors_filter, &op->ors_filterstr );
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
