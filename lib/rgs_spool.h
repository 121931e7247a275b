/* rgs_spool: the durable queue of accepted webhooks, DATA_DIR/spool/.
 *
 * Written by rgs-verify (many processes at once), read by rgs-queue (one at
 * a time).  Layout (share/man/man5/rgs-records.5, DATA DIRECTORY):
 *
 *   spool/log/current  the open batch log: accepted webhooks are appended
 *                      here, one "webhook" record (rgs-records(5)) per line
 *   spool/tmp/         single-entry files and new batch logs being written
 *   spool/new/         waiting: single-entry files and rotated batch logs
 *                      (<base>.log)
 *   spool/cur/         claimed by the batch in progress; <base>.log.done
 *                      lists the lines of <base>.log already finished
 *   spool/failed/      entries that failed permanently, each with
 *                      <name>.reason
 *
 * Why a batch log (group commit): a file per webhook costs at least one
 * disk write per webhook and two journal commits (file, directory); on a
 * virtual disk that caps intake near 1,000 webhooks/s with a long latency
 * tail.  Appending to one shared file lets the fdatasync(2) calls of all
 * concurrent rgs-verify processes share disk writes and journal commits.
 *
 * Entries and their names (byte-wise strcmp order is arrival order):
 *
 *   base  = <seconds:10 digits>.<nanoseconds:9>.<pid>.<counter>
 *   <base>[.aN]            a single-entry file (one record, one line)
 *   <base>.l<line:7>       line <line> (1-based) of the batch log <base>.log
 *   <base>.l<line:7>.aN    that line after N requeues (a single-entry file)
 *
 * e.g. "1772575128.123456789.4242.0.l0000017".  The attempts count lives
 * in the name so a requeue of a single file is one atomic rename(2).  A
 * batch log's base is the time it was rotated, after every line in it
 * arrived.  Names of other shapes in new/ or cur/ are ignored.
 *
 * Durability (DESIGN.md, "Acknowledged means durable"): rgs_spool_put
 * returns 0 only after the record's bytes are on disk: appended under an
 * exclusive flock(2) to log/current, then fdatasync(2).  fdatasync does not
 * cover the log's directory entry, so a new log is made durable before any
 * writer can append to it: created as tmp/<base>.log and locked by its
 * creator, fsync'd (with new/, spool/ and the data directory), linked as
 * log/current (link(2) fails if another writer was first), log/ fsync'd,
 * and only then is the lock released (if the sync fails the log is removed
 * again).  Other writers opening the new log wait for that lock.  A log is rotated by rename(2) into
 * new/, by a writer when it exceeds 4 MiB (no fsync: its records are
 * durable under either name, and both are read) or by rgs_spool_claim
 * (then fsync of new/ and log/).  Writers check after taking the lock that their
 * descriptor is still log/current and reopen otherwise, so no record lands
 * in a log after the consumer took it.  A writer killed in the middle of
 * its write leaves a torn line that was never acknowledged; the next writer
 * ends it with "\n" first, and the consumer moves it to failed/.  Moves
 * (claim, requeue, fail) are renames followed by fsync of both directories.
 * A crash at any moment therefore loses no acknowledged record; at worst a
 * record is processed again, which batches tolerate (they are idempotent).
 *
 * One consumer at a time: claim/peek/ack/requeue/fail assume a single
 * rgs-queue per data directory (rgs-server holds DATA_DIR/locks/server.lock).
 * Any number of concurrent producers (rgs_spool_put) is fine.
 */
#ifndef RGS_SPOOL_H
#define RGS_SPOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RGS_SPOOL_NAME_MAX 96 /* bytes of an entry name including the NUL */
#define RGS_SPOOL_ROTATE_BYTES ((off_t)4 << 20) /* a writer rotates a log past this */

/* rgs_spool_put: add one record.
 * Input: `data_dir` (spool/ and its subdirectories are created 0700 when
 * missing), `webhook_record` (a JSON object, normally {"v":1,"type":
 * "webhook",...}; not stolen).  It is serialised compactly on one line and
 * appended to spool/log/current (see above), then fdatasync'd.  The process
 * keeps the log open between calls (one rgs-verify serves a whole
 * keep-alive connection).
 * Output: 0 with a label for messages in name_out ("log@<inode>+<offset>":
 * the entry's name is only fixed when its log is rotated); -1 with errno on
 * failure (ENOSPC, EDQUOT, EACCES, EROFS, EIO, ENOTDIR...; EINVAL when the
 * record is not an object).  On failure the record is not in the log
 * (a partial append is truncated away) and the caller must not acknowledge
 * it (rgs-verify answers 503). */
