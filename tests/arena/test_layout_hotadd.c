/*
 * tests/arena/test_layout_hotadd.c - nodes that gain memory while the
 * process runs (issue 13: "a node that appears (hot-added memory) becomes
 * usable after the refresh, with the same promises as a node present at
 * start").  Runs in the VM only: spec `hotadd` with numaslab-vm --hotplug,
 * whose helper ($NUMASLAB_VM_HOTADD) plugs a pc-dimm into a node through
 * QEMU's monitor and onlines its memory blocks in the guest.  Public header
 * only; placement is checked with move_pages(2) called here.
 *
 *   test_layout_hotadd           skips (needs the VM)
 *   test_layout_hotadd hotadd    VM: node 3 (no CPU, no memory: offline at
 *                                boot) appears with 256 MiB and the first
 *                                numa_malloc_on(3), nslab_pool_create(3) and
 *                                BIND(3) region after it succeed, with no
 *                                refresh (the last two in child processes
 *                                forked before, so each meets the old
 *                                snapshot); node 2 (memoryless, its
 *                                CPU's local node is 0) gains 256 MiB and an
 *                                explicit refresh makes it local to its CPU;
 *                                node 1 grows by 128 MiB
 *   test_layout_hotadd cpuset    VM, in a cgroup v2 cpuset with mems 0-2
 *                                (numaslab-vm --mems 0-2): node 3 appears
 *                                outside the cpuset (the allowed nodes do
 *                                not change: only the library's periodic
 *                                look at the nodes with memory sees it) and
 *                                gives EXDEV; node 2 gains memory inside it
 *                                and the first BIND(2) region after it
 *                                succeeds, with no refresh
 */
#include <time.h>
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <numaif.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static const char *mode = "";


/* Hot-add `size` (e.g. "256M") into `node` and online it in `state`
 * (vm-hotadd): its exit status. */
static int hotadd(int node, const char *size, const char *state)
{
    const char *helper = getenv("NUMASLAB_VM_HOTADD");
    assert_non_null(helper);
    char nb[16];
    snprintf(nb, sizeof nb, "%d", node);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(helper, helper, nb, size, state, (char *)NULL);
        _exit(127);
    }
    int ws;
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static void print_layout(const char *when)
{
    nslab_nodeset_t online, memory;
    char a[64], b[64];
    nslab_nodes(NSLAB_NODES_ONLINE, &online);
    nslab_nodes(NSLAB_NODES_MEMORY, &memory);
    nslab_nodeset_format(&online, a, sizeof a);
    nslab_nodeset_format(&memory, b, sizeof b);
    printf("%-44s online %s, with memory %s\n", when, a, b);
}

static int has_memory(int node)
{
    nslab_nodeset_t memory;
    nslab_nodes(NSLAB_NODES_MEMORY, &memory);
    return nslab_nodeset_has(&memory, node);
}

/* Allocate and free batches on `node` (the thread cache overflows and
 * refills: the slow paths where the library checks the layout) until the
 * library counts `appearing` among the nodes with memory, without an
 * explicit refresh.  Returns the rounds it took, or -1 after 2000 (seen:
 * 18 when the allowed nodes change, ~400 when only the nodes with memory
 * do, as in a cpuset that excludes the new node). */
static int drive_until_noticed(int node, int appearing)
{
    static void *tmp[600];
    for (int rounds = 0; rounds < 2000; rounds++) {
        if (has_memory(appearing))
            return rounds;
        for (int i = 0; i < 600; i++)
            assert_non_null(tmp[i] = numa_malloc_on(node, (size_t)64 << (i % 4)));
        for (int i = 0; i < 600; i++)
            nslab_free(tmp[i]);
    }
    return has_memory(appearing) ? 2000 : -1;
}

/* Every way to ask for memory on `node` fails with `err`: EXDEV (not
 * allowed by the cpuset) or ENODEV (no memory). */
