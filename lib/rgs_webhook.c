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
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
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

/* ---- replay cache ----
 *
 * One table per minute of signed timestamps: DATA_DIR/spool/seen/<minute>.tab,
 * a file of SEEN_SLOTS slots of 16 bytes (8 MiB, allocated at creation),
 * open addressing with linear probing.  A slot is empty (all zero),
 * released (all 0xff), or holds an id: bytes 0-14 from the SHA-256 of the
 * message id (never all zero, never all 0xff), byte 15 its state: PENDING
 * (its event is being stored) or anything else: DONE (stored; tables of
 * older versions held hash bytes there, which count as DONE).
 *
 * Inserts and state changes take an exclusive flock(2) on the table;
 * lookups in other minutes read without it (an id racing into two minutes
 * at once can only come from two differently signed messages, i.e. a
 * sender's own retry: at worst a duplicate event).  The process storing a
 * PENDING id holds an open-file-description write lock (F_OFD_SETLK) on its
 * slot until it is DONE or released; a process that finds the id PENDING
 * waits for that lock, so it learns the outcome, and a holder that died
 * (its lock went with it) leaves its slot to the next claimant.
 * pread/pwrite, not mmap, so the tables do not grow the processes'
 * resident memory.
 */

#define MINUTE 60
#define SEEN_SLOTS ((off_t)1 << 19) /* per minute: 8 MiB, up to ~7,000 ids/s */
#define SEEN_PROBE 4096             /* slots probed before the table counts as full */
#define SLOT 16
#define ID_BYTES 15                 /* the id's part of a slot */
#define ST_PENDING 0x01
#define ST_DONE 0x02

static long long minute_of(long long t) { return t >= 0 ? t / MINUTE : -((-t + MINUTE - 1) / MINUTE); }

static void slot_of(const char *msg_id, uint8_t key[SLOT], off_t *start)
{
    uint8_t h[32];
    rgs_sha256(msg_id, strlen(msg_id), h);
    memcpy(key, h, SLOT);
    key[0] |= 1;    /* never all zero (empty) */
    key[1] &= 0x7f; /* never all 0xff (released) */
    key[ID_BYTES] = ST_PENDING;
    uint64_t x;
    memcpy(&x, h + SLOT, sizeof x);
    *start = (off_t)(x % (uint64_t)SEEN_SLOTS);
}

/* look for the id of `key` from slot `start`; returns 1 found (*at gets
 * its slot, *state its state byte), 0 not found (*empty gets the first
 * empty slot, -1 if none within SEEN_PROBE), -1 on error */
static int table_find(int fd, const uint8_t key[SLOT], off_t start, off_t *empty, off_t *at,
                      uint8_t *state)
{
    static const uint8_t zero[SLOT];
    uint8_t buf[256 * SLOT];
    *empty = -1;
    off_t probed = 0;
    while (probed < SEEN_PROBE) {
        off_t slot = (start + probed) % SEEN_SLOTS;
        off_t count = SEEN_SLOTS - slot < 256 ? SEEN_SLOTS - slot : 256;
        ssize_t r = pread(fd, buf, (size_t)(count * SLOT), slot * SLOT);
        if (r < 0)
            return -1;
        if (r < count * SLOT) /* beyond the end: sparse zeros */
            memset(buf + r, 0, (size_t)(count * SLOT - r));
        for (off_t i = 0; i < count; i++) {
            const uint8_t *s = buf + i * SLOT;
            if (memcmp(s, key, ID_BYTES) == 0) {
                *at = slot + i;
                *state = s[ID_BYTES];
                return 1;
            }
            if (memcmp(s, zero, SLOT) == 0) {
                *empty = slot + i;
                return 0;
            }
        }
        probed += count;
    }
    return 0;
}

/* per-process cache of open tables */
static struct {
    char *dir;
    long long minute[16];
    int fd[16];
    int n;
    pid_t pid; /* the process that opened them */
} tabs;

static void tabs_reset(void)
{
    for (int i = 0; i < tabs.n; i++)
        close(tabs.fd[i]);
    tabs.n = 0;
    free(tabs.dir);
    tabs.dir = NULL;
}

