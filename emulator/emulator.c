/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Emulator: functions built from the Config, the Invoke/control API listener, signals
 * and the orderly shutdown of DESIGN "Lifecycle": listeners closed, synchronous callers given
 * shutdown_grace_s, then answered 500 ServiceException, environments ended, loop drained.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "emulator.h"
#include "env-mi.h"
#include "invoke.h"
#include "lemu-config.h"
#include "macro.h"
#include "xalloc.h"

extern char **environ;

Function *emu_find_function(Emulator *e, const char *name) {
        for (size_t i = 0; i < e->n_functions; i++)
                if (strcmp(e->functions[i].cfg->name, name) == 0)
                        return &e->functions[i];
        return NULL;
}

/* ---- the function's environment variables (spec §4.5) ---------------------------------- */

typedef struct EnvList {
        char **v;
        size_t n, cap;
} EnvList;

static void envlist_set(EnvList *l, const char *key, const char *value) {
        size_t kl = strlen(key);

        for (size_t i = 0; i < l->n; i++) {
                if (strncmp(l->v[i], key, kl) == 0 && l->v[i][kl] == '=') {
                        free(l->v[i]);
                        l->v[i] = xasprintf("%s=%s", key, value);
                        return;
                }
        }
        if (l->n + 1 >= l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->v = xrealloc(l->v, l->cap * sizeof(char *));
        }
        l->v[l->n++] = xasprintf("%s=%s", key, value);
        l->v[l->n] = NULL;
}

