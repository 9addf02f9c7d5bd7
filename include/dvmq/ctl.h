/* The control protocol (docs/ctl-protocol.md): versioned JSON lines between the daemon and
 * dvmqctl, its command registry, and the socket server and client that carry it.
 *
 * One request per line, one reply per request, in order; subscribers also receive event lines.
 *   request  {"v":1,"id":7,"cmd":"vm.show","args":{"name":"web-1"}}
 *   reply    {"v":1,"id":7,"ok":true,"result":{...}}
 *            {"v":1,"id":7,"ok":false,"error":{"code":"unknown-vm","message":"unknown VM 'web-1'"}}
 *   event    {"v":1,"event":"move","data":{...}}
 * Invariant: every line the server receives gets exactly one well-formed reply (or, for a client
 * that never finishes its line, a `timeout` error before the connection closes); no input makes
 * the decoder or the server crash, allocate without bound or stop serving other clients.
 *
 * Errors: functions return 0 or a negative errno; nothing here prints, exits or aborts (the
 * server logs through the caller's callback). Thread safety: a registry, server or client belongs
 * to one thread; the pure functions (encode/decode, error names) are thread-safe. */
#ifndef DVMQ_CTL_H
#define DVMQ_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DVMQ_CTL_VERSION 1
#define DVMQ_CTL_MAX_LINE 65536u          /* request bytes before the '\n' */
#define DVMQ_CTL_MAX_DEPTH 8u             /* nesting of objects and arrays in a request */
#define DVMQ_CTL_MAX_REPLY (16u << 20)    /* reply or event bytes a client accepts */
#define DVMQ_CTL_DEFAULT_SOCKET "/run/dvmq/dvmq.sock"

/* Error codes, part of the protocol: their names (dvmq_ctl_error_name) never change. */
enum dvmq_ctl_errc {
	DVMQ_CTL_OK,
	DVMQ_CTL_E_PARSE,             /* parse-error: not JSON, or truncated */
	DVMQ_CTL_E_TOO_LARGE,         /* too-large: a line over DVMQ_CTL_MAX_LINE */
	DVMQ_CTL_E_ENCODING,          /* bad-encoding: not UTF-8 */
	DVMQ_CTL_E_TOO_DEEP,          /* too-deep: nested deeper than DVMQ_CTL_MAX_DEPTH */
	DVMQ_CTL_E_VERSION,           /* bad-version: "v" missing or not DVMQ_CTL_VERSION */
	DVMQ_CTL_E_REQUEST,           /* bad-request: not an object, no "cmd", bad "id", unknown member */
	DVMQ_CTL_E_UNKNOWN_COMMAND,   /* unknown-command */
	DVMQ_CTL_E_ARGS,              /* bad-args: unknown, missing or mistyped argument */
	DVMQ_CTL_E_VALUE,             /* bad-value: malformed value (MAC, list, unit, name) */
	DVMQ_CTL_E_RANGE,             /* out-of-range: a number outside its range */
	DVMQ_CTL_E_UNKNOWN_VM,        /* unknown-vm */
	DVMQ_CTL_E_UNKNOWN_QUEUE,     /* unknown-queue */
	DVMQ_CTL_E_UNKNOWN_PROCESSOR, /* unknown-processor */
	DVMQ_CTL_E_UNKNOWN_PARAMETER, /* unknown-parameter */
	DVMQ_CTL_E_EXISTS,            /* exists: VM name or MAC+VLAN already present */
	DVMQ_CTL_E_NO_SPACE,          /* no-space: a table is full */
	DVMQ_CTL_E_UNSUPPORTED,       /* unsupported: the daemon cannot do this while running */
	DVMQ_CTL_E_TIMEOUT,           /* timeout: a request line not finished in time, or idle */
	DVMQ_CTL_E_BUSY,              /* busy: too many clients */
	DVMQ_CTL_E_INTERNAL,          /* internal: the daemon itself failed */
	DVMQ_CTL_E_COUNT
};

#define DVMQ_CTL_MSG_MAX 256

struct dvmq_ctl_error {
	enum dvmq_ctl_errc code;
	char msg[DVMQ_CTL_MSG_MAX];
};

