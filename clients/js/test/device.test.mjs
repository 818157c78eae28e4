// The device token login returns: kept apart from the session, by default in localStorage where
// the page may use it (else in memory), sent with every login, kept across logout, forgotten with
// the account. This file stands in for a browser's `globalThis.localStorage` (Node has none), so
// it runs in a process of its own (node --test runs each file so).
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, memoryStorage } from "../dist/index.js";
import { FakeApi, FakeClock } from "./fakes.mjs";

const KEY = "authyy.device_token";

/** Runs `fn` with `globalThis.localStorage` read through `get` (as a browser page sees it). */
async function withLocalStorage(get, fn) {
  Object.defineProperty(globalThis, "localStorage", { configurable: true, get });
  try {
    return await fn();
  } finally {
    delete globalThis.localStorage;
  }
}

/**
 * A page load: a client with the session in memory (the default) and no `deviceStorage`, so the
 * device token goes where the client chooses by default.
 */
const page = (api, clock) =>
  createClient({ baseUrl: "http://api.test", fetch: api.fetch, clock, locks: null, channel: null, autoRefresh: false });
const logIn = (client) => client.login({ email: "john@example.com", password: "right" });
const devicesSent = (api) => api.callsTo("/auth/login").map((c) => c.body.device_token ?? null);
const setup = () => {
  const clock = new FakeClock();
  return { clock, api: new FakeApi(clock) };
};

test("by default the device token goes to localStorage, not to the session's storage", async () => {
  const { api, clock } = setup();
  const local = memoryStorage();
  const session = memoryStorage();
  await withLocalStorage(
    () => local,
    async () => {
      const client = createClient({ baseUrl: "http://api.test", fetch: api.fetch, clock, storage: session,
        locks: null, channel: null, autoRefresh: false });
      await logIn(client);
    },
  );
  assert.equal(local.getItem(KEY), "device-1");
  assert.equal(session.getItem(KEY), null);
  assert.match(session.getItem("authyy.refresh_token"), /^refresh-/);
  assert.equal(local.getItem("authyy.refresh_token"), null, "the session stays where it was put");
  assert.equal(local.getItem("authyy.storage-probe"), null, "the probe left nothing behind");
});

test("a reloaded page sends the device token the last login kept", async () => {
  const { api, clock } = setup();
  const local = memoryStorage();
  await withLocalStorage(
    () => local,
    async () => {
      const before = page(api, clock);
      await logIn(before);
      before.dispose();
      // The reload: a new client, its session (in memory) gone, over the same localStorage.
      const after = page(api, clock);
      assert.equal(after.isSignedIn, false);
      await logIn(after);
    },
  );
  assert.deepEqual(devicesSent(api), [null, "device-1"]);
});

test("logout keeps the device token: the next login sends it", async () => {
  const { api, clock } = setup();
  const local = memoryStorage();
  await withLocalStorage(
    () => local,
    async () => {
      const client = page(api, clock);
      await logIn(client);
      await client.logout();
      assert.equal(local.getItem(KEY), "device-1");
      await logIn(client);
      await client.logout({ all: true });
      assert.equal(local.getItem(KEY), "device-1");
      await logIn(page(api, clock));
    },
  );
  assert.deepEqual(devicesSent(api), [null, "device-1", "device-1"]);
});

test("deleting the account forgets the device token", async () => {
  const { api, clock } = setup();
  const local = memoryStorage();
  await withLocalStorage(
    () => local,
    async () => {
      const client = page(api, clock);
      await logIn(client);
      await client.deleteAccount({ password: "right" });
      assert.equal(local.getItem(KEY), null);
      await logIn(page(api, clock));
    },
  );
  assert.deepEqual(devicesSent(api), [null, null]);
});

test("a deviceStorage given is used instead of localStorage", async () => {
  const { api, clock } = setup();
  const local = memoryStorage();
  const mine = memoryStorage();
  await withLocalStorage(
    () => local,
    async () => {
      const options = { baseUrl: "http://api.test", fetch: api.fetch, clock, deviceStorage: mine, locks: null,
        channel: null, autoRefresh: false };
      await logIn(createClient(options));
      await logIn(createClient(options));
    },
  );
  assert.equal(mine.getItem(KEY), "device-1");
  assert.equal(local.getItem(KEY), null);
  assert.deepEqual(devicesSent(api), [null, "device-1"]);
});

// Where localStorage cannot be used the client still works, the device token kept in memory:
// this page's logins send it, a reloaded page's do not.
const unusable = {
  "no localStorage (Node 20)": () => undefined,
  "reading it throws (a sandboxed iframe, site data off)": () => {
    throw new DOMException("The document is sandboxed", "SecurityError");
  },
  "one without methods (Node's --experimental-webstorage with no file)": () => ({}),
  "writes refused (full, or a private mode)": () => ({
    getItem: () => null,
    setItem: () => {
      throw new DOMException("The quota has been exceeded", "QuotaExceededError");
    },
    removeItem: () => {},
  }),
};
for (const [what, get] of Object.entries(unusable)) {
  test(`with ${what} the device token is kept in memory`, async () => {
    const { api, clock } = setup();
    const run = async () => {
      const client = page(api, clock);
      await logIn(client);
      await client.logout();
      await logIn(client);
      await logIn(page(api, clock));
    };
    await withLocalStorage(get, run);
    assert.deepEqual(devicesSent(api), [null, "device-1", null]);
  });
}

test("a password change or reset sends the device token, so the device stays trusted", async () => {
  const { api, clock } = setup();
  const local = memoryStorage();
  await withLocalStorage(
    () => local,
    async () => {
      const client = page(api, clock);
      await client.resetPassword({ token: "t", password: "new" });
      await logIn(client);
      await client.changePassword({ current_password: "right", new_password: "new" });
      await page(api, clock).resetPassword({ token: "t", password: "newer" });
    },
  );
  const sent = (path) => api.callsTo(path).map((c) => c.body.device_token ?? null);
  assert.deepEqual(sent("/auth/reset-password"), [null, "device-1"]);
  assert.deepEqual(sent("/auth/password"), ["device-1"]);
});
