/* libFuzzer: the transaction decoder. Anything that decodes must re-encode
 * to the same bytes apart from the signature (canonical encoding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tx.h"
#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = fuzz_copy(data, size);
    if (!copy)
        return 0;
    tx_t tx;
    const char *what = NULL;
    if (tx_decode(&tx, copy, size, &what) == 0) {
        static const uint8_t sk[64] = { 0 };
        uint8_t again[TX_MAX_BYTES];
        size_t len;
        if (tx_sign_encode(&tx, sk, again, sizeof(again), &len) != 0 || len != size ||
            memcmp(again, copy, size - 64) != 0)
            abort();
        (void)tx_verify(&tx, copy, size);
    } else if (!what) {
        abort(); /* every refusal names its field */
    }
    free(copy);
    return 0;
}
