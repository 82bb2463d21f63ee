/*
 * tests/layers/pool_includes_os.c - the pool layer including topology's
 * os.h (the kernel boundary, for the layers that place memory): must not
 * compile (see tests/layers/CMakeLists.txt).
 */
#include "os.h"

int layer_check_pool_os(void);
int layer_check_pool_os(void) { return 0; }
