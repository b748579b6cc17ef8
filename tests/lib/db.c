#include "tests/lib/db.h"

#include <check.h>
#include <stdio.h>

sqlite3 *db_open(const char *path)
{
    sqlite3 *db = NULL;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

sqlite3 *db_hold_write_lock(const char *path)
{
    sqlite3 *db = db_open(path);
    sqlite3_busy_timeout(db, 5000);
    ck_assert_msg(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK,
                  "BEGIN IMMEDIATE on %s: %s", path, sqlite3_errmsg(db));
    return db;
}

void db_release_lock(sqlite3 *db)
{
    ck_assert_int_eq(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Prepare sql on db and step it to its first row. */
static sqlite3_stmt *first_row(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    ck_assert_msg(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK, "%s: %s", sql,
                  sqlite3_errmsg(db));
    ck_assert_msg(sqlite3_step(st) == SQLITE_ROW, "%s: no row", sql);
    return st;
}

int db_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = first_row(db, sql);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

void db_text(sqlite3 *db, const char *sql, char *out, size_t cap)
{
    sqlite3_stmt *st = first_row(db, sql);
    const char *text = (const char *)sqlite3_column_text(st, 0);
    snprintf(out, cap, "%s", text ? text : "");
    sqlite3_finalize(st);
}
