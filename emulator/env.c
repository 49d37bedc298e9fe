/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Execution environments: the processes of one function instance, its Runtime API listener,
 * and the lifecycle of spec §4 — init (limited by init_timeout_s, retried inside the
 * invocation when it fails), invoke (limited by the function timeout), reset after a
 * timeout or crash (id and /tmp kept, next run re-inits), shutdown.
 *
 * A process is only ever killed and then waited for: whatever follows a kill runs from the
 * exit path through `after_exit`, so there is one path and no race with a late exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "codec.h"
#include "emulator.h"
#include "env-mi.h"
#include "env-ext.h"
#include "env-tel.h"
#include "macro.h"
#include "peer.h"
#include "procmem.h"
#include "stream.h"
#include "xalloc.h"

enum {
        AFTER_NOTHING,
        AFTER_SUPPRESSED_INIT, /* init failed in phase init: run it again under the invoke */
        AFTER_COLD,            /* back to the idle list, cold */
        AFTER_FREE,            /* ending for good */
        AFTER_UNPREPARED,      /* a prepared launcher died before its runtime started */
};

#define LINE_MAX_BYTES  (256 * 1024)
#define FREEZE_DELAY_MS 2
#define MEMORY_READ_MS  100
/* A timer that fires this late was held up by a blocked loop: I/O is polled once more. */
#define LATE_TIMER_MS 5

static void start_init(ExecEnv *env);
static void start_init_in_turn(ExecEnv *env);
static void start_waiting_inits(Emulator *e);
/* A prepared launcher's gate: closing it without a byte ends the launcher. */
static void close_gate(ExecEnv *env) {
        if (env->gate_fd >= 0)
                close(env->gate_fd);
        env->gate_fd = -1;
}
static void settle_cb(uv_timer_t *t);
static void launch(ExecEnv *env);
static void handoff_closed(uv_handle_t *h);
static void update_memory_quick(ExecEnv *env);
static void detach(ExecEnv *env, Invocation *inv);
static void offer(ExecEnv *env);
static void deliver(ExecEnv *env);
static void env_kill(ExecEnv *env, int after);
static void hard_kill(ExecEnv *env);
static void init_failed(ExecEnv *env, const char *status, const char *error_type);
static void env_freeze(ExecEnv *env, bool on);

const char *env_state_name(EnvState s) {
        static const char *const names[] = {
                [ENV_COLD] = "cold",         [ENV_INITIALIZING] = "initializing",
                [ENV_IDLE] = "idle",         [ENV_BUSY] = "busy",
                [ENV_STOPPING] = "stopping", [ENV_SHUTTING_DOWN] = "shutting_down",
        };
        return s >= 0 && s < _ENV_STATE_MAX ? names[s] : "unknown";
}

static ExecEnv *env_of(Rapi *r) {
        return r->data;
}

static double ms_since(uint64_t start_ns) {
        return (double) (clock_mono_ns() - start_ns) / 1e6;
}

/* ---- the function's output ---------------------------------------------------------- */

static void split_lines(ExecEnv *env, Buf *partial, const char *p, size_t n) {
        Logs *l = &env->emu->logs;

        while (n > 0) {
                const char *nl = memchr(p, '\n', n);
                size_t take = nl ? (size_t) (nl - p) : n;

                if (partial->len + take > LINE_MAX_BYTES) {
                        /* An endless line is cut, not buffered without bound. */
                        size_t room = LINE_MAX_BYTES - partial->len;
                        buf_append(partial, p, room);
                        logs_function_line(l, env, partial->data, partial->len);
                        buf_reset(partial);
                        p += room;
                        n -= room;
                        continue;
                }
                if (!nl) {
                        buf_append(partial, p, n);
                        return;
                }
                if (partial->len) {
                        buf_append(partial, p, take);
                        logs_function_line(l, env, partial->data, partial->len);
                        buf_reset(partial);
                } else {
                        logs_function_line(l, env, p, take);
                }
                p += take + 1;
                n -= take + 1;
        }
}

static void flush_partial(ExecEnv *env, Buf *partial) {
        if (partial->len) {
                logs_function_line(&env->emu->logs, env, partial->data, partial->len);
                buf_reset(partial);
        }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char chunk[65536];

        *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void output_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
        ExecEnv *env = s->data;
        Buf *partial = s == (uv_stream_t *) &env->out ? &env->out_line : &env->err_line;

        if (n > 0)
                split_lines(env, partial, buf->base, (size_t) n);
        else if (n < 0) {
                flush_partial(env, partial);
                uv_read_stop(s);
        }
}

static void status_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
        ExecEnv *env = s->data;

        if (n > 0 && env->status_msg.len < 256)
                buf_append(&env->status_msg, buf->base, (size_t) n);
        else if (n < 0)
                uv_read_stop(s);
}

/* @p's descriptor, or -1 once it is closing. */
static int pipe_fd(uv_pipe_t *p) {
        uv_os_fd_t fd;

        if (uv_is_closing((uv_handle_t *) p) || uv_fileno((uv_handle_t *) p, &fd) < 0)
                return -1;
        return fd;
}

/* Reads what the pipe holds now, without waiting: output written before the runtime posted
 * its answer is in the pipe already, so the log shows it before END and REPORT. */
static void drain_fd(ExecEnv *env, uv_pipe_t *p, Buf *partial) {
        char chunk[65536];
        int fd = pipe_fd(p);

        for (int i = 0; fd >= 0 && i < 64; i++) {
                ssize_t r = read(fd, chunk, sizeof(chunk));
                if (r <= 0)
                        break;
                if (partial)
                        split_lines(env, partial, chunk, (size_t) r);
                else if (env->status_msg.len < 256)
                        buf_append(&env->status_msg, chunk, (size_t) r);
        }
}

void env_drain_logs(ExecEnv *env) {
        if (!env->proc_alive && env->open_handles == 0)
                return;
        /* One poll() for both pipes: on a warm invocation they are usually empty, since libuv
         * read what came before the answer in the same or an earlier loop iteration. */
        struct pollfd pfd[2] = { { .fd = pipe_fd(&env->out), .events = POLLIN },
                                 { .fd = pipe_fd(&env->err), .events = POLLIN } };
        if (pfd[0].fd < 0 && pfd[1].fd < 0)
                return;
        int ready = poll(pfd, 2, 0); /* a negative fd is skipped */
        if (ready == 0)
                return;
        if (ready < 0) /* cannot tell: read both */
                pfd[0].revents = pfd[1].revents = POLLIN;
        if (pfd[0].revents)
                drain_fd(env, &env->out, &env->out_line);
        if (pfd[1].revents)
                drain_fd(env, &env->err, &env->err_line);
}

/* ---- processes ---------------------------------------------------------------------- */

static void after_exit(ExecEnv *env);

static void handle_closed(uv_handle_t *h) {
        ExecEnv *env = h->data;

        if (--env->open_handles == 0)
                after_exit(env);
}

static void close_process_handles(ExecEnv *env) {
        env_drain_logs(env);
        flush_partial(env, &env->out_line);
        flush_partial(env, &env->err_line);
        envt_phase_end(env);
        uv_close((uv_handle_t *) &env->proc, handle_closed);
        uv_close((uv_handle_t *) &env->out, handle_closed);
        uv_close((uv_handle_t *) &env->err, handle_closed);
        uv_close((uv_handle_t *) &env->status, handle_closed);
        envx_close_handles(env, handle_closed);
        if (env->handoff_fd >= 0 && !uv_is_closing((uv_handle_t *) &env->handoff)) {
                uv_poll_stop(&env->handoff);
                uv_close((uv_handle_t *) &env->handoff, handoff_closed);
        }
}

const char *env__signal_text(int sig) {
        switch (sig) {
        case SIGKILL:
                return "killed";
        case SIGSEGV:
                return "segmentation fault";
        case SIGABRT:
                return "aborted";
        case SIGTERM:
                return "terminated";
        case SIGBUS:
                return "bus error";
        case SIGILL:
                return "illegal instruction";
        case SIGFPE:
                return "floating point exception";
        case SIGINT:
                return "interrupt";
        default:
                return strsignal(sig);
        }
}

/* "Runtime exited with error: exit status 3" — Go's ExitError text, as Lambda prints it. */
void env__exit_text(ExecEnv *env, char *out, size_t n) {
        if (env->term_signal)
                snprintf(out, n, "Runtime exited with error: signal: %s",
                         env__signal_text(env->term_signal));
        else if (env->exit_status)
                snprintf(out, n, "Runtime exited with error: exit status %d", env->exit_status);
        else
                snprintf(out, n, "Runtime exited without providing a reason");
}

