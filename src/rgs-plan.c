/* rgs-plan: folder and document snapshots + the state of the last batch
 * (read-only) -> op / held / refused records.  See rgs-plan(1) and
 * rgs-records(5); rules from relay.md §3.1, §5.7, §5.11 and §8. */
#include "rgs_config.h"
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { K_NONE, K_FOLDER, K_MD, K_CANVAS, K_FILE };
static const char *kind_name(enum kind k)
{
    switch (k) {
    case K_FOLDER: return "folder";
    case K_MD: return "markdown";
    case K_CANVAS: return "canvas";
    case K_FILE: return "file";
    default: return NULL;
    }
}
static enum kind kind_of_state_type(const char *t)
{
    if (t && !strcmp(t, "canvas"))
        return K_CANVAS;
    if (t && !strcmp(t, "file"))
        return K_FILE;
    return K_MD;
}

static const char *data_dir;
static rgs_config *cfg;
static bool allow_mass_delete;
static int exit_status = RGS_EX_OK;
static json_t *event_users; /* ref -> users array */
static json_t *states;      /* relay -> (pointer as integer) */

/* ---------- input grouping ---------- */

typedef struct {
    char relay[37], folder[37];
    json_t *fsnap;      /* chosen folder snapshot, or NULL */
    char *fref;         /* ref for the folder's ops */
    json_t *docs;       /* doc id -> doc snapshot record */
    json_t *docrefs;    /* doc id -> ref (string) */
} group;

static group *groups;
static size_t n_groups, cap_groups;
static json_t *group_index; /* "relay/folder" -> index */

static group *group_get(const char *relay, const char *folder)
{
    char key[80];
    snprintf(key, sizeof key, "%s/%s", relay, folder);
    json_t *i = json_object_get(group_index, key);
    if (i)
        return &groups[json_integer_value(i)];
    if (n_groups == cap_groups) {
        cap_groups = cap_groups ? cap_groups * 2 : 8;
        groups = rgs_xrealloc(groups, cap_groups * sizeof *groups);
    }
    group *g = &groups[n_groups];
    memset(g, 0, sizeof *g);
    memcpy(g->relay, relay, 37);
    memcpy(g->folder, folder, 37);
    g->docs = json_object();
    g->docrefs = json_object();
    json_object_set_new(group_index, key, json_integer((json_int_t)n_groups));
    n_groups++;
    return g;
}

static bool is_event_ref(const char *ref) { return ref && !strncmp(ref, "ev:", 3); }

/* A ref that names an event wins over a reconcile's: a failure must send
 * the spooled webhooks back. */
static const char *better_ref(const char *old, const char *new)
{
    if (!old)
        return new;
    if (!new)
        return old;
    if (is_event_ref(old) && !is_event_ref(new))
        return old;
    return new;
}

static void add_folder(json_t *rec, const char *relay, const char *folder)
{
    group *g = group_get(relay, folder);
    const char *ref = rgs_rec_str(rec, "ref");
    bool full = rgs_rec_bool(rec, "full", false);
    if (!g->fsnap || full || !rgs_rec_bool(g->fsnap, "full", false))
        g->fsnap = rec;
    const char *r = better_ref(g->fref, ref);
    if (r != g->fref) {
        char *c = r ? rgs_xstrdup(r) : NULL;
        free(g->fref);
        g->fref = c;
    }
}

static void add_doc(json_t *rec, const char *relay, const char *folder, const char *doc)
{
    group *g = group_get(relay, folder);
    json_object_set(g->docs, doc, rec);
    const char *old = json_string_value(json_object_get(g->docrefs, doc));
    const char *r = better_ref(old, rgs_rec_str(rec, "ref"));
    if (r && r != old)
        json_object_set_new(g->docrefs, doc, json_string(r));
}

/* ---------- per-group planning ---------- */

typedef struct {
    group *g;
    rgs_state *st;
    const rgs_connector *conn;
    const char *prefix;
    int root;        /* repository root, -1 when it does not exist yet */
    json_t *sim;     /* repo path -> {"t": f|d|x|l|p|o|e, "sha": hex} */
    json_t *track;   /* vpath -> local_state entry (as after the ops so far) */
    json_t *pre_out; /* refused / held records */
    json_t *ops;     /* op records */
} plan;

static json_t *users_for(const char *ref)
{
    json_t *u = ref ? json_object_get(event_users, ref) : NULL;
    return u ? json_copy(u) : json_array();
}

static json_t *base_record(plan *p, const char *type, const char *ref)
{
    json_t *r = rgs_record_new(type);
    if (ref)
        json_object_set_new(r, "ref", json_string(ref));
    json_object_set_new(r, "relay", json_string(p->g->relay));
    json_object_set_new(r, "folder", json_string(p->g->folder));
    return r;
}

static void refused(plan *p, const char *ref, const char *vpath, size_t vlen, const char *doc,
                    const char *why)
{
    json_t *r = base_record(p, "refused", ref);
    if (vpath)
        json_object_set_new(r, "vpath", json_stringn(vpath, vlen));
    if (doc)
        json_object_set_new(r, "doc", json_string(doc));
    json_object_set_new(r, "reason", json_string(why));
    json_array_append_new(p->pre_out, r);
    /* the path came from Relay: no control characters into the log */
    char shown[400];
    size_t k = 0;
    for (size_t i = 0; vpath && i < vlen && k + 5 < sizeof shown; i++) {
        unsigned char c = (unsigned char)vpath[i];
        if (c < 0x20 || c == 0x7f || c == '\\')
            k += (size_t)snprintf(shown + k, sizeof shown - k, "\\x%02x", c);
        else
            shown[k++] = (char)c;
    }
    shown[k] = '\0';
    rgs_info("refused '%s' in folder '%s': %s", vpath ? shown : "-", p->g->folder, why);
}

