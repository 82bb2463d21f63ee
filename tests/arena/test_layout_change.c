/*
 * tests/arena/test_layout_change.c - the memory layout changes under a
 * running process (issue 13): the cpuset's mems rewritten while threads
 * allocate, pages moved behind the library's back, refreshes racing with
 * allocation.  Public header only; placement is checked with move_pages(2)
 * called here, not through the library.
 *
 *   test_layout_change           the host-runnable cases (refresh while
 *                                threads allocate; a verify with nothing
 *                                moved); the VM cases skip with a reason
 *   test_layout_change cpuset    VM (numaslab-vm --mems 1, spec four): the
 *                                cgroup's cpuset.mems goes from 1 to 2
 *   test_layout_change drift     VM (spec four): pages of node 1's chunks
 *                                moved to node 2 by another process
 */
#include <errno.h>
#include <numaif.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *mode = "";


static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* A histogram of blocks by the node their page is on, and by the node the
 * library names; mismatches counted. */
struct hist {
    size_t actual[8], named[8], mismatch, n;
};

static void hist_add(struct hist *h, const void *p)
{
    int a = testutil_page_node(p), n = nslab_node_of(p);
    h->n++;
    if (a >= 0 && a < 8)
        h->actual[a]++;
    if (n >= 0 && n < 8)
        h->named[n]++;
    if (a != n)
        h->mismatch++;
}

static void hist_print(const char *what, const struct hist *h)
{
    printf("%-34s %5zu blocks  on node [", what, h->n);
    for (int i = 0; i < 4; i++)
        printf(" %zu", h->actual[i]);
    printf(" ]  nslab_node_of says [");
    for (int i = 0; i < 4; i++)
        printf(" %zu", h->named[i]);
    printf(" ]  wrong %zu\n", h->mismatch);
}

static void placement_print(const char *what, const nslab_placement_t *pl)
{
    printf("%-34s %5zu pages   on node [", what, pl->pages);
    for (int i = 0; i < 4; i++)
        printf(" %zu", pl->on_node[i]);
    printf(" ]  not present %zu\n", pl->not_present);
}

/* ---- threads that allocate while the layout changes ------------------- */

#define WORKERS 3
#define WBATCH 600

struct worker {
    pthread_t th;
    int from, to;          /* allocate on `from` until EXDEV, then on `to` */
    volatile int *stop;
    size_t allocs, exdev, other_errors;
    int other_errno;       /* the last of those */
    void *live[WBATCH];    /* the last batch, left live for the checks */
    unsigned nlive;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int node = w->from;
    unsigned round = 0;
    while (!__atomic_load_n(w->stop, __ATOMIC_ACQUIRE)) {
        /* a batch, freed at once: the caches overflow and refill, so the
         * slow paths (where the library checks the layout) run */
        size_t sz = 32u << (round++ % 4);
        w->nlive = 0;
        for (unsigned i = 0; i < WBATCH; i++) {
            void *p = numa_malloc_on(node, sz);
            if (!p) {
                if (errno == EXDEV && node == w->from) {
                    w->exdev++;
                    node = w->to;
                } else {
                    w->other_errors++;
                    w->other_errno = errno;
                }
                continue;
            }
            memset(p, 0x5a, sz);
            w->allocs++;
            w->live[w->nlive++] = p;
        }
        if (__atomic_load_n(w->stop, __ATOMIC_ACQUIRE))
            break;
        for (unsigned i = 0; i < w->nlive; i++)
            nslab_free(w->live[i]);
        w->nlive = 0;
    }
    return NULL;
}

static void workers_start(struct worker *w, volatile int *stop, int from, int to)
{
    for (int i = 0; i < WORKERS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].from = from;
        w[i].to = to;
        w[i].stop = stop;
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
}

static void workers_join(struct worker *w)
{
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i].th, NULL);
}

/* ---- host: refresh while threads allocate ----------------------------- */

