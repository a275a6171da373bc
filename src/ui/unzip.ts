// A minimal ZIP reader for importing a run folder as one file: stored and deflated entries (what `zip -r`, the
// OS's "compress" and zip.ts write), read through the central directory; deflate by the platform's
// DecompressionStream('deflate-raw'). No ZIP64, no encryption: those fail with a clear message.

export async function unzip(blob: Blob): Promise<Record<string, Uint8Array>> {
  const buf = new Uint8Array(await blob.arrayBuffer());
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory)');
  const count = dv.getUint16(eocd + 10, true);
  let p = dv.getUint32(eocd + 16, true);
  if (p === 0xffffffff || count === 0xffff) throw new Error('ZIP64 archives are not supported');
  const dec = new TextDecoder();
  const out: Record<string, Uint8Array> = {};
  for (let k = 0; k < count; k++) {
    if (p + 46 > buf.length || dv.getUint32(p, true) !== 0x02014b50) throw new Error(`zip: central directory entry ${k} is damaged`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const csize = dv.getUint32(p + 20, true);
    const size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const local = dv.getUint32(p + 42, true);
    const name = dec.decode(buf.subarray(p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    if (flags & 1) throw new Error(`zip: ${name} is encrypted`);
    if (dv.getUint32(local, true) !== 0x04034b50) throw new Error(`zip: ${name}: local header is damaged`);
    const start = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    const raw = buf.subarray(start, start + csize);
    if (method === 0) out[name] = raw.slice();
    else if (method === 8) out[name] = await inflate(raw, name);
    else throw new Error(`zip: ${name} uses compression method ${method} (only stored and deflate are read)`);
    if (out[name].length !== size) throw new Error(`zip: ${name} is ${out[name].length} bytes, the directory says ${size}`);
  }
  return out;
}

async function inflate(raw: Uint8Array, name: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([raw as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`zip: ${name} could not be inflated (${e instanceof Error ? e.message : String(e)})`);
  }
}
