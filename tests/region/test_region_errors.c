/*
 * tests/region/test_region_errors.c - bad input gets its documented errno
 * and leaks nothing (DESIGN promise 12): no mapping, no registered segment,
 * no capacity held is left behind (checked before/after each call).
 * Offline, memory-only, memoryless and outside-the-cpuset nodes are tested
 * on a fake sysfs tree (topology_reload), and on the real machine where it
 * has such nodes (the "mixed" VM spec does).
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static const struct topology *T;
static int node0;

static int setup(void **state)
{
    (void)state;
    T = topology_get();
    node0 = testutil_memory_node(0);
    return node0 < 0;
}

/* Create must fail with `err`, leaving nothing behind. */
static void expect_fail(size_t size, const nslab_policy_t *p, const nslab_region_opts_t *o,
                        int err, const char *what)
{
    struct leak_snap before;
    leak_snap(&before);
    errno = 0;
    nslab_region_t *r = nslab_region_create(size, p, o);
    if (r)
        fail_msg("%s: created, expected errno %d", what, err);
    if (errno != err)
        fail_msg("%s: errno %d (%s), expected %d (%s)", what, errno, strerror(errno), err,
                 strerror(err));
    leak_assert_same(&before, what);
}

static void test_bad_nodes(void **state)
{
    (void)state;
    nslab_policy_t p;

    p = nslab_policy_preferred(-2);
    expect_fail(MiB, &p, NULL, EINVAL, "preferred(-2)");
    p = nslab_policy_preferred(INT32_MIN);
    expect_fail(MiB, &p, NULL, EINVAL, "preferred(INT_MIN)");
    p = nslab_policy_bind(-7);
    expect_fail(MiB, &p, NULL, EINVAL, "bind(-7): empty set");
    p = nslab_policy_local();
    p.node = -3;
    expect_fail(MiB, &p, NULL, EINVAL, "local node -3");

    p = nslab_policy_preferred(T->nr_nodes);
    expect_fail(MiB, &p, NULL, EINVAL, "preferred(nr_nodes)");
    p = nslab_policy_bind(T->nr_nodes);
    expect_fail(MiB, &p, NULL, EINVAL, "bind(nr_nodes)");
    p = nslab_policy_bind(NSLAB_MAX_NODES - 1);
    expect_fail(MiB, &p, NULL, EINVAL, "bind(NSLAB_MAX_NODES - 1)");
    p = nslab_policy_bind(NSLAB_MAX_NODES + 5);
    expect_fail(MiB, &p, NULL, EINVAL, "bind(past NSLAB_MAX_NODES)");
    p = nslab_policy_local();
    p.node = T->nr_nodes;
    expect_fail(MiB, &p, NULL, EINVAL, "local node nr_nodes");

    /* A set holding one good node and one out of range. */
    p = nslab_policy_bind(node0);
    nslab_nodeset_add(&p.nodes, T->nr_nodes);
    expect_fail(MiB, &p, NULL, EINVAL, "bind({node0, nr_nodes})");

    /* numa_malloc_interleaved: same checks. */
    struct leak_snap before;
    leak_snap(&before);
    nslab_nodeset_t s = nslab_nodeset_of(T->nr_nodes);
    errno = 0;
    assert_null(numa_malloc_interleaved(MiB, &s));
    assert_int_equal(errno, EINVAL);
    leak_assert_same(&before, "interleaved over nr_nodes");
}

