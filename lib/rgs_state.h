/* rgs_state: DATA_DIR/state/<relay>/, the original service's three state
 * files (relay.md §5.6) in their original shapes, so an existing data
 * directory keeps working:
 *   document_hashes.json  {"<doc uuid>": "<sha256 hex of exported text>"}
 *   shared_folders.json   {"<folder uuid>": {"<filemeta path>": <meta>}}
 *   local_state.json      {"<folder uuid>": {"/<path>": {"doc_id","hash",
 *                          "type","modified"}}}
 * rgs-apply is the only writer; rgs-plan and rgs-fetch read.  Interface
 * shared by those stages; implemented in rgs_state.c.
 */
#ifndef RGS_STATE_H
#define RGS_STATE_H

#include <jansson.h>
#include <stdbool.h>

typedef struct rgs_state rgs_state;

/* rgs_state_load: load the state of one relay.  Missing files or directory
 * are empty objects (not an error).  Malformed JSON or wrong shapes are an
 * error (message printed, naming the file).  `relay` must be a validated
 * UUID.  Returns 0 and *out (free with rgs_state_free), or -1. */
int rgs_state_load(const char *data_dir, const char *relay, rgs_state **out);

/* The three documents, borrowed (valid until rgs_state_free); a writer may
 * modify them and then call rgs_state_save. */
json_t *rgs_state_document_hashes(rgs_state *s);
json_t *rgs_state_shared_folders(rgs_state *s);
json_t *rgs_state_local_state(rgs_state *s);

/* rgs_state_find_doc: which configured folder holds document `doc`, at which
 * filemeta path, with which metadata (from shared_folders.json).  Outputs
 * are borrowed; any may be NULL.  Returns false if no folder lists it.
 * `doc` is a UUID in any case; entries' "id" are compared lower-cased;
 * entries of type "folder" are not documents.  When several entries name
 * the same id, the first in sorted (folder, path) order wins.  Cost: O(1)
 * after a first call that indexes all folders (O(entries)). */
bool rgs_state_find_doc(rgs_state *s, const char *doc, const char **folder,
                        const char **vpath, json_t **meta);

/* Extensions (work-tree area).
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

/* rgs_state_save: write the files whose bytes differ from what was loaded
 * (a file written by the original service is rewritten once, in this
 * format, the first time it is saved; serialised as
 * json.dump(indent=2) does, keys sorted, non-ASCII as \uXXXX escapes, no
 * trailing newline; a file that did not exist and is still empty is not
 * created), each atomically (temp file, fsync, rename, directory fsync),
 * creating the directory; local_state.json first and document_hashes.json
 * last (a crash in between leaves the hashes older than the files: the next
 * plan re-plans the write, it never skips one).
 * Temporary files left there by a writer that died are removed (the caller
 * is the only writer: rgs-apply holds DATA_DIR/locks/<relay>/state.lock).
 * Returns 0 or -1 (message printed; treat as temporary). */
int rgs_state_save(rgs_state *s);

void rgs_state_free(rgs_state *s);

#endif
