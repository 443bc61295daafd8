import { render } from "preact";
import "./styles.css";
import { App } from "./components/App";
import { experimentFromUrl, readConfig, trackingWanted } from "./config";
import { installInteractionTracking } from "./interactions";
import { Tracker } from "./tracking";

const config = readConfig();
const tracker = new Tracker(trackingWanted(config));
const experimentId = experimentFromUrl();
installInteractionTracking(tracker);
void tracker.flush();
render(<App config={config} tracker={tracker} experimentId={experimentId} />, document.getElementById("app")!);