/* "parse-error", ...; "?" outside the enum. */
const char *dvmq_ctl_error_name(enum dvmq_ctl_errc c);
/* Returns the code of a name, or DVMQ_CTL_E_COUNT when unknown. */
enum dvmq_ctl_errc dvmq_ctl_error_parse(const char *name);
/* Fills e (printf format); returns e->code as a convenience. */
enum dvmq_ctl_errc dvmq_ctl_error_set(struct dvmq_ctl_error *e, enum dvmq_ctl_errc code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- encode / decode (pure) ---- */

/* A decoded request. `root` owns everything; cmd and args point into it. */
struct dvmq_ctl_request {
	json_t *root;
	json_t *id;         /* borrowed: an integer >= 0, a string, or NULL (absent) */
	const char *cmd;
	json_t *args;       /* borrowed: an object (an empty one when absent) */
};

/* Decodes one line (without its '\n'; any bytes, not NUL-terminated). Checks, in this order:
 * size, UTF-8, nesting depth, JSON syntax, shape (object, "v", "id", "cmd", "args", nothing
 * else). Returns 0 (req filled; release with dvmq_ctl_request_clear), or -EINVAL with err filled
 * (req->id is then the request's id when it could be read, owned by req: clear it too),
 * or -ENOMEM. */
int dvmq_ctl_decode_request(const char *line, size_t len, struct dvmq_ctl_request *req,
			    struct dvmq_ctl_error *err);
void dvmq_ctl_request_clear(struct dvmq_ctl_request *req);

/* Each returns a malloc'd line ending in '\n' (NUL-terminated; *len excludes the NUL), or NULL
 * when out of memory. `id` may be NULL (encoded as null); `result`/`args`/`data` are stolen
 * (may be NULL: an empty object). */
char *dvmq_ctl_encode_request(json_int_t id, const char *cmd, json_t *args, size_t *len);
char *dvmq_ctl_encode_ok(const json_t *id, json_t *result, size_t *len);
char *dvmq_ctl_encode_error(const json_t *id, const struct dvmq_ctl_error *e, size_t *len);
char *dvmq_ctl_encode_event(const char *event, json_t *data, size_t *len);

/* A decoded reply or event line (client side). */
struct dvmq_ctl_reply {
	json_t *root;
	bool is_event;
	json_int_t id;              /* -1 when null or a string (root holds it; dvmqctl sends integers) */
	const char *event;          /* event name, for events */
	json_t *result;             /* borrowed: result (ok reply) or data (event) */
	struct dvmq_ctl_error error; /* code DVMQ_CTL_OK for an ok reply */
};

/* Decodes a reply or event line (limit DVMQ_CTL_MAX_REPLY). Returns 0, -EPROTO (not a
 * well-formed reply: err says why), -EMSGSIZE, -ENOMEM. Release with dvmq_ctl_reply_clear. */
int dvmq_ctl_decode_reply(const char *line, size_t len, struct dvmq_ctl_reply *rep, struct dvmq_ctl_error *err);
void dvmq_ctl_reply_clear(struct dvmq_ctl_reply *rep);

/* ---- the command registry (in the style of OVS's unixctl) ---- */

enum dvmq_ctl_arg_type {
	DVMQ_CTL_ARG_STRING,  /* max: the longest length in bytes */
	DVMQ_CTL_ARG_INT,     /* min..max */
	DVMQ_CTL_ARG_BOOL,
	DVMQ_CTL_ARG_MAP,     /* an object of string values, at most max members */
};

struct dvmq_ctl_arg {
	const char *name;
	enum dvmq_ctl_arg_type type;
	bool required;
	int64_t min, max;
};

struct dvmq_ctl_call;

/* A handler runs on the thread that dispatches the server and must finish the call exactly once,
 * with dvmq_ctl_call_ok or dvmq_ctl_call_error, before it returns (a handler that does not is
 * answered with `internal`). args were checked against the command's schema. */
typedef void (*dvmq_ctl_handler)(struct dvmq_ctl_call *call, json_t *args, void *aux);

struct dvmq_ctl_command {
	const char *name;           /* "vm.add" */
	const char *usage;          /* one line: the arguments, for list-commands and --help */
	const struct dvmq_ctl_arg *args;
	size_t n_args;
	dvmq_ctl_handler fn;
	void *aux;
};

/* result is stolen (NULL: an empty object). */
void dvmq_ctl_call_ok(struct dvmq_ctl_call *call, json_t *result);
void dvmq_ctl_call_error(struct dvmq_ctl_call *call, enum dvmq_ctl_errc code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* After the reply, send this client the events named `event` (dvmq_ctl_server_publish). */
void dvmq_ctl_call_subscribe(struct dvmq_ctl_call *call, const char *event);

struct dvmq_ctl_registry;

/* `version` is the daemon's version text for the built-in `version` command. Returns 0 or
 * -ENOMEM. Built-in commands: `version` and `list-commands`. */
int dvmq_ctl_registry_create(const char *version, struct dvmq_ctl_registry **out);
void dvmq_ctl_registry_destroy(struct dvmq_ctl_registry *reg);
/* Copies *cmd; its strings, schema and aux are borrowed and must outlive the registry. Returns 0,
 * -EEXIST (name taken), -EINVAL (no name or handler), -ENOMEM. */
int dvmq_ctl_registry_add(struct dvmq_ctl_registry *reg, const struct dvmq_ctl_command *cmd);

#define DVMQ_CTL_MAX_SUBSCRIPTIONS 4u

/* What handling one line produced. */
struct dvmq_ctl_outcome {
	char *reply;          /* malloc'd reply line, or NULL when out of memory */
	size_t len;
	enum dvmq_ctl_errc code;   /* DVMQ_CTL_OK or the error sent */
	const char *subscribe[DVMQ_CTL_MAX_SUBSCRIPTIONS]; /* event names (static strings), NULL-ended */
};

/* Decodes one request line, validates it against the registry and runs its handler. Never
 * fails: any input gives a reply line (unless memory ran out). Caller frees out->reply. */
void dvmq_ctl_registry_handle(struct dvmq_ctl_registry *reg, const char *line, size_t len,
			      struct dvmq_ctl_outcome *out);

/* ---- the server: a unix stream socket driven by the caller's event loop ---- */

enum dvmq_ctl_log_level { DVMQ_LOG_ERR, DVMQ_LOG_WARN, DVMQ_LOG_INFO, DVMQ_LOG_DEBUG };
typedef void (*dvmq_ctl_log_fn)(void *ctx, enum dvmq_ctl_log_level level, const char *msg);

struct dvmq_ctl_server_config {
	const char *path;            /* NULL: DVMQ_CTL_DEFAULT_SOCKET */
	unsigned mode;               /* socket file mode; 0: 0660 */
	const char *group;           /* group owning the socket when it exists; NULL: "dvmq" */
	uint64_t request_timeout_ns; /* a started line must end within this; 0: 5 s */
	uint64_t idle_timeout_ns;    /* a client without a subscription that sends nothing; 0: 60 s */
	uint32_t max_clients;        /* 0: 64 */
	size_t max_output_bytes;     /* replies and events queued for one client; 0: 4 MiB */
	dvmq_ctl_log_fn log;         /* may be NULL */
	void *log_ctx;
};

struct dvmq_ctl_server;

/* Creates the socket. A live instance on the same path (its socket accepts connections, or it
 * holds PATH.lock) is refused with -EADDRINUSE; a stale socket (connect gives ECONNREFUSED) is
 * removed and replaced; a path that exists and is not a socket is refused with -EEXIST. Other
 * errors are the errno of the failed call. `err` (may be NULL) gets a one-line reason. The
 * registry is borrowed. now_ns starts the clock used for client timeouts. */
int dvmq_ctl_server_create(const struct dvmq_ctl_server_config *cfg, struct dvmq_ctl_registry *reg,
			   uint64_t now_ns, struct dvmq_ctl_server **out, char *err, size_t err_len);
/* Closes every client, removes the socket and its lock file. NULL: no-op. */
void dvmq_ctl_server_destroy(struct dvmq_ctl_server *srv);
/* One descriptor (an epoll set) that becomes readable when the server has work: poll it. */
int dvmq_ctl_server_fd(const struct dvmq_ctl_server *srv);
/* Milliseconds until the next client deadline at now_ns (-1: none): the poll timeout to use. */
int dvmq_ctl_server_timeout_ms(const struct dvmq_ctl_server *srv, uint64_t now_ns);
/* Accepts, reads, runs complete request lines through the registry (on this thread), writes
 * replies and enforces timeouts; never blocks. Returns 0, or -errno when the epoll set failed. */
int dvmq_ctl_server_dispatch(struct dvmq_ctl_server *srv, uint64_t now_ns);
/* Sends an event line to every client subscribed to `event`. data is stolen. A subscriber whose
 * queued output exceeds max_output_bytes is disconnected (at the next dispatch). May be called
 * from a handler. Returns subscribers reached. */
unsigned dvmq_ctl_server_publish(struct dvmq_ctl_server *srv, const char *event, json_t *data);
uint32_t dvmq_ctl_server_n_clients(const struct dvmq_ctl_server *srv);
const char *dvmq_ctl_server_path(const struct dvmq_ctl_server *srv);

/* ---- the client: blocking, with timeouts ---- */

struct dvmq_ctl_client;

/* Returns 0, or the errno of socket/connect: -ENOENT or -ECONNREFUSED (no daemon), -EACCES
 * (permission), -ENAMETOOLONG, ... */
int dvmq_ctl_client_open(const char *path, struct dvmq_ctl_client **out);
void dvmq_ctl_client_close(struct dvmq_ctl_client *c);
/* Sends a request (args stolen, may be NULL) and waits for its reply. Returns 0 with *rep filled
 * (rep->error.code says whether the daemon accepted it; release with dvmq_ctl_reply_clear), or
 * -ETIMEDOUT, -ECONNRESET (the daemon closed the connection), -EPROTO (malformed reply, err says
 * why), -EMSGSIZE, -ENOMEM. Events that arrive meanwhile are kept for next_event. */
int dvmq_ctl_client_call(struct dvmq_ctl_client *c, const char *cmd, json_t *args, int timeout_ms,
			 struct dvmq_ctl_reply *rep, struct dvmq_ctl_error *err);
/* Waits for the next event line. timeout_ms < 0: forever. Returns 0 (*rep filled), or as call. */
int dvmq_ctl_client_next_event(struct dvmq_ctl_client *c, int timeout_ms, struct dvmq_ctl_reply *rep,
			       struct dvmq_ctl_error *err);

#endif
