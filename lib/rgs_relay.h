/* rgs_relay: HTTP client for Relay Server (libcurl), as rgs-fetch uses it.
 *
 * Endpoints (relay.md §4): GET <base>/d/<relay>-<doc>/as-update (a Yjs v1
 * update) and GET <base>/f/<relay>-<file>/download-url?hash=<sha256>
 * (answer {"downloadUrl": URL}), both with "Authorization: Bearer <key>";
 * then GET URL *without* the bearer (a presigned S3 URL refuses a second
 * auth mechanism, relay.md §3.4).
 *
 * Properties (issue 4, DESIGN.md "Every network call has a timeout"):
 *   - one curl multi handle: connections are reused across requests, up to
 *     `parallel` transfers run at once;
 *   - a connect timeout and a total timeout on every transfer, and a
 *     low-speed limit so a stalled body fails before the total timeout;
 *   - bounded retries with exponential backoff (base delay doubled per
 *     attempt, capped at 30 s, +-25% jitter) on HTTP 5xx, 408, 429, time
 *     outs and connection errors; no retry on 401/403/404 or other 4xx
 *     (permanent), nor on redirects (permanent: the URL is wrong; the
 *     bearer is never sent elsewhere);
 *   - the scheme of the base URL is kept: https stays https; only http and
 *     https are allowed at all (CURLOPT_PROTOCOLS_STR);
 *   - the API key only ever travels in the Authorization header; messages
 *     and results name URLs through rgs_redact_url.
 */
#ifndef RGS_RELAY_H
#define RGS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rgs_util.h"

typedef struct rgs_relay rgs_relay;

typedef struct {
    const char *base_url;     /* RELAY_SERVER_URL: http(s)://host[:port][/path]; trailing '/' ignored */
    const char *api_key;      /* RELAY_SERVER_API_KEY, or NULL/"" for none (copied) */
    const char *cacert;       /* PEM CA bundle for https, or NULL for the system default */
    unsigned parallel;        /* transfers at once (>= 1) */
    double connect_timeout;   /* seconds, per attempt */
    double timeout;           /* seconds, whole transfer, per attempt (documents, download-url) */
    double blob_timeout;      /* seconds, per attempt, for the blob body */
    unsigned retries;         /* extra attempts after the first (0 = none) */
    double retry_delay;       /* seconds before the first retry; doubled each time */
    size_t max_update;        /* largest document update accepted, bytes */
    size_t max_blob;          /* largest attachment accepted, bytes */
} rgs_relay_opts;

/* rgs_relay_opts_default: the defaults: parallel 4, connect 10 s, total
 * 60 s, blob 600 s, 3 retries from 0.5 s, updates up to 256 MiB, blobs up
 * to 1 GiB. */
void rgs_relay_opts_default(rgs_relay_opts *o);

/* Outcome of one request, handed to the completion callback (valid only
 * during the callback; the callback may steal `body` with rgs_buf_steal). */
typedef struct {
    bool ok;            /* true: body (document) or file (blob) is there */
    bool temporary;     /* when !ok: true = retrying later may help */
    long status;        /* last HTTP status, 0 if no answer */
    unsigned attempts;  /* requests made, retries included */
    rgs_buf body;       /* as-update: the bytes */
    const char *what;   /* "GET /d/<id>/as-update" etc. (no secrets), for messages */
    char error[320];    /* when !ok: why, one line, no secrets */
} rgs_relay_result;

typedef void (*rgs_relay_cb)(void *ctx, rgs_relay_result *r);

/* rgs_relay_new: a client.  Returns NULL (message printed) when the base
 * URL is not http(s)://host... or libcurl cannot start.  The options are
 * copied. */
rgs_relay *rgs_relay_new(const rgs_relay_opts *o);
void rgs_relay_free(rgs_relay *r);

/* rgs_relay_get_update: queue GET /d/<relay>-<doc>/as-update.  `relay` and
 * `doc` are validated lower-case UUIDs.  `cb(ctx, result)` runs from
 * rgs_relay_run once the request succeeded or failed for good. */
void rgs_relay_get_update(rgs_relay *r, const char *relay, const char *doc, rgs_relay_cb cb,
                          void *ctx);

/* rgs_relay_get_blob: queue the two-step download of attachment `file`
 * whose SHA-256 is `hash` (64 lower-case hex) into directory `dir` (opened
 * as a directory fd by the caller, kept open until the callback): the
 * bytes go to a temporary file in `dir`, are fsynced, must hash to `hash`
 * (else a permanent failure) and are renamed to `dir`/<hash>, then `dir` is
 * fsynced.  At most max_blob bytes.  The callback's result has ok set and
 * an empty body on success. */
void rgs_relay_get_blob(rgs_relay *r, const char *relay, const char *file, const char *hash,
                        int dirfd, rgs_relay_cb cb, void *ctx);

/* Temporary downloads (DATA_DIR/cache/blobs/.tmp-<16 hex>) outlive a killed
 * rgs-fetch.  Each live download holds flock(2) LOCK_EX on its file from
 * the moment it is created until it is renamed to <hash> or removed, so a
 * sweep in any process (both rgs-fetch of a pipeline, rgs-sync, a second
 * service on the same data directory) can tell a dead one from a live one.
 * rgs_relay_get_blob sweeps its directory (rgs_relay_sweep_tmp with
 * RGS_RELAY_TMP_STALE) at the first download of a client and then at most
 * every RGS_RELAY_SWEEP_EVERY seconds. */
#define RGS_RELAY_TMP_STALE 3600.0  /* seconds since the last write */
#define RGS_RELAY_SWEEP_EVERY 600.0 /* seconds between sweeps of one client */

/* rgs_relay_sweep_tmp: remove from the directory `dirfd` every regular
 * file named ".tmp-*" whose modification time is at least `min_age`
 * seconds in the past and on which flock(LOCK_EX | LOCK_NB) succeeds (no
 * download owns it; the age covers the instant between a download's
 * create and its lock).  Symlinks, directories, files that cannot be
 * locked (EWOULDBLOCK, or a file system without flock) and every other
 * name are left alone.  *removed (when not NULL) gets the count; an info
 * message names count and bytes.  Returns 0, or -1 with errno when the
 * directory cannot be read. */
int rgs_relay_sweep_tmp(int dirfd, double min_age, unsigned *removed);

/* rgs_relay_run: perform every queued request (callbacks may queue more)
 * until none is left.  Returns 0, or -1 on an internal libcurl error
 * (message printed). */
int rgs_relay_run(rgs_relay *r);

/* Counters since rgs_relay_new, for -v summaries and benchmarks. */
typedef struct {
    unsigned long requests;     /* HTTP requests sent, retries included */
    unsigned long connections;  /* new TCP connections opened */
    unsigned long retries;      /* attempts repeated */
    unsigned long long bytes;   /* response body bytes received */
} rgs_relay_stats;
void rgs_relay_get_stats(const rgs_relay *r, rgs_relay_stats *out);

/* rgs_relay_parse_download_url: the download-url answer (relay.md §4):
 * `n` bytes of untrusted JSON that must be an object with a string member
 * "downloadUrl" holding an absolute http:// or https:// URL without
 * control characters, spaces or NUL, at most 8192 bytes.  Returns a copy
 * (caller frees), or NULL with a reason (no secrets) in why[200]. */
char *rgs_relay_parse_download_url(const char *p, size_t n, char why[200]);

#endif
