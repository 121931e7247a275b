/* rgs_config: DATA_DIR/git_connectors.toml, the original service's
 * connector file (relay.md §5.5), read with the strict TOML subset parser
 * of rgs_toml.  Interface shared by rgs-queue, rgs-fetch, rgs-plan,
 * rgs-commit and the glue; implemented in rgs_config.c.
 */
#ifndef RGS_CONFIG_H
#define RGS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* One [[git_connector]] table. */
typedef struct {
    char relay[37];      /* relay_id, validated and lower-cased UUID */
    char folder[37];     /* shared_folder_id, validated and lower-cased UUID */
    char *url;           /* remote URL as written; may contain credentials:
                            log only rgs_redact_url(url) */
    char *branch;        /* default "main"; a valid Git branch name */
    char *remote_name;   /* default "origin"; a valid Git remote name */
    char *prefix;        /* default "": a relative path inside the repository,
                            no leading or trailing '/', no '.', '..' or '.git'
                            component, no empty component */
    bool owns_prefix;    /* owns_prefix = true: the sync may delete files under
                            the prefix that it did not write (default false) */
    unsigned line;       /* line of the [[git_connector]] header, for messages */
    unsigned url_line;   /* line of its url key, for messages (0: no url key) */
} rgs_connector;

/* One entry of the [authors] table: Relay user id -> Git identity. */
typedef struct {
    char *user;          /* Relay user id, as in webhooks' payload.user */
    char *name;          /* from "Name <email>" */
    char *email;
} rgs_author;

typedef struct {
    char *path;                 /* the file read (copy) */
    bool exists;                /* false: no file; no connectors */
    rgs_connector *connectors;  /* in file order */
    size_t n_connectors;
    rgs_author *authors;
    size_t n_authors;
    /* [sync] table: guards (rgs-plan) */
    double max_delete_share;    /* max_delete_share, default 0.10 */
    long max_delete_count;      /* max_delete_count, default 25 */
    /* [commit] table (rgs-commit) */
    char *committer_name;       /* committer_name, default "Relay Git Sync" */
    char *committer_email;      /* committer_email, default "relay-git-sync@localhost" */
    char *message_template;     /* message, default "Auto-sync: %Y-%m-%d %H:%M:%S" */
    bool message_utc;           /* message_utc, default false (local time, as the original) */
} rgs_config;

/* rgs_config_load: read and validate `path`.  A missing file gives an empty
 * configuration with exists = false (not an error).  Errors (a message
 * "file:line: key: why" is printed for each): TOML outside the supported
 * subset, wrong types, ids that are not UUIDs, bad branch/remote names or
 * prefix, two connectors for one (relay, folder) with the same remote_name,
 * or with different prefixes.  Unknown keys are warned about and ignored.
 * Returns 0 and *out (free with rgs_config_free), or -1 (*out NULL). */
int rgs_config_load(const char *path, rgs_config **out);

/* rgs_config_parse: the same for `len` bytes of file content already read;
 * `path` only names the file in messages and in c->path (exists = true). */
int rgs_config_parse(const char *path, const char *text, size_t len, rgs_config **out);

/* rgs_config_path: the configuration file to read: `opt` (from
 * --git-config-file) if non-NULL, else DATA_DIR/git_connectors.toml.
 * Caller frees. */
char *rgs_config_path(const char *opt, const char *data_dir);

/* rgs_config_find: the first connector for (relay, folder), or NULL.  Other
 * connectors of the same folder (other remotes) follow it in file order:
 * use rgs_config_next. */
const rgs_connector *rgs_config_find(const rgs_config *c, const char *relay, const char *folder);
const rgs_connector *rgs_config_next(const rgs_config *c, const rgs_connector *prev);

/* rgs_config_author: the identity configured for a Relay user id, or NULL. */
const rgs_author *rgs_config_author(const rgs_config *c, const char *user);

void rgs_config_free(rgs_config *c);

#endif
