// Serves the example app: public/ at /, the built client (clients/js/dist) at /client/, and
// /config.js with the API's address. Paths without a file extension get index.html, so the
// links the API mails (/reset-password#token=..., /verify-email#token=...) open the app.
//   PORT (3000), HOST (127.0.0.1), AUTHYY_API (http://localhost:9000),
//   AUTHYY_PROVIDERS: the API's providers (AUTH_OIDC_PROVIDERS' names, comma-separated) the page
//   offers "Sign in with" buttons for; AUTHYY_TEST_HOOKS=1: the page hands its client to the browser tests as `window.auth`
//   (infra/browser-tests.sh only; without it the page exposes nothing on `window`)
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const roots = { "/client/": join(here, "..", "..", "clients", "js", "dist"), "/": join(here, "public") };
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const api = process.env.AUTHYY_API ?? "http://localhost:9000";
const testHooks = process.env.AUTHYY_TEST_HOOKS === "1";
const providers = (process.env.AUTHYY_PROVIDERS ?? "").split(",").map((p) => p.trim()).filter(Boolean);

/** The file a URL path names under one of the roots (null: outside them, or not a path). */
function fileFor(pathname) {
  const [prefix, root] = Object.entries(roots).find(([p]) => pathname.startsWith(p));
  let rest;
  try {
    rest = decodeURIComponent(pathname.slice(prefix.length)) || "index.html";
  } catch {
    return null; // a malformed escape (`/%`)
  }
  const file = normalize(join(root, rest));
  if (file !== root && !file.startsWith(root + sep)) return null;
  return extname(file) ? file : join(roots["/"], "index.html");
}

const server = createServer(async (req, res) => {
  const { pathname } = new URL(req.url ?? "/", "http://app.invalid");
  const headers = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    // The page talks to the API and to nothing else.
    "content-security-policy": `default-src 'self'; connect-src 'self' ${new URL(api).origin}; img-src 'self' data:; frame-ancestors 'none'`,
  };
  if (pathname === "/config.js") {
    res.writeHead(200, { ...headers, "content-type": types[".js"] });
    res.end(
      `export const API_BASE = ${JSON.stringify(api)};\nexport const TEST_HOOKS = ${testHooks};\n` +
        `export const PROVIDERS = ${JSON.stringify(providers)};\n`,
    );
    return;
  }
  const file = fileFor(pathname);
  if (!file) {
    res.writeHead(400, { ...headers, "content-type": "text/plain" });
    res.end("Bad path\n");
    return;
  }
  try {
    const body = await readFile(file);
    res.writeHead(200, { ...headers, "content-type": types[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404, { ...headers, "content-type": "text/plain" });
    res.end("Not found\n");
  }
});
server.listen(port, host, () => {
  console.error(`example app on http://${host === "127.0.0.1" ? "localhost" : host}:${port}/ (API ${api})`);
});
