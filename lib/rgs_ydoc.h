/* rgs_ydoc: read a Yjs document state (update format v1) and materialize
 * its root types as text or JSON.
 *
 * Specification: /work/shared/reference/yjs.md (cited below as "yjs.md §N").
 * The bytes are what Relay Server returns for GET /d/{id}/as-update, i.e.
 * Y.encodeStateAsUpdate(doc) (yjs.md §1).  Decoding parses the struct
 * section (§3), integrates every struct into a fresh in-memory document in
 * yjs's order with the YATA rule (§5.4, §5.5), applies the delete set
 * (§5.6) and keeps the result for the materializers (§6).  The result
 * equals what a fresh yjs 13.6 Y.Doc shows after Y.applyUpdate(doc, bytes).
 *
 * Linking: one module.  A tool that uses it declares
 *     rgs-x_LIBS := ydoc util ...      rgs-x_PKGS := jansson ...
 * (jansson validates the JSON text inside Embed/Format/JSON contents,
 * yjs.md §3.2, as yjs's JSON.parse does.)
 *
 * Thread safety: a decoded document is read-only; any number of threads
 * may materialize from it at once.  Different documents are independent.
 */
#ifndef RGS_YDOC_H
#define RGS_YDOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rgs_util.h"

typedef struct rgs_ydoc rgs_ydoc;

/* Where and why decoding failed.  offset: index (0-based, bytes) into the
 * input of the byte at which the problem was found; msg: one line of text
 * without the offset, e.g. "truncated: varUint needs more bytes". */
typedef struct {
    size_t offset;
    char msg[200];
} rgs_ydoc_err;

/* Limits of this implementation (documented in rgs-ydoc(1)).
 * RGS_YDOC_MAX_DEPTH: nesting of Any arrays/objects (yjs.md §2.6) and of
 * shared types inside shared types; deeper input is refused with an error.
 * RGS_YDOC_MAX_INPUT: input size in bytes (offsets are kept in 32 bits). */
#define RGS_YDOC_MAX_DEPTH 1000
#define RGS_YDOC_MAX_INPUT 0xFFFFFFF0u

/* rgs_ydoc_decode: parse and integrate one v1 document snapshot.
 * Input: p[0..n) the update bytes (not retained: the document keeps its own
 * copy).  Output: *out a new document (free with rgs_ydoc_free) on success.
 * Returns 0, or -1 when the bytes are not a valid v1 snapshot; then *out is
 * NULL and *err (if err is not NULL) names the byte offset and the reason.
 * Refused (yjs.md §2, §3, §7, §8): v2 updates (first byte 0 and length not
 * 2), truncated input, trailing bytes, unknown struct/content/type refs
 * (type refs 7, 9, 15 and >6 included), unknown Any tags, invalid UTF-8 in
 * strings, invalid JSON text in Embed/Format/JSON contents, varUints that
 * do not fit 64 bits or run longer than 10 bytes, client ids > 2^53-1,
 * clocks beyond 2^53, a client with two struct blocks, counts and lengths
 * larger than the remaining input can hold, nesting deeper than
 * RGS_YDOC_MAX_DEPTH.  Missing dependencies and Skip structs are not
 * errors: the structs that depend on them stay pending and are invisible,
 * exactly as in yjs (§5.5); so are delete ranges beyond what is known.
 * Memory: proportional to n (no allocation is sized by an unchecked
 * count).  Recursion depth is bounded by RGS_YDOC_MAX_DEPTH. */
int rgs_ydoc_decode(const uint8_t *p, size_t n, rgs_ydoc **out, rgs_ydoc_err *err);

/* rgs_ydoc_never_written: true if the update was exactly `00 00` (zero
 * struct blocks, empty delete set): the Relay answer for a document that
 * nobody ever wrote (yjs.md §1).  Callers must not treat it as "empty
 * content" (DESIGN.md: an unsynced document never wipes a file). */
bool rgs_ydoc_never_written(const rgs_ydoc *d);

/* rgs_ydoc_pending: number of structs (GC and items, Skip not counted) that
 * were parsed but could not be integrated because a dependency is missing
 * (yjs.md §5.5).  0 for every complete snapshot.  Diagnostics only. */
size_t rgs_ydoc_pending(const rgs_ydoc *d);

/* Root types (yjs.md §4, §7.14): every name that appears as a root parent
 * in the struct section, pending and deleted structs included, in the order
 * of first appearance in the bytes.  rgs_ydoc_root_name returns a
 * NUL-terminated UTF-8 string owned by the document (valid until
 * rgs_ydoc_free), or NULL when i >= rgs_ydoc_root_count(d).  A root name
 * may contain NUL bytes in theory; such a root is listed but can only be
 * found by index (rgs_ydoc_root_name_len gives its true length). */
size_t rgs_ydoc_root_count(const rgs_ydoc *d);
const char *rgs_ydoc_root_name(const rgs_ydoc *d, size_t i);
size_t rgs_ydoc_root_name_len(const rgs_ydoc *d, size_t i);
bool rgs_ydoc_has_root(const rgs_ydoc *d, const char *name);

