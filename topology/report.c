/*
 * topology/report.c - nslab_topology_print(): the topology as
 * `numactl --hardware` shows it, plus each node's class and the cpuset.
 * It writes to the FILE the caller gave (stdio may allocate that stream's
 * buffer: the caller asked to print) and allocates nothing else.
 */
#include "topology.h"

#include <errno.h>

static int bit(const uint64_t *bits, int b)
{
    return (bits[b / 64] >> (b % 64)) & 1;
}

/* Print a bitmap as a kernel list ("0-3,8"), streaming: no buffer. */
static void print_list(FILE *out, const uint64_t *bits, int nbits)
{
    int first = 1;
    for (int b = 0; b < nbits; b++) {
        if (!bit(bits, b))
            continue;
        int lo = b;
        while (b + 1 < nbits && bit(bits, b + 1))
            b++;
        fprintf(out, "%s%d", first ? "" : ",", lo);
        if (b > lo)
            fprintf(out, "-%d", b);
        first = 0;
    }
    if (first)
        fputs("(none)", out);
}

static void print_class(FILE *out, const struct topology *t, int n)
{
    const struct topo_node *tn = &t->node[n];
    fprintf(out, "node %d class: ", n);
    if (tn->has_cpus && tn->has_memory)
        fputs("normal", out);
    else if (tn->has_cpus && tn->local_node >= 0)
        fprintf(out, "memoryless -> local node %d", tn->local_node);
    else if (tn->has_cpus)
        fputs("memoryless (no node with memory to use)", out);
    else if (tn->has_memory)
        fputs("memory-only (never local)", out);
    else
        fputs("no cpus, no memory", out);
    if (tn->drained)
        fprintf(out, ", drained (local allocations -> node %d)", tn->local_node);
    if (tn->has_memory && !nslab_nodeset_has(&t->normal_memory, n))
        fputs(", movable memory only", out);
    if (tn->has_memory && !tn->allowed) /* mems_allowed only holds nodes
                                           with memory */
        fputs(", not in cpuset", out);
    fputc('\n', out);
}

NSLAB_API int nslab_topology_print(FILE *out)
{
    const struct topology *t = topology_get();
    int err = topology_error();

    if (!out) {
        errno = EINVAL;
        return -EINVAL;
    }
    if (err)
        fprintf(out, "topology discovery failed (errno %d): showing one "
                     "node\n", err);
    fprintf(out, "available: %d nodes (", nslab_nodeset_count(&t->online));
    print_list(out, t->online.bits, t->nr_nodes);
    fprintf(out, ")\n");
    for (int n = nslab_nodeset_next(&t->online, 0); n >= 0 && n < t->nr_nodes;
         n = nslab_nodeset_next(&t->online, n + 1)) {
        fprintf(out, "node %d cpus:", n);
        for (int c = 0; c < t->nr_cpus; c++)
            if (t->cpu_node[c] == n)
                fprintf(out, " %d", c);
        fputc('\n', out);
        fprintf(out, "node %d size: %llu MB\n", n,
                (unsigned long long)(t->node[n].mem_total >> 20));
        fprintf(out, "node %d free: %llu MB\n", n,
                (unsigned long long)(topology_node_free(n) >> 20));
        print_class(out, t, n);
    }
    fprintf(out, "node distances:\nnode ");
    for (int b = nslab_nodeset_next(&t->online, 0); b >= 0;
         b = nslab_nodeset_next(&t->online, b + 1))
        fprintf(out, " %3d", b);
    fputc('\n', out);
    for (int a = nslab_nodeset_next(&t->online, 0); a >= 0;
         a = nslab_nodeset_next(&t->online, a + 1)) {
        fprintf(out, "%3d: ", a);
        for (int b = nslab_nodeset_next(&t->online, 0); b >= 0;
             b = nslab_nodeset_next(&t->online, b + 1))
            fprintf(out, " %3d", t->distance[a][b]);
        fputc('\n', out);
    }
    fprintf(out, "possible nodes: %d (", t->nr_nodes);
    print_list(out, t->possible.bits, t->nr_nodes);
    fprintf(out, "), possible cpus: %d\n", t->nr_cpus);
    fprintf(out, "cpuset: mems allowed ");
    print_list(out, t->allowed.bits, t->nr_nodes);
    fprintf(out, ", cpus allowed ");
    print_list(out, t->cpus_allowed, t->nr_cpus);
    fputc('\n', out);
    fprintf(out, "kernel: preferred-many %s, weighted-interleave %s, "
                 "populate-write %s, page %zu KiB, THP %s",
            t->has_preferred_many ? "yes" : "no",
            t->has_weighted_interleave ? "yes" : "no",
            t->has_populate_write ? "yes" : "no", t->page_size >> 10,
            t->thp_size ? (t->thp_always ? "always" : "madvise") : "off");
    if (t->thp_size)
        fprintf(out, " (%zu KiB)", t->thp_size >> 10);
    fputc('\n', out);
    fprintf(out, "current node: %d (cpu %d, %s)\n", topology_current_node(),
            topology_current_cpu(), topology_rseq_active() ? "rseq" : "getcpu");
    if (fflush(out) != 0 || ferror(out)) {
        errno = EIO;
        return -EIO;
    }
    return 0;
}
