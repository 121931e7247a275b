/* Unit tests for lib/rgs_ydoc (yjs.md §9).  TAP output.
 *
 *   test-ydoc                  golden vectors, targeted and negative cases,
 *                              then the committed corpus tests/ydoc/corpus/
 *                              (found through $RGS_ROOT, default ".")
 *   test-ydoc FILE.ndjson...   only the given corpus files (gen.js output)
 *
 * Independent truth: every corpus case carries the values a fresh yjs
 * 13.6.33 Y.Doc shows after applying the bytes (tests/ydoc/gen.js); the
 * golden vectors are the byte dumps of yjs.md §3.3 (made with yjs). */
#include "rgs_ydoc.h"
#include "rgs_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"


static size_t unhex(const char *h, uint8_t **out)
{
    size_t n = 0, len = strlen(h);
    uint8_t *b = rgs_xmalloc(len / 2 + 1);
    for (size_t i = 0; i + 1 < len;) {
        if (h[i] == ' ' || h[i] == '\n') {
            i++;
            continue;
        }
        unsigned v;
        sscanf(h + i, "%2x", &v);
        b[n++] = (uint8_t)v;
        i += 2;
    }
    *out = b;
    return n;
}

static rgs_ydoc *dec_hex(const char *hex, rgs_ydoc_err *e)
{
    uint8_t *b;
    size_t n = unhex(hex, &b);
    rgs_ydoc *d;
    int rc = rgs_ydoc_decode(b, n, &d, e);
    free(b);
    return rc ? NULL : d;
}

static char *json_of(const rgs_ydoc *d, const char *root, enum rgs_ykind k, unsigned flags)
{
    rgs_buf b = RGS_BUF_INIT;
    if (rgs_ydoc_json(d, root, k, flags, &b) < 0)
        rgs_buf_puts(&b, "<no root>");
    return rgs_buf_steal(&b, NULL);
}

static void is_json(const rgs_ydoc *d, const char *root, enum rgs_ykind k, const char *want, const char *name)
{
    char *got = json_of(d, root, k, 0);
    okf(!strcmp(got, want), "%s", name);
    if (strcmp(got, want))
        printf("# got:  %s\n# want: %s\n", got, want);
    free(got);
}

static void is_dump(const rgs_ydoc *d, const char *want, const char *name)
{
    rgs_buf b = RGS_BUF_INIT;
    rgs_ydoc_dump(d, &b);
    okf(b.data && !strcmp(b.data, want), "%s", name);
    if (!b.data || strcmp(b.data, want))
        printf("# got:\n%s# want:\n%s", b.data ? b.data : "", want);
    rgs_buf_free(&b);
}

