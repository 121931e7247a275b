/* rgs_config: see rgs_config.h.  The file format is the original service's
 * git_connectors.toml (relay.md §5.5) plus the [authors] table of the
 * petergaultney fork (§7.1) and this project's [sync] and [commit] tables
 * (share/man/man5/git_connectors.toml.5). */
#include "rgs_config.h"
#include "rgs_toml.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The biggest configuration file accepted, in bytes. */
#define CONFIG_MAX_BYTES (4u * 1024 * 1024)

typedef struct {
    const char *path;
    int errors;
} ctx;

static void cerr(ctx *c, unsigned line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cerr(ctx *c, unsigned line, const char *key, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    rgs_error("%s:%u: %s: %s", c->path, line, key, why);
    c->errors++;
}

static void cwarn(ctx *c, unsigned line, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void cwarn(ctx *c, unsigned line, const char *key, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    rgs_warn("%s:%u: %s: %s", c->path, line, key, why);
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* A branch name git accepts for refs/heads/<name> (git-check-ref-format(1)
 * rules 1-10 plus git-branch's "must not start with '-'"). */
static bool branch_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 255 || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' || s[n - 1] == '.')
        return false;
    if (!strcmp(s, "@") || strstr(s, "..") || strstr(s, "@{") || strstr(s, "//"))
        return false;
    if (n >= 5 && !strcmp(s + n - 5, ".lock"))
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || strchr("~^:?*[\\", c))
            return false;
        /* no component starts with '.' or ends with ".lock" */
        if ((p == s || p[-1] == '/') && c == '.')
            return false;
        if (c == '/' && p - s >= 5 && !strncmp(p - 5, ".lock", 5))
            return false;
    }
    return true;
}

/* Remote names: a conservative subset of what git allows (letters, digits,
 * '.', '_', '-', not starting with '.' or '-'), so a name is always one
 * path component and one config subsection. */
static bool remote_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100 || s[0] == '.' || s[0] == '-')
        return false;
    if (n >= 5 && !strcmp(s + n - 5, ".lock"))
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return false;
    return !strstr(s, "..");
}

/* URLs the git CLI may be given: https://, http://, ssh://, git://,
 * file:// and scp-like user@host:path (as the original's `git validate`),
 * plus absolute local paths.  Refused: helper transports such as ext::
 * (they run commands), anything starting with '-' (an option to git),
 * control characters. */
static const char *url_problem(const char *u)
{
    if (!*u)
        return "is empty";
    if (u[0] == '-')
        return "must not start with '-'";
    if (has_control(u))
        return "contains control characters";
    static const char *schemes[] = {"https://", "http://", "ssh://", "git://", "file://"};
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        if (!strncasecmp(u, schemes[i], strlen(schemes[i])))
            return u[strlen(schemes[i])] ? NULL : "has no host or path";
    if (strstr(u, "::"))
        return "uses a remote helper transport ('::'), which is refused";
    if (u[0] == '/')
        return NULL;
    const char *colon = strchr(u, ':');
    const char *slash = strchr(u, '/');
    if (colon && colon != u && (!slash || colon < slash) && colon[1])
        return NULL; /* scp-like [user@]host:path */
    return "must be https://, http://, ssh://, git://, file://, user@host:path or an absolute path";
}

/* Normalise a prefix in place: trailing '/' removed.  Returns the problem
 * or NULL. */
static const char *prefix_problem(char *p)
{
    size_t n = strlen(p);
    while (n && p[n - 1] == '/')
        p[--n] = '\0';
    if (n == 0)
        return NULL;
    if (p[0] == '/')
        return "must be relative (no leading '/')";
    if (has_control(p) || strchr(p, '\\'))
        return "contains control characters or '\\'";
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0)
            return "has an empty component ('//')";
        if ((len == 1 && s[0] == '.') || (len == 2 && !strncmp(s, "..", 2)))
            return "has a '.' or '..' component";
        if (len == 4 && !strncasecmp(s, ".git", 4))
            return "has a '.git' component";
        s += len;
        if (*s == '/')
            s++;
    }
    return NULL;
}

/* Typed getters: on a wrong type print an error and return false. */
static bool get_str(ctx *c, const rgs_toml *t, const char *key, const char *where, char **out)
{
    const rgs_toml *v = rgs_toml_get(t, key);
    if (!v)
        return true;
    if (v->type != RGS_TOML_STRING) {
        cerr(c, v->line, where, "must be a string, not a%s %s", v->type == RGS_TOML_INTEGER ? "n" : "",
             rgs_toml_type_name(v->type));
        return false;
    }
    free(*out);
    *out = rgs_xstrdup(v->str);
    return true;
}

