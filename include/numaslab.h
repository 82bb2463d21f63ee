/*
 * numaslab.h - the one public header of numaslab, a NUMA-aware allocator.
 *
 * numaslab puts memory on the NUMA node where it will be used and keeps it
 * there: every chunk it hands blocks from was mapped and bound to its node
 * with mbind(2) before the first block was given out, so placement is
 * decided at allocation time, not by first touch; how much is populated
 * ahead of use is a separate setting (nslab_arena_prefault_t).
 *
 * Naming, two rules:
 *  - A call that allocates and says where is numa_<libc name>_<where>: the
 *    design card's numa_malloc_on, numa_malloc_local and
 *    numa_malloc_interleaved, then numa_calloc_on and numa_aligned_alloc_on.
 *    The calls that take a block already allocated keep their libc verb
 *    under the library prefix (nslab_free, nslab_realloc,
 *    nslab_usable_size, nslab_node_of): numa_free and numa_realloc are
 *    libnuma's exported names, with other signatures, and a program may link
 *    both libraries (the benchmarks do).  No numa_ name here collides with
 *    libnuma's (numa_alloc_*, numa_free, numa_realloc, numa_node_of_cpu...).
 *  - Everything else is nslab_<object>_<verb or property>, the object being
 *    what the first argument is, or the subsystem acted on: nslab_node_info,
 *    nslab_node_distance, nslab_thread_bind, nslab_thread_set_policy,
 *    nslab_range_bind / _placement / _locality (an address range),
 *    nslab_file_map, nslab_capacity_set_reserve / _set_ledger, the arena's
 *    nslab_arena_stats / _print / _audit / _verify / _set_prefault beside the
 *    pool's nslab_pool_stats / _print / _audit.  Constants are NSLAB_<OBJECT>_*.
 *  - Option structs and statistics structs begin with size and version
 *    (NSLAB_OPTS_VERSION, NSLAB_STATS_VERSION).
 *
 * Errors: functions that return a pointer return NULL and set errno; functions
 * that return int return 0 (or a count) on success and a negative errno value
 * on failure, and also set errno.  The errno values each function can set are
 * listed with it.  The library never prints or aborts unless asked to (the
 * printers below, NUMASLAB_STATS, or a debug build's asserts).
 *
 * Thread safety: every function may be called from any thread, unless its
 * comment says otherwise.
 *
 * Signals: no function of this header, and no malloc-family call of the
 * malloc replacement, is async-signal-safe.  The thread caches are plain
 * per-thread lists (a pop is "take the head, store its successor, count"),
 * so a handler that allocates or frees while its thread was interrupted in
 * the middle of one corrupts them (two callers get the same block); the
 * slow paths take non-recursive locks, which a handler that interrupted
 * their holder would wait for forever.  (The signal fences where a thread
 * caches its node only keep that record consistent for the thread's own
 * reads; they do not make the caches re-entrant.)  A handler may use the
 * library only if its thread cannot be inside the library when the signal
 * arrives (the signal blocked around every call, or delivered to a thread
 * that never calls it).
 *
 * fork: safe from any thread at any time, and from a signal handler:
 *  - the library holds none of its locks across fork (its prepare handler
 *    only notes whether the process is multi-threaded), so fork cannot
 *    deadlock against threads inside the library or inside stdio (glibc
 *    takes stdio's locks after the prepare handlers run);
 *  - a single-threaded process's child inherits the library as it was
 *    (a fork from a signal handler that interrupted the library: the
 *    child may go on from where the handler returns, as glibc's malloc);
 *  - the child of a multi-threaded process re-initialises every lock of
 *    the library (allocator, pools, topology, initialisation); data a lock
 *    held at fork time protected is repaired or abandoned (a bounded leak
 *    in the child: the affected size class's slabs, cached large blocks,
 *    a buffer in flight), the caches of the threads that do not exist in
 *    the child go back to their arenas and pools, and an initialisation
 *    another thread had begun is redone.  Buffers and blocks those threads
 *    held stay allocated in the child.  (POSIX allows such a child only
 *    async-signal-safe calls until it execs; the library makes malloc and
 *    its own API usable there anyway, except after a fork from a signal
 *    handler that interrupted the library on the forking thread.)
 */
#ifndef NUMASLAB_H
#define NUMASLAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NUMASLAB_VERSION_MAJOR 0
#define NUMASLAB_VERSION_MINOR 1
#define NUMASLAB_VERSION_PATCH 0

#if defined(NUMASLAB_BUILD)
#define NSLAB_API __attribute__((visibility("default")))
#else
#define NSLAB_API
#endif

/* ------------------------------------------------------------------------ */
/* Nodes and node sets                                                        */
/* ------------------------------------------------------------------------ */

/* The calling thread's local node: the node of the CPU it runs on, or, for a
 * memoryless node, the nearest node with memory by distance. */
#define NSLAB_NODE_LOCAL (-1)

/* Largest node count a node set can hold (the kernel's MAX_NUMNODES limit for
 * NODES_SHIFT=10).  Kernel calls are passed only the possible nodes' bits. */
#define NSLAB_MAX_NODES 1024

/* A set of node ids, a plain value type (128 bytes).  Zero-initialise it, or
 * use nslab_nodeset_zero().  Bit n stands for node n. */
typedef struct nslab_nodeset {
    uint64_t bits[NSLAB_MAX_NODES / 64];
} nslab_nodeset_t;

static inline void nslab_nodeset_zero(nslab_nodeset_t *s)
{
    for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
        s->bits[i] = 0;
}
static inline void nslab_nodeset_add(nslab_nodeset_t *s, int node)
{
    if (node >= 0 && node < NSLAB_MAX_NODES)
        s->bits[node / 64] |= UINT64_C(1) << (node % 64);
}
static inline void nslab_nodeset_del(nslab_nodeset_t *s, int node)
{
    if (node >= 0 && node < NSLAB_MAX_NODES)
        s->bits[node / 64] &= ~(UINT64_C(1) << (node % 64));
}
static inline int nslab_nodeset_has(const nslab_nodeset_t *s, int node)
{
    return node >= 0 && node < NSLAB_MAX_NODES &&
           ((s->bits[node / 64] >> (node % 64)) & 1);
}
static inline int nslab_nodeset_count(const nslab_nodeset_t *s)
{
    int n = 0;
    for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
        n += __builtin_popcountll(s->bits[i]);
    return n;
}
/* The smallest node in s that is >= from, or -1.  Iterate with
 * for (n = nslab_nodeset_next(s, 0); n >= 0; n = nslab_nodeset_next(s, n + 1)) */
static inline int nslab_nodeset_next(const nslab_nodeset_t *s, int from)
{
    if (from < 0)
        from = 0;
    for (int i = from / 64; i < NSLAB_MAX_NODES / 64; i++) {
        uint64_t w = s->bits[i];
        if (i == from / 64)
            w &= ~UINT64_C(0) << (from % 64);
        if (w)
            return i * 64 + __builtin_ctzll(w);
    }
    return -1;
}
static inline nslab_nodeset_t nslab_nodeset_of(int node)
{
    nslab_nodeset_t s;
    nslab_nodeset_zero(&s);
    nslab_nodeset_add(&s, node);
    return s;
}

/* Parse "all", "0", "0-3", "0,2-3", ... into *out ("all" = the allowed
 * nodes with memory).  No blanks inside; one trailing newline is accepted.
 * Does not allocate, and does not check the nodes against the machine.
 * Returns 0, or -EINVAL (syntax, empty text, reversed range, a node >=
 * NSLAB_MAX_NODES, NULL argument). */
NSLAB_API int nslab_nodeset_parse(const char *text, nslab_nodeset_t *out);

/* Format s as "0-3,5" into buf (always NUL-terminated when len > 0; the
 * empty set is "").  Returns the length it needed (like snprintf), or
 * -EINVAL for NULL s, or NULL buf with len > 0. */
