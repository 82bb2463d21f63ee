/* examples/pool_run.c - see pool_run.h. */
#include "pool_run.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

static size_t g_buf_size; /* set before the workers start, read-only after */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *work(nslab_pool_t *pool, void *arg)
{
    struct pool_worker *w = arg;
    void *b[POOL_RUN_BURST];
    w->pool_node = nslab_pool_node(pool);

    double t0 = now_ns();
    for (long i = 0; i < w->bursts; i++) {
        for (int k = 0; k < POOL_RUN_BURST; k++) {
            b[k] = nslab_poolset_get(w->set); /* this node's pool */
            if (b[k])
                ((volatile char *)b[k])[0] = (char)k; /* use it */
            else
                w->failures++;
        }
        for (int k = 0; k < POOL_RUN_BURST; k++)
            if (b[k])
                nslab_pool_put(NULL, b[k]); /* back to its own pool */
    }
    w->ns_per_op = (now_ns() - t0) / (2.0 * (double)w->bursts * POOL_RUN_BURST);

    /* Where a sample of this worker's buffers lie. */
    nslab_placement_t *pl = malloc(sizeof *pl); /* large: NSLAB_MAX_NODES counters */
    for (int k = 0; k < POOL_RUN_BURST; k++)
        b[k] = nslab_poolset_get(w->set);
    for (int k = 0; k < POOL_RUN_BURST; k++) {
        if (b[k] && pl && nslab_range_placement(b[k], g_buf_size, pl) == 0) {
            w->pages += pl->pages;
            w->pages_local += pl->on_node[w->pool_node];
        }
        if (b[k])
            nslab_pool_put(NULL, b[k]);
    }
    free(pl);

    /* Buffers that belong to another node: remote puts there. */
    if (w->nforeign && nslab_pool_put_bulk(NULL, w->foreign, (unsigned)w->nforeign) < 0)
        w->failures++;
    return NULL;
}

int pool_run_workers(nslab_poolset_t *set, size_t buf_size, long bursts,
                     struct pool_worker *w, uint64_t *lent)
{
    nslab_nodeset_t cpus, mem;
    nslab_nodes(NSLAB_NODES_CPU, &cpus);
    nslab_nodes(NSLAB_NODES_ALLOWED, &mem);
    int count = nslab_node_count();
    pthread_t *th = calloc((size_t)count, sizeof *th);
    if (!th)
        return 0;
    g_buf_size = buf_size;
    int workers = 0;
    for (int n = nslab_nodeset_next(&cpus, 0); n >= 0; n = nslab_nodeset_next(&cpus, n + 1)) {
        w[n] = (struct pool_worker){ .set = set, .node = n, .bursts = bursts };
        /* Lend it buffers of the next memory node's pool (wrapping around),
         * when that is another pool than its own. */
        nslab_node_info_t info;
        nslab_node_info(n, &info);
        int m = nslab_nodeset_next(&mem, n + 1);
        if (m < 0)
            m = nslab_nodeset_next(&mem, 0);
        nslab_pool_t *p = m != info.local_node ? nslab_poolset_pool(set, m) : NULL;
        if (p && nslab_pool_get_bulk(p, w[n].foreign, POOL_RUN_FOREIGN) == POOL_RUN_FOREIGN) {
            w[n].nforeign = POOL_RUN_FOREIGN;
            lent[m] += POOL_RUN_FOREIGN;
        }
        int e = nslab_worker_start(&th[n], n, set, work, &w[n]);
        if (e) {
            w[n].start_error = -e;
            if (w[n].nforeign) {
                nslab_pool_put_bulk(NULL, w[n].foreign, (unsigned)w[n].nforeign);
                lent[m] -= (uint64_t)w[n].nforeign;
            }
            continue;
        }
        w[n].started = 1;
        workers++;
    }
    for (int n = 0; n < count; n++)
        if (w[n].started)
            pthread_join(th[n], NULL);
    free(th);
    return workers;
}

int pool_run_placement(nslab_pool_t *p, int node, size_t buf_size, size_t *pages, size_t *on)
{
    nslab_pool_stats_t st = { .size = sizeof st, .version = NSLAB_STATS_VERSION };
    *pages = *on = 0;
    nslab_pool_cache_flush(p);
    if (nslab_pool_stats(p, &st) != 0)
        return -1;
    void **all = calloc(st.total, sizeof *all);
    nslab_placement_t *pl = malloc(sizeof *pl);
    int r = -1;
    if (all && pl && nslab_pool_get_bulk(p, all, (unsigned)st.total) == (int)st.total) {
        r = 0;
        for (uint64_t i = 0; i < st.total; i++) {
            if (nslab_range_placement(all[i], buf_size, pl) != 0) {
                r = -1;
                continue;
            }
            *pages += pl->pages;
            *on += pl->on_node[node];
        }
        nslab_pool_put_bulk(p, all, (unsigned)st.total);
    }
    free(all);
    free(pl);
    return r;
}
