/* libFuzzer target for the block codecs: any input that decodes must
 * re-encode to the very same bytes (one encoding per value), and no input
 * may crash a decoder or make it read out of bounds.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_block.c \
 *       tests/lib/fuzz.c proto/wire.c proto/block.c $(pkg-config --cflags --libs libsodium)
 *   ./a.out -max_total_time=60
 *
 * Every input goes to both decoders. Checks use abort(), not CHECK(), so
 * they hold in NDEBUG builds too. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/block.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_header(const uint8_t *data, size_t size)
{
    block_header_t h;
    uint8_t out[BLOCK_HEADER_MAX];
    size_t len = 0;
    const char *what = NULL;
    int rc;

    memset(&h, 0xa5, sizeof h);
    rc = block_header_decode(&h, data, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT);
        CHECK(what != NULL);
        return;
    }
    rc = block_header_encode(&h, out, sizeof out, &len);
    CHECK(rc == 0);
    CHECK(len == size);
    CHECK(memcmp(out, data, size) == 0);
    uint8_t hash[BLOCK_HASH_LEN];
    CHECK(block_header_hash(&h, hash) == 0);
    (void)block_header_check(&h, &what);
}

static void fuzz_cert(const uint8_t *data, size_t size)
{
    static commit_cert_t c;
    static uint8_t out[COMMIT_CERT_MAX];
    size_t len = 0;
    const char *what = NULL;
    int rc;

    memset(&c, 0xa5, sizeof c);
    rc = commit_cert_decode(&c, data, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT);
        CHECK(what != NULL);
        return;
    }
    CHECK(c.n_sigs >= 1 && c.n_sigs <= BLOCK_MAX_SIGS);
    rc = commit_cert_encode(&c, out, sizeof out, &len);
    CHECK(rc == 0);
    CHECK(len == size);
    CHECK(memcmp(out, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fuzz_copy(data, size);
    if (msg == NULL)
        return 0;
    fuzz_header(msg, size);
    fuzz_cert(msg, size);
    free(msg);
    return 0;
}
