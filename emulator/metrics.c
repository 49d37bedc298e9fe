/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus text exposition (format 0.0.4) of lemu's counters; see metrics.h. Counters are
 * plain integers bumped on the loop when an invocation ends; rendering walks them.
 */
#include <stdio.h>
#include <string.h>

#include "emulator.h"
#include "macro.h"
#include "metrics.h"

static const double bounds[METRICS_BUCKETS] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                0.5,   1,     2.5,  5,     10,   30,  60 };

const char *const metrics_finding_kinds[METRICS_FINDING_KINDS] = {
        "state_leak",    "fd_growth",     "tmp_growth",
        "memory_growth", "thread_growth", "work_after_response",
};

void metrics_observe(Metrics *m, const Invocation *inv) {
        if (inv->status >= 0 && inv->status < METRICS_STATUSES)
                m->invocations[inv->status][inv->cold ? 1 : 0]++;
        if (!inv->env)
                return; /* a throttle never ran */
        double secs = inv->duration_ms / 1000;
        size_t i = 0;
        while (i < METRICS_BUCKETS && secs > bounds[i])
                i++;
        m->buckets[i]++;
        m->duration_sum += secs;
        m->duration_count++;
}

void metrics_finding(Metrics *m, const char *kind) {
        for (size_t i = 0; i < METRICS_FINDING_KINDS; i++)
                if (strcmp(kind, metrics_finding_kinds[i]) == 0)
                        m->findings[i]++;
}

/* Function names are [A-Za-z0-9_-]: no label escaping is needed. */
void metrics_render(Emulator *e, Buf *out) {
        buf_puts(out, "# HELP lemu_invocations_total Invocations that ended, by outcome.\n"
                      "# TYPE lemu_invocations_total counter\n");
        for (size_t f = 0; f < e->n_functions; f++) {
                Function *fn = &e->functions[f];
                for (int s = 0; s < METRICS_STATUSES; s++)
                        for (int c = 0; c < 2; c++)
                                buf_printf(out,
                                           "lemu_invocations_total{function=\"%s\",status=\"%s\","
                                           "cold=\"%s\"} %llu\n",
                                           fn->cfg->name, inv_status_name((InvStatus) s),
                                           c ? "true" : "false",
                                           (unsigned long long) fn->metrics.invocations[s][c]);
        }
        buf_puts(out, "# HELP lemu_invocation_duration_seconds Time from the event handed over "
                      "to the answer.\n"
                      "# TYPE lemu_invocation_duration_seconds histogram\n");
        for (size_t f = 0; f < e->n_functions; f++) {
                Function *fn = &e->functions[f];
                uint64_t cum = 0;
                for (size_t i = 0; i <= METRICS_BUCKETS; i++) {
                        cum += fn->metrics.buckets[i];
                        if (i < METRICS_BUCKETS)
                                buf_printf(
                                        out,
                                        "lemu_invocation_duration_seconds_bucket{function=\"%s\","
                                        "le=\"%g\"} %llu\n",
                                        fn->cfg->name, bounds[i], (unsigned long long) cum);
                        else
                                buf_printf(
                                        out,
                                        "lemu_invocation_duration_seconds_bucket{function=\"%s\","
                                        "le=\"+Inf\"} %llu\n",
                                        fn->cfg->name, (unsigned long long) cum);
                }
                buf_printf(out, "lemu_invocation_duration_seconds_sum{function=\"%s\"} %.6f\n",
                           fn->cfg->name, fn->metrics.duration_sum);
                buf_printf(out, "lemu_invocation_duration_seconds_count{function=\"%s\"} %llu\n",
                           fn->cfg->name, (unsigned long long) fn->metrics.duration_count);
        }
        buf_puts(out, "# HELP lemu_environments Live execution environments, by state.\n"
                      "# TYPE lemu_environments gauge\n");
        static const char *const states[] = { "initializing", "idle", "busy", "frozen",
                                              "shutting_down" };
        for (size_t f = 0; f < e->n_functions; f++) {
                Function *fn = &e->functions[f];
                unsigned counts[5] = { 0 };
                ListNode *it;
                LIST_FOREACH (it, &fn->envs) {
                        ExecEnv *env = container_of(it, ExecEnv, link);
                        if (!env->spare)
                                counts[env_public_state_index(env)]++;
                }
                for (size_t s = 0; s < 5; s++)
                        buf_printf(out, "lemu_environments{function=\"%s\",state=\"%s\"} %u\n",
                                   fn->cfg->name, states[s], counts[s]);
        }
        buf_puts(out, "# HELP lemu_throttles_total Invocations refused for concurrency.\n"
                      "# TYPE lemu_throttles_total counter\n");
        for (size_t f = 0; f < e->n_functions; f++)
                buf_printf(out, "lemu_throttles_total{function=\"%s\"} %llu\n",
                           e->functions[f].cfg->name,
                           (unsigned long long) e->functions[f].counters.throttles);
        buf_puts(out, "# HELP lemu_findings_total Bugs found (state leaks, drift).\n"
                      "# TYPE lemu_findings_total counter\n");
        for (size_t f = 0; f < e->n_functions; f++)
                for (size_t k = 0; k < METRICS_FINDING_KINDS; k++)
                        buf_printf(out, "lemu_findings_total{function=\"%s\",kind=\"%s\"} %llu\n",
                                   e->functions[f].cfg->name, metrics_finding_kinds[k],
                                   (unsigned long long) e->functions[f].metrics.findings[k]);
}
