// PRISM loader: validates survey and utterance rows (from JSONL, Parquet or memory) and builds per-turn pairs.
import type { InputFile, PreferenceData } from '../types.ts';
import { checkInputFile, fileError, guardFile, IssueCollector, noUsableRows, ROW_FIELD } from './issues.ts';
import { notUtf8Text } from './sniff.ts';
import { isParquet } from './parquet.ts';
import { quoteText } from '../text.ts';
import { describeValue, isRecord, resolveOptions, type LoadOptions } from './options.ts';
import { finalizeData, ItemTable, turnPairs, type Scored, type UnsplitPair } from './pairs.ts';
import { fileRows, type RowSource } from './rows.ts';

export const UTTERANCE_COLUMNS = ['utterance_id', 'user_id', 'interaction_id', 'user_prompt', 'model_response', 'score'];
export const SURVEY_COLUMNS = ['user_id', 'location'];
export const SCORE_MIN = 1;
export const SCORE_MAX = 100;

export interface PrismFiles {
  utterances: InputFile;
  survey: InputFile;
}

interface Bad {
  reason: string;
  field: string;
  message: string;
}

type Checked<T> = { ok: true; value: T } | ({ ok: false } & Bad);

function missing(field: string): Checked<never> {
  return { ok: false, reason: 'missing field', field, message: `${field} is missing` };
}

/** Ids are strings in the HF data; integer ids (some re-exports) are accepted and normalised to strings. */
function checkId(row: Record<string, unknown>, field: string): Checked<string> {
  const v = row[field];
  if (v === undefined || v === null) return missing(field);
  if (typeof v === 'string') {
    if (v.trim() === '') return { ok: false, reason: 'empty field', field, message: `${field} is empty` };
    return { ok: true, value: v };
  }
  if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') return { ok: true, value: String(v) };
  return { ok: false, reason: 'wrong type', field, message: `${field} must be a string, got ${describeValue(v)}` };
}

function checkText(row: Record<string, unknown>, field: string): Checked<string> {
  const v = row[field];
  if (v === undefined || v === null) return missing(field);
  if (typeof v !== 'string') {
    return { ok: false, reason: 'wrong type', field, message: `${field} must be a string, got ${describeValue(v)}` };
  }
  if (v.trim() === '') return { ok: false, reason: 'empty field', field, message: `${field} is empty` };
  return { ok: true, value: v };
}

/** A finite number in 1..100. Strings ("75", "NaN") are rejected: a silently coerced score hides a broken export. */
export function checkScore(v: unknown, field = 'score'): Checked<number> {
  if (v === undefined || v === null) return missing(field);
  // Parquet INT64 columns decode to bigint.
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number') {
    return { ok: false, reason: 'wrong type', field, message: `${field} must be a number, got ${describeValue(v)}` };
  }
  if (!Number.isFinite(n)) {
    return { ok: false, reason: 'non-finite number', field, message: `${field} is ${describeValue(n)}` };
  }
  if (n < SCORE_MIN || n > SCORE_MAX) {
    return { ok: false, reason: 'out of range', field, message: `${field} ${n} is outside ${SCORE_MIN}..${SCORE_MAX}` };
  }
  return { ok: true, value: n };
}

interface SurveyUser {
  country: string | null;
  line: number;
}

