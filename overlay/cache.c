/*
 * cache.c - bounded, generation-checked, reference-counted LRU map (see cache.h).
 *
 * One mutex guards the table, the LRU list and the counters; the critical sections are a
 * hash lookup or an unlink, never the construction of a value.  Reference counts are
 * changed under the same mutex, and a value is freed outside it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

struct dmg_cache_entry {
    dmg_cache_entry *hnext;            /* hash chain */
    dmg_cache_entry *prev, *next;      /* LRU list, most recent first */
    void *value;
    unsigned long nvalues;
    unsigned refs;                     /* the cache's own reference + readers */
    size_t keylen;
    unsigned long hash;
    unsigned char key[];
};

struct dmg_cache {
    pthread_mutex_t lock;
    dmg_cache_free_fn free_value;
    dmg_cache_entry **buckets;
    size_t nbuckets;
    dmg_cache_entry *lru_head, *lru_tail;
    unsigned long max_values, values, entries, generation;
    unsigned long hits, misses, evictions;
};

#define DMG_CACHE_MIN_BUCKETS 64

static unsigned long
hash_key(const void *key, size_t len)
{
    const unsigned char *p = key;
    unsigned long h = 2166136261UL;     /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 16777619UL;
    }
    return h;
}

dmg_cache *
dmg_cache_new(unsigned long max_values, dmg_cache_free_fn free_value)
{
    dmg_cache *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->buckets = calloc(DMG_CACHE_MIN_BUCKETS, sizeof(*c->buckets));
    if (c->buckets == NULL) {
        free(c);
        return NULL;
    }
    c->nbuckets = DMG_CACHE_MIN_BUCKETS;
    c->max_values = max_values;
    c->free_value = free_value;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

/* ---- entries (called with the lock held) ------------------------------------------------ */

static void
lru_unlink(dmg_cache *c, dmg_cache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->lru_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void
lru_push_front(dmg_cache *c, dmg_cache_entry *e)
{
    e->prev = NULL;
    e->next = c->lru_head;
    if (c->lru_head)
        c->lru_head->prev = e;
    c->lru_head = e;
    if (c->lru_tail == NULL)
        c->lru_tail = e;
}

static dmg_cache_entry **
bucket_slot(dmg_cache *c, const void *key, size_t keylen, unsigned long h)
{
    dmg_cache_entry **pp = &c->buckets[h % c->nbuckets];

    for (; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->hash == h && (*pp)->keylen == keylen && memcmp((*pp)->key, key, keylen) == 0)
            break;
    }
    return pp;
}

/* Takes e out of the table; returns it when its last reference is gone (to be freed). */
static dmg_cache_entry *
entry_unlink(dmg_cache *c, dmg_cache_entry *e)
{
    dmg_cache_entry **pp = bucket_slot(c, e->key, e->keylen, e->hash);

    *pp = e->hnext;
    lru_unlink(c, e);
    c->values -= e->nvalues;
    c->entries--;
    return --e->refs == 0 ? e : NULL;
}

static void
entry_free(dmg_cache *c, dmg_cache_entry *e)
{
    if (e == NULL)
        return;
    if (c->free_value)
        c->free_value(e->value);
    free(e);
}

/* Evicts from the LRU end until `extra` more values fit; returns a chain (via hnext) of
 * entries to free once the lock is dropped. */
static dmg_cache_entry *
evict_for(dmg_cache *c, unsigned long extra)
{
    dmg_cache_entry *dead = NULL, *e;

    while (c->lru_tail && (c->max_values == 0 || c->values > c->max_values
                           || extra > c->max_values - c->values)) {
        e = entry_unlink(c, c->lru_tail);
        c->evictions++;
        if (e) {
            e->hnext = dead;
            dead = e;
        }
    }
    return dead;
}

static void
free_chain(dmg_cache *c, dmg_cache_entry *dead)
{
    while (dead) {
        dmg_cache_entry *next = dead->hnext;

        entry_free(c, dead);
        dead = next;
    }
}

static void
maybe_grow(dmg_cache *c)
{
    dmg_cache_entry **nb;
    size_t i, n = c->nbuckets * 2;

    if (c->entries < c->nbuckets)
        return;
    nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return;                         /* longer chains, still correct */
    for (i = 0; i < c->nbuckets; i++) {
        dmg_cache_entry *e = c->buckets[i], *next;

        for (; e; e = next) {
            next = e->hnext;
            e->hnext = nb[e->hash % n];
            nb[e->hash % n] = e;
        }
    }
    free(c->buckets);
    c->buckets = nb;
    c->nbuckets = n;
}

/* ---- API -------------------------------------------------------------------------------- */

void
dmg_cache_destroy(dmg_cache *c)
{
    if (c == NULL)
        return;
    dmg_cache_invalidate(c);
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c);
}

