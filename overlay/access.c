/* access.c -- roles, hidden groups and ACL group clauses (man page ACCESS CONTROL)
 *
 *  - What the member-list cache assumes of slapd's ACLs (dynmailgroup-cache-max-values):
 *    none of their clauses tells two connections of one identity apart, and a change of
 *    them shows in their fingerprint.
 *  - Roles are decided once per operation, at the start of each hook (dmg_who_begin), and
 *    remembered per identity until the next write that may change them (an add, delete or
 *    rename, a modify of an entry a role list names or of an entryUUID) or configuration
 *    change.
 *  - Roles: postmasters and privileged identities are configured as account DNs or as
 *    groupOfNames / groupOfUniqueNames groups (tested with slapd's backend_group, which
 *    caches the answer for the operation).  A group's applicant, administrators and auditors
 *    are the entries its dmgApplicant, dmgAdministrator and dmgAuditor values name: by their
 *    UUID companions when it has them (the requester's entryUUID is read with the roles),
 *    else by DN.
 *  - Who may write a group is decided by the write guard (guard.c), not by a
 *    bi_access_allowed hook: slapd never consults a per-database overlay's hook for the
 *    backend's own ACL checks (see dmg_grant_write there).
 *  - bi_entry_get_rw: ACL clauses "group/dynamicMailGroup/member=G" make slapd fetch G with
 *    be_entry_get_rw(..., member); the hook answers with a copy of G whose member attribute
 *    holds the requesting identity when it is a member.  That membership is computed with
 *    the rootdn's rights: evaluating it with the requester's rights would evaluate the very
 *    ACLs that contain the clause.  Stored member values of a group are never used, with
 *    or without ManageDsaIT.
 */
#include "dmg.h"

#define DMG_FNV_PRIME 0x100000001b3ULL

void
dmg_hash_bytes( unsigned long long *h, const void *p, size_t len )
{
	const unsigned char *c = p;

	while ( len-- ) {
		*h ^= *c++;
		*h *= DMG_FNV_PRIME;
	}
}

/* ---- roles ------------------------------------------------------------------------------------ */

/* Is ndn a member of the group gr_ndn of class oc (by attribute at)?  backend_group answers
 * "not a member", "no such group" and "not a group of that class" as such; anything else (an
 * abandoned operation, a backend error) leaves the question open: *answered is cleared */
static int
dmg_role_group_has( Operation *op, struct berval *gr_ndn, struct berval *ndn, ObjectClass *oc,
	AttributeDescription *at, int *answered )
{
	int rc = backend_group( op, NULL, gr_ndn, ndn, oc, at );

	if ( rc != LDAP_SUCCESS && rc != LDAP_COMPARE_FALSE && rc != LDAP_NO_SUCH_OBJECT
		&& rc != LDAP_NO_SUCH_ATTRIBUTE && answered != NULL )
		*answered = 0;
	return rc == LDAP_SUCCESS;
}

/* Is ndn one of the list's DNs, or a member of one of its groups?  *answered (when not NULL)
 * is cleared when a group could not be read: "no" is then not a remembered answer */
static int
dmg_dn_in_role_list( Operation *op, slap_overinst *on, BerVarray list_n, struct berval *ndn,
	int *answered )
{
	int i;

	(void)on;
	if ( list_n == NULL || BER_BVISEMPTY( ndn ) )
		return 0;
	for ( i = 0; !BER_BVISNULL( &list_n[i] ); i++ ) {
		if ( dn_match( &list_n[i], ndn ) )
			return 1;
	}
	for ( i = 0; !BER_BVISNULL( &list_n[i] ); i++ ) {
		if ( dmg_role_group_has( op, &list_n[i], ndn, dmg_ad.oc_group_of_names,
				dmg_ad.member, answered )
			|| dmg_role_group_has( op, &list_n[i], ndn, dmg_ad.oc_group_of_unique_names,
				dmg_ad.unique_member, answered ) )
			return 1;
	}
	return 0;
}

/* ---- the requester's roles, decided once per operation ------------------------------------- */

/* Role lookups read the database (groups of postmasters); a callback of an internal search
 * must not (ops.c).  Each hook decides the requester's roles before it reads anything and
 * keeps them on the operation, where copies of it find them too. */
static int dmg_who_key;

int
dmg_who_is_record( OpExtra *oex )
{
	return oex->oe_key == &dmg_who_key;
}

