// The authyy example app: every flow of the API through @authyy/client, in plain DOM code.
import * as config from "/config.js";
import { AuthyyError, createClient, linkFromUrl, passkeysSupported, tokenFromUrl } from "/client/index.js";
// uqr (MIT), served from this app (public/vendor/uqr): the QR code is drawn here, never fetched
// from a service that would see the secret.
import { encode } from "/vendor/uqr/index.js";

// The refresh token is kept in sessionStorage: the session survives a reload of this tab and ends
// with it, where localStorage would keep it for any script injected into the page long after the
// tab closed (see the client's README for the trade-off). Each tab signs in on its own; a tab
// opened from this one starts with a copy, so the two share one session. The device token goes to
// localStorage (the client's default), so this browser stays a known device across reloads and
// logouts, and strangers' failed logins do not lock its owner out.
const auth = createClient({ baseUrl: config.API_BASE, storage: sessionStorage });
// Only the browser tests get a handle on the client (serve.mjs sets TEST_HOOKS when started with
// AUTHYY_TEST_HOOKS=1); a production page puts nothing on `window` for other scripts to call.
if (config.TEST_HOOKS === true) window.auth = auth;

const $ = (selector) => document.querySelector(selector);
const views = ["loading", "signed-out", "mfa", "account", "reset", "verify"];
// The page a provider sends the browser back to (one of the API's AUTH_OAUTH_REDIRECT_URLS).
const CALLBACK = `${location.origin}/callback`;
const PROVIDERS = config.PROVIDERS ?? [];

function show(view) {
  for (const v of views) $(`#${v}`).hidden = v !== view;
  document.body.dataset.view = view;
}

function say(text, { error = false } = {}) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", error);
  status.hidden = !text;
}

/** The API's words for a failure: `detail`, the fields of a 422, the wait of a 429. */
function explain(e) {
  if (!(e instanceof AuthyyError)) return String(e);
  const fields = Object.entries(e.fieldErrors);
  let text = fields.length ? fields.map(([f, m]) => `${f}: ${m}`).join("; ") : String(e.detail);
  if (e.retryAfter) text += ` (try again in ${e.retryAfter} s)`;
  return text;
}

/** Runs a form's action with its fields, showing the outcome. */
function onSubmit(id, action) {
  const form = $(id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(form));
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const message = await action(fields);
      if (message) say(message);
      form.reset();
    } catch (e) {
      say(explain(e), { error: true });
    } finally {
      button.disabled = false;
    }
  });
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

const when = (iso) => new Date(iso).toLocaleString();

// What each security event says, in words (the API's `type`, `details.reason` and `details.method`).
const EVENT_TEXT = {
  signup: "Account created",
  login_succeeded: "Signed in",
  login_failed: "Failed sign-in",
  mfa_failed: "Wrong two-step code",
  refresh_reuse_detected: "A stolen session was stopped",
  logout: "Signed out",
  logout_all: "Signed out everywhere",
  session_ended: "Another device signed out",
  password_changed: "Password changed",
  password_reset_requested: "Password reset asked for",
  password_reset: "Password reset",
  email_change_requested: "Email change asked for",
  email_changed: "Email changed",
  email_verified: "Email verified",
  mfa_enabled: "Two-step sign-in turned on",
  mfa_disabled: "Two-step sign-in turned off",
  recovery_code_used: "Recovery code used",
  recovery_codes_regenerated: "New recovery codes",
  passkey_added: "Passkey added",
  passkey_removed: "Passkey removed",
  identity_linked: "Provider linked",
  identity_unlinked: "Provider removed",
  account_deleted: "Account deleted",
  user_updated: "Changed by an administrator",
};

function describeEvent(e) {
  const text = EVENT_TEXT[e.type] ?? e.type;
  const d = e.details ?? {};
  const extra = [d.method, d.second_factor, d.reason?.replaceAll("_", " "), d.new_device ? "new device" : null]
    .filter(Boolean)
    .join(", ");
  return extra ? `${text} (${extra})` : text;
}

