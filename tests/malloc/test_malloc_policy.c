/*
 * tests/malloc/test_malloc_policy.c - where malloc puts memory under each
 * NUMASLAB_POLICY (the mapping documented in arena/malloc/malloc.c), checked with
 * move_pages(2) called directly (testutil) and nslab_node_of.
 *
 * Linked with libnumaslab-malloc (no preload needed, so it runs unchanged in
 * the VM).  The configuration is read once per process, so each policy runs
 * in a re-executed child (`--child NAME`) with NUMASLAB_POLICY set.
 * test_large_lazy: a large malloc is bound, not populated (default
 * prefault), and its touched pages land on the bound node; with
 * NUMASLAB_PREFAULT=all it is populated whole.  On this
 * one-node machine the single-node forms run and the spreads skip visibly;
 * the VM's four-node spec runs all of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static void *(*volatile malloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;

static nslab_nodeset_t mem_nodes;
static int n_mem, first_node, last_node;

static void nodes_init(void)
{
    n_mem = testutil_memory_nodes(&mem_nodes);
    first_node = nslab_nodeset_next(&mem_nodes, 0);
    last_node = first_node;
    for (int n = first_node; n >= 0; n = nslab_nodeset_next(&mem_nodes, n + 1))
        last_node = n;
}

/* ---- children: exit 0 when the placement is right ------------------------ */

#define CHILD_CHECK(cond, ...)                                                 \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "child check failed: " __VA_ARGS__);               \
            fprintf(stderr, "\n");                                             \
            return 1;                                                          \
        }                                                                      \
    } while (0)

/* Every block, small to large, and every page of them, on `node`. */
static int all_on(int node)
{
    static void *p[400];
    size_t n = 0;
    for (size_t sz = 16; sz <= (8u << 20); sz = sz * 5 / 4 + 16) {
        p[n] = malloc_fn(sz);
        CHILD_CHECK(p[n] != NULL, "malloc(%zu)", sz);
        memset(p[n], 1, sz);
        CHILD_CHECK(nslab_node_of(p[n]) == node, "malloc(%zu) is on node %d, not %d", sz,
                    nslab_node_of(p[n]), node);
        size_t total, on = testutil_pages_on(p[n], sz, node, &total);
        CHILD_CHECK(on == total, "malloc(%zu): %zu of %zu pages on node %d", sz, on, total,
                    node);
        n++;
    }
    void *c = calloc(1000, 1000), *a = aligned_alloc(4096, 50000);
    CHILD_CHECK(c && nslab_node_of(c) == node, "calloc on node %d", nslab_node_of(c));
    CHILD_CHECK(a && nslab_node_of(a) == node, "aligned_alloc on node %d", nslab_node_of(a));
    free_fn(c);
    free_fn(a);
    while (n)
        free_fn(p[--n]);
    return 0;
}

struct nearest_arg {
    int cpu_node;
    int got[64];
};

static void *on_cpu_node(void *argp)
{
    struct nearest_arg *arg = argp;
    if (nslab_thread_bind(arg->cpu_node) != 0)
        return (void *)1;
    for (int i = 0; i < 64; i++) {
        void *q = malloc_fn(64 + (size_t)i * 1000);
        arg->got[i] = q ? nslab_node_of(q) : -100;
        free_fn(q);
    }
    return NULL;
}

/* Per-node counts of `count` blocks of `size` bytes from one thread. */
static void spread(size_t count, size_t size, size_t *per_node)
{
    void **p = malloc_fn(count * sizeof *p);
    memset(per_node, 0, sizeof(size_t) * NSLAB_MAX_NODES);
    for (size_t i = 0; i < count; i++) {
        p[i] = malloc_fn(size);
        int n = nslab_node_of(p[i]);
        if (n >= 0 && n < NSLAB_MAX_NODES)
            per_node[n]++;
    }
    for (size_t i = 0; i < count; i++)
        free_fn(p[i]);
    free_fn(p);
}

/* A large block under the replacement's default prefault is bound to
 * `node` but not populated: nothing of it is resident until touched (its
 * header page aside), the node's committed bytes do not count it, and each
 * page the program touches lands on the node.  all != 0
 * (NUMASLAB_PREFAULT=all): resident whole before any touch, and counted. */