static void test_refresh_while_allocating(void **state)
{
    (void)state;
    int node = testutil_memory_node(0);
    if (node < 0)
        TEST_SKIP("no node with memory");
    volatile int stop = 0;
    struct worker w[WORKERS];
    workers_start(w, &stop, node, node);
    /* more refreshes than the snapshot ring holds: a reader never sees a
     * torn snapshot, and the arenas re-check their chunks each time */
    for (int i = 0; i < 150; i++) {
        assert_int_equal(nslab_topology_refresh(), 0);
        assert_true(nslab_node_count() > node);
        if (i % 16 == 0)
            assert_true(nslab_arena_verify(node, NSLAB_VERIFY_REPAIR, NULL) == 0);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    workers_join(w);
    size_t allocs = 0, errs = 0;
    for (int i = 0; i < WORKERS; i++) {
        allocs += w[i].allocs;
        errs += w[i].other_errors + w[i].exdev;
        for (unsigned k = 0; k < w[i].nlive; k++) {
            assert_int_equal(nslab_node_of(w[i].live[k]), node);
            nslab_free(w[i].live[k]);
        }
    }
    assert_true(allocs > 0);
    assert_int_equal(errs, 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

/* nothing moved: the check finds every page of the node's chunks on it */
static void test_verify_in_place(void **state)
{
    (void)state;
    int node = testutil_memory_node(0);
    if (node < 0)
        TEST_SKIP("no node with memory");
    void *p[500];
    for (int i = 0; i < 500; i++)
        assert_non_null(p[i] = numa_malloc_on(node, 128));
    nslab_placement_t pl;
    assert_int_equal(nslab_arena_verify(node, 0, &pl), 0);
    assert_true(pl.pages > 0);
    assert_int_equal(pl.on_node[node], pl.pages - pl.not_present - pl.errors);
    assert_int_equal(nslab_arena_verify(node, NSLAB_VERIFY_REPAIR, NULL), 0);
    assert_int_equal(nslab_arena_verify(-1, 0, NULL), -EINVAL);
    assert_int_equal(nslab_arena_verify(node, 0x80, NULL), -EINVAL);
    assert_int_equal(nslab_arena_verify(nslab_node_count(), 0, NULL), -EINVAL);
    for (int i = 0; i < 500; i++)
        nslab_free(p[i]);
}

/* ---- VM: the cpuset's mems go from {1} to {2} ------------------------- */

/* The cpuset.mems file of our cgroup (cgroup v2), or "" */
static void cgroup_mems_path(char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[256];
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = 0;
            snprintf(buf, len, "/sys/fs/cgroup%s/cpuset.mems", line + 3);
            break;
        }
    }
    fclose(f);
    if (buf[0] && access(buf, W_OK) != 0)
        buf[0] = 0;
}

#define NBLOCKS 2000
#define NLARGE 8

static void test_cpuset_change(void **state)
{
    (void)state;
    if (strcmp(mode, "cpuset") != 0)
        TEST_SKIP("needs the VM with a cpuset (argument 'cpuset', numaslab-vm --mems 1)");
    char mems[512];
    cgroup_mems_path(mems, sizeof mems);
    nslab_nodeset_t allowed;
    int na = nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    if (!mems[0] || na != 1 || !nslab_nodeset_has(&allowed, 1) || nslab_node_count() < 3)
        TEST_SKIP("not in a writable cgroup v2 cpuset with mems {1} on a 3+ node machine");

    /* node 1: small blocks, large blocks, a region, a pool */
    static void *blk[NBLOCKS], *big[NLARGE];
    for (int i = 0; i < NBLOCKS; i++) {
        assert_non_null(blk[i] = numa_malloc_on(1, i % 3 == 0 ? 64 : i % 3 == 1 ? 512 : 4096));
        memset(blk[i], i & 0xff, 64);
    }
    for (int i = 0; i < NLARGE; i++)
        assert_non_null(big[i] = numa_malloc_on(1, (size_t)1 << 20));
    nslab_policy_t bind1 = nslab_policy_bind(1);
    nslab_region_t *r = nslab_region_create((size_t)8 << 20, &bind1, NULL);
    assert_non_null(r);
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 2048, .count = 1024);
    nslab_pool_t *pool = nslab_pool_create(1, &po);
    assert_non_null(pool);
    static void *buf[512];
    assert_int_equal(nslab_pool_get_bulk(pool, buf, 512), 512);

    struct hist h = {0};
    for (int i = 0; i < NBLOCKS; i++)
        hist_add(&h, blk[i]);
    hist_print("before: numa_malloc_on(1) blocks", &h);
    assert_int_equal(h.mismatch, 0);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    placement_print("before: BIND(1) region", &pl);
    struct hist hp = {0};
    for (int i = 0; i < 512; i++)
        hist_add(&hp, buf[i]);
    hist_print("before: pool buffers", &hp);
    assert_int_equal(hp.mismatch, 0);

    /* threads allocate on node 1 while the cpuset changes */
    volatile int stop = 0;
    struct worker w[WORKERS];
    workers_start(w, &stop, 1, 2);
    sleep_ms(300);
    FILE *f = fopen(mems, "w");
    assert_non_null(f);
    assert_true(fputs("2\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    printf("cpuset.mems rewritten to 2 (%s)\n", mems);

    /* the library notices by itself: every worker gets EXDEV for node 1
     * (no explicit refresh yet) */
    int noticed = 0;
    for (int t = 0; t < 600 && !noticed; t++) {
        noticed = 1;
        for (int i = 0; i < WORKERS; i++)
            noticed &= __atomic_load_n(&w[i].exdev, __ATOMIC_RELAXED) > 0;
        if (!noticed)
            sleep_ms(50);
    }
    sleep_ms(200); /* and they allocate on node 2 for a while */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    workers_join(w);
    size_t allocs = 0, errs = 0;
    int last = 0;
    for (int i = 0; i < WORKERS; i++) {
        allocs += w[i].allocs;
        errs += w[i].other_errors;
        if (w[i].other_errors)
            last = w[i].other_errno;
    }
    printf("workers: %zu allocations, EXDEV seen by all: %s, other errors %zu (last: %s)\n",
           allocs, noticed ? "yes" : "no", errs, errs ? strerror(last) : "-");
    assert_true(noticed);
    assert_int_equal(errs, 0);
    /* the explicit call changes nothing more */
    assert_int_equal(nslab_topology_refresh(), 0);

    /* every block, region page and pool buffer is where the library says */
    struct hist ha = {0}, hw = {0}, hb = {0};
    for (int i = 0; i < NBLOCKS; i++) {
        hist_add(&ha, blk[i]);
        assert_int_equal(*(unsigned char *)blk[i], i & 0xff);
    }
    hist_print("after: numa_malloc_on(1) blocks", &ha);
    for (int i = 0; i < WORKERS; i++)
        for (unsigned k = 0; k < w[i].nlive; k++)
            hist_add(&hw, w[i].live[k]);
    hist_print("after: workers' live blocks", &hw);
    for (int i = 0; i < NLARGE; i++)
        hist_add(&hb, big[i]);
    hist_print("after: 1 MiB blocks", &hb);
    assert_int_equal(ha.mismatch, 0);
    assert_int_equal(hw.mismatch, 0);
    assert_int_equal(hb.mismatch, 0);

    assert_int_equal(nslab_region_verify(r, &pl), 0);
    placement_print("after: BIND(1) region", &pl);
    /* nslab_node_of answers for a region's first segment (4 MiB less the
     * header page): every page there */
    size_t page = (size_t)sysconf(_SC_PAGESIZE), rwrong = 0, rpages = 0;
    char *ra = nslab_region_addr(r);
    for (size_t off = 0; off < nslab_region_size(r); off += page) {
        int n = nslab_node_of(ra + off);
        if (n == -EINVAL)
            break;
        rpages++;
        rwrong += n != testutil_page_node(ra + off);
    }
    printf("after: region pages nslab_node_of gets wrong: %zu of %zu\n", rwrong, rpages);
    assert_true(rpages >= 1000);
    assert_int_equal(rwrong, 0);

    struct hist hq = {0};
    for (int i = 0; i < 512; i++)
        hist_add(&hq, buf[i]);
    hist_print("after: pool buffers", &hq);
    int pn = nslab_pool_node(pool);
    printf("after: nslab_pool_node = %d\n", pn);
    assert_int_equal(hq.mismatch, 0);
    for (int i = 0; i < 512; i++)
        assert_int_equal(testutil_page_node(buf[i]), pn);

    /* node 1 is gone for new memory; node 2 works */
    errno = 0;
    assert_null(numa_malloc_on(1, 64));
    assert_int_equal(errno, EXDEV);
    errno = 0;
    assert_null(numa_malloc_on(1, (size_t)1 << 20));
    assert_int_equal(errno, EXDEV);
    assert_null(nslab_region_create(4096, &bind1, NULL));
    assert_int_equal(errno, EXDEV);
    assert_null(nslab_pool_create(1, &po));
    assert_int_equal(errno, EXDEV);
    struct hist h2 = {0};
    static void *two[1000];
    for (int i = 0; i < 1000; i++) {
        assert_non_null(two[i] = numa_malloc_on(2, 64 + (size_t)(i % 4) * 200));
        memset(two[i], 1, 64);
        hist_add(&h2, two[i]);
    }
    hist_print("after: numa_malloc_on(2) blocks", &h2);
    assert_int_equal(h2.mismatch, 0);
    assert_int_equal(h2.actual[2], 1000);

    nslab_arena_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(1, &st), 0);
    printf("node 1 stats: chunks %llu, retired %llu, drift pages %llu, repaired %llu\n",
           (unsigned long long)st.chunks, (unsigned long long)st.chunks_retired,
           (unsigned long long)st.drift_pages, (unsigned long long)st.drift_repaired);
    assert_true(st.chunks_retired > 0);
    nslab_arena_print(stdout);

    /* nothing lost */
    assert_int_equal(nslab_arena_audit(stderr), 0);
    assert_int_equal(nslab_pool_audit(pool, stderr), 0);

    /* everything goes back; node 1's retired chunks empty out and go */
    for (int i = 0; i < NBLOCKS; i++)
        assert_int_equal(nslab_free(blk[i]), 0);
    for (int i = 0; i < WORKERS; i++)
        for (unsigned k = 0; k < w[i].nlive; k++)
            assert_int_equal(nslab_free(w[i].live[k]), 0);
    for (int i = 0; i < NLARGE; i++)
        assert_int_equal(nslab_free(big[i]), 0);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(nslab_free(two[i]), 0);
    assert_int_equal(nslab_pool_put_bulk(pool, buf, 512), 512);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stderr), 0);
    assert_int_equal(nslab_arena_stats(1, &st), 0);
    printf("node 1 after the frees: chunks %llu, retired %llu\n",
           (unsigned long long)st.chunks, (unsigned long long)st.chunks_retired);
    assert_int_equal(st.chunks_retired, 0);
    assert_int_equal(nslab_pool_audit(pool, stderr), 0);
    assert_int_equal(nslab_pool_destroy(pool), 0);
    assert_int_equal(nslab_region_destroy(r), 0);
}