static void held(plan *p, const char *ref, const char *reason, long count, long total,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void held(plan *p, const char *ref, const char *reason, long count, long total,
                 const char *fmt, ...)
{
    json_t *r = base_record(p, "held", ref);
    json_object_set_new(r, "reason", json_string(reason));
    va_list ap;
    va_start(ap, fmt);
    char *d = NULL;
    if (vasprintf(&d, fmt, ap) < 0)
        d = NULL;
    va_end(ap);
    json_object_set_new(r, "detail", json_string(d ? d : reason));
    json_object_set_new(r, "count", json_integer(count));
    json_object_set_new(r, "total", json_integer(total));
    rgs_warn("held '%s/%s': %s: %s", p->g->relay, p->g->folder, reason, d ? d : "");
    free(d);
    json_array_append_new(p->pre_out, r);
}

static void failed(plan *p, const char *ref, const char *path, const char *doc, bool temporary,
                   const char *why)
{
    json_t *in = base_record(p, "x", ref);
    if (path)
        json_object_set_new(in, "path", json_string(path));
    if (doc)
        json_object_set_new(in, "doc", json_string(doc));
    json_t *f = rgs_failed_new(in, temporary, "%s", why);
    json_decref(in);
    json_array_append_new(p->pre_out, f);
    rgs_warn("plan '%s': %s", path ? path : p->g->folder, why);
    if (exit_status == RGS_EX_OK)
        exit_status = RGS_EX_SOME_FAILED;
}

/* What is on disk at `path` (repository-relative), looked up once and then
 * kept up to date as ops are planned. */
static json_t *sim_get(plan *p, const char *path)
{
    json_t *e = json_object_get(p->sim, path);
    if (e)
        return e;
    const char *t = "x";
    if (p->root >= 0) {
        struct stat st;
        if (rgs_path_lstat(p->root, path, &st) == 0) {
            t = S_ISREG(st.st_mode) ? "f" : S_ISDIR(st.st_mode) ? "d" : S_ISLNK(st.st_mode) ? "l" : "o";
        } else {
            t = errno == ENOENT ? "x" : errno == ELOOP ? "l" : errno == ENOTDIR ? "p" : "e";
        }
    }
    e = json_pack("{ss}", "t", t);
    json_object_set_new(p->sim, path, e);
    return e;
}

static char sim_type(plan *p, const char *path)
{
    return json_string_value(json_object_get(sim_get(p, path), "t"))[0];
}

/* sha256 of the file at path (computed once), NULL if absent/unknown. */
static const char *sim_sha(plan *p, const char *path)
{
    json_t *e = sim_get(p, path);
    if (sim_type(p, path) != 'f')
        return NULL;
    const char *s = json_string_value(json_object_get(e, "sha"));
    if (s)
        return s;
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_path_read(p->root, path, &b, 0) < 0) {
        rgs_warn("read '%s': %s", path, strerror(errno));
        rgs_buf_free(&b);
        json_object_set_new(e, "t", json_string("e"));
        return NULL;
    }
    char hex[65];
    rgs_sha256_hex(b.data, b.len, hex);
    rgs_buf_free(&b);
    json_object_set_new(e, "sha", json_string(hex));
    return json_string_value(json_object_get(e, "sha"));
}

static void sim_set(plan *p, const char *path, const char *t, const char *sha)
{
    json_t *e = json_pack("{ss}", "t", t);
    if (sha)
        json_object_set_new(e, "sha", json_string(sha));
    json_object_set_new(p->sim, path, e);
}

/* "in the way" reasons for a path that must become a file (or a dir). */
static const char *obstacle(char t, bool want_dir)
{
    switch (t) {
    case 'd': return want_dir ? NULL : "a directory is in the way";
    case 'f': return want_dir ? "a file is in the way" : NULL;
    case 'l': return "a symlink is in the way";
    case 'p': return "a file is in the way of a parent directory";
    case 'o': return "a special file is in the way";
    default: return NULL;
    }
}

static char *repo_path(plan *p, const char *rel, size_t n)
{
    if (!*p->prefix)
        return rgs_xstrndup(rel, n);
    return rgs_xasprintf("%s/%.*s", p->prefix, (int)n, rel);
}

/* Check a vpath; on success *path_out is the repository path (caller
 * frees).  On failure returns the reason (static or in why). */
static const char *check_vpath(plan *p, const char *vpath, size_t vlen, char **path_out,
                               char *why, size_t why_len)
{
    const char *rel;
    size_t rl;
    if (rgs_path_check(vpath, vlen, RGS_PATH_VPATH, &rel, &rl, why, why_len) < 0)
        return why;
    char *path = repo_path(p, rel, rl);
    if (rgs_path_check(path, strlen(path), 0, NULL, NULL, why, why_len) < 0) {
        free(path);
        return why;
    }
    *path_out = path;
    return NULL;
}

static json_t *op_new(plan *p, const char *op, const char *ref, const char *path,
                      const char *vpath, const char *doc, enum kind k)
{
    json_t *o = base_record(p, "op", ref);
    json_object_set_new(o, "op", json_string(op));
    json_object_set_new(o, "path", json_string(path));
    if (vpath)
        json_object_set_new(o, "vpath", json_string(vpath));
    if (doc)
        json_object_set_new(o, "doc", json_string(doc));
    if (kind_name(k))
        json_object_set_new(o, "kind", json_string(kind_name(k)));
    return o;
}

static json_t *pre_obj(const char *sha)
{
    return json_pack("{so}", "sha256", sha ? json_string(sha) : json_null());
}

/* pre.list_sha256 of a filemeta op: the SHA-256 of the stored file list
 * the plan compared against (shared_folders.json[folder], serialized by
 * jansson compact with sorted keys: rgs_state_list_sha256), or null when
 * none was stored.  rgs-apply computes the same over its state with the
 * same function (rgs-records(5) "pre"). */
static json_t *list_pre(const json_t *stored)
{
    if (!stored)
        return json_pack("{sn}", "list_sha256");
    char h[65];
    rgs_state_list_sha256(stored, h);
    return json_pack("{ss}", "list_sha256", h);
}

