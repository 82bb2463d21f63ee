/*
 * tests/pool/test_pool_api.c - pools on one thread: layout and alignment,
 * constructors, growth, bulk all-or-nothing, empty pools, foreign and misaligned puts, double puts,
 * destroy with buffers out, statistics and the audit.
 * Public header only (creation errors and the capacity ledger:
 * test_pool_capacity.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static void test_get_put_single(void **state)
{
    (void)state;
    enum { N = 100 };
    nslab_pool_opts_t o = testutil_pool_opts(200, N, 0);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    assert_int_equal(nslab_pool_node(p), nslab_local_node());
    void *b[N + 1];
    for (int i = 0; i < N; i++) {
        b[i] = nslab_pool_get(p);
        assert_non_null(b[i]);
        assert_int_equal((uintptr_t)b[i] % 64, 0);
        memset(b[i], 0xa0 + (i & 15), 200);
        assert_ptr_equal(nslab_pool_of(b[i]), p);
        for (int j = 0; j < i; j++) { /* distinct, not overlapping */
            uintptr_t x = (uintptr_t)b[i], y = (uintptr_t)b[j];
            assert_true(x >= y + 200 || y >= x + 200);
        }
    }
    errno = 0;
    assert_null(nslab_pool_get(p));
    assert_int_equal(errno, ENOENT);
    nslab_pool_stats_t st = testutil_pool_stats(p);
    assert_int_equal(st.total, N);
    assert_int_equal(st.in_use, N);
    assert_int_equal(st.free, 0);
    for (int i = 0; i < N; i++) { /* contents intact */
        unsigned char *c = b[i];
        assert_int_equal(c[0], 0xa0 + (i & 15));
        assert_int_equal(c[199], 0xa0 + (i & 15));
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(nslab_pool_put(p, b[i]), 0);
    st = testutil_pool_stats(p);
    assert_int_equal(st.in_use, 0);
    assert_int_equal(st.free, N);
    assert_int_equal(st.gets, N);
    assert_int_equal(st.puts, N);
    assert_int_equal(nslab_pool_audit(p, stderr), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

static void test_alignment_and_layout(void **state)
{
    (void)state;
    static const size_t aligns[] = { 0, 8, 64, 256, 4096, (size_t)2 << 20 };
    for (size_t a = 0; a < sizeof(aligns) / sizeof(aligns[0]); a++) {
        nslab_pool_opts_t o = testutil_pool_opts(100, 12, 0);
        o.align = aligns[a];
        o.prefault = NSLAB_PREFAULT_NONE; /* 2 MiB apart: touch what is used */
        nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
        assert_non_null(p);
        size_t want = aligns[a] ? aligns[a] : 64;
        void *b[12];
        for (int i = 0; i < 12; i++) {
            b[i] = nslab_pool_get(p);
            assert_non_null(b[i]);
            assert_int_equal((uintptr_t)b[i] % want, 0);
            memset(b[i], 1, 100);
        }
        for (int i = 0; i < 12; i++)
            assert_int_equal(nslab_pool_put(NULL, b[i]), 0);
        assert_int_equal(nslab_pool_audit(p, NULL), 0);
        assert_int_equal(nslab_pool_destroy(p), 0);
    }
}

/* Buffers of 1 MiB: four start in each 4 MiB segment, so ten make three
 * segments; every one is found from its pointer. */
static void test_multi_segment(void **state)
{
    (void)state;
    size_t mib = (size_t)1 << 20;
    nslab_pool_opts_t o = testutil_pool_opts(mib, 10, 0);
    o.prefault = NSLAB_PREFAULT_NONE;
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    assert_int_equal(testutil_pool_stats(p).segments, 3);
    void *b[10];
    assert_int_equal(nslab_pool_get_bulk(p, b, 10), 10);
    for (int i = 0; i < 10; i++) {
        assert_ptr_equal(nslab_pool_of(b[i]), p);
        ((char *)b[i])[mib - 1] = 1; /* the whole buffer is usable */
        assert_null(nslab_pool_of((char *)b[i] + 64));
    }
    assert_int_equal(nslab_pool_put_bulk(p, b, 10), 10);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

static size_t ctor_calls;
static uint64_t ctor_seen[1024 / 64];

static void ctor(void *buf, size_t idx, void *arg)
{
    assert_ptr_equal(arg, &ctor_calls);
    assert_true(idx < 1024);
    assert_false((ctor_seen[idx / 64] >> (idx % 64)) & 1);
    ctor_seen[idx / 64] |= UINT64_C(1) << (idx % 64);
    *(size_t *)buf = idx;
    ctor_calls++;
}

/* The constructor runs once per buffer, at creation and at growth; growth
 * stops at max_count. */
static void test_ctor_and_growth(void **state)
{
    (void)state;
    enum { COUNT = 10, MAX = 1000 };
    nslab_pool_opts_t o = testutil_pool_opts(64, COUNT, MAX);
    o.ctor = ctor;
    o.ctor_arg = &ctor_calls;
    ctor_calls = 0;
    memset(ctor_seen, 0, sizeof(ctor_seen));
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    assert_int_equal(ctor_calls, COUNT);
    assert_int_equal(testutil_pool_stats(p).total, COUNT);

    static void *b[MAX];
    for (int i = 0; i < MAX; i++) {
        b[i] = nslab_pool_get(p);
        assert_non_null(b[i]);
        assert_true(*(size_t *)b[i] < MAX); /* constructed */
    }
    assert_int_equal(ctor_calls, MAX);
    errno = 0;
    assert_null(nslab_pool_get(p));
    assert_int_equal(errno, ENOENT);
    nslab_pool_stats_t st = testutil_pool_stats(p);
    assert_int_equal(st.total, MAX);
    assert_int_equal(st.max_count, MAX);
    assert_int_equal(st.bytes_reserved, 0); /* all committed now */
    for (int i = 0; i < MAX; i++)
        assert_int_equal(nslab_pool_put(p, b[i]), 0);
    assert_int_equal(ctor_calls, MAX); /* not called again on reuse */
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* Bulk operations take or return all n, or none. */
static void test_bulk_all_or_nothing(void **state)
{
    (void)state;
    enum { N = 50 };
    nslab_pool_opts_t o = testutil_pool_opts(128, N, 0);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *b[N + 1];

    assert_int_equal(nslab_pool_get_bulk(p, b, N + 1), -ENOENT);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(testutil_pool_stats(p).in_use, 0);
    assert_int_equal(nslab_pool_get_bulk(p, b, 0), 0);

    assert_int_equal(nslab_pool_get_bulk(p, b, 30), 30);
    assert_int_equal(nslab_pool_get_bulk(p, b + 30, 21), -ENOENT);
    assert_int_equal(testutil_pool_stats(p).in_use, 30);
    assert_int_equal(nslab_pool_get_bulk(p, b + 30, 20), 20);
    assert_int_equal(testutil_pool_stats(p).in_use, N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(b[i], b[j]);

    /* One bad pointer: nothing is returned. */
    int local;
    void *saved = b[17];
    b[17] = &local;
    assert_int_equal(nslab_pool_put_bulk(p, b, N), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(testutil_pool_stats(p).in_use, N);
    b[17] = (char *)saved + 1;
    assert_int_equal(nslab_pool_put_bulk(NULL, b, N), -EINVAL);
    assert_int_equal(testutil_pool_stats(p).in_use, N);
    b[17] = saved;
    assert_int_equal(nslab_pool_put_bulk(p, b, N), N);
    assert_int_equal(testutil_pool_stats(p).in_use, 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* Empty pool: get fails at once with ENOENT; get_wait times out. */
static void test_empty_and_timeout(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(64, 2, 0);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *a = nslab_pool_get(p), *b = nslab_pool_get(p);
    assert_non_null(a);
    assert_non_null(b);
    errno = 0;
    assert_null(nslab_pool_get(p));
    assert_int_equal(errno, ENOENT);
    errno = 0;
    assert_null(nslab_pool_get_wait(p, 0));
    assert_int_equal(errno, ETIMEDOUT);
    errno = 0;
    assert_null(nslab_pool_get_wait(p, 30));
    assert_int_equal(errno, ETIMEDOUT);
    errno = 0;
    assert_null(nslab_pool_get_wait(p, -2));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_pool_put(p, a), 0);
    errno = 1234;
    assert_ptr_equal(nslab_pool_get_wait(p, 10), a);
    assert_int_equal(errno, 1234); /* errno untouched on success */
    assert_int_equal(nslab_pool_put(p, a), 0);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* Foreign and misaligned pointers: EINVAL and nothing changes. */
static void test_put_foreign(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(100, 8, 0);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    nslab_pool_t *q = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    assert_non_null(q);
    void *b = nslab_pool_get(p), *c = nslab_pool_get(q);
    assert_non_null(b);
    assert_non_null(c);
    nslab_pool_stats_t before = testutil_pool_stats(p);

    int local;
    void *heap = malloc(64);
    nslab_region_t *r = nslab_region_create(4096, NULL, NULL);
    assert_non_null(r);
    char *seg = (char *)((uintptr_t)b & ~(uintptr_t)((4u << 20) - 1));
    void *bad[] = { NULL, &local, heap, nslab_region_addr(r), (char *)b + 1,
                    (char *)b + 64, (char *)b + 127, (char *)b - 1, seg, seg + 8,
                    (char *)b + 8 * 128, /* past the last buffer */
                    c /* q's buffer, put to p */ };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(nslab_pool_put(p, bad[i]), -EINVAL);
        assert_int_equal(errno, EINVAL);
        if (i + 1 < sizeof(bad) / sizeof(bad[0])) /* q's buffer is a buffer */
            assert_null(nslab_pool_of(bad[i]));
    }
    assert_int_equal(nslab_poolset_put(NULL, b), -EINVAL);
    nslab_pool_stats_t after = testutil_pool_stats(p);
    assert_int_equal(after.free, before.free);
    assert_int_equal(after.puts, before.puts);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_audit(q, NULL), 0);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_put(NULL, c), 0); /* found from the pointer */
    assert_int_equal(nslab_pool_destroy(p), 0);
    assert_int_equal(nslab_pool_destroy(q), 0);
    nslab_region_destroy(r);
    free(heap);
}

/* Debug mode: a double put is refused and changes nothing. */
static void test_double_put_debug(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(64, 16, 0);
    o.flags = NSLAB_POOL_DEBUG;
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *a = nslab_pool_get(p), *b = nslab_pool_get(p);
    assert_int_equal(nslab_pool_put(p, a), 0);
    errno = 0;
    assert_int_equal(nslab_pool_put(p, a), -EALREADY);
    assert_int_equal(errno, EALREADY);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);

    /* In a bulk put: twice in the array, or already free: nothing done. */
    void *two[2] = { b, b };
    assert_int_equal(nslab_pool_put_bulk(p, two, 2), -EALREADY);
    two[1] = a;
    assert_int_equal(nslab_pool_put_bulk(p, two, 2), -EALREADY);
    assert_int_equal(testutil_pool_stats(p).in_use, 1);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);

    /* Across the bulk get path and the stack too. */
    void *all[16];
    assert_int_equal(nslab_pool_get_bulk(p, all, 16), 16);
    assert_int_equal(nslab_pool_put_bulk(p, all, 16), 16);
    assert_int_equal(nslab_pool_put(p, all[3]), -EALREADY);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* Without debug a double put goes unnoticed at the put, but the audit
 * sees the buffer twice. */
static void test_audit_catches_double_put(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(64, 16, 0);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *a = nslab_pool_get(p);
    assert_int_equal(nslab_pool_put(p, a), 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_put(p, a), 0);
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(nslab_pool_audit(p, devnull), -EFAULT);
    fclose(devnull);
    /* Take the duplicate back out so the pool is consistent again. */
    void *x = nslab_pool_get(p);
    assert_ptr_equal(x, a);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* Destroy with buffers out: EBUSY, pool intact and usable. */
static void test_destroy_busy(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(64, 4, 0);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *a = nslab_pool_get(p);
    errno = 0;
    assert_int_equal(nslab_pool_destroy(p), -EBUSY);
    assert_int_equal(errno, EBUSY);
    void *b = nslab_pool_get(p);
    assert_non_null(b);
    assert_ptr_equal(nslab_pool_of(b), p);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), -EBUSY);
    assert_int_equal(nslab_pool_put(p, a), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
    assert_int_equal(nslab_pool_destroy(NULL), -EINVAL);
    assert_null(nslab_pool_of(a)); /* gone: its segment is unregistered */
}

/* Caches: hits counted, refills half a cache; no caches when asked. */
static void test_cache_stats(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(64, 256, 0);
    o.cache_size = 32;
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    for (int i = 0; i < 1000; i++) {
        void *b = nslab_pool_get(p);
        assert_non_null(b);
        assert_int_equal(nslab_pool_put(p, b), 0);
    }
    nslab_pool_stats_t st = testutil_pool_stats(p);
    assert_int_equal(st.cache_size, 32);
    assert_int_equal(st.cache_misses, 1); /* the first get refilled */
    assert_int_equal(st.cache_hits, 1999);
    assert_int_equal(st.cached, 16);      /* half a cache came over */
    assert_int_equal(st.remote_puts, 0);
    nslab_pool_cache_flush(p);
    assert_int_equal(testutil_pool_stats(p).cached, 0);
    assert_int_equal(nslab_pool_print(p, stdout), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);

    o.flags = NSLAB_POOL_NO_CACHE;
    p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    for (int i = 0; i < 100; i++) {
        void *b = nslab_pool_get(p);
        assert_non_null(b);
        assert_int_equal(nslab_pool_put(p, b), 0);
    }
    st = testutil_pool_stats(p);
    assert_int_equal(st.cache_size, 0);
    assert_int_equal(st.cache_hits, 0);
    assert_int_equal(st.cache_misses, 200);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);

    /* Stats arguments. */
    nslab_pool_stats_t bad = { .size = sizeof(bad), .version = 99 };
    assert_int_equal(nslab_pool_stats(NULL, &bad), -EINVAL);
}

/* The pool set on this machine: one pool per allowed memory node. */
static void test_poolset_basic(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    int nn = testutil_memory_nodes(&mem);
    nslab_pool_opts_t o = testutil_pool_opts(256, 64, 0);
    nslab_poolset_t *s = nslab_poolset_create(&o);
    assert_non_null(s);
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_pool_t *p = nslab_poolset_pool(s, n);
        assert_non_null(p);
        assert_int_equal(nslab_pool_node(p), n);
        nn--;
    }
    assert_int_equal(nn, 0);
    nslab_pool_t *local = nslab_poolset_local(s);
    assert_ptr_equal(local, nslab_poolset_pool(s, nslab_local_node()));
    void *b = nslab_poolset_get(s);
    assert_non_null(b);
    assert_ptr_equal(nslab_pool_of(b), local);
    errno = 0;
    assert_int_equal(nslab_poolset_destroy(s), -EBUSY);
    nslab_pool_t *other = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    void *c = nslab_pool_get(other);
    assert_int_equal(nslab_poolset_put(s, c), -EINVAL); /* not the set's */
    assert_int_equal(nslab_pool_put(other, c), 0);
    assert_int_equal(nslab_pool_destroy(other), 0);
    assert_int_equal(nslab_poolset_put(s, b), 0);
    assert_null(nslab_poolset_pool(s, -1));
    assert_int_equal(nslab_poolset_destroy(s), 0);
    assert_int_equal(nslab_poolset_destroy(NULL), -EINVAL);
}

static void *worker_fn(nslab_pool_t *pool, void *arg)
{
    void *b = nslab_pool_get(pool);
    *(void **)arg = b;
    if (b)
        nslab_pool_put(pool, b);
    return pool;
}

static void test_worker(void **state)
{
    (void)state;
    nslab_nodeset_t cpus;
    assert_true(nslab_nodes(NSLAB_NODES_CPU, &cpus) > 0);
    int n = nslab_nodeset_next(&cpus, 0);
    nslab_pool_opts_t o = testutil_pool_opts(256, 64, 0);
    nslab_poolset_t *s = nslab_poolset_create(&o);
    assert_non_null(s);
    pthread_t th;
    void *seen = NULL, *ret = NULL;
    int e = nslab_worker_start(&th, n, s, worker_fn, &seen);
    if (e == -EXDEV) {
        nslab_poolset_destroy(s);
        TEST_SKIP("node %d's CPUs are outside this cpuset", n);
    }
    assert_int_equal(e, 0);
    assert_int_equal(pthread_join(th, &ret), 0);
    assert_non_null(seen);
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(n, &info), 0);
    assert_ptr_equal(ret, nslab_poolset_pool(s, info.local_node));
    assert_ptr_equal(nslab_pool_of(seen), ret);
    assert_int_equal(testutil_pool_stats(ret).cached, 0); /* the worker's exit flushed */

    assert_int_equal(nslab_worker_start(&th, -3, s, worker_fn, &seen), -EINVAL);
    assert_int_equal(nslab_worker_start(&th, n, NULL, worker_fn, &seen), -EINVAL);
    assert_int_equal(nslab_worker_start(NULL, n, s, worker_fn, &seen), -EINVAL);
    assert_null(nslab_worker_bind(NSLAB_MAX_NODES, s));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_poolset_destroy(s), 0);
}

