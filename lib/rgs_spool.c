/* rgs_spool: see rgs_spool.h. */
#include "rgs_spool.h"

#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ENTRY_MAX_BYTES ((size_t)64 * 1024 * 1024)
#define TMP_STALE_SECONDS (15 * 60)

static const char *const subdirs[] = {"tmp", "new", "cur", "failed"};

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

bool rgs_spool_name_valid(const char *name, unsigned *attempts)
{
    if (!name || strnlen(name, RGS_SPOOL_NAME_MAX) >= RGS_SPOOL_NAME_MAX)
        return false;
    const char *p = name;
    unsigned long long a = 0;
    if (!digits(&p, 10, 10, NULL) || *p++ != '.' || !digits(&p, 9, 9, NULL) || *p++ != '.' ||
        !digits(&p, 1, 10, NULL) || *p++ != '.' || !digits(&p, 1, 10, NULL))
        return false;
    if (*p == '.') {
        p++;
        if (*p++ != 'a' || !digits(&p, 1, 9, &a))
            return false;
    }
    if (*p)
        return false;
    if (attempts)
        *attempts = (unsigned)a;
    return true;
}

/* base length: the name without its ".aN" suffix */
static size_t base_len(const char *name)
{
    const char *a = strstr(name, ".a");
    return a ? (size_t)(a - name) : strlen(name);
}

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

