/* libFuzzer target: a whole POST /webhooks request as rgs-verify handles
 * it, minus the disk: HTTP parsing (rgs_httpd), authentication with a
 * Bearer and a Svix secret (rgs_webhook_authenticate), and the envelope
 * check that builds the spool record (rgs_webhook_envelope). */
#include "rgs_httpd.h"
#include "rgs_util.h"
#include "rgs_webhook.h"

#include <string.h>

static const char *get(void *ctx, const char *name, unsigned *count)
{
    return rgs_http_field_get(ctx, name, count);
}

static void envelope(const void *body, size_t n)
{
    json_t *rec = NULL;
    char why[300];
    enum rgs_envelope_result r = rgs_webhook_envelope(body, n, "svix", 1772575128.5, &rec, why, sizeof why);
    if (r == RGS_ENVELOPE_OK) {
        const char *relay = json_string_value(json_object_get(rec, "relay"));
        const char *res = json_string_value(json_object_get(rec, "resource"));
        if (!relay || !res || !rgs_uuid_valid(relay) || !rgs_uuid_valid(res))
            __builtin_trap();
        char *s = json_dumps(rec, JSON_COMPACT);
        free(s);
        json_decref(rec);
    } else if (rec) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rgs_verbosity = -1;
    /* the input as a body alone */
    envelope(data, size);
    /* and as a whole request */
    rgs_http_conn *c = rgs_http_conn_new(NULL);
    if (rgs_http_feed(c, (const char *)data, size, NULL) == RGS_HTTP_DONE) {
        const rgs_http_request *req = rgs_http_request_of(c);
        rgs_webhook_auth a;
        (void)rgs_webhook_authenticate("s3cret", get, (void *)req, req->body.data, req->body.len,
                                       1772575128, 300, &a);
        if (rgs_webhook_authenticate("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", get, (void *)req,
                                     req->body.data, req->body.len, 1772575128, 300, &a) &&
            strcmp(a.method, "svix") != 0)
            __builtin_trap();
        envelope(req->body.data, req->body.len);
    }
    rgs_http_conn_free(c);
    return 0;
}
