/*
 * pool/pstats.c - what a pool can tell: statistics (per-thread cache
 * counters merged on read), a printer, and an audit that proves no buffer
 * is lost or duplicated.
 *
 * Statistics read other threads' cache lengths and counters with relaxed
 * loads while those threads keep working: a snapshot, not atomic across
 * fields (free + in_use == total holds only when the pool is quiet).
 * The audit reads the caches' contents too, so it needs the pool quiescent
 * (no get/put on it running; joined threads are fine); it takes grow_lock,
 * registry_lock and pool->lock in that order so neither growth nor a thread
 * exit changes the pool under it.
 */
#include "pool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "region.h"
#include "topology.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

uint32_t pool_cached_total(const struct nslab_pool *p)
{
    uint32_t n = 0;
    if (p->cache_stride == 0)
        return 0;
    for (uint32_t s = 1; s < POOL_MAX_SLOTS; s++)
        n += LOAD(pool_cache_of(p, s)->len);
    return n;
}

struct sums {
    uint64_t get_hit, put_hit, get_miss, put_miss, remote;
};

static void cache_sums(const struct nslab_pool *p, struct sums *s)
{
    memset(s, 0, sizeof(*s));
    if (p->cache_stride == 0)
        return;
    for (uint32_t i = 1; i < POOL_MAX_SLOTS; i++) {
        const struct pool_cache *c = pool_cache_of(p, i);
        s->get_hit += LOAD(c->get_hit);
        s->put_hit += LOAD(c->put_hit);
        s->get_miss += LOAD(c->get_miss);
        s->put_miss += LOAD(c->put_miss);
        s->remote += LOAD(c->remote_puts);
    }
}

NSLAB_API int nslab_pool_stats(const nslab_pool_t *cp, nslab_pool_stats_t *out)
{
    struct nslab_pool *p = (struct nslab_pool *)cp; /* for its lock only */
    if (pool_check(p) || !out || out->size < 2 * sizeof(uint32_t) ||
        out->version != NSLAB_STATS_VERSION) {
        errno = EINVAL;
        return -EINVAL;
    }
    pool_layout_check(p);
    nslab_pool_stats_t st;
    struct sums s;
    memset(&st, 0, sizeof(st));
    st.size = out->size < sizeof(st) ? out->size : (uint32_t)sizeof(st);
    st.version = NSLAB_STATS_VERSION;
    st.node = __atomic_load_n(&p->node, __ATOMIC_RELAXED); /* nslab_pool_move */

    pthread_mutex_lock(&p->lock);
    uint64_t nfree = p->nfree, total = p->total, u_get = p->u_get, u_put = p->u_put;
    uint64_t u_remote = p->u_remote;
    st.segments = p->nsegs;
    st.bytes_committed = p->committed;
    st.bytes_reserved = p->reserved;
    pthread_mutex_unlock(&p->lock);
    uint64_t cached = pool_cached_total(p);
    cache_sums(p, &s);

    st.total = total;
    st.max_count = p->max_count;
    st.elt_size = p->elt_size;
    st.cache_size = p->cache_cap;
    st.free = nfree + cached;
    if (st.free > total)
        st.free = total; /* a racy read of a busy pool */
    st.in_use = total - st.free;
    st.cached = cached;
    st.cache_hits = s.get_hit + s.put_hit;
    st.cache_misses = s.get_miss + s.put_miss + u_get + u_put;
    st.gets = s.get_hit + s.get_miss + u_get;
    st.puts = s.put_hit + s.put_miss + u_put;
    st.remote_puts = s.remote + u_remote;
    st.migrations = __atomic_load_n(&p->migrations, __ATOMIC_RELAXED);
    memcpy(out, &st, st.size);
    return 0;
}

NSLAB_API int nslab_pool_print(const nslab_pool_t *p, FILE *out)
{
    nslab_pool_stats_t st = { .size = sizeof(st), .version = NSLAB_STATS_VERSION };
    int e = nslab_pool_stats(p, &st);
    if (e)
        return e;
    if (!out) {
        errno = EINVAL;
        return -EINVAL;
    }
    int r = fprintf(out,
                    "pool %p node %d: %zu-byte buffers, %" PRIu64 " of max %" PRIu64
                    " created (%" PRIu64 " segments, %" PRIu64 " KiB committed, %" PRIu64
                    " KiB reserved)\n"
                    "  free %" PRIu64 " (%" PRIu64 " in caches of %" PRIu64 "), in use %" PRIu64
                    ", gets %" PRIu64 ", puts %" PRIu64 "\n"
                    "  cache hits %" PRIu64 ", misses %" PRIu64 " (hit rate %.1f%%), remote puts %"
                    PRIu64 ", migrations %" PRIu64 "\n",
                    (void *)p, st.node, (size_t)st.elt_size, st.total, st.max_count,
                    st.segments, st.bytes_committed >> 10, st.bytes_reserved >> 10, st.free,
                    st.cached, st.cache_size, st.in_use, st.gets, st.puts, st.cache_hits,
                    st.cache_misses,
                    st.cache_hits + st.cache_misses
                        ? 100.0 * (double)st.cache_hits / (double)(st.cache_hits + st.cache_misses)
                        : 0.0,
                    st.remote_puts, st.migrations);
    if (r < 0) {
        errno = EIO;
        return -EIO;
    }
    return 0;
}

/* ---- audit ---------------------------------------------------------- */

struct audit {
    struct nslab_pool *p;
    uint64_t *seen;   /* one bit per buffer index */
    uint64_t nseen;
    int errors;
    FILE *out;
};

