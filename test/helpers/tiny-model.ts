// A small bag RM built from the data's own words with seeded random vectors: lets pipeline tests run without
// the wink-built bundled model (which `npm run build:models` makes).
import { Rng } from '../../src/pipeline/rng.ts';
import { initBagRM } from '../../src/pipeline/rm/bag.ts';
import { buildTokenizerConfig, buildTokenizerJson, loadTokenizer, SPECIAL_TOKENS } from '../../src/pipeline/rm/tokenizer.ts';
import type { LoadedBagRM } from '../../src/pipeline/rm/files.ts';
import type { PreferenceData } from '../../src/pipeline/types.ts';

export function tinyModel(data: PreferenceData, dim = 16, hidden = 8, seed = 1): LoadedBagRM {
  const words = new Set<string>();
  for (const it of data.items) {
    for (const w of `${it.prompt} ${it.response}`.toLowerCase().match(/[a-z]+|[^\sa-z]/g) ?? []) words.add(w);
  }
  const vocab = [...words].sort();
  const tokenizerJson = buildTokenizerJson(vocab);
  const tokenizerConfig = buildTokenizerConfig(256);
  const vocabSize = vocab.length + SPECIAL_TOKENS.length;
  const rng = new Rng(seed);
  const E = new Float32Array(vocabSize * dim);
  for (let i = dim * SPECIAL_TOKENS.length; i < E.length; i++) E[i] = rng.normal() * 0.3;
  const config = { vocabSize, dim, hidden, maxPromptTokens: 48, maxResponseTokens: 96 };
  const params = initBagRM(E, config, seed);
  return {
    params,
    tokenizer: loadTokenizer(tokenizerJson, tokenizerConfig),
    tokenizerJson,
    tokenizerConfig,
    configJson: { ...config, architectures: ['ScpoBagRewardModel'], model_type: 'scpo-bag', num_labels: 1 } as LoadedBagRM['configJson'],
  };
}
