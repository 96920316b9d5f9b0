/* membership.c -- who is a member of a group (man page MEMBERSHIP and OVERRIDES)
 *
 * Two directions, one definition.  E is a member of G when E is not excluded, matches the
 * member filter, and either is included or is selected by the rule: E matches G's conditions,
 * lies in the subtree of one of G's departments, and -- with dmgIncludeSubDepartments FALSE --
 * no entry strictly between E and that department matches the department filter.  A
 * dmgIncludeMember or dmgExcludeMember value naming a group (dynamic, groupOfNames,
 * groupOfUniqueNames) stands for that group's members, computed the same way; a group met
 * again below itself (a cycle, possible through static groups the guard does not see) stands
 * for nobody there (dmg_path), and each named group is computed once per computation
 * (dmg_memo), however many paths lead to it.
 *
 *  - forward (dmg_members_expand): one internal subtree search per department, run with the
 *    requester's identity and without size or time limits, so slapd's ACLs decide what the
 *    requester sees and nothing is ever cut short; then the included entries and groups, less
 *    the excluded ones;
 *  - reverse (dmg_rule_why, dmg_rule_has_member): the same tests on one given entry, in the
 *    order the explanation reports them, so that "which groups is E in" never expands a group.
 *    Override values are compared with E by entryUUID, and the groups among them found with
 *    one indexed search; a named group is tested the same way (one entry lookup per member
 *    value of a named static group, per override value of a group without UUIDs).  A
 *    reverse lookup or compare reads a group's list cached for its identity instead of
 *    testing the group, and inside a test a named group's cached list that names no group
 *    (dmg_group_has, dmg_members_cached_has).
 *
 * Both apply the same access checks the backend applies to a search: search access on the
 * department (the search base), read access on the member entry, search access on every
 * attribute the filter tests (test_filter), and read access on each mail value returned.
 * Department structure (the nesting test) is a property of the group, not of the reader, so
 * it is evaluated with the rootdn's rights.
 */
#include "dmg.h"

/* ---- member list --------------------------------------------------------------------------- */

/* The strings of member lists are allocated in blocks: one allocation per block instead of
 * four per member, and a list derived from another (updated after a write, or including a
 * nested group's) shares its blocks instead of copying every string.  A block is written
 * only by the list that created it, past what it has handed out; the other lists read what
 * was there when they took their reference.  Lists are freed by any thread (the cache frees
 * a list when its last reader lets go): the reference count is atomic. */
struct dmg_strblock {
	unsigned refs;
	size_t used, cap;
	char data[];
};

/* the first block of a list (small: a list updated after a write adds a block for one
 * member); each next one doubles, up to DMG_STRBLOCK_MAX */
#define DMG_STRBLOCK_MIN 256
#define DMG_STRBLOCK_MAX ( 1024 * 1024 )

/* A derived list shares at most this many blocks, and holds the strings of at most this many
 * members dropped by updates: past it, the update after a write copies the strings into
 * blocks of its own, which gives back what the dropped members held (a long series of writes
 * would otherwise keep one small block per write, and every deleted member's strings) */
#define DMG_MEMBERS_MAX_SHARED 32

/* A list updated in place (dmg_members_edit) holds the strings of at most a sixteenth of its
 * members more than that, so that a large list is not copied every few dozen writes, and at
 * most twice as many blocks (its own block doubles as updates append to it) */
#define DMG_MEMBERS_MAX_DROPPED( n ) ( DMG_MEMBERS_MAX_SHARED + ( n ) / 16 )

static void
dmg_members_add_block( dmg_members *ms, dmg_strblock *b )
{
	if ( ms->nblocks == ms->blocks_cap ) {
		ms->blocks_cap = ms->blocks_cap ? ms->blocks_cap * 2 : 4;
		ms->blocks = ch_realloc( ms->blocks, ms->blocks_cap * sizeof( *ms->blocks ) );
	}
	ms->blocks[ms->nblocks++] = b;
}

/* to = a copy of from in ms's own block */
static void
dmg_members_dupbv( dmg_members *ms, struct berval *to, struct berval *from )
{
	dmg_strblock *b = ms->own;
	size_t need = from->bv_len + 1, cap;

	if ( b == NULL || b->cap - b->used < need ) {
		cap = b ? b->cap * 2 : DMG_STRBLOCK_MIN;
		if ( cap > DMG_STRBLOCK_MAX )
			cap = DMG_STRBLOCK_MAX;
		if ( cap < need )
			cap = need;
		b = ch_malloc( sizeof( dmg_strblock ) + cap );
		b->refs = 1;
		b->used = 0;
		b->cap = cap;
		dmg_members_add_block( ms, b );
		ms->own = b;
	}
	to->bv_val = b->data + b->used;
	to->bv_len = from->bv_len;
	memcpy( to->bv_val, from->bv_val, from->bv_len );
	to->bv_val[from->bv_len] = '\0';
	b->used += need;
}

/* ms takes a reference to every block of src it does not hold yet */
static void
dmg_members_share_blocks( dmg_members *ms, dmg_members *src )
{
	unsigned i, j;

	for ( i = 0; i < src->nblocks; i++ ) {
		for ( j = 0; j < ms->nblocks && ms->blocks[j] != src->blocks[i]; j++ )
			;
		if ( j < ms->nblocks )
			continue;
		__atomic_add_fetch( &src->blocks[i]->refs, 1, __ATOMIC_RELAXED );
		dmg_members_add_block( ms, src->blocks[i] );
	}
}

void
dmg_members_free( dmg_members *ms )
{
	unsigned i;

	for ( i = 0; i < ms->nblocks; i++ ) {
		if ( __atomic_sub_fetch( &ms->blocks[i]->refs, 1, __ATOMIC_ACQ_REL ) == 0 )
			ch_free( ms->blocks[i] );
	}
	ch_free( ms->blocks );
	ch_free( ms->m );
	ch_free( ms->mail );
	ch_free( ms->nmail );
	ch_free( ms->dn_vals );		/* one block with dn_nvals */
	ch_free( ms->mail_vals );	/* one block with mail_nvals */
	ch_free( ms->by_ndn );
	memset( ms, 0, sizeof( *ms ) );
}

/* The index by DN of a complete list (by_ndn) is a hash table of DMG_MEMBERS_SLOTS( cap )
 * slots, open addressing with linear probing: a member is found, taken out and put in at a
 * cost that does not grow with the list (a sorted index moved half of itself at every write
 * below a large group).  It holds at most cap members: a third of its slots stay empty.  The
 * members themselves stay in the order they were found, which is the order they are shown in. */
#define DMG_MEMBERS_SLOTS( cap ) ( ( cap ) + ( cap ) / 2 + 1 )

/* ndn's own slot (FNV-1a) */
static size_t
dmg_members_home( dmg_members *ms, struct berval *ndn )
{
	unsigned long long h = DMG_FNV_OFFSET;

	dmg_hash_bytes( &h, ndn->bv_val, ndn->bv_len );
	return h % DMG_MEMBERS_SLOTS( ms->cap );
}

/* The slot of ndn in the index, or the empty one where it goes */
static dmg_member **
dmg_members_slot( dmg_members *ms, struct berval *ndn )
{
	size_t i = dmg_members_home( ms, ndn ), slots = DMG_MEMBERS_SLOTS( ms->cap );

	while ( ms->by_ndn[i] && !bvmatch( &ms->by_ndn[i]->ndn, ndn ) )
		i = ( i + 1 ) % slots;
	return &ms->by_ndn[i];
}

static void
dmg_members_index_put( dmg_members *ms, dmg_member *m )
{
	*dmg_members_slot( ms, &m->ndn ) = m;
}

/* Empties slot hole; the members after it in its run move back into it when their own slot
 * is not between it and them, so that every member stays reachable from its own slot */
static void
dmg_members_index_take( dmg_members *ms, dmg_member **hole )
{
	size_t slots = DMG_MEMBERS_SLOTS( ms->cap ), h = hole - ms->by_ndn, j, home;

	for ( j = ( h + 1 ) % slots; ms->by_ndn[j]; j = ( j + 1 ) % slots ) {
		home = dmg_members_home( ms, &ms->by_ndn[j]->ndn );
		if ( h <= j ? ( h < home && home <= j ) : ( h < home || home <= j ) )
			continue;
		ms->by_ndn[h] = ms->by_ndn[j];
		h = j;
	}
	ms->by_ndn[h] = NULL;
}

/* The index of a complete list, built from its members */
static void
dmg_members_index_build( dmg_members *ms )
{
	unsigned i;

	ms->by_ndn = ch_calloc( DMG_MEMBERS_SLOTS( ms->cap ), sizeof( dmg_member * ) );
	for ( i = 0; i < ms->n; i++ )
		dmg_members_index_put( ms, &ms->m[i] );
}

/* Is ndn among the members of a complete list? */
static int
dmg_members_has_ndn( dmg_members *ms, struct berval *ndn )
{
	return ms->n && *dmg_members_slot( ms, ndn ) != NULL;
}

/* The room a complete list keeps for members (and mail values) an update adds in place */
#define DMG_MEMBERS_ROOM( n ) ( ( n ) + ( n ) / 16 + 8 )

/* Gives the member array of a complete list the room of DMG_MEMBERS_ROOM (before by_ndn points
 * into it) */
static void
dmg_members_room( dmg_members *ms )
{
	ms->cap = DMG_MEMBERS_ROOM( ms->n );
	ms->m = ch_realloc( ms->m, ms->cap * sizeof( dmg_member ) );
}

/* Builds the attribute-ready arrays of a complete list (after deduplication, so that the
 * mail values of a member dropped as duplicate are left out), with the room of cap members
 * and DMG_MEMBERS_ROOM mail values; by_ndn is built. */
static void
dmg_members_arrays( dmg_members *ms )
{
	unsigned i, j, k = 0;

	ms->dn_vals = ch_malloc( ( ms->cap + 1 ) * 2 * sizeof( struct berval ) );
	ms->dn_nvals = ms->dn_vals + ms->cap + 1;
	for ( i = 0; i < ms->n; i++ ) {
		ms->dn_vals[i] = ms->m[i].dn;
		ms->dn_nvals[i] = ms->m[i].ndn;
	}
	BER_BVZERO( &ms->dn_vals[ms->n] );
	BER_BVZERO( &ms->dn_nvals[ms->n] );

	for ( i = 0; i < ms->n; i++ )
		k += ms->m[i].mail_count;
	ms->mail_vals_cap = DMG_MEMBERS_ROOM( k );
	ms->mail_vals = ch_malloc( ( ms->mail_vals_cap + 1 ) * 2 * sizeof( struct berval ) );
	ms->mail_nvals = ms->mail_vals + ms->mail_vals_cap + 1;
	for ( i = 0, k = 0; i < ms->n; i++ ) {
		ms->m[i].shown_first = k;
		for ( j = 0; j < ms->m[i].mail_count; j++, k++ ) {
			ms->mail_vals[k] = ms->mail[ms->m[i].mail_first + j];
			ms->mail_nvals[k] = ms->nmail[ms->m[i].mail_first + j];
		}
	}
	BER_BVZERO( &ms->mail_vals[k] );
	BER_BVZERO( &ms->mail_nvals[k] );
	ms->mail_n = k;
}

/* Builds the index by DN and the attribute-ready arrays of a complete list */
static void
dmg_members_index( dmg_members *ms )
{
	dmg_members_room( ms );
	dmg_members_index_build( ms );
	dmg_members_arrays( ms );
}

/* The same for ms, an update of the complete list old: old's members in old's order but
 * skip, then at most one more.  When old's room still fits ms (room for one more member,
 * no more than DMG_MEMBERS_ROOM), ms takes it and old's index is remapped slot by slot, in
 * linear time and without hashing a DN but skip's and the new member's; else the index is
 * built anew for the room of DMG_MEMBERS_ROOM. */
static void
dmg_members_index_update( dmg_members *ms, dmg_members *old, struct berval *skip )
{
	dmg_member **hit = NULL;
	unsigned kept = old->n, gone = old->n;
	size_t i, slots;

	if ( ms->n >= old->cap || old->cap > DMG_MEMBERS_ROOM( ms->n ) ) {
		dmg_members_index( ms );
		return;
	}
	if ( skip && *( hit = dmg_members_slot( old, skip ) ) ) {
		gone = *hit - old->m;
		kept--;
	} else {
		hit = NULL;
	}
	ms->cap = old->cap;
	ms->m = ch_realloc( ms->m, ms->cap * sizeof( dmg_member ) );
	slots = DMG_MEMBERS_SLOTS( ms->cap );
	ms->by_ndn = ch_malloc( slots * sizeof( dmg_member * ) );
	for ( i = 0; i < slots; i++ ) {
		unsigned at;

		if ( old->by_ndn[i] == NULL ) {
			ms->by_ndn[i] = NULL;
			continue;
		}
		/* skip's slot points anywhere until it is taken out below */
		at = old->by_ndn[i] - old->m;
		ms->by_ndn[i] = &ms->m[at - ( at > gone )];
	}
	if ( hit )
		dmg_members_index_take( ms, &ms->by_ndn[hit - old->by_ndn] );
	/* the member added after old's */
	if ( ms->n > kept )
		dmg_members_index_put( ms, &ms->m[ms->n - 1] );
	dmg_members_arrays( ms );
}

/* to = from: the same string when share (ms holds its block), else a copy in ms's block */
static void
dmg_members_str( dmg_members *ms, struct berval *to, struct berval *from, int share )
{
	if ( share )
		*to = *from;
	else
		dmg_members_dupbv( ms, to, from );
}

static void
dmg_members_push_mail( dmg_members *ms, struct berval *val, struct berval *nval, int share )
{
	if ( ms->nmail_count == ms->mail_cap ) {
		ms->mail_cap = ms->mail_cap ? ms->mail_cap * 2 : 64;
		ms->mail = ch_realloc( ms->mail, ms->mail_cap * sizeof( struct berval ) );
		ms->nmail = ch_realloc( ms->nmail, ms->mail_cap * sizeof( struct berval ) );
	}
	dmg_members_str( ms, &ms->mail[ms->nmail_count], val, share );
	dmg_members_str( ms, &ms->nmail[ms->nmail_count], nval, share );
	ms->nmail_count++;
}

static dmg_member *
dmg_members_new( dmg_members *ms, struct berval *dn, struct berval *ndn, int share )
{
	dmg_member *m;

	if ( ms->n == ms->cap ) {
		ms->cap = ms->cap ? ms->cap * 2 : 64;
		ms->m = ch_realloc( ms->m, ms->cap * sizeof( dmg_member ) );
	}
	m = &ms->m[ms->n++];
	dmg_members_str( ms, &m->dn, dn, share );
	dmg_members_str( ms, &m->ndn, ndn, share );
	m->mail_first = ms->nmail_count;
	m->mail_count = 0;
	return m;
}

/* Appends e with the mail values op may read. */
static void
dmg_members_push( Operation *op, dmg_members *ms, Entry *e )
{
	AccessControlState acl_state = ACL_STATE_INIT;
	dmg_member *m;
	Attribute *a;
	unsigned i;

	m = dmg_members_new( ms, &e->e_name, &e->e_nname, 0 );
	a = attr_find( e->e_attrs, dmg_ad.mail );
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( access_allowed( op, e, dmg_ad.mail, &a->a_nvals[i], ACL_READ, &acl_state ) )
			dmg_members_push_mail( ms, &a->a_vals[i], &a->a_nvals[i], 0 );
	}
	m->mail_count = ms->nmail_count - m->mail_first;
}

/* May a list built from src share its strings (see DMG_MEMBERS_MAX_SHARED)? */
static int
dmg_members_may_share( dmg_members *src )
{
	return src->nblocks <= DMG_MEMBERS_MAX_SHARED && src->dropped <= DMG_MEMBERS_MAX_SHARED;
}