let activityCursor = null;

async function renderActivity({ more = false } = {}) {
  const body = $("#activity tbody");
  const page = await auth.listEvents({ limit: 10, ...(more && activityCursor ? { cursor: activityCursor } : {}) });
  if (!more) body.replaceChildren();
  for (const e of page.events) {
    const row = body.insertRow();
    row.dataset.type = e.type;
    cell(row, when(e.at));
    cell(row, describeEvent(e), "what");
    cell(row, e.actor === "self" ? "you" : e.actor);
    cell(row, e.ip || "");
    cell(row, e.user_agent || "", "ua").title = e.user_agent;
  }
  activityCursor = page.nextCursor;
  $("#activity-more").hidden = !activityCursor;
}

$("#activity-more").addEventListener("click", async () => {
  try {
    await renderActivity({ more: true });
  } catch (e) {
    say(explain(e), { error: true });
  }
});

async function renderAccount() {
  const [me, sessions, passkeys, identities] = await Promise.all([
    auth.me(),
    auth.listSessions(),
    auth.listPasskeys(),
    auth.listIdentities(),
  ]);
  $("#who").textContent = `Signed in as ${me.username}`;
  $("#me-username").textContent = me.username;
  $("#me-email").textContent = me.email;
  $("#me-verified").textContent = me.email_verified ? "verified" : "not verified";
  $("#me-verified").classList.toggle("ok", me.email_verified);
  $("#me-created").textContent = when(me.created_at);
  renderMfa(me.mfa);
  renderPasskeys(passkeys);
  renderIdentities(identities);
  await renderActivity();
  // Shown to admins only; the API checks the stored role on every admin call all the same.
  $("#admin-card").hidden = !auth.scopes.includes("admin");
  const body = $("#sessions tbody");
  body.replaceChildren();
  for (const s of sessions) {
    const row = body.insertRow();
    row.dataset.sessionId = s.id;
    cell(row, s.user_agent || "unknown", "ua").title = s.user_agent;
    cell(row, s.ip);
    cell(row, when(s.created_at));
    cell(row, when(s.last_used_at));
    const last = row.insertCell();
    if (s.current) {
      last.textContent = "this device";
    } else {
      const end = document.createElement("button");
      end.type = "button";
      end.className = "small secondary";
      end.textContent = "Sign out";
      end.addEventListener("click", async () => {
        try {
          await auth.endSession(s.id);
          await renderAccount();
          say("That device is signed out.");
        } catch (e) {
          say(explain(e), { error: true });
        }
      });
      last.append(end);
    }
  }
  show("account");
}

async function render() {
  if (auth.isSignedIn) {
    try {
      await renderAccount();
      return;
    } catch (e) {
      if (!(e instanceof AuthyyError) || e.status !== 401) {
        say(explain(e), { error: true });
        return;
      }
    }
  }
  $("#who").textContent = "";
  closeEnrollment();
  closeRecoveryCodes();
  show("signed-out");
}

// Another tab signed in or out, or the session ended (logout elsewhere, password reset, expiry).
auth.onAuthChange((event) => {
  if (event === "SESSION_ENDED") say("Your session has ended. Please sign in again.", { error: true });
  if (event === "SIGNED_OUT") say("You are signed out.");
  if (event !== "TOKEN_REFRESHED" && document.body.dataset.view !== "reset" && document.body.dataset.view !== "verify") {
    void render();
  }
});

/** A login waiting for its second step: login's `{mfa_required, mfa_token, methods}`, or null. */
let challenge = null;

/** The first step was right (a password, or another provider); the account has a second factor. */
function askSecondFactor(result) {
  challenge = result;
  $("#mfa-code-form").hidden = !result.methods.includes("totp");
  $("#mfa-recovery-form").hidden = !result.methods.includes("recovery_code");
  $("#mfa-passkey").hidden = !result.methods.includes("passkey") || !passkeysSupported();
  say("");
  show("mfa");
  $(`#${result.methods.includes("totp") ? "mfa-code-form" : "mfa-recovery-form"} input`).focus();
}

