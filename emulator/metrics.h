/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "buf.h"

/*
 * Per-function counters behind GET /_lemu/metrics, in the Prometheus text format:
 * lemu_invocations_total{function,status,cold}, lemu_invocation_duration_seconds (a
 * histogram), lemu_environments{function,state}, lemu_throttles_total,
 * lemu_findings_total{function,kind}.
 */

#define METRICS_BUCKETS       14
#define METRICS_STATUSES      5
#define METRICS_FINDING_KINDS 6

typedef struct Metrics {
        uint64_t invocations[METRICS_STATUSES][2]; /* [status][cold] */
        uint64_t buckets[METRICS_BUCKETS + 1];     /* the last is +Inf */
        double duration_sum;
        uint64_t duration_count;
        uint64_t findings[METRICS_FINDING_KINDS];
} Metrics;

struct Invocation;
struct Emulator;

void metrics_observe(Metrics *m, const struct Invocation *inv);
void metrics_finding(Metrics *m, const char *kind);
/* The whole exposition for every function, into @out. */
void metrics_render(struct Emulator *e, Buf *out);
extern const char *const metrics_finding_kinds[METRICS_FINDING_KINDS];
