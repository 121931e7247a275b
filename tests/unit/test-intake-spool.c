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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"


static char root[4096];

/* fsync(2) as the spool code linked into this program sees it (a
 * definition in the program takes precedence over libc's): normally the
 * real system call.  With gate_fd set, the first fsync of the directory
 * with inode gate_ino writes a byte to note_fd and waits for a byte on
 * gate_fd before syncing (a writer paused in the middle of making a new
 * log durable); with fail_ino set, fsync of that directory fails with
 * EIO. */
static int gate_fd = -1, note_fd = -1;
static ino_t gate_ino, fail_ino;
int fsync(int fd)
{
    struct stat st;
    if ((gate_fd >= 0 || fail_ino) && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
        (st.st_ino == gate_ino || st.st_ino == fail_ino)) {
        if (st.st_ino == fail_ino) {
            errno = EIO;
            return -1;
        }
        char c = 'p';
        if (write(note_fd, &c, 1) == 1 && read(gate_fd, &c, 1) == 1)
            c = 0;
        gate_fd = -1;
    }
    return (int)syscall(SYS_fsync, fd);
}

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
    ok(rgs_spool_name_valid("1772575128.123456789.4242.0.l0000017", &a) && a == 0, "name of a log line");
    ok(rgs_spool_name_valid("1772575128.123456789.4242.0.l0000017.a3", &a) && a == 3,
       "name of a requeued log line");
    ok(!rgs_spool_name_valid("1772575128.123456789.4242.0.log", NULL), "a batch log is not an entry");
    ok(!rgs_spool_name_valid("1772575128.123456789.4242.0.l17", NULL), "line number not 7 digits");
    ok(!rgs_spool_name_valid("1772575128.123456789.4242.0.l0000000", NULL), "line number 0");
}

static void test_basic(void)
{
    char *d = dd("basic");
    /* single-entry files (rgs_spool_put_file) */
    ok(rgs_spool_depth(d) == 0, "depth of a data dir without spool is 0");
    rgs_spool_entry *e;
    size_t n = 5;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 0 && e == NULL, "claim without spool: none");

    char names[5][96];
    bool all = true;
    for (int i = 0; i < 5; i++) {
        json_t *r = hook(i);
        all = all && rgs_spool_put_file(d, r, names[i]) == 0 && rgs_spool_name_valid(names[i], NULL);
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
    ok(rgs_spool_put_file(d, arr, nm) == -1 && errno == EINVAL, "put_file refuses a non-object");
    json_decref(arr);
    free(d);
}

static void test_bad_entries(void)
{
    char *d = dd("bad");
    json_t *r = hook(1);
    char nm[96];
    rgs_spool_put_file(d, r, nm);
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
    ok(rgs_spool_put_file(d, r, nm) == -1 && errno == ENOTDIR,
       "put_file fails when new/ is not a directory");
    ok(count_files(d, "tmp") == 0, "nothing left in tmp/ after a failed put_file");
    char *lg = rgs_xasprintf("%s/log", sp);
    write_file(lg, "a file where log/ should be");
    errno = 0;
    ok(rgs_spool_put(d, r, nm) == -1 && errno == ENOTDIR, "put fails when log/ is not a directory");
    unlink(lg);
    unlink(nw);
    ok(rgs_spool_put(d, r, nm) == 0 && rgs_spool_depth(d) == 1, "put works again once it is fixed");
    json_decref(r);
    free(lg);
    free(nw);
    free(t);
    free(sp);
    free(d);
}

static char *read_all(const char *path)
{
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_read_file(AT_FDCWD, path, &b, 0) < 0) {
        rgs_buf_free(&b);
        return NULL;
    }
    return rgs_buf_steal(&b, NULL);
}

static int n_of(const rgs_spool_entry *e)
{
    return (int)json_integer_value(json_object_get(e->record, "n"));
}

