/* rgs_folder: filemeta_v0 + legacy docs merge.  See rgs_folder.h. */
#include "rgs_folder.h"

#include <stdlib.h>
#include <string.h>

#include <stdio.h>

#include "rgs_crypto.h"
#include "rgs_util.h"

static bool is_markdown(const json_t *meta)
{
    const char *t = json_string_value(json_object_get(meta, "type"));
    return t && (!strcmp(t, "markdown") || !strcmp(t, "document")); /* relay.md §3.1: older data */
}

static void implied_id(const char *relay, const char *folder, const char *path, size_t n, char out[37])
{
    rgs_buf b = RGS_BUF_INIT;
    rgs_buf_printf(&b, "relay-git-sync implied folder");
    rgs_buf_append(&b, "", 1);
    rgs_buf_puts(&b, relay);
    rgs_buf_append(&b, "", 1);
    rgs_buf_puts(&b, folder);
    rgs_buf_append(&b, "", 1);
    rgs_buf_append(&b, path, n);
    char h[65];
    rgs_sha256_hex(b.data, b.len, h);
    rgs_buf_free(&b);
    h[12] = '8';                              /* version 8: custom, name-based */
    h[16] = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3]; /* variant 10 */
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

json_t *rgs_folder_merge(const json_t *filemeta, const json_t *docs, const char *relay,
                         const char *folder)
{
    json_t *out = json_object();
    const char *k;
    size_t kn;
    json_t *v;
    void *tmp;
    if (json_is_object(filemeta))
        json_object_keylen_foreach_safe((json_t *)filemeta, tmp, k, kn, v)
        {
            if (is_markdown(v) && !json_is_string(json_object_getn(docs, k, kn)))
                continue; /* deleted by an old client */
            json_object_setn(out, k, kn, v);
        }
    if (json_is_object(docs))
        json_object_keylen_foreach_safe((json_t *)docs, tmp, k, kn, v)
        {
            if (!json_is_string(v) || (json_is_object(filemeta) && json_object_getn(filemeta, k, kn)))
                continue;
            json_t *m = json_object();
            json_object_set_new(m, "version", json_integer(0));
            json_object_set(m, "id", v);
            json_object_set_new(m, "type", json_string("markdown"));
            json_object_setn_new(out, k, kn, m);
        }
    /* implied parent folders */
    json_t *add = json_object();
    json_object_keylen_foreach_safe(out, tmp, k, kn, v)
    {
        if (kn == 0 || k[0] != '/')
            continue;
        for (size_t i = kn - 1; i > 0; i--) {
            if (k[i] != '/')
                continue;
            if (json_object_getn(out, k, i) || json_object_getn(add, k, i))
                continue;
            char id[37];
            implied_id(relay, folder, k, i, id);
            json_t *m = json_object();
            json_object_set_new(m, "version", json_integer(0));
            json_object_set_new(m, "id", json_string(id));
            json_object_set_new(m, "type", json_string("folder"));
            json_object_set_new(m, "implied", json_true());
            json_object_setn_new(add, k, i, m);
        }
    }
    /* parents before children: shorter keys first */
    size_t na = json_object_size(add);
    if (na) {
        const char **keys = rgs_xcalloc(na, sizeof *keys);
        size_t *lens = rgs_xcalloc(na, sizeof *lens);
        size_t j = 0;
        json_object_keylen_foreach_safe(add, tmp, k, kn, v) { keys[j] = k; lens[j++] = kn; }
        size_t *ord = rgs_xcalloc(na, sizeof *ord);
        for (size_t a = 0; a < na; a++)
            ord[a] = lens[a] * na + a; /* by length, then first appearance */
        qsort(ord, na, sizeof *ord, cmp_size);
        const char **k2 = rgs_xcalloc(na, sizeof *k2);
        size_t *l2 = rgs_xcalloc(na, sizeof *l2);
        for (size_t a = 0; a < na; a++) {
            k2[a] = keys[ord[a] % na];
            l2[a] = lens[ord[a] % na];
        }
        free(ord);
        free(keys);
        free(lens);
        keys = k2;
        lens = l2;
        for (size_t a = 0; a < na; a++)
            json_object_setn(out, keys[a], lens[a], json_object_getn(add, keys[a], lens[a]));
        free(keys);
        free(lens);
    }
    json_decref(add);
    return out;
}

/* JSON object keys cannot hold NUL (jansson refuses them, and so would
 * every NDJSON reader after us), but a filemeta key can.  Rewrite each
 * \u0000 escape inside an object key of the JSON text p[0..n) as \u0001:
 * the key stays a control-character path that rgs-plan refuses (and names)
 * instead of the whole folder failing.  Values are left alone. */
static void nul_keys_to_soh(char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] != '"') {
            i++;
            continue;
        }
        size_t start = ++i;
        while (i < n && p[i] != '"')
            i += p[i] == '\\' ? 2 : 1;
        size_t end = i < n ? i : n;
        i++;
        size_t j = i;
        while (j < n && (p[j] == ' ' || p[j] == '\n' || p[j] == '\t' || p[j] == '\r'))
            j++;
        if (j >= n || p[j] != ':')
            continue;
        for (size_t k = start; k < end; k += p[k] == '\\' ? 2 : 1)
            if (p[k] == '\\' && k + 5 < end && !memcmp(p + k + 1, "u0000", 5))
                p[k + 5] = '1';
    }
}

static json_t *root_json(const rgs_ydoc *d, const char *root, char why[200], bool *bad)
{
    if (!rgs_ydoc_has_root(d, root))
        return NULL;
    rgs_buf b = RGS_BUF_INIT;
    json_t *j = NULL;
    if (rgs_ydoc_json(d, root, RGS_YKIND_MAP, 0, &b) == 0) {
        json_error_t je;
        nul_keys_to_soh(b.data, b.len);
        j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
        if (!j) /* an integer beyond 64 bits (JavaScript prints up to 1e21 as digits): take numbers as reals */
            j = json_loadb(b.data, b.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        if (!j) {
            snprintf(why, 200, "root '%s' did not give JSON: %s", root, je.text);
            *bad = true;
        }
    }
    rgs_buf_free(&b);
    return j;
}

int rgs_folder_from_ydoc(const rgs_ydoc *d, const char *relay, const char *folder, json_t **entries,
                         bool *never, char why[200])
{
    why[0] = 0;
    *entries = NULL;
    *never = rgs_ydoc_never_written(d) || (!rgs_ydoc_has_root(d, "filemeta_v0") && !rgs_ydoc_has_root(d, "docs"));
    if (*never) {
        *entries = json_object();
        return 0;
    }
    bool bad = false;
    json_t *fm = root_json(d, "filemeta_v0", why, &bad);
    json_t *docs = bad ? NULL : root_json(d, "docs", why, &bad);
    if (!bad)
        *entries = rgs_folder_merge(fm, docs, relay, folder);
    json_decref(fm);
    json_decref(docs);
    return bad ? -1 : 0;
}
