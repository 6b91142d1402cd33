import assert from "node:assert/strict";
import { DEFAULTS, parseArgs, UsageError } from "../../examples/fashion/args.ts";
import { Ema, fmtDuration, Progress, type ProgressSink } from "../../examples/fashion/progress.ts";
import { niceTicks, renderCurves } from "../../examples/fashion/svg.ts";
import { epochOrder } from "../../examples/fashion/data.ts";
import { PYTHON } from "../helpers/numpy.ts";

const FASHION = "/usr/share/datasets/fashion-mnist";
const HAS_FASHION = (() => {
  try {
    return Deno.statSync(`${FASHION}/train-images-idx3-ubyte.gz`).isFile;
  } catch {
    return false;
  }
})();
if (!HAS_FASHION && Deno.env.get("CI") === "true") {
  throw new Error(`CI=true but ${FASHION} is missing: apt-get install dataset-fashion-mnist.`);
}

/** A sink that collects what is written. */
function sink(terminal: boolean): ProgressSink & { text: () => string } {
  const parts: Uint8Array[] = [];
  return {
    writeSync(p: Uint8Array) {
      parts.push(p.slice());
      return p.length;
    },
    isTerminal: () => terminal,
    text: () => new TextDecoder().decode(new Uint8Array(parts.flatMap((p) => [...p]))),
  };
}

Deno.test("train:fashion command line", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseArgs([]), DEFAULTS);
  });
  await t.step("--flag value and --flag=value", () => {
    const a = parseArgs([
      "--epochs",
      "2",
      "--batch-size=32",
      "--lr",
      "0.01",
      "--max-steps",
      "300",
      "--resume",
      "--checkpoint",
      "/tmp/c.safetensors",
      "--svg=",
      "--seed",
      "7",
      "--progress",
      "lines",
    ]);
    assert.equal(a.epochs, 2);
    assert.equal(a.batchSize, 32);
    assert.equal(a.lr, 0.01);
    assert.equal(a.maxSteps, 300);
    assert.equal(a.resume, true);
    assert.equal(a.checkpoint, "/tmp/c.safetensors");
    assert.equal(a.svg, "");
    assert.equal(a.seed, 7);
    assert.equal(a.progress, "lines");
  });
  await t.step("bad input is a UsageError naming the option", () => {
    const bad: [string[], string][] = [
      [["--epoch", "2"], "unknown option"],
      [["--epochs"], "needs a value"],
      [["--epochs", "two"], "--epochs must be an integer"],
      [["--epochs", "1.5"], "--epochs must be an integer"],
      [["--epochs", "0"], "--epochs must be at least 1"],
      [["--lr", "-1"], "--lr must be a positive number"],
      [["--lr", ""], "--lr must be a positive number"],
      [["--resume=yes"], "takes no value"],
      [["--progress", "fancy"], "auto, bar, lines or none"],
      [["--resume", "--checkpoint", ""], "--resume needs a --checkpoint"],
    ];
    for (const [argv, part] of bad) {
      assert.throws(() => parseArgs(argv), (e: unknown) => {
        assert.ok(e instanceof UsageError, String(e));
        assert.ok(e.message.includes(part), `${argv.join(" ")}: ${e.message}`);
        return true;
      });
    }
  });
});

