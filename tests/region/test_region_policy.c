/*
 * tests/region/test_region_policy.c - every policy places memory where it
 * says (DESIGN promises 1, 4, 5): on each node with memory, checked by the
 * library's verify and independently by move_pages in testutil; and, on a
 * machine with several nodes, interleave spreads evenly (within a huge page
 * per node with THP, exactly without), Preferred lands where asked,
 * PreferredMany within its set, weighted interleave by its weights.
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static const struct topology *T;

static int setup(void **state)
{
    (void)state;
    T = topology_get();
    return 0;
}

/* Create, check the report's enforcement, verify (library and testutil)
 * that every page is on `node`, destroy. */
static void check_all_on(const nslab_policy_t *pol, const nslab_region_opts_t *opts,
                         size_t size, int node, nslab_enforce_t want)
{
    nslab_region_t *r = nslab_region_create(size, pol, opts);
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, pol->mode);
    assert_int_equal(rep.enforced, want);
    assert_int_equal(rep.size, size);

    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(pl.pages, size / pl.page_size);
    assert_int_equal(pl.not_present, 0);
    assert_int_equal(pl.errors, 0);
    if (pl.on_node[node] != pl.pages)
        fail_msg("policy %d on node %d: %zu of %zu pages there", pol->mode, node,
                 pl.on_node[node], pl.pages);
    assert_all_on_node(nslab_region_addr(r), size, node);
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void test_every_policy_every_node(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    int count = testutil_memory_nodes(&mem);
    assert_true(count >= 1);
    const size_t size = 16 * MiB;

    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_policy_t p;

        p = nslab_policy_bind(n);
        check_all_on(&p, NULL, size, n, NSLAB_ENFORCE_STRICT);
        {
            nslab_region_t *r = nslab_region_create(size, &p, NULL);
            nslab_region_report_t rep;
            assert_non_null(r);
            assert_int_equal(nslab_region_report(r, &rep), 0);
            assert_int_equal(rep.kernel_mode, 2 /* MPOL_BIND */);
            assert_true(nslab_nodeset_has(&rep.nodes, n));
            assert_int_equal(nslab_nodeset_count(&rep.nodes), 1);
            assert_int_equal(rep.prefault, T->has_populate_write ? NSLAB_PREFAULT_POPULATE
                                                                 : NSLAB_PREFAULT_TOUCH);
            assert_int_equal(nslab_region_destroy(r), 0);
        }

        p = nslab_policy_preferred(n);
        check_all_on(&p, NULL, size, n, NSLAB_ENFORCE_PREFERRED);

        p = nslab_policy_interleave(NULL);
        nslab_nodeset_zero(&p.nodes);
        nslab_nodeset_add(&p.nodes, n);
        check_all_on(&p, NULL, size, n, NSLAB_ENFORCE_INTERLEAVE);

        p.mode = NSLAB_POLICY_PREFERRED_MANY;
        if (T->has_preferred_many) {
            check_all_on(&p, NULL, size, n, NSLAB_ENFORCE_PREFERRED);
        } else {
            assert_null(nslab_region_create(size, &p, NULL));
            assert_int_equal(errno, EOPNOTSUPP);
        }

        /* Weighted interleave over one node: the kernel's mode where it has
         * it and the weight is the system's (one node: any weight is
         * proportional), else emulated - either way all on n. */
        unsigned char w = 3;
        p.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE;
        p.weights = &w;
        p.nweights = 1;
        int kernel = T->has_weighted_interleave && topology_interleave_weight(n) > 0;
        check_all_on(&p, NULL, size, n,
                     kernel ? NSLAB_ENFORCE_INTERLEAVE : NSLAB_ENFORCE_EMULATED);

        /* Local: from a thread running on n (only nodes with CPUs). */
        if (T->node[n].has_cpus) {
            uint64_t saved[16];
            assert_int_equal(thread_pin(n, saved), 0);
            p = nslab_policy_local();
            check_all_on(&p, NULL, size, n, NSLAB_ENFORCE_PREFERRED);
            thread_unpin(saved);
            /* Local to n's CPUs, asked from wherever this thread runs. */
            p.node = n;
            check_all_on(&p, NULL, size, T->node[n].local_node, NSLAB_ENFORCE_PREFERRED);
        } else {
            print_message("node %d has no CPUs: Local from a thread on it not tested\n", n);
        }

        /* Mode flags are passed to the kernel and keep placement. */
        p = nslab_policy_bind(n);
        p.flags = NSLAB_POLICY_STATIC_NODES;
        check_all_on(&p, NULL, size, n, NSLAB_ENFORCE_STRICT);
    }
}

