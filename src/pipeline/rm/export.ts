// Export of a trained country RM in the bundled model's HF layout (bagRMFiles): same tokenizer files, the base
// config.json's extra fields (transformers.js_config, provenance) kept, plus which country and method made it.
import { bagRMFiles, buildConfigJson, type LoadedBagRM } from './files.ts';
import type { BagRMParams } from './types.ts';

export interface CountryRMMeta {
  country: string;
  method: string;
  /** Anything else worth recording in config.json (steps, seed, base model name...). */
  [extra: string]: unknown;
}

/** Path -> bytes of the country RM `params`, with `base`'s tokenizer (the vocabulary is unchanged by training). */
export function countryRMFiles(
  params: BagRMParams,
  base: Pick<LoadedBagRM, 'tokenizerJson' | 'tokenizerConfig' | 'configJson'>,
  meta: CountryRMMeta,
): Record<string, Uint8Array> {
  const own = new Set(Object.keys(buildConfigJson(params.config)));
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base.configJson)) if (!own.has(k) && k !== 'scpo') extra[k] = v;
  extra.scpo = { ...meta, exportedAt: new Date().toISOString() };
  return bagRMFiles(params, base.tokenizerJson, base.tokenizerConfig, extra);
}

/** A file-system-safe stem for downloads, e.g. "scpo-rm_new-zealand_scpo". */
export function modelStem(country: string, method: string): string {
  const slug = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').toLowerCase() || 'x';
  return `scpo-rm_${slug(country)}_${slug(method)}`;
}
