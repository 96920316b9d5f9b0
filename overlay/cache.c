/*
 * cache.c - bounded, generation-checked, reference-counted LRU map (see cache.h).
 *
 * One mutex guards the table, the LRU list and the counters; the critical sections are a
 * hash lookup or an unlink, never the construction of a value, and a value is freed outside
 * it.  A read takes it once: every reader (eight MTA connections on two cores) contends for
 * it, and a holder preempted meanwhile stalls them all.  So the generation is read without
 * it (written under it with atomic stores), and references are atomic counts: one is taken
 * only under the mutex, from an entry in the table, and given back without it, by whoever
 * holds it -- an entry out of the table can only lose references, and the one that takes
 * the count to zero frees it.
 *
 * A targeted invalidation visits the entries it may concern through an index of the entries
 * by tag hash slot (and the list of untagged entries), not every entry: it runs under the
 * mutex that every read takes, once per write, and a cache holds an entry per group and
 * identity (thousands).  A rename, which concerns the tags at or below a DN, walks every
 * entry.  Equal hashes (or slots) of different strings only visit, or drop, an entry that
 * could have stayed.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

/* An entry's place in the index of one of its tags' slot (or of the untagged entries) */
typedef struct dmg_cache_link {
	struct dmg_cache_link *next, **pprev;
	dmg_cache_entry *e;
} dmg_cache_link;

struct dmg_cache_entry {
	dmg_cache_entry *hnext;		/* hash chain */
	dmg_cache_entry *prev, *next;	/* LRU list, most recent first */
	void *value;
	unsigned long nvalues;
	size_t bytes;			/* counted in the statistics */
	size_t own;			/* of which this allocation */
	unsigned refs;			/* the cache's own reference + readers (atomic) */
	size_t keylen;
	unsigned long hash;
	unsigned char *key;		/* after tag_hash, in the same allocation */
	dmg_cache_tag *tag;		/* after tag_hash, the strings after the key */
	size_t ntags;			/* 0: depends on everything */
	unsigned long *dep_hash;	/* after tag_hash: the attributes it depends on */
	size_t ndeps;
	int deps_all;			/* depends on every attribute */
	dmg_cache_link *link;		/* after the tags: one per tag (untagged: one) */
	unsigned long seen;		/* the last invalidation that visited it */
	unsigned long tag_hash[];
};

/* Generation stamps of invalidated tags, by hash slot: a fixed table, so that remembering
 * every write costs no memory; a shared slot only makes puts refused more often.  The index of
 * entries by tag uses the same slots. */
#define DMG_CACHE_DIRTY_SLOTS 4096

/* The last renames' subtrees (old and new DNs) with their generation stamps: a value read
 * before one of them and tagged at or below its DN is refused.  When a slot is reused, its
 * stamp becomes the floor below which every put is refused. */
#define DMG_CACHE_MOVED_SLOTS 16

typedef struct dmg_cache_moved {
	unsigned char *dn;
	size_t len;
	unsigned long stamp;
} dmg_cache_moved;

struct dmg_cache {
	pthread_mutex_t lock;
	dmg_cache_free_fn free_value;
	dmg_cache_entry **buckets;
	size_t nbuckets;
	dmg_cache_entry *lru_head, *lru_tail;
	unsigned long max_values, values, entries;
	unsigned long generation;	/* read without the lock: see gen_advance */
	unsigned long flushed;		/* generation of the last full invalidation */
	unsigned long dirty[DMG_CACHE_DIRTY_SLOTS];
	dmg_cache_link *index[DMG_CACHE_DIRTY_SLOTS];	/* entries by the slots of their tags */
	dmg_cache_link *untagged;	/* entries without tags */
	dmg_cache_moved moved[DMG_CACHE_MOVED_SLOTS];
	unsigned moved_next;
	unsigned long moved_floor;
	unsigned long hits, misses, evictions;
	unsigned long invalidations_targeted, invalidations_full, dropped, refused, kept, updated;
	size_t bytes;
};

#define DMG_CACHE_MIN_BUCKETS 64

static unsigned long
hash_key( const void *key, size_t len )
{
	const unsigned char *p = key;
	unsigned long h = 2166136261UL;	/* FNV-1a */
	size_t i;

	for ( i = 0; i < len; i++ ) {
		h ^= p[i];
		h *= 16777619UL;
	}
	return h;
}

