/* rgs_webhook: see rgs_webhook.h. */
#include "rgs_webhook.h"

#include "rgs_crypto.h"
#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum rgs_auth_mode rgs_webhook_auth_mode(const char *secret)
{
    if (!secret || !*secret)
        return RGS_AUTH_NONE;
    if (strncmp(secret, "whsec_", 6) == 0)
        return RGS_AUTH_SVIX;
    if (strncmp(secret, "sk_", 3) == 0)
        return RGS_AUTH_JWT;
    return RGS_AUTH_BEARER;
}

const char *rgs_webhook_auth_mode_name(enum rgs_auth_mode m)
{
    switch (m) {
    case RGS_AUTH_SVIX: return "svix";
    case RGS_AUTH_JWT: return "jwt";
    case RGS_AUTH_BEARER: return "bearer";
    default: return "none";
    }
}

/* out->error = text followed by detail (may be NULL) */
static bool refuse(rgs_webhook_auth *out, const char *text, const char *detail)
{
    out->ok = false;
    snprintf(out->error, sizeof out->error, "%s%s", text, detail ? detail : "");
    return false;
}

static bool bearer(const char *secret, rgs_webhook_header_fn get, void *ctx, rgs_webhook_auth *out)
{
    unsigned count = 0;
    const char *h = get(ctx, "authorization", &count);
    if (!h)
        return refuse(out, "Authentication required", NULL);
    size_t slen = strlen(secret);
    char *want = rgs_xmalloc(slen + 8);
    memcpy(want, "Bearer ", 7);
    memcpy(want + 7, secret, slen + 1);
    bool eq = rgs_ct_equal(h, strlen(h), want, slen + 7);
    explicit_bzero(want, slen + 7);
    free(want);
    if (!eq || count != 1)
        return refuse(out, "Authentication failed: Invalid shared secret", NULL);
    out->ok = true;
    out->method = "bearer";
    return true;
}

/* the svix header set: svix-* if all three are present, else webhook-* */
static bool svix_headers(rgs_webhook_header_fn get, void *ctx, const char **id, const char **ts,
                         const char **sig, bool *dup)
{
    static const char *const sets[2][3] = {{"svix-id", "svix-timestamp", "svix-signature"},
                                           {"webhook-id", "webhook-timestamp", "webhook-signature"}};
    for (int s = 0; s < 2; s++) {
        unsigned c0 = 0, c1 = 0, c2 = 0;
        *id = get(ctx, sets[s][0], &c0);
        *ts = get(ctx, sets[s][1], &c1);
        *sig = get(ctx, sets[s][2], &c2);
        if (*id && **id && *ts && **ts && *sig && **sig) {
            *dup = c0 > 1 || c1 > 1 || c2 > 1;
            return true;
        }
    }
    return false;
}

static bool svix(const char *secret, rgs_webhook_header_fn get, void *ctx, const void *body,
                 size_t n, double now, double tolerance, rgs_webhook_auth *out)
{
    static const char pfx[] = "Authentication failed: Signature validation failed: ";
    const char *id, *ts, *sig;
    bool dup = false;
    if (!svix_headers(get, ctx, &id, &ts, &sig, &dup))
        return refuse(out, "Authentication required", NULL);
    if (dup || strlen(id) >= sizeof out->msg_id)
        return refuse(out, pfx, "Invalid Signature Headers");
    char *end;
    errno = 0;
    double t = strtod(ts, &end);
    if (end == ts || *end || errno == ERANGE || !isfinite(t) || fabs(t) > 1e15)
        return refuse(out, pfx, "Invalid Signature Headers");
    if (t < now - tolerance)
        return refuse(out, pfx, "Message timestamp too old");
    if (t > now + tolerance)
        return refuse(out, pfx, "Message timestamp too new");
    long long tsec = (long long)floor(t);

    const char *b64 = secret + 6; /* after "whsec_" */
    size_t keylen = 0;
    uint8_t *key = rgs_b64_decode(b64, strlen(b64), &keylen);
    if (!key)
        return refuse(out, pfx, "Invalid secret");
    rgs_buf msg = RGS_BUF_INIT;
    rgs_buf_printf(&msg, "%s.%lld.", id, tsec);
    rgs_buf_append(&msg, body, n);
    uint8_t mac[32];
    rgs_hmac_sha256(key, keylen, msg.data, msg.len, mac);
    explicit_bzero(key, keylen);
    free(key);
    rgs_buf_free(&msg);

    bool match = false;
    const char *p = sig;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (!len)
            break;
        const char *comma = memchr(p, ',', len);
        if (comma && comma - p == 2 && memcmp(p, "v1", 2) == 0) {
            size_t dlen = 0;
            const char *s64 = comma + 1;
            uint8_t *d = rgs_b64_decode(s64, len - 3, &dlen);
            if (d) {
                /* keep going after a match: time does not depend on which matched */
                if (rgs_ct_equal(d, dlen, mac, sizeof mac))
                    match = true;
                free(d);
            }
        }
        p += len;
    }
    if (!match)
        return refuse(out, pfx, "No matching signature found");
    out->ok = true;
    out->method = "svix";
    snprintf(out->msg_id, sizeof out->msg_id, "%s", id);
    out->timestamp = tsec;
    return true;
}

