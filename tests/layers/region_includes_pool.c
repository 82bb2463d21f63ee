/*
 * tests/layers/region_includes_pool.c - the region layer including the
 * pool's header (above it): must not compile (see
 * tests/layers/CMakeLists.txt).
 */
#include "pool.h"

int layer_check_region_pool(void);
int layer_check_region_pool(void) { return 0; }
