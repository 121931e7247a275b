/* rgs-commit: the last stage of the pipeline.  Journals `applied` records
 * durably, commits each repository's changed paths with libgit2 when its
 * oldest pending change is one commit interval old (or at the final tick),
 * and pushes every configured remote with the git CLI, rebasing on a
 * rejected push and settling conflicts in favour of Relay inside the
 * connector's prefix and of the remote outside it.  Never forces.
 * See rgs-commit(1), rgs-records(5), git_connectors.toml(5). */
#include "rgs_config.h"
#include "rgs_git.h"
#include "rgs_path.h"
#include "rgs_record.h"
#include "rgs_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_WAIT 30.0       /* seconds to wait for the per-repository lock */
#define MAX_ATTEMPTS 3       /* pushes per remote per tick (rejected -> rebase -> push) */
#define BACKOFF_MIN 5.0      /* seconds after the first failure */
#define BACKOFF_MAX 300.0    /* cap */
#define FLUSH_RECORDS 4096   /* journal fsync at least every this many records */

/* ---- options and global state ---- */

static const char *data_dir;
static rgs_config *cfg;
static rgs_git_ctx gctx;
static double commit_interval = 10;
static bool dry_run;
static int status_worst = RGS_EX_OK;

static void worse(int code)
{
    /* order of badness: 0 < 1 < 111 < 100 < 101 */
    static const int rank[] = {RGS_EX_OK, RGS_EX_SOME_FAILED, RGS_EX_TEMP, RGS_EX_PERM, RGS_EX_INTERNAL};
    int a = 0, b = 0;
    for (int i = 0; i < 5; i++) {
        if (rank[i] == status_worst)
            a = i;
        if (rank[i] == code)
            b = i;
    }
    if (b > a)
        status_worst = code;
}

static void emit(json_t *rec)
{
    if (rgs_emit(stdout, rec) < 0) {
        json_decref(rec);
        exit(RGS_EX_TEMP);
    }
    json_decref(rec);
}

/* ---- repositories ---- */

typedef struct {
    char relay[37], folder[37];
    char *dir;       /* DATA_DIR/repos/<relay>/<folder> */
    char *journal;   /* DATA_DIR/commit/<relay>/<folder>.journal */
    char *taken;     /* ... .journal.committing */
    const rgs_connector *first; /* NULL: not configured (commit only, no push) */
    rgs_buf pending; /* journal lines not yet written */
} repo_t;

static repo_t *repos;
static size_t n_repos;

static repo_t *repo_get(const char *relay, const char *folder, bool create)
{
    for (size_t i = 0; i < n_repos; i++)
        if (!strcmp(repos[i].relay, relay) && !strcmp(repos[i].folder, folder))
            return &repos[i];
    if (!create)
        return NULL;
    repos = rgs_xrealloc(repos, (n_repos + 1) * sizeof *repos);
    repo_t *r = &repos[n_repos++];
    memset(r, 0, sizeof *r);
    memcpy(r->relay, relay, 37);
    memcpy(r->folder, folder, 37);
    r->dir = rgs_xasprintf("%s/repos/%s/%s", data_dir, relay, folder);
    r->journal = rgs_xasprintf("%s/commit/%s/%s.journal", data_dir, relay, folder);
    r->taken = rgs_xasprintf("%s.committing", r->journal);
    r->first = rgs_config_find(cfg, relay, folder);
    return r;
}

/* every configured folder, then every journal on disk */
static void repos_discover(void)
{
    for (size_t i = 0; i < cfg->n_connectors; i++)
        repo_get(cfg->connectors[i].relay, cfg->connectors[i].folder, true);
    char *top = rgs_xasprintf("%s/commit", data_dir);
    DIR *d = opendir(top);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!rgs_uuid_valid(e->d_name))
            continue;
        char *sub = rgs_xasprintf("%s/%s", top, e->d_name);
        DIR *d2 = opendir(sub);
        struct dirent *f;
        while (d2 && (f = readdir(d2))) {
            char folder[37];
            if (strlen(f->d_name) >= 36 + 8 && !strncmp(f->d_name + 36, ".journal", 8) &&
                rgs_uuid_norm(f->d_name, 36, folder)) {
                char relay[37];
                if (rgs_uuid_norm(e->d_name, 36, relay))
                    repo_get(relay, folder, true);
            }
        }
        if (d2)
            closedir(d2);
        free(sub);
    }
    if (d)
        closedir(d);
    free(top);
}

static bool has_git(const repo_t *r)
{
    char *g = rgs_xasprintf("%s/.git", r->dir);
    struct stat st;
    bool ok = lstat(g, &st) == 0 && S_ISDIR(st.st_mode);
    free(g);
    return ok;
}

/* ---- push state and /health status ---- */

static json_t *pstate; /* {"<relay>/<folder>": {"<remote>": {...}, "_prepare": {...}}} */
static bool pstate_dirty;

static json_t *pstate_get(const repo_t *r, const char *remote)
{
    char key[80];
    snprintf(key, sizeof key, "%s/%s", r->relay, r->folder);
    json_t *rj = json_object_get(pstate, key);
    if (!json_is_object(rj)) {
        rj = json_object();
        json_object_set_new(pstate, key, rj);
    }
    json_t *o = json_object_get(rj, remote);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(rj, remote, o);
    }
    return o;
}

static void pstate_load(void)
{
    char *p = rgs_xasprintf("%s/commit/push-state.json", data_dir);
    json_error_t je;
    pstate = json_load_file(p, 0, &je);
    if (!json_is_object(pstate)) {
        json_decref(pstate);
        pstate = json_object();
    }
    free(p);
}

static void pstate_save(void)
{
    if (dry_run || !pstate_dirty)
        return;
    pstate_dirty = false;
    char *s = json_dumps(pstate, JSON_INDENT(2) | JSON_SORT_KEYS);
    const char *dirs[2] = {"commit", "status"};
    const char *names[2] = {"push-state.json", "push.json"};
    for (int i = 0; i < 2; i++) {
        char *dir = rgs_xasprintf("%s/%s", data_dir, dirs[i]);
        int dfd = rgs_mkdirs(dir, 0755) == 0 ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd < 0 || rgs_write_atomic(dfd, names[i], s, strlen(s), 0644) < 0)
            rgs_warn("write '%s/%s': %s", dir, names[i], strerror(errno));
        if (dfd >= 0)
            close(dfd);
        free(dir);
    }
    free(s);
}

static double backoff_for(long failures)
{
    double d = BACKOFF_MIN;
    for (long i = 1; i < failures && d < BACKOFF_MAX; i++)
        d *= 2;
    return d < BACKOFF_MAX ? d : BACKOFF_MAX;
}

/* record an outcome; returns next_retry (0 for none) */
static double pstate_result(json_t *o, const char *result, const char *commit, const char *reason,
                            double now)
{
    pstate_dirty = true;
    bool bad = !strcmp(result, "error") || !strcmp(result, "rejected");
    long failures = bad ? (long)json_integer_value(json_object_get(o, "failures")) + 1 : 0;
    double next = bad ? now + backoff_for(failures) : 0;
    json_object_set_new(o, "result", json_string(result));
    json_object_set_new(o, "time", json_real(rgs_now()));
    json_object_set_new(o, "commit", commit && *commit ? json_string(commit) : json_null());
    json_object_set_new(o, "reason", reason ? json_string(reason) : json_null());
    json_object_set_new(o, "failures", json_integer(failures));
    json_object_set_new(o, "next_retry", bad ? json_real(next) : json_null());
    if (!bad)
        json_object_set_new(o, "last_ok", json_real(rgs_now()));
    return next;
}

static bool pstate_waiting(json_t *o, double now)
{
    json_t *n = json_object_get(o, "next_retry");
    return json_is_number(n) && json_number_value(n) > now;
}

/* ---- the journal ---- */

/* append the pending lines of r durably: open, flock, check the file is
 * still the journal (not renamed by a committer meanwhile), write, fsync */
