// Records keyed by data (country names, user ids): created without a prototype, so a country named "__proto__",
// "constructor" or "toString" is a plain key like any other. With `{}` such a name would read Object.prototype's
// members, and `r["__proto__"] = x` would replace the record's prototype instead of adding a key (dropping that
// country from JSON reports, or polluting Object.prototype through `r[c] ??= {}`). JSON.stringify and structured
// clone (postMessage) treat these records like plain objects.

/** An empty record with no prototype, for keys that come from data. */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A prototype-free record from entries (in their order). */
export function dictFrom<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const d = dict<T>();
  for (const [k, v] of entries) d[k] = v;
  return d;
}

/** `r[key]` if it is r's own property (never an inherited member such as Object.prototype for "__proto__"). */
export function own<T>(r: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
  return r != null && Object.prototype.hasOwnProperty.call(r, key) ? r[key] : undefined;
}
