/*
 * arena/alloc.c - allocation entry points of the arenas: numa_malloc_on,
 * numa_malloc_local, numa_calloc_on, numa_aligned_alloc_on,
 * nslab_realloc, and the slow path behind the inline fast path (arena.h).
 *
 * Slow path, in order:
 *   1. validate (size 0 -> EINVAL; node -> topology_check_node's errno);
 *      "local" resolves to the thread's node (arena_thread_node), and a
 *      local node the cpuset does not allow goes straight to fallback;
 *   2. sizes above SC_SMALL_MAX -> large.c (the inline path looks up
 *      every size up to SC_SMALL_MAX: sc_lookup_binoff);
 *   3. the thread's bin for (node, class); empty: refill from the node's
 *      arena (arena_take: remote stack, partial slabs, new slab, new chunk);
 *   4. the arena cannot grow (the region layer refused a chunk: ENOMEM):
 *      strict -> NULL/ENOMEM and a failure counted on the node; local ->
 *      the next node by distance (arena_fallback_order), counted as a
 *      fallback on the local node.
 * A thread without a cache (being created, exiting) takes single blocks
 * from the arena under the class lock.
 * No locks of its own; see arena.h for the arenas' lock order.
 */
#include "arena.h"

#include <errno.h>
#include <string.h>

/* One block of class cls on node, through the cache if the thread has one. */
static void *alloc_class_on(int node, unsigned cls, int *err)
{
    struct tcache *tc = tcache_get();
    if (ARENA_LIKELY(tc != NULL && node < tc->nr_nodes))
        return tcache_alloc_refill(tc, node, cls, err);
    struct arena *a = arena_get(node, err);
    if (!a)
        return NULL;
    void *head, *tail;
    if (!arena_take(a, cls, 1, &head, &tail, err))
        return NULL;
    pthread_mutex_lock(&a->cls[cls].lock);
    a->cls[cls].direct_allocs++;
    pthread_mutex_unlock(&a->cls[cls].lock);
    ((void **)head)[1] = NULL; /* no longer free (arena_free_key) */
    arena_asan_handed(head);
    arena_vg_handed(head);
    return head;
}

/* Resolve and validate the node.  Returns 0 with *node set, or an errno.
 * *fallback_only: local node not usable itself (not allowed, no memory). */
static int resolve_node(int *node, int local, int *fallback_only)
{
    const struct topology *t = topology_get();
    *fallback_only = 0;
    if (local) {
        int n = *node;
        if (n < 0) {
            n = arena_thread_node();
            if (n < 0)
                n = t->nr_nodes > 0 ? 0 : -1;
        }
        if (n < 0)
            return ENOMEM;
        *node = n;
        if (topology_check_node(t, n) != 0)
            *fallback_only = 1;
        return 0;
    }
    return topology_check_node_fresh(&t, *node);
}

/* Allocate class cls (0: large, `size` and `align`; zero: it must read as
 * zero; populate: a large block is populated) on node or, for local
 * requests, the nearest node that can hold it. */
static void *alloc_placed(int node, unsigned cls, size_t size, size_t align, int local,
                          int zero, int populate)
{
    int fallback_only, err = 0;
    if (arena_global_init() != 0) {
        errno = ENOMEM;
        return NULL;
    }
    int e = resolve_node(&node, local, &fallback_only);
    if (e) {
        errno = e;
        return NULL;
    }
    void *p = NULL;
    if (!fallback_only) {
        if (cls)
            p = alloc_class_on(node, cls, &err);
        else
            p = large_alloc(node, size, align, zero, populate);
        if (p)
            return p;
        if (!cls)
            err = errno;
        if (!local || (err != ENOMEM && err != EXDEV && err != ENODEV)) {
            arena_count_failure(node);
            errno = err;
            return NULL;
        }
    }
    /* local: nearest node with room */
    int order[NSLAB_MAX_NODES];
    int n = arena_fallback_order(node, order, NSLAB_MAX_NODES);
    for (int i = 0; i < n; i++) {
        if (cls)
            p = alloc_class_on(order[i], cls, &err);
        else
            p = large_alloc(order[i], size, align, zero, populate);
        if (p) {
            arena_count_fallback(node);
            return p;
        }
    }
    arena_count_failure(node);
    errno = ENOMEM;
    return NULL;
}

