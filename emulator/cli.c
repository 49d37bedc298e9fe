/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command-line front end: `run`, `serve`, `invoke`, `validate`, `help`, `--version`, and the
 * `aws-lambda-rie` drop-in. Options stop at BOOTSTRAP or `--`; the rest goes to the
 * bootstrap. Config flags are applied after the file and LEMU_* variables, so the precedence
 * is flag > environment > file > default.
 */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "cli.h"
#include "config.h"
#include "emulator.h"
#include "invoke.h"
#include "lemu-config.h"
#include "macro.h"
#include "scenario.h"
#include "template.h"
#include "watch.h"
#include "xalloc.h"

extern char **environ;

typedef struct Flag {
        const char *name;
        const char *value;
} Flag;

typedef struct Opts {
        const char *command;
        const char *config_file;
        const char *template_file;
        const char *event;
        unsigned repeat;
        unsigned concurrency;
        Flag *flags;
        size_t n_flags;
        char **functions; /* NAME=BOOTSTRAP */
        size_t n_functions;
        char **rest; /* BOOTSTRAP ARGS… */
        int n_rest;
        bool help;
        bool check_leaks;
        bool watch;
} Opts;

static void add_flag(Opts *o, const char *name, const char *value) {
        o->flags = xrealloc(o->flags, (o->n_flags + 1) * sizeof(Flag));
        o->flags[o->n_flags++] = (Flag){ name, value };
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "lemu: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\nTry 'lemu help' for more.\n");
        return EXIT_USAGE;
}

static bool parse_uint(const char *s, unsigned *ret) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || *end || end == s || v == 0 || v > 1000000)
                return false;
        *ret = (unsigned) v;
        return true;
}

/* Parses options up to BOOTSTRAP or "--". Return: 0 or an exit code. */
static int parse_opts(Opts *o, int argc, char **argv, int start) {
        int i;

        for (i = start; i < argc; i++) {
                char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (a[0] != '-' || a[1] != '-' || a[2] == '\0') {
                        if (strcmp(a, "-h") == 0) {
                                o->help = true;
                                continue;
                        }
                        break;
                }
                char name[64];
                const char *value = NULL;
                const char *eq = strchr(a + 2, '=');
                size_t nl = eq ? (size_t) (eq - a - 2) : strlen(a + 2);
                if (nl >= sizeof(name))
                        return usage_error("unknown option '%s'", a);
                memcpy(name, a + 2, nl);
                name[nl] = '\0';
                if (eq)
                        value = eq + 1;

                /* Options without a value. */
                if (strcmp(name, "help") == 0) {
                        o->help = true;
                        continue;
                }
                if (strcmp(name, "watch") == 0 && !value) {
                        o->watch = true;
                        continue;
                }
                if (strcmp(name, "cold") == 0 && !value) {
                        add_flag(o, xstrdup("reuse"), "cold");
                        continue;
                }
                if (strcmp(name, "check-leaks") == 0 && !value) {
                        /* Shadow runs, drift and a settle window, as flags in this place: a
                         * later --settle or --shadow still wins. */
                        o->check_leaks = true;
                        add_flag(o, xstrdup("shadow"), "true");
                        add_flag(o, xstrdup("drift"), "true");
                        add_flag(o, xstrdup("settle"), "20");
                        continue;
                }
#define TAKE_VALUE()                                                                     \
        do {                                                                             \
                if (!value) {                                                            \
                        if (i + 1 >= argc)                                               \
                                return usage_error("option '--%s' needs a value", name); \
                        value = argv[++i];                                               \
                }                                                                        \
        } while (0)
                if (strcmp(name, "config") == 0) {
                        TAKE_VALUE();
                        o->config_file = value;
                } else if (strcmp(name, "event") == 0) {
                        TAKE_VALUE();
                        o->event = value;
                } else if (strcmp(name, "repeat") == 0) {
                        TAKE_VALUE();
                        if (!parse_uint(value, &o->repeat))
                                return usage_error("--repeat takes a whole number from 1, not '%s'",
                                                   value);
                } else if (strcmp(name, "concurrency") == 0) {
                        TAKE_VALUE();
                        if (!parse_uint(value, &o->concurrency))
                                return usage_error(
                                        "--concurrency takes a whole number from 1, not '%s'",
                                        value);
                } else if (strcmp(name, "function") == 0) {
                        TAKE_VALUE();
                        o->functions =
                                xrealloc(o->functions, (o->n_functions + 1) * sizeof(char *));
                        o->functions[o->n_functions++] = (char *) value;
                } else if (strcmp(name, "template") == 0) {
                        TAKE_VALUE();
                        o->template_file = value;
                } else if (cfg_flag_known(name)) {
                        TAKE_VALUE();
                        add_flag(o, xstrdup(name), value);
                } else {
                        return usage_error("unknown option '%s'", a);
                }
#undef TAKE_VALUE
        }
        o->rest = argv + i;
        o->n_rest = argc - i;
        return 0;
}