static void build_env_base(Emulator *e, Function *fn) {
        FunctionConfig *fc = fn->cfg;
        Config *cfg = e->cfg;
        EnvList l = { 0 };
        char mem[16];

        if (e->pass_host_env) {
                /* The RIE drop-in passes the container's environment through, as RIE does. */
                for (char **p = environ; *p; p++) {
                        char *eq = strchr(*p, '=');
                        if (!eq || strncmp(*p, "AWS_LAMBDA_RUNTIME_API=", 23) == 0)
                                continue;
                        char *k = xstrndup(*p, (size_t) (eq - *p));
                        envlist_set(&l, k, eq + 1);
                        free(k);
                }
        }
        /* Unreserved defaults: the function's own variables may replace these. */
        if (!e->pass_host_env) {
                envlist_set(&l, "PATH", "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin");
                envlist_set(&l, "LD_LIBRARY_PATH",
                            "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:"
                            "/var/task:/var/task/lib:/opt/lib");
                envlist_set(&l, "LANG", "en_US.UTF-8");
        }
        envlist_set(&l, "AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR");
        envlist_set(&l, "AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000");
        for (size_t i = 0; i < fc->n_environment; i++)
                envlist_set(&l, fc->environment[i].key, fc->environment[i].value);

        /* Reserved: set by the platform, whatever the function asked for. */
        snprintf(mem, sizeof(mem), "%u", fc->memory_mb);
        envlist_set(&l, "_HANDLER", fc->handler ? fc->handler : "function.handler");
        envlist_set(&l, "AWS_REGION", cfg->region);
        envlist_set(&l, "AWS_DEFAULT_REGION", cfg->region);
        envlist_set(&l, "AWS_LAMBDA_FUNCTION_NAME",
                    e->rie_function_name ? e->rie_function_name : fc->name);
        envlist_set(&l, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", mem);
        envlist_set(&l, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        char *group = xasprintf("/aws/lambda/%s", fc->name);
        envlist_set(&l, "AWS_LAMBDA_LOG_GROUP_NAME", group);
        free(group);
        envlist_set(&l, "LAMBDA_TASK_ROOT", fc->code_dir);
        envlist_set(&l, "LAMBDA_RUNTIME_DIR", "/var/runtime");
        envlist_set(&l, "TZ", ":UTC");
        envlist_set(&l, "_AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1");
        envlist_set(&l, "_AWS_XRAY_DAEMON_PORT", "2000");

        /* Credentials: the host's when set, else placeholders the SDKs accept. */
        static const char *const cred[][2] = {
                { "AWS_ACCESS_KEY_ID", "AKIDLEMULOCALEXAMPLE" },
                { "AWS_SECRET_ACCESS_KEY", "lemu-local-secret-access-key" },
                { "AWS_SESSION_TOKEN", "lemu-local-session-token" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cred); i++) {
                const char *v = getenv(cred[i][0]);
                envlist_set(&l, cred[i][0], v && *v ? v : cred[i][1]);
        }
        for (char **p = environ; *p; p++) {
                if (strncmp(*p, "AWS_ENDPOINT_URL", 16) == 0) {
                        char *eq = strchr(*p, '=');
                        if (!eq)
                                continue;
                        char *k = xstrndup(*p, (size_t) (eq - *p));
                        envlist_set(&l, k, eq + 1);
                        free(k);
                }
        }
        fn->env_base = l.v;
        fn->n_env_base = l.n;

        time_t now = time(NULL);
        struct tm tm;
        char date[16];
        gmtime_r(&now, &tm);
        strftime(date, sizeof(date), "%Y/%m/%d", &tm);
        fn->log_stream_prefix = xasprintf("%s/[$LATEST]", date);
}

/* ---- the launcher ------------------------------------------------------------------- */

static char *find_launcher(void) {
        const char *env = getenv("LEMU_LAUNCHER");
        char self[PATH_MAX];
        size_t n = sizeof(self);

        if (env && *env)
                return xstrdup(env);
        if (uv_exepath(self, &n) == 0) {
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = '\0';
                        /* Build tree: emulator/lemu beside sandbox/lemu-launcher. */
                        char *p = xasprintf("%s/../sandbox/lemu-launcher", self);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                        p = xasprintf("%s/lemu-launcher", self);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                        p = xasprintf("%s/../libexec/lemu/lemu-launcher", self);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        return xstrdup(LEMU_LIBEXECDIR "/lemu-launcher");
}

/* ---- sandbox ------------------------------------------------------------------------ */

typedef struct DeadCgroup {
        ListNode link;
        Cgroup cg;
        unsigned tries;
} DeadCgroup;

static void watchdog_tick(uv_timer_t *t) {
        Emulator *e = t->data;

        for (size_t i = 0; i < e->n_functions; i++) {
                ListNode *it, *tmp;
                LIST_FOREACH_SAFE(it, tmp, &e->functions[i].envs) {
                        env_watchdog(container_of(it, ExecEnv, link));
                }
        }
}

/* Cgroups of ended environments empty within milliseconds; until then rmdir says EBUSY. */
static void reap_cgroups(uv_timer_t *t) {
        Emulator *e = t->data;
        ListNode *it, *tmp;

        LIST_FOREACH_SAFE(it, tmp, &e->dead_cgroups) {
                DeadCgroup *d = container_of(it, DeadCgroup, link);
                cg_kill(&d->cg);
                if (cg_destroy(&d->cg) == 0 || ++d->tries > 200) {
                        list_unlink(&d->link);
                        free(d);
                }
        }
        if (list_empty(&e->dead_cgroups))
                uv_timer_stop(&e->cg_reaper);
}

void emu_release_cgroup(Emulator *e, Cgroup *cg) {
        if (cg_destroy(cg) == 0)
                return;
        DeadCgroup *d = xcalloc(1, sizeof(*d));
        d->cg = *cg;
        memset(cg, 0, sizeof(*cg));
        list_push_back(&e->dead_cgroups, &d->link);
        if (!uv_is_active((uv_handle_t *) &e->cg_reaper))
                uv_timer_start(&e->cg_reaper, reap_cgroups, 20, 20);
}

/* Builds each seccomp profile a function asks for, once; a failure is said once and the
 * functions run without a filter, reported as unenforced. */
static void init_seccomp(Emulator *e) {
        for (size_t i = 0; i < e->n_functions; i++) {
                FilterProfile p = filter_profile_from_string(e->functions[i].cfg->sandbox.seccomp);
                if (p < 0 || e->filters.tried[p])
                        continue;
                int r = filter_cache_get(&e->filters, p);
                if (r < 0) {
                        char line[256];
                        snprintf(line, sizeof(line),
                                 "lemu: cannot build the seccomp filter '%s': %s; system calls "
                                 "are not filtered\n",
                                 e->functions[i].cfg->sandbox.seccomp, strerror(-r));
                        logs_write(&e->logs, line, strlen(line));
                }
        }
}

int emu_seccomp_fd(const Emulator *e, const Function *fn) {
        FilterProfile p = filter_profile_from_string(fn->cfg->sandbox.seccomp);

        return p < 0 ? -1 : filter_cache_peek(&e->filters, p);
}

static void init_sandbox(Emulator *e) {
        const char *root = "auto";
        bool enforce = false;

        for (size_t i = 0; i < e->n_functions; i++) {
                CfgSandbox *sb = &e->functions[i].cfg->sandbox;
                if (sb->cgroup_root && strcmp(sb->cgroup_root, "auto") != 0)
                        root = sb->cgroup_root;
                enforce = enforce || strcmp(sb->memory, "enforce") == 0;
        }
        cg_host_init(&e->cg, root);
        if (enforce && !e->cg.memory) {
                char line[512];
                snprintf(line, sizeof(line),
                         "lemu: memory limits are not enforced by cgroups (%s); an RSS "
                         "watchdog kills environments over their memory size instead, checked "
                         "every 50 ms\n",
                         e->cg.reason[0] ? e->cg.reason : "no memory controller");
                logs_write(&e->logs, line, strlen(line));
                uv_timer_start(&e->watchdog, watchdog_tick, 50, 50);
                uv_unref((uv_handle_t *) &e->watchdog);
                e->watchdog_on = true;
        }
        init_seccomp(e);
}

/* ---- set-up ------------------------------------------------------------------------- */

/* A caller who has its answer finds the invocation's log lines (END, REPORT) written: tests
 * and tools read the log right after an invoke or a wait-idle. */
static void api_before_answer(HttpConn *c) {
        Emulator *e = c->server->data;

        logs_flush(&e->logs);
}

static const HttpServerOps api_ops = {
        .before_answer = api_before_answer,
        .malformed = invoke_api_malformed,
        .body_limit = invoke_api_body_limit,
        .request = invoke_api_request,
        .closed = invoke_api_closed,
};

static const char overload_response[] =
        "HTTP/1.1 429 Too Many Requests\r\n"
        "Content-Type: application/json\r\n"
        "X-Amzn-ErrorType: TooManyRequestsException\r\n"
        "Connection: close\r\n"
        "Content-Length: 76\r\n\r\n"
        "{\"Reason\":\"CallerRateLimitExceeded\",\"Type\":\"User\",\"message\":\"Rate exceeded\"}";

/* Descriptors kept for everything but client connections: listeners, the environments'
 * pipes, Runtime API listeners and cgroup files, the journal, logs. */
#define NOFILE_RESERVE 128

/* The daemon holds a descriptor per connection, environment pipe and listener: raise the soft
 * limit to the hard one so that limits.max_connections is what binds. Where even the hard
 * limit is too low for max_connections, fewer connections are taken (said once), so that
 * lemu answers 429 at its own limit instead of running out of descriptors. */
static unsigned fit_connections(Emulator *e, unsigned want) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return want;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
                (void) getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur == RLIM_INFINITY || (uint64_t) want + NOFILE_RESERVE <= rl.rlim_cur)
                return want;
        unsigned fit = rl.rlim_cur > 2 * NOFILE_RESERVE ? (unsigned) rl.rlim_cur - NOFILE_RESERVE
                                                        : (unsigned) rl.rlim_cur / 2;
        char line[256];
        snprintf(line, sizeof(line),
                 "lemu: the descriptor limit (%llu) leaves room for %u client connections, not "
                 "limits.max_connections (%u); past %u, 429\n",
                 (unsigned long long) rl.rlim_cur, fit, want, fit);
        logs_write(&e->logs, line, strlen(line));
        return fit;
}

/* A function cannot have more descriptors than lemu's own hard limit (the launcher inherits
 * it and cannot raise it): it gets that, said once. */
static void fit_nofile(Emulator *e, Function *fn) {
        struct rlimit rl;

        fn->nofile = fn->cfg->sandbox.nofile;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
            fn->nofile <= rl.rlim_max)
                return;
        fn->nofile = (unsigned) rl.rlim_max;
        char line[256];
        snprintf(line, sizeof(line),
                 "lemu: function '%s' asks for %u descriptors (sandbox.nofile), over lemu's own "
                 "hard limit; it gets %u\n",
                 fn->cfg->name, fn->cfg->sandbox.nofile, fn->nofile);
        logs_write(&e->logs, line, strlen(line));
}

