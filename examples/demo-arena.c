/*
 * examples/demo-arena.c - demo section "arena": numa_malloc_on(node, size)
 * for every node with memory and sizes from 16 B to 1 MiB (slab classes and
 * large blocks), each block's pages checked with move_pages(2) and its node
 * read back from the pointer; then the per-node statistics.
 */
#include "demo.h"

#include <errno.h>
#include <string.h>

#define BLOCKS_PER_SIZE 64

static const size_t sizes[] = {16, 64, 256, 1000, 4096, 16384, 65536, 200000, 1 << 20};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static void *blocks[NSIZES][BLOCKS_PER_SIZE];

int demo_arena(struct demo *d)
{
    static nslab_placement_t hist; /* 8 KiB: not on the stack */
    demo_title(d, "Arenas: numa_malloc_on(node, size) on every node, %zu sizes from %zu B to %zu KiB",
               NSIZES, sizes[0], sizes[NSIZES - 1] >> 10);
    for (int n = nslab_nodeset_next(&d->nodes, 0); n >= 0; n = nslab_nodeset_next(&d->nodes, n + 1)) {
        size_t pages = 0, on = 0, nblocks = 0, wrong_owner = 0, failed = 0;
        for (size_t s = 0; s < NSIZES; s++) {
            for (int i = 0; i < BLOCKS_PER_SIZE; i++) {
                void *p = numa_malloc_on(n, sizes[s]);
                blocks[s][i] = p;
                if (!p) {
                    failed++;
                    continue;
                }
                memset(p, 0xab, sizes[s]);
                nblocks++;
                if (nslab_node_of(p) != n)
                    wrong_owner++;
                if (nslab_range_placement(p, sizes[s], &hist) == 0) {
                    pages += hist.pages;
                    on += hist.on_node[n];
                }
            }
        }
        fprintf(d->out, "  node %d: %zu blocks, %zu of %zu pages they touch on node %d\n", n, nblocks,
                on, pages, n);
        demo_claim(d, failed == 0, "node %d: every allocation succeeded (%zu failed)", n, failed);
        demo_claim(d, pages > 0 && on == pages, "node %d: every page of every block is on node %d", n, n);
        demo_claim(d, wrong_owner == 0, "node %d: nslab_node_of() names node %d for every block", n, n);
        int bad_free = 0;
        for (size_t s = 0; s < NSIZES; s++)
            for (int i = 0; i < BLOCKS_PER_SIZE; i++)
                if (blocks[s][i] && nslab_free(blocks[s][i]) != 0)
                    bad_free++;
        demo_claim(d, bad_free == 0, "node %d: every block freed (%d errors)", n, bad_free);
    }
    int dummy;
    errno = 0;
    demo_claim(d, nslab_free(&dummy) == -EINVAL,
               "nslab_free() of a pointer the library does not own: -EINVAL, nothing touched");
    fprintf(d->out, "  per-node statistics (nslab_arena_print):\n");
    nslab_arena_print(d->out);
    return 0;
}