static void expect_refused(int node, int err)
{
    errno = 0;
    assert_null(numa_malloc_on(node, 64));
    assert_int_equal(errno, err);
    errno = 0;
    assert_null(numa_malloc_on(node, (size_t)1 << 20));
    assert_int_equal(errno, err);
    errno = 0;
    assert_null(numa_calloc_on(node, 16, 16));
    assert_int_equal(errno, err);
    nslab_policy_t bind = nslab_policy_bind(node);
    errno = 0;
    assert_null(nslab_region_create((size_t)1 << 20, &bind, NULL));
    assert_int_equal(errno, err);
    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 2048, .count = 64);
    errno = 0;
    assert_null(nslab_pool_create(node, &po));
    assert_int_equal(errno, err);
}

#define NBLOCKS 1000

/* Blocks, a large block, a BIND region and a pool on `node`: every page
 * where the library says; everything freed again.  The promises of a node
 * present at start. */
static void expect_usable(int node, const char *what)
{
    static void *blk[NBLOCKS];
    size_t wrong = 0, named_wrong = 0;
    for (int i = 0; i < NBLOCKS; i++) {
        size_t sz = (size_t)16 << (i % 9); /* 16 B .. 4 KiB */
        blk[i] = numa_malloc_on(node, sz);
        if (!blk[i])
            fail_msg("%s: numa_malloc_on(%d, %zu): %s", what, node, sz, strerror(errno));
        memset(blk[i], 0x5a, sz);
        wrong += testutil_page_node(blk[i]) != node;
        named_wrong += nslab_node_of(blk[i]) != node;
    }
    size_t big_sz = (size_t)2 << 20, page = (size_t)sysconf(_SC_PAGESIZE), big_wrong = 0;
    char *big = numa_malloc_on(node, big_sz);
    assert_non_null(big);
    memset(big, 1, big_sz);
    for (size_t off = 0; off < big_sz; off += page)
        big_wrong += testutil_page_node(big + off) != node;

    nslab_policy_t bind = nslab_policy_bind(node);
    nslab_region_t *r = nslab_region_create((size_t)8 << 20, &bind, NULL);
    if (!r)
        fail_msg("%s: BIND(%d) region: %s", what, node, strerror(errno));
    memset(nslab_region_addr(r), 2, nslab_region_size(r));
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);

    nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 2048, .count = 1024);
    nslab_pool_t *pool = nslab_pool_create(node, &po);
    if (!pool)
        fail_msg("%s: pool on %d: %s", what, node, strerror(errno));
    static void *buf[512];
    assert_int_equal(nslab_pool_get_bulk(pool, buf, 512), 512);
    size_t pool_wrong = 0;
    for (int i = 0; i < 512; i++) {
        memset(buf[i], 3, 2048);
        pool_wrong += testutil_page_node(buf[i]) != node;
    }
    printf("%-44s %d blocks off node %d: %zu (nslab_node_of wrong %zu); 2 MiB block pages off: %zu;"
           " BIND region %zu of %zu pages on it; pool buffers off: %zu, nslab_pool_node %d\n",
           what, NBLOCKS, node, wrong, named_wrong, big_wrong, pl.on_node[node], pl.pages,
           pool_wrong, nslab_pool_node(pool));
    assert_int_equal(wrong, 0);
    assert_int_equal(named_wrong, 0);
    assert_int_equal(big_wrong, 0);
    assert_int_equal(pl.on_node[node], pl.pages);
    assert_int_equal(pool_wrong, 0);
    assert_int_equal(nslab_pool_node(pool), node);

    nslab_arena_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    assert_int_equal(nslab_arena_stats(node, &st), 0);
    assert_true(st.chunks > 0);
    assert_int_equal(nslab_arena_audit(stderr), 0);
    assert_int_equal(nslab_pool_audit(pool, stderr), 0);
    for (int i = 0; i < NBLOCKS; i++)
        assert_int_equal(nslab_free(blk[i]), 0);
    assert_int_equal(nslab_free(big), 0);
    assert_int_equal(nslab_pool_put_bulk(pool, buf, 512), 512);
    assert_int_equal(nslab_pool_destroy(pool), 0);
    assert_int_equal(nslab_region_destroy(r), 0);
    nslab_thread_flush();
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

/* A child process, forked while `node` has no memory, that makes one
 * first request for it once told to (a byte on its pipe): each process has
 * its own snapshot, so every kind of first request meets a stale one. */
enum first_kind { FIRST_POOL, FIRST_REGION };

struct first_child {
    pid_t pid;
    int go; /* write end of its pipe */
};

