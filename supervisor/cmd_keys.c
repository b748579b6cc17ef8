/* `adnet keys new|show|list|export|import`: Ed25519 key files under
 * HOME/keys and their addresses. Secret keys never reach stdout; only
 * names, addresses and public keys are printed. A key file is never
 * overwritten: export and import write new 0600 files only. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/bech32.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/base/keys.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"

#define KEYS_SUFFIX ".json"
#define KEYS_LIST_MAX 4096 /* key files listed at most; more is not a key ring */

static void keys_usage(FILE *f)
{
    fprintf(f,
        "usage: adnet keys new NAME  --home DIR [--json]   make a key, print its address\n"
        "       adnet keys show NAME --home DIR [--json]   print a key's address\n"
        "       adnet keys list      --home DIR [--json]   every key, sorted by name\n"
        "       adnet keys export NAME FILE --home DIR    copy a key to FILE (a backup)\n"
        "       adnet keys import NAME FILE --home DIR    add the key in FILE as NAME\n"
        "\n"
        "Key files are HOME/keys/NAME.json (mode 0600); the node's own key is named\n"
        "\"validator\". NAME is 1-64 of A-Z a-z 0-9 . _ - and does not start with '.'.\n"
        "Addresses are bech32m with the prefix \"ad\" (ad1...). --json prints\n"
        "{\"name\", \"address\", \"public_key\"} objects (list: an array of them).\n"
        "export writes a new FILE, mode 0600, byte for byte the key file; it never\n"
        "replaces a file. import reads a key file (it must be mode 0600 or stricter,\n"
        "well formed, its secret key matching its public key) and refuses a NAME that\n"
        "exists and a key that is already in HOME/keys under another name; nothing\n"
        "is ever overwritten. To move a validator: export on the old machine, import\n"
        "as validator on the new one before adnet init (init keeps the key).\n"
        "--home defaults to $ADNET_HOME. Exit codes: 0 ok, 100 usage or key error,\n"
        "111 system error.\n");
}

static int bad_name(const char *verb, const char *name)
{
    fprintf(stderr, "adnet keys %s: bad key name \"%s\": use 1-%d of A-Z a-z 0-9 . _ - "
            "not starting with '.'\n", verb, name, KEYS_NAME_MAX);
    return ADNET_EXIT_CONFIG;
}

/* Exit code for a failed key-file operation: the user's to fix, or the system's. */
static int exit_for(int r)
{
    switch (-r) {
    case ENOENT: case EEXIST: case EINVAL: case EPERM: case ENAMETOOLONG: case ENOTDIR:
    case EISDIR: case EFBIG:
        return ADNET_EXIT_CONFIG;
    default:
        return ADNET_EXIT_SYSTEM;
    }
}

/* {"name", "address", "public_key"} of kp, or NULL when out of memory. */
static json_t *key_json(const char *name, const keys_pair_t *kp)
{
    char addr[ADDRESS_MAX], pkhex[2 * crypto_sign_PUBLICKEYBYTES + 1];
    if (address_encode(addr, kp->pk) < 0)
        return NULL;
    hex_encode(pkhex, kp->pk, sizeof(kp->pk));
    return json_pack("{s:s, s:s, s:s}", "name", name, "address", addr, "public_key", pkhex);
}

static int print_json(json_t *j)
{
    if (!j) {
        fprintf(stderr, "adnet keys: out of memory\n");
        return ADNET_EXIT_SYSTEM;
    }
    int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (r < 0 || fputc('\n', stdout) == EOF) {
        fprintf(stderr, "adnet keys: cannot write to stdout\n");
        return ADNET_EXIT_SYSTEM;
    }
    return ADNET_EXIT_OK;
}

/* Print one key as the address alone, or as a JSON object. */
static int print_key(const char *name, const keys_pair_t *kp, bool json)
{
    if (json)
        return print_json(key_json(name, kp));
    char addr[ADDRESS_MAX];
    if (address_encode(addr, kp->pk) < 0) {
        fprintf(stderr, "adnet keys: cannot encode the address of %s\n", name);
        return ADNET_EXIT_SYSTEM;
    }
    printf("%s\n", addr);
    return ADNET_EXIT_OK;
}

