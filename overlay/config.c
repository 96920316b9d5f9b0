/* config.c -- slapd.conf directives and cn=config attributes of slapo-dynmailgroup
 *
 * Every directive has one ConfigTable row, so it works both in slapd.conf and as an
 * olcDynMailGroup* attribute.  cn=config changes run with the server paused (bconfig.c calls
 * slap_pause_server), so the values need no lock; a value is parsed completely before it
 * replaces the old one, so a refused value leaves the configuration as it was.
 */
#include "dmg.h"

#define DMG_CFG_OID "2.25.170250184653830165129562192269764786312.3."
#define DMG_OC_OID "2.25.170250184653830165129562192269764786312.4."

enum {
	DMG_CF_MEMBER_FILTER = 1,
	DMG_CF_DEPT_FILTER,
	DMG_CF_POSTMASTER,
	DMG_CF_PRIVILEGED,
	DMG_CF_MAX_DEPARTMENTS,
	DMG_CF_MAX_WHITELIST,
	DMG_CF_MAX_MEMBERS,
	DMG_CF_CACHE_MAX_VALUES,
	DMG_CF_MAX_CONDITION_LENGTH,
	DMG_CF_MAX_CONDITIONS,
	DMG_CF_MAX_OVERRIDES,
	DMG_CF_FLUSH,
	DMG_CF_MEMBER_VISIBILITY
};

static ConfigDriver dmg_cf_gen;

