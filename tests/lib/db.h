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

/* Run sql, which must return a row, and return its first column as an
 * integer. */
int db_int(sqlite3 *db, const char *sql);

/* Run sql, which must return a row, and write its first column as text
 * into out[cap] (cut to fit). */
void db_text(sqlite3 *db, const char *sql, char *out, size_t cap);

#endif
