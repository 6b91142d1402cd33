/**
 * README's server block runs as written: the `deno task serve …` line starts the server (as a
 * subprocess, the task's own permissions), then every `curl` command of the block runs in bash and
 * its output is checked for what the README promises. Only the port changes, when 8080 is taken on
 * the machine running the tests.
 */
import assert from "node:assert/strict";

const README = await Deno.readTextFile(new URL("../../README.md", import.meta.url));

/** The ```sh block whose first line starts the server, split into the serve line and the curls. */
function serverBlock(): { serve: string; curls: string[] } {
  for (const m of README.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = m[1].split("\n");
    if (!lines[0].startsWith("deno task serve")) continue;
    const curls: string[] = [];
    for (const line of lines.slice(1)) {
      if (line.startsWith("curl ")) curls.push(line);
      else if (curls.length && line.trim()) curls[curls.length - 1] += "\n" + line;
    }
    return { serve: lines[0], curls };
  }
  throw new Error("README.md has no ```sh block starting with `deno task serve`");
}

function freePort(preferred: number): number {
  try {
    Deno.listen({ hostname: "127.0.0.1", port: preferred }).close();
    return preferred;
  } catch {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  }
}

async function sh(cmd: string): Promise<string> {
  const out = await new Deno.Command("bash", { args: ["-o", "pipefail", "-c", cmd] }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(
    out.code,
    0,
    `\`${cmd}\` exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
  );
  return text;
}

Deno.test({
  name: "README: the server block's commands run as written (serve, chat, stream, json_schema, " +
    "metrics)",
  ignore: (await new Deno.Command("bash", { args: ["-c", "command -v curl"] }).output()).code !== 0,
}, async () => {
  const { serve, curls } = serverBlock();
  assert.equal(curls.length, 4, "the README's server block has four curl commands");
  const port = freePort(8080);
  const fix = (s: string) => s.replaceAll("8080", String(port));
  const args = fix(serve).split(/\s+/).slice(1); // "task serve --port … --parallel 4"
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0;; i++) {
      try {
        if ((await fetch(`${base}/health`)).ok) break;
      } catch { /* not listening yet */ }
      assert.ok(i < 600, "server did not come up within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    // 1. chat completion: OpenAI's response shape with a non-empty answer and usage
    const chat = JSON.parse(await sh(fix(curls[0])));
    assert.equal(chat.object, "chat.completion");
    assert.ok(chat.choices[0].message.content.length > 0);
    assert.ok(chat.usage.completion_tokens > 0 && chat.usage.completion_tokens <= 24);
    // 2. streamed completion: SSE chunks, then [DONE]
    const events = (await sh(fix(curls[1]))).split("\n\n").filter((e) => e.trim());
    assert.equal(events.at(-1), "data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.replace(/^data: /, "")));
    assert.ok(chunks.length >= 2 && chunks.every((c) => c.object === "text_completion"));
    // 3. json_schema output: the answer parses and has the schema's fields and types
    const js = JSON.parse(await sh(fix(curls[2])));
    const person = JSON.parse(js.choices[0].message.content);
    assert.deepEqual(Object.keys(person).sort(), ["age", "name"]);
    assert.ok(typeof person.name === "string" && person.name.length <= 8);
    assert.ok(Number.isInteger(person.age));
    // 4. metrics: the completion-token counter counts the three answers above
    const line = (await sh(fix(curls[3]))).trim();
    const m = /^aprender_completion_tokens_total (\d+)$/m.exec(line);
    assert.ok(m, `metrics line: ${line}`);
    const streamed = chunks.reduce((a, c) => a + (c.choices[0]?.text ? 1 : 0), 0);
    const want = chat.usage.completion_tokens + js.usage.completion_tokens + streamed;
    assert.ok(
      Number(m[1]) >= want,
      `metrics ${
        m[1]
      } < ${want} tokens answered (${chat.usage.completion_tokens} + ${js.usage.completion_tokens} + ${streamed})`,
    );
  } finally {
    child.kill("SIGTERM");
    const status = await child.status;
    await child.stderr.cancel();
    assert.ok(status.success || status.signal === "SIGTERM", `serve exited ${status.code}`);
  }
});
