/* guard.c -- the write guard: what may be written, by whom (man page ACCESS CONTROL and SCHEMA)
 *
 * Every add and modify of a dynamicMailGroup is validated on the entry as it would be after
 * the write; a refused write returns the documented result code with a diagnostic naming the
 * attribute and the value, and the backend is never called, so nothing changes.
 *
 * Writes applied by replication (syncrepl consumers, shadow updates) are taken as they come:
 * the provider validated and stamped them.
 *
 * What the guard's answers may reveal: a write the backend would refuse for the requester's
 * rights gets the backend's own answer (ops.c, dmg_backend_refuses), whatever the overlay
 * knows about its values; a diagnostic names another entry only when the requester may read
 * it (and see it, for a hidden group); a value naming an entry the requester may not see is
 * answered as one naming no entry.
 *
 * The rights the guard grants (postmasters, administrators) cover a group's own attributes
 * and nothing else (dmg_grant_covers): never another object class, a password or an
 * operational attribute, so that the grant cannot make anyone somebody else.
 *
 * A write whose checks read other entries (an address is free, a department or role exists, no
 * group names the entry deleted or renamed) holds the database's write-guard lock from its
 * checks until the backend has written it (dmg_guarded); so does every modify of a group,
 * whose UUID companions (references.c) are computed from the group as the check reads it.
 */
#include <stdarg.h>

#include "dmg.h"
#include "address.h"
#include "policy.h"

#define DMG_TEXT_MAX 512

/* What a check returns when it finds, unserialised, a write that needs the lock after all:
 * a modify of a group (decided from the request, dmg_write_needs_lock cannot tell) writes the
 * group's UUID companions, computed from the group as read; read before another write of
 * the group commits, that would put back the companions as they were before it. */
#define DMG_LOCK_NEEDED	(-1)

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

/* The UUID companions of the group as the write leaves it, put on the write (references.c) */
static int
dmg_pair_references( Operation *op, slap_overinst *on, Entry *before, Entry *after,
	Modifications **mods, dmg_verdict *v )
{
	v->rc = dmg_refs_pair_write( op, on, before, after, mods, v->text, sizeof( v->text ) );
	return v->rc;
}

static int
dmg_send_refusal( Operation *op, SlapReply *rs, dmg_verdict *v )
{
	Debug( LDAP_DEBUG_TRACE, DMG_LOG_PREFIX "%s write to \"%s\" refused: %s\n",
		op->o_log_prefix, op->o_req_dn.bv_val, v->text );
	send_ldap_error( op, rs, v->rc, v->text );
	return rs->sr_err;
}

/* ---- what the requester may learn ------------------------------------------------------------ */

int
dmg_entry_disclosed( Operation *op, slap_overinst *on, Entry *e )
{
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	return !dmg_entry_is_group( e ) || dmg_group_visible( op, on, e );
}

/* The entry ndn when it exists and the requester may learn of it, else NULL: an entry they
 * may not see gets the same answer as no entry at all.  Give it back with dmg_entry_release. */
static Entry *
dmg_entry_get_disclosed( Operation *op, slap_overinst *on, struct berval *ndn )
{
	Entry *e = dmg_entry_get( op, on, ndn );

	if ( e && !dmg_entry_disclosed( op, on, e ) ) {
		dmg_entry_release( op, on, e );
		e = NULL;
	}
	return e;
}

/* How a diagnostic names the entry ndn for op's requester; 1 when by its DN */
static int
dmg_name_for_requester( Operation *op, slap_overinst *on, struct berval *ndn, char *buf,
	size_t size )
{
	Entry *e = dmg_entry_get_disclosed( op, on, ndn );

	if ( e == NULL ) {
		snprintf( buf, size, "another entry" );
		return 0;
	}
	snprintf( buf, size, "\"%s\"", e->e_name.bv_val );
	dmg_entry_release( op, on, e );
	return 1;
}

/* The entry a DN value of attribute ad names, or NULL: a value the write gives must name an
 * entry the requester may see (one they may not gets the answer for none); a value the group
 * had before the write (before: NULL on add) needs only to exist, so that a write is not
 * refused for what others put there; it is found by its UUID when the group has one for it
 * (the DN may predate a rename no rewrite has followed yet). */
static int
dmg_named_entry_get( Operation *op, slap_overinst *on, Entry *before, AttributeDescription *ad,
	struct berval *ndn, Entry **x )
{
	if ( before && dmg_entry_names( before, ad, ndn ) )
		return dmg_ref_entry_get( op, on, before, ad, ndn, x );
	*x = dmg_entry_get_disclosed( op, on, ndn );
	return LDAP_SUCCESS;
}

/* ---- lookups ------------------------------------------------------------------------------------ */

/* Records the first match; it reads nothing (the requester's view is decided after the
 * search, ops.c) */
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
	ber_dupbv_x( &ctx->ndn, &rs->sr_entry->e_nname, op->o_tmpmemctx );
	return 0;
}

/* First entry other than skip matching f in the whole database, with the rootdn's rights */
int
dmg_find_other( Operation *op, Filter *f, struct berval *skip, int groups_only, dmg_first_dn *out )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Operation root;
	slap_callback cb = { 0 };
	int rc;

	memset( out, 0, sizeof( *out ) );
	out->skip = skip;
	out->groups_only = groups_only;
	dmg_op_as_root( op, &root );
	cb.sc_response = dmg_first_dn_cb;
	cb.sc_private = out;
	rc = dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, f, &cb );
	if ( rc == LDAP_NO_SUCH_OBJECT )
		rc = LDAP_SUCCESS;	/* no suffix entry: nothing below it either */
	if ( out->found ) {
		out->disclosed = dmg_name_for_requester( op, on, &out->ndn, out->dn, sizeof( out->dn ) );
		op->o_tmpfree( out->ndn.bv_val, op->o_tmpmemctx );
		BER_BVZERO( &out->ndn );
	}
	return rc;
}

/* Is there another entry (any entry if groups_only is 0, else another group) with this mail
 * value?  The search's result code; *taken only on LDAP_SUCCESS. */
static int
dmg_mail_taken( Operation *op, struct berval *mail, struct berval *self, int groups_only,
	dmg_first_dn *other )
{
	Filter eq = { 0 };
	AttributeAssertion ava_mail = ATTRIBUTEASSERTION_INIT;
	MatchingRule *mr = dmg_ad.mail->ad_type->sat_equality;
	struct berval nmail = BER_BVNULL;
	const char *text = NULL;
	int rc;

	memset( other, 0, sizeof( *other ) );
	if ( mr == NULL || asserted_value_validate_normalize( dmg_ad.mail, mr, SLAP_MR_EQUALITY,
			mail, &nmail, &text, op->o_tmpmemctx ) != LDAP_SUCCESS )
		return LDAP_INVALID_SYNTAX;	/* the frontend validated it: cannot be checked */
	eq.f_choice = LDAP_FILTER_EQUALITY;
	eq.f_ava = &ava_mail;
	ava_mail.aa_desc = dmg_ad.mail;
	ava_mail.aa_value = nmail;
	rc = dmg_find_other( op, &eq, self, groups_only, other );
	op->o_tmpfree( nmail.bv_val, op->o_tmpmemctx );
	return rc;
}

