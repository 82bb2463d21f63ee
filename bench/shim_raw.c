/*
 * bench/shim_raw.c - the floor for regions: a raw mmap + mbind +
 * madvise(MADV_POPULATE_WRITE) (+ munmap) with nothing around it.
 * numaslab's populated regions are held to >= 0.9x of this.
 */
#include <stdio.h>

#include "shim.h"
#include "shim_util.h"

int ba_init(void) { return 0; }
const char *ba_name(void) { return "raw-mmap"; }
unsigned ba_caps(void) { return BA_REGION | BA_INTERLEAVE; }
const char *ba_note(void)
{
    return "mmap + mbind(MPOL_BIND node | MPOL_INTERLEAVE memory nodes) + "
           "madvise(MADV_POPULATE_WRITE), munmap";
}

void *ba_alloc(size_t size) { return NULL; }
void ba_free(void *p) { }
void *ba_alloc_on_node(int node, size_t size) { return NULL; }
void ba_free_on_node(void *p, size_t size, int node) { }
void *ba_pool_create(size_t elt_size, size_t count) { return NULL; }
void ba_pool_destroy(void *pool) { }
void *ba_pool_get(void *pool) { return NULL; }
void ba_pool_put(void *pool, void *buf) { }

static void *map_bound(size_t size, int mode, const unsigned long *mask)
{
    void *p = bu_map(size);
    if (!p)
        return NULL;
    if (bu_mbind(p, size, mode, mask) != 0) {
        bu_unmap(p, size);
        return NULL;
    }
    bu_populate(p, size);
    return p;
}

void *ba_region_populated(size_t size, int node)
{
    unsigned long mask[BU_MAX_NODES / (8 * sizeof(unsigned long))];
    bu_one_node(mask, node);
    return map_bound(size, BU_MPOL_BIND, mask);
}
void ba_region_free(void *p, size_t size) { bu_unmap(p, size); }

void *ba_interleaved(size_t size)
{
    return map_bound(size, BU_MPOL_INTERLEAVE, bu_memory_nodes());
}
void ba_interleaved_free(void *p, size_t size) { bu_unmap(p, size); }
