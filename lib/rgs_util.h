/* rgs_util: what every tool shares and that needs no library beyond libc.
 *
 * Messages, exit codes, growable byte buffers, whole-file I/O, atomic file
 * replacement, UUID and Relay document-id checks, the data-directory layout
 * and the per-repository lock.  Conventions (DESIGN.md, "Rules that make the
 * pieces fit"):
 *   - messages go to stderr as  "rgs-x: level: what 'subject': reason";
 *   - stdout carries only records;
 *   - exit codes come from the one table below.
 */
#ifndef RGS_UTIL_H
#define RGS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit codes shared by every tool (DESIGN.md). */
enum {
    RGS_EX_OK = 0,          /* everything done */
    RGS_EX_SOME_FAILED = 1, /* some records failed; details are in the stream */
    RGS_EX_PERM = 100,      /* permanent: bad usage, bad input, bad config */
    RGS_EX_INTERNAL = 101,  /* internal error (a bug) */
    RGS_EX_TEMP = 111,      /* temporary: network, I/O, lock busy; retry */
};

/* Message levels.  rgs_verbosity filters: -q sets it to RGS_WARN, default
 * RGS_INFO, each -v raises it by one (RGS_DEBUG, then RGS_TRACE). */
enum rgs_level { RGS_ERROR = 0, RGS_WARN = 1, RGS_INFO = 2, RGS_DEBUG = 3, RGS_TRACE = 4 };
extern int rgs_verbosity;

/* rgs_set_progname: name used as the message prefix ("rgs-fetch").
 * Input: argv[0] (any path; the basename is kept; the pointer must stay
 * valid for the life of the process).  Call once at the top of main(). */
void rgs_set_progname(const char *argv0);
const char *rgs_progname(void);

/* rgs_msg: print "prog: level: <formatted text>\n" to stderr if `level` is
 * within rgs_verbosity.  The caller's text follows the convention
 * "what 'subject': reason".  Never pass a secret in the arguments; use
 * rgs_redact_url() for URLs.  One write(2) per message, so lines from
 * concurrent processes do not interleave.  Errors: none (best effort). */
void rgs_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rgs_vmsg(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
#define rgs_error(...) rgs_msg(RGS_ERROR, __VA_ARGS__)
#define rgs_warn(...)  rgs_msg(RGS_WARN, __VA_ARGS__)
#define rgs_info(...)  rgs_msg(RGS_INFO, __VA_ARGS__)
#define rgs_debug(...) rgs_msg(RGS_DEBUG, __VA_ARGS__)

/* rgs_die: rgs_msg(RGS_ERROR, ...) then exit(code).  Does not return. */
void rgs_die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Allocation that cannot fail: on out-of-memory prints an error and exits
 * RGS_EX_TEMP (the batch is retried).  Returned memory is the caller's, to
 * free(3). */
void *rgs_xmalloc(size_t n);
void *rgs_xcalloc(size_t n, size_t size);
void *rgs_xrealloc(void *p, size_t n);
char *rgs_xstrdup(const char *s);
char *rgs_xstrndup(const char *s, size_t n);
char *rgs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growable byte buffer.  `data` is always NUL-terminated after any append
 * (the NUL is not counted in `len`), so text can be used as a C string.
 * Zero-initialise (RGS_BUF_INIT) before use; rgs_buf_free releases. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} rgs_buf;
