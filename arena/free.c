/*
 * arena/free.c - the one free for every pointer of the library, and the
 * pointer queries (nslab_usable_size, nslab_node_of).
 *
 * Dispatch by the segment the pointer lies in (segment.h, O(1), no lock):
 *   SEG_CHUNK   a slab block: the inline fast path (arena.h) pushes it
 *               into the calling thread's bin for the block's node; the
 *               slow path here covers a thread without a cache and pages
 *               that hold no blocks (-EINVAL);
 *   SEG_REGION  a large block (large.c) or a numa_malloc_interleaved
 *               allocation: destroyed when p is its data address; a user
 *               region (nslab_region_create) is not freed here (-EINVAL:
 *               nslab_region_destroy owns it);
 *   SEG_POOL    a pool buffer: nslab_pool_put(NULL, p);
 *   anything else: -EINVAL, nothing touched.
 * Not detected (as with any allocator's free): a pointer into the middle of
 * a live slab block, and double frees.  nslab_audit() finds the damage the
 * latter does (a block twice in the lists).
 */
#include "arena.h"

#include <errno.h>

#pragma weak nslab_pool_put

static int einval(void)
{
    errno = EINVAL;
    return -EINVAL;
}

/* A block freed by a thread without a cache: straight to its arena. */
static int free_direct(struct chunk *c, void *p)
{
    int node = c->hdr.node;
    int here = arena_thread_node();
    unsigned cls = c->cls[chunk_page(p)];
    *(void **)p = NULL;
    arena_put_list(c->arena, cls, p, 1, here != node);
    if (here != node && here >= 0 && here < topology_get()->nr_nodes) {
        int e;
        struct arena *a = arena_get(here, &e);
        if (a)
            __atomic_fetch_add(&a->direct_remote_out, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

int arena_free_slow(void *p)
{
    if (!p)
        return 0;
    struct seg_hdr *h = seg_lookup_inline(p);
    if (!h)
        return einval();
    switch (h->kind) {
    case SEG_CHUNK: {
        struct chunk *c = (struct chunk *)h;
        if (!c->cls[chunk_page(p)])
            return einval();
        struct tcache *tc = tcache_get();
        if (tc && c->page_off[chunk_page(p)] < tc->node_bytes)
            return arena_free_inline(p); /* now with a cache */
        return free_direct(c, p);
    }
    case SEG_REGION: {
        struct nslab_region *r = (struct nslab_region *)h;
        if (p != region_data(r))
            return einval();
        if (r->flags & REGION_F_LARGE) {
            int e = large_free(r); /* EINVAL for a cached (freed) one */
            return e ? (errno = e, -e) : 0;
        }
        if (r->flags & REGION_F_INTERLEAVED) {
            int e = region_destroy(r);
            return e ? (errno = e, -e) : 0;
        }
        return einval();
    }
    case SEG_POOL:
        if (nslab_pool_put)
            return nslab_pool_put(NULL, p);
        return einval();
    default:
        return einval();
    }
}

NSLAB_API int nslab_free(void *ptr)
{
    return arena_free_inline(ptr);
}

NSLAB_API size_t nslab_usable_size(const void *ptr)
{
    struct seg_hdr *h = seg_lookup_inline(ptr);
    if (h && h->kind == SEG_CHUNK) {
        struct chunk *c = (struct chunk *)h;
        unsigned cls = c->cls[chunk_page(ptr)];
        if (cls)
            return sc_size[cls];
    } else if (h && h->kind == SEG_REGION) {
        const struct nslab_region *r = (const struct nslab_region *)h;
        if (region_is_block(r) && ptr == region_data(r))
            return r->size;
    }
    errno = EINVAL;
    return 0;
}

NSLAB_API int nslab_node_of(const void *ptr)
{
    struct seg_hdr *h = seg_lookup_inline(ptr);
    if (h && h->kind == SEG_CHUNK) {
        struct chunk *c = (struct chunk *)h;
        if (c->cls[chunk_page(ptr)])
            return h->node;
    } else if (h && h->kind == SEG_REGION) {
        const struct nslab_region *r = (const struct nslab_region *)h;
        const char *d = region_data(r);
        if (!(r->flags & LARGE_F_CACHED) && (const char *)ptr >= d && (const char *)ptr < d + r->size)
            return h->node;
    } else if (h && h->kind == SEG_POOL) {
        return h->node;
    }
    errno = EINVAL;
    return -EINVAL;
}
