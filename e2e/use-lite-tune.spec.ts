// USE-lite fine-tuning in the studio: the "quick" preset sets a laptop-sized run (LoRA, 2 countries, 40 steps,
// 64 tokens) with a time estimate; a tiny LoRA run (16 tokens, 3 steps) trains in the worker on the wasm matmul and
// its scpo country RM exports with the adapters merged (ONNX + model.safetensors, config.json says how it was tuned).
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, fixture, open, studio, trackRequests, unzip, waitForData, waitForRunEnd } from './helpers.ts';

async function loadFixture(page: import('@playwright/test').Page): Promise<void> {
  await page.getByTestId('data-prism').check();
  await page.getByTestId('prism-utterances').setInputFiles(fixture('prism/utterances.jsonl'));
  await page.getByTestId('prism-survey').setInputFiles(fixture('prism/survey.jsonl'));
  await waitForData(page);
}

test('USE-lite quick preset: LoRA, two countries, short run, estimate shown', async ({ page }) => {
  await open(page, 'countries=Chile,Mexico,Canada&methods=all&steps=300');
  await loadFixture(page);
  await page.getByTestId('model-use-lite').check();
  await page.getByTestId('use-lite-quick').click();
  const s = await studio(page);
  expect(s.model).toMatchObject({ kind: 'use-lite', tune: 'lora', seqLen: 64 });
  expect(s.config).toMatchObject({ methods: ['start', 'full_ft', 'scpo'], steps: 40, efficiency: false });
  expect((s.config as { countries: string[] }).countries).toHaveLength(2);
  await expect(page.getByTestId('use-lite-tune-estimate')).toContainText(/Fine-tuning 4 country runs of 40 steps: ~[\d,]+ GFLOP, about [\d.]+ (s|min)/);
});

test('USE-lite LoRA: a tiny run trains in the worker, the tuned scpo RM exports merged', async ({ page }) => {
  test.setTimeout(400_000);
  const net = trackRequests(page.context());
  await open(page, 'countries=Chile&majority=Mexico&methods=start,full_ft,scpo&steps=3&batch=4&evalPoints=1&efficiency=0');
  await loadFixture(page);
  await page.getByTestId('model-use-lite').check();
  await page.getByTestId('use-lite-tune-mode').selectOption('lora');
  const seq = page.getByTestId('use-lite-seq-len');
  await seq.fill('16');
  await seq.blur();
  await expect.poll(async () => (await studio(page)).model).toMatchObject({ kind: 'use-lite', tune: 'lora', seqLen: 16 });
  await page.getByTestId('run-button').click();
  const s = await waitForRunEnd(page, 360_000);
  expect(s.error, JSON.stringify(s.error)).toBeFalsy();
  expect(s.status).toBe('done');
  expect(s.result?.runs).toBe(3);
  const full = s.result!.reports.full as Record<string, Record<string, number>>;
  for (const m of ['start', 'full_ft', 'scpo']) expect(full.Chile[m]).toBeGreaterThanOrEqual(0);

  await page.getByTestId('export-button').click();
  await page.getByTestId('export-onnx-method-scpo').click();
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-onnx').click()]);
  const path = join(ARTIFACTS, 'downloads', `tuned-${dl.suggestedFilename()}`);
  await dl.saveAs(path);
  const entries = unzip(readFileSync(path));
  const root = dl.suggestedFilename().replace(/\.zip$/, '');
  expect(entries.get(`${root}/onnx/model.onnx`)?.length ?? 0).toBeGreaterThan(20e6);
  expect(entries.get(`${root}/model.safetensors`)?.length ?? 0).toBeGreaterThan(20e6);
  const cfg = JSON.parse((entries.get(`${root}/config.json`) as Buffer).toString('utf8'));
  expect(cfg).toMatchObject({ model_type: 'scpo-use-lite', scpo: { country: 'Chile', method: 'scpo', tune: 'lora', base_model: 'scpo-use-lite-rm' } });
  expect(net.foreign()).toEqual([]);
  // With more than one core the cpu trainer ran data-parallel: a peer Web Worker with its own wasm instance (one more
  // load of the one-thread kernels).
  if ((await page.evaluate(() => navigator.hardwareConcurrency)) > 1) {
    expect(net.urls.some((u) => /data-parallel\.worker/.test(u)), net.urls.filter((u) => /worker|wasm/.test(u)).join('\n')).toBe(true);
  }
});
