/* rgs_spool: see rgs_spool.h. */
#include "rgs_spool.h"

#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ENTRY_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define LOG_MAX_BYTES ((size_t)1 << 30)
#define TMP_STALE_SECONDS (15 * 60)
#define LINE_DIGITS 7
#define PATH_LEN 512 /* a directory name and a d_name (<= 255) fit */
#define LINE_MAX_NO 9999999UL /* LINE_DIGITS digits */

static const char *const subdirs[] = {"tmp", "new", "cur", "failed", "log"};

/* ---------- names ---------- */

/* digits: at least min, at most max decimal digits at *p; advances *p */
static bool digits(const char **p, size_t min, size_t max, unsigned long long *val)
{
    const char *s = *p;
    unsigned long long v = 0;
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9') {
        if (n == max)
            return false;
        v = v * 10 + (unsigned)(s[n] - '0');
        n++;
    }
    if (n < min)
        return false;
    *p = s + n;
    if (val)
        *val = v;
    return true;
}

typedef struct {
    size_t base_len;    /* length of <base> */
    unsigned long line; /* 0: not a log line */
    unsigned attempts;
    bool has_attempts;
    bool is_log;        /* "<base>.log" (a batch log file, not an entry) */
} name_parts;

static bool parse_name(const char *name, name_parts *np)
{
    memset(np, 0, sizeof *np);
    if (!name || strnlen(name, RGS_SPOOL_NAME_MAX) >= RGS_SPOOL_NAME_MAX)
        return false;
    const char *p = name;
    if (!digits(&p, 10, 10, NULL) || *p++ != '.' || !digits(&p, 9, 9, NULL) || *p++ != '.' ||
        !digits(&p, 1, 10, NULL) || *p++ != '.' || !digits(&p, 1, 10, NULL))
        return false;
    np->base_len = (size_t)(p - name);
    if (strcmp(p, ".log") == 0) {
        np->is_log = true;
        return true;
    }
    unsigned long long v;
    if (p[0] == '.' && p[1] == 'l') {
        p += 2;
        if (!digits(&p, LINE_DIGITS, LINE_DIGITS, &v) || v == 0)
            return false;
        np->line = (unsigned long)v;
    }
    if (p[0] == '.' && p[1] == 'a') {
        p += 2;
        if (!digits(&p, 1, 9, &v))
            return false;
        np->attempts = (unsigned)v;
        np->has_attempts = true;
    }
    return *p == '\0';
}

/* a single-entry file (as opposed to a line of a batch log) */
static bool is_single(const name_parts *np) { return !np->is_log && (!np->line || np->has_attempts); }

bool rgs_spool_name_valid(const char *name, unsigned *attempts)
{
    name_parts np;
    if (!parse_name(name, &np) || np.is_log)
        return false;
    if (attempts)
        *attempts = np.attempts;
    return true;
}

static void new_base(char out[RGS_SPOOL_NAME_MAX])
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, RGS_SPOOL_NAME_MAX, "%010lld.%09ld.%ld.%u", (long long)ts.tv_sec, ts.tv_nsec,
             (long)getpid(), counter++);
}

/* ---------- directories ---------- */

static int make_dirs(const char *data_dir)
{
    char *spool = rgs_xasprintf("%s/spool", data_dir);
    int rc = rgs_mkdirs(spool, 0700);
    for (size_t i = 0; rc == 0 && i < sizeof subdirs / sizeof *subdirs; i++) {
        char *d = rgs_xasprintf("%s/%s", spool, subdirs[i]);
        rc = rgs_mkdirs(d, 0700);
        free(d);
    }
    int saved = errno;
    free(spool);
    errno = saved;
    return rc;
}

/* open DATA_DIR/spool; with `create`, make the spool and its directories
 * first when they are missing */
static int spool_open(const char *data_dir, bool create)
{
    char *spool = rgs_xasprintf("%s/spool", data_dir);
    int fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create && make_dirs(data_dir) == 0)
        fd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int saved = errno;
    free(spool);
    errno = saved;
    return fd;
}

static void close_keep_errno(int fd)
{
    int saved = errno;
    close(fd);
    errno = saved;
}

/* rename without replacing an existing entry (names are unique; this only
 * guards against a clash).  Falls back to renameat(2) where the file system
 * does not support RENAME_NOREPLACE. */