static dmg_who *
dmg_who_find( Operation *op )
{
	OpExtra *oex;

	LDAP_SLIST_FOREACH( oex, &op->o_extra, oe_next ) {
		if ( oex->oe_key == &dmg_who_key )
			return (dmg_who *)oex;
	}
	return NULL;
}

/* The requester's entryUUID: the roles a group gives are held by UUID (references.c).
 * Returns 0 when a lookup failed (logged there): the answer is then not remembered. */
static int
dmg_who_uuid( Operation *op, slap_overinst *on, dmg_who *who )
{
	Entry *e;
	struct berval *u;
	int only = 0;

	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 1;
	switch ( dmg_entry_lookup( op, on, &op->o_ndn, &e ) ) {
	case LDAP_SUCCESS:
		break;
	case LDAP_NO_SUCH_OBJECT:
		return 1;
	default:
		/* no UUID role now; not an answer to remember */
		return 0;
	}
	u = dmg_entry_uuid( e );
	/* an entryUUID another entry carries too gives no role (references.c) */
	if ( u && u->bv_len <= sizeof( who->uuid_buf )
		&& ( only = dmg_uuid_names_only( op, u, &op->o_ndn ) ) > 0 ) {
		memcpy( who->uuid_buf, u->bv_val, u->bv_len );
		who->uuid_len = u->bv_len;
	}
	dmg_entry_release( op, on, e );
	return only >= 0;
}

/* ---- remembered roles ----------------------------------------------------------------------- */

/* Deciding the roles reads the database: the requester's entry, a search that its entryUUID
 * names no other entry, the groups of postmasters.  An MTA or an address book asks the same
 * question thousands of times a second, and the answer changes only with a write to the
 * database or a change of the configuration: it is remembered per identity DN for the roles
 * generation it was decided in (dynmailgroup.c, dmg_roles_generation), which the end of every
 * write that may change it (dmg_write_moves_roles) and every configuration change move on,
 * and which no write in flight lets be taken.
 * The rootdn is told apart live (be_isroot): the remembered answer is the one for the DN. */
#define DMG_WHO_MEMO_SLOTS 1024

/* Every read recalls its requester's roles, so the recall takes no lock: eight MTA
 * connections would contend for it on every operation, and a holder preempted meanwhile
 * (two cores, many threads) would stall them all.  A slot is a sequence lock: writers
 * (dmg_who_remember) take the mutex among themselves and make the slot's sequence number odd
 * while they write; a reader copies the slot and keeps the copy only when the number was even
 * and unchanged across the copy, else it decides the roles itself, as on a miss.  Every field
 * is read and written with (relaxed) atomic accesses, the fences order them against the
 * sequence number.  The DN is kept in the slot, so that no reader follows a pointer a writer
 * frees: an identity with a longer DN is not remembered. */
#define DMG_WHO_NDN_MAX 256

/* The DN and the entryUUID are kept, compared and copied a word at a time (the DN padded with
 * zeros): a byte at a time, the recall was about an eighth of the overlay's work on a cached
 * read */
typedef unsigned long dmg_word;
#define DMG_WORDS( len ) ( ( ( len ) + sizeof( dmg_word ) - 1 ) / sizeof( dmg_word ) )
#define DMG_WHO_NDN_WORDS DMG_WORDS( DMG_WHO_NDN_MAX )
#define DMG_WHO_UUID_WORDS DMG_WORDS( DMG_UUID_LEN )

typedef struct dmg_who_slot {
	unsigned seq;		/* odd while a writer changes the slot */
	unsigned used;
	unsigned long gen;
	ber_len_t len;
	dmg_word ndn[DMG_WHO_NDN_WORDS];
	unsigned postmaster, privileged;
	ber_len_t uuid_len;
	dmg_word uuid[DMG_WHO_UUID_WORDS];
} dmg_who_slot;

/* A DN as the slots hold it */
typedef struct dmg_who_ndn {
	ber_len_t len, words;
	dmg_word w[DMG_WHO_NDN_WORDS];
} dmg_who_ndn;

/* 0 when the DN is too long to be remembered */
static int
dmg_who_ndn_of( struct berval *ndn, dmg_who_ndn *k )
{
	if ( ndn->bv_len > DMG_WHO_NDN_MAX )
		return 0;
	k->len = ndn->bv_len;
	k->words = DMG_WORDS( ndn->bv_len );
	if ( k->words ) {
		k->w[k->words - 1] = 0;
		memcpy( k->w, ndn->bv_val, ndn->bv_len );
	}
	return 1;
}

