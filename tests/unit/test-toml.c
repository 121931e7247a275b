/* Unit tests for rgs_toml.  TAP output.
 *
 *   test-toml            the cases below (expected values written from the
 *                        TOML 1.0.0 specification's own examples)
 *   test-toml --json F   parse file F and print it as JSON (strings, JSON
 *                        integers, JSON reals, booleans, objects, arrays);
 *                        exit 1 with the error on stderr when F is refused.
 *                        tests/git/test-toml-python.sh compares this with
 *                        Python's tomllib (an independent TOML 1.0 parser).
 */
#include "rgs_toml.h"
#include "rgs_util.h"
#include "tap.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static rgs_toml *parse(const char *s, char *err, size_t errlen)
{
    rgs_toml *t = NULL;
    if (rgs_toml_parse(s, strlen(s), &t, err, errlen) < 0)
        return NULL;
    return t;
}

/* `s` must be refused with an error "line LINE: KEY: ..." (just "line LINE: "
   when key is NULL) that contains `needle` */
static void refused_key(const char *s, unsigned line, const char *key, const char *needle,
                        const char *name)
{
    char err[300], want[300];
    rgs_toml *t = parse(s, err, sizeof err);
    if (key)
        snprintf(want, sizeof want, "line %u: %s: ", line, key);
    else
        snprintf(want, sizeof want, "line %u: ", line);
    int good = !t && !strncmp(err, want, strlen(want)) && strstr(err, needle);
    ok(good, name);
    if (!good)
        printf("# got: %s\n", t ? "(accepted)" : err);
    rgs_toml_free(t);
}

#define refused(s, line, needle, name) refused_key(s, line, NULL, needle, name)

static void test_basics(void)
{
    char err[300];
    rgs_toml *t = parse("# comment\n"
                        "title = \"TOML \\\"Example\\\"\" # trailing comment\n"
                        "'quoted key' = 'C:\\Users\\nodejs'\n"
                        "\"bare-ish\" = 1\n"
                        "int1 = +99\nint2 = -17\nint3 = 1_000\nhex = 0xDEAD_beef\noct = 0o755\n"
                        "bin = 0b1101\nf1 = 3.1415\nf2 = -0.01\nf3 = 5e+22\nf4 = 6.626e-34\n"
                        "f5 = 224_617.445_991\nyes = true\nno = false\n"
                        "arr = [ 1, 'two', [3.0], ]\n"
                        "multi = [\n  \"a\", # c\n\n  \"b\"\n]\n"
                        "uni = \"\\u00e9\\U0001F600\\t\"\n"
                        "\n[server]\nhost = \"x\"\r\n"
                        "[[item]]\nname = \"a\"\n[[item]]\nname = \"b\"\n",
                        err, sizeof err);
    ok(t != NULL, "spec examples accepted");
    if (!t) {
        printf("# %s\n", err);
        return;
    }
    const rgs_toml *v;
    v = rgs_toml_get(t, "title");
    ok(v && v->type == RGS_TOML_STRING && !strcmp(v->str, "TOML \"Example\"") && v->line == 2,
       "basic string with escapes, line");
    v = rgs_toml_get(t, "quoted key");
    ok(v && !strcmp(v->str, "C:\\Users\\nodejs"), "literal string, quoted key");
    v = rgs_toml_get(t, "bare-ish");
    ok(v && v->type == RGS_TOML_INTEGER && v->integer == 1, "quoted basic key");
    ok(rgs_toml_get(t, "int1")->integer == 99 && rgs_toml_get(t, "int2")->integer == -17 &&
           rgs_toml_get(t, "int3")->integer == 1000,
       "decimal integers");
    ok(rgs_toml_get(t, "hex")->integer == 0xDEADBEEF && rgs_toml_get(t, "oct")->integer == 0755 &&
           rgs_toml_get(t, "bin")->integer == 13,
       "hex/oct/bin integers");
    ok(rgs_toml_get(t, "f1")->type == RGS_TOML_FLOAT && rgs_toml_get(t, "f1")->flt == 3.1415 &&
           rgs_toml_get(t, "f2")->flt == -0.01 && rgs_toml_get(t, "f3")->flt == 5e22 &&
           rgs_toml_get(t, "f4")->flt == 6.626e-34 && rgs_toml_get(t, "f5")->flt == 224617.445991,
       "floats");
    ok(rgs_toml_get(t, "yes")->boolean && !rgs_toml_get(t, "no")->boolean &&
           rgs_toml_get(t, "no")->type == RGS_TOML_BOOLEAN,
       "booleans");
    v = rgs_toml_get(t, "arr");
    ok(v && v->type == RGS_TOML_ARRAY && v->n == 3 && v->items[0]->integer == 1 &&
           !strcmp(v->items[1]->str, "two") && v->items[2]->type == RGS_TOML_ARRAY &&
           v->items[2]->items[0]->flt == 3.0,
       "mixed array with trailing comma");
    v = rgs_toml_get(t, "multi");
    ok(v && v->n == 2 && !strcmp(v->items[1]->str, "b"), "array over lines with comments");
    v = rgs_toml_get(t, "uni");
    ok(v && !strcmp(v->str, "\xC3\xA9\xF0\x9F\x98\x80\t"), "unicode escapes to UTF-8");
    v = rgs_toml_get(t, "server");
    ok(v && v->type == RGS_TOML_TABLE && !strcmp(rgs_toml_get(v, "host")->str, "x"),
       "table, CRLF line end");
    ok(rgs_toml_get_line(t, "server") == 26, "table header line");
    v = rgs_toml_get(t, "item");
    ok(v && v->type == RGS_TOML_ARRAY && v->tables && v->n == 2 &&
           !strcmp(rgs_toml_get(v->items[1], "name")->str, "b") && v->items[1]->line == 30,
       "array of tables");
    ok(!rgs_toml_get(t, "nope") && !rgs_toml_get(NULL, "x") && rgs_toml_get_line(t, "nope") == 0,
       "missing key");
    rgs_toml_free(t);

    t = parse("", err, sizeof err);
    ok(t && t->type == RGS_TOML_TABLE && t->n == 0, "empty file");
    rgs_toml_free(t);
    t = parse("\xEF\xBB\xBF" "a = 1", err, sizeof err);
    ok(t && rgs_toml_get(t, "a") && rgs_toml_get(t, "a")->integer == 1, "BOM, no final newline");
    rgs_toml_free(t);
    t = parse("a = 9223372036854775807\nb = -9223372036854775808\n", err, sizeof err);
    ok(t && rgs_toml_get(t, "a")->integer == 9223372036854775807LL &&
           rgs_toml_get(t, "b")->integer == (-9223372036854775807LL - 1),
       "64-bit limits");
    rgs_toml_free(t);
}

