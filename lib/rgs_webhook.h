/* rgs_webhook: what makes a POST /webhooks acceptable.
 *
 *   - the authentication mode chosen from WEBHOOK_SECRET, as the original
 *     service chooses it (relay.md §5.2);
 *   - shared-secret ("Authorization: Bearer <secret>") and Svix / Standard
 *     Webhooks signature verification (relay.md §1.6; the Standard Webhooks
 *     specification, "Verifying webhooks"), constant-time compares;
 *   - the replay cache: a Svix message id is stored once within the
 *     tolerance window, across processes (per-minute tables in
 *     DATA_DIR/spool/seen/); a resend of a stored id is recognised so it
 *     can be answered 2xx without storing it again;
 *   - the envelope check that turns the body into a "webhook" record
 *     (rgs-records(5); relay.md §1.2: only payload.doc_id is required).
 *
 * Uses jansson and rgs_crypto (OpenSSL).  No I/O besides the replay cache.
 */
#ifndef RGS_WEBHOOK_H
#define RGS_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Authentication modes (relay.md §5.2). */
enum rgs_auth_mode {
    RGS_AUTH_NONE,   /* empty or unset secret: every webhook is refused (401) */
    RGS_AUTH_SVIX,   /* "whsec_..." : Svix / Standard Webhooks signatures */
    RGS_AUTH_JWT,    /* "sk_..." : the original's vestigial JWT mode; nothing
                        ever authenticates (kept so behaviour matches) */
    RGS_AUTH_BEARER, /* anything else: "Authorization: Bearer <secret>" */
};

/* rgs_webhook_auth_mode: the mode for `secret` (NULL counts as empty). */
enum rgs_auth_mode rgs_webhook_auth_mode(const char *secret);
/* rgs_webhook_auth_mode_name: "none", "svix", "jwt", "bearer". */
const char *rgs_webhook_auth_mode_name(enum rgs_auth_mode m);

/* Header lookup supplied by the caller: the value of the header named
 * `lower_name` (ASCII lower case; the caller compares case-insensitively)
 * or NULL, and in *count the number of fields with that name. */
typedef const char *(*rgs_webhook_header_fn)(void *ctx, const char *lower_name, unsigned *count);

/* Result of authentication. */
typedef struct {
    bool ok;             /* authenticated */
    const char *method;  /* "bearer" or "svix" when ok (the record's "auth") */
    char error[256];     /* when !ok: the exact "error" text of the 401 body,
                            the original's wording (relay.md §5.2), e.g.
                            "Authentication required",
                            "Authentication failed: Invalid shared secret",
                            "Authentication failed: Signature validation
                            failed: No matching signature found" */
    char msg_id[256];    /* svix: the message id (for the replay cache) */
    long long timestamp; /* svix: the signed timestamp, Unix seconds */
} rgs_webhook_auth;

/* rgs_webhook_authenticate: check one request.
 * Inputs: `secret` (WEBHOOK_SECRET; never copied into `out` or messages),
 * headers via `get`/`ctx`, the raw body (`n` bytes, as received), `now`
 * (Unix seconds) and `tolerance` (seconds; the Svix window, 300).
 * Rules:
 *   none   -> "Authentication required";
 *   jwt    -> "Authentication failed: JWT webhook authentication is not
 *             supported" (the original never accepted one either);
 *   bearer -> exactly one Authorization field; missing -> "Authentication
 *             required"; its value must equal "Bearer " + secret (case-
 *             sensitive "Bearer", one space), compared in constant time;
 *   svix   -> svix-id, svix-timestamp, svix-signature; if any of the three
 *             is missing, webhook-id, webhook-timestamp, webhook-signature
 *             (relay.md §1.6).  Missing -> "Authentication required"; a
 *             header given twice, a timestamp that is not a number ->
 *             "...: Invalid Signature Headers"; older than now - tolerance
 *             -> "...: Message timestamp too old"; newer than now +
 *             tolerance -> "...: Message timestamp too new"; key =
 *             base64(secret without "whsec_"); expected =
 *             base64(HMAC-SHA256(key, id "." floor(ts) "." body)); the
 *             signature header is a space-separated list of "v1,<base64>"
 *             (other versions ignored); any equal one (constant time)
 *             authenticates, else "...: No matching signature found".
 * Output: *out filled (see above).  Returns true when authenticated. */
bool rgs_webhook_authenticate(const char *secret, rgs_webhook_header_fn get, void *ctx,
                              const void *body, size_t n, double now, double tolerance,
                              rgs_webhook_auth *out);

/* Envelope check results. */
enum rgs_envelope_result {
    RGS_ENVELOPE_OK = 0,
    RGS_ENVELOPE_BAD_JSON = 1,    /* 400 "Invalid JSON payload": not UTF-8, not JSON,
                                     duplicate keys, nesting deeper than 64 */
    RGS_ENVELOPE_BAD_PAYLOAD = 2, /* 400 "Invalid webhook payload": not an object,
                                     no payload object, no string payload.doc_id,
                                     doc_id not "<uuid>-<uuid>" or "<uuid>-<uuid>-<uuid>" */
};

