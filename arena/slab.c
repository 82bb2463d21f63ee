/*
 * arena/slab.c - slabs: runs of chunk pages holding blocks of one size
 * class, and the class-level operations of a node's arena (take a batch of
 * blocks, give blocks back).
 *
 * A new slab is carved lazily: its blocks are handed out in address order
 * from `fresh` (a bump index), so a slab of 4096 16-byte blocks costs
 * nothing until its blocks are used; freed blocks go to the slab's own LIFO
 * `free` list.  Its pages are populated the same way: before fresh blocks
 * are handed out, the pages they lie in (up to ARENA_POPULATE_STEP past
 * them) are populated (slab_populate, one os_commit), so a block never
 * comes from a page not yet populated, and a class a program uses three
 * blocks of costs 16 KiB, not the slab (prefault NONE: never populated,
 * first touch under the chunk's binding).
 *
 * Lazy release: a slab whose blocks are all back (used == 0) is KEPT (it
 * stays on the partial list) while its class keeps fewer than
 * ARENA_SLAB_KEEP empty slabs and the node's kept slabs hold fewer than
 * ARENA_KEPT_PAGES_MAX pages; otherwise it returns its pages to the chunk at
 * once (chunk.c then decides whether the pages stay committed and whether
 * the chunk stays).  This stops the carve / release thrash of a slab that
 * empties and fills again (producer / consumer: a slab used to be carved
 * and released every ~capacity blocks).  An empty slab of a class that
 * already keeps ARENA_SLAB_KEEP is released, so at most ARENA_SLAB_KEEP x
 * 80 classes (and ARENA_KEPT_PAGES_MAX pages) per node stay idle;
 * nslab_thread_flush gives them all back (arena_trim_slabs).  Kept slabs
 * are still committed: their blocks are handed out without a syscall.
 *
 * Locks: everything here runs under the class lock arena->cls[c].lock (see
 * the slab and chunk invariants in arena.h); chunk pages are taken and
 * released under arena->chunk_lock, inside the class lock.
 */
#include "arena.h"

#include <errno.h>

#include "debug.h"

#include "os.h"
#include "dlist.h"

static void partial_add(struct arena_class *ac, struct slab *s)
{
    NSLAB_DLIST_PUSH(ac->partial, s, prev, next);
    s->in_partial = 1;
}

static void partial_del(struct arena_class *ac, struct slab *s)
{
    NSLAB_DLIST_UNLINK(ac->partial, s, prev, next);
    s->in_partial = 0;
}

static uint64_t gcd64(uint64_t x, uint64_t y)
{
    while (y) {
        uint64_t t = x % y;
        x = y;
        y = t;
    }
    return x;
}

/* The multiplier of the free fast path's block test for a slab of class
 * cls starting at `start` (arena.h, struct chunk_pg): mul = ceil(j 2^64 /
 * d) for the first j coprime with d = sc_size[cls] such that (start * mul
 * mod 2^L) + (capacity - 1) * (d * mul mod 2^64) < 2^L; 0 when none of
 * the first tries fits (then the slab's frees take the slow path).  A
 * power-of-two class fits at j = 1; another fails one j with probability
 * below 2^19 / 2^L = 1/32, independently enough that no slab of the test
 * suite or the benchmarks has needed a third. */
uint64_t slab_test_mul(uintptr_t start, unsigned cls)
{
    uint64_t d = sc_size[cls], cap = sc_capacity[cls];
    const uint64_t lim = (uint64_t)1 << CHUNK_TEST_SHIFT;
    for (uint64_t j = 1, tries = 0; j < d && tries < 64; j++) {
        if (gcd64(j, d) != 1)
            continue;
        tries++;
        uint64_t mul = (uint64_t)((((unsigned __int128)j << 64) + d - 1) / d);
        uint64_t eps = d * mul; /* mod 2^64: below d */
        uint64_t s = (uint64_t)start * mul;
        if ((s & (lim - 1)) + (cap - 1) * eps < lim)
            return mul;
    }
    return 0;
}