/* HOME/keys/NAME.json into path[PATH_MAX], its directory into dir (if
 * non-NULL); 0, or an exit code once the reason is printed. */
static int key_path(const char *verb, const char *home, const char *name, char *path,
                    char *dir)
{
    if (!keys_name_is_valid(name))
        return bad_name(verb, name);
    if ((dir && fs_path(dir, PATH_MAX, "%s/keys", home) < 0) ||
        fs_path(path, PATH_MAX, "%s/keys/%s%s", home, name, KEYS_SUFFIX) < 0) {
        fprintf(stderr, "adnet keys %s: home path too long\n", verb);
        return ADNET_EXIT_CONFIG;
    }
    return ADNET_EXIT_OK;
}

/* Create dir (HOME/keys) if missing; 0, or an exit code once printed. */
static int make_keys_dir(const char *verb, const char *dir)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        int r = -errno;
        fprintf(stderr, "adnet keys %s: cannot create %s: %s\n", verb, dir, strerror(-r));
        return exit_for(r);
    }
    return ADNET_EXIT_OK;
}

/* Load the key NAME of home into *kp (path: its file). Return 0, or an
 * exit code once the reason is printed. */
static int load_named(const char *verb, const char *home, const char *name, keys_pair_t *kp,
                      char *path)
{
    char err[KEYS_ERR_MAX];
    int r, rc = key_path(verb, home, name, path, NULL);
    if (rc != ADNET_EXIT_OK)
        return rc;
    if ((r = keys_load(kp, path, err)) < 0) {
        if (r == -ENOENT)
            fprintf(stderr, "adnet keys %s: no such key \"%s\" (%s does not exist; see adnet "
                    "keys list)\n", verb, name, path);
        else
            fprintf(stderr, "adnet keys %s: %s\n", verb, err);
        return exit_for(r);
    }
    return ADNET_EXIT_OK;
}

static int keys_new(const char *home, const char *name, bool json)
{
    char dir[PATH_MAX], path[PATH_MAX];
    keys_pair_t kp;
    int r, rc = key_path("new", home, name, path, dir);

    memset(&kp, 0, sizeof(kp));
    if (rc != ADNET_EXIT_OK || (rc = make_keys_dir("new", dir)) != ADNET_EXIT_OK)
        return rc;
    if (fs_exists(path)) {
        fprintf(stderr, "adnet keys new: a key named \"%s\" already exists (%s)\n", name, path);
        return ADNET_EXIT_CONFIG;
    }
    rc = ADNET_EXIT_SYSTEM;
    if ((r = keys_generate(&kp, name)) < 0) {
        fprintf(stderr, "adnet keys new: cannot generate a key: %s\n", strerror(-r));
        goto out;
    }
    if ((r = keys_save(&kp, path, 0)) < 0) {
        if (r == -EEXIST)
            fprintf(stderr, "adnet keys new: a key named \"%s\" already exists (%s)\n", name,
                    path);
        else
            fprintf(stderr, "adnet keys new: cannot write %s: %s\n", path, strerror(-r));
        rc = exit_for(r);
        goto out;
    }
    rc = print_key(name, &kp, json);
out:
    keys_wipe(&kp);
    return rc;
}

