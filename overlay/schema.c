/* schema.c -- computed attribute types and the lookup of the stored schema
 *
 * slapd refuses operational attribute types in schema files, so the computed attributes are
 * registered here, in code, as ppolicy and dds do; this is their only definition.  The stored
 * attributes and the object class live in schema/dynmailgroup.schema only and are looked up
 * by name when a database opens.
 *
 * So are the UUID companions of the reference attributes (references.c): operational,
 * stored, written by the overlay.
 *
 * The computed types are not NO-USER-MODIFICATION: slapd would then refuse a write before
 * any overlay sees it, with a message that does not name the value; the write guard refuses
 * them instead (guard.c, dmg_check_no_computed), naming attribute and value.
 */
#include "dmg.h"

dmg_schema dmg_ad;

#define DMG_AT_OID "2.25.170250184653830165129562192269764786312.1."

#define DMG_UUID_AT( n, name, of, field ) \
	{ "( " DMG_AT_OID n " NAME '" name "' " \
		"DESC 'entryUUID of each entry " of " names (kept by the overlay)' " \
		"EQUALITY UUIDMatch ORDERING UUIDOrderingMatch " \
		"SYNTAX 1.3.6.1.1.16.1 USAGE directoryOperation )", &dmg_ad.field }

static struct {
	const char *def;
	AttributeDescription **ad;
} dmg_computed_at[] = {
	{ "( " DMG_AT_OID "11 NAME 'dmgMemberMail' "
		"DESC 'Every mail value of every current member (computed)' "
		"EQUALITY caseIgnoreIA5Match SUBSTR caseIgnoreIA5SubstringsMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 "
		"USAGE dSAOperation )", &dmg_ad.member_mail },
	{ "( " DMG_AT_OID "12 NAME 'dmgMemberCount' "
		"DESC 'Number of current members (computed)' "
		"EQUALITY integerMatch ORDERING integerOrderingMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE "
		"USAGE dSAOperation )", &dmg_ad.member_count },
	{ "( " DMG_AT_OID "13 NAME 'dmgMemberOf' "
		"DESC 'Dynamic mail groups that have this entry as member (computed)' "
		"EQUALITY distinguishedNameMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 "
		"USAGE dSAOperation )", &dmg_ad.member_of },
	{ "( " DMG_AT_OID "14 NAME 'dmgDecision' "
		"DESC 'accept, hold or reject for the dmgSender of the search filter (computed)' "
		"EQUALITY caseIgnoreIA5Match "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 SINGLE-VALUE "
		"USAGE dSAOperation )", &dmg_ad.decision },
	{ "( " DMG_AT_OID "15 NAME 'dmgDecisionReason' "
		"DESC 'Why dmgDecision is what it is (computed)' "
		"EQUALITY caseIgnoreMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE "
		"USAGE dSAOperation )", &dmg_ad.decision_reason },
	{ "( " DMG_AT_OID "16 NAME 'dmgAuditorMail' "
		"DESC 'Every mail value of every auditor of the group (computed)' "
		"EQUALITY caseIgnoreIA5Match "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.26 "
		"USAGE dSAOperation )", &dmg_ad.auditor_mail },
	/* Assertion only: (dmgSender=ADDR) is always true and names the envelope sender.  Octet
	 * String accepts any value, so the null sender "(dmgSender=)" survives filter parsing. */
	{ "( " DMG_AT_OID "17 NAME 'dmgSender' "
		"DESC 'Envelope sender a decision is asked for (filter assertion only)' "
		"EQUALITY octetStringMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 "
		"USAGE dSAOperation )", &dmg_ad.sender },
	/* .18 and .19 are dmgIncludeMember and dmgExcludeMember (schema/dynmailgroup.schema) */
	/* Assertion only: (dmgExplainMember=DN) is always true and names the entry
	 * dmgMembershipExplanation explains. */
	{ "( " DMG_AT_OID "20 NAME 'dmgExplainMember' "
		"DESC 'Entry a membership explanation is asked for (filter assertion only)' "
		"EQUALITY distinguishedNameMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 "
		"USAGE dSAOperation )", &dmg_ad.explain_member },
	{ "( " DMG_AT_OID "21 NAME 'dmgMembershipExplanation' "
		"DESC 'Why the dmgExplainMember entry is or is not a member (computed)' "
		"EQUALITY caseIgnoreMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE "
		"USAGE dSAOperation )", &dmg_ad.explanation },
	{ "( " DMG_AT_OID "22 NAME 'dmgJoiningMember' "
		"DESC 'Members a previewed write would add (computed)' "
		"EQUALITY distinguishedNameMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 "
		"USAGE dSAOperation )", &dmg_ad.joining_member },
	{ "( " DMG_AT_OID "23 NAME 'dmgLeavingMember' "
		"DESC 'Members a previewed write would remove (computed)' "
		"EQUALITY distinguishedNameMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 "
		"USAGE dSAOperation )", &dmg_ad.leaving_member },
	{ "( " DMG_AT_OID "30 NAME 'dmgDanglingReference' "
		"DESC 'A reference of the group naming an entry that no longer exists: attribute, "
		"DN as stored (computed)' "
		"EQUALITY caseIgnoreMatch "
		"SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 "
		"USAGE dSAOperation )", &dmg_ad.dangling },
	/* Stored, written by the overlay: the entryUUID of every entry a reference names.
	 * Operational (directoryOperation) so that "*" shows what administrators wrote, while
	 * syncrepl, slapcat and slapadd carry them like any stored value; not
	 * NO-USER-MODIFICATION, so that the write guard answers a client naming the attribute
	 * (guard.c) and the rootdn can load them with the Relax Rules control. */
	DMG_UUID_AT( "24", "dmgDepartmentUUID", "dmgDepartment", department_uuid ),
	DMG_UUID_AT( "25", "dmgAdministratorUUID", "dmgAdministrator", administrator_uuid ),
	DMG_UUID_AT( "26", "dmgAuditorUUID", "dmgAuditor", auditor_uuid ),
	DMG_UUID_AT( "27", "dmgApplicantUUID", "dmgApplicant", applicant_uuid ),
	DMG_UUID_AT( "28", "dmgIncludeMemberUUID", "dmgIncludeMember", include_member_uuid ),
	DMG_UUID_AT( "29", "dmgExcludeMemberUUID", "dmgExcludeMember", exclude_member_uuid ),
	{ NULL, NULL }
};

