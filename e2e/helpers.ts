// Shared e2e helpers: the studio's test handle, request tracking (nothing may leave 127.0.0.1), screenshots.
import { expect } from '@playwright/test';
import type { BrowserContext, Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StudioSnapshot } from '../src/ui/store.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ARTIFACTS = join(HERE, 'artifacts');
export const FIXTURES = join(HERE, 'fixtures');
mkdirSync(ARTIFACTS, { recursive: true });

export const fixture = (rel: string) => join(FIXTURES, rel);

export function studio(page: Page): Promise<StudioSnapshot> {
  return page.evaluate(() => {
    if (!window.__studio) throw new Error('window.__studio is missing');
    return window.__studio.getState();
  });
}

/** Records every request of the context (page and workers); `foreign()` lists those that left 127.0.0.1. */
export function trackRequests(ctx: BrowserContext | Page) {
  const urls: string[] = [];
  ctx.on('request', (r) => urls.push(r.url()));
  return {
    urls,
    foreign: () => urls.filter((u) => !/^(https?:\/\/127\.0\.0\.1(:\d+)?\/|data:|blob:)/.test(u)),
  };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}

export async function open(page: Page, hash = ''): Promise<void> {
  await page.goto(`/${hash ? `#${hash}` : ''}`);
  await expect(page.getByTestId('config-panel')).toBeVisible();
  await page.waitForFunction(() => window.__studio !== undefined);
}

/** Waits for a loaded data summary (the startup load, or after picking files). */
export async function waitForData(page: Page): Promise<void> {
  await expect.poll(async () => (await studio(page)).dataStatus, { timeout: 60_000 }).toMatch(/ready|error/);
}

export async function waitForRunEnd(page: Page, timeout = 240_000): Promise<StudioSnapshot> {
  await page.waitForFunction(() => {
    const s = window.__studio?.getState().status;
    return s !== 'running' && s !== 'paused';
  }, null, { timeout, polling: 250 });
  return studio(page);
}

/** A small, fast config for tests that need a finished run but not the paper's numbers. */
export const QUICK = 'countries=Chile,Mexico&steps=40&evalPoints=4&efficiency=0';

/** Reads a stored (uncompressed) zip through its central directory, checking every entry's CRC. */
export function unzip(buf: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip');
  const n = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  for (let k = 0; k < n; k++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory');
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const size = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extra = buf.readUInt16LE(p + 30);
    const comment = buf.readUInt16LE(p + 32);
    const off = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    if (method !== 0) throw new Error(`${name}: compressed entries are not expected`);
    const start = off + 30 + buf.readUInt16LE(off + 26) + buf.readUInt16LE(off + 28);
    const data = buf.subarray(start, start + size);
    if (crc32(data) !== crc) throw new Error(`${name}: CRC mismatch`);
    out.set(name, data);
    p += 46 + nameLen + extra + comment;
  }
  return out;
}
