/* ops.c -- the operations the overlay makes, and every assumption about slapd internals
 * they rely on
 *
 *  - Internal searches run on a copy of the requesting operation.  back-mdb keeps the read
 *    transaction of an operation in its o_extra list; the copy's list grows its own head, so
 *    a callback of an internal search must read the database only through the Operation it
 *    is handed (or through nothing at all): reading through the original operation starts a
 *    second read transaction on the thread, and back-mdb aborts (mdb_opinfo_get asserts).
 *    Roles are therefore decided before any internal search (access.c, dmg_who_begin).
 *  - An internal search returns the backend's result code, and the overlay's callers fail
 *    closed on anything but success: a partial answer is never taken for a whole one.
 *  - Entries are looked up only below the database's suffix (back-mdb reads before its
 *    buffer for a DN it does not hold).
 *  - A write granted to a role runs with the requester as rootdn of the operation's private
 *    BackendDB copy (over_op_func copies it for each operation).
 *  - Writes the overlay issues itself carry a marker (OpExtra) so that its own write guard
 *    lets them through.
 *  - Whether the backend refuses a write for the requester's rights is decided as back-mdb
 *    decides it (add.c, delete.c, modrdn.c, modify.c of back-mdb): the guard's own refusals
 *    come only for writes the backend would carry out, so that a write without rights gets
 *    the backend's answer, whatever the overlay knows about its values.
 *  - A lock taken in a hook for a check can be held until the backend has written: the
 *    backend answers after its commit, and every operation's callbacks see its result (or,
 *    at the latest, its cleanup), where the lock is let go.
 * Copyright 2026 The slapo-dynmailgroup authors.  OpenLDAP Public License, see LICENSE.
 */
#include "dmg.h"

int dmg_internal_key;

/* ---- internal-operation marker ------------------------------------------------------------ */

int
dmg_op_is_internal( Operation *op )
{
	OpExtra *oex;

	LDAP_SLIST_FOREACH( oex, &op->o_extra, oe_next ) {
		if ( oex->oe_key == &dmg_internal_key )
			return 1;
	}
	return 0;
}

void
dmg_op_mark_internal( Operation *op, OpExtra *oex )
{
	oex->oe_key = &dmg_internal_key;
	LDAP_SLIST_INSERT_HEAD( &op->o_extra, oex, oe_next );
}

void
dmg_op_unmark_internal( Operation *op, OpExtra *oex )
{
	LDAP_SLIST_REMOVE( &op->o_extra, oex, OpExtra, oe_next );
}

int
dmg_op_nested( Operation *op )
{
	OpExtra *oex;

	/* the overlay's own records (the requester's roles, a write in flight) do not make an
	 * operation nested; anything else does: the backend's transaction, another overlay's
	 * marker */
	LDAP_SLIST_FOREACH( oex, &op->o_extra, oe_next ) {
		if ( !dmg_who_is_record( oex ) && !dmg_flight_is_record( oex ) )
			return 1;
	}
	return 0;
}

/* ---- the database ---------------------------------------------------------------------------- */

BackendDB *
dmg_real_db( Operation *op )
{
	/* Inside a hook op->o_bd is a copy whose bd_info is this overlay; calling through it
	 * would re-enter the overlay.  The selected database walks the whole stack. */
	return select_backend( &op->o_bd->be_nsuffix[0], 0 );
}

int
dmg_entry_lookup( Operation *op, slap_overinst *on, struct berval *ndn, Entry **ep )
{
	int rc;

	*ep = NULL;
	/* back-mdb takes every DN it is asked for to lie below its suffix (and reads before
	 * the buffer otherwise): values and assertions may name anything */
	if ( !be_issubordinate( op->o_bd, ndn ) )
		return LDAP_NO_SUCH_OBJECT;
	rc = overlay_entry_get_ov( op, ndn, NULL, NULL, 0, ep, on );
	if ( rc == LDAP_SUCCESS && *ep == NULL )
		rc = LDAP_NO_SUCH_OBJECT;
	return rc;
}

Entry *
dmg_entry_get( Operation *op, slap_overinst *on, struct berval *ndn )
{
	Entry *e;

	return dmg_entry_lookup( op, on, ndn, &e ) == LDAP_SUCCESS ? e : NULL;
}

