/*
 * bench/shim.h - the one C interface every benchmarked allocator implements.
 *
 * Each allocator has its own shim_<name>.c implementing these functions
 * once; every benchmark (bench_main.cc, the google-benchmark suite, and
 * fastpath.c, the callgrind loops) is written against this interface only,
 * so it runs unchanged for each allocator.  One binary is linked per
 * allocator (bench-<name>, fastpath-<name>): allocators that replace malloc
 * cannot share a process.
 *
 * A shim says which operation groups it supports with ba_caps(); the
 * benchmarks of an unsupported group are not registered for it.  When a
 * group is missing because the allocator cannot do it yet (e.g. a numaslab
 * function not implemented), ba_note() says why.
 */
#ifndef BENCH_SHIM_H
#define BENCH_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Operation groups (ba_caps()). */
#define BA_MALLOC     0x01u /* ba_alloc / ba_free: general purpose        */
#define BA_NODE       0x02u /* ba_alloc_on_node / ba_free_on_node          */
#define BA_POOL       0x04u /* ba_pool_*: fixed-size buffers               */
#define BA_REGION     0x08u /* ba_region_populated / ba_region_free        */
#define BA_INTERLEAVE 0x10u /* ba_interleaved / ba_interleaved_free        */

/* Set up the allocator (probes what works).  Call once, first, from the
 * main thread.  Returns 0, or a negative errno if nothing works. */
int ba_init(void);

/* Short name ("glibc", "numaslab", ...), the groups it supports, and a
 * human-readable note (how each group is implemented, what is missing). */
const char *ba_name(void);
unsigned ba_caps(void);
const char *ba_note(void);

/* General purpose allocation (the malloc fast path). */
void *ba_alloc(size_t size);
void ba_free(void *p);

/* Allocate `size` bytes on NUMA node `node`; free with the size known. */
void *ba_alloc_on_node(int node, size_t size);
void ba_free_on_node(void *p, size_t size, int node);

/* A pool of `count` fixed-size buffers of elt_size bytes on the local node.
 * Allocators without pools implement it as malloc/free of elt_size. */
void *ba_pool_create(size_t elt_size, size_t count);
void ba_pool_destroy(void *pool);
void *ba_pool_get(void *pool);
void ba_pool_put(void *pool, void *buf);

/* A region of `size` bytes bound to `node`, every page populated (written
 * or MADV_POPULATE_WRITE) before return.  Returns its first byte. */
void *ba_region_populated(size_t size, int node);
void ba_region_free(void *p, size_t size);

/* `size` bytes interleaved over all nodes with memory, populated. */
void *ba_interleaved(size_t size);
void ba_interleaved_free(void *p, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* BENCH_SHIM_H */
