#include "common/base/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fs_path(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (fs_path(buf, sizeof(buf), "%s", path) < 0)
        return -ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

bool fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int fs_sync_parent(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    int fd, r = 0;
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (fs_path(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path) < 0)
        return -ENAMETOOLONG;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

int fs_write_file(const char *path, const void *data, size_t len, mode_t mode, bool overwrite)
{
    char tmp[PATH_MAX];
    int fd = -1, r = 0;
    if (!overwrite && fs_exists(path))
        return -EEXIST;
    if (fs_path(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) < 0)
        return -ENAMETOOLONG;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    if (fchmod(fd, mode) < 0) { /* umask must not widen or narrow the mode */
        r = -errno;
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) < 0) {
        r = -errno;
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        goto out;
    }
    fd = -1;
    /* Without overwrite, link() fails with EEXIST if the name appeared
     * meanwhile: no check-then-rename race between two writers. */
    if (overwrite ? rename(tmp, path) < 0 : link(tmp, path) < 0)
        r = -errno;
    else if (!overwrite)
        unlink(tmp);
    if (r == 0)
        r = fs_sync_parent(path);
out:
    if (fd >= 0)
        close(fd);
    if (r < 0)
        unlink(tmp);
    return r;
}

int fs_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int r = 0;
    char *buf = NULL;
    FILE *f = fopen(path, "rbe");
    if (!f)
        return -errno;
    struct stat st;
    if (fstat(fileno(f), &st) < 0) {
        r = -errno;
        goto out;
    }
    if ((size_t)st.st_size > max) {
        r = -EFBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    size_t n = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) {
        r = -EIO;
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return r;
}
