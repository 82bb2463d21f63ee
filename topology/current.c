/*
 * topology/current.c - the calling thread's CPU and node: the out-of-line
 * half (the inline fast path is in topology.h).
 *
 * Fast path (topology.h): glibc (2.35+) registers an rseq area for every
 * thread; the kernel writes the thread's current CPU into its cpu_id field
 * before the thread returns to user space after any migration.  Reading it
 * is one load from the thread pointer (+ __rseq_offset), no system call,
 * exact at the moment of the read.
 *
 * Here: the fallback when rseq is not registered (old kernel or libc, or
 * GLIBC_TUNABLES=glibc.pthread.rseq=0): getcpu(2) through os_getcpu(),
 * cached per thread and refreshed every TOPO_NODE_REFRESH calls, so it may
 * lag a migration by up to TOPO_NODE_REFRESH - 1 calls; and the rare
 * cases (no snapshot yet, a CPU the snapshot does not know).  CPUs are
 * always mapped through the snapshot's tables, so a fake topology (tests)
 * answers consistently with itself.
 *
 * Threads: the only state is per thread (initial-exec TLS: no lazy TLS
 * allocation in a dlopen'ed or preloaded library, as mimalloc does).
 */
#include "topology.h"
#include "os.h"

struct cpu_cache {
    int cpu;       /* last getcpu() answer, valid once left was set */
    unsigned left; /* calls before the next refresh; 0 = refresh now */
};

static __thread struct cpu_cache tl_cpu
    __attribute__((tls_model("initial-exec")));

static __attribute__((noinline)) void getcpu_refresh(struct cpu_cache *c)
{
    unsigned cpu = 0, node = 0;
    if (os_getcpu(&cpu, &node) != 0)
        cpu = 0;
    c->cpu = (int)cpu;
    c->left = TOPO_NODE_REFRESH;
}

int topology_cpu_getcpu(void)
{
    struct cpu_cache *c = &tl_cpu;
    if (__builtin_expect(c->left == 0, 0))
        getcpu_refresh(c);
    c->left--;
    return c->cpu;
}

int topology_rseq_active(void)
{
#ifdef TOPO_HAVE_RSEQ
    return __rseq_size != 0 && topology_rseq_cpu() >= 0;
#else
    return 0;
#endif
}

int topology_current_cpu_slow(void)
{
    int cpu = topology_rseq_cpu();
    return cpu >= 0 ? cpu : topology_cpu_getcpu();
}

/* A CPU the snapshot does not know (a fake topology smaller than the
 * machine, or a CPU hot-added since discovery): the lowest node with CPUs,
 * else node 0. */
static int unknown_cpu_node(const struct topology *t)
{
    int n = nslab_nodeset_next(&t->cpu, 0);
    return n >= 0 && n < t->nr_nodes ? n : 0;
}

int topology_current_node_slow(void)
{
    const struct topology *t = topology_get();
    int cpu = topology_current_cpu_slow();
    if (cpu < t->nr_cpus && t->cpu_node[cpu] >= 0)
        return t->cpu_node[cpu];
    return unknown_cpu_node(t);
}

int topology_local_node_slow(void)
{
    const struct topology *t = topology_get();
    int cpu = topology_current_cpu_slow();
    if (cpu < t->nr_cpus && t->cpu_node[cpu] >= 0)
        return t->cpu_local[cpu]; /* -1: no node with memory to use */
    return t->node[unknown_cpu_node(t)].local_node;
}
