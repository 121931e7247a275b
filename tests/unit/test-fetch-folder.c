/* Unit tests of lib/rgs_folder: filemeta_v0 + legacy docs merge (relay.md
 * §3.1, the plugin's SyncStore.getMeta/migrateUp semantics). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "rgs_folder.h"
#include "rgs_util.h"

static int n, failed;
#define R "11111111-2222-4333-8444-555555555555"
#define F "66666666-7777-4888-9999-aaaaaaaaaaaa"

static void check(const char *name, const char *fm, const char *docs, const char *want)
{
    json_t *a = fm ? json_loads(fm, 0, NULL) : NULL, *b = docs ? json_loads(docs, 0, NULL) : NULL;
    json_t *got = rgs_folder_merge(a, b, R, F);
    char *g = json_dumps(got, JSON_COMPACT | JSON_PRESERVE_ORDER);
    n++;
    if (strcmp(g, want) == 0)
        printf("ok %d - %s\n", n, name);
    else {
        failed++;
        printf("not ok %d - %s\n# got:  %s\n# want: %s\n", n, name, g, want);
    }
    free(g);
    json_decref(got);
    json_decref(a);
    json_decref(b);
}

int main(void)
{
    check("no roots: no entries", NULL, NULL, "{}");
    check("markdown with a docs entry is live; others need none",
          "{\"/a\":{\"version\":0,\"id\":\"x\",\"type\":\"folder\"},\"/a/n.md\":{\"version\":0,\"id\":\"d\",\"type\":\"markdown\"},"
          "\"/a/c.canvas\":{\"version\":0,\"id\":\"c\",\"type\":\"canvas\"}}",
          "{\"/a/n.md\":\"d\"}",
          "{\"/a\":{\"version\":0,\"id\":\"x\",\"type\":\"folder\"},\"/a/n.md\":{\"version\":0,\"id\":\"d\",\"type\":\"markdown\"},"
          "\"/a/c.canvas\":{\"version\":0,\"id\":\"c\",\"type\":\"canvas\"}}");
    check("markdown without a docs entry is deleted (old client)",
          "{\"/n.md\":{\"version\":0,\"id\":\"d\",\"type\":\"markdown\"},\"/o.md\":{\"version\":0,\"id\":\"e\",\"type\":\"markdown\"}}",
          "{\"/o.md\":\"e\"}", "{\"/o.md\":{\"version\":0,\"id\":\"e\",\"type\":\"markdown\"}}");
    check("docs entry without filemeta is a live document, after the filemeta entries",
          "{\"/z.png\":{\"version\":0,\"id\":\"p\",\"type\":\"image\",\"hash\":\"h\"}}", "{\"/b.md\":\"g\"}",
          "{\"/z.png\":{\"version\":0,\"id\":\"p\",\"type\":\"image\",\"hash\":\"h\"},"
          "\"/b.md\":{\"version\":0,\"id\":\"g\",\"type\":\"markdown\"}}");
    check("filemeta wins over docs for the same path (the docs guid is not used)",
          "{\"/n.md\":{\"version\":0,\"id\":\"d\",\"type\":\"markdown\"}}", "{\"/n.md\":\"other\"}",
          "{\"/n.md\":{\"version\":0,\"id\":\"d\",\"type\":\"markdown\"}}");
    check("a docs value that is not a string is ignored", NULL, "{\"/n.md\":5}", "{}");
    /* implied parents: ids are name-based; check the shape, then stability */
    json_t *d = json_loads("{\"/x/y/n.md\":\"g\"}", 0, NULL);
    json_t *m1 = rgs_folder_merge(NULL, d, R, F), *m2 = rgs_folder_merge(NULL, d, R, F);
    const char *k;
    json_t *v;
    char order[200] = "";
    json_object_foreach(m1, k, v) { strcat(order, k); strcat(order, " "); }
    n++;
    if (!strcmp(order, "/x/y/n.md /x /x/y ")) printf("ok %d - implied parents, shorter first\n", n);
    else { failed++; printf("not ok %d - implied parents order: %s\n", n, order); }
    json_t *x = json_object_get(m1, "/x");
    const char *id = json_string_value(json_object_get(x, "id"));
    n++;
    if (id && rgs_uuid_valid(id) && id[14] == '8' && json_is_true(json_object_get(x, "implied")) &&
        !strcmp(json_string_value(json_object_get(x, "type")), "folder") &&
        json_equal(m1, m2) && strcmp(id, json_string_value(json_object_get(json_object_get(m1, "/x/y"), "id"))))
        printf("ok %d - implied folder: stable v8 UUID, type folder, implied true\n", n);
    else { failed++; printf("not ok %d - implied folder entry\n", n); }
    json_decref(m1);
    json_decref(m2);
    json_decref(d);
    check("hostile keys pass through unchanged (later stages refuse them)",
          "{\"/.GIT\":{\"version\":0,\"id\":\"q\",\"type\":\"canvas\"},\"rel\":7,\"/x\":[]}", NULL,
          "{\"/.GIT\":{\"version\":0,\"id\":\"q\",\"type\":\"canvas\"},\"rel\":7,\"/x\":[]}");
    printf("1..%d\n", n);
    return failed != 0;
}
