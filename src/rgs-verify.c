/* rgs-verify: one HTTP/1.1 connection on stdin/stdout.  Checks webhooks
 * (Bearer secret or Svix signature), writes accepted ones durably into
 * DATA_DIR/spool/new/ and only then answers 200; also serves /health,
 * /api/pubkey, /openapi.yaml and /docs.  Runs under socat, rgs-accept,
 * inetd, or by hand on a request file.  See rgs-verify(1).
 */
#include "rgs_httpd.h"
#include "rgs_spool.h"
#include "rgs_sshkey.h"
#include "rgs_util.h"
#include "rgs_webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static struct {
    const char *data_dir;
    char *secret;
    enum rgs_auth_mode mode;
    rgs_http_limits lim;
    double timeout, idle, tolerance;
    double busy_idle, lifetime;
    unsigned long max_requests;
    int pressure_fd; /* RGS_PRESSURE_FD from rgs-accept, -1 none */
    const char *share_opt;
    bool no_docs_cdn; /* --no-docs-cdn or RGS_DOCS_CDN=0 */
    bool dry_run;
    char peer[80];
} cfg;

static void usage(FILE *f)
{
    fputs("Usage: rgs-verify [OPTIONS]\n"
          "\n"
          "Serve one HTTP/1.1 connection on stdin/stdout (keep-alive: many requests):\n"
          "  POST /webhooks   authenticate, check the envelope, spool durably, 200\n"
          "  GET  /health     status, spool depth, worker state, push results\n"
          "  GET  /api/pubkey public key of SSH_PRIVATE_KEY\n"
          "  GET  /openapi.yaml, /docs   the API description and its Swagger UI\n"
          "\n"
          "Options (environment variable in brackets; flags win):\n"
          "  -d, --data-dir DIR          data directory [RELAY_GIT_DATA_DIR] (.)\n"
          "      --webhook-secret S      webhook secret [WEBHOOK_SECRET]; prefer the\n"
          "                              environment or --webhook-secret-file (argv is\n"
          "                              visible to other users)\n"
          "      --webhook-secret-file F read the secret from file F (one line)\n"
          "      --max-body BYTES        largest request body (1048576)\n"
          "      --max-header-bytes N    header section limit in bytes (16384)\n"
          "      --max-headers N         header field count limit (100)\n"
          "      --timeout SECONDS       read deadline for one request (10)\n"
          "      --idle-timeout SECONDS  keep-alive idle time between requests (15)\n"
          "      --max-requests N        requests on one connection, then close (100)\n"
          "      --max-lifetime SECONDS  age of a connection after which it is closed\n"
          "                              once its request is answered (60)\n"
          "      --busy-idle-timeout S   idle time while the listener is near its\n"
          "                              limit (RGS_PRESSURE_FD from rgs-accept) (1)\n"
          "      --tolerance SECONDS     Svix timestamp window (300)\n"
          "      --share-dir DIR         where openapi.yaml and Swagger UI are\n"
          "                              [RGS_SHARE_DIR] (found next to the program)\n"
          "      --no-docs-cdn           without local Swagger UI assets, /docs is a\n"
          "                              notice page instead of Swagger UI from the CDN\n"
          "                              [RGS_DOCS_CDN=0]\n"
          "  -n, --dry-run               check and answer, write nothing\n"
          "  -v, --verbose               more messages; -q, --quiet: warnings only\n"
          "  -h, --help                  this text;  --version\n"
          "\n"
          "Exit status: 0 connection served, 100 bad usage, 101 internal error.\n",
          f);
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || v == 0 || v > ((size_t)1 << 31) || *s == '-')
        return false;
    *out = (size_t)v;
    return true;
}

static char *read_secret_file(const char *path)
{
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_read_file(AT_FDCWD, path, &b, 65536) < 0)
        rgs_die(RGS_EX_PERM, "read secret file '%s': %s", path, strerror(errno));
    size_t n = b.len;
    while (n && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
        n--;
    char *s = rgs_xstrndup(b.data, n);
    explicit_bzero(b.data, b.len);
    rgs_buf_free(&b);
    return s;
}