int emu_init(Emulator *e, uv_loop_t *loop, Config *cfg, bool rie, const char *rie_name) {
        memset(e, 0, sizeof(*e));
        e->loop = loop;
        e->cfg = cfg;
        e->is_rie = e->pass_host_env = rie;
        e->rie_function_name = rie_name ? xstrdup(rie_name) : NULL;
        logs_init(&e->logs, loop, STDERR_FILENO, cfg->log_format);
        e->launcher_path = find_launcher();
        if (access(e->launcher_path, X_OK) < 0)
                return -errno;

        e->api_limits = (HttpLimits){
                .max_connections = fit_connections(e, cfg->limits.max_connections),
                .max_header_bytes = cfg->limits.max_header_bytes,
                .max_headers = cfg->limits.max_headers,
                .header_timeout_ms = (uint64_t) (cfg->limits.header_timeout_s * 1000),
                .body_timeout_ms = (uint64_t) (cfg->limits.body_timeout_s * 1000),
                .discard_max = 64u * 1024 * 1024,
        };
        e->rapi_limits = (HttpLimits){
                .max_header_bytes = 65536,
                .max_headers = 100,
                .discard_max = RAPI_DISCARD_MAX,
        };
        e->async_colds_max = cfg->limits.async_cold_starts
                                     ? cfg->limits.async_cold_starts
                                     : MAX(2u, 2 * uv_available_parallelism());
        e->inits_max = cfg->limits.cold_starts ? cfg->limits.cold_starts
                                               : MAX(8u, 8 * uv_available_parallelism());
        e->n_functions = cfg->n_functions;
        e->functions = xcalloc(cfg->n_functions ? cfg->n_functions : 1, sizeof(Function));
        for (size_t i = 0; i < cfg->n_functions; i++) {
                Function *fn = &e->functions[i];
                fn->emu = e;
                fn->cfg = &cfg->functions[i];
                fn->arn = xasprintf("arn:aws:lambda:%s:%s:function:%s", cfg->region,
                                    cfg->account_id, fn->cfg->name);
                list_init(&fn->envs);
                list_init(&fn->idle);
                list_init(&fn->queue);
                list_init(&fn->retrying);
                if (fn->cfg->reserved_concurrency > 0)
                        e->reserved_total += (unsigned) fn->cfg->reserved_concurrency;
                fit_nofile(e, fn);
                build_env_base(e, fn);
                ext_scan(fn);
                /* Each function draws from its own stream of the seed (FNV-1a of its name). */
                uint64_t h = 1469598103934665603ull;
                for (const char *p = fn->cfg->name; *p; p++)
                        h = (h ^ (unsigned char) *p) * 1099511628211ull;
                fn->rng = cfg->seed ^ h;
                /* Checked with the config already (config-keys.c). */
                char err[600];
                fault_table_init(&fn->faults, fn->rng);
                if (fault_table_load(&fn->faults, fn->cfg->faults_json, err, sizeof(err)) < 0) {
                        char *line = xasprintf("lemu: function '%s': %s, ignoring\n", fn->cfg->name,
                                               err);
                        logs_write(&e->logs, line, strlen(line));
                        free(line);
                }
        }
        records_init(&e->records, cfg->records_max);
        list_init(&e->idle_waiters);
        list_init(&e->dead_cgroups);
        uv_timer_init(e->loop, &e->cg_reaper);
        e->cg_reaper.data = e;
        uv_timer_init(e->loop, &e->watchdog);
        e->watchdog.data = e;
        http_server_init(&e->api, loop, &api_ops, &e->api_limits, e);
        e->api.overload_response = overload_response;
        uv_timer_init(loop, &e->grace_timer);
        e->grace_timer.data = e;
        list_init(&e->init_wait);
        uv_timer_init(loop, &e->init_wait_timer);
        e->init_wait_timer.data = e;
        return 0;
}

