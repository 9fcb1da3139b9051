// A typed client for `yurudb serve`: no runtime dependency but the platform's fetch and WebSocket.
import { OPERATIONS } from "./types.js";
import type { CreateSession, Message, RecordUsage, Session, UpdateMessage, Usage } from "./types.js";

export * from "./types.js";

/** What `yurudb serve` announces (its first stdout line, and serve.json beside the database). */
export interface Served {
  url: string;
  token: string;
  pid?: number;
  db?: string;
}

/** An error answer: `{"error": {"type", "message"}}` with its HTTP status. */
export class YurudbError extends Error {
  constructor(public status: number, public type: string, message: string) {
    super(`${type}: ${message}`);
  }
}

export interface ClientOptions {
  /** How many times a request is tried again while the server is away (restarting): default 20. */
  retries?: number;
  /** Where to find the server again after a restart (new port, new token): `discover` sets it. */
  rediscover?: () => Promise<Served>;
}

export interface StoreEvent {
  type: string;
  [field: string]: unknown;
}

type Operation = keyof typeof OPERATIONS;
type Query = Record<string, string | number | boolean | undefined>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class YurudbClient {
  constructor(private served: Served, private options: ClientOptions = {}) {}

  /** A client from a serve.json (Node): it reads the file again when the server comes back. */
  static async discover(path: string, options: ClientOptions = {}): Promise<YurudbClient> {
    const fsModule = "node:fs/promises";  // by name: the browser build needs no Node types
    const { readFile } = (await import(fsModule)) as { readFile(path: string, encoding: string): Promise<string> };
    const read = async (): Promise<Served> => JSON.parse(await readFile(path, "utf8")) as Served;
    return new YurudbClient(await read(), { rediscover: read, ...options });
  }

  private async request<T>(op: Operation, params: Record<string, string> = {}, query: Query = {},
                           body?: unknown): Promise<{ status: number; data: T }> {
    const { method, path } = OPERATIONS[op];
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ""));
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) search.set(k, String(v));
    const tries = (this.options.retries ?? 20) + 1;
    for (let attempt = 1; ; attempt++) {
      let answer: Response;
      try {
        answer = await fetch(`${this.served.url}${filled}${search.size ? `?${search}` : ""}`, {
          method,
          headers: { Authorization: `Bearer ${this.served.token}`, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {  // the server is away (restarting): find it again and try again
        if (attempt >= tries) throw err;
        await this.findAgain(attempt);
        continue;
      }
      if ((answer.status === 401 || answer.status === 503) && attempt < tries && this.options.rediscover) {
        await this.findAgain(attempt);  // a new server (new token), or a store not open yet
        continue;
      }
      const text = await answer.text();
      const data = text ? JSON.parse(text) : null;
      if (!answer.ok) throw new YurudbError(answer.status, data?.error?.type ?? "HTTPError", data?.error?.message ?? "");
      return { status: answer.status, data: data as T };
    }
  }

  private async findAgain(attempt: number): Promise<void> {
    await sleep(Math.min(2000, 50 * 2 ** attempt));
    if (this.options.rediscover) {
      try {
        this.served = await this.options.rediscover();
      } catch {
        // not written yet: the next attempt reads it again
      }
    }
  }

  health() { return this.request<{ state: string; recovery: Record<string, unknown>; total_ms: number }>("health").then((r) => r.data); }
  listSessions(query: { limit?: number; offset?: number; status?: string } = {}) {
    return this.request<Session[]>("list_sessions", {}, query).then((r) => r.data);
  }
  getSession(id: string) { return this.request<Session>("get_session", { session: id }).then((r) => r.data); }

  /** Create a session; its id is chosen here when not given, so a retry never makes two. */
  async createSession(fields: CreateSession): Promise<Session> {
    const body = { ...fields, id: fields.id ?? crypto.randomUUID() };
    try {
      return (await this.request<Session>("create_session", {}, {}, body)).data;
    } catch (err) {
      if (err instanceof YurudbError && err.status === 409 && !fields.id) return this.getSession(body.id);
      throw err;
    }
  }
  updateSession(id: string, fields: Record<string, unknown>) {
    return this.request<Session>("update_session", { session: id }, {}, fields).then((r) => r.data);
  }
  renameSession(id: string, name: string) {
    return this.request<Session>("rename_session", { session: id }, {}, { name }).then((r) => r.data);
  }
  async deleteSession(id: string): Promise<void> { await this.request("delete_session", { session: id }); }
  getMessages(id: string, query: { limit?: number | "all"; before?: number; around?: number; thread?: string } = {}) {
    return this.request<Message[]>("get_messages", { session: id }, query).then((r) => r.data);
  }

  /** Append a message: answered once durable (`held`: in the degraded journal, not yet the file).
   * Its id is chosen here when not given: a retried save is the same message, never a second one. */
  async appendMessage(session: string, message: Record<string, unknown>): Promise<{ message: Message; held: boolean }> {
    const body = { message: { ...message, id: message.id ?? crypto.randomUUID() } };
    const { status, data } = await this.request<Message>("append_messages", { session }, {}, body);
    return { message: data, held: status === 202 };
  }
  async appendMessages(session: string, messages: Record<string, unknown>[]): Promise<{ messages: Message[]; held: boolean }> {
    const body = { messages: messages.map((m) => ({ ...m, id: m.id ?? crypto.randomUUID() })) };
    const { status, data } = await this.request<Message[]>("append_messages", { session }, {}, body);
    return { messages: data, held: status === 202 };
  }
  updateMessage(id: string, fields: UpdateMessage) {
    return this.request<Message>("update_message", { message: id }, {}, fields).then((r) => r.data);
  }
  recordUsage(session: string, usage: RecordUsage) {
    return this.request<Usage>("record_usage", { session }, {}, usage).then((r) => r.data);
  }
  usageSummary(query: { by?: "model" | "day" | "session"; since?: string; until?: string; session_id?: string } = {}) {
    return this.request<Record<string, unknown>[]>("usage_summary", {}, query).then((r) => r.data);
  }
  search(q: string, query: Query = {}) {
    return this.request<{ hits: Record<string, unknown>[]; complete: boolean; note: string }>("search", {}, { q, ...query })
      .then((r) => r.data);
  }
  sync(root?: string) { return this.request<{ reports: Record<string, unknown>[] }>("sync_archive", {}, {}, { root }).then((r) => r.data); }
  files(session: string) { return this.request<{ files: { path: string; bytes: number }[] }>("transcript_files", { session }).then((r) => r.data); }
  restore(session: string, options: { into?: string; cwd?: string } = {}) {
    return this.request<Record<string, unknown>>("restore", { session }, {}, options).then((r) => r.data);
  }

  /** The store's events as they happen; reconnects (finding a restarted server again) until closed. */
  events(onEvent: (event: StoreEvent) => void): { close(): void } {
    let closed = false;
    let socket: WebSocket | undefined;
    let attempt = 0;
    const connect = () => {
      if (closed) return;
      const current = new WebSocket(`${this.served.url.replace(/^http/, "ws")}/api/v1/events`);
      socket = current;
      let gone = false;
      // a dropped connection fires close; a failed one, in some runtimes, only error: either retries, once
      const again = () => {
        if (closed || gone) return;
        gone = true;
        attempt++;
        void this.findAgain(attempt).then(connect);
      };
      current.onopen = () => { attempt = 0; current.send(JSON.stringify({ token: this.served.token })); };
      current.onmessage = (message) => onEvent(JSON.parse(String(message.data)) as StoreEvent);
      current.onclose = again;
      current.onerror = again;
    };
    connect();
    return { close: () => { closed = true; socket?.close(); } };
  }
}
