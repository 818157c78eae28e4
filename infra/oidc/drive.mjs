// Drives the provider's login and consent pages as a browser would, from the authorize URL
// authyy answered, until the provider sends the browser back to authyy's callback; prints that
// URL. Cookies are kept between steps, redirects followed by hand.
//
//   node infra/oidc/drive.mjs <authorize URL> <login> [consent|deny]
const [start, login, choice = 'consent'] = process.argv.slice(2);
const cookies = new Map();
const provider = new URL(start).origin;

function keep(resp) {
  for (const line of resp.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    cookies.set(pair.slice(0, at), pair.slice(at + 1));
  }
}

async function go(url, form) {
  const headers = { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  const init = { redirect: 'manual', headers };
  if (form) {
    init.method = 'POST';
    init.body = new URLSearchParams(form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  }
  const resp = await fetch(url, init);
  keep(resp);
  return resp;
}

let url = start;
let form;
for (let step = 0; step < 20; step += 1) {
  const resp = await go(url, form);
  form = undefined;
  const location = resp.headers.get('location');
  if (location) {
    const next = new URL(location, url).href;
    if (!next.startsWith(provider)) {
      console.log(next);
      process.exit(0);
    }
    url = next;
    continue;
  }
  const page = await resp.text();
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
