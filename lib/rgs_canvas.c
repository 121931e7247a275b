/* rgs_canvas: canvas export in the original's Python format or the
 * plugin's own format.  See rgs_canvas.h. */
#include "rgs_canvas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rgs_canvas_format_parse(const char *s, enum rgs_canvas_format *out)
{
    if (!s)
        return false;
    if (!strcmp(s, "python"))
        *out = RGS_CANVAS_PYTHON;
    else if (!strcmp(s, "python-int"))
        *out = RGS_CANVAS_PYTHON_INT;
    else if (!strcmp(s, "obsidian"))
        *out = RGS_CANVAS_OBSIDIAN;
    else
        return false;
    return true;
}

/* ------------------------------------------------------------ values */

static rgs_cval *cv_new(rgs_cv_type t)
{
    rgs_cval *v = rgs_xcalloc(1, sizeof *v);
    v->t = t;
    return v;
}

void rgs_cval_free(rgs_cval *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->len; i++) {
        if (v->keys)
            free(v->keys[i]);
        rgs_cval_free(v->v[i]);
    }
    free(v->keys);
    free(v->klen);
    free(v->v);
    free(v->s);
    free(v);
}

static void cv_grow(rgs_cval *c)
{
    if (c->len < c->cap)
        return;
    c->cap = c->cap ? c->cap * 2 : 8;
    c->v = rgs_xrealloc(c->v, c->cap * sizeof *c->v);
    if (c->t == RGS_CV_OBJECT) {
        c->keys = rgs_xrealloc(c->keys, c->cap * sizeof *c->keys);
        c->klen = rgs_xrealloc(c->klen, c->cap * sizeof *c->klen);
    }
}

static ssize_t cv_find(const rgs_cval *o, const char *k, size_t kn)
{
    for (size_t i = 0; i < o->len; i++)
        if (o->klen[i] == kn && memcmp(o->keys[i], k, kn) == 0)
            return (ssize_t)i;
    return -1;
}

/* Set o[k] = val (val owned by o afterwards): first position, last value. */
static void cv_set(rgs_cval *o, const char *k, size_t kn, rgs_cval *val)
{
    ssize_t at = cv_find(o, k, kn);
    if (at >= 0) {
        rgs_cval_free(o->v[at]);
        o->v[at] = val;
        return;
    }
    cv_grow(o);
    o->keys[o->len] = rgs_xstrndup(k, kn);
    o->klen[o->len] = kn;
    o->v[o->len++] = val;
}

static void cv_push(rgs_cval *a, rgs_cval *val)
{
    cv_grow(a);
    a->v[a->len++] = val;
}

static rgs_cval *cv_copy(const rgs_cval *v)
{
    rgs_cval *c = cv_new(v->t);
    c->b = v->b;
    c->i = v->i;
    c->f = v->f;
    c->n = v->n;
    if (v->s)
        c->s = rgs_xstrndup(v->s, v->n);
    for (size_t i = 0; i < v->len; i++) {
        if (v->t == RGS_CV_OBJECT)
            cv_set(c, v->keys[i], v->klen[i], cv_copy(v->v[i]));
        else
            cv_push(c, cv_copy(v->v[i]));
    }
    return c;
}

static rgs_cval *cv_string(const char *s, size_t n)
{
    rgs_cval *v = cv_new(RGS_CV_STRING);
    v->s = rgs_xstrndup(s, n);
    v->n = n;
    return v;
}

static const rgs_cval *cv_get(const rgs_cval *o, const char *k)
{
    if (!o || o->t != RGS_CV_OBJECT)
        return NULL;
    ssize_t at = cv_find(o, k, strlen(k));
    return at < 0 ? NULL : o->v[at];
}