void emu_start(Emulator *e) {
        if (e->started)
                return;
        e->started = true;
        init_sandbox(e);
        iso_init(e);
        for (size_t i = 0; i < e->n_functions; i++) {
                sched_spare_init(&e->functions[i]);
                sched_provision(&e->functions[i]);
        }
        if (e->journal.loop)
                journal_replay(&e->journal, e);
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_listen(const char *text, struct sockaddr_storage *ss, char *host, size_t hn,
                        int *port) {
        const char *colon = strrchr(text, ':');

        if (!colon)
                return -EINVAL;
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || p < 0 || p > 65535 || end == colon + 1)
                return -EINVAL;
        size_t hl = (size_t) (colon - text);
        if (hl >= hn)
                return -EINVAL;
        if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
                memcpy(host, text + 1, hl - 2);
                host[hl - 2] = '\0';
                *port = (int) p;
                return uv_ip6_addr(host, (int) p, (struct sockaddr_in6 *) ss);
        }
        memcpy(host, text, hl);
        host[hl] = '\0';
        if (!*host)
                snprintf(host, hn, "127.0.0.1");
        if (strcmp(host, "localhost") == 0)
                snprintf(host, hn, "127.0.0.1");
        *port = (int) p;
        return uv_ip4_addr(host, (int) p, (struct sockaddr_in *) ss);
}

