/* libFuzzer target for the inter-worker message codec: any input that
 * decodes must re-encode to the very same bytes (one encoding per value)
 * and fit IPC_MSG_MAX; a refusal must be one of the documented codes, name
 * the field and leave the output untouched; no input may crash the
 * decoder or make it read out of bounds. Seeds: tests/fuzz/corpus/ipcmsg.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_ipcmsg.c \
 *       tests/lib/fuzz.c proto/wire.c proto/block.c proto/ipcmsg.c -lsodium
 *   ./a.out -max_total_time=60 tests/fuzz/corpus/ipcmsg
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ipcmsg.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Kept off the stack: each is about 12 KiB. */
static ipc_msg_t m, poison;
static uint8_t out[IPC_MSG_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fuzz_copy(data, size);
    if (msg == NULL)
        return 0;

    memset(&m, 0xa5, sizeof m);
    memcpy(&poison, &m, sizeof m);
    const char *what = NULL;
    int rc = ipc_msg_decode(&m, msg, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT);
        CHECK(what != NULL);
        CHECK(memcmp(&m, &poison, sizeof m) == 0);
        free(msg);
        return 0;
    }
    CHECK(size <= IPC_MSG_MAX);
    CHECK(strcmp(ipc_kind_name(m.kind), "unknown") != 0);
    size_t len = 0;
    CHECK(ipc_msg_encode(&m, out, sizeof out, &len) == 0);
    CHECK(len == size);
    CHECK(memcmp(out, msg, size) == 0);
    if (m.kind == IPC_STATE_REPLY) {
        /* A decoded reply always names a state root. */
        uint8_t root[BLOCK_HASH_LEN];
        const ipc_state_reply_t *p = &m.u.reply;
        CHECK(ipc_state_root(p->root_tag, p->roots, p->n_roots, root) == 0);
    }
    free(msg);
    return 0;
}
