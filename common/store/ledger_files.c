/* The identity of a ledger's files; see ledger_files.h. */
#include "common/store/ledger_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/fsutil.h"

static const char *const SUFFIX[LEDGER_FILES_N] = { "", "-wal", "-shm" };

/* Look at name i: remember the file it holds if none is known yet. */
static int look(ledger_files_t *f, size_t i, struct stat *sb, char *why)
{
    if (stat(f->path[i], sb) == 0) {
        if (!f->known[i]) {
            f->known[i] = true;
            f->dev[i] = sb->st_dev;
            f->ino[i] = sb->st_ino;
        }
        return 0;
    }
    int e = errno;
    if (e == ENOENT && !f->known[i])
        return 1; /* not made yet: nothing to watch */
    if (e == ENOENT)
        snprintf(why, LEDGER_FILES_WHY_MAX, "%s was deleted while the node had it open",
                 f->path[i]);
    else
        snprintf(why, LEDGER_FILES_WHY_MAX, "%s cannot be looked at: %s", f->path[i],
                 strerror(e));
    return e == ENOENT ? -ESTALE : -EACCES;
}

int ledger_files_init(ledger_files_t *f, const char *db_path, char why[LEDGER_FILES_WHY_MAX])
{
    struct stat sb;
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < LEDGER_FILES_N; i++) {
        if (fs_path(f->path[i], sizeof f->path[i], "%s%s", db_path, SUFFIX[i]) < 0) {
            snprintf(why, LEDGER_FILES_WHY_MAX, "%s: path too long", db_path);
            return -ENAMETOOLONG;
        }
        int r = look(f, i, &sb, why);
        if (r < 0)
            return r;
    }
    return 0;
}

int ledger_files_check(ledger_files_t *f, char why[LEDGER_FILES_WHY_MAX])
{
    struct stat sb;
    for (size_t i = 0; i < LEDGER_FILES_N; i++) {
        int r = look(f, i, &sb, why);
        if (r > 0)
            continue;
        if (r < 0)
            return r;
        if (sb.st_dev != f->dev[i] || sb.st_ino != f->ino[i]) {
            snprintf(why, LEDGER_FILES_WHY_MAX,
                     "%s is not the file the node opened any more (it was deleted or replaced)",
                     f->path[i]);
            return -ESTALE;
        }
        if (access(f->path[i], R_OK | W_OK) != 0) {
            snprintf(why, LEDGER_FILES_WHY_MAX, "%s cannot be read and written any more: %s",
                     f->path[i], strerror(errno));
            return -EACCES;
        }
    }
    return 0;
}
