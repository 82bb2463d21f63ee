/*
 * arena/audit.c - nslab_arena_audit(): prove the arenas' invariants (arena.h).
 *
 * Per node, with the registry lock held and each class's lock in turn (then
 * the chunk lock, arena.h order), it checks:
 *   chunks   header magic/kind/node; the header page is in use; free_pages
 *            matches the page bitmap; every page in use (the header page
 *            too) is committed (a free page may or may not be); aged
 *            pages are free and committed; the node's free_committed
 *            counts the free committed pages; nchunks and
 *            nempty (<= retention) match the list;
 *   pages    a page in use belongs to exactly one slab, and its class, bin
 *            offset and head entries agree with that slab; a free page has
 *            none;
 *   slabs    used + |free| + (capacity - fresh) == capacity; partial iff
 *            used < capacity; per class, the number of slabs and
 *            the sum of `used` match the class's counters, and the partial
 *            list holds exactly the partial slabs; slabs with used == 0 are
 *            the kept ones: per class as many as empty_slabs (<=
 *            ARENA_SLAB_KEEP), their pages as many as the node's
 *            kept_pages (<= ARENA_KEPT_PAGES_MAX);
 *   blocks   every block on a slab's free list, on a remote stack or in a
 *            thread's bin is a block start of a live slab of the right node
 *            and class, below the slab's fresh index, and is found ONCE
 *            across all those lists (a bitmap of 16-byte granules per chunk,
 *            mapped for the audit); bins' counts match their lists; per
 *            class, blocks cached + on remote stacks <= blocks out.
 *   large    the node's cache of freed large regions holds registered,
 *            cached-marked regions of the node, within its bounds.
 * Pages a fork child's repair abandoned (chunk.abandoned_pages, arena.c)
 * are in use and owned by no slab: they and the blocks on them (which may
 * still sit in a thread's bin) are skipped.
 * Blocks neither on a list nor cached are in use: "every block is in
 * exactly one place" is the no-duplicate check plus the per-slab equation.
 * The other threads must be quiescent: their bins are walked without their
 * cooperation.  Messages (at most AUDIT_MAX_MSGS) go to `out` if non-NULL.
 */
#include "arena.h"
#include "os.h"

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
    uint64_t kept_pages;    /* pages of kept empty slabs found */
};

