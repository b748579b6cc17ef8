/* Moving an operator's files out of the way without deleting any: what
 * `adnet init --force` and `adnet restore` do with the files they
 * replace. */
#ifndef ADNET_ASIDE_H
#define ADNET_ASIDE_H

#include <stddef.h>

#define ASIDE_STAMP_MAX 32

/* The current UTC time as a name suffix, e.g. 20261202T053000Z, into
 * out[ASIDE_STAMP_MAX]. */
void aside_stamp(char out[ASIDE_STAMP_MAX]);

/* rename(from, to), but never over an existing to (errno EEXIST then):
 * renameat2's RENAME_NOREPLACE, or link and unlink on a file system
 * without it. Return 0 or -1 with errno set. */
int aside_rename_noreplace(const char *from, const char *to);

/* Move the files dir/name<suffix[i]> that exist aside, to one free name
 * dir/name.<stamp>[-k].bak<suffix[i]> for all of them (a WAL keeps its
 * ledger's name), never replacing a file, and print a line for each.
 * Return 0, -EEXIST (no free name), -ENAMETOOLONG or -errno. */
int aside_move(const char *dir, const char *name, const char *const *suffix, size_t n,
               const char *stamp);

#endif
