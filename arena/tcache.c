/*
 * arena/tcache.c - thread caches: per thread, per node, per size class bins
 * of blocks; refill from and flush to the node arenas in batches.
 *
 * A thread's struct tcache comes from os_map (never malloc), sized for the
 * snapshot's node count, and is found through one initial-exec TLS
 * pointer (arena_tls), which starts out pointing at the static empty cache
 * (node_bytes 0) so the fast paths need no NULL test.
 *
 * Threads are cheap: when a thread exits, its cache is flushed (its blocks
 * go home) and its counters retired, then the cache itself is kept on a
 * list of dead threads' caches (up to TCACHE_KEEP_DEAD) and handed to the
 * next new thread, so a program that starts a thread per task maps a cache
 * only for as many threads as ever ran at once, not per thread
 * (tcache_maps counts the mappings).
 *
 * Flush (a bin passed its limit): the bin goes back to limit / 2 blocks.
 *  - The thread runs on the bins' node: the COLD half (the list's tail:
 *    the least recently freed blocks) goes back to the slabs under the
 *    class lock; the hot half stays.
 *  - Another node (a remote free): the head half is already a linked
 *    batch whose tail we reach while walking it; it is pushed onto the
 *    arena's remote stack with one CAS (remote.c), and counted as
 *    remote_out of the node the thread runs on.
 * Thread exit (pthread key destructor) and nslab_thread_flush() return
 * every bin directly under the class locks, counting remote frees in and
 * out where the thread runs on another node than the blocks;
 * nslab_thread_flush() then also gives the arenas' kept empty slabs back to
 * their chunks and decommits every free chunk page (arena_trim_slabs).
 *
 * glibc's pthread_key_create and pthread_setspecific do not call malloc for
 * the first 32 keys (PTHREAD_KEY_2NDLEVEL_SIZE); beyond that setspecific
 * may calloc a second-level block.  If that calloc is the malloc
 * replacement, it re-enters here while tc_state == TC_CREATING and is
 * served by the arenas directly (no cache), so it cannot recurse.
 *
 * Threads and locks: a thread's bins are touched only by that thread,
 * except that stats read counters racily and the audit (quiescent threads
 * only) walks lists; the fork child flushes the caches of threads that do
 * not exist in it (tcache_fork_child).  registry_lock protects the registry links and the
 * dead list (dead, ndead: ndead is also peeked racily); it comes before
 * any arena lock (arena.h).
 */
#include "arena.h"
#include "os.h"
#include "process.h"
#include "dlist.h"

#include <errno.h>
#include <string.h>

/* node_bytes 0 and no cached cpu: every fast path misses */
struct tcache tcache_empty = { .cpu = TC_NO_CPU, .local_node = -1 };

__thread struct tcache *arena_tls ARENA_TLS = &tcache_empty;
__thread int arena_node_override ARENA_TLS;

enum { TC_NONE = 0, TC_CREATING, TC_LIVE, TC_DEAD };
static __thread int tc_state ARENA_TLS;

static pthread_key_t tc_key;
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tcache *registry;
/* Caches of exited threads kept for the next threads (registry_lock):
 * linked through reg_next, at most TCACHE_KEEP_DEAD of them. */
static struct tcache *dead;
static unsigned ndead;
uint64_t tcache_maps; /* caches mapped, ever (relaxed atomics) */

/* The first refill of a bin takes this many blocks (slow start). */
#define TCACHE_FIRST_BATCH 4u

static void tcache_destroy(void *arg);

int tcache_global_init(void)
{
    int e = pthread_key_create(&tc_key, tcache_destroy);
    return e;
}

void tcache_registry_lock(void)
{
    pthread_mutex_lock(&registry_lock);
}
void tcache_registry_unlock(void)
{
    pthread_mutex_unlock(&registry_lock);
}
struct tcache *tcache_registry_first(void)
{
    return registry;
}

size_t tcache_node_bytes(void)
{
    size_t b = 0;
    for (unsigned c = 1; c < SC_COUNT; c++)
        b += (size_t)sc_limit[c] * sc_size[c];
    return b;
}

static void registry_add(struct tcache *tc)
{
    pthread_mutex_lock(&registry_lock);
    NSLAB_DLIST_PUSH(registry, tc, reg_prev, reg_next);
    pthread_mutex_unlock(&registry_lock);
}

static void registry_del_locked(struct tcache *tc)
{
    NSLAB_DLIST_UNLINK(registry, tc, reg_prev, reg_next);
}

/* Unmap a cache (its local table in front of it included). */
static void tcache_unmap(struct tcache *tc)
{
    os_unmap(tcache_local_tab(tc), tc->map_bytes);
}

