/**
 * Where the refresh token (and the device token login hands out) is kept: anything with the Web
 * Storage methods. `localStorage` keeps the user signed in across reloads and shares one session
 * between tabs; `sessionStorage` keeps it for this tab's life; {@link memoryStorage} only until the
 * page is left. A script injected into the page (XSS) can read the first two; see the README.
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