static int first_request(enum first_kind kind, int node)
{
    if (kind == FIRST_POOL) {
        nslab_pool_opts_t po = NSLAB_POOL_OPTS_INIT(.elt_size = 4096, .count = 256);
        nslab_pool_t *p = nslab_pool_create(node, &po);
        if (!p) {
            printf("first nslab_pool_create(%d) after the hot-add: %s\n", node, strerror(errno));
            return 1;
        }
        void *b = nslab_pool_get(p);
        if (!b)
            return 2;
        memset(b, 1, 4096);
        int on = testutil_page_node(b);
        printf("first nslab_pool_create(%d) after the hot-add: made, buffer on node %d\n", node,
               on);
        return on == node && nslab_pool_node(p) == node ? 0 : 3;
    }
    nslab_policy_t bind = nslab_policy_bind(node);
    nslab_region_t *r = nslab_region_create((size_t)2 << 20, &bind, NULL);
    if (!r) {
        printf("first BIND(%d) region after the hot-add: %s\n", node, strerror(errno));
        return 1;
    }
    memset(nslab_region_addr(r), 1, nslab_region_size(r));
    nslab_placement_t pl;
    if (nslab_region_verify(r, &pl) != 0)
        return 2;
    printf("first BIND(%d) region after the hot-add: made, %zu of %zu pages on node %d\n", node,
           pl.on_node[node], pl.pages, node);
    return pl.on_node[node] == pl.pages ? 0 : 3;
}

static struct first_child first_child_start(enum first_kind kind, int node)
{
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    fflush(stdout);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(fd[1]);
        if (read(fd[0], &c, 1) != 1)
            _exit(9);
        int rc = first_request(kind, node);
        fflush(stdout);
        _exit(rc);
    }
    close(fd[0]);
    return (struct first_child){ pid, fd[1] };
}

