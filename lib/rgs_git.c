/* rgs_git: see rgs_git.h. */
#include "rgs_git.h"
#include "rgs_path.h"
#include "rgs_sshkey.h"

#include <git2/sys/repository.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define OUT_MAX ((size_t)16 * 1024 * 1024)

/* ---- helpers ---- */

static void shell_quote(rgs_buf *b, const char *s)
{
    rgs_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            rgs_buf_puts(b, "'\\''");
        else
            rgs_buf_putc(b, *s);
    }
    rgs_buf_putc(b, '\'');
}

const char *rgs_git_error(void)
{
    const git_error *e = git_error_last();
    return e && e->message ? e->message : "unknown";
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* git's url_decode_mem: %XX decoded, nothing else ('+' stays) */
static char *url_decode(const char *p, size_t n)
{
    rgs_buf b = RGS_BUF_INIT;
    rgs_buf_reserve(&b, n + 1); /* one allocation: secrets leave no stray copies */
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            rgs_buf_putc(&b, (char)(hi << 4 | lo));
            i += 2;
        } else {
            rgs_buf_putc(&b, p[i]);
        }
    }
    rgs_buf_append(&b, "", 0); /* NUL-terminates, also when n == 0 (nothing appended) */
    return rgs_buf_steal(&b, NULL);
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

static void free_secret(char **p)
{
    if (*p)
        explicit_bzero(*p, strlen(*p));
    free(*p);
    *p = NULL;
}

void rgs_git_remote_parse(const char *url, rgs_git_remote *out)
{
    memset(out, 0, sizeof *out);
    const char *sep = strstr(url, "://");
    if (!sep) { /* scp-like [user@]host:path or a local path: nothing secret */
        out->url = rgs_xstrdup(url);
        return;
    }
    size_t slen = (size_t)(sep - url);
    bool http = (slen == 5 && !strncasecmp(url, "https", 5)) || (slen == 4 && !strncasecmp(url, "http", 4));
    const char *auth = sep + 3;
    const char *end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            at = q;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    rgs_buf b = RGS_BUF_INIT;
    if (http) {
        char scheme[6];
        for (size_t i = 0; i < slen; i++)
            scheme[i] = (char)(url[i] | 0x20);
        scheme[slen] = '\0';
        const char *host = at ? at + 1 : auth;
        rgs_buf_puts(&b, scheme);
        rgs_buf_puts(&b, "://");
        rgs_buf_puts(&b, host);
        out->url = rgs_buf_steal(&b, NULL);
        out->host = url_decode(host, (size_t)(end - host));
        if (*out->host && !has_ctl(out->host)) {
            out->protocol = rgs_xstrdup(scheme);
        } else {
            free(out->host);
            out->host = NULL;
        }
        if (at) {
            out->had_userinfo = true;
            const char *uend = colon ? colon : at;
            out->username = url_decode(auth, (size_t)(uend - auth));
            if (colon)
                out->password = url_decode(colon + 1, (size_t)(at - colon - 1));
            if (!*out->username || has_ctl(out->username))
                free_secret(&out->username);
            if (out->password && has_ctl(out->password))
                free_secret(&out->password);
        }
        return;
    }
    if (colon) { /* ssh://user:password@...: the user is kept, the password never used */
        out->had_userinfo = true;
        rgs_buf_append(&b, url, (size_t)(colon - url));
        rgs_buf_puts(&b, at);
        out->url = rgs_buf_steal(&b, NULL);
        return;
    }
    out->url = rgs_xstrdup(url);
}

void rgs_git_remote_free(rgs_git_remote *r)
{
    free_secret(&r->username);
    free_secret(&r->password);
    free(r->url);
    free(r->protocol);
    free(r->host);
    memset(r, 0, sizeof *r);
}

char *rgs_git_token_var(const char *base, const char *host)
{
    char *v = rgs_xasprintf("%s_%s", base, host);
    for (char *p = v + strlen(base) + 1; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
        else if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    }
    return v;
}

static const rgs_git_secret *secret_get(const rgs_git_ctx *c, const char *name)
{
    for (size_t i = 0; i < c->n_secrets; i++)
        if (!strcmp(c->secrets[i].name, name))
            return &c->secrets[i];
    return NULL;
}

static const char *secret_value(const rgs_git_ctx *c, const char *name)
{
    const rgs_git_secret *s = secret_get(c, name);
    return s ? s->value : NULL;
}

/* plain http only to the loopback interface, which never leaves the machine */
static bool creds_allowed(const char *protocol, const char *host)
{
    if (!strcmp(protocol, "https"))
        return true;
    static const char *const lo[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof lo / sizeof *lo; i++) {
        size_t n = strlen(lo[i]);
        if (!strncmp(host, lo[i], n) && (host[n] == '\0' || host[n] == ':'))
            return true;
    }
    return false;
}

bool rgs_git_credentials(const rgs_git_ctx *c, const rgs_git_remote *remote, const char **user,
                         const char **password, const char **source)
{
    *user = *password = *source = NULL;
    if (!remote || !remote->protocol || !creds_allowed(remote->protocol, remote->host))
        return false;
    char *tv = rgs_git_token_var("GIT_TOKEN", remote->host);
    char *uv = rgs_git_token_var("GIT_USERNAME", remote->host);
    const char *pw = NULL, *src = NULL;
    const rgs_git_secret *s;
    if (remote->password) {
        pw = remote->password;
        src = "url";
    } else if ((s = secret_get(c, tv))) {
        pw = s->value;
        src = s->name;
    } else if ((pw = secret_value(c, "GIT_TOKEN"))) {
        src = "GIT_TOKEN";
    } else if (remote->username) {
        pw = "";
        src = "url user name";
    }
    const char *u = remote->username;
    if (!u)
        u = secret_value(c, uv);
    if (!u)
        u = secret_value(c, "GIT_USERNAME");
    if (!u)
        u = "x-access-token";
    free(tv);
    free(uv);
    if (!pw)
        return false;
    *user = u;
    *password = pw;
    *source = src;
    return true;
}