/* ---- VM: pages moved behind the library's back ------------------------ */

static void test_drift_repair(void **state)
{
    (void)state;
    if (strcmp(mode, "drift") != 0)
        TEST_SKIP("needs the VM (argument 'drift', spec four)");
    nslab_nodeset_t allowed;
    nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    if (!nslab_nodeset_has(&allowed, 1) || !nslab_nodeset_has(&allowed, 2))
        TEST_SKIP("nodes 1 and 2 with memory are needed");

    enum { N = 3000 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        assert_non_null(p[i] = numa_malloc_on(1, 256));
    /* another process moves the pages of every 3rd block to node 2 (the
     * child shares them copy-on-write: MOVE_ALL moves shared pages too) */
    static void *pages[N];
    static int to[N], status[N];
    size_t n = 0, psz = (size_t)sysconf(_SC_PAGESIZE);
    for (int i = 0; i < N; i += 3) {
        void *pg = (void *)((uintptr_t)p[i] & ~(uintptr_t)(psz - 1));
        if (n && pages[n - 1] == pg)
            continue;
        pages[n] = pg;
        to[n++] = 2;
    }
    pid_t self = getpid(), child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        long r = move_pages(self, n, pages, to, status, MPOL_MF_MOVE_ALL);
        _exit(r != 0 ? 1 : 0);
    }
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    struct hist h = {0};
    for (int i = 0; i < N; i++)
        hist_add(&h, p[i]);
    hist_print("moved by another process", &h);
    assert_true(h.actual[2] > 0);

    nslab_placement_t pl;
    int found = nslab_arena_verify(1, 0, &pl);
    placement_print("nslab_arena_verify(1, check)", &pl);
    printf("pages found off node 1: %d (moved: %zu)\n", found, n);
    assert_true(found >= (int)n);
    assert_true(pl.on_node[2] >= n);

    int again = nslab_arena_verify(1, NSLAB_VERIFY_REPAIR, &pl);
    placement_print("nslab_arena_verify(1, REPAIR)", &pl);
    assert_int_equal(again, found);
    assert_int_equal(pl.on_node[2], 0);
    struct hist h2 = {0};
    for (int i = 0; i < N; i++)
        hist_add(&h2, p[i]);
    hist_print("after the repair", &h2);
    assert_int_equal(h2.mismatch, 0);
    assert_int_equal(h2.actual[1], N);
    assert_int_equal(nslab_arena_verify(1, 0, NULL), 0);

    nslab_arena_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(1, &st), 0);
    printf("node 1 stats: drift pages %llu, repaired %llu, retired %llu\n",
           (unsigned long long)st.drift_pages, (unsigned long long)st.drift_repaired,
           (unsigned long long)st.chunks_retired);
    assert_true(st.drift_pages >= 2 * (uint64_t)found);
    assert_true(st.drift_repaired >= (uint64_t)found);
    assert_int_equal(st.chunks_retired, 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);
    for (int i = 0; i < N; i++)
        nslab_free(p[i]);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        mode = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_in_place),
        cmocka_unit_test(test_refresh_while_allocating),
        cmocka_unit_test(test_cpuset_change),
        cmocka_unit_test(test_drift_repair),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