/* The launcher's "<stage> <errno>", as a sentence; false when it said nothing. */
static bool launcher_failure(ExecEnv *env, char *out, size_t n) {
        char stage[64];
        int err;

        if (env->start_error) {
                snprintf(out, n, "%s", env->start_error);
                return true;
        }
        if (env->status_msg.len == 0 || sscanf(env->status_msg.data, "%63s %d", stage, &err) != 2)
                return false;
        snprintf(out, n, "lemu could not start the runtime: stage '%s' failed: %s", stage,
                 strerror(err));
        return true;
}

void env__fail_invocation(Invocation *inv, InvStatus status, const char *type, const char *msg) {
        Buf m = BUF_INIT;

        /* @type may come from an extension (its exit error type): escaped as @msg is. */
        buf_printf(&m, "RequestId: %s Error: %s", inv->request_id, msg);
        buf_reset(&inv->result);
        buf_puts(&inv->result, "{\"errorType\":");
        buf_put_json_str(&inv->result, type, strlen(type));
        buf_puts(&inv->result, ",\"errorMessage\":");
        buf_put_json_str(&inv->result, m.data, m.len);
        buf_puts(&inv->result, "}");
        buf_free(&m);
        snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
        str_copy(inv->error_type, sizeof(inv->error_type), type);
        inv->error_code[0] = '\0';
        inv->status = status;
        inv->function_error = true;
}

/* Closes the invocation's books on @env: times, END and REPORT. */
void env__close_books(ExecEnv *env, Invocation *inv) {
        uv_timer_stop(&inv->timer);
        /* Ended before its event was handed over (lemu shut down during init): no time. */
        inv->duration_ms = inv->start_ns ? ms_since(inv->start_ns) : 0;
        if (inv->suppressed_init) {
                /* Everything ran on the invocation's clock. */
                inv->init_ms = 0;
        }
        /* The runtime's peak is one procfs read, a tenth of a busy daemon's work. It is read
         * on drift's schedule (each of the first 32 invocations, then every 64th), after an
         * invocation of 100 ms or more, and at least every 100 ms of a busy environment;
         * Max Memory Used is the environment's peak so far, which a run of short invocations
         * raises by little. (Duration alone is no guide: under load, waiting for a CPU makes
         * every invocation long.) */
        uint64_t now_ms = uv_now(env->emu->loop);
        if (drift_sample_due(env->invocations) || inv->duration_ms >= MEMORY_READ_MS ||
            now_ms - env->memory_read_ms >= MEMORY_READ_MS) {
                env->memory_read_ms = now_ms;
                update_memory_quick(env);
        }
        inv->max_memory_mb = env->max_memory_mb;
        fault_detach(env, inv);
        env_drain_logs(env);
        logs_end_report(&env->emu->logs, inv);
        inv->env = env;
}

/* ... and the environment lets go of it. */
static void detach(ExecEnv *env, Invocation *inv) {
        env__close_books(env, inv);
        env->inv = NULL;
}

static void finish_on_env(ExecEnv *env, Invocation *inv) {
        detach(env, inv);
        sched_finish(inv);
}

/* A reset environment goes back on the idle list at once, while its processes are still
 * being reaped, so that a caller's next invocation finds it and re-runs init there. */
static void offer(ExecEnv *env) {
        if (env->emu->shutting_down || env->closing || env->state == ENV_SHUTTING_DOWN ||
            env->shadow)
                return;
        list_unlink(&env->idle_link);
        list_push_front(&env->fn->idle, &env->idle_link);
}

/* The runtime is gone. Without a launcher left, the handles close; with one (its extensions
 * outlive the runtime), they get SHUTDOWN and their budget first (spec §4.3), then the
 * launcher's exit closes the handles. */
static void teardown(ExecEnv *env) {
        if (!env->proc_alive) {
                env->killing = true;
                close_process_handles(env);
                return;
        }
        const char *reason = env->ext_reason ? env->ext_reason : "failure";
        env->ext_reason = NULL;
        uv_timer_stop(&env->timer);
        uv_timer_stop(&env->fault_timer);
        if (!envx_shutdown(env, reason))
                hard_kill(env);
}

/* The runtime died on its own (@env->exit_status, @env->term_signal): the OOM killer (cgroup
 * counter, or our RSS watchdog), a crash, or an exit. The environment is reset. */
static void runtime_died(ExecEnv *env) {
        char text[256];
        bool oom = env->rss_oom || (env->has_cg && cg_oom_fired(&env->cg));
        const char *exit_type = oom ? "Runtime.OutOfMemory" : "Runtime.ExitError";

        env->rss_oom = false;
        if (oom) /* it reached its memory size: that is its peak */
                env->max_memory_mb = MAX(env->max_memory_mb, env->fn->cfg->memory_mb);
        if (!launcher_failure(env, text, sizeof(text)))
                env__exit_text(env, text, sizeof(text));
        if (env_mi(env) && (env->state == ENV_IDLE || env->state == ENV_BUSY)) {
                /* Every invocation it held fails; waiting ones stay for the re-init. */
                env->resets++;
                env->fn->counters.resets++;
                env->state = ENV_STOPPING;
                env->after_exit = AFTER_COLD;
                teardown(env);
                env_mi_runtime_exited(env, exit_type, text);
                return;
        }
        switch (env->state) {
        case ENV_INITIALIZING:
                /* The handles close (or the extensions shut down first), then after_exit()
                 * does what init_failed() decides. */
                if (!env->proc_alive) {
                        env->killing = true;
                        close_process_handles(env);
                }
                init_failed(env, "error",
                            env->init_error_type[0] ? env->init_error_type : exit_type);
                return;
        case ENV_BUSY:
                /* Only an invocation the runtime was given fails: one that waits for the
                 * runtime's next /next (it exited after answering) gets a fresh init. */
                if (env->inv && env->inv->event.request_id) {
                        Invocation *inv = env->inv;
                        char note[512];
                        snprintf(note, sizeof(note), "RequestId: %s Error: %s", inv->request_id,
                                 text);
                        env_drain_logs(env);
                        logs_platform_note(&env->emu->logs, env, inv, note);
                        logs_platform_note(&env->emu->logs, env, inv, exit_type);
                        env__fail_invocation(inv, INV_FAILURE, exit_type, text);
                        env->resets++;
                        env->fn->counters.resets++;
                        detach(env, inv);
                        env->state = ENV_STOPPING;
                        env->after_exit = AFTER_COLD;
                        teardown(env);
                        /* The reset environment takes the caller's next call (cold). */
                        offer(env);
                        sched_finish(inv);
                        return;
                }
                env->resets++;
                env->fn->counters.resets++;
                env->after_exit = AFTER_COLD;
                break;
        default:
                /* Idle (or answered, not yet asking again): the next invocation re-inits. */
                env->resets++;
                env->fn->counters.resets++;
                if (env->after_exit == AFTER_NOTHING)
                        env->after_exit = AFTER_COLD;
                break;
        }
        env->state = ENV_STOPPING;
        teardown(env);
}

static void exit_cb(uv_process_t *p, int64_t exit_status, int term_signal) {
        ExecEnv *env = p->data;

        env->proc_alive = false;
        env->exit_status = (int) exit_status;
        env->term_signal = term_signal;
        drain_fd(env, &env->status, NULL);
        envx_exited(env);

        if (env->killing) {
                close_process_handles(env);
                return;
        }
        if (env->prepared) {
                /* Set up ahead and died before its runtime was let start (a stage failed):
                 * nothing ran, nothing is reset; the next start is an ordinary one. */
                env->prepared = false;
                close_gate(env);
                env->killing = true;
                env->after_exit = AFTER_UNPREPARED;
                close_process_handles(env);
                return;
        }
        runtime_died(env);
}

void env__runtime_exited(ExecEnv *env, int wait_status) {
        if (!env->proc_alive || env->killing || env->graceful || env->prepared)
                return;
        env->exit_status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 0;
        env->term_signal = WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0;
        runtime_died(env);
}

void env__extension_failed(ExecEnv *env, const char *error_type, const char *text) {
        if (!env->proc_alive || env->killing || env->graceful)
                return;
        if (env->state == ENV_INITIALIZING) {
                init_failed(env, "error", error_type);
                return;
        }
        if (env->state != ENV_IDLE && env->state != ENV_BUSY)
                return;
        env->resets++;
        env->fn->counters.resets++;
        env->state = ENV_STOPPING;
        env->after_exit = AFTER_COLD;
        if (env_mi(env)) {
                env_mi_runtime_exited(env, error_type, text);
                teardown(env);
                return;
        }
        Invocation *inv = env->inv;
        if (!inv || !inv->event.request_id) {
                /* Between invocations (or one not handed over yet, which after_exit() starts
                 * on a fresh init). */
                teardown(env);
                return;
        }
        char note[512];
        snprintf(note, sizeof(note), "RequestId: %s Error: %s", inv->request_id, text);
        env_drain_logs(env);
        logs_platform_note(&env->emu->logs, env, inv, note);
        logs_platform_note(&env->emu->logs, env, inv, error_type);
        env__fail_invocation(inv, INV_FAILURE, error_type, text);
        detach(env, inv);
        teardown(env);
        offer(env);
        sched_finish(inv);
}

