/*
 * pool/pool.c - a pool's life: options, segment layout, capacity, creation,
 * growth and destruction; and the pointer -> buffer arithmetic.
 *
 * Layout.  stride = elt_size rounded up to align.  A segment is
 *     [ struct pool_seg, padded to bufs_off ][ buffer 0 ][ buffer 1 ] ...
 * mapped at a SEG_SIZE-aligned address, bound to the pool's node.
 * Every buffer starts below SEG_SIZE (segment.h: pointers lie in a
 * segment's first SEG_SIZE bytes), so a full segment holds
 *     per_seg = (SEG_SIZE - 1 - bufs_off) / stride + 1
 * buffers (a buffer may run past SEG_SIZE: only its start must not), and a
 * big pool is several segments.  A segment maps just the pages its buffers
 * need, so a small pool costs a page or two, not 4 MiB.
 *
 * Capacity.  At creation the pool reserves (capacity_reserve) the bytes of
 * every segment it may ever map: `count` buffers now, then growth one
 * segment of min(per_seg, max_count - total) buffers at a time - a fixed
 * plan, so the reservation is exact.  Mapping a segment moves its bytes
 * from the reservation to committed memory: release them from the ledger,
 * then region_segment_map() holds them again in its own capacity check
 * (which counts the ledger, so keeping them reserved would count them
 * twice).  Between the release and the hold a concurrent reservation could
 * take the room; the map then fails with ENOMEM, the bytes are reserved
 * again if they still fit, and the get that wanted to grow reports ENOMEM
 * (the pool stays usable).  Destroy releases what is left reserved.
 *
 * Threads: growth is serialised by grow_lock and maps and constructs
 * without pool->lock; it takes pool->lock only to publish the new segment
 * and push its buffers.  Lock order: grow_lock -> registry_lock ->
 * pool->lock (pool.h).
 */
#include "pool.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "region.h"
#include "topology.h"

static size_t round_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

/* Inverse of an odd d modulo 2^64 (Newton: each step doubles the correct
 * low bits; d * d == 1 mod 8 gives 3 to start, so 5 steps reach 96). */
static uint64_t inverse_odd(uint64_t d)
{
    uint64_t x = d;
    for (int i = 0; i < 5; i++)
        x *= 2 - d * x;
    return x;
}

int pool_check(const struct nslab_pool *p)
{
    return p && p->magic == POOL_MAGIC ? 0 : EINVAL;
}

/* ---- handles that outlive their pool --------------------------------- */

/* A destroyed handle must still be safe to pass in (nslab_pool_destroy
 * twice, nslab_pool_get after destroy: -EINVAL / EINVAL, as regions do), so
 * a pool's header is a page of its own, and destroy unmaps everything but
 * it: the page is left as pool_dead's copy (magic 0, the zero cache, fast
 * paths off) and queued.  A create takes the oldest dead page once more
 * than POOL_TOMBS_KEEP wait, so a handle stays detected as dead for at
 * least POOL_TOMBS_KEEP later destroys; after that it may name a new pool,
 * like a closed file descriptor number.  Dead pages are never unmapped:
 * their number is bounded by the most pools alive at once plus the
 * quarantine. */
static struct pool_cache pool_zero_cache; /* len 0, cap 0 */
struct nslab_pool pool_dead = { .caches = (char *)&pool_zero_cache };
static struct nslab_pool *tombs, **tombs_tail = &tombs;
static unsigned ntombs;

_Static_assert(sizeof(struct nslab_pool) <= 4096, "a pool header fits a page");

void pool_tombs_fork_reset(void)
{
    tombs = NULL;
    tombs_tail = &tombs;
    ntombs = 0;
}

static void tomb_bury(struct nslab_pool *p)
{
    size_t page = topology_get()->page_size;
    *p = pool_dead;
    p->meta_size = page ? page : 4096; /* the header page's size */
    pool_registry_lock();
    p->reg_next = NULL;
    *tombs_tail = p;
    tombs_tail = &p->reg_next;
    ntombs++;
    pool_registry_unlock();
}

/* A header page for a new pool: the oldest dead one past the quarantine,
 * or a new mapping.  0 or ENOMEM. */
