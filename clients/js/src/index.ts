/**
 * @authyy/client: a typed browser client for the authyy API. Every route is a method whose types
 * come from the API's OpenAPI description (generated at build time); the session (refresh before
 * expiry and on a 401, one refresh at a time across tabs, logout in every tab) is handled here.
 *
 * ```ts
 * import { createClient } from "@authyy/client";
 * const auth = createClient({ baseUrl: "http://localhost:9000", storage: localStorage });
 * auth.onAuthChange((event, user) => render(user));
 * const signedIn = await auth.login({ email, password });
 * if ("mfa_required" in signedIn) await auth.loginMfa({ mfa_token: signedIn.mfa_token, code });
 * const me = await auth.me();
 * ```
 */
import { AuthyyError } from "./errors.js";
import type {
  RequestBody, ResponseBody, Query, User, AdminUser, AdminUserDetail, SecurityEvent, SessionInfo, Message, Me, MfaStatus, TotpEnrollment,
  RecoveryCodes, Passkey, PasskeyRegistration, Identity, LinkStart, MfaChallenge, LoginResult, LoginMfaBody, TotpConfirmation, OperationId,
} from "./types.js";
import { Session } from "./session.js";
import type { AuthListener, Channel, Clock, Locks, SessionUser, TokenEnvelope } from "./session.js";
import { memoryStorage, usableLocalStorage } from "./storage.js";
import type { TokenStorage } from "./storage.js";
import {
  conditionalMediationAvailable,
  creationOptions,
  credentialJson,
  passkeysSupported,
  requestOptions,
} from "./webauthn.js";

/** Where {@link AuthyyClient.signInWith} keeps its PKCE verifier until the provider sends the browser back. */
const OAUTH_VERIFIER_KEY = "authyy.oauth_verifier";

/** Where {@link AuthyyClient.linkIdentity} keeps the provider until the browser comes back. */
const OAUTH_PROVIDER_KEY = "authyy.oauth_provider";

