/* libFuzzer target for config_load: the input is the YAML file. It goes
 * through a memfd named by /proc/self/fd so the real file path (open,
 * fstat, libyaml's FILE reader) is exercised; on success both printers run
 * too. Must not crash, leak or trip a sanitizer on any input. */
#include "common/base/config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two sections, as a node registers them, so chain keys are reached too. */
static const config_chain_spec_t chains[] = {
    {"alpha", 15000, "127.0.0.1:3030"},
    {"delta", 3000, "127.0.0.1:4030"},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    char path[FUZZ_PATH_MAX], err[CONFIG_ERR_MAX];
    config_t cfg;
    config_sources_t *src = NULL;
    int fd, rc;

    if (!devnull)
        devnull = fopen("/dev/null", "w");
    fd = fuzz_memfd(data, size, "fuzz_config", path);
    memset(err, 0, sizeof err);
    rc = config_load(&cfg, &src, chains, sizeof chains / sizeof chains[0], path, true, NULL, NULL,
                     0, err);
    if (rc == 0) {
        if (devnull) {
            config_print(devnull, &cfg, src, false);
            config_print(devnull, &cfg, src, true);
        }
        config_sources_free(src);
    } else if (err[0] == '\0' || memchr(err, '\n', sizeof err) ||
               (rc != -EINVAL && rc != -EFBIG && rc != -ENOMEM)) {
        /* A refusal is -EINVAL (-EFBIG, -ENOMEM) with a one-line message. */
        abort();
    }
    close(fd);
    return 0;
}