__attribute__((format(printf, 2, 3))) static void bad(struct audit *au, const char *fmt, ...)
{
    au->errors++;
    if (!au->out || au->errors > AUDIT_MAX_MSGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(au->out, "nslab_arena_audit: node %d: ", au->a->node);
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

/* Validate a listed block of class cls and mark it; 0 if fine, 1 if it
 * lies on an abandoned page (a fork child's repair: not checked, not
 * counted), -1 if bad. */
static int check_block(struct audit *au, void *p, unsigned cls, const char *where)
{
    long ci = chunk_index(au, p);
    if (ci < 0) {
        bad(au, "%s: class %u block %p is not in a chunk of this node", where, cls, p);
        return -1;
    }
    struct chunk *c = au->chunks[ci];
    unsigned pg = chunk_page(p);
    if ((c->abandoned_pages >> pg) & 1)
        return 1;
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

/* Chunk-level checks, chunk lock held. */
static void audit_chunks(struct audit *au)
{
    struct arena *a = au->a;
    uint64_t empty = 0, fcommitted = 0, slab_pages = 0, retired = 0;
    for (size_t ci = 0; ci < au->nchunks; ci++) {
        struct chunk *c = au->chunks[ci];
        if (c->hdr.magic != SEG_MAGIC || c->hdr.kind != SEG_CHUNK || c->hdr.node != a->node ||
            c->arena != a || seg_lookup(c) != &c->hdr ||
            chunk_map[(uintptr_t)c >> SEG_SHIFT] != 1 || c->node_off != a->node_off)
            bad(au, "chunk %p: bad header or not registered", (void *)c);
        if (!(c->used_pages & 1))
            bad(au, "chunk %p: header page marked free", (void *)c);
        fcommitted += (uint64_t)__builtin_popcountll(c->committed_pages & ~c->used_pages);
        slab_pages += (uint64_t)__builtin_popcountll(c->used_pages) - 1; /* not the header */
        if (c->aged_pages & (c->used_pages | ~c->committed_pages))
            bad(au, "chunk %p: aged pages not free and committed: %#llx", (void *)c,
                (unsigned long long)(c->aged_pages & (c->used_pages | ~c->committed_pages)));
        if (c->abandoned_pages & ~c->used_pages)
            bad(au, "chunk %p: abandoned pages not in use: %#llx", (void *)c,
                (unsigned long long)(c->abandoned_pages & ~c->used_pages));
        if (c->used_pages & ~c->committed_pages)
            bad(au, "chunk %p: pages in use but decommitted: %#llx", (void *)c,
                (unsigned long long)(c->used_pages & ~c->committed_pages));
        unsigned fp = ARENA_PAGES - (unsigned)__builtin_popcountll(c->used_pages);
        if (fp != c->free_pages)
            bad(au, "chunk %p: free_pages %u, bitmap says %u", (void *)c, c->free_pages, fp);
        if (c->retired) {
            retired++;
            /* a retired chunk keeps no empty state: it is unmapped */
            if (c->free_pages == ARENA_PAGES - 1)
                bad(au, "chunk %p: retired and empty but still mapped", (void *)c);
            for (unsigned i = 0; i < ARENA_PAGES; i++)
                if (c->pg[i].bin_off != CHUNK_NO_BIN || c->bin_base[i] != CHUNK_NO_BASE)
                    bad(au, "chunk %p page %u: retired but frees still go to caches",
                        (void *)c, i);
        } else if (c->free_pages == ARENA_PAGES - 1) {
            empty++;
        }
        for (unsigned i = 0; i < ARENA_PAGES; i++) {
            int inuse = (c->used_pages >> i) & 1;
            if (i == 0 || !inuse) {
                if (c->pg[i].bin_off != CHUNK_NO_BIN || c->bin_base[i] != CHUNK_NO_BASE ||
                    c->cls[i])
                    bad(au, "chunk %p page %u: free or header page with class %u", (void *)c, i,
                        c->cls[i]);
            } else if ((c->abandoned_pages >> i) & 1) {
                continue; /* no slab owns it any more (fork child) */
            } else if (c->cls[i] == 0 || c->cls[i] >= SC_COUNT) {
                bad(au, "chunk %p page %u: in use but in no slab", (void *)c, i);
            }
        }
    }
    if (fcommitted != a->free_committed)
        bad(au, "free committed pages: counted %llu, found %llu",
            (unsigned long long)a->free_committed, (unsigned long long)fcommitted);
    if (slab_pages != a->slab_pages)
        bad(au, "slab pages: counted %llu, found %llu", (unsigned long long)a->slab_pages,
            (unsigned long long)slab_pages);
    if (retired != a->retired_chunks)
        bad(au, "retired chunks: counted %llu, found %llu",
            (unsigned long long)a->retired_chunks, (unsigned long long)retired);
    if (empty != a->nempty || a->nempty > ARENA_EMPTY_RETAIN)
        bad(au, "empty chunks: counted %llu, found %llu (retain %d)",
            (unsigned long long)a->nempty, (unsigned long long)empty, ARENA_EMPTY_RETAIN);
}

/* One class of one node: its slabs, pages, lists and the blocks on them.
 * Class lock and chunk lock held (and the registry lock, by the caller). */
static void audit_class(struct audit *au, unsigned cls)
{
    struct arena *a = au->a;
    struct arena_class *ac = &a->cls[cls];
    uint64_t slabs = 0, used = 0, partial = 0, cached = 0, empty = 0;

    for (size_t ci = 0; ci < au->nchunks; ci++) {
        struct chunk *c = au->chunks[ci];
        for (unsigned i = 1; i < ARENA_PAGES; i++) {
            if (!((c->used_pages >> i) & 1) || c->cls[i] != cls ||
                ((c->abandoned_pages >> i) & 1))
                continue;
            unsigned f = c->head[i];
            struct slab *s = &c->slabs[f];
            uintptr_t start = (uintptr_t)(slab_span(c, f) + slab_slack(cls));
            uint64_t mul = slab_test_mul(start, cls);
            uint32_t bin_off = a->node_off + sc_binoff(cls);
            uint64_t base = mul && !c->retired
                                ? bin_off - (((uint64_t)start * mul) >> CHUNK_TEST_SHIFT)
                                : CHUNK_NO_BASE;
            if (!mul)
                mul = UINT64_MAX / sc_size[cls] + 1;
            if (f < 1 || f > i || s->cls != cls || i >= f + s->npages ||
                c->pg[i].bin_off != (c->retired ? CHUNK_NO_BIN : bin_off) ||
                c->test_mul[i] != mul || c->bin_base[i] != base ||
                c->pg[i].start_mul != (uint64_t)start * mul) {
                bad(au, "chunk %p page %u: page tables disagree with slab at page %u",
                    (void *)c, i, f);
                continue;
            }
            if (f != i)
                continue;
            if (s->npages != sc_pages[cls] || s->capacity != sc_capacity[cls] ||
                s->first != f || s->start != (char *)start ||
                f + s->npages > ARENA_PAGES) {
                bad(au, "slab %p: shape does not match class %u", (void *)s->start, cls);
                continue;
            }
            for (unsigned k = f; k < f + s->npages; k++)
                if (!((c->used_pages >> k) & 1) || c->cls[k] != cls || c->head[k] != f)
                    bad(au, "slab %p: page %u of it is not marked as its own",
                        (void *)s->start, k);
            unsigned nfree = 0;
            for (void *b = s->free; b && nfree <= s->capacity; b = arena_link_get(b)) {
                if (check_block(au, b, cls, "slab free list") != 0)
                    break;
                if (chunk_slab_of(c, b) != s)
                    bad(au, "slab %p: free block %p belongs to another slab",
                        (void *)s->start, b);
                nfree++;
            }
            if (s->used == 0) {
                empty++;
                au->kept_pages += s->npages;
                if (!s->kept || s->free || s->fresh != 0)
                    bad(au, "slab %p (class %u): empty but not kept in the carved state "
                        "(kept %u, free list %p, fresh %u)", (void *)s->start, cls, s->kept,
                        s->free, s->fresh);
            } else if (s->kept) {
                bad(au, "slab %p (class %u): marked kept with %u blocks out", (void *)s->start,
                    cls, s->used);
            }
            if (s->fresh > s->capacity ||
                (uint64_t)s->used + nfree + (s->capacity - s->fresh) != s->capacity)
                bad(au, "slab %p (class %u): used %u + free %u + unused %u != capacity %u",
                    (void *)s->start, cls, s->used, nfree, s->capacity - s->fresh, s->capacity);
            /* a retired chunk's slabs are on no partial list */
            if (!!s->in_partial != (s->used < s->capacity && !c->retired))
                bad(au, "slab %p: in_partial %u but used %u of %u", (void *)s->start,
                    s->in_partial, s->used, s->capacity);
            slabs++;
            used += s->used;
            partial += s->in_partial;
        }
    }
    if (empty != ac->empty_slabs || empty > ARENA_SLAB_KEEP)
        bad(au, "class %u: %llu empty slabs kept, counter says %llu (keep %d)", cls,
            (unsigned long long)empty, (unsigned long long)ac->empty_slabs, ARENA_SLAB_KEEP);
    if (slabs != ac->slabs || used != ac->out)
        bad(au, "class %u: %llu slabs with %llu blocks out, counters say %llu and %llu", cls,
            (unsigned long long)slabs, (unsigned long long)used, (unsigned long long)ac->slabs,
            (unsigned long long)ac->out);
    uint64_t np = 0;
    for (struct slab *s = ac->partial; s && np <= partial; s = s->next, np++)
        if (!s->in_partial || s->cls != cls || chunk_of(s->start)->arena != a)
            bad(au, "class %u: partial list holds a foreign or full slab", cls);
    if (np != partial)
        bad(au, "class %u: partial list has %llu slabs, %llu are partial", cls,
            (unsigned long long)np, (unsigned long long)partial);
    for (void *b = __atomic_load_n(&ac->remote, __ATOMIC_ACQUIRE); b; b = arena_link_get(b)) {
        int r = check_block(au, b, cls, "remote stack");
        if (r < 0)
            break;
        cached += r == 0;
    }
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next) {
        if (a->node >= tc->nr_nodes)
            continue;
        struct tc_bin *bin = &tc->nodes[a->node].bins[cls];
        int32_t want = sc_limit[cls] - bin->room, k = 0, gone = 0;
        for (void *b = bin->head; b && k <= want; b = arena_link_get(b), k++) {
            int r = check_block(au, b, cls, "thread cache");
            if (r < 0)
                break;
            gone += r;
        }
        if (k != want || bin->room < 0)
            bad(au, "thread cache %p class %u: %d blocks listed, count says %d", (void *)tc, cls,
                k, want);
        cached += (uint64_t)(k - gone);
    }
    if (cached > used)
        bad(au, "class %u: %llu blocks cached or pending but only %llu out", cls,
            (unsigned long long)cached, (unsigned long long)used);
}

static void audit_large(struct audit *au)
{
    struct arena *a = au->a;
    pthread_mutex_lock(&a->large_lock);
    uint64_t lbytes = 0, ldirty = 0;
    for (unsigned i = 0; i < a->nlarge_cached; i++) {
        const struct large_entry *e = &a->large_cache[i];
        struct nslab_region *r = e->r;
        if (seg_lookup(r) != &r->hdr || r->hdr.kind != SEG_REGION || r->hdr.node != a->node ||
            (r->flags & (REGION_F_LARGE | LARGE_F_CACHED)) != (REGION_F_LARGE | LARGE_F_CACHED))
            bad(au, "large cache slot %u: %p is not a cached large region of this node", i,
                (void *)r);
        else if (e->room != r->hdr.map_size - r->data_off || (e->res && e->res != r->hdr.map_size) ||
                 (!e->res && !(r->flags & LARGE_F_CLEAN)) ||
                 (i && e->tick < a->large_cache[i - 1].tick))
            bad(au, "large cache slot %u: room %llu, resident %llu, tick %llu do not match its "
                "region or order", i, (unsigned long long)e->room, (unsigned long long)e->res,
                (unsigned long long)e->tick);
        lbytes += r->hdr.map_size;
        ldirty += e->res;
    }
    if (ldirty != a->large_cached_dirty || ldirty > ARENA_LARGE_CACHE_DIRTY)
        bad(au, "large cache: %llu bytes may be resident, counter says %llu",
            (unsigned long long)ldirty, (unsigned long long)a->large_cached_dirty);
    if (a->nlarge_cached > ARENA_LARGE_CACHE || lbytes != a->large_cached_bytes ||
        lbytes > ARENA_LARGE_CACHE_BYTES)
        bad(au, "large cache: %u regions of %llu bytes, counter says %llu", a->nlarge_cached,
            (unsigned long long)lbytes, (unsigned long long)a->large_cached_bytes);
    pthread_mutex_unlock(&a->large_lock);
}

/* One node.  The locks are taken a class at a time (class, then chunk),
 * never all together: at most four are held at once (registry, class,
 * chunk, large), which keeps within what ThreadSanitizer's deadlock detector
 * follows.  Chunks are listed once; with the other threads quiescent (as
 * nslab_arena_audit requires) the list does not change between passes. */
static void audit_node(struct audit *au, struct arena *a)
{
    au->a = a;
    au->kept_pages = 0;
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
        pthread_mutex_unlock(&a->chunk_lock);
        bad(au, "cannot map the audit's scratch memory");
        return;
    }
    au->marks = mem;
    /* no chunks: mem stays NULL, and NULL + 0 is undefined (UBSan) */
    au->chunks = n ? (struct chunk **)((char *)mem + n * MARK_WORDS * sizeof(uint64_t)) : NULL;
    au->nchunks = 0;
    for (struct chunk *c = a->chunks; c && au->nchunks < n; c = c->next)
        au->chunks[au->nchunks++] = c;
    sort_chunks(au->chunks, au->nchunks);
    audit_chunks(au);
    pthread_mutex_unlock(&a->chunk_lock);

    for (unsigned c = 1; c < SC_COUNT; c++) {
        pthread_mutex_lock(&a->cls[c].lock);
        pthread_mutex_lock(&a->chunk_lock);
        audit_class(au, c);
        pthread_mutex_unlock(&a->chunk_lock);
        pthread_mutex_unlock(&a->cls[c].lock);
    }
    for (struct tcache *tc = tcache_registry_first(); tc; tc = tc->reg_next)
        if (a->node < tc->nr_nodes &&
            (tc->nodes[a->node].bins[0].head || tc->nodes[a->node].bins[0].room != 0))
            bad(au, "thread cache %p: the sentinel bin is not empty", (void *)tc);
    if (au->kept_pages != a->kept_pages || a->kept_pages > ARENA_KEPT_PAGES_MAX)
        bad(au, "kept empty slabs hold %llu pages, counter says %llu (max %d)",
            (unsigned long long)au->kept_pages, (unsigned long long)a->kept_pages,
            ARENA_KEPT_PAGES_MAX);
    audit_large(au);
    if (mem)
        os_unmap(mem, bytes);
}

NSLAB_API int nslab_arena_audit(FILE *out)
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
            fprintf(out, "nslab_arena_audit: %d more problems\n", au.errors - AUDIT_MAX_MSGS);
        errno = EFAULT;
        return -EFAULT;
    }
    return 0;
}
