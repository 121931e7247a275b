/* rgs_record: see rgs_record.h. */
#include "rgs_record.h"
#include "rgs_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct rgs_reader {
    FILE *in;
    char *name;
    size_t max_line;
    char *line;
    size_t cap;
    unsigned long lineno;
    bool bad_v;
};

rgs_reader *rgs_reader_new(FILE *in, const char *name, size_t max_line)
{
    rgs_reader *r = rgs_xcalloc(1, sizeof *r);
    r->in = in;
    r->name = rgs_xstrdup(name ? name : "stdin");
    r->max_line = max_line ? max_line : RGS_RECORD_MAX_LINE;
    return r;
}

void rgs_reader_free(rgs_reader *r)
{
    if (!r)
        return;
    free(r->name);
    free(r->line);
    free(r);
}

bool rgs_reader_bad_v(const rgs_reader *r) { return r->bad_v; }
unsigned long rgs_reader_line(const rgs_reader *r) { return r->lineno; }

int rgs_reader_next(rgs_reader *r, json_t **rec, const char **type)
{
    *rec = NULL;
    *type = NULL;
    r->bad_v = false;
    for (;;) {
        errno = 0;
        ssize_t n = getline(&r->line, &r->cap, r->in);
        if (n < 0) {
            if (ferror(r->in)) {
                rgs_error("read records '%s': %s", r->name, strerror(errno));
                clearerr(r->in);
                return -1;
            }
            return 0;
        }
        r->lineno++;
        size_t len = (size_t)n;
        while (len && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r'))
            len--;
        if (len == 0)
            continue;
        if (len > r->max_line) {
            rgs_error("record '%s' line %lu: longer than %zu bytes", r->name, r->lineno,
                      r->max_line);
            return -1;
        }
        json_error_t err;
        json_t *j = json_loadb(r->line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
        if (!j) {
            rgs_error("record '%s' line %lu: invalid JSON at byte %d: %s", r->name, r->lineno,
                      err.position, err.text);
            return -1;
        }
        if (!json_is_object(j)) {
            rgs_error("record '%s' line %lu: not a JSON object", r->name, r->lineno);
            json_decref(j);
            return -1;
        }
        json_t *v = json_object_get(j, "v");
        json_t *t = json_object_get(j, "type");
        if (!json_is_integer(v) || !json_is_string(t)) {
            rgs_error("record '%s' line %lu: missing \"v\" (integer) or \"type\" (string)",
                      r->name, r->lineno);
            json_decref(j);
            return -1;
        }
        if (json_integer_value(v) != RGS_RECORD_V) {
            rgs_error("record '%s' line %lu: schema version %lld, this program speaks %d",
                      r->name, r->lineno, (long long)json_integer_value(v), RGS_RECORD_V);
            r->bad_v = true;
            json_decref(j);
            return -1;
        }
        *rec = j;
        *type = json_string_value(t);
        return 1;
    }
}

json_t *rgs_record_new(const char *type)
{
    json_t *j = json_object();
    json_object_set_new(j, "v", json_integer(RGS_RECORD_V));
    json_object_set_new(j, "type", json_string(type));
    return j;
}

int rgs_emit(FILE *out, json_t *rec)
{
    if (json_dumpf(rec, out, JSON_COMPACT) < 0 || fputc('\n', out) == EOF || fflush(out) == EOF) {
        rgs_error("write record: %s", strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

const char *rgs_rec_str(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

long long rgs_rec_int(const json_t *rec, const char *key, long long def)
{
    json_t *j = json_object_get(rec, key);
    return json_is_integer(j) ? (long long)json_integer_value(j) : def;
}

double rgs_rec_num(const json_t *rec, const char *key, double def)
{
    json_t *j = json_object_get(rec, key);
    return json_is_number(j) ? json_number_value(j) : def;
}

bool rgs_rec_bool(const json_t *rec, const char *key, bool def)
{
    json_t *j = json_object_get(rec, key);
    return json_is_boolean(j) ? json_is_true(j) : def;
}

const char *rgs_rec_uuid(const json_t *rec, const char *key)
{
    const char *s = rgs_rec_str(rec, key);
    if (!s || !rgs_uuid_valid(s))
        return NULL;
    for (const char *p = s; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            return NULL; /* records carry lower-case ids only */
    return s;
}

json_t *rgs_failed_new(const json_t *input, bool temporary, const char *fmt, ...)
{
    json_t *f = rgs_record_new("failed");
    static const char *keep[] = {"ref", "relay", "folder", "doc", "path", "op"};
    if (input)
        for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
            json_t *x = json_object_get(input, keep[i]);
            if (x)
                json_object_set(f, keep[i], x);
        }
    json_object_set_new(f, "stage", json_string(rgs_progname()));
    va_list ap;
    va_start(ap, fmt);
    char *reason = NULL;
    if (vasprintf(&reason, fmt, ap) < 0)
        reason = NULL;
    va_end(ap);
    json_object_set_new(f, "reason", json_string(reason ? reason : "unknown"));
    free(reason);
    json_object_set_new(f, "temporary", json_boolean(temporary));
    return f;
}
