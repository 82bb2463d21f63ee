/*
 * tests/arena/test_arena_stress.c - deterministic multi-thread stress of the
 * arenas (label stress; scaled down under sanitizers by testutil_scale).
 *
 * Threads allocate blocks of mixed sizes on every node with memory (and
 * "local"), stamp them, and either free them themselves or swap them
 * through a shared array of slots, so most frees happen on another thread.
 * Half of the threads report a node other than the blocks' (the test hook
 * arena_test_set_thread_node) so their frees take the remote path (batches
 * pushed with CAS, collected by the owner).  Every block is checked when
 * freed (its stamp and node); at the end every block is back, the audit is
 * clean and no bytes are in use.  Clean under ASan and TSan.
 */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#include "arena.h"

enum { NTHREADS = 4, SLOTS = 512, OWN = 128 };

static void *slots[SLOTS];
static nslab_nodeset_t mem;
static int nmem;
static int memnodes[NSLAB_MAX_NODES];
static size_t ops_per_thread;

struct stamp {
    uint64_t tag;
    uint64_t size;
    int32_t node;
};

static uint64_t tag_of(const void *p, size_t size)
{
    return ((uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull) ^ size;
}

static size_t pick_size(uint64_t r)
{
    unsigned k = (unsigned)(r % 64);
    r >>= 6;
    if (k < 48)
        return sizeof(struct stamp) + r % 512;
    if (k < 62)
        return sizeof(struct stamp) + r % 16384;
    if (k < 63)
        return 65536 + r % 65536;
    return 128 + r % 300000;
}

static int check_and_free(void *p)
{
    struct stamp *s = p;
    unsigned char *end = (unsigned char *)p + s->size - 1;
    if (s->tag != tag_of(p, s->size) || *end != (unsigned char)s->size)
        return -1;
    if (nslab_node_of(p) != s->node)
        return -2;
    if (nslab_usable_size(p) < s->size)
        return -3;
    return nslab_free(p) == 0 ? 0 : -4;
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t rng = 0x1234567ull * (uint64_t)(id + 1);
    void *own[OWN] = { 0 };
    if (id & 1)
        arena_test_set_thread_node(nslab_node_count() + id); /* "another node" */
    for (size_t i = 0; i < ops_per_thread; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        size_t size = pick_size(rng >> 8);
        int node = memnodes[(rng >> 40) % (uint64_t)nmem];
        void *p;
        if (!(id & 1) && (rng & 0xf) == 0)
            p = numa_malloc_local(size);
        else
            p = numa_malloc_on(node, size);
        if (!p)
            return (void *)1;
        struct stamp *s = p;
        s->size = size;
        s->tag = tag_of(p, size);
        s->node = nslab_node_of(p);
        if (s->node < 0 || ((rng & 0xf) != 0 && s->node != node))
            return (void *)2;
        ((unsigned char *)p)[size - 1] = (unsigned char)size;
        void *old;
        if ((rng >> 20) & 1) {
            old = __atomic_exchange_n(&slots[(rng >> 24) % SLOTS], p, __ATOMIC_ACQ_REL);
        } else {
            unsigned k = (unsigned)((rng >> 24) % OWN);
            old = own[k];
            own[k] = p;
        }
        if (old && check_and_free(old) != 0)
            return (void *)3;
    }
    for (int k = 0; k < OWN; k++)
        if (own[k] && check_and_free(own[k]) != 0)
            return (void *)4;
    return NULL;
}

static void test_stress(void **state)
{
    (void)state;
    nmem = 0;
    testutil_memory_nodes(&mem);
    for (int n = nslab_nodeset_next(&mem, 0); n >= 0; n = nslab_nodeset_next(&mem, n + 1))
        memnodes[nmem++] = n;
    assert_true(nmem >= 1);
    ops_per_thread = testutil_scale(200000);

    nslab_thread_flush();
    nslab_arena_stats_t base[NSLAB_MAX_NODES / 64];
    int nb = nmem < (int)(sizeof base / sizeof base[0]) ? nmem : (int)(sizeof base / sizeof base[0]);
    for (int i = 0; i < nb; i++) {
        base[i] = (nslab_arena_stats_t){ .size = sizeof base[i], .version = NSLAB_STATS_VERSION };
        assert_int_equal(nslab_arena_stats(memnodes[i], &base[i]), 0);
    }

    for (int round = 0; round < 2; round++) {
        pthread_t t[NTHREADS];
        for (int i = 0; i < NTHREADS; i++)
            assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
        for (int i = 0; i < NTHREADS; i++) {
            void *ret;
            assert_int_equal(pthread_join(t[i], &ret), 0);
            assert_null(ret);
        }
        for (int i = 0; i < SLOTS; i++) {
            if (slots[i]) {
                assert_int_equal(check_and_free(slots[i]), 0);
                slots[i] = NULL;
            }
        }
        nslab_thread_flush();
        assert_int_equal(nslab_arena_audit(stdout), 0);
    }

    uint64_t remote_in = 0;
    for (int i = 0; i < nb; i++) {
        nslab_arena_stats_t s = { .size = sizeof s, .version = NSLAB_STATS_VERSION };
        assert_int_equal(nslab_arena_stats(memnodes[i], &s), 0);
        assert_int_equal(s.bytes_in_use, base[i].bytes_in_use);
        assert_int_equal(s.large, base[i].large);
        assert_int_equal(s.allocs - base[i].allocs, s.frees - base[i].frees);
        remote_in += s.remote_frees_in - base[i].remote_frees_in;
    }
    printf("stress: %d threads x %zu ops x 2 rounds, %llu remote frees collected\n", NTHREADS,
           ops_per_thread, (unsigned long long)remote_in);
    assert_true(remote_in > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