static char **build_envp(ExecEnv *env) {
        Function *fn = env->fn;
        size_t n = fn->n_env_base;
        char **envp = xcalloc(n + 6, sizeof(char *));
        const char *tmpdir = sbx_tmp_tmpdir(env->tmp);

        for (size_t i = 0; i < n; i++)
                envp[i] = fn->env_base[i];
        envp[n++] = xasprintf("AWS_LAMBDA_RUNTIME_API=%s", env->rapi.address);
        envp[n++] = xasprintf("AWS_LAMBDA_LOG_STREAM_NAME=%s%s", fn->log_stream_prefix,
                              env->stream_suffix);
        if (env_mi(env)) {
                envp[n++] = xstrdup("AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances");
                envp[n++] = xasprintf("AWS_LAMBDA_MAX_CONCURRENCY=%u",
                                      fn->cfg->per_environment_concurrency);
        } else {
                envp[n++] = xstrdup(
                        env->provisioned ? "AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency"
                                         : "AWS_LAMBDA_INITIALIZATION_TYPE=on-demand");
        }
        if (tmpdir) /* no mount namespace: the private /tmp is a folder */
                envp[n++] = xasprintf("TMPDIR=%s", tmpdir);
        envp[n] = NULL;
        return envp;
}

/* network: none — the launcher sends the Runtime API listener made inside the environment's
 * namespace, and the namespace itself, which the environment keeps for its restarts. */
static void handoff_closed(uv_handle_t *h) {
        ExecEnv *env = h->data;

        close(env->handoff_fd);
        env->handoff_fd = -1;
        if (--env->open_handles == 0)
                after_exit(env);
}

static void handoff_ready(uv_poll_t *p, int status, int events) {
        ExecEnv *env = p->data;
        char byte;
        struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
        char ctl[CMSG_SPACE(sizeof(int) * 3)];
        struct msghdr msg = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl, .msg_controllen = sizeof(ctl)
        };

        ssize_t r = status < 0 ? -1 : recvmsg(env->handoff_fd, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EAGAIN)
                return;
        struct cmsghdr *c = r > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int fds[3] = { -1, -1, -1 };
                size_t nf = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                memcpy(fds, CMSG_DATA(c), MIN(nf, 3) * sizeof(int));
                if (fds[0] >= 0 &&
                    rapi_attach(&env->rapi, env->emu->loop, &env->emu->rapi_limits, fds[0]) < 0)
                        fds[0] = -1;
                env->netns_fd = fds[1];
                env->userns_fd = fds[2];
        }
        uv_poll_stop(p);
        uv_close((uv_handle_t *) p, handoff_closed);
}

static void watch_handoff(ExecEnv *env, int fd) {
        env->handoff_fd = fd;
        uv_poll_init(env->emu->loop, &env->handoff, fd);
        env->handoff.data = env;
        env->open_handles++;
        uv_poll_start(&env->handoff, UV_READABLE | UV_DISCONNECT, handoff_ready);
}

static int spawn(ExecEnv *env) {
        Function *fn = env->fn;
        FunctionConfig *fc = fn->cfg;
        char parent[24], nofile[24], status_fd[] = "3";
        const char *argv[64 + 16 + 4 + 2 * RAPI_EXT_MAX];
        size_t n = 0;
        uv_process_options_t o = { 0 };
        uv_stdio_container_t stdio[12];
        unsigned nstdio = 4;
        char slots[8][8];
        int filter_fd = emu_seccomp_fd(env->emu, fn); /* the sealed BPF memfd, or -1 */
        int handoff[2] = { -1, -1 };
        bool net_none = strcmp(fc->sandbox.network, "none") == 0;
/* Passes @fd to the launcher as its descriptor number nstdio (UV_INHERIT_FD dup2s it). */
#define PASS_FD(flag, descr)                                                 \
        do {                                                                 \
                stdio[nstdio].flags = UV_INHERIT_FD;                         \
                stdio[nstdio].data.fd = (descr);                             \
                snprintf(slots[nstdio - 4], sizeof(slots[0]), "%u", nstdio); \
                argv[n++] = (flag);                                          \
                argv[n++] = slots[nstdio - 4];                               \
                nstdio++;                                                    \
        } while (0)

        snprintf(parent, sizeof(parent), "%d", (int) getpid());
        snprintf(nofile, sizeof(nofile), "%u", env->fn->nofile);
        argv[n++] = env->emu->launcher_path;
        argv[n++] = "--status-fd";
        argv[n++] = status_fd;
        argv[n++] = "--parent";
        argv[n++] = parent;
        argv[n++] = "--chdir";
        argv[n++] = fc->code_dir;
        argv[n++] = "--nofile";
        argv[n++] = nofile;
        if (env->has_cg) {
                const char *dirs[5];
                int nd = cg_join_dirs(&env->cg, dirs, 5);
                for (int i = 0; i < nd; i++) {
                        argv[n++] = "--cgroup";
                        argv[n++] = dirs[i];
                }
        }
        if (filter_fd >= 0)
                PASS_FD("--seccomp-fd", filter_fd);
        if (net_none) {
                /* The first start makes the namespace and hands its listener over; restarts
                 * join the namespace the environment kept. */
                argv[n++] = "--net-none";
                if (env->netns_fd >= 0) {
                        PASS_FD("--netns-fd", env->netns_fd);
                        if (env->userns_fd >= 0)
                                PASS_FD("--userns-fd", env->userns_fd);
                } else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, handoff) == 0) {
                        PASS_FD("--rapi-sock", handoff[1]);
                } else {
                        return -errno;
                }
        }
        const FnIsolation *iso = &fn->iso;
        char uid[16], gid[16], tmp_arg[4200];
        if (iso->uid != (uid_t) -1) {
                snprintf(uid, sizeof(uid), "%u", (unsigned) iso->uid);
                snprintf(gid, sizeof(gid), "%u", (unsigned) iso->gid);
                argv[n++] = "--uid";
                argv[n++] = uid;
                argv[n++] = "--gid";
                argv[n++] = gid;
        }
        if (iso->read_only)
                argv[n++] = "--read-only";
        int mntns = sbx_tmp_mntns_fd(env->tmp);
        if (mntns >= 0) {
                /* A kept tmpfs: join its mount namespace, inside its user namespace. */
                if (env->userns_fd >= 0 && !(net_none && env->netns_fd >= 0))
                        PASS_FD("--userns-fd", env->userns_fd);
                snprintf(tmp_arg, sizeof(tmp_arg), "ns:%u", nstdio);
                stdio[nstdio].flags = UV_INHERIT_FD;
                stdio[nstdio++].data.fd = mntns;
                argv[n++] = "--tmp";
                argv[n++] = tmp_arg;
        } else if (sbx_tmp_launch_arg(env->tmp, -1, tmp_arg, sizeof(tmp_arg))) {
                argv[n++] = "--tmp";
                argv[n++] = tmp_arg;
        }
        nstdio += envx_spawn_args(env, argv, &n, &stdio[nstdio], nstdio, &slots[nstdio - 4]);
        int gate[2] = { -1, -1 };
        /* Prepared ahead, or extensions to register first: the runtime waits at a gate. */
        if (env->want_gate || envx_has_extensions(env)) {
                if (pipe2(gate, O_CLOEXEC) < 0)
                        return -errno;
                PASS_FD("--gate-fd", gate[0]);
        }
