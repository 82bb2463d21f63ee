/*
 * arena/region/caller.c - the caller's memory (DESIGN promise 14): a file or
 * memfd the caller owns, mapped and bound (nslab_file_map, OpenVMM's
 * map_file_numa shape), and a range the caller already mapped, bound where
 * it is (nslab_range_bind, a piece of a sparse reservation).
 *
 * Nothing of the library's lives in these mappings: no header, no segment
 * registration, so the caller's bytes start at the offset asked and the
 * library keeps no state about them (unmapping is the caller's, or
 * nslab_file_unmap's).  The steps are region_segment_map's: resolve the
 * policy, check (and while prefaulting hold) the capacity of strict
 * policies, bind (os_bind), prefault on request, then, for strict policies, check
 * where the present pages are.
 *
 * Threads: no state of its own; the capacity ledger is atomic.  The
 * caller owns the ranges: no concurrent unmap of what is being bound.
 */
#include "region-internal.h"

#include <errno.h>
#include <string.h>

static int fail(int e)
{
    errno = e;
    return -e;
}

/* The plan of a policy over [0, len) of a range at `base`: resolved, and
 * sub-ranges for an emulated weighted interleave (granule: the THP size
 * when the range is aligned to it, else the page). */
struct caller_plan {
    struct policy_plan pl;
    size_t nsub;
    struct region_subrange sub[REGION_MAX_SUBRANGES];
};

static int plan(const nslab_policy_t *pol, const void *base, size_t len, size_t huge,
                struct caller_plan *cp)
{
    const struct topology *t = topology_get();
    cp->nsub = 0;
    int e = policy_resolve(pol, &cp->pl);
    if (e)
        return e;
    if (cp->pl.kernel_mode < 0) {
        size_t g = huge ? huge : t->page_size;
        if (!huge && t->thp_size && ((uintptr_t)base % t->thp_size) == 0 && len >= t->thp_size)
            g = t->thp_size;
        cp->nsub = region_weighted_plan(&pol->nodes, pol->weights, len, g, cp->sub,
                                        REGION_MAX_SUBRANGES);
        if (cp->nsub == 0)
            return EINVAL;
    }
    return 0;
}

/* Bind the plan over the range, and with `move` migrate what is there
 * (strict).  EIO from a move is returned as is. */
static int bind_one(char *base, size_t len, int mode, unsigned flags,
                    const nslab_nodeset_t *nodes, int move)
{
    return move ? os_move(base, len, mode, flags, nodes, 1)
                : os_bind(base, len, mode, flags, nodes);
}

static int bind(char *base, size_t len, const struct caller_plan *cp, int move)
{
    const struct policy_plan *pl = &cp->pl;
    if (pl->nobind)
        return move ? 0 : os_bind(base, len, OS_POL_DEFAULT, 0, NULL);
    if (cp->nsub == 0)
        return bind_one(base, len, pl->kernel_mode, pl->kernel_flags, &pl->kernel_nodes, move);
    int eio = 0;
    for (size_t i = 0; i < cp->nsub; i++) {
        nslab_nodeset_t one = nslab_nodeset_of(cp->sub[i].node);
        int e = bind_one(base + cp->sub[i].off, cp->sub[i].len, OS_POL_BIND, pl->kernel_flags,
                         &one, move);
        if (e == EIO)
            eio = 1;
        else if (e)
            return e;
    }
    return eio ? EIO : 0;
}

/* Hold (or, lazily, only check) the strict plan's bytes not yet on its
 * nodes.  0, ENOMEM, or os_page_nodes' errno. */
