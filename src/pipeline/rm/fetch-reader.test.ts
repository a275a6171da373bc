// fetchReader retries network-level failures (Chromium's net::ERR_CACHE_WRITE_FAILURE when two workers fetch the same
// model file at once surfaces as a TypeError), but not HTTP errors, and gives up after its attempts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchReader } from './files.ts';

afterEach(() => vi.unstubAllGlobals());

describe('fetchReader', () => {
  it('tries a network-level failure again and returns the bytes', async () => {
    const fetch = vi.fn().mockRejectedValueOnce(new TypeError('Failed to fetch')).mockResolvedValueOnce(new Response(new Uint8Array([1, 2, 3])));
    vi.stubGlobal('fetch', fetch);
    expect(Array.from(await fetchReader('http://x/models/rm')('onnx/model.onnx'))).toEqual([1, 2, 3]);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(fetch.mock.calls[0][0]).toBe('http://x/models/rm/onnx/model.onnx');
  });

  it('does not retry an HTTP error, and stops after its attempts', async () => {
    const notFound = vi.fn().mockResolvedValue(new Response('no', { status: 404 }));
    vi.stubGlobal('fetch', notFound);
    await expect(fetchReader('http://x/m/')('config.json')).rejects.toThrow('HTTP 404 for http://x/m/config.json');
    expect(notFound).toHaveBeenCalledTimes(1);
    const down = vi.fn().mockRejectedValue(new TypeError('Failed to fetch'));
    vi.stubGlobal('fetch', down);
    await expect(fetchReader('http://x/m/', undefined, 3)('config.json')).rejects.toThrow('Failed to fetch');
    expect(down).toHaveBeenCalledTimes(3);
  });
});
