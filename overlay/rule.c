/* rule.c -- a group's membership rule, as read from its entry
 *
 * The rule is the department list, dmgIncludeSubDepartments, the overrides (dmgIncludeMember,
 * dmgExcludeMember), each as the entries named are now (their UUIDs resolved, references.c;
 * the overrides only on demand, dmg_rule_overrides: the reverse test compares them by UUID),
 * and one filter: the configured member filter ANDed with every
 * dmgCondition.  Conditions were validated when written
 * (guard.c); one that no longer parses (schema changed since) makes the whole filter FALSE,
 * so a broken condition never widens a group.
 */
#include "dmg.h"

int
dmg_entry_is_group( Entry *e )
{
	return dmg_ad.oc_group && is_entry_objectclass( e, dmg_ad.oc_group, 0 );
}

int
dmg_entry_bool( Entry *e, AttributeDescription *ad, int dflt )
{
	Attribute *a = attr_find( e->e_attrs, ad );

	if ( a == NULL || a->a_numvals == 0 )
		return dflt;
	/* booleanMatch normalizes to "TRUE" / "FALSE" */
	return a->a_nvals[0].bv_val[0] == 'T';
}

static Filter *
dmg_filter_computed( Operation *op, ber_int_t result )
{
	Filter *f = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	f->f_choice = SLAPD_FILTER_COMPUTED;
	f->f_result = result;
	return f;
}

static Filter *
dmg_rule_filter( Operation *op, dmg_info *di, Attribute *conds )
{
	Filter *and, **tail;
	unsigned i;

	and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );
	and->f_choice = LDAP_FILTER_AND;
	and->f_and = filter_dup( di->member_filter, op->o_tmpmemctx );
	tail = &and->f_and->f_next;
	for ( i = 0; conds && i < conds->a_numvals; i++ ) {
		Filter *c = str2filter_x( op, conds->a_vals[i].bv_val );

		if ( c == NULL ) {
			Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX
				"dmgCondition \"%s\" does not parse; treating it as FALSE\n",
				conds->a_vals[i].bv_val );
			c = dmg_filter_computed( op, LDAP_COMPARE_FALSE );
		}
		*tail = c;
		tail = &c->f_next;
	}
	return and;
}

/* The rule's view of a reference attribute: its current values, NULL when it has none */
static Attribute *
dmg_rule_refs( dmg_refs *refs )
{
	return refs->a.a_numvals ? &refs->a : NULL;
}

int
dmg_rule_from_entry( Operation *op, slap_overinst *on, Entry *e, dmg_rule *r )
{
	dmg_info *di = on->on_bi.bi_private;
	int rc;

	memset( r, 0, sizeof( *r ) );
	r->ndn = e->e_nname;
	r->entry = e;
	r->include_sub = dmg_entry_bool( e, dmg_ad.include_sub, 1 );
	r->conds = attr_find( e->e_attrs, dmg_ad.condition );
	if ( ( rc = dmg_refs_current( op, on, e, dmg_ad.department, &r->dept_refs ) )
			!= LDAP_SUCCESS ) {
		/* fail closed: a rule whose entries are not known selects nobody */
		dmg_rule_free( op, r );
		r->filter = dmg_filter_computed( op, LDAP_COMPARE_FALSE );
		return rc;
	}
	r->depts = r->dept_refs.a.a_nvals;
	r->dept_vals = r->dept_refs.a.a_vals;
	r->ndepts = r->dept_refs.a.a_numvals;
	r->filter = dmg_rule_filter( op, di, r->conds );
	return LDAP_SUCCESS;
}

int
dmg_rule_overrides( Operation *op, slap_overinst *on, dmg_rule *r )
{
	int rc;

	if ( ( rc = dmg_refs_current( op, on, r->entry, dmg_ad.include_member,
			&r->include_refs ) ) != LDAP_SUCCESS
		|| ( rc = dmg_refs_current( op, on, r->entry, dmg_ad.exclude_member,
			&r->exclude_refs ) ) != LDAP_SUCCESS )
		return rc;
	r->include = dmg_rule_refs( &r->include_refs );
	r->exclude = dmg_rule_refs( &r->exclude_refs );
	return LDAP_SUCCESS;
}

int
dmg_group_has_refs( Entry *g, AttributeDescription *ad )
{
	return attr_find( g->e_attrs, ad ) != NULL
		|| attr_find( g->e_attrs, dmg_ref_uuid_ad( ad ) ) != NULL;
}

void
dmg_rule_free( Operation *op, dmg_rule *r )
{
	if ( r->filter )
		filter_free_x( op, r->filter, 1 );
	r->filter = NULL;
	dmg_refs_free( op, &r->dept_refs );
	dmg_refs_free( op, &r->include_refs );
	dmg_refs_free( op, &r->exclude_refs );
	r->depts = r->dept_vals = NULL;
	r->ndepts = 0;
	r->include = r->exclude = NULL;
}

AttributeDescription *
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
