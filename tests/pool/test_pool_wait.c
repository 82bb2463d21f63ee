/*
 * tests/pool/test_pool_wait.c - nslab_pool_get_wait(p, -1) never sleeps
 * while the pool has a free buffer anywhere (issue 11, item 5):
 *   live_cache         the only free buffer sits in the cache of a live,
 *                      idle thread (put just before the wait): the waiter
 *                      must take it from there;
 *   producer_consumer  consumers wait for buffers that one producer thread
 *                      puts back (into its cache, racing the waiters);
 *                      every round must finish;
 *   fork_locks_held    another thread holds the pool registry's and a
 *                      pool's locks, and caches a buffer, when the process
 *                      forks: the child gets every free buffer, waits, and
 *                      the pool passes its audit.
 * Each scenario runs WAIT_ROUNDS times; every wait is watched with a
 * deadline, so a waiter that sleeps forever fails the test instead of
 * hanging it (the stuck thread is left behind; the test binary exits).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"
#include "pool.h" /* the fork test holds a pool's locks itself */

#define WAIT_ROUNDS 200
#define DEADLINE_MS 10000

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

/* Wait until *flag (atomic) is nonzero, at most ms: 1 if it is. */
static int wait_flag(int *flag, int ms)
{
    for (long us = 0; us < (long)ms * 1000; us += 200) {
        if (__atomic_load_n(flag, __ATOMIC_ACQUIRE))
            return 1;
        sleep_us(200);
    }
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static nslab_pool_stats_t stats_of(const nslab_pool_t *p)
{
    nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_pool_stats(p, &st), 0);
    return st;
}

/* ---- the buffer in a live thread's cache ------------------------------- */

struct parker {
    nslab_pool_t *pool;
    void *buf;
    int parked;  /* atomic: the buffer is in this thread's cache */
    int release; /* atomic: the thread may exit */
};

static void *parker_fn(void *v)
{
    struct parker *k = v;
    if (nslab_pool_put(k->pool, k->buf) != 0)
        return (void *)1;
    __atomic_store_n(&k->parked, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&k->release, __ATOMIC_ACQUIRE))
        sleep_us(100); /* alive, idle, its cache untouched */
    return NULL;
}

struct waiter {
    nslab_pool_t *pool;
    void *got;
    int err;
    int done; /* atomic */
};

static void *waiter_fn(void *v)
{
    struct waiter *w = v;
    w->got = nslab_pool_get_wait(w->pool, -1);
    w->err = w->got ? 0 : errno;
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void test_wait_takes_from_live_cache(void **state)
{
    (void)state;
    for (int r = 0; r < WAIT_ROUNDS; r++) {
        nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 1, .cache_size = 2);
        nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
        assert_non_null(p);
        struct parker k = { .pool = p, .buf = nslab_pool_get(p) };
        assert_non_null(k.buf);
        pthread_t pt, wt;
        assert_int_equal(pthread_create(&pt, NULL, parker_fn, &k), 0);
        assert_true(wait_flag(&k.parked, DEADLINE_MS));
        nslab_pool_stats_t st = stats_of(p);
        assert_int_equal(st.free, 1);
        assert_int_equal(st.cached, 1); /* the scenario: nothing on the stack */
        struct waiter w = { .pool = p };
        assert_int_equal(pthread_create(&wt, NULL, waiter_fn, &w), 0);
        if (!wait_flag(&w.done, DEADLINE_MS))
            fail_msg("round %d: nslab_pool_get_wait slept while the free buffer sat in a "
                     "live thread's cache",
                     r);
        pthread_join(wt, NULL);
        assert_int_equal(w.err, 0);
        assert_ptr_equal(w.got, k.buf);
        __atomic_store_n(&k.release, 1, __ATOMIC_RELEASE);
        void *ret;
        pthread_join(pt, &ret);
        assert_null(ret);
        assert_int_equal(nslab_pool_put(p, w.got), 0);
        assert_int_equal(nslab_pool_audit(p, NULL), 0);
        assert_int_equal(nslab_pool_destroy(p), 0);
    }
}

/* ---- producer / consumer ------------------------------------------------ */

#define PC_BUFS 2
#define PC_CONSUMERS 3
#define PC_PER_ROUND 8 /* gets per consumer per round */

struct pc {
    nslab_pool_t *pool;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    void *q[PC_CONSUMERS * PC_PER_ROUND];
    int qlen;
    int round;        /* under lock: the round the consumers may run */
    int finished;     /* under lock: consumers done with `round` */
    int stop;         /* under lock */
    uint64_t progress; /* atomic: buffers through, ever */
};

/* The producer puts back every buffer the consumers hand it: from its own
 * thread, so with no waiter in sight a put lands in its cache. */
