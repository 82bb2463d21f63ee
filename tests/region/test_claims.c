/*
 * tests/region/test_claims.c - reservations that hold (issue 14): public
 * claims counted by every capacity check and drawn on by region and pool
 * creation; lazy regions holding their capacity for their whole life;
 * every documented error of the claim calls.  Free memory moves while
 * tests run, so thresholds keep margins of a fifth of the room measured.
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static int n0;

static int setup(void **state)
{
    (void)state;
    n0 = testutil_memory_node(0);
    return n0 < 0;
}

/* The node's room now: free memory - reserve - ledger. */
static size_t room(int node)
{
    uint64_t f = topology_node_free(node);
    size_t r = capacity_default_reserve() + capacity_held(node);
    return f > r ? (size_t)(f - r) : 0;
}

static void test_claim_counts_and_is_drawn(void **state)
{
    (void)state;
    size_t held0 = capacity_held(n0);
    size_t rm = room(n0);
    if (rm < 256 * MiB)
        TEST_SKIP("less than 256 MiB room on node %d", n0);
    size_t cl = rm / 2 & ~(MiB - 1);
    nslab_nodeset_t one = nslab_nodeset_of(n0);
    nslab_claim_t *c = nslab_claim_create(&one, cl, 0);
    assert_non_null(c);
    assert_int_equal(nslab_claim_left(c, n0), cl);
    assert_int_equal(nslab_claim_left(c, -1), cl);
    assert_int_equal(capacity_held(n0), held0 + cl);

    /* Without the claim, a region the size of 0.7 x the room no longer
     * fits (half is claimed); lazily, so nothing is committed either way. */
    size_t big = (size_t)(rm * 7 / 10) & ~(MiB - 1);
    nslab_policy_t b = nslab_policy_bind(n0);
    nslab_region_opts_t lazy = NSLAB_REGION_OPTS_INIT(.prefault = NSLAB_PREFAULT_NONE);
    errno = 0;
    assert_null(nslab_region_create(big, &b, &lazy));
    assert_int_equal(errno, ENOMEM);
    /* With it, drawn from the claim first (then the rest of the room). */
    lazy.claim = c;
    nslab_region_t *r = nslab_region_create(big, &b, &lazy);
    assert_non_null(r);
    assert_int_equal(nslab_claim_left(c, n0), 0);
    /* The lazy region holds all of it for its life. */
    size_t total = nslab_region_size(r);
    assert_true(capacity_held(n0) >= held0 + total);
    assert_int_equal(nslab_region_destroy(r), 0);
    assert_int_equal(capacity_held(n0), held0);
    assert_int_equal(nslab_claim_release(c), 0);
    assert_int_equal(capacity_held(n0), held0);

    /* A prefaulted region draws on a claim too, and the claim keeps the rest. */
    c = nslab_claim_create(&one, 64 * MiB, 0);
    assert_non_null(c);
    nslab_region_opts_t pf = NSLAB_REGION_OPTS_INIT(.claim = c);
    r = nslab_region_create(16 * MiB, &b, &pf);
    assert_non_null(r);
    assert_true(nslab_claim_left(c, n0) <= 48 * MiB);
    assert_true(nslab_claim_left(c, n0) >= 48 * MiB - 2 * MiB); /* header, rounding */
    assert_int_equal(nslab_region_destroy(r), 0);
    assert_int_equal(nslab_claim_release(c), 0);
    assert_int_equal(capacity_held(n0), held0);
}

/* The case: two lazy BIND regions that each fit but not together.
 * Before, the hold was released at once and both were created. */
