/*
 * arena/region/region-move.c - nslab_region_move(): a live region's pages moved
 * under a new policy (DESIGN promise 7), checked, and the outcome reported
 * as it is; and region_scan(), the page census it and pool-move.c share.
 *
 * Order, nothing changed until step 3:
 *   1. validate the region and resolve the new policy (policy.c): the same
 *      errors as creation, before the kernel is asked anything;
 *   2. strict targets (BIND, emulated weighted interleave): count where the
 *      pages are now (region_scan) and check and hold, on each target node,
 *      the bytes of the mapping not already there (pages not yet touched
 *      count: they will be committed there) - ENOMEM here;
 *   3. os_move(strict) over the whole mapping (header page included), or
 *      each emulated sub-range.  The kernel installs the new policy first
 *      and then migrates the pages that lie outside its nodes; strict, it
 *      answers EIO when some could not be moved (NUMA-VM.md: a move that
 *      is not strict into a full node returns 0 and moves nothing).  Sub-ranges take two passes - first every policy,
 *      without moving, then the moves - so a refusal in the middle is
 *      undone before any page moved and the region keeps one policy;
 *   4. release the capacity hold, record the new policy and report;
 *   5. re-check with os_page_nodes: a page outside the target nodes (the
 *      kernel skips pages mapped by another process or mapping without a
 *      word, even for a strict move) makes the result -EIO, whatever the
 *      move said.
 *
 * Stack: up to ~14 KiB (the sub-range plan and the capacity hold), ~20 KiB
 * on the rare path that undoes a refused sub-range.
 *
 * Threads: as region.c - the caller owns the region; a move must not run
 * concurrently with destroy, another move, report or nslab_node_of of the
 * same region.  The region's memory may be read and written by any thread
 * meanwhile (the kernel migrates a page under a migration entry; an access
 * waits for that page's copy).  The capacity ledger is atomic.
 */
#include "region-internal.h"

#include <errno.h>
#include <string.h>

/* Pages asked of os_page_nodes per call (3 KiB of stack). */
#define SCAN_BATCH 256

int region_scan(const void *addr, size_t len, const nslab_nodeset_t *want,
                nslab_placement_t *hist, size_t *in, size_t *out)
{
    size_t ps = topology_get()->page_size;
    uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(ps - 1);
    uintptr_t end = ((uintptr_t)addr + len + ps - 1) & ~(uintptr_t)(ps - 1);
    size_t n = (end - a) / ps;
    void *pages[SCAN_BATCH];
    int status[SCAN_BATCH];

    if (hist)
        hist->page_size = ps;
    for (size_t i = 0; i < n; i += SCAN_BATCH) {
        size_t k = n - i < SCAN_BATCH ? n - i : SCAN_BATCH;
        for (size_t j = 0; j < k; j++) {
            pages[j] = (void *)(a + (i + j) * ps);
            status[j] = -EFAULT;
        }
        int e = os_page_nodes(k, pages, status);
        if (e)
            return e;
        for (size_t j = 0; j < k; j++) {
            int s = status[j];
            if (s >= 0 && s < NSLAB_MAX_NODES) {
                if (nslab_nodeset_has(want, s)) {
                    if (in)
                        (*in)++;
                } else if (out) {
                    (*out)++;
                }
                if (hist)
                    hist->on_node[s]++;
            } else if (hist) {
                if (s == -ENOENT)
                    hist->not_present++;
                else
                    hist->errors++;
            }
        }
        if (hist)
            hist->pages += k;
    }
    return 0;
}

/* The real node an emulated sub-range binds (relative ids mapped). */
static int sub_node(const struct region_subrange *s, unsigned kflags)
{
    if (kflags & OS_POL_RELATIVE_NODES)
        return policy_relative_node(topology_get(), s->node);
    return s->node;
}

/* The options a region was made with, as far as placement needs them. */
static nslab_region_opts_t region_opts_of(const struct nslab_region *r)
{
    nslab_region_opts_t o = NSLAB_REGION_OPTS_INIT();
    if (r->report.hugetlb)
        o.pages = NSLAB_PAGES_HUGETLB;
    else if (r->report.thp == 1)
        o.pages = NSLAB_PAGES_THP;
    else if (r->report.thp == 0)
        o.pages = NSLAB_PAGES_NO_THP;
    return o;
}

/* A resolved policy and, when emulated, its sub-ranges over the mapping. */
struct move_plan {
    struct policy_plan pl;
    size_t nsub;
    struct region_subrange sub[REGION_MAX_SUBRANGES];
};

