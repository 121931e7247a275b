/* Unit tests for rgs_spool (lib/rgs_spool.h).  TAP output.
 * Truth: the file system itself (what readdir/stat/read see after each
 * call), and jansson parsing the bytes written. */
#include "rgs_spool.h"
#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int n_test, n_fail;
static void ok(int cond, const char *name)
{
    n_test++;
    if (!cond)
        n_fail++;
    printf("%sok %d - %s\n", cond ? "" : "not ", n_test, name);
    fflush(stdout);
}

static char root[4096];

static char *dd(const char *name)
{
    char *p = rgs_xasprintf("%s/%s", root, name);
    rgs_mkdirs(p, 0700);
    return p;
}

static json_t *hook(int i)
{
    json_t *r = json_pack("{s:i,s:s,s:s,s:s,s:i}", "v", 1, "type", "webhook", "relay",
                          "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "resource",
                          "11111111-2222-3333-4444-555555555555", "n", i);
    return r;
}

static int count_files(const char *dir, const char *sub)
{
    char *p = rgs_xasprintf("%s/spool/%s", dir, sub);
    DIR *d = opendir(p);
    free(p);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static bool exists(const char *dir, const char *sub, const char *name)
{
    char *p = rgs_xasprintf("%s/spool/%s/%s", dir, sub, name);
    struct stat st;
    bool r = stat(p, &st) == 0;
    free(p);
    return r;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
        rgs_write_all(fd, text, strlen(text));
        close(fd);
    }
}

static void test_names(void)
{
    unsigned a = 99;
    ok(rgs_spool_name_valid("1772575128.123456789.4242.0", &a) && a == 0, "name valid");
    ok(rgs_spool_name_valid("1772575128.123456789.4242.0.a12", &a) && a == 12,
       "name with attempts");
    ok(!rgs_spool_name_valid("../1772575128.123456789.4242.0", NULL), "name traversal");
    ok(!rgs_spool_name_valid("1772575128.123456789.4242.0.a", NULL), "name empty attempts");
    ok(!rgs_spool_name_valid("1772575128.12345678.4242.0", NULL), "name short nanoseconds");
    ok(!rgs_spool_name_valid("1772575128.123456789.4242.0/x", NULL), "name slash");
    ok(!rgs_spool_name_valid(".1772575128.123456789.4242.0", NULL), "name dot file");
    ok(!rgs_spool_name_valid("", NULL), "name empty");
}