/* §3.3: golden vectors, struct lists and values */
static void test_golden(void)
{
    rgs_ydoc_err e;
    rgs_ydoc *d = dec_hex("01 01 01 00 04 01 01 74 05 68 65 6c 6c 6f 00", &e);
    okf(d != NULL, "3.3a decodes");
    if (d) {
        is_dump(d, "1 0 5 String o=- r=- p=\"t\" k=- c=\"hello\"\n", "3.3a struct list");
        is_json(d, "t", RGS_YKIND_TEXT, "\"hello\"", "3.3a text");
        okf(rgs_ydoc_root_count(d) == 1 && !strcmp(rgs_ydoc_root_name(d, 0), "t"), "3.3a roots");
        okf(!rgs_ydoc_never_written(d), "3.3a written");
        rgs_ydoc_free(d);
    }
    d = dec_hex("01 03 01 00 01 01 01 74 01 84 01 00 01 69 28 01 01 6d 01 6b 01 76 01 01 61 7d 01 "
                "01 01 01 00 01", &e);
    okf(d != NULL, "3.3b decodes");
    if (d) {
        is_dump(d,
                "1 0 1 Deleted del o=- r=- p=\"t\" k=- c=\n"
                "1 1 1 String o=1:0 r=- p=\"t\" k=- c=\"i\"\n"
                "1 2 1 Any o=- r=- p=\"m\" k=\"k\" c=[{\"a\":1}]\n",
                "3.3b struct list");
        is_json(d, "t", RGS_YKIND_TEXT, "\"i\"", "3.3b text");
        is_json(d, "m", RGS_YKIND_MAP, "{\"k\":{\"a\":1}}", "3.3b map");
        okf(rgs_ydoc_guess_kind(d, "t") == RGS_YKIND_TEXT && rgs_ydoc_guess_kind(d, "m") == RGS_YKIND_MAP,
           "3.3b guesses");
        rgs_ydoc_free(d);
    }
    d = dec_hex("01 04 01 00 27 01 01 6d 01 6e 01 28 00 01 00 01 78 01 77 01 79 27 00 01 00 01 74 02 "
                "04 00 01 02 05 f0 9f 98 80 61 00", &e);
    okf(d != NULL, "3.3c decodes");
    if (d) {
        is_dump(d,
                "1 0 1 Type o=- r=- p=\"m\" k=\"n\" c=1\n"
                "1 1 1 Any o=- r=- p=1:0 k=\"x\" c=[\"y\"]\n"
                "1 2 1 Type o=- r=- p=1:0 k=\"t\" c=2\n"
                "1 3 3 String o=- r=- p=1:2 k=- c=\"\xf0\x9f\x98\x80" "a\"\n",
                "3.3c struct list (emoji = 2 clocks)");
        is_json(d, "m", RGS_YKIND_MAP, "{\"n\":{\"x\":\"y\",\"t\":\"\xf0\x9f\x98\x80" "a\"}}", "3.3c nested");
        rgs_ydoc_free(d);
    }
    d = dec_hex("01 04 0a 00 04 01 01 74 03 61 62 63 0a 03 28 01 01 6d 01 6b 01 7d 01 84 0a 05 03 67 68 69 "
                "01 0a 01 08 01", &e);
    okf(d != NULL, "3.3d decodes (Skip)");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"abc\"", "3.3d text before the Skip");
        is_json(d, "m", RGS_YKIND_MAP, "{}", "3.3d map after the Skip is pending");
        okf(rgs_ydoc_has_root(d, "m"), "3.3d root of pending struct exists");
        okf(rgs_ydoc_pending(d) == 2, "3.3d two pending structs");
        rgs_ydoc_free(d);
    }
    /* (e) yrs: client 2^53-1 and a varInt 2^40 */
    d = dec_hex("01 01 ff ff ff ff ff ff ff 0f 00 28 01 01 6d 01 6b 01 7d 80 80 80 80 80 40 00", &e);
    okf(d != NULL, "3.3e decodes (client 2^53-1)");
    if (d) {
        is_dump(d, "9007199254740991 0 1 Any o=- r=- p=\"m\" k=\"k\" c=[1099511627776]\n", "3.3e struct list");
        rgs_ydoc_free(d);
    }
    d = dec_hex("00 00", &e);
    okf(d && rgs_ydoc_never_written(d) && rgs_ydoc_root_count(d) == 0, "00 00 is valid and never written");
    rgs_ydoc_free(d);
}

