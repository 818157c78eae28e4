// Drives the provider's login and consent pages as a browser would, from the authorize URL
// authyy answered, until the provider sends the browser back to authyy's callback; prints that
// URL. Cookies are kept between steps, redirects followed by hand.
//
//   node infra/oidc/drive.mjs <authorize URL> <login> [consent|deny]
import http from "node:http";

const [start, login, choice = 'consent'] = process.argv.slice(2);
const cookies = new Map();
const provider = new URL(start).origin;

/** One request, on a connection of its own (no keep-alive to race a server closing it). */
function request(url, form) {
  const headers = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
  const body = form ? new URLSearchParams(form).toString() : undefined;
  if (body) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    headers["content-length"] = Buffer.byteLength(body);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: form ? "POST" : "GET", headers, agent: false }, (resp) => {
      let text = "";
      resp.setEncoding("utf8");
      resp.on("data", (chunk) => { text += chunk; });
      resp.on("end", () => resolve({ status: resp.statusCode, headers: resp.headers, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function go(url, form) {
  const resp = await request(url, form);
  for (const line of resp.headers["set-cookie"] ?? []) {
    const [pair] = line.split(";");
    const at = pair.indexOf("=");
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return resp;
}

let url = start;
let form;
for (let step = 0; step < 20; step += 1) {
  const resp = await go(url, form);
  form = undefined;
  const location = resp.headers.location;
  if (location) {
    const next = new URL(location, url).href;
    if (!next.startsWith(provider)) {
      console.log(next);
      process.exit(0);
    }
    url = next;
    continue;
  }
  const page = resp.text;
  const action = page.match(/<form[^>]*action="([^"]+)"/)?.[1];
  if (!action) throw new Error(`no form at ${url} (${resp.status}): ${page.slice(0, 300)}`);
  if (page.includes('name="prompt" value="login"')) {
    url = new URL(action, url).href;
    form = { prompt: 'login', login, password: 'any' };
  } else if (choice === 'deny') {
    url = new URL(page.match(/href="([^"]*\/abort)"/)[1], url).href;
  } else {
    url = new URL(action, url).href;
    form = { prompt: 'consent' };
  }
}
throw new Error('the provider never sent the browser back');
