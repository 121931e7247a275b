/* rgs-apply: op records -> files in the work trees and state files ->
 * applied / failed records.  The only writer of work trees and of
 * DATA_DIR/state.  See rgs-apply(1) and rgs-records(5).
 *
 * Crash safety: every file change is atomic (temp + fsync + rename +
 * directory fsync, or rename/unlink + directory fsync) and each op's state
 * change is made in memory after its file change succeeded; the state files
 * are saved (atomically) after each group of ops, before their applied
 * records are emitted.  A crash in between leaves files newer than the
 * state; the next plan sees that and re-plans the same ops, and an op whose
 * target already holds the wanted bytes is recorded as done (idempotent).
 *
 * Cost: a group whose ops only rewrite notes in place (the usual edit)
 * never loads the three state files: each write looks its document up in
 * the state's index, and the changes go to DATA_DIR/state/<relay>/pending/
 * (rgs_state.h).  Any other op (move, delete, filemeta, a new file) loads
 * the state completely, which folds pending changes into the three files.
 * They are also folded on a tick when the oldest is older than
 * --state-max-age, when more than --state-max-pending are waiting, on the
 * final tick, and by --compact.
 */
#include "rgs_crypto.h"
#include "rgs_path.h"
#include "rgs_record.h"
#include "rgs_state.h"
#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLUSH_EVERY 1000 /* save state and emit after this many ops of one group */

static const char *data_dir;
static bool dry_run;
static double lock_wait = 30;
static double state_max_age = 600;  /* seconds a pending state change may wait */
static long state_max_pending = 256; /* pending documents before a compaction */
static int exit_status = RGS_EX_OK;
static bool out_broken;

typedef struct {
    bool active;
    char relay[37], folder[37];
    int repo_lock, state_lock, root, staging;
    rgs_state *st;
    char *error;     /* set: every op of the group fails with this (temporary) */
    json_t *out;     /* records to emit at the next flush */
    bool dirty;      /* state changed since the last save */
    bool index_due;  /* saved without the index: the last flush writes it */
    json_t *dirsync; /* directory (repo path) -> a file path in it: to fsync */
    json_t *ops;     /* ops waiting to be applied (at most FLUSH_EVERY) */
} group;

static group G = {.repo_lock = -1, .state_lock = -1, .root = -1, .staging = -1};

static void emit(json_t *r)
{
    if (!out_broken && rgs_emit(stdout, r) < 0)
        out_broken = true;
}

/* The op's path for a log message: it came from Relay, so no control
 * characters into the log (as rgs-plan shows them: \xNN; '\\' too). */
static const char *shown_path(const json_t *op, char out[400])
{
    const char *p = rgs_rec_str(op, "path");
    if (!p)
        return "-";
    size_t k = 0;
    for (size_t i = 0; p[i] && k + 5 < 400; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            k += (size_t)snprintf(out + k, 400 - k, "\\x%02x", c);
        else
            out[k++] = (char)c;
    }
    out[k] = 0;
    return out;
}

