/*
 * arena/chunk.c - chunks: 4 MiB segments bound to one node and prefaulted
 * before any block of them exists, split into 64 KiB pages that slabs take
 * in runs; free pages are decommitted and repopulated before reuse.
 *
 * A chunk is mapped with region_segment_map() under a bind policy to its node
 * with NSLAB_PREFAULT_POPULATE, so (a) the region layer's capacity check
 * refuses it with ENOMEM before anything is committed when the node cannot
 * hold it, and (b) every page is on the node before the header is even
 * written.  The header is registered in the segment bitmap last.
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
 *    than ARENA_PURGE_MAX_PAGES, or than twice its live blocks fill when
 *    that is more (purge_bound), decommits all of them at once, so free
 *    memory the node keeps resident is bounded by its data whatever the
 *    release count.
 *  - nslab_thread_flush decommits them all (chunk_purge_all, through
 *    arena_trim_slabs); thread exit does not.
 * A new chunk's free pages are committed (prefaulted with the chunk) and
 * age like any others.  A run taken for a slab is searched first among free
 * COMMITTED pages of every chunk (no syscall); a run with decommitted pages
 * is repopulated (os_commit: populated, or a write to every OS page where
 * the kernel cannot populate) before chunk_take_pages returns, so a block
 * is still only handed out from prefaulted pages, and the chunk's bind
 * policy (it is the VMA's) puts the new pages on the chunk's node
 * (promise 1).  The chunk's 4 MiB stay in the region layer's capacity
 * ledger while mapped, so repopulating does not overcommit the node as the
 * library counts it.
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

#include "os.h"

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
    if (c->free_pages == ARENA_PAGES - 1)
        a->nempty--;
    c->used_pages |= m;
    c->aged_pages &= ~m;
    a->free_committed -= (uint64_t)__builtin_popcountll(m & c->committed_pages);
    c->free_pages -= n;
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
    pol.nodes = nslab_nodeset_of(a->node);
    nslab_region_opts_t opts = {0};
    opts.prefault = NSLAB_PREFAULT_POPULATE;
    void *base;
    int e = region_segment_map(SEG_SIZE, 0, &pol, &opts, &base, NULL, NULL);
    if (e)
        return e;
    struct chunk *c = base; /* populated zero pages */
    c->hdr.kind = SEG_CHUNK;
    c->hdr.node = a->node;
    c->hdr.map_size = SEG_SIZE;
    c->node_off = a->node_off;
    for (unsigned i = 0; i < ARENA_PAGES; i++)
        c->pg[i].bin_off = CHUNK_NO_BIN;
    c->used_pages = 1; /* the header page */
    c->committed_pages = run_mask(0, ARENA_PAGES);
    c->aged_pages = 0;
    c->free_pages = ARENA_PAGES - 1;
    c->arena = a;
    seg_register(&c->hdr);
    chunk_map_set(c, 1);
    *out = c;
    return 0;
}

int chunk_take_pages(struct arena *a, unsigned npages, struct chunk **out, unsigned *first)
{
    struct chunk *c = NULL;
    int i = -1;
    pthread_mutex_lock(&a->chunk_lock);
    /* committed free pages first (no syscall), then any free pages */
    for (struct chunk *k = a->chunks; k && i < 0; k = k->next) {
        if (k->free_pages < npages)
            continue;
        if ((i = find_run(k->used_pages | ~k->committed_pages, npages)) >= 0)
            c = k;
    }
    for (struct chunk *k = a->chunks; k && i < 0; k = k->next) {
        if (k->free_pages < npages)
            continue;
        if ((i = find_run(k->used_pages, npages)) >= 0)
            c = k;
    }
    uint64_t need = 0;
    if (c) {
        uint64_t m = run_mask((unsigned)i, npages);
        take_run(a, c, (unsigned)i, npages);
        need = m & ~c->committed_pages; /* take_run counted the others */
        c->committed_pages |= m; /* committed by us below, before any use */
        if (need)
            a->recommits++;
    }
    pthread_mutex_unlock(&a->chunk_lock);

    if (c) {
        if (need) {
            unsigned lo = (unsigned)__builtin_ctzll(need);
            unsigned hi = 64 - (unsigned)__builtin_clzll(need);
            int e = chunk_populate((char *)c + (size_t)lo * ARENA_PAGE_SIZE,
                                   (size_t)(hi - lo) * ARENA_PAGE_SIZE);
            if (e) {
                /* give the run back, counted as not committed */
                pthread_mutex_lock(&a->chunk_lock);
                c->committed_pages &= ~need;
                pthread_mutex_unlock(&a->chunk_lock);
                chunk_release_pages(a, c, (unsigned)i, npages);
                return e;
            }
        }
        *out = c;
        *first = (unsigned)i;
        return 0;
    }

    int e = chunk_new(a, &c);
    if (e)
        return e;
    pthread_mutex_lock(&a->chunk_lock);
    c->next = a->chunks;
    c->prev = NULL;
    if (a->chunks)
        a->chunks->prev = c;
    a->chunks = c;
    a->nchunks++;
    a->nempty++;
    a->free_committed += ARENA_PAGES - 1;
    take_run(a, c, 1, npages);
    pthread_mutex_unlock(&a->chunk_lock);
    *out = c;
    *first = 1;
    return 0;
}

