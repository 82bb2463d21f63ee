/*
 * arena/process.h - the process default policy: where an allocation that
 * names no node goes (NUMASLAB_POLICY: local, bind:S, preferred:N,
 * interleave:S, weighted:N=W), with its fallback by distance when a node is
 * full, as one mechanism of the library (process.c).  The malloc
 * replacement (arena/malloc/malloc.c) is a front on it: it forwards every
 * call here and keeps no policy of its own.
 *
 * How each policy maps onto the arenas:
 *   local        numa_malloc_local: the thread's local node, falling back
 *                by distance when it is full (the arena's fallback).
 *   bind:S       a thread on node n allocates on target[n]: n's local node
 *                if it is in S, else the member of S nearest to n (ties:
 *                lower id); computed once per node at start-up, looked up
 *                through the thread's cached node (cheap, follows
 *                migration).  When that node is full: the other members
 *                of S by distance from it (the topology's by_distance);
 *                never a node outside S.
 *   preferred:N  node N; when N is full (or refuses), the local policy.
 *   preferred-many:S  as bind:S, but when every member is full the local
 *                policy (outside S) - the kernel's preferred-many mode's
 *                meaning.
 *   interleave:S blocks below PROCESS_INTERLEAVE_MIN go to the members of
 *                S in turn, per thread (a thread-local cursor, each thread
 *                starting at a different member); larger blocks are
 *                numa_malloc_interleaved(S) regions, spread page by page.
 *                A full member is skipped for the next one.
 *   weighted:N=W the same turn-taking, member i taking weight[i] blocks in
 *                a row; large blocks are placed whole by the same turns
 *                (the kernel's weighted interleave uses system-wide
 *                weights, so it cannot honour ours).
 *
 * Start-up: the configuration is read (policy-env.c: secure_getenv and
 * hand parsing, no malloc) on the first call that finds libc's `environ`
 * set; until then (only possible inside the dynamic loader) the local
 * policy is used.  Nothing reads it unless asked (process_mode_get): the
 * library alone (libnumaslab) never does.
 *
 * Threads: process_mode and the configuration are written once by the
 * thread that wins the configuration state 0 -> 1, then published with a
 * release store of process_mode and the state = 2; readers load
 * process_mode with acquire and read the configuration only after seeing
 * it.  A thread that finds the configuration being loaded uses the local
 * policy for that call instead of waiting (no lock, no deadlock).  The
 * interleave cursors are thread-local; the foreign-pointer counters are
 * relaxed atomics.
 */
#ifndef NSLAB_PROCESS_H
#define NSLAB_PROCESS_H

#include <stddef.h>

#include "arena.h"
#include "policy-env.h"

/* Blocks of at least this size are interleaved page by page under
 * interleave:S (smaller ones are handed out by the members in turn). */
#define PROCESS_INTERLEAVE_MIN ((size_t)256 << 10)
/* What every block is aligned to without asking. */
#define PROCESS_MIN_ALIGN ((size_t)16)

enum { PROCESS_MODE_BOOT = -1 }; /* configuration not read yet */

/* enum menv_mode once the configuration is read, else PROCESS_MODE_BOOT
 * (acquire loads). */
extern int process_mode __attribute__((visibility("hidden")));
/* 0 once the local policy is published, else ARENA_CPU_MISS: malloc's hit
 * path folds "the policy is local" into its cpu compare with it (arena.h,
 * arena_alloc_local_hit_x).  Written once (relaxed: the hit path reads no
 * configuration).  Each thread cache holds a copy (struct tcache,
 * policy_xor: set when the cache is made, and to 0 by malloc's slow path
 * under the local policy), so a change other than this one, from
 * ARENA_CPU_MISS to 0, would have to reach every cache. */
extern int process_cpu_xor __attribute__((visibility("hidden")));

/* Read the configuration if the environment exists and nobody has yet;
 * the mode to use now. */
int process_config_boot(void);

static inline int process_mode_get(void)
{
    int m = __atomic_load_n(&process_mode, __ATOMIC_ACQUIRE);
    return __builtin_expect(m != PROCESS_MODE_BOOT, 1) ? m : process_config_boot();
}

/* Populate a large block?  The process policy's default is no (numaslab.h,
 * nslab_arena_prefault_t: bound, committed on first touch). */
static inline int process_large_populate(void)
{
    return arena_populate_large(0);
}

/* A block of `size` bytes (> 0) under the process policy, aligned to
 * `align` (0 or <= PROCESS_MIN_ALIGN: the default), zeroed when `zero`.
 * NULL with errno ENOMEM when no node the policy allows can hold it. */
void *process_alloc(size_t size, size_t align, int zero);

/* fork handlers (the malloc front registers them after the arena's): the
 * child of a multi-threaded process reads a configuration that was being
 * read at the fork again. */
void process_fork_prepare(void);
void process_fork_child(void);

/* Pointers the library does not own, seen by the front (free ignores them,
 * realloc refuses them, malloc_usable_size answers 0): counted, and shown
 * in the statistics line. */
enum process_foreign { PROCESS_FOREIGN_FREE, PROCESS_FOREIGN_REALLOC, PROCESS_FOREIGN_SIZE };
void process_count_foreign(enum process_foreign what);

/* The statistics line of the process policy ("numaslab: malloc stats (pid
 * P): policy=... foreign_frees=..."), newline included, into buf: its
 * length, or 0 when no configuration was read (the library alone).  The
 * one stats writer (stats.c) prints it after the node lines. */
int process_stats_line(char *buf, size_t len);

#endif /* NSLAB_PROCESS_H */