int emu_listen(Emulator *e, const char *addr) {
        struct sockaddr_storage ss;
        char host[128];
        int port;

        int r = parse_listen(addr, &ss, host, sizeof(host), &port);
        if (r < 0)
                return -EINVAL;
        r = http_server_listen(&e->api, (struct sockaddr *) &ss, 1024);
        if (r < 0)
                return r;
        port = http_server_port(&e->api);
        if (ss.ss_family == AF_INET6)
                e->listen_url = xasprintf("http://[%s]:%d", host, port);
        else
                e->listen_url = xasprintf("http://%s:%d",
                                          strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, port);
        return 0;
}

int emu_open_journal(Emulator *e, const char *dir, char *err, size_t n) {
        int r = journal_open(&e->journal, e->loop, dir, err, n);

        if (r < 0)
                return r;
        if (e->started)
                journal_replay(&e->journal, e);
        return 0;
}

/* ---- shutdown ----------------------------------------------------------------------- */

static bool all_envs_gone(Emulator *e) {
        for (size_t i = 0; i < e->n_functions; i++)
                if (e->functions[i].n_envs)
                        return false;
        return true;
}

static void api_closed(HttpServer *s) {
        Emulator *e = s->data;

        if (e->on_stopped)
                e->on_stopped(e);
}

static void exit_at_once(int signum) {
        _exit(0);
}

static void maybe_stopped(Emulator *e) {
        if (!e->ending || e->stopped || !all_envs_gone(e) || e->sync_waiting)
                return;
        e->stopped = true;
        uv_close((uv_handle_t *) &e->grace_timer, NULL);
        uv_close((uv_handle_t *) &e->init_wait_timer, NULL);
        for (size_t i = 0; i < e->n_functions && e->started; i++)
                uv_close((uv_handle_t *) &e->functions[i].spare_timer, NULL);
        uv_close((uv_handle_t *) &e->watchdog, NULL);
        /* The last environments' cgroups: their processes are gone or going. */
        for (int i = 0; i < 100 && !list_empty(&e->dead_cgroups); i++) {
                reap_cgroups(&e->cg_reaper);
                if (!list_empty(&e->dead_cgroups))
                        usleep(10000);
        }
        uv_close((uv_handle_t *) &e->cg_reaper, NULL);
        if (!uv_is_closing((uv_handle_t *) &e->sigint))
                uv_close((uv_handle_t *) &e->sigint, NULL);
        if (!uv_is_closing((uv_handle_t *) &e->sigterm))
                uv_close((uv_handle_t *) &e->sigterm, NULL);
        /* libuv gave both signals back to their default action, which would kill us: a
         * second signal during the last steps still stops at once, with status 0. */
        signal(SIGINT, exit_at_once);
        signal(SIGTERM, exit_at_once);
        /* Events still queued or waiting to retry keep their records for the next start. */
        journal_close(&e->journal);
        logs_close(&e->logs);
        http_server_close(&e->api, api_closed);
}

void emu_env_gone(Emulator *e) {
        if (!e->shutting_down)
                for (size_t i = 0; i < e->n_functions; i++)
                        sched_provision(&e->functions[i]);
        maybe_stopped(e);
}

