/*
 * tests/arena/test_arena_numa.c - placement and routing across nodes
 * (promises 1, 2 and 6 for the arenas).  Runs here (one node: what needs
 * several is skipped with a reason) and in the 4-node guest (label
 * numa-vm through tests/vm):
 *  - numa_malloc_on(N, size) for every node with memory and many sizes:
 *    every page of the block is on N, the whole chunk (or large block's
 *    mapping) it came from is bound to N (get_mempolicy) and whatever of
 *    it is resident is on N (move_pages, called directly by testutil);
 *  - numa_malloc_local from a thread bound to each node with CPUs lands on
 *    that node's local node;
 *  - threads bound to different nodes allocate on their own node and free
 *    each other's blocks: no block ever crosses nodes (node_of and
 *    placement stay exact), remote frees show in the statistics, the audit
 *    is clean;
 *  - a full node: strict allocation fails with ENOMEM (a counted failure,
 *    the process alive), local allocation falls back to the nearest node by
 *    distance (a counted fallback).
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

static nslab_nodeset_t mem;
static int nmem;

static int setup(void **state)
{
    (void)state;
    nmem = testutil_memory_nodes(&mem);
    return nmem >= 1 ? 0 : -1;
}

static nslab_arena_stats_t stats(int node)
{
    nslab_arena_stats_t s = { .size = sizeof s, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &s), 0);
    return s;
}

/* Nodes with memory and CPUs (threads can be bound there). */
static int cpu_mem_nodes(int *out, int max)
{
    nslab_nodeset_t cpu;
    nslab_nodes(NSLAB_NODES_CPU, &cpu);
    int n = 0;
    for (int i = nslab_nodeset_next(&mem, 0); i >= 0 && n < max; i = nslab_nodeset_next(&mem, i + 1))
        if (nslab_nodeset_has(&cpu, i))
            out[n++] = i;
    return n;
}

static void test_placement_every_node(void **state)
{
    (void)state;
    static const size_t sizes[] = { 16, 64, 100, 1000, 4096, 10000, 65536, 65537, 200000,
                                    1 << 20, 3 << 20 };
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t s = sizes[i];
            char *p = numa_malloc_on(n, s);
            assert_non_null(p);
            assert_int_equal(nslab_node_of(p), n);
            memset(p, 1, s);
            assert_all_on_node(p, s, n);
            /* the whole mapping (a chunk, or a large block's region) was
             * bound to n before use: its first and last pages, touched or
             * not, will land on n; what is resident of it is on n */
            char *seg = (char *)((uintptr_t)p & ~(uintptr_t)((4u << 20) - 1));
            size_t seglen = s <= 65536 ? 4u << 20 : (size_t)(p - seg) + s;
            assert_int_equal(testutil_bound_node(seg), n);
            assert_int_equal(testutil_bound_node(seg + seglen - 1), n);
            assert_true(testutil_present_on(seg, seglen, n) >= s / 4096);
            assert_int_equal(nslab_free(p), 0);
        }
    }
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

struct local_arg {
    int node;
    int got;
};

static void *local_thread(void *argp)
{
    struct local_arg *a = argp;
    a->got = -100;
    if (nslab_thread_bind(a->node) != 0)
        return NULL;
    void *p = numa_malloc_local(256);
    if (p) {
        a->got = nslab_node_of(p);
        nslab_free(p);
    }
    return NULL;
}

static void test_local_is_local(void **state)
{
    (void)state;
    nslab_nodeset_t cpu;
    nslab_nodes(NSLAB_NODES_CPU, &cpu);
    int checked = 0;
    for (int n = nslab_nodeset_next(&cpu, 0); n >= 0; n = nslab_nodeset_next(&cpu, n + 1)) {
        nslab_node_info_t info;
        assert_int_equal(nslab_node_info(n, &info), 0);
        if (info.local_node < 0)
            continue;
        struct local_arg a = { .node = n };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, local_thread, &a), 0);
        assert_int_equal(pthread_join(t, NULL), 0);
        if (a.got == -100)
            continue; /* could not bind there (cpuset) */
        assert_int_equal(a.got, info.local_node);
        checked++;
    }
    assert_true(checked >= 1);
}

/* ---- threads on different nodes free each other's blocks ----------------- */

enum { XT = 4, XROUNDS = 6, XBLOCKS = 400 };

static pthread_barrier_t xbar;
static int xnode[XT];
static void *xout[XT][XBLOCKS];

static size_t xsize(int i)
{
    return (size_t)((i * 37) % 3000) + 16 + (i % 97 == 0 ? 70000 : 0);
}