/* §2.6 number tags, -0, NaN, bigint, binary, undefined in arrays. */
static void test_values(void)
{
    rgs_ydoc_err e;
    /* root array "a": Any n=9: 125(-0) 124(1.5f) 123(0.1) 122(-5) 127 126 116[1,2] 123(NaN) 125(2^53+2) */
    rgs_ydoc *d = dec_hex("01 01 01 00 08 01 01 61 09 7d 40 7c 3f c0 00 00 7b 3f b9 99 99 99 99 99 9a "
                          "7a ff ff ff ff ff ff ff fb 7f 7e 74 02 01 02 7b 7f f8 00 00 00 00 00 00 "
                          "7d 82 80 80 80 80 80 80 20 00", &e);
    okf(d != NULL, "Any values decode");
    if (d) {
        is_json(d, "a", RGS_YKIND_ARRAY, "[0,1.5,0.1,-5,null,null,{\"0\":1,\"1\":2},null,9007199254740994]",
                "Any values as JSON.stringify prints them");
        char *t = json_of(d, "a", RGS_YKIND_ARRAY, RGS_YJSON_TYPED_NUMBERS);
        okf(!strcmp(t, "[0,1.5,0.1,-5,null,null,{\"0\":1,\"1\":2},null,9007199254740994]"), "typed numbers");
        free(t);
        rgs_ydoc_free(d);
    }
    /* floats that are integral: typed mode marks them */
    d = dec_hex("01 01 01 00 08 01 01 61 03 7c 4f 32 d0 5e 7b 80 00 00 00 00 00 00 00 7b 44 b5 2d 02 c7 e1 4a f6 00",
                &e);
    okf(d != NULL, "float decode");
    if (d) {
        is_json(d, "a", RGS_YKIND_ARRAY, "[3000000000,0,1e+23]", "integral floats print like JS");
        char *t = json_of(d, "a", RGS_YKIND_ARRAY, RGS_YJSON_TYPED_NUMBERS);
        okf(!strcmp(t, "[3000000000.0,-0.0,1e+23]"), "typed: 3000000000.0, -0.0, 1e+23");
        if (strcmp(t, "[3000000000.0,-0.0,1e+23]"))
            printf("# got %s\n", t);
        free(t);
        rgs_ydoc_free(d);
    }
    /* object with a repeated key: first position, last value; map value undefined is left out */
    d = dec_hex("01 02 01 00 28 01 01 6d 01 6b 01 76 03 01 61 7d 01 01 62 7d 02 01 61 7d 03 "
                "28 01 01 6d 01 75 01 7f 00", &e);
    okf(d != NULL, "object decode");
    if (d) {
        is_json(d, "m", RGS_YKIND_MAP, "{\"k\":{\"a\":3,\"b\":2}}", "repeated key: first place, last value; undefined left out");
        rgs_ydoc_free(d);
    }
}