static ConfigTable dmg_cfg[] = {
	{ .name = "dynmailgroup-member-filter", .what = "filter", .min_args = 2, .max_args = 2,
		.arg_type = ARG_QUOTE|ARG_MAGIC|DMG_CF_MEMBER_FILTER, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "1 NAME 'olcDynMailGroupMemberFilter' "
		"DESC 'Filter an entry must match to be a member of any group' "
		"EQUALITY caseExactMatch SYNTAX OMsDirectoryString SINGLE-VALUE )" },
	{ .name = "dynmailgroup-department-filter", .what = "filter", .min_args = 2, .max_args = 2,
		.arg_type = ARG_QUOTE|ARG_MAGIC|DMG_CF_DEPT_FILTER, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "2 NAME 'olcDynMailGroupDepartmentFilter' "
		"DESC 'Filter a department entry matches' "
		"EQUALITY caseExactMatch SYNTAX OMsDirectoryString SINGLE-VALUE )" },
	{ .name = "dynmailgroup-postmaster", .what = "dn", .min_args = 2, .max_args = 2,
		.arg_type = ARG_DN|ARG_QUOTE|ARG_MAGIC|DMG_CF_POSTMASTER, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "3 NAME 'olcDynMailGroupPostmaster' "
		"DESC 'Postmaster account, or group of postmasters' "
		"EQUALITY distinguishedNameMatch SYNTAX OMsDN )" },
	{ .name = "dynmailgroup-privileged", .what = "dn", .min_args = 2, .max_args = 2,
		.arg_type = ARG_DN|ARG_QUOTE|ARG_MAGIC|DMG_CF_PRIVILEGED, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "4 NAME 'olcDynMailGroupPrivileged' "
		"DESC 'Identity, or group of identities, that sees hidden groups' "
		"EQUALITY distinguishedNameMatch SYNTAX OMsDN )" },
	{ .name = "dynmailgroup-max-departments", .what = "count", .min_args = 2, .max_args = 2,
		.arg_type = ARG_INT|ARG_MAGIC|DMG_CF_MAX_DEPARTMENTS, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "5 NAME 'olcDynMailGroupMaxDepartments' "
		"DESC 'Most dmgDepartment values a group may have' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	{ .name = "dynmailgroup-max-whitelist", .what = "count", .min_args = 2, .max_args = 2,
		.arg_type = ARG_INT|ARG_MAGIC|DMG_CF_MAX_WHITELIST, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "6 NAME 'olcDynMailGroupMaxWhitelist' "
		"DESC 'Most dmgWhitelist values a group may have' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	{ .name = "dynmailgroup-max-members", .what = "count", .min_args = 2, .max_args = 2,
		.arg_type = ARG_ULONG|ARG_MAGIC|DMG_CF_MAX_MEMBERS, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "7 NAME 'olcDynMailGroupMaxMembers' "
		"DESC 'Most members a group may have; 0 is no limit' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	{ .name = "dynmailgroup-cache-max-values", .what = "count", .min_args = 2, .max_args = 2,
		.arg_type = ARG_ULONG|ARG_MAGIC|DMG_CF_CACHE_MAX_VALUES, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "8 NAME 'olcDynMailGroupCacheMaxValues' "
		"DESC 'Bound on cached member values (default 1000000); 0 disables the cache' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	{ .name = "dynmailgroup-max-overrides", .what = "count", .min_args = 2, .max_args = 2,
		.arg_type = ARG_INT|ARG_MAGIC|DMG_CF_MAX_OVERRIDES, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "9 NAME 'olcDynMailGroupMaxOverrides' "
		"DESC 'Most dmgIncludeMember, and most dmgExcludeMember, values a group may have' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	{ .name = "dynmailgroup-member-visibility", .what = "requester|group", .min_args = 2,
		.max_args = 2, .arg_type = ARG_STRING|ARG_MAGIC|DMG_CF_MEMBER_VISIBILITY,
		.arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "10 NAME 'olcDynMailGroupMemberVisibility' "
		"DESC 'requester: members as each requester may see them; group: as the rootdn "
		"sees them, to whoever may read the group member attribute' "
		"EQUALITY caseIgnoreMatch SYNTAX OMsDirectoryString SINGLE-VALUE )" },
	{ .name = "dynmailgroup-max-condition-length", .what = "octets", .min_args = 2, .max_args = 2,
		.arg_type = ARG_INT|ARG_MAGIC|DMG_CF_MAX_CONDITION_LENGTH, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "11 NAME 'olcDynMailGroupMaxConditionLength' "
		"DESC 'Longest dmgCondition value, in octets' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	{ .name = "dynmailgroup-max-conditions", .what = "count", .min_args = 2, .max_args = 2,
		.arg_type = ARG_INT|ARG_MAGIC|DMG_CF_MAX_CONDITIONS, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "12 NAME 'olcDynMailGroupMaxConditions' "
		"DESC 'Most dmgCondition values a group may have' "
		"EQUALITY integerMatch SYNTAX OMsInteger SINGLE-VALUE )" },
	/* an action, not a setting: writing it empties the cache (dmg_cf_gen); it is never
	 * emitted, so a converted slapd.conf does not carry it */
	{ .name = "dynmailgroup-flush", .what = "TRUE", .min_args = 2, .max_args = 2,
		.arg_type = ARG_ON_OFF|ARG_MAGIC|DMG_CF_FLUSH, .arg_item = (void *)dmg_cf_gen,
		.attribute =
		"( " DMG_CFG_OID "13 NAME 'olcDynMailGroupFlush' "
		"DESC 'Writing it empties the membership cache' "
		"SYNTAX OMsBoolean SINGLE-VALUE )" },
	{ .name = NULL, .arg_type = ARG_IGNORED }
};

static ConfigOCs dmg_ocs[] = {
	{ .co_def = "( " DMG_OC_OID "1 NAME 'olcDynMailGroupConfig' "
		"DESC 'Dynamic mail group overlay configuration' "
		"SUP olcOverlayConfig "
		"MAY ( olcDynMailGroupMemberFilter $ olcDynMailGroupDepartmentFilter $ "
		"olcDynMailGroupPostmaster $ olcDynMailGroupPrivileged $ "
		"olcDynMailGroupMaxDepartments $ olcDynMailGroupMaxWhitelist $ "
		"olcDynMailGroupMaxMembers $ olcDynMailGroupCacheMaxValues $ "
		"olcDynMailGroupMaxConditionLength $ olcDynMailGroupMaxConditions $ "
		"olcDynMailGroupMaxOverrides $ olcDynMailGroupFlush $ "
		"olcDynMailGroupMemberVisibility ) )",
		.co_type = Cft_Overlay, .co_table = dmg_cfg },
	{ .co_def = NULL }
};