static int plan_for(const struct nslab_region *r, const nslab_policy_t *pol,
                    struct move_plan *mp)
{
    int e = policy_resolve(pol, &mp->pl);
    mp->nsub = 0;
    if (e)
        return e;
    if (mp->pl.kernel_mode < 0) {
        nslab_region_opts_t o = region_opts_of(r);
        mp->nsub = region_weighted_plan(&pol->nodes, pol->weights, r->hdr.map_size,
                                        region_granule(&o), mp->sub, REGION_MAX_SUBRANGES);
        if (mp->nsub == 0)
            return EINVAL; /* more nodes than REGION_MAX_SUBRANGES */
    }
    return 0;
}

/* Strict targets: hold on each target node the bytes of the mapping that
 * are not on it yet.  0, ENOMEM, or os_page_nodes' errno. */
static int hold_target(const struct nslab_region *r, const struct move_plan *mp,
                       struct capacity_hold *h)
{
    size_t ps = topology_get()->page_size;
    size_t reserve = capacity_default_reserve();
    const char *base = (const char *)r;
    h->n = 0;
    if (!mp->pl.strict || r->report.hugetlb)
        return 0; /* hugetlb: the huge page pool decides, as at creation */
    if (mp->nsub == 0) {
        size_t in = 0;
        int e = region_scan(base, r->hdr.map_size, &mp->pl.nodes, NULL, &in, NULL);
        if (e)
            return e;
        size_t there = in * ps < r->hdr.map_size ? in * ps : r->hdr.map_size;
        return capacity_hold_set(&mp->pl.nodes, r->hdr.map_size - there, reserve, h);
    }
    int node[REGION_MAX_SUBRANGES];
    size_t need[REGION_MAX_SUBRANGES];
    int n = 0;
    for (size_t i = 0; i < mp->nsub; i++) {
        const struct region_subrange *s = &mp->sub[i];
        int real = sub_node(s, mp->pl.kernel_flags);
        nslab_nodeset_t one = nslab_nodeset_of(real);
        size_t in = 0;
        int e = region_scan(base + s->off, s->len, &one, NULL, &in, NULL);
        if (e)
            return e;
        size_t there = in * ps < s->len ? in * ps : s->len;
        capacity_need_add(node, need, &n, real, s->len - there);
    }
    return capacity_hold_nodes(node, need, n, reserve, h);
}

/* Bind one piece of the plan over [lo, hi) of the mapping (clipped to
 * each sub-range when emulated), and with `move` move its pages (strict).
 * *done gets the end of what the kernel took (an EIO counts as taken: the
 * policy is in force, some pages did not move), *eio is set on EIO.
 * Returns 0 or the first other errno. */
static int bind_or_move(char *addr, size_t len, int mode, unsigned flags,
                        const nslab_nodeset_t *nodes, int move)
{
    return move ? os_move(addr, len, mode, flags, nodes, 1)
                : os_bind(addr, len, mode, flags, nodes);
}

static int apply(char *base, const struct move_plan *mp, size_t lo, size_t hi,
                 int move, size_t *done, int *eio)
{
    const struct policy_plan *pl = &mp->pl;
    *done = lo;
    if (mp->nsub == 0) {
        int e = bind_or_move(base + lo, hi - lo, pl->kernel_mode, pl->kernel_flags,
                             &pl->kernel_nodes, move);
        if (e && e != EIO)
            return e;
        *eio |= e == EIO;
        *done = hi;
        return 0;
    }
    for (size_t i = 0; i < mp->nsub; i++) {
        size_t a = mp->sub[i].off, b = a + mp->sub[i].len;
        if (a < lo)
            a = lo;
        if (b > hi)
            b = hi;
        if (a >= b)
            continue;
        nslab_nodeset_t one = nslab_nodeset_of(mp->sub[i].node);
        int e = bind_or_move(base + a, b - a, OS_POL_BIND, pl->kernel_flags, &one, move);
        if (e && e != EIO)
            return e;
        *eio |= e == EIO;
        *done = b;
    }
    *done = hi;
    return 0;
}

/* A sub-range refused the new policy after earlier ones took it (the
 * cpuset shrank since the snapshot, or the kernel ran out of memory for
 * its policy): put the region's own policy back on [0, upto).  No page has
 * moved yet.  Best effort: if that is refused too, nothing better exists. */
static __attribute__((noinline)) void restore_policy(struct nslab_region *r, size_t upto)
{
    struct move_plan old;
    size_t done;
    int eio = 0;
    if (upto == 0 || plan_for(r, &r->policy, &old) != 0)
        return;
    (void)apply((char *)r, &old, 0, upto, 0, &done, &eio);
}

