/**
 * `deno task pull NAME…`: download models into the cache and print their local paths.
 *
 *     deno task pull owner/repo:Q4_K_M
 *     deno task pull hf://owner/repo/model-Q8_0.gguf
 *     deno task pull https://example.org/model.onnx
 *     deno task pull --offline owner/repo        # only check the cache
 *
 * @module
 */
import { parseArgs } from "node:util";
import { hubCacheDir } from "./config.ts";
import { HubError } from "./errors.ts";
import { progressBar } from "./progress.ts";
import { pull } from "./pull.ts";

const USAGE = `usage: pull [--offline] [--no-verify] [--quiet] NAME…
  NAME: owner/repo[:QUANT] | hf://owner/repo/path/file | https://host/file
  cache: ${"$"}APRENDER_CACHE or the platform cache folder; endpoint: ${"$"}HF_ENDPOINT`;

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      offline: { type: "boolean" },
      "no-verify": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  let status = 0;
  for (const name of positionals) {
    try {
      const r = await pull(name, {
        offline: values.offline,
        verify: !values["no-verify"],
        onProgress: values.quiet ? undefined : progressBar(),
      });
      if (!values.quiet) {
        console.error(
          `${name}: ${r.files.length} file(s), ${r.downloaded.length} downloaded, cache ${hubCacheDir()}`,
        );
      }
      console.log(r.path);
    } catch (e) {
      if (!(e instanceof HubError)) throw e;
      console.error(`pull ${name}: ${e.message}`);
      status = 1;
    }
  }
  return status;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