static int journal_flush(repo_t *r)
{
    if (!r->pending.len || dry_run) {
        rgs_buf_reset(&r->pending);
        return 0;
    }
    char *dir = rgs_xstrdup(r->journal);
    *strrchr(dir, '/') = '\0';
    if (rgs_mkdirs(dir, 0700) < 0) {
        rgs_error("journal directory '%s': %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    for (int tries = 0; tries < 100; tries++) {
        bool created = access(r->journal, F_OK) != 0;
        int fd = open(r->journal, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
            break;
        struct stat a, b;
        if (flock(fd, LOCK_EX) < 0 || fstat(fd, &a) < 0 || stat(r->journal, &b) < 0 ||
            a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
            close(fd);
            continue;
        }
        int rc = rgs_write_all(fd, r->pending.data, r->pending.len);
        if (rc == 0)
            rc = fsync(fd);
        int e = errno;
        close(fd);
        if (rc == 0 && created)
            rc = rgs_fsync_dir(AT_FDCWD, dir);
        if (rc == 0) {
            free(dir);
            rgs_buf_reset(&r->pending);
            return 0;
        }
        errno = e;
        break;
    }
    rgs_error("append to journal '%s': %s", r->journal, strerror(errno));
    free(dir);
    return -1;
}

typedef struct {
    char **paths;
    size_t n;
    char **users;
    size_t n_users;
    double oldest; /* 0: nothing pending */
    size_t entries;
} pending_t;

static void pending_free(pending_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->paths[i]);
    free(p->paths);
    for (size_t i = 0; i < p->n_users; i++)
        free(p->users[i]);
    free(p->users);
    memset(p, 0, sizeof *p);
}

static void add_unique(char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], s))
            return;
    *list = rgs_xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = rgs_xstrdup(s);
}

static void add_path(pending_t *p, const char *s)
{
    if (p->n % 256 == 0)
        p->paths = rgs_xrealloc(p->paths, (p->n + 256) * sizeof *p->paths);
    p->paths[p->n++] = rgs_xstrdup(s);
}

static void parse_journal_text(const char *name, const rgs_buf *b, pending_t *p)
{
    if (!b->data)
        return;
    const char *s = b->data;
    unsigned line = 0;
    while (*s) {
        line++;
        size_t n = strcspn(s, "\n");
        json_error_t je;
        json_t *j = json_loadb(s, n, 0, &je);
        if (!json_is_object(j)) {
            if (n)
                rgs_warn("journal '%s': line %u is torn or not JSON; skipped", name, line);
        } else {
            const char *path = rgs_rec_str(j, "path");
            const char *from = rgs_rec_str(j, "from");
            /* duplicates are kept: rgs_git_tree_update sorts them out in
             * O(n log n) (a first sync names every file) */
            if (path)
                add_path(p, path);
            if (from)
                add_path(p, from);
            json_t *users = json_object_get(j, "users");
            size_t i;
            json_t *u;
            json_array_foreach(users, i, u) if (json_is_string(u))
                add_unique(&p->users, &p->n_users, json_string_value(u));
            double t = rgs_rec_num(j, "t", 0);
            if (t > 0 && (p->oldest == 0 || t < p->oldest))
                p->oldest = t;
            p->entries++;
        }
        json_decref(j);
        s += n;
        if (*s)
            s++;
    }
}

/* what is pending for r (both the journal and a taken-but-uncommitted one) */
static void journal_read(const repo_t *r, pending_t *p)
{
    memset(p, 0, sizeof *p);
    const char *files[2] = {r->taken, r->journal};
    for (int i = 0; i < 2; i++) {
        rgs_buf b = RGS_BUF_INIT;
        if (rgs_read_file(AT_FDCWD, files[i], &b, 0) == 0)
            parse_journal_text(files[i], &b, p);
        else if (errno != ENOENT)
            rgs_warn("read journal '%s': %s", files[i], strerror(errno));
        rgs_buf_free(&b);
    }
}

/* move everything in the journal into .committing (atomically), so that
 * appends made from now on go to a fresh journal */
static int journal_take(const repo_t *r)
{
    int fd = open(r->journal, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    if (flock(fd, LOCK_EX) < 0) {
        close(fd);
        return -1;
    }
    rgs_buf all = RGS_BUF_INIT, cur = RGS_BUF_INIT;
    int rc = -1;
    if (access(r->taken, F_OK) != 0) {
        /* the usual case: the journal becomes the taken journal */
        char *d = rgs_xstrdup(r->journal);
        *strrchr(d, '/') = '\0';
        if (rename(r->journal, r->taken) == 0 && rgs_fsync_dir(AT_FDCWD, d) == 0)
            rc = 0;
        free(d);
        goto out;
    }
    if (rgs_read_file(AT_FDCWD, r->taken, &all, 0) < 0 && errno != ENOENT)
        goto out;
    if (rgs_read_fd(fd, &cur, 0) < 0)
        goto out;
    if (all.len && all.data[all.len - 1] != '\n')
        rgs_buf_putc(&all, '\n');
    rgs_buf_append(&all, cur.data ? cur.data : "", cur.len);
    char *dir = rgs_xstrdup(r->journal);
    *strrchr(dir, '/') = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        const char *base = strrchr(r->taken, '/') + 1;
        const char *jbase = strrchr(r->journal, '/') + 1;
        if (rgs_write_atomic(dfd, base, all.data ? all.data : "", all.len, 0600) == 0 &&
            unlinkat(dfd, jbase, 0) == 0 && fsync(dfd) == 0)
            rc = 0;
        close(dfd);
    }
    free(dir);
out:
    if (rc < 0)
        rgs_error("take journal '%s': %s", r->journal, strerror(errno));
    rgs_buf_free(&all);
    rgs_buf_free(&cur);
    close(fd);
    return rc;
}

/* the commit is durable: forget the taken journal.  No directory fsync:
 * should the unlink be lost in a crash, the journal is replayed, which
 * stages the same content again and makes no commit. */
static void journal_done(const repo_t *r)
{
    if (unlink(r->taken) < 0 && errno != ENOENT)
        rgs_warn("remove '%s': %s", r->taken, strerror(errno));
}

/* ---- repository set-up ---- */

static bool file_exists(const char *dir, const char *name)
{
    char *p = rgs_xasprintf("%s/%s", dir, name);
    bool ok = access(p, F_OK) == 0;
    free(p);
    return ok;
}

/* under the repository lock: leftovers of a crash */
static void repo_recover(const repo_t *r)
{
    char *gitdir = rgs_xasprintf("%s/.git", r->dir);
    int busy = 0;
    rgs_git_clean_stale_locks(gitdir, &busy);
    if (file_exists(gitdir, "rebase-merge") || file_exists(gitdir, "rebase-apply")) {
        rgs_warn("repository '%s': an interrupted rebase; aborting it (the commits stay)", r->dir);
        rgs_git_cli(&gctx, r->dir, NULL, false, NULL, NULL, "rebase", "--abort", NULL);
    }
    if (file_exists(gitdir, "MERGE_HEAD")) {
        rgs_warn("repository '%s': an interrupted merge; aborting it", r->dir);
        rgs_git_cli(&gctx, r->dir, NULL, false, NULL, NULL, "merge", "--abort", NULL);
    }
    free(gitdir);
}

/* remotes and HEAD as configured (libgit2 config: cheap enough for every
 * tick; git_remote_lookup is avoided: libgit2 1.5 leaks in its regex use) */
