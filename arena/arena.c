/*
 * arena/arena.c - the per-node arena structs: global set-up, lazy creation
 * of one node's arena, fallback order by distance, fork handling.
 *
 * Threads:
 *  - arenas[node] is written once, with a CAS from NULL to a fully
 *    initialised struct (release); readers load it with acquire.  A loser
 *    of the CAS unmaps its own copy.  Arenas are never freed.
 *  - init_state: 0 -> 1 (the one initialising thread) -> 2 (done, with
 *    arena_ready = 1) or back to 0 on failure.  Waiters spin with
 *    sched_yield: no pthread_once, which must not recurse into the malloc
 *    replacement.
 *  - fork: no lock is taken; the child repairs what it inherits (see the
 *    fork section below).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include "arena.h"
#include "policy-env.h"
#include "os.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

static struct arena *arenas[NSLAB_MAX_NODES];
static int init_state;
int arena_ready;

/* Set up by tcache.c (the thread key). */
int tcache_global_init(void);

int arena_global_init(void)
{
    if (ARENA_LIKELY(__atomic_load_n(&arena_ready, __ATOMIC_ACQUIRE)))
        return 0;
    for (;;) {
        int expect = 0;
        if (__atomic_compare_exchange_n(&init_state, &expect, 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            (void)topology_get(); /* discovery (falls back to one node) */
            /* synchronised with this snapshot; later ones are checked
             * (layout.c) */
            __atomic_store_n(&arena_synced_gen,
                             __atomic_load_n(&topology_generation, __ATOMIC_ACQUIRE),
                             __ATOMIC_RELAXED);
            __atomic_store_n(&topology_change_hook, arena_layout_refresh, __ATOMIC_RELEASE);
            sc_init();
            arena_free_key_init();
            int e = tcache_global_init();
            if (e) {
                __atomic_store_n(&init_state, 0, __ATOMIC_RELEASE);
                return e;
            }
            __atomic_store_n(&arena_ready, 1, __ATOMIC_RELEASE);
            __atomic_store_n(&init_state, 2, __ATOMIC_RELEASE);
            return 0;
        }
        if (expect == 2)
            return 0;
        sched_yield();
    }
}

struct arena *arena_peek(int node)
{
    if (node < 0 || node >= NSLAB_MAX_NODES)
        return NULL;
    return __atomic_load_n(&arenas[node], __ATOMIC_ACQUIRE);
}

static void arena_init_struct(struct arena *a, int node)
{
    a->node = node;
    a->node_off = (uint32_t)((size_t)node * sizeof(struct tc_node));
    pthread_mutex_init(&a->chunk_lock, NULL);
    pthread_mutex_init(&a->large_lock, NULL);
    for (unsigned c = 0; c < SC_COUNT; c++)
        pthread_mutex_init(&a->cls[c].lock, NULL);
}

static size_t arena_map_bytes(void)
{
    size_t page = topology_get()->page_size;
    return (sizeof(struct arena) + page - 1) & ~(page - 1);
}

struct arena *arena_get(int node, int *err)
{
    struct arena *a = arena_peek(node);
    if (ARENA_LIKELY(a != NULL))
        return a;
    if (node < 0 || node >= NSLAB_MAX_NODES) {
        *err = EINVAL;
        return NULL;
    }
    void *mem;
    int e = os_map(arena_map_bytes(), ARENA_CACHELINE, 0, -1, &mem);
    if (e) {
        *err = e == EINVAL ? ENOMEM : e;
        return NULL;
    }
    a = mem; /* fresh anonymous memory is zero */
    arena_init_struct(a, node);
    struct arena *expect = NULL;
    if (!__atomic_compare_exchange_n(&arenas[node], &expect, a, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        os_unmap(mem, arena_map_bytes());
        a = expect;
    }
    return a;
}

/* ---- the prefault setting (numaslab.h, nslab_arena_prefault_t) ---------- */

/* -1 until NUMASLAB_PREFAULT was read (or a value was set); then one of
 * NSLAB_ARENA_PREFAULT_*.  Read and written with relaxed atomics: a racing
 * reader sees the old or the new setting, either is a valid one. */
static int prefault_setting = -1;

extern char **environ;

int arena_prefault(void)
{
    int m = __atomic_load_n(&prefault_setting, __ATOMIC_RELAXED);
    if (ARENA_LIKELY(m >= 0))
        return m;
    if (environ == NULL) /* inside the loader: read it at a later call */
        return NSLAB_ARENA_PREFAULT_DEFAULT;
    /* secure_getenv and the parser do not allocate; an invalid value is the
     * default here (the malloc replacement reports it: policy-env.c) */
    int env = menv_parse_prefault(secure_getenv("NUMASLAB_PREFAULT"));
    if (env < 0)
        env = NSLAB_ARENA_PREFAULT_DEFAULT;
    /* a nslab_arena_set_prefault() meanwhile wins over the environment */
    if (__atomic_compare_exchange_n(&prefault_setting, &m, env, 0, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED))
        return env;
    return m;
}

int arena_populate_large(int lib_default)
{
    int m = arena_prefault();
    if (m == NSLAB_ARENA_PREFAULT_DEFAULT)
        return lib_default;
    return m == NSLAB_ARENA_PREFAULT_ALL;
}

NSLAB_API int nslab_arena_set_prefault(nslab_arena_prefault_t p)
{
    if ((unsigned)p > NSLAB_ARENA_PREFAULT_ALL) {
        errno = EINVAL;
        return -EINVAL;
    }
    int old = arena_prefault();
    __atomic_store_n(&prefault_setting, (int)p, __ATOMIC_RELAXED);
    return old;
}

NSLAB_API nslab_arena_prefault_t nslab_arena_prefault(void)
{
    return (nslab_arena_prefault_t)arena_prefault();
}

void arena_count_fallback(int node)
{
    int e;
    if (node < 0 || node >= topology_get()->nr_nodes)
        return;
    struct arena *a = arena_get(node, &e);
    if (a)
        __atomic_fetch_add(&a->fallbacks, 1, __ATOMIC_RELAXED);
}

void arena_count_failure(int node)
{
    int e;
    const struct topology *t = topology_get();
    if (node < 0 || node >= t->nr_nodes)
        return;
    struct arena *a = arena_get(node, &e);
    if (a)
        __atomic_fetch_add(&a->failures, 1, __ATOMIC_RELAXED);
}

int arena_fallback_order(int from, int *order, int max)
{
    const struct topology *t = topology_get();
    const int16_t *near = topology_by_distance(t, from);
    int n = 0;
    if (!near) { /* no row to follow: the valid nodes by id */
        for (int m = nslab_nodeset_next(&t->allowed, 0); m >= 0 && n < max;
             m = nslab_nodeset_next(&t->allowed, m + 1))
            if (topology_check_node(t, m) == 0)
                order[n++] = m;
        return n;
    }
    for (int i = 0; i < t->nr_memory_nodes && n < max; i++) {
        int m = near[i];
        if (m != from && topology_check_node(t, m) == 0)
            order[n++] = m;
    }
    return n;
}

void arena_test_set_thread_node(int node)
{
    arena_node_override = node >= 0 ? node + 1 : 0;
    struct tcache *tc = arena_tls;
    if (tc != &tcache_empty)
        __atomic_store_n(&tc->cpu, TC_NO_CPU, __ATOMIC_RELAXED); /* forget the cached node */
}

/* ---- fork ---------------------------------------------------------------

 * No allocator lock is held across fork.  glibc's fork runs the atfork
 * prepare handlers first, THEN takes stdio's list lock, then its own malloc
 * locks; a prepare handler that holds our locks across that window deadlocks
 * against a thread that holds a FILE lock and waits in the allocator
 * (getline -> realloc) while a third thread in fflush(NULL) holds the list
 * lock and waits for that FILE (glibc bug 19431).  So the parent takes
 * nothing, and the child repairs what it inherits:
 *
 *  - prepare only notes, in the forking thread's TLS, whether the process is
 *    multi-threaded (__libc_single_threaded).  A single-threaded process
 *    (the only thread may be forking from a signal handler that interrupted
 *    the allocator, glibc's tst-mallocfork2) needs nothing in the child: the
 *    locks it holds are its own and are released when the handler returns,
 *    as glibc's malloc does for a single-threaded fork.
 *  - the child of a multi-threaded process: every lock that is free in the
 *    child protects consistent data (each update is complete at its
 *    unlock); a lock that is held was held by a thread that does not exist
 *    here, and what it protects may be half-updated.  Each lock is
 *    re-initialised, and for each one that was held:
 *      class lock   the class is abandoned: its partial list, remote stack
 *                   and counters restart empty, and every page of its slabs
 *                   is marked in its chunk's abandoned_pages: never handed
 *                   out, released or purged again; a block of such a page
 *                   that is freed later (a live block of the child, or one
 *                   in a cache) is dropped by slab_put_locked.  A leak
 *                   bounded by that class's slabs, in the child only.
 *      chunk lock   the chunk list is relinked from its forward links (each
 *                   store of an insert or unlink keeps them a list), the
 *                   per-chunk free page counts and the node's counters are
 *                   recounted from the page bitmaps, and a page in use that
 *                   belongs to no slab of a clean class (a run a dead thread
 *                   was carving) is abandoned.
 *      large lock   the cache of freed large regions restarts empty (the
 *                   cached regions stay mapped, marked cached: leaked).
 *      registry     the thread cache list is walked forward only; the
 *                   caches of the threads that do not exist here are
 *                   flushed into the arenas (a bin caught in the middle of a
 *                   push or pop loses at most the block in flight: a leak)
 *                   and unmapped, and the list becomes the forking thread's
 *                   cache alone.
 *    A lock held by a thread that was only reading (stats) is abandoned too:
 *    the price of a decision that needs no cooperation from the parent.
 *  - initialisation interrupted by the fork (init_state 1, the initialising
 *    thread does not exist here) restarts from 0: the child's next
 *    allocation initialises (every step may be repeated).
 * Our child handler is registered first (from constructors, before any
 * other library or the program can register one: child handlers run in
 * registration order), so nothing allocates in the child before it ran.
 */

void tcache_fork_child(void);
void topology_fork_child(void);

/* Whether the process was multi-threaded when this thread called fork. */
static __thread int fork_multi ARENA_TLS;

void arena_fork_prepare(void)
{
    fork_multi = topology_multi_threaded();
}

void arena_fork_parent(void)
{
}

/* In the child: was m held at fork?  Leaves it free and usable. */
static int child_lock_reset(pthread_mutex_t *m)
{
    if (pthread_mutex_trylock(m) == 0) {
        pthread_mutex_unlock(m);
        return 0;
    }
    pthread_mutex_init(m, NULL);
    return 1;
}

/* Does page i of chunk c lie in a consistent slab of a clean class? */
static int page_in_clean_slab(const struct chunk *c, unsigned i, const uint8_t *dirty_cls)
{
    unsigned cls = c->cls[i], f = c->head[i];
    if (cls == 0 || cls >= SC_COUNT || dirty_cls[cls] || f < 1 || f > i)
        return 0;
    const struct slab *s = &c->slabs[f];
    return s->cls == cls && i < (unsigned)f + s->npages &&
           s->start == slab_span(c, f) + slab_slack(cls);
}

static void arena_child_repair(struct arena *a)
{
    uint8_t dirty_cls[SC_COUNT] = { 0 };
    int dirty_chunks = child_lock_reset(&a->chunk_lock), any_cls = 0;
    if (child_lock_reset(&a->large_lock)) {
        a->nlarge_cached = 0;
        a->large_cached_bytes = 0;
        a->large_cached_dirty = 0;
        a->fork_repairs++;
    }
    for (unsigned c = 0; c < SC_COUNT; c++) {
        struct arena_class *ac = &a->cls[c];
        if (!child_lock_reset(&ac->lock))
            continue;
        dirty_cls[c] = 1;
        any_cls = 1;
        ac->partial = NULL;
        ac->remote = NULL;
        ac->out = 0;
        ac->slabs = 0;
        ac->empty_slabs = 0;
        a->fork_repairs++;
    }
    if (!dirty_chunks && !any_cls)
        return;

    /* Relink the chunk list from its forward links; recount; abandon the
     * pages that belong to no clean slab. */
    uint64_t nchunks = 0, nempty = 0, fcommitted = 0, slab_pages = 0, retired = 0;
    struct chunk *prev = NULL;
    for (struct chunk *c = a->chunks; c; prev = c, c = c->next) {
        c->prev = prev;
        for (unsigned i = 1; i < ARENA_PAGES; i++) {
            uint64_t bit = UINT64_C(1) << i;
            if ((c->used_pages & bit) && !(c->abandoned_pages & bit) &&
                !page_in_clean_slab(c, i, dirty_cls))
                c->abandoned_pages |= bit;
        }
        c->used_pages |= 1; /* the header page */
        c->committed_pages |= c->used_pages;
        c->aged_pages &= c->committed_pages & ~c->used_pages;
        c->free_pages = ARENA_PAGES - (unsigned)__builtin_popcountll(c->used_pages);
        nchunks++;
        /* a retired chunk is never counted empty (layout.c) */
        nempty += !c->retired && c->free_pages == ARENA_PAGES - 1;
        retired += c->retired != 0;
        fcommitted += (uint64_t)__builtin_popcountll(c->committed_pages & ~c->used_pages);
        slab_pages += (uint64_t)__builtin_popcountll(c->used_pages) - 1;
    }
    a->slab_pages = slab_pages;
    a->nchunks = nchunks;
    a->nempty = nempty;
    a->retired_chunks = retired;
    a->free_committed = fcommitted;
    a->purge_tick = 0;
    if (dirty_chunks)
        a->fork_repairs++;

    /* Kept empty slabs: only the clean classes' count now. */
    uint64_t kept = 0;
    for (unsigned c = 1; c < SC_COUNT; c++)
        if (!dirty_cls[c])
            for (struct slab *s = a->cls[c].partial; s; s = s->next)
                if (s->kept)
                    kept += s->npages;
    a->kept_pages = kept;
}

void arena_fork_child(void)
{
    if (!fork_multi)
        return; /* single-threaded: nobody else held anything */
    fork_multi = 0;
    topology_fork_child();
    arena_layout_fork_child();
    arena_drain_fork_child();
    region_drain_fork_child();
    /* initialisation caught half-way by the fork: start it again */
    if (__atomic_load_n(&init_state, __ATOMIC_RELAXED) == 1)
        __atomic_store_n(&init_state, 0, __ATOMIC_RELAXED);
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        struct arena *a = arena_peek(n);
        if (a)
            arena_child_repair(a);
    }
    tcache_fork_child(); /* after the repair: flushes into the arenas */
}

static int fork_registered;

void arena_fork_register(void)
{
    int expect = 0;
    if (__atomic_compare_exchange_n(&fork_registered, &expect, 1, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_RELAXED))
        pthread_atfork(arena_fork_prepare, arena_fork_parent, arena_fork_child);
}

__attribute__((constructor)) static void arena_constructor(void)
{
    arena_fork_register();
}
