/*
 * arena/region/policy.c - placement policies: the public constructors,
 * validation against the topology (the errno list of nslab_region_create),
 * and the translation to what the kernel is told (os_bind's mode, flags
 * and nodes).
 *
 * Checks happen here, before the kernel is asked: a node outside the cpuset
 * is EXDEV, an offline node or one without memory ENODEV, anything out of
 * range or malformed EINVAL, a mode the kernel lacks and that cannot be
 * emulated EOPNOTSUPP.  Weighted interleave is always possible: with the
 * kernel's weighted interleave mode (6.9+) when the weights asked are the
 * system's (the kernel takes its weights from
 * /sys/kernel/mm/mempolicy/weighted_interleave/, not from the caller), and
 * emulated by binding sub-ranges otherwise (region-plan.c).
 *
 * Threads: reads the topology snapshot only; no shared state but the test
 * knob region_emulate_weighted (set by tests before creating regions).
 */
#include "region-internal.h"

#include <errno.h>

int region_emulate_weighted;

void region_set_emulate_weighted(int on)
{
    __atomic_store_n(&region_emulate_weighted, on ? 1 : 0, __ATOMIC_RELAXED);
}

/* The cpuset's nodes that have memory: what relative node ids index. */
static void allowed_memory(const struct topology *t, nslab_nodeset_t *out)
{
    for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
        out->bits[i] = t->allowed.bits[i] & t->memory.bits[i];
}

NSLAB_API nslab_policy_t nslab_policy_default(void)
{
    nslab_policy_t p = {0};
    p.mode = NSLAB_POLICY_DEFAULT;
    p.node = NSLAB_NODE_LOCAL;
    return p;
}

NSLAB_API nslab_policy_t nslab_policy_bind_or_default(int node)
{
    return node < 0 ? nslab_policy_default() : nslab_policy_bind(node);
}

/* A set policy of `mode` over nodes (NULL = the cpuset's nodes with memory). */
static nslab_policy_t set_policy(nslab_policy_mode_t mode, const nslab_nodeset_t *nodes)
{
    nslab_policy_t p = {0};
    p.mode = mode;
    p.node = NSLAB_NODE_LOCAL;
    if (nodes)
        p.nodes = *nodes;
    else
        p.nodes = topology_get()->usable; /* allowed, memory, not drained */
    return p;
}

NSLAB_API nslab_policy_t nslab_policy_bind_set(const nslab_nodeset_t *nodes)
{
    return set_policy(NSLAB_POLICY_BIND, nodes);
}

NSLAB_API nslab_policy_t nslab_policy_preferred_many(const nslab_nodeset_t *nodes)
{
    return set_policy(NSLAB_POLICY_PREFERRED_MANY, nodes);
}

NSLAB_API nslab_policy_t nslab_policy_weighted(const nslab_nodeset_t *nodes,
                                               const unsigned char *weights, size_t nweights)
{
    nslab_policy_t p = set_policy(NSLAB_POLICY_WEIGHTED_INTERLEAVE, nodes);
    p.weights = weights;
    p.nweights = nweights;
    return p;
}

NSLAB_API nslab_policy_t nslab_policy_local(void)
{
    nslab_policy_t p = {0};
    p.mode = NSLAB_POLICY_LOCAL;
    p.node = NSLAB_NODE_LOCAL;
    return p;
}

NSLAB_API nslab_policy_t nslab_policy_bind(int node)
{
    nslab_policy_t p = {0};
    p.mode = NSLAB_POLICY_BIND;
    p.node = node;
    if (node == NSLAB_NODE_LOCAL)
        node = topology_local_node();
    nslab_nodeset_add(&p.nodes, node); /* out of range: stays empty -> EINVAL */
    return p;
}

NSLAB_API nslab_policy_t nslab_policy_preferred(int node)
{
    nslab_policy_t p = {0};
    p.mode = NSLAB_POLICY_PREFERRED;
    p.node = node;
    return p;
}

NSLAB_API nslab_policy_t nslab_policy_interleave(const nslab_nodeset_t *nodes)
{
    return set_policy(NSLAB_POLICY_INTERLEAVE, nodes);
}

