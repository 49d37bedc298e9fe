/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ring of invocation records (records.h). A record is written once, when an attempt
 * ends, from the Invocation's final state; nothing points into the ring from outside.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emulator.h"
#include "records.h"
#include "xalloc.h"

#define RECORD_LOG_MAX (16u * 1024)

static const char *const type_names[] = {
        [INVOKE_REQUEST_RESPONSE] = "RequestResponse",
        [INVOKE_EVENT] = "Event",
        [INVOKE_DRY_RUN] = "DryRun",
};

void records_init(Records *r, size_t cap) {
        r->cap = cap ? cap : 1;
        r->ring = xcalloc(r->cap, sizeof(Record));
        r->next_seq = 1;
}

static void record_clear(Record *rec) {
        free(rec->function);
        free(rec->findings_json);
        free(rec->faults_json);
        free(rec->log);
        memset(rec, 0, sizeof(*rec));
}

void records_deinit(Records *r) {
        for (size_t i = 0; i < r->cap && r->ring; i++)
                record_clear(&r->ring[i]);
        free(r->ring);
        r->ring = NULL;
}

uint64_t records_add(Records *r, const Invocation *inv) {
        uint64_t seq = r->next_seq++;
        Record *rec = &r->ring[seq % r->cap];

        record_clear(rec);
        rec->seq = seq;
        rec->time_ms = inv->accepted_ms;
        memcpy(rec->request_id, inv->request_id, sizeof(rec->request_id));
        rec->function = xstrdup(inv->fn->cfg->name);
        if (inv->env)
                str_copy(rec->environment, sizeof(rec->environment), inv->env->name);
        rec->invocation_type = inv->type >= 0 && inv->type < _INVOKE_TYPE_MAX
                                       ? type_names[inv->type]
                                       : "RequestResponse";
        rec->attempt = inv->attempt;
        rec->cold = inv->cold;
        rec->init_ms = inv->cold && !inv->suppressed_init ? inv->init_ms : 0;
        rec->duration_ms = inv->duration_ms;
        rec->billed_ms = inv->env ? logs_billed_ms(inv->duration_ms + rec->init_ms) : 0;
        rec->max_memory_mb = inv->max_memory_mb;
        rec->status = inv_status_name(inv->status);
        if (inv->status != INV_SUCCESS)
                str_copy(rec->error_type, sizeof(rec->error_type), inv->error_type);
        rec->findings_json = xstrdup(inv->findings_json ? inv->findings_json : "[]");
        rec->faults_json = xstrdup(inv->faults_json ? inv->faults_json : "[]");
        size_t start = inv->log.len > RECORD_LOG_MAX ? inv->log.len - RECORD_LOG_MAX : 0;
        rec->log_len = inv->log.len - start;
        rec->log = xmemdup(inv->log.data ? inv->log.data + start : "", rec->log_len + 1);
        rec->log[rec->log_len] = '\0';
        return seq;
}

uint64_t records_oldest(const Records *r) {
        uint64_t held = r->next_seq - 1 < r->cap ? r->next_seq - 1 : r->cap;

        return r->next_seq - held;
}

const Record *records_get(const Records *r, uint64_t seq) {
        if (seq < records_oldest(r) || seq >= r->next_seq)
                return NULL;
        return &r->ring[seq % r->cap];
}

const Record *records_find(const Records *r, const char *request_id) {
        for (uint64_t s = r->next_seq; s-- > records_oldest(r);) {
                const Record *rec = &r->ring[s % r->cap];
                if (strcmp(rec->request_id, request_id) == 0)
                        return rec;
        }
        return NULL;
}

void records_json(const Record *rec, Buf *out, bool with_log) {
        char t[40];
        time_t secs = (time_t) (rec->time_ms / 1000);
        struct tm tm;

        gmtime_r(&secs, &tm);
        size_t k = strftime(t, sizeof(t), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(t + k, sizeof(t) - k, ".%03dZ", (int) (rec->time_ms % 1000));
        buf_printf(out, "{\"seq\":%llu,\"time\":\"%s\",\"request_id\":\"%s\",\"function\":",
                   (unsigned long long) rec->seq, t, rec->request_id);
        buf_put_json_str(out, rec->function, strlen(rec->function));
        buf_puts(out, ",\"environment\":");
        if (rec->environment[0])
                buf_put_json_str(out, rec->environment, strlen(rec->environment));
        else
                buf_puts(out, "null");
        buf_printf(out,
                   ",\"invocation_type\":\"%s\",\"attempt\":%u,\"cold\":%s,\"init_ms\":%.2f,"
                   "\"duration_ms\":%.2f,\"billed_ms\":%llu,\"max_memory_mb\":%u,\"status\":\"%s\","
                   "\"error_type\":",
                   rec->invocation_type, rec->attempt, rec->cold ? "true" : "false", rec->init_ms,
                   rec->duration_ms, (unsigned long long) rec->billed_ms, rec->max_memory_mb,
                   rec->status);
        if (rec->error_type[0])
                buf_put_json_str(out, rec->error_type, strlen(rec->error_type));
        else
                buf_puts(out, "null");
        buf_printf(out, ",\"findings\":%s,\"faults\":%s", rec->findings_json, rec->faults_json);
        if (with_log) {
                buf_puts(out, ",\"log\":");
                buf_put_json_str(out, rec->log, rec->log_len);
        }
        buf_puts(out, "}");
}

bool records_add_finding(Records *r, uint64_t seq, const char *finding_json) {
        Record *rec = (Record *) records_get(r, seq);

        if (!rec)
                return false;
        size_t old = strlen(rec->findings_json);
        /* "[...]" → "[..., finding]" */
        char *s = xasprintf("%.*s%s%s]", (int) (old - 1), rec->findings_json, old > 2 ? "," : "",
                            finding_json);
        free(rec->findings_json);
        rec->findings_json = s;
        return true;
}
