/* rgs_toml: a strict parser for the subset of TOML 1.0.0
 * (https://toml.io/en/v1.0.0) that git_connectors.toml uses.  No TOML
 * library is packaged for C in Debian, so this is the project's own code;
 * it is small, rejects everything outside the subset with a line number,
 * and is fuzzed (tests/fuzz/fuzz_toml.c).
 *
 * Implemented, with the TOML 1.0.0 rules named by section:
 *   - "Spec": UTF-8 only (invalid UTF-8 is an error), whitespace is space
 *     and tab, newline is LF or CRLF.
 *   - "Comment": '#' to end of line; control characters other than tab
 *     are not permitted in comments.
 *   - "Key/Value Pair": key = value on one line (the value may continue
 *     over several lines only inside an array); nothing but whitespace or
 *     a comment after the value.
 *   - "Keys": bare keys (A-Za-z0-9_-) and quoted keys (basic or literal
 *     string); defining a key twice is an error.
 *   - "String": basic strings ("...") with the escapes \b \t \n \f \r \"
 *     \\ \uXXXX \UXXXXXXXX (Unicode scalar values only), literal strings
 *     ('...'); control characters other than tab are errors.
 *   - "Integer": decimal with optional sign, no leading zeros, '_' only
 *     between digits; 0x, 0o, 0b prefixed forms; out of 64-bit range is an
 *     error.
 *   - "Float": fractional and exponent forms with the same '_' rule.
 *   - "Boolean": true, false.
 *   - "Array": [ v, v, ... ] over several lines, comments and a trailing
 *     comma allowed, mixed types allowed, nesting up to 16 levels.
 *   - "Table": [name] headers; a table may be defined only once.
 *   - "Array of Tables": [[name]] headers.
 *
 * Rejected with a clear message (outside the subset, not needed by the
 * configuration): dotted keys (a.b = 1, [a.b], [[a.b]]), inline tables
 * ({...}), multi-line strings (""" and '''), offset/local date-times,
 * dates and times, inf and nan, and strings containing U+0000 (which a C
 * string cannot hold).
 */
#ifndef RGS_TOML_H
#define RGS_TOML_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    RGS_TOML_STRING,
    RGS_TOML_INTEGER,
    RGS_TOML_FLOAT,
    RGS_TOML_BOOLEAN,
    RGS_TOML_ARRAY,
    RGS_TOML_TABLE,
} rgs_toml_type;

typedef struct rgs_toml rgs_toml;
struct rgs_toml {
    rgs_toml_type type;
    unsigned line;        /* 1-based line where the value (or table header) starts */
    char *str;            /* STRING: NUL-terminated UTF-8, no NUL inside */
    long long integer;    /* INTEGER */
    double flt;           /* FLOAT */
    bool boolean;         /* BOOLEAN */
    bool tables;          /* ARRAY: an array of tables made by [[name]] headers */
    size_t n;             /* ARRAY: number of items; TABLE: number of keys */
    char **keys;          /* TABLE: keys in file order (n of them) */
    unsigned *key_lines;  /* TABLE: line of each key (or of its header) */
    rgs_toml **items;     /* ARRAY: items; TABLE: values, parallel to keys */
};

/* rgs_toml_parse: parse `len` bytes of TOML text (need not be
 * NUL-terminated).  Returns 0 and *root (a TABLE; free with rgs_toml_free),
 * or -1 with *root NULL and a message in err (errlen bytes, always
 * NUL-terminated when errlen > 0): "line N: KEY: why" when the error is in
 * the value assigned to KEY (KEY is the dotted path "table.key", or "key" at
 * the root), else "line N: why".  Never reads past `len`. */
int rgs_toml_parse(const char *text, size_t len, rgs_toml **root, char *err, size_t errlen);

/* rgs_toml_get: the value of `key` in TABLE `t`, or NULL (also when `t` is
 * NULL or not a table).  Borrowed from `t`. */
const rgs_toml *rgs_toml_get(const rgs_toml *t, const char *key);

/* rgs_toml_get_line: line of `key` in TABLE `t` (0 when absent). */
unsigned rgs_toml_get_line(const rgs_toml *t, const char *key);

/* rgs_toml_type_name: "string", "integer", "float", "boolean", "array",
 * "table" (for messages). */
const char *rgs_toml_type_name(rgs_toml_type type);

/* rgs_toml_free: free a tree from rgs_toml_parse (NULL is fine). */
void rgs_toml_free(rgs_toml *t);

#endif
