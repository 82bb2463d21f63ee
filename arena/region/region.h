/*
 * arena/region/region.h - private interface of the region (placement) layer.
 *
 * A region is a segment (segment.h) mapped aligned to SEG_SIZE, with a
 * policy applied (os_bind) before any page is touched, checked against the
 * target nodes' capacity before anything is committed, then prefaulted.
 * Arena chunks and pool segments are built with region_segment_map(); user
 * regions, large blocks and interleaved allocations are struct nslab_region.
 *
 * Layout of a struct nslab_region mapping:
 *     [ struct nslab_region header, padded to data_off ][ user data ... ]
 * data_off is the page size (the huge page size for HUGETLB, or `align`
 * when larger), so user data is page aligned and lies in the first segment.
 */
#ifndef NSLAB_REGION_H
#define NSLAB_REGION_H

#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"
#include "segment.h"
#include "topology.h"

/* Largest number of sub-ranges an emulated weighted interleave uses. */
#define REGION_MAX_SUBRANGES 256

/* Capacity held while a strict region commits its pages, so that two
 * regions (or a region and a pool reservation) created at the same time do
 * not both count the same free memory.  Bounded so it lives on the stack:
 * a region spread over more than CAPACITY_HOLD_MAX nodes holds the first
 * ones only (the check itself covers every node). */
#define CAPACITY_HOLD_MAX 64
struct capacity_hold {
    int n;
    int node[CAPACITY_HOLD_MAX];
    size_t bytes[CAPACITY_HOLD_MAX];
};

/* What a region records (also what its report is derived from). */
struct nslab_region {
    struct seg_hdr hdr;        /* kind SEG_REGION; hdr.node = first node */
    uint32_t flags;            /* REGION_F_* */
    int32_t fd;                /* memfd, or -1 */
    size_t data_off;           /* user data = (char *)this + data_off */
    size_t size;               /* user bytes */
    nslab_policy_t policy;     /* as asked; policy.weights points to wcopy */
    unsigned char wcopy[NSLAB_MAX_NODES]; /* weights, copied */
    nslab_region_report_t report;
    struct capacity_hold lazy;  /* a lazy strict region's capacity, held
                                   for its life (region-map.c) */
    unsigned long topo_gen;    /* topology_generation at creation: once it
                                  differs, the kernel may have moved the
                                  pages (a cpuset change), and
                                  nslab_node_of asks where they are */
    struct nslab_region *reg_next, *reg_prev; /* user and interleaved
                                  regions: the drain registry
                                  (region-drain.c, its lock) */
};

#define REGION_F_LARGE       0x1u  /* a large block of the arena */
#define REGION_F_INTERLEAVED 0x2u  /* from numa_malloc_interleaved */
#define REGION_F_USER        0x4u  /* from nslab_region_create */

/* Validate a policy against the topology.  0 or a positive errno (the
 * errno list of nslab_region_create). */
int policy_check(const nslab_policy_t *pol);

/* Map `total` bytes (a multiple of the page size) at a SEG_SIZE-aligned
 * address, apply `pol` (NULL = DEFAULT) to all of it, run the capacity
 * check under BIND (before committing), apply opts->pages and prefault per
 * opts->prefault (NULL opts = defaults).  Does not write or register a
 * header: the caller writes its own seg_hdr at *base and seg_register()s it.
 * Returns 0 or a positive errno.  fd_out (may be NULL) receives the memfd
 * for NSLAB_REGION_MEMFD: its file holds [base + head, base + total) from
 * offset 0, and the first `head` bytes (the caller's header; a multiple of
 * the page, huge page for HUGETLB) are anonymous memory outside the file.
 * head is ignored without MEMFD. */
int region_segment_map(size_t total, size_t head, const nslab_policy_t *pol,
                       const nslab_region_opts_t *opts, void **base,
                       int *fd_out, nslab_region_report_t *report);
