/* dynmailgroup.c -- module glue of slapo-dynmailgroup
 *
 * Registers the overlay, its configuration and computed schema, and wires the hooks.
 * Copyright 2026 The slapo-dynmailgroup authors.  OpenLDAP Public License, see LICENSE.
 */
#include "dmg.h"

static slap_overinst dmg_overlay;

static BI_op_txn dmg_op_txn;

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
	di = ch_calloc( 1, sizeof( dmg_info ) );
	di->cache = dmg_cache_new( 0, dmg_members_free_value );
	if ( di->cache == NULL || dmg_info_set_defaults( di ) ) {
		dmg_info_free( di );
		ch_free( di );
		return 1;
	}
	ldap_pvt_thread_mutex_init( &di->mail_lock );
	on->on_bi.bi_private = di;
	/* the commit of an LDAP transaction passes through no other hook: see dmg_op_txn */
	if ( on->on_info->oi_orig->bi_op_txn )
		on->on_info->oi_bi.bi_op_txn = dmg_op_txn;
	return 0;
}

static int
dmg_db_open( BackendDB *be, ConfigReply *cr )
{
	const char *missing = NULL;

	/* search.c: an overlay order that would count what the overlay does not return */
	if ( dmg_sssvlv_below( (slap_overinst *)be->bd_info ) ) {
		snprintf( cr->msg, sizeof( cr->msg ), DMG_LOG_PREFIX
			"overlay sssvlv is configured before overlay dynmailgroup on this database: "
			"its result counts would include entries the overlay does not return; "
			"configure sssvlv after dynmailgroup" );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	if ( dmg_schema_resolve_stored( &missing ) ) {
		snprintf( cr->msg, sizeof( cr->msg ), DMG_LOG_PREFIX
			"schema element \"%s\" is not defined; include dynmailgroup.schema "
			"(and cosine.schema) before using the overlay", missing );
		Debug( LDAP_DEBUG_ANY, "%s\n", cr->msg );
		return 1;
	}
	return dmg_preview_db_open( be );
}

static int
dmg_db_destroy( BackendDB *be, ConfigReply *cr )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	dmg_info *di = on->on_bi.bi_private;

	(void)cr;
	if ( on->on_info->oi_bi.bi_op_txn == dmg_op_txn )
		on->on_info->oi_bi.bi_op_txn = on->on_info->oi_orig->bi_op_txn;
	if ( di ) {
		ldap_pvt_thread_mutex_destroy( &di->mail_lock );
		dmg_info_free( di );
		ch_free( di );
		on->on_bi.bi_private = NULL;
	}
	return 0;
}

/* Every successful write may change some group's members: cached lists are dropped before
 * the client hears of the write, so its next read sees it.  Writes of an LDAP transaction
 * are answered here before they are committed; dmg_op_txn drops the lists again once they
 * are. */
static int
dmg_response( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	dmg_info *di = on->on_bi.bi_private;

	if ( rs->sr_type != REP_RESULT || rs->sr_err != LDAP_SUCCESS )
		return SLAP_CB_CONTINUE;
	switch ( op->o_tag ) {
	case LDAP_REQ_ADD:
	case LDAP_REQ_MODIFY:
	case LDAP_REQ_MODRDN:
	case LDAP_REQ_DELETE:
		dmg_cache_invalidate( di->cache );
		break;
	}
	return SLAP_CB_CONTINUE;
}

/* Writes: the assertion control first (dmg_assertion_refused), then the write guard */
static int
dmg_write( Operation *op, SlapReply *rs )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;

	/* before anything: a write sent with the No-Op control is never stored */
	dmg_preview_noop( op );
	if ( dmg_assertion_refused( op, rs, on ) )
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
static int
dmg_op_txn( Operation *op, int txnop, OpExtra **ptr )
{
	slap_overinfo *oi = op->o_bd->bd_info->bi_private;
	slap_overinst *on;
	int rc = oi->oi_orig->bi_op_txn( op, txnop, ptr );

	if ( txnop != SLAP_TXN_COMMIT || rc != 0 )
		return rc;
	for ( on = oi->oi_list; on; on = on->on_next ) {
		if ( on->on_bi.bi_db_init == dmg_db_init ) {
			dmg_info *di = on->on_bi.bi_private;

			dmg_cache_invalidate( di->cache );
		}
	}
	return rc;
}

/* ---- registration ----------------------------------------------------------------------------- */

static int
dmg_initialize( void )
{
	int rc;

	rc = dmg_schema_register_computed();
	if ( rc )
		return rc;
	rc = dmg_preview_register();
	if ( rc )
		return rc;

	dmg_overlay.on_bi.bi_type = "dynmailgroup";
	dmg_overlay.on_bi.bi_flags = SLAPO_BFLAG_SINGLE;
	dmg_overlay.on_bi.bi_db_init = dmg_db_init;
	dmg_overlay.on_bi.bi_db_open = dmg_db_open;
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
