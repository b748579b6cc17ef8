/* The one set of SQL helpers for the ledger, the block pipeline and the
 * chains: a connection (sql_t) that carries its last error message and,
 * when a ledger handle owns it, its prepared-statement cache; statements
 * bound from a short format string; SQLite result codes mapped to
 * negative errno here, at the store's boundary, with SQLite's message
 * kept on the sql_t for the caller to log.
 *
 * Every ledger handle owns one cached sql_t (ledger_sql): a statement is
 * prepared the first time its SQL is run through the handle and reused,
 * reset and with its bindings cleared, until the handle closes. A bare
 * sql_t (SQL_BARE) wraps a connection someone else owns, such as the
 * API's per-thread read-only ones, and prepares and finalizes each time.
 * One sql_t is used by one thread at a time. */
#ifndef ADNET_SQL_H
#define ADNET_SQL_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define SQL_ERR_MAX 512

typedef struct sql_cache sql_cache_t;

typedef struct {
    sqlite3 *db;            /* the connection; not owned */
    sql_cache_t *cache;     /* statements kept for reuse, or NULL: prepare and finalize each time */
    char err[SQL_ERR_MAX];  /* the last failure: "what was run: SQLite's message" */
    int rc;                 /* SQLite's result code of the last failure (sql_fail); 0 after
                             * sql_clear_fault */
} sql_t;

/* An initializer for a bare sql_t on db: no cache, empty message. */
#define SQL_BARE(conn) ((sql_t){.db = (conn), .cache = NULL, .err = ""})

/* Give s (s->db set) a statement cache. Return 0 or -ENOMEM. */
int sql_cache_open(sql_t *s);
/* Finalize every statement s's cache holds and drop the cache, before
 * s->db is closed and after every statement was given back. A no-op on a
 * bare sql_t. */
void sql_cache_close(sql_t *s);

/* SQLite result code -> 0 (OK, ROW, DONE) or a negative errno: -EILSEQ
 * (not a database, corrupt), -EBUSY, -ENOMEM, -ENOSPC, -EROFS, -EEXIST
 * (a constraint), -EINVAL (a foreign key), -EIO (anything else). */
int sql_errno(int rc);
/* Record "context: SQLite's message" on s and return sql_errno(rc), or
 * -EIO if rc is not an error code. */
int sql_fail(sql_t *s, const char *context, int rc);
/* The last message recorded on s ("" if none). Valid until the next call on s. */
const char *sql_errmsg(const sql_t *s);
/* Whether a statement run through s since the last sql_clear_fault failed
 * because of the database itself rather than the data: another process's
 * lock (-EBUSY), a full disk (-ENOSPC), I/O (-EIO), memory (-ENOMEM), a
 * damaged (-EILSEQ) or read-only (-EROFS) file. 0 if none did, or only
 * for the data (a constraint). Lets a caller tell "the ledger failed"
 * from "the transaction is invalid" after code that reports both alike. */
int sql_fault(const sql_t *s);
void sql_clear_fault(sql_t *s);

/* Hand out a statement for sql. A cached sql_t finds it by the address
 * of sql, so pass text that lives as long as s (the call sites pass
 * string literals); the text is compared too, so a buffer reused for
 * other SQL gets a statement of its own (prepared again each time). A
 * statement still handed out when the same SQL is asked for again (a
 * nested query) is prepared afresh. Return 0 and *out (give it back with
 * sql_release), or the code of sql_fail. */
int sql_prepare(sql_t *s, const char *sql, sqlite3_stmt **out);
/* Give st back: a cached one is reset, its bindings cleared, and kept;
 * any other is finalized. NULL-safe. */
void sql_release(sql_t *s, sqlite3_stmt *st);

/* Bind parameters 1, 2, ... of st from fmt, one character each:
 *   't' const char *           text (NULL binds SQL NULL)
 *   'u' uint64_t               an integer, at most INT64_MAX (pass a uint64_t)
 *   'k' const uint8_t *        a 32-byte key or hash as 64 lowercase hex digits (NULL: NULL)
 *   'x' const uint8_t *, size_t  n <= 64 bytes as 2n lowercase hex digits
 *   'b' const void *, size_t     a blob
 * Text and blobs are not copied: keep them unchanged until st is stepped
 * to its end or released. fmt may be NULL (nothing to bind). Return 0, or
 * -ERANGE (an integer above INT64_MAX, a hex value over 64 bytes), -EINVAL
 * (an unknown format character) or the code of sql_fail. */
int sql_bind(sql_t *s, sqlite3_stmt *st, const char *fmt, ...);
int sql_vbind(sql_t *s, sqlite3_stmt *st, const char *fmt, va_list ap);
/* sql_prepare then sql_bind: 0 and *out, or the code (nothing to release). */
int sql_query(sql_t *s, sqlite3_stmt **out, const char *sql, const char *fmt, ...);
/* Step st once: 1 (a row), 0 (done), or the code of sql_fail. */
int sql_step(sql_t *s, sqlite3_stmt *st);

/* Run a statement that returns no rows (INSERT, UPDATE, DELETE, SAVEPOINT, ...)
 * with parameters bound from fmt. Return 0 or a negative code. */
int sql_exec(sql_t *s, const char *sql, const char *fmt, ...);
/* Clean-up after a failure (ROLLBACK, RELEASE, DROP ...): run sql, which
 * takes no parameters, and keep the message s held before, so the caller
 * reports the first failure, not the clean-up's. */
void sql_exec_quiet(sql_t *s, const char *sql);
/* Return 1 if the query returns a row, 0 if not, or a negative code. */
int sql_exists(sql_t *s, const char *sql, const char *fmt, ...);
/* Read column 0 of the first row as a non-negative integer: 0 and *out,
 * -ENOENT (no row, or NULL), -EIO (a negative value), or the code. */
int sql_u64(sql_t *s, uint64_t *out, const char *sql, const char *fmt, ...);

/* Decode a column of exactly 2*n hex digits into out[n]: 0, or -EBADMSG
 * leaving out untouched. */
int sql_column_hex(sqlite3_stmt *st, int col, uint8_t *out, size_t n);

#endif
