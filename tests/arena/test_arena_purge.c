/*
 * tests/arena/test_arena_purge.c - the free committed chunk pages a node
 * keeps resident (arena/chunk.c, purge_bound): up to ARENA_PURGE_MAX_PAGES,
 * or, when that is more, up to the smaller of twice the pages its live
 * blocks fill (at their recent peak) and the pages its slabs hold.
 *  - a program with much live data that frees a part of it keeps the pages
 *    of the slabs it emptied committed (more than ARENA_PURGE_MAX_PAGES of
 *    them), so taking them again costs no page fault: with the fixed bound
 *    alone, N x N cross-thread frees decommitted and refaulted everything
 *    at every swing of their live memory (bench-classes xthread);
 *  - what it keeps is never more than the bound;
 *  - once it frees the rest, the bound falls back to ARENA_PURGE_MAX_PAGES
 *    and the free pages go back to the kernel;
 *  - so does a heap freed all at once but for one block per chunk (no
 *    chunk empties, so none is unmapped): the live data's recent peak is
 *    still high then, the slab pages left are not.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "arena.h"

#define BIG 65536 /* the largest slab class: 8 pages, 8 blocks per slab */
#define NSLABS 128

static uint64_t free_committed(struct arena *a)
{
    pthread_mutex_lock(&a->chunk_lock);
    uint64_t v = a->free_committed;
    pthread_mutex_unlock(&a->chunk_lock);
    return v;
}

static uint64_t slab_pages(struct arena *a)
{
    pthread_mutex_lock(&a->chunk_lock);
    uint64_t v = a->slab_pages;
    pthread_mutex_unlock(&a->chunk_lock);
    return v;
}

/* Pages the live blocks of class cls fill (the test's blocks and what the
 * thread caches hold are all the node has of the class). */
static uint64_t live_pages(struct arena *a, unsigned cls)
{
    pthread_mutex_lock(&a->cls[cls].lock);
    uint64_t v = a->cls[cls].out * sc_size[cls] / ARENA_PAGE_SIZE;
    pthread_mutex_unlock(&a->cls[cls].lock);
    return v;
}

/* NSLABS slabs' worth of BIG blocks on the first node with memory, each
 * touched, from a flushed thread: the blocks (*n of them, calloc'ed array),
 * their node and its arena. */
static char **fill_slabs(int *node, size_t *n, struct arena **a)
{
    nslab_nodeset_t mem;
    assert_true(testutil_memory_nodes(&mem) >= 1);
    *node = nslab_nodeset_next(&mem, 0);
    assert_int_equal(arena_global_init(), 0); /* the size-class tables */
    nslab_thread_flush();
    *n = (size_t)NSLABS * sc_capacity[sc_of(BIG)];
    char **b = calloc(*n, sizeof *b);
    assert_non_null(b);
    for (size_t i = 0; i < *n; i++) {
        b[i] = numa_malloc_on(*node, BIG);
        assert_non_null(b[i]);
        b[i][0] = 1;
    }
    int err;
    *a = arena_get(*node, &err);
    assert_non_null(*a);
    return b;
}

static void test_bound_follows_live_blocks(void **state)
{
    (void)state;
    int node;
    size_t n;
    struct arena *a;
    char **b = fill_slabs(&node, &n, &a);
    unsigned cls = sc_of(BIG);
    assert_true(live_pages(a, cls) >= (uint64_t)NSLABS * sc_pages[cls]);

    /* Free three slabs of every seven a chunk holds (the odd ones), so no
     * chunk empties (an empty chunk is unmapped, not kept). */
    for (size_t i = 0; i < n; i++) {
        struct slab *s = chunk_slab_of(chunk_of(b[i]), b[i]);
        if (((s->first - 1u) / sc_pages[cls]) % 2 == 1) {
            assert_int_equal(nslab_free(b[i]), 0);
            b[i] = NULL;
        }
    }
    uint64_t fc = free_committed(a), live = live_pages(a, cls);
    printf("node %d: %llu free committed pages kept with %llu pages of live blocks "
           "(floor %d)\n", node, (unsigned long long)fc, (unsigned long long)live,
           ARENA_PURGE_MAX_PAGES);
    assert_true(fc > ARENA_PURGE_MAX_PAGES);
    assert_true(fc <= 2 * live && fc <= slab_pages(a));
    assert_int_equal(nslab_arena_audit(stdout), 0);

    for (size_t i = 0; i < n; i++)
        if (b[i])
            assert_int_equal(nslab_free(b[i]), 0);
    fc = free_committed(a);
    printf("node %d: %llu free committed pages after freeing all (%llu pages of live "
           "blocks)\n", node, (unsigned long long)fc, (unsigned long long)live_pages(a, cls));
    assert_true(fc <= ARENA_PURGE_MAX_PAGES);
    assert_int_equal(nslab_arena_audit(stdout), 0);
    free(b);
    nslab_thread_flush();
}

static void test_freed_heap_goes_back(void **state)
{
    (void)state;
    int node;
    size_t n;
    struct arena *a;
    char **b = fill_slabs(&node, &n, &a);
    /* one block of each chunk's first slab stays; everything else goes */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        struct chunk *c = chunk_of(b[i]);
        struct slab *s = chunk_slab_of(c, b[i]);
        if (s->first == 1 && b[i] == s->start) {
            kept++;
            continue;
        }
        assert_int_equal(nslab_free(b[i]), 0);
        b[i] = NULL;
    }
    uint64_t fc = free_committed(a);
    printf("node %d: %llu free committed pages after freeing all but %zu blocks "
           "(%llu slab pages left)\n", node, (unsigned long long)fc, kept,
           (unsigned long long)slab_pages(a));
    assert_true(kept >= NSLABS / 8);
    assert_true(fc <= ARENA_PURGE_MAX_PAGES);
    assert_int_equal(nslab_arena_audit(stdout), 0);
    for (size_t i = 0; i < n; i++)
        if (b[i])
            assert_int_equal(nslab_free(b[i]), 0);
    free(b);
    nslab_thread_flush();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bound_follows_live_blocks),
        cmocka_unit_test(test_freed_heap_goes_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