static void parse_args(int argc, char **argv)
{
    enum { O_SECRET = 256, O_SECRET_FILE, O_MAX_BODY, O_MAX_HDR_BYTES, O_MAX_HDRS, O_TIMEOUT,
           O_IDLE, O_TOL, O_SHARE, O_VERSION, O_MAX_REQ, O_LIFETIME, O_BUSY_IDLE, O_NO_CDN };
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"webhook-secret", required_argument, NULL, O_SECRET},
        {"webhook-secret-file", required_argument, NULL, O_SECRET_FILE},
        {"max-body", required_argument, NULL, O_MAX_BODY},
        {"max-header-bytes", required_argument, NULL, O_MAX_HDR_BYTES},
        {"max-headers", required_argument, NULL, O_MAX_HDRS},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"max-requests", required_argument, NULL, O_MAX_REQ},
        {"max-lifetime", required_argument, NULL, O_LIFETIME},
        {"busy-idle-timeout", required_argument, NULL, O_BUSY_IDLE},
        {"tolerance", required_argument, NULL, O_TOL},
        {"share-dir", required_argument, NULL, O_SHARE},
        {"no-docs-cdn", no_argument, NULL, O_NO_CDN},
        {"dry-run", no_argument, NULL, 'n'},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    const char *data_opt = NULL;
    cfg.timeout = 10;
    cfg.idle = 15;
    cfg.tolerance = 300;
    cfg.max_requests = 100;
    cfg.lifetime = 60;
    cfg.busy_idle = 1;
    const char *cdn = getenv("RGS_DOCS_CDN");
    cfg.no_docs_cdn = cdn && (!strcmp(cdn, "0") || !strcasecmp(cdn, "no") || !strcasecmp(cdn, "false"));
    const char *env = getenv("WEBHOOK_SECRET");
    cfg.secret = rgs_xstrdup(env ? env : "");
    int c;
    while ((c = getopt_long(argc, argv, "d:nvqh", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data_opt = optarg; break;
        case O_SECRET:
            free(cfg.secret);
            cfg.secret = rgs_xstrdup(optarg);
            /* hide it from ps(1) as far as we can */
            explicit_bzero(optarg, strlen(optarg));
            break;
        case O_SECRET_FILE:
            free(cfg.secret);
            cfg.secret = read_secret_file(optarg);
            break;
        case O_MAX_BODY:
            if (!parse_size(optarg, &cfg.lim.max_body))
                rgs_die(RGS_EX_PERM, "option '--max-body': want a byte count, got '%s'", optarg);
            break;
        case O_MAX_HDR_BYTES:
            if (!parse_size(optarg, &cfg.lim.max_header_bytes))
                rgs_die(RGS_EX_PERM, "option '--max-header-bytes': want a byte count");
            break;
        case O_MAX_HDRS:
            if (!parse_size(optarg, &cfg.lim.max_headers))
                rgs_die(RGS_EX_PERM, "option '--max-headers': want a count");
            break;
        case O_TIMEOUT:
            if (!rgs_parse_seconds(optarg, &cfg.timeout) || cfg.timeout <= 0)
                rgs_die(RGS_EX_PERM, "option '--timeout': want seconds > 0");
            break;
        case O_IDLE:
            if (!rgs_parse_seconds(optarg, &cfg.idle) || cfg.idle <= 0)
                rgs_die(RGS_EX_PERM, "option '--idle-timeout': want seconds > 0");
            break;
        case O_MAX_REQ: {
            size_t v;
            if (!parse_size(optarg, &v))
                rgs_die(RGS_EX_PERM, "option '--max-requests': want a count > 0");
            cfg.max_requests = v;
            break;
        }
        case O_LIFETIME:
            if (!rgs_parse_seconds(optarg, &cfg.lifetime) || cfg.lifetime <= 0)
                rgs_die(RGS_EX_PERM, "option '--max-lifetime': want seconds > 0");
            break;
        case O_BUSY_IDLE:
            if (!rgs_parse_seconds(optarg, &cfg.busy_idle) || cfg.busy_idle < 0)
                rgs_die(RGS_EX_PERM, "option '--busy-idle-timeout': want seconds >= 0");
            break;
        case O_TOL:
            if (!rgs_parse_seconds(optarg, &cfg.tolerance) || cfg.tolerance <= 0)
                rgs_die(RGS_EX_PERM, "option '--tolerance': want seconds > 0");
            break;
        case O_SHARE: cfg.share_opt = optarg; break;
        case O_NO_CDN: cfg.no_docs_cdn = true; break;
        case 'n': cfg.dry_run = true; break;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'h': usage(stdout); exit(RGS_EX_OK);
        case O_VERSION: printf("rgs-verify %s\n", RGS_VERSION); exit(RGS_EX_OK);
        default: usage(stderr); exit(RGS_EX_PERM);
        }
    }
    if (optind < argc)
        rgs_die(RGS_EX_PERM, "unexpected argument '%s' (see --help)", argv[optind]);
    cfg.data_dir = rgs_data_dir(data_opt);
    cfg.mode = rgs_webhook_auth_mode(cfg.secret);
    if (!cfg.lim.max_body)
        cfg.lim.max_body = RGS_HTTP_DEFAULT_MAX_BODY;
}

