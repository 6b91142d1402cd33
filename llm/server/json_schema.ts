/**
 * JSON Schema → the node tree {@link JsonGrammar} steps through: the supported keywords checked
 * and compiled, everything else refused with {@link SchemaError}.
 *
 * @module
 */
import { ComputeError } from "../../core/errors.ts";

/**
 * A schema the grammar cannot enforce (unsupported keyword or malformed value).
 *
 * @example
 * ```ts
 * import { JsonGrammar, SchemaError } from "./json_grammar.ts";
 * try {
 *   JsonGrammar.fromSchema({ type: "string", pattern: "^a" });
 * } catch (e) {
 *   console.log(e instanceof SchemaError); // true
 * }
 * ```
 */
export class SchemaError extends ComputeError {}

/** A compiled schema node (`lit`: one of several exact JSON texts; `ref`: resolved lazily). */
export type Node =
  | { k: "any" }
  | ObjNode
  | { k: "array"; items: Node; min: number; max: number }
  | { k: "string"; min: number; max: number }
  | { k: "number"; integer: boolean; nonNegative: boolean }
  | { k: "lit"; texts: Uint8Array[] }
  | { k: "alt"; nodes: Node[] }
  | { k: "ref"; get: () => Node };

/** An object node: properties in declared order; `extra` types undeclared keys (null: none). */
export interface ObjNode {
  k: "object";
  props: [string, Node][];
  /** The properties' names as JSON strings (bytes, quotes included). */
  keys: Uint8Array[];
  required: Set<string>;
  extra: Node | null;
}

const enc = new TextEncoder();
/** Any JSON value. */
export const ANY: Node = { k: "any" };
const KNOWN = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "minItems",
  "maxItems",
  "enum",
  "const",
  "anyOf",
  "oneOf",
  "minLength",
  "maxLength",
  "minimum",
  "$ref",
  "$defs",
  "definitions",
  "title",
  "description",
  "default",
  "examples",
  "$schema",
  "$id",
  "strict",
]);

function fail(path: string, msg: string): never {
  throw new SchemaError(
    `response_format json_schema: ${msg} at ${path}. Hint: the server enforces type, ` +
      `properties, required, items, enum, const, anyOf, minLength/maxLength, minItems/maxItems ` +
      `and local $ref; remove other keywords.`,
  );
}

function count(v: unknown, path: string, key: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    fail(path, `${key} must be an integer ≥ 0, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Compile schema `s` (refs resolve against `root`) at JSON pointer `path`.
 *
 * @throws SchemaError for an unsupported keyword or a malformed value
 */
export function compile(
  s: unknown,
  root: Record<string, unknown>,
  path: string,
  depth: number,
): Node {
  if (depth > 64) fail(path, "the schema nests deeper than 64 levels");
  if (s === true || (typeof s === "object" && s !== null && Object.keys(s).length === 0)) {
    return ANY;
  }
  if (typeof s !== "object" || s === null || Array.isArray(s)) {
    fail(path, `a schema must be an object or true, got ${JSON.stringify(s)}`);
  }
  const o = s as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) fail(path, `unsupported keyword '${k}'`);
  if (o.$ref !== undefined) {
    const ref = o.$ref;
    const m = typeof ref === "string" ? /^#\/(\$defs|definitions)\/([^/]+)$/.exec(ref) : null;
    if (!m) fail(path, `only local refs '#/$defs/NAME' are supported, got ${JSON.stringify(ref)}`);
    const defs = root[m[1]] as Record<string, unknown> | undefined;
    if (!defs || typeof defs !== "object" || !(m[2] in defs)) fail(path, `unresolved ${ref}`);
    let node: Node | null = null;
    return { k: "ref", get: () => (node ??= compile(defs[m[2]], root, `${ref}`, depth + 1)) };
  }
  if (o.const !== undefined) return { k: "lit", texts: [enc.encode(JSON.stringify(o.const))] };
  if (o.enum !== undefined) {
    if (!Array.isArray(o.enum) || o.enum.length === 0) fail(path, "enum must be a non-empty array");
    return { k: "lit", texts: o.enum.map((v) => enc.encode(JSON.stringify(v))) };
  }
  const alts = o.anyOf ?? o.oneOf;
  if (alts !== undefined) {
    if (!Array.isArray(alts) || alts.length === 0) fail(path, "anyOf must be a non-empty array");
    const nodes = alts.map((a, i) => compile(a, root, `${path}/anyOf/${i}`, depth + 1));
    if (o.oneOf !== undefined) {
      const kinds = nodes.map((n) => n.k);
      if (new Set(kinds).size !== kinds.length || kinds.includes("any")) {
        fail(path, "oneOf is supported only between alternatives of different types");
      }
    }
    return { k: "alt", nodes };
  }
  const type = o.type;
  if (Array.isArray(type)) {
    return {
      k: "alt",
      nodes: type.map((t, i) => compile({ ...o, type: t }, root, `${path}/type/${i}`, depth + 1)),
    };
  }
  if (o.minimum !== undefined && !(o.minimum === 0 && (type === "integer" || type === "number"))) {
    fail(path, "only 'minimum: 0' on a number or integer is supported");
  }
  switch (type) {
    case undefined:
      return ANY;
    case "object": {
      const props: [string, Node][] = [];
      const p = o.properties ?? {};
      if (typeof p !== "object" || p === null) fail(path, "properties must be an object");
      for (const [k, v] of Object.entries(p)) {
        props.push([k, compile(v, root, `${path}/properties/${k}`, depth + 1)]);
      }
      const req = o.required ?? [];
      if (!Array.isArray(req) || req.some((r) => typeof r !== "string")) {
        fail(path, "required must be an array of strings");
      }
      for (const r of req) if (!(r in p)) fail(path, `required '${r}' is not in properties`);
      const ap = o.additionalProperties;
      const extra = props.length > 0 || ap === false
        ? null
        : ap === undefined || ap === true
        ? ANY
        : compile(ap, root, `${path}/additionalProperties`, depth + 1);
      const keys = props.map(([k]) => enc.encode(JSON.stringify(k)));
      return { k: "object", props, keys, required: new Set(req as string[]), extra };
    }
    case "array": {
      const min = count(o.minItems, path, "minItems", 0);
      const max = count(o.maxItems, path, "maxItems", Infinity);
      if (min > max) fail(path, `minItems ${min} > maxItems ${max}`);
      const items = o.items === undefined
        ? ANY
        : compile(o.items, root, `${path}/items`, depth + 1);
      return { k: "array", items, min, max };
    }
    case "string": {
      const min = count(o.minLength, path, "minLength", 0);
      const max = count(o.maxLength, path, "maxLength", Infinity);
      if (min > max) fail(path, `minLength ${min} > maxLength ${max}`);
      return { k: "string", min, max };
    }
    case "number":
    case "integer":
      return { k: "number", integer: type === "integer", nonNegative: o.minimum === 0 };
    case "boolean":
      return { k: "lit", texts: [enc.encode("true"), enc.encode("false")] };
    case "null":
      return { k: "lit", texts: [enc.encode("null")] };
    default:
      fail(path, `unknown type ${JSON.stringify(type)}`);
  }
}
