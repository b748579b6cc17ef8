#include "tests/lib/fuzz.h"

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

uint8_t *fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy != NULL && size > 0)
        memcpy(copy, data, size);
    return copy;
}

int fuzz_memfd(const uint8_t *data, size_t size, const char *name, char path[FUZZ_PATH_MAX])
{
    size_t off = 0;
    int fd = memfd_create(name, MFD_CLOEXEC);
    CHECK(fd >= 0);
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    snprintf(path, FUZZ_PATH_MAX, "/proc/self/fd/%d", fd);
    return fd;
}
