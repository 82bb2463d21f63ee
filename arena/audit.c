/*
 * arena/audit.c - nslab_audit(): prove the arenas' invariants (arena.h).
 *
 * Per node, with the registry lock, every class lock and the chunk lock
 * held (arena.h order), it checks:
 *   chunks   header magic/kind/node; the header page is in use; free_pages
 *            matches the page bitmap; nchunks and nempty (<= retention)
 *            match the list;
 *   pages    a page in use belongs to exactly one slab, and its class, bin
 *            offset and head entries agree with that slab; a free page has
 *            none;
 *   slabs    used + |free| + (capacity - fresh) == capacity; partial iff
 *            used < capacity; used > 0; per class, the number of slabs and
 *            the sum of `used` match the class's counters, and the partial
 *            list holds exactly the partial slabs;
 *   blocks   every block on a slab's free list, on a remote stack or in a
 *            thread's bin is a block start of a live slab of the right node
 *            and class, below the slab's fresh index, and is found ONCE
 *            across all those lists (a bitmap of 16-byte granules per chunk,
 *            mapped for the audit); bins' counts match their lists; per
 *            class, blocks cached + on remote stacks <= blocks out.
 *   large    the node's cache of freed large regions holds registered,
 *            cached-marked regions of the node, within its bounds.
 * Blocks neither on a list nor cached are in use: "every block is in
 * exactly one place" is the no-duplicate check plus the per-slab equation.
 * The other threads must be quiescent: their bins are walked without their
 * cooperation.  Messages (at most AUDIT_MAX_MSGS) go to `out` if non-NULL.
 */
#include "arena.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define AUDIT_MAX_MSGS 32
#define GRANULES_PER_CHUNK (SEG_SIZE / 16)
#define MARK_WORDS (GRANULES_PER_CHUNK / 64)

struct audit {
    FILE *out;
    int errors;
    struct arena *a;
    struct chunk **chunks;  /* sorted by address */
    uint64_t *marks;        /* MARK_WORDS per chunk */
    size_t nchunks;
};

