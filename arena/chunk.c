/*
 * arena/chunk.c - chunks: 4 MiB segments bound to one node and prefaulted
 * before any block of them exists, split into 64 KiB pages that slabs take
 * in runs.
 *
 * A chunk is mapped with region_segment_map() under MPOL_BIND to its node
 * with NSLAB_PREFAULT_POPULATE, so (a) the region layer's capacity check
 * refuses it with ENOMEM before anything is committed when the node cannot
 * hold it, and (b) every page is on the node before the header is even
 * written.  The header is registered in the segment bitmap last.
 *
 * Retention: a chunk whose slab pages are all free is kept mapped while the
 * node has fewer than ARENA_EMPTY_RETAIN empty chunks, else unregistered
 * and unmapped at once, so RSS follows the live blocks under churn.
 *
 * Locks: arena->chunk_lock protects the chunk list, every chunk's page
 * bitmap and free count, nchunks and nempty.  It is taken with (inside) a
 * class lock, never the other way round; it is not held across the mapping
 * of a new chunk (two threads may then both map one; the spare is simply
 * another chunk with free pages).
 */
#include "arena.h"

#include <errno.h>

uint8_t chunk_map[CHUNK_MAP_ENTRIES];

static void chunk_map_set(struct chunk *c, uint8_t v)
{
    __atomic_store_n(&chunk_map[(uintptr_t)c >> SEG_SHIFT], v, __ATOMIC_RELEASE);
}

/* First run of n zero bits in map (bits 0..ARENA_PAGES-1), or -1. */
static int find_run(uint64_t map, unsigned n)
{
    uint64_t run = n >= 64 ? ~UINT64_C(0) : ((UINT64_C(1) << n) - 1);
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
    uint64_t run = ((UINT64_C(1) << n) - 1) << first;
    if (c->free_pages == ARENA_PAGES - 1)
        a->nempty--;
    c->used_pages |= run;
    c->free_pages -= n;
}

static int chunk_new(struct arena *a, struct chunk **out)
{
    nslab_policy_t pol = {0};
    pol.mode = NSLAB_POLICY_BIND;
    pol.nodes = nslab_nodeset_of(a->node);
    nslab_region_opts_t opts = {0};
    opts.prefault = NSLAB_PREFAULT_POPULATE;
    void *base;
    int e = region_segment_map(SEG_SIZE, &pol, &opts, &base, NULL, NULL);
    if (e)
        return e;
    struct chunk *c = base; /* populated zero pages */
    c->hdr.kind = SEG_CHUNK;
    c->hdr.node = a->node;
    c->hdr.map_size = SEG_SIZE;
    c->node_off = a->node_off;
    for (unsigned i = 0; i < ARENA_PAGES; i++)
        c->page_off[i] = CHUNK_NO_BIN;
    c->used_pages = 1; /* the header page */
    c->free_pages = ARENA_PAGES - 1;
    c->arena = a;
    seg_register(&c->hdr);
    chunk_map_set(c, 1);
    *out = c;
    return 0;
}

int chunk_take_pages(struct arena *a, unsigned npages, struct chunk **out, unsigned *first)
{
    pthread_mutex_lock(&a->chunk_lock);
    for (struct chunk *c = a->chunks; c; c = c->next) {
        if (c->free_pages < npages)
            continue;
        int i = find_run(c->used_pages, npages);
        if (i < 0)
            continue;
        take_run(a, c, (unsigned)i, npages);
        pthread_mutex_unlock(&a->chunk_lock);
        *out = c;
        *first = (unsigned)i;
        return 0;
    }
    pthread_mutex_unlock(&a->chunk_lock);

    struct chunk *c;
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
    take_run(a, c, 1, npages);
    pthread_mutex_unlock(&a->chunk_lock);
    *out = c;
    *first = 1;
    return 0;
}

void chunk_release_pages(struct arena *a, struct chunk *c, unsigned first, unsigned npages)
{
    uint64_t run = ((UINT64_C(1) << npages) - 1) << first;
    pthread_mutex_lock(&a->chunk_lock);
    c->used_pages &= ~run;
    c->free_pages += npages;
    if (c->free_pages < ARENA_PAGES - 1) {
        pthread_mutex_unlock(&a->chunk_lock);
        return;
    }
    if (a->nempty < ARENA_EMPTY_RETAIN) {
        a->nempty++;
        pthread_mutex_unlock(&a->chunk_lock);
        return;
    }
    /* Unlink, then unmap outside the lock: no block of it is live, and no
     * list reaches it any more. */
    if (c->prev)
        c->prev->next = c->next;
    else
        a->chunks = c->next;
    if (c->next)
        c->next->prev = c->prev;
    a->nchunks--;
    pthread_mutex_unlock(&a->chunk_lock);
    chunk_map_set(c, 0);
    seg_unregister(&c->hdr);
    region_segment_unmap(c, SEG_SIZE);
}