static int keys_show(const char *home, const char *name, bool json)
{
    char path[PATH_MAX];
    keys_pair_t kp;
    memset(&kp, 0, sizeof(kp));
    int rc = load_named("show", home, name, &kp, path);
    if (rc == ADNET_EXIT_OK)
        rc = print_key(name, &kp, json);
    keys_wipe(&kp);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of HOME/keys/NAME.json, sorted, into a malloc'd array of
 * malloc'd strings. A missing keys directory holds no keys. */
static int list_names(const char *dir, char ***out, size_t *count)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int r = 0;
    struct dirent *e;

    if (!d) {
        if (errno != ENOENT)
            return -errno;
        *out = NULL;
        *count = 0;
        return 0;
    }
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), sl = strlen(KEYS_SUFFIX);
        /* Skip dot files and the temporary files of an interrupted save. */
        if (e->d_name[0] == '.' || len <= sl || strcmp(e->d_name + len - sl, KEYS_SUFFIX) != 0)
            continue;
        if (n == KEYS_LIST_MAX) {
            r = -EFBIG;
            goto out;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char **bigger = realloc(names, ncap * sizeof(*names));
            if (!bigger) {
                r = -ENOMEM;
                goto out;
            }
            names = bigger;
            cap = ncap;
        }
        if (!(names[n] = strndup(e->d_name, len - sl))) {
            r = -ENOMEM;
            goto out;
        }
        n++;
        errno = 0;
    }
    if (errno != 0) {
        r = -errno;
        goto out;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    *out = names;
    *count = n;
    names = NULL;
out:
    if (names) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
    }
    closedir(d);
    return r;
}