static int repo_configure(const repo_t *r, git_repository *repo)
{
    int rc = 0;
    git_config *conf = NULL;
    if (git_repository_config(&conf, repo) < 0) {
        rgs_error("config of '%s': %s", r->dir, rgs_git_error());
        return -1;
    }
    for (const rgs_connector *k = r->first; k; k = rgs_config_next(cfg, k)) {
        rgs_git_remote rm;
        rgs_git_remote_parse(k->url, &rm);
        const char *clean = rm.url;
        char *ukey = rgs_xasprintf("remote.%s.url", k->remote_name);
        char *fkey = rgs_xasprintf("remote.%s.fetch", k->remote_name);
        git_buf have = GIT_BUF_INIT;
        bool exists = git_config_get_string_buf(&have, conf, ukey) == 0;
        git_error_clear();
        if (!exists || strcmp(have.ptr, clean)) {
            if (exists) {
                char *red = rgs_redact_url(clean);
                rgs_info("remote '%s' of '%s': URL is now %s", k->remote_name, r->dir, red);
                free(red);
            }
            if (git_config_set_string(conf, ukey, clean) < 0) {
                rgs_error("set URL of remote '%s' in '%s': %s", k->remote_name, r->dir, rgs_git_error());
                rc = -1;
            }
        }
        git_buf_dispose(&have);
        git_config_entry *fe = NULL;
        if (git_config_get_entry(&fe, conf, fkey) < 0 || !fe) {
            git_error_clear();
            char *spec = rgs_xasprintf("+refs/heads/*:refs/remotes/%s/*", k->remote_name);
            if (git_config_set_string(conf, fkey, spec) < 0) {
                rgs_error("set fetch refspec of remote '%s': %s", k->remote_name, rgs_git_error());
                rc = -1;
            }
            free(spec);
        }
        git_config_entry_free(fe);
        free(ukey);
        free(fkey);
        rgs_git_remote_free(&rm);
    }
    git_config_free(conf);
    if (!r->first)
        return rc;
    char *want = rgs_xasprintf("refs/heads/%s", r->first->branch);
    git_reference *head = NULL;
    if (git_reference_lookup(&head, repo, "HEAD") == 0 &&
        git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
        strcmp(git_reference_symbolic_target(head), want)) {
        const char *cur = git_reference_symbolic_target(head);
        char curhex[41], wanthex[41];
        bool cur_born = rgs_git_ref_hex(repo, cur, curhex);
        bool want_born = rgs_git_ref_hex(repo, want, wanthex);
        if (!cur_born || (want_born && !strcmp(curhex, wanthex))) {
            git_repository_set_head(repo, want);
        } else if (!want_born) {
            git_oid id;
            git_reference *nb = NULL;
            git_oid_fromstr(&id, curhex);
            if (git_reference_create(&nb, repo, want, &id, 0, "rgs-commit: configured branch") == 0)
                git_repository_set_head(repo, want);
            git_reference_free(nb);
        } else {
            rgs_error("repository '%s' is on '%s' but the configured branch '%s' exists elsewhere; "
                      "check it out by hand",
                      r->dir, cur, r->first->branch);
            rc = -1;
        }
    }
    git_reference_free(head);
    git_error_clear();
    free(want);
    return rc;
}

/* ls-remote: 0 reachable (has_branch set), -1 unreachable (reason) */
static int probe_remote(const rgs_connector *k, bool *has_branch, char *reason, size_t rlen)
{
    rgs_git_remote rm;
    rgs_git_remote_parse(k->url, &rm);
    rgs_buf out = RGS_BUF_INIT, err = RGS_BUF_INIT;
    char *ref = rgs_xasprintf("refs/heads/%s", k->branch);
    int rc = rgs_git_cli(&gctx, data_dir, &rm, true, &out, &err, "ls-remote", "--heads", "--", rm.url,
                         NULL);
    *has_branch = false;
    if (rc == 0) {
        const char *s = out.data ? out.data : "";
        while (*s) {
            size_t n = strcspn(s, "\n");
            const char *tab = memchr(s, '\t', n);
            if (tab && (size_t)(s + n - tab - 1) == strlen(ref) && !strncmp(tab + 1, ref, strlen(ref)))
                *has_branch = true;
            s += n;
            if (*s)
                s++;
        }
    } else {
        snprintf(reason, rlen, "%s", rgs_git_first_line(&err));
    }
    rgs_git_remote_free(&rm);
    free(ref);
    rgs_buf_free(&out);
    rgs_buf_free(&err);
    return rc == 0 ? 0 : -1;
}

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = rgs_xasprintf("%s/%s", path, e->d_name);
            rm_rf(p);
            free(p);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Create r's repository (lock held): clone when a remote has the branch,
 * init when every remote answered and none has it, otherwise wait.
 * Returns 0 ready, 1 not yet (temporary), -1 error. */
static int repo_create(repo_t *r, double now)
{
    if (!r->first)
        return 1;
    json_t *ps = pstate_get(r, "_prepare");
    const rgs_connector *src = NULL;
    bool unreachable = false;
    char reason[400] = "";
    for (const rgs_connector *k = r->first; k; k = rgs_config_next(cfg, k)) {
        bool has = false;
        char why[320] = "";
        if (probe_remote(k, &has, why, sizeof why) < 0) {
            char *red = rgs_redact_url(k->url);
            rgs_warn("remote '%s' (%s) of folder '%s': unreachable: %s", k->remote_name, red, r->folder,
                     why);
            snprintf(reason, sizeof reason, "remote '%s' unreachable: %s", k->remote_name, why);
            free(red);
            unreachable = true;
        } else if (has && !src) {
            src = k;
        }
    }
    if (!src && unreachable) {
        pstate_result(ps, "error", NULL, reason, now);
        return 1;
    }
    if (dry_run) {
        rgs_info("would %s '%s'", src ? "clone" : "initialise", r->dir);
        return 1;
    }
    char *parent = rgs_xasprintf("%s/repos/%s", data_dir, r->relay);
    char *tmp = rgs_xasprintf("%s/.%s.tmp", parent, r->folder);
    if (rgs_mkdirs(parent, 0755) < 0) {
        rgs_error("create '%s': %s", parent, strerror(errno));
        free(parent);
        free(tmp);
        return 1;
    }
    rm_rf(tmp); /* a crashed clone: we hold the lock, nobody else uses it */
    rgs_buf err = RGS_BUF_INIT;
    int rc;
    if (src) {
        rgs_git_remote rm;
        rgs_git_remote_parse(src->url, &rm);
        rc = rgs_git_cli(&gctx, parent, &rm, true, NULL, &err, "clone", "-q", "--no-tags",
                         "--single-branch", "--branch", src->branch, "--origin", src->remote_name,
                         "--", rm.url, tmp, NULL);
        rgs_git_remote_free(&rm);
    } else {
        rc = rgs_git_cli(&gctx, parent, NULL, false, NULL, &err, "init", "-q", "-b", r->first->branch,
                         "--", tmp, NULL);
    }
    int result = 1;
    if (rc != 0) {
        snprintf(reason, sizeof reason, "%s: %s", src ? "clone" : "init", rgs_git_first_line(&err));
        rgs_warn("repository '%s': %s", r->dir, reason);
        pstate_result(ps, "error", NULL, reason, now);
        rm_rf(tmp);
    } else {
        struct stat st;
        if (lstat(r->dir, &st) == 0 && rmdir(r->dir) < 0) {
            snprintf(reason, sizeof reason,
                     "'%s' exists without .git and is not empty; move it away", r->dir);
            rgs_error("repository '%s': %s", r->dir, reason);
            pstate_result(ps, "error", NULL, reason, now);
            rm_rf(tmp);
            result = -1;
        } else if (rename(tmp, r->dir) < 0) {
            rgs_error("rename '%s' to '%s': %s", tmp, r->dir, strerror(errno));
            rm_rf(tmp);
        } else {
            rgs_fsync_dir(AT_FDCWD, parent);
            rgs_info("repository '%s': %s", r->dir,
                     src ? "cloned" : "initialised (every remote is empty or lacks the branch)");
            pstate_result(ps, "ok", NULL, src ? "cloned" : "initialised", now);
            result = 0;
        }
    }
    rgs_buf_free(&err);
    free(parent);
    free(tmp);
    return result;
}

