/*
 * arena/sizeclass.c - the size-class tables (see sizeclass.h for the
 * classes and why they are spaced so).  Filled once by sc_init(), called
 * from arena_global_init() before any thread cache exists; read-only after.
 */
#include "sizeclass.h"

#include "arena.h"

_Static_assert(sizeof(struct tc_bin) == SC_BIN_SIZE, "bin size");
_Static_assert(SC_COUNT * SC_BIN_SIZE < 65536, "bin offsets fit uint16");

uint32_t sc_size[SC_COUNT];
uint8_t sc_pages[SC_COUNT];
uint32_t sc_capacity[SC_COUNT];
int32_t sc_limit[SC_COUNT];
uint32_t sc_batch[SC_COUNT];
uint16_t sc_table[SC_TABLE_MAX + 1];
uint16_t sc_table_mid[SC_MID_ENTRIES];

static uint32_t class_size(unsigned c)
{
    if (c <= 8)
        return 16u * c;
    unsigned k = c - 9, b = 7 + k / 8, j = k % 8;
    return (1u << b) + (j + 1) * (1u << (b - 3));
}

void sc_init(void)
{
    for (unsigned c = 1; c < SC_COUNT; c++) {
        uint32_t s = class_size(c);
        unsigned np = 1;
        while ((np * ARENA_PAGE_SIZE) / s < 8)
            np++;
        uint32_t lim = (uint32_t)((64u * 1024u) / s);
        if (lim > SC_MAX_LIMIT)
            lim = SC_MAX_LIMIT;
        if (lim < 2)
            lim = 2;
        sc_size[c] = s;
        sc_pages[c] = (uint8_t)np;
        sc_capacity[c] = (uint32_t)((np * ARENA_PAGE_SIZE) / s);
        sc_limit[c] = (int32_t)lim;
        sc_batch[c] = lim / 2;
    }
    sc_size[0] = 0;
    sc_limit[0] = 0;
    sc_batch[0] = 0;
    for (unsigned i = 0; i <= SC_TABLE_MAX; i++)
        sc_table[i] = sc_binoff(i == 0 ? 0 : sc_of(i));
    /* entries at or below SC_TABLE_MAX are never read; fill them alike */
    for (size_t i = 0; i < SC_MID_ENTRIES; i++)
        sc_table_mid[i] = sc_binoff(i == 0 ? 0 : sc_of(i << SC_MID_SHIFT));
}