/* A NULL policy is Local: memory on the calling thread's local node. */
/* NULL is DEFAULT (issue 14): nothing bound, the pages follow the thread's
 * own policy (the system default here: the faulting CPU's node). */
static void test_null_policy_is_default(void **state)
{
    (void)state;
    int node = topology_local_node();
    nslab_region_t *r = nslab_region_create(4 * MiB, NULL, NULL);
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_DEFAULT);
    assert_int_equal(rep.kernel_mode, 0 /* MPOL_DEFAULT: no mbind */);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    /* The thread may migrate between nodes meanwhile: all pages on nodes
     * with memory is what first touch can promise here. */
    if (testutil_memory_nodes(NULL) == 1)
        assert_int_equal(pl.on_node[node], pl.pages);
    assert_int_equal(placement_sum(&pl), pl.pages);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* Relative node ids index the cpuset's nodes with memory. */
static void test_relative_nodes(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    int count = testutil_memory_nodes(&mem);
    for (int i = 0; i < count; i++) {
        nslab_policy_t p = nslab_policy_bind(i);
        p.flags = NSLAB_POLICY_RELATIVE_NODES;
        int real = nslab_nodeset_next(&mem, 0);
        for (int k = 0; k < i; k++)
            real = nslab_nodeset_next(&mem, real + 1);
        check_all_on(&p, NULL, 8 * MiB, real, NSLAB_ENFORCE_STRICT);
    }
}

/* ---- several nodes ------------------------------------------------------ */

static int need_nodes(int k, nslab_nodeset_t *mem)
{
    return testutil_memory_nodes(mem) >= k;
}

static void interleave_spread(nslab_pages_t pages, size_t tol_pages, const char *what)
{
    nslab_nodeset_t mem;
    int k = testutil_memory_nodes(&mem);
    const size_t size = 64 * MiB;
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = pages);
    nslab_policy_t p = nslab_policy_interleave(&mem);
    nslab_region_t *r = nslab_region_create(size, &p, &o);
    assert_non_null(r);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(placement_sum(&pl), pl.pages);
    size_t even = pl.pages / (size_t)k;
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        size_t on = pl.on_node[n];
        size_t d = on > even ? on - even : even - on;
        print_message("%s: node %d %zu of %zu pages (even %zu, tolerance %zu)\n", what, n, on,
                      pl.pages, even, tol_pages);
        if (d > tol_pages)
            fail_msg("%s: node %d has %zu pages, even is %zu +- %zu", what, n, on, even,
                     tol_pages);
    }
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void test_interleave_even_no_thp(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    if (!need_nodes(2, &mem))
        TEST_SKIP("one node with memory: interleave cannot spread");
    interleave_spread(NSLAB_PAGES_NO_THP, 1, "interleave NO_THP");
}

static void test_interleave_even_thp(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    if (!need_nodes(2, &mem))
        TEST_SKIP("one node with memory: interleave cannot spread");
    if (!T->thp_size)
        TEST_SKIP("THP is off on this kernel");
    interleave_spread(NSLAB_PAGES_THP, T->thp_size / T->page_size + 1, "interleave THP");
}

/* numa_malloc_interleaved(NULL nodes): all allowed nodes with memory. */
static void test_malloc_interleaved_all(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    int k = testutil_memory_nodes(&mem);
    const size_t size = 32 * MiB + 12345;
    char *p = numa_malloc_interleaved(size, NULL);
    assert_non_null(p);
    memset(p, 0x5a, size);
    nslab_region_t *r = nslab_region_of(p);
    assert_non_null(r);
    assert_ptr_equal(nslab_region_addr(r), p);
    assert_true(nslab_region_size(r) == size);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_INTERLEAVE);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_INTERLEAVE);
    assert_true(memcmp(&rep.nodes, &mem, sizeof mem) == 0);
    nslab_placement_t pl;
    assert_int_equal(nslab_range_placement(p, size, &pl), 0);
    assert_int_equal(placement_sum(&pl), pl.pages);
    int used = 0;
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        if (pl.on_node[n]) {
            assert_true(nslab_nodeset_has(&mem, n));
            used++;
        }
    }
    assert_int_equal(used, k); /* 32 MiB over <= 8 nodes: every node gets some */
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void test_preferred_lands(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    if (!need_nodes(2, &mem))
        TEST_SKIP("one node with memory: nothing to prefer among");
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_policy_t p = nslab_policy_preferred(n);
        check_all_on(&p, NULL, 16 * MiB, n, NSLAB_ENFORCE_PREFERRED);
    }
}

