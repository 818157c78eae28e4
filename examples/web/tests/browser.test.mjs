// The example app and the client in headless Chromium against the API served locally (run by
// infra/browser-tests.sh, which starts the API, this app on an allowed origin with its test hooks
// (`window.auth`), and again on one the API does not allow, as in production). The API's access
// tokens live 5 seconds here, so refreshes happen all the time, and its grace window for a
// refresh token used twice is 2 seconds.
//   AUTHYY_API, APP_URL, OTHER_APP_URL, PASSKEY_APP_URL, OUTBOX_DIR, SCREENSHOTS_DIR, CHROMIUM, PYTHON
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { chromium } from "playwright-core";
import { encode } from "uqr";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run infra/browser-tests.sh`);
  return value;
};
const API = env("AUTHYY_API");
const APP = env("APP_URL");
const OTHER = env("OTHER_APP_URL");
// The app again under a domain name: passkeys are bound to a domain, never to an IP address.
const PASSKEY_APP = env("PASSKEY_APP_URL");
const OUTBOX = env("OUTBOX_DIR");
const SHOTS = env("SCREENSHOTS_DIR");
const ACCESS_TTL_MS = 5000;
const GRACE_MS = 2000;
const PASSWORD = "correct horse battery staple 42";
mkdirSync(SHOTS, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // The machine's network is closed: no background connections, no QUIC.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});
after(async () => browser?.close());

let n = 0;
const unique = (what) => `${what}${Date.now().toString(36)}${++n}`;

/** The token of the newest mail to `to` whose subject has `subject` (mail is written just after the answer). */
async function mailedToken(to, subject) {
  for (let i = 0; i < 50; i++) {
    try {
      const out = execFileSync(process.env.PYTHON || "python3",
        ["infra/outbox.py", "--dir", OUTBOX, "--to", to, "--subject", subject, "--token"],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      if (out) return out;
    } catch {
      // not there yet
    }
    await sleep(200);
  }
  throw new Error(`no "${subject}" mail to ${to} in ${OUTBOX}`);
}

/** The number of the 30-second TOTP time step `ms` falls in (RFC 6238, T0 = 0). */
const timeStep = (ms = Date.now()) => Math.floor(ms / 30_000);

/** The TOTP code (RFC 6238: HMAC-SHA1, 6 digits) of a base32 secret for time step `step`. */
function totp(secret, step) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/[\s=]/g, "").toUpperCase()) {
    const value = alphabet.indexOf(c);
    if (value < 0) throw new Error(`not base32: ${secret}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

/** The claims of the access token the page's client holds (read, not verified). */
const accessClaims = (page) =>
  page.evaluate(async () => {
    const payload = (await auth.getAccessToken()).split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  });

/** Counts the API calls `page` makes from now on. */
function watch(page) {
  page.calls = [];
  page.refreshTokensSent = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(API)) return;
    const call = `${r.method()} ${new URL(r.url()).pathname}`;
    page.calls.push(call);
    if (call === "POST /auth/tokens") page.refreshTokensSent.push({ token: r.headers().authorization, at: Date.now() });
  });
  page.on("pageerror", (e) => console.error(`page error: ${e.message}`));
  return page;
}

/**
 * The link of the newest mail to `to` whose subject has `subject`, as mailed (the verification
 * link carries the address and account beside the token), moved to this run's app: local mode's
 * links name http://localhost:3000.
 */
async function mailedLink(to, subject) {
  await mailedToken(to, subject);
  const text = execFileSync(process.env.PYTHON || "python3",
    ["infra/outbox.py", "--dir", OUTBOX, "--to", to, "--subject", subject, "--last"], { encoding: "utf8" });
  const link = new URL(/https?:\/\/\S*token=\S*/.exec(text)[0]);
  return `${APP}${link.pathname}${link.search}${link.hash}`;
}

/** A page of the app in `context`, with the API calls it makes counted. */
async function open(context, url = APP) {
  const page = watch(await context.newPage());
  await page.goto(url);
  return page;
}
const view = (page, name) => page.waitForSelector(`body[data-view="${name}"]`);
const status = (page) => page.locator("#status").textContent();