NSLAB_API int nslab_nodeset_format(const nslab_nodeset_t *s, char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Topology                                                                   */
/* ------------------------------------------------------------------------ */

/* The library discovers the topology on first use (or at nslab_init()),
 * from sysfs and the process's cpuset, without calling malloc.  The answers
 * below reflect that snapshot; nslab_topology_refresh() takes a new one. */

/* Explicit initialisation.  Optional: every entry point initialises lazily.
 * Returns 0, or -ENOSYS (kernel without NUMA support / no sysfs), -EIO. */
NSLAB_API int nslab_init(void);

/* Re-read the topology (hotplug, cpuset change) and bring what the library
 * placed in line with it.  Safe while other threads allocate: they see the
 * old snapshot or the new one, never a mix.  The library also notices a
 * change of the cpuset's allowed memory nodes by itself on its slow paths
 * (a get_mempolicy call every 64 cache refills of a thread and before
 * every chunk, region or pool mapping; the nodes online and with memory
 * every 16th such check), so this call only makes the notice immediate.
 * A request that names a node the snapshot refuses with ENODEV or EXDEV
 * (numa_malloc_on and the other placing calls, nslab_pool_create, a policy
 * checked for a region, a range or a file) first looks at the layout again
 * (one get_mempolicy call, two sysfs reads; at most once a millisecond in
 * the process, so polling for a node that never comes stays cheap): a node
 * that gained memory (hot-added, a CXL expander onlined) or joined the
 * cpuset is served at the first request for it, and from then on has the
 * promises of a node present at start (its CPUs' local node, the
 * distance order and the allowed nodes are those of the new snapshot).
 * Pool sets keep the pools they were made with (a node that gains memory
 * later is served by the nearest of them; a set made after has its pool).
 * After a change (see nslab_arena_verify for the mechanism): arena chunks
 * whose pages the kernel moved are migrated back where their node is still
 * allowed, else retired (no block is handed out from them again; their
 * live blocks report the node they are on; they are unmapped when empty);
 * every thread cache is flushed before its thread allocates again; a node
 * no longer allowed gives EXDEV; nslab_node_of of a region, a large block
 * or a pool buffer made before the change names the node its page is on;
 * a pool moves itself back to its node if still allowed, else follows its
 * pages (nslab_pool_node says where).
 * Returns 0, or -ENOSYS, -EIO (as nslab_init()), -ENOMEM (no memory for a
 * new snapshot); on error the old snapshot stays in use. */
NSLAB_API int nslab_topology_refresh(void);

/* Number of possible node ids (highest possible node + 1).  Node masks and
 * per-node arrays are sized from this.  Never fails once initialised;
 * otherwise returns (and sets errno to) nslab_init()'s error: -ENOSYS
 * (kernel without NUMA support / no sysfs) or -EIO. */
NSLAB_API int nslab_node_count(void);

/* Which set nslab_nodes() returns. */
typedef enum nslab_nodes_which {
    NSLAB_NODES_POSSIBLE = 0, /* /sys/devices/system/node/possible */
    NSLAB_NODES_ONLINE,       /* online */
    NSLAB_NODES_MEMORY,       /* online nodes with memory */
    NSLAB_NODES_CPU,          /* online nodes with CPUs */
    NSLAB_NODES_ALLOWED,      /* the cpuset's mems_allowed, with memory,
                                 not drained: where the library may
                                 place memory ("all", the default sets) */
    NSLAB_NODES_MEMORYLESS,   /* CPUs and no memory */
    NSLAB_NODES_MEMORY_ONLY,  /* memory and no CPUs (CXL-like) */
    NSLAB_NODES_DRAINED,      /* drained by nslab_node_drain */
} nslab_nodes_which_t;

/* Fill *out with the chosen set.  Returns its node count, or -EINVAL for an
 * unknown `which` or NULL out. */
NSLAB_API int nslab_nodes(nslab_nodes_which_t which, nslab_nodeset_t *out);

/* Facts about one node. */
typedef struct nslab_node_info {
    int node;
    int online;         /* 1 if online */
    int has_memory;     /* 1 if the node has memory */
    int has_cpus;       /* 1 if the node has CPUs */
    int allowed;        /* 1 if in the cpuset's mems_allowed */
    int ncpus;          /* number of CPUs */
    int local_node;     /* where "local" allocations of this node's CPUs go:
                           itself, or for a memoryless node the nearest node
                           with memory by distance; -1 if none */
    uint64_t mem_total; /* bytes (MemTotal of the node's meminfo) */
    uint64_t mem_free;  /* bytes (MemFree), read at the call */
} nslab_node_info_t;

/* Fill *out for `node`.  mem_free is read fresh from sysfs.
 * Returns 0, or -EINVAL (node < 0, >= nslab_node_count(), NULL out),
 * -ENODEV (possible but not online; *out still describes it). */
NSLAB_API int nslab_node_info(int node, nslab_node_info_t *out);

/* The node of a CPU, or -EINVAL for a CPU that does not exist. */
NSLAB_API int nslab_node_of_cpu(int cpu);

/* The CPUs of `node`, written to cpus[0 .. max-1] in ascending order.
 * Returns the node's CPU count (may exceed max), or -EINVAL. */
NSLAB_API int nslab_node_cpus(int node, int *cpus, size_t max);

/* The SLIT distance from node a to node b (10 = local), or -EINVAL (out of
 * range, or a node that is not online: no distance is known). */
NSLAB_API int nslab_node_distance(int a, int b);

/* The node of the CPU the calling thread runs on.  Cheap: read from rseq's
 * cpu id where the kernel and libc provide it (exact at the time of the
 * read; about 1 ns a call), else from getcpu() cached per thread and
 * refreshed every 64 calls, so it can lag a migration by up to 63 calls of
 * the thread.  Never fails. */
NSLAB_API int nslab_current_node(void);

/* The calling thread's local node for allocation: nslab_current_node(), or
 * for a memoryless node its nearest node with memory by distance.  Never a
 * memory-only node (they have no CPUs, so no thread is local to them).
 * Returns -ENOMEM only if no node has memory. */
NSLAB_API int nslab_local_node(void);

/* Print the topology like `numactl --hardware` (nodes, cpus, sizes, free,
 * distances) plus each node's class (normal, memoryless -> local node,
 * memory-only) and the cpuset.  Returns 0, -EINVAL (out NULL: every printer
 * of this header refuses a NULL stream; the audits take NULL as "do not
 * report"), or -EIO (a write failed). */
NSLAB_API int nslab_topology_print(FILE *out);

/* ------------------------------------------------------------------------ */
/* Policies and regions: the placement layer                                  */
/* ------------------------------------------------------------------------ */

typedef enum nslab_policy_mode {
    NSLAB_POLICY_LOCAL = 0,          /* the touching CPU's node (MPOL_LOCAL) */
    NSLAB_POLICY_BIND,               /* strict: only `nodes` (MPOL_BIND) */
    NSLAB_POLICY_PREFERRED,          /* `node` first, then fall back */
    NSLAB_POLICY_PREFERRED_MANY,     /* `nodes` first, then fall back (5.15+) */
    NSLAB_POLICY_INTERLEAVE,         /* round robin over `nodes`, page by page */
    NSLAB_POLICY_WEIGHTED_INTERLEAVE, /* by `weights` over `nodes` (6.9+, or
                                        emulated by sub-ranges) */
    NSLAB_POLICY_DEFAULT             /* no binding: the memory follows the
                                        policy of the thread that faults it
                                        (what set_mempolicy / `numactl -m`
                                        gave it), no mbind(2) of the range */
} nslab_policy_mode_t;

/* Mode flags (the kernel's MPOL_F_STATIC_NODES / MPOL_F_RELATIVE_NODES).
 * With RELATIVE_NODES the node ids are indexes into the cpuset's allowed
 * nodes with memory (folded modulo their count, as the kernel does): they
 * are range-checked, and the nodes they map to are the ones used for the
 * capacity check and the report's enforcement.  Not allowed with LOCAL. */
#define NSLAB_POLICY_STATIC_NODES   0x1u
#define NSLAB_POLICY_RELATIVE_NODES 0x2u
/* MPOL_F_NUMA_BALANCING (kernel 5.12+): with BIND only (EINVAL with any
 * other mode), lets NUMA balancing migrate pages among the bound nodes
 * towards the CPUs that use them.  Where the kernel lacks it: EOPNOTSUPP
 * (probed once with a scratch mbind). */
#define NSLAB_POLICY_NUMA_BALANCING 0x4u

typedef struct nslab_policy {
    nslab_policy_mode_t mode;
    unsigned flags;                /* NSLAB_POLICY_*_NODES (at most one of
                                      the two), NSLAB_POLICY_NUMA_BALANCING */
    int node;                      /* PREFERRED: the node (or NSLAB_NODE_LOCAL);
                                      LOCAL: NSLAB_NODE_LOCAL = the touching
                                      CPU's node (MPOL_LOCAL), or a node with
                                      CPUs whose local memory is meant (a
                                      memory-only node is EINVAL).  Note a
                                      zero-initialised policy is LOCAL with
                                      node 0: use nslab_policy_local(). */
    nslab_nodeset_t nodes;         /* BIND, PREFERRED_MANY, (WEIGHTED_)INTERLEAVE */
    const unsigned char *weights;  /* WEIGHTED_INTERLEAVE: one weight (1..255)
                                      per node of `nodes`, ascending node order */
    size_t nweights;               /* must equal nslab_nodeset_count(&nodes) */
} nslab_policy_t;

/* What a NULL policy means, wherever a function takes one (regions, the
 * caller's memory, thread policies): NSLAB_POLICY_DEFAULT, "no binding".
 * Memory then goes where the faulting thread's own policy sends it, so a
 * program run under `numactl --membind=2` gets node 2, and under BIND the
 * capacity check uses the thread's bound nodes.  (Before 0.2 a NULL
 * policy meant LOCAL, which overrode `numactl -m`; ask for
 * nslab_policy_local() to get that.)  A caller holding "a node or none"
 * passes both through one path with nslab_policy_bind_or_default(). */

/* Convenience constructors.  They never fail: a bad argument gives a
 * policy that the function using it refuses with EINVAL. */
NSLAB_API nslab_policy_t nslab_policy_default(void);
NSLAB_API nslab_policy_t nslab_policy_local(void);
NSLAB_API nslab_policy_t nslab_policy_bind(int node);
/* BIND to node `node`, or DEFAULT (no binding) when node < 0 - the
 * Option<node> of a VMM's guest-memory configuration. */
NSLAB_API nslab_policy_t nslab_policy_bind_or_default(int node);
NSLAB_API nslab_policy_t nslab_policy_preferred(int node);
NSLAB_API nslab_policy_t nslab_policy_interleave(const nslab_nodeset_t *nodes);
/* BIND to a node set (NULL = the cpuset's nodes with memory). */
NSLAB_API nslab_policy_t nslab_policy_bind_set(const nslab_nodeset_t *nodes);
/* PREFERRED_MANY over a node set (NULL = the cpuset's nodes with memory). */
NSLAB_API nslab_policy_t nslab_policy_preferred_many(const nslab_nodeset_t *nodes);
/* WEIGHTED_INTERLEAVE over `nodes` with weights[i] for the i-th node of the
 * set in ascending order; `weights` is pointed to, not copied (it must
 * outlive the policy's use; regions copy it). */
NSLAB_API nslab_policy_t nslab_policy_weighted(const nslab_nodeset_t *nodes,
                                               const unsigned char *weights,
                                               size_t nweights);

/* The real nodes a policy places memory on, resolved against the topology
 * now: BIND / PREFERRED_MANY / (WEIGHTED_)INTERLEAVE their set (relative
 * ids mapped onto the cpuset), PREFERRED its node, LOCAL the local node
 * meant (the calling thread's, or node's), DEFAULT the nodes of the
 * calling thread's own policy (its local node when that is default or
 * local).  Returns the number of nodes written to *out, or -EINVAL,
 * -ENODEV, -EXDEV, -EOPNOTSUPP as nslab_region_create checks the policy
 * (NULL pol = DEFAULT; NULL out: -EINVAL). */
NSLAB_API int nslab_policy_node_set(const nslab_policy_t *pol, nslab_nodeset_t *out);

/* Check a policy for a worker pinned to cpus[0 .. ncpus-1] (or, with cpus
 * NULL and ncpus 0, the CPUs the calling thread may run on now): the
 * policy is checked as nslab_region_create checks it, every CPU must exist
 * and be in the cpuset, and each CPU whose local memory node (itself, or
 * the nearest node with memory for a memoryless node) is not among the
 * policy's nodes (nslab_policy_node_set) is counted.  LOCAL (with
 * NSLAB_NODE_LOCAL), and DEFAULT under a default or local thread policy,
 * follow the faulting CPU: only a CPU without any local memory counts.
 * Returns that count (0: the memory is local to every CPU), or
 * -EINVAL (bad policy; a CPU that does not exist; cpus NULL with ncpus >
 * 0), -EXDEV (a CPU outside the cpuset; a policy node outside it),
 * -ENODEV, -EOPNOTSUPP (as for the policy). */
NSLAB_API int nslab_policy_check_cpus(const nslab_policy_t *pol, const int *cpus,
                                      size_t ncpus);

/* The calling thread's memory policy (set_mempolicy(2)): every page this
 * thread faults in from then on in memory without a policy of its own
 * (its stack, heap from other allocators, DEFAULT regions) follows it,
 * and threads it creates, children it forks and programs it execs inherit
 * it - the process policy numactl sets before exec, or a worker's after
 * fork, when called before those start.  pol NULL or DEFAULT resets to
 * the system default.  An emulated weighted interleave (weights other
 * than the system's, or kernel < 6.9) cannot be a thread policy.
 * Returns 0, or -EINVAL, -ENODEV, -EXDEV as nslab_region_create checks
 * the policy, -EOPNOTSUPP (a mode the kernel lacks; a weighted interleave
 * that would need emulation), or set_mempolicy's errno. */
NSLAB_API int nslab_thread_set_policy(const nslab_policy_t *pol);

/* The process's memory policy: nslab_thread_set_policy while the process
 * has one thread only - before exec (what numactl does), or in a child
 * right after fork (what a test harness does to a worker) - so that every
 * thread and program it starts later inherits it.  Returns 0, -EBUSY (the
 * process has other threads, which would keep their own policy: nothing
 * changed), the errors of nslab_thread_set_policy, or the errno of reading
 * /proc/self/status. */
NSLAB_API int nslab_process_set_policy(const nslab_policy_t *pol);

/* Read the calling thread's policy (get_mempolicy(2)) into *out: mode,
 * flags, nodes (PREFERRED: `node`); the system default reads as DEFAULT.
 * A kernel weighted interleave reads with weights NULL (the kernel uses
 * the system's weights).  Returns 0, -EINVAL (NULL out), -EPROTO (a mode
 * newer than this library), or get_mempolicy's errno. */
NSLAB_API int nslab_thread_get_policy(nslab_policy_t *out);

/* Page locality of [addr, addr + len) (ktstr's min_page_locality): the
 * fraction of its present pages that lie on a node of `want`, from
 * move_pages(2), written to *fraction if not NULL.  Pages not faulted in
 * do not count.  Returns 1 when the fraction is >= min_fraction, 0 when it
 * is below, or -EINVAL (NULL addr or want, len 0, a range that wraps,
 * min_fraction outside [0, 1]), -ENOENT (no page of the range is present),
 * -EPERM, -ENOSYS from move_pages. */
NSLAB_API int nslab_range_locality(const void *addr, size_t len, const nslab_nodeset_t *want,
                             double min_fraction, double *fraction);

typedef enum nslab_prefault {
    NSLAB_PREFAULT_DEFAULT = 0, /* POPULATE for regions and chunks */
    NSLAB_PREFAULT_NONE,     /* first touch decides (under the bound policy) */
    NSLAB_PREFAULT_TOUCH,    /* write one byte per (huge) page */
    NSLAB_PREFAULT_POPULATE  /* MADV_POPULATE_WRITE, or touch where missing */
} nslab_prefault_t;

typedef enum nslab_pages {
    NSLAB_PAGES_DEFAULT = 0, /* the system's THP setting */
    NSLAB_PAGES_THP,         /* MADV_HUGEPAGE */
    NSLAB_PAGES_NO_THP,      /* MADV_NOHUGEPAGE: exact 4 KiB placement */
    NSLAB_PAGES_HUGETLB      /* MAP_HUGETLB (default size); ENOMEM if none
                                are reserved, or under a strict policy if
                                the nodes' free huge pages cannot hold it */
} nslab_pages_t;

/* Region flags. */
#define NSLAB_REGION_MEMFD 0x1u /* back the region by a memfd (MAP_SHARED) that
                                   another process can map: nslab_region_fd().
                                   The file holds the region's memory only,
                                   from offset 0 (the library's header is
                                   outside it); with NSLAB_PAGES_HUGETLB a
                                   hugetlb memfd */

/* A claim: capacity reserved on nodes before building (promise 6).  The
 * claimed bytes count against every capacity check of the library - in
 * this process, and in every process of the machine when the shared
 * ledger is on (nslab_capacity_set_ledger) - until they are drawn or the
 * claim is released.  Region and pool creation given a claim draw what
 * they need on each node from it first (and check / hold only the rest);
 * what they drew is theirs from then on (returned to the free memory with
 * them, not to the claim). */
typedef struct nslab_claim nslab_claim_t;

/* Claim `bytes` on `nodes`, filled in ascending node order, each node's
 * room being its free memory minus `reserve` (0 = nslab_capacity_set_reserve's
 * value) minus what is already claimed or held.  A single node:
 * nslab_nodeset_of(node).  Released by nslab_claim_release, or when the
 * process exits.  Errors (NULL, errno): EINVAL (NULL nodes, empty set,
 * bytes 0, a node out of range), ENODEV (offline, no memory, or drained:
 * nslab_node_drain), EXDEV (outside the cpuset), ENOMEM (the nodes cannot
 * hold it). */
NSLAB_API nslab_claim_t *nslab_claim_create(const nslab_nodeset_t *nodes, size_t bytes,
                                            size_t reserve);
/* Give back what is left of a claim; the handle is gone.  0, or -EINVAL
 * (NULL or not a live claim; a released handle is not reliably detected). */
NSLAB_API int nslab_claim_release(nslab_claim_t *c);
/* Bytes still claimed on `node` (node < 0: on all nodes), or 0 with errno
 * EINVAL for a bad handle. */
NSLAB_API size_t nslab_claim_left(const nslab_claim_t *c, int node);

/* Option structs (nslab_region_opts_t, nslab_pool_opts_t,
 * nslab_taskpool_opts_t) begin with `size` and `version`, as the statistics
 * structs do, so a later release can add fields without breaking a program
 * built against this header.  Start from the _INIT macro, which sets both
 * (size = sizeof the struct, version = NSLAB_OPTS_VERSION), takes the
 * fields to set as designated initializers, and leaves every other field
 * zero, i.e. at its default:
 *     nslab_pool_opts_t o = NSLAB_POOL_OPTS_INIT(.elt_size = 2048, .count = 1024);
 *     nslab_region_opts_t d = NSLAB_REGION_OPTS_INIT();   (all defaults)
 * (In C++ the fields must follow their declaration order, as C++20's
 * designated initializers require.)
 * A function taking one returns EINVAL for size < 8 (size and version not
 * set: a {0}-initialised struct), an unknown version, or a size larger than
 * this release's struct whose extra bytes are not all zero (fields this
 * release does not know, asked for); a size smaller than the struct (an
 * older header's) gets the defaults for the fields it lacks. */
#define NSLAB_OPTS_VERSION 1

/* Options for a region.  NSLAB_REGION_OPTS_INIT() = defaults (populate,
 * system THP, the library's default reserve, anonymous memory, no claim). */
typedef struct nslab_region_opts {
    uint32_t size;             /* sizeof(nslab_region_opts_t) */
    uint32_t version;          /* NSLAB_OPTS_VERSION */
    nslab_prefault_t prefault;
    nslab_pages_t pages;
    unsigned flags;            /* NSLAB_REGION_* */
    size_t reserve;            /* bytes per node kept free by the capacity
                                  check; 0 = nslab_capacity_set_reserve()'s value */
    nslab_claim_t *claim;      /* draw the capacity from this claim first
                                  (strict policies); NULL = none */
} nslab_region_opts_t;
#define NSLAB_REGION_OPTS_INIT(...)                                               \
    { .size = sizeof(nslab_region_opts_t), .version = NSLAB_OPTS_VERSION, __VA_ARGS__ }

/* An opaque region: a page-aligned mapping with a placement policy. */
typedef struct nslab_region nslab_region_t;

/* Create a region of at least `size` bytes (rounded up to the page size,
 * or the huge page size for HUGETLB) with `policy` (NULL = DEFAULT: no binding) and
 * `opts` (NULL = defaults).  Its memory starts at nslab_region_addr() and is
 * page aligned (huge-page aligned for HUGETLB).  The mapping itself is
 * huge-page aligned with a one-page header, so under THP at most the last
 * (huge page - page) bytes of the memory fall outside huge pages.
 * Under BIND, the capacity check refuses a region larger than the bound
 * nodes' free memory minus the reserve (minus what is claimed or held)
 * before committing any page.  A prefaulted region holds its size in the
 * ledger while it commits; a lazy one (NSLAB_PREFAULT_NONE) holds it for
 * its whole life (released at nslab_region_destroy), so two lazy regions
 * never both count the same free memory - conservatively: pages it has
 * touched count both in the node's free memory and in its hold.
 * Errors (NULL, errno):
 *   EINVAL  size 0; opts->claim not a live claim; bad policy (unknown
 *           mode or flag, empty node set,
 *           weights that do not match the set, weight 0, STATIC and
 *           RELATIVE together, mode flags with LOCAL or DEFAULT,
 *           NUMA_BALANCING with a mode other than BIND, a memory-only node
 *           asked as LOCAL); node < 0 (other than NSLAB_NODE_LOCAL where
 *           allowed) or >= nslab_node_count(); bad opts (unknown prefault
 *           or pages value, unknown flag)
 *   ENODEV  a node that is not online, has no memory, or is drained
 *           (nslab_node_drain; a set holding it too)
 *   EXDEV   a node outside the cpuset's allowed memory nodes (checked
 *           before the kernel is asked)
 *   ENOMEM  size too large (overflow); capacity check failed; mmap failed;
 *           populate failed; HUGETLB asked and no huge pages reserved
 *   EOPNOTSUPP  a mode the kernel lacks that cannot be emulated
 *           (PREFERRED_MANY before 5.15, NUMA_BALANCING before 5.12);
 *           THP asked where the kernel has none (or it is "never")
 * DEFAULT (and NULL) binds nothing: the pages follow the creating thread's
 * policy when prefaulted (the faulting thread's when not), the report's
 * kernel_mode is 0 (MPOL_DEFAULT), `enforced` and `nodes` describe the
 * thread's policy at creation, and a thread policy of BIND is
 * capacity-checked like a BIND region.
 * WEIGHTED_INTERLEAVE uses the kernel's mode (6.9+) only when the weights
 * asked are proportional to the system's
 * (/sys/kernel/mm/mempolicy/weighted_interleave/, which the kernel applies
 * instead of the caller's); otherwise it is emulated by binding
 * consecutive sub-ranges (granule: the THP size unless NO_THP, else pages)
 * and the report says NSLAB_ENFORCE_EMULATED.
 */
NSLAB_API nslab_region_t *nslab_region_create(size_t size,
                                              const nslab_policy_t *policy,
                                              const nslab_region_opts_t *opts);

/* Unmap a region.  Returns 0, or -EINVAL for NULL or a handle that is not a
 * live region (detected by magic; freed handles are not reliably detected). */
NSLAB_API int nslab_region_destroy(nslab_region_t *r);

/* The region's user memory (page aligned), or NULL with errno EINVAL for
 * NULL or a handle that is not a live region. */
NSLAB_API void *nslab_region_addr(const nslab_region_t *r);
/* Its size in bytes (the size asked, rounded up to the page or huge page
 * size), or 0 with errno EINVAL (as nslab_region_addr). */
NSLAB_API size_t nslab_region_size(const nslab_region_t *r);
/* The memfd of a NSLAB_REGION_MEMFD region (owned by the region: dup() it to
 * keep it), or -EINVAL. */
NSLAB_API int nslab_region_fd(const nslab_region_t *r);

/* The region whose memory `ptr` was returned as (nslab_region_addr() or a
 * numa_malloc_interleaved() result), or NULL with errno EINVAL. */
NSLAB_API nslab_region_t *nslab_region_of(const void *ptr);

/* What the kernel was asked to do and what it does. */
typedef enum nslab_enforce {
    NSLAB_ENFORCE_NONE = 0,   /* no policy (first touch) */
    NSLAB_ENFORCE_STRICT,     /* MPOL_BIND */
    NSLAB_ENFORCE_PREFERRED,  /* MPOL_PREFERRED(_MANY): may fall back */
    NSLAB_ENFORCE_INTERLEAVE, /* MPOL_INTERLEAVE / MPOL_WEIGHTED_INTERLEAVE */
    NSLAB_ENFORCE_EMULATED    /* weighted interleave emulated by binding
                                 sub-ranges (kernel < 6.9) */
} nslab_enforce_t;

typedef struct nslab_region_report {
    nslab_policy_mode_t asked; /* the policy mode asked for */
    unsigned flags;            /* the mode flags asked for */
    nslab_nodeset_t nodes;     /* the node set asked for */
    nslab_enforce_t enforced;  /* what the kernel applies */
    int kernel_mode;           /* MPOL_* mode passed to mbind, -1 if emulated */
    int thp;                   /* 1 THP asked, 0 refused, -1 system default */
    int hugetlb;               /* 1 if MAP_HUGETLB */
    nslab_prefault_t prefault; /* what was done */
    size_t size;               /* bytes of user memory */
    size_t nsubranges;         /* emulated weighted interleave: sub-ranges */
} nslab_region_report_t;

/* Describe the region.  Returns 0, or -EINVAL. */
NSLAB_API int nslab_region_report(const nslab_region_t *r,
                                  nslab_region_report_t *out);

/* A per-node page histogram from move_pages(2) (nodes = NULL). */
typedef struct nslab_placement {
    size_t pages;                     /* pages examined (base pages) */
    size_t page_size;                 /* base page size used */
    size_t not_present;               /* -ENOENT: not faulted in */
    size_t errors;                    /* other negative statuses */
    size_t on_node[NSLAB_MAX_NODES];  /* pages found on each node */
} nslab_placement_t;

/* Check where the pages of [addr, addr + len) are.  Any mapped range may be
 * given (it is rounded out to pages).  Pages not mapped (or mapping the
 * shared zero page: read, never written) count in `errors`.  Does not
 * allocate.  Returns 0, or -EINVAL (NULL, len 0, wraps), -EFAULT (no page
 * of the range is mapped), -ENOMEM, -EPERM, -ENOSYS from move_pages. */
NSLAB_API int nslab_range_placement(const void *addr, size_t len,
                              nslab_placement_t *out);

/* nslab_range_placement() over the region's user memory.  Returns 0, or
 * -EINVAL (NULL or dead r, NULL out) and nslab_range_placement's errors
 * (-ENOMEM, -EPERM, -ENOSYS from move_pages); sets errno on error. */
NSLAB_API int nslab_region_verify(const nslab_region_t *r,
                                  nslab_placement_t *out);

/* Move a region: apply the policy `to` to all of its pages, migrating the
 * pages that lie outside the new policy's nodes (mbind(2) with
 * MPOL_MF_MOVE | MPOL_MF_STRICT; an emulated weighted interleave re-binds
 * each sub-range), then check where every page is with move_pages(2) and,
 * if `after` is not NULL, fill it as nslab_region_verify() does.  The
 * address, size and contents do not change.  `to` is checked as
 * nslab_region_create() checks a policy, and under BIND (or an emulated
 * weighted interleave) the target nodes must hold the bytes of the region
 * not already on them (pages not yet touched count: they will be
 * committed there) beyond the reserve (nslab_capacity_set_reserve; a region's own
 * opts.reserve is not kept) - else ENOMEM before any page moves.  HUGETLB
 * regions are not capacity-checked (the huge page pool decides, as at
 * creation).  On success and on -EIO the region's policy and
 * nslab_region_report() are the new ones (the kernel enforces them for
 * every page faulted from now on); on any other error nothing changed.
 * The kernel moves only pages outside the new policy's nodes: moving to
 * INTERLEAVE over a set does not re-spread pages already on a node of the
 * set (*after shows the spread), and pages not yet faulted in stay so.
 * Moving again after -EIO retries the pages that did not move.
 * A numa_malloc_interleaved() region moves only to an INTERLEAVE policy
 * (nslab_realloc keeps its node set).
 * Arenas are not moved, and neither are the arena's blocks: a block's node
 * is part of its identity (a node-A block is only handed out for node A,
 * and frees go home to A's arena), so moving the pages of an arena chunk
 * would either break that promise or silently leave "node A" blocks on
 * node B.  To move small allocations, allocate on the new node and copy.
 * Threads: the caller owns the region: no concurrent nslab_region_destroy,
 * nslab_region_move, nslab_region_report or nslab_node_of on it.  Other
 * threads may keep reading and writing its memory during the move (an
 * access to a page being migrated waits for its copy).
 * A lazy region's lifetime capacity hold follows it to the new nodes
 * (released when the new policy is not strict).
 * Moving to DEFAULT only drops the region's own policy (mbind(2)
 * MPOL_DEFAULT): no page moves, pages faulted later follow the faulting
 * thread's policy; it returns 0 (or mbind's errno) and *after tells where
 * the pages are.
 * Returns 0 when every page of the region lies on the new policy's nodes
 * (each sub-range on its node for an emulated weighted interleave), or:
 *   -EIO    some pages did not move (the kernel could not migrate them -
 *           pinned, mapped by another process or a second mapping of a
 *           memfd, or a target node ran out of memory under a policy that
 *           is not strict); the new policy is in force and *after tells
 *           where the pages are
 *   (*after is written on 0 and -EIO only)
 *   -EINVAL r NULL or not a live region (or an arena block), `to` NULL,
 *           a bad policy (as nslab_region_create), an interleaved
 *           allocation moved to a mode other than INTERLEAVE
 *   -ENODEV, -EXDEV, -EOPNOTSUPP  as nslab_region_create, for `to`
 *   -ENOMEM the capacity check failed (nothing moved), or the kernel had
 *           no memory to change the policy
 *   -EPERM, -ENOSYS  from move_pages(2) (the page check could not run)
 * and sets errno. */
NSLAB_API int nslab_region_move(nslab_region_t *r, const nslab_policy_t *to,
                                nslab_placement_t *after);

/* ---- the caller's memory ------------------------------------------------ */

/* Flags of nslab_file_map, nslab_file_unmap and nslab_range_bind. */
#define NSLAB_MAP_PRIVATE  0x1u  /* MAP_PRIVATE (default MAP_SHARED) */
#define NSLAB_MAP_WRITE    0x2u  /* writable (default read-only) */
#define NSLAB_MAP_FIXED    0x4u  /* at *addr, inside a range the caller
                                    reserved (e.g. mmap PROT_NONE): that
                                    part of it is replaced (MAP_FIXED) */
#define NSLAB_MAP_MOVE     0x8u  /* migrate pages already present elsewhere
                                    (mbind MPOL_MF_MOVE | MPOL_MF_STRICT;
                                    pages another process also maps stay) */
#define NSLAB_MAP_PREFAULT 0x10u /* fault every page in now, under the
                                    policy (writes if writable, else reads);
                                    default: pages come at first touch */

/* Map `len` bytes of the caller's file or memfd `fd` from file offset
 * `offset` and bind them to `policy` (NULL = DEFAULT) - OpenVMM's
 * map_file_numa(offset, len, file, file_offset, writable, node).  The
 * mapping holds the caller's bytes only (the library writes nothing into
 * it and keeps no state about it); *addr gets its address: one the kernel
 * picks, or with NSLAB_MAP_FIXED the address passed in *addr, which must
 * lie inside a range the caller has mapped (a reservation).
 * For memfd / tmpfs / hugetlbfs the policy is the file's shared policy for
 * that range (every process mapping it allocates there); for other files
 * it governs the private copies and the pages this mapping faults.
 * Capacity: under BIND (or an emulated weighted interleave) the bound
 * nodes must hold the bytes not already on them beyond the reserve - held
 * in the ledger while NSLAB_MAP_PREFAULT / NSLAB_MAP_MOVE commit them,
 * only checked when the pages come lazily; for a hugetlbfs fd (huge page
 * aligned offset and len) the nodes' free huge pages must hold all of it.
 * Returns 0, or
 *   -EIO    mapped and bound (*addr is set: unmap it or keep it), but some
 *           present pages are not on the strict policy's nodes (already in
 *           the file elsewhere without NSLAB_MAP_MOVE, or not movable)
 *   -EINVAL NULL addr (or *addr NULL with FIXED), len 0, fd < 0, unknown
 *           flags, offset / len / *addr not page (huge page) aligned, a
 *           range that wraps; a bad policy (as nslab_region_create)
 *   -EBADF  fd is not open
 *   -ENXIO  offset + len lies past the end of the file
 *   -EFAULT FIXED and [*addr, *addr + len) is not all mapped
 *   -EACCES the fd's open mode does not allow the mapping asked
 *   -ENODEV, -EXDEV, -EOPNOTSUPP  as nslab_region_create, for the policy
 *   -ENOMEM the capacity check failed, or the kernel had no memory (or
 *           huge pages) for the mapping or the prefault
 * and sets errno.  On an error other than -EIO nothing stays mapped; a
 * FIXED range is left an inaccessible reservation (PROT_NONE). */
NSLAB_API int nslab_file_map(void **addr, size_t len, int fd, uint64_t offset,
                             unsigned flags, const nslab_policy_t *policy);

/* Unmap what nslab_file_map mapped (or any page-aligned range): with
 * NSLAB_MAP_FIXED the range becomes an inaccessible reservation again, so
 * the caller's larger reservation stays whole.  Returns 0, or -EINVAL
 * (NULL, unaligned, len 0, unknown flags, wraps), munmap's / mmap's errno. */
NSLAB_API int nslab_file_unmap(void *addr, size_t len, unsigned flags);

/* Bind [addr, addr + len), a range the caller mapped (anonymous or file,
 * page aligned), to `policy` (NULL = DEFAULT: drop the range's own policy)
 * where it is: pages faulted from now on follow it; with NSLAB_MAP_MOVE
 * the pages already present elsewhere are migrated; with
 * NSLAB_MAP_PREFAULT every page is written now (the range must be
 * writable).  Capacity as nslab_file_map.  If `after` is not NULL it gets
 * the histogram of the range's pages.  Returns 0, or
 *   -EIO    bound, but some present pages are not on the strict policy's
 *           nodes (without MOVE, or not movable); *after tells where
 *   -EINVAL NULL addr, len 0, addr or len not page aligned, wraps, unknown
 *           flags; a bad policy
 *   -EFAULT some of the range is not mapped
 *   -ENODEV, -EXDEV, -EOPNOTSUPP, -ENOMEM  as nslab_file_map
 * and sets errno. */
NSLAB_API int nslab_range_bind(void *addr, size_t len, const nslab_policy_t *policy,
                               unsigned flags, nslab_placement_t *after);

/* The machine-wide ledger: with it on, every capacity check of this
 * process also counts what every other process using numaslab holds or
 * claims on the node (a claim, a lazy region, a pool's reservation, a
 * strict region while it commits), and takes its own hold under one
 * machine-wide lock, so processes building at the same time (VMs booted
 * in parallel) cannot both count the same free memory: the one that does
 * not fit gets ENOMEM at creation.  The ledger is a small file, `path`
 * ("" = /dev/shm/numaslab-ledger), locked with flock(2) (released by the
 * kernel when a process dies) and read-write for everyone (mode 0666);
 * entries of processes that are gone are reclaimed.  The environment
 * variable NUMASLAB_LEDGER=1 (the default path) or =/some/file turns it
 * on at the first capacity check.  NULL turns it off (this process's
 * entries are withdrawn).  Only processes that use the same file see
 * each other.  Each check then costs a lock and a scan of the file
 * (4096 entries, 96 KiB).
 * Returns 0, or -EINVAL (a relative path, or one of 256 bytes or more),
 * or the errno of opening or mapping the file (-EACCES, -ENOENT, ...);
 * on an error the ledger is off. */
NSLAB_API int nslab_capacity_set_ledger(const char *path);

/* The free memory each node keeps back in capacity checks (bytes; default
 * 64 MiB, or NUMASLAB_RESERVE_MB from the environment).  Returns the old value. */
NSLAB_API size_t nslab_capacity_set_reserve(size_t bytes);

/* Spread one allocation over `nodes` (NULL = all allowed nodes with memory),
 * page by page (MPOL_INTERLEAVE, populated).  Free with nslab_free().  With
 * transparent huge pages the kernel interleaves 2 MiB at a time; ask for
 * exact 4 KiB interleave with nslab_region_create(NSLAB_PAGES_NO_THP).
 * Errors (NULL, errno): as nslab_region_create(). */
NSLAB_API void *numa_malloc_interleaved(size_t size, const nslab_nodeset_t *nodes);

/* ------------------------------------------------------------------------ */
/* Per-node arenas                                                            */
/* ------------------------------------------------------------------------ */

/* How much of the arenas' memory is populated (committed) before a block
 * is handed out.  Placement never depends on it: every chunk and every large
 * block is bound to its node with mbind(2) when it is mapped, before any
 * block of it exists, so each page lands on the node whenever it is first
 * touched.  What it decides is when the memory is committed, and so what RSS
 * costs and what a strict policy can promise:
 *   NONE   nothing ahead: every page faults in at its first touch.  A
 *          chunk's capacity is still checked (and held) when it is mapped,
 *          but a slab's pages are counted committed once carved, and a
 *          large block's capacity is checked at allocation only: a node
 *          that runs out later (another process took the memory) kills by
 *          OOM, not ENOMEM.
 *   SLABS  a slab's pages are populated as its blocks are first handed
 *          out, 16 KiB at a time (never a whole 4 MiB chunk, nor a whole
 *          64 - 512 KiB slab for a program that uses three blocks of it):
 *          no block is handed out from a page not yet populated.  A slab's
 *          pages leave the capacity ledger when it is carved; the rest of a
 *          chunk stays reserved there until used.  Large blocks are bound,
 *          not populated (as NONE).
 *   ALL    SLABS, and every large block is populated before it is returned
 *          (its capacity used at once: ENOMEM at allocation, never later).
 *   DEFAULT  each entry point's own default:
 *          - numa_malloc_on, numa_malloc_local, numa_calloc_on,
 *            numa_aligned_alloc_on, nslab_realloc: ALL.  A caller of the
 *            NUMA API asks for memory on a node in order to use it there,
 *            usually all of it: populating up front keeps the capacity
 *            promise (ENOMEM now, not an OOM kill later) and takes the page
 *            faults out of the caller's first pass.
 *          - the malloc replacement (libnumaslab-malloc): SLABS.  A drop-in
 *            malloc serves programs that allocate large arrays and use part
 *            of them; populating them would cost RSS glibc does not (an
 *            n-body code: 8.7x).  Placement stays true by the binding.
 * The setting is process-wide; the environment variable NUMASLAB_PREFAULT
 * (none | slabs | all; unset or anything else: default) sets it, read at
 * the first allocation that finds the environment (so also without the
 * malloc replacement).  Statistics tell committed bytes from the capacity
 * still reserved for chunk pages not yet committed (nslab_arena_stats_t). */
typedef enum nslab_arena_prefault {
    NSLAB_ARENA_PREFAULT_DEFAULT = 0,
    NSLAB_ARENA_PREFAULT_NONE,
    NSLAB_ARENA_PREFAULT_SLABS,
    NSLAB_ARENA_PREFAULT_ALL
} nslab_arena_prefault_t;

/* Set the arenas' prefault setting (above) for allocations from now on;
 * memory already handed out is not touched.  Returns the previous setting
 * (>= 0), or -EINVAL (and errno) for a value outside the enum. */
NSLAB_API int nslab_arena_set_prefault(nslab_arena_prefault_t p);

/* The setting in force (NUMASLAB_PREFAULT's, if it was read and none was
 * set since).  Never fails. */
NSLAB_API nslab_arena_prefault_t nslab_arena_prefault(void);

/* Allocate `size` bytes on `node` under a strict policy: the memory lies on
 * `node` (its chunk, or for a large block its own mapping, was bound to the
 * node before any block was handed out; see nslab_arena_prefault_t for what
 * is populated when).  node may be NSLAB_NODE_LOCAL: then the calling thread's local node,
 * falling back to the nearest node with memory if it is full (counted as a
 * fallback).  Alignment: at least 16, and the size's natural alignment up to
 * 4 KiB for power-of-two sizes.
 * Errors (NULL, errno):
 *   EINVAL  size 0; node < 0 other than NSLAB_NODE_LOCAL; node >= count
 *   ENODEV  node not online or without memory (memoryless / memory-less),
 *           or drained (nslab_node_drain)
 *   EXDEV   node outside the cpuset's allowed memory nodes
 *   ENOMEM  size too large; the node cannot hold a new chunk (or, for a
 *           size above 64 KiB, the block)
 */
NSLAB_API void *numa_malloc_on(int node, size_t size);

/* numa_malloc_on(NSLAB_NODE_LOCAL, size). */
NSLAB_API void *numa_malloc_local(size_t size);

/* Zeroed n * size bytes on node.  Errors: as numa_malloc_on, and ENOMEM for
 * n * size overflow. */
NSLAB_API void *numa_calloc_on(int node, size_t n, size_t size);

/* `size` bytes aligned to `align`, any power of two (above NSLAB_MAX_ALIGN
 * a region of its own whose data starts on the next `align` boundary:
 * align + size bytes of address space, size + one page of memory, placed
 * like any large block).  Errors: as numa_malloc_on; EINVAL for align 0 or
 * not a power of two; ENOMEM also when the address space cannot hold
 * size + align bytes (e.g. align 2^47 and up on x86-64).
 * NSLAB_MAX_ALIGN: the largest alignment of a pool's buffers. */
#define NSLAB_MAX_ALIGN ((size_t)2 << 20)
NSLAB_API void *numa_aligned_alloc_on(int node, size_t align, size_t size);

/* Resize a block of the library's (any kind); the new block stays on the old
 * block's node (a region of numa_malloc_interleaved keeps its node set).
 * ptr NULL = numa_malloc_local(size).  size 0 with a non-NULL ptr: frees it
 * and returns NULL with errno unchanged.  On failure the old block is
 * untouched.  Errors: EINVAL (ptr not the library's, not a block start - a
 * pointer into a block -, or a freed block; nothing is touched), ENOMEM. */
NSLAB_API void *nslab_realloc(void *ptr, size_t size);

/* Free any pointer the library returned: numa_malloc_*, nslab_*alloc*,
 * numa_malloc_interleaved, and pool buffers (passed on to
 * nslab_pool_put(NULL, ptr), whose errors it returns).  A user region's
 * address is not freed here (-EINVAL: use nslab_region_destroy).  NULL is a
 * no-op.  Any thread may free.
 * Returns 0, or -EINVAL (errno EINVAL; nothing is touched) for a pointer the
 * library does not own, a pointer into the middle of a block (or a chunk's
 * header or free page), and a block that is free already (a double free:
 * detected wherever the block waits - the thread's cache, another thread's,
 * its slab - as long as it was not handed out again; a write into the
 * freed block's second word, a use after free, can hide it).  The malloc
 * replacement's free() aborts with a message on the same pointers (foreign
 * ones excepted: ignored). */
NSLAB_API int nslab_free(void *ptr);

/* Usable bytes of a block (>= the size asked), or 0 with errno EINVAL
 * (not the library's, not a block start, a freed small block, a user
 * region, or a pool buffer). */
NSLAB_API size_t nslab_usable_size(const void *ptr);

/* The node a block was allocated for (for an interleaved region: the first
 * node of its set; for a pool buffer: its pool's node), or -EINVAL for a
 * pointer the library does not own. */
NSLAB_API int nslab_node_of(const void *ptr);

/* Check, and on request repair, the placement of `node`'s arena: every page
 * of its chunks is looked up with move_pages(2) (nodes = NULL).
 * flags: 0 = only check; NSLAB_VERIFY_REPAIR = pages found off the node
 * are migrated back to it (move_pages, MPOL_MF_MOVE) while the node is
 * allowed; a chunk with pages that stay off it (the node left the cpuset,
 * is full, or the pages are pinned) is retired: no block is handed out
 * from it again, nslab_node_of of its live blocks names the node each
 * block's page is on, frees of them go back to it, and it is unmapped when
 * its last block is freed.  The library runs the same repair by itself
 * after a layout change (nslab_topology_refresh).  Counted per node in
 * nslab_arena_stats_t: drift_pages, drift_repaired, chunks_retired.
 * out (may be NULL): the chunks' pages after any repair (pages not present
 * are decommitted free pages).  Takes the node's arena locks for the pass
 * (allocations on the node wait; about a millisecond per 4 MiB chunk).
 * Returns the number of pages found off the node before any repair (0: all
 * in place; a node without an arena has no pages), or -EINVAL (node < 0
 * or >= nslab_node_count(), unknown flags), -EPERM, -ENOSYS, -ENOMEM from
 * move_pages(2); sets errno on error. */
#define NSLAB_VERIFY_REPAIR 0x1u
NSLAB_API int nslab_arena_verify(int node, unsigned flags, nslab_placement_t *out);

/* ---- draining a node ------------------------------------------------- */

/* What nslab_node_drain did.  Set `size` and `version` as for
 * nslab_arena_stats_t (fields past `size` are not written). */
typedef struct nslab_drain_report {
    uint32_t size;
    uint32_t version;
    int node;                 /* the node drained */
    int error;                /* errno of the first region or pool that did
                                 not move off the node (EIO: moved but some
                                 pages stayed; ENOMEM: the targets could not
                                 hold it, nothing moved; EOPNOTSUPP: a
                                 RELATIVE_NODES policy folding onto the
                                 node), 0 if none */
    nslab_nodeset_t to;       /* the target nodes used */
    uint64_t regions_moved;   /* user regions and interleaved allocations
                                 that had pages on the node or a policy
                                 naming it, and have neither now */
    uint64_t regions_failed;  /* of those, the ones left with pages there */
    uint64_t pools_moved;     /* pools (pool sets' too) moved off the node */
    uint64_t pools_failed;
    uint64_t pages_moved;     /* base pages of regions and pools moved off */
    uint64_t bytes_moved;
    uint64_t pages_left;      /* their pages still on the node */
    const void *failed_region; /* the first region that failed (an
                                 nslab_region_t *), or NULL */
    const void *failed_pool;  /* the first pool that failed, or NULL */
    uint64_t chunks_retired;  /* arena chunks of the node retired by this
                                 call (no block is handed out from them) */
    uint64_t chunks_unmapped; /* of the node's chunks, unmapped by this call
                                 (they were empty, or became so when the
                                 calling thread's cache was flushed) */
    uint64_t chunks_left;     /* chunks still mapped: they hold live blocks */
    uint64_t blocks_left;     /* live small blocks in them: in use, or in
                                 other threads' caches until those threads'
                                 next allocation or exit */
    uint64_t bytes_left;      /* their bytes, plus the large blocks' */
    uint64_t large_left;      /* live large blocks of the node (arena blocks
                                 do not move: a block's node is part of its
                                 identity) */
} nslab_drain_report_t;

/* Drain `node`: stop placing memory on it, move the regions and pools on it
 * to `to`, and take its arena out of service so that its chunks are
 * unmapped as their blocks come back.  For a node to be removed (memory
 * hot-remove, a CXL device taken away) or emptied for another tenant.
 * In order:
 *  1. the node is marked drained (the topology snapshot is republished):
 *     from then on every request that names it - numa_malloc_on and the
 *     other arena entry points, nslab_region_create and nslab_region_move
 *     with a policy naming it (a set that contains it included),
 *     nslab_pool_create, nslab_pool_move, nslab_claim_create - fails with
 *     ENODEV, as for a node without memory, and every path that picks a
 *     node itself skips it: NSLAB_NODE_LOCAL (the node's CPUs get the
 *     nearest other node, as a memoryless node's do), fallback by
 *     distance, "all" and NULL node sets (NSLAB_NODES_ALLOWED no longer
 *     holds it), new pool sets, a pool set's nearest pool; the malloc
 *     replacement's process policy (NUMASLAB_POLICY) uses its other nodes,
 *     and one that names only this node fails as numa_malloc_on does;
 *  2. every user region and interleaved allocation with pages on the node
 *     or a policy naming it is moved: the node is replaced by `to` in its
 *     policy's node set (a weighted interleave gives each new node the
 *     drained node's weight), PREFERRED(node) prefers the node of `to`
 *     nearest to it, LOCAL(n) is re-resolved (to the node n's CPUs now
 *     use: the nearest other node, which need not be in `to`), and the
 *     region moves as with nslab_region_move (capacity checked first:
 *     ENOMEM leaves it where it was); a policy that does not name the node (DEFAULT,
 *     LOCAL, PREFERRED elsewhere) is kept, and its pages on the node are
 *     migrated to the nearest node of `to` (pages it faults later follow
 *     its policy: under LOCAL, a thread on the node's CPUs now gets the
 *     nearest other node; under DEFAULT the faulting thread's policy
 *     decides, and the kernel's automatic NUMA balancing may migrate its
 *     pages back towards threads running on the node's CPUs - the kernel
 *     does not know of the drain: drain again, or give it a policy);
 *  3. every pool on the node (a pool set's included) is moved to the node
 *     of `to` nearest to it, as nslab_pool_move does (buffers in use
 *     keep their addresses and contents);
 *  4. every arena chunk of the node is retired (as after a layout change,
 *     nslab_arena_verify): no block is handed out from it again, frees of
 *     its blocks go straight back to it, and it is unmapped when its last
 *     block comes back; its kept empty slabs and the node's cached large
 *     blocks are released now; every thread cache is flushed before its
 *     thread allocates again (the calling thread's at once).  Arena blocks
 *     are not moved - a block's node is part of its identity - so live
 *     ones are reported (blocks_left, large_left) and keep their memory on
 *     the node until freed.
 * Draining a node again retries what did not move; nslab_node_undrain
 * ends the drain.  `to`: NULL = the allowed node with memory nearest to
 * `node` by distance; else a set of allowed nodes with memory, without
 * `node`.  flags: 0.  out (may be NULL): what was done.
 * The node's statistics (nslab_arena_stats_t) then say drained 1,
 * chunks_retired, chunks, bytes_mapped (0 once every block came back).
 * Threads: allocations and frees may go on in other threads (an arena
 * allocation that passed its node check before the drain may still
 * complete on the node: its block counts as live; a region or pool being
 * created on the node meanwhile is refused with ENODEV, or moved).  The
 * drain moves regions and pools other code
 * owns: it must not run concurrently with nslab_region_move or
 * nslab_region_report of a region on the node, nor with nslab_pool_move of
 * a pool on it; creating and destroying regions and pools wait for it.
 * It takes milliseconds per 4 MiB moved.
 * Returns the number of live arena blocks (small and large) still on the
 * node (0: nothing of the library's is left on it), or
 *   -EIO     a region or a pool kept pages on the node (out->error and
 *            out->failed_region / failed_pool tell which and why); the node
 *            stays drained
 *   -EINVAL  node < 0 or >= nslab_node_count(), unknown flags, out->size <
 *            8 or an unknown version, `to` empty, holding `node` or a node
 *            >= nslab_node_count()
 *   -ENODEV  node offline or without memory; a node of `to` offline,
 *            without memory or drained
 *   -EXDEV   a node of `to` outside the cpuset
 *   -ENOSPC  `to` NULL and no other node may take memory (the only node
 *            with memory, as on a one-node machine): refused, nothing
 *            changed - a process with no node left could allocate nothing
 *   -ENOMEM  no memory for a new topology snapshot (nothing changed)
 * and sets errno. */
NSLAB_API int nslab_node_drain(int node, const nslab_nodeset_t *to, unsigned flags,
                               nslab_drain_report_t *out);

/* End a drain: the node takes memory again (new chunks, regions, pools;
 * NSLAB_NODE_LOCAL and fallback use it again).  What the drain moved stays
 * where it went, and the chunks it retired stay retired (unmapped when
 * empty).  Undraining a node that is not drained does nothing.  Returns 0,
 * or -EINVAL (node < 0 or >= nslab_node_count()), -ENOMEM (no memory for
 * a new topology snapshot; still drained), and sets errno. */
NSLAB_API int nslab_node_undrain(int node);

/* Flush the calling thread's caches back to the arenas (done automatically
 * at thread exit), then give the arenas' idle empty slabs back and every
 * free arena page to the kernel (not done at thread exit). */
NSLAB_API void nslab_thread_flush(void);

/* ------------------------------------------------------------------------ */
/* Statistics and audit                                                       */
/* ------------------------------------------------------------------------ */

#define NSLAB_STATS_VERSION 1

/* Per-node counters.  Set `size` = sizeof(nslab_arena_stats_t) and
 * `version` = NSLAB_STATS_VERSION before the call; fields past what the
 * caller's size holds are not written. */
typedef struct nslab_arena_stats {
    uint32_t size;
    uint32_t version;
    int node;
    uint64_t bytes_mapped;      /* address space of chunks + large regions */
    uint64_t bytes_committed;   /* of that, committed: chunk pages given to
                                   slabs (populated, or under prefault NONE
                                   faulted at first touch) and the header
                                   pages, plus large blocks populated when
                                   allocated (a large block left to first
                                   touch is mapped, not committed) */
    uint64_t bytes_in_use;      /* handed out to callers (block sizes) */
    uint64_t chunks;            /* live chunks */
    uint64_t large;             /* live large / interleaved regions */
    uint64_t allocs;            /* successful allocations */
    uint64_t frees;
    uint64_t remote_frees_in;   /* blocks of this node freed by threads
                                   running on another node */
    uint64_t remote_frees_out;  /* blocks of other nodes freed by threads
                                   running on this node */
    uint64_t fallbacks;         /* local allocations served elsewhere */
    uint64_t failures;          /* allocations refused (ENOMEM etc.) */
    uint64_t bytes_reserved;    /* capacity the node's chunks hold in the
                                   ledger for their pages not committed:
                                   promised, counted against the node's
                                   room, not resident (mapped = committed +
                                   reserved + large blocks not populated) */
    /* Layout changes (nslab_arena_verify, nslab_topology_refresh): */
    uint64_t drift_pages;       /* chunk pages found off the node, ever */
    uint64_t drift_repaired;    /* of those, migrated back to it */
    uint64_t chunks_retired;    /* live chunks retired (pages off the node,
                                   or the node drained; counted in
                                   `chunks`, draining: no new blocks,
                                   unmapped when empty) */
    uint64_t drained;           /* 1 while the node is drained
                                   (nslab_node_drain) */
} nslab_arena_stats_t;

/* Read node's counters (per-thread counters merged on read: a snapshot, not
 * atomic across fields).  Returns 0, or -EINVAL (bad node, NULL out,
 * out->size < 8 - smaller than the size and version fields -, unknown
 * version); a size of 8 up to sizeof(nslab_arena_stats_t) gets the fields
 * that fit, as for nslab_pool_stats. */
NSLAB_API int nslab_arena_stats(int node, nslab_arena_stats_t *out);

/* Print all nodes' counters, one line each.  Returns 0, -EINVAL (out NULL),
 * or -EIO (a write failed).  The environment variable NUMASLAB_STATS prints
 * them at exit (README: NUMASLAB_STATS). */
NSLAB_API int nslab_arena_print(FILE *out);

/* Check the arenas' invariants (every block is in a slab's free list, a
 * cache, a remote batch, or in use, and in one place only; counters add
 * up).  Expensive: takes the arena locks.  Other threads must not allocate
 * or free during the call (their caches are walked without their
 * cooperation).  Returns 0, or -EFAULT if an invariant is broken (and, if
 * `out` is non-NULL, prints what). */
NSLAB_API int nslab_arena_audit(FILE *out);

/* ------------------------------------------------------------------------ */
/* Per-node buffer pools                                                      */
/* ------------------------------------------------------------------------ */

typedef struct nslab_pool nslab_pool_t;
typedef struct nslab_poolset nslab_poolset_t;

/* A pool holds fixed-size buffers on one node: mapped under MPOL_BIND to
 * the node and prefaulted before any is handed out.  Each thread has its
 * own cache of each pool (up to 255 threads at a time; later threads use a
 * locked path): a get or put that hits it takes no lock and no atomic
 * read-modify-write.  A miss moves half a cache from or to the pool's
 * common stack.  Buffers parked in one thread's cache are not seen by
 * another thread's nslab_pool_get until that thread's cache overflows, it
 * calls nslab_pool_cache_flush(), or it exits (exit flushes every cache);
 * nslab_pool_get_wait reaches them. */

#define NSLAB_POOL_DEBUG 0x1u    /* detect double puts (a state byte per
                                    buffer; slower puts) */
