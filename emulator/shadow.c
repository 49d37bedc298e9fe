/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shadow runs (shadow.h): the same event, run again on a fresh environment, to catch state
 * that leaks between warm invocations.
 *
 * Life of one run: sched_finish() calls shadow_prepare() while the warm invocation still
 * exists (the event and the answer are copied: the invocation is freed right after), then
 * answers the caller, then calls shadow_launch(), which makes a `<fn>-shadow-<n>`
 * environment and runs the copy there. The shadow invocation ends in sched_finish(), which
 * hands it to shadow_finish(); the environment ends itself (sched_env_available() shuts a
 * shadow environment down instead of making it idle). The error types are compared on the
 * loop, the bodies on a worker thread (a 6 MB answer takes milliseconds to parse), and the
 * finding, if any, is added to the warm invocation's record.
 *
 * In flight from shadow_prepare() to the end of the comparison: Emulator.background (which
 * wait-idle and `run` wait for) and Emulator.shadows (what wait-idle reports) count it.
 * During shutdown a run is dropped without a comparison: lemu ended it, not the function.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "codec.h"
#include "compare.h"
#include "emulator.h"
#include "macro.h"
#include "shadow.h"
#include "xalloc.h"

struct Shadow {
        Emulator *e;
        Function *fn;
        uint64_t seq; /* the warm invocation's record */
        char request_id[37];
        char warm_env[96];
        unsigned warm_nth; /* which invocation of its environment the warm one was */
        unsigned attempt;
        Buf payload;
        char *qualifier, *invoked_arn, *client_context, *trace_id;
        Buf warm_body;
        bool warm_error;
        char warm_type[128];

        char fresh_env[96];
        Buf fresh_body;
        bool fresh_error;
        char fresh_type[128];

        /* the comparison, on a worker thread: it reads only what is below */
        uv_work_t work;
        char **paths, **values; /* copies: PUT lifecycle may replace the config's */
        int result;
        CompareDiff diff;
};

static char *dup_or_null(const char *s) {
        return s ? xstrdup(s) : NULL;
}

static char **strv_dup(char *const *v) {
        size_t n = 0;

        if (!v)
                return NULL;
        while (v[n])
                n++;
        char **out = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                out[i] = xstrdup(v[i]);
        return out;
}

static void strv_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static void shadow_done(Shadow *s) {
        Emulator *e = s->e;

        buf_free(&s->payload);
        buf_free(&s->warm_body);
        buf_free(&s->fresh_body);
        free(s->qualifier);
        free(s->invoked_arn);
        free(s->client_context);
        free(s->trace_id);
        strv_free(s->paths);
        strv_free(s->values);
        free(s);
        e->background--;
        e->shadows--;
        emu_check_idle(e);
        if (e->on_background_done && e->background == 0)
                e->on_background_done(e);
}

Shadow *shadow_prepare(Invocation *warm, uint64_t seq) {
        Function *fn = warm->fn;
        Emulator *e = fn->emu;

        if (!fn->cfg->lifecycle.shadow || e->shutting_down || !warm->env || warm->cold ||
            warm->shadow || warm->type == INVOKE_DRY_RUN)
                return NULL;
        /* Only answers the function gave: a timeout or a crash is lemu's answer. */
        if (warm->status != INV_SUCCESS && warm->status != INV_ERROR)
                return NULL;
        Shadow *s = xcalloc(1, sizeof(*s));
        s->e = e;
        s->fn = fn;
        s->seq = seq;
        memcpy(s->request_id, warm->request_id, sizeof(s->request_id));
        snprintf(s->warm_env, sizeof(s->warm_env), "%s", warm->env->name);
        s->warm_nth = warm->env->invocations;
        s->attempt = warm->attempt;
        buf_append(&s->payload, warm->payload.data ? warm->payload.data : "", warm->payload.len);
        s->qualifier = dup_or_null(warm->qualifier);
        s->invoked_arn = dup_or_null(warm->invoked_arn);
        s->client_context = dup_or_null(warm->client_context);
        s->trace_id = dup_or_null(warm->trace_id);
        buf_append(&s->warm_body, warm->result.data ? warm->result.data : "", warm->result.len);
        s->warm_error = warm->function_error;
        if (warm->function_error)
                snprintf(s->warm_type, sizeof(s->warm_type), "%s", warm->error_type);
        e->background++;
        e->shadows++;
        return s;
}

