-- AlterTable
ALTER TABLE "projects" ADD COLUMN     "log_retention_days" INTEGER,
ADD COLUMN     "max_active_runs" INTEGER,
ADD COLUMN     "max_running_steps" INTEGER;

-- CreateTable
CREATE TABLE "pipelines" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "slug" VARCHAR(64) NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "description" VARCHAR(10000) NOT NULL DEFAULT '',
    "current_version" INTEGER NOT NULL DEFAULT 1,
    "run_count" INTEGER NOT NULL DEFAULT 0,
    "created_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "pipelines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pipeline_versions" (
    "id" UUID NOT NULL,
    "pipeline_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "yaml" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "message" VARCHAR(2000) NOT NULL DEFAULT '',
    "author_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pipeline_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "runs" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "pipeline_id" UUID NOT NULL,
    "pipeline_version_id" UUID NOT NULL,
    "number" INTEGER NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "phase" VARCHAR(16) NOT NULL,
    "run_attempt" INTEGER NOT NULL DEFAULT 1,
    "version" INTEGER NOT NULL DEFAULT 0,
    "trigger" VARCHAR(16) NOT NULL,
    "started_by_id" UUID,
    "params" JSONB NOT NULL DEFAULT '{}',
    "state" JSONB NOT NULL,
    "admitted" BOOLEAN NOT NULL DEFAULT false,
    "step_count" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "runs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_steps" (
    "run_id" UUID NOT NULL,
    "idx" INTEGER NOT NULL,
    "instance" VARCHAR(500) NOT NULL,
    "step_id" VARCHAR(100) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "waiting_for" VARCHAR(16),
    "notice" VARCHAR(10000),
    "state" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_steps_pkey" PRIMARY KEY ("run_id","idx")
);

-- CreateTable
CREATE TABLE "run_step_claims" (
    "run_id" UUID NOT NULL,
    "idx" INTEGER NOT NULL,
    "attempt" INTEGER NOT NULL,
    "executor_id" UUID NOT NULL,
    "pid" INTEGER,
    "claimed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_step_claims_pkey" PRIMARY KEY ("run_id","idx","attempt")
);

-- CreateTable
CREATE TABLE "run_executors" (
    "id" UUID NOT NULL,
    "hostname" VARCHAR(255) NOT NULL,
    "pid" INTEGER NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "heartbeat_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "run_executors_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_log_chunks" (
    "id" BIGSERIAL NOT NULL,
    "run_id" UUID NOT NULL,
    "idx" INTEGER NOT NULL,
    "attempt" INTEGER NOT NULL,
    "first_seq" INTEGER NOT NULL,
    "last_seq" INTEGER NOT NULL,
    "first_at" TIMESTAMPTZ(3) NOT NULL,
    "content" TEXT NOT NULL,
    "streams" TEXT NOT NULL,
    "offsets" INTEGER[],
    "bytes" INTEGER NOT NULL,

    CONSTRAINT "run_log_chunks_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "run_artifacts" (
    "id" UUID NOT NULL,
    "run_id" UUID NOT NULL,
    "instance" VARCHAR(500) NOT NULL,
    "attempt" INTEGER NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "files" INTEGER NOT NULL,
    "bytes" BIGINT NOT NULL,
    "store_path" VARCHAR(1000) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),

    CONSTRAINT "run_artifacts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "project_secrets" (
    "id" UUID NOT NULL,
    "organization_id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "name" VARCHAR(100) NOT NULL,
    "envelope" TEXT NOT NULL,
    "description" VARCHAR(2000) NOT NULL DEFAULT '',
    "updated_by_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "project_secrets_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "pipelines_organization_id_idx" ON "pipelines"("organization_id");

-- CreateIndex
CREATE UNIQUE INDEX "pipelines_project_id_slug_key" ON "pipelines"("project_id", "slug");

-- CreateIndex
CREATE UNIQUE INDEX "pipeline_versions_pipeline_id_version_key" ON "pipeline_versions"("pipeline_id", "version");

-- CreateIndex
CREATE INDEX "runs_project_id_created_at_idx" ON "runs"("project_id", "created_at");

-- CreateIndex
CREATE INDEX "runs_status_idx" ON "runs"("status");

-- CreateIndex
CREATE UNIQUE INDEX "runs_pipeline_id_number_key" ON "runs"("pipeline_id", "number");

-- CreateIndex
CREATE INDEX "run_steps_waiting_for_idx" ON "run_steps"("waiting_for");

-- CreateIndex
CREATE UNIQUE INDEX "run_steps_run_id_instance_key" ON "run_steps"("run_id", "instance");

-- CreateIndex
CREATE INDEX "run_step_claims_executor_id_idx" ON "run_step_claims"("executor_id");

-- CreateIndex
CREATE INDEX "run_log_chunks_run_id_idx_attempt_first_seq_idx" ON "run_log_chunks"("run_id", "idx", "attempt", "first_seq");

-- CreateIndex
CREATE UNIQUE INDEX "run_artifacts_run_id_instance_attempt_name_key" ON "run_artifacts"("run_id", "instance", "attempt", "name");

-- CreateIndex
CREATE UNIQUE INDEX "project_secrets_project_id_name_key" ON "project_secrets"("project_id", "name");

