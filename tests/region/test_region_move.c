/*
 * tests/region/test_region_move.c - memory can move (DESIGN promise 7):
 * nslab_region_move applies a new policy to a live region, migrates its
 * pages, and says where they ended up.
 *
 * On any machine: a move to the node the region is on works and verifies
 * 100%, under each policy kind; bad input gets its errno with nothing
 * changed (report, mappings, segments, capacity ledger, placement); arena
 * blocks are refused; offline / memoryless / outside-the-cpuset nodes on a
 * fake sysfs tree; the capacity check counts pages not yet touched.
 * With two or more nodes (the 4-node VM): a bound region moved to another
 * node ends 100% there (checked with move_pages called by the test, not
 * the library) with its contents; a target that cannot hold the region is
 * ENOMEM before any page moves; moves to an interleave and an emulated
 * weighted interleave land where the policy says; and two honest partial
 * failures - pages pinned by a pipe (vmsplice: the kernel cannot migrate
 * them, mbind says EIO) and memfd pages mapped twice (the kernel skips
 * them without a word; only the re-check sees it) - are reported as -EIO
 * with the histogram telling where the pages stayed, and a second move
 * after the pin is gone completes.
 */
#include "region_testutil.h"
#include "region-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

static const struct topology *T;
static nslab_nodeset_t mem;
static int nmem;
static nslab_placement_t pl; /* 8 KiB: not on the stack */

static int setup(void **state)
{
    (void)state;
    T = topology_get();
    nmem = testutil_memory_nodes(&mem);
    return nmem < 1;
}

static void fill(nslab_region_t *r, unsigned seed)
{
    uint32_t *p = nslab_region_addr(r);
    size_t n = nslab_region_size(r) / sizeof(uint32_t);
    for (size_t i = 0; i < n; i += 256) /* a word every KiB */
        p[i] = (uint32_t)i * 2654435761u + seed;
}

static void check_fill(nslab_region_t *r, unsigned seed)
{
    const uint32_t *p = nslab_region_addr(r);
    size_t n = nslab_region_size(r) / sizeof(uint32_t);
    for (size_t i = 0; i < n; i += 256)
        if (p[i] != (uint32_t)i * 2654435761u + seed)
            fail_msg("contents changed at word %zu", i);
}

/* Every present page of the region on `node`, by the test's own count. */
static void assert_region_on(nslab_region_t *r, int node)
{
    assert_all_on_node(nslab_region_addr(r), nslab_region_size(r), node);
}

/* ---- one node ----------------------------------------------------------- */

static void test_move_same_node(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_region_t *r = nslab_region_create(16 * MiB, NULL, NULL); /* local */
    assert_non_null(r);
    fill(r, 1);
    nslab_region_report_t rep;

    nslab_policy_t p = nslab_policy_bind(n0);
    assert_int_equal(nslab_region_move(r, &p, &pl), 0);
    assert_int_equal(pl.on_node[n0], pl.pages);
    assert_int_equal(pl.pages, nslab_region_size(r) / T->page_size);
    assert_region_on(r, n0);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_BIND);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_STRICT);
    assert_true(nslab_nodeset_has(&rep.nodes, n0));
    assert_int_equal(rep.size, 16 * MiB);
    assert_int_equal(nslab_node_of(nslab_region_addr(r)), n0);

    /* Every policy kind, after = NULL too. */
    p = nslab_policy_preferred(n0);
    assert_int_equal(nslab_region_move(r, &p, NULL), 0);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_PREFERRED);
    nslab_nodeset_t one = nslab_nodeset_of(n0);
    p = nslab_policy_interleave(&one);
    assert_int_equal(nslab_region_move(r, &p, &pl), 0);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_INTERLEAVE);
    unsigned char w = 3;
    p = (nslab_policy_t){.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE, .nodes = one, .weights = &w,
                         .nweights = 1};
    region_set_emulate_weighted(1);
    assert_int_equal(nslab_region_move(r, &p, &pl), 0);
    region_set_emulate_weighted(0);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_EMULATED);
    assert_int_equal(rep.kernel_mode, -1);
    assert_true(rep.nsubranges >= 1);
    assert_int_equal(pl.on_node[n0], pl.pages);
    p = nslab_policy_local();
    assert_int_equal(nslab_region_move(r, &p, &pl), 0);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_LOCAL);
    assert_int_equal(rep.nsubranges, 0);
    check_fill(r, 1);
    assert_int_equal(capacity_held(n0), 0);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* The move must fail with `err` and leave everything as it was. */