/* RGS_PRESSURE_FD (rgs-accept(1)): a pipe that is readable while the
 * listener is near its connection limit or stopping; anything else in the
 * variable is ignored */
static void set_pressure(void)
{
    cfg.pressure_fd = -1;
    const char *v = getenv("RGS_PRESSURE_FD");
    if (!v || !*v)
        return;
    char *end;
    long fd = strtol(v, &end, 10);
    struct stat st;
    if (*end || fd < 3 || fd > 1024 || fstat((int)fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
        rgs_debug("RGS_PRESSURE_FD '%.20s': not an inherited pipe; ignored", v);
        return;
    }
    cfg.pressure_fd = (int)fd;
}

static void set_peer(void)
{
    const char *ip = getenv("TCPREMOTEIP"), *port = getenv("TCPREMOTEPORT");
    if (!ip) {
        ip = getenv("SOCAT_PEERADDR");
        port = getenv("SOCAT_PEERPORT");
    }
    if (ip)
        snprintf(cfg.peer, sizeof cfg.peer, "%.60s:%.8s", ip, port ? port : "?");
    else
        snprintf(cfg.peer, sizeof cfg.peer, "stdin");
}

/* ---- responses ---- */

typedef struct {
    int status;
    char *body;        /* malloc'd */
    size_t len;
    const char *ctype; /* static */
    char extra[512];   /* extra header lines */
    bool close;        /* close the connection after this response */
    char note[300];    /* for the log line */
} response;

static void set_json(response *r, int status, json_t *obj)
{
    r->status = status;
    free(r->body);
    r->body = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    r->len = r->body ? strlen(r->body) : 0;
    r->ctype = "application/json";
    json_decref(obj);
}

static void set_error(response *r, int status, const char *text)
{
    set_json(r, status, json_pack("{s:s}", "error", text));
}

static void set_bytes(response *r, int status, const char *ctype, char *bytes, size_t n)
{
    r->status = status;
    free(r->body);
    r->body = bytes;
    r->len = n;
    r->ctype = ctype;
}

/* ---- share directory: openapi.yaml and Swagger UI ---- */

static bool is_file(const char *dir, const char *name)
{
    char *p = rgs_xasprintf("%s/%s", dir, name);
    struct stat st;
    bool r = stat(p, &st) == 0 && S_ISREG(st.st_mode);
    free(p);
    return r;
}

/* the directory holding openapi.yaml: --share-dir, $RGS_SHARE_DIR, then
 * PREFIX/share/rgs beside the program's bin/, then the source tree the
 * program was built in (build/bin or build/san/bin below it) */
static const char *share_dir(void)
{
    static char *found;
    static bool looked;
    if (looked)
        return found;
    looked = true;
    const char *opt = cfg.share_opt ? cfg.share_opt : getenv("RGS_SHARE_DIR");
    if (opt && *opt && is_file(opt, "openapi.yaml"))
        return found = rgs_xstrdup(opt);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    char *cand = rgs_xasprintf("%s/../share/rgs", exe);
    if (is_file(cand, "openapi.yaml"))
        return found = cand;
    free(cand);
    for (int up = 1; up <= 4; up++) {
        rgs_buf b = RGS_BUF_INIT;
        rgs_buf_puts(&b, exe);
        for (int i = 0; i < up; i++)
            rgs_buf_puts(&b, "/..");
        if (is_file(b.data, "openapi.yaml") && is_file(b.data, "mk/intake.mk"))
            return found = rgs_buf_steal(&b, NULL);
        rgs_buf_free(&b);
    }
    return NULL;
}

/* Swagger UI assets: SHARE/swagger-ui (installed) or
 * SHARE/share/www/node_modules/swagger-ui-dist (source tree) */
static const char *swagger_dir(void)
{
    static char *found;
    static bool looked;
    if (looked)
        return found;
    looked = true;
    const char *s = share_dir();
    if (!s)
        return NULL;
    static const char *const subs[] = {"swagger-ui", "share/www/node_modules/swagger-ui-dist"};
    for (size_t i = 0; i < 2; i++) {
        char *d = rgs_xasprintf("%s/%s", s, subs[i]);
        if (is_file(d, "swagger-ui-bundle.js") && is_file(d, "swagger-ui.css"))
            return found = d;
        free(d);
    }
    return NULL;
}

static const char docs_init_js[] =
    "window.addEventListener('load', function () {\n"
    "  window.ui = SwaggerUIBundle({\n"
    "    url: 'openapi.yaml',\n"
    "    dom_id: '#swagger-ui',\n"
    "    deepLinking: true,\n"
    "    presets: [SwaggerUIBundle.presets.apis],\n"
    "    layout: 'BaseLayout'\n"
    "  });\n"
    "});\n";

/* Without local Swagger UI assets, the fallback the original service had
 * (relay.md §8: Swagger UI from a CDN), without its weakness (a floating
 * version, no integrity check): the exact version of share/www/package.json
 * from jsDelivr's npm mirror, each file pinned by Subresource Integrity
 * (W3C SRI: sha384 of the package's own bytes; a changed file is refused by
 * the browser), and a Content-Security-Policy that allows that origin for
 * scripts and styles and nothing else remote.  tests/intake/
 * test-verify-http.sh recomputes the hashes from the installed package and
 * compares the version with share/www/package.json. */
#define SWAGGER_UI_VERSION "5.35.0"
#define SWAGGER_UI_CDN "https://cdn.jsdelivr.net"
#define SWAGGER_UI_BASE SWAGGER_UI_CDN "/npm/swagger-ui-dist@" SWAGGER_UI_VERSION
#define SWAGGER_UI_BUNDLE_SRI "sha384-gjRm0bEPMeTmMh5jT2cHccIwCUZSTd8YC+j0d0sXw0MdGEfScduGpSyF3ZSSLkX9"
#define SWAGGER_UI_CSS_SRI "sha384-WlYgdmXYOOBWL5apwjDEZwN+U3HmXSSu5R6V5aGxEcf7z+KuRNwBhoxKVN1i3D5I"

static const char docs_cdn_html[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>relay-git-sync API</title>\n"
    "<link rel=\"stylesheet\" href=\"" SWAGGER_UI_BASE "/swagger-ui.css\"\n"
    "      integrity=\"" SWAGGER_UI_CSS_SRI "\" crossorigin=\"anonymous\">\n"
    "</head>\n<body>\n"
    "<div id=\"swagger-ui\"><p>Swagger UI " SWAGGER_UI_VERSION " is loaded from "
    "cdn.jsdelivr.net (its assets are not installed here). The API description: "
    "<a href=\"openapi.yaml\">openapi.yaml</a>.</p></div>\n"
    "<script src=\"" SWAGGER_UI_BASE "/swagger-ui-bundle.js\"\n"
    "        integrity=\"" SWAGGER_UI_BUNDLE_SRI "\" crossorigin=\"anonymous\"></script>\n"
    "<script src=\"docs/rgs-init.js\"></script>\n</body>\n</html>\n";

/* without local Swagger UI assets and with the CDN turned off: a page that
 * says so and links the description, loading nothing */
static const char docs_missing_html[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<title>relay-git-sync API</title>\n</head>\n<body>\n"
    "<h1>relay-git-sync API</h1>\n"
    "<p>The Swagger UI viewer is not installed here (its assets come from the npm package "
    "<code>swagger-ui-dist</code>, installed by <code>make install</code> after "
    "<code>npm ci</code> in <code>share/www</code>), and loading it from a CDN is "
    "turned off (<code>--no-docs-cdn</code>, <code>RGS_DOCS_CDN=0</code>).</p>\n"
    "<p>The API description: <a href=\"openapi.yaml\">openapi.yaml</a> "
    "(OpenAPI 3.1; any OpenAPI viewer shows it).</p>\n"
    "</body>\n</html>\n";

static void docs_page(response *r)
{
    if (!swagger_dir() && !cfg.no_docs_cdn) {
        set_bytes(r, 200, "text/html; charset=utf-8", rgs_xstrdup(docs_cdn_html),
                  sizeof docs_cdn_html - 1);
        snprintf(r->extra, sizeof r->extra,
                 "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
                 "style-src 'self' 'unsafe-inline' " SWAGGER_UI_CDN "; "
                 "script-src 'self' " SWAGGER_UI_CDN "\r\n");
        snprintf(r->note, sizeof r->note,
                 "Swagger UI assets not installed: served the page that loads them from "
                 "the CDN (pinned, SRI)");
        return;
    }
    if (!swagger_dir()) {
        set_bytes(r, 200, "text/html; charset=utf-8", rgs_xstrdup(docs_missing_html),
                  sizeof docs_missing_html - 1);
        snprintf(r->extra, sizeof r->extra, "Content-Security-Policy: default-src 'none'\r\n");
        snprintf(r->note, sizeof r->note,
                 "Swagger UI assets not installed (swagger-ui-dist): served the notice page");
        return;
    }
    static const char html[] =
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>relay-git-sync API</title>\n"
        "<link rel=\"icon\" type=\"image/png\" href=\"docs/favicon-32x32.png\">\n"
        "<link rel=\"stylesheet\" href=\"docs/swagger-ui.css\">\n</head>\n<body>\n"
        "<div id=\"swagger-ui\"></div>\n"
        "<script src=\"docs/swagger-ui-bundle.js\"></script>\n"
        "<script src=\"docs/rgs-init.js\"></script>\n</body>\n</html>\n";
    set_bytes(r, 200, "text/html; charset=utf-8", rgs_xstrdup(html), sizeof html - 1);
    snprintf(r->extra, sizeof r->extra,
             "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
             "style-src 'self' 'unsafe-inline'; script-src 'self'\r\n");
}

static void docs_asset(response *r, const char *name)
{
    if (strcmp(name, "rgs-init.js") == 0) {
        set_bytes(r, 200, "text/javascript; charset=utf-8", rgs_xstrdup(docs_init_js),
                  sizeof docs_init_js - 1);
        return;
    }
    static const struct { const char *name, *ctype; } assets[] = {
        {"swagger-ui.css", "text/css; charset=utf-8"},
        {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
        {"favicon-32x32.png", "image/png"},
        {"favicon-16x16.png", "image/png"},
    };
    const char *dir = swagger_dir();
    for (size_t i = 0; i < sizeof assets / sizeof *assets; i++) {
        if (strcmp(name, assets[i].name) != 0)
            continue;
        if (!dir)
            break;
        char *p = rgs_xasprintf("%s/%s", dir, name);
        rgs_buf b = RGS_BUF_INIT;
        int rc = rgs_read_file(AT_FDCWD, p, &b, (size_t)32 << 20);
        free(p);
        if (rc < 0) {
            rgs_buf_free(&b);
            set_error(r, 500, "Failed to read a Swagger UI asset");
            return;
        }
        size_t n;
        char *bytes = rgs_buf_steal(&b, &n);
        set_bytes(r, 200, assets[i].ctype, bytes, n);
        snprintf(r->extra, sizeof r->extra, "Cache-Control: public, max-age=86400\r\n");
        return;
    }
    set_error(r, 404, "Not found");
}

static void openapi(response *r)
{
    const char *dir = share_dir();
    rgs_buf b = RGS_BUF_INIT;
    char *p = dir ? rgs_xasprintf("%s/openapi.yaml", dir) : NULL;
    if (!p || rgs_read_file(AT_FDCWD, p, &b, (size_t)4 << 20) < 0) {
        rgs_warn("openapi.yaml '%s': %s", p ? p : "(not found; set RGS_SHARE_DIR)",
                 p ? strerror(errno) : "no share directory");
        free(p);
        rgs_buf_free(&b);
        set_error(r, 500, "Failed to read openapi.yaml");
        return;
    }
    free(p);
    size_t n;
    char *bytes = rgs_buf_steal(&b, &n);
    set_bytes(r, 200, "application/x-yaml", bytes, n);
    snprintf(r->extra, sizeof r->extra, "Content-Disposition: inline; filename=openapi.yaml\r\n");
}

/* ---- /health ----
 *
 * Unauthenticated, so it shows only what an operator needs to see that the
 * service works: the original's {"status":"healthy"} (or "degraded" while
 * batches fail, "unhealthy" and 503 when none has succeeded for the bound
 * rgs-server wrote into worker.json), the spool depth, the
 * worker's state and times, and per remote the last push result, its time
 * and the failure count.  Never ids (relay, folder, commit), remote names,
 * error texts, paths, versions or the authentication mode. */

/* status/<name> parsed, or NULL */
static json_t *status_file(const char *name)
{
    char *p = rgs_xasprintf("%s/status/%s", cfg.data_dir, name);
    rgs_buf b = RGS_BUF_INIT;
    json_t *v = NULL;
    if (rgs_read_file(AT_FDCWD, p, &b, (size_t)1 << 20) == 0) {
        v = json_loadb(b.data, b.len, 0, NULL);
        if (!json_is_object(v)) {
            rgs_debug("status file '%s': not a JSON object; left out of /health", p);
            json_decref(v);
            v = NULL;
        }
    }
    rgs_buf_free(&b);
    free(p);
    return v;
}

/* copy o[key] into out when it is a number (seconds) or null */
static void copy_time(json_t *out, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_number(v) || json_is_null(v))
        json_object_set(out, key, v);
}

/* copy o[key] into out when it is an integer >= 0 (a count) */
static void copy_count(json_t *out, const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        json_object_set(out, key, v);
}

/* copy o[key] into out when it is one of the strings in `allowed` */
static void copy_word(json_t *out, const json_t *o, const char *key, const char *const *allowed)
{
    const char *v = json_string_value(json_object_get(o, key));
    for (size_t i = 0; v && allowed[i]; i++)
        if (strcmp(v, allowed[i]) == 0) {
            json_object_set_new(out, key, json_string(v));
            return;
        }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the keys of an object, sorted (for a stable order that names nothing) */
static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **k = rgs_xcalloc(*n ? *n : 1, sizeof *k);
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) k[i++] = key;
    qsort(k, *n, sizeof *k, cmp_str);
    return k;
}

static void health(response *r)
{
    json_t *o = json_pack("{s:s}", "status", "healthy");
    long depth = rgs_spool_depth(cfg.data_dir);
    if (depth < 0)
        snprintf(r->note, sizeof r->note, "spool depth: %s", strerror(errno));
    json_object_set_new(o, "spool", json_pack("{s:o}", "depth",
                                              depth >= 0 ? json_integer(depth) : json_null()));
    /* status/worker.json (rgs-server) */
    int code = 200;
    json_t *w = status_file("worker.json");
    if (w) {
        static const char *const states[] = {"starting", "ok", "failed", "stopped", NULL};
        json_t *out = json_object();
        copy_word(out, w, "state", states);
        copy_time(out, w, "last_batch");
        copy_time(out, w, "last_success");
        copy_count(out, w, "failed_batches");
        json_t *fb = json_object_get(w, "failed_batches");
        /* The worker's honest state (rgs-server(1), HEALTH): batches that
         * fail make it "degraded"; when no batch has succeeded for
         * unhealthy_after seconds (since the last success, or since the
         * start) while they fail, "unhealthy" with 503 so that a health
         * check (Docker's HEALTHCHECK, a load balancer) sees it. */
        const char *st = json_string_value(json_object_get(w, "state"));
        if (st && strcmp(st, "failed") == 0 && json_is_integer(fb) && json_integer_value(fb) > 0) {
            json_object_set_new(o, "status", json_string("degraded"));
            json_t *ua = json_object_get(w, "unhealthy_after");
            json_t *since = json_object_get(w, "last_success");
            if (!json_is_number(since))
                since = json_object_get(w, "started");
            if (json_is_number(ua) && json_is_number(since) &&
                rgs_now() - json_number_value(since) >= json_number_value(ua)) {
                json_object_set_new(o, "status", json_string("unhealthy"));
                code = 503;
            }
        }
        json_object_set_new(o, "worker", out);
        json_decref(w);
    }
    /* status/push.json (rgs-commit): {"<relay>/<folder>": {"<remote>": {...}}} */
    json_t *p = status_file("push.json");
    if (p) {
        static const char *const results[] = {"ok", "up-to-date", "rebased", "rejected", "error", NULL};
        json_t *list = json_array();
        size_t nr, nm;
        const char **repos = sorted_keys(p, &nr);
        for (size_t i = 0; i < nr; i++) {
            json_t *remotes = json_object_get(p, repos[i]);
            if (!json_is_object(remotes))
                continue;
            const char **names = sorted_keys(remotes, &nm);
            for (size_t k = 0; k < nm; k++) {
                json_t *e = json_object_get(remotes, names[k]);
                if (!json_is_object(e))
                    continue;
                json_t *out = json_object();
                copy_word(out, e, "result", results);
                copy_time(out, e, "time");
                copy_count(out, e, "failures");
                json_array_append_new(list, out);
            }
            free(names);
        }
        free(repos);
        json_object_set_new(o, "push", list);
        json_decref(p);
    }
    set_json(r, code, o);
}

/* ---- /api/pubkey (relay.md §5.2) ---- */

static void pubkey(response *r)
{
    /* rgs-server derives the public key once at start and hands over only
     * that (RGS_SSH_PUBLIC_KEY, RGS_SSH_KEY_TYPE), so this internet-facing
     * process never holds the private key; run alone, it derives it itself */
    const char *pub = getenv("RGS_SSH_PUBLIC_KEY");
    if (pub && *pub) {
        const char *t = getenv("RGS_SSH_KEY_TYPE");
        set_json(r, 200, json_pack("{s:s,s:s}", "public_key", pub, "key_type", t && *t ? t : "unknown"));
        return;
    }
    const char *key = getenv("SSH_PRIVATE_KEY");
    if (!key || !*key) {
        set_error(r, 400, "SSH_PRIVATE_KEY environment variable not configured");
        return;
    }
    char *line = NULL, *type = NULL;
    if (rgs_sshkey_public(key, &line, &type) < 0) {
        char *msg = rgs_xasprintf("Failed to retrieve public key: %s", rgs_sshkey_error());
        set_error(r, 500, msg);
        free(msg);
        return;
    }
    set_json(r, 200, json_pack("{s:s,s:s}", "public_key", line, "key_type", type));
    free(line);
    free(type);
}

/* ---- POST /webhooks ---- */

static const char *get_header(void *ctx, const char *name, unsigned *count)
{
    return rgs_http_field_get(ctx, name, count);
}

static void webhook(response *r, const rgs_http_request *req)
{
    double now = rgs_now();
    rgs_webhook_auth auth;
    if (!rgs_webhook_authenticate(cfg.secret, get_header, (void *)req, req->body.data,
                                  req->body.len, now, cfg.tolerance, &auth)) {
        set_error(r, 401, auth.error);
        snprintf(r->note, sizeof r->note, "%s (auth mode %s)", auth.error,
                 rgs_webhook_auth_mode_name(cfg.mode));
        return;
    }
    json_t *rec = NULL;
    char why[300];
    enum rgs_envelope_result er =
        rgs_webhook_envelope(req->body.data, req->body.len, auth.method, now, &rec, why, sizeof why);
    if (er != RGS_ENVELOPE_OK) {
        set_error(r, 400,
                  er == RGS_ENVELOPE_BAD_JSON ? "Invalid JSON payload" : "Invalid webhook payload");
        snprintf(r->note, sizeof r->note, "%s", why);
        return;
    }
    const char *relay = json_string_value(json_object_get(rec, "relay"));
    const char *resource = json_string_value(json_object_get(rec, "resource"));
    if (cfg.dry_run) {
        set_json(r, 200, json_pack("{s:s}", "status", "received"));
        snprintf(r->note, sizeof r->note, "dry run, not spooled: %s/%s", relay, resource);
        json_decref(rec);
        return;
    }
    /* Svix / Standard Webhooks: a message id is stored once; a resend of a
     * stored one (its 200 was lost or late) gets 200 again, not stored
     * twice (Standard Webhooks, "Idempotency"); a resend racing with its
     * first copy waits until that copy is durable */
    rgs_replay_ticket ticket = {.fd = -1};
    if (auth.method && strcmp(auth.method, "svix") == 0) {
        int rc = rgs_replay_claim(cfg.data_dir, auth.msg_id, auth.timestamp, now, cfg.tolerance,
                                  cfg.timeout, &ticket);
        if (rc == 1) {
            set_json(r, 200, json_pack("{s:s}", "status", "received"));
            snprintf(r->note, sizeof r->note,
                     "%s/%s: message id already received and stored, not spooled again", relay,
                     resource);
            json_decref(rec);
            return;
        }
        if (rc == 2) {
            set_error(r, 503, "Service unavailable: the event is still being stored");
            snprintf(r->extra, sizeof r->extra, "Retry-After: 5\r\n");
            snprintf(r->note, sizeof r->note,
                     "message id being stored by another connection for over %.0f s", cfg.timeout);
            json_decref(rec);
            return;
        }
        if (rc < 0) {
            int e = errno;
            set_error(r, 503, "Service unavailable: the event could not be stored");
            snprintf(r->note, sizeof r->note, "replay cache in '%s/spool/seen': %s", cfg.data_dir,
                     strerror(e));
            json_decref(rec);
            return;
        }
    }
    char name[RGS_SPOOL_NAME_MAX];
    if (rgs_spool_put(cfg.data_dir, rec, name) < 0) {
        int e = errno;
        if (rgs_replay_release(&ticket) < 0)
            rgs_warn("replay cache in '%s/spool/seen': release: %s", cfg.data_dir, strerror(errno));
        set_error(r, 503, "Service unavailable: the event could not be stored");
        snprintf(r->note, sizeof r->note, "spool '%s/spool': %s", cfg.data_dir, strerror(e));
        json_decref(rec);
        return;
    }
    /* durable now: only from here on can a resend be answered 200 */
    if (rgs_replay_commit(&ticket) < 0)
        rgs_warn("replay cache in '%s/spool/seen': mark stored: %s (a resend may be spooled "
                 "again)", cfg.data_dir, strerror(errno));
    set_json(r, 200, json_pack("{s:s}", "status", "received"));
    snprintf(r->note, sizeof r->note, "%s/%s spooled as %s (%s)", relay, resource, name,
             auth.method);
    json_decref(rec);
}

/* ---- routing ---- */

static void route(response *r, const rgs_http_request *req, bool *head)
{
    const char *path = req->path;
    const char *m = req->method;
    bool get = strcmp(m, "GET") == 0;
    *head = strcmp(m, "HEAD") == 0;
    if (strcmp(path, "/webhooks") == 0) {
        if (strcmp(m, "POST") == 0) {
            webhook(r, req);
            return;
        }
        set_error(r, 405, "Method not allowed");
        snprintf(r->extra, sizeof r->extra, "Allow: POST\r\n");
        return;
    }
    bool known = strcmp(path, "/health") == 0 || strcmp(path, "/api/pubkey") == 0 ||
                 strcmp(path, "/openapi.yaml") == 0 || strcmp(path, "/docs") == 0 ||
                 strncmp(path, "/docs/", 6) == 0;
    if (!known) {
        set_error(r, 404, "Not found");
        return;
    }
    if (!get && !*head) {
        set_error(r, 405, "Method not allowed");
        snprintf(r->extra, sizeof r->extra, "Allow: GET, HEAD\r\n");
        return;
    }
    if (strcmp(path, "/health") == 0)
        health(r);
    else if (strcmp(path, "/api/pubkey") == 0)
        pubkey(r);
    else if (strcmp(path, "/openapi.yaml") == 0)
        openapi(r);
    else if (strcmp(path, "/docs") == 0)
        docs_page(r);
    else
        docs_asset(r, path + 6);
}

/* printable, bounded copy of an untrusted path for the log */
static void log_path(char *dst, size_t cap, const char *src)
{
    size_t k = 0;
    for (size_t i = 0; src[i] && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[k++] = c > 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    if (src[0] && k + 4 >= cap)
        memcpy(dst + k - 3, "...", 3);
    dst[k] = '\0';
}

static void log_request(const char *method, const char *path, const response *r, double t0)
{
    char p[120];
    log_path(p, sizeof p, path ? path : "");
    int level = r->status >= 500 ? RGS_ERROR : r->status >= 400 ? RGS_WARN : RGS_INFO;
    if (r->status == 404 || r->status == 405)
        level = RGS_INFO;
    rgs_msg(level, "%s %s %d '%s': %s%s%.1f ms", method, p[0] ? p : "-", r->status, cfg.peer,
            r->note, r->note[0] ? ", " : "", (rgs_mono() - t0) * 1000);
}

static void tune_socket(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on pipes */
    struct timeval tv = {30, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    set_peer();
    tune_socket(STDOUT_FILENO);

    set_pressure();
    rgs_http_conn *conn = rgs_http_conn_new(&cfg.lim);
    rgs_http_set_pressure(conn, cfg.pressure_fd, cfg.busy_idle);
    bool first = true;
    /* one client must not hold a connection slot for ever: at most
     * --max-requests requests and --max-lifetime seconds per connection */
    double born = rgs_mono();
    unsigned long served = 0;
    for (;;) {
        double idle = first ? cfg.timeout : cfg.idle;
        double left = born + cfg.lifetime - rgs_mono();
        if (!first && left < idle)
            idle = left; /* no new request after the lifetime: close when it is over */
        int rc = rgs_http_read_request(conn, STDIN_FILENO, STDOUT_FILENO, idle, cfg.timeout);
        double t0 = rgs_mono();
        response r = {0};
        if (rc == 0) /* closed by the peer, or idle: close quietly */
            break;
        if (rc < 0) {
            int st = rgs_http_error_status(conn);
            const char *text = st == 408   ? "Request timeout"
                               : st == 413 ? "Request body too large"
                               : st == 414 ? "Request-target too long"
                               : st == 417 ? "Expectation failed"
                               : st == 431 ? "Request header fields too large"
                               : st == 501 ? "Not implemented"
                               : st == 505 ? "HTTP version not supported"
                                           : "Bad request";
            set_error(&r, st ? st : 400, text);
            r.close = true;
            snprintf(r.note, sizeof r.note, "%s", rgs_http_error_text(conn));
            rgs_http_respond(STDOUT_FILENO, r.status, r.ctype, NULL, r.body, r.len, false, false);
            log_request("-", "", &r, t0);
            free(r.body);
            break;
        }
        first = false;
        served++;
        const rgs_http_request *req = rgs_http_request_of(conn);
        bool head = false;
        route(&r, req, &head);
        /* close after this answer: the client asked, the connection has
         * had its share (requests, lifetime), or the listener is near its
         * limit (rgs-accept): others wait for a slot in its listen queue */
        bool keep = req->keep_alive && !r.close && served < cfg.max_requests &&
                    rgs_mono() - born < cfg.lifetime && !rgs_http_pressure(conn);
        char extra[640];
        snprintf(extra, sizeof extra, "X-Content-Type-Options: nosniff\r\n%s", r.extra);
        int wrc = rgs_http_respond(STDOUT_FILENO, r.status, r.ctype, extra, r.body, r.len, head,
                                   keep);
        log_request(req->method, req->path, &r, t0);
        free(r.body);
        if (cfg.mode == RGS_AUTH_SVIX && !cfg.dry_run) /* the response is out: tidy up */
            rgs_replay_prune(cfg.data_dir, rgs_now(), cfg.tolerance);
        if (wrc < 0 || !keep)
            break;
        rgs_http_next(conn);
    }
    rgs_http_conn_free(conn);
    explicit_bzero(cfg.secret, strlen(cfg.secret));
    free(cfg.secret);
    return RGS_EX_OK;
}