static void test_refusals(void)
{
    refused("a = 1\na = 2\n", 2, "defined twice", "duplicate key");
    refused("[t]\nx=1\n[t]\n", 3, "already defined", "table twice");
    refused("[[t]]\n[t]\n", 2, "already defined", "table after array of tables");
    refused("t = 1\n[[t]]\n", 2, "already defined", "array of tables over a value");
    refused("a.b = 1\n", 1, "dotted keys", "dotted key");
    refused("[a.b]\n", 1, "dotted keys", "dotted table name");
    refused_key("a = {x = 1}\n", 1, "a", "inline tables", "inline table");
    refused_key("\n\na = \"\"\"x\"\"\"\n", 3, "a", "multi-line", "multi-line basic string");
    refused_key("a = '''x'''\n", 1, "a", "multi-line", "multi-line literal string");
    refused_key("d = 1979-05-27\n", 1, "d", "dates", "date");
    refused_key("d = 1979-05-27T07:32:00Z\n", 1, "d", "dates", "date-time");
    refused_key("d = 07:32:00\n", 1, "d", "dates", "time");
    refused_key("f = inf\n", 1, "f", "inf and nan", "inf");
    refused_key("f = -nan\n", 1, "f", "inf and nan", "nan");
    refused_key("f = +inf\n", 1, "f", "inf and nan", "+inf");
    refused_key("a = \"x\n", 1, "a", "unterminated", "unterminated string");
    refused_key("a = \"\\q\"\n", 1, "a", "invalid escape", "bad escape");
    refused_key("a = \"\\uD800\"\n", 1, "a", "scalar", "surrogate escape");
    refused_key("a = \"\\u0000\"\n", 1, "a", "U+0000", "NUL escape");
    refused_key("a = \"\\u12\"\n", 1, "a", "hex digits", "short \\u");
    refused_key("a = \"x\x01\"\n", 1, "a", "control", "control char in string");
    refused("# x\x7f\n", 1, "control", "DEL in comment");
    refused_key("a = 1 b = 2\n", 1, "a", "unexpected 'b'", "two pairs on a line");
    refused_key("a = 1\rb = 2\n", 1, "a", "carriage return", "lone CR");
    refused_key("a = 012\n", 1, "a", "leading zeros", "leading zero");
    refused_key("a = 1__0\n", 1, "a", "'_'", "double underscore");
    refused_key("a = _1\n", 1, "a", "digit", "leading underscore");
    refused_key("a = 1_\n", 1, "a", "'_'", "trailing underscore");
    refused_key("a = +0x10\n", 1, "a", "sign", "signed hex");
    refused_key("a = 0x\n", 1, "a", "digit", "empty hex");
    refused_key("a = 9223372036854775808\n", 1, "a", "range", "integer overflow");
    refused_key("a = 0xffffffffffffffffff\n", 1, "a", "range", "hex overflow");
    refused_key("a = 1e999\n", 1, "a", "range", "float overflow");
    refused_key("a = 1.\n", 1, "a", "digit", "float without fraction digits");
    refused_key("a = .5\n", 1, "a", "digit", "float without integer part");
    refused_key("a = \n", 1, "a", "missing value", "missing value");
    refused("a\n", 1, "expected '='", "missing =");
    refused("= 1\n", 1, "expected a key", "missing key");
    refused_key("a = [1, 2\n", 2, "a", "unterminated array", "unterminated array");
    refused_key("a = [1 2]\n", 1, "a", "expected ','", "array without comma");
    refused_key("a = [[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]\n", 1, "a", "nested", "deep nesting");
    refused("[t\n", 1, "expected ']'", "unclosed header");
    refused("[[t]\n", 1, "expected ']]'", "unclosed array header");
    refused_key("a = tru\n", 1, "a", "not a valid value", "misspelt boolean");
    refused("ok = 1\nbad = \"\xC3\x28\"\n", 2, "UTF-8", "invalid UTF-8 names its line");
    refused_key("a = \"x\"\n\n\n[t]\nk = nope\n", 5, "t.k", "not a valid", "line numbers count LF");
    refused_key("[[git_connector]]\nurl = 'x\n", 2, "git_connector.url", "unterminated",
                "unterminated literal string names the dotted key");
    refused_key("[[git_connector]]\nurl = \"x\\", 2, "git_connector.url", "unterminated",
                "string ending in a backslash names the dotted key");
    refused_key("[sync]\nmax_delete_count = nope\n", 2, "sync.max_delete_count", "not a valid",
                "bare word names the dotted key");
    refused("[t]\nk\n", 2, "expected '='", "no key named before '='");
    refused_key("a = 1\r\nb = [\r\n1,\r\n2,,\r\n]\r\n", 4, "b", "", "line numbers count CRLF");
}

static json_t *to_json(const rgs_toml *v)
{
    switch (v->type) {
    case RGS_TOML_STRING: return json_string(v->str);
    case RGS_TOML_INTEGER: return json_integer(v->integer);
    case RGS_TOML_FLOAT: return json_real(v->flt);
    case RGS_TOML_BOOLEAN: return json_boolean(v->boolean);
    case RGS_TOML_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < v->n; i++)
            json_array_append_new(a, to_json(v->items[i]));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (size_t i = 0; i < v->n; i++)
            json_object_set_new(o, v->keys[i], to_json(v->items[i]));
        return o;
    }
    }
}

static int dump(const char *path)
{
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_read_file(AT_FDCWD, path, &b, 0) < 0) {
        perror(path);
        return 2;
    }
    char err[300];
    rgs_toml *t;
    int rc = rgs_toml_parse(b.data, b.len, &t, err, sizeof err);
    rgs_buf_free(&b);
    if (rc < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    json_t *j = to_json(t);
    rgs_toml_free(t);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    puts(s);
    free(s);
    json_decref(j);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--json"))
        return dump(argv[2]);
    test_basics();
    test_refusals();
    return tap_done();
}
