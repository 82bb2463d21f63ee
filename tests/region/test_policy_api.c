/*
 * tests/region/test_policy_api.c - the whole policy API (issue 14):
 * DEFAULT ("no binding") and what NULL means, the set constructors,
 * nslab_policy_node_set, NUMA_BALANCING, the thread policy calls,
 * nslab_policy_check_cpus and nslab_range_locality, with every documented error
 * that one node can show.  In the 4-node guest the same file checks that
 * DEFAULT follows the thread's BIND and that check_cpus counts remote CPUs;
 * run as `test_policy_api membind=N` under `numactl --membind=N` it checks
 * that DEFAULT (and NULL) follow numactl's policy while LOCAL overrides it.
 */

#include "region_testutil.h"

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <numaif.h>
#include <unistd.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/wait.h>

#define MiB ((size_t)1 << 20)
#define MAXCPU 8192

static int membind_node = -1; /* argv "membind=N": numactl --membind=N runs us */

static nslab_region_t *make(size_t size, const nslab_policy_t *pol, nslab_prefault_t pf)
{
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT(.prefault = pf, .pages = NSLAB_PAGES_NO_THP);
    nslab_region_t *r = nslab_region_create(size, pol, &o);
    if (!r)
        fail_msg("region_create: %s", strerror(errno));
    return r;
}

static void assert_region_on(nslab_region_t *r, int node)
{
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    if (pl.on_node[node] != pl.pages)
        fail_msg("%zu of %zu pages on node %d", pl.on_node[node], pl.pages, node);
    assert_all_on_node(nslab_region_addr(r), nslab_region_size(r), node);
}

static void test_constructors(void **state)
{
    (void)state;
    nslab_policy_t p = nslab_policy_default();
    assert_int_equal(p.mode, NSLAB_POLICY_DEFAULT);
    assert_int_equal(p.flags, 0);
    p = nslab_policy_bind_or_default(-1);
    assert_int_equal(p.mode, NSLAB_POLICY_DEFAULT);
    int n0 = testutil_memory_node(0);
    p = nslab_policy_bind_or_default(n0);
    assert_int_equal(p.mode, NSLAB_POLICY_BIND);
    assert_true(nslab_nodeset_has(&p.nodes, n0));
    assert_int_equal(nslab_nodeset_count(&p.nodes), 1);

    nslab_nodeset_t mem;
    int nmem = testutil_memory_nodes(&mem);
    p = nslab_policy_bind_set(NULL);
    assert_int_equal(p.mode, NSLAB_POLICY_BIND);
    assert_memory_equal(&p.nodes, &mem, sizeof mem);
    p = nslab_policy_preferred_many(&mem);
    assert_int_equal(p.mode, NSLAB_POLICY_PREFERRED_MANY);
    assert_memory_equal(&p.nodes, &mem, sizeof mem);
    unsigned char w[NSLAB_MAX_NODES];
    memset(w, 2, sizeof w);
    p = nslab_policy_weighted(&mem, w, (size_t)nmem);
    assert_int_equal(p.mode, NSLAB_POLICY_WEIGHTED_INTERLEAVE);
    assert_ptr_equal(p.weights, w);
    assert_int_equal(p.nweights, nmem);

    /* Each makes a region whose memory is on its nodes. */
    nslab_policy_t all[3] = {nslab_policy_bind_set(&mem), nslab_policy_weighted(&mem, w, (size_t)nmem),
                             nslab_policy_preferred_many(&mem)};
    for (int i = 0; i < 3; i++) {
        nslab_region_t *r = nslab_region_create(4 * MiB, &all[i], NULL);
        if (!r && errno == EOPNOTSUPP && i == 2)
            continue; /* PREFERRED_MANY needs 5.15 */
        assert_non_null(r);
        nslab_placement_t pl;
        assert_int_equal(nslab_region_verify(r, &pl), 0);
        size_t on = 0;
        for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1))
            on += pl.on_node[n];
        assert_int_equal(on, pl.pages);
        assert_int_equal(nslab_region_destroy(r), 0);
    }
}

/* The thread's policy, restored after each test that changes it. */
static void reset_thread(void)
{
    assert_int_equal(nslab_thread_set_policy(NULL), 0);
}

