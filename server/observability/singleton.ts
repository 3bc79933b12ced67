import "server-only";

/**
 * One instance per process, however many module graphs load this file.
 *
 * The custom server runs under tsx while Next compiles app/ into a second module graph in the
 * same process, so a plain module-level `const` would exist twice: two metric registries, two
 * AsyncLocalStorages that cannot see each other's context, two root loggers. The instance lives
 * on globalThis under a registered symbol, which both graphs resolve to the same key.
 */
export function singleton<T>(name: string, factory: () => T): T {
  const key = Symbol.for(`microstack.${name}`);
  const slots = globalThis as unknown as Record<symbol, T | undefined>;
  const existing = slots[key];
  if (existing !== undefined) return existing;
  const created = factory();
  slots[key] = created;
  return created;
}
