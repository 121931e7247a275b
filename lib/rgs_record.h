/* rgs_record: NDJSON records between the pipeline stages, over jansson.
 *
 * A record is one JSON object on one line with "v" (schema major, this
 * build speaks RGS_RECORD_V) and "type" (a string).  Every record type is
 * documented once, in share/man/man5/rgs-records.5.  Rules (DESIGN.md):
 * a stage ignores unknown fields, passes unknown types through unchanged,
 * and refuses an unknown "v".
 */
#ifndef RGS_RECORD_H
#define RGS_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#define RGS_RECORD_V 1
/* Longest accepted line, in bytes: a note snapshot carries the note's text
 * JSON-escaped (up to 6 bytes per input byte), so be generous. */
#define RGS_RECORD_MAX_LINE ((size_t)256 * 1024 * 1024)

typedef struct rgs_reader rgs_reader;

/* rgs_reader_new: read records from `in` (not closed by the reader).
 * `name` names the input in messages ("stdin", a file name); it is copied.
 * `max_line` is the longest line accepted in bytes (0 = RGS_RECORD_MAX_LINE).
 * Returns a reader the caller frees with rgs_reader_free. */
rgs_reader *rgs_reader_new(FILE *in, const char *name, size_t max_line);
void rgs_reader_free(rgs_reader *r);

/* rgs_reader_next: the next record.
 * Returns  1 and *rec (a new reference, the caller json_decref()s it) and
 *            *type (borrowed from *rec) for a well-formed record;
 *          0 at end of input;
 *         -1 for a line that is not a record: not UTF-8 JSON, not an object,
 *            duplicate keys, no "v" or "type", longer than max_line, or an
 *            unknown "v".  An error message naming input and line number was
 *            printed; *rec is NULL.  Reading may continue with the next line;
 *            rgs_reader_bad_v() tells whether the error was an unknown "v",
 *            which the caller must treat as permanent (RGS_EX_PERM).
 * Empty lines are skipped.  Strings may contain U+0000 (JSON_ALLOW_NUL);
 * use json_string_length(). */
int rgs_reader_next(rgs_reader *r, json_t **rec, const char **type);
bool rgs_reader_bad_v(const rgs_reader *r);
/* Line number (1-based) of the record last returned. */
unsigned long rgs_reader_line(const rgs_reader *r);

/* rgs_record_new: a new object {"v":1,"type":type}; caller decrefs. */
json_t *rgs_record_new(const char *type);

/* rgs_emit: write `rec` compactly on one line to `out` followed by "\n",
 * then fflush.  Keys keep insertion order.  Does not steal the reference.
 * Returns 0, or -1 on a write error (message printed; EPIPE means the next
 * stage is gone: exit RGS_EX_TEMP). */
int rgs_emit(FILE *out, json_t *rec);

/* Accessors that never crash on a wrong shape.  They return NULL / `def`
 * when the key is missing or has another type.  Strings are borrowed from
 * the record. */
const char *rgs_rec_str(const json_t *rec, const char *key);
long long rgs_rec_int(const json_t *rec, const char *key, long long def);
double rgs_rec_num(const json_t *rec, const char *key, double def);
bool rgs_rec_bool(const json_t *rec, const char *key, bool def);
/* A validated lower-case UUID field; NULL if missing or not a UUID. */
const char *rgs_rec_uuid(const json_t *rec, const char *key);

/* rgs_failed_new: a "failed" record for `input` (may be NULL): copies its
 * "ref", "relay", "folder", "doc", "path" and "op" fields when present and
 * adds "stage" (the program name), "reason" (the text) and "temporary".
 * Caller decrefs. */
json_t *rgs_failed_new(const json_t *input, bool temporary, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