#define NSLAB_POOL_NO_CACHE 0x2u /* no per-thread caches: every get and put
                                    takes the pool's lock */

typedef struct nslab_pool_opts {
    uint32_t size;         /* sizeof(nslab_pool_opts_t) */
    uint32_t version;      /* NSLAB_OPTS_VERSION */
    size_t elt_size;       /* buffer size, > 0 */
    size_t align;          /* power of two <= NSLAB_MAX_ALIGN, 0 = 64 (a
                              cache line); buffers are elt_size rounded up
                              to it apart */
    size_t count;          /* buffers created (and prefaulted) up front, > 0 */
    size_t max_count;      /* grow up to this many; 0 = count (fixed) */
    unsigned cache_size;   /* per-thread cache capacity (<= 1024); 0 = the
                              default, min(64, max_count / 8), and no cache
                              when that is 0 */
    unsigned flags;        /* NSLAB_POOL_* */
    nslab_prefault_t prefault; /* for each segment of buffers, as regions */
    void (*ctor)(void *buf, size_t idx, void *arg); /* optional: called once
                              per buffer when it is created (at creation or
                              growth), idx = 0 .. max_count-1; it must not
                              call back into this pool */
    void *ctor_arg;
    nslab_claim_t *claim;  /* draw the pool's reservation from this claim
                              first; NULL = none */
} nslab_pool_opts_t;
/* Every field zero but size and version; elt_size and count must be set. */
#define NSLAB_POOL_OPTS_INIT(...)                                               \
    { .size = sizeof(nslab_pool_opts_t), .version = NSLAB_OPTS_VERSION, __VA_ARGS__ }