static int slab_new(struct arena *a, struct arena_class *ac, unsigned cls)
{
    struct chunk *c;
    unsigned first, np = sc_pages[cls];
    uint64_t fresh;
    int e = chunk_take_pages(a, np, 0, &c, &first, &fresh);
    if (e)
        return e;
    struct slab *s = &c->slabs[first];
    /* populated as blocks are handed out (arena_take) from the first page
     * that was not resident; under prefault NONE never */
    s->populated = (uint32_t)((size_t)np * ARENA_PAGE_SIZE);
    if (fresh && arena_populate_slabs())
        s->populated = (uint32_t)(((unsigned)__builtin_ctzll(fresh) - first) * ARENA_PAGE_SIZE);
    s->free = NULL;
    /* the blocks end at the slab's last byte (slab_slack): the remainder
     * of the span goes before the first block, where every address fails
     * the block-start test, not after the last, where the first address
     * is a multiple of the size away from block 0 and would pass it */
    s->start = slab_span(c, first) + slab_slack(cls);
    s->used = 0;
    s->fresh = 0;
    s->kept = 0;
    s->capacity = sc_capacity[cls];
    s->cls = (uint8_t)cls;
    s->npages = (uint8_t)np;
    s->first = (uint8_t)first;
    uint32_t bin_off = a->node_off + sc_binoff(cls);
    uint64_t mul = slab_test_mul((uintptr_t)s->start, cls);
    uint64_t base = CHUNK_NO_BASE; /* no multiplier: frees take the slow path */
    if (mul)
        base = bin_off - (((uint64_t)(uintptr_t)s->start * mul) >> CHUNK_TEST_SHIFT);
    else
        mul = UINT64_MAX / sc_size[cls] + 1; /* for chunk_block_start */
    for (unsigned i = first; i < first + np; i++) {
        c->head[i] = (uint8_t)first;
        c->cls[i] = (uint8_t)cls;
        c->test_mul[i] = mul;
        c->pg[i].start_mul = (uint64_t)(uintptr_t)s->start * mul;
        __atomic_store_n(&c->pg[i].bin_off, bin_off, __ATOMIC_RELAXED);
        __atomic_store_n(&c->bin_base[i], base, __ATOMIC_RELAXED);
    }
    partial_add(ac, s);
    ac->slabs++;
    ac->carves++;
    return 0;
}

static void slab_release(struct arena *a, struct arena_class *ac, struct slab *s)
{
    struct chunk *c = chunk_of(s->start);
    unsigned first = s->first, np = s->npages;
    ARENA_ASAN_UNPOISON(slab_span(c, first), (size_t)np * ARENA_PAGE_SIZE); /* no stale poison */
    ARENA_VG_ACCESSIBLE(slab_span(c, first), (size_t)np * ARENA_PAGE_SIZE);
    partial_del(ac, s);
    for (unsigned i = first; i < first + np; i++) {
        __atomic_store_n(&c->bin_base[i], CHUNK_NO_BASE, __ATOMIC_RELAXED);
        __atomic_store_n(&c->pg[i].bin_off, CHUNK_NO_BIN, __ATOMIC_RELAXED);
        c->test_mul[i] = 0;
        c->pg[i].start_mul = 0;
        c->cls[i] = 0;
        c->head[i] = 0;
    }
    s->start = NULL;
    s->capacity = 0;
    s->cls = 0;
    ac->slabs--;
    ac->releases++;
    chunk_release_pages(a, c, first, np);
}

/* s just became empty: keep it if the class and the node have room for
 * it, else release it.  Class lock held. */
static void slab_emptied(struct arena *a, struct arena_class *ac, struct slab *s)
{
    if (ac->empty_slabs < ARENA_SLAB_KEEP && !chunk_of(s->start)->retired) {
        uint64_t kept = __atomic_add_fetch(&a->kept_pages, s->npages, __ATOMIC_RELAXED);
        if (kept <= ARENA_KEPT_PAGES_MAX) {
            ac->empty_slabs++;
            /* Every block is back (used == 0: none in a cache or a remote
             * stack either), so the slab restarts as if just carved: its
             * blocks are handed out again by the bump index, in address
             * order, without walking the free list.  Walking it would read
             * every block, lines another core (the freeing thread) has just
             * written: producer / consumer ran 3x slower that way. */
            s->free = NULL;
            s->fresh = 0;
            s->kept = 1;
            if (!s->in_partial)
                partial_add(ac, s);
            return;
        }
        __atomic_fetch_sub(&a->kept_pages, s->npages, __ATOMIC_RELAXED);
    }
    slab_release(a, ac, s);
}

