/*
 * bench/shim_libnuma.c - libnuma (numa_alloc_onnode, numa_alloc_interleaved,
 * numa_free).  Every allocation is its own mmap + mbind (page granular); a
 * libnuma user populates by touching, so regions are written once per page
 * (libnuma has no populate call).  No general malloc, no pools.
 */
#include <numa.h>
#include <stdio.h>

#include "shim.h"
#include "shim_util.h"

static unsigned caps;
static char note[256];

int ba_init(void)
{
    if (numa_available() < 0) {
        snprintf(note, sizeof note, "numa_available() < 0: no NUMA support");
        return -38; /* ENOSYS */
    }
    caps = BA_NODE | BA_REGION | BA_INTERLEAVE;
    snprintf(note, sizeof note,
             "numa_alloc_onnode/numa_free (mmap+mbind per call, not touched); "
             "regions: numa_alloc_onnode + one write per page; "
             "interleaved: numa_alloc_interleaved + one write per page");
    return 0;
}

const char *ba_name(void) { return "libnuma"; }
unsigned ba_caps(void) { return caps; }
const char *ba_note(void) { return note; }

void *ba_alloc(size_t size) { return NULL; }
void ba_free(void *p) { }

void *ba_alloc_on_node(int node, size_t size) { return numa_alloc_onnode(size, node); }
void ba_free_on_node(void *p, size_t size, int node) { numa_free(p, size); }

void *ba_pool_create(size_t elt_size, size_t count) { return NULL; }
void ba_pool_destroy(void *pool) { }
void *ba_pool_get(void *pool) { return NULL; }
void ba_pool_put(void *pool, void *buf) { }

void *ba_region_populated(size_t size, int node)
{
    void *p = numa_alloc_onnode(size, node);
    if (p)
        bu_touch(p, size);
    return p;
}
void ba_region_free(void *p, size_t size) { numa_free(p, size); }

void *ba_interleaved(size_t size)
{
    void *p = numa_alloc_interleaved(size);
    if (p)
        bu_touch(p, size);
    return p;
}
void ba_interleaved_free(void *p, size_t size) { numa_free(p, size); }