/* Create a pool of fixed-size buffers on `node` (or NSLAB_NODE_LOCAL).
 * Capacity for max_count buffers is reserved on the node at creation (the
 * capacity ledger of nslab_region_create), so growth never meets an OOM
 * kill; `count` buffers are committed now, the rest on demand.
 * Errors (NULL, errno): EINVAL (NULL opts, elt_size 0, bad align, count 0,
 * opts->claim not a live claim,
 * max_count < count, cache_size > 1024, unknown flags or prefault; node < 0
 * other than NSLAB_NODE_LOCAL, node >= nslab_node_count()), ENODEV (node
 * offline, without memory or drained), EXDEV (node outside the cpuset), ENOMEM (the
 * node cannot hold max_count buffers; more than 2^32-1 buffers; size
 * overflow). */
NSLAB_API nslab_pool_t *nslab_pool_create(int node, const nslab_pool_opts_t *opts);

/* Destroy a pool.  Buffers in threads' caches count as returned.  Must not
 * run while other threads use the pool.  Returns 0, -EBUSY if buffers are
 * still out or a thread waits in nslab_pool_get_wait (the pool is left
 * intact), or -EINVAL (NULL, not a live pool).
 * Destroyed handles: every function of this section given a handle that was
 * destroyed returns its EINVAL error (nslab_pool_destroy again: -EINVAL;
 * nslab_pool_get: NULL with EINVAL) instead of reading freed memory, for
 * at least the next 16 destroys; after that the handle's address may be
 * handed to a new pool (like a closed file descriptor's number).  The same
 * holds for pool sets (nslab_poolset_*). */
