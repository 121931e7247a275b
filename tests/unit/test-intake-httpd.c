/* Unit tests for rgs_httpd (lib/rgs_httpd.h): the request parser with its
 * limits, fed whole, byte by byte and pipelined; and the connection layer
 * over a socketpair (deadline, 100-continue).  TAP output.
 * Truth: RFC 9112 framing (Content-Length, chunked, keep-alive rules of
 * §9.3) and RFC 9110 status codes; the wire format of curl, wrk and
 * reqwest is exercised end to end in tests/intake/. */
#include "rgs_httpd.h"
#include "rgs_util.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"


/* feed all at once; returns result, sets status */
static int feed_all(rgs_http_conn *c, const char *s, size_t n, size_t *used)
{
    return rgs_http_feed(c, s, n, used);
}

/* feed one byte at a time */
static int feed_bytes(rgs_http_conn *c, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t u;
        int r = rgs_http_feed(c, s + i, 1, &u);
        if (r != RGS_HTTP_MORE)
            return r;
    }
    return RGS_HTTP_MORE;
}

#define REQ_POST                                                                                 \
    "POST /webhooks?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"             \
    "Content-Length: 5\r\n\r\nhello"

static void test_basic(void)
{
    rgs_http_conn *c = rgs_http_conn_new(NULL);
    size_t used = 0;
    const char *s = REQ_POST;
    ok(feed_all(c, s, strlen(s), &used) == RGS_HTTP_DONE && used == strlen(s), "POST parsed");
    const rgs_http_request *r = rgs_http_request_of(c);
    ok(r && !strcmp(r->method, "POST") && !strcmp(r->path, "/webhooks") &&
           !strcmp(r->target, "/webhooks?x=1") && r->http_major == 1 && r->http_minor == 1,
       "method, path without query, target");
    ok(r && r->body.len == 5 && !memcmp(r->body.data, "hello", 5) && r->keep_alive && !r->chunked,
       "body and keep-alive");
    unsigned cnt = 0;
    ok(r && !strcmp(rgs_http_field_get(r, "CONTENT-type", &cnt), "application/json") && cnt == 1,
       "header lookup is case-insensitive");
    rgs_http_next(c);
    ok(rgs_http_request_of(c) == NULL && !rgs_http_started(c), "next: fresh state");

    /* byte by byte */
    ok(feed_bytes(c, s, strlen(s) - 1) == RGS_HTTP_MORE, "byte by byte: not done before the last byte");
    ok(rgs_http_feed(c, s + strlen(s) - 1, 1, &used) == RGS_HTTP_DONE && used == 1,
       "byte by byte: done on the last byte");
    ok(rgs_http_request_of(c)->body.len == 5, "byte by byte: body");
    rgs_http_next(c);

    /* pipelined: two requests in one buffer */
    const char *two = "GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /docs HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    ok(feed_all(c, two, strlen(two), &used) == RGS_HTTP_DONE && used == 33 &&
           !strcmp(rgs_http_request_of(c)->path, "/health"),
       "pipelined: first request, rest left over");
    rgs_http_next(c);
    ok(feed_all(c, two + used, strlen(two) - used, NULL) == RGS_HTTP_DONE &&
           !strcmp(rgs_http_request_of(c)->path, "/docs") && !rgs_http_request_of(c)->keep_alive,
       "pipelined: second request, Connection: close honoured");
    rgs_http_next(c);

    const char *h10 = "GET /health HTTP/1.0\r\n\r\n";
    ok(feed_all(c, h10, strlen(h10), NULL) == RGS_HTTP_DONE && !rgs_http_request_of(c)->keep_alive,
       "HTTP/1.0 without keep-alive closes (no Host needed)");
    rgs_http_next(c);
    const char *h10k = "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    ok(feed_all(c, h10k, strlen(h10k), NULL) == RGS_HTTP_DONE && rgs_http_request_of(c)->keep_alive,
       "HTTP/1.0 with keep-alive stays open");
    rgs_http_next(c);

    const char *ch = "POST /webhooks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer-X: 1\r\n\r\n";
    ok(feed_bytes(c, ch, strlen(ch) - 1) == RGS_HTTP_MORE &&
           rgs_http_feed(c, ch + strlen(ch) - 1, 1, NULL) == RGS_HTTP_DONE,
       "chunked body, byte by byte");
    r = rgs_http_request_of(c);
    ok(r && r->chunked && r->body.len == 7 && !memcmp(r->body.data, "abcdefg", 7) &&
           !rgs_http_field_get(r, "trailer-x", NULL),
       "chunked body decoded, trailer not mixed into the headers");
    rgs_http_next(c);

    const char *abs = "GET http://example.com/health?q HTTP/1.1\r\nHost: example.com\r\n\r\n";
    ok(feed_all(c, abs, strlen(abs), NULL) == RGS_HTTP_DONE && !strcmp(rgs_http_request_of(c)->path, "/health"),
       "absolute-form target: path extracted");
    rgs_http_next(c);

    ok(rgs_http_feed_eof(c) == RGS_HTTP_MORE, "EOF before any byte is a clean close");
    feed_all(c, "GET /hea", 8, NULL);
    ok(rgs_http_feed_eof(c) == RGS_HTTP_ERROR && rgs_http_error_status(c) == 400,
       "EOF in the middle of a request: 400");
    rgs_http_conn_free(c);
}

