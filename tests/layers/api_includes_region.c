/*
 * tests/layers/api_includes_region.c - an API test including the region
 * layer's header: must not compile (see tests/layers/CMakeLists.txt).
 */
#include "region.h"

int layer_check_api_region(void);
int layer_check_api_region(void) { return 0; }
