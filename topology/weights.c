/*
 * topology/weights.c - the system's weighted-interleave weights
 * (/sys/kernel/mm/mempolicy/weighted_interleave/nodeN, kernel 6.9+), which
 * MPOL_WEIGHTED_INTERLEAVE applies to every task: the region layer uses the
 * kernel mode only when a caller's weights match them.  Read at each call
 * (an administrator may change them), without malloc or stdio.
 * Written by the region engineer for arena/policy.c.
 */
#include "topology.h"
#include "text.h"

unsigned topology_interleave_weight(int node)
{
    const struct topology *t = topology_get();
    char buf[64];
    char path[512];
    struct text_path p;
    uint64_t w = 0;
    const char *s = buf;

    if (node < 0 || node >= t->nr_nodes)
        return 0;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, t->sysfs_root);
    text_path_str(&p, "/kernel/mm/mempolicy/weighted_interleave/node");
    text_path_uint(&p, (unsigned long)node);
    if (p.overflow || text_read_file(path, buf, sizeof buf) < 0)
        return 0;
    if (text_parse_u64(&s, &w) != 0 || w > 255)
        return 0;
    return (unsigned)w;
}
