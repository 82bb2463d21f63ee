/*
 * arena/region/ledger.c - the machine-wide capacity ledger: what every
 * process using numaslab holds or claims on each node, so that processes
 * building at the same time (VMs booted in parallel, the Xen case) never
 * both count the same free memory.  Off unless asked for
 * (nslab_capacity_set_ledger, or NUMASLAB_LEDGER=1 | /path).
 *
 * The file (default /dev/shm/numaslab-ledger, mode 0666) is a header and
 * LEDGER_ENTRIES entries { pid, node, start time, bytes }: one entry per
 * (process, node) with bytes held, mirroring that process's own ledger[]
 * (capacity.c).  It is read and written under flock(2), which the kernel
 * releases when a process dies, so a crash never wedges the others; an
 * entry whose process is gone (kill(pid, 0) is ESRCH, or the pid now
 * belongs to a process with another start time) is reclaimed by whoever
 * next takes the lock.  Inside the process a mutex serialises the threads
 * (flock excludes open files, not threads).  After fork the child opens
 * the file again (a shared open file would share the parent's lock).
 *
 * Lock order: capacity callers take ledger_lock() last; nothing is
 * called with it held but file reads (/proc) and memory writes.
 * No allocation (the malloc replacement reaches this through chunks).
 */
#include "region-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_MAGIC 0x474c534eu /* "NSLG" */
#define LEDGER_VERSION 1u
#define LEDGER_ENTRIES 4096
#define LEDGER_DEFAULT_PATH "/dev/shm/numaslab-ledger"

struct ledger_entry {
    int32_t pid;    /* 0: free */
    int32_t node;
    uint64_t start; /* the process's start time (/proc/<pid>/stat) */
    uint64_t bytes;
};

struct ledger_file {
    uint32_t magic, version, nentries, reserved;
    struct ledger_entry e[LEDGER_ENTRIES];
};

static struct {
    pthread_mutex_t mu;
    int state; /* 0: environment not read yet, 1: off, 2: on */
    int fd;
    struct ledger_file *f;
    int pid;
    uint64_t start;
    char path[256];
} L = {PTHREAD_MUTEX_INITIALIZER, 0, -1, NULL, 0, 0, {0}};

static void close_file(void)
{
    if (L.f)
        os_unmap(L.f, sizeof(struct ledger_file));
    if (L.fd >= 0)
        os_close(L.fd);
    L.f = NULL;
    L.fd = -1;
}

/* Open L.path for this process (under L.mu).  0 or an errno. */
static int open_file(void)
{
    close_file();
    int pid = os_getpid();
    uint64_t start = 0;
    int e = os_pid_start(pid, &start);
    if (e)
        return e;
    void *m;
    int fd;
    if ((e = os_shared_file_map(L.path, sizeof(struct ledger_file), &fd, &m)) != 0)
        return e;
    L.fd = fd;
    L.f = m;
    L.pid = pid;
    L.start = start;
    return 0;
}

static int set_path(const char *path)
{
    size_t n = strlen(path);
    if (n == 0) {
        path = LEDGER_DEFAULT_PATH;
        n = strlen(path);
    }
    if (path[0] != '/' || n >= sizeof L.path)
        return EINVAL;
    memcpy(L.path, path, n + 1);
    return 0;
}

/* NUMASLAB_LEDGER: "1"/"on"/"yes"/"true" = the default path, "/path" =
 * that file, anything else (or unset) = off. */
static void read_env(void)
{
    const char *v = getenv("NUMASLAB_LEDGER");
    L.state = 1;
    if (!v || !*v)
        return;
    if (v[0] == '/') {
        if (set_path(v) != 0)
            return;
    } else if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true")) {
        (void)set_path("");
    } else {
        return;
    }
    if (open_file() == 0)
        L.state = 2;
}

/* Take the ledger (process mutex, then the file lock).  Returns 1 with
 * both held when the shared ledger is on, else 0 with nothing held. */