/* A check that could not be made refuses the write (fail closed) */
static int
dmg_refuse_unchecked( dmg_verdict *v, int rc, const char *attr, struct berval *val,
	const char *what )
{
	return dmg_refuse( v, LDAP_OTHER, "%s: \"%s\": could not check %s (%s, %d); nothing was "
		"changed", attr, val->bv_val, what, ldap_err2string( rc ), rc );
}

/* The entry value val of attribute ad names (dmg_named_entry_get), or NULL with the refusal in
 * v: it names none, or it could not be looked up */
static Entry *
dmg_named_entry_or_refuse( Operation *op, slap_overinst *on, Entry *before,
	AttributeDescription *ad, struct berval *val, struct berval *nval, dmg_verdict *v )
{
	Entry *x = NULL;
	int rc = dmg_named_entry_get( op, on, before, ad, nval, &x );

	if ( rc != LDAP_SUCCESS )
		dmg_refuse_unchecked( v, rc, ad->ad_cname.bv_val, val, "the entry it names" );
	else if ( x == NULL )
		dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION, "%s: \"%s\" does not exist",
			ad->ad_cname.bv_val, val->bv_val );
	return x;
}

/* Refuses the write when another entry (another group with groups_only) has address mail */
static int
dmg_check_mail_free( Operation *op, struct berval *mail, struct berval *self, int groups_only,
	dmg_verdict *v )
{
	dmg_first_dn other;
	int rc = dmg_mail_taken( op, mail, self, groups_only, &other );

	if ( rc != LDAP_SUCCESS )
		return dmg_refuse_unchecked( v, rc, "mail", mail, "whether the address is free" );
	if ( other.found )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION, "mail: \"%s\" is already used by %s",
			mail->bv_val, other.dn );
	return LDAP_SUCCESS;
}

/* ---- validation of a group entry ------------------------------------------------------------------- */

static int
dmg_check_mail( Operation *op, Entry *e, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, dmg_ad.mail );
	const char *why = NULL;

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
	return dmg_check_mail_free( op, &a->a_vals[0], &e->e_nname, 0, v );
}

static int
dmg_check_departments( Operation *op, dmg_info *di, Entry *e, Entry *before, dmg_verdict *v )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Attribute *a = attr_find( e->e_attrs, dmg_ad.department );
	Operation root;
	unsigned i;

	if ( a == NULL || a->a_numvals == 0 ) {
		Attribute *inc = attr_find( e->e_attrs, dmg_ad.include_member );

		if ( inc && inc->a_numvals )
			return LDAP_SUCCESS;
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgDepartment: a dynamicMailGroup needs at least one dmgDepartment or "
			"dmgIncludeMember" );
	}
	if ( a->a_numvals > (unsigned)di->max_departments )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgDepartment: %u values, more than the maximum of %d "
			"(dynmailgroup-max-departments)", a->a_numvals, di->max_departments );
	dmg_op_as_root( op, &root );
	for ( i = 0; i < a->a_numvals; i++ ) {
		Entry *d = dmg_named_entry_or_refuse( op, on, before, dmg_ad.department,
			&a->a_vals[i], &a->a_nvals[i], v );
		int is_dept;

		if ( d == NULL )
			return v->rc;
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
	AttributeDescription *ad;
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
	}
	ad = dmg_filter_ad( f );
	if ( ad && ( dmg_ad_is_computed( ad ) || ad == dmg_ad.member ) )
		return "names a computed attribute";
	return NULL;
}

/* ---- conditions: screened before slapd parses them ---------------------------------------------- */

/* libldap's filter parser (ldap_pvt_put_filter, behind str2filter_x) reads the octet before
 * an item's '=' when the attribute description in front of it is empty, as in "(=x)": such
 * input never reaches it.  The screen follows that parser's own reading (an item runs to its
 * balancing ')', a backslash escapes the next octet) and refuses only what cannot be a filter;
 * the parser judges the rest. */
#define DMG_CONDITION_MAX_DEPTH 64

typedef struct dmg_screen {
	const char *p, *end;
	const char *why;
} dmg_screen;

static void
dmg_screen_spaces( dmg_screen *sc )
{
	while ( sc->p < sc->end && ( *sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' ) )
		sc->p++;
}

/* An item "attr=value", "attr>=value", "attr:rule:=value" ... in [s, e) */
static const char *
dmg_screen_item( const char *s, const char *e )
{
	const char *eq = memchr( s, '=', e - s );
	size_t before;

	if ( eq == NULL )
		return "an item without '='";
	before = eq - s;
	if ( before > 0 && strchr( "<>~:", eq[-1] ) )
		before--;
	if ( before == 0 )
		return "an empty attribute description";
	return NULL;
}

static int dmg_screen_filter( dmg_screen *sc, int depth );

/* After "(": "&"/"|" and a list, "!" and one filter, or an item up to the balancing ')' */
static int
dmg_screen_inside( dmg_screen *sc, int depth )
{
	const char *item;
	int balance = 1, escape = 0;

	dmg_screen_spaces( sc );
	if ( sc->p < sc->end && ( *sc->p == '&' || *sc->p == '|' || *sc->p == '!' ) ) {
		int n = 0, not = *sc->p == '!';

		for ( sc->p++, dmg_screen_spaces( sc ); sc->p < sc->end && *sc->p == '(';
				dmg_screen_spaces( sc ), n++ ) {
			if ( dmg_screen_filter( sc, depth + 1 ) )
				return -1;
		}
		if ( not && n != 1 ) {
			sc->why = "a '!' without exactly one filter";
			return -1;
		}
	} else {
		for ( item = sc->p; sc->p < sc->end; sc->p++ ) {
			if ( !escape && *sc->p == '(' )
				balance++;
			else if ( !escape && *sc->p == ')' && --balance == 0 )
				break;
			escape = !escape && *sc->p == '\\';
		}
		if ( sc->p < sc->end && ( sc->why = dmg_screen_item( item, sc->p ) ) != NULL )
			return -1;
	}
	if ( sc->p >= sc->end || *sc->p != ')' ) {
		sc->why = "unbalanced parentheses";
		return -1;
	}
	sc->p++;
	return 0;
}

/* "(" inside ")" */
static int
dmg_screen_filter( dmg_screen *sc, int depth )
{
	if ( depth > DMG_CONDITION_MAX_DEPTH ) {
		sc->why = "nested too deeply";
		return -1;
	}
	sc->p++;	/* the caller saw '(' */
	return dmg_screen_inside( sc, depth );
}

/* Why the condition text s cannot be a filter, or NULL */
static const char *
dmg_condition_syntax_flaw( const char *s, size_t len )
{
	dmg_screen sc = { s, s + len, NULL };

	if ( memchr( s, '\0', len ) )
		return "a NUL octet";
	dmg_screen_spaces( &sc );
	if ( sc.p == sc.end )
		return "no filter";
	if ( *sc.p != '(' )	/* the parser takes a lone item without parentheses */
		return dmg_screen_item( sc.p, sc.end );
	if ( dmg_screen_filter( &sc, 0 ) )
		return sc.why;
	dmg_screen_spaces( &sc );
	return sc.p == sc.end ? NULL : "text after the filter";
}

/* The bounds of dynmailgroup-max-conditions and -max-condition-length */
static int
dmg_check_condition_bounds( dmg_info *di, Attribute *a, dmg_verdict *v )
{
	unsigned i;

	if ( a->a_numvals > (unsigned)di->max_conditions )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgCondition: %u values, more than the maximum of %d "
			"(dynmailgroup-max-conditions)", a->a_numvals, di->max_conditions );
	for ( i = 0; i < a->a_numvals; i++ ) {
		if ( a->a_vals[i].bv_len > (ber_len_t)di->max_condition_length )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"dmgCondition: \"%.40s...\" has %lu octets, more than the maximum of %d "
				"(dynmailgroup-max-condition-length)", a->a_vals[i].bv_val,
				(unsigned long)a->a_vals[i].bv_len, di->max_condition_length );
	}
	return LDAP_SUCCESS;
}

