/* libFuzzer target for alpha's payload codecs: every input goes to the
 * decoder of each kind; whatever decodes must re-encode to the very same
 * bytes (one encoding per value) and pass through alpha_payload_check and
 * the commitment hash without crashing; nothing may read out of bounds.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_alpha_tx.c \
 *       tests/lib/fuzz.c proto/wire.c proto/alpha_tx.c $(pkg-config --cflags --libs libsodium)
 *   ./a.out -max_total_time=60
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/alpha_tx.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_kind(uint16_t kind, const uint8_t *data, size_t size)
{
    static alpha_payload_t p;
    static uint8_t out[ALPHA_PAYLOAD_MAX];
    size_t len = 0;
    const char *what = NULL;
    int rc;

    memset(&p, 0xa5, sizeof p);
    rc = alpha_payload_decode(&p, kind, data, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EINVAL);
        CHECK(what != NULL);
        CHECK(p.kind == 0xa5a5); /* untouched on failure */
        return;
    }
    CHECK(p.kind == kind);
    CHECK(size <= ALPHA_PAYLOAD_MAX);
    if (kind == ALPHA_TX_MINT)
        CHECK(p.n_in == 0 && p.n_out == 1);
    else
        CHECK(p.n_in >= 1 && p.n_in <= ALPHA_MAX_INPUTS && p.n_out <= ALPHA_MAX_OUTPUTS);
    rc = alpha_payload_encode(&p, out, sizeof out, &len);
    CHECK(rc == 0);
    CHECK(len == size);
    CHECK(memcmp(out, data, size) == 0);

    what = NULL;
    if (alpha_payload_check(&p, &what, NULL) != 0)
        CHECK(what != NULL);
    for (uint16_t i = 0; i < p.n_out; i++) {
        uint8_t cm[ALPHA_HASH_LEN];
        CHECK(alpha_record_commitment(p.out[i].owner, p.out[i].asset, p.out[i].amount,
                                      p.out[i].salt, cm) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fuzz_copy(data, size);
    if (msg == NULL)
        return 0;
    fuzz_kind(ALPHA_TX_MINT, msg, size);
    fuzz_kind(ALPHA_TX_TRANSFER, msg, size);
    fuzz_kind(ALPHA_TX_BURN, msg, size);
    {
        alpha_payload_t p;
        const char *what = NULL;
        CHECK(alpha_payload_decode(&p, 0, msg, size, &what) == -ENOTSUP);
    }
    free(msg);
    return 0;
}
