// Shapes of the API (see llm_platform/schemas). Fields the UI reads defensively are optional.

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface SessionOut {
  session_id: string;
  user_id: string;
  experiment_id: string | null;
  variant: string | null;
  environment: Record<string, unknown>;
  title: string | null;
  started_at: string;
  ended_at: string | null;
}

export interface Capabilities {
  streaming?: boolean;
  reasoning?: boolean;
  vision?: boolean;
  tools?: boolean;
  web_search?: boolean;
  max_output_tokens?: number | null;
}

export interface ModelInfo {
  provider: string;
  model: string;
  capabilities: Capabilities;
  default?: boolean;
}

export interface Citation {
  index?: number;
  file_id?: string | null;
  file_name?: string | null;
  title?: string | null;
  url?: string | null;
  page?: number | null;
  snippet?: string | null;
  text?: string | null;
  score?: number | null;
}

export interface QueryLog {
  id: string;
  user_id: string;
  session_id: string | null;
  experiment_id: string | null;
  variant: string | null;
  provider: string;
  model: string;
  request: Record<string, unknown>;
  response_text: string | null;
  reasoning_text: string | null;
  citations: Citation[];
  input_tokens: number | null;
  output_tokens: number | null;
  reasoning_tokens: number | null;
  cached_tokens: number | null;
  cost_usd: number | null;
  latency_ms: number | null;
  ttft_ms: number | null;
  status: string;
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface TokenGroup {
  key: string;
  queries: number;
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  total_tokens: number;
  cost_usd: number | null;
  unpriced_queries: number;
  avg_latency_ms: number | null;
  avg_ttft_ms: number | null;
}

export interface TokenAnalytics {
  group_by: string;
  groups: TokenGroup[];
  totals: TokenGroup;
}

export interface VariantSettings {
  system_prompt?: string | null;
  provider?: string | null;
  model?: string | null;
  temperature?: number | null;
  max_tokens?: number | null;
}

export interface Variant {
  name: string;
  weight: number;
  settings: VariantSettings;
}

export interface Experiment {
  id: string;
  owner_id: string;
  name: string;
  description: string | null;
  variants: Variant[];
  created_at: string;
}

export interface ArmStats {
  variant: string | null;
  sessions: number;
  participants: number;
  queries: number;
  events: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export interface ExperimentStats {
  experiment_id: string;
  arms: ArmStats[];
}

export type FileStatus = "queued" | "processing" | "ready" | "failed" | string;

export interface FileInfo {
  id: string;
  name: string;
  size?: number | null;
  mime?: string | null;
  stage?: string | null;
  status: FileStatus;
  progress?: number | null;
  pages?: number | null;
  chunks?: number | null;
  error?: string | null;
  created_at?: string;
}