/* Tell the child to go; its exit status. */
static int first_child_run(struct first_child c)
{
    assert_int_equal(write(c.go, "g", 1), 1);
    close(c.go);
    int ws;
    assert_int_equal(waitpid(c.pid, &ws, 0), c.pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static void pin_to_cpu(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    assert_int_equal(sched_setaffinity(0, sizeof set, &set), 0);
    sched_yield();
    assert_int_equal(sched_getcpu(), cpu);
}

static void test_hotadd(void **state)
{
    (void)state;
    if (strcmp(mode, "hotadd") != 0)
        TEST_SKIP("needs the VM (argument 'hotadd', spec hotadd, numaslab-vm --hotplug)");
    assert_non_null(getenv("NUMASLAB_VM_HOTADD"));
    assert_int_equal(nslab_node_count(), 4);
    print_layout("at start:");

    /* ---- node 3: no CPU, no memory, offline; appears ------------------ */
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(3, &info), -ENODEV);
    assert_int_equal(info.online, 0);
    assert_int_equal(nslab_node_distance(0, 3), -EINVAL);
    expect_refused(3, ENODEV);
    /* blocks on node 0 made before, to check after */
    static void *old0[200];
    for (int i = 0; i < 200; i++)
        assert_non_null(old0[i] = numa_malloc_on(0, 256));

    /* what a refused request costs (the library looks at the layout
     * again at most once a millisecond) */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 20000; i++)
        assert_null(numa_malloc_on(3, 64));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("numa_malloc_on(3) while node 3 is offline: %.2f us a call (20000 calls)\n",
           ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 20000 /
               1e3);

    /* processes that hold this snapshot (node 3 offline) and make their
     * first request for node 3 after the hot-add: a pool, a region */
    struct first_child pool_child = first_child_start(FIRST_POOL, 3);
    struct first_child region_child = first_child_start(FIRST_REGION, 3);

    assert_int_equal(hotadd(3, "256M", "online"), 0);
    assert_int_equal(first_child_run(pool_child), 0);
    assert_int_equal(first_child_run(region_child), 0);
    /* no refresh, nothing else in between: the first request for the new
     * node looks at the layout again and is served */
    void *first = numa_malloc_on(3, 64);
    printf("first numa_malloc_on(3) after the hot-add: %s\n",
           first ? "served" : strerror(errno));
    assert_non_null(first);
    memset(first, 1, 64);
    assert_int_equal(testutil_page_node(first), 3);
    assert_int_equal(nslab_node_of(first), 3);
    assert_int_equal(nslab_free(first), 0);
    print_layout("after hot-adding 256 MiB to node 3:");
    assert_true(has_memory(3));
    assert_int_equal(nslab_node_info(3, &info), 0);
    assert_int_equal(info.online, 1);
    assert_int_equal(info.has_memory, 1);
    assert_int_equal(info.has_cpus, 0);
    assert_int_equal(info.allowed, 1);
    assert_int_equal(info.local_node, -1); /* memory-only: never local */
    assert_true(info.mem_total >= (uint64_t)250 << 20);
    assert_int_equal(nslab_node_distance(0, 3), 24);
    assert_int_equal(nslab_node_distance(3, 1), 16);
    nslab_nodeset_t s;
    nslab_nodes(NSLAB_NODES_MEMORY_ONLY, &s);
    assert_true(nslab_nodeset_has(&s, 3));
    expect_usable(3, "node 3 (appeared):");
    /* the explicit refresh changes nothing more */
    assert_int_equal(nslab_topology_refresh(), 0);
    expect_usable(3, "node 3 after a refresh:");

    /* ---- node 2: memoryless (CPU 2, local node 0); gains memory ------- */
    pin_to_cpu(2);
    assert_int_equal(nslab_node_of_cpu(2), 2);
    assert_int_equal(nslab_local_node(), 0);
    assert_int_equal(nslab_node_info(2, &info), 0);
    assert_int_equal(info.has_memory, 0);
    assert_int_equal(info.local_node, 0);
    expect_refused(2, ENODEV);
    void *before = numa_malloc_local(512);
    assert_non_null(before);
    memset(before, 7, 512);
    assert_int_equal(testutil_page_node(before), 0);
    assert_int_equal(nslab_node_of(before), 0);
    /* a pool set made now has no pool on node 2; CPU 2 is served by the
     * nearest, node 0's */
    nslab_pool_opts_t spo = NSLAB_POOL_OPTS_INIT(.elt_size = 256, .count = 256);
    nslab_poolset_t *set_before = nslab_poolset_create(&spo);
    assert_non_null(set_before);
    assert_int_equal(nslab_pool_node(nslab_poolset_local(set_before)), 0);

    assert_int_equal(hotadd(2, "256M", "online"), 0);
    assert_int_equal(nslab_topology_refresh(), 0);
    print_layout("after hot-adding 256 MiB to node 2:");
    assert_int_equal(nslab_node_info(2, &info), 0);
    assert_int_equal(info.has_memory, 1);
    assert_int_equal(info.has_cpus, 1);
    assert_int_equal(info.local_node, 2);
    assert_int_equal(nslab_local_node(), 2);
    expect_usable(2, "node 2 (was memoryless):");
    /* local allocation on CPU 2 now lands on node 2 */
    static void *loc[500];
    size_t loc_wrong = 0;
    for (int i = 0; i < 500; i++) {
        assert_non_null(loc[i] = numa_malloc_local(128));
        memset(loc[i], 9, 128);
        loc_wrong += testutil_page_node(loc[i]) != 2 || nslab_node_of(loc[i]) != 2;
    }
    printf("%-44s 500 numa_malloc_local blocks off node 2: %zu\n", "CPU 2 after the refresh:",
           loc_wrong);
    assert_int_equal(loc_wrong, 0);
    /* what was allocated before stays true */
    assert_int_equal(testutil_page_node(before), 0);
    assert_int_equal(nslab_node_of(before), 0);
    assert_int_equal(*(unsigned char *)before, 7);
    for (int i = 0; i < 500; i++)
        assert_int_equal(nslab_free(loc[i]), 0);
    assert_int_equal(nslab_free(before), 0);
    /* a pool set keeps the pools it was made with (node 0 still serves
     * CPU 2: the nearest of its pools); a set made now has node 2's */
    errno = 0;
    assert_null(nslab_poolset_pool(set_before, 2));
    assert_int_equal(errno, ENODEV);
    assert_int_equal(nslab_pool_node(nslab_poolset_local(set_before)), 0);
    nslab_poolset_t *set_after = nslab_poolset_create(&spo);
    assert_non_null(set_after);
    nslab_pool_t *p2 = nslab_poolset_local(set_after);
    assert_non_null(p2);
    assert_int_equal(nslab_pool_node(p2), 2);
    void *b2 = nslab_poolset_get(set_after);
    assert_non_null(b2);
    memset(b2, 4, 256);
    assert_int_equal(testutil_page_node(b2), 2);
    assert_int_equal(nslab_poolset_put(set_after, b2), 0);
    assert_int_equal(nslab_poolset_destroy(set_after), 0);
    assert_int_equal(nslab_poolset_destroy(set_before), 0);

    /* ---- node 1 grows -------------------------------------------------- */
    assert_int_equal(nslab_node_info(1, &info), 0);
    uint64_t total1 = info.mem_total;
    assert_int_equal(hotadd(1, "128M", "online_movable"), 0);
    assert_int_equal(nslab_topology_refresh(), 0);
    assert_int_equal(nslab_node_info(1, &info), 0);
    printf("%-44s MemTotal %llu -> %llu MiB\n", "node 1 grown by 128 MiB (movable):",
           (unsigned long long)(total1 >> 20), (unsigned long long)(info.mem_total >> 20));
    assert_true(info.mem_total >= total1 + ((uint64_t)120 << 20));
    expect_usable(1, "node 1 (grown):");

    for (int i = 0; i < 200; i++) {
        assert_int_equal(testutil_page_node(old0[i]), 0);
        assert_int_equal(nslab_node_of(old0[i]), 0);
        assert_int_equal(nslab_free(old0[i]), 0);
    }
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

static void test_hotadd_cpuset(void **state)
{
    (void)state;
    if (strcmp(mode, "cpuset") != 0)
        TEST_SKIP("needs the VM (argument 'cpuset', spec hotadd, numaslab-vm --hotplug --mems 0-2)");
    assert_non_null(getenv("NUMASLAB_VM_HOTADD"));
    nslab_nodeset_t allowed;
    char a[64];
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &allowed), 2); /* 0-1: 2 has no memory */
    nslab_nodeset_format(&allowed, a, sizeof a);
    print_layout("at start:");
    printf("%-44s %s\n", "allowed (cpuset mems 0-2):", a);
    expect_refused(3, ENODEV);
    expect_refused(2, ENODEV);

    /* node 3 appears outside the cpuset: the allowed nodes stay 0-1, so
     * only the look at the nodes with memory (every 16th check) sees it */
    assert_int_equal(hotadd(3, "256M", "online"), 0);
    int rounds = drive_until_noticed(0, 3);
    printf("node 3 noticed without a refresh after %d rounds of 600 allocations on node 0\n",
           rounds);
    print_layout("after hot-adding 256 MiB to node 3:");
    assert_true(rounds >= 0);
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(3, &info), 0);
    assert_int_equal(info.online, 1);
    assert_int_equal(info.has_memory, 1);
    assert_int_equal(info.allowed, 0);
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &allowed), 2);
    expect_refused(3, EXDEV);

    /* node 2 gains memory inside the cpuset: the first request for it (a
     * BIND region: the policy layer's check) is served, no refresh */
    assert_int_equal(hotadd(2, "256M", "online"), 0);
    nslab_policy_t bind2 = nslab_policy_bind(2);
    nslab_region_t *r = nslab_region_create((size_t)4 << 20, &bind2, NULL);
    printf("first BIND(2) region after the hot-add: %s\n", r ? "made" : strerror(errno));
    assert_non_null(r);
    memset(nslab_region_addr(r), 5, nslab_region_size(r));
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    assert_int_equal(pl.on_node[2], pl.pages);
    assert_int_equal(nslab_region_destroy(r), 0);
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &allowed), 3);
    nslab_nodeset_format(&allowed, a, sizeof a);
    print_layout("after hot-adding 256 MiB to node 2:");
    printf("%-44s %s\n", "allowed:", a);
    assert_true(nslab_nodeset_has(&allowed, 2));
    expect_usable(2, "node 2 (was memoryless):");
    expect_refused(3, EXDEV);
    assert_int_equal(nslab_arena_audit(stderr), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        mode = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotadd),
        cmocka_unit_test(test_hotadd_cpuset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
