/*
 * pool/slot.c - thread slots and the registry of live pools.
 *
 * Pools are dynamic objects, so a thread cannot keep "its cache of pool P"
 * in thread-local storage without a lookup.  As DPDK does with lcore ids,
 * each thread gets a small slot number on its first slow-path call, and
 * every pool has an array of caches indexed by slot: the fast path is
 * p->caches + slot * stride, no lookup, no lock.  Slot 0 means "no cache"
 * (its cache has capacity 0, so the fast paths always fall to the locked
 * path); threads get it when all POOL_MAX_SLOTS - 1 slots are taken, or
 * after their exit destructor ran.
 *
 * A slot is given back at thread exit by a pthread key destructor that
 * first flushes the thread's cache in every live pool into that pool's
 * common stack, so no buffer is stranded in a dead thread's cache and the
 * next owner of the slot starts with empty caches.  (The main thread's
 * destructors do not run at exit(); the process ends anyway.  After fork
 * the child keeps the slots of threads that no longer exist, and their
 * cached buffers stay counted as free in caches.)
 *
 * Allocation: pthread_key_create and pthread_setspecific allocate nothing
 * while the key is one of glibc's first 32 (PTHREAD_KEY_2NDLEVEL_SIZE); a
 * program that created more keys before its first pool call makes glibc
 * calloc a second-level block at the first setspecific.
 *
 * Lock: registry_lock protects the pool list (reg_next/reg_prev) and
 * slot_used[].  It is taken before any pool->lock.  pool_self is the
 * calling thread's own and needs none.
 */
#include "pool.h"

#include <sched.h>

#include "topology.h"
#include "dlist.h"

__thread struct pool_thread pool_self
    __attribute__((tls_model("initial-exec"))) = {
        .slot = 0, .node = -1, .set_node = -1, .state = POOL_THR_NEW};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nslab_pool *registry;       /* live pools */
static uint8_t slot_used[POOL_MAX_SLOTS]; /* [0] is never handed out */
/* The thread holding each slot (its pool_self), for get_wait's quiescence:
 * written and cleared with slot_used, read under registry_lock. */
static struct pool_thread *slot_owner[POOL_MAX_SLOTS];
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t slot_key;
static int key_ok;

void pool_registry_lock(void)
{
    pthread_mutex_lock(&registry_lock);
}

void pool_registry_unlock(void)
{
    pthread_mutex_unlock(&registry_lock);
}

void pool_registry_add(struct nslab_pool *p)
{
    pthread_mutex_lock(&registry_lock);
    NSLAB_DLIST_PUSH(registry, p, reg_prev, reg_next);
    pthread_mutex_unlock(&registry_lock);
}

struct nslab_pool *pool_registry_next_on(int node, unsigned long pass)
{
    struct nslab_pool *p;
    pthread_mutex_lock(&registry_lock);
    for (p = registry; p; p = p->reg_next)
        if (__atomic_load_n(&p->node, __ATOMIC_RELAXED) == node && p->drain_pass != pass) {
            p->drain_pass = pass;
            break;
        }
    pthread_mutex_unlock(&registry_lock);
    return p;
}

int pool_registry_remove_if(struct nslab_pool *p, int (*fn)(struct nslab_pool *))
{
    pthread_mutex_lock(&registry_lock);
    int e = fn(p);
    if (e == 0) {
        NSLAB_DLIST_UNLINK(registry, p, reg_prev, reg_next);
    }
    pthread_mutex_unlock(&registry_lock);
    return e;
}

/* Thread exit: empty this slot's cache in every pool, then free the slot. */
static void slot_exit(void *v)
{
    uint32_t slot = (uint32_t)(uintptr_t)v;
    pthread_mutex_lock(&registry_lock);
    for (struct nslab_pool *p = registry; p; p = p->reg_next)
        if (p->cache_stride)
            pool_cache_drain(p, slot);
    slot_used[slot] = 0;
    slot_owner[slot] = NULL;
    pthread_mutex_unlock(&registry_lock);
    pool_self.slot = 0;
    pool_self.state = POOL_THR_EXITED;
}