void
dmg_entry_release( Operation *op, slap_overinst *on, Entry *e )
{
	overlay_entry_release_ov( op, e, 0, on );
}

void
dmg_op_as_root( Operation *op, Operation *root )
{
	BackendDB *db = dmg_real_db( op );

	/* the database's own rootdn: op->o_bd may be a copy whose rootdn the write guard set
	 * to the requester (dmg_grant_write) */
	*root = *op;
	root->o_bd = db;
	root->o_dn = db->be_rootdn;
	root->o_ndn = db->be_rootndn;
	root->o_groups = NULL;
}

/* ---- filter strings --------------------------------------------------------------------------- */

/* slapd's filter2bv_x formats every item with snprintf and copies every AND and OR once more
 * per level: for the wide ORs of a reverse lookup that was the larger part of the lookup.
 * The string goes into one growing buffer; items of other kinds than the overlay builds
 * (substrings, extensible matches, computed results) are left to filter2bv_x. */
typedef struct dmg_fstr {
	Operation *op;
	struct berval bv;
	ber_len_t cap;
} dmg_fstr;

static void
dmg_fstr_put( dmg_fstr *s, const char *p, ber_len_t n )
{
	if ( s->bv.bv_len + n + 1 > s->cap ) {
		while ( s->bv.bv_len + n + 1 > s->cap )
			s->cap *= 2;
		s->bv.bv_val = s->op->o_tmprealloc( s->bv.bv_val, s->cap, s->op->o_tmpmemctx );
	}
	if ( n > 0 )	/* an empty value's pointer may be NULL */
		memcpy( s->bv.bv_val + s->bv.bv_len, p, n );
	s->bv.bv_len += n;
	s->bv.bv_val[s->bv.bv_len] = '\0';
}

/* An assertion value as RFC 4515 writes it: the special characters, controls and octets
 * outside ASCII as \XX */
static void
dmg_fstr_put_value( dmg_fstr *s, struct berval *v )
{
	static const char hex[] = "0123456789ABCDEF";
	ber_len_t i, run = 0;

	for ( i = 0; i < v->bv_len; i++ ) {
		unsigned char c = v->bv_val[i];
		char esc[3];

		if ( c >= 0x20 && c < 0x7f && c != '*' && c != '(' && c != ')' && c != '\\' )
			continue;
		dmg_fstr_put( s, v->bv_val + run, i - run );
		esc[0] = '\\';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 0xf];
		dmg_fstr_put( s, esc, 3 );
		run = i + 1;
	}
	dmg_fstr_put( s, v->bv_val + run, i - run );
}

static void
dmg_fstr_put_filter( dmg_fstr *s, Filter *f )
{
	MatchingRule *mr;
	struct berval v, other;
	Filter *p;

	switch ( f->f_choice ) {
	case LDAP_FILTER_AND:
	case LDAP_FILTER_OR:
	case LDAP_FILTER_NOT:
		dmg_fstr_put( s, f->f_choice == LDAP_FILTER_AND ? "(&"
			: f->f_choice == LDAP_FILTER_OR ? "(|" : "(!", 2 );
		for ( p = f->f_list; p; p = p->f_next )
			dmg_fstr_put_filter( s, p );
		dmg_fstr_put( s, ")", 1 );
		return;
	case LDAP_FILTER_EQUALITY:
		/* values kept in a form other than their syntax's (UUIDs) are written in it,
		 * as filter2bv_x does */
		v = f->f_av_value;
		mr = f->f_av_desc->ad_type->sat_equality;
		if ( mr && ( mr->smr_usage & SLAP_MR_MUTATION_NORMALIZER ) )
			mr->smr_normalize( SLAP_MR_DENORMALIZE | SLAP_MR_VALUE_OF_ASSERTION_SYNTAX,
				NULL, NULL, &f->f_av_value, &v, s->op->o_tmpmemctx );
		dmg_fstr_put( s, "(", 1 );
		dmg_fstr_put( s, f->f_av_desc->ad_cname.bv_val, f->f_av_desc->ad_cname.bv_len );
		dmg_fstr_put( s, "=", 1 );
		dmg_fstr_put_value( s, &v );
		dmg_fstr_put( s, ")", 1 );
		if ( v.bv_val != f->f_av_value.bv_val )
			s->op->o_tmpfree( v.bv_val, s->op->o_tmpmemctx );
		return;
	case LDAP_FILTER_PRESENT:
		dmg_fstr_put( s, "(", 1 );
		dmg_fstr_put( s, f->f_desc->ad_cname.bv_val, f->f_desc->ad_cname.bv_len );
		dmg_fstr_put( s, "=*)", 3 );
		return;
	default:
		filter2bv_x( s->op, f, &other );
		dmg_fstr_put( s, other.bv_val, other.bv_len );
		s->op->o_tmpfree( other.bv_val, s->op->o_tmpmemctx );
	}
}

