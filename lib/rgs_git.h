/* rgs_git: the Git side of relay-git-sync.
 *
 * Local work (blobs, trees, commits, refs) goes through libgit2; network
 * work (ls-remote, clone, fetch, push), history surgery (rebase, merge)
 * and the index entries of a commit (git update-index on a split index,
 * see "committing without the index" below) through the git CLI, every call with a time limit and a fixed, explicit
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

/* ---- libgit2 start-up ---- */

/* rgs_git_init: git_libgit2_init(), without parsing the system CA bundle.
 * Debian's libgit2 (built with mbedTLS) parses all of
 * /etc/ssl/certs/ca-certificates.crt in git_libgit2_init (~7 ms at every
 * start of rgs-commit, measured with hyperfine-like loops on the build
 * machine); rgs-commit uses libgit2 only for local work (network goes
 * through the git CLI), so that parse is skipped: this module defines
 * mbedtls_x509_crt_parse_file, which libgit2 binds to, and it loads
 * nothing while rgs_git_init runs and passes every later call to
 * mbedTLS.  Should libgit2 ever be asked for an HTTPS connection in this
 * process, it has no trusted CA and refuses every server (fail closed)
 * unless git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, ...) is called
 * first, which loads them normally.  With a libgit2 built on OpenSSL the
 * override is never called and nothing changes.  Returns
 * git_libgit2_init's result (>= 1, or < 0 on error). */
int rgs_git_init(void);

/* rgs_git_ca_skipped: how many CA files rgs_git_init kept libgit2 from
 * parsing (0 with a libgit2 that does not use mbedTLS). */
int rgs_git_ca_skipped(void);

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

/* rgs_git_cli_in: a local command (local time limit, no password) like
 * rgs_git_cliv, with the n bytes at `in` (NULL: empty) as the child's
 * standard input instead of /dev/null (handed over in a memfd, so a child
 * that stops reading early cannot block or signal the caller).  Returns
 * as rgs_git_cli. */
int rgs_git_cli_in(const rgs_git_ctx *c, const char *cwd, const void *in, size_t n, rgs_buf *out,
                   rgs_buf *err, const char *const *args);

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

/* ---- committing without the index ----
 *
 * A commit costs what changed, not the size of the repository: the new
 * tree is the parent commit's tree with the journal's paths replaced
 * (rgs_git_tree_update: one blob per changed file, one tree per directory
 * on a changed path), committed with rgs_git_commit_tree; libgit2 never
 * reads or writes the index file (libgit2 can only rewrite the whole file:
 * ~120 ms at 50,000 files).  The index is kept equal to the commits for
 * `git status` and the git CLI's rebase and merge by rgs_git_index_update:
 * `git update-index --index-info` with the changed entries, on a split
 * index (core.splitIndex, git-update-index(1) "SPLIT INDEX"), so git
 * rewrites a small file of changed entries, and the shared index only
 * when the changes exceed 20% of it (amortised: constant per change).
 * libgit2 1.5 cannot read a split index; nothing in relay-git-sync reads
 * the index with libgit2. */

/* What rgs_git_tree_update changed: counts, the paths whose tree entry
 * changed ("A path", "M path", "D path" lines; M also for a mode change),
 * and the index records that make the index agree with the new tree for
 * every path named (NUL-terminated "<octal mode> <hex id>\t<path>"
 * records for `git update-index -z --index-info`, removals ("0 0{40}")
 * first).  Zero-initialise; rgs_git_change_free releases. */
typedef struct {
    size_t added, modified, deleted;
    rgs_buf paths;
    rgs_buf index_info;
} rgs_git_change;

void rgs_git_change_free(rgs_git_change *chg);

/* rgs_git_tree_update: the tree of HEAD's commit (the empty tree when HEAD
 * is unborn) with exactly `paths` (n relative paths, no leading '/') set
 * to their state in the work tree:
 *   - a regular file or a symbolic link becomes a blob (through the
 *     repository's filters, as `git add`; a link's blob is its target,
 *     never what it points to), mode 100755 when the owner may execute it
 *     (100644 otherwise; with core.filemode false the old mode is kept),
 *     120000 for a link;
 *   - an absent path (or one beyond a symbolic link or a non-directory:
 *     every ancestor must be a real directory, as git requires) is
 *     removed, with everything under it when it was a directory;
 *   - a directory removes a file entry of that name (its files are named
 *     by their own paths);
 *   - other file types (fifos, sockets, devices) count as absent.
 * Directories left empty disappear.  Paths with a '.git' component (any
 * case), '..', '.' or empty components are refused (counted in *refused,
 * may be NULL).  Duplicates are allowed.  Blobs and trees are written to
 * the object database; the index is neither read nor written.  Cost: the
 * changed files plus the trees on their paths.
 * Out: *tree, *parent (HEAD's commit; *has_parent false when unborn),
 * *chg (added to).  Returns 0 or -1 (message printed). */
int rgs_git_tree_update(git_repository *repo, const char *const *paths, size_t n, git_oid *tree,
                        git_oid *parent, bool *has_parent, rgs_git_change *chg, size_t *refused);

/* rgs_git_index_update: apply chg->index_info to the index of the work
 * tree `workdir` with `git -c core.splitIndex=true -c core.fsync=none
 * update-index -z --index-info` (the caller makes the repository durable
 * with syncfs after committing).  Entries written this way have no stat
 * data, so git compares their content once when it next refreshes.  Fails
 * when another process holds the index lock (index.lock): the caller then
 * makes no commit.  Nothing to do when chg->index_info is empty.
 * Returns 0, or -1 with a reason in why[wlen]. */
int rgs_git_index_update(const rgs_git_ctx *c, const char *workdir, const rgs_git_change *chg,
                         char *why, size_t wlen);

/* rgs_git_commit_tree: commit `tree` on HEAD's branch with parent
 * `parent` (NULL: a root commit, HEAD must be unborn) and `author`,
 * `committer`, `message` (UTF-8), updating the branch and its reflog
 * ("commit: <subject>") atomically, unless the tree equals the parent's
 * (never an empty commit; *made = false, hex = the parent).  Fails
 * (GIT_EMODIFIED) when the branch no longer points to `parent`.  Commit id
 * in hex[41].  Returns 0 or -1 (message printed). */
int rgs_git_commit_tree(git_repository *repo, const git_oid *tree, const git_oid *parent,
                        const git_signature *author, const git_signature *committer,
                        const char *message, bool *made, char hex[41]);

/* rgs_git_ref_hex: the commit a reference points to (peeled), as hex;
 * false when the reference does not exist. */
bool rgs_git_ref_hex(git_repository *repo, const char *refname, char hex[41]);

/* rgs_git_error: the last libgit2 error message ("unknown" when none). */
const char *rgs_git_error(void);

#endif
