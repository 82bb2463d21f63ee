/*
 * arena/region/region-internal.h - what the region layer's own files share
 * (policy.c, capacity.c, region*.c) and its unit tests (tests/region/);
 * nothing else includes it.  The interface for the rest of the
 * library is region.h.
 */
#ifndef NSLAB_REGION_INTERNAL_H
#define NSLAB_REGION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "numaslab.h"
#include "os.h"
#include "region.h"
#include "topology.h"

/* A policy resolved against the topology: what the kernel is told
 * (os_bind), and which real nodes that means.
 * Invariants: kernel_mode == -1 <=> enforced == NSLAB_ENFORCE_EMULATED;
 * strict <=> memory must fit on `nodes` (BIND, emulated weighted
 * interleave); `nodes` is never empty. */
struct policy_plan {
    int kernel_mode;              /* OS_POL_*, or -1 (emulated by sub-ranges) */
    unsigned kernel_flags;        /* OS_POL_STATIC_NODES / _RELATIVE_NODES */
    nslab_nodeset_t kernel_nodes; /* the mask os_bind gets (relative ids
                                     stay relative); empty for LOCAL */
    nslab_nodeset_t nodes;        /* the real nodes meant (relative ids
                                     mapped onto the cpuset's nodes) */
    nslab_nodeset_t asked;        /* the node set asked, for the report */
    int first_node;               /* seg_hdr.node: first real node */
    nslab_enforce_t enforced;
    int strict;
    int nobind;                   /* DEFAULT: nothing is bound; the rest
                                     describes the thread's policy */
    int follows_cpu;              /* LOCAL, or DEFAULT under a default
                                     or local thread policy: the faulting
                                     CPU's local node, `nodes` only the
                                     calling thread's now */
};

/* Validate `pol` (NULL = local) and resolve it.  0 or a positive errno
 * (the list of nslab_region_create).  Reads the topology snapshot; a node
 * refused with ENODEV or EXDEV is looked up again in the kernel's layout
 * now (topology_recheck_refused) and may publish a new snapshot. */
int policy_resolve(const nslab_policy_t *pol, struct policy_plan *out);

/* The real node a relative node id means under the cpuset (the kernel's
 * fold-and-onto mapping), or -1 when no allowed node has memory. */
int policy_relative_node(const struct topology *t, int rel);


/* The same, drawing first on a claim (NULL = none): each node's need is
 * taken from the claim's share of that node as far as it goes, the rest
 * held as above.  All or nothing (drawn bytes go back to the claim on
 * failure).  0 or ENOMEM. */
int capacity_hold_nodes_claim(const int *node, const size_t *need, int n, size_t reserve,
                              nslab_claim_t *c, struct capacity_hold *h);
int capacity_hold_set_claim(const nslab_nodeset_t *nodes, size_t bytes, size_t reserve,
                            nslab_claim_t *c, struct capacity_hold *h);

/* The machine-wide ledger (ledger.c).  ledger_lock() returns 1 with the
 * ledger held when it is on (0, nothing held, when off); under it,
 * ledger_others(node) is what other live processes hold on node (entries
 * of dead ones are reclaimed on the way) and ledger_publish sets this
 * process's entry for node.  capacity_publish_all() writes every node of
 * this process's ledger (capacity.c). */
int ledger_lock(void);
void ledger_unlock(void);
uint64_t ledger_others(int node);
void ledger_publish(int node, uint64_t bytes);
void capacity_publish_all(void);

/* region_segment_map, keeping the capacity hold of a lazy (prefault NONE)
 * strict mapping in *keep for the mapping's life instead of releasing it
 * (keep->n = 0 when nothing is kept); the owner capacity_unhold()s it at
 * unmap. */
int region_segment_map_keep(size_t total, size_t head, const nslab_policy_t *pol,
                            const nslab_region_opts_t *opts, void **base, int *fd_out,
                            nslab_region_report_t *report, struct capacity_hold *keep);
/* region_segment_map_keep for an over-aligned block (anonymous memory, no hugetlb, no
 * memfd): *base is SEG_SIZE aligned and base + SEG_SIZE is `align`
 * aligned (align: a power of two >= SEG_SIZE).  Only the header page
 * [base, base + page) and [base + SEG_SIZE, base + total) are populated;
 * the rest of the first segment is address space only.  ENOMEM when the
 * address space cannot hold total + align bytes. */
int region_segment_map_skewed(size_t total, size_t align, const nslab_policy_t *pol,
                              const nslab_region_opts_t *opts, void **base,
                              nslab_region_report_t *report, struct capacity_hold *keep);

/* Check and hold `need[i]` bytes on node `node[i]` for i < n (each node at
 * most once): all or nothing.  A node's room is its free memory minus
 * `reserve` minus what the ledger already holds.  0 or ENOMEM. */
int capacity_hold_nodes(const int *node, const size_t *need, int n,
                        size_t reserve, struct capacity_hold *h);
/* Add `bytes` to node's entry of the (node[], need[]) list of *n entries
 * that capacity_hold_nodes() takes, appending the node if it is new. */
static inline void capacity_need_add(int *node, size_t *need, int *n, int real, size_t bytes)
{
    int j = 0;
    while (j < *n && node[j] != real)
        j++;
    if (j == *n) {
        node[j] = real;
        need[j] = 0;
        (*n)++;
    }
    need[j] += bytes;
}
/* Hold `bytes` over a node set, filling nodes in ascending order (where
 * a bind policy will take them from is the kernel's choice; only the total
 * is guaranteed).  0 or ENOMEM. */
int capacity_hold_set(const nslab_nodeset_t *nodes, size_t bytes,
                      size_t reserve, struct capacity_hold *h);
void capacity_unhold(struct capacity_hold *h);
/* The reserve in force (nslab_capacity_set_reserve / NUMASLAB_RESERVE_MB). */
size_t capacity_default_reserve(void);

/* The steps of region_segment_map that the caller's memory (caller.c)
 * shares: bind a fresh range per the plan (nothing for DEFAULT; each
 * sub-range for an emulated weighted interleave); prefault it (*done gets
 * what was done; 0 or ENOMEM); check a strict plan's nodes hold `len`
 * bytes of free huge pages of size `huge` (0 or ENOMEM). */
int region_apply_policy(char *base, size_t total, const struct policy_plan *pl,
                        const struct region_subrange *sub, size_t nsub);
int region_prefault(char *base, size_t total, nslab_prefault_t mode, size_t step,
                    nslab_prefault_t *done);
int region_check_huge(const struct policy_plan *pl, const struct region_subrange *sub,
                      size_t nsub, size_t len, size_t huge);

/* Options: 0 or EINVAL (unknown enum values or flags). */
int region_opts_check(const nslab_region_opts_t *o);
/* The granule a region's placement works in: the hugetlb page, the THP
 * size unless THP is refused (or the kernel has none), else the page. */
size_t region_granule(const nslab_region_opts_t *opts);

/* Is r a live, registered region header?  Never dereferences a pointer
 * the segment bitmap does not know. */
int region_valid(const struct nslab_region *r);

/* Test knob of region.h (region_set_emulate_weighted). */
extern int region_emulate_weighted;

#endif /* NSLAB_REGION_INTERNAL_H */
