// PLACEHOLDER: seeded counter-based random, written by a helper.
export {};