static void *cross_worker(void *arg)
{
    int id = (int)(intptr_t)arg, node = xnode[id];
    if (nslab_thread_bind(node) != 0)
        return (void *)1;
    for (int r = 0; r < XROUNDS; r++) {
        for (int i = 0; i < XBLOCKS; i++) {
            size_t s = xsize(i);
            char *p = (i & 1) ? numa_malloc_local(s) : numa_malloc_on(node, s);
            if (!p || nslab_node_of(p) != node)
                return (void *)2;
            memset(p, id + 1, s);
            if (i % 8 == 0) {
                size_t total, on = testutil_pages_on(p, s, node, &total);
                if (on != total)
                    return (void *)3;
            }
            xout[id][i] = p;
        }
        pthread_barrier_wait(&xbar);
        /* free the next thread's blocks: remote frees when nodes differ */
        int from = (id + 1) % XT;
        for (int i = 0; i < XBLOCKS; i++) {
            char *p = xout[from][i];
            if (p[0] != from + 1 || nslab_free(p) != 0)
                return (void *)4;
        }
        pthread_barrier_wait(&xbar);
    }
    return NULL;
}

static void test_cross_node_frees(void **state)
{
    (void)state;
    int nodes[NSLAB_MAX_NODES];
    int n = cpu_mem_nodes(nodes, NSLAB_MAX_NODES);
    if (n < 2)
        TEST_SKIP("needs 2 nodes with CPUs and memory, this machine has %d", n);
    nslab_arena_stats_t before[XT];
    for (int i = 0; i < XT; i++) {
        xnode[i] = nodes[i % n];
        before[i] = stats(xnode[i]);
    }
    pthread_barrier_init(&xbar, NULL, XT);
    pthread_t t[XT];
    for (int i = 0; i < XT; i++)
        assert_int_equal(pthread_create(&t[i], NULL, cross_worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < XT; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    pthread_barrier_destroy(&xbar);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stdout), 0);
    uint64_t rin = 0, rout = 0;
    for (int i = 0; i < XT && i < n; i++) {
        nslab_arena_stats_t s = stats(xnode[i]);
        rin += s.remote_frees_in - before[i].remote_frees_in;
        rout += s.remote_frees_out - before[i].remote_frees_out;
        assert_int_equal(s.bytes_in_use, before[i].bytes_in_use);
    }
    printf("cross-node: %d threads on %d nodes, remote frees in %llu out %llu\n", XT, n,
           (unsigned long long)rin, (unsigned long long)rout);
    assert_true(rin > 0);
    assert_true(rout > 0);
}

/* ---- a full node --------------------------------------------------------- */

struct fill_arg {
    int node;
    int got;
};

static void *local_after_full(void *argp)
{
    struct fill_arg *a = argp;
    a->got = -100;
    if (nslab_thread_bind(a->node) != 0)
        return NULL;
    void *p = numa_malloc_local(65536);
    if (p) {
        a->got = nslab_node_of(p);
        nslab_free(p);
    }
    return NULL;
}

static void test_full_node(void **state)
{
    (void)state;
    int nodes[NSLAB_MAX_NODES];
    int n = cpu_mem_nodes(nodes, NSLAB_MAX_NODES);
    if (n < 2)
        TEST_SKIP("needs 2 nodes with CPUs and memory, this machine has %d", n);
    int full = nodes[n - 1];
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(full, &info), 0);
    if (info.mem_total > ((uint64_t)2 << 30))
        TEST_SKIP("node %d has %llu MiB: too big to fill in a test", full,
                  (unsigned long long)(info.mem_total >> 20));

    /* fill it: large blocks first, then 64 KiB blocks until the arena
     * cannot map another chunk */
    enum { MAXB = 8192 };
    static void *blk[MAXB];
    int k = 0;
    nslab_arena_stats_t s0 = stats(full);
    while (k < MAXB) {
        void *p = numa_malloc_on(full, (size_t)32 << 20);
        if (!p)
            break;
        blk[k++] = p;
    }
    assert_int_equal(errno, ENOMEM);
    while (k < MAXB) {
        void *p = numa_malloc_on(full, 65536);
        if (!p)
            break;
        blk[k++] = p;
    }
    assert_true(k < MAXB);
    assert_int_equal(errno, ENOMEM);
    nslab_arena_stats_t s1 = stats(full);
    assert_true(s1.failures > s0.failures);

    /* local falls back to the nearest node with room */
    int order[NSLAB_MAX_NODES], no = 0;
    for (int m = nslab_nodeset_next(&mem, 0); m >= 0; m = nslab_nodeset_next(&mem, m + 1))
        if (m != full)
            order[no++] = m;
    assert_true(no >= 1);
    int nearest = no ? order[0] : -1;
    for (int i = 1; i < no; i++)
        if (nslab_node_distance(full, order[i]) < nslab_node_distance(full, nearest))
            nearest = order[i];
    struct fill_arg a = { .node = full };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, local_after_full, &a), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    if (a.got != -100) {
        assert_int_equal(a.got, nearest);
        nslab_arena_stats_t s2 = stats(full);
        assert_true(s2.fallbacks > s1.fallbacks);
    }
    for (int i = 0; i < k; i++)
        assert_int_equal(nslab_free(blk[i]), 0);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placement_every_node),
        cmocka_unit_test(test_local_is_local),
        cmocka_unit_test(test_cross_node_frees),
        cmocka_unit_test(test_full_node),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
