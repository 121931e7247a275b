/* rgs-ydoc: print the root types of Yjs document snapshots as JSON.
 *
 *   rgs-ydoc [-q] [-v] [-T] [-t NAME] [-m NAME] [-a NAME] [FILE...]
 *
 * One line per input: a JSON object mapping each root name to its value
 * (lib/rgs_ydoc.h, yjs.md §6).  See rgs-ydoc(1).
 */
#include "rgs_ydoc.h"
#include "rgs_util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fputs("usage: rgs-ydoc [-q] [-v] [-T] [-S] [-t NAME] [-m NAME] [-a NAME] [FILE...]\n"
          "Decode Yjs document snapshots (update format v1, the bytes of Relay's\n"
          "GET /d/{id}/as-update) and print one JSON object per input, on one line,\n"
          "mapping each root name to its value.  Standard input without FILE.\n"
          "  -t NAME   root NAME is a Y.Text   (printed as a string)\n"
          "  -m NAME   root NAME is a Y.Map    (printed as an object)\n"
          "  -a NAME   root NAME is a Y.Array  (printed as an array)\n"
          "            other roots: kind guessed from the content (see the man page)\n"
          "  -T        typed numbers: floats always with '.' or exponent\n"
          "  -S, --structs  print the integrated struct list instead (diagnostics)\n"
          "  -q        quiet (warnings and errors only);  -v  more messages\n"
          "  -h, --help\n"
          "Exit: 0 ok, 100 bad usage or an input that is not a valid v1 snapshot,\n"
          "111 an input could not be read.\n",
          f);
}

typedef struct {
    const char *name;
    enum rgs_ykind kind;
} kindopt;

static kindopt *kinds;
static size_t nkinds;

static enum rgs_ykind kind_of(const char *name)
{
    enum rgs_ykind k = RGS_YKIND_GUESS;
    for (size_t i = 0; i < nkinds; i++)
        if (!strcmp(kinds[i].name, name))
            k = kinds[i].kind; /* the last option for a name wins */
    return k;
}

/* One member of the printed object: key.pos < the document's root count:
 * the root at that index; else a stated root the document does not have */
typedef struct {
    rgs_yjs_key key; /* first: rgs_ydoc_js_key_cmp */
    const char *name;
    size_t len;
} member;

static void add_member(member *mv, size_t *m, const char *name, size_t len)
{
    mv[*m].name = name;
    mv[*m].len = len;
    rgs_ydoc_js_key(&mv[*m].key, name, len, *m);
    (*m)++;
}

/* One JSON object for a decoded document: its roots in order of first
 * appearance (names with NUL bytes included), then stated roots that the
 * document does not have (empty values of the stated kind, as yjs's
 * doc.getText(name) would give); with RGS_YJSON_JS_ORDER (the default)
 * integer-like names first, as JSON.stringify orders the object's keys. */
static void render(const rgs_ydoc *d, unsigned flags, rgs_buf *out)
{
    size_t n = rgs_ydoc_root_count(d), m = 0;
    member *mv = rgs_xmalloc((n + nkinds + 1) * sizeof *mv);
    for (size_t i = 0; i < n; i++)
        add_member(mv, &m, rgs_ydoc_root_name(d, i), rgs_ydoc_root_name_len(d, i));
    for (size_t i = 0; i < nkinds; i++) {
        const char *name = kinds[i].name;
        if (rgs_ydoc_has_root(d, name))
            continue;
        bool dup = false;
        for (size_t j = 0; j < i; j++)
            dup |= !strcmp(kinds[j].name, name);
        if (!dup)
            add_member(mv, &m, name, strlen(name));
    }
    if (flags & RGS_YJSON_JS_ORDER)
        qsort(mv, m, sizeof *mv, rgs_ydoc_js_key_cmp);
    rgs_buf_putc(out, '{');
    for (size_t i = 0; i < m; i++) {
        if (i)
            rgs_buf_putc(out, ',');
        rgs_ydoc_json_string(out, mv[i].name, mv[i].len);
        rgs_buf_putc(out, ':');
        /* kinds can only be stated for names without NUL bytes */
        enum rgs_ykind k = strlen(mv[i].name) == mv[i].len ? kind_of(mv[i].name) : RGS_YKIND_GUESS;
        if (mv[i].key.pos < n)
            rgs_ydoc_root_json(d, mv[i].key.pos, k, flags, out);
        else
            rgs_buf_puts(out, k == RGS_YKIND_TEXT ? "\"\"" : k == RGS_YKIND_MAP ? "{}" : "[]");
    }
    rgs_buf_puts(out, "}\n");
    free(mv);
}

/* CPU time of this process in seconds (CLOCK_PROCESS_CPUTIME_ID). */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Benchmark mode (--bench-repeat N, for tests/bench/bench-ydoc.sh): decode
 * and render every input N times in-process (after one untimed warm-up pass
 * when N > 1) and print the time spent (wall and CPU), excluding reading
 * the files, as {"files","bytes","repeat","seconds","cpu_seconds",
 * "output_bytes"}. */
