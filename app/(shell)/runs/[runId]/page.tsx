import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { RunView } from "@/components/run-view/run-view";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getRun } from "@/server/runs/service";

type Params = Promise<{ runId: string }>;

async function load(params: Params) {
  const ctx = await getPageContext();
  const { runId } = await params;
  if (!/^[0-9a-f-]{36}$/i.test(runId)) notFound();
  try {
    return { ctx, run: await getRun(ctx.actor, runId) };
  } catch (error) {
    if (isAppError(error) && (error.code === "NOT_FOUND" || error.code === "FORBIDDEN")) notFound();
    throw error;
  }
}

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { run } = await load(params);
  return { title: `${run.pipelineName} #${run.number}` };
}

export default async function RunPage({ params }: { params: Params }) {
  const { run } = await load(params);
  return <RunView initial={run} />;
}
