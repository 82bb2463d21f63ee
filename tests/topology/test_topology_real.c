/*
 * tests/topology/test_topology_real.c - the topology of the machine the
 * test runs on, cross-checked with libnuma and the kernel: node count and
 * online nodes, the node of every CPU, distances, node sizes, the cpuset,
 * classification, kernel features by kernel version, bad-node errnos.
 * Runs unchanged on one node and in the multi-node VM: nothing about the
 * machine is hard-coded; what it cannot show is skipped with a reason.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <numa.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "testutil.h"
#include "topology.h"

static int group_setup(void **state)
{
    if (numa_available() < 0) {
        printf("SKIP: libnuma reports no NUMA support\n");
        return -1;
    }
    return 0;
}

static void test_init_and_counts(void **state)
{
    const struct topology *t = topology_get();
    assert_int_equal(nslab_init(), 0);
    assert_int_equal(topology_error(), 0);
    int count = nslab_node_count();
    assert_int_equal(count, t->nr_nodes);
    /* libnuma: the highest configured (online) node, and the kernel's
     * node mask size (>= the possible ids). */
    assert_true(count >= numa_max_node() + 1);
    assert_true(count <= numa_num_possible_nodes());
    nslab_nodeset_t online;
    int n_online = nslab_nodes(NSLAB_NODES_ONLINE, &online);
    assert_int_equal(n_online, nslab_nodeset_count(&online));
    assert_int_equal(nslab_nodeset_next(&online, numa_max_node() + 1), -1);
    assert_true(nslab_nodeset_has(&online, numa_max_node()));
    /* Every node libnuma can report a size for is online for us too. */
    for (int n = 0; n < count; n++) {
        long long fr;
        long long sz = numa_node_size64(n, &fr);
        if (sz > 0)
            assert_true(nslab_nodeset_has(&online, n));
    }
    assert_true(t->nr_cpus >= numa_num_configured_cpus());
}

static void test_cpus_match_libnuma(void **state)
{
    const struct topology *t = topology_get();
    int ncpus = numa_num_configured_cpus();
    for (int c = 0; c < ncpus; c++) {
        int want = numa_node_of_cpu(c);
        int got = nslab_node_of_cpu(c);
        if (want < 0)
            assert_int_equal(got, -EINVAL);
        else
            assert_int_equal(got, want);
    }
    assert_int_equal(nslab_node_of_cpu(-1), -EINVAL);
    assert_int_equal(nslab_node_of_cpu(t->nr_cpus), -EINVAL);
    assert_int_equal(nslab_node_of_cpu(1 << 30), -EINVAL);

    struct bitmask *bm = numa_allocate_cpumask();
    for (int n = 0; n <= numa_max_node(); n++) {
        int cpus[TOPO_MAX_CPUS];
        int k = nslab_node_cpus(n, cpus, TOPO_MAX_CPUS);
        assert_true(k >= 0);
        if (numa_node_to_cpus(n, bm) != 0)
            continue;
        int want = 0;
        for (unsigned c = 0; c < bm->size; c++)
            if (numa_bitmask_isbitset(bm, c))
                want++;
        assert_int_equal(k, want);
        for (int i = 0; i < k; i++)
            assert_true(numa_bitmask_isbitset(bm, cpus[i]));
        assert_int_equal(t->node[n].ncpus, k);
        assert_int_equal(t->node[n].has_cpus, k > 0);
    }
    numa_free_cpumask(bm);
}

static void test_distances_match_libnuma(void **state)
{
    nslab_nodeset_t online;
    nslab_nodes(NSLAB_NODES_ONLINE, &online);
    for (int a = nslab_nodeset_next(&online, 0); a >= 0;
         a = nslab_nodeset_next(&online, a + 1)) {
        assert_int_equal(nslab_node_distance(a, a), 10);
        for (int b = nslab_nodeset_next(&online, 0); b >= 0;
             b = nslab_nodeset_next(&online, b + 1))
            assert_int_equal(nslab_node_distance(a, b), numa_distance(a, b));
    }
    assert_int_equal(nslab_node_distance(-1, 0), -EINVAL);
    assert_int_equal(nslab_node_distance(0, nslab_node_count()), -EINVAL);
}

