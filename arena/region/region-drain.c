/*
 * arena/region/region-drain.c - moving the region layer's memory off a
 * node that is being drained (nslab_node_drain, arena/drain.c), and the
 * registry that makes it possible: every live user region and interleaved
 * allocation is on one list, and the layers beside the arena that keep
 * memory of their own (the pools) register a drain function per segment
 * kind, as they register their free function (segment.h), so the walk
 * needs no call upwards.
 *
 * What a region's drain does (region_drain_one):
 *  - a policy that names the node (BIND, PREFERRED_MANY, INTERLEAVE,
 *    WEIGHTED_INTERLEAVE with the node in its set; PREFERRED the node;
 *    LOCAL to a node whose local memory was the node) is replaced: the
 *    node leaves the set and the target nodes `to` join it (a weighted
 *    interleave gives each new node the drained node's weight), PREFERRED
 *    prefers the target nearest to the node, LOCAL(n) is re-resolved (the
 *    drained snapshot names another local node), and the region is moved
 *    with nslab_region_move (capacity check, strict migration, check);
 *  - a policy that does not name it (DEFAULT, LOCAL, PREFERRED elsewhere)
 *    is kept; its pages found on the node are migrated to the target
 *    nearest to the node (os_page_move), as are pages a move left there;
 *  - a RELATIVE_NODES policy whose ids fold onto the node cannot be
 *    rewritten without changing what it means: it fails with EOPNOTSUPP.
 * The outcome is counted in the caller's report: pages on the node
 * before and after (the whole mapping, header page included), regions
 * moved or failed, the first failure's errno and handle.
 *
 * Lock: reg_lock protects the list (reg_next, reg_prev of every region on
 * it) and is held for a whole drain walk, so a region cannot be destroyed
 * while the walk moves it (region_destroy unlinks first, and waits);
 * creation waits too.  It is a leaf but for what a region move takes (the
 * capacity ledger, the kernel).  The registered drain functions run after
 * it is released.
 */
#include "region-internal.h"
#include "dlist.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define SCAN_BATCH 256

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct nslab_region *reg_head; /* reg_lock */
static region_drain_fn drain_table[SEG_KINDS];

void region_registry_add(struct nslab_region *r)
{
    pthread_mutex_lock(&reg_lock);
    NSLAB_DLIST_PUSH(reg_head, r, reg_prev, reg_next);
    pthread_mutex_unlock(&reg_lock);
}

void region_registry_remove(struct nslab_region *r)
{
    pthread_mutex_lock(&reg_lock);
    NSLAB_DLIST_UNLINK(reg_head, r, reg_prev, reg_next);
    pthread_mutex_unlock(&reg_lock);
}

void region_set_drain(enum seg_kind kind, region_drain_fn fn)
{
    if ((unsigned)kind < SEG_KINDS)
        __atomic_store_n(&drain_table[kind], fn, __ATOMIC_RELEASE);
}

void region_drain_fork_child(void)
{
    /* a walk in another thread is abandoned; the list is linked under the
     * lock, so the child's copy is whole unless the fork caught a link */
    pthread_mutex_init(&reg_lock, NULL);
}

/* Where k pages are, settled: automatic NUMA balancing turns the PTEs of
 * mappings without a policy of their own (DEFAULT regions) PROT_NONE to
 * sample accesses, and the kernel then answers EFAULT for a page that is
 * present (tests/vm/README.md).  Reading such a page takes the hinting
 * fault and restores its PTE, so those pages are read and asked again
 * (twice at most; the scanner comes back a second or more later).  The
 * pages lie in a mapping of the library's, readable whole.  0 or the
 * kernel's errno. */
static int page_nodes_settled(size_t k, void **pages, int *status)
{
    for (int round = 0;; round++) {
        int e = os_page_nodes(k, pages, status);
        if (e)
            return e;
        int hidden = 0;
        for (size_t j = 0; j < k; j++)
            if (status[j] == -EFAULT) {
                (void)*(volatile const char *)pages[j];
                hidden = 1;
            }
        if (!hidden || round == 2)
            return 0;
    }
}

/* One pass over [addr, addr + len): count the pages on `node` into *on
 * and, with target >= 0, move them to target.  0 or the kernel's errno. */
static int pass_on(void *addr, size_t len, int node, int target, size_t *on)
{
    size_t ps = topology_get()->page_size;
    uintptr_t a = (uintptr_t)addr & ~(uintptr_t)(ps - 1);
    uintptr_t end = ((uintptr_t)addr + len + ps - 1) & ~(uintptr_t)(ps - 1);
    size_t n = (end - a) / ps;
    void *pages[SCAN_BATCH], *away[SCAN_BATCH];
    int status[SCAN_BATCH], nodes[SCAN_BATCH];

    for (size_t i = 0; i < n; i += SCAN_BATCH) {
        size_t k = n - i < SCAN_BATCH ? n - i : SCAN_BATCH, na = 0;
        for (size_t j = 0; j < k; j++)
            pages[j] = (void *)(a + (i + j) * ps);
        int e = page_nodes_settled(k, pages, status);
        if (e)
            return e;
        for (size_t j = 0; j < k; j++)
            if (status[j] == node) {
                away[na] = pages[j];
                nodes[na++] = target;
            }
        *on += na;
        if (na && target >= 0)
            (void)os_page_move(na, away, nodes, status); /* the census says */
    }
    return 0;
}

