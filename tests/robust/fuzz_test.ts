/**
 * Issue 19 acceptance, the CI share of `deno task fuzz`: a fixed-seed sample of mutated npy,
 * npz, IDX and checkpoint files (3300 cases, bombs of each compression kind in the corpus) gives
 * only loaded files or typed errors: no untyped error, no accepted garbage, no case over 5 s,
 * peak RSS growing by under 1 GiB. `deno task fuzz` runs 10,000 of each.
 */
import assert from "node:assert/strict";
import { fuzzLoader, loaderSeeds } from "../fuzz/loader_cases.ts";

const seeds = await loaderSeeds();

for (
  const [format, cases] of [["npy", 2000], ["idx", 500], ["npz", 300], ["checkpoint", 500]] as const
) {
  Deno.test(`fuzz ${format}: ${cases} fixed-seed cases, only typed errors`, async () => {
    const s = await fuzzLoader(format, seeds[format], cases, 19);
    assert.equal(s.defects, 0, s.first.join("\n"));
    assert.equal(s.slow, 0);
    // growth, not the process's RSS: `deno test` runs every file in one process
    const grew = s.peakRss - s.baseRss;
    assert.ok(grew < 2 ** 30, `peak RSS ${s.peakRss} grew ${grew} over ${s.baseRss}`);
    assert.ok(s.ok > 0 && s.typed > 0, `both outcomes occur: ${s.ok} ok, ${s.typed} typed`);
  });
}
