// The client's calls: errors as typed objects, every operation of the API covered, the package
// version pinned to the API's, links read from URLs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { AuthyyClient, AuthyyError, OPERATION_METHODS, createClient, linkFromUrl, tokenFromUrl } from "../dist/index.js";
import { browser, json } from "./fakes.mjs";

const openapi = JSON.parse(readFileSync(new URL("../openapi.json", import.meta.url), "utf8"));
const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));

const answering = (res) => {
  const calls = [];
  const client = createClient({
    baseUrl: "http://api.test/prod/",
    fetch: async (url, init) => {
      calls.push({ url, init });
      return typeof res === "function" ? res(url, init) : res.clone();
    },
    channel: null,
    locks: null,
  });
  return { client, calls };
};

test("every operation of the API has a client method", () => {
  const ids = Object.values(openapi.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
  assert.deepEqual([...ids].sort(), Object.keys(OPERATION_METHODS).sort());
  for (const method of Object.values(OPERATION_METHODS)) {
    assert.equal(typeof AuthyyClient.prototype[method], "function", method);
  }
});

test("the package version is the API's", () => {
  assert.equal(pkg.version, openapi.info.version);
});

test("an error carries the status, the detail and Retry-After", async () => {
  const { client } = answering(json(429, { detail: "Too many login attempts" }, { "retry-after": "30" }));
  const e = await client.login({ email: "a@example.com", password: "x" }).catch((e) => e);
  assert.ok(e instanceof AuthyyError);
  assert.equal(e.status, 429);
  assert.equal(e.detail, "Too many login attempts");
  assert.equal(e.retryAfter, 30);
  assert.equal(e.message, "429: Too many login attempts");
});

test("a validation error lists its fields", async () => {
  const detail = [{ loc: ["body", "password"], msg: "Password is too weak", type: "value_error" }];
  const { client } = answering(json(422, { detail }));
  const e = await client.signup({ username: "a", email: "a@example.com", password: "x" }).catch((e) => e);
  assert.equal(e.status, 422);
  assert.deepEqual(e.detail, detail);
  assert.deepEqual(e.fieldErrors, { password: "Password is too weak" });
  assert.equal(e.message, "422: password: Password is too weak");
});

test("an answer that is not JSON still gives an error with its status", async () => {
  const { client } = answering(new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" }));
  const e = await client.forgotPassword({ email: "a@example.com" }).catch((e) => e);
  assert.equal(e.status, 502);
  assert.equal(e.detail, "Bad Gateway");
  assert.equal(e.retryAfter, null);
});

test("a request that gets no answer is an error with status 0", async () => {
  const { client } = answering(() => {
    throw new TypeError("Failed to fetch");
  });
  const e = await client.forgotPassword({ email: "a@example.com" }).catch((e) => e);
  assert.equal(e.status, 0);
  assert.match(e.detail, /could not be reached/);
});

test("calls go under the base URL with JSON and no cookies", async () => {
  const { client, calls } = answering(json(200, { message: "ok" }));
  await client.verifyEmail({ token: "t" });
  assert.equal(calls[0].url, "http://api.test/prod/auth/verify-email");
  assert.equal(calls[0].init.headers["content-type"], "application/json");
  assert.equal(calls[0].init.credentials, "omit");
  assert.equal(calls[0].init.body, '{"token":"t"}');
});

test("listing users reads the next page's cursor from the Link header", async () => {
  const b = browser();
  const admin = createClient(b.options());
  await admin.login({ email: "john@example.com", password: "right" });
  const first = await admin.listUsers({ limit: 1 });
  assert.deepEqual(first, { users: [{ id: 1 }], nextCursor: "abc=" });
  const second = await admin.listUsers({ limit: 1, cursor: first.nextCursor });
  assert.deepEqual(second, { users: [{ id: 2 }], nextCursor: null });
  assert.equal(b.api.calls.at(-1).path, "/auth/users");
});

test("the security log pages newest first with the cursor from the Link header, for the user and for admins", async () => {
  const b = browser();
  const client = createClient(b.options());
  await client.login({ email: "john@example.com", password: "right" });
  const first = await client.listEvents({ limit: 1 });
  assert.deepEqual(first, { events: [{ id: "newest", type: "user_updated", actor: "admin" }], nextCursor: "ZTox" });
  const second = await client.listEvents({ limit: 1, cursor: first.nextCursor });
  assert.deepEqual(second.nextCursor, null);
  assert.equal(second.events[0].id, "older");
  assert.equal(b.api.calls.at(-1).path, "/auth/me/events");
  const theirs = await client.listUserEvents(7, { limit: 1 });
  assert.equal(theirs.events[0].actor, "admin:3");
  assert.equal(b.api.calls.at(-1).path, "/auth/admin/users/7/events");
});

test("the admin calls name the user in the path and send only the change", async () => {
  const b = browser();
  const admin = createClient(b.options());
  assert.deepEqual(admin.scopes, []);
  await admin.login({ email: "john@example.com", password: "right" });
  assert.deepEqual(admin.scopes, ["user", "admin"]);
  assert.equal((await admin.getUser(7)).app_metadata.plan, undefined);
  const changed = await admin.updateUser(7, { app_metadata: { plan: "pro" } });
  assert.deepEqual(changed.app_metadata, { plan: "pro" });
  await admin.endUserSessions(7);
  await admin.deleteUser(7);
  assert.deepEqual(
    b.api.calls.slice(-4).map((c) => [c.method, c.path, c.body ?? null]),
    [
      ["GET", "/auth/admin/users/7", null],
      ["PATCH", "/auth/admin/users/7", { app_metadata: { plan: "pro" } }],
      ["DELETE", "/auth/admin/users/7/sessions", null],
      ["DELETE", "/auth/admin/users/7", null],
    ],
  );
  const e = await admin.getUser(8).catch((e) => e);
  assert.equal(e.status, 404);
  assert.equal(e.detail, "User not found");
});

test("a link's token is read from the fragment or the query", () => {
  assert.equal(tokenFromUrl("http://localhost:3000/reset-password#token=abc"), "abc");
  assert.equal(tokenFromUrl("http://localhost:3000/reset?token=xyz"), "xyz");
  assert.equal(tokenFromUrl("http://localhost:3000/reset"), null);
});

test("a hash route's link has its token in the fragment's query", () => {
  assert.equal(tokenFromUrl("http://localhost:3000/#/reset-password?token=abc"), "abc");
});

test("a verification link says which address and account it confirms", () => {
  assert.deepEqual(linkFromUrl("http://localhost:3000/verify-email#token=abc&email=john%40example.com&account=john_doe"), {
    token: "abc",
    email: "john@example.com",
    account: "john_doe",
  });
  assert.deepEqual(linkFromUrl("http://localhost:3000/#/verify-email?token=abc&email=j%2Btag%40example.com&account=j%20d"), {
    token: "abc",
    email: "j+tag@example.com",
    account: "j d",
  });
  assert.deepEqual(linkFromUrl("http://localhost:3000/verify-email?token=abc&email=a%40b.c"), {
    token: "abc",
    email: "a@b.c",
    account: null,
  });
  // An older link: the token alone.
  assert.deepEqual(linkFromUrl("http://localhost:3000/verify-email#token=abc"), { token: "abc", email: null, account: null });
  // The fields come with the token they stand beside, never from another part of the URL.
  assert.deepEqual(linkFromUrl("http://localhost:3000/verify-email?email=x%40y.z#token=abc"), {
    token: "abc",
    email: null,
    account: null,
  });
});
