/* libFuzzer target for genesis_load: the input is the genesis file (through
 * a memfd named by /proc/self/fd). A refusal must carry a message; anything
 * that loads must save and load back to the same hash. */
#include "common/store/genesis.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static genesis_t g, again;
    char path[64], err[GENESIS_ERR_MAX];
    size_t off = 0;
    int fd = memfd_create("fuzz_genesis", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
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
    close(fd);
    return 0;
}
