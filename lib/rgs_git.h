/* rgs_git: the Git side of relay-git-sync.
 *
 * Local work (staging, trees, commits, refs) goes through libgit2; network
 * work (ls-remote, clone, fetch, push) and history surgery (rebase, merge)
 * through the git CLI, every call with a time limit and a fixed, explicit
 * environment: the deploy key with IdentitiesOnly, the configured
 * known_hosts with strict checking (trust on first use only when asked),
 * HTTPS tokens through a credential helper that reads the environment
 * (never in a URL, an argument or .git/config), hooks off, no prompts, the
 * committer identity set.  What the original did and got wrong:
 * relay.md §5.9, §5.12, §6, §8.
 */
#ifndef RGS_GIT_H
#define RGS_GIT_H

#include "rgs_config.h"
#include "rgs_util.h"

#include <git2.h>
#include <stdbool.h>

/* ---- running the git CLI ---- */

typedef struct {
    char *data_dir;
    char *ssh_command;       /* GIT_SSH_COMMAND, or NULL when no key is configured */
    char *committer_name;    /* from [commit] */
    char *committer_email;
    double timeout;          /* seconds for one network command (ls-remote, clone, fetch, push) */
    double local_timeout;    /* seconds for one local command (rebase, checkout, ...) */
} rgs_git_ctx;

/* rgs_git_ctx_init: prepare the environment of every git CLI call.
 * SSH: the key from SSH_PRIVATE_KEY is written to DATA_DIR/ssh/git_sync_key
 * (0600, directory 0700; relay.md §5.6 keeps it there), or the file named
 * by SSH_PRIVATE_KEY_FILE is used as it is.  Known hosts: SSH_KNOWN_HOSTS
 * (file content) is written to DATA_DIR/ssh/known_hosts, or the file named
 * by SSH_KNOWN_HOSTS_FILE is used, else DATA_DIR/ssh/known_hosts (possibly
 * absent: every SSH host is then refused).  `tofu` true selects
 * StrictHostKeyChecking=accept-new (new hosts are added to that file),
 * false StrictHostKeyChecking=yes.  `timeout` is the limit in seconds of
 * one network command.  Returns 0, or -1 (message printed; temporary). */
int rgs_git_ctx_init(rgs_git_ctx *c, const char *data_dir, const rgs_config *cfg, bool tofu,
                     double timeout);
void rgs_git_ctx_free(rgs_git_ctx *c);

/* rgs_git_cli: run `git <args...>` (NULL-terminated list) in directory
 * `cwd` with the context's environment.  `password` (may be NULL) is
 * handed to the credential helper for HTTPS remotes through the child's
 * environment (else $GIT_TOKEN is used, username $GIT_USERNAME or
 * "x-access-token").  `network` selects the network time limit.  stdout and
 * stderr are collected into `out` and `err` (each may be NULL; at most
 * 16 MiB kept), with URL credentials removed from `err`.  The process group
 * is killed when the limit passes.
 * Returns the exit status (0..255), -1 when git could not be started, -2
 * on time-out. */
int rgs_git_cli(const rgs_git_ctx *c, const char *cwd, const char *password, bool network,
                rgs_buf *out, rgs_buf *err, ...) __attribute__((sentinel));

/* rgs_git_cliv: the same with the arguments as a NULL-terminated array
 * (at most 64). */
int rgs_git_cliv(const rgs_git_ctx *c, const char *cwd, const char *password, bool network,
                 rgs_buf *out, rgs_buf *err, const char *const *args);

/* rgs_git_first_line: the first non-empty line of `err` (for messages and
 * push records), at most 300 bytes, "" when none.  Static storage. */
const char *rgs_git_first_line(const rgs_buf *err);

/* rgs_git_url_split: a URL for .git/config and messages, without the
 * password of "scheme://user:password@host/..." (user kept), and that
 * password (NULL when none).  Both malloc'd. */
void rgs_git_url_split(const char *url, char **clean, char **password);

/* ---- repositories ---- */

/* rgs_git_clean_stale_locks: in `gitdir` (a .git directory), remove lock
 * files that a crashed git or libgit2 left behind: index.lock, HEAD.lock,
 * config.lock, packed-refs.lock, ORIG_HEAD.lock and refs/ ** .lock.  A lock
 * is removed only when no process has it open (every /proc/<pid>/fd is
 * checked: the lockfile API keeps its descriptor open until it commits)
 * and it is older than 2 seconds.  Call only while holding the
 * per-repository lock (rgs_lock_repo).  Returns the number of locks
 * removed; locks in use are reported in *busy (may be NULL). */
int rgs_git_clean_stale_locks(const char *gitdir, int *busy);

/* What rgs_git_commit_paths changed: counts, and the paths whose blob
 * changed ("A path", "M path", "D path" lines). */
typedef struct {
    size_t added, modified, deleted;
    rgs_buf paths;
} rgs_git_change;

/* rgs_git_stage_paths: stage exactly `paths` (n relative paths, no
 * leading '/') from the work tree into the index: a regular file or
 * symlink is added (git_index_add_bypath), an absent path is removed
 * (git_index_remove_bypath), directories are skipped; paths with a '.git'
 * component (any case), '..' or empty components are refused (counted in
 * *refused, may be NULL).  Cost: O(n) objects plus one index read and
 * write, no work-tree walk.  Compares with the tree of HEAD to fill *chg.
 * Writes the index (durably: fsync is on).  Returns 0 or -1 (libgit2
 * message printed). */
int rgs_git_stage_paths(git_repository *repo, const char *const *paths, size_t n, rgs_git_change *chg,
                        size_t *refused);

/* rgs_git_commit_index: write the index as a tree and commit it on HEAD's
 * branch with `author`, `committer` and `message`, unless the tree equals
 * HEAD's (never an empty commit; *made = false then).  HEAD may be unborn
 * (a root commit is made).  Commit id in hex[41].  Returns 0 or -1. */
int rgs_git_commit_index(git_repository *repo, const git_signature *author,
                         const git_signature *committer, const char *message, bool *made,
                         char hex[41]);

/* rgs_git_ref_hex: the commit a reference points to (peeled), as hex;
 * false when the reference does not exist. */
bool rgs_git_ref_hex(git_repository *repo, const char *refname, char hex[41]);

/* rgs_git_error: the last libgit2 error message ("unknown" when none). */
const char *rgs_git_error(void);

#endif