static int
dmg_check_conditions( Operation *op, dmg_info *di, Entry *e, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, dmg_ad.condition );
	unsigned i;

	if ( a == NULL )
		return LDAP_SUCCESS;
	if ( dmg_check_condition_bounds( di, a, v ) )
		return v->rc;
	for ( i = 0; i < a->a_numvals; i++ ) {
		const char *why = dmg_condition_syntax_flaw( a->a_vals[i].bv_val, a->a_vals[i].bv_len );
		Filter *f;

		if ( why )
			return dmg_refuse( v, LDAP_INVALID_SYNTAX,
				"dmgCondition: \"%s\" is not an RFC 4515 filter (%s)",
				a->a_vals[i].bv_val, why );
		if ( ( f = str2filter_x( op, a->a_vals[i].bv_val ) ) == NULL )
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
dmg_check_identities( Operation *op, Entry *e, Entry *before, AttributeDescription *ad,
	dmg_verdict *v )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Attribute *a = attr_find( e->e_attrs, ad );
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		Entry *x = dmg_named_entry_or_refuse( op, on, before, ad, &a->a_vals[i],
			&a->a_nvals[i], v );

		if ( x == NULL )
			return v->rc;
		dmg_entry_release( op, on, x );
	}
	return LDAP_SUCCESS;
}

/* ---- overrides: no cycle of groups ------------------------------------------------------------ */

/* The entries a group stands for through: a dynamic group's overrides, a static group's
 * members */
static int
dmg_names_members( Entry *x, AttributeDescription *ad )
{
	if ( dmg_entry_is_group( x ) )
		return ad == dmg_ad.include_member || ad == dmg_ad.exclude_member;
	if ( ad == dmg_ad.member )
		return is_entry_objectclass( x, dmg_ad.oc_group_of_names, 0 );
	if ( ad == dmg_ad.unique_member )
		return is_entry_objectclass( x, dmg_ad.oc_group_of_unique_names, 0 );
	return 0;
}

typedef struct dmg_cycle {
	struct berval *target;	/* the group being written */
	BerVarray seen;		/* groups searched already (op->o_tmpmemctx) */
	char path[DMG_TEXT_MAX];	/* on finding a cycle: the groups from target to target */
} dmg_cycle;

/* Puts ' -> "dn"' in front of the path found so far; a group the requester may not learn of
 * is "another group" */
static void
dmg_cycle_prepend( Operation *op, slap_overinst *on, dmg_cycle *cy, Entry *x )
{
	char step[DMG_TEXT_MAX];
	size_t len, have;

	if ( dmg_entry_disclosed( op, on, x ) )
		len = snprintf( step, sizeof( step ), " -> \"%s\"", x->e_name.bv_val );
	else
		len = snprintf( step, sizeof( step ), " -> another group" );

	if ( len >= sizeof( cy->path ) )
		return;
	have = strlen( cy->path );
	if ( have + len >= sizeof( cy->path ) )
		have = sizeof( cy->path ) - len - 1;
	memmove( cy->path + len, cy->path, have );
	memcpy( cy->path, step, len );
	cy->path[len + have] = '\0';
}

/* Does the entry ndn stand, at any depth, for the group being written?  Read as the rootdn
 * reads it (a cycle is one whoever reads), overrides by their UUIDs.  On finding one, the groups on the way are in
 * cy->path. */
static int
dmg_reaches( Operation *op, slap_overinst *on, struct berval *ndn, dmg_cycle *cy )
{
	static AttributeDescription **const ads[] = { &dmg_ad.include_member, &dmg_ad.exclude_member,
		&dmg_ad.member, &dmg_ad.unique_member, NULL };
	struct berval copy;
	Entry *x;
	int i, found = 0;
	unsigned j;

	if ( dn_match( ndn, cy->target ) )
		return 1;
	/* each group once: a cycle not through the target is not this write's, and is
	 * harmless at read time */
	if ( dmg_bvarray_has_dn( cy->seen, ndn ) )
		return 0;
	ber_dupbv_x( &copy, ndn, op->o_tmpmemctx );
	ber_bvarray_add_x( &cy->seen, &copy, op->o_tmpmemctx );
	if ( ( x = dmg_entry_get( op, on, ndn ) ) == NULL )
		return 0;
	for ( i = 0; ads[i] && !found; i++ ) {
		Attribute *a = dmg_names_members( x, *ads[i] ) ? attr_find( x->e_attrs, *ads[i] ) : NULL;
		dmg_refs r;

		/* overrides as expansion follows them: the entries their UUIDs name now (a stored
		 * DN may predate a rename, and hide the cycle) */
		if ( a && dmg_ad_is_reference( *ads[i] )
			&& dmg_refs_current( op, on, x, *ads[i], &r ) == LDAP_SUCCESS ) {
			for ( j = 0; j < r.a.a_numvals && !found; j++ )
				found = dmg_reaches( op, on, &r.a.a_nvals[j], cy );
			dmg_refs_free( op, &r );
			continue;
		}
		for ( j = 0; a && j < a->a_numvals && !found; j++ )
			found = dmg_reaches( op, on, &a->a_nvals[j], cy );
	}
	if ( found )
		dmg_cycle_prepend( op, on, cy, x );
	dmg_entry_release( op, on, x );
	return found;
}

/* dmgIncludeMember and dmgExcludeMember: bounded, existing, not the group itself, and no
 * group named stands (through the groups it names) for this one */
