import { effect, untracked } from "@preact/signals";
import { render } from "preact";
import "./styles.css";
import { auth, signInFromLink } from "./auth";
import { App } from "./components/App";
import { SignIn } from "./components/SignIn";
import { StudyApp } from "./components/StudyApp";
import { experimentFromUrl, readConfig, trackingWanted } from "./config";
import { installInteractionTracking } from "./interactions";
import { studyFromPath } from "./study";
import { Tracker } from "./tracking";

const config = readConfig();
const tracker = new Tracker(trackingWanted(config));
const experimentId = experimentFromUrl();
installInteractionTracking(tracker);
void tracker.flush();
effect(() => {
  if (auth.ready) untracked(() => tracker.flushSoon(0)); // events held while signed out
});

// The sign-in link first (it may make this browser a researcher), then, in open mode, a
// participant token for a browser that has neither.
// A study's participant page (`/s/{study}`) gets its token from the study instead.
const studyId = studyFromPath(location.pathname);
if (studyId === null) void signInFromLink().then(() => auth.join());

function Root() {
  // Remounted after a sign-in: the stores load the signed-in user's data.
  if (auth.ready) return <App config={config} tracker={tracker} experimentId={experimentId} />;
  if (auth.apiKeyMode) return <SignIn appName={config.app_name} />;
  return (
    <main class="empty" id="main" data-testid="joining">
      {auth.joinError ? (
        <span role="alert">
          Cannot start: {auth.joinError}{" "}
          <button class="btn small" onClick={() => void auth.join()}>
            Try again
          </button>
        </span>
      ) : (
        "Loading…"
      )}
    </main>
  );
}

render(studyId !== null ? <StudyApp studyId={studyId} tracker={tracker} config={config} /> : <Root />, document.getElementById("app")!);
