/* Online ledger copies (SQLite backup API) and file digests. */
#include "common/store/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/fsutil.h"
#include "common/store/ledger.h"

#define SRC_BUSY_MS 5000 /* an exclusive lock on the source is waited for this long */

void backup_errf(char err[BACKUP_ERR_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BACKUP_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* A SQLite result code as a negative errno. */
static int map_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_CANTOPEN: return -ENOENT;
    case SQLITE_NOTADB: case SQLITE_CORRUPT: return -EILSEQ;
    default: return -EIO;
    }
}

/* Open the source read-only and take the read transaction the whole copy
 * reads from. Return 0 and *out, or -errno with err. */
static int open_source(const char *src, sqlite3 **out, char err[BACKUP_ERR_MAX])
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(src, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, SRC_BUSY_MS);
        rc = sqlite3_exec(db, "BEGIN; SELECT count(*) FROM sqlite_schema;", NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        backup_errf(err, "%s: cannot read the ledger: %s", src, db ? sqlite3_errmsg(db)
                                                            : sqlite3_errstr(rc));
        sqlite3_close(db);
        return map_sqlite(rc);
    }
    *out = db;
    return 0;
}

/* Copy every page of src into dst in steps, reporting progress; then
 * leave dst a rollback-journal file with nothing beside it. */
static int copy_pages(sqlite3 *src, sqlite3 *dst, const char *dst_path,
                      backup_progress_fn progress, void *arg, char err[BACKUP_ERR_MAX])
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int rc;

    if (!b) {
        backup_errf(err, "%s: cannot start the copy: %s", dst_path, sqlite3_errmsg(dst));
        return map_sqlite(sqlite3_errcode(dst));
    }
    do {
        rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
        if (progress && (rc == SQLITE_OK || rc == SQLITE_DONE))
            progress(arg, (uint64_t)(sqlite3_backup_pagecount(b) - sqlite3_backup_remaining(b)),
                     (uint64_t)sqlite3_backup_pagecount(b));
    } while (rc == SQLITE_OK);
    sqlite3_backup_finish(b);
    if (rc == SQLITE_DONE)
        rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE;", NULL, NULL, NULL);
    if (rc != SQLITE_DONE && rc != SQLITE_OK) {
        backup_errf(err, "%s: copy failed: %s", dst_path, rc == SQLITE_FULL
                 ? "the disk is full" : sqlite3_errmsg(dst));
        return map_sqlite(rc);
    }
    return 0;
}

int backup_ledger(const char *src, const char *dst, backup_progress_fn progress, void *arg,
                  char err[BACKUP_ERR_MAX])
{
    sqlite3 *s = NULL, *d = NULL;
    int rc, fd;

    if (!fs_exists(src)) {
        backup_errf(err, "%s: no ledger there", src);
        return -ENOENT;
    }
    if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        rc = -errno;
        backup_errf(err, "%s: %s", dst, strerror(-rc));
        return rc;
    }
    close(fd);
    if ((rc = open_source(src, &s, err)) < 0)
        goto out;
    if ((rc = sqlite3_open_v2(dst, &d, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL))
        != SQLITE_OK) {
        backup_errf(err, "%s: cannot open the copy: %s", dst, d ? sqlite3_errmsg(d) : "out of memory");
        rc = map_sqlite(rc);
        goto out;
    }
    sqlite3_exec(d, "PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    if ((rc = copy_pages(s, d, dst, progress, arg, err)) < 0)
        goto out;
    if ((rc = sqlite3_close(d)) != SQLITE_OK) {
        backup_errf(err, "%s: cannot close the copy: %s", dst, sqlite3_errstr(rc));
        rc = map_sqlite(rc);
        goto out;
    }
    d = NULL;
    if ((rc = fs_sync_parent(dst)) < 0)
        backup_errf(err, "%s: cannot sync its folder: %s", dst, strerror(-rc));
out:
    sqlite3_close(d);
    if (s)
        sqlite3_exec(s, "COMMIT;", NULL, NULL, NULL);
    sqlite3_close(s);
    if (rc < 0) {
        char side[4096];
        if (snprintf(side, sizeof side, "%s-journal", dst) < (int)sizeof side)
            unlink(side);
        unlink(dst);
    }
    return rc;
}

/* meta key of db into out[cap]. */
static int meta_get(sqlite3 *db, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
    const unsigned char *v;

    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && (v = sqlite3_column_text(st, 0)) != NULL &&
        strlen((const char *)v) < cap) {
        memcpy(out, v, strlen((const char *)v) + 1);
        rc = 0;
    } else {
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? -EILSEQ : map_sqlite(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int backup_ledger_info(const char *path, backup_ledger_info_t *out, char err[BACKUP_ERR_MAX])
{
    backup_ledger_info_t info;
    ledger_peek_t peek;
    char lerr[LEDGER_ERR_MAX];
    sqlite3 *db = NULL;
    int rc = ledger_peek(path, 0, &peek, lerr);

    memset(&info, 0, sizeof info);
    if (rc < 0) {
        backup_errf(err, "%s", lerr);
        goto out;
    }
    if (!peek.exists || !peek.has_genesis) {
        backup_errf(err, "%s: %s", path, peek.exists ? "not a ledger with a genesis state" : "missing");
        rc = peek.exists ? -EILSEQ : -ENOENT;
        goto out;
    }
    info.height = peek.tip.height;
    memcpy(info.block_hash, peek.tip.hash, BLOCK_HASH_LEN);
    rc = map_sqlite(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL));
    if (rc == 0 && (rc = meta_get(db, "chain_id", info.chain_id, sizeof info.chain_id)) == 0)
        rc = meta_get(db, "genesis_hash", info.genesis_hash, sizeof info.genesis_hash);
    if (rc < 0)
        backup_errf(err, "%s: cannot read its chain id and genesis hash: %s", path,
             db ? sqlite3_errmsg(db) : "out of memory");
out:
    sqlite3_close(db);
    if (rc == 0)
        *out = info;
    return rc;
}

int backup_file_digest(const char *path, uint8_t out[BACKUP_DIGEST_LEN], uint64_t *size,
                       char err[BACKUP_ERR_MAX])
{
    crypto_generichash_state st;
    unsigned char buf[64 * 1024];
    uint64_t n = 0;
    ssize_t got;
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        rc = -errno;
        backup_errf(err, "%s: %s", path, strerror(-rc));
        return rc;
    }
    crypto_generichash_init(&st, NULL, 0, BACKUP_DIGEST_LEN);
    while ((got = read(fd, buf, sizeof buf)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -errno;
            backup_errf(err, "%s: cannot read: %s", path, strerror(-rc));
            goto out;
        }
        crypto_generichash_update(&st, buf, (size_t)got);
        n += (uint64_t)got;
    }
    crypto_generichash_final(&st, out, BACKUP_DIGEST_LEN);
    *size = n;
out:
    close(fd);
    return rc;
}