static int move_entry(int dfd, const char *from, const char *to)
{
    if (renameat2(dfd, from, dfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    return renameat(dfd, from, dfd, to);
}

/* write `n` bytes as spool/<sub>/<name> durably: tmp/ -> fsync -> rename ->
 * fsync <sub>/ */
static int write_durable(const char *data_dir, int dfd, const char *sub, const char *name,
                         const char *bytes, size_t n)
{
    char tmp[PATH_LEN], dst[PATH_LEN];
    snprintf(tmp, sizeof tmp, "tmp/%s", name);
    snprintf(dst, sizeof dst, "%s/%s", sub, name);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && make_dirs(data_dir) == 0)
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int rc = rgs_write_all(fd, bytes, n);
    if (rc == 0)
        rc = fsync(fd);
    if (close(fd) < 0 && rc == 0)
        rc = -1;
    if (rc == 0) {
        rc = move_entry(dfd, tmp, dst);
        if (rc < 0 && errno == ENOENT && make_dirs(data_dir) == 0) /* <sub>/ removed meanwhile */
            rc = move_entry(dfd, tmp, dst);
    }
    if (rc < 0) {
        int saved = errno;
        unlinkat(dfd, tmp, 0);
        errno = saved;
        return -1;
    }
    if (rgs_fsync_dir(dfd, sub) < 0) {
        /* not known to be durable: withdraw it */
        int saved = errno;
        unlinkat(dfd, dst, 0);
        errno = saved;
        return -1;
    }
    return 0;
}

static char *record_line(const json_t *rec, size_t *len)
{
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!line)
        return NULL;
    size_t n = strlen(line);
    line = rgs_xrealloc(line, n + 2);
    line[n] = '\n';
    line[n + 1] = '\0';
    *len = n + 1;
    return line;
}

int rgs_spool_put_file(const char *data_dir, const json_t *rec, char name_out[96])
{
    if (!json_is_object(rec)) {
        errno = EINVAL;
        return -1;
    }
    size_t len;
    char *line = record_line(rec, &len);
    if (!line) {
        errno = ENOMEM;
        return -1;
    }
    char name[RGS_SPOOL_NAME_MAX];
    new_base(name);
    int dfd = spool_open(data_dir, true);
    if (dfd < 0) {
        free(line);
        return -1;
    }
    int rc = write_durable(data_dir, dfd, "new", name, line, len);
    free(line);
    close_keep_errno(dfd);
    if (rc == 0)
        memcpy(name_out, name, strlen(name) + 1);
    return rc;
}

/* ---------- the batch log (writers) ---------- */

/* rotate log/current (caller holds its exclusive lock) into new/<base>.log.
 * No fsync here: every record in the log is durable through its writer's
 * fdatasync whichever name the file has after a crash (log/current or
 * new/<base>.log, both are read), and fsyncs under the lock would stall
 * every writer.  The consumer syncs the directories after unlocking. */
static int rotate_locked(int dfd)
{
    char base[RGS_SPOOL_NAME_MAX], dst[PATH_LEN];
    new_base(base);
    snprintf(dst, sizeof dst, "new/%s.log", base);
    return move_entry(dfd, "log/current", dst);
}

static struct {
    char *data_dir;
    int dfd; /* DATA_DIR/spool */
    int fd;  /* log/current as opened */
} w = {NULL, -1, -1};

static void writer_close(void)
{
    if (w.fd >= 0)
        close(w.fd);
    if (w.dfd >= 0)
        close(w.dfd);
    w.fd = w.dfd = -1;
    free(w.data_dir);
    w.data_dir = NULL;
}

/* open log/current, creating it when missing.  A writer appends only under
 * the log's exclusive flock and answers 200 after its fdatasync, which
 * does not cover the log's directory entry.  So a new log becomes visible
 * only while its creator holds that lock, and the lock is released only
 * once the entry is durable:
 *   1. created as tmp/<base>.log and locked, fsync'd;
 *   2. still private (nobody waits): fsync of new/ (a log a writer rotated
 *      there without fsync keeps that name before its old one is reused),
 *      of the spool and of the data directory (either may be new);
 *   3. linked as log/current (EEXIST: another writer was first; use its
 *      log, whose lock it holds until its entry is durable), the tmp name
 *      removed, log/ fsync'd - the only sync other writers wait for;
 *   4. unlocked.  If a sync fails, the log is removed again. */