#undef PASS_FD
        argv[n++] = "--";
        if (fc->command) {
                for (size_t i = 0; fc->command[i] && n < 64; i++)
                        argv[n++] = fc->command[i];
        } else {
                argv[n++] = fc->bootstrap;
        }
        for (size_t i = 0; fc->args && fc->args[i] && n < 78; i++)
                argv[n++] = fc->args[i];
        argv[n] = NULL;

        uv_pipe_init(env->emu->loop, &env->out, 0);
        uv_pipe_init(env->emu->loop, &env->err, 0);
        uv_pipe_init(env->emu->loop, &env->status, 0);
        env->out.data = env->err.data = env->status.data = env->proc.data = env;
        stdio[0].flags = UV_IGNORE;
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *) &env->out;
        stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[2].data.stream = (uv_stream_t *) &env->err;
        stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[3].data.stream = (uv_stream_t *) &env->status;

        char **envp = build_envp(env);
        o.file = argv[0];
        o.args = (char **) argv;
        o.env = envp;
        o.cwd = NULL;
        o.flags = UV_PROCESS_DETACHED; /* own process group: the fallback kill without pidns */
        o.stdio_count = (int) nstdio;
        o.stdio = stdio;
        o.exit_cb = exit_cb;
        int r = uv_spawn(env->emu->loop, &env->proc, &o);
        if (gate[0] >= 0) {
                close(gate[0]);
                if (r == 0)
                        env->gate_fd = gate[1];
                else
                        close(gate[1]);
        }
        if (handoff[1] >= 0)
                close(handoff[1]);
        env->open_handles = 4;
        envx_spawned(env, r == 0);
        if (handoff[0] >= 0 && r == 0)
                watch_handoff(env, handoff[0]);
        else if (handoff[0] >= 0)
                close(handoff[0]);
        for (size_t i = fn->n_env_base; envp[i]; i++)
                free(envp[i]);
        free(envp);
        env->killing = false;
        env->exit_status = env->term_signal = 0;
        buf_reset(&env->status_msg);
        if (r < 0) {
                /* uv_spawn initialised the handle; it must still be closed. */
                env->proc_alive = false;
                return r;
        }
        env->proc_alive = true;
        uv_read_start((uv_stream_t *) &env->out, alloc_cb, output_cb);
        uv_read_start((uv_stream_t *) &env->err, alloc_cb, output_cb);
        uv_read_start((uv_stream_t *) &env->status, alloc_cb, status_cb);
        return 0;
}

/* SIGKILL to every process of the environment; its exit follows. */
static void hard_kill(ExecEnv *env) {
        env->killing = true;
        if (env->has_cg)
                cg_kill(&env->cg);
        /* Thaw too: the next start of this environment joins the same cgroup, and would be
         * frozen from its first instruction. */
        if (env->frozen && env->has_cg && cg_can_freeze(&env->cg))
                (void) cg_freeze(&env->cg, false);
        env->frozen = false;
        /* The launcher's death takes init and the whole pid namespace; the group kill covers
         * hosts where no namespace could be made. */
        kill(-env->proc.pid, SIGKILL);
        uv_process_kill(&env->proc, SIGKILL);
}

static void env_kill(ExecEnv *env, int after) {
        const char *reason = env->ext_reason       ? env->ext_reason
                             : after == AFTER_FREE ? "spindown"
                                                   : "failure";

        env->ext_reason = NULL;
        env->prepared = false;
        close_gate(env);
        env->tmp_wait = false;
        sbx_tmp_wait(env->tmp, NULL, NULL);
        env->after_exit = after;
        env->state = env->state == ENV_SHUTTING_DOWN ? ENV_SHUTTING_DOWN : ENV_STOPPING;
        if (env->graceful)
                return; /* a graceful shutdown is under way: its budget ends it all the same */
        uv_timer_stop(&env->timer);
        uv_timer_stop(&env->fault_timer);
        /* With extensions registered, they get SHUTDOWN and their budget first; the
         * Extensions API keeps serving them meanwhile. */
        if (envx_shutdown(env, reason))
                return;
        rapi_reset(&env->rapi);
        if (env->proc_alive) {
                if (!env->killing)
                        hard_kill(env);
                return;
        }
        if (env->open_handles == 0)
                after_exit(env);
        /* else: handles are closing, after_exit() follows */
}

void env__hard_kill(ExecEnv *env) {
        if (env->proc_alive)
                hard_kill(env);
}

void env__close_gate(ExecEnv *env) {
        close_gate(env);
}

void env__init_failed(ExecEnv *env, const char *status, const char *error_type) {
        init_failed(env, status, error_type);
}

void env__freeze(ExecEnv *env, bool on) {
        env_freeze(env, on);
}

/* The last handle is gone: the environment leaves its function and is freed. */
static void timer_closed(uv_handle_t *h) {
        ExecEnv *env = h->data;
        Emulator *e = env->emu;

        list_unlink(&env->link);
        list_unlink(&env->idle_link);
        list_unlink(&env->init_wait_link);
        env->fn->n_envs--;
        sched_spare_gone(env);
        if (env->has_cg)
                emu_release_cgroup(e, &env->cg);
        drift_release(&env->drift);
        if (env->netns_fd >= 0)
                close(env->netns_fd);
        if (env->userns_fd >= 0)
                close(env->userns_fd);
        env->tmp = sbx_tmp_free(env->tmp);
        free(env->start_error);
        buf_free(&env->status_msg);
        buf_free(&env->out_line);
        buf_free(&env->err_line);
        buf_free(&env->ext_line);
        buf_free(&env->report_line);
        free(env->init_error_body);
        free(env);
        emu_env_gone(e);
}

/* The fault timer closes first, then the timer whose close frees the environment. */
static void fault_timer_closed(uv_handle_t *h) {
        ExecEnv *env = h->data;

        uv_close((uv_handle_t *) &env->timer, timer_closed);
}

static void close_timers(ExecEnv *env) {
        env->closing = true;
        uv_close((uv_handle_t *) &env->fault_timer, fault_timer_closed);
}

static void rapi_closed(Rapi *r) {
        ExecEnv *env = env_of(r);

        env->rapi_open = false;
        close_timers(env);
}

static void after_exit(ExecEnv *env) {
        int after = env->after_exit;

        env->after_exit = AFTER_NOTHING;
        env->killing = false;
        free(env->tel_report);
        env->tel_report = NULL;
        rapi_reset(&env->rapi);
        fault_env_exited(env);
        switch (after) {
        case AFTER_SUPPRESSED_INIT:
                env->state = ENV_COLD;
                env->init_phase_invoke = true;
                start_init(env);
                return;
        case AFTER_FREE:
                env->state = ENV_SHUTTING_DOWN;
                rapi_close(&env->rapi, rapi_closed);
                return;
        case AFTER_UNPREPARED:
                env->state = ENV_COLD; /* its next start spawns the ordinary way */
                return;
        case AFTER_COLD:
        default:
                env->state = ENV_COLD;
                env->init_phase_invoke = false;
                if (env->emu->shutting_down) {
                        env_shutdown(env);
                        return;
                }
                if (!env->inv) {
                        sched_env_available(env);
                        env_prepare(env); /* its next cold start skips the sandbox set-up */
                } else {
                        start_init(env); /* an invocation waits on it already */
                }
                return;
        }
}

/* ---- init --------------------------------------------------------------------------- */

static void init_timeout_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;
        double limit = env->fn->cfg->init_timeout_s * 1000, spent = ms_since(env->init_start_ns);

        /* libuv counts from its cached millisecond clock, which can lag init_start_ns: the
         * timer may fire a fraction of a millisecond early. An init is timed out (and says
         * so in INIT_REPORT) only once it has really had its init_timeout_s. */
        if (env->state == ENV_INITIALIZING && spent < limit) {
                uv_timer_start(t, init_timeout_cb, (uint64_t) ceil(limit - spent), 0);
                return;
        }
        if (env->state == ENV_INITIALIZING) {
                env->ext_reason = "timeout";
                init_failed(env, "timeout", NULL);
        }
}

static void start_init(ExecEnv *env) {
        Emulator *e = env->emu;
        Invocation *inv = env->inv;

        env->state = ENV_INITIALIZING;
        env->init_start_ns = clock_mono_ns();
        drift_reset(&env->drift);
        free(env->init_error_body);
        env->init_error_body = NULL;
        env->init_error_len = 0;
        env->init_error_type[0] = '\0';
        if (inv) {
                inv->cold = true;
                if (env->init_phase_invoke) {
                        inv->suppressed_init = true;
                        inv->start_ns = env->init_start_ns;
                        inv->deadline_ms =
                                clock_wall_ms() + (int64_t) llround(env->fn->cfg->timeout_s * 1000);
                }
        }
        logs_init_start(&e->logs, env);
        free(env->start_error);
        env->start_error = NULL;
        launch(env);
}

/* The sandbox's failure, said on the loop's next turn like a launcher's: init fails the same
 * way, and a queue of invocations never recurses through it. */
static void start_failed_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->state == ENV_INITIALIZING && !env->proc_alive)
                init_failed(env, "error",
                            env->fn->iso.error ? "Runtime.InvalidEntrypoint" : "Runtime.Unknown");
}

static void tmp_ready_cb(SbxTmp *t, int status, void *userdata) {
        ExecEnv *env = userdata;

        if (!env->tmp_wait)
                return;
        env->tmp_wait = false;
        if (env->state == ENV_INITIALIZING && !env->proc_alive)
                launch(env);
}