struct dmg_who_memo {
	ldap_pvt_thread_mutex_t lock;	/* among writers */
	dmg_who_slot slot[DMG_WHO_MEMO_SLOTS];
};

struct dmg_who_memo *
dmg_who_memo_new( void )
{
	struct dmg_who_memo *m = ch_calloc( 1, sizeof( *m ) );

	ldap_pvt_thread_mutex_init( &m->lock );
	return m;
}

void
dmg_who_memo_free( struct dmg_who_memo *m )
{
	ldap_pvt_thread_mutex_destroy( &m->lock );
	ch_free( m );
}

static dmg_who_slot *
dmg_who_slot_of( struct dmg_who_memo *m, dmg_who_ndn *k )
{
	unsigned long long h = DMG_FNV_OFFSET;

	dmg_hash_bytes( &h, k->w, k->words * sizeof( dmg_word ) );
	return &m->slot[h % DMG_WHO_MEMO_SLOTS];
}

#define DMG_LOAD( p ) __atomic_load_n( ( p ), __ATOMIC_RELAXED )
#define DMG_STORE( p, v ) __atomic_store_n( ( p ), ( v ), __ATOMIC_RELAXED )

/* Are op's roles decided from this database alone (so that its writes are all that change
 * them)?  Not when a postmaster or privileged DN lies in another database (a group there is
 * read by backend_group), nor when glued databases below this one may hold an entry with
 * the requester's entryUUID; nor for an operation issued from inside another one, which may
 * read through an older snapshot than the generation. */
static int
dmg_who_rememberable( Operation *op, dmg_info *di )
{
	BackendDB *be = dmg_real_db( op );
	BerVarray lists[2] = { di->postmaster_n, di->privileged_n };
	int l, i;

	if ( be == NULL || SLAP_GLUE_INSTANCE( be ) || dmg_op_nested( op ) )
		return 0;
	for ( l = 0; l < 2; l++ ) {
		for ( i = 0; lists[l] && !BER_BVISNULL( &lists[l][i] ); i++ ) {
			if ( select_backend( &lists[l][i], 0 ) != be )
				return 0;
		}
	}
	return 1;
}

/* Can the write op change a requester's remembered roles?  They are decided from the DNs
 * of the role lists, the member or uniqueMember values of the groupOfNames and
 * groupOfUniqueNames entries they name (backend_group: a dynamicMailGroup is neither, its
 * computed members give no role), and the requester's own entry: its entryUUID, held by no
 * other entry.  An add, a delete or a rename may change any of that; a modify only when it
 * writes an entry a role list names, or an entryUUID (the requester's, or another entry's
 * taking it).  Every other write (an HR feed's, lastbind's pwdLastSuccess) leaves them: the
 * reads after it recall them instead of deciding them again. */
int
dmg_write_moves_roles( Operation *op, dmg_info *di )
{
	BerVarray lists[2] = { di->postmaster_n, di->privileged_n };
	Modifications *ml;
	int l, i;

	/* a consumer's replicated modify may stand for any change of the entry */
	if ( op->o_tag != LDAP_REQ_MODIFY || be_shadow_update( op ) )
		return 1;
	for ( ml = op->orm_modlist; ml; ml = ml->sml_next ) {
		if ( ml->sml_desc->ad_type == slap_schema.si_ad_entryUUID->ad_type )
			return 1;
	}
	for ( l = 0; l < 2; l++ ) {
		for ( i = 0; lists[l] && !BER_BVISNULL( &lists[l][i] ); i++ ) {
			if ( dn_match( &lists[l][i], &op->o_req_ndn ) )
				return 1;
		}
	}
	return 0;
}

/* The slot's roles for k at gen into who; 0 when it holds none, or a writer changed it
 * meanwhile (what was read may be torn: it is not used) */