/* out (new) = src but the entry skip: src's member and mail arrays copied as they are (the
 * members' mail ranges stay valid; skip's mail entries stay, unused), the strings shared */
static void
dmg_members_copy_shared( dmg_members *out, dmg_members *src, struct berval *skip )
{
	unsigned i;

	dmg_members_share_blocks( out, src );
	out->cap = src->n + 1;
	out->m = ch_malloc( out->cap * sizeof( dmg_member ) );
	if ( src->n )
		memcpy( out->m, src->m, src->n * sizeof( dmg_member ) );
	out->n = src->n;
	out->mail_cap = src->nmail_count + 1;
	out->mail = ch_malloc( out->mail_cap * sizeof( struct berval ) );
	out->nmail = ch_malloc( out->mail_cap * sizeof( struct berval ) );
	if ( src->nmail_count ) {
		memcpy( out->mail, src->mail, src->nmail_count * sizeof( struct berval ) );
		memcpy( out->nmail, src->nmail, src->nmail_count * sizeof( struct berval ) );
	}
	out->nmail_count = src->nmail_count;
	out->dropped = src->dropped;
	for ( i = 0; skip && i < out->n; i++ ) {
		if ( dn_match( &out->m[i].ndn, skip ) ) {
			memmove( &out->m[i], &out->m[i + 1], ( out->n - i - 1 ) * sizeof( dmg_member ) );
			out->n--;
			out->dropped++;
			break;
		}
	}
}

/* Appends the members of src but the entry skip (NULL: none), with their mail values: their
 * strings shared with src when it may (dmg_members_may_share), else copied */
static void
dmg_members_append_except( dmg_members *out, dmg_members *src, struct berval *skip )
{
	int share = dmg_members_may_share( src );
	unsigned i, j;

	/* out has nothing yet (not even arrays): it takes src's as they are */
	if ( share && out->cap == 0 && out->mail_cap == 0 ) {
		dmg_members_copy_shared( out, src, skip );
		return;
	}
	if ( share ) {
		dmg_members_share_blocks( out, src );
		out->dropped += src->dropped;
	}
	for ( i = 0; i < src->n; i++ ) {
		dmg_member *from = &src->m[i], *m;

		if ( skip && dn_match( &from->ndn, skip ) ) {
			out->dropped += share;
			continue;
		}
		m = dmg_members_new( out, &from->dn, &from->ndn, share );
		for ( j = 0; j < from->mail_count; j++ )
			dmg_members_push_mail( out, &src->mail[from->mail_first + j],
				&src->nmail[from->mail_first + j], share );
		m->mail_count = out->nmail_count - m->mail_first;
	}
}

/* Takes the member *hit out of a complete list: its strings and mail entries stay, counted as
 * dropped.  The last member takes its place in the member and attribute arrays when it has as
 * many mail values (the usual case: a write below a large group then costs the same at any
 * size, one move of the index aside); else the places after it close up.  The attribute
 * arrays stay in member order either way (shown_first). */
static void
dmg_members_take_out( dmg_members *ms, dmg_member **hit )
{
	dmg_member *gone = *hit, *last = &ms->m[ms->n - 1], **slot;
	unsigned at = gone - ms->m, first = gone->shown_first, count = gone->mail_count, i;

	dmg_members_index_take( ms, hit );
	if ( last->mail_count == count ) {
		if ( gone != last ) {
			slot = dmg_members_slot( ms, &last->ndn );
			assert( *slot == last );
			*slot = gone;
			for ( i = 0; i < count; i++ ) {
				ms->mail_vals[first + i] = ms->mail_vals[last->shown_first + i];
				ms->mail_nvals[first + i] = ms->mail_nvals[last->shown_first + i];
			}
			ms->dn_vals[at] = ms->dn_vals[ms->n - 1];
			ms->dn_nvals[at] = ms->dn_nvals[ms->n - 1];
			*gone = *last;
			gone->shown_first = first;
		}
		ms->mail_n -= count;
		ms->n--;
		BER_BVZERO( &ms->mail_vals[ms->mail_n] );
		BER_BVZERO( &ms->mail_nvals[ms->mail_n] );
		BER_BVZERO( &ms->dn_vals[ms->n] );
		BER_BVZERO( &ms->dn_nvals[ms->n] );
		ms->dropped++;
		return;
	}
	/* the NULL terminators move with the tails */
	memmove( &ms->mail_vals[first], &ms->mail_vals[first + count],
		( ms->mail_n - first - count + 1 ) * sizeof( struct berval ) );
	memmove( &ms->mail_nvals[first], &ms->mail_nvals[first + count],
		( ms->mail_n - first - count + 1 ) * sizeof( struct berval ) );
	ms->mail_n -= count;
	memmove( &ms->dn_vals[at], &ms->dn_vals[at + 1], ( ms->n - at ) * sizeof( struct berval ) );
	memmove( &ms->dn_nvals[at], &ms->dn_nvals[at + 1], ( ms->n - at ) * sizeof( struct berval ) );
	memmove( gone, gone + 1, ( ms->n - at - 1 ) * sizeof( dmg_member ) );
	ms->n--;
	for ( i = at; i < ms->n; i++ )
		ms->m[i].shown_first -= count;
	/* the index points at the members that moved down one place */
	for ( i = 0; i < DMG_MEMBERS_SLOTS( ms->cap ); i++ ) {
		if ( ms->by_ndn[i] && ms->by_ndn[i] > gone )
			ms->by_ndn[i]--;
	}
	ms->dropped++;
}

/* Puts the member just appended to a complete list (the last one) in its attribute and index
 * arrays, which have room for it */
static void
dmg_members_put_last( dmg_members *ms )
{
	dmg_member *m = &ms->m[ms->n - 1];
	unsigned j;

	ms->dn_vals[ms->n - 1] = m->dn;
	ms->dn_nvals[ms->n - 1] = m->ndn;
	BER_BVZERO( &ms->dn_vals[ms->n] );
	BER_BVZERO( &ms->dn_nvals[ms->n] );
	m->shown_first = ms->mail_n;
	for ( j = 0; j < m->mail_count; j++, ms->mail_n++ ) {
		ms->mail_vals[ms->mail_n] = ms->mail[m->mail_first + j];
		ms->mail_nvals[ms->mail_n] = ms->nmail[m->mail_first + j];
	}
	BER_BVZERO( &ms->mail_vals[ms->mail_n] );
	BER_BVZERO( &ms->mail_nvals[ms->mail_n] );
	dmg_members_index_put( ms, m );
}

/* Changes a complete list that nothing else reads (the cache gave it to the update alone) to
 * what dmg_members_append_except and dmg_members_push would copy it into: without skip, then
 * with e (with the mail values op may read) when e is not NULL, in the same order.  Costs
 * moves of memory, not a copy of the list.  0, and ms unchanged, when it lacks the room for e
 * or holds the strings of too many dropped members or blocks (DMG_MEMBERS_MAX_DROPPED): the
 * copy then gives back what they hold. */
static int
dmg_members_edit( Operation *op, dmg_members *ms, struct berval *skip, Entry *e )
{
	dmg_member **hit = dmg_members_slot( ms, skip );
	Attribute *a = e ? attr_find( e->e_attrs, dmg_ad.mail ) : NULL;
	unsigned n = ms->n, mails = ms->mail_n, raw;

	if ( *hit == NULL )
		hit = NULL;
	if ( hit ) {
		n--;
		mails -= ( *hit )->mail_count;
	}
	if ( ms->dropped >= DMG_MEMBERS_MAX_DROPPED( ms->n )
		|| ms->nblocks >= 2 * DMG_MEMBERS_MAX_SHARED
		|| ( e && ( n + 1 > ms->cap
			|| mails + ( a ? a->a_numvals : 0 ) > ms->mail_vals_cap ) ) )
		return 0;
	if ( hit ) {
		/* its mail entries stay in the raw arrays, and in the count */
		ms->strbytes -= ( *hit )->dn.bv_len + ( *hit )->ndn.bv_len + 2;
		dmg_members_take_out( ms, hit );
	}
	if ( e ) {
		raw = ms->nmail_count;
		dmg_members_push( op, ms, e );
		dmg_members_put_last( ms );
		ms->strbytes += e->e_name.bv_len + e->e_nname.bv_len + 2;
		for ( ; raw < ms->nmail_count; raw++ )
			ms->strbytes += ms->mail[raw].bv_len + ms->nmail[raw].bv_len + 2;
	}
	return 1;
}

/* Appends the members of a nested group's list, with their mail values */
static void
dmg_members_append( dmg_members *out, dmg_members *src )
{
	dmg_members_append_except( out, src, NULL );
}

static int
dmg_member_cmp( const void *a, const void *b )
{
	const dmg_member *x = a, *y = b;

	if ( x->ndn.bv_len != y->ndn.bv_len )
		return x->ndn.bv_len < y->ndn.bv_len ? -1 : 1;
	return memcmp( x->ndn.bv_val, y->ndn.bv_val, x->ndn.bv_len );
}

/* Several departments may overlap (a department and one nested in it, both named with
 * dmgIncludeSubDepartments FALSE and a non-department in between): keep each member once. */
static void
dmg_members_dedupe( dmg_members *ms )
{
	unsigned i, j;

	if ( ms->n < 2 )
		return;
	qsort( ms->m, ms->n, sizeof( dmg_member ), dmg_member_cmp );
	for ( i = 1, j = 0; i < ms->n; i++ ) {
		/* a duplicate's strings and mail values stay in their block and array, no longer
		 * referenced */
		if ( dmg_member_cmp( &ms->m[i], &ms->m[j] ) == 0 )
			continue;
		ms->m[++j] = ms->m[i];
	}
	ms->n = j + 1;
}

/* Drops the members of ms that are in ex (whose order it changes) */
static void
dmg_members_remove( dmg_members *ms, dmg_members *ex )
{
	unsigned i, j;

	if ( ex->n == 0 )
		return;
	qsort( ex->m, ex->n, sizeof( dmg_member ), dmg_member_cmp );
	for ( i = 0, j = 0; i < ms->n; i++ ) {
		/* its strings and mail values stay in their block and array, no longer
		 * referenced */
		if ( bsearch( &ms->m[i], ex->m, ex->n, sizeof( dmg_member ), dmg_member_cmp ) )
			continue;
		ms->m[j++] = ms->m[i];
	}
	ms->n = j;
}

void
dmg_members_missing_to_entry( dmg_members *a, dmg_members *b, Entry *target,
	AttributeDescription *ad )
{
	unsigned i;

	if ( b->n > 1 )
		qsort( b->m, b->n, sizeof( dmg_member ), dmg_member_cmp );
	for ( i = 0; i < a->n; i++ ) {
		if ( b->n == 0
			|| !bsearch( &a->m[i], b->m, b->n, sizeof( dmg_member ), dmg_member_cmp ) )
			attr_merge_one( target, ad, &a->m[i].dn, &a->m[i].ndn );
	}
}

/* ---- named groups -------------------------------------------------------------------------- */

/* What each named group stands for, computed once per top-level computation: a group reached
 * along several paths (A names B and C, both name D) would otherwise be computed once per
 * path, exponentially many in the depth.  (Where a cycle closes depends on the path; the
 * group keeps what its first path gave.) */
typedef struct dmg_memo_item {
	struct berval ndn;
	int yes;		/* reverse: the entry tested is one of its members */
	dmg_members ms;		/* forward: its members */
} dmg_memo_item;

typedef struct dmg_memo {
	dmg_memo_item *items;
	unsigned n, cap;
	/* a reverse lookup's test (dmg_group_has): a named group's list cached at or before
	 * gen answers for it when it names no group (then no path can change it) */
	int cached;
	unsigned long gen;
} dmg_memo;

/* The groups a computation is inside of, innermost first (on the stack): a group met again
 * on the way down is a cycle and stands for nobody there.  Every path of one computation
 * shares its memo. */
typedef struct dmg_path {
	struct berval *ndn;
	struct dmg_path *up;
	dmg_memo *memo;
} dmg_path;

static dmg_memo_item *
dmg_memo_find( dmg_memo *m, struct berval *ndn )
{
	unsigned i;

	for ( i = 0; i < m->n; i++ ) {
		if ( dn_match( &m->items[i].ndn, ndn ) )
			return &m->items[i];
	}
	return NULL;
}

/* Remembers what ndn stands for; the list ms (NULL in the reverse direction) moves into it */
static void
dmg_memo_add( dmg_memo *m, struct berval *ndn, int yes, dmg_members *ms )
{
	dmg_memo_item *it;

	if ( m->n == m->cap ) {
		m->cap = m->cap ? m->cap * 2 : 8;
		m->items = ch_realloc( m->items, m->cap * sizeof( dmg_memo_item ) );
	}
	it = &m->items[m->n++];
	ber_dupbv( &it->ndn, ndn );
	it->yes = yes;
	if ( ms )
		it->ms = *ms;
	else
		memset( &it->ms, 0, sizeof( it->ms ) );
}

static void
dmg_memo_free( dmg_memo *m )
{
	unsigned i;

	for ( i = 0; i < m->n; i++ ) {
		ch_free( m->items[i].ndn.bv_val );
		dmg_members_free( &m->items[i].ms );
	}
	ch_free( m->items );
	memset( m, 0, sizeof( *m ) );
}

static int
dmg_path_has( dmg_path *p, struct berval *ndn )
{
	for ( ; p; p = p->up ) {
		if ( dn_match( p->ndn, ndn ) )
			return 1;
	}
	return 0;
}

dmg_named_kind
dmg_named_kind_of( Entry *x )
{
	if ( dmg_entry_is_group( x ) )
		return DMG_NAMED_DYNAMIC;
	if ( is_entry_objectclass( x, dmg_ad.oc_group_of_names, 0 )
		|| is_entry_objectclass( x, dmg_ad.oc_group_of_unique_names, 0 ) )
		return DMG_NAMED_STATIC;
	return DMG_NAMED_ENTRY;
}

/* A named group stands for its members only for requesters who may read it (and, for a
 * hidden dynamic group, see it): otherwise for nobody, as a department they may not search. */
