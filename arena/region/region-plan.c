/*
 * arena/region/region-plan.c - the sub-range plan of an emulated weighted
 * interleave (kernels before 6.9, or weights other than the system's).
 *
 * The range is cut into granules (pages, or huge pages when the region may
 * use them, so the kernel never has to split a huge page between two
 * policies).  Each node's share is fixed first, exactly: whole granules by
 * largest-remainder rounding of len * w_i / W, the partial last granule
 * (if any) to the next largest remainder, so every node's bytes are within
 * one granule of the weights and the shares add up to len.  The shares are
 * then dealt out in R rounds, in ascending node order within a round, as the
 * kernel's weighted interleave deals pages: R is as large as
 * REGION_MAX_SUBRANGES allows (and at most full granules / W), so
 * consecutive memory
 * still spreads over all nodes; the partial granule comes last.  Adjacent
 * sub-ranges of one node are merged.
 *
 * Pure function: no state, no allocation (7 KiB of stack), O(k^2 + R * k)
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
    /* Shares in bytes: node i should get e_i = len * w_i / W.  Whole
     * granules first, s_i = floor(e_i / granule); the granules left over
     * (fewer than k) go to the largest remainders e_i - s_i * granule
     * (ties to the lower node), and the partial last granule, if any, to
     * the next largest.  So every node's bytes are within one granule of
     * e_i, and the shares add up to len. */
    const uint64_t full = len / granule, tail = len % granule;
    uint64_t share[REGION_MAX_SUBRANGES];     /* whole granules */
    unsigned __int128 rem[REGION_MAX_SUBRANGES]; /* (e_i - s_i * granule) * W */
    uint8_t taken[REGION_MAX_SUBRANGES];
    uint64_t given = 0;
    for (int i = 0; i < k; i++) {
        unsigned __int128 lw = (unsigned __int128)len * weights[i];
        share[i] = (uint64_t)(lw / W / granule);
        rem[i] = lw - (unsigned __int128)share[i] * granule * W;
        taken[i] = 0;
        given += share[i];
    }
    int tail_node = -1; /* index of the node that gets the partial granule */
    for (uint64_t extra = full - given + (tail ? 1 : 0); extra > 0; extra--) {
        int best = -1;
        for (int i = 0; i < k; i++)
            if (!taken[i] && (best < 0 || rem[i] > rem[best]))
                best = i;
        taken[best] = 1;
        if (extra == 1 && tail)
            tail_node = best;
        else
            share[best]++;
    }

    /* Rounds: at most (max - the tail's piece) / k so the plan fits, at
     * most full / W (each round gets at least a whole weight's worth), at
     * least 1. */
    uint64_t rounds = (max - (tail ? 1 : 0)) / (size_t)k;
    if (rounds > full / W)
        rounds = full / W;
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
    for (uint64_t r = 0; r <= rounds; r++) {
        for (int i = 0; i < k; i++) {
            size_t off = (size_t)(at * granule), l;
            if (r < rounds) {
                uint64_t g = share[i] / rounds + (r < share[i] % rounds ? 1 : 0);
                if (g == 0)
                    continue;
                l = (size_t)(g * granule);
                at += g;
            } else if (i == tail_node) {
                l = (size_t)tail; /* the partial granule: last of all */
            } else {
                continue;
            }
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
