/*
 * pool/poolset.c - a pool set: one pool per allowed node with memory, all
 * of one shape, served by the calling thread's node.
 *
 * route[n] is the pool a thread whose local node is n gets from: n's own
 * pool, or (a node outside the set) the nearest pool by distance.  Puts go
 * to the buffer's own pool whatever thread puts it (found from the pointer).
 *
 * A thread's node (pool_self.node) is refreshed only on slow paths: a cache
 * refill or flush.  So a worker that moves to another node keeps taking its
 * old node's cached buffers until its cache there runs dry; the refill
 * notices the move and serves it from the new node's pool (counted in that
 * pool's `migrations`), and the thread's cache in the old pool is flushed
 * back to the old pool's stack for the threads still there.
 *
 * Threads: the set is immutable after creation; all state that changes is
 * in its pools (pool.h) or the calling thread's pool_self.
 */
#include "pool.h"

#include <errno.h>
#include <string.h>

#include "region.h"
#include "topology.h"

struct nslab_poolset {
    uint32_t magic;
    int npools;
    size_t map_size;
    nslab_nodeset_t nodes;                 /* nodes with a pool */
    nslab_pool_t *pool[NSLAB_MAX_NODES];   /* a node's own pool, or NULL */
    nslab_pool_t *route[NSLAB_MAX_NODES];  /* the pool a thread on node n uses */
    struct nslab_poolset *tomb_next;       /* dead sets (pool_registry_lock) */
};

/* Destroyed sets stay mapped, as pool headers do (pool.c): magic 0, every
 * route to pool_dead, so a call on a dead handle fails with EINVAL instead
 * of reading unmapped memory.  A create reuses the oldest dead set once
 * more than POOL_TOMBS_KEEP wait. */
static struct nslab_poolset *set_tombs, **set_tombs_tail = &set_tombs;
static unsigned set_ntombs;

static void set_bury(nslab_poolset_t *s)
{
    s->magic = 0;
    s->npools = 0;
    memset(&s->nodes, 0, sizeof s->nodes);
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        s->pool[n] = NULL;
        s->route[n] = &pool_dead;
    }
    pool_registry_lock();
    s->tomb_next = NULL;
    *set_tombs_tail = s;
    set_tombs_tail = &s->tomb_next;
    set_ntombs++;
    pool_registry_unlock();
}

static nslab_poolset_t *set_unbury(void)
{
    nslab_poolset_t *s = NULL;
    pool_registry_lock();
    if (set_ntombs > POOL_TOMBS_KEEP) {
        s = set_tombs;
        set_tombs = s->tomb_next;
        if (!set_tombs)
            set_tombs_tail = &set_tombs;
        set_ntombs--;
    }
    pool_registry_unlock();
    return s;
}

static int fail_int(int e)
{
    errno = e;
    return -e;
}

static int set_check(const nslab_poolset_t *s)
{
    return s && s->magic == POOLSET_MAGIC ? 0 : EINVAL;
}

/* Destroy s's pools; with `check`, first refuse (EBUSY, nothing changed)
 * when any has buffers out. */
static int destroy_pools(nslab_poolset_t *s, int check)
{
    if (check) {
        for (int n = nslab_nodeset_next(&s->nodes, 0); n >= 0;
             n = nslab_nodeset_next(&s->nodes, n + 1)) {
            nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };
            if (nslab_pool_stats(s->pool[n], &st) == 0 && st.in_use)
                return EBUSY;
        }
    }
    for (int n = nslab_nodeset_next(&s->nodes, 0); n >= 0;
         n = nslab_nodeset_next(&s->nodes, n + 1)) {
        if (nslab_pool_destroy(s->pool[n]) != 0)
            return errno; /* used while being destroyed: the rest stay */
        s->pool[n] = NULL;
        nslab_nodeset_del(&s->nodes, n);
    }
    return 0;
}

