/*
 * tests/topology/test_topology_fake.c - discovery against fake sysfs trees
 * the test writes itself: 4 nodes with asymmetric distances, 8 nodes with a
 * memoryless and a memory-only node, 128 possible nodes with a sparse
 * online set, a restricted cpuset, broken trees; through topology_discover()
 * and through the public API after topology_reload().  Independent of the
 * machine it runs on (the current-node case pins itself to one real CPU).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakesys.h"
#include "testutil.h"

/* ---- fixtures ----------------------------------------------------------- */

static struct topology *t;

static int setup(void **state)
{
    (void)state;
    t = fakesys_topology();
    return 0;
}

/* Every test leaves the process with the real topology again. */
static int teardown(void **state)
{
    (void)state;
    (void)topology_set_drained(1, 0); /* test_drained_node's mark, if left */
    free(t);
    t = NULL;
    unsetenv("NUMASLAB_SYSFS_ROOT");
    unsetenv("NUMASLAB_STATUS_PATH");
    if (topology_reload(NULL) != 0)
        return -1;
    return 0;
}

static nslab_nodeset_t set_of(const char *text)
{
    nslab_nodeset_t s;
    if (nslab_nodeset_parse(text, &s) != 0)
        fail_msg("bad set %s", text);
    return s;
}

static void assert_set(const nslab_nodeset_t *s, const char *want)
{
    char buf[512];
    nslab_nodeset_format(s, buf, sizeof buf);
    assert_string_equal(buf, want);
}

/* 4 nodes, 2 CPUs and 1 GiB each, asymmetric distances (row a = from a). */
static const char *dist4[4] = {
    "10 20 30 40", "21 10 22 32", "31 23 10 24", "41 33 25 10",
};
static const int dist4v[4][4] = {
    { 10, 20, 30, 40 }, { 21, 10, 22, 32 }, { 31, 23, 10, 24 }, { 41, 33, 25, 10 },
};

static void build4(struct fakesys *f, const char *mems, const char *cpus)
{
    static const char *cl[4] = { "0-1", "2-3", "4-5", "6-7" };
    fakesys_begin(f, "0-3", "0-3");
    for (int n = 0; n < 4; n++)
        fakesys_node(f, n, cl[n], dist4[n], 1048576, 262144UL * (n + 1));
    f->mems_allowed = mems;
    f->cpus_allowed = cpus;
    fakesys_end(f);
}

/* ---- 4 nodes ------------------------------------------------------------ */

static void test_four_nodes_asymmetric(void **state)
{
    struct fakesys f;
    build4(&f, "0-3", "0-7");
    assert_int_equal(topology_discover(t, &f.src), 0);
    assert_int_equal(t->nr_nodes, 4);
    assert_int_equal(t->nr_cpus, 8);
    assert_string_equal(t->sysfs_root, f.root);
    assert_set(&t->possible, "0-3");
    assert_set(&t->online, "0-3");
    assert_set(&t->memory, "0-3");
    assert_set(&t->cpu, "0-3");
    assert_set(&t->allowed, "0-3");
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            assert_int_equal(t->distance[a][b], dist4v[a][b]);
    for (int c = 0; c < 8; c++) {
        assert_int_equal(t->cpu_node[c], c / 2);
        assert_int_equal(t->cpu_local[c], c / 2);
    }
    assert_int_equal(t->cpu_node[8], -1);
    for (int n = 0; n < 4; n++) {
        assert_int_equal(t->node[n].online, 1);
        assert_int_equal(t->node[n].has_memory, 1);
        assert_int_equal(t->node[n].has_cpus, 1);
        assert_int_equal(t->node[n].allowed, 1);
        assert_int_equal(t->node[n].local_node, n);
        assert_int_equal(t->node[n].ncpus, 2);
        assert_int_equal(t->node[n].mem_total, 1048576ULL * 1024);
        assert_int_equal(topology_check_node(t, n), 0);
    }
    assert_int_equal(t->thp_size, 2u << 20);
    assert_int_equal(t->thp_always, 0);
    /* Kernel features belong to the kernel, not to the tree. */
    const struct topology *real = topology_get();
    assert_int_equal(t->has_preferred_many, real->has_preferred_many);
    assert_int_equal(t->has_weighted_interleave, real->has_weighted_interleave);
    assert_int_equal(t->has_populate_write, real->has_populate_write);

    /* Through the public API. */
    assert_int_equal(topology_reload(&f.src), 0);
    assert_int_equal(nslab_node_count(), 4);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            assert_int_equal(nslab_node_distance(a, b), dist4v[a][b]);
    assert_int_equal(nslab_node_distance(4, 0), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_node_distance(0, -1), -EINVAL);
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(2, &info), 0);
    assert_int_equal(info.node, 2);
    assert_int_equal(info.mem_total, 1048576ULL * 1024);
    assert_int_equal(info.mem_free, 262144ULL * 3 * 1024); /* read fresh */
    assert_int_equal(nslab_node_of_cpu(5), 2);
    assert_int_equal(nslab_node_of_cpu(8), -EINVAL);
    assert_int_equal(nslab_node_of_cpu(-1), -EINVAL);
    int cpus[1];
    assert_int_equal(nslab_node_cpus(3, cpus, 1), 2); /* count > max */
    assert_int_equal(cpus[0], 6);
    assert_int_equal(nslab_node_cpus(4, cpus, 1), -EINVAL);
    assert_int_equal(nslab_node_cpus(0, NULL, 1), -EINVAL);
    assert_int_equal(nslab_node_cpus(0, NULL, 0), 2);
    fakesys_cleanup(&f);
}

