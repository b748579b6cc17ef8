/* libFuzzer target for genesis_load and the balances readers: the input is
 * the genesis file (through a memfd named by /proc/self/fd), then the same
 * bytes as an operator's balances list and as a balances file. A refusal
 * must carry a message; a genesis that loads must save and load back to
 * the same hash; a list that imports must write a balances file that
 * reads back as the same balances. */
#include "common/store/genesis.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each balance read back is the imported one at its place. */
static int same_as_list(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                        size_t errlen)
{
    const genesis_balance_t *list = ctx;
    (void)err, (void)errlen;
    CHECK(genesis_balance_cmp(&list[index], b) == 0 && list[index].amount == b->amount);
    return 0;
}

/* What imports from path writes a balances file that reads back the same. */
static void fuzz_import(const char *path)
{
    genesis_balance_t *list = NULL;
    size_t n = 0;
    char err[GENESIS_ERR_MAX] = "", dir[] = "/tmp/fuzz-balances-XXXXXX";
    genesis_t *g = calloc(1, sizeof(*g));
    CHECK(g != NULL);
    if (genesis_balances_import(path, NULL, 0, &list, &n, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        free(g);
        return;
    }
    CHECK(mkdtemp(dir) != NULL);
    snprintf(g->path, sizeof(g->path), "%s/genesis.json", dir);
    snprintf(g->balances_file, sizeof(g->balances_file), "%s", GENESIS_BALANCES_FILE);
    g->n_balances = n;
    char file[sizeof(dir) + sizeof(GENESIS_BALANCES_FILE) + 1];
    snprintf(file, sizeof(file), "%s/%s", dir, GENESIS_BALANCES_FILE);
    CHECK(genesis_balances_write(file, list, n, 0, g->balances_hash) == 0);
    CHECK(genesis_balances_foreach(g, same_as_list, list, NULL, NULL, err, sizeof(err)) == 0);
    unlink(file);
    rmdir(dir);
    free(list);
    free(g);
}

static int accept_all(void *ctx, uint64_t index, const genesis_balance_t *b, char *err,
                      size_t errlen)
{
    (void)ctx, (void)index, (void)b, (void)err, (void)errlen;
    return 0;
}

/* data as a balances file (the memfd fd, named beside /proc/self/fd/),
 * with its own line count and hash: read it, or say why not. */
static void fuzz_balances_file(int fd, const uint8_t *data, size_t size)
{
    char err[GENESIS_ERR_MAX] = "";
    genesis_t *g = calloc(1, sizeof(*g));
    CHECK(g != NULL);
    snprintf(g->path, sizeof(g->path), "/proc/self/fd/genesis.json");
    snprintf(g->balances_file, sizeof(g->balances_file), "%d", fd);
    for (size_t i = 0; i < size; i++)
        g->n_balances += data[i] == '\n';
    crypto_generichash(g->balances_hash, sizeof(g->balances_hash), data, size, NULL, 0);
    if (genesis_balances_foreach(g, accept_all, NULL, NULL, NULL, err, sizeof(err)) != 0)
        CHECK(err[0] != '\0');
    free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static genesis_t g, again;
    char path[FUZZ_PATH_MAX], err[GENESIS_ERR_MAX];
    int fd = fuzz_memfd(data, size, "fuzz_genesis", path);
    err[0] = '\0';
    if (genesis_load(&g, path, NULL, err) == 0) {
        char out[] = "/tmp/fuzz-genesis-XXXXXX";
        int ofd = mkstemp(out);
        if (ofd < 0)
            abort();
        close(ofd);
        unlink(out); /* genesis_save refuses to replace a file */
        if (genesis_save(&g, out, 0) != 0 || genesis_load(&again, out, NULL, err) != 0 ||
            memcmp(g.hash, again.hash, sizeof(g.hash)) != 0)
            abort();
        unlink(out);
    } else if (err[0] == '\0') {
        abort(); /* every refusal says why */
    }
    fuzz_import(path);
    fuzz_balances_file(fd, data, size);
    close(fd);
    return 0;
}
