/*
 * tests/arena/test_arena_decommit.c - free chunk pages go back to the kernel
 * and come back populated when a slab is carved on them again, on the
 * chunk's node (arena/chunk.c; DESIGN.md promise 1):
 *  - a slab emptied and flushed (nslab_thread_flush trims kept slabs and
 *    decommits every free page) is no longer resident (mincore, called by
 *    the test itself), its committed bits are clear and the node's
 *    bytes_committed drops;
 *  - a slab carved again on decommitted pages is resident over its first
 *    ARENA_POPULATE_STEP as soon as the first block is handed out (the
 *    refill writes only the batch's link words, one OS page), its committed bits
 *    are set, and the arena counted a commit; the node's room in the
 *    capacity ledger follows: the decommitted pages go back into the
 *    chunk's reservation and leave it when populated again;
 *  - every resident page of that span is on the chunk's node (move_pages, called by
 *    the test): here on node 0, and on node 2 in the 4-node guest.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"

static nslab_nodeset_t mem;

static int setup(void **state)
{
    (void)state;
    if (testutil_memory_nodes(&mem) < 1)
        return -1;
    return 0;
}

static uint64_t committed_bytes(int node)
{
    nslab_arena_stats_t s = { .size = sizeof s, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &s), 0);
    return s.bytes_committed;
}

static uint64_t span_mask(const struct slab *s)
{
    return ((UINT64_C(1) << s->npages) - 1) << s->first;
}

/* Decommit a 64-byte slab of `node` and carve it again; check residency,
 * the bitmaps and placement at each step. */
static void decommit_recommit(int node)
{
    size_t os_page = (size_t)sysconf(_SC_PAGESIZE);
    nslab_thread_flush();
    /* an anchor of another class keeps the chunk mapped (not empty) */
    char *anchor = numa_malloc_on(node, 4096);
    assert_non_null(anchor);
    char *p = numa_malloc_on(node, 64);
    assert_non_null(p);
    struct chunk *c = chunk_of(p);
    assert_ptr_equal(chunk_of(anchor), c);
    struct slab *s = chunk_slab_of(c, p);
    char *span = s->start;
    size_t len = (size_t)s->npages * ARENA_PAGE_SIZE;
    uint64_t m = span_mask(s);
    /* populated as its blocks are handed out: at least the first step */
    size_t step_pages = ARENA_POPULATE_STEP / os_page;
    assert_true(testutil_resident_pages(span, len) >= step_pages);
    assert_int_equal(c->committed_pages & m, m);

    uint64_t before = committed_bytes(node);
    assert_int_equal(nslab_free(p), 0);
    nslab_thread_flush(); /* empty slab released, free pages decommitted */
    assert_int_equal(c->used_pages & m, 0);
    assert_int_equal(c->committed_pages & m, 0);
    assert_int_equal(testutil_resident_pages(span, len), 0);
    uint64_t after = committed_bytes(node);
    nslab_arena_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &st), 0);
    assert_true(capacity_held(node) >= st.bytes_reserved);
    size_t held_flushed = capacity_held(node);
    printf("node %d: committed %llu KiB -> %llu KiB after the flush\n", node,
           (unsigned long long)(before >> 10), (unsigned long long)(after >> 10));
    assert_true(after + len <= before); /* the slab's pages were all committed */
    assert_int_equal(nslab_arena_audit(stdout), 0);

    int err;
    struct arena *a = arena_get(node, &err);
    assert_non_null(a);
    uint64_t commits = a->commits;
    char *q = numa_malloc_on(node, 64);
    assert_non_null(q);
    /* nothing of it touched by the test yet */
    struct chunk *qc = chunk_of(q);
    struct slab *qs = chunk_slab_of(qc, q);
    size_t qlen = (size_t)qs->npages * ARENA_PAGE_SIZE;
    assert_true(a->commits > commits);
    /* populated again: the span left the chunk's reservation */
    assert_true(capacity_held(node) + qlen <= held_flushed);
    /* the first ARENA_POPULATE_STEP of it is resident before the test
     * touches it (the refill wrote only its batch's link words, one OS
     * page), and what is resident lies on the node */
    size_t resident = testutil_resident_pages(qs->start, qlen);
    assert_int_equal(qc->committed_pages & span_mask(qs), span_mask(qs));
    size_t on = testutil_present_on(qs->start, qlen, node);
    printf("node %d: recarved slab %p: %zu of %zu pages resident, all on the node\n", node,
           (void *)qs->start, on, qlen / os_page);
    assert_int_equal(on, resident);
    assert_true(resident >= step_pages);
    if (!testutil_thp_always()) /* (else the kernel may back it with a huge page) */
        assert_int_equal(resident, step_pages);
    memset(q, 0x5a, 64);
    assert_int_equal(nslab_free(q), 0);
    assert_int_equal(nslab_free(anchor), 0);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stdout), 0);
}

static void test_decommit_recommit_first_node(void **state)
{
    (void)state;
    decommit_recommit(nslab_nodeset_next(&mem, 0));
}

static void test_decommit_recommit_node2(void **state)
{
    (void)state;
    if (!nslab_nodeset_has(&mem, 2))
        TEST_SKIP("node 2 has no memory here (the 4-node guest has it)");
    decommit_recommit(2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decommit_recommit_first_node),
        cmocka_unit_test(test_decommit_recommit_node2),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
