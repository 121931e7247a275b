/* rgs_httpd: the server side of HTTP/1.1 for rgs-verify, over Debian's
 * libhttp-parser (the parser libgit2 links; nothing here parses HTTP by
 * hand).  Link with -lhttp_parser.
 *
 * Two layers:
 *   - a push parser (rgs_http_conn + rgs_http_feed) that turns bytes into
 *     one request at a time and enforces the limits below; it does no I/O,
 *     so the fuzz target drives it directly;
 *   - connection I/O (rgs_http_read_request, rgs_http_respond) with the
 *     read deadline, the keep-alive idle timeout, "Expect: 100-continue"
 *     and pipelined requests (bytes after one request are kept for the
 *     next).
 *
 * Rules implemented: RFC 9112 (message syntax, Content-Length and chunked
 * framing, persistent connections §9.3), RFC 9110 §10.1.1 (Expect),
 * §15 (status codes: 400, 408, 413, 414, 417, 431, 501, 505).
 *
 * Stricter than libhttp-parser (which Debian builds non-strict), checked
 * on every byte that is not body data (request line, header and trailer
 * fields, chunk-size lines, the CRLF after chunk data), all answered 400:
 *   - lines end in CRLF: a bare LF (RFC 9112 §2.2 lets a server accept
 *     it) is refused, because a proxy in front that does not accept it
 *     would see other message boundaries (request smuggling); a CR without
 *     LF is refused too;
 *   - obsolete line folding, a field line starting with SP or HTAB (RFC
 *     9112 §5.2), and whitespace between the request line and the first
 *     field (§2.2) are refused;
 *   - chunk data must be followed by CRLF (§7.1; the parser would take any
 *     two bytes).
 */
#ifndef RGS_HTTPD_H
#define RGS_HTTPD_H

#include "rgs_util.h"

#include <stdbool.h>
#include <stddef.h>

/* Limits, in bytes or counts.  Zero fields take the defaults. */
typedef struct {
    size_t max_target;       /* request-target length; default 8192 (else 414) */
    size_t max_header_bytes; /* all header field names + values; default 16384 (else 431) */
    size_t max_headers;      /* number of header fields; default 100 (else 431) */
    size_t max_body;         /* decoded body; default 1048576 = 1 MiB (else 413) */
} rgs_http_limits;

#define RGS_HTTP_DEFAULT_MAX_TARGET 8192
#define RGS_HTTP_DEFAULT_MAX_HEADER_BYTES 16384
#define RGS_HTTP_DEFAULT_MAX_HEADERS 100
#define RGS_HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20)

/* One header field as received: name and value NUL-terminated.  The
 * value's leading and trailing SP and HTAB are removed (RFC 9110 §5.5:
 * they are not part of the value); value_len is the length after that. */
typedef struct {
    char *name;
    char *value;
    size_t value_len;
} rgs_http_field;

/* A complete request.  Everything is owned by the connection and valid
 * until the next rgs_http_next / rgs_http_conn_free. */
typedef struct {
    const char *method;    /* "GET", "POST", ... (static) */
    int method_id;         /* enum http_method of http_parser.h */
    char *target;          /* request-target as sent, NUL-terminated */
    char *path;            /* its path component ("/webhooks"), "" if none */
    unsigned short http_major, http_minor;
    rgs_http_field *fields;
    size_t n_fields;
    rgs_buf body;          /* decoded body (chunked framing removed) */
    bool keep_alive;       /* the connection may carry another request */
    bool chunked;          /* the body came with Transfer-Encoding: chunked */
} rgs_http_request;

typedef struct rgs_http_conn rgs_http_conn;

/* rgs_http_conn_new: a connection state for requests (lim may be NULL for
 * the defaults; it is copied).  Free with rgs_http_conn_free. */
rgs_http_conn *rgs_http_conn_new(const rgs_http_limits *lim);
void rgs_http_conn_free(rgs_http_conn *c);

enum { RGS_HTTP_ERROR = -1, RGS_HTTP_MORE = 0, RGS_HTTP_DONE = 1 };

