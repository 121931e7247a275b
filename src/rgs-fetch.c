/* rgs-fetch: resolve every reference to Relay content in a record stream.
 *
 *   event / reconcile  -> folder and doc snapshots (then the record itself)
 *   op with a source   -> the same op with its content or blob (or held)
 *   anything else      -> unchanged
 *
 * Records: share/man/man5/rgs-records.5.  Relay API: relay.md §4; what is
 * inside the documents: relay.md §3; export formats: relay.md §5.8.
 * Manual: share/man/man1/rgs-fetch.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rgs_canvas.h"
#include "rgs_config.h"
#include "rgs_crypto.h"
#include "rgs_folder.h"
#include "rgs_record.h"
#include "rgs_relay.h"
#include "rgs_state.h"
#include "rgs_util.h"
#include "rgs_ydoc.h"

#define CHUNK 1024 /* records read before the fetches of a chunk run */

static const char usage[] =
    "usage: rgs-fetch [-v] [-q] [-n] [-d DATA_DIR] [-j N] [--relay-server-url URL]\n"
    "                 [--relay-server-api-key KEY] [--git-config-file FILE]\n"
    "                 [--canvas-format python|python-int|obsidian] [--connect-timeout S]\n"
    "                 [--timeout S] [--retries N] [--retry-delay S] [--max-blob-size BYTES]\n"
    "                 [--cacert FILE] < records > records\n"
    "Resolve Relay references in a record stream (rgs-records(5)); see rgs-fetch(1).\n";

/* ------------------------------------------------------------ options */

static struct {
    const char *data_dir;
    const char *config_file;
    enum rgs_canvas_format canvas;
    bool dry_run;
    rgs_relay_opts ro;
} opt;

/* ------------------------------------------------------------ output slots */

/* One input record and what it turns into, emitted in input order once
 * every fetch it started has ended. */
typedef struct slot {
    json_t *in;
    json_t **out; /* emitted first, in order (NULL entries skipped) */
    size_t nout, cap;
    unsigned pending;
    bool drop_input; /* an op that was replaced by out[] */
} slot;

static slot *slots;
static size_t nslots, capslots, emitted;
static int exit_code = RGS_EX_OK;
static bool fatal_output;

static size_t slot_reserve(slot *s)
{
    if (s->nout == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->out = rgs_xrealloc(s->out, s->cap * sizeof *s->out);
    }
    s->out[s->nout] = NULL;
    return s->nout++;
}

static void emit(json_t *r)
{
    if (fatal_output)
        return;
    if (rgs_emit(stdout, r) < 0)
        fatal_output = true;
}

/* Emit every finished slot at the head. */
static void flush_ready(void)
{
    while (emitted < nslots && slots[emitted].pending == 0) {
        slot *s = &slots[emitted];
        for (size_t i = 0; i < s->nout; i++)
            if (s->out[i]) {
                emit(s->out[i]);
                json_decref(s->out[i]);
            }
        free(s->out);
        if (!s->drop_input)
            emit(s->in);
        json_decref(s->in);
        memset(s, 0, sizeof *s);
        emitted++;
    }
    if (emitted == nslots)
        nslots = emitted = 0;
}

static void fail(slot *s, size_t pos, const json_t *input, bool temporary, const char *reason)
{
    json_t *f = rgs_failed_new(input, temporary, "%s", reason);
    rgs_msg(RGS_WARN, "fetch '%s': %s", json_string_value(json_object_get(input, "ref")) ?: "?", reason);
    s->out[pos] = f;
    exit_code = RGS_EX_SOME_FAILED;
}

/* ------------------------------------------------------------ state, config */

static rgs_config *cfg;
typedef struct {
    char relay[37];
    rgs_state *st;
    bool bad;
} relay_state;
static relay_state *states;
static size_t nstates;