static int open_current(const char *data_dir)
{
    const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
    int fd = openat(w.dfd, "log/current", flags);
    if (fd >= 0 || errno != ENOENT)
        return fd;
    char base[RGS_SPOOL_NAME_MAX], tmp[PATH_LEN];
    new_base(base);
    snprintf(tmp, sizeof tmp, "tmp/%s.log", base);
    fd = openat(w.dfd, tmp, flags | O_CREAT | O_EXCL, 0600);
    if (fd < 0 && errno == ENOENT && make_dirs(data_dir) == 0)
        fd = openat(w.dfd, tmp, flags | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return -1;
    int rc = flock(fd, LOCK_EX);
    if (rc == 0)
        rc = fsync(fd);
    if (rc == 0)
        rc = make_dirs(data_dir); /* new/ and log/ as well (rare: once per log) */
    if (rc == 0 && (rgs_fsync_dir(w.dfd, "new") < 0 || rgs_fsync_dir(w.dfd, ".") < 0 ||
                    rgs_fsync_dir(AT_FDCWD, data_dir) < 0))
        rc = -1;
    if (rc == 0) {
        rc = linkat(w.dfd, tmp, w.dfd, "log/current", 0);
        if (rc < 0 && errno == ENOENT && make_dirs(data_dir) == 0) /* log/ removed meanwhile */
            rc = linkat(w.dfd, tmp, w.dfd, "log/current", 0);
    }
    int saved = errno;
    unlinkat(w.dfd, tmp, 0);
    if (rc < 0) {
        close(fd);
        if (saved == EEXIST) /* another writer created it first */
            return openat(w.dfd, "log/current", flags);
        errno = saved;
        return -1;
    }
    if (rgs_fsync_dir(w.dfd, "log") < 0) {
        /* not known to be durable: withdraw it before anyone can append
         * (they wait for our lock, then see that it is no longer current) */
        saved = errno;
        unlinkat(w.dfd, "log/current", 0);
        close(fd);
        errno = saved;
        return -1;
    }
    flock(fd, LOCK_UN);
    return fd;
}

int rgs_spool_put(const char *data_dir, const json_t *rec, char name_out[96])
{
    if (!json_is_object(rec)) {
        errno = EINVAL;
        return -1;
    }
    if (w.data_dir && strcmp(w.data_dir, data_dir) != 0)
        writer_close();
    if (w.dfd < 0) {
        w.dfd = spool_open(data_dir, true);
        if (w.dfd < 0)
            return -1;
        w.data_dir = rgs_xstrdup(data_dir);
    }
    size_t len;
    char *line = record_line(rec, &len);
    if (!line) {
        errno = ENOMEM;
        return -1;
    }
    int rc = -1;
    for (int attempt = 0; attempt < 8; attempt++) {
        if (w.fd < 0 && (w.fd = open_current(data_dir)) < 0)
            break;
        if (flock(w.fd, LOCK_EX) < 0)
            break;
        struct stat mine, now;
        if (fstat(w.fd, &mine) < 0)
            break;
        if (fstatat(w.dfd, "log/current", &now, AT_SYMLINK_NOFOLLOW) < 0 ||
            now.st_ino != mine.st_ino || now.st_dev != mine.st_dev) {
            /* rotated (or the spool was replaced) since we opened it */
            close(w.fd); /* releases the lock */
            w.fd = -1;
            if (attempt == 3) { /* the spool directory itself may have moved */
                close(w.dfd);
                w.dfd = spool_open(data_dir, true);
                if (w.dfd < 0)
                    break;
            }
            continue;
        }
        off_t off = mine.st_size;
        char last = '\n';
        if (off > 0 && pread(w.fd, &last, 1, off - 1) != 1)
            last = '\n';
        /* a writer killed mid-write left a torn line: end it first */
        if (last != '\n' && rgs_write_all(w.fd, "\n", 1) == 0)
            off++;
        if (rgs_write_all(w.fd, line, len) < 0) {
            int saved = errno;
            if (ftruncate(w.fd, off) < 0)
                rgs_warn("spool log: cannot cut a partial record: %s", strerror(errno));
            flock(w.fd, LOCK_UN);
            errno = saved;
            break;
        }
        bool rotated = false;
        if (off + (off_t)len > RGS_SPOOL_ROTATE_BYTES && rotate_locked(w.dfd) == 0)
            rotated = true;
        flock(w.fd, LOCK_UN);
        /* durable: the data and the size that makes it readable; many
         * writers' fdatasync calls share the disk writes and journal commits */
        if (fdatasync(w.fd) < 0)
            break;
        snprintf(name_out, RGS_SPOOL_NAME_MAX, "log@%llu+%lld", (unsigned long long)mine.st_ino,
                 (long long)off);
        if (rotated) {
            close(w.fd);
            w.fd = -1;
        }
        rc = 0;
        break;
    }
    int saved = errno;
    free(line);
    if (rc < 0 && w.fd >= 0) {
        close(w.fd);
        w.fd = -1;
    }
    errno = saved;
    return rc;
}

/* ---------- reading ---------- */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* names in spool/<sub> that are single entries or batch logs, sorted;
 * ENOENT gives none */
static int list_dir(int dfd, const char *sub, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    int fd = openat(dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close_keep_errno(fd);
        return -1;
    }
    size_t cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d))) {
        name_parts np;
        if (!parse_name(de->d_name, &np) || !(np.is_log || is_single(&np))) {
            errno = 0;
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *names = rgs_xrealloc(*names, cap * sizeof **names);
        }
        (*names)[(*n)++] = rgs_xstrdup(de->d_name);
        errno = 0;
    }
    int rc = errno ? -1 : 0;
    int saved = errno;
    closedir(d);
    if (rc < 0) {
        free_names(*names, *n);
        *names = NULL;
        *n = 0;
        errno = saved;
        return -1;
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return 0;
}

