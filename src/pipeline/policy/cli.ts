// The headless policy runner: `npm run ppo -- --country <name> [options]`. Same session code as the policy
// worker (src/pipeline/policy/session.ts); bad input or flags end with one readable line and exit code 2.
import { numberFlag, parseFlags } from '../cli-args.ts';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { cpuBackend } from '../../gpu/cpu/trainer.ts';
import { BUNDLED_MODEL_DIR, runIfEntry } from '../cli.ts';
import { loadSynthetic } from '../data/index.ts';
import { loadDataPath } from '../data/node.ts';
import { loadBagRM } from '../rm/files.ts';
import { dirReader, writeModelDir } from '../rm/files.node.ts';
import type { BagRMParams } from '../rm/types.ts';
import { ConfigError, type DataFormat, type PreferenceData } from '../types.ts';
import { loadPolicy, policyFiles } from './onnx.ts';
import type { PpoConfig } from './ppo.ts';
import { DEFAULT_POLICY_SESSION, resolvePolicySession, runPolicySession, type PolicyEvent, type PolicyReport, type PolicySessionConfig } from './session.ts';
import type { PolicyTrainerFactory } from './backends.ts';
import { dict } from '../dict.ts';
import { hackingSignals } from './signals.ts';

const d = DEFAULT_POLICY_SESSION;
export const BUNDLED_POLICY_DIR = join(BUNDLED_MODEL_DIR, '../scpo-mlp-policy');
const USAGE = `usage: npm run ppo -- --country <name> [options]
  --data synthetic[:seed]|<folder|file>   dataset (default synthetic:0)   --format prism|goqa
  --countries a,b            more country RMs for best-of-N (the --country RM is always there)
  --rm <dir>                 the country RM as a model folder (HF layout bag RM) instead of training it
  --rm-steps N               country-RM training steps (scpo; default ${d.rm.steps})
  --policy auto|bundled|train|<dir>   the policy: the bundled one (public/models/scpo-mlp-policy), trained here on
                             the data's responses, or a policy folder (auto: bundled for synthetic data, else train)
  --policy-steps N           supervised steps when training the policy (default ${d.policy.steps})
  --policy-batch N --policy-hidden H --policy-lr X
  --steps N                  PPO steps (default ${d.ppo.steps})
  --batch N                  rollouts per PPO step (default ${d.ppo.batchPrompts})
  --epochs N --minibatches N --lr X --clip X --kl X --gamma X --lambda X
  --against country|global   optimise the country RM (default) or, as a control, the global RM
  --kl-target K              adaptive KL: steer the KL coefficient towards K nats per response (default: fixed --kl)
  --advantage gae|baseline   GAE with a value head (default) or reward-to-go minus the batch mean
  --max-tokens N             response length limit (default ${d.ppo.maxTokens})
  --n N --prompts P          best-of-N: samples per prompt (default ${d.bestOfN.n}) and prompts (default ${d.bestOfN.prompts})
  --temperature T --top-k K --top-p P   best-of-N sampling
  --eval-samples N           fixed-seed samples for the before/after evaluation (default ${d.evalSamples})
  --backend cpu|webgpu       policy training backend (webgpu: Node Dawn, falls back to cpu; default cpu)
  --seed S                   (default 0)
  --out <dir>                write policy_report.json and the policies (ONNX folders) there
  --quiet                    no progress lines
  --help                     this text`;


/** What PPO optimised, in words: the country RM, or with `--against global` the global RM (the control). */
export function ppoTarget(c: { against: 'country' | 'global'; country: string }): string {
  return c.against === 'global' ? 'the global RM' : `the ${c.country} RM`;
}

export interface PpoCliOptions {
  data: string;
  format?: DataFormat;
  rm?: string;
  policy: string;
  backend: 'cpu' | 'webgpu';
  out?: string;
  quiet: boolean;
  config: PolicySessionConfig;
}

