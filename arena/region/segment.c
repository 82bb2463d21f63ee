/*
 * arena/region/segment.c - the segment bitmap (see segment.h for the
 * invariants) and the free functions of the segment kinds registered by
 * their owners.
 * 4 MiB of .bss covers the 128 TiB user address space at one bit per 4 MiB;
 * only the words of addresses actually used are ever touched.
 */
#include "segment.h"

uint64_t seg_bitmap[((size_t)1 << (SEG_VA_BITS - SEG_SHIFT)) / 64];

void seg_register(struct seg_hdr *h)
{
    uintptr_t i = (uintptr_t)h >> SEG_SHIFT;
    h->magic = SEG_MAGIC;
    __atomic_fetch_or(&seg_bitmap[i / 64], UINT64_C(1) << (i % 64), __ATOMIC_RELEASE);
}

void seg_unregister(struct seg_hdr *h)
{
    uintptr_t i = (uintptr_t)h >> SEG_SHIFT;
    __atomic_fetch_and(&seg_bitmap[i / 64], ~(UINT64_C(1) << (i % 64)), __ATOMIC_RELEASE);
    h->magic = 0;
}

struct seg_hdr *seg_lookup(const void *p)
{
    return seg_lookup_inline(p);
}

seg_free_fn seg_free_table[SEG_KINDS];

void seg_set_free(enum seg_kind kind, seg_free_fn fn)
{
    if ((unsigned)kind < SEG_KINDS)
        __atomic_store_n(&seg_free_table[kind], fn, __ATOMIC_RELEASE);
}

seg_node_fn seg_node_table[SEG_KINDS];

void seg_set_node(enum seg_kind kind, seg_node_fn fn)
{
    if ((unsigned)kind < SEG_KINDS)
        __atomic_store_n(&seg_node_table[kind], fn, __ATOMIC_RELEASE);
}
