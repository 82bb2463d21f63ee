/*
 * tests/arena/test_arena_commit.c - memory is bound at allocation and
 * committed on use (arena/chunk.c, large.c, tcache.c; numaslab.h,
 * nslab_arena_prefault_t):
 *  - a tiny program's first block commits the chunk's header page and one
 *    slab, not the 4 MiB chunk, and of the slab only the first
 *    ARENA_POPULATE_STEP is resident: the node's committed bytes, the
 *    chunk's resident pages (mincore) and the capacity the chunk still holds
 *    in the ledger for the rest (bytes_reserved) say so;
 *  - under prefault NONE a new slab is not populated: only the pages the
 *    refill wrote are resident, and they are on the node (move_pages); the
 *    chunk is bound to the node throughout (get_mempolicy);
 *  - freed large blocks do not keep RSS past the cache's dirty budget, and
 *    nslab_thread_flush decommits them all; a cached block taken again by
 *    the populating API is resident again, one taken by calloc reads zero;
 *    one nobody takes is decommitted after ARENA_LARGE_CACHE_AGE frees, or
 *    at the second chunk purge step of its node;
 *  - a thread per task: creating and ending 200 threads that allocate maps
 *    at most one thread cache (the dead threads' caches are reused), their
 *    blocks go home (the audit is clean, in-use bytes are back).
 * Runs on node 0 here; in the 4-node guest (numa-vm) on the last node with
 * memory too.
 */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"

static nslab_nodeset_t mem;
static int first_node, last_node;
static size_t os_page;

static int setup(void **state)
{
    (void)state;
    if (testutil_memory_nodes(&mem) < 1)
        return -1;
    first_node = last_node = nslab_nodeset_next(&mem, 0);
    for (int n = first_node; n >= 0; n = nslab_nodeset_next(&mem, n + 1))
        last_node = n;
    os_page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

static nslab_arena_stats_t stats(int node)
{
    nslab_arena_stats_t s = { .size = sizeof s, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &s), 0);
    return s;
}

/* The first block of a fresh node: header page + one slab committed. */
static void tiny(int node)
{
    nslab_arena_stats_t s0 = stats(node);
    assert_int_equal(s0.chunks, 0); /* nothing allocated on the node yet */
    char *p = numa_malloc_on(node, 64);
    assert_non_null(p);
    memset(p, 1, 64);
    struct chunk *c = chunk_of(p);
    struct slab *sl = chunk_slab_of(c, p);
    size_t slab_bytes = (size_t)sl->npages * ARENA_PAGE_SIZE;
    nslab_arena_stats_t s = stats(node);
    size_t resident = testutil_resident_pages(c, SEG_SIZE);
    printf("node %d: one 64-byte block: committed %llu KiB, reserved %llu KiB, chunk "
           "resident %zu KiB (slab %zu KiB)\n",
           node, (unsigned long long)(s.bytes_committed >> 10),
           (unsigned long long)(s.bytes_reserved >> 10), resident * os_page >> 10,
           slab_bytes >> 10);
    assert_int_equal(s.chunks, 1);
    assert_int_equal(s.bytes_committed, ARENA_PAGE_SIZE + slab_bytes);
    assert_int_equal(s.bytes_reserved, SEG_SIZE - ARENA_PAGE_SIZE - slab_bytes);
    assert_true(capacity_held(node) >= s.bytes_reserved);
    /* resident: the slab (populated when carved) and the header's pages;
     * under THP "always" the kernel backs the header's touch with a huge
     * page: still half the chunk at most */
    size_t thp = testutil_thp_always() ? topology_get()->thp_size : 0;
    assert_true(resident * os_page <= (thp ? thp : ARENA_PAGE_SIZE + ARENA_POPULATE_STEP));
    /* of the slab, the first ARENA_POPULATE_STEP is populated (blocks are
     * handed out in address order from populated pages) */
    size_t slab_res = testutil_resident_pages(sl->start, slab_bytes);
    assert_true(slab_res >= ARENA_POPULATE_STEP / os_page);
    if (!thp)
        assert_int_equal(slab_res, ARENA_POPULATE_STEP / os_page);
    assert_int_equal(testutil_present_on(c, SEG_SIZE, node), resident);
    /* the rest of the chunk is bound to the node, untouched */
    assert_int_equal(testutil_bound_node((char *)c + SEG_SIZE - 1), node);
    assert_int_equal(nslab_free(p), 0);
}

