// Phases 1 and 2 of the experiment: global-RM scores of the relevant pairs, then each country's train/test
// sets with the filter's kept count and the edited test pairs.
import { validationGroups } from '../data/split.ts';
import { isEdited, isKept } from '../scpo.ts';
import { FailoverTrainer } from '../train/loop.ts';
import { optimizerConfig } from './config.ts';
import { scoreInto, unique } from './context.ts';
import type { RunContext } from './context.ts';
import type { CountrySets } from './types.ts';
import { dict } from '../dict.ts';

export interface GlobalScores {
  /** Chosen / rejected item of every pair of the data. */
  pc: Int32Array;
  pr: Int32Array;
  /** Global-RM score per item (NaN for items not scored). */
  gScores: Float32Array;
  /** Per pair (NaN outside the selected and majority countries). */
  rPlus: Float32Array;
  rMinus: Float32Array;
  /** Indices of the pairs of the selected and majority countries, in data order. */
  relevantPairs: number[];
}

/** Scores every item of the selected and majority countries with the global RM. */
export async function scoreGlobal<P>(ctx: RunContext<P>): Promise<GlobalScores> {
  const { inp, config } = ctx;
  const { encoded } = inp;
  const pairs = inp.data.pairs;
  const pc = Int32Array.from(pairs, (p) => p.chosen);
  const pr = Int32Array.from(pairs, (p) => p.rejected);
  const wanted = new Set([...config.countries, ...config.majority]);
  const relevantPairs: number[] = [];
  pairs.forEach((p, i) => {
    if (wanted.has(p.country)) relevantPairs.push(i);
  });
  const scoreIdx = unique(relevantPairs.flatMap((i) => [pc[i], pr[i]]));
  let gScores: Float32Array;
  if (inp.globalScorer) {
    const s = await inp.globalScorer(encoded, scoreIdx);
    gScores = new Float32Array(encoded.count).fill(Number.NaN);
    for (let i = 0; i < scoreIdx.length; i++) gScores[scoreIdx[i]] = s[i];
  } else {
    const globalTrainer = await FailoverTrainer.create(ctx.backend, inp.globalParams, optimizerConfig(config), ctx.failover('global scoring'));
    gScores = await scoreInto(globalTrainer, encoded, scoreIdx);
    globalTrainer.dispose();
  }
  const rPlus = new Float32Array(pairs.length).fill(Number.NaN);
  const rMinus = new Float32Array(pairs.length).fill(Number.NaN);
  for (const i of relevantPairs) {
    rPlus[i] = gScores[pc[i]];
    rMinus[i] = gScores[pr[i]];
  }
  return { pc, pr, gScores, rPlus, rMinus, relevantPairs };
}

/**
 * Per-country sets (selected, then majority countries): train/validation/test pairs, train pairs kept by the
 * filter, edited test pairs.
 */
export function buildSets<P>(ctx: RunContext<P>, g: GlobalScores): Record<string, CountrySets> {
  const { config } = ctx;
  const { data } = ctx.inp;
  const pairs = data.pairs;
  const val = validationGroups(pairs, data.split.rule, config.seed, config.valFraction);
  const sets: Record<string, CountrySets> = dict();
  for (const c of new Set([...config.countries, ...config.majority])) sets[c] = { train: [], val: [], test: [], kept: 0, edited: 0 };
  for (const i of g.relevantPairs) {
    const s = sets[pairs[i].country];
    if (pairs[i].split === 'train' && val.has(pairs[i].group)) {
      s.val.push(i);
    } else if (pairs[i].split === 'train') {
      s.train.push(i);
      if (isKept(g.rPlus[i], g.rMinus[i], config.tau)) s.kept++;
    } else {
      s.test.push(i);
      if (isEdited(g.rPlus[i], g.rMinus[i])) s.edited++;
    }
  }
  return sets;
}
