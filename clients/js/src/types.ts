/** The API's bodies and answers as the client's methods take and return them, from the generated schema. */
import type { components, operations } from "./schema.js";
import type { SessionUser } from "./session.js";

type Schemas = components["schemas"];
/** The id of every operation of the API. */
export type OperationId = keyof operations;
/** The JSON body an operation takes. */
export type RequestBody<K extends OperationId> = operations[K] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;
/** The JSON an operation answers with on success (`void` for 204). */
export type ResponseBody<K extends OperationId, S extends number> = operations[K]["responses"] extends Record<
  S,
  { content: { "application/json": infer R } }
>
  ? R
  : void;
/** The query parameters of an operation. */
export type Query<K extends OperationId> = operations[K]["parameters"] extends { query?: infer Q } ? NonNullable<Q> : never;

export type User = Schemas["UserOut"];
export type AdminUser = Schemas["AdminUserOut"];
/** One event of an account's security log. */
export type SecurityEvent = Schemas["EventOut"];
/** `getUser()`, `updateUser()`: one user as admins see it, with its second factors and identities. */
export type AdminUserDetail = Schemas["AdminUserDetailOut"];
export type SessionInfo = Schemas["SessionOut"];
export type Message = Schemas["MessageOut"];
/** `me()`: the user and their second factors (`mfa`). */
export type Me = ResponseBody<"me", 200>;
/** `me().mfa`: whether TOTP is on, the passkeys, and how many recovery codes are left unspent. */
export type MfaStatus = Me["mfa"];
/** `startTotp()`: the secret (base32, for typing in by hand) and the `otpauth://` URI (for a QR code). */
export type TotpEnrollment = ResponseBody<"start_totp", 200>;
/** `regenerateRecoveryCodes()`: ten new codes; the old ones no longer work. */
export type RecoveryCodes = ResponseBody<"recovery_codes", 200>;

/** `listPasskeys()`: a registered passkey (its `id` is what `deletePasskey` takes). */
export type Passkey = Schemas["PasskeyOut"];
/** An identity at another provider, linked to the account. */
export type Identity = Schemas["IdentityOut"];
/** Where to send the browser to link an identity. */
export type LinkStart = Schemas["LinkOut"];
/** `registerPasskey()`: the passkey, and `recovery_codes` (to show once) when it is the first second factor. */
export type PasskeyRegistration = ResponseBody<"register_passkey", 201>;

/**
 * What completes a login's second step: a code of the authenticator app (`totp`) or a recovery
 * code (`recovery_code`) through `loginMfa`, or a passkey (`passkey`) through `loginWithPasskey`.
 */
export type MfaMethod = "totp" | "recovery_code" | "passkey";

/**
 * What {@link AuthyyClient.login} returns instead of the user when the account has a second
 * factor: the password was right, but there is no session yet. Finish with
 * {@link AuthyyClient.loginMfa} and `mfa_token` within 5 minutes. (The API's answer as it is;
 * written here by hand because login's answer is one of two shapes, told apart by `mfa_required`.)
 */
export interface MfaChallenge {
  mfa_required: true;
  /** Opaque: for `loginMfa` only. Spent by a success; dead after 5 wrong codes or 5 minutes. */
  mfa_token: string;
  /** What the second step takes now: `totp` while TOTP is on, `recovery_code` while unspent codes remain. */
  methods: MfaMethod[];
}

/** What `login` returns: the user, signed in, or the second step to take ({@link MfaChallenge}). */
export type LoginResult = SessionUser | MfaChallenge;

/** The second step of a login: the challenge's token and exactly one of a TOTP code or a recovery code. */
export type LoginMfaBody =
  | { mfa_token: string; code: string; recovery_code?: never }
  | { mfa_token: string; recovery_code: string; code?: never };

/** `confirmTotp()`: the recovery codes to show once (none when TOTP replaced TOTP) and the user. */
export interface TotpConfirmation {
  /** Ten new codes when TOTP is the account's first second factor; empty when it replaced TOTP (the old codes stay). */
  recovery_codes: string[];
  user: SessionUser;
}