static int config_error(const CfgError *err, const char *file) {
        char msg[1024];

        cfg_format_error(err, msg, sizeof(msg));
        if (file)
                fprintf(stderr, "lemu: %s:%s%s\n", file, err->line ? "" : " ", msg);
        else
                fprintf(stderr, "lemu: %s\n", msg);
        return EXIT_USAGE;
}

static char *absolute(const char *path) {
        char buf[PATH_MAX];

        if (path[0] == '/')
                return xstrdup(path);
        if (realpath(path, buf))
                return xstrdup(buf);
        if (!getcwd(buf, sizeof(buf)))
                return xstrdup(path);
        return xasprintf("%s/%s", buf, path);
}

static void set_bootstrap(FunctionConfig *fc, char **argv, int n) {
        free(fc->bootstrap);
        fc->bootstrap = absolute(argv[0]);
        if (n > 1) {
                fc->args = xcalloc((size_t) n, sizeof(char *));
                for (int k = 1; k < n; k++)
                        fc->args[k - 1] = xstrdup(argv[k]);
        }
}

/* Builds the Config: file, the command line's functions, LEMU_*, then flags. */
static int build_config(Config *c, Opts *o, bool need_function) {
        CfgError err = { 0 };

        cfg_init(c);
        /* A template's functions first: a config file may then refine them by name. */
        if (o->template_file) {
                char msg[1024];
                if (tpl_load(c, o->template_file, stderr, msg, sizeof(msg)) < 0) {
                        fprintf(stderr, "lemu: %s\n", msg);
                        return EXIT_USAGE;
                }
        }
        if (o->config_file && cfg_load_file(c, o->config_file, &err) < 0)
                return config_error(&err, o->config_file);
        for (size_t i = 0; i < o->n_functions; i++) {
                char *eq = strchr(o->functions[i], '=');
                if (!eq || eq == o->functions[i] || !eq[1])
                        return usage_error("--function takes NAME=BOOTSTRAP, not '%s'",
                                           o->functions[i]);
                char *name = xstrndup(o->functions[i], (size_t) (eq - o->functions[i]));
                if (cfg_find_function(c, name)) {
                        fprintf(stderr, "lemu: function '%s' is defined twice\n", name);
                        free(name);
                        return EXIT_USAGE;
                }
                char *argv1[] = { eq + 1 };
                set_bootstrap(cfg_add_function(c, name), argv1, 1);
                free(name);
        }
        if (o->n_rest > 0) {
                if (cfg_find_function(c, "function"))
                        return usage_error("a function named '%s' exists already", "function");
                set_bootstrap(cfg_add_function(c, "function"), o->rest, o->n_rest);
        }
        if (need_function && c->n_functions == 0)
                return usage_error("%s", "no function: give BOOTSTRAP, --function NAME=BOOTSTRAP, "
                                         "--config FILE or --template FILE");
        if (cfg_apply_env(c, environ, &err) < 0)
                return config_error(&err, NULL);
        for (size_t i = 0; i < o->n_flags; i++) {
                int r = cfg_set(c, o->flags[i].name, o->flags[i].value, &err);
                if (r == -ENOENT)
                        return usage_error("unknown option '--%s'", o->flags[i].name);
                if (r < 0)
                        return config_error(&err, NULL);
        }
        if (cfg_validate(c, &err) < 0)
                return config_error(&err, o->config_file);
        return 0;
}

