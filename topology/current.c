/*
 * topology/current.c - the calling thread's CPU and node, cheaply.
 *
 * Fast path: glibc (2.35+) registers an rseq area for every thread; the
 * kernel writes the thread's current CPU into its cpu_id field before the
 * thread returns to user space after any migration.  Reading it is one
 * load from the thread pointer (+ __rseq_offset), no system call, and it
 * is exact at the moment of the read (the thread may of course migrate
 * right after, as with any getcpu answer).
 *
 * Fallback (rseq not registered: old kernel or libc, or disabled with
 * GLIBC_TUNABLES=glibc.pthread.rseq=0): getcpu(2) through os_getcpu(),
 * cached per thread and refreshed every TOPO_NODE_REFRESH calls.  So the
 * answer may be stale by up to TOPO_NODE_REFRESH - 1 calls after a
 * migration; it is never wrong about which CPUs and nodes exist (it is
 * mapped through the snapshot's tables).
 *
 * The CPU is mapped to a node with the snapshot's cpu_node[] / cpu_local[]
 * tables, so a fake topology (tests) answers consistently with itself.
 *
 * Threads: the only state is per thread (initial-exec TLS: no lazy TLS
 * allocation in a dlopen'ed or preloaded library, as mimalloc does).
 */
#include "topology.h"

#include <sys/rseq.h>

struct cpu_cache {
    int cpu;       /* last getcpu() answer, -1 before the first */
    unsigned left; /* calls before the next refresh */
};

static __thread struct cpu_cache tl_cpu
    __attribute__((tls_model("initial-exec"))) = { -1, 0 };

/* The rseq cpu_id of the calling thread, or < 0 if rseq is not registered
 * (RSEQ_CPU_ID_UNINITIALIZED / RSEQ_CPU_ID_REGISTRATION_FAILED). */
static inline int rseq_cpu(void)
{
    if (__builtin_expect(__rseq_size == 0, 0))
        return -1;
    const struct rseq *rs =
        (const struct rseq *)((const char *)__builtin_thread_pointer() +
                              __rseq_offset);
    return (int)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
}

static __attribute__((noinline)) int getcpu_refresh(void)
{
    unsigned cpu = 0, node = 0;
    if (os_getcpu(&cpu, &node) != 0)
        cpu = 0;
    tl_cpu.cpu = (int)cpu;
    tl_cpu.left = TOPO_NODE_REFRESH;
    return (int)cpu;
}

int topology_cpu_getcpu(void)
{
    struct cpu_cache *c = &tl_cpu;
    if (__builtin_expect(c->left == 0, 0))
        getcpu_refresh();
    c->left--;
    return c->cpu;
}

int topology_rseq_active(void)
{
    return rseq_cpu() >= 0;
}

int topology_current_cpu(void)
{
    int cpu = rseq_cpu();
    if (__builtin_expect(cpu >= 0, 1))
        return cpu;
    return topology_cpu_getcpu();
}

/* A CPU the snapshot does not know (a fake topology smaller than the
 * machine, or a CPU hot-added since discovery): the lowest node with CPUs,
 * else node 0. */
static __attribute__((noinline)) int unknown_cpu_node(const struct topology *t)
{
    int n = nslab_nodeset_next(&t->cpu, 0);
    return n >= 0 ? n : 0;
}

int topology_current_node(void)
{
    const struct topology *t = topology_get();
    int cpu = topology_current_cpu();
    if (__builtin_expect(cpu < t->nr_cpus, 1)) {
        int n = t->cpu_node[cpu];
        if (__builtin_expect(n >= 0, 1))
            return n;
    }
    return unknown_cpu_node(t);
}

static __attribute__((noinline)) int unknown_cpu_local(const struct topology *t)
{
    int n = unknown_cpu_node(t);
    return n < t->nr_nodes ? t->node[n].local_node : -1;
}

int topology_local_node(void)
{
    const struct topology *t = topology_get();
    int cpu = topology_current_cpu();
    if (__builtin_expect(cpu < t->nr_cpus, 1)) {
        int n = t->cpu_local[cpu];
        if (__builtin_expect(n >= 0, 1))
            return n;
        if (t->cpu_node[cpu] >= 0)
            return -1; /* a known CPU with no memory node to use */
    }
    return unknown_cpu_local(t);
}
