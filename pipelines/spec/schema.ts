// The pipeline document: zod schemas (the source of truth for types, validation and the JSON
// Schema editors load) and the step-kind registry. Every object is strict: an unknown key is an
// error, reported with the closest valid key (see validate.ts), because a typo such as `nedds`
// silently ignored is a step that runs too early.
import { z } from "zod";

/**
 * Limits against abuse, not against real pipelines: a run of 10,000 steps, a step with 1,000
 * needs and a 1,024-way matrix are all well inside them (GitLab caps needs at 50 and matrices
 * at 200, GitHub matrices at 256; we do not).
 */
export const PIPELINE_LIMITS = {
  /** Steps plus handlers in one document. */
  maxSteps: 50_000,
  /** Instances of one matrix step after include/exclude. */
  maxMatrixInstances: 4_096,
  /** The cartesian product of the axes before exclude: what expansion has to walk. */
  maxMatrixProduct: 65_536,
  /** Step instances of one run, matrices expanded. */
  maxRunInstances: 100_000,
  maxIdLength: 100,
  maxExpressionLength: 4_096,
  maxRetries: 100,
} as const;

export const STEP_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;

const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `90s`, `10m`, `1h30m`, `2d`, `500ms`; null if malformed. */
export function parseDuration(text: string): number | null {
  if (!DURATION_PATTERN.test(text)) return null;
  let total = 0;
  for (const match of text.matchAll(DURATION_PART)) {
    total += Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ""] ?? 0);
  }
  return total;
}

/** Descriptions and ids for the generated JSON Schema; kept apart from zod's global registry. */
export const pipelineSchemaMetadata = z.registry<{ description?: string; id?: string; title?: string }>();

/** A described copy: shared building blocks (ExpressionSchema, ...) keep no description. */
function documented<T extends z.ZodType>(schema: T, description: string, id?: string): T {
  const copy = schema.clone() as T;
  pipelineSchemaMetadata.add(copy, id === undefined ? { description } : { description, id });
  return copy;
}

const quoted = (input: unknown) => (typeof input === "string" ? JSON.stringify(input) : String(input));

export const StepIdSchema = z
  .string()
  .max(PIPELINE_LIMITS.maxIdLength)
  .regex(STEP_ID_PATTERN, {
    error: (issue) =>
      `${quoted(issue.input)} is not a valid id: use letters, digits, "_" and "-", starting with a letter or "_"`,
  });

const NameSchema = z
  .string()
  .max(PIPELINE_LIMITS.maxIdLength)
  .regex(NAME_PATTERN, {
    error: (issue) =>
      `${quoted(issue.input)} is not a valid name: use letters, digits, "_" and "-", starting with a letter or "_"`,
  });

const EnvNameSchema = z.string().regex(ENV_NAME_PATTERN, {
  error: (issue) =>
    `${quoted(issue.input)} is not a valid variable name: use letters, digits and "_", starting with a letter or "_"`,
});

export const DurationSchema = documented(
  z.string().regex(DURATION_PATTERN, {
    error: (issue) => `${quoted(issue.input)} is not a duration: write it like 30s, 10m, 1h30m or 2d`,
  }),
  "A duration: a number and a unit (ms, s, m, h, d), repeated: 30s, 10m, 1h30m, 2d.",
);

const ExpressionSchema = z.string().trim().min(1).max(PIPELINE_LIMITS.maxExpressionLength);

const ScalarSchema = z.union([z.string(), z.number(), z.boolean()]);

export const EnvSchema = documented(
  z.record(EnvNameSchema, ScalarSchema),
  `Environment variables. Values may use \${{ }} interpolations, including \${{ secrets.NAME }}.`,
);

const PrincipalsSchema = z.strictObject({
  users: z.array(z.string().trim().min(1).max(200)).optional(),
  teams: z.array(z.string().trim().min(1).max(200)).optional(),
  roles: z.array(z.string().trim().min(1).max(200)).optional(),
});

export const ParamSchema = documented(
  z.strictObject({
    type: z.enum(["string", "integer", "number", "boolean"]),
    description: z.string().max(2_000).optional(),
    default: ScalarSchema.optional(),
    required: z.boolean().optional(),
    options: z
      .array(z.union([z.string(), z.number()]))
      .min(1)
      .optional(),
  }),
  "A typed run parameter: a manual run asks for it, schedules and webhooks supply it. Read it in conditions as params.NAME.",
);

const ParamValuesSchema = z.record(NameSchema, ScalarSchema);

