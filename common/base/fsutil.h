/* Small file-system helpers with the durability a ledger home needs:
 * files are written whole (temp file, fsync, rename) or not at all. */
#ifndef ADNET_FSUTIL_H
#define ADNET_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Create path and its missing parents with mode. Return 0 or -errno. */
int fs_mkdir_p(const char *path, mode_t mode);
/* Write len bytes to path atomically with the given mode: a temporary file
 * beside it, fsync, rename (or link without overwrite), fsync of the
 * folder, so that after a crash path holds the old bytes or the new ones,
 * and the new name survives. Refuse to replace an existing file unless
 * overwrite. Return 0, -EEXIST, or -errno (-ENOSPC for a full disk). */
int fs_write_file(const char *path, const void *data, size_t len, mode_t mode, bool overwrite);
/* Read the whole file (at most max bytes) into a NUL-terminated malloc'd
 * buffer owned by the caller. Return 0, -EFBIG, or -errno. */
int fs_read_file(const char *path, size_t max, char **out, size_t *len);
bool fs_exists(const char *path);
/* fsync the folder that holds path, so that a name created, renamed or
 * removed in it survives a crash. Return 0 or -errno. */
int fs_sync_parent(const char *path);
/* snprintf into out[cap]; return 0 or -ENAMETOOLONG. */
int fs_path(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
