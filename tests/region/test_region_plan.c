/*
 * tests/region/test_region_plan.c - the emulated weighted interleave
 * (kernels before 6.9, or weights other than the system's): the sub-range
 * plan gives each node exactly the share its weight asks (within one
 * granule, summing to the whole), in consecutive granule-aligned pieces;
 * and an emulated region is placed by that plan and reported as emulated.
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static struct region_subrange sub[REGION_MAX_SUBRANGES];

/* Check the plan's shape and return per-node bytes in bytes_by_index[]. */
static void check_plan(const nslab_nodeset_t *nodes, const unsigned char *w, size_t len,
                       size_t gran, size_t ns, uint64_t *bytes_by_index)
{
    int k = nslab_nodeset_count(nodes);
    assert_true(ns >= 1 && ns <= REGION_MAX_SUBRANGES);
    size_t at = 0;
    for (size_t i = 0; i < ns; i++) {
        assert_int_equal(sub[i].off, at);             /* consecutive */
        assert_int_equal(sub[i].off % gran, 0);       /* granule aligned */
        assert_true(sub[i].len > 0);
        if (i + 1 < ns)
            assert_int_equal(sub[i].len % gran, 0);   /* only the last is partial */
        if (i > 0)
            assert_true(sub[i].node != sub[i - 1].node); /* merged */
        assert_true(nslab_nodeset_has(nodes, sub[i].node));
        int idx = 0;
        for (int n = nslab_nodeset_next(nodes, 0); n != sub[i].node; n = nslab_nodeset_next(nodes, n + 1))
            idx++;
        bytes_by_index[idx] += sub[i].len;
        at += sub[i].len;
    }
    assert_int_equal(at, len); /* covers [0, len) exactly */

    /* Each node's bytes within one granule of len * w_i / W, exactly:
     * |bytes_i * W - len * w_i| < gran * W. */
    unsigned __int128 W = 0;
    for (int i = 0; i < k; i++)
        W += w[i];
    for (int i = 0; i < k; i++) {
        unsigned __int128 got = (unsigned __int128)bytes_by_index[i] * W;
        unsigned __int128 want = (unsigned __int128)len * w[i];
        unsigned __int128 d = got > want ? got - want : want - got;
        if (d >= (unsigned __int128)gran * W)
            fail_msg("node index %d weight %u: %llu bytes, weights say %.1f (granule %zu)", i,
                     w[i], (unsigned long long)bytes_by_index[i],
                     (double)len * w[i] / (double)W, gran);
    }
}

static void test_plan_exact_multiples(void **state)
{
    (void)state;
    nslab_nodeset_t s;
    nslab_nodeset_zero(&s);
    nslab_nodeset_add(&s, 0);
    nslab_nodeset_add(&s, 1);
    nslab_nodeset_add(&s, 3);
    unsigned char w[3] = {1, 2, 3};
    const size_t gran = 2 * MiB, len = 6 * 40 * gran;
    size_t ns = region_weighted_plan(&s, w, len, gran, sub, REGION_MAX_SUBRANGES);
    uint64_t bytes[3] = {0};
    check_plan(&s, w, len, gran, ns, bytes);
    /* len divisible by W granules: exactly proportional. */
    assert_int_equal(bytes[0], 40 * gran);
    assert_int_equal(bytes[1], 80 * gran);
    assert_int_equal(bytes[2], 120 * gran);
    /* 240 granules, W = 6: 40 rounds of (1, 2, 3) granules. */
    assert_int_equal(ns, 120);
    assert_int_equal(sub[0].node, 0);
    assert_int_equal(sub[0].len, gran);
    assert_int_equal(sub[1].node, 1);
    assert_int_equal(sub[1].len, 2 * gran);
    assert_int_equal(sub[2].node, 3);
    assert_int_equal(sub[2].len, 3 * gran);
}

static void test_plan_many_shapes(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ull; /* xorshift: deterministic */
    for (int iter = 0; iter < 2000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int k = 1 + (int)(x % 16);
        nslab_nodeset_t s;
        nslab_nodeset_zero(&s);
        unsigned char w[16];
        int node = (int)((x >> 8) % 5);
        for (int i = 0; i < k; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            node += 1 + (int)(x % 60); /* < NSLAB_MAX_NODES: ascending */
            nslab_nodeset_add(&s, node);
            w[i] = (unsigned char)(1 + x % 255);
        }
        assert_int_equal(nslab_nodeset_count(&s), k);
        size_t gran = (size_t)4096 << (x % 10);
        size_t len = 1 + (size_t)((x >> 20) % (4096ull * 100000));
        size_t ns = region_weighted_plan(&s, w, len, gran, sub, REGION_MAX_SUBRANGES);
        uint64_t bytes[16] = {0};
        check_plan(&s, w, len, gran, ns, bytes);
    }
}

