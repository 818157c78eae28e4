// The client's session rules, with a fake clock, a fake API that ends a session whose refresh
// token is used twice (no grace window), and fake tabs (a shared storage, lock and channel).
import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthyyError, createClient, memoryStorage } from "../dist/index.js";
import { LIFETIME_S, browser, settle } from "./fakes.mjs";

const signIn = async (client) => client.login({ email: "john@example.com", password: "right" });
const events = (client) => {
  const seen = [];
  client.onAuthChange((event) => seen.push(event));
  return seen;
};

test("the access token is refreshed a minute before it expires", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  await b.clock.advance((LIFETIME_S - 61) * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 0);
  await b.clock.advance(2000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
  await b.clock.advance((LIFETIME_S - 60) * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 2, "and again before the new token expires");
});

test("the refresh margin is at most half the token's lifetime", async () => {
  const b = browser();
  const tab = createClient({ ...b.options(), refreshMarginSeconds: 5000 });
  await signIn(tab);
  await b.clock.advance((LIFETIME_S / 2 - 1) * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 0);
  await b.clock.advance(2000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
});

test("without auto refresh an expired token is refreshed when a call needs it", async () => {
  const b = browser();
  const tab = createClient({ ...b.options(), autoRefresh: false });
  await signIn(tab);
  await b.clock.advance((LIFETIME_S + 10) * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 0);
  assert.equal((await tab.me()).username, "john_doe");
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
  assert.equal(b.api.callsTo("/auth/me").length, 1, "the expired token was not even sent");
});

test("concurrent calls in one tab share one refresh", async () => {
  const b = browser();
  const tab = createClient({ ...b.options(), autoRefresh: false });
  await signIn(tab);
  await b.clock.advance((LIFETIME_S + 10) * 1000);
  await Promise.all([tab.me(), tab.me(), tab.me(), tab.refresh()]);
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
});

test("a call answered 401 is retried once after a refresh", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  const sid = tab.sessionId;
  // The API refuses the access token once (as after its signing key was retired).
  const original = b.api.handle.bind(b.api);
  let refused = 0;
  b.api.handle = async (url, init) => {
    if (url.pathname === "/auth/me" && refused++ === 0) {
      b.api.calls.push({ method: "GET", path: "/auth/me" });
      return new Response('{"detail":"Could not validate credentials"}', { status: 401 });
    }
    return original(url, init);
  };
  assert.equal((await tab.me()).username, "john_doe");
  assert.deepEqual(
    b.api.calls.map((c) => c.path),
    ["/auth/login", "/auth/me", "/auth/tokens", "/auth/me"],
  );
  assert.equal(tab.sessionId, sid, "the same session");
});

test("a call answered 401 again after the refresh is not retried twice", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  const original = b.api.handle.bind(b.api);
  b.api.handle = async (url, init) => {
    if (url.pathname === "/auth/me") {
      b.api.calls.push({ path: "/auth/me" });
      return new Response('{"detail":"Could not validate credentials"}', { status: 401 });
    }
    return original(url, init);
  };
  await assert.rejects(tab.me(), (e) => e instanceof AuthyyError && e.status === 401);
  assert.equal(b.api.callsTo("/auth/me").length, 2);
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
});

test("two tabs sharing the storage refresh at once with one request", async () => {
  const b = browser({ shared: true });
  const one = createClient(b.options());
  const two = createClient(b.options());
  await signIn(one);
  await settle();
  assert.equal(two.isSignedIn, true, "the second tab took the login");
  await Promise.all([one.refresh(), two.refresh(), one.refresh(), two.refresh()]);
  await settle();
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
  assert.equal(await one.getAccessToken(), await two.getAccessToken());
  assert.equal((await two.me()).username, "john_doe");
  assert.ok([...b.api.sessions.values()].every((s) => s.alive), "no refresh token was used twice");
});

test("a tab that waited for another tab's refresh uses the tokens it rotated", async () => {
  const b = browser({ shared: true });
  const one = createClient({ ...b.options(), autoRefresh: false });
  const two = createClient({ ...b.options(), autoRefresh: false, channel: null }); // hears nothing
  await signIn(one);
  await one.refresh();
  await two.refresh(); // reads the rotated refresh token from the storage, not the spent one
  assert.equal(b.api.callsTo("/auth/tokens").length, 2);
  assert.notEqual(b.api.calls[1].bearer, b.api.calls[2].bearer);
  assert.ok([...b.api.sessions.values()].every((s) => s.alive));
});

test("tabs with their own storage keep their own sessions", async () => {
  const b = browser({ shared: false });
  const one = createClient(b.options());
  const two = createClient(b.options());
  await signIn(one);
  await settle();
  assert.equal(two.isSignedIn, false);
  await signIn(two);
  assert.notEqual(one.sessionId, two.sessionId);
});

