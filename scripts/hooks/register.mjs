// node --import tsx --import ./scripts/hooks/register.mjs <script>
// Lets scripts import server modules: "server-only" throws outside Next's react-server build.
import { register } from "node:module";

register("./server-only.mjs", import.meta.url);
