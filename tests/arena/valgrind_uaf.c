/*
 * tests/arena/valgrind_uaf.c - run under valgrind (memcheck) by CTest when
 * the library is built with NUMASLAB_VALGRIND=ON: "uaf" writes into a freed
 * 64 B block and a freed block's byte 40 is read, which memcheck must report
 * as an access inside a freed block of size 64; "clean" allocates, frees and
 * reuses blocks (small and large) with no error.
 */
#include <stdio.h>
#include <string.h>

#include "numaslab.h"

static volatile char sink;

int main(int argc, char **argv)
{
    const char *c = argc > 1 ? argv[1] : "clean";
    if (!strcmp(c, "uaf")) {
        char *keep = numa_malloc_local(64);
        char *p = numa_malloc_local(64);
        memset(p, 1, 64);
        nslab_free(p);
        p[20] = 2;      /* invalid write */
        sink = p[40];   /* invalid read */
        sink = keep[0];
        return 0;
    }
    for (int i = 0; i < 5000; i++) {
        char *p = numa_malloc_local(16 + (size_t)(i % 64) * 16);
        memset(p, i, 16);
        nslab_free(p);
    }
    char *l = numa_malloc_local(100000);
    memset(l, 1, 100000);
    nslab_free(l);
    l = numa_malloc_local(100000);
    memset(l, 2, 100000);
    nslab_free(l);
    nslab_thread_flush();
    puts("OK");
    return 0;
}