static void test_default_region(void **state)
{
    (void)state;
    if (membind_node >= 0)
        TEST_SKIP("runs under numactl --membind (test_default_follows_membind)");
    int local = nslab_local_node();
    nslab_policy_t d = nslab_policy_default();
    nslab_region_t *r = make(4 * MiB, &d, NSLAB_PREFAULT_POPULATE);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_DEFAULT);
    assert_int_equal(rep.kernel_mode, 0);
    assert_int_equal(rep.enforced, NSLAB_ENFORCE_NONE);
    /* Nothing was bound: the range has no policy of its own. */
    int mode = -1;
    assert_int_equal(get_mempolicy(&mode, NULL, 0, nslab_region_addr(r), MPOL_F_ADDR), 0);
    assert_int_equal(mode, MPOL_DEFAULT);
    if (testutil_memory_nodes(NULL) == 1)
        assert_region_on(r, local);
    assert_int_equal(nslab_region_destroy(r), 0);

    /* NULL is DEFAULT. */
    r = nslab_region_create(4 * MiB, NULL, NULL);
    assert_non_null(r);
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_DEFAULT);
    assert_int_equal(get_mempolicy(&mode, NULL, 0, nslab_region_addr(r), MPOL_F_ADDR), 0);
    assert_int_equal(mode, MPOL_DEFAULT);
    assert_int_equal(nslab_region_destroy(r), 0);

    /* Flags are refused with DEFAULT. */
    d.flags = NSLAB_POLICY_STATIC_NODES;
    errno = 0;
    assert_null(nslab_region_create(4 * MiB, &d, NULL));
    assert_int_equal(errno, EINVAL);
}

/* DEFAULT follows the thread's own policy, on every node with memory:
 * a thread BIND to n puts a DEFAULT region on n, capacity-checked. */
static void test_default_follows_thread_bind(void **state)
{
    (void)state;
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_policy_t b = nslab_policy_bind(n);
        assert_int_equal(nslab_thread_set_policy(&b), 0);
        nslab_region_t *r = make(8 * MiB, NULL, NSLAB_PREFAULT_POPULATE);
        nslab_region_report_t rep;
        assert_int_equal(nslab_region_report(r, &rep), 0);
        assert_int_equal(rep.enforced, NSLAB_ENFORCE_STRICT);
        assert_true(nslab_nodeset_has(&rep.nodes, n));
        assert_int_equal(nslab_nodeset_count(&rep.nodes), 1);
        assert_region_on(r, n);
        nslab_nodeset_t ns;
        assert_int_equal(nslab_policy_node_set(NULL, &ns), 1);
        assert_true(nslab_nodeset_has(&ns, n));
        assert_int_equal(nslab_region_destroy(r), 0);
        /* The inherited BIND is capacity-checked like a BIND region. */
        nslab_node_info_t info;
        assert_int_equal(nslab_node_info(n, &info), 0);
        errno = 0;
        assert_null(nslab_region_create((size_t)info.mem_free + 64 * MiB, NULL, NULL));
        assert_int_equal(errno, ENOMEM);
        reset_thread();
    }
}

/* Under `numactl --membind=N`: DEFAULT and NULL land on N, LOCAL does not
 * (it overrides numactl, as the thread's CPU decides). */