static void test_preferred_many_in_set(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    if (!need_nodes(3, &mem))
        TEST_SKIP("fewer than 3 nodes with memory: no proper subset of two");
    if (!T->has_preferred_many)
        TEST_SKIP("kernel without MPOL_PREFERRED_MANY (5.15)");
    /* The last two nodes: the set does not hold node 0, where this
     * thread's local memory most likely is. */
    nslab_nodeset_t set;
    nslab_nodeset_zero(&set);
    int last = -1, prev = -1;
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        prev = last;
        last = n;
    }
    nslab_nodeset_add(&set, prev);
    nslab_nodeset_add(&set, last);
    nslab_policy_t p = {.mode = NSLAB_POLICY_PREFERRED_MANY, .nodes = set};
    nslab_region_t *r = nslab_region_create(16 * MiB, &p, NULL);
    assert_non_null(r);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    size_t in = pl.on_node[prev] + pl.on_node[last];
    print_message("preferred-many {%d,%d}: %zu of %zu pages in the set\n", prev, last, in,
                  pl.pages);
    assert_int_equal(in, pl.pages);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* Weighted interleave over all nodes with weights 1, 2, 3, ...: each
 * node's pages match the weights within one sub-range granule; where it is
 * emulated, the placement equals the library's own plan exactly. */
static void test_weighted_follows_weights(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    if (!need_nodes(2, &mem))
        TEST_SKIP("one node with memory: weights cannot show");
    int k = nslab_nodeset_count(&mem);
    unsigned char w[NSLAB_MAX_NODES];
    unsigned W = 0;
    for (int i = 0; i < k; i++) {
        w[i] = (unsigned char)(i % 4 + 1);
        W += w[i];
    }
    const size_t size = 64 * MiB;
    nslab_policy_t p = {.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE, .nodes = mem, .weights = w,
                        .nweights = (size_t)k};
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT();
    nslab_region_t *r = nslab_region_create(size, &p, &o);
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    print_message("weighted interleave: enforced %d, %zu sub-ranges\n", rep.enforced,
                  rep.nsubranges);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(placement_sum(&pl), pl.pages);
    size_t gran = region_granule(&o) / pl.page_size;
    int i = 0;
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1), i++) {
        size_t want = pl.pages * w[i] / W;
        size_t on = pl.on_node[n];
        size_t d = on > want ? on - want : want - on;
        print_message("  node %d weight %u: %zu pages (weights say %zu, granule %zu)\n", n,
                      w[i], on, want, gran);
        if (d > gran + 1)
            fail_msg("node %d: %zu pages, weights say %zu +- %zu", n, on, want, gran + 1);
    }
    if (rep.enforced == NSLAB_ENFORCE_EMULATED) {
        /* Exactly the plan: recompute it over the mapping and count the
         * data pages (the mapping starts one page before the data). */
        struct nslab_region *rr = r;
        static struct region_subrange sub[REGION_MAX_SUBRANGES];
        size_t ns = region_weighted_plan(&mem, w, rr->hdr.map_size, region_granule(&o), sub,
                                         REGION_MAX_SUBRANGES);
        assert_int_equal(ns, rep.nsubranges);
        size_t per[NSLAB_MAX_NODES] = {0};
        for (size_t s = 0; s < ns; s++) {
            size_t lo = sub[s].off < rr->data_off ? rr->data_off : sub[s].off;
            size_t hi = sub[s].off + sub[s].len;
            if (hi > rr->data_off + size)
                hi = rr->data_off + size;
            if (hi > lo)
                per[sub[s].node] += (hi - lo) / pl.page_size;
        }
        for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1))
            assert_int_equal(pl.on_node[n], per[n]);
    }
    assert_int_equal(nslab_region_destroy(r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_policy_every_node),
        cmocka_unit_test(test_null_policy_is_default),
        cmocka_unit_test(test_relative_nodes),
        cmocka_unit_test(test_interleave_even_no_thp),
        cmocka_unit_test(test_interleave_even_thp),
        cmocka_unit_test(test_malloc_interleaved_all),
        cmocka_unit_test(test_preferred_lands),
        cmocka_unit_test(test_preferred_many_in_set),
        cmocka_unit_test(test_weighted_follows_weights),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
