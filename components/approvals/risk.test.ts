import { describe, expect, it } from "vitest";
import { isProductionLike, riskHints, riskLabel } from "./risk";

describe("risk hints", () => {
  it("recognises production-like names as whole words", () => {
    for (const name of ["production", "prod", "PROD", "prod-eu", "eu_prod", "live", "prd"]) {
      expect(isProductionLike(name), name).toBe(true);
    }
    for (const name of ["staging", "preprod-like-reproduce", "products", "deliver", "olive", "dev"]) {
      expect(isProductionLike(name), name).toBe(false);
    }
  });

  it("names the environment and the params that point at production", () => {
    const hints = riskHints({
      environment: "production",
      params: { target: "production", region: "eu", "deploy-to-prod": true, "skip-prod": false, replicas: 3 },
    });
    expect(hints).toEqual([
      { source: "environment", name: "production", value: "production" },
      { source: "param", name: "target", value: "production" },
      { source: "param", name: "deploy-to-prod", value: "deploy-to-prod" },
    ]);
    expect(riskLabel(hints)).toBe("production, deploy-to-prod");
  });

  it("says nothing for staging", () => {
    const hints = riskHints({ environment: "staging", params: { target: "staging" } });
    expect(hints).toEqual([]);
    expect(riskLabel(hints)).toBeNull();
  });
});