/* ---- filters ---------------------------------------------------------------------------- */

static int
dmg_filter_set( Filter **f, struct berval *str, const char *value, char *msg, size_t msgsz )
{
	Filter *nf = str2filter( value );

	if ( nf == NULL ) {
		snprintf( msg, msgsz, "invalid filter \"%s\"", value );
		return 1;
	}
	if ( *f )
		filter_free( *f );
	ch_free( str->bv_val );
	*f = nf;
	ber_str2bv( value, 0, 1, str );
	return 0;
}

static void
dmg_filter_reset( Filter **f, struct berval *str, const char *dflt )
{
	if ( *f )
		filter_free( *f );
	ch_free( str->bv_val );
	*f = str2filter( dflt );
	ber_str2bv( dflt, 0, 1, str );
}

/* ---- DN lists ------------------------------------------------------------------------------ */

static void
dmg_dnlist_delete( BerVarray *pretty, BerVarray *norm, int valx )
{
	int i, n;

	if ( valx < 0 || *pretty == NULL ) {
		ber_bvarray_free( *pretty );
		ber_bvarray_free( *norm );
		*pretty = *norm = NULL;
		return;
	}
	for ( n = 0; !BER_BVISNULL( &(*pretty)[n] ); n++ )
		;
	if ( valx >= n )
		return;
	ch_free( (*pretty)[valx].bv_val );
	ch_free( (*norm)[valx].bv_val );
	for ( i = valx; i < n; i++ ) {
		(*pretty)[i] = (*pretty)[i + 1];
		(*norm)[i] = (*norm)[i + 1];
	}
	if ( n == 1 ) {
		ch_free( *pretty );
		ch_free( *norm );
		*pretty = *norm = NULL;
	}
}

static void
dmg_dnlist_add( BerVarray *pretty, BerVarray *norm, ConfigArgs *c )
{
	ber_bvarray_add( pretty, &c->value_dn );
	ber_bvarray_add( norm, &c->value_ndn );
	BER_BVZERO( &c->value_dn );
	BER_BVZERO( &c->value_ndn );
}

/* ---- the driver ------------------------------------------------------------------------------ */

static int
dmg_cf_emit( ConfigArgs *c, dmg_info *di )
{
	switch ( c->type ) {
	case DMG_CF_MEMBER_FILTER:
		value_add_one( &c->rvalue_vals, &di->member_filter_str );
		return 0;
	case DMG_CF_DEPT_FILTER:
		value_add_one( &c->rvalue_vals, &di->dept_filter_str );
		return 0;
	case DMG_CF_POSTMASTER:
		if ( di->postmaster == NULL )
			return 1;
		value_add( &c->rvalue_vals, di->postmaster );
		value_add( &c->rvalue_nvals, di->postmaster_n );
		return 0;
	case DMG_CF_PRIVILEGED:
		if ( di->privileged == NULL )
			return 1;
		value_add( &c->rvalue_vals, di->privileged );
		value_add( &c->rvalue_nvals, di->privileged_n );
		return 0;
	case DMG_CF_MAX_DEPARTMENTS:
		c->value_int = di->max_departments;
		return 0;
	case DMG_CF_MAX_WHITELIST:
		c->value_int = di->max_whitelist;
		return 0;
	case DMG_CF_MAX_MEMBERS:
		c->value_ulong = di->max_members;
		return 0;
	case DMG_CF_CACHE_MAX_VALUES:
		c->value_ulong = di->cache_max_values;
		return 0;
	case DMG_CF_MAX_CONDITION_LENGTH:
		c->value_int = di->max_condition_length;
		return 0;
	case DMG_CF_MAX_CONDITIONS:
		c->value_int = di->max_conditions;
		return 0;
	case DMG_CF_MAX_OVERRIDES:
		c->value_int = di->max_overrides;
		return 0;
	case DMG_CF_MEMBER_VISIBILITY:
		c->value_string = ch_strdup( di->visibility_group ? "group" : "requester" );
		return 0;
	}
	return 1;
}

