/* Unit tests of lib/rgs_canvas: number/string formatting and rendering.
 *
 * Without arguments: TAP tests of values fixed by the language definitions
 * (Python's float repr and json.dumps, ECMAScript Number::toString and
 * JSON.stringify).  With arguments it is a filter that
 * tests/fetch/test-canvas-format.sh drives against python3 and node:
 *   --py-float / --js-number   one C99 hex float per line -> the formatted number
 *   --py-string / --js-string  one JSON string per line -> the string literal
 *   --render FORMAT            one JSON object {"nodes":{..},"edges":{..},
 *                              "texts":{root:text}} per line -> the export,
 *                              then a NUL byte ("ERROR: why" on failure)
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rgs_canvas.h"

static int n, failed;

static void is(const char *name, const char *got, const char *want)
{
    n++;
    if (strcmp(got, want) == 0) {
        printf("ok %d - %s\n", n, name);
    } else {
        failed++;
        printf("not ok %d - %s\n# got:  %s\n# want: %s\n", n, name, got, want);
    }
}

static void pyf(double d, const char *want)
{
    rgs_buf b = RGS_BUF_INIT;
    rgs_fmt_py_float(d, &b);
    char name[80];
    snprintf(name, sizeof name, "python repr %s", want);
    is(name, b.data, want);
    rgs_buf_free(&b);
}

static void jsn(double d, const char *want)
{
    rgs_buf b = RGS_BUF_INIT;
    rgs_fmt_js_number(d, &b);
    char name[80];
    snprintf(name, sizeof name, "JS number %s", want);
    is(name, b.data, want);
    rgs_buf_free(&b);
}

typedef struct {
    json_t *texts;
} tctx;

static int text_cb(void *ctx, const char *name, rgs_buf *out)
{
    json_t *t = json_object_get(((tctx *)ctx)->texts, name);
    if (!t)
        return -1;
    if (!json_is_string(t))
        return -2;
    rgs_buf_append(out, json_string_value(t), json_string_length(t));
    return 0;
}

static int render(const char *json, enum rgs_canvas_format f, rgs_buf *out, char why[200])
{
    json_error_t e;
    json_t *j = json_loads(json, JSON_ALLOW_NUL, &e);
    if (!j) {
        snprintf(why, 200, "bad JSON: %s", e.text);
        return -1;
    }
    json_t *jn = json_object_get(j, "nodes"), *je = json_object_get(j, "edges");
    rgs_cval *nodes = jn ? rgs_cval_from_json(jn) : NULL, *edges = je ? rgs_cval_from_json(je) : NULL;
    tctx c = {json_object_get(j, "texts")};
    rgs_canvas_input in = {nodes, edges, text_cb, &c};
    int rc = rgs_canvas_render(&in, f, out, why);
    rgs_cval_free(nodes);
    rgs_cval_free(edges);
    json_decref(j);
    return rc;
}

static int filter(int argc, char **argv)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    enum rgs_canvas_format f = RGS_CANVAS_PYTHON;
    if (!strcmp(argv[1], "--render") && (argc < 3 || !rgs_canvas_format_parse(argv[2], &f)))
        return 2;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = 0;
        rgs_buf b = RGS_BUF_INIT;
        if (!strcmp(argv[1], "--py-float") || !strcmp(argv[1], "--js-number")) {
            double d = strtod(line, NULL);
            if (argv[1][2] == 'p')
                rgs_fmt_py_float(d, &b);
            else
                rgs_fmt_js_number(d, &b);
            printf("%s\n", b.data);
        } else if (!strcmp(argv[1], "--py-string") || !strcmp(argv[1], "--js-string")) {
            json_error_t e;
            json_t *s = json_loads(line, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
            if (!json_is_string(s))
                return 2;
            if (argv[1][2] == 'p')
                rgs_fmt_py_string(json_string_value(s), json_string_length(s), &b);
            else
                rgs_fmt_js_string(json_string_value(s), json_string_length(s), &b);
            json_decref(s);
            printf("%s\n", b.data);
        } else if (!strcmp(argv[1], "--render")) {
            char why[200];
            if (render(line, f, &b, why) < 0)
                printf("ERROR: %s", why);
            else
                fwrite(b.data ? b.data : "", 1, b.len, stdout);
            putchar(0);
        } else {
            return 2;
        }
        rgs_buf_free(&b);
    }
    free(line);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return filter(argc, argv);

    /* Python repr(float), json.dumps for the special values */
    pyf(0.1, "0.1");
    pyf(-420, "-420.0");
    pyf(3000000000.0, "3000000000.0");
    pyf(1e16, "1e+16");
    pyf(1234567890123456.0, "1234567890123456.0");
    pyf(1e-5, "1e-05");
    pyf(0.0001, "0.0001");
    pyf(1.5e-7, "1.5e-07");
    pyf(-0.0, "-0.0");
    pyf(0.0, "0.0");
    pyf(1e300 * 1e300, "Infinity");
    pyf(-1e300 * 1e300, "-Infinity");
    pyf(NAN, "NaN");
    pyf(2.5e100, "2.5e+100");
    pyf(5e-324, "5e-324");
    pyf(1.7976931348623157e308, "1.7976931348623157e+308");

    /* ECMAScript Number::toString, JSON.stringify for the special values */
    jsn(-420, "-420");
    jsn(0.1, "0.1");
    jsn(1e21, "1e+21");
    jsn(1e20, "100000000000000000000");
    jsn(1e-7, "1e-7");
    jsn(0.000001, "0.000001");
    jsn(-0.0, "0");
    jsn(NAN, "null");
    jsn(1.5e300, "1.5e+300");
    jsn(123.456, "123.456");

    rgs_buf b = RGS_BUF_INIT;
    rgs_fmt_py_string("Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80\n\"\\\x7f\x01", 17, &b);
    is("python string: ensure_ascii, surrogate pair, escapes", b.data,
       "\"Gr\\u00fc\\u00dfe \\ud83d\\ude80\\n\\\"\\\\\\u007f\\u0001\"");
    rgs_buf_reset(&b);
    rgs_fmt_js_string("Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80\n\"\\\x7f\x01", 17, &b);
    is("JS string: raw UTF-8, short escapes, \\u0001", b.data,
       "\"Gr\xc3\xbc\xc3\x9f" "e \xf0\x9f\x9a\x80\\n\\\"\\\\\x7f\\u0001\"");
    rgs_buf_reset(&b);
    rgs_fmt_py_string("a\xff" "b", 3, &b);
    is("invalid UTF-8 becomes U+FFFD", b.data, "\"a\\ufffdb\"");

    char why[200];
    rgs_buf_reset(&b);
    render("{}", RGS_CANVAS_PYTHON, &b, why);
    is("empty canvas, python", b.data, "{\n  \"edges\": [],\n  \"nodes\": []\n}");
    rgs_buf_reset(&b);
    render("{}", RGS_CANVAS_OBSIDIAN, &b, why);
    is("empty canvas, obsidian", b.data, "{\n\t\"nodes\":[],\n\t\"edges\":[]\n}");
    rgs_buf_reset(&b);
    render("{\"nodes\":{\"b\":{\"id\":\"b\",\"x\":1,\"type\":\"text\",\"text\":\"old\"},"
           "\"a\":{\"id\":\"a\",\"x\":2.5,\"type\":\"file\"}},\"texts\":{\"b\":\"new\",\"a\":\"\"}}",
           RGS_CANVAS_PYTHON, &b, why);
    is("python: sorted by id, Y.Text wins, empty text root gives \"\", ints as floats", b.data,
       "{\n  \"edges\": [],\n  \"nodes\": [\n    {\n      \"id\": \"a\",\n      \"text\": \"\",\n"
       "      \"type\": \"file\",\n      \"x\": 2.5\n    },\n    {\n      \"id\": \"b\",\n"
       "      \"text\": \"new\",\n      \"type\": \"text\",\n      \"x\": 1.0\n    }\n  ]\n}");
    rgs_buf_reset(&b);
    render("{\"nodes\":{\"b\":{\"id\":\"b\",\"x\":1,\"type\":\"text\",\"text\":\"old\"},"
           "\"a\":{\"id\":\"a\",\"x\":2.5,\"type\":\"file\",\"2\":null,\"10\":true,\"1\":[1,{}]}},\"texts\":{\"b\":\"new\"}}",
           RGS_CANVAS_OBSIDIAN, &b, why);
    is("obsidian: map order, index keys first, nested containers expand", b.data,
       "{\n\t\"nodes\":[\n\t\t{\"id\":\"b\",\"x\":1,\"type\":\"text\",\"text\":\"new\"},\n\t\t{\n"
       "\t\t\t\"1\":[\n\t\t\t\t1,\n\t\t\t\t{}\n\t\t\t],\n\t\t\t\"2\":null,\n\t\t\t\"10\":true,\n"
       "\t\t\t\"id\":\"a\",\n\t\t\t\"x\":2.5,\n\t\t\t\"type\":\"file\"\n\t\t}\n\t],\n\t\"edges\":[]\n}");
    rgs_buf_reset(&b);
    is("python: a node that is not an object is refused",
       render("{\"nodes\":{\"a\":5}}", RGS_CANVAS_PYTHON, &b, why) < 0 ? "refused" : "accepted", "refused");
    rgs_buf_free(&b);

    printf("1..%d\n", n);
    return failed != 0;
}
