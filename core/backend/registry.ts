/**
 * The backend registry: registers plugins, probes them, lists their status, and routes every
 * kernel call to the highest-priority available backend on the operands' device that implements
 * the op (and accepts the call), falling back per op.
 *
 * @module
 */
import {
  type Backend,
  type Capabilities,
  type DeviceProvider,
  type Kernel,
  type KernelCall,
  type KernelFn,
  planned,
  type Runner,
} from "./plugin.ts";
import { hostProvider } from "./host.ts";
import { DeviceError } from "../errors.ts";

/** Status of one registered plugin, as `backends()` lists it. */
export interface BackendStatus {
  /** Plugin name. */
  name: string;
  /** Device its kernels run on. */
  device: string;
  /** Routing priority: higher wins. */
  priority: number;
  /** "available", "absent" (probe said no, or threw), or "pending" (probe not finished). */
  status: "available" | "absent" | "pending";
  /** Why it is absent. */
  reason?: string;
  /** What the probe reported. */
  capabilities?: Capabilities;
  /** Number of kernels it provides. */
  kernels: number;
}

interface Entry {
  backend: Backend;
  /** Its kernels: the probe's, else the static ones (entries turned into kernels). */
  kernels: Record<string, KernelFn | Kernel>;
  priority: number;
  status: BackendStatus["status"];
  reason?: string;
  capabilities?: Capabilities;
  probing?: Promise<void>;
  order: number;
}

const entries = new Map<string, Entry>();
const providers = new Map<string, DeviceProvider>([["cpu", hostProvider]]);
let registrations = 0;
let routeCache = new Map<string, Map<string, Entry[]>>();

/** Options of {@link registerBackend}. */
export interface RegisterOptions {
  /** Higher priority backends are tried first. Scalar is 0; default 10. */
  priority?: number;
}

/**
 * Register a backend plugin. Its probe runs at once; until it finishes the plugin is "pending"
 * and not used. A probe that throws or reports `available: false` leaves the plugin absent with
 * the reason. Registering a name again replaces the plugin.
 *
 * @example
 * ```ts
 * import { registerBackend, backends } from "@aprender/compute";
 * registerBackend({
 *   name: "noop",
 *   device: "cpu",
 *   probe: () => ({ available: false, reason: "demo plugin" }),
 *   kernels: {},
 * });
 * console.log(backends().find((b) => b.name === "noop")?.reason); // "demo plugin"
 * ```
 */
export function registerBackend(backend: Backend, options: RegisterOptions = {}): void {
  const entry: Entry = {
    backend,
    kernels: planned(backend.kernels),
    priority: options.priority ?? 10,
    status: "pending",
    order: registrations++,
  };
  entries.set(backend.name, entry);
  routeCache = new Map();
  const settle = (caps: Capabilities) => {
    if (entries.get(backend.name) !== entry) return;
    entry.capabilities = caps;
    if (caps.kernels) entry.kernels = planned(caps.kernels);
    entry.status = caps.available ? "available" : "absent";
    entry.reason = caps.available ? undefined : (caps.reason ?? "probe reported unavailable");
    if (caps.available && backend.provider) providers.set(backend.provider.name, backend.provider);
    routeCache = new Map();
  };
  const fail = (e: unknown) => {
    if (entries.get(backend.name) !== entry) return;
    entry.status = "absent";
    entry.reason = `probe failed: ${e instanceof Error ? e.message : String(e)}`;
    routeCache = new Map();
  };
  try {
    const caps = backend.probe();
    if (caps instanceof Promise) entry.probing = caps.then(settle, fail);
    else settle(caps);
  } catch (e) {
    fail(e);
  }
}

/**
 * Remove a plugin by name; ops fall back to the remaining ones. Returns whether it was present.
 *
 * @example
 * ```ts
 * import { unregisterBackend } from "@aprender/compute";
 * console.log(unregisterBackend("no-such-plugin")); // false
 * ```
 */
export function unregisterBackend(name: string): boolean {
  const had = entries.delete(name);
  routeCache = new Map();
  return had;
}

function statusOf(e: Entry): BackendStatus {
  return {
    name: e.backend.name,
    device: e.backend.device,
    priority: e.priority,
    status: e.status,
    reason: e.reason,
    capabilities: e.capabilities,
    kernels: Object.keys(e.kernels).length,
  };
}

/**
 * Every registered plugin with its status, highest priority first.
 *
 * @example
 * ```ts
 * import { backends } from "@aprender/compute";
 * for (const b of backends()) console.log(b.name, b.status, b.reason ?? "");
 * ```
 */