/* Remove credentials from every URL-looking word of a message. */
static void redact_text(rgs_buf *b)
{
    if (!b->data || !strstr(b->data, "://"))
        return;
    rgs_buf out = RGS_BUF_INIT;
    const char *p = b->data;
    while (*p) {
        size_t ws = strspn(p, " \t\r\n'\"<>");
        rgs_buf_append(&out, p, ws);
        p += ws;
        size_t n = strcspn(p, " \t\r\n'\"<>");
        if (!n)
            continue;
        char *word = rgs_xstrndup(p, n);
        if (strstr(word, "://")) {
            char *r = rgs_redact_url(word);
            rgs_buf_puts(&out, r);
            free(r);
        } else {
            rgs_buf_puts(&out, word);
        }
        free(word);
        p += n;
    }
    rgs_buf_free(b);
    *b = out;
}

/* the most telling line: a known network/SSH failure, else the first
 * "fatal:", else "error:", else the first line with a letter that is not a
 * hint */
const char *rgs_git_first_line(const rgs_buf *err)
{
    static char line[301];
    line[0] = '\0';
    if (!err || !err->data)
        return line;
    static const char *const known[] = {"Host key verification failed", "IDENTIFICATION HAS CHANGED",
                                        "Permission denied", "Connection refused", "timed out",
                                        "Could not resolve", "No route to host",
                                        "Authentication failed", "not found", "does not appear"};
    const char *best = NULL;
    size_t best_n = 0;
    int best_rank = 1000;
    const char *p = err->data;
    while (*p) {
        size_t n = strcspn(p, "\n");
        const char *s = p;
        size_t m = n;
        while (m && (*s == ' ' || *s == '\t')) {
            s++;
            m--;
        }
        while (m && (s[m - 1] == '\r' || s[m - 1] == ' '))
            m--;
        bool letter = false;
        for (size_t i = 0; i < m && !letter; i++)
            letter = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
        if (m && letter && strncmp(s, "hint:", 5) && strncmp(s, "To ", 3)) {
            int rank = 102;
            for (size_t k = 0; k < sizeof known / sizeof *known && rank == 102; k++)
                if (memmem(s, m, known[k], strlen(known[k])))
                    rank = (int)k;
            if (rank == 102 && !strncmp(s, "fatal:", 6))
                rank = 100;
            else if (rank == 102 && !strncmp(s, "error:", 6))
                rank = 101;
            if (rank < best_rank) {
                best = s;
                best_n = m;
                best_rank = rank;
            }
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    if (best)
        snprintf(line, sizeof line, "%.*s", (int)(best_n > 300 ? 300 : best_n), best);
    return line;
}

/* ---- context ---- */

static char *env_or_null(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? (char *)v : NULL;
}

/* move a secret variable out of the environment: a copy for the context,
 * the value in the environment block overwritten (what /proc/<pid>/environ
 * shows), the variable removed */
static void take_secret(rgs_git_ctx *c, const char *name)
{
    char *v = getenv(name);
    if (!v)
        return;
    if (*v) {
        c->secrets = rgs_xrealloc(c->secrets, (c->n_secrets + 1) * sizeof *c->secrets);
        c->secrets[c->n_secrets].name = rgs_xstrdup(name);
        c->secrets[c->n_secrets].value = rgs_xstrdup(v);
        c->n_secrets++;
    }
    explicit_bzero(v, strlen(v));
    unsetenv(name);
}

void rgs_git_take_secrets(rgs_git_ctx *c)
{
    size_t nnames = 0;
    for (char **e = environ; *e; e++)
        nnames++;
    char **names = rgs_xcalloc(nnames + 1, sizeof *names);
    size_t k = 0;
    for (char **e = environ; *e && k < nnames; e++) {
        const char *eq = strchr(*e, '=');
        if (!eq)
            continue;
        size_t n = (size_t)(eq - *e);
        if ((n == 9 && !strncmp(*e, "GIT_TOKEN", 9)) || (n > 10 && !strncmp(*e, "GIT_TOKEN_", 10)) ||
            (n == 12 && !strncmp(*e, "GIT_USERNAME", 12)) || (n > 13 && !strncmp(*e, "GIT_USERNAME_", 13)))
            names[k++] = rgs_xstrndup(*e, n);
    }
    for (size_t i = 0; i < k; i++) { /* the names first: take_secret changes environ */
        take_secret(c, names[i]);
        free(names[i]);
    }
    free(names);
}

/* the key file an older version (and the original service, relay.md
 * §5.12) kept on the data volume: removed once SSH_PRIVATE_KEY is given */
static void remove_legacy_key(const char *sshdir, const char *f, bool given, bool dry_run)
{
    char *old = rgs_xasprintf("%s/git_sync_key", sshdir);
    struct stat st, fst;
    if (lstat(old, &st) == 0) {
        if (f && stat(f, &fst) == 0 && fst.st_dev == st.st_dev && fst.st_ino == st.st_ino) {
            /* the operator's own key file: used in place when SSH_PRIVATE_KEY is unset */
            if (given)
                rgs_warn("deploy key '%s': named by SSH_PRIVATE_KEY_FILE, so not removed, although "
                         "SSH_PRIVATE_KEY is used instead",
                         old);
        } else if (!given) {
            rgs_warn("deploy key '%s': left on the data volume by an older version or the original "
                     "service and not used; remove it (it is in every backup of the data directory)",
                     old);
        } else if (dry_run) {
            rgs_info("would remove the deploy key '%s' left by an older version or the original "
                     "service (SSH_PRIVATE_KEY is kept in a private runtime directory instead)",
                     old);
        } else if (unlink(old) == 0) {
            rgs_warn("deploy key '%s': removed from the data volume (stored there by an older version "
                     "or the original service); SSH_PRIVATE_KEY now lives only in a private runtime "
                     "directory while rgs-commit runs",
                     old);
        } else {
            rgs_error("deploy key '%s': cannot remove it: %s", old, strerror(errno));
        }
    }
    free(old);
}

int rgs_git_ctx_init(rgs_git_ctx *c, const char *data_dir, const rgs_config *cfg, bool tofu,
                     double timeout, double stall, bool dry_run)
{
    memset(c, 0, sizeof *c);
    c->data_dir = rgs_xstrdup(data_dir);
    c->committer_name = rgs_xstrdup(cfg ? cfg->committer_name : "Relay Git Sync");
    c->committer_email = rgs_xstrdup(cfg ? cfg->committer_email : "relay-git-sync@localhost");
    c->timeout = timeout > 0 ? timeout : 120;
    c->stall = stall > 0 ? stall : RGS_GIT_STALL_DEFAULT;
    if (c->stall > c->timeout)
        c->stall = c->timeout;
    c->stall_s = (int)(c->stall + 0.999);
    if (c->stall_s < 1)
        c->stall_s = 1;
    c->local_timeout = 300;

    rgs_git_take_secrets(c);

    char *sshdir = rgs_xasprintf("%s/ssh", data_dir);
    int rc = 0;
    int swept = rgs_sshkey_sweep("rgs-commit-key");
    if (swept)
        rgs_info("removed %d private copies of the deploy key left by killed rgs-commit runs", swept);
    char *kv = getenv("SSH_PRIVATE_KEY");
    const char *keyfile = env_or_null("SSH_PRIVATE_KEY_FILE");
    if (kv && *kv) {
        const char *path = NULL;
        if (rgs_sshkey_install(kv, "rgs-commit-key", &path) < 0)
            rc = -1;
        else
            c->key_path = rgs_xstrdup(path);
        remove_legacy_key(sshdir, keyfile, true, dry_run);
    } else {
        if (keyfile)
            c->key_path = rgs_xstrdup(keyfile);
        remove_legacy_key(sshdir, keyfile, false, dry_run);
    }
    if (kv) {
        explicit_bzero(kv, strlen(kv));
        unsetenv("SSH_PRIVATE_KEY");
    }
    char *kh = NULL;
    const char *h = env_or_null("SSH_KNOWN_HOSTS");
    if (h) {
        if (rgs_mkdirs(sshdir, 0700) < 0 || chmod(sshdir, 0700) < 0) {
            rgs_error("ssh directory '%s': %s", sshdir, strerror(errno));
            rc = -1;
        } else {
            /* rewritten only when SSH_KNOWN_HOSTS changed, so hosts added
             * by trust-on-first-use are kept meanwhile */
            int dfd = open(sshdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            rgs_buf old = RGS_BUF_INIT, want = RGS_BUF_INIT;
            rgs_buf_puts(&want, h);
            if (want.len && want.data[want.len - 1] != '\n')
                rgs_buf_putc(&want, '\n');
            rgs_buf seen = RGS_BUF_INIT;
            bool same = dfd >= 0 && rgs_read_file(dfd, "known_hosts.env", &seen, 0) == 0 &&
                        seen.len == want.len && !memcmp(seen.data, want.data, want.len);
            if (dfd < 0 ||
                (!same && (rgs_write_atomic(dfd, "known_hosts", want.data, want.len, 0600) < 0 ||
                           rgs_write_atomic(dfd, "known_hosts.env", want.data, want.len, 0600) < 0))) {
                rgs_error("write known hosts '%s/known_hosts': %s", sshdir, strerror(errno));
                rc = -1;
            }
            if (dfd >= 0)
                close(dfd);
            rgs_buf_free(&old);
            rgs_buf_free(&want);
            rgs_buf_free(&seen);
        }
        kh = rgs_xasprintf("%s/known_hosts", sshdir);
    } else if ((h = env_or_null("SSH_KNOWN_HOSTS_FILE"))) {
        kh = rgs_xstrdup(h);
    } else {
        kh = rgs_xasprintf("%s/known_hosts", sshdir);
        if (tofu)
            rgs_mkdirs(sshdir, 0700);
    }
    rgs_buf cmd = RGS_BUF_INIT;
    rgs_buf_puts(&cmd, "ssh");
    if (c->key_path) {
        rgs_buf_puts(&cmd, " -i ");
        shell_quote(&cmd, c->key_path);
        rgs_buf_puts(&cmd, " -o IdentitiesOnly=yes");
    }
    rgs_buf_puts(&cmd, " -o UserKnownHostsFile=");
    shell_quote(&cmd, kh);
    /* a stalled server costs about c->stall seconds, not the whole
     * timeout: ConnectTimeout bounds the TCP connect and the banner
     * exchange (ssh_config(5)), then a server that stops answering is
     * dropped after ServerAliveCountMax unanswered keepalives sent every
     * ServerAliveInterval seconds */
    int st = c->stall_s;
    rgs_buf_printf(&cmd,
                   " -o StrictHostKeyChecking=%s -o BatchMode=yes -o PasswordAuthentication=no"
                   " -o KbdInteractiveAuthentication=no -o ConnectTimeout=%d"
                   " -o ServerAliveInterval=%d -o ServerAliveCountMax=2 -o LogLevel=ERROR",
                   tofu ? "accept-new" : "yes", st, st / 2 > 0 ? st / 2 : 1);
    c->ssh_command = rgs_buf_steal(&cmd, NULL);
    free(kh);
    free(sshdir);
    return rc;
}

void rgs_git_ctx_free(rgs_git_ctx *c)
{
    free(c->data_dir);
    free(c->ssh_command);
    free(c->key_path);
    free(c->committer_name);
    free(c->committer_email);
    for (size_t i = 0; i < c->n_secrets; i++) {
        free(c->secrets[i].name);
        free_secret(&c->secrets[i].value);
    }
    free(c->secrets);
    memset(c, 0, sizeof *c);
    rgs_sshkey_uninstall();
}

/* The caller's variables a git child keeps; everything else is dropped:
 * secrets (RELAY_SERVER_API_KEY, WEBHOOK_SECRET, SSH_PRIVATE_KEY,
 * GIT_TOKEN, ...) and variables that would redirect git (GIT_DIR,
 * GIT_CONFIG_PARAMETERS, GIT_SSH, GIT_TRACE*, GIT_SSL_NO_VERIFY,
 * SSH_AUTH_SOCK, ...).  The context sets the rest. */
static bool env_kept(const char *e)
{
    static const char *const names[] = {
        "PATH=", "HOME=", "USER=", "LOGNAME=", "TMPDIR=", "TZ=", "XDG_CONFIG_HOME=",
        "GIT_CONFIG_GLOBAL=", "GIT_CONFIG_SYSTEM=", "GIT_CONFIG_NOSYSTEM=", "GIT_ALLOW_PROTOCOL=",
        "http_proxy=", "https_proxy=", "all_proxy=", "no_proxy=", "HTTP_PROXY=", "HTTPS_PROXY=",
        "ALL_PROXY=", "NO_PROXY=", "SSL_CERT_FILE=", "SSL_CERT_DIR=", "CURL_CA_BUNDLE=",
        "GIT_SSL_CAINFO=", "GIT_SSL_CAPATH="};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strncmp(e, names[i], strlen(names[i])))
            return true;
    return false;
}

static const char *const config_kv[][2] = {
    {"core.hooksPath", "/dev/null"},
    {"core.fsync", "committed,index,reference"}, /* rebases and fetches are durable too */
    {"core.fsyncMethod", "fsync"},
    {"core.editor", "true"},
    {"core.askPass", ""},
    {"credential.helper", ""},
    /* answers only for the protocol and host (with port) of the remote the
     * command was started for (RGS_GIT_PROTOCOL, RGS_GIT_HOST), and only
     * over https or plain http to the loopback interface (which never
     * leaves the machine): a token never goes to another host, nor travels
     * in clear text */
    {"credential.helper",
     "!f() { test \"$1\" = get || exit 0; test -n \"${RGS_GIT_HOST:-}\" || exit 0; "
     "test \"${RGS_GIT_PASSWORD+set}\" = set || exit 0; pr=; h=; "
     "while IFS= read -r l; do case \"$l\" in protocol=*) pr=\"${l#protocol=}\";; "
     "host=*) h=\"${l#host=}\";; esac; done; "
     "test \"$pr\" = \"$RGS_GIT_PROTOCOL\" && test \"$h\" = \"$RGS_GIT_HOST\" || exit 0; "
     "case \"$pr:$h\" in https:*|http:127.0.0.1|http:127.0.0.1:*|http:localhost|http:localhost:*"
     "|http:\\[::1\\]|http:\\[::1\\]:*) ;; *) exit 0;; esac; "
     "printf 'username=%s\\npassword=%s\\n' \"$RGS_GIT_USERNAME\" \"$RGS_GIT_PASSWORD\"; }; f"},
    /* a redirect never takes the credentials to another host */
    {"http.followRedirects", "false"},
    {"commit.gpgSign", "false"},
    {"tag.gpgSign", "false"},
    {"gc.autoDetach", "false"},
    {"rebase.autoStash", "false"},
    {"rebase.autoSquash", "false"},
    {"rebase.updateRefs", "false"},
    {"merge.autoStash", "false"},
    {"pull.rebase", "false"},
    {"advice.detachedHead", "false"},
    {"protocol.ext.allow", "never"},
    {"core.sshCommand", ""},
    {"push.default", "nothing"},
};

static int run_git(const rgs_git_ctx *c, const char *cwd, const rgs_git_remote *remote, bool network,
                   const void *in, size_t in_len, rgs_buf *out, rgs_buf *err,
                   const char *const *args);

int rgs_git_cli(const rgs_git_ctx *c, const char *cwd, const rgs_git_remote *remote, bool network,
                rgs_buf *out, rgs_buf *err, ...)
{
    const char *args[64];
    int n = 0;
    va_list ap;
    va_start(ap, err);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 62)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return rgs_git_cliv(c, cwd, remote, network, out, err, args);
}

int rgs_git_cliv(const rgs_git_ctx *c, const char *cwd, const rgs_git_remote *remote, bool network,
                 rgs_buf *out, rgs_buf *err, const char *const *args)
{
    return run_git(c, cwd, remote, network, NULL, 0, out, err, args);
}

int rgs_git_cli_in(const rgs_git_ctx *c, const char *cwd, const void *in, size_t n, rgs_buf *out,
                   rgs_buf *err, const char *const *args)
{
    return run_git(c, cwd, NULL, false, in ? in : "", in ? n : 0, out, err, args);
}

/* `in` NULL: stdin is /dev/null; else its n bytes are the child's stdin,
 * through a memfd (no pipe to feed while reading the outputs, no SIGPIPE) */
static int run_git(const rgs_git_ctx *c, const char *cwd, const rgs_git_remote *remote, bool network,
                   const void *in, size_t in_len, rgs_buf *out, rgs_buf *err,
                   const char *const *args)
{
    const char *argv[66];
    int argc = 0;
    argv[argc++] = "git";
    for (; *args && argc < 65; args++)
        argv[argc++] = *args;
    argv[argc] = NULL;

    /* environment */
    size_t nenv = 0;
    for (char **e = environ; *e; e++)
        nenv++;
    size_t ncfg = sizeof config_kv / sizeof *config_kv;
    char **envp = rgs_xcalloc(nenv + 2 * ncfg + 32, sizeof *envp);
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (env_kept(*e))
            envp[k++] = rgs_xstrdup(*e);
    envp[k++] = rgs_xasprintf("GIT_CONFIG_COUNT=%zu", ncfg + 2);
    for (size_t i = 0; i < ncfg; i++) {
        envp[k++] = rgs_xasprintf("GIT_CONFIG_KEY_%zu=%s", i, config_kv[i][0]);
        envp[k++] = rgs_xasprintf("GIT_CONFIG_VALUE_%zu=%s", i, config_kv[i][1]);
    }
    envp[k++] = rgs_xasprintf("GIT_CONFIG_KEY_%zu=user.name", ncfg);
    envp[k++] = rgs_xasprintf("GIT_CONFIG_VALUE_%zu=%s", ncfg, c->committer_name);
    envp[k++] = rgs_xasprintf("GIT_CONFIG_KEY_%zu=user.email", ncfg + 1);
    envp[k++] = rgs_xasprintf("GIT_CONFIG_VALUE_%zu=%s", ncfg + 1, c->committer_email);
    envp[k++] = rgs_xasprintf("GIT_COMMITTER_NAME=%s", c->committer_name);
    envp[k++] = rgs_xasprintf("GIT_COMMITTER_EMAIL=%s", c->committer_email);
    envp[k++] = rgs_xstrdup("GIT_TERMINAL_PROMPT=0");
    envp[k++] = rgs_xstrdup("GIT_EDITOR=true");
    envp[k++] = rgs_xstrdup("GIT_SEQUENCE_EDITOR=true");
    envp[k++] = rgs_xstrdup("GIT_PAGER=cat");
    envp[k++] = rgs_xstrdup("LC_ALL=C");
    /* every path given to git is a literal path, never a pathspec: a file
     * named ":(glob)**" from Relay must not become "every file" */
    envp[k++] = rgs_xstrdup("GIT_LITERAL_PATHSPECS=1");
    /* HTTP(S): a transfer slower than 1000 bytes/s for c->stall seconds
     * (a server that accepts and never answers included) ends the command
     * (git(1) GIT_HTTP_LOW_SPEED_LIMIT, GIT_HTTP_LOW_SPEED_TIME; libcurl
     * CURLOPT_LOW_SPEED_LIMIT/_TIME) */
    envp[k++] = rgs_xstrdup("GIT_HTTP_LOW_SPEED_LIMIT=1000");
    envp[k++] = rgs_xasprintf("GIT_HTTP_LOW_SPEED_TIME=%d", c->stall_s);
    if (c->ssh_command) {
        envp[k++] = rgs_xasprintf("GIT_SSH_COMMAND=%s", c->ssh_command);
        envp[k++] = rgs_xstrdup("GIT_SSH_VARIANT=ssh");
    }
    const char *user, *password, *source;
    if (remote && rgs_git_credentials(c, remote, &user, &password, &source)) {
        envp[k++] = rgs_xasprintf("RGS_GIT_PROTOCOL=%s", remote->protocol);
        envp[k++] = rgs_xasprintf("RGS_GIT_HOST=%s", remote->host);
        envp[k++] = rgs_xasprintf("RGS_GIT_USERNAME=%s", user);
        size_t pl = strlen(password);
        envp[k] = rgs_xmalloc(sizeof "RGS_GIT_PASSWORD=" + pl); /* one copy, overwritten below */
        memcpy(envp[k], "RGS_GIT_PASSWORD=", sizeof "RGS_GIT_PASSWORD=" - 1);
        memcpy(envp[k] + sizeof "RGS_GIT_PASSWORD=" - 1, password, pl + 1);
        k++;
        rgs_debug("git %s: credentials for %s://%s from %s", argc > 1 ? argv[1] : "", remote->protocol,
                  remote->host, source);
    }
    envp[k] = NULL;

    int po[2], pe[2];
    int rc = -1;
    int infd = -1;
    if (in) {
        infd = memfd_create("rgs-git-stdin", MFD_CLOEXEC);
        if (infd < 0 || rgs_write_all(infd, in, in_len) < 0 || lseek(infd, 0, SEEK_SET) < 0) {
            rgs_error("git input: %s", strerror(errno));
            goto done_env;
        }
    }
    if (pipe2(po, O_CLOEXEC) < 0) {
        rgs_error("pipe: %s", strerror(errno));
        goto done_env;
    }
    if (pipe2(pe, O_CLOEXEC) < 0) {
        rgs_error("pipe: %s", strerror(errno));
        close(po[0]);
        close(po[1]);
        goto done_env;
    }
    pid_t pid = fork();
    if (pid < 0) {
        rgs_error("fork: %s", strerror(errno));
        close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
        goto done_env;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGPIPE, SIG_DFL);
        int nul = infd >= 0 ? infd : open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
            _exit(127);
        if (cwd && chdir(cwd) < 0)
            _exit(126);
        execvpe("git", (char *const *)argv, envp);
        _exit(127);
    }
    setpgid(pid, pid);
    close(po[1]);
    close(pe[1]);
    double limit = network ? c->timeout : c->local_timeout;
    double deadline = rgs_mono() + limit;
    bool timed_out = false;
    rgs_buf sink = RGS_BUF_INIT;
    struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        double left = deadline - rgs_mono();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        int r = poll(fds, 2, (int)(left * 1000) + 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char buf[65536];
            ssize_t n = read(fds[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
                continue;
            }
            rgs_buf *dst = i == 0 ? out : err;
            if (!dst)
                dst = &sink;
            if (dst->len < OUT_MAX)
                rgs_buf_append(dst, buf, (size_t)n);
            rgs_buf_reset(&sink);
        }
    }
    rgs_buf_free(&sink);
    if (timed_out)
        kill(-pid, SIGKILL);
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (timed_out) {
        rc = -2;
        if (err)
            rgs_buf_printf(err, "\ntimed out after %.0f s\n", limit);
    } else if (WIFEXITED(st)) {
        rc = WEXITSTATUS(st);
        if (rc == 127) {
            rgs_error("cannot run git (is it installed?)");
            rc = -1;
        }
    } else {
        rc = 128 + WTERMSIG(st);
    }
    if (err)
        redact_text(err);
done_env:
    if (infd >= 0)
        close(infd);
    for (size_t i = 0; envp[i]; i++) {
        explicit_bzero(envp[i], strlen(envp[i])); /* the credentials among them */
        free(envp[i]);
    }
    free(envp);
    return rc;
}