#define RGS_ENVELOPE_MAX_DEPTH 64

/* rgs_webhook_envelope: parse the body (`n` bytes) and build the spool
 * record {"v":1,"type":"webhook","relay","resource","doc_id","event_type",
 * "event_id","timestamp","user","metadata","received","auth"} as
 * rgs-records(5) describes it: relay and resource are the validated,
 * lower-cased UUIDs of payload.doc_id (rgs_docid_split; relay first,
 * resource last); doc_id is kept as sent; event_type (eventType, a
 * string), event_id (eventId, a string), timestamp (payload.timestamp, a
 * string), user (payload.user, a string or null) and metadata
 * (payload.metadata, an object) only when present with those types;
 * received = `received` (Unix seconds); auth = `auth` ("bearer"/"svix").
 * Output: RGS_ENVELOPE_OK and *record (new reference, caller decrefs), or
 * another result with *record NULL and a reason for logs in why[whylen]
 * (never contains body bytes beyond 60 characters of an id). */
enum rgs_envelope_result rgs_webhook_envelope(const void *body, size_t n, const char *auth,
                                              double received, json_t **record, char *why,
                                              size_t whylen);

/* Replay cache (Svix message ids), shared by all rgs-verify processes:
 * one table per minute of the signed timestamp,
 * DATA_DIR/spool/seen/<minute>.tab, holding for each id 15 bytes of the
 * SHA-256 of the id and its state, PENDING (being stored) or DONE (stored);
 * open addressing, changes under flock(2) LOCK_EX on the table, each live
 * minute's table 8 MiB on disk.  Not fsync'd: after a machine crash an id
 * may be accepted once more (a duplicate event, which batches tolerate).
 *
 * The Standard Webhooks specification ("Idempotency") and Svix resend a
 * message with the same id when they did not get a 2xx (a lost or slow
 * answer); a resend of an id that is already stored must get 2xx, or the
 * sender keeps retrying and may disable the endpoint.  An id is only
 * reported as stored once its first copy is durable, so a 200 for a
 * resend never covers an event that is not on disk.
 *
 * A claim that records a new id holds it PENDING with a ticket: an
 * open-file-description lock (fcntl F_OFD_SETLK) on its slot.  The claimant
 * stores the event, then calls rgs_replay_commit (DONE) or, if storing
 * failed, rgs_replay_release (the id may be claimed again).  A claim that
 * finds the id PENDING waits, up to `wait` seconds, for that lock: DONE
 * gives 1, released or abandoned (the holder died, its lock went with
 * it: the event may or may not be stored) gives the claim to the waiter. */
typedef struct {
    int fd;              /* -1: no ticket held */
    long long slot;      /* slot index in the table */
    unsigned char key[16];
} rgs_replay_ticket;

/* rgs_replay_claim: look for `msg_id` in every live minute's table, and
 * if it is not there record it PENDING in the table of its own minute
 * (`timestamp`, Unix seconds; under the table's lock, so of two processes
 * racing on one request only one records it).  `now` (Unix seconds) and
 * `tolerance` (seconds) decide which minutes are live: minutes older than
 * `tolerance` + 3 minutes are expired, not looked into (removed by
 * rgs_replay_prune).  `wait`: seconds to wait for a PENDING copy.
 * Returns 0: new, recorded PENDING, *t holds the ticket (store the event,
 *            then rgs_replay_commit or rgs_replay_release);
 *         1: accepted and stored before: answer 2xx, do not store again;
 *         2: another process is still storing it after `wait` seconds
 *            (answer 503: the sender retries);
 *        -1: with errno: cannot record it (answer 503; ENOSPC when the
 *            minute's table is full, above ~7,000 ids per second).
 * *t is only valid (t->fd >= 0) with 0. */
int rgs_replay_claim(const char *data_dir, const char *msg_id, long long timestamp, double now,
                     double tolerance, double wait, rgs_replay_ticket *t);

/* rgs_replay_commit: the event of the ticket's id is durable: mark the id
 * DONE and end the ticket (t->fd becomes -1).  Returns 0 or -1 with errno
 * (the id then stays PENDING with nobody holding it: the next claim of it
 * takes it over, at worst a duplicate event).  A ticket without fd: 0. */
int rgs_replay_commit(rgs_replay_ticket *t);

/* rgs_replay_release: the event could not be stored: forget the id, so a
 * retry of the same message is accepted, and end the ticket.  Returns 0 or
 * -1 with errno.  A ticket without fd: 0. */
int rgs_replay_release(rgs_replay_ticket *t);

/* rgs_replay_prune: remove the tables of expired minutes (a table another
 * process still reads stays readable until it closes it; tickets keep
 * their own descriptor).  Does the work at most
 * once per process every 30 seconds of `now`; rgs-verify calls it after a
 * response is out, so no request waits for it.  Errors are ignored (the
 * next call retries). */
void rgs_replay_prune(const char *data_dir, double now, double tolerance);

#endif
