/* The SQLite ledger; see ledger.h and docs/ledger.md. */
#include "common/store/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/base/clock.h"
#include "common/base/hex.h"
#include "proto/block.h"

_Static_assert(SQL_ERR_MAX == LEDGER_ERR_MAX, "the handle's message fits a caller's err buffer");
_Static_assert(BLOCK_HASH_LEN == 32 && BLOCK_KEY_LEN == 32, "hashes and keys bind as 'k'");

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
    sql_t sql;                   /* the connection, its statement cache, the last error message */
    char *path;                  /* as given to open, for messages */
    bool readonly;
    int version;                 /* user_version on disk */
    int busy_ms;                 /* how long its connection waits for another's lock */
};

static const char SQL_TIP[] =
    "SELECT height, hash, time_ms FROM blocks ORDER BY height DESC LIMIT 1";
static const char SQL_PUT_BLOCK[] =
    "INSERT INTO blocks (height, hash, prev_hash, time, time_ms, chain_id, protocol_version,"
    " proposer, txs_root, state_root, tx_count, header, cert)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
/* A header naming a peer header (block format 2) also fills the readable
 * columns peer_height and peer_hash, which a schema with peer_headers has
 * (common/store/peertab.h). */
static const char SQL_PUT_BLOCK_PEER[] =
    "INSERT INTO blocks (height, hash, prev_hash, time, time_ms, chain_id, protocol_version,"
    " proposer, txs_root, state_root, tx_count, header, cert, peer_height, peer_hash)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
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

static void errf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errf(char *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, LEDGER_ERR_MAX, fmt, ap);
    va_end(ap);
}

/* Run one statement that returns at most one integer. */
static int query_int(ledger_t *l, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_prepare(&l->sql, sql, &st);

    if (rc < 0)
        return rc;
    rc = sql_step(&l->sql, st);
    if (rc >= 0) {
        *out = rc == 1 ? sqlite3_column_int(st, 0) : 0;
        rc = 0;
    }
    sql_release(&l->sql, st);
    return rc;
}

/* The first problem of a failed PRAGMA quick_check answer. SQLite may put
 * several in one row, one per line, after a "*** in database main ***"
 * line. */
static void integrity_failed(ledger_t *l, const char *answer)
{
    const char *p = answer != NULL ? answer : "(no result)";
    if (strncmp(p, "*** ", 4) == 0 && strchr(p, '\n') != NULL)
        p = strchr(p, '\n') + 1;
    int n = (int)strcspn(p, "\n");
    errf(l->sql.err, "%s: integrity check failed: %.*s; restore a backup", l->path, n, p);
}

/* Run PRAGMA quick_check and refuse anything but a single "ok" row. */
static int check_integrity(ledger_t *l)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_prepare(&l->sql, "PRAGMA quick_check", &st);

    if (rc < 0)
        goto out;
    rc = sql_step(&l->sql, st);
    if (rc == 0)
        rc = sql_fail(&l->sql, "PRAGMA quick_check", SQLITE_DONE);
    if (rc < 0)
        goto out;
    const char *first = (const char *)sqlite3_column_text(st, 0);
    if (first == NULL || strcmp(first, "ok") != 0) {
        integrity_failed(l, first);
        rc = -EILSEQ;
        goto out;
    }
    rc = 0;
out:
    sql_release(&l->sql, st);
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

/* Apply one migration in its own transaction, with the version bump inside
 * it. A migration is several statements, so it runs through sqlite3_exec. */
