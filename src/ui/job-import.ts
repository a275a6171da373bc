// "Import run…" for report folders: the PyTorch job's --out folder (or the CLI's), picked as a folder or as a zip,
// becomes a RunBundle the studio shows like a browser run; a saved run bundle (.json) still imports as before.
import { importReportFolder, pickReportFolder } from '../pipeline/job/import.ts';
import type { SeedsReport } from '../pipeline/seeds.ts';
import { parseBundle } from './export.ts';
import type { RunBundle } from './export.ts';
import { unzip } from './unzip.ts';

export interface ImportedFiles {
  bundle: RunBundle;
  /** What to tell the user about where the run came from (engine, processes, device, time). */
  origin: string;
  /** The folder's seeds_report.json when it has one (a CLI --seeds run). */
  seeds: SeedsReport | null;
}

/** A name for what was picked: the file, or the folder of a directory pick. */
export function pickedName(files: readonly File[]): string {
  if (files.length === 1) return files[0].name;
  return files[0]?.webkitRelativePath.split('/')[0] || `${files.length} files`;
}

export async function readRunFiles(files: readonly File[]): Promise<ImportedFiles> {
  if (files.length === 0) throw new Error('nothing was chosen');
  const one = files.length === 1 ? files[0] : null;
  if (one && /\.json$/i.test(one.name) && one.name !== 'run.json') {
    return { bundle: parseBundle(await one.text()), origin: 'a saved studio run', seeds: null };
  }
  const texts: Record<string, string> = {};
  if (one && /\.zip$/i.test(one.name)) {
    const entries = await unzip(one);
    const { names } = pickReportFolder(Object.keys(entries));
    const dec = new TextDecoder();
    for (const [n, p] of Object.entries(names)) texts[n] = dec.decode(entries[p]);
  } else {
    const paths = files.map((f) => f.webkitRelativePath || f.name);
    const { names } = pickReportFolder(paths);
    await Promise.all(Object.entries(names).map(async ([n, p]) => (texts[n] = await files[paths.indexOf(p)].text())));
  }
  const imp = importReportFolder(texts);
  const finished = typeof imp.provenance.finishedAt === 'string' ? imp.provenance.finishedAt : '';
  return { bundle: { result: imp.result, summary: imp.summary, items: null, pairs: null, savedAt: finished }, origin: imp.origin, seeds: imp.seeds };
}
