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

BU_NO_NODE

BU_SIZE_POOL(malloc, free)

BU_NO_REGIONS
