// One scaling measurement in its own process (so peak RSS is its own): the SCPO session on the synthetic data at
// `--scale` times the default user count, cpu backend, bundled RM. `--mode full` runs the default config
// (7 countries x all methods + efficiency); `--mode score-filter` stops after global scoring and the filter
// (methods: start only, no training). Prints one JSON line.
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { BUNDLED_MODEL_DIR } from '../src/pipeline/cli.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { runSession } from '../src/pipeline/session.ts';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : dflt;
}

async function main(): Promise<void> {
  const scale = Number(arg('scale', '1'));
  const mode = arg('mode', 'full');
  const steps = Number(arg('steps', '300'));
  const t0 = performance.now();
  const data = await loadSynthetic(0, { scale });
  const dataMs = performance.now() - t0;
  const model = await loadBagRM(dirReader(BUNDLED_MODEL_DIR));
  const config = resolveConfig(mode === 'full' ? { steps } : { methods: ['start'], efficiency: false });
  const { result } = await runSession({ data, model, backend: cpuBackend, config, globalRm: 'as-loaded' });
  const wallMs = performance.now() - t0;
  const out = {
    scale,
    mode,
    steps: mode === 'full' ? steps : 0,
    items: data.items.length,
    pairs: data.pairs.length,
    trainSteps: result.runs.reduce((s, r) => s + r.steps, 0),
    wallMs: Math.round(wallMs),
    phasesMs: { dataMs: Math.round(dataMs), ...result.timings },
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    macroFull: result.reports.full.avg,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e: unknown) => {
  console.error(`scale bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
