/*
 * tests/arena/test_node_drain.c - draining a node (issue 13):
 * nslab_node_drain / nslab_node_undrain.  Public header only; placement is
 * checked with move_pages(2) called here (testutil_pages_on) and through
 * the library's histograms.
 *
 *   test_node_drain        the host-runnable cases: the argument checks,
 *                          and the only node refused with nothing changed;
 *                          the VM case skips with a reason
 *   test_node_drain vm     VM (spec four): node 1 holds a pool with buffers
 *                          in use, a BIND, an INTERLEAVE and a PREFERRED
 *                          region and arena blocks; it is drained to node 2
 */
#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *mode = "";

static nslab_drain_report_t report_init(void)
{
    nslab_drain_report_t r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.version = NSLAB_STATS_VERSION;
    return r;
}

static nslab_arena_stats_t node_stats(int node)
{
    nslab_arena_stats_t s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    s.version = NSLAB_STATS_VERSION;
    assert_int_equal(nslab_arena_stats(node, &s), 0);
    return s;
}

/* ---- host ---------------------------------------------------------------- */

static void test_drain_errors(void **state)
{
    (void)state;
    int count = nslab_node_count();
    assert_true(count >= 1);
    int node = testutil_memory_node(0);
    assert_true(node >= 0);
    nslab_drain_report_t r = report_init();

    assert_int_equal(nslab_node_drain(-1, NULL, 0, &r), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_node_drain(count, NULL, 0, &r), -EINVAL);
    assert_int_equal(nslab_node_drain(node, NULL, 0x1, &r), -EINVAL);
    r.size = 4;
    assert_int_equal(nslab_node_drain(node, NULL, 0, &r), -EINVAL);
    r = report_init();
    r.version = NSLAB_STATS_VERSION + 1;
    assert_int_equal(nslab_node_drain(node, NULL, 0, &r), -EINVAL);
    r = report_init();
    nslab_nodeset_t to = nslab_nodeset_of(node); /* holds the node itself */
    assert_int_equal(nslab_node_drain(node, &to, 0, &r), -EINVAL);
    nslab_nodeset_zero(&to);                     /* empty */
    assert_int_equal(nslab_node_drain(node, &to, 0, &r), -EINVAL);
    to = nslab_nodeset_of(count);                /* out of range */
    assert_int_equal(nslab_node_drain(node, &to, 0, &r), -EINVAL);
    assert_int_equal(nslab_node_undrain(-1), -EINVAL);
    assert_int_equal(nslab_node_undrain(count), -EINVAL);
    assert_int_equal(nslab_node_undrain(node), 0); /* not drained: nothing */

    nslab_nodeset_t d;
    assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &d), 0);
    assert_int_equal(node_stats(node).drained, 0);
}

/* The only node that may take memory cannot be drained: -ENOSPC, and
 * nothing changed (allocation on it works, nothing is marked, no chunk
 * retired). */
