/*
 * bench/shim_jemalloc.c - jemalloc 5 (Debian libjemalloc, unprefixed, linked,
 * so it replaces malloc for the whole process).
 *
 * ba_alloc/ba_free: plain malloc/free (jemalloc's).
 * ba_alloc_on_node: memkind's approach - one arena per node created with
 * arenas.create and extent hooks whose alloc maps, mbinds the extent to the
 * node (MPOL_BIND) and returns it; allocations go there with
 * mallocx(MALLOCX_ARENA(a) | MALLOCX_TCACHE(tc)) where tc is an explicit
 * per-thread, per-node tcache (tcache.create), as memkind does (the default
 * tcache would hand back blocks of other arenas).  Frees are sized:
 * sdallocx(p, size, MALLOCX_TCACHE(tc)).
 */
#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"
#include "shim_util.h"

#define JE_MAX_NODES 64
#define JE_MAX_ARENAS 4096

static unsigned node_arena[JE_MAX_NODES];
static int node_ok[JE_MAX_NODES];
static int16_t arena_node[JE_MAX_ARENAS]; /* node + 1, 0 = not ours */
static int creating_node = -1;            /* node of the arena being created */
static __thread unsigned thread_tcache[JE_MAX_NODES]; /* tcache id + 1 */
static unsigned caps = BA_MALLOC | BA_POOL;
static char note[512];

static int node_of_arena(unsigned ind)
{
    if (ind < JE_MAX_ARENAS && arena_node[ind])
        return arena_node[ind] - 1;
    return creating_node; /* the arena's own base allocations at creation */
}

static void *ext_alloc(extent_hooks_t *h, void *new_addr, size_t size,
                       size_t alignment, bool *zero, bool *commit,
                       unsigned arena_ind)
{
    int node = node_of_arena(arena_ind);
    if (node < 0)
        return NULL;
    size_t page = 4096;
    if (alignment < page)
        alignment = page;
    char *p;
    if (new_addr) {
        p = mmap(new_addr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        if (p != new_addr) {
            munmap(p, size);
            return NULL;
        }
    } else {
        size_t len = size + alignment - page;
        char *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED)
            return NULL;
        p = (char *)(((uintptr_t)m + alignment - 1) & ~(uintptr_t)(alignment - 1));
        if (p > m)
            munmap(m, (size_t)(p - m));
        if (m + len > p + size)
            munmap(p + size, (size_t)(m + len - (p + size)));
    }
    unsigned long mask[BU_MAX_NODES / (8 * sizeof(unsigned long))];
    bu_one_node(mask, node);
    if (bu_mbind(p, size, BU_MPOL_BIND, mask) != 0) {
        munmap(p, size);
        return NULL;
    }
    *zero = true;
    *commit = true;
    return p;
}

static bool ext_dalloc(extent_hooks_t *h, void *addr, size_t size,
                       bool committed, unsigned arena_ind)
{
    return munmap(addr, size) != 0;
}

static void ext_destroy(extent_hooks_t *h, void *addr, size_t size,
                        bool committed, unsigned arena_ind)
{
    munmap(addr, size);
}

static bool ext_commit(extent_hooks_t *h, void *addr, size_t size,
                       size_t offset, size_t length, unsigned arena_ind)
{
    return false; /* always committed */
}

static bool ext_decommit(extent_hooks_t *h, void *addr, size_t size,
                         size_t offset, size_t length, unsigned arena_ind)
{
    return true; /* opt out */
}

static bool ext_purge_lazy(extent_hooks_t *h, void *addr, size_t size,
                           size_t offset, size_t length, unsigned arena_ind)
{
    return madvise((char *)addr + offset, length, MADV_FREE) != 0;
}

static bool ext_purge_forced(extent_hooks_t *h, void *addr, size_t size,
                             size_t offset, size_t length, unsigned arena_ind)
{
    return madvise((char *)addr + offset, length, MADV_DONTNEED) != 0;
}

static bool ext_split(extent_hooks_t *h, void *addr, size_t size,
                      size_t size_a, size_t size_b, bool committed,
                      unsigned arena_ind)
{
    return false; /* mmap'd ranges split freely */
}

static bool ext_merge(extent_hooks_t *h, void *addr_a, size_t size_a,
                      void *addr_b, size_t size_b, bool committed,
                      unsigned arena_ind)
{
    return false; /* adjacent mappings unmap together */
}

