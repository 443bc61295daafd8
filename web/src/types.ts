// Shapes of the API: generated from the server's schema (web/openapi.json, a committed
// snapshot, -> src/generated/api.d.ts by `npm run types`, part of the build; after an API
// change, `make openapi` regenerates both). Shapes only the client has follow.
import type { components } from "./generated/api";

type Schemas = components["schemas"];

/** A page of a list (`GET /api/v1/sessions`, `/api/v1/queries`, ...). */
export type Page<T> = Omit<Schemas["Page_SessionOut_"], "items"> & { items: T[] };
export type SessionOut = Schemas["SessionOut"];
export type Capabilities = Schemas["ModelCapabilities"];
export type ModelInfo = Schemas["ModelInfo"];
export type Citation = Schemas["Citation"];
export type QueryLog = Schemas["QueryLogOut"];
export type TokenGroup = Schemas["TokenGroup"];
export type TokenAnalytics = Schemas["TokenAnalytics"];
export type VariantSettings = Schemas["VariantSettings"];
export type Variant = Schemas["Variant"];
export type Experiment = Schemas["ExperimentOut"];
export type ArmStats = Schemas["ArmStats"];
export type ExperimentStats = Schemas["ExperimentStats"];
export type Me = Schemas["Me"];
export type ParticipantIssued = Schemas["ParticipantIssued"];
export type EventsAccepted = Schemas["EventsAccepted"];

// A file as the UI shows it: normalised (files.ts) from the v1 and the original client's
// file shapes.
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
