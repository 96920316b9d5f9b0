/* test_decision.c -- send decisions through LDAP (man page SEND DECISIONS)
 *
 * A search with (dmgSender=ADDR) in its filter returns dmgDecision, dmgDecisionReason and
 * dmgAuditorMail on the group; the MTA's account is privileged and sees hidden groups.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"

static dmg_server *srv;

#define GROUPS "ou=Groups," DMG_SUFFIX
#define ALICE "uid=alice,ou=Engineering," DMG_SUFFIX	/* Manager, Berlin, 2 mails */
#define MIA "uid=mia,ou=Support," DMG_SUFFIX
#define MTA "uid=mta,ou=System," DMG_SUFFIX

static LDAP *
as_root( void )
{
	return dmg_connect( srv, DMG_ROOTDN, DMG_ROOTPW );
}

/* Adds a group on Engineering managers with the given extra LDIF lines. */
static void
add_group( LDAP *ld, const char *cn, const char *extra )
{
	char ldif[2048];

	snprintf( ldif, sizeof( ldif ),
		"dn: cn=%s," GROUPS "\n"
		"objectClass: dynamicMailGroup\n"
		"cn: %s\n"
		"mail: %s@example.com\n"
		"dmgDepartment: ou=Engineering," DMG_SUFFIX "\n"
		"dmgCondition: (title=Manager)\n"
		"%s", cn, cn, cn, extra );
	DMG_ASSERT_RC( dmg_add_ldif( ld, ldif ), LDAP_SUCCESS );
}

/* The decision and reason for sender on the group with this mail, as "decision|reason" */
static char *
decide( LDAP *ld, const char *group_mail, const char *sender_filter_value )
{
	static const char *const attrs[] = { "dmgDecision", "dmgDecisionReason", NULL };
	char filter[512];
	dmg_entries *e = NULL;
	const dmg_attr *d, *r;
	char *out;

	snprintf( filter, sizeof( filter ), "(&(mail=%s)(dmgSender=%s))", group_mail,
		sender_filter_value );
	DMG_ASSERT_RC( dmg_search( ld, DMG_SUFFIX, LDAP_SCOPE_SUBTREE, filter, attrs, NULL, &e ),
		LDAP_SUCCESS );
	ck_assert_uint_eq( e->count, 1 );
	d = dmg_entry_attr( &e->entries[0], "dmgDecision" );
	r = dmg_entry_attr( &e->entries[0], "dmgDecisionReason" );
	ck_assert_ptr_nonnull( d );
	ck_assert_ptr_nonnull( r );
	out = malloc( strlen( d->values[0] ) + strlen( r->values[0] ) + 2 );
	sprintf( out, "%s|%s", d->values[0], r->values[0] );
	dmg_entries_free( e );
	return out;
}

#define ASSERT_DECISION( ld, group_mail, sender, expected ) \
	do { char *got_ = decide( (ld), (group_mail), (sender) ); \
	     DMG_ASSERT_STR( got_, (expected) ); free( got_ ); } while ( 0 )

/* A group (cn, its mail cn@example.com, and the extra LDIF lines) and the decision and reason
 * expected for each sender to it, as ASSERT_DECISION compares them. */
typedef struct decision_case {
	const char *cn;
	const char *extra;
	struct {
		const char *sender;
		const char *expected;
	} senders[3];	/* up to the first NULL sender */
} decision_case;

static const decision_case decision_cases[] = {
	/* the members policy accepts members and rejects others */
	{ "dec-members", "dmgSendPolicy: members\n", {
		{ "alice.anderson@example.com",
		  "accept|sender allowed by policy members: alice.anderson@example.com may send to "
		  "dec-members@example.com" },
		{ "BOB@example.com",
		  "reject|sender BOB@example.com is not allowed to send to dec-members@example.com "
		  "(policy: members)" } } },
	/* without dmgSendPolicy the policy is domain */
	{ "dec-domain", "", {
		{ "someone@EXAMPLE.com.",
		  "accept|sender allowed by policy domain: someone@EXAMPLE.com may send to "
		  "dec-domain@example.com" },
		{ "zoe@example.org",
		  "reject|sender zoe@example.org is not allowed to send to dec-domain@example.com "
		  "(policy: domain)" } } },
	/* a whitelist names an address or a whole domain (not its subdomains) */
	{ "dec-wl", "dmgSendPolicy: whitelist\n"
		"dmgWhitelist: partner@example.net\ndmgWhitelist: @example.org\n", {
		{ "Partner@Example.NET",
		  "accept|sender allowed by policy whitelist: Partner@Example.NET may send to "
		  "dec-wl@example.com" },
		{ "zoe@example.org",
		  "accept|sender allowed by policy whitelist: zoe@example.org may send to "
		  "dec-wl@example.com" },
		{ "x@sub.example.org",
		  "reject|sender x@sub.example.org is not allowed to send to dec-wl@example.com "
		  "(policy: whitelist)" } } },
	/* the null sender in both forms: refused unless the policy is anyone */
	{ "dec-null", "dmgSendPolicy: members\ndmgSendPolicy: domain\n", {
		{ "",
		  "reject|the null sender <> is not allowed to send to dec-null@example.com "
		  "(policy: domain, members)" },
		{ "<>",
		  "reject|the null sender <> is not allowed to send to dec-null@example.com "
		  "(policy: domain, members)" } } },
	{ "dec-null-any", "dmgSendPolicy: anyone\n", {
		{ "",
		  "accept|sender allowed by policy anyone: <> may send to "
		  "dec-null-any@example.com" } } },
	/* a malformed sender is rejected even by the policy anyone */
	{ "dec-bad", "dmgSendPolicy: anyone\n", {
		{ "no-at-sign", "reject|malformed sender address: address has no @" },
		{ "@example.com", "reject|malformed sender address: empty local part" } } },
};

