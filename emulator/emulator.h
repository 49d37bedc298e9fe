/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "buf.h"
#include "cgroup.h"
#include "config.h"
#include "drift.h"
#include "faults.h"
#include "filter.h"
#include "journal.h"
#include "list.h"
#include "logs.h"
#include "rapi.h"
#include "metrics.h"
#include "records.h"
#include "server.h"
#include "tmp.h"

/*
 * The daemon's core types. One libuv loop owns all of this; nothing here is locked.
 *
 *   Emulator ─┬─ Function[] ─┬─ ExecEnv (list: all; idle list in MRU order)
 *             │              └─ async queue of Invocations
 *             ├─ HttpServer (Invoke API, control API)
 *             └─ Logs
 *
 * An Invocation is owned by whoever holds it: the async queue, an environment while it
 * runs, or nobody once done (then it is freed after its completion callback).
 */

typedef struct Emulator Emulator;
typedef struct Function Function;
typedef struct ExecEnv ExecEnv;
typedef struct Invocation Invocation;
typedef struct InvStream InvStream;

typedef enum InvokeType {
        INVOKE_REQUEST_RESPONSE,
        INVOKE_EVENT,
        INVOKE_DRY_RUN,
        _INVOKE_TYPE_MAX,
        _INVOKE_TYPE_INVALID = -22,
} InvokeType;

/* How an invocation ended, as records and metrics name it. */
typedef enum InvStatus {
        INV_SUCCESS,
        INV_ERROR, /* the function reported an error (/error) or misbehaved */
        INV_TIMEOUT,
        INV_THROTTLED,
        INV_FAILURE, /* the platform failed it: crash, init failure, shutdown */
        _INV_STATUS_MAX,
        _INV_STATUS_INVALID = -22,
} InvStatus;

typedef void (*invocation_done_cb)(Invocation *inv, void *userdata);

struct Invocation {
        Emulator *emu;
        Function *fn;
        ListNode link; /* async queue or env's list */
        char request_id[37];
        char invocation_id[37]; /* per-delivery nonce */
        InvokeType type;
        char *qualifier; /* "$LATEST" or alias name used by the caller */
        char *invoked_arn;
        Buf payload;
        char *client_context; /* decoded, or NULL */
        char *trace_id;
        bool log_tail;
        bool stream_caller;  /* InvokeWithResponseStream: answered as an event stream */
        bool http_stream;    /* an HTTP front-end caller: an HTTP-integration stream is relayed
                              * to it as it arrives (httpfront.c, stream.c) */
        unsigned attempt;    /* async: 1, 2, 3 */
        int64_t accepted_ms; /* wall clock when accepted (event age) */

        /* the caller */
        HttpConn *caller; /* synchronous HTTP caller, NULL once gone */
        invocation_done_cb done_cb;
        void *done_data;
        unsigned done_data_index;

        /* the run */
        ExecEnv *env;
        uv_timer_t timer; /* function timeout, or async retry delay */
        bool timer_init;
        bool timer_deferred; /* the timeout fired late once and was put back */
        uint64_t start_ns;   /* event handed over (or suppressed init began) */
        int64_t deadline_ms;
        RapiEvent event;
        bool cold;
        bool async_cold; /* an event counted in Emulator.async_colds */
        bool suppressed_init;
        double init_ms;
        double duration_ms;
        unsigned max_memory_mb;
        Buf log; /* this invocation's log, bounded (for Tail and records) */
        bool log_truncated;

        /* the outcome */
        bool finished;
        InvStatus status;
        bool function_error; /* X-Amz-Function-Error: Unhandled */
        char error_type[128];
        char error_code[128]; /* InvokeComplete's ErrorCode when not error_type: the runtime's
                               * own error type, unsanitised */
        Buf result;    /* body returned to the caller (never a stream's body to a stream caller) */
        bool streamed; /* the runtime streamed its response */
        InvStream *stream; /* its pacing and framing (stream.c), NULL unless streamed */
        char content_type[128];
        int http_status;       /* 200 normally; a service error's status otherwise */
        char *findings_json;   /* JSON array of findings, or NULL */
        struct Shadow *shadow; /* set on a shadow run's invocation (shadow.h), else NULL */
        char *faults_json;     /* JSON array of fired faults, or NULL */
        FaultArmed *armed;     /* faults armed on this Invoke call (faults.h), or NULL */
        char *service_error;   /* X-Amzn-ErrorType of a service error */
        JournalSegment *jseg;  /* async: the journal segment holding its record, until done */
        char *throttle_reason;
};

typedef enum EnvState {
        ENV_COLD,         /* no processes: a new or reset environment */
        ENV_INITIALIZING, /* processes started, waiting for the first /next */
        ENV_IDLE,
        ENV_BUSY,
        ENV_STOPPING,      /* killed, waiting for the exit */
        ENV_SHUTTING_DOWN, /* ending for good */
        _ENV_STATE_MAX,
        _ENV_STATE_INVALID = -22,
} EnvState;

