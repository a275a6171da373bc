// GlobalOpinionQA loader: global_opinions.csv -> per-country option pairs by answer share, split by question.
import Papa from 'papaparse';
import type { InputFile, PreferenceData } from '../types.ts';
import { checkInputFile, fileError, guardFile, IssueCollector, noUsableRows, ROW_FIELD } from './issues.ts';
import { notUtf8Text } from './sniff.ts';
import { quoteText } from '../text.ts';
import { resolveOptions, type LoadOptions } from './options.ts';
import { finalizeData, ItemTable, turnPairs, type Scored, type UnsplitPair } from './pairs.ts';
import { parsePyLiteral, PyParseError, type PyValue } from './pylit.ts';

export const GOQA_REQUIRED_COLUMNS = ['question', 'selections', 'options'] as const;
/** Shares are fractions; a little slack absorbs rounding in the published file. */
const SHARE_MAX = 1 + 1e-6;

interface Bad {
  reason: string;
  field: string;
  message: string;
}

export interface GoqaRow {
  question: string;
  options: string[];
  /** country -> share per option (NaN where the source has nan). */
  selections: Map<string, number[]>;
}

function parseCell(text: string, field: string): { ok: true; value: PyValue } | ({ ok: false } & Bad) {
  try {
    return { ok: true, value: parsePyLiteral(text) };
  } catch (e) {
    const message = e instanceof PyParseError ? e.message : String(e);
    return { ok: false, reason: `bad ${field}`, field, message: `${field} is not a Python literal: ${message}` };
  }
}

/** Validates one record's cells; returns the parsed row or the first problem. */
export function parseGoqaCells(question: string, selectionsText: string, optionsText: string): GoqaRow | Bad {
  if (question.trim() === '') return { reason: 'empty field', field: 'question', message: 'question is empty' };
  const opts = parseCell(optionsText, 'options');
  if (!opts.ok) return opts;
  const optionsValue = opts.value;
  if (!Array.isArray(optionsValue) || optionsValue.length === 0 || !optionsValue.every((o) => typeof o === 'string')) {
    return { reason: 'bad options', field: 'options', message: 'options must be a non-empty list of strings' };
  }
  const options = optionsValue as string[];
  const sel = parseCell(selectionsText, 'selections');
  if (!sel.ok) return sel;
  if (!(sel.value instanceof Map)) {
    return { reason: 'bad selections', field: 'selections', message: 'selections must be a dict of country -> shares' };
  }
  const selections = new Map<string, number[]>();
  for (const [rawCountry, shares] of sel.value) {
    const country = rawCountry.trim();
    if (country === '') return { reason: 'empty country', field: 'selections', message: 'selections has an empty country name' };
    if (!Array.isArray(shares) || !shares.every((s) => typeof s === 'number')) {
      return { reason: 'bad selections', field: 'selections', message: `shares of ${quoteText(country)} must be a list of numbers` };
    }
    const nums = shares as number[];
    if (nums.length !== options.length) {
      return {
        reason: 'selections length mismatch',
        field: 'selections',
        message: `${quoteText(country)} has ${nums.length} shares for ${options.length} options`,
      };
    }
    const out = nums.find((s) => !Number.isNaN(s) && !(s >= 0 && s <= SHARE_MAX));
    if (out !== undefined) {
      return { reason: 'out of range', field: 'selections', message: `share ${out} of ${quoteText(country)} is outside 0..1` };
    }
    selections.set(country, nums);
  }
  if (selections.size === 0) return { reason: 'bad selections', field: 'selections', message: 'selections is empty' };
  return { question, options, selections };
}

