/* rgs_util: see rgs_util.h. */
#include "rgs_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int rgs_verbosity = RGS_INFO;
static const char *progname = "rgs";

void rgs_set_progname(const char *argv0)
{
    if (!argv0 || !*argv0)
        return;
    const char *slash = strrchr(argv0, '/');
    progname = slash ? slash + 1 : argv0;
}

const char *rgs_progname(void) { return progname; }

static const char *level_name(int level)
{
    switch (level) {
    case RGS_ERROR: return "error";
    case RGS_WARN: return "warning";
    case RGS_INFO: return "info";
    case RGS_DEBUG: return "debug";
    default: return "trace";
    }
}

void rgs_vmsg(int level, const char *fmt, va_list ap)
{
    if (level > rgs_verbosity)
        return;
    char line[4096];
    int n = snprintf(line, sizeof line, "%s: %s: ", progname, level_name(level));
    if (n < 0)
        return;
    size_t off = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    int m = vsnprintf(line + off, sizeof line - off, fmt, ap);
    if (m < 0)
        m = 0;
    off += (size_t)m;
    if (off > sizeof line - 2) {
        off = sizeof line - 2;
        memcpy(line + off - 3, "...", 3);
    }
    line[off++] = '\n';
    /* one write(2): atomic for pipes up to PIPE_BUF, good enough for logs */
    (void)rgs_write_all(STDERR_FILENO, line, off);
}

void rgs_msg(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rgs_vmsg(level, fmt, ap);
    va_end(ap);
}

void rgs_die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rgs_vmsg(RGS_ERROR, fmt, ap);
    va_end(ap);
    exit(code);
}

static void oom(size_t n)
{
    rgs_die(RGS_EX_TEMP, "allocate %zu bytes: out of memory", n);
}

void *rgs_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *rgs_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *rgs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *rgs_xstrdup(const char *s)
{
    return rgs_xstrndup(s, strlen(s));
}

char *rgs_xstrndup(const char *s, size_t n)
{
    char *p = rgs_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rgs_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    return s;
}

void rgs_buf_reserve(rgs_buf *b, size_t extra)
{
    if (extra > SIZE_MAX - b->len - 1)
        oom(SIZE_MAX);
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = rgs_xrealloc(b->data, cap);
    b->cap = cap;
}

