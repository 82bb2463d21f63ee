/*
 * arena/layout.c - keeping the arenas truthful when the memory layout
 * changes under the process: the cpuset's mems rewritten (the kernel then
 * migrates every page of the process to the new nodes), pages moved by
 * other hands (migratepages, tiering), nodes that come and go.
 *
 * Notice.  The topology layer publishes a new snapshot when it sees a
 * change (topology_check_mems: the kernel's allowed nodes compared on slow
 * paths - every ARENA_LAYOUT_POLL cache refills of a thread and every
 * mapping the region layer makes - and the nodes online / with memory every
 * TOPO_LAYOUT_EVERY-th check; or nslab_topology_refresh()).  The arenas
 * compare topology_generation with the generation they last synchronised
 * with on their own slow paths (arena_layout_check: two loads), never on
 * the fast paths, and then run arena_layout_sync().
 *
 * The mechanism (promise 1 after a change).  A block's node is part of its
 * identity (frees go home by it), so a chunk whose pages are not on its
 * node is either put back or taken out of service:
 *  - every chunk of every arena is checked (os_page_nodes: where each page is);
 *  - pages off the chunk's node are migrated back (os_page_move) when the
 *    node is still allowed: chunks are bound with static nodes
 *    (NSLAB_POLICY_STATIC_NODES, chunk.c), so the kernel did not rebind their
 *    policy to the new nodes and later faults land on the node again;
 *  - a chunk whose pages cannot be put back (its node left the cpuset, or
 *    the node is full) is RETIRED: no block is handed out from it again,
 *    frees of its blocks go straight back to its slabs (page_off
 *    CHUNK_NO_BIN), nslab_node_of of its blocks asks the kernel where the
 *    block's page is, and it is unmapped when its last block is freed;
 *  - every thread cache is flushed before its thread allocates again, so a
 *    cached block of a retired chunk is never handed out: the sync sets
 *    each registered cache's node_bytes to 0 (every fast path then misses)
 *    and its cached cpu to TC_NO_CPU; the owner, on its slow path, returns
 *    its bins to the arenas and restores node_bytes (tcache_resync);
 *  - the large-block caches are dropped (their pages may be elsewhere);
 *    live large and interleaved blocks and user regions answer
 *    nslab_node_of from their pages once the generation they were made in
 *    is past (free.c); pools re-check themselves (pool/pool-move.c).
 * A request for a node the cpuset no longer allows fails with EXDEV (the
 * topology check of every slow path); thread caches cannot serve it, being
 * flushed.  Between the kernel's change and the library's notice the
 * kernel may already have moved memory the library hands out: the notice
 * is at the latest the next check of a slow path of any thread, or the
 * caller's nslab_topology_refresh().
 *
 * Locks: sync_lock serialises syncs (outermost: taken with no arena lock
 * held).  A chunk check takes every class lock of the arena (ascending)
 * for the pass: no slab is carved or released meanwhile, so no chunk of the
 * arena is unlinked or unmapped under it; new chunks are only prepended.
 * Then chunk_lock inside, as arena.h orders.  The poke takes the registry
 * lock.
 */
#include "arena.h"
#include "os.h"

#include <errno.h>
#include <string.h>

#define SCAN_BATCH 128

unsigned long arena_synced_gen;
unsigned long arena_sync_count;
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

/* What one chunk's check found. */
struct chunk_check {
    size_t off;      /* present pages off the chunk's node (before repair) */
    size_t repaired; /* of those, on the node after the repair */
    size_t left;     /* present pages still off the node */
    int where;       /* node holding most present pages, -1 if none */
};

/* What one pass over a chunk's pages found. */
struct chunk_tally {
    uint16_t on[NSLAB_MAX_NODES]; /* a chunk has at most 1024 pages */
    size_t pages, not_present, errors, off;
};

/* One pass over c's pages (os_page_nodes).  tally non-NULL:
 * count them (off: present pages not on `node`).  tally NULL: move each
 * batch's pages that are off `node` back to it (a transparent huge page
 * moves as a whole, which is why counting is a pass of its own).  0 or
 * the kernel's errno. */
