/* rgs_relay: libcurl client for Relay Server.  See rgs_relay.h. */
#include "rgs_relay.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rgs_crypto.h"

enum xkind { X_UPDATE, X_URL, X_BLOB };

typedef struct xfer {
    struct xfer *next;       /* in the waiting list */
    enum xkind kind;
    CURL *easy;
    struct curl_slist *hdrs;
    char *url;               /* full URL (may carry a presigned signature: never printed raw) */
    char *what;              /* for messages: method + path, no secrets */
    unsigned attempts;
    double due;              /* rgs_mono() before which it must not start */
    rgs_buf body;
    size_t max;
    bool too_big;
    char relay[37], id[37], hash[65];
    int dirfd;               /* X_BLOB: destination directory */
    int fd;                  /* X_BLOB: temporary file */
    char tmpname[64];
    size_t written;
    bool write_failed;
    rgs_relay_cb cb;
    void *ctx;
    char errbuf[CURL_ERROR_SIZE];
} xfer;

struct rgs_relay {
    rgs_relay_opts o;
    char *base;
    char *auth;              /* "Authorization: Bearer <key>" or NULL */
    char *cacert;
    CURLM *multi;
    xfer *wait_head, *wait_tail;
    unsigned active;
    rgs_relay_stats st;
    bool swept;              /* the blob directory below was swept at swept_at */
    dev_t swept_dev;
    ino_t swept_ino;
    double swept_at;         /* rgs_mono() */
};

static bool curl_inited;

void rgs_relay_opts_default(rgs_relay_opts *o)
{
    memset(o, 0, sizeof *o);
    o->parallel = 4;
    o->connect_timeout = 10;
    o->timeout = 60;
    o->blob_timeout = 600;
    o->retries = 3;
    o->retry_delay = 0.5;
    o->max_update = (size_t)256 << 20;
    o->max_blob = (size_t)1 << 30;
}

rgs_relay *rgs_relay_new(const rgs_relay_opts *o)
{
    const char *u = o->base_url;
    if (!u || !*u) {
        rgs_error("relay URL '': none given (RELAY_SERVER_URL or --relay-server-url)");
        return NULL;
    }
    if (strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) {
        char *red = rgs_redact_url(u);
        rgs_error("relay URL '%s': must start with http:// or https://", red);
        free(red);
        return NULL;
    }
    for (const char *p = u; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
            rgs_error("relay URL: contains a space or control character");
            return NULL;
        }
    if (!curl_inited) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            rgs_error("libcurl: global init failed");
            return NULL;
        }
        curl_inited = true;
    }
    rgs_relay *r = rgs_xcalloc(1, sizeof *r);
    r->o = *o;
    if (r->o.parallel < 1)
        r->o.parallel = 1;
    r->base = rgs_xstrdup(u);
    size_t bl = strlen(r->base);
    while (bl > 0 && r->base[bl - 1] == '/')
        r->base[--bl] = 0;
    if (o->api_key && *o->api_key)
        r->auth = rgs_xasprintf("Authorization: Bearer %s", o->api_key);
    r->cacert = o->cacert ? rgs_xstrdup(o->cacert) : NULL;
    r->o.api_key = NULL;
    r->o.cacert = r->cacert;
    r->o.base_url = r->base;
    r->multi = curl_multi_init();
    if (!r->multi) {
        rgs_error("libcurl: multi init failed");
        rgs_relay_free(r);
        return NULL;
    }
    curl_multi_setopt(r->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)r->o.parallel);
    curl_multi_setopt(r->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)r->o.parallel + 2);
    curl_multi_setopt(r->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return r;
}

static void xfer_free(xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->hdrs);
    if (x->fd >= 0) {
        /* unlink while the lock is held: the name never lingers unlocked */
        unlinkat(x->dirfd, x->tmpname, 0);
        close(x->fd);
    }
    free(x->url);
    free(x->what);
    rgs_buf_free(&x->body);
    /* the secret header lives in hdrs only; nothing else to scrub */
    free(x);
}