test("a refused refresh ends the session, clears the storage and tells every tab", async () => {
  const b = browser({ shared: true });
  const one = createClient(b.options());
  const two = createClient(b.options());
  const seenOne = events(one);
  const seenTwo = events(two);
  await signIn(one);
  await settle();
  for (const s of b.api.sessions.values()) s.alive = false; // logged out elsewhere
  await assert.rejects(one.refresh(), (e) => e.status === 401);
  await settle();
  assert.deepEqual(seenOne, ["SIGNED_IN", "SESSION_ENDED"]);
  assert.deepEqual(seenTwo, ["SIGNED_IN", "SESSION_ENDED"]);
  assert.equal(b.localStorage.getItem("authyy.refresh_token"), null);
  assert.equal(two.isSignedIn, false);
  await assert.rejects(two.me(), (e) => e.status === 401 && e.detail === "Not signed in");
});

test("logout signs every tab out", async () => {
  const b = browser({ shared: true });
  const one = createClient(b.options());
  const two = createClient(b.options());
  const seenTwo = events(two);
  await signIn(one);
  await settle();
  await one.logout();
  await settle();
  assert.deepEqual(seenTwo, ["SIGNED_IN", "SIGNED_OUT"]);
  assert.equal(two.isSignedIn, false);
  assert.equal(b.api.callsTo("/auth/logout").length, 1);
});

test("logout in one tab ends the other tabs' own sessions too", async () => {
  const b = browser({ shared: false });
  const one = createClient(b.options());
  const two = createClient(b.options());
  await signIn(one);
  await signIn(two);
  await one.logout();
  await settle();
  assert.equal(two.isSignedIn, false);
  assert.equal(b.api.callsTo("/auth/logout").length, 2, "the other tab logged its session out");
  assert.ok([...b.api.sessions.values()].every((s) => !s.alive));
});

test("logout drops the tokens even when the API cannot be reached", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  b.api.failNext = { path: "/auth/logout", status: "network" };
  await assert.rejects(tab.logout(), (e) => e.status === 0);
  assert.equal(tab.isSignedIn, false);
});

test("a scheduled refresh that gets no answer is tried again and keeps the session", async () => {
  const b = browser();
  const tab = createClient(b.options());
  const seen = events(tab);
  await signIn(tab);
  b.api.failNext = { path: "/auth/tokens", status: 503 };
  await b.clock.advance((LIFETIME_S - 59) * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
  assert.equal(tab.isSignedIn, true);
  await b.clock.advance(5000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 2);
  assert.deepEqual(seen, ["SIGNED_IN", "TOKEN_REFRESHED"]);
});

test("login sends back the device token an earlier login returned", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  await tab.logout();
  await signIn(tab);
  const logins = b.api.callsTo("/auth/login");
  assert.equal(logins[0].body.device_token, undefined);
  assert.equal(logins[1].body.device_token, "device-1");
});

test("the refresh token is kept in the chosen storage and the access token is not", async () => {
  const b = browser({ shared: true });
  const tab = createClient(b.options());
  await signIn(tab);
  const stored = Object.fromEntries(
    ["authyy.refresh_token", "authyy.device_token", "authyy.access_token"].map((k) => [k, b.localStorage.getItem(k)]),
  );
  assert.match(stored["authyy.refresh_token"], /^refresh-/);
  assert.equal(stored["authyy.device_token"], "device-1");
  assert.equal(stored["authyy.access_token"], null);
});

test("a reloaded page restores the session from the stored refresh token", async () => {
  const b = browser({ shared: true });
  const before = createClient(b.options());
  await signIn(before);
  before.dispose();
  const after = createClient(b.options());
  assert.equal(after.user, null);
  assert.equal((await after.restore()).username, "john_doe");
  assert.equal((await after.me()).username, "john_doe");
});

test("restore answers null when the stored session has ended", async () => {
  const b = browser({ shared: true });
  const before = createClient(b.options());
  await signIn(before);
  before.dispose();
  for (const s of b.api.sessions.values()) s.alive = false;
  const after = createClient(b.options());
  assert.equal(await after.restore(), null);
  assert.equal(after.isSignedIn, false);
});

test("calls need a session", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await assert.rejects(tab.me(), (e) => e.status === 401);
  assert.equal(b.api.calls.length, 0);
});

test("ending this tab's session signs this tab out and leaves other tabs' sessions alone", async () => {
  const b = browser({ shared: false });
  const one = createClient(b.options());
  const two = createClient(b.options());
  await signIn(one);
  await signIn(two);
  await one.endSession(one.sessionId);
  await settle();
  assert.equal(one.isSignedIn, false);
  assert.equal(two.isSignedIn, true);
  assert.equal((await two.me()).username, "john_doe");
});

test("ending the shared session signs every tab sharing it out", async () => {
  const b = browser({ shared: true });
  const one = createClient(b.options());
  const two = createClient(b.options());
  const seenTwo = events(two);
  await signIn(one);
  await settle();
  await one.endSession(one.sessionId);
  await settle();
  assert.deepEqual(seenTwo, ["SIGNED_IN", "SESSION_ENDED"]);
  assert.equal(two.isSignedIn, false);
});

