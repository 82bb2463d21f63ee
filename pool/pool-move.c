/*
 * pool/pool-move.c - nslab_pool_move(): every segment of a pool, buffers in
 * use included, moved to another node (DESIGN promise 7), checked, and the
 * outcome reported as it is.
 *
 * Order, nothing changed until step 3:
 *   1. check the node as nslab_pool_create does; refuse a pool of a set
 *      (the set routes threads of node n to its pool of node n);
 *   2. capacity: reserve on the new node the pool's committed bytes (held
 *      while they migrate) plus what it keeps reserved for growth - ENOMEM
 *      here;
 *   3. pass 1: bind every segment to the new node without moving; if the
 *      kernel refuses one (the cpuset shrank since the snapshot), bind the
 *      ones already done back, give the reservation back, and fail with
 *      nothing changed;
 *   4. pass 2: bind and move each segment (region_segment_bind, strict):
 *      the kernel migrates its pages (EIO: some could not move); the metadata
 *      mapping (caches, stack) follows, best effort, as it was placed;
 *   5. the pool's node and its segments' header nodes become the new node
 *      (growth, statistics, nslab_pool_node, nslab_node_of see it); the
 *      committed bytes leave the new node's ledger (the pages are there and
 *      show in its free memory), the growth reservation leaves the old one;
 *   6. re-check every segment with region_scan: a page off the new node
 *      makes the result -EIO whatever the move said.
 *
 * Threads.  grow_lock is held throughout: growth (which maps on p->node)
 * and destroy wait, and the segment table is stable.  pool->lock is taken
 * only to publish the new node; gets and puts go on during the move - no
 * buffer address changes, and the kernel migrates a page under a
 * migration entry that an access waits on.  p->node and each segment's
 * hdr.node are written with relaxed atomic stores; lock-free readers (the
 * put fast path's remote-put count, nslab_pool_node, statistics,
 * nslab_node_of) read either the old node or the new.
 * Lock order: grow_lock -> pool->lock (pool.h).
 */
#include "pool.h"

#include <errno.h>
#include <string.h>

#include "region.h"
#include "topology.h"

static int fail(int e)
{
    errno = e;
    return -e;
}

static int seg_bind(struct pool_seg *s, int node, int move)
{
    return region_segment_bind(s, s->hdr.map_size, node, move);
}

/* Move every segment to `node` under grow_lock.  0, a positive errno with
 * nothing changed, or EIO (moved, some pages did not). */
static int move_locked(struct nslab_pool *p, int node)
{
    int old = p->node, e, eio = 0;
    uint32_t nsegs = p->nsegs; /* stable: changes only under grow_lock */
    size_t committed = p->committed, reserved = p->reserved;

    if (node != old && (e = capacity_reserve(node, committed + reserved)) != 0)
        return e;

    for (uint32_t i = 0; i < nsegs; i++) {
        if ((e = seg_bind(p->segs[i], node, 0)) != 0) {
            for (uint32_t j = 0; j < i; j++)
                (void)seg_bind(p->segs[j], old, 0); /* best effort */
            if (node != old)
                capacity_release(node, committed + reserved);
            return e;
        }
    }
    for (uint32_t i = 0; i < nsegs; i++)
        eio |= seg_bind(p->segs[i], node, 1) != 0;
    region_meta_prefer(p->meta, p->meta_size, node, 1);
    region_meta_prefer(p, topology_get()->page_size, node, 1);

    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->node, node, __ATOMIC_RELAXED);
    for (uint32_t i = 0; i < nsegs; i++)
        __atomic_store_n(&p->segs[i]->hdr.node, node, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->lock);
    if (node != old) {
        capacity_release(node, committed);
        capacity_release(old, reserved);
    }
    return eio ? EIO : 0;
}

/* Pages of p's segments off `node`; the histogram into *after (may be
 * NULL).  0 or region_scan's errno. */
static int check(struct nslab_pool *p, int node, nslab_placement_t *after, size_t *stray)
{
    nslab_nodeset_t one = nslab_nodeset_of(node);
    *stray = 0;
    if (after)
        memset(after, 0, sizeof(*after));
    for (uint32_t i = 0; i < p->nsegs; i++) {
        struct pool_seg *s = p->segs[i];
        int e = region_scan(s, s->hdr.map_size, &one, after, NULL, stray);
        if (e)
            return e;
    }
    return 0;
}

/* ---- after a layout change ------------------------------------------ */

/* The histogram pool_layout_check works in: 8 KiB, kept off the stack
 * and out of every thread's TLS; layout_lock (inside grow_lock) guards it. */
static nslab_placement_t layout_hist;
static pthread_mutex_t layout_lock = PTHREAD_MUTEX_INITIALIZER;

