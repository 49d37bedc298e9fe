/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fuzz targets' Emulator (fake-emulator.h), built field by field as emu_init() would,
 * minus the sandbox, the spares and the journal.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake-emulator.h"
#include "invoke.h"
#include "macro.h"
#include "xalloc.h"

static const char config_json[] =
        "{\"functions\": {"
        " \"function\": {\"bootstrap\": \"/bin/true\", \"reserved_concurrency\": 0,"
        "  \"aliases\": {\"live\": \"$LATEST\"}, \"async\": {\"max_payload_bytes\": 4096}},"
        " \"other\": {\"bootstrap\": \"/bin/true\", \"reserved_concurrency\": 0}}}";

static const HttpServerOps api_ops = {
        .malformed = invoke_api_malformed,
        .body_limit = invoke_api_body_limit,
        .request = invoke_api_request,
        .closed = invoke_api_closed,
};

/* Stands for a prepared spare, so that no invocation's end schedules the making of one. */
static ExecEnv no_spare;

Emulator *fake_emulator(void) {
        static Emulator e;
        static Config cfg;
        static uv_loop_t loop;
        CfgError err = { 0 };

        if (e.loop)
                return &e;
        uv_loop_init(&loop);
        cfg_init(&cfg);
        if (cfg_load_string(&cfg, config_json, sizeof(config_json) - 1, "/", &err) < 0 ||
            cfg_validate(&cfg, &err) < 0) {
                char msg[512];
                cfg_format_error(&err, msg, sizeof(msg));
                fprintf(stderr, "fake emulator: %s\n", msg);
                abort();
        }
        e.loop = &loop;
        e.cfg = &cfg;
        int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        logs_init(&e.logs, &loop, devnull, cfg.log_format);
        e.api_limits = (HttpLimits){
                .max_connections = 64,
                .max_header_bytes = cfg.limits.max_header_bytes,
                .max_headers = cfg.limits.max_headers,
                .discard_max = 64u * 1024,
        };
        e.n_functions = cfg.n_functions;
        e.functions = xcalloc(cfg.n_functions, sizeof(Function));
        for (size_t i = 0; i < cfg.n_functions; i++) {
                Function *fn = &e.functions[i];
                fn->emu = &e;
                fn->cfg = &cfg.functions[i];
                fn->arn = xasprintf("arn:aws:lambda:%s:%s:function:%s", cfg.region, cfg.account_id,
                                    fn->cfg->name);
                list_init(&fn->envs);
                list_init(&fn->idle);
                list_init(&fn->queue);
                list_init(&fn->retrying);
                fn->spare = &no_spare;
                uv_timer_init(&loop, &fn->spare_timer);
        }
        records_init(&e.records, 64);
        list_init(&e.idle_waiters);
        list_init(&e.dead_cgroups);
        http_server_init(&e.api, &loop, &api_ops, &e.api_limits, &e);
        struct sockaddr_in sa;
        uv_ip4_addr("127.0.0.1", 0, &sa);
        if (http_server_listen(&e.api, (struct sockaddr *) &sa, 128) < 0) {
                fprintf(stderr, "fake emulator: cannot listen\n");
                abort();
        }
        return &e;
}

void fake_emulator_reset(Emulator *e) {
        for (size_t i = 0; i < e->n_functions; i++) {
                Function *fn = &e->functions[i];
                while (!list_empty(&fn->queue)) {
                        Invocation *inv = container_of(fn->queue.next, Invocation, link);
                        list_unlink(&inv->link);
                        fn->n_queued--;
                        inv_free(inv);
                }
                if (fn->n_queued != 0 || fn->inflight != 0 || !list_empty(&fn->envs)) {
                        fprintf(stderr, "fake emulator: %s left %u queued, %u in flight\n",
                                fn->cfg->name, fn->n_queued, fn->inflight);
                        abort();
                }
        }
        if (e->sync_waiting != 0 || e->inflight != 0) {
                fprintf(stderr, "fake emulator: a caller is still waiting\n");
                abort();
        }
        /* Timers of freed invocations close on the next turn. */
        uv_run(e->loop, UV_RUN_NOWAIT);
}
