/*
 * pool/pcache.c - getting and putting buffers: the per-thread cache fast
 * paths (pool.h, inline), the common stack behind them, bulk operations and
 * the blocking get.
 *
 * The common stack is an array of free buffer pointers under pool->lock:
 * LIFO, so the most recently returned (cache-warm) buffers go out first.
 * A lock rather than a lock-free structure because every thread with a
 * slot reaches it only once per cap / 2 operations (refill and flush move
 * half a cache), so an uncontended mutex costs well under a nanosecond per
 * operation; a lock-free LIFO would need ABA tags and could not take or
 * give n buffers all-or-nothing, and get_wait needs a lock for its
 * condition variable anyway.
 *
 * Cache policy (DPDK's): a miss refills cap / 2 buffers from the top of the
 * stack; a put into a full cache first flushes its colder half (the bottom
 * of the array, objs[0 .. cap/2)) to the stack.  A plain get that finds
 * the stack empty reports ENOENT even while other threads' caches hold
 * buffers (as DPDK's); get_wait reaches those: before it sleeps it turns
 * the fast paths off (POOL_SLOW_WAITERS, fast_stride 0), waits for every
 * thread's busy window to end and moves every cache to the stack, and
 * while it sleeps every put goes to the stack (pool.h: the concurrency
 * contract, and why no waiter sleeps while a free buffer exists).
 *
 * Locks: pool->lock around the stack (see pool.h for the order).  The
 * calling thread's own cache needs none inside a busy window; outside one
 * it is touched under pool->lock only.
 */
#include "pool.h"
#include "debug.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

/* The calling thread's cache of p, with its capacity set on first use, or
 * NULL when the thread has no slot or p has no caches. */
static struct pool_cache *cache_mine(struct nslab_pool *p)
{
    uint32_t slot = pool_self.slot;
    if (slot == 0 || p->cache_stride == 0)
        return NULL;
    struct pool_cache *c = pool_cache_of(p, slot);
    if (__builtin_expect(c->cap == 0, 0))
        c->cap = p->cache_cap; /* untouched caches stay zero pages */
    return c;
}

static void attach(void)
{
    if (__builtin_expect(pool_self.state == POOL_THR_NEW, 0))
        pool_thread_attach();
}

/* Debug state: the buffer leaves the pool. */
static void debug_out(struct nslab_pool *p, void *buf)
{
    uint32_t i = pool_index_of(p, buf);
    if (i != UINT32_MAX)
        __atomic_store_n(&p->state[i], POOL_ST_OUT, __ATOMIC_RELAXED);
}