/* What the caller wants a root to be (the update does not say, yjs.md
 * §6.1).  RGS_YKIND_GUESS applies the documented guess below. */
enum rgs_ykind { RGS_YKIND_GUESS, RGS_YKIND_TEXT, RGS_YKIND_MAP, RGS_YKIND_ARRAY };

/* rgs_ydoc_guess_kind: the guess of yjs.md §6.1 for root `name`: its
 * sequence list holds a String, Format or Embed item (deleted or not) ->
 * TEXT; else any other item except ContentDeleted -> ARRAY; else it has
 * keyed items -> MAP; else RGS_YKIND_GUESS ("no evidence": empty, never
 * integrated, or only garbage-collected content).  It is a guess: a Y.Text
 * may carry keys (setAttribute), a fully deleted text looks like an empty
 * array.  Also RGS_YKIND_GUESS for an unknown root. */
enum rgs_ykind rgs_ydoc_guess_kind(const rgs_ydoc *d, const char *name);

/* rgs_ydoc_text: append to *out the text of root `root` read as a Y.Text
 * (YText.toString(), yjs.md §6.2): the UTF-8 concatenation of every
 * undeleted String item in list order; formats, embeds and nested types are
 * skipped.  Half surrogate pairs have become U+FFFD as in yjs (§4).
 * Returns 0, or -1 (nothing appended) when there is no such root. */
int rgs_ydoc_text(const rgs_ydoc *d, const char *root, rgs_buf *out);

/* Flags for rgs_ydoc_json. */
#define RGS_YJSON_TYPED_NUMBERS 1u /* floats (Any tags 123/124) always carry '.' or an exponent,
                                      integers (125/122) never, so jansson sees real vs integer;
                                      a float -0 prints as -0.0 */
#define RGS_YJSON_JS_ORDER 2u      /* objects in JSON.stringify's member order (below), not
                                      Map.keys()/encoded order */

/* rgs_ydoc_json: append to *out one JSON text: the value of root `root`
 * viewed as kind `k` (GUESS: rgs_ydoc_guess_kind; no evidence -> null),
 * as JSON.stringify(ytype.toJSON()) prints it (yjs.md §6, §6.5):
 *   TEXT  -> a JSON string (rgs_ydoc_text);
 *   MAP   -> an object; deleted keys and keys whose value is undefined
 *            left out;
 *   ARRAY -> an array of every element of the undeleted countable items;
 *            undefined elements print as null.
 * Nested Y.Map/Y.Array/Y.Text print recursively as object/array/string;
 * XML types print as the concatenated plain text of their String items
 * (YXmlHook as an object, it is a Y.Map).  Members of a Y.Map come in
 * yjs's Map.keys() order (order of first integration, §6.3), of an Any
 * object in encoded order (a repeated key: first position, last value).
 * With RGS_YJSON_JS_ORDER, every object's members come in the order
 * JSON.stringify gives the plain object toJSON() builds (ECMA-262
 * OrdinaryOwnPropertyKeys): keys that are array indices
 * (rgs_ydoc_js_key) first, ascending, then the others in the order
 * above; the two differ only for integer-like keys.  Numbers: shortest
 * round-trip decimal, JavaScript's Number.prototype.toString rules (1e+21,
 * 1e-7, 100000000000000000000); NaN and +-Infinity print as null; -0 as 0
 * (but see RGS_YJSON_TYPED_NUMBERS).  Bigints (Any tag 122) print as bare
 * integer literals (JSON.stringify would throw).  Binary (Uint8Array)
 * prints as JSON.stringify prints a Uint8Array: an object mapping "0", "1",
 * ... to the byte values.  A sub-document prints as {} (Y.Doc.toJSON of an
 * unloaded doc).  Strings are escaped like JSON.stringify (", \, control
 * characters; everything else raw UTF-8).
 * Returns 0, or -1 (nothing appended) when there is no such root. */
int rgs_ydoc_json(const rgs_ydoc *d, const char *root, enum rgs_ykind k, unsigned flags, rgs_buf *out);

/* rgs_ydoc_root_json: rgs_ydoc_json of the root at index i (0 ..
 * rgs_ydoc_root_count(d) - 1, the order of rgs_ydoc_root_name), so that a
 * root whose name contains NUL bytes can be printed too.  Returns 0, or -1
 * (nothing appended) when i is out of range. */
int rgs_ydoc_root_json(const rgs_ydoc *d, size_t i, enum rgs_ykind k, unsigned flags, rgs_buf *out);

/* JavaScript's property order (ECMA-262 OrdinaryOwnPropertyKeys, which
 * JSON.stringify follows): array-index names first, ascending, then the
 * others in creation order.  An array index (ECMA-262 §6.1.7) is the
 * canonical decimal form of an integer 0 .. 2^32-2: digits only, no
 * leading zero except "0" itself ("7" is one; "07", "-1", "4294967295"
 * are not).  rgs_ydoc_js_key fills *key for the name
 * name[0..n) (bytes) created at position pos (any increasing number).
 * rgs_ydoc_js_key_cmp is a qsort(3) comparator for arrays of structs whose
 * FIRST member is an rgs_yjs_key: negative, 0 or positive as a comes
 * before, at (same pos) or after b. */
