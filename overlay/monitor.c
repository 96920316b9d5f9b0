/* monitor.c -- the membership cache's statistics under cn=monitor
 *
 * When slapd has a monitor database, the overlay's entry below its database's entry
 * (cn=Overlay N,cn=Database M,cn=Databases,cn=Monitor, monitoredInfo: dynmailgroup) carries
 * the object class dmgCacheMonitor and one counter per statistic of cache.c, read from the
 * cache each time the entry is read, as back-mdb and pcache do for theirs.  Without a monitor
 * database nothing is registered.
 */
#include "dmg.h"

#include "back-monitor/back-monitor.h"

#define DMG_MON_OID "2.25.170250184653830165129562192269764786312.5."

/* One row per statistic, in the order dmg_monitor_values fills them */
enum {
	DMG_MON_HITS,
	DMG_MON_MISSES,
	DMG_MON_INV_TARGETED,
	DMG_MON_INV_FULL,
	DMG_MON_DROPPED,
	DMG_MON_REFUSED,
	DMG_MON_EVICTIONS,
	DMG_MON_ENTRIES,
	DMG_MON_VALUES,
	DMG_MON_BYTES,
	DMG_MON_MAX_VALUES,
	DMG_MON_KEPT,
	DMG_MON_UPDATED,
	DMG_MON_N
};

#define DMG_MON_AT( n, name, desc ) { \
	"( " DMG_MON_OID "1." n " NAME '" name "' DESC '" desc "' " \
	"EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE " \
	"NO-USER-MODIFICATION USAGE dSAOperation )", NULL }

static struct {
	const char *def;
	AttributeDescription *ad;
} dmg_mon_at[DMG_MON_N] = {
	DMG_MON_AT( "1", "dmgCacheHits", "Member lists served from the cache" ),
	DMG_MON_AT( "2", "dmgCacheMisses", "Lookups that found no list" ),
	DMG_MON_AT( "3", "dmgCacheInvalidationsTargeted",
		"Writes that dropped only the lists of the groups they concern" ),
	DMG_MON_AT( "4", "dmgCacheInvalidationsFull",
		"Writes and configuration changes that emptied the cache" ),
	DMG_MON_AT( "5", "dmgCacheDropped", "Lists dropped by targeted invalidations" ),
	DMG_MON_AT( "6", "dmgCacheRefused",
		"Lists not stored because a write concerning them came while they were computed" ),
	DMG_MON_AT( "7", "dmgCacheEvictions", "Lists dropped to stay within the bound" ),
	DMG_MON_AT( "8", "dmgCacheEntries", "Lists in the cache" ),
	DMG_MON_AT( "9", "dmgCacheValues", "Values in the cache (the bound counts these)" ),
	DMG_MON_AT( "10", "dmgCacheBytes",
		"Memory held by the cached lists, without the allocator overhead" ),
	DMG_MON_AT( "11", "dmgCacheMaxValues", "dynmailgroup-cache-max-values" ),
	DMG_MON_AT( "12", "dmgCacheKept",
		"Lists a write concerned but kept: it changed no attribute they depend on" ),
	DMG_MON_AT( "13", "dmgCacheUpdated",
		"Lists a write to one entry updated in place (that entry added or removed)" ),
};

static ObjectClass *dmg_mon_oc;

static const char dmg_mon_oc_def[] =
	"( " DMG_MON_OID "2.1 NAME 'dmgCacheMonitor' "
	"DESC 'Membership cache statistics of slapo-dynmailgroup' SUP top AUXILIARY "
	"MAY ( dmgCacheHits $ dmgCacheMisses $ dmgCacheInvalidationsTargeted $ "
	"dmgCacheInvalidationsFull $ dmgCacheDropped $ dmgCacheRefused $ dmgCacheEvictions $ "
	"dmgCacheEntries $ dmgCacheValues $ dmgCacheBytes $ dmgCacheMaxValues $ "
	"dmgCacheKept $ dmgCacheUpdated ) )";

