// The job's Python files as text in the browser bundle (vite ?raw imports of src/pipeline/job/template/).
import { TEMPLATE_FILES } from './build.ts';
import type { JobTemplate } from './build.ts';

const raw = import.meta.glob('./template/**/*.py', { query: '?raw', import: 'default', eager: true }) as Record<string, string>;

export function loadJobTemplate(): JobTemplate {
  const t: JobTemplate = {};
  for (const f of TEMPLATE_FILES) {
    const text = raw[`./template/${f}`];
    if (typeof text !== 'string') throw new Error(`job template ${f} is not in the bundle`);
    t[f] = text;
  }
  return t;
}
