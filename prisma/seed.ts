import "server-only";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { parsePipeline } from "@/pipelines/spec/parse";
import type { PrismaClient } from "@/generated/prisma/client";
import { hashPassword } from "@/server/auth/password";

// Demo data for a first embedded start: one organization with two projects and a user in each
// built-in role, plus a second organization the demo users cannot see (tenant isolation is
// visible from day one). Runs only when the database has no organization at all.

// "seed" in ASCII: keeps this advisory lock apart from the migrator's and the audit chain's.
const SEED_LOCK_ID = 0x73656564;

export const DEMO_EMAIL_DOMAIN = "demo.microstack.dev";

export interface DemoLogin {
  email: string;
  role: string;
  scope: string;
}

export interface SeedResult {
  seeded: boolean;
  password?: string;
  logins: DemoLogin[];
}

const DEMO_USERS = [
  { key: "admin", name: "Ada Admin", role: "admin", project: null },
  { key: "maintainer", name: "Max Maintainer", role: "maintainer", project: "storefront" },
  { key: "developer", name: "Dana Developer", role: "developer", project: "storefront" },
  { key: "approver", name: "Alex Approver", role: "approver", project: "storefront" },
  { key: "viewer", name: "Vic Viewer", role: "viewer", project: null },
] as const;