static void test_basic(void)
{
    char *d = dd("basic");
    ok(rgs_spool_depth(d) == 0, "depth of a data dir without spool is 0");
    rgs_spool_entry *e;
    size_t n = 5;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 0 && e == NULL, "claim without spool: none");

    char names[5][96];
    bool all = true;
    for (int i = 0; i < 5; i++) {
        json_t *r = hook(i);
        all = all && rgs_spool_put(d, r, names[i]) == 0 && rgs_spool_name_valid(names[i], NULL);
        json_decref(r);
    }
    ok(all, "put 5");
    ok(strcmp(names[0], names[1]) < 0 && strcmp(names[1], names[2]) < 0 &&
           strcmp(names[2], names[3]) < 0 && strcmp(names[3], names[4]) < 0,
       "names sort by arrival");
    ok(count_files(d, "new") == 5 && count_files(d, "tmp") == 0, "5 in new/, tmp/ empty");
    ok(rgs_spool_depth(d) == 5, "depth 5");

    char *path = rgs_xasprintf("%s/spool/new/%s", d, names[0]);
    rgs_buf b = RGS_BUF_INIT;
    rgs_read_file(AT_FDCWD, path, &b, 0);
    ok(b.len > 0 && b.data[b.len - 1] == '\n' && memchr(b.data, '\n', b.len) == b.data + b.len - 1,
       "entry is one line ending in newline");
    json_t *back = json_loadb(b.data, b.len, 0, NULL);
    ok(back && json_integer_value(json_object_get(back, "n")) == 0 &&
           !strcmp(json_string_value(json_object_get(back, "type")), "webhook"),
       "entry holds the record");
    json_decref(back);
    rgs_buf_free(&b);
    struct stat st;
    ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "entry mode 0600");
    free(path);

    ok(rgs_spool_claim(d, 2, &e, &n) == 0 && n == 2, "claim max 2 gives 2");
    ok(n == 2 && !strcmp(e[0].name, names[0]) && !strcmp(e[1].name, names[1]) &&
           e[0].attempts == 0 && json_integer_value(json_object_get(e[1].record, "n")) == 1,
       "claimed the oldest, in order, with records");
    ok(count_files(d, "new") == 3 && count_files(d, "cur") == 2, "moved to cur/");
    ok(rgs_spool_depth(d) == 5, "depth counts cur/ too");
    rgs_spool_entries_free(e, n);

    /* a crashed batch: claim again without ack returns the leftovers too */
    ok(rgs_spool_claim(d, 1, &e, &n) == 0 && n == 3 && !strcmp(e[0].name, names[0]) &&
           !strcmp(e[2].name, names[2]),
       "leftovers in cur/ come back with the next claim");
    rgs_spool_entries_free(e, n);

    ok(rgs_spool_ack(d, names[0]) == 0 && !exists(d, "cur", names[0]), "ack removes");
    ok(rgs_spool_ack(d, names[0]) == 0, "ack twice is harmless");
    ok(rgs_spool_depth(d) == 4, "depth 4 after ack");

    ok(rgs_spool_requeue(d, names[1], "HTTP 503") == 0 && !exists(d, "cur", names[1]),
       "requeue leaves cur/");
    char requeued[120];
    snprintf(requeued, sizeof requeued, "%s.a1", names[1]);
    ok(exists(d, "new", requeued), "requeued entry in new/ with attempts 1 in its name");
    ok(rgs_spool_requeue(d, names[1], "again") == -1 && errno == ENOENT,
       "requeue of an entry not in cur/ is ENOENT");

    ok(rgs_spool_fail(d, names[2], "permanent: bad id") == 0 && exists(d, "failed", names[2]) &&
           !exists(d, "cur", names[2]),
       "fail moves to failed/");
    char *rp = rgs_xasprintf("%s/spool/failed/%s.reason", d, names[2]);
    rgs_read_file(AT_FDCWD, rp, &b, 0);
    ok(b.data && !strcmp(b.data, "permanent: bad id\n"), "failed reason written");
    rgs_buf_free(&b);
    free(rp);
    ok(rgs_spool_depth(d) == 3, "depth excludes failed/");

    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 3, "claim all");
    ok(n == 3 && !strcmp(e[0].name, requeued) && e[0].attempts == 1 &&
           !strcmp(e[1].name, names[3]) && !strcmp(e[2].name, names[4]),
       "requeued entry keeps its arrival place and counts attempts");
    bool acked = true;
    for (size_t i = 0; i < n; i++)
        acked = acked && rgs_spool_ack(d, e[i].name) == 0;
    rgs_spool_entries_free(e, n);
    ok(acked && rgs_spool_depth(d) == 0, "all acked, depth 0");

    ok(rgs_spool_ack(d, "../../etc/passwd") == -1 && errno == EINVAL, "ack refuses a bad name");
    ok(rgs_spool_requeue(d, "x", NULL) == -1 && errno == EINVAL, "requeue refuses a bad name");
    ok(rgs_spool_fail(d, "cur/../x", "y") == -1 && errno == EINVAL, "fail refuses a bad name");
    char nm[96];
    json_t *arr = json_array();
    ok(rgs_spool_put(d, arr, nm) == -1 && errno == EINVAL, "put refuses a non-object");
    json_decref(arr);
    free(d);
}