static int
dmg_named_group_readable( Operation *op, slap_overinst *on, Entry *x )
{
	if ( !access_allowed( op, x, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	return !dmg_entry_is_group( x ) || dmg_group_visible( op, on, x );
}

/* Calls fn on every member value of static group x op may read; stops at the first non-zero
 * answer, which it returns.  A uniqueMember value with a UID ("dn#'0101'B") names nobody, as
 * for slapd's group ACLs (uniqueMemberMatch), and reverse lookups find the rest by equality. */
static int
dmg_static_each( Operation *op, Entry *x, int ( *fn )( struct berval *dn, void *arg ), void *arg )
{
	AttributeDescription *ads[2] = { dmg_ad.member, dmg_ad.unique_member };
	int i, rc;
	unsigned j;

	for ( i = 0; i < 2; i++ ) {
		AccessControlState acl_state = ACL_STATE_INIT;
		Attribute *a = attr_find( x->e_attrs, ads[i] );

		for ( j = 0; a && j < a->a_numvals; j++ ) {
			if ( !access_allowed( op, x, ads[i], &a->a_nvals[j], ACL_READ, &acl_state ) )
				continue;
			if ( ( rc = fn( &a->a_nvals[j], arg ) ) != 0 )
				return rc;
		}
	}
	return 0;
}

/* ---- department structure -------------------------------------------------------------------- */

static int
dmg_is_department( Operation *op, slap_overinst *on, struct berval *ndn )
{
	dmg_info *di = on->on_bi.bi_private;
	Operation root;
	Entry *e = NULL;
	int rc = 0;

	if ( ( e = dmg_entry_get( op, on, ndn ) ) == NULL )
		return 0;
	dmg_op_as_root( op, &root );
	rc = test_filter( &root, e, di->dept_filter ) == LDAP_COMPARE_TRUE;
	dmg_entry_release( op, on, e );
	return rc;
}

/* Remembers the answer for the last parent asked about: members come in runs that share
 * their parent entry, so one department lookup serves a whole team. */
typedef struct dmg_nest_memo {
	char buf[1024];
	struct berval parent;
	int nested;
} dmg_nest_memo;

/* Does an entry strictly between ndn and dept match the department filter?  The nearest to
 * ndn is in *sub when sub is given (without memo). */
static int
dmg_below_nested_department( Operation *op, slap_overinst *on, struct berval *ndn,
	struct berval *dept, dmg_nest_memo *memo, struct berval *sub )
{
	struct berval p;
	int nested = 0;

	dnParent( ndn, &p );
	if ( memo && memo->parent.bv_val && dn_match( &p, &memo->parent ) )
		return memo->nested;
	{
		struct berval q = p;

		while ( q.bv_len > dept->bv_len ) {
			if ( dmg_is_department( op, on, &q ) ) {
				nested = 1;
				if ( sub )
					*sub = q;
				break;
			}
			dnParent( &q, &q );
		}
	}
	if ( memo ) {
		if ( p.bv_len < sizeof( memo->buf ) ) {
			memcpy( memo->buf, p.bv_val, p.bv_len );
			memo->parent.bv_val = memo->buf;
			memo->parent.bv_len = p.bv_len;
			memo->nested = nested;
		} else {
			BER_BVZERO( &memo->parent );
		}
	}
	return nested;
}

/* ---- forward: expand a group ------------------------------------------------------------------- */

typedef struct dmg_expand_ctx {
	slap_overinst *on;
	dmg_members *out;
	struct berval *dept;
	int include_sub;
	unsigned long stop_after;	/* abort the search past this many entries; 0 = never */
	int stopped;
	dmg_nest_memo memo;
} dmg_expand_ctx;

static int
dmg_expand_cb( Operation *op, SlapReply *rs )
{
	dmg_expand_ctx *ctx = op->o_callback->sc_private;
	Entry *e = rs->sr_entry;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	if ( !access_allowed( op, e, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	if ( !ctx->include_sub
		&& dmg_below_nested_department( op, ctx->on, &e->e_nname, ctx->dept, &ctx->memo, NULL ) )
		return 0;
	dmg_members_push( op, ctx->out, e );
	if ( ctx->stop_after && ctx->out->n > ctx->stop_after ) {
		ctx->stopped = 1;
		/* makes the backend end the search at once */
		return LDAP_SIZELIMIT_EXCEEDED;
	}
	return 0;
}

/* With dmgIncludeSubDepartments TRUE a department inside another named department adds
 * nobody: skip its search. */
static int
dmg_dept_covered( dmg_rule *r, int i )
{
	int j;

	if ( !r->include_sub )
		return 0;
	for ( j = 0; j < r->ndepts; j++ ) {
		if ( j != i && r->depts[i].bv_len > r->depts[j].bv_len
			&& dnIsSuffix( &r->depts[i], &r->depts[j] ) )
			return 1;
	}
	return 0;
}

/* A department search's answer: a department that is gone, or that the requester may not
 * search (back-mdb answers noSuchObject or insufficientAccess on the base), adds nobody, as in
 * the reverse test (dmg_may_search_department); any other failure fails the whole expansion. */
static int
dmg_department_search_result( int rc )
{
	switch ( rc ) {
	case LDAP_SUCCESS:
	case LDAP_NO_SUCH_OBJECT:
	case LDAP_INSUFFICIENT_ACCESS:
		return LDAP_SUCCESS;
	}
	return rc;
}

static int dmg_members_expand_path( Operation *op, slap_overinst *on, Entry *group,
	dmg_members *out, dmg_path *up );

typedef struct dmg_named_ctx {
	Operation *op;
	slap_overinst *on;
	dmg_path *up;
	dmg_members *out;
} dmg_named_ctx;

static int dmg_expand_named( Operation *op, slap_overinst *on, struct berval *ndn,
	dmg_path *up, dmg_members *out );

static int
dmg_expand_static_value( struct berval *dn, void *arg )
{
	dmg_named_ctx *c = arg;

	return dmg_expand_named( c->op, c->on, dn, c->up, c->out );
}

/* The members group x stands for as op sees them (nobody when op may not read it) */
static int
dmg_expand_group( Operation *op, slap_overinst *on, Entry *x, dmg_path *up, dmg_members *out )
{
	dmg_path here = { &x->e_nname, up, up->memo };
	dmg_named_ctx c = { op, on, &here, out };

	memset( out, 0, sizeof( *out ) );
	if ( !dmg_named_group_readable( op, on, x ) )
		return LDAP_SUCCESS;
	if ( dmg_named_kind_of( x ) == DMG_NAMED_DYNAMIC )
		return dmg_members_expand_path( op, on, x, out, up );
	return dmg_static_each( op, x, dmg_expand_static_value, &c );
}

/* Adds to out what the entry ndn stands for: a group's members as op sees them, or the entry
 * itself when op may read it and it matches the member filter. */
static int
dmg_expand_named( Operation *op, slap_overinst *on, struct berval *ndn, dmg_path *up,
	dmg_members *out )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_memo_item *known;
	dmg_members nested;
	Entry *stored, *x;
	int rc = LDAP_SUCCESS;

	/* the path and the memo hold groups only */
	if ( dmg_path_has( up, ndn ) ) {
		out->names_group = 1;
		return LDAP_SUCCESS;
	}
	if ( ( known = dmg_memo_find( up->memo, ndn ) ) != NULL ) {
		out->names_group = 1;
		dmg_members_append( out, &known->ms );
		return LDAP_SUCCESS;
	}
	if ( ( stored = dmg_entry_get( op, on, ndn ) ) == NULL )
		return LDAP_SUCCESS;
	/* a copy: the expansion below searches the database */
	x = entry_dup( stored );
	dmg_entry_release( op, on, stored );
	if ( dmg_named_kind_of( x ) != DMG_NAMED_ENTRY ) {
		out->names_group = 1;
		rc = dmg_expand_group( op, on, x, up, &nested );
		if ( rc == LDAP_SUCCESS ) {
			dmg_members_append( out, &nested );
			dmg_memo_add( up->memo, ndn, 0, &nested );
		} else {
			dmg_members_free( &nested );
		}
	} else if ( access_allowed( op, x, slap_schema.si_ad_entry, NULL, ACL_READ, NULL )
		&& test_filter( op, x, di->member_filter ) == LDAP_COMPARE_TRUE ) {
		dmg_members_push( op, out, x );
	}
	entry_free( x );
	return rc;
}

/* What the values of a (dmgIncludeMember or dmgExcludeMember of the group at here) stand for */
static int
dmg_expand_overrides( Operation *op, slap_overinst *on, Attribute *a, dmg_path *here,
	dmg_members *out )
{
	unsigned i;
	int rc = LDAP_SUCCESS;

	for ( i = 0; a && i < a->a_numvals && rc == LDAP_SUCCESS; i++ )
		rc = dmg_expand_named( op, on, &a->a_nvals[i], here, out );
	return rc;
}

/* Included entries joined to the rule's, excluded ones removed */
static int
dmg_apply_overrides( Operation *op, slap_overinst *on, dmg_rule *r, dmg_path *here,
	dmg_members *out )
{
	dmg_members ex;
	int rc;

	rc = dmg_expand_overrides( op, on, r->include, here, out );
	if ( rc != LDAP_SUCCESS || r->exclude == NULL )
		return rc;
	memset( &ex, 0, sizeof( ex ) );
	rc = dmg_expand_overrides( op, on, r->exclude, here, &ex );
	if ( rc == LDAP_SUCCESS )
		dmg_members_remove( out, &ex );
	dmg_members_free( &ex );
	return rc;
}

int
dmg_members_expand( Operation *op, slap_overinst *on, Entry *group, dmg_members *out )
{
	dmg_memo memo = { NULL, 0, 0, 0, 0 };
	dmg_path top = { &group->e_nname, NULL, &memo };
	int rc;

	/* the group itself is the top of every path: it stands for nobody below itself */
	rc = dmg_members_expand_path( op, on, group, out, &top );
	dmg_memo_free( &memo );
	return rc;
}

static int
dmg_members_expand_path( Operation *op, slap_overinst *on, Entry *group, dmg_members *out,
	dmg_path *up )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_path here = { &group->e_nname, up, up->memo };
	dmg_expand_ctx ctx;
	slap_callback cb = { 0 };
	dmg_rule r;
	int i, searched = 0, rc;

	memset( out, 0, sizeof( *out ) );
	rc = dmg_rule_from_entry( op, on, group, &r );
	if ( rc == LDAP_SUCCESS )
		rc = dmg_rule_overrides( op, on, &r );
	memset( &ctx, 0, sizeof( ctx ) );
	ctx.on = on;
	ctx.out = out;
	ctx.include_sub = r.include_sub;
	/* with one search the count is exact as it goes (includes only add to it); with
	 * several, duplicates are only known after dmg_members_dedupe, and excludes remove */
	ctx.stop_after = ( r.ndepts == 1 && r.exclude == NULL ) ? di->max_members : 0;
	cb.sc_response = dmg_expand_cb;
	cb.sc_private = &ctx;

	for ( i = 0; i < r.ndepts && !ctx.stopped && rc == LDAP_SUCCESS; i++ ) {
		if ( dmg_dept_covered( &r, i ) )
			continue;
		ctx.dept = &r.depts[i];
		BER_BVZERO( &ctx.memo.parent );
		rc = dmg_internal_search( op, &r.depts[i], LDAP_SCOPE_SUBTREE, r.filter, &cb );
		rc = ctx.stopped ? LDAP_ADMINLIMIT_EXCEEDED : dmg_department_search_result( rc );
		searched++;
	}
	if ( rc == LDAP_SUCCESS && ( r.include || r.exclude ) )
		rc = dmg_apply_overrides( op, on, &r, &here, out );
	if ( rc != LDAP_SUCCESS ) {
		/* never a partial list */
		dmg_rule_free( op, &r );
		dmg_members_free( out );
		return rc;
	}
	if ( searched > 1 || r.include )
		dmg_members_dedupe( out );
	dmg_rule_free( op, &r );
	if ( di->max_members && out->n > di->max_members ) {
		dmg_members_free( out );
		return LDAP_ADMINLIMIT_EXCEEDED;
	}
	dmg_members_index( out );
	return LDAP_SUCCESS;
}

/* ---- reverse: is one entry a member -------------------------------------------------------------- */

/* The backend requires search access on the search base; so does the reverse test. */
static int
dmg_may_search_department( Operation *op, slap_overinst *on, struct berval *dept )
{
	Entry *d = NULL;
	int ok;

	if ( ( d = dmg_entry_get( op, on, dept ) ) == NULL )
		return 0;
	ok = access_allowed( op, d, slap_schema.si_ad_entry, NULL, ACL_SEARCH, NULL );
	dmg_entry_release( op, on, d );
	return ok;
}

static void dmg_rule_why_path( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e,
	dmg_path *up, dmg_why *why );
static int dmg_members_cached_has( Operation *op, slap_overinst *on, Entry *group,
	unsigned long gen, int flat, struct berval *ndn, int *yes );
static int dmg_named_has( Operation *op, slap_overinst *on, struct berval *ndn, Entry *e,
	dmg_path *up );
static Filter *dmg_filter_or( Operation *op );
static Filter *dmg_filter_classes( Operation *op, ObjectClass **ocs, int n );

void
dmg_why_free( Operation *op, dmg_why *why )
{
	if ( why->detail.bv_val )
		op->o_tmpfree( why->detail.bv_val, op->o_tmpmemctx );
	BER_BVZERO( &why->detail );
}

static void
dmg_why_set( Operation *op, dmg_why *why, int member, dmg_why_reason reason,
	struct berval *detail )
{
	why->member = member;
	why->reason = reason;
	if ( detail )
		ber_dupbv_x( &why->detail, detail, op->o_tmpmemctx );
}

typedef struct dmg_static_has_ctx {
	Operation *op;
	slap_overinst *on;
	Entry *e;
	dmg_path *up;
	int direct;	/* first pass: the values themselves; then what they stand for */
} dmg_static_has_ctx;

static int
dmg_static_has_value( struct berval *dn, void *arg )
{
	dmg_static_has_ctx *c = arg;

	if ( c->direct )
		return dn_match( dn, &c->e->e_nname );
	return dmg_named_has( c->op, c->on, dn, c->e, c->up );
}

/* Is e one of the members static group x stands for, as op sees them? */
static int
dmg_static_has( Operation *op, slap_overinst *on, Entry *x, Entry *e, dmg_path *up )
{
	dmg_path here = { &x->e_nname, up, up->memo };
	dmg_static_has_ctx c = { op, on, e, &here, 1 };

	if ( dmg_static_each( op, x, dmg_static_has_value, &c ) )
		return 1;
	c.direct = 0;
	return dmg_static_each( op, x, dmg_static_has_value, &c );
}

/* Is e one of the members the entry ndn stands for (itself, or a group's members)?  -1 when
 * a group's members could not be learnt (a lookup failed, logged). */
static int
dmg_named_has( Operation *op, slap_overinst *on, struct berval *ndn, Entry *e, dmg_path *up )
{
	Entry *x = NULL;
	dmg_rule r;
	dmg_why why = { 0 };
	int yes = 0;

	dmg_memo_item *known;
	dmg_named_kind kind;

	if ( dn_match( ndn, &e->e_nname ) )
		return 1;
	if ( dmg_path_has( up, ndn ) )
		return 0;
	if ( ( known = dmg_memo_find( up->memo, ndn ) ) != NULL )
		return known->yes;
	if ( ( x = dmg_entry_get( op, on, ndn ) ) == NULL )
		return 0;
	kind = dmg_named_kind_of( x );
	if ( kind != DMG_NAMED_ENTRY && dmg_named_group_readable( op, on, x ) ) {
		if ( kind == DMG_NAMED_DYNAMIC && up->memo->cached && dmg_members_cached_has( op, on,
				x, up->memo->gen, 1, &e->e_nname, &yes ) ) {
			/* its list, the same for every path */
		} else if ( kind == DMG_NAMED_STATIC ) {
			yes = dmg_static_has( op, on, x, e, up );
		} else if ( dmg_rule_from_entry( op, on, x, &r ) != LDAP_SUCCESS ) {
			yes = -1;	/* not known (logged): see dmg_override_why */
			dmg_rule_free( op, &r );
		} else {
			dmg_rule_why_path( op, on, &r, e, up, &why );
			yes = why.unknown ? -1 : why.member;
			dmg_why_free( op, &why );
			dmg_rule_free( op, &r );
		}
	}
	/* only groups: other entries are looked up again, rather than searched for among all */
	if ( kind != DMG_NAMED_ENTRY )
		dmg_memo_add( up->memo, ndn, yes, NULL );
	dmg_entry_release( op, on, x );
	return yes;
}

/* The groups the override values of one attribute name, by the values of its UUID companion
 * u: (dn, ndn)[i] is the group value i names, empty when it names none (op->o_tmpmemctx) */
typedef struct dmg_override_groups {
	Attribute *u;
	struct berval *dn, *ndn;
	int twice;	/* an entryUUID carried by two groups */
} dmg_override_groups;

static int
dmg_override_groups_cb( Operation *op, SlapReply *rs )
{
	dmg_override_groups *g = op->o_callback->sc_private;
	struct berval *uuid;
	unsigned i;

	if ( rs->sr_type != REP_SEARCH || dmg_named_kind_of( rs->sr_entry ) == DMG_NAMED_ENTRY
		|| ( uuid = dmg_entry_uuid( rs->sr_entry ) ) == NULL )
		return 0;
	for ( i = 0; i < g->u->a_numvals && !bvmatch( &g->u->a_nvals[i], uuid ); i++ )
		;
	if ( i == g->u->a_numvals )
		return 0;
	if ( g->ndn[i].bv_val ) {
		/* two entries carry the UUID: which one the value names is not known */
		Debug( LDAP_DEBUG_ANY, DMG_LOG_PREFIX "\"%s\" and \"%s\" carry one entryUUID: "
			"neither is taken for it\n", g->dn[i].bv_val, rs->sr_entry->e_name.bv_val );
		g->twice = 1;
		return 0;
	}
	ber_dupbv_x( &g->dn[i], &rs->sr_entry->e_name, op->o_tmpmemctx );
	ber_dupbv_x( &g->ndn[i], &rs->sr_entry->e_nname, op->o_tmpmemctx );
	return 0;
}

/* Which values of u name groups: one indexed search, as the rootdn (which entries are groups
 * is structure; whether a group stands for its members to op is decided per group after),
 * so that the values naming other entries are never fetched */
static int
dmg_override_groups_find( Operation *op, Attribute *u, dmg_override_groups *g )
{
	ObjectClass *ocs[] = { dmg_ad.oc_group, dmg_ad.oc_group_of_names,
		dmg_ad.oc_group_of_unique_names };
	Filter *and, *classes = dmg_filter_classes( op, ocs, 3 ), *uuids = dmg_filter_or( op );
	slap_callback cb = { 0 };
	Operation root;
	unsigned i;
	int rc;

	g->u = u;
	g->dn = op->o_tmpcalloc( u->a_numvals, sizeof( struct berval ), op->o_tmpmemctx );
	g->ndn = op->o_tmpcalloc( u->a_numvals, sizeof( struct berval ), op->o_tmpmemctx );
	for ( i = 0; i < u->a_numvals; i++ )
		dmg_filter_or_add( uuids, dmg_filter_eq( op, slap_schema.si_ad_entryUUID,
			&u->a_nvals[i] ) );
	and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );
	and->f_choice = LDAP_FILTER_AND;
	and->f_and = classes;
	classes->f_next = uuids;
	cb.sc_response = dmg_override_groups_cb;
	cb.sc_private = g;
	dmg_op_as_root( op, &root );
	rc = dmg_internal_search( &root, &root.o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, and, &cb );
	filter_free_x( op, and, 1 );
	if ( rc == LDAP_SUCCESS && g->twice )
		return LDAP_OTHER;
	return rc == LDAP_NO_SUCH_OBJECT ? LDAP_SUCCESS : rc;
}

static void
dmg_override_groups_free( Operation *op, dmg_override_groups *g )
{
	unsigned i;

	for ( i = 0; g->u && i < g->u->a_numvals; i++ ) {
		if ( g->ndn[i].bv_val ) {
			op->o_tmpfree( g->dn[i].bv_val, op->o_tmpmemctx );
			op->o_tmpfree( g->ndn[i].bv_val, op->o_tmpmemctx );
		}
	}
	op->o_tmpfree( g->dn, op->o_tmpmemctx );
	op->o_tmpfree( g->ndn, op->o_tmpmemctx );
}

/* Does a value of override attribute ad stand for e, has telling whether the entry it names
 * is e or has e as a member: one whose members are not known (has < 0) excludes e and
 * includes nobody (fail closed) */
static int
dmg_override_has( int has, AttributeDescription *ad )
{
	return has > 0 || ( has < 0 && ad == dmg_ad.exclude_member );
}

/* By DN: a group without a UUID companion for ad names entries by their DN values as
 * stored; each value is looked up to learn whether it names a group */
static int
dmg_override_by_dn( Operation *op, slap_overinst *on, Attribute *a, Entry *e, dmg_path *here,
	int *via, struct berval *named )
{
	unsigned i;

	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dn_match( &a->a_nvals[i], &e->e_nname ) ) {
			*via = 0;
			return 1;
		}
	}
	for ( i = 0; a && i < a->a_numvals; i++ ) {
		if ( dmg_override_has( dmg_named_has( op, on, &a->a_nvals[i], e, here ),
				a->a_desc ) ) {
			*via = 1;
			ber_dupbv_x( named, &a->a_vals[i], op->o_tmpmemctx );
			return 1;
		}
	}
	return 0;
}

