/* rgs_state: see rgs_state.h.  The original service's state files
 * (relay.md §5.6), read and written in their original shapes. */
#include "rgs_state.h"
#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { F_HASHES, F_FOLDERS, F_LOCAL, F_N };
static const char *const file_names[F_N] = {"document_hashes.json", "shared_folders.json",
                                            "local_state.json"};

struct rgs_state {
    char *data_dir;
    char relay[37];
    json_t *doc[F_N];
    char *loaded[F_N]; /* bytes of the file at load (NULL: it did not exist) */
    json_t *index;     /* doc id -> [folder, vpath]; NULL until first find_doc */
};

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

int rgs_state_load(const char *data_dir, const char *relay, rgs_state **out)
{
    *out = NULL;
    if (!rgs_uuid_valid(relay)) {
        rgs_error("load state '%s': relay id is not a UUID", relay ? relay : "(null)");
        return -1;
    }
    rgs_state *s = rgs_xcalloc(1, sizeof *s);
    s->data_dir = rgs_xstrdup(data_dir);
    for (int i = 0; i < 36; i++)
        s->relay[i] = (char)((relay[i] >= 'A' && relay[i] <= 'F') ? relay[i] + 32 : relay[i]);
    char *dir = rgs_xasprintf("%s/state/%s", data_dir, s->relay);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno != ENOENT) {
        rgs_error("load state '%s': %s", dir, strerror(errno));
        goto fail;
    }
    for (int i = 0; i < F_N; i++) {
        rgs_buf b = RGS_BUF_INIT;
        if (dfd < 0 || rgs_read_file(dfd, file_names[i], &b, 0) < 0) {
            int e = dfd < 0 ? ENOENT : errno;
            rgs_buf_free(&b);
            if (e != ENOENT) {
                rgs_error("load state '%s/%s': %s", dir, file_names[i], strerror(e));
                goto fail;
            }
            s->doc[i] = json_object();
            continue;
        }
        json_error_t err;
        json_t *j = json_loadb(b.data, b.len, 0, &err);
        char why[240];
        if (!j) {
            rgs_buf_free(&b);
            rgs_error("load state '%s/%s': invalid JSON at line %d: %s", dir, file_names[i],
                      err.line, err.text);
            goto fail;
        }
        if (!shape_ok(file_names[i], j, why, sizeof why)) {
            rgs_error("load state '%s/%s': %s", dir, file_names[i], why);
            rgs_buf_free(&b);
            json_decref(j);
            goto fail;
        }
        /* the bytes, not a re-serialisation: loading stays one parse */
        s->loaded[i] = rgs_buf_steal(&b, NULL);
        s->doc[i] = j;
    }
    normalise_local(s->doc[F_LOCAL]);
    if (dfd >= 0)
        close(dfd);
    free(dir);
    *out = s;
    return 0;
fail:
    if (dfd >= 0)
        close(dfd);
    free(dir);
    rgs_state_free(s);
    return -1;
}

json_t *rgs_state_document_hashes(rgs_state *s) { return s->doc[F_HASHES]; }
json_t *rgs_state_shared_folders(rgs_state *s) { return s->doc[F_FOLDERS]; }
json_t *rgs_state_local_state(rgs_state *s) { return s->doc[F_LOCAL]; }
const char *rgs_state_relay(const rgs_state *s) { return s->relay; }

static json_t *sub_object(json_t *parent, const char *key, bool create)
{
    json_t *o = json_object_get(parent, key);
    if (!o && create) {
        o = json_object();
        json_object_set_new(parent, key, o);
    }
    return o;
}

json_t *rgs_state_folder_meta(rgs_state *s, const char *folder, bool create)
{
    return sub_object(s->doc[F_FOLDERS], folder, create);
}

json_t *rgs_state_folder_local(rgs_state *s, const char *folder, bool create)
{
    return sub_object(s->doc[F_LOCAL], folder, create);
}