/* A drained node (nslab_node_drain's mark, topology_set_drained): every
 * table that picks a node skips it, the check says ENODEV, the facts stay
 * true, and the mark survives a reload until it is taken off. */
static void test_drained_node(void **state)
{
    struct fakesys f;
    build4(&f, "0-3", "0-7");
    assert_int_equal(topology_reload(&f.src), 0);
    unsigned long gen = topology_generation;
    assert_int_equal(topology_set_drained(4, 1), EINVAL);
    assert_int_equal(topology_set_drained(-1, 1), EINVAL);
    assert_int_equal(topology_set_drained(1, 1), 0);
    assert_true(topology_generation == gen + 1);
    for (int pass = 0; pass < 2; pass++) {
        const struct topology *d = topology_get();
        assert_int_equal(topology_check_node(d, 1), ENODEV);
        assert_int_equal(topology_check_node(d, 2), 0);
        assert_int_equal(d->node[1].drained, 1);
        assert_int_equal(d->node[1].has_memory, 1); /* still true */
        assert_set(&d->usable, "0,2-3");
        assert_set(&d->drained, "1");
        assert_int_equal(d->nr_memory_nodes, 3);
        /* row 1: 21 to 0, 22 to 2, 32 to 3; no row holds node 1 */
        assert_int_equal(d->by_distance[1][0], 0);
        assert_int_equal(d->by_distance[1][1], 2);
        assert_int_equal(d->by_distance[1][2], 3);
        for (int n = 0; n < 4; n++)
            for (int i = 0; i < d->nr_memory_nodes; i++)
                assert_int_not_equal(d->by_distance[n][i], 1);
        /* node 1's CPUs allocate locally on the nearest other node */
        assert_int_equal(d->node[1].local_node, 0);
        assert_int_equal(d->cpu_local[2], 0);
        assert_int_equal(d->cpu_local[3], 0);
        assert_int_equal(d->cpu_local[4], 2);
        nslab_nodeset_t nodes = set_of("0-3");
        assert_int_equal(topology_check_nodes(d, &nodes), ENODEV);
        assert_int_equal(topology_nearest_in(d, 1, &nodes), 0);
        assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &nodes), 3);
        assert_set(&nodes, "0,2-3");
        assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &nodes), 1);
        assert_set(&nodes, "1");
        assert_int_equal(nslab_nodeset_parse("all", &nodes), 0);
        assert_set(&nodes, "0,2-3");
        nslab_node_info_t info;
        assert_int_equal(nslab_node_info(1, &info), 0);
        assert_int_equal(info.local_node, 0);
        assert_int_equal(info.has_memory, 1);
        char *text = testutil_topology_text();
        assert_non_null(strstr(text, "node 1 class: normal, drained (local allocations -> node 0)"));
        assert_null(strstr(text, "node 2 class: normal, drained"));
        free(text);
        /* a rediscovery keeps the mark */
        assert_int_equal(topology_reload(&f.src), 0);
    }
    assert_int_equal(topology_set_drained(1, 0), 0);
    const struct topology *u = topology_get();
    assert_int_equal(topology_check_node(u, 1), 0);
    assert_set(&u->usable, "0-3");
    assert_int_equal(u->nr_memory_nodes, 4);
    assert_int_equal(u->by_distance[1][0], 1);
    assert_int_equal(u->cpu_local[2], 1);
    nslab_nodeset_t nodes;
    assert_int_equal(nslab_nodes(NSLAB_NODES_DRAINED, &nodes), 0);
    fakesys_cleanup(&f);
}

