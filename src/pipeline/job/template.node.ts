// The job's Python files read from src/pipeline/job/template/ (Node: the CLI and the tests). The browser build
// bundles the same files as text (template.browser.ts), so the export has one source for its Python.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEMPLATE_FILES } from './build.ts';
import type { JobTemplate } from './build.ts';

export const TEMPLATE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'template');

export function loadJobTemplate(): JobTemplate {
  const t: JobTemplate = {};
  for (const f of TEMPLATE_FILES) t[f] = readFileSync(join(TEMPLATE_DIR, f), 'utf8');
  return t;
}
