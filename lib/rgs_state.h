/* rgs_state: DATA_DIR/state/<relay>/, the original service's three state
 * files (relay.md §5.6) in their original shapes, so an existing data
 * directory keeps working:
 *   document_hashes.json  {"<doc uuid>": "<sha256 hex of exported text>"}
 *   shared_folders.json   {"<folder uuid>": {"<filemeta path>": <meta>}}
 *   local_state.json      {"<folder uuid>": {"/<path>": {"doc_id","hash",
 *                          "type","modified"}}}
 * rgs-apply is the only writer; rgs-plan and rgs-fetch read.  Interface
 * shared by those stages; implemented in rgs_state.c.
 *
 * Two more things live there, so that a batch touching one note costs the
 * same in a folder of 100 or 100,000 notes (nothing of size O(folder) is
 * parsed or written for it):
 *   doc_index.ndjson  derived from the three files: a header line
 *       {"rgs_doc_index":1,"files":[<stamp>,<stamp>,<stamp>],"folders":[...]}
 *       (stamp "<inode>:<size>:<mtime s>.<ns>" of document_hashes.json,
 *       shared_folders.json, local_state.json, or "-" when absent; folders:
 *       the keys of shared_folders.json), then one line per document id,
 *       sorted by id: {"doc":"<uuid>","folder","vpath","meta","hash","local"}
 *       (what the three files say about it: the first entry in sorted
 *       (folder, path) order that lists it, its document hash, the
 *       local_state entry at that path; absent members = nothing known).
 *       Binary-searched through mmap(2): O(log n) page reads per lookup.
 *       Valid only while the three files' stamps match; otherwise readers
 *       load the three files (correct, O(folder)) and the writer rebuilds it.
 *   pending/<doc uuid>.json  changes newer than the three files, written by
 *       rgs-apply for a batch that only changes notes' contents in place:
 *       {"doc","since":<unix s>,"hash":"<sha256>","local":[{"folder",
 *       "vpath","entry":{<local_state entry>}}]}, meaning
 *       document_hashes[doc] = hash and local_state[folder][vpath] = entry.
 *       Authoritative: every load applies them on top of the three files.
 *       pending/since: when the oldest of them was written (text, unix s).
 *   The writer folds pending/ into the three files (compaction) whenever it
 *   loads them completely (any batch that changes a folder's structure),
 *   and when rgs-apply decides so (on the final tick, when the oldest
 *   change is older than a bound, when too many are pending).  Compaction
 *   order (crash-safe): write local_state.json and document_hashes.json
 *   with the pending changes applied, then remove the pending files, then
 *   pending/since; a crash in between leaves pending files whose changes are
 *   already in the three files: applying them again changes nothing.
 */
#ifndef RGS_STATE_H
#define RGS_STATE_H

#include <jansson.h>
#include <stdbool.h>

typedef struct rgs_state rgs_state;

/* rgs_state_load: load the state of one relay completely (the three files,
 * pending changes applied).  Missing files or directory are empty objects
 * (not an error).  Malformed JSON or wrong shapes are an error (message
 * printed, naming the file).  `relay` must be a validated UUID.  Returns 0
 * and *out (free with rgs_state_free), or -1.  Same as rgs_state_open(...,
 * 0, out) followed by rgs_state_full. */
int rgs_state_load(const char *data_dir, const char *relay, rgs_state **out);

/* rgs_state_open: a handle that reads nothing yet (extension, state-perf).
 * Lookups by document (rgs_state_doc_get, rgs_state_find_doc,
 * rgs_state_has_folder) then read only the index and the document's pending
 * file; anything else (the three documents below, rgs_state_folder_*)
 * loads everything first (rgs_state_full).  flags: RGS_STATE_WRITER for
 * rgs-apply, the only writer, holding DATA_DIR/locks/<relay>/state.lock:
 * its complete loads compact pending changes, its saves write them.
 * Returns 0 and *out, or -1 (relay not a UUID; message printed). */