/* ---- 8 nodes: memoryless and memory-only --------------------------------- */

/* Node 5: CPUs 10-11, no memory.  Node 7: memory (movable only), no CPUs.
 * From node 5 the nearest memory is node 7 (11) - never local - then nodes
 * 2 and 3 tie at 12 (lower id: 2).  The column (to node 5) says node 6 is
 * nearest (11): reading distance[m][5] instead of [5][m] picks 6. */
static int dist8(int a, int b)
{
    static const int row5[8] = { 30, 30, 12, 12, 30, 10, 20, 11 };
    if (a == 5)
        return row5[b];
    if (a == 6 && b == 5)
        return 11;
    return a == b ? 10 : 20 + (a > b ? a - b : b - a);
}

static void build8(struct fakesys *f)
{
    fakesys_begin(f, "0-7", "0-7");
    for (int n = 0; n < 8; n++) {
        char cl[32], row[64];
        int k = 0;
        for (int m = 0; m < 8; m++)
            k += snprintf(row + k, sizeof row - k, "%s%d", m ? " " : "",
                          dist8(n, m));
        if (n == 7)
            cl[0] = '\0';
        else
            snprintf(cl, sizeof cl, "%d-%d", 2 * n, 2 * n + 1);
        fakesys_node(f, n, cl, row, n == 5 ? 0 : 524288, n == 5 ? 0 : 131072);
    }
    f->has_normal_memory = "0-4,6";
    f->mems_allowed = "0-7";
    f->cpus_allowed = "0-13";
    fakesys_end(f);
}