/* The free committed pages a node may keep before a release decommits them
 * all: ARENA_PURGE_MAX_PAGES, or twice as many pages as its live blocks
 * fill when that is more.  With the fixed floor alone, N x N cross-thread
 * frees of 16 B - 64 KiB (bench-classes xthread: ~15 MiB of live blocks in
 * ~35 MiB of slabs, ~16 MiB of free pages taken and released all the
 * time) crossed it every few hundred releases, decommitted every free page
 * and faulted them all in again: 9x mimalloc's page faults, 3.6x its time,
 * three quarters of it in decommits (os_decommit), repopulation and page
 * faults (perf).  Scaled to the live data, the free memory a node keeps is
 * at most twice that, so a program that frees most of its blocks still
 * gives the pages of the slabs it emptied back at once (bench churn: the
 * slabs that are left are sparse and must not count as a reason to keep
 * more, so the bound follows the live blocks, not the slab pages).
 * The live bytes are the classes' `out` (relaxed loads, no class lock: a
 * release runs inside one class lock and must not take another), summed
 * only when the floor is passed and then once every ARENA_PURGE_SAMPLE such
 * releases (the sum reads 80 cache lines other threads write), so the
 * estimate may lag by that many slab releases.  chunk_lock held. */
static uint64_t purge_bound(struct arena *a)
{
    if (a->free_committed <= ARENA_PURGE_MAX_PAGES)
        return ARENA_PURGE_MAX_PAGES;
    if (a->live_age++ % ARENA_PURGE_SAMPLE == 0) {
        uint64_t bytes = 0;
        for (unsigned c = 1; c < SC_COUNT; c++)
            bytes += __atomic_load_n(&a->cls[c].out, __ATOMIC_RELAXED) * sc_size[c];
        a->live_pages = bytes / ARENA_PAGE_SIZE;
    }
    uint64_t b = 2 * a->live_pages;
    return b > ARENA_PURGE_MAX_PAGES ? b : ARENA_PURGE_MAX_PAGES;
}

void chunk_release_pages(struct arena *a, struct chunk *c, unsigned first, unsigned npages)
{
    uint64_t m = run_mask(first, npages);
    pthread_mutex_lock(&a->chunk_lock);
    c->used_pages &= ~m;
    c->free_pages += npages;
    a->free_committed += (uint64_t)__builtin_popcountll(m & c->committed_pages);
    int unmap = 0;
    if (c->free_pages == ARENA_PAGES - 1) {
        if (a->nempty < ARENA_EMPTY_RETAIN) {
            a->nempty++;
        } else {
            /* unlink; unmap below, outside the lock: no block of it is
             * live, and no list reaches it any more */
            unmap = 1;
            if (c->prev)
                c->prev->next = c->next;
            else
                a->chunks = c->next;
            if (c->next)
                c->next->prev = c->prev;
            a->nchunks--;
            a->free_committed -=
                (uint64_t)__builtin_popcountll(c->committed_pages & ~c->used_pages);
        }
    }
    if (a->free_committed > purge_bound(a))
        purge_step_locked(a, 1);
    else if (++a->purge_tick >= ARENA_PURGE_INTERVAL)
        purge_step_locked(a, 0);
    pthread_mutex_unlock(&a->chunk_lock);
    if (unmap) {
        chunk_map_set(c, 0);
        seg_unregister(&c->hdr);
        region_segment_unmap(c, SEG_SIZE);
    }
}