void *arena_alloc_slow(int node, size_t size, int local)
{
    arena_layout_check(arena_tls);
    if (node == NSLAB_NODE_LOCAL) {
        /* numa_malloc_on(LOCAL) or a miss of the local hit path: resolve
         * (and re-cache) the thread's node, then go on as for that node */
        node = arena_thread_node();
        local = 1;
    }
    if (ARENA_UNLIKELY(size == 0)) {
        errno = EINVAL;
        return NULL;
    }
    if (!local && node < 0) {
        errno = EINVAL;
        return NULL;
    }
    if (size > SC_SMALL_MAX)
        return alloc_placed(node, 0, size, 0, local, 0, arena_populate_large(1));
    /* A local miss for a new CPU resolved the node above: its bin may
     * hold a block. */
    unsigned cls = sc_of(size);
    struct tcache *tc = arena_tls;
    if (node >= 0 && node < tc->nr_nodes && tc != &tcache_empty) {
        void *b = arena_bin_pop((char *)tc, arena_node_off(node) + sc_binoff(cls));
        if (b)
            return b;
    }
    return alloc_placed(node, cls, size, 0, local, 0, 0);
}

ptrdiff_t arena_rseq_cpu_off;

/* The thread's node, cached with the local hit paths' invariant
 * (arena.h): the node is cached only when the cache covers it,
 * with its local table; cpu is written last, after a signal fence, so the
 * record is never half-written for the thread's own reads (compiler order;
 * no other thread reads it).  This does not make allocation
 * async-signal-safe: the bins and the slow paths' locks are not re-entrant
 * (numaslab.h, "Signals"). */
int arena_thread_node_miss(void)
{
#ifdef TOPO_HAVE_RSEQ
    if (ARENA_UNLIKELY(arena_rseq_cpu_off == 0))
        __atomic_store_n(&arena_rseq_cpu_off,
                         (ptrdiff_t)(__rseq_offset + offsetof(struct rseq, cpu_id)),
                         __ATOMIC_RELAXED);
#endif
    int cpu = arena_rseq_cpu();
    int node = arena_thread_node_uncached();
    struct tcache *tc = arena_tls;
    /* Cache only what stays true until the cpu_id changes.  Without rseq
     * the cpu_id field holds a constant failure value (< 0): the node (from
     * getcpu, through topology) is cached against it and forgotten on the
     * thread's next refill or flush, so it can lag a migration until
     * then. */
    if (tc != &tcache_empty && node >= 0 && arena_node_override == 0) {
        __atomic_store_n(&tc->cpu, TC_NO_CPU, __ATOMIC_RELAXED);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        size_t off = arena_node_off(node);
        if (off >= __atomic_load_n(&tc->node_bytes, __ATOMIC_RELAXED))
            return node; /* a node the cache does not cover: not cached */
        tc->local_node = node;
        tc->local_off = off;
        if (tc->tab_off != off)
            tcache_local_fill(tc, off);
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        __atomic_store_n(&tc->cpu, cpu, __ATOMIC_RELAXED);
        /* a layout sync may have poked the cache meanwhile (layout.c):
         * its TC_NO_CPU must win over our cpu */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (ARENA_UNLIKELY(__atomic_load_n(&tc->node_bytes, __ATOMIC_RELAXED) == 0))
            __atomic_store_n(&tc->cpu, TC_NO_CPU, __ATOMIC_RELAXED);
    }
    return node;
}

NSLAB_API void *numa_malloc_local(size_t size)
{
    return arena_alloc_local_inline(size);
}

NSLAB_API void *numa_malloc_on(int node, size_t size)
{
    /* NSLAB_NODE_LOCAL misses the inline path's bound: the slow path
     * resolves it */
    return arena_alloc_inline(node, size, 0);
}

NSLAB_API void *numa_calloc_on(int node, size_t n, size_t size)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    if (bytes <= SC_SMALL_MAX) {
        void *p = numa_malloc_on(node, bytes);
        if (p)
            memset(p, 0, bytes);
        return p;
    }
    if (node < 0 && node != NSLAB_NODE_LOCAL) {
        errno = EINVAL;
        return NULL;
    }
    /* large: a fresh mapping is zero already; a reused one is cleared */
    int local = node == NSLAB_NODE_LOCAL;
    return alloc_placed(local ? -1 : node, 0, bytes, 0, local, 1, arena_populate_large(1));
}

