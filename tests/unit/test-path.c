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

#include "tap.h"


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

/* The ".git" look-alikes (rgs_path.c: Git's is_ntfs_dotgit, is_hfs_dotgit,
 * verify_path, fsck_tree, widened to every Default_Ignorable_Code_Point). */
static const char *const dotgit_refused[] = {
    ".git", ".GIT", ".gIt", ".git.", ".git ", ".git . .", ".git...", ".git:", ".git:x",
    ".git::$INDEX_ALLOCATION", ".GIT. :stream", ".git\\", ".git\\x", ".git .\\hooks",
    "git~1", "GIT~1", "Git~1", "GIT~1.", "git~1 ", "git~1. . ", "git~1:", "git~1:x",
    "GIT~1::$INDEX_ALLOCATION", "git~1\\x", "GiT~1 .\\config",
    "a\\.git", "x\\y\\GIT~1 .", "a\\b\\.GIT:x", "\\.git",
    /* Git's HFS+ ignorables */
    ".g\xe2\x80\x8cit", ".\xe2\x80\x8dgit", ".gi\xe2\x80\x8et", ".git\xe2\x80\x8f",
    ".g\xe2\x80\xaait", ".g\xe2\x80\xaeit", ".g\xe2\x81\xaait", ".g\xe2\x81\xafit",
    "\xef\xbb\xbf.git", ".\xef\xbb\xbfG\xef\xbb\xbfI\xef\xbb\xbfT\xef\xbb\xbf",
    /* the rest of Default_Ignorable_Code_Point */
    ".g\xc2\xadit", ".gi\xcd\x8ft", ".g\xd8\x9cit", ".g\xe1\x85\x9fit", ".g\xe1\x85\xa0it",
    ".g\xe1\x9e\xb4it", ".g\xe1\xa0\x8bit", ".g\xe1\xa0\x8fit", "\xe2\x80\x8b.git",
    ".g\xe2\x81\xa0it", ".g\xe2\x81\xa4it", ".g\xe2\x81\xa5it", ".g\xe3\x85\xa4it",
    ".g\xef\xb8\x80it", ".git\xef\xb8\x8f", ".g\xef\xbe\xa0it", ".g\xef\xbf\xb0it",
    ".g\xef\xbf\xb8it", ".g\xf0\x9b\xb2\xa0it", ".g\xf0\x9d\x85\xb3it",
    ".g\xf3\xa0\x80\x80it", ".g\xf3\xa0\x80\x81it", ".g\xf3\xa0\x84\x80it", ".g\xf3\xa0\xbf\xbfit",
    /* both at once: ignorables with the NTFS forms */
    ".git\xe2\x80\x8c.", ".git\xc2\xad:x", "g\xe2\x80\x8bit~1", "GIT~1\xef\xbb\xbf:x",
    "git~\xe2\x80\x8d\x31 .",
};
static const char *const dotgit_allowed[] = {
    ".gi", ".gitx", ".git-x", ".gitmodules", ".gitattributes", ".gitignore", ".GITMODULES.",
    "GITMOD~1", "gitatt~1", "gi7eba~1", ".github", "git", "git~", "git~2", "git~10", "git~1x",
    "git~1.x", "GIT~11", ".git~1", "agit~1", " git~1", " .git", "..git", "a.git", "x.git.",
    ".git x", ".git.x", ".git .x", ".g it", ".g.it", "a\\b", "a\\.gitx", "\\", ".git/x",
    /* non-ASCII look-alikes stay legal, as in Git (t1450 "fsck allows .\xc5\x87it") */
    ".\xc5\x87it", ".g\xc4\xb1t", ".g\xc4\xb0t", ".gi\xcc\x87t", ".\xef\xbd\x87it", ".g\xe2\x80\x8ait",
    ".g\xe2\x80\x90it", ".g\xe2\x80\xafit", ".g\xef\xbf\xb9it",
    /* invalid UTF-8 is not .git (Git's pick_one_utf8_char) */
    ".g\xffit", ".g\xc0\xa7it", ".g\xe0\x82\xa7it", ".g\xed\xa0\x80it", ".git\xc2",
};