static int
dmg_check_overrides( Operation *op, dmg_info *di, Entry *e, Entry *before,
	AttributeDescription *ad, dmg_verdict *v )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Attribute *a = attr_find( e->e_attrs, ad );
	unsigned i;

	if ( a == NULL )
		return LDAP_SUCCESS;
	if ( a->a_numvals > (unsigned)di->max_overrides )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"%s: %u values, more than the maximum of %d (dynmailgroup-max-overrides)",
			ad->ad_cname.bv_val, a->a_numvals, di->max_overrides );
	for ( i = 0; i < a->a_numvals; i++ ) {
		dmg_cycle cy;
		Entry *x;
		int cycle;

		if ( dn_match( &a->a_nvals[i], &e->e_nname ) )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"%s: \"%s\" is the group itself", ad->ad_cname.bv_val, a->a_vals[i].bv_val );
		if ( ( x = dmg_named_entry_or_refuse( op, on, before, ad, &a->a_vals[i],
				&a->a_nvals[i], v ) ) == NULL )
			return v->rc;
		memset( &cy, 0, sizeof( cy ) );
		cy.target = &e->e_nname;
		/* from the entry named now (the value may predate a rename) */
		cycle = dmg_reaches( op, on, &x->e_nname, &cy );
		dmg_entry_release( op, on, x );
		ber_bvarray_free_x( cy.seen, op->o_tmpmemctx );
		if ( cycle )
			return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
				"%s: \"%s\" would make a cycle of groups: \"%s\"%s -> \"%s\"",
				ad->ad_cname.bv_val, a->a_vals[i].bv_val, e->e_name.bv_val, cy.path,
				e->e_name.bv_val );
	}
	return LDAP_SUCCESS;
}

static int
dmg_check_audit( Operation *op, Entry *e, Entry *before, dmg_verdict *v )
{
	Attribute *auditors = attr_find( e->e_attrs, dmg_ad.auditor );

	if ( dmg_entry_bool( e, dmg_ad.audit_required, 0 )
		&& ( auditors == NULL || auditors->a_numvals == 0 ) )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
			"dmgAuditRequired: \"TRUE\" needs at least one dmgAuditor" );
	return dmg_check_identities( op, e, before, dmg_ad.auditor, v );
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
			|| at == dmg_ad.whitelist->ad_type || at == dmg_ad.show_in_contacts->ad_type
			|| at == dmg_ad.include_member->ad_type || at == dmg_ad.exclude_member->ad_type )
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
dmg_validate_group( Operation *op, dmg_info *di, Entry *e, Entry *before, dmg_verdict *v )
{
	v->rc = LDAP_SUCCESS;
	if ( dmg_check_no_options( e, v )
		|| dmg_check_no_stored_member( e, v )
		|| dmg_check_mail( op, e, v )
		|| dmg_check_departments( op, di, e, before, v )
		|| dmg_check_overrides( op, di, e, before, dmg_ad.include_member, v )
		|| dmg_check_overrides( op, di, e, before, dmg_ad.exclude_member, v )
		|| dmg_check_conditions( op, di, e, v )
		|| dmg_check_audit( op, e, before, v )
		|| dmg_check_identities( op, e, before, dmg_ad.administrator, v )
		|| dmg_check_send_policy( di, e, v )
		|| ( v->rc = dmg_check_self_enrolment( op, di, e, before, v->text, sizeof( v->text ) ) ) )
		return v->rc;
	return LDAP_SUCCESS;
}

/* ---- mail addresses of ordinary entries ------------------------------------------------------------ */

/* An ordinary entry may not take the address of a group: the values a write adds */
static int
dmg_check_mods_mail_free( Operation *op, Modifications *ml, dmg_verdict *v )
{
	unsigned i;

	for ( ; ml; ml = ml->sml_next ) {
		if ( ml->sml_desc->ad_type != dmg_ad.mail->ad_type || ml->sml_values == NULL )
			continue;
		if ( ml->sml_op == LDAP_MOD_DELETE || ml->sml_op == SLAP_MOD_SOFTDEL )
			continue;
		for ( i = 0; i < ml->sml_numvals; i++ ) {
			if ( dmg_check_mail_free( op, &ml->sml_values[i], &op->o_req_ndn, 1, v ) )
				return v->rc;
		}
	}
	return LDAP_SUCCESS;
}

/* ---- applicant ---------------------------------------------------------------------------------- */

static int
dmg_may_repair_applicant( Operation *op )
{
	return be_isroot( op ) && get_relax( op );
}

/* A dmgApplicant the creator gives must name the creator */
static int
dmg_check_given_applicant( Operation *op, Attribute *a, dmg_verdict *v )
{
	if ( dmg_may_repair_applicant( op ) || ( a->a_numvals == 1
			&& dn_match( &a->a_nvals[0], &op->o_ndn ) ) )
		return LDAP_SUCCESS;
	return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION,
		"dmgApplicant: \"%s\" is not the creator \"%s\"; the server sets this value",
		a->a_vals[0].bv_val, op->o_dn.bv_val );
}

static int
dmg_stamp_applicant( Operation *op, Entry *e, dmg_verdict *v )
{
	Attribute *a = attr_find( e->e_attrs, dmg_ad.applicant );

	if ( a )
		return dmg_check_given_applicant( op, a, v );
	attr_merge_one( e, dmg_ad.applicant, &op->o_dn, &op->o_ndn );
	return LDAP_SUCCESS;
}

/* The same for an entry that a modify or rename makes a group (after: the entry as it will
 * be): the stamp is one more modification, freed with the operation's */
static int
dmg_stamp_applicant_mod( Operation *op, Entry *after, Modifications **mods, dmg_verdict *v )
{
	Attribute *a = attr_find( after->e_attrs, dmg_ad.applicant );
	Modifications *ml, **tail;

	if ( a )
		return dmg_check_given_applicant( op, a, v );
	ml = ch_calloc( 1, sizeof( Modifications ) );
	ml->sml_op = LDAP_MOD_ADD;
	ml->sml_desc = dmg_ad.applicant;
	ml->sml_type = dmg_ad.applicant->ad_cname;
	ml->sml_numvals = 1;
	ml->sml_values = ch_calloc( 2, sizeof( struct berval ) );
	ml->sml_nvalues = ch_calloc( 2, sizeof( struct berval ) );
	ber_dupbv( &ml->sml_values[0], &op->o_dn );
	ber_dupbv( &ml->sml_nvalues[0], &op->o_ndn );
	for ( tail = mods; *tail; tail = &(*tail)->sml_next )
		;
	*tail = ml;
	attr_merge_one( after, dmg_ad.applicant, &op->o_dn, &op->o_ndn );	/* for its UUID */
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
	if ( group && dmg_group_names_requester( op, on, group, dmg_ad.administrator ) )
		return DMG_ROLE_ADMINISTRATOR;
	return DMG_ROLE_NONE;
}

/* A write to a group the requester may not make: insufficientAccess, or noSuchObject when they
 * may not see the group (hidden, or not readable under the ACLs): its existence is not theirs
 * to learn. */
static int
dmg_refuse_role( Operation *op, SlapReply *rs, slap_overinst *on, Entry *group, const char *what )
{
	dmg_verdict v;

	if ( !dmg_entry_disclosed( op, on, group ) ) {
		send_ldap_error( op, rs, LDAP_NO_SUCH_OBJECT, NULL );
		return rs->sr_err;
	}
	dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS, "%s \"%s\" is reserved to postmasters%s",
		what, op->o_req_dn.bv_val,
		op->o_tag == LDAP_REQ_MODIFY || op->o_tag == LDAP_REQ_MODRDN
			? " and the group's administrators" : "" );
	return dmg_send_refusal( op, rs, &v );
}