/* Sizes come from the same meminfo files; memory can be hot-(un)plugged or
 * ballooned between two reads, so re-read both until they agree. */
static void test_sizes_match_libnuma(void **state)
{
    nslab_nodeset_t online;
    nslab_nodes(NSLAB_NODES_ONLINE, &online);
    for (int n = nslab_nodeset_next(&online, 0); n >= 0;
         n = nslab_nodeset_next(&online, n + 1)) {
        long long want = -1, fr;
        nslab_node_info_t info;
        for (int tries = 0; tries < 5; tries++) {
            assert_int_equal(nslab_topology_refresh(), 0);
            assert_int_equal(nslab_node_info(n, &info), 0);
            want = numa_node_size64(n, &fr);
            if ((long long)info.mem_total == want)
                break;
        }
        assert_int_equal((long long)info.mem_total, want);
        assert_int_equal(info.node, n);
        assert_int_equal(info.online, 1);
        assert_int_equal(info.has_memory, want > 0);
        assert_true(info.mem_free <= info.mem_total);
        assert_true(topology_node_free(n) <= info.mem_total);
    }
}

static void test_cpuset_matches_libnuma(void **state)
{
    const struct topology *t = topology_get();
    struct bitmask *mems = numa_get_mems_allowed();
    nslab_nodeset_t allowed;
    int k = nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    assert_true(k >= 1);
    for (int n = 0; n < t->nr_nodes; n++) {
        int in = n < (int)mems->size && numa_bitmask_isbitset(mems, n);
        assert_int_equal(t->node[n].allowed, in);
        assert_int_equal(nslab_nodeset_has(&allowed, n),
                         in && t->node[n].has_memory);
    }
    numa_bitmask_free(mems);
    /* Cpus_allowed_list: the process's affinity at discovery. */
    cpu_set_t cs;
    assert_int_equal(sched_getaffinity(0, sizeof cs, &cs), 0);
    for (int c = 0; c < t->nr_cpus && c < CPU_SETSIZE; c++)
        assert_int_equal((t->cpus_allowed[c / 64] >> (c % 64)) & 1,
                         CPU_ISSET(c, &cs) ? 1 : 0);
}

/* Classes: memoryless -> nearest node with memory and CPUs; memory-only is
 * never anyone's local node.  Checked against the snapshot's own matrix
 * and libnuma's sizes (in the "mixed" VM both kinds exist). */
static void test_classification(void **state)
{
    const struct topology *t = topology_get();
    nslab_nodeset_t less, only;
    int nless = nslab_nodes(NSLAB_NODES_MEMORYLESS, &less);
    int nonly = nslab_nodes(NSLAB_NODES_MEMORY_ONLY, &only);
    for (int n = 0; n < t->nr_nodes; n++) {
        const struct topo_node *tn = &t->node[n];
        if (!tn->online) {
            assert_int_equal(tn->local_node, -1);
            continue;
        }
        assert_int_equal(nslab_nodeset_has(&less, n),
                         tn->has_cpus && !tn->has_memory);
        assert_int_equal(nslab_nodeset_has(&only, n),
                         !tn->has_cpus && tn->has_memory);
        if (tn->has_cpus && tn->has_memory)
            assert_int_equal(tn->local_node, n);
        if (!tn->has_cpus)
            assert_int_equal(tn->local_node, -1);
        if (tn->has_cpus && !tn->has_memory && tn->local_node >= 0) {
            int l = tn->local_node;
            assert_true(t->node[l].has_memory && t->node[l].has_cpus);
            for (int m = 0; m < t->nr_nodes; m++)
                if (t->node[m].has_memory && t->node[m].has_cpus)
                    assert_true(numa_distance(n, m) > numa_distance(n, l) ||
                                (numa_distance(n, m) == numa_distance(n, l) &&
                                 m >= l));
        }
    }
    for (int c = 0; c < t->nr_cpus; c++)
        if (t->cpu_local[c] >= 0)
            assert_false(nslab_nodeset_has(&only, t->cpu_local[c]));
    if (nless == 0 && nonly == 0)
        TEST_SKIP("no memoryless or memory-only node on this machine "
                  "(the fake-tree tests and the \"mixed\" VM cover them)");
}

