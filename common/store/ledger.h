/* The ledger: one WAL-mode SQLite file per chain. A block and all its
 * effects commit in one transaction, so a crash leaves the file at a block
 * boundary. The schema is versioned with PRAGMA user_version and moved
 * forward by an ordered list of migrations that the chain supplies (the
 * base tables below come first). A file from a newer schema, one that
 * fails PRAGMA quick_check, or one made for another chain is refused and
 * left untouched. Errors keep SQLite's message on the handle.
 *
 * Every handle owns its connection's statement cache (common/store/sql.h):
 * the ledger's own statements and whatever the chain runs through
 * ledger_sql are prepared once per handle and reused until it closes. */
#ifndef ADNET_LEDGER_H
#define ADNET_LEDGER_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/store/sql.h"
#include "proto/block.h"

#define LEDGER_ERR_MAX 512
/* The writer's open runs PRAGMA quick_check (O(file)) only up to this file
 * size; larger ledgers are checked in full by ledger_open_readonly
 * (adnet verify-ledger). */
#define LEDGER_QUICK_CHECK_MAX_BYTES (64LL * 1024 * 1024)

/* Base schema shared by both chains (migration 1 of every chain): meta,
 * blocks, commits, txs. Chains list it first in their migrations. */
extern const char LEDGER_SQL_BASE_V1[];

typedef struct {
    int version;       /* user_version after this step: 1, 2, 3 ... */
    const char *sql;   /* statements run in one transaction */
} ledger_migration_t;

typedef struct {
    const ledger_migration_t *migrations; /* ordered, versions 1..n */
    size_t n;
} ledger_schema_t;

typedef struct ledger ledger_t;

typedef struct {
    uint64_t height;                 /* 0 if no block yet */
    uint8_t hash[BLOCK_HASH_LEN];    /* zero if no block yet */
    uint64_t time_ms;
} ledger_tip_t;

/* How long a connection waits for a lock another process holds before
 * SQLite answers SQLITE_BUSY (-EBUSY). The writer waits up to
 * LEDGER_OPEN_BUSY_MS while it opens (it is not serving yet); a worker
 * sets 0 with ledger_set_busy_timeout once its event loop runs, so that
 * a lock held elsewhere delays a block instead of blocking the loop. The
 * API's readers (ledger_open_reader) wait up to LEDGER_READER_BUSY_MS and
 * then answer 503: in WAL mode a reader meets a lock only while another
 * process holds the file exclusively (or recovers its WAL). */
#define LEDGER_OPEN_BUSY_MS 5000
#define LEDGER_READER_BUSY_MS 20

/* Open (creating if missing) the ledger at path for writing: refuse a
 * newer schema (-EPROTO), a file that is not a database or (up to
 * LEDGER_QUICK_CHECK_MAX_BYTES) fails PRAGMA quick_check (-EILSEQ), a database with tables but no schema
 * version (-EPROTO: not made by adnet), or anything SQLite refuses (-EIO,
 * or -EBUSY / -ENOSPC / -EROFS / -ENOMEM where SQLite's code says so),
 * before writing a byte; then set WAL, synchronous=FULL, foreign_keys=ON,
 * and apply missing migrations, each in its own transaction. A schema whose
 * versions are not 1..n is -EINVAL. On failure return the code and put a
 * message naming the file in err. The caller frees *out with ledger_close.
 * The ledger does not check which chain the file is for: compare
 * meta chain_id / genesis_hash after opening. Nor does it know whether a
 * missing or empty file may be made anew: that is the caller's to decide
 * before (a worker allows it only on a home without a commit record,
 * common/store/commitrec.h, and checks the file with ledger_peek first). */
int ledger_open(ledger_t **out, const char *path, const ledger_schema_t *schema,
                char err[LEDGER_ERR_MAX]);
/* Open read-only (no migration, no write); same refusals, plus -ENOENT if
 * the file is missing and -EPROTO if its schema is older than the binary's
 * ("needs migration"). Readers see committed blocks while a writer runs
 * (WAL). A refused file is left as it was, with no -wal/-shm created. */
int ledger_open_readonly(ledger_t **out, const char *path, const ledger_schema_t *schema,
                         char err[LEDGER_ERR_MAX]);
/* Close, finalizing the handle's cached statements first; NULL-safe. */
void ledger_close(ledger_t *l);
/* Wait at most ms for another process's lock from now on (0: answer
 * -EBUSY at once). */
void ledger_set_busy_timeout(ledger_t *l, int ms);
/* Let ledger_close leave the WAL as it is instead of copying it into
 * ledger.db first (which can take a while after many blocks): for an
 * exit that must be quick. Nothing is lost: the next open reads the WAL. */
void ledger_skip_close_checkpoint(ledger_t *l);

/* What a ledger file holds, read without writing a byte to it or its WAL
 * (see ledger_peek). */
