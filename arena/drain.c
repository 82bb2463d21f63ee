/*
 * arena/drain.c - draining a node (nslab_node_drain, nslab_node_undrain):
 * the library stops placing memory on it, moves what can move off it, and
 * lets its arena empty out.
 *
 * One mechanism, each layer doing its own part, called downwards only:
 *  1. topology: the node is marked drained and a snapshot saying so is
 *     published (topology_set_drained).  Every node check of the library
 *     (topology_check_node: ENODEV) and every table that picks a node
 *     (by_distance, the local node of each CPU, the usable set behind
 *     "all" and NULL node sets) come from the snapshot, so one publication
 *     covers numa_malloc_on, NSLAB_NODE_LOCAL, fallback, policies, pools,
 *     pool sets, claims and the process policy at once, and a reader sees
 *     the old snapshot or the new, never a mix.  The generation bump runs
 *     the arenas' layout sync (layout.c), which pokes every thread cache,
 *     so a thread's cached local node is looked up again.
 *  2. arena (here): the node's arena is marked drained under every class
 *     lock and its large_lock - arena_take refuses it (ENODEV) and the
 *     large cache keeps nothing, for a caller that passed its node check
 *     before step 1 - and every chunk of it is retired (chunk_retire, the
 *     mechanism of layout changes: no block handed out from it again,
 *     frees go straight to its slabs, unmapped when its last block comes
 *     back; empty ones and kept empty slabs go now); the node's cached
 *     large blocks are unmapped; every thread cache is poked, and the
 *     calling thread's flushed at once.
 *  3. region layer (region_drain): its registry of user regions and
 *     interleaved allocations is walked and each one moved, then the
 *     drain function each other kind registered (the pools') runs.
 *  4. what is left is counted for the report: the node's chunks still
 *     mapped, the live blocks in them, its live large blocks.
 *
 * Locks: drain_lock serialises drains and undrains (outermost: no other
 * lock of the library is held when it is taken).  Step 2 takes the
 * arena's class locks (ascending), chunk_lock and large_lock in arena.h's
 * order; step 3 the region registry's and the pools' locks, with no arena
 * lock held.
 */
#include "arena.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;

void arena_drain_fork_child(void)
{
    if (pthread_mutex_trylock(&drain_lock) == 0)
        pthread_mutex_unlock(&drain_lock);
    else
        pthread_mutex_init(&drain_lock, NULL);
}

static int fail(int e)
{
    errno = e;
    return -e;
}

static void lock_classes(struct arena *a)
{
    for (unsigned cls = 0; cls < SC_COUNT; cls++)
        pthread_mutex_lock(&a->cls[cls].lock);
}

static void unlock_classes(struct arena *a)
{
    for (unsigned cls = SC_COUNT; cls-- > 0;)
        pthread_mutex_unlock(&a->cls[cls].lock);
}

/* a->drained = on, under every class lock and large_lock (arena.h). */
static void mark_locked(struct arena *a, uint32_t on)
{
    pthread_mutex_lock(&a->large_lock);
    __atomic_store_n(&a->drained, on, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&a->large_lock);
}

/* Step 2: mark the arena and retire its chunks.  Returns the chunks
 * retired now. */
static uint64_t retire_all(struct arena *a)
{
    uint64_t n = 0;
    lock_classes(a);
    mark_locked(a, 1);
    pthread_mutex_lock(&a->chunk_lock);
    struct chunk *c = a->chunks;
    pthread_mutex_unlock(&a->chunk_lock);
    while (c) {
        /* read before a retire can unmap c; the links of existing chunks
         * do not change while every class lock is held (layout.c) */
        struct chunk *next = c->next;
        if (!__atomic_load_n(&c->retired, __ATOMIC_RELAXED)) {
            chunk_retire(a, c, a->node); /* its pages are on the node */
            n++;
        }
        c = next;
    }
    unlock_classes(a);
    large_cache_drop(a);
    return n;
}

/* Step 4: the node's chunks still mapped and the live blocks in them
 * (blocks out of their slabs: in use, or in caches not yet flushed). */