void pool_layout_check(struct nslab_pool *p)
{
    unsigned long g = __atomic_load_n(&topology_generation, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&p->topo_gen, __ATOMIC_RELAXED) == g)
        return;
    pthread_mutex_lock(&p->grow_lock);
    if (p->topo_gen != g) {
        size_t stray = 0;
        int old = p->node, most = -1;
        const struct topology *t = topology_get();
        pthread_mutex_lock(&layout_lock);
        int e = check(p, old, &layout_hist, &stray);
        for (int n = 0; !e && stray && n < t->nr_nodes && n < NSLAB_MAX_NODES; n++)
            if (layout_hist.on_node[n] &&
                (most < 0 || layout_hist.on_node[n] > layout_hist.on_node[most]))
                most = n;
        pthread_mutex_unlock(&layout_lock);
        if (!e && stray) {
            int target = old;
            if (topology_check_node(t, old) != 0)
                target = most; /* the node left: follow the pages */
            if (target >= 0 && topology_check_node(t, target) == 0 &&
                move_locked(p, target) != 0 && target != old) {
                /* not even the node its pages are on can take the
                 * reservation: say where the pages are all the same */
                __atomic_store_n(&p->node, target, __ATOMIC_RELAXED);
                for (uint32_t i = 0; i < p->nsegs; i++)
                    __atomic_store_n(&p->segs[i]->hdr.node, target, __ATOMIC_RELAXED);
            }
        }
        __atomic_store_n(&p->topo_gen, g, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&p->grow_lock);
}

void pool_layout_fork_child(void)
{
    if (pthread_mutex_trylock(&layout_lock) == 0)
        pthread_mutex_unlock(&layout_lock);
    else
        pthread_mutex_init(&layout_lock, NULL);
    pool_drain_fork_child();
}

/* ---- draining a node ------------------------------------------------ */

static pthread_mutex_t drain_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long drain_passes; /* drain_lock */

void pool_drain_lock(void)
{
    pthread_mutex_lock(&drain_lock);
}

void pool_drain_unlock(void)
{
    pthread_mutex_unlock(&drain_lock);
}

void pool_drain_fork_child(void)
{
    if (pthread_mutex_trylock(&drain_lock) == 0)
        pthread_mutex_unlock(&drain_lock);
    else
        pthread_mutex_init(&drain_lock, NULL);
}

/* Pages of p's segments on `node`. */
static size_t pages_on(const struct nslab_pool *p, int node)
{
    size_t n = 0;
    for (uint32_t i = 0; i < p->nsegs; i++)
        n += region_pages_on(p->segs[i], p->segs[i]->hdr.map_size, node);
    return n;
}

void pool_drain(int node, const nslab_nodeset_t *to, int target, nslab_drain_report_t *rep)
{
    (void)to; /* a pool lives on one node: the target */
    pthread_mutex_lock(&drain_lock);
    unsigned long pass = ++drain_passes;
    struct nslab_pool *p;
    /* One pool at a time, found under registry_lock (grow_lock comes
     * first in the lock order); destroy waits on drain_lock meanwhile. */
    while ((p = pool_registry_next_on(node, pass)) != NULL) {
        pthread_mutex_lock(&p->grow_lock);
        size_t before = pages_on(p, node);
        int e = move_locked(p, target); /* a pool set's pool too */
        if (e == EIO)
            e = 0; /* the census below says what stayed */
        size_t after = pages_on(p, node);
        pthread_mutex_unlock(&p->grow_lock);
        region_drain_account(rep, before, after, e, NULL, p);
    }
    pthread_mutex_unlock(&drain_lock);
}

int pool_seg_node(struct seg_hdr *h)
{
    struct pool_seg *s = (struct pool_seg *)h;
    pool_layout_check(s->pool);
    return __atomic_load_n(&h->node, __ATOMIC_RELAXED);
}

NSLAB_API int nslab_pool_move(nslab_pool_t *p, int node, nslab_placement_t *after)
{
    const struct topology *t = topology_get();
    int e;

    if (pool_check(p) || (p->flags & POOL_F_SET))
        return fail(EINVAL);
    if (node == NSLAB_NODE_LOCAL) {
        node = topology_local_node();
        if (node < 0)
            return fail(ENODEV);
    }
    if ((e = topology_check_node(t, node)) != 0)
        return fail(e);

    pthread_mutex_lock(&p->grow_lock);
    int moved = move_locked(p, node);
    if (moved != 0 && moved != EIO) {
        pthread_mutex_unlock(&p->grow_lock);
        return fail(moved);
    }
    size_t stray = 0;
    e = check(p, node, after, &stray);
    pthread_mutex_unlock(&p->grow_lock);
    if (e)
        return fail(e);
    return moved || stray ? fail(EIO) : 0;
}
