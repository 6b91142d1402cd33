/**
 * coalesceAxes: the coalesced walk must visit every operand's storage offsets in the same order
 * as the original walk (checked element by element with stridedOffsets), with no length-1 axis
 * left and as few axes as contiguity allows.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { coalesceAxes, contiguousStrides, sizeOf, stridedOffsets } from "../../core/shape.ts";

const arbWalk = fc.integer({ min: 0, max: 5 }).chain((rank) =>
  fc.record({
    shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: rank, maxLength: rank }),
    // Each operand: contiguous, broadcast on some axes (stride 0), or arbitrary strides.
    kinds: fc.array(
      fc.record({
        kind: fc.constantFrom("contiguous", "broadcast", "random"),
        zeros: fc.array(fc.boolean(), { minLength: rank, maxLength: rank }),
        random: fc.array(fc.integer({ min: -7, max: 7 }), { minLength: rank, maxLength: rank }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
  })
);

Deno.test("coalesceAxes walks the same offsets as the original strides", () => {
  fc.assert(
    fc.property(arbWalk, ({ shape, kinds }) => {
      const strides = kinds.map(({ kind, zeros, random }) => {
        const c = contiguousStrides(shape);
        if (kind === "contiguous") return c;
        if (kind === "broadcast") return c.map((s, i) => (zeros[i] ? 0 : s));
        return random;
      });
      const r = coalesceAxes(shape, strides);
      assert.equal(sizeOf(r.shape), sizeOf(shape));
      assert.ok(r.shape.length >= 1);
      if (r.shape.length > 1 || r.shape[0] !== 1) assert.ok(r.shape.every((d) => d > 1));
      strides.forEach((s, j) => {
        assert.equal(r.strides[j].length, r.shape.length);
        assert.deepEqual(
          Array.from(stridedOffsets(r.shape, r.strides[j], 5)),
          Array.from(stridedOffsets(shape, s, 5)),
          `operand ${j} of shape ${shape} strides ${s}`,
        );
      });
      // Contiguous operands alone merge into one axis.
      const c = coalesceAxes(shape, [contiguousStrides(shape)]);
      assert.deepEqual(c.shape, [sizeOf(shape)]);
    }),
    { numRuns: 500 },
  );
});

Deno.test("coalesceAxes keeps axes apart where one operand is not contiguous across them", () => {
  assert.deepEqual(coalesceAxes([2, 1, 3], [[3, 3, 1], [1, 0, 2]]), {
    shape: [2, 3],
    strides: [[3, 1], [1, 2]],
  });
  assert.deepEqual(coalesceAxes([], [[], []]), { shape: [1], strides: [[0], [0]] });
  assert.deepEqual(coalesceAxes([1, 1], [[5, 7]]), { shape: [1], strides: [[0]] });
  // A transposed operand stops the merge; a broadcast one (stride 0 throughout) does not.
  assert.deepEqual(coalesceAxes([2, 3], [[3, 1], [0, 0]]), { shape: [6], strides: [[1], [0]] });
  assert.deepEqual(coalesceAxes([2, 3], [[3, 1], [1, 2]]), {
    shape: [2, 3],
    strides: [[3, 1], [1, 2]],
  });
});