static int apply_migration(ledger_t *l, const ledger_migration_t *m)
{
    sqlite3 *db = l->sql.db;
    char bump[64];
    char ctx[96];
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

    snprintf(ctx, sizeof ctx, "%s: migration %d", l->path, m->version);
    if (rc != SQLITE_OK)
        return sql_fail(&l->sql, ctx, rc);
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", m->version);
    rc = sqlite3_exec(db, m->sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, bump, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = sql_fail(&l->sql, ctx, rc);
        if (!sqlite3_get_autocommit(db))
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    l->version = m->version;
    return 0;
}

/* Switch to WAL and verify SQLite agreed: it answers with the mode now in force. */
static int set_wal(ledger_t *l)
{
    static const char sql[] = "PRAGMA journal_mode = WAL";
    sqlite3_stmt *st = NULL;
    int rc = sql_prepare(&l->sql, sql, &st);

    if (rc < 0)
        goto out;
    rc = sql_step(&l->sql, st);
    if (rc == 0)
        rc = sql_fail(&l->sql, sql, SQLITE_DONE);
    if (rc < 0)
        goto out;
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        errf(l->sql.err, "%s: cannot use WAL journal mode (SQLite kept \"%s\")", l->path,
             mode != NULL ? mode : "?");
        rc = -EIO;
        goto out;
    }
    rc = 0;
out:
    sql_release(&l->sql, st);
    return rc;
}

/* "file:" and path, percent-encoded but for plain path characters, and
 * "?immutable=1"; malloc'd, or NULL. */
static char *immutable_uri(const char *path)
{
    static const char HEX[] = "0123456789ABCDEF";
    char *uri = malloc(5 + 3 * strlen(path) + sizeof "?immutable=1");
    if (uri == NULL)
        return NULL;
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
    return uri;
}

/* Close the connection and its statement cache; the handle can connect again. */
static void disconnect(ledger_t *l)
{
    sql_cache_close(&l->sql);
    sqlite3_close_v2(l->sql.db);
    l->sql.db = NULL;
}

/* Open the handle's connection on path, with its statement cache (or, if
 * immutable, on a URI that tells SQLite the file cannot change, so it
 * takes no locks and creates no -wal or -shm file). */
static int connect_db(ledger_t *l, const char *path, int flags, bool immutable, char *err)
{
    char *uri = NULL;
    int rc;

    if (immutable && (uri = immutable_uri(path)) == NULL) {
        errf(err, "%s: out of memory", path);
        return -ENOMEM;
    }
    rc = sqlite3_open_v2(uri != NULL ? uri : path, &l->sql.db,
                         flags | (uri != NULL ? SQLITE_OPEN_URI : 0), NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        errf(err, "%s: cannot open: %s", path,
             l->sql.db != NULL ? sqlite3_errmsg(l->sql.db) : sqlite3_errstr(rc));
        return sql_errno(rc);
    }
    sqlite3_extended_result_codes(l->sql.db, 1);
    sqlite3_busy_timeout(l->sql.db, l->busy_ms);
    if ((rc = sql_cache_open(&l->sql)) < 0)
        errf(err, "%s: %s", path, l->sql.err);
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
             path, sqlite3_errmsg(l->sql.db));
        return rc;
    }
    if (rc != 0) {
        errf(err, "%s: %s", path, l->sql.err);
        return rc;
    }
    if (l->version > latest) {
        errf(err,
             "%s: schema version %d is newer than this binary's %d; "
             "upgrade adnet or restore a matching backup",
             path, l->version, latest);
        return -EPROTO;
    }
    if (nonempty && (rc = check_integrity(l)) != 0) {
        if (rc == -EILSEQ && strstr(l->sql.err, "integrity check failed") == NULL)
            errf(err, "%s: damaged database (%s); restore a backup", path,
                 sqlite3_errmsg(l->sql.db));
        else
            errf(err, "%s", l->sql.err);
        return rc;
    }
    /* A database with tables but no schema version was not made by adnet:
     * migrating it would mix two applications' tables. */
    if (l->version == 0) {
        if ((rc = query_int(l, "SELECT count(*) FROM sqlite_schema", &objects)) != 0) {
            errf(err, "%s", l->sql.err);
            return rc;
        }
        if (objects > 0) {
            errf(err, "%s: a SQLite database with tables but no adnet schema version; "
                      "not an adnet ledger",
                 path);
            return -EPROTO;
        }
    }
    if (l->readonly && l->version < latest) {
        errf(err,
             "%s: schema version %d needs migration to %d; start the node once to migrate it",
             path, l->version, latest);
        return -EPROTO;
    }
    return 0;
}