Deno.test("progress display", async (t) => {
  await t.step("on a terminal: one bar redrawn in place with \\r, throttled", () => {
    let now = 0;
    const s = sink(true);
    const p = new Progress({
      epochs: 3,
      stepsPerEpoch: 100,
      totalSteps: 300,
      batchSize: 64,
      sink: s,
      now: () => now,
      columns: 120,
    });
    assert.equal(p.mode, "bar");
    p.startEpoch(1);
    const drawn: (string | null)[] = [];
    for (let i = 1; i <= 100; i++) {
      now += 50; // 50 ms per step: 1280 samples/s
      drawn.push(p.step(i, 1 / i));
    }
    p.endEpoch();
    // Redraws at most every 100 ms, and always at the epoch's last step.
    assert.equal(drawn.filter((d) => d !== null).length, 51);
    const last = drawn[99]!;
    assert.match(
      last,
      /^epoch 1\/3 step 100\/100 \[█+\] loss 0\.0100 {2}1280 samples\/s {2}ETA 0:10$/,
    );
    const out = s.text();
    assert.ok(out.startsWith("\repoch 1/3 step   1/100 ["), JSON.stringify(out.slice(0, 40)));
    assert.equal(out.split("\n").length, 2, "one line per epoch");
    assert.ok(out.includes("\x1b[K"));
  });
  await t.step("not a terminal: plain lines, no \\r", () => {
    let now = 0;
    const s = sink(false);
    const p = new Progress({
      epochs: 1,
      stepsPerEpoch: 50,
      totalSteps: 50,
      batchSize: 10,
      sink: s,
      now: () => now,
      lineMs: 1000,
    });
    assert.equal(p.mode, "lines");
    p.startEpoch(1);
    for (let i = 1; i <= 50; i++) {
      now += 100;
      p.step(i, 0.5);
    }
    p.log("epoch 1/1: test accuracy 90.00%");
    const lines = s.text().trimEnd().split("\n");
    assert.ok(!s.text().includes("\r"));
    assert.equal(lines.length, 6); // every second, the last step, and the log line
    assert.equal(lines[4], "epoch 1/1 step 50/50  loss 0.5000  100 samples/s  ETA 0:00");
  });
  await t.step("resumed epoch: the rate counts only the steps run now", () => {
    let now = 0;
    const s = sink(false);
    const p = new Progress({
      epochs: 2,
      stepsPerEpoch: 10,
      totalSteps: 20,
      batchSize: 8,
      sink: s,
      now: () => now,
    });
    p.startEpoch(2, 6);
    now += 1000;
    assert.equal(p.step(17, 0.25), null);
    now += 1000;
    p.step(18, 0.25);
    assert.equal(p.samplesPerSecond, 8);
    now += 1000;
    p.step(19, 0.25);
    now += 1000;
    assert.equal(p.step(20, 0.25), "epoch 2/2 step 10/10  loss 0.2500  8.0 samples/s  ETA 0:00");
  });
  await t.step("mode none writes nothing", () => {
    const s = sink(true);
    const p = new Progress({
      epochs: 1,
      stepsPerEpoch: 5,
      totalSteps: 5,
      batchSize: 1,
      sink: s,
      mode: "none",
    });
    p.startEpoch(1);
    for (let i = 1; i <= 5; i++) p.step(i, 1);
    p.log("x");
    assert.equal(s.text(), "");
  });
  await t.step("EMA is bias-corrected; durations format as m:ss / h:mm:ss", () => {
    const e = new Ema(0.9);
    assert.ok(Number.isNaN(e.value));
    assert.equal(e.push(2), 2);
    assert.ok(Math.abs(e.push(4) - (0.9 * 0.2 + 0.4) / (1 - 0.81)) < 1e-12);
    const f = new Ema(0.9);
    f.load(e.state());
    assert.equal(f.value, e.value);
    assert.equal(fmtDuration(59.4), "0:59");
    assert.equal(fmtDuration(61), "1:01");
    assert.equal(fmtDuration(3725), "1:02:05");
    assert.equal(fmtDuration(NaN), "--:--");
  });
});

