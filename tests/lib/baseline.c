#include "tests/lib/baseline.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/clock.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double baseline_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    size_t i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

double baseline_verify_per_s(double secs)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    unsigned char msg[200], sig[crypto_sign_BYTES];
    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, sizeof(msg));
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), sk);
    uint64_t n = 0, t0 = clock_mono_us(), el;
    do {
        for (int i = 0; i < 256; i++)
            if (crypto_sign_verify_detached(sig, msg, sizeof(msg), pk) == 0)
                n++;
        el = clock_mono_us() - t0;
    } while ((double)el < secs * 1e6);
    return (double)n / ((double)el / 1e6);
}

double baseline_forkexec_ms(void)
{
    uint64_t t0 = clock_mono_us();
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return (double)(clock_mono_us() - t0) / 1e3;
}
