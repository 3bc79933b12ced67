import type { Metadata } from "next";
import { buildOpenApiDocument } from "@/server/http/openapi";
import { getPageContext } from "@/server/i18n/request";

interface Parameter {
  name: string;
  in: string;
  required: boolean;
  description?: string;
  schema: unknown;
}

interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  parameters: Parameter[];
  requestBody?: { content: { "application/json": { schema: unknown } } };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}

export async function generateMetadata(): Promise<Metadata> {
  const { t } = await getPageContext();
  return { title: t("api:title") };
}

function schemaSummary(schema: unknown): string {
  const value = schema as { type?: string | string[]; enum?: unknown[]; format?: string; anyOf?: unknown[] };
  if (value.enum) return value.enum.map((item) => JSON.stringify(item)).join(" | ");
  if (value.anyOf) return value.anyOf.map(schemaSummary).join(" | ");
  const type = Array.isArray(value.type) ? value.type.join(" | ") : (value.type ?? "any");
  return value.format ? `${type} (${value.format})` : type;
}

export default async function ApiDocsPage() {
  const { t } = await getPageContext();
  const document = buildOpenApiDocument() as {
    tags: { name: string; description: string }[];
    paths: Record<string, Record<string, OperationDoc>>;
  };
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })),
  );
  return (
    <div className="stack api-docs">
      <header className="page-header">
        <h1>{t("api:title")}</h1>
        <p className="muted">{t("api:subtitle")}</p>
        <p>
          <a href="/api/v1/openapi.json">{t("api:download")}</a>
        </p>
        <p className="muted">{t("api:auth")}</p>
      </header>
      <nav aria-labelledby="api-contents">
        <h2 id="api-contents">{t("api:contents")}</h2>
        <ul>
          {document.tags.map((tag) => (
            <li key={tag.name}>
              <a href={`#tag-${tag.name}`}>{tag.name}</a> <span className="muted">{tag.description}</span>
            </li>
          ))}
        </ul>
      </nav>
      {document.tags.map((tag) => (
        <section key={tag.name} aria-labelledby={`tag-${tag.name}`} className="stack">
          <h2 id={`tag-${tag.name}`}>{tag.name}</h2>
          {operations
            .filter(({ operation }) => operation.tags.includes(tag.name))
            .map(({ path, method, operation }) => {
              const success = Object.entries(operation.responses).find(([status]) => status.startsWith("2"));
              return (
                <article key={operation.operationId} id={operation.operationId} className="card stack">
                  <h3>
                    <span className={`badge method-${method.toLowerCase()}`}>{method}</span> <code>{path}</code>
                  </h3>
                  <p>{operation.summary}</p>
                  {operation.description ? <p className="muted">{operation.description}</p> : null}
                  {operation.parameters.length > 0 ? (
                    <table className="data">
                      <caption>{t("api:parameters")}</caption>
                      <thead>
                        <tr>
                          <th scope="col">{t("api:name")}</th>
                          <th scope="col">{t("api:in")}</th>
                          <th scope="col">{t("api:required")}</th>
                          <th scope="col">{t("api:schema")}</th>
                        </tr>
                      </thead>
                      <tbody>
                        {operation.parameters.map((parameter) => (
                          <tr key={`${parameter.in}-${parameter.name}`}>
                            <td>
                              <code>{parameter.name}</code>
                              {parameter.description ? <span className="muted"> · {parameter.description}</span> : null}
                            </td>
                            <td>{parameter.in}</td>
                            <td>{parameter.required ? t("api:yes") : t("api:no")}</td>
                            <td>
                              <code>{schemaSummary(parameter.schema)}</code>
                            </td>
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  ) : null}
                  {operation.requestBody ? (
                    <details>
                      <summary>{t("api:requestBody")}</summary>
                      <pre>{JSON.stringify(operation.requestBody.content["application/json"].schema, null, 2)}</pre>
                    </details>
                  ) : null}
                  {success ? (
                    <details>
                      <summary>{t("api:response", { status: success[0] })}</summary>
                      {success[1].content ? (
                        <pre>{JSON.stringify(success[1].content["application/json"]?.schema, null, 2)}</pre>
                      ) : (
                        <p className="muted">{t("api:noBody")}</p>
                      )}
                    </details>
                  ) : null}
                </article>
              );
            })}
        </section>
      ))}
    </div>
  );
}
