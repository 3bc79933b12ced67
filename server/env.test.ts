import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "./env";

describe("environment", () => {
  it("starts on the embedded defaults with nothing set", () => {
    const env = parseEnv({});
    expect(env).toMatchObject({
      PORT: 3000,
      databaseKind: "pglite",
      MICROSTACK_SEED: "demo",
      MICROSTACK_TRUST_PROXY: false,
    });
    expect(env.dataDir).toMatch(/\.data$/);
  });

  it("seeds no demo accounts in production on PostgreSQL unless asked", () => {
    const production = { NODE_ENV: "production", DATABASE_URL: "postgres://db:5432/ms" };
    expect(parseEnv(production).MICROSTACK_SEED).toBe("none");
    expect(parseEnv({ ...production, MICROSTACK_SEED: "demo" }).MICROSTACK_SEED).toBe("demo");
    expect(parseEnv({ NODE_ENV: "production" }).MICROSTACK_SEED).toBe("demo");
  });

  it("names each bad variable and the reason", () => {
    const error = (() => {
      try {
        parseEnv({ PORT: "70000", DATABASE_URL: "mysql://x", MICROSTACK_SEED: "all" });
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(EnvError);
    const issues = (error as EnvError).issues.join("\n");
    expect(issues).toMatch(/^PORT: /m);
    expect(issues).toMatch(/^DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL with a host/m);
    expect(issues).toMatch(/^MICROSTACK_SEED: /m);
  });

  it("treats an empty DATABASE_URL as unset", () => {
    expect(parseEnv({ DATABASE_URL: "  " }).databaseKind).toBe("pglite");
  });
});