static void key_init(void)
{
    key_ok = pthread_key_create(&slot_key, slot_exit) == 0;
}

void pool_thread_attach(void)
{
    struct pool_thread *t = &pool_self;
    if (t->state != POOL_THR_NEW)
        return;
    t->state = POOL_THR_ATTACHED;
    pthread_once(&key_once, key_init);
    if (!key_ok)
        return; /* no destructor: stay uncached rather than strand buffers */
    uint32_t slot = 0;
    pthread_mutex_lock(&registry_lock);
    for (uint32_t i = 1; i < POOL_MAX_SLOTS; i++) {
        if (!slot_used[i]) {
            slot_used[i] = 1;
            slot_owner[i] = t;
            slot = i;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    if (!slot)
        return;
    if (pthread_setspecific(slot_key, (void *)(uintptr_t)slot) != 0) {
        pthread_mutex_lock(&registry_lock);
        slot_used[slot] = 0;
        slot_owner[slot] = NULL;
        pthread_mutex_unlock(&registry_lock);
        return;
    }
    t->slot = slot;
}

int pool_thread_refresh(void)
{
    int n = topology_local_node();
    if (n < 0)
        n = 0; /* no node with memory: pools cannot exist anyway */
    pool_self.node = n;
    return n;
}

/* get_wait's quiescence (pool.h, the concurrency contract).  The caller
 * stored fast_stride 0 before calling.  membarrier makes every thread run a
 * full barrier: a busy window begun before it has its busy = 1 visible here,
 * and one begun after it reads fast_stride 0.  Then wait out the windows
 * seen busy (a few instructions each, unless their thread is preempted).
 * registry_lock keeps the slot owners alive and in place meanwhile; no
 * busy window takes a lock, so spinning under it cannot deadlock. */
int pool_threads_quiesce(void)
{
    int e = topology_threads_barrier();
    if (e)
        return e;
    pthread_mutex_lock(&registry_lock);
    for (uint32_t i = 1; i < POOL_MAX_SLOTS; i++) {
        struct pool_thread *t = slot_owner[i];
        if (!t || t == &pool_self)
            continue;
        while (__atomic_load_n(&t->busy, __ATOMIC_ACQUIRE))
            sched_yield();
    }
    pthread_mutex_unlock(&registry_lock);
    return 0;
}

/* ---- fork ------------------------------------------------------------- */

/* No pool lock is held across fork (arena.c says why for the arena: the
 * same holds here).  The child of a multi-threaded process: the registry
 * may have been caught mid-insert or mid-unlink, so it is rebuilt from its
 * forward links; every slot but the forking thread's is freed; every live
 * pool gets its locks and condition variable back and the caches of the
 * dead slots on its common stack (pcache.c, pool_fork_child_pool).  Buffers
 * a dead thread held stay out (they were not free), a buffer caught in
 * flight between a cache and the stack may be lost to the child. */
static __thread int fork_multi __attribute__((tls_model("initial-exec")));

static void pool_fork_prepare(void)
{
    fork_multi = topology_multi_threaded();
}

static void pool_fork_child(void)
{
    if (!fork_multi)
        return;
    fork_multi = 0;
    if (pthread_mutex_trylock(&registry_lock) == 0)
        pthread_mutex_unlock(&registry_lock);
    else {
        pthread_mutex_init(&registry_lock, NULL);
        pool_tombs_fork_reset();
    }
    pool_layout_fork_child();
    uint32_t mine = pool_self.slot;
    for (uint32_t i = 1; i < POOL_MAX_SLOTS; i++) {
        if (i != mine) {
            slot_used[i] = 0;
            slot_owner[i] = NULL;
        }
    }
    struct nslab_pool *prev = NULL;
    for (struct nslab_pool *p = registry; p; prev = p, p = p->reg_next) {
        p->reg_prev = prev;
        pool_fork_child_pool(p, mine);
    }
}

__attribute__((constructor)) static void pool_fork_register(void)
{
    pthread_atfork(pool_fork_prepare, NULL, pool_fork_child);
}
