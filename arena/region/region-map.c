/*
 * arena/region/region-map.c - region_segment_map(): the one path by which the
 * library turns address space into placed memory (user regions, large and
 * interleaved blocks, arena chunks, pool segments); a segment re-bound to
 * another node (region_segment_bind, for pool moves); and the bookkeeping
 * memory of the layers above (region_meta_*), so that they need no OS call.
 *
 * Order, each step undone if a later one fails:
 *   1. validate options and resolve the policy (policy.c): nothing is asked
 *      of the kernel for bad input, a node outside the cpuset included;
 *   2. strict policies (BIND, emulated weighted interleave): check and hold
 *      the capacity (capacity.c) - ENOMEM here, not an OOM kill later;
 *   3. map (os_map: SEG_SIZE aligned; memfd MAP_SHARED; MAP_HUGETLB);
 *   4. bind the whole mapping (os_bind; or each sub-range when emulating);
 *   5. THP asked or refused (os_thp), before any page exists;
 *   6. prefault (os_commit: populate where the kernel can, else a write
 *      per page - per huge page when the region asked for THP or hugetlb);
 *   7. release the capacity hold (the pages now show in free memory; with
 *      prefault NONE the caller chose first touch, and later touches are
 *      not held against other callers).
 * Stack: up to ~15 KiB (the sub-range plan and its per-node needs).
 * Under THP "always" the header write of a prefault-NONE region commits
 * its first huge page (under the region's policy, so placement holds).
 *
 * Threads: no shared state of its own; the capacity ledger is atomic.
 */
#include "region-internal.h"

#include <errno.h>

/* Default hugetlb page size when the topology does not know the PMD size. */
#define REGION_HUGETLB_DEFAULT ((size_t)2 << 20)

static size_t hugetlb_size(const struct topology *t)
{
    return t->thp_size ? t->thp_size : REGION_HUGETLB_DEFAULT;
}

size_t region_granule(const nslab_region_opts_t *opts)
{
    const struct topology *t = topology_get();
    nslab_pages_t pages = opts ? opts->pages : NSLAB_PAGES_DEFAULT;
    if (pages == NSLAB_PAGES_HUGETLB)
        return hugetlb_size(t);
    if (pages != NSLAB_PAGES_NO_THP && t->thp_size)
        return t->thp_size;
    return t->page_size;
}

int region_opts_check(const nslab_region_opts_t *o)
{
    if (!o)
        return 0;
    if ((unsigned)o->prefault > NSLAB_PREFAULT_POPULATE ||
        (unsigned)o->pages > NSLAB_PAGES_HUGETLB || (o->flags & ~NSLAB_REGION_MEMFD))
        return EINVAL;
    return capacity_claim_check(o->claim);
}

/* The hold of an emulated weighted interleave: each node its sub-ranges. */
static int hold_plan(const struct region_subrange *sub, size_t nsub, unsigned kflags,
                     size_t reserve, nslab_claim_t *claim, struct capacity_hold *h)
{
    const struct topology *t = topology_get();
    int node[REGION_MAX_SUBRANGES];
    size_t need[REGION_MAX_SUBRANGES];
    int n = 0;
    for (size_t i = 0; i < nsub; i++) {
        int real = sub[i].node;
        if (kflags & OS_POL_RELATIVE_NODES)
            real = policy_relative_node(t, real);
        capacity_need_add(node, need, &n, real, sub[i].len);
    }
    return capacity_hold_nodes_claim(node, need, n, reserve, claim, h);
}

/* Strict hugetlb memory: the nodes' free huge pages must hold it.  The
 * kernel reserves huge pages from the global pool at mmap, so without this
 * a bound node short of them would SIGBUS at the fault.  Not held against
 * racers (the ledger counts MemFree bytes): the prefault's ENOMEM is the
 * backstop.  0 or ENOMEM. */
int region_check_huge(const struct policy_plan *pl, const struct region_subrange *sub,
                      size_t nsub, size_t len, size_t huge)
{
    const struct topology *t = topology_get();
    if (!pl->strict)
        return 0;
    if (nsub == 0) {
        uint64_t have = 0;
        for (int n = nslab_nodeset_next(&pl->nodes, 0); n >= 0;
             n = nslab_nodeset_next(&pl->nodes, n + 1))
            have += topology_node_free_huge(n, huge);
        return have * huge >= len ? 0 : ENOMEM;
    }
    int node[REGION_MAX_SUBRANGES];
    size_t need[REGION_MAX_SUBRANGES];
    int n = 0;
    for (size_t i = 0; i < nsub; i++) {
        int real = sub[i].node;
        if (pl->kernel_flags & OS_POL_RELATIVE_NODES)
            real = policy_relative_node(t, real);
        capacity_need_add(node, need, &n, real, sub[i].len);
    }
    for (int i = 0; i < n; i++)
        if (topology_node_free_huge(node[i], huge) * huge < need[i])
            return ENOMEM;
    return 0;
}

