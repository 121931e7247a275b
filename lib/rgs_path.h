/* rgs_path: which paths the sync may touch, and file operations inside one
 * repository work tree that never leave it.
 *
 * Rules (DESIGN.md "Properties"; relay.md §5.11 and the weaknesses of §8):
 *   - a path from Relay (a filemeta key, "vpath") is refused when it is
 *     absolute, has an empty, "." or ".." component, a ".git" component in
 *     any case (also every form Git itself refuses as ".git" on NTFS and
 *     HFS+: trailing dots or spaces, "git~1", ':' streams, '\\'-separated
 *     parts, Unicode ignorables; see rgs_path_is_dotgit), a NUL or other
 *     control character (C0, DEL, C1), a component over 255 bytes, is not
 *     UTF-8 or is longer than 4095 bytes;
 *   - file operations walk from the repository root one component at a time
 *     with openat(O_NOFOLLOW | O_DIRECTORY), so no symlink is ever followed
 *     (a symlinked component gives ELOOP or ENOTDIR), and refuse a ".git"
 *     component again (EPERM) whatever the caller checked;
 *   - the last component is only ever replaced (renameat), unlinked, or
 *     opened with O_NOFOLLOW, so a symlink there is never written through.
 *
 * Paths given to the file operations are relative to the repository root,
 * '/'-separated, without a leading '/', and must pass rgs_path_check.
 */
#ifndef RGS_PATH_H
#define RGS_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include "rgs_util.h"
#include <sys/stat.h>
#include <sys/types.h>

#define RGS_PATH_MAX 4095      /* bytes of a relative path */
#define RGS_PATH_COMPONENT 255 /* bytes of one component (NAME_MAX) */

/* rgs_path_check: is `p` (n bytes, may contain NUL) acceptable?
 * flags: RGS_PATH_VPATH: `p` is a filemeta key: one leading '/' is
 * stripped (a key without it is taken as relative too); a second leading
 * '/' makes it absolute (refused).  Without the flag, `p` must be relative
 * (no leading '/').
 * Returns 0 when acceptable, -1 with a short reason in why[why_len] (e.g.
 * "'..' component", "'.git' component", "control character") otherwise.
 * *rel / *rel_len (when not NULL) get the relative part (within p). */
#define RGS_PATH_VPATH 1u
int rgs_path_check(const char *p, size_t n, unsigned flags, const char **rel, size_t *rel_len,
                   char *why, size_t why_len);

/* rgs_path_is_dotgit: true if the component c[0..n) (bytes; any content,
 * invalid UTF-8 included) is one Git refuses as ".git" on NTFS or HFS+, or
 * a wider look-alike: after dropping every Unicode Default_Ignorable_Code_
 * Point (Unicode 14.0) and folding ASCII case, it is ".git" or "git~1",
 * then any run of '.' and ' ', then the end, ':' (an NTFS stream) or '\\';
 * a part after any '\\' is tested the same way.  Sources: Git's path.c
 * is_ntfs_dotgit, utf8.c is_hfs_dotgit, read-cache.c verify_path, fsck.c
 * fsck_tree (details and what is deliberately not refused, such as
 * ".gitmodules": the comment above it in rgs_path.c). */
bool rgs_path_is_dotgit(const char *c, size_t n);

/* rgs_path_open_repo: open DATA_DIR/repos/<relay>/<folder> as a directory
 * fd (O_NOFOLLOW on the last three components).  `relay` and `folder` must
 * be UUIDs (EINVAL otherwise).  Returns the fd (caller closes) or -1 with
 * errno (ENOENT when the repository does not exist yet). */
int rgs_path_open_repo(const char *data_dir, const char *relay, const char *folder);

/* rgs_path_open_dir: open the directory `rel` below root (walk with
 * O_NOFOLLOW; "" or "." is the root itself).  With `create`, missing
 * components are made (mode 0755) and each new directory's parent is
 * fsync'd; *created (when not NULL) counts them.  Returns an fd (caller
 * closes) or -1 with errno: ENOENT (missing), ENOTDIR (a component is a
 * file), ELOOP (a component is a symlink), EPERM (a ".git" component),
 * EINVAL (path fails rgs_path_check). */
int rgs_path_open_dir(int root, const char *rel, bool create, unsigned *created);

/* rgs_path_open_parent: open the directory holding the last component of
 * `rel` (as rgs_path_open_dir) and point *last at that component (inside
 * rel).  Same errors; EINVAL also for an empty path. */
