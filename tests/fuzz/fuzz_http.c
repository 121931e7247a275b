/* libFuzzer target: HTTP request parsing (rgs_httpd over http-parser).
 * The input is a connection's bytes; the first byte chooses how they are
 * cut into reads (1..256 bytes each), so request boundaries that fall in
 * any place are exercised, with pipelining and small limits. */
#include "rgs_httpd.h"
#include "rgs_util.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] + 1;
    rgs_http_limits lim = {.max_body = 4096, .max_headers = 20, .max_header_bytes = 2048,
                           .max_target = 512};
    rgs_http_conn *c = rgs_http_conn_new(data[0] & 1 ? &lim : NULL);
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    while (n > 0) {
        size_t chunk = n < step ? n : step;
        size_t used = 0;
        int r = rgs_http_feed(c, p, chunk, &used);
        if (r == RGS_HTTP_ERROR) {
            (void)rgs_http_error_text(c);
            break;
        }
        if (r == RGS_HTTP_DONE) {
            const rgs_http_request *req = rgs_http_request_of(c);
            unsigned k = 0;
            (void)rgs_http_field_get(req, "authorization", &k);
            if (req->body.len && req->body.data[req->body.len] != '\0')
                __builtin_trap();
            if (strlen(req->path) > strlen(req->target))
                __builtin_trap();
            bool keep = req->keep_alive;
            rgs_http_next(c);
            if (!keep)
                break;
        }
        if (used > chunk)
            __builtin_trap();
        p += used;
        n -= used;
        if (r == RGS_HTTP_MORE && used == 0)
            break;
    }
    if (n == 0)
        (void)rgs_http_feed_eof(c);
    rgs_http_conn_free(c);
    return 0;
}
