// Minimal history router: the server answers the page on each of these paths.
import { useEffect, useState } from "preact/hooks";

export type Route =
  | { name: "chat"; sessionId: string | null }
  | { name: "dashboard" }
  | { name: "experiments" }
  | { name: "studies" };

export function parseRoute(path: string): Route {
  if (path.startsWith("/dashboard")) return { name: "dashboard" };
  if (path.startsWith("/experiments")) return { name: "experiments" };
  if (path.startsWith("/studies")) return { name: "studies" };
  const m = /^\/c\/([^/]+)/.exec(path);
  return { name: "chat", sessionId: m ? decodeURIComponent(m[1]) : null };
}

const listeners = new Set<() => void>();

export function navigate(path: string, replace = false): void {
  const url = path + (path.includes("?") ? "" : location.search);
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((l) => l());
}

addEventListener("popstate", () => listeners.forEach((l) => l()));

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const l = () => setRoute(parseRoute(location.pathname));
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return route;
}

/** Re-render when a store emits. */
export function useStore(store: { subscribe(fn: () => void): () => void }): void {
  const [, setTick] = useState(0);
  useEffect(() => store.subscribe(() => setTick((t) => t + 1)), [store]);
}
