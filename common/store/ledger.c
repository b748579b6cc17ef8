/* The SQLite ledger; see ledger.h and docs/ledger.md. */
#include "common/store/ledger.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <sodium.h>

#include "proto/block.h"

const char LEDGER_SQL_BASE_V1[] =
    "CREATE TABLE meta (\n"
    "  key TEXT PRIMARY KEY,\n"
    "  value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE blocks (\n"
    "  height INTEGER PRIMARY KEY,\n"
    "  hash TEXT NOT NULL UNIQUE,          -- lowercase hex\n"
    "  prev_hash TEXT NOT NULL,            -- lowercase hex\n"
    "  time TEXT NOT NULL,                 -- ISO-8601 UTC, e.g. 2026-11-25T22:50:01.123Z\n"
    "  time_ms INTEGER NOT NULL,           -- unix milliseconds\n"
    "  chain_id TEXT NOT NULL,\n"
    "  protocol_version INTEGER NOT NULL,\n"
    "  proposer TEXT NOT NULL,             -- lowercase hex Ed25519 key\n"
    "  txs_root TEXT NOT NULL,             -- lowercase hex\n"
    "  state_root TEXT NOT NULL,           -- lowercase hex\n"
    "  tx_count INTEGER NOT NULL,\n"
    "  header BLOB NOT NULL,               -- canonical header encoding\n"
    "  cert BLOB NOT NULL                  -- canonical commit certificate\n"
    ");\n"
    "CREATE TABLE commits (\n"
    "  height INTEGER NOT NULL REFERENCES blocks(height),\n"
    "  validator TEXT NOT NULL,            -- lowercase hex Ed25519 key\n"
    "  signature TEXT NOT NULL,            -- lowercase hex\n"
    "  PRIMARY KEY (height, validator)\n"
    ");\n"
    "CREATE TABLE txs (\n"
    "  id TEXT PRIMARY KEY,                -- lowercase hex\n"
    "  height INTEGER NOT NULL REFERENCES blocks(height),\n"
    "  idx INTEGER NOT NULL,\n"
    "  kind TEXT NOT NULL,\n"
    "  sender TEXT,\n"
    "  body BLOB NOT NULL,\n"
    "  UNIQUE (height, idx)\n"
    ");\n";

struct ledger {
    sqlite3 *db;
    char *path;                  /* as given to open, for messages */
    bool readonly;
    int version;                 /* user_version on disk */
    sqlite3_stmt *st_tip;        /* cached: hot path, prepared on first use */
    sqlite3_stmt *st_put_block;
    sqlite3_stmt *st_put_commit;
    sqlite3_stmt *st_get_block;
    sqlite3_stmt *st_meta_get;
    sqlite3_stmt *st_meta_set;
    sqlite3_stmt *st_has_tx;
    sqlite3_stmt *st_put_tx;
    char err[LEDGER_ERR_MAX];    /* last error message */
};

static const char SQL_TIP[] =
    "SELECT height, hash, time_ms FROM blocks ORDER BY height DESC LIMIT 1";
static const char SQL_PUT_BLOCK[] =
    "INSERT INTO blocks (height, hash, prev_hash, time, time_ms, chain_id, protocol_version,"
    " proposer, txs_root, state_root, tx_count, header, cert)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_PUT_COMMIT[] =
    "INSERT INTO commits (height, validator, signature) VALUES (?1, ?2, ?3)";
static const char SQL_GET_BLOCK[] = "SELECT hash, header, cert FROM blocks WHERE height = ?1";
static const char SQL_HAS_TX[] = "SELECT 1 FROM txs WHERE id = ?1";
static const char SQL_PUT_TX[] =
    "INSERT INTO txs (id, height, idx, kind, sender, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
static const char SQL_META_GET[] = "SELECT value FROM meta WHERE key = ?1";
static const char SQL_META_SET[] =
    "INSERT INTO meta (key, value) VALUES (?1, ?2)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value";

