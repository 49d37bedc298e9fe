/* SPDX-License-Identifier: Apache-2.0 */
/*
 * External extensions of an environment, on the daemon's side. The launcher's init starts
 * them before the runtime (sandbox/launcher.c), sends their stdout and stderr through one
 * pipe (extension log lines) and reports every exit on another ("r STATUS", "x INDEX
 * STATUS"). The runtime starts once every one of them registered (the launcher's gate).
 *
 * Shutdown (spec §4.1): with no extension registered the processes are killed at once, as
 * before. Otherwise the runtime gets SIGTERM and the extensions SHUTDOWN; the runtime is
 * killed when its share is spent (300 ms, 500 ms with only internal extensions), everything
 * when the budget is (2,000 ms with an external extension, else 500 ms). The launcher's
 * exit, once every process is gone, ends it early.
 *
 * Failures after init reset the environment the same way, with reason failure: the
 * runtime's exit (init's "r" report: the extensions outlive it until told), an extension's
 * exit/error or exit (spec §4.3).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codec.h"
#include "env-ext.h"
#include "env-tel.h"
#include "macro.h"
#include "xalloc.h"

#define EXT_LINE_MAX (256 * 1024)

/* ---- the extensions folder ---------------------------------------------------------- */

static int by_name(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void ext_scan(Function *fn) {
        FunctionConfig *fc = fn->cfg;
        Logs *l = &fn->emu->logs;
        char note[512];

        fn->ext_info = (RapiFunctionInfo){
                .function_name = fc->name,
                .function_version = "$LATEST",
                .handler = fc->handler ? fc->handler : "function.handler",
                .account_id = fn->emu->cfg->account_id,
        };
        if (!fc->extensions_dir)
                return;
        /* Once, at start: a small folder, read before the loop serves anything. */
        DIR *d = opendir(fc->extensions_dir);
        if (!d) {
                snprintf(note, sizeof(note), "lemu: cannot read extensions_dir '%s': %s\n",
                         fc->extensions_dir, strerror(errno));
                logs_write(l, note, strlen(note));
                return;
        }
        char *names[64];
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < ARRAY_SIZE(names)) {
                struct stat st;
                char *path;
                if (de->d_name[0] == '.')
                        continue;
                path = xasprintf("%s/%s", fc->extensions_dir, de->d_name);
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111))
                        names[n++] = xstrdup(de->d_name);
                free(path);
        }
        closedir(d);
        /* Lambda starts them in alphabetical order. */
        qsort(names, n, sizeof(names[0]), by_name);
        if (n > RAPI_EXT_MAX) {
                snprintf(note, sizeof(note),
                         "lemu: function '%s' has %u extensions; Lambda allows %d, the rest are "
                         "not started\n",
                         fc->name, n, RAPI_EXT_MAX);
                logs_write(l, note, strlen(note));
                for (unsigned i = RAPI_EXT_MAX; i < n; i++)
                        free(names[i]);
                n = RAPI_EXT_MAX;
        }
        fn->n_ext = n;
        fn->ext_names = xcalloc(n + 1, sizeof(char *));
        fn->ext_paths = xcalloc(n + 1, sizeof(char *));
        for (unsigned i = 0; i < n; i++) {
                fn->ext_names[i] = names[i];
                fn->ext_paths[i] = xasprintf("%s/%s", fc->extensions_dir, names[i]);
        }
}

void ext_free(Function *fn) {
        for (unsigned i = 0; i < fn->n_ext; i++) {
                free(fn->ext_names[i]);
                free(fn->ext_paths[i]);
        }
        free(fn->ext_names);
        free(fn->ext_paths);
        fn->ext_names = fn->ext_paths = NULL;
        fn->n_ext = 0;
}

bool envx_has_extensions(const ExecEnv *env) {
        return env->fn->n_ext > 0;
}

/* ---- the launcher's pipes ----------------------------------------------------------- */