/* the batch log: what rgs-verify uses */
static void test_log(void)
{
    char *d = dd("log");
    char nm[96];
    bool all = true;
    for (int i = 0; i < 5; i++) {
        json_t *r = hook(i);
        all = all && rgs_spool_put(d, r, nm) == 0 && !strncmp(nm, "log@", 4);
        json_decref(r);
    }
    ok(all, "log: 5 puts");
    ok(rgs_spool_depth(d) == 5, "log: depth 5");
    char *cur = rgs_xasprintf("%s/spool/log/current", d);
    char *text = read_all(cur);
    int lines = 0;
    for (char *p = text; p && *p; p++)
        lines += *p == '\n';
    ok(text && lines == 5 && text[strlen(text) - 1] == '\n', "log: five lines in log/current");
    free(text);
    ok(count_files(d, "new") == 0 && count_files(d, "tmp") == 0, "log: no per-record files");

    rgs_spool_entry *e;
    size_t n;
    ok(rgs_spool_peek(d, &e, &n) == 0 && n == 5 && n_of(&e[0]) == 0 && n_of(&e[4]) == 4,
       "log: peek sees the lines of log/current");
    rgs_spool_entries_free(e, n);
    ok(count_files(d, "cur") == 0, "log: peek moved nothing");

    ok(rgs_spool_claim(d, 2, &e, &n) == 0 && n == 5, "log: claim rotates and takes the whole log");
    bool order = n == 5;
    for (size_t i = 0; order && i < n; i++)
        order = n_of(&e[i]) == (int)i && e[i].attempts == 0;
    ok(order, "log: lines in arrival order");
    char base[96] = "";
    if (n == 5) {
        snprintf(base, sizeof base, "%.*s", (int)(strlen(e[0].name) - 9), e[0].name);
        ok(!strcmp(e[0].name + strlen(base), ".l0000001") && !strcmp(e[4].name + strlen(base), ".l0000005"),
           "log: names are <base>.l<line>");
    } else {
        ok(0, "log: names are <base>.l<line>");
    }
    char names[5][96];
    for (size_t i = 0; i < n && i < 5; i++)
        snprintf(names[i], 96, "%s", e[i].name);
    rgs_spool_entries_free(e, n);
    char *logf = rgs_xasprintf("%s.log", base);
    ok(exists(d, "cur", logf) && !exists(d, "log", "current"), "log: the log is in cur/");
    struct stat st;
    ok(stat(cur, &st) < 0, "log: log/current was rotated away");

    ok(rgs_spool_ack(d, names[0]) == 0 && rgs_spool_depth(d) == 4, "log: ack a line");
    ok(rgs_spool_ack(d, names[0]) == 0 && rgs_spool_depth(d) == 4, "log: ack twice is harmless");
    ok(rgs_spool_requeue(d, names[1], "HTTP 503") == 0, "log: requeue a line");
    char single[120];
    snprintf(single, sizeof single, "%s.a1", names[1]);
    ok(exists(d, "new", single), "log: requeued line is a single file <base>.l<line>.a1 in new/");
    ok(rgs_spool_depth(d) == 4, "log: depth counts it once");
    ok(rgs_spool_fail(d, names[2], "permanent") == 0 && exists(d, "failed", names[2]), "log: fail a line");
    char *fp = rgs_xasprintf("%s/spool/failed/%s", d, names[2]);
    char *ft = read_all(fp);
    json_t *fr = ft ? json_loads(ft, 0, NULL) : NULL;
    ok(fr && json_integer_value(json_object_get(fr, "n")) == 2, "log: failed/ holds the record");
    json_decref(fr);
    free(ft);
    free(fp);
    ok(rgs_spool_depth(d) == 3, "log: depth 3");
    ok(rgs_spool_requeue(d, names[2], "again") == -1 && errno == ENOENT,
       "log: a finished line cannot be requeued");

    /* a new record arrives meanwhile; the next claim returns it too */
    json_t *r = hook(5);
    rgs_spool_put(d, r, nm);
    json_decref(r);
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 4, "log: next claim: leftovers, requeued, new");
    ok(n == 4 && !strcmp(e[0].name, single) && e[0].attempts == 1 && n_of(&e[0]) == 1 &&
           !strcmp(e[1].name, names[3]) && !strcmp(e[2].name, names[4]) && n_of(&e[3]) == 5,
       "log: in arrival order, attempts counted");
    bool acked = true;
    for (size_t i = 0; i < n; i++)
        acked = acked && rgs_spool_ack(d, e[i].name) == 0;
    rgs_spool_entries_free(e, n);
    ok(acked && rgs_spool_depth(d) == 0, "log: all finished, depth 0");
    ok(count_files(d, "cur") == 0, "log: finished logs and .done files removed");
    ok(rgs_spool_ack(d, names[3]) == 0, "log: ack after the log is gone is harmless");
    free(logf);
    free(cur);
    free(d);
}