static void test_drain_only_node(void **state)
{
    (void)state;
    nslab_nodeset_t allowed;
    if (nslab_nodes(NSLAB_NODES_ALLOWED, &allowed) != 1)
        TEST_SKIP("more than one node may take memory here");
    int node = nslab_nodeset_next(&allowed, 0);
    void *p = numa_malloc_on(node, 64);
    assert_non_null(p);
    uint64_t retired = node_stats(node).chunks_retired;
    nslab_drain_report_t r = report_init();
    r.node = -7;
    assert_int_equal(nslab_node_drain(node, NULL, 0, &r), -ENOSPC);
    assert_int_equal(errno, ENOSPC);
    assert_int_equal(r.node, -7); /* not written on an error */
    nslab_nodeset_t d;
    assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &d), 0);
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &d), 1);
    nslab_arena_stats_t s = node_stats(node);
    assert_int_equal(s.drained, 0);
    assert_int_equal(s.chunks_retired, retired);
    void *q = numa_malloc_on(node, 64);
    assert_non_null(q);
    assert_int_equal(nslab_free(q), 0);
    assert_int_equal(nslab_free(p), 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

/* ---- VM: drain node 1 of four ------------------------------------------- */

#define NBLOCKS 200
#define NLARGE 2
#define NBUFS 64
#define BUF 4096
#define REGION (8u << 20)
#define NREG 6

/* Pages of [p, p + len) on `node`, asked of the kernel here, settled as
 * tests/vm/README.md says: under automatic NUMA balancing a page of a
 * mapping without a policy (the DEFAULT region) can read EFAULT while
 * present; such pages are read and asked again.  *placed: pages found on
 * some node in the end. */
static size_t on_node_settled(const void *p, size_t len, int node, size_t *placed)
{
    long ps = sysconf(_SC_PAGESIZE);
    size_t n = (len + (size_t)ps - 1) / (size_t)ps, on = 0;
    void **pages = calloc(n, sizeof *pages);
    int *status = calloc(n, sizeof *status);
    assert_non_null(pages);
    assert_non_null(status);
    for (size_t i = 0; i < n; i++)
        pages[i] = (char *)p + i * (size_t)ps;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(move_pages(0, n, pages, NULL, status, 0), 0);
        size_t hidden = 0;
        for (size_t i = 0; i < n; i++)
            if (status[i] == -EFAULT) {
                (void)*(volatile char *)pages[i];
                hidden++;
            }
        if (!hidden)
            break;
    }
    *placed = 0;
    for (size_t i = 0; i < n; i++) {
        *placed += status[i] >= 0;
        on += status[i] == node;
    }
    free(pages);
    free(status);
    return on;
}

static void print_hist(const char *when, const char *what, const nslab_placement_t *h)
{
    printf("%-6s %-26s pages %6zu:", when, what, h->pages);
    for (int n = 0; n < 4; n++)
        printf(" node%d %6zu", n, h->on_node[n]);
    if (h->errors)
        printf(" (unreadable %zu: NUMA-balancing hints)", h->errors);
    printf("\n");
}

/* The pool's buffers' pages, as one histogram (move_pages through the
 * library's range check, buffer by buffer). */
static void pool_hist(void **bufs, nslab_placement_t *h)
{
    memset(h, 0, sizeof *h);
    for (int i = 0; i < NBUFS; i++) {
        nslab_placement_t one;
        assert_int_equal(nslab_range_placement(bufs[i], BUF, &one), 0);
        h->pages += one.pages;
        for (int n = 0; n < 4; n++)
            h->on_node[n] += one.on_node[n];
    }
}

static void *local_on_node1(void *arg)
{
    (void)arg;
    if (nslab_thread_bind(1) != 0)
        return (void *)-1;
    return numa_malloc_local(64);
}

