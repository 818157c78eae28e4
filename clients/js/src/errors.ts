import type { components } from "./schema.js";

/** One validation error of a 422, in FastAPI's shape: `loc` names the field (`["body", "email"]`). */
export type FieldError = components["schemas"]["FieldError"];

/**
 * Every failure of a call: the API's answer (`status`, `detail`, `retryAfter`), or a request that
 * never got an answer (`status` 0: offline, or blocked by the browser because this page's origin
 * is not one the API allows).
 */
export class AuthyyError extends Error {
  /** The HTTP status, or 0 when no answer arrived. */
  readonly status: number;
  /** The API's `detail`: a sentence, or for a 422 the list of field errors. */
  readonly detail: string | FieldError[];
  /** Seconds to wait before trying again (a 429's or 503's `Retry-After`), else null. */
  readonly retryAfter: number | null;

  constructor(status: number, detail: string | FieldError[], retryAfter: number | null = null) {
    super(AuthyyError.describe(status, detail));
    this.name = "AuthyyError";
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  /** The 422's field errors keyed by field name (`{password: "..."}`); empty for other errors. */
  get fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    if (Array.isArray(this.detail)) {
      for (const e of this.detail) {
        const field = e.loc.length > 1 ? String(e.loc[e.loc.length - 1]) : "body";
        out[field] ??= e.msg;
      }
    }
    return out;
  }

  /** The error of a response that is not a success. */
  static async from(res: Response): Promise<AuthyyError> {
    let detail: string | FieldError[] = res.statusText || `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { detail?: unknown };
      if (typeof body.detail === "string" || Array.isArray(body.detail)) {
        detail = body.detail as string | FieldError[];
      }
    } catch {
      // Not JSON (a gateway's own page): keep the status text.
    }
    const header = res.headers.get("retry-after");
    const seconds = header !== null && /^\d+$/.test(header.trim()) ? Number(header) : null;
    return new AuthyyError(res.status, detail, seconds);
  }

  static network(cause: unknown): AuthyyError {
    const e = new AuthyyError(
      0,
      "The API could not be reached (offline, or this page's origin is not allowed by the API's CORS settings)",
    );
    (e as { cause?: unknown }).cause = cause;
    return e;
  }

  static signedOut(): AuthyyError {
    return new AuthyyError(401, "Not signed in");
  }

  private static describe(status: number, detail: string | FieldError[]): string {
    const text = Array.isArray(detail)
      ? detail.map((e) => `${e.loc.slice(1).join(".") || "body"}: ${e.msg}`).join("; ")
      : detail;
    return status ? `${status}: ${text}` : text;
  }
}