/* ---- what the grant covers ------------------------------------------------------------------------ */

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
		|| at == dmg_ad.whitelist->ad_type || at == dmg_ad.show_in_contacts->ad_type
		|| at == dmg_ad.include_member->ad_type || at == dmg_ad.exclude_member->ad_type;
}

/* A group's own attributes (member only to be refused by the validation, which says why) */
static int
dmg_group_attribute( AttributeDescription *ad )
{
	AttributeType *at = ad->ad_type;

	return at == slap_schema.si_ad_objectClass->ad_type || at == dmg_ad.member->ad_type
		|| at == dmg_ad.applicant->ad_type || at == dmg_ad.administrator->ad_type
		|| dmg_administrator_may_write( ad );
}

static int
dmg_group_class( struct berval *name )
{
	ObjectClass *oc = oc_bvfind( name );

	return oc != NULL && ( oc == dmg_ad.oc_group || oc == slap_schema.si_oc_top );
}

static int
dmg_grant_covers_attr( AttributeDescription *ad, BerVarray vals, dmg_verdict *v )
{
	unsigned i;

	if ( is_at_operational( ad->ad_type ) )
		return dmg_refuse( v, LDAP_INSUFFICIENT_ACCESS,
			"%s: operational attributes are the server's; postmasters and administrators "
			"write a group's own attributes only", ad->ad_cname.bv_val );
	if ( !dmg_group_attribute( ad ) )
		return dmg_refuse( v, LDAP_INSUFFICIENT_ACCESS,
			"%s: not an attribute of a dynamicMailGroup; postmasters and administrators "
			"write a group's own attributes only", ad->ad_cname.bv_val );
	if ( ad->ad_type != slap_schema.si_ad_objectClass->ad_type )
		return LDAP_SUCCESS;
	for ( i = 0; vals && !BER_BVISNULL( &vals[i] ); i++ ) {
		if ( !dmg_group_class( &vals[i] ) )
			return dmg_refuse( v, LDAP_INSUFFICIENT_ACCESS,
				"objectClass: \"%s\" is not a class of a dynamicMailGroup; postmasters and "
				"administrators write a group's own attributes only", vals[i].bv_val );
	}
	return LDAP_SUCCESS;
}

/* The write a role is granted runs with the rootdn's rights: it must hold a group's own
 * attributes and nothing else, so that it cannot make an entry anyone could bind as or be
 * (a password, another object class) nor forge what the server records (operational
 * attributes, given with the Relax Rules control).  Checked are the attributes the write
 * gives (all of an added entry: added; the modifications of a modify or rename) and every
 * user attribute of the entry after the write. */
static int
dmg_grant_covers( Entry *after, int added, Modifications *mods, dmg_verdict *v )
{
	Attribute *a;

	for ( ; mods; mods = mods->sml_next ) {
		int removes = mods->sml_op == LDAP_MOD_DELETE || mods->sml_op == SLAP_MOD_SOFTDEL;

		if ( ( mods->sml_flags & SLAP_MOD_INTERNAL ) )
			continue;	/* operational attributes the frontend adds */
		if ( dmg_grant_covers_attr( mods->sml_desc, removes ? NULL : mods->sml_values, v ) )
			return v->rc;
	}
	for ( a = after->e_attrs; a; a = a->a_next ) {
		if ( !added && is_at_operational( a->a_desc->ad_type ) )
			continue;	/* stored by the server */
		if ( dmg_grant_covers_attr( a->a_desc, a->a_vals, v ) )
			return v->rc;
	}
	return LDAP_SUCCESS;
}

/* The controls of a write whose answer the backend computes with the write's rights: under the
 * grant those are the rootdn's (dmg_grant_write), to which slapd's ACLs do not apply, while the
 * grant covers what is written, not what is read.  The Pre-Read and Post-Read entries (RFC
 * 4527) would show attributes of the group the requester may not read, the assertion (RFC
 * 4528) would test them.  Returns the refused control's name, or NULL.  A feature that builds
 * its own Post-Read entry with the requester's rights, and clears the control before the
 * backend sees it, does not ask this. */
static const char *
dmg_grant_refused_control( Operation *op )
{
	if ( op->o_preread )
		return "Pre-Read";
	if ( op->o_postread )
		return "Post-Read";
	if ( get_assert( op ) )
		return "assertion";
	return NULL;
}

/* Grants op the write its role allows (postmasters, administrators), unless it carries a
 * control the grant would answer without ACLs: unwillingToPerform, nothing written. */
static int
dmg_grant( Operation *op, SlapReply *rs )
{
	const char *control = dmg_grant_refused_control( op );
	dmg_verdict v;

	if ( control ) {
		dmg_refuse( &v, LDAP_UNWILLING_TO_PERFORM, "dynmailgroup: the %s control cannot be "
			"used on a write to group \"%s\" that the server grants to postmasters and "
			"administrators (it would not be limited by the access controls)", control,
			op->o_req_dn.bv_val );
		return dmg_send_refusal( op, rs, &v );
	}
	dmg_grant_write( op );
	return SLAP_CB_CONTINUE;
}

/* Where a granted write may put a group: below an entry that exists and that the requester
 * may see (the answer is the same for both, noSuchObject) */
static int
dmg_place_disclosed( Operation *op, slap_overinst *on, struct berval *parent_ndn )
{
	Entry *p = dmg_entry_get_disclosed( op, on, parent_ndn );

	if ( p == NULL )
		return 0;
	dmg_entry_release( op, on, p );
	return 1;
}

static int
dmg_refuse_place( Operation *op, SlapReply *rs, struct berval *parent )
{
	dmg_verdict v;

	dmg_refuse( &v, LDAP_NO_SUCH_OBJECT, "\"%s\" does not exist", parent->bv_val );
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

/* The UUID companions of references are the server's: the rootdn may load them with the
 * Relax Rules control (a migration, a restore); replication writes them unchecked.  So is
 * entryUUID, which groups name entries by: slapd lets anyone with manage access give it with
 * Relax Rules, which would let them take another entry's roles. */
static int
dmg_refuse_reference_uuid( Operation *op, AttributeDescription *ad, dmg_verdict *v )
{
	if ( ad->ad_type == slap_schema.si_ad_entryUUID->ad_type && !be_isroot( op ) )
		return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION, "entryUUID: written by the server "
			"only (groups name entries by it)" );
	if ( !dmg_ad_is_reference_uuid( ad ) || ( be_isroot( op ) && get_relax( op ) ) )
		return LDAP_SUCCESS;
	return dmg_refuse( v, LDAP_CONSTRAINT_VIOLATION, "%s: written by the server only (the "
		"entryUUID of each entry the group names); the rootdn may give it with the Relax "
		"Rules control", ad->ad_cname.bv_val );
}

static int
dmg_check_no_reference_uuid( Operation *op, Modifications *ml, Entry *e, dmg_verdict *v )
{
	Attribute *a;

	for ( ; ml; ml = ml->sml_next ) {
		if ( dmg_refuse_reference_uuid( op, ml->sml_desc, v ) )
			return v->rc;
	}
	for ( a = e ? e->e_attrs : NULL; a; a = a->a_next ) {
		if ( dmg_refuse_reference_uuid( op, a->a_desc, v ) )
			return v->rc;
	}
	return LDAP_SUCCESS;
}