#define RGS_STATE_WRITER 1u
int rgs_state_open(const char *data_dir, const char *relay, unsigned flags, rgs_state **out);

/* rgs_state_full: load the three files and apply the pending changes (for
 * a writer: first compact them, see above, then apply the changes this
 * handle made so far).  No-op when already loaded.  Returns 0, or -1 on an
 * unreadable or malformed file (message printed; treat as temporary). */
int rgs_state_full(rgs_state *s);
/* rgs_state_is_full: true once the three files are loaded (rgs_state_load,
 * rgs_state_full, or a lookup that had to: no valid index). */
bool rgs_state_is_full(const rgs_state *s);

/* rgs_state_doc_get: what the state says about document `doc` (UUID, any
 * case): folder and vpath = the first entry in sorted (folder, path) order
 * of shared_folders.json that lists it (entries of type "folder" are not
 * documents), meta = that entry, hash = document_hashes.json's value for
 * the lower-case id, local = local_state.json's entry at (folder, vpath);
 * each NULL when unknown.  All borrowed: valid until rgs_state_free for a
 * handle that is not full, until the documents change for a full one.
 * Cost: O(log documents) without a complete load (index valid), O(1)
 * after it.  Returns 1 (folder or hash known), 0 (nothing known), -1
 * (state unreadable; message printed). */
typedef struct {
    const char *folder, *vpath;
    json_t *meta;
    const char *hash;
    json_t *local;
} rgs_state_doc;
int rgs_state_doc_get(rgs_state *s, const char *doc, rgs_state_doc *out);

/* rgs_state_has_folder: 1 if shared_folders.json has a map for `folder`
 * (lower-case UUID), 0 if not, -1 state unreadable.  O(folders) without a
 * complete load. */
int rgs_state_has_folder(rgs_state *s, const char *folder);

/* rgs_state_doc_prepare: the writer is about to record a write of document
 * `doc` at (folder, vpath) with local_state type `type` ("document",
 * "canvas", "file").  When local_state already has that path for that
 * document with that type (a change of content only), the handle stays
 * lazy and the change will go to pending/; otherwise the state is loaded
 * completely.  Returns 0, or -1 (state unreadable). */
int rgs_state_doc_prepare(rgs_state *s, const char *doc, const char *folder, const char *vpath,
                          const char *type);

/* rgs_state_doc_set: record document_hashes[doc] = hash (unless hash is
 * NULL) and local_state[folder][vpath] = entry (a new reference is taken).
 * In a full handle the documents change; in a lazy one (after a
 * successful rgs_state_doc_prepare with the same arguments) the change is
 * kept for pending/.  Returns 0, or -1 (a complete load was needed and
 * failed). */
int rgs_state_doc_set(rgs_state *s, const char *doc, const char *folder, const char *vpath,
                      const char *hash, json_t *entry);

/* rgs_state_status: without loading anything: *pending = number of
 * pending files, *since = the time in pending/since (0 when none),
 * *index_ok = the index matches the three files (or there is nothing to
 * index).  Returns 0, or -1 (I/O error, errno set). */
int rgs_state_status(rgs_state *s, size_t *pending, double *since, bool *index_ok);

/* The three documents, borrowed (valid until rgs_state_free); a writer may
 * modify them and then call rgs_state_save.  On a handle that is not full
 * they load it first (rgs_state_full); if that fails the program exits
 * with status 111 (call rgs_state_full first to handle the error). */
json_t *rgs_state_document_hashes(rgs_state *s);
json_t *rgs_state_shared_folders(rgs_state *s);
json_t *rgs_state_local_state(rgs_state *s);

/* rgs_state_find_doc: which configured folder holds document `doc`, at which
 * filemeta path, with which metadata (from shared_folders.json).  Outputs
 * are borrowed; any may be NULL.  Returns false if no folder lists it.
 * `doc` is a UUID in any case; entries' "id" are compared lower-cased;
 * entries of type "folder" are not documents.  When several entries name
 * the same id, the first in sorted (folder, path) order wins.  Cost: as
 * rgs_state_doc_get (false also when the state cannot be read). */