void rgs_relay_free(rgs_relay *r)
{
    if (!r)
        return;
    for (xfer *x = r->wait_head, *n; x; x = n) {
        n = x->next;
        xfer_free(x);
    }
    if (r->multi)
        curl_multi_cleanup(r->multi);
    if (r->auth) {
        explicit_bzero(r->auth, strlen(r->auth));
        free(r->auth);
    }
    free(r->base);
    free(r->cacert);
    free(r);
}

void rgs_relay_get_stats(const rgs_relay *r, rgs_relay_stats *out)
{
    *out = r->st;
}

static void enqueue(rgs_relay *r, xfer *x)
{
    x->next = NULL;
    if (r->wait_tail)
        r->wait_tail->next = x;
    else
        r->wait_head = x;
    r->wait_tail = x;
}

static xfer *xfer_new(enum xkind kind, rgs_relay_cb cb, void *ctx)
{
    xfer *x = rgs_xcalloc(1, sizeof *x);
    x->kind = kind;
    x->cb = cb;
    x->ctx = ctx;
    x->fd = -1;
    x->dirfd = -1;
    return x;
}

void rgs_relay_get_update(rgs_relay *r, const char *relay, const char *doc, rgs_relay_cb cb,
                          void *ctx)
{
    xfer *x = xfer_new(X_UPDATE, cb, ctx);
    snprintf(x->relay, sizeof x->relay, "%s", relay);
    snprintf(x->id, sizeof x->id, "%s", doc);
    x->url = rgs_xasprintf("%s/d/%s-%s/as-update", r->base, relay, doc);
    x->what = rgs_xasprintf("GET /d/%s-%s/as-update", relay, doc);
    x->max = r->o.max_update;
    enqueue(r, x);
}

int rgs_relay_sweep_tmp(int dirfd, double min_age, unsigned *removed)
{
    if (removed)
        *removed = 0;
    /* a new open file description: the caller's directory offset stays */
    int lfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (lfd < 0)
        return -1;
    DIR *d = fdopendir(lfd);
    if (!d) {
        int e = errno;
        close(lfd);
        errno = e;
        return -1;
    }
    double now = rgs_now();
    unsigned n = 0;
    unsigned long long bytes = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (strncmp(name, ".tmp-", 5) != 0)
            continue;
        struct stat st, fst;
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        double age = now - ((double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
        if (age < min_age)
            continue; /* maybe created an instant ago, not yet locked by its download */
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        /* a live download holds LOCK_EX on its file (start()); so does a
         * concurrent sweep that is about to remove it */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            if (errno != EWOULDBLOCK)
                rgs_debug("blob cache '%s': cannot lock (%s); left alone", name, strerror(errno));
            close(fd);
            continue;
        }
        if (fstat(fd, &fst) == 0 && fst.st_dev == st.st_dev && fst.st_ino == st.st_ino &&
            unlinkat(dirfd, name, 0) == 0) {
            n++;
            bytes += (unsigned long long)st.st_size;
            rgs_debug("blob cache '%s': removed a stale temporary download (%lld bytes, %.0f s old)",
                      name, (long long)st.st_size, age);
        }
        close(fd);
    }
    closedir(d);
    if (n)
        rgs_info("blob cache '.tmp-*': removed %u stale temporary download%s (%llu bytes)", n,
                 n == 1 ? "" : "s", bytes);
    if (removed)
        *removed = n;
    return 0;
}

/* Sweep the blob directory at the first download into it, and again when
 * RGS_RELAY_SWEEP_EVERY seconds have passed (rgs-fetch runs for days). */
static void maybe_sweep(rgs_relay *r, int dirfd)
{
    struct stat st;
    if (dirfd < 0 || fstat(dirfd, &st) < 0)
        return;
    double now = rgs_mono();
    if (r->swept && r->swept_dev == st.st_dev && r->swept_ino == st.st_ino &&
        now - r->swept_at < RGS_RELAY_SWEEP_EVERY)
        return;
    r->swept = true;
    r->swept_dev = st.st_dev;
    r->swept_ino = st.st_ino;
    r->swept_at = now;
    if (rgs_relay_sweep_tmp(dirfd, RGS_RELAY_TMP_STALE, NULL) < 0)
        rgs_warn("blob cache: cannot list it for stale temporary downloads: %s", strerror(errno));
}

