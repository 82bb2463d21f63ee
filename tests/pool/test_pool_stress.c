/*
 * tests/pool/test_pool_stress.c - a deterministic multi-thread stress: four
 * threads make 1 million pool calls between them (scaled down under
 * sanitizers, NUMASLAB_TEST_SCALE): single and bulk gets and puts, buffers
 * handed to other threads through a mailbox, gets that make the pool grow.
 * Every buffer carries an owner word set with an atomic exchange, so a
 * buffer handed to two holders at once is caught when it happens; at the
 * end the audit must find every buffer in the pool, none lost or doubled.
 * The cap (320) is below what the holders, the mailbox and the caches can
 * want together (4 x 64 + 256 + 4 x 32), so gets also meet an empty pool.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define THREADS 4
#define HOLD 64
#define MAILBOX 256

struct buf {
    uint64_t owner; /* 0 free, else holder id: atomic */
    uint64_t stamp;
};

struct shared {
    nslab_pool_t *pool;
    size_t ops_per_thread;
    pthread_mutex_t lock;
    void *mail[MAILBOX];
    unsigned nmail;
    pthread_barrier_t start;
};

struct worker {
    struct shared *sh;
    uint64_t id;
    uint64_t rng;
    size_t dup, bad_put, gets, puts, empty;
    void *held[HOLD];
    unsigned nheld;
};

static uint64_t next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void take(struct worker *w, void *b)
{
    struct buf *m = b;
    if (__atomic_exchange_n(&m->owner, w->id, __ATOMIC_ACQ_REL) != 0)
        w->dup++;
    m->stamp = w->id * 1000003u + w->gets;
    w->held[w->nheld++] = b;
    w->gets++;
}

static void *release_one(struct worker *w, unsigned i)
{
    struct buf *m = w->held[i];
    w->held[i] = w->held[--w->nheld];
    if (__atomic_exchange_n(&m->owner, 0, __ATOMIC_ACQ_REL) != w->id)
        w->dup++;
    return m;
}

static void put_one(struct worker *w, unsigned i)
{
    void *b = release_one(w, i);
    if (nslab_pool_put(w->sh->pool, b) != 0)
        w->bad_put++;
    w->puts++;
}

static void *run(void *v)
{
    struct worker *w = v;
    struct shared *sh = w->sh;
    pthread_barrier_wait(&sh->start);
    for (size_t op = 0; op < sh->ops_per_thread; op++) {
        uint64_t r = next(&w->rng);
        unsigned kind = r % 16, k = 1 + (unsigned)((r >> 8) % 16);
        if (kind < 6 && w->nheld < HOLD) {            /* get */
            void *b = nslab_pool_get(sh->pool);
            if (b)
                take(w, b);
            else
                w->empty++;
        } else if (kind < 11 && w->nheld) {          /* put */
            put_one(w, (unsigned)((r >> 16) % w->nheld));
        } else if (kind < 12 && w->nheld + k <= HOLD) { /* bulk get */
            void *b[16];
            if (nslab_pool_get_bulk(sh->pool, b, k) == (int)k)
                for (unsigned i = 0; i < k; i++)
                    take(w, b[i]);
            else
                w->empty++;
        } else if (kind < 13 && w->nheld >= k) {     /* bulk put */
            void *b[16];
            for (unsigned i = 0; i < k; i++)
                b[i] = release_one(w, w->nheld - 1);
            if (nslab_pool_put_bulk(sh->pool, b, k) != (int)k)
                w->bad_put++;
            w->puts += k;
        } else if (kind < 15 && w->nheld) {          /* hand to another thread */
            pthread_mutex_lock(&sh->lock);
            if (sh->nmail < MAILBOX)
                sh->mail[sh->nmail++] = release_one(w, 0);
            pthread_mutex_unlock(&sh->lock);
        } else if (w->nheld < HOLD) {                /* take a handed one */
            void *b = NULL;
            pthread_mutex_lock(&sh->lock);
            if (sh->nmail)
                b = sh->mail[--sh->nmail];
            pthread_mutex_unlock(&sh->lock);
            if (b) { /* not a get: re-own it without counting */
                struct buf *m = b;
                if (__atomic_exchange_n(&m->owner, w->id, __ATOMIC_ACQ_REL) != 0)
                    w->dup++;
                w->held[w->nheld++] = b;
            }
        }
    }
    while (w->nheld)
        put_one(w, w->nheld - 1);
    return NULL;
}

static void stress(unsigned flags, size_t total_ops)
{
    static struct shared sh;
    static struct worker w[THREADS];
    memset(&sh, 0, sizeof(sh));
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = sizeof(struct buf), .count = 64,
                            .max_count = 320, .cache_size = 32, .flags = flags);
    sh.pool = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(sh.pool);
    sh.ops_per_thread = total_ops / THREADS;
    pthread_mutex_init(&sh.lock, NULL);
    pthread_barrier_init(&sh.start, NULL, THREADS);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].sh = &sh;
        w[i].id = (uint64_t)i + 1;
        w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
        assert_int_equal(pthread_create(&th[i], NULL, run, &w[i]), 0);
    }
    size_t gets = 0, puts = 0, empty = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].dup, 0);
        assert_int_equal(w[i].bad_put, 0);
        gets += w[i].gets;
        puts += w[i].puts;
        empty += w[i].empty;
    }
    /* Handed-over buffers nobody took back. */
    for (unsigned i = 0; i < sh.nmail; i++) {
        ((struct buf *)sh.mail[i])->owner = 0;
        assert_int_equal(nslab_pool_put(NULL, sh.mail[i]), 0);
        puts++;
    }
    nslab_pool_cache_flush(sh.pool); /* those went to this thread's cache */
    nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_pool_stats(sh.pool, &st), 0);
    printf("stress%s: %zu calls, %zu buffers got, %zu put, %zu empty; pool grew to %llu; "
           "hits %llu misses %llu\n",
           flags ? " (debug)" : "", total_ops, gets, puts, empty,
           (unsigned long long)st.total, (unsigned long long)st.cache_hits,
           (unsigned long long)st.cache_misses);
    assert_int_equal(gets, puts);
    assert_int_equal(st.gets, gets);
    assert_int_equal(st.puts, puts);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.cached, 0); /* every thread's exit flushed */
    assert_int_equal(st.free, st.total);
    assert_true(st.total <= 320);
    assert_int_equal(nslab_pool_audit(sh.pool, stderr), 0);
    assert_int_equal(nslab_pool_destroy(sh.pool), 0);
    pthread_barrier_destroy(&sh.start);
    pthread_mutex_destroy(&sh.lock);
}

static void test_stress_million(void **state)
{
    (void)state;
    stress(0, testutil_scale(1000000));
}

static void test_stress_debug(void **state)
{
    (void)state;
    stress(NSLAB_POOL_DEBUG, testutil_scale(200000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress_million),
        cmocka_unit_test(test_stress_debug),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