struct ExecEnv {
        Emulator *emu;
        Function *fn;
        unsigned id;
        char name[96];           /* "<function>-<n>" */
        char stream_suffix[33];  /* log stream: <date>/[$LATEST]<32 hex> */
        ListNode link;           /* fn->envs */
        ListNode idle_link;      /* fn->idle, most recently used first */
        ListNode init_wait_link; /* Emulator.init_wait: its init waits for its turn */
        EnvState state;
        Rapi rapi;
        bool rapi_open;
        char *tel_report; /* platform.report, held until the extensions are done */

        uv_process_t proc;
        uv_pipe_t out, err, status;
        unsigned open_handles; /* proc + pipes not yet closed */
        bool proc_alive;
        bool killing;            /* we sent SIGKILL */
        int after_exit;          /* what follows the exit (env.c) */
        int init_attempt_status; /* how the last init ended, for the caller */
        int exit_status, term_signal;
        Buf status_msg;         /* the launcher's "<stage> <errno>" */
        Buf out_line, err_line; /* partial lines */

        uv_timer_t timer; /* init timeout, or idle timeout */
        Invocation *inv;  /* the invocation it serves */
        uint64_t init_start_ns;
        double init_ms;
        bool init_phase_invoke; /* a suppressed init, under the invocation's timeout */
        char *init_error_body;  /* /init/error payload */
        size_t init_error_len;
        char init_error_type[128];

        unsigned invocations;
        unsigned resets;
        unsigned max_memory_mb;
        uint64_t last_used_ns;
        uint64_t memory_read_ms; /* uv_now() of the last read of the runtime's peak */
        bool closing;
        bool retire;      /* recycle: end after the current invocation */
        bool provisioned; /* provisioned concurrency: initialised ahead */
        bool shadow;      /* a shadow run's environment: never idle, never routed to */
        DriftState drift;
        bool settling;           /* in the settle window after an invocation */
        pid_t runtime_pid;       /* the runtime process (host pid), found at init */
        bool prepared;           /* launcher set up and waiting at its gate (env_prepare) */
        bool want_gate;          /* spawn() with a gate */
        int gate_fd;             /* the daemon's end of the gate */
        bool spare;              /* a function's prepared spare, not yet serving */
        uint64_t completion_due; /* loop time the completion timer is due */
        bool completion_deferred;
        uint64_t last_seq; /* record of the last invocation it served */
        Cgroup cg;         /* memory, pids, cpu limits; freeze */
        bool has_cg;
        bool frozen;
        bool rss_oom;      /* the RSS watchdog killed it (no memory cgroup) */
        uv_poll_t handoff; /* network: none — the launcher's listener hand-off */
        int handoff_fd;
        int netns_fd, userns_fd; /* the environment's own namespaces, kept across resets */
        SbxTmp *tmp;             /* its private /tmp, kept across resets */
        bool tmp_wait;           /* init waits for /tmp to be ready */
        char *start_error;       /* why lemu could not start it (not the launcher's words) */

        /* Managed Instances mode (env-mi.c): invocations linked by Invocation.link */
        ListNode mi_running; /* handed over, waiting for their answers */
        ListNode mi_pending; /* taken, waiting for a worker's /next */
        unsigned n_running, n_pending;
        unsigned mi_returning; /* workers that answered and will ask again */
        unsigned mi_late;      /* timed out, handler still running in a worker */
        /* External extensions (env-ext.c): their output, init's exit reports, and the
         * graceful shutdown (SHUTDOWN, SIGTERM, SIGKILL when the budget is spent). */
        uv_pipe_t ext_out, report;
        Buf ext_line, report_line;
        bool ext_pipes;            /* ext_out and report are open */
        bool graceful;             /* a shutdown with extensions is under way */
        bool graceful_late;        /* its runtime share is spent: the rest is the extensions' */
        bool runtime_exited;       /* init said the runtime is gone */
        const char *ext_reason;    /* SHUTDOWN's reason for the next kill, or NULL: derived */
        uv_timer_t fault_timer;    /* an injected fault's hold, crash or oom (faults.c) */
        bool fault_memory_lowered; /* the oom fault lowered memory.max (v2) */
        bool nofile_restoring;     /* prlimit puts the runtime's open-file limit back */
        bool nofile_waiting;       /* ... and the next event waits for it */
};

/* What the sandbox does for a function's files on this host (isolation.c), set at start. */
typedef struct FnIsolation {
        SbxTmpSpec tmp; /* the /tmp mode this host gives, its cap and owner */
        bool read_only; /* fs: read_only, and a mount namespace can be made */
        uid_t uid;      /* the runtime's user, or (uid_t) -1: lemu's own */
        gid_t gid;
        char *error; /* why no environment can start (the sandbox user), or NULL */
} FnIsolation;