/* rename without replacing an existing entry (entries are unique; this only
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

int rgs_spool_put(const char *data_dir, const json_t *rec, char name_out[96])
{
    if (!json_is_object(rec)) {
        errno = EINVAL;
        return -1;
    }
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!line) {
        errno = ENOMEM;
        return -1;
    }
    size_t len = strlen(line);
    line[len] = '\n'; /* replaces the NUL; length tracked explicitly */

    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char name[RGS_SPOOL_NAME_MAX];
    snprintf(name, sizeof name, "%010lld.%09ld.%ld.%u", (long long)ts.tv_sec, ts.tv_nsec,
             (long)getpid(), counter++);
    char tmp[RGS_SPOOL_NAME_MAX + 8], dst[RGS_SPOOL_NAME_MAX + 8];
    snprintf(tmp, sizeof tmp, "tmp/%s", name);
    snprintf(dst, sizeof dst, "new/%s", name);

    int dfd = spool_open(data_dir, true);
    if (dfd < 0) {
        free(line);
        return -1;
    }
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && make_dirs(data_dir) == 0)
        fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(line);
        close_keep_errno(dfd);
        return -1;
    }
    int rc = rgs_write_all(fd, line, len + 1);
    free(line);
    if (rc == 0)
        rc = fsync(fd);
    if (close(fd) < 0 && rc == 0)
        rc = -1;
    if (rc == 0) {
        rc = move_entry(dfd, tmp, dst);
        if (rc < 0 && errno == ENOENT && make_dirs(data_dir) == 0) /* new/ removed meanwhile */
            rc = move_entry(dfd, tmp, dst);
    }
    if (rc < 0) {
        int saved = errno;
        unlinkat(dfd, tmp, 0);
        close(dfd);
        errno = saved;
        return -1;
    }
    if (rgs_fsync_dir(dfd, "new") < 0) {
        /* not known to be durable: withdraw it so it is not acknowledged
         * and processed as if it were (a retry by the sender is correct) */
        int saved = errno;
        unlinkat(dfd, dst, 0);
        close(dfd);
        errno = saved;
        return -1;
    }
    close(dfd);
    memcpy(name_out, name, strlen(name) + 1);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* list the valid entry names of spool/<sub>, sorted; ENOENT gives none */
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
        if (!rgs_spool_name_valid(de->d_name, NULL))
            continue;
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
        for (size_t i = 0; i < *n; i++)
            free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
        errno = saved;
        return -1;
    }
    if (*n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return 0;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

long rgs_spool_depth(const char *data_dir)
{
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    long total = 0;
    for (int i = 0; i < 2; i++) {
        int fd = openat(dfd, i ? "cur" : "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT)
                continue;
            close_keep_errno(dfd);
            return -1;
        }
        DIR *d = fdopendir(fd);
        if (!d) {
            close_keep_errno(fd);
            close_keep_errno(dfd);
            return -1;
        }
        struct dirent *de;
        while ((de = readdir(d)))
            if (rgs_spool_name_valid(de->d_name, NULL))
                total++;
        closedir(d);
    }
    close(dfd);
    return total;
}

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

static int fail_at(int dfd, const char *name, const char *why)
{
    int ffd = openat(dfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ffd < 0 && errno == ENOENT && mkdirat(dfd, "failed", 0700) == 0)
        ffd = openat(dfd, "failed", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ffd < 0)
        return -1;
    char reason_name[RGS_SPOOL_NAME_MAX + 8];
    snprintf(reason_name, sizeof reason_name, "%s.reason", name);
    char *text = rgs_xasprintf("%s\n", why ? why : "");
    int rc = rgs_write_atomic(ffd, reason_name, text, strlen(text), 0600);
    free(text);
    close_keep_errno(ffd);
    if (rc < 0)
        return -1;
    char from[RGS_SPOOL_NAME_MAX + 8], to[RGS_SPOOL_NAME_MAX + 8];
    snprintf(from, sizeof from, "cur/%s", name);
    snprintf(to, sizeof to, "failed/%s", name);
    if (renameat(dfd, from, dfd, to) < 0)
        return -1;
    if (rgs_fsync_dir(dfd, "failed") < 0 || rgs_fsync_dir(dfd, "cur") < 0)
        return -1;
    return 0;
}

/* read and check one claimed entry; NULL with a reason in why[] */
static json_t *load_entry(int dfd, const char *name, char *why, size_t whylen)
{
    char path[RGS_SPOOL_NAME_MAX + 8];
    snprintf(path, sizeof path, "cur/%s", name);
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
    json_error_t err;
    json_t *rec = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    rgs_buf_free(&b);
    if (!rec) {
        snprintf(why, whylen, "not JSON: %s", err.text);
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

int rgs_spool_claim(const char *data_dir, size_t max, rgs_spool_entry **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    if (mkdirat(dfd, "cur", 0700) < 0 && errno != EEXIST) {
        close_keep_errno(dfd);
        return -1;
    }
    sweep_tmp(dfd);

    char **names;
    size_t count;
    if (list_dir(dfd, "new", &names, &count) < 0) {
        close_keep_errno(dfd);
        return -1;
    }
    size_t take = max && max < count ? max : count;
    int rc = 0;
    for (size_t i = 0; i < take && rc == 0; i++) {
        char from[RGS_SPOOL_NAME_MAX + 8], to[RGS_SPOOL_NAME_MAX + 8];
        snprintf(from, sizeof from, "new/%s", names[i]);
        snprintf(to, sizeof to, "cur/%s", names[i]);
        if (move_entry(dfd, from, to) < 0 && errno != ENOENT)
            rc = -1;
    }
    free_names(names, count);
    if (take && rc == 0 && (rgs_fsync_dir(dfd, "cur") < 0 || rgs_fsync_dir(dfd, "new") < 0))
        rc = -1;
    if (rc == 0)
        rc = list_dir(dfd, "cur", &names, &count);
    if (rc < 0) {
        close_keep_errno(dfd);
        return -1;
    }
    rgs_spool_entry *e = count ? rgs_xcalloc(count, sizeof *e) : NULL;
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        char why[300];
        json_t *rec = load_entry(dfd, names[i], why, sizeof why);
        if (!rec) {
            rgs_warn("spool entry '%s': %s; moved to failed/", names[i], why);
            if (fail_at(dfd, names[i], why) < 0)
                rgs_warn("spool entry '%s': cannot move to failed/: %s", names[i], strerror(errno));
            continue;
        }
        memcpy(e[k].name, names[i], strlen(names[i]) + 1);
        rgs_spool_name_valid(names[i], &e[k].attempts);
        e[k].record = rec;
        k++;
    }
    free_names(names, count);
    close(dfd);
    if (k == 0) {
        free(e);
        e = NULL;
    }
    *out = e;
    *n = k;
    return 0;
}

int rgs_spool_ack(const char *data_dir, const char *name)
{
    if (!rgs_spool_name_valid(name, NULL)) {
        errno = EINVAL;
        return -1;
    }
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    char path[RGS_SPOOL_NAME_MAX + 8];
    snprintf(path, sizeof path, "cur/%s", name);
    int rc = 0;
    if (unlinkat(dfd, path, 0) == 0)
        rc = rgs_fsync_dir(dfd, "cur");
    else if (errno != ENOENT)
        rc = -1;
    close_keep_errno(dfd);
    return rc;
}

int rgs_spool_requeue(const char *data_dir, const char *name, const char *why)
{
    unsigned attempts;
    if (!rgs_spool_name_valid(name, &attempts)) {
        errno = EINVAL;
        return -1;
    }
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return -1;
    char from[RGS_SPOOL_NAME_MAX + 8], to[RGS_SPOOL_NAME_MAX + 24];
    snprintf(from, sizeof from, "cur/%s", name);
    snprintf(to, sizeof to, "new/%.*s.a%u", (int)base_len(name), name,
             attempts < 999999999u ? attempts + 1 : attempts);
    int rc = move_entry(dfd, from, to);
    if (rc == 0)
        rc = rgs_fsync_dir(dfd, "new");
    if (rc == 0)
        rc = rgs_fsync_dir(dfd, "cur");
    if (rc == 0)
        rgs_debug("spool entry '%s': requeued (attempt %u): %s", name, attempts + 1,
                  why ? why : "no reason given");
    close_keep_errno(dfd);
    return rc;
}

int rgs_spool_fail(const char *data_dir, const char *name, const char *why)
{
    if (!rgs_spool_name_valid(name, NULL)) {
        errno = EINVAL;
        return -1;
    }
    int dfd = spool_open(data_dir, false);
    if (dfd < 0)
        return -1;
    char path[RGS_SPOOL_NAME_MAX + 8];
    snprintf(path, sizeof path, "cur/%s", name);
    struct stat st;
    int rc = fstatat(dfd, path, &st, AT_SYMLINK_NOFOLLOW);
    if (rc == 0)
        rc = fail_at(dfd, name, why);
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