/* a new log/current must be durable (its directory entry fsync'd) before
 * any writer can append to it and acknowledge: writer A creates the log
 * and is held inside its first directory fsync; writer B, started then,
 * must not finish before A is let go.  (Before the fix B appended to the
 * visible but not yet durable log and returned at once.) */
static ino_t dir_ino(const char *dir, const char *sub)
{
    char *p = rgs_xasprintf("%s/spool/%s", dir, sub);
    rgs_mkdirs(p, 0700);
    struct stat st;
    ino_t ino = stat(p, &st) == 0 ? st.st_ino : 0;
    free(p);
    return ino;
}

static void test_new_log_order(void)
{
    char *d = dd("order");
    gate_ino = dir_ino(d, "log");
    int gate[2], note[2];
    if (pipe(gate) < 0 || pipe(note) < 0) {
        ok(0, "order: pipes");
        return;
    }
    pid_t a = fork();
    if (a == 0) {
        gate_fd = gate[0];
        note_fd = note[1];
        char nm[96];
        json_t *r = hook(1);
        _exit(rgs_spool_put(d, r, nm) == 0 ? 0 : 1);
    }
    char c;
    bool paused = read(note[0], &c, 1) == 1;
    ok(paused, "order: writer A is inside the fsync of log/ for its new log");
    char *cur = rgs_xasprintf("%s/spool/log/current", d);
    struct stat st;
    ok(stat(cur, &st) == 0 && st.st_size == 0, "order: log/current is visible, empty");
    pid_t b = fork();
    if (b == 0) {
        char nm[96];
        json_t *r = hook(2);
        _exit(rgs_spool_put(d, r, nm) == 0 ? 0 : 1);
    }
    /* give B ample time to finish if nothing holds it back */
    int stb = 0;
    pid_t got = 0;
    for (int i = 0; i < 100 && got == 0; i++) {
        got = waitpid(b, &stb, WNOHANG);
        if (got == 0) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    ok(got == 0, "order: writer B cannot append before A's log is durable");
    ok(stat(cur, &st) == 0 && st.st_size == 0, "order: nothing appended while A syncs");
    c = 'g';
    ok(write(gate[1], &c, 1) == 1, "order: A let go");
    int sta = 0;
    waitpid(a, &sta, 0);
    if (got == 0)
        waitpid(b, &stb, 0);
    ok(WIFEXITED(sta) && WEXITSTATUS(sta) == 0 && WIFEXITED(stb) && WEXITSTATUS(stb) == 0,
       "order: both writers succeed");
    char *text = read_all(cur);
    int lines = 0;
    for (char *p = text; p && *p; p++)
        lines += *p == '\n';
    ok(lines == 2 && rgs_spool_depth(d) == 2, "order: both records in log/current");
    ok(count_files(d, "tmp") == 0, "order: no name of the new log left in tmp/");
    free(text);
    close(gate[0]);
    close(gate[1]);
    close(note[0]);
    close(note[1]);

    /* a new log whose directory entry cannot be made durable is withdrawn */
    char *d2 = dd("order-eio");
    fail_ino = dir_ino(d2, "log");
    json_t *r = hook(3);
    char nm[96];
    pid_t e = fork();
    if (e == 0) /* a fresh process: no log kept open from before */
        _exit(rgs_spool_put(d2, r, nm) == -1 && errno == EIO ? 0 : 1);
    int ste = 0;
    waitpid(e, &ste, 0);
    fail_ino = 0;
    char *cur2 = rgs_xasprintf("%s/spool/log/current", d2);
    ok(WIFEXITED(ste) && WEXITSTATUS(ste) == 0, "order: fsync of log/ fails -> put fails with EIO");
    ok(stat(cur2, &st) < 0 && count_files(d2, "tmp") == 0, "order: the new log is withdrawn");
    pid_t f = fork();
    if (f == 0)
        _exit(rgs_spool_put(d2, r, nm) == 0 ? 0 : 1);
    waitpid(f, &ste, 0);
    ok(WIFEXITED(ste) && WEXITSTATUS(ste) == 0 && rgs_spool_depth(d2) == 1, "order: then a put works");
    json_decref(r);
    free(cur2);
    free(d2);
    free(cur);
    free(d);
}

static void test_torn(void)
{
    char *d = dd("torn");
    json_t *r = hook(1);
    char nm[96];
    rgs_spool_put(d, r, nm);
    /* a writer killed in the middle of its write */
    char *cur = rgs_xasprintf("%s/spool/log/current", d);
    int fd = open(cur, O_WRONLY | O_APPEND);
    rgs_write_all(fd, "{\"v\":1,\"type\":\"webh", 19);
    close(fd);
    json_decref(r);
    r = hook(2);
    ok(rgs_spool_put(d, r, nm) == 0, "torn: the next put succeeds");
    json_decref(r);
    char *text = read_all(cur);
    ok(text && strstr(text, "\"webh\n{\"v\":1"), "torn: the torn line was ended before the new record");
    free(text);
    int saved = rgs_verbosity;
    rgs_verbosity = -1;
    rgs_spool_entry *e;
    size_t n;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 2 && n_of(&e[0]) == 1 && n_of(&e[1]) == 2,
       "torn: both whole records come back");
    rgs_verbosity = saved;
    ok(count_files(d, "failed") == 2, "torn: the torn line went to failed/ with a reason");
    for (size_t i = 0; i < n; i++)
        rgs_spool_ack(d, e[i].name);
    rgs_spool_entries_free(e, n);
    ok(rgs_spool_depth(d) == 0 && count_files(d, "cur") == 0, "torn: all finished");
    free(cur);
    free(d);
}

