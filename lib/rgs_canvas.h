/* rgs_canvas: export an Obsidian canvas from the Relay plugin's canvas
 * document (relay.md §3.3) as bytes, in one of two formats:
 *
 *   RGS_CANVAS_PYTHON (default): what the original relay-git-sync writes
 *     (relay.md §5.8, relay_client.py _export_canvas_data), so existing
 *     repositories see no churn: json.dumps({"edges":[...],"nodes":[...]},
 *     indent=2, sort_keys=True) with Python's defaults (ensure_ascii,
 *     separators ", " / ": " with indent -> "," and ": ", float repr,
 *     NaN/Infinity literals, no trailing newline).  Edges and nodes are
 *     taken in sorted map-key order, then stably sorted by "id" (missing
 *     -> ""); a node whose string "id" names a root of the document gets
 *     "text" = that Y.Text if non-empty, else its own "text" (or "").
 *     Numbers are what pycrdt hands to json.dumps: yrs decodes Any
 *     integers (tag 125) and floats (124/123) into f64 and pycrdt turns
 *     every such number into a Python float, so they print with float
 *     repr ("-420.0"); only bigints (122) stay integers.
 *   RGS_CANVAS_PYTHON_INT: the same, but Any integers (125) print as
 *     integers (relay.md §5.8 as written there; not what pycrdt does).
 *   RGS_CANVAS_OBSIDIAN: the plugin's own on-disk format
 *     (Canvas.exportCanvasData + CanvasData.formatCanvasData):
 *     {"nodes":[...],"edges":[...]} in map iteration order, text cards'
 *     "text" replaced by their Y.Text when non-empty, tab indentation,
 *     a container holding only primitives printed on one line with
 *     JSON.stringify (no spaces), JavaScript number formatting and key
 *     order (integer-like keys first), no trailing newline.
 *
 * Values come as an rgs_cval tree (JSON plus the number kinds Yjs
 * distinguishes), built from a decoded document with rgs_cval_visitor and
 * rgs_ydoc_walk (lib/rgs_ydoc.h), or from JSON with rgs_cval_from_json.
 */
#ifndef RGS_CANVAS_H
#define RGS_CANVAS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rgs_util.h"
#include "rgs_ydoc.h"

enum rgs_canvas_format { RGS_CANVAS_PYTHON, RGS_CANVAS_PYTHON_INT, RGS_CANVAS_OBSIDIAN };

/* rgs_canvas_format_parse: "python", "python-int" or "obsidian" -> *out.
 * Returns false for anything else. */
bool rgs_canvas_format_parse(const char *s, enum rgs_canvas_format *out);

typedef enum {
    RGS_CV_UNDEFINED, RGS_CV_NULL, RGS_CV_BOOL,
    RGS_CV_INT,    /* Any tag 125 */
    RGS_CV_BIGINT, /* Any tag 122 */
    RGS_CV_FLOAT,  /* Any tags 124/123 */
    RGS_CV_NUMBER, /* a number from JSON text: a double */
    RGS_CV_STRING, RGS_CV_BINARY, RGS_CV_ARRAY, RGS_CV_OBJECT
} rgs_cv_type;

/* A value.  Objects keep their keys unique (a repeated key keeps its first
 * position and takes the last value, as a JavaScript object or Python dict
 * built from it) in insertion order. */
typedef struct rgs_cval {
    rgs_cv_type t;
    bool b;
    int64_t i;
    double f;
    char *s;                 /* STRING (UTF-8) / BINARY bytes, NUL-terminated copy */
    size_t n;                /* bytes at s */
    size_t len, cap;         /* ARRAY/OBJECT members */
    char **keys;             /* OBJECT: key bytes (NUL-terminated copies) */
    size_t *klen;
    struct rgs_cval **v;
} rgs_cval;

void rgs_cval_free(rgs_cval *v);

/* rgs_cval_from_json: the tree of a jansson value; integers become
 * RGS_CV_INT, reals RGS_CV_FLOAT.  Caller frees. */
rgs_cval *rgs_cval_from_json(const json_t *j);

/* Building from rgs_ydoc_walk: zero-initialise a builder, walk with
 * rgs_cval_visitor and the builder as context, then take the result with
 * rgs_cval_builder_take (caller frees; NULL if nothing complete was
 * delivered) and release the builder with rgs_cval_builder_free (also
 * after a failed walk).  Depth is bounded by RGS_YDOC_MAX_DEPTH. */
typedef struct {
    rgs_cval *root;
    rgs_cval **stack;
    size_t depth, cap;
    char *pending_key;       /* key waiting for its value */
    size_t pending_klen;
} rgs_cval_builder;
extern const rgs_yvisitor rgs_cval_visitor;
rgs_cval *rgs_cval_builder_take(rgs_cval_builder *b);
void rgs_cval_builder_free(rgs_cval_builder *b);

/* The canvas document seen through callbacks, so the exporter needs no
 * decoder: `nodes` and `edges` are the two root maps (NULL when the root
 * does not exist), `text(ctx, name, out)` appends the text of root `name`
 * and returns 0, or -1 when there is no such root, or -2 when that root is
 * not a text (a map or array: the original fails on it). */
typedef struct {
    const rgs_cval *nodes;
    const rgs_cval *edges;
    int (*text)(void *ctx, const char *name, rgs_buf *out);
    void *ctx;
} rgs_canvas_input;

/* rgs_canvas_render: append the export of `in` in format `f` to *out.
 * Returns 0, or -1 with a reason in why[200] (nothing appended) for data
 * the chosen exporter cannot handle: in the Python formats a node or edge
 * that is not an object, ids that are not strings when two or more items
 * are sorted, binary values (json.dumps raises on each, and the original
 * then writes nothing); in the Obsidian format a bigint (JSON.stringify
 * raises). */
int rgs_canvas_render(const rgs_canvas_input *in, enum rgs_canvas_format f, rgs_buf *out,
                      char why[200]);

/* rgs_canvas_export: the export of the canvas document `d` (relay.md
 * §3.3): roots "nodes" and "edges" read as maps, a node's text from the
 * root named by its id (a root that is a map or array counts as "not a
 * text", which the Python formats refuse).  Returns 1 and appends the
 * bytes to *out; 0 (nothing appended) when the document was never written
 * (00 00, or none of the roots nodes/edges/relay exist); -1 with why[200]
 * as rgs_canvas_render. */
int rgs_canvas_export(const rgs_ydoc *d, enum rgs_canvas_format f, rgs_buf *out, char why[200]);

/* Number and string formatting used by the exporters, exposed for tests:
 * rgs_fmt_py_float: Python's repr(float) (shortest round-trip digits;
 *   scientific when the decimal exponent is < -4 or >= 16, e.g. 1e+16,
 *   1e-05; ".0" for integral values; "NaN", "Infinity", "-Infinity" as
 *   json.dumps writes them).
 * rgs_fmt_js_number: ECMAScript Number::toString (1e+21, 1e-7, "0" for
 *   -0) and "null" for NaN/Infinity as JSON.stringify writes them.
 * rgs_fmt_py_string / rgs_fmt_js_string: a JSON string literal of `n`
 *   UTF-8 bytes, as json.dumps (ensure_ascii: \uXXXX with surrogate pairs)
 *   or JSON.stringify writes it; invalid UTF-8 is taken as U+FFFD. */
void rgs_fmt_py_float(double d, rgs_buf *out);
void rgs_fmt_js_number(double d, rgs_buf *out);
void rgs_fmt_py_string(const char *s, size_t n, rgs_buf *out);
void rgs_fmt_js_string(const char *s, size_t n, rgs_buf *out);

#endif