int region_apply_policy(char *base, size_t total, const struct policy_plan *pl,
                        const struct region_subrange *sub, size_t nsub)
{
    if (pl->nobind)
        return 0; /* DEFAULT: fresh memory has no policy of its own */
    if (pl->kernel_mode >= 0)
        return os_bind(base, total, pl->kernel_mode, pl->kernel_flags, &pl->kernel_nodes);
    for (size_t i = 0; i < nsub; i++) {
        nslab_nodeset_t one = nslab_nodeset_of(sub[i].node);
        int e = os_bind(base + sub[i].off, sub[i].len, OS_POL_BIND, pl->kernel_flags, &one);
        if (e)
            return e;
    }
    return 0;
}

int region_prefault(char *base, size_t total, nslab_prefault_t mode, size_t step,
                    nslab_prefault_t *done)
{
    if (mode == NSLAB_PREFAULT_DEFAULT)
        mode = NSLAB_PREFAULT_POPULATE;
    *done = mode;
    if (mode == NSLAB_PREFAULT_NONE)
        return 0;
    enum os_commit how;
    int e = os_commit(base, total, step,
                      mode == NSLAB_PREFAULT_POPULATE ? OS_COMMIT_POPULATE : OS_COMMIT_TOUCH,
                      &how);
    if (e == 0)
        *done = how == OS_COMMIT_POPULATE ? NSLAB_PREFAULT_POPULATE : NSLAB_PREFAULT_TOUCH;
    return e;
}

/* An anonymous mapping of total bytes at b, SEG_SIZE aligned, with b +
 * SEG_SIZE aligned to align (>= SEG_SIZE): over-map total + align bytes
 * (address space only: MAP_NORESERVE, nothing is committed until the
 * prefault) and trim both ends. */
static int map_skewed(size_t total, size_t align, char **out)
{
    if (total > SIZE_MAX - align)
        return ENOMEM;
    size_t span = total + align;
    char *m;
    int e = os_map(span, SEG_SIZE, OS_MAP_NORESERVE, -1, (void **)&m);
    if (e)
        return e == EINVAL ? ENOMEM : e;
    uintptr_t data = ((uintptr_t)m + SEG_SIZE + align - 1) & ~(uintptr_t)(align - 1);
    char *b = (char *)(data - SEG_SIZE); /* m <= b <= m + align - SEG_SIZE */
    if (b > m)
        os_unmap(m, (size_t)(b - m));
    size_t tail = (size_t)((m + span) - (b + total));
    if (tail)
        os_unmap(b + total, tail);
    *out = b;
    return 0;
}

static int segment_map(size_t total, size_t head, size_t skew, const nslab_policy_t *pol,
                       const nslab_region_opts_t *opts, void **base_out, int *fd_out,
                       nslab_region_report_t *report, struct capacity_hold *keep);

int region_segment_map(size_t total, size_t head, const nslab_policy_t *pol,
                       const nslab_region_opts_t *opts, void **base_out, int *fd_out,
                       nslab_region_report_t *report)
{
    return region_segment_map_keep(total, head, pol, opts, base_out, fd_out, report, NULL);
}

int region_segment_map_keep(size_t total, size_t head, const nslab_policy_t *pol,
                            const nslab_region_opts_t *opts, void **base_out, int *fd_out,
                            nslab_region_report_t *report, struct capacity_hold *keep)
{
    return segment_map(total, head, 0, pol, opts, base_out, fd_out, report, keep);
}

int region_segment_map_skewed(size_t total, size_t align, const nslab_policy_t *pol,
                              const nslab_region_opts_t *opts, void **base_out,
                              nslab_region_report_t *report, struct capacity_hold *keep)
{
    if (align < SEG_SIZE || (align & (align - 1)) || total <= SEG_SIZE)
        return EINVAL;
    if (opts && (opts->pages == NSLAB_PAGES_HUGETLB || (opts->flags & NSLAB_REGION_MEMFD)))
        return EINVAL;
    return segment_map(total, 0, align, pol, opts, base_out, NULL, report, keep);
}

