/*
 * tests/arena/test_arena_sizeclass.c - size-class boundaries and shapes
 * (arena/sizeclass.h), and that the public API hands out exactly the class
 * a size maps to: usable size, the small/large threshold, alignment.
 */
#include "testutil.h"

#include <errno.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_class_table),
        cmocka_unit_test(test_waste_bound),
        cmocka_unit_test(test_align_classes),
        cmocka_unit_test(test_public_boundaries),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