static void test_default_follows_membind(void **state)
{
    (void)state;
    if (membind_node < 0)
        TEST_SKIP("not run under numactl --membind (VM test passes membind=N)");
    nslab_policy_t tp;
    assert_int_equal(nslab_thread_get_policy(&tp), 0);
    assert_int_equal(tp.mode, NSLAB_POLICY_BIND);
    assert_true(nslab_nodeset_has(&tp.nodes, membind_node));
    assert_int_equal(nslab_nodeset_count(&tp.nodes), 1);

    nslab_policy_t d = nslab_policy_default();
    nslab_region_t *r = make(16 * MiB, &d, NSLAB_PREFAULT_POPULATE);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    print_placement("DEFAULT under numactl --membind", &pl);
    assert_region_on(r, membind_node);
    assert_int_equal(nslab_region_destroy(r), 0);
    r = make(16 * MiB, NULL, NSLAB_PREFAULT_POPULATE);
    assert_region_on(r, membind_node);
    assert_int_equal(nslab_region_destroy(r), 0);

    /* LOCAL overrides: the pages go to the running CPU's node. */
    uint64_t saved[16];
    int cpu_node = -1;
    for (int n = 0; n < nslab_node_count(); n++) {
        nslab_node_info_t info;
        if (n != membind_node && nslab_node_info(n, &info) == 0 && info.has_cpus &&
            info.local_node == n && thread_pin(n, saved) == 0) {
            cpu_node = n;
            break;
        }
    }
    if (cpu_node < 0)
        return;
    nslab_policy_t l = nslab_policy_local();
    r = make(8 * MiB, &l, NSLAB_PREFAULT_POPULATE);
    assert_int_equal(nslab_region_verify(r, &pl), 0);
    print_placement("LOCAL under numactl --membind", &pl);
    assert_region_on(r, cpu_node);
    assert_int_equal(nslab_region_destroy(r), 0);
    thread_unpin(saved);
}

static void test_thread_policy_roundtrip(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t got, p;

    if (membind_node < 0) {
        assert_int_equal(nslab_thread_get_policy(&got), 0);
        assert_int_equal(got.mode, NSLAB_POLICY_DEFAULT);
    }
    p = nslab_policy_bind(n0);
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.mode, NSLAB_POLICY_BIND);
    assert_memory_equal(&got.nodes, &p.nodes, sizeof p.nodes);

    p = nslab_policy_interleave(NULL);
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.mode, NSLAB_POLICY_INTERLEAVE);
    assert_memory_equal(&got.nodes, &p.nodes, sizeof p.nodes);

    p = nslab_policy_preferred(n0);
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.mode, NSLAB_POLICY_PREFERRED);
    assert_int_equal(got.node, n0);

    p = nslab_policy_local();
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.mode, NSLAB_POLICY_LOCAL);

    p = nslab_policy_bind(n0);
    p.flags = NSLAB_POLICY_STATIC_NODES;
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.flags, NSLAB_POLICY_STATIC_NODES);

    /* The kernel sees it too. */
    int mode = -1;
    unsigned long mask[NSLAB_MAX_NODES / 64] = {0};
    assert_int_equal(get_mempolicy(&mode, mask, NSLAB_MAX_NODES, NULL, 0), 0);
    assert_int_equal(mode & 0xff, MPOL_BIND);
    assert_true((mask[n0 / 64] >> (n0 % 64)) & 1);

    /* DEFAULT resets. */
    p = nslab_policy_default();
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    assert_int_equal(get_mempolicy(&mode, NULL, 0, NULL, 0), 0);
    assert_int_equal(mode, MPOL_DEFAULT);
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.mode, NSLAB_POLICY_DEFAULT);
}

static void test_thread_policy_errors(void **state)
{
    (void)state;
    nslab_policy_t p = nslab_policy_bind(nslab_node_count());
    errno = 0;
    assert_int_equal(nslab_thread_set_policy(&p), -EINVAL);
    assert_int_equal(errno, EINVAL);
    p = nslab_policy_local();
    p.mode = (nslab_policy_mode_t)99;
    assert_int_equal(nslab_thread_set_policy(&p), -EINVAL);
    /* An emulated weighted interleave cannot be a thread policy. */
    nslab_nodeset_t mem;
    int nmem = testutil_memory_nodes(&mem);
    unsigned char w[NSLAB_MAX_NODES];
    memset(w, 3, sizeof w);
    p = nslab_policy_weighted(&mem, w, (size_t)nmem);
    region_set_emulate_weighted(1);
    errno = 0;
    assert_int_equal(nslab_thread_set_policy(&p), -EOPNOTSUPP);
    assert_int_equal(errno, EOPNOTSUPP);
    region_set_emulate_weighted(0);
    p.nweights = 0;
    assert_int_equal(nslab_thread_set_policy(&p), -EINVAL);
    assert_int_equal(nslab_thread_get_policy(NULL), -EINVAL);
    /* Nothing changed. */
    int mode = -1;
    assert_int_equal(get_mempolicy(&mode, NULL, 0, NULL, 0), 0);
    if (membind_node < 0)
        assert_int_equal(mode, MPOL_DEFAULT);
}