/* By UUID: e's entryUUID among the companion's values, then the groups among them (one
 * search), each tested in the order of the values.  *unknown when the group's own values
 * could not be resolved (a named group's failure is its own: has < 0) */
static int
dmg_override_by_uuid( Operation *op, slap_overinst *on, Entry *group, AttributeDescription *ad,
	Entry *e, dmg_path *here, int *via, struct berval *named, int *unknown )
{
	Attribute *u = attr_find( group->e_attrs, dmg_ref_uuid_ad( ad ) );
	struct berval *uuid = dmg_entry_uuid( e );
	dmg_override_groups g = { 0 };
	unsigned i;
	int found = 0;

	for ( i = 0; uuid && i < u->a_numvals; i++ ) {
		int names;

		if ( !bvmatch( &u->a_nvals[i], uuid ) )
			continue;
		if ( ( names = dmg_ref_uuid_names( op, group, ad, e ) ) < 0 )
			*unknown = 1;
		if ( dmg_override_has( names, ad ) ) {
			*via = 0;
			return 1;
		}
		break;
	}
	*via = 1;
	if ( dmg_override_groups_find( op, u, &g ) != LDAP_SUCCESS ) {
		/* logged by the search; no value names a group then (g is empty) */
		*unknown = 1;
		found = dmg_override_has( -1, ad );
	}
	for ( i = 0; !found && i < u->a_numvals; i++ ) {
		if ( g.ndn[i].bv_val
			&& dmg_override_has( dmg_named_has( op, on, &g.ndn[i], e, here ), ad ) ) {
			ber_dupbv_x( named, &g.dn[i], op->o_tmpmemctx );
			found = 1;
		}
	}
	dmg_override_groups_free( op, &g );
	return found;
}

/* Does a value of override attribute ad of the group at here (rule r) decide e's membership?
 * Then why says how. */
static int
dmg_override_why( Operation *op, slap_overinst *on, dmg_rule *r, AttributeDescription *ad,
	Entry *e, dmg_path *here, dmg_why *why )
{
	struct berval named = BER_BVNULL;
	int include = ad == dmg_ad.include_member, via = 0, found;

	if ( attr_find( r->entry->e_attrs, dmg_ref_uuid_ad( ad ) ) )
		found = dmg_override_by_uuid( op, on, r->entry, ad, e, here, &via, &named,
			&why->unknown );
	else
		found = dmg_override_by_dn( op, on, attr_find( r->entry->e_attrs, ad ), e, here,
			&via, &named );
	if ( found ) {
		dmg_why_set( op, why, include, include
			? ( via ? DMG_WHY_INCLUDED_VIA : DMG_WHY_INCLUDED )
			: ( via ? DMG_WHY_EXCLUDED_VIA : DMG_WHY_EXCLUDED ),
			BER_BVISNULL( &named ) ? NULL : &named );
		op->o_tmpfree( named.bv_val, op->o_tmpmemctx );
	}
	return found;
}

/* The DN of the entry ndn as stored (op->o_tmpmemctx), left empty when op may not learn of
 * the entry: the nesting test reads departments with the rootdn's rights */
static void
dmg_pretty_dn( Operation *op, slap_overinst *on, struct berval *ndn, struct berval *out )
{
	Entry *x = dmg_entry_get( op, on, ndn );

	BER_BVZERO( out );
	if ( x == NULL )
		return;
	if ( dmg_entry_disclosed( op, on, x ) )
		ber_dupbv_x( out, &x->e_name, op->o_tmpmemctx );
	dmg_entry_release( op, on, x );
}

/* The rule proper: departments, then conditions (as stored, first unmet one reported) */
static void
dmg_rule_why_selected( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why )
{
	struct berval sub = BER_BVNULL, q;
	Filter *c;
	int i, found = -1;
	unsigned j;

	for ( i = 0; i < r->ndepts && found < 0; i++ ) {
		if ( !dnIsSuffix( &e->e_nname, &r->depts[i] ) )
			continue;
		/* the backend requires search access on the search base; so does the test */
		if ( !dmg_may_search_department( op, on, &r->depts[i] ) )
			continue;
		if ( !r->include_sub && dmg_below_nested_department( op, on, &e->e_nname,
				&r->depts[i], NULL, BER_BVISNULL( &sub ) ? &sub : &q ) )
			continue;
		found = i;
	}
	if ( found < 0 && !BER_BVISNULL( &sub ) ) {
		dmg_why_set( op, why, 0, DMG_WHY_SUB_DEPARTMENT, NULL );
		dmg_pretty_dn( op, on, &sub, &why->detail );
		return;
	}
	if ( found < 0 ) {
		dmg_why_set( op, why, 0, DMG_WHY_OUTSIDE, NULL );
		return;
	}
	/* the member filter is the rule filter's first part: it held already */
	for ( c = r->filter->f_and->f_next, j = 0; c; c = c->f_next, j++ ) {
		if ( test_filter( op, e, c ) != LDAP_COMPARE_TRUE ) {
			dmg_why_set( op, why, 0, DMG_WHY_CONDITION,
				r->conds && j < r->conds->a_numvals ? &r->conds->a_vals[j] : NULL );
			return;
		}
	}
	dmg_why_set( op, why, 1, DMG_WHY_DEPARTMENT, &r->dept_vals[found] );
}

static void
dmg_rule_why_path( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_path *up,
	dmg_why *why )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_path here = { &r->ndn, up, up->memo };

	memset( why, 0, sizeof( *why ) );
	if ( !dmg_entry_disclosed( op, on, e ) ) {
		dmg_why_set( op, why, 0, DMG_WHY_NO_SUCH_ENTRY, NULL );
		return;
	}
	if ( dmg_override_why( op, on, r, dmg_ad.exclude_member, e, &here, why ) )
		return;
	if ( test_filter( op, e, di->member_filter ) != LDAP_COMPARE_TRUE ) {
		dmg_why_set( op, why, 0, DMG_WHY_MEMBER_FILTER, NULL );
		return;
	}
	if ( dmg_override_why( op, on, r, dmg_ad.include_member, e, &here, why ) )
		return;
	dmg_rule_why_selected( op, on, r, e, why );
}

/* The reverse test of one computation, whose memo (empty) is freed after it */
static void
dmg_rule_why_memo( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why,
	dmg_memo *memo )
{
	dmg_path top = { &r->ndn, NULL, memo };

	dmg_rule_why_path( op, on, r, e, &top, why );
	dmg_memo_free( memo );
}

void
dmg_rule_why( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, dmg_why *why )
{
	dmg_memo memo = { NULL, 0, 0, 0, 0 };

	dmg_rule_why_memo( op, on, r, e, why, &memo );
}

/* dmg_rule_has_member in *yes; LDAP_OTHER when the rule's own entries could not be found */
static int
dmg_rule_member_rc( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e, int *yes )
{
	dmg_why why;

	dmg_rule_why( op, on, r, e, &why );
	dmg_why_free( op, &why );
	*yes = why.member;
	return why.unknown ? LDAP_OTHER : LDAP_SUCCESS;
}

int
dmg_rule_has_member( Operation *op, slap_overinst *on, dmg_rule *r, Entry *e )
{
	int yes;

	dmg_rule_member_rc( op, on, r, e, &yes );
	return yes;
}

int
dmg_rule_tests_member( Operation *op, slap_overinst *on, Entry *group, dmg_rule *r, Entry *e,
	int *yes )
{
	dmg_as_group ag;
	Operation *mop = dmg_membership_begin( op, on, group, &ag );
	int rc = LDAP_SUCCESS;

	*yes = 0;
	if ( mop )
		rc = dmg_rule_member_rc( mop, on, r, e, yes );
	dmg_membership_end( &ag );
	return rc;
}

int
dmg_rule_shows_member( Operation *op, slap_overinst *on, Entry *group, dmg_rule *r, Entry *e )
{
	int yes;

	dmg_rule_tests_member( op, on, group, r, e, &yes );
	return yes;
}

/* An explanation tells what member says and which part of the rule says it: it is given to
 * requesters who may read both */
static int
dmg_may_explain( Operation *op, Entry *group )
{
	AttributeDescription **ads[] = { &dmg_ad.member, &dmg_ad.department, &dmg_ad.include_sub,
		&dmg_ad.condition, &dmg_ad.include_member, &dmg_ad.exclude_member, NULL };
	int i;

	for ( i = 0; ads[i]; i++ ) {
		if ( !access_allowed( op, group, *ads[i], NULL, ACL_READ, NULL ) )
			return 0;
	}
	return 1;
}

/* An explanation computed with group visibility's rootdn rights (mop != op) says no more
 * than the member list does: a non-member op's requester may not learn of is no such
 * entry, and the sub-department a non-member lies in is named only when the requester may
 * learn of it. */
static void
dmg_why_hide( Operation *op, slap_overinst *on, Entry *e, Operation *mop, dmg_why *why )
{
	struct berval ndn = BER_BVNULL;
	Entry *sub = NULL;
	int disclosed = 0;

	if ( mop == op || why->member )
		return;
	if ( !dmg_entry_disclosed( op, on, e ) ) {
		dmg_why_free( op, why );
		why->reason = DMG_WHY_NO_SUCH_ENTRY;
		return;
	}
	if ( why->reason != DMG_WHY_SUB_DEPARTMENT || BER_BVISNULL( &why->detail ) )
		return;
	if ( dnNormalize( 0, NULL, NULL, &why->detail, &ndn, op->o_tmpmemctx ) == LDAP_SUCCESS ) {
		if ( ( sub = dmg_entry_get( op, on, &ndn ) ) != NULL ) {
			disclosed = dmg_entry_disclosed( op, on, sub );
			dmg_entry_release( op, on, sub );
		}
		op->o_tmpfree( ndn.bv_val, op->o_tmpmemctx );
	}
	if ( !disclosed )
		dmg_why_free( op, why );
}

static const char *const dmg_why_words[] = {
	"no-such-entry", "excluded", "excluded-via", "member-filter", "included", "included-via",
	"department", "outside-departments", "sub-department", "condition"
};

/* Why e is or is not a member of group (computed by mop, for op's requester).  A rule whose
 * own entries could not be found (logged where the lookup failed) gives no explanation: it
 * would say what the failed lookup made of it, not what the group says. */
static int
dmg_why_member( Operation *op, Operation *mop, slap_overinst *on, Entry *group, Entry *e,
	dmg_why *why )
{
	dmg_rule r;
	int rc = dmg_rule_from_entry( op, on, group, &r );

	if ( rc == LDAP_SUCCESS ) {
		dmg_rule_why( mop, on, &r, e, why );
		if ( why->unknown )
			rc = LDAP_OTHER;
		else
			dmg_why_hide( op, on, e, mop, why );
	}
	dmg_rule_free( op, &r );
	return rc;
}

int
dmg_explanation_to_entry( Operation *op, slap_overinst *on, Entry *group, struct berval *ndn,
	Entry *target )
{
	dmg_why why = { 0, DMG_WHY_NO_SUCH_ENTRY, BER_BVNULL, 0 };
	struct berval bv;
	dmg_as_group ag;
	Operation *mop;
	Entry *e;
	int rc = LDAP_SUCCESS;

	/* may_explain includes read access to member: with group visibility, mop is set */
	if ( !dmg_may_explain( op, group )
		|| ( mop = dmg_membership_begin( op, on, group, &ag ) ) == NULL )
		return LDAP_SUCCESS;
	e = dmg_entry_get( op, on, ndn );
	if ( e ) {
		rc = dmg_why_member( op, mop, on, group, e, &why );
		dmg_entry_release( op, on, e );
	}
	dmg_membership_end( &ag );
	if ( rc != LDAP_SUCCESS ) {
		dmg_why_free( op, &why );
		return rc;
	}
	bv.bv_len = sizeof( "not-member " ) + strlen( dmg_why_words[why.reason] ) + 1
		+ why.detail.bv_len;
	bv.bv_val = op->o_tmpalloc( bv.bv_len + 1, op->o_tmpmemctx );
	bv.bv_len = snprintf( bv.bv_val, bv.bv_len + 1, "%s %s%s%s",
		why.member ? "member" : "not-member", dmg_why_words[why.reason],
		why.detail.bv_val ? " " : "", why.detail.bv_val ? why.detail.bv_val : "" );
	attr_merge_one( target, dmg_ad.explanation, &bv, &bv );
	op->o_tmpfree( bv.bv_val, op->o_tmpmemctx );
	dmg_why_free( op, &why );
	return LDAP_SUCCESS;
}

