/*
 * tests/arena/test_arena_api.c - the arena entry points through the public
 * header only: errors exactly as numaslab.h documents them, alignment,
 * usable size, calloc, realloc across classes and into/out of large blocks,
 * node of every pointer, frees of foreign pointers, statistics that add up
 * and a clean audit.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int node0; /* the first allowed node with memory */

static int setup(void **state)
{
    (void)state;
    node0 = testutil_memory_node(0);
    return node0 < 0 ? -1 : 0;
}

static void test_errors(void **state)
{
    (void)state;
    int count = nslab_node_count();
    assert_true(count >= 1);

    errno = 0;
    assert_null(numa_malloc_on(node0, 0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(numa_malloc_local(0));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(numa_malloc_on(-2, 64));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(numa_malloc_on(count, 64));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(numa_malloc_on(NSLAB_MAX_NODES + 5, 64));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(numa_malloc_on(node0, SIZE_MAX));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(numa_malloc_on(node0, SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);

    /* a node without memory: ENODEV (a memoryless node, in the VM) */
    nslab_nodeset_t ml;
    if (nslab_nodes(NSLAB_NODES_MEMORYLESS, &ml) > 0) {
        errno = 0;
        assert_null(numa_malloc_on(nslab_nodeset_next(&ml, 0), 64));
        assert_int_equal(errno, ENODEV);
    }

    /* calloc overflow */
    errno = 0;
    assert_null(numa_calloc_on(node0, SIZE_MAX / 2, 3));
    assert_int_equal(errno, ENOMEM);
    errno = 0;
    assert_null(numa_calloc_on(node0, 0, 8));
    assert_int_equal(errno, EINVAL);

    /* bad alignments */
    size_t bad[] = { 0, 3, 24, 100, NSLAB_MAX_ALIGN * 2 + 1 };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        errno = 0;
        assert_null(numa_aligned_alloc_on(node0, bad[i], 64));
        assert_int_equal(errno, EINVAL);
    }
    errno = 0;
    assert_null(numa_aligned_alloc_on(-7, 64, 64));
    assert_int_equal(errno, EINVAL);

    /* pointers the library does not own: nothing touched */
    int on_stack = 42;
    char *heap = malloc(64);
    assert_non_null(heap);
    memset(heap, 0x5a, 64);
    errno = 0;
    assert_int_equal(nslab_free(&on_stack), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_free(heap), -EINVAL);
    assert_int_equal(heap[0], 0x5a);
    assert_int_equal(nslab_free((void *)(uintptr_t)1), -EINVAL);
    assert_int_equal(nslab_free((void *)~(uintptr_t)0), -EINVAL);
    assert_int_equal(nslab_free(NULL), 0);
    errno = 0;
    assert_int_equal(nslab_usable_size(heap), 0);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_node_of(heap), -EINVAL);
    assert_int_equal(nslab_node_of(NULL), -EINVAL);
    errno = 0;
    assert_null(nslab_realloc(heap, 100));
    assert_int_equal(errno, EINVAL);
    free(heap);

    /* the header page of a chunk is not a block */
    char *p = numa_malloc_on(node0, 64);
    assert_non_null(p);
    char *chunk = (char *)((uintptr_t)p & ~(uintptr_t)((4u << 20) - 1));
    assert_int_equal(nslab_free(chunk + 64), -EINVAL);
    assert_int_equal(nslab_node_of(chunk + 64), -EINVAL);
    assert_int_equal(nslab_free(p), 0);

    /* a user region's address is not nslab_free's to release */
    nslab_policy_t pol = nslab_policy_bind(node0);
    nslab_region_t *r = nslab_region_create(1 << 20, &pol, NULL);
    assert_non_null(r);
    assert_int_equal(nslab_free(nslab_region_addr(r)), -EINVAL);
    assert_int_equal(nslab_region_destroy(r), 0);

    /* large block: only its start is a pointer to free */
    char *big = numa_malloc_on(node0, 1 << 20);
    assert_non_null(big);
    assert_int_equal(nslab_free(big + 16), -EINVAL);
    assert_int_equal(nslab_node_of(big + 100), node0);
    assert_int_equal(nslab_free(big), 0);

    /* a large block freed twice: the second is refused (the region is
     * unmapped, or kept in the node's cache marked freed) */
    unsigned char *lg = numa_malloc_on(node0, 200000);
    assert_non_null(lg);
    memset(lg, 0xab, 200000);
    assert_int_equal(nslab_free(lg), 0);
    assert_int_equal(nslab_free(lg), -EINVAL);
    /* calloc of a large block reads as zero, even when it reuses a region */
    for (int i = 0; i < 3; i++) {
        unsigned char *z = numa_calloc_on(node0, 1000, 200);
        assert_non_null(z);
        for (size_t j = 0; j < 200000; j++)
            assert_int_equal(z[j], 0);
        memset(z, 0xcd, 200000);
        assert_int_equal(nslab_free(z), 0);
    }

    /* stats argument checks */
    nslab_arena_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(-1, &st), -EINVAL);
    assert_int_equal(nslab_arena_stats(count, &st), -EINVAL);
    assert_int_equal(nslab_arena_stats(node0, NULL), -EINVAL);
    st.version = 99;
    assert_int_equal(nslab_arena_stats(node0, &st), -EINVAL);
    st.version = NSLAB_STATS_VERSION;
    st.size = 0;
    assert_int_equal(nslab_arena_stats(node0, &st), -EINVAL);
    assert_int_equal(nslab_arena_print(NULL), -EINVAL);
}