export const ScheduleTriggerSchema = z.strictObject({
  cron: documented(
    z.string().trim().min(1),
    "Five cron fields (minute hour day-of-month month day-of-week) or @daily etc.",
  ),
  timezone: documented(
    z.string().trim().min(1),
    "An IANA time zone such as Europe/Berlin; UTC when omitted.",
  ).optional(),
  params: ParamValuesSchema.optional(),
  description: z.string().max(2_000).optional(),
});

export const WebhookTriggerSchema = z.strictObject({
  id: StepIdSchema,
  secret: documented(z.string().min(1), `The HMAC secret, always a reference: \${{ secrets.NAME }}.`),
  if: documented(ExpressionSchema, "CEL over payload and headers; the hook starts a run only when true.").optional(),
  params: ParamValuesSchema.optional(),
  description: z.string().max(2_000).optional(),
});

export const TriggersSchema = z.strictObject({
  manual: documented(z.boolean(), "Whether people may start runs by hand (default true).").optional(),
  schedule: z.array(ScheduleTriggerSchema).optional(),
  webhook: z.array(WebhookTriggerSchema).optional(),
});

const PositiveIntSchema = z.number().int().min(1);

export const ConcurrencySchema = documented(
  z.union([
    PositiveIntSchema,
    z.strictObject({
      steps: documented(PositiveIntSchema, "Steps of this pipeline running at once, across its runs.").optional(),
      runs: documented(PositiveIntSchema, "Runs of this pipeline at once; later runs queue.").optional(),
      "cancel-in-progress": documented(
        z.boolean(),
        "A new run cancels the running one instead of queueing.",
      ).optional(),
    }),
  ]),
  "Caps on parallelism; a number caps steps. The project's own cap applies too.",
);

export const StageSchema = z.strictObject({
  id: StepIdSchema,
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(2_000).optional(),
});

const MatrixValueSchema = z.union([z.string(), z.number(), z.boolean()]);

export const MatrixSchema = documented(
  z.strictObject({
    axes: z.record(NameSchema, z.array(MatrixValueSchema).min(1)).optional(),
    include: z.array(z.record(NameSchema, MatrixValueSchema)).optional(),
    exclude: z.array(z.record(NameSchema, MatrixValueSchema)).optional(),
    "max-parallel": PositiveIntSchema.optional(),
    "fail-fast": z.boolean().optional(),
  }),
  "Runs the step once per combination of the axes (GitHub Actions semantics for include/exclude). Read values as matrix.NAME.",
);

export const RetrySchema = documented(
  z.union([
    z.number().int().min(0).max(PIPELINE_LIMITS.maxRetries),
    z.strictObject({
      max: z.number().int().min(0).max(PIPELINE_LIMITS.maxRetries),
      backoff: z
        .strictObject({
          delay: DurationSchema.optional(),
          factor: z.number().min(1).max(10).optional(),
          "max-delay": DurationSchema.optional(),
        })
        .optional(),
      "exit-codes": documented(
        z.array(z.number().int().min(0).max(255)).min(1),
        "Retry only when the step exits with one of these codes.",
      ).optional(),
    }),
  ]),
  "Retries after a failure: a count, or {max, backoff, exit-codes}.",
);

export const ArtifactsSchema = z.strictObject({
  save: z
    .array(
      z.strictObject({
        name: NameSchema,
        paths: z.array(z.string().trim().min(1)).min(1),
        "expire-in": DurationSchema.optional(),
      }),
    )
    .optional(),
  fetch: z
    .array(
      z.strictObject({
        from: StepIdSchema,
        name: NameSchema.optional(),
        path: z.string().trim().min(1).optional(),
      }),
    )
    .optional(),
});

export const ApprovalSchema = documented(
  z.strictObject({
    approvers: PrincipalsSchema,
    "min-approvals": PositiveIntSchema.max(100).optional(),
    timeout: DurationSchema.optional(),
    environment: documented(
      z.string().trim().min(1),
      "The environment whose protection rules (required reviewers, freeze windows) also apply.",
    ).optional(),
    "allow-self-approval": z.boolean().optional(),
    message: z.string().max(10_000).optional(),
  }),
  "Waits for people to approve: N of the listed users/teams/roles, never the run's author unless allowed.",
);