struct Function {
        Emulator *emu;
        FunctionConfig *cfg;
        char *arn;
        char **env_base; /* KEY=VALUE strings shared by every environment */
        size_t n_env_base;
        char *log_stream_prefix;
        ListNode envs;
        ListNode idle;
        ListNode queue;    /* async invocations waiting */
        ListNode retrying; /* async invocations waiting out a retry delay */
        unsigned n_queued;
        unsigned next_env_id;
        unsigned next_shadow_id; /* <fn>-shadow-<n> */
        unsigned inflight;
        unsigned n_envs;
        struct {
                uint64_t invocations, cold_starts, resets, throttles, errors, timeouts, findings;
        } counters;
        Metrics metrics;
        uint64_t rng;           /* the function's random stream, from the seed */
        unsigned rr_cursor;     /* round_robin: the id served last */
        ExecEnv *spare;         /* set up ahead for the next cold start (env_prepare) */
        unsigned nofile;        /* sandbox.nofile, or lemu's own hard limit when lower */
        uv_timer_t spare_timer; /* makes the next spare, off the current invocation's turn */
        FnIsolation iso;
        /* extensions_dir's executables in start order (env-ext.c), at most 10 */
        char **ext_paths;
        char **ext_names;
        unsigned n_ext;
        RapiFunctionInfo ext_info;
        FaultTable faults; /* injected faults (faults.h) */
};

struct Emulator {
        uv_loop_t *loop;
        Config *cfg;
        Function *functions;
        size_t n_functions;
        HttpServer api;
        HttpLimits api_limits;
        HttpLimits rapi_limits;
        Logs logs;
        Records records;
        ListNode idle_waiters; /* POST /_lemu/wait-idle callers */
        char *launcher_path;
        char *listen_url;
        unsigned inflight; /* synchronous + async invocations running */
        unsigned unreserved_inflight;
        /* Events on a cold start now, and how many may be: a burst grows the environments
         * a few at a time instead of starting hundreds that share 2 CPUs for their init. */
        unsigned async_colds, async_colds_max;
        ListNode init_wait; /* environments whose init waits (limits.cold_starts) */
        unsigned inits_max;
        uv_timer_t init_wait_timer;
        unsigned reserved_total; /* sum of reserved_concurrency */
        unsigned sync_waiting;   /* synchronous callers not yet answered */
        uv_timer_t retry_timer;
        CgHost cg;
        SbxTmpHost tmp;      /* /tmp images, tmpfs and folders of environments */
        FilterCache filters; /* seccomp programs (sealed memfds), built once */
        uv_timer_t watchdog; /* RSS watchdog where no memory cgroup limits */
        bool watchdog_on;
        bool rapi_isolation_unknown; /* sock_diag unavailable: peers not checked */
        ListNode dead_cgroups;       /* cgroups still emptying after their environment ended */
        uv_timer_t cg_reaper;
        uv_signal_t sigint, sigterm;
        uv_timer_t grace_timer;
        bool shutting_down;
        bool started; /* emu_start() ran: the sandbox is set up */
        bool ending;  /* environments are being ended */
        bool stopped;
        bool is_rie;             /* the aws-lambda-rie drop-in */
        char *rie_function_name; /* AWS_LAMBDA_FUNCTION_NAME seen by the runtime (RIE) */
        bool pass_host_env;
        void (*on_stopped)(Emulator *e);
        void (*on_env_ready)(Emulator *e); /* an environment became available */
        void *user;
        unsigned background; /* drift samples (and shadow runs) still running */
        unsigned shadows;    /* shadow runs still running (also in background) */
        void (*on_background_done)(Emulator *e);
        int exit_code;
        Journal journal; /* async events, under state_dir (serve) or a private folder */
};

/* ---- emulator.c ---- */
/*
 * emu_init() - what is quick: the functions, the HTTP server (not yet listening).
 * @rie: the aws-lambda-rie drop-in (host environment passed through).
 */
int emu_init(Emulator *e, uv_loop_t *loop, Config *cfg, bool rie, const char *rie_name);
/*
 * emu_start() - what takes time: cgroups, seccomp, the launcher's probes, each function's
 * spare and provisioned environments, and the journal's events. `serve` runs it after
 * listening: connections wait in the listen backlog meanwhile, and the loop serves them
 * once it runs. Idempotent.
 */
void emu_start(Emulator *e);
int emu_listen(Emulator *e, const char *addr);
/*
 * emu_open_journal() - opens (and locks) the async event journal in @dir, or in a private
 * temporary folder when @dir is NULL; the events left in it are queued by emu_start() (now,
 * when it ran already). On failure writes a reason into @err. Return: 0, -EBUSY (another
 * lemu holds @dir) or a negative errno.
 */
