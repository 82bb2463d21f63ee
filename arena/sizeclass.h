/*
 * arena/sizeclass.h - the size classes of the slab arenas.
 *
 * Classes (SC_COUNT - 1 = 80 of them, numbered 1..80; class 0 is the
 * sentinel "no class": size 0, and pages that hold no blocks):
 *
 *   1..8     16, 32, 48, ..., 128            (steps of 16)
 *   9..80    8 classes per power of two, from 128 to 64 KiB:
 *            (128, 256] in steps of 16, (256, 512] in steps of 32, ...,
 *            (32 KiB, 64 KiB] in steps of 4 KiB.
 *
 * Waste: above 128 bytes a request is rounded up by less than one step,
 * and a step is 1/8 of the class's power of two, so the internal waste is
 * below 12.5% of the block (at most 1/9 = 11.1% of the block at the start
 * of a doubling).  At or below 128 bytes the rounding is to 16 bytes (the
 * minimum alignment), i.e. at most 15 bytes.
 *
 * Alignment: every class size is a multiple of 16; a slab starts on a
 * 64 KiB boundary, so a block of a class whose size is a multiple of 2^k
 * (2^k <= 64 KiB) is 2^k aligned.  In particular power-of-two sizes up to
 * 64 KiB are naturally aligned, and sc_for_align() finds the class for an
 * aligned request.  Sizes above SC_SMALL_MAX are regions of their own.
 *
 * Per class: the slab's page count (1 page of 64 KiB up to 8 KiB blocks,
 * else the smallest span that holds >= 8 blocks), its capacity, and the
 * thread cache limit (min(256, max(2, 64 KiB / size)) blocks per bin: at
 * most about 64 KiB per bin, 5 MiB per thread and node when every class is
 * full) and refill batch (limit / 2).
 */
#ifndef NSLAB_SIZECLASS_H
#define NSLAB_SIZECLASS_H

#include <stddef.h>
#include <stdint.h>

#define SC_COUNT 81                 /* classes 0..80 */
#define SC_SMALL_MAX ((size_t)65536) /* the largest slab class */
#define SC_TABLE_MAX ((size_t)1024)  /* sizes looked up by sc_table[] */
#define SC_MID_SHIFT 7               /* sc_table_mid[]: 128-byte steps */
#define SC_MID_ENTRIES ((SC_SMALL_MAX >> SC_MID_SHIFT) + 1)
#define SC_BIN_SIZE 32               /* sizeof(struct tc_bin) */
#define SC_MAX_LIMIT 256             /* largest per-bin cache limit */

/* Tables, filled by sc_init() (arena_global_init) before any cache can
 * exist, read-only afterwards. */
extern uint32_t sc_size[SC_COUNT];      /* block size, 0 for class 0 */
extern uint8_t sc_pages[SC_COUNT];      /* pages per slab */
extern uint32_t sc_capacity[SC_COUNT];  /* blocks per slab */
extern int32_t sc_limit[SC_COUNT];      /* blocks per thread bin */
extern uint32_t sc_batch[SC_COUNT];     /* blocks per refill / flush */
/* size -> sc_binoff(class) (the bin's offset), for sizes 0..SC_TABLE_MAX
 * (index 0: class 0, the always-empty bin).  Indexed by the size itself, not
 * size / 16: 2 KiB instead of 130 bytes, two instructions fewer on the
 * allocation fast path. */
extern uint16_t sc_table[SC_TABLE_MAX + 1];
/* size -> sc_binoff(class) for SC_TABLE_MAX < size <= SC_SMALL_MAX, indexed
 * by (size + 127) >> 7 (1 KiB: every class above SC_TABLE_MAX is a
 * multiple of 128 bytes, so rounding the size up to one does not change
 * its class).  Keeps the whole slab range on the inline fast paths. */
extern uint16_t sc_table_mid[SC_MID_ENTRIES];

void sc_init(void);

/* The class of a size 1..SC_SMALL_MAX. */
static inline unsigned sc_of(size_t size)
{
    if (size <= 128)
        return (unsigned)((size + 15) >> 4);
    size_t t = size - 1;
    unsigned b = 63u - (unsigned)__builtin_clzll(t); /* 7 .. 15 */
    return 9u + ((b - 7u) << 3) + (unsigned)((t >> (b - 3u)) & 7u);
}

/* The bin offset (sc_binoff of the class) for any size 0..SC_SMALL_MAX
 * into *off, 1; 0 for larger sizes.  Size 0 gives class 0's bin, which is
 * always empty, so a fast path that pops from it falls to its slow path. */
static inline int sc_lookup_binoff(size_t size, size_t *off)
{
    if (__builtin_expect(size <= SC_TABLE_MAX, 1)) {
        *off = sc_table[size];
        return 1;
    }
    if (size <= SC_SMALL_MAX) {
        *off = sc_table_mid[(size + ((size_t)1 << SC_MID_SHIFT) - 1) >> SC_MID_SHIFT];
        return 1;
    }
    return 0;
}

/* Offset of the nodes[] array in a struct tcache (arena.h asserts it). */
#define SC_BIN_BASE 64

/* Offset of class cls's bin for node 0 from the start of a thread cache
 * (node n's is n * 4096 more). */
static inline uint16_t sc_binoff(unsigned cls)
{
    return (uint16_t)(SC_BIN_BASE + cls * SC_BIN_SIZE);
}

/* The smallest class whose blocks are >= size and aligned to align (a power
 * of two), or 0 when no slab class fits (go large). */
static inline unsigned sc_for_align(size_t size, size_t align)
{
    if (align > SC_SMALL_MAX)
        return 0;
    if (size < align)
        size = align;
    if (size > SC_SMALL_MAX)
        return 0;
    unsigned c = sc_of(size);
    while (c < SC_COUNT && (sc_size[c] & (align - 1)))
        c++;
    return c < SC_COUNT ? c : 0;
}

#endif /* NSLAB_SIZECLASS_H */
