#include "common/base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

uint64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int clock_iso8601(char out[CLOCK_ISO8601_MAX], uint64_t ms)
{
    struct tm tm;
    /* Year 9999 ends before 253402300800 s; past that ISO-8601 needs more digits. */
    if (ms / 1000 >= 253402300800ULL)
        goto out;
    time_t secs = (time_t)(ms / 1000);
    if (gmtime_r(&secs, &tm) == NULL)
        goto out;
    size_t n = strftime(out, CLOCK_ISO8601_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (n == 0 || n > CLOCK_ISO8601_MAX - 6)
        goto out;
    snprintf(out + n, CLOCK_ISO8601_MAX - n, ".%03uZ", (unsigned)(ms % 1000));
    return 0;
out:
    out[0] = '\0';
    return -EINVAL;
}
