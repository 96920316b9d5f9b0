/* guard.c -- the write guard: what may be written, by whom (man page ACCESS CONTROL and SCHEMA)
 *
 * Every add and modify of a dynamicMailGroup is validated on the entry as it would be after
 * the write; a refused write returns the documented result code with a diagnostic naming the
 * attribute and the value, and the backend is never called, so nothing changes.
 *
 * Writes applied by replication (syncrepl consumers, shadow updates) are taken as they come:
 * the provider validated and stamped them.
 */
#include <stdarg.h>

#include "dmg.h"
#include "address.h"
#include "policy.h"

#define DMG_TEXT_MAX 512

typedef struct dmg_verdict {
	int rc;
	char text[DMG_TEXT_MAX];
} dmg_verdict;

static int
dmg_refuse( dmg_verdict *v, int rc, const char *fmt, ... )
{
	va_list ap;

	v->rc = rc;
	va_start( ap, fmt );
	vsnprintf( v->text, sizeof( v->text ), fmt, ap );
	va_end( ap );
	return rc;
}

static int
dmg_send_refusal( Operation *op, SlapReply *rs, dmg_verdict *v )
{
	Debug( LDAP_DEBUG_TRACE, DMG_LOG_PREFIX "%s write to \"%s\" refused: %s\n",
		op->o_log_prefix, op->o_req_dn.bv_val, v->text );
	send_ldap_error( op, rs, v->rc, v->text );
	return rs->sr_err;
}

/* ---- lookups ------------------------------------------------------------------------------------ */

static int
dmg_first_dn_cb( Operation *op, SlapReply *rs )
{
	dmg_first_dn *ctx = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || ctx->found )
		return 0;
	if ( ctx->skip && dn_match( &rs->sr_entry->e_nname, ctx->skip ) )
		return 0;
	if ( ctx->groups_only && !dmg_entry_is_group( rs->sr_entry ) )
		return 0;
	ctx->found = 1;
	/* a hidden group is not named to those who may not see it */
	if ( dmg_entry_is_group( rs->sr_entry )
		&& !dmg_group_visible( ctx->requester, ctx->on, rs->sr_entry ) )
		snprintf( ctx->dn, sizeof( ctx->dn ), "another entry" );
	else
		snprintf( ctx->dn, sizeof( ctx->dn ), "\"%s\"", rs->sr_entry->e_name.bv_val );
	return 0;
}

/* First entry other than skip matching f in the whole database, with the rootdn's rights */
int
dmg_find_other( Operation *op, Filter *f, struct berval *skip, int groups_only, dmg_first_dn *out )
{
	Operation root;
	slap_callback cb = { 0 };

	memset( out, 0, sizeof( *out ) );
	out->skip = skip;
	out->groups_only = groups_only;
	out->requester = op;
	out->on = (slap_overinst *)op->o_bd->bd_info;
	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_first_dn_cb;
	cb.sc_private = out;
	dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, f, &cb );
	return out->found;
}

/* Another entry (any entry if groups_only is 0, else another group) with this mail value */
static int
dmg_mail_taken( Operation *op, struct berval *mail, struct berval *self, int groups_only,
	dmg_first_dn *other )
{
	Filter eq = { 0 };
	AttributeAssertion ava_mail = ATTRIBUTEASSERTION_INIT;
	MatchingRule *mr = dmg_ad.mail->ad_type->sat_equality;
	struct berval nmail = BER_BVNULL;
	const char *text = NULL;
	int taken;

	if ( mr == NULL || asserted_value_validate_normalize( dmg_ad.mail, mr, SLAP_MR_EQUALITY,
			mail, &nmail, &text, op->o_tmpmemctx ) != LDAP_SUCCESS )
		return 0;
	eq.f_choice = LDAP_FILTER_EQUALITY;
	eq.f_ava = &ava_mail;
	ava_mail.aa_desc = dmg_ad.mail;
	ava_mail.aa_value = nmail;
	taken = dmg_find_other( op, &eq, self, groups_only, other );
	op->o_tmpfree( nmail.bv_val, op->o_tmpmemctx );
	return taken;
}

static int
dmg_entry_exists( Operation *op, struct berval *ndn, Entry **keep )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Entry *e = dmg_entry_get( op, on, ndn );

	if ( e == NULL )
		return 0;
	if ( keep )
		*keep = e;
	else
		dmg_entry_release( op, on, e );
	return 1;
}