static void test_eight_nodes_memoryless_memory_only(void **state)
{
    struct fakesys f;
    build8(&f);
    assert_int_equal(topology_discover(t, &f.src), 0);
    assert_int_equal(t->nr_nodes, 8);
    assert_int_equal(t->nr_cpus, 14);
    assert_set(&t->cpu, "0-6");
    assert_set(&t->memory, "0-4,6-7");
    assert_set(&t->normal_memory, "0-4,6");
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
            assert_int_equal(t->distance[a][b], dist8(a, b));
    /* memoryless */
    assert_int_equal(t->node[5].has_cpus, 1);
    assert_int_equal(t->node[5].has_memory, 0);
    assert_int_equal(t->node[5].local_node, 2);
    assert_int_equal(t->cpu_node[10], 5);
    assert_int_equal(t->cpu_local[10], 2);
    assert_int_equal(t->cpu_local[11], 2);
    assert_int_equal(topology_check_node(t, 5), ENODEV);
    /* memory-only: a valid target, never local */
    assert_int_equal(t->node[7].has_cpus, 0);
    assert_int_equal(t->node[7].has_memory, 1);
    assert_int_equal(t->node[7].local_node, -1);
    assert_int_equal(t->node[7].ncpus, 0);
    assert_int_equal(topology_check_node(t, 7), 0);
    for (int c = 0; c < t->nr_cpus; c++)
        assert_int_not_equal(t->cpu_local[c], 7);
    nslab_nodeset_t s = set_of("4-7");
    assert_int_equal(topology_check_nodes(t, &s), ENODEV); /* 5 */
    s = set_of("6-7");
    assert_int_equal(topology_check_nodes(t, &s), 0);

    assert_int_equal(topology_reload(&f.src), 0);
    assert_int_equal(nslab_nodes(NSLAB_NODES_MEMORYLESS, &s), 1);
    assert_set(&s, "5");
    assert_int_equal(nslab_nodes(NSLAB_NODES_MEMORY_ONLY, &s), 1);
    assert_set(&s, "7");
    assert_int_equal(nslab_nodes(NSLAB_NODES_MEMORY, &s), 7);
    assert_int_equal(nslab_nodes(NSLAB_NODES_CPU, &s), 7);
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &s), 7);
    assert_set(&s, "0-4,6-7");
    assert_int_equal(nslab_nodes(NSLAB_NODES_POSSIBLE, &s), 8);
    assert_int_equal(nslab_nodes((nslab_nodes_which_t)99, &s), -EINVAL);
    assert_int_equal(nslab_nodes(NSLAB_NODES_ONLINE, NULL), -EINVAL);
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(5, &info), 0);
    assert_int_equal(info.has_memory, 0);
    assert_int_equal(info.has_cpus, 1);
    assert_int_equal(info.ncpus, 2);
    assert_int_equal(info.local_node, 2);
    assert_int_equal(info.mem_total, 0);
    assert_int_equal(nslab_node_info(7, &info), 0);
    assert_int_equal(info.local_node, -1);
    assert_int_equal(info.mem_free, 131072ULL * 1024);
    assert_int_equal(nslab_node_distance(5, 6), 20);
    assert_int_equal(nslab_node_distance(6, 5), 11);
    /* A thread cannot be bound to a node without CPUs. */
    assert_int_equal(nslab_thread_bind(7), -ENODEV);
    assert_int_equal(errno, ENODEV);
    assert_int_equal(nslab_thread_bind(8), -EINVAL);
    assert_int_equal(nslab_thread_bind(-2), -EINVAL);

    /* The report names each class. */
    char *text = testutil_topology_text();
    assert_non_null(strstr(text, "available: 8 nodes (0-7)\n"));
    assert_non_null(strstr(text, "node 5 cpus: 10 11\n"));
    assert_non_null(strstr(text, "node 5 size: 0 MB\n"));
    assert_non_null(strstr(text, "node 6 size: 512 MB\n"));
    assert_non_null(strstr(text, "node 6 free: 128 MB\n"));
    assert_non_null(strstr(text, "node 5 class: memoryless -> local node 2\n"));
    assert_non_null(strstr(text, "node 7 cpus:\n"));
    assert_non_null(strstr(text,
        "node 7 class: memory-only (never local), movable memory only\n"));
    assert_non_null(strstr(text, "node 0 class: normal\n"));
    assert_non_null(strstr(text, "  5:   30  30  12  12  30  10  20  11\n"));
    assert_non_null(strstr(text, "cpuset: mems allowed 0-7, cpus allowed 0-13\n"));
    free(text);
    fakesys_cleanup(&f);
}

/* ---- 128 possible nodes, sparse online set -------------------------------- */

static void build128(struct fakesys *f, int has_files)
{
    fakesys_begin(f, "0-127", "0-1,64,127");
    f->write_has_files = has_files;
    /* distance rows list the 4 online nodes in order: 0, 1, 64, 127 */
    fakesys_node(f, 0, "0-3", "10 16 32 40", 262144, 1024);
    fakesys_node(f, 1, "4-7", "16 10 32 40", 262144, 2048);
    fakesys_node(f, 64, "8-9", "33 34 10 20", 262144, 4096);
    fakesys_node(f, 127, "", "41 42 21 10", 1048576, 8192);
    f->mems_allowed = "0-1,64,127";
    f->cpus_allowed = "0-9";
    fakesys_end(f);
}

