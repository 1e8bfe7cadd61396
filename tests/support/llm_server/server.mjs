// A small OpenAI-compatible server over node-llama-cpp, for popalign's integration tests.
//
//   node server.mjs [PORT] [MODEL.gguf]
//   (or env POPALIGN_TEST_LLM_PORT / PORT and POPALIGN_TEST_LLM_MODEL)
//
// Serves on 127.0.0.1 only:
//   GET  /v1/models
//   POST /v1/chat/completions  (messages -> a plain "role: content" transcript; the tiny test
//                               model has no chat template), logprobs / top_logprobs
//   POST /v1/completions       (prompt; legacy "logprobs": k -> tokens, token_logprobs,
//                               top_logprobs)
//   POST /v1/embeddings        (input: string or array of strings)
// Requests run one at a time (one context sequence, 1 thread by default, POPALIGN_TEST_LLM_THREADS to change).
// Sampling is seeded: the same request with the same seed gives the same text. Without a seed
// the server uses seed 0, so answers are reproducible by default too. temperature 0 is greedy.
// Log-probabilities are those of the distribution each token was sampled from, over the whole
// vocabulary, after temperature (temperature 0 = greedy reports the model's own distribution,
// like temperature 1), so the top alternatives' probabilities sum to <= 1.
// json_schema (completions) / response_format.json_schema (chat) constrain the output with
// node-llama-cpp's JSON-schema grammar.
import http from "node:http";
import path from "node:path";
import {fileURLToPath} from "node:url";
import {getLlama, LlamaLogLevel, LlamaGrammarEvaluationState} from "node-llama-cpp";

const here = path.dirname(fileURLToPath(import.meta.url));
const port = Number(process.argv[2] ?? process.env.POPALIGN_TEST_LLM_PORT ?? process.env.PORT ?? 18457);
const modelPath = process.argv[3] ?? process.env.POPALIGN_TEST_LLM_MODEL ??
    path.resolve(here, "../../../data/models/stories260K.gguf");
const modelId = path.basename(modelPath).replace(/\.gguf$/, "");
// One thread by default: the model is tiny, and llama.cpp's worker threads spin-wait on each
// other, which collapses under a busy machine (parallel builds, other tests).
const threads = Number(process.env.POPALIGN_TEST_LLM_THREADS ?? 1);

