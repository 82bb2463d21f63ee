/*
 * topology/topology.h - interface of the topology layer: the machine's NUMA
 * layout (nodes, CPUs, distances, cpuset, kernel features) and the calling
 * thread's node.  The kernel itself is behind os.h (topology/os.c), which
 * only the layers that place memory include.
 *
 * Nothing here calls malloc (the malloc replacement runs this code while it
 * bootstraps): discovery parses sysfs with open/read into static storage.
 *
 * Threads: topology_get() returns a snapshot that is read-only once
 * published; a reload publishes a new one and leaves the old intact (a ring
 * of TOPO_SNAPSHOTS, snapshot.c), so reloads may race with readers.
 */
#ifndef NSLAB_TOPOLOGY_H
#define NSLAB_TOPOLOGY_H

#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"

/* Largest CPU id + 1 the snapshot holds. */
#define TOPO_MAX_CPUS 8192

struct topo_node {
    uint8_t online;
    uint8_t has_memory;
    uint8_t has_cpus;
    uint8_t allowed;      /* in mems_allowed */
    uint8_t drained;      /* drained (nslab_node_drain): the library places
                             nothing on it; local_node and by_distance skip
                             it, topology_check_node says ENODEV */
    int16_t local_node;   /* itself (with memory, not drained), else the
                             nearest such node with CPUs by distance[n][m]
                             (ties: lower id), or -1 for memory-only and
                             offline nodes */
    int32_t ncpus;
    uint64_t mem_total;   /* bytes */
};

/* Where discovery reads from.  Tests point these at a fake tree. */
struct topo_source {
    const char *sysfs_root;   /* default "/sys" (reads devices/system/node,
                                 devices/system/cpu) */
    const char *status_path;  /* default "/proc/self/status" (for
                                 Mems_allowed_list, Cpus_allowed_list) */
};

struct topology {
    int nr_nodes;                    /* possible node ids: max possible + 1 */
    int nr_cpus;                     /* possible cpu ids: max possible + 1 */
    int nr_memory_nodes;             /* members of `memory` not drained
                                        (by_distance) */
    nslab_nodeset_t possible, online, memory, cpu, allowed;
    /* Nodes drained by nslab_node_drain (an input kept across reloads,
     * snapshot.c), and `usable`: allowed, with memory, not drained - the
     * nodes the library may place memory on ("all", NSLAB_NODES_ALLOWED,
     * the default node sets, fallback). */
    nslab_nodeset_t drained, usable;
    struct topo_node node[NSLAB_MAX_NODES];
    uint8_t distance[NSLAB_MAX_NODES][NSLAB_MAX_NODES]; /* [from][to] */
    /* Nodes by distance, the one fallback order of the library (arenas,
     * pool sets, the process policy, local nodes): by_distance[n][0 ..
     * nr_memory_nodes - 1] are the nodes with memory that are not drained,
     * nearest to n first - n itself when it is one, then by distance[n][m], an unknown
     * distance (0) counting as 255 (the farthest), ties by the lower id.
     * Rows past nr_nodes are not written (so never faulted in). */
    int16_t by_distance[NSLAB_MAX_NODES][NSLAB_MAX_NODES];
    int16_t cpu_node[TOPO_MAX_CPUS];  /* -1 for a CPU that does not exist */
    int16_t cpu_local[TOPO_MAX_CPUS]; /* local node with memory of the CPU */
    uint64_t cpus_allowed[TOPO_MAX_CPUS / 64];
    /* kernel features, detected once */
    uint8_t has_preferred_many;      /* os_probe: OS_POL_PREFERRED_MANY */
    uint8_t has_weighted_interleave; /* OS_POL_WEIGHTED_INTERLEAVE */
    uint8_t has_populate_write;      /* os_commit can populate (5.14) */
    size_t page_size;
    size_t thp_size;                 /* PMD huge page size, 0 if no THP */
    char sysfs_root[256];
    nslab_nodeset_t normal_memory;   /* has_normal_memory (not only
                                        ZONE_MOVABLE) */
    uint8_t thp_always;              /* THP "enabled" is [always] */
    uint8_t real_source;             /* discovered from the real system
                                        (no test source): the change
                                        check applies */
    uint8_t kernel_mems_ok;          /* kernel_mems was read */
    nslab_nodeset_t kernel_mems;     /* os_allowed_nodes()
                                        at discovery */
};

/* Snapshots kept before a slot is rewritten (snapshot.c). */
#define TOPO_SNAPSHOTS 64
/* topology_check_mems calls per look at sysfs. */
#define TOPO_LAYOUT_EVERY 16

/* Parse the layout from `src` (NULL fields = defaults) into *t.
 * Returns 0 or a positive errno (ENOENT: no node directory, EIO). */
int topology_discover(struct topology *t, const struct topo_source *src);

/* The process-wide snapshot, discovered on first call from the real system
 * (or from NUMASLAB_SYSFS_ROOT if set: used by tests).  Never NULL; if
 * discovery failed, topology_error() tells why. */
