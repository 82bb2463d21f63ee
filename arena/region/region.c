/*
 * arena/region/region.c - struct nslab_region: a placed mapping with its own
 * header, as user regions (nslab_region_*), interleaved allocations
 * (numa_malloc_interleaved) and the arena's large blocks.
 *
 * Layout (region.h): the header at the segment start, user data at
 * data_off = max(page, align, hugetlb page).  The header is written after
 * the mapping is placed and prefaulted, then registered in the segment
 * bitmap (seg_register), so a lookup never sees a half-written header; it
 * is unregistered before the unmap.
 *
 * Invariants of a live region r (checked by region_valid):
 *   r is SEG_SIZE aligned and registered; r->hdr.magic == SEG_MAGIC;
 *   r->hdr.kind == SEG_REGION; data_off + size <= hdr.map_size;
 *   data_off < SEG_SIZE (so every user pointer finds r by masking), except
 *   for an over-aligned large block (align > SEG_SIZE / 2): data_off ==
 *   SEG_SIZE, the data starts the next segment, which is not registered,
 *   and its pointer finds r as the segment just below (arena's
 *   large_overaligned_of);
 *   policy.weights == wcopy when the mode is WEIGHTED_INTERLEAVE.
 *
 * Threads: a region is owned by its creator; create and destroy of
 * different regions may run concurrently (the only shared state is the
 * segment bitmap and the capacity ledger, both atomic).  Destroying a
 * region while another thread uses it is the caller's bug.
 */
#include "region-internal.h"
#include "debug.h"

#include <errno.h>
#include <string.h>

_Static_assert(sizeof(struct nslab_region) <= 4096, "region header fits a page");

/* User regions larger than the address space can never be mapped. */
#define REGION_MAX_BYTES ((size_t)1 << SEG_VA_BITS)

static int set_errno(int e)
{
    errno = e;
    return -e;
}

int region_valid(const struct nslab_region *r)
{
    if (!r || ((uintptr_t)r & SEG_MASK))
        return 0;
    if (seg_lookup(r) != &r->hdr)
        return 0;
    return r->hdr.magic == SEG_MAGIC && r->hdr.kind == SEG_REGION;
}

int region_create(size_t size, size_t align, const nslab_policy_t *pol,
                  const nslab_region_opts_t *opts, uint32_t kind_flags,
                  struct nslab_region **out)
{
    const struct topology *t = topology_get();
    struct policy_plan pl;
    int e;

    if (size == 0 || (align & (align - 1)))
        return EINVAL;
    /* Over-aligned (a block aligned to SEG_SIZE or more): the header is
     * the segment just below the data, data_off == SEG_SIZE (region.h). */
    int skewed = align > SEG_SIZE / 2;
    if (skewed && (kind_flags & REGION_F_LARGE) == 0)
        return EINVAL;
    if ((e = region_opts_check(opts)) != 0)
        return e;
    if ((e = policy_resolve(pol, &pl)) != 0)
        return e;
    if (pol && pol->mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE && pol->nweights > NSLAB_MAX_NODES)
        return EINVAL;

    int hugetlb = opts && opts->pages == NSLAB_PAGES_HUGETLB;
    size_t unit = hugetlb ? region_granule(opts) : t->page_size;
    size_t data_off = t->page_size;
    if (align > data_off)
        data_off = skewed ? SEG_SIZE : align;
    if (skewed && hugetlb)
        return EINVAL;
    if (hugetlb && unit > data_off)
        data_off = unit;
    if (size > REGION_MAX_BYTES - data_off - unit)
        return ENOMEM;
    size_t total = (data_off + size + unit - 1) & ~(unit - 1);

    void *base;
    int fd = -1;
    nslab_region_report_t rep;
    struct capacity_hold keep;
    if (skewed)
        e = region_segment_map_skewed(total, align, pol, opts, &base, &rep, &keep);
    else
        e = region_segment_map_keep(total, data_off, pol, opts, &base, &fd, &rep, &keep);
    if (e)
        return e;

