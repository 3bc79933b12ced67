import "server-only";
import {
  assertAttributeWithinBounds,
  type ConditionVars,
  FLAT_ATTRIBUTES,
  PreparedConditionInput,
} from "./environment";

/**
 * The variables one evaluation sees: the compiled condition's parameters plus the request's
 * attributes, WITHOUT copying either into a fresh object. cel-js resolves variables through
 * `context.get(name)` when the context is a Map, so this Map subclass answers lookups from the
 * two sources directly; an evaluation only sets `input`. (Copying the inputs into a reused
 * object cost ~12 megamorphic keyed loads/stores per evaluation, about as much as evaluating
 * the three-clause condition itself.)
 */
export class ConditionContext extends Map<string, unknown> {
  input: ConditionVars | undefined = undefined;

  constructor(private readonly params: Readonly<Record<string, unknown>>) {
    super();
  }

  override get(name: string): unknown {
    // Parameter names end in their index digit; attributes, records and `action` never do.
    if (name.charCodeAt(name.length - 1) <= 57) return this.params[name];
    const input = this.input as unknown as Record<string, unknown>;
    // A prepared input carries every variable a checked template can name as an own property
    // (records, action, flat attributes; parameters were answered above).
    if (input instanceof PreparedConditionInput) return input[name];
    const flat = FLAT_ATTRIBUTES.get(name);
    if (!flat) return input[name];
    // Plain input: read the field where the template asks for it and hold it to the bounds the
    // cost estimate assumes (prepared input was checked once, when it was built).
    const record = input[flat.record];
    const value =
      record !== null && typeof record === "object" ? (record as Record<string, unknown>)[flat.field] : undefined;
    assertAttributeWithinBounds(`${flat.record}.${flat.field}`, value);
    return value;
  }
}
