/*
 * tests/malloc/libnuma_prog.c - a program linked with libnuma, whose
 * constructor and numa_* calls malloc, run under the numaslab malloc
 * replacement (the preload test checks the statistics line appears and that
 * the program's blocks came from numaslab); the program itself checks that
 * glibc's heap was never used (mallinfo2), so libnuma's constructor did not
 * reach libc's malloc either.  Prints "libnuma_prog: OK".
 */
#include <malloc.h>
#include <numa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what)
{
    printf("libnuma_prog: FAILED: %s\n", what);
    return 1;
}

int main(void)
{
    if (numa_available() < 0) {
        /* libnuma still initialised (and malloc'ed) in its constructor */
        printf("libnuma_prog: numa_available() < 0; malloc checks only\n");
    } else {
        struct bitmask *nodes = numa_allocate_nodemask();
        struct bitmask *cpus = numa_allocate_cpumask();
        if (!nodes || !cpus)
            return fail("numa_allocate_*mask");
        if (numa_node_to_cpus(0, cpus) != 0)
            return fail("numa_node_to_cpus");
        struct bitmask *parsed = numa_parse_nodestring("0");
        if (!parsed || !numa_bitmask_isbitset(parsed, 0))
            return fail("numa_parse_nodestring");
        void *p = numa_alloc_onnode(1 << 20, 0);
        if (!p)
            return fail("numa_alloc_onnode");
        memset(p, 1, 1 << 20);
        numa_free(p, 1 << 20);
        numa_bitmask_free(parsed);
        numa_bitmask_free(cpus);
        numa_bitmask_free(nodes);
    }
    for (int i = 0; i < 10000; i++) {
        char *s = malloc(32 + i % 1000);
        if (!s)
            return fail("malloc");
        snprintf(s, 32, "block %d", i);
        char *t = realloc(s, 4000);
        if (!t || strncmp(t, "block ", 6) != 0)
            return fail("realloc");
        free(t);
    }
    struct mallinfo2 mi = mallinfo2();
    if (mi.arena || mi.uordblks || mi.hblks)
        return fail("glibc's heap was used: the malloc replacement is not active");
    printf("libnuma_prog: OK\n");
    return 0;
}
