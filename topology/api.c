/*
 * topology/api.c - the public topology queries of numaslab.h, answered
 * from the snapshot (topology_get()).  Each returns 0 / a count, or a
 * negative errno that it also stores in errno.  No allocation.
 */
#include "topology.h"
#include "os.h"

#include <errno.h>

static int fail(int e)
{
    errno = e;
    return -e;
}

/* Discovery's error as the public API reports it. */
static int init_errno(int err)
{
    return err == ENOENT ? ENOSYS : EIO;
}

NSLAB_API int nslab_init(void)
{
    int err = topology_error();
    return err ? fail(init_errno(err)) : 0;
}

NSLAB_API int nslab_topology_refresh(void)
{
    int err = topology_reload(NULL);
    if (err)
        return fail(err == ENOMEM ? ENOMEM : init_errno(err));
    void (*hook)(void) = __atomic_load_n(&topology_change_hook, __ATOMIC_ACQUIRE);
    if (hook)
        hook();
    return 0;
}

NSLAB_API int nslab_node_count(void)
{
    const struct topology *t = topology_get();
    int err = topology_error();
    return err ? fail(init_errno(err)) : t->nr_nodes;
}

NSLAB_API int nslab_nodes(nslab_nodes_which_t which, nslab_nodeset_t *out)
{
    const struct topology *t = topology_get();
    nslab_nodeset_t s;

    if (!out)
        return fail(EINVAL);
    switch (which) {
    case NSLAB_NODES_POSSIBLE:
        s = t->possible;
        break;
    case NSLAB_NODES_ONLINE:
        s = t->online;
        break;
    case NSLAB_NODES_MEMORY:
        s = t->memory;
        break;
    case NSLAB_NODES_CPU:
        s = t->cpu;
        break;
    case NSLAB_NODES_ALLOWED:
        s = t->usable; /* allowed, with memory, not drained */
        break;
    case NSLAB_NODES_DRAINED:
        s = t->drained;
        break;
    case NSLAB_NODES_MEMORYLESS:
        for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
            s.bits[i] = t->cpu.bits[i] & ~t->memory.bits[i];
        break;
    case NSLAB_NODES_MEMORY_ONLY:
        for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
            s.bits[i] = t->memory.bits[i] & ~t->cpu.bits[i];
        break;
    default:
        return fail(EINVAL);
    }
    *out = s;
    return nslab_nodeset_count(&s);
}

NSLAB_API int nslab_node_info(int node, nslab_node_info_t *out)
{
    const struct topology *t = topology_get();

    if (!out || node < 0 || node >= t->nr_nodes)
        return fail(EINVAL);
    const struct topo_node *tn = &t->node[node];
    *out = (nslab_node_info_t){
        .node = node,
        .online = tn->online,
        .has_memory = tn->has_memory,
        .has_cpus = tn->has_cpus,
        .allowed = tn->allowed,
        .ncpus = tn->ncpus,
        .local_node = tn->local_node,
        .mem_total = tn->mem_total,
        .mem_free = tn->online ? topology_node_free(node) : 0,
    };
    return tn->online ? 0 : fail(ENODEV);
}

NSLAB_API int nslab_node_of_cpu(int cpu)
{
    const struct topology *t = topology_get();

    if (cpu < 0 || cpu >= t->nr_cpus || t->cpu_node[cpu] < 0)
        return fail(EINVAL);
    return t->cpu_node[cpu];
}

NSLAB_API int nslab_node_cpus(int node, int *cpus, size_t max)
{
    const struct topology *t = topology_get();
    size_t n = 0;

    if (node < 0 || node >= t->nr_nodes || (max && !cpus))
        return fail(EINVAL);
    for (int c = 0; c < t->nr_cpus; c++) {
        if (t->cpu_node[c] != node)
            continue;
        if (n < max)
            cpus[n] = c;
        n++;
    }
    return (int)n;
}

NSLAB_API int nslab_node_distance(int a, int b)
{
    const struct topology *t = topology_get();

    if (a < 0 || a >= t->nr_nodes || b < 0 || b >= t->nr_nodes ||
        !t->node[a].online || !t->node[b].online || !t->distance[a][b])
        return fail(EINVAL);
    return t->distance[a][b];
}

NSLAB_API int nslab_current_node(void)
{
    return topology_current_node();
}

NSLAB_API int nslab_local_node(void)
{
    int n = topology_local_node();
    return n >= 0 ? n : fail(ENOMEM);
}

int topology_bind_thread(int node)
{
    const struct topology *t = topology_get();
    uint64_t mask[TOPO_MAX_CPUS / 64] = {0};
    int any = 0;
    if (node < 0 || node >= t->nr_nodes)
        return EINVAL;
    if (!t->node[node].online || !t->node[node].has_cpus)
        return ENODEV;
    for (int c = 0; c < t->nr_cpus && c < TOPO_MAX_CPUS; c++) {
        if (t->cpu_node[c] == node && ((t->cpus_allowed[c / 64] >> (c % 64)) & 1)) {
            mask[c / 64] |= UINT64_C(1) << (c % 64);
            any = 1;
        }
    }
    if (!any)
        return EXDEV;
    return os_set_affinity(mask, (size_t)((t->nr_cpus + 63) / 64) * 8);
}

NSLAB_API int nslab_thread_bind(int node)
{
    int err = topology_bind_thread(node);
    return err ? fail(err) : 0;
}
