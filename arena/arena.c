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
 *  - fork: arena_fork_prepare takes the registry lock, then every arena's
 *    class locks (ascending class, ascending node), then its chunk lock,
 *    then its large-cache lock: the global lock order of arena.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* secure_getenv */
#endif
#include "arena.h"
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

static int prefault_word(const char *v, const char *w)
{
    while (*v && *w && (*v | 0x20) == *w) {
        v++;
        w++;
    }
    return *v == '\0' && *w == '\0';
}

int arena_prefault(void)
{
    int m = __atomic_load_n(&prefault_setting, __ATOMIC_RELAXED);
    if (ARENA_LIKELY(m >= 0))
        return m;
    if (environ == NULL) /* inside the loader: read it at a later call */
        return NSLAB_ARENA_PREFAULT_DEFAULT;
    const char *v = secure_getenv("NUMASLAB_PREFAULT"); /* does not allocate */
    int env = NSLAB_ARENA_PREFAULT_DEFAULT;
    if (v && prefault_word(v, "none"))
        env = NSLAB_ARENA_PREFAULT_NONE;
    else if (v && prefault_word(v, "slabs"))
        env = NSLAB_ARENA_PREFAULT_SLABS;
    else if (v && prefault_word(v, "all"))
        env = NSLAB_ARENA_PREFAULT_ALL;
    /* a nslab_set_arena_prefault() meanwhile wins over the environment */
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

NSLAB_API int nslab_set_arena_prefault(nslab_arena_prefault_t p)
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
        tc->cpu = TC_NO_CPU; /* forget the cached node */
}

/* ---- fork --------------------------------------------------------------- */

void tcache_fork_child(void);

void arena_fork_prepare(void)
{
    tcache_registry_lock();
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        struct arena *a = arena_peek(n);
        if (!a)
            continue;
        for (unsigned c = 0; c < SC_COUNT; c++)
            pthread_mutex_lock(&a->cls[c].lock);
        pthread_mutex_lock(&a->chunk_lock);
        pthread_mutex_lock(&a->large_lock);
    }
}

void arena_fork_parent(void)
{
    for (int n = NSLAB_MAX_NODES - 1; n >= 0; n--) {
        struct arena *a = arena_peek(n);
        if (!a)
            continue;
        pthread_mutex_unlock(&a->large_lock);
        pthread_mutex_unlock(&a->chunk_lock);
        for (unsigned c = SC_COUNT; c-- > 0;)
            pthread_mutex_unlock(&a->cls[c].lock);
    }
    tcache_registry_unlock();
}

void arena_fork_child(void)
{
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        struct arena *a = arena_peek(n);
        if (!a)
            continue;
        pthread_mutex_init(&a->chunk_lock, NULL);
        pthread_mutex_init(&a->large_lock, NULL);
        for (unsigned c = 0; c < SC_COUNT; c++)
            pthread_mutex_init(&a->cls[c].lock, NULL);
    }
    tcache_fork_child(); /* re-initialises the registry lock */
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
