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

BU_NO_NODE

BU_SIZE_POOL(mi_malloc, mi_free)

BU_NO_REGIONS
