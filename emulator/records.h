/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Invocation records: a ring of the last records_max outcomes (every attempt, throttles
 * included), numbered by a sequence that never repeats, for GET /_lemu/invocations and the
 * per-invocation log. Records own their strings; the ring frees what it overwrites.
 */

struct Invocation;

typedef struct Record {
        uint64_t seq;
        int64_t time_ms;
        char request_id[37];
        char *function;
        char environment[96];
        const char *invocation_type;
        unsigned attempt;
        bool cold;
        double init_ms;
        double duration_ms;
        uint64_t billed_ms;
        unsigned max_memory_mb;
        const char *status;
        char error_type[128];
        char *findings_json; /* a JSON array, "[]" when none */
        char *faults_json;
        char *log; /* bounded */
        size_t log_len;
} Record;

typedef struct Records {
        Record *ring;
        size_t cap;
        uint64_t next_seq; /* the seq the next record gets; first is 1 */
} Records;

void records_init(Records *r, size_t cap);
void records_deinit(Records *r);
/* Adds the outcome of @inv; returns its seq. */
uint64_t records_add(Records *r, const struct Invocation *inv);
/* The oldest seq still held (next_seq when empty). */
uint64_t records_oldest(const Records *r);
/* The record with @seq, or NULL when evicted or not yet written. */
const Record *records_get(const Records *r, uint64_t seq);
/* The newest record of @request_id, or NULL. */
const Record *records_find(const Records *r, const char *request_id);
/* records_add_finding() - appends one finding object (JSON text) to record @seq's findings;
 * false when the record was evicted already. */
bool records_add_finding(Records *r, uint64_t seq, const char *finding_json);
/* Appends a record as a JSON object to @out; with_log adds "log". */
void records_json(const Record *rec, Buf *out, bool with_log);