int
dmg_schema_register_computed( void )
{
	int i, rc;

	for ( i = 0; dmg_computed_at[i].def; i++ ) {
		rc = register_at( dmg_computed_at[i].def, dmg_computed_at[i].ad, 0 );
		if ( rc ) {
			Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX
				"cannot register attribute type %s (%d)\n",
				dmg_computed_at[i].def, rc );
			return rc;
		}
	}
	return 0;
}

static int
dmg_lookup_ad( const char *name, AttributeDescription **ad, const char **missing )
{
	const char *text = NULL;

	*ad = NULL;
	if ( slap_str2ad( name, ad, &text ) != LDAP_SUCCESS ) {
		*missing = name;
		return 1;
	}
	return 0;
}

static int
dmg_lookup_oc( const char *name, ObjectClass **oc, const char **missing )
{
	*oc = oc_find( name );
	if ( *oc == NULL ) {
		*missing = name;
		return 1;
	}
	return 0;
}

/* One bit per computed attribute type, chosen by the type's address: most types an entry
 * holds are told apart from every computed one by a single test (dmg_ad_is_computed runs on
 * each attribute of each entry answered).  Set when a database opens, once member is known. */
static unsigned long dmg_computed_bits;

#define DMG_AT_BIT( at ) \
	( 1UL << ( ( (unsigned long)(at) / sizeof( AttributeType ) ) % ( 8 * sizeof( unsigned long ) ) ) )