static int chunk_pass(struct chunk *c, int node, struct chunk_tally *tally)
{
    size_t page = topology_get()->page_size, n = SEG_SIZE / page;
    void *pages[SCAN_BATCH], *away[SCAN_BATCH];
    int status[SCAN_BATCH], nodes[SCAN_BATCH];
    if (tally)
        memset(tally, 0, sizeof *tally);
    for (size_t i = 0; i < n; i += SCAN_BATCH) {
        size_t k = n - i < SCAN_BATCH ? n - i : SCAN_BATCH, na = 0;
        for (size_t j = 0; j < k; j++)
            pages[j] = (char *)c + (i + j) * page;
        int e = os_page_nodes(k, pages, status);
        if (e)
            return e;
        for (size_t j = 0; j < k; j++) {
            int s = status[j];
            if (!tally) {
                if (s >= 0 && s != node) {
                    away[na] = pages[j];
                    nodes[na++] = node;
                }
                continue;
            }
            tally->pages++;
            if (s >= 0 && s < NSLAB_MAX_NODES) {
                tally->on[s]++;
                tally->off += s != node;
            } else if (s == -ENOENT) {
                tally->not_present++;
            } else {
                tally->errors++;
            }
        }
        if (na)
            (void)os_page_move(na, away, nodes, status);
    }
    return 0;
}

/* Check where c's pages are; with `repair`, migrate the ones off c's node
 * back, and look again.  hist (may be NULL) gets the pages as they are at
 * the end.  0 or the kernel's errno (EPERM, ENOSYS, ...). */
static int chunk_check(struct chunk *c, int repair, nslab_placement_t *hist,
                       struct chunk_check *out)
{
    const struct topology *t = topology_get();
    struct chunk_tally ty;
    int node = c->hdr.node, e;

    memset(out, 0, sizeof *out);
    if ((e = chunk_pass(c, node, &ty)) != 0)
        return e;
    out->off = out->left = ty.off;
    if (repair && ty.off) {
        if ((e = chunk_pass(c, node, NULL)) != 0 || (e = chunk_pass(c, node, &ty)) != 0)
            return e;
        out->left = ty.off;
    }
    out->repaired = out->off > out->left ? out->off - out->left : 0;
    out->where = -1;
    for (int m = 0; m < t->nr_nodes && m < NSLAB_MAX_NODES; m++)
        if (ty.on[m] && (out->where < 0 || ty.on[m] > ty.on[out->where]))
            out->where = m;
    if (hist) {
        hist->page_size = t->page_size;
        hist->pages += ty.pages;
        hist->not_present += ty.not_present;
        hist->errors += ty.errors;
        for (int m = 0; m < t->nr_nodes && m < NSLAB_MAX_NODES; m++)
            hist->on_node[m] += ty.on[m];
    }
    return 0;
}

#define CHECK_REPAIR 0x1u /* migrate pages back where the node is allowed */
#define CHECK_RETIRE 0x2u /* retire chunks left off their node */

/* Check every chunk of `a`.  *found: pages found off the node; *retired:
 * chunks retired now.  0 or the first errno of a page query. */
static int arena_check(struct arena *a, unsigned how, nslab_placement_t *hist, size_t *found,
                       size_t *retired)
{
    const struct topology *t = topology_get();
    int repair = (how & CHECK_REPAIR) && topology_check_node(t, a->node) == 0;
    int err = 0;
    for (unsigned cls = 0; cls < SC_COUNT; cls++)
        pthread_mutex_lock(&a->cls[cls].lock);
    pthread_mutex_lock(&a->chunk_lock);
    struct chunk *c = a->chunks;
    pthread_mutex_unlock(&a->chunk_lock);
    while (c) {
        /* read before a retire can unmap c; existing chunks' links do not
         * change while every class lock is held */
        struct chunk *next = c->next;
        struct chunk_check ck;
        int retired_already = __atomic_load_n(&c->retired, __ATOMIC_RELAXED) != 0;
        int e = chunk_check(c, repair && !retired_already, hist, &ck);
        if (e) {
            err = err ? err : e;
        } else {
            *found += ck.off;
            __atomic_fetch_add(&a->drift_pages, ck.off, __ATOMIC_RELAXED);
            __atomic_fetch_add(&a->drift_repaired, ck.repaired, __ATOMIC_RELAXED);
            if (ck.left && !retired_already && (how & CHECK_RETIRE)) {
                chunk_retire(a, c, ck.where);
                (*retired)++;
            }
        }
        c = next;
    }
    for (unsigned cls = SC_COUNT; cls-- > 0;)
        pthread_mutex_unlock(&a->cls[cls].lock);
    return err;
}