static int
dmg_who_slot_read( dmg_who_slot *s, dmg_who_ndn *k, unsigned long gen, dmg_who *who )
{
	unsigned seq = __atomic_load_n( &s->seq, __ATOMIC_ACQUIRE );
	dmg_word uuid[DMG_WHO_UUID_WORDS];
	ber_len_t i;

	if ( ( seq & 1 ) || !DMG_LOAD( &s->used ) || DMG_LOAD( &s->gen ) != gen
		|| DMG_LOAD( &s->len ) != k->len )
		return 0;
	for ( i = 0; i < k->words; i++ ) {
		if ( DMG_LOAD( &s->ndn[i] ) != k->w[i] )
			return 0;
	}
	who->postmaster = DMG_LOAD( &s->postmaster );
	who->privileged = DMG_LOAD( &s->privileged );
	who->uuid_len = DMG_LOAD( &s->uuid_len );
	if ( who->uuid_len > sizeof( who->uuid_buf ) )
		return 0;
	for ( i = 0; i < DMG_WHO_UUID_WORDS; i++ )
		uuid[i] = DMG_LOAD( &s->uuid[i] );
	memcpy( who->uuid_buf, uuid, who->uuid_len );
	__atomic_thread_fence( __ATOMIC_ACQUIRE );
	return __atomic_load_n( &s->seq, __ATOMIC_RELAXED ) == seq;
}

static int
dmg_who_recall( dmg_info *di, dmg_who_ndn *k, unsigned long gen, dmg_who *who )
{
	if ( dmg_who_slot_read( dmg_who_slot_of( di->who_memo, k ), k, gen, who ) )
		return 1;
	/* a torn copy may have set some: the decision starts from none */
	who->postmaster = who->privileged = 0;
	who->uuid_len = 0;
	return 0;
}

static void
dmg_who_remember( dmg_info *di, dmg_who_ndn *k, unsigned long gen, dmg_who *who )
{
	dmg_who_slot *s = dmg_who_slot_of( di->who_memo, k );
	dmg_word uuid[DMG_WHO_UUID_WORDS] = { 0 };
	ber_len_t i;
	unsigned seq;

	memcpy( uuid, who->uuid_buf, who->uuid_len );
	ldap_pvt_thread_mutex_lock( &di->who_memo->lock );
	seq = s->seq;
	DMG_STORE( &s->seq, seq + 1 );
	__atomic_thread_fence( __ATOMIC_RELEASE );
	DMG_STORE( &s->used, 1 );
	DMG_STORE( &s->gen, gen );
	DMG_STORE( &s->len, k->len );
	for ( i = 0; i < k->words; i++ )
		DMG_STORE( &s->ndn[i], k->w[i] );
	DMG_STORE( &s->postmaster, who->postmaster );
	DMG_STORE( &s->privileged, who->privileged );
	DMG_STORE( &s->uuid_len, who->uuid_len );
	for ( i = 0; i < DMG_WHO_UUID_WORDS; i++ )
		DMG_STORE( &s->uuid[i], uuid[i] );
	__atomic_store_n( &s->seq, seq + 2, __ATOMIC_RELEASE );
	ldap_pvt_thread_mutex_unlock( &di->who_memo->lock );
}

/* The roles of op's DN, as if it were not the rootdn; returns whether they may be
 * remembered (every lookup answered) */
static int
dmg_who_decide( Operation *op, slap_overinst *on, dmg_who *who )
{
	dmg_info *di = on->on_bi.bi_private;
	int answered = 1;

	who->postmaster = dmg_dn_in_role_list( op, on, di->postmaster_n, &op->o_ndn, &answered );
	who->privileged = dmg_dn_in_role_list( op, on, di->privileged_n, &op->o_ndn, &answered );
	return dmg_who_uuid( op, on, who ) && answered;
}

void
dmg_who_begin( Operation *op, slap_overinst *on, dmg_who *who )
{
	dmg_info *di = on->on_bi.bi_private;
	unsigned long gen = dmg_roles_generation( di );
	dmg_who_ndn k;

	memset( who, 0, sizeof( *who ) );
	if ( gen != DMG_NO_GENERATION
		&& ( !dmg_who_rememberable( op, di ) || !dmg_who_ndn_of( &op->o_ndn, &k ) ) )
		gen = DMG_NO_GENERATION;
	if ( gen == DMG_NO_GENERATION || !dmg_who_recall( di, &k, gen, who ) ) {
		if ( dmg_who_decide( op, on, who ) && gen != DMG_NO_GENERATION )
			dmg_who_remember( di, &k, gen, who );
	}
	/* the rootdn holds no other role */
	who->root = be_isroot( op );
	if ( who->root )
		who->postmaster = who->privileged = 0;
	who->oe.oe_key = &dmg_who_key;
	LDAP_SLIST_INSERT_HEAD( &op->o_extra, &who->oe, oe_next );
}