static void test_empty_set_and_weights(void **state)
{
    (void)state;
    nslab_nodeset_t empty;
    nslab_nodeset_zero(&empty);
    nslab_policy_t p = nslab_policy_interleave(&empty);
    expect_fail(MiB, &p, NULL, EINVAL, "interleave(empty)");
    p.mode = NSLAB_POLICY_BIND;
    expect_fail(MiB, &p, NULL, EINVAL, "bind(empty)");
    p.mode = NSLAB_POLICY_PREFERRED_MANY;
    expect_fail(MiB, &p, NULL, EINVAL, "preferred_many(empty)");
    struct leak_snap before;
    leak_snap(&before);
    errno = 0;
    assert_null(numa_malloc_interleaved(MiB, &empty));
    assert_int_equal(errno, EINVAL);
    leak_assert_same(&before, "numa_malloc_interleaved(empty)");

    unsigned char w[2] = {1, 1};
    p = (nslab_policy_t){.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE,
                         .nodes = nslab_nodeset_of(node0), .weights = w, .nweights = 2};
    expect_fail(MiB, &p, NULL, EINVAL, "weights: 2 for 1 node");
    p.nweights = 0;
    expect_fail(MiB, &p, NULL, EINVAL, "weights: 0 for 1 node");
    p.nweights = 1;
    p.weights = NULL;
    expect_fail(MiB, &p, NULL, EINVAL, "weights: NULL");
    w[0] = 0;
    p.weights = w;
    expect_fail(MiB, &p, NULL, EINVAL, "weights: weight 0");
    p.nodes = empty;
    p.nweights = 0;
    expect_fail(MiB, &p, NULL, EINVAL, "weighted over empty set");
}

static void test_bad_sizes(void **state)
{
    (void)state;
    nslab_policy_t p = nslab_policy_bind(node0);
    expect_fail(0, &p, NULL, EINVAL, "size 0");
    expect_fail(0, NULL, NULL, EINVAL, "size 0, NULL policy");
    expect_fail(SIZE_MAX, &p, NULL, ENOMEM, "size SIZE_MAX");
    expect_fail(SIZE_MAX - 4096, &p, NULL, ENOMEM, "size SIZE_MAX - 4096");
    expect_fail(SIZE_MAX / 2, NULL, NULL, ENOMEM, "size SIZE_MAX / 2, local");
    expect_fail((size_t)1 << 46, NULL, NULL, ENOMEM, "size 64 TiB, local");
    struct leak_snap before;
    leak_snap(&before);
    errno = 0;
    assert_null(numa_malloc_interleaved(0, NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(numa_malloc_interleaved(SIZE_MAX - 100, NULL));
    assert_int_equal(errno, ENOMEM);
    leak_assert_same(&before, "numa_malloc_interleaved bad sizes");
}

static void test_bad_flags_and_modes(void **state)
{
    (void)state;
    nslab_policy_t p = nslab_policy_bind(node0);
    p.flags = NSLAB_POLICY_STATIC_NODES | NSLAB_POLICY_RELATIVE_NODES;
    expect_fail(MiB, &p, NULL, EINVAL, "STATIC|RELATIVE");
    p.flags = 0x100;
    expect_fail(MiB, &p, NULL, EINVAL, "unknown flag");
    p = nslab_policy_local();
    p.flags = NSLAB_POLICY_STATIC_NODES;
    expect_fail(MiB, &p, NULL, EINVAL, "LOCAL with STATIC");
    p = nslab_policy_bind(node0);
    p.mode = (nslab_policy_mode_t)77;
    expect_fail(MiB, &p, NULL, EINVAL, "mode 77");

    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.prefault = (nslab_prefault_t)9);
    expect_fail(MiB, NULL, &o, EINVAL, "prefault 9");
    o = (nslab_region_opts_t)NSLAB_REGION_OPTS_INIT(.pages = (nslab_pages_t)9);
    expect_fail(MiB, NULL, &o, EINVAL, "pages 9");
    o = (nslab_region_opts_t)NSLAB_REGION_OPTS_INIT(.flags = 0x80);
    expect_fail(MiB, NULL, &o, EINVAL, "region flag 0x80");
    /* A hugetlb memfd bound to a node without free huge pages: ENOMEM at
     * creation (per-node free huge pages), not SIGBUS at the prefault. */
    if (hugetlb_free_pages() == 0) {
        nslab_policy_t b = nslab_policy_bind(node0);
        o = (nslab_region_opts_t)NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_HUGETLB, .flags = NSLAB_REGION_MEMFD);
        expect_fail(MiB, &b, &o, ENOMEM, "HUGETLB|MEMFD, no huge pages");
    }

    if (!T->has_preferred_many) {
        p = (nslab_policy_t){.mode = NSLAB_POLICY_PREFERRED_MANY,
                             .nodes = nslab_nodeset_of(node0)};
        expect_fail(MiB, &p, NULL, EOPNOTSUPP, "PREFERRED_MANY before 5.15");
    } else {
        print_message("kernel has MPOL_PREFERRED_MANY: its EOPNOTSUPP is not reachable\n");
    }
}

