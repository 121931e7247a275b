/* Unit tests for rgs_state (relay.md §5.6 shapes).  TAP output.
 * Independent truth: state files in the exact bytes the original Python
 * service writes (json.dump(indent=2)), and python3's json module reading
 * back what we write. */
#include "rgs_state.h"
#include "rgs_util.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


#define RELAY "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
#define FOLDER "11111111-2222-3333-4444-555555555555"
#define FOLDER2 "22222222-2222-3333-4444-555555555555"
#define DOC_A "aaaaaaaa-0000-4000-8000-000000000001"
#define DOC_B "aaaaaaaa-0000-4000-8000-000000000002"

static char dir[64];

static void put(const char *name, const char *text)
{
    char *p = rgs_xasprintf("%s/state/%s/%s", dir, RELAY, name);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    free(p);
}

/* The bytes of state file `name` of relay `relay`, or NULL when absent. */
static char *get_in(const char *relay, const char *name)
{
    char *p = rgs_xasprintf("%s/state/%s/%s", dir, relay, name);
    rgs_buf b = RGS_BUF_INIT;
    int rc = rgs_read_file(AT_FDCWD, p, &b, 0);
    free(p);
    if (rc < 0) {
        rgs_buf_free(&b);
        return NULL;
    }
    return rgs_buf_steal(&b, NULL);
}

static char *get(const char *name)
{
    return get_in(RELAY, name);
}

/* Bytes as the original service writes them: Python json.dump(obj, f, indent=2). */
static const char *orig_hashes = "{\n  \"" DOC_A "\": "
                                 "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n}";
static const char *orig_folders =
    "{\n  \"" FOLDER "\": {\n    \"/Notes\": {\n      \"id\": \"cccccccc-0000-4000-8000-000000000009\",\n"
    "      \"type\": \"folder\",\n      \"version\": 0\n    },\n"
    "    \"/Notes/a.md\": {\n      \"id\": \"" DOC_A "\",\n      \"type\": \"markdown\",\n"
    "      \"version\": 0\n    },\n"
    "    \"/\\u00fcber.md\": {\n      \"id\": \"AAAAAAAA-0000-4000-8000-000000000002\",\n"
    "      \"type\": \"markdown\",\n      \"version\": 0\n    }\n  },\n  \"" FOLDER2 "\": {}\n}";
static const char *orig_local =
    "{\n  \"" FOLDER "\": {\n    \"/Notes/a.md\": {\n      \"doc_id\": \"" DOC_A "\",\n"
    "      \"hash\": \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\",\n"
    "      \"type\": \"document\",\n      \"modified\": 1755000000.123\n    },\n"
    "    \"old.md\": {\n      \"doc_id\": \"" DOC_B "\",\n      \"hash\": null,\n"
    "      \"type\": \"document\",\n      \"modified\": 1755000000.5\n    },\n"
    "    \"dup.md\": {\n      \"doc_id\": \"x\",\n      \"hash\": null,\n"
    "      \"type\": \"document\",\n      \"modified\": 1\n    },\n"
    "    \"/dup.md\": {\n      \"doc_id\": \"y\",\n      \"hash\": null,\n"
    "      \"type\": \"document\",\n      \"modified\": 2\n    }\n  }\n}";

static void test_missing(void)
{
    rgs_state *s;
    ok(rgs_state_load(dir, RELAY, &s) == 0, "load with no state dir");
    ok(json_object_size(rgs_state_document_hashes(s)) == 0 &&
           json_object_size(rgs_state_shared_folders(s)) == 0 &&
           json_object_size(rgs_state_local_state(s)) == 0,
       "missing files are empty objects");
    ok(!rgs_state_find_doc(s, DOC_A, NULL, NULL, NULL), "find_doc in empty state");
    ok(rgs_state_save(s) == 0, "save unchanged empty state");
    char *p = rgs_xasprintf("%s/state/%s", dir, RELAY);
    struct stat st;
    ok(stat(p, &st) < 0 && errno == ENOENT, "nothing created for an unchanged empty state");
    free(p);
    rgs_state_free(s);
    int saved = rgs_verbosity;
    rgs_verbosity = -1;
    ok(rgs_state_load(dir, "../../etc", &s) < 0 && s == NULL, "non-UUID relay refused");
    rgs_verbosity = saved;
}