/* Starts the launcher once the sandbox is ready: the /tmp image may still be in the making
 * (init waits, on its clock), and a sandbox user that cannot read the code fails init. */
static void launch(ExecEnv *env) {
        Emulator *e = env->emu;
        Invocation *inv = env->inv;
        char msg[256];

        if (!env->fn->iso.error && !sbx_tmp_ready(env->tmp)) {
                env->tmp_wait = true;
                sbx_tmp_wait(env->tmp, tmp_ready_cb, env);
                return;
        }
        if (env->fn->iso.error)
                env->start_error = xstrdup(env->fn->iso.error);
        else if (sbx_tmp_error(env->tmp, msg, sizeof(msg)) < 0)
                env->start_error = xasprintf("lemu could not prepare /tmp: %s", msg);
        if (env->start_error) {
                logs_platform_note(&e->logs, env, inv, env->start_error);
                uv_timer_start(&env->timer, start_failed_cb, 0, 0);
                return;
        }
        if (env->prepared && env->proc_alive) {
                /* Prepared ahead: the sandbox is set up, the runtime starts now. */
                env->prepared = false;
                bool opened = write(env->gate_fd, "g", 1) == 1;
                close_gate(env);
                if (!opened) {
                        /* The launcher is gone: its exit arrives as an init failure. */
                        kill(-env->proc.pid, SIGKILL);
                        uv_process_kill(&env->proc, SIGKILL);
                }
                goto started;
        }
        int r = spawn(env);
        if (r < 0) {
                char note[256];
                snprintf(note, sizeof(note), "lemu could not start '%s': %s", e->launcher_path,
                         uv_strerror(r));
                logs_platform_note(&e->logs, env, inv, note);
                env->killing = true;
                buf_printf(&env->status_msg, "spawn %d", -r);
                close_process_handles(env);
                init_failed(env, "error", "Runtime.InvalidEntrypoint");
                return;
        }
started:
        fault_init_started(env);
        if (!env->init_phase_invoke)
                uv_timer_start(&env->timer, init_timeout_cb,
                               (uint64_t) llround(env->fn->cfg->init_timeout_s * 1000), 0);
        else if (inv)
                deliver(env); /* arms the invocation's timer; the event waits for /next */
}

/*
 * env_prepare() - sets a cold environment up ahead of need: cgroups joined, namespaces made,
 * init running, the launcher waiting at its gate. The cold start that follows only opens
 * the gate: its runtime's fork and exec are all that is left on the invocation's path.
 * Nothing happens when the sandbox is not ready now (a /tmp image in the making).
 */
static void prepare_tmp_ready(SbxTmp *t, int status, void *userdata) {
        ExecEnv *env = userdata;

        /* Still cold and unused: the /tmp is there now, set the rest up. */
        if (env->state == ENV_COLD && !env->inv && !env->closing)
                env_prepare(env);
}

void env_prepare(ExecEnv *env) {
        char msg[256];

        if (env->state != ENV_COLD || env->proc_alive || env->prepared || env->emu->shutting_down ||
            env->fn->iso.error || env->open_handles || env->inv || envx_has_extensions(env))
                return; /* extensions would start ahead of init */
        if (!sbx_tmp_ready(env->tmp)) {
                /* Its /tmp image is being made: prepare once it is (a start replaces this
                 * wait with its own). */
                sbx_tmp_wait(env->tmp, prepare_tmp_ready, env);
                return;
        }
        if (sbx_tmp_error(env->tmp, msg, sizeof(msg)) < 0)
                return;
        env->want_gate = true;
        int r = spawn(env);
        env->want_gate = false;
        if (r < 0) {
                close_gate(env);
                env->killing = true;
                env->after_exit = AFTER_UNPREPARED;
                close_process_handles(env);
                return;
        }
        env->prepared = true;
}

/* The init error body the caller gets (spec §3.3). */
static void set_init_error_result(ExecEnv *env, Invocation *inv, const char *status,
                                  const char *error_type) {
        char text[256];

        if (strcmp(status, "timeout") == 0) {
                char msg[128];
                snprintf(msg, sizeof(msg), "Task timed out after %.2f seconds",
                         ms_since(inv->start_ns) / 1000);
                env__fail_invocation(inv, INV_TIMEOUT, "Sandbox.Timedout", msg);
                return;
        }
        if (env->init_error_body) {
                buf_reset(&inv->result);
                buf_append(&inv->result, env->init_error_body, env->init_error_len);
                snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
                str_copy(inv->error_type, sizeof(inv->error_type), error_type);
                inv->status = INV_FAILURE;
                inv->function_error = true;
                return;
        }
        if (!launcher_failure(env, text, sizeof(text)))
                env__exit_text(env, text, sizeof(text));
        env__fail_invocation(inv, INV_FAILURE, error_type ? error_type : "Runtime.ExitError", text);
}

static void init_failed(ExecEnv *env, const char *status, const char *error_type) {
        Emulator *e = env->emu;
        Invocation *inv = env->inv;
        double ms = ms_since(env->init_start_ns);

        uv_timer_stop(&env->timer);
        logs_init_report(&e->logs, env, ms, env->init_phase_invoke, status, error_type);
        if (!env->init_phase_invoke && inv) {
                /* Phase init failed: stop everything and init again inside the invocation. */
                env_kill(env, AFTER_SUPPRESSED_INIT);
                return;
        }
        if (!inv) {
                env_kill(env, AFTER_COLD);
                return;
        }
        set_init_error_result(env, inv, status, error_type);
        inv->init_ms = 0;
        detach(env, inv);
        env_kill(env, AFTER_COLD);
        offer(env);
        sched_finish(inv);
}

/* ---- invoke ------------------------------------------------------------------------- */

static void invoke_timeout_cb(uv_timer_t *t) {
        Invocation *inv = t->data;
        ExecEnv *env = inv->env;
        char msg[128], note[256], ts[40];

        if (!env || (env->inv != inv && !env_mi_holds(env, inv)))
                return;
        if (!inv->timer_deferred && clock_wall_ms() - inv->deadline_ms > LATE_TIMER_MS) {
                /* The loop was blocked past the deadline: the runtime's answer may be waiting
                 * unread. Poll I/O first; the caller's clock is not charged for our delay. */
                inv->timer_deferred = true;
                uv_timer_start(t, invoke_timeout_cb, 1, 0);
                return;
        }
        double secs = ms_since(inv->start_ns) / 1000;
        snprintf(msg, sizeof(msg), "Task timed out after %.2f seconds", secs);
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
        env_drain_logs(env);
        snprintf(note, sizeof(note), "%s %s %s", ts, inv->request_id, msg);
        logs_platform_note(&env->emu->logs, env, inv, note);
        if (env->inv != inv) {
                /* Managed Instances mode: the caller is answered, the environment and its
                 * other invocations go on, and a late answer gets 410. */
                env_mi_timed_out(env, inv, msg);
                return;
        }
        if (env->state == ENV_INITIALIZING)
                logs_init_report(&env->emu->logs, env, ms_since(env->init_start_ns), true,
                                 "timeout", NULL);
        env__fail_invocation(inv, INV_TIMEOUT, "Sandbox.Timedout", msg);
        env->resets++;
        env->fn->counters.resets++;
        detach(env, inv);
        env->ext_reason = "timeout";
        env_kill(env, AFTER_COLD);
        offer(env);
        sched_finish(inv);
}

/* Every process of the environment stops between invocations, as on Lambda: through the
 * unified hierarchy's cgroup.freeze, else SIGSTOP/SIGCONT to each process (never the v1
 * freezer, whose frozen tasks survive SIGKILL). */
static void freeze_now(ExecEnv *env, bool on);
static void env_freeze(ExecEnv *env, bool on) {
        if (env->frozen == on ||
            (on && (!env->fn->cfg->lifecycle.freeze || !env->proc_alive || env_mi(env))))
                return;
        freeze_now(env, on);
}

void env_force_freeze(ExecEnv *env) {
        if (!env->frozen && env->proc_alive && !env->killing)
                freeze_now(env, true);
}

static void freeze_now(ExecEnv *env, bool on) {
        env->frozen = on;
        rapi_tel_pause(&env->rapi, on); /* a frozen subscriber cannot take deliveries */
        if (env->has_cg && cg_can_freeze(&env->cg) && cg_freeze(&env->cg, on) == 0)
                return;
        pid_t pids[1024];
        int n = env->has_cg ? cg_pids(&env->cg, pids, 1024) : -1;
        if (n < 0)
                n = sbx_tree_pids(env->proc.pid, pids, 1024);
        for (int i = 0; i < n; i++)
                if (pids[i] != env->proc.pid)
                        kill(pids[i], on ? SIGSTOP : SIGCONT);
}