void shadow_launch(Shadow *s) {
        if (!s)
                return;
        Emulator *e = s->e;
        if (e->shutting_down) {
                shadow_done(s);
                return;
        }
        ExecEnv *env = env_new_shadow(s->fn);
        if (!env) {
                char line[256];
                snprintf(line, sizeof(line),
                         "lemu: cannot start a shadow environment of %s (no Runtime API address); "
                         "request %s is not compared\n",
                         s->fn->cfg->name, s->request_id);
                logs_write(&e->logs, line, strlen(line));
                shadow_done(s);
                return;
        }
        snprintf(s->fresh_env, sizeof(s->fresh_env), "%s", env->name);
        /* The same event and the same context: the request id too, so that a function that
         * echoes it does not differ for that alone. */
        Invocation *inv = inv_new(s->fn, INVOKE_REQUEST_RESPONSE);
        memcpy(inv->request_id, s->request_id, sizeof(inv->request_id));
        inv->payload = s->payload;
        s->payload = BUF_INIT;
        inv->qualifier = steal_ptr(s->qualifier);
        inv->invoked_arn = steal_ptr(s->invoked_arn);
        inv->client_context = steal_ptr(s->client_context);
        inv->trace_id = steal_ptr(s->trace_id);
        inv->attempt = s->attempt;
        inv->shadow = s;
        env_run(env, inv);
}

/* ---- the finding -------------------------------------------------------------------- */

/* A JSON string of @n bytes that may be anything: invalid UTF-8 becomes U+FFFD. */
static void json_str(Buf *b, const char *p, size_t n) {
        buf_append(b, "\"", 1);
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char) p[i];
                if (c < 0x80) {
                        if (c == '"' || c == '\\')
                                buf_printf(b, "\\%c", c);
                        else if (c == '\n')
                                buf_puts(b, "\\n");
                        else if (c < 0x20 || c == 0x7f)
                                buf_printf(b, "\\u%04x", c);
                        else
                                buf_append(b, &p[i], 1);
                        i++;
                        continue;
                }
                size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
                if (len > 1 && i + len <= n && utf8_valid(p + i, len)) {
                        buf_append(b, p + i, len);
                        i += len;
                } else {
                        buf_puts(b, "\\ufffd");
                        i++;
                }
        }
        buf_append(b, "\"", 1);
}

/* For the log line: one line, control characters as spaces. */
static void flat(Buf *b, const char *s, bool absent) {
        if (absent) {
                buf_puts(b, "(absent)");
                return;
        }
        for (; *s; s++)
                buf_append(b, (unsigned char) *s < 0x20 ? " " : s, 1);
}

static void report(Shadow *s, const char *what) {
        Emulator *e = s->e;
        Function *fn = s->fn;
        const CompareDiff *d = &s->diff;
        Buf f = BUF_INIT, detail = BUF_INIT, line = BUF_INIT;

        buf_printf(&detail, "%s; warm: %s (its invocation %u), fresh: %s", what, s->warm_env,
                   s->warm_nth, s->fresh_env);
        if (d->a_cut || d->b_cut)
                buf_printf(&detail, "; values cut to %d bytes", COMPARE_VALUE_MAX - 1);
        buf_puts(&f, "{\"kind\":\"state_leak\",\"path\":");
        json_str(&f, d->path, strlen(d->path));
        buf_puts(&f, ",\"warm\":");
        if (d->a_absent)
                buf_puts(&f, "null");
        else
                json_str(&f, d->a, strlen(d->a));
        buf_puts(&f, ",\"fresh\":");
        if (d->b_absent)
                buf_puts(&f, "null");
        else
                json_str(&f, d->b, strlen(d->b));
        buf_puts(&f, ",\"detail\":");
        json_str(&f, detail.data, detail.len);
        buf_puts(&f, "}");
        records_add_finding(&e->records, s->seq, f.data);
        metrics_finding(&fn->metrics, "state_leak");
        fn->counters.findings++;

        buf_printf(&line, "lemu: finding state_leak in %s (request %s): at %s the warm answer has ",
                   fn->cfg->name, s->request_id, d->path);
        flat(&line, d->a, d->a_absent);
        buf_puts(&line, ", a fresh environment's ");
        flat(&line, d->b, d->b_absent);
        buf_puts(&line, " (");
        flat(&line, detail.data, false);
        buf_puts(&line, ")\n");
        logs_write(&e->logs, line.data, line.len);
        buf_free(&f);
        buf_free(&detail);
        buf_free(&line);
}