bool rgs_state_find_doc(rgs_state *s, const char *doc, const char **folder,
                        const char **vpath, json_t **meta);

/* Extensions (work-tree area); the folder maps need a full handle (as the
 * three documents above).
 * rgs_state_relay: the relay id the state belongs to (lower-case UUID,
 * borrowed).
 * rgs_state_folder_meta: shared_folders.json's map for `folder`
 * ({"<filemeta path>": <meta>}), borrowed; NULL when absent unless `create`
 * (then an empty map is added).
 * rgs_state_folder_local: the same for local_state.json
 * ({"/<path>": {"doc_id","hash","type","modified"}}).  Keys are always the
 * filemeta path with its leading '/', in reads and in deletes (the original
 * deleted "path" without the '/', so its entries stayed behind: relay.md
 * §8); rgs_state_load rewrites any key without the '/' to "/path" (an
 * existing "/path" entry wins).  Entries left stale by the original are
 * cleaned up by rgs-plan/rgs-apply (a path whose file is gone is never a
 * rename source).
 * rgs_state_changed: call after changing shared_folders.json through the
 * borrowed documents, so rgs_state_find_doc sees the change.  Pointers
 * returned by rgs_state_find_doc stay valid until the entry is removed. */
const char *rgs_state_relay(const rgs_state *s);
json_t *rgs_state_folder_meta(rgs_state *s, const char *folder, bool create);
json_t *rgs_state_folder_local(rgs_state *s, const char *folder, bool create);
void rgs_state_changed(rgs_state *s);

/* rgs_state_list_sha256: pre.list_sha256 of a filemeta op (rgs-records(5)
 * op "pre"): the SHA-256 (FIPS 180-4) of `list` (a stored file list,
 * shared_folders.json[folder], the JSON object borrowed from the caller)
 * serialized by jansson JSON_COMPACT|JSON_SORT_KEYS (as jq -cS prints it),
 * written to `out` as 64 lower-case hex digits and a NUL.  rgs-plan
 * computes it over the list it compared against, rgs-apply over the list
 * it holds: both use this function so they agree byte for byte.  `list`
 * must not be NULL (a missing list is the JSON null of the record, decided
 * by the caller).  If jansson cannot serialize it (out of memory) the hash
 * is that of the empty string.  No errors; needs the crypto module. */
void rgs_state_list_sha256(const json_t *list, char out[65]);

/* rgs_state_save: for a full handle: write the files whose bytes differ
 * from what was loaded (a file written by the original service is
 * rewritten once, in this format, the first time it is saved; serialised
 * as json.dump(indent=2) does, keys sorted, non-ASCII as \uXXXX escapes, no
 * trailing newline; a file that did not exist and is still empty is not
 * created), each atomically (temp file, fsync, rename, directory fsync),
 * creating the directory; local_state.json first and document_hashes.json
 * last (a crash in between leaves the hashes older than the files: the next
 * plan re-plans the write, it never skips one); then doc_index.ndjson when
 * a file was written or the index did not match.  For a lazy writer: write
 * the pending file of every document changed through rgs_state_doc_set
 * (temporary files made durable together, renamed, one directory fsync),
 * pending/since first when absent.
 * Temporary files left there by a writer that died are removed (the caller
 * is the only writer: rgs-apply holds DATA_DIR/locks/<relay>/state.lock).
 * Returns 0 or -1 (message printed; treat as temporary). */
int rgs_state_save(rgs_state *s);

/* rgs_state_save_flags: rgs_state_save with flags.  RGS_STATE_NO_INDEX:
 * do not write doc_index.ndjson now (it stays stale, so lookups read the
 * files, until a later save or rgs_state_full of a writer rewrites it):
 * for the intermediate saves of a long run of ops. */
#define RGS_STATE_NO_INDEX 1u
int rgs_state_save_flags(rgs_state *s, unsigned flags);

void rgs_state_free(rgs_state *s);

#endif