/* ---- stale locks ---- */

static void collect_locks(const char *dir, int depth, rgs_buf *list)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        char *p = rgs_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0) {
            size_t n = strlen(e->d_name);
            if (S_ISDIR(st.st_mode) && depth < 12)
                collect_locks(p, depth + 1, list);
            else if (S_ISREG(st.st_mode) && n > 5 && !strcmp(e->d_name + n - 5, ".lock")) {
                rgs_buf_puts(list, p);
                rgs_buf_putc(list, '\0');
            }
        }
        free(p);
    }
    closedir(d);
}

/* is `path` open in any process we can see? */
static bool open_anywhere(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real))
        return false;
    struct stat want;
    if (stat(real, &want) < 0)
        return false;
    DIR *proc = opendir("/proc");
    if (!proc)
        return true; /* cannot tell: keep it */
    bool found = false;
    struct dirent *p;
    while (!found && (p = readdir(proc))) {
        if (p->d_name[0] < '0' || p->d_name[0] > '9')
            continue;
        char fddir[300];
        snprintf(fddir, sizeof fddir, "/proc/%.200s/fd", p->d_name);
        DIR *fd = opendir(fddir);
        if (!fd)
            continue;
        struct dirent *f;
        while ((f = readdir(fd))) {
            if (f->d_name[0] == '.')
                continue;
            char link[600];
            snprintf(link, sizeof link, "%s/%.250s", fddir, f->d_name);
            struct stat st;
            if (stat(link, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
                found = true;
                break;
            }
        }
        closedir(fd);
    }
    closedir(proc);
    return found;
}

