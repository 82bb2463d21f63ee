/*
 * arena/region/segment.h - the one mechanism by which any pointer the library
 * returned leads to its owner in O(1) without a lock.
 *
 * Every mapping the library hands memory from (an arena chunk, a large or
 * interleaved region, a user region, a pool) is a *segment*: it starts at an
 * address aligned to SEG_SIZE (4 MiB) with a struct seg_hdr, and every
 * pointer the library returns from it lies in its first SEG_SIZE bytes.  So
 *
 *     hdr = (struct seg_hdr *)((uintptr_t)p & ~(SEG_SIZE - 1));
 *
 * finds the owner.  A global bitmap (one bit per SEG_SIZE of address space,
 * in .bss, touched lazily) says which SEG_SIZE-aligned addresses are segment
 * starts, so a foreign pointer is rejected without dereferencing it.
 *
 * Invariants:
 *  - a bit is set only while the segment's mapping is live and its header
 *    written (seg_register after the header, seg_unregister before unmap);
 *  - a segment is registered once; kinds never change while registered.
 * Concurrency: bits are set/cleared with atomic OR/AND; lookups are relaxed
 * loads.  A lookup racing with the unmap of the same segment is a caller
 * bug (a use after free), as with any allocator.
 */
#ifndef NSLAB_SEGMENT_H
#define NSLAB_SEGMENT_H

#include <stdint.h>
#include <stddef.h>

#define SEG_SHIFT 22
#define SEG_SIZE ((size_t)1 << SEG_SHIFT)
#define SEG_MASK (SEG_SIZE - 1)
/* User address space covered by the bitmap (x86-64 4-level: 47 bits). */
#define SEG_VA_BITS 47

#define SEG_MAGIC 0x4e534c42u /* "NSLB" */

enum seg_kind {
    SEG_CHUNK = 1,  /* arena chunk: slabs of small blocks (arena/chunk.h) */
    SEG_REGION = 2, /* a region: user region, large block, interleaved */
    SEG_POOL = 3,   /* a pool's buffer segment (pool/pool.h) */
};

/* First bytes of every segment.  Owners embed it as their first member. */
struct seg_hdr {
    uint32_t magic;   /* SEG_MAGIC while live */
    uint32_t kind;    /* enum seg_kind */
    int32_t node;     /* owning node (first node of a set), -1 if none */
    uint32_t reserved;
    size_t map_size;  /* bytes mapped from the segment start */
};

void seg_register(struct seg_hdr *h);
void seg_unregister(struct seg_hdr *h);

/* How a pointer into a segment of `kind` is freed, for the kinds whose
 * owner sits beside the arena rather than below it (SEG_POOL): the owner
 * registers its function once, before it hands out the first pointer of
 * that kind (the pool layer does, as it maps its first segment), and
 * nslab_free - which the arena dispatches for every pointer - calls it
 * without naming the owner.  The function returns 0 or a negative errno (set in errno), as nslab_free.
 * seg_free_of: the registered function, or NULL (no such pointer can
 * exist yet).  Release store, acquire load: a pointer handed to another
 * thread carries the registration with it. */
typedef int (*seg_free_fn)(void *p);
#define SEG_KINDS 4
extern seg_free_fn seg_free_table[SEG_KINDS];
void seg_set_free(enum seg_kind kind, seg_free_fn fn);
static inline seg_free_fn seg_free_of(uint32_t kind)
{
    return kind < SEG_KINDS ? __atomic_load_n(&seg_free_table[kind], __ATOMIC_ACQUIRE) : NULL;
}

/* The node nslab_node_of reports for a segment of a registered kind, when
 * its owner keeps it checked against layout changes (the pool layer: a
 * pool whose pages moved re-checks itself, pool-move.c).  seg_node_of: the
 * registered function, or NULL (then hdr.node is the answer).  Registered
 * like seg_set_free, before the first segment of the kind. */
typedef int (*seg_node_fn)(struct seg_hdr *h);
extern seg_node_fn seg_node_table[SEG_KINDS];
void seg_set_node(enum seg_kind kind, seg_node_fn fn);
static inline seg_node_fn seg_node_of(uint32_t kind)
{
    return kind < SEG_KINDS ? __atomic_load_n(&seg_node_table[kind], __ATOMIC_ACQUIRE) : NULL;
}

/* The segment owning pointer p, or NULL if the library does not own it. */
struct seg_hdr *seg_lookup(const void *p);

/* Bitmap word and bit of a segment address. */
extern uint64_t seg_bitmap[((size_t)1 << (SEG_VA_BITS - SEG_SHIFT)) / 64];

static inline struct seg_hdr *seg_lookup_inline(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    uintptr_t i = a >> SEG_SHIFT;
    if (__builtin_expect(a >> SEG_VA_BITS, 0))
        return NULL;
    uint64_t w = __atomic_load_n(&seg_bitmap[i / 64], __ATOMIC_RELAXED);
    if (!((w >> (i % 64)) & 1))
        return NULL;
    return (struct seg_hdr *)(a & ~(uintptr_t)SEG_MASK);
}

#endif /* NSLAB_SEGMENT_H */