void
dmg_cache_set_limit(dmg_cache *c, unsigned long max_values)
{
    dmg_cache_entry *dead;

    pthread_mutex_lock(&c->lock);
    c->max_values = max_values;
    dead = evict_for(c, 0);
    pthread_mutex_unlock(&c->lock);
    free_chain(c, dead);
}

unsigned long
dmg_cache_generation(dmg_cache *c)
{
    unsigned long g;

    pthread_mutex_lock(&c->lock);
    g = c->generation;
    pthread_mutex_unlock(&c->lock);
    return g;
}

void
dmg_cache_invalidate(dmg_cache *c)
{
    dmg_cache_entry *dead = NULL, *e;

    pthread_mutex_lock(&c->lock);
    c->generation++;
    while (c->lru_head) {
        e = entry_unlink(c, c->lru_head);
        if (e) {
            e->hnext = dead;
            dead = e;
        }
    }
    pthread_mutex_unlock(&c->lock);
    free_chain(c, dead);
}

void *
dmg_cache_get(dmg_cache *c, const void *key, size_t keylen, dmg_cache_entry **held)
{
    unsigned long h = hash_key(key, keylen);
    dmg_cache_entry *e;

    *held = NULL;
    pthread_mutex_lock(&c->lock);
    e = *bucket_slot(c, key, keylen, h);
    if (e == NULL) {
        c->misses++;
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    c->hits++;
    e->refs++;
    lru_unlink(c, e);
    lru_push_front(c, e);
    pthread_mutex_unlock(&c->lock);
    *held = e;
    return e->value;
}

void
dmg_cache_release(dmg_cache *c, dmg_cache_entry *held)
{
    int last;

    if (held == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    last = --held->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (last)
        entry_free(c, held);
}

int
dmg_cache_put(dmg_cache *c, const void *key, size_t keylen, unsigned long gen,
              void *value, unsigned long nvalues, dmg_cache_entry **held)
{
    unsigned long h = hash_key(key, keylen);
    dmg_cache_entry *e, *old = NULL, *dead;
    dmg_cache_entry **pp;

    if (held)
        *held = NULL;
    /* an empty list still costs an entry: count it as one value, so that the bound also
     * bounds the number of entries */
    if (nvalues == 0)
        nvalues = 1;
    e = malloc(sizeof(*e) + keylen);
    pthread_mutex_lock(&c->lock);
    if (e == NULL || c->max_values == 0 || nvalues > c->max_values || gen != c->generation) {
        pthread_mutex_unlock(&c->lock);
        free(e);
        return 0;
    }
    pp = bucket_slot(c, key, keylen, h);
    if (*pp)
        old = entry_unlink(c, *pp);
    dead = evict_for(c, nvalues);
    memset(e, 0, sizeof(*e));
    memcpy(e->key, key, keylen);
    e->keylen = keylen;
    e->hash = h;
    e->value = value;
    e->nvalues = nvalues;
    e->refs = held ? 2 : 1;
    pp = bucket_slot(c, key, keylen, h);
    *pp = e;
    lru_push_front(c, e);
    c->values += nvalues;
    c->entries++;
    maybe_grow(c);
    pthread_mutex_unlock(&c->lock);
    if (held)
        *held = e;
    entry_free(c, old);
    free_chain(c, dead);
    return 1;
}

void
dmg_cache_get_stats(dmg_cache *c, dmg_cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    out->entries = c->entries;
    out->values = c->values;
    out->hits = c->hits;
    out->misses = c->misses;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->lock);
}