int policy_relative_node(const struct topology *t, int rel)
{
    nslab_nodeset_t a;
    allowed_memory(t, &a);
    int w = nslab_nodeset_count(&a);
    if (w == 0 || rel < 0)
        return -1;
    int k = rel % w, n = nslab_nodeset_next(&a, 0);
    while (k-- > 0)
        n = nslab_nodeset_next(&a, n + 1);
    return n;
}

/* Does the set hold any node id >= nr_nodes? */
static int set_out_of_range(const struct topology *t, const nslab_nodeset_t *s)
{
    int n = nslab_nodeset_next(s, t->nr_nodes);
    return n >= 0;
}

/* Resolve one node id as asked (relative ids mapped) and check it. */
static int check_one(const struct topology *t, int node, unsigned flags, int *real)
{
    if (node < 0 || node >= t->nr_nodes)
        return EINVAL;
    if (flags & NSLAB_POLICY_RELATIVE_NODES) {
        /* the kernel folds relative ids onto the cpuset's nodes, drained
         * or not: one that lands on a drained node is refused */
        *real = policy_relative_node(t, node);
        return *real < 0 || t->node[*real].drained ? ENODEV : 0;
    }
    *real = node;
    return topology_check_node(t, node);
}

/* Check every node of a set, map relative ids; EINVAL for an empty set. */
static int check_set(const struct topology *t, const nslab_nodeset_t *s,
                     unsigned flags, nslab_nodeset_t *real)
{
    nslab_nodeset_zero(real);
    if (nslab_nodeset_count(s) == 0 || set_out_of_range(t, s))
        return EINVAL;
    if (!(flags & NSLAB_POLICY_RELATIVE_NODES)) {
        int e = topology_check_nodes(t, s);
        if (e)
            return e;
        *real = *s;
        return 0;
    }
    for (int n = nslab_nodeset_next(s, 0); n >= 0; n = nslab_nodeset_next(s, n + 1)) {
        int r, e = check_one(t, n, flags, &r);
        if (e)
            return e;
        nslab_nodeset_add(real, r);
    }
    return 0;
}

/* Are the weights asked proportional to the system's weighted-interleave
 * weights of the same nodes (then the kernel mode gives the same spread)? */
static int weights_are_system(const nslab_policy_t *pol, const nslab_nodeset_t *real)
{
    unsigned s0 = 0, w0 = 0;
    size_t i = 0;
    for (int n = nslab_nodeset_next(real, 0); n >= 0; n = nslab_nodeset_next(real, n + 1), i++) {
        unsigned s = topology_interleave_weight(n), w = pol->weights[i];
        if (s == 0)
            return 0; /* unknown: do not guess */
        if (i == 0) {
            s0 = s;
            w0 = w;
        } else if ((uint64_t)w * s0 != (uint64_t)w0 * s) {
            return 0;
        }
    }
    return 1;
}

/* OS_POL_NUMA_BALANCING (5.12+): probed once by binding a scratch page
 * with it to the nodes the kernel allows this process (not the snapshot's
 * ids: tests load fake topologies).  0 unknown, 1 yes, 2 no. */
static int numa_balancing_state;

static int numa_balancing_supported(void)
{
    int s = __atomic_load_n(&numa_balancing_state, __ATOMIC_RELAXED);
    if (s)
        return s == 1;
    size_t page = topology_get()->page_size;
    nslab_nodeset_t mems;
    void *p;
    if (os_allowed_nodes(&mems) != 0 || os_map(page, page, 0, -1, &p) != 0)
        return 0; /* not cached: a later call asks again */
    int e = os_bind(p, page, OS_POL_BIND, OS_POL_NUMA_BALANCING, &mems);
    os_unmap(p, page);
    __atomic_store_n(&numa_balancing_state, e == 0 ? 1 : 2, __ATOMIC_RELAXED);
    return e == 0;
}

/* DEFAULT: nothing is bound; describe the calling thread's own policy
 * (os_thread_policy), so the capacity check and the report know where the
 * pages will go.  A thread under BIND is strict on its bound nodes. */
