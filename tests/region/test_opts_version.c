/*
 * tests/region/test_opts_version.c - the option structs' size/version
 * contract (numaslab.h, NSLAB_OPTS_VERSION) for the three creators that
 * take one: nslab_region_create, nslab_pool_create (and nslab_poolset_create
 * through it), nslab_taskpool_create.  A {0} struct (size and version not
 * set), an unknown version and a larger struct with unknown fields set are
 * EINVAL, creating nothing; an older, shorter struct gets defaults for the
 * fields it lacks; a larger struct whose extra bytes are zero is accepted.
 * Also the errno lists of the small accessors that issue 10 found
 * undocumented (nslab_region_addr/size/verify, nslab_poolset_local).
 * Public header only.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "testutil.h"

static int node0(void)
{
    nslab_nodeset_t s;
    assert_true(testutil_memory_nodes(&s) > 0);
    return nslab_nodeset_next(&s, 0);
}

/* A caller built against a later header: this release's struct, then
 * fields this release does not know. */
struct later_region_opts {
    nslab_region_opts_t now;
    uint64_t unknown;
};

static void test_region_opts(void **state)
{
    (void)state;
    nslab_policy_t b = nslab_policy_bind(node0());
    nslab_region_opts_t zero;
    memset(&zero, 0, sizeof zero);
    errno = 0;
    assert_null(nslab_region_create(1 << 20, &b, &zero));
    assert_int_equal(errno, EINVAL);

    nslab_region_opts_t v2 = NSLAB_REGION_OPTS_INIT();
    v2.version = NSLAB_OPTS_VERSION + 1;
    errno = 0;
    assert_null(nslab_region_create(1 << 20, &b, &v2));
    assert_int_equal(errno, EINVAL);

    nslab_region_opts_t small = NSLAB_REGION_OPTS_INIT();
    small.size = 7;
    errno = 0;
    assert_null(nslab_region_create(1 << 20, &b, &small));
    assert_int_equal(errno, EINVAL);

    /* Only size and version (the oldest possible caller): all defaults,
     * although the fields past them hold garbage the caller never set. */
    nslab_region_opts_t hdr;
    memset(&hdr, 0xff, sizeof hdr);
    hdr.size = 8;
    hdr.version = NSLAB_OPTS_VERSION;
    nslab_region_t *r = nslab_region_create(1 << 20, &b, &hdr);
    assert_non_null(r);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.prefault, NSLAB_PREFAULT_POPULATE);
    assert_int_equal(rep.hugetlb, 0);
    assert_int_equal(nslab_region_fd(r), -EINVAL);
    assert_int_equal(nslab_region_destroy(r), 0);

    struct later_region_opts later;
    memset(&later, 0, sizeof later);
    later.now = (nslab_region_opts_t)NSLAB_REGION_OPTS_INIT(.prefault = NSLAB_PREFAULT_NONE);
    later.now.size = sizeof later;
    r = nslab_region_create(1 << 20, &b, &later.now);
    assert_non_null(r);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.prefault, NSLAB_PREFAULT_NONE);
    assert_int_equal(nslab_region_destroy(r), 0);

    later.unknown = 1;
    errno = 0;
    assert_null(nslab_region_create(1 << 20, &b, &later.now));
    assert_int_equal(errno, EINVAL);
}

struct later_pool_opts {
    nslab_pool_opts_t now;
    uint32_t unknown;
};