/* rgs_http_feed: parse up to `n` bytes of the connection.
 * Returns RGS_HTTP_MORE (all `n` bytes consumed, the request is not yet
 *   complete), RGS_HTTP_DONE (a request is complete: rgs_http_request_of();
 *   *used bytes were consumed, the rest belongs to the next request),
 *   or RGS_HTTP_ERROR (the request is malformed or over a limit:
 *   rgs_http_error_status() gives the status to answer, the connection must
 *   then be closed).  `used` may be NULL. */
int rgs_http_feed(rgs_http_conn *c, const char *p, size_t n, size_t *used);

/* rgs_http_feed_eof: the peer closed its side.  Returns RGS_HTTP_MORE when
 * no byte of a request had arrived (a clean close: answer nothing), else
 * RGS_HTTP_ERROR with status 400 (truncated request). */
int rgs_http_feed_eof(rgs_http_conn *c);

/* The complete request after RGS_HTTP_DONE (NULL before). */
const rgs_http_request *rgs_http_request_of(const rgs_http_conn *c);
/* Status (400, 413, 414, 417, 431, 501, 505) and a short English reason
 * after RGS_HTTP_ERROR, e.g. 400 "invalid character in header". */
int rgs_http_error_status(const rgs_http_conn *c);
const char *rgs_http_error_text(const rgs_http_conn *c);
/* true once any byte of the current request has been consumed */
bool rgs_http_started(const rgs_http_conn *c);
/* true once the header section of the current request is complete and it
 * asked for "Expect: 100-continue" (the server should send 100 Continue
 * before the client sends the body) */
bool rgs_http_wants_continue(const rgs_http_conn *c);

/* rgs_http_next: forget the current request and get ready for the next
 * one on the same connection (buffered pipelined bytes are kept). */
void rgs_http_next(rgs_http_conn *c);

/* rgs_http_field_get: the value of header `name` (ASCII case-insensitive),
 * or NULL.  *count (if not NULL) gets the number of fields with that name,
 * so callers can refuse repeated security headers. */
const char *rgs_http_field_get(const rgs_http_request *r, const char *name, unsigned *count);

/* rgs_http_read_request: read one request from `in_fd` (a socket, pipe or
 * file), writing "100 Continue" to `out_fd` when asked for.
 * `idle_timeout`: seconds to wait for the first byte of the request (the
 * keep-alive idle time; less under pressure, see rgs_http_set_pressure);
 * `request_timeout`: seconds from the first byte to the complete request
 * (slow clients).
 * Returns  1: a request is ready (rgs_http_request_of);
 *          0: the peer closed, or stayed idle past idle_timeout without
 *             sending a byte: close without answering;
 *         -1: answer rgs_http_error_status() (408 on the deadline, 4xx/5xx
 *             for malformed input; 400 for a read error) and close. */
int rgs_http_read_request(rgs_http_conn *c, int in_fd, int out_fd, double idle_timeout,
                          double request_timeout);

/* rgs_http_set_pressure: `fd` (or -1 for none) is readable (or hung up)
 * while the listener is close to its connection limit or stopping; the
 * connection does not own it.  While it is, rgs_http_read_request waits at
 * most `busy_idle` seconds for the first byte of a request (instead of
 * `idle_timeout`), and a wait that began before is cut to that too, so
 * idle keep-alive connections give their slot to waiting clients.
 * rgs-accept(1) passes such a descriptor (a pipe holding one byte while
 * it is busy) as RGS_PRESSURE_FD. */
void rgs_http_set_pressure(rgs_http_conn *c, int fd, double busy_idle);
/* rgs_http_pressure: true while the pressure descriptor says so (never
 * without one). */
bool rgs_http_pressure(const rgs_http_conn *c);

/* rgs_http_respond: write one response to `fd`: status line (HTTP/1.1 and
 * the standard reason phrase), Date, Content-Type (when ctype is not
 * NULL), Content-Length, Connection (keep-alive or close), the
 * `extra_headers` text (each line ending "\r\n"; may be NULL), then the
 * body unless `head_only` (HEAD requests: headers only, RFC 9110 §9.3.2).
 * Returns 0 or -1 with errno (the connection must then be closed). */
int rgs_http_respond(int fd, int status, const char *ctype, const char *extra_headers,
                     const void *body, size_t n, bool head_only, bool keep_alive);

/* rgs_http_reason: the reason phrase of a status code ("Not Found"). */
const char *rgs_http_reason(int status);

#endif