export function parsePpoCli(argv: string[]): PpoCliOptions {
  const s = { type: 'string' } as const;
  const v = parseFlags(
    argv,
    {
      country: s, countries: s, data: s, format: s, rm: s, 'rm-steps': s, policy: s,
      'policy-steps': s, 'policy-batch': s, 'policy-hidden': s, 'policy-lr': s,
      steps: s, batch: s, epochs: s, minibatches: s, lr: s, clip: s, kl: s, gamma: s, lambda: s, advantage: s, 'kl-target': s, against: s,
      'max-tokens': s, n: s, prompts: s, temperature: s, 'top-k': s, 'top-p': s, 'eval-samples': s,
      backend: s, seed: s, out: s,
      quiet: { type: 'boolean', default: false },
    },
    USAGE,
  );
  if (!v.country) throw new ConfigError('--country is required; see --help');
  if (v.format !== undefined && v.format !== 'prism' && v.format !== 'goqa') throw new ConfigError(`--format must be prism or goqa, got "${v.format}"`);
  const backend = v.backend ?? 'cpu';
  if (backend !== 'cpu' && backend !== 'webgpu') throw new ConfigError(`--backend must be cpu or webgpu, got "${backend}"`);
  if (v.advantage !== undefined && v.advantage !== 'gae' && v.advantage !== 'baseline') throw new ConfigError(`--advantage must be gae or baseline, got "${v.advantage}"`);
  const ppo: Partial<PpoConfig> = {};
  const setP = <K extends keyof PpoConfig>(k: K, val: PpoConfig[K] | undefined) => {
    if (val !== undefined) ppo[k] = val;
  };
  setP('steps', numberFlag('steps', v.steps));
  setP('batchPrompts', numberFlag('batch', v.batch));
  setP('epochs', numberFlag('epochs', v.epochs));
  setP('minibatches', numberFlag('minibatches', v.minibatches));
  setP('lr', numberFlag('lr', v.lr));
  setP('clip', numberFlag('clip', v.clip));
  setP('klCoef', numberFlag('kl', v.kl));
  setP('gamma', numberFlag('gamma', v.gamma));
  setP('lambda', numberFlag('lambda', v.lambda));
  setP('klTarget', numberFlag('kl-target', v['kl-target']));
  setP('advantage', v.advantage as PpoConfig['advantage'] | undefined);
  setP('maxTokens', numberFlag('max-tokens', v['max-tokens']));
  const seed = numberFlag('seed', v.seed) ?? 0;
  const drop = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
  if (v.against !== undefined && v.against !== 'country' && v.against !== 'global') throw new ConfigError(`--against must be country or global, got "${v.against}"`);
  const config = resolvePolicySession({
    country: v.country,
    against: (v.against as 'country' | 'global' | undefined) ?? 'country',
    countries: v.countries ? v.countries.split(',').map((x) => x.trim()).filter(Boolean) : [],
    seed,
    rm: { steps: numberFlag('rm-steps', v['rm-steps']) ?? d.rm.steps },
    policy: {
      ...d.policy,
      ...drop({
        steps: numberFlag('policy-steps', v['policy-steps']),
        batch: numberFlag('policy-batch', v['policy-batch']),
        hidden: numberFlag('policy-hidden', v['policy-hidden']),
        lr: numberFlag('policy-lr', v['policy-lr']),
      }),
    },
    bestOfN: {
      n: numberFlag('n', v.n) ?? d.bestOfN.n,
      prompts: numberFlag('prompts', v.prompts) ?? d.bestOfN.prompts,
      sampling: {
        ...d.bestOfN.sampling,
        ...drop({ temperature: numberFlag('temperature', v.temperature), topK: numberFlag('top-k', v['top-k']), topP: numberFlag('top-p', v['top-p']) }),
        maxTokens: ppo.maxTokens ?? d.bestOfN.sampling.maxTokens,
        seed,
      },
    },
    ppo: { seed, ...ppo },
    evalSamples: numberFlag('eval-samples', v['eval-samples']) ?? d.evalSamples,
  });
  return { data: v.data ?? 'synthetic:0', format: v.format as DataFormat | undefined, rm: v.rm, policy: v.policy ?? 'auto', backend, out: v.out, quiet: v.quiet ?? false, config };
}

async function loadData(o: PpoCliOptions): Promise<PreferenceData> {
  const m = /^synthetic(?::(\d+))?$/.exec(o.data);
  if (m) return loadSynthetic(m[1] === undefined ? 0 : Number(m[1]), undefined, { seed: o.config.seed });
  return loadDataPath(o.data, o.format, { seed: o.config.seed });
}

const f = (x: number | null | undefined, digits = 3) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits));

