/* dynmailgroup.c -- module glue of slapo-dynmailgroup
 *
 * Registers the overlay, its configuration and computed schema, and wires the hooks.
 * Copyright 2026 The slapo-dynmailgroup authors.  OpenLDAP Public License, see LICENSE.
 */
#include "dmg.h"

static slap_overinst dmg_overlay;

static BI_op_txn dmg_op_txn;
static BI_has_subordinates dmg_has_subordinates;

/* ---- the overlay's place in the stack --------------------------------------------------------- */

static const dmg_stack_rule dmg_stack_rules[] = {
	{ "sssvlv", 0,
		"its result counts would include entries the overlay does not return",
		"configure sssvlv after dynmailgroup" },
	{ "syncprov", 1,
		/* cr->msg holds 256 octets */
		"it would send groups as stored, hidden ones included, to sync searches the "
		"overlay refuses",
		"configure syncprov before dynmailgroup" },
	{ "accesslog", 1,
		"its records would lack the entryUUIDs the overlay adds to group writes",
		"configure accesslog before dynmailgroup" },
	{ NULL }
};

/* oi_list runs from the top of the stack down (backover.c inserts an overlay configured
 * later in front of those configured before it): what follows on in it is below on. */
const dmg_stack_rule *
dmg_stack_misplaced( slap_overinst *on, const char *type )
{
	const dmg_stack_rule *r;
	slap_overinst *o;
	int below = 0;

	for ( r = dmg_stack_rules; r->type && strcmp( r->type, type ) != 0; r++ )
		;
	if ( r->type == NULL )
		return NULL;
	for ( o = on->on_info->oi_list; o; o = o->on_next ) {
		if ( o == on )
			below = 1;
		else if ( strcmp( o->on_bi.bi_type, type ) == 0 && below != r->below )
			return r;
	}
	return NULL;
}

/* cn=config may put syncprov above the overlay at run time (an olcOverlay entry added
 * without an index goes on top), where db_open cannot refuse it.  syncprov then answers sync
 * searches without this overlay, but it sends only what writes change: refusing every write
 * keeps hidden groups from being sent until the order is corrected. */
static int
dmg_write_stack_refused( Operation *op, SlapReply *rs, slap_overinst *on )
{
	static struct berval key = BER_BVC( "syncprov" );
	const dmg_stack_rule *r = dmg_stack_misplaced( on, "syncprov" );

	if ( r == NULL )
		return 0;
	if ( dmg_log_once( on->on_bi.bi_private, "stack", &key ) )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "overlay syncprov is configured after "
			"overlay dynmailgroup on \"%s\": %s; every write is refused until you %s\n",
			op->o_bd->be_suffix[0].bv_val, r->why, r->remedy );
	send_ldap_error( op, rs, LDAP_UNWILLING_TO_PERFORM, DMG_LOG_PREFIX "overlay syncprov "
		"is configured after dynmailgroup on this database; configure syncprov before "
		"dynmailgroup" );
	return 1;
}

/* ---- conditions logged once ------------------------------------------------------------------- */

int
dmg_log_once( dmg_info *di, const char *kind, struct berval *key )
{
	size_t klen = strlen( kind );
	struct berval k;
	unsigned i;
	int first = 1;

	k.bv_len = klen + 1 + key->bv_len;
	k.bv_val = ch_malloc( k.bv_len + 1 );
	memcpy( k.bv_val, kind, klen );
	k.bv_val[klen] = ':';
	if ( key->bv_len )	/* the anonymous identity's DN has no buffer at all */
		memcpy( k.bv_val + klen + 1, key->bv_val, key->bv_len );
	k.bv_val[k.bv_len] = '\0';
	ldap_pvt_thread_mutex_lock( &di->logged_lock );
	for ( i = 0; i < DMG_LOGGED_MAX && first; i++ )
		first = di->logged[i].bv_val == NULL || ber_bvcmp( &di->logged[i], &k ) != 0;
	if ( first ) {
		/* the oldest makes room: a key is logged again only after DMG_LOGGED_MAX others */
		ch_free( di->logged[di->logged_next].bv_val );
		di->logged[di->logged_next] = k;
		di->logged_next = ( di->logged_next + 1 ) % DMG_LOGGED_MAX;
	}
	ldap_pvt_thread_mutex_unlock( &di->logged_lock );
	if ( !first )
		ch_free( k.bv_val );
	return first;
}

