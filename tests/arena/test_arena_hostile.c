/*
 * tests/arena/test_arena_hostile.c - hostile frees through the API (issue
 * 11, items 7 and 8): a double free, a pointer into the middle of a block,
 * a header page or a freed large block give -EINVAL (errno EINVAL) and
 * touch nothing: the next allocations do not hand out the bad pointer, no
 * two live blocks overlap, and the audit stays clean.  nslab_realloc of an
 * interior or freed pointer: NULL, EINVAL, the block untouched.  Every
 * address of a slab that is not one of its blocks (the bytes a class
 * whose size does not divide the slab leaves over among them) is refused
 * too.  Public header only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- every address of a slab that is no block of it ------------------ */


#define SLAB_MAX_HELD 4096
static char *held[SLAB_MAX_HELD];

/* Allocate blocks of class size d (numa_malloc_local) until the sorted
 * blocks hold a run of `cap` at stride d: a whole slab, all of its
 * blocks handed to the caller (two slabs of the class cannot form such a
 * run: d does not divide the slab, so the step between them is not d).
 * *n: the blocks held; returns the run's first index, or -1. */
static long hold_whole_slab(size_t d, size_t cap, size_t *n)
{
    size_t want = 2 * cap + 300;
    assert_true(want <= SLAB_MAX_HELD);
    for (*n = 0; *n < want; (*n)++) {
        held[*n] = numa_malloc_local(d);
        assert_non_null(held[*n]);
        assert_int_equal(nslab_usable_size(held[*n]), d);
    }
    qsort(held, *n, sizeof held[0], testutil_cmp_ptr);
    for (size_t i = 0, run = 1; i + 1 < *n; i++) {
        run = held[i + 1] - held[i] == (ptrdiff_t)d ? run + 1 : 1;
        if (run == cap)
            return (long)(i + 2 - cap);
    }
    return -1;
}

/* For every class whose size does not divide its slab: with every block
 * of one slab held, a free of each 16-byte aligned address of the slab's
 * pages that is not one of those blocks (the remainder's bytes, wherever
 * the layout puts them: a slab's unused tail used to start at capacity *
 * size, a multiple of the size away from block 0, and passed as a block)
 * and of a few unaligned ones gives -EINVAL; then the audit is clean and
 * the next allocations hand out nothing inside the slab (its blocks are
 * all held) and overlap nothing. */
static void test_slab_remainder_free(void **state)
{
    (void)state;
    unsigned tested = 0;
    for (size_t prev = 0; prev < ((size_t)64 << 10);) {
        char *probe = numa_malloc_local(prev + 1);
        assert_non_null(probe);
        size_t d = nslab_usable_size(probe);
        assert_int_equal(nslab_free(probe), 0);
        assert_true(d > prev);
        prev = d;
        size_t bytes = testutil_slab_bytes(d), cap = bytes / d;
        if (bytes % d == 0)
            continue;
        size_t n;
        long r = hold_whole_slab(d, cap, &n);
        if (r < 0)
            fail_msg("class %zu: no whole slab among %zu blocks", d, n);
        char *first = held[r], *last = held[r + (long)cap - 1];
        char *span = (char *)((uintptr_t)first & ~(TESTUTIL_SLAB_PAGE - 1));
        /* the run lies in the slab's pages, and nothing else of them is a block */
        assert_true(last + d <= span + bytes);
        size_t bad = 0;
        for (size_t off = 0; off < bytes; off += 16) {
            char *a = span + off;
            if (a >= first && a <= last && (size_t)(a - first) % d == 0)
                continue; /* one of the held blocks */
            for (int u = 0; u < (off % 4096 == 0 || off + 16 == bytes ? 3 : 1); u++) {
                char *x = a + (u == 0 ? 0 : u == 1 ? 8 : 1);
                errno = 0;
                int e = nslab_free(x);
                if (e != -EINVAL || errno != EINVAL) {
                    if (bad++ < 4)
                        printf("class %zu (slab %p, %zu bytes, capacity %zu): free(slab + %zu) "
                               "gave %d\n",
                               d, (void *)span, bytes, cap, (size_t)(x - span), e);
                }
            }
        }
        if (bad)
            fail_msg("class %zu: %zu addresses of the slab that are no block were freed", d, bad);
        assert_int_equal(nslab_arena_audit(stdout), 0);
        /* nothing got into a bin or the slab: the next blocks are new */
        static char *more[SLAB_MAX_HELD];
        size_t m = 2 * cap + 64 < SLAB_MAX_HELD ? 2 * cap + 64 : SLAB_MAX_HELD;
        for (size_t i = 0; i < m; i++) {
            more[i] = numa_malloc_local(d);
            assert_non_null(more[i]);
            if (more[i] + d > span && more[i] < span + bytes)
                fail_msg("class %zu: %p handed out inside the slab %p whose blocks are all held",
                         d, (void *)more[i], (void *)span);
            memset(more[i], 0xa5, d);
        }
        for (size_t i = 0; i < m; i++)
            assert_int_equal(nslab_free(more[i]), 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(nslab_free(held[i]), 0);
        assert_int_equal(nslab_arena_audit(stdout), 0);
        tested++;
    }
    printf("%u classes whose size does not divide their slab checked\n", tested);
    assert_true(tested >= 40);
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
        cmocka_unit_test(test_slab_remainder_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