    struct nslab_region *r = base;
    r->hdr.kind = SEG_REGION;
    r->hdr.node = pl.first_node;
    r->hdr.map_size = total;
    r->flags = kind_flags;
    r->fd = fd;
    r->data_off = data_off;
    r->size = size;
    r->policy = pol ? *pol : nslab_policy_default();
    if (r->policy.mode == NSLAB_POLICY_WEIGHTED_INTERLEAVE) {
        memcpy(r->wcopy, pol->weights, pol->nweights);
        r->policy.weights = r->wcopy;
    } else {
        r->policy.weights = NULL;
        r->policy.nweights = 0;
    }
    r->report = rep;
    r->report.size = size;
    r->lazy = keep;
    r->topo_gen = __atomic_load_n(&topology_generation, __ATOMIC_ACQUIRE);
    /* the invariants region_valid checks (region.c's header comment) */
    NSLAB_ASSERT_INTERNAL(r->data_off + r->size <= r->hdr.map_size && r->data_off <= SEG_SIZE);
    NSLAB_ASSERT_INTERNAL(r->data_off < SEG_SIZE || r->hdr.map_size > SEG_SIZE); /* over-aligned */
    NSLAB_ASSERT_INTERNAL(((uintptr_t)r & SEG_MASK) == 0 && r->hdr.kind == SEG_REGION);
    seg_register(&r->hdr); /* last: the header is complete */
    if (kind_flags & (REGION_F_USER | REGION_F_INTERLEAVED)) {
        region_registry_add(r); /* a drain moves it (region-drain.c) */
        /* A drain that began after the policy check above and walked the
         * registry before this region joined it did not see it; the
         * snapshot it published is visible here (the registry lock
         * orders them): refuse as the check would now. */
        if (!pl.nobind && region_names_drained(&pl.nodes)) {
            region_destroy(r);
            return ENODEV;
        }
    }
    *out = r;
    return 0;
}

int region_destroy(struct nslab_region *r)
{
    if (!region_valid(r))
        return EINVAL;
    size_t total = r->hdr.map_size;
    int fd = r->fd;
    struct capacity_hold lazy = r->lazy;
    if (r->flags & (REGION_F_USER | REGION_F_INTERLEAVED))
        region_registry_remove(r); /* waits for a drain walking it */
    seg_unregister(&r->hdr);
    if (fd >= 0)
        os_close(fd);
    int e = region_segment_unmap(r, total);
    capacity_unhold(&lazy);
    return e;
}

void region_drop_hold(struct nslab_region *r)
{
    capacity_unhold(&r->lazy);
}

/* ---- public API -------------------------------------------------------- */

NSLAB_API nslab_region_t *nslab_region_create(size_t size, const nslab_policy_t *policy,
                                              const nslab_region_opts_t *opts)
{
    struct nslab_region *r;
    nslab_region_opts_t o;
    int e = 0;
    if (opts && (e = topology_opts_import(&o, sizeof o, opts)) == 0)
        opts = &o;
    if (!e)
        e = region_create(size, 0, policy, opts, REGION_F_USER, &r);
    if (e) {
        errno = e;
        return NULL;
    }
    return r;
}

NSLAB_API int nslab_region_destroy(nslab_region_t *r)
{
    int e = region_destroy(r);
    return e ? set_errno(e) : 0;
}

NSLAB_API void *nslab_region_addr(const nslab_region_t *r)
{
    if (!region_valid(r)) {
        errno = EINVAL;
        return NULL;
    }
    return region_data(r);
}

NSLAB_API size_t nslab_region_size(const nslab_region_t *r)
{
    if (!region_valid(r)) {
        errno = EINVAL;
        return 0;
    }
    return r->size;
}

NSLAB_API int nslab_region_fd(const nslab_region_t *r)
{
    if (!region_valid(r) || r->fd < 0)
        return set_errno(EINVAL);
    return r->fd;
}

NSLAB_API nslab_region_t *nslab_region_of(const void *ptr)
{
    struct seg_hdr *h = seg_lookup(ptr);
    struct nslab_region *r = (struct nslab_region *)h;
    /* Only what the caller got as a region: the arena's large blocks are
     * freed with nslab_free, which keeps the arena's counters right. */
    if (!h || h->kind != SEG_REGION || !(r->flags & (REGION_F_USER | REGION_F_INTERLEAVED)) ||
        ptr != region_data(r)) {
        errno = EINVAL;
        return NULL;
    }
    return r;
}

NSLAB_API int nslab_region_report(const nslab_region_t *r, nslab_region_report_t *out)
{
    if (!region_valid(r) || !out)
        return set_errno(EINVAL);
    *out = r->report;
    return 0;
}

NSLAB_API void *numa_malloc_interleaved(size_t size, const nslab_nodeset_t *nodes)
{
    nslab_policy_t pol = nslab_policy_interleave(nodes);
    struct nslab_region *r;
    int e = region_create(size, 0, &pol, NULL, REGION_F_INTERLEAVED, &r);
    if (e) {
        errno = e;
        return NULL;
    }
    return region_data(r);
}
