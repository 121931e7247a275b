/* Unit tests for rgs_config (git_connectors.toml, relay.md §5.5 and
 * git_connectors.toml(5)).  TAP output.  Messages printed on stderr are
 * captured and checked for "file:line: key: why". */
#include "rgs_config.h"
#include "rgs_util.h"
#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static char dir[256];
static char msgs[8192];

#define R1 "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"
#define F1 "11111111-2222-3333-4444-555555555555"
#define F2 "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* write `text` to a file, load it with stderr captured into msgs */
static int load(const char *text, rgs_config **out, char *path, size_t pathlen)
{
    static int counter;
    snprintf(path, pathlen, "%s/c%d.toml", dir, counter++);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    char cap[300];
    snprintf(cap, sizeof cap, "%s/stderr", dir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    int rc = rgs_config_load(path, out);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rgs_buf b = RGS_BUF_INIT;
    rgs_read_file(AT_FDCWD, cap, &b, 0);
    snprintf(msgs, sizeof msgs, "%s", b.data ? b.data : "");
    rgs_buf_free(&b);
    return rc;
}

/* load must fail and print "<path>:<line>: <key>: ..." containing needle */
static void bad(const char *text, unsigned line, const char *key, const char *needle,
                const char *name)
{
    char path[300], want[600];
    rgs_config *c = NULL;
    int rc = load(text, &c, path, sizeof path);
    if (*key)
        snprintf(want, sizeof want, "%s:%u: %s: ", path, line, key);
    else
        snprintf(want, sizeof want, "%s:%u: ", path, line);
    int good = rc < 0 && !c && strstr(msgs, want) && strstr(msgs, needle);
    ok(good, name);
    if (!good)
        printf("# want '%s...%s', got: %s", want, needle, msgs);
    rgs_config_free(c);
}

static void test_full(void)
{
    char path[300];
    rgs_config *c = NULL;
    int rc = load("# connectors\n"
                  "[[git_connector]]\n"
                  "shared_folder_id = \"11111111-2222-3333-4444-555555555555\"\n"
                  "relay_id = \"0F8C1A2B-3C4D-4E5F-8A9B-0C1D2E3F4A5B\"\n"
                  "url = \"git@github.com:org/repo.git\"\n"
                  "\n"
                  "[[git_connector]]\n"
                  "shared_folder_id = \"" F1 "\"\n"
                  "relay_id = \"" R1 "\"\n"
                  "url = \"https://user:tok@gitlab.example/org/repo.git\"\n"
                  "branch = \"release/v1\"\n"
                  "remote_name = \"gitlab\"\n"
                  "\n"
                  "[[git_connector]]\n"
                  "shared_folder_id = \"" F2 "\"\n"
                  "relay_id = \"" R1 "\"\n"
                  "url = \"/srv/git/notes.git\"\n"
                  "prefix = \"vault/notes/\"\n"
                  "owns_prefix = true\n"
                  "colour = \"blue\"\n"
                  "\n[authors]\n"
                  "\"user-1\" = \"Ada Lovelace <ada@example.org>\"\n"
                  "u2 = \"  Grace Hopper<grace@example.org>\"\n"
                  "[sync]\nmax_delete_share = 0.5\nmax_delete_count = 3\n"
                  "[commit]\ncommitter_name = \"Sync Bot\"\ncommitter_email = \"bot@example.org\"\n"
                  "message = \"sync %H:%M\"\nmessage_utc = true\n"
                  "[extra]\n",
                  &c, path, sizeof path);
    ok(rc == 0 && c, "full example loads");
    if (!c) {
        return;
    }
    ok(c->exists && !strcmp(c->path, path), "exists, path");
    ok(c->n_connectors == 3, "three connectors");
    const rgs_connector *k = &c->connectors[0];
    ok(!strcmp(k->relay, R1) && !strcmp(k->folder, F1), "ids lower-cased");
    ok(!strcmp(k->branch, "main") && !strcmp(k->remote_name, "origin") && !strcmp(k->prefix, "") &&
           !k->owns_prefix && k->line == 2,
       "defaults (branch main, remote origin, no prefix), header line");
    ok(!strcmp(c->connectors[1].branch, "release/v1") &&
           !strcmp(c->connectors[1].remote_name, "gitlab"),
       "branch and remote_name");
    ok(!strcmp(c->connectors[2].prefix, "vault/notes") && c->connectors[2].owns_prefix,
       "prefix trailing slash removed, owns_prefix");
    ok(strstr(msgs, ":20: colour: unknown key") && strstr(msgs, ":33: extra: unknown key") &&
           strstr(msgs, "warning"),
       "unknown keys warned with line");
    ok(!strstr(msgs, "tok@"), "no credential in messages");
    ok(rgs_config_find(c, R1, F1) == &c->connectors[0], "find first");
    ok(rgs_config_next(c, rgs_config_find(c, R1, F1)) == &c->connectors[1], "next: second remote");
    ok(rgs_config_next(c, &c->connectors[1]) == NULL, "next: end");
    ok(rgs_config_find(c, R1, F2) == &c->connectors[2], "find other folder");
    ok(rgs_config_find(c, F1, F1) == NULL, "find: none");
    const rgs_author *a = rgs_config_author(c, "user-1");
    ok(a && !strcmp(a->name, "Ada Lovelace") && !strcmp(a->email, "ada@example.org"), "author");
    a = rgs_config_author(c, "u2");
    ok(a && !strcmp(a->name, "Grace Hopper") && !strcmp(a->email, "grace@example.org"),
       "author without space before <");
    ok(!rgs_config_author(c, "nobody"), "unknown author");
    ok(c->max_delete_share == 0.5 && c->max_delete_count == 3, "[sync]");
    ok(!strcmp(c->committer_name, "Sync Bot") && !strcmp(c->committer_email, "bot@example.org") &&
           !strcmp(c->message_template, "sync %H:%M") && c->message_utc,
       "[commit]");
    rgs_config_free(c);
}

static void test_defaults(void)
{
    char path[300];
    rgs_config *c = NULL;
    snprintf(path, sizeof path, "%s/absent.toml", dir);
    ok(rgs_config_load(path, &c) == 0 && c && !c->exists && c->n_connectors == 0,
       "missing file: empty, exists false");
    ok(c && c->max_delete_share == 0.10 && c->max_delete_count == 25 &&
           !strcmp(c->committer_name, "Relay Git Sync") &&
           !strcmp(c->committer_email, "relay-git-sync@localhost") &&
           !strcmp(c->message_template, "Auto-sync: %Y-%m-%d %H:%M:%S") && !c->message_utc,
       "defaults");
    rgs_config_free(c);
    char *p = rgs_config_path(NULL, "/data");
    ok(!strcmp(p, "/data/git_connectors.toml"), "path default");
    free(p);
    p = rgs_config_path("/etc/x.toml", "/data");
    ok(!strcmp(p, "/etc/x.toml"), "path override");
    free(p);
    c = NULL;
    ok(load("[sync]\nmax_delete_share = 1\n", &c, path, sizeof path) == 0 && c &&
           c->max_delete_share == 1.0,
       "integer share accepted");
    rgs_config_free(c);
}

#define HDR "[[git_connector]]\n"
#define IDS "shared_folder_id = \"" F1 "\"\nrelay_id = \"" R1 "\"\n"

static void test_errors(void)
{
    bad("a = \n", 1, "a", "missing value", "syntax error names file, line and key");
    bad(HDR IDS "url = nope\n", 4, "git_connector.url", "not a valid value",
        "bare word names file, line and dotted key");
    bad(HDR IDS "url = \"/x\n", 4, "git_connector.url", "unterminated",
        "unterminated string names file, line and dotted key");
    bad("[authors]\n\"u\" = 'Ada <a@b>\n", 2, "authors.u", "unterminated",
        "unterminated literal string names the dotted key");
    bad(HDR "relay_id = \"" R1 "\"\nurl = \"/x\"\n", 1, "shared_folder_id", "required",
        "missing folder id");
    bad(HDR IDS, 1, "url", "required", "missing url");
    bad(HDR "shared_folder_id = \"nope\"\nrelay_id = \"" R1 "\"\nurl = \"/x\"\n", 2,
        "shared_folder_id", "not a UUID", "bad uuid");
    bad(HDR IDS "url = 5\n", 4, "url", "must be a string", "url type");
    bad(HDR IDS "url = \"ext::sh -c touch% /tmp/pwned\"\n", 4, "url", "helper", "ext:: refused");
    bad(HDR IDS "url = \"-uhttps://x\"\n", 4, "url", "'-'", "option-like url refused");
    bad(HDR IDS "url = \"relative/path\"\n", 4, "url", "must be", "relative url refused");
    bad(HDR IDS "url = \"https://\"\n", 4, "url", "no host", "empty https url");
    bad(HDR IDS "url = \"/x\"\nbranch = \"a..b\"\n", 5, "branch", "not a valid", "branch ..");
    bad(HDR IDS "url = \"/x\"\nbranch = \"-x\"\n", 5, "branch", "not a valid", "branch -x");
    bad(HDR IDS "url = \"/x\"\nbranch = \"x.lock\"\n", 5, "branch", "not a valid", "branch .lock");
    bad(HDR IDS "url = \"/x\"\nbranch = \"a b\"\n", 5, "branch", "not a valid", "branch space");
    bad(HDR IDS "url = \"/x\"\nremote_name = \"a/b\"\n", 5, "remote_name", "not a valid",
        "remote with slash");
    bad(HDR IDS "url = \"/x\"\nprefix = \"/abs\"\n", 5, "prefix", "relative", "absolute prefix");
    bad(HDR IDS "url = \"/x\"\nprefix = \"a/../b\"\n", 5, "prefix", "'..'", "prefix ..");
    bad(HDR IDS "url = \"/x\"\nprefix = \"a/.GIT/b\"\n", 5, "prefix", ".git", "prefix .git any case");
    bad(HDR IDS "url = \"/x\"\nprefix = \"a//b\"\n", 5, "prefix", "empty", "prefix //");
    bad(HDR IDS "url = \"/x\"\nowns_prefix = 1\n", 5, "owns_prefix", "true or false",
        "owns_prefix type");
    bad(HDR IDS "url = \"/x\"\n" HDR IDS "url = \"/y\"\n", 5, "remote_name", "already used",
        "same folder, same remote");
    bad(HDR IDS "url = \"/x\"\n" HDR IDS "url = \"/y\"\nremote_name = \"b\"\nprefix = \"p\"\n", 5,
        "prefix", "differs", "same folder, different prefix");
    bad("git_connector = 1\n", 1, "git_connector", "array of tables", "git_connector not [[...]]");
    bad("[git_connector]\n", 1, "git_connector", "array of tables", "git_connector as [table]");
    bad("authors = 3\n", 1, "authors", "must be a table", "authors not a table");
    bad("[authors]\nu = \"Ada\"\n", 2, "authors.u", "Name <email>", "author without email");
    bad("[authors]\nu = \"<a@b>\"\n", 2, "authors.u", "Name <email>", "author without name");
    bad("[authors]\nu = 1\n", 2, "authors.u", "string", "author type");
    bad("[sync]\nmax_delete_share = 1.5\n", 2, "max_delete_share", "between 0 and 1", "share > 1");
    bad("[sync]\nmax_delete_count = -1\n", 2, "max_delete_count", ">= 0", "negative count");
    bad("[commit]\ncommitter_name = \"\"\n", 2, "committer_name", "non-empty", "empty committer");
    bad("[commit]\ncommitter_email = \"a>b\"\n", 2, "committer_email", "'<'", "bad email");
    bad("[commit]\nmessage = \"\"\n", 2, "message", "empty", "empty message");
    /* every error is reported, not only the first */
    char path[300];
    rgs_config *c = NULL;
    load(HDR "shared_folder_id = \"x\"\nrelay_id = \"y\"\nurl = \"\"\n", &c, path, sizeof path);
    ok(!c && strstr(msgs, ":2: shared_folder_id") && strstr(msgs, ":3: relay_id") &&
           strstr(msgs, ":4: url"),
       "all errors reported");
    /* credentials never printed, even in errors */
    load(HDR IDS "url = \"-https://u:secret@h/x\"\n", &c, path, sizeof path);
    ok(!c && !strstr(msgs, "secret"), "no credential in error messages");
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/rgs-test-config.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_full();
    test_defaults();
    test_errors();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
