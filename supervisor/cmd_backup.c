/* `adnet backup --home DIR --out PATH [--with-keys]` and `adnet restore
 * --home DIR PATH`: online copies of every chain's ledger with a manifest
 * that says what they hold, and their way back into a stopped home.
 *
 * A backup can never fork the chain: restore leaves each chain's
 * last_signed.json alone, so a worker started on a restored ledger that
 * is behind what this validator signed refuses it (exit 101) unless it is
 * run with --allow-resign (devnets). docs/operations.md, "Backup and
 * restore". */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adnet_build.h"
#include "common/base/clock.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "common/base/hex.h"
#include "common/store/backup.h"
#include "common/store/commitrec.h"
#include "common/store/genesis.h"
#include "supervisor/aside.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"
#include "supervisor/homelock.h"
#include "supervisor/node_chains.h"

#define MANIFEST_FILE "manifest.json"
#define MANIFEST_FORMAT 1
#define MANIFEST_MAX_BYTES (1024 * 1024)
#define KEY_FILE "keys/validator.json"
#define DIGEST_HEX (2 * BACKUP_DIGEST_LEN)

#define BACKUP_USAGE                                                                       \
    "usage: adnet backup --home DIR --out PATH [--with-keys]\n"                              \
    "\n"                                                                                     \
    "Copy every chain's ledger into PATH, a new directory, while the node runs (or\n"      \
    "not): each copy is a consistent snapshot at a block boundary (SQLite's online\n"      \
    "backup; the worker keeps committing blocks). PATH/manifest.json names each\n"         \
    "chain's id, genesis hash, height and block hash, and each file's size and\n"          \
    "BLAKE2b hash. The validator key is left out unless --with-keys (then copied\n"        \
    "with mode 0600: keep such a backup as safe as the key). An existing PATH is\n"        \
    "refused. Exit 0, 100 (usage, PATH exists, not a node home), 111 (system error,\n"     \
    "disk full: the partial PATH is removed).\n"

#define RESTORE_USAGE                                                                      \
    "usage: adnet restore --home DIR PATH\n"                                                 \
    "\n"                                                                                     \
    "Put the ledgers of the backup at PATH (adnet backup) into the stopped node home\n"    \
    "DIR. Everything is checked first: each file's size and BLAKE2b hash against the\n"   \
    "manifest, and each ledger's chain id and genesis hash against the home's genesis\n"  \
    "files; a damaged backup or one of another chain or genesis is refused and\n"         \
    "nothing is touched. Then each current ledger (with its -wal, -shm) is moved\n"        \
    "aside as ledger.db.<UTC time>.bak and the backup's copied in. last_signed.json\n"     \
    "is never touched: if this validator signed past the backup's height, the node\n"      \
    "refuses to start on it (exit 101) unless run with --allow-resign (devnets only).\n"   \
    "Exit 0, 100 (usage, refused backup, node running), 111 (system error).\n"

/* ---- shared ---- */

/* Resolve home into out and check it is a node home. Return 0 or exit code. */
static int node_home(const char *verb, const char *home, char out[PATH_MAX])
{
    char path[PATH_MAX];
    if (!home || !*home) {
        fprintf(stderr, "adnet %s: no node home: pass --home DIR or set ADNET_HOME\n", verb);
        return ADNET_EXIT_CONFIG;
    }
    if (!realpath(home, out)) {
        fprintf(stderr, "adnet %s: %s: %s\n", verb, home, strerror(errno));
        return ADNET_EXIT_CONFIG;
    }
    if (fs_path(path, sizeof(path), "%s/adnet.yaml", out) < 0 || !fs_exists(path)) {
        fprintf(stderr, "adnet %s: %s is not a node home (it has no adnet.yaml)\n", verb, out);
        return ADNET_EXIT_CONFIG;
    }
    return 0;
}

/* The manifest's entry for file rel (under dir): its size and hash. */
static json_t *file_entry(const char *dir, const char *rel, char err[BACKUP_ERR_MAX])
{
    char path[PATH_MAX], hex[DIGEST_HEX + 1];
    uint8_t d[BACKUP_DIGEST_LEN];
    uint64_t size;
    if (fs_path(path, sizeof(path), "%s/%s", dir, rel) < 0) {
        backup_errf(err, "%s/%s: path too long", dir, rel);
        return NULL;
    }
    if (backup_file_digest(path, d, &size, err) < 0)
        return NULL;
    hex_encode(hex, d, sizeof d);
    return json_pack("{s:s,s:I,s:s}", "path", rel, "size", (json_int_t)size, "blake2b", hex);
}

/* ---- backup ---- */