/* ---- validation of a group entry ------------------------------------------------------------------- */

static int
dmg_check_mail( Operation *op, Entry *e, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, dmg_ad.mail );
	const char *why = NULL;
	dmg_first_dn other;

	if ( a == NULL || a->a_numvals == 0 )
		return dmg_refuse( v, LDAP_OBJECT_CLASS_VIOLATION,
			"mail: a dynamicMailGroup requires attribute 'mail'" );
	if ( a->a_numvals > 1 )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"mail: a dynamicMailGroup has exactly one address, not %u (\"%s\", \"%s\")",
			a->a_numvals, a->a_vals[0].bv_val, a->a_vals[1].bv_val );
	if ( dmg_addr_parse( a->a_vals[0].bv_val, a->a_vals[0].bv_len, NULL, &why ) != DMG_ADDR_OK )
		return dmg_refuse( v, LDAP_INVALID_SYNTAX,
			"mail: \"%s\" is not an email address (%s)", a->a_vals[0].bv_val,
			why ? why : "null address" );
	if ( dmg_mail_taken( op, &a->a_vals[0], &e->e_nname, 0, &other ) )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"mail: \"%s\" is already used by %s", a->a_vals[0].bv_val, other.dn );
	return LDAP_SUCCESS;
}

static int
dmg_check_departments( Operation *op, dmg_info *di, Entry *e, dmg_verdict *v )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Attribute *a = attr_find( e->e_attrs, dmg_ad.department );
	Operation root;
	unsigned i;

	if ( a == NULL || a->a_numvals == 0 )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgDepartment: a dynamicMailGroup needs at least one department" );
	if ( a->a_numvals > (unsigned)di->max_departments )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgDepartment: %u values, more than the maximum of %d "
			"(dynmailgroup-max-departments)", a->a_numvals, di->max_departments );
	dmg_op_as_root( op, &root );
	for ( i = 0; i < a->a_numvals; i++ ) {
		Entry *d = NULL;
		int is_dept;

		if ( !dmg_entry_exists( op, &a->a_nvals[i], &d ) )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"dmgDepartment: \"%s\" does not exist", a->a_vals[i].bv_val );
		is_dept = test_filter( &root, d, di->dept_filter ) == LDAP_COMPARE_TRUE;
		dmg_entry_release( op, on, d );
		if ( !is_dept )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"dmgDepartment: \"%s\" is not a department (does not match %s)",
				a->a_vals[i].bv_val, di->dept_filter_str.bv_val );
	}
	return LDAP_SUCCESS;
}

/* Why a parsed condition cannot be used, or NULL */
static const char *
dmg_condition_flaw( Filter *f )
{
	AttributeDescription *ad = NULL;
	const char *why;

	/* slapd marks an assertion on an unknown attribute (or with an invalid value) */
	if ( f->f_choice & SLAPD_FILTER_UNDEFINED )
		return "names an unknown attribute or has an invalid assertion value";
	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
		for ( f = f->f_list; f; f = f->f_next ) {
			if ( ( why = dmg_condition_flaw( f ) ) != NULL )
				return why;
		}
		return NULL;
	case LDAP_FILTER_NOT:
		return dmg_condition_flaw( f->f_not );
	case SLAPD_FILTER_COMPUTED:
		return f->f_result == SLAPD_COMPARE_UNDEFINED
			? "names an unknown attribute or has an invalid assertion value" : NULL;
	case LDAP_FILTER_PRESENT:
		ad = f->f_desc;
		break;
	case LDAP_FILTER_SUBSTRINGS:
		ad = f->f_sub_desc;
		break;
	case LDAP_FILTER_EXT:
		ad = f->f_mr_desc;
		break;
	default:
		ad = f->f_av_desc;
		break;
	}
	if ( ad && ( dmg_ad_is_computed( ad ) || ad == dmg_ad.member ) )
		return "names a computed attribute";
	return NULL;
}

