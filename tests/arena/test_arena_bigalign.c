/*
 * tests/arena/test_arena_bigalign.c - alignments above 2 MiB (issue 11,
 * item 11): numa_aligned_alloc_on serves any power of two the address
 * space can hold, on the node asked (every page bound there, checked with
 * move_pages), the block is a normal block for nslab_free, realloc,
 * usable_size and node_of; only the block (and one header page) is
 * memory, not the alignment; ENOMEM only when the address space cannot
 * hold size + align.  Public header only.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int node0(void)
{
    nslab_nodeset_t s;
    assert_true(testutil_memory_nodes(&s) > 0);
    return nslab_nodeset_next(&s, 0);
}

static void test_big_alignments(void **state)
{
    (void)state;
    int node = node0();
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t sizes[] = { 1, 100, 70000, (size_t)5 << 20 };
    for (int k = 22; k <= 44; k += 2) {
        size_t a = (size_t)1 << k;
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t n = sizes[i];
            if (k > 34 && n > 100)
                continue; /* the big ones once: each is fast, but keep it short */
            unsigned char *p = numa_aligned_alloc_on(node, a, n);
            if (!p)
                fail_msg("align 2^%d size %zu: NULL (errno %d)", k, n, errno);
            assert_int_equal((uintptr_t)p % a, 0);
            assert_int_equal(nslab_node_of(p), node);
            assert_true(nslab_usable_size(p) >= n);
            testutil_fill(p, n, (unsigned)k);
            assert_all_on_node(p, n, node);
            /* the alignment is address space, not memory: nothing of the
             * 4 MiB below the block but the header page is resident */
            assert_int_equal(testutil_resident_pages(p - ((size_t)4 << 20) + page,
                                                     ((size_t)4 << 20) - page), 0);
            /* interior pointers are refused, the block is intact */
            errno = 0;
            assert_int_equal(nslab_free(p + 64), -EINVAL);
            assert_true(testutil_check(p, n, (unsigned)k));
            assert_int_equal(nslab_free(p), 0);
            errno = 0;
            assert_int_equal(nslab_free(p), -EINVAL); /* freed: not a block now */
        }
    }
}

static void test_big_alignment_realloc(void **state)
{
    (void)state;
    int node = node0();
    unsigned char *p = numa_aligned_alloc_on(node, (size_t)1 << 26, 5000);
    assert_non_null(p);
    testutil_fill(p, 5000, 7);
    unsigned char *q = nslab_realloc(p, 100000);
    assert_non_null(q);
    assert_true(testutil_check(q, 5000, 7));
    assert_int_equal(nslab_node_of(q), node);
    assert_int_equal(nslab_free(q), 0);
    /* local node and calloc-like zeroing of a fresh mapping */
    unsigned char *l = numa_aligned_alloc_on(NSLAB_NODE_LOCAL, (size_t)1 << 30, 4096);
    assert_non_null(l);
    assert_int_equal((uintptr_t)l % ((size_t)1 << 30), 0);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(l[i], 0);
    assert_int_equal(nslab_free(l), 0);
    assert_int_equal(nslab_arena_audit(NULL), 0);
}

static void test_impossible_alignments(void **state)
{
    (void)state;
    int node = node0();
    for (int k = 47; k <= 63; k += 4) {
        errno = 0;
        assert_null(numa_aligned_alloc_on(node, (size_t)1 << k, 64));
        assert_int_equal(errno, ENOMEM);
    }
    errno = 0;
    assert_null(numa_aligned_alloc_on(node, (size_t)1 << 30, SIZE_MAX - 4096));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(numa_aligned_alloc_on(node, ((size_t)1 << 30) + 1, 64));
    assert_int_equal(errno, EINVAL);
    /* nothing left behind */
    nslab_arena_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &st), 0);
    assert_int_equal(st.large, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_alignments),
        cmocka_unit_test(test_big_alignment_realloc),
        cmocka_unit_test(test_impossible_alignments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
