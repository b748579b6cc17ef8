/* Temporary directories for tests: each made fresh under $TMPDIR (or /tmp
 * when that is unset or empty) and removed again with everything in it.
 *
 * tmp_make, tmp_remove and tmp_join return 0 or a negative errno and never
 * stop the process: the process harness and the benchmarks use them. The
 * tmp_dir_* and tmp_ledger_* fixtures are for Check suites: they fail the
 * running test instead of returning an error. */
#ifndef ADNET_TEST_TMP_H
#define ADNET_TEST_TMP_H

#include <stddef.h>

#define TMP_PATH_MAX 512

/* Make a new directory <$TMPDIR or /tmp>/adnet-<tag>-XXXXXX (mode 0700)
 * and write its path into dir[cap]. Return 0, -ENAMETOOLONG (the path does
 * not fit in cap), or mkdtemp's -errno; dir is written only on success. */
int tmp_make(char *dir, size_t cap, const char *tag);

/* Remove path and, if it is a directory, everything below it, depth first,
 * without following symbolic links (nftw with FTW_PHYS). A path that does
 * not exist is no error. Return 0 or the -errno of the first entry that
 * could not be removed (the rest is still tried). */
int tmp_remove(const char *path);

/* Write dir "/" name into out[cap]. Return 0 or -ENAMETOOLONG, leaving out
 * untouched. */
int tmp_join(char *out, size_t cap, const char *dir, const char *name);

/* A directory one test owns. */
typedef struct {
    char dir[TMP_PATH_MAX];  /* the directory itself */
} tmp_dir_t;

/* Make t->dir with tmp_make("test-<tag>"); fail the test if that fails. */
void tmp_dir_init(tmp_dir_t *t, const char *tag);
/* Write t->dir/name into out[TMP_PATH_MAX] and return out; fail the test
 * if it does not fit. Nothing is created. */
char *tmp_dir_path(const tmp_dir_t *t, const char *name, char out[TMP_PATH_MAX]);
/* Remove t->dir and all in it; fail the test if anything stays. */
void tmp_dir_cleanup(const tmp_dir_t *t);

/* A test's directory laid out for one ledger and its genesis file. Only
 * the directory is created; the paths are where the test puts them. */
typedef struct {
    char dir[TMP_PATH_MAX];      /* the directory itself */
    char db[TMP_PATH_MAX];       /* dir/ledger.db */
    char wal[TMP_PATH_MAX + 4];  /* db-wal: the write-ahead log SQLite keeps beside it */
    char shm[TMP_PATH_MAX + 4];  /* db-shm: the WAL's shared-memory index */
    char genesis[TMP_PATH_MAX];  /* dir/genesis.json */
} tmp_ledger_t;

/* Make t->dir with tmp_make("test-<tag>") and fill in the paths in it;
 * fail the test if that fails. */
void tmp_ledger_init(tmp_ledger_t *t, const char *tag);
/* Remove t->dir and all in it (the ledger, its -wal and -shm, the genesis,
 * anything else the test left there); fail the test if anything stays. */
void tmp_ledger_cleanup(const tmp_ledger_t *t);

#endif
