/*
 * tests/arena/test_arena_sizeclass.c - size-class boundaries and shapes
 * (arena/sizeclass.h), and that the public API hands out exactly the class
 * a size maps to: usable size, the small/large threshold, alignment.  And
 * the free fast path's block test (arena.h, struct chunk_pg): for every
 * class and many slab addresses, every block start gives the page's bin
 * offset and every other address of the slab one past every cache's
 * bound.
 */
#include "testutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

static int setup(void **state)
{
    (void)state;
    return arena_global_init();
}

static void test_class_table(void **state)
{
    (void)state;
    assert_int_equal(sc_size[0], 0);
    assert_int_equal(sc_size[1], 16);
    assert_int_equal(sc_size[8], 128);
    assert_int_equal(sc_size[SC_COUNT - 1], SC_SMALL_MAX);
    for (unsigned c = 1; c < SC_COUNT; c++) {
        size_t s = sc_size[c];
        assert_true(s % 16 == 0);
        if (c > 1)
            assert_true(s > sc_size[c - 1]);
        /* every size maps to the smallest class that holds it */
        assert_int_equal(sc_of(s), c);
        assert_int_equal(sc_of(sc_size[c - 1] + 1), c);
        /* shape: 1 page up to 8 KiB, else >= 8 blocks per slab */
        assert_true(sc_capacity[c] >= 8);
        assert_true(sc_pages[c] >= 1 && sc_pages[c] <= 8);
        if (s <= 8192)
            assert_int_equal(sc_pages[c], 1);
        else
            assert_true((sc_pages[c] - 1) * ARENA_PAGE_SIZE / s < 8);
        assert_int_equal(sc_capacity[c], sc_pages[c] * ARENA_PAGE_SIZE / s);
        assert_true(sc_limit[c] >= 2 && sc_limit[c] <= SC_MAX_LIMIT);
        assert_true(sc_limit[c] == 2 || (size_t)sc_limit[c] * s <= 64 * 1024);
        assert_int_equal(sc_batch[c], (uint32_t)sc_limit[c] / 2);
    }
}

static void test_waste_bound(void **state)
{
    (void)state;
    for (size_t s = 1; s <= SC_SMALL_MAX; s++) {
        unsigned c = sc_of(s);
        assert_true(c >= 1 && c < SC_COUNT);
        assert_true(sc_size[c] >= s);
        if (s > 128)
            assert_true((sc_size[c] - s) * 8 < sc_size[c]); /* < 12.5% */
        else
            assert_true(sc_size[c] - s < 16);
        if (s <= SC_TABLE_MAX)
            assert_int_equal(sc_table[s], sc_binoff(c));
        /* the inline fast paths' lookup (sc_table, then sc_table_mid) */
        size_t off = 0;
        assert_int_equal(sc_lookup_binoff(s, &off), 1);
        assert_int_equal(off, sc_binoff(c));
    }
    assert_int_equal(sc_table[0], sc_binoff(0)); /* size 0: the always-empty bin */
    size_t off = 0;
    assert_int_equal(sc_lookup_binoff(0, &off), 1);
    assert_int_equal(off, sc_binoff(0));
    assert_int_equal(sc_lookup_binoff(SC_SMALL_MAX + 1, &off), 0); /* large */
}

static void test_align_classes(void **state)
{
    (void)state;
    for (size_t a = 16; a <= SC_SMALL_MAX; a <<= 1)
        for (size_t s = 1; s <= SC_SMALL_MAX; s = s * 3 + 1) {
            unsigned c = sc_for_align(s, a);
            if (s > SC_SMALL_MAX || a > SC_SMALL_MAX) {
                assert_int_equal(c, 0);
                continue;
            }
            assert_true(c != 0);
            assert_true(sc_size[c] >= s && sc_size[c] >= a);
            assert_int_equal(sc_size[c] % a, 0);
        }
    assert_int_equal(sc_for_align(16, SC_SMALL_MAX * 2), 0);
}