static rgs_state *state_for(const char *relay)
{
    for (size_t i = 0; i < nstates; i++)
        if (!strcmp(states[i].relay, relay))
            return states[i].bad ? NULL : states[i].st;
    states = rgs_xrealloc(states, (nstates + 1) * sizeof *states);
    relay_state *r = &states[nstates++];
    memset(r, 0, sizeof *r);
    snprintf(r->relay, sizeof r->relay, "%s", relay);
    /* read lazily: an event is resolved through the state's document index
     * without loading the state files (rgs_state.h) */
    if (rgs_state_open(opt.data_dir, relay, 0, &r->st) < 0) {
        r->bad = true;
        r->st = NULL;
    }
    return r->st;
}

/* 1 if `id` is a configured folder or one the state knows, 0 if not, -1
 * the state cannot be read. */
static int is_folder(const char *relay, const char *id)
{
    if (rgs_config_find(cfg, relay, id))
        return 1;
    rgs_state *st = state_for(relay);
    return st ? rgs_state_has_folder(st, id) : -1;
}

/* ------------------------------------------------------------ decoding */

static int decode(const rgs_relay_result *r, rgs_ydoc **d, char why[320])
{
    rgs_ydoc_err e;
    if (rgs_ydoc_decode((const uint8_t *)r->body.data, r->body.len, d, &e) < 0) {
        snprintf(why, 320, "%s: not a Yjs v1 update (byte %zu: %s)", r->what, e.offset, e.msg);
        return -1;
    }
    return 0;
}

/* The exported bytes of a note or canvas.  Returns 1 with *content, 0 when
 * the document was never written (00 00, or no content root at all), -1
 * with why on failure (permanent). */
static int export_doc(const rgs_ydoc *d, const char *kind, rgs_buf *content, char why[320])
{
    if (rgs_ydoc_never_written(d))
        return 0;
    if (!strcmp(kind, "canvas")) {
        char w[200];
        int rc = rgs_canvas_export(d, opt.canvas, content, w);
        if (rc < 0)
            snprintf(why, 320, "canvas export: %s", w);
        return rc;
    }
    if (rgs_ydoc_text(d, "contents", content) < 0)
        return 0; /* registered, but the plugin never uploaded the text */
    return 1;
}

static const char *doc_kind(const json_t *meta)
{
    const char *t = json_string_value(json_object_get(meta, "type"));
    if (!t)
        return NULL;
    if (!strcmp(t, "markdown") || !strcmp(t, "document"))
        return "markdown";
    if (!strcmp(t, "canvas"))
        return "canvas";
    return NULL;
}

/* ------------------------------------------------------------ jobs */

static rgs_relay *relay;
static int blob_dirfd = -1;

typedef struct job {
    size_t slot;     /* index into slots (stable: slots only grow within a chunk) */
    size_t pos;      /* output position in the slot */
    char relay[37], folder[37], doc[37];
    char kind[16];   /* markdown | canvas */
    char *vpath;
    bool full;       /* reconcile */
    json_t *op;      /* op fill: the op record (borrowed from the slot) */
    char hash[65];
    struct job *waiters; /* blob: ops of this chunk that wait for the same hash */
    struct job *next;    /* in a waiters list */
} job;

/* Blob downloads in flight (this chunk): one per hash, so two ops naming
 * the same bytes (the same image at two paths) download them once; the
 * later ops wait on the first one's result (rgs-fetch(1)). */
static job **inflight;
static size_t ninflight, capinflight;

static job *inflight_find(const char *hash)
{
    for (size_t i = 0; i < ninflight; i++)
        if (!strcmp(inflight[i]->hash, hash))
            return inflight[i];
    return NULL;
}
static void inflight_add(job *j)
{
    if (ninflight == capinflight) {
        capinflight = capinflight ? capinflight * 2 : 16;
        inflight = rgs_xrealloc(inflight, capinflight * sizeof *inflight);
    }
    inflight[ninflight++] = j;
}
static void inflight_remove(const job *j)
{
    for (size_t i = 0; i < ninflight; i++)
        if (inflight[i] == j) {
            inflight[i] = inflight[--ninflight];
            return;
        }
}

static job *job_new(size_t si, size_t pos)
{
    job *j = rgs_xcalloc(1, sizeof *j);
    j->slot = si;
    j->pos = pos;
    slots[si].pending++;
    return j;
}
static void job_end(job *j)
{
    slots[j->slot].pending--;
    free(j->vpath);
    free(j);
    flush_ready();
}