char *cli_read_event(const char *arg, size_t *ret_len, char *err, size_t errn) {
        Buf b = BUF_INIT;
        int fd = -1;

        if (strcmp(arg, "-") == 0)
                fd = STDIN_FILENO;
        else if (arg[0] == '@') {
                fd = open(arg + 1, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        snprintf(err, errn, "cannot read event file '%s': %s", arg + 1,
                                 strerror(errno));
                        return NULL;
                }
        } else {
                buf_puts(&b, arg);
                *ret_len = b.len;
                return buf_steal(&b, NULL);
        }
        char chunk[65536];
        for (;;) {
                ssize_t r = read(fd, chunk, sizeof(chunk));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                buf_append(&b, chunk, (size_t) r);
        }
        if (fd != STDIN_FILENO)
                close(fd);
        *ret_len = b.len;
        return buf_steal(&b, NULL);
}

/* ---- run ---------------------------------------------------------------------------- */

typedef struct RunState {
        Emulator emu;
        char *event;
        size_t event_len;
        unsigned total, started, done, printed, concurrency;
        Buf *bodies;
        bool *finished;
        int worst;
} RunState;

static int worse(int a, int b) {
        static const int rank[] = { [0] = 0, [1] = 1, [4] = 2, [3] = 3, [2] = 4 };
        return rank[b] > rank[a] ? b : a;
}

static void run_next(RunState *st);
static void run_env_ready(Emulator *e);

static void run_done(Invocation *inv, void *data) {
        RunState *st = data;
        unsigned idx = (unsigned) (uintptr_t) inv->done_data_index;

        if (inv->http_status != 200)
                st->worst = worse(st->worst, EXIT_SERVICE);
        else if (inv->function_error)
                st->worst = worse(st->worst, EXIT_FUNCTION_ERROR);
        st->bodies[idx] = inv->result;
        inv->result = BUF_INIT;
        st->finished[idx] = true;
        st->done++;
        while (st->printed < st->total && st->finished[st->printed]) {
                Buf *b = &st->bodies[st->printed];
                fwrite(b->data ? b->data : "", 1, b->len, stdout);
                fputc('\n', stdout);
                fflush(stdout);
                buf_free(b);
                st->printed++;
        }
        if (st->done == st->total && st->emu.background == 0)
                emu_shutdown(&st->emu);
        else if (st->done == st->total)
                st->emu.on_background_done = emu_shutdown; /* findings still on their way */
        else
                run_next(st);
}

static void run_env_ready(Emulator *e) {
        RunState *st = e->user;

        if (st->started == 0 && !sched_provisioning(e))
                run_next(st);
}

static void run_next(RunState *st) {
        /* Provisioned environments are ready before traffic, as on Lambda. */
        if (st->started == 0 && sched_provisioning(&st->emu))
                return;
        while (st->started < st->total && st->started - st->done < st->concurrency) {
                Function *fn = &st->emu.functions[0];
                Invocation *inv = inv_new(fn, INVOKE_REQUEST_RESPONSE);
                buf_append(&inv->payload, st->event, st->event_len);
                inv->invoked_arn = xstrdup(fn->arn);
                inv->done_cb = run_done;
                inv->done_data = st;
                inv->done_data_index = st->started;
                st->started++;
                sched_submit(inv);
        }
}

/* @s on one line: control characters (a pretty-printed value's newlines) as spaces. */
static void put_flat(const char *s) {
        for (; *s; s++)
                fputc((unsigned char) *s < 0x20 ? ' ' : *s, stderr);
}

/* One readable stderr line per finding in the records; returns how many findings were made
 * (also those whose record the ring dropped). */
