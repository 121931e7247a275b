/* Unit tests for rgs_state (relay.md §5.6 shapes).  TAP output.
 * Independent truth: state files in the exact bytes the original Python
 * service writes (json.dump(indent=2)), and python3's json module reading
 * back what we write. */
#include "rgs_state.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int n_test, n_fail;
static void ok(int cond, const char *name)
{
    n_test++;
    if (!cond)
        n_fail++;
    printf("%sok %d - %s\n", cond ? "" : "not ", n_test, name);
}

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

static char *get(const char *name)
{
    char *p = rgs_xasprintf("%s/state/%s/%s", dir, RELAY, name);
    rgs_buf b = RGS_BUF_INIT;
    int rc = rgs_read_file(AT_FDCWD, p, &b, 0);
    free(p);
    if (rc < 0) {
        rgs_buf_free(&b);
        return NULL;
    }
    return rgs_buf_steal(&b, NULL);
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
    char *cmd = rgs_xasprintf("rm -rf '%s'", dir);
    ok(system(cmd) == 0, "cleanup");
    free(cmd);
    printf("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}