NSLAB_API int nslab_pool_destroy(nslab_pool_t *p);

/* Take one buffer.  The pool grows (up to max_count) when its common stack
 * is empty.  Never blocks on an empty pool.
 * Errors (NULL, errno): ENOENT (empty and at its cap; buffers may sit in
 * other threads' caches), EINVAL (NULL or destroyed p), ENOMEM (growth could not map its
 * reserved memory: only if another process took it meanwhile). */
NSLAB_API void *nslab_pool_get(nslab_pool_t *p);

/* Take one buffer, waiting up to timeout_ms (-1 = forever, 0 = no wait)
 * for a put.  Unlike nslab_pool_get it also reaches the buffers parked in
 * other live threads' caches: when the common stack is empty it moves every
 * thread's cached buffers of p to it (without their threads' cooperation,
 * through membarrier(2)), and while it waits every put goes to the stack
 * and wakes it.  So it never sleeps while p has a free buffer anywhere.
 * (Where the kernel lacks membarrier - before 4.3, or a seccomp filter
 * refuses it - the other threads' caches cannot be reached safely: buffers
 * there then stay until those threads flush or exit.)
 * Errors (NULL, errno): ETIMEDOUT, EINVAL (NULL p, timeout < -1),
 * ENOMEM (as nslab_pool_get). */
