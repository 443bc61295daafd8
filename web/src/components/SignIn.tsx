import { useState } from "preact/hooks";
import { auth, AuthError } from "../auth";

/** AUTH_MODE=api_key: the key is checked with the server, then kept in this browser. */
export function SignIn({ appName }: { appName: string }) {
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
        <p class="muted">This server needs an API key. Ask its administrator for one (they create it with <code>llm-platform users create</code>).</p>
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
