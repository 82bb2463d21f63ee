/*
 * arena/remote.c - remote frees: blocks of node A that a thread running on
 * another node gives back.
 *
 * The freeing thread already holds the blocks as a linked list (its bin
 * for node A); it hands a whole batch over with ONE compare-and-swap onto
 * the class's remote stack (arena_class.remote): tail->next = old head,
 * CAS(head: old -> batch head, release).  No lock, no per-block atomic.
 * Push-only CAS with a consumer that takes the whole stack has no ABA
 * problem (nothing is ever popped singly).
 *
 * The arena collects: on its slow paths (arena_take, arena_put_list), under
 * the class lock, it exchanges the stack with NULL (acquire: the pushers'
 * writes to the blocks' next words are visible) and returns each block to
 * its slab, counting remote_in.  A relaxed load first keeps the common
 * empty case free of a read-modify-write.
 */
#include "arena.h"

void remote_push(struct arena *a, unsigned cls, void *head, void *tail)
{
    void **top = &a->cls[cls].remote;
    void *old = __atomic_load_n(top, __ATOMIC_RELAXED);
    do {
        arena_link_set(tail, old);
    } while (!__atomic_compare_exchange_n(top, &old, head, 1, __ATOMIC_RELEASE,
                                          __ATOMIC_RELAXED));
}

unsigned remote_collect_locked(struct arena *a, struct arena_class *ac)
{
    if (__atomic_load_n(&ac->remote, __ATOMIC_RELAXED) == NULL)
        return 0;
    void *b = __atomic_exchange_n(&ac->remote, NULL, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    while (b) {
        void *next = arena_link_get(b);
        slab_put_locked(a, ac, b);
        b = next;
        n++;
    }
    ac->remote_in += n;
    return n;
}
