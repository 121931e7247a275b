/* rgs_git: the Git side of relay-git-sync.
 *
 * Local work (blobs, trees, commits, refs) goes through libgit2; network
 * work (ls-remote, clone, fetch, push), history surgery (rebase, merge)
 * and the index entries of a commit (git update-index on a split index,
 * see "committing without the index" below) through the git CLI, every call with a time limit and a fixed, explicit
 * environment: the deploy key with IdentitiesOnly (a copy that lives only
 * while the process runs, rgs_sshkey_install), the configured known_hosts
 * with strict checking (trust on first use only when asked), HTTPS
 * credentials through a credential helper that answers only for the
 * protocol and host of the remote being contacted and reads them from the
 * child's environment (never in a URL, an argument or .git/config), no
 * other secret in any child's environment, hooks off, no prompts, the
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

/* One secret variable taken from the environment by rgs_git_ctx_init. */
typedef struct {
    char *name;  /* "GIT_TOKEN", "GIT_TOKEN_<HOST>", "GIT_USERNAME", "GIT_USERNAME_<HOST>" */
    char *value; /* non-empty */
} rgs_git_secret;

typedef struct {
    char *data_dir;
    char *ssh_command;       /* GIT_SSH_COMMAND, or NULL when no key is configured */
    char *key_path;          /* the key ssh uses: the private runtime copy of
                                SSH_PRIVATE_KEY or SSH_PRIVATE_KEY_FILE as it is;
                                NULL for none */
    char *committer_name;    /* from [commit] */
    char *committer_email;
    double timeout;          /* seconds for one network command (ls-remote, clone, fetch, push) */
    double stall;            /* seconds a remote may send nothing before an SSH or
                                HTTP(S) command gives up (<= timeout) */
    int stall_s;             /* stall rounded up to whole seconds, at least 1
                                (ssh ConnectTimeout, GIT_HTTP_LOW_SPEED_TIME) */
    double local_timeout;    /* seconds for one local command (rebase, checkout, ...) */
    rgs_git_secret *secrets; /* the tokens and user names, moved out of the environment */
    size_t n_secrets;
} rgs_git_ctx;

/* rgs_git_ctx_init: prepare the environment of every git CLI call.
 * SSH: the key from SSH_PRIVATE_KEY is written to a private runtime
 * directory (rgs_sshkey_install: $XDG_RUNTIME_DIR, /dev/shm or /tmp; mode
 * 0600 in a 0700 directory; removed when the process ends); a key file
 * DATA_DIR/ssh/git_sync_key that an older version or the original service
 * stored (relay.md §5.12, §8) is then removed (with a warning; only named
 * when `dry_run`; kept when SSH_PRIVATE_KEY_FILE names it).  Or the file
 * named by SSH_PRIVATE_KEY_FILE is used where it is, never copied.  First,
 * copies that killed runs left are swept (rgs_sshkey_sweep).  Known
 * hosts: SSH_KNOWN_HOSTS (file content) is written to
 * DATA_DIR/ssh/known_hosts, or the file named by SSH_KNOWN_HOSTS_FILE is
 * used, else DATA_DIR/ssh/known_hosts (possibly absent: every SSH host is
 * then refused).  `tofu` true selects StrictHostKeyChecking=accept-new
 * (new hosts are added to that file), false StrictHostKeyChecking=yes.
 * `timeout` is the limit in seconds of one network command; `stall`
 * (seconds, <= 0: RGS_GIT_STALL_DEFAULT; at most `timeout`) is how long an
 * SSH or HTTP(S) remote may send nothing: ssh ConnectTimeout=stall (TCP
 * and banner), ServerAliveInterval=stall/2 with ServerAliveCountMax=2;
 * git's GIT_HTTP_LOW_SPEED_LIMIT=1000 (bytes/s) with GIT_HTTP_LOW_SPEED_TIME=stall.
 * So a remote that accepts connections and never answers costs about
 * `stall` seconds, not `timeout`.
 * HTTPS: GIT_TOKEN, GIT_USERNAME and every GIT_TOKEN_<HOST> and
 * GIT_USERNAME_<HOST> are copied into the context and removed from the
 * process's environment, their values overwritten (explicit_bzero; so
 * /proc/<pid>/environ no longer shows them); so is SSH_PRIVATE_KEY once
 * written.  Returns 0, or -1 (message printed; temporary). */
#define RGS_GIT_STALL_DEFAULT 20.0
int rgs_git_ctx_init(rgs_git_ctx *c, const char *data_dir, const rgs_config *cfg, bool tofu,
                     double timeout, double stall, bool dry_run);

/* rgs_git_take_secrets: the part of rgs_git_ctx_init that moves
 * GIT_TOKEN, GIT_USERNAME, GIT_TOKEN_<HOST> and GIT_USERNAME_<HOST> (empty
 * ones are dropped) from the environment into c->secrets (c zeroed or
 * from rgs_git_ctx_init; rgs_git_ctx_free releases). */
void rgs_git_take_secrets(rgs_git_ctx *c);

/* rgs_git_ctx_free: release the context, overwriting the secrets, and
 * remove the runtime copy of the key. */
void rgs_git_ctx_free(rgs_git_ctx *c);

