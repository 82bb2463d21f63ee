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
 *   another kind: the free function its owner registered (segment.h,
 *               seg_set_free: the pool layer, for its buffers), so the
 *               arena calls no layer beside it by name;
 *   no segment, or a kind without one: -EINVAL, nothing touched.
 * Bad pointers are refused, nothing touched (arena_chunk_verdict): a
 * pointer inside a chunk that is not a block start (the middle of a block,
 * a header or free page) by the block-start test of the page's entry
 * (arena.h, struct chunk_pg), and a block that is free already by the free
 * key in its second word (arena_free_key).  Not detected: a double free of
 * a block that was handed out again in between (it is a live block then),
 * and a double free after a use-after-free write overwrote the key.
 */
#include "arena.h"
#include "os.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/random.h>


/* The node the page holding p is on now, or `label` if the kernel does not
 * say (not present, an error). */
static int page_node(const void *p, int label)
{
    size_t page = topology_get()->page_size;
    void *pg = (void *)((uintptr_t)p & ~(uintptr_t)(page - 1));
    int status = -1;
    if (os_page_nodes(1, &pg, &status) == 0 && status >= 0)
        return status;
    return label;
}

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
    arena_link_set(p, NULL); /* slab_put_locked stores the free key */
    arena_vg_freed(p);
    arena_put_list(c->arena, cls, p, 1, here != node);
    if (here != node && here >= 0 && here < topology_get()->nr_nodes) {
        int e;
        struct arena *a = arena_get(here, &e);
        if (a)
            __atomic_fetch_add(&a->direct_remote_out, 1, __ATOMIC_RELAXED);
    }
    return 0;
}

uintptr_t arena_free_key = (uintptr_t)0x6e736c6162ee5a5bULL; /* reset at init */

/* A random key (odd: never a block address, never 0), before any block
 * exists.  getrandom without blocking; early in boot, when the pool is not
 * ready yet, the kernel's AT_RANDOM bytes mixed with an address. */
uintptr_t arena_link_secret;

void arena_corrupt(const char *what, const void *p)
{
    char line[128];
    size_t n = 0;
    const char *pre = "numaslab: ";
    while (*pre && n < 40)
        line[n++] = *pre++;
    while (*what && n < 100)
        line[n++] = *what++;
    line[n++] = ':';
    line[n++] = ' ';
    line[n++] = '0';
    line[n++] = 'x';
    for (int i = 0; i < 16; i++)
        line[n++] = "0123456789abcdef"[((uintptr_t)p >> (60 - 4 * i)) & 15];
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
    abort();
}

void arena_free_key_init(void)
{
    uint64_t k = 0;
    if (getrandom(&k, sizeof k, GRND_NONBLOCK) != (ssize_t)sizeof k) {
        const void *r = (const void *)getauxval(AT_RANDOM);
        if (r)
            memcpy(&k, r, sizeof k);
        k ^= ((uint64_t)(uintptr_t)&k * 0x9e3779b97f4a7c15ULL) >> 7;
    }
    arena_free_key = (uintptr_t)(k | 1);
#ifdef NSLAB_HARDENED
    uint64_t s = k * 0x9e3779b97f4a7c15ULL;
    s ^= s >> 29;
    arena_link_secret = (uintptr_t)s;
#endif
}

enum arena_free_verdict arena_chunk_verdict(const struct chunk *c, const void *p)
{
    if (!c->cls[chunk_page(p)] || !chunk_block_start(c, p))
        return ARENA_FREE_INVALID;
    if ((uintptr_t)((void *const *)p)[1] == arena_key_of(p))
        return ARENA_FREE_DOUBLE;
    return ARENA_FREE_OK;
}

enum arena_free_verdict arena_free_verdict(const void *p)
{
    struct seg_hdr *h = arena_seg_of(p);
    if (!h)
        return ARENA_FREE_FOREIGN;
    if (h->kind == SEG_CHUNK)
        return arena_chunk_verdict((const struct chunk *)h, p);
    if (h->kind == SEG_REGION) {
        const struct nslab_region *r = (const struct nslab_region *)h;
        if (p != region_data(r))
            return ARENA_FREE_INVALID;
        if (r->flags & LARGE_F_CACHED)
            return ARENA_FREE_DOUBLE; /* freed, kept in its node's cache */
        return region_is_block(r) ? ARENA_FREE_OK : ARENA_FREE_INVALID;
    }
    /* another kind: its owner's free function judges it */
    return seg_free_of(h->kind) ? ARENA_FREE_OK : ARENA_FREE_INVALID;
}

int arena_free_slow(void *p)
{
    if (!p)
        return 0;
    arena_layout_check(arena_tls);
    struct seg_hdr *h = arena_seg_of(p);
    if (!h)
        return einval();
    switch (h->kind) {
    case SEG_CHUNK: {
        struct chunk *c = (struct chunk *)h;
        if (arena_chunk_verdict(c, p) != ARENA_FREE_OK)
            return einval();
        struct tcache *tc = tcache_get();
        size_t off = __atomic_load_n(&c->pg[chunk_page(p)].bin_off, __ATOMIC_RELAXED);
        if (tc && off < __atomic_load_n(&tc->node_bytes, __ATOMIC_RELAXED)) {
            arena_free_push(tc, off, p); /* now with a cache */
            return 0;
        }
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
    default: {
        seg_free_fn f = seg_free_of(h->kind);
        return f ? f(p) : einval();
    }
    }
}

NSLAB_API int nslab_free(void *ptr)
{
    return arena_free_inline(ptr);
}

NSLAB_API size_t nslab_usable_size(const void *ptr)
{
    struct seg_hdr *h = arena_seg_of(ptr);
    if (h && h->kind == SEG_CHUNK) {
        struct chunk *c = (struct chunk *)h;
        unsigned cls = c->cls[chunk_page(ptr)];
        if (arena_chunk_verdict(c, ptr) == ARENA_FREE_OK)
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
    struct seg_hdr *h = arena_seg_of(ptr);
    if (h && h->kind == SEG_CHUNK) {
        struct chunk *c = (struct chunk *)h;
        if (c->cls[chunk_page(ptr)]) {
            /* a retired chunk's pages left its node (layout.c): ask */
            uint32_t r = __atomic_load_n(&c->retired, __ATOMIC_RELAXED);
            return r ? page_node(ptr, (int)r - 1) : h->node;
        }
    } else if (h && h->kind == SEG_REGION) {
        const struct nslab_region *r = (const struct nslab_region *)h;
        const char *d = region_data(r);
        if (!(r->flags & LARGE_F_CACHED) && (const char *)ptr >= d && (const char *)ptr < d + r->size) {
            /* made before the last layout change: the kernel may have
             * moved its pages (a cpuset change rebinds and migrates) */
            if (r->topo_gen != __atomic_load_n(&topology_generation, __ATOMIC_ACQUIRE))
                return page_node(ptr, h->node);
            return h->node;
        }
    } else if (h && seg_free_of(h->kind)) {
        /* a registered kind (pool buffers): its segment's node, as its
         * owner re-checks it after a layout change */
        seg_node_fn node_of = seg_node_of(h->kind);
        return node_of ? node_of(h) : h->node;
    }
    errno = EINVAL;
    return -EINVAL;
}
