/* common/store/ledger_files.c: a ledger's files deleted, replaced or made
 * unreadable under the process that has them open are noticed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/store/ledger_files.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

/* A fake ledger's files (a -wal and -shm if asked) in t, watched by f. */
static void watch_new(tmp_ledger_t *t, ledger_files_t *f, bool wal, bool shm)
{
    char why[LEDGER_FILES_WHY_MAX];
    tmp_ledger_init(t, "files");
    file_write(t->db, "db");
    if (wal)
        file_write(t->wal, "wal");
    if (shm)
        file_write(t->shm, "shm");
    ck_assert_int_eq(ledger_files_init(f, t->db, why), 0);
    ck_assert_int_eq(ledger_files_check(f, why), 0);
}

START_TEST(test_unchanged_is_fine)
{
    tmp_ledger_t t;
    ledger_files_t f;
    char why[LEDGER_FILES_WHY_MAX];
    watch_new(&t, &f, true, false);
    file_write(t.wal, "more wal"); /* the same file, written: still fine */
    ck_assert_int_eq(ledger_files_check(&f, why), 0);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_deleted)
{
    tmp_ledger_t t;
    ledger_files_t f;
    char why[LEDGER_FILES_WHY_MAX];
    watch_new(&t, &f, true, true);
    ck_assert_int_eq(unlink(t.wal), 0);
    ck_assert_int_eq(ledger_files_check(&f, why), -ESTALE);
    ck_assert_ptr_nonnull(strstr(why, t.wal));
    ck_assert_ptr_nonnull(strstr(why, "was deleted while the node had it open"));
    tmp_ledger_cleanup(&t);

    watch_new(&t, &f, false, false);
    ck_assert_int_eq(unlink(t.db), 0);
    ck_assert_int_eq(ledger_files_check(&f, why), -ESTALE);
    ck_assert_ptr_nonnull(strstr(why, "ledger.db was deleted"));
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_replaced)
{
    tmp_ledger_t t;
    ledger_files_t f;
    char why[LEDGER_FILES_WHY_MAX], other[TMP_PATH_MAX + 16];
    watch_new(&t, &f, false, false);
    /* cp over the name keeps the inode; mv of a copy over it does not. */
    snprintf(other, sizeof other, "%s/copy", t.dir);
    file_write(other, "db");
    ck_assert_int_eq(rename(other, t.db), 0);
    ck_assert_int_eq(ledger_files_check(&f, why), -ESTALE);
    ck_assert_ptr_nonnull(strstr(why, "is not the file the node opened any more"));
    tmp_ledger_cleanup(&t);
}
END_TEST

/* A name that held nothing at init (a -wal made later) is watched once it
 * holds a file. */
START_TEST(test_made_later)
{
    tmp_ledger_t t;
    ledger_files_t f;
    char why[LEDGER_FILES_WHY_MAX];
    watch_new(&t, &f, false, false);
    file_write(t.wal, "wal");
    ck_assert_int_eq(ledger_files_check(&f, why), 0);
    ck_assert_int_eq(unlink(t.wal), 0);
    ck_assert_int_eq(ledger_files_check(&f, why), -ESTALE);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_unreadable)
{
    tmp_ledger_t t;
    ledger_files_t f;
    char why[LEDGER_FILES_WHY_MAX];
    watch_new(&t, &f, false, false);
    ck_assert_int_eq(chmod(t.db, 0), 0);
    /* root may read and write any file: then mode 0 changes nothing. */
    if (geteuid() != 0) {
        ck_assert_int_eq(ledger_files_check(&f, why), -EACCES);
        ck_assert_ptr_nonnull(strstr(why, "cannot be read and written any more"));
    } else {
        ck_assert_int_eq(ledger_files_check(&f, why), 0);
    }
    chmod(t.db, 0600);
    tmp_ledger_cleanup(&t);
}
END_TEST

START_TEST(test_path_too_long)
{
    char longp[PATH_MAX + 8], why[LEDGER_FILES_WHY_MAX];
    ledger_files_t f;
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    ck_assert_int_eq(ledger_files_init(&f, longp, why), -ENAMETOOLONG);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = {.name = "ledger_files", .tcase = "core"};
    return suite_build(&spec, SUITE_TESTS(test_unchanged_is_fine, test_deleted, test_replaced,
                                          test_made_later, test_unreadable, test_path_too_long));
}
