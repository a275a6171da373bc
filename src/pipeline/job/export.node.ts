// `npm run scpo -- ... --export-job DIR`: the experiment up to global scoring (tokenize, optionally retrain the
// global RM as the session does, score on the CPU) written out as a PyTorch job folder. No country RM is trained.
import type { Backend } from '../../gpu/backend.ts';
import { trainGlobalRM } from '../global.ts';
import type { ExperimentConfig } from '../experiment.ts';
import { APP_VERSION, summarizeData } from '../report.ts';
import { initBagRM } from '../rm/bag.ts';
import type { LoadedBagRM } from '../rm/files.ts';
import { encodeItems } from '../rm/tokenizer.ts';
import type { PreferenceData } from '../types.ts';
import { buildJob } from './build.ts';
import { writeJob } from './node.ts';
import { loadJobTemplate } from './template.node.ts';

export interface JobExportOptions {
  data: PreferenceData;
  model: LoadedBagRM;
  config: ExperimentConfig;
  /** 'as-loaded': the model is the global RM; 'train': a fresh MLP trained on the pooled training pairs (session.ts). */
  globalRm: 'as-loaded' | 'train';
  /** How run.json names the global RM (bundled, train, or the model folder). */
  globalRmName: string;
  backend: Backend;
  log: (line: string) => void;
}

export async function exportJobToDir(dir: string, o: JobExportOptions): Promise<{ files: number; bytes: number; runs: number }> {
  const encoded = encodeItems(o.model.tokenizer, o.data.items, o.model.params.config);
  let globalParams = o.model.params;
  if (o.globalRm === 'train') {
    o.log('training a global RM on the pooled training pairs');
    const init = initBagRM(o.model.params.E, o.model.params.config, o.config.seed);
    globalParams = (await trainGlobalRM(o.backend, init, encoded, o.data, { seed: o.config.seed })).params;
  }
  const files = buildJob({
    data: o.data,
    encoded,
    globalParams,
    config: o.config,
    info: { data: summarizeData(o.data), globalRm: o.globalRmName, versions: { app: APP_VERSION, node: process.version } },
    template: loadJobTemplate(),
  });
  await writeJob(dir, files);
  const plan = JSON.parse(new TextDecoder().decode(files['plan.json'])) as { runs: unknown[] };
  const bytes = Object.values(files).reduce((n, b) => n + b.length, 0);
  return { files: Object.keys(files).length, bytes, runs: plan.runs.length };
}