/* Map an SQLite result code to a negative errno at the module boundary. */
static int map_sqlite(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return 0;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return -EILSEQ;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_CONSTRAINT:
        return rc == SQLITE_CONSTRAINT_FOREIGNKEY ? -EINVAL : -EEXIST;
    default:
        return -EIO;
    }
}

static void errf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, LEDGER_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* Record "context: sqlite message" on the handle and return the mapped code. */
static int sql_fail(ledger_t *l, const char *context, int rc)
{
    int e = map_sqlite(rc);
    errf(l->err, "%s: %s", context, sqlite3_errmsg(l->db));
    return e != 0 ? e : -EIO;
}

/* Run one statement that returns at most one integer. */
static int query_int(ledger_t *l, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db, sql, -1, &st, NULL);
    int val = 0;

    if (rc != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        val = sqlite3_column_int(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    if (rc != SQLITE_OK)
        rc = sql_fail(l, sql, rc);
    else
        *out = val;
    sqlite3_finalize(st);
    return rc;
}

/* Run PRAGMA quick_check and refuse anything but a single "ok" row. */
static int check_integrity(ledger_t *l)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db, "PRAGMA quick_check", -1, &st, NULL);

    if (rc != SQLITE_OK) {
        rc = sql_fail(l, "PRAGMA quick_check", rc);
        goto out;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = sql_fail(l, "PRAGMA quick_check", rc);
        if (rc == 0)
            rc = -EIO;
        goto out;
    }
    const char *first = (const char *)sqlite3_column_text(st, 0);
    if (first == NULL || strcmp(first, "ok") != 0) {
        /* SQLite may put several problems in one row, one per line, after a
         * "*** in database main ***" line: report the first problem only. */
        const char *p = first != NULL ? first : "(no result)";
        if (strncmp(p, "*** ", 4) == 0 && strchr(p, '\n') != NULL)
            p = strchr(p, '\n') + 1;
        int n = (int)strcspn(p, "\n");
        errf(l->err, "%s: integrity check failed: %.*s; restore a backup", l->path, n, p);
        rc = -EILSEQ;
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

static int schema_validate(const ledger_schema_t *schema, char *err)
{
    if (schema == NULL || schema->n == 0 || schema->migrations == NULL) {
        errf(err, "ledger schema has no migrations");
        return -EINVAL;
    }
    for (size_t i = 0; i < schema->n; i++) {
        if (schema->migrations[i].version != (int)i + 1 || schema->migrations[i].sql == NULL) {
            errf(err, "ledger schema: migration %zu has version %d, expected %zu", i,
                 schema->migrations[i].version, i + 1);
            return -EINVAL;
        }
    }
    return 0;
}

/* Apply one migration in its own transaction, with the version bump inside it. */
static int apply_migration(ledger_t *l, const ledger_migration_t *m)
{
    char bump[64];
    char ctx[96];
    int rc = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    snprintf(ctx, sizeof ctx, "%s: migration %d", l->path, m->version);
    if (rc != SQLITE_OK) {
        rc = sql_fail(l, ctx, rc);
        goto out;
    }
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", m->version);
    rc = sqlite3_exec(l->db, m->sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(l->db, bump, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = sql_fail(l, ctx, rc);
        if (!sqlite3_get_autocommit(l->db))
            sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        goto out;
    }
    l->version = m->version;
    rc = 0;
out:
    return rc;
}

/* Switch to WAL and verify SQLite agreed: it answers with the mode now in force. */
static int set_wal(ledger_t *l)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(l->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);

    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        rc = sql_fail(l, "PRAGMA journal_mode = WAL", rc);
        if (rc == 0)
            rc = -EIO;
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        errf(l->err, "%s: cannot use WAL journal mode (SQLite kept \"%s\")", l->path,
             mode != NULL ? mode : "?");
        rc = -EIO;
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Open l->db on path (or, if immutable, on a URI that tells SQLite the file
 * cannot change, so it takes no locks and creates no -wal or -shm file). */
static int connect_db(ledger_t *l, const char *path, int flags, bool immutable, char *err)
{
    static const char HEX[] = "0123456789ABCDEF";
    char *uri = NULL;
    const char *name = path;
    int rc;

    if (immutable) {
        /* Percent-encode everything but plain path characters. */
        size_t n = strlen(path);
        uri = malloc(5 + 3 * n + sizeof "?immutable=1");
        if (uri == NULL) {
            errf(err, "%s: out of memory", path);
            return -ENOMEM;
        }
        char *q = stpcpy(uri, "file:");
        for (const unsigned char *c = (const unsigned char *)path; *c != '\0'; c++) {
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                (*c >= '0' && *c <= '9') || strchr("/._-~", *c) != NULL) {
                *q++ = (char)*c;
            } else {
                *q++ = '%';
                *q++ = HEX[*c >> 4];
                *q++ = HEX[*c & 15];
            }
        }
        strcpy(q, "?immutable=1");
        name = uri;
        flags |= SQLITE_OPEN_URI;
    }
    rc = sqlite3_open_v2(name, &l->db, flags, NULL);
    if (rc != SQLITE_OK) {
        errf(err, "%s: cannot open: %s", path,
             l->db != NULL ? sqlite3_errmsg(l->db) : sqlite3_errstr(rc));
        rc = map_sqlite(rc);
        goto out;
    }
    sqlite3_extended_result_codes(l->db, 1);
    sqlite3_busy_timeout(l->db, 5000);
    rc = 0;
out:
    free(uri);
    return rc;
}

/* Refuse, reading only: a file that is not a database, a newer schema, a
 * damaged file, a database adnet did not make, and (read-only) an older
 * schema. Sets l->version. */
static int refuse_unusable(ledger_t *l, bool nonempty, int latest, char *err)
{
    const char *path = l->path;
    int objects = 0;
    int rc = query_int(l, "PRAGMA user_version", &l->version);

    if (rc == -EILSEQ) {
        errf(err, "%s: not a usable SQLite database (%s); restore a backup or move it aside",
             path, sqlite3_errmsg(l->db));
        goto out;
    }
    if (rc != 0) {
        errf(err, "%s: %s", path, l->err);
        goto out;
    }
    if (l->version > latest) {
        errf(err,
             "%s: schema version %d is newer than this binary's %d; "
             "upgrade adnet or restore a matching backup",
             path, l->version, latest);
        rc = -EPROTO;
        goto out;
    }
    if (nonempty) {
        rc = check_integrity(l);
        if (rc != 0) {
            if (rc == -EILSEQ && strstr(l->err, "integrity check failed") == NULL)
                errf(err, "%s: damaged database (%s); restore a backup", path,
                     sqlite3_errmsg(l->db));
            else
                errf(err, "%s", l->err);
            goto out;
        }
    }
    /* A database with tables but no schema version was not made by adnet:
     * migrating it would mix two applications' tables. */
    if (l->version == 0) {
        rc = query_int(l, "SELECT count(*) FROM sqlite_schema", &objects);
        if (rc != 0) {
            errf(err, "%s", l->err);
            goto out;
        }
        if (objects > 0) {
            errf(err, "%s: a SQLite database with tables but no adnet schema version; "
                      "not an adnet ledger",
                 path);
            rc = -EPROTO;
            goto out;
        }
    }
    if (l->readonly && l->version < latest) {
        errf(err,
             "%s: schema version %d needs migration to %d; start the node once to migrate it",
             path, l->version, latest);
        rc = -EPROTO;
        goto out;
    }
    rc = 0;
out:
    return rc;
}

/* The shared part of both opens: connect, then refuse an unusable file
 * before anything is written. A read-only connection to a WAL file would
 * create -wal and -shm files that it cannot remove on close, so when no
 * -wal exists yet (no writer is running) the checks run on an immutable
 * connection first and a refused file is left exactly as it was. */
static int open_common(ledger_t **out, const char *path, const ledger_schema_t *schema,
                       bool readonly, char *err)
{
    ledger_t *l = NULL;
    struct stat sb;
    bool existed = stat(path, &sb) == 0;
    bool nonempty = existed && sb.st_size > 0;
    int flags = SQLITE_OPEN_NOMUTEX |
                (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    int latest;
    int rc = schema_validate(schema, err);

    if (rc != 0)
        goto out;
    latest = schema->migrations[schema->n - 1].version;
    if (readonly && !existed) {
        errf(err, "%s: no ledger here; start the node once to create it", path);
        rc = -ENOENT;
        goto out;
    }
    l = calloc(1, sizeof *l);
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        errf(err, "%s: out of memory", path);
        rc = -ENOMEM;
        goto out;
    }
    l->readonly = readonly;
    if (readonly) {
        char wal[PATH_MAX];
        struct stat wsb;
        if ((size_t)snprintf(wal, sizeof wal, "%s-wal", path) < sizeof wal &&
            stat(wal, &wsb) != 0 && errno == ENOENT) {
            rc = connect_db(l, path, flags, true, err);
            if (rc == 0)
                rc = refuse_unusable(l, nonempty, latest, err);
            sqlite3_close_v2(l->db);
            l->db = NULL;
            if (rc != 0)
                goto out;
            nonempty = false; /* checked; the real connection only re-reads the version */
        }
    }
    rc = connect_db(l, path, flags, false, err);
    if (rc == 0)
        rc = refuse_unusable(l, nonempty, latest, err);
    if (rc != 0)
        goto out;
    *out = l;
    l = NULL;
out:
    ledger_close(l);
    return rc;
}

int ledger_open(ledger_t **out, const char *path, const ledger_schema_t *schema,
                char err[LEDGER_ERR_MAX])
{
    ledger_t *l = NULL;
    int rc = open_common(&l, path, schema, false, err);

    if (rc != 0)
        goto out;
    rc = set_wal(l);
    if (rc == 0 && sqlite3_exec(l->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
        rc = sql_fail(l, "PRAGMA synchronous = FULL", sqlite3_errcode(l->db));
    if (rc == 0 && sqlite3_exec(l->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) != SQLITE_OK)
        rc = sql_fail(l, "PRAGMA foreign_keys = ON", sqlite3_errcode(l->db));
    /* The writer is the only one writing, so its page cache stays valid
     * from block to block: give it room (64 MiB) instead of re-reading
     * pages with pread. */
    if (rc == 0 && sqlite3_exec(l->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL) != SQLITE_OK)
        rc = sql_fail(l, "PRAGMA cache_size", sqlite3_errcode(l->db));
    for (size_t i = 0; rc == 0 && i < schema->n; i++)
        if (schema->migrations[i].version > l->version)
            rc = apply_migration(l, &schema->migrations[i]);
    if (rc != 0) {
        errf(err, "%s", l->err);
        goto out;
    }
    *out = l;
    l = NULL;
out:
    ledger_close(l);
    return rc;
}

int ledger_open_readonly(ledger_t **out, const char *path, const ledger_schema_t *schema,
                         char err[LEDGER_ERR_MAX])
{
    return open_common(out, path, schema, true, err);
}

void ledger_close(ledger_t *l)
{
    if (l == NULL)
        return;
    sqlite3_finalize(l->st_tip);
    sqlite3_finalize(l->st_put_block);
    sqlite3_finalize(l->st_put_commit);
    sqlite3_finalize(l->st_get_block);
    sqlite3_finalize(l->st_meta_get);
    sqlite3_finalize(l->st_meta_set);
    sqlite3_finalize(l->st_has_tx);
    sqlite3_finalize(l->st_put_tx);
    sqlite3_close_v2(l->db);
    free(l->path);
    free(l);
}

sqlite3 *ledger_db(ledger_t *l)
{
    return l->db;
}

const char *ledger_errmsg(const ledger_t *l)
{
    return l->err;
}

int ledger_schema_version(ledger_t *l)
{
    return l->version;
}

/* Return the cached statement for sql in *slot, preparing it on first use;
 * a cached statement is reset and its bindings cleared before it is handed out. */
static int stmt(ledger_t *l, sqlite3_stmt **slot, const char *sql, sqlite3_stmt **out)
{
    int rc;

    if (*slot == NULL) {
        rc = sqlite3_prepare_v3(l->db, sql, -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK)
            return sql_fail(l, "prepare", rc);
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    *out = *slot;
    return 0;
}

int ledger_column_hex(sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    const char *hex = (const char *)sqlite3_column_text(st, col);
    size_t got = 0;
    if (hex == NULL || (size_t)sqlite3_column_bytes(st, col) != 2 * n ||
        sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, NULL) != 0 || got != n)
        return -EBADMSG;
    return 0;
}

/* ledger_column_hex, with the message kept on the handle. */
static int column_hex(ledger_t *l, sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    if (ledger_column_hex(st, col, out, n) < 0) {
        errf(l->err, "%s: column %s is not %zu bytes of hex", l->path,
             sqlite3_column_name(st, col), n);
        return -EBADMSG;
    }
    return 0;
}

int ledger_meta_get(ledger_t *l, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *st;
    int rc = stmt(l, &l->st_meta_get, SQL_META_GET, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        errf(l->err, "meta: no key \"%s\"", key);
        rc = -ENOENT;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = sql_fail(l, "meta get", rc);
        goto out;
    }
    const char *v = (const char *)sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (v == NULL)
        v = "";
    if (n >= cap) {
        errf(l->err, "meta: value of \"%s\" is %zu bytes, buffer holds %zu", key, n,
             cap > 0 ? cap - 1 : 0);
        rc = -ENOBUFS;
        goto out;
    }
    memcpy(out, v, n);
    out[n] = '\0';
    rc = 0;
out:
    sqlite3_reset(st);
    return rc;
}

int ledger_meta_set(ledger_t *l, const char *key, const char *value)
{
    sqlite3_stmt *st;
    int rc = stmt(l, &l->st_meta_set, SQL_META_SET, &st);

    if (rc != 0)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : sql_fail(l, "meta set", rc);
    sqlite3_reset(st);
    return rc;
}

int ledger_tip(ledger_t *l, ledger_tip_t *out)
{
    sqlite3_stmt *st;
    ledger_tip_t t;
    int rc = stmt(l, &l->st_tip, SQL_TIP, &st);

    if (rc != 0)
        return rc;
    memset(&t, 0, sizeof t);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t.height = (uint64_t)sqlite3_column_int64(st, 0);
        t.time_ms = (uint64_t)sqlite3_column_int64(st, 2);
        rc = column_hex(l, st, 1, t.hash, sizeof t.hash);
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        rc = sql_fail(l, "tip", rc);
    }
    sqlite3_reset(st);
    if (rc == 0)
        *out = t;
    return rc;
}

int ledger_begin(ledger_t *l)
{
    int rc;

    if (l->readonly) {
        errf(l->err, "ledger_begin: the ledger is open read-only");
        return -EROFS;
    }
    if (!sqlite3_get_autocommit(l->db)) {
        errf(l->err, "ledger_begin: a transaction is already open");
        return -EINVAL;
    }
    rc = sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(l, "BEGIN IMMEDIATE", rc);
}

int ledger_commit(ledger_t *l)
{
    int rc = sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sql_fail(l, "COMMIT", rc);
}

void ledger_rollback(ledger_t *l)
{
    if (!sqlite3_get_autocommit(l->db))
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Format unix milliseconds as 2026-11-25T22:50:01.123Z into out[32]. */
static int format_time(uint64_t ms, char out[32])
{
    struct tm tm;
    time_t secs;

    /* Year 9999 ends before 253402300800 s; past that ISO-8601 needs more digits. */
    if (ms / 1000 >= 253402300800ULL)
        return -EINVAL;
    secs = (time_t)(ms / 1000);
    if (gmtime_r(&secs, &tm) == NULL)
        return -EINVAL;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n > 32 - 6)
        return -EINVAL;
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
    return 0;
}

void ledger_bind_hex(sqlite3_stmt *st, int col, const uint8_t *bin, size_t n)
{
    char hex[2 * BLOCK_SIG_LEN + 1];
    if (n > BLOCK_SIG_LEN) {
        sqlite3_bind_null(st, col);
        return;
    }
    sodium_bin2hex(hex, sizeof hex, bin, n);
    sqlite3_bind_text(st, col, hex, (int)(2 * n), SQLITE_TRANSIENT);
}

int ledger_put_block(ledger_t *l, const block_header_t *h, const uint8_t hash[BLOCK_HASH_LEN],
                     const commit_cert_t *cert)
{
    uint8_t henc[BLOCK_HEADER_MAX];
    uint8_t cenc[COMMIT_CERT_MAX];
    uint8_t want[BLOCK_HASH_LEN];
    size_t hlen, clen;
    char when[32];
    const char *what = "";
    ledger_tip_t tip;
    sqlite3_stmt *st;
    int rc;

    if (sqlite3_get_autocommit(l->db)) {
        errf(l->err, "ledger_put_block: no transaction open (call ledger_begin)");
        return -EINVAL;
    }
    if (block_header_check(h, &what) != 0) {
        errf(l->err, "block %llu: bad header: %s", (unsigned long long)h->height, what);
        return -EINVAL;
    }
    if (h->height > INT64_MAX || h->time_ms > INT64_MAX || format_time(h->time_ms, when) != 0) {
        errf(l->err, "block %llu: height or time_ms out of range", (unsigned long long)h->height);
        return -EINVAL;
    }
    rc = block_header_encode(h, henc, sizeof henc, &hlen);
    if (rc == 0)
        rc = block_header_hash(h, want);
    if (rc != 0) {
        errf(l->err, "block %llu: cannot encode header", (unsigned long long)h->height);
        return rc;
    }
    if (sodium_memcmp(want, hash, BLOCK_HASH_LEN) != 0) {
        errf(l->err, "block %llu: hash does not match the header", (unsigned long long)h->height);
        return -EINVAL;
    }
    if (cert->height != h->height || memcmp(cert->block_hash, hash, BLOCK_HASH_LEN) != 0) {
        errf(l->err, "block %llu: commit certificate is for another block",
             (unsigned long long)h->height);
        return -EINVAL;
    }
    rc = commit_cert_encode(cert, cenc, sizeof cenc, &clen);
    if (rc != 0) {
        errf(l->err, "block %llu: cannot encode commit certificate (count or order)",
             (unsigned long long)h->height);
        return rc;
    }
    rc = ledger_tip(l, &tip);
    if (rc != 0)
        return rc;
    if (h->height != tip.height + 1) {
        errf(l->err, "block %llu does not follow the tip at height %llu",
             (unsigned long long)h->height, (unsigned long long)tip.height);
        return -EINVAL;
    }
    if (tip.height > 0 && memcmp(h->prev_hash, tip.hash, BLOCK_HASH_LEN) != 0) {
        char a[2 * BLOCK_HASH_LEN + 1], b[2 * BLOCK_HASH_LEN + 1];
        sodium_bin2hex(a, sizeof a, h->prev_hash, BLOCK_HASH_LEN);
        sodium_bin2hex(b, sizeof b, tip.hash, BLOCK_HASH_LEN);
        errf(l->err, "block %llu: prev_hash %s is not the tip's hash %s (fork)",
             (unsigned long long)h->height, a, b);
        return -EINVAL;
    }

    rc = stmt(l, &l->st_put_block, SQL_PUT_BLOCK, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)h->height);
    ledger_bind_hex(st, 2, hash, BLOCK_HASH_LEN);
    ledger_bind_hex(st, 3, h->prev_hash, BLOCK_HASH_LEN);
    sqlite3_bind_text(st, 4, when, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)h->time_ms);
    sqlite3_bind_text(st, 6, h->chain_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, h->protocol_version);
    ledger_bind_hex(st, 8, h->proposer, BLOCK_KEY_LEN);
    ledger_bind_hex(st, 9, h->txs_root, BLOCK_HASH_LEN);
    ledger_bind_hex(st, 10, h->state_root, BLOCK_HASH_LEN);
    sqlite3_bind_int64(st, 11, h->tx_count);
    sqlite3_bind_blob(st, 12, henc, (int)hlen, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 13, cenc, (int)clen, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? 0 : sql_fail(l, "insert block", rc);
    sqlite3_reset(st);
    if (rc != 0)
        return rc;

    rc = stmt(l, &l->st_put_commit, SQL_PUT_COMMIT, &st);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; rc == 0 && i < cert->n_sigs; i++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, (sqlite3_int64)h->height);
        ledger_bind_hex(st, 2, cert->sigs[i].validator, BLOCK_KEY_LEN);
        ledger_bind_hex(st, 3, cert->sigs[i].sig, BLOCK_SIG_LEN);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? 0 : sql_fail(l, "insert commit", rc);
    }
    sqlite3_reset(st);
    return rc;
}