static bool is_hex64(const char *s)
{
    if (!s || strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

typedef struct {
    const char *vpath; /* key in the snapshot (owned by it) */
    size_t vlen;
    char *path;        /* repository path */
    const char *id;    /* lower-case UUID (owned by this struct's idbuf) */
    char idbuf[37];
    enum kind kind;
    json_t *meta;
    char hash[65];     /* K_FILE: lower-case sha256 */
    bool ok;           /* accepted (not refused, not skipped) */
    bool skipped;      /* not acted upon, not refused (attachment without hash) */
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->vlen < y->vlen ? x->vlen : y->vlen;
    int c = memcmp(x->vpath, y->vpath, n);
    return c ? c : (x->vlen > y->vlen) - (x->vlen < y->vlen);
}

static enum kind classify(json_t *meta, char hash[65], bool *skip)
{
    const char *type = json_string_value(json_object_get(meta, "type"));
    const char *h = json_string_value(json_object_get(meta, "hash"));
    *skip = false;
    if (!type)
        type = "file";
    if (!strcmp(type, "folder"))
        return K_FOLDER;
    if (!strcmp(type, "markdown") || !strcmp(type, "document"))
        return K_MD;
    if (!strcmp(type, "canvas"))
        return K_CANVAS;
    if (h) {
        if (!is_hex64(h))
            return K_NONE;
        for (int i = 0; i < 64; i++)
            hash[i] = (char)((h[i] >= 'A' && h[i] <= 'F') ? h[i] + 32 : h[i]);
        hash[64] = '\0';
        return K_FILE;
    }
    /* relay.md §3.1: hashless "file" entries are text documents */
    if (!strcmp(type, "file"))
        return K_MD;
    *skip = true; /* an attachment whose upload has not finished */
    return K_FILE;
}

/* The write decision and op for a note or canvas with a doc snapshot. */
static void plan_doc_write(plan *p, const char *ref, json_t *d, const char *vpath,
                           const char *path, const char *doc, enum kind k, json_t *meta,
                           bool check_disk)
{
    json_t *tr = json_object_get(p->track, vpath);
    const char *trdoc = json_string_value(json_object_get(tr, "doc_id"));
    bool tracked = trdoc && !strcasecmp(trdoc, doc);
    if (rgs_rec_bool(d, "never_written", false)) {
        if (sim_type(p, path) == 'f') {
            held(p, ref, "never-written", 1, 1,
                 "document %s at '%s' has never been written (00 00); the file is kept", doc,
                 vpath);
            json_t *h = json_array_get(p->pre_out, json_array_size(p->pre_out) - 1);
            json_object_set_new(h, "doc", json_string(doc));
            json_object_set_new(h, "vpath", json_string(vpath));
            json_object_set_new(h, "path", json_string(path));
        }
        return;
    }
    json_t *content = json_object_get(d, "content");
    if (!json_is_string(content)) {
        failed(p, ref, path, doc, false, "doc snapshot without content");
        return;
    }
    char sha[65];
    rgs_sha256_hex(json_string_value(content), json_string_length(content), sha);
    rgs_state_doc sd;
    if (rgs_state_doc_get(p->st, doc, &sd) < 0) {
        failed(p, ref, path, doc, true, "cannot read the state");
        return;
    }
    const char *known = sd.hash;
    const char *trhash = json_string_value(json_object_get(tr, "hash"));
    bool need = !tracked || !known || strcmp(known, sha) != 0 || (trhash && strcmp(trhash, sha));
    if (!need && check_disk)
        need = sim_type(p, path) != 'f';
    if (!need)
        return;
    char t = sim_type(p, path);
    const char *why = obstacle(t, false);
    if (why) {
        refused(p, ref, vpath, strlen(vpath), doc, why);
        return;
    }
    if (t == 'e') {
        failed(p, ref, path, doc, true, "cannot inspect the file on disk");
        return;
    }
    const char *pre = sim_sha(p, path);
    if (sim_type(p, path) == 'e') {
        failed(p, ref, path, doc, true, "cannot read the file on disk");
        return;
    }
    if (pre && !strcmp(pre, sha) && tracked && known && !strcmp(known, sha))
        return;
    json_t *o = op_new(p, "write", ref, path, vpath, doc, k);
    if (meta)
        json_object_set(o, "meta", meta);
    json_object_set(o, "content", content);
    json_object_set_new(o, "sha256", json_string(sha));
    json_object_set_new(o, "pre", pre_obj(pre));
    json_object_set_new(o, "users", users_for(ref));
    json_array_append_new(p->ops, o);
    sim_set(p, path, "f", sha);
    json_object_set_new(p->track, vpath,
                        json_pack("{ss}", "doc_id", doc)); /* planning view only */
}

/* Documents of a group that has no folder snapshot: the path comes from
 * the stored filemeta (shared_folders.json).  Only these documents are
 * looked up (rgs_state_doc_get): the state is not loaded completely, so
 * the cost does not grow with the folder. */
static void plan_docs_only(plan *p)
{
    const char *doc;
    json_t *d;
    json_object_foreach(p->g->docs, doc, d)
    {
        const char *ref = json_string_value(json_object_get(p->g->docrefs, doc));
        rgs_state_doc sd;
        int found = rgs_state_doc_get(p->st, doc, &sd);
        if (found < 0) {
            failed(p, ref, NULL, doc, true, "cannot read the state");
            continue;
        }
        const char *vpath = sd.vpath;
        json_t *meta = sd.meta;
        if (!found || !sd.folder || strcmp(sd.folder, p->g->folder) != 0) {
            rgs_debug("doc '%s': not in the stored file list of folder '%s'; ignored", doc,
                      p->g->folder);
            continue;
        }
        /* what local_state says about that path (the planning view) */
        if (sd.local)
            json_object_set(p->track, vpath, sd.local);
        char hash[65];
        bool skip;
        enum kind k = classify(meta, hash, &skip);
        if (k != K_MD && k != K_CANVAS)
            continue;
        char why[128];
        char *path = NULL;
        if (check_vpath(p, vpath, strlen(vpath), &path, why, sizeof why)) {
            refused(p, ref, vpath, strlen(vpath), doc, why);
            continue;
        }
        plan_doc_write(p, ref, d, vpath, path, doc, k, meta, true);
        free(path);
    }
}

typedef struct {
    char *from, *from_vpath; /* old location (tracked) */
    entry *e;                /* new location */
    bool done;
} move;

/* owns_prefix: regular files under the prefix that are neither in the
 * snapshot nor tracked.  Names starting with ".git" (any case) are never
 * touched, .git directories never entered. */
static void walk_owned(plan *p, int dfd, const char *rel, json_t *keys, json_t *out, int depth)
{
    if (depth > 64)
        return;
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        close(dfd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(dir))) {
        const char *n = de->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strncasecmp(n, ".git", 4) ||
            rgs_path_is_dotgit(n, strlen(n)))
            continue;
        char *child = *rel ? rgs_xasprintf("%s/%s", rel, n) : rgs_xstrdup(n);
        struct stat st;
        if (fstatat(dirfd(dir), n, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            if (S_ISDIR(st.st_mode)) {
                int c = openat(dirfd(dir), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (c >= 0)
                    walk_owned(p, c, child, keys, out, depth + 1);
            } else if (S_ISREG(st.st_mode)) {
                char *vpath = rgs_xasprintf("/%s", child);
                if (!json_object_get(keys, vpath) && !json_object_get(p->track, vpath) &&
                    rgs_path_check(vpath, strlen(vpath), RGS_PATH_VPATH, NULL, NULL, NULL, 0) == 0)
                    json_array_append_new(out, json_string(vpath));
                free(vpath);
            }
        }
        free(child);
    }
    closedir(dir);
}

static int cmp_json_str_desc(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)b), json_string_value(*(json_t *const *)a));
}