/* A kept empty slab hands out blocks again.  Class lock held. */
static void slab_unkeep(struct arena *a, struct arena_class *ac, struct slab *s)
{
    ac->empty_slabs--;
    s->kept = 0;
    __atomic_fetch_sub(&a->kept_pages, s->npages, __ATOMIC_RELAXED);
}

void slab_put_locked(struct arena *a, struct arena_class *ac, void *p)
{
    struct chunk *c = chunk_of(p);
    if (ARENA_UNLIKELY((c->abandoned_pages >> chunk_page(p)) & 1))
        return; /* its slab was abandoned by a fork child's repair: leaked */
    struct slab *s = chunk_slab_of(c, p);
    NSLAB_ASSERT_INTERNAL(s->used > 0 && s->used <= s->capacity);
    NSLAB_ASSERT_INTERNAL(s->cls == (unsigned)(ac - a->cls));
    arena_link_set(p, s->free);
    ((void **)p)[1] = (void *)arena_key_of(p); /* free (a direct free) */
    arena_asan_freed(p);
    s->free = p;
    s->used--;
    __atomic_store_n(&ac->out, ac->out - 1, __ATOMIC_RELAXED); /* purge_bound reads it */
    if (ARENA_UNLIKELY(s->used == 0))
        slab_emptied(a, ac, s);
    else if (!s->in_partial && !c->retired)
        partial_add(ac, s);
}

void slab_retire_chunk(struct arena *a, struct chunk *c)
{
    /* Kept empty slabs are released after the others are out of service:
     * the last release of a chunk that holds nothing else unmaps it. */
    unsigned kept[ARENA_PAGES], nkept = 0, kept_pages = 0;
    for (unsigned i = 1; i < ARENA_PAGES; i++) {
        if (!((c->used_pages >> i) & 1) || c->head[i] != i || !c->cls[i])
            continue;
        struct slab *s = &c->slabs[i];
        struct arena_class *ac = &a->cls[s->cls];
        for (unsigned k = i; k < i + s->npages; k++) {
            __atomic_store_n(&c->bin_base[k], CHUNK_NO_BASE, __ATOMIC_RELAXED);
            __atomic_store_n(&c->pg[k].bin_off, CHUNK_NO_BIN, __ATOMIC_RELAXED);
        }
        if (s->kept) {
            kept[nkept++] = i;
            kept_pages += s->npages;
        } else if (s->in_partial) {
            partial_del(ac, s);
        }
    }
    /* c->free_pages is stable: every class lock is held, so no slab of
     * this arena is carved or released meanwhile */
    int last_goes = c->free_pages + kept_pages == ARENA_PAGES - 1;
    for (unsigned k = 0; k < nkept; k++) {
        struct slab *s = &c->slabs[kept[k]];
        struct arena_class *ac = &a->cls[s->cls];
        slab_unkeep(a, ac, s);
        slab_release(a, ac, s);
        if (last_goes && k + 1 == nkept)
            return; /* c is unmapped */
    }
}

void arena_trim_slabs(struct arena *a)
{
    for (unsigned cls = 1; cls < SC_COUNT; cls++) {
        struct arena_class *ac = &a->cls[cls];
        if (!__atomic_load_n(&ac->empty_slabs, __ATOMIC_RELAXED))
            continue; /* racy peek: a slab kept meanwhile waits for the next trim */
        pthread_mutex_lock(&ac->lock);
        for (struct slab *s = ac->partial, *next; s && ac->empty_slabs; s = next) {
            next = s->next;
            if (s->kept) {
                slab_unkeep(a, ac, s);
                slab_release(a, ac, s);
            }
        }
        pthread_mutex_unlock(&ac->lock);
    }
    chunk_purge_all(a);
    large_trim(a);
}

/* Populate the slab's pages that the next `want` fresh blocks lie in, up
 * to ARENA_POPULATE_STEP past them (and at most the slab).  Offsets count
 * from the first page (s->populated's), so the steps stay page aligned;
 * block k ends at slack + (k + 1) * size.  Class lock held.  0, or ENOMEM
 * (s->populated unchanged). */