static int keys_list(const char *home, bool json)
{
    char dir[PATH_MAX], path[PATH_MAX], err[KEYS_ERR_MAX], addr[ADDRESS_MAX];
    char **names = NULL;
    size_t n = 0, failed = 0;
    int width = 4, r, rc = ADNET_EXIT_SYSTEM;
    json_t *arr = NULL;
    keys_pair_t kp;

    memset(&kp, 0, sizeof(kp));
    if (fs_path(dir, sizeof(dir), "%s/keys", home) < 0) {
        fprintf(stderr, "adnet keys list: home path too long\n");
        return ADNET_EXIT_CONFIG;
    }
    if ((r = list_names(dir, &names, &n)) < 0) {
        fprintf(stderr, "adnet keys list: cannot read %s: %s\n", dir,
                r == -EFBIG ? "more than 4096 key files" : strerror(-r));
        return exit_for(r);
    }
    if (json && !(arr = json_array())) {
        fprintf(stderr, "adnet keys list: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if ((int)strlen(names[i]) > width)
            width = (int)strlen(names[i]);
    for (size_t i = 0; i < n; i++) {
        const char *why = NULL;
        if (!keys_name_is_valid(names[i]))
            why = "not a valid key name (rename the file)";
        else if (fs_path(path, sizeof(path), "%s/%s%s", dir, names[i], KEYS_SUFFIX) < 0)
            why = "path too long";
        else if (keys_load(&kp, path, err) < 0)
            why = err;
        json_t *item = NULL;
        if (why) {
            failed++;
            if (json)
                item = json_pack("{s:s, s:s}", "name", names[i], "error", why);
            else
                printf("%-*s  error: %s\n", width, names[i], why);
        } else if (json) {
            item = key_json(names[i], &kp);
        } else if (address_encode(addr, kp.pk) == 0) {
            printf("%-*s  %s\n", width, names[i], addr);
        }
        keys_wipe(&kp);
        if (json && (!item || json_array_append_new(arr, item) < 0)) {
            fprintf(stderr, "adnet keys list: out of memory\n");
            goto out;
        }
    }
    if (json) {
        rc = print_json(arr);
        arr = NULL;
        if (rc != ADNET_EXIT_OK)
            goto out;
    } else if (fflush(stdout) == EOF) {
        fprintf(stderr, "adnet keys list: cannot write to stdout\n");
        goto out;
    }
    rc = ADNET_EXIT_OK;
    /* Every key was listed; a broken one still fails the command so that
     * scripts notice it. */
    if (failed > 0) {
        fprintf(stderr, "adnet keys list: %zu of %zu key files failed to load\n", failed, n);
        rc = ADNET_EXIT_CONFIG;
    }
out:
    json_decref(arr);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* `keys export NAME FILE`: the key file's bytes, checked as a key, to a
 * new FILE of mode 0600. */
static int keys_export(const char *home, const char *name, const char *file)
{
    char path[PATH_MAX], addr[ADDRESS_MAX] = "";
    char *text = NULL;
    size_t len = 0;
    keys_pair_t kp;
    int r, rc;

    memset(&kp, 0, sizeof(kp));
    if ((rc = load_named("export", home, name, &kp, path)) != ADNET_EXIT_OK)
        return rc;
    address_encode(addr, kp.pk);
    keys_wipe(&kp);
    if ((r = fs_read_file(path, 64 * 1024, &text, &len)) < 0 ||
        (r = fs_write_file(file, text, len, 0600, false)) < 0) {
        fprintf(stderr, "adnet keys export: cannot write %s: %s%s\n", file, strerror(-r),
                r == -EEXIST ? " (export never replaces a file)" : "");
        rc = exit_for(r);
    } else {
        printf("exported key %s (%s) to %s, mode 0600. Keep it offline: whoever holds it "
               "signs as this key.\n", name, addr, file);
    }
    if (text) {
        sodium_memzero(text, len);
        free(text);
    }
    return rc;
}

/* The name of the key in dir whose public key is pk, into out[cap]; 0 if
 * there is one, -ENOENT if none, or -errno. Unreadable key files are
 * passed over (adnet keys list names them). */
static int find_public_key(const char *dir, const uint8_t *pk, char *out, size_t cap)
{
    char **names = NULL, path[PATH_MAX], err[KEYS_ERR_MAX];
    size_t n = 0;
    keys_pair_t kp;
    int r = list_names(dir, &names, &n), found = -ENOENT;
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (found < 0 && fs_path(path, sizeof(path), "%s/%s%s", dir, names[i], KEYS_SUFFIX) == 0 &&
            keys_load(&kp, path, err) == 0) {
            if (memcmp(kp.pk, pk, sizeof(kp.pk)) == 0) {
                snprintf(out, cap, "%s", names[i]);
                found = 0;
            }
            keys_wipe(&kp);
        }
        free(names[i]);
    }
    free(names);
    return r < 0 ? r : found;
}

/* `keys import NAME FILE`: a checked key file as the new key NAME. */
static int keys_import(const char *home, const char *name, const char *file)
{
    char dir[PATH_MAX], path[PATH_MAX], err[KEYS_ERR_MAX], other[KEYS_NAME_MAX + 1];
    keys_pair_t kp;
    int r, rc = key_path("import", home, name, path, dir);

    memset(&kp, 0, sizeof(kp));
    if (rc != ADNET_EXIT_OK)
        return rc;
    if ((r = keys_load(&kp, file, err)) < 0) {
        fprintf(stderr, "adnet keys import: %s: not imported\n", err);
        return exit_for(r);
    }
    rc = ADNET_EXIT_CONFIG;
    if (fs_exists(path)) {
        fprintf(stderr, "adnet keys import: a key named \"%s\" already exists (%s); nothing "
                "is overwritten: import it under another name\n", name, path);
        goto out;
    }
    if ((rc = make_keys_dir("import", dir)) != ADNET_EXIT_OK)
        goto out;
    rc = ADNET_EXIT_CONFIG;
    if ((r = find_public_key(dir, kp.pk, other, sizeof(other))) == 0) {
        fprintf(stderr, "adnet keys import: %s holds the same key as \"%s\" (%s/%s%s): not "
                "imported twice\n", file, other, dir, other, KEYS_SUFFIX);
        goto out;
    }
    snprintf(kp.name, sizeof(kp.name), "%s", name);
    if ((r = keys_save(&kp, path, 0)) < 0) {
        fprintf(stderr, "adnet keys import: cannot write %s: %s\n", path, strerror(-r));
        rc = exit_for(r);
        goto out;
    }
    printf("imported key %s to %s (mode 0600)\n", name, path);
    rc = print_key(name, &kp, false);
out:
    keys_wipe(&kp);
    return rc;
}

typedef struct {
    const char *home; /* --home, else $ADNET_HOME */
    const char *verb; /* new, show, list, export or import */
    const char *name; /* the key, for all but list */
    const char *file; /* export and import: the other file */
    bool json;
    bool help;        /* --help or the verb "help" */
} keys_args_t;

static const struct option keys_opts[] = {
    { "home", required_argument, NULL, 'H' },
    { "json", no_argument, NULL, 'j' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Read the options into *a, leaving optind at the first operand. Return
 * 0, or -EINVAL once the mistake is printed. */
static int keys_options(int argc, char **argv, keys_args_t *a)
{
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", keys_opts, NULL)) != -1) {
        switch (c) {
        case 'H': a->home = optarg; break;
        case 'j': a->json = true; break;
        case 'h': a->help = true; return 0;
        default:
            cliopt_fail("keys", keys_opts, c, argv);
            return -EINVAL;
        }
    }
    return 0;
}

/* Read the subcommand and its key name from argv[optind..] into *a.
 * Return 0, or -EINVAL once the mistake is printed. */
static int keys_operands(int argc, char **argv, keys_args_t *a)
{
    static const char *const verbs[] = { "new", "show", "list", "export", "import" };
    static const int operands[] = { 1, 1, 0, 2, 2 }; /* NAME, and FILE */
    int want = -1;
    if (optind < argc)
        a->verb = argv[optind++];
    if (!a->verb) {
        fprintf(stderr, "adnet keys: name a subcommand: new, show, list, export or import (see "
                "adnet keys --help)\n");
        return -EINVAL;
    }
    if (strcmp(a->verb, "help") == 0) {
        a->help = true;
        return 0;
    }
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(a->verb, verbs[i]) == 0)
            want = operands[i];
    if (want < 0) {
        fprintf(stderr, "adnet keys: unknown subcommand \"%s\": expected new, show, list, "
                "export or import\n", a->verb);
        return -EINVAL;
    }
    if (argc - optind < want) {
        fprintf(stderr, "adnet keys %s: %s, e.g. adnet keys %s alice%s\n", a->verb,
                want == 1 || optind >= argc ? "name the key" : "name the file", a->verb,
                want == 2 ? " alice.json" : "");
        return -EINVAL;
    }
    if (want >= 1)
        a->name = argv[optind++];
    if (want == 2)
        a->file = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "adnet keys %s: unexpected argument \"%s\"\n", a->verb, argv[optind]);
        return -EINVAL;
    }
    return 0;
}