static void count_left(struct arena *a, nslab_drain_report_t *rep)
{
    uint64_t chunks = 0, blocks = 0, bytes = 0;
    lock_classes(a);
    pthread_mutex_lock(&a->chunk_lock);
    struct chunk *c = a->chunks;
    pthread_mutex_unlock(&a->chunk_lock);
    for (; c; c = c->next) {
        chunks++;
        for (unsigned i = 1; i < ARENA_PAGES; i++) {
            unsigned cls = c->cls[i];
            if (cls && c->head[i] == i && !(c->abandoned_pages >> i & 1)) {
                blocks += c->slabs[i].used;
                bytes += (uint64_t)c->slabs[i].used * sc_size[cls];
            }
        }
    }
    unlock_classes(a);
    rep->chunks_left = chunks;
    rep->blocks_left = blocks;
    rep->large_left = __atomic_load_n(&a->large, __ATOMIC_RELAXED);
    rep->bytes_left = bytes + __atomic_load_n(&a->large_user, __ATOMIC_RELAXED);
}

/* `to` resolved: the caller's set checked, or the nearest other node that
 * may take memory.  0 or an errno. */
static int resolve_to(const struct topology *t, int node, const nslab_nodeset_t *to,
                      nslab_nodeset_t *out)
{
    if (to) {
        if (nslab_nodeset_has(to, node))
            return EINVAL;
        *out = *to;
        return topology_check_nodes(t, to);
    }
    const int16_t *near = topology_by_distance(t, node);
    for (int i = 0; near && i < t->nr_memory_nodes; i++) {
        if (near[i] != node && topology_check_node(t, near[i]) == 0) {
            *out = nslab_nodeset_of(near[i]);
            return 0;
        }
    }
    return ENOSPC; /* the only node left: refused (numaslab.h) */
}

NSLAB_API int nslab_node_drain(int node, const nslab_nodeset_t *to, unsigned flags,
                               nslab_drain_report_t *out)
{
    if (arena_global_init() != 0)
        return fail(ENOMEM);
    const struct topology *t = topology_get();
    if (node < 0 || node >= t->nr_nodes || flags != 0 ||
        (out && (out->size < 2 * sizeof(uint32_t) || out->version != NSLAB_STATS_VERSION)))
        return fail(EINVAL);
    if (!t->node[node].online || !t->node[node].has_memory)
        return fail(ENODEV);
    nslab_drain_report_t rep;
    memset(&rep, 0, sizeof rep);
    rep.size = sizeof rep;
    rep.version = NSLAB_STATS_VERSION;
    rep.node = node;

    pthread_mutex_lock(&drain_lock);
    t = topology_get();
    int e = resolve_to(t, node, to, &rep.to);
    if (e == 0)
        e = topology_set_drained(node, 1);
    if (e) {
        pthread_mutex_unlock(&drain_lock);
        return fail(e);
    }
    arena_layout_refresh(); /* the sync of the new snapshot, here and now */

    int err = 0;
    struct arena *a = arena_get(node, &err);
    uint64_t before = 0;
    if (a) {
        pthread_mutex_lock(&a->chunk_lock);
        before = a->nchunks;
        pthread_mutex_unlock(&a->chunk_lock);
        rep.chunks_retired = retire_all(a);
        arena_caches_poke();
    }
    region_drain(node, &rep.to, &rep);
    struct tcache *tc = arena_tls;
    if (tc != &tcache_empty)
        tcache_resync(tc); /* the caller's blocks of the node go home now */
    if (a) {
        count_left(a, &rep);
        rep.chunks_unmapped = before > rep.chunks_left ? before - rep.chunks_left : 0;
    }
    pthread_mutex_unlock(&drain_lock);

    if (out) {
        uint32_t size = out->size;
        memcpy(out, &rep, size < sizeof rep ? size : sizeof rep);
        out->size = size;
    }
    if (rep.pages_left)
        return fail(EIO);
    uint64_t left = rep.blocks_left + rep.large_left;
    return left > INT_MAX ? INT_MAX : (int)left;
}

NSLAB_API int nslab_node_undrain(int node)
{
    if (arena_global_init() != 0)
        return fail(ENOMEM);
    const struct topology *t = topology_get();
    if (node < 0 || node >= t->nr_nodes)
        return fail(EINVAL);
    pthread_mutex_lock(&drain_lock);
    int e = 0;
    if (topology_get()->node[node].drained) {
        e = topology_set_drained(node, 0);
        struct arena *a = e ? NULL : arena_peek(node);
        if (a) {
            lock_classes(a);
            mark_locked(a, 0);
            unlock_classes(a);
        }
        if (!e)
            arena_layout_refresh(); /* caches look their local node up again */
    }
    pthread_mutex_unlock(&drain_lock);
    return e ? fail(e) : 0;
}