rgs_cval *rgs_cval_from_json(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        rgs_cval *o = cv_new(RGS_CV_OBJECT);
        const char *k;
        size_t kn;
        json_t *x;
        void *tmp;
        json_object_keylen_foreach_safe((json_t *)j, tmp, k, kn, x) cv_set(o, k, kn, rgs_cval_from_json(x));
        return o;
    }
    case JSON_ARRAY: {
        rgs_cval *a = cv_new(RGS_CV_ARRAY);
        for (size_t i = 0; i < json_array_size(j); i++)
            cv_push(a, rgs_cval_from_json(json_array_get(j, i)));
        return a;
    }
    case JSON_STRING:
        return cv_string(json_string_value(j), json_string_length(j));
    case JSON_INTEGER: {
        rgs_cval *v = cv_new(RGS_CV_INT);
        v->i = json_integer_value(j);
        return v;
    }
    case JSON_REAL: {
        rgs_cval *v = cv_new(RGS_CV_FLOAT);
        v->f = json_real_value(j);
        return v;
    }
    case JSON_TRUE:
    case JSON_FALSE: {
        rgs_cval *v = cv_new(RGS_CV_BOOL);
        v->b = json_is_true(j);
        return v;
    }
    default:
        return cv_new(RGS_CV_NULL);
    }
}

/* ------------------------------------------------------------ builder */

static int b_attach(rgs_cval_builder *b, rgs_cval *v, bool container)
{
    if (b->depth == 0) {
        if (b->root) { /* a second top-level value: not from a walk */
            rgs_cval_free(v);
            return 1;
        }
        b->root = v;
    } else {
        rgs_cval *top = b->stack[b->depth - 1];
        if (top->t == RGS_CV_OBJECT) {
            if (!b->pending_key) {
                rgs_cval_free(v);
                return 1;
            }
            cv_set(top, b->pending_key, b->pending_klen, v);
            free(b->pending_key);
            b->pending_key = NULL;
        } else {
            cv_push(top, v);
        }
    }
    if (container) {
        if (b->depth >= RGS_YDOC_MAX_DEPTH + 2)
            return 1;
        if (b->depth == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->stack = rgs_xrealloc(b->stack, b->cap * sizeof *b->stack);
        }
        b->stack[b->depth++] = v;
    }
    return 0;
}

static int b_value(void *ctx, const rgs_yval *y)
{
    rgs_cval *v;
    switch (y->type) {
    case RGS_YV_UNDEFINED: v = cv_new(RGS_CV_UNDEFINED); break;
    case RGS_YV_NULL: v = cv_new(RGS_CV_NULL); break;
    case RGS_YV_BOOL: v = cv_new(RGS_CV_BOOL); v->b = y->b; break;
    case RGS_YV_INT: v = cv_new(RGS_CV_INT); v->i = y->i; break;
    case RGS_YV_BIGINT: v = cv_new(RGS_CV_BIGINT); v->i = y->i; break;
    case RGS_YV_FLOAT: v = cv_new(RGS_CV_FLOAT); v->f = y->f; break;
    case RGS_YV_NUMBER: v = cv_new(RGS_CV_NUMBER); v->f = y->f; break;
    case RGS_YV_BINARY:
        v = cv_new(RGS_CV_BINARY);
        v->s = rgs_xstrndup(y->s ? y->s : "", y->n);
        v->n = y->n;
        break;
    case RGS_YV_SUBDOC: v = cv_new(RGS_CV_OBJECT); break; /* Y.Doc.toJSON() of an unloaded doc: {} */
    case RGS_YV_STRING:
    default: v = cv_string(y->s ? y->s : "", y->n); break;
    }
    return b_attach(ctx, v, false);
}
static int b_begin_object(void *ctx, bool shared)
{
    (void)shared;
    return b_attach(ctx, cv_new(RGS_CV_OBJECT), true);
}
static int b_begin_array(void *ctx, bool shared)
{
    (void)shared;
    return b_attach(ctx, cv_new(RGS_CV_ARRAY), true);
}
static int b_end(void *ctx)
{
    rgs_cval_builder *b = ctx;
    if (b->depth == 0)
        return 1;
    b->depth--;
    return 0;
}
static int b_key(void *ctx, const char *k, size_t n)
{
    rgs_cval_builder *b = ctx;
    free(b->pending_key);
    b->pending_key = rgs_xstrndup(k, n);
    b->pending_klen = n;
    return 0;
}
const rgs_yvisitor rgs_cval_visitor = {b_value, b_begin_object, b_key, b_end, b_begin_array, b_end};