static void test_tiny_program_first_node(void **state)
{
    (void)state;
    tiny(first_node);
}

static void test_tiny_program_last_node(void **state)
{
    (void)state;
    if (last_node == first_node)
        TEST_SKIP("one memory node (the 4-node guest has more)");
    tiny(last_node);
}

/* Under NONE a new slab is committed (counted) but not populated. */
static void test_prefault_none(void **state)
{
    (void)state;
    assert_int_equal(nslab_arena_set_prefault((nslab_arena_prefault_t)7), -EINVAL);
    assert_int_equal(errno, EINVAL);
    int old = nslab_arena_set_prefault(NSLAB_ARENA_PREFAULT_NONE);
    assert_true(old >= 0);
    assert_int_equal(nslab_arena_prefault(), NSLAB_ARENA_PREFAULT_NONE);
    int node = last_node;
    /* a class nothing used yet: 12 KiB blocks, a slab of several pages */
    char *p = numa_malloc_on(node, 12000);
    assert_non_null(p);
    struct chunk *c = chunk_of(p);
    struct slab *sl = chunk_slab_of(c, p);
    size_t span = (size_t)sl->npages * ARENA_PAGE_SIZE;
    uint64_t m = ((UINT64_C(1) << sl->npages) - 1) << sl->first;
    size_t before = testutil_resident_pages(sl->start, span);
    memset(p, 1, 12000);
    size_t after = testutil_present_on(sl->start, span, node);
    /* back to what it was before anything can fail */
    assert_int_equal(nslab_arena_set_prefault((nslab_arena_prefault_t)old),
                     NSLAB_ARENA_PREFAULT_NONE);
    printf("node %d, prefault none: slab of %zu KiB, %zu pages resident after the refill, "
           "%zu after writing one block\n",
           node, span >> 10, before, after);
    assert_int_equal(c->committed_pages & m, m); /* counted as the slab's */
    if (testutil_thp_always())
        printf("THP always: the kernel commits huge pages; residency per slab not checked\n");
    else
        assert_true(before < span / os_page);
    assert_true(after >= 12000 / os_page);
    assert_int_equal(testutil_bound_node(sl->start + span - 1), node);
    assert_int_equal(nslab_free(p), 0);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* Freed large blocks: resident within the dirty budget only, which keeps
 * the ones freed last (a churning program reuses those) and decommits the
 * oldest; each region counts at its mapped size. */
static void test_large_cache_gives_back(void **state)
{
    (void)state;
    int node = last_node;
    const size_t big = (size_t)12 << 20;
    enum { MAXB = 8 };
    const unsigned nfit = (unsigned)(ARENA_LARGE_CACHE_DIRTY / (big + os_page));
    const unsigned nb = nfit + 1; /* one past the budget */
    assert_true(nb < MAXB && (nb + 1) * (big + os_page) <= ARENA_LARGE_CACHE_BYTES &&
                nb + 1 <= ARENA_LARGE_CACHE);
    nslab_thread_flush();
    nslab_arena_stats_t s0 = stats(node);
    char *b[MAXB];
    for (unsigned i = 0; i < nb; i++) {
        b[i] = numa_malloc_on(node, big); /* the API's default: populated */
        assert_non_null(b[i]);
        assert_int_equal(testutil_resident_pages(b[i], big), big / os_page);
    }
    /* and one left to first touch, of which the program wrote one page */
    char *lazy = arena_alloc_large(node, big, 0, 0, 0);
    assert_non_null(lazy);
    lazy[0] = 1;
    for (unsigned i = 0; i < nb; i++)
        assert_int_equal(nslab_free(b[i]), 0);
    /* cached (same addresses, still mapped); the oldest went past the budget */
    size_t res[MAXB];
    for (unsigned i = 0; i < nb; i++)
        res[i] = testutil_resident_pages(b[i], big);
    printf("node %d: %u x 12 MiB freed: resident pages, oldest first:", node, nb);
    for (unsigned i = 0; i < nb; i++)
        printf(" %zu", res[i]);
    printf("\n");
    assert_int_equal(res[0], 0);
    for (unsigned i = 1; i < nb; i++)
        assert_int_equal(res[i], big / os_page);
    /* the block touched in part, freed last: kept as it is, and the next
     * oldest gives its pages back for it (counted at its mapping) */
    assert_int_equal(nslab_free(lazy), 0);
    size_t lazy_res = testutil_resident_pages(lazy, big);
    size_t res1 = testutil_resident_pages(b[1], big);
    nslab_arena_stats_t s1 = stats(node);
    printf("node %d: then a block with one page touched: %zu resident; the next oldest %zu; "
           "committed %+lld KiB\n",
           node, lazy_res, res1, (long long)(s1.bytes_committed - s0.bytes_committed) / 1024);
    /* (under THP "always" the header's write brought its huge page in) */
    assert_true(lazy_res >= 1 &&
                lazy_res <= (testutil_thp_always() ? topology_get()->thp_size / os_page : 1));
    assert_int_equal(res1, 0);
    assert_int_equal(testutil_resident_pages(b[nb - 1], big), big / os_page);
    assert_true(s1.bytes_committed - s0.bytes_committed <= ARENA_LARGE_CACHE_DIRTY);
    assert_true(s1.bytes_mapped >= (nb + 1) * big); /* older regions may have made room */
    assert_int_equal(nslab_arena_audit(stdout), 0);
    nslab_thread_flush(); /* gives every cached page back */
    assert_int_equal(testutil_resident_pages(b[0], big), 0);
    nslab_arena_stats_t s2 = stats(node);
    assert_true(s2.bytes_committed <= s0.bytes_committed);

    /* taken again: by the populating API resident whole, on the node */
    char *q = numa_malloc_on(node, big);
    assert_non_null(q);
    assert_int_equal(testutil_present_on(q, big, node), big / os_page);
    memset(q, 0x5a, big);
    assert_int_equal(nslab_free(q), 0);
    /* a dirty cached block through calloc reads zero */
    unsigned char *z = numa_calloc_on(node, 1, big);
    assert_non_null(z);
    for (size_t i = 0; i < big; i += 4093)
        assert_int_equal(z[i], 0);
    assert_int_equal(nslab_free(z), 0);
    /* a populated block stays so while cached; once decommitted, one taken
     * through the replacement's entry (not populated) for calloc is not
     * resident, and reads zero */
    nslab_thread_flush();
    unsigned char *l = arena_alloc_large(node, big, 0, 1, 0);
    assert_non_null(l);
    assert_int_equal(testutil_resident_pages(l, big), 0);
    for (size_t i = 0; i < big; i += 4093)
        assert_int_equal(l[i], 0);
    assert_int_equal(nslab_free(l), 0);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* A cached region nobody takes gives its pages back after
 * ARENA_LARGE_CACHE_AGE other large frees on the node (aging). */
static void test_large_cache_ages(void **state)
{
    (void)state;
    int node = last_node;
    const size_t big = (size_t)4 << 20, small = (size_t)256 << 10;
    nslab_thread_flush();
    char *b = numa_malloc_on(node, big);
    assert_non_null(b);
    memset(b, 1, big);
    assert_int_equal(nslab_free(b), 0); /* cached, its pages kept */
    assert_int_equal(testutil_resident_pages(b, big), big / os_page);
    size_t res = 0;
    for (unsigned i = 0; i <= ARENA_LARGE_CACHE_AGE; i++) {
        /* a block the 4 MiB region is too big for: it is not taken */
        char *q = numa_malloc_on(node, small);
        assert_non_null(q);
        assert_true(q != b);
        q[0] = 1;
        assert_int_equal(nslab_free(q), 0);
        if (i == ARENA_LARGE_CACHE_AGE / 2)
            res = testutil_resident_pages(b, big);
    }
    size_t end = testutil_resident_pages(b, big);
    printf("node %d: a cached 4 MiB region: %zu pages resident after %u other frees, %zu "
           "after %u\n",
           node, res, ARENA_LARGE_CACHE_AGE / 2 + 1, end, ARENA_LARGE_CACHE_AGE + 1);
    assert_int_equal(res, big / os_page); /* not yet */
    assert_int_equal(end, 0);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* A cached region no request takes gives its pages back at the node's
 * second chunk purge step after it was freed (large_purge_step), with no
 * large free to age it: a server that frees most of its heap. */
static void test_large_cache_purge_step(void **state)
{
    (void)state;
    int node = last_node, err;
    const size_t big = (size_t)2 << 20;
    nslab_thread_flush();
    struct arena *a = arena_get(node, &err);
    assert_non_null(a);
    char *b = numa_malloc_on(node, big);
    assert_non_null(b);
    assert_int_equal(nslab_free(b), 0); /* cached, committed */
    assert_int_equal(testutil_resident_pages(b, big), big / os_page);
    large_purge_step(a); /* marks it */
    size_t after_one = testutil_resident_pages(b, big);
    large_purge_step(a); /* still there: decommitted */
    size_t after_two = testutil_resident_pages(b, big);
    printf("node %d: a cached 2 MiB region: %zu pages resident after one purge step, %zu "
           "after two\n",
           node, after_one, after_two);
    assert_int_equal(after_one, big / os_page);
    assert_int_equal(after_two, 0);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

/* ---- a thread per task ---------------------------------------------------- */

struct task {
    int node;
    void *keep; /* a block left for the main thread to free */
};

static void *task_main(void *argp)
{
    struct task *t = argp;
    void *p[32];
    for (int i = 0; i < 32; i++)
        p[i] = numa_malloc_on(t->node, 16 + (size_t)i * 100);
    for (int i = 1; i < 32; i++)
        nslab_free(p[i]); /* in this thread's cache at exit: they go home */
    t->keep = p[0];
    return NULL;
}

static void test_thread_per_task_maps_no_cache(void **state)
{
    (void)state;
    enum { TASKS = 200 };
    int node = last_node;
    /* the main thread's cache exists; one task maps the first spare */
    void *warm = numa_malloc_on(node, 64);
    nslab_free(warm);
    struct task t0 = { .node = node };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, task_main, &t0), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    nslab_free(t0.keep);
    nslab_arena_stats_t s0 = stats(node);
    uint64_t maps0 = __atomic_load_n(&tcache_maps, __ATOMIC_RELAXED);
    for (int i = 0; i < TASKS; i++) {
        struct task t = { .node = node };
        assert_int_equal(pthread_create(&th, NULL, task_main, &t), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_non_null(t.keep);
        assert_int_equal(nslab_node_of(t.keep), node);
        nslab_free(t.keep);
    }
    uint64_t maps = __atomic_load_n(&tcache_maps, __ATOMIC_RELAXED) - maps0;
    nslab_arena_stats_t s1 = stats(node);
    printf("node %d: %d threads, one after the other: %llu thread caches mapped; "
           "in use %llu -> %llu bytes, allocs %+lld\n",
           node, TASKS, (unsigned long long)maps, (unsigned long long)s0.bytes_in_use,
           (unsigned long long)s1.bytes_in_use, (long long)(s1.allocs - s0.allocs));
    assert_int_equal(maps, 0);
    assert_int_equal(s1.bytes_in_use, s0.bytes_in_use);
    assert_int_equal(s1.allocs - s0.allocs, (uint64_t)TASKS * 32); /* none lost */
    /* the live registry: this thread only (dead caches are not in it) */
    unsigned live = 0;
    tcache_registry_lock();
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next)
        live++;
    tcache_registry_unlock();
    assert_int_equal(live, 1);
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: they need nodes nothing allocated on yet */
        cmocka_unit_test(test_tiny_program_first_node),
        cmocka_unit_test(test_tiny_program_last_node),
        cmocka_unit_test(test_prefault_none),
        /* ages first: it needs room in the node's large cache */
        cmocka_unit_test(test_large_cache_ages),
        cmocka_unit_test(test_large_cache_purge_step),
        cmocka_unit_test(test_large_cache_gives_back),
        cmocka_unit_test(test_thread_per_task_maps_no_cache),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
