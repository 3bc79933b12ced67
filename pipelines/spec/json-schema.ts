// The JSON Schema editors load (VS Code's YAML extension, Monaco) for completion and hover
// docs, generated from the zod schema so the two never drift. Each registered step kind adds an
// if/then rule, so `with:` completes and checks the inputs of the kind named by `uses:`.
// The schema describes shape only; the semantic rules (graph, CEL scopes, matrix sizes) live in
// validate.ts and reach editors through parsePipeline's diagnostics.
import { z } from "zod";
import { PipelineSchema, pipelineSchemaMetadata, type StepKindRegistry, stepKinds } from "./schema";

export const PIPELINE_SCHEMA_ID = "https://microstack.dev/schemas/pipeline-v1.json";

type JsonSchema = Record<string, unknown>;

/** A whole-value ${{ }} is accepted for any input: its type is known at run time only. */
const INTERPOLATION: JsonSchema = { type: "string", pattern: "^\\s*\\$\\{\\{[\\s\\S]*\\}\\}\\s*$" };

function inputsSchema(inputs: z.ZodType): JsonSchema {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(inputs, {
    io: "input",
    unrepresentable: "any",
    metadata: pipelineSchemaMetadata,
  }) as JsonSchema;
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [name, property] of Object.entries(properties)) {
    if (property.type !== "string") properties[name] = { anyOf: [property, INTERPOLATION] };
  }
  return schema;
}

export function pipelineJsonSchema(registry: StepKindRegistry = stepKinds): JsonSchema {
  const schema = z.toJSONSchema(PipelineSchema, {
    io: "input",
    target: "draft-2020-12",
    unrepresentable: "any",
    metadata: pipelineSchemaMetadata,
  }) as JsonSchema;
  const defs = (schema.$defs ?? {}) as Record<string, JsonSchema>;
  const step = defs.Step;
  if (step === undefined) throw new Error("the Step schema is missing from the generated JSON Schema");
  const properties = step.properties as Record<string, JsonSchema>;
  const kinds = registry.list();
  properties.uses = {
    ...properties.uses,
    // Known kinds complete in editors; other names stay possible (validation reports them).
    anyOf: [{ enum: kinds.map((kind) => kind.name) }, { type: "string" }],
  };
  step.allOf = kinds.map((kind) => ({
    if: { properties: { uses: { const: kind.name } }, required: ["uses"] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keywords, not a thenable
    then: { properties: { with: { description: kind.description, ...inputsSchema(kind.inputs) } } },
  }));
  return { ...schema, $id: PIPELINE_SCHEMA_ID, title: "Microstack pipeline" };
}