typedef struct {
    const char *chain;
    int last_tenth;  /* the last tenth of the pages reported, -1 before */
} progress_t;

static void print_progress(void *arg, uint64_t done, uint64_t total)
{
    progress_t *p = arg;
    int tenth = total ? (int)(done * 10 / total) : 10;
    if (tenth == p->last_tenth)
        return;
    p->last_tenth = tenth;
    printf("%-6s copied %" PRIu64 " of %" PRIu64 " pages (%d%%)\n", p->chain, done, total,
           tenth * 10);
    fflush(stdout);
}

/* Copy chain's ledger from home into out/<chain>/ledger.db and add its
 * entries to chains and files. Return 0, 1 (no ledger for it) or -errno. */
static int backup_chain(const char *home, const char *out, const char *chain, json_t *chains,
                        json_t *files, char err[BACKUP_ERR_MAX])
{
    char src[PATH_MAX], dst[PATH_MAX], rel[PATH_MAX], hex[2 * BLOCK_HASH_LEN + 1];
    progress_t p = { chain, -1 };
    backup_ledger_info_t info;
    json_t *f;
    int r;
    if (fs_path(src, sizeof(src), "%s/%s/ledger.db", home, chain) < 0 ||
        fs_path(rel, sizeof(rel), "%s/ledger.db", chain) < 0 ||
        fs_path(dst, sizeof(dst), "%s/%s", out, chain) < 0)
        return -ENAMETOOLONG;
    if (!fs_exists(src))
        return 1;
    if (mkdir(dst, 0700) < 0) {
        backup_errf(err, "%s: %s", dst, strerror(errno));
        return -errno;
    }
    if (fs_path(dst, sizeof(dst), "%s/%s", out, rel) < 0)
        return -ENAMETOOLONG;
    if ((r = backup_ledger(src, dst, print_progress, &p, err)) < 0 ||
        (r = backup_ledger_info(dst, &info, err)) < 0)
        return r;
    if (!(f = file_entry(out, rel, err)))
        return -EIO;
    hex_encode(hex, info.block_hash, BLOCK_HASH_LEN);
    json_array_append_new(files, f);
    json_array_append_new(chains, json_pack("{s:s,s:s,s:s,s:I,s:s,s:s}", "chain", chain,
                                            "chain_id", info.chain_id, "genesis_hash",
                                            info.genesis_hash, "height", (json_int_t)info.height,
                                            "block_hash", hex, "ledger", rel));
    printf("%-6s height %" PRIu64 " (block %.16s...) -> %s\n", chain, info.height, hex, dst);
    return 0;
}

/* --with-keys: copy the validator key into out (mode 0600). */
static int backup_key(const char *home, const char *out, json_t *files, char err[BACKUP_ERR_MAX])
{
    char src[PATH_MAX], dir[PATH_MAX], dst[PATH_MAX], *text = NULL;
    size_t len;
    json_t *f;
    int r;
    if (fs_path(src, sizeof(src), "%s/%s", home, KEY_FILE) < 0 ||
        fs_path(dir, sizeof(dir), "%s/keys", out) < 0 ||
        fs_path(dst, sizeof(dst), "%s/%s", out, KEY_FILE) < 0)
        return -ENAMETOOLONG;
    if ((r = fs_read_file(src, 64 * 1024, &text, &len)) < 0 ||
        (mkdir(dir, 0700) < 0 && (r = -errno) < 0) ||
        (r = fs_write_file(dst, text, len, 0600, false)) < 0) {
        backup_errf(err, "cannot copy the key %s: %s", src, strerror(-r));
        goto out;
    }
    if (!(f = file_entry(out, KEY_FILE, err))) {
        r = -EIO;
        goto out;
    }
    json_array_append_new(files, f);
    printf("key    %s -> %s (mode 0600)\n", src, dst);
out:
    free(text);
    return r;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

/* Write the ledgers (and with keys the key) of home into the new out. */
static int backup_into(const char *home, const char *out, bool keys, char err[BACKUP_ERR_MAX])
{
    uint64_t now = clock_wall_ms();
    char path[PATH_MAX], when[CLOCK_ISO8601_MAX] = "", *text = NULL;
    int r = 0;
    if (clock_iso8601(when, now) < 0)
        when[0] = '\0'; /* time_ms says it all the same */
    json_t *m = json_pack("{s:i,s:s,s:s,s:I,s:s,s:[],s:[]}", "format", MANIFEST_FORMAT,
                          "adnet_version", ADNET_VERSION, "home", home, "time_ms",
                          (json_int_t)now, "time", when, "chains", "files");
    json_t *chains = json_object_get(m, "chains"), *files = json_object_get(m, "files");
    for (size_t i = 0; r >= 0 && i < N_NODE_CHAINS; i++)
        r = backup_chain(home, out, node_chains[i].name, chains, files, err);
    if (r >= 0 && json_array_size(chains) == 0) {
        backup_errf(err, "%s has no ledger yet (start the node once)", home);
        r = -ENOENT;
    }
    if (r >= 0 && keys)
        r = backup_key(home, out, files, err);
    if (r < 0)
        goto out;
    if (!(text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS)) ||
        fs_path(path, sizeof(path), "%s/%s", out, MANIFEST_FILE) < 0) {
        r = -ENOMEM;
        backup_errf(err, "cannot format the manifest");
        goto out;
    }
    if ((r = fs_write_file(path, text, strlen(text), 0600, false)) < 0)
        backup_errf(err, "%s: %s", path, strerror(-r));
out:
    free(text);
    json_decref(m);
    return r;
}