static void test_foreign_pointers(void **state)
{
    (void)state;
    char stack_byte = 0;
    void *heap = malloc(100);
    void *big = malloc(8 * MiB);
    struct leak_snap before;
    leak_snap(&before);

    void *bad[] = {NULL, &stack_byte, heap, big, (void *)(uintptr_t)SEG_SIZE,
                   (void *)(uintptr_t)-4096, (void *)(uintptr_t)&setup};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(nslab_region_of(bad[i]));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_int_equal(nslab_region_destroy(bad[i]), -EINVAL);
        assert_int_equal(errno, EINVAL);
        assert_null(nslab_region_addr(bad[i]));
        assert_int_equal(nslab_region_size(bad[i]), 0);
        assert_int_equal(nslab_region_fd(bad[i]), -EINVAL);
        nslab_region_report_t rep;
        assert_int_equal(nslab_region_report(bad[i], &rep), -EINVAL);
    }
    leak_assert_same(&before, "foreign pointers");

    /* Pointers inside a live region that it was not returned as. */
    nslab_region_t *r = nslab_region_create(8 * MiB, NULL, NULL);
    assert_non_null(r);
    char *p = nslab_region_addr(r);
    assert_ptr_equal(nslab_region_of(p), r);
    assert_null(nslab_region_of(p + 1));
    assert_int_equal(errno, EINVAL);
    assert_null(nslab_region_of(p + 5 * MiB));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_region_destroy((nslab_region_t *)p), -EINVAL);
    assert_int_equal(nslab_region_report(r, NULL), -EINVAL);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, NULL), -EINVAL);
    assert_int_equal(nslab_region_destroy(r), 0);
    /* Its handle is dead now: found by the bitmap without touching it. */
    assert_int_equal(nslab_region_destroy(r), -EINVAL);
    assert_null(nslab_region_of(p));
    assert_int_equal(nslab_region_verify(r, &pl), -EINVAL);

    /* A mapping the library does not own at a SEG_SIZE-aligned address. */
    void *m = mmap(NULL, 2 * SEG_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    void *aligned = (void *)(((uintptr_t)m + SEG_MASK) & ~(uintptr_t)SEG_MASK);
    memset(aligned, 0xff, 4096); /* looks like garbage, not a header */
    assert_null(nslab_region_of(aligned));
    assert_int_equal(nslab_region_destroy(aligned), -EINVAL);
    munmap(m, 2 * SEG_SIZE);
    free(heap);
    free(big);
}

