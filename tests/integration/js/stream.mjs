// SPDX-License-Identifier: Apache-2.0
//
// Invokes one function through @aws-sdk/client-lambda's InvokeWithResponseStreamCommand and
// prints one JSON object on stdout, for lemu's streaming tests:
//
//   node stream.mjs ENDPOINT FUNCTION [PAYLOAD] [--handshake] [--log-type None|Tail]
//
// On success: {"ok": true, "StatusCode", "ExecutedVersion", "ResponseStreamContentType",
// "headers" (the raw HTTP response headers, lower case), "events": [{"type":
// "PayloadChunk", "bytes", "text" (first 200 bytes as UTF-8), "ms"} | {"type":
// "InvokeComplete", "ErrorCode", "ErrorDetails", "LogResult", "ms"}], "RequestId"}; "ms" is
// the time since the request was sent. On a service error: {"ok": false, "name", "message",
// "httpStatusCode"}.
//
// --handshake: listens on 127.0.0.1 (port 0) and adds {"mode":"handshake","port":P} to the
// payload; the stream fixture writes its first chunk, connects, and waits for "go", which
// is sent only after the first PayloadChunk has arrived here. The output then also has
// "handshake": {"go_after_chunks": <PayloadChunk events received before "go" was sent>}.
import { LambdaClient, InvokeWithResponseStreamCommand } from "@aws-sdk/client-lambda";
import net from "node:net";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: {
                handshake: { type: "boolean", default: false },
                "log-type": { type: "string" },
        },
});
if (positionals.length < 2 || positionals.length > 3) {
        console.error("usage: node stream.mjs ENDPOINT FUNCTION [PAYLOAD] [--handshake] " +
                "[--log-type L]");
        process.exit(2);
}
const [endpoint, functionName, payloadArg] = positionals;

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const client = new LambdaClient({
        endpoint,
        region: "us-east-1",
        maxAttempts: 1,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
// The raw headers (lemu's X-Lemu-* among them), seen below the deserializer.
let rawHeaders = {};
client.middlewareStack.add(
        (next) => async (args) => {
                const r = await next(args);
                if (r.response && r.response.headers) rawHeaders = { ...r.response.headers };
                return r;
        },
        { step: "deserialize", priority: "low", name: "lemuRawHeaders" },
);

// The handshake: the function's connection, and a promise of it.
let peer = null;
let peerReady;
const peerConnected = new Promise((resolve) => (peerReady = resolve));
let server = null;
let payload = payloadArg;
if (values.handshake) {
        server = net.createServer((sock) => {
                peer = sock;
                sock.on("error", () => {});
                peerReady();
        });
        await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
        const obj = payload ? JSON.parse(payload) : {};
        obj.mode = "handshake";
        obj.port = server.address().port;
        payload = JSON.stringify(obj);
}

const input = { FunctionName: functionName };
if (payload !== undefined) input.Payload = new TextEncoder().encode(payload);
if (values["log-type"]) input.LogType = values["log-type"];

const t0 = performance.now();
const ms = () => Math.round((performance.now() - t0) * 10) / 10;
let out;
try {
        const r = await client.send(new InvokeWithResponseStreamCommand(input));
        const events = [];
        let chunks = 0;
        let goAfter = null;
        for await (const ev of r.EventStream) {
                if (ev.PayloadChunk) {
                        const p = ev.PayloadChunk.Payload ?? new Uint8Array();
                        chunks++;
                        events.push({
                                type: "PayloadChunk",
                                bytes: p.length,
                                text: new TextDecoder().decode(p.subarray(0, 200)),
                                ms: ms(),
                        });
                        if (values.handshake && goAfter === null) {
                                goAfter = chunks;
                                await peerConnected;
                                peer.write("go");
                        }
                } else if (ev.InvokeComplete) {
                        events.push({
                                type: "InvokeComplete",
                                ErrorCode: ev.InvokeComplete.ErrorCode ?? null,
                                ErrorDetails: ev.InvokeComplete.ErrorDetails ?? null,
                                LogResult: ev.InvokeComplete.LogResult ?? null,
                                ms: ms(),
                        });
                } else {
                        events.push({ type: "unknown", keys: Object.keys(ev), ms: ms() });
                }
        }
        out = {
                ok: true,
                StatusCode: r.StatusCode ?? null,
                ExecutedVersion: r.ExecutedVersion ?? null,
                ResponseStreamContentType: r.ResponseStreamContentType ?? null,
                RequestId: r.$metadata.requestId ?? null,
                headers: rawHeaders,
                events,
        };
        if (values.handshake) out.handshake = { go_after_chunks: goAfter };
} catch (e) {
        if (!e.$metadata) throw e;
        out = {
                ok: false,
                name: e.name,
                message: e.message,
                httpStatusCode: e.$metadata.httpStatusCode ?? null,
        };
}
if (server) server.close();
if (peer) peer.destroy();
process.stdout.write(JSON.stringify(out) + "\n");
