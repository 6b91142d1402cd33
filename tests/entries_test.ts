/**
 * Each published entry (deno.json "exports") works imported alone: a fresh `deno run` per entry
 * imports only that entry (and, for `./optim`, `./io` to make a tensor from bytes: the optimizer
 * entry has no tensor constructor of its own) and runs ops through it, checking the numbers.
 * Before the runtime module, `new Linear(3, 2)` from `./nn` alone failed with
 * `DeviceError: ... no backend on device "cpu" implements it ... (backends on cpu: none)`.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
const exportsMap: Record<string, string> = config.exports;

/** A float32 .npy file of shape [n] (format 1.0), built by hand so no other entry is needed. */
const NPY = `
function npy(values) {
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + values.length + ",), }";
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\\n";
  const out = new Uint8Array(10 + header.length + 4 * values.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  new Float32Array(out.buffer, 10 + header.length).set(values);
  return out;
}
const close = (a, b, what) => {
  if (a.length !== b.length || a.some((v, i) => !(Math.abs(v - b[i]) <= 1e-6 * (1 + Math.abs(b[i]))))) {
    throw new Error(what + ": got " + Array.from(a) + ", expected " + Array.from(b));
  }
};
`;

/** The program for each entry: `$E(name)` is replaced by the entry's file URL. */
const PROGRAMS: Record<string, string> = {
  ".": `
import { tensor } from "$E(.)";
const y = tensor([[1, 2], [3, 4]]).matmul(tensor([[1], [1]])).add(0.5);
close(y.dataSync(), [3.5, 7.5], "matmul + add");
console.log("ok");`,
  "./nn": `
import { Linear } from "$E(./nn)";
const lin = new Linear(3, 2);
const w = lin.weight.dataSync(), b = lin.bias.dataSync();
const y = lin.call(lin.weight.detach()).dataSync(); // W · Wᵀ + b, shape (2, 2)
const ref = [];
for (let i = 0; i < 2; i++) {
  for (let j = 0; j < 2; j++) {
    let s = b[j];
    for (let k = 0; k < 3; k++) s += w[i * 3 + k] * w[j * 3 + k];
    ref.push(s);
  }
}
close(y, ref, "Linear forward");
console.log("ok");`,
  "./optim": `
import { SGD } from "$E(./optim)";
import { decodeNpy } from "$E(./io)";
const p = decodeNpy(npy([1, -2, 3])).requireGrad();
p.mul(p).sum().backward(); // grad 2p
new SGD([p], { lr: 0.1 }).step();
close(p.dataSync(), [0.8, -1.6, 2.4], "SGD step");
console.log("ok");`,
  "./io": `
import { decodeNpy, encodeNpy } from "$E(./io)";
const t = decodeNpy(npy([1, 2, 3]));
const back = decodeNpy(encodeNpy(t.mul(2).exp().log()));
close(back.dataSync(), [2, 4, 6], "npy round trip of an op's result");
console.log("ok");`,
  "./llm": `
import { Sampler, Tokenizer } from "$E(./llm)";
const tok = new Tokenizer({
  "tokenizer.ggml.model": "llama",
  "tokenizer.ggml.tokens": ["<unk>", "<s>", "</s>", "▁", "h", "i", "▁h", "▁hi"],
  "tokenizer.ggml.scores": [0, 0, 0, -1, -2, -2, -3, -4],
  "tokenizer.ggml.token_type": [2, 3, 3, 1, 1, 1, 1, 1],
});
close(tok.encode("hi"), [1, 7], "SentencePiece encode");
const logits = new Float32Array(8);
logits[5] = 3;
close([new Sampler({ temperature: 0 }).sample(logits)], [5], "greedy sample");
console.log("ok");`,
  "./internal": `
import { emptyView, runKernel1, typedArrayFor } from "$E(./internal)";
const a = emptyView([3], "f32", "cpu");
const s = a.storage;
typedArrayFor("f32", s.buffer, s.byteOffset, 3).set([1, 2, 3]);
const y = runKernel1("add", [a, a], {}, { shape: [3], dtype: "f32" });
close(y.dataSync(), [2, 4, 6], "add kernel");
console.log("ok");`,
};

Deno.test("every published entry has a stand-alone program here", () => {
  assert.deepEqual(Object.keys(PROGRAMS).sort(), Object.keys(exportsMap).sort());
});

for (const [entry, program] of Object.entries(PROGRAMS)) {
  Deno.test(`entry "${entry}" works imported alone in a fresh process`, async () => {
    assert.ok(entry in exportsMap, `${entry} is not in deno.json exports`);
    const src = NPY + program.replace(/\$E\(([^)]+)\)/g, (_, e: string) => {
      assert.ok(e in exportsMap, e);
      return new URL(exportsMap[e], ROOT).href;
    });
    const dir = Deno.makeTempDirSync();
    try {
      const file = `${dir}/main.js`;
      Deno.writeTextFileSync(file, src);
      const out = await new Deno.Command(Deno.execPath(), {
        // The package's own import map (its npm dependencies), as a JSR install would resolve them.
        args: [
          "run",
          "--config",
          new URL("deno.json", ROOT).pathname,
          "--allow-read",
          "--allow-env",
          "--allow-ffi",
          file,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.ok(out.success && /^ok$/m.test(text), `entry "${entry}" failed:\n${text}`);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  });
}
