/* The SQL helpers and the statement cache; see sql.h. */
#include "common/store/sql.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/hex.h"

/* Statements handed out at once (nested queries); past this, more are
 * prepared afresh and finalized on release. */
#define LENT_MAX 16
#define HEX_MAX 64 /* bytes a 'x' parameter may hold */

typedef struct {
    const char *sql;     /* the caller's text, found by its address; NULL: free slot */
    sqlite3_stmt *st;    /* NULL after a failed prepare: prepared again on next use */
} slot_t;

struct sql_cache {
    slot_t *slots;       /* open addressing on the text's address, cap a power of two */
    size_t cap, n;
    sqlite3_stmt *lent[LENT_MAX]; /* cached statements handed out and not given back */
    size_t n_lent;
};

int sql_errno(int rc)
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

int sql_fail(sql_t *s, const char *context, int rc)
{
    int e = sql_errno(rc);
    snprintf(s->err, sizeof s->err, "%s: %s", context, sqlite3_errmsg(s->db));
    s->rc = rc;
    return e != 0 ? e : -EIO;
}

const char *sql_errmsg(const sql_t *s)
{
    return s->err;
}

int sql_fault(const sql_t *s)
{
    switch (s->rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
        return sql_errno(s->rc);
    default:
        return 0;
    }
}

void sql_clear_fault(sql_t *s)
{
    s->rc = 0;
}

int sql_cache_open(sql_t *s)
{
    if (s->cache == NULL && (s->cache = calloc(1, sizeof *s->cache)) == NULL) {
        snprintf(s->err, sizeof s->err, "statement cache: out of memory");
        return -ENOMEM;
    }
    return 0;
}

void sql_cache_close(sql_t *s)
{
    sql_cache_t *c = s->cache;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->cap; i++)
        sqlite3_finalize(c->slots[i].st);
    free(c->slots);
    free(c);
    s->cache = NULL;
}

/* The slot of sql: the one holding that address, or the free one where it goes. */
static slot_t *slot_of(const sql_cache_t *c, const char *sql)
{
    /* Fibonacci hashing of the address: literals sit close together. */
    size_t i = (size_t)(((uint64_t)(uintptr_t)sql * 0x9e3779b97f4a7c15ULL) >> 32) & (c->cap - 1);
    while (c->slots[i].sql != NULL && c->slots[i].sql != sql)
        i = (i + 1) & (c->cap - 1);
    return &c->slots[i];
}

/* Keep the table at most half full, so that probes stay short. */
static int cache_reserve(sql_cache_t *c)
{
    if (2 * (c->n + 1) <= c->cap)
        return 0;
    sql_cache_t bigger = {.cap = c->cap ? 2 * c->cap : 64};
    if ((bigger.slots = calloc(bigger.cap, sizeof *bigger.slots)) == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].sql != NULL)
            *slot_of(&bigger, c->slots[i].sql) = c->slots[i];
    free(c->slots);
    c->slots = bigger.slots;
    c->cap = bigger.cap;
    return 0;
}

static bool is_lent(const sql_cache_t *c, const sqlite3_stmt *st)
{
    for (size_t i = c->n_lent; i-- > 0;)
        if (c->lent[i] == st)
            return true;
    return false;
}

static int prepare_fresh(sql_t *s, const char *sql, unsigned flags, sqlite3_stmt **out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(s->db, sql, -1, flags, &st, NULL);
    if (rc != SQLITE_OK)
        return sql_fail(s, sql, rc);
    if (st == NULL) {
        snprintf(s->err, sizeof s->err, "\"%s\" holds no SQL statement", sql);
        return -EINVAL;
    }
    *out = st;
    return 0;
}

int sql_prepare(sql_t *s, const char *sql, sqlite3_stmt **out)
{
    sql_cache_t *c = s->cache;
    slot_t *sl;
    int rc;

    if (c == NULL || c->n_lent == LENT_MAX)
        return prepare_fresh(s, sql, 0, out);
    if (cache_reserve(c) < 0) {
        snprintf(s->err, sizeof s->err, "statement cache: out of memory");
        return -ENOMEM;
    }
    sl = slot_of(c, sql);
    if (sl->st != NULL && is_lent(c, sl->st))
        return prepare_fresh(s, sql, 0, out);
    /* The address finds the statement; the text confirms it, so that a
     * buffer reused for other SQL never runs a stale statement. */
    if (sl->st != NULL && strcmp(sqlite3_sql(sl->st), sql) != 0) {
        sqlite3_finalize(sl->st);
        sl->st = NULL;
    }
    if (sl->st == NULL) {
        if ((rc = prepare_fresh(s, sql, SQLITE_PREPARE_PERSISTENT, &sl->st)) < 0)
            return rc;
        if (sl->sql == NULL) {
            sl->sql = sql;
            c->n++;
        }
    }
    c->lent[c->n_lent++] = sl->st;
    *out = sl->st;
    return 0;
}

void sql_release(sql_t *s, sqlite3_stmt *st)
{
    sql_cache_t *c = s->cache;
    if (st == NULL)
        return;
    for (size_t i = c != NULL ? c->n_lent : 0; i-- > 0;) {
        if (c->lent[i] == st) {
            c->lent[i] = c->lent[--c->n_lent];
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return;
        }
    }
    sqlite3_finalize(st);
}

static int bind_hex(sqlite3_stmt *st, int col, const uint8_t *bin, size_t n)
{
    char hex[2 * HEX_MAX + 1];
    if (bin == NULL)
        return sqlite3_bind_null(st, col);
    hex_encode(hex, bin, n);
    return sqlite3_bind_text(st, col, hex, (int)(2 * n), SQLITE_TRANSIENT);
}

