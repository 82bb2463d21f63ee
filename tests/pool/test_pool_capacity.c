/*
 * tests/pool/test_pool_capacity.c - pool creation errors and the capacity
 * ledger: every rejected creation, a pool that could never fit refused with
 * ENOMEM before anything is committed, and a pool's reservation held while
 * it lives and given back at destroy.
 * Unit test of the pool layer: it reads the region layer's capacity ledger
 * (capacity_held, arena/region/region.h) to prove no reservation is left.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"
#include "region.h"

static int node0(void)
{
    nslab_nodeset_t s;
    assert_true(testutil_memory_nodes(&s) > 0);
    return nslab_nodeset_next(&s, 0);
}

static void expect_create_fails(int node, const nslab_pool_opts_t *o, int err)
{
    errno = 0;
    assert_null(nslab_pool_create(node, o));
    assert_int_equal(errno, err);
}

static void test_create_errors(void **state)
{
    (void)state;
    int n = node0();
    size_t held = capacity_held(n);
    nslab_pool_opts_t o = testutil_pool_opts(64, 8, 0);

    expect_create_fails(n, NULL, EINVAL);
    o.elt_size = 0;
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 0, 0);
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 8, 4); /* max < count */
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 8, 0);
    o.align = 48;
    expect_create_fails(n, &o, EINVAL);
    o.align = NSLAB_MAX_ALIGN * 2;
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 8, 0);
    o.cache_size = 5000;
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 8, 0);
    o.flags = 0x80;
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 8, 0);
    o.prefault = (nslab_prefault_t)42;
    expect_create_fails(n, &o, EINVAL);
    o = testutil_pool_opts(64, 8, 0);
    expect_create_fails(-7, &o, EINVAL);
    expect_create_fails(nslab_node_count(), &o, EINVAL);
    expect_create_fails(NSLAB_MAX_NODES + 5, &o, EINVAL);
    o = testutil_pool_opts(SIZE_MAX - 10, 1, 0); /* stride overflows */
    expect_create_fails(n, &o, ENOMEM);
    o = testutil_pool_opts(64, 8, (size_t)UINT32_MAX + 1);
    expect_create_fails(n, &o, ENOMEM);
    assert_int_equal(capacity_held(n), held);
}

/* A pool that could never fit: refused at creation with ENOMEM, before any
 * memory is committed, and no reservation is left behind. */
static void test_capacity_enomem(void **state)
{
    (void)state;
    int n = node0();
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(n, &info), 0);
    size_t held = capacity_held(n);

    /* Twice the node's memory, in 1 MiB buffers, all grown later: the whole
     * cap is reserved up front, so creation must refuse. */
    size_t mib = (size_t)1 << 20;
    size_t max = (size_t)(info.mem_total / mib) * 2 + 16;
    nslab_pool_opts_t o = testutil_pool_opts(mib, 1, max);
    expect_create_fails(n, &o, ENOMEM);
    assert_int_equal(capacity_held(n), held);

    /* Committed up front: the same. */
    o = testutil_pool_opts(mib, max, 0);
    expect_create_fails(n, &o, ENOMEM);
    assert_int_equal(capacity_held(n), held);

    /* A pool that fits reserves its cap, and gives it back at destroy. */
    o = testutil_pool_opts(4096, 4, 1024);
    nslab_pool_t *p = nslab_pool_create(n, &o);
    assert_non_null(p);
    nslab_pool_stats_t st = testutil_pool_stats(p);
    assert_true(st.bytes_reserved >= (1024 - 4) * 4096);
    assert_int_equal(capacity_held(n), held + st.bytes_reserved);
    assert_int_equal(nslab_pool_destroy(p), 0);
    assert_int_equal(capacity_held(n), held);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test(test_capacity_enomem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
