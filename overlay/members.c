/* members.c -- a group's member list: the data structure the forward expansion fills, the
 * cache holds and a write's update edits
 *
 * A list holds each member's DN and the mail values the requester may read, in the order they
 * were found.  Once complete it also has an index by DN (a hash table) and the attribute-ready
 * arrays that member and dmgMemberMail point into, so that a cached list is sent without a
 * copy (dmg_members_put) and an update after a write (invalidate.c) takes one member out or
 * puts one in without rebuilding them.  The strings are in blocks that lists derived from one
 * another share.
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
 * most twice as many blocks (each of the blocks it appends to doubles as updates fill it) */
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

/* to = a copy of from in *own, one of ms's blocks it appends to (a new one when full) */
static void
dmg_members_dupbv( dmg_members *ms, dmg_strblock **own, struct berval *to,
	struct berval *from )
{
	dmg_strblock *b = *own;
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
		*own = b;
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
int
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
void
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
void
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

/* to = from: the same string when share (ms holds its block), else a copy in *own */
static void
dmg_members_str( dmg_members *ms, dmg_strblock **own, struct berval *to, struct berval *from,
	int share )
{
	if ( share )
		*to = *from;
	else
		dmg_members_dupbv( ms, own, to, from );
}

static void
dmg_members_push_mail( dmg_members *ms, struct berval *val, struct berval *nval, int share )
{
	if ( ms->nmail_count == ms->mail_cap ) {
		ms->mail_cap = ms->mail_cap ? ms->mail_cap * 2 : 64;
		ms->mail = ch_realloc( ms->mail, ms->mail_cap * sizeof( struct berval ) );
		ms->nmail = ch_realloc( ms->nmail, ms->mail_cap * sizeof( struct berval ) );
	}
	dmg_members_str( ms, &ms->own_mail, &ms->mail[ms->nmail_count], val, share );
	dmg_members_str( ms, &ms->own, &ms->nmail[ms->nmail_count], nval, share );
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
	dmg_members_str( ms, &ms->own_dn, &m->dn, dn, share );
	dmg_members_str( ms, &ms->own, &m->ndn, ndn, share );
	m->mail_first = ms->nmail_count;
	m->mail_count = 0;
	return m;
}

/* Appends e with the mail values op may read. */
void
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
void
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
int
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
void
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
void
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
void
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

/* ---- lists held by the cache ---------------------------------------------------------------- */

void
dmg_members_free_value( void *ms )
{
	dmg_members_free( ms );
	ch_free( ms );
}

/* What a list's arrays hold, for the statistics (the allocator's own overhead left out) */
size_t
dmg_members_array_bytes( dmg_members *ms )
{
	return sizeof( *ms ) + ms->cap * sizeof( dmg_member )
		+ DMG_MEMBERS_SLOTS( ms->cap ) * sizeof( dmg_member * )
		+ ( ms->mail_cap * 2 + ( ms->cap + 1 ) * 2 + ( ms->mail_vals_cap + 1 ) * 2 )
			* sizeof( struct berval );
}

/* What a list holds, its arrays and strings; the strings' bytes are kept in the list
 * (strbytes), which an update in place then changes by what it adds and drops */
size_t
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