static void test_numa_balancing(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t p = nslab_policy_preferred(n0);
    p.flags = NSLAB_POLICY_NUMA_BALANCING;
    errno = 0;
    assert_null(nslab_region_create(4 * MiB, &p, NULL));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_thread_set_policy(&p), -EINVAL);
    p = nslab_policy_interleave(NULL);
    p.flags = NSLAB_POLICY_NUMA_BALANCING;
    assert_int_equal(nslab_policy_node_set(&p, &p.nodes), -EINVAL);

    p = nslab_policy_bind(n0);
    p.flags = NSLAB_POLICY_NUMA_BALANCING;
    nslab_region_t *r = nslab_region_create(4 * MiB, &p, NULL);
    if (!r) {
        /* Only a kernel before 5.12 may refuse it. */
        assert_int_equal(errno, EOPNOTSUPP);
        assert_int_equal(nslab_thread_set_policy(&p), -EOPNOTSUPP);
        TEST_SKIP("kernel without MPOL_F_NUMA_BALANCING (before 5.12)");
    }
    printf("NUMA_BALANCING with BIND accepted\n");
    assert_region_on(r, n0);
    int mode = -1;
    assert_int_equal(get_mempolicy(&mode, NULL, 0, nslab_region_addr(r), MPOL_F_ADDR), 0);
    assert_int_equal(mode & 0xff, MPOL_BIND);
    assert_true(mode & (1 << 13));
    assert_int_equal(nslab_region_destroy(r), 0);
    assert_int_equal(nslab_thread_set_policy(&p), 0);
    nslab_policy_t got;
    assert_int_equal(nslab_thread_get_policy(&got), 0);
    assert_int_equal(got.mode, NSLAB_POLICY_BIND);
    assert_true(got.flags & NSLAB_POLICY_NUMA_BALANCING);
    reset_thread();
}

static void test_node_set(void **state)
{
    (void)state;
    nslab_nodeset_t mem, out;
    int nmem = testutil_memory_nodes(&mem);
    nslab_policy_t p = nslab_policy_bind_set(&mem);
    assert_int_equal(nslab_policy_node_set(&p, &out), nmem);
    assert_memory_equal(&out, &mem, sizeof mem);
    p = nslab_policy_local();
    assert_int_equal(nslab_policy_node_set(&p, &out), 1);
    assert_true(nslab_nodeset_has(&out, nslab_local_node()));
    p = nslab_policy_preferred(testutil_memory_node(0));
    assert_int_equal(nslab_policy_node_set(&p, &out), 1);
    assert_true(nslab_nodeset_has(&out, testutil_memory_node(0)));
    errno = 0;
    assert_int_equal(nslab_policy_node_set(&p, NULL), -EINVAL);
    assert_int_equal(errno, EINVAL);
    p = nslab_policy_bind(nslab_node_count() + 3);
    assert_int_equal(nslab_policy_node_set(&p, &out), -EINVAL);
    nslab_nodeset_zero(&p.nodes);
    p.mode = NSLAB_POLICY_INTERLEAVE;
    assert_int_equal(nslab_policy_node_set(&p, &out), -EINVAL);
}