int rgs_git_clean_stale_locks(const char *gitdir, int *busy)
{
    if (busy)
        *busy = 0;
    rgs_buf list = RGS_BUF_INIT;
    static const char *const top[] = {"index.lock", "HEAD.lock", "config.lock", "packed-refs.lock",
                                      "ORIG_HEAD.lock", "FETCH_HEAD.lock", "MERGE_HEAD.lock",
                                      "shallow.lock"};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++) {
        char *p = rgs_xasprintf("%s/%s", gitdir, top[i]);
        if (access(p, F_OK) == 0) {
            rgs_buf_puts(&list, p);
            rgs_buf_putc(&list, '\0');
        }
        free(p);
    }
    char *refs = rgs_xasprintf("%s/refs", gitdir);
    collect_locks(refs, 0, &list);
    free(refs);
    int removed = 0;
    double now = rgs_now();
    for (size_t off = 0; off < list.len; off += strlen(list.data + off) + 1) {
        const char *p = list.data + off;
        struct stat st;
        if (lstat(p, &st) < 0)
            continue;
        double age = now - ((double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9);
        if (age < 2 || open_anywhere(p)) {
            rgs_warn("git lock '%s': in use by another process; leaving it", p);
            if (busy)
                (*busy)++;
            continue;
        }
        if (unlink(p) == 0) {
            rgs_warn("git lock '%s': stale (no process has it open); removed", p);
            removed++;
        }
    }
    rgs_buf_free(&list);
    return removed;
}

