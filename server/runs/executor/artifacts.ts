import "server-only";
import { cp, mkdir, rm, stat } from "node:fs/promises";
import path from "node:path";
import { glob } from "tinyglobby";
import type { ArtifactFetch, ArtifactSave } from "@/pipelines/engine/types";
import { parseDuration } from "@/pipelines/spec/schema";
import { uuidV7 } from "@/server/ids";
import { deleteArtifactRows, findArtifacts, insertArtifact, listExpiredArtifacts } from "../repo";
import type { Database } from "@/server/db";

// Artifacts on the local artifact store (<data dir>/artifacts): a step's `artifacts.save` paths
// are copied there after it succeeds, and a later step's `artifacts.fetch` copies them into its
// workspace, from the attempts the engine names (so a re-run from a step reuses what upstream
// produced). The file service (S3, tus uploads) replaces this store when it lands.

export interface ArtifactContext {
  db: Pick<Database, "query">;
  storeDir: string;
  runId: string;
  instance: string;
  attempt: number;
  workspace: string;
}

function inside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9_.=,-]/g, "_").slice(0, 200);
}

/** Saves each artifact; returns a line per artifact for the step log. */
export async function saveArtifacts(context: ArtifactContext, saves: readonly ArtifactSave[]): Promise<string[]> {
  const notes: string[] = [];
  for (const save of saves) {
    const files = await glob([...save.paths], {
      cwd: context.workspace,
      dot: true,
      onlyFiles: true,
      followSymbolicLinks: false,
      expandDirectories: true,
    });
    const target = path.join(
      context.storeDir,
      context.runId,
      `${safeSegment(context.instance)}@${context.attempt}`,
      safeSegment(save.name),
    );
    await rm(target, { recursive: true, force: true });
    let bytes = 0;
    let count = 0;
    for (const file of files) {
      const source = path.resolve(context.workspace, file);
      if (!inside(context.workspace, source)) continue;
      const destination = path.join(target, file);
      await mkdir(path.dirname(destination), { recursive: true });
      await cp(source, destination, { preserveTimestamps: true });
      bytes += (await stat(source)).size;
      count++;
    }
    const expireMs = save.expireIn ? parseDuration(save.expireIn) : null;
    await insertArtifact(context.db, {
      id: uuidV7(),
      runId: context.runId,
      instance: context.instance,
      attempt: context.attempt,
      name: save.name,
      files: count,
      bytes,
      storePath: target,
      expiresAt: expireMs === null ? null : Date.now() + expireMs,
    });
    notes.push(
      count === 0
        ? `Artifact ${save.name}: no file matched ${save.paths.join(", ")}`
        : `Artifact ${save.name}: saved ${count} file${count === 1 ? "" : "s"} (${bytes} bytes)`,
    );
  }
  return notes;
}

/** Copies the artifacts a step fetches into its workspace; throws when one is missing. */
export async function fetchArtifacts(context: ArtifactContext, fetches: readonly ArtifactFetch[]): Promise<string[]> {
  const notes: string[] = [];
  for (const fetch of fetches) {
    const found = await findArtifacts(context.db, context.runId, fetch.sources, fetch.name);
    if (found.length === 0) {
      throw new Error(
        `artifact ${fetch.name ?? "(any)"} of ${fetch.from} was not found: the step did not save it, or it expired`,
      );
    }
    const destination = path.resolve(context.workspace, fetch.path ?? ".");
    if (!inside(context.workspace, destination)) throw new Error(`artifact path ${fetch.path} leaves the workspace`);
    for (const artifact of found) {
      if (artifact.expires_at !== null && artifact.expires_at.getTime() < Date.now()) {
        throw new Error(
          `artifact ${artifact.name} of ${artifact.instance} expired at ${artifact.expires_at.toISOString()}`,
        );
      }
      await mkdir(destination, { recursive: true });
      await cp(artifact.store_path, destination, { recursive: true, force: true, preserveTimestamps: true }).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT") throw error;
        },
      );
      notes.push(
        `Fetched artifact ${artifact.name} of ${artifact.instance} into ${path.relative(context.workspace, destination) || "."}`,
      );
    }
  }
  return notes;
}

/** Removes expired artifacts from the store and their rows. */
export async function deleteExpiredArtifacts(db: Pick<Database, "query">): Promise<number> {
  const expired = await listExpiredArtifacts(db, 500);
  for (const artifact of expired) await rm(artifact.store_path, { recursive: true, force: true });
  await deleteArtifactRows(
    db,
    expired.map((artifact) => artifact.id),
  );
  return expired.length;
}
