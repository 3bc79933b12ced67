// The one entry point: `npm run dev` and `npm start` both run this file.
// Tracing must patch http and pg before anything imports them, so it starts first and the
// rest of the process is loaded afterwards with a dynamic import.
import { startTracing } from "./observability/tracing";

startTracing({ serviceName: process.env.OTEL_SERVICE_NAME ?? "microstack" });

const { main } = await import("./app-server/main-process");
await main();
