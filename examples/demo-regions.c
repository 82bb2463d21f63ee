/*
 * examples/demo-regions.c - sections "regions" and "interleaved": the
 * placement layer.  One region per node with memory, bound (strict) and
 * populated, then its page histogram; then one numa_malloc_interleaved()
 * allocation over all nodes and its histogram.
 */
#include "demo.h"

#include <errno.h>
#include <string.h>

#define MiB ((size_t)1 << 20)

static const char *enforce_name(nslab_enforce_t e)
{
    switch (e) {
    case NSLAB_ENFORCE_NONE: return "none";
    case NSLAB_ENFORCE_STRICT: return "strict";
    case NSLAB_ENFORCE_PREFERRED: return "preferred";
    case NSLAB_ENFORCE_INTERLEAVE: return "interleave";
    case NSLAB_ENFORCE_EMULATED: return "emulated";
    }
    return "?";
}

static const char *prefault_name(nslab_prefault_t p)
{
    switch (p) {
    case NSLAB_PREFAULT_DEFAULT: return "default";
    case NSLAB_PREFAULT_NONE: return "none (first touch)";
    case NSLAB_PREFAULT_TOUCH: return "touch";
    case NSLAB_PREFAULT_POPULATE: return "populate (MADV_POPULATE_WRITE)";
    }
    return "?";
}

int demo_regions(struct demo *d)
{
    const size_t size = 64 * MiB;
    demo_title(d, "Regions per node: a %zu MiB region bound to each node with memory, populated",
               size >> 20);
    for (int n = nslab_nodeset_next(&d->nodes, 0); n >= 0;
         n = nslab_nodeset_next(&d->nodes, n + 1)) {
        nslab_policy_t pol = nslab_policy_bind(n);
        nslab_region_t *r = nslab_region_create(size, &pol, NULL);
        if (!r) {
            demo_claim(d, 0, "node %d: nslab_region_create: %s", n, strerror(errno));
            continue;
        }
        nslab_region_report_t rep;
        nslab_placement_t pl;
        nslab_region_report(r, &rep);
        int e = nslab_region_verify(r, &pl);
        fprintf(d->out, "  node %d: bind(%d), kernel enforces %s, prefault %s\n", n, n,
                enforce_name(rep.enforced), prefault_name(rep.prefault));
        if (e == 0) {
            demo_histogram(d, "    pages:", &pl);
            demo_claim(d, pl.on_node[n] == pl.pages,
                       "all %zu pages of the region are on node %d", pl.pages, n);
        } else {
            demo_claim(d, 0, "node %d: verify: %s", n, strerror(-e));
        }
        nslab_region_destroy(r);
    }
    return 0;
}

int demo_interleaved(struct demo *d)
{
    const size_t size = 64 * MiB;
    char set[256];
    nslab_nodeset_format(&d->nodes, set, sizeof set);
    demo_title(d, "Interleaved: numa_malloc_interleaved(%zu MiB) over nodes %s", size >> 20, set);
    char *p = numa_malloc_interleaved(size, NULL);
    if (!p) {
        demo_claim(d, 0, "numa_malloc_interleaved: %s", strerror(errno));
        return 0;
    }
    nslab_placement_t pl;
    int e = nslab_range_placement(p, size, &pl);
    if (e != 0) {
        demo_claim(d, 0, "placement: %s", strerror(-e));
    } else {
        demo_histogram(d, "  pages:", &pl);
        /* The kernel interleaves a transparent huge page as a whole: even to
         * within one huge page (2 MiB) per node, exact without THP. */
        int k = nslab_nodeset_count(&d->nodes);
        size_t even = pl.pages / (size_t)k, tol = (2 * MiB) / pl.page_size + 1, worst = 0;
        int all_in_set = 1;
        for (int n = 0; n < NSLAB_MAX_NODES; n++) {
            if (!nslab_nodeset_has(&d->nodes, n)) {
                all_in_set &= pl.on_node[n] == 0;
                continue;
            }
            size_t dv = pl.on_node[n] > even ? pl.on_node[n] - even : even - pl.on_node[n];
            if (dv > worst)
                worst = dv;
        }
        demo_claim(d, all_in_set && pl.not_present == 0,
                   "every page is on a node of the set %s", set);
        demo_claim(d, worst <= tol,
                   "even over %d node%s: %zu pages each, off by at most %zu (one huge page "
                   "per node allowed: %zu)",
                   k, k == 1 ? "" : "s", even, worst, tol);
    }
    int fe = nslab_free(p); /* any pointer the library returned */
    demo_claim(d, fe == 0, "nslab_free of the interleaved allocation: %d", fe);
    return 0;
}