void rgs_relay_get_blob(rgs_relay *r, const char *relay, const char *file, const char *hash,
                        int dirfd, rgs_relay_cb cb, void *ctx)
{
    maybe_sweep(r, dirfd);
    xfer *x = xfer_new(X_URL, cb, ctx);
    snprintf(x->relay, sizeof x->relay, "%s", relay);
    snprintf(x->id, sizeof x->id, "%s", file);
    snprintf(x->hash, sizeof x->hash, "%s", hash);
    x->dirfd = dirfd;
    x->url = rgs_xasprintf("%s/f/%s-%s/download-url?hash=%s", r->base, relay, file, hash);
    x->what = rgs_xasprintf("GET /f/%s-%s/download-url", relay, file);
    x->max = 64 * 1024;
    enqueue(r, x);
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    xfer *x = ud;
    size_t n = size * nmemb;
    if (x->body.len + x->written + n > x->max) {
        x->too_big = true;
        return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
    }
    if (x->kind == X_BLOB) {
        if (rgs_write_all(x->fd, p, n) < 0) {
            x->write_failed = true;
            return 0;
        }
        x->written += n;
        return n;
    }
    rgs_buf_append(&x->body, p, n);
    return n;
}

/* Prepare the easy handle for the next attempt. */
static int start(rgs_relay *r, xfer *x)
{
    if (x->easy)
        curl_easy_reset(x->easy);
    else if (!(x->easy = curl_easy_init()))
        return -1;
    rgs_buf_reset(&x->body);
    x->too_big = false;
    x->write_failed = false;
    x->errbuf[0] = 0;
    if (x->kind == X_BLOB) {
        if (x->fd < 0) {
            unsigned char rnd[8];
            char hex[17];
            if (rgs_random(rnd, sizeof rnd) < 0)
                return -1;
            rgs_hex(rnd, sizeof rnd, hex);
            snprintf(x->tmpname, sizeof x->tmpname, ".tmp-%s", hex);
            x->fd = openat(x->dirfd, x->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                           0644);
            if (x->fd < 0)
                return -1;
            /* held until the file is renamed or removed: tells
             * rgs_relay_sweep_tmp (in any process) that it is alive.  A file
             * system without flock(2) makes the sweep leave the file alone. */
            if (flock(x->fd, LOCK_EX | LOCK_NB) < 0)
                rgs_debug("blob cache '%s': flock: %s", x->tmpname, strerror(errno));
        } else if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0) {
            return -1;
        }
        x->written = 0;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->o.connect_timeout * 1000));
    double total = x->kind == X_BLOB ? r->o.blob_timeout : r->o.timeout;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(total * 1000));
    /* a body that stalls (below 1 byte/s for the connect timeout) fails early */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (long)(r->o.connect_timeout < 1 ? 1 : r->o.connect_timeout));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "relay-git-sync/" RGS_VERSION);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (r->cacert)
        curl_easy_setopt(e, CURLOPT_CAINFO, r->cacert);
    if (!x->hdrs && x->kind != X_BLOB && r->auth)
        x->hdrs = curl_slist_append(NULL, r->auth);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs); /* X_BLOB: none, never the bearer */
    x->attempts++;
    r->st.requests++;
    if (curl_multi_add_handle(r->multi, e) != CURLM_OK)
        return -1;
    r->active++;
    return 0;
}

/* Is a curl error worth another attempt? */
static bool curl_temporary(CURLcode c)
{
    switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_AGAIN:
        return true;
    default:
        return false;
    }
}

static void finish(rgs_relay *r, xfer *x, bool ok, bool temporary, long status, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void finish(rgs_relay *r, xfer *x, bool ok, bool temporary, long status, const char *fmt, ...)
{
    rgs_relay_result res;
    memset(&res, 0, sizeof res);
    res.ok = ok;
    res.temporary = temporary;
    res.status = status;
    res.attempts = x->attempts;
    res.what = x->what;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(res.error, sizeof res.error, fmt, ap);
        va_end(ap);
    }
    res.body = x->body;
    x->body = (rgs_buf)RGS_BUF_INIT;
    if (x->cb)
        x->cb(x->ctx, &res);
    rgs_buf_free(&res.body);
    xfer_free(x);
    (void)r;
}