static void plan_folder(plan *p)
{
    group *g = p->g;
    json_t *snap = g->fsnap;
    const char *ref = g->fref;
    bool full = rgs_rec_bool(snap, "full", false);
    bool never = rgs_rec_bool(snap, "never_written", false);
    json_t *raw = json_object_get(snap, "entries");
    if (!never && !json_is_object(raw)) {
        failed(p, ref, NULL, NULL, false, "folder snapshot without an entries object");
        return;
    }
    json_t *local = rgs_state_folder_local(p->st, g->folder, false);
    json_t *stored = rgs_state_folder_meta(p->st, g->folder, false);
    p->track = local ? json_copy(local) : json_object();

    /* files in the owned prefix that the sync did not write */
    json_t *owned_extra = json_array();
    if (p->conn && p->conn->owns_prefix && full && p->root >= 0) {
        int d = *p->prefix ? rgs_path_open_dir(p->root, p->prefix, false, NULL) : dup(p->root);
        if (d >= 0) {
            json_t *keys = never ? json_object() : json_incref(raw);
            /* walk relative to the prefix; vpaths are relative to it */
            walk_owned(p, d, "", keys, owned_extra, 0);
            json_decref(keys);
        }
    }

    /* Guard: an empty or never-written snapshot against a non-empty tree. */
    size_t n_raw = never ? 0 : json_object_size(raw);
    if (n_raw == 0) {
        long tracked = (long)json_object_size(p->track) + (long)json_array_size(owned_extra);
        if (tracked > 0) {
            held(p, ref, "empty-folder", tracked, tracked,
                 "the %s folder snapshot would delete all %ld files; nothing applied",
                 never ? "never-written" : "empty", tracked);
            json_decref(owned_extra);
            return;
        }
        if (never) {
            json_decref(owned_extra);
            return;
        }
    }

    /* Validate the entries. */
    entry *es = rgs_xcalloc(n_raw ? n_raw : 1, sizeof *es);
    size_t ne = 0;
    const char *key;
    json_t *meta;
    void *it;
    for (it = json_object_iter(raw); it; it = json_object_iter_next(raw, it)) {
        key = json_object_iter_key(it);
        meta = json_object_iter_value(it);
        entry *e = &es[ne++];
        e->vpath = key;
        e->vlen = json_object_iter_key_len(it);
        e->meta = meta;
        const char *id = json_string_value(json_object_get(meta, "id"));
        char why[128];
        if (!json_is_object(meta)) {
            refused(p, ref, key, e->vlen, NULL, "entry is not an object");
            continue;
        }
        if (!id || !rgs_uuid_norm(id, strlen(id), e->idbuf)) {
            refused(p, ref, key, e->vlen, NULL, "id is not a UUID");
            continue;
        }
        e->id = e->idbuf;
        if (check_vpath(p, key, e->vlen, &e->path, why, sizeof why)) {
            refused(p, ref, key, e->vlen, e->id, why);
            continue;
        }
        bool skip;
        e->kind = classify(meta, e->hash, &skip);
        if (e->kind == K_NONE) {
            refused(p, ref, key, e->vlen, e->id, "hash is not 64 hex digits");
            continue;
        }
        e->skipped = skip;
        e->ok = !skip;
        if (skip)
            rgs_debug("entry '%s': attachment without a hash yet; skipped", key);
    }
    qsort(es, ne, sizeof *es, cmp_entry);
    for (size_t i = 0; i < ne; i++)
        if (es[i].id)
            es[i].id = es[i].idbuf; /* the struct moved */
    /* by vpath (accepted and skipped entries) */
    json_t *byv = json_object();
    for (size_t i = 0; i < ne; i++)
        if (es[i].ok || es[i].skipped)
            json_object_set_new(byv, es[i].vpath, json_integer((json_int_t)i));
    /* a file where a directory must go: an entry below a non-folder entry */
    for (size_t i = 0; i < ne; i++) {
        entry *e = &es[i];
        if (!e->ok && !e->skipped)
            continue;
        for (size_t j = e->vlen; j-- > 1;) {
            if (e->vpath[j] != '/')
                continue;
            char *anc = rgs_xstrndup(e->vpath, j);
            json_t *ai = json_object_get(byv, anc);
            if (ai && es[json_integer_value(ai)].kind != K_FOLDER &&
                (es[json_integer_value(ai)].ok || es[json_integer_value(ai)].skipped)) {
                char why[300];
                snprintf(why, sizeof why, "a file where a directory must go ('%.250s')", anc);
                refused(p, ref, e->vpath, e->vlen, e->id, why);
                e->ok = e->skipped = false;
                json_object_del(byv, e->vpath);
                free(anc);
                break;
            }
            free(anc);
        }
    }
    json_t *byid = json_object(); /* doc id -> entry index, first wins */
    for (size_t i = 0; i < ne; i++)
        if ((es[i].ok || es[i].skipped) && es[i].kind != K_FOLDER &&
            !json_object_get(byid, es[i].id))
            json_object_set_new(byid, es[i].id, json_integer((json_int_t)i));

    /* A. directories of folder entries */
    for (size_t i = 0; i < ne; i++) {
        entry *e = &es[i];
        if (!e->ok || e->kind != K_FOLDER)
            continue;
        json_t *old = stored ? json_object_get(stored, e->vpath) : NULL;
        bool known = old && !strcmp(json_string_value(json_object_get(old, "type")) ?: "", "folder");
        if (known && !full)
            continue;
        char t = sim_type(p, e->path);
        if (t == 'd')
            continue;
        const char *why = obstacle(t, true);
        if (why) {
            refused(p, ref, e->vpath, e->vlen, e->id, why);
            continue;
        }
        json_t *o = op_new(p, "mkdir", ref, e->path, e->vpath, e->id, K_FOLDER);
        json_object_set(o, "meta", e->meta);
        json_object_set_new(o, "pre", pre_obj(NULL)); /* no file there (t is 'n') */
        json_object_set_new(o, "users", users_for(ref));
        json_array_append_new(p->ops, o);
        sim_set(p, e->path, "d", NULL);
    }

    /* B. moves: same doc id, new path */
    json_t *by_doc = json_object(); /* tracked doc id -> [vpaths] (sorted) */
    {
        json_t *v;
        json_object_foreach(p->track, key, v)
        {
            const char *d = json_string_value(json_object_get(v, "doc_id"));
            char norm[37];
            if (!d || !rgs_uuid_norm(d, strlen(d), norm))
                continue;
            json_t *arr = json_object_get(by_doc, norm);
            if (!arr) {
                arr = json_array();
                json_object_set_new(by_doc, norm, arr);
            }
            json_array_append_new(arr, json_string(key));
        }
        json_object_foreach(by_doc, key, v)
        {
            size_t n = json_array_size(v);
            if (n > 1) {
                json_t **items = rgs_xcalloc(n, sizeof *items);
                for (size_t k = 0; k < n; k++)
                    items[k] = json_incref(json_array_get(v, k));
                qsort(items, n, sizeof *items, cmp_json_str_desc);
                json_array_clear(v);
                for (size_t k = n; k-- > 0;)
                    json_array_append_new(v, items[k]);
                free(items);
            }
        }
    }
    move *mv = rgs_xcalloc(ne ? ne : 1, sizeof *mv);
    size_t nm = 0;
    json_t *used = json_object();
    for (size_t i = 0; i < ne; i++) {
        entry *e = &es[i];
        if (!e->ok || e->kind == K_FOLDER)
            continue;
        json_t *tr = json_object_get(p->track, e->vpath);
        const char *trdoc = json_string_value(json_object_get(tr, "doc_id"));
        if (trdoc && !strcasecmp(trdoc, e->id))
            continue; /* in place */
        json_t *cands = json_object_get(by_doc, e->id);
        for (size_t k = 0; k < json_array_size(cands); k++) {
            const char *q = json_string_value(json_array_get(cands, k));
            if (json_object_get(used, q))
                continue;
            json_t *qi = json_object_get(byv, q);
            if (qi && !strcmp(es[json_integer_value(qi)].id, e->id))
                continue; /* that one stays where it is */
            char why[128];
            char *from = NULL;
            if (check_vpath(p, q, strlen(q), &from, why, sizeof why))
                continue;
            if (sim_type(p, from) != 'f') { /* stale entry: its file is gone */
                free(from);
                continue;
            }
            json_object_set_new(used, q, json_true());
            mv[nm].from = from;
            mv[nm].from_vpath = rgs_xstrdup(q);
            mv[nm].e = e;
            nm++;
            break;
        }
    }
    json_decref(used);
    for (;;) {
        bool progress = false, left = false;
        for (size_t i = 0; i < nm; i++) {
            move *m = &mv[i];
            if (m->done)
                continue;
            left = true;
            char t = sim_type(p, m->e->path);
            bool blocked = false;
            if (t == 'f')
                for (size_t j = 0; j < nm && !blocked; j++)
                    if (j != i && !mv[j].done && !strcmp(mv[j].from, m->e->path))
                        blocked = true;
            if (blocked)
                continue;
            m->done = true;
            progress = true;
            const char *why = obstacle(t, false);
            if (why) {
                refused(p, ref, m->e->vpath, m->e->vlen, m->e->id, why);
                continue;
            }
            const char *from_sha = sim_sha(p, m->from);
            const char *to_sha = sim_sha(p, m->e->path);
            if (!from_sha || sim_type(p, m->e->path) == 'e') {
                failed(p, ref, m->e->path, m->e->id, true, "cannot read the file on disk");
                continue;
            }
            char *fs = rgs_xstrdup(from_sha);
            json_t *o = op_new(p, "move", ref, m->e->path, m->e->vpath, m->e->id, m->e->kind);
            json_object_set_new(o, "from", json_string(m->from));
            json_object_set_new(o, "from_vpath", json_string(m->from_vpath));
            json_object_set(o, "meta", m->e->meta);
            json_t *pre = pre_obj(to_sha);
            json_object_set_new(pre, "from_sha256", json_string(fs));
            json_object_set_new(o, "pre", pre);
            json_object_set_new(o, "users", users_for(ref));
            json_array_append_new(p->ops, o);
            sim_set(p, m->e->path, "f", fs);
            sim_set(p, m->from, "x", NULL);
            json_t *tr = json_object_get(p->track, m->from_vpath);
            json_t *ntr = json_pack("{ssso}", "doc_id", m->e->id, "hash",
                                    json_incref(json_object_get(tr, "hash") ?: json_null()));
            json_object_set_new(p->track, m->e->vpath, ntr);
            json_object_del(p->track, m->from_vpath);
            free(fs);
        }
        if (!left)
            break;
        if (!progress) /* a cycle: the first one is rewritten in place (C) */
            for (size_t i = 0; i < nm; i++)
                if (!mv[i].done) {
                    mv[i].done = true;
                    break;
                }
    }

    /* C. writes: new files, changed notes/canvases/attachments */
    for (size_t i = 0; i < ne; i++) {
        entry *e = &es[i];
        if (!e->ok || e->kind == K_FOLDER)
            continue;
        json_t *d = json_object_get(g->docs, e->id);
        if ((e->kind == K_MD || e->kind == K_CANVAS) && d) {
            const char *dref = json_string_value(json_object_get(g->docrefs, e->id));
            plan_doc_write(p, better_ref(ref, dref), d, e->vpath, e->path, e->id, e->kind,
                           e->meta, full);
            continue;
        }
        json_t *tr = json_object_get(p->track, e->vpath);
        const char *trdoc = json_string_value(json_object_get(tr, "doc_id"));
        bool tracked = trdoc && !strcasecmp(trdoc, e->id);
        bool need = !tracked;
        if (e->kind == K_FILE && tracked) {
            const char *h = json_string_value(json_object_get(tr, "hash"));
            need = !h || strcasecmp(h, e->hash) != 0;
        }
        if (!need && full)
            need = sim_type(p, e->path) != 'f';
        if (!need)
            continue;
        char t = sim_type(p, e->path);
        const char *why = obstacle(t, false);
        if (why) {
            refused(p, ref, e->vpath, e->vlen, e->id, why);
            continue;
        }
        const char *pre = sim_sha(p, e->path);
        if (sim_type(p, e->path) == 'e') {
            failed(p, ref, e->path, e->id, true, "cannot read the file on disk");
            continue;
        }
        json_t *o = op_new(p, "write", ref, e->path, e->vpath, e->id, e->kind);
        json_object_set(o, "meta", e->meta);
        if (e->kind == K_FILE) {
            char *blob = rgs_xasprintf("%s/cache/blobs/%s", data_dir, e->hash);
            struct stat st;
            if (stat(blob, &st) == 0 && S_ISREG(st.st_mode)) {
                json_object_set_new(o, "blob", json_string(e->hash));
                json_object_set_new(o, "sha256", json_string(e->hash));
            } else {
                json_object_set_new(o, "source", json_pack("{ssssss}", "kind", "blob", "doc",
                                                           e->id, "hash", e->hash));
            }
            free(blob);
        } else {
            json_object_set_new(o, "source", json_pack("{ssss}", "kind", kind_name(e->kind),
                                                       "doc", e->id));
        }
        json_object_set_new(o, "pre", pre_obj(pre));
        json_object_set_new(o, "users", users_for(ref));
        json_array_append_new(p->ops, o);
        sim_set(p, e->path, "f", e->kind == K_FILE ? e->hash : NULL);
        json_object_set_new(p->track, e->vpath, json_pack("{ss}", "doc_id", e->id));
    }

    /* D. deletes: tracked files no longer in the snapshot (never others) */
    json_t *dels = json_array();   /* counted deletes (files on disk) */
    json_t *cleans = json_array(); /* state-only (file already gone) */
    long total = local ? (long)json_object_size(local) : 0;
    {
        size_t nt = json_object_size(p->track), i = 0;
        const char **tk = rgs_xcalloc(nt ? nt : 1, sizeof *tk);
        json_t *v;
        json_object_foreach(p->track, key, v) tk[i++] = key;
        for (i = 0; i < nt; i++) {
            json_t *tr = json_object_get(p->track, tk[i]);
            const char *trdoc = json_string_value(json_object_get(tr, "doc_id"));
            json_t *ni = json_object_get(byv, tk[i]);
            if (ni && trdoc && es[json_integer_value(ni)].kind != K_FOLDER &&
                !strcasecmp(es[json_integer_value(ni)].id, trdoc))
                continue;
            if (ni && es[json_integer_value(ni)].kind != K_FOLDER && es[json_integer_value(ni)].ok)
                continue; /* replaced by another doc at the same path (C wrote it) */
            char why[128];
            char *path = NULL;
            if (check_vpath(p, tk[i], strlen(tk[i]), &path, why, sizeof why)) {
                rgs_debug("stale state entry '%s' (%s); left alone", tk[i], why);
                continue;
            }
            char t = sim_type(p, path);
            json_t *o;
            if (t == 'x') {
                o = op_new(p, "delete", ref, path, tk[i], trdoc,
                           kind_of_state_type(json_string_value(json_object_get(tr, "type"))));
                json_object_set_new(o, "pre", pre_obj(NULL));
                json_array_append_new(cleans, o);
            } else if (t == 'f') {
                const char *sha = sim_sha(p, path);
                if (!sha) {
                    failed(p, ref, path, trdoc, true, "cannot read the file on disk");
                    free(path);
                    continue;
                }
                o = op_new(p, "delete", ref, path, tk[i], trdoc,
                           kind_of_state_type(json_string_value(json_object_get(tr, "type"))));
                json_object_set_new(o, "pre", pre_obj(sha));
                json_array_append_new(dels, o);
            } else {
                rgs_debug("tracked '%s' is no longer a regular file; left alone", path);
            }
            free(path);
        }
        free(tk);
    }
    for (size_t i = 0; i < json_array_size(owned_extra); i++) {
        const char *vp = json_string_value(json_array_get(owned_extra, i));
        char why[128];
        char *path = NULL;
        if (check_vpath(p, vp, strlen(vp), &path, why, sizeof why))
            continue;
        const char *sha = sim_sha(p, path);
        if (sha) {
            json_t *o = op_new(p, "delete", ref, path, vp, NULL, K_NONE);
            json_object_set_new(o, "pre", pre_obj(sha));
            json_object_set_new(o, "owned", json_true());
            json_array_append_new(dels, o);
            total++;
        }
        free(path);
    }
    long count = (long)json_array_size(dels);
    double share = cfg ? cfg->max_delete_share : 0.10;
    long maxc = cfg ? cfg->max_delete_count : 25;
    bool hold = count > 0 && (double)count > share * (double)total && count > maxc &&
                !allow_mass_delete;
    if (hold) {
        held(p, ref, "mass-delete", count, total,
             "would delete %ld of %ld files (limit max(%g%%, %ld)); deletions not applied", count,
             total, share * 100, maxc);
    }
    json_t *rmc = json_object(); /* candidate directories (repo paths) */
    for (int pass = 0; pass < 2; pass++) {
        json_t *arr = pass == 0 ? cleans : dels;
        if (pass == 1 && hold)
            break;
        for (size_t i = 0; i < json_array_size(arr); i++) {
            json_t *o = json_array_get(arr, i);
            json_object_set_new(o, "users", users_for(ref));
            json_array_append(p->ops, o);
            const char *path = rgs_rec_str(o, "path");
            sim_set(p, path, "x", NULL);
            json_object_set_new(rmc, path, json_true());
        }
    }
    for (size_t i = 0; i < nm; i++)
        if (mv[i].done && json_object_get(p->sim, mv[i].from) &&
            sim_type(p, mv[i].from) == 'x')
            json_object_set_new(rmc, mv[i].from, json_true());

    /* E. remove emptied directories: parents of deleted/moved files and
     * folder entries that disappeared, unless the snapshot still has them
     * (as a folder or as a parent of an entry).  Never the prefix itself. */
    json_t *keep = json_object();
    for (size_t i = 0; i < ne; i++) {
        entry *e = &es[i];
        if (!e->path)
            continue;
        if (e->kind == K_FOLDER && (e->ok || e->skipped))
            json_object_set_new(keep, e->path, json_true());
        if (!e->ok && !e->skipped)
            continue;
        for (size_t j = strlen(e->path); j-- > 0;)
            if (e->path[j] == '/') {
                char *anc = rgs_xstrndup(e->path, j);
                json_object_set_new(keep, anc, json_true());
                free(anc);
            }
    }
    json_t *dirs = json_object();
    json_t *v;
    json_object_foreach(rmc, key, v)
    {
        for (size_t j = strlen(key); j-- > 0;) {
            if (key[j] != '/')
                continue;
            char *anc = rgs_xstrndup(key, j);
            size_t pl = strlen(p->prefix);
            if (strlen(anc) > pl && !json_object_get(keep, anc))
                json_object_set_new(dirs, anc, json_true());
            free(anc);
        }
    }
    if (stored)
        json_object_foreach(stored, key, v)
        {
            if (strcmp(json_string_value(json_object_get(v, "type")) ?: "", "folder"))
                continue;
            if (json_object_get(byv, key))
                continue;
            char why[128];
            char *path = NULL;
            if (check_vpath(p, key, strlen(key), &path, why, sizeof why))
                continue;
            if (!json_object_get(keep, path))
                json_object_set_new(dirs, path, json_true());
            free(path);
        }
    if (json_object_size(dirs)) {
        size_t n = json_object_size(dirs), i = 0;
        json_t **items = rgs_xcalloc(n, sizeof *items);
        json_object_foreach(dirs, key, v) items[i++] = json_string(key);
        qsort(items, n, sizeof *items, cmp_json_str_desc); /* children first */
        for (i = 0; i < n; i++) {
            const char *path = json_string_value(items[i]);
            const char *vp = path + (*p->prefix ? strlen(p->prefix) : 0);
            char *vpath = *p->prefix ? rgs_xstrdup(vp) : rgs_xasprintf("/%s", vp);
            json_t *o = op_new(p, "rmdir", ref, path, vpath, NULL, K_FOLDER);
            json_object_set_new(o, "pre", pre_obj(NULL)); /* a directory (or nothing), no file */
            json_object_set_new(o, "users", users_for(ref));
            json_array_append_new(p->ops, o);
            free(vpath);
            json_decref(items[i]);
        }
        free(items);
    }
    json_decref(dirs);
    json_decref(keep);
    json_decref(rmc);
    json_decref(dels);
    json_decref(cleans);

    /* F. remember the file list (accepted and skipped entries) */
    json_t *store = json_object();
    for (size_t i = 0; i < ne; i++)
        if (es[i].ok || es[i].skipped)
            json_object_set(store, es[i].vpath, es[i].meta);
    if (hold) {
        /* keep the stored list: it still describes the files on disk */
        json_decref(store);
    } else if (!stored || !json_equal(stored, store)) {
        json_t *o = base_record(p, "op", ref);
        json_object_set_new(o, "op", json_string("filemeta"));
        json_object_set_new(o, "entries", store);
        json_object_set_new(o, "pre", list_pre(stored));
        json_array_append_new(p->ops, o);
    } else {
        json_decref(store);
    }

    for (size_t i = 0; i < nm; i++) {
        free(mv[i].from);
        free(mv[i].from_vpath);
    }
    free(mv);
    for (size_t i = 0; i < ne; i++)
        free(es[i].path);
    free(es);
    json_decref(by_doc);
    json_decref(byid);
    json_decref(byv);
    json_decref(owned_extra);
}

