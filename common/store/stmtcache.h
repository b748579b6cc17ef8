/* Prepared-statement cache for a connection's hot path. The owner of a
 * connection (the worker's writer) attaches a cache; code that runs SQL
 * calls stmt_prepare/stmt_release instead of sqlite3_prepare_v2/
 * sqlite3_finalize and gets, on a cached connection, the statement
 * prepared once (reset, bindings cleared) instead of parsing the SQL again.
 * On any other connection (the API's read-only ones) the two calls are
 * plain prepare and finalize. A statement still in use when the same SQL
 * is asked for again (a nested query) is prepared afresh. */
#ifndef ADNET_STMTCACHE_H
#define ADNET_STMTCACHE_H

#include <sqlite3.h>

/* Give db a cache. Return 0, -EEXIST (already has one), -ENOSPC (too many
 * cached connections in this process), or -ENOMEM. */
int stmt_cache_attach(sqlite3 *db);
/* Finalize db's cached statements and drop its cache (before closing db);
 * no-op without one. */
void stmt_cache_detach(sqlite3 *db);

/* Prepare sql on db (from db's cache if it has one). Return 0 and *out,
 * or -EIO (SQLite refused the SQL; sqlite3_errmsg(db) says why) / -ENOMEM. */
int stmt_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
/* Give st back (reset and keep it if cached, otherwise finalize); NULL-safe. */
void stmt_release(sqlite3_stmt *st);

#endif
