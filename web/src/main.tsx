import { render } from "preact";
import "./styles.css";
import { auth } from "./auth";
import { App } from "./components/App";
import { SignIn } from "./components/SignIn";
import { experimentFromUrl, readConfig, trackingWanted } from "./config";
import { installInteractionTracking } from "./interactions";
import { useStore } from "./router";
import { Tracker } from "./tracking";

const config = readConfig();
const tracker = new Tracker(trackingWanted(config));
const experimentId = experimentFromUrl();
installInteractionTracking(tracker);
void tracker.flush();
auth.subscribe(() => {
  if (auth.ready) tracker.flushSoon(0); // events held while signed out
});

function Root() {
  useStore(auth);
  // Remounted after a sign-in: the stores load the signed-in user's data.
  return auth.ready ? <App config={config} tracker={tracker} experimentId={experimentId} /> : <SignIn appName={config.app_name} />;
}

render(<Root />, document.getElementById("app")!);