static int resolve_default(const struct topology *t, unsigned f, struct policy_plan *out)
{
    if (f)
        return EINVAL;
    out->nobind = 1;
    out->kernel_mode = OS_POL_DEFAULT;
    out->enforced = NSLAB_ENFORCE_NONE;

    int mode = OS_POL_DEFAULT;
    unsigned mflags = 0;
    nslab_nodeset_t tn;
    if (os_thread_policy(&mode, &mflags, &tn) != 0) {
        mode = OS_POL_DEFAULT;
        mflags = 0;
    }
    for (int n = nslab_nodeset_next(&tn, 0); n >= 0; n = nslab_nodeset_next(&tn, n + 1)) {
        int real = (mflags & OS_POL_RELATIVE_NODES) ? policy_relative_node(t, n) : n;
        if (real >= 0 && real < t->nr_nodes && t->node[real].has_memory)
            nslab_nodeset_add(&out->nodes, real);
    }
    switch (mode) {
    case OS_POL_BIND:
        out->enforced = NSLAB_ENFORCE_STRICT;
        out->strict = 1;
        break;
    case OS_POL_INTERLEAVE:
    case OS_POL_WEIGHTED_INTERLEAVE:
        out->enforced = NSLAB_ENFORCE_INTERLEAVE;
        break;
    case OS_POL_PREFERRED:
    case OS_POL_PREFERRED_MANY:
        out->enforced = NSLAB_ENFORCE_PREFERRED;
        break;
    case OS_POL_LOCAL:
        out->enforced = NSLAB_ENFORCE_PREFERRED;
        nslab_nodeset_zero(&out->nodes);
        break;
    default:
        nslab_nodeset_zero(&out->nodes);
        break;
    }
    if (nslab_nodeset_count(&out->nodes) == 0) {
        /* Default or local: the faulting CPU's node, as first touch. */
        out->follows_cpu = 1;
        int n = topology_local_node();
        if (n < 0)
            return ENOMEM;
        nslab_nodeset_add(&out->nodes, n);
        out->strict = 0;
    }
    out->asked = out->nodes;
    out->first_node = nslab_nodeset_next(&out->nodes, 0);
    return 0;
}