static void test_rotation(void)
{
    char *d = dd("rotate");
    char big[100001];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    bool all = true;
    for (int i = 0; i < 45; i++) {
        json_t *r = hook(i);
        json_object_set_new(r, "pad", json_string(big));
        char nm[96];
        all = all && rgs_spool_put(d, r, nm) == 0;
        json_decref(r);
    }
    ok(all, "rotate: 45 puts of 100 kB");
    ok(count_files(d, "new") == 1, "rotate: the writer rotated a full log into new/");
    ok(rgs_spool_depth(d) == 45, "rotate: depth 45 across the rotated and the open log");
    rgs_spool_entry *e;
    size_t n;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0 && n == 45, "rotate: claim returns all");
    bool order = n == 45;
    for (size_t i = 0; order && i < n; i++)
        order = n_of(&e[i]) == (int)i;
    ok(order, "rotate: in arrival order across logs");
    rgs_spool_entries_free(e, n);
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
                /* a consumer rotating meanwhile */
                if (k == 0 && i % 10 == 5) {
                    rgs_spool_entry *e;
                    size_t n;
                    if (rgs_spool_peek(d, &e, &n) == 0)
                        rgs_spool_entries_free(e, n);
                }
            }
            _exit(0);
        }
    }
    /* the consumer claims while the writers write */
    rgs_spool_entry *all = NULL;
    size_t n_all = 0;
    for (int round = 0; round < 20; round++) {
        rgs_spool_entry *e;
        size_t n;
        if (rgs_spool_claim(d, 0, &e, &n) == 0) {
            for (size_t i = 0; i < n; i++) {
                all = rgs_xrealloc(all, (n_all + 1) * sizeof *all);
                all[n_all] = e[i];
                json_incref(e[i].record);
                n_all++;
                rgs_spool_ack(d, e[i].name);
            }
            rgs_spool_entries_free(e, n);
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    int bad = 0, st;
    while (wait(&st) > 0)
        if (!WIFEXITED(st) || WEXITSTATUS(st))
            bad++;
    ok(bad == 0, "6 processes x 40 puts succeed while a consumer claims");
    rgs_spool_entry *e;
    size_t n;
    ok(rgs_spool_claim(d, 0, &e, &n) == 0, "final claim");
    for (size_t i = 0; i < n; i++) {
        all = rgs_xrealloc(all, (n_all + 1) * sizeof *all);
        all[n_all] = e[i];
        json_incref(e[i].record);
        n_all++;
    }
    rgs_spool_entries_free(e, n);
    ok(n_all == KIDS * EACH, "every record claimed exactly once (240)");
    /* each writer's records come back in its order */
    int last[KIDS];
    for (int k = 0; k < KIDS; k++)
        last[k] = -1;
    bool ordered = true;
    for (size_t i = 0; i < n_all; i++) {
        int v = n_of(&all[i]);
        int k = v / 1000, j = v % 1000;
        if (k < 0 || k >= KIDS || j != last[k] + 1)
            ordered = false;
        else
            last[k] = j;
    }
    ok(ordered, "every writer's records come back once, in its order");
    rgs_spool_entries_free(all, n_all);
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
    test_log();
    test_new_log_order();
    test_torn();
    test_rotation();
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