/* lock, create if needed, recover, configure.  Returns the lock fd (>= 0)
 * and *repo open, or -1 (not ready / busy / error: *why says). */
static int repo_open_locked(repo_t *r, git_repository **repo, double now, bool may_create,
                            bool *created)
{
    *repo = NULL;
    if (created)
        *created = false;
    int lk = rgs_lock_repo(data_dir, r->relay, r->folder, LOCK_WAIT);
    if (lk < 0) {
        rgs_warn("repository '%s': lock busy (%s); next tick", r->dir, strerror(errno));
        return -1;
    }
    if (!has_git(r)) {
        if (!may_create || repo_create(r, now) != 0) {
            close(lk);
            return -1;
        }
        if (created)
            *created = true;
    }
    repo_recover(r);
    if (git_repository_open_ext(repo, r->dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0) {
        rgs_error("open repository '%s': %s", r->dir, rgs_git_error());
        close(lk);
        return -1;
    }
    if (!dry_run)
        repo_configure(r, *repo);
    return lk;
}

/* ---- commits ---- */

static char *format_message(const rgs_git_change *chg, time_t t)
{
    rgs_buf tpl = RGS_BUF_INIT;
    const char *s = cfg->message_template;
    while (*s) {
        if (s[0] == '%' && s[1] == '%') {
            rgs_buf_puts(&tpl, "%%");
            s += 2;
            continue;
        }
        if (s[0] == '%' && s[1] == '{') {
            const char *e = strchr(s, '}');
            if (e) {
                size_t n = (size_t)(e - s - 2);
                rgs_buf val = RGS_BUF_INIT;
                if (n == 5 && !strncmp(s + 2, "files", 5))
                    rgs_buf_printf(&val, "%zu", chg->added + chg->modified + chg->deleted);
                else if (n == 5 && !strncmp(s + 2, "added", 5))
                    rgs_buf_printf(&val, "%zu", chg->added);
                else if (n == 8 && !strncmp(s + 2, "modified", 8))
                    rgs_buf_printf(&val, "%zu", chg->modified);
                else if (n == 7 && !strncmp(s + 2, "deleted", 7))
                    rgs_buf_printf(&val, "%zu", chg->deleted);
                else if (n == 5 && !strncmp(s + 2, "paths", 5)) {
                    const char *p = chg->paths.data ? chg->paths.data : "";
                    while (*p) {
                        size_t m = strcspn(p, "\n");
                        if (val.len)
                            rgs_buf_putc(&val, '\n');
                        rgs_buf_append(&val, p + 2, m > 2 ? m - 2 : 0);
                        p += m;
                        if (*p)
                            p++;
                    }
                } else {
                    rgs_buf_append(&val, s, (size_t)(e - s + 1)); /* unknown: kept */
                }
                for (size_t i = 0; i < val.len; i++) {
                    if (val.data[i] == '%')
                        rgs_buf_putc(&tpl, '%');
                    rgs_buf_putc(&tpl, val.data[i]);
                }
                rgs_buf_free(&val);
                s = e + 1;
                continue;
            }
        }
        rgs_buf_putc(&tpl, *s++);
    }
    struct tm tm;
    if (cfg->message_utc)
        gmtime_r(&t, &tm);
    else
        localtime_r(&t, &tm);
    size_t cap = tpl.len * 4 + 256;
    char *msg = rgs_xmalloc(cap);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = tpl.len ? strftime(msg, cap, tpl.data, &tm) : 0; /* the configured template */
#pragma GCC diagnostic pop
    if (n == 0)
        snprintf(msg, cap, "Auto-sync");
    rgs_buf_free(&tpl);
    return msg;
}

/* Stage, commit, emit.  Returns 0 (committed or nothing to commit), -1. */
static int do_commit(repo_t *r, git_repository *repo, double now)
{
    if (journal_take(r) < 0) {
        worse(RGS_EX_TEMP);
        return -1;
    }
    pending_t p;
    journal_read(r, &p);
    if (!p.entries) {
        journal_done(r);
        pending_free(&p);
        return 0;
    }
    rgs_git_change chg = {0, 0, 0, RGS_BUF_INIT, RGS_BUF_INIT};
    size_t refused = 0;
    int rc = -1;
    git_signature *author = NULL, *committer = NULL;
    char *message = NULL;
    git_oid tree, parent;
    bool has_parent = false;
    char why[400];
    /* the new tree from HEAD's and the journal's paths (no index read or
     * write: see rgs_git.h), then the index entries of those paths (so the
     * index never lags the commits; a lock held by another process stops
     * the commit here, before anything is committed), then the commit */
    if (rgs_git_tree_update(repo, (const char *const *)p.paths, p.n, &tree, &parent, &has_parent, &chg,
                            &refused) < 0)
        goto out;
    if (rgs_git_index_update(&gctx, r->dir, &chg, why, sizeof why) < 0) {
        rgs_error("repository '%s': update the index: %s; the journal is kept", r->dir, why);
        goto out;
    }
    /* author: the first editor with a configured identity; the others get
     * Co-authored-by trailers; none known -> the service identity */
    const rgs_author *first = NULL;
    rgs_buf trailers = RGS_BUF_INIT;
    for (size_t i = 0; i < p.n_users; i++) {
        const rgs_author *a = rgs_config_author(cfg, p.users[i]);
        if (!a)
            continue;
        if (!first) {
            first = a;
            continue;
        }
        if (!strcasecmp(a->email, first->email))
            continue;
        char *line = rgs_xasprintf("Co-authored-by: %s <%s>\n", a->name, a->email);
        if (!trailers.data || !strstr(trailers.data, line))
            rgs_buf_puts(&trailers, line);
        free(line);
    }
    time_t t = (time_t)rgs_now();
    char *subject = format_message(&chg, t);
    rgs_buf m = RGS_BUF_INIT;
    rgs_buf_puts(&m, subject);
    while (m.len && m.data[m.len - 1] == '\n')
        m.data[--m.len] = '\0';
    rgs_buf_putc(&m, '\n');
    if (trailers.len) {
        rgs_buf_putc(&m, '\n');
        rgs_buf_append(&m, trailers.data, trailers.len);
    }
    free(subject);
    rgs_buf_free(&trailers);
    message = rgs_buf_steal(&m, NULL);
    if (git_signature_now(&committer, cfg->committer_name, cfg->committer_email) < 0 ||
        git_signature_now(&author, first ? first->name : cfg->committer_name,
                          first ? first->email : cfg->committer_email) < 0) {
        rgs_error("signature: %s", rgs_git_error());
        goto out;
    }
    bool made = false;
    char hex[41];
    if (rgs_git_commit_tree(repo, &tree, has_parent ? &parent : NULL, author, committer, message, &made,
                            hex) < 0)
        goto out;
    if (made) {
        json_t *rec = rgs_record_new("commit");
        json_object_set_new(rec, "relay", json_string(r->relay));
        json_object_set_new(rec, "folder", json_string(r->folder));
        json_object_set_new(rec, "commit", json_string(hex));
        json_object_set_new(rec, "files", json_integer((json_int_t)(chg.added + chg.modified + chg.deleted)));
        size_t ml = strlen(message);
        while (ml && message[ml - 1] == '\n')
            ml--;
        json_object_set_new(rec, "message", json_stringn(message, ml));
        char *who = rgs_xasprintf("%s <%s>", author->name, author->email);
        json_object_set_new(rec, "author", json_string(who));
        free(who);
        json_object_set_new(rec, "time", json_real(rgs_now()));
        emit(rec);
        rgs_info("commit '%s' in '%s': %zu files", hex, r->dir, chg.added + chg.modified + chg.deleted);
    } else {
        rgs_debug("repository '%s': the pending changes leave the tree as it is; no commit", r->dir);
    }
    (void)now;
    /* the new objects, index, ref and reflog must be durable before the
     * journal goes: one syncfs(2) of the repository's file system, cheaper
     * than the ~17 fsyncs of libgit2's GIT_OPT_ENABLE_FSYNC_GITDIR (the
     * journal's own writes are fsynced where they happen) */
    if (made) {
        int dfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int sr = dfd < 0 ? -1 : syncfs(dfd);
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        if (sr < 0) {
            rgs_error("syncfs '%s': %s; the journal is kept", r->dir, strerror(e));
            goto out;
        }
    }
    journal_done(r);
    rc = 0;
out:
    if (rc < 0)
        worse(RGS_EX_SOME_FAILED);
    git_signature_free(author);
    git_signature_free(committer);
    free(message);
    rgs_git_change_free(&chg);
    pending_free(&p);
    return rc;
}

/* ---- pushing ---- */

/* the path belongs to Relay (true) or to the remote (false) */
static bool relay_owns(const rgs_connector *k, const char *path)
{
    const char *pre = k->prefix;
    size_t n = strlen(pre);
    if (n == 0) /* the whole repository, except the Git files at its root */
        return strncmp(path, ".git", 4) != 0;
    return !strncmp(path, pre, n) && (path[n] == '/' || path[n] == '\0');
}

/* Settle every unmerged path: Relay's side under the prefix, the remote's
 * elsewhere.  `relay_stage`: 3 during a rebase (the commit being replayed,
 * "theirs"), 2 during a merge ("ours").  Returns 0 or -1. */
static int resolve_conflicts(const repo_t *r, const rgs_connector *k, int relay_stage, int *count)
{
    rgs_buf out = RGS_BUF_INIT;
    if (rgs_git_cli(&gctx, r->dir, NULL, false, &out, NULL, "ls-files", "-u", "-z", NULL) != 0) {
        rgs_buf_free(&out);
        return -1;
    }
    /* entries "mode sha stage\tpath\0"; collect per path the stages present */
    typedef struct {
        char *path;
        unsigned stages;
    } up_t;
    up_t *ups = NULL;
    size_t n = 0;
    for (size_t off = 0; out.data && off < out.len; off += strlen(out.data + off) + 1) {
        const char *e = out.data + off;
        const char *tab = strchr(e, '\t');
        if (!tab || tab - e < 2)
            continue;
        int stage = tab[-1] - '0';
        const char *path = tab + 1;
        size_t i;
        for (i = 0; i < n && strcmp(ups[i].path, path); i++)
            ;
        if (i == n) {
            ups = rgs_xrealloc(ups, (n + 1) * sizeof *ups);
            ups[n].path = rgs_xstrdup(path);
            ups[n].stages = 0;
            n++;
        }
        if (stage >= 1 && stage <= 3)
            ups[i].stages |= 1u << stage;
    }
    rgs_buf_free(&out);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        bool relay = relay_owns(k, ups[i].path);
        int want = relay ? relay_stage : 5 - relay_stage;
        rgs_buf err = RGS_BUF_INIT;
        int st;
        if (ups[i].stages & (1u << want)) {
            st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "checkout",
                             want == 2 ? "--ours" : "--theirs", "--", ups[i].path, NULL);
            if (st == 0)
                st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "add", "--", ups[i].path, NULL);
        } else {
            st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "rm", "-q", "-f", "--", ups[i].path,
                             NULL);
        }
        rgs_info("conflict '%s' in '%s': kept %s's version%s", ups[i].path, r->dir,
                 relay ? "Relay" : "the remote", (ups[i].stages & (1u << want)) ? "" : " (deleted)");
        if (st != 0) {
            rgs_error("resolve '%s' in '%s': %s", ups[i].path, r->dir, rgs_git_first_line(&err));
            rc = -1;
        }
        rgs_buf_free(&err);
        free(ups[i].path);
    }
    free(ups);
    if (count)
        *count += (int)n;
    return rc;
}

