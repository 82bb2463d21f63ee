/*
 * arena/chunk.c - chunks: 4 MiB segments bound to one node before any
 * block of them exists and committed on use, split into 64 KiB pages that
 * slabs take in runs; free pages are decommitted and populated again
 * before reuse.
 *
 * A chunk is mapped with region_segment_map_held() under a bind policy to its
 * node with NSLAB_PREFAULT_NONE, so (a) the region layer's capacity check
 * refuses it with ENOMEM before anything is committed when the node cannot
 * hold it, and (b) the binding is the VMA's before the header is even
 * written: every page of the chunk lands on the node whenever it is first
 * touched, by whoever touches it (promise 1 does not depend on prefaulting).
 * Only the header page is committed when the chunk is made (by writing the
 * header); the header is registered in the segment bitmap last.
 *
 * Committed on use.  A run of pages taken for a slab is committed then
 * (counted in committed_pages, out of the ledger) and populated (os_commit)
 * either before chunk_take_pages returns (populate != 0) or, for slabs, by
 * slab.c as the slab's blocks are first handed out, ARENA_POPULATE_STEP at a
 * time, unless the prefault setting is NONE (then its pages fault in at
 * first touch); never the whole chunk.  The chunk's capacity stays promised: the region layer's hold of
 * the whole 4 MiB is kept in the capacity ledger (chunk.held) minus the
 * pages committed - a page's 64 KiB leave the ledger when it is populated
 * (the node's free memory now shows it) and come back when it is
 * decommitted (capacity_rehold) - so the node's room as the library counts
 * it does not change as chunk pages come and go, and a strict allocation
 * still gets ENOMEM up front, never an OOM kill when a slab is carved.
 * stats.c reports the held part as bytes_reserved.  Under THP "always" the
 * kernel backs a first touch of an aligned 2 MiB range with a huge page, so
 * a chunk's RSS then grows in halves (the header's touch commits the first
 * one); the bitmaps and the ledger still count 64 KiB pages.  (THP
 * "madvise", this project's machines' default, commits what is touched.)
 *
 * Decommit (purge), after mimalloc's purge delay but counted in releases
 * instead of time, so it is deterministic (no clock, no background thread):
 *  - aging: every ARENA_PURGE_INTERVAL page runs released on a node, a
 *    purge step decommits (os_decommit, coalesced runs) the free committed
 *    pages that were already free and committed at the previous step and
 *    were not taken since (chunk.aged_pages), then marks the free committed
 *    pages of now as aged.  A page is decommitted only after it stayed free
 *    for between one and two intervals, so a slab span that is released and
 *    carved again soon (producer / consumer) keeps its memory.
 *  - bound: a release that leaves more free committed pages on the node
 *    than ARENA_PURGE_MAX_PAGES or, when that is more, than the smaller of
 *    twice its live blocks (at their recent peak) and its slab pages
 *    (purge_bound), decommits all of them at once, so free memory the node
 *    keeps resident is bounded by what it uses whatever the release count.
 *  - nslab_thread_flush decommits them all (chunk_purge_all, through
 *    arena_trim_slabs); thread exit does not.
 * A run taken for a slab is searched first among free COMMITTED pages of
 * every chunk (no syscall), then among any free pages (never used, or
 * decommitted), which are populated as above.
 *
 * Retention: a chunk whose slab pages are all free is kept mapped while the
 * node has fewer than ARENA_EMPTY_RETAIN empty chunks (its free pages are
 * purged by the rule above like any other chunk's), else unregistered and
 * unmapped at once, so RSS follows the live blocks under churn.
 *
 * Locks: arena->chunk_lock protects the chunk list, every chunk's page
 * bitmaps and free count, nchunks, nempty, free_committed, purge_tick and
 * the decommit counters.  It is
 * taken with (inside) a class lock, never the other way round; it is not
 * held across the mapping of a new chunk (two threads may then both map
 * one; the spare is simply another chunk with free pages), nor across the
 * repopulation of a run (its pages are already marked used, so nobody else
 * touches them); it IS held across os_decommit, so no run being purged
 * can be taken meanwhile (a purge step zaps at most the pages released in
 * two intervals, or ARENA_PURGE_MAX_PAGES + a new chunk's).
 */
#include "arena.h"

#include <errno.h>

#include "debug.h"
#include "os.h"
#include "dlist.h"

uint8_t chunk_map[CHUNK_MAP_ENTRIES];

static void chunk_map_set(struct chunk *c, uint8_t v)
{
    __atomic_store_n(&chunk_map[(uintptr_t)c >> SEG_SHIFT], v, __ATOMIC_RELEASE);
}