static json_t *doc_record(const job *j, const json_t *in, int state, rgs_buf *content)
{
    json_t *r = rgs_record_new("doc");
    json_t *ref = json_object_get(in, "ref");
    if (ref)
        json_object_set(r, "ref", ref);
    json_object_set_new(r, "relay", json_string(j->relay));
    json_object_set_new(r, "folder", json_string(j->folder));
    json_object_set_new(r, "doc", json_string(j->doc));
    if (j->vpath)
        json_object_set_new(r, "vpath", json_string(j->vpath));
    json_object_set_new(r, "kind", json_string(j->kind));
    json_object_set_new(r, "never_written", json_boolean(state == 0));
    if (state == 1) {
        char h[65];
        rgs_sha256_hex(content->data ? content->data : "", content->len, h);
        json_object_set_new(r, "content", json_stringn_nocheck(content->data ? content->data : "", content->len));
        json_object_set_new(r, "sha256", json_string(h));
    }
    return r;
}

static void on_doc(void *ctx, rgs_relay_result *r)
{
    job *j = ctx;
    slot *s = &slots[j->slot];
    char why[320];
    if (!r->ok) {
        json_t *in = json_deep_copy(s->in);
        json_object_set_new(in, "folder", json_string(j->folder));
        json_object_set_new(in, "doc", json_string(j->doc));
        fail(s, j->pos, in, r->temporary, r->error);
        json_decref(in);
        job_end(j);
        return;
    }
    rgs_ydoc *d = NULL;
    rgs_buf content = RGS_BUF_INIT;
    int st = decode(r, &d, why) < 0 ? -1 : export_doc(d, j->kind, &content, why);
    if (st < 0) {
        json_t *in = json_deep_copy(s->in);
        json_object_set_new(in, "folder", json_string(j->folder));
        json_object_set_new(in, "doc", json_string(j->doc));
        fail(s, j->pos, in, false, why);
        json_decref(in);
    } else if (st == 1 && !rgs_utf8_valid(content.data ? content.data : "", content.len)) {
        fail(s, j->pos, s->in, false, "document text is not valid UTF-8");
    } else if (j->op) {
        /* an op that named this document as its source */
        if (st == 0) {
            json_t *h = rgs_record_new("held");
            static const char *keep[] = {"ref", "relay", "folder", "path", "vpath", "doc", "op", "kind"};
            for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
                json_t *x = json_object_get(j->op, keep[i]);
                if (x)
                    json_object_set(h, keep[i], x);
            }
            json_object_set_new(h, "reason", json_string("never-written"));
            json_object_set_new(h, "detail", json_string("Relay has no content for this document yet (00 00)"));
            s->out[j->pos] = h;
        } else {
            json_t *op = json_deep_copy(j->op);
            char hex[65];
            rgs_sha256_hex(content.data ? content.data : "", content.len, hex);
            json_object_set_new(op, "content", json_stringn_nocheck(content.data ? content.data : "", content.len));
            json_object_set_new(op, "sha256", json_string(hex));
            s->out[j->pos] = op;
        }
    } else {
        if (st == 0)
            rgs_debug("doc '%s-%s': never written", j->relay, j->doc);
        s->out[j->pos] = doc_record(j, s->in, st, &content);
    }
    rgs_buf_free(&content);
    rgs_ydoc_free(d);
    job_end(j);
}

static void queue_doc(size_t si, const char *rl, const char *folder, const char *doc, const char *kind,
                      const char *vpath, json_t *op)
{
    job *j = job_new(si, slot_reserve(&slots[si]));
    snprintf(j->relay, sizeof j->relay, "%s", rl);
    snprintf(j->folder, sizeof j->folder, "%s", folder ? folder : "");
    snprintf(j->doc, sizeof j->doc, "%s", doc);
    snprintf(j->kind, sizeof j->kind, "%s", kind);
    j->vpath = vpath ? rgs_xstrdup(vpath) : NULL;
    j->op = op;
    rgs_relay_get_update(relay, rl, doc, on_doc, j);
}