size_t region_pages_on(const void *addr, size_t len, int node)
{
    size_t on = 0;
    return pass_on((void *)addr, len, node, -1, &on) == 0 ? on : 0;
}

int region_evacuate(void *addr, size_t len, int node, int target)
{
    size_t on = 0;
    return pass_on(addr, len, node, target, &on);
}

/* Does a set of relative node ids fold onto `node` (the kernel's mapping
 * onto the cpuset's nodes, which a drain does not change)? */
static int relative_names(const nslab_nodeset_t *rel, int node)
{
    const struct topology *t = topology_get();
    for (int m = nslab_nodeset_next(rel, 0); m >= 0; m = nslab_nodeset_next(rel, m + 1))
        if (policy_relative_node(t, m) == node)
            return 1;
    return 0;
}

/* The policy r gets: the node replaced by `to` (file comment).  Returns 1
 * when r's policy names the node (*out set), 0 when it does not, or a
 * negative errno when it cannot be rewritten. */
static int drained_policy(const struct nslab_region *r, int node, const nslab_nodeset_t *to,
                          int target, nslab_policy_t *out, unsigned char *w)
{
    const nslab_policy_t *p = &r->policy;
    *out = *p;
    switch (p->mode) {
    case NSLAB_POLICY_BIND:
    case NSLAB_POLICY_PREFERRED_MANY:
    case NSLAB_POLICY_INTERLEAVE:
    case NSLAB_POLICY_WEIGHTED_INTERLEAVE:
        if (p->flags & NSLAB_POLICY_RELATIVE_NODES)
            return relative_names(&p->nodes, node) ? -EOPNOTSUPP : 0;
        if (!nslab_nodeset_has(&p->nodes, node))
            return 0;
        nslab_nodeset_del(&out->nodes, node);
        for (unsigned i = 0; i < NSLAB_MAX_NODES / 64; i++)
            out->nodes.bits[i] |= to->bits[i];
        if (p->mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE) {
            /* old weights by node, then the new set's in ascending order */
            unsigned char by[NSLAB_MAX_NODES] = {0};
            size_t i = 0, k = 0;
            for (int m = nslab_nodeset_next(&p->nodes, 0); m >= 0 && i < p->nweights;
                 m = nslab_nodeset_next(&p->nodes, m + 1))
                by[m] = p->weights[i++];
            for (int m = nslab_nodeset_next(&out->nodes, 0); m >= 0;
                 m = nslab_nodeset_next(&out->nodes, m + 1))
                w[k++] = by[m] ? by[m] : by[node];
            out->weights = w;
            out->nweights = k;
        }
        return 1;
    case NSLAB_POLICY_PREFERRED:
        if (p->flags & NSLAB_POLICY_RELATIVE_NODES) {
            nslab_nodeset_t one = nslab_nodeset_of(p->node);
            return relative_names(&one, node) ? -EOPNOTSUPP : 0;
        }
        if (p->node != node)
            return 0;
        out->node = target;
        return 1;
    case NSLAB_POLICY_LOCAL:
        /* LOCAL(n): the local memory of n's CPUs, re-resolved against the
         * drained snapshot; LOCAL of the faulting CPU is kept */
        return p->node >= 0 && r->hdr.node == node;
    default:
        return 0;
    }
}

static void drain_one(struct nslab_region *r, int node, const nslab_nodeset_t *to, int target,
                      nslab_drain_report_t *rep)
{
    size_t before = region_pages_on(r, r->hdr.map_size, node);
    nslab_policy_t np;
    unsigned char w[NSLAB_MAX_NODES];
    int names = drained_policy(r, node, to, target, &np, w), e = 0;
    if (names == 0 && before == 0)
        return; /* nothing of it on the node, and it will not put any there */
    if (names < 0) {
        e = -names;
    } else {
        if (names == 1 && nslab_region_move(r, &np, NULL) != 0 && errno != EIO)
            e = errno; /* nothing changed (capacity, a refused policy) */
        if (e == 0)
            (void)region_evacuate(r, r->hdr.map_size, node, target);
    }
    region_drain_account(rep, before, region_pages_on(r, r->hdr.map_size, node), e, r, NULL);
}

void region_drain_account(nslab_drain_report_t *rep, size_t before, size_t after, int e,
                          const void *region, const void *pool)
{
    size_t moved = before > after ? before - after : 0;
    rep->pages_moved += moved;
    rep->bytes_moved += (uint64_t)moved * topology_get()->page_size;
    rep->pages_left += after;
    if (e == 0 && after)
        e = EIO;
    if (e && !rep->error) {
        rep->error = e;
        rep->failed_region = pool ? NULL : region;
        rep->failed_pool = pool;
    }
    uint64_t *count = pool ? (e ? &rep->pools_failed : &rep->pools_moved)
                           : (e ? &rep->regions_failed : &rep->regions_moved);
    (*count)++;
}

void region_drain(int node, const nslab_nodeset_t *to, nslab_drain_report_t *rep)
{
    int target = topology_nearest_in(topology_get(), node, to);
    if (target < 0)
        target = nslab_nodeset_next(to, 0);
    pthread_mutex_lock(&reg_lock);
    for (struct nslab_region *r = reg_head; r; r = r->reg_next)
        drain_one(r, node, to, target, rep);
    pthread_mutex_unlock(&reg_lock);
    for (unsigned k = 0; k < SEG_KINDS; k++) {
        region_drain_fn fn = __atomic_load_n(&drain_table[k], __ATOMIC_ACQUIRE);
        if (fn)
            fn(node, to, target, rep);
    }
}
