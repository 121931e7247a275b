/* libFuzzer target: the path checks (rgs_path_check, rgs_path_is_dotgit).
 * Properties checked on every input: an accepted path has no empty, ".",
 * ".." or .git-like component, no control byte, no component over 255
 * bytes; the relative part lies inside the input. */
#include "rgs_path.h"
#include "rgs_util.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    const char *p = (const char *)data;
    for (unsigned flags = 0; flags <= RGS_PATH_VPATH; flags++) {
        const char *rel = NULL;
        size_t n = 0;
        char why[128];
        if (rgs_path_check(p, size, flags, &rel, &n, why, sizeof why) != 0) {
            if (!memchr(why, '\0', sizeof why))
                abort();
            continue;
        }
        if (rel < p || rel + n > p + size || n == 0 || n > RGS_PATH_MAX || rel[0] == '/')
            abort();
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
            if (i < n) {
                unsigned char c = (unsigned char)rel[i];
                if (c < 0x20 || c == 0x7f)
                    abort();
                if (rel[i] != '/')
                    continue;
            }
            size_t len = i - start;
            const char *c = rel + start;
            if (len == 0 || len > RGS_PATH_COMPONENT || (len == 1 && c[0] == '.') ||
                (len == 2 && c[0] == '.' && c[1] == '.') || rgs_path_is_dotgit(c, len))
                abort();
            if (len == 4 && strncasecmp(c, ".git", 4) == 0)
                abort();
            start = i + 1;
        }
    }
    (void)rgs_path_is_dotgit(p, size);
    return 0;
}
