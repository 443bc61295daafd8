import { useState } from "preact/hooks";
import { auth, AuthError } from "../auth";

/** An API key, checked with the server, then kept in this browser: everyone's sign-in in
 * AUTH_MODE=api_key, and the researchers' for the dashboard and experiments in open mode. */
export function SignIn({ appName, purpose }: { appName: string; purpose?: string }) {
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.signIn(key);
    } catch (err) {
      setError(err instanceof AuthError ? err.message : String(err));
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form class="signin-card panel" onSubmit={submit} aria-labelledby="signin-title" data-testid="signin">
        <h1 id="signin-title">{appName}</h1>
        <p class="muted">
          {purpose ?? "This server needs an API key."} Ask its administrator for one (they create it with <code>llm-platform users create</code>; the sign-in link printed when the server starts signs its operator in).
        </p>
        {auth.reason && !error && (
          <div class="inline-error" role="alert" data-testid="signin-reason">
            {auth.reason}
          </div>
        )}
        <label for="api-key">API key</label>
        <input
          id="api-key"
          type="password"
          autocomplete="current-password"
          spellcheck={false}
          value={key}
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
          required
        />
        {error && (
          <div class="inline-error" role="alert" data-testid="signin-error">
            {error}
          </div>
        )}
        <button class="btn primary" type="submit" disabled={busy} data-track="sign-in">
          {busy ? "Checking…" : "Sign in"}
        </button>
        <p class="muted small">The key is kept in this browser until you sign out.</p>
      </form>
    </main>
  );
}