int rgs_path_open_parent(int root, const char *rel, bool create, const char **last,
                         unsigned *created);

/* rgs_path_lstat: lstat(2) of `rel` without following any symlink on the
 * way.  Returns 0 or -1 with errno (ENOENT also when a parent is missing;
 * ENOTDIR/ELOOP when a parent is a file or a symlink). */
int rgs_path_lstat(int root, const char *rel, struct stat *st);

/* rgs_path_open_file: open the regular file `rel` read-only (O_NOFOLLOW on
 * every component).  Returns an fd or -1 with errno (ELOOP: the file is a
 * symlink; EISDIR/EINVAL: not a regular file). */
int rgs_path_open_file(int root, const char *rel);

/* rgs_path_read: the whole regular file `rel` into *out (appended,
 * NUL-terminated; caller frees), as rgs_path_open_file + rgs_read_fd.
 * `max` bytes at most (0 = no limit; more gives EFBIG).  Returns 0 or -1
 * with errno. */
int rgs_path_read(int root, const char *rel, rgs_buf *out, size_t max);

/* rgs_path_write: replace `rel` with `n` bytes so that a crash leaves the
 * old content or the new, never a mix: parents made as needed (see
 * rgs_path_open_dir, count in *created), a temporary file in the same
 * directory is written and fsync'd, renamed over the last component (a
 * symlink there is replaced, not followed), and the directory fsync'd.
 * `mode` is the new file's permission bits.  Returns 0 or -1 with errno
 * (EISDIR when a directory is at `rel`). */
int rgs_path_write(int root, const char *rel, const void *p, size_t n, mode_t mode,
                   unsigned *created);

/* rgs_path_write_staged: as rgs_path_write, but the temporary file is
 * made in the directory `staging` (an fd; same file system), so that a
 * crash never leaves a temporary file inside the work tree (where a commit
 * would pick it up).  The caller empties the staging directory while it
 * holds the repository lock.  Falls back to rgs_path_write when the rename
 * crosses file systems (EXDEV). */
#define RGS_PATH_DEFER_DIRSYNC 1u /* flags: skip the directory fsync; the caller
                                    fsyncs the directory later (rgs_path_sync_dir)
                                    before it reports the change as durable */
int rgs_path_write_staged(int root, const char *rel, int staging, const void *p, size_t n,
                          mode_t mode, unsigned flags, unsigned *created);

/* Two-step writes, so that one syncfs(2) can stand for many fsyncs:
 * rgs_path_stage writes `n` bytes into a new file in `staging` (name in
 * name[64]; no fsync: the caller makes the staged files durable, e.g. with
 * one syncfs(2), before installing them); rgs_path_install renames the
 * staged file over `rel` (parents made as needed, a symlink at `rel`
 * replaced, EISDIR for a directory there) and fsyncs the directory unless
 * RGS_PATH_DEFER_DIRSYNC.  Both return 0 or -1 with errno; EXDEV from
 * install: staging is on another file system (use rgs_path_write). */
int rgs_path_stage(int staging, const void *p, size_t n, mode_t mode, char name[64]);
int rgs_path_install(int root, const char *rel, int staging, const char *name, unsigned flags,
                     unsigned *created);

/* rgs_path_rename: rename(2) `from` to `to` (both below root; parents of
 * `to` made as needed), then fsync both directories (unless flags has
 * RGS_PATH_DEFER_DIRSYNC).  An existing file at `to` is replaced.  Returns
 * 0 or -1 with errno. */
int rgs_path_rename(int root, const char *from, const char *to, unsigned flags,
                    unsigned *created);

/* rgs_path_sync_dir: fsync the directory holding `rel` (the parent of its
 * last component; walked as rgs_path_open_dir).  Returns 0 or -1 with
 * errno. */
int rgs_path_sync_dir(int root, const char *rel);

/* rgs_path_unlink: remove the file (or symlink itself) at `rel`, fsync its
 * directory.  Returns 0 or -1 with errno (ENOENT when absent, EISDIR). */
int rgs_path_unlink(int root, const char *rel);

/* rgs_path_rmdir: remove the directory `rel` if it is empty, fsync its
 * parent.  Returns 0 or -1 with errno (ENOTEMPTY, ENOENT, ENOTDIR). */
int rgs_path_rmdir(int root, const char *rel);

#endif