static void check128(void)
{
    assert_int_equal(t->nr_nodes, 128);
    assert_int_equal(t->nr_cpus, 10);
    assert_set(&t->possible, "0-127");
    assert_set(&t->online, "0-1,64,127");
    assert_set(&t->memory, "0-1,64,127");
    assert_set(&t->cpu, "0-1,64");
    assert_int_equal(t->distance[0][1], 16);
    assert_int_equal(t->distance[0][64], 32);
    assert_int_equal(t->distance[0][127], 40);
    assert_int_equal(t->distance[64][127], 20);
    assert_int_equal(t->distance[127][64], 21);
    assert_int_equal(t->distance[127][127], 10);
    assert_int_equal(t->distance[0][2], 0); /* offline: unknown */
    assert_int_equal(t->cpu_node[8], 64);
    assert_int_equal(t->cpu_local[9], 64);
    assert_int_equal(t->node[127].local_node, -1);
    assert_int_equal(t->node[127].mem_total, 1048576ULL * 1024);
    assert_int_equal(t->node[100].online, 0);
    assert_int_equal(topology_check_node(t, 127), 0);
    assert_int_equal(topology_check_node(t, 64), 0);
    assert_int_equal(topology_check_node(t, 2), ENODEV);
    assert_int_equal(topology_check_node(t, 100), ENODEV);
    assert_int_equal(topology_check_node(t, 128), EINVAL);
    assert_int_equal(topology_check_node(t, -2), EINVAL);
    nslab_nodeset_t s = set_of("0,64,127");
    assert_int_equal(topology_check_nodes(t, &s), 0);
    s = set_of("0,63");
    assert_int_equal(topology_check_nodes(t, &s), ENODEV);
    s = set_of("0,200");
    assert_int_equal(topology_check_nodes(t, &s), EINVAL);
    nslab_nodeset_zero(&s);
    assert_int_equal(topology_check_nodes(t, &s), EINVAL);
    assert_int_equal(topology_check_nodes(t, NULL), EINVAL);
}

static void test_128_possible_sparse_online(void **state)
{
    struct fakesys f;
    build128(&f, 1);
    assert_int_equal(topology_discover(t, &f.src), 0);
    check128();

    assert_int_equal(topology_reload(&f.src), 0);
    assert_int_equal(nslab_node_count(), 128);
    nslab_node_info_t info;
    memset(&info, 0xff, sizeof info);
    assert_int_equal(nslab_node_info(100, &info), -ENODEV);
    assert_int_equal(errno, ENODEV);
    assert_int_equal(info.node, 100); /* still described */
    assert_int_equal(info.online, 0);
    assert_int_equal(info.ncpus, 0);
    assert_int_equal(nslab_node_info(128, &info), -EINVAL);
    assert_int_equal(nslab_node_info(0, NULL), -EINVAL);
    assert_int_equal(nslab_node_info(127, &info), 0);
    assert_int_equal(info.mem_free, 8192ULL * 1024);
    assert_int_equal(nslab_node_distance(64, 127), 20);
    assert_int_equal(nslab_node_distance(0, 5), -EINVAL);
    nslab_nodeset_t s;
    assert_int_equal(nslab_nodes(NSLAB_NODES_ONLINE, &s), 4);
    assert_set(&s, "0-1,64,127");
    assert_int_equal(nslab_nodes(NSLAB_NODES_MEMORY_ONLY, &s), 1);
    assert_set(&s, "127");
    assert_int_equal(nslab_thread_bind(100), -ENODEV);
    fakesys_cleanup(&f);
}

/* Without has_cpu / has_memory / has_normal_memory (older kernels): the
 * sets are derived from the per-node cpulist and MemTotal. */
static void test_128_derived_without_has_files(void **state)
{
    struct fakesys f;
    build128(&f, 0);
    assert_int_equal(topology_discover(t, &f.src), 0);
    check128();
    assert_set(&t->normal_memory, "0-1,64,127");
    fakesys_cleanup(&f);
}

/* ---- restricted cpuset ---------------------------------------------------- */

