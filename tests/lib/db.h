/* Raw SQLite probes for tests that look at a ledger file from beside the
 * code under test: a second connection, and one-value queries. Any SQLite
 * error fails the running test. */
#ifndef ADNET_TEST_DB_H
#define ADNET_TEST_DB_H

#include <stddef.h>

#include <sqlite3.h>

/* Open the existing database at path read-write (never creating it); the
 * caller closes it with sqlite3_close. */
sqlite3 *db_open(const char *path);

/* A second connection to the database at path that holds its write lock
 * (BEGIN IMMEDIATE, waiting up to 5 s for it), as an operator's sqlite3
 * would; give it back with db_release_lock, which rolls back and closes. */
sqlite3 *db_hold_write_lock(const char *path);
void db_release_lock(sqlite3 *db);

/* Run sql, which must return a row, and return its first column as an
 * integer. */
int db_int(sqlite3 *db, const char *sql);

/* Run sql, which must return a row, and write its first column as text
 * into out[cap] (cut to fit). */
void db_text(sqlite3 *db, const char *sql, char *out, size_t cap);

#endif