static uint64_t run_mask(unsigned first, unsigned n)
{
    return (n >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1)) << first;
}

/* First run of n zero bits in map (bits 0..ARENA_PAGES-1), or -1. */
static int find_run(uint64_t map, unsigned n)
{
    uint64_t run = run_mask(0, n);
    for (unsigned i = 0; i + n <= ARENA_PAGES; i++) {
        if (!(map & (run << i)))
            return (int)i;
        /* skip past the lowest set bit inside the window */
        uint64_t hit = map & (run << i);
        i = (unsigned)__builtin_ctzll(hit);
    }
    return -1;
}

static void take_run(struct arena *a, struct chunk *c, unsigned first, unsigned n)
{
    uint64_t m = run_mask(first, n);
    NSLAB_ASSERT_INTERNAL(!(c->used_pages & m) && c->free_pages >= n);
    if (c->free_pages == ARENA_PAGES - 1)
        a->nempty--;
    c->used_pages |= m;
    c->aged_pages &= ~m;
    a->free_committed -= (uint64_t)__builtin_popcountll(m & c->committed_pages);
    c->free_pages -= n;
    a->slab_pages += n;
    NSLAB_ASSERT_EXPENSIVE(c->free_pages ==
                           (unsigned)(ARENA_PAGES - __builtin_popcountll(c->used_pages)));
}

/* Decommit the pages of `mask` (free and committed) of c.  chunk_lock
 * held.  A run the kernel refuses stays committed. */
static void purge_mask_locked(struct arena *a, struct chunk *c, uint64_t mask)
{
    while (mask) {
        unsigned first = (unsigned)__builtin_ctzll(mask);
        uint64_t rest = mask >> first;
        unsigned n = ~rest ? (unsigned)__builtin_ctzll(~rest) : 64 - first;
        uint64_t m = run_mask(first, n);
        mask &= ~m;
        if (os_decommit((char *)c + (size_t)first * ARENA_PAGE_SIZE,
                        (size_t)n * ARENA_PAGE_SIZE) == 0) {
            c->committed_pages &= ~m;
            c->aged_pages &= ~m;
            a->free_committed -= n;
            a->decommits++;
            if (c->held) /* still promised to the chunk */
                capacity_rehold(a->node, (size_t)n * ARENA_PAGE_SIZE);
        }
    }
}

/* A purge step (all == 0: the aged pages; all != 0: every free committed
 * page), over every chunk of the node.  chunk_lock held. */
static void purge_step_locked(struct arena *a, int all)
{
    for (struct chunk *c = a->chunks; c; c = c->next) {
        uint64_t fc = c->committed_pages & ~c->used_pages;
        purge_mask_locked(a, c, all ? fc : fc & c->aged_pages);
        c->aged_pages = c->committed_pages & ~c->used_pages;
    }
    a->purge_tick = 0;
    /* the node's cached large regions age with its free pages: one no
     * request took since the previous step gives its pages back */
    large_purge_step(a);
}

void chunk_purge_all(struct arena *a)
{
    pthread_mutex_lock(&a->chunk_lock);
    if (a->free_committed)
        purge_step_locked(a, 1);
    pthread_mutex_unlock(&a->chunk_lock);
}

/* Populate [p, p + len) on the VMA's node before any block of it exists:
 * 0, or ENOMEM when the kernel could not back it.  (Decommitted pages read
 * as zero, so the fallback's writes of zero change nothing.) */
static int chunk_populate(void *p, size_t len)
{
    return os_commit(p, len, topology_get()->page_size, OS_COMMIT_POPULATE, NULL);
}