/** Signs a new user up through the form; returns the username and email. */
async function signUp(page) {
  const username = unique("u");
  const email = `${username}@example.com`;
  await view(page, "signed-out");
  await page.fill("#signup-form [name=username]", username);
  await page.fill("#signup-form [name=email]", email);
  await page.fill("#signup-form [name=password]", PASSWORD);
  await page.click("#signup-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("Account created"));
  return { username, email };
}

/** Opens a verification link on `page` and confirms it with the button. */
async function confirmLink(page, link) {
  await page.goto(link);
  await view(page, "verify");
  await page.click("#verify-confirm");
  await page.waitForSelector('body[data-verified="done"]');
  assert.equal(await page.locator("#verify-result").textContent(), "Email verified.");
  assert.equal(new URL(page.url()).hash, "", "the token is out of the address bar");
}

/** Signs a new user up, verifies the address through the mailed link, returns the email. */
async function newVerifiedUser(page) {
  const user = await signUp(page);
  await confirmLink(page, await mailedLink(user.email, "Confirm"));
  await page.goto(APP);
  return user;
}

/** Fills in and sends the sign-in form; `then` is the view it leads to. */
async function signIn(page, email, password = PASSWORD, then = "account") {
  await view(page, "signed-out");
  await page.fill("#login-form [name=email]", email);
  await page.fill("#login-form [name=password]", password);
  await page.click("#login-form button");
  await view(page, then);
}

/** One user signed in on two devices (browser contexts); `page` has reloaded to list both. */
async function signedInOnTwoDevices() {
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  const page = await open(laptop);
  const { email } = await newVerifiedUser(page);
  await signIn(page, email);
  const other = await open(phone);
  await signIn(other, email);
  await page.reload();
  await view(page, "account");
  return { page, other, close: () => Promise.all([laptop.close(), phone.close()]) };
}

/**
 * One user signed in on a tab and on a tab it opened: the opened tab starts with a copy of the
 * opener's sessionStorage, so the two hold one session.
 */
async function signedInInTwoTabs() {
  const context = await browser.newContext();
  const one = await open(context);
  const { email } = await newVerifiedUser(one);
  await signIn(one, email);
  const [opened] = await Promise.all([context.waitForEvent("page"), one.evaluate(() => void window.open(location.href))]);
  const two = watch(opened);
  await view(two, "account");
  return { context, one, two, email };
}

test("a new user signs up, verifies the address, signs in, sees the account and signs out", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  await view(page, "signed-out");
  await page.screenshot({ path: join(SHOTS, "signed-out.png"), fullPage: true });
  const { username, email } = await newVerifiedUser(page);
  await signIn(page, email);
  assert.equal(await page.locator("#me-username").textContent(), username);
  assert.equal(await page.locator("#me-verified").textContent(), "verified");
  assert.equal(await page.locator("#sessions tbody tr").count(), 1);
  assert.equal(await page.locator("#sessions tbody tr td:last-child").textContent(), "this device");
  // The security log, newest first: this sign-in (a device the account did not know), the
  // verification, the signup.
  assert.deepEqual(await page.locator("#activity tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.type)), [
    "login_succeeded",
    "email_verified",
    "signup",
  ]);
  assert.match(await page.locator("#activity tbody tr .what").first().textContent(), /Signed in \(password, new device\)/);
  await page.screenshot({ path: join(SHOTS, "account.png"), fullPage: true });
  // The access token is only in memory, the refresh token in sessionStorage, the device token in
  // localStorage.
  const stored = () =>
    page.evaluate(() => ({ local: Object.keys(localStorage).sort(), session: Object.keys(sessionStorage).sort() }));
  assert.deepEqual(await stored(), { local: ["authyy.device_token"], session: ["authyy.refresh_token"] });
  // A reload keeps the session (one refresh).
  await page.reload();
  await view(page, "account");
  await page.click("#logout");
  await view(page, "signed-out");
  assert.deepEqual(await stored(), { local: ["authyy.device_token"], session: [] }, "the device stays known");
  await context.close();
});

test("the session stays with its tab; the device token outlives it and goes with the next login", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const { email } = await newVerifiedUser(page);
  await signIn(page, email);
  const device = await page.evaluate(() => localStorage.getItem("authyy.device_token"));
  assert.ok(device);
  // A new tab (not opened from this one) has no session: it starts signed out.
  const other = await open(context);
  await view(other, "signed-out");
  assert.equal(await other.evaluate(() => sessionStorage.getItem("authyy.refresh_token")), null);
  // Its login, and one after a logout and a reload, send the device token back.
  const deviceSent = async (tab) => {
    const [login] = await Promise.all([tab.waitForRequest(`${API}/auth/login`), signIn(tab, email)]);
    return login.postDataJSON().device_token;
  };
  assert.equal(await deviceSent(other), device);
  await page.click("#logout");
  await view(page, "signed-out");
  await page.reload();
  assert.equal(await deviceSent(page), device);
  await context.close();
});

