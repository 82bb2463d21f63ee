/*
 * bench/shim_tcmalloc.c - gperftools tcmalloc (libtcmalloc_minimal, linked,
 * so it also replaces malloc for the whole process).  The shim calls
 * tc_malloc/tc_free.  No "allocate on node"; pools are malloc/free.
 */
#include <gperftools/tcmalloc.h>
#include <stdlib.h>

#include "shim.h"
#include "shim_util.h"

int ba_init(void) { return 0; }
const char *ba_name(void) { return "tcmalloc"; }
unsigned ba_caps(void) { return BA_MALLOC | BA_POOL; }
const char *ba_note(void) { return "tc_malloc/tc_free (" TC_VERSION_STRING ", tcmalloc_minimal); pool = tc_malloc/tc_free of the buffer size"; }

void *ba_alloc(size_t size) { return tc_malloc(size); }
void ba_free(void *p) { tc_free(p); }

void *ba_alloc_on_node(int node, size_t size) { return NULL; }
void ba_free_on_node(void *p, size_t size, int node) { }

void *ba_pool_create(size_t elt_size, size_t count)
{
    struct bu_size_pool *p = tc_malloc(sizeof *p);
    if (p)
        p->elt_size = elt_size;
    return p;
}
void ba_pool_destroy(void *pool) { tc_free(pool); }
void *ba_pool_get(void *pool) { return tc_malloc(((struct bu_size_pool *)pool)->elt_size); }
void ba_pool_put(void *pool, void *buf) { tc_free(buf); }

void *ba_region_populated(size_t size, int node) { return NULL; }
void ba_region_free(void *p, size_t size) { }
void *ba_interleaved(size_t size) { return NULL; }
void ba_interleaved_free(void *p, size_t size) { }
