/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fault catalogue: parsing and checking fault objects, the per-function table with its
 * triggers and seeded generators, and the actions — each giving what Lambda gives when the
 * same thing happens for real (DESIGN "Lifecycle", spec §3.3, §4, §8).
 *
 * Triggers: every Invoke call of a function (retries and shadow runs are not calls) is
 * counted by each fault of its table, which also draws once from its own generator, so that
 * the same seed and the same sequence of calls arm the same faults. A fault armed on a call
 * fires at most once during it, when its phase comes; one whose phase never comes (init on a
 * warm invocation) does not fire and keeps its times for a later call.
 *
 * Actions run from small hooks in sched.c (throttle, duplicate, reclaim, an answer without
 * the handler) and env.c (init, the event's hand-over, the answer, the end of the
 * invocation). An environment has one fault timer: the hold before an event, a crash's
 * after_ms and the oom fallback never overlap, as they belong to successive phases.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "codec.h"
#include "emulator.h"
#include "faults.h"
#include "json-util.h"
#include "macro.h"
#include "xalloc.h"

static const char *const action_names[] = {
        [FAULT_CRASH] = "crash",
        [FAULT_INIT_HANG] = "init_hang",
        [FAULT_DELAY] = "delay",
        [FAULT_TIMEOUT] = "timeout",
        [FAULT_OOM] = "oom",
        [FAULT_RUNTIME_API_ERROR] = "runtime_api_error",
        [FAULT_RUNTIME_API_DROP] = "runtime_api_drop",
        [FAULT_THROTTLE] = "throttle",
        [FAULT_DUPLICATE] = "duplicate",
        [FAULT_ASYNC_FAIL] = "async_fail",
        [FAULT_RECLAIM] = "reclaim",
        [FAULT_LONG_FREEZE] = "long_freeze",
        [FAULT_CLOCK_SKEW] = "clock_skew",
        [FAULT_TMP_FULL] = "tmp_full",
        [FAULT_NOFILE_LIMIT] = "nofile_limit",
        [FAULT_ERROR_RESPONSE] = "error_response",
};

static const char *const phase_names[] = {
        [FAULT_PHASE_INIT] = "init",
        [FAULT_PHASE_INVOKE] = "invoke",
        [FAULT_PHASE_AFTER_RESPONSE] = "after_response",
        [FAULT_PHASE_IDLE] = "idle",
};

#define PH(p) (1u << (p))

/* What each action takes: its parameters, the phases it can fire in, its default phase. */
static const struct {
        const char *params[5];
        unsigned phases;
        FaultPhase def;
} catalogue[] = {
        [FAULT_CRASH] = { { "after_ms" },
                          PH(FAULT_PHASE_INIT) | PH(FAULT_PHASE_INVOKE) |
                                  PH(FAULT_PHASE_AFTER_RESPONSE),
                          FAULT_PHASE_INVOKE },
        [FAULT_INIT_HANG] = { { NULL }, PH(FAULT_PHASE_INIT), FAULT_PHASE_INIT },
        [FAULT_DELAY] = { { "ms" }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_TIMEOUT] = { { NULL }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_OOM] = { { NULL }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_RUNTIME_API_ERROR] = { { "status", "endpoint" },
                                      PH(FAULT_PHASE_INVOKE),
                                      FAULT_PHASE_INVOKE },
        [FAULT_RUNTIME_API_DROP] = { { "endpoint" }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_THROTTLE] = { { "reason" }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_DUPLICATE] = { { NULL }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_ASYNC_FAIL] = { { "attempts", "error_type", "error_message" },
                               PH(FAULT_PHASE_INVOKE),
                               FAULT_PHASE_INVOKE },
        [FAULT_RECLAIM] = { { NULL }, PH(FAULT_PHASE_IDLE), FAULT_PHASE_IDLE },
        [FAULT_LONG_FREEZE] = { { "ms" }, PH(FAULT_PHASE_IDLE), FAULT_PHASE_IDLE },
        [FAULT_CLOCK_SKEW] = { { "ms" }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_TMP_FULL] = { { NULL }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_NOFILE_LIMIT] = { { "n" }, PH(FAULT_PHASE_INVOKE), FAULT_PHASE_INVOKE },
        [FAULT_ERROR_RESPONSE] = { { "error_type", "error_message", "body", "run_handler" },
                                   PH(FAULT_PHASE_INVOKE),
                                   FAULT_PHASE_INVOKE },
};

#define MS_MAX       900000.0 /* 15 minutes, Lambda's longest timeout */
#define OOM_GRACE_MS 200      /* v2: how long the kernel's OOM kill may take before ours */

const char *fault_action_name(FaultAction a) {
        return a >= 0 && a < _FAULT_ACTION_MAX ? action_names[a] : "unknown";
}

const char *fault_phase_name(FaultPhase p) {
        return p >= 0 && p < _FAULT_PHASE_MAX ? phase_names[p] : "unknown";
}

/* ---- parsing -------------------------------------------------------------------------- */

static int perr(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int perr(char *err, size_t n, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

static int lookup(const char *const *names, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcmp(names[i], s) == 0)
                        return (int) i;
        return -1;
}

static void list_names(const char *const *names, size_t n, unsigned mask, char *out, size_t on) {
        size_t k = 0;

        out[0] = '\0';
        for (size_t i = 0; i < n; i++)
                if (mask & (1u << i))
                        k += (size_t) snprintf(out + k, k < on ? on - k : 0, "%s%s", k ? ", " : "",
                                               names[i]);
}

static bool valid_id(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > FAULT_ID_MAX)
                return false;
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
                        return false;
        return true;
}

/* A whole number in [min, max] at @key. */
static int get_count(const cJSON *v, const char *key, double min, double max, uint64_t *ret,
                     char *err, size_t n) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < min ||
            v->valuedouble > max)
                return perr(err, n, "%s: expected a whole number from %.0f to %.0f, got %s%s", key,
                            min, max, cJSON_IsNumber(v) ? "" : json_kind(v),
                            cJSON_IsNumber(v) ? "another number" : "");
        *ret = (uint64_t) v->valuedouble;
        return 0;
}

static int get_ms(const cJSON *v, const char *key, double min, double *ret, char *err, size_t n) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= min) || v->valuedouble > MS_MAX)
                return perr(err, n, "%s: expected milliseconds from %.0f to %.0f, got %s", key, min,
                            MS_MAX, cJSON_IsNumber(v) ? "a number out of range" : json_kind(v));
        *ret = v->valuedouble;
        return 0;
}