void
dmg_filter2bv( Operation *op, Filter *f, struct berval *out )
{
	dmg_fstr s;

	if ( f == NULL ) {
		filter2bv_x( op, f, out );
		return;
	}
	s.op = op;
	s.cap = 256;
	s.bv.bv_len = 0;
	s.bv.bv_val = op->o_tmpalloc( s.cap, op->o_tmpmemctx );
	dmg_fstr_put_filter( &s, f );
	*out = s.bv;
}

/* ---- internal searches ------------------------------------------------------------------------ */

/* Runs an internal search below base with filter f, with op's identity and without limits;
 * every entry goes to cb, nothing to the client.  It carries ManageDsaIT (entries as
 * stored, also for other dynamic overlays such as dynlist) and the internal marker.
 * Returns the backend's result code; a failure is logged here, and the caller fails closed.
 * A callback that stops the search on purpose returns an error of its own and knows it. */
int
dmg_internal_search( Operation *op, struct berval *base, int scope, Filter *f,
	slap_callback *cb )
{
	Operation o = *op;
	SlapReply r = { REP_RESULT };
	OpExtra marker;

	o.o_tag = LDAP_REQ_SEARCH;
	o.o_bd = select_backend( base, 0 );
	if ( o.o_bd == NULL || o.o_bd->be_search == NULL )
		return LDAP_NO_SUCH_OBJECT;
	o.o_req_dn = *base;
	o.o_req_ndn = *base;
	o.ors_scope = scope;
	o.ors_deref = LDAP_DEREF_NEVER;
	o.ors_limit = NULL;
	o.ors_slimit = SLAP_NO_LIMIT;
	o.ors_tlimit = SLAP_NO_LIMIT;
	o.ors_attrs = NULL;
	o.ors_attrsonly = 0;
	o.ors_filter = f;
	dmg_filter2bv( &o, f, &o.ors_filterstr );
	/* its own start time: slapo-accesslog below names each search it logs by the start
	 * time, and the requester's own search, logged after ours, must not find its name taken */
	slap_op_time( &o.o_time, &o.o_tincr );
	/* no paging, no sync, nothing of the caller's controls; ManageDsaIT makes every
	 * dynamic overlay, this one included, return entries as stored */
	memset( o.o_ctrlflag, 0, sizeof( o.o_ctrlflag ) );
	o.o_managedsait = SLAP_CONTROL_CRITICAL;
	o.o_callback = cb;
	dmg_op_mark_internal( &o, &marker );
	o.o_bd->be_search( &o, &r );
	dmg_op_unmark_internal( &o, &marker );
	/* a base the requester may not search, or that is gone, is an answer, not a failure */
	if ( r.sr_err != LDAP_SUCCESS && r.sr_err != LDAP_NO_SUCH_OBJECT
		&& r.sr_err != LDAP_INSUFFICIENT_ACCESS )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "%s internal search below \"%s\" for %s "
			"failed (%d): answered as an error\n", op->o_log_prefix, base->bv_val,
			o.ors_filterstr.bv_val, r.sr_err );
	op->o_tmpfree( o.ors_filterstr.bv_val, op->o_tmpmemctx );
	return r.sr_err;
}

/* ---- the write grant -------------------------------------------------------------------------- */

/* The backend checks slapd's ACLs with op->o_bd->bd_info set to the backend itself, so a
 * per-database overlay's bi_access_allowed is never asked for them (acl.c falls back to the
 * frontend's).  Writes to groups are therefore decided by the write guard, and a write
 * granted to a role runs with the requester as rootdn of this operation's private copy of
 * the database (the BackendDB that over_op_func copies for each operation): slapd's ACLs
 * neither add nor take away rights for it.  The identity itself is untouched, so
 * creatorsName, modifiersName and accesslog still name the requester. */
