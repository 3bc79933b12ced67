-- CreateEnum
CREATE TYPE "PolicyEffect" AS ENUM ('allow', 'deny');

-- AlterTable
ALTER TABLE "memberships" ADD COLUMN     "condition" VARCHAR(4096),
ADD COLUMN     "custom_role_id" UUID,
ADD COLUMN     "environment" VARCHAR(64),
ADD COLUMN     "resource_id" VARCHAR(200),
ADD COLUMN     "resource_type" VARCHAR(64),
ALTER COLUMN "role" DROP NOT NULL;

-- CreateTable
CREATE TABLE "custom_roles" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "slug" VARCHAR(64) NOT NULL,
    "name" VARCHAR(120) NOT NULL,
    "description" VARCHAR(2000) NOT NULL DEFAULT '',
    "permissions" VARCHAR(64)[] DEFAULT ARRAY[]::VARCHAR(64)[],
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "custom_roles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "authz_policies" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "project_id" UUID,
    "environment" VARCHAR(64),
    "resource_type" VARCHAR(64),
    "resource_id" VARCHAR(200),
    "name" VARCHAR(64) NOT NULL,
    "description" VARCHAR(2000) NOT NULL DEFAULT '',
    "effect" "PolicyEffect" NOT NULL,
    "guardrail" BOOLEAN NOT NULL DEFAULT false,
    "actions" VARCHAR(64)[] DEFAULT ARRAY[]::VARCHAR(64)[],
    "resource_types" VARCHAR(64)[] DEFAULT ARRAY[]::VARCHAR(64)[],
    "subjects" VARCHAR(100)[] DEFAULT ARRAY[]::VARCHAR(100)[],
    "condition" VARCHAR(4096),
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "tests" JSONB NOT NULL DEFAULT '[]',
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "authz_policies_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "authz_decision_events" (
    "seq" BIGSERIAL NOT NULL,
    "decision_id" UUID NOT NULL,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "path" VARCHAR(200) NOT NULL,
    "revision" BIGINT NOT NULL,
    "organization_id" UUID,
    "project_id" VARCHAR(200),
    "environment" VARCHAR(64),
    "principal_type" VARCHAR(32) NOT NULL,
    "principal_id" VARCHAR(200) NOT NULL,
    "action" VARCHAR(100) NOT NULL,
    "resource_type" VARCHAR(64) NOT NULL,
    "resource_id" VARCHAR(200),
    "allow" BOOLEAN NOT NULL,
    "reason_code" VARCHAR(32) NOT NULL,
    "reason" VARCHAR(1000) NOT NULL,
    "policy_id" UUID,
    "binding_id" UUID,
    "scope" VARCHAR(16),
    "latency_us" REAL NOT NULL,

    CONSTRAINT "authz_decision_events_pkey" PRIMARY KEY ("seq")
);

-- CreateIndex
CREATE UNIQUE INDEX "custom_roles_organization_id_slug_key" ON "custom_roles"("organization_id", "slug");

-- CreateIndex
CREATE UNIQUE INDEX "authz_policies_organization_id_name_key" ON "authz_policies"("organization_id", "name");

-- CreateIndex
CREATE UNIQUE INDEX "authz_decision_events_decision_id_key" ON "authz_decision_events"("decision_id");

-- CreateIndex
CREATE INDEX "authz_decision_events_organization_id_occurred_at_idx" ON "authz_decision_events"("organization_id", "occurred_at");

-- CreateIndex
CREATE INDEX "authz_decision_events_principal_id_occurred_at_idx" ON "authz_decision_events"("principal_id", "occurred_at");

-- CreateIndex
CREATE INDEX "authz_decision_events_occurred_at_idx" ON "authz_decision_events"("occurred_at");

-- CreateIndex
CREATE INDEX "memberships_custom_role_id_idx" ON "memberships"("custom_role_id");

-- AddForeignKey
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_custom_role_id_fkey" FOREIGN KEY ("custom_role_id") REFERENCES "custom_roles"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "custom_roles" ADD CONSTRAINT "custom_roles_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "authz_policies" ADD CONSTRAINT "authz_policies_organization_id_fkey" FOREIGN KEY ("organization_id") REFERENCES "organizations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "authz_policies" ADD CONSTRAINT "authz_policies_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: what schema.prisma cannot express. Prisma's diff ignores CHECK constraints,
-- sequences, functions and triggers, so later generated migrations leave these alone.