/** The human summary printed to stdout. */
export function formatPolicyReport(r: PolicyReport): string {
  const lines: string[] = [];
  const p = r.ppo;
  const trained = r.policy.source === 'trained' ? `trained on ${r.policy.backend}, loss ${f(r.policy.lossFirst)} -> ${f(r.policy.lossLast)}, held-out NLL ${f(r.policy.heldOutNll)}` : 'loaded';
  lines.push(`policy: ${trained}; vocab ${r.policy.vocabIn} in / ${r.policy.vocabOut} out, ${r.policy.params} params; sampling ${r.sampling.cpuTokensPerSecond.toFixed(0)} tokens/s (cpu)`);
  const bon = r.bestOfN.before;
  if (bon) {
    lines.push(`best-of-${bon.n} on ${bon.prompts.length} prompts (before PPO): ` +
      Object.entries(bon.disagreement).map(([c, x]) => `${c} pick != global pick ${(100 * x).toFixed(0)}% (own +${f(bon.steering[c].ownGain)}, global ${f(bon.steering[c].globalCost)})`).join('; '));
  }
  if (r.bestOfN.after) {
    const a = r.bestOfN.after;
    lines.push(`best-of-${a.n} after PPO: ` + Object.entries(a.disagreement).map(([c, x]) => `${c} ${(100 * x).toFixed(0)}%`).join('; '));
  }
  lines.push(`PPO vs ${ppoTarget(p)} on ${p.backend}, ${p.metrics.length} steps (reward = ${p.country} RM):`);
  lines.push('  step  reward  global      kl  entropy  clip%  length  kl-coef');
  const every = Math.max(1, Math.ceil(p.metrics.length / 10));
  p.metrics.forEach((m, i) => {
    if (i % every === 0 || i === p.metrics.length - 1) {
      lines.push(`  ${String(m.step).padStart(4)}  ${f(m.reward).padStart(6)}  ${f(m.rewardGlobal).padStart(6)}  ${f(m.kl).padStart(6)}  ${f(m.entropy).padStart(7)}  ${(100 * m.clipFrac).toFixed(1).padStart(5)}  ${m.meanLength.toFixed(1).padStart(6)}  ${m.klCoef.toFixed(3).padStart(7)}`);
    }
  });
  lines.push(`eval (${p.evalAfter.samples} fixed-seed samples): ${p.country} RM ${f(p.evalBefore.reward)} -> ${f(p.evalAfter.reward)} (gain ${f(p.rewardGain)}), ` +
    `global RM ${f(p.evalBefore.rewardGlobal)} -> ${f(p.evalAfter.rewardGlobal)} (change ${f(p.globalChange)}), KL to reference ${f(p.finalKl)} nats/response`);
  // The gain is only worth what the reward-hacking checks say about it (signals.ts, the panel shows the same).
  const signals = hackingSignals(r);
  const tripped = signals.filter((x) => x.warn);
  lines.push(tripped.length ? `WARNING: ${tripped.length} sign${tripped.length === 1 ? '' : 's'} of reward hacking; read the samples before trusting the gain:` : 'reward-hacking checks: none tripped');
  for (const x of signals) {
    lines.push(`  ${x.warn ? '!' : ' '} ${x.label.padEnd(38)} ${x.before === null ? '' : `${f(x.before, 2)} -> `}${f(x.after, 2)}  ${x.reading}`);
  }
  if (p.planted) {
    const pl = p.planted;
    lines.push(`planted values of the eval samples (pole A - pole B words / 2 per response; ${p.country} vector [${pl.country.map((x) => x.toFixed(1)).join(', ')}]):`);
    pl.dimensions.forEach((d, i) => {
      lines.push(`  ${d.padEnd(26)} ${pl.before[i].toFixed(2).padStart(6)} -> ${pl.after[i].toFixed(2).padStart(6)}   (country - majority ${(pl.country[i] - pl.majority[i]).toFixed(1)})`);
    });
    lines.push(`  lean towards ${p.country} (profile . (country - majority)): ${f(pl.towardCountryBefore)} -> ${f(pl.towardCountryAfter)}`);
  }
  for (let i = 0; i < Math.min(2, p.samplesBefore.length); i++) {
    lines.push(`  prompt: ${p.samplesBefore[i].prompt}`);
    lines.push(`    before (${f(p.samplesBefore[i].reward)}): ${p.samplesBefore[i].text}`);
    lines.push(`    after  (${f(p.samplesAfter[i]?.reward)}): ${p.samplesAfter[i]?.text}`);
  }
  return lines.join('\n');
}