/* A read-only open of a WAL file would create -wal and -shm files that it
 * cannot remove on close, so when no -wal exists yet (no writer is
 * running) run the checks on an immutable connection first: a refused
 * file is then left exactly as it was. *checked says whether they ran. */
static int probe_readonly(ledger_t *l, const char *path, int flags, bool nonempty, int latest,
                          bool *checked, char *err)
{
    char wal[PATH_MAX];
    struct stat wsb;
    int rc;

    *checked = false;
    if ((size_t)snprintf(wal, sizeof wal, "%s-wal", path) >= sizeof wal ||
        stat(wal, &wsb) == 0 || errno != ENOENT)
        return 0;
    rc = connect_db(l, path, flags, true, err);
    if (rc == 0)
        rc = refuse_unusable(l, nonempty, latest, err);
    disconnect(l);
    *checked = rc == 0;
    return rc;
}

/* A handle for path, not connected yet; NULL (out of memory, said in err). */
static ledger_t *ledger_new(const char *path, bool readonly, int busy_ms, char *err)
{
    ledger_t *l = calloc(1, sizeof *l);
    if (l == NULL || (l->path = strdup(path)) == NULL) {
        errf(err, "%s: out of memory", path);
        free(l);
        return NULL;
    }
    l->readonly = readonly;
    l->busy_ms = busy_ms;
    return l;
}

/* Create path as an empty file of mode 0600, unless something is there
 * already. SQLite gives -wal and -shm the main file's mode, so they are
 * 0600 too; changing the umask around sqlite3_open_v2 instead would change
 * it for every thread of the process. Return 0 or -errno (said in err). */
static int create_private(const char *path, char *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 && errno == EEXIST)
        return 0;
    if (fd < 0 || fchmod(fd, 0600) < 0) /* exactly 0600, whatever the umask */
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        errf(err, "%s: cannot create: %s", path, strerror(-rc));
    return rc;
}

/* The shared part of every open: connect, then refuse an unusable file
 * before anything is written. A reader (readonly and !check) skips the
 * read-only probe and PRAGMA quick_check, which cost O(file). The writer
 * runs quick_check only on a file of at most LEDGER_QUICK_CHECK_MAX_BYTES,
 * so that start-up stays bounded as the chain grows; past that the full
 * check is `adnet verify-ledger`'s (ledger_open_readonly always runs it),
 * and SQLite still refuses a damaged page the moment it reads one. */
