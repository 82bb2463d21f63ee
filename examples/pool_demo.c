/*
 * examples/pool_demo.c - the demo section "pools": a pool per worker.
 * A pool set (one pool of 2 KiB buffers per node with memory); one worker
 * per node with CPUs started with nslab_worker_start(), so it is bound to
 * its node's CPUs and handed its node's pool.  Each worker runs bursts of
 * gets and puts, checks where its buffers lie, and returns a few buffers
 * of another node's pool (remote puts).  Then the per-node report and the
 * claims:
 *   - every page of every buffer of each pool is on the pool's node;
 *   - each worker was served by its local node's pool (the nearest node
 *     with memory for a memoryless node);
 *   - gets and puts were served by the per-thread cache (hit rate);
 *   - remote puts are counted where buffers went home from another node;
 *   - the audit finds every buffer, none lost or duplicated;
 *   - destroying a pool with a buffer out is refused (EBUSY).
 */
#include "pool_demo.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUF_SIZE 2048
#define BURST 8
#define BURSTS 100000
#define FOREIGN 16

struct pw {
    nslab_poolset_t *set;
    int node, expect, pool_node;
    void *foreign[FOREIGN];
    int nforeign;
    size_t pages, pages_local;
    long failures;
    double ns_per_op;
};

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *pool_worker(nslab_pool_t *pool, void *arg)
{
    struct pw *w = arg;
    void *b[BURST];
    w->pool_node = nslab_pool_node(pool);
    double t0 = now_ns();
    for (long i = 0; i < BURSTS; i++) {
        for (int k = 0; k < BURST; k++) {
            b[k] = nslab_poolset_get(w->set);
            if (b[k])
                ((volatile char *)b[k])[0] = (char)k;
            else
                w->failures++;
        }
        for (int k = 0; k < BURST; k++)
            if (b[k])
                nslab_pool_put(NULL, b[k]);
    }
    w->ns_per_op = (now_ns() - t0) / (2.0 * BURSTS * BURST);
    nslab_placement_t *pl = malloc(sizeof *pl);
    for (int k = 0; k < BURST; k++)
        b[k] = nslab_poolset_get(w->set);
    for (int k = 0; k < BURST; k++) {
        if (b[k] && pl && nslab_placement(b[k], BUF_SIZE, pl) == 0) {
            w->pages += pl->pages;
            w->pages_local += pl->on_node[w->expect];
        }
        if (b[k])
            nslab_pool_put(NULL, b[k]);
    }
    free(pl);
    if (w->nforeign && nslab_pool_put_bulk(NULL, w->foreign, (unsigned)w->nforeign) < 0)
        w->failures++;
    return NULL;
}

