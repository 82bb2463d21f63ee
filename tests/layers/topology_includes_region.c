/*
 * tests/layers/topology_includes_region.c - the topology layer including a
 * header of a layer above it: must not compile (see
 * tests/layers/CMakeLists.txt).
 */
#include "region.h"

int layer_check_topology_region(void);
int layer_check_topology_region(void) { return 0; }