export function generateDemoPassword(): string {
  // 16 characters from an unambiguous alphabet, grouped for reading aloud.
  const alphabet = "abcdefghjkmnpqrstuvwxyz23456789";
  const bytes = randomBytes(16);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}-${chars.slice(12, 16)}`;
}

export async function seedDemoData(prisma: PrismaClient, options: { password?: string } = {}): Promise<SeedResult> {
  if ((await prisma.organization.count()) > 0) return { seeded: false, logins: [] };
  const password = options.password ?? generateDemoPassword();
  const passwordHash = await hashPassword(password);
  const logins: DemoLogin[] = [];

  const seeded = await prisma.$transaction(async (tx) => {
    // Two replicas starting on one empty database: the second waits here, then finds data.
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${SEED_LOCK_ID})`);
    if ((await tx.organization.count()) > 0) return false;
    const acme = await tx.organization.create({ data: { slug: "acme", name: "Acme Corp" } });
    const storefront = await tx.project.create({
      data: {
        organizationId: acme.id,
        slug: "storefront",
        name: "Storefront",
        description: "Customer-facing web shop and its API",
      },
    });
    const payments = await tx.project.create({
      data: {
        organizationId: acme.id,
        slug: "payments",
        name: "Payments",
        description: "Payment service, PCI scope",
      },
    });
    const projects = { storefront, payments };

    for (const demo of DEMO_USERS) {
      const email = `${demo.key}@${DEMO_EMAIL_DOMAIN}`;
      const user = await tx.user.create({ data: { email, name: demo.name, passwordHash } });
      await tx.membership.create({
        data: {
          organizationId: acme.id,
          projectId: demo.project ? projects[demo.project].id : null,
          userId: user.id,
          role: demo.role,
        },
      });
      logins.push({ email, role: demo.role, scope: demo.project ? `project ${demo.project}` : "organization acme" });
    }

    // A team gives the developer a role in payments too: access through teams is exercised.
    const platform = await tx.team.create({
      data: { organizationId: acme.id, slug: "platform", name: "Platform team" },
    });
    const developer = await tx.user.findUniqueOrThrow({ where: { email: `developer@${DEMO_EMAIL_DOMAIN}` } });
    await tx.teamMember.create({ data: { teamId: platform.id, userId: developer.id } });
    await tx.membership.create({
      data: { organizationId: acme.id, projectId: payments.id, teamId: platform.id, role: "developer" },
    });

    // Authorization policies that show the engine's model, each with test cases
    // (npm run policy:test, and the Policies page).
    const approver = await tx.user.findUniqueOrThrow({ where: { email: `approver@${DEMO_EMAIL_DOMAIN}` } });
    const maintainer = await tx.user.findUniqueOrThrow({ where: { email: `maintainer@${DEMO_EMAIL_DOMAIN}` } });
    await tx.policy.create({
      data: {
        organizationId: acme.id,
        name: "no-self-approval",
        description: "No one approves a deployment they started (a guardrail: nothing narrower overrides it).",
        effect: "deny",
        guardrail: true,
        actions: ["deployment:approve"],
        condition: "resource.createdBy == principal.id",
        tests: [
          {
            name: "the approver may approve someone else's deployment",
            input: {
              principal: { id: approver.id, type: "user" },
              action: "deployment:approve",
              resource: { type: "deployment", projectId: storefront.id, environment: "prod", createdBy: developer.id },
            },
            expect: "allow",
          },
          {
            name: "the approver may not approve their own deployment",
            input: {
              principal: { id: approver.id, type: "user" },
              action: "deployment:approve",
              resource: { type: "deployment", projectId: storefront.id, environment: "prod", createdBy: approver.id },
            },
            expect: "deny",
          },
        ],
      },
    });
    await tx.policy.create({
      data: {
        organizationId: acme.id,
        name: "prod-deploys-need-mfa",
        description: "Deploying to prod needs a session signed in with a second factor.",
        effect: "deny",
        actions: ["environment:deploy"],
        condition: 'resource.environment == "prod" && !request.mfa',
        tests: [
          {
            name: "a maintainer deploys storefront to staging without MFA",
            input: {
              principal: { id: maintainer.id, type: "user" },
              action: "environment:deploy",
              resource: { type: "environment", projectId: storefront.id, environment: "staging" },
            },
            expect: "allow",
          },
          {
            name: "a maintainer without MFA may not deploy storefront to prod",
            input: {
              principal: { id: maintainer.id, type: "user" },
              action: "environment:deploy",
              resource: { type: "environment", projectId: storefront.id, environment: "prod" },
            },
            expect: "deny",
          },
          {
            name: "a maintainer with MFA deploys storefront to prod",
            input: {
              principal: { id: maintainer.id, type: "user", mfa: true },
              action: "environment:deploy",
              resource: { type: "environment", projectId: storefront.id, environment: "prod" },
            },
            expect: "allow",
          },
        ],
      },
    });

    // A pipeline to run right away (every step runs on the local executor).
    const demoYaml = readFileSync(path.join(import.meta.dirname, "demo", "web-delivery.yaml"), "utf8");
    const demo = parsePipeline(demoYaml);
    if (!demo.pipeline) throw new Error(`the demo pipeline is invalid: ${demo.diagnostics[0]?.message}`);
    const webDelivery = await tx.pipeline.create({
      data: {
        organizationId: acme.id,
        projectId: storefront.id,
        slug: "web-delivery",
        name: demo.pipeline.name,
        description: demo.pipeline.description ?? "",
        createdById: maintainer.id,
      },
    });
    await tx.pipelineVersion.create({
      data: {
        pipelineId: webDelivery.id,
        version: 1,
        yaml: demoYaml,
        spec: demo.pipeline as object,
        message: "Demo pipeline",
        authorId: maintainer.id,
      },
    });

    // Another tenant, invisible to every Acme user.
    const globex = await tx.organization.create({ data: { slug: "globex", name: "Globex Inc" } });
    await tx.project.create({ data: { organizationId: globex.id, slug: "billing", name: "Billing" } });
    const owner = await tx.user.create({
      data: { email: `owner@globex.${DEMO_EMAIL_DOMAIN}`, name: "Gia Globex", passwordHash },
    });
    await tx.membership.create({ data: { organizationId: globex.id, userId: owner.id, role: "owner" } });
    logins.push({ email: owner.email, role: "owner", scope: "organization globex" });
    return true;
  });

  return seeded ? { seeded: true, password, logins } : { seeded: false, logins: [] };
}
