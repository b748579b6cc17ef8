/* Process-level tests of what keeps a validator's key and data, with the
 * real adnet binary: `adnet init --force` keeps the key byte for byte and
 * moves the old configuration, geneses and ledgers aside (never deleting
 * them), and refuses a home in use or a key it cannot read; `adnet keys
 * export` / `import` copy keys as new 0600 files and refuse loose modes,
 * malformed keys, duplicates and existing names, overwriting nothing. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/exitcode.h"
#include "tests/integration/harness.h"
#include "tests/lib/file.h"
#include "tests/lib/suite.h"
#include "tests/lib/tmp.h"

Suite *test_suite(void);

#define FAST "--set", "alpha.block_interval_ms=200", "--set", "delta.block_interval_ms=100"

static node_t node;
static char other[PATH_MAX]; /* a second home or scratch directory, "" if none */

static void setup(void)
{
    ck_assert_msg(node_init(&node) == 0, "adnet init failed (ADNET_BIN=%s)", getenv("ADNET_BIN"));
    other[0] = '\0';
}

static void teardown(void)
{
    node_cleanup(&node);
    if (other[0] && !getenv("ADNET_KEEP_TEST_HOME"))
        tmp_remove(other);
}

/* home/rel into out[PATH_MAX + 64]. */
static char *in(const char *home, const char *rel, char *out)
{
    ck_assert_int_eq(tmp_join(out, PATH_MAX + 64, home, rel), 0);
    return out;
}

/* The file's contents, kept until 32 reads later (the checks compare at
 * once, or a few reads later), then freed. */
static char *read_all(const char *path)
{
    static char *ring[32];
    static unsigned at;
    free(ring[at % 32]);
    ring[at % 32] = file_read(path, NULL);
    return ring[at++ % 32];
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    ck_assert_msg(stat(path, &st) == 0, "%s is missing", path);
    return st.st_mode & 0777;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Run the CLI; its stdout into out[cap] (may be NULL), its stderr appended
 * to node.log; *err (if non-NULL) points at what this call added there. */
static int cli(char *out, size_t cap, const char **err, const char *const *args)
{
    static char *log;
    size_t before = 0;
    free(log);
    log = NULL;
    FILE *f = fopen(node.log, "r");
    if (f) {
        fseek(f, 0, SEEK_END);
        before = (size_t)ftell(f);
        fclose(f);
    }
    int rc = node_cli(&node, out, cap, args);
    if (err) {
        log = file_read(node.log, NULL);
        *err = log + before;
    }
    return rc;
}

/* The names in dir that start with prefix and end in ".bak", counted;
 * the first one into first[256] if non-NULL. */
static int count_bak(const char *dir, const char *prefix, char *first)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len > 4 &&
            strcmp(e->d_name + len - 4, ".bak") == 0) {
            if (n++ == 0 && first)
                snprintf(first, 256, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    return n;
}

/* The public key (hex) of validator 0 in chain's genesis under home. */
static char *genesis_validator(const char *home, const char *chain)
{
    static char pk[65];
    char path[PATH_MAX + 64], rel[32];
    snprintf(rel, sizeof(rel), "%s/genesis.json", chain);
    json_t *g = json_load_file(in(home, rel, path), 0, NULL);
    ck_assert_ptr_nonnull(g);
    json_t *v = json_array_get(json_object_get(g, "validators"), 0);
    snprintf(pk, sizeof(pk), "%s", json_string_value(json_object_get(v, "public_key")));
    json_decref(g);
    return pk;
}

static char *key_public(const char *path)
{
    static char pk[65];
    json_t *k = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(k);
    snprintf(pk, sizeof(pk), "%s", json_string_value(json_object_get(k, "public_key")));
    json_decref(k);
    return pk;
}

static void run_briefly(void)
{
    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert_msg(node_wait_running(&node, "delta", 15000), "delta never ran; see %s", node.log);
    ck_assert(node_wait_height(&node, "delta", 3, 10000));
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);
}

