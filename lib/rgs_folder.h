/* rgs_folder: the file list of a Relay shared folder as the Relay plugin
 * reads it (relay.md §3.1, plugin SyncStore.getMeta/migrateUp):
 * filemeta_v0 merged with the legacy `docs` map.
 */
#ifndef RGS_FOLDER_H
#define RGS_FOLDER_H

#include <jansson.h>
#include <stdbool.h>

#include "rgs_ydoc.h"

/* rgs_folder_merge: the folder's live entries.
 * Inputs: `filemeta` the root map filemeta_v0 as a JSON object (path ->
 * meta, in filemeta order) or NULL when the root is absent; `docs` the
 * legacy root map docs (path -> guid string) or NULL; `relay` and `folder`
 * the validated UUIDs (they seed the ids of implied folders).
 * Rules:
 *   - an entry whose meta is {"type":"markdown",...} (or the older
 *     {"type":"document",...}, treated like markdown, relay.md §3.1) and
 *     that has no docs entry for the same path is deleted (old clients
 *     delete documents by removing only the docs entry);
 *   - a docs entry (string value) without a filemeta_v0 entry is a live
 *     document {"version":0,"id":<guid>,"type":"markdown"}, appended after
 *     the filemeta entries in docs order;
 *   - every missing parent directory of an entry ("/a" and "/a/b" for
 *     "/a/b/c.md") is implied: {"version":0,"id":<uuid>,"type":"folder",
 *     "implied":true}, appended last; its id is a stable name-based UUID
 *     (SHA-256 of relay, folder and path, RFC 9562 version 8 layout) so
 *     the same folder gives the same id every time.
 * Every other value (hostile keys and odd values included) is copied
 * unchanged: later stages validate paths and ids.
 * Returns a new object (caller decrefs), never NULL. */
json_t *rgs_folder_merge(const json_t *filemeta, const json_t *docs, const char *relay,
                         const char *folder);

/* rgs_folder_from_ydoc: the live entries of folder document `d`: its
 * roots filemeta_v0 and docs (read as maps, numbers as JavaScript prints
 * them) merged by rgs_folder_merge.  A NUL in a key (JSON records cannot
 * carry one in an object key) becomes U+0001, so the entry stays a
 * control-character path that rgs-plan refuses rather than failing the
 * whole folder.  *never is true (and *entries an empty
 * object) when the update was 00 00 or neither root exists.  Returns 0 and
 * *entries (caller decrefs), or -1 with why[200] when a root did not give
 * JSON. */
int rgs_folder_from_ydoc(const rgs_ydoc *d, const char *relay, const char *folder, json_t **entries,
                         bool *never, char why[200]);

#endif