static int header_get(size_t page, struct nslab_pool **out)
{
    struct nslab_pool *p = NULL;
    pool_registry_lock();
    if (ntombs > POOL_TOMBS_KEEP) {
        p = tombs;
        tombs = p->reg_next;
        if (!tombs)
            tombs_tail = &tombs;
        ntombs--;
    }
    pool_registry_unlock();
    if (p) {
        memset(p, 0, sizeof *p);
        *out = p;
        return 0;
    }
    void *m;
    if (region_meta_map(page, &m) != 0)
        return ENOMEM;
    *out = m;
    return 0;
}

/* ---- layout --------------------------------------------------------- */

struct pool_layout {
    size_t stride, align, bufs_off, page;
    uint32_t per_seg;
    uint32_t cache_cap;
    size_t cache_stride;   /* 0: no caches */
    size_t off_caches, off_stack, off_segs, off_state, meta_size;
    uint32_t max_segs;
    size_t reserve;        /* bytes of all segments of the plan */
};

/* Page-rounded bytes of a segment of n buffers; 0 for n == 0; SIZE_MAX on
 * overflow. */
static size_t seg_bytes(const struct pool_layout *l, uint64_t n)
{
    if (n == 0)
        return 0;
    if (n > (SIZE_MAX - l->bufs_off - l->page) / l->stride)
        return SIZE_MAX;
    return round_up(l->bufs_off + (size_t)n * l->stride, l->page);
}

/* Bytes of the segments that hold n buffers in chunks of per_seg, plus the
 * segment count.  SIZE_MAX on overflow. */
static size_t plan_bytes(const struct pool_layout *l, uint64_t n, uint32_t *nsegs)
{
    uint64_t full = n / l->per_seg, rest = n % l->per_seg;
    size_t fb = seg_bytes(l, l->per_seg), rb = seg_bytes(l, rest);
    if (fb == SIZE_MAX || rb == SIZE_MAX || (full && fb > (SIZE_MAX - rb) / full))
        return SIZE_MAX;
    *nsegs = (uint32_t)(full + (rest != 0));
    return (size_t)full * fb + rb;
}

static int layout(const nslab_pool_opts_t *o, struct pool_layout *l)
{
    const struct topology *t = topology_get();
    memset(l, 0, sizeof(*l));
    l->page = t->page_size ? t->page_size : 4096;
    l->align = o->align ? o->align : POOL_ALIGN_DEFAULT;
    if (l->align & (l->align - 1) || l->align > NSLAB_MAX_ALIGN)
        return EINVAL;
    if (o->elt_size > SIZE_MAX - l->align)
        return ENOMEM;
    l->stride = round_up(o->elt_size, l->align);
    l->bufs_off = round_up(sizeof(struct pool_seg), l->align);
    uint64_t per = (SEG_SIZE - 1 - l->bufs_off) / l->stride + 1;
    l->per_seg = per > UINT32_MAX ? UINT32_MAX : (uint32_t)per;

    size_t max = o->max_count ? o->max_count : o->count;
    uint32_t s1 = 0, s2 = 0;
    size_t b1 = plan_bytes(l, o->count, &s1);
    size_t b2 = plan_bytes(l, max - o->count, &s2);
    if (b1 == SIZE_MAX || b2 == SIZE_MAX || b1 > SIZE_MAX - b2)
        return ENOMEM;
    l->reserve = b1 + b2;
    l->max_segs = s1 + s2;

    /* Caches: none when asked, or when the pool is too small to share
     * (a cache may hold cap buffers per thread; keep cap <= max / 8). */
    uint32_t cap = o->cache_size ? o->cache_size : POOL_CACHE_DEFAULT;
    if (!o->cache_size && cap > max / 8)
        cap = (uint32_t)(max / 8);
    if (o->flags & NSLAB_POOL_NO_CACHE)
        cap = 0;
    if (cap == 1)
        cap = 2; /* refill and flush move cap / 2 */
    l->cache_cap = cap;

    l->off_caches = 0; /* the header is a page of its own */
    size_t cache_bytes;
    if (cap) {
        l->cache_stride = round_up(sizeof(struct pool_cache) + cap * sizeof(void *), 64);
        cache_bytes = l->cache_stride * POOL_MAX_SLOTS;
    } else {
        cache_bytes = sizeof(struct pool_cache); /* one zero cache for every slot */
    }
    l->off_stack = round_up(l->off_caches + cache_bytes, 64);
    l->off_segs = l->off_stack + max * sizeof(void *);
    l->off_state = l->off_segs + (size_t)l->max_segs * sizeof(struct pool_seg *);
    l->meta_size = round_up(l->off_state + ((o->flags & NSLAB_POOL_DEBUG) ? max : 0), l->page);
    return 0;
}

