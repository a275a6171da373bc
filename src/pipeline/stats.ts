// Small-sample statistics for results over seeds: mean, sample standard deviation, Student-t 95% interval and a
// paired t-test. Pure functions, no dependencies (the t distribution via the regularized incomplete beta).

export interface Summary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator); NaN for n < 2. */
  sd: number;
  /** 95% confidence interval of the mean, mean +- t(0.975, n-1) * sd / sqrt(n); NaN bounds for n < 2. */
  ci95: [number, number];
  values: number[];
}

/** Mean, sd and 95% interval of the finite values (non-finite ones, e.g. a country without an edited set, are dropped). */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x));
  const n = v.length;
  const mean = n ? v.reduce((a, b) => a + b, 0) / n : Number.NaN;
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const half = n > 1 ? tQuantile(0.975, n - 1) * (sd / Math.sqrt(n)) : Number.NaN;
  return { n, mean, sd, ci95: [mean - half, mean + half], values: v };
}

export interface PairedComparison {
  /** Seeds where both values are finite. */
  n: number;
  /** Mean and spread of a - b over seeds. */
  meanDiff: number;
  sdDiff: number;
  ci95: [number, number];
  /** Paired t statistic and its two-sided p-value (NaN when n < 2 or every difference is equal). */
  t: number;
  p: number;
  /** Seeds where a > b, a < b, a = b. */
  wins: number;
  losses: number;
  ties: number;
}

/** Paired comparison of a and b over the same seeds (index i of both is one seed). */
export function pairedComparison(a: readonly number[], b: readonly number[]): PairedComparison {
  if (a.length !== b.length) throw new RangeError(`pairedComparison: ${a.length} vs ${b.length} values`);
  const d: number[] = [];
  let wins = 0;
  let losses = 0;
  let ties = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) continue;
    d.push(a[i] - b[i]);
    if (a[i] > b[i]) wins++;
    else if (a[i] < b[i]) losses++;
    else ties++;
  }
  const s = summarize(d);
  const se = s.sd / Math.sqrt(s.n);
  const t = s.n > 1 && se > 0 ? s.mean / se : Number.NaN;
  const p = Number.isFinite(t) ? tTwoSidedP(t, s.n - 1) : Number.NaN;
  return { n: s.n, meanDiff: s.mean, sdDiff: s.sd, ci95: s.ci95, t, p, wins, losses, ties };
}

/** Two-sided p-value of Student's t with `df` degrees of freedom: P(|T| >= |t|) = I_{df/(df+t^2)}(df/2, 1/2). */
export function tTwoSidedP(t: number, df: number): number {
  return regIncBeta(df / (df + t * t), df / 2, 0.5);
}

/** The q-quantile (0.5 < q < 1) of Student's t with `df` degrees of freedom, by bisection on the CDF. */
export function tQuantile(q: number, df: number): number {
  if (!(q > 0.5 && q < 1) || !(df > 0)) throw new RangeError(`tQuantile: q ${q}, df ${df}`);
  const target = 2 * (1 - q); // two-sided tail mass at the quantile
  let lo = 0;
  let hi = 1;
  while (tTwoSidedP(hi, df) > target) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (tTwoSidedP(mid, df) > target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Regularized incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf). */
export function regIncBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const front = Math.exp(lnFront);
  // The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
  return x < (a + 1) / (a + b + 2) ? (front * betaCf(x, a, b)) / a : 1 - (front * betaCf(1 - x, b, a)) / b;
}

function betaCf(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return h;
}

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, n = 9; ~1e-15 relative). */
function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const xx = x - 1;
  let s = g[0];
  for (let i = 1; i < 9; i++) s += g[i] / (xx + i);
  const t = xx + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (xx + 0.5) * Math.log(t) - t + Math.log(s);
}