/* nslab_free() forwards a pool buffer to its pool (arena/free.c). */
static void test_nslab_free_forwards(void **state)
{
    (void)state;
    nslab_pool_opts_t o = testutil_pool_opts(64, 8, 0);
    o.flags = NSLAB_POOL_DEBUG;
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *b = nslab_pool_get(p);
    assert_non_null(b);
    assert_int_equal(nslab_node_of(b), nslab_pool_node(p));
    assert_int_equal(nslab_free((char *)b + 8), -EINVAL);
    assert_int_equal(testutil_pool_stats(p).in_use, 1);
    assert_int_equal(nslab_free(b), 0);
    assert_int_equal(testutil_pool_stats(p).in_use, 0);
    assert_int_equal(nslab_free(b), -EALREADY); /* the pool's debug check */
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_single),
        cmocka_unit_test(test_alignment_and_layout),
        cmocka_unit_test(test_multi_segment),
        cmocka_unit_test(test_ctor_and_growth),
        cmocka_unit_test(test_bulk_all_or_nothing),
        cmocka_unit_test(test_empty_and_timeout),
        cmocka_unit_test(test_put_foreign),
        cmocka_unit_test(test_double_put_debug),
        cmocka_unit_test(test_audit_catches_double_put),
        cmocka_unit_test(test_destroy_busy),
        cmocka_unit_test(test_cache_stats),
        cmocka_unit_test(test_poolset_basic),
        cmocka_unit_test(test_worker),
        cmocka_unit_test(test_nslab_free_forwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