static int open_common(ledger_t **out, const char *path, const ledger_schema_t *schema,
                       bool readonly, bool check, int busy_ms, char *err)
{
    ledger_t *l = NULL;
    struct stat sb;
    bool existed = stat(path, &sb) == 0;
    bool nonempty = existed && sb.st_size > 0, checked = false;
    if (!readonly && existed && sb.st_size > LEDGER_QUICK_CHECK_MAX_BYTES)
        check = false;
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
    if ((l = ledger_new(path, readonly, busy_ms, err)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (readonly && check &&
        (rc = probe_readonly(l, path, flags, nonempty, latest, &checked, err)) != 0)
        goto out;
    if (!readonly && !existed && (rc = create_private(path, err)) != 0)
        goto out;
    rc = connect_db(l, path, flags, false, err);
    /* Once checked, the real connection only re-reads the version. */
    if (rc == 0)
        rc = refuse_unusable(l, check && nonempty && !checked, latest, err);
    if (rc != 0)
        goto out;
    *out = l;
    l = NULL;
out:
    ledger_close(l);
    return rc;
}

/* The writer's settings: WAL, synchronous=FULL, foreign keys, page cache. */
static int writer_setup(ledger_t *l)
{
    static const char *const PRAGMAS[] = {
        "PRAGMA synchronous = FULL",
        "PRAGMA foreign_keys = ON",
        /* The writer is the only one writing, so its page cache stays
         * valid from block to block: give it room (64 MiB) instead of
         * re-reading pages with pread. */
        "PRAGMA cache_size = -65536",
    };
    int rc = set_wal(l);

    for (size_t i = 0; rc == 0 && i < sizeof PRAGMAS / sizeof PRAGMAS[0]; i++)
        rc = sql_exec(&l->sql, PRAGMAS[i], NULL);
    return rc;
}

int ledger_open(ledger_t **out, const char *path, const ledger_schema_t *schema,
                char err[LEDGER_ERR_MAX])
{
    ledger_t *l = NULL;
    int rc = open_common(&l, path, schema, false, true, LEDGER_OPEN_BUSY_MS, err);

    if (rc != 0)
        goto out;
    rc = writer_setup(l);
    for (size_t i = 0; rc == 0 && i < schema->n; i++)
        if (schema->migrations[i].version > l->version)
            rc = apply_migration(l, &schema->migrations[i]);
    if (rc != 0) {
        errf(err, "%s", l->sql.err);
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
    return open_common(out, path, schema, true, true, LEDGER_OPEN_BUSY_MS, err);
}

void ledger_close(ledger_t *l)
{
    if (l == NULL)
        return;
    disconnect(l);
    free(l->path);
    free(l);
}

void ledger_set_busy_timeout(ledger_t *l, int ms)
{
    l->busy_ms = ms;
    sqlite3_busy_timeout(l->sql.db, ms);
}

void ledger_skip_close_checkpoint(ledger_t *l)
{
    sqlite3_db_config(l->sql.db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
}

sqlite3 *ledger_db(ledger_t *l)
{
    return l->sql.db;
}

sql_t *ledger_sql(ledger_t *l)
{
    return &l->sql;
}

const char *ledger_errmsg(const ledger_t *l)
{
    return l->sql.err;
}

int ledger_schema_version(ledger_t *l)
{
    return l->version;
}

/* sql_column_hex, with the message kept on the handle. */
static int column_hex(ledger_t *l, sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    if (sql_column_hex(st, col, out, n) < 0) {
        errf(l->sql.err, "%s: column %s is not %zu bytes of hex", l->path,
             sqlite3_column_name(st, col), n);
        return -EBADMSG;
    }
    return 0;
}

int ledger_meta_get(ledger_t *l, const char *key, char *out, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = sql_query(&l->sql, &st, SQL_META_GET, "t", key);

    if (rc < 0)
        return rc;
    rc = sql_step(&l->sql, st);
    if (rc == 0) {
        errf(l->sql.err, "meta: no key \"%s\"", key);
        rc = -ENOENT;
    }
    if (rc < 0)
        goto out;
    const char *v = (const char *)sqlite3_column_text(st, 0);
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (n >= cap) {
        errf(l->sql.err, "meta: value of \"%s\" is %zu bytes, buffer holds %zu", key, n,
             cap > 0 ? cap - 1 : 0);
        rc = -ENOBUFS;
        goto out;
    }
    memcpy(out, v != NULL ? v : "", n);
    out[n] = '\0';
    rc = 0;
out:
    sql_release(&l->sql, st);
    return rc;
}

int ledger_meta_set(ledger_t *l, const char *key, const char *value)
{
    return sql_exec(&l->sql, SQL_META_SET, "tt", key, value);
}

int ledger_tip(ledger_t *l, ledger_tip_t *out)
{
    sqlite3_stmt *st = NULL;
    ledger_tip_t t;
    int rc = sql_prepare(&l->sql, SQL_TIP, &st);

    if (rc < 0)
        return rc;
    memset(&t, 0, sizeof t);
    rc = sql_step(&l->sql, st);
    if (rc == 1) {
        t.height = (uint64_t)sqlite3_column_int64(st, 0);
        t.time_ms = (uint64_t)sqlite3_column_int64(st, 2);
        rc = column_hex(l, st, 1, t.hash, sizeof t.hash);
    }
    sql_release(&l->sql, st);
    if (rc == 0)
        *out = t;
    return rc;
}

int ledger_begin(ledger_t *l)
{
    if (l->readonly) {
        errf(l->sql.err, "ledger_begin: the ledger is open read-only");
        return -EROFS;
    }
    if (!sqlite3_get_autocommit(l->sql.db)) {
        errf(l->sql.err, "ledger_begin: a transaction is already open");
        return -EINVAL;
    }
    return sql_exec(&l->sql, "BEGIN IMMEDIATE", NULL);
}

int ledger_commit(ledger_t *l)
{
    return sql_exec(&l->sql, "COMMIT", NULL);
}

void ledger_rollback(ledger_t *l)
{
    if (!sqlite3_get_autocommit(l->sql.db))
        sql_exec(&l->sql, "ROLLBACK", NULL);
}

/* Refuse what ledger_put_block must not store: a bad header, a time ISO-8601
 * cannot show, a hash not the header's, a certificate for another block.
 * Write the header's encoding into henc[BLOCK_HEADER_MAX] and its time
 * into when. */
static int block_refuse(ledger_t *l, const block_header_t *h, const uint8_t hash[BLOCK_HASH_LEN],
                        const commit_cert_t *cert, uint8_t *henc, size_t *hlen,
                        char when[CLOCK_ISO8601_MAX])
{
    unsigned long long height = (unsigned long long)h->height;
    uint8_t want[BLOCK_HASH_LEN];
    const char *what = "";
    int rc;

    if (block_header_check(h, &what) != 0) {
        errf(l->sql.err, "block %llu: bad header: %s", height, what);
        return -EINVAL;
    }
    if (h->height > INT64_MAX || h->time_ms > INT64_MAX || clock_iso8601(when, h->time_ms) != 0) {
        errf(l->sql.err, "block %llu: height or time_ms out of range", height);
        return -EINVAL;
    }
    if ((rc = block_header_encode(h, henc, BLOCK_HEADER_MAX, hlen)) != 0 ||
        (rc = block_header_hash(h, want)) != 0) {
        errf(l->sql.err, "block %llu: cannot encode header", height);
        return rc;
    }
    if (sodium_memcmp(want, hash, BLOCK_HASH_LEN) != 0) {
        errf(l->sql.err, "block %llu: hash does not match the header", height);
        return -EINVAL;
    }
    if (cert->height != h->height || memcmp(cert->block_hash, hash, BLOCK_HASH_LEN) != 0) {
        errf(l->sql.err, "block %llu: commit certificate is for another block", height);
        return -EINVAL;
    }
    return 0;
}

/* Refuse a block that is not the tip's successor. */
static int block_follows_tip(ledger_t *l, const block_header_t *h)
{
    ledger_tip_t tip;
    int rc = ledger_tip(l, &tip);

    if (rc != 0)
        return rc;
    if (h->height != tip.height + 1) {
        errf(l->sql.err, "block %llu does not follow the tip at height %llu",
             (unsigned long long)h->height, (unsigned long long)tip.height);
        return -EINVAL;
    }
    if (tip.height > 0 && memcmp(h->prev_hash, tip.hash, BLOCK_HASH_LEN) != 0) {
        char a[2 * BLOCK_HASH_LEN + 1], b[2 * BLOCK_HASH_LEN + 1];
        hex_encode(a, h->prev_hash, BLOCK_HASH_LEN);
        hex_encode(b, tip.hash, BLOCK_HASH_LEN);
        errf(l->sql.err, "block %llu: prev_hash %s is not the tip's hash %s (fork)",
             (unsigned long long)h->height, a, b);
        return -EINVAL;
    }
    return 0;
}

int ledger_put_block(ledger_t *l, const block_header_t *h, const uint8_t hash[BLOCK_HASH_LEN],
                     const commit_cert_t *cert)
{
    uint8_t henc[BLOCK_HEADER_MAX];
    uint8_t cenc[COMMIT_CERT_MAX];
    size_t hlen, clen;
    char when[CLOCK_ISO8601_MAX];
    int rc;

    if (sqlite3_get_autocommit(l->sql.db)) {
        errf(l->sql.err, "ledger_put_block: no transaction open (call ledger_begin)");
        return -EINVAL;
    }
    if ((rc = block_refuse(l, h, hash, cert, henc, &hlen, when)) != 0)
        return rc;
    if ((rc = commit_cert_encode(cert, cenc, sizeof cenc, &clen)) != 0) {
        errf(l->sql.err, "block %llu: cannot encode commit certificate (count or order)",
             (unsigned long long)h->height);
        return rc;
    }
    if ((rc = block_follows_tip(l, h)) != 0)
        return rc;
    if (h->peer_height)
        rc = sql_exec(&l->sql, SQL_PUT_BLOCK_PEER, "ukktutukkkubbuk", h->height, hash,
                      h->prev_hash, when, h->time_ms, h->chain_id, (uint64_t)h->protocol_version,
                      h->proposer, h->txs_root, h->state_root, (uint64_t)h->tx_count, henc, hlen,
                      cenc, clen, h->peer_height, h->peer_hash);
    else
        rc = sql_exec(&l->sql, SQL_PUT_BLOCK, "ukktutukkkubb", h->height, hash, h->prev_hash,
                      when, h->time_ms, h->chain_id, (uint64_t)h->protocol_version, h->proposer,
                      h->txs_root, h->state_root, (uint64_t)h->tx_count, henc, hlen, cenc, clen);
    for (uint32_t i = 0; rc == 0 && i < cert->n_sigs; i++)
        rc = sql_exec(&l->sql, SQL_PUT_COMMIT, "ukx", h->height, cert->sigs[i].validator,
                      cert->sigs[i].sig, (size_t)BLOCK_SIG_LEN);
    return rc;
}

/* Decode the header and (if cert) the certificate of a blocks row. */
static int block_from_row(ledger_t *l, sqlite3_stmt *st, uint64_t height, block_header_t *h,
                          commit_cert_t *cert)
{
    const char *what = "";
    int rc = block_header_decode(h, sqlite3_column_blob(st, 1),
                                 (size_t)sqlite3_column_bytes(st, 1), &what);

    if (rc == 0 && h->height != height) {
        what = "height";
        rc = -EBADMSG;
    }
    if (rc != 0) {
        errf(l->sql.err, "block %llu: stored header is malformed (%s)",
             (unsigned long long)height, what);
        return -EBADMSG;
    }
    if (cert != NULL && commit_cert_decode(cert, sqlite3_column_blob(st, 2),
                                           (size_t)sqlite3_column_bytes(st, 2), &what) != 0) {
        errf(l->sql.err, "block %llu: stored certificate is malformed (%s)",
             (unsigned long long)height, what);
        return -EBADMSG;
    }
    return 0;
}

int ledger_get_block(ledger_t *l, uint64_t height, block_header_t *h,
                     uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *cert)
{
    block_header_t th;
    commit_cert_t *tc = NULL;
    uint8_t thash[BLOCK_HASH_LEN];
    sqlite3_stmt *st = NULL;
    int rc = height > INT64_MAX ? 0 : sql_query(&l->sql, &st, SQL_GET_BLOCK, "u", height);

    if (rc < 0)
        return rc;
    rc = st != NULL ? sql_step(&l->sql, st) : 0;
    if (rc == 0) {
        errf(l->sql.err, "no block at height %llu", (unsigned long long)height);
        rc = -ENOENT;
    }
    if (rc < 0)
        goto out;
    if (cert != NULL && (tc = malloc(sizeof *tc)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = column_hex(l, st, 0, thash, sizeof thash)) != 0 ||
        (rc = block_from_row(l, st, height, &th, tc)) != 0)
        goto out;
    if (h != NULL)
        *h = th;
    if (hash != NULL)
        memcpy(hash, thash, BLOCK_HASH_LEN);
    if (cert != NULL)
        *cert = *tc;
out:
    sql_release(&l->sql, st);
    free(tc);
    return rc;
}

int ledger_has_tx(ledger_t *l, const uint8_t id[32])
{
    return sql_exists(&l->sql, SQL_HAS_TX, "k", id);
}

int ledger_put_tx(ledger_t *l, const uint8_t id[32], uint64_t height, uint32_t idx,
                  const char *kind, const uint8_t sender[BLOCK_KEY_LEN], const uint8_t *body,
                  size_t len)
{
    if (sqlite3_get_autocommit(l->sql.db)) {
        errf(l->sql.err, "ledger_put_tx: no transaction is open");
        return -EINVAL;
    }
    if (height > INT64_MAX || len > INT32_MAX) {
        errf(l->sql.err, "ledger_put_tx: height or size out of range");
        return -EINVAL;
    }
    return sql_exec(&l->sql, SQL_PUT_TX, "kuutkb", id, height, (uint64_t)idx, kind, sender, body,
                    len);
}

/* open_common's read-only path without PRAGMA quick_check, which reads the
 * whole file: cheap enough to run once per API thread. */
int ledger_open_reader(ledger_t **out, const char *path, const ledger_schema_t *schema,
                       char err[LEDGER_ERR_MAX])
{
    return open_common(out, path, schema, true, false, LEDGER_READER_BUSY_MS, err);
}

/* ledger_peek's reads on the connected handle l. */
static int peek_read(ledger_t *l, uint64_t at_height, ledger_peek_t *p)
{
    static const char SQL_TABLE[] = "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1";
    static const char SQL_GENESIS[] = "SELECT 1 FROM meta WHERE key = 'chain_id'";
    int rc = sql_exists(&l->sql, SQL_TABLE, "t", "meta");

    if (rc > 0)
        rc = sql_exists(&l->sql, SQL_GENESIS, NULL);
    if (rc < 0)
        return rc;
    p->has_genesis = rc > 0;
    if ((rc = sql_exists(&l->sql, SQL_TABLE, "t", "blocks")) <= 0)
        return rc;
    if ((rc = ledger_tip(l, &p->tip)) != 0 || at_height == 0 || at_height > p->tip.height)
        return rc;
    if (at_height == p->tip.height) {
        memcpy(p->at_hash, p->tip.hash, BLOCK_HASH_LEN);
        return 0;
    }
    return ledger_get_block(l, at_height, NULL, p->at_hash, NULL);
}

int ledger_peek(const char *path, uint64_t at_height, ledger_peek_t *out,
                char err[LEDGER_ERR_MAX])
{
    ledger_peek_t p;
    ledger_t *l = NULL;
    struct stat sb;
    char wal[PATH_MAX];
    int rc = 0;

    memset(&p, 0, sizeof p);
    if (stat(path, &sb) != 0) {
        rc = errno == ENOENT ? 0 : -errno;
        if (rc != 0)
            errf(err, "%s: cannot stat: %s", path, strerror(-rc));
        goto out;
    }
    p.exists = true;
    p.size = (uint64_t)sb.st_size;
    if (p.size == 0)
        goto out;
    if ((size_t)snprintf(wal, sizeof wal, "%s-wal", path) >= sizeof wal) {
        errf(err, "%s: path too long", path);
        rc = -ENAMETOOLONG;
        goto out;
    }
    if ((l = ledger_new(path, true, LEDGER_OPEN_BUSY_MS, err)) == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    /* Without a -wal (no writer left frames) an immutable connection reads
     * the file alone and creates nothing beside it. */
    rc = connect_db(l, path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                    stat(wal, &sb) != 0 && errno == ENOENT, err);
    if (rc == 0 && (rc = peek_read(l, at_height, &p)) != 0)
        errf(err, "%s: %s%s", path, rc == -EILSEQ ? "not a usable SQLite database: " : "",
             l->sql.err);
out:
    ledger_close(l);
    if (rc == 0)
        *out = p;
    return rc;
}