int
dmg_monitor_register_schema( void )
{
	int i, rc;

	for ( i = 0; i < DMG_MON_N; i++ ) {
		rc = register_at( dmg_mon_at[i].def, &dmg_mon_at[i].ad, 0 );
		if ( rc ) {
			Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "cannot register attribute type "
				"\"%s\" (%d)\n", dmg_mon_at[i].def, rc );
			return rc;
		}
	}
	rc = register_oc( dmg_mon_oc_def, &dmg_mon_oc, 0 );
	if ( rc )
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "cannot register object class \"%s\" (%d)\n",
			dmg_mon_oc_def, rc );
	return rc;
}

static void
dmg_monitor_values( dmg_info *di, unsigned long *v )
{
	dmg_cache_stats st;

	dmg_cache_get_stats( di->cache, &st );
	v[DMG_MON_HITS] = st.hits;
	v[DMG_MON_MISSES] = st.misses;
	v[DMG_MON_INV_TARGETED] = st.invalidations_targeted;
	v[DMG_MON_INV_FULL] = st.invalidations_full;
	v[DMG_MON_DROPPED] = st.dropped;
	v[DMG_MON_REFUSED] = st.refused;
	v[DMG_MON_EVICTIONS] = st.evictions;
	v[DMG_MON_ENTRIES] = st.entries;
	v[DMG_MON_VALUES] = st.values;
	v[DMG_MON_BYTES] = st.bytes;
	v[DMG_MON_MAX_VALUES] = di->cache_max_values;
	v[DMG_MON_KEPT] = st.kept;
	v[DMG_MON_UPDATED] = st.updated;
}

static int
dmg_monitor_update( Operation *op, SlapReply *rs, Entry *e, void *priv )
{
	unsigned long v[DMG_MON_N];
	char buf[32];
	struct berval bv;
	Attribute *a;
	int i;

	(void)op;
	(void)rs;
	dmg_monitor_values( priv, v );
	for ( i = 0; i < DMG_MON_N; i++ ) {
		a = attr_find( e->e_attrs, dmg_mon_at[i].ad );
		if ( a == NULL )
			continue;
		bv.bv_val = buf;
		bv.bv_len = snprintf( buf, sizeof( buf ), "%lu", v[i] );
		if ( a->a_nvals != a->a_vals )
			ber_bvreplace( &a->a_nvals[0], &bv );
		ber_bvreplace( &a->a_vals[0], &bv );
	}
	return SLAP_CB_CONTINUE;
}

static int
dmg_monitor_free( Entry *e, void **priv )
{
	int i;

	(void)e;
	*priv = NULL;
	for ( i = 0; i < DMG_MON_N; i++ )
		attr_delete( &e->e_attrs, dmg_mon_at[i].ad );
	return SLAP_CB_CONTINUE;
}

static monitor_extra_t *
dmg_monitor_extra( void )
{
	BackendInfo *mi = backend_info( "monitor" );
	monitor_extra_t *mbe;

	if ( mi == NULL || mi->bi_extra == NULL )
		return NULL;
	mbe = mi->bi_extra;
	return mbe->is_configured() ? mbe : NULL;
}

/* objectClass and one attribute per statistic, all 0 until the entry is read */
static Attribute *
dmg_monitor_attrs( void )
{
	struct berval zero = BER_BVC( "0" );
	Attribute *a = attrs_alloc( 1 + DMG_MON_N ), *next;
	int i;

	a->a_desc = slap_schema.si_ad_objectClass;
	attr_valadd( a, &dmg_mon_oc->soc_cname, NULL, 1 );
	for ( i = 0, next = a->a_next; i < DMG_MON_N; i++, next = next->a_next ) {
		next->a_desc = dmg_mon_at[i].ad;
		attr_valadd( next, &zero, NULL, 1 );
	}
	return a;
}