static void test_drain_vm(void **state)
{
    (void)state;
    if (strcmp(mode, "vm") != 0)
        TEST_SKIP("needs the 4-node VM (argument 'vm', spec four)");
    nslab_nodeset_t allowed;
    nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    if (nslab_node_count() < 4 || !nslab_nodeset_has(&allowed, 1) ||
        !nslab_nodeset_has(&allowed, 2) || !nslab_nodeset_has(&allowed, 0))
        TEST_SKIP("needs nodes 0, 1 and 2 with memory");
    /* This thread runs on node 0's CPU: automatic NUMA balancing (on in the
     * guest) migrates pages of a mapping without a policy (the DEFAULT
     * region) towards the CPU that touches them, and would bring them back
     * to node 1 from there - which no drain can forbid (numaslab.h). */
    assert_int_equal(nslab_thread_bind(0), 0);

    /* node 1: a pool with buffers in use, three regions, arena blocks */
    nslab_pool_opts_t po = testutil_pool_opts(BUF, 256, 512);
    nslab_pool_t *pool = nslab_pool_create(1, &po);
    assert_non_null(pool);
    void *bufs[NBUFS];
    for (int i = 0; i < NBUFS; i++) {
        bufs[i] = nslab_pool_get(pool);
        assert_non_null(bufs[i]);
        testutil_fill(bufs[i], BUF, 100u + (unsigned)i);
    }
    nslab_region_opts_t ro = NSLAB_REGION_OPTS_INIT(.pages = NSLAB_PAGES_NO_THP);
    nslab_policy_t pb = nslab_policy_bind(1);
    nslab_nodeset_t s01 = nslab_nodeset_of(0);
    nslab_nodeset_add(&s01, 1);
    nslab_policy_t pi = nslab_policy_interleave(&s01);
    nslab_policy_t pp = nslab_policy_preferred(1);
    nslab_nodeset_t s13 = nslab_nodeset_of(1);
    nslab_nodeset_add(&s13, 3);
    static const unsigned char w13[2] = { 2, 1 };
    nslab_policy_t pw = nslab_policy_weighted(&s13, w13, 2);
    nslab_policy_t pl = nslab_policy_local();
    pl.node = 1; /* the local memory of node 1's CPUs */
    nslab_region_t *rg[NREG] = {
        nslab_region_create(REGION, &pb, &ro),
        nslab_region_create(REGION, &pi, &ro),
        nslab_region_create(REGION, &pp, &ro),
        nslab_region_create(REGION, &pw, &ro),
        nslab_region_create(REGION, &pl, &ro),
        NULL,
    };
    /* DEFAULT (no binding of its own): placed by this thread's policy */
    assert_int_equal(nslab_thread_set_policy(&pb), 0);
    rg[5] = nslab_region_create(REGION, NULL, &ro);
    assert_int_equal(nslab_thread_set_policy(NULL), 0);
    const char *name[NREG] = { "region bind(1)", "region interleave(0,1)",
                               "region preferred(1)", "region weighted(1:2,3:1)",
                               "region local(node 1)", "region default (thread 1)" };
    /* a pool set: its node-1 pool has a buffer out */
    nslab_pool_opts_t so = testutil_pool_opts(256, 64, 64);
    nslab_poolset_t *ps = nslab_poolset_create(&so);
    assert_non_null(ps);
    nslab_pool_t *sp1 = nslab_poolset_pool(ps, 1);
    assert_non_null(sp1);
    void *sb = nslab_pool_get(sp1);
    assert_non_null(sb);
    testutil_fill(sb, 256, 99);
    for (int k = 0; k < NREG; k++) {
        assert_non_null(rg[k]);
        testutil_fill(nslab_region_addr(rg[k]), REGION, 7u + (unsigned)k);
    }
    void *blk[NBLOCKS], *big[NLARGE];
    for (int i = 0; i < NBLOCKS; i++) {
        blk[i] = numa_malloc_on(1, 256);
        assert_non_null(blk[i]);
        memset(blk[i], 0x5a, 256);
    }
    for (int i = 0; i < NLARGE; i++) {
        big[i] = numa_malloc_on(1, 1u << 20);
        assert_non_null(big[i]);
        memset(big[i], 0xa5, 1u << 20);
    }

    nslab_placement_t h;
    for (int k = 0; k < NREG; k++) {
        assert_int_equal(nslab_region_verify(rg[k], &h), 0);
        print_hist("before", name[k], &h);
        assert_true(h.on_node[1] > 0);
    }
    pool_hist(bufs, &h);
    print_hist("before", "pool buffers in use", &h);
    assert_int_equal(h.on_node[1], h.pages);
    nslab_arena_stats_t s = node_stats(1);
    printf("before node 1: chunks %llu large %llu mapped %llu\n", (unsigned long long)s.chunks,
           (unsigned long long)s.large, (unsigned long long)s.bytes_mapped);
    assert_true(s.chunks >= 1);

    /* drain node 1 to node 2 */
    nslab_nodeset_t to = nslab_nodeset_of(2);
    nslab_drain_report_t rep = report_init();
    int left = nslab_node_drain(1, &to, 0, &rep);
    printf("drain: returned %d; regions moved %llu failed %llu, pools moved %llu failed %llu, "
           "pages moved %llu left %llu, chunks retired %llu unmapped %llu left %llu, "
           "blocks left %llu (%llu bytes), large left %llu, error %d\n",
           left, (unsigned long long)rep.regions_moved, (unsigned long long)rep.regions_failed,
           (unsigned long long)rep.pools_moved, (unsigned long long)rep.pools_failed,
           (unsigned long long)rep.pages_moved, (unsigned long long)rep.pages_left,
           (unsigned long long)rep.chunks_retired, (unsigned long long)rep.chunks_unmapped,
           (unsigned long long)rep.chunks_left, (unsigned long long)rep.blocks_left,
           (unsigned long long)rep.bytes_left, (unsigned long long)rep.large_left, rep.error);
    assert_int_equal(left, NBLOCKS + NLARGE); /* arena blocks do not move */
    assert_int_equal(rep.node, 1);
    assert_true(nslab_nodeset_has(&rep.to, 2) && nslab_nodeset_count(&rep.to) == 1);
    assert_int_equal(rep.regions_moved, NREG);
    assert_int_equal(rep.regions_failed, 0);
    assert_int_equal(rep.pools_moved, 2); /* the pool and the set's node-1 pool */
    assert_int_equal(rep.pools_failed, 0);
    assert_int_equal(rep.pages_left, 0);
    assert_int_equal(rep.error, 0);
    assert_null(rep.failed_region);
    assert_true(rep.pages_moved > 0);
    assert_int_equal(rep.bytes_moved, rep.pages_moved * 4096);
    assert_true(rep.chunks_retired >= 1);
    assert_true(rep.chunks_left >= 1);
    assert_int_equal(rep.blocks_left, NBLOCKS);
    assert_int_equal(rep.large_left, NLARGE);
    assert_true(rep.bytes_left >= NBLOCKS * 256 + NLARGE * (1u << 20));

    /* no page of the regions or the pool is on node 1; contents kept */
    for (int k = 0; k < NREG; k++) {
        assert_int_equal(nslab_region_verify(rg[k], &h), 0);
        print_hist("after", name[k], &h);
        assert_int_equal(h.on_node[1], 0);
        assert_int_equal(h.pages, REGION / 4096);
        size_t placed;
        assert_int_equal(on_node_settled(nslab_region_addr(rg[k]), REGION, 1, &placed), 0);
        assert_int_equal(placed, REGION / 4096);
        assert_true(testutil_check(nslab_region_addr(rg[k]), REGION, 7u + (unsigned)k));
    }
    nslab_region_report_t rr;
    size_t total0;
    assert_int_equal(nslab_region_report(rg[0], &rr), 0);
    assert_true(nslab_nodeset_has(&rr.nodes, 2) && nslab_nodeset_count(&rr.nodes) == 1);
    assert_int_equal(nslab_region_verify(rg[0], &h), 0);
    assert_int_equal(h.on_node[2], h.pages); /* BIND(1) became BIND(2) */
    assert_int_equal(nslab_region_report(rg[1], &rr), 0);
    assert_true(nslab_nodeset_has(&rr.nodes, 0) && nslab_nodeset_has(&rr.nodes, 2) &&
                !nslab_nodeset_has(&rr.nodes, 1));
    assert_int_equal(nslab_region_report(rg[3], &rr), 0);
    assert_true(nslab_nodeset_has(&rr.nodes, 2) && nslab_nodeset_has(&rr.nodes, 3) &&
                !nslab_nodeset_has(&rr.nodes, 1));
    assert_int_equal(nslab_pool_node(sp1), 2);
    assert_int_equal(testutil_pages_on(sb, 256, 1, &total0), 0);
    assert_true(testutil_check(sb, 256, 99));
    pool_hist(bufs, &h);
    print_hist("after", "pool buffers in use", &h);
    assert_int_equal(h.on_node[1], 0);
    assert_int_equal(h.on_node[2], h.pages);
    for (int i = 0; i < NBUFS; i++) {
        size_t total;
        assert_int_equal(testutil_pages_on(bufs[i], BUF, 1, &total), 0);
        assert_true(testutil_check(bufs[i], BUF, 100u + (unsigned)i));
    }
    assert_int_equal(nslab_pool_node(pool), 2);

    /* nothing new on node 1: explicit requests get ENODEV, local ones of
     * node 1's CPUs go elsewhere */
    errno = 0;
    assert_null(numa_malloc_on(1, 64));
    assert_int_equal(errno, ENODEV);
    errno = 0;
    assert_null(numa_malloc_on(1, 1u << 20));
    assert_int_equal(errno, ENODEV);
    errno = 0;
    assert_null(nslab_region_create(REGION, &pb, &ro));
    assert_int_equal(errno, ENODEV);
    errno = 0;
    assert_null(nslab_pool_create(1, &po));
    assert_int_equal(errno, ENODEV);
    assert_int_equal(nslab_pool_move(pool, 1, NULL), -ENODEV);
    nslab_nodeset_t d;
    assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &d), 1);
    assert_true(nslab_nodeset_has(&d, 1));
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &d), 3);
    assert_false(nslab_nodeset_has(&d, 1));
    pthread_t th;
    void *lp = NULL;
    assert_int_equal(pthread_create(&th, NULL, local_on_node1, NULL), 0);
    assert_int_equal(pthread_join(th, &lp), 0);
    assert_true(lp != NULL && lp != (void *)-1);
    size_t total;
    assert_int_equal(testutil_pages_on(lp, 64, 1, &total), 0);
    assert_int_not_equal(nslab_node_of(lp), 1);
    assert_int_equal(nslab_free(lp), 0);

    /* the arena blocks stayed, named truthfully; audits pass */
    for (int i = 0; i < NBLOCKS; i += 50)
        assert_int_equal(nslab_node_of(blk[i]), 1);
    s = node_stats(1);
    assert_int_equal(s.drained, 1);
    assert_true(s.chunks_retired >= 1);
    assert_int_equal(s.large, NLARGE);
    assert_int_equal(nslab_arena_audit(stderr), 0);
    assert_int_equal(nslab_pool_audit(pool, stderr), 0);

    /* as the blocks come back, the node's chunks go */
    for (int i = 0; i < NBLOCKS; i++)
        assert_int_equal(nslab_free(blk[i]), 0);
    for (int i = 0; i < NLARGE; i++)
        assert_int_equal(nslab_free(big[i]), 0);
    s = node_stats(1);
    printf("after the frees node 1: chunks %llu retired %llu large %llu mapped %llu drained %llu\n",
           (unsigned long long)s.chunks, (unsigned long long)s.chunks_retired,
           (unsigned long long)s.large, (unsigned long long)s.bytes_mapped,
           (unsigned long long)s.drained);
    assert_int_equal(s.chunks, 0);
    assert_int_equal(s.chunks_retired, 0);
    assert_int_equal(s.large, 0);
    assert_int_equal(s.bytes_mapped, 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);

    /* draining again moves only what is there again (nothing: this thread
     * runs on node 0's CPU, so NUMA balancing has no reason to bring the
     * DEFAULT region's pages to node 1) */
    size_t back = 0;
    for (int k = 0; k < NREG; k++) {
        size_t on1 = on_node_settled(nslab_region_addr(rg[k]), REGION, 1, &total);
        if (on1)
            printf("before the second drain: %s has %zu pages on node 1 again\n", name[k], on1);
        if (k != 5)
            assert_int_equal(on1, 0);
        back += on1 != 0;
    }
    rep = report_init();
    assert_int_equal(nslab_node_drain(1, NULL, 0, &rep), 0);
    assert_int_equal(rep.regions_moved, back);
    assert_int_equal(rep.regions_failed, 0);
    assert_int_equal(on_node_settled(nslab_region_addr(rg[5]), REGION, 1, &total), 0);
    assert_int_equal(rep.pools_moved, 0);
    assert_int_equal(rep.chunks_left, 0);

    /* undrain: node 1 takes memory again */
    assert_int_equal(nslab_node_undrain(1), 0);
    void *p = numa_malloc_on(1, 64);
    assert_non_null(p);
    assert_int_equal(testutil_pages_on(p, 64, 1, &total), 1);
    assert_int_equal(nslab_free(p), 0);
    assert_int_equal(node_stats(1).drained, 0);

    for (int i = 0; i < NBUFS; i++)
        assert_int_equal(nslab_pool_put(pool, bufs[i]), 0);
    assert_int_equal(nslab_pool_audit(pool, stderr), 0);
    assert_int_equal(nslab_pool_destroy(pool), 0);
    assert_int_equal(nslab_pool_put(sp1, sb), 0);
    assert_int_equal(nslab_poolset_destroy(ps), 0);
    for (int k = 0; k < NREG; k++)
        assert_int_equal(nslab_region_destroy(rg[k]), 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

/* What could not move is reported: a region whose RELATIVE_NODES policy
 * folds onto the node (rewriting it would change what it means) stays,
 * with EOPNOTSUPP and its handle; the call says -EIO; after it is gone a
 * drain again finds nothing. */
static void test_drain_vm_failure(void **state)
{
    (void)state;
    if (strcmp(mode, "vm") != 0)
        TEST_SKIP("needs the 4-node VM (argument 'vm', spec four)");
    nslab_nodeset_t allowed;
    if (nslab_nodes(NSLAB_NODES_ALLOWED, &allowed) < 3 || !nslab_nodeset_has(&allowed, 0) ||
        !nslab_nodeset_has(&allowed, 1))
        TEST_SKIP("needs nodes 0 and 1 with memory, and a third");
    nslab_policy_t rel = nslab_policy_preferred(1); /* index 1 of {0, 1, ...}: node 1 */
    rel.flags = NSLAB_POLICY_RELATIVE_NODES;
    nslab_region_t *r = nslab_region_create(REGION, &rel, NULL);
    assert_non_null(r);
    memset(nslab_region_addr(r), 1, REGION);
    size_t total;
    assert_int_equal(testutil_pages_on(nslab_region_addr(r), REGION, 1, &total), REGION / 4096);

    nslab_drain_report_t rep = report_init();
    assert_int_equal(nslab_node_drain(1, NULL, 0, &rep), -EIO);
    assert_int_equal(errno, EIO);
    printf("drain with a relative policy on the node: regions moved %llu failed %llu, "
           "pages left %llu, error %d\n", (unsigned long long)rep.regions_moved,
           (unsigned long long)rep.regions_failed, (unsigned long long)rep.pages_left, rep.error);
    assert_int_equal(rep.regions_failed, 1);
    assert_int_equal(rep.error, EOPNOTSUPP);
    assert_ptr_equal(rep.failed_region, r);
    assert_true(rep.pages_left >= REGION / 4096);
    nslab_nodeset_t d;
    assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &d), 1); /* drained all the same */
    assert_null(numa_malloc_on(1, 64));
    assert_int_equal(errno, ENODEV);

    assert_int_equal(nslab_region_destroy(r), 0);
    rep = report_init();
    assert_int_equal(nslab_node_drain(1, NULL, 0, &rep), 0);
    assert_int_equal(rep.regions_failed, 0);
    assert_int_equal(nslab_node_undrain(1), 0);
    assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &d), 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