static void answer_shutdown(Invocation *inv, void *userdata) {
        HttpConn *c = inv->caller;

        if (!c)
                return;
        inv->caller = NULL;
        c->data = NULL;
        invoke_service_error(c, 500, "ServiceException", "lemu is shutting down", inv->request_id);
}

/* Ends every environment: synchronous callers still waiting get 500 ServiceException. */
static void end_environments(Emulator *e) {
        if (e->ending)
                return;
        e->ending = true;
        uv_timer_stop(&e->grace_timer);
        for (size_t i = 0; i < e->n_functions; i++) {
                Function *fn = &e->functions[i];
                ListNode *it, *tmp;
                LIST_FOREACH_SAFE(it, tmp, &fn->envs) {
                        ExecEnv *env = container_of(it, ExecEnv, link);
                        if (env->inv)
                                answer_shutdown(env->inv, NULL);
                        env_mi_each(env, answer_shutdown, NULL);
                        env_shutdown(env);
                }
                /* Queued async events are not run; their journal records stay. */
                while (!list_empty(&fn->queue)) {
                        Invocation *inv = container_of(fn->queue.next, Invocation, link);
                        list_unlink(&inv->link);
                        fn->n_queued--;
                        inv_free(inv);
                }
                while (!list_empty(&fn->retrying)) {
                        Invocation *inv = container_of(fn->retrying.next, Invocation, link);
                        inv_free(inv); /* unlinks it and closes its timer */
                }
        }
        maybe_stopped(e);
}

static void grace_over(uv_timer_t *t) {
        end_environments(t->data);
}

static bool sync_in_flight(Emulator *e) {
        return e->sync_waiting > 0;
}

void emu_sync_done(Emulator *e) {
        if (e->shutting_down && !sync_in_flight(e))
                end_environments(e);
}

void emu_shutdown(Emulator *e) {
        if (e->shutting_down)
                return;
        e->shutting_down = true;
        http_server_stop_listening(&e->api);
        if (!sync_in_flight(e)) {
                end_environments(e);
                return;
        }
        uv_timer_start(&e->grace_timer, grace_over, (uint64_t) (e->cfg->shutdown_grace_s * 1000),
                       0);
}

static void on_signal(uv_signal_t *s, int signum) {
        Emulator *e = s->data;

        if (e->shutting_down) {
                /* A second signal stops at once; the launchers die with us. */
                logs_close(&e->logs);
                _exit(0);
        }
        emu_shutdown(e);
}

void emu_handle_signals(Emulator *e) {
        uv_signal_init(e->loop, &e->sigint);
        uv_signal_init(e->loop, &e->sigterm);
        e->sigint.data = e->sigterm.data = e;
        uv_signal_start(&e->sigint, on_signal, SIGINT);
        uv_signal_start(&e->sigterm, on_signal, SIGTERM);
        uv_unref((uv_handle_t *) &e->sigint);
        uv_unref((uv_handle_t *) &e->sigterm);
}

void emu_deinit(Emulator *e) {
        journal_close(&e->journal);
        for (size_t i = 0; i < e->n_functions; i++) {
                Function *fn = &e->functions[i];
                for (size_t k = 0; k < fn->n_env_base; k++)
                        free(fn->env_base[k]);
                free(fn->env_base);
                free(fn->arn);
                free(fn->log_stream_prefix);
                ext_free(fn);
                fault_table_deinit(&fn->faults);
        }
        while (!list_empty(&e->dead_cgroups)) {
                DeadCgroup *d = container_of(e->dead_cgroups.next, DeadCgroup, link);
                list_unlink(&d->link);
                free(d);
        }
        if (e->started) {
                cg_host_deinit(&e->cg);
                iso_deinit(e);
        }
        records_deinit(&e->records);
        filter_cache_deinit(&e->filters);
        free(e->functions);
        free(e->launcher_path);
        free(e->listen_url);
        free(e->rie_function_name);
        e->functions = NULL;
}

bool emu_idle(const Emulator *e) {
        if (e->inflight || e->background)
                return false;
        for (size_t i = 0; i < e->n_functions; i++) {
                const Function *fn = &e->functions[i];
                if (fn->n_queued || !list_empty(&fn->queue) || !list_empty(&fn->retrying))
                        return false;
        }
        return true;
}