static int
dmg_cf_delete( ConfigArgs *c, dmg_info *di )
{
	switch ( c->type ) {
	case DMG_CF_MEMBER_FILTER:
		dmg_filter_reset( &di->member_filter, &di->member_filter_str, DMG_DEFAULT_MEMBER_FILTER );
		break;
	case DMG_CF_DEPT_FILTER:
		dmg_filter_reset( &di->dept_filter, &di->dept_filter_str, DMG_DEFAULT_DEPT_FILTER );
		break;
	case DMG_CF_POSTMASTER:
		dmg_dnlist_delete( &di->postmaster, &di->postmaster_n, c->valx );
		break;
	case DMG_CF_PRIVILEGED:
		dmg_dnlist_delete( &di->privileged, &di->privileged_n, c->valx );
		break;
	case DMG_CF_MAX_DEPARTMENTS:
		di->max_departments = DMG_DEFAULT_MAX_DEPARTMENTS;
		break;
	case DMG_CF_MAX_WHITELIST:
		di->max_whitelist = DMG_DEFAULT_MAX_WHITELIST;
		break;
	case DMG_CF_MAX_MEMBERS:
		di->max_members = 0;
		break;
	case DMG_CF_CACHE_MAX_VALUES:
		di->cache_max_values = DMG_DEFAULT_CACHE_MAX_VALUES;
		break;
	case DMG_CF_MAX_CONDITION_LENGTH:
		di->max_condition_length = DMG_DEFAULT_MAX_CONDITION_LENGTH;
		break;
	case DMG_CF_MAX_CONDITIONS:
		di->max_conditions = DMG_DEFAULT_MAX_CONDITIONS;
		break;
	case DMG_CF_MAX_OVERRIDES:
		di->max_overrides = DMG_DEFAULT_MAX_OVERRIDES;
		break;
	case DMG_CF_MEMBER_VISIBILITY:
		di->visibility_group = 0;
		break;
	}
	return 0;
}

static int
dmg_cf_positive( ConfigArgs *c, int *target )
{
	if ( c->value_int < 1 ) {
		snprintf( c->cr_msg, sizeof( c->cr_msg ),
			"<%s> must be a positive number, not \"%s\"", c->argv[0], c->argv[1] );
		return 1;
	}
	*target = c->value_int;
	return 0;
}

static int
dmg_cf_visibility( ConfigArgs *c, int *group )
{
	int rc = 0;

	/* slapd handed the value over as a string of its own (ARG_STRING) */
	if ( strcasecmp( c->value_string, "requester" ) == 0 )
		*group = 0;
	else if ( strcasecmp( c->value_string, "group" ) == 0 )
		*group = 1;
	else {
		snprintf( c->cr_msg, sizeof( c->cr_msg ),
			"<%s> must be \"requester\" or \"group\", not \"%s\"", c->argv[0],
			c->value_string );
		rc = 1;
	}
	ch_free( c->value_string );
	c->value_string = NULL;
	return rc;
}

