// Phase 3 of the experiment: one country RM per (country, method), trained from the global RM on the
// method's training set and evaluated live (test set, edited test pairs) and at the end (plus majority).
import { pairAccuracy } from '../eval.ts';
import { hashSeed } from '../rng.ts';
import { isEdited } from '../scpo.ts';
import { plannedSteps, train } from '../train/loop.ts';
import type { Method } from '../types.ts';
import { optimizerConfig } from './config.ts';
import { scoreInto, unique } from './context.ts';
import type { RunContext } from './context.ts';
import type { GlobalScores } from './scoring.ts';
import type { CountrySets, LivePoint, RunResult } from './types.ts';
import { dict, own as ownKey } from '../dict.ts';

interface EvalSets {
  testC: Int32Array;
  testR: Int32Array;
  valC: Int32Array;
  valR: Int32Array;
  edC: Int32Array;
  edR: Int32Array;
  testItems: Int32Array;
}

export class CountryRuns<P = unknown> {
  /** After training: each (country, method) RM's margins on all of that country's pairs (train then test). */
  readonly margins: Record<string, Partial<Record<Method, Float32Array>>> = dict();
  private readonly majC: Int32Array;
  private readonly majR: Int32Array;
  private readonly startMajority: number;

  constructor(
    private readonly ctx: RunContext<P>,
    private readonly g: GlobalScores,
    private readonly sets: Record<string, CountrySets>,
  ) {
    const majorityTest = ctx.config.majority.flatMap((c) => sets[c].test);
    this.majC = Int32Array.from(majorityTest, (i) => g.pc[i]);
    this.majR = Int32Array.from(majorityTest, (i) => g.pr[i]);
    this.startMajority = pairAccuracy(g.gScores, this.majC, this.majR);
  }

  private evalSets(c: string): EvalSets {
    const { pc, pr, rPlus, rMinus } = this.g;
    const test = this.sets[c].test;
    const val = this.sets[c].val;
    const edited = test.filter((i) => isEdited(rPlus[i], rMinus[i]));
    return {
      testC: Int32Array.from(test, (i) => pc[i]),
      testR: Int32Array.from(test, (i) => pr[i]),
      valC: Int32Array.from(val, (i) => pc[i]),
      valR: Int32Array.from(val, (i) => pr[i]),
      edC: Int32Array.from(edited, (i) => pc[i]),
      edR: Int32Array.from(edited, (i) => pr[i]),
      testItems: unique(test.flatMap((i) => [pc[i], pr[i]])),
    };
  }

  private startAcc(c: string): { full: number; edited: number; val: number } {
    const e = this.evalSets(c);
    const s = this.g.gScores;
    return { full: pairAccuracy(s, e.testC, e.testR), edited: pairAccuracy(s, e.edC, e.edR), val: pairAccuracy(s, e.valC, e.valR) };
  }

  /** The country's pairs in margin order: train, validation, test. */
  private own(c: string): number[] {
    const s = this.sets[c];
    return [...s.train, ...s.val, ...s.test];
  }

  /** The 'start' method: the global RM itself, evaluated on the country's sets. */
  start(c: string): RunResult {
    const { pc, pr, gScores } = this.g;
    const s0 = this.startAcc(c);
    this.margins[c] ??= {};
    this.margins[c].start = Float32Array.from(this.own(c), (i) => gScores[pc[i]] - gScores[pr[i]]);
    return {
      country: c,
      method: 'start',
      trainPairs: 0,
      steps: 0,
      accFull: s0.full,
      accEdited: s0.edited,
      accMajority: this.startMajority,
      accVal: s0.val,
      losses: [],
      points: [{ step: 0, loss: null, accFull: s0.full, accEdited: s0.edited }],
      ms: 0,
    };
  }

  /** A finished main run of (c, m) from `inputs.completed` that fits this config and data, else null. */
  reusable(c: string, m: Method, trainPairs: number): { run: RunResult; margins: Float32Array } | null {
    const { inp, config } = this.ctx;
    const run = inp.completed?.runs.find((r) => r.country === c && r.method === m);
    const mg = ownKey(inp.completed?.margins, c)?.[m];
    const own = this.own(c).length;
    if (!run || !(mg instanceof Float32Array) || mg.length !== own) return null;
    const steps = plannedSteps(trainPairs, config.batch, config.steps, config.epochs);
    if (run.trainPairs !== trainPairs || run.steps !== steps) return null;
    return { run, margins: mg };
  }