static void on_folder(void *ctx, rgs_relay_result *r)
{
    job *j = ctx;
    slot *s = &slots[j->slot];
    char why[320] = "";
    if (!r->ok) {
        json_t *in = json_deep_copy(s->in);
        json_object_set_new(in, "folder", json_string(j->folder));
        fail(s, j->pos, in, r->temporary, r->error);
        json_decref(in);
        job_end(j);
        return;
    }
    rgs_ydoc *d = NULL;
    if (decode(r, &d, why) < 0) {
        json_t *in = json_deep_copy(s->in);
        json_object_set_new(in, "folder", json_string(j->folder));
        fail(s, j->pos, in, false, why);
        json_decref(in);
        job_end(j);
        return;
    }
    json_t *entries = NULL;
    bool never = false;
    char w[200];
    if (rgs_folder_from_ydoc(d, j->relay, j->folder, &entries, &never, w) < 0) {
        snprintf(why, sizeof why, "folder document: %s", w);
        json_t *in = json_deep_copy(s->in);
        json_object_set_new(in, "folder", json_string(j->folder));
        fail(s, j->pos, in, false, why);
        json_decref(in);
        rgs_ydoc_free(d);
        job_end(j);
        return;
    }
    if (never)
        rgs_debug("folder '%s-%s': never written", j->relay, j->folder);
    json_t *rec = rgs_record_new("folder");
    json_t *ref = json_object_get(s->in, "ref");
    if (ref)
        json_object_set(rec, "ref", ref);
    json_object_set_new(rec, "relay", json_string(j->relay));
    json_object_set_new(rec, "folder", json_string(j->folder));
    json_object_set_new(rec, "never_written", json_boolean(never));
    json_object_set_new(rec, "full", json_boolean(j->full));
    json_object_set_new(rec, "entries", entries);
    s->out[j->pos] = rec;
    if (j->full) {
        /* a reconcile: every note and canvas too, in entries order */
        const char *k;
        json_t *m;
        json_object_foreach(entries, k, m)
        {
            const char *kind = doc_kind(m);
            char id[37];
            const char *ids = json_string_value(json_object_get(m, "id"));
            if (!kind || !ids || !rgs_uuid_norm(ids, strlen(ids), id))
                continue; /* rgs-plan reports bad ids; nothing to fetch */
            queue_doc(j->slot, j->relay, j->folder, id, kind, k, NULL);
        }
    }
    rgs_ydoc_free(d);
    job_end(j);
}

static void queue_folder(size_t si, const char *rl, const char *folder, bool full)
{
    job *j = job_new(si, slot_reserve(&slots[si]));
    snprintf(j->relay, sizeof j->relay, "%s", rl);
    snprintf(j->folder, sizeof j->folder, "%s", folder);
    j->full = full;
    rgs_relay_get_update(relay, rl, folder, on_folder, j);
}

static void blob_done(job *j, const rgs_relay_result *r)
{
    slot *s = &slots[j->slot];
    if (!r->ok) {
        fail(s, j->pos, j->op, r->temporary, r->error);
    } else {
        json_t *op = json_deep_copy(j->op);
        json_object_set_new(op, "blob", json_string(j->hash));
        json_object_set_new(op, "sha256", json_string(j->hash));
        s->out[j->pos] = op;
    }
}

static void on_blob(void *ctx, rgs_relay_result *r)
{
    job *j = ctx;
    inflight_remove(j);
    job *w = j->waiters;
    j->waiters = NULL;
    while (w) {
        job *next = w->next;
        blob_done(w, r);
        if (r->ok)
            rgs_debug("blob '%s': shared with a download of the same batch", w->hash);
        job_end(w);
        w = next;
    }
    blob_done(j, r);
    job_end(j);
}

/* ------------------------------------------------------------ records */