static int slab_populate(struct slab *s, size_t size, size_t slack, unsigned want)
{
    char *span_start = slab_span(chunk_of(s->start), s->first);
    size_t span = (size_t)s->npages * ARENA_PAGE_SIZE;
    size_t n = (size_t)s->fresh + want;
    if (n > s->capacity)
        n = s->capacity;
    size_t end = slack + n * size;
    end = (end + ARENA_POPULATE_STEP - 1) & ~(ARENA_POPULATE_STEP - 1);
    if (end > span)
        end = span;
    if (end <= s->populated)
        return 0;
    int e = os_commit(span_start + s->populated, end - s->populated, topology_get()->page_size,
                      OS_COMMIT_POPULATE, NULL);
    if (e)
        return ENOMEM;
    s->populated = (uint32_t)end;
    return 0;
}

unsigned arena_take(struct arena *a, unsigned cls, unsigned n, void **head, void **tail,
                    int *err)
{
    struct arena_class *ac = &a->cls[cls];
    size_t size = sc_size[cls], slack = slab_slack(cls);
    void *h = NULL, *t = NULL;
    unsigned got = 0;
    int e = 0;

    pthread_mutex_lock(&ac->lock);
    remote_collect_locked(a, ac);
    if (ARENA_UNLIKELY(a->drained)) {
        /* drain.c sets it under every class lock: nothing is taken from a
         * drained node (a caller that passed its node check before) */
        pthread_mutex_unlock(&ac->lock);
        *head = *tail = NULL;
        *err = ENODEV;
        return 0;
    }
    while (got < n) {
        struct slab *s = ac->partial;
        if (!s) {
            if ((e = slab_new(a, ac, cls)) != 0)
                break;
            s = ac->partial;
        }
        unsigned before = got;
        int was_empty = s->kept;
        while (got < n && s->free) {
            void *b = s->free;
            s->free = arena_link_get(b);
            if (t)
                arena_link_set(t, b);
            else
                h = b;
            t = b;
            got++;
        }
        if (got < n && s->fresh < s->capacity &&
            slack + (size_t)(s->fresh + (n - got)) * size > s->populated &&
            slab_populate(s, size, slack, n - got)) {
            e = ENOMEM; /* the node cannot back the slab's next pages now */
            if (got == before)
                break;
        }
        /* fresh blocks that lie whole in populated pages */
        size_t whole = s->populated > slack ? (s->populated - slack) / size : 0;
        unsigned room = s->fresh < whole ? (unsigned)whole - s->fresh : 0;
        unsigned limit = got + room < n ? got + room : n;
        while (got < limit && s->fresh < s->capacity) {
            void *b = s->start + (size_t)s->fresh * size;
            s->fresh++;
            ((void **)b)[1] = (void *)arena_key_of(b); /* free until handed out */
            if (t)
                arena_link_set(t, b);
            else
                h = b;
            t = b;
            got++;
        }
        if (was_empty && got != before)
            slab_unkeep(a, ac, s);
        s->used += got - before;
        NSLAB_ASSERT_INTERNAL(s->used <= s->capacity && s->fresh <= s->capacity);
        if (!s->free && s->fresh == s->capacity)
            partial_del(ac, s);
    }
    __atomic_store_n(&ac->out, ac->out + got, __ATOMIC_RELAXED); /* purge_bound reads it */
    pthread_mutex_unlock(&ac->lock);
    if (t)
        arena_link_set(t, NULL);
    *head = h;
    *tail = t;
    if (!got)
        *err = e ? e : ENOMEM;
    return got;
}

void arena_put_list(struct arena *a, unsigned cls, void *head, unsigned n, int remote)
{
    struct arena_class *ac = &a->cls[cls];
    pthread_mutex_lock(&ac->lock);
    remote_collect_locked(a, ac);
    for (unsigned i = 0; i < n && head; i++) {
        void *next = arena_link_get(head);
        slab_put_locked(a, ac, head);
        head = next;
    }
    if (remote)
        ac->remote_in += n;
    pthread_mutex_unlock(&ac->lock);
}