void tcache_local_fill(struct tcache *tc, size_t local_off)
{
    uint32_t *tab = tcache_local_tab(tc);
    for (size_t s = 0; s < TC_LOCAL_SIZES; s++)
        tab[s] = (uint32_t)(local_off + sc_table[s]);
    tc->tab_off = (uint32_t)local_off;
}

/* The node count a new cache covers. */
static int tcache_nr_nodes(void)
{
    const struct topology *t = topology_get();
    return t->nr_nodes > 0 ? t->nr_nodes : 1;
}

/* A dead thread's cache for nr nodes, ready for a new thread, or NULL.
 * Its bins are empty (flushed when its thread exited) and its counters
 * were retired into the arenas: only they, and the cached node, need
 * resetting. */
static struct tcache *tcache_reuse(int nr)
{
    if (!__atomic_load_n(&ndead, __ATOMIC_RELAXED))
        return NULL; /* racy peek: a miss maps a new cache */
    pthread_mutex_lock(&registry_lock);
    struct tcache *tc = dead;
    if (tc) {
        dead = tc->reg_next;
        __atomic_store_n(&ndead, ndead - 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&registry_lock);
    if (!tc)
        return NULL;
    if (tc->nr_nodes != nr) { /* the topology changed: not this one */
        tcache_unmap(tc);
        return NULL;
    }
    for (int n = 0; n < nr; n++) {
        for (unsigned c = 1; c < SC_COUNT; c++)
            tc->nodes[n].bins[c].allocs = 0;
        tc->nodes[n].remote_out = 0;
    }
    tc->cpu = TC_NO_CPU;
    tc->local_node = -1;
    tc->local_off = 0; /* tab_off stays: the table still holds it */
    tc->policy_xor = __atomic_load_n(&process_cpu_xor, __ATOMIC_RELAXED);
    tc->reg_next = tc->reg_prev = NULL;
    return tc;
}

static struct tcache *tcache_create(void)
{
    const struct topology *t = topology_get();
    int nr = tcache_nr_nodes();
    struct tcache *tc = tcache_reuse(nr);
    if (tc)
        return tc;
    size_t page = t->page_size;
    size_t bytes = TC_TAB_BYTES + sizeof(struct tcache) + (size_t)nr * sizeof(struct tc_node);
    bytes = (bytes + page - 1) & ~(page - 1);
    void *mem;
    if (os_map(bytes, page, 0, -1, &mem) != 0)
        return NULL;
    __atomic_fetch_add(&tcache_maps, 1, __ATOMIC_RELAXED);
    tc = (struct tcache *)((char *)mem + TC_TAB_BYTES);
    tc->tab_off = TC_NO_TAB;
    tc->policy_xor = __atomic_load_n(&process_cpu_xor, __ATOMIC_RELAXED);
    tc->nr_nodes = nr;
    tc->cpu = TC_NO_CPU;
    tc->local_node = -1;
    tc->map_bytes = bytes;
    for (int n = 0; n < nr; n++)
        for (unsigned c = 1; c < SC_COUNT; c++)
            tc->nodes[n].bins[c].room = sc_limit[c];
    tc->node_bytes = (size_t)nr * sizeof(struct tc_node);
    return tc;
}

struct tcache *tcache_get(void)
{
    struct tcache *tc = arena_tls;
    if (ARENA_LIKELY(tc != &tcache_empty))
        return tc;
    if (tc_state != TC_NONE)
        return NULL; /* being created (re-entered) or the thread is exiting */
    if (arena_global_init() != 0)
        return NULL;
    tc_state = TC_CREATING;
    tc = tcache_create();
    if (!tc) {
        tc_state = TC_NONE;
        return NULL;
    }
    registry_add(tc);
    if (pthread_setspecific(tc_key, tc) != 0) {
        /* no destructor: never cache, or the blocks would leak at exit */
        pthread_mutex_lock(&registry_lock);
        registry_del_locked(tc);
        pthread_mutex_unlock(&registry_lock);
        tcache_unmap(tc);
        tc_state = TC_DEAD;
        return NULL;
    }
    arena_tls = tc;
    tc_state = TC_LIVE;
    return tc;
}

/* Without rseq, the cached local node lives until the next slow path. */
static inline void tcache_forget_node(struct tcache *tc)
{
    if (__atomic_load_n(&tc->cpu, __ATOMIC_RELAXED) < 0)
        __atomic_store_n(&tc->cpu, TC_NO_CPU, __ATOMIC_RELAXED);
}

void *tcache_alloc_refill(struct tcache *tc, int node, unsigned cls, int *err)
{
    tcache_forget_node(tc);
    /* a real refill: now and then, has the cpuset changed? (layout.c) */
    if (ARENA_UNLIKELY(++tc->layout_tick >= ARENA_LAYOUT_POLL)) {
        tc->layout_tick = 0;
        (void)topology_check_mems();
        arena_layout_check(tc);
        /* the node may have left the cpuset: the caller's check was
         * against the old snapshot */
        int e = topology_check_node(topology_get(), node);
        if (e) {
            *err = e;
            return NULL;
        }
    }
    struct tc_bin *bin = &tc->nodes[node].bins[cls];
    if (bin->head) {
        void *b = bin->head;
        bin->head = arena_link_get(b);
        ((void **)b)[1] = NULL; /* no longer free (arena_free_key) */
        bin->room++;
        bin->allocs++;
        arena_asan_handed(b);
        arena_vg_handed(b);
        return b;
    }
    struct arena *a = arena_get(node, err);
    if (!a)
        return NULL;
    /* Slow start: a bin's first refills take as many blocks as it has
     * served so far (at least TCACHE_FIRST_BATCH), doubling up to the
     * class's batch, so a short-lived thread (a thread per task) does not
     * carve and flush back a full batch of every class it touches once. */
    unsigned want = sc_batch[cls];
    if (bin->allocs < want)
        want = bin->allocs > TCACHE_FIRST_BATCH ? (unsigned)bin->allocs : TCACHE_FIRST_BATCH;
    if ((int32_t)want > bin->room)
        want = bin->room > 0 ? (unsigned)bin->room : 1;
    void *head, *tail;
    unsigned got = arena_take(a, cls, want, &head, &tail, err);
    if (!got)
        return NULL;
    bin->head = arena_link_get(head); /* the rest of the batch (NULL-terminated) */
    ((void **)head)[1] = NULL;  /* no longer free (arena_free_key) */
    bin->room -= (int32_t)(got - 1);
    bin->allocs++;
    arena_asan_handed(head);
    arena_vg_handed(head);
    return head;
}

/* Node and class of a bin from its address. */
static void bin_where(struct tcache *tc, struct tc_bin *bin, int *node, unsigned *cls)
{
    size_t off = (size_t)((char *)bin - (char *)tc->nodes); /* < node_bytes */
    *node = (int)(off / sizeof(struct tc_node));
    *cls = (unsigned)((off % sizeof(struct tc_node)) / sizeof(struct tc_bin));
}

/* Count a remote free of n blocks by the calling thread (running on
 * `here`, possibly out of range for this cache). */
static void count_remote_out(struct tcache *tc, int here, unsigned n)
{
    /* a node out of the cache's range (a test's made-up node) is dropped */
    if (here >= 0 && here < tc->nr_nodes)
        tc->nodes[here].remote_out += n;
}

void tcache_overflow(struct tcache *tc, size_t off)
{
    struct tc_bin *bin = (struct tc_bin *)((char *)tc + off);
    int node, err;
    unsigned cls;
    bin_where(tc, bin, &node, &cls);
    tcache_forget_node(tc);
    int32_t count = sc_limit[cls] - bin->room;
    int32_t keep = sc_limit[cls] / 2;
    if (count <= keep)
        return;
    /* now and then, has the cpuset changed?  (the sync itself waits for
     * the thread's next allocation slow path: the flush below must finish
     * with the bin as it is) */
    if (ARENA_UNLIKELY(++tc->layout_tick >= ARENA_LAYOUT_POLL)) {
        tc->layout_tick = 0;
        (void)topology_check_mems();
    }
    unsigned nout = (unsigned)(count - keep);
    struct arena *a = arena_get(node, &err);
    if (!a)
        return; /* cannot happen: a block of the node exists, so its arena */
    int here = arena_thread_node();
    if (here == node) {
        /* keep the hot head, return the cold tail */
        void *last = bin->head;
        for (int32_t i = 1; i < keep; i++)
            last = arena_link_get(last);
        void *cold = keep > 0 ? arena_link_get(last) : bin->head;
        if (keep > 0)
            arena_link_set(last, NULL);
        else
            bin->head = NULL;
        bin->room += (int32_t)nout;
        arena_put_list(a, cls, cold, nout, 0);
    } else {
        /* hand the head part over as one batch */
        void *head = bin->head, *tail = head;
        for (unsigned i = 1; i < nout; i++)
            tail = arena_link_get(tail);
        bin->head = arena_link_get(tail);
        bin->room += (int32_t)nout;
        remote_push(a, cls, head, tail);
        count_remote_out(tc, here, nout);
    }
}

void tcache_flush_all(struct tcache *tc)
{
    int here = arena_thread_node();
    for (int n = 0; n < tc->nr_nodes; n++) {
        struct tc_node *tn = &tc->nodes[n];
        for (unsigned c = 1; c < SC_COUNT; c++) {
            struct tc_bin *bin = &tn->bins[c];
            if (!bin->head)
                continue;
            unsigned cnt = (unsigned)(sc_limit[c] - bin->room);
            int err;
            struct arena *a = arena_get(n, &err);
            if (!a)
                continue;
            void *head = bin->head;
            bin->head = NULL;
            bin->room = sc_limit[c];
            arena_put_list(a, c, head, cnt, here != n);
            if (here != n)
                count_remote_out(tc, here, cnt);
        }
    }
}

/* Move a cache's counters into its arenas' retired counters. */
static void tcache_retire_counters(struct tcache *tc)
{
    for (int n = 0; n < tc->nr_nodes; n++) {
        struct tc_node *tn = &tc->nodes[n];
        uint64_t allocs = 0;
        for (unsigned c = 1; c < SC_COUNT; c++)
            allocs += tn->bins[c].allocs;
        if (!allocs && !tn->remote_out)
            continue;
        int err;
        struct arena *a = arena_get(n, &err);
        if (!a)
            continue;
        __atomic_fetch_add(&a->retired_allocs, allocs, __ATOMIC_RELAXED);
        __atomic_fetch_add(&a->retired_remote_out, tn->remote_out, __ATOMIC_RELAXED);
    }
}

/* Flush and retire a cache that is no longer any thread's, and keep it
 * for the next thread (or unmap it when TCACHE_KEEP_DEAD are kept). */
static void tcache_release(struct tcache *tc)
{
    tcache_flush_all(tc);
    int keep = 0;
    pthread_mutex_lock(&registry_lock);
    registry_del_locked(tc);
    tcache_retire_counters(tc); /* under the lock: stats never count twice */
    if (ndead < TCACHE_KEEP_DEAD) {
        tc->reg_next = dead;
        dead = tc;
        __atomic_store_n(&ndead, ndead + 1, __ATOMIC_RELAXED);
        keep = 1;
    }
    pthread_mutex_unlock(&registry_lock);
    if (!keep)
        tcache_unmap(tc);
}

static void tcache_destroy(void *arg)
{
    struct tcache *tc = arg;
    if (!tc || tc == &tcache_empty)
        return;
    /* From here on this thread allocates and frees without a cache. */
    arena_tls = &tcache_empty;
    tc_state = TC_DEAD;
    tcache_release(tc);
}

/* In the child of a multi-threaded fork (arena.c, after the arenas'
 * repair).  The registry and the dead list may have been caught half-way
 * through an insert or an unlink: only their forward links are trusted
 * (each store of registry_add, registry_del_locked and the dead list's push
 * and pop keeps them lists), and ndead is counted again.  Every registered
 * cache but the calling thread's belongs to a thread that does not exist
 * here: its blocks go back to the arenas, its counters retire, and it is
 * kept for reuse (or unmapped) as at a thread's exit. */
void tcache_fork_child(void)
{
    pthread_mutex_init(&registry_lock, NULL);
    struct tcache *mine = arena_tls == &tcache_empty ? NULL : arena_tls;
    unsigned nd = 0;
    for (struct tcache *d = dead; d; d = d->reg_next)
        nd++;
    ndead = nd;
    struct tcache *tc = registry;
    registry = NULL;
    while (tc) {
        struct tcache *next = tc->reg_next;
        if (tc != mine) {
            tcache_flush_all(tc);
            tcache_retire_counters(tc);
            if (ndead < TCACHE_KEEP_DEAD) {
                tc->reg_next = dead;
                dead = tc;
                ndead++;
            } else {
                tcache_unmap(tc);
            }
        }
        tc = next;
    }
    if (mine) {
        mine->reg_next = mine->reg_prev = NULL;
        registry = mine;
    }
}

NSLAB_API void nslab_thread_flush(void)
{
    struct tcache *tc = arena_tls;
    arena_layout_check(tc);
    if (tc != &tcache_empty)
        tcache_flush_all(tc);
    /* and the slabs the arenas kept empty (slab.c), and every free chunk
     * page back to the kernel (chunk.c): after freeing everything, a flush
     * leaves only the chunks' header pages resident.  Not at thread exit:
     * a program that starts a thread per task would decommit and recommit
     * each time. */
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        struct arena *a = arena_peek(n);
        if (a)
            arena_trim_slabs(a);
    }
}
