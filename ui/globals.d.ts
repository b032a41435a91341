// The part of Tauri's global API (`app.withGlobalTauri: true`) that the web view uses.
// Declared here rather than imported from @tauri-apps/api because the page is served
// as-is, without a bundler; only www/js/api.js may touch it.

declare global {
  /** What `listen` hands to a handler. */
  interface TauriEvent<T> {
    event: string;
    id: number;
    payload: T;
  }

  /** A channel the Rust side streams messages to (binary ones arrive as ArrayBuffer). */
  interface TauriChannel<T> {
    onmessage: (message: T) => void;
  }

  interface TauriGlobal {
    core: {
      invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T>;
      Channel: new <T>() => TauriChannel<T>;
    };
    event: {
      listen<T>(event: string, handler: (event: TauriEvent<T>) => void): Promise<() => void>;
    };
  }

  // `var` so that `globalThis.__TAURI__` is typed too (Node tests install a fake there).
  var __TAURI__: TauriGlobal | undefined;
}

export {};
