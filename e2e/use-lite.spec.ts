// The USE-lite transformer RM in the studio, end to end on a small config: the model picker shows the encoding
// estimate before the run, the worker encodes with onnxruntime-web (scoring worker) and trains the heads, results
// come back like the bag RM's, and a trained country RM exports as an HF folder (ONNX with encoder + head).
import { expect, test } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, fixture, open, shot, studio, trackRequests, unzip, waitForData, waitForRunEnd } from './helpers.ts';

test('USE-lite: estimate before the run, encode + train in the worker, export the Chile scpo RM', async ({ page }) => {
  test.setTimeout(300_000);
  const net = trackRequests(page.context());
  await open(page, 'countries=Chile&majority=Mexico&methods=start,full_ft,scpo&steps=30&evalPoints=2&efficiency=0');
  await page.getByTestId('data-prism').check();
  await page.getByTestId('prism-utterances').setInputFiles(fixture('prism/utterances.jsonl'));
  await page.getByTestId('prism-survey').setInputFiles(fixture('prism/survey.jsonl'));
  await waitForData(page);
  await page.getByTestId('model-use-lite').check();
  const estimate = page.getByTestId('model-use-lite-estimate');
  await expect(estimate).toContainText(/Encodes [\d,]+ texts .* GFLOP\): about \d+/);
  await shot(page, '60-use-lite-estimate');

  const statuses: string[] = [];
  page.on('console', (m) => statuses.push(m.text()));
  await page.getByTestId('run-button').click();
  const s = await waitForRunEnd(page, 240_000);
  expect(s.error, JSON.stringify(s.error)).toBeFalsy();
  expect(s.status).toBe('done');
  expect(s.model.kind).toBe('use-lite');
  expect(s.result?.runs).toBe(3); // Chile start, full_ft, scpo
  const full = s.result!.reports.full as Record<string, Record<string, number>>;
  for (const m of ['start', 'full_ft', 'scpo']) expect(full.Chile[m]).toBeGreaterThanOrEqual(0);
  expect(s.result!.timings.encodeMs).toBeGreaterThan(0);
  await shot(page, '61-use-lite-done');

  // Export the trained Chile scpo RM (encoder weights fetched from the model folder, head from the run).
  await page.getByTestId('export-button').click();
  await page.getByTestId('export-onnx-method-scpo').click();
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-onnx').click()]);
  const path = join(ARTIFACTS, 'downloads', dl.suggestedFilename());
  await dl.saveAs(path);
  const entries = unzip(readFileSync(path));
  const root = dl.suggestedFilename().replace(/\.zip$/, '');
  expect(entries.get(`${root}/onnx/model.onnx`)?.length ?? 0).toBeGreaterThan(20e6);
  const cfg = JSON.parse((entries.get(`${root}/config.json`) as Buffer).toString('utf8'));
  expect(cfg).toMatchObject({ model_type: 'scpo-use-lite', head: 'mlp', scpo: { country: 'Chile', method: 'scpo', base_model: 'scpo-use-lite-rm' } });
  expect(cfg.scpo.global.trainedOn).toMatch(/training users/);
  expect(entries.has(`${root}/tokenizer.json`)).toBe(true);
  expect(net.foreign()).toEqual([]);
  void studio;
});