  /** Records a reused run's margins (see reusable). */
  adopt(c: string, m: Method, margins: Float32Array): void {
    this.margins[c] ??= {};
    this.margins[c][m] = margins;
  }

  /**
   * One country RM: train from the global RM on `pairIdx` with `weights`, evaluate live and at the end. `full`:
   * a main run (live points, margins, majority accuracy, onModel); else an efficiency subset run.
   */
  async train(c: string, method: Method, pairIdx: number[], weights: number[], seedTag: string, full: boolean): Promise<RunResult> {
    const { ctx, g } = this;
    const { inp, config, emit } = ctx;
    const { encoded, control } = inp;
    const { pc, pr } = g;
    const tr = Date.now();
    const e = this.evalSets(c);
    const steps = plannedSteps(pairIdx.length, config.batch, config.steps, config.epochs);
    const evalEvery = config.evalPoints > 0 && steps > 0 ? Math.max(1, Math.ceil(steps / config.evalPoints)) : 0;
    const s0 = this.startAcc(c);
    const points: LivePoint[] = [{ step: 0, loss: null, accFull: s0.full, accEdited: s0.edited }];
    if (full) emit({ type: 'point', country: c, method, point: points[0], totalSteps: steps });
    const { trainer, losses } = await train(
      ctx.backend,
      inp.globalParams,
      optimizerConfig(config),
      encoded,
      {
        chosen: Int32Array.from(pairIdx, (i) => pc[i]),
        rejected: Int32Array.from(pairIdx, (i) => pr[i]),
        weights: Float32Array.from(weights),
        steps,
        batch: config.batch,
        seed: hashSeed(config.seed, c, method, seedTag),
        evalEvery,
      },
      control,
      async (step, loss, t) => {
        // The last step's point comes from the final scoring below (it scores the test items anyway): with a
        // transformer RM every scoring pass is a forward over hundreds of texts, so none is done twice.
        if (!full || evalEvery === 0 || step === steps || step % evalEvery !== 0) return;
        const sc = await scoreInto(t, encoded, e.testItems);
        const point: LivePoint = {
          step,
          loss,
          accFull: pairAccuracy(sc, e.testC, e.testR),
          accEdited: pairAccuracy(sc, e.edC, e.edR),
        };
        points.push(point);
        emit({ type: 'point', country: c, method, point, totalSteps: steps });
      },
      ctx.failover(`${c} · ${method}${full ? '' : ` ${seedTag}`}`),
    );
    try {
      const own = this.own(c);
      const { majC, majR } = this;
      // Non-main runs need only the test pairs (the efficiency curve) and the validation pairs.
      const scored = full ? own : [...this.sets[c].val, ...this.sets[c].test];
      const items = unique([...scored.flatMap((i) => [pc[i], pr[i]]), ...(full ? majC : []), ...(full ? majR : [])]);
      const sc = await scoreInto(trainer, encoded, items);
      if (full && evalEvery > 0 && steps > 0) {
        const point: LivePoint = { step: steps, loss: losses[steps - 1], accFull: pairAccuracy(sc, e.testC, e.testR), accEdited: pairAccuracy(sc, e.edC, e.edR) };
        points.push(point);
        emit({ type: 'point', country: c, method, point, totalSteps: steps });
      }
      if (full) {
        this.margins[c] ??= {};
        this.margins[c][method] = Float32Array.from(own, (i) => sc[pc[i]] - sc[pr[i]]);
      }
      // params(), not checkpoint(): the model only (a checkpoint also copies the optimizer state, twice the table).
      if (full && inp.onModel) await inp.onModel(c, method, await trainer.params());
      return {
        country: c,
        method,
        trainPairs: pairIdx.length,
        steps,
        accFull: pairAccuracy(sc, e.testC, e.testR),
        accEdited: pairAccuracy(sc, e.edC, e.edR),
        accMajority: full ? pairAccuracy(sc, majC, majR) : Number.NaN,
        accVal: pairAccuracy(sc, e.valC, e.valR),
        losses,
        points,
        ms: Date.now() - tr,
      };
    } finally {
      trainer.dispose();
    }
  }
}
