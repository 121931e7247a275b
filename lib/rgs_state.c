/* rgs_state: see rgs_state.h.  The original service's state files
 * (relay.md §5.6), read and written in their original shapes, plus the
 * document index and the pending changes that keep a batch of one note
 * independent of the folder's size. */
#include "rgs_state.h"
#include "rgs_crypto.h"
#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum { F_HASHES, F_FOLDERS, F_LOCAL, F_N };
static const char *const file_names[F_N] = {"document_hashes.json", "shared_folders.json",
                                            "local_state.json"};
#define INDEX_NAME "doc_index.ndjson"
#define PENDING_DIR "pending"
#define SINCE_NAME "since"
#define INDEX_KEY "{\"doc\":\""
#define INDEX_KEY_LEN 8

struct rgs_state {
    char *data_dir;
    char *dir; /* DATA_DIR/state/<relay> */
    char relay[37];
    unsigned flags;
    bool full;
    json_t *doc[F_N];
    char *loaded[F_N]; /* bytes of the file at load (NULL: it did not exist) */
    json_t *index;     /* full: doc id -> [folder, vpath]; NULL until first find_doc */
    bool merged_pending; /* full: pending files were applied at load */
    bool index_stale;    /* full: doc_index.ndjson must be rewritten at save */
    /* lazy lookups */
    int idx;            /* 0 not checked, 1 valid, -1 not valid */
    char *map;          /* the index, mapped */
    size_t map_len, body; /* body: offset of the first document line */
    json_t *idx_folders;  /* header "folders" */
    char stamps[F_N][96]; /* the three files' stamps when the index was checked */
    json_t *cache;      /* doc -> {"rec": record, "pend": pending record or null} */
    json_t *dirty;      /* doc -> true: pending record changed (lazy writer) */
};

/* ------------------------------------------------------------ bytes */

/* The bytes a state document is written as: json.dump(indent=2) shape,
 * keys sorted, non-ASCII escaped (so the original Python service reads them
 * back whatever its locale), no trailing newline (as json.dump). */
static char *serialise(const json_t *j)
{
    char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!t)
        rgs_die(RGS_EX_TEMP, "serialise state: out of memory");
    /* Python writes \u escapes in lower-case hex, jansson in upper case.
     * Backslashes occur only in escapes, so scanning pairs is exact. */
    for (char *p = t; *p; p++) {
        if (*p != '\\')
            continue;
        p++;
        if (*p == 'u')
            for (int i = 1; i <= 4 && p[i]; i++)
                if (p[i] >= 'A' && p[i] <= 'F')
                    p[i] = (char)(p[i] + 32);
    }
    return t;
}

/* Shape checks (relay.md §5.6).  depth = how many object levels must
 * follow; leaf_string: document_hashes values are strings. */
static bool shape_ok(const char *file, json_t *j, char *why, size_t whylen)
{
    if (!json_is_object(j)) {
        snprintf(why, whylen, "not a JSON object");
        return false;
    }
    const char *k;
    json_t *v;
    if (!strcmp(file, "document_hashes.json")) {
        json_object_foreach(j, k, v) if (!json_is_string(v))
        {
            snprintf(why, whylen, "value of \"%.80s\" is not a string", k);
            return false;
        }
        return true;
    }
    json_object_foreach(j, k, v)
    {
        if (!json_is_object(v)) {
            snprintf(why, whylen, "value of \"%.80s\" is not an object", k);
            return false;
        }
        const char *k2;
        json_t *v2;
        json_object_foreach(v, k2, v2) if (!json_is_object(v2))
        {
            snprintf(why, whylen, "\"%.80s\" entry \"%.80s\" is not an object", k, k2);
            return false;
        }
    }
    return true;
}

/* The original's local_state.json key mismatch (relay.md §8): creates used
 * "/path", some code paths used "path".  Bring every key to the "/path"
 * form; when both forms exist, the "/path" entry wins. */
static void normalise_local(json_t *local)
{
    const char *folder;
    json_t *paths;
    json_object_foreach(local, folder, paths)
    {
        const char *p;
        json_t *e;
        void *tmp;
        json_t *moved = NULL;
        json_object_foreach_safe(paths, tmp, p, e)
        {
            if (p[0] == '/')
                continue;
            if (!moved)
                moved = json_object();
            char *key = rgs_xasprintf("/%s", p);
            if (!json_object_get(paths, key))
                json_object_set(moved, key, e);
            free(key);
            json_object_del(paths, p);
        }
        if (moved) {
            json_object_update_missing(paths, moved);
            json_decref(moved);
        }
    }
}

/* "<inode>:<size>:<mtime s>.<ns>" of a state file, "-" when absent;
 * -1 on another error. */
