/*
 * tests/layers/malloc_includes_text.c - the malloc front including
 * topology's private text.h: must not compile (see
 * tests/layers/CMakeLists.txt).
 */
#include "text.h"

int layer_check_malloc_text(void);
int layer_check_malloc_text(void) { return 0; }