static int chunk_new(struct arena *a, struct chunk **out)
{
    nslab_policy_t pol = {0};
    pol.mode = NSLAB_POLICY_BIND;
    /* STATIC_NODES: a cpuset change does not rebind the chunk's policy to
     * other nodes (the kernel would, for a plain BIND), so pages the
     * kernel migrated can be put back (layout.c) and a page repopulated
     * later still lands on the node, or nowhere if the node left the
     * cpuset (then the chunk is retired before any block is carved). */
    pol.flags = NSLAB_POLICY_STATIC_NODES;
    pol.nodes = nslab_nodeset_of(a->node);
    nslab_region_opts_t opts = NSLAB_REGION_OPTS_INIT();
    opts.prefault = NSLAB_PREFAULT_NONE; /* bound now, committed per slab */
    void *base;
    size_t held;
    int e = region_segment_map_held(SEG_SIZE, &pol, &opts, &base, &held);
    if (e)
        return e;
    struct chunk *c = base; /* zero pages, faulted in as the header is written */
    c->hdr.kind = SEG_CHUNK;
    c->hdr.node = a->node;
    c->hdr.map_size = SEG_SIZE;
    c->node_off = a->node_off;
    /* BIND to one node holds all of the chunk or nothing */
    c->held = held == SEG_SIZE;
    if (held)
        capacity_release(a->node, c->held ? ARENA_PAGE_SIZE : held); /* the header page */
    for (unsigned i = 0; i < ARENA_PAGES; i++) {
        c->bin_base[i] = CHUNK_NO_BASE;
        c->pg[i].bin_off = CHUNK_NO_BIN;
        c->test_mul[i] = 0;
        c->pg[i].start_mul = 0;
    }
    c->used_pages = 1; /* the header page */
    c->committed_pages = 1;
    c->aged_pages = 0;
    c->free_pages = ARENA_PAGES - 1;
    c->arena = a;
    seg_register(&c->hdr);
    chunk_map_set(c, 1);
    *out = c;
    return 0;
}

/* Bytes of c's reservation in the ledger (its pages not committed). */
static size_t chunk_held_bytes(const struct chunk *c)
{
    if (!c->held)
        return 0;
    return (size_t)(ARENA_PAGES - (unsigned)__builtin_popcountll(c->committed_pages)) *
           ARENA_PAGE_SIZE;
}

size_t chunk_reserved_bytes(const struct chunk *c)
{
    return chunk_held_bytes(c);
}

/* Find a run of npages free pages, committed ones first (no syscall), then
 * any.  chunk_lock held.  NULL if no chunk has one. */
static struct chunk *find_pages_locked(struct arena *a, unsigned npages, int *at)
{
    for (int pass = 0; pass < 2; pass++) {
        for (struct chunk *k = a->chunks; k; k = k->next) {
            if (k->free_pages < npages || k->retired)
                continue; /* retired chunks hand out nothing (layout.c) */
            uint64_t busy = pass == 0 ? k->used_pages | ~k->committed_pages : k->used_pages;
            if ((*at = find_run(busy, npages)) >= 0)
                return k;
        }
    }
    return NULL;
}

int chunk_take_pages(struct arena *a, unsigned npages, int populate, struct chunk **out,
                     unsigned *first, uint64_t *fresh)
{
    int i = -1;
    pthread_mutex_lock(&a->chunk_lock);
    struct chunk *c = find_pages_locked(a, npages, &i);
    if (!c) {
        pthread_mutex_unlock(&a->chunk_lock);
        int e = chunk_new(a, &c);
        if (e)
            return e;
        pthread_mutex_lock(&a->chunk_lock);
        NSLAB_DLIST_PUSH(a->chunks, c, prev, next);
        a->nchunks++;
        a->nempty++;
        i = 1;
    }
    uint64_t m = run_mask((unsigned)i, npages);
    take_run(a, c, (unsigned)i, npages);
    uint64_t need = m & ~c->committed_pages; /* take_run counted the others */
    c->committed_pages |= m; /* committed by us below, before any use */
    if (need)
        a->commits++;
    pthread_mutex_unlock(&a->chunk_lock);

    if (need && populate) {
        unsigned lo = (unsigned)__builtin_ctzll(need);
        unsigned hi = 64 - (unsigned)__builtin_clzll(need);
        int e = chunk_populate((char *)c + (size_t)lo * ARENA_PAGE_SIZE,
                               (size_t)(hi - lo) * ARENA_PAGE_SIZE);
        if (e) {
            /* give the run back, counted as not committed (the ledger
             * still holds those pages) */
            pthread_mutex_lock(&a->chunk_lock);
            c->committed_pages &= ~need;
            pthread_mutex_unlock(&a->chunk_lock);
            chunk_release_pages(a, c, (unsigned)i, npages);
            return e;
        }
    }
    /* the pages are the node's now (resident, or under NONE at their first
     * touch): the free memory reading accounts for them from here */
    if (need && c->held)
        capacity_release(a->node, (size_t)__builtin_popcountll(need) * ARENA_PAGE_SIZE);
    *out = c;
    *first = (unsigned)i;
    if (fresh)
        *fresh = populate ? 0 : need;
    return 0;
}