void
dmg_who_end( Operation *op, dmg_who *who )
{
	LDAP_SLIST_REMOVE( &op->o_extra, &who->oe, OpExtra, oe_next );
}

/* The roles of op's requester; for an operation no hook has seen (none should ask), they
 * are looked up now. */
static void
dmg_who_get( Operation *op, slap_overinst *on, dmg_who *out )
{
	dmg_who *who = dmg_who_find( op );

	if ( who ) {
		*out = *who;
		return;
	}
	Debug( LDAP_DEBUG_TRACE, DMG_LOG_PREFIX "%s roles looked up outside a hook\n",
		op->o_log_prefix );
	dmg_who_begin( op, on, out );
	dmg_who_end( op, out );
}

int
dmg_is_postmaster( Operation *op, slap_overinst *on )
{
	dmg_who who;

	dmg_who_get( op, on, &who );
	return who.postmaster;
}

int
dmg_is_privileged( Operation *op, slap_overinst *on )
{
	dmg_who who;

	dmg_who_get( op, on, &who );
	return who.privileged;
}

void
dmg_requester_uuid( Operation *op, slap_overinst *on, struct berval *out )
{
	dmg_who *who = dmg_who_find( op );

	(void)on;
	BER_BVZERO( out );
	if ( who == NULL ) {
		/* every hook records the roles first; without them no role is held */
		Debug( LDAP_DEBUG_TRACE, DMG_LOG_PREFIX "%s requester's entryUUID asked for outside "
			"a hook\n", op->o_log_prefix );
		return;
	}
	out->bv_val = who->uuid_buf;
	out->bv_len = who->uuid_len;
}

int
dmg_is_root( Operation *op, slap_overinst *on )
{
	dmg_who who;

	dmg_who_get( op, on, &who );
	return who.root;
}

int
dmg_entry_names( Entry *e, AttributeDescription *ad, struct berval *ndn )
{
	Attribute *a = attr_find( e->e_attrs, ad );
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dn_match( &a->a_nvals[i], ndn ) )
			return 1;
	}
	return 0;
}

int
dmg_sees_every_group( Operation *op, slap_overinst *on )
{
	dmg_who who;

	dmg_who_get( op, on, &who );
	return who.root || who.postmaster || who.privileged;
}

int
dmg_group_visible( Operation *op, slap_overinst *on, Entry *group )
{
	if ( dmg_entry_bool( group, dmg_ad.show_in_contacts, 1 ) )
		return 1;
	if ( dmg_sees_every_group( op, on ) )
		return 1;
	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	return dmg_group_names_requester( op, on, group, dmg_ad.applicant )
		|| dmg_group_names_requester( op, on, group, dmg_ad.administrator )
		|| dmg_group_names_requester( op, on, group, dmg_ad.auditor );
}

/* ---- member visibility --------------------------------------------------------------------------- */

/* dynmailgroup-member-visibility group: a group's members are a property of the group, as the
 * member values of a static group are.  They are computed with the rootdn's rights (so one
 * list serves every requester, and the cache keeps it once, under the rootdn's key), and the
 * group's own ACLs decide who learns them: read access to the group's member attribute.  The
 * rootdn copy carries roles of its own: hidden groups named in overrides stand for their
 * members, as for the rootdn. */
int
dmg_membership_shown( Operation *op, slap_overinst *on, Entry *group )
{
	dmg_info *di = on->on_bi.bi_private;

	return !di->visibility_group || dmg_is_root( op, on )
		|| access_allowed( op, group, dmg_ad.member, NULL, ACL_READ, NULL );
}

Operation *
dmg_membership_begin( Operation *op, slap_overinst *on, Entry *group, dmg_as_group *ag )
{
	dmg_info *di = on->on_bi.bi_private;

	ag->active = 0;
	if ( !di->visibility_group || dmg_is_root( op, on ) )
		return op;
	if ( !dmg_membership_shown( op, on, group ) )
		return NULL;
	dmg_op_as_root( op, &ag->root );
	dmg_who_begin( &ag->root, on, &ag->who );
	ag->active = 1;
	return &ag->root;
}

void
dmg_membership_end( dmg_as_group *ag )
{
	if ( ag->active )
		dmg_who_end( &ag->root, &ag->who );
	ag->active = 0;
}