static bool in_progress(const repo_t *r, const char *what)
{
    char *g = rgs_xasprintf("%s/.git", r->dir);
    bool b = file_exists(g, what);
    free(g);
    return b;
}

/* number of commits in HEAD that `upstream` lacks, also excluding the
 * other remotes' tracking refs when `others` */
static long count_ahead(const repo_t *r, const rgs_connector *k, const char *upstream, bool others)
{
    const char *argv[20];
    int a = 0;
    argv[a++] = "rev-list";
    argv[a++] = "--count";
    argv[a++] = "HEAD";
    char *neg[12];
    int nn = 0;
    neg[nn++] = rgs_xasprintf("^%s", upstream);
    if (others)
        for (const rgs_connector *o = r->first; o && nn < 10; o = rgs_config_next(cfg, o)) {
            if (o == k)
                continue;
            char *tr = rgs_xasprintf("refs/remotes/%s/%s", o->remote_name, o->branch);
            git_repository *repo = NULL;
            char hex[41];
            if (git_repository_open(&repo, r->dir) == 0 && rgs_git_ref_hex(repo, tr, hex))
                neg[nn++] = rgs_xasprintf("^%s", hex);
            git_repository_free(repo);
            free(tr);
        }
    for (int i = 0; i < nn; i++)
        argv[a++] = neg[i];
    argv[a++] = "--";
    argv[a] = NULL;
    rgs_buf out = RGS_BUF_INIT;
    int st = rgs_git_cliv(&gctx, r->dir, NULL, false, &out, NULL, argv);
    long v = st == 0 && out.data ? strtol(out.data, NULL, 10) : -1;
    rgs_buf_free(&out);
    for (int i = 0; i < nn; i++)
        free(neg[i]);
    return v;
}

/* Bring the remote's new commits in: rebase the service's commits on them
 * (linear history), or, when some of those commits were already pushed to
 * another remote of this folder (rebasing would rewrite published
 * history), merge.  Returns 0, or -1 with *why. */
static int integrate(const repo_t *r, const rgs_connector *k, const char *upstream, char *why,
                     size_t wlen, int *conflicts)
{
    /* no index refresh before the git CLI's rebase or merge: every commit
     * updated the index entries it changed (rgs_git_index_update), so the
     * index agrees with HEAD, and git refreshes the stat data it lacks */
    long all = count_ahead(r, k, upstream, false);
    long unpublished = r->first && rgs_config_next(cfg, r->first) ? count_ahead(r, k, upstream, true) : all;
    bool rebase = all == unpublished;
    rgs_buf err = RGS_BUF_INIT;
    int st;
    if (rebase) {
        st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "rebase", "--no-autosquash",
                         "--empty=drop", upstream, NULL);
        for (int round = 0; st != 0 && round < 10000; round++) {
            if (!in_progress(r, "rebase-merge") && !in_progress(r, "rebase-apply"))
                break;
            rgs_buf_reset(&err);
            if (resolve_conflicts(r, k, 3, conflicts) < 0)
                break;
            st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "-c", "core.editor=true", "rebase",
                             "--continue", NULL);
            if (st != 0 && (in_progress(r, "rebase-merge") || in_progress(r, "rebase-apply"))) {
                /* the resolution left nothing to commit: drop that commit */
                rgs_buf out = RGS_BUF_INIT;
                rgs_git_cli(&gctx, r->dir, NULL, false, &out, NULL, "ls-files", "-u", NULL);
                bool unmerged = out.len > 0;
                rgs_buf_free(&out);
                if (!unmerged) {
                    rgs_buf_reset(&err);
                    st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "rebase", "--skip", NULL);
                }
            }
        }
        if (st != 0) {
            snprintf(why, wlen, "rebase on %s failed: %s", upstream, rgs_git_first_line(&err));
            if (in_progress(r, "rebase-merge") || in_progress(r, "rebase-apply"))
                rgs_git_cli(&gctx, r->dir, NULL, false, NULL, NULL, "rebase", "--abort", NULL);
        }
    } else {
        char *msg = rgs_xasprintf("Merge %s into %s (commits already pushed to other remotes)", upstream,
                                  k->branch);
        st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "merge", "--no-edit",
                         "--allow-unrelated-histories", "-m", msg, upstream, NULL);
        if (st != 0 && in_progress(r, "MERGE_HEAD")) {
            rgs_buf_reset(&err);
            if (resolve_conflicts(r, k, 2, conflicts) == 0)
                st = rgs_git_cli(&gctx, r->dir, NULL, false, NULL, &err, "commit", "--no-edit", "-q", NULL);
        }
        if (st != 0) {
            snprintf(why, wlen, "merge of %s failed: %s", upstream, rgs_git_first_line(&err));
            if (in_progress(r, "MERGE_HEAD"))
                rgs_git_cli(&gctx, r->dir, NULL, false, NULL, NULL, "merge", "--abort", NULL);
        }
        free(msg);
    }
    rgs_buf_free(&err);
    return st == 0 ? 0 : -1;
}