/* Starts the invocation's clock (unless it runs already) and its timeout timer. */
void env__arm_deadline(ExecEnv *env, Invocation *inv) {
        if (!inv->timer_init) {
                uv_timer_init(env->emu->loop, &inv->timer);
                inv->timer_init = true;
        }
        inv->timer.data = inv;
        if (uv_is_active((uv_handle_t *) &inv->timer))
                return;
        if (!inv->suppressed_init) {
                inv->start_ns = clock_mono_ns();
                inv->deadline_ms =
                        clock_wall_ms() + (int64_t) llround(env->fn->cfg->timeout_s * 1000);
        }
        {
                /* The loop's cached time can be milliseconds old (a spawn just ran): a timer
                 * based on it would end the invocation before its timeout. */
                uv_update_time(env->emu->loop);
                double left = (double) inv->deadline_ms - (double) clock_wall_ms();
                uv_timer_start(&inv->timer, invoke_timeout_cb, left > 0 ? (uint64_t) left : 0, 0);
        }
}

/* The event /next renders, with a fresh invocation id (one per delivery). */
void env__make_event(Invocation *inv) {
        uuid_random(inv->invocation_id);
        inv->event = (RapiEvent){
                .request_id = inv->request_id,
                .deadline_ms = inv->deadline_ms,
                .function_arn = inv->invoked_arn,
                .trace_id = inv->trace_id,
                .client_context = inv->client_context,
                .invocation_id = inv->invocation_id,
                .payload = slice_from_buf(&inv->payload),
                /* A stream caller gets up to the streaming cap; any other caller gets the
                 * stream collected, under the buffered cap (spec §2.1). An HTTP caller's
                 * cap becomes the buffered one when its stream turns out to be collected
                 * (stream.c). */
                .stream_max = inv->stream_caller || inv->http_stream
                                      ? inv->fn->cfg->streaming.max_bytes
                                      : RAPI_MAX_RESPONSE,
        };
}

static void deliver(ExecEnv *env) {
        Invocation *inv = env->inv;

        /* A warm delivery's clock starts now; a suppressed init's started with the init. */
        if (!inv->suppressed_init && !fault_clock_kept(inv))
                uv_timer_stop(&inv->timer);
        env__arm_deadline(env, inv);
        if (env->state == ENV_INITIALIZING)
                return; /* a suppressed init: the event goes at the first /next */
        if (fault_hold(env, inv))
                return; /* an injected hold: env_deliver() follows */
        env->state = ENV_BUSY;
        env->invocations++;
        env__make_event(inv);
        logs_start(&env->emu->logs, inv);
        env_freeze(env, false);
        fault_event(env, inv);
        rapi_deliver(&env->rapi, &inv->event);
        fault_delivered(env, inv);
}

void env_deliver(ExecEnv *env) {
        deliver(env);
}

/* ---- Runtime API callbacks ---------------------------------------------------------- */

static void on_ready(Rapi *r) {
        ExecEnv *env = env_of(r);

        if (env->state == ENV_INITIALIZING) {
                if (fault_init_hangs(env))
                        return; /* its first /next stays unanswered: init times out */
                uv_timer_stop(&env->timer);
                /* Its mounts are done: a tmpfs /tmp is kept for the next start. */
                sbx_tmp_keep_ns(env->tmp, env->proc.pid, &env->userns_fd);
                env->init_ms = ms_since(env->init_start_ns);
                env->runtime_pid = envx_has_extensions(env) ? envx_runtime_pid(env)
                                                            : sbx_tree_runtime(env->proc.pid);
                update_memory_quick(env);
                /* INIT_REPORT is a log line for failures (and provisioned inits) only; the
                 * Telemetry API reports every init. */
                if (env->inv || !env->provisioned)
                        envt_init_report(env, env->init_ms, env->init_phase_invoke, "success",
                                         NULL);
                if (env->inv) {
                        if (!env->inv->suppressed_init)
                                env->inv->init_ms = env->init_ms;
                        env->state = ENV_IDLE;
                        if (env_mi(env))
                                env_mi_init_done(env);
                        else
                                deliver(env);
                } else {
                        if (env->provisioned)
                                logs_init_report(&env->emu->logs, env, env->init_ms, false,
                                                 "success", NULL);
                        env->state = ENV_IDLE;
                        sched_env_available(env);
                }
                if (!list_empty(&env->emu->init_wait))
                        start_waiting_inits(env->emu); /* a turn is free */
                return;
        }
        if (env_mi(env)) {
                env_mi_worker_ready(env);
                return;
        }
        if (env->state == ENV_BUSY && (!env->inv || env->inv->event.request_id == NULL)) {
                /* The previous invocation is complete: the runtime asks for the next one,
                 * which may have been given to this environment already. */
                uv_timer_stop(&env->timer);
                env->state = ENV_IDLE;
                envt_phase_end(env);
                env->last_used_ns = clock_mono_ns();
                drift_sample(env, env->last_seq);
                if (env->fn->cfg->lifecycle.settle_ms > 0 && !env->retire) {
                        /* The settle window: CPU burnt now is work after the response. The
                         * next event, if one waits, goes when the window closes. */
                        env->settling = true;
                        drift_settle_begin(env);
                        uv_timer_start(&env->timer, settle_cb,
                                       (uint64_t) llround(env->fn->cfg->lifecycle.settle_ms), 0);
                } else if (env->inv) {
                        deliver(env);
                } else if (env->retire) {
                        env_shutdown(env); /* recycled while it was finishing */
                } else {
                        env_idle(env);
                }
        }
}

static void settle_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        env->settling = false;
        if (env->state != ENV_IDLE)
                return;
        drift_settle_end(env, env->last_seq);
        if (env->inv)
                deliver(env);
        else
                env_idle(env);
}

/* The runtime answered but never asked for its next event within the invocation's time. */
static void completion_timeout_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->state != ENV_BUSY)
                return;
        if (!env->completion_deferred &&
            (int64_t) (uv_now(env->emu->loop) - env->completion_due) > LATE_TIMER_MS) {
                env->completion_deferred = true; /* held up by a blocked loop: poll I/O first */
                uv_timer_start(t, completion_timeout_cb, 1, 0);
                return;
        }
        logs_platform_note(&env->emu->logs, env, env->inv,
                           "The runtime did not ask for its next event before the deadline; "
                           "resetting the environment");
        env_reset(env);
}

/* On the invocation's path only the runtime's own peak is read (one procfs file); the
 * whole tree and the cgroup are read with the drift sample, once the caller has its answer. */
static void update_memory_quick(ExecEnv *env) {
        if (!env->proc_alive || env->runtime_pid <= 0)
                return;
        unsigned mb = (unsigned) ((drift_pid_hwm_kb(&env->drift, env->runtime_pid) + 1023) / 1024);
        if (mb > env->max_memory_mb)
                env->max_memory_mb = mb;
}

/* The error.cause+json body: errorCause goes to X-Ray on Lambda, the caller gets the rest
 * (spec §1.5); an unreadable body becomes the JSON string "Invalid error body". */
static void strip_error_cause(Buf *body) {
        static const char *const keep[] = { "errorMessage", "errorType", "stackTrace" };
        cJSON *j = cJSON_ParseWithLength(body->data, body->len);

        buf_reset(body);
        if (!j || !cJSON_IsObject(j)) {
                buf_puts(body, "\"Invalid error body\"");
                cJSON_Delete(j);
                return;
        }
        cJSON *out = cJSON_CreateObject();
        for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
                cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(j, keep[i]);
                if (v)
                        cJSON_AddItemToObject(out, keep[i], v);
        }
        char *s = cJSON_PrintUnformatted(out);
        buf_puts(body, s);
        cJSON_free(s);
        cJSON_Delete(out);
        cJSON_Delete(j);
}