int demo_pools(struct demo *d)
{
    demo_title(d, "Pool per worker: one worker per node on its node's pool of %d-byte buffers",
               BUF_SIZE);
    nslab_pool_opts_t opts = { .elt_size = BUF_SIZE, .count = 1024, .cache_size = 64 };
    nslab_poolset_t *set = nslab_poolset_create(&opts);
    if (!set) {
        fprintf(d->out, "  nslab_poolset_create: %s\n", strerror(errno));
        return -1;
    }
    nslab_nodeset_t cpus, mem = d->nodes;
    nslab_nodes(NSLAB_NODES_CPU, &cpus);
    int count = nslab_node_count();
    struct pw *w = calloc((size_t)count, sizeof *w);
    pthread_t *th = calloc((size_t)count, sizeof *th);
    char *up = calloc((size_t)count, 1);
    if (!w || !th || !up) {
        free(w);
        free(th);
        free(up);
        nslab_poolset_destroy(set);
        return -1;
    }
    uint64_t lent[NSLAB_MAX_NODES] = {0}; /* foreign buffers lent, per pool */
    int workers = 0;

    for (int n = nslab_nodeset_next(&cpus, 0); n >= 0; n = nslab_nodeset_next(&cpus, n + 1)) {
        nslab_node_info_t info;
        nslab_node_info(n, &info);
        w[n] = (struct pw){ .set = set, .node = n, .expect = info.local_node };
        /* Lend the worker buffers of another node's pool, if there is one. */
        for (int m = nslab_nodeset_next(&mem, 0); m >= 0; m = nslab_nodeset_next(&mem, m + 1)) {
            if (m == info.local_node)
                continue;
            nslab_pool_t *p = nslab_poolset_pool(set, m);
            if (p && nslab_pool_get_bulk(p, w[n].foreign, FOREIGN) == FOREIGN) {
                w[n].nforeign = FOREIGN;
                lent[m] += FOREIGN;
            }
            break;
        }
        int e = nslab_worker_start(&th[n], n, set, pool_worker, &w[n]);
        if (e) {
            fprintf(d->out, "  node %d: no worker (%s)\n", n, strerror(-e));
            continue;
        }
        up[n] = 1;
        workers++;
    }
    for (int n = 0; n < count; n++)
        if (up[n])
            pthread_join(th[n], NULL);

    fprintf(d->out, "  %-8s %-8s %8s %10s %8s %8s %s\n", "worker", "pool", "ns/op", "gets",
            "hit %", "remote", "sample placement");
    int all_local = 1, fail = 0;
    for (int n = 0; n < count; n++) {
        if (!up[n])
            continue;
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_stats(nslab_poolset_pool(set, w[n].pool_node), &st);
        uint64_t ops = st.cache_hits + st.cache_misses;
        fprintf(d->out, "  node %-3d node %-3d %8.1f %10" PRIu64 " %7.2f%% %8" PRIu64
                        " %zu/%zu pages on node %d\n",
                n, w[n].pool_node, w[n].ns_per_op, st.gets,
                ops ? 100.0 * (double)st.cache_hits / (double)ops : 0.0, st.remote_puts,
                w[n].pages_local, w[n].pages, w[n].expect);
        all_local &= w[n].pool_node == w[n].expect && w[n].pages &&
                     w[n].pages_local == w[n].pages;
        fail += w[n].failures != 0;
    }
    if (workers == 0) {
        fprintf(d->out, "  no worker could start\n");
        nslab_poolset_destroy(set);
        free(w);
        free(th);
        free(up);
        return -1;
    }
    demo_claim(d, all_local && !fail,
               "each of %d worker(s) was served by its local node's pool, its buffers' pages "
               "on that node",
               workers);

    /* Whole pools: placement of every buffer, hits, remote puts, audit. */
    int placed = 1, audited = 1, remote_ok = 1;
    uint64_t hits = 0, misses = 0, remote = 0, lent_total = 0;
    for (int m = nslab_nodeset_next(&mem, 0); m >= 0; m = nslab_nodeset_next(&mem, m + 1)) {
        nslab_pool_t *p = nslab_poolset_pool(set, m);
        nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
        nslab_pool_cache_flush(p);
        nslab_pool_stats(p, &st);
        hits += st.cache_hits;
        misses += st.cache_misses;
        remote += st.remote_puts;
        lent_total += lent[m];
        void **all = calloc(st.total, sizeof *all);
        nslab_placement_t *pl = malloc(sizeof *pl);
        size_t pages = 0, on = 0;
        if (all && pl && nslab_pool_get_bulk(p, all, (unsigned)st.total) == (int)st.total) {
            for (uint64_t i = 0; i < st.total; i++)
                if (nslab_placement(all[i], BUF_SIZE, pl) == 0) {
                    pages += pl->pages;
                    on += pl->on_node[m];
                }
            nslab_pool_put_bulk(p, all, (unsigned)st.total);
        }
        free(all);
        free(pl);
        int a = nslab_pool_audit(p, NULL);
        fprintf(d->out, "  pool node %d: %" PRIu64 " buffers, %zu/%zu pages on node %d, remote "
                        "puts %" PRIu64 ", audit %s\n",
                m, st.total, on, pages, m, st.remote_puts, a == 0 ? "ok" : "FAILED");
        placed &= pages && on == pages;
        audited &= a == 0;
        remote_ok &= st.remote_puts >= lent[m];
    }
    demo_claim(d, placed, "every page of every buffer of each pool is on the pool's node");
    demo_claim(d, hits + misses && (double)hits / (double)(hits + misses) > 0.9,
               "%.2f%% of gets and puts were served by the per-thread cache (no lock, no atomic)",
               hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
    if (lent_total)
        demo_claim(d, remote_ok, "%" PRIu64 " buffers returned from another node went home "
                                 "and were counted as remote puts (%" PRIu64 ")",
                   lent_total, remote);
    else
        fprintf(d->out, "  (one memory node: no remote puts to show)\n");
    demo_claim(d, audited, "the audit finds every buffer: none lost, none duplicated");

    /* Destroy refuses while a buffer is out. */
    nslab_pool_t *p0 = nslab_poolset_pool(set, nslab_nodeset_next(&mem, 0));
    void *held = nslab_pool_get(p0);
    int busy = nslab_poolset_destroy(set);
    demo_claim(d, busy == -EBUSY, "destroying the pools with a buffer out is refused (EBUSY)");
    if (busy == -EBUSY) {
        nslab_pool_put(NULL, held);
        int e = nslab_poolset_destroy(set);
        demo_claim(d, e == 0, "with every buffer back, the pools are destroyed");
    }
    free(w);
    free(th);
    free(up);
    return 0;
}