/* ---- libgit2 start-up without the CA bundle ---- */

static bool ca_deferring;
static int ca_skipped;

/* mbedTLS's CA file parser, as libgit2 calls it (the chain is an
 * mbedtls_x509_crt *: only passed on).  Declared here so that this
 * module does not need mbedTLS's headers. */
int mbedtls_x509_crt_parse_file(void *chain, const char *path);

int mbedtls_x509_crt_parse_file(void *chain, const char *path)
{
    if (ca_deferring) {
        /* inside git_libgit2_init: the chain stays empty, so libgit2 trusts
         * no server until its CA locations are set explicitly */
        ca_skipped++;
        return 0;
    }
    static int (*real)(void *, const char *);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "mbedtls_x509_crt_parse_file");
    if (!real)
        return -0x2900; /* MBEDTLS_ERR_X509_FILE_IO_ERROR */
    return real(chain, path);
}

int rgs_git_init(void)
{
    ca_deferring = true;
    int rc = git_libgit2_init();
    ca_deferring = false;
    return rc;
}

int rgs_git_ca_skipped(void)
{
    return ca_skipped;
}

/* ---- committing without the index ---- */

void rgs_git_change_free(rgs_git_change *chg)
{
    rgs_buf_free(&chg->paths);
    rgs_buf_free(&chg->index_info);
}


