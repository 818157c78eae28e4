/**
 * The browser's side of passkeys: WebAuthn options from the API's JSON, and credentials back to
 * JSON. Uses `PublicKeyCredential.parseCreationOptionsFromJSON`, `parseRequestOptionsFromJSON`
 * and `toJSON()` where the browser has them, and does the same base64url conversions itself
 * where it does not.
 */

type Json = Record<string, unknown>;

/** Whether this browser can create and use passkeys at all. */
export function passkeysSupported(): boolean {
  const g = globalThis as { PublicKeyCredential?: unknown; navigator?: { credentials?: unknown } };
  return typeof g.PublicKeyCredential === "function" && g.navigator?.credentials !== undefined;
}

/** Whether the browser can offer passkeys in the username field's autofill (conditional mediation). */
export async function conditionalMediationAvailable(): Promise<boolean> {
  const pkc = (globalThis as { PublicKeyCredential?: { isConditionalMediationAvailable?: () => Promise<boolean> } })
    .PublicKeyCredential;
  try {
    return (await pkc?.isConditionalMediationAvailable?.()) ?? false;
  } catch {
    return false;
  }
}

function fromBase64Url(text: string): ArrayBuffer {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

function toBase64Url(buffer: ArrayBuffer | ArrayBufferView | null | undefined): string | undefined {
  if (!buffer) return undefined;
  const bytes =
    buffer instanceof ArrayBuffer ? new Uint8Array(buffer) : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

interface PkcStatics {
  parseCreationOptionsFromJSON?: (json: Json) => PublicKeyCredentialCreationOptions;
  parseRequestOptionsFromJSON?: (json: Json) => PublicKeyCredentialRequestOptions;
}

function statics(): PkcStatics {
  return ((globalThis as unknown as { PublicKeyCredential?: PkcStatics }).PublicKeyCredential ?? {}) as PkcStatics;
}

const descriptors = (list: unknown) =>
  ((list as Json[] | undefined) ?? []).map((d) => ({ ...d, id: fromBase64Url(d.id as string) }));

/** Creation options for `navigator.credentials.create({ publicKey })`. */
export function creationOptions(json: Json): PublicKeyCredentialCreationOptions {
  const parse = statics().parseCreationOptionsFromJSON;
  if (parse) return parse(json);
  const user = json.user as Json;
  return {
    ...json,
    challenge: fromBase64Url(json.challenge as string),
    user: { ...user, id: fromBase64Url(user.id as string) },
    excludeCredentials: descriptors(json.excludeCredentials),
  } as unknown as PublicKeyCredentialCreationOptions;
}

/** Request options for `navigator.credentials.get({ publicKey })`. */
export function requestOptions(json: Json): PublicKeyCredentialRequestOptions {
  const parse = statics().parseRequestOptionsFromJSON;
  if (parse) return parse(json);
  return {
    ...json,
    challenge: fromBase64Url(json.challenge as string),
    allowCredentials: descriptors(json.allowCredentials),
  } as unknown as PublicKeyCredentialRequestOptions;
}

/** A credential as JSON (`PublicKeyCredential.toJSON()`, or the same by hand). */
export function credentialJson(credential: PublicKeyCredential): Json {
  const withJson = credential as PublicKeyCredential & { toJSON?: () => Json };
  if (typeof withJson.toJSON === "function") return withJson.toJSON();
  const r = credential.response as AuthenticatorResponse & {
    attestationObject?: ArrayBuffer;
    getTransports?: () => string[];
    authenticatorData?: ArrayBuffer;
    signature?: ArrayBuffer;
    userHandle?: ArrayBuffer | null;
  };
  const response: Json = { clientDataJSON: toBase64Url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toBase64Url(r.attestationObject);
    response.transports = r.getTransports?.() ?? [];
  } else {
    response.authenticatorData = toBase64Url(r.authenticatorData);
    response.signature = toBase64Url(r.signature);
    response.userHandle = toBase64Url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toBase64Url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment ?? undefined,
    clientExtensionResults: credential.getClientExtensionResults?.() ?? {},
  };
}
