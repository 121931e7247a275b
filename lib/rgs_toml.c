/* rgs_toml: see rgs_toml.h for the TOML 1.0.0 rules implemented. */
#include "rgs_toml.h"
#include "rgs_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

typedef struct {
    const char *p, *end;
    unsigned line;
    char *err;
    size_t errlen;
    bool failed;
    char table[128]; /* name of the current [table] / [[array of tables]], "" at the root */
    char key[256];   /* dotted path of the key whose value is being parsed, "" otherwise */
} parser;

static void fail(parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    if (!ps->errlen)
        return;
    /* "line N: KEY: why" while a value is being parsed, so every value error
       names the key (git_connectors.toml(5): errors name file, line and key) */
    int n = ps->key[0] ? snprintf(ps->err, ps->errlen, "line %u: %s: ", ps->line, ps->key)
                       : snprintf(ps->err, ps->errlen, "line %u: ", ps->line);
    if (n < 0 || (size_t)n >= ps->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static rgs_toml *node_new(rgs_toml_type type, unsigned line)
{
    rgs_toml *t = rgs_xcalloc(1, sizeof *t);
    t->type = type;
    t->line = line;
    return t;
}

void rgs_toml_free(rgs_toml *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->keys)
            free(t->keys[i]);
        rgs_toml_free(t->items[i]);
    }
    free(t->keys);
    free(t->key_lines);
    free(t->items);
    free(t->str);
    free(t);
}

static void array_push(rgs_toml *a, rgs_toml *v)
{
    a->items = rgs_xrealloc(a->items, (a->n + 1) * sizeof *a->items);
    a->items[a->n++] = v;
}

static void table_put(rgs_toml *t, char *key, unsigned line, rgs_toml *v)
{
    t->keys = rgs_xrealloc(t->keys, (t->n + 1) * sizeof *t->keys);
    t->key_lines = rgs_xrealloc(t->key_lines, (t->n + 1) * sizeof *t->key_lines);
    t->items = rgs_xrealloc(t->items, (t->n + 1) * sizeof *t->items);
    t->keys[t->n] = key;
    t->key_lines[t->n] = line;
    t->items[t->n] = v;
    t->n++;
}

static rgs_toml *table_lookup(const rgs_toml *t, const char *key, size_t *idx)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i], key) == 0) {
            if (idx)
                *idx = i;
            return t->items[i];
        }
    return NULL;
}

const rgs_toml *rgs_toml_get(const rgs_toml *t, const char *key)
{
    if (!t || t->type != RGS_TOML_TABLE)
        return NULL;
    return table_lookup(t, key, NULL);
}

unsigned rgs_toml_get_line(const rgs_toml *t, const char *key)
{
    size_t i;
    if (!t || t->type != RGS_TOML_TABLE || !table_lookup(t, key, &i))
        return 0;
    return t->key_lines[i];
}

const char *rgs_toml_type_name(rgs_toml_type type)
{
    switch (type) {
    case RGS_TOML_STRING: return "string";
    case RGS_TOML_INTEGER: return "integer";
    case RGS_TOML_FLOAT: return "float";
    case RGS_TOML_BOOLEAN: return "boolean";
    case RGS_TOML_ARRAY: return "array";
    default: return "table";
    }
}

/* ---- lexical helpers ---- */

static bool at_end(const parser *ps) { return ps->p >= ps->end; }
static int peek(const parser *ps) { return at_end(ps) ? -1 : (unsigned char)*ps->p; }
static int peek_at(const parser *ps, size_t k)
{
    return (size_t)(ps->end - ps->p) > k ? (unsigned char)ps->p[k] : -1;
}

static void skip_ws(parser *ps)
{
    while (!at_end(ps) && (*ps->p == ' ' || *ps->p == '\t'))
        ps->p++;
}

/* a control character that TOML forbids in strings and comments (tab is
 * allowed): U+0000..U+0008, U+000A..U+001F, U+007F */
static bool bad_control(int c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f; }

/* at a newline (LF or CRLF)? consume it and count the line */
static bool eat_newline(parser *ps)
{
    if (peek(ps) == '\n') {
        ps->p++;
        ps->line++;
        return true;
    }
    if (peek(ps) == '\r' && peek_at(ps, 1) == '\n') {
        ps->p += 2;
        ps->line++;
        return true;
    }
    return false;
}