test("a verification link spends its token only when its button is clicked", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const user = await signUp(page);
  const link = await mailedLink(user.email, "Confirm");
  // A mail scanner opens the link and runs its scripts, but clicks nothing: no call to the API.
  const scanner = await browser.newContext();
  const scanned = await open(scanner, link);
  await view(scanned, "verify");
  assert.equal(await scanned.locator("#verify-what").textContent(), `Confirm ${user.email} for the account ${user.username}`);
  await sleep(1500);
  assert.deepEqual(scanned.calls, []);
  await scanner.close();
  // The owner opens it, sees what it confirms, and clicks: then, and only then, it is spent.
  const owner = await open(context, link);
  await view(owner, "verify");
  await owner.screenshot({ path: join(SHOTS, "verify.png"), fullPage: true });
  await sleep(1500);
  assert.deepEqual(owner.calls, []);
  await owner.click("#verify-confirm");
  await owner.waitForSelector('body[data-verified="done"]');
  assert.equal(await owner.locator("#verify-result").textContent(), "Email verified.");
  assert.deepEqual(owner.calls, ["POST /auth/verify-email"]);
  assert.equal(await owner.locator("#verify-confirm").isHidden(), true);
  await owner.goto(APP);
  await signIn(owner, user.email);
  assert.equal(await owner.locator("#me-verified").textContent(), "verified");
  await context.close();
});

test("an email-change link says which account moves to which address, and moves it on the click", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const { username, email } = await newVerifiedUser(page);
  await signIn(page, email);
  const newEmail = `new.${email}`;
  await page.fill("#email-form [name=new_email]", newEmail);
  await page.fill("#email-form [name=password]", PASSWORD);
  await page.click("#email-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("Check your new address"));
  const link = await open(context, await mailedLink(newEmail, "new email"));
  await view(link, "verify");
  assert.equal(await link.locator("#verify-what").textContent(), `Confirm ${newEmail} for the account ${username}`);
  await sleep(1000);
  assert.deepEqual(link.calls, []);
  await link.click("#verify-confirm");
  await link.waitForSelector('body[data-verified="done"]');
  assert.deepEqual(link.calls, ["POST /auth/verify-email"]);
  await page.reload();
  await view(page, "account");
  assert.equal(await page.locator("#me-email").textContent(), newEmail);
  await context.close();
});

test("a verification link's address and account are shown as text; an older link asks all the same", async () => {
  const context = await browser.newContext();
  const markup = '<img src="x" onerror="window.injected = 1">';
  const crafted = await open(context,
    `${APP}/verify-email#token=nope&email=${encodeURIComponent(markup)}&account=${encodeURIComponent("<b>x</b>")}`);
  await view(crafted, "verify");
  assert.equal(await crafted.locator("#verify-what").textContent(), `Confirm ${markup} for the account <b>x</b>`);
  assert.equal(await crafted.locator("#verify-what img, #verify-what b").count(), 0);
  assert.equal(await crafted.evaluate(() => window.injected), undefined);
  // A link with the token alone (mailed before the API added the rest) still waits for the click.
  const older = await open(context, `${APP}/verify-email#token=nope`);
  await view(older, "verify");
  assert.equal(await older.locator("#verify-what").textContent(), "Confirm this address");
  await sleep(500);
  assert.deepEqual(older.calls, []);
  await older.click("#verify-confirm");
  await older.waitForSelector('body[data-verified="done"]');
  assert.equal(await older.locator("#verify-result").textContent(), "Invalid or expired token.");
  assert.deepEqual(older.calls, ["POST /auth/verify-email"]);
  // A link with no token has nothing to confirm.
  const bare = await open(context, `${APP}/verify-email`);
  await view(bare, "verify");
  assert.match(await bare.locator("#verify-what").textContent(), /no token/);
  assert.equal(await bare.locator("#verify-confirm").isHidden(), true);
  await context.close();
});

test("a forgotten password is reset through the mailed link's fragment", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const { email } = await newVerifiedUser(page);
  await page.fill("#forgot-form [name=email]", email);
  await page.click("#forgot-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.length > 0);
  const token = await mailedToken(email, "Reset");
  await page.goto(`${APP}/reset-password#token=${token}`);
  await view(page, "reset");
  await page.screenshot({ path: join(SHOTS, "reset.png"), fullPage: true });
  await page.fill("#reset-form [name=password]", "violet tractor jumps over moon 7");
  await page.click("#reset-form button");
  await view(page, "signed-out");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("Sign in with your new password"));
  await signIn(page, email, "violet tractor jumps over moon 7");
  await context.close();
});

