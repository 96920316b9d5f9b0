/*
 * cache.h - the membership cache of slapo-dynmailgroup.
 *
 * Pure C99 + POSIX threads; no slapd types, so it is unit-tested on its own.
 *
 * A bounded map from a byte-string key (the overlay uses "group DN \0 identity DN") to an
 * opaque, immutable value that accounts for a number of "values" (member DNs and mail
 * addresses; an empty value counts as one).  The bound is on the sum of those numbers; the
 * least recently used entries go first.  A value is reference counted: a reader holds it
 * while it builds a reply, and it is freed when the last holder lets go, so eviction never
 * pulls a list from under a reader.
 *
 * Freshness is a generation number, moved on by every invalidation.  A value is stored with
 * the generation read *before* computing it, and refused when an invalidation that concerns
 * it came in between, so a value computed while a write committed is never served.
 *
 * Invalidations are targeted by tags: a value stored with dmg_cache_put_tagged() names the
 * byte strings it depends on (the overlay: the group's DN and the DNs its rule names), and
 * dmg_cache_invalidate_tags() drops only the values with one of the strings it is given; it
 * stamps those strings with the new generation so that a value computed from older data and
 * tagged with one of them is refused.  Stamps are kept per hash slot, so two strings sharing
 * a slot make a put refused more often, never accepted wrongly.  A value stored without tags
 * (dmg_cache_put) depends on everything: every invalidation drops it, and it is refused once
 * the generation has moved.  dmg_cache_invalidate() drops every value.
 *
 * A value may also name the attributes it depends on (dmg_cache_put_deps; byte strings too):
 * an invalidation that says which attributes the write changed (dmg_cache_invalidate_changed)
 * keeps the values that depend on none of them, though it stamps its tags all the same.
 *
 * All functions are safe to call from several threads.
 */
#ifndef DMG_CACHE_H
#define DMG_CACHE_H

#include <stddef.h>

typedef struct dmg_cache dmg_cache;
typedef struct dmg_cache_entry dmg_cache_entry;
typedef void (*dmg_cache_free_fn)( void *value );

/* max_values 0 disables the cache (every lookup misses, every put is refused).
 * NULL when memory runs out. */
dmg_cache *dmg_cache_new( unsigned long max_values, dmg_cache_free_fn free_value );
void dmg_cache_destroy( dmg_cache *c );

/* Changes the bound; evicts least recently used entries until the cache fits. */
void dmg_cache_set_limit( dmg_cache *c, unsigned long max_values );

/* The current generation: read it before computing a value you mean to put. */
unsigned long dmg_cache_generation( dmg_cache *c );

/* Drops every entry and starts a new generation. */
void dmg_cache_invalidate( dmg_cache *c );

/* Starts a new generation and drops nothing: a reader that took the generation before it
 * sees it moved (untagged values computed before it are not put; tagged ones are, unless an
 * invalidation of their tags came after their generation). */
void dmg_cache_advance( dmg_cache *c );

/* A string a value depends on. */
typedef struct dmg_cache_tag {
	const void *val;
	size_t len;
} dmg_cache_tag;

/* Starts a new generation, drops the values tagged with one of keys[0..nkeys) and the
 * untagged ones, and stamps keys so that a value computed from older data and tagged with one
 * of them is refused. */
void dmg_cache_invalidate_tags( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys );

/* As dmg_cache_invalidate_tags, for a write that moved the subtrees bases[0..nbases) (a
 * rename: the old and the new DN): also drops the values tagged with a string at or below
 * one of them (in DN syntax: equal, or ending with "," and the base), and refuses such values
 * read before. */
void dmg_cache_invalidate_moved( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys,
	const dmg_cache_tag *bases, size_t nbases );

/* As dmg_cache_invalidate_tags, for a write that changed only the attributes
 * changed[0..nchanged) of one entry (changed NULL: any attribute): a value concerned by keys
 * that was stored with the attributes it depends on (dmg_cache_put_deps), none of which is
 * among changed, stays; the keys are stamped all the same. */
void dmg_cache_invalidate_changed( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys,
	const dmg_cache_tag *changed, size_t nchanged );

