/* A program that only knows the installed package. */
#include <numaslab.h>
#include <stdio.h>

int main(void)
{
    int n = nslab_node_count();
    void *p = numa_malloc_local(100);
    if (n <= 0 || !p) {
        fprintf(stderr, "consumer: nodes %d, block %p\n", n, p);
        return 1;
    }
    printf("consumer: %d node(s), block on node %d\n", n, nslab_node_of(p));
    return nslab_free(p) == 0 ? 0 : 1;
}
