/**
 * Where the refresh token and the device token are kept: anything with the Web Storage methods.
 * `localStorage` keeps the user signed in across reloads and shares one session between tabs;
 * `sessionStorage` keeps it for this tab's life; {@link memoryStorage} only until the page is
 * left. A script injected into the page (XSS) can read the first two; see this package's README.
 */
export interface TokenStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A storage that lives in this page's memory only: the safest place, lost on reload. */
export function memoryStorage(): TokenStorage {
  const items = new Map<string, string>();
  return {
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  };
}

/**
 * The page's `localStorage` if it may be used, else null. Where storage is blocked (a sandboxed
 * iframe, site data turned off) merely reading `globalThis.localStorage` throws; a full one, or
 * some private modes, refuse a write; Node has none (or, with `--experimental-webstorage` and no
 * file, one without methods). A probe write and removal tells all of these apart from one that
 * works.
 */
export function usableLocalStorage(): TokenStorage | null {
  try {
    const storage = (globalThis as { localStorage?: TokenStorage }).localStorage;
    if (!storage) return null;
    const probe = "authyy.storage-probe";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}