static void skip_comment(parser *ps)
{
    if (peek(ps) != '#')
        return;
    ps->p++;
    while (!at_end(ps) && *ps->p != '\n') {
        if (*ps->p == '\r' && peek_at(ps, 1) == '\n')
            break;
        if (bad_control((unsigned char)*ps->p)) {
            fail(ps, "control character 0x%02x in a comment", (unsigned char)*ps->p);
            return;
        }
        ps->p++;
    }
}

/* after a key/value or header: whitespace, optional comment, then newline
 * or end of input */
static void expect_eol(parser *ps)
{
    skip_ws(ps);
    skip_comment(ps);
    if (ps->failed || at_end(ps) || eat_newline(ps))
        return;
    int c = peek(ps);
    if (c == '\r')
        fail(ps, "carriage return not followed by a line feed");
    else if (c >= 0x20 && c < 0x7f)
        fail(ps, "unexpected '%c' after the value (one key = value per line)", c);
    else
        fail(ps, "unexpected byte 0x%02x after the value", c);
}

static void put_utf8(rgs_buf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    rgs_buf_append(b, u, n);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* TOML "String": a basic ("...") or literal ('...') single-line string at
 * ps->p.  Returns a malloc'd NUL-terminated string, or NULL on error. */
static char *parse_string(parser *ps)
{
    int q = peek(ps);
    if (peek_at(ps, 1) == q && peek_at(ps, 2) == q) {
        fail(ps, "multi-line strings (%c%c%c) are not supported", q, q, q);
        return NULL;
    }
    ps->p++;
    rgs_buf b = RGS_BUF_INIT;
    rgs_buf_reserve(&b, 0);
    b.data[0] = '\0';
    for (;;) {
        int c = peek(ps);
        if (c < 0 || c == '\n' || (c == '\r' && peek_at(ps, 1) == '\n')) {
            fail(ps, "unterminated string");
            break;
        }
        if (c == q) {
            ps->p++;
            return rgs_buf_steal(&b, NULL);
        }
        if (bad_control(c)) {
            fail(ps, "control character 0x%02x in a string (use an escape)", c);
            break;
        }
        if (c != '\\' || q == '\'') {
            rgs_buf_putc(&b, (char)c);
            ps->p++;
            continue;
        }
        ps->p++;
        int e = peek(ps);
        ps->p++;
        switch (e) {
        case 'b': rgs_buf_putc(&b, '\b'); continue;
        case 't': rgs_buf_putc(&b, '\t'); continue;
        case 'n': rgs_buf_putc(&b, '\n'); continue;
        case 'f': rgs_buf_putc(&b, '\f'); continue;
        case 'r': rgs_buf_putc(&b, '\r'); continue;
        case '"': rgs_buf_putc(&b, '"'); continue;
        case '\\': rgs_buf_putc(&b, '\\'); continue;
        case 'u':
        case 'U': {
            int digits = e == 'u' ? 4 : 8;
            uint32_t cp = 0;
            for (int i = 0; i < digits; i++) {
                int h = hexval(peek(ps));
                if (h < 0) {
                    fail(ps, "\\%c escape needs %d hex digits", e, digits);
                    goto error;
                }
                cp = (cp << 4) | (uint32_t)h;
                ps->p++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                fail(ps, "escape \\%c%0*X is not a Unicode scalar value", e, digits, cp);
                goto error;
            }
            if (cp == 0) {
                fail(ps, "U+0000 in a string is not supported");
                goto error;
            }
            put_utf8(&b, cp);
            continue;
        }
        default:
            if (e < 0)
                fail(ps, "unterminated string");
            else if (e >= 0x20 && e < 0x7f)
                fail(ps, "invalid escape '\\%c' in a string", e);
            else
                fail(ps, "invalid escape in a string");
            goto error;
        }
    }
error:
    rgs_buf_free(&b);
    return NULL;
}

static bool bare_key_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

/* TOML "Keys": one bare or quoted key (dotted keys are refused). */
static char *parse_key(parser *ps)
{
    char *key;
    int c = peek(ps);
    if (c == '"' || c == '\'') {
        key = parse_string(ps);
        if (!key)
            return NULL;
    } else {
        const char *s = ps->p;
        while (!at_end(ps) && bare_key_char((unsigned char)*ps->p))
            ps->p++;
        if (ps->p == s) {
            if (c < 0)
                fail(ps, "expected a key, found the end of the file");
            else if (c >= 0x20 && c < 0x7f)
                fail(ps, "expected a key, found '%c'", c);
            else
                fail(ps, "expected a key, found byte 0x%02x", c);
            return NULL;
        }
        key = rgs_xstrndup(s, (size_t)(ps->p - s));
    }
    skip_ws(ps);
    if (peek(ps) == '.') {
        fail(ps, "dotted keys ('%s.…') are not supported", key);
        free(key);
        return NULL;
    }
    return key;
}

static bool digit_in(int c, int base)
{
    int v = hexval(c);
    return v >= 0 && v < base;
}

/* Copy digits of `base` from [s, e) into out, checking that '_' stands only
 * between two digits.  Returns the end of the digit run (at the first
 * character that is neither), or NULL on a misplaced '_' or no digit. */
static const char *digits(parser *ps, const char *s, const char *e, int base, rgs_buf *out)
{
    const char *p = s;
    if (p >= e || !digit_in((unsigned char)*p, base)) {
        fail(ps, "expected a digit in a number");
        return NULL;
    }
    while (p < e) {
        if (digit_in((unsigned char)*p, base)) {
            rgs_buf_putc(out, *p++);
        } else if (*p == '_') {
            if (p + 1 >= e || !digit_in((unsigned char)p[1], base)) {
                fail(ps, "'_' in a number must stand between two digits");
                return NULL;
            }
            p++;
        } else {
            break;
        }
    }
    return p;
}

/* TOML "Integer" and "Float" (and refusals for dates, inf, nan). */
static rgs_toml *parse_number(parser *ps, unsigned line)
{
    const char *s = ps->p, *e = s;
    while (e < ps->end && (bare_key_char((unsigned char)*e) || *e == '+' || *e == '.' || *e == ':'))
        e++;
    size_t n = (size_t)(e - s);
    char tok[64];
    snprintf(tok, sizeof tok, "%.*s", (int)(n < 40 ? n : 40), s);
    if (n == 0) {
        int c = peek(ps);
        if (c == '{')
            fail(ps, "inline tables ({...}) are not supported");
        else if (c < 0 || c == '\n' || c == '\r' || c == '#')
            fail(ps, "missing value after '='");
        else if (c >= 0x20 && c < 0x7f)
            fail(ps, "unexpected '%c' where a value should be", c);
        else
            fail(ps, "unexpected byte 0x%02x where a value should be", c);
        return NULL;
    }
    if (memchr(s, ':', n) || (n >= 5 && digit_in((unsigned char)s[0], 10) && s[4] == '-' &&
                              digit_in((unsigned char)s[3], 10))) {
        fail(ps, "dates and times ('%s') are not supported", tok);
        return NULL;
    }
    const char *p = s;
    bool neg = false, sign = false;
    if (*p == '+' || *p == '-') {
        neg = *p == '-';
        sign = true;
        p++;
    }
    if ((e - p == 3 && (!memcmp(p, "inf", 3) || !memcmp(p, "nan", 3)))) {
        fail(ps, "inf and nan are not supported");
        return NULL;
    }
    if ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')) {
        fail(ps, "'%s' is not a valid value (strings need quotes)", tok);
        return NULL;
    }
    rgs_buf b = RGS_BUF_INIT;
    rgs_toml *v = NULL;
    if (neg)
        rgs_buf_putc(&b, '-');
    if (p + 1 < e && p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b')) {
        int base = p[1] == 'x' ? 16 : p[1] == 'o' ? 8 : 2;
        if (sign) {
            fail(ps, "'%s': a sign is not allowed on 0x, 0o, 0b integers", tok);
            goto out;
        }
        const char *q = digits(ps, p + 2, e, base, &b);
        if (!q)
            goto out;
        if (q != e) {
            fail(ps, "'%s' is not a valid integer", tok);
            goto out;
        }
        errno = 0;
        unsigned long long u = strtoull(b.data, NULL, base);
        if (errno || u > (unsigned long long)INT64_MAX) {
            fail(ps, "'%s' is out of the 64-bit integer range", tok);
            goto out;
        }
        v = node_new(RGS_TOML_INTEGER, line);
        v->integer = (long long)u;
        ps->p = e;
        goto out;
    }
    const char *q = digits(ps, p, e, 10, &b);
    if (!q)
        goto out;
    if (q - p > 1 && *p == '0') {
        fail(ps, "'%s': leading zeros are not allowed", tok);
        goto out;
    }
    bool is_float = false;
    if (q < e && *q == '.') {
        is_float = true;
        rgs_buf_putc(&b, '.');
        q = digits(ps, q + 1, e, 10, &b);
        if (!q)
            goto out;
    }
    if (q < e && (*q == 'e' || *q == 'E')) {
        is_float = true;
        rgs_buf_putc(&b, 'e');
        q++;
        if (q < e && (*q == '+' || *q == '-'))
            rgs_buf_putc(&b, *q++);
        q = digits(ps, q, e, 10, &b);
        if (!q)
            goto out;
    }
    if (q != e) {
        fail(ps, "'%s' is not a valid number", tok);
        goto out;
    }
    errno = 0;
    if (is_float) {
        double d = strtod(b.data, NULL);
        if (errno == ERANGE && (d > 1 || d < -1)) {
            fail(ps, "'%s' is out of the float range", tok);
            goto out;
        }
        v = node_new(RGS_TOML_FLOAT, line);
        v->flt = d;
    } else {
        long long i = strtoll(b.data, NULL, 10);
        if (errno == ERANGE) {
            fail(ps, "'%s' is out of the 64-bit integer range", tok);
            goto out;
        }
        v = node_new(RGS_TOML_INTEGER, line);
        v->integer = i;
    }
    ps->p = e;
out:
    rgs_buf_free(&b);
    return v;
}