static int
dmg_check_conditions( Operation *op, Entry *e, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, dmg_ad.condition );
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		Filter *f = str2filter_x( op, a->a_vals[i].bv_val );
		const char *why;

		if ( f == NULL )
			return dmg_refuse( v, LDAP_INVALID_SYNTAX,
				"dmgCondition: \"%s\" is not an RFC 4515 filter", a->a_vals[i].bv_val );
		why = dmg_condition_flaw( f );
		filter_free_x( op, f, 1 );
		if ( why )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"dmgCondition: \"%s\" %s", a->a_vals[i].bv_val, why );
	}
	return LDAP_SUCCESS;
}

static int
dmg_check_identities( Operation *op, Entry *e, AttributeDescription *ad, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, ad );
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( !dmg_entry_exists( op, &a->a_nvals[i], NULL ) )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION, "%s: \"%s\" does not exist",
				ad->ad_cname.bv_val, a->a_vals[i].bv_val );
	}
	return LDAP_SUCCESS;
}

static int
dmg_check_audit( Operation *op, Entry *e, dmg_verdict *v )
{
	Attribute *auditors = attr_find( e->e_attrs, dmg_ad.auditor );

	if ( dmg_entry_bool( e, dmg_ad.audit_required, 0 )
		&& ( auditors == NULL || auditors->a_numvals == 0 ) )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgAuditRequired: \"TRUE\" needs at least one dmgAuditor" );
	return dmg_check_identities( op, e, dmg_ad.auditor, v );
}

static int
dmg_check_send_policy( dmg_info *di, Entry *e, dmg_verdict *v )
{
	Attribute *pol = attr_find( e->e_attrs, dmg_ad.send_policy );
	Attribute *wl = attr_find( e->e_attrs, dmg_ad.whitelist );
	unsigned i, bits = 0, bit;
	const char *why = NULL;

	for ( i = 0; pol && i < pol->a_numvals; i++ ) {
		if ( dmg_send_policy_parse( pol->a_vals[i].bv_val, pol->a_vals[i].bv_len, &bit ) )
			return dmg_refuse( v, LDAP_INVALID_SYNTAX,
				"dmgSendPolicy: unknown value \"%s\" (expected domain, members, anyone "
				"or whitelist)", pol->a_vals[i].bv_val );
		bits |= bit;
	}
	if ( ( bits & DMG_SEND_WHITELIST ) && ( wl == NULL || wl->a_numvals == 0 ) )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgSendPolicy: \"whitelist\" needs at least one dmgWhitelist value" );
	if ( wl && wl->a_numvals > (unsigned)di->max_whitelist )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgWhitelist: %u values, more than the maximum of %d (dynmailgroup-max-whitelist)",
			wl->a_numvals, di->max_whitelist );
	for ( i = 0; wl && i < wl->a_numvals; i++ ) {
		if ( dmg_whitelist_value_check( wl->a_vals[i].bv_val, wl->a_vals[i].bv_len, &why ) )
			return dmg_refuse( v, LDAP_INVALID_SYNTAX,
				"dmgWhitelist: \"%s\" is not user@domain or @domain (%s)",
				wl->a_vals[i].bv_val, why ? why : "invalid" );
	}
	return LDAP_SUCCESS;
}

/* A group's addresses and rules are plain values: "mail;lang-en" would be a second address
 * that the checks below do not see. */
static int
dmg_check_no_options( Entry *e, dmg_verdict *v )
{
	Attribute *a;

	for ( a = e->e_attrs; a; a = a->a_next ) {
		AttributeType *at = a->a_desc->ad_type;

		if ( a->a_desc->ad_tags.bv_len == 0 )
			continue;
		if ( at == dmg_ad.mail->ad_type || at == dmg_ad.member->ad_type
			|| at == dmg_ad.department->ad_type || at == dmg_ad.include_sub->ad_type
			|| at == dmg_ad.condition->ad_type || at == dmg_ad.applicant->ad_type
			|| at == dmg_ad.administrator->ad_type || at == dmg_ad.audit_required->ad_type
			|| at == dmg_ad.auditor->ad_type || at == dmg_ad.send_policy->ad_type
			|| at == dmg_ad.whitelist->ad_type || at == dmg_ad.show_in_contacts->ad_type )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"%s: \"%s\": attribute options are not allowed on a dynamicMailGroup",
				a->a_desc->ad_cname.bv_val, a->a_vals[0].bv_val );
	}
	return LDAP_SUCCESS;
}