async function readSurvey(source: RowSource, issues: IssueCollector): Promise<Map<string, SurveyUser>> {
  const users = new Map<string, SurveyUser>();
  let usable = 0;
  const bad = (line: number, b: Bad) => issues.add(b.reason, { file: source.name, line, field: b.field, message: b.message });
  for await (const raw of source.rows) {
    const { line } = raw;
    if (raw.error !== undefined) {
      bad(line, { reason: 'bad json', field: ROW_FIELD, message: raw.error });
      continue;
    }
    const row = raw.row;
    if (!isRecord(row)) {
      bad(line, { reason: 'not an object', field: ROW_FIELD, message: `row must be an object, got ${describeValue(row)}` });
      continue;
    }
    const id = checkId(row, 'user_id');
    if (!id.ok) {
      bad(line, id);
      continue;
    }
    if (users.has(id.value)) {
      bad(line, {
        reason: 'duplicate user',
        field: 'user_id',
        message: `user ${quoteText(id.value)} already appeared on line ${users.get(id.value)?.line}; this row is ignored`,
      });
      continue;
    }
    const country = checkCountry(row.location);
    // Users without a usable country are remembered so their utterances get a precise reason, not "unknown user".
    users.set(id.value, { country: country.ok ? country.value : null, line });
    if (!country.ok) {
      bad(line, country);
      continue;
    }
    usable++;
  }
  if (usable === 0) throw noUsableRows(source.name, 'no usable survey rows (each needs user_id and location.reside_country)', issues);
  return users;
}

function checkCountry(location: unknown): Checked<string> {
  const field = 'location.reside_country';
  if (location === undefined || location === null) return missing('location');
  if (!isRecord(location)) {
    return { ok: false, reason: 'wrong type', field: 'location', message: `location must be an object, got ${describeValue(location)}` };
  }
  const v = location.reside_country;
  if (v === undefined || v === null) return missing(field);
  if (typeof v !== 'string') {
    return { ok: false, reason: 'wrong type', field, message: `${field} must be a string, got ${describeValue(v)}` };
  }
  if (v.trim() === '') return { ok: false, reason: 'empty country', field, message: `${field} is empty` };
  return { ok: true, value: v.trim() };
}

interface Turn {
  user: string;
  interaction: string;
  country: string;
  responses: Scored[];
}

/**
 * The one PRISM path: survey rows then utterance rows, whatever their origin (JSONL, Parquet, synthetic objects).
 * Only DataError leaves this function.
 */