static int get_text(const cJSON *v, const char *key, size_t max, char **ret, char *err, size_t n) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) == 0 || strlen(v->valuestring) > max)
                return perr(err, n, "%s: expected a non-empty string of at most %zu bytes, got %s",
                            key, max, cJSON_IsString(v) ? "another string" : json_kind(v));
        free(*ret);
        *ret = xstrdup(v->valuestring);
        return 0;
}

static int parse_when(Fault *f, const cJSON *when, char *err, size_t n) {
        const cJSON *k;
        uint64_t u;
        int r;

        if (!cJSON_IsObject(when))
                return perr(err, n, "when: expected an object, got %s", json_kind(when));
        cJSON_ArrayForEach (k, when) {
                if (strcmp(k->string, "invocation") == 0) {
                        r = get_count(k, "when.invocation", 1, 9007199254740992.0, &u, err, n);
                        f->invocation = u;
                } else if (strcmp(k->string, "every") == 0) {
                        r = get_count(k, "when.every", 1, 9007199254740992.0, &u, err, n);
                        f->every = u;
                } else if (strcmp(k->string, "probability") == 0) {
                        if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0) || k->valuedouble > 1)
                                return perr(err, n,
                                            "when.probability: expected a number from 0 to 1, "
                                            "got %s",
                                            cJSON_IsNumber(k) ? "a number out of range"
                                                              : json_kind(k));
                        f->probability = k->valuedouble;
                        r = 0;
                } else if (strcmp(k->string, "phase") == 0) {
                        int p = cJSON_IsString(k)
                                        ? lookup(phase_names, _FAULT_PHASE_MAX, k->valuestring)
                                        : -1;
                        char names[128];
                        list_names(phase_names, _FAULT_PHASE_MAX, catalogue[f->action].phases,
                                   names, sizeof(names));
                        if (p < 0 || !(catalogue[f->action].phases & PH(p)))
                                return perr(err, n, "when.phase: %s fires in %s, got %s%s%s",
                                            action_names[f->action], names,
                                            cJSON_IsString(k) ? "'" : "",
                                            cJSON_IsString(k) ? k->valuestring : json_kind(k),
                                            cJSON_IsString(k) ? "'" : "");
                        f->phase = (FaultPhase) p;
                        r = 0;
                } else {
                        return perr(err, n,
                                    "when: unknown key '%s' (keys: invocation, every, "
                                    "probability, phase)",
                                    k->string);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool takes(FaultAction a, const char *key) {
        for (size_t i = 0; i < ARRAY_SIZE(catalogue[a].params) && catalogue[a].params[i]; i++)
                if (strcmp(catalogue[a].params[i], key) == 0)
                        return true;
        return false;
}

static int parse_param(Fault *f, const cJSON *k, char *err, size_t n) {
        const char *key = k->string;
        uint64_t u;
        int r;

        if (strcmp(key, "ms") == 0)
                return get_ms(k, "ms", f->action == FAULT_CLOCK_SKEW ? -MS_MAX : 0, &f->ms, err, n);
        if (strcmp(key, "after_ms") == 0)
                return get_ms(k, "after_ms", 0, &f->ms, err, n);
        if (strcmp(key, "status") == 0) {
                r = get_count(k, "status", 400, 599, &u, err, n);
                f->status = (int) u;
                return r;
        }
        if (strcmp(key, "endpoint") == 0) {
                static const char *const eps[] = { "next", "response" };
                int e = cJSON_IsString(k) ? lookup(eps, 2, k->valuestring) : -1;
                if (e < 0)
                        return perr(err, n, "endpoint: expected 'next' or 'response', got %s",
                                    cJSON_IsString(k) ? "another string" : json_kind(k));
                f->endpoint = (FaultEndpoint) e;
                return 0;
        }
        if (strcmp(key, "reason") == 0)
                return get_text(k, "reason", 128, &f->reason, err, n);
        if (strcmp(key, "attempts") == 0) {
                r = get_count(k, "attempts", 1, 1000, &u, err, n);
                f->attempts = (unsigned) u;
                return r;
        }
        if (strcmp(key, "n") == 0) {
                r = get_count(k, "n", 0, 1048576, &u, err, n);
                f->n = (unsigned) u;
                return r;
        }
        if (strcmp(key, "error_type") == 0)
                return get_text(k, "error_type", 127, &f->error_type, err, n);
        if (strcmp(key, "error_message") == 0)
                return get_text(k, "error_message", 4096, &f->error_message, err, n);
        if (strcmp(key, "body") == 0) {
                char *s = cJSON_PrintUnformatted(k);
                free(f->body);
                f->body = xstrdup(s);
                cJSON_free(s);
                if (strlen(f->body) > 1024 * 1024)
                        return perr(err, n, "body: at most 1 MiB of JSON");
                return 0;
        }
        if (strcmp(key, "run_handler") == 0) {
                if (!cJSON_IsBool(k))
                        return perr(err, n, "run_handler: expected true or false, got %s",
                                    json_kind(k));
                f->run_handler = cJSON_IsTrue(k);
                return 0;
        }
        return perr(err, n, "unknown key '%s'", key);
}

static int parse_object(Fault *f, const cJSON *o, char *err, size_t n) {
        const cJSON *k, *action = cJSON_GetObjectItemCaseSensitive(o, "action");
        bool need_ms = false;
        int r;

        if (!cJSON_IsObject(o))
                return perr(err, n, "expected a fault object, got %s", json_kind(o));
        if (!action)
                return perr(err, n,
                            "action: missing (one of crash, init_hang, delay, timeout, "
                            "oom, runtime_api_error, runtime_api_drop, throttle, "
                            "duplicate, async_fail, reclaim, long_freeze, clock_skew, "
                            "tmp_full, nofile_limit, error_response)");
        int a = cJSON_IsString(action)
                        ? lookup(action_names, _FAULT_ACTION_MAX, action->valuestring)
                        : -1;
        if (a < 0)
                return perr(err, n,
                            "action: expected one of crash, init_hang, delay, timeout, oom, "
                            "runtime_api_error, runtime_api_drop, throttle, duplicate, "
                            "async_fail, reclaim, long_freeze, clock_skew, tmp_full, "
                            "nofile_limit, error_response, got %s%s%s",
                            cJSON_IsString(action) ? "'" : "",
                            cJSON_IsString(action) ? action->valuestring : json_kind(action),
                            cJSON_IsString(action) ? "'" : "");
        f->action = (FaultAction) a;
        f->phase = catalogue[a].def;
        f->probability = -1;
        f->times = -2; /* not given */
        f->status = 500;
        f->attempts = 1;
        need_ms = a == FAULT_DELAY || a == FAULT_LONG_FREEZE || a == FAULT_CLOCK_SKEW;
        bool has_ms = false;
        cJSON_ArrayForEach (k, o) {
                if (strcmp(k->string, "action") == 0)
                        continue;
                if (strcmp(k->string, "id") == 0) {
                        if (!cJSON_IsString(k) || !valid_id(k->valuestring))
                                return perr(err, n,
                                            "id: expected 1 to %d letters, digits, '-', '_' or "
                                            "'.', got %s",
                                            FAULT_ID_MAX,
                                            cJSON_IsString(k) ? "another string" : json_kind(k));
                        snprintf(f->id, sizeof(f->id), "%s", k->valuestring);
                        continue;
                }
                if (strcmp(k->string, "when") == 0) {
                        r = parse_when(f, k, err, n);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (strcmp(k->string, "times") == 0) {
                        uint64_t u;
                        if (cJSON_IsNull(k)) {
                                f->times = -1;
                                continue;
                        }
                        r = get_count(k, "times", 1, 9007199254740992.0, &u, err, n);
                        if (r < 0)
                                return r;
                        f->times = (int64_t) u;
                        continue;
                }
                if (!takes(f->action, k->string)) {
                        char names[128] = "";
                        size_t w = 0;
                        for (size_t i = 0;
                             i < ARRAY_SIZE(catalogue[a].params) && catalogue[a].params[i]; i++)
                                w += (size_t) snprintf(names + w, sizeof(names) - w, "%s%s",
                                                       w ? ", " : "", catalogue[a].params[i]);
                        return perr(err, n, "unknown key '%s' for %s (it takes %s)", k->string,
                                    action_names[a], w ? names : "no parameters");
                }
                r = parse_param(f, k, err, n);
                if (r < 0)
                        return r;
                has_ms = has_ms || strcmp(k->string, "ms") == 0;
        }
        if (need_ms && !has_ms)
                return perr(err, n, "ms: missing (%s needs it)", action_names[a]);
        if (f->body && (f->error_type || f->error_message))
                return perr(err, n,
                            "body: give either body (the answer) or error_type/error_message");
        if (f->times == -2)
                f->times = f->invocation ? 1 : -1;
        return 0;
}

static Fault *fault_free(Fault *f) {
        if (!f)
                return NULL;
        free(f->reason);
        free(f->error_type);
        free(f->error_message);
        free(f->body);
        free(f->json);
        free(f);
        return NULL;
}

int fault_parse(const char *text, size_t len, Fault **ret, char *err, size_t errn) {
        const char *end = NULL;
        cJSON *o = cJSON_ParseWithLengthOpts(text, len, &end, false);

        if (!o)
                return perr(err, errn, "not valid JSON");
        Fault *f = xcalloc(1, sizeof(*f));
        f->refs = 1;
        int r = parse_object(f, o, err, errn);
        if (r < 0) {
                cJSON_Delete(o);
                fault_free(f);
                return r;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
        char *s = cJSON_PrintUnformatted(o);
        f->json = xstrdup(s); /* without its id: the table puts the final one in front */
        cJSON_free(s);
        cJSON_Delete(o);
        *ret = f;
        return 0;
}

Fault *fault_ref(Fault *f) {
        f->refs++;
        return f;
}

Fault *fault_unref(Fault *f) {
        if (f && --f->refs == 0)
                fault_free(f);
        return NULL;
}

/* ---- the table ------------------------------------------------------------------------ */

/* splitmix64, as the scheduler's: one stream per fault, from the seed and the fault's id. */
static uint64_t next_random(uint64_t *state) {
        uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

void fault_table_init(FaultTable *t, uint64_t seed) {
        memset(t, 0, sizeof(*t));
        t->seed = seed;
}

void fault_table_deinit(FaultTable *t) {
        fault_table_clear(t);
        free(t->v);
        t->v = NULL;
}

static Fault *table_find(const FaultTable *t, const char *id) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i]->id, id) == 0)
                        return t->v[i];
        return NULL;
}

