/*
 * topology/procfile.c - the OS verbs of the machine-wide capacity ledger
 * (arena/region/ledger.c): a small shared file, locked with flock(2) (the
 * kernel drops the lock of a process that dies, so a crash never leaves
 * it held), and process identity (pid + start time from /proc/<pid>/stat,
 * so a reused pid is not taken for the dead owner of an entry).
 * Contract as os.c: 0 or a positive errno.  No allocation.
 */
#include "os.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int os_shared_file_map(const char *path, size_t size, int *fd_out, void **map_out)
{
    int saved = errno, e = 0;
    int fd;
    do
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        e = errno;
        errno = saved;
        return e;
    }
    (void)fchmod(fd, 0666); /* umask: every user's processes share it */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        e = S_ISREG(st.st_mode) ? errno : EINVAL;
        goto out;
    }
    /* Growing from 0 is safe under the lock: a zeroed file is empty. */
    if ((size_t)st.st_size < size && ftruncate(fd, (off_t)size) != 0) {
        e = errno;
        goto out;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        e = errno;
        goto out;
    }
    *fd_out = fd;
    *map_out = m;
    errno = saved;
    return 0;
out:
    close(fd);
    errno = saved;
    return e;
}

int os_file_lock(int fd, int exclusive)
{
    int saved = errno, r;
    do
        r = flock(fd, exclusive ? LOCK_EX : LOCK_UN);
    while (r != 0 && errno == EINTR);
    int e = r ? errno : 0;
    errno = saved;
    return e;
}

int os_getpid(void)
{
    return (int)getpid();
}

int os_pid_start(int pid, uint64_t *start)
{
    char path[64], buf[1024];
    struct text_path p;
    text_path_init(&p, path, sizeof path);
    text_path_str(&p, "/proc/");
    text_path_uint(&p, (unsigned long)pid);
    text_path_str(&p, "/stat");
    long n = os_read_file(path, buf, sizeof buf);
    if (n < 0)
        return n == -ENOENT ? ESRCH : (int)-n;
    /* Field 22 (starttime); the comm field (2) may hold spaces and ')':
     * count from the last ')'. */
    const char *s = buf, *close_paren = NULL;
    for (const char *q = buf; *q; q++)
        if (*q == ')')
            close_paren = q;
    if (!close_paren)
        return EIO;
    s = close_paren + 1;
    /* After ')' token 0 is field 3 (state): skip 19 tokens to field 22. */
    for (int tok = 0; tok < 19; tok++) {
        while (*s == ' ')
            s++;
        while (*s && *s != ' ')
            s++;
        if (!*s)
            return EIO;
    }
    while (*s == ' ')
        s++;
    uint64_t v;
    if (text_parse_u64(&s, &v) != 0)
        return EIO;
    *start = v;
    return 0;
}

int os_pid_alive(int pid)
{
    int saved = errno;
    int r = kill(pid, 0);
    int alive = r == 0 || errno == EPERM;
    errno = saved;
    return alive;
}