rgs_cval *rgs_cval_builder_take(rgs_cval_builder *b)
{
    if (b->depth != 0)
        return NULL;
    rgs_cval *r = b->root;
    b->root = NULL;
    return r;
}

void rgs_cval_builder_free(rgs_cval_builder *b)
{
    rgs_cval_free(b->root);
    b->root = NULL;
    free(b->stack);
    b->stack = NULL;
    b->depth = b->cap = 0;
    free(b->pending_key);
    b->pending_key = NULL;
}

/* ------------------------------------------------------------ numbers */

/* Shortest decimal digits that round-trip: digits (no dot) and the
 * decimal point position `decpt` (value = 0.DIGITS * 10^decpt). */
static void shortest(double d, char digits[32], int *decpt)
{
    char buf[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    /* buf: [-]D[.DDD]e[+-]XX */
    const char *s = buf;
    if (*s == '-')
        s++;
    size_t k = 0;
    for (; *s && *s != 'e'; s++)
        if (*s != '.')
            digits[k++] = *s;
    /* strip trailing zeros (e.g. "1.0e+00" cannot happen with %.0e, but be safe) */
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = 0;
    *decpt = atoi(s + 1) + 1;
}

void rgs_fmt_py_float(double d, rgs_buf *out)
{
    if (isnan(d)) {
        rgs_buf_puts(out, "NaN");
        return;
    }
    if (isinf(d)) {
        rgs_buf_puts(out, d < 0 ? "-Infinity" : "Infinity");
        return;
    }
    if (d == 0) {
        rgs_buf_puts(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    if (d < 0)
        rgs_buf_putc(out, '-');
    char dg[32];
    int pt;
    shortest(fabs(d), dg, &pt);
    int k = (int)strlen(dg);
    if (pt > -4 && pt <= 16) {
        if (pt <= 0) {
            rgs_buf_puts(out, "0.");
            for (int i = 0; i < -pt; i++)
                rgs_buf_putc(out, '0');
            rgs_buf_puts(out, dg);
        } else if (pt >= k) {
            rgs_buf_puts(out, dg);
            for (int i = k; i < pt; i++)
                rgs_buf_putc(out, '0');
            rgs_buf_puts(out, ".0");
        } else {
            rgs_buf_append(out, dg, (size_t)pt);
            rgs_buf_putc(out, '.');
            rgs_buf_puts(out, dg + pt);
        }
        return;
    }
    rgs_buf_putc(out, dg[0]);
    if (k > 1) {
        rgs_buf_putc(out, '.');
        rgs_buf_puts(out, dg + 1);
    }
    int e = pt - 1;
    rgs_buf_printf(out, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
}

void rgs_fmt_js_number(double d, rgs_buf *out)
{
    if (isnan(d) || isinf(d)) {
        rgs_buf_puts(out, "null");
        return;
    }
    if (d == 0) {
        rgs_buf_putc(out, '0');
        return;
    }
    if (d < 0)
        rgs_buf_putc(out, '-');
    char dg[32];
    int n;
    shortest(fabs(d), dg, &n);
    int k = (int)strlen(dg);
    if (k <= n && n <= 21) {
        rgs_buf_puts(out, dg);
        for (int i = k; i < n; i++)
            rgs_buf_putc(out, '0');
    } else if (0 < n && n <= 21) {
        rgs_buf_append(out, dg, (size_t)n);
        rgs_buf_putc(out, '.');
        rgs_buf_puts(out, dg + n);
    } else if (-6 < n && n <= 0) {
        rgs_buf_puts(out, "0.");
        for (int i = 0; i < -n; i++)
            rgs_buf_putc(out, '0');
        rgs_buf_puts(out, dg);
    } else {
        rgs_buf_putc(out, dg[0]);
        if (k > 1) {
            rgs_buf_putc(out, '.');
            rgs_buf_puts(out, dg + 1);
        }
        int e = n - 1;
        rgs_buf_printf(out, "e%c%d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    }
}

/* ------------------------------------------------------------ strings */

/* Next code point of UTF-8 at s[*i..n); invalid or truncated -> U+FFFD
 * (one byte consumed). */
static unsigned utf8_next(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    int len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (len == 0 || *i + (size_t)len > n || !rgs_utf8_valid(s + *i, (size_t)len)) {
        (*i)++;
        return 0xfffd;
    }
    unsigned cp = len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
    for (int k = 1; k < len; k++)
        cp = (cp << 6) | (s[*i + k] & 0x3f);
    *i += (size_t)len;
    return cp;
}

static bool short_escape(unsigned c, rgs_buf *out)
{
    switch (c) {
    case '"': rgs_buf_puts(out, "\\\""); return true;
    case '\\': rgs_buf_puts(out, "\\\\"); return true;
    case '\b': rgs_buf_puts(out, "\\b"); return true;
    case '\f': rgs_buf_puts(out, "\\f"); return true;
    case '\n': rgs_buf_puts(out, "\\n"); return true;
    case '\r': rgs_buf_puts(out, "\\r"); return true;
    case '\t': rgs_buf_puts(out, "\\t"); return true;
    default: return false;
    }
}

void rgs_fmt_py_string(const char *s, size_t n, rgs_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    rgs_buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        unsigned c = utf8_next(u, n, &i);
        if (short_escape(c, out))
            continue;
        if (c >= 0x20 && c <= 0x7e)
            rgs_buf_putc(out, (char)c);
        else if (c < 0x10000)
            rgs_buf_printf(out, "\\u%04x", c);
        else {
            unsigned v = c - 0x10000;
            rgs_buf_printf(out, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
        }
    }
    rgs_buf_putc(out, '"');
}

void rgs_fmt_js_string(const char *s, size_t n, rgs_buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    rgs_buf_putc(out, '"');
    for (size_t i = 0; i < n;) {
        size_t at = i;
        unsigned c = utf8_next(u, n, &i);
        if (short_escape(c, out))
            continue;
        if (c < 0x20)
            rgs_buf_printf(out, "\\u%04x", c);
        else if (c == 0xfffd && !(i - at == 3 && u[at] == 0xef))
            rgs_buf_puts(out, "\xef\xbf\xbd");
        else
            rgs_buf_append(out, s + at, i - at);
    }
    rgs_buf_putc(out, '"');
}

/* ------------------------------------------------------------ Python */

typedef struct {
    enum rgs_canvas_format f;
    char *why;
} py_ctx;

static int keycmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an < bn ? -1 : an > bn ? 1 : 0);
}

static int py_value(py_ctx *c, const rgs_cval *v, int level, rgs_buf *out);

static void indent(rgs_buf *out, int level)
{
    for (int i = 0; i < level * 2; i++)
        rgs_buf_putc(out, ' ');
}

static const rgs_cval *g_sort_obj; /* qsort context (single-threaded use) */
static int cmp_idx_key(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return keycmp_bytes(g_sort_obj->keys[x], g_sort_obj->klen[x], g_sort_obj->keys[y], g_sort_obj->klen[y]);
}

static size_t *sorted_keys(const rgs_cval *o)
{
    size_t *idx = rgs_xmalloc((o->len ? o->len : 1) * sizeof *idx);
    for (size_t i = 0; i < o->len; i++)
        idx[i] = i;
    g_sort_obj = o;
    qsort(idx, o->len, sizeof *idx, cmp_idx_key); /* keys are unique: order is total */
    return idx;
}

static int py_value(py_ctx *c, const rgs_cval *v, int level, rgs_buf *out)
{
    switch (v->t) {
    case RGS_CV_UNDEFINED:
    case RGS_CV_NULL: rgs_buf_puts(out, "null"); return 0; /* pycrdt: Undefined -> None */
    case RGS_CV_BOOL: rgs_buf_puts(out, v->b ? "true" : "false"); return 0;
    case RGS_CV_INT:
        if (c->f == RGS_CANVAS_PYTHON_INT)
            rgs_buf_printf(out, "%lld", (long long)v->i);
        else
            rgs_fmt_py_float((double)v->i, out);
        return 0;
    case RGS_CV_BIGINT: rgs_buf_printf(out, "%lld", (long long)v->i); return 0;
    case RGS_CV_FLOAT:
    case RGS_CV_NUMBER: rgs_fmt_py_float(v->f, out); return 0;
    case RGS_CV_STRING: rgs_fmt_py_string(v->s, v->n, out); return 0;
    case RGS_CV_BINARY:
        snprintf(c->why, 200, "binary value in the canvas: the original cannot export it (json.dumps raises)");
        return -1;
    case RGS_CV_ARRAY:
        if (v->len == 0) {
            rgs_buf_puts(out, "[]");
            return 0;
        }
        rgs_buf_puts(out, "[\n");
        for (size_t i = 0; i < v->len; i++) {
            indent(out, level + 1);
            if (py_value(c, v->v[i], level + 1, out) < 0)
                return -1;
            rgs_buf_puts(out, i + 1 < v->len ? ",\n" : "\n");
        }
        indent(out, level);
        rgs_buf_putc(out, ']');
        return 0;
    case RGS_CV_OBJECT: {
        if (v->len == 0) {
            rgs_buf_puts(out, "{}");
            return 0;
        }
        size_t *idx = sorted_keys(v);
        rgs_buf_puts(out, "{\n");
        for (size_t i = 0; i < v->len; i++) {
            size_t k = idx[i];
            indent(out, level + 1);
            rgs_fmt_py_string(v->keys[k], v->klen[k], out);
            rgs_buf_puts(out, ": ");
            if (py_value(c, v->v[k], level + 1, out) < 0) {
                free(idx);
                return -1;
            }
            rgs_buf_puts(out, i + 1 < v->len ? ",\n" : "\n");
        }
        free(idx);
        indent(out, level);
        rgs_buf_putc(out, '}');
        return 0;
    }
    }
    return 0;
}

/* Items of a root map as the original lists them: values in sorted key
 * order, then stably sorted by "id" (missing -> "").  Returns a new array
 * of copies, or NULL with why set. */
typedef struct {
    const rgs_cval *v;
    const char *id;
    size_t idn;
    size_t pos;
} sitem;
static int cmp_sitem(const void *a, const void *b)
{
    const sitem *x = a, *y = b;
    int c = keycmp_bytes(x->id, x->idn, y->id, y->idn);
    return c ? c : (x->pos < y->pos ? -1 : x->pos > y->pos ? 1 : 0);
}

static rgs_cval *py_items(const rgs_cval *map, const char *what, char *why)
{
    rgs_cval *arr = cv_new(RGS_CV_ARRAY);
    if (!map || map->t != RGS_CV_OBJECT)
        return arr;
    size_t *idx = sorted_keys(map);
    sitem *it = rgs_xcalloc(map->len ? map->len : 1, sizeof *it);
    for (size_t i = 0; i < map->len; i++) {
        const rgs_cval *v = map->v[idx[i]];
        if (v->t != RGS_CV_OBJECT) {
            snprintf(why, 200, "canvas %s '%.60s' is not an object (the original fails on it)", what,
                     map->keys[idx[i]]);
            free(idx);
            free(it);
            rgs_cval_free(arr);
            return NULL;
        }
        const rgs_cval *id = cv_get(v, "id");
        if (id && id->t != RGS_CV_STRING && map->len > 1) {
            snprintf(why, 200, "canvas %s '%.60s' has an id that is not a string (the original fails sorting)",
                     what, map->keys[idx[i]]);
            free(idx);
            free(it);
            rgs_cval_free(arr);
            return NULL;
        }
        it[i].v = v;
        it[i].id = id && id->t == RGS_CV_STRING ? id->s : "";
        it[i].idn = id && id->t == RGS_CV_STRING ? id->n : 0;
        it[i].pos = i;
    }
    qsort(it, map->len, sizeof *it, cmp_sitem);
    for (size_t i = 0; i < map->len; i++)
        cv_push(arr, cv_copy(it[i].v));
    free(idx);
    free(it);
    return arr;
}

static int render_python(const rgs_canvas_input *in, enum rgs_canvas_format f, rgs_buf *out, char *why)
{
    rgs_cval *edges = py_items(in->edges, "edge", why);
    if (!edges)
        return -1;
    rgs_cval *nodes = py_items(in->nodes, "node", why);
    if (!nodes) {
        rgs_cval_free(edges);
        return -1;
    }
    rgs_buf t = RGS_BUF_INIT;
    for (size_t i = 0; i < nodes->len; i++) {
        rgs_cval *node = nodes->v[i];
        const rgs_cval *id = cv_get(node, "id");
        if (!id || id->t != RGS_CV_STRING || id->n == 0 || memchr(id->s, 0, id->n))
            continue;
        rgs_buf_reset(&t);
        int rc = in->text ? in->text(in->ctx, id->s, &t) : -1;
        if (rc == -1)
            continue; /* not a root of the document */
        if (rc == -2) {
            snprintf(why, 200, "canvas node id '%.60s' names a root that is not a text (the original fails on it)",
                     id->s);
            rgs_buf_free(&t);
            rgs_cval_free(edges);
            rgs_cval_free(nodes);
            return -1;
        }
        if (t.len > 0) {
            cv_set(node, "text", 4, cv_string(t.data, t.len));
        } else {
            const rgs_cval *own = cv_get(node, "text");
            cv_set(node, "text", 4, own ? cv_copy(own) : cv_string("", 0));
        }
    }
    rgs_buf_free(&t);
    rgs_cval *top = cv_new(RGS_CV_OBJECT);
    cv_set(top, "edges", 5, edges);
    cv_set(top, "nodes", 5, nodes);
    py_ctx c = {f, why};
    size_t start = out->len;
    int rc = py_value(&c, top, 0, out);
    if (rc < 0)
        out->len = start, out->data[start] = 0;
    rgs_cval_free(top);
    return rc;
}

/* ------------------------------------------------------------ Obsidian */

/* ECMAScript property order: array-index keys ("0".."4294967294", no
 * leading zeros) ascending first, then the others in insertion order. */
static bool index_key(const char *k, size_t n, unsigned long long *val)
{
    if (n == 0 || n > 10 || (n > 1 && k[0] == '0'))
        return false;
    unsigned long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        x = x * 10 + (unsigned)(k[i] - '0');
    }
    if (x > 4294967294ULL)
        return false;
    *val = x;
    return true;
}
typedef struct {
    size_t i;
    unsigned long long n;
    bool idx;
} jskey;
static int cmp_jskey(const void *a, const void *b)
{
    const jskey *x = a, *y = b;
    if (x->idx != y->idx)
        return x->idx ? -1 : 1;
    if (x->idx && x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i ? 1 : 0;
}
static size_t *js_order(const rgs_cval *o)
{
    jskey *k = rgs_xcalloc(o->len ? o->len : 1, sizeof *k);
    for (size_t i = 0; i < o->len; i++) {
        k[i].i = i;
        k[i].idx = index_key(o->keys[i], o->klen[i], &k[i].n);
    }
    qsort(k, o->len, sizeof *k, cmp_jskey);
    size_t *idx = rgs_xmalloc((o->len ? o->len : 1) * sizeof *idx);
    for (size_t i = 0; i < o->len; i++)
        idx[i] = k[i].i;
    free(k);
    return idx;
}

/* typeof v !== "object" in JavaScript (undefined counts as primitive) */
static bool js_primitive(const rgs_cval *v)
{
    return v->t != RGS_CV_NULL && v->t != RGS_CV_ARRAY && v->t != RGS_CV_OBJECT && v->t != RGS_CV_BINARY;
}

/* JSON.stringify(v) on one line; `in_array` decides how undefined prints. */
static int js_stringify(const rgs_cval *v, rgs_buf *out, char *why)
{
    switch (v->t) {
    case RGS_CV_UNDEFINED:
    case RGS_CV_NULL: rgs_buf_puts(out, "null"); return 0;
    case RGS_CV_BOOL: rgs_buf_puts(out, v->b ? "true" : "false"); return 0;
    case RGS_CV_INT: rgs_fmt_js_number((double)v->i, out); return 0;
    case RGS_CV_BIGINT:
        snprintf(why, 200, "bigint value in the canvas: JSON.stringify cannot export it");
        return -1;
    case RGS_CV_FLOAT:
    case RGS_CV_NUMBER: rgs_fmt_js_number(v->f, out); return 0;
    case RGS_CV_STRING: rgs_fmt_js_string(v->s, v->n, out); return 0;
    case RGS_CV_BINARY: /* a Uint8Array: {"0":b0,"1":b1,...} */
        rgs_buf_putc(out, '{');
        for (size_t i = 0; i < v->n; i++)
            rgs_buf_printf(out, "%s\"%zu\":%u", i ? "," : "", i, (unsigned char)v->s[i]);
        rgs_buf_putc(out, '}');
        return 0;
    case RGS_CV_ARRAY:
        rgs_buf_putc(out, '[');
        for (size_t i = 0; i < v->len; i++) {
            if (i)
                rgs_buf_putc(out, ',');
            if (js_stringify(v->v[i], out, why) < 0)
                return -1;
        }
        rgs_buf_putc(out, ']');
        return 0;
    case RGS_CV_OBJECT: {
        size_t *idx = js_order(v);
        bool first = true;
        rgs_buf_putc(out, '{');
        for (size_t i = 0; i < v->len; i++) {
            const rgs_cval *x = v->v[idx[i]];
            if (x->t == RGS_CV_UNDEFINED)
                continue;
            if (!first)
                rgs_buf_putc(out, ',');
            first = false;
            rgs_fmt_js_string(v->keys[idx[i]], v->klen[idx[i]], out);
            rgs_buf_putc(out, ':');
            if (js_stringify(x, out, why) < 0) {
                free(idx);
                return -1;
            }
        }
        free(idx);
        rgs_buf_putc(out, '}');
        return 0;
    }
    }
    return 0;
}

/* formatCanvasData's line builder: lines of `v` without indentation,
 * appended to the array of strings `lines` (an rgs_cval array of strings). */
static int obs_lines(const rgs_cval *v, rgs_cval *lines, char *why)
{
    rgs_buf b = RGS_BUF_INIT;
    bool oneline = js_primitive(v) || v->t == RGS_CV_NULL;
    if (!oneline && v->t == RGS_CV_ARRAY) {
        oneline = true;
        for (size_t i = 0; i < v->len; i++)
            if (!js_primitive(v->v[i]))
                oneline = false;
    }
    if (!oneline && (v->t == RGS_CV_OBJECT || v->t == RGS_CV_BINARY)) {
        oneline = true;
        for (size_t i = 0; v->t == RGS_CV_OBJECT && i < v->len; i++)
            if (!js_primitive(v->v[i]))
                oneline = false;
    }
    if (oneline) {
        if (js_stringify(v, &b, why) < 0) {
            rgs_buf_free(&b);
            return -1;
        }
        cv_push(lines, cv_string(b.data ? b.data : "", b.len));
        rgs_buf_free(&b);
        return 0;
    }
    bool arr = v->t == RGS_CV_ARRAY;
    cv_push(lines, cv_string(arr ? "[" : "{", 1));
    size_t *idx = arr ? NULL : js_order(v);
    size_t count = 0, last = 0;
    for (size_t i = 0; i < v->len; i++)
        if (arr || v->v[idx[i]]->t != RGS_CV_UNDEFINED)
            count++, last = i;
    (void)count;
    for (size_t i = 0; i < v->len; i++) {
        const rgs_cval *x = arr ? v->v[i] : v->v[idx[i]];
        if (!arr && x->t == RGS_CV_UNDEFINED)
            continue;
        rgs_cval *child = cv_new(RGS_CV_ARRAY);
        if (obs_lines(x, child, why) < 0) {
            rgs_cval_free(child);
            free(idx);
            return -1;
        }
        for (size_t j = 0; j < child->len; j++) {
            rgs_buf_reset(&b);
            rgs_buf_putc(&b, '\t');
            if (j == 0 && !arr) {
                rgs_fmt_js_string(v->keys[idx[i]], v->klen[idx[i]], &b);
                rgs_buf_putc(&b, ':');
            }
            rgs_buf_append(&b, child->v[j]->s, child->v[j]->n);
            if (j + 1 == child->len && i != last)
                rgs_buf_putc(&b, ',');
            cv_push(lines, cv_string(b.data, b.len));
        }
        rgs_cval_free(child);
    }
    free(idx);
    rgs_buf_free(&b);
    cv_push(lines, cv_string(arr ? "]" : "}", 1));
    return 0;
}

static int render_obsidian(const rgs_canvas_input *in, rgs_buf *out, char *why)
{
    rgs_cval *nodes = cv_new(RGS_CV_ARRAY), *edges = cv_new(RGS_CV_ARRAY);
    rgs_buf t = RGS_BUF_INIT;
    for (size_t i = 0; in->nodes && in->nodes->t == RGS_CV_OBJECT && i < in->nodes->len; i++) {
        const rgs_cval *yn = in->nodes->v[i];
        /* {...ynode}: a non-object spreads to {} (a string to its characters; not worth it) */
        rgs_cval *n = yn->t == RGS_CV_OBJECT ? cv_copy(yn) : cv_new(RGS_CV_OBJECT);
        const rgs_cval *id = cv_get(n, "id");
        if (id && id->t == RGS_CV_STRING && !memchr(id->s, 0, id->n) && in->text) {
            rgs_buf_reset(&t);
            if (in->text(in->ctx, id->s, &t) == 0 && t.len > 0)
                cv_set(n, "text", 4, cv_string(t.data, t.len));
        }
        cv_push(nodes, n);
    }
    rgs_buf_free(&t);
    for (size_t i = 0; in->edges && in->edges->t == RGS_CV_OBJECT && i < in->edges->len; i++) {
        const rgs_cval *ye = in->edges->v[i];
        cv_push(edges, ye->t == RGS_CV_OBJECT ? cv_copy(ye) : cv_new(RGS_CV_OBJECT));
    }
    rgs_cval *top = cv_new(RGS_CV_OBJECT);
    cv_set(top, "nodes", 5, nodes);
    cv_set(top, "edges", 5, edges);
    rgs_cval *lines = cv_new(RGS_CV_ARRAY);
    int rc = obs_lines(top, lines, why);
    if (rc == 0)
        for (size_t i = 0; i < lines->len; i++) {
            if (i)
                rgs_buf_putc(out, '\n');
            rgs_buf_append(out, lines->v[i]->s, lines->v[i]->n);
        }
    rgs_cval_free(lines);
    rgs_cval_free(top);
    return rc;
}

int rgs_canvas_render(const rgs_canvas_input *in, enum rgs_canvas_format f, rgs_buf *out, char why[200])
{
    why[0] = 0;
    if (f == RGS_CANVAS_OBSIDIAN)
        return render_obsidian(in, out, why);
    return render_python(in, f, out, why);
}

/* ------------------------------------------------------------ from a document */

static int ydoc_text(void *ctx, const char *name, rgs_buf *out)
{
    const rgs_ydoc *d = ctx;
    if (!rgs_ydoc_has_root(d, name))
        return -1;
    enum rgs_ykind k = rgs_ydoc_guess_kind(d, name);
    if (k == RGS_YKIND_MAP || k == RGS_YKIND_ARRAY)
        return -2;
    return rgs_ydoc_text(d, name, out) < 0 ? -1 : 0;
}

static rgs_cval *ydoc_map(const rgs_ydoc *d, const char *root)
{
    if (!rgs_ydoc_has_root(d, root))
        return NULL;
    rgs_cval_builder b = {0};
    rgs_cval *v = NULL;
    if (rgs_ydoc_walk(d, root, RGS_YKIND_MAP, &rgs_cval_visitor, &b) == 0)
        v = rgs_cval_builder_take(&b);
    rgs_cval_builder_free(&b);
    return v;
}

int rgs_canvas_export(const rgs_ydoc *d, enum rgs_canvas_format f, rgs_buf *out, char why[200])
{
    why[0] = 0;
    if (rgs_ydoc_never_written(d) ||
        (!rgs_ydoc_has_root(d, "nodes") && !rgs_ydoc_has_root(d, "edges") && !rgs_ydoc_has_root(d, "relay")))
        return 0;
    rgs_cval *nodes = ydoc_map(d, "nodes"), *edges = ydoc_map(d, "edges");
    rgs_canvas_input in = {nodes, edges, ydoc_text, (void *)d};
    int rc = rgs_canvas_render(&in, f, out, why);
    rgs_cval_free(nodes);
    rgs_cval_free(edges);
    return rc < 0 ? -1 : 1;
}