async function policyTrainerFactory(name: 'cpu' | 'webgpu', log: (s: string) => void): Promise<PolicyTrainerFactory | undefined> {
  if (name === 'cpu') return undefined;
  const { getNodeGpu } = await import('../../gpu/node-webgpu.node.ts');
  const { selectPolicyTrainerFactory } = await import('./backends.ts');
  const { gpu, notes } = await getNodeGpu();
  const sel = await selectPolicyTrainerFactory('webgpu', gpu, (reason) => log(`policy backend: ${reason}`));
  log(`policy backend: ${sel.reason}${notes.length ? ` [${notes.join('; ')}]` : ''}`);
  return sel.factory;
}

export async function main(argv: string[]): Promise<number> {
  const o = parsePpoCli(argv);
  const log = (s: string) => {
    if (!o.quiet) process.stderr.write(s + '\n');
  };
  const t0 = Date.now();
  const data = await loadData(o);
  log(`data: ${data.source} (${data.format}) ${data.items.length} texts, ${data.pairs.length} pairs`);
  let model;
  try {
    model = await loadBagRM(dirReader(BUNDLED_MODEL_DIR));
  } catch (e) {
    throw new ConfigError(`bundled RM at ${BUNDLED_MODEL_DIR}: ${(e as Error).message} (build it with \`npm run build:models\`)`);
  }
  const countryRMs: Record<string, BagRMParams> = dict();
  if (o.rm) {
    try {
      const given = await loadBagRM(dirReader(resolve(o.rm)));
      if (given.params.config.vocabSize !== model.params.config.vocabSize) throw new Error('its vocabulary differs from the bundled RM\'s');
      countryRMs[o.config.country] = given.params;
    } catch (e) {
      throw new ConfigError(`--rm ${o.rm}: ${(e as Error).message}`);
    }
  }
  const createTrainer = await policyTrainerFactory(o.backend, log);
  let policy: Awaited<ReturnType<typeof loadPolicy>> | undefined;
  const usePolicy = o.policy === 'auto' ? (/^synthetic/.test(o.data) && existsSync(join(BUNDLED_POLICY_DIR, 'config.json')) ? 'bundled' : 'train') : o.policy;
  if (usePolicy !== 'train') {
    const dir = usePolicy === 'bundled' ? BUNDLED_POLICY_DIR : resolve(usePolicy);
    try {
      policy = await loadPolicy(dirReader(dir));
    } catch (e) {
      throw new ConfigError(`policy at ${dir}: ${(e as Error).message}${usePolicy === 'bundled' ? ' (build it with `npm run build:models`)' : ''}`);
    }
    log(`policy: ${dir}`);
  }
  let lastPhase = '';
  let lastPpo = 0;
  const onEvent = (e: PolicyEvent) => {
    if (e.type === 'phase' && e.label !== lastPhase) {
      lastPhase = e.label;
      log(`[${e.phase}] ${e.label}`);
    } else if (e.type === 'policy-step' && (e.step % 100 === 0 || e.step === e.total)) {
      log(`  policy step ${e.step}/${e.total} loss ${e.loss.toFixed(3)}`);
    } else if (e.type === 'ppo-step' && (Date.now() - lastPpo > 2000 || e.metrics.step === e.total)) {
      lastPpo = Date.now();
      const m = e.metrics;
      log(`  ppo step ${m.step}/${e.total} reward ${f(m.reward)} global ${f(m.rewardGlobal)} kl ${f(m.kl)} entropy ${f(m.entropy)} clip ${(100 * m.clipFrac).toFixed(1)}%`);
    }
  };
  const out = await runPolicySession({ data, model, backend: cpuBackend, config: o.config, countryRMs, createTrainer, onEvent, policy });
  out.report.timings.wallMs = Date.now() - t0;
  process.stdout.write(formatPolicyReport(out.report) + '\n');
  if (o.out) {
    await mkdir(o.out, { recursive: true });
    await writeFile(join(o.out, 'policy_report.json'), JSON.stringify(out.report, null, 1) + '\n');
    await writeModelDir(join(o.out, 'policy-base'), policyFiles(out.basePolicy.params, out.basePolicy.vocab, { note: 'bundled policy before PPO' }));
    await writeModelDir(join(o.out, 'policy-ppo'), policyFiles(out.ppoParams, out.basePolicy.vocab, { note: `after PPO against ${ppoTarget(o.config)}` }));
    log(`wrote policy_report.json, policy-base/, policy-ppo/ to ${o.out}`);
  }
  log(`wall time ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

runIfEntry(import.meta.url, main);
