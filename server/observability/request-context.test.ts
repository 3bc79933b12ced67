import { describe, expect, it, vi } from "vitest";
import { clientIpFrom, getRequestContext, newRequestId, requestIdFrom, runWithRequestContext } from "./request-context";

describe("request context", () => {
  it("is visible through awaits inside runWithRequestContext and absent outside", async () => {
    expect(getRequestContext()).toBeUndefined();
    await runWithRequestContext({ requestId: "req-1" }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(getRequestContext()?.requestId).toBe("req-1");
    });
    expect(getRequestContext()).toBeUndefined();
  });

  it("is shared with a second module graph (Next's route handlers)", async () => {
    vi.resetModules();
    const other = await import("./request-context");
    runWithRequestContext({ requestId: "req-2" }, () => {
      expect(other.getRequestContext()?.requestId).toBe("req-2");
    });
  });
});

describe("request ids", () => {
  it("are short, url-safe and unique", () => {
    const ids = new Set(Array.from({ length: 1000 }, () => newRequestId()));
    expect(ids.size).toBe(1000);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
  });

  it("keep a safe incoming x-request-id and replace anything else", () => {
    expect(requestIdFrom(new Headers({ "x-request-id": "abc-123_X.y" }))).toBe("abc-123_X.y");
    expect(requestIdFrom({ "x-request-id": "from-node" })).toBe("from-node");
    for (const bad of ["a b", "x".repeat(65), "id\r\nset-cookie: a", "<script>", ""]) {
      const id = requestIdFrom({ "x-request-id": bad });
      expect(id).not.toBe(bad);
      expect(id).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(requestIdFrom(new Headers())).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe("clientIpFrom", () => {
  const req = (forwarded?: string) => ({
    headers: forwarded ? { "x-forwarded-for": forwarded } : {},
    socket: { remoteAddress: "::ffff:10.0.0.5" },
  });

  it("uses the socket peer unless a proxy is trusted", () => {
    expect(clientIpFrom(req("203.0.113.7, 10.0.0.1"))).toBe("10.0.0.5");
    expect(clientIpFrom(req("203.0.113.7, 10.0.0.1"), true)).toBe("203.0.113.7");
  });

  it("falls back to the socket peer when the forwarded value is not an address", () => {
    expect(clientIpFrom(req("not-an-ip"), true)).toBe("10.0.0.5");
    expect(clientIpFrom(req(), true)).toBe("10.0.0.5");
    expect(clientIpFrom({ headers: new Headers({ "x-forwarded-for": "2001:db8::1" }) }, true)).toBe("2001:db8::1");
  });
});
