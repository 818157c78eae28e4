// Two-step sign-in: a login that asks for a second step instead of throwing, the second step with
// a TOTP code or a recovery code (signing in as login does, the device token too), and TOTP turned
// on (the session replaced by the API's new one, in this tab and the tabs sharing it), off, and
// new recovery codes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AuthyyError, createClient } from "../dist/index.js";
import { TOTP_CODE, browser, settle } from "./fakes.mjs";

const credentials = { email: "john@example.com", password: "right" };
const events = (client) => {
  const seen = [];
  client.onAuthChange((event) => seen.push(event));
  return seen;
};
/** A browser whose account has TOTP on and ten recovery codes. */
const withTotp = () => {
  const b = browser();
  b.api.mfa.totp = true;
  b.api.newRecoveryCodes();
  return b;
};

test("login of an account with a second factor returns the challenge and starts no session", async () => {
  const b = withTotp();
  const tab = createClient(b.options());
  const seen = events(tab);
  const result = await tab.login(credentials);
  assert.deepEqual(result, { mfa_required: true, mfa_token: result.mfa_token, methods: ["totp", "recovery_code"] });
  assert.match(result.mfa_token, /^mfa-/);
  assert.equal(tab.isSignedIn, false);
  assert.equal(tab.user, null);
  assert.deepEqual(seen, []);
  assert.equal(b.localStorage.getItem("authyy.refresh_token"), null);
  assert.equal(b.localStorage.getItem("authyy.device_token"), null, "no device token yet: no login yet");
  await assert.rejects(tab.me(), (e) => e instanceof AuthyyError && e.status === 401);
});

test("the second step with a TOTP code signs in as login does and keeps the device token", async () => {
  const b = withTotp();
  const tab = createClient(b.options());
  const seen = events(tab);
  const { mfa_token } = await tab.login(credentials);
  const user = await tab.loginMfa({ mfa_token, code: TOTP_CODE });
  assert.equal(user.username, "john_doe");
  assert.equal(tab.isSignedIn, true);
  assert.match(tab.sessionId, /^sid-/);
  assert.deepEqual(seen, ["SIGNED_IN"]);
  assert.deepEqual(b.api.callsTo("/auth/login/mfa").map((c) => c.body), [{ mfa_token, code: TOTP_CODE }]);
  assert.equal(b.localStorage.getItem("authyy.device_token"), "device-1");
  assert.equal((await tab.me()).mfa.totp, true);
  // The next login, and its second step, send the device token back.
  await tab.logout();
  const again = await tab.login(credentials);
  await tab.loginMfa({ mfa_token: again.mfa_token, code: TOTP_CODE });
  assert.equal(b.api.callsTo("/auth/login").at(-1).body.device_token, "device-1");
  assert.equal(b.api.callsTo("/auth/login/mfa").at(-1).body.device_token, "device-1");
});

test("a recovery code finishes a login once", async () => {
  const b = withTotp();
  const tab = createClient(b.options());
  const [code] = b.api.mfa.recovery;
  const first = await tab.login(credentials);
  // Case, dashes and spaces do not matter (the API's rule; the client sends what it is given).
  await tab.loginMfa({ mfa_token: first.mfa_token, recovery_code: ` ${code.toUpperCase()} ` });
  assert.equal(tab.isSignedIn, true);
  assert.equal((await tab.me()).mfa.recovery_codes, 9);
  await tab.logout();
  const second = await tab.login(credentials);
  const e = await tab.loginMfa({ mfa_token: second.mfa_token, recovery_code: code }).catch((e) => e);
  assert.ok(e instanceof AuthyyError);
  assert.equal(e.status, 400);
  assert.equal(e.detail, "Invalid code");
  assert.equal(tab.isSignedIn, false);
});

test("a wrong code or a dead challenge is an error that leaves the session as it was", async () => {
  const b = withTotp();
  const tab = createClient(b.options());
  const seen = events(tab);
  const { mfa_token } = await tab.login(credentials);
  const wrong = await tab.loginMfa({ mfa_token, code: "000000" }).catch((e) => e);
  assert.equal(wrong.status, 400);
  // After 5 wrong codes the challenge is dead: log in again.
  for (let i = 0; i < 4; i++) await tab.loginMfa({ mfa_token, code: "000000" }).catch(() => {});
  const dead = await tab.loginMfa({ mfa_token, code: TOTP_CODE }).catch((e) => e);
  assert.equal(dead.status, 401);
  assert.equal(dead.detail, "Invalid or expired MFA token");
  assert.equal(tab.isSignedIn, false);
  assert.deepEqual(seen, []);
  assert.deepEqual(b.api.callsTo("/auth/tokens"), [], "a 401 of the second step is not a session's to refresh");
  // A session already held is not touched by a login that stops at its second step.
  const signedIn = await tab.login(credentials);
  await tab.loginMfa({ mfa_token: signedIn.mfa_token, code: TOTP_CODE });
  const sid = tab.sessionId;
  await tab.login(credentials);
  assert.equal(tab.sessionId, sid);
  assert.equal((await tab.me()).username, "john_doe");
});

