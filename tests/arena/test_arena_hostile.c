/*
 * tests/arena/test_arena_hostile.c - hostile frees through the API (issue
 * 11, items 7 and 8): a double free, a pointer into the middle of a block,
 * a header page or a freed large block give -EINVAL (errno EINVAL) and
 * touch nothing: the next allocations do not hand out the bad pointer, no
 * two live blocks overlap, and the audit stays clean.  nslab_realloc of an
 * interior or freed pointer: NULL, EINVAL, the block untouched.  Public
 * header only.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "testutil.h"

#define N 512

static int node0(void)
{
    nslab_nodeset_t s;
    assert_true(testutil_memory_nodes(&s) > 0);
    return nslab_nodeset_next(&s, 0);
}

/* Allocate N blocks of `size` on node and check that none is `bad` and
 * none overlaps another (all filled with their index, checked after). */
static void check_no_reuse(int node, size_t size, const char *bad_lo, const char *bad_hi)
{
    static unsigned char *b[N];
    for (int i = 0; i < N; i++) {
        b[i] = numa_malloc_on(node, size);
        assert_non_null(b[i]);
        assert_false((const char *)b[i] + size > bad_lo && (const char *)b[i] < bad_hi);
        memset(b[i], i & 0xff, size);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < size; k++)
            assert_int_equal(b[i][k], i & 0xff);
    for (int i = 0; i < N; i++)
        assert_int_equal(nslab_free(b[i]), 0);
}

static void expect_einval(int r)
{
    assert_int_equal(r, -EINVAL);
    assert_int_equal(errno, EINVAL);
}

static void test_double_free_small(void **state)
{
    (void)state;
    int node = node0();
    size_t sizes[] = { 16, 64, 100, 1024, 5000, 65536 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        char *keep = numa_malloc_on(node, sizes[s]); /* the slab stays */
        char *p = numa_malloc_on(node, sizes[s]);
        assert_non_null(p);
        assert_int_equal(nslab_free(p), 0);
        errno = 0;
        expect_einval(nslab_free(p));
        errno = 0;
        expect_einval(nslab_free(p)); /* and a third time */
        /* p is handed out once, not twice */
        char *q = numa_malloc_on(node, sizes[s]);
        char *r = numa_malloc_on(node, sizes[s]);
        assert_ptr_not_equal(q, r);
        assert_int_equal(nslab_free(q), 0);
        assert_int_equal(nslab_free(r), 0);
        assert_int_equal(nslab_free(keep), 0);
    }
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

/* A double free once the block went back to its slab (the cache flushed). */
static void test_double_free_after_flush(void **state)
{
    (void)state;
    int node = node0();
    char *keep = numa_malloc_on(node, 48);
    static char *many[2000];
    char *p = numa_malloc_on(node, 48);
    for (int i = 0; i < 2000; i++)
        many[i] = numa_malloc_on(node, 48);
    assert_int_equal(nslab_free(p), 0);
    for (int i = 0; i < 2000; i++) /* p leaves the cache with the cold half */
        assert_int_equal(nslab_free(many[i]), 0);
    errno = 0;
    expect_einval(nslab_free(p));
    nslab_thread_flush();
    errno = 0;
    expect_einval(nslab_free(p));
    assert_int_equal(nslab_free(keep), 0);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

static void test_interior_free(void **state)
{
    (void)state;
    int node = node0();
    size_t sizes[] = { 32, 64, 96, 4096, 40960 };
    size_t offs[] = { 16, 8, 1, 32 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        char *p = numa_malloc_on(node, sizes[s]);
        assert_non_null(p);
        for (size_t o = 0; o < sizeof offs / sizeof offs[0]; o++) {
            if (offs[o] >= sizes[s])
                continue;
            errno = 0;
            expect_einval(nslab_free(p + offs[o]));
        }
        errno = 0;
        assert_int_equal(nslab_usable_size(p + 16), 0);
        assert_int_equal(errno, EINVAL);
        check_no_reuse(node, sizes[s], p, p + sizes[s]);
        assert_int_equal(nslab_free(p), 0);
    }
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

/* The chunk header page of a small block (a pointer the library owns but
 * that no allocation returned). */
static void test_header_page_free(void **state)
{
    (void)state;
    char *p = numa_malloc_on(node0(), 64);
    char *hdr = (char *)((uintptr_t)p & ~(uintptr_t)((4u << 20) - 1));
    errno = 0;
    expect_einval(nslab_free(hdr));
    errno = 0;
    expect_einval(nslab_free(hdr + 4096));
    assert_int_equal(nslab_free(p), 0);
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

static void test_double_free_large(void **state)
{
    (void)state;
    char *p = numa_malloc_on(node0(), 1 << 20);
    assert_non_null(p);
    errno = 0;
    expect_einval(nslab_free(p + 4096));
    assert_int_equal(nslab_free(p), 0);
    errno = 0;
    int r = nslab_free(p); /* freed: cached (EINVAL) or unmapped (EINVAL) */
    assert_int_equal(r, -EINVAL);
}

static void test_realloc_interior(void **state)
{
    (void)state;
    int node = node0();
    char *p = numa_malloc_on(node, 64);
    assert_non_null(p);
    memset(p, 0x5a, 64);
    errno = 0;
    assert_null(nslab_realloc(p + 16, 200));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(nslab_realloc(p + 16, 32));
    assert_int_equal(errno, EINVAL);
    for (int i = 0; i < 64; i++)
        assert_int_equal((unsigned char)p[i], 0x5a);
    check_no_reuse(node, 64, p, p + 64);
    /* p is still live and whole: it can grow */
    char *q = nslab_realloc(p, 300);
    assert_non_null(q);
    for (int i = 0; i < 64; i++)
        assert_int_equal((unsigned char)q[i], 0x5a);
    /* a freed block cannot be resized either */
    assert_int_equal(nslab_free(q), 0);
    errno = 0;
    assert_null(nslab_realloc(q, 1000));
    assert_int_equal(errno, EINVAL);
    /* large: interior */
    char *l = numa_malloc_on(node, 1 << 20);
    errno = 0;
    assert_null(nslab_realloc(l + 64, 2 << 20));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_free(l), 0);
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_double_free_small),
        cmocka_unit_test(test_double_free_after_flush),
        cmocka_unit_test(test_interior_free),
        cmocka_unit_test(test_header_page_free),
        cmocka_unit_test(test_double_free_large),
        cmocka_unit_test(test_realloc_interior),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