int fault_table_add(FaultTable *t, Fault *f, char *err, size_t errn) {
        if (!f->id[0]) {
                do
                        snprintf(f->id, sizeof(f->id), "%s-%u", action_names[f->action],
                                 ++t->next_auto);
                while (table_find(t, f->id));
        } else if (table_find(t, f->id)) {
                snprintf(err, errn, "id: a fault with id '%s' is already set", f->id);
                fault_unref(f);
                return -EEXIST;
        }
        uint64_t h = 1469598103934665603ull;
        for (const char *p = f->id; *p; p++)
                h = (h ^ (unsigned char) *p) * 1099511628211ull;
        f->rng = t->seed ^ h;
        f->seen = f->fired = 0;
        t->v = xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
        t->v[t->n++] = f;
        return 0;
}

int fault_table_load(FaultTable *t, const char *json, char *err, size_t errn) {
        cJSON *arr = json ? cJSON_Parse(json) : NULL;
        const cJSON *e;
        size_t i = 0;
        char why[512];

        if (!json)
                return 0;
        if (!cJSON_IsArray(arr)) {
                cJSON_Delete(arr);
                return perr(err, errn, "faults: expected an array of fault objects");
        }
        cJSON_ArrayForEach (e, arr) {
                char *s = cJSON_PrintUnformatted(e);
                Fault *f;
                int r = fault_parse(s, strlen(s), &f, why, sizeof(why));
                cJSON_free(s);
                if (r == 0)
                        r = fault_table_add(t, f, why, sizeof(why));
                if (r < 0) {
                        snprintf(err, errn, "faults[%zu]: %s", i, why);
                        cJSON_Delete(arr);
                        return r;
                }
                i++;
        }
        cJSON_Delete(arr);
        return 0;
}

static void table_drop(FaultTable *t, size_t i) {
        Fault *f = t->v[i];

        f->removed = true;
        fault_unref(f);
        memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
        t->n--;
}