static double backoff(const rgs_relay *r, unsigned attempt)
{
    double d = r->o.retry_delay;
    for (unsigned i = 1; i < attempt && d < 30; i++)
        d *= 2;
    if (d > 30)
        d = 30;
    unsigned char b;
    if (rgs_random(&b, 1) == 0)
        d *= 0.75 + (b / 255.0) * 0.5;
    return d;
}

/* One attempt ended with a retryable problem: retry or give up. */
static void retry_or_fail(rgs_relay *r, xfer *x, long status, const char *why)
{
    if (x->attempts <= r->o.retries) {
        double d = backoff(r, x->attempts);
        rgs_debug("%s '%s': %s; retry %u of %u in %.2fs", "fetch", x->what, why, x->attempts,
                  r->o.retries, d);
        r->st.retries++;
        x->due = rgs_mono() + d;
        enqueue(r, x);
        return;
    }
    finish(r, x, false, true, status, "%s: %s (after %u attempts)", x->what, why, x->attempts);
}

static void blob_done(rgs_relay *r, xfer *x)
{
    if (fsync(x->fd) < 0) {
        finish(r, x, false, true, 200, "%s: fsync of the download: %s", x->what, strerror(errno));
        return;
    }
    char got[65];
    if (rgs_sha256_file_hex(x->dirfd, x->tmpname, got) < 0) {
        finish(r, x, false, true, 200, "%s: reading the download back: %s", x->what, strerror(errno));
        return;
    }
    if (strcmp(got, x->hash) != 0) {
        finish(r, x, false, false, 200, "%s: %zu bytes hash to %s, not to the filemeta hash %s", x->what,
               x->written, got, x->hash);
        return;
    }
    /* renamed while still open and locked, so a sweep never takes it */
    if (renameat(x->dirfd, x->tmpname, x->dirfd, x->hash) < 0) {
        int e = errno;
        finish(r, x, false, true, 200, "%s: rename into the blob cache: %s", x->what, strerror(e));
        return; /* xfer_free removed the temporary file */
    }
    close(x->fd);
    x->fd = -1;
    if (fsync(x->dirfd) < 0) {
        finish(r, x, false, true, 200, "%s: fsync of the blob cache: %s", x->what, strerror(errno));
        return;
    }
    finish(r, x, true, false, 200, NULL);
}

static void done(rgs_relay *r, CURL *e, CURLcode code)
{
    xfer *x = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(r->multi, e);
    r->active--;
    long status = 0, conns = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conns);
    r->st.connections += (unsigned long)conns;
    r->st.bytes += x->body.len + x->written;

    if (code != CURLE_OK) {
        if (x->too_big || code == CURLE_FILESIZE_EXCEEDED) {
            finish(r, x, false, false, status, "%s: answer larger than the limit of %zu bytes", x->what,
                   x->max);
            return;
        }
        if (x->write_failed) {
            finish(r, x, false, true, status, "%s: writing the download: %s", x->what, strerror(errno));
            return;
        }
        char why[CURL_ERROR_SIZE + 64];
        snprintf(why, sizeof why, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
        /* libcurl's messages can name the URL; a presigned one carries a signature */
        if (x->kind == X_BLOB && strstr(why, "?")) {
            snprintf(why, sizeof why, "%s", curl_easy_strerror(code));
        }
        if (curl_temporary(code))
            retry_or_fail(r, x, status, why);
        else
            finish(r, x, false, false, status, "%s: %s", x->what, why);
        return;
    }
    if (status >= 500 || status == 408 || status == 429) {
        char why[64];
        snprintf(why, sizeof why, "HTTP %ld", status);
        retry_or_fail(r, x, status, why);
        return;
    }
    if (status < 200 || status >= 300) {
        const char *hint = status == 401 || status == 403 ? " (check RELAY_SERVER_API_KEY)"
                           : status >= 300 && status < 400 ? " (redirects are not followed: use the final URL)"
                                                           : "";
        finish(r, x, false, false, status, "%s: HTTP %ld%s", x->what, status, hint);
        return;
    }
    switch (x->kind) {
    case X_UPDATE:
        finish(r, x, true, false, status, NULL);
        return;
    case X_URL: {
        char why[200];
        char *url = rgs_relay_parse_download_url(x->body.data ? x->body.data : "", x->body.len, why);
        if (!url) {
            finish(r, x, false, false, status, "%s: %s", x->what, why);
            return;
        }
        /* the same transfer goes on as the blob download, without the bearer */
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
        free(x->url);
        x->url = url;
        char *red = rgs_redact_url(url);
        free(x->what);
        x->what = rgs_xasprintf("GET %s (attachment %s-%s)", red, x->relay, x->id);
        free(red);
        x->kind = X_BLOB;
        x->attempts = 0;
        x->max = r->o.max_blob;
        rgs_buf_reset(&x->body);
        x->due = 0;
        enqueue(r, x);
        return;
    }
    case X_BLOB:
        blob_done(r, x);
        return;
    }
}