/* a batch log in memory: its lines and which of them are finished */
typedef struct {
    rgs_buf text;
    size_t n_lines;
    size_t *start;      /* byte offset of line i (0-based) */
    size_t *len;        /* its length without "\n" */
    unsigned char *done; /* 1 = finished (or empty) */
} batch_log;

static void log_free(batch_log *l)
{
    rgs_buf_free(&l->text);
    free(l->start);
    free(l->len);
    free(l->done);
    memset(l, 0, sizeof *l);
}

/* read <path> (relative to dfd) and <path>.done */
static int log_load(int dfd, const char *path, batch_log *l)
{
    memset(l, 0, sizeof *l);
    if (rgs_read_file(dfd, path, &l->text, LOG_MAX_BYTES) < 0)
        return -1;
    size_t cap = 0;
    const char *s = l->text.data;
    size_t n = l->text.len, pos = 0;
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - s) : n;
        if (l->n_lines == cap) {
            cap = cap ? cap * 2 : 256;
            l->start = rgs_xrealloc(l->start, cap * sizeof *l->start);
            l->len = rgs_xrealloc(l->len, cap * sizeof *l->len);
        }
        l->start[l->n_lines] = pos;
        l->len[l->n_lines] = end - pos;
        l->n_lines++;
        pos = end + 1;
    }
    l->done = rgs_xcalloc(l->n_lines ? l->n_lines : 1, 1);
    for (size_t i = 0; i < l->n_lines; i++)
        if (l->len[i] == 0)
            l->done[i] = 1;
    char donepath[PATH_LEN];
    snprintf(donepath, sizeof donepath, "%s.done", path);
    rgs_buf d = RGS_BUF_INIT;
    if (rgs_read_file(dfd, donepath, &d, LOG_MAX_BYTES) == 0) {
        char *p = d.data, *end;
        while (*p) {
            unsigned long v = strtoul(p, &end, 10);
            if (end == p) {
                p++;
                continue;
            }
            if (v >= 1 && v <= l->n_lines)
                l->done[v - 1] = 1;
            p = end;
        }
    }
    rgs_buf_free(&d);
    return 0;
}

static size_t log_unfinished(const batch_log *l)
{
    size_t k = 0;
    for (size_t i = 0; i < l->n_lines; i++)
        k += !l->done[i];
    return k;
}

/* the unfinished lines of the log <path> (relative to dfd); `unreadable`
 * when it cannot be loaded */
static size_t log_weight(int dfd, const char *path, size_t unreadable)
{
    batch_log l;
    if (log_load(dfd, path, &l) < 0)
        return unreadable;
    size_t k = log_unfinished(&l);
    log_free(&l);
    return k;
}