test("a password change keeps this tab signed in and signs the other device out", async () => {
  const { page, other, close } = await signedInOnTwoDevices();
  assert.equal(await page.locator("#sessions tbody tr").count(), 2);
  // A weak new password is refused with the API's words.
  await page.fill("#password-form [name=current_password]", PASSWORD);
  await page.fill("#password-form [name=new_password]", "password");
  await page.click("#password-form button");
  await page.waitForSelector("#status.error");
  assert.match(await status(page), /new_password/);
  await page.fill("#password-form [name=current_password]", PASSWORD);
  await page.fill("#password-form [name=new_password]", "violet tractor jumps over moon 7");
  await page.click("#password-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "Password changed.");
  assert.equal(await page.locator("#sessions tbody tr").count(), 1);
  // The phone finds out at its next refresh (within the 5 s access token here).
  await view(other, "signed-out");
  assert.match(await status(other), /session has ended/);
  await close();
});

test("ending another session from the list signs that device out", async () => {
  const { page, other, close } = await signedInOnTwoDevices();
  await page.click("#sessions tbody tr button");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "That device is signed out.");
  assert.equal(await page.locator("#sessions tbody tr").count(), 1, "the list no longer shows it");
  await view(other, "signed-out");
  await close();
});

test("two tabs refreshing at once keep their one session", async () => {
  const { context, one, two, email } = await signedInInTwoTabs();
  const refreshes = () => [...one.calls, ...two.calls].filter((c) => c === "POST /auth/tokens").length;
  // Every round, both tabs ask for a refresh at the same moment, twice each: one request
  // (and one more when a timer fires meanwhile).
  const rounds = 5;
  let before = refreshes();
  for (let i = 0; i < rounds; i++) {
    await Promise.all([one, two].map((tab) => tab.evaluate(() => Promise.all([auth.refresh(), auth.refresh()]))));
  }
  const byRounds = refreshes() - before;
  // And the timers of both tabs refresh the 5-second tokens on their own: about one request per
  // half lifetime, not one per tab (the counts are printed; they depend on the machine's speed).
  before = refreshes();
  const wait = 3 * ACCESS_TTL_MS;
  await sleep(wait);
  const byTimers = refreshes() - before;
  console.error(`two tabs: ${byRounds} refresh requests for ${rounds} rounds of 4 calls, ${byTimers} by timers in ${wait / 1000} s`);
  // Coordinated tabs do not send one refresh token twice. Rarely one is: the opened tab starts
  // with the opener's refresh token as it was when it opened, and when the opener refreshed
  // before the new page was listening for its message, the new page spends that copy again.
  // That happens within a second, inside the API's grace window, and gets the same pair.
  // Uncoordinated tabs would send every token twice.
  const first = new Map();
  const repeats = [];
  for (const { token, at } of [...one.refreshTokensSent, ...two.refreshTokensSent].sort((a, b) => a.at - b.at)) {
    if (first.has(token)) repeats.push(at - first.get(token));
    else first.set(token, at);
  }
  console.error(`two tabs: refresh tokens sent twice: ${repeats.length} (${repeats.map((ms) => `${ms} ms apart`).join(", ")})`);
  assert.ok(repeats.length <= 1, `${repeats.length} refresh tokens sent twice`);
  assert.ok(repeats.every((ms) => ms < GRACE_MS), "a refresh token sent twice outside the grace window");
  for (const tab of [one, two]) {
    assert.equal(await tab.evaluate(async () => (await auth.me()).email), email);
  }
  const sessions = await one.evaluate(() => auth.listSessions());
  assert.equal(sessions.length, 1, "still one session");
  await context.close();
});

test("a request answered 401 is retried once after a refresh", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const { email } = await newVerifiedUser(page);
  // A client whose clock stood still (a tab frozen while the laptop slept) sends an access token
  // it believes is fresh; the API answers 401; the client refreshes and retries.
  const result = await page.evaluate(
    async ({ api, email, password, wait }) => {
      const { createClient, memoryStorage } = await import("/client/index.js");
      const frozenAt = Date.now();
      const slow = {
        now: () => frozenAt,
        setTimeout: (f, ms) => setTimeout(f, ms),
        clearTimeout: (h) => clearTimeout(h),
      };
      const client = createClient({ baseUrl: api, storage: memoryStorage(), clock: slow, autoRefresh: false,
        storageKey: "retry-test" });
      await client.login({ email, password });
      await new Promise((r) => setTimeout(r, wait));
      const me = await client.me();
      return me.email;
    },
    { api: API, email, password: PASSWORD, wait: ACCESS_TTL_MS + 1500 },
  );
  assert.equal(result, email);
  assert.deepEqual(page.calls.slice(-4), ["POST /auth/login", "GET /auth/me", "POST /auth/tokens", "GET /auth/me"]);
  await context.close();
});