export const GateSchema = documented(
  z.strictObject({
    condition: documented(ExpressionSchema, "CEL over params, env, steps, metrics, now, started and elapsed."),
    metrics: z
      .record(
        NameSchema,
        z.strictObject({ query: z.string().trim().min(1), source: z.string().trim().min(1).optional() }),
      )
      .optional(),
    interval: DurationSchema.optional(),
    timeout: DurationSchema.optional(),
  }),
  "Waits until a CEL condition is true, re-evaluated every interval; fails at the timeout.",
);

export const ManualSchema = z.strictObject({
  message: z.string().max(10_000).optional(),
  allowed: PrincipalsSchema.optional(),
  timeout: DurationSchema.optional(),
});

const RefsSchema = z.union([StepIdSchema, z.array(StepIdSchema)]);

/** The keys that make a step one kind or another; exactly one per step. */
export const STEP_KIND_KEYS = ["run", "uses", "approval", "gate", "manual"] as const;
export type StepKindKey = (typeof STEP_KIND_KEYS)[number];

export const StepSchema = documented(
  z.strictObject({
    id: StepIdSchema,
    name: z.string().trim().min(1).max(200).optional(),
    description: z.string().max(2_000).optional(),
    stage: StepIdSchema.optional(),
    needs: documented(RefsSchema, "Steps that must finish first; the DAG gives all other ordering.").optional(),
    if: documented(
      z.union([ExpressionSchema, z.boolean()]),
      "CEL condition; success() is implied unless it calls always(), failure(), success() or cancelled().",
    ).optional(),
    env: EnvSchema.optional(),
    timeout: DurationSchema.optional(),
    retry: RetrySchema.optional(),
    "continue-on-error": z.boolean().optional(),
    matrix: MatrixSchema.optional(),
    outputs: documented(
      z.array(NameSchema),
      "Output names the step writes as key=value lines; later steps read steps.ID.outputs.NAME.",
    ).optional(),
    artifacts: ArtifactsSchema.optional(),
    "on-failure": documented(RefsSchema, "Handlers to run when this step fails.").optional(),
    rollback: documented(StepIdSchema, "A handler to run when a later step fails after this one succeeded.").optional(),
    run: documented(z.string().min(1), "A shell script.").optional(),
    image: documented(z.string().trim().min(1), "Container image for container executors.").optional(),
    shell: z.enum(["bash", "sh", "pwsh", "python"]).optional(),
    "working-directory": z.string().trim().min(1).optional(),
    uses: documented(
      z.string().trim().min(1),
      "A registered step kind: checkout, http, notify, sleep, noop, ...",
    ).optional(),
    with: documented(z.record(z.string(), z.unknown()), "Inputs of the step kind named by uses.").optional(),
    approval: ApprovalSchema.optional(),
    gate: GateSchema.optional(),
    manual: z.union([z.literal(true), ManualSchema]).optional(),
  }),
  "A step: one of run, uses, approval, gate or manual.",
  "Step",
);

export const PipelineSchema = documented(
  z.strictObject({
    version: z.literal(1).optional(),
    name: z.string().trim().min(1).max(200),
    description: z.string().max(10_000).optional(),
    params: z.record(NameSchema, ParamSchema).optional(),
    triggers: TriggersSchema.optional(),
    env: EnvSchema.optional(),
    concurrency: ConcurrencySchema.optional(),
    timeout: DurationSchema.optional(),
    stages: documented(z.array(StageSchema), "Optional grouping for display; order comes from needs.").optional(),
    steps: z.array(StepSchema).min(1),
    handlers: documented(
      z.array(StepSchema),
      "Steps outside the DAG, run only when referenced by on-failure, rollback or finally.",
    ).optional(),
    "on-failure": documented(RefsSchema, "Handlers to run when the run fails.").optional(),
    finally: documented(RefsSchema, "Handlers to run at the end of every run.").optional(),
  }),
  "A Microstack pipeline.",
);

export type Pipeline = z.output<typeof PipelineSchema>;
export type Step = z.output<typeof StepSchema>;
export type Stage = z.output<typeof StageSchema>;
export type Param = z.output<typeof ParamSchema>;
export type Matrix = z.output<typeof MatrixSchema>;
export type MatrixValue = z.output<typeof MatrixValueSchema>;
export type Retry = z.output<typeof RetrySchema>;
export type Approval = z.output<typeof ApprovalSchema>;
export type Gate = z.output<typeof GateSchema>;
export type Triggers = z.output<typeof TriggersSchema>;

/** The kind of a step: the one kind key it carries (undefined when it has none or several). */
export function stepKindOf(step: Partial<Record<string, unknown>>): StepKindKey | undefined {
  let found: StepKindKey | undefined;
  for (const key of STEP_KIND_KEYS) {
    if (step[key] === undefined) continue;
    if (found !== undefined) return undefined;
    found = key;
  }
  return found;
}