int fault_table_remove(FaultTable *t, const char *id) {
        for (size_t i = 0; i < t->n; i++)
                if (strcmp(t->v[i]->id, id) == 0) {
                        table_drop(t, i);
                        return 0;
                }
        return -ENOENT;
}

size_t fault_table_clear(FaultTable *t) {
        size_t n = t->n;

        while (t->n)
                table_drop(t, t->n - 1);
        return n;
}

void fault_table_json(const FaultTable *t, Buf *out) {
        buf_puts(out, "{\"faults\":[");
        for (size_t i = 0; i < t->n; i++) {
                const Fault *f = t->v[i];
                buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
                buf_put_json_str(out, f->id, strlen(f->id));
                /* The object as given after its id: "{...}" without its opening brace. */
                if (strlen(f->json) > 2)
                        buf_printf(out, ",%s", f->json + 1);
                else
                        buf_puts(out, "}");
                out->len--; /* reopen it for the counters */
                buf_printf(out, ",\"invocations\":%llu,\"fired\":%llu}",
                           (unsigned long long) f->seen, (unsigned long long) f->fired);
        }
        buf_puts(out, "]}");
}

static bool times_left(const Fault *f) {
        return !f->removed && (f->times < 0 || f->fired < (uint64_t) f->times);
}

FaultArmed *fault_table_arm(FaultTable *t) {
        FaultArmed *a = NULL;

        for (size_t i = 0; i < t->n; i++) {
                Fault *f = t->v[i];
                uint64_t c = ++f->seen;
                /* Drawn on every call, matched or not: the stream does not depend on the
                 * other keys, so changing one leaves the rest of the sequence alone. */
                double u = (double) (next_random(&f->rng) >> 11) / (double) (1ull << 53);
                bool match = times_left(f);
                if (f->invocation)
                        match = match && c >= f->invocation;
                if (f->every)
                        match = match && c % f->every == 0;
                if (f->probability >= 0)
                        match = match && u < f->probability;
                if (!match)
                        continue;
                if (!a) {
                        a = xcalloc(1, sizeof(*a));
                        a->fill_fd = -1;
                }
                if (a->n == 32)
                        break; /* one bit each in `fired` */
                a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
                a->v[a->n++] = fault_ref(f);
        }
        return a;
}

void fault_armed_free(FaultArmed *a) {
        if (!a)
                return;
        for (size_t i = 0; i < a->n; i++)
                fault_unref(a->v[i]);
        if (a->fill_fd >= 0)
                close(a->fill_fd);
        free(a->v);
        free(a);
}

/* ---- firing --------------------------------------------------------------------------- */

/* The armed fault of @action (and @phase when >= 0) that has not fired, or -1. */
static int armed(const Invocation *inv, FaultAction action, int phase) {
        const FaultArmed *a = inv ? inv->armed : NULL;

        for (size_t i = 0; a && i < a->n; i++)
                if (a->v[i]->action == action && (phase < 0 || (int) a->v[i]->phase == phase) &&
                    !(a->fired & (1u << i)) && times_left(a->v[i]))
                        return (int) i;
        return -1;
}

static void note(Invocation *inv, ExecEnv *env, const char *text) {
        Emulator *e = inv->emu;

        if (env) {
                logs_platform_note(&e->logs, env, inv, text);
                return;
        }
        logs_keep(inv, text, strlen(text));
        char *line = xasprintf("[%s] %s\n", inv->fn->cfg->name, text);
        logs_write(&e->logs, line, strlen(line));
        free(line);
}

/* Writes fault @f into @inv's record and the log (with @detail). */
static void record(Invocation *inv, ExecEnv *env, const Fault *f, const char *detail) {
        Buf b = BUF_INIT;
        char text[512];

        if (inv->faults_json && strlen(inv->faults_json) > 2)
                buf_printf(&b, "%.*s,", (int) strlen(inv->faults_json) - 1, inv->faults_json);
        else
                buf_puts(&b, "[");
        buf_puts(&b, "{\"id\":");
        buf_put_json_str(&b, f->id, strlen(f->id));
        buf_printf(&b, ",\"action\":\"%s\",\"phase\":\"%s\"}]", action_names[f->action],
                   phase_names[f->phase]);
        free(inv->faults_json);
        inv->faults_json = buf_steal(&b, NULL);
        snprintf(text, sizeof(text), "lemu: fault '%s' (%s, phase %s) fired on RequestId: %s%s%s",
                 f->id, action_names[f->action], phase_names[f->phase], inv->request_id,
                 detail ? ": " : "", detail ? detail : "");
        note(inv, env, text);
}

/* Marks fault @i of @inv fired: counted against its times, recorded, logged. */
static Fault *fire(Invocation *inv, ExecEnv *env, int i, const char *detail) {
        FaultArmed *a = inv->armed;
        Fault *f = a->v[i];

        a->fired |= 1u << i;
        f->fired++;
        record(inv, env, f, detail);
        return f;
}

/* Kills every process of @env as the kernel would: it died on its own, so exit_cb() says
 * what the caller gets (Runtime.ExitError, or Runtime.OutOfMemory with rss_oom). */
static void kill_env(ExecEnv *env, bool oom) {
        if (!env->proc_alive || env->killing)
                return;
        env->rss_oom = oom;
        if (env->has_cg)
                cg_kill(&env->cg);
        kill(-env->proc.pid, SIGKILL);
        uv_process_kill(&env->proc, SIGKILL);
}

void fault_arm(Invocation *inv) {
        fault_armed_free(inv->armed);
        inv->armed = fault_table_arm(&inv->fn->faults);
}

Invocation *fault_duplicate(Invocation *inv) {
        int i = inv->type == INVOKE_EVENT ? armed(inv, FAULT_DUPLICATE, -1) : -1;

        if (i < 0)
                return NULL;
        Invocation *twin = inv_new(inv->fn, INVOKE_EVENT);
        memcpy(twin->request_id, inv->request_id, sizeof(twin->request_id));
        buf_append(&twin->payload, inv->payload.data ? inv->payload.data : "", inv->payload.len);
        twin->qualifier = inv->qualifier ? xstrdup(inv->qualifier) : NULL;
        twin->invoked_arn = xstrdup(inv->invoked_arn);
        twin->client_context = inv->client_context ? xstrdup(inv->client_context) : NULL;
        twin->trace_id = inv->trace_id ? xstrdup(inv->trace_id) : NULL;
        twin->accepted_ms = inv->accepted_ms;
        /* The twin's record says it was injected; the original's is an ordinary one. */
        twin->armed = xcalloc(1, sizeof(*twin->armed));
        twin->armed->fill_fd = -1;
        twin->armed->v = xmalloc(sizeof(Fault *));
        twin->armed->v[0] = fault_ref(inv->armed->v[i]);
        twin->armed->n = 1;
        inv->armed->fired |= 1u << i;
        fire(twin, NULL, 0, "the event is delivered a second time with the same request id");
        return twin;
}