/* ---- candidates and reverse lookups ----------------------------------------------------------------- */

Filter *
dmg_filter_eq( Operation *op, AttributeDescription *ad, struct berval *nval )
{
	Filter *f = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	f->f_choice = LDAP_FILTER_EQUALITY;
	f->f_ava = op->o_tmpcalloc( 1, sizeof( AttributeAssertion ), op->o_tmpmemctx );
	f->f_ava->aa_desc = ad;
	ber_dupbv_x( &f->f_ava->aa_value, nval, op->o_tmpmemctx );
	return f;
}

static Filter *
dmg_filter_or( Operation *op )
{
	Filter *or = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	or->f_choice = LDAP_FILTER_OR;
	return or;
}

void
dmg_filter_or_add( Filter *or, Filter *f )
{
	f->f_next = or->f_or;
	or->f_or = f;
}

/* Calls fn on every ancestor A of ndn in the database (ndn included), with A's entry when on
 * is given (for its entryUUID: a group's DN value may predate a rename, references.c; ndn's
 * own is self when given), else NULL */
static void
dmg_ancestors_each( Operation *op, slap_overinst *on, struct berval *ndn, Entry *self,
	void ( *fn )( Operation *op, struct berval *dn, Entry *a, void *arg ), void *arg )
{
	struct berval *suffix = &op->o_bd->be_nsuffix[0];
	struct berval p = *ndn;

	while ( p.bv_len >= suffix->bv_len && dnIsSuffix( &p, suffix ) ) {
		Entry *a = self ? self : on ? dmg_entry_get( op, on, &p ) : NULL;

		fn( op, &p, a, arg );
		if ( a && a != self )
			dmg_entry_release( op, on, a );
		self = NULL;
		if ( p.bv_len == suffix->bv_len )
			break;
		dnParent( &p, &p );
	}
}

static void
dmg_filter_add_department( Operation *op, struct berval *dn, Entry *a, void *or )
{
	dmg_filter_or_add_ref( op, or, dmg_ad.department, dn, a );
}

/* (dmgDepartment=A) for every ancestor A of ndn: the groups whose rule may select the entry;
 * with on, also (dmgDepartmentUUID=U) for the entryUUID U of each */
static void
dmg_filter_add_ancestors( Operation *op, slap_overinst *on, Filter *or, struct berval *ndn,
	Entry *self )
{
	dmg_ancestors_each( op, on, ndn, self, dmg_filter_add_department, or );
}

/* One level of a reverse lookup: the assertions that find dynamic groups (dyn) and static
 * groups (stat), each an OR */
typedef struct dmg_level {
	Filter *dyn, *stat;
} dmg_level;

/* The groups that name entry e as a member: dynamic groups by dmgIncludeMember (or its
 * UUID), static groups (nested in a dynamic group's overrides) by member or uniqueMember */
static void
dmg_level_add_naming( Operation *op, dmg_level *l, Entry *e )
{
	struct berval *ndn = &e->e_nname;

	if ( l->dyn == NULL )
		l->dyn = dmg_filter_or( op );
	if ( l->stat == NULL )
		l->stat = dmg_filter_or( op );
	dmg_filter_or_add_ref( op, l->dyn, dmg_ad.include_member, ndn, e );
	dmg_filter_or_add( l->stat, dmg_filter_eq( op, dmg_ad.member, ndn ) );
	dmg_filter_or_add( l->stat, dmg_filter_eq( op, dmg_ad.unique_member, ndn ) );
}

static Filter *
dmg_filter_and2( Operation *op, Filter *a, Filter *b )
{
	Filter *and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );

	and->f_choice = LDAP_FILTER_AND;
	and->f_and = a;
	a->f_next = b;
	return and;
}

/* (|(objectClass=C)...) of the classes of ocs[n] the schema has, built rather than parsed
 * (a reverse lookup builds several per query) */
static Filter *
dmg_filter_classes( Operation *op, ObjectClass **ocs, int n )
{
	Filter *or = dmg_filter_or( op );
	int i;

	for ( i = 0; i < n; i++ ) {
		if ( ocs[i] )
			dmg_filter_or_add( or, dmg_filter_eq( op, slap_schema.si_ad_objectClass,
				&ocs[i]->soc_cname ) );
	}
	return or;
}

/* (&(objectClass=dynamicMailGroup)DYN): the class keeps the search to groups also when an
 * assertion has no index (the backend then tests every group, not every entry) */
static Filter *
dmg_filter_dynamic( Operation *op, Filter *dyn )
{
	return dmg_filter_and2( op, dmg_filter_classes( op, &dmg_ad.oc_group, 1 ), dyn );
}

/* The search of a level: (|(&(objectClass=dynamicMailGroup)DYN)(&(static classes)STAT)); the
 * level's filters move into it */
static Filter *
dmg_level_filter( Operation *op, dmg_level *l )
{
	ObjectClass *statics[] = { dmg_ad.oc_group_of_names, dmg_ad.oc_group_of_unique_names };
	Filter *f = dmg_filter_or( op );

	if ( l->stat )
		dmg_filter_or_add( f, dmg_filter_and2( op,
			dmg_filter_classes( op, statics, 2 ), l->stat ) );
	if ( l->dyn )
		dmg_filter_or_add( f, dmg_filter_dynamic( op, l->dyn ) );
	l->dyn = l->stat = NULL;
	return f;
}

/* ber_bvarray_add_x stores the berval itself; the entry it comes from goes away */
static void
dmg_bvarray_add_copy( BerVarray *a, struct berval *bv, void *ctx )
{
	struct berval copy;

	ber_dupbv_x( &copy, bv, ctx );
	ber_bvarray_add_x( a, &copy, ctx );
}

int
dmg_bvarray_has_dn( BerVarray a, struct berval *dn )
{
	int i;

	for ( i = 0; a && !BER_BVISNULL( &a[i] ); i++ ) {
		if ( dn_match( &a[i], dn ) )
			return 1;
	}
	return 0;
}

/* Candidate groups, by DN: they are tested once the search is over, because the test reads
 * the database with the requester's operation (ops.c: not from inside a callback), and then
 * looked up again rather than copied here (a group with long override lists is costly to
 * copy, cheap to decode) */
typedef struct dmg_candidates {
	BerVarray ndns;
	void *memctx;
} dmg_candidates;

static int
dmg_candidates_cb( Operation *op, SlapReply *rs )
{
	dmg_candidates *c = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH || dmg_named_kind_of( rs->sr_entry ) == DMG_NAMED_ENTRY )
		return 0;
	dmg_bvarray_add_copy( &c->ndns, &rs->sr_entry->e_nname, c->memctx );
	return 0;
}

/* Is candidate group g one of e's groups, as op sees it (*yes)?  A dynamic group's list
 * cached for op's identity answers without a test, and so do, inside a test, the cached lists
 * of the groups it names that name no group themselves.  LDAP_OTHER when the group's own
 * references could not be looked up: the caller's answer would be partial. */
static int
dmg_group_has( Operation *op, slap_overinst *on, Entry *g, Entry *e, unsigned long gen,
	int *yes )
{
	dmg_memo memo = { NULL, 0, 0, 1, gen };
	dmg_rule r;
	dmg_why why;
	int rc;

	*yes = 0;
	if ( !dmg_named_group_readable( op, on, g ) )
		return LDAP_SUCCESS;
	if ( dmg_entry_is_group( g ) && dmg_group_cached_has( op, on, g, gen, &e->e_nname, yes ) )
		return LDAP_SUCCESS;
	if ( dmg_named_kind_of( g ) == DMG_NAMED_STATIC ) {
		dmg_path top = { &g->e_nname, NULL, &memo };

		*yes = dmg_static_has( op, on, g, e, &top );
		dmg_memo_free( &memo );
		return LDAP_SUCCESS;
	}
	rc = dmg_rule_from_entry( op, on, g, &r );
	if ( rc == LDAP_SUCCESS ) {
		dmg_rule_why_memo( op, on, &r, e, &why, &memo );
		dmg_why_free( op, &why );
		/* why.unknown: a named group that could not be read excludes; that verdict is
		 * the group's, not a failure of this test */
		*yes = why.member;
	}
	dmg_rule_free( op, &r );
	return rc;
}

/* A reverse lookup, level by level: first the groups whose rule may select e and those that
 * name e (remembered by the overlay, named.c, else found by one indexed search), then the
 * groups that name one of the groups found to have e: those remembered, else one search per
 * level of nesting.  Each candidate is tested once with the reverse test. */
typedef struct dmg_reverse {
	BerVarray ndns, dns;	/* the dynamic groups that have e, the result */
	BerVarray seen;		/* every candidate tested */
	dmg_level next;		/* the next level's search, empty when no group was found */
	Filter *cand;		/* the OR the caller's widened filter needs, or NULL */
	int cand_all;		/* a group without entryUUID: the widened filter takes every group */
	unsigned long gen;	/* the operation's cache generation */
	dmg_names *names;	/* the entries groups include, NULL: the levels are searched */
	BerVarray namers;	/* the next level's candidates, from names */
} dmg_reverse;

/* The caller's widened filter finds the groups that have e by their entryUUID: one indexed
 * assertion each (references need that index too), where the assertions that found them
 * (departments, overrides, by DN and UUID, at every level) cost the backend a lookup each */
static void
dmg_reverse_cand_add( Operation *op, dmg_reverse *rv, Entry *g )
{
	struct berval *uuid = dmg_entry_uuid( g );

	if ( uuid == NULL )
		rv->cand_all = 1;
	else if ( !rv->cand_all )
		dmg_filter_or_add( rv->cand, dmg_filter_eq( op, slap_schema.si_ad_entryUUID, uuid ) );
}

/* The widened filter's part for the groups found: (|UUIDS), without the class (an entryUUID
 * names one entry, and ANDing the class would cost the backend the class's index list of
 * every group); the class alone after a group without entryUUID, NULL when none was found */
static Filter *
dmg_reverse_cand( Operation *op, dmg_reverse *rv )
{
	if ( rv->cand_all ) {
		filter_free_x( op, rv->cand, 1 );
		return dmg_filter_classes( op, &dmg_ad.oc_group, 1 );
	}
	if ( rv->cand->f_or == NULL ) {
		filter_free_x( op, rv->cand, 1 );
		return NULL;
	}
	return rv->cand;
}

static int
dmg_reverse_test_group( Operation *op, slap_overinst *on, Entry *e, Entry *g, dmg_reverse *rv )
{
	int yes, rc;

	if ( ( rc = dmg_group_has( op, on, g, e, rv->gen, &yes ) ) != LDAP_SUCCESS || !yes )
		return rc;
	if ( dmg_entry_is_group( g ) ) {
		dmg_bvarray_add_copy( &rv->ndns, &g->e_nname, op->o_tmpmemctx );
		dmg_bvarray_add_copy( &rv->dns, &g->e_name, op->o_tmpmemctx );
		if ( rv->cand )
			dmg_reverse_cand_add( op, rv, g );
	}
	/* the next level: the groups that name g, as remembered (named.c), or a search */
	if ( dmg_names_complete( rv->names ) )
		dmg_names_namers( op, rv->names, g, &rv->namers );
	else
		dmg_level_add_naming( op, &rv->next, g );
	return LDAP_SUCCESS;
}

/* Tests candidate ndn, once per lookup; a candidate gone since the search has nobody */
static int
dmg_reverse_test( Operation *op, slap_overinst *on, Entry *e, struct berval *ndn,
	dmg_reverse *rv )
{
	Entry *g;
	int rc;

	if ( dmg_bvarray_has_dn( rv->seen, ndn ) )
		return LDAP_SUCCESS;
	dmg_bvarray_add_copy( &rv->seen, ndn, op->o_tmpmemctx );
	if ( ( g = dmg_entry_get( op, on, ndn ) ) == NULL )
		return LDAP_SUCCESS;
	/* a remembered namer may have stopped being a group since */
	if ( dmg_named_kind_of( g ) == DMG_NAMED_ENTRY ) {
		dmg_entry_release( op, on, g );
		return LDAP_SUCCESS;
	}
	rc = dmg_reverse_test_group( op, on, e, g, rv );
	dmg_entry_release( op, on, g );
	return rc;
}

typedef struct dmg_department_groups {
	dmg_names *names;
	BerVarray *out;
} dmg_department_groups;

static void
dmg_add_department_groups( Operation *op, struct berval *dn, Entry *a, void *arg )
{
	dmg_department_groups *d = arg;

	dmg_names_departments( op, d->names, dn, a, d->out );
}

/* The first level of a reverse lookup: appends to *ndns the candidates the remembered names
 * give (the groups that name e, those whose rule may select e), and returns the search for
 * the others, NULL when the names know them all */
static Filter *
dmg_reverse_first_level( Operation *op, slap_overinst *on, Entry *e, dmg_reverse *rv,
	BerVarray *ndns )
{
	dmg_department_groups d = { rv->names, ndns };

	if ( dmg_names_complete( rv->names ) )
		dmg_names_namers( op, rv->names, e, ndns );
	else
		dmg_level_add_naming( op, &rv->next, e );
	if ( dmg_names_departments_complete( rv->names ) ) {
		dmg_ancestors_each( op, on, &e->e_nname, e, dmg_add_department_groups, &d );
	} else {
		if ( rv->next.dyn == NULL )
			rv->next.dyn = dmg_filter_or( op );
		dmg_filter_add_ancestors( op, on, rv->next.dyn, &e->e_nname, e );
	}
	return rv->next.dyn ? dmg_level_filter( op, &rv->next ) : NULL;
}

/* With group visibility: the groups that have e as the rootdn sees them, less those whose
 * members op's requester may not see (a group it may not read, a hidden one, or one whose
 * member attribute it may not read) */
static int
dmg_groups_shown( Operation *op, slap_overinst *on, Entry *e, BerVarray *ndns, BerVarray *dns,
	Filter **cand, unsigned long gen )
{
	BerVarray all_n = NULL, all = NULL;
	Operation root;
	dmg_who who;
	Entry *g;
	int i, rc;

	dmg_op_as_root( op, &root );
	dmg_who_begin( &root, on, &who );
	rc = dmg_groups_of_entry( &root, on, e, &all_n, &all, cand, gen );
	dmg_who_end( &root, &who );
	*ndns = NULL;
	if ( dns )
		*dns = NULL;
	for ( i = 0; all_n && !BER_BVISNULL( &all_n[i] ); i++ ) {
		if ( ( g = dmg_entry_get( op, on, &all_n[i] ) ) == NULL )
			continue;
		if ( dmg_named_group_readable( op, on, g ) && dmg_membership_shown( op, on, g ) ) {
			dmg_bvarray_add_copy( ndns, &all_n[i], op->o_tmpmemctx );
			if ( dns )
				dmg_bvarray_add_copy( dns, &all[i], op->o_tmpmemctx );
		}
		dmg_entry_release( op, on, g );
	}
	ber_bvarray_free_x( all_n, op->o_tmpmemctx );
	ber_bvarray_free_x( all, op->o_tmpmemctx );
	return rc;
}