static bool get_bool(ctx *c, const rgs_toml *t, const char *key, const char *where, bool *out)
{
    const rgs_toml *v = rgs_toml_get(t, key);
    if (!v)
        return true;
    if (v->type != RGS_TOML_BOOLEAN) {
        cerr(c, v->line, where, "must be true or false, not a%s %s",
             v->type == RGS_TOML_INTEGER || v->type == RGS_TOML_ARRAY ? "n" : "",
             rgs_toml_type_name(v->type));
        return false;
    }
    *out = v->boolean;
    return true;
}

static void warn_unknown(ctx *c, const rgs_toml *t, const char *const *known, const char *table)
{
    for (size_t i = 0; i < t->n; i++) {
        bool k = false;
        for (const char *const *p = known; *p; p++)
            if (!strcmp(*p, t->keys[i]))
                k = true;
        if (!k)
            cwarn(c, t->key_lines[i], t->keys[i], "unknown key in %s, ignored", table);
    }
}

static void connector_free(rgs_connector *k)
{
    if (k->url) /* an old-style URL may still carry a password */
        explicit_bzero(k->url, strlen(k->url));
    free(k->url);
    free(k->branch);
    free(k->remote_name);
    free(k->prefix);
}

static bool load_connector(ctx *c, const rgs_toml *t, rgs_connector *k)
{
    static const char *const known[] = {"shared_folder_id", "relay_id", "url", "branch",
                                        "remote_name", "prefix", "owns_prefix", NULL};
    int before = c->errors;
    memset(k, 0, sizeof *k);
    k->line = t->line;
    k->branch = rgs_xstrdup("main");
    k->remote_name = rgs_xstrdup("origin");
    k->prefix = rgs_xstrdup("");
    warn_unknown(c, t, known, "[[git_connector]]");

    static const char *const ids[] = {"shared_folder_id", "relay_id"};
    for (int i = 0; i < 2; i++) {
        char *s = NULL;
        if (!get_str(c, t, ids[i], ids[i], &s))
            continue;
        if (!s) {
            cerr(c, t->line, ids[i], "missing in this [[git_connector]] (required)");
            continue;
        }
        if (!rgs_uuid_norm(s, strlen(s), i == 0 ? k->folder : k->relay))
            cerr(c, rgs_toml_get_line(t, ids[i]), ids[i], "'%s' is not a UUID", s);
        free(s);
    }
    k->url_line = rgs_toml_get_line(t, "url");
    if (get_str(c, t, "url", "url", &k->url)) {
        const char *why;
        if (!k->url) {
            cerr(c, t->line, "url", "missing in this [[git_connector]] (required)");
        } else if ((why = url_problem(k->url))) {
            char *red = rgs_redact_url(k->url);
            cerr(c, rgs_toml_get_line(t, "url"), "url", "'%s' %s", red, why);
            free(red);
        }
    }
    if (get_str(c, t, "branch", "branch", &k->branch) && !branch_name_valid(k->branch))
        cerr(c, rgs_toml_get_line(t, "branch"), "branch", "'%s' is not a valid Git branch name",
             k->branch);
    if (get_str(c, t, "remote_name", "remote_name", &k->remote_name) &&
        !remote_name_valid(k->remote_name))
        cerr(c, rgs_toml_get_line(t, "remote_name"), "remote_name",
             "'%s' is not a valid remote name (letters, digits, '.', '_', '-')", k->remote_name);
    if (get_str(c, t, "prefix", "prefix", &k->prefix)) {
        const char *why = prefix_problem(k->prefix);
        if (why)
            cerr(c, rgs_toml_get_line(t, "prefix"), "prefix", "'%s' %s", k->prefix, why);
    }
    get_bool(c, t, "owns_prefix", "owns_prefix", &k->owns_prefix);
    return c->errors == before;
}

/* "Name <email>" */
static bool parse_identity(const char *s, char **name, char **email)
{
    const char *lt = strrchr(s, '<');
    size_t n = strlen(s);
    if (!lt || n < 3 || s[n - 1] != '>' || strchr(lt + 1, '<') || has_control(s))
        return false;
    const char *ns = s, *ne = lt;
    while (ns < ne && (*ns == ' ' || *ns == '\t'))
        ns++;
    while (ne > ns && (ne[-1] == ' ' || ne[-1] == '\t'))
        ne--;
    const char *es = lt + 1, *ee = s + n - 1;
    if (ne == ns || ee == es || memchr(es, '>', (size_t)(ee - es)) || memchr(ns, '>', (size_t)(ne - ns)))
        return false;
    *name = rgs_xstrndup(ns, (size_t)(ne - ns));
    *email = rgs_xstrndup(es, (size_t)(ee - es));
    return true;
}

