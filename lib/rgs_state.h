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
 * are borrowed; any may be NULL.  Returns false if no folder lists it. */
bool rgs_state_find_doc(rgs_state *s, const char *doc, const char **folder,
                        const char **vpath, json_t **meta);

/* rgs_state_save: write the files that changed since load, each atomically
 * (temp file, fsync, rename, directory fsync), creating the directory.
 * Returns 0 or -1 (message printed; treat as temporary). */
int rgs_state_save(rgs_state *s);

void rgs_state_free(rgs_state *s);

#endif