static void test_check_node_errnos(void **state)
{
    const struct topology *t = topology_get();
    assert_int_equal(topology_check_node(t, -2), EINVAL);
    assert_int_equal(topology_check_node(t, NSLAB_NODE_LOCAL), EINVAL);
    assert_int_equal(topology_check_node(t, t->nr_nodes), EINVAL);
    assert_int_equal(topology_check_node(t, NSLAB_MAX_NODES), EINVAL);
    nslab_nodeset_t allowed;
    nslab_nodes(NSLAB_NODES_ALLOWED, &allowed);
    for (int n = nslab_nodeset_next(&allowed, 0); n >= 0;
         n = nslab_nodeset_next(&allowed, n + 1))
        assert_int_equal(topology_check_node(t, n), 0);
    assert_int_equal(topology_check_nodes(t, &allowed), 0);
    nslab_nodeset_t empty;
    nslab_nodeset_zero(&empty);
    assert_int_equal(topology_check_nodes(t, &empty), EINVAL);

    int shown = 0;
    for (int n = 0; n < t->nr_nodes; n++) {
        const struct topo_node *tn = &t->node[n];
        if (!tn->online || !tn->has_memory) {
            assert_int_equal(topology_check_node(t, n), ENODEV);
            shown |= 1;
        } else if (!tn->allowed) {
            assert_int_equal(topology_check_node(t, n), EXDEV);
            shown |= 2;
        }
    }
    if (!(shown & 1))
        TEST_SKIP("no offline or memoryless node here: ENODEV shown by the "
                  "fake-tree tests");
}

static void test_features_match_kernel(void **state)
{
    const struct topology *t = topology_get();
    struct utsname u;
    int major = 0, minor = 0;
    assert_int_equal(uname(&u), 0);
    assert_int_equal(sscanf(u.release, "%d.%d", &major, &minor), 2);
    int v = major * 100 + minor;
    /* Mainline versions; a distribution kernel may backport, so only the
     * direction that cannot be backported away is strict. */
    if (v >= 515)
        assert_int_equal(t->has_preferred_many, 1);
    if (v >= 514)
        assert_int_equal(t->has_populate_write, 1);
    if (v >= 609)
        assert_int_equal(t->has_weighted_interleave, 1);
    else
        printf("kernel %d.%d: weighted interleave %s\n", major, minor,
               t->has_weighted_interleave ? "backported" : "absent");
    assert_int_equal(t->page_size, (size_t)sysconf(_SC_PAGESIZE));
    FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    char line[128] = "";
    if (fp) {
        if (!fgets(line, sizeof line, fp))
            line[0] = '\0';
        fclose(fp);
    }
    if (!fp || strstr(line, "[never]")) {
        assert_int_equal(t->thp_size, 0);
    } else {
        unsigned long long pmd = 0;
        fp = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
        assert_non_null(fp);
        assert_int_equal(fscanf(fp, "%llu", &pmd), 1);
        fclose(fp);
        assert_int_equal(t->thp_size, pmd);
        assert_int_equal(t->thp_always, strstr(line, "[always]") != NULL);
    }
}

static void test_node_info_errors(void **state)
{
    nslab_node_info_t info;
    errno = 0;
    assert_int_equal(nslab_node_info(-1, &info), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_node_info(nslab_node_count(), &info), -EINVAL);
    assert_int_equal(nslab_node_info(0, NULL), -EINVAL);
    int cpus[4];
    assert_int_equal(nslab_node_cpus(-2, cpus, 4), -EINVAL);
    assert_int_equal(nslab_node_cpus(nslab_node_count(), cpus, 4), -EINVAL);
}

