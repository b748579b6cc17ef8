/* How far a mistyped name is from a known one, for "did you mean ..."
 * suggestions (configuration keys, command-line options). Pure: no
 * allocation, no I/O. */
#ifndef ADNET_TYPO_H
#define ADNET_TYPO_H

#include <stddef.h>

#define TYPO_LEN_MAX 128 /* longest input typo_distance compares */

/* Return the optimal string alignment distance between a[0..la) and
 * b[0..lb): Levenshtein (insert, delete, substitute) plus the swap of two
 * adjacent characters, the commonest typo. Return SIZE_MAX if la or lb is
 * above TYPO_LEN_MAX. */
size_t typo_distance(const char *a, size_t la, const char *b, size_t lb);

#endif
