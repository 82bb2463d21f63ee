/*
 * tests/arena/test_print_errors.c - the printers' and the stats readers'
 * argument contract as numaslab.h states it (issue 11, item 9): a NULL
 * stream is -EINVAL for every printer (nslab_topology_print,
 * nslab_arena_print, nslab_pool_print); a stream that cannot be written is
 * -EIO; nslab_arena_stats takes any size from 8 (size and version) and
 * writes only the fields that fit, below 8 it is -EINVAL.  Public header
 * only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static int node0(void)
{
    nslab_nodeset_t s;
    assert_true(testutil_memory_nodes(&s) > 0);
    return nslab_nodeset_next(&s, 0);
}

static void expect(int got, int want)
{
    assert_int_equal(got, want);
    if (want < 0)
        assert_int_equal(errno, -want);
}

static void test_null_stream(void **state)
{
    (void)state;
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 8);
    nslab_pool_t *p = nslab_pool_create(node0(), &o);
    assert_non_null(p);
    errno = 0;
    expect(nslab_topology_print(NULL), -EINVAL);
    errno = 0;
    expect(nslab_arena_print(NULL), -EINVAL);
    errno = 0;
    expect(nslab_pool_print(p, NULL), -EINVAL);
    /* the audits take NULL as "no report" */
    assert_int_equal(nslab_arena_audit(NULL), 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

static void test_unwritable_stream(void **state)
{
    (void)state;
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 8);
    nslab_pool_t *p = nslab_pool_create(node0(), &o);
    void *b = numa_malloc_on(node0(), 64); /* a line to print */
    FILE *ro = fopen("/dev/null", "r");
    assert_non_null(ro);
    errno = 0;
    expect(nslab_topology_print(ro), -EIO);
    errno = 0;
    expect(nslab_arena_print(ro), -EIO);
    errno = 0;
    expect(nslab_pool_print(p, ro), -EIO);
    fclose(ro);
    nslab_free(b);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

static void test_stats_node_sizes(void **state)
{
    (void)state;
    int n = node0();
    void *b = numa_malloc_on(n, 64);
    assert_non_null(b);
    union {
        nslab_arena_stats_t s;
        unsigned char bytes[sizeof(nslab_arena_stats_t) + 16];
    } u;
    uint32_t sizes[] = { 0, 4, 7 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memset(&u, 0, sizeof u);
        u.s.size = sizes[i];
        u.s.version = NSLAB_STATS_VERSION;
        errno = 0;
        expect(nslab_arena_stats(n, &u.s), -EINVAL);
    }
    /* 8: size and version only; 12: and the node; nothing past the size */
    uint32_t ok[] = { 8, 12, 24, sizeof(nslab_arena_stats_t) };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        memset(&u, 0xa5, sizeof u);
        u.s.size = ok[i];
        u.s.version = NSLAB_STATS_VERSION;
        assert_int_equal(nslab_arena_stats(n, &u.s), 0);
        assert_int_equal(u.s.size, ok[i]);
        assert_int_equal(u.s.version, NSLAB_STATS_VERSION);
        if (ok[i] >= 12)
            assert_int_equal(u.s.node, n);
        for (size_t k = ok[i]; k < sizeof u.bytes; k++)
            assert_int_equal(u.bytes[k], 0xa5);
    }
    nslab_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_stream),
        cmocka_unit_test(test_unwritable_stream),
        cmocka_unit_test(test_stats_node_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