void
dmg_grant_write( Operation *op )
{
	if ( !SLAP_ISOVERLAY( op->o_bd ) )
		return;
	op->o_bd->be_rootdn = op->o_dn;
	op->o_bd->be_rootndn = op->o_ndn;
}

/* ---- what the backend refuses ---------------------------------------------------------------- */

/* The entry above ndn in this database, or NULL (the suffix has none here) */
static Entry *
dmg_parent_get( Operation *op, slap_overinst *on, struct berval *ndn )
{
	struct berval pndn;

	if ( be_issuffix( op->o_bd, ndn ) )
		return NULL;
	dnParent( ndn, &pndn );
	return dmg_entry_get( op, on, &pndn );
}

/* May op add or remove children of the entry above ndn (the suffix: only the rootdn)? */
static int
dmg_parent_allows( Operation *op, slap_overinst *on, struct berval *ndn, slap_access_t what )
{
	Entry *p;
	int ok;

	if ( be_issuffix( op->o_bd, ndn ) )
		return be_isroot( op );
	if ( ( p = dmg_parent_get( op, on, ndn ) ) == NULL )
		return 0;
	ok = access_allowed( op, p, slap_schema.si_ad_children, NULL, what, NULL );
	dmg_entry_release( op, on, p );
	return ok;
}

/* back-mdb's answer to an add, in its order; as_free: as if nothing were at the new DN */
static int
dmg_add_answer( Operation *op, slap_overinst *on, int as_free, const char **text )
{
	Entry *e = op->ora_e, *old;

	if ( !as_free && ( old = dmg_entry_get( op, on, &e->e_nname ) ) != NULL ) {
		dmg_entry_release( op, on, old );
		return LDAP_ALREADY_EXISTS;	/* before any ACL */
	}
	if ( !dmg_parent_allows( op, on, &e->e_nname, ACL_WADD ) ) {
		*text = "no write access to parent";
		return LDAP_INSUFFICIENT_ACCESS;
	}
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_WADD, NULL ) ) {
		*text = "no write access to entry";
		return LDAP_INSUFFICIENT_ACCESS;
	}
	if ( !acl_check_modlist( op, e, op->ora_modlist ) ) {
		*text = "no write access to attribute";
		return LDAP_INSUFFICIENT_ACCESS;
	}
	return LDAP_SUCCESS;
}

/* back-mdb's answer to a rename of target up to the new DN's existence, in its order */
static int
dmg_modrdn_answer( Operation *op, slap_overinst *on, Entry *target, const char **text )
{
	Entry *np;
	int ok;

	if ( !dmg_parent_allows( op, on, &target->e_nname,
			op->orr_nnewSup ? ACL_WDEL : ACL_WRITE ) ) {
		*text = "no write access to parent's children";
		return LDAP_INSUFFICIENT_ACCESS;
	}
	if ( !access_allowed( op, target, slap_schema.si_ad_entry, NULL, ACL_WRITE, NULL ) ) {
		*text = "no write access to old entry";
		return LDAP_INSUFFICIENT_ACCESS;
	}
	if ( op->orr_nnewSup ) {
		if ( ( np = dmg_entry_get( op, on, op->orr_nnewSup ) ) == NULL ) {
			*text = "new superior not found";
			return LDAP_NO_SUCH_OBJECT;
		}
		ok = access_allowed( op, np, slap_schema.si_ad_children, NULL, ACL_WADD, NULL );
		dmg_entry_release( op, on, np );
		if ( !ok ) {
			*text = "no write access to new superior's children";
			return LDAP_INSUFFICIENT_ACCESS;
		}
	}
	return acl_check_modlist( op, target, op->orr_modlist )
		? LDAP_SUCCESS : LDAP_INSUFFICIENT_ACCESS;
}