bool rgs_webhook_authenticate(const char *secret, rgs_webhook_header_fn get, void *ctx,
                              const void *body, size_t n, double now, double tolerance,
                              rgs_webhook_auth *out)
{
    memset(out, 0, sizeof *out);
    switch (rgs_webhook_auth_mode(secret)) {
    case RGS_AUTH_BEARER: return bearer(secret, get, ctx, out);
    case RGS_AUTH_SVIX: return svix(secret, get, ctx, body, n, now, tolerance, out);
    case RGS_AUTH_JWT:
        return refuse(out, "Authentication failed: JWT webhook authentication is not supported",
                      NULL);
    default: return refuse(out, "Authentication required", NULL);
    }
}

/* nesting depth of JSON text (brackets outside strings) */
static size_t json_depth(const char *p, size_t n)
{
    size_t depth = 0, max = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth)
            depth--;
    }
    return max;
}

/* a short printable rendering of an untrusted string for logs */
static void shorten(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap && i < 60; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[k++] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    if (n > 60 && k + 4 < cap) {
        memcpy(dst + k, "...", 3);
        k += 3;
    }
    dst[k] = '\0';
}

enum rgs_envelope_result rgs_webhook_envelope(const void *body, size_t n, const char *auth,
                                              double received, json_t **record, char *why,
                                              size_t whylen)
{
    *record = NULL;
    if (!rgs_utf8_valid(body, n)) {
        snprintf(why, whylen, "body is not UTF-8");
        return RGS_ENVELOPE_BAD_JSON;
    }
    if (json_depth(body, n) > RGS_ENVELOPE_MAX_DEPTH) {
        snprintf(why, whylen, "JSON nested deeper than %d", RGS_ENVELOPE_MAX_DEPTH);
        return RGS_ENVELOPE_BAD_JSON;
    }
    json_error_t err;
    json_t *root = json_loadb(body, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root) {
        snprintf(why, whylen, "invalid JSON at byte %d: %s", err.position, err.text);
        return RGS_ENVELOPE_BAD_JSON;
    }
    json_t *payload = json_object_get(root, "payload");
    json_t *doc = json_object_get(payload, "doc_id");
    if (!json_is_object(root) || !json_is_object(payload)) {
        snprintf(why, whylen, "no payload object");
        json_decref(root);
        return RGS_ENVELOPE_BAD_PAYLOAD;
    }
    if (!json_is_string(doc)) {
        snprintf(why, whylen, "no payload.doc_id string");
        json_decref(root);
        return RGS_ENVELOPE_BAD_PAYLOAD;
    }
    const char *doc_id = json_string_value(doc);
    size_t doc_len = json_string_length(doc);
    char relay[37], resource[37];
    if (strlen(doc_id) != doc_len || !rgs_docid_split(doc_id, relay, resource)) {
        char shown[80];
        shorten(shown, sizeof shown, doc_id, doc_len);
        snprintf(why, whylen, "payload.doc_id '%s' is not <uuid>-<uuid>", shown);
        json_decref(root);
        return RGS_ENVELOPE_BAD_PAYLOAD;
    }
    json_t *rec = json_object();
    json_object_set_new(rec, "v", json_integer(1));
    json_object_set_new(rec, "type", json_string("webhook"));
    json_object_set_new(rec, "relay", json_string(relay));
    json_object_set_new(rec, "resource", json_string(resource));
    json_object_set(rec, "doc_id", doc);
    json_t *v = json_object_get(root, "eventType");
    if (json_is_string(v))
        json_object_set(rec, "event_type", v);
    v = json_object_get(root, "eventId");
    if (json_is_string(v))
        json_object_set(rec, "event_id", v);
    v = json_object_get(payload, "timestamp");
    if (json_is_string(v))
        json_object_set(rec, "timestamp", v);
    v = json_object_get(payload, "user");
    if (json_is_string(v) || json_is_null(v))
        json_object_set(rec, "user", v);
    v = json_object_get(payload, "metadata");
    if (json_is_object(v))
        json_object_set(rec, "metadata", v);
    json_object_set_new(rec, "received", json_real(received));
    json_object_set_new(rec, "auth", json_string(auth ? auth : "none"));
    json_decref(root);
    *record = rec;
    if (whylen)
        why[0] = '\0';
    return RGS_ENVELOPE_OK;
}