static bool word_at(const parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return false;
    int c = peek_at(ps, n);
    return !(bare_key_char(c) || c == '.' || c == '+' || c == ':');
}

/* inside an array: whitespace, newlines and comments */
static void skip_array_space(parser *ps)
{
    for (;;) {
        skip_ws(ps);
        skip_comment(ps);
        if (ps->failed || !eat_newline(ps))
            return;
    }
}

static rgs_toml *parse_value(parser *ps, int depth);

/* TOML "Array" */
static rgs_toml *parse_array(parser *ps, int depth)
{
    if (depth >= MAX_DEPTH) {
        fail(ps, "arrays nested deeper than %d levels", MAX_DEPTH);
        return NULL;
    }
    rgs_toml *a = node_new(RGS_TOML_ARRAY, ps->line);
    ps->p++;
    for (;;) {
        skip_array_space(ps);
        if (ps->failed)
            goto error;
        if (peek(ps) == ']') {
            ps->p++;
            return a;
        }
        rgs_toml *v = parse_value(ps, depth + 1);
        if (!v)
            goto error;
        array_push(a, v);
        skip_array_space(ps);
        if (ps->failed)
            goto error;
        if (peek(ps) == ',') {
            ps->p++;
            continue;
        }
        if (peek(ps) == ']') {
            ps->p++;
            return a;
        }
        if (at_end(ps))
            fail(ps, "unterminated array (missing ']')");
        else
            fail(ps, "expected ',' or ']' in an array");
        goto error;
    }
error:
    rgs_toml_free(a);
    return NULL;
}

