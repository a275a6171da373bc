// The shape every WGSL kernel file follows: validate(dims) -> attributes(dims) (the pipeline cache key)
// -> program(dims) {wgsl, bindings, uniforms, passes}; plus a CPU twin that computes the same thing and
// serves as the test oracle. Shared helpers for linear dispatch and uniform packing live here too.

export type Dtype = 'f32' | 'i32' | 'u32';
export type TypedArray = Float32Array | Int32Array | Uint32Array;

/** One storage binding of a program, in @group(0) @binding(i) order. */
export interface BindingSpec {
  name: string;
  /** 'read' = read-only-storage, 'read_write' = storage (outputs and in-place tensors). */
  access: 'read' | 'read_write';
  dtype: Dtype;
  /** Elements this dispatch touches (the buffer may be larger). Used to size test buffers. */
  elements: number;
}

export interface KernelPass {
  entryPoint: string;
  workgroups: [number, number, number];
}

export interface KernelProgram {
  kernel: string;
  /** Pipeline cache key: kernel name + the attributes baked into the WGSL (shapes, dtypes). */
  key: string;
  wgsl: string;
  /** Storage bindings at @binding(0..n-1); when `uniforms` is set, the uniform struct is @binding(n). */
  bindings: BindingSpec[];
  /** Raw bytes of the uniform struct (dynamic sizes, scalars); a multiple of 16 bytes. */
  uniforms: ArrayBuffer | null;
  /** Entry points dispatched in order within one compute pass. */
  passes: KernelPass[];
}

/** A kernel's full description; `Dims` holds every size and scalar the program depends on. */
export interface KernelDef<Dims, In extends Record<string, TypedArray | undefined>, Out extends Record<string, TypedArray>> {
  readonly name: string;
  /** Throws a RangeError naming the bad dimension. */
  validate(dims: Dims): void;
  /** The static attributes baked into the WGSL; `key` identifies the compiled pipeline. */
  attributes(dims: Dims): { key: string };
  program(dims: Dims): KernelProgram;
  /** CPU twin: same outputs, computed in float64 and stored as the output dtype. */
  cpu(dims: Dims, inputs: In): Out;
  /** Names of the bindings that hold results (read back by the test runner). */
  readonly outputs: readonly (keyof Out & string)[];
}

/** Invocations per workgroup for 1-D kernels; <= 256 everywhere (SwiftShader's and the spec's default). */
export const WG = 64;
/** Max workgroups per dispatch dimension (the WebGPU default limit). */
export const MAX_GROUPS_PER_DIM = 65535;

/** Workgroup grid for `total` invocations of a 1-D kernel with `wg` invocations per group. */
export function linearGroups(total: number, wg: number = WG): [number, number, number] {
  const groups = Math.ceil(total / wg);
  if (groups <= MAX_GROUPS_PER_DIM) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS_PER_DIM);
  if (y > MAX_GROUPS_PER_DIM) throw new RangeError(`dispatch of ${total} invocations is too large`);
  return [MAX_GROUPS_PER_DIM, y, 1];
}

/** WGSL header of a 1-D entry point; `idx` is the linear invocation index across a 2-D grid. */
export function linearEntry(name: string, wg: number = WG): string {
  return `@compute @workgroup_size(${wg})
fn ${name}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.y * nwg.x + wid.x) * ${wg}u + lid;`;
}

/** WGSL declarations of the storage bindings (and the uniform struct `Params params`, if any). */
export function declareBindings(bindings: BindingSpec[], uniformStruct?: string): string {
  const lines = bindings.map((b, i) => {
    const access = b.access === 'read' ? 'read' : 'read_write';
    return `@group(0) @binding(${i}) var<storage, ${access}> ${b.name}: array<${b.dtype}>;`;
  });
  if (uniformStruct) {
    lines.push(uniformStruct);
    lines.push(`@group(0) @binding(${bindings.length}) var<uniform> params: Params;`);
  }
  return lines.join('\n');
}

export type UniformField = ['u32' | 'i32' | 'f32', number];

/** Packs scalars (each 4 bytes, in declaration order) into a 16-byte-multiple uniform buffer. */
export function packUniforms(fields: UniformField[]): ArrayBuffer {
  const bytes = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  const buf = new ArrayBuffer(bytes);
  const view = new DataView(buf);
  fields.forEach(([t, v], i) => {
    if (t === 'f32') view.setFloat32(i * 4, v, true);
    else if (t === 'i32') view.setInt32(i * 4, v, true);
    else view.setUint32(i * 4, v, true);
  });
  return buf;
}

/** WGSL struct `Params` matching `packUniforms` for the given field names/types (padded to 16 bytes). */
export function uniformStruct(fields: [string, 'u32' | 'i32' | 'f32'][]): string {
  const padded = [...fields];
  while (padded.length % 4 !== 0 || padded.length === 0) padded.push([`_pad${padded.length}`, 'u32']);
  return `struct Params {\n${padded.map(([n, t]) => `  ${n}: ${t},`).join('\n')}\n}`;
}

export function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`);
}

export function checkLength(name: string, arr: ArrayLike<number>, expected: number): void {
  if (arr.length !== expected) throw new RangeError(`${name} has ${arr.length} elements, expected ${expected}`);
}

/** Formats an f32 as a WGSL literal that round-trips exactly. */
export function f32Literal(x: number): string {
  const f = Math.fround(x);
  if (!Number.isFinite(f)) throw new RangeError(`non-finite constant ${x}`);
  const s = f.toPrecision(9);
  return s.includes('.') || s.includes('e') ? `f32(${s})` : `f32(${s}.0)`;
}