int rgs_spool_put(const char *data_dir, const json_t *webhook_record, char name_out[96]);

/* rgs_spool_put_file: the same as a single-entry file: tmp/ -> fsync ->
 * rename into new/ -> fsync new/; name_out gets the entry name.  Two
 * journal commits per record: for tools and tests that add a few entries,
 * not for the webhook path. */
int rgs_spool_put_file(const char *data_dir, const json_t *webhook_record, char name_out[96]);

/* rgs_spool_depth: number of records waiting or in progress (single files
 * in new/ and cur/, plus the unfinished lines of the batch logs in log/,
 * new/ and cur/), or -1 with errno when the spool cannot be read.  A data
 * directory without a spool has depth 0. */
long rgs_spool_depth(const char *data_dir);

typedef struct {
    char name[96];     /* entry name (pass it to ack/requeue/fail) */
    json_t *record;    /* the parsed webhook record (owned by the entry) */
    unsigned attempts; /* how many times the entry was requeued before */
} rgs_spool_entry;

/* rgs_spool_claim: start a batch.  Rotates log/current into new/ when it
 * holds records, moves the oldest waiting files of new/ into cur/ (single
 * files count one, a batch log counts its lines and moves whole; stops
 * once `max` records moved; 0 = no limit), then returns every unfinished
 * entry of cur/ in arrival order, including leftovers of a batch that
 * crashed.  Records that are not readable webhook records (not JSON, not
 * an object, "v" other than 1, "type" other than "webhook"; torn lines)
 * are moved to failed/ with a reason and not returned.  Files in tmp/
 * older than 15 minutes (left by a writer that died before renaming; never
 * acknowledged) are removed, and so are batch logs whose lines are all
 * finished.
 * Output: 0 with *out (array of *n entries; free with
 * rgs_spool_entries_free; NULL when *n is 0); -1 with errno on I/O errors
 * (nothing returned; entries already moved stay in cur/ and come back on
 * the next claim).  A data directory without a spool gives 0 entries. */
int rgs_spool_claim(const char *data_dir, size_t max, rgs_spool_entry **out, size_t *n);

/* rgs_spool_peek: what a claim would return, without moving or changing
 * anything (for dry runs): the unfinished entries of cur/, new/ and
 * log/current in arrival order (log/current's lines are named as if the
 * log were rotated now; those names are not valid for ack).  Unreadable
 * records are skipped.  Output as rgs_spool_claim. */
int rgs_spool_peek(const char *data_dir, rgs_spool_entry **out, size_t *n);

/* rgs_spool_ack: the entry's batch is done.  A single file: remove
 * cur/<name> and fsync cur/.  A batch log line: add the line to
 * cur/<base>.log.done (no fsync: a lost ack only means the record is
 * processed again); the log and its .done file are removed once every line
 * is finished.  Returns 0 (also when the entry is already gone: acking
 * twice is harmless), -1 with errno (EINVAL for a name that is not an
 * entry name). */
int rgs_spool_ack(const char *data_dir, const char *name);

/* rgs_spool_requeue: the entry's batch failed temporarily: it goes back to
 * new/ with attempts+1 in its name (the arrival part is kept, so it stays
 * in arrival order).  A single file is renamed; a batch log line is written
 * as a single-entry file <base>.l<line>.a1 (durably) and then marked
 * finished in its log.  `why` (may be NULL) is reported at debug level.
 * Returns 0, -1 with errno (ENOENT when the entry is not in cur/, EINVAL
 * for a bad name). */
int rgs_spool_requeue(const char *data_dir, const char *name, const char *why);

/* rgs_spool_fail: the entry failed permanently: write failed/<name>.reason
 * (the text `why` plus "\n", atomically), then put the record in
 * failed/<name> (a rename for a single file; a durable copy of the line,
 * then marked finished, for a batch log line).  Returns 0, -1 with errno
 * (ENOENT, EINVAL as above). */
int rgs_spool_fail(const char *data_dir, const char *name, const char *why);

/* rgs_spool_entries_free: release what rgs_spool_claim/peek returned. */
void rgs_spool_entries_free(rgs_spool_entry *e, size_t n);

/* rgs_spool_name_valid: true if `name` has one of the entry-name shapes
 * above.  Output: *attempts (when not NULL) gets the attempts count (0
 * without the ".aN" suffix). */
bool rgs_spool_name_valid(const char *name, unsigned *attempts);

#endif