static int
dmg_refuse_creation( Operation *op, SlapReply *rs )
{
	dmg_verdict v;

	dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS,
		"only postmasters may create a dynamicMailGroup (\"%s\")", op->o_req_dn.bv_val );
	return dmg_send_refusal( op, rs, &v );
}

/* Is there an entry at ndn other than self (a rename's own entry) that the requester may not
 * learn of, where the write would make the backend say it exists?  Always for a hidden or
 * unreadable group, for any entry when the write runs with the grant. */
static int
dmg_target_undisclosed( Operation *op, slap_overinst *on, struct berval *ndn,
	struct berval *self, int granted )
{
	Entry *t = dmg_entry_get( op, on, ndn );
	int undisclosed;

	if ( t == NULL )
		return 0;
	undisclosed = !( self && dn_match( &t->e_nname, self ) )
		&& ( granted || dmg_entry_is_group( t ) )
		&& !dmg_entry_disclosed( op, on, t );
	dmg_entry_release( op, on, t );
	return undisclosed;
}

/* The answer where the new DN is an entry the requester may not learn of: the one back-mdb
 * gives where nothing is there (its existence test comes before its ACL checks on an add and
 * after them on a rename), so both answers look alike.  Only a requester whose write would
 * succeed on a free DN -- or who writes under the grant -- gets the overlay's own refusal. */
static int
dmg_refuse_undisclosed_target( Operation *op, SlapReply *rs, slap_overinst *on, Entry *self,
	int granted )
{
	dmg_verdict v;
	const char *text;
	int rc;

	if ( !granted
		&& ( rc = dmg_backend_answer( op, on, self, 1, &text ) ) != LDAP_SUCCESS ) {
		send_ldap_error( op, rs, rc, text );
		return rs->sr_err;
	}
	dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS, "no write access to \"%s\"", op->o_req_dn.bv_val );
	return dmg_send_refusal( op, rs, &v );
}

static int
dmg_add_group( Operation *op, SlapReply *rs, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_role role = dmg_role_on( op, on, NULL );
	dmg_verdict v = { LDAP_SUCCESS, "" };
	struct berval parent;
	int rc;

	if ( role != DMG_ROLE_ROOT && role != DMG_ROLE_POSTMASTER )
		return dmg_refuse_creation( op, rs );
	if ( role != DMG_ROLE_ROOT ) {
		dnParent( &op->ora_e->e_nname, &parent );
		if ( !dmg_place_disclosed( op, on, &parent ) ) {
			dnParent( &op->ora_e->e_name, &parent );
			return dmg_refuse_place( op, rs, &parent );
		}
		if ( dmg_target_undisclosed( op, on, &op->ora_e->e_nname, NULL, 1 ) )
			return dmg_refuse_undisclosed_target( op, rs, on, NULL, 1 );
		if ( dmg_grant_covers( op->ora_e, 1, NULL, &v ) )
			return dmg_send_refusal( op, rs, &v );
	}
	if ( dmg_validate_group( op, di, op->ora_e, NULL, &v ) || dmg_stamp_applicant( op, op->ora_e, &v ) )
		return dmg_send_refusal( op, rs, &v );
	/* the UUIDs of the entries it names, in the same write (references.c) */
	if ( dmg_pair_references( op, on, NULL, op->ora_e, NULL, &v ) )
		return dmg_send_refusal( op, rs, &v );
	/* the preview first: it answers the Post-Read control itself, with the requester's
	 * rights, which the grant would otherwise refuse */
	if ( ( rc = dmg_preview_group( op, rs, on, NULL, op->ora_e ) ) != SLAP_CB_CONTINUE )
		return rc;
	return role == DMG_ROLE_ROOT ? SLAP_CB_CONTINUE : dmg_grant( op, rs );
}

static int
dmg_add_other( Operation *op, SlapReply *rs, slap_overinst *on )
{
	Entry *e = op->ora_e;
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Attribute *mail;
	unsigned i;

	if ( dmg_target_undisclosed( op, on, &e->e_nname, NULL, 0 ) )
		return dmg_refuse_undisclosed_target( op, rs, on, NULL, 0 );
	if ( attrs_find( e->e_attrs, dmg_ad.mail ) == NULL || dmg_backend_refuses( op, on, NULL ) )
		return SLAP_CB_CONTINUE;	/* nothing to check, or the backend's answer */
	/* every mail value, with or without options */
	for ( mail = attrs_find( e->e_attrs, dmg_ad.mail ); mail;
			mail = attrs_find( mail->a_next, dmg_ad.mail ) ) {
		for ( i = 0; i < mail->a_numvals; i++ ) {
			if ( dmg_check_mail_free( op, &mail->a_vals[i], &e->e_nname, 1, &v ) )
				return dmg_send_refusal( op, rs, &v );
		}
	}
	return SLAP_CB_CONTINUE;
}

static int
dmg_add_checked( Operation *op, SlapReply *rs, slap_overinst *on, int serialized )
{
	dmg_verdict v = { LDAP_SUCCESS, "" };

	(void)serialized;	/* a group's add always is (dmg_write_needs_lock) */
	if ( dmg_check_no_computed( NULL, op->ora_e, &v )
		|| dmg_check_no_reference_uuid( op, NULL, op->ora_e, &v ) )
		return dmg_send_refusal( op, rs, &v );
	if ( dmg_entry_is_group( op->ora_e ) )
		return dmg_add_group( op, rs, on );
	return dmg_add_other( op, rs, on );
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

/* Modifications a write makes to a group (a modify's, or the RDN changes of a rename):
 * checked for the requester's role, applied to a copy of the group and validated. */
static int
dmg_check_group_write( Operation *op, slap_overinst *on, Entry *stored, Modifications *mods,
	dmg_role role, dmg_verdict *v, Entry **after )
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
	if ( rc == LDAP_SUCCESS && role != DMG_ROLE_ROOT )
		rc = dmg_grant_covers( e, 0, mods, v );
	/* the rootdn may make a group something else: nothing left to validate */
	if ( rc == LDAP_SUCCESS && dmg_entry_is_group( e ) )
		rc = dmg_validate_group( op, di, e, stored, v );
	/* the group as the write leaves it, for a preview (preview.c) */
	if ( rc == LDAP_SUCCESS && after )
		*after = e;
	else
		entry_free( e );
	return rc;
}

static int
dmg_modify_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *stored )
{
	dmg_role role = dmg_role_on( op, on, stored );
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Entry *after = NULL;
	int rc;

	if ( role == DMG_ROLE_NONE )
		return dmg_refuse_role( op, rs, on, stored, "modifying group" );
	dmg_refs_deletes_as_stored( op, on, stored, op->orm_modlist );
	if ( dmg_check_group_write( op, on, stored, op->orm_modlist, role, &v, &after ) )
		return dmg_send_refusal( op, rs, &v );
	if ( dmg_pair_references( op, on, stored, after, &op->orm_modlist, &v ) ) {
		entry_free( after );
		return dmg_send_refusal( op, rs, &v );
	}
	rc = dmg_preview_group( op, rs, on, stored, after );
	entry_free( after );
	if ( rc != SLAP_CB_CONTINUE )
		return rc;
	return role == DMG_ROLE_ROOT ? SLAP_CB_CONTINUE : dmg_grant( op, rs );
}

