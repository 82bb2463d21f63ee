/*
 * examples/pool_run.h - the pool-per-worker run shared by the example
 * program (pool_workers.c) and the demo's pools section (pool_demo.c).
 *
 * pool_run_workers() starts one worker per node with CPUs on a pool set with
 * nslab_worker_start() (bound to the node's CPUs, handed its node's pool),
 * lends each worker FOREIGN buffers of another memory node's pool, and joins
 * them.  Each worker runs `bursts` bursts of POOL_RUN_BURST gets and puts,
 * checks with nslab_range_placement() where a sample of its buffers lie, then puts
 * the lent buffers back (remote puts on their pool).  The callers print the
 * results their own way.
 */
#ifndef NUMASLAB_EXAMPLES_POOL_RUN_H
#define NUMASLAB_EXAMPLES_POOL_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <numaslab.h>

#define POOL_RUN_BURST 8
#define POOL_RUN_FOREIGN 16

struct pool_worker {
    /* in */
    nslab_poolset_t *set;
    int node;                           /* the CPU node the worker runs on */
    long bursts;
    void *foreign[POOL_RUN_FOREIGN];    /* another node's buffers to put back */
    int nforeign;
    /* out */
    int started;
    int start_error;                    /* errno of nslab_worker_start, if it failed */
    int pool_node;                      /* the node of the pool it was handed */
    size_t pages, pages_local;          /* sampled buffers: pages, on pool_node */
    long failures;
    double ns_per_op;
};

/* w has nslab_node_count() entries, indexed by node; entries of nodes
 * without CPUs stay zero.  lent[m] (NSLAB_MAX_NODES entries, added to) gets
 * the buffers of pool m lent out.  Returns the number of workers started. */
int pool_run_workers(nslab_poolset_t *set, size_t buf_size, long bursts,
                     struct pool_worker *w, uint64_t *lent);

/* Every buffer of pool p (node `node`): flushes the caches, takes them all,
 * counts their pages and those on `node`, puts them back.  0, or -1 when
 * the buffers could not all be taken or examined. */
int pool_run_placement(nslab_pool_t *p, int node, size_t buf_size, size_t *pages, size_t *on);

#endif