int ledger_lock(void)
{
    if (__atomic_load_n(&L.state, __ATOMIC_ACQUIRE) == 1)
        return 0; /* off: no lock at all */
    /* A forked child: the mutex may have been held by a parent thread
     * that does not exist here. */
    if (L.pid != 0 && L.pid != os_getpid())
        pthread_mutex_init(&L.mu, NULL);
    pthread_mutex_lock(&L.mu);
    if (L.state == 0)
        read_env();
    if (L.state == 2 && L.pid != os_getpid() && open_file() != 0)
        L.state = 1; /* a forked child that cannot reopen it: off */
    if (L.state != 2 || os_file_lock(L.fd, 1) != 0) {
        pthread_mutex_unlock(&L.mu);
        return 0;
    }
    if (L.f->magic != LEDGER_MAGIC) { /* a new (zeroed) file */
        memset(L.f, 0, sizeof *L.f);
        L.f->version = LEDGER_VERSION;
        L.f->nentries = LEDGER_ENTRIES;
        __atomic_store_n(&L.f->magic, LEDGER_MAGIC, __ATOMIC_RELEASE);
    }
    return 1;
}

void ledger_unlock(void)
{
    (void)os_file_lock(L.fd, 0);
    pthread_mutex_unlock(&L.mu);
}

/* Is the owner of entry e gone?  (Under the lock.) */
static int dead(const struct ledger_entry *e)
{
    if (!os_pid_alive(e->pid))
        return 1;
    uint64_t start;
    int r = os_pid_start(e->pid, &start);
    return r == ESRCH || (r == 0 && start != e->start);
}

uint64_t ledger_others(int node)
{
    uint64_t sum = 0;
    for (int i = 0; i < LEDGER_ENTRIES; i++) {
        struct ledger_entry *e = &L.f->e[i];
        if (e->pid == 0 || e->bytes == 0 || e->node != node)
            continue;
        if (e->pid == L.pid && e->start == L.start)
            continue;
        if (dead(e)) {
            memset(e, 0, sizeof *e); /* reclaimed */
            continue;
        }
        sum += e->bytes;
    }
    return sum;
}

void ledger_publish(int node, uint64_t bytes)
{
    struct ledger_entry *free_e = NULL;
    for (int i = 0; i < LEDGER_ENTRIES; i++) {
        struct ledger_entry *e = &L.f->e[i];
        if (e->pid == L.pid && e->start == L.start && e->node == node) {
            e->bytes = bytes;
            if (bytes == 0)
                memset(e, 0, sizeof *e);
            return;
        }
        if (!free_e && (e->pid == 0 || e->bytes == 0))
            free_e = e;
    }
    if (bytes == 0)
        return;
    if (!free_e) /* full: take an entry of a dead process */
        for (int i = 0; i < LEDGER_ENTRIES && !free_e; i++)
            if (dead(&L.f->e[i]))
                free_e = &L.f->e[i];
    if (!free_e)
        return; /* 4096 live entries: this hold stays local */
    free_e->pid = L.pid;
    free_e->node = node;
    free_e->start = L.start;
    free_e->bytes = bytes;
}

NSLAB_API int nslab_capacity_set_ledger(const char *path)
{
    int e = 0;
    pthread_mutex_lock(&L.mu);
    if (L.state == 2 && L.pid == os_getpid() && os_file_lock(L.fd, 1) == 0) {
        /* Leaving the old file: withdraw this process's entries. */
        for (int i = 0; i < LEDGER_ENTRIES; i++)
            if (L.f->e[i].pid == L.pid && L.f->e[i].start == L.start)
                memset(&L.f->e[i], 0, sizeof L.f->e[i]);
        (void)os_file_lock(L.fd, 0);
    }
    close_file();
    __atomic_store_n(&L.state, 1, __ATOMIC_RELEASE);
    if (path) {
        if ((e = set_path(path)) == 0 && (e = open_file()) == 0)
            __atomic_store_n(&L.state, 2, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&L.mu);
    if (e) {
        errno = e;
        return -e;
    }
    /* Publish what this process already holds. */
    if (path)
        capacity_publish_all();
    return 0;
}