/* The free committed pages a node may keep before a release decommits them
 * all: ARENA_PURGE_MAX_PAGES, or, when that is more, the smaller of
 *  - twice the pages its live blocks fill, at their recent peak (the sum
 *    below, decaying by 1/16 a sample when the live data falls), and
 *  - the pages its slabs hold (arena.slab_pages).
 * With the fixed floor alone, N x N cross-thread frees crossed it every
 * few hundred releases, decommitted every free page and faulted them all
 * in again (the figures: bench/analysis.md, bench-classes xthread).  The
 * live data dips for a moment in such a run: the recent peak, not the
 * value now, says how much will be taken again.  Neither term keeps memory
 * a program let go of: after it frees most of its blocks, the slabs left
 * are sparse (bench churn) but the live data is small; after it frees
 * nearly all, few slab pages are left; either way the bound falls to the
 * floor within a few samples and the next release decommits the rest.
 * The live bytes are the classes' `out` (relaxed loads, no class lock: a
 * release runs inside one class lock and must not take another), summed
 * only when the floor is passed and then once every ARENA_PURGE_SAMPLE such
 * releases (the sum reads 80 cache lines other threads write).
 * chunk_lock held. */
static uint64_t purge_bound(struct arena *a)
{
    if (a->free_committed <= ARENA_PURGE_MAX_PAGES)
        return ARENA_PURGE_MAX_PAGES;
    if (a->live_age++ % ARENA_PURGE_SAMPLE == 0) {
        uint64_t bytes = 0;
        for (unsigned c = 1; c < SC_COUNT; c++)
            bytes += __atomic_load_n(&a->cls[c].out, __ATOMIC_RELAXED) * sc_size[c];
        uint64_t now = bytes / ARENA_PAGE_SIZE, decayed = a->live_peak - a->live_peak / 16;
        a->live_peak = now > decayed ? now : decayed;
    }
    uint64_t b = 2 * a->live_peak;
    if (b > a->slab_pages)
        b = a->slab_pages;
    return b > ARENA_PURGE_MAX_PAGES ? b : ARENA_PURGE_MAX_PAGES;
}

/* Take an empty chunk off the arena's lists, chunk_lock held; the caller
 * unmaps it outside the lock: no block of it is live, and no list reaches
 * it any more. */
static void chunk_unlink_locked(struct arena *a, struct chunk *c)
{
    NSLAB_DLIST_UNLINK(a->chunks, c, prev, next);
    a->nchunks--;
    if (c->retired)
        a->retired_chunks--;
    a->free_committed -= (uint64_t)__builtin_popcountll(c->committed_pages & ~c->used_pages);
}

static void chunk_unmap(struct arena *a, struct chunk *c)
{
    size_t held = chunk_held_bytes(c);
    chunk_map_set(c, 0);
    seg_unregister(&c->hdr);
    region_segment_unmap(c, SEG_SIZE);
    capacity_release(a->node, held);
}

void chunk_retire(struct arena *a, struct chunk *c, int where)
{
    pthread_mutex_lock(&a->chunk_lock);
    if (c->retired) {
        pthread_mutex_unlock(&a->chunk_lock);
        return;
    }
    __atomic_store_n(&c->retired, (uint32_t)(where + 1), __ATOMIC_RELAXED);
    a->retired_chunks++;
    __atomic_fetch_add(&a->retired_ever, 1, __ATOMIC_RELAXED);
    int empty = c->free_pages == ARENA_PAGES - 1;
    if (empty) {
        a->nempty--;
        chunk_unlink_locked(a, c);
    }
    pthread_mutex_unlock(&a->chunk_lock);
    if (empty)
        chunk_unmap(a, c);
    else
        slab_retire_chunk(a, c); /* may unmap it: its last kept slab goes */
}

void chunk_release_pages(struct arena *a, struct chunk *c, unsigned first, unsigned npages)
{
    uint64_t m = run_mask(first, npages);
    pthread_mutex_lock(&a->chunk_lock);
    NSLAB_ASSERT_INTERNAL((c->used_pages & m) == m && !(m & 1)); /* used, not the header */
    c->used_pages &= ~m;
    c->free_pages += npages;
    a->slab_pages -= npages;
    a->free_committed += (uint64_t)__builtin_popcountll(m & c->committed_pages);
    int unmap = 0;
    if (c->free_pages == ARENA_PAGES - 1) {
        if (!c->retired && a->nempty < ARENA_EMPTY_RETAIN) {
            a->nempty++;
        } else {
            /* unlink (a retired chunk is never kept); unmap below */
            unmap = 1;
            chunk_unlink_locked(a, c);
        }
    }
    if (a->free_committed > purge_bound(a))
        purge_step_locked(a, 1);
    else if (++a->purge_tick >= ARENA_PURGE_INTERVAL)
        purge_step_locked(a, 0);
    pthread_mutex_unlock(&a->chunk_lock);
    if (unmap)
        chunk_unmap(a, c);
}