static void test_check_cpus(void **state)
{
    (void)state;
    int ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
    nslab_policy_t local = nslab_policy_local();
    /* The calling thread's own CPUs, memory local. */
    assert_int_equal(nslab_policy_check_cpus(&local, NULL, 0), 0);
    int cpus[MAXCPU];
    int n0 = testutil_memory_node(0);
    int k = nslab_node_cpus(n0, cpus, MAXCPU);
    if (k > 0) {
        nslab_policy_t b = nslab_policy_bind(n0);
        assert_int_equal(nslab_policy_check_cpus(&b, cpus, (size_t)k), 0);
    }
    /* Every memory node: CPUs elsewhere count as remote. */
    nslab_nodeset_t mem;
    testutil_memory_nodes(&mem);
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_policy_t b = nslab_policy_bind(n);
        int all[MAXCPU], m = 0, want = 0;
        for (int c = 0; c < ncpus && m < MAXCPU; c++) {
            int cn = nslab_node_of_cpu(c);
            if (cn < 0)
                continue;
            nslab_node_info_t info;
            assert_int_equal(nslab_node_info(cn, &info), 0);
            all[m++] = c;
            want += info.local_node != n;
        }
        assert_int_equal(nslab_policy_check_cpus(&b, all, (size_t)m), want);
        printf("BIND node %d: %d of %d CPUs remote\n", n, want, m);
    }
    errno = 0;
    assert_int_equal(nslab_policy_check_cpus(&local, NULL, 1), -EINVAL);
    assert_int_equal(errno, EINVAL);
    int bad = 1 << 20;
    assert_int_equal(nslab_policy_check_cpus(&local, &bad, 1), -EINVAL);
    nslab_policy_t badpol = nslab_policy_bind(-5);
    assert_int_equal(nslab_policy_check_cpus(&badpol, NULL, 0), -EINVAL);

    /* A CPU outside the cpuset: restrict ourselves to one CPU, refresh. */
    if (ncpus < 2)
        TEST_SKIP("one CPU: no CPU outside the affinity to test EXDEV");
    cpu_set_t old, one;
    assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
    CPU_ZERO(&one);
    int keep = -1, other = -1;
    for (int c = 0; c < ncpus; c++) {
        if (!CPU_ISSET(c, &old))
            continue;
        if (keep < 0)
            keep = c;
        else if (other < 0)
            other = c;
    }
    if (other < 0)
        TEST_SKIP("one allowed CPU");
    CPU_SET(keep, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    assert_int_equal(nslab_topology_refresh(), 0);
    errno = 0;
    int r = nslab_policy_check_cpus(&local, &other, 1);
    assert_int_equal(sched_setaffinity(0, sizeof old, &old), 0);
    assert_int_equal(nslab_topology_refresh(), 0);
    assert_int_equal(r, -EXDEV);
    assert_int_equal(errno, EXDEV);
}

static void test_locality(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t b = nslab_policy_bind(n0);
    nslab_region_t *r = make(8 * MiB, &b, NSLAB_PREFAULT_POPULATE);
    void *p = nslab_region_addr(r);
    nslab_nodeset_t want = nslab_nodeset_of(n0), none;
    nslab_nodeset_zero(&none);
    double f = -1;
    assert_int_equal(nslab_range_locality(p, 8 * MiB, &want, 1.0, &f), 1);
    assert_true(f == 1.0);
    assert_int_equal(nslab_range_locality(p, 8 * MiB, &none, 0.5, &f), 0);
    assert_true(f == 0.0);
    assert_int_equal(nslab_range_locality(p, 8 * MiB, &none, 0.0, NULL), 1);
    /* Errors. */
    errno = 0;
    assert_int_equal(nslab_range_locality(NULL, 1, &want, 0.5, &f), -EINVAL);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(nslab_range_locality(p, 0, &want, 0.5, &f), -EINVAL);
    assert_int_equal(nslab_range_locality(p, 4096, NULL, 0.5, &f), -EINVAL);
    assert_int_equal(nslab_range_locality(p, 4096, &want, 1.5, &f), -EINVAL);
    assert_int_equal(nslab_range_locality(p, 4096, &want, -0.1, &f), -EINVAL);
    assert_int_equal(nslab_range_locality(p, 4096, &want, NAN, &f), -EINVAL);
    assert_int_equal(nslab_range_locality(p, SIZE_MAX, &want, 0.5, &f), -EINVAL);
    assert_int_equal(nslab_region_destroy(r), 0);
    /* Nothing present yet. */
    r = make(4 * MiB, &b, NSLAB_PREFAULT_NONE);
    p = nslab_region_addr(r);
    errno = 0;
    assert_int_equal(nslab_range_locality(p, 4 * MiB, &want, 0.5, &f), -ENOENT);
    assert_int_equal(errno, ENOENT);
    /* Half touched: the fraction counts present pages only. */
    memset(p, 1, 2 * MiB);
    assert_int_equal(nslab_range_locality(p, 4 * MiB, &want, 1.0, &f), 1);
    assert_int_equal(nslab_region_destroy(r), 0);
}