static void test_restricted_cpuset(void **state)
{
    struct fakesys f;
    build4(&f, "0-1", "0-3");
    assert_int_equal(topology_discover(t, &f.src), 0);
    assert_set(&t->allowed, "0-1");
    assert_int_equal(t->node[1].allowed, 1);
    assert_int_equal(t->node[2].allowed, 0);
    assert_int_equal(t->cpus_allowed[0], 0xfULL);
    assert_int_equal(topology_check_node(t, 0), 0);
    assert_int_equal(topology_check_node(t, 2), EXDEV);
    assert_int_equal(topology_check_node(t, 3), EXDEV);
    nslab_nodeset_t s = set_of("0-1");
    assert_int_equal(topology_check_nodes(t, &s), 0);
    s = set_of("1-2");
    assert_int_equal(topology_check_nodes(t, &s), EXDEV);
    s = set_of("2,7");
    assert_int_equal(topology_check_nodes(t, &s), EINVAL);

    assert_int_equal(topology_reload(&f.src), 0);
    assert_int_equal(nslab_nodes(NSLAB_NODES_ALLOWED, &s), 2);
    assert_set(&s, "0-1");
    assert_int_equal(nslab_nodeset_parse("all", &s), 0);
    assert_set(&s, "0-1");
    nslab_node_info_t info;
    assert_int_equal(nslab_node_info(3, &info), 0);
    assert_int_equal(info.allowed, 0);
    /* Node 2's CPUs (4-5) are outside Cpus_allowed_list (0-3). */
    assert_int_equal(nslab_thread_bind(2), -EXDEV);
    assert_int_equal(errno, EXDEV);

    char *text = testutil_topology_text();
    assert_non_null(strstr(text, "node 2 class: normal, not in cpuset\n"));
    assert_non_null(strstr(text, "cpuset: mems allowed 0-1, cpus allowed 0-3\n"));
    free(text);
    fakesys_cleanup(&f);
}

/* Offline and not allowed: ENODEV wins (the node cannot be used at all). */
static void test_error_precedence(void **state)
{
    struct fakesys f;
    fakesys_begin(&f, "0-3", "0-1");
    fakesys_node(&f, 0, "0", "10 20", 1024, 512);
    fakesys_node(&f, 1, "1", "20 10", 1024, 512);
    f.mems_allowed = "0";
    fakesys_end(&f);
    assert_int_equal(topology_discover(t, &f.src), 0);
    assert_int_equal(topology_check_node(t, 1), EXDEV);
    assert_int_equal(topology_check_node(t, 2), ENODEV);
    nslab_nodeset_t s = set_of("1-2");
    assert_int_equal(topology_check_nodes(t, &s), ENODEV);
    /* No Cpus_allowed_list line: every CPU is allowed. */
    assert_int_equal(t->cpus_allowed[0], 0x3ULL);
    fakesys_cleanup(&f);
}