-- AddForeignKey
ALTER TABLE "pipelines" ADD CONSTRAINT "pipelines_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "pipeline_versions" ADD CONSTRAINT "pipeline_versions_pipeline_id_fkey" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_pipeline_id_fkey" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "runs" ADD CONSTRAINT "runs_pipeline_version_id_fkey" FOREIGN KEY ("pipeline_version_id") REFERENCES "pipeline_versions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_steps" ADD CONSTRAINT "run_steps_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_step_claims" ADD CONSTRAINT "run_step_claims_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_log_chunks" ADD CONSTRAINT "run_log_chunks_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "run_artifacts" ADD CONSTRAINT "run_artifacts_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "runs"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "project_secrets" ADD CONSTRAINT "project_secrets_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Hand-written: what Prisma cannot express.

-- Statuses the engine (pipelines/engine/types.ts) knows; anything else is a bug, refused here.
ALTER TABLE "runs" ADD CONSTRAINT "runs_status_check"
    CHECK ("status" IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled', 'timed_out'));
ALTER TABLE "runs" ADD CONSTRAINT "runs_phase_check"
    CHECK ("phase" IN ('dag', 'rollback', 'on-failure', 'finally', 'done'));
ALTER TABLE "runs" ADD CONSTRAINT "runs_trigger_check"
    CHECK ("trigger" IN ('manual', 'api', 'schedule', 'webhook', 'rerun'));
ALTER TABLE "run_steps" ADD CONSTRAINT "run_steps_status_check"
    CHECK ("status" IN ('queued', 'waiting', 'running', 'succeeded', 'failed', 'skipped', 'cancelled', 'timed_out'));
ALTER TABLE "run_log_chunks" ADD CONSTRAINT "run_log_chunks_seq_check"
    CHECK ("first_seq" >= 1 AND "last_seq" >= "first_seq");
ALTER TABLE "projects" ADD CONSTRAINT "projects_caps_check"
    CHECK (("max_active_runs" IS NULL OR "max_active_runs" >= 1)
       AND ("max_running_steps" IS NULL OR "max_running_steps" >= 1)
       AND ("log_retention_days" IS NULL OR "log_retention_days" >= 1));
ALTER TABLE "project_secrets" ADD CONSTRAINT "project_secrets_name_check"
    CHECK ("name" ~ '^[A-Za-z_][A-Za-z0-9_]*$');

-- Tenancy: a pipeline, a run and a secret carry their organization (and project) for queries
-- and authorization; they must be those of the project (or pipeline) they belong to.
CREATE FUNCTION "runs_check_same_tenant"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'runs' THEN
        IF NOT EXISTS (SELECT 1 FROM "pipelines" WHERE "id" = NEW."pipeline_id"
                AND "project_id" = NEW."project_id" AND "organization_id" = NEW."organization_id") THEN
            RAISE EXCEPTION 'runs: pipeline % is not in project % of organization %',
                NEW."pipeline_id", NEW."project_id", NEW."organization_id" USING ERRCODE = 'foreign_key_violation';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM "pipeline_versions" WHERE "id" = NEW."pipeline_version_id"
                AND "pipeline_id" = NEW."pipeline_id") THEN
            RAISE EXCEPTION 'runs: version % is not of pipeline %', NEW."pipeline_version_id", NEW."pipeline_id"
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    ELSIF NOT EXISTS (SELECT 1 FROM "projects" WHERE "id" = NEW."project_id"
            AND "organization_id" = NEW."organization_id") THEN
        RAISE EXCEPTION '%: project % is not in organization %', TG_TABLE_NAME, NEW."project_id", NEW."organization_id"
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER "pipelines_same_tenant" BEFORE INSERT OR UPDATE OF "project_id", "organization_id" ON "pipelines"
    FOR EACH ROW EXECUTE FUNCTION "runs_check_same_tenant"();
CREATE TRIGGER "runs_same_tenant" BEFORE INSERT OR UPDATE OF "pipeline_id", "pipeline_version_id", "project_id", "organization_id" ON "runs"
    FOR EACH ROW EXECUTE FUNCTION "runs_check_same_tenant"();
CREATE TRIGGER "project_secrets_same_tenant" BEFORE INSERT OR UPDATE OF "project_id", "organization_id" ON "project_secrets"
    FOR EACH ROW EXECUTE FUNCTION "runs_check_same_tenant"();

-- Active runs are what the caps and the reconciler look at: keep that scan small.
CREATE INDEX "runs_active_idx" ON "runs" ("pipeline_id", "created_at") WHERE "status" IN ('queued', 'running', 'waiting');
CREATE INDEX "runs_unfinished_project_idx" ON "runs" ("project_id") WHERE "status" IN ('queued', 'running', 'waiting');

-- Live events across replicas (socket.io's PostgreSQL adapter, used when DATABASE_URL is set):
-- payloads too large for NOTIFY (8000 bytes) travel through this table, deleted after a while.
CREATE TABLE "socket_io_attachments" (
    "id" BIGSERIAL UNIQUE,
    "created_at" TIMESTAMPTZ DEFAULT now(),
    "payload" BYTEA
);

-- Schedule triggers: the last fire of each.
CREATE TABLE "pipeline_schedule_fires" (
    "pipeline_id" UUID NOT NULL,
    "schedule_key" VARCHAR(300) NOT NULL,
    "last_fire_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "pipeline_schedule_fires_pkey" PRIMARY KEY ("pipeline_id","schedule_key")
);

-- AddForeignKey
ALTER TABLE "pipeline_schedule_fires" ADD CONSTRAINT "pipeline_schedule_fires_pipeline_id_fkey" FOREIGN KEY ("pipeline_id") REFERENCES "pipelines"("id") ON DELETE CASCADE ON UPDATE CASCADE;
