/* references.c -- entries that groups name: departments, overrides, roles (man page REFERENCES)
 *
 * A group names other entries in six DN-valued attributes: dmgDepartment, the overrides
 * dmgIncludeMember and dmgExcludeMember, and the roles dmgAdministrator, dmgAuditor and
 * dmgApplicant.  The overlay keeps those references true,
 * as slapo-refint does for its attributes:
 *  - renaming or moving an entry rewrites every value that names it or an entry below it;
 *  - deleting an entry is refused while a group names it as a department, or as the only
 *    auditor of a group that requires audit (its mail would be held for nobody, and every
 *    later write to the group would fail validation); otherwise the entry's override and
 *    role values are removed from every group, so that a new entry with the same DN inherits
 *    no role, nor the sight of the hidden groups that comes with one, nor a membership.
 * The rewrites run after the backend succeeded and before the client hears of it.  They are
 * ordinary modifies through the whole overlay stack, so syncprov replicates them; the write
 * guard lets them through by their marker.
 */
#include "dmg.h"

/* What a rename rewrites; what a delete removes (it never meets a department value: such a
 * delete is refused first) */
static AttributeDescription **const dmg_refs_renamed[] = {
	&dmg_ad.department, &dmg_ad.include_member, &dmg_ad.exclude_member,
	&dmg_ad.administrator, &dmg_ad.auditor, &dmg_ad.applicant, NULL
};
static AttributeDescription **const dmg_refs_deleted[] = {
	&dmg_ad.include_member, &dmg_ad.exclude_member,
	&dmg_ad.administrator, &dmg_ad.auditor, &dmg_ad.applicant, NULL
};
#define DMG_REFS_MAX 6

int
dmg_ad_is_reference( AttributeDescription *ad )
{
	int i;

	for ( i = 0; dmg_refs_renamed[i]; i++ ) {
		if ( ad->ad_type == ( *dmg_refs_renamed[i] )->ad_type )
			return 1;
	}
	return 0;
}

/* (|(attr=ndn)...) over attrs, on the caller's stack: the groups naming the entry ndn */
typedef struct dmg_names_filter {
	Filter or, eq[DMG_REFS_MAX];
	AttributeAssertion ava[DMG_REFS_MAX];
} dmg_names_filter;

static Filter *
dmg_names_filter_init( dmg_names_filter *nf, AttributeDescription **const *attrs,
	struct berval *ndn )
{
	Filter **tail = &nf->or.f_or;
	int i;