int cmd_backup(int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "out", required_argument, NULL, 'o' },
        { "with-keys", no_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *home = getenv("ADNET_HOME"), *out = NULL;
    char home_abs[PATH_MAX], err[BACKUP_ERR_MAX];
    bool keys = false;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'o': out = optarg; break;
        case 'k': keys = true; break;
        case 'h': fputs(BACKUP_USAGE, stdout); return ADNET_EXIT_OK;
        default: return cliopt_fail("backup", opts, c, argv);
        }
    }
    if (optind < argc)
        return cliopt_unknown("backup", opts, argv[optind]);
    if ((rc = node_home("backup", home, home_abs)) != 0)
        return rc;
    if (!out || !*out) {
        fprintf(stderr, "adnet backup: --out PATH is required (a new directory)\n");
        return ADNET_EXIT_CONFIG;
    }
    if (mkdir(out, 0700) < 0) {
        fprintf(stderr, "adnet backup: cannot create %s: %s%s\n", out, strerror(errno),
                errno == EEXIST ? " (a backup goes into a new directory; nothing was written)"
                                : "");
        return errno == EEXIST ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
    }
    if ((rc = backup_into(home_abs, out, keys, err)) < 0) {
        fprintf(stderr, "adnet backup: %s%s; the partial backup %s was removed\n", err,
                rc == -ENOSPC ? " (disk full)" : "", out);
        nftw(out, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        return ADNET_EXIT_SYSTEM;
    }
    printf("backup complete: %s/%s\n", out, MANIFEST_FILE);
    return ADNET_EXIT_OK;
}

/* ---- restore ---- */

/* Read and check the shape of dir's manifest into *out (caller frees). */
static int manifest_load(const char *dir, json_t **out, char err[BACKUP_ERR_MAX])
{
    char path[PATH_MAX], *text = NULL;
    size_t len;
    json_error_t je;
    json_t *m = NULL;
    int r = fs_path(path, sizeof(path), "%s/%s", dir, MANIFEST_FILE);
    if (r == 0 && (r = fs_read_file(path, MANIFEST_MAX_BYTES, &text, &len)) < 0) {
        backup_errf(err, "%s: %s (is %s a backup made by adnet backup?)", path,
                 strerror(-r), dir);
        goto out;
    }
    if (r == 0 && !(m = json_loadb(text, len, 0, &je))) {
        backup_errf(err, "%s: not JSON: %s (line %d)", path, je.text, je.line);
        r = -EBADMSG;
    } else if (r == 0 && (json_integer_value(json_object_get(m, "format")) != MANIFEST_FORMAT ||
                          !json_is_array(json_object_get(m, "chains")) ||
                          !json_is_array(json_object_get(m, "files")))) {
        backup_errf(err, "%s: not a backup manifest of format %d (it needs "
                 "\"format\", \"chains\" and \"files\")", path, MANIFEST_FORMAT);
        r = -EBADMSG;
    }
out:
    free(text);
    if (r == 0)
        *out = m;
    else
        json_decref(m);
    return r;
}

static const char *jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "";
}

