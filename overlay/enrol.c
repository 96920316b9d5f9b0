/* enrol.c -- the self-enrolment guard (man page ACCESS CONTROL)
 *
 * A dmgCondition that tests an attribute employees may write on their own entry lets anyone
 * make themselves a member, and so gain whatever an ACL grants the group's members (an
 * employee sets her own "title: Manager").  A write that sets a group's conditions or
 * departments is refused when, for one of the first DMG_ENROL_SAMPLE employees below the
 * departments, slapd's ACL engine grants that employee's own entry the right to add or
 * delete values of an attribute some condition tests.  Only the rootdn with the Relax Rules
 * control may store such a condition.
 *
 *  - The employees are copied by an internal search and the ACLs evaluated after it: an ACL
 *    may read the database (group clauses), which a callback must not (ops.c).
 *  - The question is asked as slapd asks it for a modify: an Operation with the employee's
 *    identity, on the real database (whose rootdn is not the requester), ACL_WADD and
 *    ACL_WDEL, without a value and, for an equality assertion, with its value.  ACLs that
 *    depend on the connection (peername, ssf) are evaluated with the requester's connection.
 *  - It is asked for every attribute type an assertion can match, as slapd's filter matches
 *    it: the type named and all its subtypes ("(name=x)" tests title), and for an extensible
 *    match without an attribute ("(:caseIgnoreMatch:=x)") every type its rule applies to.
 */
#include "dmg.h"

#define DMG_ENROL_SAMPLE 100

typedef struct dmg_enrol_sample {
	Entry *e[DMG_ENROL_SAMPLE];	/* copies, in the order the backend returned them */
	unsigned n;
} dmg_enrol_sample;

static int
dmg_enrol_sample_cb( Operation *op, SlapReply *rs )
{
	dmg_enrol_sample *s = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || s->n == DMG_ENROL_SAMPLE )
		return 0;
	s->e[s->n++] = entry_dup( rs->sr_entry );
	/* enough: makes the backend end the search at once (and answer success) */
	return s->n == DMG_ENROL_SAMPLE ? LDAP_SIZELIMIT_EXCEEDED : 0;
}

/* The first employees below the group's departments, as the rootdn finds them; a department
 * the group had before the write (before: NULL on add) is found by its UUID, its stored DN
 * may predate a rename (references.c) */
static int
dmg_enrol_sample_get( Operation *op, dmg_info *di, Attribute *depts, Entry *before,
	dmg_enrol_sample *s, char *text, size_t len )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Operation root;
	slap_callback cb = { 0 };
	unsigned i;
	int rc;

	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_enrol_sample_cb;
	cb.sc_private = s;
	for ( i = 0; depts && i < depts->a_numvals && s->n < DMG_ENROL_SAMPLE; i++ ) {
		Entry *d = NULL;
		struct berval base = depts->a_nvals[i];

		if ( before && ( rc = dmg_ref_entry_get( op, on, before, dmg_ad.department,
				&depts->a_nvals[i], &d ) ) != LDAP_SUCCESS ) {
			snprintf( text, len, "dmgDepartment: \"%s\" could not be looked up to check "
				"the conditions (%d)", depts->a_vals[i].bv_val, rc );
			return LDAP_OTHER;
		}
		if ( d ) {
			ber_dupbv_x( &base, &d->e_nname, op->o_tmpmemctx );
			dmg_entry_release( op, on, d );
		}
		rc = dmg_internal_search( &root, &base, LDAP_SCOPE_SUBTREE, di->member_filter, &cb );
		if ( d )
			op->o_tmpfree( base.bv_val, op->o_tmpmemctx );
		if ( rc != LDAP_SUCCESS ) {
			/* whom the conditions would admit is not known: fail closed */
			snprintf( text, len, "dmgCondition: the employees of \"%s\" could not be read "
				"to check the conditions (%d)", depts->a_vals[i].bv_val, rc );
			return LDAP_OTHER;
		}
	}
	return LDAP_SUCCESS;
}

static void
dmg_enrol_sample_free( dmg_enrol_sample *s )
{
	unsigned i;

	for ( i = 0; i < s->n; i++ )
		entry_free( s->e[i] );
	s->n = 0;
}

/* The first sampled employee whose own entry may take or lose values of ad, or NULL.  An
 * equality assertion's value is asked for too: ACLs restricted to a value ("val=") apply only
 * when slapd is given one. */
static Entry *
dmg_self_writer( Operation *op, dmg_enrol_sample *s, AttributeDescription *ad,
	struct berval *val )
{
	Operation self;
	Entry *found = NULL;
	unsigned i;

	for ( i = 0; i < s->n && found == NULL; i++ ) {
		self = *op;
		self.o_bd = dmg_real_db( op );
		self.o_dn = s->e[i]->e_name;
		self.o_ndn = s->e[i]->e_nname;
		self.o_groups = NULL;	/* group ACL answers are the employee's, not op's */
		self.o_acl_priv = ACL_NONE;
		if ( access_allowed( &self, s->e[i], ad, NULL, ACL_WADD, NULL )
			|| access_allowed( &self, s->e[i], ad, NULL, ACL_WDEL, NULL )
			|| ( val && ( access_allowed( &self, s->e[i], ad, val, ACL_WADD, NULL )
				|| access_allowed( &self, s->e[i], ad, val, ACL_WDEL, NULL ) ) ) )
			found = s->e[i];
		slap_op_groups_free( &self );
	}
	return found;
}