typedef enum { PUSH_OK, PUSH_REJECTED, PUSH_ERROR } push_rc;

static push_rc push_once(const repo_t *r, const rgs_connector *k, const rgs_git_remote *rm, char *why,
                         size_t wlen)
{
    char *spec = rgs_xasprintf("refs/heads/%s:refs/heads/%s", r->first->branch, k->branch);
    rgs_buf out = RGS_BUF_INIT, err = RGS_BUF_INIT;
    int st = rgs_git_cli(&gctx, r->dir, rm, true, &out, &err, "push", "--porcelain", "--no-verify",
                         k->remote_name, spec, NULL);
    push_rc rc = st == 0 ? PUSH_OK : PUSH_ERROR;
    /* porcelain: "<flag>\t<from>:<to>\t<summary> (<reason>)" per ref */
    const char *s = out.data ? out.data : "";
    while (*s) {
        size_t n = strcspn(s, "\n");
        if (n > 2 && s[0] == '!' && s[1] == '\t') {
            const char *sum = memchr(s + 2, '\t', n - 2);
            char line[300];
            snprintf(line, sizeof line, "%.*s", (int)(sum ? s + n - sum - 1 : 0), sum ? sum + 1 : "");
            snprintf(why, wlen, "%s", line);
            rc = strstr(line, "[rejected]") && (strstr(line, "fetch first") || strstr(line, "non-fast-forward"))
                     ? PUSH_REJECTED
                     : PUSH_ERROR;
        }
        s += n;
        if (*s)
            s++;
    }
    if (rc == PUSH_ERROR && !*why)
        snprintf(why, wlen, "%s", st == -2 ? "timed out" : rgs_git_first_line(&err));
    if (rc == PUSH_ERROR && !*why)
        snprintf(why, wlen, "git push exited with status %d", st);
    rgs_buf_free(&out);
    rgs_buf_free(&err);
    free(spec);
    return rc;
}

static int fetch_remote(const repo_t *r, const rgs_connector *k, const rgs_git_remote *rm, char *why,
                        size_t wlen)
{
    char *spec = rgs_xasprintf("+refs/heads/%s:refs/remotes/%s/%s", k->branch, k->remote_name, k->branch);
    rgs_buf err = RGS_BUF_INIT;
    int st = rgs_git_cli(&gctx, r->dir, rm, true, NULL, &err, "fetch", "-q", "--no-tags", "--no-write-fetch-head",
                         k->remote_name, spec, NULL);
    if (st != 0)
        snprintf(why, wlen, "fetch: %s", st == -2 ? "timed out" : rgs_git_first_line(&err));
    rgs_buf_free(&err);
    free(spec);
    return st == 0 ? 0 : -1;
}

static void emit_push(const repo_t *r, const rgs_connector *k, const char *result, const char *commit,
                      int attempt, const char *reason, double next_retry)
{
    json_t *rec = rgs_record_new("push");
    json_object_set_new(rec, "relay", json_string(r->relay));
    json_object_set_new(rec, "folder", json_string(r->folder));
    json_object_set_new(rec, "remote", json_string(k->remote_name));
    char *red = rgs_redact_url(k->url);
    json_object_set_new(rec, "url", json_string(red));
    free(red);
    json_object_set_new(rec, "branch", json_string(k->branch));
    json_object_set_new(rec, "result", json_string(result));
    json_object_set_new(rec, "commit", commit && *commit ? json_string(commit) : json_null());
    json_object_set_new(rec, "attempt", json_integer(attempt));
    json_object_set_new(rec, "reason", reason && *reason ? json_string(reason) : json_null());
    json_object_set_new(rec, "next_retry", next_retry > 0 ? json_real(next_retry) : json_null());
    emit(rec);
}

/* Push r's branch to remote k when it is ahead.  `clean`: no pending
 * changes in the work tree (a rebase may run). */
static void push_remote(repo_t *r, const rgs_connector *k, double now, bool final, bool clean)
{
    git_repository *repo = NULL;
    char local[41], track[41];
    char *lref = rgs_xasprintf("refs/heads/%s", r->first->branch);
    char *tref = rgs_xasprintf("refs/remotes/%s/%s", k->remote_name, k->branch);
    json_t *ps = pstate_get(r, k->remote_name);
    if (git_repository_open(&repo, r->dir) < 0 || !rgs_git_ref_hex(repo, lref, local)) {
        git_error_clear();
        goto out; /* unborn: nothing to push yet */
    }
    bool have_track = rgs_git_ref_hex(repo, tref, track);
    git_repository_free(repo);
    repo = NULL;
    if (have_track && !strcmp(local, track)) {
        const char *last = json_string_value(json_object_get(ps, "result"));
        if (!last || strcmp(last, "ok")) {
            pstate_result(ps, "up-to-date", local, NULL, now);
        }
        goto out;
    }
    if (!final && pstate_waiting(ps, now)) {
        rgs_debug("push '%s' to '%s': waiting for the retry time", r->dir, k->remote_name);
        goto out;
    }
    if (dry_run) {
        rgs_info("would push '%s' to remote '%s'", r->dir, k->remote_name);
        goto out;
    }
    rgs_git_remote rm; /* the credentials bound to the URL's protocol and host */
    rgs_git_remote_parse(k->url, &rm);
    bool rebased = false;
    char why[400] = "";
    const char *result = "error";
    int attempt;
    int conflicts = 0;
    for (attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        why[0] = '\0';
        push_rc pr = push_once(r, k, &rm, why, sizeof why);
        if (pr == PUSH_OK) {
            result = rebased ? "rebased" : "ok";
            break;
        }
        if (pr == PUSH_ERROR) {
            result = "error";
            break;
        }
        result = "rejected";
        if (!clean) {
            snprintf(why, sizeof why, "rejected (the remote moved); rebasing after the pending changes "
                                      "are committed");
            break;
        }
        if (attempt == MAX_ATTEMPTS)
            break;
        char fwhy[400] = "";
        if (fetch_remote(r, k, &rm, fwhy, sizeof fwhy) < 0) {
            snprintf(why, sizeof why, "%s", fwhy);
            result = "error";
            break;
        }
        if (integrate(r, k, tref, fwhy, sizeof fwhy, &conflicts) < 0) {
            snprintf(why, sizeof why, "%s", fwhy);
            result = "error";
            break;
        }
        rebased = true;
        rgs_info("remote '%s' of '%s' had new commits: integrated them (%d conflicts settled), "
                 "pushing again",
                 k->remote_name, r->dir, conflicts);
        /* bounded backoff between attempts within one tick */
        struct timespec ts = {0, 200 * 1000 * 1000 * attempt};
        nanosleep(&ts, NULL);
    }
    if (attempt > MAX_ATTEMPTS)
        attempt = MAX_ATTEMPTS;
    rgs_git_remote_free(&rm);
    if (git_repository_open(&repo, r->dir) == 0)
        rgs_git_ref_hex(repo, lref, local);
    bool good = !strcmp(result, "ok") || !strcmp(result, "rebased");
    double next = pstate_result(ps, result, local, good ? NULL : why, now);
    emit_push(r, k, result, local, attempt, good ? NULL : why, next);
    if (good)
        rgs_info("push '%s' to '%s': %s %s", r->dir, k->remote_name, result, local);
    else {
        char *red = rgs_redact_url(k->url);
        rgs_warn("push '%s' to remote '%s' (%s): %s: %s", r->dir, k->remote_name, red, result, why);
        free(red);
        worse(RGS_EX_SOME_FAILED);
    }
out:
    git_repository_free(repo);
    free(lref);
    free(tref);
}