/* Every file of the manifest is there with its size and hash. */
static int check_files(const char *dir, const json_t *files, char err[BACKUP_ERR_MAX])
{
    size_t i;
    json_t *want, *have;
    json_array_foreach(files, i, want) {
        const char *rel = jstr(want, "path");
        if (!*rel || rel[0] == '/' || strstr(rel, "..")) {
            backup_errf(err, "the manifest names a file outside the backup: "
                     "\"%s\"", rel);
            return -EBADMSG;
        }
        if (!(have = file_entry(dir, rel, err)))
            return -EBADMSG;
        bool same = json_integer_value(json_object_get(have, "size")) ==
                        json_integer_value(json_object_get(want, "size")) &&
                    strcmp(jstr(have, "blake2b"), jstr(want, "blake2b")) == 0;
        if (!same)
            backup_errf(err, "%s/%s is damaged: %" JSON_INTEGER_FORMAT " bytes "
                     "with BLAKE2b %.16s..., the manifest says %" JSON_INTEGER_FORMAT " bytes "
                     "with %.16s...", dir, rel, json_integer_value(json_object_get(have, "size")),
                     jstr(have, "blake2b"), json_integer_value(json_object_get(want, "size")),
                     jstr(want, "blake2b"));
        json_decref(have);
        if (!same)
            return -EBADMSG;
    }
    return 0;
}

/* Whether the manifest's files list rel. */
static bool listed(const json_t *files, const char *rel)
{
    size_t i;
    json_t *f;
    json_array_foreach(files, i, f) {
        if (*rel && strcmp(jstr(f, "path"), rel) == 0)
            return true;
    }
    return false;
}

/* The chain of entry c is one of this node's, of the home's genesis, and
 * its ledger file says the same as the manifest. */
static int check_chain(const char *home, const char *dir, const json_t *c,
                       const json_t *files, char err[BACKUP_ERR_MAX])
{
    char path[PATH_MAX], gerr[GENESIS_ERR_MAX], gh[2 * BLOCK_HASH_LEN + 1];
    const char *chain = jstr(c, "chain");
    genesis_t *g = malloc(sizeof *g);
    backup_ledger_info_t info;
    int r = -EBADMSG;
    if (!g || fs_path(path, sizeof(path), "%s/%s/genesis.json", home, chain) < 0 ||
        strchr(chain, '/') || !*chain || genesis_load(g, path, chain, gerr) < 0) {
        backup_errf(err, "the backup's chain \"%s\" is not one of this home's: %s",
                 chain, g ? gerr : "out of memory");
        goto out;
    }
    hex_encode(gh, g->hash, BLOCK_HASH_LEN);
    if (strcmp(jstr(c, "chain_id"), g->chain_id) != 0 || strcmp(jstr(c, "genesis_hash"), gh)) {
        backup_errf(err, "the backup's %s ledger is of chain %s genesis %.16s..., "
                 "but this home runs %s genesis %.16s... (%s): a backup of another chain or "
                 "genesis is never restored", chain, jstr(c, "chain_id"),
                 jstr(c, "genesis_hash"), g->chain_id, gh, path);
        goto out;
    }
    if (!listed(files, jstr(c, "ledger"))) {
        backup_errf(err, "the manifest's %s ledger \"%s\" is not among its "
                 "hashed files", chain, jstr(c, "ledger"));
        goto out;
    }
    if (fs_path(path, sizeof(path), "%s/%s", dir, jstr(c, "ledger")) < 0 ||
        (r = backup_ledger_info(path, &info, err)) < 0)
        goto out;
    r = -EBADMSG;
    if (strcmp(info.chain_id, g->chain_id) != 0 || strcmp(info.genesis_hash, gh) != 0 ||
        info.height != (uint64_t)json_integer_value(json_object_get(c, "height"))) {
        backup_errf(err, "%s holds chain %s genesis %.16s... at height %" PRIu64
                 ", not what the manifest says", path, info.chain_id, info.genesis_hash,
                 info.height);
        goto out;
    }
    r = 0;
out:
    free(g);
    return r;
}