/* what a named path is in the work tree */
enum upd_kind {
    UPD_FILE, /* regular file or symbolic link: upsert its blob */
    UPD_GONE, /* absent: remove it and everything under it */
    UPD_DIR   /* a directory: remove a non-directory entry of that name */
};

typedef struct {
    char *path;
    enum upd_kind kind;
    git_filemode_t mode;
    git_oid id;
} upd_t;

/* Path order in which "a" and everything under "a/" are contiguous and
 * "a" comes first: the end of a path sorts before '/', and '/' before
 * every other byte. */
static int upd_cmp(const void *a, const void *b)
{
    const unsigned char *x = (const unsigned char *)((const upd_t *)a)->path;
    const unsigned char *y = (const unsigned char *)((const upd_t *)b)->path;
    for (; *x == *y; x++, y++)
        if (!*x)
            return 0;
    if (!*x || !*y)
        return !*x ? -1 : 1;
    if (*x == '/' || *y == '/')
        return *x == '/' ? -1 : 1;
    return *x < *y ? -1 : 1;
}

typedef struct {
    git_repository *repo;
    rgs_git_change *chg;
    rgs_buf removals, upserts; /* index records */
} tree_job;

static void index_record(rgs_buf *b, git_filemode_t mode, const git_oid *id, const char *path)
{
    char hex[GIT_OID_HEXSZ + 1];
    if (id)
        git_oid_tostr(hex, sizeof hex, id);
    else
        memset(hex, '0', GIT_OID_HEXSZ), hex[GIT_OID_HEXSZ] = '\0';
    rgs_buf_printf(b, "%o %s\t%s", (unsigned)mode, hex, path);
    rgs_buf_putc(b, '\0');
}

typedef struct {
    tree_job *job;
    const char *root; /* "dir/" of the removed tree */
} walk_ctx;

static int walk_removed(const char *root, const git_tree_entry *e, void *payload)
{
    walk_ctx *w = payload;
    if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
        return 0;
    char *p = rgs_xasprintf("%s%s%s", w->root, root, git_tree_entry_name(e));
    w->job->chg->deleted++;
    rgs_buf_printf(&w->job->chg->paths, "D %s\n", p);
    index_record(&w->job->removals, 0, NULL, p);
    free(p);
    return 0;
}

/* `entry` (the builder's entry `name` of the directory holding `path`)
 * goes away: count and unstage it, or every file of it if a tree */
static int note_removed(tree_job *job, const git_tree_entry *entry, const char *path)
{
    if (git_tree_entry_type(entry) != GIT_OBJECT_TREE) {
        job->chg->deleted++;
        rgs_buf_printf(&job->chg->paths, "D %s\n", path);
        index_record(&job->removals, 0, NULL, path);
        return 0;
    }
    git_tree *t = NULL;
    if (git_tree_lookup(&t, job->repo, git_tree_entry_id(entry)) < 0)
        return -1;
    char *root = rgs_xasprintf("%s/", path);
    walk_ctx w = {job, root};
    int rc = git_tree_walk(t, GIT_TREEWALK_PRE, walk_removed, &w);
    free(root);
    git_tree_free(t);
    return rc < 0 ? -1 : 0;
}