int region_segment_unmap(void *base, size_t total);
/* region_segment_map() for a caller that commits the mapping later, page
 * by page (arena chunks: opts->prefault NONE, pol a BIND to one node): the
 * capacity the strict policy's check took is not released at the end but
 * left in the ledger, on that node, as the caller's reservation; *held is
 * how many bytes (0 when the policy is not strict).  The caller gives them
 * back with capacity_release() as it commits pages, and takes decommitted
 * pages back with capacity_rehold(). */
int region_segment_map_held(size_t total, const nslab_policy_t *pol,
                            const nslab_region_opts_t *opts, void **base, size_t *held);

/* Create a struct nslab_region with user data of `size` bytes aligned to
 * `align` (0 = page).  kind_flags is REGION_F_*.  Positive errno on error. */
int region_create(size_t size, size_t align, const nslab_policy_t *pol,
                  const nslab_region_opts_t *opts, uint32_t kind_flags,
                  struct nslab_region **out);
int region_destroy(struct nslab_region *r);
/* Give back the capacity a lazy strict region holds for its life (its
 * capacity was checked at creation; from now on only the free memory
 * reading counts its pages): for the arena's large blocks left to first
 * touch, whose touched pages the ledger cannot tell from the others and
 * would count twice. */
void region_drop_hold(struct nslab_region *r);

static inline void *region_data(const struct nslab_region *r)
{
    return (char *)r + r->data_off;
}

/* Emulated weighted interleave: the plan of consecutive sub-ranges, each
 * bound to one node of `nodes` (ascending order, weights[i] for the i-th
 * node).  [0, len) is cut in granules of `granule` bytes (a power of two;
 * the last granule may be partial, and comes last); node i gets
 * len * w_i / sum(w) bytes rounded to whole granules by largest remainder
 * (within one granule of the weights, summing to len), dealt out in as
 * many rounds as `max` sub-ranges allow.  Pure function.  Returns the number of sub-ranges
 * written to out[], or 0 for bad input (empty set, a weight 0, more nodes
 * than REGION_MAX_SUBRANGES or than `max`). */
struct region_subrange {
    size_t off, len;
    int node;
};
size_t region_weighted_plan(const nslab_nodeset_t *nodes, const unsigned char *weights,
                            size_t len, size_t granule, struct region_subrange *out,
                            size_t max);
/* Tests: force emulation of weighted interleave even where the kernel mode
 * exists and the weights match the system's (1 = on). */
void region_set_emulate_weighted(int on);

/* Capacity ledger (promise 6): bytes reserved on each node by callers that
 * will commit later (pools).  region capacity checks subtract them.
 * 0 or ENOMEM. */
int capacity_reserve(int node, size_t bytes);
void capacity_release(int node, size_t bytes);
/* The same drawing first on claim `c` (NULL = none): *drawn gets what came
 * from the claim; release gives that back to the claim, the rest to the
 * ledger.  0, ENOMEM. */
int capacity_reserve_claim(int node, size_t bytes, nslab_claim_t *c, size_t *drawn);
void capacity_release_claim(int node, size_t bytes, nslab_claim_t *c, size_t drawn);
/* 0 for NULL or a live claim, else EINVAL. */
int capacity_claim_check(const nslab_claim_t *c);
/* Add bytes to node's reservation without a check: memory that was
 * committed under a reservation and is given back to the kernel (a
 * decommitted chunk page) is still promised to its holder.  The node's
 * room does not change: its free memory grew by as much. */
void capacity_rehold(int node, size_t bytes);
/* Bytes the ledger holds on a node now (0 for a bad node). */
size_t capacity_held(int node);
/* Would `bytes` fit on the node set now? 0 or ENOMEM. */
int capacity_check(const nslab_nodeset_t *nodes, size_t bytes, size_t reserve);

/* Where the pages of [addr, addr + len) are, by the kernel's answer for
 * each page (os_page_nodes), in batches on the stack (region-move.c).
 * Present pages on a node of `want` add to *in, on another node to *out
 * (either may be NULL); hist (may be NULL) is added to, not cleared.  0 or
 * the kernel's errno. */