test("turning TOTP on continues in the API's new session: tokens replaced, recovery codes returned", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await tab.login(credentials);
  const before = tab.sessionId;
  const oldRefresh = b.localStorage.getItem("authyy.refresh_token");
  assert.deepEqual((await tab.me()).mfa, { totp: false, passkeys: 0, recovery_codes: 0 });
  const seen = events(tab);
  const enrolment = await tab.startTotp();
  assert.match(enrolment.otpauth_uri, /^otpauth:\/\/totp\//);
  assert.match(enrolment.secret, /^[A-Z2-7]{32}$/);
  assert.deepEqual(b.api.callsTo("/auth/mfa/totp")[0].body, undefined, "no body");
  const confirmed = await tab.confirmTotp({ code: TOTP_CODE, password: "right" });
  assert.equal(confirmed.recovery_codes.length, 10);
  assert.equal(confirmed.user.username, "john_doe");
  assert.equal("tokens" in confirmed, false, "the tokens stay in the client");
  assert.deepEqual(seen, ["SIGNED_IN"]);
  assert.notEqual(tab.sessionId, before);
  assert.notEqual(b.localStorage.getItem("authyy.refresh_token"), oldRefresh);
  // The new access token is used straight away; the old session is over on the API's side.
  assert.deepEqual((await tab.me()).mfa, { totp: true, passkeys: 0, recovery_codes: 10 });
  assert.equal(b.api.sessions.get(before).alive, false);
  assert.deepEqual(b.api.callsTo("/auth/tokens"), []);
  // And its refresh token is the new one.
  await tab.refresh();
  assert.equal(tab.isSignedIn, true);
});

test("a refresh answered after TOTP was turned on does not end the new session", async () => {
  const b = browser();
  const tab = createClient({ ...b.options(), autoRefresh: false });
  await tab.login(credentials);
  await tab.startTotp();
  const seen = events(tab);
  const release = b.api.hold("/auth/tokens");
  const refreshing = tab.refresh().catch((e) => e);
  await settle();
  await tab.confirmTotp({ code: TOTP_CODE, password: "right" });
  release();
  // The old session's refresh token is refused (the confirm ended it): that answer is dropped.
  assert.equal((await refreshing).status, 401);
  assert.deepEqual(seen, ["SIGNED_IN"]);
  assert.equal(tab.isSignedIn, true);
  assert.equal((await tab.me()).mfa.totp, true);
});

test("a tab sharing the session moves to the new one", async () => {
  const b = browser();
  const one = createClient(b.options());
  const two = createClient(b.options());
  await one.login(credentials);
  await settle();
  assert.equal(two.sessionId, one.sessionId);
  const seen = events(two);
  await one.startTotp();
  await one.confirmTotp({ code: TOTP_CODE, password: "right" });
  await settle();
  assert.equal(two.sessionId, one.sessionId);
  assert.deepEqual(seen, ["TOKEN_REFRESHED"]);
  assert.equal((await two.me()).mfa.totp, true);
  await two.refresh();
  assert.equal(one.isSignedIn && two.isSignedIn, true);
  assert.deepEqual(seen, ["TOKEN_REFRESHED", "TOKEN_REFRESHED"]);
});

test("a wrong code or password at the confirm changes nothing", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await tab.login(credentials);
  const sid = tab.sessionId;
  const early = await tab.confirmTotp({ code: TOTP_CODE, password: "right" }).catch((e) => e);
  assert.deepEqual([early.status, early.detail], [404, "No enrollment in progress"]);
  await tab.startTotp();
  const code = await tab.confirmTotp({ code: "000000", password: "right" }).catch((e) => e);
  assert.deepEqual([code.status, code.detail], [400, "Invalid code"]);
  const password = await tab.confirmTotp({ code: TOTP_CODE, password: "wrong" }).catch((e) => e);
  assert.deepEqual([password.status, password.detail], [400, "Current password is incorrect"]);
  assert.equal(tab.sessionId, sid);
  assert.equal((await tab.me()).mfa.totp, false);
});

test("new recovery codes replace the old; turning TOTP off keeps the session", async () => {
  const b = withTotp();
  const tab = createClient(b.options());
  const { mfa_token } = await tab.login(credentials);
  await tab.loginMfa({ mfa_token, code: TOTP_CODE });
  const sid = tab.sessionId;
  const old = [...b.api.mfa.recovery];
  const { recovery_codes } = await tab.regenerateRecoveryCodes({ password: "right" });
  assert.equal(recovery_codes.length, 10);
  assert.equal(recovery_codes.some((c) => old.includes(c)), false);
  assert.deepEqual(b.api.callsTo("/auth/mfa/recovery-codes")[0].body, { password: "right" });
  const wrong = await tab.disableTotp({ password: "wrong" }).catch((e) => e);
  assert.equal(wrong.status, 400);
  assert.equal(await tab.disableTotp({ password: "right" }), undefined);
  assert.equal(b.api.callsTo("/auth/mfa/totp").at(-1).method, "DELETE");
  assert.equal(tab.sessionId, sid);
  assert.deepEqual((await tab.me()).mfa, { totp: false, passkeys: 0, recovery_codes: 0 });
  // The next login needs no second step.
  await tab.logout();
  const user = await tab.login(credentials);
  assert.equal(user.username, "john_doe");
  assert.equal("mfa_required" in user, false);
});

test("a session that signed in without the second factor is asked for it (403 MFA required)", async () => {
  const b = browser();
  const tab = createClient(b.options());
  await tab.login(credentials);
  // Another device turned TOTP on: this session (password only) may not manage the factors.
  b.api.mfa.totp = true;
  b.api.newRecoveryCodes();
  const e = await tab.regenerateRecoveryCodes({ password: "right" }).catch((e) => e);
  assert.ok(e instanceof AuthyyError);
  assert.deepEqual([e.status, e.detail], [403, "MFA required"]);
  assert.equal(tab.isSignedIn, true, "a 403 is not the end of the session");
});
