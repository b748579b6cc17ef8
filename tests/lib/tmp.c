#include "tests/lib/tmp.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tmp_make(char *dir, size_t cap, const char *tag)
{
    char path[TMP_PATH_MAX];
    const char *base = getenv("TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    int n = snprintf(path, sizeof path, "%s/adnet-%s-XXXXXX", base, tag);
    if (n < 0 || (size_t)n >= sizeof path || (size_t)n >= cap)
        return -ENAMETOOLONG;
    if (mkdtemp(path) == NULL)
        return -errno;
    memcpy(dir, path, (size_t)n + 1);
    return 0;
}

/* nftw hands its callback no context: the first failure is kept here. */
static int remove_failure;

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    int r = type == FTW_DP ? rmdir(path) : unlink(path);
    if (r != 0 && errno != ENOENT && remove_failure == 0)
        remove_failure = -errno;
    return 0;
}

int tmp_remove(const char *path)
{
    remove_failure = 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return errno == ENOENT ? 0 : -errno;
    return remove_failure;
}

int tmp_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    if (dl + 1 + nl + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, dir, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, name, nl + 1);
    return 0;
}

static void make_or_fail(char dir[TMP_PATH_MAX], const char *tag)
{
    char full[64];
    snprintf(full, sizeof full, "test-%s", tag);
    int r = tmp_make(dir, TMP_PATH_MAX, full);
    ck_assert_msg(r == 0, "cannot make a temporary directory for %s: %s", tag, strerror(-r));
}

static void remove_or_fail(const char *dir)
{
    int r = tmp_remove(dir);
    ck_assert_msg(r == 0, "cannot remove %s: %s", dir, strerror(-r));
}

void tmp_dir_init(tmp_dir_t *t, const char *tag)
{
    make_or_fail(t->dir, tag);
}

char *tmp_dir_path(const tmp_dir_t *t, const char *name, char out[TMP_PATH_MAX])
{
    ck_assert_msg(tmp_join(out, TMP_PATH_MAX, t->dir, name) == 0, "%s/%s is too long", t->dir,
                  name);
    return out;
}

void tmp_dir_cleanup(const tmp_dir_t *t)
{
    remove_or_fail(t->dir);
}

void tmp_ledger_init(tmp_ledger_t *t, const char *tag)
{
    make_or_fail(t->dir, tag);
    ck_assert_int_eq(tmp_join(t->db, sizeof t->db, t->dir, "ledger.db"), 0);
    ck_assert_int_eq(tmp_join(t->genesis, sizeof t->genesis, t->dir, "genesis.json"), 0);
    snprintf(t->wal, sizeof t->wal, "%s-wal", t->db);
    snprintf(t->shm, sizeof t->shm, "%s-shm", t->db);
}

void tmp_ledger_cleanup(const tmp_ledger_t *t)
{
    remove_or_fail(t->dir);
}
