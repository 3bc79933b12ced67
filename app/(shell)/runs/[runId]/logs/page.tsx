import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { LogViewer } from "@/components/log-viewer/log-viewer";
import { isAppError } from "@/server/http/errors";
import { getPageContext } from "@/server/i18n/request";
import { getRun } from "@/server/runs/service";

// A run's step logs on their own: pick a step and attempt (a plain GET form, so it works before
// any script runs), see its log live. The run view embeds the same viewer.

type Params = Promise<{ runId: string }>;
type SearchParams = Promise<Record<string, string | string[] | undefined>>;

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

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { ctx, run } = await load(params);
  return { title: ctx.t("logs:page.title", { pipeline: run.pipelineName, number: run.number }) };
}

export default async function RunLogsPage({ params, searchParams }: { params: Params; searchParams: SearchParams }) {
  const { ctx, run } = await load(params);
  const { t } = ctx;
  const query = await searchParams;
  // Steps that have run (approvals, gates and manual steps print no log of their own).
  const steps = run.stepList.filter((step) => step.attempt > 0 && (step.kind === "run" || step.kind === "uses"));
  const wanted = first(query.step);
  const step = steps.find((candidate) => candidate.id === wanted) ?? steps[0];
  const requested = Number(first(query.attempt));
  const attempt =
    step && Number.isInteger(requested) && requested >= 1 && requested <= step.attempt ? requested : step?.attempt;
  return (
    <div className="stack">
      <header className="page-header">
        <h1>{t("logs:page.title", { pipeline: run.pipelineName, number: run.number })}</h1>
        <p className="muted">
          <a href={`/runs/${run.id}`}>{`${run.pipelineName} #${run.number}`}</a> · {t("logs:page.subtitle")}
        </p>
      </header>
      {step && attempt ? (
        <>
          <form method="get" className="row" aria-label={t("logs:page.step")}>
            <div className="field">
              <label htmlFor="log-step">{t("logs:page.step")}</label>
              <select id="log-step" name="step" defaultValue={step.id}>
                {steps.map((candidate) => (
                  <option key={candidate.id} value={candidate.id}>
                    {`${candidate.name === candidate.id ? candidate.id : `${candidate.name} (${candidate.id})`} · ${t(`logs:page.status.${candidate.status}`)}`}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor="log-attempt">{t("logs:page.attempt")}</label>
              <select id="log-attempt" name="attempt" defaultValue={String(attempt)}>
                {Array.from({ length: step.attempt }, (_, i) => step.attempt - i).map((n) => (
                  <option key={n} value={n}>
                    {t("logs:page.attemptOption", { attempt: n })}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" className="button">
              {t("logs:page.show")}
            </button>
          </form>
          <LogViewer
            runId={run.id}
            step={step.id}
            attempt={attempt}
            isRunning={step.status === "running" && attempt === step.attempt}
          />
        </>
      ) : (
        <p className="notice">{t("logs:page.noSteps")}</p>
      )}
    </div>
  );
}