static void test_alignment(void **state)
{
    (void)state;
    size_t sizes[] = { 1, 8, 16, 17, 64, 100, 1000, 4096, 5000, 65536, 70000, 1 << 20 };
    for (size_t a = 1; a <= NSLAB_MAX_ALIGN; a <<= 1) {
        for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            size_t s = sizes[i];
            unsigned char *p = numa_aligned_alloc_on(node0, a, s);
            assert_non_null(p);
            assert_int_equal((uintptr_t)p % a, 0);
            assert_int_equal((uintptr_t)p % 16, 0);
            assert_true(nslab_usable_size(p) >= s);
            assert_int_equal(nslab_node_of(p), node0);
            testutil_fill(p, s, (unsigned)i);
            assert_true(testutil_check(p, s, (unsigned)i));
            assert_int_equal(nslab_free(p), 0);
        }
    }
    /* local and aligned */
    void *p = numa_aligned_alloc_on(NSLAB_NODE_LOCAL, 256, 300);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 256, 0);
    assert_int_equal(nslab_free(p), 0);
    /* plain allocations: >= 16 and natural for powers of two up to 4 KiB */
    for (size_t s = 1; s <= 3 * 65536; s = s * 2 + (s & 1)) {
        void *q = numa_malloc_on(node0, s);
        assert_non_null(q);
        assert_int_equal((uintptr_t)q % 16, 0);
        if ((s & (s - 1)) == 0)
            assert_int_equal((uintptr_t)q % (s < 4096 ? s : 4096), 0);
        assert_int_equal(nslab_free(q), 0);
    }
}

static void test_usable_and_calloc(void **state)
{
    (void)state;
    for (size_t s = 1; s < 300000; s = s + 1 + s / 3) {
        unsigned char *p = numa_calloc_on(node0, 1, s);
        assert_non_null(p);
        size_t u = nslab_usable_size(p);
        assert_true(u >= s);
        if (s > 128 && s <= 65536)
            assert_true((u - s) * 8 < u);
        for (size_t i = 0; i < s; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xff, u); /* all of the usable size is usable */
        assert_int_equal(nslab_free(p), 0);
        /* the same class again: a recycled (dirty) block comes back zeroed */
        p = numa_calloc_on(node0, s, 1);
        assert_non_null(p);
        for (size_t i = 0; i < s; i++)
            assert_int_equal(p[i], 0);
        assert_int_equal(nslab_free(p), 0);
    }
}

static void test_realloc_kinds(void **state)
{
    (void)state;
    size_t steps[] = { 10, 24, 100, 129, 1000, 5000, 65536, 65537, 300000, 2 << 20,
                       70000, 60000, 300, 16, 1 };
    unsigned char *p = nslab_realloc(NULL, 5);
    assert_non_null(p);
    assert_int_equal(nslab_node_of(p) >= 0, 1);
    testutil_fill(p, 5, 3);
    size_t have = 5;
    for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        size_t s = steps[i];
        unsigned char *q = nslab_realloc(p, s);
        assert_non_null(q);
        size_t keep = have < s ? have : s;
        assert_true(testutil_check(q, keep, 3));
        assert_true(nslab_usable_size(q) >= s);
        testutil_fill(q, s, 3);
        p = q;
        have = s;
    }
    assert_int_equal(nslab_free(p), 0);

    /* the block stays on its node; size 0 frees */
    unsigned char *b = numa_malloc_on(node0, 40);
    assert_non_null(b);
    testutil_fill(b, 40, 9);
    unsigned char *c = nslab_realloc(b, 200000);
    assert_non_null(c);
    assert_int_equal(nslab_node_of(c), node0);
    assert_true(testutil_check(c, 40, 9));
    errno = 1234;
    assert_null(nslab_realloc(c, 0));
    assert_int_equal(errno, 1234);

    /* a failing realloc leaves the old block alone */
    unsigned char *d = numa_malloc_on(node0, 100);
    testutil_fill(d, 100, 1);
    errno = 0;
    assert_null(nslab_realloc(d, SIZE_MAX / 2));
    assert_int_equal(errno, ENOMEM);
    assert_true(testutil_check(d, 100, 1));
    assert_int_equal(nslab_free(d), 0);

    /* interleaved allocations keep their node set */
    unsigned char *iv = numa_malloc_interleaved(1 << 20, NULL);
    assert_non_null(iv);
    testutil_fill(iv, 4096, 5);
    unsigned char *iv2 = nslab_realloc(iv, 3 << 20);
    assert_non_null(iv2);
    assert_true(testutil_check(iv2, 4096, 5));
    assert_int_equal(nslab_free(iv2), 0);
}

