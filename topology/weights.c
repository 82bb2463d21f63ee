/*
 * topology/weights.c - the system's weighted-interleave weights
 * (/sys/kernel/mm/mempolicy/weighted_interleave/nodeN, kernel 6.9+), which
 * the kernel's weighted interleave mode applies to every task: the region
 * layer uses that mode only when a caller's weights match them.  Read at
 * each call (an administrator may change them), without malloc or stdio.
 */
#include "topology.h"
#include "os.h"
#include "text.h"

unsigned topology_interleave_weight(int node)
{
    const struct topology *t = topology_get();
    char path[512];
    struct text_path p;
    uint64_t w = 0;

    if (node < 0 || node >= t->nr_nodes)
        return 0;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, t->sysfs_root);
    text_path_str(&p, "/kernel/mm/mempolicy/weighted_interleave/node");
    text_path_uint(&p, (unsigned long)node);
    if (p.overflow || os_read_number(path, &w) != 0 || w > 255)
        return 0;
    return (unsigned)w;
}