static int segment_map(size_t total, size_t head, size_t skew, const nslab_policy_t *pol,
                       const nslab_region_opts_t *opts, void **base_out, int *fd_out,
                       nslab_region_report_t *report, struct capacity_hold *keep)
{
    static const nslab_region_opts_t defaults;
    const struct topology *t = topology_get();
    struct policy_plan pl;
    struct region_subrange sub[REGION_MAX_SUBRANGES];
    size_t nsub = 0;
    struct capacity_hold hold = {0};
    int e, fd = -1;

    if (!opts)
        opts = &defaults;
    if ((e = region_opts_check(opts)) != 0)
        return e;
    /* every mapping is a slow path: has the cpuset changed?  (one system
     * call; a change publishes a new snapshot, checked against below) */
    (void)topology_check_mems();
    if ((e = policy_resolve(pol, &pl)) != 0)
        return e;
    t = topology_get(); /* either may have published a new snapshot */

    int hugetlb = opts->pages == NSLAB_PAGES_HUGETLB;
    size_t page = hugetlb ? hugetlb_size(t) : t->page_size;
    if (total == 0 || (total & (t->page_size - 1)) || (total & (page - 1)))
        return EINVAL;
    if (opts->pages == NSLAB_PAGES_THP && !t->thp_size)
        return EOPNOTSUPP;

    if (pl.kernel_mode < 0) {
        nsub = region_weighted_plan(&pol->nodes, pol->weights, total, region_granule(opts),
                                    sub, REGION_MAX_SUBRANGES);
        if (nsub == 0)
            return EINVAL; /* more nodes than REGION_MAX_SUBRANGES */
    }

    int memfd = (opts->flags & NSLAB_REGION_MEMFD) != 0;
    if (!memfd)
        head = 0;
    if (head >= total || (head & (t->page_size - 1)) || (head & (page - 1)))
        return EINVAL;

    /* Capacity first, before anything exists.  hugetlb memory comes from
     * the reserved pool, not from MemFree: mmap refuses (ENOMEM) when the
     * global pool cannot hold it, and a strict policy needs its nodes'
     * free huge pages (region_check_huge). */
    if (hugetlb && (e = region_check_huge(&pl, sub, nsub, total - head, page)) != 0)
        return e;
    if (pl.strict && !hugetlb) {
        size_t reserve = opts->reserve ? opts->reserve : capacity_default_reserve();
        /* skewed: the first segment's hole is never populated */
        size_t need = skew ? total - SEG_SIZE + t->page_size : total;
        if (nsub)
            e = hold_plan(sub, nsub, pl.kernel_flags, reserve, opts->claim, &hold);
        else
            e = capacity_hold_set_claim(&pl.nodes, need, reserve, opts->claim, &hold);
        if (e)
            return e;
    }

    char *base = NULL;
    if (memfd) {
        /* The file holds the caller's bytes only, from offset 0: the first
         * `head` bytes of the mapping (the library's header) are anonymous,
         * so no process mapping the fd can reach the header. */
        e = hugetlb ? os_memfd_hugetlb("numaslab", total - head, &fd)
                    : os_memfd("numaslab", total - head, &fd);
        if (e) {
            if (hugetlb && e != EMFILE && e != ENFILE)
                e = ENOMEM; /* no hugetlbfs mount / pool for memfds */
            goto fail;
        }
        if ((e = os_map(total, SEG_SIZE, 0, -1, (void **)&base)) != 0) {
            base = NULL;
            goto fail;
        }
        void *m;
        if ((e = os_map_file(base + head, total - head, fd, 0, OS_FILE_WRITE, &m)) != 0) {
            if (hugetlb)
                e = ENOMEM; /* the global pool cannot reserve it */
            goto fail;
        }
    } else if (skew) {
        if ((e = map_skewed(total, skew, &base)) != 0) {
            base = NULL;
            goto fail;
        }
    } else if ((e = os_map(total, SEG_SIZE, hugetlb ? OS_MAP_HUGETLB : 0, fd,
                           (void **)&base)) != 0) {
        base = NULL;
        if (e != ENOMEM && hugetlb)
            e = ENOMEM; /* no (or too few) huge pages reserved */
        goto fail;
    }
    if ((e = region_apply_policy(base, total, &pl, sub, nsub)) != 0) {
        /* the kernel refuses nodes the cpuset dropped since the check
         * above: say so as the library does (EXDEV), not EINVAL */
        if (e == EINVAL && topology_check_mems()) {
            struct policy_plan again;
            int e2 = policy_resolve(pol, &again);
            if (e2)
                e = e2;
        }
        goto fail;
    }

    int thp = -1;
    if (opts->pages == NSLAB_PAGES_THP) {
        if ((e = os_thp(base, total, 1)) != 0) {
            e = EOPNOTSUPP;
            goto fail;
        }
        thp = 1;
    } else if (opts->pages == NSLAB_PAGES_NO_THP) {
        (void)os_thp(base, total, 0); /* no THP: refused anyway */
        thp = 0;
    } else if (hugetlb) {
        thp = 0;
    }

    /* Touch once per huge page where the region uses them: hugetlb, THP
     * asked, or THP "always" and not refused.  Where the kernel could not
     * form a huge page at a fault (fragmentation), the rest of that huge
     * page stays to first touch - still under the region's policy. */
    size_t step = t->page_size;
    if (hugetlb)
        step = page;
    else if (t->thp_size && (thp == 1 || (thp == -1 && t->thp_always)))
        step = t->thp_size;
    nslab_prefault_t done;
    if (skew) { /* the header page, then the data: not the hole between */
        if ((e = region_prefault(base, t->page_size, opts->prefault, t->page_size, &done)) != 0)
            goto fail;
        head = SEG_SIZE;
    }
    if ((e = region_prefault(base + head, total - head, opts->prefault, step, &done)) != 0)
        goto fail;
    /* A lazy mapping keeps its hold: its pages come later, and until
     * they do the free memory reading does not show them. */
    if (keep) {
        keep->n = 0;
        if (done == NSLAB_PREFAULT_NONE) {
            *keep = hold;
            hold.n = 0;
        }
    }
    capacity_unhold(&hold);

    if (report) {
        *report = (nslab_region_report_t){0};
        report->asked = pol ? pol->mode : NSLAB_POLICY_DEFAULT;
        report->flags = pol ? pol->flags : 0;
        report->nodes = pl.asked;
        report->enforced = pl.enforced;
        report->kernel_mode = pl.kernel_mode;
        report->thp = thp;
        report->hugetlb = hugetlb;
        report->prefault = done;
        report->size = total;
        report->nsubranges = nsub;
    }
    *base_out = base;
    if (fd_out)
        *fd_out = fd;
    else if (fd >= 0)
        os_close(fd); /* the mapping keeps the memory alive */
    return 0;

fail:
    if (base)
        os_unmap(base, total);
    if (fd >= 0)
        os_close(fd);
    capacity_unhold(&hold);
    return e;
}