test("logout in one tab signs the other tab out", async () => {
  const { context, one, two } = await signedInInTwoTabs();
  await one.click("#logout");
  await view(one, "signed-out");
  await view(two, "signed-out");
  assert.equal(await two.evaluate(() => auth.isSignedIn), false);
  await context.close();
});

test("logout everywhere in one tab ends the sessions other tabs hold on their own", async () => {
  const context = await browser.newContext();
  const [one, two] = [await open(context), await open(context)];
  const { email } = await newVerifiedUser(one);
  // Each tab with its own session in sessionStorage-like memory, not shared.
  const signInAlone = (tab) =>
    tab.evaluate(
      async ({ api, email, password }) => {
        const { createClient, memoryStorage } = await import("/client/index.js");
        window.alone = createClient({ baseUrl: api, storage: memoryStorage(), storageKey: "alone" });
        window.aloneEvents = [];
        window.alone.onAuthChange((e) => window.aloneEvents.push(e));
        await window.alone.login({ email, password });
        return window.alone.sessionId;
      },
      { api: API, email, password: PASSWORD },
    );
  const [sidOne, sidTwo] = [await signInAlone(one), await signInAlone(two)];
  assert.notEqual(sidOne, sidTwo);
  await one.evaluate(() => window.alone.logout({ all: true }));
  await two.waitForFunction(() => window.aloneEvents.includes("SIGNED_OUT"));
  assert.equal(await two.evaluate(() => window.alone.isSignedIn), false);
  await context.close();
});

test("the exposed headers are readable from an allowed origin", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const seen = await page.evaluate(async (api) => {
    const res = await fetch(`${api}/auth/me`);
    return { status: res.status, challenge: res.headers.get("www-authenticate") };
  }, API);
  assert.deepEqual(seen, { status: 401, challenge: "Bearer" });
  await context.close();
});

/** The names of the globals of `page` that hold an authyy client. */
const clientGlobals = (page) =>
  page.evaluate(() =>
    Object.getOwnPropertyNames(window).filter((name) => {
      try {
        return typeof window[name]?.getAccessToken === "function";
      } catch {
        return false; // a getter that throws
      }
    }),
  );

test("the page exposes its client on window only when served with the test hooks", async () => {
  const context = await browser.newContext();
  const production = await open(context, OTHER);
  await view(production, "signed-out");
  assert.deepEqual(await clientGlobals(production), []);
  assert.equal(await production.evaluate(() => "auth" in window || "authyy" in window), false);
  const tested = await open(context, APP);
  await view(tested, "signed-out");
  assert.deepEqual(await clientGlobals(tested), ["auth"], "the check above can see one");
  await context.close();
});

test("a page on an origin the API does not allow cannot call it", async () => {
  const context = await browser.newContext();
  const page = await open(context, OTHER);
  const messages = [];
  page.on("console", (m) => messages.push(m.text()));
  await view(page, "signed-out");
  const failure = await page.evaluate(async (api) => {
    const { createClient } = await import("/client/index.js");
    try {
      await createClient({ baseUrl: api }).forgotPassword({ email: "someone@example.com" });
      return null;
    } catch (e) {
      return { status: e.status, detail: e.detail };
    }
  }, API);
  assert.equal(failure?.status, 0, "the browser blocked the answer");
  assert.match(failure.detail, /origin is not allowed/);
  assert.ok(messages.some((m) => /CORS/.test(m)), `the console says why: ${messages.join(" | ")}`);
  await context.close();
});