int rgs_relay_run(rgs_relay *r)
{
    for (;;) {
        /* start what is due, up to `parallel` at once; the rest (and
         * whatever callbacks queue meanwhile) goes back to the list */
        double now = rgs_mono(), next_due = 0;
        xfer *take = r->wait_head;
        r->wait_head = r->wait_tail = NULL;
        for (xfer *x = take, *n; x; x = n) {
            n = x->next;
            if (r->active < r->o.parallel && x->due <= now) {
                errno = 0;
                if (start(r, x) < 0)
                    finish(r, x, false, true, 0, "%s: cannot start the request: %s", x->what,
                           errno ? strerror(errno) : "libcurl");
                continue;
            }
            if (x->due > now && (next_due == 0 || x->due < next_due))
                next_due = x->due;
            enqueue(r, x);
        }
        if (r->active == 0 && !r->wait_head)
            return 0;
        int running = 0;
        if (curl_multi_perform(r->multi, &running) != CURLM_OK) {
            rgs_error("libcurl: multi perform failed");
            return -1;
        }
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(r->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                done(r, m->easy_handle, m->data.result);
        if (r->active == 0 && !r->wait_head)
            return 0;
        bool startable = false;
        now = rgs_mono();
        next_due = 0;
        for (xfer *x = r->wait_head; x; x = x->next) {
            if (x->due <= now && r->active < r->o.parallel)
                startable = true;
            if (x->due > now && (next_due == 0 || x->due < next_due))
                next_due = x->due;
        }
        if (startable)
            continue;
        int wait_ms = 1000;
        if (next_due > 0) {
            double ms = (next_due - now) * 1000;
            wait_ms = ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms + 1;
        }
        if (r->active > 0) {
            if (curl_multi_poll(r->multi, NULL, 0, wait_ms, NULL) != CURLM_OK) {
                rgs_error("libcurl: multi poll failed");
                return -1;
            }
        } else if (wait_ms > 0) {
            usleep((useconds_t)wait_ms * 1000);
        }
    }
}

char *rgs_relay_parse_download_url(const char *p, size_t n, char why[200])
{
    json_error_t je;
    json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(why, 200, "download-url answer is not JSON (%s)", je.text);
        return NULL;
    }
    char *out = NULL;
    json_t *u = json_is_object(j) ? json_object_get(j, "downloadUrl") : NULL;
    if (!json_is_object(j)) {
        snprintf(why, 200, "download-url answer is not a JSON object");
    } else if (!json_is_string(u)) {
        snprintf(why, 200, "download-url answer has no string \"downloadUrl\"");
    } else {
        const char *s = json_string_value(u);
        size_t len = json_string_length(u);
        bool bad = len == 0 || len > 8192;
        for (size_t i = 0; i < len && !bad; i++)
            if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
                bad = true;
        const char *rest = NULL;
        if (!bad && strncasecmp(s, "https://", 8) == 0)
            rest = s + 8;
        else if (!bad && strncasecmp(s, "http://", 7) == 0)
            rest = s + 7;
        if (bad)
            snprintf(why, 200, "downloadUrl is empty, too long or holds spaces/control characters");
        else if (!rest || !*rest || *rest == '/')
            snprintf(why, 200, "downloadUrl is not an absolute http(s) URL");
        else
            out = rgs_xstrndup(s, len);
    }
    json_decref(j);
    return out;
}