/* Moves the generation on (lock held) and returns it.  The store is atomic so that
 * dmg_cache_generation may read it without the lock; sequentially consistent, as the
 * mutex's release was, so that a reader that sees the new generation also sees the
 * invalidation's effects on anything read after it. */
static unsigned long
gen_advance( dmg_cache *c )
{
	unsigned long g = c->generation + 1;

	__atomic_store_n( &c->generation, g, __ATOMIC_SEQ_CST );
	return g;
}

static void
ref_take( dmg_cache_entry *e )
{
	__atomic_add_fetch( &e->refs, 1, __ATOMIC_RELAXED );
}

/* Gives back a reference; 1 when it was the last (the caller frees the entry).  Acquire and
 * release, so that whatever a holder did with the value happens before it is freed. */
static int
ref_drop( dmg_cache_entry *e )
{
	return __atomic_sub_fetch( &e->refs, 1, __ATOMIC_ACQ_REL ) == 0;
}

dmg_cache *
dmg_cache_new( unsigned long max_values, dmg_cache_free_fn free_value )
{
	dmg_cache *c = calloc( 1, sizeof( *c ) );

	if ( c == NULL )
		return NULL;
	c->buckets = calloc( DMG_CACHE_MIN_BUCKETS, sizeof( *c->buckets ) );
	if ( c->buckets == NULL ) {
		free( c );
		return NULL;
	}
	c->nbuckets = DMG_CACHE_MIN_BUCKETS;
	c->max_values = max_values;
	c->free_value = free_value;
	pthread_mutex_init( &c->lock, NULL );
	return c;
}

/* ---- entries (called with the lock held) ------------------------------------------------ */