static void
dmg_schema_computed_bits( void )
{
	unsigned long bits = DMG_AT_BIT( dmg_ad.member->ad_type );
	int i;

	for ( i = 0; dmg_computed_at[i].def; i++ ) {
		if ( dmg_ad_is_computed( *dmg_computed_at[i].ad ) )
			bits |= DMG_AT_BIT( ( *dmg_computed_at[i].ad )->ad_type );
	}
	dmg_computed_bits = bits;
}

int
dmg_schema_resolve_stored( const char **missing )
{
	if ( dmg_lookup_oc( "dynamicMailGroup", &dmg_ad.oc_group, missing )
		|| dmg_lookup_ad( "dmgDepartment", &dmg_ad.department, missing )
		|| dmg_lookup_ad( "dmgIncludeSubDepartments", &dmg_ad.include_sub, missing )
		|| dmg_lookup_ad( "dmgCondition", &dmg_ad.condition, missing )
		|| dmg_lookup_ad( "dmgApplicant", &dmg_ad.applicant, missing )
		|| dmg_lookup_ad( "dmgAdministrator", &dmg_ad.administrator, missing )
		|| dmg_lookup_ad( "dmgAuditRequired", &dmg_ad.audit_required, missing )
		|| dmg_lookup_ad( "dmgAuditor", &dmg_ad.auditor, missing )
		|| dmg_lookup_ad( "dmgSendPolicy", &dmg_ad.send_policy, missing )
		|| dmg_lookup_ad( "dmgWhitelist", &dmg_ad.whitelist, missing )
		|| dmg_lookup_ad( "dmgShowInContacts", &dmg_ad.show_in_contacts, missing )
		|| dmg_lookup_ad( "dmgIncludeMember", &dmg_ad.include_member, missing )
		|| dmg_lookup_ad( "dmgExcludeMember", &dmg_ad.exclude_member, missing )
		|| dmg_lookup_ad( "mail", &dmg_ad.mail, missing )
		|| dmg_lookup_ad( "member", &dmg_ad.member, missing )
		|| dmg_lookup_ad( "uniqueMember", &dmg_ad.unique_member, missing )
		|| dmg_lookup_oc( "groupOfNames", &dmg_ad.oc_group_of_names, missing )
		|| dmg_lookup_oc( "groupOfUniqueNames", &dmg_ad.oc_group_of_unique_names, missing ) )
		return 1;
	dmg_schema_computed_bits();
	return 0;
}

/* By type: "member;x-tag" is as computed as "member" */
int
dmg_ad_is_group_computed( AttributeDescription *ad )
{
	AttributeType *at = ad->ad_type;

	if ( dmg_computed_bits && !( dmg_computed_bits & DMG_AT_BIT( at ) ) )
		return 0;
	return at == dmg_ad.member->ad_type || at == dmg_ad.member_mail->ad_type
		|| at == dmg_ad.member_count->ad_type || at == dmg_ad.decision->ad_type
		|| at == dmg_ad.decision_reason->ad_type || at == dmg_ad.auditor_mail->ad_type
		|| at == dmg_ad.explanation->ad_type || at == dmg_ad.joining_member->ad_type
		|| at == dmg_ad.leaving_member->ad_type || at == dmg_ad.dangling->ad_type;
}

int
dmg_ad_is_computed( AttributeDescription *ad )
{
	if ( dmg_computed_bits && !( dmg_computed_bits & DMG_AT_BIT( ad->ad_type ) ) )
		return 0;
	return dmg_ad_is_group_computed( ad ) || ad->ad_type == dmg_ad.member_of->ad_type
		|| ad->ad_type == dmg_ad.sender->ad_type || ad->ad_type == dmg_ad.explain_member->ad_type;
}
