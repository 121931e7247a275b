/* rgs_httpd: see rgs_httpd.h. */
#include "rgs_httpd.h"

#include <errno.h>
#include <http_parser.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum { CB_NONE, CB_FIELD, CB_VALUE };

struct rgs_http_conn {
    http_parser parser;
    http_parser_settings settings;
    rgs_http_limits lim;
    rgs_http_request req;
    size_t fields_cap;
    rgs_buf target;
    rgs_buf name, value;
    int last_cb;
    size_t header_bytes;
    bool started, headers_done, complete, expect_continue, continue_sent;
    int err_status;
    char err_text[160];
    rgs_buf pending;    /* bytes read but not yet parsed */
    size_t pending_off; /* parsed prefix of pending */
    /* the line-ending check of the framing bytes (everything but body
     * data), see scan_framing() */
    const char *feed_base; /* the buffer rgs_http_feed is parsing */
    size_t scan_pos;       /* offset in it up to which bytes were checked or are body */
    bool prev_cr;          /* the last framing byte was CR */
    size_t line_len;       /* bytes in the current framing line so far */
    size_t lines;          /* non-empty framing lines of this request so far */
    int expect_crlf;       /* after a chunk's data: 2 = CR LF must follow, 1 = LF */
    int pressure_fd;       /* readable while the listener is near its limit; -1 none */
    double busy_idle;      /* idle seconds allowed under pressure */
};

static int fail(rgs_http_conn *c, int status, const char *text)
{
    if (!c->err_status) {
        c->err_status = status;
        snprintf(c->err_text, sizeof c->err_text, "%s", text);
    }
    return 1; /* makes http_parser stop with HPE_CB_* */
}

/* RFC 9110 §5.6.2: field names are tokens */
static bool is_token(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch > 0x20 && ch < 0x7f) || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return true;
}

/* RFC 9110 §5.5: leading and trailing SP / HTAB are not part of a field
 * value (http_parser drops the leading ones) */
static void trim_value(rgs_buf *v)
{
    while (v->len && (v->data[v->len - 1] == ' ' || v->data[v->len - 1] == '\t'))
        v->len--;
    if (v->data)
        v->data[v->len] = '\0';
}

static int commit_field(rgs_http_conn *c)
{
    if (c->last_cb == CB_NONE)
        return 0;
    c->last_cb = CB_NONE;
    if (c->headers_done) { /* a trailer field: counted, not kept */
        rgs_buf_reset(&c->name);
        rgs_buf_reset(&c->value);
        return 0;
    }
    if (!is_token(c->name.data ? c->name.data : "", c->name.len))
        return fail(c, 400, "invalid header field name");
    if (c->req.n_fields >= c->lim.max_headers)
        return fail(c, 431, "too many header fields");
    if (c->req.n_fields == c->fields_cap) {
        c->fields_cap = c->fields_cap ? c->fields_cap * 2 : 16;
        c->req.fields = rgs_xrealloc(c->req.fields, c->fields_cap * sizeof *c->req.fields);
    }
    rgs_http_field *f = &c->req.fields[c->req.n_fields++];
    trim_value(&c->value);
    f->name = rgs_buf_steal(&c->name, NULL);
    f->value = rgs_buf_steal(&c->value, &f->value_len);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    rgs_http_conn *c = p->data;
    c->started = true;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    rgs_http_conn *c = p->data;
    c->started = true;
    if (c->target.len + n > c->lim.max_target)
        return fail(c, 414, "request-target too long");
    rgs_buf_append(&c->target, at, n);
    return 0;
}

static int count_header_bytes(rgs_http_conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->lim.max_header_bytes)
        return fail(c, 431, "header section too large");
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    rgs_http_conn *c = p->data;
    if (c->last_cb == CB_VALUE && commit_field(c))
        return 1;
    if (count_header_bytes(c, n))
        return 1;
    c->last_cb = CB_FIELD;
    rgs_buf_append(&c->name, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    rgs_http_conn *c = p->data;
    if (count_header_bytes(c, n))
        return 1;
    if (c->last_cb == CB_NONE) /* value without a name cannot happen; be safe */
        return fail(c, 400, "header value without a name");
    c->last_cb = CB_VALUE;
    rgs_buf_append(&c->value, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    rgs_http_conn *c = p->data;
    if (commit_field(c))
        return 1;
    c->headers_done = true;
    c->req.http_major = p->http_major;
    c->req.http_minor = p->http_minor;
    if (p->http_major != 1)
        return fail(c, 505, "HTTP version not supported");
    unsigned hosts = 0;
    rgs_http_field_get(&c->req, "host", &hosts);
    if (p->http_minor >= 1 && hosts != 1)
        return fail(c, 400, hosts ? "more than one Host field" : "no Host field");
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->lim.max_body)
        return fail(c, 413, "body larger than the limit");
    unsigned n_expect = 0;
    const char *expect = rgs_http_field_get(&c->req, "expect", &n_expect);
    if (expect) {
        if (n_expect == 1 && strcasecmp(expect, "100-continue") == 0)
            c->expect_continue = p->http_minor >= 1;
        else
            return fail(c, 417, "unsupported expectation");
    }
    c->req.chunked = (p->flags & F_CHUNKED) != 0;
    return 0;
}