const char *fault_throttle(Invocation *inv) {
        int i = inv->attempt == 1 ? armed(inv, FAULT_THROTTLE, -1) : -1;

        if (i < 0)
                return NULL;
        Fault *f = fire(inv, NULL, i, NULL);
        return f->reason ? f->reason : "ReservedFunctionConcurrentInvocationLimitExceeded";
}

/* The injected error body: {"errorMessage","errorType"} as a runtime's /error gives it. */
static void error_body(Invocation *inv, const Fault *f, const char *def_type) {
        char msg[160];
        const char *type = f->error_type ? f->error_type : def_type;

        buf_reset(&inv->result);
        snprintf(msg, sizeof(msg), "lemu injected this error (fault '%s')", f->id);
        buf_puts(&inv->result, "{\"errorMessage\":");
        const char *message = f->error_message ? f->error_message : msg;
        buf_put_json_str(&inv->result, message, strlen(message));
        buf_puts(&inv->result, ",\"errorType\":");
        buf_put_json_str(&inv->result, type, strlen(type));
        buf_puts(&inv->result, "}");
        snprintf(inv->error_type, sizeof(inv->error_type), "%s", type);
        snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
        inv->status = INV_ERROR;
        inv->function_error = true;
}

/* error_response's answer: @f->body as a success, else a function error. */
static void replace_answer(Invocation *inv, const Fault *f) {
        if (f->body) {
                buf_reset(&inv->result);
                buf_puts(&inv->result, f->body);
                snprintf(inv->content_type, sizeof(inv->content_type), "application/json");
                inv->error_type[0] = '\0';
                inv->status = INV_SUCCESS;
                inv->function_error = false;
                return;
        }
        error_body(inv, f, "Lemu.InjectedError");
}

bool fault_answer_now(Invocation *inv) {
        int i = inv->attempt == 1 ? armed(inv, FAULT_ERROR_RESPONSE, -1) : -1;

        if (i < 0 || inv->armed->v[i]->run_handler)
                return false;
        Fault *f = fire(inv, NULL, i, "answered without running the handler");
        replace_answer(inv, f);
        return true;
}

bool fault_reclaim(Invocation *inv, ExecEnv *env) {
        /* In Managed Instances mode an "idle" environment may be running other invocations. */
        int i = inv->attempt == 1 && env->fn->cfg->per_environment_concurrency <= 1
                        ? armed(inv, FAULT_RECLAIM, -1)
                        : -1;
        char detail[160];

        if (i < 0)
                return false;
        snprintf(detail, sizeof(detail),
                 "idle environment %s ended; this invocation goes to "
                 "another, cold",
                 env->name);
        fire(inv, NULL, i, detail);
        env_shutdown(env);
        return true;
}

/* ---- init ----------------------------------------------------------------------------- */

static void init_crash_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->state == ENV_INITIALIZING && env->inv)
                kill_env(env, false);
}

void fault_init_started(ExecEnv *env) {
        Invocation *inv = env->inv;
        int i = inv && inv->attempt == 1 ? armed(inv, FAULT_CRASH, FAULT_PHASE_INIT) : -1;

        if (i < 0)
                return;
        Fault *f = fire(inv, env, i, "the environment is killed during init");
        uv_timer_start(&env->fault_timer, init_crash_cb, (uint64_t) llround(f->ms), 0);
}

bool fault_init_hangs(ExecEnv *env) {
        Invocation *inv = env->inv;
        FaultArmed *a = inv ? inv->armed : NULL;

        if (!a || inv->attempt != 1)
                return false;
        for (size_t k = 0; k < a->n; k++)
                if (a->v[k]->action == FAULT_INIT_HANG && (a->fired & (1u << k)))
                        return true; /* the suppressed init hangs too */
        int i = armed(inv, FAULT_INIT_HANG, -1);
        if (i < 0)
                return false;
        fire(inv, env, i, "init is held past its timeout");
        return true;
}

/* ---- holds before the event ------------------------------------------------------------ */

static void hold_done_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->inv && env->state == ENV_IDLE)
                env_deliver(env);
}

typedef struct FillWork {
        uv_work_t req;
        Function *fn;
        unsigned env_id;
        char request_id[37];
        char path[64];
        int fd;
        int err;
        uint64_t bytes;
} FillWork;

/* Off the loop: an unnamed file in the environment's /tmp, allocated to the last block. It
 * stays allocated while lemu holds it open; closing it gives the space back. */