onSubmit("#login-form", async ({ email, password }) => {
  const result = await auth.login({ email, password });
  if ("mfa_required" in result) {
    // No session until a code.
    askSecondFactor(result);
    return "";
  }
  await render();
  return "";
});

/**
 * The second step, with a code or a recovery code. A dead challenge (5 minutes, 5 wrong codes)
 * goes back to the password.
 */
async function finishLogin(body) {
  try {
    await auth.loginMfa({ mfa_token: challenge.mfa_token, ...body });
  } catch (e) {
    if (e instanceof AuthyyError && e.status === 401) {
      challenge = null;
      show("signed-out");
    }
    throw e;
  }
  challenge = null;
  say("");
  await render();
  return "";
}
onSubmit("#mfa-code-form", ({ code }) => finishLogin({ code: code.trim() }));
onSubmit("#mfa-recovery-form", ({ recovery_code }) => finishLogin({ recovery_code }));
$("#mfa-cancel").addEventListener("click", () => {
  challenge = null;
  say("");
  show("signed-out");
});
onSubmit("#signup-form", async ({ username, email, password }) => {
  await auth.signup({ username, email, password });
  return `Account created. Open the link we mailed to ${email}, then sign in.`;
});
onSubmit("#forgot-form", async ({ email }) => (await auth.forgotPassword({ email })).message);
onSubmit("#resend-form", async ({ email }) => (await auth.resendVerification({ email })).message);
onSubmit("#password-form", async (body) => {
  const { message } = await auth.changePassword(body);
  await renderAccount();
  return message;
});
onSubmit("#email-form", async (body) => (await auth.changeEmail(body)).message);
onSubmit("#delete-form", async (body) => {
  await auth.deleteAccount(body);
  return "Your account is deleted.";
});
onSubmit("#reset-form", async ({ password }) => {
  const token = tokenFromUrl(location.href);
  if (!token) throw new Error("This link has no token: open the link from the mail.");
  const { message } = await auth.resetPassword({ token, password });
  history.replaceState(null, "", "/");
  await render();
  return `${message} Sign in with your new password.`;
});
// --- Administration -------------------------------------------------------------------------------

/** The user the admin card shows (an `AdminUserDetail`), or null. */
let managed = null;

function renderManaged(user) {
  managed = user;
  $("#admin-user").hidden = !user;
  if (!user) return;
  $("#admin-user-name").textContent = `${user.username} <${user.email}> (id ${user.id})`;
  $("#admin-user-role").textContent = user.role;
  $("#admin-user-status").textContent = user.disabled ? "disabled" : "active";
  $("#admin-user-mfa").textContent = user.mfa.totp || user.mfa.passkeys ? "on" : "off";
  $("#admin-metadata-form [name=app_metadata]").value = JSON.stringify(user.app_metadata, null, 2);
  $("#admin-disable").textContent = user.disabled ? "Enable" : "Disable (ends every session)";
}

onSubmit("#admin-find-form", async ({ email }) => {
  const { users } = await auth.listUsers({ email });
  if (!users.length) {
    renderManaged(null);
    return `No user has the address ${email}.`;
  }
  renderManaged(await auth.getUser(users[0].id));
  return "";
});

$("#admin-metadata-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  let metadata;
  try {
    metadata = JSON.parse($("#admin-metadata-form [name=app_metadata]").value || "{}");
  } catch {
    say("app_metadata must be JSON.", { error: true });
    return;
  }
  try {
    renderManaged(await auth.updateUser(managed.id, { app_metadata: metadata }));
    say("Saved: the user's next access token carries it.");
  } catch (e) {
    say(explain(e), { error: true });
  }
});

$("#admin-disable").addEventListener("click", async () => {
  try {
    renderManaged(await auth.updateUser(managed.id, { disabled: !managed.disabled }));
    say(managed.disabled ? "Disabled: every session of that user has ended." : "Enabled.");
  } catch (e) {
    say(explain(e), { error: true });
  }
});

