// The model list (GET /api/v1/models) and the user's pick, remembered in the browser.
import { api } from "./api";
import { storage } from "./config";
import { reactive } from "./store";
import type { ModelInfo } from "./types";

type Raw = Record<string, unknown>;

export function normaliseModels(body: unknown): ModelInfo[] {
  const list = Array.isArray(body) ? body : ((body as Raw).models ?? (body as Raw).items ?? (body as Raw).data ?? []);
  return (list as Raw[])
    .map((m) => {
      let provider = String(m.provider ?? m.owned_by ?? "");
      let model = String(m.model ?? m.name ?? m.id ?? "");
      if (!provider && model.includes(":")) [provider, model] = [model.slice(0, model.indexOf(":")), model.slice(model.indexOf(":") + 1)];
      // Capabilities come flat on each model (reasoning, vision, ...) or nested.
      const c = (m.capabilities ?? m) as Raw;
      const capabilities = {
        streaming: c.streaming !== false,
        reasoning: Boolean(c.reasoning),
        vision: Boolean(c.vision),
        tools: Boolean(c.tools),
        web_search: Boolean(c.web_search),
        max_output_tokens: (c.max_output_tokens ?? null) as number | null,
      };
      return { provider, model, capabilities, default: Boolean(m.default) };
    })
    .filter((m) => m.model);
}

export const modelKey = (m: { provider: string; model: string }) => `${m.provider}:${m.model}`;

class ModelsStore {
  models: ModelInfo[] = [];
  selected: string | null = storage.get("llmp.model");
  error: string | null = null;
  loaded = false;

  constructor() {
    reactive(this, "models", "selected", "error", "loaded");
  }

  async load(): Promise<void> {
    try {
      this.models = normaliseModels(await api.get("/api/v1/models"));
      this.error = null;
    } catch (err) {
      this.error = (err as Error).message;
    }
    this.loaded = true;
    if (!this.current) {
      const def = this.models.find((m) => m.default) ?? this.models[0];
      this.selected = def ? modelKey(def) : null;
    }
  }

  get current(): ModelInfo | undefined {
    return this.models.find((m) => modelKey(m) === this.selected);
  }

  select(key: string): void {
    this.selected = key;
    storage.set("llmp.model", key);
  }
}

export const modelsStore = new ModelsStore();