unsigned envx_spawn_args(ExecEnv *env, const char **argv, size_t *n, uv_stdio_container_t *stdio,
                         unsigned nstdio, char (*slots)[8]) {
        Function *fn = env->fn;

        if (!fn->n_ext)
                return 0;
        uv_pipe_init(env->emu->loop, &env->ext_out, 0);
        uv_pipe_init(env->emu->loop, &env->report, 0);
        env->ext_out.data = env->report.data = env;
        env->ext_pipes = true;
        buf_reset(&env->ext_line);
        buf_reset(&env->report_line);
        stdio[0].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[0].data.stream = (uv_stream_t *) &env->ext_out;
        stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
        stdio[1].data.stream = (uv_stream_t *) &env->report;
        snprintf(slots[0], 8, "%u", nstdio);
        snprintf(slots[1], 8, "%u", nstdio + 1);
        argv[(*n)++] = "--ext-out-fd";
        argv[(*n)++] = slots[0];
        argv[(*n)++] = "--report-fd";
        argv[(*n)++] = slots[1];
        for (unsigned i = 0; i < fn->n_ext; i++) {
                argv[(*n)++] = "--extension";
                argv[(*n)++] = fn->ext_paths[i];
        }
        return 2;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
        static char chunk[65536];

        *buf = uv_buf_init(chunk, sizeof(chunk));
}

static void ext_line(ExecEnv *env, const char *p, size_t n) {
        logs_extension_line(&env->emu->logs, env, p, n);
}

static void ext_out_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
        ExecEnv *env = s->data;
        Buf *partial = &env->ext_line;

        if (n < 0) {
                if (partial->len)
                        ext_line(env, partial->data, partial->len);
                buf_reset(partial);
                uv_read_stop(s);
                return;
        }
        const char *p = buf->base;
        size_t left = (size_t) n;
        while (left > 0) {
                const char *nl = memchr(p, '\n', left);
                size_t take = nl ? (size_t) (nl - p) : left;
                size_t room = EXT_LINE_MAX - partial->len;
                if (take > room) {
                        /* An endless line is cut, not buffered without bound. */
                        buf_append(partial, p, room);
                        p += room;
                        left -= room;
                } else {
                        buf_append(partial, p, take);
                        p += take;
                        left -= take;
                        if (!nl)
                                break;
                        p++;
                        left--;
                }
                ext_line(env, partial->data, partial->len);
                buf_reset(partial);
        }
}

static void extension_exited(ExecEnv *env, int index, int status) {
        char note[256], text[256];
        const char *name = rapi_ext_external_name(&env->rapi, index);

        if (WIFSIGNALED(status))
                snprintf(text, sizeof(text), "Extension '%s' exited with error: signal: %s", name,
                         env__signal_text(WTERMSIG(status)));
        else
                snprintf(text, sizeof(text), "Extension '%s' exited with status %d", name,
                         WEXITSTATUS(status));
        if (env->graceful || env->killing) {
                rapi_ext_exited(&env->rapi, index, false);
                return; /* expected: it was told to shut down, or everything is killed */
        }
        snprintf(note, sizeof(note), "%s", text);
        logs_platform_note(&env->emu->logs, env, env->inv, note);
        if (env->state == ENV_INITIALIZING) {
                /* Lambda fails init when an extension dies in it; one that never got as far as
                 * registering could not be launched. */
                bool registered = rapi_ext_exited(&env->rapi, index, false);
                bool launch = !registered && WIFEXITED(status) && WEXITSTATUS(status) == 127;
                env__init_failed(env, "error",
                                 launch ? "Extension.LaunchError" : "Extension.Crash");
                return;
        }
        /* After init, any exit of an extension is a crash (spec §4.3): the environment is
         * reset. It is marked gone first, so that the others alone get SHUTDOWN. */
        rapi_ext_exited(&env->rapi, index, false);
        env__extension_failed(env, "Extension.Crash", text);
}

static void report_line(ExecEnv *env, const char *line) {
        int a, b;

        if (sscanf(line, "x %d %d", &a, &b) == 2)
                extension_exited(env, a, b);
        else if (sscanf(line, "r %d", &a) == 1) {
                env->runtime_exited = true;
                env__runtime_exited(env, a);
        }
}

static void report_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
        ExecEnv *env = s->data;
        Buf *b = &env->report_line;

        if (n < 0) {
                uv_read_stop(s);
                return;
        }
        for (ssize_t i = 0; i < n; i++) {
                char ch = buf->base[i];
                if (ch != '\n') {
                        if (b->len < 64)
                                buf_append(b, &ch, 1);
                        continue;
                }
                buf_append(b, "", 1);
                report_line(env, b->data);
                buf_reset(b);
        }
}