const llama = await getLlama({
  gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads,
  progressLogs: false, skipDownload: true,
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const contextSize = Math.min(512, model.trainContextSize ?? 512);
const context = await model.createContext({contextSize, sequences: 1, threads, batchSize: contextSize});
const sequence = context.getSequence();
const embeddingContext = await model.createEmbeddingContext({contextSize, threads, batchSize: contextSize});

// One request at a time: a promise chain used as a mutex.
let queue = Promise.resolve();
function serialized(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

class HttpError extends Error {
  constructor(status, message, type = "invalid_request_error") {
    super(message);
    this.status = status;
    this.type = type;
  }
}

// Text of `token` following `previous` tokens (SentencePiece drops a leading space when a token
// is detokenized alone), so the tokens of a completion concatenate to its text.
function tokenText(token, previous) {
  return model.detokenize([token], false, previous);
}

function logSoftmaxTop(probabilities, k, previous) {
  // probabilities: Map<token, p> over the vocabulary at temperature 1.
  const entries = [...probabilities.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return entries.slice(0, k).map(([t, p]) => ({token: tokenText(t, previous), logprob: Math.log(p)}));
}

async function generate({prompt, maxTokens, temperature, topP, seed, stop, logprobs, topLogprobs, schema}) {
  await sequence.clearHistory();
  let input = model.tokenize(prompt, false);
  if (model.tokens.shouldPrependBosToken && model.tokens.bos != null) input = [model.tokens.bos, ...input];
  if (input.length === 0) throw new HttpError(400, "the prompt is empty");
  if (input.length + maxTokens > contextSize)
    throw new HttpError(400, `prompt (${input.length} tokens) + max_tokens (${maxTokens}) exceeds the context size ${contextSize}`);
  let grammarEvaluationState;
  if (schema != null) {
    let grammar;
    try {
      grammar = await llama.createGrammarForJsonSchema(schema);
    } catch (e) {
      throw new HttpError(400, `unsupported json_schema: ${e.message}`);
    }
    grammarEvaluationState = new LlamaGrammarEvaluationState({model, grammar});
  }
  const options = {
    temperature: temperature ?? 1, topP: topP ?? 1, seed: seed ?? 0, grammarEvaluationState,
  };
  const generated = [];
  const tokenLogprobs = [];
  let finishReason = "length";
  let text = "";
  const eos = model.tokens.eos;
  const iterator = sequence.evaluateWithMetadata(input, {probabilities: logprobs}, options);
  for await (const out of iterator) {
    const token = out.token;
    if (token === eos || model.isEogToken?.(token)) {
      finishReason = "stop";
      break;
    }
    if (logprobs) {
      const previous = generated.length > 0 ? generated.slice(-8) : input.slice(-8);
      const p = out.probabilities.get(token) ?? 0;
      tokenLogprobs.push({
        token: tokenText(token, previous), logprob: Math.log(p),
        top: logSoftmaxTop(out.probabilities, topLogprobs, previous),
      });
    }
    generated.push(token);
    text = model.detokenize(generated, false, input.slice(-8));
    const hit = stop.map((s) => [s, text.indexOf(s)]).filter(([, i]) => i >= 0).sort((a, b) => a[1] - b[1])[0];
    if (hit) {
      text = text.slice(0, hit[1]);
      finishReason = "stop";
      break;
    }
    if (generated.length >= maxTokens) break;
  }
  await iterator.return?.();
  return {text, finishReason, promptTokens: input.length, completionTokens: generated.length, tokenLogprobs};
}

function parseCommon(body) {
  const maxTokens = body.max_tokens ?? body.max_completion_tokens ?? 16;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new HttpError(400, "max_tokens must be a positive integer");
  const temperature = body.temperature;
  if (temperature != null && (typeof temperature !== "number" || temperature < 0 || temperature > 2))
    throw new HttpError(400, "temperature must be in [0, 2]");
  const topP = body.top_p;
  if (topP != null && (typeof topP !== "number" || topP <= 0 || topP > 1)) throw new HttpError(400, "top_p must be in (0, 1]");
  let seed = body.seed;
  if (seed != null && (typeof seed !== "number" || !Number.isFinite(seed))) throw new HttpError(400, "seed must be a number");
  if (seed != null) seed = Number(BigInt.asUintN(32, BigInt(Math.trunc(seed))));
  let stop = body.stop ?? [];
  if (typeof stop === "string") stop = [stop];
  if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string")) throw new HttpError(400, "stop must be a string or an array of strings");
  return {maxTokens, temperature, topP, seed, stop: stop.filter((s) => s.length > 0)};
}

function usage(r) {
  return {prompt_tokens: r.promptTokens, completion_tokens: r.completionTokens, total_tokens: r.promptTokens + r.completionTokens};
}

async function chatCompletions(body) {
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new HttpError(400, "messages must be a non-empty array");
  const lines = body.messages.map((m) => {
    if (typeof m?.role !== "string") throw new HttpError(400, "every message needs a string role");
    const content = typeof m.content === "string" ? m.content :
        Array.isArray(m.content) ? m.content.map((p) => p?.text ?? "").join("") : "";
    return `${m.role}: ${content}`;
  });
  const prompt = lines.join("\n") + "\nassistant:";
  const common = parseCommon(body);
  const topLogprobs = body.top_logprobs ?? 0;
  if (!Number.isInteger(topLogprobs) || topLogprobs < 0 || topLogprobs > 20) throw new HttpError(400, "top_logprobs must be in [0, 20]");
  const schema = body.response_format?.type === "json_schema" ? body.response_format.json_schema?.schema :
      body.response_format?.type === "json_object" ? {type: "object"} : undefined;
  const r = await serialized(() => generate({...common, prompt, logprobs: body.logprobs === true, topLogprobs, schema}));
  const choice = {index: 0, message: {role: "assistant", content: r.text}, finish_reason: r.finishReason, logprobs: null};
  if (body.logprobs === true) {
    choice.logprobs = {content: r.tokenLogprobs.map((t) => ({
      token: t.token, logprob: t.logprob, bytes: [...Buffer.from(t.token)],
      top_logprobs: t.top.map((a) => ({token: a.token, logprob: a.logprob, bytes: [...Buffer.from(a.token)]})),
    }))};
  }
  return {
    id: `chatcmpl-${Date.now()}`, object: "chat.completion", created: Math.floor(Date.now() / 1000),
    model: modelId, choices: [choice], usage: usage(r),
  };
}

async function completions(body) {
  let prompt = body.prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1) throw new HttpError(400, "this server accepts one prompt per request");
    prompt = prompt[0];
  }
  if (typeof prompt !== "string") throw new HttpError(400, "prompt must be a string");
  const common = parseCommon(body);
  const k = body.logprobs;
  if (k != null && (!Number.isInteger(k) || k < 0 || k > 20)) throw new HttpError(400, "logprobs must be an integer in [0, 20]");
  const r = await serialized(() => generate({...common, prompt, logprobs: k != null, topLogprobs: k ?? 0, schema: body.json_schema}));
  const choice = {index: 0, text: r.text, finish_reason: r.finishReason, logprobs: null};
  if (k != null) {
    let offset = prompt.length;
    const offsets = [];
    for (const t of r.tokenLogprobs) { offsets.push(offset); offset += t.token.length; }
    choice.logprobs = {
      tokens: r.tokenLogprobs.map((t) => t.token),
      token_logprobs: r.tokenLogprobs.map((t) => t.logprob),
      top_logprobs: r.tokenLogprobs.map((t) => Object.fromEntries(t.top.map((a) => [a.token, a.logprob]))),
      text_offset: offsets,
    };
  }
  return {
    id: `cmpl-${Date.now()}`, object: "text_completion", created: Math.floor(Date.now() / 1000),
    model: modelId, choices: [choice], usage: usage(r),
  };
}

async function embeddings(body) {
  const input = typeof body.input === "string" ? [body.input] : body.input;
  if (!Array.isArray(input) || input.length === 0 || input.some((s) => typeof s !== "string"))
    throw new HttpError(400, "input must be a string or a non-empty array of strings");
  const data = await serialized(async () => {
    const out = [];
    for (let i = 0; i < input.length; ++i) {
      // An empty text has no tokens; embed a single space instead of failing.
      const e = await embeddingContext.getEmbeddingFor(input[i].length > 0 ? input[i] : " ");
      out.push({object: "embedding", index: i, embedding: [...e.vector]});
    }
    return out;
  });
  const tokens = input.reduce((n, s) => n + model.tokenize(s, false).length, 0);
  return {object: "list", model: modelId, data, usage: {prompt_tokens: tokens, total_tokens: tokens}};
}

function send(res, status, obj) {
  const text = JSON.stringify(obj);
  res.writeHead(status, {"content-type": "application/json", "content-length": Buffer.byteLength(text)});
  res.end(text);
}

const server = http.createServer((req, res) => {
  let raw = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => { raw += chunk; });
  req.on("end", async () => {
    try {
      const url = new URL(req.url, "http://127.0.0.1");
      const route = url.pathname.replace(/\/+$/, "");
      if (req.method === "GET" && route === "/v1/models") {
        return send(res, 200, {object: "list", data: [{id: modelId, object: "model", created: 0, owned_by: "popalign-test"}]});
      }
      if (req.method === "GET" && route === "/health") return send(res, 200, {status: "ok"});
      const handlers = {"/v1/chat/completions": chatCompletions, "/v1/completions": completions, "/v1/embeddings": embeddings};
      const handler = handlers[route];
      if (!handler) throw new HttpError(404, `no route ${req.method} ${url.pathname}`, "not_found_error");
      if (req.method !== "POST") throw new HttpError(405, `${url.pathname} needs POST`);
      let body;
      try {
        body = JSON.parse(raw);
      } catch (e) {
        throw new HttpError(400, `request body is not valid JSON: ${e.message}`);
      }
      if (body === null || typeof body !== "object") throw new HttpError(400, "request body must be a JSON object");
      send(res, 200, await handler(body));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      send(res, status, {error: {message: e.message, type: e.type ?? "server_error", code: null}});
    }
  });
});

server.listen(port, "127.0.0.1", () => {
  process.stdout.write(`popalign test LLM server: ${modelId} on http://127.0.0.1:${port}/v1\n`);
});

async function shutdown() {
  server.close();
  try { await embeddingContext.dispose(); await context.dispose(); await model.dispose(); await llama.dispose(); } catch {}
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
