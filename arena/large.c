/*
 * arena/large.c - blocks above SC_SMALL_MAX (64 KiB), or with an alignment
 * above it: each is a region of its own (REGION_F_LARGE) bound to its node
 * with a bind policy before it is returned, so its placement is as true as a
 * chunk's (every page lands on the node at its first touch) and its
 * capacity is checked first (ENOMEM at allocation).  populate (the prefault
 * setting, numaslab.h): the region layer also populates it, so the capacity
 * is used at once and nothing can fail later; without, the pages fault in
 * as the program touches them (a program that uses part of a big array
 * pays only for that part).  User data starts a page (or `align`) after
 * the region header.
 *
 * Per-node cache of freed large regions.  A fresh large block costs a
 * map, a bind, a populate, an unmap and the capacity check's sysfs reads
 * (hundreds of microseconds: bench/analysis.md), so a program that
 * allocates and frees large blocks in a loop would spend its time in the
 * kernel.  A freed region (mapping <= ARENA_LARGE_CACHE_ENTRY)
 * is kept instead, up to ARENA_LARGE_CACHE regions and
 * ARENA_LARGE_CACHE_BYTES per node, and reused for a request on the same
 * node that it holds with at most 4x slack (2x for a request to populate;
 * its pages are still bound to the node: placement stays true).  Memory
 * goes back: the cached regions may keep at most ARENA_LARGE_CACHE_DIRTY
 * bytes committed per node, each counted at its mapped size (an upper
 * bound, known without a system call); the cache is kept oldest first and
 * a region freed past the budget makes room by decommitting (os_decommit)
 * the oldest ones, which then cost address space only: a churning program
 * finds the blocks it freed last still committed and reuses them without
 * a page fault.  A cached region that no request took while
 * ARENA_LARGE_CACHE_AGE other regions were freed on the node is
 * decommitted then (aging, counted in frees: no clock); past
 * ARENA_LARGE_CACHE regions or ARENA_LARGE_CACHE_BYTES the oldest are
 * unmapped; and nslab_thread_flush decommits them all (large_trim).
 * Measured (bench-classes largechurn: 64 KiB - 4 MiB, 8 live, sparsely
 * written; ~40 MiB of regions cached in its steady state): decommitting
 * the region just freed when a 16 MiB budget of mapped bytes was spent
 * cost ~5 us a malloc + free in refaults; measuring what each freed region
 * holds (mincore) instead, ~1.1 us, half of it in mincore; the oldest
 * decommitted first under a 32 MiB budget of mapped bytes, 1.7 us (66K
 * refaults in 80K pairs); under 48 MiB, 0.48 us (7K faults: the first
 * touches; tcmalloc 0.45 us).  A cached region stays registered but carries
 * LARGE_F_CACHED, so freeing it again is -EINVAL.  It shows in
 * bytes_mapped (and, while it may keep pages, in bytes_committed at its
 * mapped size), not in bytes_in_use or `large`.
 * Flags: LARGE_F_FULL - every data page was populated (at creation, or when
 * a cached region was taken for a populating request) and not decommitted
 * since; LARGE_F_CLEAN - the data pages are decommitted (read as zero, none
 * resident): a calloc needs no memset, and the region is out of the dirty
 * budget.
 *
 * Counters (struct arena: large, large_mapped, large_committed, large_user,
 * large_allocs) are relaxed atomics of the region's node.
 * arena->large_lock protects the cache (struct large_entry: a copy of each
 * region's room, so a lookup reads no header page) and the flags of
 * cached regions (a leaf lock: nothing is taken inside it, region calls
 * happen outside it; the decommits of large_trim, of the aging and of the
 * budget run under it).
 */
#include "arena.h"

#include <errno.h>
#include <string.h>

#include "os.h"
#include "debug.h"

static size_t large_room(const struct nslab_region *r)
{
    return r->hdr.map_size - r->data_off;
}

/* Give the data pages of r back to the kernel (they read as zero after).
 * The header page stays. */
static void large_decommit(struct nslab_region *r)
{
    if (os_decommit(region_data(r), large_room(r)) == 0)
        r->flags = (r->flags & ~LARGE_F_FULL) | LARGE_F_CLEAN;
}

