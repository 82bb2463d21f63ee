/*
 * tests/layers/pool_includes_arena.c - the pool layer including the arena's
 * header (a sibling, not below it): must not compile (see
 * tests/layers/CMakeLists.txt).
 */
#include "arena.h"

int layer_check_pool_arena(void);
int layer_check_pool_arena(void) { return 0; }