/* ---- the comparison ----------------------------------------------------------------- */

static void compare_work(uv_work_t *req) {
        Shadow *s = req->data;
        size_t n = 0, k = 0;

        while (s->values && s->values[n])
                n++;
        regex_t *rx = n ? xcalloc(n, sizeof(regex_t)) : NULL;
        for (size_t i = 0; i < n; i++)
                if (regcomp(&rx[k], s->values[i], REG_EXTENDED | REG_NOSUB) == 0)
                        k++; /* config validation compiled it already: this does not fail */
        s->result =
                compare_answers(s->warm_body.data, s->warm_body.len, s->fresh_body.data,
                                s->fresh_body.len, (const char *const *) s->paths, rx, k, &s->diff);
        for (size_t i = 0; i < k; i++)
                regfree(&rx[i]);
        free(rx);
}

static void compare_done(uv_work_t *req, int status) {
        Shadow *s = req->data;

        if (status == 0 && s->result == 1 && !s->e->shutting_down)
                report(s, s->diff.what);
        shadow_done(s);
}

/* Success against an error, or two error types: a difference at "$" with both bodies. */
static bool error_types_differ(Shadow *s, char *what, size_t n) {
        if (s->warm_error == s->fresh_error && strcmp(s->warm_type, s->fresh_type) == 0)
                return false;
        if (!s->warm_error)
                snprintf(what, n, "the warm run succeeded, the fresh run failed with %s",
                         s->fresh_type);
        else if (!s->fresh_error)
                snprintf(what, n, "the warm run failed with %s, the fresh run succeeded",
                         s->warm_type);
        else
                snprintf(what, n, "the warm run failed with %s, the fresh run with %s",
                         s->warm_type, s->fresh_type);
        memset(&s->diff, 0, sizeof(s->diff));
        snprintf(s->diff.path, sizeof(s->diff.path), "$");
        s->diff.a_cut = s->warm_body.len >= COMPARE_VALUE_MAX;
        s->diff.b_cut = s->fresh_body.len >= COMPARE_VALUE_MAX;
        snprintf(s->diff.a, sizeof(s->diff.a), "%.*s", (int) (COMPARE_VALUE_MAX - 1),
                 s->warm_body.data ? s->warm_body.data : "");
        snprintf(s->diff.b, sizeof(s->diff.b), "%.*s", (int) (COMPARE_VALUE_MAX - 1),
                 s->fresh_body.data ? s->fresh_body.data : "");
        return true;
}

void shadow_finish(Invocation *inv) {
        Shadow *s = inv->shadow;
        Emulator *e = s->e;
        char what[400];

        inv->finished = true;
        if (e->shutting_down) {
                inv_free(inv);
                shadow_done(s);
                return;
        }
        s->fresh_body = inv->result;
        inv->result = BUF_INIT;
        s->fresh_error = inv->function_error;
        if (inv->function_error)
                snprintf(s->fresh_type, sizeof(s->fresh_type), "%s", inv->error_type);
        inv_free(inv);
        if (error_types_differ(s, what, sizeof(what))) {
                report(s, what);
                shadow_done(s);
                return;
        }
        const CfgLifecycle *lc = &s->fn->cfg->lifecycle;
        s->paths = strv_dup(lc->shadow_ignore_paths);
        s->values = strv_dup(lc->shadow_ignore_values);
        s->work.data = s;
        if (uv_queue_work(e->loop, &s->work, compare_work, compare_done) < 0) {
                compare_work(&s->work);
                compare_done(&s->work, 0);
        }
}
