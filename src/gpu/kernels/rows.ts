// Scaffolding shared by the transformer kernels that give one workgroup to one row (layer norm, l2 normalise,
// attention rows): the row index over a 2-D grid of workgroups, and fixed-shape tree reductions in workgroup
// memory (sum, max), so every row reduces in the same order on every run (deterministic, no atomics).

/** Invocations per row workgroup. */
export const ROW_WG = 64;

/** WGSL: the workgroup array and the sum/max reductions over it (call from uniform control flow only). */
export const WGSL_ROW_REDUCE = `
var<workgroup> red: array<f32, ${ROW_WG}>;
fn wg_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wg_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

/** WGSL header of a row entry point: `row` = the workgroup's index over the grid, `lid` the invocation. */
export function rowEntry(name: string): string {
  return `@compute @workgroup_size(${ROW_WG})
fn ${name}(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;`;
}

/** Float64 sum of a[start + i*stride] for i < n (the twins' reductions). */
export function sum64(a: ArrayLike<number>, start: number, n: number, stride = 1): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[start + i * stride];
  return s;
}

/** Checks per-sequence lengths against the padded length T (twins; the GPU clamps instead). */
export function checkLens(lens: ArrayLike<number>, T: number): void {
  for (let b = 0; b < lens.length; b++) {
    const L = lens[b];
    if (!Number.isInteger(L) || L < 0 || L > T) throw new RangeError(`lens[${b}] = ${L} is outside 0..${T}`);
  }
}