static rgs_state *state_for(const char *relay)
{
    json_t *s = json_object_get(states, relay);
    if (s)
        return (rgs_state *)(uintptr_t)json_integer_value(s);
    rgs_state *st = NULL; /* read lazily: lookups by document need no complete load */
    if (rgs_state_open(data_dir, relay, 0, &st) < 0)
        return NULL;
    json_object_set_new(states, relay, json_integer((json_int_t)(uintptr_t)st));
    return st;
}

static int emit_all(json_t *arr)
{
    for (size_t i = 0; i < json_array_size(arr); i++)
        if (rgs_emit(stdout, json_array_get(arr, i)) < 0)
            return -1;
    return 0;
}

static int plan_group(group *g)
{
    plan p = {.g = g, .root = -1};
    p.pre_out = json_array();
    p.ops = json_array();
    p.sim = json_object();
    const char *ref = g->fref;
    if (!ref) {
        const char *d;
        json_t *r;
        json_object_foreach(g->docrefs, d, r)
        {
            ref = json_string_value(r);
            break;
        }
    }
    p.st = state_for(g->relay);
    p.conn = rgs_config_find(cfg, g->relay, g->folder);
    int rc = 0;
    if (!p.st) {
        json_t *in = base_record(&p, "x", ref);
        json_array_append_new(p.pre_out, rgs_failed_new(in, true, "cannot read the state of relay %s", g->relay));
        json_decref(in);
        exit_status = RGS_EX_SOME_FAILED;
        goto out;
    }
    if (!p.conn) {
        json_t *in = base_record(&p, "x", ref);
        json_array_append_new(p.pre_out, rgs_failed_new(in, false, "folder %s of relay %s is not configured in git_connectors.toml", g->folder, g->relay));
        json_decref(in);
        rgs_warn("folder '%s/%s': not configured in git_connectors.toml; ignored", g->relay,
                 g->folder);
        exit_status = RGS_EX_SOME_FAILED;
        goto out;
    }
    p.prefix = p.conn->prefix ? p.conn->prefix : "";
    p.root = rgs_path_open_repo(data_dir, g->relay, g->folder);
    if (p.root < 0 && errno != ENOENT)
        rgs_warn("open repository '%s/%s': %s", g->relay, g->folder, strerror(errno));
    if (g->fsnap) {
        /* a folder snapshot is compared with the complete state */
        if (rgs_state_full(p.st) < 0) {
            json_t *in = base_record(&p, "x", ref);
            json_array_append_new(p.pre_out, rgs_failed_new(in, true, "cannot read the state of relay %s", g->relay));
            json_decref(in);
            exit_status = RGS_EX_SOME_FAILED;
            goto out;
        }
        plan_folder(&p);
    } else {
        p.track = json_object();
        plan_docs_only(&p);
    }
out:
    if (emit_all(p.pre_out) < 0 || emit_all(p.ops) < 0)
        rc = -1;
    if (p.root >= 0)
        close(p.root);
    json_decref(p.pre_out);
    json_decref(p.ops);
    json_decref(p.sim);
    json_decref(p.track);
    return rc;
}