static void *idle_thread(void *arg)
{
    sem_t *s = arg;
    while (sem_wait(s) != 0)
        ;
    return NULL;
}

/* The process policy: in a single-threaded child after fork it is set and
 * a program it execs inherits it (numactl --show reads it back); with a
 * second thread it is -EBUSY and nothing changes. */
static void test_process_policy(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    /* ThreadSanitizer's runtime keeps a background thread in every process,
     * so no process is single-threaded and the call rightly gives -EBUSY. */
    TEST_SKIP("under ThreadSanitizer no process has one thread (its runtime's own thread)");
#endif
    int n0 = testutil_memory_node(0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        nslab_policy_t b = nslab_policy_bind(n0);
        if (nslab_process_set_policy(&b) != 0)
            _exit(3);
        dup2(fds[1], 1);
        execlp("numactl", "numactl", "--show", (char *)NULL);
        _exit(4);
    }
    close(fds[1]);
    char out[4096] = {0};
    size_t len = 0;
    ssize_t k;
    while ((k = read(fds[0], out + len, sizeof out - 1 - len)) > 0)
        len += (size_t)k;
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 4)
        TEST_SKIP("numactl not installed (the child set the policy)");
    assert_int_equal(WEXITSTATUS(st), 0);
    if (!strstr(out, "policy: bind"))
        fail_msg("the exec'd program did not inherit the process policy:\n%s", out);

    /* A second thread: refused, nothing changed. */
    sem_t s;
    sem_init(&s, 0, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, idle_thread, &s), 0);
    nslab_policy_t b = nslab_policy_bind(n0);
    nslab_policy_t before, after;
    assert_int_equal(nslab_thread_get_policy(&before), 0);
    errno = 0;
    assert_int_equal(nslab_process_set_policy(&b), -EBUSY);
    assert_int_equal(errno, EBUSY);
    assert_int_equal(nslab_thread_get_policy(&after), 0);
    assert_int_equal(after.mode, before.mode);
    sem_post(&s);
    pthread_join(th, NULL);
    sem_destroy(&s);
    /* Bad policies are refused as by nslab_thread_set_policy. */
    nslab_policy_t bad = nslab_policy_bind(nslab_node_count());
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(nslab_process_set_policy(&bad) == -EINVAL ? 0 : 1);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Moving a region to DEFAULT drops its binding and moves nothing. */
static void test_move_to_default(void **state)
{
    (void)state;
    int n0 = testutil_memory_node(0);
    nslab_policy_t b = nslab_policy_bind(n0), d = nslab_policy_default();
    nslab_region_t *r = make(4 * MiB, &b, NSLAB_PREFAULT_POPULATE);
    nslab_placement_t pl;
    assert_int_equal(nslab_region_move(r, &d, &pl), 0);
    assert_int_equal(pl.on_node[n0], pl.pages);
    int mode = -1;
    assert_int_equal(get_mempolicy(&mode, NULL, 0, nslab_region_addr(r), MPOL_F_ADDR), 0);
    assert_int_equal(mode, MPOL_DEFAULT);
    nslab_region_report_t rep;
    assert_int_equal(nslab_region_report(r, &rep), 0);
    assert_int_equal(rep.asked, NSLAB_POLICY_DEFAULT);
    assert_int_equal(nslab_region_destroy(r), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strncmp(argv[1], "membind=", 8) == 0)
        membind_node = atoi(argv[1] + 8);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constructors),
        cmocka_unit_test(test_default_region),
        cmocka_unit_test(test_default_follows_membind),
        cmocka_unit_test(test_thread_policy_roundtrip),
        cmocka_unit_test(test_thread_policy_errors),
        cmocka_unit_test(test_numa_balancing),
        cmocka_unit_test(test_node_set),
        cmocka_unit_test(test_check_cpus),
        cmocka_unit_test(test_locality),
        cmocka_unit_test(test_move_to_default),
        cmocka_unit_test(test_process_policy),
        cmocka_unit_test(test_default_follows_thread_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
