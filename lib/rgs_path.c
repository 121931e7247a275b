/* rgs_path: see rgs_path.h. */
#include "rgs_path.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The ".git" look-alikes.  Git refuses a tree entry or index path whose
 * component is one of these (read-cache.c verify_path/verify_dotfile,
 * fsck.c fsck_tree; core.protectNTFS and core.protectHFS), because some file
 * system opens the repository's own .git through it:
 *   - ".git" in any ASCII case (verify_dotfile: everywhere);
 *   - NTFS (path.c is_ntfs_dotgit): ".git" or the 8.3 short name "git~1"
 *     (ASCII case-insensitive), followed by any run of '.' and ' ' (Windows
 *     strips them), then the end, ':' (an alternate data stream such as
 *     ".git::$INDEX_ALLOCATION"; Git refuses every stream) or '\' (a
 *     directory separator on Windows);
 *   - a name holding '\' is also looked at after each '\' (fsck_tree,
 *     verify_path under protectNTFS): "a\.git" is "a/.git" on Windows;
 *   - HFS+ (utf8.c is_hfs_dotgit/next_hfs_char): ".git" after dropping the
 *     code points HFS+ ignores in names (U+200C..U+200F, U+202A..U+202E,
 *     U+206A..U+206F, U+FEFF).
 * We refuse a superset: every Unicode Default_Ignorable_Code_Point (Unicode
 * 14.0 DerivedCoreProperties.txt; it contains Git's HFS+ list, and caseless
 * matching by NFKC_Casefold, The Unicode Standard section 3.13, removes all
 * of them, so a case-folding file system may too) is dropped anywhere in
 * the name first, for both forms, and the trailing-run rule applies to
 * both file systems' forms alike.  So ".g<U+00AD>it",
 * ".git<U+200C>." and "GIT~1<U+FEFF>:x" are refused although Git accepts
 * them.  Case folding is ASCII only, as in Git: Git's own test t1450
 * ("fsck allows .\xc5\x87it") keeps non-ASCII look-alikes legal.
 *
 * Not refused: ".gitmodules", ".gitattributes", ".gitignore" (and their
 * NTFS/HFS+ forms such as "GITMOD~1").  Git refuses those only as symbolic
 * links (verify_dotfile and fsck_tree check them under S_ISLNK; a regular
 * file is accepted, fsck only inspects the content of .gitmodules and
 * .gitattributes blobs), and the sync never creates a symlink: the write
 * operations below only ever create regular files and directories. */

#define CP_END 0x110000u /* past the end of the name */
#define CP_BAD 0x110001u /* a byte that is not part of valid UTF-8 */

/* Default_Ignorable_Code_Point, Unicode 14.0 (DerivedCoreProperties.txt);
 * tests/unit/test-path.c checks every code point against Perl's table. */
static const struct {
    uint32_t lo, hi;
} ignorable_ranges[] = {
    {0x00AD, 0x00AD},   {0x034F, 0x034F},   {0x061C, 0x061C}, {0x115F, 0x1160},
    {0x17B4, 0x17B5},   {0x180B, 0x180F},   {0x200B, 0x200F}, {0x202A, 0x202E},
    {0x2060, 0x206F},   {0x3164, 0x3164},   {0xFE00, 0xFE0F}, {0xFEFF, 0xFEFF},
    {0xFFA0, 0xFFA0},   {0xFFF0, 0xFFF8},   {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
    {0xE0000, 0xE0FFF},
};

static bool ignorable(uint32_t c)
{
    if (c < 0xAD)
        return false;
    for (size_t i = 0; i < sizeof ignorable_ranges / sizeof ignorable_ranges[0]; i++)
        if (c >= ignorable_ranges[i].lo && c <= ignorable_ranges[i].hi)
            return true;
    return false;
}

/* Decode the code point at s[*i] (n bytes in all) and advance *i: CP_END at
 * the end, CP_BAD (advancing one byte) for anything that is not shortest-
 * form UTF-8 of a scalar value (RFC 3629 section 4), as Git's
 * pick_one_utf8_char, which makes is_hfs_dotgit answer "not .git". */
static uint32_t utf8_at(const unsigned char *s, size_t n, size_t *i)
{
    if (*i >= n)
        return CP_END;
    unsigned char c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    size_t len;
    uint32_t cp, min;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        (*i)++;
        return CP_BAD;
    }
    if (n - *i < len) {
        (*i)++;
        return CP_BAD;
    }
    for (size_t k = 1; k < len; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return CP_BAD;
        }
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return CP_BAD;
    }
    *i += len;
    return cp;
}

/* The next code point that is not ignorable, ASCII letters lower-cased. */
static uint32_t folded_at(const unsigned char *s, size_t n, size_t *i)
{
    for (;;) {
        uint32_t c = utf8_at(s, n, i);
        if (c == CP_END || !ignorable(c))
            return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
    }
}

/* Does the name s[0..n) start with ".git" or "git~1" (folded), followed by
 * only '.' and ' ' up to its end, a ':' or a '\'? */
static bool part_is_dotgit(const unsigned char *s, size_t n)
{
    size_t i = 0;
    uint32_t c = folded_at(s, n, &i);
    const char *want = c == '.' ? "git" : c == 'g' ? "it~1" : NULL;
    if (!want)
        return false;
    for (; *want; want++)
        if (folded_at(s, n, &i) != (unsigned char)*want)
            return false;
    for (;;) {
        c = folded_at(s, n, &i);
        if (c == CP_END || c == ':' || c == '\\')
            return true;
        if (c != '.' && c != ' ')
            return false;
    }
}

bool rgs_path_is_dotgit(const char *c, size_t n)
{
    const unsigned char *s = (const unsigned char *)c;
    if (part_is_dotgit(s, n))
        return true;
    /* each part after a '\' (a separator on Windows); a scan never passes
     * the next '\', so this stays linear in n */
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\\' && part_is_dotgit(s + i + 1, n - i - 1))
            return true;
    return false;
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
