// A failed /api/v1 call as the UI sees it: the problem+json code (mapped to errors:code.* by
// the screens) and the invalid params that go to form fields. Shared by every feature's queries.

export interface InvalidParam {
  name: string;
  reason: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly invalidParams: InvalidParam[] = [],
  ) {
    super(message);
  }

  /** The reason for one field, whether the server named it `body.scope.projectId` or `scope.projectId`. */
  fieldError(name: string): string | undefined {
    return this.invalidParams.find((param) => param.name.replace(/^body\./, "") === name)?.reason;
  }
}