static void load_authors(ctx *c, const rgs_toml *t, rgs_config *cfg)
{
    cfg->authors = rgs_xcalloc(t->n, sizeof *cfg->authors);
    for (size_t i = 0; i < t->n; i++) {
        const rgs_toml *v = t->items[i];
        char where[300];
        snprintf(where, sizeof where, "authors.%s", t->keys[i]);
        if (v->type != RGS_TOML_STRING) {
            cerr(c, v->line, where, "must be a string \"Name <email>\", not a %s",
                 rgs_toml_type_name(v->type));
            continue;
        }
        rgs_author *a = &cfg->authors[cfg->n_authors];
        if (!parse_identity(v->str, &a->name, &a->email)) {
            cerr(c, v->line, where, "'%s' is not of the form \"Name <email>\"", v->str);
            continue;
        }
        a->user = rgs_xstrdup(t->keys[i]);
        cfg->n_authors++;
    }
}

static void load_sync(ctx *c, const rgs_toml *t, rgs_config *cfg)
{
    static const char *const known[] = {"max_delete_share", "max_delete_count", NULL};
    warn_unknown(c, t, known, "[sync]");
    const rgs_toml *v = rgs_toml_get(t, "max_delete_share");
    if (v) {
        double d = v->type == RGS_TOML_FLOAT ? v->flt : v->type == RGS_TOML_INTEGER ? (double)v->integer : -1;
        if (v->type != RGS_TOML_FLOAT && v->type != RGS_TOML_INTEGER)
            cerr(c, v->line, "max_delete_share", "must be a number between 0 and 1, not a %s",
                 rgs_toml_type_name(v->type));
        else if (!(d >= 0 && d <= 1))
            cerr(c, v->line, "max_delete_share", "must be between 0 and 1");
        else
            cfg->max_delete_share = d;
    }
    v = rgs_toml_get(t, "max_delete_count");
    if (v) {
        if (v->type != RGS_TOML_INTEGER || v->integer < 0)
            cerr(c, v->line, "max_delete_count", "must be an integer >= 0");
        else
            cfg->max_delete_count = (long)v->integer;
    }
}

static void load_commit(ctx *c, const rgs_toml *t, rgs_config *cfg)
{
    static const char *const known[] = {"committer_name", "committer_email", "message",
                                        "message_utc", NULL};
    warn_unknown(c, t, known, "[commit]");
    if (get_str(c, t, "committer_name", "committer_name", &cfg->committer_name) &&
        (!*cfg->committer_name || has_control(cfg->committer_name) ||
         strpbrk(cfg->committer_name, "<>")))
        cerr(c, rgs_toml_get_line(t, "committer_name"), "committer_name",
             "must be non-empty, without '<', '>' or control characters");
    if (get_str(c, t, "committer_email", "committer_email", &cfg->committer_email) &&
        (has_control(cfg->committer_email) || strpbrk(cfg->committer_email, "<>")))
        cerr(c, rgs_toml_get_line(t, "committer_email"), "committer_email",
             "must not contain '<', '>' or control characters");
    if (get_str(c, t, "message", "message", &cfg->message_template) && !*cfg->message_template)
        cerr(c, rgs_toml_get_line(t, "message"), "message", "must not be empty");
    get_bool(c, t, "message_utc", "message_utc", &cfg->message_utc);
}

static rgs_config *config_new(const char *path)
{
    rgs_config *cfg = rgs_xcalloc(1, sizeof *cfg);
    cfg->path = rgs_xstrdup(path);
    cfg->max_delete_share = 0.10;
    cfg->max_delete_count = 25;
    cfg->committer_name = rgs_xstrdup("Relay Git Sync");
    cfg->committer_email = rgs_xstrdup("relay-git-sync@localhost");
    cfg->message_template = rgs_xstrdup("Auto-sync: %Y-%m-%d %H:%M:%S");
    cfg->message_utc = false;
    return cfg;
}

/* Two connectors of one (relay, folder): same remote_name is an error (the
 * second would overwrite the first's URL), and so are different prefixes
 * (one repository has one layout). */
static void check_duplicates(ctx *c, rgs_config *cfg)
{
    for (size_t i = 0; i < cfg->n_connectors; i++)
        for (size_t j = 0; j < i; j++) {
            rgs_connector *a = &cfg->connectors[j], *b = &cfg->connectors[i];
            if (strcmp(a->relay, b->relay) || strcmp(a->folder, b->folder))
                continue;
            if (!strcmp(a->remote_name, b->remote_name)) {
                cerr(c, b->line, "remote_name",
                     "'%s' is already used for this relay_id and shared_folder_id by the "
                     "connector on line %u; give each remote its own remote_name",
                     b->remote_name, a->line);
                break;
            }
            if (strcmp(a->prefix, b->prefix)) {
                cerr(c, b->line, "prefix",
                     "'%s' differs from '%s' of the connector on line %u for the same folder "
                     "(one folder is one repository with one prefix)",
                     b->prefix, a->prefix, a->line);
                break;
            }
            if (a->owns_prefix != b->owns_prefix) {
                cerr(c, b->line, "owns_prefix",
                     "differs from the connector on line %u for the same folder", a->line);
                break;
            }
        }
}

