/*
 * arena/large.c - blocks above SC_SMALL_MAX (64 KiB), or with an alignment
 * above it: each is a region of its own (REGION_F_LARGE) bound to its node
 * with a bind policy and populated by the region layer before it is returned,
 * so its placement is as true as a chunk's and its capacity is checked
 * first (ENOMEM, never an OOM kill later).  User data starts a page (or
 * `align`) after the region header.
 *
 * Per-node cache of freed large regions.  Measured on the build machine, a
 * fresh large block costs ~330 us for 70 KB (map + bind + populate +
 * unmap ~115 us, the capacity check's sysfs reads most of the rest), so a
 * program that allocates and frees large blocks in a loop would spend its
 * time in the kernel.  A freed region (mapping <= ARENA_LARGE_CACHE_ENTRY)
 * is kept instead, up to ARENA_LARGE_CACHE regions and
 * ARENA_LARGE_CACHE_BYTES per node, and reused for a request on the same
 * node that it holds with at most 2x slack (its pages are still bound to
 * the node and resident: placement stays true).  A cached region stays
 * registered but carries LARGE_F_CACHED, so freeing it again is -EINVAL.
 * The cache is bounded, so RSS stays bounded; it shows in bytes_mapped and
 * bytes_committed, not in bytes_in_use or `large`.
 *
 * Counters (struct arena: large, large_mapped, large_user, large_allocs)
 * are relaxed atomics of the region's node.  arena->large_lock protects the
 * cache (a leaf lock: nothing is taken inside it, region calls happen
 * outside it).
 */
#include "arena.h"

#include <errno.h>
#include <string.h>

static size_t large_room(const struct nslab_region *r)
{
    return r->hdr.map_size - r->data_off;
}

/* Take the best cached region for size (align <= page), or NULL. */
static struct nslab_region *cache_take(struct arena *a, size_t size, size_t align)
{
    if (align > topology_get()->page_size || size > ARENA_LARGE_CACHE_ENTRY)
        return NULL;
    if (__atomic_load_n(&a->nlarge_cached, __ATOMIC_RELAXED) == 0)
        return NULL; /* racy peek: a miss only costs a fresh mapping */
    struct nslab_region *best = NULL;
    unsigned bi = 0;
    pthread_mutex_lock(&a->large_lock);
    for (unsigned i = 0; i < a->nlarge_cached; i++) {
        struct nslab_region *r = a->large_cache[i];
        size_t room = large_room(r);
        if (room >= size && size > room / 2 && (!best || room < large_room(best))) {
            best = r;
            bi = i;
        }
    }
    if (best) {
        unsigned last = a->nlarge_cached - 1;
        a->large_cache[bi] = a->large_cache[last];
        __atomic_store_n(&a->nlarge_cached, last, __ATOMIC_RELAXED); /* peeked racily */
        a->large_cached_bytes -= best->hdr.map_size;
    }
    pthread_mutex_unlock(&a->large_lock);
    return best;
}

/* Keep r for reuse: 1 if kept. */
static int cache_put(struct arena *a, struct nslab_region *r)
{
    size_t m = r->hdr.map_size;
    if (m > ARENA_LARGE_CACHE_ENTRY || r->data_off != topology_get()->page_size)
        return 0;
    int kept = 0;
    pthread_mutex_lock(&a->large_lock);
    if (a->nlarge_cached < ARENA_LARGE_CACHE && a->large_cached_bytes + m <= ARENA_LARGE_CACHE_BYTES) {
        r->flags |= LARGE_F_CACHED;
        a->large_cache[a->nlarge_cached] = r;
        __atomic_store_n(&a->nlarge_cached, a->nlarge_cached + 1, __ATOMIC_RELAXED);
        a->large_cached_bytes += m;
        kept = 1;
    }
    pthread_mutex_unlock(&a->large_lock);
    return kept;
}

void *large_alloc(int node, size_t size, size_t align, int zero)
{
    int err;
    struct arena *a = arena_get(node, &err);
    if (!a) {
        errno = err;
        return NULL;
    }
    struct nslab_region *r = cache_take(a, size, align);
    if (r) {
        r->flags &= ~LARGE_F_CACHED;
        r->size = size;
        if (zero)
            memset(region_data(r), 0, size);
    } else {
        nslab_policy_t pol = {0};
        pol.mode = NSLAB_POLICY_BIND;
        pol.nodes = nslab_nodeset_of(node);
        int e = region_create(size, align, &pol, NULL, REGION_F_LARGE, &r);
        if (e) {
            errno = e;
            return NULL;
        }
        /* a fresh anonymous mapping reads as zero */
    }
    __atomic_fetch_add(&a->large, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_mapped, r->hdr.map_size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_user, r->size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_allocs, 1, __ATOMIC_RELAXED);
    return region_data(r);
}

int large_resize(struct nslab_region *r, size_t size)
{
    size_t room = large_room(r);
    if (size > room || size <= room / 2)
        return -1;
    struct arena *a = arena_peek(r->hdr.node);
    if (a) {
        if (size > r->size)
            __atomic_fetch_add(&a->large_user, size - r->size, __ATOMIC_RELAXED);
        else
            __atomic_fetch_sub(&a->large_user, r->size - size, __ATOMIC_RELAXED);
    }
    r->size = size;
    return 0;
}

int large_free(struct nslab_region *r)
{
    if (!large_is_live(r))
        return EINVAL;
    struct arena *a = arena_peek(r->hdr.node);
    size_t mapped = r->hdr.map_size, user = r->size;
    if (a) {
        __atomic_fetch_sub(&a->large, 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&a->large_mapped, mapped, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&a->large_user, user, __ATOMIC_RELAXED);
        if (cache_put(a, r))
            return 0;
    }
    return region_destroy(r);
}