static int stamp_of(int dfd, const char *name, char out[96])
{
    struct stat st;
    if (dfd < 0 || fstatat(dfd, name, &st, 0) < 0) {
        if (dfd >= 0 && errno != ENOENT)
            return -1;
        snprintf(out, 96, "-");
        return 0;
    }
    snprintf(out, 96, "%llu:%lld:%lld.%09ld", (unsigned long long)st.st_ino, (long long)st.st_size,
             (long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    return 0;
}

static int open_dir(const rgs_state *s)
{
    return open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Temporary files of a writer that died before its rename
 * (rgs_write_atomic names them ".<name>.tmp.<pid>.<n>"); the caller is the
 * only writer. */
static void remove_stale_tmp(int dfd)
{
    int d2 = dup(dfd);
    DIR *dp = d2 >= 0 ? fdopendir(d2) : NULL;
    struct dirent *de;
    char mine[32];
    snprintf(mine, sizeof mine, ".tmp.%ld.", (long)getpid());
    while (dp && (de = readdir(dp)))
        if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp.") && !strstr(de->d_name, mine))
            unlinkat(dfd, de->d_name, 0);
    if (dp)
        closedir(dp);
    else if (d2 >= 0)
        close(d2);
}

/* ------------------------------------------------------------ pending */

static bool is_pending_name(const char *n, char doc[37])
{
    size_t l = strlen(n);
    return l == 41 && !strcmp(n + 36, ".json") && rgs_uuid_norm(n, 36, doc) && !memcmp(n, doc, 36);
}

/* A pending record read from disk: {"doc","since","hash"?,"local":[...]}.
 * NULL (why set) if it does not have that shape. */
static bool pending_ok(json_t *p, const char *doc, char *why, size_t whylen)
{
    json_t *h = json_object_get(p, "hash"), *l = json_object_get(p, "local");
    if (!json_is_object(p) || !json_is_string(json_object_get(p, "doc")) ||
        strcmp(json_string_value(json_object_get(p, "doc")), doc) ||
        !json_is_number(json_object_get(p, "since")) || (h && !json_is_string(h)) ||
        !json_is_array(l)) {
        snprintf(why, whylen, "not a pending record of document %s", doc);
        return false;
    }
    size_t i;
    json_t *a;
    json_array_foreach(l, i, a)
    {
        const char *f = json_string_value(json_object_get(a, "folder"));
        const char *v = json_string_value(json_object_get(a, "vpath"));
        if (!f || !rgs_uuid_valid(f) || !v || v[0] != '/' ||
            !json_is_object(json_object_get(a, "entry"))) {
            snprintf(why, whylen, "local assignment %zu is not {folder, vpath, entry}", i);
            return false;
        }
    }
    return true;
}

/* Read pending/<doc>.json: 1 and *out, 0 none, -1 error (printed). */
static int pending_read(rgs_state *s, int dfd, const char *doc, json_t **out)
{
    *out = NULL;
    if (dfd < 0)
        return 0;
    char name[64];
    snprintf(name, sizeof name, PENDING_DIR "/%s.json", doc);
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_read_file(dfd, name, &b, 0) < 0) {
        int e = errno;
        rgs_buf_free(&b);
        if (e == ENOENT)
            return 0;
        rgs_error("load state '%s/%s': %s", s->dir, name, strerror(e));
        return -1;
    }
    json_error_t err;
    json_t *j = json_loadb(b.data, b.len, 0, &err);
    rgs_buf_free(&b);
    char why[160];
    if (!j || !pending_ok(j, doc, why, sizeof why)) {
        rgs_error("load state '%s/%s': %s", s->dir, name, j ? why : err.text);
        json_decref(j);
        return -1;
    }
    *out = j;
    return 1;
}

static json_t *sub_object(json_t *parent, const char *key, bool create)
{
    json_t *o = json_object_get(parent, key);
    if (!o && create) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

/* Apply a pending record to complete documents. */
static void pending_apply(json_t *doc[F_N], const char *id, json_t *p)
{
    json_t *h = json_object_get(p, "hash");
    if (h)
        json_object_set(doc[F_HASHES], id, h);
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(p, "local"), i, a)
    {
        const char *f = json_string_value(json_object_get(a, "folder"));
        json_t *paths = sub_object(doc[F_LOCAL], f, true);
        json_object_set(paths, json_string_value(json_object_get(a, "vpath")),
                        json_object_get(a, "entry"));
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of object o, sorted by strcmp; *n gets their count.  The array
 * (never NULL, free it) points into o's keys: valid while o is unchanged. */
static const char **sorted_keys(json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **keys = rgs_xcalloc(*n ? *n : 1, sizeof *keys);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) keys[i++] = k;
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

/* The pending documents on disk, sorted (array of ids; empty when none).
 * Returns NULL on an I/O error (errno). */
static json_t *pending_list(int dfd)
{
    json_t *ids = json_array();
    if (dfd < 0)
        return ids;
    int pfd = openat(dfd, PENDING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) {
        if (errno == ENOENT)
            return ids;
        json_decref(ids);
        return NULL;
    }
    DIR *dp = fdopendir(pfd);
    if (!dp) {
        close(pfd);
        json_decref(ids);
        return NULL;
    }
    size_t n = 0, cap = 0;
    char **names = NULL;
    struct dirent *de;
    char id[37];
    while ((de = readdir(dp)))
        if (is_pending_name(de->d_name, id)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                names = rgs_xrealloc(names, cap * sizeof *names);
            }
            names[n++] = rgs_xstrdup(id);
        }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(ids, json_string(names[i]));
        free(names[i]);
    }
    free(names);
    return ids;
}

/* ------------------------------------------------------------ index */

static void index_unmap(rgs_state *s)
{
    if (s->map)
        munmap(s->map, s->map_len);
    s->map = NULL;
    s->map_len = s->body = 0;
    json_decref(s->idx_folders);
    s->idx_folders = NULL;
    s->idx = 0;
}

/* Map the index and check it against the three files: s->idx = 1 valid
 * (or nothing to index), -1 not.  Returns -1 only on an I/O error. */
static int index_check(rgs_state *s)
{
    if (s->idx)
        return 0;
    s->idx = -1;
    int dfd = open_dir(s);
    if (dfd < 0) {
        if (errno != ENOENT) {
            rgs_error("load state '%s': %s", s->dir, strerror(errno));
            return -1;
        }
        s->idx = 1; /* no state at all */
        s->idx_folders = json_array();
        return 0;
    }
    char (*stamps)[96] = s->stamps;
    for (int i = 0; i < F_N; i++)
        if (stamp_of(dfd, file_names[i], stamps[i]) < 0) {
            rgs_error("load state '%s/%s': %s", s->dir, file_names[i], strerror(errno));
            close(dfd);
            return -1;
        }
    int fd = openat(dfd, INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    close(dfd);
    if (fd < 0) {
        if (!strcmp(stamps[0], "-") && !strcmp(stamps[1], "-") && !strcmp(stamps[2], "-")) {
            s->idx = 1; /* nothing to index */
            s->idx_folders = json_array();
        }
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return 0;
    s->map = m;
    s->map_len = (size_t)st.st_size;
    const char *nl = memchr(s->map, '\n', s->map_len);
    json_t *h = nl ? json_loadb(s->map, (size_t)(nl - s->map), 0, NULL) : NULL;
    json_t *files = json_object_get(h, "files"), *folders = json_object_get(h, "folders");
    bool ok = h && json_integer_value(json_object_get(h, "rgs_doc_index")) == 1 &&
              json_array_size(files) == F_N && json_is_array(folders);
    for (int i = 0; ok && i < F_N; i++)
        ok = !strcmp(json_string_value(json_array_get(files, i)) ?: "", stamps[i]);
    if (!ok) {
        json_decref(h);
        index_unmap(s);
        s->idx = -1;
        return 0;
    }
    s->idx_folders = json_incref(folders);
    json_decref(h);
    s->body = (size_t)(nl - s->map) + 1;
    s->idx = 1;
    return 0;
}

/* The index as it is now: when the three files changed since it was
 * checked, check (and map) it again.  Same returns as index_check. */
static int index_current(rgs_state *s)
{
    if (s->idx == 0)
        return index_check(s);
    int dfd = open_dir(s);
    if (dfd < 0 && errno != ENOENT)
        return -1;
    bool same = true;
    char now[96];
    for (int i = 0; same && i < F_N; i++) {
        if (stamp_of(dfd, file_names[i], now) < 0) {
            close(dfd);
            return -1;
        }
        same = !strcmp(now, s->stamps[i]);
    }
    if (dfd >= 0)
        close(dfd);
    if (same)
        return 0;
    index_unmap(s);
    return index_check(s);
}

/* Binary search of the index for `doc`: 1 and *line, *len, 0 absent, -1
 * the index is malformed. */
static int index_find(const rgs_state *s, const char *doc, const char **line, size_t *len)
{
    size_t lo = s->body, hi = s->map_len;
    const char *m = s->map;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        while (mid > lo && m[mid - 1] != '\n')
            mid--;
        const char *e = memchr(m + mid, '\n', s->map_len - mid);
        if (!e)
            return -1;
        size_t l = (size_t)(e - (m + mid));
        if (l < INDEX_KEY_LEN + 37 || memcmp(m + mid, INDEX_KEY, INDEX_KEY_LEN) ||
            m[mid + INDEX_KEY_LEN + 36] != '"')
            return -1;
        int c = memcmp(m + mid + INDEX_KEY_LEN, doc, 36);
        if (c == 0) {
            *line = m + mid;
            *len = l;
            return 1;
        }
        if (c < 0)
            lo = (size_t)(e - m) + 1;
        else
            hi = mid;
    }
    return 0;
}

static void build_index(rgs_state *s);

static int dump_to_buf(const char *p, size_t n, void *data)
{
    rgs_buf_append(data, p, n);
    return 0;
}

/* doc_index.ndjson for the current (complete) documents and the stamps of
 * the files as they are on disk now. */
static int index_write(rgs_state *s, int dfd)
{
    if (!s->index)
        build_index(s);
    char stamps[F_N][96];
    for (int i = 0; i < F_N; i++)
        if (stamp_of(dfd, file_names[i], stamps[i]) < 0)
            return -1;
    /* every id with a location or a hash, sorted */
    json_t *ids = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(s->index, k, v) json_object_set(ids, k, json_true());
    char norm[37];
    json_object_foreach(s->doc[F_HASHES], k, v)
    {
        if (strlen(k) == 36 && rgs_uuid_norm(k, 36, norm) && !strcmp(norm, k))
            json_object_set(ids, k, json_true());
    }
    size_t n, i;
    const char **keys = sorted_keys(ids, &n);
    rgs_buf b = RGS_BUF_INIT;
    json_t *h = json_pack("{sis[sss]s[]}", "rgs_doc_index", 1, "files", stamps[0], stamps[1],
                          stamps[2], "folders");
    {
        size_t nf, j;
        const char **fk = sorted_keys(s->doc[F_FOLDERS], &nf);
        for (j = 0; j < nf; j++)
            json_array_append_new(json_object_get(h, "folders"), json_string(fk[j]));
        free(fk);
    }
    char *t = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(h);
    rgs_buf_puts(&b, t);
    rgs_buf_putc(&b, '\n');
    free(t);
    /* one line per document, its members written one by one (no record
     * object is built: the index is rewritten with every structural save) */
    json_t *fesc = json_object(); /* folder -> its JSON string, escaped once */
    for (i = 0; i < n; i++) {
        rgs_buf_puts(&b, INDEX_KEY);
        rgs_buf_puts(&b, keys[i]);
        rgs_buf_putc(&b, '"');
        json_t *hit = json_object_get(s->index, keys[i]);
        if (hit) {
            const char *f = json_string_value(json_array_get(hit, 0));
            const char *p = json_string_value(json_array_get(hit, 1));
            json_t *fe = json_object_get(fesc, f);
            if (!fe) {
                json_t *fs = json_string(f);
                char *e = json_dumps(fs, JSON_ENCODE_ANY);
                fe = json_string(e);
                json_object_set_new(fesc, f, fe);
                free(e);
                json_decref(fs);
            }
            rgs_buf_puts(&b, ",\"folder\":");
            rgs_buf_puts(&b, json_string_value(fe));
            rgs_buf_puts(&b, ",\"vpath\":");
            json_t *ps = json_string(p);
            json_dump_callback(ps, dump_to_buf, &b, JSON_ENCODE_ANY);
            json_decref(ps);
            rgs_buf_puts(&b, ",\"meta\":");
            /* keys sorted: what a load of the file (written sorted) gives */
            json_dump_callback(json_object_get(json_object_get(s->doc[F_FOLDERS], f), p), dump_to_buf,
                               &b, JSON_COMPACT | JSON_SORT_KEYS);
            json_t *l = json_object_get(json_object_get(s->doc[F_LOCAL], f), p);
            if (l) {
                rgs_buf_puts(&b, ",\"local\":");
                json_dump_callback(l, dump_to_buf, &b, JSON_COMPACT | JSON_SORT_KEYS);
            }
        }
        json_t *hv = json_object_get(s->doc[F_HASHES], keys[i]);
        if (hv) {
            rgs_buf_puts(&b, ",\"hash\":");
            json_dump_callback(hv, dump_to_buf, &b, JSON_ENCODE_ANY);
        }
        rgs_buf_puts(&b, "}\n");
    }
    json_decref(fesc);
    free(keys);
    json_decref(ids);
    int rc = rgs_write_atomic(dfd, INDEX_NAME, b.data, b.len, 0644);
    rgs_buf_free(&b);
    if (rc == 0)
        s->index_stale = false;
    return rc;
}

/* ------------------------------------------------------------ open, load */

int rgs_state_open(const char *data_dir, const char *relay, unsigned flags, rgs_state **out)
{
    *out = NULL;
    if (!relay || !rgs_uuid_valid(relay)) {
        rgs_error("load state '%s': relay id is not a UUID", relay ? relay : "(null)");
        return -1;
    }
    rgs_state *s = rgs_xcalloc(1, sizeof *s);
    s->data_dir = rgs_xstrdup(data_dir);
    for (int i = 0; i < 36; i++)
        s->relay[i] = (char)((relay[i] >= 'A' && relay[i] <= 'F') ? relay[i] + 32 : relay[i]);
    s->dir = rgs_xasprintf("%s/state/%s", data_dir, s->relay);
    s->flags = flags;
    s->cache = json_object();
    s->dirty = json_object();
    *out = s;
    return 0;
}

/* Read and check the three files into doc[] / loaded[]. */
static int load_files(rgs_state *s, int dfd, json_t *doc[F_N], char *loaded[F_N])
{
    for (int i = 0; i < F_N; i++) {
        rgs_buf b = RGS_BUF_INIT;
        if (dfd < 0 || rgs_read_file(dfd, file_names[i], &b, 0) < 0) {
            int e = dfd < 0 ? ENOENT : errno;
            rgs_buf_free(&b);
            if (e != ENOENT) {
                rgs_error("load state '%s/%s': %s", s->dir, file_names[i], strerror(e));
                return -1;
            }
            doc[i] = json_object();
            continue;
        }
        json_error_t err;
        json_t *j = json_loadb(b.data, b.len, 0, &err);
        char why[240];
        if (!j) {
            rgs_buf_free(&b);
            rgs_error("load state '%s/%s': invalid JSON at line %d: %s", s->dir, file_names[i],
                      err.line, err.text);
            return -1;
        }
        if (!shape_ok(file_names[i], j, why, sizeof why)) {
            rgs_error("load state '%s/%s': %s", s->dir, file_names[i], why);
            rgs_buf_free(&b);
            json_decref(j);
            return -1;
        }
        /* the bytes, not a re-serialisation: loading stays one parse */
        loaded[i] = rgs_buf_steal(&b, NULL);
        doc[i] = j;
    }
    normalise_local(doc[F_LOCAL]);
    return 0;
}

/* Write the files among `which` whose bytes differ from loaded[] (local
 * first, hashes last); creates the directory when something is written.
 * *wrote set when a file was written.  Returns 0 or -1 (printed). */
static int save_files(rgs_state *s, int *dfd, const bool which[F_N], bool *wrote)
{
    char *text[F_N] = {0};
    bool any = false;
    int rc = 0;
    *wrote = false;
    for (int i = 0; i < F_N; i++) {
        if (!which[i])
            continue;
        text[i] = serialise(s->doc[i]);
        bool unchanged = s->loaded[i] ? !strcmp(s->loaded[i], text[i])
                                      : json_object_size(s->doc[i]) == 0;
        if (unchanged) {
            free(text[i]);
            text[i] = NULL;
        } else {
            any = true;
        }
    }
    if (!any)
        goto out;
    if (*dfd < 0) {
        if (rgs_mkdirs(s->dir, 0755) < 0 ||
            (*dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
            rgs_error("save state '%s': %s", s->dir, strerror(errno));
            rc = -1;
            goto out;
        }
    }
    /* local_state.json first, document_hashes.json last: a crash in
     * between leaves the hashes behind, so the next plan writes again (and
     * finds the bytes already there), never the other way round */
    for (int i = F_N - 1; i >= 0; i--) {
        if (!text[i])
            continue;
        if (rgs_write_atomic(*dfd, file_names[i], text[i], strlen(text[i]), 0644) < 0) {
            rgs_error("save state '%s/%s': %s", s->dir, file_names[i], strerror(errno));
            rc = -1;
            goto out;
        }
        free(s->loaded[i]);
        s->loaded[i] = text[i];
        text[i] = NULL;
        *wrote = true;
    }
out:
    for (int i = 0; i < F_N; i++)
        free(text[i]);
    return rc;
}

/* Remove the pending files `ids` (already folded into the three files),
 * then pending/since; one directory fsync. */
static int pending_remove(rgs_state *s, int dfd, json_t *ids)
{
    int pfd = openat(dfd, PENDING_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0)
        return errno == ENOENT ? 0 : -1;
    remove_stale_tmp(pfd);
    size_t i;
    json_t *v;
    int rc = 0;
    json_array_foreach(ids, i, v)
    {
        char name[64];
        snprintf(name, sizeof name, "%s.json", json_string_value(v));
        if (unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
            rc = -1;
    }
    /* since goes last, and only when nothing else is pending */
    json_t *left = pending_list(dfd);
    if (rc == 0 && left && json_array_size(left) == 0)
        if (unlinkat(pfd, SINCE_NAME, 0) < 0 && errno != ENOENT)
            rc = -1;
    json_decref(left);
    if (rc == 0 && fsync(pfd) < 0)
        rc = -1;
    if (rc < 0)
        rgs_error("compact state '%s/" PENDING_DIR "': %s", s->dir, strerror(errno));
    close(pfd);
    return rc;
}

int rgs_state_full(rgs_state *s)
{
    if (s->full)
        return 0;
    int dfd = open_dir(s);
    if (dfd < 0 && errno != ENOENT) {
        rgs_error("load state '%s': %s", s->dir, strerror(errno));
        return -1;
    }
    json_t *doc[F_N] = {0};
    char *loaded[F_N] = {0};
    json_t *ids = NULL;
    int rc = -1;
    if (load_files(s, dfd, doc, loaded) < 0)
        goto out;
    ids = pending_list(dfd);
    if (!ids) {
        rgs_error("load state '%s/" PENDING_DIR "': %s", s->dir, strerror(errno));
        goto out;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *p;
        if (pending_read(s, dfd, json_string_value(v), &p) < 0)
            goto out;
        if (p)
            pending_apply(doc, json_string_value(v), p);
        json_decref(p);
    }
    for (i = 0; i < F_N; i++) {
        s->doc[i] = doc[i];
        s->loaded[i] = loaded[i];
        doc[i] = NULL;
        loaded[i] = NULL;
    }
    s->full = true;
    s->merged_pending = json_array_size(ids) > 0;
    /* the writer folds the pending changes into the three files now, before
     * this handle's own changes are added (those become durable later,
     * after the work-tree files they describe) */
    if ((s->flags & RGS_STATE_WRITER) && s->merged_pending) {
        bool which[F_N] = {[F_HASHES] = true, [F_LOCAL] = true}, wrote;
        if (save_files(s, &dfd, which, &wrote) < 0 || pending_remove(s, dfd, ids) < 0) {
            /* what was written is right; the pending files stay valid */
            rgs_state_changed(s);
            goto fail_full;
        }
        s->merged_pending = false;
    }
    if (index_check(s) < 0)
        goto fail_full;
    s->index_stale = s->idx != 1 || (s->flags & RGS_STATE_WRITER && json_array_size(ids) > 0);
    /* this handle's changes made while it was lazy */
    const char *k;
    json_object_foreach(s->dirty, k, v)
    {
        json_t *p = json_object_get(json_object_get(s->cache, k), "pend");
        if (p)
            pending_apply(s->doc, k, p);
    }
    rc = 0;
    goto out;
fail_full:
    for (i = 0; i < F_N; i++) {
        json_decref(s->doc[i]);
        free(s->loaded[i]);
        s->doc[i] = NULL;
        s->loaded[i] = NULL;
    }
    s->full = false;
out:
    for (i = 0; i < F_N; i++) {
        json_decref(doc[i]);
        free(loaded[i]);
    }
    json_decref(ids);
    if (dfd >= 0)
        close(dfd);
    return rc;
}

bool rgs_state_is_full(const rgs_state *s) { return s->full; }

int rgs_state_load(const char *data_dir, const char *relay, rgs_state **out)
{
    if (rgs_state_open(data_dir, relay, 0, out) < 0)
        return -1;
    if (rgs_state_full(*out) < 0) {
        rgs_state_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static void need_full(rgs_state *s)
{
    if (!s->full && rgs_state_full(s) < 0)
        rgs_die(RGS_EX_TEMP, "state of relay %s cannot be read", s->relay);
}

json_t *rgs_state_document_hashes(rgs_state *s)
{
    need_full(s);
    return s->doc[F_HASHES];
}
json_t *rgs_state_shared_folders(rgs_state *s)
{
    need_full(s);
    return s->doc[F_FOLDERS];
}
json_t *rgs_state_local_state(rgs_state *s)
{
    need_full(s);
    return s->doc[F_LOCAL];
}
const char *rgs_state_relay(const rgs_state *s) { return s->relay; }

json_t *rgs_state_folder_meta(rgs_state *s, const char *folder, bool create)
{
    need_full(s);
    return sub_object(s->doc[F_FOLDERS], folder, create);
}

json_t *rgs_state_folder_local(rgs_state *s, const char *folder, bool create)
{
    need_full(s);
    return sub_object(s->doc[F_LOCAL], folder, create);
}

void rgs_state_list_sha256(const json_t *list, char out[65])
{
    char *txt = json_dumps(list, JSON_COMPACT | JSON_SORT_KEYS);
    rgs_sha256_hex(txt ? txt : "", txt ? strlen(txt) : 0, out);
    free(txt);
}

void rgs_state_changed(rgs_state *s)
{
    json_decref(s->index);
    s->index = NULL;
}

static void build_index(rgs_state *s)
{
    s->index = json_object();
    /* Deterministic: folders and paths in sorted order, the first wins. */
    size_t nf, i;
    const char **folders = sorted_keys(s->doc[F_FOLDERS], &nf);
    for (i = 0; i < nf; i++) {
        json_t *paths = json_object_get(s->doc[F_FOLDERS], folders[i]);
        size_t np, j;
        const char **keys = sorted_keys(paths, &np);
        for (j = 0; j < np; j++) {
            json_t *meta = json_object_get(paths, keys[j]);
            const char *id = json_string_value(json_object_get(meta, "id"));
            const char *type = json_string_value(json_object_get(meta, "type"));
            char norm[37];
            if (!id || !rgs_uuid_norm(id, strlen(id), norm) || (type && !strcmp(type, "folder")))
                continue;
            if (json_object_get(s->index, norm))
                continue;
            json_object_set_new(s->index, norm, json_pack("[ss]", folders[i], keys[j]));
        }
        free(keys);
    }
    free(folders);
}

/* Complete documents: the location of `norm` (borrowed keys), or false. */
static bool full_find(rgs_state *s, const char *norm, const char **folder, const char **vpath,
                      json_t **meta)
{
    if (!s->index)
        build_index(s);
    json_t *hit = json_object_get(s->index, norm);
    if (!hit)
        return false;
    const char *f = json_string_value(json_array_get(hit, 0));
    const char *p = json_string_value(json_array_get(hit, 1));
    json_t *m = json_object_get(json_object_get(s->doc[F_FOLDERS], f), p);
    if (!m) { /* the documents were changed behind our back: rebuild once */
        rgs_state_changed(s);
        build_index(s);
        hit = json_object_get(s->index, norm);
        if (!hit)
            return false;
        f = json_string_value(json_array_get(hit, 0));
        p = json_string_value(json_array_get(hit, 1));
        m = json_object_get(json_object_get(s->doc[F_FOLDERS], f), p);
        if (!m)
            return false;
    }
    /* hand out the keys owned by the state documents, not the index's copies */
    *folder = json_object_iter_key(json_object_iter_at(s->doc[F_FOLDERS], f));
    *vpath = json_object_iter_key(json_object_iter_at(json_object_get(s->doc[F_FOLDERS], f), p));
    *meta = m;
    return true;
}

/* Lazy: the cached {"rec","pend"} of `norm`, read from the index and
 * pending/ on first use.  1 found in the cache (rec may be empty), -1 error,
 * 0 the index is not usable (the caller loads everything). */
static int lazy_entry(rgs_state *s, const char *norm, json_t **out)
{
    json_t *c = json_object_get(s->cache, norm);
    if (c) {
        *out = c;
        return 1;
    }
    /* the pending file first, the index after: a compaction writes the
     * three files (which invalidates the index) before it removes pending
     * files, so a pending file missed here means an index seen as stale */
    json_t *pend = NULL;
    int dfd = open_dir(s);
    if (dfd < 0 && errno != ENOENT) {
        rgs_error("load state '%s': %s", s->dir, strerror(errno));
        return -1;
    }
    int r = pending_read(s, dfd, norm, &pend);
    if (dfd >= 0)
        close(dfd);
    if (r < 0)
        return -1;
    if (index_current(s) < 0) {
        json_decref(pend);
        return -1;
    }
    if (s->idx != 1) {
        json_decref(pend);
        return 0;
    }
    json_t *rec = NULL;
    if (s->map) {
        const char *line;
        size_t len;
        r = index_find(s, norm, &line, &len);
        if (r == 1) {
            rec = json_loadb(line, len, 0, NULL);
            if (!json_is_object(rec)) {
                json_decref(rec);
                r = -1;
            } else {
                json_object_del(rec, "doc");
            }
        }
        if (r < 0) {
            rgs_warn("state '%s/" INDEX_NAME "' is malformed; reading the state files", s->dir);
            index_unmap(s);
            s->idx = -1;
            json_decref(pend);
            return 0;
        }
    }
    if (!rec)
        rec = json_object();
    if (pend) {
        /* the pending changes on top of what the three files said */
        json_t *h = json_object_get(pend, "hash");
        if (h)
            json_object_set(rec, "hash", h);
        const char *f = json_string_value(json_object_get(rec, "folder"));
        const char *vp = json_string_value(json_object_get(rec, "vpath"));
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(pend, "local"), i, a)
        {
            if (f && vp && !strcmp(json_string_value(json_object_get(a, "folder")), f) &&
                !strcmp(json_string_value(json_object_get(a, "vpath")), vp))
                json_object_set(rec, "local", json_object_get(a, "entry"));
        }
    }
    c = json_pack("{soso}", "rec", rec, "pend", pend ? pend : json_null());
    json_object_set_new(s->cache, norm, c);
    *out = c;
    return 1;
}

int rgs_state_doc_get(rgs_state *s, const char *doc, rgs_state_doc *out)
{
    memset(out, 0, sizeof *out);
    char norm[37];
    if (!doc || !rgs_uuid_norm(doc, strlen(doc), norm))
        return 0;
    if (!s->full) {
        json_t *c;
        int r = lazy_entry(s, norm, &c);
        if (r < 0)
            return -1;
        if (r == 1) {
            json_t *rec = json_object_get(c, "rec");
            out->folder = json_string_value(json_object_get(rec, "folder"));
            out->vpath = json_string_value(json_object_get(rec, "vpath"));
            out->meta = out->folder && out->vpath ? json_object_get(rec, "meta") : NULL;
            if (!out->meta)
                out->folder = out->vpath = NULL;
            out->hash = json_string_value(json_object_get(rec, "hash"));
            out->local = out->folder ? json_object_get(rec, "local") : NULL;
            if (out->local && !json_is_object(out->local))
                out->local = NULL;
            return out->folder || out->hash;
        }
        if (rgs_state_full(s) < 0)
            return -1;
    }
    if (full_find(s, norm, &out->folder, &out->vpath, &out->meta))
        out->local = json_object_get(json_object_get(s->doc[F_LOCAL], out->folder), out->vpath);
    out->hash = json_string_value(json_object_get(s->doc[F_HASHES], norm));
    return out->folder || out->hash;
}

bool rgs_state_find_doc(rgs_state *s, const char *doc, const char **folder, const char **vpath,
                        json_t **meta)
{
    rgs_state_doc d;
    if (rgs_state_doc_get(s, doc, &d) <= 0 || !d.folder)
        return false;
    if (folder)
        *folder = d.folder;
    if (vpath)
        *vpath = d.vpath;
    if (meta)
        *meta = d.meta;
    return true;
}

int rgs_state_has_folder(rgs_state *s, const char *folder)
{
    if (!s->full) {
        if (index_current(s) < 0)
            return -1;
        if (s->idx == 1) {
            size_t i;
            json_t *v;
            json_array_foreach(s->idx_folders, i, v) if (!strcmp(json_string_value(v) ?: "", folder)) return 1;
            return 0;
        }
        if (rgs_state_full(s) < 0)
            return -1;
    }
    return json_object_get(s->doc[F_FOLDERS], folder) != NULL;
}

/* ------------------------------------------------------------ writer */

int rgs_state_doc_prepare(rgs_state *s, const char *doc, const char *folder, const char *vpath,
                          const char *type)
{
    if (s->full)
        return 0;
    char norm[37];
    if (!doc || !rgs_uuid_norm(doc, strlen(doc), norm) || !(s->flags & RGS_STATE_WRITER))
        return rgs_state_full(s);
    rgs_state_doc d;
    int r = rgs_state_doc_get(s, norm, &d);
    if (r < 0)
        return -1;
    if (s->full)
        return 0;
    const char *ldoc = json_string_value(json_object_get(d.local, "doc_id"));
    const char *ltype = json_string_value(json_object_get(d.local, "type"));
    bool in_place = d.folder && !strcmp(d.folder, folder) && !strcmp(d.vpath, vpath) && ldoc &&
                    !strcasecmp(ldoc, norm) && ltype && !strcmp(ltype, type);
    return in_place ? 0 : rgs_state_full(s);
}

int rgs_state_doc_set(rgs_state *s, const char *doc, const char *folder, const char *vpath,
                      const char *hash, json_t *entry)
{
    char norm[37];
    if (!doc || !rgs_uuid_norm(doc, strlen(doc), norm))
        return -1;
    const char *ltype = json_string_value(json_object_get(entry, "type"));
    if (!s->full && rgs_state_doc_prepare(s, norm, folder, vpath, ltype ? ltype : "") < 0)
        return -1;
    if (s->full) {
        if (hash)
            json_object_set_new(s->doc[F_HASHES], norm, json_string(hash));
        json_object_set(sub_object(s->doc[F_LOCAL], folder, true), vpath, entry);
        return 0;
    }
    json_t *c = json_object_get(s->cache, norm); /* present: prepared */
    json_t *pend = json_object_get(c, "pend");
    if (!json_is_object(pend)) {
        pend = json_pack("{sssfs[]}", "doc", norm, "since", rgs_now(), "local");
        json_object_set_new(c, "pend", pend);
    }
    json_t *rec = json_object_get(c, "rec");
    if (hash) {
        json_object_set_new(pend, "hash", json_string(hash));
        json_object_set_new(rec, "hash", json_string(hash));
    }
    json_t *local = json_object_get(pend, "local");
    size_t i;
    json_t *a;
    bool done = false;
    json_array_foreach(local, i, a)
    {
        if (!strcmp(json_string_value(json_object_get(a, "folder")), folder) &&
            !strcmp(json_string_value(json_object_get(a, "vpath")), vpath)) {
            json_object_set(a, "entry", entry);
            done = true;
        }
    }
    if (!done)
        json_array_append_new(local, json_pack("{sssssO}", "folder", folder, "vpath", vpath,
                                               "entry", entry));
    json_object_set(rec, "local", entry);
    json_object_set_new(s->dirty, norm, json_true());
    return 0;
}

/* The lazy writer's save: pending/<doc>.json for every changed document. */
static int save_pending(rgs_state *s)
{
    if (!json_object_size(s->dirty))
        return 0;
    char *pdir = rgs_xasprintf("%s/" PENDING_DIR, s->dir);
    int pfd = -1, rc = -1;
    size_t n = json_object_size(s->dirty), i = 0;
    char (*tmp)[96] = rgs_xcalloc(n, sizeof *tmp);
    const char **ids = rgs_xcalloc(n, sizeof *ids);
    if (rgs_mkdirs(pdir, 0755) < 0 ||
        (pfd = open(pdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rgs_error("save state '%s': %s", pdir, strerror(errno));
        goto out;
    }
    remove_stale_tmp(pfd);
    /* since: when the oldest pending change was made; written before any
     * pending file exists, so it is never younger than one */
    struct stat st;
    if (fstatat(pfd, SINCE_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        int e = errno;
        char t[64];
        int l = snprintf(t, sizeof t, "%.3f\n", rgs_now());
        if (e != ENOENT)
            errno = e;
        if (e != ENOENT || rgs_write_atomic(pfd, SINCE_NAME, t, (size_t)l, 0644) < 0) {
            rgs_error("save state '%s/" SINCE_NAME "': %s", pdir, strerror(errno));
            goto out;
        }
    }
    /* temporary files made durable together, then renamed into place */
    const char *k;
    json_t *v;
    static unsigned counter;
    json_object_foreach(s->dirty, k, v)
    {
        json_t *pend = json_object_get(json_object_get(s->cache, k), "pend");
        char *text = json_dumps(pend, JSON_COMPACT | JSON_SORT_KEYS);
        ids[i] = k;
        snprintf(tmp[i], sizeof tmp[i], ".%s.json.tmp.%ld.%u", k, (long)getpid(), counter++);
        int fd = text ? openat(pfd, tmp[i], O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                               0644)
                      : -1;
        bool good = fd >= 0 && rgs_write_all(fd, text, strlen(text)) == 0 &&
                    rgs_write_all(fd, "\n", 1) == 0 && (n > 1 || fsync(fd) == 0);
        int e = errno;
        if (fd >= 0)
            close(fd);
        free(text);
        i++;
        if (!good) {
            rgs_error("save state '%s/%s.json': %s", pdir, k, strerror(e));
            goto out;
        }
    }
    if (n > 1 && syncfs(pfd) < 0) {
        for (i = 0; i < n; i++) {
            int fd = openat(pfd, tmp[i], O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            if (fd < 0 || fsync(fd) < 0) {
                rgs_error("save state '%s/%s': %s", pdir, tmp[i], strerror(errno));
                if (fd >= 0)
                    close(fd);
                goto out;
            }
            close(fd);
        }
    }
    for (i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.json", ids[i]);
        if (renameat(pfd, tmp[i], pfd, name) < 0) {
            rgs_error("save state '%s/%s': %s", pdir, name, strerror(errno));
            goto out;
        }
        tmp[i][0] = '\0';
    }
    if (fsync(pfd) < 0) {
        rgs_error("save state '%s': %s", pdir, strerror(errno));
        goto out;
    }
    json_object_clear(s->dirty);
    rc = 0;
out:
    for (i = 0; i < n; i++)
        if (tmp[i][0] && pfd >= 0)
            unlinkat(pfd, tmp[i], 0);
    if (pfd >= 0)
        close(pfd);
    free(tmp);
    free(ids);
    free(pdir);
    return rc;
}

int rgs_state_save(rgs_state *s) { return rgs_state_save_flags(s, 0); }

int rgs_state_save_flags(rgs_state *s, unsigned flags)
{
    if (!s->full)
        return save_pending(s);
    if (s->merged_pending) {
        rgs_error("save state '%s': pending changes were loaded by a reader; not saved", s->dir);
        return -1;
    }
    int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 && errno != ENOENT) {
        rgs_error("save state '%s': %s", s->dir, strerror(errno));
        return -1;
    }
    bool which[F_N] = {true, true, true}, wrote = false;
    int rc = save_files(s, &dfd, which, &wrote);
    if (wrote)
        s->index_stale = true;
    if (rc == 0 && s->index_stale && dfd >= 0 && !(flags & RGS_STATE_NO_INDEX)) {
        if (index_write(s, dfd) < 0) {
            rgs_error("save state '%s/" INDEX_NAME "': %s", s->dir, strerror(errno));
            rc = -1;
        }
        wrote = true;
    }
    json_object_clear(s->dirty);
    if (dfd >= 0) {
        /* temporary files of a writer that died (the caller holds the lock) */
        if (wrote)
            remove_stale_tmp(dfd);
        close(dfd);
    }
    return rc;
}

int rgs_state_status(rgs_state *s, size_t *pending, double *since, bool *index_ok)
{
    *pending = 0;
    *since = 0;
    *index_ok = true;
    int dfd = open_dir(s);
    if (dfd < 0)
        return errno == ENOENT ? 0 : -1;
    json_t *ids = pending_list(dfd);
    if (!ids) {
        close(dfd);
        return -1;
    }
    *pending = json_array_size(ids);
    json_decref(ids);
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_read_file(dfd, PENDING_DIR "/" SINCE_NAME, &b, 64) == 0) {
        rgs_buf_putc(&b, '\0');
        *since = strtod(b.data, NULL);
    }
    rgs_buf_free(&b);
    close(dfd);
    if (*pending && *since <= 0)
        *since = 1; /* a pending file without its time: as old as can be */
    index_unmap(s);
    if (index_check(s) < 0)
        return -1;
    *index_ok = s->idx == 1;
    return 0;
}

void rgs_state_free(rgs_state *s)
{
    if (!s)
        return;
    for (int i = 0; i < F_N; i++) {
        json_decref(s->doc[i]);
        free(s->loaded[i]);
    }
    json_decref(s->index);
    index_unmap(s);
    json_decref(s->cache);
    json_decref(s->dirty);
    free(s->data_dir);
    free(s->dir);
    free(s);
}