/* Bind to each node with CPUs in turn; the affinity becomes that node's
 * allowed CPUs, and the current node follows. */
static void test_bind_thread(void **state)
{
    const struct topology *t = topology_get();
    cpu_set_t old, now;
    assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
    assert_int_equal(nslab_thread_bind(-2), -EINVAL);
    assert_int_equal(nslab_thread_bind(NSLAB_NODE_LOCAL), -EINVAL);
    assert_int_equal(nslab_thread_bind(t->nr_nodes), -EINVAL);
    int bound = 0;
    for (int n = 0; n < t->nr_nodes; n++) {
        int r = nslab_thread_bind(n);
        if (!t->node[n].online || !t->node[n].has_cpus) {
            assert_int_equal(r, -ENODEV);
            continue;
        }
        if (r == -EXDEV)
            continue;
        assert_int_equal(r, 0);
        bound++;
        assert_int_equal(sched_getaffinity(0, sizeof now, &now), 0);
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &now))
                assert_int_equal(nslab_node_of_cpu(c), n);
        /* The kernel moves us before sched_setaffinity returns. */
        assert_int_equal(numa_node_of_cpu(sched_getcpu()), n);
        assert_int_equal(nslab_current_node(), n);
        if (t->node[n].has_memory)
            assert_int_equal(nslab_local_node(), n);
    }
    assert_true(bound >= 1);
    assert_int_equal(sched_setaffinity(0, sizeof old, &old), 0);
}


/* Does the report show each online node's size as libnuma reads it now?
 * (Memory can be ballooned between the two reads: the caller retries.) */
static int sizes_shown(const char *text)
{
    char want[64];
    nslab_nodeset_t online;
    nslab_nodes(NSLAB_NODES_ONLINE, &online);
    for (int n = nslab_nodeset_next(&online, 0); n >= 0;
         n = nslab_nodeset_next(&online, n + 1)) {
        snprintf(want, sizeof want, "node %d size: %lld MB\n", n,
                 numa_node_size64(n, NULL) >> 20);
        if (!strstr(text, want))
            return 0;
    }
    return 1;
}

static void test_print(void **state)
{
    char *text = testutil_topology_text();
    for (int tries = 0; tries < 5 && !sizes_shown(text); tries++) {
        free(text);
        assert_int_equal(nslab_topology_refresh(), 0);
        text = testutil_topology_text();
    }
    if (!sizes_shown(text))
        fail_msg("node sizes differ from libnuma's in:\n%s", text);
    char want[64];
    nslab_nodeset_t online;
    int k = nslab_nodes(NSLAB_NODES_ONLINE, &online);
    snprintf(want, sizeof want, "available: %d nodes (", k);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "node distances:\n"));
    for (int n = nslab_nodeset_next(&online, 0); n >= 0;
         n = nslab_nodeset_next(&online, n + 1)) {
        snprintf(want, sizeof want, "node %d class: ", n);
        assert_non_null(strstr(text, want));
    }
    assert_non_null(strstr(text, "cpuset: mems allowed "));
    assert_int_equal(nslab_topology_print(NULL), -EINVAL);
    if (getenv("NUMASLAB_TEST_VERBOSE"))
        fputs(text, stdout);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_and_counts),
        cmocka_unit_test(test_cpus_match_libnuma),
        cmocka_unit_test(test_distances_match_libnuma),
        cmocka_unit_test(test_sizes_match_libnuma),
        cmocka_unit_test(test_cpuset_matches_libnuma),
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_check_node_errnos),
        cmocka_unit_test(test_features_match_kernel),
        cmocka_unit_test(test_node_info_errors),
        cmocka_unit_test(test_bind_thread),
        cmocka_unit_test(test_print),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
