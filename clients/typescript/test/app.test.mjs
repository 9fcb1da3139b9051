// An app's life against a real `yurudb serve`: create, stream updates, the server restarted mid-session,
// the client finds it again and retries, events reconnect, nothing is lost, search finds it.
// Run by tests/test_typescript_client.py: YURUDB_PYTHON (the interpreter with yurudb), YURUDB_DB.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { YurudbClient, YurudbError } from "../dist/index.js";

const python = process.env.YURUDB_PYTHON;
const db = process.env.YURUDB_DB;
if (!python || !db) throw new Error("set YURUDB_PYTHON and YURUDB_DB");

const servers = new Set();  // stopped whatever happens, so no server outlives the test
process.on("exit", () => { for (const proc of servers) proc.kill("SIGKILL"); });
process.on("uncaughtException", (err) => { console.error(err); process.exit(1); });
process.on("unhandledRejection", (err) => { console.error(err); process.exit(1); });

async function start() {
  const proc = spawn(python, ["-c", "from yurudb.cli import main; main()", "--db", db, "serve", "--port", "0"],
                     { stdio: ["ignore", "pipe", "inherit"] });
  const exited = once(proc, "exit").then(([code]) => { throw new Error(`yurudb serve exited ${code}`); });
  const [line] = await Promise.race([once(createInterface({ input: proc.stdout }), "line"), exited]);
  exited.catch(() => {});
  servers.add(proc);
  proc.on("exit", () => servers.delete(proc));
  return { proc, served: JSON.parse(line) };
}

async function stop(server) {
  server.proc.kill("SIGTERM");
  const [code] = await once(server.proc, "exit");
  assert.equal(code, 0, "the server stops cleanly on SIGTERM");
}

let server = await start();
const client = await YurudbClient.discover(join(dirname(db), "serve.json"));
const events = [];
const subscription = client.events((event) => events.push(event.type));

assert.equal((await client.health()).state, "ready");
const session = await client.createSession({ name: "an app's life", working_directory: "/repo" });
const { message } = await client.appendMessage(session.id, { type: "assistant", role: "assistant", content: "Looking" });
for (let i = 1; i <= 20; i++) await client.updateMessage(message.id, { content: `Looking${".".repeat(i)}` });  // streaming

await stop(server);  // restarted mid-session: a new port and a new token
const saving = client.appendMessage(session.id, { type: "user", content: "typed while the server restarted" });
await new Promise((resolve) => setTimeout(resolve, 300));
server = await start();
const saved = await saving;  // retried, against the new server, with the same id
assert.equal(saved.held, false);

const all = await client.getMessages(session.id, { limit: "all" });
assert.deepEqual(all.map((m) => m.seq), [1, 2], "nothing lost, nothing twice");
assert.equal(all[0].content, `Looking${".".repeat(20)}`);
assert.equal(all[1].content, "typed while the server restarted");
const again = await client.appendMessage(session.id, { id: saved.message.id, type: "user", content: "typed while the server restarted" });
assert.equal(again.message.seq, 2, "a save retried with its id is the same message");

const hits = await client.search("restarted");
assert.deepEqual(hits.hits.map((h) => h.message_id), [saved.message.id]);
await assert.rejects(client.getSession("no-such-session"), (err) => err instanceof YurudbError && err.status === 404);

for (let i = 0; i < 100 && events.filter((e) => e === "Hello").length < 2; i++) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
assert.ok(events.filter((e) => e === "Hello").length >= 2, `the events reconnected after the restart: ${events}`);
subscription.close();
await stop(server);
console.log("ok: an app's life, the server restarted once, nothing lost");
