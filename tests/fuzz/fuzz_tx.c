/* libFuzzer: the transaction decoder. Anything that decodes must re-encode
 * to the same bytes apart from the signature (canonical encoding). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end are caught */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
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