int
dmg_groups_of_entry( Operation *op, slap_overinst *on, Entry *e, BerVarray *ndns, BerVarray *dns,
	Filter **cand, unsigned long gen )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_candidates c = { NULL, op->o_tmpmemctx };
	dmg_reverse rv;
	slap_callback cb = { 0 };
	Operation root;
	Filter *f;
	unsigned i;
	int rc = LDAP_SUCCESS;

	if ( di->visibility_group && !dmg_is_root( op, on ) )
		return dmg_groups_shown( op, on, e, ndns, dns, cand, gen );
	memset( &rv, 0, sizeof( rv ) );
	rv.gen = gen;
	rv.names = dmg_names_acquire( op, on, gen );
	cb.sc_response = dmg_candidates_cb;
	cb.sc_private = &c;
	f = dmg_reverse_first_level( op, on, e, &rv, &c.ndns );
	if ( cand )
		rv.cand = dmg_filter_or( op );
	/* candidates are found with the rootdn's rights (the requester may not be allowed to
	 * search dmgDepartment); each is then checked with the requester's */
	dmg_op_as_root( op, &root );
	while ( rc == LDAP_SUCCESS && ( f || c.ndns ) ) {
		if ( f ) {
			rc = dmg_internal_search( &root, &op->o_bd->be_nsuffix[0],
				LDAP_SCOPE_SUBTREE, f, &cb );
			filter_free_x( op, f, 1 );
			f = NULL;
		}
		for ( i = 0; rc == LDAP_SUCCESS && c.ndns && !BER_BVISNULL( &c.ndns[i] ); i++ )
			rc = dmg_reverse_test( op, on, e, &c.ndns[i], &rv );
		ber_bvarray_free_x( c.ndns, op->o_tmpmemctx );
		/* the next level: remembered namers, or a search (each tested once: rv.seen) */
		c.ndns = rv.namers;
		rv.namers = NULL;
		if ( rv.next.dyn )
			f = dmg_level_filter( op, &rv.next );
	}
	if ( f )
		filter_free_x( op, f, 1 );
	ber_bvarray_free_x( c.ndns, op->o_tmpmemctx );
	if ( rv.next.dyn )
		filter_free_x( op, dmg_level_filter( op, &rv.next ), 1 );
	ber_bvarray_free_x( rv.seen, op->o_tmpmemctx );
	dmg_names_release( on, rv.names );
	if ( rc != LDAP_SUCCESS ) {
		ber_bvarray_free_x( rv.ndns, op->o_tmpmemctx );
		ber_bvarray_free_x( rv.dns, op->o_tmpmemctx );
		if ( rv.cand )
			filter_free_x( op, rv.cand, 1 );
		rv.ndns = rv.dns = NULL;
		rv.cand = NULL;
	}
	*ndns = rv.ndns;
	if ( dns )
		*dns = rv.dns;
	else
		ber_bvarray_free_x( rv.dns, op->o_tmpmemctx );
	if ( cand )
		*cand = rv.cand ? dmg_reverse_cand( op, &rv ) : NULL;
	return rc;
}

typedef struct dmg_mail_ctx {
	BerVarray ndns;
	void *memctx;
} dmg_mail_ctx;

static int
dmg_mail_cb( Operation *op, SlapReply *rs )
{
	dmg_mail_ctx *ctx = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	if ( !access_allowed( op, rs->sr_entry, slap_schema.si_ad_entry, NULL, ACL_READ, NULL ) )
		return 0;
	dmg_bvarray_add_copy( &ctx->ndns, &rs->sr_entry->e_nname, ctx->memctx );
	return 0;
}

int
dmg_entries_with_mail( Operation *op, slap_overinst *on, struct berval *addr, BerVarray *ndns )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_mail_ctx ctx = { NULL, op->o_tmpmemctx };
	slap_callback cb = { 0 };
	Operation root, *sop = op;
	Filter *and;
	struct berval nmail = BER_BVNULL;
	const char *text = NULL;
	MatchingRule *mr = dmg_ad.mail->ad_type->sat_equality;
	int rc;

	*ndns = NULL;
	if ( mr == NULL || asserted_value_validate_normalize( dmg_ad.mail, mr, SLAP_MR_EQUALITY,
			addr, &nmail, &text, op->o_tmpmemctx ) != LDAP_SUCCESS )
		return LDAP_SUCCESS;	/* not a valid mail value: nobody has it */
	and = op->o_tmpcalloc( 1, sizeof( Filter ), op->o_tmpmemctx );
	and->f_choice = LDAP_FILTER_AND;
	and->f_and = dmg_filter_eq( op, dmg_ad.mail, &nmail );
	and->f_and->f_next = filter_dup( di->member_filter, op->o_tmpmemctx );
	op->o_tmpfree( nmail.bv_val, op->o_tmpmemctx );
	cb.sc_response = dmg_mail_cb;
	cb.sc_private = &ctx;
	/* with group visibility the entries are tested as the rootdn sees them, and what the
	 * requester learns is decided on the groups (dmg_membership_begin) */
	if ( di->visibility_group ) {
		dmg_op_as_root( op, &root );
		sop = &root;
	}
	rc = dmg_internal_search( sop, &op->o_bd->be_nsuffix[0], LDAP_SCOPE_SUBTREE, and, &cb );
	filter_free_x( op, and, 1 );
	if ( rc != LDAP_SUCCESS ) {
		/* an incomplete list of entries is no answer */
		ber_bvarray_free_x( ctx.ndns, op->o_tmpmemctx );
		return rc;
	}
	*ndns = ctx.ndns;
	return LDAP_SUCCESS;
}

/* ---- computed values onto an entry ------------------------------------------------------------------ */

void
dmg_attr_add_ulong( Entry *e, AttributeDescription *ad, unsigned long v )
{
	char buf[32];
	struct berval bv;

	bv.bv_len = snprintf( buf, sizeof( buf ), "%lu", v );
	bv.bv_val = buf;
	attr_merge_one( e, ad, &bv, &bv );
}

/* Copies the values into target, or attaches them: the entry then points into the member
 * list, and attr_free leaves the values alone (SLAP_ATTR_DONT_FREE_VALS); the attribute is
 * room's when given (dmg_members_put) */
static void
dmg_put_values( Entry *target, AttributeDescription *ad, struct berval *vals,
	struct berval *nvals, unsigned n, int attach, Attribute *room )
{
	Attribute *a, **tail;

	if ( n == 0 )
		return;
	if ( !attach ) {
		attr_merge( target, ad, vals, nvals );
		return;
	}
	if ( room ) {
		a = room;
		a->a_desc = ad;
	} else {
		a = attr_alloc( ad );
	}
	a->a_vals = vals;
	a->a_nvals = nvals;
	a->a_numvals = n;
	a->a_flags |= SLAP_ATTR_DONT_FREE_VALS;
	for ( tail = &target->e_attrs; *tail; tail = &(*tail)->a_next )
		;
	*tail = a;
}

/* ---- the cache --------------------------------------------------------------------------------- */

void
dmg_members_free_value( void *ms )
{
	dmg_members_free( ms );
	ch_free( ms );
}

/* Every identity's lists are cached, one per group and identity DN (anonymous: the empty
 * DN).  What an identity's list depends on besides the data the rootdn's reads is what
 * slapd's ACLs decide for that DN, and the tags and dependencies below follow it: the
 * attributes the ACLs read on an entry (dmg_group_deps), every write when they read other
 * entries (dmg_acl_reads_other_entries), a new generation when they change
 * (dmg_cache_follow_acls).  Roles (postmaster, privileged, a group's applicant...) change
 * only what hidden groups named in overrides stand for: a role is a value of the named group,
 * whose DN is among the list's tags (dmg_nested_tags).  What the tags cannot follow is a
 * clause that tells two connections of one DN apart: then only the rootdn's lists are
 * cached. */
static int
dmg_members_cacheable( Operation *op, slap_overinst *on )
{
	dmg_info *di = on->on_bi.bi_private;

	if ( di->cache_max_values == 0 )
		return 0;
	/* slapd's ACLs do not apply to the rootdn: its lists depend on nothing else */
	if ( dmg_is_root( op, on ) )
		return 1;
	return dmg_cache_acls_allow( di );
}

unsigned long
dmg_operation_generation( Operation *op, dmg_info *di )
{
	/* Read before the operation's first read of the database.  An operation issued from
	 * inside another one (its OpExtra list is not empty: the backend's transaction, another
	 * overlay's marker) may read through a snapshot older than the generation: it may use
	 * cached lists but not store one.  The ACLs are followed first: a change of them
	 * starts a new generation (dmg_cache_follow_acls). */
	dmg_cache_follow_acls( op, di );
	if ( dmg_op_nested( op ) )
		return DMG_NO_GENERATION;
	return dmg_cache_generation( di->cache );
}

/* "group ndn" NUL "identity ndn" NUL: a list is reused only for the identity it was computed
 * for (anonymous: the empty DN).  The identity ends with its NUL so that an in-place update
 * can run as it (dmg_members_update) with a DN that slapd's regex ACLs may match. */
static char *
dmg_cache_key( Operation *op, Entry *group, size_t *len )
{
	char *key;

	*len = group->e_nname.bv_len + 1 + op->o_ndn.bv_len + 1;
	key = op->o_tmpalloc( *len, op->o_tmpmemctx );
	memcpy( key, group->e_nname.bv_val, group->e_nname.bv_len );
	key[group->e_nname.bv_len] = '\0';
	/* anonymous's DN has no octets, and may have no buffer */
	if ( op->o_ndn.bv_len )
		memcpy( key + group->e_nname.bv_len + 1, op->o_ndn.bv_val, op->o_ndn.bv_len );
	key[*len - 1] = '\0';
	return key;
}

/* ---- what a cached list depends on ---------------------------------------------------------
 *
 * A list is tagged with its group's DN and with the values of the group attributes that
 * dmg_concerned_filter tests; a write to entry E invalidates the values that filter asserts
 * for E's DN.  A tag and a key then meet exactly when the group matches the filter for E (or
 * is E), so invalidation drops the groups whose rule may select E.  Whatever the filter holds
 * other than equalities (and AND/OR/NOT of them) is taken as unbounded: everything is
 * dropped.  The entries a group's overrides name are tags too (a write to one keys its DN);
 * a list whose overrides name a group is unbounded: that group's own members change with
 * writes no tag of this list names.
 */

/* The groups whose rule may select the entry ndn: those naming one of its ancestors as a
 * department */
static Filter *
dmg_concerned_filter( Operation *op, struct berval *ndn )
{
	Filter *or = dmg_filter_or( op );

	dmg_filter_add_ancestors( op, NULL, or, ndn, NULL );
	return or;
}

typedef struct dmg_tags {
	dmg_cache_tag *t;
	size_t n, cap;
	AttributeDescription *ads[8];	/* the attributes the filter tests */
	int nads;
	int unbounded;
	Operation *op;
	int copy;			/* the tags' strings go away before the put: copy them */
	BerVarray own;			/* the copies (op->o_tmpmemctx) */
} dmg_tags;

static void
dmg_tags_add( dmg_tags *ts, struct berval *bv )
{
	struct berval copy;

	if ( ts->copy ) {
		ber_dupbv_x( &copy, bv, ts->op->o_tmpmemctx );
		ber_bvarray_add_x( &ts->own, &copy, ts->op->o_tmpmemctx );
		bv = &copy;
	}
	if ( ts->n == ts->cap ) {
		ts->cap = ts->cap ? ts->cap * 2 : 16;
		ts->t = ts->op->o_tmprealloc( ts->t, ts->cap * sizeof( dmg_cache_tag ),
			ts->op->o_tmpmemctx );
	}
	ts->t[ts->n].val = bv->bv_val;
	ts->t[ts->n].len = bv->bv_len;
	ts->n++;
}

static void
dmg_tags_add_ad( dmg_tags *ts, AttributeDescription *ad )
{
	int i;

	for ( i = 0; i < ts->nads && ts->ads[i] != ad; i++ )
		;
	if ( i < ts->nads )
		return;
	if ( ts->nads == (int)( sizeof( ts->ads ) / sizeof( ts->ads[0] ) ) )
		ts->unbounded = 1;
	else
		ts->ads[ts->nads++] = ad;
}

/* The equality assertions of f: their values as tags, their attributes in ads */
static void
dmg_tags_of_filter( dmg_tags *ts, Filter *f )
{
	for ( ; f; f = f->f_next ) {
		switch ( f->f_choice ) {
		case LDAP_FILTER_AND:
		case LDAP_FILTER_OR:
			dmg_tags_of_filter( ts, f->f_list );
			break;
		case LDAP_FILTER_NOT:
			dmg_tags_of_filter( ts, f->f_not );
			break;
		case LDAP_FILTER_EQUALITY:
			dmg_tags_add( ts, &f->f_ava->aa_value );
			dmg_tags_add_ad( ts, f->f_ava->aa_desc );
			break;
		default:
			ts->unbounded = 1;
		}
	}
}

/* Does a list computed for op's identity depend on entries other than the group, its
 * departments' subtrees and their ancestors?  It does when an access rule reads other
 * entries: group membership, sets, dynamic ACLs (ACIs are stored on any ancestor).  The
 * rootdn's lists never do. */
static int
dmg_acl_reads_other_entries( Operation *op, slap_overinst *on )
{
	AccessControl *lists[2], *a;
	Access *b;
	int i;

	if ( dmg_is_root( op, on ) )
		return 0;
	lists[0] = op->o_bd->be_acl;
	lists[1] = frontendDB->be_acl;
	for ( i = 0; i < 2; i++ ) {
		for ( a = lists[i]; a; a = a->acl_next ) {
			for ( b = a->acl_access; b; b = b->a_next ) {
				if ( !BER_BVISEMPTY( &b->a_group_pat ) || !BER_BVISEMPTY( &b->a_set_pat )
					|| b->a_dynacl != NULL )
					return 1;
			}
		}
	}
	return 0;
}

/* ---- which attributes a cached list depends on ----------------------------------------------
 *
 * A modify of an entry concerns the lists of the groups above it (the tags), but changes one
 * only when it changes an attribute the list's computation reads there: the member filter's,
 * the department filter's (entries between a member and its department), the group's
 * conditions', mail (dmgMemberMail), objectClass, and, on the group itself, its rule.  For an
 * identity other than the rootdn, what slapd's ACLs grant on an entry may also depend on its
 * attributes: those their rules' filters test, those of value-specific rules, dnattr clauses,
 * and objectClass (attrs=@class).  The ACLs are taken as they are now: a change of them
 * empties the cache (dmg_cache_follow_acls).  Attributes are named by their type's canonical
 * name; a write names each changed type and its supertypes, because a filter on a supertype
 * (name) tests its subtypes (cn).
 */

static void
dmg_deps_add( dmg_tags *deps, AttributeDescription *ad )
{
	dmg_tags_add( deps, &ad->ad_type->sat_cname );
}

/* The attributes filter f tests; unbounded when an item tests none the overlay can name or a
 * computed one */
static void
dmg_deps_of_filter( dmg_tags *deps, Filter *f )
{
	AttributeDescription *ad;

	for ( ; f; f = f->f_next ) {
		switch ( f->f_choice ) {
		case LDAP_FILTER_AND:
		case LDAP_FILTER_OR:
			dmg_deps_of_filter( deps, f->f_list );
			break;
		case LDAP_FILTER_NOT:
			dmg_deps_of_filter( deps, f->f_not );
			break;
		case SLAPD_FILTER_COMPUTED:
			break;
		default:
			ad = dmg_filter_ad( f );
			if ( ad == NULL || dmg_ad_is_computed( ad ) )
				deps->unbounded = 1;
			else
				dmg_deps_add( deps, ad );
		}
	}
}

/* The attributes of an entry slapd's ACLs (the database's, then the frontend's) read to decide
 * what they grant on it */