/* scan_framing: check `n` framing bytes (request line, header and trailer
 * fields, chunk-size lines, the CRLF after chunk data; never body data).
 * RFC 9112 §2.2: lines end in CRLF; a bare LF is refused (the RFC lets a
 * server accept it, but a proxy in front that does not would frame the
 * message differently: request smuggling), so is a CR without LF.
 * RFC 9112 §5.2: obsolete line folding (a field line starting with SP or
 * HTAB) is refused with 400; §2.2 the same for whitespace between the
 * request line and the first field.  §7.1: chunk data is followed by CRLF
 * (libhttp-parser, built non-strict, would take any two bytes).
 * Returns 0, or fail()'s 1. */
static int scan_framing(rgs_http_conn *c, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (c->expect_crlf) {
            if (ch != (c->expect_crlf == 2 ? '\r' : '\n'))
                return fail(c, 400, "chunk data not followed by CRLF");
            if (--c->expect_crlf == 0) {
                c->prev_cr = false;
                c->line_len = 0;
            }
            continue;
        }
        if (c->prev_cr) {
            if (ch != '\n')
                return fail(c, 400, "CR not followed by LF");
            c->prev_cr = false;
            if (c->line_len)
                c->lines++;
            c->line_len = 0;
            continue;
        }
        if (ch == '\r') {
            c->prev_cr = true;
            continue;
        }
        if (ch == '\n')
            return fail(c, 400, "bare LF line ending (CRLF required)");
        if (c->line_len == 0 && c->lines > 0 && (ch == ' ' || ch == '\t'))
            return fail(c, 400, "obsolete line folding (a field line starts with whitespace)");
        c->line_len++;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    rgs_http_conn *c = p->data;
    /* the framing bytes before this piece of data */
    size_t off = (size_t)(at - c->feed_base);
    if (off > c->scan_pos && scan_framing(c, c->feed_base + c->scan_pos, off - c->scan_pos))
        return 1;
    c->scan_pos = off + n;
    if ((p->flags & F_CHUNKED) && p->content_length == 0)
        c->expect_crlf = 2; /* the end of this chunk's data */
    if (c->req.body.len + n > c->lim.max_body)
        return fail(c, 413, "body larger than the limit");
    rgs_buf_append(&c->req.body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    rgs_http_conn *c = p->data;
    if (commit_field(c)) /* a trailer field still open */
        return 1;
    rgs_http_request *r = &c->req;
    r->method_id = p->method;
    r->method = http_method_str((enum http_method)p->method);
    r->keep_alive = http_should_keep_alive(p) != 0;
    rgs_buf_reserve(&r->body, 0); /* body.data is never NULL */
    rgs_buf_reserve(&c->target, 0);
    r->target = c->target.data;
    struct http_parser_url u;
    http_parser_url_init(&u);
    if (http_parser_parse_url(c->target.data, c->target.len, p->method == HTTP_CONNECT, &u) != 0)
        return fail(c, 400, "invalid request-target");
    if (u.field_set & (1 << UF_PATH))
        r->path = rgs_xstrndup(c->target.data + u.field_data[UF_PATH].off,
                               u.field_data[UF_PATH].len);
    else
        r->path = rgs_xstrdup("");
    c->complete = true;
    http_parser_pause(p, 1);
    return 0;
}

static void conn_reset(rgs_http_conn *c)
{
    rgs_http_request *r = &c->req;
    for (size_t i = 0; i < r->n_fields; i++) {
        free(r->fields[i].name);
        free(r->fields[i].value);
    }
    r->n_fields = 0;
    free(r->path);
    r->path = NULL;
    r->target = NULL;
    rgs_buf_reset(&r->body);
    if (r->body.cap > ((size_t)256 << 10)) /* don't keep a large body buffer around */
        rgs_buf_free(&r->body);
    r->keep_alive = r->chunked = false;
    rgs_buf_reset(&c->target);
    rgs_buf_reset(&c->name);
    rgs_buf_reset(&c->value);
    c->last_cb = CB_NONE;
    c->header_bytes = 0;
    c->started = c->headers_done = c->complete = false;
    c->expect_continue = c->continue_sent = false;
    c->feed_base = NULL;
    c->scan_pos = 0;
    c->prev_cr = false;
    c->line_len = c->lines = 0;
    c->expect_crlf = 0;
    c->err_status = 0;
    c->err_text[0] = '\0';
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
}

rgs_http_conn *rgs_http_conn_new(const rgs_http_limits *lim)
{
    rgs_http_conn *c = rgs_xcalloc(1, sizeof *c);
    if (lim)
        c->lim = *lim;
    if (!c->lim.max_target)
        c->lim.max_target = RGS_HTTP_DEFAULT_MAX_TARGET;
    if (!c->lim.max_header_bytes)
        c->lim.max_header_bytes = RGS_HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (!c->lim.max_headers)
        c->lim.max_headers = RGS_HTTP_DEFAULT_MAX_HEADERS;
    if (!c->lim.max_body)
        c->lim.max_body = RGS_HTTP_DEFAULT_MAX_BODY;
    http_parser_settings_init(&c->settings);
    c->settings.on_message_begin = on_message_begin;
    c->settings.on_url = on_url;
    c->settings.on_header_field = on_header_field;
    c->settings.on_header_value = on_header_value;
    c->settings.on_headers_complete = on_headers_complete;
    c->settings.on_body = on_body;
    c->settings.on_message_complete = on_message_complete;
    c->pressure_fd = -1;
    conn_reset(c);
    return c;
}

void rgs_http_conn_free(rgs_http_conn *c)
{
    if (!c)
        return;
    conn_reset(c);
    free(c->req.fields);
    rgs_buf_free(&c->req.body);
    rgs_buf_free(&c->target);
    rgs_buf_free(&c->name);
    rgs_buf_free(&c->value);
    rgs_buf_free(&c->pending);
    free(c);
}

static int parser_error_status(enum http_errno e)
{
    switch (e) {
    case HPE_HEADER_OVERFLOW: return 431;
    case HPE_INVALID_TRANSFER_ENCODING: return 501;
    default: return 400;
    }
}

int rgs_http_feed(rgs_http_conn *c, const char *p, size_t n, size_t *used)
{
    if (used)
        *used = 0;
    if (c->err_status)
        return RGS_HTTP_ERROR;
    if (c->complete)
        return RGS_HTTP_DONE;
    if (n == 0)
        return RGS_HTTP_MORE;
    c->started = true;
    c->feed_base = p;
    c->scan_pos = 0;
    size_t k = http_parser_execute(&c->parser, &c->settings, p, n);
    if (used)
        *used = k;
    /* the framing bytes after the last piece of body data */
    if (!c->err_status && k > c->scan_pos)
        scan_framing(c, p + c->scan_pos, k - c->scan_pos);
    c->feed_base = NULL;
    if (c->err_status)
        return RGS_HTTP_ERROR;
    if (c->complete)
        return RGS_HTTP_DONE;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e != HPE_OK) {
        fail(c, parser_error_status(e), http_errno_description(e));
        return RGS_HTTP_ERROR;
    }
    if (k != n) {
        fail(c, 400, "unparsed bytes");
        return RGS_HTTP_ERROR;
    }
    return RGS_HTTP_MORE;
}