static void test_dotgit(void)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof dotgit_refused / sizeof *dotgit_refused; i++) {
        const char *c = dotgit_refused[i];
        if (!rgs_path_is_dotgit(c, strlen(c))) {
            printf("# not refused: '%s'\n", c);
            bad++;
        }
    }
    ok(!bad, "every .git form (NTFS, HFS+, streams, backslash parts, ignorables) is .git");
    bad = 0;
    for (size_t i = 0; i < sizeof dotgit_allowed / sizeof *dotgit_allowed; i++) {
        const char *c = dotgit_allowed[i];
        if (rgs_path_is_dotgit(c, strlen(c))) {
            printf("# refused: '%s'\n", c);
            bad++;
        }
    }
    ok(!bad, "look-alikes Git accepts (.gitmodules, git~2, .\xc5\x87it, invalid UTF-8) are not .git");
    ok(!strcmp(V("/GIT~1./config"), "'.git' component") && !strcmp(V("/a/git~1 /x.md"), "'.git' component") &&
           !strcmp(V("/git~1:x/y.md"), "'.git' component") && !strcmp(V("/a\\.git/x.md"), "'.git' component") &&
           !strcmp(V("/.g\xc2\xadit/config"), "'.git' component") &&
           !strcmp(V("/x/.git\xe2\x80\x8b/hooks/pre-commit"), "'.git' component"),
       "rgs_path_check refuses them as components");
    ok(!strcmp(V("/a/.gitmodules"), "ok") && !strcmp(V("/git~2/x.md"), "ok") &&
           !strcmp(V("/a\\b/x.md"), "ok"),
       "rgs_path_check keeps the allowed ones");
    /* a long run: no fixed-size buffer limits the trailing run */
    char runs[300];
    memcpy(runs, "git~1", 5);
    memset(runs + 5, '.', sizeof runs - 5);
    runs[150] = ' ';
    ok(rgs_path_is_dotgit(runs, sizeof runs), "git~1 and 295 dots and spaces");
    runs[299] = 'x';
    ok(!rgs_path_is_dotgit(runs, sizeof runs), "... but not with a letter at the end");

    /* Every code point against Perl's own Unicode table (an independent
     * truth): ".g<cp>it" is .git exactly when cp is Default_Ignorable, and
     * ".git<cp>" / "git~1<cp>" exactly when it is ignorable, '.', ' ', ':'
     * or '\'. */
    FILE *pl = popen("perl -e 'my $s = -1; for my $c (0 .. 0x110000) { "
                     "my $in = $c < 0x110000 && chr($c) =~ /\\p{Default_Ignorable_Code_Point}/; "
                     "if ($in && $s < 0) { $s = $c } "
                     "if (!$in && $s >= 0) { print \"$s \", $c - 1, \"\\n\"; $s = -1 } }'",
                     "r");
    unsigned char *di = rgs_xcalloc(0x110000, 1);
    unsigned long lo, hi, n_di = 0;
    while (pl && fscanf(pl, "%lu %lu", &lo, &hi) == 2)
        for (unsigned long c = lo; c <= hi && c < 0x110000; c++, n_di++)
            di[c] = 1;
    int pst = pl ? pclose(pl) : -1;
    ok(pst == 0 && n_di > 4000, "perl lists the Default_Ignorable_Code_Points");
    printf("# perl: %lu Default_Ignorable_Code_Points\n", n_di);
    unsigned long mis[3] = {0, 0, 0};
    for (uint32_t c = 0; c < 0x110000; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        char u[4];
        size_t ul;
        if (c < 0x80)
            u[0] = (char)c, ul = 1;
        else if (c < 0x800)
            u[0] = (char)(0xC0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3F)), ul = 2;
        else if (c < 0x10000)
            u[0] = (char)(0xE0 | (c >> 12)), u[1] = (char)(0x80 | ((c >> 6) & 0x3F)),
            u[2] = (char)(0x80 | (c & 0x3F)), ul = 3;
        else
            u[0] = (char)(0xF0 | (c >> 18)), u[1] = (char)(0x80 | ((c >> 12) & 0x3F)),
            u[2] = (char)(0x80 | ((c >> 6) & 0x3F)), u[3] = (char)(0x80 | (c & 0x3F)), ul = 4;
        char b[16];
        memcpy(b, ".g", 2);
        memcpy(b + 2, u, ul);
        memcpy(b + 2 + ul, "it", 2);
        if (rgs_path_is_dotgit(b, ul + 4) != (bool)di[c] && mis[0]++ < 5)
            printf("# .g<U+%04X>it: %d\n", (unsigned)c, (int)rgs_path_is_dotgit(b, ul + 4));
        bool trail = di[c] || c == '.' || c == ' ' || c == ':' || c == '\\';
        memcpy(b, ".git", 4);
        memcpy(b + 4, u, ul);
        if (rgs_path_is_dotgit(b, ul + 4) != trail && mis[1]++ < 5)
            printf("# .git<U+%04X>: %d\n", (unsigned)c, (int)rgs_path_is_dotgit(b, ul + 4));
        memcpy(b, "GiT~1", 5);
        memcpy(b + 5, u, ul);
        if (rgs_path_is_dotgit(b, ul + 5) != trail && mis[2]++ < 5)
            printf("# GiT~1<U+%04X>: %d\n", (unsigned)c, (int)rgs_path_is_dotgit(b, ul + 5));
    }
    free(di);
    ok(mis[0] == 0, "all code points: .g<cp>it is .git exactly for the ignorables");
    ok(mis[1] == 0 && mis[2] == 0,
       "all code points: .git<cp> and GiT~1<cp> are .git exactly for ignorables, '.', ' ', ':', '\\'");
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
    test_dotgit();
    test_fs();
    char *cmd = rgs_xasprintf("rm -rf '%s'", dir);
    ok(system(cmd) == 0, "cleanup");
    free(cmd);
    return tap_done();
}
