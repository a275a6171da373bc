// A tiny static server for the benchmark page (node:http, 127.0.0.1 only): the built page, then public/ (models,
// onnxruntime-web files), and tfjs-backend-wasm's .wasm files under /tfjs/. COOP/COEP make the page cross-origin
// isolated (wasm threads), like the studio's vite server.
import { createServer, type Server } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
};

export interface Mount {
  /** URL prefix, e.g. "/" or "/tfjs/". */
  prefix: string;
  dir: string;
}

async function findFile(mounts: Mount[], urlPath: string): Promise<string | null> {
  for (const m of mounts) {
    if (!urlPath.startsWith(m.prefix)) continue;
    const rel = normalize(decodeURIComponent(urlPath.slice(m.prefix.length)) || 'index.html');
    const root = resolve(m.dir);
    const full = resolve(root, rel.endsWith(sep) || rel === '.' ? join(rel, 'index.html') : rel);
    if (full !== root && !full.startsWith(root + sep)) continue; // no way out of the mount
    try {
      if ((await stat(full)).isFile()) return full;
    } catch {
      // next mount
    }
  }
  return null;
}

export function startServer(mounts: Mount[]): Promise<{ server: Server; url: string }> {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = await findFile(mounts, path);
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    if (!file) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((ok) => {
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      ok({ server, url: `http://127.0.0.1:${port}` });
    });
  });
}