int rgs_http_feed_eof(rgs_http_conn *c)
{
    if (c->err_status)
        return RGS_HTTP_ERROR;
    if (c->complete)
        return RGS_HTTP_DONE;
    if (!c->started)
        return RGS_HTTP_MORE;
    fail(c, 400, "connection closed before the request was complete");
    return RGS_HTTP_ERROR;
}

const rgs_http_request *rgs_http_request_of(const rgs_http_conn *c)
{
    return c->complete && !c->err_status ? &c->req : NULL;
}

int rgs_http_error_status(const rgs_http_conn *c) { return c->err_status; }
const char *rgs_http_error_text(const rgs_http_conn *c) { return c->err_text; }
bool rgs_http_started(const rgs_http_conn *c) { return c->started; }

bool rgs_http_wants_continue(const rgs_http_conn *c)
{
    return c->headers_done && c->expect_continue && !c->continue_sent && !c->complete &&
           !c->err_status;
}

void rgs_http_next(rgs_http_conn *c) { conn_reset(c); }

const char *rgs_http_field_get(const rgs_http_request *r, const char *name, unsigned *count)
{
    const char *v = NULL;
    unsigned k = 0;
    for (size_t i = 0; i < r->n_fields; i++) {
        if (strcasecmp(r->fields[i].name, name) == 0) {
            if (!v)
                v = r->fields[i].value;
            k++;
        }
    }
    if (count)
        *count = k;
    return v;
}