int ledger_get_block(ledger_t *l, uint64_t height, block_header_t *h,
                     uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *cert)
{
    block_header_t th;
    commit_cert_t *tc = NULL;
    uint8_t thash[BLOCK_HASH_LEN];
    const char *what = "";
    sqlite3_stmt *st;
    int rc;

    if (height > INT64_MAX) {
        errf(l->err, "no block at height %llu", (unsigned long long)height);
        return -ENOENT;
    }
    rc = stmt(l, &l->st_get_block, SQL_GET_BLOCK, &st);
    if (rc != 0)
        return rc;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)height);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        errf(l->err, "no block at height %llu", (unsigned long long)height);
        rc = -ENOENT;
        goto out;
    }
    if (rc != SQLITE_ROW) {
        rc = sql_fail(l, "get block", rc);
        goto out;
    }
    rc = column_hex(l, st, 0, thash, sizeof thash);
    if (rc != 0)
        goto out;
    rc = block_header_decode(&th, sqlite3_column_blob(st, 1),
                             (size_t)sqlite3_column_bytes(st, 1), &what);
    if (rc == 0 && th.height != height) {
        what = "height";
        rc = -EBADMSG;
    }
    if (rc != 0) {
        errf(l->err, "block %llu: stored header is malformed (%s)", (unsigned long long)height,
             what);
        rc = -EBADMSG;
        goto out;
    }
    if (cert != NULL) {
        tc = malloc(sizeof *tc);
        if (tc == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        rc = commit_cert_decode(tc, sqlite3_column_blob(st, 2),
                                (size_t)sqlite3_column_bytes(st, 2), &what);
        if (rc != 0) {
            errf(l->err, "block %llu: stored certificate is malformed (%s)",
                 (unsigned long long)height, what);
            rc = -EBADMSG;
            goto out;
        }
    }
    if (h != NULL)
        *h = th;
    if (hash != NULL)
        memcpy(hash, thash, BLOCK_HASH_LEN);
    if (cert != NULL)
        *cert = *tc;
    rc = 0;
out:
    sqlite3_reset(st);
    free(tc);
    return rc;
}

