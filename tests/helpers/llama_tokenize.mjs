// Reference tokenization by llama.cpp (node-llama-cpp) for the tokenizer tests.
// Reads JSON {model, vocabSize, runs: [{texts, special, detok: number[][]}]} from the file named by
// argv[2]; writes JSON {runs: [{ids: number[][], detok: string[]}] (one per run), eog: number[]}:
// ids = llama_tokenize(text, add_special=false, parse_special=special),
// detok = llama_detokenize(ids, remove_special=false, unparse_special=special).
// Run with: node tests/helpers/llama_tokenize.mjs request.json
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.resolve(here, "../../.refs/node_modules/noop.js"));
const { getLlama } = await import(require.resolve("node-llama-cpp"));

const req = JSON.parse(readFileSync(process.argv[2], "utf8"));
const llama = await getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: "error" });
const model = await llama.loadModel({ modelPath: req.model, vocabOnly: true });
const out = req.runs.map((run) => ({
  ids: run.texts.map((t) => Array.from(model.tokenize(t, run.special))),
  detok: (run.detok ?? []).map((d) => model.detokenize(d, run.special)),
}));
// end-of-generation ids (llama_vocab_is_eog) over the whole vocabulary
const eog = [];
for (let id = 0; id < req.vocabSize; id++) if (model.isEogToken(id)) eog.push(id);
process.stdout.write(JSON.stringify({ runs: out, eog }));
await model.dispose();
await llama.dispose();