test("deleting the account signs every tab out", async () => {
  const b = browser({ shared: false });
  const one = createClient(b.options());
  const two = createClient(b.options());
  await signIn(one);
  await signIn(two);
  await one.deleteAccount({ password: "right" });
  await settle();
  assert.equal(one.isSignedIn, false);
  assert.equal(two.isSignedIn, false);
});

test("a refresh answered after a logout does not bring the session back", async () => {
  const b = browser({ shared: true });
  const one = createClient(b.options());
  const two = createClient(b.options());
  const seen = events(one);
  await signIn(one);
  await settle();
  const release = b.api.hold("/auth/tokens");
  const refreshing = one.refresh().catch((e) => e);
  await settle();
  await one.logout();
  release();
  assert.equal((await refreshing).status, 401);
  await settle();
  assert.deepEqual(seen, ["SIGNED_IN", "SIGNED_OUT"]);
  assert.equal(one.isSignedIn, false);
  assert.equal(two.isSignedIn, false);
  assert.equal(b.localStorage.getItem("authyy.refresh_token"), null);
});

test("a login made while a refresh is out is the session that stays", async () => {
  const b = browser({ shared: true });
  const tab = createClient(b.options());
  await signIn(tab);
  const release = b.api.hold("/auth/tokens");
  const refreshing = tab.refresh().catch((e) => e);
  await settle();
  b.api.held.delete("/auth/tokens"); // the login is answered at once
  await signIn(tab);
  const loggedIn = tab.sessionId;
  release();
  await refreshing;
  assert.equal(tab.sessionId, loggedIn);
});

test("a duplicated tab and its opener share the refreshes of the session they both hold", async () => {
  const b = browser({ shared: false });
  const opener = createClient(b.options());
  await signIn(opener);
  // The browser copies the opener's sessionStorage into the duplicate.
  const copy = b.options();
  copy.storage.setItem("authyy.refresh_token", b.api.sessions.values().next().value.refresh);
  const duplicate = createClient(copy);
  await duplicate.restore();
  await settle();
  await b.clock.advance((LIFETIME_S - 59) * 1000); // both timers fire
  await settle();
  assert.ok([...b.api.sessions.values()].every((s) => s.alive), "no refresh token was used twice");
  assert.equal(await opener.getAccessToken(), await duplicate.getAccessToken());
});

test("a disposed client stops refreshing", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  const release = b.api.hold("/auth/tokens");
  const refreshing = tab.refresh().catch((e) => e);
  await settle();
  tab.dispose();
  release();
  await refreshing;
  const before = b.api.callsTo("/auth/tokens").length;
  await b.clock.advance(3 * LIFETIME_S * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, before);
  assert.equal(b.clock.timers.size, 0);
});

test("a scheduled refresh answered 429 is tried again after Retry-After", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  b.api.failNext = { path: "/auth/tokens", status: 429 }; // with Retry-After: 3 (fakes.mjs)
  await b.clock.advance((LIFETIME_S - 59) * 1000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
  await b.clock.advance(5000);
  assert.equal(b.api.callsTo("/auth/tokens").length, 2);
  assert.equal(tab.isSignedIn, true);
});

test("retries stop once the access token has expired; the next call refreshes", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await signIn(tab);
  const online = b.api.handle.bind(b.api);
  let offlineCalls = 0;
  b.api.handle = async () => {
    offlineCalls++;
    throw new TypeError("Failed to fetch");
  };
  await b.clock.advance(3 * LIFETIME_S * 1000);
  assert.equal(b.clock.timers.size, 0, "no timer left");
  assert.equal(offlineCalls, 60 / 5 + 1, "every 5 s for the token's last minute");
  assert.equal(tab.isSignedIn, true);
  b.api.handle = online;
  assert.equal((await tab.me()).username, "john_doe");
});

test("signing out of a session that already ended tells of the end only", async () => {
  const b = browser();
  const tab = createClient({ ...b.options(), autoRefresh: false });
  const seen = events(tab);
  await signIn(tab);
  for (const s of b.api.sessions.values()) s.alive = false;
  await b.clock.advance((LIFETIME_S + 1) * 1000);
  await tab.logout();
  assert.deepEqual(seen, ["SIGNED_IN", "SESSION_ENDED"]);
  assert.equal(tab.isSignedIn, false);
});

test("a tab that waited for another's refresh takes its tokens even when its storage still shows the spent one", async () => {
  const b = browser({ shared: true });
  const one = createClient(b.options());
  await signIn(one);
  // The second tab's view of the storage lags: it never sees the first tab's writes.
  const stale = memoryStorage();
  stale.setItem("authyy.refresh_token", b.localStorage.getItem("authyy.refresh_token"));
  const two = createClient({ ...b.options(), storage: stale });
  await settle();
  await Promise.all([one.refresh(), two.refresh()]);
  await settle();
  assert.equal(b.api.callsTo("/auth/tokens").length, 1);
  assert.ok([...b.api.sessions.values()].every((s) => s.alive), "no refresh token was used twice");
  assert.equal(await one.getAccessToken(), await two.getAccessToken());
});