typedef struct {
    bool exists;                     /* there is a file at the path */
    uint64_t size;                   /* its size in bytes (0: an empty file) */
    bool has_genesis;                /* meta chain_id is set: its genesis state committed */
    ledger_tip_t tip;                /* height 0 if no block (or no blocks table) */
    uint8_t at_hash[BLOCK_HASH_LEN]; /* hash of the block at the height asked for; zero if none */
} ledger_peek_t;

/* Look at the ledger at path as it is, before the writer opens it, for a
 * check that must leave a refused file exactly as it was: read-only, on
 * the committed WAL frames if a -wal is there (SQLite may write its -shm
 * index, never ledger.db or ledger.db-wal). A file that is not there or
 * is empty is no error (out->exists, out->size say so). at_height asks
 * for the hash of the block at that height too (0: none). Return 0 and
 * *out, or the refusals of ledger_open_reader for an unusable file
 * (-EILSEQ, -EIO ...) with a message in err. Any schema version is read
 * (the base tables never change). */
int ledger_peek(const char *path, uint64_t at_height, ledger_peek_t *out,
                char err[LEDGER_ERR_MAX]);

/* The underlying connection (for tests and raw reads; code that runs SQL
 * on the ledger goes through ledger_sql). Owned by l. */
sqlite3 *ledger_db(ledger_t *l);
/* The connection as the SQL helpers take it, with the handle's statement
 * cache and error message (ledger_errmsg reads the same message). Owned
 * by l and valid until ledger_close; one thread at a time. */
sql_t *ledger_sql(ledger_t *l);
/* The last error message (SQLite's where it came from SQLite); valid
 * until the next call on l. */
const char *ledger_errmsg(const ledger_t *l);
/* Schema version on disk. */
int ledger_schema_version(ledger_t *l);

/* meta table: small text key/value pairs (chain_id, genesis_hash, ...).
 * ledger_meta_get writes out[cap] (NUL-terminated) and returns 0, -ENOENT,
 * -ENOBUFS (value does not fit; out untouched) or -EIO. ledger_meta_set
 * inserts or replaces. */
int ledger_meta_get(ledger_t *l, const char *key, char *out, size_t cap);
int ledger_meta_set(ledger_t *l, const char *key, const char *value);

/* Last committed block, or height 0 if none. */
int ledger_tip(ledger_t *l, ledger_tip_t *out);

/* Block transaction: begin (BEGIN IMMEDIATE), write the block and the
 * chain's effects, then commit (or rollback). Nested begin is a programming
 * error and returns -EINVAL; begin on a read-only ledger is -EROFS. If
 * commit fails the transaction stays open: call ledger_rollback. Rollback
 * with no transaction open does nothing. */
int ledger_begin(ledger_t *l);
int ledger_commit(ledger_t *l);
void ledger_rollback(ledger_t *l);

/* Insert the block row (readable columns plus the encoded header and
 * certificate) and one commits row per signature. Must be inside
 * ledger_begin; the height must be tip+1 and prev_hash the tip's hash
 * (any prev_hash at height 1: the caller checks the genesis hash). Also
 * -EINVAL if the header fails block_header_check, hash is not
 * block_header_hash(h), or cert is for another height/hash or not
 * encodable (no signatures, validators out of order). Signatures are not
 * verified here. On failure the caller rolls back. */
int ledger_put_block(ledger_t *l, const block_header_t *h, const uint8_t hash[BLOCK_HASH_LEN],
                     const commit_cert_t *cert);

/* Return 1 if a committed transaction has this id, 0 if not, or -EIO. */
int ledger_has_tx(ledger_t *l, const uint8_t id[32]);
/* Insert a txs row (inside ledger_begin, after the block's own row, which
 * the row references). kind is the chain's name for it. Return 0, -EEXIST
 * (a transaction with that id is committed), or -EIO. */
int ledger_put_tx(ledger_t *l, const uint8_t id[32], uint64_t height, uint32_t idx,
                  const char *kind, const uint8_t sender[BLOCK_KEY_LEN], const uint8_t *body,
                  size_t len);

/* Read block at height into *h / *hash / *cert (each may be NULL).
 * Return 0, -ENOENT, or -EIO / -EBADMSG. */
int ledger_get_block(ledger_t *l, uint64_t height, block_header_t *h,
                     uint8_t hash[BLOCK_HASH_LEN], commit_cert_t *cert);

/* Open read-only for a reader beside the running writer (the HTTP API opens
 * one per thread): the refusals of ledger_open_readonly (-ENOENT, -EPROTO
 * for a newer, older or foreign schema, -EILSEQ, -EIO ...) except PRAGMA
 * quick_check, which reads the whole file; the writer ran it when it
 * opened the file. Unlike ledger_open_readonly it may create the -wal and
 * -shm files when no writer has. Return 0 and *out (free with
 * ledger_close), or the code with a message naming the file in err. */
int ledger_open_reader(ledger_t **out, const char *path, const ledger_schema_t *schema,
                       char err[LEDGER_ERR_MAX]);

#endif
