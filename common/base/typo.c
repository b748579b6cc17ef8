#include "common/base/typo.h"

#include <stdint.h>

size_t typo_distance(const char *a, size_t la, const char *b, size_t lb)
{
    /* Three rolling rows: i-2, i-1 and i. */
    size_t rows[3][TYPO_LEN_MAX + 1];

    if (la > TYPO_LEN_MAX || lb > TYPO_LEN_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = rows[i % 3];
        const size_t *up = rows[(i - 1) % 3], *up2 = rows[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = up[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (up[j - 1] + cost < v)
                v = up[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                up2[j - 2] + 1 < v)
                v = up2[j - 2] + 1;
            cur[j] = v;
        }
    }
    return rows[la % 3][lb];
}
