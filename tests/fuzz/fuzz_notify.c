/* libFuzzer target for the notification codec: any input that decodes
 * must re-encode to the very same bytes (one encoding per value), a refusal
 * must be one of the documented codes and leave the output untouched, and
 * no input may crash the decoder or make it read out of bounds.
 *
 *   clang -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_notify.c \
 *       tests/lib/fuzz.c proto/wire.c proto/notify.c
 *   ./a.out -max_total_time=60
 *
 * Checks use abort(), not assert(), so they hold in NDEBUG builds too. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/notify.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *msg = fuzz_copy(data, size);
    if (msg == NULL)
        return 0;

    notify_msg_t m, poison;
    memset(&m, 0xa5, sizeof m);
    memcpy(&poison, &m, sizeof m);
    const char *what = NULL;
    int rc = notify_decode(&m, msg, size, &what);
    if (rc != 0) {
        CHECK(rc == -EBADMSG || rc == -EPROTONOSUPPORT);
        CHECK(what != NULL);
        CHECK(memcmp(&m, &poison, sizeof m) == 0);
        free(msg);
        return 0;
    }
    CHECK(size == NOTIFY_MSG_LEN || (m.kind == NOTIFY_HALTED && size <= NOTIFY_MSG_MAX));
    CHECK(m.kind >= NOTIFY_READY && m.kind <= NOTIFY_HALTED);
    uint8_t out[NOTIFY_MSG_MAX];
    CHECK(notify_encode(&m, out, sizeof out) == (int)size);
    CHECK(memcmp(out, msg, size) == 0);
    free(msg);
    return 0;
}