/* Apply u[0..n) (sorted with upd_cmp, all below the directory whose
 * paths start at byte `off`) to `base` (NULL: a new directory).  Writes the
 * new tree to *out unless it is empty (*empty).  Returns 0 or -1. */
static int update_dir(tree_job *job, const git_tree *base, upd_t *u, size_t n, size_t off,
                      git_oid *out, bool *empty)
{
    git_treebuilder *bld = NULL;
    if (git_treebuilder_new(&bld, job->repo, base) < 0)
        return -1;
    int rc = 0;
    size_t i = 0;
    while (i < n && rc == 0) {
        const char *name = u[i].path + off;
        size_t nl = strcspn(name, "/");
        size_t j = i;
        while (j < n && !strncmp(u[j].path + off, name, nl) &&
               (u[j].path[off + nl] == '/' || u[j].path[off + nl] == '\0'))
            j++;
        char *comp = rgs_xstrndup(name, nl);
        size_t k = i;
        if (u[i].path[off + nl] == '\0') { /* the entry itself is named */
            upd_t *d = &u[i];
            const git_tree_entry *e = git_treebuilder_get(bld, comp);
            git_object_t et = e ? git_tree_entry_type(e) : GIT_OBJECT_INVALID;
            if (d->kind == UPD_FILE) {
                index_record(&job->upserts, d->mode, &d->id, d->path);
                bool same = e && et != GIT_OBJECT_TREE && git_oid_equal(git_tree_entry_id(e), &d->id) &&
                            git_tree_entry_filemode(e) == d->mode;
                if (!same) {
                    if (e && et == GIT_OBJECT_TREE)
                        rc = note_removed(job, e, d->path);
                    if (e && et != GIT_OBJECT_TREE) {
                        job->chg->modified++;
                        rgs_buf_printf(&job->chg->paths, "M %s\n", d->path);
                    } else {
                        job->chg->added++;
                        rgs_buf_printf(&job->chg->paths, "A %s\n", d->path);
                    }
                    if (rc == 0 && git_treebuilder_insert(NULL, bld, comp, &d->id, d->mode) < 0)
                        rc = -1;
                }
            } else {
                /* a directory keeps a tree (or a submodule) of that name */
                bool keep = d->kind == UPD_DIR && (et == GIT_OBJECT_TREE || et == GIT_OBJECT_COMMIT);
                if (!e && d->kind == UPD_GONE) /* not in the tree: make sure the index agrees */
                    index_record(&job->removals, 0, NULL, d->path);
                if (e && !keep) {
                    rc = note_removed(job, e, d->path);
                    if (rc == 0 && git_treebuilder_remove(bld, comp) < 0)
                        rc = -1;
                }
            }
            k++;
        }
        if (rc == 0 && k < j) { /* paths below `comp` */
            const git_tree_entry *e = git_treebuilder_get(bld, comp);
            git_tree *sub = NULL;
            if (e && git_tree_entry_type(e) == GIT_OBJECT_TREE &&
                git_tree_lookup(&sub, job->repo, git_tree_entry_id(e)) < 0)
                rc = -1;
            git_oid sid;
            bool sempty = true;
            if (rc == 0)
                rc = update_dir(job, sub, u + k, j - k, off + nl + 1, &sid, &sempty);
            if (rc == 0) {
                if (!sempty)
                    rc = git_treebuilder_insert(NULL, bld, comp, &sid, GIT_FILEMODE_TREE) < 0 ? -1 : 0;
                else if (sub)
                    rc = git_treebuilder_remove(bld, comp) < 0 ? -1 : 0;
                /* else: nothing below, and the entry (if any) is not a tree: kept */
            }
            git_tree_free(sub);
        }
        free(comp);
        i = j;
    }
    if (rc == 0) {
        *empty = git_treebuilder_entrycount(bld) == 0;
        if (!*empty && git_treebuilder_write(out, bld) < 0)
            rc = -1;
    }
    git_treebuilder_free(bld);
    return rc;
}

/* every ancestor directory of `rel` is a real directory (no symbolic link,
 * no file): what git requires before it looks at a path */
static bool ancestors_real(const char *wd, const char *rel)
{
    bool ok = true;
    char *full = rgs_xasprintf("%s%s", wd, rel);
    char *cut = full + strlen(wd);
    for (char *s = strchr(cut, '/'); s && ok; s = strchr(s + 1, '/')) {
        *s = '\0';
        struct stat st;
        ok = lstat(full, &st) == 0 && S_ISDIR(st.st_mode);
        *s = '/';
    }
    free(full);
    return ok;
}

