/**
 * Token sampling with llama.cpp's chain: logit bias, penalties, top-k, typical, top-p, min-p,
 * temperature and a seeded draw; log-probabilities.
 *
 * @module
 */
export {
  logProbs,
  Sampler,
  SamplerError,
  type SampleResult,
  type SamplerOptions,
} from "./sampler.ts";
export {
  type Candidates,
  candidatesFrom,
  draw,
  minP,
  penalize,
  softmax,
  sortTop,
  temperature,
  topK,
  topP,
  typical,
} from "./steps.ts";