$("#admin-end-sessions").addEventListener("click", async () => {
  try {
    await auth.endUserSessions(managed.id);
    say("Every session of that user has ended.");
  } catch (e) {
    say(explain(e), { error: true });
  }
});

// --- Passkeys -------------------------------------------------------------------------------------

/** Signs in with a passkey (no username: the browser offers this site's passkeys). */
async function passkeySignIn() {
  try {
    await auth.loginWithPasskey();
  } catch (e) {
    // The user closed the browser's dialog: nothing to say.
    if (e?.name === "NotAllowedError" || e?.name === "AbortError") return;
    say(explain(e), { error: true });
    return;
  }
  challenge = null;
  say("");
  await render();
}
// --- Other providers ------------------------------------------------------------------------------

for (const provider of PROVIDERS) {
  const button = Object.assign(document.createElement("button"), {
    type: "button",
    className: "secondary",
    textContent: `Sign in with ${provider}`,
  });
  button.dataset.provider = provider;
  button.addEventListener("click", () => auth.signInWith(provider, CALLBACK).catch((e) => say(explain(e), { error: true })));
  $("#provider-logins").append(button);
}

/** What a provider flow's `#error=` means to the user. */
const providerErrors = {
  account_exists: "An account with that address exists: sign in as before, then link the provider from your account page.",
  email_not_verified: "The provider has not verified your address, so no account was made.",
  access_denied: "The sign-in was cancelled.",
  identity_taken: "That identity belongs to another account.",
  temporarily_unavailable: "The provider did not answer: try again in a moment.",
};

/** Back from a provider: a sign-in (or its second step), or a link of the signed-in account. */
async function providerCallback() {
  const linking = sessionStorage.getItem("authyy.oauth_provider") !== null;
  try {
    if (linking) {
      await auth.restore();
      const identity = await auth.completeLink();
      say(`Linked: you can now sign in with ${identity.provider}.`);
    } else {
      const result = await auth.completeSignInWith();
      if (result.mfa_required) {
        history.replaceState(null, "", "/");
        askSecondFactor(result);
        return;
      }
      say("");
    }
  } catch (e) {
    const code = e instanceof AuthyyError ? String(e.detail) : "";
    say(providerErrors[code] ?? explain(e), { error: true });
  }
  history.replaceState(null, "", "/");
  await render();
}

/** The account's identities, each with a button that removes it, and a button per provider to link. */
function renderIdentities(identities) {
  $("#identities-card").hidden = PROVIDERS.length === 0 && identities.length === 0;
  $("#identities-state").textContent = identities.length
    ? "You can sign in with these providers too."
    : "Link a provider to sign in with it too.";
  const body = $("#identities tbody");
  body.replaceChildren();
  const password = () => $("#identity-form [name=password]").value || undefined;
  for (const i of identities) {
    const row = body.insertRow();
    row.dataset.identityId = i.id;
    cell(row, i.provider, "provider");
    cell(row, i.email ?? "");
    cell(row, when(i.created_at));
    const remove = Object.assign(document.createElement("button"), {
      type: "button",
      className: "small secondary",
      textContent: "Remove",
    });
    remove.addEventListener("click", async () => {
      try {
        await auth.deleteIdentity(i.id, password());
        $("#identity-form").reset();
        await renderAccount();
        say(`${i.provider} no longer signs in to this account.`);
      } catch (e) {
        say(explain(e), { error: true });
      }
    });
    row.insertCell().append(remove);
  }
  $("#identities").hidden = identities.length === 0;
  const links = $("#identity-links");
  links.replaceChildren();
  for (const provider of PROVIDERS) {
    const link = Object.assign(document.createElement("button"), {
      type: "button",
      textContent: `Link ${provider}`,
    });
    link.dataset.provider = provider;
    link.addEventListener("click", () =>
      auth.linkIdentity(provider, CALLBACK, password()).catch((e) => say(explain(e), { error: true })),
    );
    links.append(link);
  }
}

$("#passkey-login").hidden = !passkeysSupported();
$("#passkey-login").addEventListener("click", passkeySignIn);
$("#mfa-passkey-button").addEventListener("click", passkeySignIn);

