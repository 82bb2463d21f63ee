/*
 * bench/shim_mimalloc.c - mimalloc (Debian libmimalloc, linked, so it also
 * replaces malloc for the whole process).  The shim calls mi_malloc/mi_free.
 * mimalloc has no "allocate on node" call; pools are malloc/free.
 */
#include <mimalloc.h>
#include <stdlib.h>

#include "shim.h"
#include "shim_util.h"

int ba_init(void) { return 0; }
const char *ba_name(void) { return "mimalloc"; }
unsigned ba_caps(void) { return BA_MALLOC | BA_POOL; }
const char *ba_note(void) { return "mi_malloc/mi_free (mimalloc 2.0.9, Debian); pool = mi_malloc/mi_free of the buffer size"; }

void *ba_alloc(size_t size) { return mi_malloc(size); }
void ba_free(void *p) { mi_free(p); }

void *ba_alloc_on_node(int node, size_t size) { return NULL; }
void ba_free_on_node(void *p, size_t size, int node) { }

void *ba_pool_create(size_t elt_size, size_t count)
{
    struct bu_size_pool *p = mi_malloc(sizeof *p);
    if (p)
        p->elt_size = elt_size;
    return p;
}
void ba_pool_destroy(void *pool) { mi_free(pool); }
void *ba_pool_get(void *pool) { return mi_malloc(((struct bu_size_pool *)pool)->elt_size); }
void ba_pool_put(void *pool, void *buf) { mi_free(buf); }

void *ba_region_populated(size_t size, int node) { return NULL; }
void ba_region_free(void *p, size_t size) { }
void *ba_interleaved(size_t size) { return NULL; }
void ba_interleaved_free(void *p, size_t size) { }