void rgs_buf_append(rgs_buf *b, const void *p, size_t n)
{
    rgs_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rgs_buf_puts(rgs_buf *b, const char *s) { rgs_buf_append(b, s, strlen(s)); }

void rgs_buf_putc(rgs_buf *b, char c) { rgs_buf_append(b, &c, 1); }

void rgs_buf_printf(rgs_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof tmp) {
        rgs_buf_append(b, tmp, (size_t)n);
    } else {
        rgs_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void rgs_buf_reset(rgs_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void rgs_buf_free(rgs_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *rgs_buf_steal(rgs_buf *b, size_t *len)
{
    if (!b->data)
        rgs_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

int rgs_read_fd(int fd, rgs_buf *out, size_t max)
{
    rgs_buf_reserve(out, 0);
    for (;;) {
        rgs_buf_reserve(out, 65536);
        size_t room = out->cap - out->len - 1;
        if (max && out->len + room > max + 1)
            room = max + 1 - out->len;
        ssize_t r = read(fd, out->data + out->len, room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        out->len += (size_t)r;
        out->data[out->len] = '\0';
        if (max && out->len > max) {
            errno = EFBIG;
            return -1;
        }
    }
    out->data[out->len] = '\0';
    return 0;
}

int rgs_read_file(int dirfd, const char *path, rgs_buf *out, size_t max)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = rgs_read_fd(fd, out, max);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int rgs_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int rgs_fsync_dir(int dirfd, const char *path)
{
    int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int rgs_write_atomic(int dirfd, const char *name, const void *p, size_t n, mode_t mode)
{
    if (!*name || strchr(name, '/')) {
        errno = EINVAL;
        return -1;
    }
    char tmp[300];
    static unsigned counter;
    int len = snprintf(tmp, sizeof tmp, ".%.200s.tmp.%ld.%u", name, (long)getpid(), counter++);
    if (len < 0 || (size_t)len >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (rgs_write_all(fd, p, n) < 0 || fsync(fd) < 0) {
        int saved = errno;
        close(fd);
        unlinkat(dirfd, tmp, 0);
        errno = saved;
        return -1;
    }
    if (close(fd) < 0 || renameat(dirfd, tmp, dirfd, name) < 0) {
        int saved = errno;
        unlinkat(dirfd, tmp, 0);
        errno = saved;
        return -1;
    }
    return rgs_fsync_dir(dirfd, ".");
}

int rgs_mkdirs(const char *path, mode_t mode)
{
    size_t n = strlen(path);
    if (n == 0) {
        errno = EINVAL;
        return -1;
    }
    char *p = rgs_xstrdup(path);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != '\0')
            continue;
        char c = p[i];
        p[i] = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST) {
            int saved = errno;
            free(p);
            errno = saved;
            return -1;
        }
        p[i] = c;
    }
    struct stat st;
    int rc = stat(p, &st);
    free(p);
    if (rc < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static bool uuid_shape(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool rgs_uuid_valid(const char *s)
{
    return s && strnlen(s, 37) == 36 && uuid_shape(s, 36);
}

bool rgs_uuid_norm(const char *s, size_t n, char out[37])
{
    if (!s || !uuid_shape(s, n))
        return false;
    for (size_t i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
    return true;
}

bool rgs_docid_split(const char *id, char relay[37], char resource[37])
{
    if (!id)
        return false;
    size_t n = strnlen(id, 200);
    /* "<36>-<36>" = 73 bytes, "<36>-<36>-<36>" = 110 bytes */
    if (n == 73) {
        if (id[36] != '-')
            return false;
        char r[37], x[37];
        if (!rgs_uuid_norm(id, 36, r) || !rgs_uuid_norm(id + 37, 36, x))
            return false;
        memcpy(relay, r, 37);
        memcpy(resource, x, 37);
        return true;
    }
    if (n == 110) {
        if (id[36] != '-' || id[73] != '-')
            return false;
        char r[37], m[37], x[37];
        if (!rgs_uuid_norm(id, 36, r) || !rgs_uuid_norm(id + 37, 36, m) ||
            !rgs_uuid_norm(id + 74, 36, x))
            return false;
        memcpy(relay, r, 37);
        memcpy(resource, x, 37);
        return true;
    }
    return false;
}

const char *rgs_data_dir(const char *opt)
{
    if (opt && *opt)
        return opt;
    const char *e = getenv("RELAY_GIT_DATA_DIR");
    if (e && *e)
        return e;
    return ".";
}

int rgs_lock_path(const char *path, double wait_seconds)
{
    char *dir = rgs_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (rgs_mkdirs(dir, 0700) < 0) {
            int saved = errno;
            free(dir);
            errno = saved;
            return -1;
        }
    }
    free(dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    double deadline = rgs_mono() + wait_seconds;
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return fd;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        if (rgs_mono() >= deadline) {
            close(fd);
            errno = EWOULDBLOCK;
            return -1;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int rgs_lock_repo(const char *data_dir, const char *relay, const char *folder, double wait_seconds)
{
    if (!rgs_uuid_valid(relay) || !rgs_uuid_valid(folder)) {
        errno = EINVAL;
        return -1;
    }
    char *path = rgs_xasprintf("%s/locks/%s/%s.lock", data_dir, relay, folder);
    int fd = rgs_lock_path(path, wait_seconds);
    int saved = errno;
    free(path);
    errno = saved;
    return fd;
}

double rgs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double rgs_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool secret_param(const char *name, size_t n)
{
    static const char *names[] = {"token", "key", "secret", "sig", "signature",
                                  "password", "access_token", "api_key"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
            return true;
    return n > 6 && strncasecmp(name, "X-Amz-", 6) == 0;
}

char *rgs_redact_url(const char *url)
{
    rgs_buf b = RGS_BUF_INIT;
    const char *p = url;
    const char *scheme = strstr(p, "://");
    if (scheme) {
        const char *host = scheme + 3;
        const char *end = host + strcspn(host, "/?#");
        const char *at = NULL;
        for (const char *q = host; q < end; q++)
            if (*q == '@')
                at = q;
        rgs_buf_append(&b, p, (size_t)(host - p));
        bool ssh_user = at && (size_t)(scheme - p) == 3 && strncasecmp(p, "ssh", 3) == 0 &&
                        !memchr(host, ':', (size_t)(at - host));
        if (ssh_user) {
            /* ssh://git@host: a user name, not a credential */
            rgs_buf_append(&b, host, (size_t)(at - host) + 1);
            p = at + 1;
        } else if (at) {
            rgs_buf_puts(&b, "***@");
            p = at + 1;
        } else {
            p = host;
        }
    } else {
        /* scp-like "user@host:path" keeps its user: it is not a secret */
    }
    const char *q = strchr(p, '?');
    if (!q) {
        rgs_buf_puts(&b, p);
        return rgs_buf_steal(&b, NULL);
    }
    rgs_buf_append(&b, p, (size_t)(q - p) + 1);
    p = q + 1;
    while (*p) {
        size_t seg = strcspn(p, "&#");
        const char *eq = memchr(p, '=', seg);
        if (eq && secret_param(p, (size_t)(eq - p))) {
            rgs_buf_append(&b, p, (size_t)(eq - p) + 1);
            rgs_buf_puts(&b, "***");
        } else {
            rgs_buf_append(&b, p, seg);
        }
        p += seg;
        if (*p == '&') {
            rgs_buf_putc(&b, '&');
            p++;
        } else if (*p == '#') {
            rgs_buf_puts(&b, p);
            break;
        }
    }
    return rgs_buf_steal(&b, NULL);
}

bool rgs_parse_seconds(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v >= 0) || v > 1e9)
        return false;
    *out = v;
    return true;
}

bool rgs_utf8_valid(const void *data, size_t n)
{
    const unsigned char *s = data;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}
