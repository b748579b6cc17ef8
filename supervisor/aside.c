/* Moving files aside under a time-stamped name. */
#include "supervisor/aside.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/base/fsutil.h"

void aside_stamp(char out[ASIDE_STAMP_MAX])
{
    struct tm tm;
    time_t t = time(NULL);
    strftime(out, ASIDE_STAMP_MAX, "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
}

int aside_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    if (link(from, to) < 0)
        return -1;
    return unlink(from);
}

int aside_move(const char *dir, const char *name, const char *const *suffix, size_t n,
               const char *stamp)
{
    char from[PATH_MAX], to[PATH_MAX], base[PATH_MAX];
    bool any = false, taken = true;
    for (size_t i = 0; i < n && !any; i++)
        any = fs_path(from, sizeof(from), "%s/%s%s", dir, name, suffix[i]) == 0 && fs_exists(from);
    if (!any)
        return 0;
    for (int k = 0; taken && k < 100; k++) {
        if ((k ? fs_path(base, sizeof(base), "%s/%s.%s-%d.bak", dir, name, stamp, k)
               : fs_path(base, sizeof(base), "%s/%s.%s.bak", dir, name, stamp)) < 0)
            return -ENAMETOOLONG;
        taken = false;
        for (size_t i = 0; i < n && !taken; i++)
            taken = fs_path(to, sizeof(to), "%s%s", base, suffix[i]) < 0 || fs_exists(to);
    }
    if (taken)
        return -EEXIST;
    for (size_t i = 0; i < n; i++) {
        if (fs_path(from, sizeof(from), "%s/%s%s", dir, name, suffix[i]) < 0 ||
            fs_path(to, sizeof(to), "%s%s", base, suffix[i]) < 0)
            return -ENAMETOOLONG;
        if (!fs_exists(from))
            continue;
        if (aside_rename_noreplace(from, to) < 0)
            return -errno;
        printf("moved aside       %s -> %s\n", from, strrchr(to, '/') + 1);
    }
    fflush(stdout);
    return fs_sync_parent(from);
}
