/* `adnet keys new|show|list`: Ed25519 key files under HOME/keys and their
 * addresses. Secret keys never reach stdout; only names, addresses and
 * public keys are printed. */
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

#define KEYS_SUFFIX ".json"
#define KEYS_LIST_MAX 4096 /* key files listed at most; more is not a key ring */

static void keys_usage(FILE *f)
{
    fprintf(f,
        "usage: adnet keys new NAME  --home DIR [--json]   make a key, print its address\n"
        "       adnet keys show NAME --home DIR [--json]   print a key's address\n"
        "       adnet keys list      --home DIR [--json]   every key, sorted by name\n"
        "\n"
        "Key files are HOME/keys/NAME.json (mode 0600); the node's own key is named\n"
        "\"validator\". NAME is 1-64 of A-Z a-z 0-9 . _ - and does not start with '.'.\n"
        "Addresses are bech32m with the prefix \"ad\" (ad1...). --json prints\n"
        "{\"name\", \"address\", \"public_key\"} objects (list: an array of them).\n"
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

static int keys_new(const char *home, const char *name, bool json)
{
    char dir[PATH_MAX], path[PATH_MAX];
    keys_pair_t kp;
    int r, rc = ADNET_EXIT_SYSTEM;

    memset(&kp, 0, sizeof(kp));
    if (!keys_name_is_valid(name))
        return bad_name("new", name);
    if (fs_path(dir, sizeof(dir), "%s/keys", home) < 0 ||
        fs_path(path, sizeof(path), "%s/keys/%s%s", home, name, KEYS_SUFFIX) < 0) {
        fprintf(stderr, "adnet keys new: home path too long\n");
        return ADNET_EXIT_CONFIG;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        r = -errno;
        fprintf(stderr, "adnet keys new: cannot create %s: %s\n", dir, strerror(-r));
        return exit_for(r);
    }
    if (fs_exists(path)) {
        fprintf(stderr, "adnet keys new: a key named \"%s\" already exists (%s)\n", name, path);
        return ADNET_EXIT_CONFIG;
    }
    if ((r = keys_generate(&kp, name)) < 0) {
        if (r == -EINVAL)
            return bad_name("new", name);
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
    char path[PATH_MAX], err[KEYS_ERR_MAX];
    keys_pair_t kp;
    int r, rc;

    memset(&kp, 0, sizeof(kp));
    if (!keys_name_is_valid(name))
        return bad_name("show", name);
    if (fs_path(path, sizeof(path), "%s/keys/%s%s", home, name, KEYS_SUFFIX) < 0) {
        fprintf(stderr, "adnet keys show: home path too long\n");
        return ADNET_EXIT_CONFIG;
    }
    if ((r = keys_load(&kp, path, err)) < 0) {
        if (r == -ENOENT)
            fprintf(stderr, "adnet keys show: no key named \"%s\" (%s does not exist; "
                    "see adnet keys list)\n", name, path);
        else
            fprintf(stderr, "adnet keys show: %s\n", err);
        return exit_for(r);
    }
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

typedef struct {
    const char *home; /* --home, else $ADNET_HOME */
    const char *verb; /* new, show or list */
    const char *name; /* the key, for new and show */
    bool json;
    bool help;        /* --help or the verb "help" */
} keys_args_t;

/* Read the options into *a, leaving optind at the first operand. Return
 * 0, or -EINVAL once the mistake is printed. */
static int keys_options(int argc, char **argv, keys_args_t *a)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': a->home = optarg; break;
        case 'j': a->json = true; break;
        case 'h': a->help = true; return 0;
        case ':':
            fprintf(stderr, "adnet keys: %s needs a value (see adnet keys --help)\n",
                    argv[optind - 1]);
            return -EINVAL;
        default:
            /* A long option's error leaves optopt at its value, not 0. */
            if (optind > 1 && strncmp(argv[optind - 1], "--", 2) == 0)
                fprintf(stderr, "adnet keys: bad option %s (see adnet keys --help)\n",
                        argv[optind - 1]);
            else
                fprintf(stderr, "adnet keys: bad option -%c (see adnet keys --help)\n",
                        optopt);
            return -EINVAL;
        }
    }
    return 0;
}

/* Read the subcommand and its key name from argv[optind..] into *a.
 * Return 0, or -EINVAL once the mistake is printed. */
static int keys_operands(int argc, char **argv, keys_args_t *a)
{
    if (optind < argc)
        a->verb = argv[optind++];
    if (!a->verb) {
        fprintf(stderr, "adnet keys: name a subcommand: new, show or list (see adnet keys --help)\n");
        return -EINVAL;
    }
    if (strcmp(a->verb, "help") == 0) {
        a->help = true;
        return 0;
    }
    bool takes_name = strcmp(a->verb, "new") == 0 || strcmp(a->verb, "show") == 0;
    if (!takes_name && strcmp(a->verb, "list") != 0) {
        fprintf(stderr, "adnet keys: unknown subcommand \"%s\": expected new, show or list\n",
                a->verb);
        return -EINVAL;
    }
    if (takes_name) {
        if (optind >= argc) {
            fprintf(stderr, "adnet keys %s: name the key, e.g. adnet keys %s alice\n", a->verb,
                    a->verb);
            return -EINVAL;
        }
        a->name = argv[optind++];
    }
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
    return keys_list(a.home, a.json);
}