static void *producer_fn(void *v)
{
    struct pc *c = v;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->qlen == 0 && !c->stop)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->qlen == 0 && c->stop)
            break;
        void *b = c->q[--c->qlen];
        pthread_mutex_unlock(&c->lock);
        nslab_pool_put(c->pool, b);
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void *consumer_fn(void *v)
{
    struct pc *c = v;
    int seen = 0;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->round == seen && !c->stop)
            pthread_cond_wait(&c->cond, &c->lock);
        if (c->stop)
            break;
        seen = c->round;
        pthread_mutex_unlock(&c->lock);
        for (int i = 0; i < PC_PER_ROUND; i++) {
            void *b = nslab_pool_get_wait(c->pool, -1);
            if (!b)
                return (void *)1;
            memset(b, i, 8);
            __atomic_fetch_add(&c->progress, 1, __ATOMIC_RELAXED);
            pthread_mutex_lock(&c->lock);
            c->q[c->qlen++] = b;
            pthread_cond_broadcast(&c->cond);
            pthread_mutex_unlock(&c->lock);
        }
        pthread_mutex_lock(&c->lock);
        c->finished++;
        pthread_cond_broadcast(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void test_wait_producer_consumer(void **state)
{
    (void)state;
    static struct pc c;
    memset(&c, 0, sizeof c);
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = PC_BUFS, .cache_size = 4);
    c.pool = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(c.pool);
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    pthread_t prod, cons[PC_CONSUMERS];
    assert_int_equal(pthread_create(&prod, NULL, producer_fn, &c), 0);
    for (int i = 0; i < PC_CONSUMERS; i++)
        assert_int_equal(pthread_create(&cons[i], NULL, consumer_fn, &c), 0);
    for (int r = 1; r <= WAIT_ROUNDS; r++) {
        pthread_mutex_lock(&c.lock);
        c.round = r;
        c.finished = 0;
        pthread_cond_broadcast(&c.cond);
        pthread_mutex_unlock(&c.lock);
        /* the round must end; a stall of DEADLINE_MS without a single
         * buffer through is a waiter asleep beside a free buffer */
        uint64_t last = __atomic_load_n(&c.progress, __ATOMIC_RELAXED);
        long idle_us = 0;
        for (;;) {
            pthread_mutex_lock(&c.lock);
            int done = c.finished == PC_CONSUMERS;
            pthread_mutex_unlock(&c.lock);
            if (done)
                break;
            sleep_us(200);
            uint64_t now = __atomic_load_n(&c.progress, __ATOMIC_RELAXED);
            idle_us = now == last ? idle_us + 200 : 0;
            last = now;
            if (idle_us > (long)DEADLINE_MS * 1000) {
                nslab_pool_stats_t st = stats_of(c.pool);
                fail_msg("round %d: consumers asleep for %d ms with %llu free buffers "
                         "(%llu cached)",
                         r, DEADLINE_MS, (unsigned long long)st.free,
                         (unsigned long long)st.cached);
            }
        }
    }
    pthread_mutex_lock(&c.lock);
    c.stop = 1;
    pthread_cond_broadcast(&c.cond);
    pthread_mutex_unlock(&c.lock);
    for (int i = 0; i < PC_CONSUMERS; i++) {
        void *ret;
        pthread_join(cons[i], &ret);
        assert_null(ret);
    }
    pthread_join(prod, NULL);
    nslab_pool_stats_t st = stats_of(c.pool);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(nslab_pool_audit(c.pool, NULL), 0);
    assert_int_equal(nslab_pool_destroy(c.pool), 0);
}

/* ---- fork while another thread holds the pool's locks ------------------ */

static pthread_barrier_t hold_bar;

static void *pool_lock_holder(void *arg)
{
    struct nslab_pool *p = arg;
    void *b = nslab_pool_get(p);
    nslab_pool_put(p, b); /* in this thread's cache: the child gets it back */
    pthread_mutex_lock(&p->grow_lock);
    pool_registry_lock();
    pthread_mutex_lock(&p->lock);
    pthread_barrier_wait(&hold_bar);
    pthread_barrier_wait(&hold_bar);
    pthread_mutex_unlock(&p->lock);
    pool_registry_unlock();
    pthread_mutex_unlock(&p->grow_lock);
    return NULL;
}

static void test_fork_pool_locks_held(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    TEST_SKIP("fork with locks held by another thread: ThreadSanitizer's runtime is not "
              "fork-safe");
#endif
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 8, .cache_size = 4);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    pthread_barrier_init(&hold_bar, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pool_lock_holder, p), 0);
    pthread_barrier_wait(&hold_bar);
    alarm(60); /* a fork that waits for the holder deadlocks: SIGALRM fails */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        void *b[8];
        int n = 0;
        while (n < 8 && (b[n] = nslab_pool_get(p)) != NULL)
            n++;
        int ok = n == 8; /* the holder's cached buffer came back too */
        for (int i = 0; i < n; i++)
            ok = ok && nslab_pool_put(p, b[i]) == 0;
        void *w = nslab_pool_get_wait(p, -1);
        ok = ok && w && nslab_pool_put(p, w) == 0;
        ok = ok && nslab_pool_audit(p, NULL) == 0 && nslab_pool_destroy(p) == 0;
        _exit(ok ? 0 : 1);
    }
    testutil_reap_holder(pid, &hold_bar, t);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_takes_from_live_cache),
        cmocka_unit_test(test_wait_producer_consumer),
        cmocka_unit_test(test_fork_pool_locks_held),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