/* Make every thread cache miss until its owner flushed it (file comment).
 * After the retire work: the owner that sees the new count sees it. */
void arena_caches_poke(void)
{
    __atomic_fetch_add(&arena_sync_count, 1, __ATOMIC_SEQ_CST);
    tcache_registry_lock();
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next)
        __atomic_store_n(&tc->node_bytes, 0, __ATOMIC_SEQ_CST);
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next)
        __atomic_store_n(&tc->cpu, TC_NO_CPU, __ATOMIC_SEQ_CST);
    tcache_registry_unlock();
}

void tcache_resync(struct tcache *tc)
{
    for (;;) {
        unsigned long g = __atomic_load_n(&arena_sync_count, __ATOMIC_ACQUIRE);
        tcache_flush_all(tc);
        __atomic_store_n(&tc->node_bytes, (size_t)tc->nr_nodes * sizeof(struct tc_node),
                         __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&arena_sync_count, __ATOMIC_SEQ_CST) == g)
            return;
    }
}

void arena_layout_sync(void)
{
    pthread_mutex_lock(&sync_lock);
    unsigned long gen = __atomic_load_n(&topology_generation, __ATOMIC_ACQUIRE);
    if (gen != __atomic_load_n(&arena_synced_gen, __ATOMIC_RELAXED)) {
        for (int n = 0; n < NSLAB_MAX_NODES; n++) {
            struct arena *a = arena_peek(n);
            if (!a)
                continue;
            size_t found = 0, retired = 0;
            (void)arena_check(a, CHECK_REPAIR | CHECK_RETIRE, NULL, &found, &retired);
            large_cache_drop(a);
        }
        __atomic_store_n(&arena_synced_gen, gen, __ATOMIC_RELEASE);
        arena_caches_poke();
    }
    pthread_mutex_unlock(&sync_lock);
}

void arena_layout_fork_child(void)
{
    if (pthread_mutex_trylock(&sync_lock) == 0) {
        pthread_mutex_unlock(&sync_lock);
        return;
    }
    pthread_mutex_init(&sync_lock, NULL);
    /* the sync did not finish: do it again */
    __atomic_store_n(&arena_synced_gen, 0, __ATOMIC_RELAXED);
}

void arena_layout_refresh(void)
{
    if (__atomic_load_n(&arena_ready, __ATOMIC_ACQUIRE))
        arena_layout_sync();
}

NSLAB_API int nslab_arena_verify(int node, unsigned flags, nslab_placement_t *out)
{
    const struct topology *t = topology_get();
    if (node < 0 || node >= t->nr_nodes || (flags & ~NSLAB_VERIFY_REPAIR)) {
        errno = EINVAL;
        return -EINVAL;
    }
    if (out)
        memset(out, 0, sizeof *out);
    struct arena *a = arena_peek(node);
    if (!a)
        return 0;
    size_t found = 0, retired = 0;
    unsigned how = (flags & NSLAB_VERIFY_REPAIR) ? CHECK_REPAIR | CHECK_RETIRE : 0;
    pthread_mutex_lock(&sync_lock);
    int e = arena_check(a, how, out, &found, &retired);
    if (retired)
        arena_caches_poke();
    pthread_mutex_unlock(&sync_lock);
    if (e) {
        errno = e;
        return -e;
    }
    return found > INT32_MAX ? INT32_MAX : (int)found;
}
