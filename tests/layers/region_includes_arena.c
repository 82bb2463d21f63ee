/*
 * tests/layers/region_includes_arena.c - the region layer including the
 * arena's header (above it): must not compile (see
 * tests/layers/CMakeLists.txt).
 */
#include "arena.h"

int layer_check_region_arena(void);
int layer_check_region_arena(void) { return 0; }
