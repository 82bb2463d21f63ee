/* examples/demo-topology.c - section "topology": the machine as the
 * library sees it (nslab_topology_print, like numactl --hardware). */
#include "demo.h"

int demo_topology(struct demo *d)
{
    demo_title(d, "Topology (nodes, CPUs, memory, distances, node classes, cpuset)");
    if (nslab_topology_print(d->out) != 0)
        return -1;
    int n = nslab_nodeset_count(&d->nodes);
    demo_claim(d, n >= 1, "%d node%s with memory allowed to this process", n, n == 1 ? "" : "s");
    return 0;
}