static void expect_fail(nslab_region_t *r, const nslab_policy_t *to, int err, const char *what)
{
    nslab_region_report_t before = {0}, after = {0};
    struct leak_snap snap;
    int valid = nslab_region_report(r, &before) == 0;
    leak_snap(&snap);
    errno = 0;
    int ret = nslab_region_move(r, to, &pl);
    if (ret != -err || errno != err)
        fail_msg("%s: returned %d errno %d (%s), expected -%d (%s)", what, ret, errno,
                 strerror(errno), err, strerror(err));
    leak_assert_same(&snap, what);
    if (valid) {
        assert_int_equal(nslab_region_report(r, &after), 0);
        if (memcmp(&before, &after, sizeof before) != 0)
            fail_msg("%s: the report changed", what);
    }
}

static void test_move_errors(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t b0 = nslab_policy_bind(n0), p;
    nslab_region_t *r = nslab_region_create(8 * MiB, &b0, NULL);
    assert_non_null(r);

    expect_fail(NULL, &b0, EINVAL, "NULL region");
    expect_fail(r, NULL, EINVAL, "NULL policy");
    p = nslab_policy_bind(T->nr_nodes);
    expect_fail(r, &p, EINVAL, "bind(nr_nodes)");
    p = nslab_policy_bind(-7);
    expect_fail(r, &p, EINVAL, "bind(-7): empty set");
    p = nslab_policy_preferred(-2);
    expect_fail(r, &p, EINVAL, "preferred(-2)");
    p = nslab_policy_bind(n0);
    p.flags = 0x80;
    expect_fail(r, &p, EINVAL, "unknown mode flag");
    p = nslab_policy_local();
    p.flags = NSLAB_POLICY_STATIC_NODES;
    expect_fail(r, &p, EINVAL, "mode flag with LOCAL");
    p = (nslab_policy_t){.mode = (nslab_policy_mode_t)42, .nodes = nslab_nodeset_of(n0)};
    expect_fail(r, &p, EINVAL, "unknown mode");
    unsigned char w[2] = {1, 1};
    p = (nslab_policy_t){.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE,
                         .nodes = nslab_nodeset_of(n0), .weights = w, .nweights = 2};
    expect_fail(r, &p, EINVAL, "weights: 2 for 1 node");
    /* Not a region handle: its user memory, and an arena block's header. */
    expect_fail((nslab_region_t *)nslab_region_addr(r), &b0, EINVAL, "user address as handle");
    void *big = numa_malloc_on(n0, 8 * MiB);
    assert_non_null(big);
    nslab_region_t *blk = (nslab_region_t *)((uintptr_t)big & ~(uintptr_t)SEG_MASK);
    assert_int_equal(seg_lookup(big)->kind, SEG_REGION); /* a large block */
    expect_fail(blk, &b0, EINVAL, "an arena block (arenas do not move)");
    assert_int_equal(nslab_free(big), 0);

    /* numa_malloc_interleaved keeps a node set: INTERLEAVE only. */
    nslab_nodeset_t one = nslab_nodeset_of(n0);
    void *iv = numa_malloc_interleaved(4 * MiB, &one);
    assert_non_null(iv);
    nslab_region_t *ir = nslab_region_of(iv);
    assert_non_null(ir);
    expect_fail(ir, &b0, EINVAL, "interleaved allocation to BIND");
    p = nslab_policy_interleave(&one);
    assert_int_equal(nslab_region_move(ir, &p, &pl), 0);
    assert_int_equal(pl.on_node[n0], pl.pages);
    assert_int_equal(nslab_free(iv), 0);

    assert_region_on(r, n0);
    assert_int_equal(nslab_region_destroy(r), 0);
    expect_fail(r, &b0, EINVAL, "destroyed region");
}

/* Offline, memoryless, memory-only-as-local and outside-the-cpuset targets
 * on the fake tree: refused before the kernel is asked. */
