/* `adnet verify-ledger --home DIR --chain C`: the full, O(state) check of
 * a chain's ledger. The chain's code lives in its worker binary, so this
 * verb finds that binary (beside adnet when installed, or in the build
 * tree) and execs it with --verify-ledger; the worker prints a progress
 * line and the verdict, and exits 0 (the state rebuilt from the tables,
 * the stored trees and the last header agree) or 1 (they do not). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adnet_chains.h"
#include "common/base/exitcode.h"
#include "common/base/fsutil.h"
#include "supervisor/cli.h"
#include "supervisor/cliopt.h"

#define VERIFY_USAGE                                                                      \
    "usage: adnet verify-ledger --home DIR --chain CHAIN\n"                                  \
    "\n"                                                                                     \
    "Rebuild CHAIN's state trees from its ledger's tables as of the tip and compare\n"      \
    "their roots with the stored trees and the last header (O(state), read-only; the\n"    \
    "node may run). Exit 0 they agree, 1 they do not, 100 usage, 101 not a ledger,\n"      \
    "111 otherwise.\n"

#define VERIFY_CHAIN_EXE(name, exe, after, interval, listen) { name, exe },
static const struct {
    const char *name, *exe;
} verify_chains[] = { ADNET_NODE_CHAINS(VERIFY_CHAIN_EXE) };

/* The worker binary of chain (index i of verify_chains) into out: 0 or -ENOENT. */
static int verify_worker_exe(size_t i, char out[PATH_MAX])
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    char *slash;

    if (n < 0)
        return -errno;
    self[n] = '\0';
    if (!(slash = strrchr(self, '/')))
        return -ENOENT;
    *slash = '\0';
    if (fs_path(out, PATH_MAX, "%s/%s", self, verify_chains[i].exe) == 0 &&
        access(out, X_OK) == 0)
        return 0; /* installed */
    if (fs_path(out, PATH_MAX, "%s/../%s-worker/%s", self, verify_chains[i].name,
                verify_chains[i].exe) == 0 && access(out, X_OK) == 0)
        return 0; /* the build tree */
    return -ENOENT;
}

int cmd_verify_ledger(int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "chain", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *home = NULL, *chain = NULL;
    char exe[PATH_MAX];
    size_t i;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'c': chain = optarg; break;
        case 'h': fputs(VERIFY_USAGE, stdout); return 0;
        default: return cliopt_fail("verify-ledger", opts, c, argv);
        }
    }
    if (!home)
        home = getenv("ADNET_HOME");
    if (!home || !chain || optind != argc) {
        fprintf(stderr, "adnet verify-ledger: %s\n%s", optind != argc ? "unexpected argument"
                : !chain ? "say which chain: --chain C" : "no node home: pass --home DIR or "
                "set ADNET_HOME", VERIFY_USAGE);
        return ADNET_EXIT_CONFIG;
    }
    for (i = 0; i < sizeof verify_chains / sizeof verify_chains[0]; i++)
        if (strcmp(verify_chains[i].name, chain) == 0)
            break;
    if (i == sizeof verify_chains / sizeof verify_chains[0]) {
        fprintf(stderr, "adnet verify-ledger: no chain \"%s\" in this build\n", chain);
        return ADNET_EXIT_CONFIG;
    }
    if (verify_worker_exe(i, exe) < 0) {
        fprintf(stderr, "adnet verify-ledger: %s's worker binary is not beside adnet\n", chain);
        return ADNET_EXIT_SYSTEM;
    }
    execl(exe, exe, "--home", home, "--verify-ledger", (char *)NULL);
    fprintf(stderr, "adnet verify-ledger: cannot run %s: %s\n", exe, strerror(errno));
    return ADNET_EXIT_SYSTEM;
}
