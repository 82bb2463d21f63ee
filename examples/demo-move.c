/*
 * examples/demo-move.c - section "move": memory can move.  A region bound
 * to the first node with memory, filled, is moved with nslab_region_move()
 * to the last one; its page histogram before and after, its contents
 * checked, and what the region reports now.  On a one-node machine the
 * region is moved in place (the same calls, nothing to migrate).
 */
#include "demo.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static int same_contents(const uint32_t *p, size_t words)
{
    for (size_t i = 0; i < words; i += 1024)
        if (p[i] != (uint32_t)i * 2654435761u)
            return 0;
    return 1;
}

int demo_move(struct demo *d)
{
    int from = nslab_nodeset_next(&d->nodes, 0), to = from;
    for (int n = from; n >= 0; n = nslab_nodeset_next(&d->nodes, n + 1))
        to = n;
    /* 64 MiB, or less where a small node (the 256 MiB nodes of the eight-node
     * guest, node 0 with the kernel on it) cannot hold it past the capacity
     * check's reserve: half of what the two nodes' room allows, at least 4 MiB */
    size_t reserve = nslab_capacity_set_reserve(0);
    nslab_capacity_set_reserve(reserve);
    size_t size = 64 * MiB;
    nslab_node_info_t fi, ti;
    if (nslab_node_info(from, &fi) == 0 && nslab_node_info(to, &ti) == 0) {
        uint64_t room = fi.mem_free < ti.mem_free ? fi.mem_free : ti.mem_free;
        room = room > reserve ? room - reserve : 0;
        if (room / 2 < size)
            size = room / 2 / MiB * MiB;
        if (size < 4 * MiB)
            size = 4 * MiB;
    }
    demo_title(d, "Moving memory: a %zu MiB region bound to node %d, moved to node %d%s",
               size >> 20, from, to, from == to ? " (one node: moved in place)" : "");

    nslab_policy_t pf = nslab_policy_bind(from), pt = nslab_policy_bind(to);
    nslab_region_t *r = nslab_region_create(size, &pf, NULL);
    if (!r) {
        demo_claim(d, 0, "nslab_region_create: %s", strerror(errno));
        return 0;
    }
    uint32_t *w = nslab_region_addr(r);
    size_t words = size / sizeof(*w);
    for (size_t i = 0; i < words; i += 1024)
        w[i] = (uint32_t)i * 2654435761u;

    static nslab_placement_t pl; /* 8 KiB */
    int e = nslab_region_verify(r, &pl);
    if (e == 0) {
        demo_histogram(d, "  before:", &pl);
        demo_claim(d, pl.on_node[from] == pl.pages, "all %zu pages on node %d before", pl.pages,
                   from);
    } else {
        demo_claim(d, 0, "verify: %s", strerror(-e));
    }

    e = nslab_region_move(r, &pt, &pl);
    if (e == 0 || e == -EIO)
        demo_histogram(d, "  after: ", &pl);
    demo_claim(d, e == 0, "nslab_region_move to bind(%d): %s", to, e ? strerror(-e) : "0");
    demo_claim(d, e == 0 && pl.on_node[to] == pl.pages, "all %zu pages on node %d after",
               pl.pages, to);
    nslab_region_report_t rep;
    demo_claim(d, nslab_region_report(r, &rep) == 0 && nslab_nodeset_has(&rep.nodes, to) &&
                      nslab_node_of(w) == to,
               "the region reports bind(%d) and nslab_node_of says %d", to, nslab_node_of(w));
    demo_claim(d, same_contents(w, words), "same address, same contents");
    nslab_region_destroy(r);
    return 0;
}