static void
dmg_log_once_free( dmg_info *di )
{
	unsigned i;

	for ( i = 0; i < DMG_LOGGED_MAX; i++ )
		ch_free( di->logged[i].bv_val );
	ldap_pvt_thread_mutex_destroy( &di->logged_lock );
}

/* An overlay order that would miscount or leak what the overlay hides: the message in cr.
 * Checked when the overlay is configured (an overlay added over cn=config at run time is
 * refused there: slapd 2.5's error path for a failed db_open of such an add logs freed
 * memory) and when the database opens (slapd.conf configures overlays in order). */
static int
dmg_stack_refused( slap_overinst *on, ConfigReply *cr )
{
	const dmg_stack_rule *r;

	for ( r = dmg_stack_rules; r->type; r++ ) {
		if ( dmg_stack_misplaced( on, r->type ) == NULL )
			continue;
		snprintf( cr->msg, sizeof( cr->msg ), DMG_LOG_PREFIX
			"overlay %s is configured %s overlay dynmailgroup on this database: %s; %s",
			r->type, r->below ? "after" : "before", r->why, r->remedy );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	return 0;
}

/* ---- database lifecycle ----------------------------------------------------------------------- */

static int
dmg_db_init( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	dmg_info *di;

	if ( SLAP_ISGLOBALOVERLAY( be ) ) {
		/* groups, departments and the cache belong to one database */
		snprintf( cr->msg, sizeof( cr->msg ), DMG_LOG_PREFIX
			"must be configured on a database, not globally" );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	if ( dmg_stack_refused( on, cr ) )
		return 1;
	di = ch_calloc( 1, sizeof( dmg_info ) );
	di->cache = dmg_cache_new( 0, dmg_members_free_value );
	di->who_memo = dmg_who_memo_new();
	di->named = dmg_named_new();
	if ( di->cache == NULL || dmg_info_set_defaults( di ) ) {
		dmg_info_free( di );
		ch_free( di );
		return 1;
	}
	ldap_pvt_thread_mutex_init( &di->write_lock );
	ldap_pvt_thread_mutex_init( &di->logged_lock );
	ldap_pvt_thread_mutex_init( &di->acl_lock );
	ldap_pvt_thread_mutex_init( &di->flight_lock );
	on->on_bi.bi_private = di;
	/* the commit of an LDAP transaction passes through no other hook: see dmg_op_txn */
	if ( on->on_info->oi_orig->bi_op_txn )
		on->on_info->oi_bi.bi_op_txn = dmg_op_txn;
	/* a compare of hasSubordinates passes through no hook: see dmg_has_subordinates */
	if ( on->on_info->oi_orig->bi_has_subordinates )
		on->on_info->oi_bi.bi_has_subordinates = dmg_has_subordinates;
	return 0;
}

static int
dmg_db_open( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	const char *missing = NULL;

	if ( dmg_stack_refused( on, cr ) )
		return 1;
	if ( dmg_schema_resolve_stored( &missing ) ) {
		snprintf( cr->msg, sizeof( cr->msg ), DMG_LOG_PREFIX
			"schema element \"%s\" is not defined; include dynmailgroup.schema "
			"(and cosine.schema) before using the overlay", missing );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	if ( dmg_preview_db_open( be ) )
		return 1;
	return dmg_monitor_db_open( be );
}

static int
dmg_db_close( BackendDB *be, ConfigReply *cr )
{
	(void)cr;
	dmg_monitor_db_close( be );
	return 0;
}

static int
dmg_db_destroy( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	dmg_info *di = on->on_bi.bi_private;

	(void)cr;
	if ( on->on_info->oi_bi.bi_op_txn == dmg_op_txn )
		on->on_info->oi_bi.bi_op_txn = on->on_info->oi_orig->bi_op_txn;
	if ( on->on_info->oi_bi.bi_has_subordinates == dmg_has_subordinates )
		on->on_info->oi_bi.bi_has_subordinates = on->on_info->oi_orig->bi_has_subordinates;
	if ( di ) {
		ldap_pvt_thread_mutex_destroy( &di->write_lock );
		ldap_pvt_thread_mutex_destroy( &di->acl_lock );
		ldap_pvt_thread_mutex_destroy( &di->flight_lock );
		dmg_log_once_free( di );
		dmg_info_free( di );
		ch_free( di );
		on->on_bi.bi_private = NULL;
	}
	return 0;
}

/* ---- writes in flight ---------------------------------------------------------------------- */

/* A write is visible to readers from its commit in the backend, but the cached lists it
 * concerns are dropped only at its result (dmg_response), and a rename's group rewrites
 * commit in between.  A list cached before the write, taken by a reader whose snapshot is
 * newer, would be shown with the group as the write left it: after a department rename, the
 * new department with the old members.  So no cached list is taken while such a write runs
 * (dmg_write_needs_flight): from its hook until dmg_response has dropped its lists (before the
 * client hears of it), or until the operation ends without a result.  Lists are still computed and stored: the generation
 * refuses one read before the invalidation. */
typedef struct dmg_flight {
	OpExtra oe;		/* in the write's o_extra, for dmg_response to find */
	slap_callback sc;	/* its clean-up ends the flight if no result did */
	Operation *op;		/* the write (its own operations copy o_extra) */
	dmg_info *di;
	int lists;		/* it keeps cached lists from being taken (dmg_write_needs_flight) */
	int roles;		/* its end moves the roles' generation on (dmg_write_moves_roles) */
	int landed;
} dmg_flight;

static char dmg_flight_key;

int
dmg_flight_is_record( OpExtra *oex )
{
	return oex->oe_key == &dmg_flight_key;
}

/* Every operation asks whether a write is in flight, and for the roles' generation: those
 * reads take no lock (eight readers on two cores would queue on it, and a holder preempted
 * stalls them all).  Writers still change the counts under flight_lock, with atomic stores:
 * at a write's end the generation moves on before the count drops, so that a reader that
 * sees the count at zero and the generation unchanged around it has a generation no write
 * has ended since (dmg_roles_generation). */
int
dmg_writes_in_flight( dmg_info *di )
{
	return __atomic_load_n( &di->writes_in_flight, __ATOMIC_SEQ_CST ) > 0;
}

/* Every write is in flight for the requesters' remembered roles (access.c): none is taken
 * while one runs, and the end of one that may change them (roles) moves their generation on,
 * so that a decision made before it committed is not taken after.  Only some keep cached
 * lists from being taken (lists). */
static void
dmg_flight_add( dmg_info *di, int delta, int lists, int roles )
{
	ldap_pvt_thread_mutex_lock( &di->flight_lock );
	if ( delta < 0 && roles )
		__atomic_store_n( &di->roles_gen, di->roles_gen + 1, __ATOMIC_SEQ_CST );
	if ( lists )
		__atomic_store_n( &di->writes_in_flight, di->writes_in_flight + delta,
			__ATOMIC_SEQ_CST );
	__atomic_store_n( &di->roles_writes, di->roles_writes + delta, __ATOMIC_SEQ_CST );
	ldap_pvt_thread_mutex_unlock( &di->flight_lock );
}

unsigned long
dmg_roles_generation( dmg_info *di )
{
	unsigned long before, after;
	unsigned writes;

	before = __atomic_load_n( &di->roles_gen, __ATOMIC_SEQ_CST );
	writes = __atomic_load_n( &di->roles_writes, __ATOMIC_SEQ_CST );
	after = __atomic_load_n( &di->roles_gen, __ATOMIC_SEQ_CST );
	return writes || before != after ? DMG_NO_GENERATION : before;
}

void
dmg_roles_moved( dmg_info *di )
{
	ldap_pvt_thread_mutex_lock( &di->flight_lock );
	__atomic_store_n( &di->roles_gen, di->roles_gen + 1, __ATOMIC_SEQ_CST );
	ldap_pvt_thread_mutex_unlock( &di->flight_lock );
}

static void
dmg_flight_land( dmg_flight *fl )
{
	if ( fl->landed )
		return;
	fl->landed = 1;
	dmg_flight_add( fl->di, -1, fl->lists, fl->roles );
}

/* The write op's own flight, landed once its lists are dropped */
static void
dmg_flight_land_op( Operation *op )
{
	OpExtra *oex;

	LDAP_SLIST_FOREACH( oex, &op->o_extra, oe_next ) {
		if ( dmg_flight_is_record( oex ) && ( (dmg_flight *)oex )->op == op ) {
			dmg_flight_land( (dmg_flight *)oex );
			return;
		}
	}
}

static int
dmg_flight_cleanup( Operation *op, SlapReply *rs )
{
	dmg_flight *fl = op->o_callback->sc_private;

	if ( rs->sr_type != REP_RESULT && !op->o_abandon && rs->sr_err != SLAPD_ABANDON )
		return SLAP_CB_CONTINUE;
	/* an operation that ends without its result passing dmg_response (abandoned) may
	 * still have written: the names reverse lookups remember are read again */
	if ( !fl->landed )
		dmg_named_moved( fl->di );
	dmg_flight_land( fl );
	LDAP_SLIST_REMOVE( &op->o_extra, &fl->oe, OpExtra, oe_next );
	op->o_callback = fl->sc.sc_next;
	op->o_tmpfree( fl, op->o_tmpmemctx );
	return SLAP_CB_CONTINUE;
}

/* Writes that may leave a reader pairing a group as written with a list cached before:
 * renames and moves (a group naming the entry shows its new DN, and is rewritten), and
 * modifications of what a group's members are computed from (its rule, its references and
 * their UUIDs, its object class).  Other writes leave the group as it was: a reader before
 * their invalidation reads as if before the write, which has not yet been answered. */
static int
dmg_write_needs_flight( Operation *op )
{
	Modifications *ml;
	AttributeDescription *ad;

	if ( op->o_tag == LDAP_REQ_MODRDN )
		return 1;
	if ( op->o_tag != LDAP_REQ_MODIFY || dmg_ad.oc_group == NULL )
		return 0;
	for ( ml = op->orm_modlist; ml; ml = ml->sml_next ) {
		ad = ml->sml_desc;
		if ( ad == slap_schema.si_ad_objectClass || dmg_ad_is_reference( ad )
			|| dmg_ad_is_reference_uuid( ad ) || ad->ad_type == dmg_ad.condition->ad_type
			|| ad->ad_type == dmg_ad.include_sub->ad_type )
			return 1;
	}
	return 0;
}

static void
dmg_flight_begin( Operation *op, dmg_info *di, int lists )
{
	dmg_flight *fl = op->o_tmpcalloc( 1, sizeof( dmg_flight ), op->o_tmpmemctx );

	fl->op = op;
	fl->di = di;
	fl->lists = lists;
	fl->roles = dmg_write_moves_roles( op, di );
	fl->oe.oe_key = &dmg_flight_key;
	LDAP_SLIST_INSERT_HEAD( &op->o_extra, &fl->oe, oe_next );
	fl->sc.sc_cleanup = dmg_flight_cleanup;
	fl->sc.sc_private = fl;
	fl->sc.sc_next = op->o_callback;
	op->o_callback = &fl->sc;
	dmg_flight_add( di, 1, lists, fl->roles );
}

/* Can the lists a write changes be named from its target's DN (and a rename's new DN)?
 * Not for:
 *  - writes of an LDAP transaction: answered before they are committed (dmg_op_txn empties
 *    the cache again at the commit);
 *  - a consumer's replicated writes: syncrepl applies whole entries whose earlier state (and
 *    DN) the overlay never saw. */
static int
dmg_write_bounded( Operation *op )
{
	return !op->o_txnSpec && !be_shadow_update( op );
}

/* A successful write may change some groups' members: their cached lists are dropped before
 * the client hears of the write, so its next read sees it.  Only the groups the write
 * concerns (invalidate.c, dmg_cache_invalidate_entry) when that is bounded; else all. */
static int
dmg_response( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	dmg_info *di = on->on_bi.bi_private;
	struct berval dn, ndn;

	if ( rs->sr_type != REP_RESULT )
		return SLAP_CB_CONTINUE;
	/* a failed write changed nothing to drop; its flight lands all the same */
	switch ( rs->sr_err == LDAP_SUCCESS ? op->o_tag : 0 ) {
	case LDAP_REQ_ADD:
	case LDAP_REQ_MODIFY:
	case LDAP_REQ_DELETE:
		if ( dmg_write_bounded( op ) )
			dmg_cache_invalidate_entry( op, di, &op->o_req_ndn, NULL );
		else
			dmg_cache_invalidate( di->cache );
		break;
	case LDAP_REQ_MODRDN:
		if ( !dmg_write_bounded( op ) ) {
			dmg_cache_invalidate( di->cache );
			break;
		}
		dmg_modrdn_new_dn( op, &dn, &ndn );
		dmg_cache_invalidate_entry( op, di, &op->o_req_ndn, &ndn );
		op->o_tmpfree( dn.bv_val, op->o_tmpmemctx );
		op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
		break;
	}
	if ( rs->sr_err == LDAP_SUCCESS )
		dmg_named_after_write( op, di, dmg_write_bounded( op ) );
	dmg_flight_land_op( op );
	return SLAP_CB_CONTINUE;
}

/* ---- the cache follows the ACLs -------------------------------------------------------------- */

/* slapd tells overlays nothing when olcAccess changes (on the database or the frontend): each
 * operation compares the ACLs' fingerprint with the last one seen, and a change empties the
 * cache and starts a new generation before the operation reads anything, so that no list
 * computed under the old ACLs is served, or stored, after it.  A change lands with the thread
 * pool paused: an operation that read the old generation and stores its list late finds the
 * generation moved on (or its list emptied by the next operation's check). */
int
dmg_cache_follow_acls( Operation *op, dmg_info *di )
{
	unsigned long long print;
	int allow;

	if ( di->cache_max_values == 0 )
		return 0;
	print = dmg_acls_fingerprint( op );
	/* the ACLs seen last: read without the lock (every operation asks), published only
	 * after the cache they change was emptied (the fingerprint last, with release order,
	 * so that a reader that sees it sees the rest) */
	if ( __atomic_load_n( &di->acl_print_valid, __ATOMIC_ACQUIRE )
		&& __atomic_load_n( &di->acl_print, __ATOMIC_ACQUIRE ) == print )
		return !__atomic_load_n( &di->acl_conn_dependent, __ATOMIC_RELAXED );
	ldap_pvt_thread_mutex_lock( &di->acl_lock );
	if ( !di->acl_print_valid || di->acl_print != print ) {
		int dependent = dmg_acls_connection_dependent( op );

		dmg_cache_invalidate( di->cache );
		__atomic_store_n( &di->acl_conn_dependent, dependent, __ATOMIC_RELAXED );
		__atomic_store_n( &di->acl_print, print, __ATOMIC_RELEASE );
		__atomic_store_n( &di->acl_print_valid, 1, __ATOMIC_RELEASE );
		if ( dependent )
			Debug( LDAP_DEBUG_STATS, DMG_LOG_PREFIX "%s the ACLs of \"%s\" test the "
				"connection or the real identity: member lists are not cached\n",
				op->o_log_prefix, op->o_bd->be_suffix[0].bv_val );
	}
	allow = !di->acl_conn_dependent;
	ldap_pvt_thread_mutex_unlock( &di->acl_lock );
	return allow;
}

int
dmg_cache_acls_allow( dmg_info *di )
{
	return __atomic_load_n( &di->acl_print_valid, __ATOMIC_ACQUIRE )
		&& !__atomic_load_n( &di->acl_conn_dependent, __ATOMIC_RELAXED );
}

/* A write whose target (an add's: its parent) is, or lies below, a hidden group its requester
 * may not see gets the backend's answer for an entry that does not exist
 * (dmg_refuse_hidden_target), before anything that would answer otherwise.  The overlay's
 * own writes and replication see everything. */
static int
dmg_write_hidden_target( Operation *op, SlapReply *rs, slap_overinst *on )
{
	dmg_who who;
	int refused;

	if ( dmg_ad.oc_group == NULL || dmg_op_is_internal( op ) || be_shadow_update( op ) )
		return 0;
	dmg_who_begin( op, on, &who );
	refused = dmg_refuse_hidden_target( op, rs, on );
	dmg_who_end( op, &who );
	return refused;
}

/* Writes: the overlay order (dmg_write_stack_refused), a hidden target
 * (dmg_write_hidden_target), the assertion control (dmg_assertion_refused), then the write
 * guard */
static int
dmg_write( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;

	dmg_flight_begin( op, on->on_bi.bi_private, dmg_write_needs_flight( op ) );
	/* before anything: a write sent with the No-Op control is never stored */
	dmg_preview_noop( op );
	if ( dmg_write_stack_refused( op, rs, on ) || dmg_write_hidden_target( op, rs, on )
		|| dmg_assertion_refused( op, rs, on ) )
		return rs->sr_err;
	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
		return dmg_add( op, rs );
	case LDAP_REQ_MODIFY:
		return dmg_modify( op, rs );
	case LDAP_REQ_MODRDN:
		return dmg_modrdn( op, rs );
	case LDAP_REQ_DELETE:
		return dmg_delete( op, rs );
	}
	return SLAP_CB_CONTINUE;
}

/* ---- LDAP transactions (RFC 5805) ------------------------------------------------------------- */

/* slapd runs the writes of a transaction when the client ends it (txn.c): one after the other
 * inside one backend transaction, each answered to a callback as it completes, so
 * dmg_response empties the cache before anything is committed; a list computed in between
 * reads the data as it was before, and would be stored with the new generation and outlive
 * the commit.  The end of a transaction is an extended operation of the frontend that no
 * backend or overlay hook sees, but the commit itself is the database's bi_op_txn, which
 * txn.c calls through the BackendInfo of the overlay stack (copied from the backend's by
 * overlay_config).  The overlay takes that slot: after a successful commit it empties the
 * cache again, which also starts a new generation, so that no list read before the commit
 * can be stored after it (membership.c, dmg_members_acquire). */
/* Each dynmailgroup instance of the stack: a commit begins (delta 1) or ends (-1) a write
 * in flight; a successful one empties the cache first */
static void
dmg_txn_commit_flight( slap_overinfo *oi, int delta, int committed )
{
	slap_overinst *on;

	for ( on = oi->oi_list; on; on = on->on_next ) {
		if ( on->on_bi.bi_db_init == dmg_db_init ) {
			dmg_info *di = on->on_bi.bi_private;

			if ( committed ) {
				dmg_cache_invalidate( di->cache );
				dmg_named_moved( di );
			}
			/* a transaction's writes are not looked at one by one */
			dmg_flight_add( di, delta, 1, 1 );
		}
	}
}

static int
dmg_op_txn( Operation *op, int txnop, OpExtra **ptr )
{
	slap_overinfo *oi = op->o_bd->bd_info->bi_private;
	int commit = txnop == SLAP_TXN_COMMIT, rc;

	/* the commit is a write in flight too (dmg_writes_in_flight) */
	if ( commit )
		dmg_txn_commit_flight( oi, 1, 0 );
	rc = oi->oi_orig->bi_op_txn( op, txnop, ptr );
	if ( commit )
		dmg_txn_commit_flight( oi, -1, rc == 0 );
	return rc;
}

/* ---- hasSubordinates ---------------------------------------------------------------------------- */

/* The dynmailgroup instance of a stack (one per database: SLAPO_BFLAG_SINGLE) */
static slap_overinst *
dmg_instance( slap_overinfo *oi )
{
	slap_overinst *on;

	for ( on = oi->oi_list; on->on_bi.bi_db_init != dmg_db_init; on = on->on_next )
		;
	return on;
}

/* slapd answers a compare of hasSubordinates itself (compare.c), from the database's
 * bi_has_subordinates, called through the BackendInfo of the overlay stack as bi_op_txn is:
 * the overlay takes that slot, so that the answer leaves out the hidden groups the requester
 * may not see (a hidden group's own DN is fetched as no entry for them, access.c:
 * dmg_entry_get_rw, and answers as a free DN does).  The backend calls its own function for
 * its search filters and the values it sends, which search.c corrects. */
static int
dmg_has_subordinates( Operation *op, Entry *e, int *hs )
{
	slap_overinfo *oi = op->o_bd->bd_info->bi_private;
	slap_overinst *on = dmg_instance( oi );
	dmg_who who;
	int rc = oi->oi_orig->bi_has_subordinates( op, e, hs );

	/* no group before the schema is resolved (db_open) */
	if ( rc != LDAP_SUCCESS || dmg_ad.oc_group == NULL )
		return rc;
	dmg_who_begin( op, on, &who );
	rc = dmg_subordinates_shown( op, on, e, hs );
	dmg_who_end( op, &who );
	return rc;
}

/* ---- registration ----------------------------------------------------------------------------- */

static int
dmg_initialize( void )
{
	int rc;

	rc = dmg_schema_register_computed();
	if ( rc == 0 )
		rc = dmg_monitor_register_schema();
	if ( rc )
		return rc;
	rc = dmg_preview_register();
	if ( rc )
		return rc;

	dmg_overlay.on_bi.bi_type = "dynmailgroup";
	dmg_overlay.on_bi.bi_flags = SLAPO_BFLAG_SINGLE;
	dmg_overlay.on_bi.bi_db_init = dmg_db_init;
	dmg_overlay.on_bi.bi_db_open = dmg_db_open;
	dmg_overlay.on_bi.bi_db_close = dmg_db_close;
	dmg_overlay.on_bi.bi_db_destroy = dmg_db_destroy;

	dmg_overlay.on_bi.bi_op_search = dmg_search;
	dmg_overlay.on_bi.bi_op_compare = dmg_compare;
	dmg_overlay.on_bi.bi_op_add = dmg_write;
	dmg_overlay.on_bi.bi_op_modify = dmg_write;
	dmg_overlay.on_bi.bi_op_modrdn = dmg_write;
	dmg_overlay.on_bi.bi_op_delete = dmg_write;
	dmg_overlay.on_bi.bi_entry_get_rw = dmg_entry_get_rw;
	dmg_overlay.on_bi.bi_entry_release_rw = dmg_entry_release_rw;
	dmg_overlay.on_response = dmg_response;

	rc = dmg_config_init( &dmg_overlay.on_bi );
	if ( rc )
		return rc;

	return overlay_register( &dmg_overlay );
}

int
init_module( int argc, char *argv[] )
{
	(void)argc;
	(void)argv;
	return dmg_initialize();
}