/* What the runtime answered becomes the invocation's result. */
void env__apply_result(Invocation *inv, RapiResult *res) {
        switch (res->outcome) {
        case RAPI_OUT_RESPONSE:
                if (!res->streamed) { /* a stream's bytes went (or were collected) already */
                        buf_free(&inv->result);
                        inv->result = res->body;
                        res->body = BUF_INIT;
                }
                str_copy(inv->content_type, sizeof(inv->content_type), res->content_type);
                inv->status = INV_SUCCESS;
                break;
        case RAPI_OUT_ERROR:
                buf_free(&inv->result);
                inv->result = res->body;
                res->body = BUF_INIT;
                if (inv->result.len == 0)
                        buf_printf(&inv->result, "{\"errorType\":\"%s\",\"errorMessage\":\"\"}",
                                   res->error_type);
                else if (strcmp(res->content_type, "application/vnd.aws.lambda.error.cause+json") ==
                         0)
                        strip_error_cause(&inv->result);
                snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
                str_copy(inv->error_type, sizeof(inv->error_type), res->error_type);
                str_copy(inv->error_code, sizeof(inv->error_code), res->runtime_error_type);
                inv->status = INV_ERROR;
                inv->function_error = true;
                break;
        case RAPI_OUT_TOO_LARGE: {
                char msg[160];
                buf_reset(&inv->result);
                if (res->streamed) /* cut at the cap: the full size is not known */
                        snprintf(msg, sizeof(msg),
                                 "Response payload size exceeded maximum allowed payload size "
                                 "(%llu bytes).",
                                 (unsigned long long) inv->event.stream_max);
                else
                        snprintf(msg, sizeof(msg),
                                 "Response payload size (%llu bytes) exceeded maximum allowed "
                                 "payload size (%u bytes).",
                                 (unsigned long long) res->body_bytes, RAPI_MAX_RESPONSE);
                buf_printf(
                        &inv->result,
                        "{\"errorType\":\"Function.ResponseSizeTooLarge\",\"errorMessage\":\"%s\"}",
                        msg);
                snprintf(inv->error_type, sizeof(inv->error_type), "Function.ResponseSizeTooLarge");
                snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
                inv->status = INV_ERROR;
                inv->function_error = true;
                break;
        }
        case RAPI_OUT_BAD_MODE:
        case RAPI_OUT_TRUNCATED:
                if (res->streamed) { /* a broken stream (a bad mode is never streamed) */
                        env__fail_invocation(inv, INV_ERROR, "Runtime.TruncatedResponse",
                                             "the runtime's connection closed before the end of "
                                             "its response stream");
                        break;
                }
                buf_reset(&inv->result);
                str_copy(inv->error_type, sizeof(inv->error_type),
                         res->outcome == RAPI_OUT_BAD_MODE ? "Runtime.InvalidResponseModeHeader"
                                                           : "Runtime.TruncatedResponse");
                snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
                inv->status = INV_ERROR;
                inv->function_error = true;
                break;
        }
        buf_free(&res->body);
}

static void on_result(Rapi *r, RapiResult *res) {
        ExecEnv *env = env_of(r);
        Invocation *inv = env->inv;

        if (env_mi(env)) {
                env_mi_result(env, res);
                return;
        }
        if (!inv || fault_hides_result(inv)) {
                buf_free(&res->body);
                return;
        }
        if (res->streamed)
                stream_ended(inv);
        env__apply_result(inv, res);
        fault_result(env, inv);
        int64_t left = inv->deadline_ms - clock_wall_ms();
        /* Answered: the environment takes the next invocation, which it gets as soon as the
         * runtime asks for it, so back-to-back callers are served warm, as on Lambda. It is
         * offered before the caller hears back, so the caller's next call finds it. */
        detach(env, inv);
        sched_env_available(env);
        sched_finish(inv);
        if (env->state == ENV_BUSY) {
                env->completion_deferred = false;
                env->completion_due = uv_now(env->emu->loop) + (uint64_t) (left > 0 ? left : 0);
                uv_timer_start(&env->timer, completion_timeout_cb, left > 0 ? (uint64_t) left : 0,
                               0);
        }
}

static void on_stream_begin(Rapi *r, const char *content_type) {
        ExecEnv *env = env_of(r);

        if (env->inv)
                stream_begin(env->inv, content_type);
}

static void on_stream_data(Rapi *r, const char *data, size_t len) {
        ExecEnv *env = env_of(r);

        if (env->inv)
                stream_data(env->inv, data, len);
}

static void on_init_error(Rapi *r, RapiResult *res) {
        ExecEnv *env = env_of(r);

        free(env->init_error_body);
        env->init_error_body = buf_steal(&res->body, &env->init_error_len);
        str_copy(env->init_error_type, sizeof(env->init_error_type), res->error_type);
        if (env->state == ENV_INITIALIZING)
                init_failed(env, "error", env->init_error_type);
}

/* Only the environment's own processes may use its Runtime API: the peer socket's inode
 * must be among their descriptors. Where the kernel will not say (no sock_diag), the
 * connection is let in and isolation is reported as not enforced. */
static bool on_admit(Rapi *r, HttpConn *c) {
        ExecEnv *env = env_of(r);
        struct sockaddr_in local, remote;
        int ll = sizeof(local), rl = sizeof(remote);
        uint64_t inode;

        if (!env->proc_alive || (env->killing && !env->graceful))
                return false; /* its processes are going: a reconnect is refused quietly */
        if (strcmp(env->fn->cfg->sandbox.network, "none") == 0)
                return true; /* only the environment's own namespace reaches this listener */
        if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *) &local, &ll) < 0 ||
            uv_tcp_getpeername(&c->tcp, (struct sockaddr *) &remote, &rl) < 0 ||
            local.sin_family != AF_INET)
                return false;
        if (sbx_peer_inode(&local, &remote, &inode) < 0) {
                env->emu->rapi_isolation_unknown = true;
                return true;
        }
        pid_t pids[1024];
        int n = env->has_cg ? cg_pids(&env->cg, pids, 1024) : -1;
        if (n < 0)
                n = sbx_tree_pids(env->proc.pid, pids, 1024);
        for (int i = 0; i < n; i++) {
                if (sbx_pid_has_socket(pids[i], inode)) {
                        c->peer_pid = pids[i];
                        return true;
                }
        }
        char note[256];
        snprintf(note, sizeof(note),
                 "lemu: closed a Runtime API connection from a process outside %s (inode %llu, %d "
                 "pids)\n",
                 env->name, (unsigned long long) inode, n);
        logs_write(&env->emu->logs, note, strlen(note));
        return false;
}

static void on_orphaned(Rapi *r, const char *request_id, pid_t pid) {
        env_mi_orphaned(env_of(r), request_id, pid);
}

static void on_late(Rapi *r) {
        env_mi_late(env_of(r));
}

/* An injected Runtime API fault on the runtime's call (faults.c). */
static int on_fault(Rapi *r, RapiCall call) {
        return fault_runtime_call(env_of(r),
                                  call == RAPI_CALL_NEXT ? FAULT_EP_NEXT : FAULT_EP_RESPONSE);
}

static const RapiOps env_rapi_ops = {
        .ready = on_ready,
        .fault = on_fault,
        .result = on_result,
        .stream_begin = on_stream_begin,
        .stream_data = on_stream_data,
        .init_error = on_init_error,
        .admit = on_admit,
        .orphaned = on_orphaned,
        .late = on_late,
        .ext_registered = envx_on_registered,
        .ext_error = envx_on_error,
};

/* ---- public ------------------------------------------------------------------------- */

static void idle_timeout_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->state == ENV_IDLE || env->state == ENV_COLD)
                env_shutdown(env);
}

static ExecEnv *env_create(Function *fn, bool shadow) {
        ExecEnv *env = xcalloc(1, sizeof(*env));

        env->emu = fn->emu;
        env->fn = fn;
        env->shadow = shadow;
        if (shadow) {
                /* Ids of shadows never equal a serving environment's (lookups by id). */
                env->id = (1u << 31) + ++fn->next_shadow_id;
                snprintf(env->name, sizeof(env->name), "%s-shadow-%u", fn->cfg->name,
                         fn->next_shadow_id);
        } else {
                env->id = ++fn->next_env_id;
                snprintf(env->name, sizeof(env->name), "%s-%u", fn->cfg->name, env->id);
        }
        unsigned char rnd[16];
        random_bytes(rnd, sizeof(rnd));
        hex_lower(env->stream_suffix, rnd, sizeof(rnd));
        list_init(&env->idle_link);
        list_init(&env->init_wait_link);
        list_push_back(&fn->envs, &env->link);
        fn->n_envs++;
        uv_timer_init(fn->emu->loop, &env->timer);
        env->timer.data = env;
        uv_timer_init(fn->emu->loop, &env->fault_timer);
        env->fault_timer.data = env;
        env->state = ENV_COLD;
        const CgHost *host = &fn->emu->cg;
        FunctionConfig *fc = fn->cfg;
        CgLimits lim = {
                .memory_bytes = strcmp(fc->sandbox.memory, "enforce") == 0
                                        ? (uint64_t) fc->memory_mb * 1024 * 1024
                                        : 0,
                .pids = fc->sandbox.pids,
                .cpus = strcmp(fc->sandbox.cpu, "proportional") == 0 ? fc->memory_mb / 1769.0 : 0,
        };
        if (host->version != CG_NONE || host->unified) {
                int cr = cg_create(&env->cg, host, env->name, &lim);
                if (cr == 0) {
                        env->has_cg = true;
                } else {
                        char note[256];
                        snprintf(note, sizeof(note),
                                 "lemu: cannot create the cgroups of %s: %s; its limits are not "
                                 "enforced\n",
                                 env->name, strerror(-cr));
                        logs_write(&fn->emu->logs, note, strlen(note));
                }
        }
        env->handoff_fd = env->netns_fd = env->userns_fd = env->gate_fd = -1;
        env->tmp = sbx_tmp_new(&fn->emu->tmp, &fn->iso.tmp, env->name);
        int r = 0;
        if (strcmp(fc->sandbox.network, "none") == 0)
                rapi_init_unbound(&env->rapi, &env_rapi_ops, env);
        else
                r = rapi_init(&env->rapi, fn->emu->loop, &env_rapi_ops, &fn->emu->rapi_limits, env);
        if (r < 0) {
                close_timers(env);
                return NULL;
        }
        env->rapi_open = true;
        env_mi_init(env);
        rapi_ext_setup(&env->rapi, (const char *const *) fn->ext_names, fn->n_ext, &fn->ext_info);
        return env;
}

