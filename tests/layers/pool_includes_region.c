/*
 * tests/layers/pool_includes_region.c - the control: the pool layer
 * including the region layer's interface compiles (see
 * tests/layers/CMakeLists.txt).
 */
#include "region.h"

int layer_check_pool_region(void);
int layer_check_pool_region(void) { return 0; }