static int status_of(const char *req, size_t n, const rgs_http_limits *lim)
{
    rgs_http_conn *c = rgs_http_conn_new(lim);
    int r = rgs_http_feed(c, req, n, NULL);
    int st = r == RGS_HTTP_ERROR ? rgs_http_error_status(c) : r == RGS_HTTP_DONE ? 200 : 0;
    if (r == RGS_HTTP_MORE && rgs_http_feed_eof(c) == RGS_HTTP_ERROR)
        st = -rgs_http_error_status(c); /* negative: only at EOF */
    rgs_http_conn_free(c);
    return st;
}

static void test_errors(void)
{
    struct { const char *req; int want; const char *name; } cases[] = {
        {"GARBAGE\r\n\r\n", 400, "garbage request line"},
        {"GET /health HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"},
        {"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Host fields"},
        {"GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 505, "HTTP/2.0 request line"},
        {"GET /health HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400, "space in a field name"},
        {"GET /health HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400, "control character in a value"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400, "Content-Length not a number"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400, "negative Content-Length"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400,
         "two different Content-Lengths"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
         "Content-Length with chunked (smuggling)"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unknown transfer coding"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad chunk size"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n", 413, "huge Content-Length"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417, "unknown expectation"},
        {"POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", -400, "truncated body"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = status_of(cases[i].req, strlen(cases[i].req), NULL);
        char name[160];
        snprintf(name, sizeof name, "%s -> %d", cases[i].name, cases[i].want);
        ok(st == cases[i].want, name);
        if (st != cases[i].want)
            printf("# got %d\n", st);
    }
    static const char nul[] = "GET /hea\0lth HTTP/1.1\r\nHost: a\r\n\r\n";
    ok(status_of(nul, sizeof nul - 1, NULL) == 400, "NUL in the request-target -> 400");
    static const char nulh[] = "GET /health HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n";
    ok(status_of(nulh, sizeof nulh - 1, NULL) == 400, "NUL in a header value -> 400");

    rgs_http_limits lim = {.max_body = 10, .max_headers = 3, .max_header_bytes = 100, .max_target = 20};
    const char *cl11 = "POST /w HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    ok(status_of(cl11, strlen(cl11), &lim) == 413,
       "Content-Length over the limit -> 413 before the body");
    const char *chunked_big = "POST /w HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n";
    ok(status_of(chunked_big, strlen(chunked_big), &lim) == 413, "chunked body over the limit -> 413");
    ok(status_of("GET /aaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", 50, &lim) == 414,
       "long request-target -> 414");
    const char *many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    ok(status_of(many, strlen(many), &lim) == 431, "too many fields -> 431");
    rgs_buf b = RGS_BUF_INIT;
    rgs_buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    for (int i = 0; i < 200; i++)
        rgs_buf_putc(&b, 'x');
    rgs_buf_puts(&b, "\r\n\r\n");
    ok(status_of(b.data, b.len, &lim) == 431, "header bytes over the limit -> 431");
    rgs_buf_reset(&b);
    rgs_buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    for (int i = 0; i < 200000; i++)
        rgs_buf_putc(&b, 'x');
    rgs_buf_puts(&b, "\r\n\r\n");
    ok(status_of(b.data, b.len, NULL) == 431, "200 kB header with default limits -> 431");
    rgs_buf_free(&b);
    const char *cl10 = "POST /w HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789";
    ok(status_of(cl10, strlen(cl10), &lim) == 200,
       "body exactly at the limit accepted");
}

/* status of `req` fed whole, and fed one byte at a time (must agree) */
static int status_both(const char *req, size_t n, bool *same)
{
    int whole = status_of(req, n, NULL);
    rgs_http_conn *c = rgs_http_conn_new(NULL);
    int r = feed_bytes(c, req, n);
    int bytes = r == RGS_HTTP_ERROR ? rgs_http_error_status(c) : r == RGS_HTTP_MORE ? 0 : 200;
    if (r == RGS_HTTP_MORE) { /* the last byte completed the request */
        rgs_http_conn_free(c);
        c = rgs_http_conn_new(NULL);
        r = feed_bytes(c, req, n - 1);
        if (r == RGS_HTTP_MORE)
            r = rgs_http_feed(c, req + n - 1, 1, NULL);
        bytes = r == RGS_HTTP_ERROR ? rgs_http_error_status(c) : r == RGS_HTTP_DONE ? 200 : 0;
    }
    rgs_http_conn_free(c);
    *same = whole == bytes;
    return whole;
}

/* RFC 9110 §5.5 (value whitespace), RFC 9112 §2.2 (CRLF, bare LF), §5.2
 * (obs-fold), §7.1 (chunk framing) */
static void test_lines(void)
{
    rgs_http_conn *c = rgs_http_conn_new(NULL);
    const char *tw = "POST /webhooks HTTP/1.1\r\nHost: a \r\nAuthorization: Bearer s3cret \t \r\n"
                     "X-Empty:   \r\nX-Inner: a  b\t\r\nContent-Length: 0\r\n\r\n";
    ok(feed_all(c, tw, strlen(tw), NULL) == RGS_HTTP_DONE, "trailing whitespace: request parsed");
    const rgs_http_request *r = rgs_http_request_of(c);
    const char *auth = r ? rgs_http_field_get(r, "authorization", NULL) : NULL;
    ok(auth && !strcmp(auth, "Bearer s3cret"), "trailing SP and HTAB are not part of the value");
    size_t alen = 0;
    for (size_t i = 0; r && i < r->n_fields; i++)
        if (!strcmp(r->fields[i].name, "Authorization"))
            alen = r->fields[i].value_len;
    ok(alen == 13, "value_len counts the trimmed value");
    ok(r && !strcmp(rgs_http_field_get(r, "host", NULL), "a") &&
           !strcmp(rgs_http_field_get(r, "x-empty", NULL), "") &&
           !strcmp(rgs_http_field_get(r, "x-inner", NULL), "a  b"),
       "whitespace-only value is empty; inner whitespace kept");
    rgs_http_next(c);
    ok(feed_bytes(c, tw, strlen(tw) - 1) == RGS_HTTP_MORE &&
           rgs_http_feed(c, tw + strlen(tw) - 1, 1, NULL) == RGS_HTTP_DONE &&
           !strcmp(rgs_http_field_get(rgs_http_request_of(c), "authorization", NULL), "Bearer s3cret"),
       "trailing whitespace trimmed when fed byte by byte");
    rgs_http_conn_free(c);

    struct { const char *req; int want; const char *name; } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400, "obs-fold with SP"},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\nY: c\r\n\r\n", 400, "obs-fold with HTAB"},
        {"POST / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer\r\n s3cret\r\nContent-Length: 0\r\n\r\n", 400,
         "obs-fold inside Authorization"},
        {"GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400, "whitespace before the first field"},
        {"GET / HTTP/1.1\nHost: a\n\n", 400, "bare LF line ends"},
        {"GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400, "one bare LF among CRLFs"},
        {"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, "bare LF as the empty line"},
        {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400, "bare LF after the request line"},
        {"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", 400, "CR without LF"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n", 400,
         "chunk data followed by two other bytes than CRLF"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", 400,
         "chunk data followed by a bare LF"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n0\r\n\r\n", 400,
         "bare LF in a chunk extension"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\n", 400,
         "bare LF ends the chunked message"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\nU: 2\r\n\r\n", 400,
         "bare LF in the trailer section"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n 2\r\n\r\n", 400,
         "obs-fold in the trailer section"},
        {"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 200, "empty lines before the request line (RFC 9112 §2.2)"},
        {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\na\nb\r c\n", 200, "LF and CR in a body are data"},
        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\na\n\r\n\r\n3\r\n \tb\r\n0\r\nT: 1\r\n\r\n",
         200, "line ends and whitespace inside chunk data are data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        bool same = false;
        int st = status_both(cases[i].req, strlen(cases[i].req), &same);
        char name[200];
        snprintf(name, sizeof name, "%s -> %d (whole and byte by byte)", cases[i].name, cases[i].want);
        ok(st == cases[i].want && same, name);
        if (st != cases[i].want || !same)
            printf("# got %d%s\n", st, same ? "" : ", byte by byte differs");
    }

    /* a pipelined second request after a chunked one is checked afresh */
    c = rgs_http_conn_new(NULL);
    const char *two = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
                      "GET /health HTTP/1.1\nHost: a\n\n";
    size_t used = 0;
    ok(feed_all(c, two, strlen(two), &used) == RGS_HTTP_DONE && rgs_http_request_of(c)->body.len == 1,
       "pipelined: the chunked request passes");
    rgs_http_next(c);
    ok(feed_all(c, two + used, strlen(two) - used, NULL) == RGS_HTTP_ERROR &&
           rgs_http_error_status(c) == 400,
       "pipelined: the bare-LF request after it -> 400");
    rgs_http_conn_free(c);
}

static void test_io(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        ok(0, "socketpair");
        return;
    }
    rgs_http_conn *c = rgs_http_conn_new(NULL);
    /* 100-continue: the client waits for it before sending the body */
    const char *hdr = "POST /webhooks HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
    rgs_write_all(sv[1], hdr, strlen(hdr));
    pid_t p = fork();
    if (p == 0) {
        char buf[64] = {0};
        struct pollfd pfd = {sv[1], POLLIN, 0};
        if (poll(&pfd, 1, 5000) == 1 && read(sv[1], buf, sizeof buf - 1) > 0 &&
            !strcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n"))
            rgs_write_all(sv[1], "body", 4);
        _exit(0);
    }
    int r = rgs_http_read_request(c, sv[0], sv[0], 5, 5);
    ok(r == 1 && rgs_http_request_of(c)->body.len == 4, "100 Continue sent, then the body arrives");
    waitpid(p, NULL, 0);
    rgs_http_next(c);

    /* a slow client: half a request, then nothing -> 408 after the deadline */
    rgs_write_all(sv[1], "GET /health HTTP/1.1\r\nHo", 24);
    double t0 = rgs_mono();
    r = rgs_http_read_request(c, sv[0], sv[0], 5, 0.3);
    ok(r == -1 && rgs_http_error_status(c) == 408, "incomplete request past the deadline -> 408");
    ok(rgs_mono() - t0 < 5, "the deadline, not the idle timeout, applied");
    rgs_http_conn_free(c);

    c = rgs_http_conn_new(NULL);
    r = rgs_http_read_request(c, sv[0], sv[0], 0.2, 5);
    ok(r == 0, "idle connection: quiet close (0)");
    close(sv[1]);
    r = rgs_http_read_request(c, sv[0], sv[0], 5, 5);
    ok(r == 0, "peer closed: 0");
    close(sv[0]);
    rgs_http_conn_free(c);

    /* pressure (rgs_http_set_pressure): a pipe with a byte in it means the
     * listener is near its limit: idle waits shrink to busy_idle */
    int pp[2];
    if (pipe(pp) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        ok(0, "pipe, socketpair");
        return;
    }
    c = rgs_http_conn_new(NULL);
    rgs_http_set_pressure(c, pp[0], 0.2);
    ok(!rgs_http_pressure(c), "pressure: an empty pipe: none");
    rgs_write_all(sv[1], "GET /a HTTP/1.1\r\nHost: a\r\n\r\n", 28);
    ok(rgs_http_read_request(c, sv[0], sv[0], 0.5, 5) == 1, "pressure: none: a request is read");
    rgs_http_next(c);
    rgs_write_all(pp[1], "p", 1);
    ok(rgs_http_pressure(c), "pressure: a byte in the pipe: on");
    t0 = rgs_mono();
    ok(rgs_http_read_request(c, sv[0], sv[0], 30, 5) == 0, "pressure: an idle connection is closed quietly");
    ok(rgs_mono() - t0 < 10, "pressure: after busy_idle, not the 30 s idle timeout");
    /* a request that has begun is not cut */
    rgs_write_all(sv[1], "GET /b HTTP/1.1\r\n", 17);
    p = fork();
    if (p == 0) {
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rgs_write_all(sv[1], "Host: a\r\n\r\n", 11);
        _exit(0);
    }
    ok(rgs_http_read_request(c, sv[0], sv[0], 30, 5) == 1 && !strcmp(rgs_http_request_of(c)->path, "/b"),
       "pressure: a request in progress past busy_idle completes");
    waitpid(p, NULL, 0);
    rgs_http_next(c);
    /* pressure that begins while a connection waits idle */
    char byte;
    ok(read(pp[0], &byte, 1) == 1 && !rgs_http_pressure(c), "pressure: drained: off again");
    p = fork();
    if (p == 0) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        rgs_write_all(pp[1], "p", 1);
        _exit(0);
    }
    t0 = rgs_mono();
    ok(rgs_http_read_request(c, sv[0], sv[0], 30, 5) == 0 && rgs_mono() - t0 < 10,
       "pressure: beginning during an idle wait ends it early");
    waitpid(p, NULL, 0);
    ok(read(pp[0], &byte, 1) == 1, "pressure: the byte was there");
    close(pp[1]);
    ok(rgs_http_pressure(c), "pressure: the listener gone (pipe hung up): on");
    rgs_http_conn_free(c);
    close(pp[0]);
    close(sv[0]);
    close(sv[1]);

    /* respond: one write, parsable status line, HEAD without body */
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return;
    ok(rgs_http_respond(sv[0], 404, "application/json", "X-A: b\r\n", "{}", 2, false, true) == 0,
       "respond writes");
    char buf[512] = {0};
    ssize_t n = read(sv[1], buf, sizeof buf - 1);
    ok(n > 0 && !strncmp(buf, "HTTP/1.1 404 Not Found\r\nDate: ", 30) &&
           strstr(buf, "\r\nContent-Length: 2\r\nConnection: keep-alive\r\nX-A: b\r\n\r\n{}"),
       "response bytes");
    rgs_http_respond(sv[0], 200, "text/plain", NULL, "abc", 3, true, false);
    memset(buf, 0, sizeof buf);
    n = read(sv[1], buf, sizeof buf - 1);
    ok(n > 0 && strstr(buf, "Content-Length: 3\r\nConnection: close\r\n\r\n") &&
           buf[n - 1] == '\n',
       "HEAD: Content-Length of the body, no body");
    close(sv[0]);
    close(sv[1]);
}

int main(int argc, char **argv)
{
    (void)argc;
    rgs_set_progname(argv[0]);
    test_basic();
    test_errors();
    test_lines();
    test_io();
    return tap_done();
}