/* Populate every data page of r (on its node: the mapping's binding),
 * keeping what a dirty region's pages hold.  0 or ENOMEM. */
static int large_populate(struct nslab_region *r)
{
    int e = os_commit(region_data(r), large_room(r), topology_get()->page_size,
                      (r->flags & LARGE_F_CLEAN) ? OS_COMMIT_POPULATE : OS_COMMIT_KEEP, NULL);
    if (e == 0)
        r->flags = (r->flags & ~LARGE_F_CLEAN) | LARGE_F_FULL;
    return e;
}

#if NSLAB_DEBUG_LEVEL >= 3
/* The cache's totals are its entries' sums, each entry a cached region
 * (what the audit checks of the large cache).  Under large_lock. */
static int large_cache_consistent(const struct arena *a)
{
    uint64_t bytes = 0, dirty = 0;
    for (unsigned i = 0; i < a->nlarge_cached; i++) {
        const struct large_entry *e = &a->large_cache[i];
        if (!(e->r->flags & LARGE_F_CACHED) || e->res > e->r->hdr.map_size)
            return 0;
        bytes += e->r->hdr.map_size;
        dirty += e->res;
    }
    return bytes == a->large_cached_bytes && dirty == a->large_cached_dirty;
}
#endif

/* Remove entry i of the cache, keeping the others oldest first.  Under
 * large_lock. */
static void cache_remove(struct arena *a, unsigned i)
{
    struct large_entry *e = &a->large_cache[i];
    NSLAB_ASSERT_INTERNAL(i < a->nlarge_cached && a->large_cached_dirty >= e->res &&
                          a->large_cached_bytes >= e->r->hdr.map_size);
    a->large_cached_dirty -= e->res;
    a->large_cached_bytes -= e->r->hdr.map_size;
    unsigned n = a->nlarge_cached - 1;
    memmove(e, e + 1, (n - i) * sizeof *e);
    __atomic_store_n(&a->nlarge_cached, n, __ATOMIC_RELAXED); /* peeked racily */
}

/* Decommit the region of entry e; it leaves the dirty budget if the
 * kernel did it.  Under large_lock. */
static void cache_decommit(struct arena *a, struct large_entry *e)
{
    if (!e->res)
        return;
    large_decommit(e->r);
    if (e->r->flags & LARGE_F_CLEAN) {
        a->large_cached_dirty -= e->res;
        e->res = 0;
    }
}

/* Take the best cached region for size (align <= page), or NULL.  A
 * region holds a request of at least a quarter of its room, or of half of
 * it when the request is to be populated (populating is of the whole room:
 * at most 2x the request).  Of those, the smallest; of equals, the most
 * recently freed (its pages are the likeliest to be resident). */
static struct nslab_region *cache_take(struct arena *a, size_t size, size_t align, int populate)
{
    if (align > topology_get()->page_size || size > ARENA_LARGE_CACHE_ENTRY)
        return NULL;
    if (__atomic_load_n(&a->nlarge_cached, __ATOMIC_RELAXED) == 0)
        return NULL; /* racy peek: a miss only costs a fresh mapping */
    unsigned slack = populate ? 2 : 4;
    struct nslab_region *best = NULL;
    uint64_t broom = 0;
    unsigned bi = 0;
    pthread_mutex_lock(&a->large_lock);
    for (unsigned i = 0; i < a->nlarge_cached; i++) {
        uint64_t room = a->large_cache[i].room;
        if (room >= size && size > room / slack && (!best || room <= broom)) {
            best = a->large_cache[i].r;
            broom = room;
            bi = i;
        }
    }
    if (best)
        cache_remove(a, bi);
    pthread_mutex_unlock(&a->large_lock);
    return best;
}

/* Keep r for reuse: 1 if kept (0: the caller unmaps it).  The cache is
 * kept oldest first and makes room at that end: past ARENA_LARGE_CACHE
 * regions or ARENA_LARGE_CACHE_BYTES mapped, the oldest are unmapped;
 * past ARENA_LARGE_CACHE_DIRTY bytes that may be resident (each region
 * counted at its mapped size: no system call to learn what it holds), the
 * oldest that may hold pages are decommitted.  A program that churns
 * large blocks thus finds the ones it freed last still committed, and one
 * that stops keeps at most the budget (until ARENA_LARGE_CACHE_AGE more
 * frees, or nslab_thread_flush, or two purge steps of the node's chunk
 * pages: large_purge_step). */
