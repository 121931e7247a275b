/* rgs_spool: the durable queue of accepted webhooks, DATA_DIR/spool/.
 *
 * Written by rgs-verify (one file per accepted webhook), read by rgs-queue.
 * Layout (share/man/man5/rgs-records.5, DATA DIRECTORY), in the manner of
 * maildir(5):
 *
 *   spool/tmp/     files being written (never read by a consumer)
 *   spool/new/     accepted entries waiting for the next batch
 *   spool/cur/     entries claimed by the batch in progress
 *   spool/failed/  entries that failed permanently, each with <name>.reason
 *
 * Each entry is one file holding one "webhook" record (rgs-records(5)) as a
 * single compact JSON line ending in "\n".
 *
 * Entry names sort by arrival (byte-wise strcmp order is arrival order):
 *
 *   <seconds:10 digits>.<nanoseconds:9 digits>.<pid>.<counter>[.a<attempts>]
 *
 * e.g. "1772575128.123456789.4242.0" or, after two requeues,
 * "1772575128.123456789.4242.0.a2".  The attempts count lives in the name so
 * that a requeue is a single atomic rename(2).  Only names of this shape are
 * entries; anything else in new/ or cur/ (dot files, strays) is ignored.
 *
 * Durability (DESIGN.md, "Acknowledged means durable"): rgs_spool_put
 * returns 0 only after the entry's bytes and its directory entry in new/
 * are on disk (fsync(2) of the file, rename(2), fsync(2) of new/).  Every
 * later move (claim, requeue, fail) is a rename followed by fsync of both
 * directories, so a crash at any moment leaves each entry in exactly one of
 * new/, cur/, failed/ (an entry is never lost; at worst it is processed
 * again, which batches tolerate: they are idempotent).
 *
 * One consumer at a time: claim/ack/requeue/fail assume a single rgs-queue
 * per data directory (rgs-server holds DATA_DIR/locks/server.lock).  Any
 * number of concurrent producers (rgs_spool_put) is fine.
 */
#ifndef RGS_SPOOL_H
#define RGS_SPOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define RGS_SPOOL_NAME_MAX 96 /* bytes of an entry name including the NUL */

/* rgs_spool_put: add one entry.
 * Input: `data_dir` (the data directory; spool/ and its subdirectories are
 * created 0700 when missing), `webhook_record` (a JSON object, normally
 * {"v":1,"type":"webhook",...}; not stolen).  The record is serialised
 * compactly on one line, written to tmp/, fsync'd, renamed into new/ and
 * new/ is fsync'd.
 * Output: 0 and the entry name in name_out (NUL-terminated); -1 with errno
 * on failure (ENOSPC, EDQUOT, EACCES, EROFS, EIO, ENOTDIR...; EINVAL when
 * the record is not an object), in which case nothing is left in new/ and
 * the caller must not acknowledge the event (rgs-verify answers 503). */
int rgs_spool_put(const char *data_dir, const json_t *webhook_record, char name_out[96]);

/* rgs_spool_depth: number of entries waiting or in progress (new/ + cur/),
 * or -1 with errno when the spool cannot be read.  A data directory without
 * a spool has depth 0. */
long rgs_spool_depth(const char *data_dir);

typedef struct {
    char name[96];     /* entry name in cur/ (pass it to ack/requeue/fail) */
    json_t *record;    /* the parsed webhook record (owned by the entry) */
    unsigned attempts; /* how many times the entry was requeued before */
} rgs_spool_entry;

/* rgs_spool_claim: start a batch.  Moves the oldest entries of new/ into
 * cur/ (at most `max`; 0 = no limit), then returns every entry of cur/ in
 * arrival order, including leftovers of a batch that crashed.  Entries whose
 * file is not a readable webhook record (not JSON, not an object, "v" other
 * than 1, "type" other than "webhook") are moved to failed/ with a reason and
 * not returned.  Files in tmp/ older than 15 minutes (left by a writer that
 * died before renaming; never acknowledged) are removed.
 * Output: 0 with *out (array of *n entries; free with
 * rgs_spool_entries_free; NULL when *n is 0); -1 with errno on I/O errors
 * (nothing returned; entries already moved stay in cur/ and come back on the
 * next claim).  A data directory without a spool gives 0 entries. */
int rgs_spool_claim(const char *data_dir, size_t max, rgs_spool_entry **out, size_t *n);

/* rgs_spool_ack: the entry's batch is done: remove cur/<name> and fsync
 * cur/.  `name` must be an entry name as returned by claim.  Returns 0
 * (also when the entry is already gone: acking twice is harmless), -1 with
 * errno (EINVAL for a name that is not an entry name). */
int rgs_spool_ack(const char *data_dir, const char *name);

/* rgs_spool_requeue: the entry's batch failed temporarily: move cur/<name>
 * back to new/ with attempts+1 in its name (the arrival part is kept, so it
 * stays in arrival order).  `why` (may be NULL) is reported at debug level.
 * Returns 0, -1 with errno (ENOENT when cur/<name> does not exist, EINVAL
 * for a bad name). */
int rgs_spool_requeue(const char *data_dir, const char *name, const char *why);

/* rgs_spool_fail: the entry failed permanently: write failed/<name>.reason
 * (the text `why` plus "\n", atomically), then move cur/<name> to
 * failed/<name>.  Returns 0, -1 with errno (ENOENT, EINVAL as above). */
int rgs_spool_fail(const char *data_dir, const char *name, const char *why);

/* rgs_spool_entries_free: release what rgs_spool_claim returned. */
void rgs_spool_entries_free(rgs_spool_entry *e, size_t n);

/* rgs_spool_name_valid: true if `name` has the entry-name shape above.
 * Output: *attempts (when not NULL) gets the attempts count (0 without the
 * ".aN" suffix). */
bool rgs_spool_name_valid(const char *name, unsigned *attempts);

#endif
