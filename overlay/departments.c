/* departments.c -- department entries that groups name (man page MEMBERSHIP)
 *
 *  - deleting a department that a group names is refused, naming the group;
 *  - renaming or moving an entry rewrites every dmgDepartment value that names it or an entry
 *    below it, after the backend succeeded and before the client hears of it (as slapo-refint
 *    does for references).  The rewrites are ordinary modifies through the whole overlay
 *    stack, so syncprov replicates them; the write guard lets them through by their marker.
 */
#include "dmg.h"

int
dmg_departments_refuse_delete( Operation *op, SlapReply *rs, slap_overinst *on )
{
	Filter eq = { 0 };
	AttributeAssertion ava = ATTRIBUTEASSERTION_INIT;
	dmg_first_dn group;
	char text[512];
	int rc;

	(void)on;
	eq.f_choice = LDAP_FILTER_EQUALITY;
	eq.f_ava = &ava;
	ava.aa_desc = dmg_ad.department;
	ava.aa_value = op->o_req_ndn;
	rc = dmg_find_other( op, &eq, NULL, 1, &group );
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

/* ---- renames --------------------------------------------------------------------------------- */

typedef struct dmg_rename_ctx {
	slap_overinst *on;
	struct berval old_ndn;		/* tmpmem copies: the operation's own change */
	struct berval new_dn, new_ndn;
} dmg_rename_ctx;

/* A value naming old_ndn or an entry below it, moved below new_dn; the RDNs below the renamed
 * entry keep the spelling they were stored with. */
static void
dmg_renamed_value( Operation *op, dmg_rename_ctx *ctx, struct berval *val, struct berval *nval,
	struct berval *val_out, struct berval *nval_out )
{
	struct berval p = *nval, q = *val, str;
	size_t prefix;
	int depth = 0, i;

	while ( p.bv_len > ctx->old_ndn.bv_len ) {
		dnParent( &p, &p );
		depth++;
	}
	for ( i = 0; i < depth; i++ )
		dnParent( &q, &q );
	prefix = depth ? (size_t)( q.bv_val - val->bv_val ) : 0;	/* "uid=x,ou=a," */
	str.bv_len = prefix + ctx->new_dn.bv_len;
	str.bv_val = op->o_tmpalloc( str.bv_len + 1, op->o_tmpmemctx );
	memcpy( str.bv_val, val->bv_val, prefix );
	memcpy( str.bv_val + prefix, ctx->new_dn.bv_val, ctx->new_dn.bv_len );
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

/* Replaces the affected dmgDepartment values of one group. */
static void
dmg_rewrite_group( Operation *op, dmg_rename_ctx *ctx, Entry *g, Attribute *a )
{
	Modifications del, add;
	BerVarray oldv = NULL, oldn = NULL, newv = NULL, newn = NULL;
	slap_callback cb = { 0 };
	OpExtra marker;
	Operation o;
	SlapReply r = { REP_RESULT };
	unsigned i, n = 0;

	oldv = op->o_tmpcalloc( a->a_numvals + 1, 4 * sizeof( struct berval ), op->o_tmpmemctx );
	oldn = oldv + a->a_numvals + 1;
	newv = oldn + a->a_numvals + 1;
	newn = newv + a->a_numvals + 1;
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( !dnIsSuffix( &a->a_nvals[i], &ctx->old_ndn ) )
			continue;
		oldv[n] = a->a_vals[i];
		oldn[n] = a->a_nvals[i];
		dmg_renamed_value( op, ctx, &a->a_vals[i], &a->a_nvals[i], &newv[n], &newn[n] );
		n++;
	}
	memset( &del, 0, sizeof( del ) );
	del.sml_op = LDAP_MOD_DELETE;
	del.sml_flags = SLAP_MOD_INTERNAL;
	del.sml_desc = dmg_ad.department;
	del.sml_type = dmg_ad.department->ad_cname;
	del.sml_values = oldv;
	del.sml_nvalues = oldn;
	del.sml_numvals = n;
	del.sml_next = &add;
	add = del;
	add.sml_op = LDAP_MOD_ADD;
	add.sml_values = newv;
	add.sml_nvalues = newn;
	add.sml_next = NULL;

	dmg_op_as_root( op, &o );
	o.o_tag = LDAP_REQ_MODIFY;
	o.o_bd = dmg_real_db( op );
	o.o_req_dn = g->e_name;
	o.o_req_ndn = g->e_nname;
	o.orm_modlist = &del;
	o.orm_increment = 0;
	o.orm_no_opattrs = 0;
	memset( o.o_ctrlflag, 0, sizeof( o.o_ctrlflag ) );
	cb.sc_response = dmg_ignore_result;
	o.o_callback = &cb;
	/* a CSN of its own: with the rename's, consumers that already applied the rename would
	 * drop this change as not new enough */
	BER_BVZERO( &o.o_csn );
	dmg_op_mark_internal( &o, &marker );
	o.o_bd->be_modify( &o, &r );
	dmg_op_unmark_internal( &o, &marker );
	slap_graduate_commit_csn( &o );
	/* the backend appended the operational attributes (entryCSN, modifiersName, ...) */
	if ( add.sml_next ) {
		slap_mods_free( add.sml_next, 1 );
		add.sml_next = NULL;
	}
	if ( r.sr_err != LDAP_SUCCESS )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "could not rewrite dmgDepartment of \"%s\" "
			"after the rename of \"%s\" (%d)\n", g->e_name.bv_val, ctx->old_ndn.bv_val,
			r.sr_err );
	for ( i = 0; i < n; i++ ) {
		op->o_tmpfree( newv[i].bv_val, op->o_tmpmemctx );
		op->o_tmpfree( newn[i].bv_val, op->o_tmpmemctx );
	}
	op->o_tmpfree( oldv, op->o_tmpmemctx );
}