static void fill_work(uv_work_t *req) {
        FillWork *w = container_of(req, FillWork, req);
        struct statvfs sv;

        w->fd = open(w->path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (w->fd < 0 || fstatvfs(w->fd, &sv) < 0) {
                w->err = errno;
                return;
        }
        uint64_t chunk = (uint64_t) sv.f_bfree * sv.f_frsize;
        off_t off = 0;
        while (chunk >= 4096) {
                if (fallocate(w->fd, 0, off, (off_t) chunk) == 0) {
                        off += (off_t) chunk;
                } else if (errno == ENOSPC || errno == EFBIG) {
                        chunk /= 2;
                } else {
                        w->err = errno;
                        break;
                }
        }
        w->bytes = (uint64_t) off;
}

static ExecEnv *find_env(Function *fn, unsigned id) {
        ListNode *it;

        LIST_FOREACH (it, &fn->envs) {
                ExecEnv *env = container_of(it, ExecEnv, link);
                if (env->id == id)
                        return env;
        }
        return NULL;
}

static void fill_done(uv_work_t *req, int status) {
        FillWork *w = container_of(req, FillWork, req);
        ExecEnv *env = find_env(w->fn, w->env_id);
        Invocation *inv = env ? env->inv : NULL;

        if (inv && env->state == ENV_IDLE && strcmp(inv->request_id, w->request_id) == 0 &&
            inv->armed) {
                char text[256];
                if (w->err) {
                        snprintf(text, sizeof(text), "lemu: tmp_full could not fill %s: %s",
                                 w->path, strerror(w->err));
                        logs_platform_note(&env->emu->logs, env, inv, text);
                }
                if (w->fd >= 0)
                        inv->armed->fill_fd = w->fd;
                env_deliver(env);
        } else if (w->fd >= 0) {
                close(w->fd);
        }
        free(w);
}

static bool start_fill(ExecEnv *env, Invocation *inv, int i) {
        pid_t pid = env->runtime_pid > 0 ? env->runtime_pid : env->proc.pid;

        if (env->fn->iso.tmp.mode == SBX_TMP_DIR || !env->proc_alive) {
                /* A plain folder has no cap to fill up to: filling it would fill the host's
                 * disk. Said in the log; the fault does not fire. */
                inv->armed->fired |= 1u << i;
                logs_platform_note(&env->emu->logs, env, inv,
                                   "lemu: fault tmp_full not fired: this function's /tmp is a "
                                   "folder whose cap is not enforced (sandbox.tmp dir)");
                return false;
        }
        FillWork *w = xcalloc(1, sizeof(*w));
        w->fn = env->fn;
        w->env_id = env->id;
        w->fd = -1;
        memcpy(w->request_id, inv->request_id, sizeof(w->request_id));
        snprintf(w->path, sizeof(w->path), "/proc/%d/root/tmp", (int) pid);
        if (uv_queue_work(env->emu->loop, &w->req, fill_work, fill_done) < 0) {
                free(w);
                return false;
        }
        fire(inv, env, i, "/tmp is filled to its cap");
        return true;
}

static bool lower_nofile(ExecEnv *env, Invocation *inv, int i);

bool fault_hold(ExecEnv *env, Invocation *inv) {
        int i;

        if (env->nofile_restoring) {
                env->nofile_waiting = true; /* restore_done() delivers it */
                return true;
        }
        if (!inv->armed || inv->attempt != 1)
                return false;
        if (!inv->cold && (i = armed(inv, FAULT_LONG_FREEZE, -1)) >= 0) {
                /* Idle time: the environment stays frozen, the invocation's clock is not yet
                 * running (it restarts at the hand-over). */
                Fault *f = fire(inv, env, i, "the environment stays frozen before its event");
                uv_timer_stop(&inv->timer);
                inv->armed->hold_clock = false;
                env_force_freeze(env);
                uv_timer_start(&env->fault_timer, hold_done_cb, (uint64_t) llround(f->ms), 0);
                return true;
        }
        if ((i = armed(inv, FAULT_DELAY, -1)) >= 0) {
                /* The deadline counts from the invoke's start: the clock keeps running. */
                Fault *f = fire(inv, env, i, "the event is held before it is handed over");
                inv->armed->hold_clock = true;
                uv_timer_start(&env->fault_timer, hold_done_cb, (uint64_t) llround(f->ms), 0);
                return true;
        }
        if ((i = armed(inv, FAULT_TMP_FULL, -1)) >= 0 && start_fill(env, inv, i)) {
                inv->armed->hold_clock = true;
                return true;
        }
        if ((i = armed(inv, FAULT_NOFILE_LIMIT, -1)) >= 0 && lower_nofile(env, inv, i)) {
                inv->armed->hold_clock = true;
                return true;
        }
        return false;
}

bool fault_clock_kept(const Invocation *inv) {
        return inv->armed && inv->armed->hold_clock;
}

/* ---- the event ------------------------------------------------------------------------ */

static int count_fds(pid_t pid) {
        char path[64];
        int n = 0;
        struct dirent *d;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        DIR *dir = opendir(path);
        if (!dir)
                return -errno;
        while ((d = readdir(dir)))
                n += d->d_name[0] != '.';
        closedir(dir);
        return n;
}

/* The open-file limits of @pid from /proc/PID/limits, which anyone may read. */
static int read_nofile(pid_t pid, uint64_t *ret_soft, uint64_t *ret_hard) {
        char path[64], line[256];
        unsigned long long soft, hard;
        int r = -ENOENT;

        snprintf(path, sizeof(path), "/proc/%d/limits", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Max open files", 14) == 0 &&
                    sscanf(line + 14, "%llu %llu", &soft, &hard) == 2) {
                        *ret_soft = soft;
                        *ret_hard = hard;
                        r = 0;
                }
        fclose(f);
        return r;
}

/*
 * prlimit(2) on another user's process needs CAP_SYS_RESOURCE. Without it (a container
 * that drops it), the limit is set by util-linux's prlimit run as the function's own user,
 * which the kernel lets change its own processes' limits below their hard limit.
 */
typedef struct PrlimitRun {
        uv_process_t proc;
        Function *fn;
        unsigned env_id;
        char request_id[37];
        bool hold;    /* the event waits for it */
        bool restore; /* it puts the old limit back */
        int fault;    /* the armed fault it fires */
        pid_t pid;
        uint64_t limit, old;
        int open;
} PrlimitRun;

static void prlimit_closed(uv_handle_t *h) {
        free(h->data);
}

static void nofile_set(ExecEnv *env, Invocation *inv, int i, pid_t pid, uint64_t limit,
                       uint64_t old, int open) {
        char detail[160];

        inv->armed->nofile_set = true;
        inv->armed->nofile_pid = pid;
        inv->armed->nofile_cur = old;
        snprintf(detail, sizeof(detail), "the runtime's open-file limit is %llu (%d open)",
                 (unsigned long long) limit, open);
        fire(inv, env, i, detail);
}

static void nofile_failed(ExecEnv *env, Invocation *inv, int i, const char *why) {
        char text[256];

        inv->armed->fired |= 1u << i;
        snprintf(text, sizeof(text), "lemu: fault nofile_limit not fired: %s", why);
        logs_platform_note(&env->emu->logs, env, inv, text);
}

/* The limit is back: an event that waited for it goes. */
static void restore_done(PrlimitRun *run) {
        ExecEnv *env = find_env(run->fn, run->env_id);

        if (!env)
                return;
        env->nofile_restoring = false;
        if (env->nofile_waiting) {
                env->nofile_waiting = false;
                if (env->state == ENV_IDLE && env->inv && !env->inv->event.request_id)
                        env_deliver(env);
        }
}

static void prlimit_exited(uv_process_t *p, int64_t status, int sig) {
        PrlimitRun *run = p->data;

        if (run->restore) {
                restore_done(run);
                uv_close((uv_handle_t *) p, prlimit_closed);
                return;
        }
        ExecEnv *env = run->hold ? find_env(run->fn, run->env_id) : NULL;
        Invocation *inv = env ? env->inv : NULL;

        if (inv && inv->armed && env->state == ENV_IDLE &&
            strcmp(inv->request_id, run->request_id) == 0) {
                if (status == 0 && sig == 0) {
                        nofile_set(env, inv, run->fault, run->pid, run->limit, run->old, run->open);
                } else {
                        char why[96];
                        snprintf(why, sizeof(why), "prlimit exited with status %d, signal %d",
                                 (int) status, sig);
                        nofile_failed(env, inv, run->fault, why);
                }
                env_deliver(env);
        }
        uv_close((uv_handle_t *) p, prlimit_closed);
}

/* Starts prlimit as the function's user; @run is taken over. Return: 0 or a negative errno. */
static int spawn_prlimit(Function *fn, PrlimitRun *run, uint64_t soft, uint64_t hard) {
        char pid[24], lim[64];
        const char *prog = access("/usr/bin/prlimit", X_OK) == 0 ? "/usr/bin/prlimit" : "prlimit";
        char *args[] = { (char *) prog, (char *) "--pid", pid, lim, NULL };
        uv_stdio_container_t stdio[3] = { { .flags = UV_IGNORE },
                                          { .flags = UV_IGNORE },
                                          { .flags = UV_IGNORE } };
        uv_process_options_t o = {
                .file = prog,
                .args = args,
                .exit_cb = prlimit_exited,
                .stdio_count = 3,
                .stdio = stdio,
                .flags = UV_PROCESS_SETUID | UV_PROCESS_SETGID,
                .uid = fn->iso.uid,
                .gid = fn->iso.gid,
        };

        snprintf(pid, sizeof(pid), "%d", (int) run->pid);
        snprintf(lim, sizeof(lim), "--nofile=%llu:%llu", (unsigned long long) soft,
                 (unsigned long long) hard);
        run->fn = fn;
        run->proc.data = run;
        int r = uv_spawn(fn->emu->loop, &run->proc, &o);
        if (r < 0) {
                uv_close((uv_handle_t *) &run->proc, prlimit_closed);
                return r;
        }
        return 0;
}

/* Sets @pid's soft limit. Return: 0 done (@run freed), 1 prlimit runs (@run taken over),
 * or a negative errno (@run freed). */
static int set_nofile(Function *fn, pid_t pid, uint64_t soft, uint64_t hard, PrlimitRun *run) {
        struct rlimit lim = { .rlim_cur = (rlim_t) soft, .rlim_max = (rlim_t) hard };

        if (prlimit(pid, RLIMIT_NOFILE, &lim, NULL) == 0) {
                free(run);
                return 0;
        }
        if (errno != EPERM || fn->iso.uid == (uid_t) -1) {
                int e = -errno;
                free(run);
                return e;
        }
        run->pid = pid;
        int r = spawn_prlimit(fn, run, soft, hard);
        return r < 0 ? r : 1;
}

/* nofile_limit: true when the event waits for prlimit. */
static bool lower_nofile(ExecEnv *env, Invocation *inv, int i) {
        pid_t pid = env->runtime_pid;
        uint64_t soft, hard;
        char why[160];
        int n = pid > 0 ? count_fds(pid) : -ESRCH;
        int r = n < 0 ? n : read_nofile(pid, &soft, &hard);

        if (r < 0) {
                snprintf(why, sizeof(why), "cannot read the runtime's descriptors: %s",
                         strerror(-r));
                nofile_failed(env, inv, i, why);
                return false;
        }
        uint64_t limit = MIN((uint64_t) n + inv->armed->v[i]->n, soft);
        PrlimitRun *run = xcalloc(1, sizeof(*run));
        run->env_id = env->id;
        memcpy(run->request_id, inv->request_id, sizeof(run->request_id));
        run->hold = true;
        run->fault = i;
        run->limit = limit;
        run->old = soft;
        run->open = n;
        r = set_nofile(env->fn, pid, limit, hard, run);
        if (r == 0) {
                nofile_set(env, inv, i, pid, limit, soft, n);
                return false;
        }
        if (r < 0) {
                snprintf(why, sizeof(why), "prlimit: %s", strerror(-r));
                nofile_failed(env, inv, i, why);
                return false;
        }
        return true;
}

/* When prlimit has to run, the environment's next event waits for it (fault_hold()): an
 * invocation without the fault gets the whole limit back. */
static void restore_nofile(ExecEnv *env, FaultArmed *a) {
        uint64_t soft, hard;

        if (read_nofile(a->nofile_pid, &soft, &hard) == 0) {
                PrlimitRun *run = xcalloc(1, sizeof(*run));
                run->env_id = env->id;
                run->restore = true;
                if (set_nofile(env->fn, a->nofile_pid, a->nofile_cur, hard, run) == 1)
                        env->nofile_restoring = true;
        }
        a->nofile_set = false;
}

void fault_event(ExecEnv *env, Invocation *inv) {
        int i;

        if (!inv->armed || inv->attempt != 1)
                return;
        if ((i = armed(inv, FAULT_CLOCK_SKEW, -1)) >= 0) {
                char detail[96];
                Fault *f = inv->armed->v[i];
                snprintf(detail, sizeof(detail), "Lambda-Runtime-Deadline-Ms shifted by %lld ms",
                         (long long) llround(f->ms));
                fire(inv, env, i, detail);
                inv->event.deadline_ms += llround(f->ms);
        }
}

static void invoke_crash_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;
        Invocation *inv = env->inv;

        if (env->state != ENV_BUSY || !inv || !inv->event.request_id || !inv->armed)
                return;
        inv->armed->crash_timer = false;
        int i = armed(inv, FAULT_CRASH, FAULT_PHASE_INVOKE);
        if (i < 0)
                return;
        fire(inv, env, i, "the environment is killed during the invoke");
        kill_env(env, false);
}