/* Targeted histories made by hand from yjs's rules (yjs.md §9.2). */
static void test_targeted(void)
{
    rgs_ydoc_err e;
    /* concurrent inserts at the same place: client 5 "A", client 7 "B" -> "AB" */
    rgs_ydoc *d = dec_hex("02 01 07 00 04 01 01 74 01 42 01 05 00 04 01 01 74 01 41 00", &e);
    okf(d != NULL, "concurrent inserts decode");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"AB\"", "lower client id goes left (AB)");
        rgs_ydoc_free(d);
    }
    /* concurrent map sets: client 7 wins over 5 */
    d = dec_hex("02 01 07 00 28 01 01 6d 01 6b 01 77 01 37 01 05 00 28 01 01 6d 01 6b 01 77 01 35 00", &e);
    okf(d != NULL, "concurrent map sets decode");
    if (d) {
        is_json(d, "m", RGS_YKIND_MAP, "{\"k\":\"7\"}", "higher client id wins the key");
        rgs_ydoc_free(d);
    }
    /* delete of the low half of an emoji: "😀" (clocks 0,1), delete clock 1 */
    d = dec_hex("01 01 01 00 04 01 01 74 04 f0 9f 98 80 01 01 01 01 01", &e);
    okf(d != NULL, "half emoji delete decodes");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"\xef\xbf\xbd\"", "half-deleted emoji -> U+FFFD");
        rgs_ydoc_free(d);
    }
    /* BOM kept at text start */
    d = dec_hex("01 01 01 00 04 01 01 74 04 ef bb bf 61 00", &e);
    okf(d != NULL, "BOM decodes");
    if (d) {
        rgs_buf b = RGS_BUF_INIT;
        rgs_ydoc_text(d, "t", &b);
        okf(b.len == 4 && !memcmp(b.data, "\xef\xbb\xbf" "a", 4), "BOM kept");
        okf(rgs_ydoc_text(d, "nope", &b) == -1, "text of a missing root is -1");
        rgs_buf_free(&b);
        rgs_ydoc_free(d);
    }
    /* text insert in the middle of an emoji by client 2 (origin 1:0): both halves become U+FFFD */
    d = dec_hex("02 01 02 00 c4 01 00 01 01 01 78 01 01 00 04 01 01 74 04 f0 9f 98 80 00", &e);
    okf(d != NULL, "insert inside emoji decodes");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"\xef\xbf\xbdx\xef\xbf\xbd\"", "split surrogate pair -> U+FFFD x U+FFFD");
        rgs_ydoc_free(d);
    }
    /* a 4-byte character right at an item boundary: "😀" (clocks 0-1), then "x" after clock 1 */
    d = dec_hex("02 01 02 00 84 01 01 01 78 01 01 00 04 01 01 74 04 f0 9f 98 80 00", &e);
    okf(d != NULL, "emoji at an item boundary decodes");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"\xf0\x9f\x98\x80x\"", "emoji at an item boundary stays whole");
        rgs_ydoc_free(d);
    }
    /* a text fully deleted with GC off: the String item stays, deleted */
    d = dec_hex("01 01 01 00 04 01 01 74 05 68 65 6c 6c 6f 01 01 01 00 05", &e);
    okf(d != NULL, "deleted text (GC off) decodes");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"\"", "fully deleted text (GC off) is empty");
        is_json(d, "t", RGS_YKIND_GUESS, "\"\"", "deleted String items still say text");
        rgs_ydoc_free(d);
    }
    /* Y.Text with setAttribute keys: text output unaffected; guess says text */
    d = dec_hex("01 02 01 00 04 01 01 74 02 68 69 28 01 01 74 01 6b 01 78 00", &e);
    okf(d != NULL, "text with attribute decodes");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"hi\"", "attribute does not show in text");
        is_json(d, "t", RGS_YKIND_GUESS, "\"hi\"", "guess: text");
        is_json(d, "t", RGS_YKIND_MAP, "{\"k\":true}", "the map view shows the attribute");
        rgs_ydoc_free(d);
    }
    /* yrs's empty String after a split inside a surrogate pair: "𝄞" (2 clocks), then an
     * empty item (1:2) with origin 1:1, then "x" with origin 1:1 */
    d = dec_hex("01 03 01 00 04 01 01 74 04 f0 9d 84 9e 84 01 01 00 84 01 01 01 78 00", &e);
    okf(d != NULL, "zero-length String item accepted (as yjs does)");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"\xf0\x9d\x84\x9ex\"", "zero-length item prints nothing");
        char msg[200];
        okf(rgs_ydoc_selfcheck(d, msg, sizeof msg) == 0, "selfcheck with a zero-length item");
        rgs_ydoc_free(d);
    }
    /* a root only touched by a struct with a missing dependency: exists, empty */
    d = dec_hex("01 01 02 00 84 09 00 01 78 00", &e);
    okf(d && rgs_ydoc_root_count(d) == 0 && rgs_ydoc_pending(d) == 1, "item with missing origin is pending");
    rgs_ydoc_free(d);
    d = dec_hex("01 02 02 00 0a 01 04 01 01 74 01 78 00", &e);
    okf(d && rgs_ydoc_has_root(d, "t") && rgs_ydoc_pending(d) == 1, "root behind a Skip exists");
    if (d)
        is_json(d, "t", RGS_YKIND_TEXT, "\"\"", "root behind a Skip is empty");
    rgs_ydoc_free(d);
    /* fully deleted text with GC on (ContentDeleted) */
    d = dec_hex("01 01 01 00 01 01 01 74 03 01 01 01 00 03", &e);
    okf(d != NULL, "GC'd text decodes");
    if (d) {
        is_json(d, "t", RGS_YKIND_TEXT, "\"\"", "fully deleted text (GC on) is empty");
        is_json(d, "t", RGS_YKIND_GUESS, "null", "guess without evidence: null");
        rgs_ydoc_free(d);
    }
    /* nested map overwritten (client 1: m.k = Y.Map), a peer (client 2) edits the
     * nested map without seeing the overwrite by client 1 (m.k = 5) */
    d = dec_hex("02 01 02 00 28 00 01 00 01 78 01 7d 01 02 01 00 27 01 01 6d 01 6b 01 a8 01 00 01 7d 05 00", &e);
    okf(d != NULL, "overwritten nested map decodes");
    if (d) {
        is_json(d, "m", RGS_YKIND_MAP, "{\"k\":5}", "edit inside the overwritten map is invisible");
        char msg[200];
        okf(rgs_ydoc_selfcheck(d, msg, sizeof msg) == 0, "selfcheck");
        rgs_ydoc_free(d);
    }
}

