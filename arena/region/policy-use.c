/*
 * arena/region/policy-use.c - policies beyond regions: the nodes a policy means
 * (nslab_policy_node_set), a policy checked against a worker's CPUs
 * (nslab_policy_check_cpus), the calling thread's own policy
 * (nslab_thread_set_policy / nslab_thread_get_policy: os_set_thread_policy,
 * what numactl does before exec) and page locality of a range
 * (nslab_range_locality, ktstr's min_page_locality).
 *
 * Everything is resolved by policy_resolve (policy.c), so a policy is
 * refused here exactly as nslab_region_create refuses it.
 *
 * Threads: no state; the thread policy calls act on the calling thread.
 */
#include "region-internal.h"

#include <errno.h>

static int fail(int e)
{
    errno = e;
    return -e;
}

NSLAB_API int nslab_policy_node_set(const nslab_policy_t *pol, nslab_nodeset_t *out)
{
    struct policy_plan pl;
    if (!out)
        return fail(EINVAL);
    int e = policy_resolve(pol, &pl);
    if (e)
        return fail(e);
    *out = pl.nodes;
    return nslab_nodeset_count(out);
}

NSLAB_API int nslab_policy_check_cpus(const nslab_policy_t *pol, const int *cpus, size_t ncpus)
{
    const struct topology *t = topology_get();
    struct policy_plan pl;
    int e;

    if (!cpus && ncpus)
        return fail(EINVAL);
    if ((e = policy_resolve(pol, &pl)) != 0)
        return fail(e);

    uint64_t mine[TOPO_MAX_CPUS / 64];
    if (!cpus) {
        if ((e = os_get_affinity(mine, sizeof mine)) != 0)
            return fail(e);
    }
    int remote = 0;
    for (int c = 0, i = 0;; c++) {
        int cpu;
        if (cpus) {
            if ((size_t)i >= ncpus)
                break;
            cpu = cpus[i++];
        } else {
            if (c >= t->nr_cpus || c >= TOPO_MAX_CPUS)
                break;
            if (!((mine[c / 64] >> (c % 64)) & 1))
                continue;
            cpu = c;
        }
        if (cpu < 0 || cpu >= t->nr_cpus || cpu >= TOPO_MAX_CPUS || t->cpu_node[cpu] < 0)
            return fail(EINVAL);
        if (!((t->cpus_allowed[cpu / 64] >> (cpu % 64)) & 1))
            return fail(EXDEV);
        int local = t->cpu_local[cpu];
        if (local < 0 || (!pl.follows_cpu && !nslab_nodeset_has(&pl.nodes, local)))
            remote++;
    }
    return remote;
}

NSLAB_API int nslab_thread_set_policy(const nslab_policy_t *pol)
{
    struct policy_plan pl;
    int e = policy_resolve(pol, &pl);
    if (e)
        return fail(e);
    if (pl.nobind)
        e = os_set_thread_policy(OS_POL_DEFAULT, 0, NULL);
    else if (pl.kernel_mode < 0)
        return fail(EOPNOTSUPP); /* sub-ranges exist only for ranges */
    else
        e = os_set_thread_policy(pl.kernel_mode, pl.kernel_flags, &pl.kernel_nodes);
    return e ? fail(e) : 0;
}

NSLAB_API int nslab_process_set_policy(const nslab_policy_t *pol)
{
    int n = 0, e = os_thread_count(&n);
    if (e)
        return fail(e);
    if (n != 1)
        return fail(EBUSY); /* the other threads would keep their own */
    return nslab_thread_set_policy(pol);
}

NSLAB_API int nslab_thread_get_policy(nslab_policy_t *out)
{
    int mode = 0;
    unsigned kf = 0;
    nslab_nodeset_t nodes;
    if (!out)
        return fail(EINVAL);
    int e = os_thread_policy(&mode, &kf, &nodes);
    if (e)
        return fail(e);
    *out = nslab_policy_default();
    if (kf & OS_POL_STATIC_NODES)
        out->flags |= NSLAB_POLICY_STATIC_NODES;
    if (kf & OS_POL_RELATIVE_NODES)
        out->flags |= NSLAB_POLICY_RELATIVE_NODES;
    if (kf & OS_POL_NUMA_BALANCING)
        out->flags |= NSLAB_POLICY_NUMA_BALANCING;
    switch (mode) {
    case OS_POL_DEFAULT:
        out->flags = 0;
        break;
    case OS_POL_LOCAL:
        *out = nslab_policy_local();
        break;
    case OS_POL_PREFERRED:
        out->mode = NSLAB_POLICY_PREFERRED;
        /* An empty mask is the kernel's old spelling of "local". */
        if (nslab_nodeset_count(&nodes) == 0)
            *out = nslab_policy_local();
        else
            out->node = nslab_nodeset_next(&nodes, 0);
        break;
    case OS_POL_BIND:
        out->mode = NSLAB_POLICY_BIND;
        out->nodes = nodes;
        break;
    case OS_POL_INTERLEAVE:
        out->mode = NSLAB_POLICY_INTERLEAVE;
        out->nodes = nodes;
        break;
    case OS_POL_PREFERRED_MANY:
        out->mode = NSLAB_POLICY_PREFERRED_MANY;
        out->nodes = nodes;
        break;
    case OS_POL_WEIGHTED_INTERLEAVE:
        out->mode = NSLAB_POLICY_WEIGHTED_INTERLEAVE;
        out->nodes = nodes;
        break;
    default:
        return fail(EPROTO); /* a mode newer than this library */
    }
    return 0;
}

NSLAB_API int nslab_range_locality(const void *addr, size_t len, const nslab_nodeset_t *want,
                             double min_fraction, double *fraction)
{
    if (!addr || !want || len == 0 || (uintptr_t)addr + len < (uintptr_t)addr ||
        !(min_fraction >= 0.0 && min_fraction <= 1.0))
        return fail(EINVAL);
    size_t in = 0, out = 0;
    int e = region_scan(addr, len, want, NULL, &in, &out);
    if (e)
        return fail(e);
    if (in + out == 0)
        return fail(ENOENT);
    double f = (double)in / (double)(in + out);
    if (fraction)
        *fraction = f;
    return f >= min_fraction ? 1 : 0;
}
