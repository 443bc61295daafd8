// Minimal history router: the server answers the page on each of these paths.
import { computed, signal } from "@preact/signals";

export type Route =
  | { name: "chat"; sessionId: string | null }
  | { name: "dashboard" }
  | { name: "experiments" }
  | { name: "studies" }
  | { name: "memories" };

export function parseRoute(path: string): Route {
  if (path.startsWith("/dashboard")) return { name: "dashboard" };
  if (path.startsWith("/experiments")) return { name: "experiments" };
  if (path.startsWith("/studies")) return { name: "studies" };
  if (path.startsWith("/memories")) return { name: "memories" };
  const m = /^\/c\/([^/]+)/.exec(path);
  return { name: "chat", sessionId: m ? decodeURIComponent(m[1]) : null };
}

const pathname = signal(location.pathname);
const route = computed(() => parseRoute(pathname.value));

export function navigate(path: string, replace = false): void {
  const url = path + (path.includes("?") ? "" : location.search);
  if (url === location.pathname + location.search) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  pathname.value = location.pathname;
}

addEventListener("popstate", () => {
  pathname.value = location.pathname;
});

/** The current route (a component that calls this re-renders when it changes). */
export function useRoute(): Route {
  return route.value;
}
