// The browser side of passkeys: options from the API's JSON and credentials back to JSON, in
// browsers without PublicKeyCredential's JSON helpers (the conversions done by hand), and the
// client refusing to start a ceremony where the browser has no WebAuthn.
import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, passkeysSupported } from "../dist/index.js";
import { creationOptions, credentialJson, requestOptions } from "../dist/webauthn.js";
import { browser } from "./fakes.mjs";

const bytes = (...b) => new Uint8Array(b).buffer;
const same = (buffer, ...b) => assert.deepEqual([...new Uint8Array(buffer)], b);

test("creation options' binary fields become bytes (base64url, no padding)", () => {
  const options = creationOptions({
    rp: { id: "localhost", name: "authyy" },
    user: { id: "AAEC_w", name: "john@example.com", displayName: "john" },
    challenge: "-_8",
    pubKeyCredParams: [{ type: "public-key", alg: -7 }],
    excludeCredentials: [{ type: "public-key", id: "AQ", transports: ["internal"] }],
  });
  same(options.user.id, 0, 1, 2, 255);
  same(options.challenge, 251, 255);
  same(options.excludeCredentials[0].id, 1);
  assert.deepEqual(options.excludeCredentials[0].transports, ["internal"]);
  assert.equal(options.rp.id, "localhost");
});

test("request options keep an empty credential list empty", () => {
  const options = requestOptions({ challenge: "AQID", rpId: "localhost", allowCredentials: [] });
  same(options.challenge, 1, 2, 3);
  assert.deepEqual(options.allowCredentials, []);
});

test("a registration and an assertion become toJSON()'s shape", () => {
  const created = {
    id: "AQ",
    rawId: bytes(1),
    type: "public-key",
    authenticatorAttachment: "platform",
    getClientExtensionResults: () => ({}),
    response: { clientDataJSON: bytes(123, 125), attestationObject: bytes(160), getTransports: () => ["internal"] },
  };
  assert.deepEqual(credentialJson(created), {
    id: "AQ",
    rawId: "AQ",
    type: "public-key",
    authenticatorAttachment: "platform",
    clientExtensionResults: {},
    response: { clientDataJSON: "e30", attestationObject: "oA", transports: ["internal"] },
  });
  const asserted = {
    ...created,
    response: { clientDataJSON: bytes(123, 125), authenticatorData: bytes(1, 2), signature: bytes(3), userHandle: bytes(251, 255) },
  };
  assert.deepEqual(credentialJson(asserted).response, {
    clientDataJSON: "e30",
    authenticatorData: "AQI",
    signature: "Aw",
    userHandle: "-_8",
  });
  // A browser's own toJSON() is used as it is.
  assert.deepEqual(credentialJson({ toJSON: () => ({ id: "x" }) }), { id: "x" });
});

test("without WebAuthn in the browser, the passkey methods refuse before calling the API", async () => {
  assert.equal(passkeysSupported(), false);
  const b = browser();
  const tab = createClient(b.options());
  await assert.rejects(tab.loginWithPasskey(), /does not support passkeys/);
  await assert.rejects(tab.registerPasskey({ password: "x" }), /does not support passkeys/);
  assert.deepEqual(b.api.callsTo("/auth/passkeys/login/options"), []);
});