NSLAB_API nslab_poolset_t *nslab_poolset_create(const nslab_pool_opts_t *opts)
{
    const struct topology *t = topology_get();
    nslab_poolset_t *s = NULL;
    size_t page = t->page_size ? t->page_size : 4096;
    size_t bytes = (sizeof(*s) + page - 1) & ~(page - 1);
    int e;

    if (!opts) {
        errno = EINVAL;
        return NULL;
    }
    if ((s = set_unbury()) != NULL) {
        memset(s, 0, sizeof *s);
    } else if ((e = region_meta_map(bytes, (void **)&s)) != 0) {
        errno = ENOMEM;
        return NULL;
    }
    s->map_size = bytes;
    for (int n = 0; n < t->nr_nodes; n++) {
        if (topology_check_node(t, n) != 0)
            continue;
        nslab_pool_t *p = nslab_pool_create(n, opts);
        if (!p) {
            e = errno;
            destroy_pools(s, 0);
            set_bury(s);
            errno = e;
            return NULL;
        }
        p->flags |= POOL_F_SET; /* not movable: routes assume its node */
        s->pool[n] = p;
        nslab_nodeset_add(&s->nodes, n);
        s->npools++;
    }
    if (s->npools == 0) {
        set_bury(s);
        errno = ENODEV;
        return NULL;
    }
    /* Route every node to its own pool or the nearest one. */
    for (int n = 0; n < t->nr_nodes; n++) {
        int m = topology_nearest_in(t, n, &s->nodes);
        s->route[n] = m >= 0 ? s->pool[m] : NULL;
    }
    s->magic = POOLSET_MAGIC;
    return s;
}

NSLAB_API int nslab_poolset_destroy(nslab_poolset_t *s)
{
    if (set_check(s))
        return fail_int(EINVAL);
    int e = destroy_pools(s, 1);
    if (e)
        return fail_int(e);
    set_bury(s);
    return 0;
}

/* The thread's node as the set sees it; counts a move seen since the last
 * set get and flushes the thread's cache in the pool it left. */
static __attribute__((noinline)) int set_switch(nslab_poolset_t *s)
{
    struct pool_thread *t = &pool_self;
    int node = t->node >= 0 ? t->node : pool_thread_refresh();
    if (t->set_node >= 0 && s->route[t->set_node] != s->route[node]) {
        __atomic_fetch_add(&s->route[node]->migrations, 1, __ATOMIC_RELAXED);
        pool_cache_drain(s->route[t->set_node], t->slot);
    }
    t->set_node = node;
    return node;
}

NSLAB_API void *nslab_poolset_get(nslab_poolset_t *s)
{
    if (__builtin_expect(!s, 0)) {
        errno = EINVAL;
        return NULL;
    }
    struct pool_thread *t = &pool_self;
    int node = t->node;
    if (__builtin_expect(node < 0 || node != t->set_node, 0))
        node = set_switch(s);
    struct nslab_pool *p = s->route[node];
    void *b = pool_cache_pop(p);
    if (__builtin_expect(b != NULL, 1))
        return b;
    /* A refill: the place a moved thread is noticed. */
    if (pool_thread_refresh() != node)
        p = s->route[set_switch(s)];
    return pool_get_inline(p);
}

NSLAB_API int nslab_poolset_put(nslab_poolset_t *s, void *buf)
{
    if (set_check(s))
        return fail_int(EINVAL);
    nslab_pool_t *p = nslab_pool_of(buf);
    if (!p || p->node < 0 || p->node >= NSLAB_MAX_NODES || s->pool[p->node] != p)
        return fail_int(EINVAL);
    return nslab_pool_put(p, buf);
}

NSLAB_API nslab_pool_t *nslab_poolset_local(nslab_poolset_t *s)
{
    if (set_check(s)) {
        errno = EINVAL;
        return NULL;
    }
    nslab_pool_t *p = s->route[pool_thread_refresh()];
    if (!p)
        errno = ENODEV;
    return p;
}

NSLAB_API nslab_pool_t *nslab_poolset_pool(nslab_poolset_t *s, int node)
{
    if (set_check(s) || node < 0 || node >= NSLAB_MAX_NODES) {
        errno = EINVAL;
        return NULL;
    }
    if (!s->pool[node]) {
        errno = ENODEV;
        return NULL;
    }
    return s->pool[node];
}

/* For worker.c: the pool a thread on `node` is served by, or NULL. */
nslab_pool_t *poolset_route(nslab_poolset_t *s, int node)
{
    if (set_check(s) || node < 0 || node >= topology_get()->nr_nodes)
        return NULL;
    return s->route[node];
}