/* ---- hidden groups as targets ------------------------------------------------------------------ */

/* Is ndn, or an entry above it, a hidden group op's requester may not see?  Then *nearest is
 * the entry back-mdb would name as matched if that group did not exist: the nearest existing
 * entry above it that is not such a group (NULL when there is none); give it back with
 * dmg_entry_release.  The walk stops at the first entry that is neither missing nor such a
 * group: the target itself, when it exists and may be seen, costs one lookup. */
static int
dmg_hidden_on_path( Operation *op, slap_overinst *on, struct berval *ndn, Entry **nearest )
{
	struct berval p = *ndn;
	int hidden = 0;
	Entry *e;

	*nearest = NULL;
	for ( ;; ) {
		if ( ( e = dmg_entry_get( op, on, &p ) ) != NULL ) {
			if ( !dmg_entry_is_group( e ) || dmg_group_visible( op, on, e ) ) {
				if ( hidden )
					*nearest = e;
				else
					dmg_entry_release( op, on, e );
				return hidden;
			}
			hidden = 1;
			dmg_entry_release( op, on, e );
		}
		if ( !be_issubordinate( op->o_bd, &p ) || be_issuffix( op->o_bd, &p ) )
			return hidden;
		dnParent( &p, &p );
	}
}

/* Does back-mdb name entry m as matched in its noSuchObject answer to op?  Search and compare
 * name it to those with disclose access to it; a rename names only the target's parent (it
 * looks the parent up first, without a matched entry); add, modify and delete always name
 * it. */
static int
dmg_matched_named( Operation *op, Entry *m )
{
	struct berval pdn;

	switch ( op->o_tag ) {
	case LDAP_REQ_SEARCH:
	case LDAP_REQ_COMPARE:
		return access_allowed( op, m, slap_schema.si_ad_entry, NULL, ACL_DISCLOSE, NULL );
	case LDAP_REQ_MODRDN:
		dnParent( &op->o_req_ndn, &pdn );
		return dn_match( &pdn, &m->e_nname );
	}
	return !BER_BVISEMPTY( &m->e_name );
}

int
dmg_refuse_hidden_target( Operation *op, SlapReply *rs, slap_overinst *on )
{
	struct berval matched = BER_BVNULL, ndn = op->o_req_ndn;
	Entry *nearest = NULL;

	/* no group is hidden from them: the path needs no lookup */
	if ( dmg_sees_every_group( op, on ) )
		return 0;
	/* an add's target is new: what is judged is where it goes (the target's own DN is the
	 * write guard's) */
	if ( op->o_tag == LDAP_REQ_ADD ) {
		if ( be_issuffix( op->o_bd, &ndn ) )
			return 0;
		dnParent( &op->o_req_ndn, &ndn );
	}
	if ( !dmg_hidden_on_path( op, on, &ndn, &nearest ) )
		return 0;
	if ( nearest ) {
		if ( dmg_matched_named( op, nearest ) )
			ber_dupbv_x( &matched, &nearest->e_name, op->o_tmpmemctx );
		dmg_entry_release( op, on, nearest );
	}
	rs->sr_matched = matched.bv_val;
	send_ldap_error( op, rs, LDAP_NO_SUCH_OBJECT, NULL );
	rs->sr_matched = NULL;
	if ( matched.bv_val )
		op->o_tmpfree( matched.bv_val, op->o_tmpmemctx );
	return 1;
}

/* ---- ACL group clauses ------------------------------------------------------------------------ */

static int dmg_acl_entry_marker;

static int
dmg_acl_is_member( Operation *op, slap_overinst *on, Entry *group )
{
	Operation root;
	Entry *u = NULL;
	dmg_who who;
	dmg_rule r;
	int yes = 0;

	if ( BER_BVISEMPTY( &op->o_ndn ) )
		return 0;
	if ( ( u = dmg_entry_get( op, on, &op->o_ndn ) ) == NULL )
		return 0;
	dmg_op_as_root( op, &root );
	/* the rootdn's roles too: hidden groups nested in this one stand for their members */
	dmg_who_begin( &root, on, &who );
	/* an ACL clause has no error to give: a rule whose references could not be looked up
	 * (logged there) selects nobody, so the clause grants nothing */
	if ( dmg_rule_from_entry( &root, on, group, &r ) == LDAP_SUCCESS )
		yes = dmg_rule_has_member( &root, on, &r, u );
	dmg_rule_free( &root, &r );
	dmg_who_end( &root, &who );
	dmg_entry_release( op, on, u );
	return yes;
}

