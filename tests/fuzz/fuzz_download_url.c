/* libFuzzer target: the download-url answer of Relay (untrusted JSON from
 * the network), rgs_relay_parse_download_url. */
#include <stdlib.h>
#include <string.h>

#include "rgs_relay.h"
#include "rgs_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    char why[200];
    char *u = rgs_relay_parse_download_url((const char *)data, size, why);
    if (u) {
        /* what it accepts is an absolute http(s) URL without blanks */
        if (strncasecmp(u, "http", 4) != 0 || strpbrk(u, " \t\r\n") != NULL)
            abort();
        free(u);
    } else if (strlen(why) == 0) {
        abort();
    }
    return 0;
}