/* A drain while other threads allocate on the node (numa_malloc_on(1)) and
 * locally on its CPU: once the drain has returned, no allocation a thread
 * starts gets node 1 (cached blocks included: the thread caches were
 * poked), the blocks it handed out before stay valid, audits pass. */
#define NTHREADS 3
static int drain_done;      /* set (release) after nslab_node_drain returned */
static int stop_threads;

struct worker_out {
    size_t before, after, after_on1, after_bad, refused;
};

static void *drain_worker(void *arg)
{
    struct worker_out *o = arg;
    int local = o->before == 1; /* the first worker allocates locally on node 1's CPU */
    o->before = 0;
    if (local && nslab_thread_bind(1) != 0)
        return (void *)-1;
    void *ring[64] = { 0 };
    unsigned k = 0;
    while (!__atomic_load_n(&stop_threads, __ATOMIC_ACQUIRE)) {
        int done = __atomic_load_n(&drain_done, __ATOMIC_ACQUIRE);
        void *p = local ? numa_malloc_local(64) : numa_malloc_on(1, 64);
        if (p) {
            memset(p, 0x11, 64);
            if (!done) {
                o->before++;
            } else {
                o->after++;
                size_t total;
                if (testutil_pages_on(p, 64, 1, &total) != 0 || nslab_node_of(p) == 1)
                    o->after_on1++;
                if (!local)
                    o->after_bad++; /* numa_malloc_on(1) must fail now */
            }
        } else if (done && errno == ENODEV) {
            o->refused++;
        }
        if (ring[k % 64])
            nslab_free(ring[k % 64]);
        ring[k++ % 64] = p;
    }
    for (unsigned i = 0; i < 64; i++)
        nslab_free(ring[i]);
    return NULL;
}