int emu_open_journal(Emulator *e, const char *dir, char *err, size_t n);
void emu_shutdown(Emulator *e);
void emu_deinit(Emulator *e);
void emu_handle_signals(Emulator *e);
/* emu_sync_done() - a synchronous caller was answered (shutdown waits for them). */
void emu_sync_done(Emulator *e);
/* emu_check_idle() - answers POST /_lemu/wait-idle callers once nothing is in flight. */
void emu_check_idle(Emulator *e);
bool emu_idle(const Emulator *e);
Function *emu_find_function(Emulator *e, const char *name);

/* ---- sched.c ---- */
Invocation *inv_new(Function *fn, InvokeType type);
void inv_free(Invocation *inv);
/* sched_submit() - routes @inv (a throttle finishes it at once). Takes ownership. */
void sched_submit(Invocation *inv);
/* sched_finish() - records the outcome, answers the caller, frees or retries. */
void sched_finish(Invocation *inv);
void sched_env_available(ExecEnv *env);
void sched_pump_queue(Function *fn);
uint64_t sched_random(Function *fn);
/* sched_provision() - starts environments until `provisioned` are live. */
void sched_provision(Function *fn);
/* True while provisioned environments are still initialising. */
bool sched_provisioning(const Emulator *e);
/* sched_spare_timer_init() / sched_spare_gone() - the function's prepared spare. */
void sched_spare_init(Function *fn);
void sched_spare_gone(ExecEnv *env);
const char *inv_status_name(InvStatus s);

/* ---- env-ext.c ---- */
/* ext_scan() - lists @fn's extensions_dir (executables, sorted, at most 10); says what it
 * skips. */
void ext_scan(Function *fn);
void ext_free(Function *fn);

/* ---- isolation.c ---- */
/* iso_init() - /tmp, fs and user for every function; says once what is not enforced. */
void iso_init(Emulator *e);
/* iso_deinit() - after the loop ended. */
void iso_deinit(Emulator *e);
/* iso_enforced() - what `enforced` reports: the /tmp cap, a read-only tree, a non-root
 * runtime. */
void iso_enforced(const Function *fn, bool *ret_tmp_cap, bool *ret_fs, bool *ret_user);

/* ---- env.c ---- */
ExecEnv *env_new(Function *fn);
/* env_new_shadow() - a fresh environment for a shadow run, named <fn>-shadow-<n>. */
ExecEnv *env_new_shadow(Function *fn);
/* env_run() - gives @inv to @env: thaws and delivers, or starts init first. */
void env_run(ExecEnv *env, Invocation *inv);
/* env_reset() - kills the processes, keeps the id and /tmp; next run re-inits. */
void env_reset(ExecEnv *env);
/* env_shutdown() - ends the environment for good. */
void env_shutdown(ExecEnv *env);
/* env_retire() - ends an idle environment now, a busy one after its invocation. */
void env_retire(ExecEnv *env);
/* env_provision() - initialises a new environment with no invocation waiting. */
void env_provision(ExecEnv *env);
/* env_prepare() - sets a cold environment's sandbox up ahead (see env.c). */
void env_prepare(ExecEnv *env);
const char *env_state_name(EnvState s);
/* The state the control API and metrics show: 0 initializing, 1 idle, 2 busy, 3 frozen,
 * 4 shutting_down. */
int env_public_state_index(const ExecEnv *env);
/* env_init_waiting() - its init waits for a turn (limits.cold_starts). */
bool env_init_waiting(const ExecEnv *env);
const char *env_public_state(const ExecEnv *env);
void env_drain_logs(ExecEnv *env);
/* env_watchdog() - the RSS watchdog's check of one environment (no memory cgroup). */
void env_watchdog(ExecEnv *env);
/* drift.c: records a finding on record @seq (counters, metrics, log). */
void drift_report(ExecEnv *env, uint64_t seq, const char *kind, const char *detail);
/* emu_release_cgroup() - takes @cg over and removes it once its processes are gone. */
void emu_release_cgroup(Emulator *e, Cgroup *cg);
/* emu_seccomp_fd() - the filter @fn's environments load (borrowed), or -1: none (off, or
 * it could not be built, which was said at start). */
int emu_seccomp_fd(const Emulator *e, const Function *fn);
/* env_deliver() - hands the attached invocation's event over now (after a fault's hold). */
void env_deliver(ExecEnv *env);
/* env_force_freeze() - freezes every process of @env, whatever lifecycle.freeze says (the
 * timeout and long_freeze faults); the next hand-over or kill thaws it. */
void env_force_freeze(ExecEnv *env);
/* env_idle() - arms the idle timeout of an environment put back on the idle list. */
void env_idle(ExecEnv *env);
/* emu_env_gone() - an environment was freed (shutdown waits for the last). */
void emu_env_gone(Emulator *e);