static int
dmg_check_no_stored_member( Entry *e, dmg_verdict *v )
{
	Attribute *a = attrs_find( e->e_attrs, dmg_ad.member );

	if ( a && a->a_numvals )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"member: \"%s\" cannot be written; the members of a dynamicMailGroup "
			"are computed", a->a_vals[0].bv_val );
	return LDAP_SUCCESS;
}

static int
dmg_validate_group( Operation *op, dmg_info *di, Entry *e, dmg_verdict *v )
{
	v->rc = LDAP_SUCCESS;
	if ( dmg_check_no_options( e, v )
		|| dmg_check_no_stored_member( e, v )
		|| dmg_check_mail( op, e, v )
		|| dmg_check_departments( op, di, e, v )
		|| dmg_check_conditions( op, e, v )
		|| dmg_check_audit( op, e, v )
		|| dmg_check_identities( op, e, dmg_ad.administrator, v )
		|| dmg_check_send_policy( di, e, v )
		|| ( v->rc = dmg_check_self_enrolment( op, di, e, v->text, sizeof( v->text ) ) ) )
		return v->rc;
	return LDAP_SUCCESS;
}

/* ---- mail addresses of ordinary entries ------------------------------------------------------------ */

/* An ordinary entry may not take the address of a group. */
static int
dmg_check_mail_values_free( Operation *op, BerVarray vals, unsigned n, dmg_verdict *v )
{
	dmg_first_dn other;
	unsigned i;

	for ( i = 0; i < n; i++ ) {
		if ( dmg_mail_taken( op, &vals[i], &op->o_req_ndn, 1, &other ) )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"mail: \"%s\" is already used by %s", vals[i].bv_val, other.dn );
	}
	return LDAP_SUCCESS;
}

/* ---- applicant ---------------------------------------------------------------------------------- */

static int
dmg_may_repair_applicant( Operation *op )
{
	return be_isroot( op ) && get_relax( op );
}

static int
dmg_stamp_applicant( Operation *op, Entry *e, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, dmg_ad.applicant );

	if ( a ) {
		if ( dmg_may_repair_applicant( op ) || ( a->a_numvals == 1
				&& dn_match( &a->a_nvals[0], &op->o_ndn ) ) )
			return LDAP_SUCCESS;
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgApplicant: \"%s\" is not the creator \"%s\"; the server sets this value",
			a->a_vals[0].bv_val, op->o_dn.bv_val );
	}
	attr_merge_one( e, dmg_ad.applicant, &op->o_dn, &op->o_ndn );
	return LDAP_SUCCESS;
}

/* ---- roles ----------------------------------------------------------------------------------- */

typedef enum { DMG_ROLE_NONE, DMG_ROLE_ADMINISTRATOR, DMG_ROLE_POSTMASTER, DMG_ROLE_ROOT } dmg_role;

/* What op's identity is for this group (NULL: a group being created) */
static dmg_role
dmg_role_on( Operation *op, slap_overinst *on, Entry *group )
{
	if ( dmg_is_root( op, on ) )
		return DMG_ROLE_ROOT;
	if ( dmg_is_postmaster( op, on ) )
		return DMG_ROLE_POSTMASTER;
	if ( group && dmg_entry_names( group, dmg_ad.administrator, &op->o_ndn ) )
		return DMG_ROLE_ADMINISTRATOR;
	return DMG_ROLE_NONE;
}

/* A write to a group the requester may not make: insufficientAccess, or noSuchObject when the
 * group is hidden from them (its existence is not theirs to learn). */
static int
dmg_refuse_role( Operation *op, SlapReply *rs, slap_overinst *on, Entry *group, const char *what )
{
	dmg_verdict v;

	if ( !dmg_group_visible( op, on, group ) ) {
		send_ldap_error( op, rs, LDAP_NO_SUCH_OBJECT, NULL );
		return rs->sr_err;
	}
	dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS, "%s \"%s\" is reserved to postmasters%s",
		what, op->o_req_dn.bv_val,
		op->o_tag == LDAP_REQ_MODIFY || op->o_tag == LDAP_REQ_MODRDN
			? " and the group's administrators" : "" );
	return dmg_send_refusal( op, rs, &v );
}

/* ---- hooks -------------------------------------------------------------------------------------- */

