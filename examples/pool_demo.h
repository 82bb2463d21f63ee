/*
 * examples/pool_demo.h - the demo's "pool per worker" section (pool_demo.c).
 * Wire it in: add {"pools", demo_pools} to demo.c's section table and
 * pool_demo.c to numaslab-demo's sources in examples/CMakeLists.txt.
 */
#ifndef NUMASLAB_POOL_DEMO_H
#define NUMASLAB_POOL_DEMO_H

#include "demo.h"

/* One worker per node with CPUs takes and returns buffers from its local
 * node's pool; prints a per-node report and states its claims (placement
 * checked with move_pages, cache hits, remote puts, audit, EBUSY).
 * Returns 0, or -1 if it could not run at all. */
int demo_pools(struct demo *d);

#endif