/** The user's passkeys, each with a button that removes it (with the form's password). */
function renderPasskeys(passkeys) {
  $("#passkeys-state").textContent = passkeysSupported()
    ? passkeys.length
      ? "Sign in with one of these instead of your password."
      : "Add a passkey to sign in with your fingerprint, face or device PIN instead of your password."
    : "This browser does not support passkeys.";
  $("#passkey-form").hidden = !passkeysSupported();
  const body = $("#passkeys tbody");
  body.replaceChildren();
  for (const p of passkeys) {
    const row = body.insertRow();
    row.dataset.passkeyId = p.id;
    cell(row, p.name, "name");
    cell(row, when(p.created_at));
    cell(row, p.last_used_at ? when(p.last_used_at) : "never");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small secondary";
    remove.textContent = "Remove";
    remove.addEventListener("click", async () => {
      const password = $("#passkey-form [name=password]").value;
      if (!password) {
        say("Type your password in the passkey form to remove a passkey.", { error: true });
        return;
      }
      try {
        await auth.deletePasskey(p.id, { password });
        $("#passkey-form").reset();
        await renderAccount();
        say(`The passkey "${p.name}" is removed.`);
      } catch (e) {
        say(explain(e), { error: true });
      }
    });
    row.insertCell().append(remove);
  }
  $("#passkeys").hidden = passkeys.length === 0;
}

onSubmit("#passkey-form", async ({ name, password }) => {
  let added;
  try {
    added = await auth.registerPasskey({ password, name: name.trim() || undefined });
  } catch (e) {
    if (e?.name === "NotAllowedError" || e?.name === "AbortError") return "No passkey was added.";
    throw e;
  }
  if (added.recovery_codes?.length) showRecoveryCodes(added.recovery_codes);
  await renderAccount();
  return added.recovery_codes?.length
    ? `Passkey "${added.name}" added. Save your recovery codes now: they sign you in if you lose it.`
    : `Passkey "${added.name}" added.`;
});

// --- Two-step sign-in ---------------------------------------------------------------------------

/** What `me().mfa` says, and the actions that fit it. */
function renderMfa(mfa) {
  const on = mfa?.totp === true;
  const left = mfa?.recovery_codes ?? 0;
  const passkeys = mfa?.passkeys ?? 0;
  $("#mfa-state").textContent = on
    ? `On: a code from your authenticator app is asked at sign-in. Recovery codes left: ${left}.`
    : passkeys
      ? `Your passkeys are your second factor: a password sign-in asks for one. Recovery codes left: ${left}.`
      : "Off: your password alone signs you in.";
  $("#two-step").dataset.totp = on ? "on" : "off";
  $("#totp-start").textContent = on ? "Move to another authenticator app" : "Set up an authenticator app";
  $("#mfa-forms").hidden = !on;
}

const SVG = "http://www.w3.org/2000/svg";
/** `text` as a QR code: an inline SVG built here (with uqr), one square per dark module. */
function qrCode(text) {
  const { size, data } = encode(text, { ecc: "M", border: 4 });
  let d = "";
  data.forEach((row, y) => row.forEach((dark, x) => (d += dark ? `M${x} ${y}h1v1h-1z` : "")));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code for your authenticator app");
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  background.setAttribute("fill", "#fff");
  const modules = document.createElementNS(SVG, "path");
  modules.setAttribute("d", d);
  modules.setAttribute("fill", "#000");
  svg.append(background, modules);
  return svg;
}

function closeEnrollment() {
  $("#totp-enroll").hidden = true;
  $("#totp-qr").replaceChildren();
  $("#totp-secret").textContent = "";
}

/** The recovery codes, shown once: after they are saved (or at sign-out) they leave the page. */
function showRecoveryCodes(codes) {
  $("#recovery-codes").replaceChildren(
    ...codes.map((code) => {
      const li = document.createElement("li");
      li.append(Object.assign(document.createElement("code"), { textContent: code }));
      return li;
    }),
  );
  $("#recovery").hidden = false;
}