static void test_move_fake_topology(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t b0 = nslab_policy_bind(n0), p;
    nslab_region_t *r = nslab_region_create(4 * MiB, &b0, NULL);
    assert_non_null(r);
    fill(r, 7);

    char dir[256];
    fake_topology_enter(dir, sizeof dir);
    p = nslab_policy_bind(1);
    expect_fail(r, &p, EXDEV, "fake: node 1 outside the cpuset");
    p = nslab_policy_preferred(1);
    expect_fail(r, &p, EXDEV, "fake: preferred node 1 outside the cpuset");
    p = nslab_policy_bind(2);
    expect_fail(r, &p, ENODEV, "fake: offline node 2");
    p = nslab_policy_bind(4);
    expect_fail(r, &p, ENODEV, "fake: memoryless node 4");
    p = nslab_policy_local();
    p.node = 3;
    expect_fail(r, &p, EINVAL, "fake: memory-only node 3 as LOCAL");
    p = nslab_policy_bind(5);
    expect_fail(r, &p, EINVAL, "fake: node 5 past the possible nodes");
    fake_topology_leave(dir);
    T = topology_get();

    assert_region_on(r, n0);
    check_fill(r, 7);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* The capacity check counts the pages not yet touched: they will be
 * committed on the target.  A region left to first touch, with the
 * reserve set so the node has room for half of it: ENOMEM, nothing
 * changed; with the reserve back, the same move works. */
static void test_move_capacity_counts_untouched(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    uint64_t F = topology_node_free(n0);
    const size_t S = 64 * MiB;
    if (F < 2 * S)
        TEST_SKIP("node %d has %llu MiB free: too little", n0, (unsigned long long)(F >> 20));
    nslab_policy_t p = nslab_policy_bind(n0);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.prefault = NSLAB_PREFAULT_NONE, .pages = NSLAB_PAGES_NO_THP);
    nslab_region_t *r = nslab_region_create(S, &p, &o);
    assert_non_null(r);
    size_t old = nslab_capacity_set_reserve((size_t)topology_node_free(n0) - S / 2);
    expect_fail(r, &p, ENOMEM, "first-touch region, room for half");
    nslab_capacity_set_reserve(old);
    assert_int_equal(nslab_region_move(r, &p, &pl), 0);
    /* Untouched pages read -ENOENT, or -EFAULT on 6.1 (FOLL_DUMP). */
    assert_int_equal(placement_sum(&pl), pl.on_node[n0]);
    assert_int_equal(pl.on_node[n0] + pl.not_present + pl.errors, pl.pages);
    assert_true(pl.on_node[n0] < pl.pages); /* still first touch */
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* ---- two nodes or more ------------------------------------------------ */

/* Source and target: node 1 -> 2 on the 4-node VM (the brief's case); the
 * first two nodes with memory where fewer exist. */
static int pick(int *a, int *b)
{
    if (nmem < 2)
        return -1;
    *a = nmem >= 3 ? testutil_memory_node(1) : testutil_memory_node(0);
    *b = nmem >= 3 ? testutil_memory_node(2) : testutil_memory_node(1);
    return 0;
}

static void test_move_bind_to_other_node(void **state)
{
    (void)state;
    int a, b;
    if (pick(&a, &b))
        TEST_SKIP("one node with memory: nowhere to move to");
    nslab_policy_t pa = nslab_policy_bind(a), pb = nslab_policy_bind(b);
    nslab_region_t *r = nslab_region_create(64 * MiB, &pa, NULL);
    assert_non_null(r);
    fill(r, 42);
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    printf("64 MiB region bound to node %d, moved to node %d\n", a, b);
    print_placement("before", &pl);
    assert_region_on(r, a);

    assert_int_equal(nslab_region_move(r, &pb, &pl), 0);
    print_placement("after ", &pl);
    assert_int_equal(pl.on_node[b], pl.pages);
    assert_region_on(r, b); /* the test's own move_pages */
    check_fill(r, 42);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_BIND);
    assert_true(nslab_nodeset_has(&rep.nodes, b) && !nslab_nodeset_has(&rep.nodes, a));
    assert_int_equal(nslab_node_of(nslab_region_addr(r)), b);
    assert_int_equal(capacity_held(b), 0);

    /* And back. */
    assert_int_equal(nslab_region_move(r, &pa, &pl), 0);
    assert_region_on(r, a);
    check_fill(r, 42);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* A target that cannot hold the region: ENOMEM before any page moves.
 * The target (the last node) is filled by another region down to 128 MiB
 * free; a 192 MiB region (4 KiB pages) on another node cannot move there. */
static void test_move_into_full_node_is_enomem(void **state)
{
    (void)state;
    if (nmem < 2)
        TEST_SKIP("one node with memory: no other node to fill");
    int t = testutil_memory_node(nmem - 1), a = nmem >= 3 ? testutil_memory_node(1) : testutil_memory_node(0);
    const size_t S = 192 * MiB, left = 128 * MiB;
    nslab_node_info_t ti, ai;
    assert_int_equal(nslab_node_info(t, &ti), 0);
    assert_int_equal(nslab_node_info(a, &ai), 0);
    if (ti.mem_free < left + 64 * MiB || ai.mem_free < S + 128 * MiB)
        TEST_SKIP("nodes %d/%d have %llu/%llu MiB free: too little", t, a,
                  (unsigned long long)(ti.mem_free >> 20), (unsigned long long)(ai.mem_free >> 20));
    nslab_policy_t pt = nslab_policy_bind(t), pa = nslab_policy_bind(a);
    nslab_region_opts_t fo = NSLAB_REGION_OPTS_INIT(.reserve = 8 * MiB);
    nslab_region_t *filler =
        nslab_region_create(((size_t)ti.mem_free - left) & ~(MiB - 1), &pt, &fo);
    assert_non_null(filler);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_NO_THP);
    nslab_region_t *r = nslab_region_create(S, &pa, &o);
    assert_non_null(r);
    fill(r, 5);
    assert_int_equal(nslab_node_info(t, &ti), 0);
    printf("node %d: %llu MiB free; moving a %zu MiB region there\n", t,
           (unsigned long long)(ti.mem_free >> 20), S >> 20);
    assert_true(ti.mem_free < S); /* the target really cannot hold it */

    expect_fail(r, &pt, ENOMEM, "move into a full node");
    assert_region_on(r, a); /* nothing moved */
    check_fill(r, 5);

    assert_int_equal(nslab_region_destroy(filler), 0);
    assert_int_equal(nslab_region_move(r, &pt, &pl), 0);
    assert_int_equal(pl.on_node[t], pl.pages);
    assert_region_on(r, t);
    check_fill(r, 5);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* Pages held by a pipe (vmsplice takes a reference on each) cannot be
 * migrated: mbind says EIO; the move is -EIO, the histogram shows the
 * pinned pages still on the old node, the new policy is in force.  Once
 * the pipe is closed, a second move completes. */
static void test_move_partial_pinned(void **state)
{
    (void)state;
    int a, b;
    if (pick(&a, &b))
        TEST_SKIP("one node with memory: nowhere to move to");
    nslab_policy_t pa = nslab_policy_bind(a), pb = nslab_policy_bind(b);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_NO_THP);
    nslab_region_t *r = nslab_region_create(16 * MiB, &pa, &o);
    assert_non_null(r);
    fill(r, 9);
    int fds[2];
    const size_t pinned = 4;
    struct iovec iov = {(char *)nslab_region_addr(r) + 8 * MiB, pinned * T->page_size};
    pin_with_pipe(iov.iov_base, iov.iov_len, fds);

    errno = 0;
    assert_int_equal(nslab_region_move(r, &pb, &pl), -EIO);
    assert_int_equal(errno, EIO);
    printf("16 MiB region, %zu pages pinned by a pipe, node %d -> %d\n", pinned, a, b);
    print_placement("after -EIO", &pl);
    assert_true(pl.on_node[a] >= 1 && pl.on_node[a] <= pinned);
    assert_int_equal(pl.on_node[a] + pl.on_node[b], pl.pages);
    size_t total;
    assert_int_equal(testutil_pages_on(iov.iov_base, iov.iov_len, a, &total), pl.on_node[a]);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_true(nslab_nodeset_has(&rep.nodes, b)); /* what the kernel enforces now */
    assert_int_equal(capacity_held(b), 0);
    check_fill(r, 9);

    close(fds[0]);
    close(fds[1]);
    assert_int_equal(nslab_region_move(r, &pb, &pl), 0);
    print_placement("after retry", &pl);
    assert_region_on(r, b);
    check_fill(r, 9);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* A memfd region's pages also mapped by a second mapping: the kernel's
 * MPOL_MF_MOVE skips pages mapped more than once, and mbind returns 0 even
 * with MPOL_MF_STRICT.  Only the re-check sees it: -EIO. */
static void test_move_partial_shared_memfd(void **state)
{
    (void)state;
    int a, b;
    if (pick(&a, &b))
        TEST_SKIP("one node with memory: nowhere to move to");
    nslab_policy_t pa = nslab_policy_bind(a), pb = nslab_policy_bind(b);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_NO_THP, .flags = NSLAB_REGION_MEMFD);
    nslab_region_t *r = nslab_region_create(8 * MiB, &pa, &o);
    assert_non_null(r);
    fill(r, 3);
    int fd = nslab_region_fd(r);
    assert_true(fd >= 0);
    size_t len = (size_t)lseek(fd, 0, SEEK_END);
    volatile char *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    unsigned sum = 0;
    for (size_t off = 0; off < len; off += T->page_size)
        sum += m[off]; /* map every page a second time */
    (void)sum;

    errno = 0;
    assert_int_equal(nslab_region_move(r, &pb, &pl), -EIO);
    assert_int_equal(errno, EIO);
    printf("8 MiB memfd region mapped twice, node %d -> %d\n", a, b);
    print_placement("after -EIO", &pl);
    assert_int_equal(pl.on_node[a], pl.pages);
    assert_region_on(r, a);

    munmap((void *)m, len);
    assert_int_equal(nslab_region_move(r, &pb, &pl), 0);
    print_placement("after retry", &pl);
    assert_region_on(r, b);
    check_fill(r, 3);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* Bound to one node, moved to an interleave over two others: every page
 * leaves, and the kernel deals them out page by page. */
static void test_move_to_interleave(void **state)
{
    (void)state;
    if (nmem < 3)
        TEST_SKIP("fewer than 3 nodes with memory");
    int a = testutil_memory_node(0), b = testutil_memory_node(1), c = testutil_memory_node(2);
    nslab_policy_t pa = nslab_policy_bind(a);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_NO_THP);
    nslab_region_t *r = nslab_region_create(16 * MiB, &pa, &o);
    assert_non_null(r);
    fill(r, 11);
    nslab_nodeset_t bc = nslab_nodeset_of(b);
    nslab_nodeset_add(&bc, c);
    nslab_policy_t pi = nslab_policy_interleave(&bc);
    assert_int_equal(nslab_region_move(r, &pi, &pl), 0);
    printf("16 MiB region on node %d moved to interleave over %d,%d\n", a, b, c);
    print_placement("after ", &pl);
    assert_int_equal(pl.on_node[b] + pl.on_node[c], pl.pages);
    assert_true(pl.on_node[b] * 10 >= pl.pages * 4 && pl.on_node[c] * 10 >= pl.pages * 4);
    check_fill(r, 11);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_INTERLEAVE);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* Moved to an emulated weighted interleave 1:3 over two nodes: each
 * sub-range of the plan ends wholly on its node (checked page by page by
 * the test), about 3/4 of the pages on the second node. */