/* One row of decision_cases per iteration (_i). */
START_TEST( decisions_for_senders )
{
	const decision_case *c = &decision_cases[_i];
	LDAP *ld = as_root();
	char group_mail[256];

	add_group( ld, c->cn, c->extra );
	snprintf( group_mail, sizeof( group_mail ), "%s@example.com", c->cn );
	for ( size_t i = 0; i < 3 && c->senders[i].sender != NULL; i++ ) {
		ASSERT_DECISION( ld, group_mail, c->senders[i].sender, c->senders[i].expected );
	}
	dmg_disconnect( ld );
}
END_TEST

START_TEST( audit_holds_and_names_auditors )
{
	LDAP *ld = as_root();

	add_group( ld, "dec-audit", "dmgSendPolicy: anyone\ndmgAuditRequired: TRUE\n"
		"dmgAuditor: " MIA "\n" );
	ASSERT_DECISION( ld, "dec-audit@example.com", "outsider@example.net",
		"hold|mail to dec-audit@example.com is held for audit: sender outsider@example.net "
		"(allowed by policy anyone) is not an auditor" );
	ASSERT_DECISION( ld, "dec-audit@example.com", "mia@example.com",
		"accept|sender allowed by policy anyone: mia@example.com may send to "
		"dec-audit@example.com (sender is an auditor, not held for audit)" );
	/* by name, with or without dmgSender */
	DMG_ASSERT_VALUES( ld, GROUPS, LDAP_SCOPE_SUBTREE, "(cn=dec-audit)", "dmgAuditorMail",
		"mia@example.com" );
	{
		dmg_entries *e = NULL;

		DMG_ASSERT_RC( dmg_search( ld, GROUPS, LDAP_SCOPE_SUBTREE, "(cn=dec-audit)", NULL,
			NULL, &e ), LDAP_SUCCESS );
		ck_assert_ptr_null( dmg_entry_attr( &e->entries[0], "dmgAuditorMail" ) );
		ck_assert_ptr_null( dmg_entry_attr( &e->entries[0], "dmgDecision" ) );
		dmg_entries_free( e );
	}
	dmg_disconnect( ld );
}
END_TEST

START_TEST( decision_only_by_name_and_with_sender )
{
	LDAP *ld = as_root();
	dmg_entries *e = NULL;
	static const char *const plus[] = { "+", NULL };
	static const char *const byname[] = { "dmgDecision", NULL };

	add_group( ld, "dec-name", "" );
	DMG_ASSERT_RC( dmg_search( ld, GROUPS, LDAP_SCOPE_SUBTREE,
		"(&(cn=dec-name)(dmgSender=a@example.com))", plus, NULL, &e ), LDAP_SUCCESS );
	ck_assert_ptr_null( dmg_entry_attr( &e->entries[0], "dmgDecision" ) );
	dmg_entries_free( e );
	DMG_ASSERT_RC( dmg_search( ld, GROUPS, LDAP_SCOPE_SUBTREE, "(cn=dec-name)", byname,
		NULL, &e ), LDAP_SUCCESS );
	ck_assert_ptr_null( dmg_entry_attr( &e->entries[0], "dmgDecision" ) );
	dmg_entries_free( e );
	dmg_disconnect( ld );
}
END_TEST

START_TEST( privileged_mta_decides_on_hidden_group_others_see_nothing )
{
	LDAP *root = as_root(), *mta, *anon;
	char *got;

	add_group( root, "dec-hidden", "dmgSendPolicy: members\ndmgShowInContacts: FALSE\n" );
	dmg_disconnect( root );
	mta = dmg_connect( srv, MTA, DMG_PASSWORD );
	ASSERT_DECISION( mta, "dec-hidden@example.com", "alice@example.com",
		"accept|sender allowed by policy members: alice@example.com may send to "
		"dec-hidden@example.com" );
	dmg_disconnect( mta );
	anon = dmg_connect( srv, NULL, NULL );
	got = dmg_dns_joined( anon, DMG_SUFFIX, LDAP_SCOPE_SUBTREE,
		"(&(mail=dec-hidden@example.com)(dmgSender=alice@example.com))" );
	DMG_ASSERT_STR( got, "" );
	free( got );
	dmg_disconnect( anon );
}
END_TEST

static Suite *
decision_suite( void )
{
	Suite *s = suite_create( "decision" );
	TCase *tc = dmg_tcase( "decision" );

	tcase_add_loop_test( tc, decisions_for_senders, 0,
		(int)( sizeof( decision_cases ) / sizeof( decision_cases[0] ) ) );
	tcase_add_test( tc, audit_holds_and_names_auditors );
	tcase_add_test( tc, decision_only_by_name_and_with_sender );
	tcase_add_test( tc, privileged_mta_decides_on_hidden_group_others_see_nothing );
	suite_add_tcase( s, tc );
	return s;
}

int
main( void )
{
	dmg_server_opts o = { 0 };

	o.db_config = "access to attrs=userPassword by anonymous auth by * none\n"
		"access to * by * read\n";
	o.overlay_config = "dynmailgroup-postmaster uid=postmaster,ou=System," DMG_SUFFIX "\n"
		"dynmailgroup-privileged " MTA "\n";
	return dmg_run_suite( decision_suite(), &o, &srv );
}
