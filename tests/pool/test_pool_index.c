/*
 * tests/pool/test_pool_index.c - pointer -> buffer arithmetic (pool.h):
 * for strides that are powers of two, odd, and mixed (d << shift), every
 * byte offset around a segment's buffers is accepted exactly when it is the
 * start of one of the segment's buffers, and maps to that buffer's index.
 * Unit label: it reads the private header.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include "testutil.h"
#include "pool.h"

static void check_pool(size_t elt, size_t align, size_t count)
{
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = elt, .align = align, .count = count,
                            .prefault = NSLAB_PREFAULT_NONE);
    nslab_pool_t *p = nslab_pool_create(NSLAB_NODE_LOCAL, &o);
    assert_non_null(p);
    void *b = nslab_pool_get(p);
    assert_non_null(b);
    struct pool_seg *s = pool_seg_of(b);
    assert_non_null(s);
    assert_ptr_equal(s->pool, p);
    size_t stride = p->stride;
    assert_int_equal(stride % (align ? align : 64), 0);
    assert_true(stride >= elt);
    /* exact division: d * inv == 1 mod 2^64 */
    assert_int_equal((uint64_t)(stride >> s->shift) * s->inv, 1);
    assert_int_equal((stride >> s->shift) & 1, 1);

    char *base = s->base;
    size_t span = (size_t)s->nbufs * stride;
    size_t step = span > (1u << 22) ? 61 : 1; /* keep huge strides quick */
    size_t accepted = 0;
    for (size_t off = 0; off < span + 2 * stride + 256; off += step) {
        char *q = base - stride - 128 + off;
        intptr_t rel = q - base;
        int want = rel >= 0 && (size_t)rel % stride == 0 && (size_t)rel / stride < s->nbufs;
        uint32_t i = pool_seg_index(s, q);
        if (want) {
            assert_int_equal(i, (size_t)rel / stride);
            accepted++;
        } else if (i != UINT32_MAX) {
            fail_msg("stride %zu: offset %td accepted as index %u", stride, rel, i);
        }
    }
    if (step == 1)
        assert_int_equal(accepted, s->nbufs);
    /* and through the public entry points */
    assert_ptr_equal(nslab_pool_of(base + stride), s->nbufs > 1 ? p : NULL);
    assert_null(nslab_pool_of(base + 1));
    assert_int_equal(nslab_pool_put(p, base + stride / 2 + 1), -EINVAL);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_audit(p, NULL), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
}

static void test_strides(void **state)
{
    (void)state;
    check_pool(64, 0, 100);       /* 64: a power of two */
    check_pool(100, 0, 100);      /* 128 */
    check_pool(24, 8, 300);       /* 24 = 3 << 3 */
    check_pool(7, 1, 500);        /* 7: odd */
    check_pool(1000001, 1, 5);    /* odd and large: 4 in a segment */
    check_pool(3000, 64, 100);    /* 3008 = 47 << 6 */
    check_pool(4000, 16, 100);    /* 4000 = 125 << 5 */
    check_pool(5, 4, 1000);       /* 8 */
    check_pool(3 << 20, 4096, 3); /* 3 MiB: one per segment */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
