/* rgs_path: see rgs_path.h. */
#include "rgs_path.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Decode one UTF-8 sequence (input already validated); returns its length. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80 || n < 2) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        *cp = ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if ((s[0] & 0xF0) == 0xE0 && n >= 3) {
        *cp = ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (n >= 4) {
        *cp = ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
              ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    *cp = s[0];
    return 1;
}

static bool ignorable(uint32_t c)
{
    return (c >= 0x200C && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF;
}

bool rgs_path_is_dotgit(const char *c, size_t n)
{
    /* fold: drop ignorables, ASCII lower-case; anything else non-ASCII
     * cannot be part of ".git"/"git~1", keep a marker */
    char f[16];
    size_t k = 0;
    const unsigned char *s = (const unsigned char *)c;
    size_t i = 0;
    while (i < n && k < sizeof f) {
        uint32_t cp;
        size_t l = utf8_next(s + i, n - i, &cp);
        i += l;
        if (ignorable(cp))
            continue;
        f[k++] = cp < 0x80 ? (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp) : '\x7f';
    }
    if (k == 5 && i >= n && !memcmp(f, "git~1", 5))
        return true;
    if (k < 4 || memcmp(f, ".git", 4))
        return false;
    if (k > 4 && f[4] == ':')
        return true; /* NTFS alternate data stream of .git */
    /* the rest (also beyond the 16 folded bytes) must be only '.', ' ' or
     * ignorables */
    for (size_t j = 4; j < k; j++)
        if (f[j] != '.' && f[j] != ' ')
            return false;
    while (i < n) {
        uint32_t cp;
        i += utf8_next(s + i, n - i, &cp);
        if (!ignorable(cp) && cp != '.' && cp != ' ')
            return false;
    }
    return true;
}

static int refuse(char *why, size_t why_len, const char *text)
{
    if (why && why_len)
        snprintf(why, why_len, "%s", text);
    return -1;
}

int rgs_path_check(const char *p, size_t n, unsigned flags, const char **rel, size_t *rel_len,
                   char *why, size_t why_len)
{
    if (!p || n == 0)
        return refuse(why, why_len, "empty path");
    if (flags & RGS_PATH_VPATH) {
        if (p[0] == '/') {
            p++;
            n--;
        }
    }
    if (n == 0)
        return refuse(why, why_len, "empty path");
    if (p[0] == '/')
        return refuse(why, why_len, "absolute path");
    if (memchr(p, '\0', n))
        return refuse(why, why_len, "NUL character");
    if (n > RGS_PATH_MAX)
        return refuse(why, why_len, "path longer than 4095 bytes");
    if (!rgs_utf8_valid(p, n))
        return refuse(why, why_len, "not UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f)
            return refuse(why, why_len, "control character");
        if (c == 0xC2 && i + 1 < n && (unsigned char)p[i + 1] >= 0x80 &&
            (unsigned char)p[i + 1] <= 0x9F)
            return refuse(why, why_len, "control character");
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        size_t len = i - start;
        const char *c = p + start;
        if (len == 0)
            return refuse(why, why_len, "empty component");
        if (len == 1 && c[0] == '.')
            return refuse(why, why_len, "'.' component");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return refuse(why, why_len, "'..' component");
        if (len > RGS_PATH_COMPONENT)
            return refuse(why, why_len, "component longer than 255 bytes");
        if (rgs_path_is_dotgit(c, len))
            return refuse(why, why_len, "'.git' component");
        start = i + 1;
    }
    if (rel)
        *rel = p;
    if (rel_len)
        *rel_len = n;
    return 0;
}

int rgs_path_open_repo(const char *data_dir, const char *relay, const char *folder)
{
    if (!rgs_uuid_valid(relay) || !rgs_uuid_valid(folder)) {
        errno = EINVAL;
        return -1;
    }
    int d = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -1;
    const char *parts[3] = {"repos", relay, folder};
    for (int i = 0; i < 3; i++) {
        int nd = openat(d, parts[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int saved = errno;
        close(d);
        if (nd < 0) {
            errno = saved;
            return -1;
        }
        d = nd;
    }
    return d;
}

/* Walk `n` bytes of rel (components separated by '/') from root. */
static int walk(int root, const char *rel, size_t n, bool create, unsigned *created)
{
    int d = dup(root);
    if (d < 0)
        return -1;
    size_t start = 0;
    char comp[RGS_PATH_COMPONENT + 1];
    for (size_t i = 0; i <= n; i++) {
        if (i < n && rel[i] != '/')
            continue;
        size_t len = i - start;
        if (len == 0 || len > RGS_PATH_COMPONENT) {
            close(d);
            errno = EINVAL;
            return -1;
        }
        memcpy(comp, rel + start, len);
        comp[len] = '\0';
        start = i + 1;
        if (rgs_path_is_dotgit(comp, len)) {
            close(d);
            errno = EPERM;
            return -1;
        }
        int nd = openat(d, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nd < 0 && errno == ENOENT && create) {
            if (mkdirat(d, comp, 0755) < 0 && errno != EEXIST) {
                int saved = errno;
                close(d);
                errno = saved;
                return -1;
            }
            if (fsync(d) < 0) {
                int saved = errno;
                close(d);
                errno = saved;
                return -1;
            }
            if (created)
                (*created)++;
            nd = openat(d, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (nd < 0) {
            int saved = errno;
            /* O_NOFOLLOW|O_DIRECTORY on a symlink gives ENOTDIR on Linux:
             * tell a symlink from a file */
            struct stat st;
            if (saved == ENOTDIR && fstatat(d, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISLNK(st.st_mode))
                saved = ELOOP;
            close(d);
            errno = saved;
            return -1;
        }
        close(d);
        d = nd;
    }
    return d;
}

static bool rel_ok(const char *rel)
{
    return rel && rgs_path_check(rel, strlen(rel), 0, NULL, NULL, NULL, 0) == 0;
}

int rgs_path_open_dir(int root, const char *rel, bool create, unsigned *created)
{
    if (!rel || !*rel || !strcmp(rel, "."))
        return dup(root);
    if (!rel_ok(rel)) {
        errno = EINVAL;
        return -1;
    }
    return walk(root, rel, strlen(rel), create, created);
}

int rgs_path_open_parent(int root, const char *rel, bool create, const char **last,
                         unsigned *created)
{
    if (!rel_ok(rel)) {
        errno = EINVAL;
        return -1;
    }
    const char *slash = strrchr(rel, '/');
    *last = slash ? slash + 1 : rel;
    if (!slash)
        return dup(root);
    return walk(root, rel, (size_t)(slash - rel), create, created);
}

int rgs_path_lstat(int root, const char *rel, struct stat *st)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, false, &last, NULL);
    if (d < 0)
        return -1;
    int rc = fstatat(d, last, st, AT_SYMLINK_NOFOLLOW);
    int saved = errno;
    close(d);
    errno = saved;
    return rc;
}

int rgs_path_open_file(int root, const char *rel)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, false, &last, NULL);
    if (d < 0)
        return -1;
    int fd = openat(d, last, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int saved = errno;
    close(d);
    if (fd < 0) {
        errno = saved;
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int rgs_path_read(int root, const char *rel, rgs_buf *out, size_t max)
{
    int fd = rgs_path_open_file(root, rel);
    if (fd < 0)
        return -1;
    int rc = rgs_read_fd(fd, out, max);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

int rgs_path_write(int root, const char *rel, const void *p, size_t n, mode_t mode,
                   unsigned *created)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, true, &last, created);
    if (d < 0)
        return -1;
    struct stat st;
    if (fstatat(d, last, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        close(d);
        errno = EISDIR;
        return -1;
    }
    int rc = rgs_write_atomic(d, last, p, n, mode);
    int saved = errno;
    close(d);
    errno = saved;
    return rc;
}

int rgs_path_write_staged(int root, const char *rel, int staging, const void *p, size_t n,
                          mode_t mode, unsigned flags, unsigned *created)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, true, &last, created);
    if (d < 0)
        return -1;
    struct stat st;
    if (fstatat(d, last, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        close(d);
        errno = EISDIR;
        return -1;
    }
    char tmp[64];
    static unsigned counter;
    snprintf(tmp, sizeof tmp, "w.%ld.%u", (long)getpid(), counter++);
    int rc = -1, saved = 0;
    int fd = openat(staging, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        saved = errno;
        goto out;
    }
    if (fchmod(fd, mode) < 0 || rgs_write_all(fd, p, n) < 0 || fsync(fd) < 0) {
        saved = errno;
        close(fd);
        unlinkat(staging, tmp, 0);
        goto out;
    }
    close(fd);
    if (renameat(staging, tmp, d, last) < 0) {
        saved = errno;
        unlinkat(staging, tmp, 0);
        if (saved == EXDEV) {
            rc = rgs_write_atomic(d, last, p, n, mode);
            saved = errno;
        }
        goto out;
    }
    if (!(flags & RGS_PATH_DEFER_DIRSYNC) && fsync(d) < 0) {
        saved = errno;
        goto out;
    }
    rc = 0;
out:
    close(d);
    errno = saved;
    return rc;
}

int rgs_path_stage(int staging, const void *p, size_t n, mode_t mode, char name[64])
{
    static unsigned counter;
    snprintf(name, 64, "s.%ld.%u", (long)getpid(), counter++);
    int fd = openat(staging, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    if (fchmod(fd, mode) < 0 || rgs_write_all(fd, p, n) < 0) {
        int saved = errno;
        close(fd);
        unlinkat(staging, name, 0);
        errno = saved;
        return -1;
    }
    if (close(fd) < 0) {
        int saved = errno;
        unlinkat(staging, name, 0);
        errno = saved;
        return -1;
    }
    return 0;
}

int rgs_path_install(int root, const char *rel, int staging, const char *name, unsigned flags,
                     unsigned *created)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, true, &last, created);
    if (d < 0)
        return -1;
    struct stat st;
    int rc = -1, saved = 0;
    if (fstatat(d, last, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        saved = EISDIR;
    else if (renameat(staging, name, d, last) < 0)
        saved = errno;
    else if (!(flags & RGS_PATH_DEFER_DIRSYNC) && fsync(d) < 0)
        saved = errno;
    else
        rc = 0;
    close(d);
    errno = saved;
    return rc;
}

int rgs_path_sync_dir(int root, const char *rel)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, false, &last, NULL);
    if (d < 0)
        return -1;
    int rc = fsync(d);
    int saved = errno;
    close(d);
    errno = saved;
    return rc;
}

int rgs_path_rename(int root, const char *from, const char *to, unsigned flags,
                    unsigned *created)
{
    const char *lf, *lt;
    int df = rgs_path_open_parent(root, from, false, &lf, NULL);
    if (df < 0)
        return -1;
    int dt = rgs_path_open_parent(root, to, true, &lt, created);
    if (dt < 0) {
        int saved = errno;
        close(df);
        errno = saved;
        return -1;
    }
    struct stat st;
    int rc = -1, saved = 0;
    if (fstatat(dt, lt, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        saved = EISDIR;
    } else if (renameat(df, lf, dt, lt) < 0) {
        saved = errno;
    } else if (!(flags & RGS_PATH_DEFER_DIRSYNC) && (fsync(dt) < 0 || fsync(df) < 0)) {
        saved = errno;
    } else {
        rc = 0;
    }
    close(df);
    close(dt);
    errno = saved;
    return rc;
}

static int remove_at(int root, const char *rel, int flags)
{
    const char *last;
    int d = rgs_path_open_parent(root, rel, false, &last, NULL);
    if (d < 0)
        return -1;
    int rc = unlinkat(d, last, flags);
    if (rc == 0)
        rc = fsync(d);
    int saved = errno;
    close(d);
    errno = saved;
    return rc;
}

int rgs_path_unlink(int root, const char *rel) { return remove_at(root, rel, 0); }

int rgs_path_rmdir(int root, const char *rel)
{
    int rc = remove_at(root, rel, AT_REMOVEDIR);
    if (rc < 0 && errno == EEXIST)
        errno = ENOTEMPTY;
    return rc;
}