static void test_plan_bad_input(void **state)
{
    (void)state;
    nslab_nodeset_t s, empty;
    nslab_nodeset_zero(&empty);
    nslab_nodeset_zero(&s);
    nslab_nodeset_add(&s, 0);
    nslab_nodeset_add(&s, 1);
    unsigned char w[2] = {1, 0};
    assert_int_equal(region_weighted_plan(&s, w, MiB, 4096, sub, REGION_MAX_SUBRANGES), 0);
    w[1] = 1;
    assert_int_equal(region_weighted_plan(&empty, w, MiB, 4096, sub, REGION_MAX_SUBRANGES), 0);
    assert_int_equal(region_weighted_plan(&s, w, 0, 4096, sub, REGION_MAX_SUBRANGES), 0);
    assert_int_equal(region_weighted_plan(&s, w, MiB, 3000, sub, REGION_MAX_SUBRANGES), 0);
    assert_int_equal(region_weighted_plan(&s, NULL, MiB, 4096, sub, REGION_MAX_SUBRANGES), 0);
    /* More nodes than sub-ranges could hold. */
    static unsigned char many[REGION_MAX_SUBRANGES + 1];
    nslab_nodeset_t big;
    nslab_nodeset_zero(&big);
    for (int i = 0; i <= REGION_MAX_SUBRANGES; i++) {
        nslab_nodeset_add(&big, i);
        many[i] = 1;
    }
    assert_int_equal(region_weighted_plan(&big, many, 1024 * MiB, 4096, sub,
                                          REGION_MAX_SUBRANGES), 0);
    /* Two nodes, max 1 sub-range: cannot fit. */
    assert_int_equal(region_weighted_plan(&s, w, MiB, 4096, sub, 1), 0);
    /* Fewer granules than nodes: only some nodes get one, still valid. */
    assert_int_equal(region_weighted_plan(&s, w, 4096, 4096, sub, REGION_MAX_SUBRANGES), 1);
    assert_int_equal(sub[0].len, 4096);
}

/* An emulated region (forced where the kernel has the mode) over the first
 * node: reported emulated, placed there, with the plan's sub-ranges. */
static void test_emulated_region_one_node(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    int n = nslab_nodeset_next(&mem, 0);
    unsigned char w = 5;
    nslab_policy_t p = {.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE,
                        .nodes = nslab_nodeset_of(n), .weights = &w, .nweights = 1};
    region_set_emulate_weighted(1);
    const size_t size = 16 * MiB;
    nslab_region_t *r = nslab_region_create(size, &p, NULL);
    region_set_emulate_weighted(0);
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_WEIGHTED_INTERLEAVE);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_EMULATED);
    assert_int_equal(rep.kernel_mode, -1);
    assert_int_equal(rep.nsubranges, 1); /* one node: one merged range */
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(pl.on_node[n], pl.pages);
    /* The policy the kernel holds for the range is MPOL_BIND to n. */
    int mode = -1;
    nslab_nodeset_t got;
    assert_int_equal(os_range_policy(nslab_region_addr(r), &mode, &got), 0);
    assert_int_equal(mode, OS_POL_BIND);
    assert_true(nslab_nodeset_has(&got, n));
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* Weights other than the system's are emulated even where the kernel has
 * the mode (it would apply the system's): two nodes needed to differ. */
static void test_weights_not_system_are_emulated(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    if (testutil_memory_nodes(&mem) < 2)
        TEST_SKIP("one node with memory: any single weight is the system's ratio");
    int a = nslab_nodeset_next(&mem, 0), b = nslab_nodeset_next(&mem, a + 1);
    unsigned sa = topology_interleave_weight(a), sb = topology_interleave_weight(b);
    unsigned char w[2] = {1, 1};
    /* Pick weights that are not proportional to the system's. */
    if (sa && sb && sa == sb)
        w[1] = 2;
    nslab_nodeset_t s;
    nslab_nodeset_zero(&s);
    nslab_nodeset_add(&s, a);
    nslab_nodeset_add(&s, b);
    nslab_policy_t p = {.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE, .nodes = s, .weights = w,
                        .nweights = 2};
    nslab_region_t *r = nslab_region_create(8 * MiB, &p, NULL);
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    if (sa && sb && (unsigned)w[0] * sb == (unsigned)w[1] * sa)
        assert_int_equal(rep.enforced, NSLAB_ENFORCE_INTERLEAVE);
    else
        assert_int_equal(rep.enforced, NSLAB_ENFORCE_EMULATED);
    assert_int_equal(nslab_region_destroy(r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_exact_multiples),
        cmocka_unit_test(test_plan_many_shapes),
        cmocka_unit_test(test_plan_bad_input),
        cmocka_unit_test(test_emulated_region_one_node),
        cmocka_unit_test(test_weights_not_system_are_emulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
