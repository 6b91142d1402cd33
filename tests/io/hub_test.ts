/**
 * The hub client against a loopback host that lays out repos like the real one (tree API with
 * pages, 302 to a CDN on another origin, Range, ETags): pulls by quant tag, hf:// path, URL,
 * sharded safetensors, split GGUF and ONNX; resume after a cut; a flipped byte refetched;
 * concurrent pulls (in one process and across two) downloading once; offline mode and
 * unreachable hosts failing with a typed error that says where to put the file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  HubError,
  isModelName,
  parseModelName,
  pull,
  type PullOptions,
  resolveModel,
} from "../../io/hub/mod.ts";
import { progressLine } from "../../io/hub/progress.ts";
import { selectFiles } from "../../io/hub/repo.ts";
import { bytesOf, HubServer, type ServedFile } from "./hub_server.ts";
import { nn, randn, seed } from "../../mod.ts";
import { loadNpy, saveNpy } from "../../io/mod.ts";
import { exportOnnxSync } from "../../io/onnx/mod.ts";

const lfs = (n: number, seed: number): ServedFile => ({ bytes: bytesOf(n, seed), lfs: true });
const small = (s: string): ServedFile => ({ bytes: new TextEncoder().encode(s), lfs: false });

async function withHub(
  fn: (s: HubServer, opts: PullOptions & { cacheDir: string }) => Promise<void>,
): Promise<void> {
  const server = HubServer.start();
  const cacheDir = await Deno.makeTempDir({ prefix: "aprender-hub-" });
  try {
    await fn(server, { cacheDir, endpoint: server.endpoint, offline: false, retries: 2 });
  } finally {
    await server.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
}

const read = (p: string) => Deno.readFile(p);

Deno.test("model names parse into hub files, quant tags, URLs; bad ones throw HubError", () => {
  assert.deepEqual(parseModelName("hf://a/b/sub/m.gguf"), {
    kind: "hf-file",
    repo: "a/b",
    revision: "main",
    path: "sub/m.gguf",
  });
  assert.deepEqual(parseModelName("a/b@v1.0:Q4_K_M"), {
    kind: "hf-repo",
    repo: "a/b",
    revision: "v1.0",
    tag: "Q4_K_M",
  });
  assert.deepEqual(parseModelName("https://x.org/m.onnx"), {
    kind: "url",
    url: "https://x.org/m.onnx",
  });
  assert.equal(isModelName("owner/repo:Q8_0"), true);
  assert.equal(isModelName("models/m.gguf"), false);
  for (const bad of ["hf://a/b", "hf://a/b/../etc/passwd", "a/b/c:Q4", "a/b:Q 4", "hf://a/b//x"]) {
    assert.throws(() => parseModelName(bad), HubError, bad);
  }
});

Deno.test("quant selection: tag, default Q4_K_M, the only file, split shards, and a clear miss", () => {
  const f = (path: string) => ({ path, size: 1 });
  const files = ["a-Q8_0.gguf", "a-Q4_K_M.gguf", "a-IQ2_XS.gguf", "mmproj-a-f16.gguf", "README.md"]
    .map(f);
  assert.equal(selectFiles("o/r", files, "q8_0").main, "a-Q8_0.gguf");
  assert.equal(selectFiles("o/r", files).main, "a-Q4_K_M.gguf");
  assert.equal(selectFiles("o/r", files, "IQ2_XS").main, "a-IQ2_XS.gguf");
  assert.equal(selectFiles("o/r", [f("only.gguf")]).main, "only.gguf");
  assert.throws(() => selectFiles("o/r", files, "Q5_K_S"), /IQ2_XS, Q4_K_M, Q8_0/);
  const split = ["b-Q8_0-00002-of-00002.gguf", "b-Q8_0-00001-of-00002.gguf"].map(f);
  assert.deepEqual(selectFiles("o/r", split, "Q8_0").files.map((x) => x.path), [
    "b-Q8_0-00001-of-00002.gguf",
    "b-Q8_0-00002-of-00002.gguf",
  ]);
  assert.throws(() => selectFiles("o/r", split.slice(0, 1), "Q8_0"), /1 of 2 shards/);
});

Deno.test("progress line shows percent, bytes, speed and ETA", () => {
  const line = progressLine({
    file: "m.gguf",
    received: 50e6,
    total: 200e6,
    bytesPerSecond: 10e6,
    etaSeconds: 15,
    done: false,
  });
  assert.match(
    line,
    /^m\.gguf {2}\[#{6}-{18}\] {2}25% {2}50\.0 MB \/ 200\.0 MB {2}10\.0 MB\/s {2}ETA 0:15$/,
  );
});

Deno.test("pull by quant tag over a paginated file list, via a CDN redirect; cached after", async () => {
  await withHub(async (s, opts) => {
    s.pageSize = 2;
    s.addRepo("org/tiny-GGUF", {
      "README.md": small("# tiny\n"),
      "tiny-Q4_K_M.gguf": lfs(70_000, 1),
      "tiny-Q8_0.gguf": lfs(90_000, 2),
      "config.json": small('{"a":1}'),
    });
    const r = await pull("org/tiny-GGUF:Q8_0", { ...opts, token: "secret" });
    assert.equal(r.path, join(opts.cacheDir, "hf/org/tiny-GGUF/main/tiny-Q8_0.gguf"));
    assert.deepEqual(
      await read(r.path),
      s.repos.get("org/tiny-GGUF")!.get("tiny-Q8_0.gguf")!.bytes,
    );
    assert.deepEqual(r.downloaded, [r.path]);
    // The token went to the host's API and resolve URLs, never to the CDN's origin.
    assert.ok(s.seen.filter((x) => x.origin === "api").every((x) => x.auth === "Bearer secret"));
    assert.ok(s.seen.some((x) => x.origin === "cdn"));
    assert.ok(s.seen.filter((x) => x.origin === "cdn").every((x) => x.auth === null));
    const def = await pull("org/tiny-GGUF", opts);
    assert.match(def.path, /tiny-Q4_K_M\.gguf$/);
    const before = s.seen.filter((x) => x.origin === "cdn").length;
    const again = await pull("org/tiny-GGUF:Q8_0", opts);
    assert.deepEqual(again.downloaded, []);
    assert.equal(s.seen.filter((x) => x.origin === "cdn").length, before);
    await assert.rejects(
      pull("org/tiny-GGUF:Q2_K", opts),
      (e: HubError) => e.kind === "not-found" && /Q4_K_M, Q8_0/.test(e.message),
    );
    await assert.rejects(
      pull("org/missing:Q8_0", opts),
      (e: HubError) => e.kind === "not-found" && e.status === 404,
    );
  });
});

Deno.test("hf:// files, plain URLs, sharded safetensors, split GGUF and ONNX with external data", async () => {
  await withHub(async (s, opts) => {
    const index = JSON.stringify({
      metadata: { total_size: 3 },
      weight_map: {
        "a.weight": "model-00001-of-00002.safetensors",
        "b.weight": "model-00002-of-00002.safetensors",
        "c": "model-00001-of-00002.safetensors",
      },
    });
    s.addRepo("org/st", {
      "model.safetensors.index.json": small(index),
      "model-00001-of-00002.safetensors": lfs(40_000, 3),
      "model-00002-of-00002.safetensors": lfs(30_000, 4),
      "config.json": small('{"model_type":"llama"}'),
      "tokenizer.json": small("{}"),
    });
    s.addRepo("org/split-GGUF", {
      "big-Q8_0-00001-of-00002.gguf": lfs(20_000, 5),
      "big-Q8_0-00002-of-00002.gguf": lfs(20_000, 6),
    });
    s.addRepo("org/vision-onnx", {
      "onnx/model.onnx": lfs(5_000, 7),
      "onnx/model.onnx_data": lfs(50_000, 8),
      "onnx/other.onnx": lfs(100, 9),
    });
    const st = await pull("org/st", opts);
    assert.match(st.path, /org\/st\/main\/model\.safetensors\.index\.json$/);
    assert.deepEqual(st.files.map((p) => p.split("/").pop()).sort(), [
      "config.json",
      "model-00001-of-00002.safetensors",
      "model-00002-of-00002.safetensors",
      "model.safetensors.index.json",
      "tokenizer.json",
    ]);
    for (const p of st.files) {
      assert.deepEqual(await read(p), s.repos.get("org/st")!.get(p.split("/main/")[1])!.bytes);
    }
    const sp = await pull("org/split-GGUF:Q8_0", opts);
    assert.match(sp.path, /00001-of-00002\.gguf$/);
    assert.equal(sp.files.length, 2);
    const ox = await pull("org/vision-onnx", opts);
    assert.match(ox.path, /onnx\/model\.onnx$/);
    assert.deepEqual(ox.files.map((p) => p.split("/main/")[1]), [
      "onnx/model.onnx",
      "onnx/model.onnx_data",
    ]);
    const one = await pull("hf://org/st/config.json", opts);
    assert.equal(await Deno.readTextFile(one.path), '{"model_type":"llama"}');
    const url = `${s.endpoint}/org/split-GGUF/resolve/main/big-Q8_0-00002-of-00002.gguf`;
    const viaUrl = await pull(url, opts);
    assert.match(viaUrl.path, /\/url\/[0-9a-f]{16}\/big-Q8_0-00002-of-00002\.gguf$/);
    assert.deepEqual(
      await read(viaUrl.path),
      s.repos.get("org/split-GGUF")!.get("big-Q8_0-00002-of-00002.gguf")!.bytes,
    );
    assert.equal(await resolveModel(viaUrl.path, opts), viaUrl.path);
    assert.equal(await resolveModel(url, opts), viaUrl.path);
  });
});

Deno.test("a download cut mid-file resumes with a Range request from where it stopped", async () => {
  await withHub(async (s, opts) => {
    const file = lfs(300_000, 11);
    s.addRepo("org/r", { "m-Q8_0.gguf": file });
    s.faults.set("m-Q8_0.gguf", { cutAfter: 120_000 });
    await assert.rejects(
      pull("hf://org/r/m-Q8_0.gguf", { ...opts, retries: 0 }),
      (e: HubError) => e.kind === "cut" && /Run the pull again to resume/.test(e.message),
    );
    const dest = join(opts.cacheDir, "hf/org/r/main/m-Q8_0.gguf");
    const partSize = (await Deno.stat(dest + ".part")).size;
    assert.ok(partSize > 0 && partSize <= 120_000, `part ${partSize}`);
    const r = await pull("hf://org/r/m-Q8_0.gguf", opts);
    assert.deepEqual(await read(r.path), file.bytes);
    const cdn = s.seen.filter((x) => x.origin === "cdn");
    assert.deepEqual(cdn.map((x) => x.range), [null, `bytes=${partSize}-`]);
    // Within one pull, retries resume too.
    s.faults.set("m-Q8_0.gguf", { cutAfter: 50_000 });
    await Deno.remove(r.path);
    await pull("hf://org/r/m-Q8_0.gguf", opts);
    assert.deepEqual(await read(r.path), file.bytes);
    assert.match(s.seen.at(-1)!.range ?? "", /^bytes=\d+-$/);
  });
});

Deno.test("a flipped byte is caught by the sha256 check and the file refetched", async () => {
  await withHub(async (s, opts) => {
    const file = lfs(100_000, 12);
    s.addRepo("org/c", { "m.gguf": file, "config.json": small('{"x":2}') });
    s.faults.set("m.gguf", { corruptAt: 77_777 });
    const r = await pull("hf://org/c/m.gguf", opts);
    assert.deepEqual(await read(r.path), file.bytes);
    assert.equal(s.seen.filter((x) => x.origin === "cdn").length, 2);
    // With no retry left the file is discarded and the error says why.
    await Deno.remove(r.path);
    s.faults.set("m.gguf", { corruptAt: 5 });
    await assert.rejects(
      pull("hf://org/c/m.gguf", { ...opts, retries: 0 }),
      (e: HubError) => e.kind === "integrity" && /sha256 [0-9a-f]{64} ≠ expected/.test(e.message),
    );
    await assert.rejects(Deno.stat(r.path));
    await assert.rejects(Deno.stat(r.path + ".part"));
    // A small (non-LFS) file is checked by its git blob sha1.
    s.faults.set("config.json", { corruptAt: 3 });
    await assert.rejects(pull("hf://org/c/config.json", { ...opts, retries: 0 }), /git sha1/);
    // A byte flipped in the cache is found by pull's verification and refetched.
    await pull("hf://org/c/m.gguf", opts);
    const bad = await read(r.path);
    bad[1234] ^= 1;
    await Deno.writeFile(r.path, bad);
    const again = await pull("hf://org/c/m.gguf", opts);
    assert.deepEqual(again.downloaded, [r.path]);
    assert.deepEqual(await read(r.path), file.bytes);
    // A new upload of the same size is noticed by resolveModel without re-hashing (the file
    // list's sha256 differs from the one recorded at download).
    const v2 = lfs(100_000, 99);
    s.addRepo("org/c", { "m.gguf": v2, "config.json": small('{"x":2}') });
    assert.equal(await resolveModel("hf://org/c/m.gguf", opts), r.path);
    assert.deepEqual(await read(r.path), v2.bytes);
  });
});

Deno.test("concurrent pulls of one file download it once and agree (in process and across two)", async () => {
  await withHub(async (s, opts) => {
    const file = lfs(400_000, 13);
    s.addRepo("org/cc", { "m-Q4_0.gguf": file });
    s.faults.set("m-Q4_0.gguf", { chunkDelayMs: 2 });
    const rs = await Promise.all([0, 1, 2, 3].map(() => pull("org/cc:Q4_0", opts)));
    assert.equal(new Set(rs.map((r) => r.path)).size, 1);
    assert.equal(rs.filter((r) => r.downloaded.length).length, 1);
    assert.equal(s.seen.filter((x) => x.origin === "cdn").length, 1);
    assert.deepEqual(await read(rs[0].path), file.bytes);
    // Two processes with a fresh cache.
    const cache2 = await Deno.makeTempDir({ prefix: "aprender-hub2-" });
    try {
      const code = `import { pull } from ${
        JSON.stringify(new URL("../../io/hub/pull.ts", import.meta.url).href)
      };
        const r = await pull("org/cc:Q4_0", { cacheDir: ${JSON.stringify(cache2)}, endpoint: ${
        JSON.stringify(s.endpoint)
      }, offline: false });
        console.log(r.downloaded.length);`;
      const run = () =>
        new Deno.Command(Deno.execPath(), {
          args: ["eval", "--no-check", code],
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
      const outs = await Promise.all([run(), run()]);
      for (const o of outs) assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
      const counts = outs.map((o) => new TextDecoder().decode(o.stdout).trim()).sort();
      assert.deepEqual(counts, ["0", "1"]);
      assert.deepEqual(await read(join(cache2, "hf/org/cc/main/m-Q4_0.gguf")), file.bytes);
      assert.equal(s.seen.filter((x) => x.origin === "cdn").length, 2);
    } finally {
      await Deno.remove(cache2, { recursive: true });
    }
  });
});

Deno.test("offline mode serves from the cache and otherwise says where to put the file", async () => {
  await withHub(async (s, opts) => {
    s.addRepo("org/off", { "a-Q8_0.gguf": lfs(10_000, 14), "a-Q4_K_M.gguf": lfs(9_000, 15) });
    const online = await pull("org/off:Q8_0", opts);
    await s.close();
    const n = s.seen.length;
    const off = { ...opts, offline: true };
    assert.equal((await pull("org/off:Q8_0", off)).path, online.path);
    assert.equal(await resolveModel("org/off:Q8_0", off), online.path);
    assert.equal(s.seen.length, n);
    const where = join(opts.cacheDir, "hf/org/off/main/a-Q4_K_M.gguf");
    await assert.rejects(
      pull("org/off", off),
      (e: HubError) =>
        e.kind === "offline" && e.cachePath === where && e.message.includes(where) &&
        e.message.includes("/org/off/resolve/main/a-Q4_K_M.gguf"),
    );
    await assert.rejects(
      pull("org/elsewhere:Q8_0", off),
      (e: HubError) =>
        e.kind === "offline" && e.cachePath === join(opts.cacheDir, "hf/org/elsewhere/main") + "/",
    );
    // A file put there by hand is then used.
    await Deno.writeFile(where, new Uint8Array(9_000));
    assert.equal((await pull("org/off", off)).path, where);
    // With the host unreachable and offline mode off, cached files still load; others fail
    // with the cache path in the message.
    assert.equal((await pull("org/off:Q8_0", opts)).path, online.path);
    // The file list is cached but this quant is not: "unreachable" with its path, not "offline".
    await Deno.remove(where);
    await assert.rejects(
      pull("org/off:Q4_K_M", opts),
      (e: HubError) =>
        e.kind === "unreachable" && e.cachePath === where && !/offline mode is on/.test(e.message),
    );
    await assert.rejects(
      pull("org/never:Q8_0", opts),
      (e: HubError) =>
        e.kind === "unreachable" && e.message.includes(join(opts.cacheDir, "hf/org/never/main")),
    );
    await assert.rejects(
      pull("hf://org/never/x.gguf", opts),
      (e: HubError) =>
        e.kind === "unreachable" && e.cachePath === join(opts.cacheDir, "hf/org/never/main/x.gguf"),
    );
  });
});

Deno.test("generate --model owner/repo:Q8_0 pulls the model and prints what the file gives", async () => {
  await withHub(async (s, opts) => {
    const file = new URL("../../models/kjv-llama-q8_0.gguf", import.meta.url);
    s.addRepo("aprender/kjv-llama-GGUF", {
      "kjv-llama-Q8_0.gguf": { bytes: await Deno.readFile(file), lfs: true },
    });
    const run = (model: string) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-check",
          "-A",
          new URL("../../llm/cli.ts", import.meta.url).pathname,
          "generate",
          "--model",
          model,
          "--prompt",
          "In the beginning",
          "--max-tokens",
          "8",
        ],
        env: { HF_ENDPOINT: s.endpoint, APRENDER_CACHE: opts.cacheDir, NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      }).output();
    const [byName, byPath] = await Promise.all([
      run("aprender/kjv-llama-GGUF:Q8_0"),
      run(file.pathname),
    ]);
    const text = (b: Uint8Array) => new TextDecoder().decode(b);
    assert.equal(byName.code, 0, text(byName.stderr));
    assert.equal(byPath.code, 0, text(byPath.stderr));
    assert.match(text(byName.stdout), /^In the beginning.+/);
    assert.equal(text(byName.stdout), text(byPath.stdout));
    assert.equal(s.seen.filter((x) => x.origin === "cdn").length, 1);
  });
});

Deno.test("onnx inspect/run take a hub name as well as a path", async () => {
  await withHub(async (s, opts) => {
    seed(1);
    const net = new nn.Sequential(new nn.Linear(4, 3), new nn.ReLU());
    const x = randn([2, 4]);
    const bytes = exportOnnxSync(net, x);
    s.addRepo("aprender/tiny-onnx", { "model.onnx": { bytes, lfs: true } });
    const dir = await Deno.makeTempDir();
    try {
      const local = join(dir, "model.onnx"), xf = join(dir, "x.npy");
      await Deno.writeFile(local, bytes);
      await saveNpy(xf, x);
      const cli = (...args: string[]) =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-check",
            "-A",
            new URL("../../io/onnx/cli.ts", import.meta.url).pathname,
            ...args,
          ],
          env: { HF_ENDPOINT: s.endpoint, APRENDER_CACHE: opts.cacheDir, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
      const text = (b: Uint8Array) => new TextDecoder().decode(b);
      const body = (o: Deno.CommandOutput) => text(o.stdout).split("\n").slice(1).join("\n");
      const [byName, byPath] = await Promise.all([
        cli("inspect", "hf://aprender/tiny-onnx/model.onnx"),
        cli("inspect", local),
      ]);
      assert.equal(byName.code, 0, text(byName.stderr));
      assert.equal(byPath.code, 0, text(byPath.stderr));
      assert.match(body(byName), /all operators supported/);
      assert.equal(body(byName), body(byPath)); // the same file, found by name
      const out = join(dir, "out");
      await Deno.mkdir(out);
      const r = await cli(
        "run",
        "hf://aprender/tiny-onnx/model.onnx",
        "--input",
        `x=${xf}`,
        "--out",
        out,
      );
      assert.equal(r.code, 0, text(r.stderr));
      const [name] = [...Deno.readDirSync(out)].map((e) => e.name);
      const got = await loadNpy(join(out, name));
      const want = net.call(x);
      const [g, w] = [got.dataSync() as Float32Array, want.dataSync() as Float32Array];
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(g[i] - w[i]) <= 1e-6, `output ${i}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
