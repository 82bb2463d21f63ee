/*
 * arena/large.c - blocks above SC_SMALL_MAX (64 KiB), or with an alignment
 * above it: each is a region of its own (REGION_F_LARGE) bound to its node
 * with MPOL_BIND and populated by the region layer before it is returned,
 * so its placement is as true as a chunk's and its capacity is checked
 * first (ENOMEM, never an OOM kill later).  User data starts a page (or
 * `align`) after the region header.
 *
 * Counters (struct arena: large, large_mapped, large_user, large_allocs)
 * are relaxed atomics of the region's node.  No lock.
 *
 * No cache of freed large regions: a large block costs an mmap + mbind +
 * populate + munmap, which is what libnuma's numa_alloc_onnode costs too;
 * a bounded per-node cache would save that for repeated same-size
 * allocations, left for when a benchmark shows it matters.
 */
#include "arena.h"

#include <errno.h>

void *large_alloc(int node, size_t size, size_t align)
{
    int err;
    struct arena *a = arena_get(node, &err);
    if (!a) {
        errno = err;
        return NULL;
    }
    nslab_policy_t pol = {0};
    pol.mode = NSLAB_POLICY_BIND;
    pol.nodes = nslab_nodeset_of(node);
    struct nslab_region *r;
    int e = region_create(size, align, &pol, NULL, REGION_F_LARGE, &r);
    if (e) {
        errno = e;
        return NULL;
    }
    __atomic_fetch_add(&a->large, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_mapped, r->hdr.map_size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_user, r->size, __ATOMIC_RELAXED);
    __atomic_fetch_add(&a->large_allocs, 1, __ATOMIC_RELAXED);
    return region_data(r);
}

int large_resize(struct nslab_region *r, size_t size)
{
    size_t room = r->hdr.map_size - r->data_off;
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
    struct arena *a = arena_peek(r->hdr.node);
    size_t mapped = r->hdr.map_size, user = r->size;
    int e = region_destroy(r);
    if (e)
        return e;
    if (a) {
        __atomic_fetch_sub(&a->large, 1, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&a->large_mapped, mapped, __ATOMIC_RELAXED);
        __atomic_fetch_sub(&a->large_user, user, __ATOMIC_RELAXED);
    }
    return 0;
}