static int large_lazy(int node, int all)
{
    const size_t len = 32u << 20, ps = (size_t)sysconf(_SC_PAGESIZE);
    nslab_arena_stats_t s0 = { .size = sizeof s0, .version = NSLAB_STATS_VERSION };
    nslab_arena_stats_t s1 = s0;
    CHILD_CHECK(nslab_arena_stats(node, &s0) == 0, "stats");
    unsigned char *big = malloc_fn(len);
    CHILD_CHECK(big != NULL, "malloc(%zu)", len);
    CHILD_CHECK(nslab_node_of(big) == node, "block on node %d, not %d", nslab_node_of(big),
                node);
    CHILD_CHECK(nslab_arena_stats(node, &s1) == 0, "stats");
    size_t resident = testutil_resident_pages(big, len);
    CHILD_CHECK(testutil_bound_node(big) == node && testutil_bound_node(big + len - 1) == node,
                "block not bound to node %d", node);
    printf("prefault %s: %zu of %zu pages resident before any touch, committed %+lld KiB\n",
           all ? "all" : "default", resident, len / ps,
           (long long)(s1.bytes_committed - s0.bytes_committed) / 1024);
    if (all) {
        CHILD_CHECK(resident == len / ps, "%zu of %zu pages resident", resident, len / ps);
        CHILD_CHECK(s1.bytes_committed >= s0.bytes_committed + len, "not counted committed");
        CHILD_CHECK(testutil_present_on(big, len, node) == len / ps, "pages off the node");
    } else {
        /* under THP "always" the header's write faults in its huge page */
        size_t thp_pages = testutil_thp_always() ? ((size_t)2 << 20) / ps - 1 : 0;
        CHILD_CHECK(resident <= thp_pages, "%zu pages resident before any touch", resident);
        CHILD_CHECK(s1.bytes_committed < s0.bytes_committed + len / 2,
                    "counted committed: %llu -> %llu", (unsigned long long)s0.bytes_committed,
                    (unsigned long long)s1.bytes_committed);
        /* touch one page in 16: exactly those become resident, on the node */
        size_t touched = 0;
        for (size_t off = 0; off < len; off += 16 * ps, touched++)
            big[off] = 1;
        size_t on = testutil_present_on(big, len, node);
        printf("touched %zu pages: %zu resident, all on node %d\n", touched, on, node);
        /* (with THP "always" the kernel rounds each touch up to a huge
         * page; they are on the node all the same) */
        CHILD_CHECK(thp_pages ? on >= touched : on == touched,
                    "%zu pages resident after touching %zu", on, touched);
    }
    free_fn(big);
    return 0;
}

/* Under an interleave policy a 16 MiB malloc is one interleaved region
 * whose pages spread over the nodes with memory: each holds at least half
 * its share, and a drained node `gone` (-1: none) none.  0, or 1 with a
 * child check's message. */
static int large_spread(int gone)
{
    size_t len = 16u << 20;
    unsigned char *big = malloc_fn(len);
    CHILD_CHECK(big && nslab_region_of(big) != NULL, "large block is not a region");
    memset(big, 1, len);
    for (int n = first_node; n >= 0; n = nslab_nodeset_next(&mem_nodes, n + 1)) {
        size_t total, on = testutil_pages_on(big, len, n, &total);
        printf("node %d: %zu of %zu pages of the large block\n", n, on, total);
        if (n == gone)
            CHILD_CHECK(on == 0, "drained node %d has %zu pages", n, on);
        else
            CHILD_CHECK(on * n_mem * 2 >= total, "node %d has %zu of %zu pages", n, on, total);
    }
    free_fn(big);
    return 0;
}

static int child_main(const char *name)
{
    nodes_init();
    if (strcmp(name, "large-lazy") == 0 || strcmp(name, "large-all") == 0)
        return large_lazy(last_node, name[6] == 'a');
    if (strcmp(name, "bind") == 0 || strcmp(name, "preferred") == 0)
        return all_on(last_node);
    if (strcmp(name, "bind-nearest") == 0) {
        /* bind:first,last: a thread on any other node goes to the nearer */
        for (int m = 0; m < nslab_node_count(); m++) {
            nslab_node_info_t info;
            if (m == first_node || m == last_node || nslab_node_info(m, &info) != 0 ||
                !info.has_cpus)
                continue;
            int df = nslab_node_distance(m, first_node), dl = nslab_node_distance(m, last_node);
            int local = info.local_node;
            int want = (local == first_node || local == last_node) ? local
                       : dl < df ? last_node : first_node;
            struct nearest_arg arg = { .cpu_node = m };
            pthread_t t;
            void *ret;
            CHILD_CHECK(pthread_create(&t, NULL, on_cpu_node, &arg) == 0, "pthread_create");
            pthread_join(t, &ret);
            CHILD_CHECK(ret == NULL, "cannot bind a thread to node %d", m);
            for (int i = 0; i < 64; i++)
                CHILD_CHECK(arg.got[i] == want, "thread on node %d: block %d on node %d, "
                            "want %d (distances %d/%d)", m, i, arg.got[i], want, df, dl);
            printf("thread on node %d -> node %d\n", m, want);
        }
        return 0;
    }
    if (strcmp(name, "interleave") == 0 || strcmp(name, "weighted") == 0) {
        static size_t per_node[NSLAB_MAX_NODES];
        const size_t count = 4000;
        int weighted = name[0] == 'w';
        size_t wsum = weighted ? 4 : (size_t)n_mem;
        spread(count, 64, per_node);
        for (int n = first_node; n >= 0; n = nslab_nodeset_next(&mem_nodes, n + 1)) {
            size_t w = !weighted ? 1 : n == first_node ? 3 : n == last_node ? 1 : 0;
            size_t want = count * w / wsum;
            printf("node %d: %zu of %zu small blocks (want %zu)\n", n, per_node[n], count, want);
            /* exact turns, one thread: off by at most one turn */
            CHILD_CHECK(per_node[n] + 3 >= want && per_node[n] <= want + 3,
                        "node %d got %zu small blocks, want %zu", n, per_node[n], want);
        }
        if (!weighted) {
            /* a large block is one interleaved region: its pages spread */
            return large_spread(-1);
        }
        return 0;
    }
    if (strcmp(name, "interleave-drained") == 0) {
        /* a member drained (nslab_node_drain): small blocks and the large
         * interleaved block spread over the others, none on it */
        int gone = nslab_nodeset_next(&mem_nodes, first_node + 1);
        CHILD_CHECK(nslab_node_drain(gone, NULL, 0, NULL) >= 0, "drain node %d: %d", gone, errno);
        static size_t per_node[NSLAB_MAX_NODES];
        const size_t count = 3000;
        spread(count, 64, per_node);
        for (int n = first_node; n >= 0; n = nslab_nodeset_next(&mem_nodes, n + 1)) {
            printf("node %d%s: %zu of %zu small blocks\n", n, n == gone ? " (drained)" : "",
                   per_node[n], count);
            if (n == gone)
                CHILD_CHECK(per_node[n] == 0, "drained node %d got %zu blocks", n, per_node[n]);
            else
                CHILD_CHECK(per_node[n] * (size_t)n_mem >= count / 2,
                            "node %d got only %zu small blocks", n, per_node[n]);
        }
        return large_spread(gone);
    }
    return 99;
}