-- A binding names exactly one role (built-in or custom); an environment lives in a project; a
-- resource scope names both the type and the id.
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_one_role_check" CHECK (num_nonnulls("role", "custom_role_id") = 1);
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_environment_project_check" CHECK ("environment" IS NULL OR "project_id" IS NOT NULL);
ALTER TABLE "memberships" ADD CONSTRAINT "memberships_resource_pair_check" CHECK (("resource_type" IS NULL) = ("resource_id" IS NULL));
ALTER TABLE "authz_policies" ADD CONSTRAINT "authz_policies_environment_project_check" CHECK ("environment" IS NULL OR "project_id" IS NOT NULL);
ALTER TABLE "authz_policies" ADD CONSTRAINT "authz_policies_resource_pair_check" CHECK (("resource_type" IS NULL) = ("resource_id" IS NULL));
-- Guardrails are organization-wide denies.
ALTER TABLE "authz_policies" ADD CONSTRAINT "authz_policies_guardrail_check" CHECK (NOT "guardrail" OR ("effect" = 'deny' AND "project_id" IS NULL AND "resource_id" IS NULL));

-- Tenant integrity in the database, not only in the service: the project, team and custom role a
-- binding or policy names belong to the binding's own organization.
CREATE FUNCTION "authz_check_same_organization"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."project_id" IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM "projects" WHERE "id" = NEW."project_id" AND "organization_id" = NEW."organization_id") THEN
        RAISE EXCEPTION '%: project % is not in organization %', TG_TABLE_NAME, NEW."project_id", NEW."organization_id"
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF TG_TABLE_NAME = 'memberships' THEN
        IF NEW."team_id" IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM "teams" WHERE "id" = NEW."team_id" AND "organization_id" = NEW."organization_id") THEN
            RAISE EXCEPTION 'memberships: team % is not in organization %', NEW."team_id", NEW."organization_id"
                USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF NEW."custom_role_id" IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM "custom_roles" WHERE "id" = NEW."custom_role_id" AND "organization_id" = NEW."organization_id") THEN
            RAISE EXCEPTION 'memberships: role % is not in organization %', NEW."custom_role_id", NEW."organization_id"
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "memberships_same_organization" BEFORE INSERT OR UPDATE ON "memberships"
    FOR EACH ROW EXECUTE FUNCTION "authz_check_same_organization"();
CREATE TRIGGER "authz_policies_same_organization" BEFORE INSERT OR UPDATE ON "authz_policies"
    FOR EACH ROW EXECUTE FUNCTION "authz_check_same_organization"();

-- Hot reload. Every change to what the authorization engine reads advances the rule revision and
-- notifies channel microstack_authz with the organization id ('' when unknown: reload all).
-- PostgreSQL delivers notifications at commit and folds identical payloads of one transaction,
-- so a bulk change of one organization wakes each process once.
CREATE SEQUENCE "authz_revision_seq";

CREATE FUNCTION "authz_rules_changed"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org uuid;
BEGIN
    PERFORM nextval('authz_revision_seq');
    IF TG_TABLE_NAME = 'team_members' THEN
        IF TG_OP = 'DELETE' THEN
            SELECT "organization_id" INTO org FROM "teams" WHERE "id" = OLD."team_id";
        ELSE
            SELECT "organization_id" INTO org FROM "teams" WHERE "id" = NEW."team_id";
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        org := OLD."organization_id";
    ELSE
        org := NEW."organization_id";
        IF TG_OP = 'UPDATE' AND OLD."organization_id" IS DISTINCT FROM NEW."organization_id" THEN
            PERFORM pg_notify('microstack_authz', OLD."organization_id"::text);
        END IF;
    END IF;
    PERFORM pg_notify('microstack_authz', COALESCE(org::text, ''));
    RETURN NULL;
END;
$$;

CREATE TRIGGER "memberships_authz_changed" AFTER INSERT OR UPDATE OR DELETE ON "memberships"
    FOR EACH ROW EXECUTE FUNCTION "authz_rules_changed"();
CREATE TRIGGER "custom_roles_authz_changed" AFTER INSERT OR UPDATE OR DELETE ON "custom_roles"
    FOR EACH ROW EXECUTE FUNCTION "authz_rules_changed"();
CREATE TRIGGER "authz_policies_authz_changed" AFTER INSERT OR UPDATE OR DELETE ON "authz_policies"
    FOR EACH ROW EXECUTE FUNCTION "authz_rules_changed"();
CREATE TRIGGER "team_members_authz_changed" AFTER INSERT OR UPDATE OR DELETE ON "team_members"
    FOR EACH ROW EXECUTE FUNCTION "authz_rules_changed"();
