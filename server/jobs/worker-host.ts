import "server-only";
import { getLogger } from "@/server/observability/logger";

const log = getLogger("jobs");

/** A background worker: started once per process, stopped (and awaited) at shutdown. */
export interface Worker {
  name: string;
  start(): void | Promise<void>;
  /** Stops taking new work and resolves when the work in hand is done. */
  stop(): Promise<void>;
}

/** A worker that runs `tick` every `intervalMs`, never overlapping itself. */
export function intervalWorker(name: string, intervalMs: number, tick: () => Promise<void>): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    if (stopped || running) return;
    running = tick()
      .catch((error) => log.error({ err: error, worker: name }, "worker tick failed"))
      .finally(() => {
        running = undefined;
      });
  };
  return {
    name,
    start() {
      stopped = false;
      run();
      timer = setInterval(run, intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

/** Holds the process's workers; the job queue's consumers register here as they arrive. */
export class WorkerHost {
  private readonly workers: Worker[] = [];
  private started = false;

  register(worker: Worker): void {
    this.workers.push(worker);
    if (this.started) void worker.start();
  }

  async start(): Promise<void> {
    this.started = true;
    for (const worker of this.workers) {
      await worker.start();
      log.debug({ worker: worker.name }, "worker started");
    }
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.allSettled(this.workers.map((worker) => worker.stop()));
  }
}
