/*
 * topology/debug.h - asserts in levels, for every layer (it is part of the
 * lowest layer's interface).  Compiled in debug builds only: CMake defines
 * NSLAB_DEBUG_LEVEL for a Debug build (3), and it is 0 otherwise, where
 * every assert compiles to nothing (its expression is not evaluated).
 *
 *   NSLAB_ASSERT(e)           level >= 1: cheap checks of a function's
 *                             input or result (O(1), no extra memory read
 *                             on a hot path)
 *   NSLAB_ASSERT_INTERNAL(e)  level >= 2: the invariants of a structure
 *                             where it is changed (the ones audit.c and
 *                             nslab_pool_audit check, one field at a time)
 *   NSLAB_ASSERT_EXPENSIVE(e) level >= 3: checks that walk a structure
 *                             (a list, a bitmap), on slow paths only
 *
 * A failed assert writes one line, "numaslab: assertion failed: FILE:LINE:
 * EXPR", with write(2) and aborts: it never allocates and takes no lock,
 * so it may fire anywhere the library runs, the malloc replacement's
 * bootstrap included.  A release build never prints or aborts for them
 * (numaslab.h: the library does neither unless asked; a debug build asks).
 */
#ifndef NSLAB_DEBUG_H
#define NSLAB_DEBUG_H

#ifndef NSLAB_DEBUG_LEVEL
#define NSLAB_DEBUG_LEVEL 0
#endif

__attribute__((noreturn, cold)) void nslab_assert_fail(const char *file, int line,
                                                       const char *expr);

#define NSLAB_ASSERT_AT_(lvl, e)                                                 \
    do {                                                                       \
        if (NSLAB_DEBUG_LEVEL >= (lvl) && __builtin_expect(!(e), 0))           \
            nslab_assert_fail(__FILE__, __LINE__, #e);                         \
    } while (0)

#if NSLAB_DEBUG_LEVEL >= 1
#define NSLAB_ASSERT(e) NSLAB_ASSERT_AT_(1, e)
#else
#define NSLAB_ASSERT(e) ((void)0)
#endif
#if NSLAB_DEBUG_LEVEL >= 2
#define NSLAB_ASSERT_INTERNAL(e) NSLAB_ASSERT_AT_(2, e)
#else
#define NSLAB_ASSERT_INTERNAL(e) ((void)0)
#endif
#if NSLAB_DEBUG_LEVEL >= 3
#define NSLAB_ASSERT_EXPENSIVE(e) NSLAB_ASSERT_AT_(3, e)
#else
#define NSLAB_ASSERT_EXPENSIVE(e) ((void)0)
#endif

#endif /* NSLAB_DEBUG_H */