static void test_original(void)
{
    char *p = rgs_xasprintf("%s/state/%s", dir, RELAY);
    rgs_mkdirs(p, 0755);
    free(p);
    put("document_hashes.json", orig_hashes);
    put("shared_folders.json", orig_folders);
    put("local_state.json", orig_local);
    rgs_state *s;
    ok(rgs_state_load(dir, RELAY, &s) == 0, "load the original's files");
    const char *folder = NULL, *vpath = NULL;
    json_t *meta = NULL;
    ok(rgs_state_find_doc(s, DOC_A, &folder, &vpath, &meta) && !strcmp(folder, FOLDER) &&
           !strcmp(vpath, "/Notes/a.md") &&
           !strcmp(json_string_value(json_object_get(meta, "type")), "markdown"),
       "find_doc finds a note");
    ok(rgs_state_find_doc(s, "AAAAAAAA-0000-4000-8000-000000000002", &folder, &vpath, NULL) &&
           !strcmp(vpath, "/\xc3\xbc" "ber.md"),
       "find_doc: ids compared lower-cased, \\u escapes decoded");
    ok(!rgs_state_find_doc(s, "cccccccc-0000-4000-8000-000000000009", NULL, NULL, NULL),
       "a folder entry is not a document");
    ok(!rgs_state_find_doc(s, "not-a-uuid", NULL, NULL, NULL), "non-UUID doc");
    json_t *local = rgs_state_folder_local(s, FOLDER, false);
    ok(json_object_get(local, "/old.md") && !json_object_get(local, "old.md"),
       "key without '/' normalised to '/path'");
    ok(!strcmp(json_string_value(json_object_get(json_object_get(local, "/dup.md"), "doc_id")),
               "y") &&
           json_object_size(local) == 3,
       "existing '/path' entry wins over 'path'");
    ok(rgs_state_folder_local(s, FOLDER2, false) == NULL &&
           rgs_state_folder_meta(s, FOLDER2, false) != NULL,
       "folder maps borrowed, NULL when absent");
    ok(!strcmp(rgs_state_relay(s), RELAY), "relay id");

    /* unchanged documents are not rewritten */
    ok(rgs_state_save(s) == 0, "save");
    char *h = get("document_hashes.json");
    ok(h && !strcmp(h, orig_hashes), "document_hashes.json in json.dump bytes already: kept");
    free(h);
    char *f = get("shared_folders.json");
    json_t *fj = json_loads(f ? f : "", 0, NULL), *oj = json_loads(orig_folders, 0, NULL);
    ok(fj && json_equal(fj, oj), "shared_folders.json: same content");
    json_decref(fj);
    json_decref(oj);
    free(f);
    struct stat st1, st2;
    char *fp = rgs_xasprintf("%s/state/%s/shared_folders.json", dir, RELAY);
    stat(fp, &st1);
    rgs_state_free(s);
    ok(rgs_state_load(dir, RELAY, &s) == 0 && rgs_state_save(s) == 0 && stat(fp, &st2) == 0 &&
           st1.st_ino == st2.st_ino,
       "a file already in our format is not rewritten");
    free(fp);
    char *l = get("local_state.json");
    ok(l && strcmp(l, orig_local) && strstr(l, "\"/old.md\"") && !strstr(l, "\"old.md\""),
       "normalised local_state.json rewritten");
    free(l);

    /* modify: move a document in shared_folders, then find it */
    json_t *fm = rgs_state_folder_meta(s, FOLDER, false);
    json_t *m = json_object_get(fm, "/Notes/a.md");
    json_object_set(fm, "/Moved/a.md", m);
    json_object_del(fm, "/Notes/a.md");
    rgs_state_changed(s);
    ok(rgs_state_find_doc(s, DOC_A, NULL, &vpath, NULL) && !strcmp(vpath, "/Moved/a.md"),
       "find_doc after a change");
    json_object_set_new(rgs_state_document_hashes(s), DOC_B, json_string("00"));
    json_object_set_new(rgs_state_folder_meta(s, "33333333-2222-3333-4444-555555555555", true),
                        "/x\xc3\xa9.md",
                        json_pack("{sisss[s]}", "version", 0, "id", DOC_B, "type", "markdown"));
    ok(rgs_state_save(s) == 0, "save changes");
    rgs_state_free(s);

    ok(rgs_state_load(dir, RELAY, &s) == 0, "reload");
    ok(rgs_state_find_doc(s, DOC_A, NULL, &vpath, NULL) && !strcmp(vpath, "/Moved/a.md"),
       "change persisted");
    ok(!strcmp(json_string_value(json_object_get(rgs_state_document_hashes(s), DOC_B)), "00"),
       "new hash persisted");
    rgs_state_free(s);

    /* python3 reads what we wrote, with the shapes of §5.6 */
    char *cmd = rgs_xasprintf(
        "cd '%s/state/%s' && python3 -c 'import json,sys\n"
        "h=json.load(open(\"document_hashes.json\"))\n"
        "f=json.load(open(\"shared_folders.json\"))\n"
        "l=json.load(open(\"local_state.json\"))\n"
        "assert all(isinstance(v,str) for v in h.values())\n"
        "assert \"/x\\u00e9.md\" in f[\"33333333-2222-3333-4444-555555555555\"]\n"
        "assert l[\"" FOLDER "\"][\"/Notes/a.md\"][\"modified\"]==1755000000.123\n"
        "s=open(\"shared_folders.json\").read()\n"
        "assert s==json.dumps(f,indent=2,sort_keys=True), \"not json.dump bytes\"\n"
        "assert not s.endswith(\"\\n\")'",
        dir, RELAY);
    ok(system(cmd) == 0, "python3 json reads our files; shared_folders bytes == json.dump(indent=2, sort_keys)");
    free(cmd);
}

