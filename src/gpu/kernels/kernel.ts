// The shape every WGSL kernel file follows: validate(dims) -> attributes(dims) (the pipeline cache key)
// -> program(dims) {wgsl, bindings, uniforms, passes}; plus a CPU twin that computes the same thing and
// serves as the test oracle. Shared helpers live here too: linear dispatch, uniform packing, dimension and
// twin-input checks (`checkDims`, `checkInputs`, `checkLossSlot`, `lossRing`), and the program builders that
// own the repeated WGSL scaffolding (`linearProgram`, `elementwiseProgram`, `reduceProgram`), so each kernel
// file keeps only its bindings, its WGSL body and its CPU twin.

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
export function declareBindings(bindings: readonly BindingSpec[], uniformStruct?: string): string {
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

/** `checkInt` on each listed dimension of `d`, in the listed order, against its minimum. */
export function checkDims<D extends object>(d: D, mins: { readonly [K in keyof D]?: number }): void {
  for (const [name, min] of Object.entries(mins) as [string, number][]) {
    checkInt(name, (d as Record<string, number>)[name], min);
  }
}

/**
 * CPU-twin input check: each read-only binding's array holds exactly the elements the program binds, in
 * binding order, so a twin and its program agree on every size by construction.
 */
export function checkInputs(bindings: readonly BindingSpec[], inputs: Readonly<Record<string, ArrayLike<number> | undefined>>): void {
  for (const b of bindings) if (b.access === 'read') checkLength(b.name, inputs[b.name] as ArrayLike<number>, b.elements);
}

/** Checks a loss-ring position (kernels that write one step's loss into `loss[slot]` of a ring). */
export function checkLossSlot(d: { slots: number; slot: number }): void {
  checkDims(d, { slots: 1, slot: 0 });
  if (d.slot >= d.slots) throw new RangeError(`slot ${d.slot} is outside the ${d.slots}-slot loss ring`);
}

/** CPU twin's loss ring before the step: a copy of `prev` (other slots are kept), zeros when omitted. */
export function lossRing(slots: number, prev: Float32Array | undefined): Float32Array {
  const loss = new Float32Array(slots);
  if (prev) {
    checkLength('loss', prev, slots);
    loss.set(prev);
  }
  return loss;
}

/** One scalar of the uniform struct `Params`: its WGSL field name, type and value. */
export type NamedUniform = [name: string, type: UniformField[0], value: number];

/** WGSL bindings plus the `Params` struct holding `uniforms` (the WGSL side of `packParams`). */
export function declareParams(bindings: readonly BindingSpec[], uniforms: readonly NamedUniform[]): string {
  return declareBindings(bindings, uniformStruct(uniforms.map(([n, t]) => [n, t])));
}

/** The uniform buffer matching `declareParams` for the same fields. */
export function packParams(uniforms: readonly NamedUniform[]): ArrayBuffer {
  return packUniforms(uniforms.map(([, t, v]) => [t, v]));
}

/** A `KernelProgram` from its WGSL: copies the bindings and packs the uniforms declared by `declareParams`. */
export function assembleProgram(s: {
  kernel: string;
  key: string;
  wgsl: string;
  bindings: readonly BindingSpec[];
  uniforms: readonly NamedUniform[];
  passes: KernelPass[];
}): KernelProgram {
  return { ...s, bindings: [...s.bindings], uniforms: packParams(s.uniforms) };
}

/** A program of one 1-D entry point `main` (`linearEntry`), one invocation per output element. */
export interface LinearProgramSpec {
  kernel: string;
  key: string;
  bindings: readonly BindingSpec[];
  /** The `Params` fields; the dynamic sizes that `guard` reads come first. */
  uniforms: readonly NamedUniform[];
  /** Invocations dispatched. */
  invocations: number;
  /** WGSL expression: invocations with `idx >= guard` return at once. */
  guard: string;
  /** Module-scope constants baked into the WGSL (sizes in the cache key), before the bindings. */
  consts?: readonly string[];
  /** WGSL functions between the declarations and the entry point. */
  helpers?: string;
  /** Statements of `main` after the guard, indented two spaces. */
  body: string;
}

export function linearProgram(s: LinearProgramSpec): KernelProgram {
  const wgsl = [
    '',
    ...(s.consts ?? []),
    declareParams(s.bindings, s.uniforms),
    ...(s.helpers === undefined ? [] : [s.helpers]),
    linearEntry('main'),
    `  if (idx >= ${s.guard}) { return; }`,
    s.body,
    '}',
  ].join('\n');
  return assembleProgram({
    kernel: s.kernel,
    key: s.key,
    wgsl,
    bindings: s.bindings,
    uniforms: s.uniforms,
    passes: [{ entryPoint: 'main', workgroups: linearGroups(s.invocations) }],
  });
}

/** Bindings of an elementwise op over `n` f32 elements: the inputs (read-only) in order, then the output. */
export function elementwiseBindings(n: number, inputs: readonly string[], output: string): BindingSpec[] {
  return [
    ...inputs.map((name): BindingSpec => ({ name, access: 'read', dtype: 'f32', elements: n })),
    { name: output, access: 'read_write', dtype: 'f32', elements: n },
  ];
}

/**
 * Single-pass elementwise program over `params.n` elements (no sizes baked in, so the kernel name is the
 * cache key); `body` computes element `idx`.
 */
export function elementwiseProgram(kernel: string, bindings: readonly BindingSpec[], n: number, body: string): KernelProgram {
  return linearProgram({ kernel, key: kernel, bindings, uniforms: [['n', 'u32', n]], invocations: n, guard: 'params.n', body });
}

/**
 * An elementwise kernel over `n` elements: the named inputs -> one output of the same length. `wgsl` computes
 * element `idx` (reads the inputs, writes the output by name); `twin(x, i)` is its CPU twin for element i (float64
 * arithmetic, stored as f32). The activation and residual kernels are this plus their one line of math.
 */
export function elementwiseKernel<I extends string, O extends string>(
  name: string,
  inputs: readonly I[],
  output: O,
  wgsl: string,
  twin: (x: Record<I, Float32Array>, i: number) => number,
): KernelDef<{ n: number }, Record<I, Float32Array>, Record<O, Float32Array>> {
  const validate = (d: { n: number }) => checkDims(d, { n: 0 });
  const bindings = (d: { n: number }) => elementwiseBindings(d.n, inputs, output);
  return {
    name,
    validate,
    attributes: () => ({ key: name }),
    program(d) {
      validate(d);
      return elementwiseProgram(name, bindings(d), d.n, wgsl);
    },
    cpu(d, x) {
      validate(d);
      checkInputs(bindings(d), x);
      const y = new Float32Array(d.n);
      for (let i = 0; i < d.n; i++) y[i] = twin(x, i);
      return { [output]: y } as Record<O, Float32Array>;
    },
    outputs: [output],
  };
}

/** Invocations of the single workgroup of `reduceProgram`. */
export const REDUCE_WG = 256;

/**
 * A single-workgroup reduction into `out[0]` (the last binding): invocation t accumulates items t, t + 256, ...
 * below `params.<count>` in order, then a fixed-shape tree in workgroup memory combines the partials.
 * Deterministic (no atomics); exact for integers.
 */
export interface ReduceProgramSpec {
  kernel: string;
  key: string;
  bindings: readonly BindingSpec[];
  /** The one `Params` field: the dynamic item count. */
  count: NamedUniform;
  /** Type of the accumulator and the partials (`out`'s dtype). */
  acc: 'f32' | 'u32';
  /** Block run for item `i` (a `{ ... }` that adds to `acc`). */
  item: string;
}

export function reduceProgram(s: ReduceProgramSpec): KernelProgram {
  const out = s.bindings[s.bindings.length - 1].name;
  const wgsl = `
${declareParams(s.bindings, [s.count])}
var<workgroup> part: array<${s.acc}, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var acc = ${s.acc === 'f32' ? '0.0' : '0u'};
  for (var i = lid; i < params.${s.count[0]}; i += ${REDUCE_WG}u) ${s.item}
  part[lid] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { part[lid] = part[lid] + part[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { ${out}[0] = part[0]; }
}`;
  return assembleProgram({
    kernel: s.kernel,
    key: s.key,
    wgsl,
    bindings: s.bindings,
    uniforms: [s.count],
    passes: [{ entryPoint: 'main', workgroups: [1, 1, 1] }],
  });
}

