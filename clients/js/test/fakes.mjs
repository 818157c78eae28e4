// Test doubles for the client's unit tests: a fake clock, an in-memory API with the real rules
// for tokens (expiry, one-use refresh tokens with reuse detection and no grace window) and for
// two-step sign-in (the login's second step, the session replaced when TOTP is turned on), a
// shared lock manager and a broadcast hub standing in for the browser's tabs.
import { memoryStorage } from "../dist/index.js";

export const LIFETIME_S = 900;
/** The code the fake API's TOTP accepts (any time, any number of times: the timing is the API's to test). */
export const TOTP_CODE = "246810";

/** Time that moves only when the test says so; timers fire in order as it moves. */
export class FakeClock {
  constructor(start = 1_800_000_000_000) {
    this.t = start;
    this.timers = new Map();
    this.nextId = 1;
  }
  now() {
    return this.t;
  }
  setTimeout(fn, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(id) {
    this.timers.delete(id);
  }
  /** Moves time forward, firing due timers (and letting their promises settle). */
  async advance(ms) {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets every pending promise and queued message run. */
export async function settle() {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");

/** The API's token rules, in memory. `fetch` is its transport; `calls` records every request. */
export class FakeApi {
  constructor(clock) {
    this.clock = clock;
    this.calls = [];
    this.sessions = new Map(); // sid -> { alive, refresh (the live refresh token) }
    this.n = 0;
    this.devices = 0; // device tokens handed out
    this.failNext = null; // a status (or "network") the next call of a path answers with
    this.held = new Map(); // path -> a promise its calls wait for before being answered
    // The account's second factors: TOTP, an enrolment started, the unspent recovery codes.
    this.mfa = { totp: false, enrolling: false, recovery: [] };
    this.challenges = new Map(); // mfa_token -> wrong codes so far
    this.fetch = (url, init) => this.handle(new URL(url), init);
  }
  /** Calls of `path` wait (after being sent) until the returned function is called. */
  hold(path) {
    let release;
    this.held.set(path, new Promise((r) => (release = r)));
    return () => {
      this.held.delete(path);
      release();
    };
  }
  callsTo(path) {
    return this.calls.filter((c) => c.path === path);
  }
  /** A token envelope for session `sid`; a login's also carries `device` (refreshes carry none). */
  envelope(sid, device) {
    const now = Math.floor(this.clock.now() / 1000);
    const scope = this.sessions.get(sid)?.aal2 ? "user admin aal2 user:aal2 admin:aal2" : "user admin";
    const access = `h.${b64({ sub: "1", sid, scope, iat: now, exp: now + LIFETIME_S, n: ++this.n })}.s`;
    const refresh = `refresh-${++this.n}`;
    const s = this.sessions.get(sid);
    // A spent refresh token is remembered, so that a second use is reuse.
    if (s.refresh) (s.spent ??= new Set()).add(s.refresh);
    s.refresh = refresh;
    return {
      tokens: {
        access: { access_token: access, token_type: "bearer" },
        refresh: { refresh_token: refresh, jti: refresh, expiry: "2030-01-01T00:00:00Z" },
      },
      user: { id: 1, username: "john_doe", email: "john@example.com", email_verified: true },
      ...(device ? { device_token: device } : {}),
    };
  }
  session(bearer) {
    for (const [sid, s] of this.sessions) {
      if (!s.alive) continue;
      if (bearer === s.refresh) return { sid, s, kind: "refresh" };
    }
    try {
      const claims = JSON.parse(Buffer.from(bearer.split(".")[1], "base64url").toString());
      const s = this.sessions.get(claims.sid);
      if (s?.alive && claims.exp * 1000 > this.clock.now()) return { sid: claims.sid, s, kind: "access" };
    } catch {
      // not an access token
    }
    return null;
  }
  hasSecondFactor() {
    return this.mfa.totp || this.mfa.recovery.length > 0;
  }
  /** A new session (at aal2 after a second factor) and its envelope; a login's carries a device token. */
  signIn(body, aal2) {
    const sid = `sid-${++this.n}`;
    this.sessions.set(sid, { alive: true, aal2 });
    // The device token presented comes back (the device stays trusted), else a new one.
    return this.envelope(sid, body.device_token ?? `device-${++this.devices}`);
  }
  newRecoveryCodes() {
    const n = ++this.n;
    this.mfa.recovery = Array.from({ length: 10 }, (_, i) => `k7qz-m2xa-${n}a${i}-r4td`);
    return [...this.mfa.recovery];
  }
  /** The /auth/mfa/ routes, for a caller with a live access token (`found`). */
  mfaRoute(key, body, found) {
    // While the account has a second factor, a session that signed in without it is refused.
    if (this.hasSecondFactor() && !found.s.aal2) return json(403, { detail: "MFA required" });
    if (key === "POST /auth/mfa/totp") {
      this.mfa.enrolling = true;
      const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
      const otpauth_uri =
        `otpauth://totp/authyy:john%40example.com?secret=${secret}&issuer=authyy&algorithm=SHA1&digits=6&period=30`;
      return json(200, { secret, otpauth_uri });
    }
    if (body?.password !== "right") return json(400, { detail: "Current password is incorrect" });
    if (key === "POST /auth/mfa/totp/confirm") {
      if (!this.mfa.enrolling) return json(404, { detail: "No enrollment in progress" });
      if (body.code !== TOTP_CODE) return json(400, { detail: "Invalid code" });
      const first = !this.hasSecondFactor();
      this.mfa.totp = true;
      this.mfa.enrolling = false;
      const recovery_codes = first ? this.newRecoveryCodes() : [];
      // Every session of the account ends; the caller continues in a new one.
      for (const s of this.sessions.values()) s.alive = false;
      const sid = `sid-${++this.n}`;
      this.sessions.set(sid, { alive: true, aal2: true });
      return json(200, { recovery_codes, ...this.envelope(sid) });
    }
    if (key === "DELETE /auth/mfa/totp") {
      if (!this.mfa.totp) return json(404, { detail: "TOTP is not enabled" });
      this.mfa = { totp: false, enrolling: false, recovery: [] };
      return new Response(null, { status: 204 });
    }
    if (key === "POST /auth/mfa/recovery-codes") {
      if (!this.hasSecondFactor()) return json(404, { detail: "No second factor" });
      return json(200, { recovery_codes: this.newRecoveryCodes() });
    }
    return json(404, { detail: "Not Found" });
  }
  async handle(url, init = {}) {
    await null;
    const bearer = (init.headers?.authorization ?? "").replace(/^Bearer /, "");
    const body = init.body ? JSON.parse(init.body) : undefined;
    this.calls.push({ method: init.method, path: url.pathname, bearer, body });
    await this.held.get(url.pathname);
    if (this.failNext && this.failNext.path === url.pathname) {
      const { status } = this.failNext;
      this.failNext = null;
      if (status === "network") throw new TypeError("Failed to fetch");
      return json(status, { detail: "Service unavailable" }, { "retry-after": "3" });
    }
    const key = `${init.method} ${url.pathname}`;
    if (key === "POST /auth/reset-password") return json(200, { message: "Password successfully reset." });
    if (key === "POST /auth/login") {
      if (body.password !== "right") return json(401, { detail: "Invalid credentials" });
      if (this.hasSecondFactor()) {
        const token = `mfa-${++this.n}`;
        this.challenges.set(token, 0);
        const methods = [...(this.mfa.totp ? ["totp"] : []), ...(this.mfa.recovery.length ? ["recovery_code"] : [])];
        return json(200, { mfa_required: true, mfa_token: token, methods });
      }
      return json(200, this.signIn(body, false));
    }
    if (key === "POST /auth/login/mfa") {
      if (!this.challenges.has(body.mfa_token)) return json(401, { detail: "Invalid or expired MFA token" });
      if ((body.code == null) === (body.recovery_code == null)) {
        return json(422, { detail: [{ loc: ["body"], msg: "Send a code or a recovery code", type: "value_error" }] });
      }
      const recovery = body.recovery_code?.toLowerCase().replace(/[\s-]/g, "");
      const spent = this.mfa.recovery.findIndex((c) => c.replace(/-/g, "") === recovery);
      const right = body.code != null ? this.mfa.totp && body.code === TOTP_CODE : spent >= 0;
      if (!right) {
        const failures = this.challenges.get(body.mfa_token) + 1;
        if (failures >= 5) this.challenges.delete(body.mfa_token);
        else this.challenges.set(body.mfa_token, failures);
        return json(400, { detail: "Invalid code" });
      }
      if (spent >= 0) this.mfa.recovery.splice(spent, 1);
      this.challenges.delete(body.mfa_token);
      return json(200, this.signIn(body, true));
    }
    if (key === "POST /auth/tokens") {
      const found = this.session(bearer);
      if (found?.kind === "refresh") return json(200, this.envelope(found.sid));
      // A spent refresh token used again: reuse, the whole session ends (no grace window here).
      for (const s of this.sessions.values()) if (s.spent?.has(bearer)) s.alive = false;
      return json(401, { detail: "Invalid refresh token" });
    }
    const found = this.session(bearer);
    if (!found || found.kind !== "access") return json(401, { detail: "Could not validate credentials" });
    if (key === "GET /auth/me") {
      const mfa = { totp: this.mfa.totp, passkeys: 0, recovery_codes: this.mfa.recovery.length };
      return json(200, { id: 1, username: "john_doe", email: "john@example.com", mfa });
    }
    if (url.pathname.startsWith("/auth/mfa/")) return this.mfaRoute(key, body, found);
    if (key === "POST /auth/password") return json(200, { message: "Password changed." });
    if (init.method === "DELETE" && url.pathname.startsWith("/auth/sessions/")) {
      const s = this.sessions.get(decodeURIComponent(url.pathname.split("/").pop()));
      if (!s?.alive) return json(404, { detail: "Session not found" });
      s.alive = false;
      return new Response(null, { status: 204 });
    }
    if (key === "DELETE /auth/me") {
      for (const s of this.sessions.values()) s.alive = false;
      return new Response(null, { status: 204 });
    }
    const events = /^\/auth\/(me|admin\/users\/7)\/events$/.exec(url.pathname);
    if (events && init.method === "GET") {
      const cursor = url.searchParams.get("cursor");
      const link = cursor ? {} : { link: `<${url.pathname}?limit=1&cursor=ZTox>; rel="next"` };
      const actor = events[1] === "me" ? "admin" : "admin:3";
      return json(200, [{ id: cursor ? "older" : "newest", type: "user_updated", actor }], link);
    }
    const admin = /^\/auth\/admin\/users\/([^/]+)(\/sessions)?$/.exec(url.pathname);
    if (admin) {
      if (admin[1] !== "7") return json(404, { detail: "User not found" });
      if (init.method === "DELETE") return new Response(null, { status: 204 });
      const user = { id: 7, role: "user", disabled: false, app_metadata: {}, mfa: {}, identities: [] };
      return json(200, { ...user, ...(body ?? {}) });
    }
    if (key === "GET /auth/users") {
      const cursor = url.searchParams.get("cursor");
      const link = cursor ? {} : { link: `</auth/users?limit=${url.searchParams.get("limit")}&cursor=abc%3D>; rel="next"` };
      return json(200, [{ id: cursor ? 2 : 1 }], link);
    }
    if (key === "POST /auth/logout") {
      for (const s of this.sessions.values()) if (body?.all || s === found.s) s.alive = false;
      return json(200, { message: "Logged out." });
    }
    return json(404, { detail: "Not Found" });
  }
}

export function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** The Web Locks API across tabs: one holder at a time per name. */
export class FakeLocks {
  constructor() {
    this.tails = new Map();
    this.held = new Map();
  }
  request(name, options, callback) {
    if (options.ifAvailable && (this.held.get(name) ?? 0) > 0) return callback(null);
    this.held.set(name, (this.held.get(name) ?? 0) + 1);
    const run = (this.tails.get(name) ?? Promise.resolve()).then(() => callback({ name }));
    const settled = run.catch(() => {}).then(() => this.held.set(name, this.held.get(name) - 1));
    this.tails.set(name, settled);
    return run;
  }
}

/** BroadcastChannel across tabs: a message reaches every other member, later, as a copy. */
export class FakeHub {
  constructor() {
    this.members = new Set();
  }
  channel() {
    const hub = this;
    const member = {
      listeners: [],
      postMessage(message) {
        for (const other of hub.members) {
          if (other === member) continue;
          const data = structuredClone(message);
          setImmediate(() => other.listeners.forEach((l) => l({ data })));
        }
      },
      addEventListener(_type, listener) {
        member.listeners.push(listener);
      },
      close() {
        hub.members.delete(member);
      },
    };
    hub.members.add(member);
    return member;
  }
}

/**
 * A browser's tabs on one origin: `options()` is a tab's client options. The session's storage is
 * the browser's `localStorage` (`shared`) or each tab's own; the device token always goes to the
 * browser's `localStorage`, as it does by default in a browser.
 */
export function browser({ shared = true } = {}) {
  const clock = new FakeClock();
  const api = new FakeApi(clock);
  const locks = new FakeLocks();
  const hub = new FakeHub();
  const localStorage = memoryStorage();
  const options = () => ({
    baseUrl: "http://api.test",
    fetch: api.fetch,
    clock,
    locks,
    channel: hub.channel(),
    storage: shared ? localStorage : memoryStorage(),
    deviceStorage: localStorage,
    shareAcrossTabs: shared,
  });
  return { clock, api, locks, hub, localStorage, options };
}