static int opts_check(const nslab_pool_opts_t *o)
{
    if (!o || o->elt_size == 0 || o->count == 0)
        return EINVAL;
    if (o->max_count && o->max_count < o->count)
        return EINVAL;
    if (o->cache_size > POOL_CACHE_MAX)
        return EINVAL;
    if (o->flags & ~(NSLAB_POOL_DEBUG | NSLAB_POOL_NO_CACHE))
        return EINVAL;
    if ((unsigned)o->prefault > NSLAB_PREFAULT_POPULATE)
        return EINVAL;
    if ((o->max_count ? o->max_count : o->count) > POOL_MAX_BUFFERS)
        return ENOMEM;
    return 0;
}

/* ---- segments ------------------------------------------------------- */

/* Map a segment of n buffers (the next in the plan), construct them and
 * publish them on the common stack.  Caller holds grow_lock, not lock. */
/* nslab_free of a pool buffer (segment.h: the arena's free finds the
 * SEG_POOL segment and calls this, registered before the first one
 * exists). */
static int pool_free_buffer(void *buf)
{
    return nslab_pool_put(NULL, buf);
}

static int seg_add(struct nslab_pool *p, uint32_t n)
{
    struct pool_layout l = { .stride = p->stride, .bufs_off = p->bufs_off,
                             .page = topology_get()->page_size };
    if (!l.page)
        l.page = 4096;
    size_t bytes = seg_bytes(&l, n);
    nslab_policy_t pol = nslab_policy_bind(p->node);
    nslab_region_opts_t ro = NSLAB_REGION_OPTS_INIT(.prefault = p->prefault);
    void *base = NULL;

    if (p->nsegs >= p->max_segs)
        return ENOENT; /* cannot happen: the plan has room */
    capacity_release(p->node, bytes);
    p->reserved -= bytes;
    int e = region_segment_map(bytes, 0, &pol, &ro, &base, NULL, NULL);
    if (e) {
        if (capacity_reserve(p->node, bytes) == 0)
            p->reserved += bytes;
        return e == EINVAL || e == ENODEV || e == EXDEV ? e : ENOMEM;
    }

    struct pool_seg *s = base;
    seg_set_free(SEG_POOL, pool_free_buffer); /* before it is registered */
    seg_set_node(SEG_POOL, pool_seg_node);
    region_set_drain(SEG_POOL, pool_drain);
    s->hdr.kind = SEG_POOL;
    s->hdr.node = p->node;
    s->hdr.map_size = bytes;
    s->pool = p;
    s->base = (char *)base + p->bufs_off;
    s->shift = (uint32_t)__builtin_ctzll((unsigned long long)p->stride);
    s->inv = inverse_odd((uint64_t)(p->stride >> s->shift));
    s->nbufs = n;
    s->first = p->total; /* total changes only here, under grow_lock */

    for (uint32_t i = 0; i < n; i++) {
        void *b = s->base + (size_t)i * p->stride;
        if (p->ctor)
            p->ctor(b, (size_t)s->first + i, p->ctor_arg);
        if (p->state)
            __atomic_store_n(&p->state[s->first + i], POOL_ST_FREE, __ATOMIC_RELAXED);
    }
    seg_register(&s->hdr);

    pthread_mutex_lock(&p->lock);
    p->segs[p->nsegs++] = s;
    p->committed += bytes;
    /* Push the highest address first so the lowest comes out first. */
    uint32_t nf = p->nfree;
    for (uint32_t i = 0; i < n; i++)
        p->stack[nf + i] = s->base + (size_t)(n - 1 - i) * p->stride;
    /* total, then the entries' count (a fork child sees nfree <= total) */
    __atomic_store_n(&p->total, p->total + n, __ATOMIC_RELEASE);
    __atomic_store_n(&p->nfree, nf + n, __ATOMIC_RELEASE);
    if (p->waiters)
        pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

static void seg_remove_all(struct nslab_pool *p)
{
    for (uint32_t i = 0; i < p->nsegs; i++) {
        struct pool_seg *s = p->segs[i];
        size_t bytes = s->hdr.map_size;
        seg_unregister(&s->hdr);
        region_segment_unmap(s, bytes);
    }
    p->nsegs = 0;
}

/* Grow until the common stack holds `need` buffers or the pool is at its
 * cap: one segment per call.  0 (grown, or enough free already), ENOENT
 * (at max_count), ENOMEM (the segment could not be mapped). */
int pool_grow(struct nslab_pool *p, uint32_t need)
{
    int e = 0;
    pool_layout_check(p); /* grow on the node the pool is really on */
    pthread_mutex_lock(&p->grow_lock);
    pthread_mutex_lock(&p->lock);
    uint32_t nfree = p->nfree, total = p->total;
    pthread_mutex_unlock(&p->lock);
    if (nfree < need) {
        if (total >= p->max_count) {
            e = ENOENT;
        } else {
            uint32_t left = p->max_count - total;
            e = seg_add(p, left < p->per_seg ? left : p->per_seg);
        }
    }
    pthread_mutex_unlock(&p->grow_lock);
    return e;
}

/* ---- pointers ------------------------------------------------------- */

uint32_t pool_index_of(const struct nslab_pool *p, const void *buf)
{
    struct pool_seg *s = pool_seg_of(buf);
    if (!s || s->pool != p)
        return UINT32_MAX;
    uint32_t i = pool_seg_index(s, buf);
    return i == UINT32_MAX ? i : s->first + i;
}

void *pool_buf_at(const struct nslab_pool *p, uint32_t idx)
{
    uint32_t lo = 0, hi = p->nsegs;
    while (lo < hi) { /* segs are in index order: find the last first <= idx */
        uint32_t mid = lo + (hi - lo) / 2;
        if (p->segs[mid]->first <= idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    struct pool_seg *s = p->segs[lo - 1];
    if (idx - s->first >= s->nbufs)
        return NULL;
    return s->base + (size_t)(idx - s->first) * p->stride;
}

/* ---- create / destroy ----------------------------------------------- */

static nslab_pool_t *fail_null(int e)
{
    errno = e;
    return NULL;
}

static int fail_int(int e)
{
    errno = e;
    return -e;
}

NSLAB_API nslab_pool_t *nslab_pool_create(int node, const nslab_pool_opts_t *opts)
{
    const struct topology *t = topology_get();
    struct pool_layout l;
    nslab_pool_opts_t o;
    int e;

    if (!opts || topology_opts_import(&o, sizeof o, opts) != 0)
        return fail_null(EINVAL);
    opts = &o;
    if ((e = opts_check(opts)) != 0)
        return fail_null(e);
    if (topology_error())
        return fail_null(topology_error() == ENOENT ? ENOSYS : topology_error());
    if (node == NSLAB_NODE_LOCAL) {
        node = topology_local_node();
        if (node < 0)
            return fail_null(ENODEV);
    }
    if ((e = topology_check_node_fresh(&t, node)) != 0)
        return fail_null(e);
    if ((e = layout(opts, &l)) != 0)
        return fail_null(e);
    if ((e = capacity_claim_check(opts->claim)) != 0)
        return fail_null(e);
    size_t drawn;
    if ((e = capacity_reserve_claim(node, l.reserve, opts->claim, &drawn)) != 0)
        return fail_null(e);

    void *meta = NULL;
    struct nslab_pool *p = NULL;
    if (header_get(l.page, &p) != 0) {
        capacity_release_claim(node, l.reserve, opts->claim, drawn);
        return fail_null(ENOMEM);
    }
    if ((e = region_meta_map(l.meta_size, &meta)) != 0) {
        tomb_bury(p);
        capacity_release_claim(node, l.reserve, opts->claim, drawn);
        return fail_null(ENOMEM);
    }
    /* preferred, not strict: a full node must not fail the bookkeeping */
    region_meta_prefer(p, l.page, node, 0);
    region_meta_prefer(meta, l.meta_size, node, 0);

    p->node = node;
    p->topo_gen = __atomic_load_n(&topology_generation, __ATOMIC_ACQUIRE);
    p->flags = opts->flags;
    p->slow = (opts->flags & NSLAB_POOL_DEBUG) ? POOL_SLOW_DEBUG : 0;
    p->caches = (char *)meta + l.off_caches;
    p->cache_stride = l.cache_stride;
    p->fast_stride = pool_fast_stride(p);
    p->cache_cap = l.cache_cap;
    p->per_seg = l.per_seg;
    p->stride = l.stride;
    p->elt_size = opts->elt_size;
    p->align = l.align;
    p->bufs_off = l.bufs_off;
    p->stack = (void **)((char *)meta + l.off_stack);
    p->segs = (struct pool_seg **)((char *)meta + l.off_segs);
    p->state = (opts->flags & NSLAB_POOL_DEBUG) ? (uint8_t *)meta + l.off_state : NULL;
    p->max_count = (uint32_t)(opts->max_count ? opts->max_count : opts->count);
    p->count = (uint32_t)opts->count;
    p->max_segs = l.max_segs;
    p->prefault = opts->prefault;
    p->ctor = opts->ctor;
    p->ctor_arg = opts->ctor_arg;
    p->meta = meta;
    p->meta_size = l.meta_size;
    p->reserved = l.reserve;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->grow_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    p->magic = POOL_MAGIC;

    pthread_mutex_lock(&p->grow_lock);
    while (p->total < p->count) {
        uint32_t left = p->count - p->total;
        if ((e = seg_add(p, left < p->per_seg ? left : p->per_seg)) != 0)
            break;
    }
    pthread_mutex_unlock(&p->grow_lock);
    if (e) {
        seg_remove_all(p);
        capacity_release(node, p->reserved);
        pthread_mutex_destroy(&p->lock);
        pthread_mutex_destroy(&p->grow_lock);
        pthread_cond_destroy(&p->cond);
        region_meta_unmap(meta, l.meta_size);
        tomb_bury(p);
        return fail_null(e);
    }
    pool_registry_add(p);
    /* A drain that began after the node check above and walked the pools
     * before this one joined did not move it; its snapshot is visible
     * here (registry_lock orders them): refuse as the check would now. */
    if (topology_get()->node[node].drained) {
        (void)nslab_pool_destroy(p);
        return fail_null(ENODEV);
    }
    return p;
}

/* Under registry_lock (no thread exit is flushing into p): EBUSY while any
 * buffer is out.  Buffers in caches count as returned. */
static int pool_idle(struct nslab_pool *p)
{
    pthread_mutex_lock(&p->lock);
    uint64_t here = (uint64_t)p->nfree + pool_cached_total(p);
    int busy = here < p->total || p->waiters;
    pthread_mutex_unlock(&p->lock);
    return busy ? EBUSY : 0;
}

NSLAB_API int nslab_pool_destroy(nslab_pool_t *p)
{
    if (pool_check(p))
        return fail_int(EINVAL);
    pool_drain_lock(); /* a drain moving p finishes first (pool-move.c) */
    pthread_mutex_lock(&p->grow_lock);
    int e = pool_registry_remove_if(p, pool_idle);
    if (e) {
        pthread_mutex_unlock(&p->grow_lock);
        pool_drain_unlock();
        return fail_int(e);
    }
    p->magic = 0;
    seg_remove_all(p);
    capacity_release(p->node, p->reserved);
    p->reserved = 0;
    pthread_mutex_unlock(&p->grow_lock);
    pool_drain_unlock();
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->grow_lock);
    pthread_cond_destroy(&p->cond);
    void *meta = p->meta;
    size_t meta_size = p->meta_size;
    tomb_bury(p); /* the fast paths read the zero cache from here on */
    region_meta_unmap(meta, meta_size);
    return 0;
}

NSLAB_API nslab_pool_t *nslab_pool_of(const void *buf)
{
    struct pool_seg *s = pool_seg_of(buf);
    if (!s || pool_seg_index(s, buf) == UINT32_MAX)
        return fail_null(EINVAL);
    return s->pool;
}

NSLAB_API int nslab_pool_node(const nslab_pool_t *p)
{
    if (pool_check(p))
        return fail_int(EINVAL);
    pool_layout_check((struct nslab_pool *)p); /* its lock only */
    return __atomic_load_n(&p->node, __ATOMIC_RELAXED); /* nslab_pool_move */
}