NSLAB_API void *nslab_pool_get_wait(nslab_pool_t *p, int timeout_ms);

/* Return a buffer to its pool (p may be NULL: found from the pointer in
 * O(1)).  Any thread may put any buffer; a put by a thread on another node
 * than the pool's counts as a remote put.
 * Returns 0, or -EINVAL (not the start of a buffer of p / of any pool;
 * nothing changed), -EALREADY (double put, NSLAB_POOL_DEBUG only; nothing
 * changed).  Without NSLAB_POOL_DEBUG a double put is not detected and
 * corrupts the pool's accounting (nslab_pool_audit reports it). */
NSLAB_API int nslab_pool_put(nslab_pool_t *p, void *buf);

/* All-or-nothing bulk operations: either all n buffers are taken/returned
 * and n is returned, or none and a negative errno.
 * get_bulk: -ENOENT (fewer than n free, the pool grown to its cap), -EINVAL
 * (NULL p, NULL bufs, n > INT_MAX), -ENOMEM (as nslab_pool_get).
 * put_bulk: p may be NULL (then every buffer must belong to the first one's
 * pool); -EINVAL (any pointer not a buffer of that pool: none is returned),
 * -EALREADY (NSLAB_POOL_DEBUG: any buffer not out, or twice in bufs). */