/* ---- the tests ---------------------------------------------------------- */

static int run_child_env(const char *name, const char *policy, const char *prefault)
{
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setenv("NUMASLAB_POLICY", policy, 1);
        if (prefault)
            setenv("NUMASLAB_PREFAULT", prefault, 1);
        else
            unsetenv("NUMASLAB_PREFAULT");
        setenv("NUMASLAB_VERBOSE", "1", 1);
        execl("/proc/self/exe", "test_malloc_policy", "--child", name, (char *)NULL);
        _exit(127);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_child(const char *name, const char *policy)
{
    return run_child_env(name, policy, NULL);
}

static void test_large_lazy(void **state)
{
    (void)state;
    char pol[32];
    snprintf(pol, sizeof pol, "bind:%d", last_node);
    assert_int_equal(run_child("large-lazy", pol), 0);
    assert_int_equal(run_child_env("large-all", pol, "all"), 0);
    if (n_mem < 2)
        TEST_SKIP("one memory node: pages landing away from the local node needs the VM");
}

static void test_malloc_is_numaslab(void **state)
{
    (void)state;
    void *p = malloc_fn(10);
    assert_true(nslab_node_of(p) >= 0);
    free_fn(p);
}

static void test_bind(void **state)
{
    (void)state;
    char pol[32];
    snprintf(pol, sizeof pol, "bind:%d", last_node);
    assert_int_equal(run_child("bind", pol), 0);
    if (n_mem < 2)
        TEST_SKIP("one memory node: binding away from the local node needs the VM");
}

static void test_bind_nearest(void **state)
{
    (void)state;
    if (n_mem < 3)
        TEST_SKIP("fewer than 3 memory nodes: the nearest-member choice needs the VM");
    char pol[32];
    snprintf(pol, sizeof pol, "bind:%d,%d", first_node, last_node);
    assert_int_equal(run_child("bind-nearest", pol), 0);
}

static void test_preferred(void **state)
{
    (void)state;
    char pol[32];
    snprintf(pol, sizeof pol, "preferred:%d", last_node);
    assert_int_equal(run_child("preferred", pol), 0);
}

static void test_interleave(void **state)
{
    (void)state;
    assert_int_equal(run_child("interleave", "interleave:all"), 0);
    if (n_mem < 2)
        TEST_SKIP("one memory node: the spread needs the VM");
}

/* NUMASLAB_POLICY=interleave:all with one member drained: the others take
 * it all (the large block's interleaved region too). */
static void test_interleave_drained(void **state)
{
    (void)state;
    if (n_mem < 3)
        TEST_SKIP("fewer than three memory nodes: the VM has four");
    assert_int_equal(run_child("interleave-drained", "interleave:all"), 0);
}

static void test_weighted(void **state)
{
    (void)state;
    char pol[64];
    if (n_mem < 2)
        snprintf(pol, sizeof pol, "weighted:%d=3", first_node);
    else
        snprintf(pol, sizeof pol, "weighted:%d=3,%d=1", first_node, last_node);
    if (n_mem < 2) {
        /* one node: everything on it, weights or not */
        assert_int_equal(run_child("bind", pol), 0);
        TEST_SKIP("one memory node: the 3:1 split needs the VM");
    }
    assert_int_equal(run_child("weighted", pol), 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    nodes_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malloc_is_numaslab),
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_bind_nearest),
        cmocka_unit_test(test_preferred),
        cmocka_unit_test(test_interleave),
        cmocka_unit_test(test_interleave_drained),
        cmocka_unit_test(test_weighted),
        cmocka_unit_test(test_large_lazy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