static void expect_fail(const char *hex, size_t want_off, const char *name)
{
    rgs_ydoc_err e;
    rgs_ydoc *d = dec_hex(hex, &e);
    okf(d == NULL && (want_off == (size_t)-1 || e.offset == want_off), "refused: %s", name);
    if (d)
        rgs_ydoc_free(d);
    else if (want_off != (size_t)-1 && e.offset != want_off)
        printf("# offset %zu (want %zu): %s\n", e.offset, want_off, e.msg);
}

/* §9.2 negative cases */
static void test_negative(void)
{
    static const char *valid[] = {
        "01 01 01 00 04 01 01 74 05 68 65 6c 6c 6f 00",
        "01 03 01 00 01 01 01 74 01 84 01 00 01 69 28 01 01 6d 01 6b 01 76 01 01 61 7d 01 01 01 01 00 01",
        "01 04 01 00 27 01 01 6d 01 6e 01 28 00 01 00 01 78 01 77 01 79 27 00 01 00 01 74 02 04 00 01 02 05 f0 9f 98 80 61 00",
        "01 04 0a 00 04 01 01 74 03 61 62 63 0a 03 28 01 01 6d 01 6b 01 7d 01 84 0a 05 03 67 68 69 01 0a 01 08 01",
        "01 01 ff ff ff ff ff ff ff 0f 00 28 01 01 6d 01 6b 01 7d 80 80 80 80 80 40 00",
    };
    for (size_t v = 0; v < sizeof valid / sizeof *valid; v++) {
        uint8_t *b;
        size_t n = unhex(valid[v], &b);
        size_t bad = 0;
        for (size_t k = 0; k < n; k++) {
            rgs_ydoc *d;
            rgs_ydoc_err e;
            if (rgs_ydoc_decode(b, k, &d, &e) == 0) {
                bad++;
                rgs_ydoc_free(d);
            }
        }
        okf(bad == 0, "every strict prefix of valid update %zu is refused (%zu prefixes)", v + 1, n);
        uint8_t *t = rgs_xmalloc(n + 1);
        memcpy(t, b, n);
        t[n] = 0;
        rgs_ydoc *d;
        rgs_ydoc_err e;
        okf(rgs_ydoc_decode(t, n + 1, &d, &e) < 0 && e.offset == n, "trailing byte refused at its offset (%zu)", v + 1);
        free(t);
        free(b);
    }
    expect_fail("00 00 00 00 00 00 01 00 00 00 00 00 00", 0, "v2 empty doc");
    expect_fail("00 00 01 01 00 00 01 04 09 06 74 68 65 6c 6c 6f 01 05 01 01 00 00 01 01 00 00", 0, "v2 hello");
    expect_fail("", 0, "empty input");
    expect_fail("01 01 01 00 0b 00", 4, "info ref 11");
    expect_fail("01 01 01 00 08 01 01 61 01 73 00", 9, "Any tag 115");
    expect_fail("01 01 01 00 07 01 01 61 07 00", 8, "typeRef 7");
    expect_fail("01 01 01 00 07 01 01 61 09 00", 8, "typeRef 9");
    expect_fail("01 01 01 00 07 01 01 61 0f 00", 8, "typeRef 15");
    expect_fail("01 01 01 00 04 01 01 74 02 c0 80 00", 9, "invalid UTF-8 C0 80 (overlong)");
    expect_fail("01 01 01 00 04 01 01 74 03 ed a0 80 00", 9, "invalid UTF-8 ED A0 80 (surrogate)");
    expect_fail("01 01 01 00 04 01 01 74 04 f4 90 80 80 00", 9, "invalid UTF-8 above U+10FFFF");
    expect_fail("01 01 01 00 04 01 02 c3 28 01 61 00", 7, "invalid UTF-8 in a root name");
    expect_fail("01 01 01 00 04 01 01 74 01 80 00", 9, "invalid UTF-8: lone continuation byte");
    expect_fail("81 80 80 80 80 80 80 80 80 80 00", 0, "varUint longer than 10 bytes");
    expect_fail("01 01 ff ff ff ff ff ff ff ff ff 7f 00 00", 2, "varUint beyond 64 bits");
    expect_fail("01 01 80 80 80 80 80 80 80 10 00 0a 01 00", 2, "client id 2^53 refused");
    expect_fail("01 01 01 00 08 01 01 61 01 7d ff ff ff ff ff ff ff ff ff ff 7f 00", 10, "varInt beyond 64 bits");
    expect_fail("01 ff ff ff 0f 01 00", 1, "absurd struct count");
    expect_fail("01 01 01 00 08 01 01 61 ff ff ff ff 0f 00", 8, "absurd Any count");
    expect_fail("01 01 01 00 08 01 01 61 01 76 ff ff ff 0f", 9, "absurd Any object size");
    expect_fail("01 01 01 00 08 01 01 61 01 74 ff ff ff 0f", 9, "absurd Uint8Array length");
    expect_fail("01 01 01 00 04 01 01 74 ff ff ff 0f", 8, "absurd string length");
    expect_fail("02 01 01 00 0a 01 01 01 00 0a 01 00", 6, "client with two blocks");
    expect_fail("01 01 01 00 05 01 01 61 03 7b 31 2c 00", (size_t)-1, "Embed with invalid JSON");
    expect_fail("01 00 01 00 05 01 02 03 04", 4, "delete set runs short");
    /* deep Any nesting: 1001 arrays */
    {
        rgs_buf h = RGS_BUF_INIT;
        rgs_buf_puts(&h, "01 01 01 00 08 01 01 61 01");
        for (int k = 0; k < 1002; k++)
            rgs_buf_puts(&h, " 75 01");
        rgs_buf_puts(&h, " 7e 00");
        expect_fail(h.data, (size_t)-1, "Any nested deeper than the limit");
        rgs_buf_free(&h);
    }
}