static int capacity(char *base, size_t len, const struct caller_plan *cp, int commit,
                    size_t huge, struct capacity_hold *h)
{
    const struct topology *t = topology_get();
    h->n = 0;
    if (!cp->pl.strict)
        return 0;
    if (huge)
        return region_check_huge(&cp->pl, cp->sub, cp->nsub, len, huge);
    size_t reserve = capacity_default_reserve();
    if (cp->nsub == 0) {
        size_t in = 0;
        int e = region_scan(base, len, &cp->pl.nodes, NULL, &in, NULL);
        if (e)
            return e;
        size_t there = in * t->page_size < len ? in * t->page_size : len;
        if (!commit)
            return capacity_check(&cp->pl.nodes, len - there, reserve);
        return capacity_hold_set(&cp->pl.nodes, len - there, reserve, h);
    }
    int node[REGION_MAX_SUBRANGES];
    size_t need[REGION_MAX_SUBRANGES];
    int n = 0;
    for (size_t i = 0; i < cp->nsub; i++) {
        const struct region_subrange *s = &cp->sub[i];
        int real = s->node;
        if (cp->pl.kernel_flags & OS_POL_RELATIVE_NODES)
            real = policy_relative_node(t, real);
        nslab_nodeset_t one = nslab_nodeset_of(real);
        size_t in = 0;
        int e = region_scan(base + s->off, s->len, &one, NULL, &in, NULL);
        if (e)
            return e;
        size_t there = in * t->page_size < s->len ? in * t->page_size : s->len;
        capacity_need_add(node, need, &n, real, s->len - there);
    }
    if (!commit) {
        for (int i = 0; i < n; i++) {
            nslab_nodeset_t one = nslab_nodeset_of(node[i]);
            int e = capacity_check(&one, need[i], reserve);
            if (e)
                return e;
        }
        return 0;
    }
    return capacity_hold_nodes(node, need, n, reserve, h);
}

/* Present pages outside where a strict plan puts them.  0 or errno. */
static int stray(const char *base, size_t len, const struct caller_plan *cp, size_t *out)
{
    *out = 0;
    if (!cp->pl.strict)
        return 0;
    if (cp->nsub == 0)
        return region_scan(base, len, &cp->pl.nodes, NULL, NULL, out);
    for (size_t i = 0; i < cp->nsub; i++) {
        int real = cp->sub[i].node;
        if (cp->pl.kernel_flags & OS_POL_RELATIVE_NODES)
            real = policy_relative_node(topology_get(), real);
        nslab_nodeset_t one = nslab_nodeset_of(real);
        int e = region_scan(base + cp->sub[i].off, cp->sub[i].len, &one, NULL, NULL, out);
        if (e)
            return e;
    }
    return 0;
}

/* Fault every page of the range in under its policy: writes for a
 * writable range, reads otherwise (a read of a memfd hole allocates its
 * page too).  The caller's bytes are never changed (os_commit KEEP/READ).
 * 0 or ENOMEM. */
static int populate(char *base, size_t len, int writable, size_t step)
{
    return os_commit(base, len, step, writable ? OS_COMMIT_KEEP : OS_COMMIT_READ, NULL);
}

/* Bind + (prefault) + (move) + verify over a range that is mapped: the
 * common tail of both calls.  0, EIO (some present pages are not where a
 * strict policy puts them), or another errno (the binding may be in
 * force: the caller undoes what it mapped). */
static int place(char *base, size_t len, const struct caller_plan *cp, unsigned flags,
                 int writable, size_t huge)
{
    const struct topology *t = topology_get();
    int commit = (flags & (NSLAB_MAP_PREFAULT | NSLAB_MAP_MOVE)) != 0;
    struct capacity_hold hold = {0};
    int e = capacity(base, len, cp, commit, huge, &hold);
    if (e)
        return e;
    if ((e = bind(base, len, cp, 0)) != 0)
        goto out;
    size_t step = huge ? huge : t->page_size;
    if ((flags & NSLAB_MAP_PREFAULT) && (e = populate(base, len, writable, step)) != 0)
        goto out;
    int eio = 0;
    if ((flags & NSLAB_MAP_MOVE) && !cp->pl.nobind) {
        /* Pages exist only once mapped: fault in what is not (reads), then
         * migrate what lies elsewhere. */
        if (!(flags & NSLAB_MAP_PREFAULT) && (e = populate(base, len, 0, step)) != 0)
            goto out;
        e = bind(base, len, cp, 1);
        if (e && e != EIO)
            goto out;
        eio = e == EIO;
    }
    size_t out_pages = 0;
    if ((e = stray(base, len, cp, &out_pages)) != 0)
        goto out;
    e = eio || out_pages ? EIO : 0;
out:
    capacity_unhold(&hold);
    return e;
}

#define MAP_KNOWN (NSLAB_MAP_PRIVATE | NSLAB_MAP_WRITE | NSLAB_MAP_FIXED | NSLAB_MAP_MOVE | \
                   NSLAB_MAP_PREFAULT)