int rgs_config_load(const char *path, rgs_config **out)
{
    *out = NULL;
    rgs_buf text = RGS_BUF_INIT;
    if (rgs_read_file(AT_FDCWD, path, &text, CONFIG_MAX_BYTES) < 0) {
        int e = errno;
        rgs_buf_free(&text);
        if (e == ENOENT) {
            *out = config_new(path);
            return 0;
        }
        rgs_error("read config '%s': %s", path, e == EFBIG ? "file too big" : strerror(e));
        return -1;
    }
    int rc = rgs_config_parse(path, text.data, text.len, out);
    explicit_bzero(text.data, text.len); /* URLs in the file may hold credentials */
    rgs_buf_free(&text);
    return rc;
}

int rgs_config_parse(const char *path, const char *text, size_t len, rgs_config **out)
{
    *out = NULL;
    char err[600];
    rgs_toml *root;
    if (rgs_toml_parse(text, len, &root, err, sizeof err) < 0) {
        /* err is "line N: why" or "line N: KEY: why" (the key being assigned) */
        rgs_error("%s:%s", path, err + 5);
        return -1;
    }

    ctx c = {path, 0};
    rgs_config *cfg = config_new(path);
    cfg->exists = true;
    for (size_t i = 0; i < root->n; i++) {
        const char *key = root->keys[i];
        const rgs_toml *v = root->items[i];
        unsigned line = root->key_lines[i];
        if (!strcmp(key, "git_connector")) {
            if (v->type != RGS_TOML_ARRAY || !v->tables) {
                cerr(&c, line, key, "must be an array of tables: write [[git_connector]]");
                continue;
            }
            cfg->connectors = rgs_xcalloc(v->n, sizeof *cfg->connectors);
            for (size_t j = 0; j < v->n; j++) {
                rgs_connector *k = &cfg->connectors[cfg->n_connectors];
                if (load_connector(&c, v->items[j], k))
                    cfg->n_connectors++;
                else
                    connector_free(k);
            }
        } else if (!strcmp(key, "authors") || !strcmp(key, "sync") || !strcmp(key, "commit")) {
            if (v->type != RGS_TOML_TABLE) {
                cerr(&c, line, key, "must be a table: write [%s]", key);
                continue;
            }
            if (key[0] == 'a')
                load_authors(&c, v, cfg);
            else if (key[0] == 's')
                load_sync(&c, v, cfg);
            else
                load_commit(&c, v, cfg);
        } else {
            cwarn(&c, line, key, "unknown key, ignored");
        }
    }
    rgs_toml_free(root);
    check_duplicates(&c, cfg);
    if (c.errors) {
        rgs_config_free(cfg);
        return -1;
    }
    *out = cfg;
    return 0;
}

char *rgs_config_path(const char *opt, const char *data_dir)
{
    if (opt && *opt)
        return rgs_xstrdup(opt);
    return rgs_xasprintf("%s/git_connectors.toml", data_dir);
}

const rgs_connector *rgs_config_find(const rgs_config *c, const char *relay, const char *folder)
{
    if (!c || !relay || !folder)
        return NULL;
    for (size_t i = 0; i < c->n_connectors; i++)
        if (!strcasecmp(c->connectors[i].relay, relay) && !strcasecmp(c->connectors[i].folder, folder))
            return &c->connectors[i];
    return NULL;
}

const rgs_connector *rgs_config_next(const rgs_config *c, const rgs_connector *prev)
{
    if (!c || !prev)
        return NULL;
    size_t i = (size_t)(prev - c->connectors);
    for (i++; i < c->n_connectors; i++)
        if (!strcmp(c->connectors[i].relay, prev->relay) && !strcmp(c->connectors[i].folder, prev->folder))
            return &c->connectors[i];
    return NULL;
}

const rgs_author *rgs_config_author(const rgs_config *c, const char *user)
{
    if (!c || !user)
        return NULL;
    for (size_t i = 0; i < c->n_authors; i++)
        if (!strcmp(c->authors[i].user, user))
            return &c->authors[i];
    return NULL;
}

void rgs_config_free(rgs_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_connectors; i++)
        connector_free(&c->connectors[i]);
    free(c->connectors);
    for (size_t i = 0; i < c->n_authors; i++) {
        free(c->authors[i].user);
        free(c->authors[i].name);
        free(c->authors[i].email);
    }
    free(c->authors);
    free(c->path);
    free(c->committer_name);
    free(c->committer_email);
    free(c->message_template);
    free(c);
}