static int
dmg_guard_skips( Operation *op )
{
	return dmg_ad.oc_group == NULL || dmg_op_is_internal( op ) || be_shadow_update( op );
}

/* Computed attributes are never written, on any entry */
static int
dmg_check_no_computed( Modifications *ml, Entry *e, dmg_verdict *v )
{
	Attribute *a;

	for ( ; ml; ml = ml->sml_next ) {
		if ( dmg_ad_is_computed( ml->sml_desc ) && ml->sml_desc->ad_type != dmg_ad.member->ad_type )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"%s: \"%s\" cannot be written; the attribute is computed",
				ml->sml_desc->ad_cname.bv_val,
				ml->sml_values ? ml->sml_values[0].bv_val : "" );
	}
	for ( a = e ? e->e_attrs : NULL; a; a = a->a_next ) {
		if ( dmg_ad_is_computed( a->a_desc ) && a->a_desc->ad_type != dmg_ad.member->ad_type )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"%s: \"%s\" cannot be written; the attribute is computed",
				a->a_desc->ad_cname.bv_val, a->a_vals[0].bv_val );
	}
	return LDAP_SUCCESS;
}

static int
dmg_add_group( Operation *op, SlapReply *rs, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_role role = dmg_role_on( op, on, NULL );
	dmg_verdict v = { LDAP_SUCCESS, "" };

	if ( role != DMG_ROLE_ROOT && role != DMG_ROLE_POSTMASTER ) {
		dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS,
			"only postmasters may create a dynamicMailGroup (\"%s\")", op->o_req_dn.bv_val );
		return dmg_send_refusal( op, rs, &v );
	}
	if ( dmg_validate_group( op, di, op->ora_e, &v ) || dmg_stamp_applicant( op, op->ora_e, &v ) )
		return dmg_send_refusal( op, rs, &v );
	if ( role != DMG_ROLE_ROOT )
		dmg_grant_write( op );
	return SLAP_CB_CONTINUE;
}

static int
dmg_add_checked( Operation *op, SlapReply *rs, slap_overinst *on )
{
	Entry *e = op->ora_e;
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Attribute *mail;

	if ( dmg_check_no_computed( NULL, e, &v ) )
		return dmg_send_refusal( op, rs, &v );
	if ( dmg_entry_is_group( e ) )
		return dmg_add_group( op, rs, on );
	/* every mail value, with or without options */
	for ( mail = attrs_find( e->e_attrs, dmg_ad.mail ); mail;
			mail = attrs_find( mail->a_next, dmg_ad.mail ) ) {
		if ( dmg_check_mail_values_free( op, mail->a_vals, mail->a_numvals, &v ) )
			return dmg_send_refusal( op, rs, &v );
	}
	return SLAP_CB_CONTINUE;
}

/* Applies the modifications to a copy of the entry, as the backend would. */
static int
dmg_apply_mods( Operation *op, Entry *e, Modifications *ml, dmg_verdict *v )
{
	const char *text = NULL;
	char textbuf[SLAP_TEXT_BUFLEN];
	int rc = LDAP_SUCCESS;

	for ( ; ml && rc == LDAP_SUCCESS; ml = ml->sml_next ) {
		Modification *mod = &ml->sml_mod, soft;

		switch ( mod->sm_op ) {
		case LDAP_MOD_ADD:
			rc = modify_add_values( e, mod, get_permissiveModify( op ), &text, textbuf, sizeof( textbuf ) );
			break;
		case LDAP_MOD_DELETE:
			rc = modify_delete_values( e, mod, get_permissiveModify( op ), &text, textbuf, sizeof( textbuf ) );
			break;
		case LDAP_MOD_REPLACE:
			rc = modify_replace_values( e, mod, 0, &text, textbuf, sizeof( textbuf ) );
			break;
		case LDAP_MOD_INCREMENT:
			rc = modify_increment_values( e, mod, 0, &text, textbuf, sizeof( textbuf ) );
			break;
		case SLAP_MOD_SOFTADD:
		case SLAP_MOD_ADD_IF_NOT_PRESENT:
			/* as back-mdb does: a permissive add (modify_add_values knows only add) */
			soft = *mod;
			soft.sm_op = LDAP_MOD_ADD;
			rc = modify_add_values( e, &soft, 1, &text, textbuf, sizeof( textbuf ) );
			break;
		case SLAP_MOD_SOFTDEL:
			soft = *mod;
			soft.sm_op = LDAP_MOD_DELETE;
			rc = modify_delete_values( e, &soft, 1, &text, textbuf, sizeof( textbuf ) );
			break;
		}
	}
	if ( rc != LDAP_SUCCESS )
		dmg_refuse( v, rc, "%s", text ? text : "modification cannot be applied" );
	return rc;
}

