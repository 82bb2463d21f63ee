/*
 * tests/layers/arena_includes_region_internal.c - the arena including the
 * region layer's private header: must not compile (see
 * tests/layers/CMakeLists.txt).
 */
#include "region-internal.h"

int layer_check_arena_region_internal(void);
int layer_check_arena_region_internal(void) { return 0; }