int region_scan(const void *addr, size_t len, const nslab_nodeset_t *want,
                nslab_placement_t *hist, size_t *in, size_t *out);

/* Re-bind a mapping of region_segment_map() (base, total) to one node
 * (bind policy): move = 0 sets the policy only (pages already there stay);
 * move = 1 also moves them, strictly: EIO when some page did not move (the
 * policy is in force even then).  0 or a positive errno. */
int region_segment_bind(void *base, size_t total, int node, int move);

/* Bookkeeping memory of the layers above (pool headers and metadata, pool
 * sets, audit scratch): anonymous, page aligned, read-write, zero, never
 * malloc.  `bytes` a multiple of the page size.  0 or ENOMEM. */
int region_meta_map(size_t bytes, void **out);
void region_meta_unmap(void *p, size_t bytes);
/* Prefer `node` for the pages of [p, p + bytes) (a full node must not
 * fail bookkeeping, so not strict), and with move = 1 move those already
 * there.  Best effort: nothing is reported. */
void region_meta_prefer(void *p, size_t bytes, int node, int move);

/* ---- draining a node (region-drain.c) ------------------------------- */

/* The drain registry: user regions and interleaved allocations are added
 * at creation and removed first thing at destroy (region.c). */
void region_registry_add(struct nslab_region *r);
void region_registry_remove(struct nslab_region *r);

/* A layer beside the arena that keeps memory of its own (the pools)
 * registers, before its first segment of `kind` exists, the function that
 * moves all of it off `node` to the nodes `to` (`target`: the one of them
 * nearest to node, for what lives on one node) and adds what it did to
 * *rep (pools_moved, pools_failed, pages_*, error, failed_pool).  As
 * seg_set_free: release store, acquire load. */
typedef void (*region_drain_fn)(int node, const nslab_nodeset_t *to, int target,
                                nslab_drain_report_t *rep);
void region_set_drain(enum seg_kind kind, region_drain_fn fn);

/* Add one region's or pool's move to *rep: `before` and `after` its base
 * pages on the node, `e` the move's errno (0, or EIO turned 0 by the
 * caller when the census should judge).  Pages left with e == 0 make it
 * EIO.  Counts it moved or failed (as a pool if `pool` is non-NULL, else
 * as region `region`); the first failure's errno and object are kept. */
void region_drain_account(nslab_drain_report_t *rep, size_t before, size_t after, int e,
                          const void *region, const void *pool);

/* Move every registered region off `node` (region-drain.c's file comment
 * says how each policy is rewritten), then run every registered kind's
 * drain function.  `to`: a checked, non-empty set without `node`.  Adds to
 * *rep.  Call with no lock of the layers above held. */
void region_drain(int node, const nslab_nodeset_t *to, nslab_drain_report_t *rep);

/* Does `nodes` hold a node the published snapshot marks drained? */
static inline int region_names_drained(const nslab_nodeset_t *nodes)
{
    const nslab_nodeset_t *d = &topology_get()->drained;
    for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
        if (nodes->bits[i] & d->bits[i])
            return 1;
    return 0;
}

/* Pages of [addr, addr + len) on `node` now (0 when the query fails).
 * A page the kernel answers EFAULT for (a NUMA-balancing hint on a
 * mapping without a policy: present all the same) is read and asked
 * again, here and in region_evacuate: the range must be readable whole. */
size_t region_pages_on(const void *addr, size_t len, int node);
/* Migrate the pages of [addr, addr + len) found on `node` to `target`
 * (os_page_move), whatever the range's policy.  Best effort: the caller
 * counts what is left (region_pages_on).  0 or os_page_nodes' errno. */
int region_evacuate(void *addr, size_t len, int node, int target);

/* Fork child of a multi-threaded process: the registry lock back. */
void region_drain_fork_child(void);

#endif /* NSLAB_REGION_H */