static int policy_resolve_once(const nslab_policy_t *pol, struct policy_plan *out)
{
    const struct topology *t = topology_get();
    nslab_policy_t dflt;
    int e;

    /* A failed discovery leaves a usable one-node snapshot
     * (topology_error() says why): regions still work on it.
     * NULL is DEFAULT (numaslab.h). */
    if (!pol) {
        dflt = nslab_policy_default();
        pol = &dflt;
    }
    *out = (struct policy_plan){0};
    out->first_node = -1;

    unsigned f = pol->flags;
    if (f & ~(NSLAB_POLICY_STATIC_NODES | NSLAB_POLICY_RELATIVE_NODES |
              NSLAB_POLICY_NUMA_BALANCING))
        return EINVAL;
    if ((f & NSLAB_POLICY_STATIC_NODES) && (f & NSLAB_POLICY_RELATIVE_NODES))
        return EINVAL;
    if (f & NSLAB_POLICY_STATIC_NODES)
        out->kernel_flags |= OS_POL_STATIC_NODES;
    if (f & NSLAB_POLICY_RELATIVE_NODES)
        out->kernel_flags |= OS_POL_RELATIVE_NODES;
    if (f & NSLAB_POLICY_NUMA_BALANCING) {
        if (pol->mode != NSLAB_POLICY_BIND)
            return EINVAL;
        out->kernel_flags |= OS_POL_NUMA_BALANCING;
    }

    switch (pol->mode) {
    case NSLAB_POLICY_DEFAULT:
        return resolve_default(t, f, out);
    case NSLAB_POLICY_LOCAL: {
        /* The kernel refuses mode flags with the local mode. */
        if (f)
            return EINVAL;
        if (pol->node == NSLAB_NODE_LOCAL) {
            int n = topology_local_node();
            if (n < 0)
                return ENOMEM;
            out->kernel_mode = OS_POL_LOCAL;
            out->follows_cpu = 1;
            out->first_node = n;
            nslab_nodeset_add(&out->nodes, n);
            out->enforced = NSLAB_ENFORCE_PREFERRED;
            return 0;
        }
        /* "Local to node N's CPUs": N must have CPUs; a memory-only node is
         * never anyone's local node. */
        int n = pol->node;
        if (n < 0 || n >= t->nr_nodes)
            return EINVAL;
        if (!t->node[n].online)
            return ENODEV;
        if (!t->node[n].has_cpus)
            return EINVAL;
        int l = t->node[n].local_node;
        if (l < 0)
            return ENODEV;
        if ((e = topology_check_node(t, l)) != 0)
            return e;
        out->kernel_mode = OS_POL_PREFERRED;
        nslab_nodeset_add(&out->kernel_nodes, l);
        nslab_nodeset_add(&out->nodes, l);
        nslab_nodeset_add(&out->asked, n);
        out->first_node = l;
        out->enforced = NSLAB_ENFORCE_PREFERRED;
        return 0;
    }
    case NSLAB_POLICY_PREFERRED: {
        int n = pol->node, real;
        if (n == NSLAB_NODE_LOCAL && !(f & NSLAB_POLICY_RELATIVE_NODES)) {
            n = topology_local_node();
            if (n < 0)
                return ENOMEM;
        }
        if ((e = check_one(t, n, f, &real)) != 0)
            return e;
        out->kernel_mode = OS_POL_PREFERRED;
        nslab_nodeset_add(&out->kernel_nodes, n);
        nslab_nodeset_add(&out->asked, n);
        nslab_nodeset_add(&out->nodes, real);
        out->first_node = real;
        out->enforced = NSLAB_ENFORCE_PREFERRED;
        return 0;
    }
    case NSLAB_POLICY_BIND:
    case NSLAB_POLICY_PREFERRED_MANY:
    case NSLAB_POLICY_INTERLEAVE:
    case NSLAB_POLICY_WEIGHTED_INTERLEAVE:
        break;
    default:
        return EINVAL;
    }

    if ((e = check_set(t, &pol->nodes, f, &out->nodes)) != 0)
        return e;
    out->asked = pol->nodes;
    out->kernel_nodes = pol->nodes;
    out->first_node = nslab_nodeset_next(&out->nodes, 0);

    switch (pol->mode) {
    case NSLAB_POLICY_BIND:
        if ((f & NSLAB_POLICY_NUMA_BALANCING) && !numa_balancing_supported())
            return EOPNOTSUPP;
        out->kernel_mode = OS_POL_BIND;
        out->enforced = NSLAB_ENFORCE_STRICT;
        out->strict = 1;
        return 0;
    case NSLAB_POLICY_PREFERRED_MANY:
        if (!t->has_preferred_many)
            return EOPNOTSUPP;
        out->kernel_mode = OS_POL_PREFERRED_MANY;
        out->enforced = NSLAB_ENFORCE_PREFERRED;
        return 0;
    case NSLAB_POLICY_INTERLEAVE:
        out->kernel_mode = OS_POL_INTERLEAVE;
        out->enforced = NSLAB_ENFORCE_INTERLEAVE;
        return 0;
    default: /* NSLAB_POLICY_WEIGHTED_INTERLEAVE */
        break;
    }

    /* Weights: one per node of the set as asked, each 1..255.  With
     * relative ids two asked ids can fold onto one real node: the
     * emulation handles that (each sub-range binds its own asked id). */
    if (!pol->weights || pol->nweights != (size_t)nslab_nodeset_count(&pol->nodes))
        return EINVAL;
    for (size_t i = 0; i < pol->nweights; i++)
        if (pol->weights[i] == 0)
            return EINVAL;
    if (t->has_weighted_interleave && !(f & NSLAB_POLICY_RELATIVE_NODES) &&
        !__atomic_load_n(&region_emulate_weighted, __ATOMIC_RELAXED) &&
        weights_are_system(pol, &out->nodes)) {
        out->kernel_mode = OS_POL_WEIGHTED_INTERLEAVE;
        out->enforced = NSLAB_ENFORCE_INTERLEAVE;
        return 0;
    }
    out->kernel_mode = -1;
    out->enforced = NSLAB_ENFORCE_EMULATED;
    out->strict = 1;
    return 0;
}

int policy_resolve(const nslab_policy_t *pol, struct policy_plan *out)
{
    int e = policy_resolve_once(pol, out);
    /* a node that gained memory or joined the cpuset since the snapshot:
     * usable at this first request for it */
    if (e && topology_recheck_refused(e))
        e = policy_resolve_once(pol, out);
    return e;
}

int policy_check(const nslab_policy_t *pol)
{
    struct policy_plan p;
    return policy_resolve(pol, &p);
}