/* Does slapd's test_filter match the assertion f (naming ad, or none) on values of type at?
 * On the type named and on every subtype ("name" matches title, cn, l...: attrs_find); an
 * extensible match without an attribute on every type its matching rule applies to. */
static int
dmg_assertion_tests_type( Filter *f, AttributeDescription *ad, AttributeType *at )
{
	if ( ad )
		return is_at_subtype( at, ad->ad_type );
	return f->f_choice == LDAP_FILTER_EXT && f->f_mr_rule
		&& mr_usable_with_at( f->f_mr_rule, at );
}

/* The first attribute type the assertion f tests (see above) that a sampled employee may
 * write on their own entry; *writer is that employee.  Asked for every such type in the
 * schema (the ACLs name types, not the assertion's supertype); types no one may write
 * (NO-USER-MODIFICATION) are left out. */
static AttributeDescription *
dmg_assertion_self_writable( Operation *op, dmg_enrol_sample *s, Filter *f, Entry **writer )
{
	AttributeDescription *ad = dmg_filter_ad( f ), *tested;
	struct berval *val = f->f_choice == LDAP_FILTER_EQUALITY ? &f->f_av_value : NULL;
	AttributeType *at;
	const char *text;
	int more;

	if ( ad == NULL && f->f_choice != LDAP_FILTER_EXT )
		return NULL;
	for ( more = at_start( &at ); more; more = at_next( &at ) ) {
		tested = NULL;
		if ( is_at_no_user_mod( at ) || !dmg_assertion_tests_type( f, ad, at )
			|| slap_bv2ad( &at->sat_cname, &tested, &text ) != LDAP_SUCCESS )
			continue;
		if ( ( *writer = dmg_self_writer( op, s, tested, val ) ) != NULL )
			return tested;
	}
	return NULL;
}

/* The first attribute tested in f (every assertion, below AND, OR and NOT) that a sampled
 * employee may write on their own entry; *writer is that employee */
static AttributeDescription *
dmg_self_writable_in( Operation *op, dmg_enrol_sample *s, Filter *f, Entry **writer )
{
	AttributeDescription *ad;

	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
		for ( f = f->f_list; f; f = f->f_next ) {
			if ( ( ad = dmg_self_writable_in( op, s, f, writer ) ) != NULL )
				return ad;
		}
		return NULL;
	case LDAP_FILTER_NOT:
		return dmg_self_writable_in( op, s, f->f_not, writer );
	}
	return dmg_assertion_self_writable( op, s, f, writer );
}

/* Does op set the group's conditions, or the departments whose employees they apply to? */
static int
dmg_enrol_sets_rule( Operation *op )
{
	Modifications *ml;

	switch ( op->o_tag ) {
	case LDAP_REQ_MODIFY:
		ml = op->orm_modlist;
		break;
	case LDAP_REQ_MODRDN:
		ml = op->orr_modlist;	/* the RDN's values */
		break;
	default:
		return 1;
	}
	for ( ; ml; ml = ml->sml_next ) {
		AttributeType *at = ml->sml_desc->ad_type;

		if ( at == dmg_ad.condition->ad_type || at == dmg_ad.department->ad_type
			|| at == dmg_ad.include_sub->ad_type )
			return 1;
	}
	return 0;
}

int
dmg_check_self_enrolment( Operation *op, dmg_info *di, Entry *group, Entry *before, char *text,
	size_t len )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Attribute *conds = attr_find( group->e_attrs, dmg_ad.condition );
	dmg_enrol_sample s;
	unsigned i;
	int rc;

	if ( conds == NULL || conds->a_numvals == 0 || !dmg_enrol_sets_rule( op )
		|| ( dmg_is_root( op, on ) && get_relax( op ) ) )
		return LDAP_SUCCESS;
	s.n = 0;
	rc = dmg_enrol_sample_get( op, di, attr_find( group->e_attrs, dmg_ad.department ), before,
		&s, text, len );
	for ( i = 0; rc == LDAP_SUCCESS && s.n && i < conds->a_numvals; i++ ) {
		Filter *f = str2filter_x( op, conds->a_vals[i].bv_val );
		AttributeDescription *ad;
		Entry *writer = NULL;

		if ( f == NULL )
			continue;	/* refused as unparsable before this check */
		ad = dmg_self_writable_in( op, &s, f, &writer );
		filter_free_x( op, f, 1 );
		if ( ad == NULL )
			continue;
		snprintf( text, len, "dmgCondition: \"%s\" tests \"%s\", which employees may change "
			"on their own entry (%s); anyone could make themselves a member",
			conds->a_vals[i].bv_val, ad->ad_cname.bv_val, writer->e_name.bv_val );
		rc = LDAP_CONSTRAINT_VIOLATION;
	}
	dmg_enrol_sample_free( &s );
	return rc;
}