static int bench(int nfiles, char **files, long repeat, unsigned flags)
{
    rgs_buf *in = rgs_xcalloc((size_t)nfiles, sizeof *in);
    size_t total = 0;
    for (int i = 0; i < nfiles; i++) {
        if (rgs_read_file(AT_FDCWD, files[i], &in[i], 0) < 0)
            rgs_die(RGS_EX_TEMP, "read '%s': %s", files[i], strerror(errno));
        total += in[i].len;
    }
    rgs_buf out = RGS_BUF_INIT;
    size_t outbytes = 0;
    double t0 = 0, c0 = 0;
    /* one untimed warm-up pass when repeating (as the node reference does) */
    for (long k = repeat > 1 ? -1 : 0; k < repeat; k++) {
        if (k == 0) {
            outbytes = 0;
            t0 = rgs_mono();
            c0 = cpu_seconds();
        }
        for (int i = 0; i < nfiles; i++) {
            rgs_ydoc *d;
            rgs_ydoc_err e;
            if (rgs_ydoc_decode((const uint8_t *)in[i].data, in[i].len, &d, &e) < 0)
                rgs_die(RGS_EX_PERM, "decode '%s': byte %zu: %s", files[i], e.offset, e.msg);
            rgs_buf_reset(&out);
            render(d, flags, &out);
            outbytes += out.len;
            rgs_ydoc_free(d);
        }
    }
    double secs = rgs_mono() - t0, cpu = cpu_seconds() - c0;
    printf("{\"files\":%d,\"bytes\":%zu,\"repeat\":%ld,\"seconds\":%.6f,\"cpu_seconds\":%.6f,"
           "\"output_bytes\":%zu}\n",
           nfiles, total, repeat, secs, cpu, outbytes);
    for (int i = 0; i < nfiles; i++)
        rgs_buf_free(&in[i]);
    free(in);
    rgs_buf_free(&out);
    return RGS_EX_OK;
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    unsigned flags = RGS_YJSON_JS_ORDER;
    long repeat = 0;
    bool structs = false;
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"typed-numbers", no_argument, NULL, 'T'},
                                       {"bench-repeat", required_argument, NULL, 'B'},
                                       {"structs", no_argument, NULL, 'S'},
                                       {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "hqvTSt:m:a:", lo, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return RGS_EX_OK;
        case 'q':
            rgs_verbosity = RGS_WARN;
            break;
        case 'v':
            rgs_verbosity++;
            break;
        case 'T':
            flags |= RGS_YJSON_TYPED_NUMBERS;
            break;
        case 'S':
            structs = true;
            break;
        case 't':
        case 'm':
        case 'a':
            kinds = rgs_xrealloc(kinds, (nkinds + 1) * sizeof *kinds);
            kinds[nkinds].name = optarg;
            kinds[nkinds].kind = c == 't' ? RGS_YKIND_TEXT : c == 'm' ? RGS_YKIND_MAP : RGS_YKIND_ARRAY;
            nkinds++;
            break;
        case 'B': {
            char *end;
            repeat = strtol(optarg, &end, 10);
            if (*end || repeat < 1)
                rgs_die(RGS_EX_PERM, "option --bench-repeat '%s': not a positive number", optarg);
            break;
        }
        default:
            usage(stderr);
            return RGS_EX_PERM;
        }
    }
    if (repeat)
        return bench(argc - optind, argv + optind, repeat, flags);

    int rc = RGS_EX_OK;
    int nin = argc - optind;
    rgs_buf out = RGS_BUF_INIT;
    for (int i = 0; i < (nin ? nin : 1); i++) {
        const char *name = nin ? argv[optind + i] : "-";
        rgs_buf in = RGS_BUF_INIT;
        int r = nin && strcmp(name, "-") ? rgs_read_file(AT_FDCWD, name, &in, 0) : rgs_read_fd(0, &in, 0);
        if (r < 0) {
            int ex = (errno == ENOENT || errno == EISDIR || errno == ENOTDIR) ? RGS_EX_PERM : RGS_EX_TEMP;
            rgs_error("read '%s': %s", name, strerror(errno));
            if (rc == RGS_EX_OK || ex == RGS_EX_TEMP)
                rc = ex;
            rgs_buf_free(&in);
            continue;
        }
        rgs_ydoc *d;
        rgs_ydoc_err e;
        if (rgs_ydoc_decode((const uint8_t *)in.data, in.len, &d, &e) < 0) {
            rgs_error("decode '%s': byte %zu: %s", name, e.offset, e.msg);
            if (rc == RGS_EX_OK)
                rc = RGS_EX_PERM;
            rgs_buf_free(&in);
            continue;
        }
        if (rgs_ydoc_never_written(d))
            rgs_info("decode '%s': never written (the update is 00 00)", name);
        if (rgs_ydoc_pending(d))
            rgs_warn("decode '%s': %zu structs are pending (missing dependencies) and not shown", name,
                     rgs_ydoc_pending(d));
        rgs_buf_reset(&out);
        if (structs)
            rgs_ydoc_dump(d, &out);
        else
            render(d, flags, &out);
        if (rgs_write_all(1, out.data, out.len) < 0)
            rgs_die(RGS_EX_TEMP, "write 'stdout': %s", strerror(errno));
        rgs_ydoc_free(d);
        rgs_buf_free(&in);
    }
    rgs_buf_free(&out);
    free(kinds);
    return rc;
}