int
dmg_backend_answer( Operation *op, slap_overinst *on, Entry *target, int as_free,
	const char **text )
{
	*text = NULL;
	if ( op->o_tag == LDAP_REQ_ADD )
		return dmg_add_answer( op, on, as_free, text );
	if ( target == NULL )
		return LDAP_NO_SUCH_OBJECT;
	switch ( op->o_tag ) {
	case LDAP_REQ_MODIFY:
		return acl_check_modlist( op, target, op->orm_modlist )
			? LDAP_SUCCESS : LDAP_INSUFFICIENT_ACCESS;
	case LDAP_REQ_DELETE:
		return dmg_parent_allows( op, on, &target->e_nname, ACL_WDEL )
			&& access_allowed( op, target, slap_schema.si_ad_entry, NULL, ACL_WDEL, NULL )
			? LDAP_SUCCESS : LDAP_INSUFFICIENT_ACCESS;
	case LDAP_REQ_MODRDN:
		return dmg_modrdn_answer( op, on, target, text );
	}
	return LDAP_SUCCESS;
}

int
dmg_backend_refuses( Operation *op, slap_overinst *on, Entry *target )
{
	const char *text;

	return dmg_backend_answer( op, on, target, 0, &text ) != LDAP_SUCCESS;
}

/* ---- a lock held until the operation's result ------------------------------------------------ */

typedef struct dmg_result_lock {
	slap_callback cb;
	ldap_pvt_thread_mutex_t *lock;	/* NULL once released */
} dmg_result_lock;

static void
dmg_result_lock_release( dmg_result_lock *rl )
{
	if ( rl->lock ) {
		ldap_pvt_thread_mutex_unlock( rl->lock );
		rl->lock = NULL;
	}
}

/* The backend answers once it has written (back-mdb: after its commit); the lock goes before
 * the answer is sent, so that a client that does not read its answers cannot hold it, and
 * after the response callbacks pushed in the hook that took it (the references a rename or
 * delete follows are rewritten under it). */
static int
dmg_result_lock_response( Operation *op, SlapReply *rs )
{
	if ( rs->sr_type == REP_RESULT )
		dmg_result_lock_release( op->o_callback->sc_private );
	return SLAP_CB_CONTINUE;
}

/* At the latest when the operation is cleaned up: a response callback above this one may have
 * ended the response chain. */
static int
dmg_result_lock_cleanup( Operation *op, SlapReply *rs )
{
	slap_callback *sc = op->o_callback;
	dmg_result_lock *rl = sc->sc_private;

	dmg_result_lock_release( rl );
	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	op->o_callback = sc->sc_next;
	op->o_tmpfree( rl, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

void
dmg_unlock_at_result( Operation *op, ldap_pvt_thread_mutex_t *lock, slap_callback *below )
{
	dmg_result_lock *rl = op->o_tmpcalloc( 1, sizeof( *rl ), op->o_tmpmemctx );
	slap_callback **link;

	rl->lock = lock;
	rl->cb.sc_response = dmg_result_lock_response;
	rl->cb.sc_cleanup = dmg_result_lock_cleanup;
	rl->cb.sc_private = rl;
	/* after the callbacks pushed since (they run first: writes that follow the result) */
	for ( link = &op->o_callback; *link && *link != below; link = &( *link )->sc_next )
		;
	rl->cb.sc_next = *link;
	*link = &rl->cb;
}

/* ---- renames ------------------------------------------------------------------------------------ */

void
dmg_modrdn_new_dn( Operation *op, struct berval *dn, struct berval *ndn )
{
	struct berval parent, nparent;

	if ( op->orr_nnewSup ) {
		parent = *op->orr_newSup;
		nparent = *op->orr_nnewSup;
	} else {
		dnParent( &op->o_req_dn, &parent );
		dnParent( &op->o_req_ndn, &nparent );
	}
	build_new_dn( dn, &parent, &op->orr_newrdn, op->o_tmpmemctx );
	build_new_dn( ndn, &nparent, &op->orr_nnewrdn, op->o_tmpmemctx );
}

/* ---- the backend's transaction ------------------------------------------------------------------ */

/* back-mdb keeps an operation's transaction on o_extra under its mdb_info (id2entry.c,
 * mdb_opinfo_get): present there before the overlay has read anything, it belongs to a
 * transaction the operation runs inside (an LDAP transaction's, another operation's). */
int
dmg_op_in_backend_txn( Operation *op )
{
	BackendDB *db = dmg_real_db( op );
	OpExtra *oex;

	LDAP_SLIST_FOREACH( oex, &op->o_extra, oe_next ) {
		if ( db && oex->oe_key == db->be_private )
			return 1;
	}
	return 0;
}
