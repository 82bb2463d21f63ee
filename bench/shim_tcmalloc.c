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

BU_NO_NODE

BU_SIZE_POOL(tc_malloc, tc_free)

BU_NO_REGIONS
