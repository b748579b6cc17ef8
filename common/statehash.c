#include "common/statehash.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

static void put_len(crypto_generichash_state *st, uint8_t type, size_t n)
{
    uint8_t b[5] = { type, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };
    crypto_generichash_update(st, b, sizeof(b));
}

int statehash_queries(sqlite3 *db, const char *tag, const char *const *sql, size_t n,
                      uint8_t out[32])
{
    crypto_generichash_state st;
    sqlite3_stmt *stmt = NULL;
    int r = 0;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const unsigned char *)tag, strlen(tag));
    for (size_t q = 0; q < n; q++) {
        if (sqlite3_prepare_v2(db, sql[q], -1, &stmt, NULL) != SQLITE_OK) {
            r = -EIO;
            goto out;
        }
        put_len(&st, 'Q', q);
        int rc;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            int cols = sqlite3_column_count(stmt);
            put_len(&st, 'R', (size_t)cols);
            for (int i = 0; i < cols; i++) {
                if (sqlite3_column_type(stmt, i) == SQLITE_NULL) {
                    put_len(&st, 'N', 0);
                    continue;
                }
                /* Integers hash as their decimal text: one spelling per value. */
                const unsigned char *v = sqlite3_column_text(stmt, i);
                size_t len = (size_t)sqlite3_column_bytes(stmt, i);
                put_len(&st, 'V', len);
                crypto_generichash_update(&st, v, len);
            }
        }
        if (rc != SQLITE_DONE) {
            r = -EIO;
            goto out;
        }
        sqlite3_finalize(stmt);
        stmt = NULL;
    }
    crypto_generichash_final(&st, out, 32);
out:
    sqlite3_finalize(stmt);
    return r;
}
