import { useEffect, useMemo, useState } from "preact/hooks";
import { auth } from "../auth";
import type { PageConfig } from "../config";
import { storage } from "../config";
import { modelsStore } from "../models";
import { navigate, useRoute } from "../router";
import { SessionsStore } from "../sessions";
import type { Tracker } from "../tracking";
import { ChatPage } from "./Chat";
import { Dashboard } from "./Dashboard";
import { Experiments } from "./Experiments";
import { Icon } from "./Icon";
import { MemoriesPage } from "./Memories";
import { Sidebar } from "./Sidebar";
import { Studies } from "./Studies";
import { SignIn } from "./SignIn";

export function App({ config, tracker, experimentId }: { config: PageConfig; tracker: Tracker; experimentId: string | null }) {
  const route = useRoute();
  const sessions = useMemo(() => new SessionsStore(tracker, experimentId), [tracker, experimentId]);
  const [menuOpen, setMenuOpen] = useState(false);
  const [trackingOn, setTrackingOn] = useState(tracker.enabled);

  useEffect(() => {
    void modelsStore.load();
    void sessions.init(route.name === "chat" ? route.sessionId : null);
  }, []);

  // Keep the URL and the open conversation in step.
  useEffect(() => {
    if (route.name === "chat" && route.sessionId && route.sessionId !== sessions.current && sessions.sessions.length) {
      if (sessions.sessions.some((s) => s.session_id === route.sessionId)) sessions.select(route.sessionId, "url");
    }
  }, [route]);
  useEffect(() => {
    if (route.name === "chat" && sessions.current && route.sessionId !== sessions.current) navigate(`/c/${encodeURIComponent(sessions.current)}`, true);
  }, [sessions.current, route.name]);

  useEffect(() => {
    tracker.track("page_view", { page: route.name });
    setMenuOpen(false);
  }, [route.name]);

  const turnOffTracking = () => {
    tracker.track("tracking_off", {});
    void tracker.flush();
    storage.set("llmp.tracking", "off");
    tracker.setEnabled(false);
    setTrackingOn(false);
  };

  const signOut = async () => {
    tracker.track("sign_out", {});
    await tracker.drain(); // the events go out under the user who made them
    auth.signOut();
    location.assign("/"); // a fresh page: nothing of this user stays in memory
  };

  const link = (path: string, label: string, active: boolean) => (
    <a
      href={path}
      class={active ? "nav-link active" : "nav-link"}
      aria-current={active ? "page" : undefined}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey) return;
        e.preventDefault();
        navigate(path);
      }}
    >
      {label}
    </a>
  );

  const chatPath = sessions.current ? `/c/${encodeURIComponent(sessions.current)}` : "/";
  return (
    <div class={`layout ${menuOpen ? "menu-open" : ""}`}>
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar">
        <button class="icon-btn menu-btn" aria-label="Conversations" aria-expanded={menuOpen} onClick={() => setMenuOpen(!menuOpen)} data-track="menu">
          <Icon name="menu" />
        </button>
        <span class="brand">{config.app_name}</span>
        <nav class="nav" aria-label="Pages">
          {link(chatPath, "Chat", route.name === "chat")}
          {link("/dashboard", "Dashboard", route.name === "dashboard")}
          {link("/experiments", "Experiments", route.name === "experiments")}
          {link("/studies", "Studies", route.name === "studies")}
          {link("/memories", "Memories", route.name === "memories")}
        </nav>
        <span class="spacer" />
        {experimentId && <span class="pill study" title={`Experiment ${experimentId}`}>Study session</span>}
        {trackingOn ? (
          <span class="pill tracking" role="status" data-testid="tracking-notice">
            <span class="dot" aria-hidden="true" />
            <span class="long">Research tracking is on: your interactions here are recorded.</span>
            <span class="short" title="Research tracking is on: your interactions here are recorded.">Tracking on</span>
            <button class="link-btn" onClick={turnOffTracking} data-track="tracking-off">
              Turn off
            </button>
          </span>
        ) : (
          <span class="pill muted" data-testid="tracking-off">Tracking off</span>
        )}
        {auth.signedIn && (
          <span class="account" data-testid="account">
            <span class="muted small">
              Signed in as <strong>{auth.user ?? "?"}</strong>
            </span>
            <button class="btn small" onClick={() => void signOut()} data-track="sign-out">
              Sign out
            </button>
          </span>
        )}
      </header>
      {auth.forbidden && (
        <div class="banner inline-error" role="alert" data-testid="forbidden">
          <span>Not allowed: {auth.forbidden}</span>
          <button class="btn small" onClick={() => auth.dismissForbidden()}>
            Dismiss
          </button>
        </div>
      )}
      {route.name === "chat" && <Sidebar store={sessions} onClose={() => setMenuOpen(false)} />}
      <main id="main" class={`main main-${route.name}`} tabIndex={-1}>
        {route.name === "chat" &&
          (sessions.current ? (
            <ChatPage key={sessions.current} sessionId={sessions.current} sessions={sessions} tracker={tracker} studyMode={Boolean(experimentId)} />
          ) : (
            <div class="empty">{sessions.error ? `Cannot start a conversation: ${sessions.error}` : "Loading…"}</div>
          ))}
        {/* The memories page is every user's own; the rest is for researchers. */}
        {route.name === "memories" && <MemoriesPage tracker={tracker} />}
        {route.name !== "chat" && route.name !== "memories" && !auth.staff && (
          <SignIn appName={config.app_name} purpose="This page is for researchers: sign in with a researcher or admin API key." />
        )}
        {route.name === "dashboard" && auth.staff && <Dashboard />}
        {route.name === "experiments" && auth.staff && <Experiments />}
        {route.name === "studies" && auth.staff && <Studies />}
      </main>
    </div>
  );
}