START_TEST(init_force_keeps_the_key_and_moves_old_files_aside)
{
    char key[PATH_MAX + 64], yaml[PATH_MAX + 64], gen[PATH_MAX + 64], dir[PATH_MAX + 64];
    char bak[256], out[8192];
    const char *err = NULL;
    in(node.home, "keys/validator.json", key);
    in(node.home, "adnet.yaml", yaml);
    in(node.home, "alpha/genesis.json", gen);
    run_briefly(); /* ledgers with blocks, to be kept */
    char *key_before = read_all(key), *gen_before = read_all(gen);
    file_write(yaml, "# the operator's own settings\nalpha:\n  block_interval_ms: 900\n");
    chmod(yaml, 0644);

    /* Without --force an existing home is refused, untouched. */
    const char *plain[] = { "init", "--home", node.home, NULL };
    ck_assert_int_eq(cli(NULL, 0, &err, plain), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "already holds a node"));
    ck_assert_str_eq(read_all(yaml), "# the operator's own settings\nalpha:\n  block_interval_ms: 900\n");

    const char *force[] = { "init", "--home", node.home, "--force", NULL };
    ck_assert_int_eq(cli(out, sizeof(out), NULL, force), 0);
    ck_assert_msg(strstr(out, "kept key") && strstr(out, "(unchanged, public key"), "%s", out);
    ck_assert_msg(strstr(out, "Back up your key now"), "no backup line:\n%s", out);
    /* The key: the same bytes, the same mode, and the new geneses name it. */
    char *key_after = read_all(key);
    ck_assert_str_eq(key_after, key_before);
    ck_assert_uint_eq(mode_of(key), 0600);
    ck_assert_str_eq(genesis_validator(node.home, "alpha"), key_public(key));
    ck_assert_str_eq(genesis_validator(node.home, "delta"), key_public(key));
    /* The old files are beside the new ones, whole. */
    ck_assert_int_eq(count_bak(node.home, "adnet.yaml.", bak), 1);
    ck_assert_str_eq(read_all(bak), "# the operator's own settings\nalpha:\n  block_interval_ms: 900\n");
    ck_assert_int_eq(count_bak(in(node.home, "alpha", dir), "genesis.json.", bak), 1);
    ck_assert_str_eq(read_all(bak), gen_before);
    ck_assert_int_eq(count_bak(in(node.home, "delta", dir), "genesis.json.", NULL), 1);
    for (int c = 0; c < 2; c++) {
        in(node.home, c ? "delta" : "alpha", dir);
        ck_assert_int_eq(count_bak(dir, "ledger.db.", bak), 1);
        ck_assert_msg(strstr(out, bak + strlen(dir) + 1), "init did not say it moved %s", bak);
        ck_assert_int_eq(node_ledger_height(&node, c ? "delta" : "alpha"), 0); /* a fresh start */
    }
    ck_assert_ptr_nonnull(strstr(read_all(yaml), "Every key is shown at its default value"));

    /* Twice in the same second: a second name, nothing replaced. */
    ck_assert_int_eq(cli(NULL, 0, NULL, force), 0);
    ck_assert_int_eq(cli(NULL, 0, NULL, force), 0);
    ck_assert_int_ge(count_bak(node.home, "adnet.yaml.", NULL), 3);
    ck_assert_int_eq(count_bak(in(node.home, "alpha", dir), "genesis.json.", NULL), 3);
    ck_assert_str_eq(read_all(key), key_before);
    /* The re-initialized home runs, signing with the same key. */
    run_briefly();
    ck_assert_str_eq(read_all(key), key_before);
}
END_TEST

