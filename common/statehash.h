/* A state root computed by hashing the rows of ordered SQL queries:
 * BLAKE2b-256 over a domain tag, then for each row and column a type byte,
 * a u32 length and the value's bytes. Deterministic for the same rows in
 * the same order, whatever the insertion history. The chains' sparse
 * Merkle trees (with proofs) replace it where proofs are needed. */
#ifndef ADNET_STATEHASH_H
#define ADNET_STATEHASH_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Hash tag, then the rows of each of the n queries in turn, into out[32].
 * Each query must have an ORDER BY that makes its order total.
 * Return 0 or -EIO. */
int statehash_queries(sqlite3 *db, const char *tag, const char *const *sql, size_t n,
                      uint8_t out[32]);

#endif