static rgs_toml *parse_value(parser *ps, int depth)
{
    unsigned line = ps->line;
    int c = peek(ps);
    if (c == '"' || c == '\'') {
        char *s = parse_string(ps);
        if (!s)
            return NULL;
        rgs_toml *v = node_new(RGS_TOML_STRING, line);
        v->str = s;
        return v;
    }
    if (c == '[')
        return parse_array(ps, depth);
    if (word_at(ps, "true") || word_at(ps, "false")) {
        rgs_toml *v = node_new(RGS_TOML_BOOLEAN, line);
        v->boolean = c == 't';
        ps->p += v->boolean ? 4 : 5;
        return v;
    }
    return parse_number(ps, line);
}

/* [name] or [[name]] */
static rgs_toml *parse_header(parser *ps, rgs_toml *root)
{
    unsigned line = ps->line;
    bool aot = peek_at(ps, 1) == '[';
    ps->p += aot ? 2 : 1;
    skip_ws(ps);
    char *key = parse_key(ps);
    if (!key)
        return NULL;
    skip_ws(ps);
    if (peek(ps) != ']' || (aot && peek_at(ps, 1) != ']')) {
        fail(ps, "expected '%s' after the table name '%s'", aot ? "]]" : "]", key);
        free(key);
        return NULL;
    }
    ps->p += aot ? 2 : 1;
    snprintf(ps->table, sizeof ps->table, "%s", key);
    rgs_toml *have = table_lookup(root, key, NULL);
    rgs_toml *t = node_new(RGS_TOML_TABLE, line);
    if (aot) {
        if (!have) {
            have = node_new(RGS_TOML_ARRAY, line);
            have->tables = true;
            table_put(root, key, line, have);
            key = NULL;
        } else if (have->type != RGS_TOML_ARRAY || !have->tables) {
            fail(ps, "[[%s]]: '%s' is already defined (line %u) as a %s", key, key, have->line,
                 rgs_toml_type_name(have->type));
            goto error;
        }
        free(key);
        array_push(have, t);
        expect_eol(ps);
        return t;
    }
    if (have) {
        fail(ps, "[%s]: '%s' is already defined (line %u)", key, key, have->line);
        goto error;
    }
    table_put(root, key, line, t);
    expect_eol(ps);
    return t;
error:
    free(key);
    rgs_toml_free(t);
    return NULL;
}