/* The policy is in force: record it as the region's own. */
static void record(struct nslab_region *r, const nslab_policy_t *to, const struct move_plan *mp)
{
    r->policy = *to;
    if (to->mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE) {
        memcpy(r->wcopy, to->weights, to->nweights);
        r->policy.weights = r->wcopy;
    } else {
        r->policy.weights = NULL;
        r->policy.nweights = 0;
    }
    __atomic_store_n(&r->hdr.node, mp->pl.first_node, __ATOMIC_RELAXED);
    r->report.asked = to->mode;
    r->report.flags = to->flags;
    r->report.nodes = mp->pl.asked;
    r->report.enforced = mp->pl.enforced;
    r->report.kernel_mode = mp->pl.kernel_mode;
    r->report.nsubranges = mp->nsub;
}

/* Pages of the mapping found outside where the plan puts them.  0 or
 * os_page_nodes' errno. */
static int count_stray(const struct nslab_region *r, const struct move_plan *mp, size_t *stray)
{
    const char *base = (const char *)r;
    *stray = 0;
    if (mp->nsub == 0)
        return region_scan(base, r->hdr.map_size, &mp->pl.nodes, NULL, NULL, stray);
    for (size_t i = 0; i < mp->nsub; i++) {
        nslab_nodeset_t one = nslab_nodeset_of(sub_node(&mp->sub[i], mp->pl.kernel_flags));
        int e = region_scan(base + mp->sub[i].off, mp->sub[i].len, &one, NULL, NULL, stray);
        if (e)
            return e;
    }
    return 0;
}

static int fail(int e)
{
    errno = e;
    return -e;
}

NSLAB_API int nslab_region_move(nslab_region_t *r, const nslab_policy_t *to,
                                nslab_placement_t *after)
{
    struct move_plan mp;
    struct capacity_hold hold = {0};
    int e, eio = 0;
    size_t done;

    if (!region_valid(r) || !to || !(r->flags & (REGION_F_USER | REGION_F_INTERLEAVED)))
        return fail(EINVAL);
    /* numa_malloc_interleaved keeps a node set (nslab_realloc reuses it). */
    if ((r->flags & REGION_F_INTERLEAVED) && to->mode != NSLAB_POLICY_INTERLEAVE)
        return fail(EINVAL);
    if (to->mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE && to->nweights > NSLAB_MAX_NODES)
        return fail(EINVAL);
    if ((e = plan_for(r, to, &mp)) != 0)
        return fail(e);
    if (mp.pl.nobind) {
        /* DEFAULT: drop the range's own policy (os_bind to the default
         * mode, no move: the pages stay where they are, later faults
         * follow the faulting thread's policy). */
        if ((e = os_bind(r, r->hdr.map_size, OS_POL_DEFAULT, 0, NULL)) != 0)
            return fail(e);
        record(r, to, &mp);
        capacity_unhold(&r->lazy); /* no binding: nothing to hold */
        if (after) {
            memset(after, 0, sizeof(*after));
            if ((e = region_scan(region_data(r), r->size, &mp.pl.nodes, after, NULL, NULL)) != 0)
                return fail(e);
        }
        return 0;
    }
    if ((e = hold_target(r, &mp, &hold)) != 0)
        return fail(e);

    char *base = (char *)r;
    size_t total = r->hdr.map_size;
    if (mp.nsub) {
        /* Pass 1: the policies only, so a refusal leaves nothing moved. */
        if ((e = apply(base, &mp, 0, total, 0, &done, &eio)) != 0) {
            restore_policy(r, done);
            capacity_unhold(&hold);
            return fail(e);
        }
    }
    /* The moves.  In pass 2 every policy is already in force, so any
     * refusal only means pages that did not move. */
    e = apply(base, &mp, 0, total, 1, &done, &eio);
    if (r->lazy.n && (e == 0 || mp.nsub)) {
        /* The new policy is in force: a lazy region's lifetime hold
         * follows it (the move's hold: its bytes not on the new nodes;
         * nothing when the new policy is not strict). */
        capacity_unhold(&r->lazy);
        r->lazy = hold;
        hold.n = 0;
    }
    capacity_unhold(&hold);
    if (e && mp.nsub == 0)
        return fail(e); /* one call, refused before anything changed */
    eio |= e != 0;
    record(r, to, &mp);

    size_t stray = 0;
    if ((e = count_stray(r, &mp, &stray)) != 0)
        return fail(e);
    if (after) {
        memset(after, 0, sizeof(*after));
        if ((e = region_scan(region_data(r), r->size, &mp.pl.nodes, after, NULL, NULL)) != 0)
            return fail(e);
    }
    return eio || stray ? fail(EIO) : 0;
}