static void handle_event(size_t si)
{
    slot *s = &slots[si];
    const char *rl = rgs_rec_uuid(s->in, "relay"), *res = rgs_rec_uuid(s->in, "resource");
    if (!rl || !res) {
        fail(s, slot_reserve(s), s->in, false, "event without valid 'relay' and 'resource' UUIDs");
        return;
    }
    int isf = is_folder(rl, res);
    if (isf > 0) {
        queue_folder(si, rl, res, false);
        return;
    }
    rgs_state *st = state_for(rl);
    rgs_state_doc sd;
    int found = st && isf == 0 ? rgs_state_doc_get(st, res, &sd) : -1;
    if (found < 0) {
        fail(s, slot_reserve(s), s->in, true, "cannot read the relay's state files");
        return;
    }
    const char *folder = sd.folder, *vpath = sd.vpath;
    json_t *meta = sd.meta;
    if (!found || !folder) {
        rgs_debug("event '%s-%s': not a document of a configured folder: skipped", rl, res);
        return;
    }
    const char *kind = doc_kind(meta);
    if (!kind) {
        rgs_debug("event '%s-%s': '%s' is an attachment or folder; its changes arrive with the folder",
                  rl, res, vpath ? vpath : "?");
        return;
    }
    queue_doc(si, rl, folder, res, kind, vpath, NULL);
}

static void handle_reconcile(size_t si)
{
    slot *s = &slots[si];
    const char *rl = rgs_rec_uuid(s->in, "relay"), *folder = rgs_rec_uuid(s->in, "folder");
    if (!rl || !folder) {
        fail(s, slot_reserve(s), s->in, false, "reconcile without valid 'relay' and 'folder' UUIDs");
        return;
    }
    queue_folder(si, rl, folder, true);
}

