// Parity of the SCPO experiment on the webgpu backend (Node Dawn + SwiftShader) vs the cpu backend, through the
// real session code path (tokenize -> global scoring -> filter/weights -> country RMs -> evaluation) with the
// bundled RM and loadSynthetic(0): per-step losses within 1e-4 relative, accuracies within 0.5 points.
// The full default (7 countries x 5 trained methods x 300 steps + efficiency) takes ~5 min on SwiftShader, so this
// runs a reduced config; `npx tsx bench/parity.ts` runs the full default and saves bench/results/parity.json.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../src/gpu/cpu/trainer.ts';
import { getNodeGpu } from '../src/gpu/node-webgpu.node.ts';
import { createWebGpuBackend } from '../src/gpu/webgpu.ts';
import { BUNDLED_MODEL_DIR } from '../src/pipeline/cli.ts';
import { loadSynthetic } from '../src/pipeline/data/index.ts';
import { resolveConfig } from '../src/pipeline/experiment.ts';
import type { ExperimentEvent } from '../src/pipeline/experiment.ts';
import { loadBagRM } from '../src/pipeline/rm/files.ts';
import { dirReader } from '../src/pipeline/rm/files.node.ts';
import { runSession } from '../src/pipeline/session.ts';
import { compareExperiments, formatParity } from './helpers/experiment-parity.ts';

const node = await getNodeGpu();
const hasAdapter = !!(node.gpu && (await node.gpu.requestAdapter()));
const hasModel = existsSync(join(BUNDLED_MODEL_DIR, 'onnx/model.onnx'));

describe.skipIf(!hasAdapter || !hasModel)(
  `default experiment, webgpu vs cpu [${!hasAdapter ? `no adapter: ${node.notes.join('; ')}` : !hasModel ? 'no bundled model: npm run build:models' : 'Node Dawn'}]`,
  () => {
    it('reduced config (2 countries, full_ft + scpo, 60 steps, no efficiency): losses within 1e-4 rel, accuracies within 0.5 pt', async () => {
      const data = await loadSynthetic(0);
      const model = await loadBagRM(dirReader(BUNDLED_MODEL_DIR));
      const config = resolveConfig({ countries: ['Chile', 'New Zealand'], methods: ['start', 'full_ft', 'scpo'], steps: 60, efficiency: false });
      const web = await createWebGpuBackend(node.gpu);
      const events: ExperimentEvent[] = [];
      const t0 = performance.now();
      const a = await runSession({ data, model, backend: web, config, globalRm: 'as-loaded', onEvent: (e) => events.push(e) });
      const tWeb = performance.now() - t0;
      const b = await runSession({ data, model, backend: cpuBackend, config, globalRm: 'as-loaded' });
      const tCpu = performance.now() - t0 - tWeb;
      web.dispose();
      expect(events.filter((e) => e.type === 'backend-fallback')).toEqual([]);
      expect(a.result.backend).toMatch(/^WebGPU: /);
      const p = compareExperiments(a.result, b.result);
      console.log(
        `experiment parity (reduced): webgpu ${(tWeb / 1000).toFixed(1)} s (train ${a.result.timings.trainMs} ms), cpu ${(tCpu / 1000).toFixed(1)} s (train ${b.result.timings.trainMs} ms)\n${formatParity(p)}`,
      );
      expect(p.runs.filter((r) => r.steps > 0)).toHaveLength(4);
      expect(p.setMismatches).toEqual([]);
      expect(p.globalScoreAbs).toBeLessThan(1e-4);
      expect(p.worstLossRel).toBeLessThan(1e-4);
      expect(p.worstAccPts).toBeLessThanOrEqual(0.5);
    });
  },
);