static void oom_fallback_cb(uv_timer_t *t) {
        ExecEnv *env = t->data;

        if (env->state == ENV_BUSY && env->inv)
                kill_env(env, true);
}

/* cgroup v2 lets the limit go below current use: the kernel reclaims, then OOM-kills, as
 * when the function outgrows its memory. v1 refuses (EBUSY) and without a memory cgroup there
 * is no limit: the environment is killed and reported exactly as the OOM killer's victim. */
static void out_of_memory(ExecEnv *env) {
        if (env->has_cg && env->cg.memory && env->emu->cg.version == CG_V2 &&
            cg__write(env->cg.memory, "memory.max", "0") == 0) {
                env->fault_memory_lowered = true;
                uv_timer_start(&env->fault_timer, oom_fallback_cb, OOM_GRACE_MS, 0);
                return;
        }
        kill_env(env, true);
}

void fault_delivered(ExecEnv *env, Invocation *inv) {
        int i;

        if (!inv->armed || inv->attempt != 1)
                return;
        if ((i = armed(inv, FAULT_TIMEOUT, -1)) >= 0) {
                fire(inv, env, i, "the environment is frozen until the deadline");
                env_force_freeze(env);
                return;
        }
        if ((i = armed(inv, FAULT_OOM, -1)) >= 0) {
                fire(inv, env, i, "the environment runs out of memory");
                out_of_memory(env);
                return;
        }
        if ((i = armed(inv, FAULT_CRASH, FAULT_PHASE_INVOKE)) >= 0) {
                Fault *f = inv->armed->v[i];
                if (f->ms <= 0) {
                        fire(inv, env, i, "the environment is killed during the invoke");
                        kill_env(env, false);
                        return;
                }
                /* Fires only if the invocation is still running then. */
                inv->armed->crash_timer = true;
                uv_timer_start(&env->fault_timer, invoke_crash_cb, (uint64_t) llround(f->ms), 0);
        }
}