static void
dmg_deps_of_acls( Operation *op, dmg_tags *deps )
{
	AccessControl *lists[2], *a;
	AttributeName *an;
	Access *b;
	int i;

	lists[0] = op->o_bd->be_acl;
	lists[1] = frontendDB->be_acl;
	for ( i = 0; i < 2; i++ ) {
		for ( a = lists[i]; a; a = a->acl_next ) {
			if ( a->acl_filter )
				dmg_deps_of_filter( deps, a->acl_filter );
			for ( an = a->acl_attrs; !BER_BVISEMPTY( &a->acl_attrval )
					&& an && !BER_BVISNULL( &an->an_name ); an++ ) {
				if ( an->an_desc )
					dmg_deps_add( deps, an->an_desc );
			}
			for ( b = a->acl_access; b; b = b->a_next ) {
				if ( b->a_dn_at )
					dmg_deps_add( deps, b->a_dn_at );
			}
		}
	}
}

/* What group's list for op's identity depends on (see above) */
static void
dmg_group_deps( Operation *op, slap_overinst *on, Entry *group, dmg_tags *deps )
{
	dmg_info *di = on->on_bi.bi_private;
	AttributeDescription **rule[] = { &dmg_ad.department, &dmg_ad.include_sub,
		&dmg_ad.condition, &dmg_ad.include_member, &dmg_ad.exclude_member, &dmg_ad.mail,
		&slap_schema.si_ad_objectClass, NULL };
	dmg_rule r;
	int i;

	memset( deps, 0, sizeof( *deps ) );
	deps->op = op;
	for ( i = 0; rule[i]; i++ )
		dmg_deps_add( deps, *rule[i] );
	dmg_deps_of_filter( deps, di->dept_filter );
	/* the rule's filter: the member filter and the conditions (a rule whose entries could
	 * not be looked up depends on anything) */
	if ( dmg_rule_from_entry( op, on, group, &r ) != LDAP_SUCCESS )
		deps->unbounded = 1;
	dmg_deps_of_filter( deps, r.filter );
	dmg_rule_free( op, &r );
	if ( !dmg_is_root( op, on ) )
		dmg_deps_of_acls( op, deps );
}

/* The attributes a modify changes, with their supertypes (NULL for other writes: any) */
static void
dmg_write_changed( Operation *op, dmg_tags *changed )
{
	Modifications *ml;
	AttributeType *at;

	memset( changed, 0, sizeof( *changed ) );
	changed->op = op;
	if ( op->o_tag != LDAP_REQ_MODIFY ) {
		changed->unbounded = 1;
		return;
	}
	for ( ml = op->orm_modlist; ml; ml = ml->sml_next ) {
		for ( at = ml->sml_desc->ad_type; at; at = at->sat_sup )
			dmg_tags_add( changed, &at->sat_cname );
	}
}

/* Tags of the entries group's overrides name (their DNs as stored: what a write to one of
 * them keys); unbounded when a value no longer names the entry its UUID names */
static void
dmg_override_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	AttributeDescription *ads[] = { dmg_ad.include_member, dmg_ad.exclude_member };
	Attribute *a;
	unsigned i, j;

	for ( i = 0; i < 2; i++ ) {
		if ( !dmg_group_has_refs( group, ads[i] ) )
			continue;
		if ( dmg_refs_stale( op, on, group, ads[i] ) ) {
			ts->unbounded = 1;
			return;
		}
		a = attr_find( group->e_attrs, ads[i] );
		for ( j = 0; a && j < a->a_numvals; j++ )
			dmg_tags_add( ts, &a->a_nvals[j] );
	}
}

/* Tags of group's rule: its DN, its departments, the entries its overrides name */
static void
dmg_rule_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	dmg_tags probe = { 0 };
	Filter *f;
	Attribute *a;
	unsigned j;
	int i;

	probe.op = op;
	/* tagged with stored department values that no longer name the departments, the list
	 * would miss the writes below their current DNs (references.c) */
	if ( dmg_refs_stale( op, on, group, dmg_ad.department ) ) {
		ts->unbounded = 1;
		return;
	}
	/* the attributes the filter tests, learnt from the filter for the group's own DN */
	f = dmg_concerned_filter( op, &group->e_nname );
	dmg_tags_of_filter( &probe, f );
	if ( probe.unbounded || probe.nads == 0 )
		ts->unbounded = 1;
	dmg_tags_add( ts, &group->e_nname );
	dmg_override_tags( op, on, group, ts );
	for ( i = 0; i < probe.nads; i++ ) {
		a = attr_find( group->e_attrs, probe.ads[i] );
		for ( j = 0; a && j < a->a_numvals; j++ )
			dmg_tags_add( ts, &a->a_nvals[j] );
	}
	op->o_tmpfree( probe.t, op->o_tmpmemctx );
	filter_free_x( op, f, 1 );
}

/* Tags of group's list for op's identity; ts->unbounded when it must go untagged */
static void
dmg_group_tags( Operation *op, slap_overinst *on, Entry *group, dmg_tags *ts )
{
	memset( ts, 0, sizeof( *ts ) );
	ts->op = op;
	if ( dmg_acl_reads_other_entries( op, on ) ) {
		ts->unbounded = 1;
		return;
	}
	dmg_rule_tags( op, on, group, ts );
}

/* ---- lists of groups whose overrides name groups ---------------------------------------------
 *
 * Such a list holds what the named groups stand for, so it depends on their rules as on its
 * own, to any depth: their tags (DN, departments, the entries their overrides name) join the
 * list's tags, and the attributes their rules test its dependencies.  A write to one of
 * those groups is keyed by its DN and drops the list (the cache does not update a list in
 * place for a write to a group its overrides may name).  A static group named (its members,
 * values no tag follows here) or more than DMG_NESTED_TAGS_MAX groups leave the list
 * untagged: dropped by every write.
 */

#define DMG_NESTED_TAGS_MAX	64

typedef struct dmg_nested_walk {
	dmg_tags *ts, *deps;
	BerVarray seen;		/* the groups followed, the list's own first */
	unsigned n;
} dmg_nested_walk;

static void dmg_nested_tags_of( Operation *op, slap_overinst *on, Entry *group,
	dmg_nested_walk *w );

/* Follows dynamic group x, named by an override */
static void
dmg_nested_group( Operation *op, slap_overinst *on, Entry *x, dmg_nested_walk *w )
{
	dmg_rule r;

	dmg_bvarray_add_copy( &w->seen, &x->e_nname, op->o_tmpmemctx );
	if ( ++w->n > DMG_NESTED_TAGS_MAX ) {
		w->ts->unbounded = 1;
		return;
	}
	dmg_rule_tags( op, on, x, w->ts );
	/* a rule whose entries could not be looked up: the list depends on anything */
	if ( dmg_rule_from_entry( op, on, x, &r ) != LDAP_SUCCESS )
		w->deps->unbounded = 1;
	dmg_deps_of_filter( w->deps, r.filter );
	dmg_rule_free( op, &r );
	dmg_nested_tags_of( op, on, x, w );
}

static void
dmg_nested_tags_of( Operation *op, slap_overinst *on, Entry *group, dmg_nested_walk *w )
{
	AttributeDescription *ads[] = { dmg_ad.include_member, dmg_ad.exclude_member };
	Entry *stored, *x;
	Attribute *a;
	unsigned i, j;

	for ( i = 0; i < 2; i++ ) {
		a = attr_find( group->e_attrs, ads[i] );
		for ( j = 0; a && j < a->a_numvals && !w->ts->unbounded; j++ ) {
			if ( dmg_bvarray_has_dn( w->seen, &a->a_nvals[j] )
				|| ( stored = dmg_entry_get( op, on, &a->a_nvals[j] ) ) == NULL )
				continue;
			/* a copy: the rule's references are looked up in the database */
			x = entry_dup( stored );
			dmg_entry_release( op, on, stored );
			switch ( dmg_named_kind_of( x ) ) {
			case DMG_NAMED_STATIC:
				w->ts->unbounded = 1;
				break;
			case DMG_NAMED_DYNAMIC:
				dmg_nested_group( op, on, x, w );
				break;
			default:
				break;
			}
			entry_free( x );
		}
	}
}

/* The tags and dependencies of list ms of group that come from the groups its overrides name
 * (their strings copied into ts->own) */
static void
dmg_nested_tags( Operation *op, slap_overinst *on, Entry *group, dmg_members *ms, dmg_tags *ts,
	dmg_tags *deps )
{
	dmg_nested_walk w = { ts, deps, NULL, 0 };

	if ( !ms->names_group || ts->unbounded )
		return;
	ts->copy = 1;
	dmg_bvarray_add_copy( &w.seen, &group->e_nname, op->o_tmpmemctx );
	dmg_nested_tags_of( op, on, group, &w );
	ber_bvarray_free_x( w.seen, op->o_tmpmemctx );
}

/* The keys of a write to the entry ndn: what dmg_concerned_filter asserts for it, and ndn
 * itself (a group's own lists, dmg_group_tags); f keeps the values, free it after use */
static Filter *
dmg_write_keys( Operation *op, struct berval *ndn, dmg_tags *keys )
{
	Filter *f = dmg_concerned_filter( op, ndn );

	dmg_tags_of_filter( keys, f );
	dmg_tags_add( keys, ndn );
	return f;
}

/* What a list's arrays hold, for the statistics (the allocator's own overhead left out) */
static size_t
dmg_members_array_bytes( dmg_members *ms )
{
	return sizeof( *ms ) + ms->cap * sizeof( dmg_member )
		+ DMG_MEMBERS_SLOTS( ms->cap ) * sizeof( dmg_member * )
		+ ( ms->mail_cap * 2 + ( ms->cap + 1 ) * 2 + ( ms->mail_vals_cap + 1 ) * 2 )
			* sizeof( struct berval );
}

/* What a list holds, its arrays and strings; the strings' bytes are kept in the list
 * (strbytes), which an update in place then changes by what it adds and drops */
static size_t
dmg_members_bytes( dmg_members *ms )
{
	unsigned i;

	ms->strbytes = 0;
	for ( i = 0; i < ms->n; i++ )
		ms->strbytes += ms->m[i].dn.bv_len + ms->m[i].ndn.bv_len + 2;
	for ( i = 0; i < ms->nmail_count; i++ )
		ms->strbytes += ms->mail[i].bv_len + ms->nmail[i].bv_len + 2;
	return dmg_members_array_bytes( ms ) + ms->strbytes;
}

/* ---- lists updated in place ------------------------------------------------------------------
 *
 * A write that adds, deletes or modifies one entry E that has no entry below it changes, in a
 * list its tags concern, at most E's own membership: nothing below E depends on it, and E is
 * not a department of the group (a department's delete is refused, a modified department has
 * its employees below it).  The cache then replaces such a list, before the write returns, by
 * a copy without E, with E again when the reverse test (dmg_rule_has_member, which the forward
 * expansion agrees with, nested groups included) says E is a member for the list's identity.
 * The lists of groups with overrides are dropped when E is a group (an override naming E
 * stands for its members), as are the lists of E itself, every list when the write is a
 * rename, or still has the backend's transaction on it (it runs inside another operation's,
 * not committed yet; the update's reads would go through it), or E has entries below it.
 */

/* The operation the lists of one identity are tested with, for the whole write */
typedef struct dmg_update_as {
	struct dmg_update_as *next;
	struct berval idn;	/* a copy */
	Operation op;
	dmg_who who;		/* on op.o_extra */
} dmg_update_as;

/* What the lists of one write share does not change from one list to the next (the write is
 * committed; the cache hands a group's lists over one after another): E as written, the group
 * of the list at hand and its rule (neither depends on the identity: the rule's references are
 * resolved with the rootdn's rights), and each identity's operation with its roles.  Each is
 * looked up once, when a list first needs it, and let go when the cache is done.  E is held
 * from before the first identity's operation is made until after the last is done with, so that
 * every read of the update goes through the one read transaction E holds open. */
typedef struct dmg_update_ctx {
	Operation *op;
	slap_overinst *on;
	struct berval *ndn;	/* E */
	int single;		/* -1 not known yet; 1 the write changes E's membership alone */
	unsigned others;	/* lists of other identities than the rootdn's and the
				 * privileged ones updated so far */
	int e_known;		/* E was looked up (e: NULL when deleted or gone again) */
	Entry *e;
	struct berval gndn;	/* the group of the lists at hand (a copy; empty: none yet) */
	Entry *group;		/* NULL: gone */
	int rule_rc;		/* -1: not parsed yet, else dmg_rule_from_entry's answer */
	dmg_rule rule;
	dmg_update_as *as;	/* the identities met */
} dmg_update_ctx;

/* A write updates in place the lists of the rootdn and the privileged identities (the MTA's,
 * read after every write), and those of at most DMG_UPDATE_OTHERS other identities (address
 * books bound as their users); it drops the others it concerns, so that its own cost does not
 * grow with the number of users who read the group.  A dropped list is computed again at its
 * identity's next read. */
#define DMG_UPDATE_OTHERS	8

static int
dmg_update_may_copy( dmg_update_ctx *u, struct berval *idn )
{
	dmg_info *di = u->on->on_bi.bi_private;
	int i;

	if ( dn_match( idn, &dmg_real_db( u->op )->be_rootndn ) )
		return 1;
	for ( i = 0; di->privileged_n && !BER_BVISNULL( &di->privileged_n[i] ); i++ ) {
		if ( dn_match( idn, &di->privileged_n[i] ) )
			return 1;
	}
	return u->others++ < DMG_UPDATE_OTHERS;
}

static int
dmg_first_child_cb( Operation *op, SlapReply *rs )
{
	int *found = op->o_callback->sc_private;

	if ( rs->sr_type != REP_SEARCH )
		return 0;
	*found = 1;
	/* makes the backend end the search at once */
	return LDAP_SIZELIMIT_EXCEEDED;
}

/* Does the write change E's membership alone: an add or delete (of a leaf, which back-mdb
 * requires), or a modify of an entry without entries below it?  Asked once per write. */
static int
dmg_update_single( dmg_update_ctx *u )
{
	slap_callback cb = { 0 };
	Operation root;
	Filter *f;
	int found = 0, rc;

	if ( u->single >= 0 )
		return u->single;
	u->single = u->op->o_tag != LDAP_REQ_MODIFY;
	if ( u->single )
		return 1;
	cb.sc_response = dmg_first_child_cb;
	cb.sc_private = &found;
	f = filter_dup( (Filter *)slap_filter_objectClass_pres, u->op->o_tmpmemctx );
	dmg_op_as_root( u->op, &root );
	rc = dmg_internal_search( &root, u->ndn, LDAP_SCOPE_ONELEVEL, f, &cb );
	filter_free_x( u->op, f, 1 );
	u->single = !found && rc == LDAP_SUCCESS;
	return u->single;
}

/* The operation a list cached for identity idn was computed with: the rootdn's, or a copy of
 * op for idn (anonymous when empty) on the database itself (a write guard's grant makes op's
 * own copy of it another one) -- the cache holds only lists of identities whose rights no
 * connection changes.  Made once per identity and write. */
static Operation *
dmg_update_as_identity( dmg_update_ctx *u, struct berval *idn )
{
	dmg_update_as *a;

	for ( a = u->as; a; a = a->next ) {
		if ( dn_match( &a->idn, idn ) )
			return &a->op;
	}
	a = u->op->o_tmpalloc( sizeof( *a ), u->op->o_tmpmemctx );
	ber_dupbv_x( &a->idn, idn, u->op->o_tmpmemctx );
	dmg_op_as_root( u->op, &a->op );
	if ( !dn_match( idn, &a->op.o_bd->be_rootndn ) ) {
		a->op.o_dn = a->idn;
		a->op.o_ndn = a->idn;
	}
	dmg_who_begin( &a->op, u->on, &a->who );
	a->next = u->as;
	u->as = a;
	return &a->op;
}