static void usage(FILE *f)
{
    fputs("Usage: rgs-plan [-d DATA_DIR] [--git-config-file FILE] [--allow-mass-delete] [-v|-q] [-n]\n"
          "\n"
          "Read snapshot records (folder, doc) on stdin, compare them with the state of\n"
          "the last batch (DATA_DIR/state, read-only) and the work trees, and write op,\n"
          "held and refused records on stdout.  Other records pass through; tick\n"
          "records come last.  Nothing is changed on disk.\n"
          "\n"
          "  -d, --data-dir DIR        data directory [RELAY_GIT_DATA_DIR] (.)\n"
          "      --git-config-file F   connectors (DATA_DIR/git_connectors.toml)\n"
          "      --allow-mass-delete   do not hold large deletions [RELAY_GIT_ALLOW_MASS_DELETE=1]\n"
          "  -n, --dry-run             accepted for symmetry (rgs-plan never writes)\n"
          "  -v, --verbose / -q, --quiet\n"
          "  -h, --help\n"
          "\n"
          "Exit status: 0 ok, 1 some records failed, 100 bad usage/input/config,\n"
          "111 temporary error, 101 internal error.  See rgs-plan(1).\n",
          f);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    const char *dopt = NULL, *copt = getenv("RGS_GIT_CONFIG_FILE");
    const char *e = getenv("RELAY_GIT_ALLOW_MASS_DELETE");
    allow_mass_delete = e && !strcmp(e, "1");
    static const struct option lo[] = {{"data-dir", required_argument, 0, 'd'},
                                       {"git-config-file", required_argument, 0, 'c'},
                                       {"allow-mass-delete", no_argument, 0, 'M'},
                                       {"dry-run", no_argument, 0, 'n'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"help", no_argument, 0, 'h'},
                                       {"version", no_argument, 0, 'V'},
                                       {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "d:nvqh", lo, NULL)) != -1) {
        switch (c) {
        case 'd': dopt = optarg; break;
        case 'c': copt = optarg; break;
        case 'M': allow_mass_delete = true; break;
        case 'n': break;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'h': usage(stdout); return 0;
        case 'V': puts("rgs-plan " RGS_VERSION); return 0;
        default: usage(stderr); return RGS_EX_PERM;
        }
    }
    if (optind < argc) {
        rgs_error("unexpected argument '%s' (see --help)", argv[optind]);
        return RGS_EX_PERM;
    }
    data_dir = rgs_data_dir(dopt);
    char *cpath = rgs_config_path(copt, data_dir);
    if (rgs_config_load(cpath, &cfg) < 0) {
        rgs_error("configuration '%s' is not valid", cpath);
        free(cpath);
        return RGS_EX_PERM;
    }
    free(cpath);

    event_users = json_object();
    states = json_object();
    group_index = json_object();
    json_t *pass = json_array(), *ticks = json_array(), *keep = json_array();
    rgs_reader *r = rgs_reader_new(stdin, "stdin", 0);
    json_t *rec;
    const char *type;
    int rc;
    bool bad_v = false;
    while ((rc = rgs_reader_next(r, &rec, &type)) != 0) {
        if (rc < 0) {
            if (rgs_reader_bad_v(r)) {
                bad_v = true;
                break;
            }
            exit_status = RGS_EX_SOME_FAILED;
            continue;
        }
        if (!strcmp(type, "folder") || !strcmp(type, "doc")) {
            const char *relay = rgs_rec_uuid(rec, "relay"), *folder = rgs_rec_uuid(rec, "folder");
            const char *doc = rgs_rec_uuid(rec, "doc");
            if (!relay || !folder || (type[1] == 'o' && type[0] == 'd' && !doc)) {
                json_t *f = rgs_failed_new(rec, false, "%s snapshot without valid relay/folder/doc ids", type);
                json_array_append_new(pass, f);
                json_decref(rec);
                exit_status = RGS_EX_SOME_FAILED;
                continue;
            }
            json_array_append(keep, rec);
            if (!strcmp(type, "folder"))
                add_folder(rec, relay, folder);
            else
                add_doc(rec, relay, folder, doc);
            json_decref(rec);
            continue;
        }
        if (!strcmp(type, "event")) {
            const char *ref = rgs_rec_str(rec, "ref");
            json_t *u = json_object_get(rec, "users");
            if (ref && json_is_array(u))
                json_object_set(event_users, ref, u);
        }
        json_array_append_new(!strcmp(type, "tick") ? ticks : pass, rec);
    }
    rgs_reader_free(r);

    /* What a record produced goes out before the record itself (events,
     * reconciles), so that a stage that dies half-way never lets an event
     * reach rgs-queue --ack without its ops; ticks last. */
    int out = bad_v ? 1 : 0;
    for (size_t i = 0; i < n_groups && out == 0; i++)
        out = plan_group(&groups[i]);
    if (out == 0)
        out = emit_all(pass);
    if (out == 0)
        out = emit_all(ticks);

    for (size_t i = 0; i < n_groups; i++) {
        free(groups[i].fref);
        json_decref(groups[i].docs);
        json_decref(groups[i].docrefs);
    }
    free(groups);
    const char *k;
    json_t *v;
    json_object_foreach(states, k, v) rgs_state_free((rgs_state *)(uintptr_t)json_integer_value(v));
    json_decref(states);
    json_decref(group_index);
    json_decref(event_users);
    json_decref(pass);
    json_decref(ticks);
    json_decref(keep);
    rgs_config_free(cfg);
    if (bad_v)
        return RGS_EX_PERM;
    if (out < 0)
        return RGS_EX_TEMP;
    return exit_status;
}
