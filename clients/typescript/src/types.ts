// Generated from yurudb serve's OpenAPI document by generate.py: do not edit by hand.

/** A session as reads return it. */
export interface Session {
  id: string;
  name: string;
  status?: string;
  working_directory?: string | null;
  claude_session_id?: string | null;
  claude_title?: string | null;
  user_renamed?: boolean;
  created_at: string;
  updated_at: string;
  meta?: Record<string, unknown> | null;
}

/** One page of a filtered session list, and how many sessions the filters match in all. */
export interface SessionPage {
  total: number;
  offset: number;
  sessions: SessionSummary[];
}

/** A message as reads return it; `payload` is the message exactly as the app gave it. */
export interface Message {
  id: string;
  session_id: string;
  seq: number;
  type: string;
  role?: string | null;
  content?: string | null;
  tool_uses?: unknown;
  usage?: unknown;
  timestamp?: string | null;
  payload?: unknown;
  thread?: string | null;
  file_id?: number | null;
  line?: number | null;
}

/** One token/cost record as reads return it. */
export interface Usage {
  id?: number | null;
  session_id?: string | null;
  tokens_input?: number;
  tokens_output?: number;
  tokens_cache?: number;
  cost_usd?: number;
  model?: string | null;
  timestamp?: string | null;
  source_id?: string | null;
  tokens_cache_write?: number | null;
  tokens_cache_read?: number | null;
}

/** A secret found in a message (its session, seq and transcript line) or in a file kept beside the */
export interface SecretFinding {
  session_id: string | null;
  session_name: string | null;
  message_id?: string | null;
  seq?: number | null;
  thread?: string | null;
  line?: number | null;
  path?: string | null;
  kind: string;
  preview: string;
}

/** POST /sessions. */
export interface CreateSession {
  name: string;
  id?: string | null;
  status?: string;
  working_directory?: string | null;
  claude_session_id?: string | null;
  claude_title?: string | null;
  user_renamed?: boolean;
  meta?: Record<string, unknown> | null;
  created_at?: number | string | null;
  updated_at?: number | string | null;
}

/** PATCH /sessions/{id}: the fields to change (as update_session takes them). */
export type UpdateSession = Record<string, unknown>;

/** POST /sessions/{id}/rename. */
export interface Rename {
  name: string;
}

/** POST /sessions/{id}/messages: one message, or several in order (one transaction when they fit). */
export interface Append {
  message?: Record<string, unknown> | null;
  messages?: Record<string, unknown>[] | null;
}

/** PATCH /messages/{id}: streaming updates; a field left out stays as it is. */
export interface UpdateMessage {
  content?: unknown;
  tool_uses?: unknown[] | Record<string, unknown> | null;
  usage?: Record<string, unknown> | null;
  payload?: Record<string, unknown> | null;
}

/** POST /sessions/{id}/usage (without cost_usd the price database prices it). */
export interface RecordUsage {
  model?: string | null;
  tokens_input?: number;
  tokens_output?: number;
  tokens_cache?: number;
  cost_usd?: number | null;
  timestamp?: number | string | null;
  source_id?: string | null;
  tokens_cache_write?: number | null;
  tokens_cache_read?: number | null;
}

/** POST /archive/sync: one projects folder, or every place Claude Code keeps them. */
export interface SyncArchive {
  root?: string | null;
}

/** POST /sessions/{id}/restore: put its files back (never over a differing file). */
export interface Restore {
  into?: string | null;
  cwd?: string | null;
}

export interface Error {
  error: { type: string; message: string };
}

/** A session as a list shows it: its names, project, size, cost and whether Claude Code still has its files. */
export interface SessionSummary {
  id: string;
  name: string;
  claude_title?: string | null;
  user_renamed?: boolean;
  status?: string;
  working_directory?: string | null;
  claude_session_id?: string | null;
  created_at: string;
  updated_at: string;
  messages?: number;
  cost_usd?: number;
  tokens?: number;
  source_gone?: boolean;
  secrets?: number;
}

/** Every operation of /api/v1: method and path. */
export const OPERATIONS = {
  health: { method: "GET", path: "/api/v1/health" },
  list_sessions: { method: "GET", path: "/api/v1/sessions" },
  create_session: { method: "POST", path: "/api/v1/sessions" },
  browse: { method: "GET", path: "/api/v1/browse" },
  projects: { method: "GET", path: "/api/v1/projects" },
  secrets: { method: "GET", path: "/api/v1/secrets" },
  get_session: { method: "GET", path: "/api/v1/sessions/{session}" },
  update_session: { method: "PATCH", path: "/api/v1/sessions/{session}" },
  delete_session: { method: "DELETE", path: "/api/v1/sessions/{session}" },
  threads: { method: "GET", path: "/api/v1/sessions/{session}/threads" },
  usage_records: { method: "GET", path: "/api/v1/sessions/{session}/usage" },
  record_usage: { method: "POST", path: "/api/v1/sessions/{session}/usage" },
  rename_session: { method: "POST", path: "/api/v1/sessions/{session}/rename" },
  get_messages: { method: "GET", path: "/api/v1/sessions/{session}/messages" },
  append_messages: { method: "POST", path: "/api/v1/sessions/{session}/messages" },
  update_message: { method: "PATCH", path: "/api/v1/messages/{message}" },
  usage_summary: { method: "GET", path: "/api/v1/usage" },
  search: { method: "GET", path: "/api/v1/search" },
  sync_archive: { method: "POST", path: "/api/v1/archive/sync" },
  transcript_files: { method: "GET", path: "/api/v1/sessions/{session}/files" },
  restore: { method: "POST", path: "/api/v1/sessions/{session}/restore" },
  openapi: { method: "GET", path: "/api/v1/openapi.json" },
} as const;