/* E as written; NULL when the write deleted it, or it is gone again since (a later write's
 * response decides) */
static Entry *
dmg_update_entry( dmg_update_ctx *u )
{
	if ( !u->e_known && u->op->o_tag != LDAP_REQ_DELETE )
		u->e = dmg_entry_get( u->op, u->on, u->ndn );
	u->e_known = 1;
	return u->e;
}

static void
dmg_update_group_release( dmg_update_ctx *u )
{
	if ( u->rule_rc >= 0 )
		dmg_rule_free( u->op, &u->rule );
	u->rule_rc = -1;
	if ( u->group )
		dmg_entry_release( u->op, u->on, u->group );
	u->group = NULL;
	u->op->o_tmpfree( u->gndn.bv_val, u->op->o_tmpmemctx );
	BER_BVZERO( &u->gndn );
}

/* The group gndn, as it is now (NULL: gone) */
static Entry *
dmg_update_group( dmg_update_ctx *u, struct berval *gndn )
{
	if ( !BER_BVISNULL( &u->gndn ) && dn_match( &u->gndn, gndn ) )
		return u->group;
	dmg_update_group_release( u );
	ber_dupbv_x( &u->gndn, gndn, u->op->o_tmpmemctx );
	u->group = dmg_entry_get( u->op, u->on, gndn );
	return u->group;
}

/* The rule of the group at hand; LDAP_SUCCESS or why its entries could not be looked up */
static int
dmg_update_rule( dmg_update_ctx *u )
{
	if ( u->rule_rc < 0 )
		u->rule_rc = dmg_rule_from_entry( u->op, u->on, u->group, &u->rule );
	return u->rule_rc;
}

/* Lets go of what the lists shared, E last (see dmg_update_ctx) */
static void
dmg_update_end( dmg_update_ctx *u )
{
	dmg_update_as *a, *next;

	for ( a = u->as; a; a = next ) {
		next = a->next;
		dmg_who_end( &a->op, &a->who );
		u->op->o_tmpfree( a->idn.bv_val, u->op->o_tmpmemctx );
		u->op->o_tmpfree( a, u->op->o_tmpmemctx );
	}
	u->as = NULL;
	dmg_update_group_release( u );
	if ( u->e )
		dmg_entry_release( u->op, u->on, u->e );
	u->e = NULL;
}

/* Is e a group an override of group may name (a tagged list's overrides name none)?  The
 * group's attributes first: most groups have no override, and e's classes cost more to test */
static int
dmg_override_may_name( Entry *group, Entry *e )
{
	return ( dmg_group_has_refs( group, dmg_ad.include_member )
			|| dmg_group_has_refs( group, dmg_ad.exclude_member ) )
		&& dmg_named_kind_of( e ) != DMG_NAMED_ENTRY;
}

/* Is E a member of the group at hand for identity idn (*member)?  Not LDAP_SUCCESS when the
 * list must go: E gone again since, a group an override may name (it stands for its members),
 * or a rule whose entries could not be looked up (the list is dropped, not guessed).  *as is
 * the identity's operation, when E is a member. */
static int
dmg_update_test( dmg_update_ctx *u, struct berval *idn, int *member, Operation **as )
{
	Entry *e = dmg_update_entry( u );
	int rc;

	*member = 0;
	*as = NULL;
	if ( u->op->o_tag == LDAP_REQ_DELETE )
		return LDAP_SUCCESS;
	if ( e == NULL || dmg_override_may_name( u->group, e ) )
		return LDAP_NO_SUCH_OBJECT;
	if ( ( rc = dmg_update_rule( u ) ) != LDAP_SUCCESS )
		return rc;
	*as = dmg_update_as_identity( u, idn );
	return dmg_rule_member_rc( *as, u->on, &u->rule, e, member );
}

/* dmg_cache_update_fn: the list old (cached under key: group ndn NUL identity ndn NUL) after
 * the write u describes, or NULL when it must go: old itself, changed, when the cache gave it
 * alone (exclusive) and it has the room, else a new list */
static void *
dmg_members_update( void *arg, const void *key, size_t keylen, void *old, int exclusive,
	unsigned long *nvalues, size_t *bytes )
{
	dmg_update_ctx *u = arg;
	dmg_info *di = u->on->on_bi.bi_private;
	const char *sep = memchr( key, '\0', keylen );
	struct berval gndn, idn;
	dmg_members *ms;
	Operation *as;
	int member;

	/* dmg_cache_key's form: two NUL-terminated DNs */
	if ( sep == NULL || sep + 1 >= (const char *)key + keylen
		|| ( (const char *)key )[keylen - 1] != '\0' )
		return NULL;
	gndn.bv_val = (char *)key;
	gndn.bv_len = sep - (const char *)key;
	idn.bv_val = (char *)sep + 1;
	idn.bv_len = keylen - gndn.bv_len - 2;
	if ( dn_match( &gndn, u->ndn ) || !dmg_update_may_copy( u, &idn )
		|| !dmg_update_single( u ) || dmg_update_group( u, &gndn ) == NULL
		|| dmg_update_test( u, &idn, &member, &as ) != LDAP_SUCCESS )
		return NULL;
	if ( exclusive && dmg_members_edit( as, old, u->ndn, member ? u->e : NULL ) ) {
		ms = old;
	} else {
		ms = ch_calloc( 1, sizeof( dmg_members ) );
		/* the write is committed: the updated list is as current as the one it
		 * replaces */
		ms->gen = ( (dmg_members *)old )->gen;
		dmg_members_append_except( ms, (dmg_members *)old, u->ndn );
		if ( member )
			dmg_members_push( as, ms, u->e );
	}
	if ( di->max_members && ms->n > di->max_members ) {
		/* a computation answers adminLimitExceeded: no list (the cache frees old) */
		if ( ms != old )
			dmg_members_free_value( ms );
		return NULL;
	}
	*nvalues = ms->n + ms->nmail_count;
	if ( ms != old ) {
		dmg_members_index_update( ms, (dmg_members *)old, u->ndn );
		*bytes = dmg_members_bytes( ms );
	} else {
		*bytes = dmg_members_array_bytes( ms ) + ms->strbytes;
	}
	return ms;
}

void
dmg_cache_invalidate_entry( Operation *op, dmg_info *di, struct berval *ndn,
	struct berval *new_ndn )
{
	dmg_tags keys = { 0 };
	dmg_cache_tag moved[2];
	Filter *f, *g = NULL;

	keys.op = op;
	f = dmg_write_keys( op, ndn, &keys );
	if ( new_ndn ) {
		/* the subtree moves with the entry: lists of groups naming an entry at or below
		 * either DN go too */
		g = dmg_write_keys( op, new_ndn, &keys );
		moved[0].val = ndn->bv_val;
		moved[0].len = ndn->bv_len;
		moved[1].val = new_ndn->bv_val;
		moved[1].len = new_ndn->bv_len;
	}
	if ( keys.unbounded )
		dmg_cache_invalidate( di->cache );
	else if ( new_ndn )
		dmg_cache_invalidate_moved( di->cache, keys.t, keys.n, moved, 2 );
	else {
		/* a modify keeps the lists that read none of the attributes it changes; the
		 * others are updated in place when they can be */
		dmg_update_ctx u = { 0 };
		dmg_tags changed;

		u.op = op;
		u.on = (slap_overinst *)op->o_bd->bd_info;
		u.ndn = ndn;
		u.single = -1;
		u.rule_rc = -1;
		dmg_write_changed( op, &changed );
		dmg_cache_invalidate_update( di->cache, keys.t, keys.n,
			changed.unbounded ? NULL : changed.t, changed.n,
			dmg_op_in_backend_txn( op ) ? NULL : dmg_members_update, &u );
		dmg_update_end( &u );
		op->o_tmpfree( changed.t, op->o_tmpmemctx );
	}
	op->o_tmpfree( keys.t, op->o_tmpmemctx );
	filter_free_x( op, f, 1 );
	if ( g )
		filter_free_x( op, g, 1 );
}

/* Stores a list computed from data read at generation gen; 1 when the cache took it */
static int
dmg_members_store( Operation *op, slap_overinst *on, Entry *group, char *key, size_t len,
	unsigned long gen, dmg_members *ms, dmg_cache_entry **held )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_tags ts, deps;
	int stored;

	dmg_group_tags( op, on, group, &ts );
	dmg_group_deps( op, on, group, &deps );
	dmg_nested_tags( op, on, group, ms, &ts, &deps );
	stored = dmg_cache_put_deps( di->cache, key, len, gen, ts.t, ts.unbounded ? 0 : ts.n,
		deps.unbounded ? NULL : deps.t, deps.n, ms, ms->n + ms->nmail_count,
		dmg_members_bytes( ms ), held );
	op->o_tmpfree( ts.t, op->o_tmpmemctx );
	ber_bvarray_free_x( ts.own, op->o_tmpmemctx );
	op->o_tmpfree( deps.t, op->o_tmpmemctx );
	return stored;
}

static int
dmg_members_compute( Operation *op, slap_overinst *on, Entry *group, dmg_members_view *v )
{
	v->ms = &v->owned;
	return dmg_members_expand( op, on, group, &v->owned );
}

/* The cached list under key that goes with the group as the operation read it (gen: the
 * generation read before its snapshot), or NULL (with probe, not counted as a miss).  Not while a write runs (see
 * dmg_writes_in_flight), nor a list computed at a later generation: a write this operation's
 * snapshot predates may have committed before it, and the group would be shown as before the
 * write with the members after it. */
static dmg_members *
dmg_members_cached( dmg_info *di, char *key, size_t len, unsigned long gen,
	dmg_cache_entry **held, int probe )
{
	dmg_members *ms;

	*held = NULL;
	if ( dmg_writes_in_flight( di ) )
		return NULL;
	ms = probe ? dmg_cache_probe( di->cache, key, len, held )
		: dmg_cache_get( di->cache, key, len, held );
	if ( ms && ms->gen > gen ) {
		dmg_cache_release( di->cache, *held );
		*held = NULL;
		return NULL;
	}
	return ms;
}

/* Is ndn a member in the list cached for op's identity (1 when one answered; with flat,
 * only a list that names no group)?  The list is the forward expansion for that identity,
 * current as the cache keeps every list (tags, updates in place, generations), and the
 * forward expansion and the reverse test agree: a reverse test reads it rather than testing
 * the rule, which for overrides and named groups means searches and lookups. */
static int
dmg_members_cached_has( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	int flat, struct berval *ndn, int *yes )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_cache_entry *held;
	dmg_members *ms;
	size_t len;
	char *key;
	int answered;

	if ( !dmg_members_cacheable( op, on ) )
		return 0;
	key = dmg_cache_key( op, group, &len );
	/* no list: the rule is tested, no list computed (not a miss) */
	ms = dmg_members_cached( di, key, len, gen, &held, 1 );
	op->o_tmpfree( key, op->o_tmpmemctx );
	if ( ms == NULL )
		return 0;
	answered = !flat || !ms->names_group;
	if ( answered )
		*yes = dmg_members_has_ndn( ms, ndn );
	dmg_cache_release( di->cache, held );
	return answered;
}

int
dmg_group_cached_has( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	struct berval *ndn, int *yes )
{
	dmg_as_group ag;
	Operation *mop = dmg_membership_begin( op, on, group, &ag );
	int answered = 1;

	/* a requester not shown the group's members: nobody, as dmg_rule_tests_member says */
	*yes = 0;
	if ( mop )
		answered = dmg_members_cached_has( mop, on, group, gen, 0, ndn, yes );
	dmg_membership_end( &ag );
	return answered;
}

/* The list op computes with its own rights, from the cache when it may be cached */
static int
dmg_members_lookup( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	dmg_members_view *v )
{
	dmg_info *di = on->on_bi.bi_private;
	dmg_members *computed;
	size_t len;
	char *key;
	int rc;

	if ( !dmg_members_cacheable( op, on ) )
		return dmg_members_compute( op, on, group, v );
	key = dmg_cache_key( op, group, &len );
	v->ms = dmg_members_cached( di, key, len, gen, &v->held, 0 );
	if ( v->ms ) {
		op->o_tmpfree( key, op->o_tmpmemctx );
		return LDAP_SUCCESS;
	}
	/* gen was read before this operation took its database snapshot: a write committed
	 * since then that concerns the group has stamped one of its tags, and the put fails */
	computed = ch_calloc( 1, sizeof( dmg_members ) );
	computed->gen = gen;
	rc = dmg_members_expand( op, on, group, computed );
	if ( rc == LDAP_SUCCESS
		&& dmg_members_store( op, on, group, key, len, gen, computed, &v->held ) ) {
		v->ms = computed;
	} else {
		v->owned = *computed;
		v->ms = &v->owned;
		ch_free( computed );
	}
	op->o_tmpfree( key, op->o_tmpmemctx );
	return rc;
}

int
dmg_members_acquire( Operation *op, slap_overinst *on, Entry *group, unsigned long gen,
	dmg_members_view *v )
{
	dmg_as_group ag;
	Operation *mop;
	int rc;

	memset( v, 0, sizeof( *v ) );
	/* with group visibility the rootdn's list, cached once for every requester */
	if ( ( mop = dmg_membership_begin( op, on, group, &ag ) ) == NULL ) {
		v->ms = &v->owned;
		v->owned.hidden = 1;
		return LDAP_SUCCESS;
	}
	rc = dmg_members_lookup( mop, on, group, gen, v );
	dmg_membership_end( &ag );
	return rc;
}

void
dmg_members_release( slap_overinst *on, dmg_members_view *v )
{
	dmg_info *di = on->on_bi.bi_private;

	if ( v->held )
		dmg_cache_release( di->cache, v->held );
	else
		dmg_members_free( &v->owned );
	memset( v, 0, sizeof( *v ) );
}

void
dmg_members_put( Entry *target, dmg_members *ms, int want_member, int want_mail,
	int want_count, int attach, Attribute *room )
{
	/* a stored member value (written before the overlay was configured) is not ours */
	attr_delete( &target->e_attrs, dmg_ad.member );
	if ( ms->hidden )
		return;
	if ( want_member )
		dmg_put_values( target, dmg_ad.member, ms->dn_vals, ms->dn_nvals, ms->n, attach,
			room );
	if ( want_mail )
		dmg_put_values( target, dmg_ad.member_mail, ms->mail_vals, ms->mail_nvals,
			ms->mail_n, attach, room ? room + 1 : NULL );
	if ( want_count )
		dmg_attr_add_ulong( target, dmg_ad.member_count, ms->n );
}

int
dmg_members_to_entry( Operation *op, slap_overinst *on, Entry *group, Entry *target,
	unsigned long gen, int want_member, int want_mail, int want_count, dmg_members_view *keep )
{
	dmg_members_view v;
	int rc;

	rc = dmg_members_acquire( op, on, group, gen, &v );
	if ( rc != LDAP_SUCCESS ) {
		dmg_members_release( on, &v );
		return rc;
	}
	dmg_members_put( target, v.ms, want_member, want_mail, want_count, keep != NULL, NULL );
	if ( keep ) {
		*keep = v;
		/* the owned list moves with the view: its arrays point into it, not into v */
		if ( keep->held == NULL )
			keep->ms = &keep->owned;
	} else {
		dmg_members_release( on, &v );
	}
	return LDAP_SUCCESS;
}

int
dmg_member_of_to_entry( Operation *op, slap_overinst *on, Entry *e, Entry *target,
	unsigned long gen )
{
	BerVarray ndns = NULL, dns = NULL;
	int rc;

	rc = dmg_groups_of_entry( op, on, e, &ndns, &dns, NULL, gen );
	if ( ndns )
		attr_merge( target, dmg_ad.member_of, dns, ndns );
	ber_bvarray_free_x( ndns, op->o_tmpmemctx );
	ber_bvarray_free_x( dns, op->o_tmpmemctx );
	return rc;
}