export async function buildPrism(
  sources: { utterances: RowSource; survey: RowSource },
  opts: LoadOptions | undefined,
  sourceLabel: string,
): Promise<PreferenceData> {
  const o = resolveOptions(opts);
  const issues = new IssueCollector(o.strict);
  const { utterances, survey } = sources;
  const users = await guardFile(survey.name, () => readSurvey(survey, issues));

  const items = new ItemTable();
  const turns = new Map<string, Turn>();
  // utterance_id -> the first usable row with it: a repeated id (a concatenated or re-exported file) is a bad row,
  // and the first is kept, so one response cannot be counted twice or with two contradicting scores.
  const utteranceIds = new Map<string, { line: number; score: number }>();
  await guardFile(utterances.name, async () => {
    let usable = 0;
    for await (const raw of utterances.rows) {
      const { line } = raw;
      const bad = (b: Bad, uid?: unknown) => {
        // The utterance_id makes a row easy to find in tools that do not show line numbers (Parquet viewers).
        const suffix = typeof uid === 'string' && uid !== '' ? ` (utterance_id ${quoteText(uid)})` : '';
        issues.add(b.reason, { file: utterances.name, line, field: b.field, message: b.message + suffix });
      };
      if (raw.error !== undefined) {
        bad({ reason: 'bad json', field: ROW_FIELD, message: raw.error });
        continue;
      }
      const row = raw.row;
      if (!isRecord(row)) {
        bad({ reason: 'not an object', field: ROW_FIELD, message: `row must be an object, got ${describeValue(row)}` });
        continue;
      }
      const uid = row.utterance_id;
      const user = checkId(row, 'user_id');
      if (!user.ok) {
        bad(user, uid);
        continue;
      }
      const interaction = checkId(row, 'interaction_id');
      if (!interaction.ok) {
        bad(interaction, uid);
        continue;
      }
      const prompt = checkText(row, 'user_prompt');
      if (!prompt.ok) {
        bad(prompt, uid);
        continue;
      }
      const response = checkText(row, 'model_response');
      if (!response.ok) {
        bad(response, uid);
        continue;
      }
      const score = checkScore(row.score);
      if (!score.ok) {
        bad(score, uid);
        continue;
      }
      const person = users.get(user.value);
      if (!person) {
        bad({ reason: 'unknown user', field: 'user_id', message: `user ${quoteText(user.value)} is not in ${survey.name}` }, uid);
        continue;
      }
      if (person.country === null) {
        bad(
          {
            reason: 'user without country',
            field: 'user_id',
            message: `user ${quoteText(user.value)} has no location.reside_country (${survey.name}:${person.line})`,
          },
          uid,
        );
        continue;
      }
      const uidKey = typeof uid === 'string' && uid !== '' ? uid : typeof uid === 'number' && Number.isInteger(uid) ? String(uid) : null;
      if (uidKey !== null) {
        const first = utteranceIds.get(uidKey);
        if (first) {
          const conflict = first.score !== score.value ? `with score ${first.score}; this row's score ${score.value} contradicts it and` : 'and';
          issues.add('duplicate utterance_id', {
            file: utterances.name,
            line,
            field: 'utterance_id',
            message: `utterance_id ${quoteText(uidKey)} already appeared on line ${first.line} ${conflict} this row is ignored`,
          });
          continue;
        }
        utteranceIds.set(uidKey, { line, score: score.value });
      }
      usable++;
      // Interaction ids are unique per conversation turn; keying by user too keeps pairs inside one user.
      const key = `${user.value}\u0000${interaction.value}`;
      let turn = turns.get(key);
      if (!turn) {
        turn = { user: user.value, interaction: interaction.value, country: person.country, responses: [] };
        turns.set(key, turn);
      }
      turn.responses.push({ item: items.intern(prompt.value, response.value), score: score.value });
    }
    if (usable === 0) {
      throw noUsableRows(
        utterances.name,
        'no usable utterance rows (each needs user_id, interaction_id, user_prompt, model_response, score 1-100 and a surveyed user with a country)',
        issues,
      );
    }
  });

  const pairs: UnsplitPair[] = [];
  let tiesDropped = 0;
  for (const turn of turns.values()) {
    const built = turnPairs(turn.responses, 0);
    tiesDropped += built.ties;
    for (const { chosen, rejected } of built.pairs) {
      pairs.push({
        chosen: chosen.item,
        rejected: rejected.item,
        country: turn.country,
        group: turn.user,
        key: turn.interaction,
        scoreChosen: chosen.score,
        scoreRejected: rejected.score,
      });
    }
  }
  if (pairs.length === 0) {
    throw fileError(
      utterances.name,
      `no preference pairs could be built from ${turns.size} turns (${tiesDropped} ties dropped; a turn needs two responses with different scores)`,
    );
  }
  return finalizeData({
    format: 'prism',
    source: sourceLabel,
    items: items.items,
    pairs,
    tiesDropped,
    issues: issues.toReport(),
    seed: o.seed,
    testFraction: o.testFraction,
    splitScope: o.splitRule === 'reference' ? 'global' : 'country',
    splitRule: o.splitRule,
  });
}


/** A JSONL file that is UTF-16 or binary fails as a whole, saying so, instead of as thousands of bad lines. */
async function checkIsText(file: InputFile): Promise<void> {
  const why = await guardFile(file.name, async () => ((await isParquet(file)) ? null : notUtf8Text(file)));
  if (why) throw fileError(file.name, why);
}

/** Loads PRISM from utterances + survey, each JSONL (HF layout) or Parquet (HF parquet mirror). */
export async function loadPrism(files: PrismFiles, opts?: LoadOptions): Promise<PreferenceData> {
  resolveOptions(opts);
  const utterances = checkInputFile(files?.utterances, 'utterances.jsonl');
  const survey = checkInputFile(files?.survey, 'survey.jsonl');
  for (const f of [survey, utterances]) await checkIsText(f);
  const sources = {
    utterances: await guardFile(utterances.name, () => fileRows(utterances, UTTERANCE_COLUMNS)),
    survey: await guardFile(survey.name, () => fileRows(survey, SURVEY_COLUMNS)),
  };
  return buildPrism(sources, opts, `prism:${utterances.name}`);
}