/* the table of `minute` (created with `create`); -1 with errno */
static int table_open(const char *data_dir, long long minute, bool create)
{
    /* after fork(2) the descriptors share their open file descriptions,
     * and with them the slot locks, with the parent: open our own */
    if ((tabs.dir && strcmp(tabs.dir, data_dir) != 0) || (tabs.n && tabs.pid != getpid()))
        tabs_reset();
    tabs.pid = getpid();
    for (int i = 0; i < tabs.n; i++)
        if (tabs.minute[i] == minute)
            return tabs.fd[i];
    char *path = rgs_xasprintf("%s/spool/seen/%lld.tab", data_dir, minute);
    int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0);
    int fd = open(path, flags, 0600);
    if (fd < 0 && errno == ENOENT && create) {
        char *dir = rgs_xasprintf("%s/spool/seen", data_dir);
        if (rgs_mkdirs(dir, 0700) == 0)
            fd = open(path, flags, 0600);
        free(dir);
    }
    int saved = errno;
    free(path);
    if (fd < 0) {
        errno = saved;
        return -1;
    }
    /* allocate the table's blocks once (as unwritten extents: metadata only,
     * no data written).  Without this every insert into a fresh page
     * allocates a block, and on ext4 (data=ordered) each journal commit -
     * the one the spool's fdatasync waits for - would first have to write
     * all those scattered table pages. */
    struct stat st;
    if (create && fstat(fd, &st) == 0 && st.st_blocks * 512 < SEEN_SLOTS * SLOT &&
        fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, SEEN_SLOTS * SLOT) < 0 && errno != EOPNOTSUPP)
        rgs_debug("replay table: fallocate: %s", strerror(errno));
    if (tabs.n == 16) { /* keep the newest; old minutes expire anyway */
        close(tabs.fd[0]);
        memmove(tabs.minute, tabs.minute + 1, 15 * sizeof *tabs.minute);
        memmove(tabs.fd, tabs.fd + 1, 15 * sizeof *tabs.fd);
        tabs.n--;
    }
    if (!tabs.dir)
        tabs.dir = rgs_xstrdup(data_dir);
    tabs.minute[tabs.n] = minute;
    tabs.fd[tabs.n] = fd;
    tabs.n++;
    return fd;
}

/* the minute m of a table name "<m>.tab" in seen/ */
static bool tab_minute(const char *name, long long *m)
{
    char *end;
    errno = 0;
    *m = strtoll(name, &end, 10);
    return name[0] != '.' && !errno && strcmp(end, ".tab") == 0;
}

/* the live minutes present: seen/<m>.tab with m*60+60 >= oldest */
static int live_minutes(const char *data_dir, double oldest, long long *out, int max)
{
    char *dir = rgs_xasprintf("%s/spool/seen", data_dir);
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        long long m;
        if (!tab_minute(de->d_name, &m))
            continue;
        if ((double)(m + 1) * MINUTE >= oldest)
            out[n++] = m;
    }
    closedir(d);
    return n;
}

/* the OFD write lock on one slot: F_OFD_SETLK (type F_WRLCK or F_UNLCK);
 * 0, or -1 with errno (EAGAIN: another process holds it) */
static int slot_lock(int fd, off_t slot, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = slot * SLOT, .l_len = SLOT};
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* write one slot under the table's flock */
static int slot_write(int fd, off_t slot, const uint8_t bytes[SLOT])
{
    if (flock(fd, LOCK_EX) < 0)
        return -1;
    int rc = pwrite(fd, bytes, SLOT, slot * SLOT) == SLOT ? 0 : -1;
    int saved = errno;
    flock(fd, LOCK_UN);
    errno = saved;
    return rc;
}

/* the claimant owns slot `at` of `fd` (PENDING, its OFD lock held) */
static int ticket_take(rgs_replay_ticket *t, int fd, off_t at, const uint8_t key[SLOT])
{
    t->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* the same open file description: the lock stays */
    if (t->fd < 0) {
        int saved = errno;
        slot_lock(fd, at, F_UNLCK);
        errno = saved;
        return -1;
    }
    t->slot = at;
    memcpy(t->key, key, SLOT);
    return 0;
}

/* wait (until `deadline`, rgs_mono seconds) for the PENDING slot `at` of
 * `fd`: 1 DONE, 0 we own it now (its holder died), 2 still pending at
 * the deadline, 3 released meanwhile (claim again), -1 error */
static int slot_wait(int fd, off_t at, const uint8_t key[SLOT], double deadline)
{
    double pause = 0.001;
    while (slot_lock(fd, at, F_WRLCK) < 0) {
        if (errno != EAGAIN && errno != EACCES && errno != EINTR)
            return -1;
        double left = deadline - rgs_mono();
        if (left <= 0)
            return 2;
        double d = pause < left ? pause : left;
        struct timespec ts = {(time_t)d, (long)((d - (double)(time_t)d) * 1e9)};
        nanosleep(&ts, NULL);
        if (pause < 0.02)
            pause *= 2;
    }
    /* the holder finished or died: what did it leave? */
    uint8_t s[SLOT];
    if (flock(fd, LOCK_EX) < 0 || pread(fd, s, SLOT, at * SLOT) != SLOT) {
        int saved = errno;
        flock(fd, LOCK_UN);
        slot_lock(fd, at, F_UNLCK);
        errno = saved;
        return -1;
    }
    flock(fd, LOCK_UN);
    if (memcmp(s, key, ID_BYTES) != 0) { /* released */
        slot_lock(fd, at, F_UNLCK);
        return 3;
    }
    if (s[ID_BYTES] != ST_PENDING) {
        slot_lock(fd, at, F_UNLCK);
        return 1;
    }
    return 0; /* abandoned: ours now, lock held, still PENDING */
}

