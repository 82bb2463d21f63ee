/*
 * tests/pool/test_pool_threads.c - pools across threads: a producer on one
 * thread and a consumer on another, a blocking get woken by another
 * thread's put, caches flushed at thread exit, and more threads than there
 * are cache slots (the uncached path) and slots recycled.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

static nslab_pool_stats_t stats_of(const nslab_pool_t *p)
{
    nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_pool_stats(p, &st), 0);
    return st;
}

static nslab_pool_t *make_pool(size_t elt, size_t count, unsigned cache)
{
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = elt, .count = count, .cache_size = cache);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    return p;
}

/* ---- producer / consumer ------------------------------------------- */

/* A bounded queue of buffer pointers between two threads. */
#define QCAP 64
struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty, nonfull;
    void *item[QCAP];
    unsigned head, len;
    int done;
};

static void q_push(struct queue *q, void *b)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == QCAP)
        pthread_cond_wait(&q->nonfull, &q->lock);
    q->item[(q->head + q->len++) % QCAP] = b;
    pthread_cond_signal(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

static void *q_pop(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->done)
        pthread_cond_wait(&q->nonempty, &q->lock);
    void *b = NULL;
    if (q->len) {
        b = q->item[q->head];
        q->head = (q->head + 1) % QCAP;
        q->len--;
        pthread_cond_signal(&q->nonfull);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

struct pc {
    nslab_pool_t *pool;
    struct queue q;
    size_t n;
    size_t consumed, bad, empty_waits;
};

struct msg {
    uint64_t seq;
    uint64_t check;
};

static void *producer(void *v)
{
    struct pc *pc = v;
    for (size_t i = 0; i < pc->n; i++) {
        struct msg *m;
        while (!(m = nslab_pool_get_wait(pc->pool, 1000)))
            pc->empty_waits++;
        m->seq = i;
        m->check = i * 2654435761u;
        q_push(&pc->q, m);
    }
    pthread_mutex_lock(&pc->q.lock);
    pc->q.done = 1;
    pthread_cond_broadcast(&pc->q.nonempty);
    pthread_mutex_unlock(&pc->q.lock);
    return NULL;
}

static void *consumer(void *v)
{
    struct pc *pc = v;
    struct msg *m;
    uint64_t want = 0;
    while ((m = q_pop(&pc->q))) {
        if (m->seq != want || m->check != want * 2654435761u)
            pc->bad++;
        want++;
        if (nslab_pool_put(NULL, m) != 0)
            pc->bad++;
        pc->consumed++;
    }
    return NULL;
}

/* Buffers flow one way: taken on the producer's thread, returned on the
 * consumer's.  The consumer's cache fills and flushes half at a time to
 * the common stack, from which the producer refills. */
static void test_producer_consumer(void **state)
{
    (void)state;
    struct pc pc = { .n = testutil_scale(200000) };
    pc.pool = make_pool(sizeof(struct msg), 256, 32);
    pthread_mutex_init(&pc.q.lock, NULL);
    pthread_cond_init(&pc.q.nonempty, NULL);
    pthread_cond_init(&pc.q.nonfull, NULL);
    pthread_t tp, tc;
    assert_int_equal(pthread_create(&tc, NULL, consumer, &pc), 0);
    assert_int_equal(pthread_create(&tp, NULL, producer, &pc), 0);
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    assert_int_equal(pc.bad, 0);
    assert_int_equal(pc.consumed, pc.n);
    nslab_pool_stats_t st = stats_of(pc.pool);
    assert_int_equal(st.gets, pc.n);
    assert_int_equal(st.puts, pc.n);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.cached, 0); /* both threads exited: flushed */
    assert_true(st.cache_hits > st.cache_misses);
    assert_int_equal(nslab_pool_audit(pc.pool, stderr), 0);
    assert_int_equal(nslab_pool_destroy(pc.pool), 0);
}

/* ---- blocking get -------------------------------------------------- */

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

struct waiter {
    nslab_pool_t *pool;
    int timeout;
    void *got;
    int err;
    int done; /* atomic */
};

static void *wait_fn(void *v)
{
    struct waiter *w = v;
    w->got = nslab_pool_get_wait(w->pool, w->timeout);
    w->err = w->got ? 0 : errno;
    if (w->got)
        nslab_pool_put(w->pool, w->got);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int wait_done(struct waiter *w, int ms)
{
    for (int i = 0; i < ms && !__atomic_load_n(&w->done, __ATOMIC_ACQUIRE); i += 10)
        sleep_ms(10);
    return __atomic_load_n(&w->done, __ATOMIC_ACQUIRE);
}

/* A thread blocked on an empty pool is woken by a put on another thread,
 * even though the putting thread has a cache: while a thread waits, puts
 * bypass the caches, and a put that came before the waiter slept (into this
 * thread's cache) is taken from that cache by the waiter. */
static void test_get_wait_woken(void **state)
{
    (void)state;
    nslab_pool_t *p = make_pool(64, 4, 2);
    void *b[4];
    assert_int_equal(nslab_pool_get_bulk(p, b, 4), 4);
    for (int timeout = -1; timeout <= 60000; timeout += 60001) {
        struct waiter w = { .pool = p, .timeout = timeout };
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, wait_fn, &w), 0);
        sleep_ms(50); /* let it block */
        assert_int_equal(nslab_pool_put(p, b[0]), 0);
        assert_true(wait_done(&w, 30000));
        pthread_join(th, NULL);
        assert_int_equal(w.err, 0);
        assert_ptr_equal(w.got, b[0]);
        /* take it back from wherever the waiter's put left it */
        nslab_pool_cache_flush(p);
        b[0] = nslab_pool_get(p);
        assert_non_null(b[0]);
    }
    assert_int_equal(nslab_pool_put_bulk(p, b, 4), 4);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* ---- thread exit --------------------------------------------------- */

struct holder {
    nslab_pool_t *pool;
    int n;
    int ok;
};

static void *get_put_n(void *v)
{
    struct holder *h = v;
    void *b[64];
    h->ok = 1;
    for (int i = 0; i < h->n; i++)
        if (!(b[i] = nslab_pool_get(h->pool)))
            h->ok = 0;
    for (int i = 0; i < h->n; i++)
        if (b[i] && nslab_pool_put(h->pool, b[i]) != 0)
            h->ok = 0;
    return NULL;
}

/* Buffers cached by a thread come back to the pool when it exits: another
 * thread can then take every buffer. */
static void test_exit_flushes(void **state)
{
    (void)state;
    enum { N = 64 };
    nslab_pool_t *p = make_pool(64, N, 32);
    struct holder h = { .pool = p, .n = 20 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, get_put_n, &h), 0);
    pthread_join(th, NULL);
    assert_true(h.ok);
    assert_int_equal(stats_of(p).cached, 0);
    void *b[N];
    assert_int_equal(nslab_pool_get_bulk(p, b, N), N);
    assert_int_equal(nslab_pool_put_bulk(p, b, N), N);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* ---- more threads than slots --------------------------------------- */

struct crowd {
    nslab_pool_t *pool;
    pthread_barrier_t *bar;
    int ok;
};

static void *crowd_fn(void *v)
{
    struct crowd *c = v;
    void *b[4];
    c->ok = 1;
    pthread_barrier_wait(c->bar); /* all alive at once: slots run out */
    for (int r = 0; r < 10; r++) {
        for (int i = 0; i < 4; i++)
            if (!(b[i] = nslab_pool_get(c->pool)))
                c->ok = 0;
        for (int i = 0; i < 4; i++)
            if (b[i] && nslab_pool_put(c->pool, b[i]) != 0)
                c->ok = 0;
    }
    pthread_barrier_wait(c->bar);
    return NULL;
}

/* 300 threads alive together (the pool has 255 cache slots): the rest use
 * the locked path; then 600 threads one after another recycle slots. */
static void test_slots(void **state)
{
    (void)state;
    enum { T = 300 };
    /* Each thread may hold 4 buffers and cache up to 16. */
    nslab_pool_t *p = make_pool(64, T * 20, 16);
    static struct crowd c[T];
    static pthread_t th[T];
    pthread_barrier_t bar;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_barrier_init(&bar, NULL, T);
    int started = 0;
    for (int i = 0; i < T; i++) {
        c[i] = (struct crowd){ .pool = p, .bar = &bar };
        if (pthread_create(&th[i], &attr, crowd_fn, &c[i]) != 0)
            break;
        started++;
    }
    if (started < T) {
        /* Cannot release a barrier sized T: this machine's thread limit. */
        fail_msg("only %d of %d threads started", started, T);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_true(c[i].ok);
    }
    pthread_barrier_destroy(&bar);
    nslab_pool_stats_t st = stats_of(p);
    assert_int_equal(st.cached, 0);
    assert_int_equal(st.gets, T * 40);
    assert_int_equal(st.puts, T * 40);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);

    struct holder h = { .pool = p, .n = 8 };
    for (int i = 0; i < 600; i++) {
        pthread_t t1;
        assert_int_equal(pthread_create(&t1, &attr, get_put_n, &h), 0);
        pthread_join(t1, NULL);
        assert_true(h.ok);
    }
    st = stats_of(p);
    assert_int_equal(st.cached, 0);
    assert_true(st.cache_hits > 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_producer_consumer),
        cmocka_unit_test(test_get_wait_woken),
        cmocka_unit_test(test_exit_flushes),
        cmocka_unit_test(test_slots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