static void test_bad(void)
{
    rgs_state *s;
    int saved = rgs_verbosity;
    rgs_verbosity = -1;
    put("document_hashes.json", "{\"a\": 1}");
    ok(rgs_state_load(dir, RELAY, &s) < 0, "hash value not a string refused");
    put("document_hashes.json", "{");
    ok(rgs_state_load(dir, RELAY, &s) < 0, "malformed JSON refused");
    put("document_hashes.json", "{}");
    put("shared_folders.json", "{\"f\": []}");
    ok(rgs_state_load(dir, RELAY, &s) < 0, "folder map not an object refused");
    put("shared_folders.json", "{\"f\": {\"/a\": 3}}");
    ok(rgs_state_load(dir, RELAY, &s) < 0, "meta not an object refused");
    put("shared_folders.json", "[]");
    ok(rgs_state_load(dir, RELAY, &s) < 0, "top level not an object refused");
    put("shared_folders.json", "{}");
    put("local_state.json", "{\"f\": {\"/a\": \"x\"}}");
    ok(rgs_state_load(dir, RELAY, &s) < 0, "local entry not an object refused");
    put("local_state.json", "{}");
    ok(rgs_state_load(dir, RELAY, &s) == 0, "good again");
    rgs_state_free(s);
    /* a temporary file left by a writer that died is removed on save */
    char *stale = rgs_xasprintf("%s/state/%s/.local_state.json.tmp.999999.3", dir, RELAY);
    FILE *sf = fopen(stale, "w");
    fputs("{", sf);
    fclose(sf);
    ok(rgs_state_load(dir, RELAY, &s) == 0, "load with a stale temporary file");
    json_object_set_new(rgs_state_document_hashes(s), DOC_B, json_string("ee"));
    ok(rgs_state_save(s) == 0 && access(stale, F_OK) < 0, "save removes the stale temporary file");
    rgs_state_free(s);
    free(stale);
    /* a symlinked state file is not followed on save */
    char *p = rgs_xasprintf("%s/state/%s/document_hashes.json", dir, RELAY);
    char *target = rgs_xasprintf("%s/outside", dir);
    FILE *o = fopen(target, "w");
    fputs("{}", o);
    fclose(o);
    unlink(p);
    ok(symlink(target, p) == 0, "plant symlink");
    ok(rgs_state_load(dir, RELAY, &s) == 0, "load through symlink (read only)");
    json_object_set_new(rgs_state_document_hashes(s), DOC_A, json_string("ff"));
    ok(rgs_state_save(s) == 0, "save");
    rgs_state_free(s);
    rgs_buf b = RGS_BUF_INIT;
    rgs_read_file(AT_FDCWD, target, &b, 0);
    struct stat st;
    ok(!strcmp(b.data, "{}") && lstat(p, &st) == 0 && S_ISREG(st.st_mode),
       "save replaced the symlink, target untouched");
    rgs_buf_free(&b);
    free(p);
    free(target);
    rgs_verbosity = saved;
}