ExecEnv *env_new(Function *fn) {
        return env_create(fn, false);
}

ExecEnv *env_new_shadow(Function *fn) {
        return env_create(fn, true);
}

void env_run(ExecEnv *env, Invocation *inv) {
        if (env_mi_run(env, inv))
                return;
        if (env->state != ENV_BUSY && !env->settling)
                uv_timer_stop(&env->timer);
        list_unlink(&env->idle_link);
        env->inv = inv;
        inv->env = env;
        env->last_used_ns = clock_mono_ns();
        if (env->state == ENV_IDLE && env->settling) {
                inv->cold = false; /* settle_cb() delivers when the window closes */
                return;
        }
        if (env->state == ENV_IDLE && rapi_waiting(&env->rapi)) {
                inv->cold = false;
                deliver(env);
                return;
        }
        if (env->state == ENV_BUSY) {
                /* Answered, not yet asking again: on_ready() delivers. */
                inv->cold = false;
                return;
        }
        if (env->state == ENV_STOPPING) {
                /* Being reset: after_exit() starts init for the attached invocation. */
                inv->cold = true;
                return;
        }
        inv->cold = true;
        if (env->state == ENV_IDLE && env->proc_alive) {
                /* Idle, but its runtime no longer waits for an event (its /next connection
                 * went, e.g. it was killed while frozen): never spawn over live processes;
                 * reset, and after_exit() starts init for @inv. */
                env->resets++;
                env->fn->counters.resets++;
                env_kill(env, AFTER_COLD);
                return;
        }
        env->init_phase_invoke = false;
        start_init_in_turn(env);
}

/* ---- limits.cold_starts: inits at once ------------------------------------------------ */

static unsigned inits_running(Emulator *e) {
        unsigned n = 0;

        for (size_t i = 0; i < e->n_functions; i++) {
                ListNode *it;
                LIST_FOREACH (it, &e->functions[i].envs) {
                        n += container_of(it, ExecEnv, link)->state == ENV_INITIALIZING;
                }
        }
        return n;
}

/* Starts the inits that wait, as far as limits.cold_starts allows. */
static void start_waiting_inits(Emulator *e) {
        unsigned running = inits_running(e);

        while (running < e->inits_max && !list_empty(&e->init_wait)) {
                ExecEnv *env = container_of(e->init_wait.next, ExecEnv, init_wait_link);
                list_unlink(&env->init_wait_link);
                /* Still the cold environment of a waiting invocation (a shutdown, or a
                 * reset through the control API, took it on another way). */
                if (env->state != ENV_COLD || !env->inv || env->closing)
                        continue;
                start_init(env);
                running++;
        }
        if (list_empty(&e->init_wait))
                uv_timer_stop(&e->init_wait_timer);
}

static void init_wait_cb(uv_timer_t *t) {
        start_waiting_inits(t->data);
}

/* A new environment's init starts now, or once fewer than limits.cold_starts are running:
 * a thousand inits at once on two CPUs would each take longer than the init timeout. Its
 * invocation is attached meanwhile, so a shutdown answers it as usual; a recycle leaves it
 * (it has run nothing yet). The queue is looked at every 2 ms while it is not empty, and
 * whenever an init ends. */
static void start_init_in_turn(ExecEnv *env) {
        Emulator *e = env->emu;

        if (list_empty(&e->init_wait) && inits_running(e) < e->inits_max) {
                start_init(env);
                return;
        }
        list_push_back(&e->init_wait, &env->init_wait_link);
        if (!uv_is_active((uv_handle_t *) &e->init_wait_timer))
                uv_timer_start(&e->init_wait_timer, init_wait_cb, 2, 2);
}

static void arm_idle_timeout(ExecEnv *env) {
        if (env->provisioned)
                return; /* provisioned environments are kept, not timed out */
        double idle = env->fn->cfg->lifecycle.idle_timeout_s;

        uv_timer_start(&env->timer, idle_timeout_cb, (uint64_t) llround(idle * 1000), 0);
}

static void freeze_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->state == ENV_IDLE && !env->inv && rapi_waiting(&env->rapi))
                env_freeze(env, true);
        arm_idle_timeout(env);
}

/* Parks an environment: frozen once its runtime waits in /next. The freeze comes
 * FREEZE_DELAY_MS later, so that back-to-back invocations (the next one arriving within
 * that time) do not pay a freeze and a thaw each; a function gets at most that much time
 * after asking for its next event, far less than any timer it could rely on. */
void env_idle(ExecEnv *env) {
        if (env->state != ENV_IDLE && env->state != ENV_COLD)
                return;
        if (env->state == ENV_IDLE && rapi_waiting(&env->rapi) && env->fn->cfg->lifecycle.freeze &&
            !env_mi(env)) {
                uv_timer_start(&env->timer, freeze_cb, FREEZE_DELAY_MS, 0);
                return;
        }
        arm_idle_timeout(env);
}

void env_reset(ExecEnv *env) {
        env->resets++;
        env->fn->counters.resets++;
        env_kill(env, AFTER_COLD);
}

void env_shutdown(ExecEnv *env) {
        if (env->state == ENV_SHUTTING_DOWN || env->closing)
                return;
        list_unlink(&env->idle_link);
        if (env->inv) {
                Invocation *inv = env->inv;
                env__fail_invocation(inv, INV_FAILURE, "Sandbox.Failure",
                                     "lemu is shutting down the environment");
                finish_on_env(env, inv);
        }
        env->state = ENV_SHUTTING_DOWN;
        env_mi_fail_all(env, "Sandbox.Failure", "lemu is shutting down the environment");
        env_kill(env, AFTER_FREE);
}

void env_retire(ExecEnv *env) {
        if (list_linked(&env->init_wait_link))
                return; /* its init waits for its turn: it has run nothing yet, and will start
                         * fresh, with the code as it is then */
        if (env->state == ENV_IDLE || env->state == ENV_COLD) {
                env_shutdown(env);
                return;
        }
        /* An answered environment sits on the idle list before its runtime asks again: take
         * it off, so that no invocation is routed to it in the meantime. */
        list_unlink(&env->idle_link);
        env->retire = true;
}

void env_watchdog(ExecEnv *env) {
        FunctionConfig *fc = env->fn->cfg;

        if (!env->proc_alive || env->killing || env->rss_oom ||
            strcmp(fc->sandbox.memory, "enforce") != 0 || (env->has_cg && env->cg.memory))
                return;
        uint64_t kb = sbx_tree_rss_kb(env->proc.pid);
        if (kb <= (uint64_t) fc->memory_mb * 1024)
                return;
        /* Over its memory size: killed as the OOM killer would, reported as such. */
        env->rss_oom = true;
        kill(-env->proc.pid, SIGKILL);
        uv_process_kill(&env->proc, SIGKILL);
}

bool env_init_waiting(const ExecEnv *env) {
        return list_linked(&env->init_wait_link);
}

int env_public_state_index(const ExecEnv *env) {
        if (env_init_waiting(env))
                return 0; /* initializing, once its turn comes */
        switch (env->state) {
        case ENV_INITIALIZING:
                return 0;
        case ENV_BUSY:
                return 2;
        case ENV_STOPPING:
        case ENV_SHUTTING_DOWN:
                return 4;
        default:
                return env->frozen ? 3 : 1;
        }
}

const char *env_public_state(const ExecEnv *env) {
        static const char *const names[] = { "initializing", "idle", "busy", "frozen",
                                             "shutting_down" };
        return names[env_public_state_index(env)];
}

void env_provision(ExecEnv *env) {
        env->init_phase_invoke = false;
        start_init(env);
}