/* ---- the tick ---- */

static void handle_repo(repo_t *r, double now, bool final)
{
    pending_t p;
    journal_read(r, &p);
    bool due = p.entries && (final || now - p.oldest >= commit_interval);
    bool configured = r->first != NULL;
    pending_free(&p);
    bool need_push_check = configured;
    if (!due && !need_push_check)
        return;
    if (!has_git(r)) {
        json_t *ps = pstate_get(r, "_prepare");
        if (!configured || (!final && pstate_waiting(ps, now)))
            return;
    }
    git_repository *repo = NULL;
    bool created = false;
    int lk = repo_open_locked(r, &repo, now, configured, &created);
    if (lk < 0) {
        if (due || configured)
            worse(RGS_EX_SOME_FAILED);
        return;
    }
    if (due) {
        if (dry_run)
            rgs_info("would commit the pending changes of '%s'", r->dir);
        else
            do_commit(r, repo, now);
    }
    git_repository_free(repo);
    if (configured) {
        pending_t left;
        journal_read(r, &left);
        bool clean = left.entries == 0;
        pending_free(&left);
        for (const rgs_connector *k = r->first; k; k = rgs_config_next(cfg, k))
            push_remote(r, k, now, final, clean);
    }
    close(lk);
}

static void handle_tick(const json_t *tick)
{
    double now = rgs_rec_num(tick, "time", rgs_now());
    bool final = rgs_rec_bool(tick, "final", false);
    repos_discover();
    for (size_t i = 0; i < n_repos; i++)
        handle_repo(&repos[i], now, final);
    pstate_save();
}

/* ---- --prepare and --check-config ---- */

static int prepare_all(void)
{
    int rc = RGS_EX_OK;
    double now = rgs_now();
    repos_discover();
    for (size_t i = 0; i < n_repos; i++) {
        repo_t *r = &repos[i];
        if (!r->first)
            continue;
        git_repository *repo = NULL;
        int lk = repo_open_locked(r, &repo, now, true, NULL);
        if (lk < 0) {
            rgs_warn("repository '%s': not ready; retried at every tick", r->dir);
            rc = RGS_EX_TEMP;
            continue;
        }
        git_repository_free(repo);
        close(lk);
    }
    pstate_save();
    return rc;
}

/* --check-config: credentials written in connector URLs (the original
 * service's only way, relay.md §5.12) still work but are deprecated: name
 * file, line and key, never the secret.  And one GIT_TOKEN for several
 * hosts: each of them receives it. */
static void warn_credentials(void)
{
    rgs_git_ctx creds; /* only the credentials: no key written, nothing touched */
    memset(&creds, 0, sizeof creds);
    rgs_git_take_secrets(&creds);
    char **shared = NULL; /* "protocol://host" that would get GIT_TOKEN */
    size_t n_shared = 0;
    for (size_t i = 0; i < cfg->n_connectors; i++) {
        const rgs_connector *k = &cfg->connectors[i];
        unsigned line = k->url_line ? k->url_line : k->line;
        rgs_git_remote rm;
        rgs_git_remote_parse(k->url, &rm);
        if (rm.had_userinfo && rm.protocol) {
            char *var = rgs_git_token_var("GIT_TOKEN", rm.host);
            rgs_warn("%s:%u: url: credentials in the URL (%s) are deprecated: rgs-commit removes "
                     "them from the URL git sees and hands them over through its credential helper; "
                     "remove them from the URL and set GIT_TOKEN (and GIT_USERNAME), or %s for "
                     "this host only",
                     cfg->path, line, rm.url, var);
            free(var);
        } else if (rm.had_userinfo) {
            rgs_warn("%s:%u: url: a password in this URL (%s) is never used; remove it", cfg->path, line,
                     rm.url);
        }
        const char *u, *pw, *src;
        if (rgs_git_credentials(&creds, &rm, &u, &pw, &src) && !strcmp(src, "GIT_TOKEN")) {
            char *h = rgs_xasprintf("%s://%s", rm.protocol, rm.host);
            size_t j;
            for (j = 0; j < n_shared && strcmp(shared[j], h); j++)
                ;
            if (j == n_shared) {
                shared = rgs_xrealloc(shared, (n_shared + 1) * sizeof *shared);
                shared[n_shared++] = h;
            } else {
                free(h);
            }
        }
        rgs_git_remote_free(&rm);
    }
    if (n_shared > 1) {
        rgs_buf list = RGS_BUF_INIT;
        for (size_t j = 0; j < n_shared; j++)
            rgs_buf_printf(&list, "%s%s", j ? ", " : "", shared[j]);
        rgs_warn("GIT_TOKEN: one token is handed to %zu hosts (%s); give each host its own token in "
                 "GIT_TOKEN_<HOST> (see rgs-commit(1))",
                 n_shared, list.data);
        rgs_buf_free(&list);
    }
    for (size_t j = 0; j < n_shared; j++)
        free(shared[j]);
    free(shared);
    rgs_git_ctx_free(&creds);
}

/* ---- input ---- */

static json_t **held;
static size_t n_held;

static void hold(json_t *rec)
{
    held = rgs_xrealloc(held, (n_held + 1) * sizeof *held);
    held[n_held++] = rec;
}

/* journal first (durable), then pass the held records on, in order */
static void flush_held(void)
{
    for (size_t i = 0; i < n_repos; i++)
        if (journal_flush(&repos[i]) < 0) {
            rgs_error("journal not durable: stopping so that the batch is retried");
            exit(RGS_EX_TEMP);
        }
    for (size_t i = 0; i < n_held; i++)
        emit(held[i]);
    n_held = 0;
}

