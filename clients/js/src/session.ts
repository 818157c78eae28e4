import { AuthyyError } from "./errors.js";
import type { components } from "./schema.js";
import type { TokenStorage } from "./storage.js";

export type TokenEnvelope = components["schemas"]["TokenEnvelope"];
/** The signed-in user as login and refresh return it. */
export type SessionUser = components["schemas"]["EnvelopeUser"];

/**
 * What happened to the session:
 * - `SIGNED_IN`: a login, here or (with a shared storage) in another tab, or the new session
 *   turning on two-step sign-in starts (`confirmTotp`);
 * - `TOKEN_REFRESHED`: new tokens, here or in another tab;
 * - `SIGNED_OUT`: a logout or account deletion, here or in another tab;
 * - `SESSION_ENDED`: the API refused the refresh token (expired, ended by a logout elsewhere, a
 *   password reset or change, an admin, or reuse detection): send the user to the login page.
 */
export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "SIGNED_OUT" | "SESSION_ENDED";
export type AuthListener = (event: AuthEvent, user: SessionUser | null) => void;

/** Time and timers; a test passes a fake one. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The part of the Web Locks API (`navigator.locks`) the client uses. */
export interface Locks {
  /** With `ifAvailable`, `callback` gets null when another holder has the lock. */
  request<T>(name: string, options: { ifAvailable?: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

/** The part of `BroadcastChannel` the client uses. */
export interface Channel {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  close(): void;
}

/** How the session reaches `POST /auth/tokens` and `POST /auth/logout`. */
export type Send = (
  method: string,
  path: string,
  init: { bearer?: string; body?: unknown; timeoutMs?: number },
) => Promise<Response>;

export interface SessionOptions {
  storage: TokenStorage;
  /** The storage is one all tabs see (localStorage): tabs share one session and its tokens. */
  shared: boolean;
  storageKey: string;
  clock: Clock;
  locks: Locks | null;
  channel: Channel | null;
  autoRefresh: boolean;
  refreshMarginMs: number;
  send: Send;
}

/** Messages between the tabs of one origin. */
type Message =
  | { type: "tokens"; envelope: TokenEnvelope; replaces: string | null }
  | { type: "signed_out" }
  | { type: "ended" };

interface Access {
  token: string;
  sid: string | null;
  /** Local clock times (ms), from the token's own lifetime, so a skewed clock does not matter. */
  expiresAt: number;
  refreshAt: number;
}

/** Used when a token's lifetime cannot be read: the API's default. */
const DEFAULT_LIFETIME_MS = 15 * 60 * 1000;
/** A token this close to its expiry is not sent: it could expire on the way. */
const EXPIRY_SKEW_MS = 1000;
/** After a refresh that failed for want of an answer (offline, 5xx), try again this much later. */
const RETRY_MS = 5000;
/** A refresh that gets no answer in this time is given up (the lock it holds stops every tab). */
const REFRESH_TIMEOUT_MS = 15_000;
/** How long a tab that waited for another's refresh waits for that tab's message. */
const ADOPTION_WAIT_MS = 1000;

/**
 * The tokens of one session and the rules for refreshing them: the access token only in memory,
 * the refresh token in the chosen storage, a refresh a little before the access token expires or
 * when a call answers 401, one refresh at a time in this tab and (with a shared storage) across
 * tabs, and every tab told about new tokens and the end of the session.
 */
export class Session {
  private access: Access | null = null;
  private refreshToken: string | null;
  private inflight: Promise<void> | null = null;
  private timer: unknown = null;
  private readonly listeners = new Set<AuthListener>();
  private readonly adoptionWaiters = new Set<() => void>();
  /** Counts sign-ins and ends: an answer that comes back after either belongs to the past. */
  private epoch = 0;
  private disposed = false;
  user: SessionUser | null = null;

  constructor(private readonly o: SessionOptions) {
    this.refreshToken = o.storage.getItem(this.key("refresh_token"));
    o.channel?.addEventListener("message", (event) => this.onMessage(event.data as Message));
  }

  /** Whether there is a session to use (a refresh token is held). */
  get active(): boolean {
    return this.currentRefreshToken() !== null;
  }

  /** The id of the session (the access token's `sid`), once an access token is held. */
  get sessionId(): string | null {
    return this.access?.sid ?? null;
  }

  /** The access token's `scope`, split (empty until an access token is held). */
  get scopes(): string[] {
    if (!this.access) return [];
    const scope = readClaims(this.access.token).scope;
    return typeof scope === "string" ? scope.split(" ").filter(Boolean) : [];
  }

  onChange(listener: AuthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** An access token that is not about to expire, refreshing first if needed. */
  async accessToken(): Promise<string> {
    const a = this.access;
    if (a && this.o.clock.now() < a.expiresAt - EXPIRY_SKEW_MS) return a.token;
    if (!this.active) throw AuthyyError.signedOut();
    await this.refresh();
    if (!this.access) throw AuthyyError.signedOut();
    return this.access.token;
  }

  /** The access token held now, expired or not (to tell whether a 401 was for it). */
  get heldAccessToken(): string | null {
    return this.access?.token ?? null;
  }

  /**
   * New tokens for the session. Concurrent calls in this tab share one request; with a shared
   * storage a Web Lock makes tabs take turns, and a tab that finds the tokens already rotated by
   * another uses those instead of spending the old refresh token again.
   */
  refresh(): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.rotate().finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** A login's answer. */
  signIn(envelope: TokenEnvelope): void {
    this.epoch++;
    this.adopt(envelope, "SIGNED_IN", null, true);
  }

  /**
   * The API ended this session and continued it in a new one (turning on a second factor):
   * answers still on the way for the old one are dropped, and tabs holding the old one (a shared
   * storage, a duplicated tab) move to the new one as they do to refreshed tokens.
   */
  replace(envelope: TokenEnvelope): void {
    const replaces = this.currentRefreshToken();
    this.epoch++;
    this.adopt(envelope, "SIGNED_IN", replaces, true);
  }

  /**
   * Ends the session here and in every tab. Returns the API's error if it could not be told
   * (the tokens are dropped here all the same).
   */
  async signOut(all: boolean): Promise<AuthyyError | null> {
    let failure: AuthyyError | null = null;
    if (this.active) {
      try {
        const res = await this.o.send("POST", "/auth/logout", {
          bearer: await this.accessToken(),
          body: all ? { all: true } : undefined,
        });
        if (!res.ok && res.status !== 401) failure = await AuthyyError.from(res);
      } catch (e) {
        if (!(e instanceof AuthyyError) || e.status !== 401) failure = asError(e);
      }
    }
    // (A refresh refused on the way has already ended the session here.)
    if (this.refreshToken !== null || this.access) this.end("SIGNED_OUT");
    this.post({ type: "signed_out" });
    return failure;
  }

  /**
   * The session is gone on the API's side already: this session was ended (tabs sharing it
   * hear of it), or with `everyTab` the account was deleted (every tab signs out).
   */
  forget(everyTab: boolean): void {
    this.end("SIGNED_OUT");
    if (everyTab) this.post({ type: "signed_out" });
    else if (this.o.shared) this.post({ type: "ended" });
  }

  dispose(): void {
    this.disposed = true;
    this.clearTimer();
    this.o.channel?.close();
  }

  private async rotate(): Promise<void> {
    const startedWith = this.currentRefreshToken();
    const startedAccess = this.access?.token ?? null;
    const epoch = this.epoch;
    const rotatedElsewhere = () => this.access !== null && this.access.token !== startedAccess;
    const run = async (waited: boolean): Promise<void> => {
      let token = this.currentRefreshToken();
      if ((waited || token !== startedWith) && token !== null && !rotatedElsewhere() && this.o.channel) {
        // Another tab was refreshing while this one waited: its message with the new tokens is
        // on the way. This tab's view of a shared storage may not show the new refresh token
        // yet either (a browser passes the write to other tabs' processes asynchronously), so
        // spending the one it shows could spend a spent one.
        await this.nextAdoption(ADOPTION_WAIT_MS);
        token = this.currentRefreshToken();
      }
      if (token === null) {
        // Another tab signed out while this one waited.
        if (this.refreshToken !== null || this.access) this.end("SIGNED_OUT");
        throw AuthyyError.signedOut();
      }
      if (rotatedElsewhere()) return; // another tab refreshed while this one waited
      let res: Response;
      try {
        res = await this.o.send("POST", "/auth/tokens", { bearer: token, timeoutMs: REFRESH_TIMEOUT_MS });
      } catch (e) {
        throw asError(e);
      }
      // A logout or a new login while the request was out: its answer is of no use now.
      if (this.epoch !== epoch || this.disposed) throw AuthyyError.signedOut();
      if (res.status === 401) {
        const error = await AuthyyError.from(res);
        this.end("SESSION_ENDED");
        this.post({ type: "ended" });
        throw error;
      }
      if (!res.ok) throw await AuthyyError.from(res);
      this.adopt((await res.json()) as TokenEnvelope, "TOKEN_REFRESHED", token, true);
    };
    // Tabs take turns even when each keeps its own storage: a duplicated tab starts with a copy
    // of its opener's sessionStorage, so the two share a refresh token.
    const locks = this.o.locks;
    if (locks) {
      const name = `authyy-refresh:${this.o.storageKey}`;
      const done = await locks.request(name, { ifAvailable: true }, async (lock) => {
        if (lock === null) return false; // another tab is refreshing
        await run(false);
        return true;
      });
      if (!done) await locks.request(name, {}, () => run(true));
    } else {
      await run(false);
    }
  }

  /** Resolves when tokens arrive from another tab, or after `ms`. */
  private nextAdoption(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        this.adoptionWaiters.delete(finish);
        this.o.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.o.clock.setTimeout(finish, ms);
      this.adoptionWaiters.add(finish);
    });
  }

  private adopt(envelope: TokenEnvelope, event: AuthEvent, replaces: string | null, own: boolean): void {
    if (this.disposed) return;
    const now = this.o.clock.now();
    const claims = readClaims(envelope.tokens.access.access_token);
    const lifetime =
      typeof claims.exp === "number" && typeof claims.iat === "number" && claims.exp > claims.iat
        ? (claims.exp - claims.iat) * 1000
        : DEFAULT_LIFETIME_MS;
    this.access = {
      token: envelope.tokens.access.access_token,
      sid: typeof claims.sid === "string" ? claims.sid : null,
      expiresAt: now + lifetime,
      refreshAt: now + lifetime - Math.min(this.o.refreshMarginMs, lifetime / 2),
    };
    this.refreshToken = envelope.tokens.refresh.refresh_token;
    this.user = envelope.user;
    // A shared storage was written by the tab that got the tokens; a tab's own storage is its own.
    if (own || !this.o.shared) this.o.storage.setItem(this.key("refresh_token"), this.refreshToken);
    if (own) this.post({ type: "tokens", envelope, replaces });
    this.schedule();
    for (const waiter of [...this.adoptionWaiters]) waiter();
    this.emit(event);
  }

  private onMessage(message: Message): void {
    switch (message?.type) {
      case "tokens":
        // Take tokens that follow ours (a tab holding the same session: the storage is shared,
        // or this tab is a duplicate), never older ones; with a shared storage also a login
        // elsewhere, when this tab has no session.
        if (this.refreshToken !== null && this.refreshToken === message.replaces) {
          this.adopt(message.envelope, "TOKEN_REFRESHED", null, false);
        } else if (this.o.shared && this.refreshToken === null && message.replaces === null) {
          this.epoch++;
          this.adopt(message.envelope, "SIGNED_IN", null, false);
        }
        return;
      case "signed_out":
        if (this.o.shared) {
          if (this.refreshToken !== null || this.access) this.end("SIGNED_OUT");
        } else if (this.refreshToken !== null) {
          // This tab has a session of its own: end it on the API too, not only here.
          void this.signOut(false);
        }
        return;
      case "ended":
        if (this.o.shared && (this.refreshToken !== null || this.access)) this.end("SESSION_ENDED");
        return;
    }
  }

  private end(event: AuthEvent): void {
    this.epoch++;
    this.clearTimer();
    const had = this.refreshToken;
    this.access = null;
    this.refreshToken = null;
    this.user = null;
    // With a shared storage another tab may have signed in again meanwhile: remove only ours.
    const key = this.key("refresh_token");
    const stored = this.o.storage.getItem(key);
    if (stored !== null && (!this.o.shared || stored === had)) this.o.storage.removeItem(key);
    this.emit(event);
  }

  private schedule(): void {
    this.clearTimer();
    if (!this.o.autoRefresh || !this.access || this.disposed) return;
    this.setTimer(Math.max(0, this.access.refreshAt - this.o.clock.now()));
  }

  private setTimer(ms: number): void {
    this.timer = this.o.clock.setTimeout(() => {
      this.timer = null;
      this.refresh().catch((e: unknown) => {
        // No answer, a 5xx or a 429: the session may well be fine; try again (after the
        // Retry-After the API asked for) while the access token lasts. After that the next call
        // refreshes first. A 401 already ended the session.
        const retryAfter = e instanceof AuthyyError && e.retryAfter !== null ? e.retryAfter * 1000 : 0;
        const a = this.access;
        if (a && this.timer === null && !this.disposed && this.o.clock.now() < a.expiresAt) {
          this.setTimer(Math.max(RETRY_MS, retryAfter));
        }
      });
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private currentRefreshToken(): string | null {
    return this.o.shared ? this.o.storage.getItem(this.key("refresh_token")) : this.refreshToken;
  }

  private post(message: Message): void {
    try {
      this.o.channel?.postMessage(message);
    } catch {
      // A closed channel: nobody to tell.
    }
  }

  private emit(event: AuthEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event, this.user);
      } catch (e) {
        console.error("authyy: an onAuthChange listener threw", e);
      }
    }
  }

  private key(name: string): string {
    return `${this.o.storageKey}.${name}`;
  }
}

function asError(e: unknown): AuthyyError {
  return e instanceof AuthyyError ? e : AuthyyError.network(e);
}

/** The claims of a JWT, read without verifying it (the API verifies it; this only reads `exp`). */
function readClaims(jwt: string): Record<string, unknown> {
  try {
    const part = jwt.split(".")[1] ?? "";
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