NSLAB_API int nslab_pool_get_bulk(nslab_pool_t *p, void **bufs, unsigned n);
NSLAB_API int nslab_pool_put_bulk(nslab_pool_t *p, void *const *bufs, unsigned n);

/* Give the calling thread's cached buffers of p back to p's common stack
 * (done for every pool when a thread exits). */
NSLAB_API void nslab_pool_cache_flush(nslab_pool_t *p);

/* The pool a buffer belongs to, or NULL (EINVAL: not the start of a pool
 * buffer). */
NSLAB_API nslab_pool_t *nslab_pool_of(const void *buf);
/* The pool's node, or -EINVAL. */
NSLAB_API int nslab_pool_node(const nslab_pool_t *p);

/* Move every buffer of the pool - free, cached and in use - to `node` (or
 * NSLAB_NODE_LOCAL): each segment is re-bound to the node and its pages
 * migrated (mbind(2), MPOL_MF_MOVE | MPOL_MF_STRICT), then every page is
 * checked with move_pages(2) and, if `after` is not NULL, the histogram of
 * the pool's segments is written there.  Buffer addresses and contents do
 * not change.  Capacity is handled as at creation: the new node must hold
 * the pool's committed bytes plus its reservation for growth (ENOMEM
 * before any page moves); the reservation moves from the old node's
 * ledger to the new one's.  On success and on -EIO the pool's node is
 * `node`: nslab_pool_node(), statistics, nslab_node_of() of its buffers,
 * remote-put counting and later growth use it.  Moving again after -EIO
 * retries the pages that did not move.
 * Threads: gets, puts and bulk calls on the pool may go on in other
 * threads during the move (no address changes; an access to a page being
 * migrated waits for its copy); growth waits for the move to end.  The
 * caller must not run nslab_pool_destroy or another nslab_pool_move on
 * the pool concurrently.
 * Returns 0 when every page of the pool lies on `node`, or:
 *   -EIO    some pages did not move (pinned, e.g. handed to the kernel by
 *           vmsplice, or the kernel could not migrate them); the pool's
 *           node is `node` and *after tells where the pages are
 *   (*after is written on 0 and -EIO only)
 *   -EINVAL p NULL or not a live pool; a pool of a pool set (the set
 *           serves each node from its own pool: move the workers instead);
 *           node < 0 other than NSLAB_NODE_LOCAL, node >= nslab_node_count()
 *   -ENODEV node offline, without memory or drained (or no local node)
 *   -EXDEV  node outside the cpuset
 *   -ENOMEM the node cannot hold the pool (nothing moved)
 *   -EPERM, -ENOSYS  from move_pages(2) (the page check could not run)
 * and sets errno. */
