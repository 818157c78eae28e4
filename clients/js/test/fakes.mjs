// Test doubles for the client's unit tests: a fake clock, an in-memory API with the real rules
// for tokens (expiry, one-use refresh tokens with reuse detection and no grace window), a shared
// lock manager and a broadcast hub standing in for the browser's tabs.
import { memoryStorage } from "../dist/index.js";

export const LIFETIME_S = 900;

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
    const access = `h.${b64({ sub: "1", sid, iat: now, exp: now + LIFETIME_S, n: ++this.n })}.s`;
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
      const sid = `sid-${++this.n}`;
      this.sessions.set(sid, { alive: true });
      // The device token presented comes back (the device stays trusted), else a new one.
      return json(200, this.envelope(sid, body.device_token ?? `device-${++this.devices}`));
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
    if (key === "GET /auth/me") return json(200, { id: 1, username: "john_doe", email: "john@example.com" });
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