void rgs_state_changed(rgs_state *s)
{
    json_decref(s->index);
    s->index = NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void build_index(rgs_state *s)
{
    s->index = json_object();
    /* Deterministic: folders and paths in sorted order, the first wins. */
    size_t nf = json_object_size(s->doc[F_FOLDERS]);
    const char **folders = rgs_xcalloc(nf, sizeof *folders);
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(s->doc[F_FOLDERS], k, v) folders[i++] = k;
    qsort(folders, nf, sizeof *folders, cmp_str);
    for (i = 0; i < nf; i++) {
        json_t *paths = json_object_get(s->doc[F_FOLDERS], folders[i]);
        size_t np = json_object_size(paths), j = 0;
        const char **keys = rgs_xcalloc(np, sizeof *keys);
        json_object_foreach(paths, k, v) keys[j++] = k;
        qsort(keys, np, sizeof *keys, cmp_str);
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

bool rgs_state_find_doc(rgs_state *s, const char *doc, const char **folder, const char **vpath,
                        json_t **meta)
{
    char norm[37];
    if (!doc || !rgs_uuid_norm(doc, strlen(doc), norm))
        return false;
    if (!s->index)
        build_index(s);
    json_t *hit = json_object_get(s->index, norm);
    if (!hit)
        return false;
    const char *f = json_string_value(json_array_get(hit, 0));
    const char *p = json_string_value(json_array_get(hit, 1));
    json_t *paths = json_object_get(s->doc[F_FOLDERS], f);
    json_t *m = json_object_get(paths, p);
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
    if (folder)
        *folder = json_object_iter_key(json_object_iter_at(s->doc[F_FOLDERS], f));
    if (vpath)
        *vpath = json_object_iter_key(json_object_iter_at(json_object_get(s->doc[F_FOLDERS], f), p));
    if (meta)
        *meta = m;
    return true;
}

int rgs_state_save(rgs_state *s)
{
    char *dir = rgs_xasprintf("%s/state/%s", s->data_dir, s->relay);
    char *text[F_N] = {0};
    bool any = false;
    for (int i = 0; i < F_N; i++) {
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
    int rc = 0, dfd = -1;
    if (!any)
        goto out;
    if (rgs_mkdirs(dir, 0755) < 0 ||
        (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rgs_error("save state '%s': %s", dir, strerror(errno));
        rc = -1;
        goto out;
    }
    /* local_state.json first, document_hashes.json last: a crash in
     * between leaves the hashes behind, so the next plan writes again (and
     * finds the bytes already there), never the other way round */
    for (int i = F_N - 1; i >= 0; i--) {
        if (!text[i])
            continue;
        if (rgs_write_atomic(dfd, file_names[i], text[i], strlen(text[i]), 0644) < 0) {
            rgs_error("save state '%s/%s': %s", dir, file_names[i], strerror(errno));
            rc = -1;
            goto out;
        }
        free(s->loaded[i]);
        s->loaded[i] = text[i];
        text[i] = NULL;
    }
    /* temporary files of a writer that died before its rename
     * (rgs_write_atomic names them ".<name>.tmp.<pid>.<n>"; the caller holds
     * the state lock, so no other writer is at work) */
    {
        int d2 = dup(dfd);
        DIR *dp = d2 >= 0 ? fdopendir(d2) : NULL;
        struct dirent *de;
        char mine[32];
        snprintf(mine, sizeof mine, ".tmp.%ld.", (long)getpid());
        while (dp && (de = readdir(dp)))
            if (de->d_name[0] == '.' && strstr(de->d_name, ".json.tmp.") &&
                !strstr(de->d_name, mine))
                unlinkat(dfd, de->d_name, 0);
        if (dp)
            closedir(dp);
        else if (d2 >= 0)
            close(d2);
    }
out:
    if (dfd >= 0)
        close(dfd);
    for (int i = 0; i < F_N; i++)
        free(text[i]);
    free(dir);
    return rc;
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
    free(s->data_dir);
    free(s);
}