static bool input_buffered(FILE *f)
{
#ifdef __GLIBC__
    if (f->_IO_read_ptr < f->_IO_read_end)
        return true;
#endif
    struct pollfd p = {fileno(f), POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

/* a path rgs-apply could have written: rgs_path_check's rules */
static bool safe_rel_path(const char *p)
{
    char why[80];
    return p && rgs_path_check(p, strlen(p), 0, NULL, NULL, why, sizeof why) == 0;
}

static void on_applied(json_t *rec)
{
    const char *relay = rgs_rec_uuid(rec, "relay");
    const char *folder = rgs_rec_uuid(rec, "folder");
    const char *path = rgs_rec_str(rec, "path");
    const char *from = rgs_rec_str(rec, "from");
    if (!relay || !folder || !safe_rel_path(path) || (from && !safe_rel_path(from))) {
        rgs_warn("applied record with bad relay, folder or path '%s'; not committed", path ? path : "");
        hold(rgs_failed_new(rec, false, "rgs-commit: bad relay, folder or path in applied record"));
        hold(json_incref(rec));
        worse(RGS_EX_SOME_FAILED);
        return;
    }
    repo_t *r = repo_get(relay, folder, true);
    json_t *j = json_object();
    double t = rgs_rec_num(rec, "time", 0);
    json_object_set_new(j, "t", json_real(t > 0 ? t : rgs_now()));
    json_object_set(j, "op", json_object_get(rec, "op") ? json_object_get(rec, "op") : json_null());
    json_object_set_new(j, "path", json_string(path));
    if (from)
        json_object_set_new(j, "from", json_string(from));
    json_t *users = json_object_get(rec, "users");
    if (json_is_array(users))
        json_object_set(j, "users", users);
    char *line = json_dumps(j, JSON_COMPACT);
    rgs_buf_puts(&r->pending, line);
    rgs_buf_putc(&r->pending, '\n');
    free(line);
    json_decref(j);
    hold(json_incref(rec));
}

static int filter(void)
{
    static char inbuf[1 << 20];
    setvbuf(stdin, inbuf, _IOFBF, sizeof inbuf);
    rgs_reader *rd = rgs_reader_new(stdin, "stdin", 0);
    json_t *rec;
    const char *type;
    int rc;
    repos_discover();
    for (;;) {
        if (n_held && (n_held >= FLUSH_RECORDS || !input_buffered(stdin)))
            flush_held();
        rc = rgs_reader_next(rd, &rec, &type);
        if (rc == 0)
            break;
        if (rc < 0) {
            if (rgs_reader_bad_v(rd)) {
                flush_held();
                rgs_reader_free(rd);
                return RGS_EX_PERM;
            }
            worse(RGS_EX_SOME_FAILED);
            continue;
        }
        if (!strcmp(type, "applied")) {
            on_applied(rec);
            json_decref(rec);
        } else if (!strcmp(type, "tick")) {
            flush_held();
            handle_tick(rec);
            emit(rec);
        } else {
            hold(rec);
        }
    }
    flush_held();
    rgs_reader_free(rd);
    return RGS_EX_OK;
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fputs("usage: rgs-commit [-v] [-q] [-n] [-d DATA_DIR] [--git-config-file FILE]\n"
          "                  [--commit-interval SECONDS] [--git-timeout SECONDS]\n"
          "                  [--git-stall-timeout SECONDS]\n"
          "                  [--ssh-accept-new] [--check-config | --prepare]\n"
          "\n"
          "Reads records on stdin and passes them on; journals `applied` records\n"
          "durably before passing them; on `tick` commits every repository whose oldest\n"
          "pending change is --commit-interval old (every pending change at the final\n"
          "tick) and pushes every remote that is behind; emits `commit` and `push`.\n"
          "\n"
          "  -d, --data-dir DIR         data directory ($RELAY_GIT_DATA_DIR, else .)\n"
          "      --git-config-file F    connectors file (DATA_DIR/git_connectors.toml)\n"
          "      --commit-interval S    seconds a change waits before its commit (10)\n"
          "      --git-timeout S        time limit of one network git command (120)\n"
          "      --git-stall-timeout S  an SSH or HTTP(S) remote that sends nothing for\n"
          "                             S seconds fails the command (20)\n"
          "      --ssh-accept-new       trust SSH host keys on first use (RGS_SSH_TOFU=1)\n"
          "      --check-config         validate the configuration and exit\n"
          "      --prepare              make every connector's repository exist and exit\n"
          "  -n, --dry-run              say what would be done; change nothing\n"
          "  -v, -q                     more, fewer messages\n"
          "Environment: SSH_PRIVATE_KEY | SSH_PRIVATE_KEY_FILE, SSH_KNOWN_HOSTS |\n"
          "SSH_KNOWN_HOSTS_FILE, GIT_TOKEN, GIT_USERNAME, GIT_TOKEN_<HOST>,\n"
          "GIT_USERNAME_<HOST>, RGS_GIT_CONFIG_FILE (see rgs-commit(1)).\n"
          "Exit status: 0 ok, 1 some commits or pushes failed, 100 bad usage or\n"
          "configuration, 111 temporary (I/O, repositories not ready), 101 internal.\n",
          f);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    enum { OPT_CONFIG = 256, OPT_INTERVAL, OPT_TIMEOUT, OPT_STALL, OPT_TOFU, OPT_CHECK, OPT_PREPARE };
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"dry-run", no_argument, NULL, 'n'},
        {"data-dir", required_argument, NULL, 'd'},
        {"git-config-file", required_argument, NULL, OPT_CONFIG},
        {"commit-interval", required_argument, NULL, OPT_INTERVAL},
        {"git-timeout", required_argument, NULL, OPT_TIMEOUT},
        {"git-stall-timeout", required_argument, NULL, OPT_STALL},
        {"ssh-accept-new", no_argument, NULL, OPT_TOFU},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"prepare", no_argument, NULL, OPT_PREPARE},
        {NULL, 0, NULL, 0}};
    const char *dd = NULL, *config_opt = getenv("RGS_GIT_CONFIG_FILE");
    double git_timeout = 120, git_stall = RGS_GIT_STALL_DEFAULT;
    const char *tofu_env = getenv("RGS_SSH_TOFU");
    bool tofu = tofu_env && !strcmp(tofu_env, "1");
    bool check = false, prepare = false;
    int c;
    while ((c = getopt_long(argc, argv, "hvqnd:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return RGS_EX_OK;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'n': dry_run = true; break;
        case 'd': dd = optarg; break;
        case OPT_CONFIG: config_opt = optarg; break;
        case OPT_INTERVAL:
            if (!rgs_parse_seconds(optarg, &commit_interval))
                rgs_die(RGS_EX_PERM, "bad --commit-interval '%s': want seconds", optarg);
            break;
        case OPT_TIMEOUT:
            if (!rgs_parse_seconds(optarg, &git_timeout) || git_timeout <= 0)
                rgs_die(RGS_EX_PERM, "bad --git-timeout '%s': want seconds > 0", optarg);
            break;
        case OPT_STALL:
            if (!rgs_parse_seconds(optarg, &git_stall) || git_stall <= 0)
                rgs_die(RGS_EX_PERM, "bad --git-stall-timeout '%s': want seconds > 0", optarg);
            break;
        case OPT_TOFU: tofu = true; break;
        case OPT_CHECK: check = true; break;
        case OPT_PREPARE: prepare = true; break;
        default: usage(stderr); return RGS_EX_PERM;
        }
    }
    if (optind != argc)
        rgs_die(RGS_EX_PERM, "unexpected argument '%s' (see --help)", argv[optind]);
    if (check && prepare)
        rgs_die(RGS_EX_PERM, "--check-config and --prepare exclude each other");
    data_dir = rgs_data_dir(dd);
    char *abs_dd = NULL;
    if (data_dir[0] != '/') {
        char cwd[4096];
        if (!getcwd(cwd, sizeof cwd))
            rgs_die(RGS_EX_TEMP, "current directory: %s", strerror(errno));
        abs_dd = rgs_xasprintf("%s/%s", cwd, data_dir);
        data_dir = abs_dd;
    }
    char *cpath = rgs_config_path(config_opt, data_dir);
    if (rgs_config_load(cpath, &cfg) < 0) {
        free(cpath);
        free(abs_dd);
        return RGS_EX_PERM;
    }
    free(cpath);
    if (check) {
        if (!cfg->exists)
            rgs_info("no configuration file '%s': no connectors", cfg->path);
        else
            rgs_info("configuration '%s': %zu connectors, %zu authors", cfg->path, cfg->n_connectors,
                     cfg->n_authors);
        warn_credentials();
        rgs_config_free(cfg); /* overwrites the URLs (credentials) before freeing */
        cfg = NULL;
        free(abs_dd);
        return RGS_EX_OK;
    }
    rgs_git_init();
    if (rgs_git_ca_skipped())
        rgs_debug("libgit2: the CA bundle is not parsed (libgit2 makes no network connections here; "
                  "the git CLI does)");
    if (rgs_git_ctx_init(&gctx, data_dir, cfg, tofu, git_timeout, git_stall, dry_run) < 0)
        worse(RGS_EX_TEMP);
    pstate_load();
    int rc = prepare ? prepare_all() : filter();
    worse(rc);
    for (size_t i = 0; i < n_repos; i++) {
        free(repos[i].dir);
        free(repos[i].journal);
        free(repos[i].taken);
        rgs_buf_free(&repos[i].pending);
    }
    free(repos);
    free(held);
    json_decref(pstate);
    rgs_git_ctx_free(&gctx);
    rgs_config_free(cfg);
    cfg = NULL;
    git_libgit2_shutdown();
    free(abs_dd);
    return status_worst;
}