static void test_pool_opts(void **state)
{
    (void)state;
    int n = node0();
    nslab_pool_opts_t zero;
    memset(&zero, 0, sizeof zero);
    zero.elt_size = 64;
    zero.count = 8;
    errno = 0;
    assert_null(nslab_pool_create(n, &zero));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(nslab_poolset_create(&zero));
    assert_int_equal(errno, EINVAL);

    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 8);
    o.version = 0;
    errno = 0;
    assert_null(nslab_pool_create(n, &o));
    assert_int_equal(errno, EINVAL);

    /* A struct cut before `flags` (an older header's shape): the fields it
     * lacks are defaults even though the memory past it is not zero. */
    nslab_pool_opts_t cut;
    memset(&cut, 0xff, sizeof cut);
    cut.size = (uint32_t)offsetof(nslab_pool_opts_t, flags);
    cut.version = NSLAB_OPTS_VERSION;
    cut.elt_size = 64;
    cut.align = 0;
    cut.count = 8;
    cut.max_count = 0;
    cut.cache_size = 0;
    nslab_pool_t *p = nslab_pool_create(n, &cut);
    assert_non_null(p);
    void *buf = nslab_pool_get(p);
    assert_non_null(buf);
    assert_int_equal(nslab_pool_put(p, buf), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);

    struct later_pool_opts later;
    memset(&later, 0, sizeof later);
    later.now = (nslab_pool_opts_t)NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 8);
    later.now.size = sizeof later;
    p = nslab_pool_create(n, &later.now);
    assert_non_null(p);
    assert_int_equal(nslab_pool_destroy(p), 0);
    later.unknown = 3;
    errno = 0;
    assert_null(nslab_pool_create(n, &later.now));
    assert_int_equal(errno, EINVAL);
}

static void noop(nslab_pool_t *pool, int node, void *arg)
{
    (void)pool;
    (void)node;
    (void)arg;
}

static void test_taskpool_opts(void **state)
{
    (void)state;
    nslab_taskpool_opts_t zero;
    memset(&zero, 0, sizeof zero);
    errno = 0;
    assert_null(nslab_taskpool_create(&zero));
    assert_int_equal(errno, EINVAL);

    /* Valid taskpool opts whose buffers' pool opts lack size/version. */
    nslab_pool_opts_t bad = { 0 };
    bad.elt_size = 64;
    bad.count = 4;
    nslab_taskpool_opts_t o = NSLAB_TASKPOOL_OPTS_INIT(.buffers = &bad);
    errno = 0;
    assert_null(nslab_taskpool_create(&o));
    assert_int_equal(errno, EINVAL);

    nslab_pool_opts_t good = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 4);
    o.buffers = &good;
    o.size = 8; /* header only: nodes, workers, queue, flags and buffers
                   are defaults, so no pool set */
    nslab_taskpool_t *tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    assert_null(nslab_taskpool_buffers(tp));
    assert_int_equal(nslab_taskpool_submit(tp, NSLAB_NODE_ANY, noop, NULL), 0);
    assert_int_equal(nslab_taskpool_destroy(tp), 0);

    o.size = sizeof o;
    tp = nslab_taskpool_create(&o);
    assert_non_null(tp);
    assert_non_null(nslab_taskpool_buffers(tp));
    assert_int_equal(nslab_taskpool_destroy(tp), 0);
}

static void test_accessor_errors(void **state)
{
    (void)state;
    nslab_placement_t pl;
    errno = 0;
    assert_null(nslab_region_addr(NULL));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(nslab_region_size(NULL), 0);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(nslab_region_verify(NULL, &pl), -EINVAL);
    assert_int_equal(errno, EINVAL);
    nslab_region_t *r = nslab_region_create(1 << 20, NULL, NULL);
    assert_non_null(r);
    errno = 0;
    assert_int_equal(nslab_region_verify(r, NULL), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(pl.pages * pl.page_size, nslab_region_size(r));
    assert_int_equal(nslab_region_destroy(r), 0);
    errno = 0;
    assert_null(nslab_poolset_local(NULL));
    assert_int_equal(errno, EINVAL);
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 4);
    nslab_poolset_t *s = nslab_poolset_create(&o);
    assert_non_null(s);
    nslab_pool_t *p = nslab_poolset_local(s);
    assert_non_null(p);
    assert_int_equal(nslab_pool_node(p), nslab_local_node());
    assert_int_equal(nslab_poolset_destroy(s), 0);
    assert_true(nslab_node_count() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_region_opts),
        cmocka_unit_test(test_pool_opts),
        cmocka_unit_test(test_taskpool_opts),
        cmocka_unit_test(test_accessor_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