static uint64_t print_findings(Emulator *e) {
        uint64_t total = 0;

        for (size_t i = 0; i < e->n_functions; i++)
                for (size_t k = 0; k < METRICS_FINDING_KINDS; k++)
                        total += e->functions[i].metrics.findings[k];
        if (total == 0)
                return 0;
        fprintf(stderr, "lemu: --check-leaks: %llu finding%s\n", (unsigned long long) total,
                total == 1 ? "" : "s");
        for (uint64_t seq = records_oldest(&e->records); seq < e->records.next_seq; seq++) {
                const Record *rec = records_get(&e->records, seq);
                cJSON *list = rec ? cJSON_Parse(rec->findings_json) : NULL, *f;

                cJSON_ArrayForEach (f, list) {
                        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(f, "kind"));
                        const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(f, "path"));
                        const char *warm = cJSON_GetStringValue(cJSON_GetObjectItem(f, "warm"));
                        const char *fresh = cJSON_GetStringValue(cJSON_GetObjectItem(f, "fresh"));
                        const char *detail = cJSON_GetStringValue(cJSON_GetObjectItem(f, "detail"));
                        fprintf(stderr, "lemu: finding %s", kind ? kind : "?");
                        if (path)
                                fprintf(stderr, " at %s", path);
                        fprintf(stderr, " (invocation %llu, request %s, %s)",
                                (unsigned long long) rec->seq, rec->request_id,
                                rec->environment[0] ? rec->environment : "-");
                        if (path) {
                                fputs(": warm ", stderr);
                                put_flat(warm ? warm : "(absent)");
                                fputs(", fresh ", stderr);
                                put_flat(fresh ? fresh : "(absent)");
                        }
                        if (detail) {
                                fputs(" - ", stderr);
                                put_flat(detail);
                        }
                        fputc('\n', stderr);
                }
                cJSON_Delete(list);
        }
        return total;
}

/* An emulator that never served: its timers and spares are already under way, so it stops
 * the orderly way before it is freed. */
static void stop_unstarted(Emulator *e, uv_loop_t *loop) {
        emu_handle_signals(e); /* the shutdown closes their handles */
        emu_shutdown(e);
        uv_run(loop, UV_RUN_DEFAULT);
        emu_deinit(e);
        (void) uv_loop_close(loop);
}

static int cmd_run(Opts *o) {
        Config cfg;
        char err[512], reason[256];
        RunState st = { 0 };

        int r = build_config(&cfg, o, true);
        if (r)
                goto out_cfg;
        st.event = o->event ? cli_read_event(o->event, &st.event_len, err, sizeof(err))
                            : xstrdup("{}");
        if (!o->event)
                st.event_len = 2;
        if (!st.event) {
                fprintf(stderr, "lemu: %s\n", err);
                r = EXIT_USAGE;
                goto out_cfg;
        }
        if (!invoke_payload_valid(st.event, st.event_len, reason, sizeof(reason))) {
                fprintf(stderr, "lemu: --event is not valid JSON: %s\n", reason);
                r = EXIT_USAGE;
                goto out_event;
        }
        uv_loop_t *loop = uv_default_loop();
        r = emu_init(&st.emu, loop, &cfg, false, NULL);
        if (r < 0) {
                fprintf(stderr, "lemu: cannot find the sandbox launcher '%s': %s\n",
                        st.emu.launcher_path, strerror(-r));
                emu_deinit(&st.emu);
                r = EXIT_USAGE;
                goto out_event;
        }
        r = emu_open_journal(&st.emu, NULL, err, sizeof(err)); /* private to this run */
        if (r < 0) {
                fprintf(stderr, "lemu: %s\n", err);
                stop_unstarted(&st.emu, loop);
                r = EXIT_USAGE;
                goto out_event;
        }
        emu_start(&st.emu);
        st.total = o->repeat ? o->repeat : 1;
        st.concurrency = o->concurrency ? o->concurrency : 1;
        st.bodies = xcalloc(st.total, sizeof(Buf));
        st.finished = xcalloc(st.total, sizeof(bool));
        emu_handle_signals(&st.emu);
        st.emu.user = &st;
        st.emu.on_env_ready = run_env_ready;
        run_next(&st);
        uv_run(loop, UV_RUN_DEFAULT);
        r = st.worst;
        if (st.emu.shutting_down && st.done < st.total)
                r = worse(r, EXIT_SERVICE);
        if (o->check_leaks && print_findings(&st.emu) > 0)
                r = worse(r, EXIT_FINDING);
        for (unsigned k = 0; k < st.total; k++)
                buf_free(&st.bodies[k]);
        free(st.bodies);
        free(st.finished);
        emu_deinit(&st.emu);
        uv_loop_close(loop);
out_event:
        free(st.event);
out_cfg:
        cfg_deinit(&cfg);
        return r;
}

/* ---- serve and the RIE drop-in ------------------------------------------------------ */

static void serve_stopped(Emulator *e) {
        e->exit_code = 0;
        watch_stop(e->user); /* its handles would keep the loop running */
        e->user = NULL;
}

