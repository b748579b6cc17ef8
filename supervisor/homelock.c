#include "supervisor/homelock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/base/fsutil.h"

/* The pid in the lock file open as fd (read from its start), or 0. A pid
 * is written as digits and a newline; anything else reads as 0. */
static pid_t read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    if (end == buf || v <= 0 || v > INT_MAX || (*end != '\0' && *end != '\n'))
        return 0;
    return (pid_t)v;
}

static int lock_path(char *out, size_t cap, const char *home)
{
    return fs_path(out, cap, "%s/run/%s", home, HOMELOCK_FILE);
}

int homelock_take(const char *home, int *fd_out, pid_t *holder)
{
    char path[PATH_MAX], pid[32];
    int r = lock_path(path, sizeof(path), home), fd = -1;
    if (r < 0)
        goto out;
    char *slash = strrchr(path, '/');
    *slash = '\0';
    r = fs_mkdir_p(path, 0700);
    *slash = '/';
    if (r < 0)
        goto out;
    if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
        r = -errno;
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        r = errno == EWOULDBLOCK ? -EBUSY : -errno;
        if (holder)
            *holder = read_pid(fd);
        goto out;
    }
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
        r = -errno;
        goto out;
    }
    *fd_out = fd;
    fd = -1;
    r = 0;
out:
    if (fd >= 0)
        close(fd);
    return r;
}

int homelock_holder(const char *home, pid_t *pid)
{
    char path[PATH_MAX];
    int r = lock_path(path, sizeof(path), home);
    if (r < 0)
        return r;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    pid_t p = read_pid(fd);
    close(fd);
    if (p <= 0 || (kill(p, 0) < 0 && errno == ESRCH))
        return 0;
    *pid = p;
    return 1;
}