static void test_public_boundaries(void **state)
{
    (void)state;
    for (unsigned c = 1; c < SC_COUNT; c++) {
        size_t sizes[3] = { sc_size[c - 1] + 1, sc_size[c], sc_size[c] - 1 };
        for (int i = 0; i < 3; i++) {
            size_t s = sizes[i];
            if (s == 0)
                continue;
            void *p = numa_malloc_on(0, s);
            assert_non_null(p);
            assert_int_equal(nslab_usable_size(p), sc_size[c]);
            assert_int_equal((uintptr_t)p % 16, 0);
            /* power-of-two sizes are naturally aligned (at least to 4 KiB) */
            if ((s & (s - 1)) == 0)
                assert_int_equal((uintptr_t)p % (s < 4096 ? s : 4096), 0);
            memset(p, 0xa5, s);
            assert_int_equal(nslab_node_of(p), 0);
            assert_int_equal(nslab_free(p), 0);
        }
    }
    /* the threshold: 64 KiB is a slab block, one byte more is a region */
    void *p = numa_malloc_on(0, SC_SMALL_MAX);
    assert_non_null(p);
    assert_int_equal(seg_lookup(p)->kind, SEG_CHUNK);
    assert_int_equal(nslab_usable_size(p), SC_SMALL_MAX);
    void *q = numa_malloc_on(0, SC_SMALL_MAX + 1);
    assert_non_null(q);
    assert_int_equal(seg_lookup(q)->kind, SEG_REGION);
    assert_true(nslab_usable_size(q) >= SC_SMALL_MAX + 1);
    assert_int_equal((uintptr_t)q % 4096, 0);
    assert_int_equal(nslab_free(p), 0);
    assert_int_equal(nslab_free(q), 0);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* The free fast path's bin offset (chunk_test_off, the code the fast path
 * runs) for addresses of slabs of every class, at chunk addresses spread
 * over the 47-bit user space and at every page a slab of the class can
 * start on, laid out as slab.c lays them out (block 0 at slab_slack(),
 * the last block ending at the slab's last byte): a block start gives
 * exactly the page's bin offset, any other 16-byte aligned address of the
 * slab's pages (and a few unaligned ones) an offset at or above 2^23, past
 * the largest cache's bound; so does the exact test (chunk_block_start).
 * No address is left out: the slack before block 0 and the bytes a
 * layout with block 0 at the first page would leave after the last block
 * included. */
static void test_block_test(void **state)
{
    (void)state;
    struct chunk *c = calloc(1, sizeof(struct chunk));
    assert_non_null(c);
    const uint64_t bound = (uint64_t)NSLAB_MAX_NODES * sizeof(struct tc_node);
    unsigned long long seed = 0x9e3779b97f4a7c15ULL, nomul = 0, slabs = 0;
    for (unsigned cls = 1; cls < SC_COUNT; cls++) {
        uint64_t d = sc_size[cls], cap = sc_capacity[cls];
        unsigned np = sc_pages[cls];
        for (int k = 0; k < 24; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            /* a chunk address below 2^47 (k 0 and 1: the lowest and the
             * highest), a first page 1 .. ARENA_PAGES - np */
            uint64_t chunk = k == 0 ? SEG_SIZE
                             : k == 1 ? (((uint64_t)1 << 47) - SEG_SIZE)
                                      : ((seed >> 17) & (((uint64_t)1 << 47) - 1)) & ~(uint64_t)SEG_MASK;
            if (chunk < SEG_SIZE)
                chunk = SEG_SIZE;
            unsigned first = 1 + (unsigned)((seed >> 7) % (ARENA_PAGES - np));
            uintptr_t span = (uintptr_t)chunk + (uintptr_t)first * ARENA_PAGE_SIZE;
            uint64_t slack = slab_slack(cls);
            /* the blocks end at the slab's end; the slack is shorter than
             * a block and keeps the class's alignment */
            assert_int_equal(slack + cap * d, (uint64_t)np * ARENA_PAGE_SIZE);
            assert_true(slack < d);
            assert_int_equal(slack % (d & -d), 0);
            uintptr_t start = span + slack;
            uint64_t mul = slab_test_mul(start, cls);
            slabs++;
            if (!mul) {
                nomul++; /* its frees take the slow path: allowed, rare */
                continue;
            }
            /* the node's offset: node 0 or the largest node */
            uint32_t bin_off = (uint32_t)((k & 1 ? NSLAB_MAX_NODES - 1 : 0) *
                                          sizeof(struct tc_node)) + sc_binoff(cls);
            for (unsigned i = first; i < first + np; i++) {
                c->test_mul[i] = mul;
                c->bin_base[i] = bin_off - (((uint64_t)start * mul) >> CHUNK_TEST_SHIFT);
                c->pg[i].start_mul = (uint64_t)start * mul;
            }
            /* the span's every 16th byte, a few unaligned ones */
            for (uint64_t n = 0; n < (uint64_t)np * ARENA_PAGE_SIZE; n += 16) {
                int edge = n % 4096 == 0 || n + 16 == (uint64_t)np * ARENA_PAGE_SIZE ||
                           n + 16 == slack || n == cap * d;
                for (unsigned u = 0; u < (edge ? 3u : 1u); u++) {
                    uint64_t a = span + n + (u == 0 ? 0 : u == 1 ? 8 : 1);
                    uintptr_t pn = (uintptr_t)(a >> ARENA_PAGE_SHIFT);
                    size_t off = chunk_test_off(
                        (uintptr_t)c - (pn & ~(uintptr_t)(ARENA_PAGES - 1)) * 8, pn, (uintptr_t)a);
                    int is_start = u == 0 && n >= slack && (n - slack) % d == 0 &&
                                   (n - slack) / d < cap;
                    if (is_start ? off != bin_off : off < 2 * bound)
                        fail_msg("class %u (size %llu, slack %llu) slab at %#llx: address "
                                 "+%llu gives bin offset %#llx (page's %#x)",
                                 cls, (unsigned long long)d, (unsigned long long)slack,
                                 (unsigned long long)span, (unsigned long long)(a - span),
                                 (unsigned long long)off, bin_off);
                    unsigned pi = (unsigned)(pn & (ARENA_PAGES - 1));
                    int exact = (uint64_t)a * c->test_mul[pi] - c->pg[pi].start_mul <
                                ((uint64_t)1 << 32);
                    if (exact != is_start)
                        fail_msg("class %u (size %llu) slab at %#llx: the exact test says %d "
                                 "for +%llu",
                                 cls, (unsigned long long)d, (unsigned long long)span, exact,
                                 (unsigned long long)(a - span));
                }
            }
        }
    }
    /* at most one slab in 1000 without a multiplier (none expected) */
    assert_true(nomul * 1000 <= slabs);
    /* a page without blocks: every address past the bound */
    c->test_mul[0] = 0;
    c->bin_base[0] = CHUNK_NO_BASE;
    uintptr_t pn = SEG_SIZE >> ARENA_PAGE_SHIFT;
    assert_true(chunk_test_off((uintptr_t)c - pn * 8, pn, (uintptr_t)SEG_SIZE) >= 2 * bound);
    free(c);
}

/* numa_malloc_local's hit path looks sizes below TC_LOCAL_SIZES up in the
 * thread cache's own table and the others in sc_table_mid (arena.h): both
 * give every size its class.  Each size is allocated twice (the second
 * allocation is a hit on a cache that caches the thread's node), freed and
 * allocated again from the bin. */
static void test_local_table(void **state)
{
    (void)state;
    for (size_t s = 1; s <= SC_TABLE_MAX + 300; s++) {
        void *p = numa_malloc_local(s), *q = numa_malloc_local(s);
        assert_non_null(p);
        assert_non_null(q);
        assert_int_equal(nslab_usable_size(p), sc_size[sc_of(s)]);
        assert_int_equal(nslab_usable_size(q), sc_size[sc_of(s)]);
        memset(q, 0x5a, s);
        assert_int_equal(nslab_free(q), 0);
        void *r = numa_malloc_local(s); /* from the bin q went to */
        assert_ptr_equal(r, q);
        assert_int_equal(nslab_free(r), 0);
        assert_int_equal(nslab_free(p), 0);
    }
    struct tcache *tc = arena_tls;
    assert_true(tc != &tcache_empty);
    if (tc->cpu != TC_NO_CPU) { /* a node cached: its table holds it */
        assert_int_equal(tc->tab_off, tc->local_off);
        for (size_t s = 0; s < TC_LOCAL_SIZES; s++)
            assert_int_equal(tcache_local_tab(tc)[s], tc->local_off + sc_table[s]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_table),
        cmocka_unit_test(test_waste_bound),
        cmocka_unit_test(test_align_classes),
        cmocka_unit_test(test_public_boundaries),
        cmocka_unit_test(test_block_test),
        cmocka_unit_test(test_local_table),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