Deno.test("SVG curves: nice ticks, two series, axes with labels", async (t) => {
  await t.step("niceTicks", () => {
    assert.deepEqual(niceTicks(0, 2.3, 5), [0, 0.5, 1, 1.5, 2]);
    assert.deepEqual(niceTicks(0, 2811, 8), [0, 500, 1000, 1500, 2000, 2500]);
    assert.deepEqual(niceTicks(80, 100, 5), [80, 85, 90, 95, 100]);
    assert.deepEqual(niceTicks(0, 0, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
  await t.step({
    name: "well-formed XML with the expected elements (parsed by Python)",
    ignore: PYTHON === null,
    fn: async () => {
      const losses = Array.from({ length: 3000 }, (_, i) => 2.3 * Math.exp(-i / 400) + 0.2);
      losses[10] = NaN; // a non-finite loss is skipped, not drawn
      const svg = renderCurves({
        losses,
        accuracy: [
          { step: 1000, epoch: 1, accuracy: 0.85 },
          { step: 2000, epoch: 2, accuracy: 0.895 },
          { step: 3000, epoch: 3, accuracy: 0.9123 },
        ],
        title: "a <test> & more",
      });
      const out = await new Deno.Command(PYTHON!, {
        args: [
          "-c",
          `
import sys, json, xml.etree.ElementTree as ET
root = ET.fromstring(sys.stdin.read())
ns = "{http://www.w3.org/2000/svg}"
assert root.tag == ns + "svg", root.tag
polys = {p.get("class"): len(p.get("points").split()) for p in root.iter(ns + "polyline")}
texts = [t.text for t in root.iter(ns + "text")]
groups = {g.get("class"): [t.text for t in g.iter(ns + "text")] for g in root.iter(ns + "g") if g.get("class")}
print(json.dumps({"polys": polys, "texts": texts, "groups": groups, "circles": len(list(root.iter(ns + "circle")))}))
`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = out.stdin.getWriter();
      await w.write(new TextEncoder().encode(svg));
      await w.close();
      const r = await out.output();
      assert.ok(r.success, new TextDecoder().decode(r.stderr));
      const info = JSON.parse(new TextDecoder().decode(r.stdout));
      assert.deepEqual(Object.keys(info.polys).sort(), ["accuracy", "loss", "loss-ema"]);
      assert.ok(info.polys.loss <= 2000 && info.polys.loss >= 1000, String(info.polys.loss));
      assert.equal(info.polys.accuracy, 3);
      assert.equal(info.circles, 3);
      assert.deepEqual(info.groups["x-ticks"], [
        "0",
        "500",
        "1000",
        "1500",
        "2000",
        "2500",
        "3000",
      ]);
      assert.deepEqual(info.groups["loss-ticks"], ["0", "0.5", "1", "1.5", "2", "2.5"]);
      assert.deepEqual(info.groups["accuracy-ticks"], ["80", "85", "90", "95", "100"]);
      for (const label of ["step", "train loss", "test accuracy (%)", "a <test> & more", "91.2%"]) {
        assert.ok(info.texts.includes(label), label);
      }
    },
  });
  await t.step("the loss axis covers the largest loss", () => {
    const svg = renderCurves({ losses: [2.3, 1.2, 0.4], accuracy: [] });
    const ticks = svg.match(/<g class="loss-ticks"[^]*?<\/g>/)![0];
    assert.deepEqual([...ticks.matchAll(/>([\d.]+)<\/text>/g)].map((m) => m[1]), [
      "0",
      "0.5",
      "1",
      "1.5",
      "2",
      "2.5",
    ]);
  });
  await t.step("empty history still renders", () => {
    const svg = renderCurves({ losses: [], accuracy: [] });
    assert.ok(svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>"));
  });
});

Deno.test("epoch shuffles are seeded permutations, different per epoch", () => {
  const a = epochOrder(1000, 0, 0);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(epochOrder(1000, 0, 0), a);
  assert.notDeepEqual(epochOrder(1000, 0, 1), a);
  assert.notDeepEqual(epochOrder(1000, 1, 0), a);
  assert.ok(a.slice(0, 20).some((v, i) => v !== i));
  assert.deepEqual([...epochOrder(1, 0, 0)], [0]);
  assert.deepEqual([...epochOrder(0, 0, 0)], []);
});

/** Run `deno task train:fashion ...args` (the task of deno.json); returns status and output. */
async function runTask(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "train:fashion", ...args],
    cwd: new URL("../..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

interface Summary {
  steps: number;
  stepsThisRun: number;
  epochsDone: number;
  losses: number[];
  accuracy: { step: number; epoch: number; accuracy: number }[];
  resumed: boolean;
  liveTensors: [number, number];
  samplesPerSecond: number;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

Deno.test("train:fashion --help and bad options", async () => {
  const help = await runTask(["--help"]);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--max-steps N/);
  const bad = await runTask(["--epochs", "zero"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--epochs must be an integer/);
});

Deno.test({
  name: "train:fashion: a short run lowers the loss, and --resume continues it exactly",
  ignore: !HAS_FASHION,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      // 1600 images, batch 16: 100 steps per epoch, 2 epochs (200 steps) in the schedule.
      const common = [
        "--train-limit",
        "1600",
        "--test-limit",
        "500",
        "--batch-size",
        "16",
        "--epochs",
        "2",
        "--progress",
        "lines",
      ];
      const ck = `${dir}/run.safetensors`;
      const read = async (p: string) => JSON.parse(await Deno.readTextFile(p)) as Summary;
      const run = async (name: string, extra: string[]) => {
        const r = await runTask([...common, "--json", `${dir}/${name}.json`, ...extra]);
        assert.equal(r.code, 0, r.stderr);
        return { ...r, summary: await read(`${dir}/${name}.json`) };
      };

      // A: epoch 1 (evaluated, checkpointed), then stop at step 120, mid-epoch 2.
      const a = await run("a", ["--max-steps", "120", "--checkpoint", ck, "--svg", ""]);
      const sa = a.summary;
      assert.equal(sa.steps, 120);
      assert.equal(sa.epochsDone, 1);
      assert.equal(sa.accuracy[0].step, 100);
      assert.ok(sa.accuracy[0].accuracy > 0.6, `accuracy ${sa.accuracy[0].accuracy}`);
      assert.match(
        a.stderr,
        /epoch 1\/2 step 100\/100 {2}loss \d\.\d{4} {2}[\d.]+ samples\/s {2}ETA/,
      );
      assert.match(a.stderr, /epoch 1\/2: test accuracy \d+\.\d\d%/);
      assert.match(a.stderr, /epoch 2\/2 step {2}20\/100 /);
      assert.match(a.stderr, /stopped at step 120 \(--max-steps\)/);
      assert.ok(!a.stderr.includes("\r"), "plain lines when not a terminal");
      assert.equal(sa.liveTensors[0], sa.liveTensors[1], "steady memory across steps");

      // B: resume from step 120 and finish the schedule (step 200, second evaluation).
      const b = await run("b", ["--resume", "--checkpoint", ck, "--svg", `${dir}/curves.svg`]);
      assert.match(b.stderr, /resumed from .*: step 120\/200, 1 epoch\(s\) done/);
      const sb = b.summary;
      assert.equal(sb.resumed, true);
      assert.equal(sb.steps, 200);
      assert.equal(sb.stepsThisRun, 80);
      assert.deepEqual(sb.accuracy.map((p) => [p.epoch, p.step]), [[1, 100], [2, 200]]);
      assert.deepEqual(sb.accuracy[0], sa.accuracy[0]);
      assert.deepEqual(sb.losses.slice(0, 120), sa.losses, "the history is carried over");
      assert.equal(sb.losses.length, 200);

      // C: the same run uninterrupted past the resume point has the same losses, so the resume
      // restored model, optimizer, scheduler and the data order exactly.
      const c = await run("c", [
        "--max-steps",
        "130",
        "--checkpoint",
        `${dir}/c.safetensors`,
        "--svg",
        "",
      ]);
      for (let i = 0; i < 130; i++) {
        const [x, y] = [sb.losses[i], c.summary.losses[i]];
        assert.ok(
          Math.abs(x - y) <= 1e-5 * Math.max(1, Math.abs(y)),
          `step ${i + 1}: resumed ${x} vs uninterrupted ${y}`,
        );
      }

      // The loss went down: the last 20 steps average well below the first 20.
      const first = mean(sb.losses.slice(0, 20)), last = mean(sb.losses.slice(180, 200));
      assert.ok(last < 0.5 * first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
      assert.ok(sb.accuracy[1].accuracy > 0.7, `accuracy ${sb.accuracy[1].accuracy}`);
      const svg = await Deno.readTextFile(`${dir}/curves.svg`);
      assert.match(svg, /<polyline class="loss-ema"/);
      assert.equal(svg.match(/<circle /g)?.length, 2);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
