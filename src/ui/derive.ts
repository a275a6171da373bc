// Pure derivations from the store to what the views show, by view: derive/pairs.ts (pair inspector),
// derive/histograms.ts, derive/charts.ts (chart series), derive/results.ts (results table), derive/progress.ts
// (progress, ETA, config countries). No React, no DOM: unit-tested. Views import from here.
export * from './derive/common.ts';
export * from './derive/pairs.ts';
export * from './derive/histograms.ts';
export * from './derive/charts.ts';
export * from './derive/results.ts';
export * from './derive/progress.ts';