/* Computes, outside the cache's lock, the value that replaces value (stored under key) after
 * a write: NULL to drop it; else *nvalues and *bytes as for a put.  When exclusive is 0, value
 * is shared with readers and must not be changed.  When exclusive is 1, nobody holds value and
 * nobody can until update returns (the key reads as absent meanwhile): update may change it
 * and return it, so that the update costs what the change costs rather than a copy; a value
 * it does not return is freed. */
typedef void *(*dmg_cache_update_fn)( void *arg, const void *key, size_t keylen, void *value,
	int exclusive, unsigned long *nvalues, size_t *bytes );

/* As dmg_cache_invalidate_changed, but a tagged value it would drop is replaced, in place, by
 * update's value (given the old one: when a reader holds it, it stays readable and unchanged
 * meanwhile -- held values are never written; else update has it alone).  A value replaced
 * or dropped in between by another invalidation or put, or, for a value update had alone, whose
 * tags another invalidation named in between, is dropped instead, whatever took its place:
 * two writes never build on one old value.  update is called in the order of the keys' bytes
 * (a key before the longer keys it is a prefix of), so that the values whose keys share a
 * prefix come one after another: update may keep what they share from one call to the next. */
void dmg_cache_invalidate_update( dmg_cache *c, const dmg_cache_tag *keys, size_t nkeys,
	const dmg_cache_tag *changed, size_t nchanged,
	dmg_cache_update_fn update, void *arg );

/* The value stored under key, or NULL.  On success *held must later be given back with
 * dmg_cache_release(); the value stays valid until then. */
void *dmg_cache_get( dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held );
/* The same for a caller that computes nothing when the key is absent (it answers another
 * way): a value found is a hit, an absent key is not counted as a miss. */
void *dmg_cache_probe( dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held );
void dmg_cache_release( dmg_cache *c, dmg_cache_entry *held );

/* Stores value under key for generation gen, replacing an older value, and returns 1: the
 * cache then owns the value (freed with free_value), and when held is not NULL *held is a
 * reference for the caller, to be given back with dmg_cache_release().  Returns 0 and leaves
 * the value with the caller when the cache is disabled, the value alone exceeds the bound,
 * gen is not the current generation, or memory runs out. */
int dmg_cache_put( dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
	void *value, unsigned long nvalues, dmg_cache_entry **held );

/* As dmg_cache_put(), for a value that depends only on tags[0..ntags) (ntags 0: on
 * everything, as dmg_cache_put): refused when gen predates a full invalidation, or an
 * invalidation of one of the tags.  bytes is the memory the value holds, for the
 * statistics. */
int dmg_cache_put_tagged( dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
	const dmg_cache_tag *tags, size_t ntags, void *value,
	unsigned long nvalues, size_t bytes, dmg_cache_entry **held );

/* As dmg_cache_put_tagged(), for a value that depends, in the entries its tags name, only on
 * the attributes deps[0..ndeps) (deps NULL: on every attribute; dmg_cache_put_tagged is
 * that).  A value with no tags depends on every attribute whatever deps says. */
int dmg_cache_put_deps( dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
	const dmg_cache_tag *tags, size_t ntags, const dmg_cache_tag *deps,
	size_t ndeps, void *value, unsigned long nvalues, size_t bytes,
	dmg_cache_entry **held );

/* Statistics for tests and monitoring. */
typedef struct dmg_cache_stats {
	unsigned long entries, values, hits, misses, evictions;
	unsigned long invalidations_targeted, invalidations_full;
	unsigned long dropped;	/* entries dropped by targeted invalidations */
	unsigned long refused;	/* puts refused as computed from data older than a write */
	unsigned long kept;	/* entries a targeted invalidation concerned but kept, as
				   depending on no attribute the write changed */
	unsigned long updated;	/* entries replaced in place by an update */
	size_t bytes;		/* entries' own memory plus the bytes given with their values */
} dmg_cache_stats;
void dmg_cache_get_stats( dmg_cache *c, dmg_cache_stats *out );

#endif /* DMG_CACHE_H */