/* A modify or rename that makes an entry a dynamicMailGroup creates a group: the creators'
 * role, the whole validation, the applicant stamp.  No grant: slapd's ACLs decide the rest. */
static int
dmg_check_new_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *after,
	Modifications **mods )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_role role = dmg_role_on( op, on, NULL );
	dmg_verdict v = { LDAP_SUCCESS, "" };

	if ( role != DMG_ROLE_ROOT && role != DMG_ROLE_POSTMASTER )
		return dmg_refuse_creation( op, rs );
	if ( dmg_validate_group( op, di, after, NULL, &v ) || dmg_stamp_applicant_mod( op, after, mods, &v )
		|| dmg_pair_references( op, on, NULL, after, mods, &v ) )
		return dmg_send_refusal( op, rs, &v );
	return SLAP_CB_CONTINUE;
}

/* May the modifications give an entry an address: a mail value, or an object class that
 * makes it a group (whose address is then checked)? */
static int
dmg_mods_may_take_mail( Modifications *ml )
{
	for ( ; ml; ml = ml->sml_next ) {
		if ( ml->sml_desc->ad_type == dmg_ad.mail->ad_type
			|| ml->sml_desc->ad_type == slap_schema.si_ad_objectClass->ad_type )
			return 1;
	}
	return 0;
}

/* A modify or rename of an entry that is not a group, which the backend would carry out:
 * it may make the entry a group, and may not give it a group's address. */
static int
dmg_check_other_write( Operation *op, SlapReply *rs, slap_overinst *on, Entry *stored,
	Modifications **mods )
{
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Entry *after = entry_dup( stored );
	int rc = SLAP_CB_CONTINUE;

	if ( dmg_apply_mods( op, after, *mods, &v ) )
		;	/* the backend gives the same answer */
	else if ( dmg_entry_is_group( after ) )
		rc = dmg_check_new_group( op, rs, on, after, mods );
	else if ( dmg_check_mods_mail_free( op, *mods, &v ) )
		rc = dmg_send_refusal( op, rs, &v );
	entry_free( after );
	return rc;
}

static int
dmg_modify_checked( Operation *op, SlapReply *rs, slap_overinst *on, int serialized )
{
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Entry *stored;
	int rc;

	if ( dmg_check_no_computed( op->orm_modlist, NULL, &v )
		|| dmg_check_no_reference_uuid( op, op->orm_modlist, NULL, &v ) )
		return dmg_send_refusal( op, rs, &v );
	stored = dmg_entry_get( op, on, &op->o_req_ndn );
	if ( stored == NULL )
		return SLAP_CB_CONTINUE;	/* the backend says noSuchObject */
	if ( dmg_entry_is_group( stored ) && !serialized )
		rc = DMG_LOCK_NEEDED;	/* nothing done yet: checked again under the lock */
	else if ( dmg_entry_is_group( stored ) )
		rc = dmg_modify_group( op, rs, on, stored );
	else if ( !dmg_mods_may_take_mail( op->orm_modlist )
			|| dmg_backend_refuses( op, on, stored ) )
		rc = SLAP_CB_CONTINUE;	/* nothing to check, or the backend's answer */
	else
		rc = dmg_check_other_write( op, rs, on, stored, &op->orm_modlist );
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

/* Is the entry's new DN an entry the requester may not learn of? */
static int
dmg_rename_target_undisclosed( Operation *op, slap_overinst *on, int granted )
{
	struct berval dn, ndn;
	int undisclosed;

	dmg_modrdn_new_dn( op, &dn, &ndn );
	undisclosed = dmg_target_undisclosed( op, on, &ndn, &op->o_req_ndn, granted );
	op->o_tmpfree( dn.bv_val, op->o_tmpmemctx );
	op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
	return undisclosed;
}

static int
dmg_modrdn_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *group )
{
	dmg_role role = dmg_role_on( op, on, group );
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Entry *after = NULL;
	int rc;

	if ( role == DMG_ROLE_NONE )
		return dmg_refuse_role( op, rs, on, group, "renaming group" );
	if ( role == DMG_ROLE_ADMINISTRATOR && dmg_modrdn_moves( op ) ) {
		/* the grant would let them put it anywhere; where groups live is the postmasters' */
		dmg_refuse( &v, LDAP_INSUFFICIENT_ACCESS, "administrators may rename group \"%s\" "
			"but not move it", op->o_req_dn.bv_val );
		return dmg_send_refusal( op, rs, &v );
	}
	if ( role != DMG_ROLE_ROOT && dmg_modrdn_moves( op )
		&& !dmg_place_disclosed( op, on, op->orr_nnewSup ) )
		return dmg_refuse_place( op, rs, op->orr_newSup );
	if ( dmg_rename_target_undisclosed( op, on, role != DMG_ROLE_ROOT ) )
		return dmg_refuse_undisclosed_target( op, rs, on, group, 1 );
	/* the new RDN's values are added to the group (and the old ones removed): the frontend
	 * has made them modifications, checked like a modify's */
	if ( dmg_check_group_write( op, on, group, op->orr_modlist, role, &v, &after ) )
		return dmg_send_refusal( op, rs, &v );
	/* a new RDN may name an entry (dmgDepartment=...): its UUID goes with it */
	rc = dmg_pair_references( op, on, group, after, &op->orr_modlist, &v );
	entry_free( after );
	if ( rc != LDAP_SUCCESS )
		return dmg_send_refusal( op, rs, &v );
	if ( role != DMG_ROLE_ROOT && ( rc = dmg_grant( op, rs ) ) != SLAP_CB_CONTINUE )
		return rc;
	/* other groups may name it in their overrides */
	return dmg_references_follow_rename( op, rs, on );
}

static int
dmg_modrdn_other( Operation *op, SlapReply *rs, slap_overinst *on, Entry *target )
{
	int rc;

	/* when the backend refuses, its answer, not ours: nothing is renamed */
	if ( dmg_backend_refuses( op, on, target ) )
		return SLAP_CB_CONTINUE;
	if ( dmg_rename_target_undisclosed( op, on, 0 ) )
		return dmg_refuse_undisclosed_target( op, rs, on, target, 0 );
	/* the new RDN's values are added to the entry: a mail value, an object class */
	if ( dmg_mods_may_take_mail( op->orr_modlist )
		&& ( rc = dmg_check_other_write( op, rs, on, target, &op->orr_modlist ) )
			!= SLAP_CB_CONTINUE )
		return rc;
	/* followed once the backend has renamed it */
	return dmg_references_follow_rename( op, rs, on );
}

