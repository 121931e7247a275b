/* Unit tests for rgs_path: the refusal rules (relay.md §5.11, §8; Git's
 * verify_path for the ".git" look-alikes) and the no-symlink file
 * operations, checked against the file system with lstat/readlink. */
#include "rgs_path.h"
#include "rgs_util.h"

#include <dirent.h>
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

static const char *why_of(const char *p, size_t n, unsigned flags)
{
    static char why[128];
    if (rgs_path_check(p, n, flags, NULL, NULL, why, sizeof why) == 0)
        return "ok";
    return why;
}
#define V(s) why_of(s, sizeof(s) - 1, RGS_PATH_VPATH)
#define R(s) why_of(s, sizeof(s) - 1, 0)

static void test_check(void)
{
    char name[300];
    ok(!strcmp(V("/Notes/a.md"), "ok"), "plain vpath");
    ok(!strcmp(V("Notes/a.md"), "ok"), "vpath without leading slash");
    ok(!strcmp(V("/Title....md"), "ok"), "dots inside a name are fine (9f2647c)");
    ok(!strcmp(V("/..note.md"), "ok"), "leading dots in a name are fine");
    ok(!strcmp(V("/\xc3\xbc" "ber Stra\xc3\x9f" "e/N\xc3\xb6tiz 1.md"), "ok"), "umlauts, spaces");
    ok(!strcmp(V("/.gitignore"), "ok") && !strcmp(V("/.github/x.md"), "ok") &&
           !strcmp(V("/a.git/b"), "ok") && !strcmp(V("/.gitx"), "ok"),
       ".git-like but different names are fine");
    ok(!strcmp(V("/a/../b"), "'..' component"), "'..' refused");
    ok(!strcmp(V("/.."), "'..' component"), "'..' alone refused");
    ok(!strcmp(V("/a/./b"), "'.' component"), "'.' refused");
    ok(!strcmp(V("//etc/passwd"), "absolute path"), "absolute refused");
    ok(!strcmp(R("/etc/passwd"), "absolute path"), "relative mode: leading slash refused");
    ok(!strcmp(V("/a//b"), "empty component") && !strcmp(V("/a/"), "empty component"),
       "empty components refused");
    ok(!strcmp(V("/"), "empty path") && !strcmp(V(""), "empty path"), "empty refused");
    ok(!strcmp(V("/.git/config"), "'.git' component"), "/.git/config refused");
    ok(!strcmp(V("/.GIT/hooks/x"), "'.git' component"), "/.GIT/hooks/x refused");
    ok(!strcmp(V("/sub/.Git/config"), "'.git' component"), "nested .Git refused");
    ok(!strcmp(V("/.git./config"), "'.git' component") &&
           !strcmp(V("/.git /config"), "'.git' component") &&
           !strcmp(V("/.git . ./config"), "'.git' component"),
       "NTFS trailing dots/spaces refused");
    ok(!strcmp(V("/GIT~1/config"), "'.git' component"), "NTFS short name refused");
    ok(!strcmp(V("/.git::$INDEX_ALLOCATION/config"), "'.git' component"), "NTFS stream refused");
    ok(!strcmp(V("/.g\xe2\x80\x8cit/config"), "'.git' component") &&
           !strcmp(V("/\xef\xbb\xbf.git/config"), "'.git' component"),
       "HFS+ ignorables refused");
    ok(!strcmp(V("/.git"), "'.git' component"), "/.git itself refused");
    ok(!strcmp(why_of("/a\0b", 4, RGS_PATH_VPATH), "NUL character"), "NUL refused");
    ok(!strcmp(V("/a\nb"), "control character") && !strcmp(V("/a\x7f"), "control character") &&
           !strcmp(V("/a\xc2\x85"), "control character") && !strcmp(V("/\tb"), "control character"),
       "C0, DEL, C1 controls refused");
    ok(!strcmp(V("/a\xff"), "not UTF-8") && !strcmp(V("/\xc0\xaf"), "not UTF-8"), "non-UTF-8 refused");
    memset(name, 'x', sizeof name);
    name[0] = '/';
    ok(!strcmp(why_of(name, 256, RGS_PATH_VPATH), "ok"), "255-byte component ok");
    ok(!strcmp(why_of(name, 257, RGS_PATH_VPATH), "component longer than 255 bytes"),
       "256-byte component refused");
    char *longp = rgs_xmalloc(5000);
    for (int i = 0; i < 5000; i++)
        longp[i] = (i % 100 == 0) ? '/' : 'a';
    ok(!strcmp(why_of(longp, 4097, RGS_PATH_VPATH), "path longer than 4095 bytes"),
       "long path refused");
    free(longp);
    const char *rel;
    size_t rl;
    ok(rgs_path_check("/a/b", 4, RGS_PATH_VPATH, &rel, &rl, NULL, 0) == 0 && rl == 3 &&
           !memcmp(rel, "a/b", 3),
       "relative part returned");
    ok(rgs_path_is_dotgit(".GiT", 4) && !rgs_path_is_dotgit(".gi", 3) &&
           !rgs_path_is_dotgit("git~2", 5),
       "is_dotgit");
}