typedef struct {
    size_t pos;
    uint32_t ix;
    bool is_ix;
} rgs_yjs_key;
void rgs_ydoc_js_key(rgs_yjs_key *key, const char *name, size_t n, size_t pos);
int rgs_ydoc_js_key_cmp(const void *a, const void *b);

/* rgs_ydoc_json_string: append s[0..n) (UTF-8) to *out as a JSON string
 * escaped the way JSON.stringify does it (", \, control characters; all
 * other characters raw).  For callers that build JSON around
 * rgs_ydoc_json output (root names as keys). */
void rgs_ydoc_json_string(rgs_buf *out, const char *s, size_t n);

/* Value walk: the same values rgs_ydoc_json prints, delivered as events, for
 * callers that need more than JSON text (exact integers, binary bytes,
 * sub-document guids, whether an object is a Y.Map or a plain value). */
enum rgs_yvtype {
    RGS_YV_UNDEFINED, /* Any tag 127, ContentJSON "undefined", a Format item read as a value */
    RGS_YV_NULL,      /* Any tag 126, JSON null */
    RGS_YV_BOOL,      /* .b: Any tags 120/121, JSON true/false */
    RGS_YV_INT,       /* .i: Any tag 125 (varInt, sign-magnitude, |i| < 2^63) */
    RGS_YV_BIGINT,    /* .i: Any tag 122 (int64) */
    RGS_YV_FLOAT,     /* .f: Any tags 124 (float32 widened exactly) and 123 */
    RGS_YV_NUMBER,    /* .f: a number from JSON text (Embed, ContentJSON): JS has only doubles */
    RGS_YV_STRING,    /* .s/.n: UTF-8 (Any string, JSON string, Y.Text/XML text, a String unit) */
    RGS_YV_BINARY,    /* .s/.n: raw bytes (Any tag 116, ContentBinary) */
    RGS_YV_SUBDOC,    /* .s/.n: the guid of a sub-document (ContentDoc) */
};
typedef struct {
    enum rgs_yvtype type;
    bool b;
    int64_t i;
    double f;
    const char *s; /* not NUL-terminated; valid during the callback only */
    size_t n;      /* bytes at s */
} rgs_yval;

/* Containers: `shared` is true for a Y.Map/Y.Array/Y.XmlHook (keys in
 * Map.keys() order), false for a plain Any/JSON object or array.  Object
 * members arrive as key() followed by exactly one value or container; a
 * member whose value is undefined does arrive (as RGS_YV_UNDEFINED), the
 * JSON printer drops it.  Every callback returns 0 to go on; anything else
 * stops the walk, and rgs_ydoc_walk returns that value. */
typedef struct {
    int (*value)(void *ctx, const rgs_yval *v);
    int (*begin_object)(void *ctx, bool shared);
    int (*key)(void *ctx, const char *k, size_t n);
    int (*end_object)(void *ctx);
    int (*begin_array)(void *ctx, bool shared);
    int (*end_array)(void *ctx);
} rgs_yvisitor;

/* rgs_ydoc_walk: deliver the value of root `root` viewed as kind `k` (as
 * rgs_ydoc_json) to the visitor `v` with context `ctx`.  A TEXT view (and a
 * GUESS with no evidence, as null) arrives as one value() call.  Returns
 * 0, -1 when there is no such root, or the first nonzero callback result.
 * No callback may be NULL. */
int rgs_ydoc_walk(const rgs_ydoc *d, const char *root, enum rgs_ykind k, const rgs_yvisitor *v,
                  void *ctx);

/* rgs_ydoc_dump: append to *out one line per stored struct (diagnostics,
 * golden tests of yjs.md §9.2), clients in ascending id order, each in
 * clock order:
 *   <client> <clock> <len> <kind>[ del] o=<client>:<clock>|- r=<client>:<clock>|-
 *   p=<root name JSON>|<client>:<clock>|- k=<key JSON>|- c=<content>
 * (one line; kind: GC Deleted JSON Binary String Embed Format Type Any Doc;
 * o/r: origin and right origin as resolved; p: the parent root or the ID of
 * the item holding the parent type; content: String as a JSON string, Any
 * and JSON as a JSON array of the values, Type as its type ref, Deleted and
 * GC as nothing, others as their JSON).  Pending structs are not listed. */
void rgs_ydoc_dump(const rgs_ydoc *d, rgs_buf *out);

/* rgs_ydoc_selfcheck: verify the document's invariants (tests, fuzzing):
 * every client's store is gap-free from clock 0 to its state; every type's sequence list and every key chain is a well-formed
 * doubly linked list of items of that type; every map entry points to its
 * chain's tail.  Returns 0, or -1 with a description in msg[0..msgsz). */
int rgs_ydoc_selfcheck(const rgs_ydoc *d, char *msg, size_t msgsz);

/* rgs_ydoc_free: release a document and everything it owns.  NULL is fine. */
void rgs_ydoc_free(rgs_ydoc *d);

#endif