int region_segment_map_held(size_t total, const nslab_policy_t *pol,
                            const nslab_region_opts_t *opts, void **base_out, size_t *held)
{
    struct capacity_hold h = {0};
    int e = region_segment_map_keep(total, 0, pol, opts, base_out, NULL, NULL, &h);
    *held = 0;
    if (e == 0)
        for (int i = 0; i < h.n; i++)
            *held += h.bytes[i];
    return e;
}

int region_segment_unmap(void *base, size_t total)
{
    if (!base || ((uintptr_t)base & SEG_MASK) || total == 0)
        return EINVAL;
    return os_unmap(base, total);
}

int region_segment_bind(void *base, size_t total, int node, int move)
{
    nslab_nodeset_t one = nslab_nodeset_of(node);
    if (!base || ((uintptr_t)base & SEG_MASK) || total == 0)
        return EINVAL;
    return move ? os_move(base, total, OS_POL_BIND, 0, &one, 1)
                : os_bind(base, total, OS_POL_BIND, 0, &one);
}

/* ---- bookkeeping memory ------------------------------------------------ */

int region_meta_map(size_t bytes, void **out)
{
    size_t page = topology_get()->page_size;
    return os_map(bytes, page, 0, -1, out) == 0 ? 0 : ENOMEM;
}

void region_meta_unmap(void *p, size_t bytes)
{
    (void)os_unmap(p, bytes);
}

void region_meta_prefer(void *p, size_t bytes, int node, int move)
{
    nslab_nodeset_t one = nslab_nodeset_of(node);
    if (move)
        (void)os_move(p, bytes, OS_POL_PREFERRED, 0, &one, 0);
    else
        (void)os_bind(p, bytes, OS_POL_PREFERRED, 0, &one);
}