static void test_node_of_everything(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    enum { N = 600 };
    static void *ptrs[N];
    static int nodes[N];
    int k = 0;
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        for (int i = 0; i < 150 && k < N; i++, k++) {
            size_t s = (size_t)(i * i * 13 % 200000) + 1;
            ptrs[k] = numa_malloc_on(n, s);
            assert_non_null(ptrs[k]);
            nodes[k] = n;
        }
    }
    for (int i = 0; i < k; i++)
        assert_int_equal(nslab_node_of(ptrs[i]), nodes[i]);
    void *l = numa_malloc_local(64);
    assert_non_null(l);
    int ln = nslab_node_of(l);
    assert_true(ln >= 0 && nslab_nodeset_has(&mem, ln));
    assert_int_equal(nslab_free(l), 0);
    for (int i = 0; i < k; i++)
        assert_int_equal(nslab_free(ptrs[i]), 0);
}

static void test_stats_add_up(void **state)
{
    (void)state;
    nslab_thread_flush();
    nslab_arena_stats_t a = { .size = sizeof a, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node0, &a), 0);
    assert_int_equal(a.node, node0);

    enum { N = 500 };
    static void *p[N];
    size_t bytes = 0;
    for (int i = 0; i < N; i++) {
        size_t s = (size_t)(i % 50) * 97 + 1 + (i % 100 == 0 ? 100000 : 0);
        p[i] = numa_malloc_on(node0, s);
        assert_non_null(p[i]);
        bytes += nslab_usable_size(p[i]);
    }
    nslab_arena_stats_t b = { .size = sizeof b, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node0, &b), 0);
    assert_int_equal(b.allocs - a.allocs, N);
    assert_int_equal(b.frees - a.frees, 0);
    assert_int_equal(b.bytes_in_use - a.bytes_in_use, bytes);
    assert_int_equal(b.large - a.large, 5);
    assert_true(b.bytes_mapped >= b.bytes_in_use);
    assert_true(b.bytes_committed <= b.bytes_mapped);
    assert_true(b.chunks >= 1);
    assert_int_equal(nslab_arena_audit(stdout), 0);

    for (int i = 0; i < N; i++)
        assert_int_equal(nslab_free(p[i]), 0);
    nslab_arena_stats_t c = { .size = sizeof c, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node0, &c), 0);
    assert_int_equal(c.frees - a.frees, N);
    assert_int_equal(c.bytes_in_use, a.bytes_in_use);
    assert_int_equal(c.large, a.large);
    assert_int_equal(nslab_arena_audit(stdout), 0);

    /* a caller with an older, smaller struct gets only what it holds */
    struct {
        nslab_arena_stats_t s;
        uint64_t canary;
    } small;
    memset(&small, 0x77, sizeof small);
    small.s.size = (uint32_t)offsetof(nslab_arena_stats_t, bytes_committed);
    small.s.version = NSLAB_STATS_VERSION;
    assert_int_equal(nslab_arena_stats(node0, &small.s), 0);
    assert_int_equal(small.s.node, node0);
    unsigned char *tail = (unsigned char *)&small.s + small.s.size;
    assert_int_equal(tail[0], 0x77);
    assert_int_equal(small.canary, 0x7777777777777777ull);

    /* the printer: one line per node with memory */
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(nslab_arena_print(f), 0);
    rewind(f);
    char line[512];
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "node "));
    assert_non_null(strstr(line, "remote_in"));
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_usable_and_calloc),
        cmocka_unit_test(test_realloc_kinds),
        cmocka_unit_test(test_node_of_everything),
        cmocka_unit_test(test_stats_add_up),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