static int bind_range(sql_t *s, int col, const char *what)
{
    snprintf(s->err, sizeof s->err, "parameter %d: %s", col, what);
    return -ERANGE;
}

/* Bind parameter col from the next argument(s) of ap, as kind says.
 * Return an SQLite result code, or a negative errno for an argument
 * refused here (its message on s). */
static int bind_one(sql_t *s, sqlite3_stmt *st, int col, char kind, va_list *ap)
{
    const uint8_t *p;
    uint64_t v;
    size_t n;

    switch (kind) {
    case 't':
        return sqlite3_bind_text(st, col, va_arg(*ap, const char *), -1, SQLITE_STATIC);
    case 'u':
        if ((v = va_arg(*ap, uint64_t)) > INT64_MAX)
            return bind_range(s, col, "integer above 2^63-1");
        return sqlite3_bind_int64(st, col, (sqlite3_int64)v);
    case 'k':
        return bind_hex(st, col, va_arg(*ap, const uint8_t *), 32);
    case 'x':
        p = va_arg(*ap, const uint8_t *);
        if ((n = va_arg(*ap, size_t)) > HEX_MAX)
            return bind_range(s, col, "hex value over 64 bytes");
        return bind_hex(st, col, p, n);
    case 'b':
        p = va_arg(*ap, const void *);
        if ((n = va_arg(*ap, size_t)) > INT_MAX)
            return bind_range(s, col, "blob over 2 GiB");
        return sqlite3_bind_blob(st, col, p, (int)n, SQLITE_STATIC);
    default:
        snprintf(s->err, sizeof s->err, "parameter %d: unknown format '%c'", col, kind);
        return -EINVAL;
    }
}

int sql_vbind(sql_t *s, sqlite3_stmt *st, const char *fmt, va_list ap)
{
    va_list aq;
    int rc = SQLITE_OK;

    va_copy(aq, ap);
    for (int i = 0; rc == SQLITE_OK && fmt != NULL && fmt[i] != '\0'; i++)
        rc = bind_one(s, st, i + 1, fmt[i], &aq);
    va_end(aq);
    if (rc < 0)
        return rc;
    return rc == SQLITE_OK ? 0 : sql_fail(s, "bind", rc);
}

int sql_bind(sql_t *s, sqlite3_stmt *st, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = sql_vbind(s, st, fmt, ap);
    va_end(ap);
    return rc;
}

static int vquery(sql_t *s, sqlite3_stmt **out, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st;
    int rc = sql_prepare(s, sql, &st);
    if (rc < 0)
        return rc;
    if ((rc = sql_vbind(s, st, fmt, ap)) < 0) {
        sql_release(s, st);
        return rc;
    }
    *out = st;
    return 0;
}

int sql_query(sql_t *s, sqlite3_stmt **out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vquery(s, out, sql, fmt, ap);
    va_end(ap);
    return rc;
}

int sql_step(sql_t *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return sql_fail(s, sqlite3_sql(st), rc);
}

/* What sql_exec, sql_exists and sql_u64 do with their statement. */
typedef int (*use_fn)(sql_t *s, sqlite3_stmt *st, void *arg);

/* Prepare and bind sql, hand it to use, release it. */
static int vrun(sql_t *s, const char *sql, const char *fmt, va_list ap, use_fn use, void *arg)
{
    sqlite3_stmt *st;
    int rc = vquery(s, &st, sql, fmt, ap);
    if (rc < 0)
        return rc;
    rc = use(s, st, arg);
    sql_release(s, st);
    return rc;
}

static int run_to_end(sql_t *s, sqlite3_stmt *st, void *arg)
{
    int rc;
    (void)arg;
    while ((rc = sql_step(s, st)) == 1)
        ;
    return rc;
}

static int first_row(sql_t *s, sqlite3_stmt *st, void *arg)
{
    (void)arg;
    return sql_step(s, st);
}

static int first_u64(sql_t *s, sqlite3_stmt *st, void *arg)
{
    int rc = sql_step(s, st);
    if (rc < 0)
        return rc;
    if (rc == 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
        return -ENOENT;
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    if (v < 0) {
        snprintf(s->err, sizeof s->err, "%s: negative value %lld", sqlite3_sql(st), (long long)v);
        return -EIO;
    }
    *(uint64_t *)arg = (uint64_t)v;
    return 0;
}

int sql_exec(sql_t *s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vrun(s, sql, fmt, ap, run_to_end, NULL);
    va_end(ap);
    return rc;
}

void sql_exec_quiet(sql_t *s, const char *sql)
{
    char msg[SQL_ERR_MAX];
    memcpy(msg, s->err, sizeof msg);
    (void)sql_exec(s, sql, NULL);
    memcpy(s->err, msg, sizeof msg);
}

int sql_exists(sql_t *s, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vrun(s, sql, fmt, ap, first_row, NULL);
    va_end(ap);
    return rc;
}

int sql_u64(sql_t *s, uint64_t *out, const char *sql, const char *fmt, ...)
{
    uint64_t v = 0;
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = vrun(s, sql, fmt, ap, first_u64, &v);
    va_end(ap);
    if (rc == 0)
        *out = v;
    return rc;
}

int sql_column_hex(sqlite3_stmt *st, int col, uint8_t *out, size_t n)
{
    const char *hex = (const char *)sqlite3_column_text(st, col);
    if (hex == NULL || (size_t)sqlite3_column_bytes(st, col) != 2 * n ||
        hex_decode(out, n, hex) != 0)
        return -EBADMSG;
    return 0;
}
