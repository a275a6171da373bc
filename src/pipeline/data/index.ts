// Public surface of the data layer: loaders (PRISM, GlobalOpinionQA, synthetic), line reader, split, literal parser.
// Node-only helpers (paths on disk) live in ./node.ts and are deliberately not re-exported here.
export { readLines, type TextLine } from './lines.ts';
export { loadPrism, buildPrism, checkScore, type PrismFiles, UTTERANCE_COLUMNS, SURVEY_COLUMNS } from './prism.ts';
export { loadGoqa, parseGoqaCells, type GoqaRow } from './goqa.ts';
export { splitGroups, testCount, DEFAULT_TEST_FRACTION } from './split.ts';
export { parsePyLiteral, pyRepr, PyParseError, type PyValue } from './pylit.ts';
export { turnPairs, ItemTable, type Scored } from './pairs.ts';
export { type LoadOptions, DEFAULT_GOQA_MARGIN } from './options.ts';
export { MAX_EXAMPLES } from './issues.ts';
export { isParquet, blobAsyncBuffer } from './parquet.ts';
export { memoryRows, fileRows, parseJsonLine, type RowSource, type RawRow } from './rows.ts';
export {
  generateSyntheticPrism,
  generateSyntheticGoqaCsv,
  loadSynthetic,
  toJsonl,
  plantedCountryVectors,
  PLANTED,
  SYNTHETIC_DEFAULTS,
  SYNTHETIC_TEMPLATES,
  type SyntheticOptions,
  type SyntheticPrism,
  type PlantedDimension,
} from './synthetic.ts';
export { DataError } from '../types.ts';