START_TEST(init_refuses_a_running_node_and_a_key_it_cannot_use)
{
    char key[PATH_MAX + 64], yaml[PATH_MAX + 64], db[PATH_MAX + 64];
    const char *err = NULL;
    in(node.home, "keys/validator.json", key);
    in(node.home, "adnet.yaml", yaml);
    in(node.home, "delta/ledger.db", db);
    const char *force[] = { "init", "--home", node.home, "--force", NULL };

    const char *args[] = { FAST, NULL };
    ck_assert_int_eq(node_start(&node, args, NULL), 0);
    ck_assert(node_wait_running(&node, "delta", 15000));
    ck_assert_int_eq(cli(NULL, 0, &err, force), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, "is in use (pid ") && strstr(err, "stop the node first"), "%s", err);
    ck_assert(exists(db));
    ck_assert_int_eq(count_bak(node.home, "adnet.yaml.", NULL), 0);
    uint64_t h = node_ledger_height(&node, "delta");
    ck_assert(node_wait_height(&node, "delta", h + 2, 10000)); /* it did not notice */
    ck_assert_int_eq(node_stop(&node, SIGTERM, 15000), 0);

    /* A key others may read: refused, and nothing moves. */
    char *key_before = read_all(key), *yaml_before = read_all(yaml);
    ck_assert_int_eq(chmod(key, 0644), 0);
    ck_assert_int_eq(cli(NULL, 0, &err, force), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, "cannot be used") && strstr(err, "chmod 600") &&
                  strstr(err, "never replaces a key"), "%s", err);
    ck_assert_int_eq(chmod(key, 0600), 0);
    /* A damaged key: refused, left as it is. */
    file_write(key, "{\"name\":\"validator\"");
    ck_assert_int_eq(chmod(key, 0600), 0);
    ck_assert_int_eq(cli(NULL, 0, &err, force), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "cannot be used"));
    ck_assert_str_eq(read_all(key), "{\"name\":\"validator\"");
    ck_assert_str_eq(read_all(yaml), yaml_before);
    ck_assert_int_eq(count_bak(node.home, "adnet.yaml.", NULL), 0);
    ck_assert(exists(db));
    file_write(key, key_before);
}
END_TEST

/* Export the validator key of node.home to other/validator-backup.json
 * (made here) into file[PATH_MAX + 64]; return the key file's text. */
static char *export_validator(char *file)
{
    char key[PATH_MAX + 64], out[4096];
    ck_assert_int_eq(tmp_make(other, sizeof(other), "test-keys"), 0);
    in(other, "validator-backup.json", file);
    const char *exp[] = { "keys", "export", "validator", file, "--home", node.home, NULL };
    ck_assert_int_eq(cli(out, sizeof(out), NULL, exp), 0);
    ck_assert_ptr_nonnull(strstr(out, "mode 0600"));
    return read_all(in(node.home, "keys/validator.json", key));
}

START_TEST(keys_export_writes_a_new_0600_copy_only)
{
    char file[PATH_MAX + 64], out[4096];
    const char *err = NULL;
    char *key_before = export_validator(file);
    json_t *kj = json_loads(key_before, 0, NULL);
    /* The key file's bytes, mode 0600; the secret never on stdout. */
    ck_assert_uint_eq(mode_of(file), 0600);
    ck_assert_str_eq(read_all(file), key_before);
    const char *exp[] = { "keys", "export", "validator", file, "--home", node.home, NULL };
    ck_assert_int_eq(cli(out, sizeof(out), &err, exp), ADNET_EXIT_CONFIG); /* FILE exists now */
    ck_assert_ptr_null(strstr(out, json_string_value(json_object_get(kj, "secret_key"))));
    ck_assert_ptr_nonnull(strstr(err, "never replaces a file"));
    ck_assert_str_eq(read_all(file), key_before);
    const char *missing[] = { "keys", "export", "nobody", file, "--home", node.home, NULL };
    ck_assert_int_eq(cli(NULL, 0, &err, missing), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "no such key"));
    const char *nofile[] = { "keys", "export", "validator", "--home", node.home, NULL };
    ck_assert_int_eq(cli(NULL, 0, &err, nofile), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "name the file"));
    json_decref(kj);
}
END_TEST