static void add_failed(const json_t *op, bool temporary, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_failed(const json_t *op, bool temporary, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *why = NULL;
    if (vasprintf(&why, fmt, ap) < 0)
        why = NULL;
    va_end(ap);
    json_t *f = rgs_failed_new(op, temporary, "%s", why ? why : "failed");
    char shown[400];
    rgs_warn("%s '%s': %s", rgs_rec_str(op, "op") ?: "op", shown_path(op, shown), why ? why : "failed");
    free(why);
    json_array_append_new(G.out, f);
    if (exit_status == RGS_EX_OK)
        exit_status = RGS_EX_SOME_FAILED;
}

static void add_refused(const json_t *op, const char *why)
{
    json_t *r = rgs_record_new("refused");
    static const char *keep[] = {"ref", "relay", "folder", "doc", "vpath", "path", "op"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        json_t *x = json_object_get(op, keep[i]);
        if (x)
            json_object_set(r, keep[i], x);
    }
    json_object_set_new(r, "reason", json_string(why));
    char shown[400];
    rgs_warn("refused '%s': %s", shown_path(op, shown), why);
    json_array_append_new(G.out, r);
    if (exit_status == RGS_EX_OK)
        exit_status = RGS_EX_SOME_FAILED;
}

/* Make the group's changes durable and emit their records.  last: the
 * group ends (an intermediate flush leaves the state's index for the last
 * one: a run of thousands of ops rewrites it once). */
static void group_flush(bool last)
{
    if (!G.active)
        return;
    if ((G.dirty || (last && G.index_due)) && !dry_run) {
        /* the directory entries of this group's writes and moves reach the
         * disk before the state that describes them (one fsync per
         * directory, not per file) */
        bool synced = true;
        const char *k;
        json_t *v;
        json_object_foreach(G.dirsync, k, v) if (rgs_path_sync_dir(G.root, json_string_value(v)) < 0 &&
                                                  errno != ENOENT)
        {
            rgs_error("fsync directory '%s': %s", *k ? k : ".", strerror(errno));
            synced = false;
        }
        json_object_clear(G.dirsync);
        if (!synced || rgs_state_save_flags(G.st, last ? 0 : RGS_STATE_NO_INDEX) < 0) {
            /* files changed but the state is not durable: report every
             * applied op as failed; the next batch re-plans them */
            for (size_t i = 0; i < json_array_size(G.out); i++) {
                json_t *r = json_array_get(G.out, i);
                if (strcmp(rgs_rec_str(r, "type") ?: "", "applied"))
                    continue;
                json_t *f = rgs_failed_new(r, true, "state of relay %s could not be saved", G.relay);
                json_array_set_new(G.out, i, f);
            }
            exit_status = RGS_EX_SOME_FAILED;
            /* start again from what is on disk: drop the unsaved changes */
            rgs_state_free(G.st);
            G.st = NULL;
            rgs_state_open(data_dir, G.relay, RGS_STATE_WRITER, &G.st);
        } else if (!rgs_state_is_full(G.st)) {
            /* too many pending changes: fold them into the state files */
            size_t n;
            double since;
            bool index_ok;
            if (rgs_state_status(G.st, &n, &since, &index_ok) == 0 &&
                (long)n >= state_max_pending &&
                (rgs_state_full(G.st) < 0 || rgs_state_save(G.st) < 0))
                rgs_warn("state of relay '%s': %zu pending changes not folded in yet", G.relay, n);
        }
        G.dirty = false;
        G.index_due = !last;
    }
    for (size_t i = 0; i < json_array_size(G.out); i++)
        emit(json_array_get(G.out, i));
    json_array_clear(G.out);
}

static void run_ops(void);

static void group_end(void)
{
    if (!G.active)
        return;
    run_ops();
    group_flush(true);
    rgs_state_free(G.st);
    if (G.root >= 0)
        close(G.root);
    if (G.staging >= 0)
        close(G.staging);
    if (G.state_lock >= 0)
        close(G.state_lock);
    if (G.repo_lock >= 0)
        close(G.repo_lock);
    free(G.error);
    json_decref(G.out);
    json_decref(G.dirsync);
    json_decref(G.ops);
    memset(&G, 0, sizeof G);
    G.repo_lock = G.state_lock = G.root = G.staging = -1;
}

static void group_start(const char *relay, const char *folder)
{
    G.active = true;
    memcpy(G.relay, relay, 37);
    memcpy(G.folder, folder, 37);
    G.out = json_array();
    G.dirsync = json_object();
    G.ops = json_array();
    if (!dry_run) {
        G.repo_lock = rgs_lock_repo(data_dir, relay, folder, lock_wait);
        if (G.repo_lock < 0) {
            G.error = rgs_xasprintf("repository lock: %s", errno == EWOULDBLOCK ? "busy" : strerror(errno));
            return;
        }
        char *sl = rgs_xasprintf("%s/locks/%s/state.lock", data_dir, relay);
        G.state_lock = rgs_lock_path(sl, lock_wait);
        free(sl);
        if (G.state_lock < 0) {
            G.error = rgs_xasprintf("state lock: %s", errno == EWOULDBLOCK ? "busy" : strerror(errno));
            return;
        }
    }
    /* nothing is read yet: ops load what they need (rgs_state.h) */
    if (rgs_state_open(data_dir, relay, dry_run ? 0 : RGS_STATE_WRITER, &G.st) < 0) {
        G.error = rgs_xstrdup("state cannot be read");
        return;
    }
    G.root = rgs_path_open_repo(data_dir, relay, folder);
    if (G.root < 0 && errno == ENOENT && dry_run) {
        /* before the first sync: the ops are checked against an empty
         * tree (current() sees every path absent) */
        rgs_info("folder %s: no local repository yet (first sync): the plan is checked against an empty tree", folder);
        return;
    }
    if (G.root < 0) {
        G.error = errno == ENOENT
                      ? rgs_xstrdup("repository not prepared yet (rgs-commit --prepare creates it)")
                      : rgs_xasprintf("open repository: %s", strerror(errno));
        return;
    }
    struct stat st;
    if (fstatat(G.root, ".git", &st, AT_SYMLINK_NOFOLLOW) < 0 ||
        !(S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
        G.error = rgs_xstrdup("repository not prepared yet: no .git (rgs-commit --prepare creates it)");
        return;
    }
    if (dry_run)
        return;
    /* DATA_DIR/tmp/<relay>/<folder>/: temporary files of this repository's
     * writes; what a crashed run left there is removed (we hold the lock) */
    char *sdir = rgs_xasprintf("%s/tmp/%s/%s", data_dir, relay, folder);
    if (rgs_mkdirs(sdir, 0700) < 0 ||
        (G.staging = open(sdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        G.error = rgs_xasprintf("staging directory '%s': %s", sdir, strerror(errno));
        free(sdir);
        return;
    }
    free(sdir);
    int dup_fd = dup(G.staging);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(G.staging, de->d_name, 0);
        closedir(d);
    } else if (dup_fd >= 0) {
        close(dup_fd);
    }
}

/* The directory holding `path` must be fsync'd before the state is saved. */
static void need_dirsync(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = rgs_xstrndup(path, slash ? (size_t)(slash - path) : 0);
    if (!json_object_get(G.dirsync, dir))
        json_object_set_new(G.dirsync, dir, json_string(path));
    free(dir);
}

/* The file at `path` now. */
typedef struct {
    enum { F_ABSENT, F_FILE, F_OBSTACLE, F_ERROR } kind;
    char sha[65], blob[41];
    mode_t mode;
    const char *why;
} cur_t;

static void current(const char *path, cur_t *c)
{
    memset(c, 0, sizeof *c);
    if (G.root < 0) { /* dry run before the first sync: an empty tree */
        c->kind = F_ABSENT;
        return;
    }
    struct stat st;
    if (rgs_path_lstat(G.root, path, &st) < 0) {
        if (errno == ENOENT) {
            c->kind = F_ABSENT;
        } else if (errno == ELOOP) {
            c->kind = F_OBSTACLE, c->why = "a symlink is in the path";
        } else if (errno == ENOTDIR) {
            c->kind = F_OBSTACLE, c->why = "a file is in the way of a parent directory";
        } else if (errno == EINVAL || errno == EPERM) {
            c->kind = F_OBSTACLE, c->why = "path refused";
        } else {
            c->kind = F_ERROR, c->why = strerror(errno);
        }
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        c->kind = F_OBSTACLE, c->why = "a symlink is in the way";
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        c->kind = F_OBSTACLE, c->why = "a directory is in the way";
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        c->kind = F_OBSTACLE, c->why = "a special file is in the way";
        return;
    }
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_path_read(G.root, path, &b, 0) < 0) {
        c->kind = errno == ELOOP ? F_OBSTACLE : F_ERROR;
        c->why = errno == ELOOP ? "a symlink is in the way" : strerror(errno);
        rgs_buf_free(&b);
        return;
    }
    c->kind = F_FILE;
    c->mode = st.st_mode & 07777;
    rgs_sha256_hex(b.data, b.len, c->sha);
    rgs_git_blob_hex(b.data, b.len, c->blob);
    rgs_buf_free(&b);
}

/* pre.sha256 (null: absent) against the disk */
static bool matches(const cur_t *c, const json_t *want)
{
    if (json_is_null(want))
        return c->kind == F_ABSENT;
    const char *w = json_string_value(want);
    return w && c->kind == F_FILE && !strcmp(c->sha, w);
}

static json_t *applied_new(const json_t *op, const char *oldb, const char *newb)
{
    json_t *a = rgs_record_new("applied");
    static const char *keep[] = {"ref", "relay", "folder", "op", "path", "from", "kind", "doc", "vpath"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
        json_t *x = json_object_get(op, keep[i]);
        if (x)
            json_object_set(a, keep[i], x);
        else if (!strcmp(keep[i], "from"))
            json_object_set_new(a, "from", json_null());
    }
    json_object_set_new(a, "old_blob", oldb ? json_string(oldb) : json_null());
    json_object_set_new(a, "new_blob", newb ? json_string(newb) : json_null());
    json_t *u = json_object_get(op, "users");
    json_object_set_new(a, "users", json_is_array(u) ? json_copy(u) : json_array());
    json_object_set_new(a, "time", json_real(rgs_now()));
    return a;
}

static const char *state_type(const char *kind)
{
    if (kind && !strcmp(kind, "canvas"))
        return "canvas";
    if (kind && !strcmp(kind, "file"))
        return "file";
    return "document";
}

static bool vpath_ok(const char *vpath)
{
    return vpath && vpath[0] == '/' &&
           rgs_path_check(vpath, strlen(vpath), RGS_PATH_VPATH, NULL, NULL, NULL, 0) == 0;
}

/* The state cannot be read: op fails (temporarily), and so do the
 * group's other ops, at once, without reading it again. */
static void state_unreadable(const json_t *op)
{
    add_failed(op, true, "state of relay %s cannot be read", G.relay);
    if (!G.error)
        G.error = rgs_xasprintf("state of relay %s cannot be read", G.relay);
}

/* The complete state, for an op that changes more than a note's content.
 * False (the op failed, temporarily) when it cannot be read. */
static bool state_full(const json_t *op)
{
    if (rgs_state_is_full(G.st))
        return true;
    if (rgs_state_full(G.st) < 0) {
        state_unreadable(op);
        return false;
    }
    G.dirty = true; /* pending changes folded in, index to bring up to date */
    return true;
}

/* local_state[folder][vpath] (and document_hashes[doc] when hash is set) */
static void track(const char *vpath, const char *doc, const char *sha, const char *type,
                  const char *hash)
{
    json_t *e = json_pack("{s:s?, s:s?, s:s, s:f}", "doc_id", doc, "hash", sha, "type", type,
                          "modified", rgs_now());
    if (rgs_state_doc_set(G.st, doc, G.folder, vpath, hash, e) < 0)
        rgs_die(RGS_EX_INTERNAL, "state of '%s' changed without being prepared", vpath);
    json_decref(e);
    G.dirty = true;
}

/* The document hash stays (as in the original): a document that comes
 * back is written again because its path is no longer tracked. */
static void untrack(const char *vpath)
{
    json_t *local = rgs_state_folder_local(G.st, G.folder, false);
    if (local && json_object_get(local, vpath)) {
        json_object_del(local, vpath);
        G.dirty = true;
    }
}

/* The bytes a write op carries (content, or a blob of the cache), checked
 * against its sha256.  Returns 0, or -1 with the reason in why and
 * *temporary. */
static int op_bytes(const json_t *op, rgs_buf *bytes, char sha[65], char *why, size_t whylen,
                    bool *temporary)
{
    json_t *content = json_object_get(op, "content");
    const char *blob = rgs_rec_str(op, "blob");
    *temporary = false;
    if (json_is_string(content)) {
        rgs_buf_append(bytes, json_string_value(content), json_string_length(content));
    } else if (blob) {
        bool hex = strlen(blob) == 64;
        for (int i = 0; hex && i < 64; i++)
            hex = (blob[i] >= '0' && blob[i] <= '9') || (blob[i] >= 'a' && blob[i] <= 'f');
        if (!hex) {
            snprintf(why, whylen, "bad blob name");
            return -1;
        }
        char *bp = rgs_xasprintf("%s/cache/blobs/%s", data_dir, blob);
        int fd = open(bp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        free(bp);
        if (fd < 0 || rgs_read_fd(fd, bytes, 0) < 0) {
            int e = errno;
            if (fd >= 0)
                close(fd);
            snprintf(why, whylen, "blob %s not in the cache: %s", blob, strerror(e));
            *temporary = true;
            return -1;
        }
        close(fd);
    } else if (json_object_get(op, "source")) {
        snprintf(why, whylen, "content not fetched (source left unresolved)");
        *temporary = true;
        return -1;
    } else {
        snprintf(why, whylen, "write op without content, blob or source");
        return -1;
    }
    rgs_sha256_hex(bytes->data, bytes->len, sha);
    const char *want = rgs_rec_str(op, "sha256");
    if ((want && strcasecmp(want, sha)) || (blob && strcasecmp(blob, sha))) {
        snprintf(why, whylen, "content does not match its sha256");
        return -1;
    }
    return 0;
}

/* A write's bytes staged by run_ops before the group's ops run: the
 * staged file's name in G.staging (empty: not staged, do_write reads the
 * bytes itself), their sha256 and Git blob id (hex). */
typedef struct {
    char name[64];
    char sha[65];
    char blob[41];
} staged_t;

static void do_write(json_t *op, const char *path, const char *vpath, const staged_t *st)
{
    const char *doc = rgs_rec_uuid(op, "doc");
    const char *kind = rgs_rec_str(op, "kind");
    json_t *pre = json_object_get(json_object_get(op, "pre"), "sha256");
    if (!doc || !kind || !vpath_ok(vpath) || !pre) {
        add_failed(op, false, "write op without doc, kind, vpath or pre.sha256");
        return;
    }
    /* staged: the bytes were read, checked and hashed by run_ops; they are
     * read again only if the staged file cannot be renamed into place */
    const char *staged = st && st->name[0] ? st->name : NULL;
    rgs_buf bytes = RGS_BUF_INIT;
    char sha[65], newblob[41], why[200];
    bool temporary;
    if (staged) {
        memcpy(sha, st->sha, sizeof sha);
        memcpy(newblob, st->blob, sizeof newblob);
    } else if (op_bytes(op, &bytes, sha, why, sizeof why, &temporary) < 0) {
        rgs_buf_free(&bytes);
        add_failed(op, temporary, "%s", why);
        return;
    } else {
        rgs_git_blob_hex(bytes.data, bytes.len, newblob);
    }
    /* the state must be able to take the change before the file changes:
     * a note rewritten in place stays lazy, anything else loads it all */
    if (!dry_run) {
        bool was_full = rgs_state_is_full(G.st);
        if (rgs_state_doc_prepare(G.st, doc, G.folder, vpath, state_type(kind)) < 0) {
            rgs_buf_free(&bytes);
            state_unreadable(op);
            return;
        }
        if (!was_full && rgs_state_is_full(G.st))
            G.dirty = true;
    }
    cur_t c;
    current(path, &c);
    if (c.kind == F_OBSTACLE || c.kind == F_ERROR) {
        add_failed(op, c.kind == F_ERROR, "%s", c.why);
        rgs_buf_free(&bytes);
        return;
    }
    bool done = c.kind == F_FILE && !strcmp(c.sha, sha);
    if (!done && !matches(&c, pre)) {
        add_failed(op, true, "stale: the file changed since it was planned");
        rgs_buf_free(&bytes);
        return;
    }
    if (!done && !dry_run) {
        unsigned created = 0;
        mode_t mode = c.kind == F_FILE ? c.mode : 0644;
        int rc = -1;
        if (staged) { /* made durable by the group's syncfs */
            if (mode == 0644 || fchmodat(G.staging, staged, mode, 0) == 0)
                rc = rgs_path_install(G.root, path, G.staging, staged, RGS_PATH_DEFER_DIRSYNC,
                                      &created);
            if (rc < 0 && errno == EXDEV) {
                char sha2[65];
                if (op_bytes(op, &bytes, sha2, why, sizeof why, &temporary) < 0) {
                    rgs_buf_free(&bytes);
                    add_failed(op, temporary, "%s", why);
                    return;
                }
                rc = rgs_path_write(G.root, path, bytes.data, bytes.len, mode, &created);
            }
        } else {
            rc = rgs_path_write_staged(G.root, path, G.staging, bytes.data, bytes.len, mode,
                                       RGS_PATH_DEFER_DIRSYNC, &created);
        }
        if (rc < 0) {
            int e = errno;
            rgs_buf_free(&bytes);
            bool perm = e == ELOOP || e == ENOTDIR || e == EISDIR || e == EPERM || e == EINVAL;
            add_failed(op, !perm, "write: %s", strerror(e));
            return;
        }
    }
    rgs_buf_free(&bytes);
    if (dry_run)
        return;
    need_dirsync(path);
    /* the doc hash is recorded only now that the bytes are on disk */
    bool is_doc = !strcmp(kind, "markdown") || !strcmp(kind, "canvas");
    track(vpath, doc, sha, state_type(kind), is_doc ? sha : NULL);
    json_array_append_new(G.out, applied_new(op, c.kind == F_FILE ? c.blob : NULL, newblob));
}

static void do_move(json_t *op, const char *path, const char *vpath)
{
    const char *from = rgs_rec_str(op, "from"), *from_vpath = rgs_rec_str(op, "from_vpath");
    const char *doc = rgs_rec_uuid(op, "doc");
    json_t *pre = json_object_get(op, "pre");
    json_t *pto = json_object_get(pre, "sha256");
    const char *pfrom = json_string_value(json_object_get(pre, "from_sha256"));
    char why[128];
    if (!from || rgs_path_check(from, strlen(from), 0, NULL, NULL, why, sizeof why) < 0) {
        add_refused(op, from ? why : "move without from");
        return;
    }
    if (!doc || !vpath_ok(vpath) || !vpath_ok(from_vpath) || !pto || !pfrom) {
        add_failed(op, false, "move op without doc, vpath, from_vpath or preconditions");
        return;
    }
    cur_t cf, ct;
    current(from, &cf);
    current(path, &ct);
    if (ct.kind == F_OBSTACLE || ct.kind == F_ERROR || cf.kind == F_OBSTACLE || cf.kind == F_ERROR) {
        const cur_t *bad = (ct.kind == F_OBSTACLE || ct.kind == F_ERROR) ? &ct : &cf;
        add_failed(op, bad->kind == F_ERROR, "%s", bad->why);
        return;
    }
    /* pending: the file is still at `from` and must be renamed; already:
     * an earlier run moved it (only the state is left to record) */
    bool pending = cf.kind == F_FILE && !strcmp(cf.sha, pfrom) && matches(&ct, pto);
    bool already = cf.kind == F_ABSENT && ct.kind == F_FILE && !strcmp(ct.sha, pfrom);
    if (!pending && !already) {
        add_failed(op, true, "stale: the files changed since the move was planned");
        return;
    }
    if (dry_run || !state_full(op))
        return;
    if (pending && rgs_path_rename(G.root, from, path, RGS_PATH_DEFER_DIRSYNC, NULL) < 0) {
        int e = errno;
        add_failed(op, !(e == ELOOP || e == ENOTDIR || e == EISDIR || e == EPERM), "rename: %s",
                   strerror(e));
        return;
    }
    need_dirsync(path);
    need_dirsync(from);
    json_t *local = rgs_state_folder_local(G.st, G.folder, true);
    json_t *old = json_object_get(local, from_vpath);
    const char *type = json_string_value(json_object_get(old, "type"));
    char *t = rgs_xstrdup(type ? type : state_type(rgs_rec_str(op, "kind")));
    json_object_del(local, from_vpath);
    track(vpath, doc, pfrom, t, NULL);
    free(t);
    json_array_append_new(G.out,
                          applied_new(op, pending ? (ct.kind == F_FILE ? ct.blob : NULL) : NULL,
                                      pending ? cf.blob : ct.blob));
}

static void do_delete(json_t *op, const char *path, const char *vpath)
{
    json_t *pre = json_object_get(json_object_get(op, "pre"), "sha256");
    if (!pre || !vpath_ok(vpath)) {
        add_failed(op, false, "delete op without vpath or pre.sha256");
        return;
    }
    cur_t c;
    current(path, &c);
    if (c.kind == F_OBSTACLE || c.kind == F_ERROR) {
        add_failed(op, c.kind == F_ERROR, "%s", c.why);
        return;
    }
    bool done = c.kind == F_ABSENT;
    if (!done && !matches(&c, pre)) {
        add_failed(op, true, "stale: the file changed since its deletion was planned");
        return;
    }
    if (dry_run || !state_full(op))
        return;
    if (!done && rgs_path_unlink(G.root, path) < 0 && errno != ENOENT) {
        add_failed(op, true, "unlink: %s", strerror(errno));
        return;
    }
    untrack(vpath);
    json_array_append_new(G.out, applied_new(op, done ? NULL : c.blob, NULL));
}

/* mkdir and rmdir: pre.sha256 must be null (the plan saw no file at path:
 * a directory or nothing).  Returns 1 when the path is a directory, 0
 * when it is absent, -1 when the op failed (recorded): a regular file
 * there is stale (temporary), a symlink or special file in the way, or in
 * the path, fails permanently. */
static int dir_pre(json_t *op, const char *path)
{
    json_t *pre = json_object_get(json_object_get(op, "pre"), "sha256");
    if (!json_is_null(pre)) {
        add_failed(op, false, "%s op without pre.sha256 null", rgs_rec_str(op, "op"));
        return -1;
    }
    struct stat st;
    if (rgs_path_lstat(G.root, path, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    cur_t c;
    current(path, &c);
    if (c.kind == F_ABSENT)
        return 0;
    if (c.kind == F_FILE) {
        add_failed(op, true, "stale: a file is at the path since the %s was planned",
                   rgs_rec_str(op, "op"));
        return -1;
    }
    add_failed(op, c.kind == F_ERROR, "%s", c.why);
    return -1;
}

static void do_mkdir(json_t *op, const char *path)
{
    int d = dir_pre(op, path);
    if (d != 0 || dry_run)
        return; /* failed, or already a directory: nothing to report */
    unsigned created = 0;
    int fd = rgs_path_open_dir(G.root, path, true, &created);
    if (fd < 0) {
        int e = errno;
        add_failed(op, !(e == ELOOP || e == ENOTDIR || e == EPERM || e == EINVAL), "mkdir: %s",
                   strerror(e));
        return;
    }
    close(fd);
    if (created)
        json_array_append_new(G.out, applied_new(op, NULL, NULL));
}

static void do_rmdir(json_t *op, const char *path)
{
    int d = dir_pre(op, path);
    if (d != 1 || dry_run)
        return; /* failed, or nothing there: nothing to report */
    if (rgs_path_rmdir(G.root, path) < 0) {
        /* not empty: files the sync did not write (a README from the
         * remote) keep their directory */
        if (errno != ENOTEMPTY && errno != ENOENT)
            rgs_debug("rmdir '%s': %s", path, strerror(errno));
        return;
    }
    json_array_append_new(G.out, applied_new(op, NULL, NULL));
}

/* pre.list_sha256 of a filemeta op: the SHA-256 of the stored file list
 * (shared_folders.json[folder] serialized by jansson compact with sorted
 * keys: rgs_state_list_sha256, as rgs-plan's list_pre), or null when none
 * is stored. */
static bool list_matches(const json_t *stored, const json_t *want)
{
    if (!stored)
        return json_is_null(want);
    const char *w = json_string_value(want);
    if (!w)
        return false;
    char h[65];
    rgs_state_list_sha256(stored, h);
    return !strcmp(h, w);
}

static void do_filemeta(json_t *op)
{
    json_t *entries = json_object_get(op, "entries");
    json_t *pre = json_object_get(json_object_get(op, "pre"), "list_sha256");
    if (!json_is_object(entries) || !pre) {
        add_failed(op, false, "filemeta op without entries or pre.list_sha256");
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(entries, k, v) if (!json_is_object(v))
    {
        add_failed(op, false, "filemeta entry is not an object");
        return;
    }
    if (dry_run || !state_full(op))
        return;
    json_t *stored = rgs_state_folder_meta(G.st, G.folder, false);
    if (stored && json_equal(stored, entries))
        return; /* already stored (a batch applied again) */
    if (!list_matches(stored, pre)) {
        add_failed(op, true, "stale: the folder's stored file list changed since it was planned");
        return;
    }
    json_object_set(rgs_state_shared_folders(G.st), G.folder, entries);
    rgs_state_changed(G.st);
    G.dirty = true;
}

static void apply_one(json_t *op, const staged_t *staged)
{
    const char *kind = rgs_rec_str(op, "op");
    if (dry_run && strcmp(kind, "filemeta")) {
        json_t *c = json_deep_copy(op);
        json_t *content = json_object_get(c, "content");
        if (json_is_string(content)) {
            json_object_set_new(c, "bytes", json_integer((json_int_t)json_string_length(content)));
            json_object_del(c, "content");
        }
        json_object_set_new(c, "dry_run", json_true());
        json_array_append_new(G.out, c);
    }
    if (G.error) {
        add_failed(op, true, "%s", G.error);
    } else if (!strcmp(kind, "filemeta")) {
        do_filemeta(op);
    } else {
        const char *path = rgs_rec_str(op, "path");
        const char *vpath = rgs_rec_str(op, "vpath");
        char why[128];
        if (!path || rgs_path_check(path, strlen(path), 0, NULL, NULL, why, sizeof why) < 0) {
            add_refused(op, path ? why : "op without path");
        } else if (!strcmp(kind, "write")) {
            do_write(op, path, vpath, staged);
        } else if (!strcmp(kind, "move")) {
            do_move(op, path, vpath);
        } else if (!strcmp(kind, "delete")) {
            do_delete(op, path, vpath);
        } else if (!strcmp(kind, "mkdir")) {
            do_mkdir(op, path);
        } else if (!strcmp(kind, "rmdir")) {
            do_rmdir(op, path);
        } else {
            add_failed(op, false, "unknown op '%s'", kind);
        }
    }
}

/* Apply the buffered ops of the group.  The bytes of every write are
 * staged first and made durable with one syncfs(2) (instead of one fsync
 * per file); then the ops run in order, each checking its preconditions
 * and renaming its staged file into place. */
static void run_ops(void)
{
    size_t n = json_array_size(G.ops);
    if (!n)
        return;
    staged_t *staged = rgs_xcalloc(n, sizeof *staged);
    if (!dry_run && !G.error) {
        size_t count = 0;
        for (size_t i = 0; i < n; i++) {
            json_t *op = json_array_get(G.ops, i);
            if (strcmp(rgs_rec_str(op, "op"), "write"))
                continue;
            rgs_buf b = RGS_BUF_INIT;
            char why[200];
            bool temporary;
            if (op_bytes(op, &b, staged[i].sha, why, sizeof why, &temporary) == 0 &&
                rgs_path_stage(G.staging, b.data, b.len, 0644, staged[i].name) == 0) {
                rgs_git_blob_hex(b.data, b.len, staged[i].blob);
                count++;
            } else {
                staged[i].name[0] = '\0';
            }
            rgs_buf_free(&b);
        }
        if (count && syncfs(G.staging) < 0) {
            rgs_warn("syncfs: %s; falling back to one fsync per file", strerror(errno));
            for (size_t i = 0; i < n; i++)
                if (staged[i].name[0]) {
                    unlinkat(G.staging, staged[i].name, 0);
                    staged[i].name[0] = '\0';
                }
        }
    }
    for (size_t i = 0; i < n; i++)
        apply_one(json_array_get(G.ops, i), &staged[i]);
    for (size_t i = 0; i < n; i++)
        if (staged[i].name[0])
            unlinkat(G.staging, staged[i].name, 0); /* not installed (failed op) */
    free(staged);
    json_array_clear(G.ops);
}

static void handle_op(json_t *op)
{
    const char *relay = rgs_rec_uuid(op, "relay"), *folder = rgs_rec_uuid(op, "folder");
    const char *kind = rgs_rec_str(op, "op");
    if (!relay || !folder || !kind) {
        json_t *f = rgs_failed_new(op, false, "op without valid relay, folder or op");
        emit(f);
        json_decref(f);
        exit_status = RGS_EX_SOME_FAILED;
        return;
    }
    if (!G.active || strcmp(G.relay, relay) || strcmp(G.folder, folder)) {
        group_end();
        group_start(relay, folder);
    }
    json_array_append(G.ops, op);
    if (json_array_size(G.ops) >= FLUSH_EVERY) {
        run_ops();
        group_flush(false);
    }
}

/* Fold the pending state changes of one relay into its three files when
 * they wait too long or are too many, or on the final tick; rebuild an
 * index that no longer matches the files.  Takes the state lock.  Returns
 * 0, or -1 (message printed; the pending changes stay valid). */
static int maintain_relay(const char *relay, bool final)
{
    rgs_state *s = NULL;
    if (rgs_state_open(data_dir, relay, RGS_STATE_WRITER, &s) < 0)
        return -1;
    size_t n;
    double since;
    bool index_ok;
    int rc = 0;
    if (rgs_state_status(s, &n, &since, &index_ok) < 0) {
        rgs_warn("state of relay '%s': %s", relay, strerror(errno));
        rgs_state_free(s);
        return -1;
    }
    double age = since > 0 ? rgs_now() - since : 0;
    if (index_ok && !(n > 0 && (final || (long)n >= state_max_pending || age >= state_max_age))) {
        rgs_state_free(s);
        return 0;
    }
    char *sl = rgs_xasprintf("%s/locks/%s/state.lock", data_dir, relay);
    int lock = rgs_lock_path(sl, lock_wait);
    free(sl);
    if (lock < 0) {
        rgs_warn("state of relay '%s': state lock: %s; not compacted now", relay,
                 errno == EWOULDBLOCK ? "busy" : strerror(errno));
        rgs_state_free(s);
        return -1;
    }
    if (rgs_state_full(s) < 0 || rgs_state_save(s) < 0)
        rc = -1;
    else if (n)
        rgs_info("state of relay '%s': %zu pending change(s) of up to %.0f s folded into the state files",
                 relay, n, age);
    else
        rgs_debug("state of relay '%s': index rebuilt", relay);
    close(lock);
    rgs_state_free(s);
    return rc;
}

/* maintain_relay for every relay under DATA_DIR/state. */
static int maintain(bool final)
{
    char *sd = rgs_xasprintf("%s/state", data_dir);
    DIR *d = opendir(sd);
    if (!d) {
        int e = errno;
        if (e != ENOENT)
            rgs_warn("state directory '%s': %s", sd, strerror(e));
        free(sd);
        return e == ENOENT ? 0 : -1;
    }
    free(sd);
    json_t *relays = json_array();
    struct dirent *de;
    char norm[37];
    while ((de = readdir(d)))
        if (strlen(de->d_name) == 36 && rgs_uuid_norm(de->d_name, 36, norm) &&
            !strcmp(norm, de->d_name))
            json_array_append_new(relays, json_string(norm));
    closedir(d);
    int rc = 0;
    size_t i;
    json_t *v;
    json_array_foreach(relays, i, v) if (maintain_relay(json_string_value(v), final) < 0) rc = -1;
    json_decref(relays);
    return rc;
}

static void usage(FILE *f)
{
    fputs("Usage: rgs-apply [-d DATA_DIR] [-n] [--lock-wait SECONDS] [-v|-q]\n"
          "       rgs-apply [-d DATA_DIR] --compact\n"
          "\n"
          "Apply op records (stdin) to the work trees DATA_DIR/repos/<relay>/<folder>\n"
          "and the state files DATA_DIR/state/<relay>/, checking each op's\n"
          "preconditions; write applied / failed / refused records on stdout.  Other\n"
          "records pass through in order.  Changes of notes' contents wait in\n"
          "DATA_DIR/state/<relay>/pending/ until they are folded into the state files\n"
          "(on the next structural change, on a tick when due, on the final tick).\n"
          "\n"
          "  -d, --data-dir DIR        data directory [RELAY_GIT_DATA_DIR] (.)\n"
          "  -n, --dry-run             print the ops that would be applied; change nothing\n"
          "      --lock-wait SECONDS   wait this long for a repository lock (30)\n"
          "      --state-max-age S     fold pending state changes older than S seconds\n"
          "                            into the state files at a tick (600)\n"
          "      --state-max-pending N ... or when N documents are pending (256)\n"
          "      --compact             fold every pending state change in now, rebuild\n"
          "                            stale indexes, and exit (reads no records)\n"
          "      --git-config-file F   accepted for symmetry (not needed)\n"
          "  -v, --verbose / -q, --quiet\n"
          "  -h, --help\n"
          "\n"
          "Exit status: 0 ok, 1 some records failed or were refused, 100 bad usage or\n"
          "input, 111 temporary error (output closed), 101 internal error.  See\n"
          "rgs-apply(1).\n",
          f);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    const char *dopt = NULL;
    bool compact = false;
    static const struct option lo[] = {{"data-dir", required_argument, 0, 'd'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"lock-wait", required_argument, 0, 'L'},
                                       {"state-max-age", required_argument, 0, 'A'},
                                       {"state-max-pending", required_argument, 0, 'P'},
                                       {"compact", no_argument, 0, 'C'},
                                       {"git-config-file", required_argument, 0, 'c'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {"version", no_argument, 0, 'V'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:nvqh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': dopt = optarg; break;
        case 'n': dry_run = true; break;
        case 'L':
            if (!rgs_parse_seconds(optarg, &lock_wait)) {
                rgs_error("bad --lock-wait '%s': want seconds", optarg);
                return RGS_EX_PERM;
            }
            break;
        case 'A':
            if (!rgs_parse_seconds(optarg, &state_max_age)) {
                rgs_error("bad --state-max-age '%s': want seconds", optarg);
                return RGS_EX_PERM;
            }
            break;
        case 'P': {
            char *end;
            errno = 0;
            state_max_pending = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || state_max_pending < 1) {
                rgs_error("bad --state-max-pending '%s': want a positive integer", optarg);
                return RGS_EX_PERM;
            }
            break;
        }
        case 'C': compact = true; break;
        case 'c': break;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("rgs-apply " RGS_VERSION); return 0;
        default: usage(stderr); return RGS_EX_PERM;
        }
    }
    if (optind < argc) {
        rgs_error("unexpected argument '%s' (see --help)", argv[optind]);
        return RGS_EX_PERM;
    }
    data_dir = rgs_data_dir(dopt);
    G.repo_lock = G.state_lock = G.root = G.staging = -1;
    if (compact) {
        if (dry_run)
            return RGS_EX_OK;
        return maintain(true) < 0 ? RGS_EX_TEMP : RGS_EX_OK;
    }
    rgs_reader *r = rgs_reader_new(stdin, "stdin", 0);
    json_t *rec;
    const char *type;
    int rc;
    while ((rc = rgs_reader_next(r, &rec, &type)) != 0 && !out_broken) {
        if (rc < 0) {
            if (rgs_reader_bad_v(r)) {
                group_end();
                rgs_reader_free(r);
                return RGS_EX_PERM;
            }
            exit_status = RGS_EX_SOME_FAILED;
            continue;
        }
        if (!strcmp(type, "op")) {
            handle_op(rec);
        } else {
            group_end();
            /* the end of a batch: pending state changes that are due */
            if (!strcmp(type, "tick") && !dry_run)
                maintain(rgs_rec_bool(rec, "final", false));
            emit(rec);
        }
        json_decref(rec);
    }
    group_end();
    rgs_reader_free(r);
    return out_broken ? RGS_EX_TEMP : exit_status;
}