__attribute__((format(printf, 2, 3))) static void bad(struct audit *au, const char *fmt, ...)
{
    au->errors++;
    if (!au->out || au->errors > AUDIT_MAX_MSGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(au->out, "nslab_audit: node %d: ", au->a->node);
    vfprintf(au->out, fmt, ap);
    fputc('\n', au->out);
    va_end(ap);
}

static long chunk_index(struct audit *au, const void *p)
{
    const struct chunk *c = chunk_of(p);
    size_t lo = 0, hi = au->nchunks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (au->chunks[mid] == c)
            return (long)mid;
        if (au->chunks[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Validate a listed block of class cls and mark it; 0 if fine. */
static int check_block(struct audit *au, void *p, unsigned cls, const char *where)
{
    long ci = chunk_index(au, p);
    if (ci < 0) {
        bad(au, "%s: class %u block %p is not in a chunk of this node", where, cls, p);
        return -1;
    }
    struct chunk *c = au->chunks[ci];
    unsigned pg = chunk_page(p);
    if (c->cls[pg] != cls) {
        bad(au, "%s: block %p on a page of class %u, listed as class %u", where, p, c->cls[pg],
            cls);
        return -1;
    }
    struct slab *s = chunk_slab_of(c, p);
    size_t off = (size_t)((char *)p - s->start);
    if (off % sc_size[cls] || off / sc_size[cls] >= s->fresh) {
        bad(au, "%s: %p is not a handed-out block start of its slab", where, p);
        return -1;
    }
    size_t g = (size_t)((char *)p - (char *)c) / 16;
    uint64_t *w = &au->marks[(size_t)ci * MARK_WORDS + g / 64];
    if (*w & (UINT64_C(1) << (g % 64))) {
        bad(au, "%s: block %p (class %u) is listed twice (double free?)", where, p, cls);
        return -1;
    }
    *w |= UINT64_C(1) << (g % 64);
    return 0;
}

static void sort_chunks(struct chunk **v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct chunk *x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void audit_chunks(struct audit *au, uint64_t *slabs, uint64_t *used, uint64_t *partial)
{
    struct arena *a = au->a;
    uint64_t empty = 0;
    for (size_t ci = 0; ci < au->nchunks; ci++) {
        struct chunk *c = au->chunks[ci];
        if (c->hdr.magic != SEG_MAGIC || c->hdr.kind != SEG_CHUNK || c->hdr.node != a->node ||
            c->arena != a || seg_lookup(c) != &c->hdr)
            bad(au, "chunk %p: bad header or not registered", (void *)c);
        if (!(c->used_pages & 1))
            bad(au, "chunk %p: header page marked free", (void *)c);
        unsigned fp = ARENA_PAGES - (unsigned)__builtin_popcountll(c->used_pages);
        if (fp != c->free_pages)
            bad(au, "chunk %p: free_pages %u, bitmap says %u", (void *)c, c->free_pages, fp);
        if (c->free_pages == ARENA_PAGES - 1)
            empty++;
        for (unsigned i = 1; i < ARENA_PAGES; i++) {
            int inuse = (c->used_pages >> i) & 1;
            if (!inuse) {
                if (c->page_off[i] != CHUNK_NO_BIN || c->cls[i])
                    bad(au, "chunk %p page %u: free page with class %u", (void *)c, i, c->cls[i]);
                continue;
            }
            unsigned f = c->head[i];
            struct slab *s = &c->slabs[f];
            unsigned cls = s->cls;
            if (f < 1 || f > i || cls == 0 || cls >= SC_COUNT || i >= f + s->npages ||
                c->cls[i] != cls || c->page_off[i] != a->node_off + sc_binoff(cls)) {
                bad(au, "chunk %p page %u: page tables disagree with slab at page %u",
                    (void *)c, i, f);
                continue;
            }
            if (f != i)
                continue;
            /* the slab itself */
            if (s->npages != sc_pages[cls] || s->capacity != sc_capacity[cls] ||
                s->first != f || s->start != (char *)c + (size_t)f * ARENA_PAGE_SIZE ||
                f + s->npages > ARENA_PAGES) {
                bad(au, "slab %p: shape does not match class %u", (void *)s->start, cls);
                continue;
            }
            for (unsigned k = f; k < f + s->npages; k++)
                if (!((c->used_pages >> k) & 1))
                    bad(au, "slab %p: page %u of it is marked free", (void *)s->start, k);
            unsigned nfree = 0;
            for (void *b = s->free; b && nfree <= s->capacity; b = *(void **)b) {
                if (check_block(au, b, cls, "slab free list") != 0)
                    break;
                if (chunk_slab_of(c, b) != s)
                    bad(au, "slab %p: free block %p belongs to another slab",
                        (void *)s->start, b);
                nfree++;
            }
            if (s->used == 0 || s->fresh > s->capacity ||
                (uint64_t)s->used + nfree + (s->capacity - s->fresh) != s->capacity)
                bad(au, "slab %p (class %u): used %u + free %u + unused %u != capacity %u",
                    (void *)s->start, cls, s->used, nfree, s->capacity - s->fresh, s->capacity);
            if (!!s->in_partial != (s->used < s->capacity))
                bad(au, "slab %p: in_partial %u but used %u of %u", (void *)s->start,
                    s->in_partial, s->used, s->capacity);
            slabs[cls]++;
            used[cls] += s->used;
            partial[cls] += s->in_partial;
        }
    }
    if (empty != a->nempty || a->nempty > ARENA_EMPTY_RETAIN)
        bad(au, "empty chunks: counted %llu, found %llu (retain %d)",
            (unsigned long long)a->nempty, (unsigned long long)empty, ARENA_EMPTY_RETAIN);
}

static void audit_node(struct audit *au, struct arena *a)
{
    au->a = a;
    for (unsigned c = 0; c < SC_COUNT; c++)
        pthread_mutex_lock(&a->cls[c].lock);
    pthread_mutex_lock(&a->chunk_lock);

    size_t n = 0;
    for (struct chunk *c = a->chunks; c && n <= a->nchunks; c = c->next)
        n++;
    if (n != a->nchunks)
        bad(au, "chunk list holds %zu chunks, nchunks says %llu", n,
            (unsigned long long)a->nchunks);
    size_t page = topology_get()->page_size;
    size_t bytes = n * sizeof(struct chunk *) + n * MARK_WORDS * sizeof(uint64_t);
    bytes = (bytes + page - 1) & ~(page - 1);
    void *mem = NULL;
    if (n && os_map(bytes, page, 0, -1, &mem) != 0) {
        bad(au, "cannot map the audit's scratch memory");
        goto out;
    }
    au->marks = mem;
    au->chunks = (struct chunk **)((char *)mem + n * MARK_WORDS * sizeof(uint64_t));
    au->nchunks = 0;
    for (struct chunk *c = a->chunks; c && au->nchunks < n; c = c->next)
        au->chunks[au->nchunks++] = c;
    sort_chunks(au->chunks, au->nchunks);

    uint64_t slabs[SC_COUNT], used[SC_COUNT], partial[SC_COUNT], cached[SC_COUNT];
    memset(slabs, 0, sizeof slabs);
    memset(used, 0, sizeof used);
    memset(partial, 0, sizeof partial);
    memset(cached, 0, sizeof cached);
    audit_chunks(au, slabs, used, partial);

    for (unsigned c = 1; c < SC_COUNT; c++) {
        struct arena_class *ac = &a->cls[c];
        if (slabs[c] != ac->slabs || used[c] != ac->out)
            bad(au, "class %u: %llu slabs with %llu blocks out, counters say %llu and %llu", c,
                (unsigned long long)slabs[c], (unsigned long long)used[c],
                (unsigned long long)ac->slabs, (unsigned long long)ac->out);
        uint64_t np = 0;
        for (struct slab *s = ac->partial; s && np <= partial[c]; s = s->next, np++)
            if (!s->in_partial || s->cls != c || chunk_of(s->start)->arena != a)
                bad(au, "class %u: partial list holds a foreign or full slab", c);
        if (np != partial[c])
            bad(au, "class %u: partial list has %llu slabs, %llu are partial", c,
                (unsigned long long)np, (unsigned long long)partial[c]);
        uint64_t pending = 0;
        for (void *b = __atomic_load_n(&ac->remote, __ATOMIC_ACQUIRE); b; b = *(void **)b) {
            if (check_block(au, b, c, "remote stack") != 0)
                break;
            pending++;
        }
        cached[c] += pending;
    }

    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next) {
        if (a->node >= tc->nr_nodes)
            continue;
        struct tc_node *tn = &tc->nodes[a->node];
        if (tn->bins[0].head || tn->bins[0].room != 0)
            bad(au, "thread cache %p: the sentinel bin is not empty", (void *)tc);
        for (unsigned c = 1; c < SC_COUNT; c++) {
            struct tc_bin *bin = &tn->bins[c];
            int32_t want = sc_limit[c] - bin->room, k = 0;
            for (void *b = bin->head; b && k <= want; b = *(void **)b, k++)
                if (check_block(au, b, c, "thread cache") != 0)
                    break;
            if (k != want || bin->room < 0)
                bad(au, "thread cache %p class %u: %d blocks listed, count says %d", (void *)tc,
                    c, k, want);
            cached[c] += (uint64_t)k;
        }
    }
    for (unsigned c = 1; c < SC_COUNT; c++)
        if (cached[c] > used[c])
            bad(au, "class %u: %llu blocks cached or pending but only %llu out", c,
                (unsigned long long)cached[c], (unsigned long long)used[c]);
    pthread_mutex_lock(&a->large_lock);
    uint64_t lbytes = 0;
    for (unsigned i = 0; i < a->nlarge_cached; i++) {
        struct nslab_region *r = a->large_cache[i];
        if (seg_lookup(r) != &r->hdr || r->hdr.kind != SEG_REGION || r->hdr.node != a->node ||
            (r->flags & (REGION_F_LARGE | LARGE_F_CACHED)) != (REGION_F_LARGE | LARGE_F_CACHED))
            bad(au, "large cache slot %u: %p is not a cached large region of this node", i,
                (void *)r);
        lbytes += r->hdr.map_size;
    }
    if (a->nlarge_cached > ARENA_LARGE_CACHE || lbytes != a->large_cached_bytes ||
        lbytes > ARENA_LARGE_CACHE_BYTES)
        bad(au, "large cache: %u regions of %llu bytes, counter says %llu", a->nlarge_cached,
            (unsigned long long)lbytes, (unsigned long long)a->large_cached_bytes);
    pthread_mutex_unlock(&a->large_lock);
    if (mem)
        os_unmap(mem, bytes);
out:
    pthread_mutex_unlock(&a->chunk_lock);
    for (unsigned c = SC_COUNT; c-- > 0;)
        pthread_mutex_unlock(&a->cls[c].lock);
}

NSLAB_API int nslab_audit(FILE *out)
{
    struct audit au = { .out = out };
    if (!arena_ready)
        return 0;
    tcache_registry_lock();
    for (int n = 0; n < NSLAB_MAX_NODES; n++) {
        struct arena *a = arena_peek(n);
        if (a)
            audit_node(&au, a);
    }
    tcache_registry_unlock();
    if (au.errors) {
        if (out && au.errors > AUDIT_MAX_MSGS)
            fprintf(out, "nslab_audit: %d more problems\n", au.errors - AUDIT_MAX_MSGS);
        errno = EFAULT;
        return -EFAULT;
    }
    return 0;
}