static char dir[128];

static int exists(const char *rel)
{
    char *p = rgs_xasprintf("%s/%s", dir, rel);
    struct stat st;
    int r = lstat(p, &st) == 0;
    free(p);
    return r;
}

static void test_fs(void)
{
    char *repo = rgs_xasprintf("%s/repo", dir);
    char *outside = rgs_xasprintf("%s/outside", dir);
    mkdir(repo, 0755);
    mkdir(outside, 0755);
    int root = open(repo, O_RDONLY | O_DIRECTORY);
    unsigned created = 0;
    ok(rgs_path_write(root, "a/b/c.md", "hi", 2, 0644, &created) == 0 && created == 2,
       "write makes parents");
    struct stat st;
    ok(rgs_path_lstat(root, "a/b/c.md", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 2,
       "lstat sees it");
    ok(rgs_path_lstat(root, "a/b/c.md/x", &st) < 0 && errno == ENOTDIR, "file as parent: ENOTDIR");
    ok(rgs_path_lstat(root, "zz/c.md", &st) < 0 && errno == ENOENT, "missing parent: ENOENT");

    /* a directory symlink in a parent component pointing outside */
    char *lnk = rgs_xasprintf("%s/evil", repo);
    symlink(outside, lnk);
    ok(rgs_path_write(root, "evil/x.md", "x", 1, 0644, NULL) < 0 && errno == ELOOP,
       "write through a symlinked parent refused (ELOOP)");
    ok(rgs_path_lstat(root, "evil/x.md", &st) < 0 && errno == ELOOP, "lstat through it refused");
    ok(rgs_path_rename(root, "a/b/c.md", "evil/c.md", 0, NULL) < 0 && errno == ELOOP,
       "rename into it refused");
    ok(!exists("outside/x.md") && !exists("outside/c.md"), "nothing written outside");
    ok(rgs_path_unlink(root, "evil/y") < 0 && errno == ELOOP, "unlink through it refused");

    /* a file symlink as the last component: replaced, never written through */
    char *target = rgs_xasprintf("%s/secret", outside);
    FILE *f = fopen(target, "w");
    fputs("keep", f);
    fclose(f);
    char *flink = rgs_xasprintf("%s/a/link.md", repo);
    symlink(target, flink);
    ok(rgs_path_open_file(root, "a/link.md") < 0 && errno == ELOOP, "open_file refuses a symlink");
    ok(rgs_path_write(root, "a/link.md", "new", 3, 0644, NULL) == 0, "write over a symlink");
    rgs_buf b = RGS_BUF_INIT;
    rgs_read_file(AT_FDCWD, target, &b, 0);
    ok(!strcmp(b.data, "keep") && rgs_path_lstat(root, "a/link.md", &st) == 0 &&
           S_ISREG(st.st_mode),
       "symlink replaced by a file, its target untouched");
    rgs_buf_free(&b);

    /* staged write: the temporary file lives outside the tree */
    char *stg = rgs_xasprintf("%s/staging", dir);
    mkdir(stg, 0700);
    int sfd = open(stg, O_RDONLY | O_DIRECTORY);
    ok(rgs_path_write_staged(root, "s/t.md", sfd, "staged", 6, 0600, RGS_PATH_DEFER_DIRSYNC, NULL) == 0 &&
           rgs_path_lstat(root, "s/t.md", &st) == 0 && st.st_size == 6 && (st.st_mode & 0777) == 0600,
       "staged write lands with its mode");
    ok(rgs_path_write_staged(root, "evil/t.md", sfd, "x", 1, 0644, 0, NULL) < 0 && errno == ELOOP &&
           !exists("outside/t.md"),
       "staged write through a symlinked parent refused");
    DIR *sd = fdopendir(dup(sfd));
    int left = 0;
    struct dirent *de;
    while ((de = readdir(sd)))
        if (de->d_name[0] != '.')
            left++;
    closedir(sd);
    ok(left == 0, "nothing left in the staging directory");
    ok(rgs_path_sync_dir(root, "s/t.md") == 0 && rgs_path_sync_dir(root, "evil/t.md") < 0,
       "sync_dir: parent fsync'd, not through a symlink");
    close(sfd);
    free(stg);

    /* .git refused by the walker whatever the caller checked */
    char *dotgit = rgs_xasprintf("%s/.git", repo);
    mkdir(dotgit, 0755);
    free(dotgit);
    ok(rgs_path_write(root, ".git/config", "x", 1, 0644, NULL) < 0 && errno == EINVAL,
       ".git path refused by the write");
    ok(rgs_path_open_dir(root, "a/.GIT", true, NULL) < 0 && errno == EINVAL, ".GIT refused by mkdir");
    ok(!exists("repo/.git/config") && !exists("repo/a/.GIT"), "nothing created in .git");

    /* rename, directory at the target, unlink, rmdir */
    ok(rgs_path_rename(root, "a/b/c.md", "d/e/c.md", 0, &created) == 0 && exists("repo/d/e/c.md") &&
           !exists("repo/a/b/c.md"),
       "rename makes parents");
    ok(rgs_path_write(root, "d/e", "x", 1, 0644, NULL) < 0 && errno == EISDIR,
       "write over a directory refused");
    ok(rgs_path_rmdir(root, "d/e") < 0 && errno == ENOTEMPTY, "rmdir of a non-empty dir refused");
    ok(rgs_path_unlink(root, "d/e/c.md") == 0 && rgs_path_unlink(root, "d/e/c.md") < 0 &&
           errno == ENOENT,
       "unlink, then ENOENT");
    ok(rgs_path_rmdir(root, "d/e") == 0 && !exists("repo/d/e"), "rmdir of an emptied dir");
    ok(rgs_path_unlink(root, "evil") == 0 && !exists("repo/evil") && exists("outside"),
       "unlink removes a symlink itself");
    int d2 = rgs_path_open_dir(root, "x/y", true, NULL);
    ok(d2 >= 0 && exists("repo/x/y"), "open_dir creates");
    close(d2);
    close(root);

    /* open_repo */
    char *rd = rgs_xasprintf("%s/dd/repos/0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b", dir);
    rgs_mkdirs(rd, 0755);
    char *dd = rgs_xasprintf("%s/dd", dir);
    ok(rgs_path_open_repo(dd, "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                          "11111111-2222-3333-4444-555555555555") < 0 &&
           errno == ENOENT,
       "open_repo: missing repo");
    char *rl = rgs_xasprintf("%s/11111111-2222-3333-4444-555555555555", rd);
    symlink(outside, rl);
    ok(rgs_path_open_repo(dd, "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                          "11111111-2222-3333-4444-555555555555") < 0,
       "open_repo: symlinked repo refused");
    ok(rgs_path_open_repo(dd, "../x", "11111111-2222-3333-4444-555555555555") < 0 &&
           errno == EINVAL,
       "open_repo: non-UUID refused");
    free(rd);
    free(dd);
    free(rl);
    free(repo);
    free(outside);
    free(lnk);
    free(target);
    free(flink);
}

int main(void)
{
    const char *t = getenv("RGS_TMP");
    snprintf(dir, sizeof dir, "%s/rgs-path-XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_check();
    test_fs();
    char *cmd = rgs_xasprintf("rm -rf '%s'", dir);
    ok(system(cmd) == 0, "cleanup");
    free(cmd);
    printf("1..%d\n", n_test);
    return n_fail ? 1 : 0;
}