/** A `needs` or `on-failure` value as a list. */
export function refList(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? [value] : value;
}

// ---------------------------------------------------------------------------------------------
// Step kinds: what `uses:` may name. Extensible: a module registers its kind with the zod schema
// of its `with` inputs; validation checks inputs against it and the JSON Schema embeds it.

export interface StepKind<TInputs extends z.ZodType = z.ZodType> {
  /** `checkout`, or `vendor/name` for kinds from an extension. */
  readonly name: string;
  readonly description: string;
  /** Schema of `with`; use z.strictObject so typos in inputs are reported. */
  readonly inputs: TInputs;
  /** Output names the kind writes, readable as steps.ID.outputs.NAME. */
  readonly outputs?: readonly string[];
}

export const STEP_KIND_NAME_PATTERN = /^[a-z][a-z0-9-]*(?:\/[a-z][a-z0-9-]*)?$/;

export class StepKindRegistry {
  readonly #kinds = new Map<string, StepKind>();

  register<TInputs extends z.ZodType>(kind: StepKind<TInputs>): this {
    if (!STEP_KIND_NAME_PATTERN.test(kind.name)) {
      throw new Error(
        `step kind name "${kind.name}" must be lower-case letters, digits and "-", optionally vendor/name`,
      );
    }
    if (this.#kinds.has(kind.name)) throw new Error(`step kind "${kind.name}" is already registered`);
    this.#kinds.set(kind.name, kind);
    return this;
  }

  get(name: string): StepKind | undefined {
    return this.#kinds.get(name);
  }

  names(): string[] {
    return [...this.#kinds.keys()];
  }

  list(): StepKind[] {
    return [...this.#kinds.values()];
  }
}

export function defineStepKind<TInputs extends z.ZodType>(kind: StepKind<TInputs>): StepKind<TInputs> {
  return kind;
}

export const BUILTIN_STEP_KINDS: readonly StepKind[] = [
  defineStepKind({
    name: "checkout",
    description: "Check out the project's repository (or another one) into the workspace.",
    inputs: z.strictObject({
      repository: z.string().trim().min(1).optional(),
      ref: z.string().trim().min(1).optional(),
      path: z.string().trim().min(1).optional(),
      depth: z.number().int().min(0).optional(),
      submodules: z.boolean().optional(),
    }),
    outputs: ["commit", "ref"],
  }),
  defineStepKind({
    name: "http",
    description: "Send an HTTP request; fails unless the status is expected (2xx by default).",
    inputs: z.strictObject({
      url: z.string().trim().min(1),
      method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]).optional(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
      "expect-status": z.array(z.number().int().min(100).max(599)).min(1).optional(),
      timeout: DurationSchema.optional(),
    }),
    outputs: ["status", "body"],
  }),
  defineStepKind({
    name: "notify",
    description: "Send a message to a chat channel, email addresses or a webhook.",
    inputs: z.strictObject({
      channel: z.enum(["slack", "teams", "email", "webhook"]),
      to: z.union([z.string().trim().min(1), z.array(z.string().trim().min(1)).min(1)]),
      message: z.string().min(1),
      title: z.string().optional(),
    }),
  }),
  defineStepKind({
    name: "sleep",
    description: "Wait for a fixed time.",
    inputs: z.strictObject({ duration: DurationSchema }),
  }),
  defineStepKind({
    name: "noop",
    description: "Do nothing; a join point or placeholder in the graph.",
    inputs: z.strictObject({}),
  }),
];

export function createStepKindRegistry(kinds: readonly StepKind[] = BUILTIN_STEP_KINDS): StepKindRegistry {
  const registry = new StepKindRegistry();
  for (const kind of kinds) registry.register(kind);
  return registry;
}

/** The process-wide registry that parsePipeline uses unless given another. */
export const stepKinds = createStepKindRegistry();

export function registerStepKind<TInputs extends z.ZodType>(kind: StepKind<TInputs>): StepKind<TInputs> {
  stepKinds.register(kind);
  return kind;
}

/** Outputs of built-in kinds that are not `uses` kinds. */
export const KIND_OUTPUTS: Readonly<Record<Exclude<StepKindKey, "run" | "uses">, readonly string[]>> = {
  approval: ["decision", "approved_by", "comment"],
  gate: [],
  manual: ["started_by"],
};
