/*
 * tests/pool/test_pool_move.c - a pool can move (DESIGN promise 7):
 * nslab_pool_move re-binds every segment of a pool to another node and
 * migrates its pages, buffers in use included, and reports where they are.
 *
 * On any machine: a move to the pool's own node works and verifies 100%;
 * bad input (NULL, bad node, a pool of a set; offline, memoryless and
 * outside-the-cpuset nodes on a fake sysfs tree) gets its errno with
 * nothing changed (node, statistics, capacity ledger).
 * With two nodes or more (the 4-node VM): a pool on node 1 with buffers in
 * use, while another thread keeps getting and putting, moved to node 3:
 * every page of every segment is on node 3 (move_pages called by the
 * test), buffer contents are kept, the pool's node, statistics,
 * nslab_node_of and the ledger follow, later growth lands on node 3, the
 * audit is clean; a node that cannot hold the pool is ENOMEM before any
 * page moves; a buffer pinned by a pipe (vmsplice) is a reported partial
 * failure (-EIO) that a second move completes.
 * Unit label: reads the private headers (segments, ledger).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pool.h"
#include "region_testutil.h"
#include "topology.h"

#define MiB ((size_t)1 << 20)
#define ELT 3000 /* spans page boundaries */

static const struct topology *T;
static nslab_nodeset_t mem;
static int nmem;
static nslab_placement_t pl; /* 8 KiB: not on the stack */

static int setup(void **state)
{
    (void)state;
    T = topology_get();
    nmem = testutil_memory_nodes(&mem);
    return nmem < 1;
}

static nslab_pool_stats_t stats_of(const nslab_pool_t *p)
{
    nslab_pool_stats_t st = {.size = sizeof(st), .version = NSLAB_STATS_VERSION};
    assert_int_equal(nslab_pool_stats(p, &st), 0);
    return st;
}

static void fill(void *b, size_t i)
{
    uint32_t *w = b;
    for (size_t k = 0; k < ELT / sizeof(uint32_t); k += 64)
        w[k] = (uint32_t)(i * 2654435761u + k);
}

static int filled(const void *b, size_t i)
{
    const uint32_t *w = b;
    for (size_t k = 0; k < ELT / sizeof(uint32_t); k += 64)
        if (w[k] != (uint32_t)(i * 2654435761u + k))
            return 0;
    return 1;
}

/* Pages of all the pool's segments on `node`, by the test's move_pages. */
static void assert_pool_on(const nslab_pool_t *p, int node)
{
    for (uint32_t i = 0; i < p->nsegs; i++) {
        const struct pool_seg *s = p->segs[i];
        size_t total, on = testutil_pages_on(s, s->hdr.map_size, node, &total);
        if (on != total)
            fail_msg("segment %u: %zu of %zu pages on node %d", i, on, total, node);
    }
}

static size_t held_total(void)
{
    size_t h = 0;
    for (int n = 0; n < T->nr_nodes; n++)
        h += capacity_held(n);
    return h;
}

/* ---- one node ----------------------------------------------------------- */