/* ---- replay cache ---- */

#define MINUTE 60

static char *marker_path(const char *data_dir, long long minute, const char *msg_id, bool dir_only)
{
    if (dir_only)
        return rgs_xasprintf("%s/spool/seen/%lld", data_dir, minute);
    char hex[65];
    rgs_sha256_hex(msg_id, strlen(msg_id), hex);
    return rgs_xasprintf("%s/spool/seen/%lld/%s", data_dir, minute, hex);
}

static void remove_tree_of_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    int fd = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlinkat(fd, de->d_name, 0);
    closedir(d);
    rmdir(dir);
}

/* list the minute directories; look for the marker `hex` in those not
 * older than `oldest` (older ones are expired and only wait for pruning);
 * with `prune`, remove the expired ones (and leftovers of a pruner that
 * died) */
static int scan_minutes(const char *data_dir, const char *hex, double oldest, bool prune,
                        bool *seen)
{
    char *seen_dir = rgs_xasprintf("%s/spool/seen", data_dir);
    DIR *d = opendir(seen_dir);
    if (!d) {
        int saved = errno;
        free(seen_dir);
        errno = saved;
        return saved == ENOENT ? 0 : -1;
    }
    int fd = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        bool leftover = strncmp(de->d_name, ".prune.", 7) == 0;
        char *end;
        errno = 0;
        long long m = strtoll(de->d_name, &end, 10);
        bool minute = de->d_name[0] != '.' && !*end && !errno;
        bool expired = minute && (double)(m + 1) * MINUTE < oldest;
        if (prune && (expired || leftover)) {
            /* rename first so only one process deletes it */
            char *victim = rgs_xasprintf(".prune.%lld.%ld.%u", m, (long)getpid(), (unsigned)rand());
            if (renameat(fd, de->d_name, fd, victim) == 0) {
                char *full = rgs_xasprintf("%s/%s", seen_dir, victim);
                remove_tree_of_files(full);
                free(full);
            }
            free(victim);
            continue;
        }
        if (minute && !expired && hex && !*seen) {
            char *rel = rgs_xasprintf("%s/%s", de->d_name, hex);
            if (faccessat(fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                *seen = true;
            free(rel);
        }
    }
    closedir(d);
    free(seen_dir);
    return 0;
}

int rgs_replay_claim(const char *data_dir, const char *msg_id, long long timestamp, double now,
                     double tolerance)
{
    char hex[65];
    rgs_sha256_hex(msg_id, strlen(msg_id), hex);
    bool seen = false;
    if (scan_minutes(data_dir, hex, now - tolerance - 3 * MINUTE, false, &seen) < 0)
        return -1;
    if (seen)
        return 1;
    long long minute = timestamp >= 0 ? timestamp / MINUTE : -((-timestamp + MINUTE - 1) / MINUTE);
    char *path = marker_path(data_dir, minute, msg_id, false);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT) {
        char *dir = marker_path(data_dir, minute, msg_id, true);
        if (rgs_mkdirs(dir, 0700) == 0)
            fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        free(dir);
    }
    int saved = errno;
    free(path);
    if (fd < 0) {
        if (saved == EEXIST)
            return 1;
        errno = saved;
        return -1;
    }
    close(fd);
    return 0;
}

void rgs_replay_prune(const char *data_dir, double now, double tolerance)
{
    static double last;
    if (now - last < 30)
        return;
    last = now;
    bool seen = false;
    if (scan_minutes(data_dir, NULL, now - tolerance - 3 * MINUTE, true, &seen) < 0 && errno != ENOENT)
        rgs_debug("replay cache '%s/spool/seen': %s", data_dir, strerror(errno));
}

int rgs_replay_release(const char *data_dir, const char *msg_id, long long timestamp)
{
    long long minute = timestamp >= 0 ? timestamp / MINUTE : -((-timestamp + MINUTE - 1) / MINUTE);
    char *path = marker_path(data_dir, minute, msg_id, false);
    int rc = unlink(path);
    int saved = errno;
    free(path);
    errno = saved;
    return rc < 0 && saved != ENOENT ? -1 : 0;
}