/* No cpuset lines at all (kernel without cpusets): everything allowed. */
static void test_status_without_cpuset(void **state)
{
    struct fakesys f;
    build4(&f, NULL, NULL);
    assert_int_equal(topology_discover(t, &f.src), 0);
    assert_set(&t->allowed, "0-3");
    assert_int_equal(t->cpus_allowed[0], 0xffULL);
    /* A status file that does not exist: the same. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/no-such-status", f.root);
    struct topo_source src = { f.root, missing };
    assert_int_equal(topology_discover(t, &src), 0);
    assert_set(&t->allowed, "0-3");
    fakesys_cleanup(&f);
}

/* ---- broken trees --------------------------------------------------------- */

static void test_broken_trees(void **state)
{
    struct fakesys f;
    const struct topology *before;
    int count = nslab_node_count();
    assert_true(count > 0);

    fakesys_begin(&f, "0", "0");
    fakesys_end(&f);
    char path[400];
    struct topo_source src = { path, f.status };

    snprintf(path, sizeof path, "%s/does-not-exist", f.root);
    assert_int_equal(topology_discover(t, &src), ENOENT);

    /* A failed reload leaves the published snapshot as it was. */
    before = topology_get();
    assert_int_equal(topology_reload(&src), ENOENT);
    assert_ptr_equal(topology_get(), before);
    assert_int_equal(nslab_node_count(), count);

    char longroot[300];
    memset(longroot, 'a', sizeof longroot - 1);
    longroot[0] = '/';
    longroot[sizeof longroot - 1] = '\0';
    src.sysfs_root = longroot;
    assert_int_equal(topology_discover(t, &src), ENAMETOOLONG);

    src.sysfs_root = f.root;
    fakesys_file(&f, "devices/system/node/possible", "zero\n");
    assert_int_equal(topology_discover(t, &src), EIO);
    fakesys_file(&f, "devices/system/node/possible", "\n");
    assert_int_equal(topology_discover(t, &src), EIO);
    fakesys_file(&f, "devices/system/node/possible", "0-1\n");
    fakesys_file(&f, "devices/system/node/online", "1-0\n");
    assert_int_equal(topology_discover(t, &src), EIO);
    /* A node 2000 is past NSLAB_MAX_NODES: ignored, not an error. */
    fakesys_file(&f, "devices/system/node/possible", "0-1,2000\n");
    fakesys_file(&f, "devices/system/node/online", "0\n");
    assert_int_equal(topology_discover(t, &src), 0);
    assert_int_equal(t->nr_nodes, 2);
    fakesys_cleanup(&f);
}

/* ---- the environment overrides the default source ------------------------- */

static void test_env_override(void **state)
{
    struct fakesys f;
    build8(&f);
    setenv("NUMASLAB_SYSFS_ROOT", f.root, 1);
    setenv("NUMASLAB_STATUS_PATH", f.status, 1);
    assert_int_equal(nslab_topology_refresh(), 0);
    assert_int_equal(nslab_node_count(), 8);
    assert_string_equal(topology_get()->sysfs_root, f.root);
    unsetenv("NUMASLAB_SYSFS_ROOT");
    unsetenv("NUMASLAB_STATUS_PATH");
    assert_int_equal(nslab_topology_refresh(), 0);
    assert_string_equal(topology_get()->sysfs_root, "/sys");
    fakesys_cleanup(&f);
}

/* ---- the current node through a fake topology ----------------------------- */

static int pin_self(cpu_set_t *old)
{
    if (sched_getaffinity(0, sizeof *old, old) != 0)
        return -1;
    int c = sched_getcpu();
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(c, &one);
    if (c < 0 || sched_setaffinity(0, sizeof one, &one) != 0)
        return -1;
    return c;
}

/* "0-(c-1),(c+1)-max" without c. */
static void list_without(char *buf, size_t len, int c, int max)
{
    int k = 0;
    buf[0] = '\0';
    if (c > 0)
        k += snprintf(buf + k, len - k, c > 1 ? "0-%d" : "0", c - 1);
    if (c < max)
        snprintf(buf + k, len - k, "%s%d-%d", k ? "," : "", c + 1, max);
}

static void test_current_node_memoryless(void **state)
{
    cpu_set_t old;
    int c = pin_self(&old);
    if (c < 0)
        TEST_SKIP("cannot pin the thread to one CPU");
    int max = c + 1 < 16 ? 16 : c + 1;
    char others[64], mine[16], possible[32];
    list_without(others, sizeof others, c, max);
    snprintf(mine, sizeof mine, "%d", c);
    snprintf(possible, sizeof possible, "0-%d", max);

    /* node 0: the other CPUs + memory; node 1: our CPU, no memory;
     * node 2: memory only, closer to node 1 than node 0 is. */
    struct fakesys f;
    fakesys_begin(&f, "0-2", "0-2");
    fakesys_node(&f, 0, others, "10 20 30", 1024, 512);
    fakesys_node(&f, 1, mine, "20 10 15", 0, 0);
    fakesys_node(&f, 2, "", "30 15 10", 1024, 512);
    f.cpu_possible = possible;
    f.mems_allowed = "0-2";
    fakesys_end(&f);
    assert_int_equal(topology_reload(&f.src), 0);
    /* the getcpu path may lag the pinning by TOPO_NODE_REFRESH calls */
    for (int i = 0; i < TOPO_NODE_REFRESH; i++)
        topology_current_cpu();
    assert_int_equal(topology_current_cpu(), c);
    assert_int_equal(nslab_current_node(), 1);
    assert_int_equal(nslab_local_node(), 0);
    assert_int_equal(topology_current_node(), 1);
    assert_int_equal(topology_local_node(), 0);
    /* the getcpu path agrees */
    for (int i = 0; i < 3 * TOPO_NODE_REFRESH; i++)
        assert_int_equal(topology_cpu_getcpu(), c);

    /* Now only a memory-only node has memory: no local node at all. */
    fakesys_cleanup(&f);
    fakesys_begin(&f, "0-1", "0-1");
    fakesys_node(&f, 0, "0-1023", "10 20", 0, 0);
    fakesys_node(&f, 1, "", "20 10", 1024, 512);
    f.mems_allowed = "0-1";
    fakesys_end(&f);
    assert_int_equal(topology_reload(&f.src), 0);
    assert_int_equal(nslab_current_node(), 0);
    errno = 0;
    assert_int_equal(nslab_local_node(), -ENOMEM);
    assert_int_equal(errno, ENOMEM);
    fakesys_cleanup(&f);
    sched_setaffinity(0, sizeof old, &old);
}

/* ---- nodes by distance -------------------------------------------------- */

static void assert_row(int from, const int *want, int n)
{
    const int16_t *row = topology_by_distance(t, from);
    assert_non_null(row);
    assert_int_equal(t->nr_memory_nodes, n);
    for (int i = 0; i < n; i++)
        assert_int_equal(row[i], want[i]);
}

/* The one fallback order: nearest first, self first, an unknown distance
 * (0 in sysfs) as the farthest - the copies it replaced disagreed (the
 * arena's sorted 0 as the nearest), ties by the lower id, memoryless
 * nodes in no row. */
static void test_by_distance(void **state)
{
    struct fakesys f;
    fakesys_begin(&f, "0-4", "0-4");
    fakesys_node(&f, 0, "0", "10 0 30 20 40", 1048576, 262144);
    fakesys_node(&f, 1, "1", "21 10 22 22 40", 1048576, 262144);
    fakesys_node(&f, 2, "2", "31 23 10 24 40", 1048576, 262144);
    fakesys_node(&f, 3, "3", "41 33 25 10 40", 1048576, 262144);
    fakesys_node(&f, 4, "4", "12 40 40 12 10", 0, 0); /* memoryless */
    f.mems_allowed = "0-4";
    f.cpus_allowed = "0-4";
    fakesys_end(&f);
    assert_int_equal(topology_discover(t, &f.src), 0);

    assert_row(0, (const int[]){ 0, 3, 2, 1 }, 4); /* 0 -> 1 unknown: last */
    assert_row(1, (const int[]){ 1, 0, 2, 3 }, 4); /* 22 = 22: lower id */
    assert_row(3, (const int[]){ 3, 2, 1, 0 }, 4);
    assert_row(4, (const int[]){ 0, 3, 1, 2 }, 4); /* tie 12/12, then 40s */
    assert_int_equal(t->node[4].local_node, 0);
    assert_null(topology_by_distance(t, 5));
    assert_null(topology_by_distance(t, -1));

    nslab_nodeset_t s = set_of("1-2");
    assert_int_equal(topology_nearest_in(t, 0, &s), 2);
    assert_int_equal(topology_nearest_in(t, 1, &s), 1);
    assert_int_equal(topology_nearest_in(t, 4, &s), 1);
    s = set_of("4"); /* no memory: in no row */
    assert_int_equal(topology_nearest_in(t, 0, &s), -1);
    assert_int_equal(topology_nearest_in(t, 7, &s), -1);
    fakesys_cleanup(&f);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_four_nodes_asymmetric, setup, teardown),
        cmocka_unit_test_setup_teardown(test_by_distance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eight_nodes_memoryless_memory_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_128_possible_sparse_online, setup, teardown),
        cmocka_unit_test_setup_teardown(test_128_derived_without_has_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restricted_cpuset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_error_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_without_cpuset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_trees, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drained_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_current_node_memoryless, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
