// vitest and the custom server run outside Next's react-server graph, where the real
// `server-only` throws on import; there it is a no-op.
export {};
