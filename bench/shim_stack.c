/*
 * bench/shim_stack.c - the floor for pools: a bare per-thread array stack of
 * pre-made buffers (get = pop, put = push, no checks beyond emptiness).
 * numaslab's pool get + put is held to <= 2x of this.
 */
#include <stdlib.h>

#include "shim.h"

struct stack_pool {
    char *mem;
    size_t count;
};

/* The per-thread stack: filled by ba_pool_create on the creating thread. */
static __thread void **stack_items;
static __thread size_t stack_len;

int ba_init(void) { return 0; }
const char *ba_name(void) { return "array-stack"; }
unsigned ba_caps(void) { return BA_POOL; }
const char *ba_note(void) { return "bare per-thread array stack of pre-made buffers (floor for pools)"; }

void *ba_alloc(size_t size) { return NULL; }
void ba_free(void *p) { }
void *ba_alloc_on_node(int node, size_t size) { return NULL; }
void ba_free_on_node(void *p, size_t size, int node) { }

void *ba_pool_create(size_t elt_size, size_t count)
{
    struct stack_pool *sp = malloc(sizeof *sp);
    if (!sp)
        return NULL;
    elt_size = (elt_size + 63) & ~(size_t)63;
    sp->mem = aligned_alloc(64, elt_size * count);
    stack_items = malloc(count * sizeof *stack_items);
    if (!sp->mem || !stack_items)
        abort();
    for (size_t i = 0; i < count; i++)
        stack_items[i] = sp->mem + (count - 1 - i) * elt_size;
    stack_len = count;
    sp->count = count;
    return sp;
}

void ba_pool_destroy(void *pool)
{
    struct stack_pool *sp = pool;
    free(sp->mem);
    free(stack_items);
    stack_items = NULL;
    stack_len = 0;
    free(sp);
}

void *ba_pool_get(void *pool)
{
    return stack_len ? stack_items[--stack_len] : NULL;
}

void ba_pool_put(void *pool, void *buf)
{
    stack_items[stack_len++] = buf;
}

void *ba_region_populated(size_t size, int node) { return NULL; }
void ba_region_free(void *p, size_t size) { }
void *ba_interleaved(size_t size) { return NULL; }
void ba_interleaved_free(void *p, size_t size) { }