/* Reject bytes that are not UTF-8 before anything else, naming the line. */
static bool check_utf8(parser *ps)
{
    const char *s = ps->p;
    while (s < ps->end) {
        const char *nl = memchr(s, '\n', (size_t)(ps->end - s));
        const char *e = nl ? nl : ps->end;
        if (!rgs_utf8_valid(s, (size_t)(e - s))) {
            fail(ps, "not valid UTF-8");
            return false;
        }
        if (!nl)
            break;
        s = nl + 1;
        ps->line++;
    }
    ps->line = 1;
    return true;
}

int rgs_toml_parse(const char *text, size_t len, rgs_toml **out, char *err, size_t errlen)
{
    parser ps = {text, text + len, 1, err, errlen, false, "", ""};
    if (errlen)
        err[0] = '\0';
    *out = NULL;
    rgs_toml *root = node_new(RGS_TOML_TABLE, 1);
    rgs_toml *cur = root;
    if (!check_utf8(&ps))
        goto error;
    /* a UTF-8 byte order mark is tolerated at the very start */
    if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
        ps.p += 3;
    while (!ps.failed) {
        skip_ws(&ps);
        skip_comment(&ps);
        if (ps.failed || at_end(&ps))
            break;
        if (eat_newline(&ps))
            continue;
        if (peek(&ps) == '[') {
            cur = parse_header(&ps, root);
            continue;
        }
        unsigned line = ps.line;
        char *key = parse_key(&ps);
        if (!key)
            break;
        if (peek(&ps) != '=') {
            fail(&ps, "expected '=' after the key '%s'", key);
            free(key);
            break;
        }
        if (table_lookup(cur, key, NULL)) {
            fail(&ps, "key '%s' is defined twice (first on line %u)", key,
                 rgs_toml_get_line(cur, key));
            free(key);
            break;
        }
        ps.p++;
        skip_ws(&ps);
        if (ps.table[0])
            snprintf(ps.key, sizeof ps.key, "%s.%s", ps.table, key);
        else
            snprintf(ps.key, sizeof ps.key, "%s", key);
        rgs_toml *v = parse_value(&ps, 0);
        if (!v) {
            free(key);
            break;
        }
        table_put(cur, key, line, v);
        expect_eol(&ps);
        ps.key[0] = '\0';
    }
    if (ps.failed)
        goto error;
    *out = root;
    return 0;
error:
    if (errlen && !err[0])
        snprintf(err, errlen, "line %u: syntax error", ps.line);
    rgs_toml_free(root);
    return -1;
}