/** A new PKCE verifier, kept in `sessionStorage`; its S256 challenge. */
async function newOAuthChallenge(): Promise<string> {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem(OAUTH_VERIFIER_KEY, verifier);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** The kept PKCE verifier, forgotten as it is read. */
function takeOAuthVerifier(): string {
  const verifier = sessionStorage.getItem(OAUTH_VERIFIER_KEY);
  sessionStorage.removeItem(OAUTH_VERIFIER_KEY);
  if (!verifier) throw new AuthyyError(400, "invalid_state");
  return verifier;
}

/**
 * The `code` of a provider flow's fragment (`#error=` is thrown as a 400 whose detail is the
 * error's code), cleared from the address bar when it is the page's own.
 */
function readOAuthFragment(hash: string): string {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  if (typeof history !== "undefined" && typeof location !== "undefined" && hash === location.hash) {
    history.replaceState(null, "", location.pathname + location.search);
  }
  const error = params.get("error");
  if (error) throw new AuthyyError(400, error);
  const code = params.get("code");
  if (!code) throw new AuthyyError(400, "invalid_state");
  return code;
}

/** Bytes as base64url without padding. */
function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export { AuthyyError, conditionalMediationAvailable, memoryStorage, passkeysSupported };
export type { FieldError } from "./errors.js";
export type { AuthEvent, AuthListener, Channel, Clock, Locks, SessionUser, TokenEnvelope } from "./session.js";
export type { TokenStorage } from "./storage.js";
export type { components, operations, paths } from "./schema.js";
export type * from "./types.js";

export interface ClientOptions {
  /** Where the API is: `http://localhost:9000` locally, the stack's `ApiUrl` on AWS (routes are under `/auth`). */
  baseUrl: string;
  /**
   * Where the refresh token is kept: `localStorage` (survives reloads; every tab shares the
   * session), `sessionStorage` (this tab, until it closes) or {@link memoryStorage} (the
   * default: this page only). The access token is only ever in memory.
   */
  storage?: TokenStorage;
  /**
   * Where the `device_token` login returns is kept, apart from the session: it must outlive the
   * page, or after a reload this browser is a stranger again and strangers' failed logins on the
   * account lock its owner out too. Defaults to `localStorage` where the page may use it (else
   * {@link memoryStorage}), whatever `storage` is. It survives `logout()` (the device stays
   * trusted); `deleteAccount()` forgets it.
   */
  deviceStorage?: TokenStorage;
  /** Whether tabs share the session through the storage; defaults to whether it is `localStorage`. */
  shareAcrossTabs?: boolean;
  /** Refresh a little before the access token expires (default true); off, refresh happens on a 401. */
  autoRefresh?: boolean;
  /** How long before expiry to refresh, in seconds (default 60, at most half the token's lifetime). */
  refreshMarginSeconds?: number;
  /** The prefix of the storage keys and the name of the cross-tab channel (default `authyy`). */
  storageKey?: string;
  /** For tests and other runtimes: */
  fetch?: typeof fetch;
  clock?: Clock;
  /** Defaults to `navigator.locks` when there is one. */
  locks?: Locks | null;
  /** Defaults to a `BroadcastChannel` named after `storageKey` when there is one. */
  channel?: Channel | null;
}

interface CallInit {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** `access`: with the access token, refreshed and retried once on a 401. */
  auth?: "access" | "none";
  /** Give up after this long (status 0). */
  timeoutMs?: number;
}

/** Every operation of the API and the client method that calls it; the compiler holds this to the schema. */
export const OPERATION_METHODS = {
  signup: "signup",
  login: "login",
  login_mfa: "loginMfa",
  logout: "logout",
  refresh: "refresh",
  me: "me",
  forgot_password: "forgotPassword",
  reset_password: "resetPassword",
  verify_email: "verifyEmail",
  resend_verification: "resendVerification",
  change_password: "changePassword",
  list_sessions: "listSessions",
  end_session: "endSession",
  change_email: "changeEmail",
  delete_account: "deleteAccount",
  start_totp: "startTotp",
  confirm_totp: "confirmTotp",
  disable_totp: "disableTotp",
  recovery_codes: "regenerateRecoveryCodes",
  passkey_registration_options: "registerPasskey",
  register_passkey: "registerPasskey",
  list_passkeys: "listPasskeys",
  delete_passkey: "deletePasskey",
  passkey_login_options: "loginWithPasskey",
  passkey_login: "loginWithPasskey",
  oauth_authorize: "signInWith",
  oauth_callback: "signInWith",
  oauth_token: "completeSignInWith",
  list_identities: "listIdentities",
  link_identity: "linkIdentity",
  complete_link: "completeLink",
  delete_identity: "deleteIdentity",
  list_my_events: "listEvents",
  admin_list_user_events: "listUserEvents",
  list_users: "listUsers",
  admin_get_user: "getUser",
  admin_update_user: "updateUser",
  admin_end_user_sessions: "endUserSessions",
  admin_delete_user: "deleteUser",
  openid_configuration: "openidConfiguration",
  jwks: "jwks",
  openapi_json: "openapi",
  docs_page: "docsUrl",
} as const satisfies Record<OperationId, keyof AuthyyClient>;

export class AuthyyClient {
  private readonly base: string;
  private readonly fetcher: typeof fetch;
  private readonly session: Session;
  private readonly devices: TokenStorage;
  private readonly deviceKey: string;

  constructor(options: ClientOptions) {
    this.base = options.baseUrl.replace(/\/+$/, "");
    const fetcher = options.fetch ?? globalThis.fetch;
    this.fetcher = (input, init) => fetcher(input, init);
    const storage = options.storage ?? memoryStorage();
    const storageKey = options.storageKey ?? "authyy";
    this.devices = options.deviceStorage ?? usableLocalStorage() ?? memoryStorage();
    this.deviceKey = `${storageKey}.device_token`;
    const g = globalThis as { localStorage?: unknown; navigator?: { locks?: Locks } };
    let sharedDefault = false;
    try {
      sharedDefault = g.localStorage !== undefined && storage === g.localStorage;
    } catch {
      // Reading localStorage can throw where storage is blocked.
    }
    const channel =
      options.channel !== undefined
        ? options.channel
        : typeof BroadcastChannel === "function"
          ? (new BroadcastChannel(storageKey) as unknown as Channel)
          : null;
    this.session = new Session({
      storage,
      shared: options.shareAcrossTabs ?? sharedDefault,
      storageKey,
      clock: options.clock ?? {
        now: () => Date.now(),
        setTimeout: (fn, ms) => setTimeout(fn, ms),
        clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      },
      locks: options.locks !== undefined ? options.locks : (g.navigator?.locks ?? null),
      channel,
      autoRefresh: options.autoRefresh ?? true,
      refreshMarginMs: (options.refreshMarginSeconds ?? 60) * 1000,
      send: (method, path, init) =>
        this.send(method, path, { body: init.body, timeoutMs: init.timeoutMs }, init.bearer),
    });
  }

  /** The signed-in user as of the last login or refresh (null before the first, or signed out). */
  get user(): SessionUser | null {
    return this.session.user;
  }

  /** Whether a session is held (a refresh token), even before its first refresh after a reload. */
  get isSignedIn(): boolean {
    return this.session.active;
  }

  /** The current session's id (as `listSessions` shows it), once an access token is held. */
  get sessionId(): string | null {
    return this.session.sessionId;
  }

  /**
   * The current access token's scopes (`user`, `admin`, `aal2`, ...), read without verifying it:
   * for deciding what a page shows (an admin page), never for deciding what is allowed (the API
   * checks the stored role on every admin call). Empty until an access token is held.
   */
  get scopes(): string[] {
    return this.session.scopes;
  }

  /** Called on every change of the session, in this tab or (with a shared storage) another. */
  onAuthChange(listener: AuthListener): () => void {
    return this.session.onChange(listener);
  }

  /** An access token for calling your own API, refreshed first if it is about to expire. */
  getAccessToken(): Promise<string> {
    return this.session.accessToken();
  }

  /**
   * After a page load: with a stored refresh token, gets fresh tokens and returns the user; null
   * when there is no session (or the stored one has ended).
   */
  async restore(): Promise<SessionUser | null> {
    if (!this.session.active) return null;
    if (this.session.user) return this.session.user;
    try {
      await this.session.refresh();
    } catch (e) {
      if (e instanceof AuthyyError && e.status === 401) return null;
      throw e;
    }
    return this.session.user;
  }

  // --- Accounts -------------------------------------------------------------------------------

  /** `POST /auth/users`: 201 with the new user; 409 `Email already registered` or `Username already taken`. */
  signup(body: RequestBody<"signup">): Promise<User> {
    return this.call("POST", "/auth/users", { body });
  }

  /**
   * `POST /auth/login`: signs in and returns the user. Sends the `device_token` an earlier login
   * on this device returned (so the account-wide lockout does not hold this device back) and
   * keeps the one this login returns, in `deviceStorage`.
   *
   * For an account with a second factor the right password is not enough: the result is then an
   * {@link MfaChallenge} (`"mfa_required" in result`), no session is started (a session already
   * held stays as it was), and {@link loginMfa} with a code finishes the login.
   */
  async login(body: Omit<RequestBody<"login">, "device_token">): Promise<LoginResult> {
    const answer: TokenEnvelope | MfaChallenge = await this.call("POST", "/auth/login", {
      body: this.withDevice(body),
    });
    if ("mfa_required" in answer && answer.mfa_required) return answer;
    return this.signedIn(answer as TokenEnvelope);
  }

  /**
   * `POST /auth/login/mfa`: the second step of a login that returned an {@link MfaChallenge}:
   * its `mfa_token` with a code of the authenticator app (`code`) or one of the recovery codes
   * (`recovery_code`; case, dashes and spaces do not matter; each works once). Signs in as
   * `login` does (the device token sent and kept too) and returns the user. 400 `Invalid code`
   * (wrong, replayed or spent: the same answer); 401 `Invalid or expired MFA token` (after 5
   * minutes, a success or 5 wrong codes): log in again; 429 with `retryAfter`.
   */
  async loginMfa(body: LoginMfaBody): Promise<SessionUser> {
    const sent: RequestBody<"login_mfa"> = this.withDevice(body);
    const envelope: TokenEnvelope = await this.call("POST", "/auth/login/mfa", { body: sent });
    return this.signedIn(envelope);
  }

  /** A login's token envelope: the device token kept, the session started, the user returned. */
  private signedIn(envelope: TokenEnvelope): SessionUser {
    if (envelope.device_token) {
      try {
        this.devices.setItem(this.deviceKey, envelope.device_token);
      } catch {
        // A full or blocked storage: the login stands, only the next one goes untrusted.
      }
    }
    this.session.signIn(envelope);
    return envelope.user;
  }

  /** `body` with this device's token, if it has one. */
  private withDevice<B extends object>(body: B): B & { device_token?: string } {
    const device = this.devices.getItem(this.deviceKey);
    return device ? { ...body, device_token: device } : body;
  }

  /** `POST /auth/tokens`: new tokens now (the client also does this by itself when needed). */
  async refresh(): Promise<SessionUser | null> {
    await this.session.refresh();
    return this.session.user;
  }

  /**
   * `POST /auth/logout`: ends this session (`{all: true}`: every session of the user) and signs
   * every tab out. The tokens are dropped even if the API cannot be reached; that error is thrown.
   */
  async logout(options?: RequestBody<"logout">): Promise<void> {
    const failure = await this.session.signOut(options?.all === true);
    if (failure) throw failure;
  }

  /** `GET /auth/me`: the user, with `mfa` ({@link MfaStatus}). */
  me(): Promise<Me> {
    return this.call("GET", "/auth/me", { auth: "access" });
  }

  /** `POST /auth/forgot-password`: the same answer whatever the address; mail only to a known one. */
  forgotPassword(body: RequestBody<"forgot_password">): Promise<Message> {
    return this.call("POST", "/auth/forgot-password", { body });
  }

  /**
   * `POST /auth/reset-password` with the token from the link's fragment ({@link tokenFromUrl}).
   * Sends this device's token, so the device stays trusted with the new password.
   */
  resetPassword(body: Omit<RequestBody<"reset_password">, "device_token">): Promise<Message> {
    return this.call("POST", "/auth/reset-password", { body: this.withDevice(body) });
  }

  /** `POST /auth/verify-email`: confirms an address (a verification or an email-change link). */
  verifyEmail(body: RequestBody<"verify_email">): Promise<Message> {
    return this.call("POST", "/auth/verify-email", { body });
  }

  /** `POST /auth/verify-email/resend`: the same answer whatever the address. */
  resendVerification(body: RequestBody<"resend_verification">): Promise<Message> {
    return this.call("POST", "/auth/verify-email/resend", { body });
  }

  // --- Self-service ---------------------------------------------------------------------------

  /**
   * `POST /auth/password`: this session lives on, every other ends. Sends this device's token,
   * so the device stays trusted with the new password (every other device's trust ends).
   */
  changePassword(body: Omit<RequestBody<"change_password">, "device_token">): Promise<Message> {
    return this.call("POST", "/auth/password", { body: this.withDevice(body), auth: "access" });
  }

  /** `GET /auth/sessions`: where the user is signed in, newest first; `current` marks this one. */
  listSessions(): Promise<SessionInfo[]> {
    return this.call("GET", "/auth/sessions", { auth: "access" });
  }

  /** `DELETE /auth/sessions/{id}`: ends that session at once (this one too: then this tab signs out). */
  async endSession(id: string): Promise<void> {
    const current = id === this.session.sessionId;
    await this.call("DELETE", `/auth/sessions/${encodeURIComponent(id)}`, { auth: "access" });
    if (current) this.session.forget(false);
  }

  /** `POST /auth/email`: 202; the change happens when the link mailed to the new address is used. */
  changeEmail(body: RequestBody<"change_email">): Promise<Message> {
    return this.call("POST", "/auth/email", { body, auth: "access" });
  }

  /**
   * `DELETE /auth/me`: erases the account, signs every tab out and forgets this device's token
   * (it named a device of an account that is gone: nothing about it should stay behind).
   */
  async deleteAccount(body: RequestBody<"delete_account">): Promise<void> {
    await this.call("DELETE", "/auth/me", { body, auth: "access" });
    this.session.forget(true);
    this.devices.removeItem(this.deviceKey);
  }

  // --- Two-step sign-in ------------------------------------------------------------------------
  // While the account has a second factor, these (and changePassword, changeEmail, deleteAccount)
  // answer 403 `MFA required` to a session that signed in without it: sign in again with the code.

  /**
   * `POST /auth/mfa/totp`: starts (or starts again) adding an authenticator app. Show
   * `otpauth_uri` as a QR code and `secret` as text to type in; nothing changes until
   * {@link confirmTotp}, within 10 minutes. 403 `Email not verified`: only a verified address may
   * add a factor.
   */
  startTotp(): Promise<TotpEnrollment> {
    return this.call("POST", "/auth/mfa/totp", { auth: "access" });
  }

  /**
   * `POST /auth/mfa/totp/confirm` with a code the app shows and the current password: TOTP is on.
   * The API ends every session of the account and continues this one in a new session (a
   * password and a code: aal2), whose tokens the client takes in place of the old ones
   * (`SIGNED_IN`; tabs holding the old session move to the new one). Returns the recovery codes,
   * to show the user once: ten when TOTP is the first second factor, none when it replaced TOTP.
   * 400 `Invalid code` or `Current password is incorrect`; 404 `No enrollment in progress`.
   */
  async confirmTotp(body: RequestBody<"confirm_totp">): Promise<TotpConfirmation> {
    const answer: ResponseBody<"confirm_totp", 200> = await this.call("POST", "/auth/mfa/totp/confirm", {
      body,
      auth: "access",
    });
    this.session.replace(answer);
    return { recovery_codes: answer.recovery_codes, user: answer.user };
  }

  /**
   * `DELETE /auth/mfa/totp` with the current password: TOTP is off, and the recovery codes go
   * with it (it was the last factor). This session stays. 404 `TOTP is not enabled`.
   */
  async disableTotp(body: RequestBody<"disable_totp">): Promise<void> {
    await this.call("DELETE", "/auth/mfa/totp", { body, auth: "access" });
  }

  /**
   * `POST /auth/mfa/recovery-codes` with the current password: ten new recovery codes, to show
   * once; the old ones stop working. 404 `No second factor`.
   */
  regenerateRecoveryCodes(body: RequestBody<"recovery_codes">): Promise<RecoveryCodes> {
    return this.call("POST", "/auth/mfa/recovery-codes", { body, auth: "access" });
  }

  // --- Passkeys ------------------------------------------------------------------------------

  /**
   * Registers a passkey on this device: asks the API for options, has the browser create the
   * credential (`navigator.credentials.create`: the user confirms with a PIN or biometrics), and
   * sends it with the current password (checked as for every change of a sign-in method).
   * Returns the passkey, with `recovery_codes` to show once when it is the account's first
   * second factor (the API then ends every other session; this one stays). Throws the browser's
   * `NotAllowedError` when the user cancels; 400 `Invalid passkey registration`; 403 `MFA
   * required` (the account has a second factor: sign in with it first) or `Email not verified`.
   */
  async registerPasskey(body: { password: string; name?: string }): Promise<PasskeyRegistration> {
    if (!passkeysSupported()) throw new Error("This browser does not support passkeys");
    const options: ResponseBody<"passkey_registration_options", 200> = await this.call(
      "POST",
      "/auth/passkeys/register/options",
      { auth: "access" },
    );
    const created = (await navigator.credentials.create({
      publicKey: creationOptions(options.publicKey as unknown as Record<string, unknown>),
    })) as PublicKeyCredential | null;
    if (!created) throw new Error("No passkey was created");
    const sent = {
      challenge_id: options.challenge_id,
      credential: credentialJson(created),
      password: body.password,
      ...(body.name ? { name: body.name } : {}),
    } as unknown as RequestBody<"register_passkey">;
    return this.call("POST", "/auth/passkeys/register", { body: sent, auth: "access" });
  }

  /**
   * Signs in with a passkey, no username needed: the browser offers the passkeys it has for the
   * site. With `conditional: true` (and a browser that supports it) the request waits for the
   * user to pick a passkey from the username field's autofill (`autocomplete="username
   * webauthn"`) instead of opening a dialog; `signal` aborts a waiting request. Signs in as
   * `login` does (aal2: a passkey is two factors) and returns the user; also completes a login
   * whose {@link MfaChallenge} lists `passkey`. 401 `Invalid passkey`.
   */
  async loginWithPasskey(options: { conditional?: boolean; signal?: AbortSignal } = {}): Promise<SessionUser> {
    if (!passkeysSupported()) throw new Error("This browser does not support passkeys");
    const challenge: ResponseBody<"passkey_login_options", 200> = await this.call(
      "POST",
      "/auth/passkeys/login/options",
      {},
    );
    const conditional = options.conditional === true && (await conditionalMediationAvailable());
    const asserted = (await navigator.credentials.get({
      publicKey: requestOptions(challenge.publicKey as unknown as Record<string, unknown>),
      ...(conditional ? { mediation: "conditional" as CredentialMediationRequirement } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    })) as PublicKeyCredential | null;
    if (!asserted) throw new Error("No passkey was used");
    const sent = this.withDevice({
      challenge_id: challenge.challenge_id,
      credential: credentialJson(asserted),
    }) as unknown as RequestBody<"passkey_login">;
    const envelope: TokenEnvelope = await this.call("POST", "/auth/passkeys/login", { body: sent });
    return this.signedIn(envelope);
  }

  /**
   * Starts a sign-in with another provider (`GET /auth/oauth/{provider}/authorize`): keeps a
   * PKCE verifier in `sessionStorage` and sends the browser to the provider. The provider
   * sends it back to `redirectTo` (one of the service's AUTH_OAUTH_REDIRECT_URLS) with
   * `#code=` or `#error=`; call {@link completeSignInWith} there.
   */
  async signInWith(provider: string, redirectTo: string): Promise<void> {
    const challenge = await newOAuthChallenge();
    const query = new URLSearchParams({ redirect_to: redirectTo, code_challenge: challenge });
    location.assign(`${this.base}/auth/oauth/${encodeURIComponent(provider)}/authorize?${query}`);
  }

  /**
   * Starts linking an identity at `provider` to the signed-in account
   * (`POST /auth/oauth/{provider}/link`, with the current password; an account with no password
   * sends none, within 5 minutes of signing in): keeps a PKCE verifier in `sessionStorage` and
   * sends the browser to the provider, which sends it back to `redirectTo` with `#code=`; call
   * {@link completeLink} there.
   */
  async linkIdentity(provider: string, redirectTo: string, password?: string): Promise<void> {
    const challenge = await newOAuthChallenge();
    const body: Record<string, string> = { redirect_to: redirectTo, code_challenge: challenge };
    if (password !== undefined) body.password = password;
    const { authorize_url }: LinkStart = await this.call("POST", `/auth/oauth/${encodeURIComponent(provider)}/link`, {
      auth: "access",
      body: body as RequestBody<"link_identity">,
    });
    sessionStorage.setItem(OAUTH_PROVIDER_KEY, provider);
    location.assign(authorize_url);
  }

  /**
   * On the `redirectTo` page of a link: reads `#code=` (or `#error=`, thrown) from `hash` and
   * links the identity to the signed-in account (`POST /auth/oauth/{provider}/link/complete`).
   * 409 `Identity already linked to another account`.
   */
  async completeLink(hash: string = location.hash): Promise<Identity> {
    const code = readOAuthFragment(hash);
    const verifier = takeOAuthVerifier();
    const provider = sessionStorage.getItem(OAUTH_PROVIDER_KEY) ?? "";
    sessionStorage.removeItem(OAUTH_PROVIDER_KEY);
    return this.call("POST", `/auth/oauth/${encodeURIComponent(provider)}/link/complete`, {
      auth: "access",
      body: { code, code_verifier: verifier },
    });
  }

  /**
   * `DELETE /auth/identities/{id}` with the current password (none for an account without one,
   * within 5 minutes of signing in). 409 `Cannot remove the last way to sign in`.
   */
  async deleteIdentity(id: string, password?: string): Promise<void> {
    const body = (password === undefined ? {} : { password }) as RequestBody<"delete_identity">;
    await this.call("DELETE", `/auth/identities/${encodeURIComponent(id)}`, { auth: "access", body });
  }

  /**
   * On the `redirectTo` page: reads `#code=` (or `#error=`, thrown as an {@link AuthyyError}
   * of status 400 whose detail is the error's code) from `hash` (default: the page's), clears
   * it from the address bar, and trades the code for a session (`POST /auth/oauth/token`). For
   * an account with a second factor the answer is the {@link MfaChallenge} a password login
   * gives: complete it with {@link loginMfa}.
   */
  async completeSignInWith(hash: string = location.hash): Promise<LoginResult> {
    const code = readOAuthFragment(hash);
    const verifier = takeOAuthVerifier();
    const answer: TokenEnvelope | MfaChallenge = await this.call("POST", "/auth/oauth/token", {
      body: this.withDevice({ code, code_verifier: verifier }),
    });
    return "mfa_required" in answer ? answer : this.signedIn(answer);
  }

  /** `GET /auth/identities`: the identities at other providers linked to the account. */
  listIdentities(): Promise<Identity[]> {
    return this.call("GET", "/auth/identities", { auth: "access" });
  }

  /** `GET /auth/passkeys`: the user's passkeys, oldest first. */
  listPasskeys(): Promise<Passkey[]> {
    return this.call("GET", "/auth/passkeys", { auth: "access" });
  }

  /**
   * `DELETE /auth/passkeys/{id}` with the current password (needs a session that used a second
   * factor). The recovery codes go with the account's last second factor. 404 `Passkey not found`.
   */
  async deletePasskey(id: string, body: RequestBody<"delete_passkey">): Promise<void> {
    await this.call("DELETE", `/auth/passkeys/${encodeURIComponent(id)}`, { body, auth: "access" });
  }

  /**
   * `GET /auth/me/events`: one page of the account's security log, newest first (sign-ins and
   * failed attempts, password, email and factor changes, sessions ended...), and the cursor of
   * the next page, if any. An administrator's action shows as `actor: "admin"`, with no details.
   */
  async listEvents(query: Query<"list_my_events"> = {}): Promise<{ events: SecurityEvent[]; nextCursor: string | null }> {
    const res = await this.fetchApi("GET", "/auth/me/events", { query: { ...query }, auth: "access" });
    return { events: (await res.json()) as SecurityEvent[], nextCursor: nextCursor(res) };
  }

  // --- Administration and discovery -----------------------------------------------------------

  /** `GET /auth/users` (admin): one page of users and the cursor of the next, if any. */
  async listUsers(query: Query<"list_users"> = {}): Promise<{ users: AdminUser[]; nextCursor: string | null }> {
    const res = await this.fetchApi("GET", "/auth/users", { query: { ...query }, auth: "access" });
    const users = (await res.json()) as AdminUser[];
    return { users, nextCursor: nextCursor(res) };
  }

  /**
   * `GET /auth/admin/users/{id}/events` (admins): one page of a user's security log, newest
   * first (administrators as `admin:<id>`, with details), and the cursor of the next page.
   */
  async listUserEvents(
    id: number,
    query: Query<"admin_list_user_events"> = {},
  ): Promise<{ events: SecurityEvent[]; nextCursor: string | null }> {
    const path = `/auth/admin/users/${encodeURIComponent(String(id))}/events`;
    const res = await this.fetchApi("GET", path, { query: { ...query }, auth: "access" });
    return { events: (await res.json()) as SecurityEvent[], nextCursor: nextCursor(res) };
  }

  /**
   * `GET /auth/admin/users/{id}` (admins): the user with its role, status, `app_metadata`,
   * second factors and linked identities.
   */
  getUser(id: number): Promise<AdminUserDetail> {
    return this.call("GET", `/auth/admin/users/${encodeURIComponent(String(id))}`, { auth: "access" });
  }

  /**
   * `PATCH /auth/admin/users/{id}` (admins): sets each field given (`app_metadata` replaces the
   * whole object; `{}` clears it). Disabling or demoting ends the user's sessions at once. An
   * admin's own `role` and `disabled` are refused (409).
   */
  updateUser(id: number, change: RequestBody<"admin_update_user">): Promise<AdminUserDetail> {
    return this.call("PATCH", `/auth/admin/users/${encodeURIComponent(String(id))}`, {
      auth: "access",
      body: change,
    });
  }

  /** `DELETE /auth/admin/users/{id}/sessions` (admins): every session of the user ends. */
  async endUserSessions(id: number): Promise<void> {
    await this.call("DELETE", `/auth/admin/users/${encodeURIComponent(String(id))}/sessions`, { auth: "access" });
  }

  /** `DELETE /auth/admin/users/{id}` (admins): erases the user, as `deleteAccount` does. */
  async deleteUser(id: number): Promise<void> {
    await this.call("DELETE", `/auth/admin/users/${encodeURIComponent(String(id))}`, { auth: "access" });
  }

  /** `GET /auth/.well-known/openid-configuration`. */
  openidConfiguration(): Promise<ResponseBody<"openid_configuration", 200>> {
    return this.call("GET", "/auth/.well-known/openid-configuration", {});
  }

  /** `GET /auth/.well-known/jwks.json`: the public keys that verify access tokens. */
  jwks(): Promise<ResponseBody<"jwks", 200>> {
    return this.call("GET", "/auth/.well-known/jwks.json", {});
  }

  /** `GET /auth/openapi.json`: the API's description. */
  openapi(): Promise<Record<string, unknown>> {
    return this.call("GET", "/auth/openapi.json", {});
  }

  /** The address of the interactive documentation (`GET /auth/docs`, a page, not JSON). */
  docsUrl(): string {
    return `${this.base}/auth/docs`;
  }

  /** Stops the timers and the cross-tab channel (for tests and single-page app teardown). */
  dispose(): void {
    this.session.dispose();
  }

  private async call<T>(method: string, path: string, init: CallInit): Promise<T> {
    const res = await this.fetchApi(method, path, init);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /** A call that succeeded, or throws: with the access token, a 401 refreshes and retries once. */
  private async fetchApi(method: string, path: string, init: CallInit): Promise<Response> {
    if (init.auth !== "access") return this.checked(await this.send(method, path, init));
    const token = await this.session.accessToken();
    let res = await this.send(method, path, init, token);
    if (res.status === 401) {
      // A 401 for a token that is no longer the held one: another call refreshed meanwhile.
      if (this.session.heldAccessToken === token) await this.session.refresh();
      res = await this.send(method, path, init, await this.session.accessToken());
    }
    return this.checked(res);
  }

  private async checked(res: Response): Promise<Response> {
    if (!res.ok) throw await AuthyyError.from(res);
    return res;
  }

  private async send(method: string, path: string, init: CallInit, bearer?: string): Promise<Response> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(init.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    try {
      return await this.fetcher(url.toString(), {
        method,
        headers,
        body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
        credentials: "omit",
        signal:
          init.timeoutMs !== undefined && typeof AbortSignal.timeout === "function"
            ? AbortSignal.timeout(init.timeoutMs)
            : undefined,
      });
    } catch (e) {
      throw AuthyyError.network(e);
    }
  }
}

/** A client for the API at `options.baseUrl`. */
export function createClient(options: ClientOptions): AuthyyClient {
  return new AuthyyClient(options);
}

/** What a mailed link carries. */
/** The `cursor` of the next page a listing's `Link: <...>; rel="next"` header names, if any. */
function nextCursor(res: Response): string | null {
  const next = /<([^>]*)>\s*;\s*rel="next"/.exec(res.headers.get("link") ?? "");
  return next ? new URL(next[1] ?? "", "http://link.invalid").searchParams.get("cursor") : null;
}

export interface Link {
  token: string | null;
  /** The address a verification or email-change link confirms (absent from older links). */
  email: string | null;
  /** The username of the account that link is for (absent from older links). */
  account: string | null;
}

/**
 * The parameters of a reset, verification or email-change link: from the fragment
 * (`#token=...&email=...&account=...`, the API's default), the query inside a hash route's
 * fragment (`#/verify-email?token=...`), or the URL's query, whichever has the token.
 * `linkFromUrl(location.href)`. `email` and `account` are for showing the user what the link
 * confirms, as text: anyone can edit them in a link, and only the token is checked.
 */
export function linkFromUrl(url: string): Link {
  const u = new URL(url);
  const fragment = u.hash.replace(/^#/, "");
  const fromFragment = new URLSearchParams(fragment.includes("?") ? fragment.slice(fragment.indexOf("?") + 1) : fragment);
  const params = fromFragment.has("token") ? fromFragment : u.searchParams;
  return { token: params.get("token"), email: params.get("email"), account: params.get("account") };
}

/** The `token` of a reset or verification link ({@link linkFromUrl}). `tokenFromUrl(location.href)`. */
export function tokenFromUrl(url: string): string | null {
  return linkFromUrl(url).token;
}
