/*
 * tests/malloc/glibc-malloc-shim.c - for bench-redis.sh only (not part of
 * the library): Debian's redis-server links jemalloc, so to measure it on
 * glibc's malloc this shim is preloaded and forwards the malloc family to
 * glibc's own entry points (__libc_malloc & co), ahead of jemalloc's.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t s) { return __libc_calloc(n, s); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n)
{
    if (a < sizeof(void *) || (a & (a - 1)))
        return EINVAL;
    void *p = __libc_memalign(a, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

/* glibc's malloc_usable_size is only exported under that name, which
 * jemalloc interposes: take libc's own definition from its handle. */
size_t malloc_usable_size(void *p)
{
    static size_t (*libc_usable)(void *);
    if (!libc_usable) {
        void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        libc_usable = (size_t (*)(void *))dlsym(h, "malloc_usable_size");
    }
    return libc_usable(p);
}