static int cache_put(struct arena *a, struct nslab_region *r)
{
    size_t m = r->hdr.map_size;
    if (m > ARENA_LARGE_CACHE_ENTRY || m > ARENA_LARGE_CACHE_DIRTY ||
        r->data_off != topology_get()->page_size)
        return 0;
    r->flags &= ~LARGE_F_CLEAN; /* its user may have touched any page */
    struct nslab_region *drop[ARENA_LARGE_CACHE];
    unsigned ndrop = 0;
    pthread_mutex_lock(&a->large_lock);
    if (__atomic_load_n(&a->drained, __ATOMIC_RELAXED)) {
        /* a drained node keeps nothing for reuse (drain.c sets the flag
         * under this lock, then drops the cache) */
        pthread_mutex_unlock(&a->large_lock);
        return 0;
    }
    uint64_t now = ++a->large_tick;
    /* aging: a region no request took while ARENA_LARGE_CACHE_AGE others
     * were freed is not what this program reuses - its pages go back */
    for (unsigned i = 0; i < a->nlarge_cached; i++)
        if (now - a->large_cache[i].tick > ARENA_LARGE_CACHE_AGE)
            cache_decommit(a, &a->large_cache[i]);
    while (a->nlarge_cached &&
           (a->nlarge_cached == ARENA_LARGE_CACHE || a->large_cached_bytes + m > ARENA_LARGE_CACHE_BYTES)) {
        drop[ndrop++] = a->large_cache[0].r;
        a->large_cache[0].r->flags &= ~LARGE_F_CACHED;
        cache_remove(a, 0);
    }
    for (unsigned i = 0; i < a->nlarge_cached && a->large_cached_dirty + m > ARENA_LARGE_CACHE_DIRTY; i++)
        cache_decommit(a, &a->large_cache[i]);
    int kept = 0;
    uint64_t res = m;
    if (a->large_cached_dirty + res > ARENA_LARGE_CACHE_DIRTY) {
        large_decommit(r); /* the kernel kept some of the others */
        res = (r->flags & LARGE_F_CLEAN) ? 0 : m;
    }
    if (a->large_cached_dirty + res <= ARENA_LARGE_CACHE_DIRTY) {
        r->flags |= LARGE_F_CACHED;
        struct large_entry *e = &a->large_cache[a->nlarge_cached];
        e->r = r;
        e->room = large_room(r);
        e->res = res;
        e->tick = now;
        e->purge_aged = 0;
        __atomic_store_n(&a->nlarge_cached, a->nlarge_cached + 1, __ATOMIC_RELAXED);
        a->large_cached_bytes += m;
        a->large_cached_dirty += res;
        kept = 1;
    }
    NSLAB_ASSERT_INTERNAL(a->nlarge_cached <= ARENA_LARGE_CACHE &&
                          a->large_cached_dirty <= ARENA_LARGE_CACHE_DIRTY);
    NSLAB_ASSERT_EXPENSIVE(large_cache_consistent(a));
    pthread_mutex_unlock(&a->large_lock);
    for (unsigned i = 0; i < ndrop; i++) {
        /* no stale poison for whatever is mapped there next */
        ARENA_ASAN_UNPOISON(region_data(drop[i]), large_room(drop[i]));
        (void)region_destroy(drop[i]); /* the kernel's error changes nothing here */
    }
    return kept;
}

void large_purge_step(struct arena *a)
{
    if (!__atomic_load_n(&a->large_cached_dirty, __ATOMIC_RELAXED))
        return; /* racy peek: a region cached meanwhile ages at the next step */
    pthread_mutex_lock(&a->large_lock);
    for (unsigned i = 0; i < a->nlarge_cached; i++) {
        struct large_entry *e = &a->large_cache[i];
        if (e->purge_aged)
            cache_decommit(a, e);
        else
            e->purge_aged = 1;
    }
    pthread_mutex_unlock(&a->large_lock);
}