static void test_lazy_regions_hold_for_life(void **state)
{
    (void)state;
    size_t held0 = capacity_held(n0);
    size_t rm = room(n0);
    if (rm < 256 * MiB)
        TEST_SKIP("less than 256 MiB room on node %d", n0);
    size_t s = (size_t)(rm * 6 / 10) & ~(MiB - 1);
    nslab_policy_t b = nslab_policy_bind(n0);
    nslab_region_opts_t lazy = NSLAB_REGION_OPTS_INIT(.prefault = NSLAB_PREFAULT_NONE);
    nslab_region_t *r1 = nslab_region_create(s, &b, &lazy);
    assert_non_null(r1);
    assert_true(capacity_held(n0) >= held0 + s);
    errno = 0;
    nslab_region_t *r2 = nslab_region_create(s, &b, &lazy);
    if (r2)
        fail_msg("two lazy %zu MiB BIND regions on a node with %zu MiB room", s >> 20, rm >> 20);
    assert_int_equal(errno, ENOMEM);
    /* Pools count it too. */
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = MiB, .count = 1, .max_count = s / MiB);
    errno = 0;
    assert_null(nslab_pool_create(n0, &po));
    assert_int_equal(errno, ENOMEM);
    assert_int_equal(nslab_region_destroy(r1), 0);
    assert_int_equal(capacity_held(n0), held0);
    r2 = nslab_region_create(s, &b, &lazy);
    assert_non_null(r2);
    assert_int_equal(nslab_region_destroy(r2), 0);
    /* A moved lazy region's hold follows it (here: to the last node with
     * memory; on one node, in place) and is released at destroy. */
    int nmem = testutil_memory_nodes(NULL), to = testutil_memory_node(nmem - 1);
    size_t held_to = capacity_held(to);
    nslab_region_t *rl = nslab_region_create(64 * MiB, &b, &lazy);
    assert_non_null(rl);
    nslab_policy_t bt = nslab_policy_bind(to);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_move(rl, &bt, &pl), 0);
    assert_true(capacity_held(to) >= held_to + 64 * MiB);
    if (to != n0)
        assert_int_equal(capacity_held(n0), held0);
    nslab_policy_t d = nslab_policy_default();
    assert_int_equal(nslab_region_move(rl, &d, &pl), 0); /* no binding: no hold */
    assert_int_equal(capacity_held(to), held_to);
    assert_int_equal(nslab_region_destroy(rl), 0);
    assert_int_equal(capacity_held(to), held_to);
    assert_int_equal(capacity_held(n0), held0);
    /* Prefaulted regions release their hold once committed. */
    nslab_region_t *r3 = nslab_region_create(8 * MiB, &b, NULL);
    assert_non_null(r3);
    assert_int_equal(capacity_held(n0), held0);
    assert_int_equal(nslab_region_destroy(r3), 0);
}

static void test_pool_draws_on_claim(void **state)
{
    (void)state;
    size_t held0 = capacity_held(n0);
    nslab_nodeset_t one = nslab_nodeset_of(n0);
    nslab_claim_t *c = nslab_claim_create(&one, 64 * MiB, 0);
    assert_non_null(c);
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 4096, .count = 256, .max_count = 4096, .claim = c);
    nslab_pool_t *p = nslab_pool_create(n0, &po);
    assert_non_null(p);
    nslab_pool_stats_t st = {.size = sizeof st, .version = NSLAB_STATS_VERSION};
    assert_int_equal(nslab_pool_stats(p, &st), 0);
    size_t pool_bytes = (size_t)(st.bytes_committed + st.bytes_reserved);
    size_t left = nslab_claim_left(c, n0);
    assert_true(left < 64 * MiB);
    assert_true(64 * MiB - left >= pool_bytes - MiB); /* the reservation came from the claim */
    assert_int_equal(nslab_pool_destroy(p), 0);
    assert_int_equal(nslab_claim_release(c), 0);
    assert_int_equal(capacity_held(n0), held0);
}

static void test_claim_errors(void **state)
{
    (void)state;
    size_t held0 = capacity_held(n0);
    nslab_nodeset_t one = nslab_nodeset_of(n0), empty, far;
    nslab_nodeset_zero(&empty);
    far = nslab_nodeset_of(nslab_node_count());
#define EXPECT_NULL(call, err)             \
    do {                                   \
        errno = 0;                         \
        assert_null(call);                 \
        assert_int_equal(errno, (err));    \
    } while (0)
    EXPECT_NULL(nslab_claim_create(NULL, MiB, 0), EINVAL);
    EXPECT_NULL(nslab_claim_create(&one, 0, 0), EINVAL);
    EXPECT_NULL(nslab_claim_create(&empty, MiB, 0), EINVAL);
    EXPECT_NULL(nslab_claim_create(&far, MiB, 0), EINVAL);
    uint64_t f = topology_node_free(n0);
    EXPECT_NULL(nslab_claim_create(&one, (size_t)f + 1024 * MiB, 0), ENOMEM);
    assert_int_equal(capacity_held(n0), held0);
    errno = 0;
    assert_int_equal(nslab_claim_release(NULL), -EINVAL);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(nslab_claim_left(NULL, 0), 0);
    assert_int_equal(errno, EINVAL);
    /* Something that is not a claim, as a claim. */
    nslab_policy_t b = nslab_policy_bind(n0);
    nslab_region_t *r = nslab_region_create(MiB, &b, NULL);
    assert_non_null(r);
    void *not_claim = nslab_region_addr(r);
    memset(not_claim, 0, 64);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.claim = not_claim);
    EXPECT_NULL(nslab_region_create(MiB, &b, &o), EINVAL);
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 8, .claim = not_claim);
    EXPECT_NULL(nslab_pool_create(n0, &po), EINVAL);
    assert_int_equal(nslab_claim_release(not_claim), -EINVAL);
    assert_int_equal(nslab_region_destroy(r), 0);
#undef EXPECT_NULL
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_claim_counts_and_is_drawn),
        cmocka_unit_test(test_lazy_regions_hold_for_life),
        cmocka_unit_test(test_pool_draws_on_claim),
        cmocka_unit_test(test_claim_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
