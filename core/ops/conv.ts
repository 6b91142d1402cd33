// PLACEHOLDER: the conv ops, written by a helper.
export {};