/* Debug state: the buffer comes back.  0, or EALREADY if it was not out. */
static int debug_in(struct nslab_pool *p, uint32_t i)
{
    uint8_t want = POOL_ST_OUT;
    return __atomic_compare_exchange_n(&p->state[i], &want, POOL_ST_FREE, 0,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
               ? 0
               : EALREADY;
}

void pool_stack_push(struct nslab_pool *p, void *const *bufs, uint32_t n)
{
    /* nfree + cached + out == total, so the stack never holds more than
     * total; a push past it is a double put the debug mode did not see:
     * refuse the excess rather than write past the array (audit reports). */
    NSLAB_ASSERT_INTERNAL(p->nfree <= p->total);
    uint32_t room = p->total - p->nfree;
    if (n > room) {
        p->dropped += n - room;
        n = room;
    }
    memcpy(&p->stack[p->nfree], bufs, (size_t)n * sizeof(void *));
    /* the entries before the count: a fork child reads a consistent stack */
    __atomic_store_n(&p->nfree, p->nfree + n, __ATOMIC_RELEASE);
    if (p->waiters && n)
        pthread_cond_broadcast(&p->cond);
}

/* Take n buffers from the top of the stack (caller holds lock and has
 * checked nfree >= n); the hottest ends up in dst[n - 1]. */
static void stack_take(struct nslab_pool *p, void **dst, uint32_t n)
{
    NSLAB_ASSERT(n <= p->nfree);
    p->nfree -= n;
    memcpy(dst, &p->stack[p->nfree], (size_t)n * sizeof(void *));
}

/* With lock held: make the stack hold `need` buffers, growing the pool
 * (which drops and retakes the lock).  0, ENOENT (at the cap), ENOMEM. */
static int stack_ensure(struct nslab_pool *p, uint32_t need)
{
    while (p->nfree < need) {
        if (p->total >= p->max_count)
            return ENOENT;
        pthread_mutex_unlock(&p->lock);
        int e = pool_grow(p, need);
        pthread_mutex_lock(&p->lock);
        if (e == ENOMEM && p->nfree < need)
            return ENOMEM;
    }
    return 0;
}

void pool_cache_drain(struct nslab_pool *p, uint32_t slot)
{
    struct pool_cache *c = pool_cache_of(p, slot);
    if (slot == 0 || p->cache_stride == 0 || __atomic_load_n(&c->len, __ATOMIC_RELAXED) == 0)
        return; /* a peek: the push below reads len under the lock */
    pthread_mutex_lock(&p->lock);
    pool_stack_push(p, c->objs, c->len);
    pool_set32(&c->len, 0);
    pthread_mutex_unlock(&p->lock);
}

/* ---- single buffers ------------------------------------------------- */

void *pool_get_slow(struct nslab_pool *p)
{
    if (pool_check(p)) {
        errno = EINVAL;
        return NULL;
    }
    attach();
    pool_thread_refresh(); /* a refill is where a moved thread is noticed */
    struct pool_cache *c = cache_mine(p);
    void *b;

    pthread_mutex_lock(&p->lock);
    if (c && c->len) { /* a debug pool's hit comes here */
        b = c->objs[c->len - 1];
        pool_set32(&c->len, c->len - 1);
        pool_add64(&c->get_hit, 1);
    } else {
        int e = stack_ensure(p, 1); /* may drop the lock to grow */
        if (e) {
            pthread_mutex_unlock(&p->lock);
            errno = e;
            return NULL;
        }
        /* with a waiter, take one: a refill would park buffers it needs */
        uint32_t want = c && !p->waiters ? c->cap / 2 : 1;
        if (want > p->nfree)
            want = p->nfree;
        if (want == 0)
            want = 1;
        if (c && want > 1) {
            stack_take(p, c->objs, want);
            b = c->objs[want - 1];
            pool_set32(&c->len, want - 1);
            pool_add64(&c->get_miss, 1);
        } else {
            stack_take(p, &b, 1);
            if (c)
                pool_add64(&c->get_miss, 1);
            else
                p->u_get++;
        }
    }
    pthread_mutex_unlock(&p->lock);
    if (p->state)
        debug_out(p, b);
    return b;
}

int pool_put_einval(void)
{
    errno = EINVAL;
    return -EINVAL;
}

int pool_put_slow(struct nslab_pool *p, struct pool_seg *s, void *buf)
{
    if (pool_check(p))
        return pool_put_einval();
    if (p->state) {
        int e = debug_in(p, s->first + pool_seg_index(s, buf));
        if (e) {
            errno = e;
            return -e;
        }
    }
    attach();
    struct pool_cache *c = cache_mine(p);
    int node = pool_thread_refresh();

    pthread_mutex_lock(&p->lock);
    if (c && !p->waiters) { /* into the cache (flushing half when full) */
        if (c->len == c->cap) {
            uint32_t h = c->cap / 2;
            pool_stack_push(p, c->objs, h);
            memmove(c->objs, c->objs + h, (size_t)(c->len - h) * sizeof(void *));
            pool_set32(&c->len, c->len - h);
            pool_add64(&c->put_miss, 1);
        } else {
            pool_add64(&c->put_hit, 1);
        }
        c->objs[c->len] = buf;
        pool_set32_rel(&c->len, c->len + 1);
    } else { /* no cache, or a waiter: to the stack, which wakes it */
        pool_stack_push(p, &buf, 1);
        if (c)
            pool_add64(&c->put_miss, 1);
        else
            p->u_put++;
        if (!c && node != p->node)
            p->u_remote++;
    }
    if (c && node != p->node)
        pool_add64(&c->remote_puts, 1);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

NSLAB_API void *nslab_pool_get(nslab_pool_t *p)
{
    if (__builtin_expect(!p, 0)) {
        errno = EINVAL;
        return NULL;
    }
    return pool_get_inline(p);
}

NSLAB_API int nslab_pool_put(nslab_pool_t *p, void *buf)
{
    return pool_put_inline(p, buf);
}

NSLAB_API void nslab_pool_cache_flush(nslab_pool_t *p)
{
    if (pool_check(p) == 0)
        pool_cache_drain(p, pool_self.slot);
}

/* ---- bulk ----------------------------------------------------------- */

NSLAB_API int nslab_pool_get_bulk(nslab_pool_t *p, void **bufs, unsigned n)
{
    if (pool_check(p) || (!bufs && n) || n > INT_MAX) {
        errno = EINVAL;
        return -EINVAL;
    }
    if (n == 0)
        return 0;
    attach();
    struct pool_cache *c = cache_mine(p);

    pool_busy_enter(); /* the hit: through fast_stride, in a busy window */
    struct pool_cache *fc = pool_cache_fast(p);
    uint32_t have = fc->len;
    if (have >= n) {
        for (uint32_t i = 0; i < n; i++)
            bufs[i] = fc->objs[have - 1 - i];
        pool_set32(&fc->len, have - n);
        pool_busy_leave();
        pool_add64(&fc->get_hit, n);
        return (int)n;
    }
    pool_busy_leave();

    pool_thread_refresh();
    pthread_mutex_lock(&p->lock);
    uint32_t from_cache;
    for (;;) {
        have = c ? c->len : 0;
        from_cache = have < n ? have : n;
        int e = stack_ensure(p, n - from_cache);
        if (e) {
            pthread_mutex_unlock(&p->lock);
            errno = e;
            return -e;
        }
        /* growing drops the lock, and a waiter may have emptied the cache
         * meanwhile (pool.h): count again */
        if (!c || c->len == have)
            break;
    }
    for (uint32_t i = 0; i < from_cache; i++)
        bufs[i] = c->objs[have - 1 - i];
    uint32_t rest = n - from_cache;
    stack_take(p, bufs + from_cache, rest);
    if (c) {
        pool_set32(&c->len, have - from_cache);
        pool_add64(&c->get_hit, from_cache);
        pool_add64(&c->get_miss, rest);
        if (c->len == 0 && p->nfree && !p->waiters) { /* leave the cache half full */
            uint32_t r = c->cap / 2 < p->nfree ? c->cap / 2 : p->nfree;
            stack_take(p, c->objs, r);
            pool_set32(&c->len, r);
        }
    } else {
        p->u_get += rest;
    }
    pthread_mutex_unlock(&p->lock);
    if (p->state)
        for (uint32_t i = 0; i < n; i++)
            debug_out(p, bufs[i]);
    return (int)n;
}

NSLAB_API int nslab_pool_put_bulk(nslab_pool_t *p, void *const *bufs, unsigned n)
{
    if ((!bufs && n) || n > INT_MAX || (p && pool_check(p))) {
        errno = EINVAL;
        return -EINVAL;
    }
    if (n == 0)
        return 0;
    /* Validate everything before changing anything. */
    for (uint32_t i = 0; i < n; i++) {
        struct pool_seg *s = pool_seg_of(bufs[i]);
        if (!s || pool_seg_index(s, bufs[i]) == UINT32_MAX || (p && s->pool != p) ||
            pool_check(s->pool)) {
            errno = EINVAL;
            return -EINVAL;
        }
        p = s->pool;
    }
    if (p->state) {
        for (uint32_t i = 0; i < n; i++) {
            if (debug_in(p, pool_index_of(p, bufs[i])) != 0) {
                while (i--) /* undo: all or nothing */
                    __atomic_store_n(&p->state[pool_index_of(p, bufs[i])], POOL_ST_OUT,
                                     __ATOMIC_RELAXED);
                errno = EALREADY;
                return -EALREADY;
            }
        }
    }
    attach();
    struct pool_cache *c = cache_mine(p);
    pool_busy_enter(); /* the hit: through fast_stride, in a busy window */
    struct pool_cache *fc = pool_cache_fast(p);
    if (fc->len + n <= fc->cap) {
        memcpy(&fc->objs[fc->len], bufs, (size_t)n * sizeof(void *));
        pool_set32_rel(&fc->len, fc->len + n);
        pool_busy_leave();
        pool_add64(&fc->put_hit, n);
        if (pool_self.node != __atomic_load_n(&p->node, __ATOMIC_RELAXED))
            pool_add64(&fc->remote_puts, n);
        return (int)n;
    }
    pool_busy_leave();
    int node = pool_thread_refresh();
    pthread_mutex_lock(&p->lock);
    pool_stack_push(p, bufs, n);
    if (c) {
        pool_add64(&c->put_miss, n);
        if (node != p->node)
            pool_add64(&c->remote_puts, n);
    } else {
        p->u_put += n;
        if (node != p->node)
            p->u_remote += n;
    }
    pthread_mutex_unlock(&p->lock);
    return (int)n;
}

/* ---- blocking get --------------------------------------------------- */

/* Move every slot's cache of p to the common stack.  pool->lock held, a
 * waiter registered and the threads quiesced since (pool.h): no busy window
 * can touch a cache of p, and no locked path adds to one. */
static void caches_sweep_locked(struct nslab_pool *p)
{
    if (p->cache_stride == 0)
        return;
    for (uint32_t s = 1; s < POOL_MAX_SLOTS; s++) {
        struct pool_cache *c = pool_cache_of(p, s);
        uint32_t n = __atomic_load_n(&c->len, __ATOMIC_ACQUIRE);
        if (n) {
            pool_stack_push(p, c->objs, n);
            pool_set32(&c->len, 0);
        }
    }
}

/* In a fork child of a multi-threaded process (slot.c): no other thread
 * exists, so nothing here can race. */
void pool_fork_child_pool(struct nslab_pool *p, uint32_t mine)
{
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->grow_lock, NULL);
    pthread_condattr_t ca; /* the dead waiters' places in it are gone too */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    p->waiters = 0;
    p->slow &= ~POOL_SLOW_WAITERS;
    p->fast_stride = pool_fast_stride(p);
    if (p->nfree > p->total) /* cannot be: the count is stored last */
        p->nfree = p->total;
    if (p->cache_stride == 0)
        return;
    for (uint32_t s = 1; s < POOL_MAX_SLOTS; s++) {
        struct pool_cache *c = pool_cache_of(p, s);
        if (s == mine || c->len == 0)
            continue;
        if (c->len > c->cap) /* a half-written cache: keep what is sure */
            c->len = c->cap;
        pool_stack_push(p, c->objs, c->len);
        c->len = 0;
    }
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

NSLAB_API void *nslab_pool_get_wait(nslab_pool_t *p, int timeout_ms)
{
    int saved = errno;
    if (pool_check(p) || timeout_ms < -1) {
        errno = EINVAL;
        return NULL;
    }
    void *b = pool_get_inline(p);
    if (b) {
        errno = saved;
        return b;
    }
    if (errno != ENOENT)
        return NULL;

    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);
    struct pool_cache *c = cache_mine(p);
    int timed_out = 0, e = 0, waiting = 0, swept = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        e = stack_ensure(p, 1);
        if (e == 0) {
            stack_take(p, &b, 1);
            if (c)
                pool_add64(&c->get_miss, 1);
            else
                p->u_get++;
            break;
        }
        if (e != ENOENT)
            break;
        if (!waiting) { /* puts: skip the caches, come to the stack */
            waiting = 1;
            if (p->waiters++ == 0) {
                __atomic_fetch_or(&p->slow, POOL_SLOW_WAITERS, __ATOMIC_RELAXED);
                __atomic_store_n(&p->fast_stride, 0, __ATOMIC_RELAXED);
            }
        }
        if (!swept) { /* and what the caches hold now, once (pool.h) */
            swept = 1;
            pthread_mutex_unlock(&p->lock);
            int qe = pool_threads_quiesce();
            pthread_mutex_lock(&p->lock);
            if (qe == 0)
                caches_sweep_locked(p);
            continue;
        }
        if (timed_out || timeout_ms == 0) {
            e = ETIMEDOUT;
            break;
        }
        int r = timeout_ms < 0 ? pthread_cond_wait(&p->cond, &p->lock)
                               : pthread_cond_timedwait(&p->cond, &p->lock, &deadline);
        if (r == ETIMEDOUT)
            timed_out = 1; /* one last look at the stack */
    }
    if (waiting && --p->waiters == 0) {
        __atomic_fetch_and(&p->slow, ~POOL_SLOW_WAITERS, __ATOMIC_RELAXED);
        /* release: the owners' next windows see the swept caches */
        __atomic_store_n(&p->fast_stride, pool_fast_stride(p), __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&p->lock);
    if (e) {
        errno = e;
        return NULL;
    }
    if (p->state)
        debug_out(p, b);
    errno = saved;
    return b;
}