static void test_placement_bad_input(void **state)
{
    (void)state;
    nslab_placement_t pl;
    char x = 0;
    assert_int_equal(nslab_range_placement(NULL, 10, &pl), -EINVAL);
    assert_int_equal(nslab_range_placement(&x, 0, &pl), -EINVAL);
    assert_int_equal(nslab_range_placement(&x, 1, NULL), -EINVAL);
    assert_int_equal(nslab_range_placement(&x, SIZE_MAX, &pl), -EINVAL);
    /* A range with nothing mapped. */
    long ps = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    munmap(m, 4 * ps);
    errno = 0;
    assert_int_equal(nslab_range_placement(m, 4 * ps, &pl), -EFAULT);
    assert_int_equal(errno, EFAULT);
    assert_int_equal(pl.errors, 4);
    /* Mapped, never touched: not present. */
    m = mmap(NULL, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    m[ps] = 1;
    assert_int_equal(nslab_range_placement(m, 4 * ps, &pl), 0);
    assert_int_equal(pl.pages, 4);
    assert_int_equal(pl.not_present + pl.errors, 3);
    assert_int_equal(placement_sum(&pl), 1);
    munmap(m, 4 * ps);
}

/* ---- nodes of other kinds: the fake tree, and the real one if it has them */

static void check_kinds(const char *where, int offline, int memory_only, int memoryless,
                        int not_allowed)
{
    nslab_policy_t p;
    char what[128];
    if (offline >= 0) {
        snprintf(what, sizeof what, "%s: offline node %d", where, offline);
        p = nslab_policy_bind(offline);
        expect_fail(MiB, &p, NULL, ENODEV, what);
        p = nslab_policy_preferred(offline);
        expect_fail(MiB, &p, NULL, ENODEV, what);
        p = nslab_policy_local();
        p.node = offline;
        expect_fail(MiB, &p, NULL, ENODEV, what);
    }
    if (memory_only >= 0) {
        snprintf(what, sizeof what, "%s: memory-only node %d as Local", where, memory_only);
        p = nslab_policy_local();
        p.node = memory_only;
        expect_fail(MiB, &p, NULL, EINVAL, what);
    }
    if (memoryless >= 0) {
        snprintf(what, sizeof what, "%s: memoryless node %d bound", where, memoryless);
        p = nslab_policy_bind(memoryless);
        expect_fail(MiB, &p, NULL, ENODEV, what);
        nslab_nodeset_t s = nslab_nodeset_of(memoryless);
        p = nslab_policy_interleave(&s);
        expect_fail(MiB, &p, NULL, ENODEV, what);
    }
    if (not_allowed >= 0) {
        snprintf(what, sizeof what, "%s: node %d outside the cpuset", where, not_allowed);
        p = nslab_policy_bind(not_allowed);
        expect_fail(MiB, &p, NULL, EXDEV, what);
        p = nslab_policy_preferred(not_allowed);
        expect_fail(MiB, &p, NULL, EXDEV, what);
        nslab_nodeset_t s = nslab_nodeset_of(not_allowed);
        p = nslab_policy_interleave(&s);
        expect_fail(MiB, &p, NULL, EXDEV, what);
    }
}

static void test_fake_topology_kinds(void **state)
{
    (void)state;
    char dir[256];
    fake_topology_enter(dir, sizeof dir);
    const struct topology *t = topology_get();
    assert_int_equal(t->nr_nodes, 5);
    check_kinds("fake", 2, 3, 4, 1);
    /* Local to memoryless node 4's CPUs: its nearest node with memory. */
    assert_int_equal(t->node[4].local_node, 0);
    fake_topology_leave(dir);
    T = topology_get();
    assert_true(T->nr_nodes >= 1);
}

static void test_real_topology_kinds(void **state)
{
    (void)state;
    int offline = -1, memory_only = -1, memoryless = -1, not_allowed = -1;
    for (int n = 0; n < T->nr_nodes; n++) {
        const struct topo_node *tn = &T->node[n];
        if (!tn->online && offline < 0)
            offline = n;
        else if (tn->online && tn->has_memory && !tn->has_cpus && memory_only < 0)
            memory_only = n;
        else if (tn->online && !tn->has_memory && tn->has_cpus && memoryless < 0)
            memoryless = n;
        if (tn->online && tn->has_memory && !tn->allowed && not_allowed < 0)
            not_allowed = n;
    }
    if (offline < 0 && memory_only < 0 && memoryless < 0 && not_allowed < 0)
        TEST_SKIP("this machine has no offline, memory-only, memoryless or disallowed node "
                  "(the fake tree covers them)");
    check_kinds("real", offline, memory_only, memoryless, not_allowed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_nodes),
        cmocka_unit_test(test_empty_set_and_weights),
        cmocka_unit_test(test_bad_sizes),
        cmocka_unit_test(test_bad_flags_and_modes),
        cmocka_unit_test(test_foreign_pointers),
        cmocka_unit_test(test_placement_bad_input),
        cmocka_unit_test(test_fake_topology_kinds),
        cmocka_unit_test(test_real_topology_kinds),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
