/*
 * tests/topology/test_topology_current.c - the calling thread's CPU and
 * node: concurrent first use of the snapshot, rseq and getcpu paths agree
 * with the kernel, both follow a migration (getcpu within
 * TOPO_NODE_REFRESH calls), and every thread gets its own answer.
 * CTest runs it twice: as is (rseq where glibc registers it) and with
 * GLIBC_TUNABLES=glibc.pthread.rseq=0 (the getcpu fallback).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "topology.h"

#define NTHREADS 8

static pthread_barrier_t barrier;
static const struct topology *seen[NTHREADS];

static void *first_use(void *arg)
{
    long i = (long)arg;
    pthread_barrier_wait(&barrier);
    seen[i] = topology_get();
    return NULL;
}

/* Runs first: nothing in this process has touched the topology yet. */
static void test_concurrent_first_use(void **state)
{
    pthread_t th[NTHREADS];
    pthread_barrier_init(&barrier, NULL, NTHREADS);
    for (long i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, first_use, (void *)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < NTHREADS; i++) {
        assert_non_null(seen[i]);
        assert_ptr_equal(seen[i], seen[0]);
    }
    assert_true(seen[0]->nr_nodes >= 1);
    assert_int_equal(topology_error(), 0);
    assert_ptr_equal(topology_get(), seen[0]);
}

static int rseq_expected(void)
{
    const char *tun = getenv("GLIBC_TUNABLES");
    return !(tun && strstr(tun, "glibc.pthread.rseq=0"));
}

static void test_rseq_mode(void **state)
{
    int active = topology_rseq_active();
    printf("current-node path: %s\n", active ? "rseq" : "getcpu");
    if (!rseq_expected())
        assert_int_equal(active, 0);
    else if (!active)
        TEST_SKIP("glibc did not register rseq (old kernel?): the getcpu "
                  "path is in use");
}

static int pin(int cpu)
{
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    return sched_setaffinity(0, sizeof one, &one);
}

/* Pinned to each allowed CPU in turn: both paths report it (the getcpu
 * path within TOPO_NODE_REFRESH calls), and the node is the CPU's. */
static void test_follows_migration(void **state)
{
    cpu_set_t old;
    assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
    int visited = 0;
    for (int c = 0; c < CPU_SETSIZE && visited < 16; c++) {
        if (!CPU_ISSET(c, &old))
            continue;
        assert_int_equal(pin(c), 0);
        visited++;
        /* rseq: at once; getcpu: within TOPO_NODE_REFRESH calls (both
         * paths share the per-thread cache, so after that it is fresh). */
        int last = -1;
        if (topology_rseq_active()) {
            assert_int_equal(topology_current_cpu(), c);
            for (int i = 0; i < TOPO_NODE_REFRESH; i++)
                last = topology_cpu_getcpu();
        } else {
            for (int i = 0; i < TOPO_NODE_REFRESH; i++)
                last = topology_current_cpu();
        }
        assert_int_equal(last, c);
        assert_int_equal(topology_current_cpu(), c);
        int node = nslab_node_of_cpu(c);
        assert_int_equal(nslab_current_node(), node);
        assert_int_equal(topology_current_node(), node);
        int local = topology_get()->cpu_local[c];
        if (local >= 0)
            assert_int_equal(nslab_local_node(), local);
    }
    assert_int_equal(sched_setaffinity(0, sizeof old, &old), 0);
    if (visited < 2)
        TEST_SKIP("one CPU allowed: no migration to follow");
}

struct per_thread {
    int cpu;
    int got_cpu, got_node;
};

static void *pinned_thread(void *arg)
{
    struct per_thread *p = arg;
    if (pin(p->cpu) != 0) {
        p->got_cpu = -2;
        return NULL;
    }
    p->got_cpu = topology_current_cpu();
    p->got_node = nslab_current_node();
    return NULL;
}

/* The answer is per thread: threads pinned to different CPUs see theirs. */
static void test_per_thread(void **state)
{
    cpu_set_t old;
    assert_int_equal(sched_getaffinity(0, sizeof old, &old), 0);
    struct per_thread p[NTHREADS];
    pthread_t th[NTHREADS];
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < NTHREADS; c++)
        if (CPU_ISSET(c, &old))
            p[n++] = (struct per_thread){ .cpu = c };
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pinned_thread, &p[i]), 0);
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].got_cpu, p[i].cpu);
        assert_int_equal(p[i].got_node, nslab_node_of_cpu(p[i].cpu));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_first_use),
        cmocka_unit_test(test_rseq_mode),
        cmocka_unit_test(test_follows_migration),
        cmocka_unit_test(test_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