NSLAB_API int nslab_pool_move(nslab_pool_t *p, int node, nslab_placement_t *after);

/* Per-pool counters (buffers, not calls).  Set `size` and `version` as for
 * nslab_arena_stats_t. */
typedef struct nslab_pool_stats {
    uint32_t size;
    uint32_t version;
    int node;
    uint64_t total;        /* buffers created */
    uint64_t free;         /* in the pool or in caches */
    uint64_t in_use;       /* handed out */
    uint64_t cache_hits;   /* gets and puts served by a thread's cache */
    uint64_t cache_misses; /* gets and puts through the common stack */
    uint64_t remote_puts;  /* puts by threads on another node (a thread's
                              node as read at its last cache refill or
                              flush, or at each put without a cache) */
    uint64_t migrations;   /* pool-set gets whose refill found the thread on
                              a new node and were served here */
    uint64_t max_count;
    uint64_t elt_size;
    uint64_t cache_size;   /* per-thread capacity, 0 = no caches */
    uint64_t cached;       /* of `free`, in threads' caches */
    uint64_t gets;         /* buffers handed out, ever */
    uint64_t puts;         /* buffers returned, ever */
    uint64_t segments;     /* SEG_POOL mappings */
    uint64_t bytes_committed; /* bytes mapped for buffers */
    uint64_t bytes_reserved;  /* capacity still reserved for growth */
} nslab_pool_stats_t;

/* Read p's counters: per-thread counters merged on read, a snapshot (not
 * atomic across fields while threads work).  Returns 0, or -EINVAL (bad p,
 * NULL out, size < 8, unknown version). */
NSLAB_API int nslab_pool_stats(const nslab_pool_t *p, nslab_pool_stats_t *out);
/* Print p's counters (three lines).  0, -EINVAL (bad p, out NULL), -EIO. */
NSLAB_API int nslab_pool_print(const nslab_pool_t *p, FILE *out);
/* Prove no buffer is lost or duplicated: every buffer is in the pool's
 * stack, in exactly one thread's cache, or out (handed out minus returned),
 * each once; with NSLAB_POOL_DEBUG each buffer's state agrees.  Needs the
 * pool quiescent (no get/put running on it).  Returns 0, -EFAULT (and
 * prints what, when `out` is non-NULL), -EINVAL, -ENOMEM. */
NSLAB_API int nslab_pool_audit(nslab_pool_t *p, FILE *out);

/* One pool per node with memory allowed by the cpuset, all of one shape
 * (capacity reserved on every node; ENOMEM if any node cannot hold it).
 * Errors (NULL, errno): as nslab_pool_create, ENODEV (no allowed node). */
NSLAB_API nslab_poolset_t *nslab_poolset_create(const nslab_pool_opts_t *opts);
/* Destroy the set and its pools: 0, -EBUSY (a pool has buffers out; nothing
 * destroyed), -EINVAL. */
NSLAB_API int nslab_poolset_destroy(nslab_poolset_t *s);
/* The pool of the calling thread's local node (or the nearest pool by
 * distance), or NULL: EINVAL (s NULL or not a live pool set), ENODEV (no
 * pool of the set serves the thread's node: none has a known distance to
 * it). */
NSLAB_API nslab_pool_t *nslab_poolset_local(nslab_poolset_t *s);
/* The pool of `node`, or NULL: EINVAL (bad s or node), ENODEV (no pool). */
NSLAB_API nslab_pool_t *nslab_poolset_pool(nslab_poolset_t *s, int node);
/* A buffer from the pool of the calling thread's node.  The thread's node
 * is re-read at each cache refill, so a thread that moved to another node
 * is served from that node's pool from its next refill on (counted in the
 * new pool's `migrations`).  Errors: as nslab_pool_get. */
NSLAB_API void *nslab_poolset_get(nslab_poolset_t *s);
/* Return a buffer to its own pool: 0, -EINVAL (not a buffer of the set),
 * -EALREADY (debug double put). */
NSLAB_API int nslab_poolset_put(nslab_poolset_t *s, void *buf);

/* Workers.  nslab_worker_bind binds the calling thread to `node`'s CPUs
 * and returns the pool of the set that serves that node (its own, or for a
 * memoryless node the nearest node with memory).  nslab_worker_start starts
 * a thread that binds itself to `node` and then runs fn(pool, arg); the
 * thread's return value is fn's (join it with pthread_join).
 * Errors (NULL / negative, errno): EINVAL (NULL argument, bad node), ENODEV
 * (node without CPUs), EXDEV (none of its CPUs allowed), EAGAIN and
 * pthread_create's errors. */
NSLAB_API nslab_pool_t *nslab_worker_bind(int node, nslab_poolset_t *s);
NSLAB_API int nslab_worker_start(pthread_t *thread, int node, nslab_poolset_t *s,
                                 void *(*fn)(nslab_pool_t *pool, void *arg),
                                 void *arg);

/* ---- a worker pool on nodes -------------------------------------------- */

/* fork: a task pool's workers are threads of the process that created it;
 * a forked child has none of them, so a child must not use (submit to,
 * query or destroy) a task pool it inherited: create its own.  The pools of
 * buffers (nslab_taskpool_buffers) are usable in the child, as every pool
 * is (see "fork" at the top of this header). */

/* Any node: nslab_taskpool_submit picks the shortest queue (ties: the node
 * nearest to the caller). */
#define NSLAB_NODE_ANY (-2)

typedef struct nslab_taskpool nslab_taskpool_t;

#define NSLAB_TASKPOOL_STEAL 0x1u /* an idle worker takes tasks from the
                                     other nodes' queues, nearest first by
                                     distance (counted as stolen) */

typedef struct nslab_taskpool_opts {
    uint32_t size;             /* sizeof(nslab_taskpool_opts_t) */
    uint32_t version;          /* NSLAB_OPTS_VERSION */
    nslab_nodeset_t nodes;     /* nodes to run on (each must have CPUs);
                                  empty = every online node with CPUs */
    unsigned workers_per_node; /* 0 = 1; at most 1024 workers in all */
    unsigned queue_capacity;   /* tasks queued per node; 0 = 1024, at most
                                  2^24 */
    unsigned flags;            /* NSLAB_TASKPOOL_* */
    const nslab_pool_opts_t *buffers; /* not NULL: a pool set of this shape
                                  (nslab_poolset_create), and each worker
                                  hands its tasks its node's pool (for a
                                  memoryless node the nearest with memory) */
} nslab_taskpool_opts_t;
#define NSLAB_TASKPOOL_OPTS_INIT(...)                                               \
    { .size = sizeof(nslab_taskpool_opts_t), .version = NSLAB_OPTS_VERSION, __VA_ARGS__ }

/* Start workers_per_node threads on each node, each pinned to its node's
 * CPUs (nslab_thread_bind / nslab_worker_bind) before it runs any task.
 * Errors (NULL, errno): EINVAL (NULL opts, unknown flags, a node out of
 * range, too many workers, queue_capacity too large), ENODEV (a node
 * offline or without CPUs, or no node at all), EXDEV (a node's CPUs are
 * all outside the cpuset), ENOMEM, EAGAIN (threads), and
 * nslab_poolset_create's errors for `buffers`. */
NSLAB_API nslab_taskpool_t *nslab_taskpool_create(const nslab_taskpool_opts_t *opts);

/* Queue fn(pool, node, arg) on `node`'s queue (NSLAB_NODE_LOCAL: the
 * caller's node if the pool runs there, else the nearest; NSLAB_NODE_ANY:
 * the shortest queue).  It runs on a worker of that node - or, with
 * NSLAB_TASKPOOL_STEAL, of another node whose queue was empty - with
 * `pool` that worker's node's buffer pool (NULL without opts.buffers) and
 * `node` the node it runs on.  Tasks of one queue start in submit order.
 * Returns the node whose queue took it, or -EINVAL (bad tp, NULL fn, a
 * node out of range), -ENODEV (the pool has no workers on node), -EAGAIN
 * (that queue is full), -ESHUTDOWN (destroy has begun). */
NSLAB_API int nslab_taskpool_submit(nslab_taskpool_t *tp, int node,
                                    void (*fn)(nslab_pool_t *pool, int node, void *arg),
                                    void *arg);

/* Run every queued task, stop and join the workers, free the pool.  Must
 * not be called from a task, nor while other threads submit.  Returns 0,
 * -EINVAL, or -EBUSY: the workers are gone but tasks kept buffers of the
 * pool set out - put them back (nslab_pool_put(NULL, buf)) and call again. */
NSLAB_API int nslab_taskpool_destroy(nslab_taskpool_t *tp);

/* The pool set the workers draw from, or NULL (EINVAL bad tp, ENOENT none). */
NSLAB_API nslab_poolset_t *nslab_taskpool_buffers(const nslab_taskpool_t *tp);

/* Per-node counters of a task pool.  Set `size` and `version` as for
 * nslab_arena_stats_t. */
typedef struct nslab_taskpool_stats {
    uint32_t size;
    uint32_t version;
    int node;
    uint32_t workers;
    uint64_t submitted;  /* tasks queued on this node */
    uint64_t run;        /* tasks run by this node's workers (stolen too) */
    uint64_t stolen;     /* of `run`, taken from another node's queue */
    uint64_t queued;     /* waiting in this node's queue now */
    uint64_t max_queued; /* the deepest the queue has been */
} nslab_taskpool_stats_t;

/* Read node's counters (a snapshot under the queue's lock).  Returns 0, or
 * -EINVAL (bad tp, NULL out, size < 8, unknown version, node out of
 * range), -ENODEV (no workers on node). */
NSLAB_API int nslab_taskpool_stats(nslab_taskpool_t *tp, int node,
                                   nslab_taskpool_stats_t *out);

/* Bind the calling thread to `node`'s CPUs (sched_setaffinity).  Returns 0,
 * -EINVAL, -ENODEV (node without CPUs), -EXDEV (CPUs not allowed). */
NSLAB_API int nslab_thread_bind(int node);

#ifdef __cplusplus
}
#endif

#endif /* NUMASLAB_H */