#if LDAP_VENDOR_VERSION >= 20600
/* slapd 2.6 answers a registration with its database's monitor entry, not the overlay's
 * (monitor_back_register_database_and_overlay): the overlay's is "cn=Overlay N" below it, N
 * its place in the database's overlay list, as the monitor numbers them.  A registration
 * kept in the monitor's limbo (the monitor database opens after this one) gets its answer
 * only later: then nothing is published. */
static int
dmg_monitor_overlay_ndn( slap_overinst *on, dmg_info *di )
{
	slap_overinst *o;
	struct berval db = di->monitor_ndn;
	char prefix[32];
	int n = 0, len;

	if ( BER_BVISNULL( &db ) ) {
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "cache statistics are published under "
			"cn=monitor with slapd 2.6 only when the monitor database is configured "
			"before this database\n" );
		return -1;
	}
	for ( o = on->on_info->oi_list; o && o != on; o = o->on_next )
		n++;
	len = snprintf( prefix, sizeof( prefix ), "cn=overlay %d,", n );
	di->monitor_ndn.bv_len = len + db.bv_len;
	di->monitor_ndn.bv_val = ch_malloc( di->monitor_ndn.bv_len + 1 );
	memcpy( di->monitor_ndn.bv_val, prefix, len );
	memcpy( di->monitor_ndn.bv_val + len, db.bv_val, db.bv_len + 1 );
	di->monitor_ndn_owned = 1;
	return 0;
}
#endif

int
dmg_monitor_db_open( BackendDB *be )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	dmg_info *di = on->on_bi.bi_private;
	monitor_extra_t *mbe = dmg_monitor_extra();
	monitor_callback_t *cb;
	Attribute *a;
	int rc;

	if ( mbe == NULL || di->monitor_cb != NULL )
		return 0;
	a = dmg_monitor_attrs();
	cb = ch_calloc( 1, sizeof( monitor_callback_t ) );
	cb->mc_update = dmg_monitor_update;
	cb->mc_free = dmg_monitor_free;
	cb->mc_private = di;
	/* the overlay's entry below its database's; when the monitor database opens after this
	 * one, both registrations wait in its limbo and monitor_ndn is filled in then */
	BER_BVZERO( &di->monitor_ndn );
	rc = mbe->register_overlay( be, on, &di->monitor_ndn );
#if LDAP_VENDOR_VERSION >= 20600
	if ( rc == 0 )
		rc = dmg_monitor_overlay_ndn( on, di );
#endif
	if ( rc == 0 )
		rc = mbe->register_entry_attrs( &di->monitor_ndn, a, cb, NULL, -1, NULL );
	/* the monitor backend keeps a copy of the attributes */
	attrs_free( a );
	if ( rc != 0 ) {
		ch_free( cb );
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "cache statistics not registered with the "
			"monitor database of \"%s\" (%d)\n", be->be_suffix[0].bv_val, rc );
		return 0;	/* statistics are not worth refusing to serve */
	}
	di->monitor_cb = cb;
	return 0;
}

void
dmg_monitor_db_close( BackendDB *be )
{
	slap_overinst *on = (slap_overinst *)be->bd_info;
	dmg_info *di = on->on_bi.bi_private;
	monitor_extra_t *mbe = dmg_monitor_extra();
	struct berval dummy = BER_BVNULL;

	if ( di == NULL || di->monitor_cb == NULL )
		return;
	if ( mbe && !BER_BVISNULL( &di->monitor_ndn ) )
		mbe->unregister_entry_callback( &di->monitor_ndn, di->monitor_cb, &dummy, 0,
			&dummy );
	di->monitor_cb = NULL;
	if ( di->monitor_ndn_owned ) {
		ch_free( di->monitor_ndn.bv_val );
		BER_BVZERO( &di->monitor_ndn );
		di->monitor_ndn_owned = 0;
	}
}