const struct topology *topology_get(void);
int topology_error(void);

/* Publish a fresh discovery (tests use a fake src; NULL = the default).
 * Safe while other threads read the old snapshot.  0 or a positive errno
 * (discovery's, or ENOMEM when no snapshot slot can be mapped); on error
 * the old snapshot stays published. */
int topology_reload(const struct topo_source *src);

/* The nodes with memory by distance from `from` (t->by_distance[from],
 * t->nr_memory_nodes of them), or NULL for a node out of range. */
static inline const int16_t *topology_by_distance(const struct topology *t, int from)
{
    return from >= 0 && from < t->nr_nodes ? t->by_distance[from] : (const int16_t *)0;
}

/* The node of `set` nearest to `from` by that order (from itself when it
 * is in the set and has memory), or -1 (none of them has memory, or from
 * is out of range). */
int topology_nearest_in(const struct topology *t, int from, const nslab_nodeset_t *set);

/* In the child of a multi-threaded fork (the arena's fork handler): make
 * the reload and discovery locks usable again.  What they protect needs no
 * repair: a reload writes the snapshot that is not published, and the
 * discovery lock guards scratch space only.  The first discovery is a
 * pthread_once, which glibc restarts in a child forked while it ran. */
void topology_fork_child(void);
void topology_discover_fork_child(void);

/* Whether the process may have more than one thread (glibc's
 * __libc_single_threaded: false once a thread was created; 1 where libc
 * does not say).  The fork handlers record it in the forking thread. */
int topology_multi_threaded(void);

/* A full memory barrier on every running thread of the process, for the
 * layers above that may not name os.h (os_membarrier: membarrier(2)).
 * 0, or ENOSYS / EPERM where the kernel or a seccomp filter has none. */
int topology_threads_barrier(void);

/* Publications so far (1 after the first discovery): a layer that keeps
 * state derived from the topology compares it with the value it last
 * synchronised with (relaxed or acquire load; cheap). */
extern unsigned long topology_generation;

/* Has the layout changed since the published snapshot was discovered?
 * Each call compares the kernel's allowed memory nodes (the cpuset's mems:
 * one os_allowed_nodes call, no file); every TOPO_LAYOUT_EVERY-th call also
 * reads the nodes online and with memory from sysfs (hot-add, offline).
 * When something changed, the topology is rediscovered and published
 * (generation + 1) and 1 is returned, else 0.  Does nothing for a snapshot loaded from
 * a test source.  Safe from any thread, while others allocate. */
int topology_check_mems(void);

/* A request was refused with `err` by the published snapshot's checks
 * (topology_check_node / _nodes or a policy resolved against it).  For
 * ENODEV and EXDEV, look at the layout now (as topology_check_mems with
 * the sysfs look forced: one os_allowed_nodes call, two sysfs reads) and say
 * whether a new snapshot is published since: 1 = check again against
 * topology_get() (a node that gained memory or joined the cpuset is usable
 * at the first request for it, not only after some other slow path
 * noticed), 0 = err stands.  At most one such look per TOPO_RECHECK_NS in
 * the process, so a caller polling for a node that never comes costs a
 * bounded rate of file reads; 0 for other errors, a test source, or within
 * that time of the last look. */
#define TOPO_RECHECK_NS 1000000u /* 1 ms */
int topology_recheck_refused(int err);

/* Called by nslab_topology_refresh() after it published (set by the arena
 * layer at its initialisation: it re-checks what it placed). */
extern void (*topology_change_hook)(void);

/* Validate a node for an allocation target: 0, or EINVAL (out of range),
 * ENODEV (offline, without memory, or drained), EXDEV (not allowed by the
 * cpuset). */
int topology_check_node(const struct topology *t, int node);

/* topology_check_node against *t, and for a refusal (ENODEV, EXDEV) once
 * more against the layout read now (topology_recheck_refused): a node that
 * gained memory or joined the cpuset since the snapshot is usable at the
 * first request for it.  *t is the snapshot the answer is from. */
int topology_check_node_fresh(const struct topology **t, int node);

/* Check a node set the same way (every member), and that it is non-empty:
 * EINVAL for an empty set. */
int topology_check_nodes(const struct topology *t, const nslab_nodeset_t *s);

/* The one reader of the public option structs' size/version header
 * (numaslab.h: NSLAB_OPTS_VERSION).  Copies the caller's struct `src` into
 * `dst` (`dst_size` = this release's sizeof): the fields the caller's size
 * covers, zero (= default) for the rest, then sets dst's size and version
 * to this release's.  EINVAL: src's size < 8, an unknown version, or a size
 * above dst_size with a non-zero byte past dst_size.  Does not allocate. */
int topology_opts_import(void *dst, size_t dst_size, const void *src);

/* Recompute what depends on t->drained (node[].drained, usable,
 * by_distance, nr_memory_nodes, local_node, cpu_local) from the rest of
 * t.  Discovery ends with it; snapshot.c runs it on a copy to drain. */