static void test_move_same_node(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = ELT, .count = 1000, .max_count = 4000);
    nslab_pool_t *p = nslab_pool_create(n0, &o);
    assert_non_null(p);
    static void *b[100];
    for (size_t i = 0; i < 100; i++) {
        assert_non_null(b[i] = nslab_pool_get(p));
        fill(b[i], i);
    }
    size_t held = capacity_held(n0);
    assert_int_equal(nslab_pool_move(p, n0, &pl), 0);
    assert_int_equal(pl.on_node[n0], pl.pages);
    assert_true(pl.pages > 0);
    assert_pool_on(p, n0);
    assert_int_equal(capacity_held(n0), held);
    assert_int_equal(nslab_pool_node(p), n0);
    assert_int_equal(stats_of(p).node, n0);
    assert_int_equal(nslab_pool_move(p, NSLAB_NODE_LOCAL, NULL), 0);
    for (size_t i = 0; i < 100; i++) {
        assert_true(filled(b[i], i));
        assert_int_equal(nslab_pool_put(p, b[i]), 0);
    }
    assert_int_equal(nslab_pool_audit(p, stderr), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

static void expect_fail(nslab_pool_t *p, int node, int err, const char *what)
{
    int before = p ? nslab_pool_node(p) : -1;
    size_t held = held_total();
    errno = 0;
    int r = nslab_pool_move(p, node, &pl);
    if (r != -err || errno != err)
        fail_msg("%s: returned %d errno %d (%s), expected -%d (%s)", what, r, errno,
                 strerror(errno), err, strerror(err));
    if (held_total() != held)
        fail_msg("%s: the capacity ledger changed", what);
    if (p && nslab_pool_node(p) != before)
        fail_msg("%s: the pool's node changed", what);
}

static void test_move_errors(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = ELT, .count = 100, .max_count = 400);
    nslab_pool_t *p = nslab_pool_create(n0, &o);
    assert_non_null(p);
    expect_fail(NULL, n0, EINVAL, "NULL pool");
    expect_fail(p, T->nr_nodes, EINVAL, "node nr_nodes");
    expect_fail(p, -5, EINVAL, "node -5");
    expect_fail(p, NSLAB_MAX_NODES + 1, EINVAL, "node past NSLAB_MAX_NODES");

    /* A pool of a set: the set serves node n from its pool of node n. */
    nslab_poolset_t *s = nslab_poolset_create(&o);
    assert_non_null(s);
    nslab_pool_t *sp = nslab_poolset_pool(s, n0);
    assert_non_null(sp);
    expect_fail(sp, n0, EINVAL, "a pool of a set");
    assert_int_equal(nslab_poolset_destroy(s), 0);

    /* Offline, memoryless and outside-the-cpuset nodes on the fake tree. */
    char dir[256];
    fake_topology_enter(dir, sizeof dir);
    expect_fail(p, 1, EXDEV, "fake: node 1 outside the cpuset");
    expect_fail(p, 2, ENODEV, "fake: offline node 2");
    expect_fail(p, 4, ENODEV, "fake: memoryless node 4");
    expect_fail(p, 5, EINVAL, "fake: node 5 past the possible nodes");
    fake_topology_leave(dir);
    T = topology_get();

    assert_int_equal(nslab_pool_node(p), n0);
    assert_pool_on(p, n0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* ---- two nodes or more ------------------------------------------------ */

/* Node 1 -> node 3 on the 4-node VM; first -> last elsewhere. */
static int pick(int *a, int *b)
{
    if (nmem < 2)
        return -1;
    *a = nmem >= 4 ? testutil_memory_node(1) : testutil_memory_node(0);
    *b = testutil_memory_node(nmem - 1);
    return 0;
}

/* A thread that keeps getting, checking and putting buffers. */
struct churn {
    nslab_pool_t *p;
    int stop;
    size_t rounds, bad;
};

static void *churn_run(void *arg)
{
    struct churn *c = arg;
    void *b[8];
    while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
        unsigned n = 0;
        for (; n < 8; n++) {
            if (!(b[n] = nslab_pool_get(c->p)))
                break;
            memset(b[n], (int)(n + 1), 64);
        }
        for (unsigned k = 0; k < n; k++) {
            const unsigned char *x = b[k];
            c->bad += x[0] != k + 1 || x[63] != k + 1;
            if (nslab_pool_put(c->p, b[k]) != 0)
                c->bad++;
        }
        __atomic_store_n(&c->rounds, c->rounds + 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_move_pool_in_use(void **state)
{
    (void)state;
    int a, t;
    if (pick(&a, &t))
        TEST_SKIP("one node with memory: nowhere to move to");
    enum { COUNT = 8192, MAX = 16384, OUT = 3000 };
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = ELT, .count = COUNT, .max_count = MAX);
    size_t held_a = capacity_held(a), held_t = capacity_held(t);
    nslab_pool_t *p = nslab_pool_create(a, &o);
    assert_non_null(p);
    size_t reserved = p->reserved;
    assert_true(reserved > 0);
    assert_int_equal(capacity_held(a), held_a + reserved);
    static void *b[MAX];
    for (size_t i = 0; i < OUT; i++) {
        assert_non_null(b[i] = nslab_pool_get(p));
        fill(b[i], i);
    }
    assert_pool_on(p, a);

    struct churn c = {.p = p};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, churn_run, &c), 0);
    while (__atomic_load_n(&c.rounds, __ATOMIC_RELAXED) < 10)
        usleep(1000);
    nslab_placement_t before;
    memset(&before, 0, sizeof before);
    for (uint32_t i = 0; i < p->nsegs; i++)
        assert_int_equal(region_scan(p->segs[i], p->segs[i]->hdr.map_size, &mem, &before, NULL,
                                     NULL), 0);
    size_t start = __atomic_load_n(&c.rounds, __ATOMIC_RELAXED);
    int r = nslab_pool_move(p, t, &pl);
    size_t end = __atomic_load_n(&c.rounds, __ATOMIC_RELAXED);
    __atomic_store_n(&c.stop, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    printf("pool of %d x %d B (%u segments), %d buffers out, node %d -> %d\n", COUNT, ELT,
           p->nsegs, OUT, a, t);
    print_placement("before", &before);
    print_placement("after ", &pl);
    printf("  another thread's rounds of 8 gets + 8 puts during the move: %zu\n", end - start);
    assert_int_equal(r, 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(pl.on_node[t], pl.pages);
    assert_pool_on(p, t);
    for (size_t i = 0; i < OUT; i++)
        if (!filled(b[i], i))
            fail_msg("buffer %zu changed", i);
    assert_int_equal(nslab_pool_node(p), t);
    assert_int_equal(stats_of(p).node, t);
    assert_int_equal(nslab_node_of(b[0]), t);
    assert_int_equal(nslab_node_of(b[OUT - 1]), t);
    assert_int_equal(capacity_held(a), held_a);
    assert_int_equal(capacity_held(t), held_t + reserved);

    /* Growth after the move lands on the new node. */
    uint32_t segs = p->nsegs;
    for (size_t i = OUT; i < COUNT + 100; i++)
        assert_non_null(b[i] = nslab_pool_get(p));
    assert_true(p->nsegs > segs);
    assert_pool_on(p, t);
    assert_true(capacity_held(t) < held_t + reserved);

    for (size_t i = 0; i < COUNT + 100; i++)
        assert_int_equal(nslab_pool_put(p, b[i]), 0);
    assert_int_equal(nslab_pool_audit(p, stderr), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
    assert_int_equal(capacity_held(a), held_a);
    assert_int_equal(capacity_held(t), held_t);
}

/* The target cannot hold the pool: ENOMEM, nothing moved.  The target is
 * filled by a region down to 128 MiB free; the pool commits 192 MiB. */
static void test_move_into_full_node_is_enomem(void **state)
{
    (void)state;
    int a, t;
    if (pick(&a, &t))
        TEST_SKIP("one node with memory: no other node to fill");
    const size_t left = 128 * MiB;
    nslab_node_info_t ti, ai;
    assert_int_equal(nslab_node_info(t, &ti), 0);
    assert_int_equal(nslab_node_info(a, &ai), 0);
    if (ti.mem_free < left + 64 * MiB || ai.mem_free < 192 * MiB + 128 * MiB)
        TEST_SKIP("nodes %d/%d have too little free memory", t, a);
    nslab_policy_t pt = nslab_policy_bind(t);
    nslab_region_opts_t fo = NSLAB_REGION_OPTS_INIT(.reserve = 8 * MiB);
    nslab_region_t *filler =
        nslab_region_create(((size_t)ti.mem_free - left) & ~(MiB - 1), &pt, &fo);
    assert_non_null(filler);
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 4096, .count = 192 * 256);
    nslab_pool_t *p = nslab_pool_create(a, &o);
    assert_non_null(p);
    void *b = nslab_pool_get(p);
    assert_non_null(b);
    fill(b, 77);
    assert_int_equal(nslab_node_info(t, &ti), 0);
    printf("node %d: %llu MiB free; moving a pool of %zu MiB there\n", t,
           (unsigned long long)(ti.mem_free >> 20), p->committed >> 20);
    assert_true(ti.mem_free < p->committed);

    expect_fail(p, t, ENOMEM, "move into a full node");
    assert_pool_on(p, a);
    assert_int_equal(stats_of(p).node, a);

    assert_int_equal(nslab_region_destroy(filler), 0);
    assert_int_equal(nslab_pool_move(p, t, &pl), 0);
    assert_pool_on(p, t);
    assert_true(filled(b, 77));
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

/* A buffer handed to a pipe with vmsplice holds its pages: they cannot be
 * migrated.  -EIO, the pool's node is the new one, the histogram shows the
 * pinned pages on the old node; a second move after the pipe is closed
 * completes. */
static void test_move_partial_pinned(void **state)
{
    (void)state;
    int a, t;
    if (pick(&a, &t))
        TEST_SKIP("one node with memory: nowhere to move to");
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = ELT, .count = 2000);
    nslab_pool_t *p = nslab_pool_create(a, &o);
    assert_non_null(p);
    void *b = nslab_pool_get(p);
    assert_non_null(b);
    fill(b, 5);
    int fds[2];
    pin_with_pipe(b, ELT, fds);

    errno = 0;
    assert_int_equal(nslab_pool_move(p, t, &pl), -EIO);
    assert_int_equal(errno, EIO);
    printf("pool of 2000 x %d B, one buffer pinned by a pipe, node %d -> %d\n", ELT, a, t);
    print_placement("after -EIO", &pl);
    assert_true(pl.on_node[a] >= 1);
    assert_int_equal(pl.on_node[a] + pl.on_node[t], pl.pages);
    assert_int_equal(nslab_pool_node(p), t);
    assert_int_equal(stats_of(p).node, t);
    assert_true(filled(b, 5));

    close(fds[0]);
    close(fds[1]);
    assert_int_equal(nslab_pool_move(p, t, &pl), 0);
    print_placement("after retry", &pl);
    assert_pool_on(p, t);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_move_same_node),
        cmocka_unit_test(test_move_errors),
        cmocka_unit_test(test_move_pool_in_use),
        cmocka_unit_test(test_move_into_full_node_is_enomem),
        cmocka_unit_test(test_move_partial_pinned),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