int rgs_replay_claim(const char *data_dir, const char *msg_id, long long timestamp, double now,
                     double tolerance, double wait, rgs_replay_ticket *t)
{
    t->fd = -1;
    uint8_t key[SLOT];
    off_t start, empty, at;
    uint8_t state;
    slot_of(msg_id, key, &start);
    long long mine = minute_of(timestamp);
    double deadline = rgs_mono() + wait;
    for (int round = 0; round < 64; round++) {
        long long ms[64];
        int n = live_minutes(data_dir, now - tolerance - 3 * MINUTE, ms, 64);
        if (n < 0)
            return -1;
        int fd = -1, r = 0;
        for (int i = 0; i < n && r == 0; i++) {
            if (ms[i] == mine)
                continue;
            fd = table_open(data_dir, ms[i], false);
            if (fd < 0)
                continue; /* pruned meanwhile */
            r = table_find(fd, key, start, &empty, &at, &state);
        }
        if (r < 0)
            return -1;
        if (r == 0) {
            fd = table_open(data_dir, mine, true);
            if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return -1;
            r = table_find(fd, key, start, &empty, &at, &state);
            if (r == 0) {
                /* new: lock the slot first, then make it PENDING, so a
                 * process that sees it PENDING finds the lock held */
                if (empty < 0) {
                    errno = ENOSPC;
                    r = -1;
                } else if (slot_lock(fd, empty, F_WRLCK) < 0) {
                    r = -1;
                } else if (pwrite(fd, key, SLOT, empty * SLOT) != SLOT) {
                    int saved = errno;
                    slot_lock(fd, empty, F_UNLCK);
                    errno = saved;
                    r = -1;
                }
                int saved = errno;
                flock(fd, LOCK_UN);
                errno = saved;
                if (r < 0)
                    return -1;
                return ticket_take(t, fd, empty, key);
            }
            int saved = errno;
            flock(fd, LOCK_UN);
            errno = saved;
            if (r < 0)
                return -1;
        }
        if (state != ST_PENDING)
            return 1; /* accepted and stored before */
        int w = slot_wait(fd, at, key, deadline);
        if (w == 0)
            return ticket_take(t, fd, at, key);
        if (w != 3)
            return w; /* 1 stored, 2 still pending, -1 error */
    }
    errno = EAGAIN;
    return 2;
}

/* end a ticket: write `bytes` into its slot, drop the slot lock */
static int ticket_end(rgs_replay_ticket *t, const uint8_t bytes[SLOT])
{
    if (!t || t->fd < 0)
        return 0;
    int rc = slot_write(t->fd, t->slot, bytes);
    int saved = errno;
    slot_lock(t->fd, t->slot, F_UNLCK);
    close(t->fd); /* the last descriptor of our duplicate: the lock goes too */
    t->fd = -1;
    errno = saved;
    return rc;
}

int rgs_replay_commit(rgs_replay_ticket *t)
{
    if (!t || t->fd < 0)
        return 0;
    uint8_t done[SLOT];
    memcpy(done, t->key, SLOT);
    done[ID_BYTES] = ST_DONE;
    return ticket_end(t, done);
}

int rgs_replay_release(rgs_replay_ticket *t)
{
    uint8_t gone[SLOT];
    memset(gone, 0xff, SLOT);
    return ticket_end(t, gone);
}

void rgs_replay_prune(const char *data_dir, double now, double tolerance)
{
    static double last;
    if (now - last < 30)
        return;
    last = now;
    char *dir = rgs_xasprintf("%s/spool/seen", data_dir);
    DIR *d = opendir(dir);
    free(dir);
    if (!d)
        return;
    double oldest = now - tolerance - 3 * MINUTE;
    struct dirent *de;
    while ((de = readdir(d))) {
        long long m;
        if (!tab_minute(de->d_name, &m))
            continue;
        if ((double)(m + 1) * MINUTE < oldest)
            unlinkat(dirfd(d), de->d_name, 0);
    }
    closedir(d);
    /* forget descriptors of pruned tables */
    tabs_reset();
}