void topology_derive(struct topology *t);

/* Mark `node` drained (on = 1) or not (on = 0) and publish a snapshot that
 * says so (a copy of the published one, derived again: no sysfs read;
 * generation + 1).  The mark is kept across later reloads.  0, EINVAL
 * (node out of range), ENOMEM (no snapshot slot). */
int topology_set_drained(int node, int on);

/* Read devices/system/node/{online,has_memory} under `root` now.  0 or a
 * positive errno. */
int topology_read_layout(const char *root, nslab_nodeset_t *online,
                         nslab_nodeset_t *memory);

/* Current free bytes of a node (read from sysfs now), or 0. */
uint64_t topology_node_free(int node);

/* Free hugetlb pages of `page_size` bytes on a node (sysfs, read now), or
 * 0 (none, unknown size, bad node). */
uint64_t topology_node_free_huge(int node, size_t page_size);

/* The system's weighted-interleave weight of a node (1..255, read from
 * kernel/mm/mempolicy/weighted_interleave/nodeN now), or 0 if unknown. */
unsigned topology_interleave_weight(int node);

/* The calling thread's CPU and node, cheaply.
 * Fast path (inline, a few loads, no call): the rseq area glibc (2.35+)
 * registers for every thread holds the CPU the kernel last ran it on
 * (cpu_id, at the thread pointer + __rseq_offset); it is mapped through the
 * published snapshot's cpu_node[] / cpu_local[].
 * Fallback (out of line, current.c): getcpu() cached per thread and
 * refreshed every TOPO_NODE_REFRESH calls; used when rseq is not registered
 * (GLIBC_TUNABLES=glibc.pthread.rseq=0, old libc or kernel), before the
 * first discovery, and for CPUs the snapshot does not know.
 * Staleness: with rseq the answer is exact at the read (the thread may
 * migrate right after, as with any getcpu); without it, it can lag a
 * migration by up to TOPO_NODE_REFRESH - 1 calls of this thread.
 * topology_local_node() returns -1 only when no node with memory and CPUs
 * exists; it is never a memory-only node. */
#define TOPO_NODE_REFRESH 64
/* The published snapshot (snapshot.c): NULL before the first discovery;
 * read with an acquire load.  Use topology_get() outside hot paths. */
extern const struct topology *topology_published;
int topology_current_cpu_slow(void);
int topology_current_node_slow(void);
int topology_local_node_slow(void);
int topology_rseq_active(void); /* 1 if the rseq fast path is in use */
int topology_cpu_getcpu(void);  /* the getcpu fallback path alone (tests,
                                   measurements) */

#if defined(__has_include)
#if __has_include(<sys/rseq.h>)
#include <sys/rseq.h>
#define TOPO_HAVE_RSEQ 1
#endif
#endif

/* The rseq cpu_id of the calling thread, or < 0 when rseq is not
 * registered (glibc then leaves RSEQ_CPU_ID_REGISTRATION_FAILED there). */
static inline int topology_rseq_cpu(void)
{
#ifdef TOPO_HAVE_RSEQ
    const struct rseq *rs =
        (const struct rseq *)((const char *)__builtin_thread_pointer() +
                              __rseq_offset);
    return (int)__atomic_load_n(&rs->cpu_id, __ATOMIC_RELAXED);
#else
    return -1;
#endif
}

static inline int topology_current_cpu(void)
{
    int cpu = topology_rseq_cpu();
    if (__builtin_expect(cpu >= 0, 1))
        return cpu;
    return topology_current_cpu_slow();
}

static inline int topology_current_node(void)
{
    const struct topology *t =
        __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE);
    int cpu = topology_rseq_cpu();
    if (__builtin_expect(t != NULL && cpu >= 0 && cpu < t->nr_cpus, 1)) {
        int n = t->cpu_node[cpu];
        if (__builtin_expect(n >= 0, 1))
            return n;
    }
    return topology_current_node_slow();
}

static inline int topology_local_node(void)
{
    const struct topology *t =
        __atomic_load_n(&topology_published, __ATOMIC_ACQUIRE);
    int cpu = topology_rseq_cpu();
    if (__builtin_expect(t != NULL && cpu >= 0 && cpu < t->nr_cpus, 1)) {
        int n = t->cpu_local[cpu];
        if (__builtin_expect(n >= 0, 1))
            return n;
    }
    return topology_local_node_slow();
}

/* The decimal digits of v into d (no NUL); returns how many (1-20).  No
 * allocation, no locale: for messages composed while malloc bootstraps
 * (text.c; the rest of text.h is topology's own). */
int text_utoa(unsigned long long v, char d[20]);

/* Bind the calling thread to the allowed CPUs of `node` (os_set_affinity):
 * 0, EINVAL (out of range), ENODEV (offline / no CPUs), EXDEV (none of its
 * CPUs allowed), or the kernel's errno. */
int topology_bind_thread(int node);

#endif /* NSLAB_TOPOLOGY_H */
