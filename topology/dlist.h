/*
 * topology/dlist.h - the intrusive doubly linked list every layer keeps
 * (the arenas' chunks and partial slabs, the thread-cache, pool and region
 * registries): a head pointer, and in each member two link fields named by
 * the caller.  The caller holds whatever lock protects the list.
 * Invariant: head->prev == NULL; a member not on the list has both links
 * NULL and is not the head.
 */
#ifndef NSLAB_DLIST_H
#define NSLAB_DLIST_H

/* Put n first on the list at head. */
#define NSLAB_DLIST_PUSH(head, n, prev, next)                                  \
    do {                                                                       \
        (n)->prev = NULL;                                                      \
        (n)->next = (head);                                                    \
        if (head)                                                              \
            (head)->prev = (n);                                                \
        (head) = (n);                                                          \
    } while (0)

/* Take n off the list at head (a member not on it is left as it is) and
 * clear its links. */
#define NSLAB_DLIST_UNLINK(head, n, prev, next)                                \
    do {                                                                       \
        if ((n)->prev)                                                         \
            (n)->prev->next = (n)->next;                                       \
        else if ((head) == (n))                                                \
            (head) = (n)->next;                                                \
        if ((n)->next)                                                         \
            (n)->next->prev = (n)->prev;                                       \
        (n)->next = (n)->prev = NULL;                                          \
    } while (0)

#endif /* NSLAB_DLIST_H */
