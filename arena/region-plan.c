/*
 * arena/region-plan.c - the sub-range plan of an emulated weighted
 * interleave (kernels before 6.9, or weights other than the system's).
 *
 * The range is cut into granules (pages, or huge pages when the region may
 * use them, so the kernel never has to split a huge page between two
 * policies).  Each node's share of granules is fixed first, exactly: the
 * largest-remainder rounding of n * w_i / W, so every share is within one
 * granule of the weights and the shares add up to n.  The shares are then
 * dealt out in R rounds, in ascending node order within a round, as the
 * kernel's weighted interleave deals pages: R is as large as
 * REGION_MAX_SUBRANGES allows (and at most n / W), so consecutive memory
 * still spreads over all nodes.  Adjacent sub-ranges of one node are merged.
 *
 * Pure function: no state, no allocation (5 KiB of stack), O(k^2 + R * k)
 * for k <= REGION_MAX_SUBRANGES nodes.
 */
#include "region.h"

size_t region_weighted_plan(const nslab_nodeset_t *nodes, const unsigned char *weights,
                            size_t len, size_t granule, struct region_subrange *out,
                            size_t max)
{
    int k = nodes ? nslab_nodeset_count(nodes) : 0;
    if (k == 0 || !weights || len == 0 || granule == 0 || (granule & (granule - 1)) ||
        max == 0 || k > REGION_MAX_SUBRANGES)
        return 0; /* more nodes than sub-ranges could never fit */

    uint64_t W = 0;
    for (int i = 0; i < k; i++) {
        if (weights[i] == 0)
            return 0;
        W += weights[i];
    }
    uint64_t n = (len + granule - 1) / granule; /* the last granule may be partial */

    /* Exact shares by largest remainder (ties to the lower node). */
    uint64_t share[REGION_MAX_SUBRANGES];
    uint64_t rem[REGION_MAX_SUBRANGES];
    uint64_t given = 0;
    for (int i = 0; i < k; i++) {
        share[i] = n / W * weights[i] + (n % W) * weights[i] / W;
        rem[i] = (n % W) * weights[i] % W;
        given += share[i];
    }
    for (uint64_t extra = n - given; extra > 0; extra--) {
        int best = 0;
        for (int i = 1; i < k; i++)
            if (rem[i] > rem[best])
                best = i;
        share[best]++;
        rem[best] = 0;
    }

    /* Rounds: at most max / k (so the plan fits), at most n / W (each round
     * gets at least a whole weight's worth), at least 1. */
    uint64_t rounds = max / (size_t)k;
    if (rounds > n / W)
        rounds = n / W;
    if (rounds == 0)
        rounds = 1;

    int ids[REGION_MAX_SUBRANGES];
    {
        int i = 0;
        for (int nd = nslab_nodeset_next(nodes, 0); nd >= 0; nd = nslab_nodeset_next(nodes, nd + 1))
            ids[i++] = nd;
    }

    size_t cnt = 0;
    uint64_t at = 0; /* granules planned so far */
    for (uint64_t r = 0; r < rounds; r++) {
        for (int i = 0; i < k; i++) {
            uint64_t g = share[i] / rounds + (r < share[i] % rounds ? 1 : 0);
            if (g == 0)
                continue;
            size_t off = (size_t)(at * granule);
            size_t l = (size_t)(g * granule);
            if (off + l > len)
                l = len - off;
            at += g;
            if (cnt > 0 && out[cnt - 1].node == ids[i]) {
                out[cnt - 1].len += l;
                continue;
            }
            if (cnt == max)
                return 0; /* more nodes than sub-ranges allowed */
            out[cnt].off = off;
            out[cnt].len = l;
            out[cnt].node = ids[i];
            cnt++;
        }
    }
    return cnt;
}
