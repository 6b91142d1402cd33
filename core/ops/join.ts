// PLACEHOLDER: the join ops, written by a helper.
export {};