/* feed the buffered bytes; returns MORE/DONE/ERROR */
static int feed_pending(rgs_http_conn *c)
{
    size_t avail = c->pending.len - c->pending_off;
    if (!avail)
        return RGS_HTTP_MORE;
    size_t used = 0;
    int r = rgs_http_feed(c, c->pending.data + c->pending_off, avail, &used);
    c->pending_off += used;
    if (c->pending_off == c->pending.len) {
        rgs_buf_reset(&c->pending);
        c->pending_off = 0;
    }
    return r;
}

void rgs_http_set_pressure(rgs_http_conn *c, int fd, double busy_idle)
{
    c->pressure_fd = fd;
    c->busy_idle = busy_idle;
}

bool rgs_http_pressure(const rgs_http_conn *c)
{
    if (c->pressure_fd < 0)
        return false;
    struct pollfd p = {.fd = c->pressure_fd, .events = POLLIN};
    /* readable: the byte the listener keeps there; POLLHUP: the listener
     * is gone (stopping): both mean close idle connections early */
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int rgs_http_read_request(rgs_http_conn *c, int in_fd, int out_fd, double idle_timeout,
                          double request_timeout)
{
    double start = rgs_mono();
    double idle_deadline = start + idle_timeout;
    double req_deadline = 0;
    for (;;) {
        int r = feed_pending(c);
        if (r == RGS_HTTP_DONE)
            return 1;
        if (r == RGS_HTTP_ERROR)
            return -1;
        if (c->started && req_deadline == 0)
            req_deadline = rgs_mono() + request_timeout;
        if (rgs_http_wants_continue(c)) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            if (rgs_write_all(out_fd, cont, sizeof cont - 1) < 0)
                return 0; /* the peer is gone */
            c->continue_sent = true;
        }
        /* waiting for a request's first byte: under pressure only
         * busy_idle seconds; otherwise also wake when pressure begins */
        bool watch = false;
        double deadline = req_deadline;
        if (!c->started) {
            deadline = idle_deadline;
            if (rgs_http_pressure(c)) {
                if (start + c->busy_idle < deadline)
                    deadline = start + c->busy_idle;
            } else {
                watch = c->pressure_fd >= 0;
            }
        }
        double left = deadline - rgs_mono();
        if (left <= 0) {
            if (!c->started)
                return 0;
            fail(c, 408, "request not complete within the read deadline");
            return -1;
        }
        struct pollfd pfd[2] = {{.fd = in_fd, .events = POLLIN}, {.fd = c->pressure_fd, .events = POLLIN}};
        int pr = poll(pfd, watch ? 2 : 1, (int)(left * 1000) + 1);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            fail(c, 400, "poll failed");
            return -1;
        }
        if (pr == 0 || !pfd[0].revents)
            continue; /* the deadline or the pressure: checked above */
        if (c->pending_off) { /* compact */
            memmove(c->pending.data, c->pending.data + c->pending_off,
                    c->pending.len - c->pending_off);
            c->pending.len -= c->pending_off;
            c->pending_off = 0;
        }
        rgs_buf_reserve(&c->pending, 16384);
        ssize_t got = read(in_fd, c->pending.data + c->pending.len, 16384);
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return 0; /* reset by peer: nobody to answer */
        }
        if (got == 0) {
            r = rgs_http_feed_eof(c);
            return r == RGS_HTTP_ERROR ? -1 : r == RGS_HTTP_DONE ? 1 : 0;
        }
        c->pending.len += (size_t)got;
        c->pending.data[c->pending.len] = '\0';
    }
}

const char *rgs_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static int writev_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t w = writev(fd, iov, cnt);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        size_t left = (size_t)w;
        while (cnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int rgs_http_respond(int fd, int status, const char *ctype, const char *extra_headers,
                     const void *body, size_t n, bool head_only, bool keep_alive)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    rgs_buf h = RGS_BUF_INIT;
    rgs_buf_printf(&h, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, rgs_http_reason(status), date);
    if (ctype)
        rgs_buf_printf(&h, "Content-Type: %s\r\n", ctype);
    rgs_buf_printf(&h, "Content-Length: %zu\r\nConnection: %s\r\n", n,
                   keep_alive ? "keep-alive" : "close");
    if (extra_headers)
        rgs_buf_puts(&h, extra_headers);
    rgs_buf_puts(&h, "\r\n");
    struct iovec iov[2] = {{h.data, h.len}, {(void *)body, head_only ? 0 : n}};
    int rc = writev_all(fd, iov, head_only || n == 0 ? 1 : 2);
    int saved = errno;
    rgs_buf_free(&h);
    errno = saved;
    return rc;
}