void envx_spawned(ExecEnv *env, bool ok) {
        if (!env->ext_pipes)
                return;
        env->open_handles += 2;
        if (!ok)
                return;
        uv_read_start((uv_stream_t *) &env->ext_out, alloc_cb, ext_out_cb);
        uv_read_start((uv_stream_t *) &env->report, alloc_cb, report_cb);
}

void envx_close_handles(ExecEnv *env, uv_close_cb cb) {
        if (!env->ext_pipes)
                return;
        env->ext_pipes = false;
        /* What is in the pipes now was written before the exit. */
        uv_os_fd_t fd;
        char chunk[4096];
        if (uv_fileno((uv_handle_t *) &env->report, &fd) == 0) {
                ssize_t r;
                uv_buf_t b = uv_buf_init(chunk, sizeof(chunk));
                while ((r = read(fd, chunk, sizeof(chunk))) > 0)
                        report_cb((uv_stream_t *) &env->report, r, &b);
        }
        if (env->ext_line.len)
                ext_line(env, env->ext_line.data, env->ext_line.len);
        buf_reset(&env->ext_line);
        uv_close((uv_handle_t *) &env->ext_out, cb);
        uv_close((uv_handle_t *) &env->report, cb);
}

/* The last child of @pid, or 0: children are listed in the order they were forked. */
static pid_t last_child(pid_t pid) {
        char path[64], buf[4096];

        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        pid_t last = 0;
        char *save = NULL;
        for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
                last = (pid_t) atoi(tok);
        return last;
}

pid_t envx_runtime_pid(ExecEnv *env) {
        /* launcher → init → the extensions, then the runtime, forked last. */
        pid_t init = last_child(env->proc.pid);
        return init > 0 ? last_child(init) : 0;
}

/* ---- the Extensions API's callbacks ------------------------------------------------- */

void envx_on_registered(Rapi *r) {
        ExecEnv *env = r->data;

        /* Every external extension is in: the runtime starts (init waits at the gate). */
        if (env->gate_fd >= 0 && write(env->gate_fd, "g", 1) != 1) {
                /* The launcher is gone: its exit arrives as an init failure. */
        }
        env__close_gate(env);
}

void envx_on_error(Rapi *r, const char *name, const char *error_type, bool init) {
        ExecEnv *env = r->data;
        char note[384];

        snprintf(note, sizeof(note), "Extension '%s' reported %s error: %s", name,
                 init ? "an init" : "an exit", error_type);
        logs_platform_note(&env->emu->logs, env, env->inv, note);
        if (env->state == ENV_INITIALIZING)
                env__init_failed(env, "error", error_type);
        else if (!init)
                env__extension_failed(env, error_type, note);
}

/* ---- graceful shutdown -------------------------------------------------------------- */

static void budget_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (!env->graceful)
                return;
        if (!env->graceful_late) {
                /* The runtime's share is spent: it goes, the extensions keep the rest. */
                unsigned ext = rapi_ext_count(&env->rapi, true);
                env->graceful_late = true;
                if (!env->runtime_exited && env->runtime_pid > 0)
                        kill(env->runtime_pid, SIGKILL);
                if (ext) {
                        uv_timer_start(&env->timer, budget_cb, 2000 - 300, 0);
                        return;
                }
        }
        env->graceful = false;
        env__hard_kill(env);
}

bool envx_shutdown(ExecEnv *env, const char *reason) {
        unsigned all = rapi_ext_count(&env->rapi, false);
        unsigned ext = rapi_ext_count(&env->rapi, true);

        if (!env->proc_alive || env->killing || all == 0)
                return false;
        uint64_t budget = ext ? 2000 : 500, share = ext ? 300 : 500;
        env->killing = true;
        env->graceful = true;
        env->graceful_late = false;
        env__freeze(env, false);
        envt_phase_end(env);
        rapi_ext_shutdown(&env->rapi, reason, clock_wall_ms() + (int64_t) budget);
        /* The launcher passes it to init, init to the runtime, and init then outlives the
         * runtime until the extensions are done. */
        kill(env->proc.pid, SIGTERM);
        uv_timer_start(&env->timer, budget_cb, share, 0);
        return true;
}

void envx_exited(ExecEnv *env) {
        if (env->graceful)
                uv_timer_stop(&env->timer);
        env->graceful = env->graceful_late = false;
        env->runtime_exited = false;
}