static void test_drain_vm_concurrent(void **state)
{
    (void)state;
    if (strcmp(mode, "vm") != 0)
        TEST_SKIP("needs the 4-node VM (argument 'vm', spec four)");
    nslab_nodeset_t allowed;
    if (nslab_nodes(NSLAB_NODES_ALLOWED, &allowed) < 3 || !nslab_nodeset_has(&allowed, 1))
        TEST_SKIP("needs node 1 with memory, and two more");
    pthread_t th[NTHREADS];
    struct worker_out out[NTHREADS];
    memset(out, 0, sizeof out);
    out[0].before = 1; /* the local one */
    __atomic_store_n(&drain_done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&stop_threads, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, drain_worker, &out[i]), 0);
    struct timespec ts = { 0, 200 * 1000000L };
    nanosleep(&ts, NULL);
    nslab_drain_report_t rep = report_init();
    int left = nslab_node_drain(1, NULL, 0, &rep);
    assert_true(left >= 0);
    __atomic_store_n(&drain_done, 1, __ATOMIC_RELEASE);
    nanosleep(&ts, NULL);
    __atomic_store_n(&stop_threads, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < NTHREADS; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_null(ret);
        printf("worker %d (%s): %zu blocks before the drain; after it %zu served, %zu of "
               "them on node 1, %zu refused with ENODEV\n", i,
               i == 0 ? "numa_malloc_local on node 1's CPU" : "numa_malloc_on(1)",
               out[i].before, out[i].after, out[i].after_on1, out[i].refused);
        assert_int_equal(out[i].after_on1, 0);
        assert_int_equal(out[i].after_bad, 0);
    }
    assert_true(out[1].before > 0 && out[1].refused > 0);
    assert_true(out[0].before > 0 && out[0].after > 0); /* local goes elsewhere */
    assert_int_equal(nslab_arena_audit(stderr), 0);
    /* every block came back: the node's chunks are gone */
    nslab_arena_stats_t s = node_stats(1);
    printf("after the workers node 1: chunks %llu mapped %llu\n", (unsigned long long)s.chunks,
           (unsigned long long)s.bytes_mapped);
    assert_int_equal(s.chunks, 0);
    assert_int_equal(s.bytes_mapped, 0);
    assert_int_equal(nslab_node_undrain(1), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        mode = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drain_errors),
        cmocka_unit_test(test_drain_only_node),
        cmocka_unit_test(test_drain_vm),
        cmocka_unit_test(test_drain_vm_failure),
        cmocka_unit_test(test_drain_vm_concurrent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
