/*
 * cache.h - the membership cache of slapo-dynmailgroup.
 *
 * Pure C99 + POSIX threads; no slapd types, so it is unit-tested on its own.
 *
 * A bounded map from a byte-string key (the overlay uses "group DN \0 identity DN") to an
 * opaque, immutable value that accounts for a number of "values" (member DNs and mail
 * addresses; an empty value counts as one).  The bound is on the sum of those numbers; the
 * least recently used entries go first.  A value is reference counted: a reader holds it while it builds a reply, and it is
 * freed when the last holder lets go, so eviction never pulls a list from under a reader.
 *
 * Freshness is a generation number.  Every successful write in the database calls
 * dmg_cache_invalidate(), which drops every entry and starts a new generation.  A value
 * computed while a write committed is stored with the generation read *before* computing;
 * dmg_cache_put() refuses it when the generation has moved on since, so a stale list is
 * never served.  All functions are safe to call from several threads.
 */
#ifndef DMG_CACHE_H
#define DMG_CACHE_H

#include <stddef.h>

typedef struct dmg_cache dmg_cache;
typedef struct dmg_cache_entry dmg_cache_entry;
typedef void (*dmg_cache_free_fn)(void *value);

/* max_values 0 disables the cache (every lookup misses, every put is refused).
 * NULL when memory runs out. */
dmg_cache *dmg_cache_new(unsigned long max_values, dmg_cache_free_fn free_value);
void dmg_cache_destroy(dmg_cache *c);

/* Changes the bound; evicts least recently used entries until the cache fits. */
void dmg_cache_set_limit(dmg_cache *c, unsigned long max_values);

/* The current generation: read it before computing a value you mean to put. */
unsigned long dmg_cache_generation(dmg_cache *c);

/* Drops every entry and starts a new generation. */
void dmg_cache_invalidate(dmg_cache *c);

/* The value stored under key, or NULL.  On success *held must later be given back with
 * dmg_cache_release(); the value stays valid until then. */
void *dmg_cache_get(dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held);
void dmg_cache_release(dmg_cache *c, dmg_cache_entry *held);

/* Stores value under key for generation gen, replacing an older value, and returns 1: the
 * cache then owns the value (freed with free_value), and when held is not NULL *held is a
 * reference for the caller, to be given back with dmg_cache_release().  Returns 0 and leaves
 * the value with the caller when the cache is disabled, the value alone exceeds the bound,
 * gen is not the current generation, or memory runs out. */
int dmg_cache_put(dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
                  void *value, unsigned long nvalues, dmg_cache_entry **held);

/* Statistics for tests and monitoring. */
typedef struct dmg_cache_stats {
    unsigned long entries, values, hits, misses, evictions;
} dmg_cache_stats;
void dmg_cache_get_stats(dmg_cache *c, dmg_cache_stats *out);

#endif /* DMG_CACHE_H */