NSLAB_API int nslab_file_map(void **addr, size_t len, int fd, uint64_t offset, unsigned flags,
                             const nslab_policy_t *pol)
{
    const struct topology *t = topology_get();
    struct caller_plan cp;
    uint64_t fsize;
    size_t huge;
    int shmem, e;

    if (!addr || len == 0 || fd < 0 || (flags & ~MAP_KNOWN))
        return fail(EINVAL);
    if (pol && pol->mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE && pol->nweights > NSLAB_MAX_NODES)
        return fail(EINVAL);
    char *want = (flags & NSLAB_MAP_FIXED) ? *addr : NULL;
    if ((flags & NSLAB_MAP_FIXED) && !want)
        return fail(EINVAL);
    if ((e = os_fd_info(fd, &fsize, &huge, &shmem)) != 0)
        return fail(e == EBADF ? EBADF : EINVAL);
    size_t unit = huge ? huge : t->page_size;
    if ((offset & (unit - 1)) || (len & (t->page_size - 1)) || (len & (unit - 1)) ||
        ((uintptr_t)want & (unit - 1)) || offset + len < offset ||
        (uintptr_t)want + len < (uintptr_t)want)
        return fail(EINVAL);
    if (offset + len > fsize)
        return fail(ENXIO); /* past the end of the file: a fault would SIGBUS */
    if (want && (e = os_range_mapped(want, len)) != 0)
        return fail(EFAULT);
    if ((e = plan(pol, want, len, huge, &cp)) != 0)
        return fail(e);

    unsigned of = ((flags & NSLAB_MAP_PRIVATE) ? OS_FILE_PRIVATE : 0) |
                  ((flags & NSLAB_MAP_WRITE) ? OS_FILE_WRITE : 0);
    void *m;
    if ((e = os_map_file(want, len, fd, offset, of, &m)) != 0) {
        if (want)
            (void)os_map_none_fixed(want, len);
        return fail(e == EACCES || e == EPERM ? e : (e == ENOMEM ? ENOMEM : EINVAL));
    }
    /* Sub-ranges were planned before the address was known: re-plan. */
    if (!want && cp.nsub && (e = plan(pol, m, len, huge, &cp)) != 0)
        goto undo;
    e = place(m, len, &cp, flags, (flags & NSLAB_MAP_WRITE) != 0, huge);
    if (e && e != EIO)
        goto undo;
    *addr = m;
    return e ? fail(e) : 0;
undo:
    if (want)
        (void)os_map_none_fixed(m, len);
    else
        (void)os_unmap(m, len);
    return fail(e);
}

NSLAB_API int nslab_file_unmap(void *addr, size_t len, unsigned flags)
{
    size_t ps = topology_get()->page_size;
    if (!addr || len == 0 || ((uintptr_t)addr & (ps - 1)) || (flags & ~NSLAB_MAP_FIXED) ||
        (uintptr_t)addr + len < (uintptr_t)addr)
        return fail(EINVAL);
    len = (len + ps - 1) & ~(ps - 1);
    int e = (flags & NSLAB_MAP_FIXED) ? os_map_none_fixed(addr, len) : os_unmap(addr, len);
    return e ? fail(e) : 0;
}

NSLAB_API int nslab_range_bind(void *addr, size_t len, const nslab_policy_t *pol, unsigned flags,
                               nslab_placement_t *after)
{
    const struct topology *t = topology_get();
    struct caller_plan cp;
    int e;

    if (!addr || len == 0 || ((uintptr_t)addr & (t->page_size - 1)) ||
        (len & (t->page_size - 1)) || (uintptr_t)addr + len < (uintptr_t)addr ||
        (flags & ~(NSLAB_MAP_MOVE | NSLAB_MAP_PREFAULT)))
        return fail(EINVAL);
    if (pol && pol->mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE && pol->nweights > NSLAB_MAX_NODES)
        return fail(EINVAL);
    if (os_range_mapped(addr, len) != 0)
        return fail(EFAULT);
    if ((e = plan(pol, addr, len, 0, &cp)) != 0)
        return fail(e);
    e = place(addr, len, &cp, flags, 1, 0);
    if (e && e != EIO)
        return fail(e);
    if (after) {
        memset(after, 0, sizeof(*after));
        int e2 = region_scan(addr, len, &cp.pl.nodes, after, NULL, NULL);
        if (e2)
            return fail(e2);
    }
    return e ? fail(e) : 0;
}