/** Loads GlobalOpinionQA's global_opinions.csv (columns question, selections, options, source). */
export async function loadGoqa(file: InputFile, opts?: LoadOptions): Promise<PreferenceData> {
  const o = resolveOptions(opts);
  const input = checkInputFile(file, 'global_opinions.csv');
  const name = input.name;
  const issues = new IssueCollector(o.strict);
  const items = new ItemTable();
  const pairs: UnsplitPair[] = [];
  let tiesDropped = 0;

  const notText = await guardFile(name, () => notUtf8Text(input));
  if (notText) throw fileError(name, notText);
  await guardFile(name, async () => {
    // The CSV is a few MB and quoted cells span lines, so it is parsed whole rather than line-streamed.
    let text = await input.blob.text();
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);

    // Mutated inside papaparse's callback; an object keeps TypeScript from narrowing it to its initial value.
    const st: {
      header: string[] | null;
      col: Record<(typeof GOQA_REQUIRED_COLUMNS)[number], number> | null;
      failure: unknown;
    } = { header: null, col: null, failure: null };
    let dataIndex = 0;
    let usable = 0;
    // papaparse reports the cursor at the END of each record, so a record starts where the previous one ended;
    // counting newlines up to there gives the editor line even when quoted cells span lines.
    let recordStart = 0;
    let counted = 0;
    let newlines = 0;

    Papa.parse<string[]>(text, {
      header: false,
      skipEmptyLines: false,
      step: (result, parser) => {
        try {
          const start = recordStart;
          recordStart = result.meta.cursor;
          for (; counted < start; counted++) if (text.charCodeAt(counted) === 10) newlines++;
          const line = newlines + 1;
          const fields = result.data;
          if (fields.length === 1 && fields[0].trim() === '') return; // blank line
          if (st.header === null) {
            const h = fields.map((f) => f.trim().toLowerCase());
            for (const c of GOQA_REQUIRED_COLUMNS) {
              if (!h.includes(c)) throw fileError(name, `column "${c}" is missing from the header (found: ${quoteText(h.join(', '))})`, c);
            }
            st.header = h;
            st.col = { question: h.indexOf('question'), selections: h.indexOf('selections'), options: h.indexOf('options') };
            return;
          }
          const col = st.col;
          if (!col) return;
          dataIndex++;
          const bad = (b: Bad) => issues.add(b.reason, { file: name, line, field: b.field, message: b.message });
          if (result.errors.length > 0) {
            bad({ reason: 'bad csv', field: ROW_FIELD, message: result.errors.map((e) => e.message).join('; ') });
            return;
          }
          if (fields.length > st.header.length) {
            bad({
              reason: 'wrong column count',
              field: ROW_FIELD,
              message: `${fields.length} fields for ${st.header.length} columns`,
            });
            return;
          }
          const cell = (c: keyof typeof col): string | undefined => fields[col[c]];
          for (const c of GOQA_REQUIRED_COLUMNS) {
            if (cell(c) === undefined) {
              bad({ reason: 'missing field', field: c, message: `${c} is missing (row has ${fields.length} fields)` });
              return;
            }
          }
          const parsed = parseGoqaCells(cell('question') ?? '', cell('selections') ?? '', cell('options') ?? '');
          if (!('options' in parsed)) {
            bad(parsed);
            return;
          }
          usable++;
          // Row-based id: the same question text asked by two surveys (GAS and WVS) stays two questions.
          const qid = `q${dataIndex}`;
          const question = parsed.question.trim();
          const optionItems = parsed.options.map((opt) => items.intern(question, opt));
          for (const [country, shares] of parsed.selections) {
            // nan shares are missing answers, not errors: those options just form no pairs for that country.
            const responses: Scored[] = [];
            shares.forEach((s, k) => {
              if (!Number.isNaN(s)) responses.push({ item: optionItems[k], score: s });
            });
            const built = turnPairs(responses, o.goqaMargin);
            tiesDropped += built.ties;
            for (const { chosen, rejected } of built.pairs) {
              pairs.push({
                chosen: chosen.item,
                rejected: rejected.item,
                country,
                group: qid,
                key: qid,
                scoreChosen: chosen.score,
                scoreRejected: rejected.score,
              });
            }
          }
        } catch (e) {
          // papaparse would swallow nothing useful here; stop parsing and rethrow outside its callback.
          st.failure = e;
          parser.abort();
        }
      },
    });
    if (st.failure !== null) throw st.failure;
    if (st.header === null) throw fileError(name, 'no header row');
    if (usable === 0) throw noUsableRows(name, 'no usable rows (each needs question, selections and options)', issues);
  });

  if (pairs.length === 0) {
    throw fileError(name, `no preference pairs: no two options differ by at least ${o.goqaMargin} (${tiesDropped} dropped)`);
  }
  return finalizeData({
    format: 'goqa',
    source: `goqa:${name}`,
    items: items.items,
    pairs,
    tiesDropped,
    issues: issues.toReport(),
    seed: o.seed,
    testFraction: o.testFraction,
    splitScope: 'global',
    splitRule: 'reference',
  });
}