test("two-step sign-in: set up from the QR code or key, a code at sign-in, recovery codes, turned off", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const elsewhere = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(APP) && !r.url().startsWith(API)) elsewhere.push(r.url());
  });
  const { email } = await newVerifiedUser(page);
  await signIn(page, email);
  assert.equal(await page.locator("#two-step").getAttribute("data-totp"), "off");
  assert.equal(await page.locator("#mfa-forms").isHidden(), true);
  const device = await page.evaluate(() => localStorage.getItem("authyy.device_token"));

  // Setting up: the QR code of the API's otpauth:// URI, drawn in the page, and the key as text.
  const [started] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${API}/auth/mfa/totp` && r.request().method() === "POST"),
    page.click("#totp-start"),
  ]);
  const { secret, otpauth_uri } = await started.json();
  await page.waitForSelector("#totp-qr svg");
  assert.equal((await page.locator("#totp-secret").textContent()).replace(/\s/g, ""), secret);
  assert.match(secret, /^[A-Z2-7]{32}$/);
  const uri = new URL(otpauth_uri);
  assert.equal(uri.protocol, "otpauth:");
  assert.equal(uri.searchParams.get("secret"), secret);
  assert.ok(decodeURIComponent(uri.pathname).endsWith(`:${email}`), otpauth_uri);
  // The page's QR code holds that URI: its dark modules are the ones uqr gives for it here.
  const qr = encode(otpauth_uri, { ecc: "M", border: 4 });
  const modules = qr.data.flatMap((row, y) => row.flatMap((dark, x) => (dark ? [`M${x} ${y}h1v1h-1z`] : []))).join("");
  assert.equal(await page.locator("#totp-qr svg path").getAttribute("d"), modules);
  assert.equal(await page.locator("#totp-qr svg").getAttribute("viewBox"), `0 0 ${qr.size} ${qr.size}`);
  await page.screenshot({ path: join(SHOTS, "totp-setup.png"), fullPage: true });

  // Confirmed with the code of the current time step (the API takes one step either side of its
  // clock, and never a step not later than the last one it took).
  const confirmedStep = timeStep();
  await page.fill("#totp-confirm-form [name=code]", totp(secret, confirmedStep));
  await page.fill("#totp-confirm-form [name=password]", PASSWORD);
  await page.click("#totp-confirm-form button[type=submit]");
  await page.waitForSelector("#recovery-codes li");
  const codes = await page.locator("#recovery-codes li").allTextContents();
  assert.equal(codes.length, 10);
  for (const code of codes) assert.match(code, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
  // The codes show before the account view is drawn again; the status comes after it.
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("Two-step sign-in is on"));
  assert.equal(await page.locator("#totp-enroll").isHidden(), true);
  assert.equal(await page.locator("#two-step").getAttribute("data-totp"), "on");
  assert.match(await page.locator("#mfa-state").textContent(), /Recovery codes left: 10\./);
  await page.screenshot({ path: join(SHOTS, "recovery-codes.png"), fullPage: true });
  // The confirm ended the old session and carried this tab on in a new one, at aal2.
  assert.deepEqual(await page.locator("#sessions tbody tr td:last-child").allTextContents(), ["this device"]);
  const confirmed = await accessClaims(page);
  assert.equal(confirmed.aal, "aal2");
  assert.deepEqual(confirmed.amr, ["pwd", "otp", "mfa"]);
  await page.click("#recovery-done");
  assert.equal(await page.locator("#recovery").isHidden(), true);
  assert.equal(await page.locator("#recovery-codes li").count(), 0, "the codes leave the page");

  // Signing in again: the password, then a code (of the next time step: later than the confirm's).
  await page.click("#logout");
  await signIn(page, email, PASSWORD, "mfa");
  assert.equal(await page.evaluate(() => auth.isSignedIn), false, "no session before the code");
  await page.screenshot({ path: join(SHOTS, "mfa-login.png"), fullPage: true });
  await page.fill("#mfa-code-form [name=code]", totp(secret, confirmedStep + 1));
  const [second] = await Promise.all([
    page.waitForRequest(`${API}/auth/login/mfa`),
    page.click("#mfa-code-form button"),
  ]);
  await view(page, "account");
  assert.equal(second.postDataJSON().device_token, device, "the second step sends the device token");
  assert.equal(second.postDataJSON().recovery_code, undefined);
  assert.deepEqual((await accessClaims(page)).amr, ["pwd", "otp", "mfa"]);

  // New recovery codes: the old ones stop working.
  await page.fill("#recovery-form [name=password]", PASSWORD);
  await page.click("#recovery-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("New recovery codes"));
  const fresh = await page.locator("#recovery-codes li").allTextContents();
  assert.equal(fresh.length, 10);
  assert.equal(fresh.some((code) => codes.includes(code)), false);
  await page.click("#recovery-done");

  // A recovery code instead of the app: an old one is refused, a new one works once.
  await page.click("#logout");
  await signIn(page, email, PASSWORD, "mfa");
  await page.fill("#mfa-recovery-form [name=recovery_code]", codes[0]);
  await page.click("#mfa-recovery-form button");
  await page.waitForSelector("#status.error");
  assert.equal(await status(page), "Invalid code");
  await page.fill("#mfa-recovery-form [name=recovery_code]", fresh[0].toUpperCase());
  await page.click("#mfa-recovery-form button");
  await view(page, "account");
  assert.deepEqual((await accessClaims(page)).amr, ["pwd", "mfa"]);
  assert.match(await page.locator("#mfa-state").textContent(), /Recovery codes left: 9\./);

  // Turned off (with the password): the password alone signs in again.
  await page.fill("#totp-disable-form [name=password]", PASSWORD);
  await page.click("#totp-disable-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent === "Two-step sign-in is off.");
  assert.equal(await page.locator("#two-step").getAttribute("data-totp"), "off");
  assert.equal(await page.locator("#mfa-forms").isHidden(), true);
  await page.click("#logout");
  await signIn(page, email);
  assert.equal((await accessClaims(page)).aal, "aal1");
  assert.deepEqual(elsewhere, [], "the page asked nothing of any other site");
  await context.close();
});

test("passkeys: added from the account page, then a sign-in with no password, a second factor, removed", async () => {
  const context = await browser.newContext();
  const { email } = await newVerifiedUser(await open(context));
  const page = await open(context, PASSKEY_APP);
  // A platform authenticator as a laptop has one: CTAP2, resident keys, the user verified.
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });
  await signIn(page, email);
  assert.equal(await page.locator("#passkeys tbody tr").count(), 0);

  // Added: the browser creates the credential, the API checks it; the first factor brings codes.
  await page.fill("#passkey-form [name=name]", "Test laptop");
  await page.fill("#passkey-form [name=password]", PASSWORD);
  await page.click("#passkey-form button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith('Passkey "Test laptop" added'));
  assert.equal(await page.locator("#recovery-codes li").count(), 10);
  assert.deepEqual(await page.locator("#passkeys tbody tr td.name").allTextContents(), ["Test laptop"]);
  await page.screenshot({ path: join(SHOTS, "passkey-added.png"), fullPage: true });
  await page.click("#recovery-done");
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, "a discoverable credential: no username needed");

  // Signed out, then in with the passkey alone: two factors at once.
  await page.click("#logout");
  await view(page, "signed-out");
  await page.screenshot({ path: join(SHOTS, "passkey-sign-in.png"), fullPage: true });
  await page.click("#passkey-login");
  await view(page, "account");
  const claims = await accessClaims(page);
  assert.deepEqual(claims.amr, ["hwk", "mfa"]);
  assert.equal(claims.aal, "aal2");
  assert.notEqual(await page.locator("#passkeys tbody tr td:nth-child(3)").textContent(), "never");

  // The password alone no longer signs in: the passkey completes the second step.
  await page.click("#logout");
  await signIn(page, email, PASSWORD, "mfa");
  assert.equal(await page.locator("#mfa-passkey").isHidden(), false);
  assert.equal(await page.locator("#mfa-code-form").isHidden(), true, "no TOTP on this account");
  await page.screenshot({ path: join(SHOTS, "passkey-second-step.png"), fullPage: true });
  await page.click("#mfa-passkey-button");
  await view(page, "account");
  assert.equal((await accessClaims(page)).aal, "aal2");

  // Removed (with the password): the password alone signs in again.
  await page.fill("#passkey-form [name=password]", PASSWORD);
  await page.click("#passkeys tbody tr button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("is removed"));
  assert.equal(await page.locator("#passkeys tbody tr").count(), 0);
  assert.match(await page.locator("#mfa-state").textContent(), /^Off/);
  await page.click("#logout");
  await signIn(page, email);
  await context.close();
});

test("an admin finds a user, sets its app_metadata and disables it; a plain user sees no admin card", async () => {
  const userContext = await browser.newContext();
  const userPage = await open(userContext);
  const user = await newVerifiedUser(userPage);
  await signIn(userPage, user.email);
  assert.equal(await userPage.locator("#admin-card").isHidden(), true, "no admin card for a plain user");

  const adminContext = await browser.newContext();
  const page = await open(adminContext);
  const admin = await newVerifiedUser(page);
  // Operators make the first admin with the CLI, on the emulator's SQLite file.
  execFileSync(env("AUTHYY_ADMIN"), ["--sqlite", env("AUTHYY_SQLITE"), "promote", admin.email], { stdio: "ignore" });
  await signIn(page, admin.email);
  await page.waitForSelector("#admin-card:not([hidden])");
  await page.fill("#admin-find-form [name=email]", user.email);
  await page.click("#admin-find-form button");
  await page.waitForSelector("#admin-user:not([hidden])");
  assert.match(await page.locator("#admin-user-name").textContent(), new RegExp(user.username));
  assert.equal(await page.locator("#admin-user-status").textContent(), "active");
  // The before-signup hook (the example Lambda function) started the account on the free plan.
  assert.deepEqual(JSON.parse(await page.inputValue("#admin-metadata-form [name=app_metadata]")), { plan: "free" });
  await page.fill("#admin-metadata-form [name=app_metadata]", '{"plan": "pro"}');
  await page.click("#admin-metadata-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.startsWith("Saved"));
  await page.screenshot({ path: join(SHOTS, "admin.png"), fullPage: true });
  // The user's /me shows it, and so does the next access token.
  assert.deepEqual(await userPage.evaluate(async () => (await auth.me()).app_metadata), { plan: "pro" });
  await userPage.evaluate(() => auth.refresh());
  const claims = await accessClaims(userPage);
  assert.deepEqual(claims.app_metadata, { plan: "pro" });
  assert.equal(claims.plan, "pro", "the token hook (the example Lambda function) made it a claim");

  await page.click("#admin-disable");
  await page.waitForFunction(() => document.querySelector("#admin-user-status").textContent === "disabled");
  const refused = await userPage.evaluate(() => auth.me().then(() => 200, (e) => e.status));
  assert.equal(refused, 401, "disabling ended the user's session");
  await view(userPage, "signed-out");
  await userContext.close();
  await adminContext.close();
});

test("a signup the before-signup hook refuses shows its reason and makes no account", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  await view(page, "signed-out");
  const username = unique("outsider");
  await page.fill("#signup-form [name=username]", username);
  await page.fill("#signup-form [name=email]", `${username}@elsewhere.test`);
  await page.fill("#signup-form [name=password]", PASSWORD);
  await page.click("#signup-form button");
  await page.waitForFunction(() => document.querySelector("#status").classList.contains("error"));
  assert.equal(await status(page), "Sign up with an address at example.com");
  await page.fill("#login-form [name=email]", `${username}@elsewhere.test`);
  await page.fill("#login-form [name=password]", PASSWORD);
  await page.click("#login-form button");
  await page.waitForFunction(() => document.querySelector("#status").textContent.includes("Invalid"));
  await context.close();
});

test("the QR code library is uqr's own file, served by the app as JavaScript", async () => {
  const vendored = readFileSync(new URL("../public/vendor/uqr/index.js", import.meta.url));
  const installed = readFileSync(new URL("../node_modules/uqr/dist/index.mjs", import.meta.url));
  assert.ok(vendored.equals(installed), "public/vendor/uqr/index.js is not the installed uqr: npm run vendor");
  const res = await fetch(`${APP}/vendor/uqr/index.js`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type"), /^text\/javascript/);
});

test("the example server refuses paths outside its folders and malformed ones, and goes on", async () => {
  for (const [path, status] of [["/%", 400], ["/..%2f..%2fpackage.json", 400], ["/client/..%2f..%2f..%2fREADME.md", 400]]) {
    assert.equal((await fetch(APP + path)).status, status, path);
  }
  assert.equal((await fetch(`${APP}/reset-password`)).status, 200);
});

test("signing in with another provider goes through its pages and lands signed in", async () => {
  const context = await browser.newContext();
  const page = await open(context);
  await view(page, "signed-out");
  const email = `${unique("fed")}@example.com`;
  await page.click('#provider-logins button[data-provider="local"]');
  // The provider's own login page (node's oidc-provider), then its consent page.
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', email);
  await page.fill('input[name="password"]', "any");
  await page.click('button[type="submit"]');
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: "attached" });
  await page.click('button[type="submit"]');
  await view(page, "account");
  assert.equal(await page.locator("#me-email").textContent(), email);
  assert.equal(new URL(page.url()).hash, "", "the code is gone from the address bar");
  const claims = await accessClaims(page);
  assert.deepEqual(claims.amr, ["fed"]);
  assert.equal(await page.locator("#identities tbody tr").count(), 1);
  await page.screenshot({ path: join(SHOTS, "provider-sign-in.png"), fullPage: true });
  await context.close();
});
