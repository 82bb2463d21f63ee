/*
 * topology/check.c - validation of allocation targets against a topology
 * snapshot: the one place that maps "bad node" to an errno, so every
 * caller reports the same error for the same input.
 */
#include "topology.h"

#include <errno.h>
#include <string.h>

int topology_check_node(const struct topology *t, int node)
{
    if (node < 0 || node >= t->nr_nodes)
        return EINVAL;
    if (!t->node[node].online || !t->node[node].has_memory || t->node[node].drained)
        return ENODEV; /* a drained node takes nothing, as an offline one */
    if (!t->node[node].allowed)
        return EXDEV;
    return 0;
}

int topology_check_node_fresh(const struct topology **t, int node)
{
    int e = topology_check_node(*t, node);
    if (e && topology_recheck_refused(e)) {
        *t = topology_get();
        e = topology_check_node(*t, node);
    }
    return e;
}

/* A set's error is its worst member's, in the order EINVAL (a member out of
 * range, or the set empty), ENODEV, EXDEV, so the answer does not depend on
 * which member comes first. */
int topology_check_nodes(const struct topology *t, const nslab_nodeset_t *s)
{
    int worst = 0;

    if (!s || nslab_nodeset_count(s) == 0)
        return EINVAL;
    if (nslab_nodeset_next(s, t->nr_nodes) >= 0)
        return EINVAL;
    for (int n = nslab_nodeset_next(s, 0); n >= 0;
         n = nslab_nodeset_next(s, n + 1)) {
        int e = topology_check_node(t, n);
        if (e == ENODEV)
            worst = ENODEV;
        else if (e == EXDEV && worst == 0)
            worst = EXDEV;
    }
    return worst;
}

int topology_opts_import(void *dst, size_t dst_size, const void *src)
{
    uint32_t hdr[2];
    const unsigned char *in = src;

    memcpy(hdr, src, sizeof hdr);
    if (hdr[0] < sizeof hdr || hdr[1] != NSLAB_OPTS_VERSION)
        return EINVAL;
    for (size_t i = dst_size; i < hdr[0]; i++)
        if (in[i])
            return EINVAL;
    memset(dst, 0, dst_size);
    memcpy(dst, src, hdr[0] < dst_size ? hdr[0] : dst_size);
    hdr[0] = (uint32_t)dst_size;
    memcpy(dst, hdr, sizeof hdr);
    return 0;
}