/* slapd answers a compare of hasSubordinates in the frontend (compare.c): it fetches the
 * target with be_entry_get_rw, and answers a DN that holds no entry in its own way (success,
 * or noSuchObject without disclose).  A hidden group its requester may not see is fetched as
 * no entry, so that its DN gets exactly that answer. */
static int
dmg_hidden_from_has_subordinates( Operation *op, slap_overinst *on, struct berval *ndn,
	AttributeDescription *at, int rw )
{
	AttributeAssertion *ava = op->orc_ava;
	Entry *g;
	dmg_who who;
	int hidden = 0;

	if ( op->o_tag != LDAP_REQ_COMPARE || at != NULL || rw || ava == NULL
		|| ava->aa_desc != slap_schema.si_ad_hasSubordinates
		|| !dn_match( ndn, &op->o_req_ndn ) || dmg_ad.oc_group == NULL )
		return 0;
	/* the fetches below come through this hook again: they are not the frontend's */
	op->orc_ava = NULL;
	if ( ( g = dmg_entry_get( op, on, ndn ) ) != NULL ) {
		dmg_who_begin( op, on, &who );
		hidden = dmg_entry_is_group( g ) && !dmg_group_visible( op, on, g );
		dmg_who_end( op, &who );
		dmg_entry_release( op, on, g );
	}
	op->orc_ava = ava;
	return hidden;
}

int
dmg_entry_get_rw( Operation *op, struct berval *ndn, ObjectClass *oc,
	AttributeDescription *at, int rw, Entry **ep )
{
	slap_overinst *on = (slap_overinst *)op->o_bd->bd_info;
	Entry *g = NULL, *copy;

	if ( dmg_hidden_from_has_subordinates( op, on, ndn, at, rw ) )
		return LDAP_NO_SUCH_OBJECT;
	/* ManageDsaIT does not matter: the clause always sees computed members, never member
	 * values stored on the group (slapadd, a provider without the overlay) */
	if ( at != dmg_ad.member || at == NULL || rw )
		return SLAP_CB_CONTINUE;
	if ( oc && oc != dmg_ad.oc_group )
		return SLAP_CB_CONTINUE;
	/* fetched without the attribute, so that this hook does not see itself */
	if ( ( g = dmg_entry_get( op, on, ndn ) ) == NULL )
		return SLAP_CB_CONTINUE;
	if ( !dmg_entry_is_group( g ) ) {
		dmg_entry_release( op, on, g );
		return SLAP_CB_CONTINUE;
	}
	copy = entry_dup( g );
	dmg_entry_release( op, on, g );
	attr_delete( &copy->e_attrs, dmg_ad.member );
	if ( dmg_acl_is_member( op, on, copy ) )
		attr_merge_one( copy, dmg_ad.member, &op->o_ndn, &op->o_ndn );
	copy->e_private = &dmg_acl_entry_marker;
	*ep = copy;
	return LDAP_SUCCESS;
}

int
dmg_entry_release_rw( Operation *op, Entry *e, int rw )
{
	(void)op;
	(void)rw;
	if ( e->e_private != &dmg_acl_entry_marker )
		return SLAP_CB_CONTINUE;
	e->e_private = NULL;
	entry_free( e );
	return LDAP_SUCCESS;
}

/* ---- what the member-list cache assumes of slapd's ACLs ---------------------------------------- */

/* A modify keeps a cached list when it changes no attribute the list reads (invalidate.c,
 * dmg_group_deps): for identities other than the rootdn that includes every attribute of an
 * entry the ACLs read to decide what they grant on it -- their rules' filters, the attributes
 * of value-specific rules, dnattr clauses, and objectClass (attrs=@class).  Clauses that read
 * other entries (group, set, dynamic ACLs) make lists depend on every write instead, and the
 * fingerprint below tells the cache when the ACLs themselves change. */

/* A cached list is reused for the same identity DN, whatever its connection: only sound when
 * no "by" clause can tell two connections (or a real and a proxied identity) apart.  A clause
 * on the peer, the socket, the listener, the domain, a security strength factor or the real
 * DN does; so may a dynamic ACL module (aci and others), whose tests the overlay cannot see. */