/* ---------------------------------------------------------------- corpus */

static bool num_eq(json_t *a, json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    return json_number_value(a) == json_number_value(b);
}

static bool jeq(json_t *a, json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return num_eq(a, b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_string(a))
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jeq(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        size_t kl;
        json_t *v;
        json_object_keylen_foreach(a, k, kl, v)
        {
            json_t *w = json_object_getn(b, k, kl);
            if (!w || !jeq(v, w))
                return false;
        }
        return true;
    }
    return true; /* true/false/null */
}

static enum rgs_ykind kind_named(const char *s)
{
    return !strcmp(s, "text") ? RGS_YKIND_TEXT : !strcmp(s, "map") ? RGS_YKIND_MAP : RGS_YKIND_ARRAY;
}

/* The decoder prints a lone surrogate (a single String unit read as an
 * array element) as "\udXXX", like JSON.stringify; jansson refuses that, so
 * such escapes become "<lone:dxxx>", as gen.js writes them. */
static void map_lone(rgs_buf *b)
{
    rgs_buf o = RGS_BUF_INIT;
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\\' && i + 1 < b->len) {
            if (b->data[i + 1] == 'u' && i + 5 < b->len && (b->data[i + 2] == 'd' || b->data[i + 2] == 'D') &&
                b->data[i + 3] && strchr("89abcdefABCDEF", b->data[i + 3])) {
                rgs_buf_printf(&o, "<lone:%.4s>", b->data + i + 2);
                i += 5;
                continue;
            }
            rgs_buf_append(&o, b->data + i, 2);
            i++;
            continue;
        }
        rgs_buf_putc(&o, b->data[i]);
    }
    rgs_buf_free(b);
    *b = o;
}