export function backends(): BackendStatus[] {
  return [...entries.values()].sort(byPriority).map(statusOf);
}

/**
 * Wait for every pending probe, then list the plugins.
 *
 * @example
 * ```ts
 * import { ready } from "@aprender/compute";
 * const list = await ready();
 * console.log(list.map((b) => `${b.name}: ${b.status}`).join(", "));
 * ```
 */
export async function ready(): Promise<BackendStatus[]> {
  await Promise.all([...entries.values()].map((e) => e.probing));
  return backends();
}

function byPriority(a: Entry, b: Entry): number {
  return b.priority - a.priority || b.order - a.order;
}

/** The provider of a device, or a DeviceError naming the devices that exist. */
export function deviceProvider(device: string): DeviceProvider {
  const p = providers.get(device);
  if (!p) {
    throw new DeviceError(
      `No backend provides device "${device}". Devices present: ${
        [...providers.keys()].join(", ")
      }. ` +
        `Hint: check backends() for why a plugin is absent.`,
    );
  }
  return p;
}

/** Names of the devices that have a provider. */
export function devices(): string[] {
  return [...providers.keys()];
}

function candidates(op: string, device: string): Entry[] {
  let byOp = routeCache.get(device);
  if (!byOp) routeCache.set(device, byOp = new Map());
  let list = byOp.get(op);
  if (!list) {
    list = [...entries.values()]
      .filter((e) => e.status === "available" && e.backend.device === device && op in e.kernels)
      .sort(byPriority);
    byOp.set(op, list);
  }
  return list;
}

/**
 * Whether some available backend on `device` has a kernel named `op` (it may still decline a
 * particular call). Lets core code choose between a fused kernel and a composition of ops.
 *
 * @example
 * ```ts
 * import { hasKernel, ready } from "@aprender/compute";
 * await ready();
 * console.log(hasKernel("matmul", "cpu")); // true
 * ```
 */
export function hasKernel(op: string, device: string): boolean {
  return candidates(op, device).length > 0;
}

/** The kernel chosen for a call, and which backend it belongs to. */
export interface Route {
  /** Backend name. */
  backend: string;
  /**
   * The runner its plan returned: it also runs later calls with the same operand layouts (shapes,
   * strides, offsets, dtypes, device), so a caller may cache the route per call site.
   */
  run: Runner;
}

/**
 * Plan `call` on `device`: the first backend by priority that has the op and whose kernel plans
 * the call (a plain kernel takes every call; a planning kernel may decline with null).
 */
export function route(call: KernelCall, device: string): Route {
  for (const e of candidates(call.op, device)) {
    const k = e.kernels[call.op];
    if (typeof k === "function") return { backend: e.backend.name, run: k };
    const run = k.plan(call);
    if (run !== null) return { backend: e.backend.name, run };
  }
  const on = [...entries.values()]
    .filter((e) => e.status === "available" && e.backend.device === device)
    .map((e) => e.backend.name);
  throw new DeviceError(
    `${call.op}: no backend on device "${device}" implements it for these operands ` +
      `(dtypes ${call.inputs.map((t) => t.dtype).join(", ") || "none"}; backends on ${device}: ` +
      `${on.join(", ") || "none"}). Hint: move the tensors with .to("cpu"), where the scalar ` +
      `backend implements every op.`,
  );
}

/** One routed call, as recorded by {@link traceKernels}. */
export interface TraceRecord {
  /** Op name. */
  op: string;
  /** Backend that ran it. */
  backend: string;
}

let tracer: TraceRecord[] | null = null;

/** Record a routed call if tracing (called by the dispatcher). */
export function recordRoute(op: string, backend: string): void {
  tracer?.push({ op, backend });
}

/**
 * Run `fn` and return which backend ran each kernel call inside it, in order.
 *
 * @example
 * ```ts
 * import { ones, traceKernels } from "@aprender/compute";
 * const { trace } = traceKernels(() => ones([3]).add(1));
 * console.log(trace.at(-1)); // { op: "add", backend: "scalar" }
 * ```
 */
export function traceKernels<T>(fn: () => T): { result: T; trace: TraceRecord[] } {
  const saved = tracer;
  const trace: TraceRecord[] = [];
  tracer = trace;
  try {
    return { result: fn(), trace };
  } finally {
    tracer = saved;
    saved?.push(...trace);
  }
}