static void
lru_unlink( dmg_cache *c, dmg_cache_entry *e )
{
	if ( e->prev )
		e->prev->next = e->next;
	else
		c->lru_head = e->next;
	if ( e->next )
		e->next->prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void
lru_push_front( dmg_cache *c, dmg_cache_entry *e )
{
	e->prev = NULL;
	e->next = c->lru_head;
	if ( c->lru_head )
		c->lru_head->prev = e;
	c->lru_head = e;
	if ( c->lru_tail == NULL )
		c->lru_tail = e;
}

static void
link_push( dmg_cache_link **head, dmg_cache_link *l )
{
	l->next = *head;
	l->pprev = head;
	if ( *head )
		( *head )->pprev = &l->next;
	*head = l;
}

/* Puts e in the index of its tags' slots (untagged: in the untagged list) */
static void
index_link( dmg_cache *c, dmg_cache_entry *e )
{
	size_t i;

	if ( e->ntags == 0 )
		link_push( &c->untagged, &e->link[0] );
	for ( i = 0; i < e->ntags; i++ )
		link_push( &c->index[e->tag_hash[i] % DMG_CACHE_DIRTY_SLOTS], &e->link[i] );
}

/* Takes e out of the index.  Its links keep their next pointers: an invalidation walking a
 * slot goes on from a link of an entry it dropped. */
static void
index_unlink( dmg_cache_entry *e )
{
	size_t i, n = e->ntags ? e->ntags : 1;

	for ( i = 0; i < n; i++ ) {
		*e->link[i].pprev = e->link[i].next;
		if ( e->link[i].next )
			e->link[i].next->pprev = e->link[i].pprev;
	}
}

static dmg_cache_entry **
bucket_slot( dmg_cache *c, const void *key, size_t keylen, unsigned long h )
{
	dmg_cache_entry **pp = &c->buckets[h % c->nbuckets];

	for ( ; *pp; pp = &( *pp )->hnext ) {
		if ( ( *pp )->hash == h && ( *pp )->keylen == keylen
			&& memcmp( ( *pp )->key, key, keylen ) == 0 )
			break;
	}
	return pp;
}

/* Takes e out of the table; returns it when its last reference is gone (to be freed). */
static dmg_cache_entry *
entry_unlink( dmg_cache *c, dmg_cache_entry *e )
{
	dmg_cache_entry **pp = bucket_slot( c, e->key, e->keylen, e->hash );

	*pp = e->hnext;
	lru_unlink( c, e );
	index_unlink( e );
	c->values -= e->nvalues;
	c->bytes -= e->bytes;
	c->entries--;
	return ref_drop( e ) ? e : NULL;
}

static void
entry_free( dmg_cache *c, dmg_cache_entry *e )
{
	if ( e == NULL )
		return;
	if ( c->free_value )
		c->free_value( e->value );
	free( e );
}

/* Evicts from the LRU end until `extra` more values fit; returns a chain (via hnext) of
 * entries to free once the lock is dropped. */
static dmg_cache_entry *
evict_for( dmg_cache *c, unsigned long extra )
{
	dmg_cache_entry *dead = NULL, *e;

	while ( c->lru_tail && ( c->max_values == 0 || c->values > c->max_values
			|| extra > c->max_values - c->values ) ) {
		e = entry_unlink( c, c->lru_tail );
		c->evictions++;
		if ( e ) {
			e->hnext = dead;
			dead = e;
		}
	}
	return dead;
}

static void
free_chain( dmg_cache *c, dmg_cache_entry *dead )
{
	while ( dead ) {
		dmg_cache_entry *next = dead->hnext;

		entry_free( c, dead );
		dead = next;
	}
}

static void
maybe_grow( dmg_cache *c )
{
	dmg_cache_entry **nb;
	size_t i, n = c->nbuckets * 2;

	if ( c->entries < c->nbuckets )
		return;
	nb = calloc( n, sizeof( *nb ) );
	if ( nb == NULL )
		return;	/* longer chains, still correct */
	for ( i = 0; i < c->nbuckets; i++ ) {
		dmg_cache_entry *e = c->buckets[i], *next;

		for ( ; e; e = next ) {
			next = e->hnext;
			e->hnext = nb[e->hash % n];
			nb[e->hash % n] = e;
		}
	}
	free( c->buckets );
	c->buckets = nb;
	c->nbuckets = n;
}

/* ---- API -------------------------------------------------------------------------------- */

void
dmg_cache_destroy( dmg_cache *c )
{
	size_t i;

	if ( c == NULL )
		return;
	dmg_cache_invalidate( c );
	pthread_mutex_destroy( &c->lock );
	for ( i = 0; i < DMG_CACHE_MOVED_SLOTS; i++ )
		free( c->moved[i].dn );
	free( c->buckets );
	free( c );
}

void
dmg_cache_set_limit( dmg_cache *c, unsigned long max_values )
{
	dmg_cache_entry *dead;

	pthread_mutex_lock( &c->lock );
	c->max_values = max_values;
	dead = evict_for( c, 0 );
	pthread_mutex_unlock( &c->lock );
	free_chain( c, dead );
}

unsigned long
dmg_cache_generation( dmg_cache *c )
{
	return __atomic_load_n( &c->generation, __ATOMIC_SEQ_CST );
}

void
dmg_cache_advance( dmg_cache *c )
{
	pthread_mutex_lock( &c->lock );
	gen_advance( c );
	pthread_mutex_unlock( &c->lock );
}

void
dmg_cache_invalidate( dmg_cache *c )
{
	dmg_cache_entry *dead = NULL, *e;

	pthread_mutex_lock( &c->lock );
	c->flushed = gen_advance( c );
	c->invalidations_full++;
	while ( c->lru_head ) {
		e = entry_unlink( c, c->lru_head );
		if ( e ) {
			e->hnext = dead;
			dead = e;
		}
	}
	pthread_mutex_unlock( &c->lock );
	free_chain( c, dead );
}

static void *
cache_lookup( dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held,
	int count_miss )
{
	unsigned long h = hash_key( key, keylen );
	dmg_cache_entry *e;

	*held = NULL;
	pthread_mutex_lock( &c->lock );
	e = *bucket_slot( c, key, keylen, h );
	if ( e == NULL ) {
		if ( count_miss )
			c->misses++;
		pthread_mutex_unlock( &c->lock );
		return NULL;
	}
	c->hits++;
	ref_take( e );
	lru_unlink( c, e );
	lru_push_front( c, e );
	pthread_mutex_unlock( &c->lock );
	*held = e;
	return e->value;
}

void *
dmg_cache_get( dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held )
{
	return cache_lookup( c, key, keylen, held, 1 );
}

void *
dmg_cache_probe( dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held )
{
	return cache_lookup( c, key, keylen, held, 0 );
}

void
dmg_cache_release( dmg_cache *c, dmg_cache_entry *held )
{
	if ( held != NULL && ref_drop( held ) )
		entry_free( c, held );
}

/* Is the string tag base itself, or below it in DN syntax (tag ends with "," base)?  A comma
 * that is part of an escaped value may make a string look below another: that only drops or
 * refuses more. */
static int
tag_at_or_below( const dmg_cache_tag *tag, const unsigned char *base, size_t len )
{
	const unsigned char *t = tag->val;

	if ( len == 0 )
		return 1;
	if ( tag->len < len || memcmp( t + tag->len - len, base, len ) != 0 )
		return 0;
	return tag->len == len || t[tag->len - len - 1] == ',';
}

/* Was a value tagged as e is, computed from data read at generation gen, computed after every
 * invalidation that concerns it? */
static int
fresh( dmg_cache *c, unsigned long gen, const dmg_cache_entry *e )
{
	size_t i, j;

	if ( gen > c->generation || gen < c->flushed )
		return 0;
	if ( e->ntags == 0 )
		return gen == c->generation;
	if ( gen < c->moved_floor )
		return 0;
	for ( i = 0; i < e->ntags; i++ ) {
		if ( c->dirty[e->tag_hash[i] % DMG_CACHE_DIRTY_SLOTS] > gen )
			return 0;
		for ( j = 0; j < DMG_CACHE_MOVED_SLOTS; j++ ) {
			const dmg_cache_moved *m = &c->moved[j];

			if ( m->dn && m->stamp > gen
				&& tag_at_or_below( &e->tag[i], m->dn, m->len ) )
				return 0;
		}
	}
	return 1;
}

int
dmg_cache_put( dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
	void *value, unsigned long nvalues, dmg_cache_entry **held )
{
	return dmg_cache_put_tagged( c, key, keylen, gen, NULL, 0, value, nvalues, 0, held );
}

/* A new entry, not yet in the table: its memory, tag and attribute hashes and copies of the
 * tags (deps NULL: every attribute); NULL when memory runs out */
static dmg_cache_entry *
entry_new( const void *key, size_t keylen, const dmg_cache_tag *tags, size_t ntags,
	const dmg_cache_tag *deps, size_t ndeps )
{
	size_t nlinks = ntags ? ntags : 1;
	size_t own = sizeof( dmg_cache_entry )
		+ ntags * ( sizeof( unsigned long ) + sizeof( dmg_cache_tag ) )
		+ ndeps * sizeof( unsigned long ) + nlinks * sizeof( dmg_cache_link ) + keylen, i;
	dmg_cache_entry *e;
	unsigned char *p;

	for ( i = 0; i < ntags; i++ )
		own += tags[i].len;
	if ( ( e = malloc( own ) ) == NULL )
		return NULL;
	memset( e, 0, sizeof( *e ) );
	e->ntags = ntags;
	e->dep_hash = e->tag_hash + ntags;
	e->deps_all = deps == NULL;
	e->ndeps = deps ? ndeps : 0;
	for ( i = 0; i < e->ndeps; i++ )
		e->dep_hash[i] = hash_key( deps[i].val, deps[i].len );
	e->tag = (dmg_cache_tag *)( e->dep_hash + e->ndeps );
	e->link = (dmg_cache_link *)( e->tag + ntags );
	for ( i = 0; i < nlinks; i++ )
		e->link[i].e = e;
	e->key = (unsigned char *)( e->link + nlinks );
	memcpy( e->key, key, keylen );
	p = e->key + keylen;
	for ( i = 0; i < ntags; i++ ) {
		e->tag_hash[i] = hash_key( tags[i].val, tags[i].len );
		memcpy( p, tags[i].val, tags[i].len );
		e->tag[i].val = p;
		e->tag[i].len = tags[i].len;
		p += tags[i].len;
	}
	e->keylen = keylen;
	e->hash = hash_key( key, keylen );
	e->bytes = e->own = own;
	return e;
}

int
dmg_cache_put_tagged( dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
	const dmg_cache_tag *tags, size_t ntags, void *value,
	unsigned long nvalues, size_t bytes, dmg_cache_entry **held )
{
	return dmg_cache_put_deps( c, key, keylen, gen, tags, ntags, NULL, 0, value, nvalues, bytes,
		held );
}

int
dmg_cache_put_deps( dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
	const dmg_cache_tag *tags, size_t ntags, const dmg_cache_tag *deps,
	size_t ndeps, void *value, unsigned long nvalues, size_t bytes,
	dmg_cache_entry **held )
{
	dmg_cache_entry *e, *old = NULL, *dead;
	dmg_cache_entry **pp;

	if ( held )
		*held = NULL;
	/* an empty list still costs an entry: count it as one value, so that the bound also
	 * bounds the number of entries */
	if ( nvalues == 0 )
		nvalues = 1;
	e = entry_new( key, keylen, tags, ntags, deps, ndeps );
	pthread_mutex_lock( &c->lock );
	if ( e == NULL || c->max_values == 0 || nvalues > c->max_values ) {
		pthread_mutex_unlock( &c->lock );
		free( e );
		return 0;
	}
	if ( !fresh( c, gen, e ) ) {
		/* a generation from the future is the caller's "never store", not a race */
		if ( gen <= c->generation )
			c->refused++;
		pthread_mutex_unlock( &c->lock );
		free( e );
		return 0;
	}
	pp = bucket_slot( c, key, keylen, e->hash );
	if ( *pp )
		old = entry_unlink( c, *pp );
	dead = evict_for( c, nvalues );
	e->value = value;
	e->nvalues = nvalues;
	e->bytes += bytes;
	e->refs = held ? 2 : 1;
	pp = bucket_slot( c, key, keylen, e->hash );
	*pp = e;
	lru_push_front( c, e );
	index_link( c, e );
	c->values += nvalues;
	c->bytes += e->bytes;
	c->entries++;
	maybe_grow( c );
	pthread_mutex_unlock( &c->lock );
	if ( held )
		*held = e;
	entry_free( c, old );
	free_chain( c, dead );
	return 1;
}

/* Does e depend on one of the n attributes hashed in changed (NULL: on any)? */
static int
entry_depends_on( const dmg_cache_entry *e, const unsigned long *changed, size_t n )
{
	size_t i, j;

	if ( changed == NULL || e->deps_all )
		return 1;
	for ( i = 0; i < e->ndeps; i++ ) {
		for ( j = 0; j < n; j++ ) {
			if ( e->dep_hash[i] == changed[j] )
				return 1;
		}
	}
	return 0;
}

/* Does e depend on one of the n strings hashed in keys, or on a string at or below one of
 * the moved subtrees? */
static int
entry_concerned( const dmg_cache_entry *e, const unsigned long *keys, size_t n,
	const dmg_cache_tag *bases, size_t nbases )
{
	size_t i, j;

	if ( e->ntags == 0 )
		return 1;
	for ( i = 0; i < e->ntags; i++ ) {
		for ( j = 0; j < n; j++ ) {
			if ( e->tag_hash[i] == keys[j] )
				return 1;
		}
		for ( j = 0; j < nbases; j++ ) {
			if ( tag_at_or_below( &e->tag[i], bases[j].val, bases[j].len ) )
				return 1;
		}
	}
	return 0;
}

/* Remembers that the subtree base moved at the current generation (lock held); 0 when memory
 * runs out */
static int
moved_record( dmg_cache *c, const dmg_cache_tag *base )
{
	dmg_cache_moved *m = &c->moved[c->moved_next];
	unsigned char *dn = malloc( base->len ? base->len : 1 );

	if ( dn == NULL )
		return 0;
	memcpy( dn, base->val, base->len );
	/* the slot's rename is forgotten: refuse everything read before it */
	if ( m->dn && m->stamp > c->moved_floor )
		c->moved_floor = m->stamp;
	free( m->dn );
	m->dn = dn;
	m->len = base->len;
	m->stamp = c->generation;
	c->moved_next = ( c->moved_next + 1 ) % DMG_CACHE_MOVED_SLOTS;
	return 1;
}

/* Takes e out as an invalidation drops it (lock held); dead collects what is to be freed */
static void
drop( dmg_cache *c, dmg_cache_entry *e, dmg_cache_entry **dead )
{
	c->dropped++;
	if ( entry_unlink( c, e ) ) {
		e->hnext = *dead;
		*dead = e;
	}
}

/* A copy of e (its key, tags and attributes) for another value, not yet in the table; NULL
 * when memory runs out */
static dmg_cache_entry *
entry_clone( const dmg_cache_entry *e, void *value, unsigned long nvalues, size_t bytes )
{
	dmg_cache_entry *n = malloc( e->own );
	ptrdiff_t off;
	size_t i;

	if ( n == NULL )
		return NULL;
	memcpy( n, e, e->own );
	off = (char *)n - (char *)e;
	n->dep_hash = (unsigned long *)( (char *)e->dep_hash + off );
	n->tag = (dmg_cache_tag *)( (char *)e->tag + off );
	n->link = (dmg_cache_link *)( (char *)e->link + off );
	n->key = (unsigned char *)e->key + off;
	for ( i = 0; i < n->ntags; i++ )
		n->tag[i].val = (const char *)e->tag[i].val + off;
	for ( i = 0; i < ( n->ntags ? n->ntags : 1 ); i++ )
		n->link[i].e = n;
	n->hnext = n->prev = n->next = NULL;
	n->value = value;
	n->nvalues = nvalues ? nvalues : 1;
	n->bytes = n->own + bytes;
	n->refs = 1;
	return n;
}

/* Puts n, the update of an entry no longer in the table, under its key (lock held); returns
 * the chain of entries evicted for it, to free once the lock is dropped */
static dmg_cache_entry *
insert_updated( dmg_cache *c, dmg_cache_entry *n )
{
	dmg_cache_entry *dead = evict_for( c, n->nvalues );

	*bucket_slot( c, n->key, n->keylen, n->hash ) = n;
	lru_push_front( c, n );
	index_link( c, n );
	c->values += n->nvalues;
	c->bytes += n->bytes;
	c->entries++;
	c->updated++;
	return dead;
}

/* Puts the value an update computed for the held entry e in its place (the value is the
 * cache's from then on); when e is no longer there (dropped, evicted, or replaced by a list
 * that may predate the write), what is under its key goes instead and the value is freed */
static void
update_one( dmg_cache *c, dmg_cache_entry *e, void *value, unsigned long nvalues, size_t bytes )
{
	dmg_cache_entry *dead = NULL, *n = NULL, **pp;

	if ( value && ( n = entry_clone( e, value, nvalues, bytes ) ) == NULL && c->free_value )
		c->free_value( value );
	pthread_mutex_lock( &c->lock );
	pp = bucket_slot( c, e->key, e->keylen, e->hash );
	if ( *pp && ( *pp != e || n == NULL || n->nvalues > c->max_values ) ) {
		drop( c, *pp, &dead );
	} else if ( *pp ) {
		/* e stays held by the caller: it is never freed here */
		entry_unlink( c, e );
		dead = insert_updated( c, n );
		n = NULL;
	}
	if ( ref_drop( e ) ) {
		e->hnext = dead;
		dead = e;
	}
	pthread_mutex_unlock( &c->lock );
	if ( n )
		entry_free( c, n );
	free_chain( c, dead );
}

/* Puts back e, which an update had alone (taken out of the table by the invalidation of
 * generation gen, when no reader held it), with the value the update computed (NULL: none).
 * It goes instead when its key was put again since, or an invalidation that concerns its tags
 * came after gen (the update does not include that write), and so does what is under the
 * key; or when it is over the bound. */
static void
update_alone( dmg_cache *c, dmg_cache_entry *e, unsigned long gen, void *value,
	unsigned long nvalues, size_t bytes )
{
	dmg_cache_entry *dead = NULL, *n = e, **pp;

	if ( value != e->value ) {
		/* a new value (or none): the old one is nobody's any more */
		n = value ? entry_clone( e, value, nvalues, bytes ) : NULL;
		if ( value && n == NULL && c->free_value )
			c->free_value( value );
		entry_free( c, e );
	} else {
		n->hnext = n->prev = n->next = NULL;
		n->nvalues = nvalues ? nvalues : 1;
		n->bytes = n->own + bytes;
		n->refs = 1;
	}
	pthread_mutex_lock( &c->lock );
	if ( n == NULL ) {
		c->dropped++;
		pthread_mutex_unlock( &c->lock );
		return;
	}
	pp = bucket_slot( c, n->key, n->keylen, n->hash );
	if ( *pp || n->nvalues > c->max_values || !fresh( c, gen, n ) ) {
		if ( *pp )
			drop( c, *pp, &dead );
		c->dropped++;
		n->hnext = dead;
		dead = n;
	} else {
		dead = insert_updated( c, n );
	}
	pthread_mutex_unlock( &c->lock );
	free_chain( c, dead );
}

/* An entry an invalidation hands to an update: held (a reader holds it too), or alone */
typedef struct dmg_cache_pending {
	dmg_cache_entry *e;
	int alone;
} dmg_cache_pending;

/* Orders pending entries by their keys' bytes (a key that is a prefix of another first), so
 * that the keys sharing a prefix come one after another */
static int
pending_cmp( const void *a, const void *b )
{
	const dmg_cache_entry *x = ( (const dmg_cache_pending *)a )->e;
	const dmg_cache_entry *y = ( (const dmg_cache_pending *)b )->e;
	int rc = memcmp( x->key, y->key, x->keylen < y->keylen ? x->keylen : y->keylen );

	if ( rc != 0 )
		return rc;
	return x->keylen < y->keylen ? -1 : x->keylen > y->keylen;
}

/* One invalidation's walk over the entries (under the lock) */
typedef struct dmg_cache_walk {
	const unsigned long *keys;	/* the keys' hashes */
	size_t nkeys;
	const dmg_cache_tag *bases;	/* moved subtrees */
	size_t nbases;
	const unsigned long *changed;	/* the changed attributes' hashes (NULL: any) */
	size_t nchanged;
	int all;			/* every entry goes (the rename was not recorded) */
	dmg_cache_pending *pending;	/* to update (NULL: concerned entries are dropped) */
	size_t npending;
	dmg_cache_entry *dead;		/* to free once the lock is dropped */
} dmg_cache_walk;

/* What an invalidation does to e: nothing when it does not concern it, else keeps it, holds
 * it for an update, or drops it */
static void
walk_visit( dmg_cache *c, dmg_cache_walk *w, dmg_cache_entry *e )
{
	if ( !w->all && !entry_concerned( e, w->keys, w->nkeys, w->bases, w->nbases ) )
		return;
	/* the stamps still refuse lists computed before the write: only stored lists are kept */
	if ( !w->all && e->ntags > 0 && !entry_depends_on( e, w->changed, w->nchanged ) ) {
		c->kept++;
		return;
	}
	if ( w->pending && e->ntags > 0 ) {
		w->pending[w->npending].e = e;
		/* a reader may give its reference back meanwhile, never take one: a count of 1
		 * stays 1 */
		w->pending[w->npending].alone = __atomic_load_n( &e->refs, __ATOMIC_ACQUIRE ) == 1;
		w->npending++;
		if ( w->pending[w->npending - 1].alone ) {
			/* no reader holds it: out of the table, the update may change it (it reads as
			 * absent meanwhile; the write has not returned) */
			entry_unlink( c, e );
		} else {
			/* stays readable until its update is in place */
			ref_take( e );
		}
		return;
	}
	drop( c, e, &w->dead );
}

/* Visits the entries of one index list, each once per invalidation (an entry with two tags in
 * one slot is there twice) */
static void
walk_list( dmg_cache *c, dmg_cache_walk *w, dmg_cache_link *l )
{
	dmg_cache_link *next;

	for ( ; l; l = next ) {
		next = l->next;
		if ( l->e->seen == c->generation )
			continue;
		l->e->seen = c->generation;
		walk_visit( c, w, l->e );
	}
}

/* Visits the entries the invalidation may concern: through the index, or every entry when
 * the concerned tags are not known by their hashes (a rename: the tags below a DN) */
static void
walk( dmg_cache *c, dmg_cache_walk *w )
{
	dmg_cache_entry *e, *next;
	size_t i;

	if ( w->all || w->nbases ) {
		for ( e = c->lru_head; e; e = next ) {
			next = e->next;
			walk_visit( c, w, e );
		}
		return;
	}
	walk_list( c, w, c->untagged );
	for ( i = 0; i < w->nkeys; i++ )
		walk_list( c, w, c->index[w->keys[i] % DMG_CACHE_DIRTY_SLOTS] );
}

/* The invalidations: keys as dmg_cache_invalidate_tags, bases as dmg_cache_invalidate_moved;
 * with changed (the n attributes a write changed, NULL: any), a value concerned by keys alone
 * and stored with attributes none of which changed stays; with update, a concerned tagged
 * value is replaced by what update computes from it (see dmg_cache_invalidate_update) */
static void
invalidate( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys, const dmg_cache_tag *bases,
	size_t nbases, const dmg_cache_tag *changed, size_t nchanged,
	dmg_cache_update_fn update, void *arg )
{
	unsigned long *h = malloc( ( nkeys + nchanged + 1 ) * sizeof( *h ) );
	dmg_cache_walk w = { h, nkeys, bases, nbases, NULL, nchanged, 0, NULL, 0, NULL };
	dmg_cache_entry *e;
	unsigned long gen;
	size_t i;

	if ( h == NULL ) {
		dmg_cache_invalidate( c );	/* dropping too much is always right */
		return;
	}
	for ( i = 0; i < nkeys; i++ )
		h[i] = hash_key( keys[i].val, keys[i].len );
	if ( changed ) {
		w.changed = h + nkeys;
		for ( i = 0; i < nchanged; i++ )
			h[nkeys + i] = hash_key( changed[i].val, changed[i].len );
	}
	pthread_mutex_lock( &c->lock );
	gen_advance( c );
	c->invalidations_targeted++;
	for ( i = 0; i < nkeys; i++ )
		c->dirty[h[i] % DMG_CACHE_DIRTY_SLOTS] = c->generation;
	for ( i = 0; i < nbases && !w.all; i++ )
		w.all = !moved_record( c, &bases[i] );
	if ( w.all ) {
		/* as dmg_cache_invalidate, under the lock already held */
		c->flushed = c->generation;
		c->invalidations_targeted--;
		c->invalidations_full++;
	}
	/* no room to remember what to update: what would be updated is dropped */
	if ( update && !w.all && c->entries )
		w.pending = malloc( c->entries * sizeof( *w.pending ) );
	walk( c, &w );
	gen = c->generation;
	pthread_mutex_unlock( &c->lock );
	free( h );
	free_chain( c, w.dead );
	/* the pending entries' keys do not change: they are read without the lock (pending is
	 * NULL when there is nothing to update) */
	if ( w.npending > 1 )
		qsort( w.pending, w.npending, sizeof( *w.pending ), pending_cmp );
	for ( i = 0; i < w.npending; i++ ) {
		unsigned long nvalues = 0;
		size_t bytes = 0;
		void *value;

		e = w.pending[i].e;
		value = update( arg, e->key, e->keylen, e->value, w.pending[i].alone,
			&nvalues, &bytes );
		if ( w.pending[i].alone )
			update_alone( c, e, gen, value, nvalues, bytes );
		else
			update_one( c, e, value, nvalues, bytes );
	}
	free( w.pending );
}

void
dmg_cache_invalidate_tags( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys )
{
	invalidate( c, keys, nkeys, NULL, 0, NULL, 0, NULL, NULL );
}

void
dmg_cache_invalidate_moved( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys,
	const dmg_cache_tag *bases, size_t nbases )
{
	invalidate( c, keys, nkeys, bases, nbases, NULL, 0, NULL, NULL );
}

void
dmg_cache_invalidate_changed( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys,
	const dmg_cache_tag *changed, size_t nchanged )
{
	invalidate( c, keys, nkeys, NULL, 0, changed, nchanged, NULL, NULL );
}

void
dmg_cache_invalidate_update( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys,
	const dmg_cache_tag *changed, size_t nchanged,
	dmg_cache_update_fn update, void *arg )
{
	invalidate( c, keys, nkeys, NULL, 0, changed, nchanged, update, arg );
}

void
dmg_cache_get_stats( dmg_cache *c, dmg_cache_stats *out )
{
	pthread_mutex_lock( &c->lock );
	out->entries = c->entries;
	out->values = c->values;
	out->hits = c->hits;
	out->misses = c->misses;
	out->evictions = c->evictions;
	out->invalidations_targeted = c->invalidations_targeted;
	out->invalidations_full = c->invalidations_full;
	out->dropped = c->dropped;
	out->refused = c->refused;
	out->kept = c->kept;
	out->updated = c->updated;
	out->bytes = c->bytes;
	pthread_mutex_unlock( &c->lock );
}