/* ------------------------------------------------------------ lazy handles */

#define RELAY2 "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5c"
#define NDOCS 2000
static char *docid(int i)
{
    return rgs_xasprintf("dddddddd-0000-4000-8000-%012d", i);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool same_json(json_t *a, json_t *b)
{
    return (!a && !b) || (a && b && json_equal(a, b));
}

/* every lookup of a lazy handle equals that of a complete one */
static int compare_all(rgs_state *lazy, rgs_state *full, int n)
{
    int bad = 0;
    for (int i = 0; i < n; i++) {
        char *d = docid(i);
        rgs_state_doc a, b;
        int ra = rgs_state_doc_get(lazy, d, &a), rb = rgs_state_doc_get(full, d, &b);
        if (ra != rb || !same_str(a.folder, b.folder) || !same_str(a.vpath, b.vpath) ||
            !same_str(a.hash, b.hash) || !same_json(a.meta, b.meta) || !same_json(a.local, b.local)) {
            if (bad++ < 3)
                printf("# differs: %s (%d %s %s / %d %s %s)\n", d, ra, a.vpath ? a.vpath : "-",
                       a.hash ? a.hash : "-", rb, b.vpath ? b.vpath : "-", b.hash ? b.hash : "-");
        }
        free(d);
    }
    return bad;
}

static void test_lazy(void)
{
    /* a state of NDOCS documents: doc i is at "/d<i%10>/n<i> ä.md" of
     * FOLDER, except: every 7th only has a hash (deleted from the folder),
     * doc 5 is also listed in FOLDER2 (FOLDER sorts first and wins), doc 6
     * has an upper-case id in filemeta, doc 8 has no local entry */
    rgs_state *w;
    ok(rgs_state_open(dir, RELAY2, RGS_STATE_WRITER, &w) == 0 && !rgs_state_is_full(w),
       "lazy: open reads nothing");
    ok(rgs_state_full(w) == 0 && rgs_state_is_full(w), "lazy: full load of an empty state");
    json_t *fm = rgs_state_folder_meta(w, FOLDER, true), *lo = rgs_state_folder_local(w, FOLDER, true);
    json_t *fm2 = rgs_state_folder_meta(w, FOLDER2, true);
    for (int i = 0; i < NDOCS; i++) {
        char *d = docid(i), *vp = rgs_xasprintf("/d%d/n%d \xc3\xa4.md", i % 10, i);
        char hash[65];
        snprintf(hash, sizeof hash, "%064d", i);
        json_object_set_new(rgs_state_document_hashes(w), d, json_string(hash));
        if (i % 7 != 3) {
            char *id = rgs_xstrdup(d);
            if (i == 6)
                for (char *c = id; *c; c++)
                    if (*c >= 'a' && *c <= 'f')
                        *c = (char)(*c - 32);
            json_object_set_new(fm, vp, json_pack("{sisss[s]}", "version", 0, "id", id, "type", "markdown"));
            if (i != 8)
                json_object_set_new(lo, vp, json_pack("{sssssssf}", "doc_id", d, "hash", hash, "type",
                                                      "document", "modified", 1755000000.25 + i));
            free(id);
        }
        if (i == 5)
            json_object_set_new(fm2, "/again.md", json_pack("{sisss[s]}", "version", 0, "id", d, "type", "markdown"));
        free(d);
        free(vp);
    }
    json_object_set_new(fm, "/d1", json_pack("{siss}", "version", 0, "type", "folder"));
    ok(rgs_state_save(w) == 0, "lazy: save a state of 2000 documents");
    rgs_state_free(w);
    char *idx = get_in(RELAY2, "doc_index.ndjson");
    ok(idx && !strncmp(idx, "{\"rgs_doc_index\":1,", 19), "lazy: the index is written with the files");
    free(idx);

    rgs_state *lz, *fl;
    rgs_state_open(dir, RELAY2, 0, &lz);
    rgs_state_load(dir, RELAY2, &fl);
    ok(compare_all(lz, fl, NDOCS + 5) == 0, "lazy: every lookup equals the complete state's");
    rgs_state_doc d5;
    char *id5 = docid(5), *id6 = docid(6);
    ok(rgs_state_doc_get(lz, id5, &d5) == 1 && !strcmp(d5.folder, FOLDER),
       "lazy: a document listed twice: the first folder in sorted order wins");
    rgs_state_doc d6;
    char up6[37];
    snprintf(up6, sizeof up6, "%s", id6);
    up6[0] = 'D';
    ok(rgs_state_doc_get(lz, up6, &d6) == 1 && d6.vpath && !strcmp(d6.vpath, "/d6/n6 \xc3\xa4.md"),
       "lazy: ids compared lower-cased");
    ok(rgs_state_has_folder(lz, FOLDER) == 1 && rgs_state_has_folder(lz, FOLDER2) == 1 &&
           rgs_state_has_folder(lz, "33333333-2222-3333-4444-555555555555") == 0,
       "lazy: has_folder from the index");
    ok(!rgs_state_is_full(lz), "lazy: lookups did not load the state files");
    rgs_state_free(lz);

    /* a lazy writer: a note rewritten in place goes to pending/ */
    char *h_before = get_in(RELAY2, "document_hashes.json"), *l_before = get_in(RELAY2, "local_state.json");
    rgs_state_open(dir, RELAY2, RGS_STATE_WRITER, &w);
    char *id1 = docid(1);
    const char *vp1 = "/d1/n1 \xc3\xa4.md";
    const char *newh = "1111111111111111111111111111111111111111111111111111111111111111";
    json_t *e1 = json_pack("{sssssssf}", "doc_id", id1, "hash", newh, "type", "document", "modified", 1.5);
    ok(rgs_state_doc_prepare(w, id1, FOLDER, vp1, "document") == 0 && !rgs_state_is_full(w),
       "pending: a note in place keeps the writer lazy");
    ok(rgs_state_doc_set(w, id1, FOLDER, vp1, newh, e1) == 0 && rgs_state_save(w) == 0,
       "pending: set and save");
    ok(!rgs_state_is_full(w), "pending: still lazy after the save");
    rgs_state_free(w);
    char *pf = rgs_xasprintf("pending/%s.json", id1);
    char *pending = get_in(RELAY2, pf);
    char *h_after = get_in(RELAY2, "document_hashes.json"), *l_after = get_in(RELAY2, "local_state.json");
    char *sincef = get_in(RELAY2, "pending/since");
    ok(pending && strstr(pending, newh) && sincef, "pending: pending/<doc>.json and pending/since written");
    free(sincef);
    ok(!strcmp(h_before, h_after) && !strcmp(l_before, l_after),
       "pending: the state files are not rewritten");
    free(h_after);
    free(l_after);
    size_t np;
    double since;
    bool iok;
    rgs_state_open(dir, RELAY2, 0, &lz);
    ok(rgs_state_status(lz, &np, &since, &iok) == 0 && np == 1 && since > 1.7e9 && iok,
       "pending: status: one pending, its time, index still valid");
    rgs_state_doc d1;
    ok(rgs_state_doc_get(lz, id1, &d1) == 1 && !strcmp(d1.hash, newh) &&
           json_equal(d1.local, e1) && !rgs_state_is_full(lz),
       "pending: a lazy reader sees the change");
    rgs_state_free(lz);
    rgs_state_free(fl);
    rgs_state_load(dir, RELAY2, &fl);
    ok(!strcmp(json_string_value(json_object_get(rgs_state_document_hashes(fl), id1)), newh) &&
           json_equal(json_object_get(rgs_state_folder_local(fl, FOLDER, false), vp1), e1),
       "pending: a complete load applies it");
    int saved = rgs_verbosity;
    rgs_verbosity = -1;
    ok(rgs_state_save(fl) < 0, "pending: a reader that loaded pending changes cannot save");
    rgs_verbosity = saved;
    rgs_state_open(dir, RELAY2, 0, &lz);
    ok(compare_all(lz, fl, NDOCS) == 0, "pending: lazy lookups equal the complete state's");
    rgs_state_free(lz);

    /* not in place: the writer loads everything */
    rgs_state_open(dir, RELAY2, RGS_STATE_WRITER, &w);
    char *id2 = docid(2);
    ok(rgs_state_doc_prepare(w, id2, FOLDER, "/elsewhere.md", "document") == 0 && rgs_state_is_full(w),
       "compaction: a write to another path loads everything");
    char *pending2 = get_in(RELAY2, pf);
    h_after = get_in(RELAY2, "document_hashes.json");
    sincef = get_in(RELAY2, "pending/since");
    ok(!pending2 && h_after && strstr(h_after, newh) && !sincef,
       "compaction: the writer's complete load folded pending/ into the files");
    free(h_after);
    ok(rgs_state_save(w) == 0, "compaction: save");
    rgs_state_free(w);
    rgs_state_open(dir, RELAY2, 0, &lz);
    ok(rgs_state_status(lz, &np, &since, &iok) == 0 && np == 0 && since == 0 && iok,
       "compaction: nothing pending, index rebuilt");
    ok(compare_all(lz, fl, NDOCS) == 0 && !rgs_state_is_full(lz),
       "compaction: lazy lookups (new index) equal the state before");
    rgs_state_free(lz);

    /* a crash between the files and the removal of pending/: the same
     * change applied again changes nothing */
    char *pp = rgs_xasprintf("%s/state/%s/%s", dir, RELAY2, pf);
    FILE *f = fopen(pp, "w");
    fputs(pending, f);
    fclose(f);
    rgs_state_open(dir, RELAY2, 0, &lz);
    ok(compare_all(lz, fl, NDOCS) == 0, "replay: a pending change already in the files changes nothing");
    rgs_state_free(lz);
    unlink(pp);

    /* the original service rewrites a file (stale index): lookups read the files */
    json_t *sf = json_deep_copy(rgs_state_shared_folders(fl));
    json_t *m = json_object_get(json_object_get(sf, FOLDER), vp1);
    json_object_set(json_object_get(sf, FOLDER), "/moved.md", m);
    json_object_del(json_object_get(sf, FOLDER), vp1);
    char *t = json_dumps(sf, JSON_INDENT(2));
    char *sp = rgs_xasprintf("%s/state/%s/shared_folders.json", dir, RELAY2);
    f = fopen(sp, "w"); /* in place, as Python's json.dump */
    fputs(t, f);
    fclose(f);
    free(t);
    json_decref(sf);
    rgs_state_open(dir, RELAY2, 0, &lz);
    ok(rgs_state_doc_get(lz, id1, &d1) == 1 && !strcmp(d1.vpath, "/moved.md") && rgs_state_is_full(lz),
       "stale index: lookups fall back to the files");
    rgs_state_free(lz);
    rgs_state_open(dir, RELAY2, RGS_STATE_WRITER, &w);
    ok(rgs_state_status(w, &np, &since, &iok) == 0 && !iok, "stale index: status says so");
    ok(rgs_state_full(w) == 0 && rgs_state_save(w) == 0, "stale index: the writer rebuilds it");
    rgs_state_free(w);
    rgs_state_open(dir, RELAY2, 0, &lz);
    ok(rgs_state_doc_get(lz, id1, &d1) == 1 && !strcmp(d1.vpath, "/moved.md") && !rgs_state_is_full(lz),
       "stale index: rebuilt, lazy again");
    rgs_state_free(lz);
    rgs_state_free(fl);
    rgs_state_load(dir, RELAY2, &fl);

    /* a damaged index line: the files are read instead */
    char *ip = rgs_xasprintf("%s/state/%s/doc_index.ndjson", dir, RELAY2);
    int fd = open(ip, O_RDWR);
    struct stat st;
    fstat(fd, &st);
    for (off_t off = st.st_size / 2; off < st.st_size; off++) {
        char c;
        if (pread(fd, &c, 1, off) == 1 && c == '\n') {
            if (pwrite(fd, "x", 1, off + 1) != 1)
                break;
            break;
        }
    }
    close(fd);
    rgs_state_open(dir, RELAY2, 0, &lz);
    rgs_verbosity = -1;
    int bad = compare_all(lz, fl, NDOCS);
    rgs_verbosity = saved;
    ok(bad == 0, "damaged index: lookups still right (the files are read)");
    ok(rgs_state_is_full(lz), "damaged index: the state was loaded completely");
    rgs_state_free(lz);
    free(ip);
    free(sp);
    free(pp);
    free(pf);
    free(pending);
    free(pending2);
    free(h_before);
    free(l_before);
    json_decref(e1);
    free(id1);
    free(id2);
    free(id5);
    free(id6);
    rgs_state_free(fl);
}

/* pre.list_sha256 (rgs-records(5) "pre"): the truth is python3's
 * json.dumps(separators=(",",":"), sort_keys=True) (the same text as
 * jq -cS) hashed by hashlib. */
static void test_list_sha256(void)
{
    const char *text = "{\"/b.md\":{\"type\":\"markdown\",\"id\":\"" DOC_B "\"},"
                       "\"/a/\u00e9 x.md\":{\"version\":0,\"id\":\"" DOC_A "\","
                       "\"type\":\"file\",\"hash\":null,\"tags\":[\"z\",\"a\"]}}";
    json_t *list = json_loads(text, 0, NULL);
    char h[65] = "";
    rgs_state_list_sha256(list, h);
    json_decref(list);
    char *in = rgs_xasprintf("%s/list.json", dir);
    FILE *f = fopen(in, "w");
    fputs(text, f);
    fclose(f);
    char *cmd = rgs_xasprintf(
        "python3 -c 'import json,sys,hashlib\n"
        "o=json.load(open(sys.argv[1]))\n"
        "t=json.dumps(o,separators=(\",\",\":\"),sort_keys=True,ensure_ascii=False)\n"
        "print(hashlib.sha256(t.encode()).hexdigest())' '%s'",
        in);
    FILE *p = popen(cmd, "r");
    char want[80] = "";
    if (p) {
        if (!fgets(want, sizeof want, p))
            want[0] = '\0';
        pclose(p);
    }
    want[strcspn(want, "\n")] = '\0';
    ok(strlen(h) == 64 && !strcmp(h, want), "list_sha256 == sha256 of python3's compact sorted dump");
    unlink(in);
    free(in);
    free(cmd);
}

int main(void)
{
    strcpy(dir, "/tmp/rgs-state-XXXXXX");
    const char *t = getenv("RGS_TMP");
    if (t) {
        char *d = rgs_xasprintf("%s/rgs-state-XXXXXX", t);
        snprintf(dir, sizeof dir, "%s", d);
        free(d);
    }
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_missing();
    test_original();
    test_bad();
    test_lazy();
    test_list_sha256();
    char *cmd = rgs_xasprintf("rm -rf '%s'", dir);
    ok(system(cmd) == 0, "cleanup");
    free(cmd);
    return tap_done();
}