static void test_move_to_emulated_weighted(void **state)
{
    (void)state;
    int a, b;
    if (pick(&a, &b))
        TEST_SKIP("one node with memory: a weighted spread needs two");
    nslab_policy_t pa = nslab_policy_bind(a);
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_NO_THP);
    nslab_region_t *r = nslab_region_create(16 * MiB, &pa, &o);
    assert_non_null(r);
    fill(r, 13);
    unsigned char w[2] = {1, 3};
    nslab_nodeset_t ab = nslab_nodeset_of(a);
    nslab_nodeset_add(&ab, b);
    nslab_policy_t pw = {.mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE, .nodes = ab, .weights = w,
                         .nweights = 2};
    region_set_emulate_weighted(1);
    assert_int_equal(nslab_region_move(r, &pw, &pl), 0);
    region_set_emulate_weighted(0);
    printf("16 MiB region on node %d moved to weighted 1:3 over %d,%d (emulated)\n", a, a, b);
    print_placement("after ", &pl);

    struct nslab_region *rr = r;
    static struct region_subrange sub[REGION_MAX_SUBRANGES];
    size_t nsub = region_weighted_plan(&ab, w, rr->hdr.map_size, T->page_size, sub,
                                       REGION_MAX_SUBRANGES);
    assert_true(nsub >= 2);
    assert_int_equal(rr->report.nsubranges, nsub);
    for (size_t i = 0; i < nsub; i++) {
        size_t total, on = testutil_pages_on((char *)rr + sub[i].off, sub[i].len, sub[i].node,
                                             &total);
        if (on != total)
            fail_msg("sub-range %zu (node %d): %zu of %zu pages there", i, sub[i].node, on,
                     total);
    }
    assert_int_equal(pl.on_node[a] + pl.on_node[b], pl.pages);
    assert_true(pl.on_node[b] * 100 >= pl.pages * 74 && pl.on_node[b] * 100 <= pl.pages * 76);
    check_fill(r, 13);
    assert_int_equal(nslab_region_destroy(r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_move_same_node),
        cmocka_unit_test(test_move_errors),
        cmocka_unit_test(test_move_fake_topology),
        cmocka_unit_test(test_move_capacity_counts_untouched),
        cmocka_unit_test(test_move_bind_to_other_node),
        cmocka_unit_test(test_move_into_full_node_is_enomem),
        cmocka_unit_test(test_move_partial_pinned),
        cmocka_unit_test(test_move_partial_shared_memfd),
        cmocka_unit_test(test_move_to_interleave),
        cmocka_unit_test(test_move_to_emulated_weighted),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