/* Copy src to a new file dst (mode 0600), durably. */
static int copy_file(const char *src, const char *dst, char err[BACKUP_ERR_MAX])
{
    char tmp[PATH_MAX], buf[64 * 1024];
    int in = open(src, O_RDONLY | O_CLOEXEC), out = -1, r = 0;
    ssize_t n = 0;
    if (fs_path(tmp, sizeof(tmp), "%s.restore-tmp", dst) < 0)
        r = -ENAMETOOLONG;
    else if (in < 0 || (out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
        r = -errno;
    while (r == 0 && (n = read(in, buf, sizeof buf)) > 0)
        for (ssize_t off = 0, w; r == 0 && off < n; off += w)
            if ((w = write(out, buf + off, (size_t)(n - off))) < 0)
                r = -errno;
    if (r == 0 && (n < 0 || fsync(out) < 0))
        r = -errno;
    if (out >= 0 && close(out) < 0 && r == 0)
        r = -errno;
    if (r == 0 && (aside_rename_noreplace(tmp, dst) < 0 || fs_sync_parent(dst) < 0))
        r = -errno;
    if (r < 0) {
        backup_errf(err, "cannot copy %s to %s: %s", src, dst, strerror(-r));
        if (out >= 0)
            unlink(tmp);
    }
    if (in >= 0)
        close(in);
    return r;
}

/* What the chain's record says of the restored height, for the operator. */
static void say_record(const char *home, const char *chain, uint64_t height)
{
    char path[PATH_MAX], err[COMMITREC_ERR_MAX];
    commitrec_t rec;
    if (fs_path(path, sizeof(path), "%s/%s/%s", home, chain, COMMITREC_FILE) < 0 ||
        commitrec_load(&rec, path, err) < 0 || rec.height <= height)
        return;
    printf("%-6s note: this validator signed up to height %" PRIu64 " (%s, kept): the node\n"
           "       will refuse this ledger at height %" PRIu64 " (exit 101) rather than sign\n"
           "       heights %" PRIu64 " to %" PRIu64 " again. Restore a later backup, or, on a\n"
           "       single-validator devnet only, start with adnet run --allow-resign.\n",
           chain, rec.height, path, height, height + 1, rec.height);
}

/* Move the chain's current ledger aside and copy the backup's in. */
static int restore_chain(const char *home, const char *dir, const json_t *c, const char *stamp,
                         char err[BACKUP_ERR_MAX])
{
    static const char *const ledger[] = { "", "-wal", "-shm" };
    char cdir[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    const char *chain = jstr(c, "chain");
    int r;
    if (fs_path(cdir, sizeof(cdir), "%s/%s", home, chain) < 0 ||
        fs_path(src, sizeof(src), "%s/%s", dir, jstr(c, "ledger")) < 0 ||
        fs_path(dst, sizeof(dst), "%s/ledger.db", cdir) < 0)
        return -ENAMETOOLONG;
    if ((r = aside_move(cdir, "ledger.db", ledger, 3, stamp)) < 0) {
        backup_errf(err, "cannot move %s aside: %s", dst, strerror(-r));
        return r;
    }
    if ((r = copy_file(src, dst, err)) < 0)
        return r;
    uint64_t h = (uint64_t)json_integer_value(json_object_get(c, "height"));
    printf("%-6s restored height %" PRIu64 " (block %.16s...) -> %s\n", chain, h,
           jstr(c, "block_hash"), dst);
    say_record(home, chain, h);
    return 0;
}

/* Check everything of the backup at dir, then restore its chains into home. */
static int restore_from(const char *home, const char *dir, char err[BACKUP_ERR_MAX])
{
    json_t *m = NULL, *c;
    char stamp[ASIDE_STAMP_MAX];
    size_t i;
    int r = manifest_load(dir, &m, err);
    if (r == 0)
        r = check_files(dir, json_object_get(m, "files"), err);
    json_array_foreach(json_object_get(m, "chains"), i, c) {
        if (r == 0)
            r = check_chain(home, dir, c, json_object_get(m, "files"), err);
    }
    if (r < 0)
        goto out;
    aside_stamp(stamp);
    json_array_foreach(json_object_get(m, "chains"), i, c) {
        if ((r = restore_chain(home, dir, c, stamp, err)) < 0)
            goto out;
    }
out:
    json_decref(m);
    return r;
}

int cmd_restore(int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *home = getenv("ADNET_HOME");
    char home_abs[PATH_MAX], err[BACKUP_ERR_MAX];
    pid_t holder = 0;
    int c, rc, fd = -1;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'h': fputs(RESTORE_USAGE, stdout); return ADNET_EXIT_OK;
        default: return cliopt_fail("restore", opts, c, argv);
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "adnet restore: name one backup: adnet restore --home DIR PATH\n");
        return ADNET_EXIT_CONFIG;
    }
    if ((rc = node_home("restore", home, home_abs)) != 0)
        return rc;
    if ((rc = homelock_take(home_abs, &fd, &holder)) < 0) {
        fprintf(stderr, "adnet restore: %s: %s\n", home_abs, rc == -EBUSY
                ? "the node is running (stop it first: adnet stop --home DIR); nothing was "
                  "touched" : strerror(-rc));
        return rc == -EBUSY ? ADNET_EXIT_CONFIG : ADNET_EXIT_SYSTEM;
    }
    rc = restore_from(home_abs, argv[optind], err);
    close(fd);
    if (rc < 0) {
        fprintf(stderr, "adnet restore: %s\n", err);
        return rc == -EBADMSG || rc == -EILSEQ || rc == -ENOENT ? ADNET_EXIT_CONFIG
                                                                 : ADNET_EXIT_SYSTEM;
    }
    printf("restore complete: the old ledgers are kept beside the new ones (*.bak)\n");
    return ADNET_EXIT_OK;
}
