/*
 * examples/pool_workers.c - one worker per NUMA node, each taking buffers
 * from its own node's pool and giving them back, with a per-node report.
 *
 * The pattern of a packet or I/O server: fixed-size buffers on a hot path,
 * wanted on the worker's own node.  A pool set holds one pool per node with
 * memory; nslab_worker_start() starts a thread bound to a node's CPUs and
 * hands it that node's pool.  Each worker runs bursts of gets and puts
 * (most served by its per-thread cache: no lock, no atomic), checks with
 * move_pages(2) (nslab_range_placement) that the buffers it got lie on its node,
 * and returns a few buffers that belong to the next node's pool, which the
 * report shows as remote puts.
 *
 * Usage: pool_workers [bursts-per-worker]     (default 200000 bursts of 8)
 * Exit status 0 if every check passed, 1 otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <numaslab.h>

#include "pool_run.h"

#define BUF_SIZE 2048

int main(int argc, char **argv)
{
    long bursts = argc > 1 ? atol(argv[1]) : 200000;
    int ok = 1;
    if (bursts < 1) {
        fprintf(stderr, "usage: %s [bursts-per-worker]\n", argv[0]);
        return 2;
    }
    if (nslab_init() != 0) {
        fprintf(stderr, "pool_workers: nslab_init: %s\n", strerror(errno));
        return 2;
    }

    nslab_pool_opts_t opts = NSLAB_POOL_OPTS_INIT(.elt_size = BUF_SIZE, .count = 1024, .cache_size = 64);
    nslab_poolset_t *set = nslab_poolset_create(&opts);
    if (!set) {
        fprintf(stderr, "pool_workers: nslab_poolset_create: %s\n", strerror(errno));
        return 2;
    }
    int count = nslab_node_count();
    struct pool_worker *w = calloc((size_t)count, sizeof *w);
    static uint64_t lent[NSLAB_MAX_NODES];
    if (!w)
        return 2;
    int workers = pool_run_workers(set, BUF_SIZE, bursts, w, lent);
    for (int n = 0; n < count; n++)
        if (w[n].start_error)
            printf("node %d: no worker (%s)\n", n, strerror(w[n].start_error));

    printf("%d worker(s), %ld bursts of %d gets + %d puts each, %d-byte buffers\n\n",
           workers, bursts, POOL_RUN_BURST, POOL_RUN_BURST, BUF_SIZE);
    printf("%-6s %-10s %9s %12s %12s %7s %8s %6s %9s %s\n", "worker", "pool", "ns/op",
           "gets", "cache hits", "hit %", "remote", "moved", "buffers", "placement");
    for (int n = 0; n < count; n++) {
        if (!w[n].started)
            continue;
        nslab_pool_t *p = nslab_poolset_pool(set, w[n].pool_node);
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_stats(p, &st);
        uint64_t ops = st.cache_hits + st.cache_misses;
        int placed = w[n].pages && w[n].pages_local == w[n].pages;
        printf("node %-2d node %-5d %9.1f %12" PRIu64 " %12" PRIu64 " %6.2f%% %8" PRIu64
               " %6" PRIu64 " %9" PRIu64 " %zu/%zu pages on node %d %s\n",
               n, w[n].pool_node, w[n].ns_per_op, st.gets, st.cache_hits,
               ops ? 100.0 * (double)st.cache_hits / (double)ops : 0.0, st.remote_puts,
               st.migrations, st.total, w[n].pages_local, w[n].pages, w[n].pool_node,
               placed ? "ok" : "WRONG");
        ok &= placed && w[n].failures == 0;
    }

    /* Every pool: all of its buffers on its node, none lost. */
    printf("\n");
    nslab_nodeset_t mem;
    nslab_nodes(NSLAB_NODES_ALLOWED, &mem);
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1)) {
        nslab_pool_t *p = nslab_poolset_pool(set, n);
        size_t pages, on;
        int placed = pool_run_placement(p, n, BUF_SIZE, &pages, &on) == 0;
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_stats(p, &st);
        int audit = nslab_pool_audit(p, NULL);
        printf("pool node %d: %" PRIu64 " buffers, %zu/%zu pages on node %d, remote puts %"
               PRIu64 ", audit %s\n",
               n, st.total, on, pages, n, st.remote_puts, audit == 0 ? "ok" : "FAILED");
        ok &= placed && pages && on == pages && audit == 0;
    }
    if (nslab_poolset_destroy(set) != 0) {
        printf("nslab_poolset_destroy: %s\n", strerror(errno));
        ok = 0;
    }
    printf("\n%s\n", ok ? "PASS" : "FAIL");
    free(w);
    return ok ? 0 : 1;
}