static int
dmg_modrdn_checked( Operation *op, SlapReply *rs, slap_overinst *on, int serialized )
{
	dmg_verdict v = { LDAP_SUCCESS, "" };
	Entry *target;
	int rc;

	(void)serialized;	/* always (dmg_write_needs_lock) */
	/* a new RDN is added to the entry: entryUUID=..., dmgAdministratorUUID=... */
	if ( dmg_check_no_reference_uuid( op, op->orr_modlist, NULL, &v ) )
		return dmg_send_refusal( op, rs, &v );
	if ( ( target = dmg_entry_get( op, on, &op->o_req_ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	if ( dmg_entry_is_group( target ) )
		rc = dmg_modrdn_group( op, rs, on, target );
	else
		rc = dmg_modrdn_other( op, rs, on, target );
	dmg_entry_release( op, on, target );
	return rc;
}

static int
dmg_delete_group( Operation *op, SlapReply *rs, slap_overinst *on, Entry *group )
{
	dmg_role role = dmg_role_on( op, on, group );
	int rc;

	if ( role != DMG_ROLE_ROOT && role != DMG_ROLE_POSTMASTER )
		return dmg_refuse_role( op, rs, on, group, "deleting group" );
	/* other groups may name it in their overrides; a refusal names groups as the
	 * requester may learn of them, before the grant */
	if ( ( rc = dmg_references_delete( op, rs, on ) ) != SLAP_CB_CONTINUE )
		return rc;
	return role == DMG_ROLE_ROOT ? SLAP_CB_CONTINUE : dmg_grant( op, rs );
}

/* back-mdb refuses the delete of an entry that has children (notAllowedOnNonLeaf), hidden
 * groups counted, once the requester may delete it: an entry whose only children are hidden
 * groups would tell a requester who may not see them that they are there, where an empty one
 * is deleted.  It is refused as back-mdb refuses an entry the requester may not delete.  This
 * comes after what back-mdb answers before it looks at children (rights, checked by the
 * caller; the assertion control; a referral) and after the overlay's own refusals of the
 * delete, so that those answers are the ones an empty entry gets; the callback the references
 * left on op sees the refusal and does nothing. */
static int
dmg_delete_hidden_children( Operation *op, SlapReply *rs, slap_overinst *on, Entry *target )
{
	int shown, rc;

	if ( dmg_sees_every_group( op, on )
		|| ( get_assert( op ) && test_filter( op, target, get_assertion( op ) )
			!= LDAP_COMPARE_TRUE )
		|| ( !get_manageDSAit( op ) && is_entry_referral( target ) ) )
		return SLAP_CB_CONTINUE;
	rc = dmg_has_shown_child( op, on, target, &shown );
	if ( rc != LDAP_SUCCESS ) {
		send_ldap_error( op, rs, LDAP_OTHER, "dynmailgroup: could not look for the "
			"entry's children" );
		return rs->sr_err;
	}
	if ( shown )
		return SLAP_CB_CONTINUE;
	send_ldap_error( op, rs, LDAP_INSUFFICIENT_ACCESS, "no write access to entry" );
	return rs->sr_err;
}

static int
dmg_delete_checked( Operation *op, SlapReply *rs, slap_overinst *on, int serialized )
{
	Entry *target;
	int rc;

	(void)serialized;	/* always (dmg_write_needs_lock) */
	if ( ( target = dmg_entry_get( op, on, &op->o_req_ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	if ( dmg_entry_is_group( target ) )
		rc = dmg_delete_group( op, rs, on, target );
	else if ( dmg_backend_refuses( op, on, target ) )
		rc = SLAP_CB_CONTINUE;	/* its answer, not ours */
	else if ( ( rc = dmg_references_delete( op, rs, on ) ) == SLAP_CB_CONTINUE )
		rc = dmg_delete_hidden_children( op, rs, on, target );
	dmg_entry_release( op, on, target );
	return rc;
}

/* ---- serialising the checks with the writes they protect ---------------------------------------- */

/* Do the modifications touch what another write checks, or what this write's checks of other
 * entries depend on: an address (or an object class that makes the entry a group), a
 * reference to another entry, audit? */
static int
dmg_mods_need_lock( Modifications *ml )
{
	for ( ; ml; ml = ml->sml_next ) {
		if ( dmg_ad_is_reference( ml->sml_desc )
			|| ml->sml_desc->ad_type == dmg_ad.audit_required->ad_type )
			return 1;
	}
	return 0;
}

/* Does the write check other entries that another write may change before it is written?
 * Decided from the request alone: reading the target here would start the backend's
 * transaction on op before dmg_op_in_backend_txn is asked.  Every add of a group (it names a
 * department), every write giving an address, a reference or audit; every delete and rename,
 * whose references (references.c) are checked or followed.  Any other modify of a group
 * writes its UUID companions too: its check asks for the lock when it finds a group
 * (DMG_LOCK_NEEDED). */
static int
dmg_write_needs_lock( Operation *op )
{
	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		return dmg_entry_is_group( op->ora_e )
			|| attrs_find( op->ora_e->e_attrs, dmg_ad.mail ) != NULL;
	case LDAP_REQ_MODIFY:
		return dmg_mods_may_take_mail( op->orm_modlist )
			|| dmg_mods_need_lock( op->orm_modlist );
	case LDAP_REQ_DELETE:
	case LDAP_REQ_MODRDN:
		return 1;
	}
	return 0;
}

/* Every write hook decides the requester's roles before it reads the database (access.c).
 * A write whose checks read other entries (a mail value is free, a department or role exists,
 * no group names the entry deleted) holds the database's write-guard lock from its checks
 * until the backend has written it (its result), so that two writes cannot each pass the
 * check the other would fail: a group add naming a department and that department's delete
 * cannot both succeed.  It is let go after the rewrites that follow a rename or delete
 * (references.c), so that no write sees the references half-followed.  back-mdb serialises
 * its writers anyway.  An operation nested in another's backend transaction (an LDAP
 * transaction's) is not locked: its backend already serialises it, and waiting for the lock
 * there could deadlock against a holder waiting for that transaction. */
static int
dmg_guarded( Operation *op, SlapReply *rs,
	int ( *check )( Operation *op, SlapReply *rs, slap_overinst *on, int serialized ) )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	dmg_info *di = on->on_bi.bi_private;
	slap_callback *below = op->o_callback;
	dmg_who who;
	int in_txn, locked, rc;

	if ( dmg_guard_skips( op ) )
		return SLAP_CB_CONTINUE;
	in_txn = dmg_op_in_backend_txn( op );
	locked = !in_txn && dmg_write_needs_lock( op );
	if ( locked )
		ldap_pvt_thread_mutex_lock( &di->write_lock );
	dmg_who_begin( op, on, &who );
	rc = check( op, rs, on, locked || in_txn );
	if ( rc == DMG_LOCK_NEEDED ) {
		/* read again once the lock is held: the writes before it have committed */
		locked = 1;
		ldap_pvt_thread_mutex_lock( &di->write_lock );
		rc = check( op, rs, on, 1 );
	}
	dmg_who_end( op, &who );
	if ( locked && rc == SLAP_CB_CONTINUE )
		dmg_unlock_at_result( op, &di->write_lock, below );
	else if ( locked )
		ldap_pvt_thread_mutex_unlock( &di->write_lock );	/* refused: nothing written */
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
