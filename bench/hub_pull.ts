/**
 * Hub client throughput on loopback: a cold pull of one LFS file through the 302 → CDN redirect
 * (download + sha256 while writing + fsync + rename), a cached pull that re-hashes the file
 * (`pull`, verify on), and a cached `resolveModel` (size check only).
 *
 *     deno run -A bench/hub_pull.ts [MB]
 */
import { pull, resolveModel } from "../io/hub/mod.ts";
import { bytesOf, HubServer } from "../tests/io/hub_server.ts";

const mb = Number(Deno.args[0] ?? 256);
const server = HubServer.start();
server.addRepo("bench/big-GGUF", { "big-Q8_0.gguf": { bytes: bytesOf(mb * 1e6, 7), lfs: true } });
const cacheDir = await Deno.makeTempDir({ prefix: "aprender-hub-bench-" });
const opts = { cacheDir, endpoint: server.endpoint, offline: false };
const time = async (label: string, fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  const s = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(34)} ${s.toFixed(3)} s  ${(mb / s).toFixed(0)} MB/s`);
};
try {
  await time(`cold pull ${mb} MB`, () => pull("bench/big-GGUF:Q8_0", opts));
  await time("cached pull (sha256 re-verified)", () => pull("bench/big-GGUF:Q8_0", opts));
  await time("cached resolveModel (size check)", () => resolveModel("bench/big-GGUF:Q8_0", opts));
} finally {
  await server.close();
  await Deno.remove(cacheDir, { recursive: true });
}