#define RGS_BUF_INIT {NULL, 0, 0}
void rgs_buf_reserve(rgs_buf *b, size_t extra); /* room for `extra` more bytes */
void rgs_buf_append(rgs_buf *b, const void *p, size_t n);
void rgs_buf_puts(rgs_buf *b, const char *s);
void rgs_buf_putc(rgs_buf *b, char c);
void rgs_buf_printf(rgs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rgs_buf_reset(rgs_buf *b);                 /* len = 0, keeps memory */
void rgs_buf_free(rgs_buf *b);
/* Hand the bytes over: returns data (NUL-terminated, caller frees), buffer
 * becomes empty.  Never NULL. */
char *rgs_buf_steal(rgs_buf *b, size_t *len);

/* rgs_read_fd: read all of fd until EOF into *out (NUL-terminated).
 * `max` bytes at most (0 = no limit); more input gives -1 with errno
 * EFBIG.  Returns 0, or -1 with errno set.  Caller frees out->data. */
int rgs_read_fd(int fd, rgs_buf *out, size_t max);
/* rgs_read_file: same for a path (relative to dirfd, AT_FDCWD for cwd). */
int rgs_read_file(int dirfd, const char *path, rgs_buf *out, size_t max);

/* rgs_write_all: write(2) all `n` bytes, retrying short writes and EINTR.
 * Returns 0 or -1 with errno. */
int rgs_write_all(int fd, const void *p, size_t n);

/* rgs_write_atomic: replace `name` in directory `dirfd` with `n` bytes so
 * that a crash leaves the old file or the new one, never a mix: write a
 * temporary file in the same directory, fsync it, renameat(2) over `name`,
 * fsync the directory.  `name` is one path component (no '/'); symlinks are
 * never followed (O_NOFOLLOW; a symlink at `name` is replaced, not written
 * through).  `mode` is the new file's permission bits.  Returns 0 or -1 with
 * errno; on failure the temporary file is removed. */
int rgs_write_atomic(int dirfd, const char *name, const void *p, size_t n, mode_t mode);

/* rgs_fsync_dir: fsync the directory at `path` (relative to dirfd).
 * Returns 0 or -1 with errno. */
int rgs_fsync_dir(int dirfd, const char *path);

/* rgs_mkdirs: mkdir -p of `path` (absolute or relative to cwd) with `mode`;
 * existing directories are fine.  Returns 0 or -1 with errno. */
int rgs_mkdirs(const char *path, mode_t mode);

/* UUIDs as Relay uses them (relay.md §2.2): 8-4-4-4-12 hex digits, any case.
 * rgs_uuid_valid: true if `s` is exactly one UUID (36 bytes, NUL after).
 * rgs_uuid_norm: copy a valid UUID lower-cased into out[37]; false (out
 * untouched) when `s` (first `n` bytes) is not a UUID. */
bool rgs_uuid_valid(const char *s);
bool rgs_uuid_norm(const char *s, size_t n, char out[37]);

/* rgs_docid_split: split a Relay document id into relay id and resource id
 * (relay.md §2.1): "<relay-uuid>-<resource-uuid>" or the 3-UUID form
 * "<relay>-<middle>-<resource>" (middle ignored).  Both outputs are
 * validated, lower-cased UUIDs (37 bytes with NUL).  Returns false for
 * anything else: other lengths, non-hex, misplaced dashes. */
bool rgs_docid_split(const char *doc_id, char relay[37], char resource[37]);

/* rgs_data_dir: the data directory: `opt` (from -d/--data-dir) if non-NULL,
 * else $RELAY_GIT_DATA_DIR if set and non-empty, else ".".  Returns a
 * pointer that is either `opt`, the environment string or a literal: do
 * not free. */
const char *rgs_data_dir(const char *opt);

/* rgs_lock_repo: take the per-repository lock shared by rgs-apply and
 * rgs-commit: flock(2) LOCK_EX on DATA_DIR/locks/<relay>/<folder>.lock
 * (created 0600 with its directories).  `relay` and `folder` must be
 * validated UUIDs.  Waits up to `wait_seconds` (0 = try once).  Returns the
 * lock fd (close it to release; the kernel releases it when the process
 * dies, so a crash never leaves a stale lock), or -1 with errno
 * (EWOULDBLOCK when busy: exit RGS_EX_TEMP). */
int rgs_lock_repo(const char *data_dir, const char *relay, const char *folder, double wait_seconds);

/* rgs_lock_path: the same for any lock file path (used for the one-instance
 * lock DATA_DIR/locks/server.lock). */
int rgs_lock_path(const char *path, double wait_seconds);

/* rgs_now: wall-clock time in seconds since the Unix epoch (CLOCK_REALTIME),
 * with sub-second precision. rgs_mono: CLOCK_MONOTONIC seconds. */
double rgs_now(void);
double rgs_mono(void);

/* rgs_redact_url: copy of `url` with userinfo ("user:pass@", "token@"; an
 * ssh:// user name without a password is kept: it is not a secret) and the values
 * of query parameters named token, key, secret, sig, signature, X-Amz-*
 * replaced by "***".  Safe for logs.  Caller frees. */
char *rgs_redact_url(const char *url);

/* rgs_parse_seconds: parse a non-negative number of seconds ("10", "0.5").
 * Returns true and sets *out, false on anything else. */
bool rgs_parse_seconds(const char *s, double *out);

/* rgs_utf8_valid: true if the `n` bytes are well-formed UTF-8 (RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF).  NUL bytes are
 * allowed (they are valid UTF-8); callers that refuse them check apart. */
bool rgs_utf8_valid(const void *p, size_t n);

#endif