/* A new machine: import the key into an empty home, then init keeps it. */
START_TEST(keys_import_moves_a_validator)
{
    char file[PATH_MAX + 64], home2[PATH_MAX + 64], path[PATH_MAX + 64], out[4096];
    char addr1[256] = "", addr2[256] = "";
    char *key_before = export_validator(file);
    in(other, "home2", home2);
    ck_assert_int_eq(mkdir(home2, 0700), 0);
    const char *imp[] = { "keys", "import", "validator", file, "--home", home2, NULL };
    ck_assert_int_eq(cli(out, sizeof(out), NULL, imp), 0);
    ck_assert_uint_eq(mode_of(in(home2, "keys/validator.json", path)), 0600);
    ck_assert_str_eq(read_all(path), key_before);
    const char *show1[] = { "keys", "show", "validator", "--home", node.home, NULL };
    const char *show2[] = { "keys", "show", "validator", "--home", home2, NULL };
    ck_assert_int_eq(cli(addr1, sizeof(addr1), NULL, show1), 0);
    ck_assert_int_eq(cli(addr2, sizeof(addr2), NULL, show2), 0);
    ck_assert_str_eq(addr1, addr2);
    const char *init2[] = { "init", "--home", home2, NULL };
    ck_assert_int_eq(cli(out, sizeof(out), NULL, init2), 0);
    ck_assert_msg(strstr(out, "kept key"), "%s", out);
    ck_assert_str_eq(read_all(path), key_before);
    ck_assert_str_eq(genesis_validator(home2, "delta"), key_public(path));
}
END_TEST

/* Write text to other/bad.json with mode; return its path. */
static char *bad_key_file(const char *text, mode_t mode)
{
    static char bad[PATH_MAX + 64];
    file_write(in(other, "bad.json", bad), text);
    ck_assert_int_eq(chmod(bad, mode), 0);
    return bad;
}

/* Import FILE as carol into node.home: refused with why in its message. */
static void import_refused(const char *file, const char *why)
{
    const char *err = NULL;
    const char *imp[] = { "keys", "import", "carol", file, "--home", node.home, NULL };
    ck_assert_int_eq(cli(NULL, 0, &err, imp), ADNET_EXIT_CONFIG);
    ck_assert_msg(strstr(err, why), "import of %s: expected \"%s\", got: %s", file, why, err);
}

START_TEST(keys_import_refuses_bad_input_and_overwrites_nothing)
{
    char file[PATH_MAX + 64], path[PATH_MAX + 64], pk[65];
    const char *err = NULL;
    char *key_before = export_validator(file);
    json_t *kj = json_loads(key_before, 0, NULL);
    /* The name exists; under another name it is a duplicate. */
    const char *same[] = { "keys", "import", "validator", file, "--home", node.home, NULL };
    ck_assert_int_eq(cli(NULL, 0, &err, same), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "already exists"));
    import_refused(file, "holds the same key as \"validator\"");
    import_refused(bad_key_file(key_before, 0640), "accessible by group or others");
    import_refused(bad_key_file(key_before, 0604), "run chmod 600");
    import_refused(bad_key_file("{\"name\":\"carol\",\"public_key\":", 0600), "not imported");
    import_refused(bad_key_file("{\"name\":\"carol\"}", 0600), "not imported");
    /* A secret key that does not match its public key. */
    json_t *tampered = json_deep_copy(kj);
    snprintf(pk, sizeof(pk), "%s", json_string_value(json_object_get(kj, "public_key")));
    pk[0] = pk[0] == 'a' ? 'b' : 'a';
    json_object_set_new(tampered, "public_key", json_string(pk));
    char *text = json_dumps(tampered, 0);
    import_refused(bad_key_file(text, 0600), "does not match");
    free(text);
    json_decref(tampered);
    import_refused("/nonexistent/k.json", "No such file or directory");
    const char *badname[] = { "keys", "import", "../x", file, "--home", node.home, NULL };
    ck_assert_int_eq(cli(NULL, 0, &err, badname), ADNET_EXIT_CONFIG);
    ck_assert_ptr_nonnull(strstr(err, "bad key name"));
    /* Nothing was written, nothing that was there changed. */
    ck_assert(!exists(in(node.home, "keys/carol.json", path)));
    ck_assert(!exists(in(node.home, "x.json", path)));
    ck_assert_str_eq(read_all(in(node.home, "keys/validator.json", path)), key_before);
    json_decref(kj);
}
END_TEST

Suite *test_suite(void)
{
    static const suite_spec_t spec = { "safety", "keys", 120, setup, teardown };
    return suite_build(&spec, SUITE_TESTS(init_force_keeps_the_key_and_moves_old_files_aside,
                                          init_refuses_a_running_node_and_a_key_it_cannot_use,
                                          keys_export_writes_a_new_0600_copy_only,
                                          keys_import_moves_a_validator,
                                          keys_import_refuses_bad_input_and_overwrites_nothing));
}