static int serve(Config *cfg, bool rie, const char *rie_name, bool watch) {
        Emulator e;
        uv_loop_t *loop = uv_default_loop();

        int r = emu_init(&e, loop, cfg, rie, rie_name);
        if (r < 0) {
                fprintf(stderr, "lemu: cannot find the sandbox launcher '%s': %s\n",
                        e.launcher_path, strerror(-r));
                emu_deinit(&e);
                return EXIT_USAGE;
        }
        /* Locked before listening: a second lemu on the same state_dir stops here. */
        char err[512];
        r = emu_open_journal(&e, cfg->state_dir, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "lemu: %s\n", err);
                stop_unstarted(&e, loop);
                return EXIT_USAGE;
        }
        r = emu_listen(&e, cfg->listen);
        if (r < 0) {
                fprintf(stderr, "lemu: cannot listen on '%s': %s\n", cfg->listen,
                        r == -EINVAL ? "not a HOST:PORT address" : uv_strerror(r));
                stop_unstarted(&e, loop);
                return EXIT_USAGE;
        }
        if (watch) {
                Watch *w = NULL;
                r = watch_start(&e, &w);
                if (r < 0) {
                        fprintf(stderr, "lemu: --watch: cannot watch the functions' code: %s\n",
                                r == -ENOSPC ? "more than 256 folders" : uv_strerror(r));
                        stop_unstarted(&e, loop);
                        return EXIT_USAGE;
                }
                e.user = w;
                fprintf(stderr, "lemu: --watch: watching %zu folder%s for changes\n",
                        watch_count(w), watch_count(w) == 1 ? "" : "s");
        }
        /* Handle signals before announcing readiness: a SIGTERM sent as soon as the line is
         * read must stop lemu cleanly (exit 0), not kill it. */
        e.on_stopped = serve_stopped;
        emu_handle_signals(&e);
        printf("listening on %s\n", e.listen_url);
        fflush(stdout);
        /* The sandbox's set-up (its probes fork and exec the launcher) runs while the
         * first clients connect: they wait in the listen backlog, not for this line. */
        emu_start(&e);
        uv_run(loop, UV_RUN_DEFAULT);
        emu_deinit(&e);
        uv_loop_close(loop);
        return EXIT_OK;
}

static int cmd_serve(Opts *o) {
        Config cfg;

        int r = build_config(&cfg, o, true);
        if (r == 0)
                r = serve(&cfg, false, NULL, o->watch);
        cfg_deinit(&cfg);
        return r;
}

static int cmd_validate(int argc, char **argv) {
        const char *file = NULL;
        bool dump = false;
        Config cfg;
        CfgError err = { 0 };

        for (int i = 2; i < argc; i++) {
                if (strcmp(argv[i], "--dump-config") == 0)
                        dump = true;
                else if (strcmp(argv[i], "--help") == 0) {
                        help_print("validate");
                        return EXIT_OK;
                } else if (!file && argv[i][0] != '-')
                        file = argv[i];
                else
                        return usage_error("unexpected argument '%s'", argv[i]);
        }
        if (!file)
                return usage_error("%s", "validate needs a config FILE");
        cfg_init(&cfg);
        int r = EXIT_OK;
        if (cfg_load_file(&cfg, file, &err) < 0 || cfg_validate(&cfg, &err) < 0) {
                r = config_error(&err, file);
        } else if (dump) {
                char *s = cfg_dump(&cfg);
                puts(s);
                free(s);
        } else {
                printf("%s: ok, %zu function%s\n", file, cfg.n_functions,
                       cfg.n_functions == 1 ? "" : "s");
        }
        cfg_deinit(&cfg);
        return r;
}

/* aws-lambda-rie [--runtime-interface-emulator-address ADDR] [--runtime-api-address ADDR]
 *                [--log-level LEVEL] BOOTSTRAP [ARGS…] */