/* parse one record; NULL with a reason */
static json_t *parse_record(const char *p, size_t n, char *why, size_t whylen)
{
    json_error_t err;
    json_t *rec = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!rec) {
        snprintf(why, whylen, "not JSON (a torn write of a request that was never acknowledged?): %s",
                 err.text);
        return NULL;
    }
    json_t *v = json_object_get(rec, "v");
    json_t *t = json_object_get(rec, "type");
    if (!json_is_object(rec) || !json_is_integer(v) || json_integer_value(v) != 1 ||
        !json_is_string(t) || strcmp(json_string_value(t), "webhook") != 0) {
        snprintf(why, whylen, "not a v1 webhook record");
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* read and check one single-entry file */
static json_t *load_single(int dfd, const char *path, char *why, size_t whylen)
{
    int fd = openat(dfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open: %s", strerror(errno));
        return NULL;
    }
    rgs_buf b = RGS_BUF_INIT;
    int rc = rgs_read_fd(fd, &b, ENTRY_MAX_BYTES);
    int saved = errno;
    close(fd);
    if (rc < 0) {
        snprintf(why, whylen, "cannot read: %s", strerror(saved));
        rgs_buf_free(&b);
        return NULL;
    }
    json_t *rec = parse_record(b.data, b.len, why, whylen);
    rgs_buf_free(&b);
    return rec;
}

/* growable entry array */
typedef struct {
    rgs_spool_entry *e;
    size_t n, cap;
} entries;

static void entries_add(entries *es, const char *name, json_t *rec, unsigned attempts)
{
    if (es->n == es->cap) {
        es->cap = es->cap ? es->cap * 2 : 64;
        es->e = rgs_xrealloc(es->e, es->cap * sizeof *es->e);
    }
    rgs_spool_entry *x = &es->e[es->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->name, sizeof x->name, "%s", name);
    x->record = rec;
    x->attempts = attempts;
}

static int cmp_entries(const void *a, const void *b)
{
    return strcmp(((const rgs_spool_entry *)a)->name, ((const rgs_spool_entry *)b)->name);
}

/* ---------- finishing lines of a batch log ---------- */

/* one log's completion state for this process (rgs-queue --ack acks many
 * lines of one log in a row) */
static struct {
    char path[PATH_LEN]; /* "cur/<base>.log" under the spool */
    dev_t dev;
    ino_t ino;
    batch_log log;
} fin;

/* make `fin` hold cur/<base>.log (path_out gets that path): kept when it
 * is the same file (path, device, inode), else loaded; 0, or -1 with errno */
static int fin_load(int dfd, const char *base, size_t base_len, char path_out[PATH_LEN])
{
    snprintf(path_out, PATH_LEN, "cur/%.*s.log", (int)base_len, base);
    struct stat st;
    if (fstatat(dfd, path_out, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    if (strcmp(fin.path, path_out) != 0 || fin.ino != st.st_ino || fin.dev != st.st_dev) {
        log_free(&fin.log);
        fin.path[0] = '\0';
        if (log_load(dfd, path_out, &fin.log) < 0)
            return -1;
        snprintf(fin.path, sizeof fin.path, "%s", path_out);
        fin.ino = st.st_ino;
        fin.dev = st.st_dev;
    }
    return 0;
}

static int mark_finished(int dfd, const char *base, size_t base_len, unsigned long line)
{
    char path[PATH_LEN], donepath[PATH_LEN + 8];
    if (fin_load(dfd, base, base_len, path) < 0)
        return -1;
    snprintf(donepath, sizeof donepath, "%s.done", path);
    if (line < 1 || line > fin.log.n_lines) {
        errno = ENOENT;
        return -1;
    }
    if (!fin.log.done[line - 1]) {
        int fd = openat(dfd, donepath, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            return -1;
        char num[32];
        int k = snprintf(num, sizeof num, "%lu\n", line);
        int rc = rgs_write_all(fd, num, (size_t)k);
        close_keep_errno(fd);
        if (rc < 0)
            return -1;
        fin.log.done[line - 1] = 1;
    }
    if (log_unfinished(&fin.log) == 0) {
        unlinkat(dfd, path, 0);
        unlinkat(dfd, donepath, 0);
        fin.path[0] = '\0';
        log_free(&fin.log);
    }
    return 0;
}

/* the bytes of unfinished line `line` of cur/<base>.log (malloc'd, with
 * "\n"), read through the `fin` cache (one consumer: spool.h) */
static char *log_line(int dfd, const char *base, size_t base_len, unsigned long line, size_t *n)
{
    char path[PATH_LEN];
    if (fin_load(dfd, base, base_len, path) < 0)
        return NULL;
    const batch_log *l = &fin.log;
    if (line < 1 || line > l->n_lines || l->done[line - 1]) {
        errno = ENOENT;
        return NULL;
    }
    *n = l->len[line - 1] + 1;
    char *r = rgs_xmalloc(*n + 1);
    memcpy(r, l->text.data + l->start[line - 1], *n - 1);
    r[*n - 1] = '\n';
    r[*n] = '\0';
    return r;
}

/* ---------- consumer ---------- */

/* remove files in tmp/ older than TMP_STALE_SECONDS */
static void sweep_tmp(int dfd)
{
    int fd = openat(dfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        struct stat st;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now - st.st_mtime > TMP_STALE_SECONDS)
            unlinkat(fd, de->d_name, 0);
    }
    closedir(d);
}

static int write_reason(int dfd, const char *name, const char *why)
{
    if (mkdirat(dfd, "failed", 0700) < 0 && errno != EEXIST)
        return -1;
    int ffd = openat(dfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ffd < 0)
        return -1;
    char reason_name[PATH_LEN];
    snprintf(reason_name, sizeof reason_name, "%s.reason", name);
    char *text = rgs_xasprintf("%s\n", why ? why : "");
    int rc = rgs_write_atomic(ffd, reason_name, text, strlen(text), 0600);
    free(text);
    close_keep_errno(ffd);
    return rc;
}

/* a single file cur/<name> -> failed/<name> with its reason */
static int fail_single(int dfd, const char *name, const char *why)
{
    if (write_reason(dfd, name, why) < 0)
        return -1;
    char from[PATH_LEN], to[PATH_LEN];
    snprintf(from, sizeof from, "cur/%s", name);
    snprintf(to, sizeof to, "failed/%s", name);
    if (renameat(dfd, from, dfd, to) < 0)
        return -1;
    if (rgs_fsync_dir(dfd, "failed") < 0 || rgs_fsync_dir(dfd, "cur") < 0)
        return -1;
    return 0;
}

/* line `line` of cur/<base>.log (bytes given) -> failed/<name>, finished */
static int fail_line(const char *data_dir, int dfd, const char *name, size_t base_len,
                     unsigned long line, const char *bytes, size_t n, const char *why)
{
    if (write_reason(dfd, name, why) < 0)
        return -1;
    if (write_durable(data_dir, dfd, "failed", name, bytes, n) < 0 && errno != EEXIST)
        return -1;
    return mark_finished(dfd, name, base_len, line);
}

/* move the oldest waiting files of new/ into cur/; rotate log/current first */
static int take_new(int dfd, size_t max)
{
    int lfd = openat(dfd, "log/current", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (lfd >= 0) {
        /* rename under the writers' lock (so no write is half done), sync
         * after releasing it (so writers do not wait for the disk) */
        struct stat mine, now;
        bool rotated = false;
        if (flock(lfd, LOCK_EX) == 0 && fstat(lfd, &mine) == 0 && mine.st_size > 0 &&
            fstatat(dfd, "log/current", &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_ino == mine.st_ino) {
            if (rotate_locked(dfd) < 0) {
                close_keep_errno(lfd);
                return -1;
            }
            rotated = true;
        }
        close(lfd);
        if (rotated && (rgs_fsync_dir(dfd, "new") < 0 || rgs_fsync_dir(dfd, "log") < 0))
            return -1;
    } else if (errno != ENOENT) {
        return -1;
    }
    char **names;
    size_t count;
    if (list_dir(dfd, "new", &names, &count) < 0)
        return -1;
    size_t taken = 0;
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0 && (!max || taken < max); i++) {
        char from[PATH_LEN], to[PATH_LEN];
        snprintf(from, sizeof from, "new/%s", names[i]);
        snprintf(to, sizeof to, "cur/%s", names[i]);
        name_parts np;
        parse_name(names[i], &np);
        size_t weight = np.is_log ? log_weight(dfd, from, 1) : 1;
        if (move_entry(dfd, from, to) < 0 && errno != ENOENT)
            rc = -1;
        taken += weight;
    }
    bool moved = count > 0;
    free_names(names, count);
    if (moved && rc == 0 && (rgs_fsync_dir(dfd, "cur") < 0 || rgs_fsync_dir(dfd, "new") < 0))
        rc = -1;
    return rc;
}

/* the unfinished lines of the loaded log `l` (at most LINE_MAX_NO; beyond
 * that a warning naming `path`, none when NULL) as entries "<base>.lNNNNNNN"
 * (base: base_len bytes); with `consume` (claim), unreadable lines go to
 * failed/, else they are skipped (peek) */
static void collect_log(const char *data_dir, int dfd, const char *path, const batch_log *l,
                        const char *base, size_t base_len, bool consume, entries *es)
{
    for (size_t k = 0; k < l->n_lines; k++) {
        if (l->done[k])
            continue;
        if (k + 1 > LINE_MAX_NO) {
            if (path)
                rgs_warn("spool log '%s': more than %lu lines; the rest is ignored", path, LINE_MAX_NO);
            break;
        }
        char name[PATH_LEN], why[300];
        snprintf(name, sizeof name, "%.*s.l%07lu", (int)base_len, base, (unsigned long)(k + 1));
        json_t *rec = parse_record(l->text.data + l->start[k], l->len[k], why, sizeof why);
        if (rec) {
            entries_add(es, name, rec, 0);
        } else if (consume) {
            rgs_warn("spool entry '%s': %s; moved to failed/", name, why);
            rgs_buf line = RGS_BUF_INIT;
            rgs_buf_append(&line, l->text.data + l->start[k], l->len[k]);
            rgs_buf_putc(&line, '\n');
            if (fail_line(data_dir, dfd, name, base_len, k + 1, line.data, line.len, why) < 0)
                rgs_warn("spool entry '%s': cannot move to failed/: %s", name, strerror(errno));
            rgs_buf_free(&line);
        }
    }
}

/* entries of spool/<sub>; with `consume`, unreadable ones go to failed/
 * and finished logs are removed (claim), else they are skipped (peek). */
static int collect_dir(const char *data_dir, int dfd, const char *sub, bool consume, entries *es)
{
    char **names;
    size_t count;
    if (list_dir(dfd, sub, &names, &count) < 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        char path[PATH_LEN], why[300];
        snprintf(path, sizeof path, "%s/%s", sub, names[i]);
        name_parts np;
        parse_name(names[i], &np);
        if (!np.is_log) {
            json_t *rec = load_single(dfd, path, why, sizeof why);
            if (rec) {
                entries_add(es, names[i], rec, np.attempts);
            } else if (consume) {
                rgs_warn("spool entry '%s': %s; moved to failed/", names[i], why);
                if (fail_single(dfd, names[i], why) < 0)
                    rgs_warn("spool entry '%s': cannot move to failed/: %s", names[i], strerror(errno));
            }
            continue;
        }
        batch_log l;
        if (log_load(dfd, path, &l) < 0) {
            rgs_warn("spool log '%s': %s", path, strerror(errno));
            continue;
        }
        collect_log(data_dir, dfd, path, &l, names[i], np.base_len, consume, es);
        if (consume && log_unfinished(&l) == 0) {
            char donepath[PATH_LEN + 8];
            snprintf(donepath, sizeof donepath, "%s.done", path);
            unlinkat(dfd, path, 0);
            unlinkat(dfd, donepath, 0);
        }
        log_free(&l);
    }
    free_names(names, count);
    return 0;
}

static void finish_entries(entries *es, rgs_spool_entry **out, size_t *n)
{
    if (es->n > 1)
        qsort(es->e, es->n, sizeof *es->e, cmp_entries);
    if (!es->n) {
        free(es->e);
        es->e = NULL;
    }
    *out = es->e;
    *n = es->n;
}

int rgs_spool_claim(const char *data_dir, size_t max, rgs_spool_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    if ((mkdirat(dfd, "cur", 0700) < 0 && errno != EEXIST) || take_new(dfd, max) < 0) {
        close_keep_errno(dfd);
        return -1;
    }
    sweep_tmp(dfd);
    log_free(&fin.log); /* a claim starts a new batch: forget cached state */
    fin.path[0] = '\0';
    entries es = {0};
    if (collect_dir(data_dir, dfd, "cur", true, &es) < 0) {
        int saved = errno;
        rgs_spool_entries_free(es.e, es.n);
        close(dfd);
        errno = saved;
        return -1;
    }
    close(dfd);
    finish_entries(&es, out, n);
    return 0;
}

int rgs_spool_peek(const char *data_dir, rgs_spool_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    entries es = {0};
    int rc = collect_dir(data_dir, dfd, "cur", false, &es);
    if (rc == 0)
        rc = collect_dir(data_dir, dfd, "new", false, &es);
    if (rc == 0) { /* log/current, named as if rotated now */
        batch_log l;
        if (log_load(dfd, "log/current", &l) == 0) {
            char base[RGS_SPOOL_NAME_MAX];
            new_base(base);
            collect_log(data_dir, dfd, NULL, &l, base, strlen(base), false, &es);
            log_free(&l);
        }
    }
    int saved = errno;
    close(dfd);
    if (rc < 0) {
        rgs_spool_entries_free(es.e, es.n);
        errno = saved;
        return -1;
    }
    finish_entries(&es, out, n);
    return 0;
}

long rgs_spool_depth(const char *data_dir)
{
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    long total = 0;
    static const char *const dirs[] = {"new", "cur", "log"};
    for (int i = 0; i < 3; i++) {
        char **names;
        size_t count;
        if (list_dir(dfd, dirs[i], &names, &count) < 0) {
            close_keep_errno(dfd);
            return -1;
        }
        for (size_t k = 0; k < count; k++) {
            name_parts np;
            parse_name(names[k], &np);
            char path[PATH_LEN];
            snprintf(path, sizeof path, "%s/%s", dirs[i], names[k]);
            total += np.is_log ? (long)log_weight(dfd, path, 0) : 1;
        }
        free_names(names, count);
    }
    total += (long)log_weight(dfd, "log/current", 0);
    close(dfd);
    return total;
}

int rgs_spool_ack(const char *data_dir, const char *name)
{
    name_parts np;
    if (!parse_name(name, &np) || np.is_log) {
        errno = EINVAL;
        return -1;
    }
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    if (is_single(&np)) {
        char path[PATH_LEN];
        snprintf(path, sizeof path, "cur/%s", name);
        if (unlinkat(dfd, path, 0) == 0)
            rc = rgs_fsync_dir(dfd, "cur");
        else if (errno != ENOENT)
            rc = -1;
    } else if (mark_finished(dfd, name, np.base_len, np.line) < 0 && errno != ENOENT) {
        rc = -1;
    }
    close_keep_errno(dfd);
    return rc;
}

int rgs_spool_requeue(const char *data_dir, const char *name, const char *why)
{
    name_parts np;
    if (!parse_name(name, &np) || np.is_log) {
        errno = EINVAL;
        return -1;
    }
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return -1;
    unsigned next = np.attempts < 999999999u ? np.attempts + 1 : np.attempts;
    /* the name without ".aN" */
    const char *a = np.has_attempts ? strstr(name + np.base_len, ".a") : NULL;
    size_t keep = a ? (size_t)(a - name) : strlen(name);
    char to[PATH_LEN + 16];
    int rc;
    if (is_single(&np)) {
        char from[PATH_LEN];
        snprintf(from, sizeof from, "cur/%s", name);
        snprintf(to, sizeof to, "new/%.*s.a%u", (int)keep, name, next);
        rc = move_entry(dfd, from, to);
        if (rc == 0)
            rc = rgs_fsync_dir(dfd, "new");
        if (rc == 0)
            rc = rgs_fsync_dir(dfd, "cur");
    } else {
        size_t n = 0;
        char *bytes = log_line(dfd, name, np.base_len, np.line, &n);
        rc = -1;
        if (bytes) {
            char single[RGS_SPOOL_NAME_MAX + 16];
            snprintf(single, sizeof single, "%.*s.a%u", (int)keep, name, next);
            rc = write_durable(data_dir, dfd, "new", single, bytes, n);
            if (rc == 0)
                rc = mark_finished(dfd, name, np.base_len, np.line);
            free(bytes);
        }
    }
    if (rc == 0)
        rgs_debug("spool entry '%s': requeued (attempt %u): %s", name, next,
                  why ? why : "no reason given");
    close_keep_errno(dfd);
    return rc;
}

int rgs_spool_fail(const char *data_dir, const char *name, const char *why)
{
    name_parts np;
    if (!parse_name(name, &np) || np.is_log) {
        errno = EINVAL;
        return -1;
    }
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return -1;
    int rc;
    if (is_single(&np)) {
        char path[PATH_LEN];
        snprintf(path, sizeof path, "cur/%s", name);
        struct stat st;
        rc = fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW);
        if (rc == 0)
            rc = fail_single(dfd, name, why);
    } else {
        size_t n = 0;
        char *bytes = log_line(dfd, name, np.base_len, np.line, &n);
        rc = bytes ? fail_line(data_dir, dfd, name, np.base_len, np.line, bytes, n, why) : -1;
        free(bytes);
    }
    close_keep_errno(dfd);
    return rc;
}

void rgs_spool_entries_free(rgs_spool_entry *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++)
        json_decref(e[i].record);
    free(e);
}