static void complain(struct audit *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void complain(struct audit *a, const char *fmt, ...)
{
    a->errors++;
    if (!a->out || a->errors > 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(a->out, "pool %p audit: ", (void *)a->p);
    vfprintf(a->out, fmt, ap);
    fputc('\n', a->out);
    va_end(ap);
}

static void mark(struct audit *a, void *buf, const char *where, uint32_t pos)
{
    uint32_t i = pool_index_of(a->p, buf);
    if (i == UINT32_MAX || i >= a->p->total) {
        complain(a, "%s[%u] = %p is not a buffer of this pool", where, pos, buf);
        return;
    }
    if ((a->seen[i / 64] >> (i % 64)) & 1) {
        complain(a, "buffer %u (%p) is free twice (again in %s[%u])", i, buf, where, pos);
        return;
    }
    a->seen[i / 64] |= UINT64_C(1) << (i % 64);
    a->nseen++;
}

NSLAB_API int nslab_pool_audit(nslab_pool_t *p, FILE *out)
{
    if (pool_check(p)) {
        errno = EINVAL;
        return -EINVAL;
    }
    struct audit a = { .p = p, .out = out };
    size_t page = topology_get()->page_size ? topology_get()->page_size : 4096;

    pthread_mutex_lock(&p->grow_lock);
    pool_registry_lock();
    pthread_mutex_lock(&p->lock);
    size_t bytes = (((size_t)p->total + 63) / 64 * 8 + page) & ~(page - 1);
    if (region_meta_map(bytes, (void **)&a.seen) != 0) {
        pthread_mutex_unlock(&p->lock);
        pool_registry_unlock();
        pthread_mutex_unlock(&p->grow_lock);
        errno = ENOMEM;
        return -ENOMEM;
    }

    /* Segments: registered, owned, indexes contiguous, sizes adding up. */
    uint64_t nbufs = 0;
    for (uint32_t i = 0; i < p->nsegs; i++) {
        struct pool_seg *s = p->segs[i];
        if (seg_lookup(s) != &s->hdr || s->hdr.kind != SEG_POOL || s->pool != p)
            complain(&a, "segment %u (%p) is not registered as this pool's", i, (void *)s);
        if (s->first != nbufs)
            complain(&a, "segment %u starts at index %u, expected %" PRIu64, i, s->first, nbufs);
        if (s->base + (size_t)(s->nbufs - 1) * p->stride >= (char *)s + SEG_SIZE)
            complain(&a, "segment %u has a buffer starting past SEG_SIZE", i);
        nbufs += s->nbufs;
    }
    if (nbufs != p->total || p->total > p->max_count)
        complain(&a, "segments hold %" PRIu64 " buffers, total is %u (max %u)", nbufs,
                 p->total, p->max_count);

    /* Every free buffer: in the stack or in a cache, once. */
    if (p->nfree > p->total)
        complain(&a, "stack depth %u exceeds total %u", p->nfree, p->total);
    else
        for (uint32_t i = 0; i < p->nfree; i++)
            mark(&a, p->stack[i], "stack", i);
    struct sums s;
    cache_sums(p, &s);
    if (p->cache_stride) {
        for (uint32_t slot = 0; slot < POOL_MAX_SLOTS; slot++) {
            struct pool_cache *c = pool_cache_of(p, slot);
            uint32_t len = LOAD(c->len);
            if (len > c->cap || (slot == 0 && c->cap)) {
                complain(&a, "cache %u holds %u buffers, capacity %u", slot, len, c->cap);
                continue;
            }
            for (uint32_t i = 0; i < len; i++)
                mark(&a, c->objs[i], "cache", slot);
        }
    } else if (pool_cache_of(p, 0)->len) {
        complain(&a, "the uncached pool's null cache holds buffers");
    }

    /* The rest are out: handed out minus returned must account for them. */
    uint64_t gets = s.get_hit + s.get_miss + p->u_get;
    uint64_t puts = s.put_hit + s.put_miss + p->u_put;
    uint64_t out_n = gets >= puts ? gets - puts : 0;
    if (puts > gets)
        complain(&a, "%" PRIu64 " more puts than gets", puts - gets);
    if (a.nseen + out_n != p->total)
        complain(&a, "%" PRIu64 " free + %" PRIu64 " out != %u created: %" PRIu64 " %s",
                 a.nseen, out_n, p->total,
                 a.nseen + out_n < p->total ? p->total - (a.nseen + out_n)
                                            : (a.nseen + out_n) - p->total,
                 a.nseen + out_n < p->total ? "lost" : "too many");
    if (p->dropped)
        complain(&a, "%" PRIu64 " puts were refused by a full stack (double puts)", p->dropped);

    /* Debug mode: each buffer's state agrees with where it was found. */
    if (p->state) {
        for (uint32_t i = 0; i < p->total; i++) {
            int free_ = (a.seen[i / 64] >> (i % 64)) & 1;
            uint8_t st = __atomic_load_n(&p->state[i], __ATOMIC_RELAXED);
            if ((free_ && st != POOL_ST_FREE) || (!free_ && st != POOL_ST_OUT))
                complain(&a, "buffer %u (%p) is %s but its state is %u", i,
                         pool_buf_at(p, i), free_ ? "free" : "out", st);
        }
    }
    if (out && a.errors == 0)
        fprintf(out, "pool %p audit: ok: %u buffers, %" PRIu64 " free, %" PRIu64 " out\n",
                (void *)p, p->total, a.nseen, out_n);
    else if (out && a.errors > 20)
        fprintf(out, "pool %p audit: ... %d problems in all\n", (void *)p, a.errors);

    pthread_mutex_unlock(&p->lock);
    pool_registry_unlock();
    pthread_mutex_unlock(&p->grow_lock);
    region_meta_unmap(a.seen, bytes);
    if (a.errors) {
        errno = EFAULT;
        return -EFAULT;
    }
    return 0;
}
