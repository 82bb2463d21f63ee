/*
 * tests/pool/test_pool_dead.c - destroyed pool and pool set handles (issue
 * 11, item 6): every call on a handle that was destroyed returns its
 * documented error (-EINVAL / NULL with EINVAL) instead of reading unmapped
 * memory, for at least 16 later destroys; a create/destroy loop does not
 * grow the process's mappings.  Public header only.
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

static nslab_pool_t *make_pool(void)
{
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 64);
    nslab_pool_t *p = nslab_pool_create(node0(), &o);
    assert_non_null(p);
    return p;
}

/* Every entry point on a dead pool: its error, nothing else. */
static void check_dead(nslab_pool_t *p, void *old_buf)
{
    void *bufs[2];
    nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };

    assert_int_equal(nslab_pool_destroy(p), -EINVAL);
    errno = 0;
    assert_null(nslab_pool_get(p));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(nslab_pool_get_wait(p, 0));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_pool_get_bulk(p, bufs, 2), -EINVAL);
    assert_int_equal(nslab_pool_put(p, old_buf), -EINVAL);
    assert_int_equal(nslab_pool_put(NULL, old_buf), -EINVAL);
    assert_int_equal(nslab_pool_put_bulk(p, bufs, 0), -EINVAL);
    assert_int_equal(nslab_pool_stats(p, &st), -EINVAL);
    assert_int_equal(nslab_pool_node(p), -EINVAL);
    assert_int_equal(nslab_pool_audit(p, NULL), -EINVAL);
    assert_int_equal(nslab_pool_move(p, node0(), NULL), -EINVAL);
    nslab_pool_cache_flush(p); /* no return value: must just not crash */
    assert_null(nslab_pool_of(old_buf));
}

static void test_pool_destroyed(void **state)
{
    (void)state;
    nslab_pool_t *p = make_pool();
    void *b = nslab_pool_get(p);
    assert_non_null(b);
    assert_int_equal(nslab_pool_put(p, b), 0);
    assert_int_equal(nslab_pool_destroy(p), 0);
    check_dead(p, b);
    check_dead(p, b); /* and again */
}

/* A handle stays dead while 16 more pools are created and destroyed (the
 * library keeps dead handles at least that long before reusing one). */
static void test_pool_destroyed_quarantine(void **state)
{
    (void)state;
    nslab_pool_t *first = make_pool();
    void *b = nslab_pool_get(first);
    assert_int_equal(nslab_pool_put(first, b), 0);
    assert_int_equal(nslab_pool_destroy(first), 0);
    nslab_pool_t *later[16];
    for (int i = 0; i < 16; i++) {
        later[i] = make_pool();
        assert_ptr_not_equal(later[i], first);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(later[i], later[j]);
    }
    for (int i = 0; i < 16; i++)
        assert_int_equal(nslab_pool_destroy(later[i]), 0);
    check_dead(first, b);
    for (int i = 0; i < 16; i++)
        check_dead(later[i], b);
}

static unsigned maps_count(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    unsigned n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Dead handles are reused past the quarantine: 2000 create/destroy rounds
 * leave the mappings where they were (give or take a few). */
static void test_pool_create_destroy_loop(void **state)
{
    (void)state;
    for (int i = 0; i < 40; i++) /* fill the quarantine first */
        assert_int_equal(nslab_pool_destroy(make_pool()), 0);
    unsigned before = maps_count();
    for (int i = 0; i < 2000; i++)
        assert_int_equal(nslab_pool_destroy(make_pool()), 0);
    unsigned after = maps_count();
    assert_true(after <= before + 8);
}

static void test_poolset_destroyed(void **state)
{
    (void)state;
    nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 64, .count = 64);
    nslab_poolset_t *s = nslab_poolset_create(&o);
    assert_non_null(s);
    void *b = nslab_poolset_get(s);
    assert_non_null(b);
    assert_int_equal(nslab_poolset_put(s, b), 0);
    assert_int_equal(nslab_poolset_destroy(s), 0);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(nslab_poolset_destroy(s), -EINVAL);
        errno = 0;
        assert_null(nslab_poolset_get(s));
        assert_int_equal(errno, EINVAL);
        assert_int_equal(nslab_poolset_put(s, b), -EINVAL);
        errno = 0;
        assert_null(nslab_poolset_local(s));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(nslab_poolset_pool(s, node0()));
        assert_int_equal(errno, EINVAL);
        errno = 0;
        assert_null(nslab_worker_bind(node0(), s));
    }
    for (int i = 0; i < 40; i++) {
        nslab_poolset_t *t = nslab_poolset_create(&o);
        assert_non_null(t);
        assert_int_equal(nslab_poolset_destroy(t), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_destroyed),
        cmocka_unit_test(test_pool_destroyed_quarantine),
        cmocka_unit_test(test_pool_create_destroy_loop),
        cmocka_unit_test(test_poolset_destroyed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