/* One corpus case: returns NULL when it passes, else a reason (malloc'd). */
static char *check_case(json_t *c)
{
    const char *hex = json_string_value(json_object_get(c, "hex"));
    json_t *roots = json_object_get(c, "roots"), *expect = json_object_get(c, "expect"),
           *keys = json_object_get(c, "keys");
    if (!hex || !json_is_object(roots) || !json_is_object(expect))
        return rgs_xstrdup("malformed case");
    rgs_ydoc_err e;
    rgs_ydoc *d = dec_hex(hex, &e);
    if (!d)
        return rgs_xasprintf("decode failed at byte %zu: %s", e.offset, e.msg);
    char msg[300];
    if (rgs_ydoc_selfcheck(d, msg, sizeof msg) < 0) {
        rgs_ydoc_free(d);
        return rgs_xasprintf("selfcheck: %s", msg);
    }
    char *why = NULL;
    json_t *mine = json_object();
    const char *name;
    json_t *kv;
    json_object_foreach(roots, name, kv)
    {
        enum rgs_ykind k = kind_named(json_string_value(kv));
        rgs_buf b = RGS_BUF_INIT;
        if (rgs_ydoc_json(d, name, k, 0, &b) < 0)
            rgs_buf_puts(&b, k == RGS_YKIND_TEXT ? "\"\"" : k == RGS_YKIND_MAP ? "{}" : "[]");
        map_lone(&b);
        json_error_t je;
        json_t *got = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        if (!got) {
            why = rgs_xasprintf("root %s: output is not JSON (%s): %.200s", name, je.text, b.data);
            rgs_buf_free(&b);
            break;
        }
        json_t *want = json_object_get(expect, name);
        if (!want || !jeq(got, want)) {
            char *w = want ? json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            why = rgs_xasprintf("root %s:\n# got:  %.600s\n# want: %.600s", name, b.data, w ? w : "(none)");
            free(w);
        }
        if (!why && k == RGS_YKIND_TEXT) {
            rgs_buf t = RGS_BUF_INIT;
            if (rgs_ydoc_text(d, name, &t) == 0 &&
                (t.len != json_string_length(want) || memcmp(t.data, json_string_value(want), t.len)))
                why = rgs_xasprintf("root %s: rgs_ydoc_text differs from the JSON view", name);
            rgs_buf_free(&t);
        }
        /* RGS_YJSON_JS_ORDER: the members of every object in the order of
         * the expected text, which JSON.stringify wrote (jansson keeps the
         * order it reads) */
        if (!why && want) {
            rgs_buf o = RGS_BUF_INIT;
            if (rgs_ydoc_json(d, name, k, RGS_YJSON_JS_ORDER, &o) < 0)
                rgs_buf_puts(&o, k == RGS_YKIND_TEXT ? "\"\"" : k == RGS_YKIND_MAP ? "{}" : "[]");
            map_lone(&o);
            json_t *oj = json_loadb(o.data, o.len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
            char *gs = oj ? json_dumps(oj, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            char *ws = json_dumps(want, JSON_ENCODE_ANY | JSON_COMPACT);
            if (!gs || !ws || strcmp(gs, ws))
                why = rgs_xasprintf("root %s, JSON.stringify order:\n# got:  %.600s\n# want: %.600s", name,
                                    gs ? gs : o.data, ws ? ws : "(none)");
            free(gs);
            free(ws);
            json_decref(oj);
            rgs_buf_free(&o);
        }
        json_object_set_new(mine, name, got);
        rgs_buf_free(&b);
        if (why)
            break;
    }
    /* ordered live keys of every Y.Map */
    const char *path;
    json_t *want_keys;
    if (!why && json_is_object(keys)) {
        json_object_foreach(keys, path, want_keys)
        {
            json_t *pa = json_loads(path, 0, NULL);
            json_t *node = mine;
            size_t i;
            json_t *step;
            json_array_foreach(pa, i, step)
            {
                if (json_is_string(step))
                    node = json_object_getn(node, json_string_value(step), json_string_length(step));
                else
                    node = json_array_get(node, (size_t)json_integer_value(step));
                if (!node)
                    break;
            }
            json_decref(pa);
            json_t *got_keys = json_array();
            if (node && json_is_object(node)) {
                const char *k;
                size_t kl;
                json_t *v;
                json_object_keylen_foreach(node, k, kl, v) json_array_append_new(got_keys, json_stringn(k, kl));
            }
            /* keys whose value is undefined are not in the JSON: drop them from the wanted list */
            json_t *wk = json_array();
            size_t wi;
            json_t *wkey;
            json_array_foreach(want_keys, wi, wkey) if (node && json_object_getn(node, json_string_value(wkey),
                                                                                json_string_length(wkey)))
                json_array_append(wk, wkey);
            if (!node || !json_equal(got_keys, wk)) {
                char *g = json_dumps(got_keys, JSON_COMPACT), *w = json_dumps(want_keys, JSON_COMPACT);
                why = rgs_xasprintf("key order at %s:\n# got:  %.400s\n# want: %.400s", path, g, w);
                free(g);
                free(w);
            }
            json_decref(got_keys);
            json_decref(wk);
            if (why)
                break;
        }
    }
    json_decref(mine);
    rgs_ydoc_free(d);
    return why;
}

static void run_corpus_file(const char *file)
{
    rgs_buf in = RGS_BUF_INIT;
    if (rgs_read_file(AT_FDCWD, file, &in, 0) < 0) {
        okf(0, "read corpus %s", file);
        return;
    }
    size_t cases = 0;
    char *save = NULL;
    for (char *line = strtok_r(in.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!*line)
            continue;
        json_error_t je;
        json_t *c = json_loads(line, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
        cases++;
        if (!c) {
            okf(0, "%s: line %zu is not JSON: %s", file, cases, je.text);
            continue;
        }
        const char *id = json_string_value(json_object_get(c, "id"));
        char *why = check_case(c);
        okf(why == NULL, "corpus %s", id ? id : "?");
        if (why) {
            const char *info = json_string_value(json_object_get(c, "info"));
            printf("# %s (%s)\n# %s\n", file, info ? info : "", why);
            free(why);
        }
        json_decref(c);
    }
    rgs_buf_free(&in);
    printf("# %s: %zu cases\n", file, cases);
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv)
{
    rgs_set_progname("test-ydoc");
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            run_corpus_file(argv[i]);
    } else {
        test_golden();
        test_values();
        test_targeted();
        test_negative();
        const char *root = getenv("RGS_ROOT");
        char *dir = rgs_xasprintf("%s/tests/ydoc/corpus", root && *root ? root : ".");
        DIR *dp = opendir(dir);
        okf(dp != NULL, "corpus directory %s", dir);
        char **files = NULL;
        size_t nf = 0;
        struct dirent *de;
        while (dp && (de = readdir(dp))) {
            size_t l = strlen(de->d_name);
            if (l > 7 && !strcmp(de->d_name + l - 7, ".ndjson")) {
                files = rgs_xrealloc(files, (nf + 1) * sizeof *files);
                files[nf++] = rgs_xasprintf("%s/%s", dir, de->d_name);
            }
        }
        if (dp)
            closedir(dp);
        qsort(files, nf, sizeof *files, cmpstr);
        okf(nf > 0, "corpus has files");
        for (size_t i = 0; i < nf; i++) {
            run_corpus_file(files[i]);
            free(files[i]);
        }
        free(files);
        free(dir);
    }
    return tap_done();
}