/* What a group's administrators may write: its configuration, not who administers it, not
 * what kind of entry it is (objectClass), and nothing else (the grant would allow anything). */
static int
dmg_administrator_may_write( AttributeDescription *ad )
{
	AttributeType *at = ad->ad_type;

	if ( at == dmg_ad.applicant->ad_type || at == dmg_ad.administrator->ad_type )
		return 0;
	return at == slap_schema.si_ad_cn->ad_type || at == dmg_ad.mail->ad_type
		|| at == slap_schema.si_ad_description->ad_type
		|| at == dmg_ad.department->ad_type || at == dmg_ad.include_sub->ad_type
		|| at == dmg_ad.condition->ad_type || at == dmg_ad.audit_required->ad_type
		|| at == dmg_ad.auditor->ad_type || at == dmg_ad.send_policy->ad_type
		|| at == dmg_ad.whitelist->ad_type || at == dmg_ad.show_in_contacts->ad_type;
}

/* Modifications a write makes to a group (a modify's, or the RDN changes of a rename):
 * checked for the requester's role, applied to a copy of the group and validated. */
static int
dmg_check_group_write( Operation *op, slap_overinst *on, Entry *stored, Modifications *mods,
	dmg_role role, dmg_verdict *v )
{
	dmg_info *di = on->on_bi.bi_private;
	Modifications *ml;
	Entry *e;
	int rc;

	for ( ml = mods; ml; ml = ml->sml_next ) {
		if ( ( ml->sml_flags & SLAP_MOD_INTERNAL ) )
			continue;	/* operational attributes the frontend adds */
		if ( ml->sml_desc->ad_type == dmg_ad.applicant->ad_type && !dmg_may_repair_applicant( op ) )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"dmgApplicant: the creator of \"%s\" cannot be changed", op->o_req_dn.bv_val );
		if ( role == DMG_ROLE_ADMINISTRATOR && !dmg_administrator_may_write( ml->sml_desc ) )
			return dmg_refuse( v, LDAP_INSUFFICIENT_ACCESS,
				"%s: administrators of \"%s\" may not change it",
				ml->sml_desc->ad_cname.bv_val, op->o_req_dn.bv_val );
	}
	e = entry_dup( stored );
	rc = dmg_apply_mods( op, e, mods, v );
	if ( rc == LDAP_SUCCESS )
		rc = dmg_validate_group( op, di, e, v );
	entry_free( e );
	return rc;
}

static int
dmg_modify_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *stored )
{
	dmg_role role = dmg_role_on( op, on, stored );
	dmg_verdict v = { LDAP_SUCCESS, "" };

	if ( role == DMG_ROLE_NONE )
		return dmg_refuse_role( op, rs, on, stored, "modifying group" );
	if ( dmg_check_group_write( op, on, stored, op->orm_modlist, role, &v ) )
		return dmg_send_refusal( op, rs, &v );
	if ( role != DMG_ROLE_ROOT )
		dmg_grant_write( op );
	return SLAP_CB_CONTINUE;
}

static int
dmg_modify_other( Operation *op, SlapReply *rs )
{
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Modifications *ml;

	for ( ml = op->orm_modlist; ml; ml = ml->sml_next ) {
		if ( ml->sml_desc->ad_type != dmg_ad.mail->ad_type || ml->sml_values == NULL )
			continue;
		if ( ml->sml_op == LDAP_MOD_DELETE || ml->sml_op == SLAP_MOD_SOFTDEL )
			continue;
		if ( dmg_check_mail_values_free( op, ml->sml_values, ml->sml_numvals, &v ) )
			return dmg_send_refusal( op, rs, &v );
	}
	return SLAP_CB_CONTINUE;
}

