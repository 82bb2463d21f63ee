/*
 * bench/shim_glibc.c - glibc's malloc (the baseline every ratio is taken
 * against).  Pools are malloc/free of the buffer size.
 */
#include <stdlib.h>

#include "shim.h"
#include "shim_util.h"

int ba_init(void) { return 0; }
const char *ba_name(void) { return "glibc"; }
unsigned ba_caps(void) { return BA_MALLOC | BA_POOL; }
const char *ba_note(void) { return "glibc malloc/free; pool = malloc/free of the buffer size"; }

void *ba_alloc(size_t size) { return malloc(size); }
void ba_free(void *p) { free(p); }

void *ba_alloc_on_node(int node, size_t size) { return NULL; }
void ba_free_on_node(void *p, size_t size, int node) { }

void *ba_pool_create(size_t elt_size, size_t count)
{
    struct bu_size_pool *p = malloc(sizeof *p);
    if (p)
        p->elt_size = elt_size;
    return p;
}
void ba_pool_destroy(void *pool) { free(pool); }
void *ba_pool_get(void *pool) { return malloc(((struct bu_size_pool *)pool)->elt_size); }
void ba_pool_put(void *pool, void *buf) { free(buf); }

void *ba_region_populated(size_t size, int node) { return NULL; }
void ba_region_free(void *p, size_t size) { }
void *ba_interleaved(size_t size) { return NULL; }
void ba_interleaved_free(void *p, size_t size) { }