function closeRecoveryCodes() {
  $("#recovery").hidden = true;
  $("#recovery-codes").replaceChildren();
}

$("#totp-start").addEventListener("click", async () => {
  const button = $("#totp-start");
  button.disabled = true;
  try {
    // Nothing changes until the confirm (within 10 minutes); starting again gives a new secret.
    const { secret, otpauth_uri } = await auth.startTotp();
    closeRecoveryCodes();
    $("#totp-qr").replaceChildren(qrCode(otpauth_uri));
    $("#totp-secret").textContent = secret.match(/.{1,4}/g).join(" ");
    $("#totp-enroll").hidden = false;
    $("#totp-confirm-form [name=code]").focus();
  } catch (e) {
    say(explain(e), { error: true });
  } finally {
    button.disabled = false;
  }
});
$("#totp-cancel").addEventListener("click", closeEnrollment);
// The API ends every session of the account and carries this one on in a new session, whose
// tokens the client takes: this tab stays signed in, other devices are signed out.
onSubmit("#totp-confirm-form", async ({ code, password }) => {
  const { recovery_codes } = await auth.confirmTotp({ code: code.trim(), password });
  closeEnrollment();
  if (recovery_codes.length) showRecoveryCodes(recovery_codes);
  await renderAccount();
  return recovery_codes.length
    ? "Two-step sign-in is on. Save your recovery codes now."
    : "Two-step sign-in now uses the new app; your recovery codes stay as they were.";
});
$("#recovery-done").addEventListener("click", closeRecoveryCodes);
onSubmit("#recovery-form", async ({ password }) => {
  const { recovery_codes } = await auth.regenerateRecoveryCodes({ password });
  showRecoveryCodes(recovery_codes);
  await renderAccount();
  return "New recovery codes: the old ones no longer work. Save these now.";
});
onSubmit("#totp-disable-form", async ({ password }) => {
  await auth.disableTotp({ password });
  closeEnrollment();
  closeRecoveryCodes();
  await renderAccount();
  return "Two-step sign-in is off.";
});

$("#logout").addEventListener("click", () => auth.logout().catch((e) => say(explain(e), { error: true })));
$("#logout-all").addEventListener("click", () =>
  auth.logout({ all: true }).catch((e) => say(explain(e), { error: true })),
);

/** "Confirm <email> for the account <account>", as text nodes: the link's words are never HTML. */
function confirmation({ email, account }) {
  const strong = (text) => Object.assign(document.createElement("strong"), { textContent: text });
  const parts = ["Confirm ", email ? strong(email) : "this address"];
  if (account) parts.push(" for the account ", strong(account));
  return parts;
}

/**
 * A verification or email-change link: says what it confirms and spends the token only when the
 * button is clicked. Mail scanners open links, and some run the page's scripts: a page that
 * posted the token on load would confirm an address for whoever asked, unseen by its owner.
 */
function showVerify() {
  show("verify");
  const link = linkFromUrl(location.href);
  const button = $("#verify-confirm");
  if (!link.token) {
    $("#verify-what").textContent = "This link has no token: open the link from the mail.";
    button.hidden = true;
    return;
  }
  $("#verify-what").replaceChildren(...confirmation(link));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      $("#verify-result").textContent = (await auth.verifyEmail({ token: link.token })).message;
      button.hidden = true;
      // The token has done its work: keep it out of the history.
      history.replaceState(null, "", "/verify-email");
    } catch (e) {
      $("#verify-result").textContent = explain(e);
      button.disabled = false;
    }
    document.body.dataset.verified = "done";
  });
}

async function start() {
  if (location.pathname === "/reset-password") {
    show("reset");
    return;
  }
  if (location.pathname === "/verify-email") {
    showVerify();
    return;
  }
  if (location.pathname === "/callback") {
    await providerCallback();
    return;
  }
  try {
    await auth.restore();
  } catch (e) {
    say(explain(e), { error: true });
  }
  await render();
}

void start();