static int
dmg_modify_checked( Operation *op, SlapReply *rs, slap_overinst *on )
{
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Entry *stored;
	int rc;

	if ( dmg_check_no_computed( op->orm_modlist, NULL, &v ) )
		return dmg_send_refusal( op, rs, &v );
	stored = dmg_entry_get( op, on, &op->o_req_ndn );
	if ( stored == NULL )
		return SLAP_CB_CONTINUE;	/* the backend says noSuchObject */
	if ( dmg_entry_is_group( stored ) )
		rc = dmg_modify_group( op, rs, on, stored );
	else
		rc = dmg_modify_other( op, rs );
	dmg_entry_release( op, on, stored );
	return rc;
}

static int
dmg_modrdn_moves( Operation *op )
{
	struct berval parent;

	if ( op->orr_nnewSup == NULL )
		return 0;
	dnParent( &op->o_req_ndn, &parent );
	return !dn_match( op->orr_nnewSup, &parent );
}

static int
dmg_modrdn_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *group )
{
	dmg_role role = dmg_role_on( op, on, group );
	dmg_verdict v = { LDAP_SUCCESS, "" };

	if ( role == DMG_ROLE_NONE )
		return dmg_refuse_role( op, rs, on, group, "renaming group" );
	if ( role == DMG_ROLE_ADMINISTRATOR && dmg_modrdn_moves( op ) ) {
		/* the grant would let them put it anywhere; where groups live is the postmasters' */
		dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS, "administrators may rename group \"%s\" "
			"but not move it", op->o_req_dn.bv_val );
		return dmg_send_refusal( op, rs, &v );
	}
	/* the new RDN's values are added to the group (and the old ones removed): the frontend
	 * has made them modifications, checked like a modify's */
	if ( dmg_check_group_write( op, on, group, op->orr_modlist, role, &v ) )
		return dmg_send_refusal( op, rs, &v );
	if ( role != DMG_ROLE_ROOT )
		dmg_grant_write( op );
	return SLAP_CB_CONTINUE;
}

static int
dmg_modrdn_checked( Operation *op, SlapReply *rs, slap_overinst *on )
{
	Entry *target;
	int rc;

	if ( ( target = dmg_entry_get( op, on, &op->o_req_ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	if ( dmg_entry_is_group( target ) )
		rc = dmg_modrdn_group( op, rs, on, target );
	else
		rc = dmg_references_follow_rename( op, on );
	dmg_entry_release( op, on, target );
	return rc;
}

static int
dmg_delete_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *group )
{
	dmg_role role = dmg_role_on( op, on, group );

	if ( role != DMG_ROLE_ROOT && role != DMG_ROLE_POSTMASTER )
		return dmg_refuse_role( op, rs, on, group, "deleting group" );
	if ( role != DMG_ROLE_ROOT )
		dmg_grant_write( op );
	return SLAP_CB_CONTINUE;
}

static int
dmg_delete_checked( Operation *op, SlapReply *rs, slap_overinst *on )
{
	Entry *target;
	int rc;

	if ( ( target = dmg_entry_get( op, on, &op->o_req_ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	if ( dmg_entry_is_group( target ) )
		rc = dmg_delete_group( op, rs, on, target );
	else
		rc = dmg_references_delete( op, rs, on );
	dmg_entry_release( op, on, target );
	return rc;
}

/* Every write hook decides the requester's roles before it reads the database (access.c) */
static int
dmg_guarded( Operation *op, SlapReply *rs,
	int ( *check )( Operation *op, SlapReply *rs, slap_overinst *on ) )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	dmg_who who;
	int rc;

	if ( dmg_guard_skips( op ) )
		return SLAP_CB_CONTINUE;
	dmg_who_begin( op, on, &who );
	rc = check( op, rs, on );
	dmg_who_end( op, &who );
	return rc;
}

int
dmg_add( Operation *op, SlapReply *rs )
{
	return dmg_guarded( op, rs, dmg_add_checked );
}

int
dmg_modify( Operation *op, SlapReply *rs )
{
	return dmg_guarded( op, rs, dmg_modify_checked );
}

int
dmg_modrdn( Operation *op, SlapReply *rs )
{
	return dmg_guarded( op, rs, dmg_modrdn_checked );
}

int
dmg_delete( Operation *op, SlapReply *rs )
{
	return dmg_guarded( op, rs, dmg_delete_checked );
}
