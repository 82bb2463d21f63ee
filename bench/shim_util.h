/*
 * bench/shim_util.h - small helpers the shims share: raw mbind, the set of
 * nodes with memory, touching pages, the malloc-backed pool of allocators
 * that have no pools.  Benchmark code, not library code: it may call the
 * kernel directly.
 */
#ifndef BENCH_SHIM_UTIL_H
#define BENCH_SHIM_UTIL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BU_MPOL_BIND 2
#define BU_MPOL_INTERLEAVE 3
#define BU_MAX_NODES 1024

/* mbind(2) through syscall(); nodes is a bitmask of BU_MAX_NODES bits.
 * Returns 0 or -errno. */
int bu_mbind(void *addr, size_t len, int mode, const unsigned long *nodes);

/* Bitmask of the online nodes with memory (from sysfs has_memory). */
const unsigned long *bu_memory_nodes(void);
/* Bitmask holding one node. */
void bu_one_node(unsigned long *mask, int node);

/* Write one byte in every 4 KiB page of [p, p + size). */
void bu_touch(void *p, size_t size);

/* MADV_POPULATE_WRITE over [p, p + size), falling back to bu_touch. */
void bu_populate(void *p, size_t size);

/* An anonymous private mapping (MAP_FAILED -> NULL). */
void *bu_map(size_t size);
void bu_unmap(void *p, size_t size);

/* Pools of allocators that have none: the handle just holds elt_size, and
 * the shim's pool_get/put call its malloc/free of that size directly. */
struct bu_size_pool {
    size_t elt_size;
};

/* The shim functions of an allocator without pools, defined in the shim's
 * file with its own malloc and free, so the measured calls stay direct. */
#define BU_SIZE_POOL(ALLOC, FREE)                                               \
    void *ba_pool_create(size_t elt_size, size_t count)                         \
    {                                                                           \
        struct bu_size_pool *p = (struct bu_size_pool *)ALLOC(sizeof *p);       \
        if (p)                                                                  \
            p->elt_size = elt_size;                                             \
        return p;                                                               \
    }                                                                           \
    void ba_pool_destroy(void *pool) { FREE(pool); }                            \
    void *ba_pool_get(void *pool) { return ALLOC(((struct bu_size_pool *)pool)->elt_size); } \
    void ba_pool_put(void *pool, void *buf) { FREE(buf); }

/* The groups an allocator does not support (ba_caps leaves them out, so
 * they are never called): allocate on a node; regions and interleave. */
#define BU_NO_NODE                                                              \
    void *ba_alloc_on_node(int node, size_t size) { return NULL; }              \
    void ba_free_on_node(void *p, size_t size, int node) { }
#define BU_NO_REGIONS                                                           \
    void *ba_region_populated(size_t size, int node) { return NULL; }           \
    void ba_region_free(void *p, size_t size) { }                               \
    void *ba_interleaved(size_t size) { return NULL; }                          \
    void ba_interleaved_free(void *p, size_t size) { }

#ifdef __cplusplus
}
#endif

#endif