static int
dmg_cf_set( ConfigArgs *c, dmg_info *di )
{
	switch ( c->type ) {
	case DMG_CF_MEMBER_FILTER:
		return dmg_filter_set( &di->member_filter, &di->member_filter_str,
			c->argv[1], c->cr_msg, sizeof( c->cr_msg ) );
	case DMG_CF_DEPT_FILTER:
		return dmg_filter_set( &di->dept_filter, &di->dept_filter_str,
			c->argv[1], c->cr_msg, sizeof( c->cr_msg ) );
	case DMG_CF_POSTMASTER:
		dmg_dnlist_add( &di->postmaster, &di->postmaster_n, c );
		return 0;
	case DMG_CF_PRIVILEGED:
		dmg_dnlist_add( &di->privileged, &di->privileged_n, c );
		return 0;
	case DMG_CF_MAX_DEPARTMENTS:
		return dmg_cf_positive( c, &di->max_departments );
	case DMG_CF_MAX_WHITELIST:
		return dmg_cf_positive( c, &di->max_whitelist );
	case DMG_CF_MAX_MEMBERS:
		di->max_members = c->value_ulong;
		return 0;
	case DMG_CF_CACHE_MAX_VALUES:
		di->cache_max_values = c->value_ulong;
		return 0;
	case DMG_CF_MAX_CONDITION_LENGTH:
		return dmg_cf_positive( c, &di->max_condition_length );
	case DMG_CF_MAX_CONDITIONS:
		return dmg_cf_positive( c, &di->max_conditions );
	case DMG_CF_MAX_OVERRIDES:
		return dmg_cf_positive( c, &di->max_overrides );
	case DMG_CF_FLUSH:
		return 0;
	case DMG_CF_MEMBER_VISIBILITY:
		return dmg_cf_visibility( c, &di->visibility_group );
	}
	return 1;
}

static int
dmg_cf_gen( ConfigArgs *c )
{
	slap_overinst *on = (slap_overinst *)c->bi;
	dmg_info *di = on->on_bi.bi_private;
	int rc;

	if ( c->op == SLAP_CONFIG_EMIT )
		return dmg_cf_emit( c, di );
	if ( c->op == LDAP_MOD_DELETE )
		rc = dmg_cf_delete( c, di );
	else
		rc = dmg_cf_set( c, di );
	if ( rc ) {
		Debug( LDAP_DEBUG_ANY, "%s: " DMG_LOG_PREFIX "%s\n", c->log, c->cr_msg );
		return ARG_BAD_CONF;
	}
	/* any change may change who is a member: no cached list survives it */
	dmg_cache_set_limit( di->cache, di->cache_max_values );
	dmg_cache_invalidate( di->cache );
	/* nor a remembered role (the postmasters and privileged identities), nor the names
	 * reverse lookups remember (a flush reads them again too) */
	dmg_roles_moved( di );
	dmg_named_moved( di );
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

int
dmg_info_set_defaults( dmg_info *di )
{
	dmg_filter_reset( &di->member_filter, &di->member_filter_str, DMG_DEFAULT_MEMBER_FILTER );
	dmg_filter_reset( &di->dept_filter, &di->dept_filter_str, DMG_DEFAULT_DEPT_FILTER );
	di->max_departments = DMG_DEFAULT_MAX_DEPARTMENTS;
	di->max_whitelist = DMG_DEFAULT_MAX_WHITELIST;
	di->max_members = 0;
	di->cache_max_values = DMG_DEFAULT_CACHE_MAX_VALUES;
	if ( di->cache )
		dmg_cache_set_limit( di->cache, di->cache_max_values );
	di->max_condition_length = DMG_DEFAULT_MAX_CONDITION_LENGTH;
	di->max_conditions = DMG_DEFAULT_MAX_CONDITIONS;
	di->max_overrides = DMG_DEFAULT_MAX_OVERRIDES;
	di->visibility_group = 0;
	return di->member_filter == NULL || di->dept_filter == NULL;
}

void
dmg_info_free( dmg_info *di )
{
	if ( di->member_filter )
		filter_free( di->member_filter );
	if ( di->dept_filter )
		filter_free( di->dept_filter );
	dmg_cache_destroy( di->cache );
	dmg_who_memo_free( di->who_memo );
	dmg_named_free( di->named );
	ch_free( di->member_filter_str.bv_val );
	ch_free( di->dept_filter_str.bv_val );
	ber_bvarray_free( di->postmaster );
	ber_bvarray_free( di->postmaster_n );
	ber_bvarray_free( di->privileged );
	ber_bvarray_free( di->privileged_n );
}

int
dmg_config_init( BackendInfo *bi )
{
	bi->bi_cf_ocs = dmg_ocs;
	return config_register_schema( dmg_cfg, dmg_ocs );
}
