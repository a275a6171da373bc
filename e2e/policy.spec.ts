// The policy steering tab: a short best-of-N + PPO run against a country RM, end to end in the worker.
import { expect, test } from '@playwright/test';
import { open, shot, trackRequests } from './helpers.ts';

test('policy tab: best-of-N and a short PPO run finish with before/after samples', async ({ page }) => {
  const requests = trackRequests(page.context());
  await open(page);
  await page.getByTestId('tab-policy').click();
  await expect(page.getByTestId('policy-panel')).toBeVisible();
  await page.getByTestId('policy-steps').fill('3');
  await page.getByTestId('policy-prompts').fill('2');
  await page.getByTestId('policy-start').click();
  // Live PPO metrics stream in before the run ends.
  await expect(page.getByTestId('policy-status')).toHaveAttribute('data-status', 'running');
  await expect(page.getByTestId('policy-status')).not.toHaveAttribute('data-status', 'running', { timeout: 240_000 });
  // A failed run names its error in the panel: make it the test's message.
  const failure = page.getByTestId('policy-error');
  expect((await failure.count()) ? await failure.innerText() : '', 'the policy run reported an error').toBe('');
  await expect(page.getByTestId('policy-status')).toHaveAttribute('data-status', 'done');
  await expect(page.getByTestId('policy-summary-numbers')).toContainText('KL to the reference');
  await expect(page.getByTestId('policy-before-after').locator('tbody tr').first()).toBeVisible();
  await expect(page.getByTestId('policy-bon-table')).toBeVisible();
  // Reward-hacking checks sit next to the gain, each with a before/after and a reading; best-of-N is judged on the
  // base policy unless asked otherwise.
  const signals = page.getByTestId('policy-signals');
  await expect(signals).toBeVisible();
  for (const id of ['distinct', 'repetition', 'sameness', 'length', 'global', 'kl']) await expect(page.getByTestId(`policy-signal-${id}`)).toBeVisible();
  await expect(page.getByTestId('policy-signal-kl')).toContainText(/base policy/);
  const warnings = Number(await signals.getAttribute('data-warnings'));
  if (warnings > 0) await expect(page.getByTestId('policy-hacking-warning')).toContainText('reward hacking');
  else await expect(page.getByTestId('policy-hacking-ok')).toBeVisible();
  await expect(page.getByTestId('policy-bon-judged')).toHaveValue('before');
  await page.getByTestId('policy-bon-judged').selectOption('after');
  await expect(page.getByTestId('policy-bon-before-after')).toContainText('table: after PPO');
  await page.getByTestId('policy-bon-judged').selectOption('before');
  await expect(page.getByTestId('policy-backend')).not.toBeEmpty();
  // A second country's run lands beside the first in the side-by-side table.
  await expect(page.getByTestId('policy-compare-row')).toHaveCount(1);
  await page.getByTestId('policy-country').selectOption('Mexico');
  await page.getByTestId('policy-start').click();
  await expect(page.getByTestId('policy-status')).toHaveAttribute('data-status', 'done', { timeout: 240_000 });
  await expect(page.getByTestId('policy-compare-row')).toHaveCount(2);
  await expect(page.getByTestId('policy-compare')).toContainText('Mexico');
  await shot(page, '40-policy');
  await page.getByTestId('policy-compare').scrollIntoViewIfNeeded();
  await shot(page, '41-policy-compare');
  expect(requests.foreign()).toEqual([]);
});