/* A remote's URL taken apart (rgs_git_remote_parse). */
typedef struct {
    char *url;          /* the URL to give git and to store in .git/config:
                           http(s) without any userinfo and with the scheme
                           in lower case; other URLs without a password
                           (an ssh user name is kept) */
    char *protocol;     /* "https" or "http"; NULL for every other transport */
    char *host;         /* host[:port] exactly as git's credential protocol
                           names it (gitcredentials(7): the URL's host part,
                           percent-decoded); NULL when protocol is NULL */
    char *username;     /* user name of the URL's userinfo (percent-decoded),
                           NULL when none or empty */
    char *password;     /* password of the URL's userinfo (percent-decoded),
                           NULL when none */
    bool had_userinfo;  /* http(s): the URL had userinfo; others: a password */
} rgs_git_remote;

/* rgs_git_remote_parse: split `url` (as configured) into the URL git sees
 * and the credentials it carried.  Userinfo is the part of the authority
 * before its last '@' (RFC 3986 §3.2.1; user and password split at the
 * first ':').  A user name or password with a control character once
 * decoded is dropped.  Never fails; release with rgs_git_remote_free. */
void rgs_git_remote_parse(const char *url, rgs_git_remote *out);

/* rgs_git_remote_free: free the fields, overwriting username and password
 * first. */
void rgs_git_remote_free(rgs_git_remote *r);

/* rgs_git_token_var: the per-host variable for `host` (host[:port] as in
 * rgs_git_remote): `base` + "_" + the host upper-cased with every byte that
 * is not A-Z or 0-9 replaced by '_', e.g. ("GIT_TOKEN",
 * "git.example.com:3000") -> "GIT_TOKEN_GIT_EXAMPLE_COM_3000".  Caller
 * frees. */
char *rgs_git_token_var(const char *base, const char *host);

/* rgs_git_credentials: what the credential helper would answer for
 * `remote` (an http(s) one; NULL otherwise): password = the URL's
 * password, else GIT_TOKEN_<HOST>, else GIT_TOKEN, else "" when the URL
 * names a user (a token written as the URL's user name), else none;
 * user = the URL's user, else GIT_USERNAME_<HOST>, else GIT_USERNAME, else
 * "x-access-token".  *source names where the password came from ("url",
 * the variable's name, or "url user name").  Plain http gets credentials
 * only on the loopback interface (127.0.0.1, localhost, [::1]).
 * Returns true with *user, *password and *source borrowed from `c` and
 * `remote`, or false (no credentials). */
bool rgs_git_credentials(const rgs_git_ctx *c, const rgs_git_remote *remote, const char **user,
                         const char **password, const char **source);

/* rgs_git_cli: run `git <args...>` (NULL-terminated list) in directory
 * `cwd` with the context's environment: an allow-list of the caller's
 * variables (PATH, HOME, USER, LOGNAME, TMPDIR, TZ, XDG_CONFIG_HOME,
 * GIT_CONFIG_GLOBAL, GIT_CONFIG_SYSTEM, GIT_CONFIG_NOSYSTEM,
 * GIT_ALLOW_PROTOCOL, the proxy variables, SSL_CERT_FILE, SSL_CERT_DIR,
 * CURL_CA_BUNDLE, GIT_SSL_CAINFO, GIT_SSL_CAPATH) plus the context's
 * settings; no other variable passes (no Relay key, webhook secret, deploy
 * key or token).  `remote` (may be NULL) is the remote this command talks
 * to: for an http(s) remote with credentials (rgs_git_credentials) the
 * child gets RGS_GIT_PROTOCOL, RGS_GIT_HOST, RGS_GIT_USERNAME and
 * RGS_GIT_PASSWORD, which the credential helper gives git only when git
 * asks for exactly that protocol and host (port included).  `network`
 * selects the network time limit.  stdout and stderr are collected into
 * `out` and `err` (each may be NULL; at most 16 MiB kept), with URL
 * credentials removed from `err`.  The process group is killed when the
 * limit passes.
 * Returns the exit status (0..255), -1 when git could not be started, -2
 * on time-out. */
int rgs_git_cli(const rgs_git_ctx *c, const char *cwd, const rgs_git_remote *remote, bool network,
                rgs_buf *out, rgs_buf *err, ...) __attribute__((sentinel));

/* rgs_git_cliv: the same with the arguments as a NULL-terminated array
 * (at most 64). */
int rgs_git_cliv(const rgs_git_ctx *c, const char *cwd, const rgs_git_remote *remote, bool network,
                 rgs_buf *out, rgs_buf *err, const char *const *args);

/* rgs_git_cli_in: a local command (local time limit, no credentials) like
 * rgs_git_cliv, with the n bytes at `in` (NULL: empty) as the child's
 * standard input instead of /dev/null (handed over in a memfd, so a child
 * that stops reading early cannot block or signal the caller).  Returns
 * as rgs_git_cli. */
int rgs_git_cli_in(const rgs_git_ctx *c, const char *cwd, const void *in, size_t n, rgs_buf *out,
                   rgs_buf *err, const char *const *args);

/* rgs_git_first_line: the first non-empty line of `err` (for messages and
 * push records), at most 300 bytes, "" when none.  Static storage. */
const char *rgs_git_first_line(const rgs_buf *err);

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
 * Directories left empty disappear.  Paths rgs_path_check refuses (a
 * '.git' component in any of the forms Git refuses, '..', '.' or empty
 * components, control characters, ...: rgs_path.h) are skipped with a
 * warning (counted in *refused, may be NULL).  Duplicates are allowed.  Blobs and trees are written to
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
 * (never an empty commit; *made = false, hex = the parent), or there is
 * no parent and the tree is empty (never an empty root commit; *made =
 * false, hex = "").  Fails
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
