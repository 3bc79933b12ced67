import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertBuilt, freePort, type RunningProcess, runNode, signInOverHttp, waitFor } from "./harness";

interface ExportedSpan {
  name: string;
  traceId: string;
  attributes?: { key: string; value: { stringValue?: string } }[];
}

// OTLP/JSON carries ids as hex; older encoders used base64.
const hexId = (id: string) => (/^[0-9a-f]{32}$/.test(id) ? id : Buffer.from(id, "base64").toString("hex"));

/** A minimal OTLP/HTTP (JSON) trace receiver: what a collector would get. */
function startReceiver(): Promise<{ server: Server; url: string; spans: ExportedSpan[] }> {
  const spans: ExportedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        for (const resource of body.resourceSpans ?? []) {
          for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []));
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans }),
    ),
  );
}

describe("tracing with OTEL_EXPORTER_OTLP_ENDPOINT", () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let app: RunningProcess;
  let baseUrl: string;

  beforeAll(async () => {
    assertBuilt();
    receiver = await startReceiver();
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    app = runNode("server/main.ts", {
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "info",
      MICROSTACK_DATA_DIR: `/tmp/ms-tracing-${randomBytes(4).toString("hex")}`,
      MICROSTACK_DEMO_PASSWORD: "tracing-password",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "200",
    });
    await waitFor("the server", () =>
      app.stdout.some((l) => l.startsWith("Microstack is running")) ? true : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    app.child.kill("SIGTERM");
    await app.exited;
    receiver.server.close();
  });

  it("exports HTTP server spans named by route template, with Prisma spans in the same trace", async () => {
    const cookie = await signInOverHttp(baseUrl, "admin@demo.microstack.dev", "tracing-password");
    const response = await fetch(`${baseUrl}/projects/acme/storefront`, { headers: { cookie } });
    expect(response.status).toBe(200);
    const page = await waitFor("the page's span", () =>
      receiver.spans.find((s) => s.name === "GET /projects/[org]/[project]"),
    );
    const prisma = await waitFor("prisma spans in that trace", () => {
      const found = receiver.spans.filter((s) => s.traceId === page.traceId && s.name.startsWith("prisma:"));
      return found.length > 0 ? found : undefined;
    });
    expect(prisma.map((s) => s.name)).toContain("prisma:client:operation");

    // The request's log line carries the same trace id, so logs and traces join up.
    const logLine = await waitFor("the request log line", () =>
      app.stdout
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .find((l) => l.msg === "request" && l.route === "/projects/[org]/[project]"),
    );
    expect(hexId(page.traceId)).toBe(logLine.traceId);
  });
});