static int rie_main(int argc, char **argv) {
        const char *addr = "0.0.0.0:8080";
        Config cfg;
        CfgError err = { 0 };
        int i;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = NULL;
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (strncmp(a, "--", 2) != 0)
                        break;
                const char *eq = strchr(a, '=');
                if (eq)
                        v = eq + 1;
                else if (i + 1 < argc)
                        v = argv[i + 1];
                if (strncmp(a, "--runtime-interface-emulator-address", 36) == 0) {
                        addr = v;
                } else if (strncmp(a, "--runtime-api-address", 21) == 0 ||
                           strncmp(a, "--log-level", 11) == 0) {
                        /* accepted for compatibility; lemu picks its own Runtime API address */
                } else {
                        fprintf(stderr, "aws-lambda-rie: unknown option '%s'\n", a);
                        return EXIT_USAGE;
                }
                if (!eq)
                        i++;
                if (!v)
                        return usage_error("option '%s' needs a value", a);
        }
        cfg_init(&cfg);
        free(cfg.listen);
        cfg.listen = xstrdup(addr);
        FunctionConfig *fc = cfg_add_function(&cfg, "function");
        if (i < argc) {
                set_bootstrap(fc, argv + i, argc - i);
        } else {
                static char def0[] = "/var/runtime/bootstrap";
                char *def[] = { def0 };
                const char *task = getenv("LAMBDA_TASK_ROOT");
                char *p = xasprintf("%s/bootstrap", task ? task : "/var/task");
                if (access(p, X_OK) == 0) {
                        char *argv1[] = { p };
                        set_bootstrap(fc, argv1, 1);
                } else {
                        set_bootstrap(fc, def, 1);
                }
                free(p);
        }
        const char *t = getenv("AWS_LAMBDA_FUNCTION_TIMEOUT");
        const char *m = getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
        if ((t && cfg_set(&cfg, "timeout", t, &err) < 0) ||
            (m && cfg_set(&cfg, "memory", m, &err) < 0) || cfg_validate(&cfg, &err) < 0) {
                int r = config_error(&err, NULL);
                cfg_deinit(&cfg);
                return r;
        }
        const char *name = getenv("AWS_LAMBDA_FUNCTION_NAME");
        int r = serve(&cfg, true, name, false);
        cfg_deinit(&cfg);
        return r;
}

int cli_main(int argc, char **argv) {
        const char *base = strrchr(argv[0], '/');
        base = base ? base + 1 : argv[0];
        if (strcmp(base, "aws-lambda-rie") == 0)
                return rie_main(argc, argv);

        if (argc < 2) {
                help_print(NULL);
                return EXIT_USAGE;
        }
        const char *cmd = argv[1];
        if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
                printf("lemu %s\n", LEMU_VERSION);
                return EXIT_OK;
        }
        if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
                help_print(NULL);
                return EXIT_OK;
        }
        if (strcmp(cmd, "help") == 0) {
                if (argc > 2 && strcmp(argv[2], "--man") == 0) {
                        help_man(stdout);
                        return EXIT_OK;
                }
                if (argc > 2 && !help_topic_known(argv[2]))
                        return usage_error("no help topic '%s'", argv[2]);
                help_print(argc > 2 ? argv[2] : NULL);
                return EXIT_OK;
        }
        if (strcmp(cmd, "invoke") == 0)
                return cli_invoke(argc, argv);
        if (strcmp(cmd, "validate") == 0)
                return cmd_validate(argc, argv);
        if (strcmp(cmd, "test") == 0)
                return scn_main(argc, argv);
        if (strcmp(cmd, "event") == 0)
                return events_main(argc, argv);
        if (strcmp(cmd, "run") != 0 && strcmp(cmd, "serve") != 0)
                return usage_error("unknown command '%s'", cmd);

        Opts o = { .command = cmd };
        int r = parse_opts(&o, argc, argv, 2);
        if (r == 0 && o.help) {
                help_print(cmd);
        } else if (r == 0) {
                if (strcmp(cmd, "run") == 0) {
                        if (o.template_file || o.watch) {
                                r = usage_error("--%s is for 'lemu serve'",
                                                o.watch ? "watch" : "template");
                        } else if (o.n_rest == 0) {
                                r = usage_error("%s", "run needs a BOOTSTRAP");
                        } else {
                                r = cmd_run(&o);
                        }
                } else {
                        r = cmd_serve(&o);
                }
        }
        for (size_t i = 0; i < o.n_flags; i++)
                free((char *) o.flags[i].name);
        free(o.flags);
        free(o.functions);
        return r;
}
