/*
 * pool/worker.c - workers: threads bound to a node's CPUs and handed the
 * pool of their node from a pool set.
 *
 * nslab_worker_bind() binds the calling thread; nslab_worker_start() starts
 * a thread that binds itself before running the caller's function, so the
 * function's first allocation already happens on the node.  The start
 * record lives on the starter's stack: the new thread copies it and posts a
 * semaphore, and the starter waits for that, so nothing is allocated by
 * the library (pthread_create itself allocates the thread's stack and TLS,
 * as it must; the malloc replacement never starts workers).
 *
 * Threads: no shared state; the handshake is the semaphore.
 */
#include "pool.h"

#include <errno.h>
#include <semaphore.h>

#include "topology.h"

/* Bind to `node` and find its pool: 0 or a positive errno. */
static int bind_and_route(int node, nslab_poolset_t *s, nslab_pool_t **out)
{
    const struct topology *t = topology_get();
    if (!s || node < 0 || node >= t->nr_nodes || !poolset_route(s, node))
        return EINVAL;
    int e = topology_bind_thread(node);
    if (e)
        return e;
    /* The thread now runs on node's CPUs: its local node is node, or for a
     * memoryless node the nearest with memory. */
    int local = pool_thread_refresh();
    *out = poolset_route(s, local);
    return *out ? 0 : EINVAL;
}

NSLAB_API nslab_pool_t *nslab_worker_bind(int node, nslab_poolset_t *s)
{
    nslab_pool_t *p = NULL;
    int e = bind_and_route(node, s, &p);
    if (e) {
        errno = e;
        return NULL;
    }
    return p;
}

struct start {
    sem_t ready;
    int node;
    nslab_poolset_t *set;
    void *(*fn)(nslab_pool_t *, void *);
    void *arg;
    int err;
};

static void *worker_main(void *v)
{
    struct start *st = v; /* the starter's stack: valid until we post */
    void *(*fn)(nslab_pool_t *, void *) = st->fn;
    void *arg = st->arg;
    nslab_pool_t *p = NULL;
    int e = bind_and_route(st->node, st->set, &p);
    st->err = e;
    sem_post(&st->ready);
    if (e)
        return NULL;
    return fn(p, arg);
}

NSLAB_API int nslab_worker_start(pthread_t *thread, int node, nslab_poolset_t *s,
                                 void *(*fn)(nslab_pool_t *, void *), void *arg)
{
    struct start st = { .node = node, .set = s, .fn = fn, .arg = arg };
    pthread_t th;
    if (!thread || !fn || !s || !poolset_route(s, node)) {
        errno = EINVAL;
        return -EINVAL;
    }
    if (sem_init(&st.ready, 0, 0) != 0) {
        errno = EAGAIN;
        return -EAGAIN;
    }
    int e = pthread_create(&th, NULL, worker_main, &st);
    if (e) {
        sem_destroy(&st.ready);
        errno = e;
        return -e;
    }
    while (sem_wait(&st.ready) != 0 && errno == EINTR)
        ;
    sem_destroy(&st.ready);
    if (st.err) {
        pthread_join(th, NULL);
        errno = st.err;
        return -st.err;
    }
    *thread = th;
    return 0;
}