NSLAB_API void *numa_aligned_alloc_on(int node, size_t align, size_t size)
{
    if (align == 0 || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    if (align <= 16)
        return numa_malloc_on(node, size);
    if (size == 0 || (node < 0 && node != NSLAB_NODE_LOCAL)) {
        errno = EINVAL;
        return NULL;
    }
    if (arena_global_init() != 0) {
        errno = ENOMEM;
        return NULL;
    }
    int local = node == NSLAB_NODE_LOCAL;
    unsigned cls = sc_for_align(size, align);
    if (cls) {
        /* every block of cls is align-aligned: use the cache as usual */
        struct tcache *tc = arena_tls;
        arena_layout_check(tc);
        int n = local ? arena_thread_node() : node;
        if (n >= 0 && n < tc->nr_nodes && tc != &tcache_empty) {
            void *b = arena_bin_pop((char *)tc, arena_node_off(n) + sc_binoff(cls));
            if (b)
                return b;
        }
        return alloc_placed(local ? -1 : node, cls, size, align, local, 0, 0);
    }
    return alloc_placed(local ? -1 : node, 0, size, align, local, 0, arena_populate_large(1));
}

void *arena_alloc_large(int node, size_t size, size_t align, int zero, int populate)
{
    if (size == 0 || (node < 0 && node != NSLAB_NODE_LOCAL)) {
        errno = EINVAL;
        return NULL;
    }
    int local = node == NSLAB_NODE_LOCAL;
    return alloc_placed(local ? -1 : node, 0, size, align, local, zero, populate);
}

/* ---- realloc ------------------------------------------------------------ */

void *arena_realloc(void *ptr, size_t size, int populate)
{
    if (!ptr)
        return size > SC_SMALL_MAX ? arena_alloc_large(NSLAB_NODE_LOCAL, size, 0, 0, populate)
                                   : numa_malloc_local(size);
    struct seg_hdr *h = arena_seg_of(ptr);
    size_t old;
    int node;
    if (h && h->kind == SEG_CHUNK) {
        struct chunk *c = (struct chunk *)h;
        unsigned cls = c->cls[chunk_page(ptr)];
        if (!cls || arena_chunk_verdict(c, ptr) != ARENA_FREE_OK) {
            errno = EINVAL; /* not a block start, or a freed block */
            return NULL;
        }
        old = sc_size[cls];
        node = h->node;
        if (size == 0) {
            nslab_free(ptr);
            return NULL;
        }
        /* same class, or shrinking by less than half: keep the block */
        if (size <= old && (size > old / 2 || cls == 1))
            return ptr;
    } else if (h && h->kind == SEG_REGION) {
        struct nslab_region *r = (struct nslab_region *)h;
        if (!region_is_block(r) || ptr != region_data(r)) {
            errno = EINVAL;
            return NULL;
        }
        if (size == 0) {
            nslab_free(ptr);
            return NULL;
        }
        old = r->size;
        node = h->node;
        if ((r->flags & REGION_F_LARGE) && large_resize(r, size) == 0)
            return ptr; /* the mapping already holds it */
        if (r->flags & REGION_F_INTERLEAVED) {
            nslab_nodeset_t nodes = r->policy.nodes;
            void *q = numa_malloc_interleaved(size, &nodes);
            if (!q)
                return NULL;
            memcpy(q, ptr, old < size ? old : size);
            nslab_free(ptr);
            return q;
        }
    } else {
        errno = EINVAL;
        return NULL;
    }
    void *q = size > SC_SMALL_MAX ? arena_alloc_large(node, size, 0, 0, populate)
                                  : numa_malloc_on(node, size);
    if (!q)
        return NULL;
    memcpy(q, ptr, old < size ? old : size);
    nslab_free(ptr);
    return q;
}

NSLAB_API void *nslab_realloc(void *ptr, size_t size)
{
    return arena_realloc(ptr, size, arena_populate_large(1));
}