static extent_hooks_t node_hooks = {
    ext_alloc, ext_dalloc, ext_destroy, ext_commit, ext_decommit,
    ext_purge_lazy, ext_purge_forced, ext_split, ext_merge,
};

int ba_init(void)
{
    /* Check that malloc is jemalloc's: thread.allocated must move. */
    uint64_t before = 0, after = 0;
    size_t sz = sizeof before;
    int ok = mallctl("thread.allocated", &before, &sz, NULL, 0) == 0;
    void *volatile probe = malloc(100);
    sz = sizeof after;
    ok = ok && mallctl("thread.allocated", &after, &sz, NULL, 0) == 0 && after > before;
    free(probe);
    if (!ok) {
        snprintf(note, sizeof note, "malloc is not jemalloc's");
        return -ENOSYS;
    }
    const char *ver = "?";
    sz = sizeof ver;
    mallctl("version", &ver, &sz, NULL, 0);

    const unsigned long *mem = bu_memory_nodes();
    int nnodes = 0;
    for (int node = 0; node < JE_MAX_NODES; node++) {
        if (!(mem[node / (8 * sizeof(unsigned long))] >> (node % (8 * sizeof(unsigned long))) & 1))
            continue;
        extent_hooks_t *hp = &node_hooks;
        unsigned ind = 0;
        sz = sizeof ind;
        creating_node = node;
        int rc = mallctl("arenas.create", &ind, &sz, &hp, sizeof hp);
        creating_node = -1;
        if (rc != 0 || ind >= JE_MAX_ARENAS)
            continue;
        arena_node[ind] = (int16_t)(node + 1);
        node_arena[node] = ind;
        node_ok[node] = 1;
        nnodes++;
    }
    /* Prove the hooks are in use: a block of a node arena lies in memory
     * that mbind bound (get_mempolicy(MPOL_F_ADDR) reports MPOL_BIND). */
    int verified = 0;
    for (int node = 0; node < JE_MAX_NODES && nnodes; node++) {
        if (!node_ok[node])
            continue;
        void *b = mallocx(64, MALLOCX_ARENA(node_arena[node]) | MALLOCX_TCACHE_NONE);
        int mode = -1;
        if (b && syscall(SYS_get_mempolicy, &mode, NULL, 0UL, b, 2UL /* MPOL_F_ADDR */) == 0 &&
            mode == BU_MPOL_BIND)
            verified++;
        else
            node_ok[node] = 0;
        if (b)
            dallocx(b, MALLOCX_TCACHE_NONE);
    }
    nnodes = verified;
    if (nnodes)
        caps |= BA_NODE;
    snprintf(note, sizeof note,
             "malloc/free (jemalloc %.5s); on node: per-node arena with mbind "
             "extent hooks (%d node arenas, MPOL_BIND checked with get_mempolicy), "
             "mallocx(MALLOCX_ARENA|MALLOCX_TCACHE per-thread explicit tcache) + "
             "sdallocx; pool = malloc/free",
             ver, nnodes);
    return 0;
}

const char *ba_name(void) { return "jemalloc"; }
unsigned ba_caps(void) { return caps; }
const char *ba_note(void) { return note; }

void *ba_alloc(size_t size) { return malloc(size); }
void ba_free(void *p) { free(p); }

static unsigned tcache_of(int node)
{
    unsigned t = thread_tcache[node];
    if (__builtin_expect(t == 0, 0)) {
        unsigned id = 0;
        size_t sz = sizeof id;
        if (mallctl("tcache.create", &id, &sz, NULL, 0) != 0)
            abort();
        thread_tcache[node] = t = id + 1;
    }
    return t - 1;
}

void *ba_alloc_on_node(int node, size_t size)
{
    if ((unsigned)node >= JE_MAX_NODES || !node_ok[node])
        return NULL;
    return mallocx(size, MALLOCX_ARENA(node_arena[node]) | MALLOCX_TCACHE(tcache_of(node)));
}

void ba_free_on_node(void *p, size_t size, int node)
{
    sdallocx(p, size, MALLOCX_TCACHE(tcache_of(node)));
}

BU_SIZE_POOL(malloc, free)

BU_NO_REGIONS