/* Return 0 if home is a directory, or -errno once the reason is printed. */
static int keys_check_home(const char *home)
{
    struct stat st;
    int e = 0;
    if (stat(home, &st) < 0)
        e = errno;
    else if (!S_ISDIR(st.st_mode))
        e = ENOTDIR;
    if (e != 0)
        fprintf(stderr, "adnet keys: %s: %s%s\n", home, strerror(e),
                e == ENOENT ? " (create it with adnet init --home DIR)" : "");
    return -e;
}

int cmd_keys(int argc, char **argv)
{
    keys_args_t a = { 0 };
    if (keys_options(argc, argv, &a) < 0)
        return ADNET_EXIT_CONFIG;
    if (!a.help && keys_operands(argc, argv, &a) < 0)
        return ADNET_EXIT_CONFIG;
    if (a.help) {
        keys_usage(stdout);
        return ADNET_EXIT_OK;
    }
    if (!a.home)
        a.home = getenv("ADNET_HOME");
    if (!a.home || !*a.home) {
        fprintf(stderr, "adnet keys: no node home: pass --home DIR or set ADNET_HOME\n");
        return ADNET_EXIT_CONFIG;
    }
    int r = keys_check_home(a.home);
    if (r < 0)
        return exit_for(r);
    if (strcmp(a.verb, "new") == 0)
        return keys_new(a.home, a.name, a.json);
    if (strcmp(a.verb, "show") == 0)
        return keys_show(a.home, a.name, a.json);
    if (strcmp(a.verb, "export") == 0)
        return keys_export(a.home, a.name, a.file);
    if (strcmp(a.verb, "import") == 0)
        return keys_import(a.home, a.name, a.file);
    return keys_list(a.home, a.json);
}