int fault_runtime_call(ExecEnv *env, FaultEndpoint ep) {
        Invocation *inv = env->inv;
        int i, k;

        if (!inv || !inv->armed || inv->attempt != 1)
                return 0;
        i = armed(inv, FAULT_RUNTIME_API_ERROR, -1);
        k = armed(inv, FAULT_RUNTIME_API_DROP, -1);
        if (i >= 0 && inv->armed->v[i]->endpoint == ep) {
                char detail[96];
                snprintf(detail, sizeof(detail), "the runtime's %s call is answered %d",
                         ep == FAULT_EP_NEXT ? "/next" : "/response", inv->armed->v[i]->status);
                fire(inv, env, i, detail);
                return inv->armed->v[i]->status;
        }
        if (k >= 0 && inv->armed->v[k]->endpoint == ep) {
                fire(inv, env, k,
                     ep == FAULT_EP_NEXT ? "the runtime's /next connection is closed"
                                         : "the runtime's /response connection is closed");
                return -1;
        }
        return 0;
}

/* ---- the answer ----------------------------------------------------------------------- */

bool fault_hides_result(Invocation *inv) {
        FaultArmed *a = inv->armed;

        /* Frozen, or killed: an answer already on its way when the fault fired is not one
         * the real cause would have let through. */
        for (size_t k = 0; a && k < a->n; k++) {
                const Fault *f = a->v[k];
                if ((a->fired & (1u << k)) &&
                    (f->action == FAULT_TIMEOUT || f->action == FAULT_OOM ||
                     (f->action == FAULT_CRASH && f->phase == FAULT_PHASE_INVOKE)))
                        return true;
        }
        return false;
}

static void crash_after_cb(uv_timer_t *t) {
        kill_env(t->data, false);
}

void fault_result(ExecEnv *env, Invocation *inv) {
        FaultArmed *a = inv->armed;
        int i;

        if (!a)
                return;
        if (a->crash_timer) {
                a->crash_timer = false; /* answered before after_ms: no crash */
                uv_timer_stop(&env->fault_timer);
        }
        if (inv->type == INVOKE_EVENT) {
                /* async_fail spans the attempts of its event: it is armed (and counted) on
                 * the first, and recorded on each of the first `attempts`. */
                for (size_t k = 0; k < a->n; k++) {
                        Fault *f = a->v[k];
                        char detail[96];
                        if (f->action != FAULT_ASYNC_FAIL || inv->attempt > f->attempts)
                                continue;
                        snprintf(detail, sizeof(detail), "attempt %u of %u fails", inv->attempt,
                                 f->attempts);
                        if (inv->attempt == 1 && armed(inv, FAULT_ASYNC_FAIL, -1) == (int) k)
                                fire(inv, env, (int) k, detail);
                        else if (inv->attempt > 1 && (a->fired & (1u << k)) && !f->removed)
                                record(inv, env, f, detail);
                        else
                                continue;
                        error_body(inv, f, "Lemu.InjectedAsyncFailure");
                }
        }
        if (inv->attempt != 1)
                return;
        if ((i = armed(inv, FAULT_ERROR_RESPONSE, -1)) >= 0 && a->v[i]->run_handler) {
                Fault *f = fire(inv, env, i, "the handler's answer is replaced");
                replace_answer(inv, f);
        }
        if ((i = armed(inv, FAULT_CRASH, FAULT_PHASE_AFTER_RESPONSE)) >= 0) {
                Fault *f = fire(inv, env, i, "the environment is killed after its response");
                if (f->ms <= 0)
                        kill_env(env, false);
                else
                        uv_timer_start(&env->fault_timer, crash_after_cb, (uint64_t) llround(f->ms),
                                       0);
        }
}

void fault_detach(ExecEnv *env, Invocation *inv) {
        FaultArmed *a = inv->armed;

        if (!a)
                return;
        if (a->crash_timer) {
                a->crash_timer = false;
                uv_timer_stop(&env->fault_timer);
        }
        if (a->nofile_set)
                restore_nofile(env, a);
        if (a->fill_fd >= 0) {
                close(a->fill_fd); /* /tmp has its space back */
                a->fill_fd = -1;
        }
}

void fault_env_exited(ExecEnv *env) {
        char v[32];

        if (!env->fault_memory_lowered)
                return;
        env->fault_memory_lowered = false;
        snprintf(v, sizeof(v), "%llu", (unsigned long long) env->fn->cfg->memory_mb * 1048576ull);
        (void) cg__write(env->cg.memory, "memory.max", v);
}