void large_trim(struct arena *a)
{
    if (!__atomic_load_n(&a->nlarge_cached, __ATOMIC_RELAXED))
        return; /* racy peek: a region cached meanwhile waits for the next trim */
    pthread_mutex_lock(&a->large_lock);
    for (unsigned i = 0; i < a->nlarge_cached; i++)
        cache_decommit(a, &a->large_cache[i]);
    pthread_mutex_unlock(&a->large_lock);
}

void *large_alloc(int node, size_t size, size_t align, int zero, int populate)
{
    int err;
    struct arena *a = arena_get(node, &err);
    if (!a) {
        errno = err;
        return NULL;
    }
    struct nslab_region *r = cache_take(a, size, align, populate);
    if (r) {
        ARENA_ASAN_UNPOISON(region_data(r), large_room(r));
        ARENA_VG_ACCESSIBLE(region_data(r), large_room(r));
        r->flags &= ~LARGE_F_CACHED;
        if (zero && !(r->flags & LARGE_F_CLEAN)) {
            if (r->flags & LARGE_F_FULL)
                memset(region_data(r), 0, size); /* resident anyway */
            else
                large_decommit(r); /* do not fault in what was never used */
            if (!(r->flags & (LARGE_F_CLEAN | LARGE_F_FULL)))
                memset(region_data(r), 0, size); /* the kernel refused */
        }
        if (populate && !(r->flags & LARGE_F_FULL) && large_populate(r) != 0) {
            /* the node cannot back it now: as a fresh mapping would */
            region_destroy(r);
            errno = ENOMEM;
            return NULL;
        }
        r->size = size;
    } else {
        nslab_policy_t pol = {0};
        pol.mode = NSLAB_POLICY_BIND;
        pol.nodes = nslab_nodeset_of(node);
        nslab_region_opts_t opts = NSLAB_REGION_OPTS_INIT();
        opts.prefault = populate ? NSLAB_PREFAULT_POPULATE : NSLAB_PREFAULT_NONE;
        int e = region_create(size, align, &pol, &opts, REGION_F_LARGE, &r);
        if (e) {
            errno = e;
            return NULL;
        }
        if (__atomic_load_n(&a->drained, __ATOMIC_ACQUIRE)) {
            /* the node was drained while this was mapped (it passed its
             * node check before): refuse it as the check now would */
            region_destroy(r);
            errno = ENODEV;
            return NULL;
        }
        if (populate)
            r->flags |= LARGE_F_FULL;
        else
            region_drop_hold(r); /* checked now; not held (numaslab.h) */
        /* a fresh anonymous mapping reads as zero */
    }
    __atomic_fetch_add(&a->large, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_mapped, r->hdr.map_size, __ATOMIC_RELAXED);
    if (r->flags & LARGE_F_FULL)
        __atomic_fetch_add(&a->large_committed, r->hdr.map_size, __ATOMIC_RELAXED);
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
        if (r->flags & LARGE_F_FULL)
            __atomic_fetch_sub(&a->large_committed, mapped, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&a->large_user, user, __ATOMIC_RELAXED);
        /* poisoned before it is published: a use after free shows */
        ARENA_ASAN_POISON(region_data(r), large_room(r));
        ARENA_VG_NOACCESS(region_data(r), large_room(r));
        if (cache_put(a, r))
            return 0;
        ARENA_ASAN_UNPOISON(region_data(r), large_room(r));
        ARENA_VG_ACCESSIBLE(region_data(r), large_room(r));
    }
    return region_destroy(r);
}

void large_cache_drop(struct arena *a)
{
    struct nslab_region *drop[ARENA_LARGE_CACHE];
    unsigned n;
    pthread_mutex_lock(&a->large_lock);
    for (n = 0; a->nlarge_cached; n++) {
        drop[n] = a->large_cache[0].r;
        drop[n]->flags &= ~LARGE_F_CACHED;
        cache_remove(a, 0);
    }
    pthread_mutex_unlock(&a->large_lock);
    for (unsigned i = 0; i < n; i++)
        (void)region_destroy(drop[i]);
}