static void test_bad_entries(void)
{
    char *d = dd("bad");
    json_t *r = hook(1);
    char nm[96];
    rgs_spool_put(d, r, nm);
    json_decref(r);
    char *p = rgs_xasprintf("%s/spool/new/1000000000.000000000.1.1", d);
    write_file(p, "{not json\n");
    free(p);
    p = rgs_xasprintf("%s/spool/new/1000000000.000000000.1.2", d);
    write_file(p, "{\"v\":2,\"type\":\"webhook\"}\n");
    free(p);
    p = rgs_xasprintf("%s/spool/new/.hidden", d);
    write_file(p, "x");
    free(p);
    p = rgs_xasprintf("%s/spool/new/stray.txt", d);
    write_file(p, "x");
    free(p);
    ok(rgs_spool_depth(d) == 3, "depth ignores strays");
    int saved = rgs_verbosity;
    rgs_verbosity = -1;
    rgs_spool_entry *e;
    size_t n;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 1 && !strcmp(e[0].name, nm),
       "claim returns only the good entry");
    rgs_verbosity = saved;
    rgs_spool_entries_free(e, n);
    ok(exists(d, "failed", "1000000000.000000000.1.1") &&
           exists(d, "failed", "1000000000.000000000.1.1.reason") &&
           exists(d, "failed", "1000000000.000000000.1.2"),
       "unreadable entries moved to failed/ with a reason");
    ok(exists(d, "new", "stray.txt") && exists(d, "new", ".hidden"), "strays left alone");

    /* stale and fresh tmp files */
    p = rgs_xasprintf("%s/spool/tmp/1000000000.000000000.1.3", d);
    write_file(p, "partial");
    struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
    utimensat(AT_FDCWD, p, old, 0);
    free(p);
    p = rgs_xasprintf("%s/spool/tmp/1000000000.000000000.1.4", d);
    write_file(p, "in progress");
    free(p);
    ok(rgs_spool_claim(d, 0, &e, &n) == 0, "claim again");
    rgs_spool_entries_free(e, n);
    ok(!exists(d, "tmp", "1000000000.000000000.1.3") && exists(d, "tmp", "1000000000.000000000.1.4"),
       "stale tmp file removed, fresh one kept");
    free(d);
}

static void test_unwritable(void)
{
    char *d = dd("unwritable");
    char *sp = rgs_xasprintf("%s/spool", d);
    rgs_mkdirs(sp, 0700);
    char *t = rgs_xasprintf("%s/tmp", sp);
    rgs_mkdirs(t, 0700);
    char *nw = rgs_xasprintf("%s/new", sp);
    write_file(nw, "a file where new/ should be");
    json_t *r = hook(1);
    char nm[96];
    errno = 0;
    ok(rgs_spool_put(d, r, nm) == -1 && errno == ENOTDIR, "put fails when new/ is not a directory");
    ok(count_files(d, "tmp") == 0, "nothing left in tmp/ after a failed put");
    json_decref(r);
    free(nw);
    free(t);
    free(sp);
    free(d);
}

static void test_concurrent(void)
{
    char *d = dd("conc");
    enum { KIDS = 6, EACH = 40 };
    for (int k = 0; k < KIDS; k++) {
        pid_t p = fork();
        if (p == 0) {
            for (int i = 0; i < EACH; i++) {
                json_t *r = hook(k * 1000 + i);
                char nm[96];
                if (rgs_spool_put(d, r, nm) < 0)
                    _exit(1);
                json_decref(r);
            }
            _exit(0);
        }
    }
    int bad = 0, st;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            bad++;
    ok(bad == 0, "6 processes x 40 puts succeed");
    ok(rgs_spool_depth(d) == KIDS * EACH, "depth 240");
    rgs_spool_entry *e;
    size_t n;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == KIDS * EACH, "claim 240");
    /* each child's entries are in its own put order */
    int last[KIDS];
    for (int k = 0; k < KIDS; k++)
        last[k] = -1;
    bool ordered = true, sorted = true;
    for (size_t i = 0; i < n; i++) {
        int v = (int)json_integer_value(json_object_get(e[i].record, "n"));
        int k = v / 1000, j = v % 1000;
        if (k < 0 || k >= KIDS || j != last[k] + 1)
            ordered = false;
        else
            last[k] = j;
        if (i && strcmp(e[i - 1].name, e[i].name) >= 0)
            sorted = false;
    }
    ok(ordered, "every writer's entries come back in its order");
    ok(sorted, "claim returns names sorted");
    rgs_spool_entries_free(e, n);
    free(d);
}

int main(int argc, char **argv)
{
    (void)argc;
    rgs_set_progname(argv[0]);
    const char *tmp = getenv("RGS_TMP");
    snprintf(root, sizeof root, "%s/test-intake-spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_names();
    test_basic();
    test_bad_entries();
    test_unwritable();
    test_concurrent();
    printf("1..%d\n", n_test);
    if (!n_fail) {
        char *cmd = rgs_xasprintf("rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "cleanup of %s failed\n", root);
        free(cmd);
    }
    return n_fail ? 1 : 0;
}
