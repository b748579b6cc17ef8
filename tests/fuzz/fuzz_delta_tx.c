/* libFuzzer target for the Delta payload codecs (proto/delta_tx.c): the
 * input is decoded as every payload kind in turn (and as an unknown kind);
 * whatever decodes must re-encode to the very same bytes (one encoding per
 * value) and survive delta_payload_check, and no input may crash a decoder
 * or make it read out of bounds.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_delta_tx.c \
 *       tests/lib/fuzz.c proto/wire.c proto/delta_tx.c $(pkg-config --cflags --libs libsodium)
 *   ./a.out -max_total_time=60
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/delta_tx.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_kind(uint16_t kind, const uint8_t *msg, size_t size)
{
    delta_payload_t p;
    uint8_t out[DELTA_PAYLOAD_MAX];
    size_t len = 0;
    const char *what = NULL, *why = NULL;
    int rc;

    memset(&p, 0xa5, sizeof p);
    rc = delta_payload_decode(&p, kind, msg, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EMSGSIZE || rc == -EPROTONOSUPPORT);
        CHECK(what != NULL);
        CHECK(rc != -EPROTONOSUPPORT || delta_kind_name(kind) == NULL);
        return;
    }
    CHECK(delta_kind_name(kind) != NULL);
    CHECK(p.kind == kind);
    CHECK(size <= DELTA_PAYLOAD_MAX);
    rc = delta_payload_encode(&p, out, sizeof out, &len);
    CHECK(rc == 0);
    CHECK(len == size);
    CHECK(memcmp(out, msg, size) == 0);
    rc = delta_payload_check(&p, &what, &why);
    CHECK(rc == 0 || (rc == -EINVAL && what != NULL && why != NULL));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fuzz_copy(data, size);
    if (msg == NULL)
        return 0;
    for (uint16_t kind = 0; kind <= DELTA_TX_BRIDGE_OUT + 1; kind++)
        fuzz_kind(kind, msg, size);
    fuzz_kind(UINT16_MAX, msg, size);
    free(msg);
    return 0;
}