typedef struct dmg_affected {
	dmg_rename_ctx *rename;
	Entry **groups;		/* copies: modifying while the search holds them is not safe */
	unsigned n, cap;
} dmg_affected;

static int
dmg_affected_cb( Operation *op, SlapReply *rs )
{
	dmg_affected *aff = op->o_callback->sc_private;
	Attribute *a;
	unsigned i;

	if ( rs->sr_type != REP_SEARCH || !dmg_entry_is_group( rs->sr_entry ) )
		return 0;
	a = attr_find( rs->sr_entry->e_attrs, dmg_ad.department );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dnIsSuffix( &a->a_nvals[i], &aff->rename->old_ndn ) )
			break;
	}
	if ( a == NULL || i == a->a_numvals )
		return 0;
	if ( aff->n == aff->cap ) {
		aff->cap = aff->cap ? aff->cap * 2 : 16;
		aff->groups = ch_realloc( aff->groups, aff->cap * sizeof( Entry * ) );
	}
	aff->groups[aff->n++] = entry_dup( rs->sr_entry );
	return 0;
}

/* dmgDepartment has equality matching only: every group is a candidate.  Runs after the
 * rename succeeded, which cannot be undone: a failed search (logged by dmg_internal_search)
 * is logged again here with what it leaves behind, and returned. */
static int
dmg_find_affected( Operation *op, dmg_affected *aff )
{
	Filter f = { 0 };
	Operation root;
	slap_callback cb = { 0 };
	int rc;

	f.f_choice = LDAP_FILTER_PRESENT;
	f.f_desc = dmg_ad.department;
	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_affected_cb;
	cb.sc_private = aff;
	rc = dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, &f, &cb );
	if ( rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "%s groups naming \"%s\" as department could "
			"not be found after its rename (%d): their dmgDepartment values may name the old "
			"DN\n", op->o_log_prefix, aff->rename->old_ndn.bv_val, rc );
	return rc;
}

static int
dmg_rename_response( Operation *op, SlapReply *rs )
{
	dmg_rename_ctx *ctx = op->o_callback->sc_private;
	dmg_affected aff = { ctx, NULL, 0, 0 };
	unsigned i;

	if ( rs->sr_type != REP_RESULT || rs->sr_err != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;
	/* a failure is logged there; the groups found before it are still rewritten */
	(void)dmg_find_affected( op, &aff );
	for ( i = 0; i < aff.n; i++ ) {
		dmg_rewrite_group( op, ctx, aff.groups[i],
			attr_find( aff.groups[i]->e_attrs, dmg_ad.department ) );
		entry_free( aff.groups[i] );
	}
	ch_free( aff.groups );
	return SLAP_CB_CONTINUE;
}

static int
dmg_rename_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;
	dmg_rename_ctx *ctx = sc->sc_private;

	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	op->o_tmpfree( ctx->old_ndn.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( ctx->new_dn.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( ctx->new_ndn.bv_val, op->o_tmpmemctx );
	op->o_callback = sc->sc_next;
	op->o_tmpfree( sc, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

int
dmg_departments_follow_rename( Operation *op, slap_overinst *on )
{
	slap_callback *sc;
	dmg_rename_ctx *ctx;

	sc = op->o_tmpcalloc( 1, sizeof( slap_callback ) + sizeof( dmg_rename_ctx ), op->o_tmpmemctx );
	ctx = (dmg_rename_ctx *)( sc + 1 );
	ctx->on = on;
	ber_dupbv_x( &ctx->old_ndn, &op->o_req_ndn, op->o_tmpmemctx );
	dmg_modrdn_new_dn( op, &ctx->new_dn, &ctx->new_ndn );
	sc->sc_response = dmg_rename_response;
	sc->sc_cleanup = dmg_rename_cleanup;
	sc->sc_private = ctx;
	sc->sc_next = op->o_callback;
	op->o_callback = sc;
	return SLAP_CB_CONTINUE;
}