int ledger_has_tx(ledger_t *l, const uint8_t id[32])
{
    sqlite3_stmt *st;
    int rc = stmt(l, &l->st_has_tx, SQL_HAS_TX, &st);
    if (rc < 0)
        return rc;
    ledger_bind_hex(st, 1, id, 32);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sql_fail(l, "has_tx", rc);
}

int ledger_put_tx(ledger_t *l, const uint8_t id[32], uint64_t height, uint32_t idx,
                  const char *kind, const uint8_t sender[BLOCK_KEY_LEN], const uint8_t *body,
                  size_t len)
{
    sqlite3_stmt *st;
    int rc;
    if (sqlite3_get_autocommit(l->db)) {
        errf(l->err, "ledger_put_tx: no transaction is open");
        return -EINVAL;
    }
    if (height > INT64_MAX || len > INT32_MAX) {
        errf(l->err, "ledger_put_tx: height or size out of range");
        return -EINVAL;
    }
    if ((rc = stmt(l, &l->st_put_tx, SQL_PUT_TX, &st)) < 0)
        return rc;
    ledger_bind_hex(st, 1, id, 32);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)height);
    sqlite3_bind_int64(st, 3, idx);
    sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
    ledger_bind_hex(st, 5, sender, BLOCK_KEY_LEN);
    sqlite3_bind_blob(st, 6, body, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sql_fail(l, "put_tx", rc);
}