static bool is_hex64(const char *h)
{
    if (!h || strlen(h) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    return true;
}

static void handle_op(size_t si)
{
    slot *s = &slots[si];
    json_t *src = json_object_get(s->in, "source");
    if (!json_is_object(src) || json_object_get(s->in, "content") || json_object_get(s->in, "blob"))
        return; /* nothing to resolve: pass through */
    const char *kind = json_string_value(json_object_get(src, "kind"));
    const char *rl = rgs_rec_uuid(s->in, "relay");
    const char *doc = rgs_rec_uuid(src, "doc");
    s->drop_input = true;
    if (!kind || !rl || !doc) {
        fail(s, slot_reserve(s), s->in, false, "op source without kind, a valid 'relay' or 'doc'");
        return;
    }
    if (!strcmp(kind, "markdown") || !strcmp(kind, "canvas")) {
        queue_doc(si, rl, rgs_rec_uuid(s->in, "folder"), doc, kind,
                  json_string_value(json_object_get(s->in, "vpath")), s->in);
        return;
    }
    if (strcmp(kind, "blob") != 0) {
        fail(s, slot_reserve(s), s->in, false, "op source of unknown kind");
        return;
    }
    const char *hash = json_string_value(json_object_get(src, "hash"));
    if (!is_hex64(hash)) {
        fail(s, slot_reserve(s), s->in, false, "op source without a valid sha256 'hash'");
        return;
    }
    struct stat sb;
    if (fstatat(blob_dirfd, hash, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode)) {
        json_t *op = json_deep_copy(s->in);
        json_object_set_new(op, "blob", json_string(hash));
        json_object_set_new(op, "sha256", json_string(hash));
        size_t pos = slot_reserve(s);
        s->out[pos] = op;
        rgs_debug("blob '%s': already in the cache", hash);
        return;
    }
    if (opt.dry_run) {
        rgs_info("blob '%s': would download (dry run)", hash);
        s->drop_input = false;
        return;
    }
    job *first = inflight_find(hash);
    job *j = job_new(si, slot_reserve(s));
    snprintf(j->relay, sizeof j->relay, "%s", rl);
    snprintf(j->doc, sizeof j->doc, "%s", doc);
    snprintf(j->hash, sizeof j->hash, "%s", hash);
    j->op = s->in;
    if (first) {
        j->next = first->waiters;
        first->waiters = j;
        return;
    }
    inflight_add(j);
    rgs_relay_get_blob(relay, rl, doc, hash, blob_dirfd, on_blob, j);
}

/* Event and reconcile records travel to the end of the pipeline (rgs-queue
 * --ack needs them), so the second rgs-fetch sees them again: the first
 * one marks them "fetched":true and a later one passes them on untouched. */
static void dispatch(size_t si, const char *type)
{
    json_t *in = slots[si].in;
    bool ev = !strcmp(type, "event"), rc = !strcmp(type, "reconcile");
    if ((ev || rc) && json_is_true(json_object_get(in, "fetched")))
        return;
    if (ev)
        handle_event(si);
    else if (rc)
        handle_reconcile(si);
    else if (!strcmp(type, "op"))
        handle_op(si);
    if (ev || rc)
        json_object_set_new(in, "fetched", json_true());
}

/* ------------------------------------------------------------ main */

static bool parse_num(const char *s, double *out)
{
    return rgs_parse_seconds(s, out);
}

int main(int argc, char **argv)
{
    rgs_set_progname(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    rgs_relay_opts_default(&opt.ro);
    opt.ro.base_url = getenv("RELAY_SERVER_URL");
    opt.ro.api_key = getenv("RELAY_SERVER_API_KEY");
    opt.canvas = RGS_CANVAS_PYTHON;
    const char *cf = getenv("RGS_CANVAS_FORMAT");
    if (cf && *cf && !rgs_canvas_format_parse(cf, &opt.canvas))
        rgs_die(RGS_EX_PERM, "RGS_CANVAS_FORMAT '%s': not python, python-int or obsidian", cf);
    const char *dd = NULL;
    enum { O_URL = 256, O_KEY, O_CFG, O_CANVAS, O_CT, O_TO, O_RETRIES, O_RDELAY, O_MAXBLOB, O_CACERT };
    static const struct option lo[] = {
        {"help", no_argument, 0, 'h'},
        {"verbose", no_argument, 0, 'v'},
        {"quiet", no_argument, 0, 'q'},
        {"dry-run", no_argument, 0, 'n'},
        {"data-dir", required_argument, 0, 'd'},
        {"jobs", required_argument, 0, 'j'},
        {"relay-server-url", required_argument, 0, O_URL},
        {"relay-server-api-key", required_argument, 0, O_KEY},
        {"git-config-file", required_argument, 0, O_CFG},
        {"canvas-format", required_argument, 0, O_CANVAS},
        {"connect-timeout", required_argument, 0, O_CT},
        {"timeout", required_argument, 0, O_TO},
        {"retries", required_argument, 0, O_RETRIES},
        {"retry-delay", required_argument, 0, O_RDELAY},
        {"max-blob-size", required_argument, 0, O_MAXBLOB},
        {"cacert", required_argument, 0, O_CACERT},
        {0, 0, 0, 0},
    };
    int c;
    double x;
    char *end;
    while ((c = getopt_long(argc, argv, "hvqnd:j:", lo, NULL)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return RGS_EX_OK;
        case 'v': rgs_verbosity++; break;
        case 'q': rgs_verbosity = RGS_WARN; break;
        case 'n': opt.dry_run = true; break;
        case 'd': dd = optarg; break;
        case 'j': {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 256)
                rgs_die(RGS_EX_PERM, "option -j '%s': a number from 1 to 256", optarg);
            opt.ro.parallel = (unsigned)n;
            break;
        }
        case O_URL: opt.ro.base_url = optarg; break;
        case O_KEY: opt.ro.api_key = optarg; break;
        case O_CFG: opt.config_file = optarg; break;
        case O_CANVAS:
            if (!rgs_canvas_format_parse(optarg, &opt.canvas))
                rgs_die(RGS_EX_PERM, "option --canvas-format '%s': python, python-int or obsidian", optarg);
            break;
        case O_CT:
        case O_TO:
        case O_RDELAY:
            if (!parse_num(optarg, &x) || (c != O_RDELAY && x <= 0))
                rgs_die(RGS_EX_PERM, "option '%s': not a number of seconds", optarg);
            if (c == O_CT)
                opt.ro.connect_timeout = x;
            else if (c == O_TO)
                opt.ro.timeout = opt.ro.blob_timeout = x;
            else
                opt.ro.retry_delay = x;
            break;
        case O_RETRIES: {
            long n = strtol(optarg, &end, 10);
            if (*end || n < 0 || n > 20)
                rgs_die(RGS_EX_PERM, "option --retries '%s': a number from 0 to 20", optarg);
            opt.ro.retries = (unsigned)n;
            break;
        }
        case O_MAXBLOB: {
            unsigned long long n = strtoull(optarg, &end, 10);
            if (*end || n == 0 || optarg[0] == '-')
                rgs_die(RGS_EX_PERM, "option --max-blob-size '%s': a number of bytes", optarg);
            opt.ro.max_blob = (size_t)n;
            break;
        }
        case O_CACERT: opt.ro.cacert = optarg; break;
        default: fputs(usage, stderr); return RGS_EX_PERM;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return RGS_EX_PERM;
    }
    opt.data_dir = rgs_data_dir(dd);
    char *cpath = rgs_config_path(opt.config_file, opt.data_dir);
    if (rgs_config_load(cpath, &cfg) < 0)
        rgs_die(RGS_EX_PERM, "configuration '%s': unusable", cpath);
    free(cpath);
    relay = rgs_relay_new(&opt.ro);
    if (!relay)
        return RGS_EX_PERM;
    if (!opt.dry_run) {
        char *bd = rgs_xasprintf("%s/cache/blobs", opt.data_dir);
        if (rgs_mkdirs(bd, 0755) < 0)
            rgs_die(RGS_EX_TEMP, "blob cache '%s': %s", bd, strerror(errno));
        blob_dirfd = open(bd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (blob_dirfd < 0)
            rgs_die(RGS_EX_TEMP, "blob cache '%s': %s", bd, strerror(errno));
        free(bd);
    } else {
        char *bd = rgs_xasprintf("%s/cache/blobs", opt.data_dir);
        blob_dirfd = open(bd, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        free(bd);
    }

    rgs_reader *rd = rgs_reader_new(stdin, "stdin", 0);
    bool bad_v = false, eof = false;
    while (!eof && !fatal_output) {
        /* read a chunk: up to CHUNK records, or up to a tick (end of a batch) */
        size_t got = 0;
        while (got < CHUNK) {
            json_t *rec = NULL;
            const char *type = NULL;
            int rc = rgs_reader_next(rd, &rec, &type);
            if (rc == 0) {
                eof = true;
                break;
            }
            if (rc < 0) {
                if (rgs_reader_bad_v(rd)) {
                    bad_v = true;
                    eof = true;
                    break;
                }
                exit_code = RGS_EX_SOME_FAILED;
                continue;
            }
            if (nslots == capslots) {
                capslots = capslots ? capslots * 2 : 64;
                slots = rgs_xrealloc(slots, capslots * sizeof *slots);
            }
            size_t si = nslots++;
            memset(&slots[si], 0, sizeof slots[si]);
            slots[si].in = rec;
            got++;
            bool tick = !strcmp(type, "tick");
            dispatch(si, type);
            if (tick)
                break;
        }
        if (rgs_relay_run(relay) < 0)
            exit_code = RGS_EX_INTERNAL;
        flush_ready();
    }
    rgs_reader_free(rd);
    if (opt.ro.parallel && rgs_verbosity >= RGS_DEBUG) {
        rgs_relay_stats st;
        rgs_relay_get_stats(relay, &st);
        rgs_debug("relay 'requests': %lu requests, %lu new connections, %lu retries, %llu bytes", st.requests,
                  st.connections, st.retries, st.bytes);
    }
    rgs_relay_free(relay);
    rgs_config_free(cfg);
    for (size_t i = 0; i < nstates; i++)
        rgs_state_free(states[i].st);
    free(states);
    free(slots);
    free(inflight);
    if (blob_dirfd >= 0)
        close(blob_dirfd);
    if (fatal_output)
        return RGS_EX_TEMP;
    if (bad_v)
        return RGS_EX_PERM;
    return exit_code;
}