int rgs_git_tree_update(git_repository *repo, const char *const *paths, size_t n, git_oid *tree,
                        git_oid *parent, bool *has_parent, rgs_git_change *chg, size_t *refused)
{
    if (refused)
        *refused = 0;
    *has_parent = false;
    const char *wd = git_repository_workdir(repo);
    if (!wd) {
        rgs_error("repository has no work tree");
        return -1;
    }
    int rc = -1;
    git_commit *head = NULL;
    git_tree *base = NULL;
    git_config *conf = NULL;
    upd_t *u = rgs_xcalloc(n ? n : 1, sizeof *u);
    size_t m = 0;
    tree_job job = {repo, chg, RGS_BUF_INIT, RGS_BUF_INIT};

    /* libgit2 consults the index for .gitattributes (the filters of
     * git_blob_create_from_workdir) and cannot read a split index: give
     * this handle an empty index in memory, so attributes come from the
     * work tree's .gitattributes files only, and the index file is never
     * opened by libgit2 */
    git_index *mem = NULL;
    if (git_index_new(&mem) < 0 || git_repository_set_index(repo, mem) < 0) {
        rgs_error("in-memory index: %s", rgs_git_error());
        git_index_free(mem);
        goto out;
    }
    git_index_free(mem);
    int e = git_reference_name_to_id(parent, repo, "HEAD");
    if (e == 0) {
        if (git_commit_lookup(&head, repo, parent) < 0 || git_commit_tree(&base, head) < 0) {
            rgs_error("read HEAD: %s", rgs_git_error());
            goto out;
        }
        *has_parent = true;
    } else if (e == GIT_ENOTFOUND) {
        git_error_clear(); /* unborn: the first commit */
    } else {
        rgs_error("resolve HEAD: %s", rgs_git_error());
        goto out;
    }
    int trust_mode = 1; /* core.filemode, true unless set (git-config(1)) */
    if (git_repository_config_snapshot(&conf, repo) < 0 ||
        git_config_get_bool(&trust_mode, conf, "core.filemode") < 0) {
        trust_mode = 1;
        git_error_clear();
    }

    /* the valid paths, sorted, without duplicates (O(n log n): a first
     * sync may name every file of the repository) */
    for (size_t i = 0; i < n; i++) {
        char why[80];
        if (rgs_path_check(paths[i], strlen(paths[i]), 0, NULL, NULL, why, sizeof why) == 0) {
            u[m++].path = rgs_xstrdup(paths[i]);
        } else {
            rgs_warn("commit '%s': not a path the sync may commit (%s); skipped", paths[i], why);
            if (refused)
                (*refused)++;
        }
    }
    qsort(u, m, sizeof *u, upd_cmp);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        if (k && !strcmp(u[k - 1].path, u[i].path))
            free(u[i].path);
        else
            u[k++] = u[i];
    }
    m = k;
    for (size_t i = 0; i < m; i++) {
        upd_t *d = &u[i];
        const char *p = d->path;
        d->kind = UPD_GONE;
        struct stat st;
        char *full = rgs_xasprintf("%s%s", wd, p);
        if (ancestors_real(wd, p) && lstat(full, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                d->kind = UPD_DIR;
            else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))
                d->kind = UPD_FILE;
        }
        free(full);
        if (d->kind != UPD_FILE)
            continue;
        if (git_blob_create_from_workdir(&d->id, repo, p) < 0) {
            rgs_error("commit '%s': %s", p, rgs_git_error());
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            d->mode = GIT_FILEMODE_LINK;
        } else if (trust_mode) {
            d->mode = (st.st_mode & S_IXUSR) ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
        } else { /* core.filemode false: the mode the path had (git's rule) */
            git_tree_entry *te = NULL;
            d->mode = GIT_FILEMODE_BLOB;
            if (base && git_tree_entry_bypath(&te, base, p) == 0 &&
                git_tree_entry_filemode(te) == GIT_FILEMODE_BLOB_EXECUTABLE)
                d->mode = GIT_FILEMODE_BLOB_EXECUTABLE;
            git_tree_entry_free(te);
            git_error_clear();
        }
    }
    bool empty = true;
    if (update_dir(&job, base, u, m, 0, tree, &empty) < 0) {
        rgs_error("build tree: %s", rgs_git_error());
        goto out;
    }
    if (empty) { /* everything was removed: the empty tree */
        git_treebuilder *bld = NULL;
        int w = git_treebuilder_new(&bld, repo, NULL);
        if (w == 0)
            w = git_treebuilder_write(tree, bld);
        git_treebuilder_free(bld);
        if (w < 0) {
            rgs_error("write empty tree: %s", rgs_git_error());
            goto out;
        }
    }
    rgs_buf_append(&chg->index_info, job.removals.data, job.removals.len);
    rgs_buf_append(&chg->index_info, job.upserts.data, job.upserts.len);
    rc = 0;
out:
    for (size_t i = 0; i < m; i++)
        free(u[i].path);
    free(u);
    rgs_buf_free(&job.removals);
    rgs_buf_free(&job.upserts);
    git_config_free(conf);
    git_tree_free(base);
    git_commit_free(head);
    return rc;
}

int rgs_git_index_update(const rgs_git_ctx *c, const char *workdir, const rgs_git_change *chg,
                         char *why, size_t wlen)
{
    if (!chg->index_info.len)
        return 0;
    static const char *const args[] = {"-c", "core.splitIndex=true", "-c", "core.fsync=none",
                                       "update-index", "-z", "--index-info", NULL};
    rgs_buf err = RGS_BUF_INIT;
    int st = rgs_git_cli_in(c, workdir, chg->index_info.data, chg->index_info.len, NULL, &err, args);
    if (st != 0)
        snprintf(why, wlen, "git update-index: %s",
                 st == -2 ? "timed out" : *rgs_git_first_line(&err) ? rgs_git_first_line(&err) : "failed");
    rgs_buf_free(&err);
    return st == 0 ? 0 : -1;
}

int rgs_git_commit_tree(git_repository *repo, const git_oid *tree_id, const git_oid *parent_id,
                        const git_signature *author, const git_signature *committer,
                        const char *message, bool *made, char hex[41])
{
    *made = false;
    hex[0] = '\0';
    git_tree *tree = NULL;
    git_commit *parent = NULL;
    git_oid commit_id;
    int rc = -1;
    if (parent_id && git_commit_lookup(&parent, repo, parent_id) < 0) {
        rgs_error("look up parent: %s", rgs_git_error());
        goto out;
    }
    if (parent && git_oid_equal(git_commit_tree_id(parent), tree_id)) {
        git_oid_tostr(hex, 41, parent_id);
        rc = 0; /* nothing changed: no empty commit */
        goto out;
    }
    if (git_tree_lookup(&tree, repo, tree_id) < 0) {
        rgs_error("look up tree: %s", rgs_git_error());
        goto out;
    }
    if (!parent && git_tree_entrycount(tree) == 0) {
        rc = 0; /* unborn branch and nothing to add: no empty root commit */
        goto out;
    }
    const git_commit *parents[1] = {parent};
    if (git_commit_create(&commit_id, repo, "HEAD", author, committer, "UTF-8", message, tree,
                          parent ? 1 : 0, parents) < 0) {
        rgs_error("commit: %s", rgs_git_error());
        goto out;
    }
    git_oid_tostr(hex, 41, &commit_id);
    *made = true;
    rc = 0;
out:
    git_tree_free(tree);
    git_commit_free(parent);
    return rc;
}

bool rgs_git_ref_hex(git_repository *repo, const char *refname, char hex[41])
{
    git_object *obj = NULL;
    char *spec = rgs_xasprintf("%s^{commit}", refname);
    int rc = git_revparse_single(&obj, repo, spec);
    free(spec);
    if (rc < 0) {
        git_error_clear();
        hex[0] = '\0';
        return false;
    }
    git_oid_tostr(hex, 41, git_object_id(obj));
    git_object_free(obj);
    return true;
}
