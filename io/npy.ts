// PLACEHOLDER: written by the npy helper.
export {};