static int
dmg_pattern_set( struct berval *pat )
{
	return !BER_BVISEMPTY( pat ) && !ber_bvccmp( pat, '*' );
}

static int
dmg_clause_connection_dependent( Access *b )
{
#ifdef SLAP_DYNACL
	if ( b->a_dynacl != NULL )
		return 1;
#endif
	return dmg_pattern_set( &b->a_peername_pat ) || dmg_pattern_set( &b->a_sockname_pat )
		|| dmg_pattern_set( &b->a_domain_pat ) || dmg_pattern_set( &b->a_sockurl_pat )
		|| dmg_pattern_set( &b->a_realdn_pat ) || b->a_realdn_at != NULL
		|| b->a_authz.sai_ssf || b->a_authz.sai_transport_ssf
		|| b->a_authz.sai_tls_ssf || b->a_authz.sai_sasl_ssf;
}

static int
dmg_acl_list_connection_dependent( AccessControl *a )
{
	Access *b;

	for ( ; a; a = a->acl_next ) {
		for ( b = a->acl_access; b; b = b->a_next ) {
			if ( dmg_clause_connection_dependent( b ) )
				return 1;
		}
	}
	return 0;
}

/* The ACLs that decide what op's requester reads: the database's, then the frontend's */
int
dmg_acls_connection_dependent( Operation *op )
{
	return dmg_acl_list_connection_dependent( dmg_real_db( op )->be_acl )
		|| dmg_acl_list_connection_dependent( frontendDB->be_acl );
}

/* ACL fingerprint: slapd tells overlays nothing when olcAccess changes; it frees the old rules
 * and parses the new ones (with the thread pool paused), so a change shows as other rule
 * structures.  New rules may be allocated where old ones were: the fingerprint hashes each
 * rule's and clause's bytes (every flag, level, style, pointer to the schema) and the strings
 * and filters they point to, so that a rule reparsed at the same address with other content
 * still changes it.  FNV-1a, 64 bits. */

static void
dmg_hash_bv( unsigned long long *h, struct berval *bv )
{
	dmg_hash_bytes( h, &bv->bv_len, sizeof( bv->bv_len ) );
	if ( bv->bv_val )
		dmg_hash_bytes( h, bv->bv_val, bv->bv_len );
}

static void
dmg_hash_clause( unsigned long long *h, Access *b )
{
	dmg_hash_bytes( h, b, sizeof( *b ) );
	dmg_hash_bv( h, &b->a_dn_pat );
	dmg_hash_bv( h, &b->a_realdn_pat );
	dmg_hash_bv( h, &b->a_peername_pat );
	dmg_hash_bv( h, &b->a_sockname_pat );
	dmg_hash_bv( h, &b->a_domain_pat );
	dmg_hash_bv( h, &b->a_sockurl_pat );
	dmg_hash_bv( h, &b->a_set_pat );
	dmg_hash_bv( h, &b->a_group_pat );
}

static void
dmg_hash_rule( Operation *op, unsigned long long *h, AccessControl *a )
{
	AttributeName *an;
	Access *b;

	dmg_hash_bytes( h, a, sizeof( *a ) );
	dmg_hash_bv( h, &a->acl_dn_pat );
	dmg_hash_bv( h, &a->acl_attrval );
	for ( an = a->acl_attrs; an && !BER_BVISNULL( &an->an_name ); an++ ) {
		dmg_hash_bytes( h, &an->an_desc, sizeof( an->an_desc ) );
		dmg_hash_bv( h, &an->an_name );
	}
	if ( a->acl_filter ) {
		struct berval fs = BER_BVNULL;

		filter2bv_x( op, a->acl_filter, &fs );
		dmg_hash_bv( h, &fs );
		op->o_tmpfree( fs.bv_val, op->o_tmpmemctx );
	}
	for ( b = a->acl_access; b; b = b->a_next )
		dmg_hash_clause( h, b );
}

unsigned long long
dmg_acls_fingerprint( Operation *op )
{
	unsigned long long h = DMG_FNV_OFFSET;
	AccessControl *a;
	int list;

	for ( list = 0; list < 2; list++ ) {
		a = list ? frontendDB->be_acl : dmg_real_db( op )->be_acl;
		dmg_hash_bytes( &h, &a, sizeof( a ) );
		for ( ; a; a = a->acl_next )
			dmg_hash_rule( op, &h, a );
	}
	return h;
}
