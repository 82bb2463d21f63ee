/*
 * tests/topology/current_cost.c - ns per call of the current-node paths
 * (a measurement, not a test: timings are never asserted).
 *   topology_current_node()  rseq where registered, else cached getcpu
 *   nslab_current_node()     the public entry (same, through the export)
 *   topology_cpu_getcpu()    the getcpu path alone (syscall every
 *                            TOPO_NODE_REFRESH calls)
 *   sched_getcpu()           glibc (vDSO or rseq) for comparison
 *   getcpu syscall           the raw system call
 * Usage: topology_current_cost [iterations]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "topology.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static volatile int sink;

/* Each loop is its own function: GCC optimises main() for size (it runs
 * once) and would not inline the fast paths there. */
#define LOOP(name, expr)                                                 \
    static __attribute__((noinline)) void name(long n)                   \
    {                                                                    \
        for (long i = 0; i < n; i++)                                     \
            sink = (expr);                                               \
    }
LOOP(loop_current_node, topology_current_node())
LOOP(loop_nslab_current_node, nslab_current_node())
LOOP(loop_local_node, topology_local_node())
LOOP(loop_getcpu_path, topology_cpu_getcpu())
LOOP(loop_sched_getcpu, sched_getcpu())
LOOP(loop_syscall, (int)syscall(SYS_getcpu, NULL, NULL, NULL))

static void measure(const char *label, long n, void (*loop)(long))
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ns();
        loop(n);
        double ns = (now_ns() - t0) / (double)n;
        if (ns < best)
            best = ns;
    }
    printf("%-34s %8.2f ns/call (best of 5)\n", label, best);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 10000000;
    topology_get();
    printf("rseq active: %s, refresh every %d calls\n",
           topology_rseq_active() ? "yes" : "no", TOPO_NODE_REFRESH);
    measure("topology_current_node() [inline]", n, loop_current_node);
    measure("nslab_current_node()", n, loop_nslab_current_node);
    measure("topology_local_node() [inline]", n, loop_local_node);
    measure("topology_cpu_getcpu() [fallback]", n, loop_getcpu_path);
    measure("sched_getcpu() [glibc]", n, loop_sched_getcpu);
    measure("syscall(SYS_getcpu)", n / 10, loop_syscall);
    return 0;
}