	memset( nf, 0, sizeof( *nf ) );
	nf->or.f_choice = LDAP_FILTER_OR;
	for ( i = 0; i < DMG_REFS_MAX && attrs[i]; i++ ) {
		nf->eq[i].f_choice = LDAP_FILTER_EQUALITY;
		nf->eq[i].f_ava = &nf->ava[i];
		nf->ava[i].aa_desc = *attrs[i];
		nf->ava[i].aa_value = *ndn;
		*tail = &nf->eq[i];
		tail = &nf->eq[i].f_next;
	}
	return &nf->or;
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

static int
dmg_refuse_department_delete( Operation *op, SlapReply *rs )
{
	Filter eq = { 0 };
	AttributeAssertion ava = ATTRIBUTEASSERTION_INIT;
	dmg_first_dn group;
	char text[512];
	int rc;

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

static int
dmg_sole_auditor_cb( Operation *op, SlapReply *rs )
{
	Entry **group = op->o_callback->sc_private;
	Attribute *a;

	if ( rs->sr_type != REP_SEARCH || *group || !dmg_entry_is_group( rs->sr_entry )
		|| !dmg_entry_bool( rs->sr_entry, dmg_ad.audit_required, 0 ) )
		return 0;
	/* the search found it naming the entry: is that its only auditor? */
	a = attr_find( rs->sr_entry->e_attrs, dmg_ad.auditor );
	if ( a && a->a_numvals == 1 )
		*group = entry_dup( rs->sr_entry );	/* named after the search (roles) */
	return 0;
}

/* An audited group keeps at least one auditor */
static int
dmg_refuse_sole_auditor_delete( Operation *op, SlapReply *rs, slap_overinst *on )
{
	static AttributeDescription **const auditor[] = { &dmg_ad.auditor, NULL };
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
		dmg_names_filter_init( &nf, auditor, &op->o_req_ndn ), &cb );
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
	AttributeDescription **const *attrs;	/* the reference attributes it touches */
	struct berval old_ndn;		/* tmpmem copies: the operation's own change */
	struct berval new_dn, new_ndn;	/* a rename's; empty after a delete: the values go */
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

/* The change to one reference attribute of a group: the values naming the changed entry (or
 * one below it) are deleted and, after a rename, added as they are now. */
typedef struct dmg_ref_mod {
	Modifications del, add;
	BerVarray block;	/* old, old normalized, new, new normalized values */
	unsigned n;
} dmg_ref_mod;

static void
dmg_ref_mod_init( Operation *op, dmg_ref_change *ch, Attribute *a, dmg_ref_mod *m )
{
	BerVarray oldv, oldn, newv, newn;
	unsigned i;

	memset( m, 0, sizeof( *m ) );
	m->block = op->o_tmpcalloc( a->a_numvals + 1, 4 * sizeof( struct berval ), op->o_tmpmemctx );
	oldv = m->block;
	oldn = oldv + a->a_numvals + 1;
	newv = oldn + a->a_numvals + 1;
	newn = newv + a->a_numvals + 1;
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( !dnIsSuffix( &a->a_nvals[i], &ch->old_ndn ) )
			continue;
		oldv[m->n] = a->a_vals[i];
		oldn[m->n] = a->a_nvals[i];
		if ( !BER_BVISNULL( &ch->new_ndn ) )
			dmg_renamed_value( op, ch, &a->a_vals[i], &a->a_nvals[i], &newv[m->n],
				&newn[m->n] );
		m->n++;
	}
	m->del.sml_op = LDAP_MOD_DELETE;
	m->del.sml_flags = SLAP_MOD_INTERNAL;
	m->del.sml_desc = a->a_desc;
	m->del.sml_type = a->a_desc->ad_cname;
	m->del.sml_values = oldv;
	m->del.sml_nvalues = oldn;
	m->del.sml_numvals = m->n;
	if ( !BER_BVISNULL( &ch->new_ndn ) ) {
		m->add = m->del;
		m->add.sml_op = LDAP_MOD_ADD;
		m->add.sml_values = newv;
		m->add.sml_nvalues = newn;
	}
}

static void
dmg_ref_mod_free( Operation *op, dmg_ref_mod *m )
{
	unsigned i;

	for ( i = 0; m->add.sml_values && i < m->n; i++ ) {
		op->o_tmpfree( m->add.sml_values[i].bv_val, op->o_tmpmemctx );
		op->o_tmpfree( m->add.sml_nvalues[i].bv_val, op->o_tmpmemctx );
	}
	op->o_tmpfree( m->block, op->o_tmpmemctx );
}

/* Rewrites the values of group g that name the changed entry, in one modify. */
static void
dmg_rewrite_group( Operation *op, dmg_ref_change *ch, Entry *g )
{
	dmg_ref_mod mods[DMG_REFS_MAX];
	Modifications *list = NULL, **tail = &list, *last = NULL;
	slap_callback cb = { 0 };
	OpExtra marker;
	Operation o;
	SlapReply r = { REP_RESULT };
	int i, n = 0;

	for ( i = 0; ch->attrs[i] && n < DMG_REFS_MAX; i++ ) {
		Attribute *a = attr_find( g->e_attrs, *ch->attrs[i] );

		if ( a == NULL )
			continue;
		dmg_ref_mod_init( op, ch, a, &mods[n] );
		if ( mods[n].n == 0 ) {
			dmg_ref_mod_free( op, &mods[n] );
			continue;
		}
		*tail = last = &mods[n].del;
		tail = &last->sml_next;
		if ( mods[n].add.sml_values ) {
			*tail = last = &mods[n].add;
			tail = &last->sml_next;
		}
		n++;
	}
	if ( list == NULL )
		return;

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
	/* a CSN of its own: with the rename's, consumers that already applied the rename would
	 * drop this change as not new enough */
	BER_BVZERO( &o.o_csn );
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
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "could not rewrite the values of \"%s\" that "
			"name \"%s\" after its %s (%d)\n", g->e_name.bv_val, ch->old_ndn.bv_val,
			BER_BVISNULL( &ch->new_ndn ) ? "delete" : "rename", r.sr_err );
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

	for ( i = 0; ch->attrs[i]; i++ ) {
		Attribute *a = attr_find( g->e_attrs, *ch->attrs[i] );

		for ( j = 0; a && j < a->a_numvals; j++ ) {
			if ( dnIsSuffix( &a->a_nvals[j], &ch->old_ndn ) )
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
 * a delete, those naming the entry itself (it had nothing below it). */
static void
dmg_find_affected( Operation *op, dmg_affected *aff )
{
	dmg_ref_change *ch = aff->change;
	dmg_names_filter nf;
	Filter *f, *own = NULL;
	Operation root;
	slap_callback cb = { 0 };

	if ( BER_BVISNULL( &ch->new_ndn ) )
		f = dmg_names_filter_init( &nf, ch->attrs, &ch->old_ndn );
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

/* Follows op's change of its target once the backend has made it */
static int
dmg_references_follow( Operation *op, AttributeDescription **const *attrs )
{
	slap_callback *sc;
	dmg_ref_change *ch;

	sc = op->o_tmpcalloc( 1, sizeof( slap_callback ) + sizeof( dmg_ref_change ), op->o_tmpmemctx );
	ch = (dmg_ref_change *)( sc + 1 );
	ch->attrs = attrs;
	ber_dupbv_x( &ch->old_ndn, &op->o_req_ndn, op->o_tmpmemctx );
	if ( op->o_tag == LDAP_REQ_MODRDN )
		dmg_modrdn_new_dn( op, &ch->new_dn, &ch->new_ndn );
	sc->sc_response = dmg_change_response;
	sc->sc_cleanup = dmg_change_cleanup;
	sc->sc_private = ch;
	sc->sc_next = op->o_callback;
	op->o_callback = sc;
	return SLAP_CB_CONTINUE;
}

int
dmg_references_follow_rename( Operation *op, slap_overinst *on )
{
	(void)on;
	return dmg_references_follow( op, dmg_refs_renamed );
}

int
dmg_references_delete( Operation *op, SlapReply *rs, slap_overinst *on )
{
	int rc;

	if ( ( rc = dmg_refuse_department_delete( op, rs ) ) != SLAP_CB_CONTINUE
		|| ( rc = dmg_refuse_sole_auditor_delete( op, rs, on ) ) != SLAP_CB_CONTINUE )
		return rc;
	return dmg_references_follow( op, dmg_refs_deleted );
}
